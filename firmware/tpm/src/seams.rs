//! The vault's hardware seams on the TPM: [`SlotSealer`] is the vault's [`HardwareSecret`],
//! [`NvCounter`] its [`RollbackAnchor`].

use fieldkit_vault::{HardwareError, HardwareSecret, Key, RollbackAnchor};

use crate::counter::NvCounter;
use crate::error::{CounterError, SealError, UnsealError};
use crate::slot::SlotSealer;

/// The kind the vault records for a TPM-sealed vault.
pub const KIND: &str = "tpm2";

impl From<UnsealError> for HardwareError {
    fn from(e: UnsealError) -> HardwareError {
        match e {
            UnsealError::WrongAuth => HardwareError::WrongAuth,
            UnsealError::Lockout { retry_after_s } => HardwareError::Lockout { retry_after_s },
            UnsealError::Tpm(e) => HardwareError::Unavailable(e.to_string()),
            other => HardwareError::Corrupt(other.to_string()),
        }
    }
}

impl From<SealError> for HardwareError {
    fn from(e: SealError) -> HardwareError {
        HardwareError::Unavailable(e.to_string())
    }
}

impl From<CounterError> for HardwareError {
    fn from(e: CounterError) -> HardwareError {
        match e {
            CounterError::Tpm(e) => HardwareError::Unavailable(e.to_string()),
            other => HardwareError::Corrupt(other.to_string()),
        }
    }
}

impl HardwareSecret for SlotSealer {
    fn kind(&self) -> &'static str {
        KIND
    }

    fn enroll(
        &self,
        vault_id: &[u8; 16],
        auth: &[u8; 32],
    ) -> Result<(Vec<u8>, Key), HardwareError> {
        let (blob, secret) = SlotSealer::enroll(self, vault_id, auth)?;
        Ok((blob, Key::from_bytes(*secret)))
    }

    fn unseal(
        &self,
        vault_id: &[u8; 16],
        blob: &[u8],
        auth: &[u8; 32],
    ) -> Result<Key, HardwareError> {
        let secret = SlotSealer::unseal(self, vault_id, blob, auth)?;
        Ok(Key::from_bytes(*secret))
    }
}

impl RollbackAnchor for NvCounter {
    fn kind(&self) -> &'static str {
        KIND
    }

    fn read(&self) -> Result<u64, HardwareError> {
        Ok(NvCounter::read(self)?)
    }

    fn advance_to(&self, value: u64) -> Result<u64, HardwareError> {
        Ok(NvCounter::advance_to(self, value)?)
    }
}
