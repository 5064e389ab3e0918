//! The tables of a vault file and the schema version.
//!
//! | table | key | value |
//! |---|---|---|
//! | `meta` | name | plaintext settings: schema, vault id, device id, clock, lockout counts, policy, mode, commit counter, key epoch, audit head; the sealed state |
//! | `keyslots` | caseworker name, or `#recovery` | the data keys wrapped by that credential |
//! | `records` | kind byte + record id | sealed [`Document`](fieldkit_domain::Document) with its version |
//! | `summaries` | kind byte + record id | sealed [`Summary`](fieldkit_domain::Summary), same version |
//! | `name_index` (multimap) | 12-bit bucket of a blind term (HMAC of a name term) | kind byte + record id |
//! | `record_terms` | kind byte + record id | the sealed set of blind terms the record is indexed under, same version |
//! | `record_versions` | kind byte + record id | the record's version (what the sealed manifest digests) |
//! | `audit` | sequence number | an audit entry (no case data) |
//! | `sync` | name | a sealed value of the sync engine (identity, counters, outbox, inbox; `sync.rs`) |
//! | `sync_queue` | kind byte + record id | sealed: the record's version and priority, waiting to be sent |
//! | `photos` | case key + slot (4 bytes, big-endian) | sealed: a child's photo, normalised JPEG (`photos.rs`) |
//! | `photo_thumbs` | case key + slot | sealed: the photo's details and its thumbnail |
//! | `photo_versions` | case key + slot | the photo's version, which both its rows are sealed at (what the sealed manifest digests for photos) |

use redb::{MultimapTableDefinition, TableDefinition};

use fieldkit_domain::{RecordId, RecordKind};

/// The schema this build writes. Version history:
/// - 1: first release.
/// - 2: the sealed manifest (record count and a digest over every record's id and version), so
///   a deleted or rolled-back record is noticed. Version 1 vaults gain it at their first unlock.
/// - 3: the sealed state (commit counter, manifest, audit head, lockout counts, policy, key
///   slots under one MAC), the `record_versions` table, key slots with X25519 grants (so keys
///   can rotate), counts per name, and a keyed multiset-hash manifest. Version 2 vaults gain it
///   at their first sign-in; each legacy key slot is rewritten at its owner's first sign-in.
/// - 4: photos under the sealed manifest: `photo_versions`, photo rows sealed at their
///   version. Schema 3 photos are sealed again at a fresh version at the first sign-in.
pub const SCHEMA_VERSION: u32 = 4;

pub(crate) const META: TableDefinition<&str, &[u8]> = TableDefinition::new("meta");
pub(crate) const KEYSLOTS: TableDefinition<&str, &[u8]> = TableDefinition::new("keyslots");
pub(crate) const RECORDS: TableDefinition<&[u8], &[u8]> = TableDefinition::new("records");
pub(crate) const SUMMARIES: TableDefinition<&[u8], &[u8]> = TableDefinition::new("summaries");
pub(crate) const NAME_INDEX: MultimapTableDefinition<&[u8], &[u8]> =
    MultimapTableDefinition::new("name_index");
pub(crate) const TERMS: TableDefinition<&[u8], &[u8]> = TableDefinition::new("record_terms");
pub(crate) const AUDIT: TableDefinition<u64, &[u8]> = TableDefinition::new("audit");
pub(crate) const VERSIONS: TableDefinition<&[u8], u64> = TableDefinition::new("record_versions");

pub(crate) mod meta {
    pub const SCHEMA: &str = "schema";
    pub const VAULT_ID: &str = "vault_id";
    pub const DEVICE_ID: &str = "device_id";
    pub const CLOCK: &str = "clock";
    /// Schema 1–2 lockout state (one counter); replaced by [`LOCKOUTS`].
    pub const LOCKOUT: &str = "lockout";
    pub const LOCKOUTS: &str = "lockouts";
    pub const MODE: &str = "mode";
    /// The key slots still sealed in software mode after the vault moved to a hardware
    /// element (a list of slot names; absent: none). Each moves into the element at its
    /// owner's next sign-in.
    pub const SOFTWARE_SLOTS: &str = "software_slots";
    pub const COUNTER: &str = "commit_counter";
    pub const STATE: &str = "sealed_state";
    pub const EPOCH: &str = "key_epoch";
    pub const POLICY: &str = "policy";
    pub const INDEXER: &str = "indexer";
    /// The indexer incidents were last indexed with (absent: the same as [`INDEXER`]).
    pub const INDEXER_INCIDENTS: &str = "indexer_incidents";
    /// Schema 2's sealed manifest; schema 3 keeps it in [`STATE`].
    pub const MANIFEST: &str = "manifest";
    pub const AUDIT_HEAD: &str = "audit_head";
    pub const AUDIT_CHECKPOINT: &str = "audit_checkpoint";
}

/// The name of the recovery key's slot (`#` cannot start a caseworker name).
pub(crate) const RECOVERY_SLOT: &str = "#recovery";

pub(crate) fn kind_byte(kind: RecordKind) -> u8 {
    match kind {
        RecordKind::Case => 1,
        RecordKind::TracingRequest => 2,
        RecordKind::Incident => 3,
        RecordKind::PotentialMatch => 4,
    }
}

pub(crate) fn kind_from_byte(b: u8) -> Option<RecordKind> {
    match b {
        1 => Some(RecordKind::Case),
        2 => Some(RecordKind::TracingRequest),
        3 => Some(RecordKind::Incident),
        4 => Some(RecordKind::PotentialMatch),
        _ => None,
    }
}

/// The 17-byte key of a record: its kind, then its id.
pub(crate) fn record_key(kind: RecordKind, id: RecordId) -> [u8; 17] {
    let mut k = [0u8; 17];
    k[0] = kind_byte(kind);
    k[1..].copy_from_slice(id.as_bytes());
    k
}

/// A stored record key as the 17 bytes it must be.
pub(crate) fn key17(k: &[u8]) -> crate::error::Result<[u8; 17]> {
    k.try_into()
        .map_err(|_| crate::error::VaultError::Corrupt("record key of wrong length".into()))
}

pub(crate) fn parse_record_key(k: &[u8]) -> Option<(RecordKind, RecordId)> {
    let kind = kind_from_byte(*k.first()?)?;
    let id: [u8; 16] = k.get(1..17)?.try_into().ok()?;
    (k.len() == 17).then_some((kind, RecordId::from_bytes(id)))
}

/// The version of the sealed-row encoding, bound into every row's associated data. It changes
/// only when rows must be re-sealed, so schema changes that add tables do not touch old rows.
pub(crate) const ROW_FORMAT: u32 = 1;

/// Associated data binding a sealed row to its place: row format, table, record, version.
pub(crate) fn row_aad(table: &str, key: &[u8; 17], version: u64) -> Vec<u8> {
    let mut aad = Vec::with_capacity(64);
    aad.extend_from_slice(b"fieldkit/v");
    aad.extend_from_slice(&ROW_FORMAT.to_le_bytes());
    aad.push(b'|');
    aad.extend_from_slice(table.as_bytes());
    aad.push(b'|');
    aad.extend_from_slice(key);
    aad.push(b'|');
    aad.extend_from_slice(&version.to_le_bytes());
    aad
}
