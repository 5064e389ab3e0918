//! The margin rule on a kit: a *likely* match must stand clear of the trace's next candidate.
//! A namesake registered later makes a pending likely match possible (and says so); when the
//! namesake leaves, it is likely again; a sign-in's rebuild classes every pending match as the
//! saves did.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use fieldkit_app::{Alert, Kit, KitConfig, MatchFilter};
use fieldkit_domain::{PotentialMatch, RecordId, RecordKind};
use fieldkit_vault::{CredentialPolicy, InitOptions, OpenOptions, Vault};
use serde_json::{Map, Value, json};

const NOW: u64 = 1_772_000_000_000; // 2026-02-25
const PIN: &[u8] = b"482915";

fn kit(dir: &tempfile::TempDir) -> Kit {
    let (session, _recovery) = Vault::create(
        &dir.path().join("vault.redb"),
        InitOptions {
            username: "amina",
            display_name: "Amina K.",
            credential: PIN,
            policy: CredentialPolicy::default(),
            now_ms: NOW,
        },
        OpenOptions::default(),
    )
    .unwrap();
    Kit::open(session, KitConfig::default(), NOW).unwrap()
}

/// A child known by name, sex and age only: enough for *likely* (about 14 bits), not for
/// *likely* whatever the other candidates (19).
fn child(age: u32) -> Map<String, Value> {
    json!({"name": "Amina Yusuf", "sex": "female", "age": age, "consent_for_tracing": true})
        .as_object()
        .cloned()
        .unwrap()
}

fn request() -> Map<String, Value> {
    json!({
        "relation_name": "Halima Yusuf", "relation": "mother",
        "tracing_request_subform_section": [{"unique_id": "t1", "name": "Amina Yusuf", "sex": "female", "age": 9}],
    })
    .as_object()
    .cloned()
    .unwrap()
}

fn pending_of(kit: &Kit, case: RecordId) -> PotentialMatch {
    kit.potential_matches(&MatchFilter {
        status: Some("pending".into()),
        ..MatchFilter::default()
    })
    .into_iter()
    .find(|m| m.case_id == case)
    .unwrap()
}

fn no_longer_likely(alerts: &[Alert], id: RecordId) -> bool {
    alerts
        .iter()
        .any(|a| matches!(a, Alert::MatchNoLongerLikely { match_id, .. } if *match_id == id))
}

#[test]
fn a_namesake_makes_a_likely_match_possible_until_it_leaves() {
    let dir = tempfile::tempdir().unwrap();
    let mut kit = kit(&dir);
    let first = kit.register(RecordKind::Case, child(9), NOW).unwrap();
    let req = kit
        .register(RecordKind::TracingRequest, request(), NOW + 1)
        .unwrap();
    let m = &req.matches[0];
    assert_eq!(m.case_id, first.id);
    assert_eq!(m.likelihood.as_deref(), Some("likely"), "{m:?}");
    assert!(m.score < 19.0, "{}", m.score);
    assert!(
        req.alerts
            .iter()
            .any(|a| matches!(a, Alert::LikelyMatch { .. }))
    );

    // A namesake a year older: it scores within the margin, so neither is likely, and the
    // caseworker told of the first hears it is not clear any more.
    let second = kit.register(RecordKind::Case, child(10), NOW + 2).unwrap();
    assert!(
        no_longer_likely(&second.alerts, m.id),
        "{:?}",
        second.alerts
    );
    let earlier = pending_of(&kit, first.id);
    assert_eq!(earlier.likelihood.as_deref(), Some("possible"));
    assert!(
        earlier
            .comparison
            .iter()
            .any(|e| e.field == "likelihood" && e.detail.contains("another record")),
        "{:?}",
        earlier.comparison
    );
    let rival = pending_of(&kit, second.id);
    assert_eq!(rival.likelihood.as_deref(), Some("possible"));
    assert!(
        !second
            .alerts
            .iter()
            .any(|a| matches!(a, Alert::LikelyMatch { .. }))
    );

    // What a rebuild gives (a new sign-in's index) is what the saves left.
    let rebuilt = kit.rematch_all(NOW + 3).unwrap();
    assert!(rebuilt.alerts.is_empty(), "{:?}", rebuilt.alerts);
    assert_eq!(
        pending_of(&kit, first.id).likelihood.as_deref(),
        Some("possible")
    );

    // The namesake's case is closed: the first match stands clear again and is announced.
    let closed = kit
        .close_case(second.id, "transferred", None, NOW + 4)
        .unwrap();
    assert!(
        closed
            .alerts
            .iter()
            .any(|a| matches!(a, Alert::LikelyMatch { match_id, .. } if *match_id == m.id)),
        "{:?}",
        closed.alerts
    );
    assert_eq!(
        pending_of(&kit, first.id).likelihood.as_deref(),
        Some("likely")
    );
}
