//! The case list's filters: which cases a screen shows for a risk level, a status and a
//! protection concern, without holding every case in memory.
//!
//! The vault lists summaries by position in id order (ids are UUIDv7, so registration order).
//! A filtered list is the positions of the cases that pass, four bytes a case; a screen then
//! reads only the summaries of the rows it draws, through [`Kit::case_page`].

use std::collections::HashSet;

use fieldkit_domain::{Record, RecordId, RecordKind, Summary};

use crate::Kit;
use crate::error::SaveError;

/// How many summaries one pass reads at a time.
const CHUNK: usize = 1024;

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
        let same = |want: &Option<String>, have: &Option<String>| {
            want.as_ref()
                .is_none_or(|w| have.as_deref() == Some(w.as_str()))
        };
        same(&self.risk, &summary.risk_level)
            && same(&self.status, &summary.status)
            && (!self.urgent || summary.urgent)
    }
}

impl Kit {
    /// The positions (in the vault's id order, as [`fieldkit_vault::Session::list`] counts
    /// them) of the cases that pass `filter`. Reads summaries in chunks; with a concern it also
    /// streams the cases once (one audited bulk read), keeping only ids.
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
        let mut out = Vec::new();
        let mut offset = 0usize;
        loop {
            let chunk = self.session().list(RecordKind::Case, offset, CHUNK)?;
            for (i, s) in chunk.iter().enumerate() {
                let passes =
                    filter.admits(s) && with_concern.as_ref().is_none_or(|ids| ids.contains(&s.id));
                if passes {
                    out.push(u32::try_from(offset + i).unwrap_or(u32::MAX));
                }
            }
            if chunk.len() < CHUNK {
                return Ok(out);
            }
            offset += chunk.len();
        }
    }

    /// The summaries of the cases at these positions (sorted ascending, as
    /// [`Kit::case_positions`] gives them), read as one range of the list and audited as the
    /// list a caseworker is shown.
    pub fn case_page(&mut self, positions: &[u32], now_ms: u64) -> Result<Vec<Summary>, SaveError> {
        let (Some(&first), Some(&last)) = (positions.first(), positions.last()) else {
            return Ok(Vec::new());
        };
        let first = first as usize;
        let span = (last as usize).saturating_sub(first) + 1;
        let range = self
            .session_mut()
            .list_audited(RecordKind::Case, first, span, now_ms)?;
        Ok(positions
            .iter()
            .filter_map(|&p| range.get(p as usize - first).cloned())
            .collect())
    }
}
