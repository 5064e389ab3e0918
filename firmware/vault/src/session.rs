//! The signed-in session: who is signed in, with which keys.

use crate::error::WriteError;
use std::fmt;

use fieldkit_domain::{DeviceId, HlcClock, RecordId};

use crate::crypto;
use crate::error::{Result, VaultError};
use crate::keyslot::{Caseworker, Keys, Role};
use crate::manifest::Manifest;
use crate::storage::hex;
use crate::vault::Vault;

/// A signed-in caseworker's view of the vault. Dropping it (or [`Session::lock`]) zeroizes the
/// keys.
pub struct Session {
    pub(crate) vault: Vault,
    pub(crate) keys: Keys,
    pub(crate) user: Caseworker,
    pub(crate) clock: HlcClock,
    pub(crate) manifest: Manifest,
    /// The term sets searches opened this session (see `index::TermCache`).
    pub(crate) terms_seen: crate::index::TermCache,
    /// What record lists filter by, read once per kind (see the `listed` module).
    pub(crate) listed: crate::listed::Lists,
}

impl fmt::Debug for Session {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Session")
            .field("vault", &self.vault.path)
            .field("user", &self.user.username)
            .finish_non_exhaustive()
    }
}

impl Session {
    /// Signs out: the keys are zeroized and the locked vault is returned.
    pub fn lock(self) -> Vault {
        self.vault
    }

    /// Who is signed in.
    pub fn caseworker(&self) -> &Caseworker {
        &self.user
    }

    /// The vault's id, as hex.
    pub fn vault_id_hex(&self) -> String {
        hex(&self.vault.vault_id)
    }

    /// This kit's device id in clock stamps.
    pub fn device(&self) -> DeviceId {
        self.clock.device()
    }

    /// Mints a fresh record id (UUIDv7).
    pub fn mint_id(&self, now_ms: u64) -> Result<RecordId, WriteError> {
        let mut r = [0u8; 10];
        crypto::fill_random(&mut r)?;
        Ok(RecordId::mint(now_ms, r))
    }

    pub(crate) fn require_supervisor(&self) -> Result<()> {
        if self.user.role == Role::Supervisor {
            Ok(())
        } else {
            Err(VaultError::Forbidden(
                "only a supervisor may manage caseworkers".into(),
            ))
        }
    }
}
