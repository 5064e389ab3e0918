//! A kit made ready from the vault's snapshot of its index (a one-shot command, a second
//! sign-in) proposes exactly what a kit that read every record proposes, after records were
//! added, edited and closed behind the snapshot's back; a snapshot of another day, of another
//! location tree or sealed under rotated keys is not used.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use fieldkit_app::{IndexSource, Kit, KitConfig, MatchIndex};
use fieldkit_domain::{Date, RecordKind};
use fieldkit_match::matcher::MatchSettings;
use fieldkit_match_eval::population::{PopulationSpec, generate};
use fieldkit_vault::{OpenOptions, Vault};
use serde_json::Value;

use common::{PIN, form, open_kit as open};

fn same_matches(a: &MatchIndex, b: &MatchIndex) -> usize {
    let settings = MatchSettings::default();
    let key =
        |s: &fieldkit_app::Scored| (s.case_id, s.trace.clone(), s.weight.to_bits(), s.likelihood);
    let mut n = 0;
    for r in a.request_ids() {
        for t in a.traces_of(r) {
            let x: Vec<_> = a.matches_of_trace(&t, &settings).iter().map(key).collect();
            let y: Vec<_> = b.matches_of_trace(&t, &settings).iter().map(key).collect();
            assert_eq!(x, y, "trace {t:?}");
            n += x.len();
        }
    }
    assert_eq!(a.request_ids(), b.request_ids());
    n
}

#[test]
fn a_kit_from_the_snapshot_proposes_what_a_full_build_proposes() {
    let pop = generate(PopulationSpec::with_cases(7, 1600));
    let now = 1_772_366_400_000; // the population's day, noon
    let today = Date::from_unix_ms(now);
    let (mut cases, mut requests) = common::population_records(&pop, today);
    let held_cases = cases.split_off(cases.len() - 40);
    let held_requests = requests.split_off(requests.len() - 20);
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("vault.redb");
    let mut s = common::new_vault(&path, now, OpenOptions::default());
    s.create_many(&cases, now).unwrap();
    s.create_many(&requests, now).unwrap();

    // First sign-in: built from the records; the snapshot is saved at sign-out.
    let kit = Kit::open(s, KitConfig::default(), now).unwrap();
    assert_eq!(kit.index_source(), IndexSource::Built);
    assert!(kit.index_snapshot_due());
    drop(kit.lock());

    // Behind the snapshot's back: new records, renamed children, closed cases, a request
    // whose trace is renamed.
    let vault = Vault::open(&path, OpenOptions::default()).unwrap();
    let mut s = vault.unlock("amina", PIN, now + 1).unwrap();
    s.create_many(&held_cases[..10], now + 1).unwrap();
    s.create_many(&held_requests[..5], now + 1).unwrap();
    let mut edited = 0;
    for (i, r) in cases.iter().enumerate().filter(|(i, _)| i % 97 == 0) {
        let mut o = r.to_json();
        if i % 2 == 0 {
            o["name"] = Value::String("Amina Yusuf Hassan".into());
        } else {
            o["status"] = Value::String("closed".into());
            o["closure_reason"] = Value::String("reunified".into());
            o["date_closure"] = Value::String(today.to_string());
        }
        s.update(RecordKind::Case, r.id(), &o, now + 2).unwrap();
        edited += 1;
    }
    let r = &requests[3];
    let mut o = r.to_json();
    o["tracing_request_subform_section"][0]["name"] = Value::String("Omar Khalid".into());
    s.update(RecordKind::TracingRequest, r.id(), &o, now + 2)
        .unwrap();
    drop(s.lock());

    // Both kits on copies of the same vault: one from the snapshot, one building.
    let copy = dir.path().join("copy.redb");
    std::fs::copy(&path, &copy).unwrap();
    let mut warm = open(&path, now + 3, KitConfig::default());
    assert_eq!(
        warm.index_source(),
        IndexSource::Snapshot {
            reread: 10 + 5 + edited + 1
        }
    );
    let mut built = open(&copy, now + 3, KitConfig::default());
    built
        .session_mut()
        .remove_cache("match-index")
        .expect("removing the snapshot");
    built.rebuild_index(now + 3).unwrap();
    let fresh = warm.fresh_index(now + 4).unwrap();
    assert_eq!(warm.index().differences(&fresh), Vec::<String>::new());
    assert!(same_matches(warm.index(), built.index()) > 100);

    // Registrations propose the same matches with the same scores on both.
    for (kind, r) in held_cases[10..]
        .iter()
        .map(|r| (RecordKind::Case, r))
        .chain(
            held_requests[5..]
                .iter()
                .map(|r| (RecordKind::TracingRequest, r)),
        )
    {
        let a = warm.register(kind, form(r), now + 5).unwrap();
        let b = built.register(kind, form(r), now + 5).unwrap();
        let key = |m: &fieldkit_domain::PotentialMatch| {
            (m.trace_id.clone(), m.score.to_bits(), m.likelihood.clone())
        };
        assert_eq!(
            a.matches.iter().map(key).collect::<Vec<_>>(),
            b.matches.iter().map(key).collect::<Vec<_>>()
        );
    }
    drop(built.lock());

    // Another day: ages of records without a registration date move, so it is rebuilt.
    drop(warm.lock());
    let next_day = now + 86_400_000;
    let kit = open(&path, next_day, KitConfig::default());
    assert_eq!(kit.index_source(), IndexSource::Built);
    drop(kit.lock());
    let kit = open(&path, next_day + 1, KitConfig::default());
    assert!(matches!(kit.index_source(), IndexSource::Snapshot { .. }));
    drop(kit.lock());

    // Another location tree: places are paths in it, so it is rebuilt.
    let with_tree = KitConfig {
        locations: Some(pop.locations.clone()),
        ..KitConfig::default()
    };
    let mut kit = open(&path, next_day + 2, with_tree);
    assert_eq!(kit.index_source(), IndexSource::Built);
    let fresh = kit.fresh_index(next_day + 3).unwrap();
    assert_eq!(kit.index().differences(&fresh), Vec::<String>::new());
    drop(kit.lock());
}
