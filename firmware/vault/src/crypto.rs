//! Keys and sealing: XChaCha20-Poly1305 with associated data, Argon2id key wrapping, HKDF
//! subkeys, the blind-index HMAC.
//!
//! Every key lives in a [`Key`], which zeroizes its bytes when dropped and never prints them.

use std::fmt;

use chacha20poly1305::aead::{Aead, KeyInit, Payload};
use chacha20poly1305::{XChaCha20Poly1305, XNonce};
use hmac::{Hmac, Mac};
use serde::{Deserialize, Serialize};
use sha2::Sha256;
use zeroize::{Zeroize, ZeroizeOnDrop, Zeroizing};

use crate::error::CryptoError;

/// A 256-bit secret key, zeroized on drop, never shown.
#[derive(Clone, Zeroize, ZeroizeOnDrop)]
pub struct Key([u8; 32]);

impl fmt::Debug for Key {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Key(<secret>)")
    }
}

impl Key {
    /// A fresh random key.
    pub fn random() -> Result<Key, CryptoError> {
        let mut k = [0u8; 32];
        fill_random(&mut k)?;
        Ok(Key(k))
    }

    /// Wraps raw bytes (the caller's copy should be zeroized).
    pub fn from_bytes(bytes: [u8; 32]) -> Key {
        Key(bytes)
    }

    /// The raw bytes.
    pub fn expose(&self) -> &[u8; 32] {
        &self.0
    }

    /// A subkey for one purpose (HKDF-SHA256, the purpose as info).
    pub fn derive(&self, purpose: &str) -> Key {
        let hk = hkdf::Hkdf::<Sha256>::new(None, &self.0);
        let mut out = [0u8; 32];
        // 32 bytes is far below HKDF-SHA256's 8160-byte limit, so expand cannot fail.
        if hk.expand(purpose.as_bytes(), &mut out).is_err() {
            unreachable!("HKDF output of 32 bytes is always valid");
        }
        Key(out)
    }
}

/// Fills `buf` from the operating system's random source.
pub fn fill_random(buf: &mut [u8]) -> Result<(), CryptoError> {
    getrandom::fill(buf).map_err(|e| CryptoError::Random(e.to_string()))
}

/// A sealed value: a random 24-byte nonce and the ciphertext with its 16-byte tag.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Sealed {
    /// The XChaCha20 nonce, random per seal.
    pub nonce: [u8; 24],
    /// Ciphertext followed by the Poly1305 tag.
    pub ciphertext: Vec<u8>,
}

impl fmt::Debug for Sealed {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Sealed({} bytes)", self.ciphertext.len())
    }
}

/// Encrypts `plaintext` under `key`, binding `aad`.
pub fn seal(key: &Key, aad: &[u8], plaintext: &[u8]) -> Result<Sealed, CryptoError> {
    let cipher = XChaCha20Poly1305::new(key.expose().into());
    let mut nonce = [0u8; 24];
    fill_random(&mut nonce)?;
    let ciphertext = cipher
        .encrypt(
            &XNonce::from(nonce),
            Payload {
                msg: plaintext,
                aad,
            },
        )
        .map_err(|_| CryptoError::Seal)?;
    Ok(Sealed { nonce, ciphertext })
}

/// Decrypts and authenticates; any change to the ciphertext, nonce, key or `aad` fails.
pub fn open(key: &Key, aad: &[u8], sealed: &Sealed) -> Result<Zeroizing<Vec<u8>>, CryptoError> {
    let cipher = XChaCha20Poly1305::new(key.expose().into());
    cipher
        .decrypt(
            &XNonce::from(sealed.nonce),
            Payload {
                msg: &sealed.ciphertext,
                aad,
            },
        )
        .map(Zeroizing::new)
        .map_err(|_| CryptoError::Authentication)
}

/// Argon2id cost parameters for a credential.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct KdfParams {
    /// Memory in KiB.
    pub m_kib: u32,
    /// Passes.
    pub t: u32,
    /// Lanes.
    pub p: u32,
}

impl KdfParams {
    /// OWASP's floor for Argon2id: 19 MiB, 2 passes, 1 lane. The vault refuses anything weaker.
    pub const FLOOR: KdfParams = KdfParams {
        m_kib: 19 * 1024,
        t: 2,
        p: 1,
    };

    /// True when these parameters are at least as costly as [`KdfParams::FLOOR`] in each
    /// dimension.
    pub fn meets_floor(&self) -> bool {
        self.m_kib >= Self::FLOOR.m_kib && self.t >= Self::FLOOR.t && self.p >= Self::FLOOR.p
    }
}

/// The highest Argon2 cost a key slot may ask for: 1 GiB, 16 passes, 8 lanes. A slot is read
/// before its credential is checked, so its parameters are range-checked first: a slot edited
/// to ask for terabytes must not take the kit down (issue 8, finding 13).
pub const KDF_CEILING: KdfParams = KdfParams {
    m_kib: 1024 * 1024,
    t: 16,
    p: 8,
};

impl KdfParams {
    /// True when these parameters are within [`KDF_CEILING`] in each dimension.
    pub fn within_ceiling(&self) -> bool {
        self.m_kib <= KDF_CEILING.m_kib && self.t <= KDF_CEILING.t && self.p <= KDF_CEILING.p
    }
}

/// Stretches a credential with Argon2id: the secret every key slot key is derived from.
pub fn stretch(
    credential: &[u8],
    salt: &[u8; 16],
    params: KdfParams,
) -> Result<Zeroizing<[u8; 32]>, CryptoError> {
    if !params.meets_floor() || !params.within_ceiling() {
        return Err(CryptoError::Kdf(format!(
            "parameters m = {} KiB, t = {}, p = {} are outside the accepted range",
            params.m_kib, params.t, params.p
        )));
    }
    let p = argon2::Params::new(params.m_kib, params.t, params.p, Some(32))
        .map_err(|e| CryptoError::Kdf(e.to_string()))?;
    let argon = argon2::Argon2::new(argon2::Algorithm::Argon2id, argon2::Version::V0x13, p);
    let mut out = Zeroizing::new([0u8; 32]);
    argon
        .hash_password_into(credential, salt, out.as_mut())
        .map_err(|e| CryptoError::Kdf(e.to_string()))?;
    Ok(out)
}

/// The authorisation a hardware element is given for a slot: derived from the stretched
/// credential under its own label, so it reveals nothing of the key-encryption key.
pub fn hardware_auth(stretched: &[u8; 32]) -> Zeroizing<[u8; 32]> {
    let hk = hkdf::Hkdf::<Sha256>::new(None, stretched);
    let mut auth = Zeroizing::new([0u8; 32]);
    if hk
        .expand(b"fieldkit hardware auth v1", auth.as_mut())
        .is_err()
    {
        unreachable!("HKDF output of 32 bytes is always valid");
    }
    auth
}

/// The key-encryption key from the stretched credential and the hardware secret (when there is
/// one), with HKDF.
pub fn kek_from(stretched: &[u8; 32], hardware: Option<&Key>) -> Key {
    let hk = hkdf::Hkdf::<Sha256>::new(hardware.map(|k| k.expose().as_slice()), stretched);
    let mut kek = [0u8; 32];
    if hk.expand(b"fieldkit kek v1", &mut kek).is_err() {
        unreachable!("HKDF output of 32 bytes is always valid");
    }
    Key(kek)
}

/// Derives a key-encryption key from a credential with Argon2id, then mixes in the hardware
/// secret (when there is one) with HKDF: [`stretch`] then [`kek_from`]. (The vault calls the
/// two steps apart, since the hardware needs the stretched credential in between.)
#[cfg(test)]
pub fn credential_kek(
    credential: &[u8],
    salt: &[u8; 16],
    params: KdfParams,
    hardware: Option<&Key>,
) -> Result<Key, CryptoError> {
    let stretched = stretch(credential, salt, params)?;
    Ok(kek_from(&stretched, hardware))
}

/// Derives a key-encryption key from a high-entropy recovery key (no stretching needed).
pub fn recovery_kek(recovery: &Key, salt: &[u8; 16]) -> Key {
    let hk = hkdf::Hkdf::<Sha256>::new(Some(salt), recovery.expose());
    let mut kek = [0u8; 32];
    if hk.expand(b"fieldkit recovery kek v1", &mut kek).is_err() {
        unreachable!("HKDF output of 32 bytes is always valid");
    }
    Key(kek)
}

/// A fresh X25519 key pair: the secret (kept wrapped in a key slot) and its public key. The
/// public key lets a supervisor grant new keys to a slot without its credential, which is what
/// makes revoking one caseworker possible without everyone's PIN.
pub fn keypair() -> Result<(Key, [u8; 32]), CryptoError> {
    let secret = Key::random()?;
    let public = x25519_dalek::x25519(secret.0, x25519_dalek::X25519_BASEPOINT_BYTES);
    Ok((secret, public))
}

/// The key for a message sealed to `public` with the ephemeral key `ephemeral_public`.
fn grant_key(shared: &[u8; 32], ephemeral_public: &[u8; 32], public: &[u8; 32]) -> Key {
    let hk = hkdf::Hkdf::<Sha256>::new(Some(b"fieldkit grant v1"), shared);
    let mut k = [0u8; 32];
    let info = [ephemeral_public.as_slice(), public.as_slice()].concat();
    if hk.expand(&info, &mut k).is_err() {
        unreachable!("HKDF output of 32 bytes is always valid");
    }
    Key(k)
}

/// Seals `plain` so that only the holder of `public`'s secret opens it (ephemeral-static
/// X25519, HKDF-SHA256, XChaCha20-Poly1305). Returns the ephemeral public key and the sealed
/// value.
pub fn seal_to(
    public: &[u8; 32],
    aad: &[u8],
    plain: &[u8],
) -> Result<([u8; 32], Sealed), CryptoError> {
    let (ephemeral, ephemeral_public) = keypair()?;
    let shared = Zeroizing::new(x25519_dalek::x25519(ephemeral.0, *public));
    if ct_eq(shared.as_ref(), &[0u8; 32]) {
        return Err(CryptoError::Seal);
    }
    let key = grant_key(&shared, &ephemeral_public, public);
    Ok((ephemeral_public, seal(&key, aad, plain)?))
}

/// Opens what [`seal_to`] sealed, with the secret of `public`.
pub fn open_from(
    secret: &Key,
    ephemeral_public: &[u8; 32],
    aad: &[u8],
    sealed: &Sealed,
) -> Result<Zeroizing<Vec<u8>>, CryptoError> {
    let public = x25519_dalek::x25519(secret.0, x25519_dalek::X25519_BASEPOINT_BYTES);
    let shared = Zeroizing::new(x25519_dalek::x25519(secret.0, *ephemeral_public));
    let key = grant_key(&shared, ephemeral_public, &public);
    open(&key, aad, sealed)
}

/// HMAC-SHA256 of `parts` under `key`.
pub fn mac(key: &Key, parts: &[&[u8]]) -> [u8; 32] {
    let mut m = <Hmac<Sha256> as KeyInit>::new_from_slice(key.expose()).unwrap_or_else(|_| {
        unreachable!("HMAC accepts keys of any length");
    });
    for p in parts {
        m.update(&(p.len() as u64).to_le_bytes());
        m.update(p);
    }
    m.finalize().into_bytes().into()
}

/// SHA-256 of `parts`, each prefixed by its length.
pub fn hash(parts: &[&[u8]]) -> [u8; 32] {
    use sha2::Digest;
    let mut h = Sha256::new();
    for p in parts {
        h.update((p.len() as u64).to_le_bytes());
        h.update(p);
    }
    h.finalize().into()
}

/// Compares two MACs in constant time.
pub fn ct_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sealed_values_open_only_with_the_same_key_and_aad() {
        let k = Key::random().unwrap();
        let s = seal(&k, b"case|1|v1", b"Amina").unwrap();
        assert_eq!(open(&k, b"case|1|v1", &s).unwrap().as_slice(), b"Amina");
        assert!(open(&k, b"case|2|v1", &s).is_err());
        assert!(open(&Key::random().unwrap(), b"case|1|v1", &s).is_err());
        let mut t = s.clone();
        t.ciphertext[0] ^= 1;
        assert!(open(&k, b"case|1|v1", &t).is_err());
        let mut n = s;
        n.nonce[23] ^= 0x80;
        assert!(open(&k, b"case|1|v1", &n).is_err());
    }

    #[test]
    fn keys_never_print() {
        let k = Key::from_bytes([0x41; 32]);
        assert_eq!(format!("{k:?}"), "Key(<secret>)");
    }

    #[test]
    fn subkeys_differ_by_purpose() {
        let k = Key::random().unwrap();
        assert_ne!(k.derive("a").expose(), k.derive("b").expose());
        assert_eq!(k.derive("a").expose(), k.derive("a").expose());
    }

    /// The floor in numbers (OWASP's Password Storage Cheat Sheet, Argon2id: m = 19 MiB,
    /// t = 2, p = 1), and what falls short of it in each dimension.
    #[test]
    fn the_kdf_floor_is_owasps() {
        assert_eq!(
            KdfParams::FLOOR,
            KdfParams {
                m_kib: 19_456,
                t: 2,
                p: 1
            }
        );
        assert!(KdfParams::FLOOR.meets_floor());
        for weaker in [
            KdfParams {
                m_kib: 19_455,
                t: 2,
                p: 1,
            },
            KdfParams {
                m_kib: 9 * 1024,
                t: 1,
                p: 1,
            },
            KdfParams {
                m_kib: 64 * 1024,
                t: 1,
                p: 1,
            },
            KdfParams {
                m_kib: 19_456,
                t: 2,
                p: 0,
            },
        ] {
            assert!(!weaker.meets_floor(), "{weaker:?} passes the floor");
        }
        assert!(
            KdfParams {
                m_kib: 64 * 1024,
                t: 3,
                p: 4
            }
            .meets_floor()
        );
    }

    /// Known answers for the key-encryption key at the floor, computed outside this code
    /// (Python's `cryptography` 48, OpenSSL's Argon2id and HKDF):
    ///
    /// ```text
    /// a = Argon2id(salt=bytes([3]*16), length=32, iterations=2, lanes=1,
    ///              memory_cost=19456).derive(b"123456")
    ///   = 5822f442c2285f06a05678857c29e6da274d81099f5a353d8cf512192de63bae
    /// HKDF(SHA256, 32, salt=None, info=b"fieldkit kek v1").derive(a)
    ///   = 40222c1c9250c64fbe66f72c396ce516115e3fa246ac881ab99dc0c131d7bc8e
    /// HKDF(SHA256, 32, salt=bytes([9]*32), info=b"fieldkit kek v1").derive(a)
    ///   = fc790b0ea9780f78a6973d7dc038d7cc053685714f92c339c5a01818434b0acf
    /// ```
    ///
    /// A change of the floor, of the Argon2 variant or version, or of the HKDF step changes
    /// these, so slots written by earlier kits would no longer open.
    #[test]
    fn credential_kek_known_answers_at_the_floor() {
        let hex = |k: &Key| {
            k.expose()
                .iter()
                .map(|b| format!("{b:02x}"))
                .collect::<String>()
        };
        let salt = [3u8; 16];
        let a = credential_kek(b"123456", &salt, KdfParams::FLOOR, None).unwrap();
        assert_eq!(
            hex(&a),
            "40222c1c9250c64fbe66f72c396ce516115e3fa246ac881ab99dc0c131d7bc8e"
        );
        let hw = Key::from_bytes([9; 32]);
        let c = credential_kek(b"123456", &salt, KdfParams::FLOOR, Some(&hw)).unwrap();
        assert_eq!(
            hex(&c),
            "fc790b0ea9780f78a6973d7dc038d7cc053685714f92c339c5a01818434b0acf"
        );
        let b = credential_kek(b"123457", &salt, KdfParams::FLOOR, None).unwrap();
        assert_ne!(a.expose(), b.expose());
    }
}
