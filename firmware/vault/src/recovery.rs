//! The recovery key and its printed form: RFC 4648 base32 in groups of four, with a check
//! group, so a typo is caught before a sign-in attempt is spent.

use crate::error::SignInError;
use std::fmt;

use zeroize::Zeroizing;

use crate::crypto::{self, Key};
use crate::error::{Result, VaultError};

/// The recovery key, shown once at provisioning. Zeroized on drop.
pub struct RecoveryKey(pub(crate) Key);

impl RecoveryKey {
    /// The key as 13 groups of 4 base32 characters (plus a check group), for printing on paper.
    pub fn to_words(&self) -> Zeroizing<String> {
        encode(self.0.expose())
    }

    /// Reads a recovery key typed back in.
    pub fn parse(text: &str) -> Result<RecoveryKey, SignInError> {
        Ok(decode(text).map(|b| RecoveryKey(Key::from_bytes(*b)))?)
    }
}

impl fmt::Debug for RecoveryKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("RecoveryKey(<secret>)")
    }
}

const ALPHABET: &[u8; 32] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";

pub(crate) fn encode(key: &[u8; 32]) -> Zeroizing<String> {
    let mut bits = 0u32;
    let mut nbits = 0;
    let mut chars = Zeroizing::new(Vec::with_capacity(56));
    for &b in key {
        bits = (bits << 8) | u32::from(b);
        nbits += 8;
        while nbits >= 5 {
            nbits -= 5;
            chars.push(ALPHABET[((bits >> nbits) & 31) as usize]);
        }
    }
    if nbits > 0 {
        chars.push(ALPHABET[((bits << (5 - nbits)) & 31) as usize]);
    }
    let check = crypto::hash(&[b"recovery check", key]);
    for &c in &check[..4] {
        chars.push(ALPHABET[usize::from(c & 31)]);
    }
    let mut out = Zeroizing::new(String::with_capacity(72));
    for (i, c) in chars.iter().enumerate() {
        if i > 0 && i % 4 == 0 {
            out.push('-');
        }
        out.push(char::from(*c));
    }
    out
}

pub(crate) fn decode(text: &str) -> Result<Zeroizing<[u8; 32]>> {
    let bad = || {
        VaultError::BadRecoveryKey(
            "not a recovery key (expected 56 letters and digits in groups of four)".into(),
        )
    };
    let mut vals = Zeroizing::new(Vec::with_capacity(56));
    for c in text.chars().filter(|c| !c.is_whitespace() && *c != '-') {
        let c = c.to_ascii_uppercase();
        let v = ALPHABET
            .iter()
            .position(|&a| char::from(a) == c)
            .ok_or_else(bad)?;
        vals.push(v as u32);
    }
    if vals.len() != 56 {
        return Err(bad());
    }
    let mut key = Zeroizing::new([0u8; 32]);
    let mut bits = 0u32;
    let mut nbits = 0;
    let mut i = 0;
    for &v in &vals[..52] {
        bits = (bits << 5) | v;
        nbits += 5;
        if nbits >= 8 && i < 32 {
            nbits -= 8;
            key[i] = ((bits >> nbits) & 0xff) as u8;
            i += 1;
        }
    }
    let check = crypto::hash(&[b"recovery check", key.as_ref()]);
    if vals[52..]
        .iter()
        .zip(&check[..4])
        .any(|(&v, &c)| v != u32::from(c & 31))
    {
        return Err(VaultError::BadRecoveryKey(
            "recovery key check failed: a character is mistyped".into(),
        ));
    }
    Ok(key)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_and_catches_typos() {
        let key = [0xA5u8; 32];
        let text = encode(&key);
        assert_eq!(text.len(), 56 + 13);
        assert_eq!(*decode(&text).unwrap(), key);
        assert_eq!(
            *decode(&text.to_lowercase().replace('-', " ")).unwrap(),
            key
        );
        let mut typo = text.to_string();
        let c = if typo.starts_with('A') { "B" } else { "A" };
        typo.replace_range(0..1, c);
        assert!(decode(&typo).is_err());
        assert!(decode("ABCD").is_err());
    }
}
