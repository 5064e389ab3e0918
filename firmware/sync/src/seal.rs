//! End-to-end sealing of frames between a kit and the hub.
//!
//! Each kit and the hub hold a static X25519 key, provisioned at flashing. Their shared
//! secret goes through HKDF-SHA256 (salt: both public keys) into two ChaCha20-Poly1305 keys,
//! one per direction, so the kit's and the hub's counters never share a key. A frame is
//!
//! ```text
//! header (1) | kit id (4) | send counter (varint) | ciphertext | tag (16)
//! ```
//!
//! with the header bytes as associated data and the counter as the nonce. The kit id is the
//! first four bytes of SHA-256 of the kit's public key: the hub routes a frame to the kit's
//! keys by it, and a kit drops at once what the air brings for other kits. Only a frame that
//! authenticates moves the replay window. Every refusal is counted by reason.
//!
//! The AEAD is used here, on the air, as well as in the vault (at rest): the frame keys
//! never leave this module and are zeroized when the channel is dropped.

use std::fmt;

use chacha20poly1305::aead::{Aead, KeyInit, Payload};
use chacha20poly1305::{ChaCha20Poly1305, Nonce};
use hkdf::Hkdf;
use sha2::{Digest, Sha256};
use x25519_dalek::{PublicKey, StaticSecret};
use zeroize::{Zeroize, ZeroizeOnDrop, Zeroizing};

use crate::counter::{COUNTER_END, CounterError, Replay, ReplayWindow, Reservation, SendCounter};
use crate::wire::{Reader, Writer, varint_len};

/// Protocol version in the header's top two bits.
const VERSION: u8 = 1;
/// AEAD tag length.
pub const TAG_LEN: usize = 16;
/// Bytes a frame adds to its plaintext, at most (header, kit id, a 10-byte counter, tag).
pub const MAX_OVERHEAD: usize = 1 + 4 + 10 + TAG_LEN;

/// Bytes a frame adds to its plaintext at send counter `counter`.
pub fn overhead(counter: u64) -> usize {
    1 + 4 + varint_len(counter) + TAG_LEN
}

/// A kit's short identity on the air: four bytes of SHA-256 of its public key.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct KitId(pub [u8; 4]);

impl KitId {
    /// The id of the kit with this public key.
    pub fn of(public: &PublicKey) -> Self {
        let mut h = Sha256::new();
        h.update(b"fieldkit kit id v1");
        h.update(public.as_bytes());
        let d = h.finalize();
        KitId([d[0], d[1], d[2], d[3]])
    }
}

impl fmt::Display for KitId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for b in self.0 {
            write!(f, "{b:02x}")?;
        }
        Ok(())
    }
}

impl fmt::Debug for KitId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "KitId({self})")
    }
}

/// A static X25519 secret (a kit's or the hub's). Never printed.
pub struct StaticKey(StaticSecret);

impl StaticKey {
    /// The key from 32 secret bytes (from the OS random source at provisioning, or read
    /// back from the kit's sealed store).
    pub fn from_bytes(mut bytes: [u8; 32]) -> Self {
        let k = StaticKey(StaticSecret::from(bytes));
        bytes.zeroize();
        k
    }

    /// The secret bytes, for sealing into storage.
    pub fn to_bytes(&self) -> Zeroizing<[u8; 32]> {
        Zeroizing::new(self.0.to_bytes())
    }

    /// The public key.
    pub fn public(&self) -> PublicKey {
        PublicKey::from(&self.0)
    }
}

impl fmt::Debug for StaticKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "StaticKey(public {:02x?}…)",
            &self.public().as_bytes()[..4]
        )
    }
}

/// The first word of a public key file.
pub const KEY_FILE_WORD: &str = "fieldkit-x25519";

/// Why a public key file was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum KeyFileError {
    /// Not `fieldkit-x25519 <64 hex digits>` (or the 64 hex digits alone).
    #[error("not a fieldkit public key (expected `{KEY_FILE_WORD} <64 hex digits>`)")]
    Format,
    /// A well-formed key of low order, which would give no shared secret.
    #[error(transparent)]
    BadKey(#[from] BadPeerKey),
}

/// A public key as the one line a key file holds: `fieldkit-x25519 <64 lowercase hex>`.
/// Kits and the hub exchange their public keys in this form at provisioning (the kit's
/// `sync/kit.pub`, the hub's key given to `fieldkit provision --hub-key`).
pub fn public_key_to_text(key: &PublicKey) -> String {
    let mut s = String::with_capacity(KEY_FILE_WORD.len() + 66);
    s.push_str(KEY_FILE_WORD);
    s.push(' ');
    for b in key.as_bytes() {
        s.push_str(&format!("{b:02x}"));
    }
    s
}

/// Reads a public key file's text (surrounding blank space and `#` comment lines are
/// ignored; the word may be left out). Refuses keys of low order.
pub fn public_key_from_text(text: &str) -> Result<PublicKey, KeyFileError> {
    let mut lines = text
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#'));
    let line = lines.next().ok_or(KeyFileError::Format)?;
    if lines.next().is_some() {
        return Err(KeyFileError::Format);
    }
    let hex = match line.split_once(char::is_whitespace) {
        Some((word, rest)) if word == KEY_FILE_WORD => rest.trim(),
        Some(_) => return Err(KeyFileError::Format),
        None => line,
    };
    let digits = hex.as_bytes();
    if digits.len() != 64 {
        return Err(KeyFileError::Format);
    }
    let mut bytes = [0u8; 32];
    for (i, b) in bytes.iter_mut().enumerate() {
        let pair =
            std::str::from_utf8(&digits[2 * i..2 * i + 2]).map_err(|_| KeyFileError::Format)?;
        *b = u8::from_str_radix(pair, 16).map_err(|_| KeyFileError::Format)?;
    }
    let key = PublicKey::from(bytes);
    // A low-order point gives an all-zero shared secret with any key.
    if !StaticSecret::from([7u8; 32])
        .diffie_hellman(&key)
        .was_contributory()
    {
        return Err(KeyFileError::BadKey(BadPeerKey));
    }
    Ok(key)
}

/// Which way a frame travels.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Direction {
    /// Kit to hub.
    Uplink,
    /// Hub to kit.
    Downlink,
}

impl Direction {
    fn bit(self) -> u8 {
        match self {
            Direction::Uplink => 0,
            Direction::Downlink => 1,
        }
    }
}

/// The peer's public key is of low order: no shared secret.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("the peer's public key is invalid (low order)")]
pub struct BadPeerKey;

#[derive(Zeroize, ZeroizeOnDrop)]
struct FrameKey([u8; 32]);

/// The two frame keys of one kit–hub pair, from one side's point of view.
pub struct LinkKeys {
    kit: KitId,
    sends: Direction,
    send: FrameKey,
    recv: FrameKey,
}

impl fmt::Debug for LinkKeys {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "LinkKeys(kit {}, sends {:?})", self.kit, self.sends)
    }
}

fn derive(
    secret: &StaticKey,
    peer: &PublicKey,
    kit_pub: &PublicKey,
    hub_pub: &PublicKey,
) -> Result<(FrameKey, FrameKey), BadPeerKey> {
    let shared = secret.0.diffie_hellman(peer);
    if !shared.was_contributory() {
        return Err(BadPeerKey);
    }
    let mut salt = [0u8; 64];
    salt[..32].copy_from_slice(kit_pub.as_bytes());
    salt[32..].copy_from_slice(hub_pub.as_bytes());
    let hk = Hkdf::<Sha256>::new(Some(&salt), shared.as_bytes());
    let mut up = FrameKey([0; 32]);
    let mut down = FrameKey([0; 32]);
    // 32-byte outputs are far below HKDF-SHA256's limit; expand cannot fail.
    if hk.expand(b"fieldkit sync v1 uplink", &mut up.0).is_err()
        || hk
            .expand(b"fieldkit sync v1 downlink", &mut down.0)
            .is_err()
    {
        return Err(BadPeerKey);
    }
    Ok((up, down))
}

impl LinkKeys {
    /// The kit's side: it sends uplink and receives downlink.
    pub fn for_kit(kit: &StaticKey, hub: &PublicKey) -> Result<Self, BadPeerKey> {
        let kit_pub = kit.public();
        let (up, down) = derive(kit, hub, &kit_pub, hub)?;
        Ok(Self {
            kit: KitId::of(&kit_pub),
            sends: Direction::Uplink,
            send: up,
            recv: down,
        })
    }

    /// The hub's side for one kit: it sends downlink and receives uplink.
    pub fn for_hub(hub: &StaticKey, kit: &PublicKey) -> Result<Self, BadPeerKey> {
        let hub_pub = hub.public();
        let (up, down) = derive(hub, kit, kit, &hub_pub)?;
        Ok(Self {
            kit: KitId::of(kit),
            sends: Direction::Downlink,
            send: down,
            recv: up,
        })
    }

    /// The kit this pair belongs to.
    pub fn kit(&self) -> KitId {
        self.kit
    }
}

/// Why a received frame was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum Rejected {
    /// Too short, unknown version or reserved bits set.
    #[error("malformed frame")]
    Malformed,
    /// Addressed to another kit, or travelling the wrong way.
    #[error("frame for another kit")]
    NotForUs,
    /// The tag did not verify: altered in transit, or sealed under another key.
    #[error("frame failed authentication")]
    Authentication,
    /// A counter accepted before, or older than the window.
    #[error("{0}")]
    Replay(Replay),
}

/// Refusals counted by reason.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Rejections {
    /// Malformed frames.
    pub malformed: u64,
    /// Frames for another kit.
    pub not_for_us: u64,
    /// Frames that failed authentication.
    pub authentication: u64,
    /// Replayed or too old frames.
    pub replayed: u64,
}

impl Rejections {
    /// Counts one refusal.
    pub fn count(&mut self, r: Rejected) {
        let slot = match r {
            Rejected::Malformed => &mut self.malformed,
            Rejected::NotForUs => &mut self.not_for_us,
            Rejected::Authentication => &mut self.authentication,
            Rejected::Replay(_) => &mut self.replayed,
        };
        *slot += 1;
    }

    /// Every refusal.
    pub fn total(&self) -> u64 {
        self.malformed + self.not_for_us + self.authentication + self.replayed
    }

    /// Adds another tally.
    pub fn add(&mut self, other: &Rejections) {
        self.malformed += other.malformed;
        self.not_for_us += other.not_for_us;
        self.authentication += other.authentication;
        self.replayed += other.replayed;
    }
}

/// A frame's cleartext header.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Header {
    /// Which way it travels.
    pub direction: Direction,
    /// The kit it is from (uplink) or for (downlink).
    pub kit: KitId,
    /// Its send counter.
    pub counter: u64,
    /// Bytes of header (the associated data).
    pub len: usize,
}

/// Reads a frame's header without authenticating anything (for routing).
pub fn peek(frame: &[u8]) -> Result<Header, Rejected> {
    let mut r = Reader::new(frame);
    let h = r.u8().map_err(|_| Rejected::Malformed)?;
    if h >> 6 != VERSION || h & 0x1f != 0 {
        return Err(Rejected::Malformed);
    }
    let direction = if h & 0x20 == 0 {
        Direction::Uplink
    } else {
        Direction::Downlink
    };
    let kit = KitId(r.array().map_err(|_| Rejected::Malformed)?);
    let counter = r.varint().map_err(|_| Rejected::Malformed)?;
    if counter >= COUNTER_END || r.remaining() < TAG_LEN {
        return Err(Rejected::Malformed);
    }
    Ok(Header {
        direction,
        kit,
        counter,
        len: frame.len() - r.remaining(),
    })
}

fn nonce(counter: u64) -> Nonce {
    let mut n = [0u8; 12];
    n[..8].copy_from_slice(&counter.to_le_bytes());
    Nonce::from(n)
}

/// Why a frame could not be sealed.
#[derive(Debug, thiserror::Error)]
pub enum SealError<E> {
    /// No send counter could be had.
    #[error(transparent)]
    Counter(#[from] CounterError<E>),
    /// The cipher refused (plaintext beyond its limit).
    #[error("sealing failed")]
    Cipher,
}

/// An opened frame.
#[derive(Debug)]
pub struct Opened {
    /// Its send counter.
    pub counter: u64,
    /// Its plaintext (zeroized when dropped).
    pub plaintext: Zeroizing<Vec<u8>>,
}

/// One side of a kit–hub pair: keys, send counter, replay window and refusal counts.
#[derive(Debug)]
pub struct Channel {
    keys: LinkKeys,
    counter: SendCounter,
    window: ReplayWindow,
    rejected: Rejections,
}

impl Channel {
    /// A channel from its keys and the counter and window restored from storage.
    pub fn new(keys: LinkKeys, counter: SendCounter, window: ReplayWindow) -> Self {
        Self {
            keys,
            counter,
            window,
            rejected: Rejections::default(),
        }
    }

    /// The kit of this pair.
    pub fn kit(&self) -> KitId {
        self.keys.kit
    }

    /// The receive window, to persist with what the frames delivered.
    pub fn window(&self) -> ReplayWindow {
        self.window
    }

    /// Refusals so far.
    pub fn rejections(&self) -> Rejections {
        self.rejected
    }

    /// Bytes the next frame adds to its plaintext.
    pub fn next_overhead(&self) -> usize {
        overhead(self.counter.limit())
    }

    /// Seals `plaintext` into a frame. `persist` is called with a new counter limit when
    /// the reserved block is used up, before any counter past the old limit is used.
    pub fn seal<E>(
        &mut self,
        plaintext: &[u8],
        persist: impl FnOnce(Reservation) -> Result<(), E>,
    ) -> Result<Vec<u8>, SealError<E>> {
        let counter = self.counter.next(persist)?;
        let mut w = Writer::new();
        w.u8((VERSION << 6) | (self.keys.sends.bit() << 5));
        w.raw(&self.keys.kit.0);
        w.varint(counter);
        let mut frame = w.into_bytes();
        let cipher = ChaCha20Poly1305::new((&self.keys.send.0).into());
        let ct = cipher
            .encrypt(
                &nonce(counter),
                Payload {
                    msg: plaintext,
                    aad: &frame,
                },
            )
            .map_err(|_| SealError::Cipher)?;
        frame.extend_from_slice(&ct);
        Ok(frame)
    }

    /// Opens a frame for this side: checks address, replay window and tag, then moves the
    /// window. A refusal is counted and changes nothing else.
    pub fn open(&mut self, frame: &[u8]) -> Result<Opened, Rejected> {
        let r = self.try_open(frame);
        if let Err(e) = r {
            self.rejected.count(e);
        }
        r
    }

    fn try_open(&mut self, frame: &[u8]) -> Result<Opened, Rejected> {
        let h = peek(frame)?;
        if h.kit != self.keys.kit || h.direction == self.keys.sends {
            return Err(Rejected::NotForUs);
        }
        self.window.check(h.counter).map_err(Rejected::Replay)?;
        let (aad, ct) = frame.split_at(h.len);
        let cipher = ChaCha20Poly1305::new((&self.keys.recv.0).into());
        let pt = cipher
            .decrypt(&nonce(h.counter), Payload { msg: ct, aad })
            .map_err(|_| Rejected::Authentication)?;
        self.window.accept(h.counter);
        Ok(Opened {
            counter: h.counter,
            plaintext: Zeroizing::new(pt),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::convert::Infallible;

    fn pair(seed: u8) -> (Channel, Channel) {
        let kit = StaticKey::from_bytes([seed; 32]);
        let hub = StaticKey::from_bytes([200; 32]);
        let k = LinkKeys::for_kit(&kit, &hub.public()).expect("keys");
        let h = LinkKeys::for_hub(&hub, &kit.public()).expect("keys");
        (
            Channel::new(k, SendCounter::resume(0, 8), ReplayWindow::default()),
            Channel::new(h, SendCounter::resume(0, 8), ReplayWindow::default()),
        )
    }

    #[test]
    fn public_key_files_round_trip_and_bad_ones_are_refused() {
        let key = StaticKey::from_bytes([9; 32]).public();
        let text = public_key_to_text(&key);
        assert!(text.starts_with("fieldkit-x25519 "));
        assert_eq!(text.len(), KEY_FILE_WORD.len() + 65);
        assert_eq!(public_key_from_text(&format!("# hub\n{text}\n")), Ok(key));
        assert_eq!(
            public_key_from_text(&text[KEY_FILE_WORD.len() + 1..]),
            Ok(key)
        );
        for bad in [
            "",
            "fieldkit-x25519",
            "ssh-ed25519 AAAA",
            &text[..text.len() - 1],
        ] {
            assert_eq!(
                public_key_from_text(bad),
                Err(KeyFileError::Format),
                "{bad}"
            );
        }
        assert_eq!(
            public_key_from_text(&format!("{text}\n{text}")),
            Err(KeyFileError::Format)
        );
        // The all-zero point is of low order.
        let zero = format!("{KEY_FILE_WORD} {}", "0".repeat(64));
        assert_eq!(
            public_key_from_text(&zero),
            Err(KeyFileError::BadKey(BadPeerKey))
        );
    }

    #[test]
    fn both_directions_open_and_the_overhead_is_as_announced() {
        let (mut kit, mut hub) = pair(1);
        let f = kit
            .seal(b"hello", |_| Ok::<_, Infallible>(()))
            .expect("seal");
        assert_eq!(f.len(), 5 + overhead(0));
        assert_eq!(&hub.open(&f).expect("open").plaintext[..], b"hello");
        let g = hub
            .seal(b"back", |_| Ok::<_, Infallible>(()))
            .expect("seal");
        assert_eq!(&kit.open(&g).expect("open").plaintext[..], b"back");
        // A kit does not accept its own uplink frame as downlink.
        assert_eq!(kit.open(&f).err(), Some(Rejected::NotForUs));
    }

    #[test]
    fn a_low_order_public_key_is_refused() {
        let kit = StaticKey::from_bytes([3; 32]);
        assert!(LinkKeys::for_kit(&kit, &PublicKey::from([0u8; 32])).is_err());
    }

    #[test]
    fn debug_output_shows_no_secret() {
        let kit = StaticKey::from_bytes([9; 32]);
        let text = format!("{kit:?}");
        assert!(!text.contains("09, 09"), "{text}");
        let (k, _) = pair(9);
        assert!(!format!("{k:?}").contains("[9"));
    }
}
