//! The kit's application core: what a caseworker does with a kit, in one place for the touch
//! screen, the command line and sync.
//!
//! A [`Kit`] is an unlocked kit: the vault session, the location tree, the triage rules, the
//! warm matcher index ([`MatchIndex`]) and the potential matches ([`review`]). Registration,
//! edits, lifecycle changes (close, reopen, assign, follow-ups, services), imports and what
//! sync delivers all go through it, so each is validated, triaged, matched against the kit's
//! records, has its potential matches saved as records, raises its alerts, and reaches the
//! sync outbox ([`Outbox`]) the same way. Front ends hold no business logic: they turn input
//! into plain Rust values, call the kit, and show what it returns.
//!
//! **Architecture invariant:** no IO of its own, no clock and no logging setup: it reaches
//! storage only through the vault's session, and callers pass `now_ms`. Matching never
//! decrypts the vault per registration: the index is built once at sign-in and kept current.
//!
//! ```no_run
//! use fieldkit_app::{Kit, KitConfig};
//! use fieldkit_domain::RecordKind;
//! use fieldkit_vault::{OpenOptions, Vault};
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let now = 1_764_500_000_000;
//! let vault = Vault::open(std::path::Path::new("/data/fieldkit/vault.redb"), OpenOptions::default())?;
//! let mut kit = Kit::open(vault.unlock("amina", b"482915", now)?, KitConfig::default(), now)?;
//! let fields = serde_json::json!({"name": "Amina Yusuf", "sex": "female", "age": 9,
//!                                 "consent_for_tracing": true});
//! let saved = kit.register(RecordKind::Case, fields.as_object().cloned().unwrap_or_default(), now)?;
//! for m in &saved.matches {
//!     println!("{} {:.1} {}", m.likelihood.as_deref().unwrap_or(""), m.score, m.trace_id);
//! }
//! # Ok(()) }
//! ```

mod compact;
pub mod demo;
mod error;
pub mod index;
mod input;
mod kit;
pub mod listing;
pub mod outbox;
pub mod photos;
pub mod review;
mod snapshot;

pub use error::{OpenError, ReviewError, SaveError};
pub use index::{IndexBuilder, MatchIndex, Scored, TraceRef};
pub use kit::{Alert, IndexSource, Kit, KitConfig, Merged, Saved};
pub use listing::CaseFilter;
pub use outbox::{Change, NoOutbox, Origin, Outbox, OutboxError, Priority};
pub use photos::PhotoInputError;
pub use review::{MatchDetail, MatchFilter, Reviewed, match_id};

/// redb's page cache for a kit's vault, in bytes: what `fieldkit` opens the vault with (the
/// vault's own default, 32 MiB, suits the hub).
///
/// Why smaller on a kit: the kiosk must stay under 80 MB at 50,000 cases, and with a 32 MiB
/// cache the opening check of every page (`verify_on_open`) and the sign-in scan alone filled
/// it, 32 MiB of the budget held for pages read once. A registration reads a few dozen pages
/// (the blind index buckets, the record's neighbours, the matches it updates), so 8 MiB keeps
/// them cached; it is still 16 times the largest record a kit accepts
/// (`fieldkit_domain::limits::MAX_RECORD_BYTES`), so a leaf holding one stays cached (the
/// limits module explains why that matters). Measured by `benches/registration.rs`.
pub const KIT_VAULT_CACHE_BYTES: usize = 8 << 20;

/// The vault's name indexer that blinds the matcher's own name keys (transliterated, phonetic),
/// so a search finds a child under the spellings the matcher would match. A kit opens its vault
/// with it (`OpenOptions::indexer`). Its id is the terms' version
/// ([`fieldkit_match::names::TERMS_VERSION`]): a vault indexed by an older normaliser is
/// re-indexed at its next sign-in.
#[derive(Debug, Clone, Copy, Default)]
pub struct MatcherIndexer;

impl fieldkit_vault::NameIndexer for MatcherIndexer {
    fn id(&self) -> &str {
        fieldkit_match::names::TERMS_VERSION
    }

    fn terms(&self, name: &str) -> Vec<String> {
        fieldkit_match::names::index_terms(name)
    }
}
