//! The mixed workload the crash scenarios interrupt, and the check that a vault holds what it
//! acknowledged.
//!
//! One workload, two kinds of crash: the `vault-writer` process runs it until SIGKILL
//! (`tests/vault_crash.rs`), and `tests/vault_power_cut.rs` runs it in-process on a disk whose
//! power is cut at a write or a sync. Its steps are what a kit does all day: registrations one
//! by one and in batches (one transaction each), follow-up edits, merges of another kit's
//! changes, wrong PINs (the lockout counter), sign-ins, PIN changes and new caseworkers (key
//! slots).
//!
//! Every step's effect is deterministic (case `i` of a seed, its `n`-th edit, its `m`-th merge,
//! the `k`-th PIN), so a [`Model`] of counts says exactly what the vault must hold. A step that
//! was under way when the crash came ("in flight") must be there wholly or not at all:
//! [`Model::outcomes`] lists the states allowed, and [`observe`] reads the vault's.

use std::collections::BTreeMap;
use std::fmt;
use std::str::FromStr;

use fieldkit_domain::{Case, DeviceId, FieldValue, Hlc, Op, Record, RecordKind, Summary};
use fieldkit_vault::{OpenError, Role, Session, Vault, VaultError};
use serde_json::Value;

use crate::{PIN, Rng, USER, WRONG_PIN, all_cases, cases, edit_count, edited_case};

/// The field another kit's merges set (a Primero field fieldkit does not model, so it lives in
/// the record's `extra`); its value is the merge count.
pub const MERGE_FIELD: &str = "x_hub_merges";
/// The other kit.
pub const REMOTE: DeviceId = DeviceId(0x0000_0000_00C0_FFEE);
/// The largest batch the workload saves in one transaction.
pub const MAX_BATCH: u64 = 6;

/// The PIN of generation `k` ([`PIN`] at 0): six digits, none of the common ones.
pub fn pin(k: u64) -> Vec<u8> {
    if k == 0 {
        return PIN.to_vec();
    }
    format!("{:06}", (482_915 + k * 104_729) % 1_000_000).into_bytes()
}

/// The name of the `k`-th caseworker the workload adds (from 1).
pub fn caseworker(k: u64) -> String {
    format!("cw{k}")
}

/// One step of the workload.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Step {
    /// Register case `i`.
    Create(u64),
    /// Register cases `from..to` in one transaction.
    Batch(u64, u64),
    /// The `n`-th follow-up edit of case `i`.
    Edit(u64, u64),
    /// The `m`-th change of case `i` from another kit, merged.
    Merge(u64, u64),
    /// A wrong PIN (the session is locked first).
    WrongPin,
    /// Sign in with the right PIN.
    SignIn,
    /// The supervisor's PIN becomes generation `k`.
    ChangePin(u64),
    /// The `k`-th caseworker is added.
    AddCaseworker(u64),
}

impl Step {
    /// What kind of step it is, in one word (`batch`, `signin`).
    pub fn kind(&self) -> &'static str {
        match self {
            Step::Create(_) => "create",
            Step::Batch(..) => "batch",
            Step::Edit(..) => "edit",
            Step::Merge(..) => "merge",
            Step::WrongPin => "wrong",
            Step::SignIn => "signin",
            Step::ChangePin(_) => "pin",
            Step::AddCaseworker(_) => "caseworker",
        }
    }
}

impl fmt::Display for Step {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.kind())?;
        match self {
            Step::Create(i) | Step::ChangePin(i) | Step::AddCaseworker(i) => write!(f, " {i}"),
            Step::Batch(a, b) | Step::Edit(a, b) | Step::Merge(a, b) => write!(f, " {a} {b}"),
            Step::WrongPin | Step::SignIn => Ok(()),
        }
    }
}

impl FromStr for Step {
    type Err = String;
    fn from_str(s: &str) -> Result<Step, String> {
        let words: Vec<&str> = s.split_whitespace().collect();
        let num = |i: usize| -> Result<u64, String> {
            words
                .get(i)
                .and_then(|w| w.parse().ok())
                .ok_or_else(|| format!("bad step `{s}`"))
        };
        match words.first().copied() {
            Some("create") => Ok(Step::Create(num(1)?)),
            Some("batch") => Ok(Step::Batch(num(1)?, num(2)?)),
            Some("edit") => Ok(Step::Edit(num(1)?, num(2)?)),
            Some("merge") => Ok(Step::Merge(num(1)?, num(2)?)),
            Some("wrong") => Ok(Step::WrongPin),
            Some("signin") => Ok(Step::SignIn),
            Some("pin") => Ok(Step::ChangePin(num(1)?)),
            Some("caseworker") => Ok(Step::AddCaseworker(num(1)?)),
            _ => Err(format!("bad step `{s}`")),
        }
    }
}

/// What the vault must hold: counts, from which every record and slot follows.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Model {
    /// Cases `0..created` exist.
    pub created: u64,
    /// Follow-up edits per case (absent: none).
    pub edits: BTreeMap<u64, u64>,
    /// Merges per case (absent: none).
    pub merges: BTreeMap<u64, u64>,
    /// Failed sign-ins since the last success.
    pub failures: u32,
    /// The supervisor's PIN generation.
    pub pin: u64,
    /// Caseworkers added besides the supervisor.
    pub caseworkers: u64,
}

impl Model {
    /// The state after `step` completed.
    pub fn after(&self, step: Step) -> Model {
        let mut m = self.clone();
        match step {
            Step::Create(_) => m.created += 1,
            Step::Batch(_, to) => m.created = to,
            Step::Edit(i, n) => {
                m.edits.insert(i, n);
            }
            Step::Merge(i, n) => {
                m.merges.insert(i, n);
            }
            Step::WrongPin => m.failures += 1,
            Step::SignIn => m.failures = 0,
            Step::ChangePin(k) => m.pin = k,
            Step::AddCaseworker(k) => m.caseworkers = k,
        }
        m
    }

    /// The states a crash may leave when `in_flight` was under way: before it, or after it
    /// whole. A sign-in commits the raised counter before checking the PIN, so it may also
    /// stop half way, with the counter raised.
    pub fn outcomes(&self, in_flight: Option<Step>) -> Vec<Model> {
        let Some(step) = in_flight else {
            return vec![self.clone()];
        };
        let mut out = vec![self.clone(), self.after(step)];
        if step == Step::SignIn {
            out.push(self.after(Step::WrongPin));
        }
        out
    }

    /// Case `i` as the vault must give it back.
    pub fn case(&self, seed: u64, i: u64) -> Case {
        // Subform entries come back in the order they were written.
        let mut c = edited_case(seed, i, self.edits.get(&i).copied().unwrap_or(0));
        if let Some(m) = self.merges.get(&i) {
            c.extra.insert(MERGE_FIELD.into(), Value::from(*m));
        }
        c
    }
}

/// The merge count a stored case shows.
pub fn merge_count(case: &Case) -> u64 {
    case.extra
        .get(MERGE_FIELD)
        .and_then(Value::as_u64)
        .unwrap_or(0)
}

/// The other kit's `m`-th change of case `i`: it supersedes its own earlier ones, so the field
/// has one current value whatever order the merges arrive in.
pub fn merge_op(seed: u64, i: u64, m: u64) -> Op {
    let stamp = |n: u64| Hlc {
        wall_ms: cases::ID_EPOCH_MS + i * 1_000 + n,
        counter: 0,
        device: REMOTE,
    };
    Op {
        kind: RecordKind::Case,
        record: cases::case_id(seed, i),
        field: MERGE_FIELD.into(),
        value: FieldValue::Int(i64::try_from(m).unwrap_or(i64::MAX)),
        stamp: stamp(m),
        supersedes: (1..m).map(stamp).collect(),
    }
}

/// Runs the workload against a vault, keeping what was acknowledged.
pub struct Workload<'a> {
    /// The data seed: case `i` is `cases::case(seed, i)`.
    pub seed: u64,
    /// What the vault acknowledged.
    pub model: Model,
    open: Box<dyn FnMut() -> Result<Vault, OpenError> + 'a>,
    session: Option<Session>,
}

impl fmt::Debug for Workload<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Workload")
            .field("seed", &self.seed)
            .field("model", &self.model)
            .field("signed_in", &self.session.is_some())
            .finish()
    }
}

impl<'a> Workload<'a> {
    /// A workload on the vault `open` opens, which holds `model` (not signed in yet).
    pub fn new(
        seed: u64,
        model: Model,
        open: impl FnMut() -> Result<Vault, OpenError> + 'a,
    ) -> Workload<'a> {
        Workload {
            seed,
            model,
            open: Box::new(open),
            session: None,
        }
    }

    /// A step to run next: a sign-in when signed out, otherwise mostly saves.
    pub fn choose(&self, rng: &mut Rng) -> Step {
        let m = &self.model;
        if self.session.is_none() {
            return Step::SignIn;
        }
        let roll = rng.below(100);
        match roll {
            0..=17 if m.created > 0 => {
                let i = rng.below(m.created);
                Step::Edit(i, m.edits.get(&i).copied().unwrap_or(0) + 1)
            }
            18..=27 if m.created > 0 => {
                let i = rng.below(m.created);
                Step::Merge(i, m.merges.get(&i).copied().unwrap_or(0) + 1)
            }
            28..=32 => Step::WrongPin,
            33..=35 => Step::ChangePin(m.pin + 1),
            36..=37 => Step::AddCaseworker(m.caseworkers + 1),
            38..=62 => Step::Batch(m.created, m.created + 2 + rng.below(MAX_BATCH - 1)),
            _ => Step::Create(m.created),
        }
    }

    /// Runs one step; on success the model moves on.
    pub fn run(&mut self, step: Step, now_ms: u64) -> Result<(), VaultError> {
        let seed = self.seed;
        match step {
            Step::SignIn => {
                let vault = (self.open)()?;
                self.session = Some(vault.unlock(USER, &pin(self.model.pin), now_ms)?);
            }
            Step::WrongPin => {
                let vault = match self.session.take() {
                    Some(s) => s.lock(),
                    None => (self.open)()?,
                };
                match vault
                    .unlock(USER, WRONG_PIN, now_ms)
                    .map_err(VaultError::from)
                {
                    Err(VaultError::WrongCredential { failures })
                        if failures == self.model.failures + 1 => {}
                    Err(VaultError::WrongCredential { failures }) => {
                        return Err(VaultError::Corrupt(format!(
                            "the counter says {failures} failures after {} and a wrong PIN",
                            self.model.failures
                        )));
                    }
                    Err(e) => return Err(e),
                    Ok(_) => return Err(VaultError::Corrupt("a wrong PIN signed in".into())),
                }
            }
            other => {
                let s = self
                    .session
                    .as_mut()
                    .ok_or_else(|| VaultError::Corrupt("not signed in".into()))?;
                match other {
                    Step::Create(i) => {
                        s.create(&crate::edited_record(seed, i, 0), now_ms)?;
                    }
                    Step::Batch(from, to) => {
                        let batch: Vec<Record> = (from..to)
                            .map(|i| crate::edited_record(seed, i, 0))
                            .collect();
                        s.create_many(&batch, now_ms)?;
                    }
                    Step::Edit(i, n) => {
                        let mut json = crate::edited_record(seed, i, n).to_json();
                        // Keep the other kit's field: an edit changes what the caseworker
                        // changed, nothing else.
                        if let Some(m) = self.model.merges.get(&i) {
                            json[MERGE_FIELD] = Value::from(*m);
                        }
                        s.update(RecordKind::Case, cases::case_id(seed, i), &json, now_ms)?;
                    }
                    Step::Merge(i, m) => {
                        s.apply_ops(&[merge_op(seed, i, m)], now_ms)?;
                    }
                    Step::ChangePin(k) => s.set_credential(USER, &pin(k), now_ms)?,
                    Step::AddCaseworker(k) => s.add_caseworker(
                        &caseworker(k),
                        "Caseworker",
                        &pin(1000 + k),
                        Role::Caseworker,
                        false,
                        now_ms,
                    )?,
                    Step::SignIn | Step::WrongPin => {}
                }
            }
        }
        self.model = self.model.after(step);
        Ok(())
    }

    /// Reads the counts of a vault the workload did not write itself (a writer process resuming
    /// after a kill): cases, edits, merges and caseworkers. Needs a session.
    pub fn resync(&mut self, now_ms: u64) -> Result<(), VaultError> {
        let s = self
            .session
            .as_mut()
            .ok_or_else(|| VaultError::Corrupt("not signed in".into()))?;
        let stored = all_cases(s, now_ms)?;
        self.model.created = stored.len() as u64;
        self.model.edits.clear();
        self.model.merges.clear();
        for (i, (c, _)) in stored.iter().enumerate() {
            let i = i as u64;
            if edit_count(c) > 0 {
                self.model.edits.insert(i, edit_count(c));
            }
            if merge_count(c) > 0 {
                self.model.merges.insert(i, merge_count(c));
            }
        }
        let workers = s.caseworkers(now_ms)?;
        self.model.caseworkers = (1..)
            .take_while(|k| workers.iter().any(|w| w.username == caseworker(*k)))
            .count() as u64;
        Ok(())
    }

    /// Ends the session (as a crash would: nothing more is written) and returns what was
    /// acknowledged.
    pub fn into_model(self) -> Model {
        self.model
    }
}

/// Reads what a vault holds after a crash, checking on the way that everything in it is whole:
/// each case decrypts to exactly case `i` with its edits and merges, ids in registration order,
/// the manifest and audit chain verify, the list and the name index moved with the records.
/// `candidates` are the states allowed (see [`Model::outcomes`]); the PINs tried are theirs.
/// Returns the state found, with the failure count read before signing in.
pub fn observe(
    open: &mut dyn FnMut() -> Result<Vault, OpenError>,
    seed: u64,
    candidates: &[Model],
    now_ms: u64,
    rng: &mut Rng,
) -> Result<Model, String> {
    let vault = open().map_err(|e| format!("the vault does not reopen: {e}"))?;
    let failures = vault
        .failed_attempts()
        .map_err(|e| format!("the failure counter cannot be read: {e}"))?;
    drop(vault);
    let mut pins: Vec<u64> = candidates.iter().map(|c| c.pin).collect();
    pins.sort_unstable();
    pins.dedup();
    let mut signed_in = None;
    let mut tried = Vec::new();
    for k in pins.iter().rev() {
        let vault = open().map_err(|e| format!("the vault does not reopen: {e}"))?;
        match vault.unlock(USER, &pin(*k), now_ms) {
            Ok(s) => {
                signed_in = Some((s, *k));
                break;
            }
            Err(e) => tried.push(format!("PIN generation {k}: {e}")),
        }
    }
    let Some((mut s, pin_found)) = signed_in else {
        return Err(format!("sign-in fails: {}", tried.join("; ")));
    };
    let stored = all_cases(&mut s, now_ms).map_err(|e| format!("reading every case: {e}"))?;
    let mut found = Model {
        created: stored.len() as u64,
        failures,
        pin: pin_found,
        ..Model::default()
    };
    for (i, (case, version)) in stored.iter().enumerate() {
        let i = i as u64;
        if case.id != cases::case_id(seed, i) {
            return Err(format!("case {i} is missing or out of order"));
        }
        let (edits, merges) = (edit_count(case), merge_count(case));
        if edits > 0 {
            found.edits.insert(i, edits);
        }
        if merges > 0 {
            found.merges.insert(i, merges);
        }
        let want = found.case(seed, i);
        if *case != want {
            return Err(format!(
                "case {i} differs from what was written:\n  stored  {case:?}\n  written {want:?}"
            ));
        }
        if *version != 1 + edits + merges {
            return Err(format!(
                "case {i} is at version {version} after {edits} edits and {merges} merges"
            ));
        }
    }
    let verified = s.verify().map_err(|e| format!("verify: {e}"))?;
    if verified != found.created {
        return Err(format!(
            "verify counts {verified} records, {} are stored",
            found.created
        ));
    }
    s.verify_audit().map_err(|e| format!("audit chain: {e}"))?;
    let workers = s
        .caseworkers(now_ms)
        .map_err(|e| format!("caseworkers: {e}"))?;
    found.caseworkers = (1..)
        .take_while(|k| workers.iter().any(|w| w.username == caseworker(*k)))
        .count() as u64;
    if workers.len() as u64 != found.caseworkers + 1 {
        let names: Vec<&str> = workers.iter().map(|w| w.username.as_str()).collect();
        return Err(format!("caseworkers {names:?} are not cw1..cwN and {USER}"));
    }
    // The summaries and the name index moved with the records.
    let listed = s
        .list(RecordKind::Case, 0, 50)
        .map_err(|e| format!("list: {e}"))?;
    let want: Vec<Summary> = stored
        .iter()
        .take(50)
        .map(|(c, _)| Summary::of(&Record::Case(Box::new(c.clone())), 0))
        .collect();
    if listed != want {
        return Err(format!("the list differs: {listed:?} / {want:?}"));
    }
    for _ in 0..3.min(stored.len()) {
        let (case, _) = &stored[rng.index(stored.len())];
        let name = case.name.as_deref().unwrap_or_default();
        let hits = s
            .search(RecordKind::Case, name, usize::MAX, now_ms)
            .map_err(|e| format!("search: {e}"))?;
        match hits.iter().find(|h| h.id == case.id) {
            Some(h) if h.name == name => {}
            Some(h) => return Err(format!("search shows {} as {}", name, h.name)),
            None => return Err(format!("a search for {name} misses it")),
        }
    }
    Ok(found)
}

/// The check after a crash with `in_flight` under way: [`observe`]s the vault and requires one
/// of the states [`Model::outcomes`] allows. Returns the state found, as the next round starts
/// from it (the check signed in, so the counter is back at zero), and whether the step under way
/// was found done.
pub fn check_after_crash(
    open: &mut dyn FnMut() -> Result<Vault, OpenError>,
    seed: u64,
    acked: &Model,
    in_flight: Option<Step>,
    now_ms: u64,
    rng: &mut Rng,
) -> Result<(Model, bool), String> {
    let candidates = acked.outcomes(in_flight);
    let found = observe(open, seed, &candidates, now_ms, rng)?;
    match candidates.iter().position(|c| *c == found) {
        Some(which) => Ok((
            Model {
                failures: 0,
                ..found
            },
            which > 0,
        )),
        None => Err(format!(
            "the vault holds {found:?}; allowed with {} in flight: {candidates:?}",
            in_flight.map_or("nothing".to_string(), |s| s.to_string())
        )),
    }
}
