//! Export bundles: every record of a vault, sealed under a key only that vault has.
//!
//! Layout: the magic `FKBUNDLE` and a format byte, the 16-byte vault id (in the clear, so a
//! bundle for another vault is named as such rather than failing as "damaged"), then the body.
//!
//! **Format 4** (written now) is a stream, so a vault of 50,000 cases with photos is backed up
//! and restored in bounded memory: after the vault id, a random 16-byte bundle id, then
//! frames, each `part (1 byte) | length (u32 LE) | nonce (24) | ciphertext`, sealed one by one:
//! records other than incidents in chunks of about [`CHUNK_BYTES`] (bundle key), incidents in
//! chunks (incident bundle key), then each photo with its thumbnail and details (bundle key),
//! and last an end frame (bundle key) with how many frames of each part and how many records
//! came before it. Each frame's associated data binds the vault id, the bundle id, its part and
//! its position, so a frame dropped, repeated, moved, or taken from another bundle fails, and a
//! bundle cut short lacks its end frame (the STREAM construction of Hoang, Reyhanitabar, Rogaway
//! and Vizár, with a frame counter rather than a nonce counter since each frame has its own
//! random nonce). A restore reads the whole stream once to authenticate it before changing
//! anything, then again to apply it, chunk by chunk.
//!
//! Formats 1–3 (one postcard body: the sealed records, the sealed incidents, and in format 3
//! each photo sealed apart, bound to its place and the count) still restore; they are read
//! whole, as they were written.

use std::io::{Read, Seek, SeekFrom, Write};

use crate::error::{ExchangeError, WriteError};
use serde::{Deserialize, Serialize};

use fieldkit_domain::{Document, RecordKind};

use crate::audit::AuditAction;
use crate::crypto::{self, Key, Sealed};
use crate::error::{Result, VaultError};
use crate::photos::Carried;
use crate::session::Session;
use crate::storage::{encode, hex};

/// What exporting a bundle wrote.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct BundleExport {
    /// Records sealed in it.
    pub records: usize,
    /// Photos sealed in it.
    pub photos: usize,
    /// Its size in bytes.
    pub bytes: u64,
}

/// What importing a bundle changed.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct BundleImport {
    /// Records new or changed.
    pub records: usize,
    /// Photos put back (those a case lacked).
    pub photos: usize,
}

const MAGIC: &[u8; 8] = b"FKBUNDLE";
/// Format 1 sealed every record under the bundle key; format 2 seals GBV incidents apart, under
/// a key from the incident key, so a caseworker without incident access cannot open them from
/// a supervisor's bundle (issue 8, finding 2); format 3 adds the photos; format 4 is the same
/// content as a stream of sealed frames.
const FORMAT: u8 = 4;
/// Magic, format byte and vault id.
const HEADER: usize = 25;
/// Records are sealed in chunks of about this much plaintext (a record is at most 512 KiB).
pub(crate) const CHUNK_BYTES: usize = 1 << 20;
/// The largest frame a reader accepts: a chunk's last record may take it past
/// [`CHUNK_BYTES`], and a photo (1 MiB) with its thumbnail (64 KiB) and details is less.
const MAX_FRAME: usize = 4 << 20;
/// Photos restored per commit (and at most this many bytes of them held at once).
const PHOTOS_PER_COMMIT: usize = 64;
const PHOTO_BYTES_PER_COMMIT: usize = 16 << 20;

/// A format 4 frame's part.
const PART_END: u8 = 0;
const PART_RECORDS: u8 = 1;
const PART_INCIDENTS: u8 = 2;
const PART_PHOTO: u8 = 3;

fn aad(vault_id: &[u8; 16], part: &str) -> Vec<u8> {
    let mut a = b"fieldkit/bundle/v1|".to_vec();
    a.extend_from_slice(vault_id);
    if !part.is_empty() {
        a.push(b'|');
        a.extend_from_slice(part.as_bytes());
    }
    a
}

/// A format 2 bundle's body: the records other than incidents, and the incidents.
#[derive(Serialize, Deserialize)]
struct Body {
    records: Sealed,
    incidents: Option<Sealed>,
}

/// A format 3 bundle's body: format 2's, and each photo sealed apart.
#[derive(Serialize, Deserialize)]
struct BodyWithPhotos {
    records: Sealed,
    incidents: Option<Sealed>,
    photos: Vec<Sealed>,
}

/// A photo's associated data: its place among the bundle's photos and their count.
fn photo_aad(vault_id: &[u8; 16], at: usize, count: usize) -> Vec<u8> {
    let mut a = aad(vault_id, "photo");
    a.extend_from_slice(&(at as u64).to_le_bytes());
    a.extend_from_slice(&(count as u64).to_le_bytes());
    a
}

/// The keys a bundle is sealed under: the bundle key for the records, and the incident bundle
/// key (when the session has incident access) for the incidents.
pub(crate) struct BundleKeys<'a> {
    pub(crate) records: &'a Key,
    pub(crate) incidents: Option<&'a Key>,
}

#[cfg(test)]
fn seal_docs(key: &Key, aad: &[u8], docs: &[&Document]) -> Result<Sealed> {
    let plain = zeroize::Zeroizing::new(crate::storage::encode(&docs)?);
    Ok(crypto::seal(key, aad, &plain)?)
}

/// A bundle as format 3 made it (one body, each photo sealed apart), for the test that it still
/// restores.
#[cfg(test)]
pub(crate) fn tests_seal_format3(
    keys: &BundleKeys<'_>,
    vault_id: &[u8; 16],
    docs: &[Document],
    photos: &[Carried],
) -> Result<Vec<u8>> {
    let (incidents, records): (Vec<&Document>, Vec<&Document>) =
        docs.iter().partition(|d| d.kind() == RecordKind::Incident);
    let incidents = match (keys.incidents, incidents.is_empty()) {
        (_, true) => None,
        (Some(k), false) => Some(seal_docs(k, &aad(vault_id, "incidents"), &incidents)?),
        (None, false) => {
            return Err(VaultError::Forbidden(
                "this caseworker has no access to GBV incidents".into(),
            ));
        }
    };
    let photos = photos
        .iter()
        .enumerate()
        .map(|(at, p)| {
            let plain = zeroize::Zeroizing::new(encode(p)?);
            Ok(crypto::seal(
                keys.records,
                &photo_aad(vault_id, at, photos.len()),
                &plain,
            )?)
        })
        .collect::<Result<Vec<Sealed>>>()?;
    let body = BodyWithPhotos {
        records: seal_docs(keys.records, &aad(vault_id, "records"), &records)?,
        incidents,
        photos,
    };
    let mut out = Vec::new();
    out.extend_from_slice(MAGIC);
    out.push(3);
    out.extend_from_slice(vault_id);
    out.extend_from_slice(&encode(&body)?);
    Ok(out)
}

/// An error of the bundle's file as the vault reports it.
fn io(e: std::io::Error) -> VaultError {
    VaultError::Io {
        path: "the bundle".into(),
        source: e,
    }
}

fn bad(m: &str) -> VaultError {
    VaultError::BadBundle(m.to_string())
}

/// A format 4 frame's associated data: the vault, the bundle, the frame's part and position.
fn frame_aad(vault_id: &[u8; 16], bundle_id: &[u8; 16], part: u8, at: u64) -> Vec<u8> {
    let mut a = aad(vault_id, "stream");
    a.extend_from_slice(bundle_id);
    a.push(part);
    a.extend_from_slice(&at.to_le_bytes());
    a
}

/// What a format 4 bundle's end frame vouches for.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
struct Totals {
    records: u64,
    record_frames: u64,
    incident_frames: u64,
    photos: u64,
}

/// Writes a format 4 bundle's frames as they come, counting what it wrote.
struct FrameWriter<'a, W: Write> {
    out: W,
    keys: &'a BundleKeys<'a>,
    vault_id: [u8; 16],
    bundle_id: [u8; 16],
    at: u64,
    bytes: u64,
    totals: Totals,
    /// Plaintext bytes of records per frame.
    chunk: usize,
    /// The records (and incidents) of the chunk being filled: postcard encodings, one after
    /// the other, and how many.
    records: (zeroize::Zeroizing<Vec<u8>>, u64),
    incidents: (zeroize::Zeroizing<Vec<u8>>, u64),
}

impl<W: Write> FrameWriter<'_, W> {
    fn frame(&mut self, part: u8, plain: &[u8]) -> Result<()> {
        let key = match part {
            PART_INCIDENTS => self.keys.incidents.ok_or_else(|| {
                VaultError::Forbidden("this caseworker has no access to GBV incidents".into())
            })?,
            _ => self.keys.records,
        };
        let sealed = crypto::seal(
            key,
            &frame_aad(&self.vault_id, &self.bundle_id, part, self.at),
            plain,
        )?;
        let len = sealed.nonce.len() + sealed.ciphertext.len();
        let len32 = u32::try_from(len)
            .ok()
            .filter(|l| *l as usize <= MAX_FRAME)
            .ok_or_else(|| VaultError::Encoding(format!("a bundle frame of {len} bytes")))?;
        self.out.write_all(&[part]).map_err(io)?;
        self.out.write_all(&len32.to_le_bytes()).map_err(io)?;
        self.out.write_all(&sealed.nonce).map_err(io)?;
        self.out.write_all(&sealed.ciphertext).map_err(io)?;
        self.at += 1;
        self.bytes += 5 + len as u64;
        Ok(())
    }

    /// Seals the chunk of records (or incidents) filled so far, as a postcard list.
    fn flush_chunk(&mut self, incidents: bool) -> Result<()> {
        let (buf, n) = if incidents {
            &mut self.incidents
        } else {
            &mut self.records
        };
        if *n == 0 {
            return Ok(());
        }
        // A postcard sequence is its length as a varint, then its items.
        let mut plain = zeroize::Zeroizing::new(encode(&(*n as usize))?);
        plain.extend_from_slice(buf);
        buf.clear();
        *n = 0;
        if incidents {
            self.totals.incident_frames += 1;
            self.frame(PART_INCIDENTS, &plain)
        } else {
            self.totals.record_frames += 1;
            self.frame(PART_RECORDS, &plain)
        }
    }

    fn record(&mut self, doc: &Document) -> Result<()> {
        let incident = doc.kind() == RecordKind::Incident;
        if incident && self.keys.incidents.is_none() {
            return Err(VaultError::Forbidden(
                "this caseworker has no access to GBV incidents".into(),
            ));
        }
        let encoded = zeroize::Zeroizing::new(encode(doc)?);
        let (buf, n) = if incident {
            &mut self.incidents
        } else {
            &mut self.records
        };
        buf.extend_from_slice(&encoded);
        *n += 1;
        self.totals.records += 1;
        if buf.len() >= self.chunk {
            self.flush_chunk(incident)?;
        }
        Ok(())
    }

    fn photo(&mut self, carried: &Carried) -> Result<()> {
        let plain = zeroize::Zeroizing::new(encode(carried)?);
        self.totals.photos += 1;
        self.frame(PART_PHOTO, &plain)
    }

    fn finish(mut self) -> Result<(Totals, u64)> {
        self.flush_chunk(false)?;
        self.flush_chunk(true)?;
        let totals = self.totals;
        self.frame(PART_END, &encode(&totals)?)?;
        self.out.flush().map_err(io)?;
        Ok((totals, self.bytes))
    }
}

/// One frame of a format 4 bundle, opened.
enum Frame {
    /// Records (other than incidents) or incidents.
    Records(Vec<Document>),
    /// Incidents this session holds no key for: left sealed.
    SealedIncidents,
    Photo(Carried),
    End(Totals),
}

/// Reads a format 4 bundle's frames one at a time, checking their order and count.
struct FrameReader<R: Read> {
    input: R,
    vault_id: [u8; 16],
    bundle_id: [u8; 16],
    at: u64,
    seen: Totals,
    photos_started: bool,
}

impl<R: Read> FrameReader<R> {
    fn new(input: R, vault_id: [u8; 16], bundle_id: [u8; 16]) -> Self {
        FrameReader {
            input,
            vault_id,
            bundle_id,
            at: 0,
            seen: Totals::default(),
            photos_started: false,
        }
    }

    /// Fills `buf` from the input; `false` when the input ended before the first byte.
    fn read_exact_or_end(&mut self, buf: &mut [u8]) -> Result<bool> {
        let mut got = 0;
        while got < buf.len() {
            match self.input.read(&mut buf[got..]) {
                Ok(0) if got == 0 => return Ok(false),
                Ok(0) => return Err(bad("truncated: the bundle ends inside a part")),
                Ok(n) => got += n,
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
                Err(e) => return Err(io(e)),
            }
        }
        Ok(true)
    }

    /// The next frame, opened; `None` after the end frame (nothing may follow it).
    fn next(&mut self, keys: &BundleKeys<'_>) -> Result<Option<Frame>> {
        let mut head = [0u8; 5];
        if !self.read_exact_or_end(&mut head)? {
            return Err(bad("truncated: the bundle ends before its last part"));
        }
        let part = head[0];
        let len = u32::from_le_bytes([head[1], head[2], head[3], head[4]]) as usize;
        if !(24 + 16..=MAX_FRAME).contains(&len) {
            return Err(bad("a part of impossible size"));
        }
        let mut nonce = [0u8; 24];
        let mut ciphertext = vec![0u8; len - 24];
        if !self.read_exact_or_end(&mut nonce)? || !self.read_exact_or_end(&mut ciphertext)? {
            return Err(bad("truncated: the bundle ends inside a part"));
        }
        let sealed = Sealed { nonce, ciphertext };
        let aad = frame_aad(&self.vault_id, &self.bundle_id, part, self.at);
        self.at += 1;
        let key = match part {
            PART_INCIDENTS => match keys.incidents {
                Some(k) => k,
                None => {
                    self.records_part()?;
                    self.seen.incident_frames += 1;
                    return Ok(Some(Frame::SealedIncidents));
                }
            },
            PART_END | PART_RECORDS | PART_PHOTO => keys.records,
            _ => return Err(bad("an unknown part")),
        };
        let plain = crypto::open(key, &aad, &sealed).map_err(|_| {
            bad("authentication failed: altered, reordered, cut or from another bundle, or sealed under keys this vault has since rotated")
        })?;
        match part {
            PART_RECORDS | PART_INCIDENTS => {
                self.records_part()?;
                let docs: Vec<Document> =
                    postcard::from_bytes(&plain).map_err(|_| bad("malformed records"))?;
                let incidents = part == PART_INCIDENTS;
                if docs
                    .iter()
                    .any(|d| (d.kind() == RecordKind::Incident) != incidents)
                {
                    return Err(bad(if incidents {
                        "a record other than an incident in the incident part"
                    } else {
                        "an incident outside the incident part"
                    }));
                }
                self.seen.records += docs.len() as u64;
                if incidents {
                    self.seen.incident_frames += 1;
                } else {
                    self.seen.record_frames += 1;
                }
                Ok(Some(Frame::Records(docs)))
            }
            PART_PHOTO => {
                self.photos_started = true;
                self.seen.photos += 1;
                let carried: Carried =
                    postcard::from_bytes(&plain).map_err(|_| bad("a malformed photo"))?;
                Ok(Some(Frame::Photo(carried)))
            }
            _ => {
                let totals: Totals =
                    postcard::from_bytes(&plain).map_err(|_| bad("a malformed end"))?;
                let mut rest = [0u8; 1];
                if self.read_exact_or_end(&mut rest)? {
                    return Err(bad("bytes after the bundle's end"));
                }
                // Incidents this session cannot open are counted as frames, not records.
                let held = Totals {
                    records: totals.records,
                    ..self.seen
                };
                let records_ok = if keys.incidents.is_some() || self.seen.incident_frames == 0 {
                    self.seen.records == totals.records
                } else {
                    self.seen.records <= totals.records
                };
                if held != totals || !records_ok {
                    return Err(bad("parts are missing"));
                }
                Ok(Some(Frame::End(totals)))
            }
        }
    }

    /// Records come before photos (a photo is restored to a case the bundle brought).
    fn records_part(&self) -> Result<()> {
        if self.photos_started {
            return Err(bad("records after the photos"));
        }
        Ok(())
    }
}

/// What a bundle starts with: its format, and for format 4 its bundle id.
enum Header {
    Whole,
    Stream([u8; 16]),
}

fn read_header(input: &mut impl Read, vault_id: &[u8; 16]) -> Result<Header> {
    let mut head = [0u8; HEADER];
    input.read_exact(&mut head).map_err(|e| match e.kind() {
        std::io::ErrorKind::UnexpectedEof => bad("no FKBUNDLE header"),
        _ => io(e),
    })?;
    if &head[..8] != MAGIC {
        return Err(bad("no FKBUNDLE header"));
    }
    let their_id: [u8; 16] = head[9..25].try_into().map_err(|_| bad("short header"))?;
    if &their_id != vault_id {
        return Err(VaultError::ForeignBundle {
            bundle_vault: hex(&their_id),
            this_vault: hex(vault_id),
        });
    }
    match head[8] {
        FORMAT => {
            let mut bundle_id = [0u8; 16];
            input
                .read_exact(&mut bundle_id)
                .map_err(|_| bad("short header"))?;
            Ok(Header::Stream(bundle_id))
        }
        1..=3 => Ok(Header::Whole),
        other => Err(bad(&format!("unknown bundle format {other}"))),
    }
}

/// The largest format 1–3 bundle a restore reads into memory (they were made in memory).
const MAX_WHOLE_BUNDLE: u64 = 1 << 30;

/// A bundle as format 2 made it (records, no photos), for the test that it still restores.
#[cfg(test)]
pub(crate) fn tests_seal_format2(key: &Key, vault_id: &[u8; 16], docs: &[Document]) -> Vec<u8> {
    let refs: Vec<&Document> = docs.iter().collect();
    let body = Body {
        records: seal_docs(key, &aad(vault_id, "records"), &refs).unwrap_or_else(|e| panic!("{e}")),
        incidents: None,
    };
    let mut out = MAGIC.to_vec();
    out.push(2);
    out.extend_from_slice(vault_id);
    out.extend_from_slice(&encode(&body).unwrap_or_default());
    out
}

/// What a bundle gave: the documents this session can open, whether it held incidents this
/// session cannot, and its photos.
pub(crate) struct Opened {
    pub(crate) docs: Vec<Document>,
    pub(crate) sealed_incidents: bool,
    pub(crate) photos: Vec<Carried>,
}

/// Opens one sealed list of documents.
fn open_docs(key: &Key, aad: &[u8], sealed: &Sealed) -> Result<Vec<Document>> {
    let bad = |m: &str| VaultError::BadBundle(m.to_string());
    let plain = crypto::open(key, aad, sealed).map_err(|_| {
        bad("authentication failed: altered or truncated, or sealed under keys this vault has since rotated")
    })?;
    postcard::from_bytes(&plain).map_err(|_| bad("malformed records"))
}

/// Opens a format 2 or 3 body's two record parts.
fn open_parts(
    keys: &BundleKeys<'_>,
    vault_id: &[u8; 16],
    records: &Sealed,
    incidents: Option<&Sealed>,
) -> Result<(Vec<Document>, bool)> {
    let bad = |m: &str| VaultError::BadBundle(m.to_string());
    let mut docs = open_docs(keys.records, &aad(vault_id, "records"), records)?;
    if docs.iter().any(|d| d.kind() == RecordKind::Incident) {
        return Err(bad("an incident outside the incident part"));
    }
    let mut sealed_incidents = false;
    match (incidents, keys.incidents) {
        (Some(sealed), Some(k)) => {
            let incidents = open_docs(k, &aad(vault_id, "incidents"), sealed)?;
            if incidents.iter().any(|d| d.kind() != RecordKind::Incident) {
                return Err(bad("a record other than an incident in the incident part"));
            }
            docs.extend(incidents);
        }
        (Some(_), None) => sealed_incidents = true,
        (None, _) => {}
    }
    Ok((docs, sealed_incidents))
}

/// Opens a whole bundle held in memory, of any format.
pub(crate) fn open(keys: &BundleKeys<'_>, vault_id: &[u8; 16], bytes: &[u8]) -> Result<Opened> {
    let bad = |m: &str| VaultError::BadBundle(m.to_string());
    if bytes.len() < 25 || &bytes[..8] != MAGIC {
        return Err(bad("no FKBUNDLE header"));
    }
    let their_id: [u8; 16] = bytes[9..25].try_into().map_err(|_| bad("short header"))?;
    if &their_id != vault_id {
        return Err(VaultError::ForeignBundle {
            bundle_vault: hex(&their_id),
            this_vault: hex(vault_id),
        });
    }
    match bytes[8] {
        1 => {
            let sealed: Sealed = postcard::from_bytes(&bytes[25..])
                .map_err(|_| bad("truncated or malformed body"))?;
            let mut docs = open_docs(keys.records, &aad(vault_id, ""), &sealed)?;
            let before = docs.len();
            if keys.incidents.is_none() {
                docs.retain(|d| d.kind() != RecordKind::Incident);
            }
            Ok(Opened {
                sealed_incidents: docs.len() != before,
                docs,
                photos: Vec::new(),
            })
        }
        2 => {
            let body: Body = postcard::from_bytes(&bytes[25..])
                .map_err(|_| bad("truncated or malformed body"))?;
            let (docs, sealed_incidents) =
                open_parts(keys, vault_id, &body.records, body.incidents.as_ref())?;
            Ok(Opened {
                docs,
                sealed_incidents,
                photos: Vec::new(),
            })
        }
        3 => {
            let body: BodyWithPhotos = postcard::from_bytes(&bytes[25..])
                .map_err(|_| bad("truncated or malformed body"))?;
            let (docs, sealed_incidents) =
                open_parts(keys, vault_id, &body.records, body.incidents.as_ref())?;
            let count = body.photos.len();
            let photos = body
                .photos
                .iter()
                .enumerate()
                .map(|(at, sealed)| {
                    let plain = crypto::open(keys.records, &photo_aad(vault_id, at, count), sealed)
                        .map_err(|_| {
                            bad("a photo failed authentication: altered, moved or dropped")
                        })?;
                    postcard::from_bytes::<Carried>(&plain).map_err(|_| bad("a malformed photo"))
                })
                .collect::<Result<Vec<Carried>>>()?;
            Ok(Opened {
                docs,
                sealed_incidents,
                photos,
            })
        }
        FORMAT => {
            let bundle_id: [u8; 16] = bytes
                .get(25..41)
                .and_then(|b| b.try_into().ok())
                .ok_or_else(|| bad("short header"))?;
            let mut frames = FrameReader::new(&bytes[41..], *vault_id, bundle_id);
            let mut opened = Opened {
                docs: Vec::new(),
                sealed_incidents: false,
                photos: Vec::new(),
            };
            loop {
                match frames.next(keys)? {
                    Some(Frame::Records(docs)) => opened.docs.extend(docs),
                    Some(Frame::SealedIncidents) => opened.sealed_incidents = true,
                    Some(Frame::Photo(c)) => opened.photos.push(c),
                    Some(Frame::End(_)) | None => return Ok(opened),
                }
            }
        }
        other => Err(bad(&format!("unknown bundle format {other}"))),
    }
}

impl Session {
    /// Seals every readable record, and every photo with its thumbnail, into a bundle for this
    /// vault (backup, or moving between kits of the same vault), in memory. Audited. A large
    /// vault is better streamed to its file with [`Session::export_bundle_to`].
    pub fn export_bundle(&mut self, now_ms: u64) -> Result<Vec<u8>, ExchangeError> {
        let mut out = Vec::new();
        self.export_bundle_to(&mut out, now_ms)?;
        Ok(out)
    }

    /// Seals every readable record, and every photo with its thumbnail, into a bundle written
    /// to `out` as it goes (format 4): at most one chunk of records or one photo is held at a
    /// time, whatever the vault's size. Audited once written. On an error, what was written is
    /// not a bundle (it has no end); the caller removes it.
    pub fn export_bundle_to(
        &mut self,
        out: impl Write,
        now_ms: u64,
    ) -> Result<BundleExport, ExchangeError> {
        self.export_stream(out, now_ms, CHUNK_BYTES)
    }

    /// [`Session::export_bundle_to`] with chunks of records of about `chunk` bytes.
    pub(crate) fn export_stream(
        &mut self,
        out: impl Write,
        now_ms: u64,
        chunk: usize,
    ) -> Result<BundleExport, ExchangeError> {
        let keys = self.bundle_keys();
        let vault_id = self.vault.vault_id;
        let mut bundle_id = [0u8; 16];
        crypto::fill_random(&mut bundle_id)?;
        let mut w = FrameWriter {
            out,
            keys: &keys,
            vault_id,
            bundle_id,
            at: 0,
            bytes: 0,
            totals: Totals::default(),
            chunk,
            records: Default::default(),
            incidents: Default::default(),
        };
        let mut header = MAGIC.to_vec();
        header.push(FORMAT);
        header.extend_from_slice(&vault_id);
        header.extend_from_slice(&bundle_id);
        w.out.write_all(&header).map_err(io)?;
        w.bytes = header.len() as u64;
        for kind in RecordKind::ALL {
            if self.keys.record_key(kind).is_ok() {
                self.each_document(kind, |doc, _| w.record(&doc))?;
            }
        }
        w.flush_chunk(false)?;
        w.flush_chunk(true)?;
        self.each_carried_photo(|c| w.photo(&c))?;
        let (totals, bytes) = w.finish()?;
        self.audit_now(
            now_ms,
            AuditAction::Export {
                records: u32::try_from(totals.records).unwrap_or(u32::MAX),
                format: "bundle".into(),
            },
            None,
        )?;
        Ok(BundleExport {
            records: usize::try_from(totals.records).unwrap_or(usize::MAX),
            photos: usize::try_from(totals.photos).unwrap_or(usize::MAX),
            bytes,
        })
    }

    fn bundle_keys(&self) -> BundleKeys<'_> {
        BundleKeys {
            records: &self.keys.bundle,
            incidents: self.keys.incident_bundle.as_ref(),
        }
    }

    /// Merges a bundle sealed by this vault, held in memory (see
    /// [`Session::import_bundle_from`]).
    pub fn import_bundle(
        &mut self,
        bytes: &[u8],
        now_ms: u64,
    ) -> Result<BundleImport, ExchangeError> {
        self.import_bundle_from(std::io::Cursor::new(bytes), now_ms)
    }

    /// Merges a bundle sealed by this vault, read from `input`, then puts back the photos its
    /// cases lack (see `restore_photos`). Returns how many records changed and how many photos
    /// came back. Incidents in it stay sealed for a caseworker without incident access.
    ///
    /// A format 4 bundle is read twice: once to authenticate every part and check none is
    /// missing (nothing changes if any fails), then to merge its records a chunk at a time and
    /// restore its photos a few at a time, so memory stays bounded. Formats 1–3 are read
    /// whole, as they were made.
    pub fn import_bundle_from<R: Read + Seek>(
        &mut self,
        mut input: R,
        now_ms: u64,
    ) -> Result<BundleImport, ExchangeError> {
        let start = input.stream_position().map_err(io)?;
        let vault_id = self.vault.vault_id;
        let bundle_id = match read_header(&mut input, &vault_id)? {
            Header::Stream(id) => id,
            Header::Whole => {
                input.seek(SeekFrom::Start(start)).map_err(io)?;
                let mut bytes = zeroize::Zeroizing::new(Vec::new());
                input
                    .take(MAX_WHOLE_BUNDLE)
                    .read_to_end(&mut bytes)
                    .map_err(io)?;
                return self.import_whole(&bytes, now_ms);
            }
        };
        let body = input.stream_position().map_err(io)?;
        // First pass: every part authenticates and none is missing.
        let mut check = FrameReader::new(&mut input, vault_id, bundle_id);
        let mut sealed_incidents = false;
        let totals = loop {
            match check.next(&self.bundle_keys())? {
                Some(Frame::End(totals)) => break totals,
                Some(Frame::SealedIncidents) => sealed_incidents = true,
                Some(_) => {}
                None => return Err(bad("truncated: the bundle ends before its last part").into()),
            }
        };
        if sealed_incidents {
            tracing::info!("the bundle's incidents stay sealed: no incident access");
        }
        // Second pass: apply it.
        input.seek(SeekFrom::Start(body)).map_err(io)?;
        let mut apply = FrameReader::new(&mut input, vault_id, bundle_id);
        let mut import = Some(AuditAction::Import {
            records: u32::try_from(totals.records).unwrap_or(u32::MAX),
            format: "bundle".into(),
        });
        let mut done = BundleImport::default();
        let mut photos: Vec<Carried> = Vec::new();
        let mut photo_bytes = 0;
        loop {
            match apply.next(&self.bundle_keys())? {
                Some(Frame::Records(docs)) => {
                    done.records += self.merge_audited(&docs, now_ms, import.take())?;
                }
                Some(Frame::Photo(c)) => {
                    photo_bytes += c.image.len() + c.thumbnail.len();
                    photos.push(c);
                    if photos.len() >= PHOTOS_PER_COMMIT || photo_bytes >= PHOTO_BYTES_PER_COMMIT {
                        done.photos += self.restore_photos(&photos, now_ms)?;
                        photos.clear();
                        photo_bytes = 0;
                    }
                }
                Some(Frame::SealedIncidents) => {}
                Some(Frame::End(_)) | None => break,
            }
        }
        done.photos += self.restore_photos(&photos, now_ms)?;
        if let Some(action) = import {
            // A bundle with no records: the import is audited all the same.
            self.merge_audited(&[], now_ms, Some(action))?;
        }
        Ok(done)
    }

    /// Merges a format 1–3 bundle held whole.
    fn import_whole(&mut self, bytes: &[u8], now_ms: u64) -> Result<BundleImport, ExchangeError> {
        let opened = open(&self.bundle_keys(), &self.vault.vault_id, bytes)?;
        if opened.sealed_incidents {
            tracing::info!("the bundle's incidents stay sealed: no incident access");
        }
        let docs = opened.docs;
        let import = AuditAction::Import {
            records: u32::try_from(docs.len()).unwrap_or(u32::MAX),
            format: "bundle".into(),
        };
        let records = self.merge_audited(&docs, now_ms, Some(import))?;
        let photos = self.restore_photos(&opened.photos, now_ms)?;
        Ok(BundleImport { records, photos })
    }

    /// Records that records left in a plaintext file (the caller writes it).
    pub fn audit_plain_export(
        &mut self,
        records: usize,
        format: &str,
        now_ms: u64,
    ) -> Result<(), WriteError> {
        Ok(self.audit_now(
            now_ms,
            AuditAction::Export {
                records: u32::try_from(records).unwrap_or(u32::MAX),
                format: format.into(),
            },
            None,
        )?)
    }
}
