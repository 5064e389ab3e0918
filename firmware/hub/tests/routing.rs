//! The hub over a real vault, with kits as sans-IO endpoints: records from two kits are
//! matched and both kits notified with the explanation; a review decision made on one kit
//! reaches the other; a case transferred to another agency reaches that agency's kit with
//! its history; a rolled-back kit vault is noticed and remembered; and a restarted hub keeps
//! its kits, their windows and what it routed.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::*;
use fieldkit_domain::explain::Detail;
use fieldkit_domain::{Document, PotentialMatch, Record, RecordId, RecordKind};
use fieldkit_hub::{HubService, init};
use fieldkit_sync::message::{Body, OpsForm, ReviewDecision, Status};

const MTU: usize = 1200;

fn exchange(hub: &mut HubService, kit: &mut KitEnd, now: u64) -> fieldkit_hub::Receipt {
    let up = kit.frames(now, MTU);
    let receipt = hub.receive(&up, now).unwrap();
    let down = hub.transmit(kit.id, MTU, 256, now).unwrap();
    kit.take(&down);
    receipt
}

fn settle(hub: &mut HubService, kits: &mut [&mut KitEnd], mut now: u64) -> u64 {
    for _ in 0..6 {
        for k in kits.iter_mut() {
            exchange(hub, k, now);
        }
        now += 1_000;
    }
    now
}

/// The potential matches a kit received, as their records (merged from every operation).
fn notices(k: &KitEnd) -> Vec<PotentialMatch> {
    let mut docs: Vec<Document> = Vec::new();
    for b in &k.received {
        let Body::Ops(ops) = b else { continue };
        for op in ops.iter().filter(|o| o.kind == RecordKind::PotentialMatch) {
            match docs.iter_mut().find(|d| d.id() == op.record) {
                Some(d) => {
                    d.apply(op).unwrap();
                }
                None => {
                    let mut d = Document::new(op.kind, op.record);
                    d.apply(op).unwrap();
                    docs.push(d);
                }
            }
        }
    }
    docs.iter()
        .map(|d| match d.to_record().unwrap() {
            Record::PotentialMatch(m) => *m,
            other => panic!("not a potential match: {other:?}"),
        })
        .collect()
}

/// How many messages carried potential-match operations.
fn match_messages(k: &KitEnd) -> usize {
    k.received
        .iter()
        .filter(|b| matches!(b, Body::Ops(ops) if ops.iter().any(|o| o.kind == RecordKind::PotentialMatch)))
        .count()
}

#[test]
fn kits_are_matched_across_notified_hear_each_others_decisions_and_transfers_carry_history() {
    let dir = tempfile::tempdir().unwrap();
    let mut session = hub_vault(dir.path());
    let hub_public = init(&mut session).unwrap();
    assert!(init(&mut session).is_err(), "a hub key is made once");
    let mut hub = HubService::open(session, NOW).unwrap();
    assert_eq!(hub.public(), hub_public);

    let mut a = KitEnd::new(0x0A, hub_public);
    let mut b = KitEnd::new(0x0B, hub_public);
    let mut c = KitEnd::new(0x0C, hub_public);
    hub.enroll(a.public(), "unicef", "Kalma camp", NOW).unwrap();
    hub.enroll(b.public(), "unicef", "Nyala town", NOW).unwrap();
    hub.enroll(c.public(), "irc", "Zam Zam", NOW).unwrap();
    assert!(hub.enroll(a.public(), "unicef", "again", NOW).is_err());

    let case_id = RecordId::from_bytes([0xA1; 16]);
    let request_id = RecordId::from_bytes([0xB2; 16]);
    a.endpoint
        .queue(&Body::Ops(child(case_id, "Amina Yusuf", 0xA)));
    b.endpoint
        .queue(&Body::Ops(request(request_id, "Aminah Yousef", 0xB)));
    let now = settle(&mut hub, &mut [&mut a, &mut b, &mut c], NOW);

    // Both sides hold the notice with its explanation; the third kit holds nothing.
    for k in [&a, &b] {
        let n = notices(k);
        assert_eq!(n.len(), 1, "one notice per kit");
        assert_eq!(n[0].case_id, case_id);
        assert_eq!(n[0].tracing_request_id, request_id);
        assert_eq!(n[0].trace_id, "trace-0");
        assert_eq!(n[0].status.as_deref(), Some("pending"));
        assert!(
            n[0].comparison.iter().any(|e| e.field == "name"),
            "{:?}",
            n[0]
        );
        assert_eq!(match_messages(k), 1, "told once");
    }
    assert!(c.received.is_empty());
    // A case registered for the kit's own agency stays on its kit: B (same agency) got the
    // match notice, not A's case.
    assert!(
        !b.received
            .iter()
            .any(|m| matches!(m, Body::Ops(ops) if ops.iter().any(|o| o.kind == RecordKind::Case))),
        "a registration is no transfer"
    );

    // B's caseworker confirms: A hears it through the hub, C does not.
    let decision = ReviewDecision {
        case: case_id,
        tracing_request: request_id,
        trace: "trace-0".into(),
        confirmed: true,
        by: "amal.h".into(),
        at_min: (now / 60_000) as u32,
    };
    b.endpoint.queue(&Body::Review(decision.clone()));
    let now = settle(&mut hub, &mut [&mut a, &mut b, &mut c], now);
    assert!(a.received.contains(&Body::Review(decision.clone())));
    assert!(
        !b.received.iter().any(|m| matches!(m, Body::Review(_))),
        "not echoed"
    );
    assert!(c.received.is_empty());
    // The hub's own book has the decision.
    let m = hub
        .kit()
        .potential_matches(&fieldkit_app::MatchFilter::default());
    assert_eq!(m.len(), 1);
    assert_eq!(m[0].status.as_deref(), Some("confirmed"));

    // A transfers the case to the IRC: C receives the case with its history, sealed for C.
    a.endpoint.queue(&Body::Ops(vec![set_field(
        RecordKind::Case,
        case_id,
        "owned_by_agency_id",
        "irc",
        0xA,
    )]));
    let _ = settle(&mut hub, &mut [&mut a, &mut b, &mut c], now);
    let ops: Vec<_> = c
        .received
        .iter()
        .filter_map(|b| match b {
            Body::Ops(ops) => Some(ops.clone()),
            _ => None,
        })
        .flatten()
        .collect();
    let mut doc = Document::new(RecordKind::Case, case_id);
    for op in &ops {
        doc.apply(op).unwrap();
    }
    let Record::Case(case) = doc.to_record().unwrap() else {
        panic!("not a case")
    };
    assert_eq!(case.name.as_deref(), Some("Amina Yusuf"));
    assert_eq!(case.owned_by_agency_id.as_deref(), Some("irc"));
    assert_eq!(
        doc.heads("owned_by_agency_id").len(),
        2,
        "the history travels: both the old and the new owner's operations"
    );
}

#[test]
fn a_rolled_back_kit_is_noticed_and_a_restarted_hub_keeps_kits_windows_and_routes() {
    let dir = tempfile::tempdir().unwrap();
    let (mut hub, mut a, mut b) = hub_with_two_kits(dir.path());

    let status = |commits| {
        Body::Status(Status {
            commits,
            audit_head: [commits as u8; 32],
            records: 3,
        })
    };
    a.endpoint.queue(&status(40));
    exchange(&mut hub, &mut a, NOW);
    let case_id = RecordId::from_bytes([0xA1; 16]);
    a.endpoint
        .queue(&Body::Ops(child(case_id, "Amina Yusuf", 0xA)));
    let up = a.frames(NOW + 1_000, MTU);
    assert!(!up.is_empty());
    let r = hub.receive(&up, NOW + 1_000).unwrap();
    assert_eq!(r.records_changed, 1);

    // The hub restarts (its process ends; everything it acknowledged is in its vault).
    drop(hub.lock());
    let mut hub = HubService::open(reopen(dir.path()), NOW).unwrap();
    assert_eq!(hub.kits().len(), 2);
    // The same frames again (a replay, or a kit that never got the answer): refused by the
    // restored window, nothing applied twice.
    let again = hub.receive(&up, NOW + 2_000).unwrap();
    assert_eq!((again.accepted, again.refused), (0, up.len()));
    // The acknowledgement owed was lost with the process; the kit's retry is acknowledged.
    let retry = a.frames(NOW + 30_000, MTU);
    assert!(!retry.is_empty(), "unacknowledged fragments go again");
    let r = hub.receive(&retry, NOW + 30_000).unwrap();
    assert_eq!(r.records_changed, 0, "already held");
    a.take(&hub.transmit(a.id, MTU, 16, NOW + 30_000).unwrap());
    assert!(
        a.endpoint.outbox().is_empty(),
        "acknowledged after the restart"
    );

    // B's request arrives after the restart: the match is found against A's case from
    // before it, and both are told once.
    let request_id = RecordId::from_bytes([0xB2; 16]);
    b.endpoint
        .queue(&Body::Ops(request(request_id, "Aminah Yousef", 0xB)));
    let now = settle(&mut hub, &mut [&mut a, &mut b], NOW + 40_000);
    assert_eq!(notices(&a).len(), 1);
    assert_eq!(notices(&b).len(), 1);
    assert_eq!(match_messages(&a), 1);

    // A's vault comes back from an old image: its counter went down.
    a.endpoint.queue(&status(12));
    let r = exchange(&mut hub, &mut a, now);
    assert_eq!(r.rollbacks, vec![a.id]);
    drop(hub.lock());
    let mut hub = HubService::open(reopen(dir.path()), NOW).unwrap();
    let view = hub.kits().into_iter().find(|k| k.id == a.id).unwrap();
    assert_eq!(
        view.file.rollbacks.len(),
        1,
        "remembered for the coordinator"
    );
    assert_eq!(view.file.rollbacks[0].before_commits, 40);
    assert_eq!(view.file.rollbacks[0].now_commits, 12);
    // Nothing is routed twice after the restart.
    let now = settle(&mut hub, &mut [&mut a, &mut b], now + 1_000);
    assert_eq!(match_messages(&a), 1);
    assert_eq!(match_messages(&b), 1);
    let _ = now;
}

#[test]
fn messages_waiting_for_a_kit_are_kept_apart_survive_a_restart_and_go_when_acknowledged() {
    let dir = tempfile::tempdir().unwrap();
    let (mut hub, mut a, mut b) = hub_with_two_kits(dir.path());
    let waiting = |hub: &HubService, kit| {
        hub.kit()
            .session()
            .sync_names(&fieldkit_hub::store::out_prefix(kit))
            .unwrap()
            .len()
    };
    a.endpoint.queue(&Body::Ops(child(
        RecordId::from_bytes([0xA1; 16]),
        "Amina Yusuf",
        0xA,
    )));
    exchange(&mut hub, &mut a, NOW);
    // B's request matches A's case: B hears at once, A's notice waits at the hub.
    b.endpoint.queue(&Body::Ops(request(
        RecordId::from_bytes([0xB2; 16]),
        "Aminah Yousef",
        0xB,
    )));
    exchange(&mut hub, &mut b, NOW + 1_000);
    assert_eq!(notices(&b).len(), 1);
    assert!(notices(&a).is_empty());
    assert_eq!(waiting(&hub, a.id), 1, "A's notice in its own entry");

    // The hub restarts: A's notice is still there and reaches A.
    drop(hub.lock());
    let mut hub = HubService::open(reopen(dir.path()), NOW).unwrap();
    exchange(&mut hub, &mut a, NOW + 2_000);
    assert_eq!(notices(&a).len(), 1);
    // A's and B's acknowledgements remove the entries.
    let _ = settle(&mut hub, &mut [&mut a, &mut b], NOW + 3_000);
    assert_eq!((waiting(&hub, a.id), waiting(&hub, b.id)), (0, 0));
    assert_eq!(match_messages(&a), 1, "told once");
}

#[test]
fn frames_from_strangers_and_altered_frames_are_refused_and_change_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let mut session = hub_vault(dir.path());
    let hub_public = init(&mut session).unwrap();
    let mut hub = HubService::open(session, NOW).unwrap();
    let mut a = KitEnd::new(0x0A, hub_public);
    let mut stranger = KitEnd::new(0x5A, hub_public);
    hub.enroll(a.public(), "unicef", "", NOW).unwrap();
    a.endpoint.queue(&Body::Ops(child(
        RecordId::from_bytes([1; 16]),
        "Amina",
        0xA,
    )));
    stranger
        .endpoint
        .queue(&Body::Ops(child(RecordId::from_bytes([2; 16]), "Eve", 0x5)));
    let mut frames = a.frames(NOW, MTU);
    let last = frames.len() - 1;
    let n = frames[last].len();
    frames[last][n / 2] ^= 0x10;
    frames.extend(stranger.frames(NOW, MTU));
    frames.push(vec![0xff; 3]);
    let r = hub.receive(&frames, NOW).unwrap();
    assert_eq!(r.accepted, last);
    assert_eq!(r.refused, frames.len() - last);
    assert_eq!(r.records_changed, 0);
    assert_eq!(hub.unknown_kit_frames(), 1);
    assert_eq!(hub.kit().session().count(RecordKind::Case).unwrap(), 0);
}

#[test]
fn a_decision_sent_as_the_match_record_s_operations_reaches_the_other_kit_once() {
    let dir = tempfile::tempdir().unwrap();
    let (mut hub, mut a, mut b) = hub_with_two_kits(dir.path());
    let case_id = RecordId::from_bytes([0xA1; 16]);
    let request_id = RecordId::from_bytes([0xB2; 16]);
    a.endpoint
        .queue(&Body::Ops(child(case_id, "Amina Yusuf", 0xA)));
    b.endpoint
        .queue(&Body::Ops(request(request_id, "Aminah Yousef", 0xB)));
    let now = settle(&mut hub, &mut [&mut a, &mut b], NOW);
    let m = notices(&b).remove(0);

    // B's caseworker rejects: B's kit sends the record's new operations.
    let mut doc = Document::new(RecordKind::PotentialMatch, m.id);
    for body in &b.received {
        if let Body::Ops(ops) = body {
            for op in ops.iter().filter(|o| o.record == m.id) {
                doc.apply(op).unwrap();
            }
        }
    }
    let stamp = |n| fieldkit_domain::Hlc {
        wall_ms: now + n,
        counter: 0,
        device: fieldkit_domain::DeviceId(0xB),
    };
    let text = |t: &str| fieldkit_domain::FieldValue::from_json(&serde_json::json!(t));
    let ops = vec![
        doc.op("status", text("rejected"), stamp(1)),
        doc.op("reviewed_by", text("amal.h"), stamp(2)),
    ];
    b.endpoint.queue(&Body::Ops(ops));
    let _ = settle(&mut hub, &mut [&mut a, &mut b], now);
    let seen_by_a = notices(&a);
    assert_eq!(seen_by_a.len(), 1);
    assert_eq!(seen_by_a[0].status.as_deref(), Some("rejected"));
    assert_eq!(seen_by_a[0].reviewed_by.as_deref(), Some("amal.h"));
    assert_eq!(match_messages(&a), 2, "the notice, then the decision");
    assert_eq!(
        match_messages(&b),
        1,
        "the decision is not echoed to the kit that made it"
    );
    let on_hub = hub
        .kit()
        .potential_matches(&fieldkit_app::MatchFilter::default());
    assert_eq!(on_hub[0].status.as_deref(), Some("rejected"));
}

/// A family seeks a child many registered children resemble: each kit hears the trace's best
/// `NOTICES_PER_TRACE` matches, not all of them; a rejection frees a place and the next best
/// goes out, to both kits, once. (Fails when the hub sends every possible match.)
#[test]
fn kits_hear_a_trace_s_best_matches_and_the_next_when_one_is_rejected() {
    use fieldkit_hub::NOTICES_PER_TRACE;
    let dir = tempfile::tempdir().unwrap();
    let (mut hub, mut a, mut b) = hub_with_two_kits(dir.path());
    let names = [
        "Amina Yusuf",
        "Aminah Yousef",
        "Amina Yousif",
        "Amena Yusuf",
        "Aminah Yusuf",
        "Amina Yosef",
        "Ameena Yusuf",
        "Amina Youssef",
    ];
    let cases: Vec<RecordId> = (0..names.len())
        .map(|i| RecordId::from_bytes([0xA0 + i as u8; 16]))
        .collect();
    for (id, name) in cases.iter().zip(names) {
        a.endpoint.queue(&Body::Ops(child(*id, name, 0xA)));
    }
    let request_id = RecordId::from_bytes([0xB2; 16]);
    b.endpoint
        .queue(&Body::Ops(request(request_id, "Aminah Yousef", 0xB)));
    let now = settle(&mut hub, &mut [&mut a, &mut b], NOW);

    let all = hub
        .kit()
        .potential_matches(&fieldkit_app::MatchFilter::default());
    assert!(
        all.len() > NOTICES_PER_TRACE,
        "the hub holds every match ({}), more than a kit hears",
        all.len()
    );
    let (to_a, to_b) = (notices(&a), notices(&b));
    assert_eq!(to_b.len(), NOTICES_PER_TRACE, "{to_b:?}");
    let ids = |n: &[PotentialMatch]| {
        let mut v: Vec<RecordId> = n.iter().map(|m| m.id).collect();
        v.sort();
        v
    };
    assert_eq!(ids(&to_a), ids(&to_b), "both sides hear the same matches");
    // They are the trace's best: no match held back scores above one sent.
    let lowest_sent = to_b.iter().map(|m| m.score).fold(f64::MAX, f64::min);
    for m in all.iter().filter(|m| !to_b.iter().any(|n| n.id == m.id)) {
        assert!(
            m.score <= lowest_sent,
            "{} held back over {lowest_sent}",
            m.score
        );
    }

    // B's caseworker rejects the best: the sixth best goes out to both kits.
    let best = to_b
        .iter()
        .max_by(|x, y| x.score.total_cmp(&y.score))
        .unwrap();
    let decision = ReviewDecision {
        case: best.case_id,
        tracing_request: request_id,
        trace: "trace-0".into(),
        confirmed: false,
        by: "amal.h".into(),
        at_min: (now / 60_000) as u32,
    };
    b.endpoint.queue(&Body::Review(decision));
    let _ = settle(&mut hub, &mut [&mut a, &mut b], now);
    let (to_a, to_b) = (notices(&a), notices(&b));
    assert_eq!(to_b.len(), NOTICES_PER_TRACE + 1, "{to_b:?}");
    assert_eq!(ids(&to_a), ids(&to_b));
    assert_eq!(
        match_messages(&b),
        NOTICES_PER_TRACE + 1,
        "each notice told once, the rejected one not again to the kit that decided"
    );
}

/// An uncle's request for one child by name, sex and age only (so a pair with the child stays
/// below `likely_without_margin`, where one child, one request applies).
fn request_by_name(id: RecordId, sought: &str, age: u8, device: u64) -> Vec<fieldkit_domain::Op> {
    let r = fieldkit_domain::TracingRequest {
        id,
        status: Some("open".into()),
        relation_name: Some("Khalid Omar".into()),
        relation: Some("uncle".into()),
        tracing_request_subform_section: vec![fieldkit_domain::Trace {
            unique_id: "trace-0".into(),
            name: Some(sought.into()),
            sex: Some(fieldkit_domain::Sex::Female),
            age: Some(age.into()),
            ..fieldkit_domain::Trace::default()
        }],
        ..fieldkit_domain::TracingRequest::default()
    };
    ops_of(&Record::TracingRequest(Box::new(r)), device)
}

/// The hub classes a pair as a kit holding the same records classes it (the kit core's
/// margin and one-child-one-request rules), and when a later request makes a match the kits
/// were told was likely possible, the kits hear the new class. (Fails when the hub routes a
/// pending match only once: the kits would keep "likely".)
/// One child registered on kit A (`case_ops`) and sought by two requests from kit B: `first`
/// (a close spelling, a year off) and `second` (the name as registered).
struct TwoRequests {
    case_id: RecordId,
    first: RecordId,
    second: RecordId,
    case_ops: Vec<fieldkit_domain::Op>,
    first_ops: Vec<fieldkit_domain::Op>,
    second_ops: Vec<fieldkit_domain::Op>,
}

fn two_requests() -> TwoRequests {
    let case_id = RecordId::from_bytes([0xA1; 16]);
    let (first, second) = (
        RecordId::from_bytes([0xB2; 16]),
        RecordId::from_bytes([0xB3; 16]),
    );
    TwoRequests {
        case_id,
        first,
        second,
        case_ops: child(case_id, "Amina Yusuf", 0xA),
        first_ops: request_by_name(first, "Aminah Yousef", 8, 0xB),
        second_ops: request_by_name(second, "Amina Yusuf", 7, 0xB),
    }
}

impl TwoRequests {
    /// Kit A sends the case, kit B the first request; all settled. Returns the time after.
    fn case_and_first(&self, hub: &mut HubService, a: &mut KitEnd, b: &mut KitEnd) -> u64 {
        a.endpoint.queue(&Body::Ops(self.case_ops.clone()));
        b.endpoint.queue(&Body::Ops(self.first_ops.clone()));
        settle(hub, &mut [a, b], NOW)
    }
}

/// The class of the first notice a kit received for a request's trace.
fn class(k: &KitEnd, request: RecordId) -> Option<String> {
    notices(k)
        .into_iter()
        .find(|m| m.tracing_request_id == request)
        .and_then(|m| m.likelihood)
}

/// A kit holding the hub's records (the operations given, in order), as a kit would class them.
fn kit_with(dir: &std::path::Path, ops: &[&Vec<fieldkit_domain::Op>]) -> fieldkit_app::Kit {
    let mut kit =
        fieldkit_app::Kit::open(hub_vault(dir), fieldkit_app::KitConfig::default(), NOW).unwrap();
    for o in ops {
        kit.apply_ops(o, NOW).unwrap();
    }
    kit
}

#[test]
fn the_hub_classes_as_a_kit_and_a_class_a_later_request_changes_reaches_the_kits() {
    let dir = tempfile::tempdir().unwrap();
    let (mut hub, mut a, mut b) = hub_with_two_kits(dir.path());
    let t = two_requests();
    let now = t.case_and_first(&mut hub, &mut a, &mut b);
    let TwoRequests {
        first,
        second,
        case_ops,
        first_ops,
        second_ops,
        ..
    } = t;
    for k in [&a, &b] {
        assert_eq!(class(k, first).as_deref(), Some("likely"));
    }

    // A second request fits the case better: the first request's match is possible now (one
    // child, one request), and both kits that were told "likely" hear it.
    b.endpoint.queue(&Body::Ops(second_ops.clone()));
    let _ = settle(&mut hub, &mut [&mut a, &mut b], now);
    for k in [&a, &b] {
        assert_eq!(class(k, first).as_deref(), Some("possible"), "kit {}", k.id);
        assert_eq!(class(k, second).as_deref(), Some("likely"));
    }
    let on_hub = hub
        .kit()
        .potential_matches(&fieldkit_app::MatchFilter::default());
    let demoted = on_hub
        .iter()
        .find(|m| m.tracing_request_id == first)
        .unwrap();
    assert!(
        demoted
            .comparison
            .iter()
            .any(|e| e.field == "likelihood" && e.detail == Detail::Claimed),
        "{demoted:?}"
    );

    // A kit holding the same records classes every pair as the hub does.
    let kit_dir = tempfile::tempdir().unwrap();
    let kit = kit_with(kit_dir.path(), &[&case_ops, &first_ops, &second_ops]);
    let classes = |ms: Vec<PotentialMatch>| {
        let mut v: Vec<_> = ms
            .into_iter()
            .map(|m| (m.id, m.likelihood, m.score.to_bits()))
            .collect();
        v.sort();
        v
    };
    let on_kit = kit.potential_matches(&fieldkit_app::MatchFilter::default());
    assert_eq!(on_kit.len(), 2);
    assert_eq!(classes(on_kit), classes(on_hub));
}

/// A confirmation at the hub that releases a claim re-classes another request's match, and the
/// kits hear it: two requests seek one registered child, the better one is likely and the other
/// possible (one child, one request); when a caseworker confirms the better one, its trace
/// leaves matching, the case is no longer claimed, and the other request's match is likely
/// again on the hub and on both kits, as on a kit holding the same records that made the same
/// decision. (Fails when the hub re-routes only the rescores of received operations: the kits
/// keep "possible".)
#[test]
fn a_confirmation_that_releases_a_claim_re_classes_the_other_request_s_match_on_the_kits() {
    let dir = tempfile::tempdir().unwrap();
    let (mut hub, mut a, mut b) = hub_with_two_kits(dir.path());
    let t = two_requests();
    let now = t.case_and_first(&mut hub, &mut a, &mut b);
    let TwoRequests {
        case_id,
        first,
        second,
        case_ops,
        first_ops,
        second_ops,
    } = t;
    b.endpoint.queue(&Body::Ops(second_ops.clone()));
    let now = settle(&mut hub, &mut [&mut a, &mut b], now);
    for k in [&a, &b] {
        assert_eq!(class(k, first).as_deref(), Some("possible"), "kit {}", k.id);
        assert_eq!(class(k, second).as_deref(), Some("likely"), "kit {}", k.id);
    }

    // B's caseworker confirms the second request's match.
    let decision = ReviewDecision {
        case: case_id,
        tracing_request: second,
        trace: "trace-0".into(),
        confirmed: true,
        by: "amal.h".into(),
        at_min: (now / 60_000) as u32,
    };
    b.endpoint.queue(&Body::Review(decision.clone()));
    let _ = settle(&mut hub, &mut [&mut a, &mut b], now);
    assert!(a.received.contains(&Body::Review(decision)));
    for k in [&a, &b] {
        assert_eq!(
            class(k, first).as_deref(),
            Some("likely"),
            "kit {}: the released case is likely for the other request again",
            k.id
        );
    }
    let on_hub = hub
        .kit()
        .potential_matches(&fieldkit_app::MatchFilter::default());
    let hub_class = |request: RecordId| {
        on_hub
            .iter()
            .find(|m| m.tracing_request_id == request)
            .map(|m| (m.likelihood.clone(), m.status.clone()))
    };
    assert_eq!(
        hub_class(first),
        Some((Some("likely".into()), Some("pending".into())))
    );
    assert_eq!(
        hub_class(second).and_then(|c| c.1).as_deref(),
        Some("confirmed")
    );

    // A kit holding the same records that confirmed the same match classes every pair as the
    // hub does.
    let kit_dir = tempfile::tempdir().unwrap();
    let mut kit = kit_with(kit_dir.path(), &[&case_ops, &first_ops, &second_ops]);
    let confirmed = fieldkit_app::match_id(
        case_id,
        &fieldkit_app::TraceRef {
            tracing_request_id: second,
            trace_id: "trace-0".into(),
        },
    );
    let reviewed = kit.review_match(confirmed, true, None, NOW + 1).unwrap();
    assert!(
        reviewed.alerts.iter().any(|al| matches!(
            al,
            fieldkit_app::Alert::LikelyMatch { tracing_request_id, .. } if *tracing_request_id == first
        )),
        "{:?}",
        reviewed.alerts
    );
    let on_kit = kit.potential_matches(&fieldkit_app::MatchFilter::default());
    let classes = |ms: &[PotentialMatch]| {
        let mut v: Vec<_> = ms
            .iter()
            .map(|m| (m.id, m.likelihood.clone(), m.status.clone()))
            .collect();
        v.sort();
        v
    };
    assert_eq!(classes(&on_kit), classes(&on_hub));
}

/// The forms of operations in which a kit received its match notices (tag 9 shows
/// `OpsForm::Explained`, tag 7 none).
fn notice_forms(k: &KitEnd) -> Vec<Option<OpsForm>> {
    k.received
        .iter()
        .zip(&k.forms)
        .filter(|(b, _)| {
            matches!(b, Body::Ops(ops) if ops.iter().any(|o| o.kind == RecordKind::PotentialMatch))
        })
        .map(|(_, f)| *f)
        .collect()
}

/// Protocol version 5 (the match explanations' primer, tag 9) goes only to a kit that wrote
/// it: kit A (this version) gets its notices in it, kit B (an older version, writing tag 7)
/// in the form every kit reads; a restarted hub remembers which kit reads what.
#[test]
fn the_hub_writes_the_explanations_primer_only_to_kits_that_wrote_it_and_remembers() {
    let dir = tempfile::tempdir().unwrap();
    let (mut hub, mut a, mut b) = hub_with_two_kits(dir.path());
    b.endpoint.set_ops_form(OpsForm::Typed);
    a.endpoint.queue(&Body::Ops(child(
        RecordId::from_bytes([0xA1; 16]),
        "Amina Yusuf",
        0xA,
    )));
    b.endpoint.queue(&Body::Ops(request(
        RecordId::from_bytes([0xB2; 16]),
        "Aminah Yousef",
        0xB,
    )));
    let now = settle(&mut hub, &mut [&mut a, &mut b], NOW);
    assert_eq!(notice_forms(&a), [Some(OpsForm::Explained)]);
    assert_eq!(notice_forms(&b), [None]);

    // Restarted, the hub still writes each kit its own form: a second child registered on A
    // matches B's request too.
    drop(hub.lock());
    let mut hub = HubService::open(reopen(dir.path()), now).unwrap();
    a.endpoint.queue(&Body::Ops(child(
        RecordId::from_bytes([0xA3; 16]),
        "Amina Yusuf",
        0xA,
    )));
    settle(&mut hub, &mut [&mut a, &mut b], now);
    let (on_a, on_b) = (notice_forms(&a), notice_forms(&b));
    assert!(on_a.len() > 1 && on_b.len() > 1, "{on_a:?} {on_b:?}");
    assert!(
        on_a.iter().all(|f| *f == Some(OpsForm::Explained)),
        "{on_a:?}"
    );
    assert!(on_b.iter().all(Option::is_none), "{on_b:?}");
    // Both read what they got: the same notices, whatever the primer.
    assert_eq!(notices(&a).len(), 2);
    assert_eq!(notices(&b).len(), 2);
}

/// A kit's edit that leaves a routed likely match as it was (a note on the case) sends the
/// kits no notice again: before, the hub's kit core raised a "likely match" alert on every
/// save of a record with a pending likely match, and the hub took it for a class change and
/// queued the notice to every kit holding a side once more (each case edit cost a notice per
/// kit, over LoRa too).
#[test]
fn an_edit_that_leaves_a_likely_match_as_it_was_sends_no_notice_again() {
    let dir = tempfile::tempdir().unwrap();
    let mut session = hub_vault(dir.path());
    let hub_public = init(&mut session).unwrap();
    let mut hub = HubService::open(session, NOW).unwrap();
    let mut a = KitEnd::new(0x0A, hub_public);
    let mut b = KitEnd::new(0x0B, hub_public);
    hub.enroll(a.public(), "unicef", "Kalma camp", NOW).unwrap();
    hub.enroll(b.public(), "unicef", "Nyala town", NOW).unwrap();
    let case_id = RecordId::from_bytes([0xA1; 16]);
    let request_id = RecordId::from_bytes([0xB2; 16]);
    a.endpoint
        .queue(&Body::Ops(child(case_id, "Amina Yusuf", 0xA)));
    b.endpoint
        .queue(&Body::Ops(request(request_id, "Amina Yusuf", 0xB)));
    let now = settle(&mut hub, &mut [&mut a, &mut b], NOW);
    for k in [&a, &b] {
        let n = notices(k);
        assert_eq!(n.len(), 1);
        assert_eq!(n[0].likelihood.as_deref(), Some("likely"), "{:?}", n[0]);
        assert_eq!(match_messages(k), 1);
    }
    // A notes a home visit on the case (a field matching does not read).
    a.endpoint.queue(&Body::Ops(vec![set_field(
        RecordKind::Case,
        case_id,
        "notes",
        "home visit done",
        0xA,
    )]));
    let _ = settle(&mut hub, &mut [&mut a, &mut b], now);
    for k in [&a, &b] {
        assert_eq!(match_messages(k), 1, "told once, not again for a note");
    }
}
