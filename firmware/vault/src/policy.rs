//! The credential policy: what credential is accepted and how failed attempts are slowed.

use serde::{Deserialize, Serialize};

use crate::crypto::KdfParams;
use crate::error::{Result, VaultError};

/// How many times a caseworker's free attempts all names together get before every sign-in
/// waits: with the default three, a child who types twelve wrong PINs under any names slows
/// everyone, while three under one name slow only that name.
pub const GLOBAL_FACTOR: u32 = 4;

/// Rules for credentials and failed attempts, fixed when the vault is created.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct CredentialPolicy {
    /// Shortest credential accepted. A 6-digit PIN has a million values: an attacker with an image
    /// of the disk tries them all offline in hours whatever the KDF; see the README's security
    /// notes. Raise this (or require a passphrase) where kits may be seized.
    pub min_length: usize,
    /// Require letters as well as digits (a passphrase, not a PIN).
    pub require_passphrase: bool,
    /// Failed attempts allowed before delays begin.
    pub free_attempts: u32,
    /// First delay in seconds; it doubles with each further failure.
    pub base_delay_s: u64,
    /// Longest delay in seconds.
    pub max_delay_s: u64,
    /// Erase the caseworkers' key slots after this many failures in a row (the recovery key can
    /// still restore access). `None` never erases.
    pub wipe_after: Option<u32>,
    /// Argon2id cost; never below [`KdfParams::FLOOR`].
    pub kdf: KdfParams,
}

impl Default for CredentialPolicy {
    fn default() -> Self {
        CredentialPolicy {
            min_length: 6,
            require_passphrase: false,
            free_attempts: 3,
            base_delay_s: 30,
            max_delay_s: 3600,
            wipe_after: None,
            kdf: KdfParams::FLOOR,
        }
    }
}

impl CredentialPolicy {
    /// Seconds to wait after `failures` failures in a row under one name.
    pub fn delay_s(&self, failures: u32) -> u64 {
        self.delay_after(failures, self.free_attempts.max(1))
    }

    /// Seconds every name waits after `failures` failures in a row across all names (the
    /// ceiling against guessing one PIN under many names): the same delays, after
    /// [`GLOBAL_FACTOR`] times as many free attempts.
    pub fn global_delay_s(&self, failures: u32) -> u64 {
        self.delay_after(
            failures,
            self.free_attempts.max(1).saturating_mul(GLOBAL_FACTOR),
        )
    }

    fn delay_after(&self, failures: u32, free: u32) -> u64 {
        if failures < free {
            return 0;
        }
        let doublings = (failures - free).min(40);
        self.base_delay_s
            .saturating_mul(1u64 << doublings)
            .min(self.max_delay_s)
    }

    pub(crate) fn check(&self, credential: &[u8]) -> Result<()> {
        let text = std::str::from_utf8(credential)
            .map_err(|_| VaultError::WeakCredential("not valid UTF-8".into()))?;
        let chars = text.chars().count();
        // A policy may ask for more, never for less than the floor.
        let min = self.min_length.max(crate::credential::MIN_LENGTH_FLOOR);
        if chars < min {
            return Err(VaultError::WeakCredential(format!(
                "at least {min} characters are required"
            )));
        }
        if self.require_passphrase && !text.chars().any(char::is_alphabetic) {
            return Err(VaultError::WeakCredential(
                "a passphrase with letters is required".into(),
            ));
        }
        if !self.kdf.meets_floor() || !self.kdf.within_ceiling() {
            return Err(VaultError::WeakKdf);
        }
        if let Some(why) = crate::credential::common_pin(text) {
            return Err(VaultError::WeakCredential(format!(
                "this PIN is too easy to guess ({why})"
            )));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn no_policy_accepts_a_pin_shorter_than_the_floor() {
        let lax = CredentialPolicy {
            min_length: 4,
            ..CredentialPolicy::default()
        };
        assert!(matches!(
            lax.check(b"5829"),
            Err(VaultError::WeakCredential(m)) if m.contains("at least 6")
        ));
        assert!(lax.check(b"582917").is_ok());
        assert!(lax.check(b"123456").is_err(), "common PINs are refused");
    }
}
