//! Potential matches as records, and their review.
//!
//! A pair the matcher proposes is saved as a [`PotentialMatch`] whose id is derived from the
//! pair ([`match_id`]), so two kits proposing the same pair make the same record. Its identity
//! fields and its first `pending` state are written with one fixed stamp: both kits write the
//! same operations, which merge into one value, and a review decision on either kit supersedes
//! them cleanly. Score and explanation are the kit's own (a later rescore settles them).
//!
//! Review: confirming sets Primero's `matched_case_id` on the trace and
//! `matched_tracing_request_id` on the case; rejecting records the decision with the
//! fingerprints of both records, and the pair is not proposed again until one of them changes.
//! Every decision is a vault write (audited) and goes to the sync outbox first among routine
//! changes.

use std::collections::{HashMap, HashSet};

use fieldkit_domain::{
    Case, Conflict, DeviceId, Document, Hlc, MatchEvidence, PotentialMatch, Record, RecordId,
    RecordKind, Trace, TracingRequest, potential_match::review,
};
use fieldkit_match::matcher::Likelihood;
use fieldkit_vault::{AuditAction, ReadError, Session, Tx, VaultError};
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

use crate::error::{ReviewError, SaveError};
use crate::index::{MatchIndex, Scored, TraceRef};
use crate::kit::{Alert, Kit, Work};
use crate::outbox::{Origin, Priority};

/// The id of the potential match between a case and a trace: the same on every kit.
pub fn match_id(case_id: RecordId, trace: &TraceRef) -> RecordId {
    let mut h = Sha256::new();
    h.update(b"fieldkit potential match v1|");
    h.update(case_id.as_bytes());
    h.update(trace.tracing_request_id.as_bytes());
    h.update(trace.trace_id.as_bytes());
    let digest = h.finalize();
    let mut bytes = [0u8; 16];
    bytes.copy_from_slice(&digest[..16]);
    RecordId(uuid::Builder::from_custom_bytes(bytes).into_uuid())
}

/// The stamp of a proposal's identity fields: fixed, so every kit writes the same operations.
const PROPOSAL_STAMP: Hlc = Hlc {
    wall_ms: 0,
    counter: 0,
    device: DeviceId(0),
};

/// A point in time as RFC 3339 (UTC, seconds).
pub(crate) fn timestamp(now_ms: u64) -> String {
    let secs = i64::try_from(now_ms / 1000).unwrap_or(i64::MAX);
    time::OffsetDateTime::from_unix_timestamp(secs)
        .ok()
        .and_then(|t| {
            t.format(&time::format_description::well_known::Rfc3339)
                .ok()
        })
        .unwrap_or_default()
}

/// Every potential match of the kit, held in memory (they are few, and small).
#[derive(Debug, Default)]
pub struct MatchBook {
    matches: HashMap<RecordId, PotentialMatch>,
    /// Matches whose review fields were decided differently on two kits.
    conflicted: HashSet<RecordId>,
}

const REVIEW_FIELDS: [&str; 4] = ["status", "reviewed_by", "reviewed_at", "review_note"];

impl MatchBook {
    /// Reads every potential match (one audited bulk read).
    pub(crate) fn load(session: &mut Session, now_ms: u64) -> Result<MatchBook, VaultError> {
        let mut book = MatchBook::default();
        session.scan(RecordKind::PotentialMatch, now_ms, |o| {
            if let Record::PotentialMatch(m) = o.record {
                book.insert_opened(*m, &o.conflicts);
            }
        })?;
        Ok(book)
    }

    pub(crate) fn insert_opened(&mut self, m: PotentialMatch, conflicts: &[Conflict]) {
        if review_conflict(conflicts) {
            self.conflicted.insert(m.id);
        } else {
            self.conflicted.remove(&m.id);
        }
        self.matches.insert(m.id, m);
    }

    pub(crate) fn insert(&mut self, m: PotentialMatch) {
        self.matches.insert(m.id, m);
    }

    /// How many potential matches the kit holds (any state).
    pub fn len(&self) -> usize {
        self.matches.len()
    }

    /// True when there are none.
    pub fn is_empty(&self) -> bool {
        self.matches.is_empty()
    }

    /// One potential match.
    pub fn get(&self, id: RecordId) -> Option<&PotentialMatch> {
        self.matches.get(&id)
    }

    /// True when two kits decided differently and neither decision was settled yet.
    pub fn is_conflicted(&self, id: RecordId) -> bool {
        self.conflicted.contains(&id)
    }

    fn pending_where(&self, keep: impl Fn(&PotentialMatch) -> bool) -> Vec<RecordId> {
        let mut ids: Vec<RecordId> = self
            .matches
            .values()
            .filter(|m| m.review_status() == review::PENDING && keep(m))
            .map(|m| m.id)
            .collect();
        ids.sort();
        ids
    }

    /// Pending matches of a case.
    pub(crate) fn of_case(&self, id: RecordId) -> Vec<RecordId> {
        self.pending_where(|m| m.case_id == id)
    }

    /// Pending matches of a tracing request.
    pub(crate) fn of_request(&self, id: RecordId) -> Vec<RecordId> {
        self.pending_where(|m| m.tracing_request_id == id)
    }

    /// Pending matches of any of these requests (`ids` sorted), in one pass over the book.
    pub(crate) fn of_requests(&self, ids: &[RecordId]) -> Vec<RecordId> {
        if ids.is_empty() {
            return Vec::new();
        }
        self.pending_where(|m| ids.binary_search(&m.tracing_request_id).is_ok())
    }

    fn all(&self) -> impl Iterator<Item = &PotentialMatch> {
        self.matches.values()
    }
}

/// True when the review fields hold two different current values.
fn review_conflict(conflicts: &[Conflict]) -> bool {
    conflicts.iter().any(|c| {
        REVIEW_FIELDS.contains(&c.field.as_str())
            && c.candidates.windows(2).any(|w| w[0].1 != w[1].1)
    })
}

fn trace_of(m: &PotentialMatch) -> TraceRef {
    TraceRef {
        tracing_request_id: m.tracing_request_id,
        trace_id: m.trace_id.clone(),
    }
}

fn likelihood_word(l: Option<Likelihood>) -> String {
    l.map_or("unlikely", Likelihood::as_str).to_string()
}

fn is_likely(m: &PotentialMatch) -> bool {
    m.likelihood.as_deref() == Some(Likelihood::Likely.as_str())
}

/// A pending match that was likely and is possible now raises
/// [`Alert::MatchNoLongerLikely`]: it stays pending, with the reason in its explanation, and
/// the caseworker who was told it was likely hears that it is not clear any more.
fn no_longer_likely(old: &PotentialMatch, new: &PotentialMatch, alerts: &mut Vec<Alert>) {
    if is_likely(old) && !is_likely(new) && new.review_status() == review::PENDING {
        alerts.push(Alert::MatchNoLongerLikely {
            match_id: new.id,
            case_id: new.case_id,
            tracing_request_id: new.tracing_request_id,
            trace_id: new.trace_id.clone(),
        });
    }
}

/// Writes a score into a match record.
fn fill(m: &mut PotentialMatch, s: &Scored, index: &MatchIndex) {
    m.score = (f64::from(s.weight) * 100.0).round() / 100.0;
    m.likelihood = Some(likelihood_word(s.likelihood));
    m.comparison = s
        .fields
        .iter()
        .enumerate()
        .map(|(i, f)| MatchEvidence {
            unique_id: format!("{i:03}"),
            field: f.field.to_string(),
            weight: (f64::from(f.weight) * 100.0).round() / 100.0,
            detail: f.detail.clone(),
        })
        .collect();
    m.case_fingerprint = Some(s.case_fingerprint.clone());
    m.trace_fingerprint = Some(s.trace_fingerprint.clone());
    if let Some(n) = index.case_name(s.case_id).filter(|n| !n.is_empty()) {
        m.case_name = Some(n.to_string());
    }
    if let Some(n) = index.trace_name(&s.trace).filter(|n| !n.is_empty()) {
        m.trace_name = Some(n.to_string());
    }
}

fn save(tx: &mut Tx<'_>, m: &PotentialMatch, now_ms: u64) -> Result<u64, SaveError> {
    let json = Record::PotentialMatch(Box::new(m.clone())).to_json();
    Ok(tx
        .update(RecordKind::PotentialMatch, m.id, &json, now_ms)?
        .version)
}

impl Work<'_, '_> {
    /// Saves what the matcher found for a changed record, and rescores the record's other
    /// pending matches, in this transaction; each match written goes to the outbox. Returns
    /// the proposals to review (pending), best first as found; a likely one raises an alert.
    pub(crate) fn persist(
        &mut self,
        found: Vec<Scored>,
        affected: Vec<RecordId>,
        now_ms: u64,
        alerts: &mut Vec<Alert>,
    ) -> Result<Vec<PotentialMatch>, SaveError> {
        let mut out = Vec::new();
        let mut seen = HashSet::new();
        for s in found {
            let id = match_id(s.case_id, &s.trace);
            seen.insert(id);
            let (m, version, proposed, alert) = match self.st.book.get(id).cloned() {
                None => {
                    let identity = json!({
                        "case_id": s.case_id.to_string(),
                        "tracing_request_id": s.trace.tracing_request_id.to_string(),
                        "trace_id": s.trace.trace_id,
                        "status": review::PENDING,
                    });
                    let (doc, _) =
                        Document::create(RecordKind::PotentialMatch, id, &identity, PROPOSAL_STAMP)
                            .map_err(|e| SaveError::Fields(e.to_string()))?;
                    self.tx.merge(&[doc], now_ms)?;
                    let mut m = PotentialMatch {
                        id,
                        case_id: s.case_id,
                        tracing_request_id: s.trace.tracing_request_id,
                        trace_id: s.trace.trace_id.clone(),
                        status: Some(review::PENDING.into()),
                        proposed_at: Some(timestamp(now_ms)),
                        ..PotentialMatch::default()
                    };
                    fill(&mut m, &s, &self.st.index);
                    let v = save(&mut self.tx, &m, now_ms)?;
                    self.st.stale = true;
                    self.st.book.insert(m.clone());
                    let alert = is_likely(&m);
                    (m, Some(v), true, alert)
                }
                Some(old) => {
                    let state = old.review_status().to_string();
                    if state == review::REJECTED
                        && old.case_fingerprint.as_deref() == Some(s.case_fingerprint.as_str())
                        && old.trace_fingerprint.as_deref() == Some(s.trace_fingerprint.as_str())
                    {
                        continue;
                    }
                    let mut m = old.clone();
                    fill(&mut m, &s, &self.st.index);
                    if state == review::REJECTED {
                        // One of the records changed since the rejection: propose it again.
                        m.status = Some(review::PENDING.into());
                    }
                    let pending = m.review_status() == review::PENDING;
                    let version = if m == old {
                        None
                    } else {
                        let v = save(&mut self.tx, &m, now_ms)?;
                        self.st.stale = true;
                        self.st.book.insert(m.clone());
                        Some(v)
                    };
                    if !pending && version.is_none() {
                        continue;
                    }
                    if pending {
                        no_longer_likely(&old, &m, alerts);
                    }
                    // Listed again as the record's proposal, but told as news only when it is
                    // likely and was not (or comes back from a rejection): a save that leaves a
                    // likely match as it was is no news, and the hub re-sends the notice of
                    // every match an alert names.
                    let alert =
                        pending && is_likely(&m) && (state == review::REJECTED || !is_likely(&old));
                    (m, version, pending, alert)
                }
            };
            self.announce(m, version, proposed, alert, alerts, &mut out);
        }
        for id in affected {
            if seen.contains(&id) {
                continue;
            }
            let Some(old) = self.st.book.get(id).cloned() else {
                continue;
            };
            // A side no longer held (closed, consent withdrawn, trace matched): the match
            // stays as it was and is not listed for review.
            let Some(s) =
                self.st
                    .index
                    .score_pair(old.case_id, &trace_of(&old), &self.st.config.matching)
            else {
                continue;
            };
            let mut m = old.clone();
            fill(&mut m, &s, &self.st.index);
            if m != old {
                let v = save(&mut self.tx, &m, now_ms)?;
                self.st.stale = true;
                self.st.book.insert(m.clone());
                // Likely now, and not before (the margin rule: a rival case left or changed):
                // proposed as a new likely match is.
                let newly_likely = is_likely(&m) && !is_likely(&old);
                no_longer_likely(&old, &m, alerts);
                self.announce(m, Some(v), newly_likely, newly_likely, alerts, &mut out);
            }
        }
        Ok(out)
    }

    /// Hands a match written to the outbox, lists a proposal, and raises
    /// [`Alert::LikelyMatch`] when `alert` (a likely match that is news: new, newly likely, or
    /// proposed again after a rejection).
    fn announce(
        &mut self,
        m: PotentialMatch,
        version: Option<u64>,
        proposed: bool,
        alert: bool,
        alerts: &mut Vec<Alert>,
        out: &mut Vec<PotentialMatch>,
    ) {
        if let Some(version) = version {
            self.notify(
                RecordKind::PotentialMatch,
                m.id,
                version,
                Priority::Match,
                Origin::Local,
            );
        }
        if proposed {
            if alert && is_likely(&m) {
                alerts.push(Alert::LikelyMatch {
                    match_id: m.id,
                    case_id: m.case_id,
                    tracing_request_id: m.tracing_request_id,
                    trace_id: m.trace_id.clone(),
                });
            }
            out.push(m);
        }
    }

    /// Sets Primero's link on each side of a confirmed match that is on this kit: the trace's
    /// `matched_case_id`, the case's `matched_tracing_request_id`; each is re-matched (a
    /// matched trace leaves the index).
    ///
    /// The case gets only its link field (a patch), not an edit: an edit on the kit triages
    /// again and writes the kit's level into Primero's own `risk_level`, which on a case this
    /// kit received (an import, another kit's) would silently rewrite someone else's triage.
    /// Linking is not a judgement of the child's risk, so it leaves triage as it was.
    fn set_matched(
        &mut self,
        m: &PotentialMatch,
        request_here: bool,
        case_here: bool,
        now_ms: u64,
        alerts: &mut Vec<Alert>,
    ) -> Result<(), SaveError> {
        let case_id = m.case_id.to_string();
        let request_id = m.tracing_request_id.to_string();
        if request_here {
            let trace_id = m.trace_id.clone();
            let saved = self.change(
                RecordKind::TracingRequest,
                m.tracing_request_id,
                now_ms,
                |o| {
                    let entry = o
                        .get_mut("tracing_request_subform_section")
                        .and_then(Value::as_array_mut)
                        .and_then(|items| {
                            items.iter_mut().filter_map(Value::as_object_mut).find(|t| {
                                t.get("unique_id").and_then(Value::as_str) == Some(&trace_id)
                            })
                        })
                        .ok_or_else(|| {
                            SaveError::NotApplicable(format!(
                                "tracing request {request_id} has no trace {trace_id} any more"
                            ))
                        })?;
                    entry.insert("matched_case_id".into(), Value::String(case_id.clone()));
                    Ok(())
                },
            )?;
            alerts.extend(saved.alerts);
        }
        if case_here {
            let mut link = serde_json::Map::new();
            link.insert(
                "matched_tracing_request_id".into(),
                Value::String(request_id.clone()),
            );
            let saved = self
                .tx
                .patch(RecordKind::Case, m.case_id, &link, now_ms)
                .map_err(crate::kit::not_found)?;
            if saved.ops > 0 {
                self.case_link_saved(m.case_id, saved.version, now_ms, alerts)?;
            }
        }
        Ok(())
    }

    /// Takes back the Primero links a confirmation of `m` set, on the sides this kit holds: the
    /// trace's `matched_case_id` when it names `m`'s case, the case's
    /// `matched_tracing_request_id` when it names `m`'s request (a link to another record is
    /// someone else's decision and stays). The trace is sought again (it comes back into the
    /// index) and both records are matched again, as after any edit. The case gets only that
    /// field cleared, not an edit, for the reason [`Work::set_matched`] gives.
    fn unset_matched(
        &mut self,
        m: &PotentialMatch,
        request_here: bool,
        case_here: bool,
        now_ms: u64,
        alerts: &mut Vec<Alert>,
    ) -> Result<(), SaveError> {
        let case_id = m.case_id.to_string();
        let request_id = m.tracing_request_id.to_string();
        if request_here {
            let (doc, _) = self
                .tx
                .get_document(RecordKind::TracingRequest, m.tracing_request_id, now_ms)
                .map_err(crate::kit::not_found)?;
            let linked = |t: &serde_json::Map<String, Value>| {
                t.get("unique_id").and_then(Value::as_str) == Some(m.trace_id.as_str())
                    && t.get("matched_case_id").and_then(Value::as_str) == Some(&case_id)
            };
            let json = doc.to_json();
            let is_linked = json
                .get("tracing_request_subform_section")
                .and_then(Value::as_array)
                .is_some_and(|items| items.iter().filter_map(Value::as_object).any(linked));
            if is_linked {
                let saved = self.change(
                    RecordKind::TracingRequest,
                    m.tracing_request_id,
                    now_ms,
                    |o| {
                        if let Some(items) = o
                            .get_mut("tracing_request_subform_section")
                            .and_then(Value::as_array_mut)
                        {
                            for t in items.iter_mut().filter_map(Value::as_object_mut) {
                                if linked(t) {
                                    t.remove("matched_case_id");
                                }
                            }
                        }
                        Ok(())
                    },
                )?;
                alerts.extend(saved.alerts);
            }
        }
        if case_here {
            let (doc, _) = self
                .tx
                .get_document(RecordKind::Case, m.case_id, now_ms)
                .map_err(crate::kit::not_found)?;
            let Value::Object(mut o) = doc.to_json() else {
                return Err(SaveError::Fields(
                    "the stored record is not an object".into(),
                ));
            };
            if o.get("matched_tracing_request_id").and_then(Value::as_str)
                == Some(request_id.as_str())
            {
                o.remove("matched_tracing_request_id");
                let saved = self
                    .tx
                    .update(RecordKind::Case, m.case_id, &Value::Object(o), now_ms)
                    .map_err(crate::kit::not_found)?;
                if saved.ops > 0 {
                    self.case_link_saved(m.case_id, saved.version, now_ms, alerts)?;
                }
            }
        }
        Ok(())
    }

    /// After a case's link field was set or cleared: the change goes to sync and the case is
    /// matched again, as after any edit.
    fn case_link_saved(
        &mut self,
        case_id: RecordId,
        version: u64,
        now_ms: u64,
        alerts: &mut Vec<Alert>,
    ) -> Result<(), SaveError> {
        self.notify(
            RecordKind::Case,
            case_id,
            version,
            Priority::Routine,
            Origin::Local,
        );
        let record = self.tx.get(RecordKind::Case, case_id, now_ms)?.record;
        self.rematch(&record, now_ms, alerts)?;
        Ok(())
    }

    /// Refuses to confirm `m` when a side this kit holds may not be matched: a case closed or
    /// without consent to tracing (Primero matches only cases with `consent_for_tracing`
    /// true), a closed tracing request, a trace that is gone or already matched to another
    /// child. Confirming sets Primero's links, so each of these would link a child the kit
    /// must not propose, or overwrite the link a caseworker confirmed before.
    fn check_confirmable(
        &mut self,
        m: &PotentialMatch,
        request_here: bool,
        case_here: bool,
        now_ms: u64,
    ) -> Result<(), ReviewError> {
        let refuse = |why: String| Err(ReviewError::NotApplicable(why));
        if case_here
            && let Record::Case(c) = self.tx.get(RecordKind::Case, m.case_id, now_ms)?.record
        {
            if c.is_closed() {
                return refuse(format!(
                    "case {} is closed: a closed case is not matched (reopen it first)",
                    m.case_id
                ));
            }
            if c.consent_for_tracing != Some(true) {
                return refuse(format!(
                    "case {} has no consent to tracing recorded: a child is matched only with consent_for_tracing true",
                    m.case_id
                ));
            }
        }
        if request_here
            && let Record::TracingRequest(r) = self
                .tx
                .get(RecordKind::TracingRequest, m.tracing_request_id, now_ms)?
                .record
        {
            if r.is_closed() {
                return refuse(format!(
                    "tracing request {} is closed (reopen it first)",
                    m.tracing_request_id
                ));
            }
            let Some(t) = r.traces().iter().find(|t| t.unique_id == m.trace_id) else {
                return refuse(format!(
                    "tracing request {} has no trace {} any more",
                    m.tracing_request_id, m.trace_id
                ));
            };
            if let Some(other) = t
                .matched_case_id
                .as_deref()
                .map(str::trim)
                .filter(|c| !c.is_empty() && *c != m.case_id.to_string())
            {
                return refuse(format!(
                    "trace {} of tracing request {} is already matched to case {other}: reject that match first",
                    m.trace_id, m.tracing_request_id
                ));
            }
        }
        Ok(())
    }

    /// A confirmed match received from another kit or the hub, when only one of its sides is on
    /// this kit: that side gets its Primero link, as the deciding kit set the side it held
    /// ([`Kit::confirm_match`]); a rejected one takes back the link of that side when it names
    /// this pair (a confirmation taken back on the deciding kit, [`Kit::reject_match`]). A kit
    /// holding both sides (the one that decided, or the hub) changes nothing: the deciding
    /// kit's own edits carry the links. A side that cannot be
    /// edited (a received record this kit's validation refuses) is logged and left; the merge
    /// goes on. Pending matches the links move between likely and possible are told in
    /// `alerts`.
    pub(crate) fn link_received(
        &mut self,
        m: &PotentialMatch,
        now_ms: u64,
        alerts: &mut Vec<Alert>,
    ) -> Result<(), SaveError> {
        let confirmed = m.review_status() == review::CONFIRMED;
        if !(confirmed || m.review_status() == review::REJECTED) || self.st.book.is_conflicted(m.id)
        {
            return Ok(());
        }
        // As the transaction sees the vault: a side that came in the same batch counts.
        let request_here = self
            .tx
            .holds(RecordKind::TracingRequest, m.tracing_request_id)?;
        let case_here = self.tx.holds(RecordKind::Case, m.case_id)?;
        if request_here == case_here {
            return Ok(());
        }
        let mut moved = Vec::new();
        let linked = if confirmed {
            self.set_matched(m, request_here, case_here, now_ms, &mut moved)
        } else {
            self.unset_matched(m, request_here, case_here, now_ms, &mut moved)
        };
        match linked {
            Err(SaveError::Vault(e)) => Err(SaveError::Vault(e)),
            Err(e) => {
                tracing::warn!(match_id = %m.id, error = %e, "a review decision received was not linked (or unlinked) on this kit's side");
                Ok(())
            }
            Ok(()) => {
                alerts.extend(moved.into_iter().filter(|a| alert_match(a) != Some(m.id)));
                Ok(())
            }
        }
    }

    /// Records a review decision on a potential match.
    fn decide(
        &mut self,
        id: RecordId,
        decision: &str,
        note: Option<&str>,
        now_ms: u64,
    ) -> Result<PotentialMatch, ReviewError> {
        let old = self
            .st
            .book
            .get(id)
            .cloned()
            .ok_or_else(|| ReviewError::NotFound(id.to_string()))?;
        if old.review_status() == decision && !self.st.book.is_conflicted(id) {
            return Err(ReviewError::NotApplicable(format!(
                "potential match {id} is already {decision}"
            )));
        }
        let mut m = old;
        m.status = Some(decision.to_string());
        m.reviewed_by = Some(self.tx.session().caseworker().username.clone());
        m.reviewed_at = Some(timestamp(now_ms));
        m.review_note = note
            .map(str::trim)
            .filter(|n| !n.is_empty())
            .map(str::to_string);
        // The records as they are now: a rejection holds until one of them changes.
        let trace = trace_of(&m);
        if let Some(f) = self.st.index.case_fingerprint(m.case_id) {
            m.case_fingerprint = Some(f);
        }
        if let Some(f) = self.st.index.trace_fingerprint(&trace) {
            m.trace_fingerprint = Some(f);
        }
        let version = save(&mut self.tx, &m, now_ms)?;
        // The decision has its own audit entry beside the match's save, so the chain says who
        // confirmed or rejected which match, not only that the record was written.
        self.tx.audit(
            now_ms,
            AuditAction::MatchReviewed {
                confirmed: decision == review::CONFIRMED,
            },
            Some((RecordKind::PotentialMatch, id)),
        );
        self.st.stale = true;
        self.st.book.insert(m.clone());
        self.st.book.conflicted.remove(&id);
        self.notify(
            RecordKind::PotentialMatch,
            id,
            version,
            Priority::Review,
            Origin::Local,
        );
        Ok(m)
    }
}

/// What a review decision did ([`Kit::review_match`]).
#[derive(Debug, Clone)]
pub struct Reviewed {
    /// The decided match, as saved.
    pub potential_match: PotentialMatch,
    /// Other pending matches the decision moved between likely and possible
    /// ([`Alert::LikelyMatch`], [`Alert::MatchNoLongerLikely`]).
    pub alerts: Vec<Alert>,
}

/// The potential match an alert is about, if it is about one.
fn alert_match(a: &Alert) -> Option<RecordId> {
    match a {
        Alert::LikelyMatch { match_id, .. } | Alert::MatchNoLongerLikely { match_id, .. } => {
            Some(*match_id)
        }
        Alert::Urgent(_) => None,
    }
}

/// Which potential matches to list.
#[derive(Debug, Clone, Default)]
pub struct MatchFilter {
    /// Only this review state (`pending`, `confirmed`, `rejected`); all when `None`.
    pub status: Option<String>,
    /// Only matches of this case.
    pub case_id: Option<RecordId>,
    /// Only matches of this tracing request.
    pub tracing_request_id: Option<RecordId>,
}

/// A potential match with the records it joins, for the review screen.
#[derive(Debug, Clone)]
pub struct MatchDetail {
    /// The potential match.
    pub potential_match: PotentialMatch,
    /// True when two kits decided differently (the reviewer settles it by deciding again).
    pub conflicted: bool,
    /// True when the pair would be proposed now (both records open to matching).
    pub proposable: bool,
    /// The case, when it is on this kit.
    pub case: Option<Case>,
    /// The tracing request, when it is on this kit.
    pub request: Option<TracingRequest>,
    /// The trace sought, when the request still has it.
    pub trace: Option<Trace>,
}

impl Kit {
    /// Potential matches, likely first, best score first. Pending ones are listed only while
    /// both records are open to matching (a closed case, a case without consent, a closed
    /// request, or a trace already matched are not proposed) and the pair still scores at
    /// least `possible`.
    pub fn potential_matches(&self, filter: &MatchFilter) -> Vec<PotentialMatch> {
        let mut out: Vec<PotentialMatch> = self
            .book()
            .all()
            .filter(|m| {
                filter
                    .status
                    .as_deref()
                    .is_none_or(|s| m.review_status() == s)
            })
            .filter(|m| filter.case_id.is_none_or(|c| m.case_id == c))
            .filter(|m| {
                filter
                    .tracing_request_id
                    .is_none_or(|r| m.tracing_request_id == r)
            })
            .filter(|m| m.review_status() != review::PENDING || self.proposable(m))
            .cloned()
            .collect();
        out.sort_by(|a, b| {
            let rank = |m: &PotentialMatch| u8::from(m.likelihood.as_deref() == Some("likely"));
            rank(b)
                .cmp(&rank(a))
                .then(b.score.total_cmp(&a.score))
                .then(a.id.cmp(&b.id))
        });
        out
    }

    /// True when the pair would be proposed now: both records open to matching, and the
    /// pair scoring at least `possible` against the kit's records as they are (name
    /// frequencies move as records come and go, so a stored score is as of its save).
    ///
    /// A match whose other side is on another kit (the hub proposed it across kits: the
    /// parents' request is here, the child's case there) cannot be scored here; it is listed
    /// while the side that is here is open to matching and the record carries a likelihood
    /// (the hub's score). A side that is on this kit but closed to matching keeps it unlisted.
    fn proposable(&self, m: &PotentialMatch) -> bool {
        let trace = trace_of(m);
        let index = self.index();
        let elsewhere = |kind: RecordKind, id: RecordId| {
            // An unreadable vault answers "here": the match is then not listed, as before.
            self.session().holds(kind, id).is_ok_and(|here| !here)
        };
        let vouched = || {
            matches!(
                m.likelihood.as_deref(),
                Some(l) if l == Likelihood::Likely.as_str() || l == Likelihood::Possible.as_str()
            )
        };
        match (index.holds_case(m.case_id), index.holds_trace(&trace)) {
            (true, true) => index
                .score_pair(m.case_id, &trace, &self.config().matching)
                .is_some_and(|s| s.likelihood.is_some()),
            (true, false) => {
                vouched() && elsewhere(RecordKind::TracingRequest, m.tracing_request_id)
            }
            (false, true) => vouched() && elsewhere(RecordKind::Case, m.case_id),
            (false, false) => false,
        }
    }

    /// Finds a potential match by its id or at least four of its hex digits (first or last).
    pub fn resolve_match(&self, part: &str) -> Result<RecordId, ReviewError> {
        if let Ok(id) = part.parse::<RecordId>() {
            return if self.book().get(id).is_some() {
                Ok(id)
            } else {
                Err(ReviewError::NotFound(part.to_string()))
            };
        }
        let digits: String = part
            .chars()
            .filter(|c| *c != '-')
            .collect::<String>()
            .to_ascii_lowercase();
        if digits.len() < 4 {
            return Err(ReviewError::NotFound(part.to_string()));
        }
        let found: Vec<RecordId> = self
            .book()
            .all()
            .map(|m| m.id)
            .filter(|id| {
                let h = id.0.simple().to_string();
                h.starts_with(&digits) || h.ends_with(&digits)
            })
            .collect();
        match found.as_slice() {
            [one] => Ok(*one),
            [] => Err(ReviewError::NotFound(part.to_string())),
            many => Err(ReviewError::Ambiguous {
                part: part.to_string(),
                count: many.len(),
            }),
        }
    }

    /// A potential match with its case and tracing request (an audited read of both).
    pub fn match_detail(&mut self, id: RecordId, now_ms: u64) -> Result<MatchDetail, ReviewError> {
        let m = self
            .book()
            .get(id)
            .cloned()
            .ok_or_else(|| ReviewError::NotFound(id.to_string()))?;
        let conflicted = self.book().is_conflicted(id);
        let proposable = self.proposable(&m);
        let case = match self.session_mut().get(RecordKind::Case, m.case_id, now_ms) {
            Ok(o) => match o.record {
                Record::Case(c) => Some(*c),
                _ => None,
            },
            Err(ReadError::NotFound { .. }) => None,
            Err(e) => return Err(e.into()),
        };
        let request =
            match self
                .session_mut()
                .get(RecordKind::TracingRequest, m.tracing_request_id, now_ms)
            {
                Ok(o) => match o.record {
                    Record::TracingRequest(r) => Some(*r),
                    _ => None,
                },
                Err(ReadError::NotFound { .. }) => None,
                Err(e) => return Err(e.into()),
            };
        let trace = request.as_ref().and_then(|r| {
            r.traces()
                .iter()
                .find(|t| t.unique_id == m.trace_id)
                .cloned()
        });
        Ok(MatchDetail {
            potential_match: m,
            conflicted,
            proposable,
            case,
            request,
            trace,
        })
    }

    /// Confirms a potential match: the trace gets `matched_case_id` and the case
    /// `matched_tracing_request_id` (each saved as an edit of its record), then the decision
    /// with who, when and the note: all in one transaction. Refused
    /// ([`ReviewError::NotApplicable`]) when a side here may not be matched: the case closed or
    /// without consent to tracing, the request closed, the trace gone or already matched to
    /// another case. When one side is on another kit
    /// (a match the hub proposed across kits), only the side here is set; the other kit sets
    /// its own when the decision reaches it ([`Kit::merge`] / [`Kit::apply_ops`]).
    pub fn confirm_match(
        &mut self,
        id: RecordId,
        note: Option<&str>,
        now_ms: u64,
    ) -> Result<PotentialMatch, ReviewError> {
        self.review_match(id, true, note, now_ms)
            .map(|r| r.potential_match)
    }

    /// Confirms ([`confirm_match`](Self::confirm_match)) or rejects
    /// ([`reject_match`](Self::reject_match)) a potential match, and says which other pending
    /// matches the decision moved between likely and possible: a confirmed trace leaves the
    /// index, so a case it claimed ("one child, one request") is free for another request's
    /// trace again, and its link edits rescore the pairs near both records. The hub re-routes
    /// those, as it does for the rescores of a merge.
    pub fn review_match(
        &mut self,
        id: RecordId,
        confirm: bool,
        note: Option<&str>,
        now_ms: u64,
    ) -> Result<Reviewed, ReviewError> {
        let m = self
            .book()
            .get(id)
            .cloned()
            .ok_or_else(|| ReviewError::NotFound(id.to_string()))?;
        let request_here = self
            .session()
            .holds(RecordKind::TracingRequest, m.tracing_request_id)?;
        let case_here = self.session().holds(RecordKind::Case, m.case_id)?;
        if !confirm {
            // A confirmation taken back: its links go first (the trace is sought again), so
            // the decision keeps the records' fingerprints as they are now and the pair stays
            // rejected until one of them changes.
            let linked = m.review_status() == review::CONFIRMED || self.book().is_conflicted(id);
            return self.write(now_ms, |w| {
                let mut alerts = Vec::new();
                if linked {
                    w.unset_matched(&m, request_here, case_here, now_ms, &mut alerts)?;
                }
                let potential_match = w.decide(id, review::REJECTED, note, now_ms)?;
                alerts.retain(|a| alert_match(a) != Some(id));
                Ok(Reviewed {
                    potential_match,
                    alerts,
                })
            });
        }
        if !request_here && !case_here {
            return Err(ReviewError::NotApplicable(format!(
                "neither case {} nor tracing request {} is on this kit",
                m.case_id, m.tracing_request_id
            )));
        }
        self.write(now_ms, |w| {
            let mut alerts = Vec::new();
            if m.review_status() != review::CONFIRMED {
                w.check_confirmable(&m, request_here, case_here, now_ms)?;
            }
            w.set_matched(&m, request_here, case_here, now_ms, &mut alerts)?;
            let potential_match = w.decide(id, review::CONFIRMED, note, now_ms)?;
            // The decided pair itself is not news of a class.
            alerts.retain(|a| alert_match(a) != Some(id));
            Ok(Reviewed {
                potential_match,
                alerts,
            })
        })
    }

    /// Rejects a potential match: it is not proposed again unless the case or the trace
    /// changes. Rejecting a confirmed match takes its links back (the trace's
    /// `matched_case_id`, the case's `matched_tracing_request_id`, where they name this pair):
    /// the trace is sought again.
    pub fn reject_match(
        &mut self,
        id: RecordId,
        note: Option<&str>,
        now_ms: u64,
    ) -> Result<PotentialMatch, ReviewError> {
        self.review_match(id, false, note, now_ms)
            .map(|r| r.potential_match)
    }
}
