//! `fieldkit` on a kit with a TPM (a real swtpm per test): the vault's key slots are sealed in
//! it, a copied vault file does not open on another TPM, wrong PINs hit the TPM's lockout, and
//! an older copy of the vault file put back is refused.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Output, Stdio};

use fieldkit_tpm::swtpm::Swtpm;

const WRONG: &str = "730164";

mod common;

use common::{Kit, PIN, text};

/// A vault in a new directory under one configuration per call.
trait TpmKit {
    /// A configuration naming `tpm` (or software mode), with the vault's own delays out of
    /// the way so that only the TPM meters guesses.
    fn configure(&self, name: &str, hardware: &str, tcti: &str) -> PathBuf;
    fn run_cfg(&self, config: &Path, args: &[&str], stdin_lines: &[&str]) -> Output;
    fn run_cfg_as(&self, user: &str, config: &Path, args: &[&str], stdin: &[&str]) -> Output;
    fn ok_cfg(&self, config: &Path, args: &[&str], stdin: &[&str]) -> String;
    fn fails_cfg(&self, config: &Path, args: &[&str], stdin: &[&str]) -> String;
    fn vault(&self) -> PathBuf;
}

impl TpmKit for Kit {
    fn configure(&self, name: &str, hardware: &str, tcti: &str) -> PathBuf {
        self.file(
            name,
            &format!(
                "[security]\nhardware = \"{hardware}\"\ntpm_tcti = \"{tcti}\"\nfree_attempts = 50\n"
            ),
        )
    }

    fn run_cfg(&self, config: &Path, args: &[&str], stdin_lines: &[&str]) -> Output {
        self.run_cfg_as(self.user, config, args, stdin_lines)
    }

    fn run_cfg_as(&self, user: &str, config: &Path, args: &[&str], stdin_lines: &[&str]) -> Output {
        let mut child = self
            .command_as(user)
            .arg("--config")
            .arg(config)
            .arg("--pin-stdin")
            .args(args)
            .env("TSS2_LOG", "all+none")
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let mut stdin = child.stdin.take().unwrap();
        for l in stdin_lines {
            writeln!(stdin, "{l}").unwrap();
        }
        drop(stdin);
        child.wait_with_output().unwrap()
    }

    fn ok_cfg(&self, config: &Path, args: &[&str], stdin: &[&str]) -> String {
        let out = self.run_cfg(config, args, stdin);
        assert!(out.status.success(), "{args:?}: {}", err(&out));
        text(&out.stdout) + &err(&out)
    }

    fn fails_cfg(&self, config: &Path, args: &[&str], stdin: &[&str]) -> String {
        let out = self.run_cfg(config, args, stdin);
        assert!(!out.status.success(), "{args:?} should fail: {}", err(&out));
        err(&out)
    }

    fn vault(&self) -> PathBuf {
        self.data().join("vault.redb")
    }
}

fn err(o: &Output) -> String {
    text(&o.stderr)
}

const ADD: &[&str] = &[
    "case",
    "add",
    "--name",
    "Amani Said",
    "--sex",
    "female",
    "--age",
    "7",
];

#[test]
fn init_seals_the_slots_in_the_tpm_and_a_copied_file_does_not_open_elsewhere() {
    let kit = Kit::empty("warn");
    let tpm = Swtpm::start().unwrap();
    let cfg = kit.configure("kit.toml", "tpm2", &tpm.tcti());
    let said = kit.ok_cfg(&cfg, &["init"], &[PIN]);
    assert!(said.contains("sealed in the TPM"), "{said}");
    assert!(!said.contains("SOFTWARE MODE"), "{said}");
    kit.ok_cfg(&cfg, ADD, &[PIN]);
    kit.ok_cfg(&cfg, &["case", "list"], &[PIN]);

    // The file, copied to another machine with its own (fresh) TPM, does not open, even with
    // the right PIN.
    let thief = Kit::empty("warn");
    std::fs::create_dir_all(thief.data()).unwrap();
    std::fs::copy(kit.vault(), thief.vault()).unwrap();
    let other = Swtpm::start().unwrap();
    let thief_cfg = thief.configure("thief.toml", "tpm2", &other.tcti());
    let said = thief.fails_cfg(&thief_cfg, &["case", "list"], &[PIN]);
    assert!(said.contains("another TPM"), "{said}");
    // Nor in software mode.
    let soft = thief.configure("soft.toml", "software", "device:/dev/tpmrm0");
    let said = thief.fails_cfg(&soft, &["case", "list"], &[PIN]);
    assert!(said.to_lowercase().contains("tpm"), "{said}");
}

#[test]
fn wrong_pins_hit_the_tpm_lockout() {
    let kit = Kit::empty("warn");
    let tpm = Swtpm::start().unwrap();
    let cfg = kit.configure("kit.toml", "tpm2", &tpm.tcti());
    kit.ok_cfg(&cfg, &["init"], &[PIN]);
    let max = tpm.tpm().unwrap().da_status().unwrap().max_tries;
    for _ in 0..max {
        kit.fails_cfg(&cfg, &["case", "list"], &[WRONG]);
    }
    let da = tpm.tpm().unwrap().da_status().unwrap();
    assert!(da.in_lockout(), "{da:?}");
    // The TPM now refuses the right PIN too, whatever the vault file says.
    let said = kit.fails_cfg(&cfg, &["case", "list"], &[PIN]);
    assert!(said.contains("locked"), "{said}");
}

#[test]
fn an_older_copy_of_the_vault_file_is_refused() {
    let kit = Kit::empty("warn");
    let tpm = Swtpm::start().unwrap();
    let cfg = kit.configure("kit.toml", "tpm2", &tpm.tcti());
    kit.ok_cfg(&cfg, &["init"], &[PIN]);
    let old = kit.root().join("vault.old");
    std::fs::copy(kit.vault(), &old).unwrap();
    kit.ok_cfg(&cfg, ADD, &[PIN]);
    std::fs::copy(&old, kit.vault()).unwrap();
    let said = kit.fails_cfg(&cfg, &["case", "list"], &[PIN]);
    assert!(said.contains("older"), "{said}");
}

#[test]
fn init_without_a_tpm_says_so_loudly() {
    let kit = Kit::empty("warn");
    let cfg = kit.configure("kit.toml", "auto", "device:/nonexistent/tpmrm0");
    let said = kit.ok_cfg(&cfg, &["init"], &[PIN]);
    assert!(said.contains("NO TPM: SOFTWARE MODE"), "{said}");
    kit.ok_cfg(&cfg, &["case", "list"], &[PIN]);
    // A configuration that insists on the TPM refuses to provision without one.
    let other = Kit::empty("warn");
    let strict = other.configure("kit.toml", "tpm2", "device:/nonexistent/tpmrm0");
    let said = other.fails_cfg(&strict, &["init"], &[PIN]);
    assert!(said.contains("does not answer"), "{said}");
}

/// `fieldkit tpm status --json`, parsed.
fn tpm_status(kit: &Kit, cfg: &Path) -> serde_json::Value {
    let out = kit.ok_cfg(cfg, &["tpm", "status", "--json"], &[]);
    let json = out.find('{').map(|i| &out[i..]).unwrap();
    let end = json.rfind('}').unwrap();
    serde_json::from_str(&json[..=end]).unwrap()
}

#[test]
fn a_kit_provisioned_on_a_pc_moves_into_its_tpm_as_caseworkers_sign_in() {
    // The technician's PC has no TPM: the vault is made in software mode.
    let kit = Kit::empty("warn");
    let pc = kit.configure("pc.toml", "software", "device:/dev/tpmrm0");
    let said = kit.ok_cfg(&pc, &["provision", "--kit-id", "kit-017"], &[PIN]);
    assert!(said.contains("SOFTWARE MODE"), "{said}");
    assert!(said.contains("first sign-in on the kit"), "{said}");
    kit.ok_cfg(&pc, &["caseworker", "add", "joseph"], &[PIN, "630174"]);
    kit.ok_cfg(&pc, ADD, &[PIN]);

    // On the kit, with its TPM.
    let tpm = Swtpm::start().unwrap();
    let cfg = kit.configure("kit.toml", "tpm2", &tpm.tcti());
    let s = tpm_status(&kit, &cfg);
    assert_eq!(s["vault"], "none", "{s}");
    assert_eq!(s["pin_only_slots"], 2, "{s}");
    assert_eq!(s["sealed"], false, "{s}");
    let said = kit.ok_cfg(&cfg, &["tpm", "status"], &[]);
    assert!(
        said.contains("moves into this TPM at their first sign-in"),
        "{said}"
    );

    // The supervisor signs in on the kit: the vault moves into the TPM with her slot.
    kit.ok_cfg(&cfg, &["case", "list"], &[PIN]);
    let s = tpm_status(&kit, &cfg);
    assert_eq!(
        (s["vault"].as_str(), s["pin_only_slots"].as_u64()),
        (Some("tpm2"), Some(1)),
        "{s}"
    );
    let said = kit.ok_cfg(&cfg, &["tpm", "status"], &[]);
    assert!(
        said.contains("1 caseworker has not signed in on this kit yet"),
        "{said}"
    );
    // Joseph signs in: every slot is in the TPM, and the audit trail says so.
    let out = kit.run_cfg_as("joseph", &cfg, &["case", "list"], &["630174"]);
    assert!(out.status.success(), "{}", err(&out));
    let s = tpm_status(&kit, &cfg);
    assert_eq!(s["sealed"], true, "{s}");
    let audit = kit.ok_cfg(&cfg, &["audit", "list"], &[PIN]);
    assert!(
        audit
            .contains("key slot sealed in the TPM (1 caseworker still protected by the PIN alone)"),
        "{audit}"
    );
    assert!(
        audit.contains(
            "key slot sealed in the TPM (0 caseworkers still protected by the PIN alone)"
        ),
        "{audit}"
    );

    // The file copied off the kit opens on no other TPM, and not in software mode.
    let thief = Kit::empty("warn");
    std::fs::create_dir_all(thief.data()).unwrap();
    std::fs::copy(kit.vault(), thief.vault()).unwrap();
    let other = Swtpm::start().unwrap();
    let thief_cfg = thief.configure("thief.toml", "tpm2", &other.tcti());
    thief.fails_cfg(&thief_cfg, &["case", "list"], &[PIN]);
    let out = thief.run_cfg_as("joseph", &thief_cfg, &["case", "list"], &["630174"]);
    assert!(!out.status.success(), "joseph's slot opened on another TPM");
    let soft = thief.configure("soft.toml", "software", "device:/dev/tpmrm0");
    thief.fails_cfg(&soft, &["case", "list"], &[PIN]);
}

#[test]
fn provisioning_with_the_tpm_present_seals_every_slot_at_once() {
    let kit = Kit::empty("warn");
    let tpm = Swtpm::start().unwrap();
    let cfg = kit.configure("kit.toml", "tpm2", &tpm.tcti());
    let said = kit.ok_cfg(&cfg, &["provision", "--kit-id", "kit-018"], &[PIN]);
    assert!(said.contains("sealed in the TPM"), "{said}");
    kit.ok_cfg(&cfg, &["caseworker", "add", "joseph"], &[PIN, "630174"]);
    let s = tpm_status(&kit, &cfg);
    assert_eq!(s["sealed"], true, "{s}");
    assert_eq!(s["tpm"], "IBM", "{s}");
    // A fresh swtpm has no lockout authorisation, and the status says so.
    assert_eq!(s["lockout_auth_set"], false, "{s}");
    let said = kit.ok_cfg(&cfg, &["tpm", "status"], &[]);
    assert!(said.contains("lockout authorisation is empty"), "{said}");
}
