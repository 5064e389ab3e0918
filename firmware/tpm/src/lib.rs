//! The kit's TPM 2.0, through tpm2-tss (`tss-esapi`): key slots a copied vault file cannot
//! open, PIN guesses metered by the TPM's dictionary-attack lockout, and a monotonic counter the
//! vault anchors its commit counter to, so an older copy of the file is refused.
//!
//! - [`SlotSealer`] seals 32 random bytes in a keyed-hash *sealed data object* under a primary
//!   key of the owner hierarchy. The object's authorisation value is derived from the 32 bytes
//!   the vault derives from the PIN (after Argon2id) and the vault's id. The object is
//!   `fixedTPM | fixedParent`, and is not `noDA`: every wrong PIN is a failed authorisation the
//!   TPM counts, and past its limit it refuses every attempt ([`UnsealError::Lockout`]), the
//!   right PIN included, until time forgives a failure. The private part is encrypted under the
//!   primary key, whose seed never leaves this TPM, so on any other TPM the blob does not even
//!   load ([`UnsealError::OtherTpm`]). Commands run in an HMAC session salted to the primary
//!   key, with parameter encryption, so neither the secret nor the authorisation crosses the
//!   SPI bus in the clear.
//! - [`NvCounter`] is a `TPM_NT_COUNTER` NV index at a fixed handle: it only ever goes up.
//! - [`swtpm`] starts the software TPM QEMU uses, for tests and benchmarks.
//!
//! [`SlotSealer`] is the vault's `HardwareSecret` and [`NvCounter`] its `RollbackAnchor`
//! (kind [`KIND`], `"tpm2"`).
//!
//! It never sees a PIN (only a 32-byte value derived from one), never logs a secret, and never
//! changes the TPM's hierarchies or dictionary-attack settings on its own.
//!
//! The device is named by a TCTI string: `device:/dev/tpmrm0` on a kit (the kernel's resource
//! manager), `swtpm:host=127.0.0.1,port=2321` for a software TPM. Each operation opens its own
//! connection, so a [`Tpm`] is `Send + Sync` and holds no device between sign-ins.

mod blob;
mod counter;
mod device;
mod error;
mod seams;
mod slot;
pub mod swtpm;

pub use counter::{DEFAULT_COUNTER_INDEX, MAX_ADVANCE, NvCounter};
pub use device::{DaStatus, Tpm, TpmInfo};
pub use error::{CounterError, SealError, TpmError, UnsealError};
pub use seams::KIND;
pub use slot::SlotSealer;

/// The 32 secret bytes a slot seals, zeroized on drop.
pub type SlotSecret = zeroize::Zeroizing<[u8; 32]>;
