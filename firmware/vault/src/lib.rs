//! The encrypted case vault: every record a kit holds, on redb, sealed with XChaCha20-Poly1305.
//!
//! A random data key encrypts every record, list summary and index entry; each caseworker's PIN
//! (through Argon2id) and a recovery key wrap it. GBV incidents have a second key that only
//! caseworkers with incident access hold. Associated data binds every ciphertext to its table,
//! record and version, so a ciphertext moved to another row fails to open; a sealed manifest
//! over every record's version notices a record deleted or rolled back. Names are searchable
//! through a blind index (HMACs of normalised terms) and lists come from small sealed
//! summaries, so neither decrypts every record. Every sign-in, read, write and export is a
//! link in an audit hash chain. Every save commits with `Durability::Immediate`: acknowledged
//! means on disk.
//!
//! **Architecture invariant:** this is the only crate that touches redb or the AEAD. It never
//! logs case data, never writes plaintext to disk, and zeroizes keys when a session ends.
//!
//! ```no_run
//! use fieldkit_vault::{Vault, OpenOptions};
//! # fn main() -> Result<(), fieldkit_vault::VaultError> {
//! let vault = Vault::open(std::path::Path::new("/data/fieldkit/vault.redb"), OpenOptions::default())?;
//! let session = vault.unlock("amina", b"482915", 1_764_500_000_000)?;
//! for s in session.search_unaudited(fieldkit_domain::RecordKind::Case, "Yusuf", 20)? {
//!     println!("{} {}", s.id, s.name);
//! }
//! # Ok(()) }
//! ```
//!
//! Code map, one concern a file: [`Vault`] opens and creates the file (`vault.rs`); `signin.rs`
//! holds sign-in, the failed-attempt counters and the wipe; `keyslot.rs` the key slots, the key
//! hierarchy and the roster; `hardware.rs` the seams a TPM plugs into; `policy.rs` the
//! credential rules; `session.rs` the signed-in [`Session`]; `records.rs` record reads and
//! writes; `tx.rs` write transactions spanning several records (one commit); `index.rs` the blind name index and search; `manifest.rs` the sealed manifest and
//! `verify`; `audit.rs` the hash chain; `bundle.rs` export and import; `migrate.rs` older
//! schemas; `storage.rs` how rows and settings sit in redb; `schema.rs` the tables.

#[cfg(test)]
mod attacks;
mod audit;
mod bundle;
mod cache;
pub mod credential;
mod crypto;
mod error;
mod hardware;
mod index;
mod interop;
mod keyslot;
mod listed;
mod manifest;
mod migrate;
mod photos;
mod policy;
mod records;
mod recovery;
mod rotate;
mod scan;
mod schema;
mod session;
mod signin;
mod storage;
mod sync;
mod tx;
mod uptime;
mod vault;

pub use audit::{AuditAction, AuditEntry, AuditHead, AuditReport};
pub use bundle::{BundleExport, BundleImport};
pub use cache::{CacheWriter, MAX_CACHE_NAME};
pub use crypto::{KdfParams, Key};
pub use error::{
    CaseworkerError, CheckError, CryptoError, ExchangeError, OpenError, ReadError, Result,
    SignInError, StoreError, VaultError, WriteError,
};
pub use hardware::{
    FileAnchor, HardwareError, HardwareSecret, NoHardwareSecret, RollbackAnchor, SOFTWARE,
};
pub use index::{BasicIndexer, NameIndexer};
pub use keyslot::{Caseworker, Role};
pub use listed::Facets;
pub use photos::{
    MAX_PHOTO_BYTES, MAX_PHOTOS_PER_CASE, MAX_THUMBNAIL_BYTES, NewPhoto, Photo, PhotoError,
    PhotoInfo, Thumbnail,
};
pub use policy::{CredentialPolicy, GLOBAL_FACTOR};
pub use records::{Opened, Saved};
pub use recovery::RecoveryKey;
pub use schema::SCHEMA_VERSION;
pub use session::Session;
pub use signin::{HardwareStatus, RecoveryOptions};
pub use sync::{MAX_SYNC_NAME, Queued, SyncWrite};
pub use tx::{Changed, Tx};
pub use uptime::{BootClock, NoBootClock, Uptime, elapsed_ms};
pub use vault::{InitOptions, OpenOptions, Vault};
