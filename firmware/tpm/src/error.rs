//! What can go wrong with the TPM, one enum per operation, in words a technician can act on.

/// Reaching the TPM or running a command on it failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum TpmError {
    /// The TCTI string is not one tpm2-tss understands.
    #[error(
        "bad TPM address `{0}`: use device:/dev/tpmrm0 (a kit) or swtpm:host=127.0.0.1,port=2321 (a software TPM)"
    )]
    BadTcti(String),
    /// No TPM answered at that address.
    #[error("no TPM answered at {tcti}: {source}")]
    Unreachable {
        /// The TCTI string.
        tcti: String,
        /// What tpm2-tss said.
        source: tss_esapi::Error,
    },
    /// The TPM refused or failed a command.
    #[error("the TPM failed to {what}: {source}")]
    Command {
        /// What was being done.
        what: &'static str,
        /// What the TPM (or tpm2-tss) said.
        source: tss_esapi::Error,
    },
    /// The TPM answered something that cannot be right.
    #[error("the TPM answered nonsense to {0}")]
    Nonsense(&'static str),
    /// The operating system gave no random bytes.
    #[error("no randomness from the operating system: {0}")]
    Random(String),
}

impl TpmError {
    pub(crate) fn command(what: &'static str) -> impl FnOnce(tss_esapi::Error) -> TpmError {
        move |source| TpmError::Command { what, source }
    }
}

/// Sealing a new key slot failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum SealError {
    /// The TPM could not be used.
    #[error(transparent)]
    Tpm(#[from] TpmError),
}

/// Opening a key slot failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum UnsealError {
    /// The PIN-derived authorisation is wrong. The TPM counted the failure.
    #[error("wrong PIN (the TPM counted the failed attempt)")]
    WrongAuth,
    /// The TPM is in dictionary-attack lockout: it refuses every attempt, the right PIN too.
    #[error("the TPM is locked after too many wrong PINs: try again in {retry_after_s} s")]
    Lockout {
        /// Seconds until the TPM forgives one failure (its recovery interval).
        retry_after_s: u64,
    },
    /// The slot was sealed by another TPM (the vault file was copied, or the TPM was cleared).
    #[error(
        "this key slot was sealed by another TPM, or this TPM was cleared: the vault file does not belong to this kit"
    )]
    OtherTpm,
    /// The slot belongs to another vault.
    #[error("this key slot belongs to another vault")]
    ForeignVault,
    /// The stored slot is not one of ours, or is damaged.
    #[error("damaged TPM key slot: {0}")]
    BadBlob(String),
    /// The TPM could not be used.
    #[error(transparent)]
    Tpm(#[from] TpmError),
}

/// Reading or advancing the anti-rollback counter failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum CounterError {
    /// The NV index holds something other than a counter: another program uses it.
    #[error(
        "TPM NV index {index:#010x} is in use by something other than fieldkit's counter: choose another index"
    )]
    NotACounter {
        /// The index.
        index: u32,
    },
    /// The index is outside the owner's NV range.
    #[error("TPM NV index {index:#010x} is not in the owner range 0x01000000..=0x013fffff")]
    BadIndex {
        /// The index.
        index: u32,
    },
    /// Asked to move the counter further forward than any honest vault would.
    #[error(
        "refusing to advance the TPM counter from {from} to {to}: more than {max} steps at once",
        max = crate::counter::MAX_ADVANCE
    )]
    TooFar {
        /// The counter now.
        from: u64,
        /// The value asked for.
        to: u64,
    },
    /// The TPM could not be used.
    #[error(transparent)]
    Tpm(#[from] TpmError),
}
