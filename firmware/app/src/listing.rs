//! The case list's filters: which cases a screen shows for a risk level, a status and a
//! protection concern, without holding every case in memory.
//!
//! The vault lists summaries by position in id order (ids are UUIDv7, so registration order).
//! A filtered list is the positions of the cases that pass, four bytes a case; a screen then
//! reads only the summaries of the rows it draws, through [`Kit::case_page`]. The positions
//! come from the session's list table (status, risk level, urgent flag per case, kept in
//! memory by the vault), so only the first filtered look of a session reads every summary.

use std::collections::HashSet;

use fieldkit_domain::{Record, RecordId, RecordKind, Summary};
use fieldkit_vault::Facets;

use crate::Kit;
use crate::error::SaveError;

/// Which cases a list shows. `None` means any.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CaseFilter {
    /// `high`, `medium` or `low`.
    pub risk: Option<String>,
    /// `open` or `closed`.
    pub status: Option<String>,
    /// A protection concern id (Primero's lookup, e.g. `unaccompanied`).
    pub concern: Option<String>,
    /// Only cases marked urgent.
    pub urgent: bool,
}

impl CaseFilter {
    /// True when the filter lets every case through.
    pub fn is_empty(&self) -> bool {
        self.risk.is_none() && self.status.is_none() && self.concern.is_none() && !self.urgent
    }

    /// Whether a case's summary passes the risk and status parts (the concern is not in a
    /// summary; [`Kit::case_positions`] checks it on the record).
    pub fn admits(&self, summary: &Summary) -> bool {
        self.admits_facets(&Facets {
            status: summary.status.as_deref(),
            risk_level: summary.risk_level.as_deref(),
            urgent: summary.urgent,
        })
    }

    /// [`CaseFilter::admits`] on what the vault's list tables hold of a case.
    pub fn admits_facets(&self, f: &Facets<'_>) -> bool {
        let same = |want: &Option<String>, have: Option<&str>| {
            want.as_deref().is_none_or(|w| have == Some(w))
        };
        same(&self.risk, f.risk_level) && same(&self.status, f.status) && (!self.urgent || f.urgent)
    }
}

impl Kit {
    /// The positions (in the vault's id order, as [`fieldkit_vault::Session::list`] counts
    /// them) of the cases that pass `filter`. Status, risk and urgency come from the vault's
    /// list table (`Session::positions_where`: every case summary read once a session, then
    /// kept current in memory); with a concern it also streams the cases once (one audited
    /// bulk read), keeping only ids.
    pub fn case_positions(
        &mut self,
        filter: &CaseFilter,
        now_ms: u64,
    ) -> Result<Vec<u32>, SaveError> {
        let with_concern: Option<HashSet<RecordId>> = match &filter.concern {
            None => None,
            Some(concern) => {
                let mut ids = HashSet::new();
                self.session_mut()
                    .scan(RecordKind::Case, now_ms, |opened| {
                        if let Record::Case(c) = &opened.record
                            && c.has_concern(concern)
                        {
                            ids.insert(c.id);
                        }
                    })?;
                Some(ids)
            }
        };
        // Status, risk and urgency come from the vault's list table (every summary read
        // once a session, then kept in memory); the concern, when asked, from the records.
        let passing = self
            .session()
            .positions_where(RecordKind::Case, &|f| filter.admits_facets(f))?;
        let Some(with_concern) = with_concern else {
            return Ok(passing);
        };
        // The concern's cases by position: the ids in list order are the vault's keys.
        let ids = self.session().versions(RecordKind::Case)?;
        Ok(passing
            .into_iter()
            .filter(|&p| {
                ids.get(p as usize)
                    .is_some_and(|(id, _)| with_concern.contains(id))
            })
            .collect())
    }

    /// The summaries of the cases at these positions (sorted ascending, as
    /// [`Kit::case_positions`] gives them), audited as the list a caseworker is shown; only
    /// these summaries are decrypted (`Session::list_at_audited`).
    pub fn case_page(&mut self, positions: &[u32], now_ms: u64) -> Result<Vec<Summary>, SaveError> {
        Ok(self
            .session_mut()
            .list_at_audited(RecordKind::Case, positions, now_ms)?)
    }
}
