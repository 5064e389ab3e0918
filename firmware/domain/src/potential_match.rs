//! A potential match between a registered child (a case) and a child a family seeks (one trace
//! of a tracing request), kept as a record: the matcher's score and explanation, and the
//! caseworker's review.
//!
//! Its id is derived from the pair (the kit's application layer computes it), so two kits that
//! propose the same pair create the same record, and their reviews merge field by field like
//! any other record's.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::explain::Detail;
use crate::ids::RecordId;

/// Review states, as written in `status`.
pub mod review {
    /// Proposed by the matcher, not yet reviewed.
    pub const PENDING: &str = "pending";
    /// A caseworker confirmed it is the child sought.
    pub const CONFIRMED: &str = "confirmed";
    /// A caseworker found it is not: never proposed again unless either record changes.
    pub const REJECTED: &str = "rejected";
    /// Every review state.
    pub const ALL: [&str; 3] = [PENDING, CONFIRMED, REJECTED];
}

/// One field's evidence, as the matcher explained it.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct MatchEvidence {
    /// Key of the subform entry: its position, zero-padded, so entries keep the matcher's order.
    pub unique_id: String,
    /// Primero's field name (or a group such as `family_details_section`).
    pub field: String,
    /// Weight added, in bits.
    pub weight: f64,
    /// What was compared (typed; stored as text, see [`crate::explain`]).
    #[serde(with = "crate::explain::stored")]
    pub detail: Detail,
}

/// A potential match. See the module documentation.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct PotentialMatch {
    /// The record id (derived from the pair).
    pub id: RecordId,
    /// The case.
    pub case_id: RecordId,
    /// The tracing request.
    pub tracing_request_id: RecordId,
    /// The trace's `unique_id` in the request's `tracing_request_subform_section`.
    pub trace_id: String,
    /// The child's name as the case gives it (for lists, without opening the case).
    pub case_name: Option<String>,
    /// The child's name as the trace gives it.
    pub trace_name: Option<String>,
    /// Total weight in bits when last scored.
    pub score: f64,
    /// `likely`, `possible`, or `unlikely` when the records changed and the pair no longer
    /// reaches `possible`.
    pub likelihood: Option<String>,
    /// Per-field explanation of the last score.
    pub comparison: Vec<MatchEvidence>,
    /// `pending`, `confirmed` or `rejected` (see [`review`]).
    pub status: Option<String>,
    /// When the pair was first proposed (RFC 3339, UTC).
    pub proposed_at: Option<String>,
    /// Who reviewed it last.
    pub reviewed_by: Option<String>,
    /// When (RFC 3339, UTC).
    pub reviewed_at: Option<String>,
    /// The reviewer's note.
    pub review_note: Option<String>,
    /// Digest of the case's matching fields when last scored or reviewed.
    pub case_fingerprint: Option<String>,
    /// Digest of the trace's matching fields when last scored or reviewed.
    pub trace_fingerprint: Option<String>,
    /// Fields fieldkit does not model.
    #[serde(flatten)]
    pub extra: BTreeMap<String, Value>,
}

impl PotentialMatch {
    /// The review state (`pending` when none is written).
    pub fn review_status(&self) -> &str {
        self.status.as_deref().unwrap_or(review::PENDING)
    }
}
