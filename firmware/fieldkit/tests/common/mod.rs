//! The one harness every CLI test uses: a private vault in a temporary directory, `fieldkit`
//! run as a real process with PINs on standard input, nothing taken from the caller's
//! environment. Each test binary uses part of it.
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used)]

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};

/// The supervisor's PIN in every test vault.
pub const PIN: &str = "482915";

/// The binary under test.
pub fn bin() -> &'static str {
    env!("CARGO_BIN_EXE_fieldkit")
}

/// fieldkit with nothing from the caller's environment (configuration, user, data directory,
/// log filter) and no vault: for commands that need none (`power`, `trace` on files, `sim`).
pub fn bare() -> Command {
    let mut c = Command::new(bin());
    c.env_remove("FIELDKIT_CONFIG")
        .env_remove("FIELDKIT_USER")
        .env_remove("FIELDKIT_DATA_DIR")
        .env_remove("RUST_LOG")
        .env("FIELDKIT_LOG", "warn");
    c
}

/// fieldkit on the vault in `dir`, as `user`, PINs on standard input, no configuration file:
/// for tests that run several vaults side by side (a hub and its kits).
pub fn on_vault(dir: &Path, user: &str) -> Command {
    let mut c = bare();
    c.args(["--config", "/dev/null"])
        .arg("--data-dir")
        .arg(dir)
        .args(["--user", user, "--pin-stdin", "--wait", "120"]);
    c
}

/// Starts `args` on the vault in `dir` as `user`, the PIN written to its standard input;
/// standard output and error piped.
pub fn spawn_on(dir: &Path, user: &str, args: &[&str]) -> Child {
    with_pin(on_vault(dir, user).args(args), Stdio::piped())
}

/// Like [`spawn_on`], with its log (standard error) written to `log` instead of a pipe: a
/// process the test does not read while it runs (one it will kill) must never block on a
/// full pipe.
pub fn spawn_logged(dir: &Path, user: &str, args: &[&str], log: &Path) -> Child {
    let file = std::fs::File::create(log).unwrap();
    with_pin(on_vault(dir, user).args(args), Stdio::from(file))
}

/// Spawns `command` with standard output piped and the PIN written to its standard input.
fn with_pin(command: &mut Command, stderr: Stdio) -> Child {
    let mut child = command
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(stderr)
        .spawn()
        .unwrap();
    let mut stdin = child.stdin.take().unwrap();
    writeln!(stdin, "{PIN}").unwrap();
    drop(stdin);
    child
}

/// Starts `hub run --listen 127.0.0.1:0` on the hub vault in `dir` (as `coord`) and returns
/// it with the URL it prints first. Its log goes to the test's standard error.
pub fn start_hub(dir: &Path) -> (Child, String) {
    start_hub_with(dir, &[])
}

/// [`start_hub`] with more arguments of `hub run` (`--retry-s 1`).
pub fn start_hub_with(dir: &Path, extra: &[&str]) -> (Child, String) {
    let mut child = with_pin(
        on_vault(dir, "coord")
            .args(["hub", "run", "--listen", "127.0.0.1:0"])
            .args(extra),
        Stdio::inherit(),
    );
    let mut line = String::new();
    std::io::BufRead::read_line(
        &mut std::io::BufReader::new(child.stdout.take().unwrap()),
        &mut line,
    )
    .unwrap();
    let url = line
        .trim()
        .strip_prefix("listening on ")
        .unwrap_or_else(|| panic!("unexpected first line {line:?}"))
        .to_string();
    (child, url)
}

/// A sample Primero export under `tests/data/trace`.
pub fn trace_data(file: &str) -> String {
    format!(
        "{}/../../tests/data/trace/{file}",
        env!("CARGO_MANIFEST_DIR")
    )
}

/// Output bytes as text.
pub fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

/// Parses JSON output, showing it when it does not parse.
pub fn json(text: &str) -> serde_json::Value {
    serde_json::from_str(text).unwrap_or_else(|e| panic!("{e}: {text}"))
}

/// A test vault: its data directory, and a directory for temporary files (`TMPDIR`) apart
/// from it, so a test can look at everything fieldkit wrote.
pub struct Kit {
    root: tempfile::TempDir,
    data: PathBuf,
    tmp: PathBuf,
    /// The log filter every run gets (`--log`).
    pub log: &'static str,
    /// The caseworker every run signs in as (`--user`).
    pub user: &'static str,
}

impl Kit {
    /// A vault whose first caseworker (a supervisor) is `amina`, PIN [`PIN`].
    pub fn new() -> Kit {
        Kit::logging("warn")
    }

    /// As [`Kit::new`], every run logging at `log` (`trace` to check what logs hold).
    pub fn logging(log: &'static str) -> Kit {
        let k = Kit::empty(log);
        let out = k.run_with(&["init", "--display-name", "Amina K."], &[PIN]);
        assert!(out.status.success(), "init: {}", text(&out.stderr));
        k
    }

    /// A data directory without a vault.
    pub fn empty(log: &'static str) -> Kit {
        let root = tempfile::Builder::new().prefix("fk-cli").tempdir().unwrap();
        let (data, tmp) = (root.path().join("data"), root.path().join("tmp"));
        std::fs::create_dir(&data).unwrap();
        std::fs::create_dir(&tmp).unwrap();
        Kit {
            root,
            data,
            tmp,
            log,
            user: "amina",
        }
    }

    /// A vault made by `init` in a data directory that did not exist before (`init` makes
    /// it), temporary files in the root around it.
    pub fn in_new_directory() -> Kit {
        let root = tempfile::Builder::new().prefix("fk-cli").tempdir().unwrap();
        let (data, tmp) = (root.path().join("kit-data"), root.path().to_path_buf());
        let k = Kit {
            root,
            data,
            tmp,
            log: "warn",
            user: "amina",
        };
        let out = k.run_with(&["init", "--display-name", "Amina K."], &[PIN]);
        assert!(out.status.success(), "init: {}", text(&out.stderr));
        k
    }

    /// The directory holding the data directory and the temporary one.
    pub fn root(&self) -> &Path {
        self.root.path()
    }

    /// The data directory.
    pub fn data(&self) -> &Path {
        &self.data
    }

    /// The directory given as `TMPDIR`.
    pub fn tmp(&self) -> &Path {
        &self.tmp
    }

    /// Writes a file in the temporary directory; its path.
    pub fn file(&self, name: &str, content: &str) -> PathBuf {
        let p = self.tmp().join(name);
        std::fs::write(&p, content).unwrap();
        p
    }

    /// fieldkit on this vault, signed in as [`Kit::user`], nothing from the caller's
    /// environment; no PIN source chosen yet.
    pub fn command(&self) -> Command {
        self.command_as(self.user)
    }

    /// [`Kit::command`] signed in as another caseworker.
    pub fn command_as(&self, user: &str) -> Command {
        let mut c = bare();
        c.arg("--data-dir")
            .arg(self.data())
            .args(["--user", user, "--log", self.log])
            .env_remove("FIELDKIT_LOG")
            .env("TMPDIR", self.tmp());
        c
    }

    /// Starts fieldkit with `--pin-stdin`, standard input a pipe.
    pub fn spawn(&self, args: &[&str], stdout: Stdio) -> Child {
        self.command()
            .arg("--pin-stdin")
            .args(args)
            .stdin(Stdio::piped())
            .stdout(stdout)
            .stderr(Stdio::piped())
            .spawn()
            .unwrap()
    }

    /// Runs fieldkit with these lines on standard input (PINs, one per line).
    pub fn run_with(&self, args: &[&str], stdin_lines: &[&str]) -> Output {
        self.run_as(self.user, args, stdin_lines)
    }

    /// [`Kit::run_with`] signed in as another caseworker.
    pub fn run_as(&self, user: &str, args: &[&str], stdin_lines: &[&str]) -> Output {
        let mut child = self
            .command_as(user)
            .arg("--pin-stdin")
            .args(args)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let mut stdin = child.stdin.take().unwrap();
        for l in stdin_lines {
            // A command that fails early may be gone before it reads its PIN.
            let _ = writeln!(stdin, "{l}");
        }
        drop(stdin);
        child.wait_with_output().unwrap()
    }

    /// Runs fieldkit with the PIN on standard input.
    pub fn run(&self, args: &[&str]) -> Output {
        self.run_with(args, &[PIN])
    }

    /// Runs fieldkit, which must succeed; its standard output.
    pub fn ok(&self, args: &[&str]) -> String {
        let out = self.run(args);
        assert!(out.status.success(), "{args:?}: {}", text(&out.stderr));
        text(&out.stdout)
    }

    /// Runs fieldkit, which must succeed and print JSON.
    pub fn json(&self, args: &[&str]) -> serde_json::Value {
        json(&self.ok(args))
    }

    /// Registers a case (`case add --name … --sex … --age …` and `extra` flags), which must
    /// succeed; its id.
    pub fn add_case(&self, name: &str, sex: &str, age: &str, extra: &[&str]) -> String {
        let mut args = vec!["case", "add", "--name", name, "--sex", sex, "--age", age];
        args.extend_from_slice(extra);
        args.push("--json");
        let saved = self.json(&args);
        saved["id"]
            .as_str()
            .expect("a saved case has an id")
            .to_string()
    }

    /// Runs fieldkit with these standard input lines, which must fail; its standard error.
    pub fn fails_with(&self, args: &[&str], stdin_lines: &[&str]) -> String {
        let out = self.run_with(args, stdin_lines);
        assert!(!out.status.success(), "{args:?} should fail");
        text(&out.stderr)
    }

    /// Runs fieldkit with the PIN, which must fail; its standard error.
    pub fn fails(&self, args: &[&str]) -> String {
        self.fails_with(args, &[PIN])
    }
}
