//! The seams a hardware element plugs into: a secret that only the right PIN unseals inside the
//! element ([`HardwareSecret`]), and a monotonic counter outside the vault file that anchors the
//! vault's commit counter ([`RollbackAnchor`]). The TPM 2.0 implementation lives in its own
//! crate; this file holds the traits, software mode, and a file-backed anchor.
//!
//! With a hardware secret, a key slot's key-encryption key is
//! `HKDF(salt = hardware secret, Argon2id(PIN))`, and the hardware releases its secret only for
//! `auth = HKDF(Argon2id(PIN), "fieldkit hardware auth v1")`. A copy of the file therefore cannot
//! test a PIN guess without the element, and every wrong guess counts toward the element's own
//! dictionary-attack lockout.

use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};

use crate::crypto::Key;

/// [`HardwareSecret::kind`] of software mode: no hardware, the PIN alone protects the keys.
pub const SOFTWARE: &str = "none";

/// A failure of a hardware element.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum HardwareError {
    /// The authorisation (derived from the PIN) was wrong; the element counted it.
    #[error("the hardware refused the authorisation")]
    WrongAuth,
    /// The element's dictionary-attack lockout is active.
    #[error("the hardware is locked against guessing: try again in {retry_after_s} s")]
    Lockout {
        /// Seconds until the element accepts another attempt.
        retry_after_s: u64,
    },
    /// The element is missing, busy or failing.
    #[error("the hardware is unavailable: {0}")]
    Unavailable(String),
    /// What the element was given, or holds, is damaged.
    #[error("the hardware's data is damaged: {0}")]
    Corrupt(String),
}

/// A secret held by a hardware element (a TPM 2.0), released only for the right
/// authorisation. Kits without one use [`NoHardwareSecret`].
pub trait HardwareSecret: Send + Sync {
    /// Which kind of element: [`SOFTWARE`] (`"none"`) or, for example, `"tpm2"`. The vault
    /// records the kind it was created with and refuses to open under another.
    fn kind(&self) -> &'static str;
    /// Slot creation or PIN change: seals a fresh 32-byte secret that only `auth` unseals;
    /// returns the opaque blob kept in the slot, and the secret.
    fn enroll(&self, vault_id: &[u8; 16], auth: &[u8; 32])
    -> Result<(Vec<u8>, Key), HardwareError>;
    /// Sign-in: unseals the secret of `blob`. A wrong `auth` counts toward the element's own
    /// dictionary-attack lockout and gives [`HardwareError::WrongAuth`].
    fn unseal(
        &self,
        vault_id: &[u8; 16],
        blob: &[u8],
        auth: &[u8; 32],
    ) -> Result<Key, HardwareError>;
}

/// Software mode: no secure element; the credential alone protects the keys. Its `enroll` and
/// `unseal` are never called by the vault (the vault checks [`HardwareSecret::kind`]) and
/// refuse.
#[derive(Debug, Clone, Copy, Default)]
pub struct NoHardwareSecret;

impl HardwareSecret for NoHardwareSecret {
    fn kind(&self) -> &'static str {
        SOFTWARE
    }

    fn enroll(&self, _: &[u8; 16], _: &[u8; 32]) -> Result<(Vec<u8>, Key), HardwareError> {
        Err(HardwareError::Unavailable(
            "software mode has no hardware secret".into(),
        ))
    }

    fn unseal(&self, _: &[u8; 16], _: &[u8], _: &[u8; 32]) -> Result<Key, HardwareError> {
        Err(HardwareError::Unavailable(
            "software mode has no hardware secret".into(),
        ))
    }
}

/// A monotonic counter outside the vault file (a TPM's NV counter) that anchors the vault's
/// commit counter: a vault file whose counter is below the anchor's is an older copy.
pub trait RollbackAnchor: Send + Sync {
    /// Which kind of anchor, for messages and for the vault's record of its mode (`"tpm2"`,
    /// `"file"`).
    fn kind(&self) -> &'static str;
    /// The counter's value now.
    fn read(&self) -> Result<u64, HardwareError>;
    /// Raises the counter to at least `value` (never lowers it); returns the value it holds
    /// after.
    fn advance_to(&self, value: u64) -> Result<u64, HardwareError>;
}

/// An anchor kept in a small file of its own, for kits without a TPM: it catches a vault file
/// copied back on its own (the file should live on another partition than the vault, such as
/// the root file system). It cannot stop an attacker who restores both files; a TPM or the
/// hub can.
#[derive(Debug, Clone)]
pub struct FileAnchor {
    path: PathBuf,
}

impl FileAnchor {
    /// An anchor kept at `path` (created at the first [`RollbackAnchor::advance_to`]).
    pub fn new(path: impl Into<PathBuf>) -> FileAnchor {
        FileAnchor { path: path.into() }
    }

    /// Where the counter is kept.
    pub fn path(&self) -> &Path {
        &self.path
    }

    fn io(&self, what: &str, e: std::io::Error) -> HardwareError {
        HardwareError::Unavailable(format!("{what} {}: {e}", self.path.display()))
    }
}

/// The file holds `fieldkit-anchor <decimal counter>\n`.
const ANCHOR_PREFIX: &str = "fieldkit-anchor ";

impl RollbackAnchor for FileAnchor {
    fn kind(&self) -> &'static str {
        "file"
    }

    fn read(&self) -> Result<u64, HardwareError> {
        match fs::read_to_string(&self.path) {
            Ok(text) => text
                .strip_prefix(ANCHOR_PREFIX)
                .and_then(|t| t.trim_end().parse::<u64>().ok())
                .ok_or_else(|| {
                    HardwareError::Corrupt(format!("{} is not an anchor file", self.path.display()))
                }),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(0),
            Err(e) => Err(self.io("reading", e)),
        }
    }

    fn advance_to(&self, value: u64) -> Result<u64, HardwareError> {
        let now = self.read()?;
        if value <= now {
            return Ok(now);
        }
        // Write a temporary file beside it, fsync, rename over, fsync the directory: a power
        // cut leaves the old value or the new one, never a torn file.
        let tmp = self.path.with_extension("anchor-new");
        let write = || -> std::io::Result<()> {
            let mut opts = fs::OpenOptions::new();
            opts.write(true).create(true).truncate(true);
            #[cfg(unix)]
            std::os::unix::fs::OpenOptionsExt::mode(&mut opts, 0o600);
            let mut f = opts.open(&tmp)?;
            f.write_all(format!("{ANCHOR_PREFIX}{value}\n").as_bytes())?;
            f.sync_all()?;
            fs::rename(&tmp, &self.path)?;
            if let Some(dir) = self.path.parent().filter(|d| !d.as_os_str().is_empty()) {
                fs::File::open(dir)?.sync_all()?;
            }
            Ok(())
        };
        write().map_err(|e| self.io("writing", e))?;
        Ok(value)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_file_anchor_only_moves_forward_and_survives_reopening() {
        let dir = tempfile::tempdir().unwrap();
        let a = FileAnchor::new(dir.path().join("vault.anchor"));
        assert_eq!(a.read().unwrap(), 0);
        assert_eq!(a.advance_to(5).unwrap(), 5);
        assert_eq!(a.advance_to(3).unwrap(), 5);
        assert_eq!(FileAnchor::new(a.path()).read().unwrap(), 5);
        std::fs::write(a.path(), "junk").unwrap();
        assert!(matches!(a.read(), Err(HardwareError::Corrupt(_))));
    }
}
