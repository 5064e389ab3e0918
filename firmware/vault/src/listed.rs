//! What record lists filter by (status, risk level, the urgent flag), for every record of a
//! kind, held in the signed-in session's memory.
//!
//! A filtered case list ("open cases", "high risk", the home page's urgent open cases) used to
//! decrypt every case's summary at each look: 50,000 summaries took about 0.2 s here, paid on
//! every visit to the home page and the case list, and several times that on a Raspberry Pi.
//! The first filtered look at a kind now reads its summaries once; after that the positions
//! come from this table, about 7 bytes a record beside its id, kept current by every commit of
//! the session: [`Session::store`](crate::session::Session) stages each written record's
//! facets in the transaction's batch, and the session applies them only once the transaction
//! committed, so an aborted write leaves the table as the disk is.
//!
//! The table holds no names, only what the filters compare: a status word, a risk word and a
//! flag, in the process's memory beside the decrypted summaries it was read from. A vault
//! opened by one session at a time (redb's lock) has no other writer to miss.

use std::collections::HashMap;
use std::sync::Mutex;

use fieldkit_domain::{RecordId, RecordKind, Summary};

/// One record's list facets, as a filter sees them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Facets<'a> {
    /// The record's status (`open`, `closed`, …), as its summary has it.
    pub status: Option<&'a str>,
    /// The risk level (cases), as its summary has it.
    pub risk_level: Option<&'a str>,
    /// Marked urgent.
    pub urgent: bool,
}

/// A record's facets waiting for its transaction to commit.
#[derive(Debug, Clone)]
pub(crate) struct Staged {
    kind: RecordKind,
    id: RecordId,
    status: Option<String>,
    risk_level: Option<String>,
    urgent: bool,
}

impl Staged {
    pub(crate) fn of(summary: &Summary) -> Staged {
        Staged {
            kind: summary.kind,
            id: summary.id,
            status: summary.status.clone(),
            risk_level: summary.risk_level.clone(),
            urgent: summary.urgent,
        }
    }
}

/// A record's facets in the table: the words as numbers into [`Tables::words`] (0: none).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
struct Row {
    status: u16,
    risk: u16,
    urgent: bool,
}

/// One kind's records in list order (ids ascending, as the vault's keys sort), with their
/// facets.
#[derive(Debug, Default)]
struct Table {
    ids: Vec<RecordId>,
    rows: Vec<Row>,
}

#[derive(Debug, Default)]
struct Tables {
    /// The distinct words seen (statuses and risk levels are a handful of lookup ids).
    words: Vec<Box<str>>,
    kinds: HashMap<RecordKind, Table>,
}

impl Tables {
    fn word(&mut self, w: Option<&str>) -> u16 {
        let Some(w) = w else { return 0 };
        if let Some(i) = self.words.iter().position(|x| &**x == w) {
            return u16::try_from(i + 1).unwrap_or(u16::MAX);
        }
        if self.words.len() >= usize::from(u16::MAX) - 1 {
            // Not a lookup list any more; the last slot stands for every further word, so a
            // filter on one of them finds nothing rather than the wrong records.
            return u16::MAX;
        }
        self.words.push(w.into());
        u16::try_from(self.words.len()).unwrap_or(u16::MAX)
    }

    fn text(&self, n: u16) -> Option<&str> {
        if n == 0 || n == u16::MAX {
            return None;
        }
        self.words.get(usize::from(n) - 1).map(|w| &**w)
    }

    fn row(&mut self, status: Option<&str>, risk: Option<&str>, urgent: bool) -> Row {
        Row {
            status: self.word(status),
            risk: self.word(risk),
            urgent,
        }
    }
}

/// The session's tables, one per kind a filter asked for.
#[derive(Debug, Default)]
pub(crate) struct Lists {
    tables: Mutex<Tables>,
}

impl Lists {
    fn lock(&self) -> std::sync::MutexGuard<'_, Tables> {
        // A panic while the lock was held leaves at worst a table missing a change; the
        // records on disk are whole, so the table is dropped and read again.
        self.tables.lock().unwrap_or_else(|poisoned| {
            let mut t = poisoned.into_inner();
            t.kinds.clear();
            t
        })
    }

    /// Sets `kind`'s table from every summary of the kind, which `read` hands over in list
    /// order (nothing is set when it fails). Summaries are taken one by one: the table is
    /// all that stays.
    pub(crate) fn fill<E>(
        &self,
        kind: RecordKind,
        read: impl FnOnce(&mut dyn FnMut(&Summary)) -> Result<(), E>,
    ) -> Result<(), E> {
        let mut t = self.lock();
        let mut table = Table::default();
        read(&mut |s| {
            let row = t.row(s.status.as_deref(), s.risk_level.as_deref(), s.urgent);
            table.ids.push(s.id);
            table.rows.push(row);
        })?;
        table.ids.shrink_to_fit();
        table.rows.shrink_to_fit();
        t.kinds.insert(kind, table);
        Ok(())
    }

    /// Takes in what a committed transaction wrote (kinds without a table are skipped: their
    /// first filtered look reads the disk as it now is).
    pub(crate) fn apply(&self, staged: Vec<Staged>) {
        if staged.is_empty() {
            return;
        }
        let mut t = self.lock();
        for s in staged {
            if !t.kinds.contains_key(&s.kind) {
                continue;
            }
            let row = t.row(s.status.as_deref(), s.risk_level.as_deref(), s.urgent);
            let Some(table) = t.kinds.get_mut(&s.kind) else {
                continue;
            };
            match table.ids.binary_search(&s.id) {
                Ok(i) => table.rows[i] = row,
                Err(i) => {
                    table.ids.insert(i, s.id);
                    table.rows.insert(i, row);
                }
            }
        }
    }

    /// The positions of `kind`'s records whose facets pass `keep`, ascending; `None` when the
    /// kind has no table yet.
    pub(crate) fn positions(
        &self,
        kind: RecordKind,
        keep: &dyn Fn(&Facets<'_>) -> bool,
    ) -> Option<Vec<u32>> {
        let t = self.lock();
        let table = t.kinds.get(&kind)?;
        // Filters ask the same few questions of many rows: answer each distinct row once.
        let mut answers: HashMap<Row, bool> = HashMap::new();
        let mut out = Vec::new();
        for (i, row) in table.rows.iter().enumerate() {
            let pass = *answers.entry(*row).or_insert_with(|| {
                keep(&Facets {
                    status: t.text(row.status),
                    risk_level: t.text(row.risk),
                    urgent: row.urgent,
                })
            });
            if pass {
                out.push(u32::try_from(i).unwrap_or(u32::MAX));
            }
        }
        Some(out)
    }
}
