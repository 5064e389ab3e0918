//! Power cuts at every moment of a save, the way redb tests itself: a storage backend keeps
//! the bytes that reached the disk (synced) apart from those still in flight, and a "cut"
//! rebuilds the file from the synced bytes plus an arbitrary subset of the in-flight writes,
//! some torn at 512-byte sector boundaries. After every cut, every save the vault acknowledged
//! must be there and decrypt; a save that was not acknowledged may be there or not, whole.
//!
//! `FIELDKIT_POWER_CUTS=N` runs N cuts (default 60).
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::io;
use std::path::Path;
use std::sync::{Arc, Mutex};

use fieldkit_domain::{Case, Record, RecordId, RecordKind, Sex};
use fieldkit_vault::{CredentialPolicy, InitOptions, OpenOptions, Vault, VaultError};

const NOW: u64 = 1_764_500_000_000;
const PIN: &[u8] = b"482915";

#[derive(Debug, Default)]
struct Disk {
    /// What a reader sees now.
    live: Vec<u8>,
    /// What survived the last sync.
    durable: Vec<u8>,
    /// Writes since the last sync, in order.
    pending: Vec<(u64, Vec<u8>)>,
    /// Length set since the last sync.
    pending_len: Option<u64>,
    /// Writes left before the power goes; `None` never.
    writes_left: Option<u64>,
    dead: bool,
}

/// A backend whose power can be cut.
#[derive(Debug, Clone, Default)]
struct PowerCutDisk(Arc<Mutex<Disk>>);

fn dead() -> io::Error {
    io::Error::other("power lost")
}

impl PowerCutDisk {
    fn from_image(image: Vec<u8>) -> Self {
        PowerCutDisk(Arc::new(Mutex::new(Disk {
            live: image.clone(),
            durable: image,
            ..Disk::default()
        })))
    }

    fn cut_after(&self, writes: u64) {
        self.0.lock().unwrap().writes_left = Some(writes);
    }

    /// The file as the power cut left it: the synced image plus some of the writes in flight,
    /// each whole, torn at a sector, or lost.
    fn image_after_cut(&self, rng: &mut Rng) -> Vec<u8> {
        let d = self.0.lock().unwrap();
        let mut img = d.durable.clone();
        if let Some(len) = d.pending_len.filter(|_| rng.below(2) == 0) {
            img.resize(usize::try_from(len).unwrap(), 0);
        }
        for (off, data) in &d.pending {
            let keep = match rng.below(3) {
                0 => 0,
                1 => data.len(),
                _ => (rng.below(data.len() as u64 / 512 + 1) * 512) as usize,
            }
            .min(data.len());
            let off = usize::try_from(*off).unwrap();
            if img.len() < off + keep {
                img.resize(off + keep, 0);
            }
            img[off..off + keep].copy_from_slice(&data[..keep]);
        }
        img
    }
}

impl redb::StorageBackend for PowerCutDisk {
    fn len(&self) -> Result<u64, io::Error> {
        let d = self.0.lock().unwrap();
        if d.dead {
            return Err(dead());
        }
        Ok(d.live.len() as u64)
    }

    fn read(&self, offset: u64, out: &mut [u8]) -> Result<(), io::Error> {
        let d = self.0.lock().unwrap();
        if d.dead {
            return Err(dead());
        }
        let off = usize::try_from(offset).map_err(io::Error::other)?;
        let src = d
            .live
            .get(off..off + out.len())
            .ok_or_else(|| io::Error::from(io::ErrorKind::UnexpectedEof))?;
        out.copy_from_slice(src);
        Ok(())
    }

    fn set_len(&self, len: u64) -> Result<(), io::Error> {
        let mut d = self.0.lock().unwrap();
        if d.dead {
            return Err(dead());
        }
        d.live
            .resize(usize::try_from(len).map_err(io::Error::other)?, 0);
        d.pending_len = Some(len);
        Ok(())
    }

    fn sync_data(&self) -> Result<(), io::Error> {
        let mut d = self.0.lock().unwrap();
        if d.dead {
            return Err(dead());
        }
        d.durable = d.live.clone();
        d.pending.clear();
        d.pending_len = None;
        Ok(())
    }

    fn write(&self, offset: u64, data: &[u8]) -> Result<(), io::Error> {
        let mut d = self.0.lock().unwrap();
        if d.dead {
            return Err(dead());
        }
        if let Some(n) = d.writes_left.as_mut() {
            if *n == 0 {
                d.dead = true;
                return Err(dead());
            }
            *n -= 1;
        }
        let off = usize::try_from(offset).map_err(io::Error::other)?;
        if d.live.len() < off + data.len() {
            d.live.resize(off + data.len(), 0);
        }
        d.live[off..off + data.len()].copy_from_slice(data);
        d.pending.push((offset, data.to_vec()));
        Ok(())
    }
}

struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }

    fn below(&mut self, n: u64) -> u64 {
        if n == 0 { 0 } else { self.next() % n }
    }
}

fn case(id: RecordId, n: u64) -> Record {
    Record::Case(Box::new(Case {
        id,
        name: Some(format!("Child number {n}")),
        sex: Some(Sex::Male),
        age: Some(i64::try_from(n % 18).unwrap()),
        notes: Some("x".repeat(usize::try_from(n % 7).unwrap() * 300)),
        ..Case::default()
    }))
}

fn label() -> &'static Path {
    Path::new("power-cut-disk")
}

#[test]
fn acknowledged_saves_survive_a_power_cut_at_any_write() {
    let cuts: u64 = std::env::var("FIELDKIT_POWER_CUTS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(60);
    let mut rng = Rng(0x5EED_F1E1_D0C5_0001);

    // A vault with some cases already in it.
    let disk = PowerCutDisk::default();
    let (mut s, _) = Vault::create_on(
        disk.clone(),
        label(),
        InitOptions {
            username: "amina",
            display_name: "A",
            credential: PIN,
            policy: CredentialPolicy::default(),
            now_ms: NOW,
        },
        OpenOptions::default(),
    )
    .unwrap();
    let mut acked: Vec<(RecordId, u64)> = Vec::new();
    for n in 0..20 {
        let id = s.mint_id(NOW).unwrap();
        s.create(&case(id, n), NOW).unwrap();
        acked.push((id, n));
    }
    drop(s);
    let mut image = disk.0.lock().unwrap().live.clone();

    let mut survived_unacked = 0;
    for cut in 0..cuts {
        let disk = PowerCutDisk::from_image(image.clone());
        let mut s = Vault::open_on(disk.clone(), label(), OpenOptions::default())
            .unwrap()
            .unlock("amina", PIN, NOW)
            .unwrap();
        // Save until the power goes, somewhere in the next few commits.
        disk.cut_after(rng.below(120));
        let mut in_flight = None;
        for n in 0..50 {
            let id = s.mint_id(NOW).unwrap();
            let seq = 1000 * (cut + 1) + n;
            match s.create(&case(id, seq), NOW) {
                Ok(_) => acked.push((id, seq)),
                Err(_) => {
                    in_flight = Some((id, seq));
                    break;
                }
            }
        }
        drop(s);
        image = disk.image_after_cut(&mut rng);

        // Power back: every acknowledged save is there, whole.
        let disk = PowerCutDisk::from_image(image.clone());
        let opened = Vault::open_on(disk.clone(), label(), OpenOptions::default());
        let mut s = match opened {
            Ok(v) => v
                .unlock("amina", PIN, NOW)
                .unwrap_or_else(|e| panic!("cut {cut}: sign-in failed: {e}")),
            Err(e) => panic!("cut {cut}: the vault did not open after the power cut: {e}"),
        };
        for (id, seq) in &acked {
            let o = s
                .get(RecordKind::Case, *id, NOW)
                .unwrap_or_else(|e| panic!("cut {cut}: acknowledged case {seq} lost: {e}"));
            assert_eq!(o.record, case(*id, *seq), "cut {cut}: case {seq} differs");
        }
        if let Some((id, seq)) = in_flight {
            match s.get(RecordKind::Case, id, NOW) {
                Ok(o) => {
                    assert_eq!(o.record, case(id, seq), "cut {cut}: a half-saved case");
                    acked.push((id, seq));
                    survived_unacked += 1;
                }
                Err(VaultError::NotFound { .. }) => {}
                Err(e) => panic!("cut {cut}: unacknowledged case read as {e}"),
            }
        }
        assert_eq!(s.verify().unwrap(), acked.len() as u64, "cut {cut}");
        s.verify_audit().unwrap();
        drop(s);
        image = disk.0.lock().unwrap().live.clone();
    }
    println!(
        "{cuts} power cuts, {} cases acknowledged and intact, {survived_unacked} unacknowledged saves found whole",
        acked.len()
    );
}
