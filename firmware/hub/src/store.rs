//! How the hub's state sits in its vault's sealed sync values (`fieldkit_vault::Session::sync_value`):
//!
//! | name | value |
//! |---|---|
//! | `hub/secret` | the hub's X25519 static secret (32 bytes) |
//! | `hub/kit/<id>` | [`KitFile`]: the kit's public key, agency, label, link state, last status, rollbacks, the records it holds |
//! | `hub/kit/<id>/out/<message id>` | one message waiting for that kit ([`Outgoing`], postcard), written when queued or when its fragments' state changes, removed when acknowledged |
//! | `hub/kit/<id>/counter` | the send-counter limit towards that kit (8 bytes, little-endian), written before any counter below it is used |
//! | `hub/routed/<match id>` | the review state a potential match was last routed in (`pending`, `confirmed`, `rejected`) |
//! | `hub/alerts` | [`AlertSeen`]s, newest last, at most [`MAX_ALERTS`] |
//! | `hub/codes/<half a digest>` | a deployment code list the hub reads (its tables), kept for good ([`crate::codes`]) |
//! | `hub/kit/<id>/codes` | the code-list digests that kit was last told |
//!
//! Values are postcard. Records themselves are the vault's records, like on a kit.

use std::collections::BTreeSet;

use fieldkit_domain::RecordId;
use fieldkit_sync::counter::ReplayWindow;
use fieldkit_sync::seal::KitId;
use fieldkit_sync::transfer::{Inbox, Outbox, Outgoing};
use serde::{Deserialize, Serialize};

/// The name of the hub's secret.
pub const SECRET: &str = "hub/secret";
/// The name of the alert list.
pub const ALERTS: &str = "hub/alerts";
/// Prefix of every kit's entries.
pub const KIT_PREFIX: &str = "hub/kit/";
/// Prefix of the routed-match entries.
pub const ROUTED_PREFIX: &str = "hub/routed/";
/// Urgent alerts kept for the coordinator.
pub const MAX_ALERTS: usize = 200;
/// The LoRa gateway's duty-cycle ledger: this hour's transmissions (start, airtime, ms),
/// and before an answer the airtime it may spend (the module keeps no ledger of its own).
pub const AIRTIME: &str = "hub/lora/airtime";

/// A kit's main entry.
pub fn kit_name(kit: KitId) -> String {
    format!("{KIT_PREFIX}{kit}")
}

/// A kit's counter entry.
pub fn counter_name(kit: KitId) -> String {
    format!("{KIT_PREFIX}{kit}/counter")
}

/// Prefix of a kit's waiting messages.
pub fn out_prefix(kit: KitId) -> String {
    format!("{KIT_PREFIX}{kit}/out/")
}

/// One waiting message's entry.
pub fn out_name(kit: KitId, message: u64) -> String {
    format!("{}{message:016x}", out_prefix(kit))
}

/// True for a kit's main entry (`hub/kit/<id>`), not its counter or messages.
pub fn is_kit_name(name: &str) -> bool {
    name.strip_prefix(KIT_PREFIX)
        .is_some_and(|rest| !rest.is_empty() && !rest.contains('/'))
}

/// A kit's entry of the newest form of operations it showed it reads
/// (`fieldkit_sync::message::OpsForm`).
pub fn form_name(kit: KitId) -> String {
    format!("{KIT_PREFIX}{kit}/form")
}

/// Decodes a waiting message.
pub fn decode_outgoing(bytes: &[u8]) -> Result<Outgoing, postcard::Error> {
    postcard::from_bytes(bytes)
}

/// A potential match's routing entry.
pub fn routed_name(id: RecordId) -> String {
    format!("{ROUTED_PREFIX}{id}")
}

/// A kit id from eight hex digits.
pub fn parse_kit_id(hex: &str) -> Option<KitId> {
    let hex = hex.trim();
    if hex.len() != 8 {
        return None;
    }
    let mut id = [0u8; 4];
    for (i, b) in id.iter_mut().enumerate() {
        *b = u8::from_str_radix(hex.get(2 * i..2 * i + 2)?, 16).ok()?;
    }
    Some(KitId(id))
}

/// A kit's vault status as last reported.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StatusSeen {
    /// The vault's commit counter.
    pub commits: u64,
    /// Its audit head.
    pub audit_head: [u8; 32],
    /// Records it holds.
    pub records: u64,
    /// When the hub received it (ms since the Unix epoch).
    pub at_ms: u64,
}

/// A rolled-back vault, as noticed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RollbackSeen {
    /// When (ms).
    pub at_ms: u64,
    /// Commit counter reported before.
    pub before_commits: u64,
    /// Commit counter reported now.
    pub now_commits: u64,
    /// The audit head changed at the same counter (a different history).
    pub other_history: bool,
}

/// An urgent alert a kit raised.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AlertSeen {
    /// Which kit.
    pub kit: [u8; 4],
    /// The record.
    pub record: [u8; 16],
    /// Risk level.
    pub risk: String,
    /// Protection concern ids.
    pub concerns: Vec<String>,
    /// When it was raised (minutes since the Unix epoch).
    pub raised_min: u32,
}

/// Everything the hub keeps about one kit besides its counter.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct KitFile {
    /// Its X25519 public key.
    pub public: [u8; 32],
    /// The agency it belongs to.
    pub agency: String,
    /// A label for the coordinator (camp, site).
    pub label: String,
    /// When it was enrolled (ms).
    pub enrolled_at_ms: u64,
    /// The replay window of frames from it.
    pub window: ReplayWindow,
    /// Messages waiting for it: only the next message id since each message is kept apart
    /// (`hub/kit/<id>/out/…`); a file written before that may still hold messages, which
    /// are read and moved to their own entries.
    pub outbox: Outbox,
    /// Messages being received from it.
    pub inbox: Inbox,
    /// Its last status.
    pub status: Option<StatusSeen>,
    /// When a frame from it was last accepted (ms).
    pub last_seen_ms: Option<u64>,
    /// Rollbacks noticed.
    pub rollbacks: Vec<RollbackSeen>,
    /// Records it sent or was sent (ids), so notices and decisions reach it.
    pub holds: BTreeSet<[u8; 16]>,
    /// Frames from it accepted.
    pub frames_accepted: u64,
    /// Messages from it that could not be applied (malformed operations), acknowledged and dropped.
    pub messages_dropped: u64,
}

/// Postcard, which cannot fail for these types.
pub fn encode<T: Serialize>(v: &T) -> Vec<u8> {
    postcard::to_allocvec(v).unwrap_or_default()
}

/// Decodes a stored value.
pub fn decode<'a, T: Deserialize<'a>>(bytes: &'a [u8]) -> Result<T, postcard::Error> {
    postcard::from_bytes(bytes)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kit_ids_round_trip_through_their_names() {
        let id = KitId([0x0a, 0xb0, 0xc1, 0xff]);
        assert_eq!(kit_name(id), "hub/kit/0ab0c1ff");
        assert_eq!(parse_kit_id("0ab0c1ff"), Some(id));
        assert_eq!(parse_kit_id("0ab0c1f"), None);
        assert_eq!(parse_kit_id("0ab0c1fg"), None);
        assert_eq!(parse_kit_id("é0b0c1ff"), None);
        assert!(is_kit_name("hub/kit/0ab0c1ff"));
        assert!(!is_kit_name("hub/kit/0ab0c1ff/counter"));
        assert!(!is_kit_name(&out_name(id, 7)));
        assert!(out_name(id, 7).starts_with(&out_prefix(id)));
    }
}
