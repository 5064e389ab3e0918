//! `fieldkit power` end to end: the built binary on the shared captures, on Modbus hex, on
//! the 14-day overcast trace, and probing simulated devices over pseudo-terminals.

use std::path::PathBuf;

use serde_json::Value;

mod common;

use common::bare as fieldkit;

fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn vectors() -> PathBuf {
    if let Ok(dir) = std::env::var("FIELDKIT_VECTORS") {
        return PathBuf::from(dir);
    }
    let dir = repo().join("tests/data/vectors");
    assert!(dir.is_dir(), "vectors not found at {}", dir.display());
    dir
}

fn json_lines(out: &[u8]) -> Vec<Value> {
    String::from_utf8_lossy(out)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{e}: {l}")))
        .collect()
}

fn decode(protocol: &str, file: &std::path::Path) -> Vec<Value> {
    let out = fieldkit()
        .args(["power", "decode", "--protocol", protocol])
        .arg(file)
        .output()
        .expect("run fieldkit");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    json_lines(&out.stdout)
}

/// A capture: file, valid blocks, rejected blocks, first block's values.
type Capture = (&'static str, u64, u64, &'static [(&'static str, i64)]);

#[test]
fn power_decode_vedirect_captures_match_the_readme() {
    let cases: [Capture; 3] = [
        (
            "bluesolar_1.23.dump",
            248,
            0,
            &[
                ("battery_voltage_mv", 12530),
                ("battery_current_ma", 620),
                ("panel_voltage_mv", 33580),
                ("panel_power_w", 8),
                ("charge_state", 3),
                ("yield_total_10wh", 8272),
            ],
        ),
        (
            "bvm702.dump",
            906,
            0,
            &[
                ("battery_voltage_mv", 12065),
                ("battery_current_ma", -7625),
                ("power_w", -92),
                ("consumed_mah", -65473),
                ("soc_permille", 839),
                ("time_to_go_min", 942),
            ],
        ),
        (
            "smartsolar_1.39.dump",
            493,
            1,
            &[
                ("battery_voltage_mv", 12810),
                ("battery_current_ma", -10),
                ("panel_voltage_mv", 10),
                ("panel_power_w", 0),
                ("charge_state", 0),
                ("mppt_mode", 0),
            ],
        ),
    ];
    for (file, valid, rejected, first) in cases {
        let lines = decode("vedirect", &vectors().join("vedirect").join(file));
        let summary = lines.last().expect("summary");
        assert_eq!(summary["type"], "summary", "{file}");
        assert_eq!(summary["valid"], valid, "{file}");
        assert_eq!(summary["rejected"], rejected, "{file}");
        assert_eq!(
            lines.len() as u64,
            valid + 1,
            "{file}: one line per valid block"
        );
        for (key, value) in first {
            assert_eq!(lines[0][key], *value, "{file}: {key}");
        }
    }
}

#[test]
fn power_decode_modbus_hex() {
    let dir = tempfile::tempdir().expect("tempdir");
    let epever = dir.path().join("epever.hex");
    std::fs::write(
        &epever,
        "01 04 31 1A 00 01 1E F1\n01 04 02 00 46 38 C2\n01 04 31 04 00 01 7E F7\n\
         01 04 02 05 10 BB AC\n01 03 30 00 00 01 8B 0A\n01 83 02 C0 F1\n",
    )
    .expect("write");
    let lines = decode("epever", &epever);
    assert_eq!(lines[0]["meaning"]["battery_soc_percent"], 70);
    assert_eq!(lines[1]["meaning"]["battery_voltage_mv"], 12960);
    assert_eq!(lines[2]["exception_code"], 2);
    assert_eq!(lines[3]["valid"], 3);

    // Raw bytes too, with a corrupted frame.
    let renogy = dir.path().join("renogy.bin");
    std::fs::write(
        &renogy,
        [
            0x01, 0x03, 0x00, 0x0A, 0x00, 0x01, 0xA4, 0x08, 0x01, 0x03, 0x02, 0x18, 0x1E, 0x32,
            0x4C, 0x00, 0x00, 0x01, 0x03, 0x02, 0x18, 0x1E, 0x32, 0x4D,
        ],
    )
    .expect("write");
    let lines = decode("renogy", &renogy);
    assert_eq!(lines[0]["meaning"]["system_voltage_v"], 24);
    assert_eq!(lines[0]["meaning"]["rated_current_a"], 30);
    let summary = lines.last().expect("summary");
    assert_eq!(
        (summary["valid"].as_u64(), summary["rejected"].as_u64()),
        (Some(1), Some(1))
    );
}

#[test]
fn power_decode_refuses_a_missing_file() {
    let out = fieldkit()
        .args([
            "power",
            "decode",
            "--protocol",
            "vedirect",
            "/nonexistent/capture",
        ])
        .output()
        .expect("run");
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("reading capture"));
}

#[test]
fn power_simulate_overcast_fortnight_side_by_side() {
    let weather = repo().join("tests/data/power/overcast-14d.toml");
    let out = fieldkit()
        .args(["power", "simulate", "--days", "14", "--weather"])
        .arg(&weather)
        .args(["--policy", "fieldkit,always-on,oracle", "--json"])
        .output()
        .expect("run");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v: Value = serde_json::from_slice(&out.stdout).expect("json");
    let results = v["results"].as_array().expect("results");
    assert_eq!(results.len(), 3);
    // The oracle: no brown-out, and nobody above it.
    let oracle = results
        .iter()
        .find(|r| r["policy"] == "oracle")
        .expect("oracle");
    assert_eq!(oracle["brownouts"], 0);
    assert_eq!(oracle["share_of_oracle"], 1.0);
    for r in results {
        let share = r["share_of_oracle"].as_f64().expect("share");
        assert!(share <= 1.0, "{r}");
    }
    let by = |name: &str| {
        results
            .iter()
            .find(|r| r["policy"] == name)
            .unwrap_or_else(|| panic!("{name} missing"))
            .clone()
    };
    let (ours, theirs) = (by("fieldkit"), by("always-on"));
    for r in [&ours, &theirs] {
        for key in [
            "brownouts",
            "saves_lost",
            "availability_working_hours",
            "energy_wasted_wh",
        ] {
            assert!(r[key].is_number(), "{key} in {r}");
        }
    }
    assert_eq!(ours["brownouts"], 0);
    assert_eq!(ours["saves_lost"], 0);
    assert!(
        theirs["brownouts"].as_u64().expect("n") > 0,
        "always-on browns out"
    );
    let avail = |r: &Value| r["availability_working_hours"].as_f64().expect("f");
    assert!(avail(&ours) >= 0.95, "{}", avail(&ours));
    assert!(avail(&ours) > avail(&theirs));

    // The single-policy form prints one report, and the table form works.
    let out = fieldkit()
        .args(["power", "simulate", "--days", "2", "--weather"])
        .arg(&weather)
        .args(["--policy", "always-on", "--json"])
        .output()
        .expect("run");
    let v: Value = serde_json::from_slice(&out.stdout).expect("json");
    assert_eq!(v["policy"], "always-on");
    let out = fieldkit()
        .args(["power", "simulate", "--days", "2", "--compare", "--weather"])
        .arg(&weather)
        .output()
        .expect("run");
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.contains("brown-outs") && text.contains("always-on"),
        "{text}"
    );
}

#[test]
fn power_simulate_refuses_a_bad_weather_file() {
    let dir = tempfile::tempdir().expect("tempdir");
    let bad = dir.path().join("bad.toml");
    std::fs::write(&bad, "[[day]]\nfactor = 7\n").expect("write");
    let out = fieldkit()
        .args(["power", "simulate", "--weather"])
        .arg(&bad)
        .output()
        .expect("run");
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("weather file"));
}

#[test]
fn power_probe_simulated_devices_over_ptys() {
    for charger in ["vedirect:sim", "renogy:sim", "epever:sim@1"] {
        let out = fieldkit()
            .args([
                "power",
                "probe",
                "--simulated",
                "--json",
                "--charger",
                charger,
            ])
            .output()
            .expect("run");
        assert!(
            out.status.success(),
            "{charger}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let lines = json_lines(&out.stdout);
        let r = &lines[0];
        assert!(r["gauge"]["soc_percent"].is_number(), "{charger}: {r}");
        assert!(
            r["charger"]["battery_voltage_mv"].is_number(),
            "{charger}: {r}"
        );
        assert!(
            r["policy_view"]["soc_percent"].is_number(),
            "{charger}: {r}"
        );
        assert!(
            r["policy_view"]["charge_stage"].is_string(),
            "{charger}: {r}"
        );
    }
}

#[test]
fn power_probe_without_devices_explains() {
    let out = fieldkit().args(["power", "probe"]).output().expect("run");
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("nothing to probe"));
}

#[test]
fn power_simulate_puts_the_oracle_beside_the_policies() {
    let weather = repo().join("tests/data/power/overcast-14d.toml");
    // The table says it as a percentage too.
    let out = fieldkit()
        .args(["power", "simulate", "--days", "3", "--weather"])
        .arg(&weather)
        .args(["--policy", "fieldkit,oracle"])
        .output()
        .expect("run");
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("% of the oracle's"), "{text}");
}

#[test]
fn power_simulate_says_when_the_run_outlasts_the_weather_file() {
    let weather = repo().join("tests/data/power/overcast-14d.toml");
    let out = fieldkit()
        .args(["power", "simulate", "--days", "30", "--weather"])
        .arg(&weather)
        .output()
        .expect("run");
    assert!(out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("the weather file has 14 days; days 15-30 repeat its last day"),
        "{err}"
    );
    // Within the file's length: no note.
    let out = fieldkit()
        .args(["power", "simulate", "--days", "14", "--json", "--weather"])
        .arg(&weather)
        .output()
        .expect("run");
    assert!(String::from_utf8_lossy(&out.stderr).is_empty());
    let v: Value = serde_json::from_slice(&out.stdout).expect("json");
    assert!(v["note"].is_null());
}

#[test]
fn power_evaluate_judges_against_the_oracle() {
    let out = fieldkit()
        .args([
            "power", "evaluate", "--traces", "5", "--days", "3", "--seed", "9", "--json",
        ])
        .output()
        .expect("run");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v: Value = serde_json::from_slice(&out.stdout).expect("json");
    let g = &v["generated"];
    assert_eq!(g["cases"], 5);
    let ours = &g["policies"]["fieldkit"];
    let share = |p: &Value, k: &str| p[k].as_f64().expect("number");
    assert!(share(ours, "worst_share_of_oracle") <= share(ours, "median_share_of_oracle"));
    assert!(share(ours, "median_share_of_oracle") <= 1.0);
    assert_eq!(ours["brownouts"], 0);
    assert_eq!(g["policies"]["oracle"]["median_share_of_oracle"], 1.0);
    // A generated case can be replayed on its own.
    let out = fieldkit()
        .args([
            "power",
            "simulate",
            "--generated",
            "winter:9",
            "--days",
            "3",
            "--json",
        ])
        .output()
        .expect("run");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let out = fieldkit()
        .args(["power", "simulate", "--generated", "monsoon:1"])
        .output()
        .expect("run");
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("unknown family"));
}

#[test]
fn power_decode_with_the_wrong_protocol_is_an_error_that_names_the_right_one() {
    let capture = vectors().join("vedirect/bvm702.dump");
    let out = fieldkit()
        .args(["power", "decode", "--protocol", "renogy"])
        .arg(&capture)
        .output()
        .expect("run");
    assert!(!out.status.success());
    assert!(out.stdout.is_empty(), "no \"valid\":0 summary on stdout");
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("nothing valid found"), "{err}");
    assert!(err.contains("--protocol vedirect"), "{err}");

    let dir = tempfile::tempdir().expect("tempdir");
    let epever = dir.path().join("epever.hex");
    std::fs::write(&epever, "01 04 31 1A 00 01 1E F1\n01 04 02 00 46 38 C2\n").expect("write");
    let out = fieldkit()
        .args(["power", "decode", "--protocol", "vedirect"])
        .arg(&epever)
        .output()
        .expect("run");
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("--protocol epever"));
    // Modbus frames read as the other Modbus charger: decoded, with a note.
    let out = fieldkit()
        .args(["power", "decode", "--protocol", "renogy"])
        .arg(&epever)
        .output()
        .expect("run");
    assert!(out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("--protocol epever gives"));
}

#[test]
fn power_probe_refuses_a_zero_count_and_non_numbers() {
    for args in [
        &["--count", "0"][..],
        &["--count", "2", "--interval-s", "NaN"][..],
        &["--count", "2", "--interval-s", "inf"][..],
        &["--count", "2", "--interval-s=-1"][..],
    ] {
        let out = fieldkit()
            .args(["power", "probe", "--simulated"])
            .args(args)
            .output()
            .expect("run");
        assert!(!out.status.success(), "{args:?}");
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(
            err.contains("--count") || err.contains("--interval-s"),
            "{args:?}: {err}"
        );
        assert!(!err.contains("panicked"), "{err}");
    }
}

#[test]
fn power_probe_prints_readings_to_their_precision() {
    let out = fieldkit()
        .args(["power", "probe", "--simulated", "--json"])
        .output()
        .expect("run");
    assert!(out.status.success());
    let r = &json_lines(&out.stdout)[0];
    for v in [
        &r["gauge"]["soc_percent"],
        &r["policy_view"]["soc_percent"],
        &r["policy_view"]["panel_power_w"],
        &r["policy_view"]["load_power_w"],
    ] {
        let text = v.to_string();
        let decimals = text.split_once('.').map_or(0, |(_, d)| d.len());
        assert!(decimals <= 3, "{text} in {r}");
    }
}

#[test]
fn kiosk_refuses_non_numbers() {
    let dir = tempfile::tempdir().expect("tempdir");
    for args in [
        &["--start-soc", "NaN"][..],
        &["--start-hour", "25"][..],
        &["--hours", "inf"][..],
    ] {
        let out = fieldkit()
            .arg("--data-dir")
            .arg(dir.path())
            .args(["kiosk", "--simulate"])
            .args(args)
            .output()
            .expect("run");
        assert!(!out.status.success(), "{args:?}");
        assert!(String::from_utf8_lossy(&out.stderr).contains(args[0]));
    }
}
