//! The list tables (`Session::positions_where`): after any sequence of registrations, edits,
//! merges of records from elsewhere (ids older than the newest, so they land mid-list) and
//! writes that never committed, the positions a filter gets from memory are the ones a fresh
//! read of every summary gives.
#![allow(clippy::unwrap_used)]

use std::cell::RefCell;

use fieldkit_domain::{Case, DeviceId, Document, Hlc, Record, RecordId, RecordKind, Sex};
use fieldkit_vault::{Facets, Session};
use proptest::prelude::*;

mod common;

use common::{NOW, init};

const STATUSES: [Option<&str>; 3] = [Some("open"), Some("closed"), None];
const RISKS: [Option<&str>; 4] = [Some("high"), Some("medium"), Some("low"), None];

#[derive(Debug, Clone, Copy)]
struct Facet {
    status: usize,
    risk: usize,
    urgent: bool,
}

fn facet() -> impl Strategy<Value = Facet> {
    (0..STATUSES.len(), 0..RISKS.len(), any::<bool>()).prop_map(|(status, risk, urgent)| Facet {
        status,
        risk,
        urgent,
    })
}

#[derive(Debug, Clone)]
enum Step {
    /// Registered here (the newest id).
    Register(Facet),
    /// Received from another kit: an id minted `minutes_ago` before now, so it sorts before
    /// the records registered since.
    Received { minutes_ago: u64, facet: Facet },
    /// A record edited (the `at`-th held, modulo how many there are).
    Edit { at: usize, facet: Facet },
    /// An edit written in a transaction that is dropped before it commits.
    Abandoned { at: usize, facet: Facet },
}

fn step() -> impl Strategy<Value = Step> {
    prop_oneof![
        3 => facet().prop_map(Step::Register),
        2 => (1u64..100_000, facet()).prop_map(|(minutes_ago, facet)| Step::Received { minutes_ago, facet }),
        3 => (any::<usize>(), facet()).prop_map(|(at, facet)| Step::Edit { at, facet }),
        1 => (any::<usize>(), facet()).prop_map(|(at, facet)| Step::Abandoned { at, facet }),
    ]
}

fn case(id: RecordId, n: usize, f: Facet) -> Record {
    Record::Case(Box::new(Case {
        id,
        name: Some(format!("Child {n}")),
        sex: Some(Sex::Female),
        age: Some(9),
        registration_date: Some("2025-11-29".parse().unwrap()),
        status: STATUSES[f.status].map(str::to_string),
        risk_level: RISKS[f.risk].map(str::to_string),
        urgent_protection_concern: f.urgent,
        ..Case::default()
    }))
}

type Filter = Box<dyn Fn(&Facets<'_>) -> bool>;

/// The filters a screen asks: status, risk, urgent and their mixes.
fn filters() -> Vec<Filter> {
    vec![
        Box::new(|f| f.status == Some("open")),
        Box::new(|f| f.status == Some("closed")),
        Box::new(|f| f.risk_level == Some("high")),
        Box::new(|f| f.urgent && f.status == Some("open")),
        Box::new(|f| f.risk_level == Some("low") && f.status == Some("open")),
        Box::new(|_| true),
    ]
}

/// What a filter gets from a fresh read of every summary.
fn read_afresh(s: &Session, keep: &dyn Fn(&Facets<'_>) -> bool) -> Vec<u32> {
    s.list(RecordKind::Case, 0, usize::MAX)
        .unwrap()
        .iter()
        .enumerate()
        .filter(|(_, x)| {
            keep(&Facets {
                status: x.status.as_deref(),
                risk_level: x.risk_level.as_deref(),
                urgent: x.urgent,
            })
        })
        .map(|(i, _)| u32::try_from(i).unwrap())
        .collect()
}

fn run(s: &mut Session, steps: &[Step]) -> Result<(), TestCaseError> {
    let filters = filters();
    // The table is made by the first look, so some steps run before it exists and some after.
    let mut ids: Vec<RecordId> = Vec::new();
    for (n, st) in steps.iter().enumerate() {
        let now = NOW + n as u64 * 60_000;
        match st {
            Step::Register(f) => {
                let id = s.mint_id(now).unwrap();
                s.create(&case(id, n, *f), now).unwrap();
                ids.push(id);
            }
            Step::Received { minutes_ago, facet } => {
                let minted = now.saturating_sub(minutes_ago * 60_000);
                let id = RecordId::mint(minted, [n as u8; 10]);
                let json = case(id, n, *facet).to_json();
                let stamp = Hlc {
                    wall_ms: minted,
                    counter: 0,
                    device: DeviceId(77),
                };
                let (doc, _) = Document::create(RecordKind::Case, id, &json, stamp).unwrap();
                let mut tx = s.begin().unwrap();
                tx.merge(&[doc], now).unwrap();
                tx.commit().unwrap();
                ids.push(id);
            }
            Step::Edit { at, facet } | Step::Abandoned { at, facet } => {
                if ids.is_empty() {
                    continue;
                }
                let id = ids[at % ids.len()];
                let json = case(id, n, *facet).to_json();
                let mut tx = s.begin().unwrap();
                tx.update(RecordKind::Case, id, &json, now).unwrap();
                if matches!(st, Step::Edit { .. }) {
                    tx.commit().unwrap();
                }
            }
        }
        if n % 3 == 2 || n + 1 == steps.len() {
            let all = s.list(RecordKind::Case, 0, usize::MAX).unwrap();
            for keep in &filters {
                let got = s.positions_where(RecordKind::Case, keep.as_ref()).unwrap();
                prop_assert_eq!(
                    &got,
                    &read_afresh(s, keep.as_ref()),
                    "after step {}: {:?}",
                    n,
                    st
                );
                // The rows at those positions are the summaries a full list has there.
                let rows = s.list_at_audited(RecordKind::Case, &got, now).unwrap();
                let want: Vec<_> = got.iter().map(|&p| all[p as usize].clone()).collect();
                prop_assert_eq!(rows, want);
            }
        }
    }
    Ok(())
}

thread_local! {
    static DIR: RefCell<Option<tempfile::TempDir>> = const { RefCell::new(None) };
}

proptest! {
    #![proptest_config(fieldkit_testkit::proptest_config(24))]

    #[test]
    fn positions_from_memory_equal_a_fresh_read(steps in prop::collection::vec(step(), 1..40)) {
        let d = tempfile::tempdir().unwrap();
        let mut s = init(d.path());
        run(&mut s, &steps)?;
        DIR.with(|k| *k.borrow_mut() = Some(d));
    }
}

/// A kit signing in again (a new session) reads the tables afresh: what the last session
/// wrote is there.
#[test]
fn a_new_session_starts_from_the_disk() {
    let d = tempfile::tempdir().unwrap();
    let mut s = init(d.path());
    let open = |f: &Facets<'_>| f.status == Some("open");
    let a = s.mint_id(NOW).unwrap();
    s.create(
        &case(
            a,
            0,
            Facet {
                status: 0,
                risk: 0,
                urgent: false,
            },
        ),
        NOW,
    )
    .unwrap();
    assert_eq!(s.positions_where(RecordKind::Case, &open).unwrap(), [0]);
    let b = s.mint_id(NOW + 1).unwrap();
    s.create(
        &case(
            b,
            1,
            Facet {
                status: 1,
                risk: 0,
                urgent: false,
            },
        ),
        NOW + 1,
    )
    .unwrap();
    assert_eq!(s.positions_where(RecordKind::Case, &open).unwrap(), [0]);
    let vault = s.lock();
    let s = vault.unlock("amina", b"482915", NOW + 2).unwrap();
    assert_eq!(s.positions_where(RecordKind::Case, &open).unwrap(), [0]);
    assert_eq!(
        s.positions_where(RecordKind::Case, &|f| f.status == Some("closed"))
            .unwrap(),
        [1]
    );
}
