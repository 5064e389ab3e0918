//! `fieldkit trace run`: matching inside the vault, after importing Primero exports.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::io::Write;
use std::process::{Command, Output, Stdio};

const PIN: &str = "482915";

fn data(file: &str) -> String {
    format!(
        "{}/../../tests/data/trace/{file}",
        env!("CARGO_MANIFEST_DIR")
    )
}

fn run(dir: &std::path::Path, args: &[&str]) -> Output {
    let mut child = Command::new(env!("CARGO_BIN_EXE_fieldkit"))
        .arg("--data-dir")
        .arg(dir)
        .args(["--user", "amina", "--pin-stdin"])
        .args(args)
        .env_remove("FIELDKIT_CONFIG")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdin = child.stdin.take().unwrap();
    writeln!(stdin, "{PIN}").unwrap();
    drop(stdin);
    let out = child.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "{args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

#[test]
fn trace_run_matches_the_vaults_records() {
    let dir = tempfile::tempdir().unwrap();
    run(
        dir.path(),
        &["init", "--user", "amina", "--display-name", "Amina K."],
    );
    run(
        dir.path(),
        &["import", &data("cases.json"), "--kind", "case"],
    );
    run(
        dir.path(),
        &[
            "import",
            &data("requests.json"),
            "--kind",
            "tracing-request",
        ],
    );
    let out = run(
        dir.path(),
        &["trace", "run", "--today", "2026-03-01", "--json"],
    );
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let traces = v.as_array().unwrap();
    assert_eq!(traces.len(), 3);
    let t1 = traces.iter().find(|t| t["trace_id"] == "t1").unwrap();
    assert_eq!(t1["potential_matches"][0]["case_id"], "JO-0001");
    assert_eq!(t1["potential_matches"][0]["likelihood"], "likely");
}
