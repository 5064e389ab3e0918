//! What `fieldkit` leaves on disk and in the process: every file it writes is private, exports
//! never write through a planted link nor leave a temporary file behind, and a running
//! `fieldkit` cannot dump core.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::io::Write;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Output, Stdio};

mod common;

use common::{Kit, PIN, text};

/// What these tests do besides the shared harness.
trait FilesKit {
    /// Where exports go.
    fn out(&self) -> PathBuf;
    fn export_primero(&self, to: &Path);
}

impl FilesKit for Kit {
    fn out(&self) -> PathBuf {
        let out = self.root().join("out");
        std::fs::create_dir_all(&out).unwrap();
        out
    }

    fn export_primero(&self, to: &Path) {
        self.ok(&[
            "export",
            "--format",
            "primero",
            "--to",
            to.to_str().unwrap(),
        ]);
    }
}

fn stderr(o: &Output) -> String {
    text(&o.stderr)
}

fn mode(p: &Path) -> u32 {
    std::fs::symlink_metadata(p).unwrap().permissions().mode() & 0o777
}

/// Every file and directory under `dir`, with its mode.
fn walk(dir: &Path, out: &mut Vec<(PathBuf, u32)>) {
    for e in std::fs::read_dir(dir).unwrap() {
        let p = e.unwrap().path();
        out.push((p.clone(), mode(&p)));
        if p.is_dir() && !p.is_symlink() {
            walk(&p, out);
        }
    }
}

#[test]
fn nothing_the_vault_or_an_export_writes_is_readable_by_others() {
    let kit = Kit::in_new_directory();
    kit.add_case("Muhammad Yusuf", "male", "9", &[]);
    let plain = kit.out().join("cases.json");
    let bundle = kit.out().join("backup.fkb");
    kit.export_primero(&plain);
    kit.ok(&["export", "--to", bundle.to_str().unwrap()]);
    assert!(plain.is_file() && bundle.is_file());

    assert_eq!(mode(kit.data()), 0o700, "the data directory init made");
    let mut files = Vec::new();
    walk(kit.data(), &mut files);
    walk(&kit.out(), &mut files);
    assert!(files.len() >= 3, "{files:?}");
    for (p, m) in files {
        assert_eq!(m & 0o077, 0, "{} is mode {m:o}", p.display());
    }
}

#[test]
fn an_export_never_writes_through_a_planted_link() {
    let kit = Kit::in_new_directory();
    kit.add_case("Muhammad Yusuf", "male", "9", &[]);
    let victim = kit.root().join("victim");
    std::fs::write(&victim, b"precious").unwrap();
    let to = kit.out().join("cases.json");
    // Links under the names an attacker could predict: the old temporary name and the target.
    std::os::unix::fs::symlink(&victim, kit.out().join(".cases.json.partial")).unwrap();
    kit.export_primero(&to);
    assert_eq!(std::fs::read(&victim).unwrap(), b"precious");

    std::fs::remove_file(&to).unwrap();
    std::os::unix::fs::symlink(&victim, &to).unwrap();
    kit.export_primero(&to);
    assert_eq!(std::fs::read(&victim).unwrap(), b"precious");
    assert!(!to.is_symlink(), "the link was replaced by the export");
    assert_eq!(mode(&to), 0o600);
    let text = std::fs::read_to_string(&to).unwrap();
    assert!(text.contains("Muhammad Yusuf"));
}

#[test]
fn a_failed_export_leaves_no_temporary_file() {
    let kit = Kit::in_new_directory();
    kit.add_case("Muhammad Yusuf", "male", "9", &[]);
    // The target is a directory that is not empty: the final rename fails.
    let to = kit.out().join("taken");
    std::fs::create_dir(&to).unwrap();
    std::fs::write(to.join("keep"), b"x").unwrap();
    for format in ["primero", "bundle"] {
        let out = kit.run_with(
            &["export", "--format", format, "--to", to.to_str().unwrap()],
            &[PIN],
        );
        assert!(!out.status.success(), "{format} export into a directory");
        let left: Vec<_> = std::fs::read_dir(kit.out())
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        assert_eq!(left, ["taken"], "{format}: left behind {left:?}");
    }
}

#[test]
fn a_running_fieldkit_cannot_dump_core() {
    let kit = Kit::in_new_directory();
    // Waits for its PIN on standard input: look at it meanwhile.
    let mut child = kit
        .command()
        .args(["--pin-stdin", "case", "list"])
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let limits = format!("/proc/{}/limits", child.id());
    let mut core_line = None;
    for _ in 0..200 {
        let text = std::fs::read_to_string(&limits).unwrap_or_default();
        if let Some(l) = text.lines().find(|l| l.starts_with("Max core file size")) {
            let fields: Vec<_> = l.split_whitespace().collect();
            if fields.get(4) == Some(&"0") && fields.get(5) == Some(&"0") {
                core_line = Some(l.to_string());
                break;
            }
        }
        std::thread::sleep(std::time::Duration::from_millis(10));
    }
    let mut stdin = child.stdin.take().unwrap();
    writeln!(stdin, "{PIN}").unwrap();
    drop(stdin);
    assert!(child.wait().unwrap().success());
    assert!(
        core_line.is_some(),
        "core dumps still allowed: {}",
        std::fs::read_to_string("/proc/self/limits").unwrap_or_default()
    );
}

#[test]
fn pins_on_standard_input_are_read_one_line_each() {
    // Two secrets on two lines (the PIN to sign in, the new PIN): read without a buffer, each
    // read takes exactly its own line and leaves the next.
    let kit = Kit::in_new_directory();
    let out = kit.run_with(&["caseworker", "passwd", "amina"], &[PIN, "730164"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let out = kit.run_with(&["case", "list"], &["730164"]);
    assert!(out.status.success(), "{}", stderr(&out));
}
