//! The reunion field trial (`fieldkit_sim::reunion`, what `fieldkit sim reunion` runs): a
//! hub and two kits, kit A on LoRa only through the real driver and the simulated air, kit
//! B on cellular through the real modem driver and the HTTP link. Both kits must hold the
//! match notice with its explanation exactly once, B's review decision must reach A, and
//! nothing may be lost or duplicated: at 0 % loss, and at 30 % loss with kit A's power cut
//! right after it sent and restarted from its persisted state.

use fieldkit_sim::reunion::{ReunionConfig, ReunionReport, run};

fn check(r: &ReunionReport) {
    assert!(r.kit_a_notified && r.kit_b_notified, "{r:#?}");
    assert!(r.review_reached_a, "{r:#?}");
    assert_eq!((r.records_lost, r.notices_duplicated), (0, 0), "{r:#?}");
    assert_eq!(r.hub_records, 2, "{r:#?}");
    assert_eq!(
        r.frames_rejected, 0,
        "no counter reused, nothing forged: {r:#?}"
    );
    for n in &r.notices {
        assert_eq!(n.trace, "b2-trace-0");
        assert!(
            n.evidence
                .iter()
                .any(|(f, _, d)| f == "name" && !d.is_empty()),
            "the explanation travels with the notice: {n:?}"
        );
    }
    assert_eq!(r.notices.len(), 2);
}

#[test]
fn reunion_without_loss() {
    let r = run(&ReunionConfig::default()).expect("trial runs");
    println!("{r:?}");
    check(&r);
    assert!(!r.kit_a_restarted);
}

#[test]
fn reunion_at_30_percent_loss_with_kit_a_killed_mid_transfer() {
    let r = run(&ReunionConfig {
        loss_percent: 30,
        kill_during_transfer: true,
        ..ReunionConfig::default()
    })
    .expect("trial runs");
    println!("{r:?}");
    check(&r);
    assert!(r.kit_a_restarted);
}
