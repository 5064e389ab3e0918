//! `fieldkit sim reunion --json` runs the field trial and reports it as JSON.

mod common;

#[test]
fn the_reunion_trial_reports_both_kits_notified() {
    let out = common::bare()
        .args([
            "--config",
            "/dev/null",
            "sim",
            "reunion",
            "--loss",
            "10",
            "--json",
        ])
        .output()
        .expect("run fieldkit");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).expect("JSON");
    assert_eq!(report["kit_a_notified"], true);
    assert_eq!(report["kit_b_notified"], true);
    assert_eq!(report["review_reached_a"], true);
    assert_eq!(report["records_lost"], 0);
    assert_eq!(report["loss_percent"], 10);
}
