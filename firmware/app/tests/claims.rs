//! One child, one request (`MatchSettings::claimed`), kept by the kit's registration path: a
//! second tracing request whose child fits a case as well or better makes the first
//! request's *likely* match of that case possible (the caseworker is told), and closing that
//! request, or editing its child into another, makes the first likely again. After every
//! step the warm index equals a rebuild from the vault and every pending match is stored in
//! the class a rebuild gives it.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use fieldkit_app::{Alert, Kit, MatchFilter, Saved};
use fieldkit_domain::explain::Detail;
use fieldkit_domain::{PotentialMatch, RecordId, RecordKind};
use fieldkit_match::matcher::Likelihood;
use serde_json::{Map, Value, json};

const NOW: u64 = 1_772_000_000_000;

fn obj(v: Value) -> Map<String, Value> {
    v.as_object().cloned().unwrap()
}

fn case() -> Map<String, Value> {
    obj(json!({
        "name": "Amina Yusuf", "sex": "female", "age": 7,
        "date_of_separation": "2026-01-10", "location_separation": "JO-MA-ZAATARI",
        "consent_for_tracing": true,
        "family_details_section": [{"unique_id": "m", "relation": "mother", "relation_name": "Halima Yusuf"}],
    }))
}

/// An uncle's request for one child, as he describes it: name, sex and age only (the rule
/// holds below `likely_without_margin`, 19 bits; with the separation and the mother's name the
/// pair would weigh more).
fn request(name: &str, age: i64) -> Map<String, Value> {
    obj(json!({
        "relation_name": "Khalid Omar", "relation": "uncle",
        "tracing_request_subform_section": [{"unique_id": "a", "name": name, "sex": "female", "age": age}],
    }))
}

fn pair(kit: &Kit, case: RecordId, request: RecordId) -> PotentialMatch {
    kit.potential_matches(&MatchFilter {
        case_id: Some(case),
        tracing_request_id: Some(request),
        ..MatchFilter::default()
    })
    .into_iter()
    .next()
    .expect("the pair is a potential match")
}

fn likely(m: &PotentialMatch) -> bool {
    m.likelihood.as_deref() == Some(Likelihood::Likely.as_str())
}

fn claimed(m: &PotentialMatch) -> bool {
    m.comparison
        .iter()
        .any(|e| e.field == "likelihood" && e.detail == Detail::Claimed)
}

fn told_likely(alerts: &[Alert], id: RecordId) -> bool {
    alerts
        .iter()
        .any(|a| matches!(a, Alert::LikelyMatch { match_id, .. } if *match_id == id))
}

fn told_no_longer(alerts: &[Alert], id: RecordId) -> bool {
    alerts
        .iter()
        .any(|a| matches!(a, Alert::MatchNoLongerLikely { match_id, .. } if *match_id == id))
}

/// The warm index equals a rebuild, and each pending match is stored in the rebuild's class.
fn as_rebuilt(kit: &mut Kit, now: u64) {
    let fresh = kit.fresh_index(now).unwrap();
    let diff = common::unlike_a_rebuild(kit, &fresh);
    assert!(diff.is_empty(), "{diff:#?}");
}

/// A kit with the case registered, and the next moment.
fn kit_with_case(dir: &std::path::Path) -> (Kit, RecordId, u64) {
    let mut kit = common::new_kit(dir, NOW);
    let c = kit
        .register(RecordKind::Case, case(), NOW + 1_000)
        .unwrap()
        .id;
    (kit, c, NOW + 2_000)
}

fn register_request(kit: &mut Kit, name: &str, age: i64, now: u64) -> Saved {
    kit.register(RecordKind::TracingRequest, request(name, age), now)
        .unwrap()
}

fn set_status(kit: &mut Kit, request: RecordId, status: &str, now: u64) -> Saved {
    kit.change(RecordKind::TracingRequest, request, now, |o| {
        o.insert("status".into(), json!(status));
        Ok(())
    })
    .unwrap()
}

#[test]
fn a_second_request_for_the_child_demotes_the_first_until_it_is_closed_or_edited_away() {
    let dir = tempfile::tempdir().unwrap();
    let (mut kit, c, mut now) = kit_with_case(dir.path());

    // The first request, with a spelling of its own: likely, and the caseworker is told.
    let first = register_request(&mut kit, "Aminah Yousef", 8, now);
    let m1 = pair(&kit, c, first.id);
    assert!(likely(&m1), "{m1:?}");
    assert!(told_likely(&first.alerts, m1.id));
    as_rebuilt(&mut kit, now);

    // A second request fits the case better: its match is likely, the first one's possible,
    // explained, and the caseworker who was told "likely" hears it is not clear any more.
    now += 1_000;
    let second = register_request(&mut kit, "Amina Yusuf", 7, now);
    let m2 = pair(&kit, c, second.id);
    assert!(m2.score > m1.score, "{} / {}", m2.score, m1.score);
    assert!(likely(&m2), "{m2:?}");
    assert!(told_likely(&second.alerts, m2.id));
    let m1 = pair(&kit, c, first.id);
    assert!(!likely(&m1) && claimed(&m1), "{m1:?}");
    assert!(told_no_longer(&second.alerts, m1.id), "{:?}", second.alerts);
    as_rebuilt(&mut kit, now);

    // The second request is closed: the first match is likely again, and said so.
    now += 1_000;
    let closed = set_status(&mut kit, second.id, "closed", now);
    let m1 = pair(&kit, c, first.id);
    assert!(likely(&m1) && !claimed(&m1), "{m1:?}");
    assert!(told_likely(&closed.alerts, m1.id), "{:?}", closed.alerts);
    as_rebuilt(&mut kit, now);

    // Reopened, it claims the case again.
    now += 1_000;
    let reopened = set_status(&mut kit, second.id, "open", now);
    assert!(!likely(&pair(&kit, c, first.id)));
    assert!(told_no_longer(&reopened.alerts, m1.id));
    as_rebuilt(&mut kit, now);

    // Its child edited into another (a boy of another name): the first is likely again.
    now += 1_000;
    let edited = kit
        .change(RecordKind::TracingRequest, second.id, now, |o| {
            o["tracing_request_subform_section"][0]["name"] = json!("Omar Khalid");
            o["tracing_request_subform_section"][0]["sex"] = json!("male");
            Ok(())
        })
        .unwrap();
    let m1 = pair(&kit, c, first.id);
    assert!(likely(&m1), "{m1:?}");
    assert!(told_likely(&edited.alerts, m1.id), "{:?}", edited.alerts);
    as_rebuilt(&mut kit, now);

    // A sign-in builds the same classes.
    let vault = kit.lock();
    let session = vault.unlock(common::USER, common::PIN, now).unwrap();
    let mut kit = Kit::open(session, fieldkit_app::KitConfig::default(), now).unwrap();
    assert!(likely(&pair(&kit, c, first.id)));
    as_rebuilt(&mut kit, now);
}

/// The first request fitting the case better keeps its *likely* when a weaker one arrives;
/// the weaker one is possible from the start and no alert says otherwise.
#[test]
fn a_weaker_second_request_is_possible_from_the_start() {
    let dir = tempfile::tempdir().unwrap();
    let (mut kit, c, now) = kit_with_case(dir.path());
    let strong = register_request(&mut kit, "Amina Yusuf", 7, now);
    let weak = register_request(&mut kit, "Aminah Yousef", 8, now + 1_000);
    let (ms, mw) = (pair(&kit, c, strong.id), pair(&kit, c, weak.id));
    assert!(likely(&ms), "{ms:?}");
    assert!(!likely(&mw) && claimed(&mw), "{mw:?}");
    assert!(!told_likely(&weak.alerts, mw.id));
    assert!(!told_no_longer(&weak.alerts, ms.id));
    as_rebuilt(&mut kit, now);
}
