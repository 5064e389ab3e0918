//! A vault file changed outside fieldkit: flipped bytes anywhere, ciphertexts swapped or copied
//! between records, rows deleted or rolled back, the file cut short, a second process opening it.
//! Every change is refused with an error or reads back exactly what was written: never a panic,
//! never different data.
#![allow(clippy::unwrap_used)]

use std::io::{BufRead, BufReader, Write};
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use fieldkit_domain::{Case, Record, RecordKind, Summary};
use fieldkit_scenarios::{
    NOW_MS, PIN, USER, all_cases, as_case, create_vault, edited_record, lenient_policy,
};
use fieldkit_scenarios::{Rng, cases};
use fieldkit_testkit::{count_from_env, seed_from_env};
use fieldkit_vault::{
    CheckError, OpenError, OpenOptions, ReadError, StoreError, Vault, VaultError,
};
use redb::{ReadableDatabase, ReadableTable, TableDefinition};

const SEED: u64 = 0x7A3B_E12D;
const META: TableDefinition<&str, &[u8]> = TableDefinition::new("meta");
const KEYSLOTS: TableDefinition<&str, &[u8]> = TableDefinition::new("keyslots");
const RECORDS: TableDefinition<&[u8], &[u8]> = TableDefinition::new("records");
const SUMMARIES: TableDefinition<&[u8], &[u8]> = TableDefinition::new("summaries");
const TERMS: TableDefinition<&[u8], &[u8]> = TableDefinition::new("record_terms");
const AUDIT: TableDefinition<u64, &[u8]> = TableDefinition::new("audit");
const NAME_INDEX: redb::MultimapTableDefinition<&[u8], &[u8]> =
    redb::MultimapTableDefinition::new("name_index");

/// The key of case `i` in the `records` and `summaries` tables: kind byte 1, then the id.
fn row_key(i: u64) -> Vec<u8> {
    let mut k = vec![1u8];
    k.extend_from_slice(cases::case_id(SEED, i).as_bytes());
    k
}

/// A closed vault file: 40 cases saved one by one, a batch of 20, a few follow-up edits, and
/// sign-ins in between, so the file holds live pages, freed pages and every table.
fn build_vault(dir: &Path) -> PathBuf {
    let path = Vault::file_in(dir);
    let mut s = create_vault(&path, lenient_policy()).unwrap();
    for i in 0..40 {
        s.create(&edited_record(SEED, i, 0), NOW_MS).unwrap();
    }
    let s = s.lock();
    let mut s = s.unlock(USER, PIN, NOW_MS + 1).unwrap();
    let batch: Vec<Record> = (40..60).map(|i| edited_record(SEED, i, 0)).collect();
    s.create_many(&batch, NOW_MS + 2).unwrap();
    for i in [3, 17, 41, 3, 59] {
        let id = cases::case_id(SEED, i);
        let edits = if i == 3 && s.get(RecordKind::Case, id, NOW_MS).unwrap().version == 2 {
            2
        } else {
            1
        };
        s.update(
            RecordKind::Case,
            id,
            &edited_record(SEED, i, edits).to_json(),
            NOW_MS + 3,
        )
        .unwrap();
    }
    s.create(&edited_record(SEED, 60, 0), NOW_MS + 4).unwrap();
    drop(s);
    path
}

/// Everything a caseworker could be shown after signing in.
#[derive(Debug, PartialEq)]
struct Shown {
    list: Vec<Summary>,
    cases: Vec<(Case, u64)>,
    searches: Vec<Vec<Summary>>,
    verified: u64,
    audit_entries: u64,
}

/// What differs between what was shown and what was written.
fn diff(shown: &Shown, want: &Shown) -> String {
    let mut out = Vec::new();
    for (i, (a, b)) in shown.list.iter().zip(&want.list).enumerate() {
        if a != b {
            out.push(format!("list[{i}]: shown {a:?}, written {b:?}"));
        }
    }
    for (i, (a, b)) in shown.cases.iter().zip(&want.cases).enumerate() {
        if a != b {
            out.push(format!("case[{i}]: shown {a:?}, written {b:?}"));
        }
    }
    if shown.searches != want.searches {
        out.push(format!(
            "searches: shown {:?}, written {:?}",
            shown.searches, want.searches
        ));
    }
    if (
        shown.list.len(),
        shown.cases.len(),
        shown.verified,
        shown.audit_entries,
    ) != (
        want.list.len(),
        want.cases.len(),
        want.verified,
        want.audit_entries,
    ) {
        out.push(format!(
            "counts: shown {} listed, {} cases, {} verified, {} audit entries; written {}, {}, {}, {}",
            shown.list.len(),
            shown.cases.len(),
            shown.verified,
            shown.audit_entries,
            want.list.len(),
            want.cases.len(),
            want.verified,
            want.audit_entries
        ));
    }
    out.join("; ")
}

/// How a probe of a (possibly damaged) file ended.
#[derive(Debug)]
enum Outcome {
    /// Refused, at this step, with this error.
    Refused(&'static str, VaultError),
    /// Everything read back.
    Read(Box<Shown>),
}

/// Which kind of error refused a damaged file.
fn kind(e: &VaultError) -> &'static str {
    match e {
        VaultError::Corrupt(_) => "Corrupt",
        VaultError::Tampered { .. } => "Tampered",
        VaultError::Io { .. } => "Io",
        VaultError::Storage(_) => "Storage",
        VaultError::WrongCredential { .. } => "WrongCredential",
        VaultError::AuditBroken(_) => "AuditBroken",
        VaultError::Crypto(_) => "Crypto",
        _ => "other",
    }
}

/// Opens, signs in, lists, reads every case, searches, verifies: what a caseworker's session
/// would do with the file. Stops at the first error.
fn probe(path: &Path, verify_on_open: bool) -> Outcome {
    macro_rules! step {
        ($name:literal, $e:expr) => {
            match $e {
                Ok(v) => v,
                Err(e) => return Outcome::Refused($name, e.into()),
            }
        };
    }
    let opts = OpenOptions {
        verify_on_open,
        ..OpenOptions::default()
    };
    let vault = step!("open", Vault::open(path, opts));
    let mut s = step!("unlock", vault.unlock(USER, PIN, NOW_MS + 10));
    let list = step!("list", s.list(RecordKind::Case, 0, 1000));
    let cases = step!("read", all_cases(&mut s, NOW_MS + 11));
    let mut searches = Vec::new();
    for i in [0, 3, 41, 59] {
        let name = cases::search_name(SEED, i);
        searches.push(step!(
            "search",
            s.search_unaudited(RecordKind::Case, &name, 100)
        ));
    }
    let verified = step!("verify", s.verify());
    let audit = step!("verify_audit", s.verify_audit());
    Outcome::Read(Box::new(Shown {
        list,
        cases,
        searches,
        verified,
        audit_entries: audit.entries,
    }))
}

/// Runs [`probe`] and turns a panic into an error message naming what was probed.
fn probe_catching(path: &Path, verify_on_open: bool, what: &str) -> Result<Outcome, String> {
    catch_unwind(AssertUnwindSafe(|| probe(path, verify_on_open))).map_err(|payload| {
        let msg = payload
            .downcast_ref::<String>()
            .cloned()
            .or_else(|| payload.downcast_ref::<&str>().map(|s| s.to_string()))
            .unwrap_or_default();
        format!("{what}: PANIC: {msg}")
    })
}

fn expected(dir: &Path, pristine: &[u8]) -> Shown {
    let path = dir.join("expected.redb");
    std::fs::write(&path, pristine).unwrap();
    match probe(&path, true) {
        Outcome::Read(shown) => *shown,
        Outcome::Refused(step, e) => panic!("the undamaged vault fails at {step}: {e}"),
    }
}

/// One damage to the file: the same XOR at one or more offsets (every copy of a value).
#[derive(Debug, Clone)]
struct Flip {
    offsets: Vec<usize>,
    mask: u8,
    /// The live value aimed at (`records row`, `key slot`…), or `None` for a blind flip.
    aimed: Option<&'static str>,
}

impl Flip {
    fn describe(&self) -> String {
        format!(
            "{} byte {:?} ^ {:#04x}",
            self.aimed.unwrap_or("blind"),
            self.offsets,
            self.mask
        )
    }
}

fn mask(rng: &mut Rng) -> u8 {
    match rng.below(3) {
        0 => 0xFF,
        1 => 1 << rng.below(8),
        _ => 1 + u8::try_from(rng.below(255)).unwrap(),
    }
}

/// Blind flips: every 1/`n` of the file with a random jitter, so every page region is hit,
/// plus the header's fields (magic, god byte, page size, both commit slots).
fn blind_flips(len: usize, n: usize, rng: &mut Rng) -> Vec<Flip> {
    let mut offsets: Vec<usize> = vec![0, 4, 9, 12, 16, 20, 24];
    for slot in [64usize, 192] {
        // version, root page, root checksum, transaction id, region counts, slot checksum
        offsets.extend([0, 1, 8, 12, 16, 30, 64, 72, 76, 96, 120].map(|o| slot + o));
    }
    let stride = len / n;
    for k in 0..n {
        offsets.push(k * stride + usize::try_from(rng.below(stride as u64)).unwrap());
    }
    offsets.sort_unstable();
    offsets.dedup();
    offsets
        .into_iter()
        .map(|o| Flip {
            offsets: vec![o],
            mask: mask(rng),
            aimed: None,
        })
        .collect()
}

/// A live value in the file: what it is, and every place its bytes occur (redb copies pages
/// on write, so an old copy may sit in a freed page; flipping every copy hits the live one).
#[derive(Debug)]
struct Live {
    what: &'static str,
    at: Vec<usize>,
    len: usize,
}

fn occurrences(file: &[u8], value: &[u8]) -> Vec<usize> {
    let mut at = Vec::new();
    let mut from = 0;
    while let Some(i) = file[from..].windows(value.len()).position(|w| w == value) {
        at.push(from + i);
        from += i + 1;
    }
    at
}

/// Every live row the vault reads, found in the file: record, summary and index-term rows, the
/// blind index's terms, the caseworker's key slot (its wrapped keys: the last 40 bytes), audit entries and
/// the sealed manifest. Values shorter than 16 bytes could occur by chance and are left out.
fn live_values(file: &[u8], dir: &Path) -> Vec<Live> {
    use redb::ReadableMultimapTable;
    let copy = dir.join("targets.redb");
    std::fs::write(&copy, file).unwrap();
    let db = redb::Database::open(&copy).unwrap();
    let txn = db.begin_read().unwrap();
    let mut values: Vec<(&'static str, Vec<u8>)> = Vec::new();
    for (what, def) in [
        ("records row", RECORDS),
        ("summary row", SUMMARIES),
        ("index-terms row", TERMS),
    ] {
        for row in txn.open_table(def).unwrap().iter().unwrap() {
            values.push((what, row.unwrap().1.value().to_vec()));
        }
    }
    for row in txn.open_multimap_table(NAME_INDEX).unwrap().iter().unwrap() {
        values.push(("name-index term", row.unwrap().0.value().to_vec()));
    }
    // The slot the probe signs in with. (The recovery slot is read only by a recovery, and
    // nothing checks it before then: see the report of issue 13.)
    if let Some(v) = txn.open_table(KEYSLOTS).unwrap().get(USER).unwrap() {
        let v = v.value();
        values.push(("key slot", v[v.len().saturating_sub(40)..].to_vec()));
    }
    for row in txn.open_table(AUDIT).unwrap().iter().unwrap() {
        values.push(("audit entry", row.unwrap().1.value().to_vec()));
    }
    if let Some(m) = txn.open_table(META).unwrap().get("manifest").unwrap() {
        values.push(("manifest", m.value().to_vec()));
    }
    values
        .into_iter()
        .filter(|(_, v)| v.len() >= 16)
        .filter_map(|(what, v)| {
            let at = occurrences(file, &v);
            (!at.is_empty()).then_some(Live {
                what,
                at,
                len: v.len(),
            })
        })
        .collect()
}

/// `n` flips aimed at live values, spread over the kinds of value, each flipping one byte
/// position in every copy of its value.
fn aimed_flips(live: &[Live], n: usize, rng: &mut Rng) -> Vec<Flip> {
    let mut kinds: Vec<&str> = live.iter().map(|l| l.what).collect();
    kinds.sort_unstable();
    kinds.dedup();
    (0..n)
        .map(|k| {
            let kind = kinds[k % kinds.len()];
            let of_kind: Vec<&Live> = live.iter().filter(|l| l.what == kind).collect();
            let target = *rng.pick(&of_kind);
            let at = rng.index(target.len);
            Flip {
                offsets: target.at.iter().map(|o| o + at).collect(),
                mask: mask(rng),
                aimed: Some(target.what),
            }
        })
        .collect()
}

/// The offset a worker is probing, and since when.
type Busy = Option<(String, Instant)>;

#[derive(Debug, Default)]
struct Tally {
    refused: std::collections::BTreeMap<String, usize>,
    unchanged: usize,
    panics: Vec<String>,
    failures: Vec<String>,
}

/// How a probe of one flip must end. Damage must be named as damage: `Corrupt` or `Tampered`
/// (`AuditBroken` for the audit chain). A wrong-PIN answer is a refusal only for a key slot's
/// wrapped key, where the AEAD cannot tell damage from a wrong PIN. Reading back unchanged is
/// allowed only for a blind flip (bytes nothing reads), never for a live value.
fn judge(
    flip: &Flip,
    outcome: Result<Outcome, String>,
    want: &Shown,
    verify_on_open: bool,
    t: &mut Tally,
) {
    let what = flip.describe();
    let slot = flip.aimed == Some("key slot");
    match outcome {
        Err(panic) if verify_on_open || flip.aimed.is_some() => t.failures.push(panic),
        Err(panic) => t.panics.push(panic),
        Ok(Outcome::Refused(step, e)) => {
            let k = kind(&e);
            let named = matches!(k, "Corrupt" | "Tampered")
                || (k == "AuditBroken" && matches!(flip.aimed, None | Some("audit entry")))
                || (k == "WrongCredential" && (slot || flip.aimed.is_none()));
            if named {
                let label = match flip.aimed {
                    Some(a) => format!("{a} → {step}: {k}"),
                    None => format!("blind → {step}: {k}"),
                };
                *t.refused.entry(label).or_default() += 1;
            } else {
                t.failures.push(format!(
                    "{what}: refused at {step} as {k}, not as damage: {e}"
                ));
            }
        }
        Ok(Outcome::Read(shown)) if *shown == *want && flip.aimed.is_none() => t.unchanged += 1,
        Ok(Outcome::Read(shown)) if *shown == *want => {
            t.failures
                .push(format!("{what}: damage to a live value went unnoticed"));
        }
        Ok(Outcome::Read(shown)) => {
            t.failures
                .push(format!("{what}: DIFFERENT DATA: {}", diff(&shown, want)));
        }
    }
}

/// As shipped: redb verifies every page checksum when the vault is opened.
#[test]
fn a_flipped_byte_is_refused_as_damage_or_changes_nothing() {
    flip_bytes(true);
}

/// With `verify_on_open` off, damage redb does not notice at open reaches the vault, whose AEAD
/// and manifest must refuse it: never different data. redb documents that a plain open "may
/// panic if [the file] was corrupted outside redb", and it does (a flipped branch page gives an
/// out-of-range slice), which is why the vault checks on open by default; here panics from
/// blind flips are counted and printed, not failed. Aimed flips only change values, which redb
/// never interprets: a panic there fails.
#[test]
fn a_flipped_byte_is_refused_by_the_vault_when_redb_does_not_check_on_open() {
    flip_bytes(false);
}

/// Blind flips over the whole file plus flips aimed at live rows, slots and index entries.
/// `FIELDKIT_FLIPS=N` sets each (default 160 blind, 120 aimed); the seed varies from run to run
/// and is printed, `FIELDKIT_FLIP_SEED=S` replays a run.
fn flip_bytes(verify_on_open: bool) {
    let n = usize::try_from(count_from_env("FIELDKIT_FLIPS", 0)).unwrap();
    let (blind_n, aimed_n) = if n > 0 { (n, n) } else { (160, 120) };
    let seed = seed_from_env(
        "FIELDKIT_FLIP_SEED",
        &format!("tamper (verify_on_open {verify_on_open})"),
    );
    let dir = tempfile::tempdir().unwrap();
    let pristine = std::fs::read(build_vault(dir.path())).unwrap();
    let want = Arc::new(expected(dir.path(), &pristine));
    assert_eq!(want.cases.len(), 61);
    let mut rng = Rng::new(seed);
    let live = live_values(&pristine, dir.path());
    let mut flips = blind_flips(pristine.len(), blind_n, &mut rng);
    let blind = flips.len();
    flips.extend(aimed_flips(&live, aimed_n, &mut rng));
    let flips = Arc::new(flips);
    let pristine = Arc::new(pristine);
    let next = Arc::new(AtomicUsize::new(0));
    let tally = Arc::new(Mutex::new(Tally::default()));
    // What each worker is probing, and since when, so a hang fails with its flip.
    let busy: Arc<Mutex<Vec<Busy>>> = Arc::new(Mutex::new(vec![None; 2]));
    let started = Instant::now();
    let workers: Vec<_> = (0..2)
        .map(|w| {
            let (pristine, want, flips, next, tally, busy) = (
                pristine.clone(),
                want.clone(),
                flips.clone(),
                next.clone(),
                tally.clone(),
                busy.clone(),
            );
            let file = dir.path().join(format!("flipped-{w}.redb"));
            std::thread::spawn(move || {
                loop {
                    let k = next.fetch_add(1, Ordering::SeqCst);
                    let Some(flip) = flips.get(k) else { break };
                    busy.lock().unwrap()[w] = Some((flip.describe(), Instant::now()));
                    let mut bytes = pristine.as_ref().clone();
                    for o in &flip.offsets {
                        bytes[*o] ^= flip.mask;
                    }
                    std::fs::write(&file, &bytes).unwrap();
                    let outcome = probe_catching(&file, verify_on_open, &flip.describe());
                    judge(
                        flip,
                        outcome,
                        &want,
                        verify_on_open,
                        &mut tally.lock().unwrap(),
                    );
                    busy.lock().unwrap()[w] = None;
                }
            })
        })
        .collect();
    while workers.iter().any(|w| !w.is_finished()) {
        std::thread::sleep(Duration::from_millis(50));
        for (flip, since) in busy.lock().unwrap().iter().flatten() {
            assert!(
                since.elapsed() < Duration::from_secs(120),
                "a vault with {flip} hangs (FIELDKIT_FLIP_SEED={seed})"
            );
        }
    }
    for w in workers {
        w.join().unwrap();
    }
    let t = tally.lock().unwrap();
    let refused: usize = t.refused.values().sum();
    let mut kinds: Vec<&str> = live.iter().map(|l| l.what).collect();
    kinds.dedup();
    println!(
        "tamper (verify_on_open {verify_on_open}): {blind} blind flips over a {}-byte file and \
         {} aimed at {} live values ({kinds:?}) in {:.1} s: {refused} refused as damage \
         ({:#?}), {} blind flips in bytes nothing reads (read back unchanged), {} panics inside \
         redb{}, {} failures",
        pristine.len(),
        flips.len() - blind,
        live.len(),
        started.elapsed().as_secs_f64(),
        t.refused,
        t.unchanged,
        t.panics.len(),
        if verify_on_open {
            ""
        } else {
            " (allowed for blind flips with the check off)"
        },
        t.failures.len()
    );
    for p in &t.panics {
        println!("  {p}");
    }
    assert!(
        t.failures.is_empty(),
        "{} flips were not handled (FIELDKIT_FLIP_SEED={seed}):\n{}",
        t.failures.len(),
        t.failures.join("\n")
    );
    assert!(
        refused > flips.len() - blind,
        "fewer refusals than aimed flips"
    );
}

/// Rewrites rows of the closed vault file with redb directly, as someone with the file would.
fn rewrite(
    path: &Path,
    f: impl FnOnce(&mut redb::Table<&[u8], &[u8]>, &mut redb::Table<&[u8], &[u8]>),
) {
    let db = redb::Database::open(path).unwrap();
    let txn = db.begin_write().unwrap();
    {
        let mut records = txn.open_table(RECORDS).unwrap();
        let mut summaries = txn.open_table(SUMMARIES).unwrap();
        f(&mut records, &mut summaries);
    }
    txn.commit().unwrap();
}

fn value(table: &redb::Table<&[u8], &[u8]>, key: &[u8]) -> Vec<u8> {
    table.get(key).unwrap().unwrap().value().to_vec()
}

fn is_tampered<T: std::fmt::Debug, E: Into<VaultError>>(r: Result<T, E>) -> bool {
    matches!(r.map_err(Into::into), Err(VaultError::Tampered { .. }))
}

#[test]
fn swapped_or_copied_ciphertexts_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    let path = build_vault(dir.path());
    let (a, b, c) = (row_key(5), row_key(6), row_key(7));
    let (ida, idb, idc) = (
        cases::case_id(SEED, 5),
        cases::case_id(SEED, 6),
        cases::case_id(SEED, 7),
    );
    // Swap the records of cases 5 and 6, and their summaries.
    rewrite(&path, |records, summaries| {
        let (va, vb) = (value(records, &a), value(records, &b));
        records.insert(a.as_slice(), vb.as_slice()).unwrap();
        records.insert(b.as_slice(), va.as_slice()).unwrap();
        let (sa, sb) = (value(summaries, &a), value(summaries, &b));
        summaries.insert(a.as_slice(), sb.as_slice()).unwrap();
        summaries.insert(b.as_slice(), sa.as_slice()).unwrap();
    });
    let mut s = Vault::open(&path, OpenOptions::default())
        .unwrap()
        .unlock(USER, PIN, NOW_MS + 10)
        .unwrap();
    assert!(is_tampered(s.get(RecordKind::Case, ida, NOW_MS)));
    assert!(is_tampered(s.get(RecordKind::Case, idb, NOW_MS)));
    // Case 7, untouched, still reads back as written.
    assert_eq!(
        s.get(RecordKind::Case, idc, NOW_MS).unwrap().record,
        edited_record(SEED, 7, 0)
    );
    assert!(is_tampered(s.list(RecordKind::Case, 0, 100)));
    assert!(is_tampered(s.all(RecordKind::Case, NOW_MS)));
    assert!(is_tampered(s.verify()));
    drop(s);

    // Copy case 7's record onto case 5 (the swap above is still in place for 5 and 6).
    let dir = tempfile::tempdir().unwrap();
    let path = build_vault(dir.path());
    rewrite(&path, |records, _| {
        let vc = value(records, &c);
        records.insert(a.as_slice(), vc.as_slice()).unwrap();
    });
    let mut s = Vault::open(&path, OpenOptions::default())
        .unwrap()
        .unlock(USER, PIN, NOW_MS + 10)
        .unwrap();
    assert!(is_tampered(s.get(RecordKind::Case, ida, NOW_MS)));
    let copied_from = s.get(RecordKind::Case, idc, NOW_MS).unwrap();
    assert_eq!(copied_from.record.id(), idc);
    assert!(is_tampered(s.verify()));
    println!("tamper: swapped records and summaries, and a copied record, are refused as Tampered");
}

#[test]
fn a_deleted_record_is_reported() {
    // Delete case 9's record row (its summary and index entries stay).
    let dir = tempfile::tempdir().unwrap();
    let path = build_vault(dir.path());
    rewrite(&path, |records, _| {
        records.remove(row_key(9).as_slice()).unwrap();
    });
    let mut s = Vault::open(&path, OpenOptions::default())
        .unwrap()
        .unlock(USER, PIN, NOW_MS + 10)
        .unwrap();
    let err = s.verify().unwrap_err();
    assert!(
        matches!(&err, CheckError::Store(StoreError::Tampered { what }) if what.contains("lists 61 records, the file holds 60")),
        "{err}"
    );
    // The record's authenticated version says it exists: its missing row is tampering, not
    // "no such case" (issue 8, finding 7).
    assert!(is_tampered(s.get(
        RecordKind::Case,
        cases::case_id(SEED, 9),
        NOW_MS
    )));
    drop(s);

    println!("tamper: a deleted record fails verify()");
}

/// The rows one record has in the file, as someone copying them back would take them.
#[derive(Debug, Clone)]
struct RecordRows {
    record: Vec<u8>,
    summary: Vec<u8>,
    terms: Vec<u8>,
    index: Vec<Vec<u8>>,
}

fn record_rows(path: &Path, key: &[u8]) -> RecordRows {
    use redb::ReadableMultimapTable;
    let db = redb::Database::open(path).unwrap();
    let txn = db.begin_read().unwrap();
    let index = txn.open_multimap_table(NAME_INDEX).unwrap();
    let mut terms = Vec::new();
    for entry in index.iter().unwrap() {
        let (term, keys) = entry.unwrap();
        if keys.into_iter().any(|k| k.unwrap().value() == key) {
            terms.push(term.value().to_vec());
        }
    }
    RecordRows {
        record: value_ro(&txn, RECORDS, key),
        summary: value_ro(&txn, SUMMARIES, key),
        terms: value_ro(&txn, TERMS, key),
        index: terms,
    }
}

/// Puts rows back: the record row alone, or every row of the record.
fn put_back(path: &Path, key: &[u8], old: &RecordRows, all_rows: bool) {
    let now = record_rows(path, key);
    let db = redb::Database::open(path).unwrap();
    let txn = db.begin_write().unwrap();
    {
        txn.open_table(RECORDS)
            .unwrap()
            .insert(key, old.record.as_slice())
            .unwrap();
        if all_rows {
            txn.open_table(SUMMARIES)
                .unwrap()
                .insert(key, old.summary.as_slice())
                .unwrap();
            txn.open_table(TERMS)
                .unwrap()
                .insert(key, old.terms.as_slice())
                .unwrap();
            let mut index = txn.open_multimap_table(NAME_INDEX).unwrap();
            for t in &now.index {
                index.remove(t.as_slice(), key).unwrap();
            }
            for t in &old.index {
                index.insert(t.as_slice(), key).unwrap();
            }
        }
    }
    txn.commit().unwrap();
}

/// A record rolled back to its first version, by its record row alone or by all its rows (record,
/// summary, index terms and index entries), after an edit that renamed the child. Whatever a
/// caseworker does next must not show the old version as if it were current: the edit would be
/// silently lost.
///
/// Expected (agreed with the vault engineer, issue 8 findings 4 and 7): `get` and `all` fail
/// with `Tampered`; `list` fails with `Tampered` or (record row alone) shows the new summary; a
/// search by the old name fails with `Tampered` or does not find the record, one by the new name
/// never shows the old summary; `verify` fails with `Tampered`. (Before the vault's
/// `record_versions` table, `get` returned the old version without an error.)
#[test]
fn a_rolled_back_record_is_never_shown_as_current() {
    for all_rows in [false, true] {
        let variant = if all_rows {
            "all its rows"
        } else {
            "its record row"
        };
        let dir = tempfile::tempdir().unwrap();
        let path = Vault::file_in(dir.path());
        let mut s = create_vault(&path, lenient_policy()).unwrap();
        s.create(&edited_record(SEED, 17, 0), NOW_MS).unwrap();
        s.create(&edited_record(SEED, 18, 0), NOW_MS).unwrap();
        drop(s);
        let key = row_key(17);
        let id = cases::case_id(SEED, 17);
        let old = record_rows(&path, &key);
        let old_name = cases::search_name(SEED, 17);
        let new_name = "Quenmarrow Zqvorbalixt";
        let mut s = Vault::open(&path, OpenOptions::default())
            .unwrap()
            .unlock(USER, PIN, NOW_MS)
            .unwrap();
        let mut edited = edited_record(SEED, 17, 1).to_json();
        edited["name"] = serde_json::json!(new_name);
        edited["name_other"] = serde_json::Value::Null;
        s.update(RecordKind::Case, id, &edited, NOW_MS + 1).unwrap();
        drop(s);
        put_back(&path, &key, &old, all_rows);

        let mut s = Vault::open(&path, OpenOptions::default())
            .unwrap()
            .unlock(USER, PIN, NOW_MS + 10)
            .unwrap();
        let is_old = |c: &Case| c.name.as_deref() == Some(old_name.as_str());
        match s.get(RecordKind::Case, id, NOW_MS + 11) {
            Err(ReadError::Store(StoreError::Tampered { .. })) => {}
            Ok(o) if as_case(&o.record).is_some_and(is_old) => {
                panic!("{variant} rolled back: get shows the old version as current")
            }
            other => panic!("{variant} rolled back: get gives {other:?}, not Tampered"),
        }
        match s.all(RecordKind::Case, NOW_MS + 12) {
            Err(ReadError::Store(StoreError::Tampered { .. })) => {}
            Ok(all) if all.iter().any(|o| as_case(&o.record).is_some_and(is_old)) => {
                panic!("{variant} rolled back: all() shows the old version as current")
            }
            other => panic!("{variant} rolled back: all() gives {other:?}, not Tampered"),
        }
        match s.list(RecordKind::Case, 0, 10) {
            Err(ReadError::Store(StoreError::Tampered { .. })) => {}
            Ok(list) => {
                let shown = list.iter().find(|x| x.id == id).map(|x| x.name.clone());
                assert!(
                    !all_rows && shown.as_deref() == Some(new_name),
                    "{variant} rolled back: the list shows {shown:?}"
                );
            }
            Err(e) => panic!("{variant} rolled back: list fails with {e}, not Tampered"),
        }
        for (query, old_query) in [(old_name.as_str(), true), (new_name, false)] {
            match s.search(RecordKind::Case, query, 10, NOW_MS + 13) {
                Err(ReadError::Store(StoreError::Tampered { .. })) => {}
                Ok(found) => {
                    let hit = found.iter().find(|x| x.id == id);
                    assert!(
                        hit.is_none_or(|h| !old_query && h.name == new_name),
                        "{variant} rolled back: a search for {query} shows {hit:?}"
                    );
                }
                Err(e) => panic!("{variant} rolled back: search fails with {e}, not Tampered"),
            }
        }
        assert!(
            is_tampered(s.verify()),
            "{variant} rolled back: verify passes"
        );
    }
    println!(
        "tamper: a record rolled back by one row or by all its rows is never shown as current"
    );
}

/// Runs `f` on the blind name index of the closed vault file.
fn rewrite_index(path: &Path, f: impl FnOnce(&mut redb::MultimapTable<&[u8], &[u8]>)) {
    let db = redb::Database::open(path).unwrap();
    let txn = db.begin_write().unwrap();
    f(&mut txn.open_multimap_table(NAME_INDEX).unwrap());
    txn.commit().unwrap();
}

#[test]
fn a_damaged_name_index_is_reported_by_verify() {
    use redb::ReadableMultimapTable;
    // One entry removed: a search would miss that child.
    let dir = tempfile::tempdir().unwrap();
    let path = build_vault(dir.path());
    rewrite_index(&path, |index| {
        let (term, key) = {
            let (t, mut keys) = index.iter().unwrap().next().unwrap().unwrap();
            let k = keys.next().unwrap().unwrap();
            (t.value().to_vec(), k.value().to_vec())
        };
        assert!(index.remove(term.as_slice(), key.as_slice()).unwrap());
    });
    let s = Vault::open(&path, OpenOptions::default())
        .unwrap()
        .unlock(USER, PIN, NOW_MS + 10)
        .unwrap();
    let err = s.verify().unwrap_err();
    assert!(
        matches!(&err, CheckError::Store(StoreError::Tampered { what }) if what.contains("name index")),
        "{err}"
    );
    drop(s);
    // One entry added: a search would show a child under a name that is not theirs.
    let dir = tempfile::tempdir().unwrap();
    let path = build_vault(dir.path());
    rewrite_index(&path, |index| {
        index
            .insert([7u8; 16].as_slice(), row_key(12).as_slice())
            .unwrap();
    });
    let s = Vault::open(&path, OpenOptions::default())
        .unwrap()
        .unlock(USER, PIN, NOW_MS + 10)
        .unwrap();
    assert!(is_tampered(s.verify()));
    println!("tamper: a name-index entry removed or added fails verify()");
}

fn value_ro(txn: &redb::ReadTransaction, t: TableDefinition<&[u8], &[u8]>, key: &[u8]) -> Vec<u8> {
    txn.open_table(t)
        .unwrap()
        .get(key)
        .unwrap()
        .unwrap()
        .value()
        .to_vec()
}

#[test]
fn a_truncated_vault_is_refused_without_panic() {
    let dir = tempfile::tempdir().unwrap();
    let pristine = std::fs::read(build_vault(dir.path())).unwrap();
    let len = pristine.len();
    let file = dir.path().join("cut.redb");
    let mut failures = Vec::new();
    let mut results = Vec::new();
    for cut in [
        0,
        1,
        9,
        64,
        300,
        511,
        4095,
        4096,
        8192,
        len / 4,
        len / 2,
        len * 3 / 4,
        len - 4096,
        len - 512,
        len - 1,
    ] {
        std::fs::write(&file, &pristine[..cut]).unwrap();
        for verify_on_open in [true, false] {
            let what = format!("cut at {cut} of {len} (verify_on_open {verify_on_open})");
            match probe_catching(&file, verify_on_open, &what) {
                Err(panic) => failures.push(panic),
                // Damage, named as damage: not a disk error, not a wrong PIN.
                Ok(Outcome::Refused(step, e)) if kind(&e) != "Corrupt" => {
                    failures.push(format!("{what}: refused at {step} as {}: {e}", kind(&e)));
                }
                Ok(Outcome::Refused(step, e)) if verify_on_open => {
                    results.push(format!("{cut}: {step}: {e}"));
                }
                Ok(Outcome::Refused(..)) => {}
                Ok(Outcome::Read(_)) => failures.push(format!("{what}: read as whole")),
            }
        }
    }
    println!("tamper: truncated files:\n  {}", results.join("\n  "));
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn a_second_process_cannot_open_a_vault_in_use() {
    let dir = tempfile::tempdir().unwrap();
    let path = Vault::file_in(dir.path());
    let s = create_vault(&path, lenient_policy()).unwrap();
    let writer = env!("CARGO_BIN_EXE_vault-writer");
    // This process holds it: another process is told it is in use.
    let out = Command::new(writer)
        .args(["open", path.to_str().unwrap()])
        .output()
        .unwrap();
    assert_eq!(String::from_utf8_lossy(&out.stdout).trim(), "in-use");
    drop(s);
    // Another process holds it: this process is told it is in use, until that process exits.
    let mut child = Command::new(writer)
        .args(["hold", path.to_str().unwrap()])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    assert_eq!(line.trim(), "holding");
    assert!(matches!(
        Vault::open(&path, OpenOptions::default()),
        Err(OpenError::InUse(_))
    ));
    child.stdin.take().unwrap().flush().unwrap();
    assert!(child.wait().unwrap().success());
    Vault::open(&path, OpenOptions::default())
        .unwrap()
        .unlock(USER, PIN, NOW_MS)
        .unwrap();
}
