//! The kiosk daemon on simulated hardware: it reads the simulated gauge and charger through the
//! board's drivers, drives the backlight and CPU governor files, runs background work when the
//! policy admits it, and shuts down cleanly when the battery runs low.
#![allow(clippy::unwrap_used)]

use std::process::Command;

fn kiosk(data: &std::path::Path, extra: &[&str]) -> (String, String, bool) {
    let out = Command::new(env!("CARGO_BIN_EXE_fieldkit"))
        .arg("--data-dir")
        .arg(data)
        .args(["--log", "info", "kiosk", "--simulate"])
        .args(extra)
        .env_remove("FIELDKIT_CONFIG")
        .output()
        .unwrap();
    (
        String::from_utf8(out.stdout).unwrap(),
        String::from_utf8(out.stderr).unwrap(),
        out.status.success(),
    )
}

#[test]
fn a_simulated_day_drives_the_outputs_and_runs_the_daily_jobs() {
    let d = tempfile::tempdir().unwrap();
    let (out, err, ok) = kiosk(
        d.path(),
        &[
            "--speed",
            "36000",
            "--hours",
            "8",
            "--start-hour",
            "9",
            "--json",
        ],
    );
    assert!(ok, "{err}");
    assert!(err.contains("not provisioned"), "{err}");
    let lines: Vec<serde_json::Value> = out
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert!(lines.len() >= 7, "{out}");
    // Every status line says why the kit is in its mode.
    assert!(lines.iter().all(|l| l["reason"].is_string()), "{out}");
    assert!(lines.iter().all(|l| l["power_known"] == true), "{out}");
    // The daily jobs had their turn in the power budget during the sunny hours (their work
    // waits for a caseworker to unlock the kit: there is no vault here).
    assert!(
        err.contains("background job's turn in the power budget")
            && err.contains("job=\"match run\""),
        "{err}"
    );
    assert!(!err.contains("background job done"), "{err}");
    // The decisions reached the sysfs files through the real backlight and cpufreq code.
    let sys = d.path().join("sim-sys/sys");
    let brightness: u32 = std::fs::read_to_string(sys.join("class/backlight/10-0045/brightness"))
        .unwrap()
        .trim()
        .parse()
        .unwrap();
    // The last line the outputs carried out: a status line comes with every change of the
    // backlight or governor; a closing shutdown line (the run may reach the overnight sleep,
    // however loaded the machine) is not carried out.
    let last = lines
        .iter()
        .rev()
        .find(|l| l["shutdown"].is_null())
        .unwrap();
    let expected = (255 * last["backlight_percent"].as_u64().unwrap() + 50) / 100;
    assert_eq!(u64::from(brightness), expected);
    let gov =
        std::fs::read_to_string(sys.join("devices/system/cpu/cpufreq/policy0/scaling_governor"))
            .unwrap();
    assert_eq!(gov.trim(), last["governor"]);
}

#[test]
fn a_nearly_empty_battery_ends_in_a_clean_shutdown() {
    let d = tempfile::tempdir().unwrap();
    let (out, err, ok) = kiosk(
        d.path(),
        &[
            "--speed",
            "36000",
            "--hours",
            "48",
            "--start-hour",
            "20",
            "--start-soc",
            "9",
        ],
    );
    assert!(ok, "{err}");
    assert!(err.contains("clean shutdown"), "{err}");
    assert!(out.contains("SHUTDOWN"), "{out}");
}

#[test]
fn without_device_support_the_kiosk_says_how_to_run() {
    if cfg!(feature = "kiosk") {
        return;
    }
    let d = tempfile::tempdir().unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_fieldkit"))
        .arg("--data-dir")
        .arg(d.path())
        .arg("kiosk")
        .env_remove("FIELDKIT_CONFIG")
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("--simulate"));
}
