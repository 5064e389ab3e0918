//! The command line as people and scripts meet it (issue 9): pipes that close early, write
//! errors, error messages, help, waiting for the vault, PINs for scripts.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

mod common;

use common::{Kit, PIN, bin, text};

/// What these tests need besides the shared harness.
trait TerminalKit {
    /// Runs with nothing on standard input, expecting a failure; its standard error.
    fn refused(&self, args: &[&str]) -> String;
    /// Runs with standard output a pipe whose reader is already gone, as under `| head` once
    /// head has what it wants.
    fn run_into_closed_pipe(&self, args: &[&str]) -> Output;
}

impl TerminalKit for Kit {
    fn refused(&self, args: &[&str]) -> String {
        let out = self
            .command()
            .args(args)
            .stdin(Stdio::null())
            .output()
            .unwrap();
        assert!(!out.status.success(), "{args:?} should fail");
        text(&out.stderr)
    }

    fn run_into_closed_pipe(&self, args: &[&str]) -> Output {
        let (reader, writer) = std::io::pipe().unwrap();
        drop(reader);
        let mut child = self.spawn(args, Stdio::from(writer));
        writeln!(child.stdin.take().unwrap(), "{PIN}").unwrap();
        child.wait_with_output().unwrap()
    }
}

#[test]
fn a_reader_that_goes_away_ends_every_listing_quietly() {
    let kit = Kit::new();
    kit.add_case("Amina Yusuf", "female", "8", &[]);
    kit.add_case("Halima Yusuf", "female", "8", &[]);
    for args in [
        &["case", "list"][..],
        &["case", "search", "Yusuf"],
        &["audit", "list"],
        &["export", "--format", "primero", "--to", "-"],
    ] {
        let out = kit.run_into_closed_pipe(args);
        let err = text(&out.stderr);
        assert!(!err.contains("panicked"), "{args:?}: {err}");
        assert!(!err.contains("Broken pipe"), "{args:?}: {err}");
        assert_eq!(out.status.code(), Some(0), "{args:?}: {err}");
    }
    // The vault was closed cleanly each time: it opens at once, and the audit chain holds.
    let verified = kit.ok(&["audit", "verify"]);
    assert!(verified.contains("audit chain intact"), "{verified}");
}

#[test]
fn a_full_disk_under_a_redirect_is_an_error_not_a_panic() {
    let kit = Kit::new();
    kit.add_case("Amina Yusuf", "female", "8", &[]);
    let full = std::fs::OpenOptions::new()
        .write(true)
        .open("/dev/full")
        .unwrap();
    let mut child = kit.spawn(&["case", "list"], Stdio::from(full));
    writeln!(child.stdin.take().unwrap(), "{PIN}").unwrap();
    let out = child.wait_with_output().unwrap();
    let err = text(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(
        err.contains("fieldkit: writing to standard output:"),
        "{err}"
    );
    assert!(!err.contains("panicked"), "{err}");
}

#[test]
fn each_cause_of_an_error_is_printed_once() {
    // A data directory that cannot be made: the vault error quotes the OS error and also holds
    // it as its source, which used to print it twice.
    let mut child = Command::new(bin())
        .args(["--data-dir", "/proc/1/no-such-dir", "--log", "off"])
        .args(["init", "--user", "amina", "--pin-stdin"])
        .env_remove("FIELDKIT_CONFIG")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    writeln!(child.stdin.take().unwrap(), "{PIN}\n{PIN}").unwrap();
    let out = child.wait_with_output().unwrap();
    let err = text(&out.stderr);
    assert!(!out.status.success());
    let first = err.lines().next().unwrap_or_default();
    assert!(first.starts_with("fieldkit: "), "{err}");
    assert_eq!(first.matches("(os error").count(), 1, "{err}");
}

#[test]
fn a_subcommand_help_keeps_global_options_apart() {
    let out = Command::new(bin())
        .args(["case", "add", "--help"])
        .output()
        .unwrap();
    let help = text(&out.stdout);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let own = help.find("Options:").expect("an Options section");
    let global = help
        .find("Global options:")
        .expect("a Global options section");
    let section = |flag: &str| help.find(flag).unwrap_or_else(|| panic!("{flag}: {help}"));
    // The command's own flags come under Options, the ones every command takes after them.
    assert!(own < section("--name <NAME>") && section("--name <NAME>") < global);
    for flag in [
        "--data-dir",
        "--user",
        "--pin-stdin",
        "--pin-fd",
        "--pin-file",
        "--no-wait",
    ] {
        assert!(
            section(flag) > global,
            "{flag} is not under Global options: {help}"
        );
    }
}

/// A fieldkit process that holds the vault: it opened it and waits for its PIN.
fn hold_vault(kit: &Kit) -> Child {
    let mut child = kit.spawn(&["case", "list"], Stdio::piped());
    // Wait until it really holds it: a --no-wait run fails with "using the vault".
    let start = Instant::now();
    loop {
        let out = kit
            .command()
            .args(["--no-wait", "case", "list", "--pin-stdin"])
            .stdin(Stdio::null())
            .output()
            .unwrap();
        if text(&out.stderr).contains("is using the vault") {
            break;
        }
        assert!(start.elapsed() < Duration::from_secs(60), "never held");
        assert!(child.try_wait().unwrap().is_none());
        std::thread::sleep(Duration::from_millis(50));
    }
    child
}

#[test]
fn commands_wait_their_turn_for_the_vault() {
    let kit = Kit::new();
    let mut holder = hold_vault(&kit);

    // --no-wait: at once, saying why.
    let started = Instant::now();
    let out = kit.run(&["--no-wait", "case", "list"]);
    let err = text(&out.stderr);
    assert!(!out.status.success());
    assert!(err.contains("another fieldkit process"), "{err}");
    assert!(err.contains("--no-wait"), "{err}");
    assert!(started.elapsed() < Duration::from_secs(10));

    // A short wait: it says it waits, then gives up with a message.
    let out = kit.run(&["--wait", "1", "case", "list"]);
    let err = text(&out.stderr);
    assert!(!out.status.success());
    assert!(err.contains("waiting for the vault"), "{err}");
    assert!(err.contains("has held the vault"), "{err}");

    // A patient one gets its turn when the holder ends.
    let mut waiter = kit.spawn(&["--wait", "300", "case", "list"], Stdio::piped());
    writeln!(waiter.stdin.take().unwrap(), "{PIN}").unwrap();
    std::thread::sleep(Duration::from_millis(300));
    writeln!(holder.stdin.take().unwrap(), "{PIN}").unwrap();
    assert!(holder.wait().unwrap().success());
    let out = waiter.wait_with_output().unwrap();
    assert!(out.status.success(), "{}", text(&out.stderr));
}

#[test]
fn eight_registrations_at_once_are_all_saved() {
    let kit = Kit::new();
    let children: Vec<Child> = (0..8)
        .map(|i| {
            let mut c = kit
                .command()
                .args(["--pin-stdin", "--wait", "600", "case", "add"])
                .args(["--name", &format!("Parallel Child {i}"), "--sex", "male"])
                .args(["--age", "6"])
                .stdin(Stdio::piped())
                .stdout(Stdio::piped())
                .stderr(Stdio::piped())
                .spawn()
                .unwrap();
            writeln!(c.stdin.take().unwrap(), "{PIN}").unwrap();
            c
        })
        .collect();
    for c in children {
        let out = c.wait_with_output().unwrap();
        assert!(out.status.success(), "{}", text(&out.stderr));
    }
    let list = kit.ok(&["case", "list", "--json"]);
    let list: serde_json::Value = serde_json::from_str(&list).unwrap();
    let names: std::collections::BTreeSet<String> = list
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["name"].as_str().unwrap().to_string())
        .collect();
    let want: std::collections::BTreeSet<String> =
        (0..8).map(|i| format!("Parallel Child {i}")).collect();
    assert_eq!(names, want);
}

fn private_file(dir: &Path, name: &str, body: &str, mode: u32) -> PathBuf {
    use std::os::unix::fs::PermissionsExt;
    let p = dir.join(name);
    std::fs::write(&p, body).unwrap();
    std::fs::set_permissions(&p, std::fs::Permissions::from_mode(mode)).unwrap();
    p
}

#[test]
fn a_script_gives_the_pin_by_descriptor_or_private_file_and_the_record_on_stdin() {
    let kit = Kit::new();
    let pins = tempfile::tempdir().unwrap();
    let record = r#"{"name": "Nadia Rahimi", "sex": "female", "age": 11}"#;

    // --pin-fd: the shell opens descriptor 3 on the PIN; standard input carries the record.
    let pin = private_file(pins.path(), "pin", &format!("{PIN}\n"), 0o600);
    let mut sh = Command::new("sh")
        .arg("-c")
        .arg(r#""$0" --data-dir "$1" --user amina --log warn --pin-fd 3 case add --from - 3<"$2""#)
        .arg(bin())
        .arg(kit.data())
        .arg(&pin)
        .env_remove("FIELDKIT_CONFIG")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    sh.stdin
        .take()
        .unwrap()
        .write_all(record.as_bytes())
        .unwrap();
    let out = sh.wait_with_output().unwrap();
    assert!(out.status.success(), "{}", text(&out.stderr));

    // --pin-file with mode 600: the record on stdin again.
    let mut c = kit
        .command()
        .arg("--pin-file")
        .arg(&pin)
        .args(["case", "add", "--from", "-"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    c.stdin
        .take()
        .unwrap()
        .write_all(record.replace("Nadia", "Samira").as_bytes())
        .unwrap();
    let out = c.wait_with_output().unwrap();
    assert!(out.status.success(), "{}", text(&out.stderr));
    let found = kit.ok(&["case", "search", "Rahimi", "--json"]);
    assert!(
        found.contains("Nadia Rahimi") && found.contains("Samira Rahimi"),
        "{found}"
    );

    // A file the group or others can read, or a link to one, is refused before anything else.
    for mode in [0o640, 0o604, 0o660] {
        let open = private_file(pins.path(), &format!("open-{mode:o}"), PIN, mode);
        let err = kit.refused(&["--pin-file", open.to_str().unwrap(), "case", "list"]);
        assert!(err.contains("chmod 600"), "{mode:o}: {err}");
        assert!(!err.contains(PIN), "{err}");
    }
    let link = pins.path().join("link");
    std::os::unix::fs::symlink(&pin, &link).unwrap();
    let err = kit.refused(&["--pin-file", link.to_str().unwrap(), "case", "list"]);
    assert!(err.contains("a link is refused"), "{err}");
    // A descriptor that is not open fails clearly.
    let err = kit.refused(&["--pin-fd", "9", "case", "list"]);
    assert!(err.contains("--pin-fd 9"), "{err}");
    // There is no way to give a PIN on the command line.
    let err = kit.refused(&["--pin", PIN, "case", "list"]);
    assert!(err.contains("unexpected argument"), "{err}");
}

#[test]
fn the_audit_trail_reads_as_dates_and_words_with_hashes_in_hex() {
    let kit = Kit::new();
    kit.add_case("Amina Yusuf", "female", "8", &[]);
    kit.ok(&["case", "search", "Yusuf"]);
    let list = kit.ok(&["audit", "list"]);
    let mut lines = list.lines();
    let header = lines.next().unwrap();
    assert!(
        header.contains("WHEN (UTC)") && header.contains("WHO"),
        "{list}"
    );
    assert!(list.contains("vault created"), "{list}");
    assert!(list.contains("search, 1 result shown"), "{list}");
    // No Rust debug text, no epoch milliseconds.
    assert!(!list.contains('{') && !list.contains("Search"), "{list}");
    let year = lines.next().unwrap().split_whitespace().nth(1).unwrap();
    assert!(year.starts_with("20") && year.len() == 10, "{list}");

    let json: serde_json::Value =
        serde_json::from_str(&kit.ok(&["audit", "list", "--json"])).unwrap();
    let entries = json.as_array().unwrap();
    for (i, e) in entries.iter().enumerate() {
        let prev = e["prev"].as_str().unwrap();
        assert_eq!(prev.len(), 64, "{e}");
        assert!(prev.bytes().all(|b| b.is_ascii_hexdigit()), "{e}");
        assert!(e["at"].as_str().unwrap().ends_with('Z'), "{e}");
        // The chain links: each entry holds the hash of the one before.
        if i > 0 {
            assert_eq!(prev, entries[i - 1]["hash"].as_str().unwrap());
        }
    }
}

#[test]
fn a_negative_age_and_an_impossible_date_get_plain_answers() {
    let kit = Kit::new();
    let out = kit.run(&[
        "case", "add", "--name", "Ali", "--sex", "male", "--age", "-1",
    ]);
    let err = text(&out.stderr);
    assert!(!out.status.success());
    assert!(!err.contains("unexpected argument"), "{err}");
    assert!(err.contains("age"), "{err}");
    let out = kit.run(&[
        "case",
        "add",
        "--name",
        "Ali",
        "--sex",
        "male",
        "--dob",
        "2015-02-30",
    ]);
    let err = text(&out.stderr);
    assert!(!out.status.success());
    assert!(err.contains("does not exist"), "{err}");
}
