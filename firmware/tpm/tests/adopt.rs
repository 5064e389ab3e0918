//! A kit provisioned on a technician's PC (software mode) moving into its own TPM (a real
//! swtpm per test) as its caseworkers sign in on it: the first sign-in moves the vault and its
//! rollback anchor to the TPM, every slot is sealed in the TPM at its owner's next sign-in, and
//! a power cut between the TPM and the vault file at any step leaves a vault that opens.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};

use fieldkit_domain::{Record, RecordKind};
use fieldkit_testkit::cases;
use fieldkit_tpm::swtpm::Swtpm;
use fieldkit_tpm::{DEFAULT_COUNTER_INDEX, NvCounter, SlotSealer};
use fieldkit_vault::{
    AuditAction, CredentialPolicy, FileAnchor, HardwareError, HardwareSecret, InitOptions, Key,
    OpenOptions, RecoveryKey, Role, RollbackAnchor, SignInError, Vault,
};

const NOW: u64 = 1_764_500_000_000;
const AMINA: &[u8] = b"482915";
const JOSEPH: &[u8] = b"630174";
const WRONG: &[u8] = b"730164";

/// What `scripts/provision` makes on a PC: a software-mode vault with a file anchor beside
/// it, a supervisor, a caseworker and one case. Returns the recovery key.
fn provision_on_a_pc(dir: &Path) -> RecoveryKey {
    let pc = OpenOptions {
        anchor: Some(Arc::new(FileAnchor::new(dir.join("vault.anchor")))),
        ..OpenOptions::default()
    };
    let (mut s, recovery) = Vault::create(
        &dir.join("vault.redb"),
        InitOptions {
            username: "amina",
            display_name: "Amina K.",
            credential: AMINA,
            policy: CredentialPolicy {
                free_attempts: 50,
                ..CredentialPolicy::default()
            },
            now_ms: NOW,
        },
        pc,
    )
    .unwrap();
    s.add_caseworker("joseph", "Joseph O.", JOSEPH, Role::Caseworker, false, NOW)
        .unwrap();
    s.create(&Record::Case(Box::new(cases::case(7, 1))), NOW)
        .unwrap();
    recovery
}

/// The kit's seams: the TPM's sealed slots and NV counter, software vaults taken in.
fn on_the_kit(hardware: Arc<dyn HardwareSecret>, anchor: Arc<dyn RollbackAnchor>) -> OpenOptions {
    OpenOptions {
        hardware,
        anchor: Some(anchor),
        adopt_software: true,
        ..OpenOptions::default()
    }
}

fn kit_options(tpm: &Swtpm) -> OpenOptions {
    let t = tpm.tpm().unwrap();
    on_the_kit(
        Arc::new(SlotSealer::new(t.clone())),
        Arc::new(NvCounter::new(t, DEFAULT_COUNTER_INDEX).unwrap()),
    )
}

fn open(dir: &Path, opts: OpenOptions) -> Vault {
    Vault::open(&dir.join("vault.redb"), opts).unwrap()
}

fn cases_held(dir: &Path, opts: OpenOptions, user: &str, pin: &[u8]) -> usize {
    let mut s = open(dir, opts).unwrap_or_else_signin(user, pin);
    s.all(RecordKind::Case, NOW).unwrap().len()
}

trait SignIn {
    fn unwrap_or_else_signin(self, user: &str, pin: &[u8]) -> fieldkit_vault::Session;
}

impl SignIn for Vault {
    fn unwrap_or_else_signin(self, user: &str, pin: &[u8]) -> fieldkit_vault::Session {
        self.unlock(user, pin, NOW)
            .unwrap_or_else(|e| panic!("{user} signs in: {e}"))
    }
}

#[test]
fn a_vault_provisioned_on_a_pc_moves_into_the_kits_tpm_as_caseworkers_sign_in() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    provision_on_a_pc(d);
    let tpm = Swtpm::start().unwrap();
    // The kit's TPM counter is ahead of the new vault's (a TPM's counters start high, or an
    // earlier vault of this kit used it): the vault is taken in at the counter's value, not
    // refused as an older copy, now or at later sign-ins.
    let ahead = NvCounter::new(tpm.tpm().unwrap(), DEFAULT_COUNTER_INDEX)
        .unwrap()
        .advance_to(200)
        .unwrap();
    assert_eq!(ahead, 200);

    // Without the option the kit refuses the software vault, as before.
    let strict = OpenOptions {
        adopt_software: false,
        ..kit_options(&tpm)
    };
    assert!(matches!(
        open(d, strict).unlock("amina", AMINA, NOW),
        Err(SignInError::HardwareMismatch { .. })
    ));

    let status = open(d, kit_options(&tpm)).hardware_status().unwrap();
    assert_eq!(
        (status.hardware.as_str(), status.pin_only_slots),
        ("none", 2)
    );

    // A wrong PIN before the move changes nothing and is not the TPM's business.
    assert!(matches!(
        open(d, kit_options(&tpm)).unlock("amina", WRONG, NOW),
        Err(SignInError::WrongCredential { .. })
    ));
    assert_eq!(tpm.tpm().unwrap().da_status().unwrap().failed_tries, 0);

    // The supervisor's first sign-in on the kit moves the vault and her slot into the TPM.
    assert_eq!(cases_held(d, kit_options(&tpm), "amina", AMINA), 1);
    let status = open(d, kit_options(&tpm)).hardware_status().unwrap();
    assert_eq!(
        (status.hardware.as_str(), status.pin_only_slots),
        ("tpm2", 1)
    );
    // Her wrong PINs now count in the TPM.
    assert!(
        open(d, kit_options(&tpm))
            .unlock("amina", WRONG, NOW)
            .is_err()
    );
    assert_eq!(tpm.tpm().unwrap().da_status().unwrap().failed_tries, 1);
    // Joseph's slot, still in software mode, opens with his PIN and moves at that sign-in.
    assert_eq!(cases_held(d, kit_options(&tpm), "joseph", JOSEPH), 1);
    let status = open(d, kit_options(&tpm)).hardware_status().unwrap();
    assert_eq!(
        (status.hardware.as_str(), status.pin_only_slots),
        ("tpm2", 0)
    );
    // Both sign in again; the audit trail says what moved.
    assert_eq!(cases_held(d, kit_options(&tpm), "amina", AMINA), 1);
    let mut s = open(d, kit_options(&tpm)).unwrap_or_else_signin("joseph", JOSEPH);
    assert_eq!(s.all(RecordKind::Case, NOW).unwrap().len(), 1);
    let moved: Vec<u32> = s
        .audit_entries()
        .unwrap()
        .into_iter()
        .filter_map(|e| match e.action {
            AuditAction::SealedInHardware {
                still_in_software, ..
            } => Some(still_in_software),
            _ => None,
        })
        .collect();
    assert_eq!(moved, [1, 0]);
    drop(s);

    // A copy of the file is now useless off the kit: neither slot opens on another TPM, and
    // the vault no longer opens in software mode.
    let thief = tempfile::tempdir().unwrap();
    std::fs::copy(d.join("vault.redb"), thief.path().join("vault.redb")).unwrap();
    let other = Swtpm::start().unwrap();
    for (user, pin) in [("amina", AMINA), ("joseph", JOSEPH)] {
        assert!(
            open(thief.path(), kit_options(&other))
                .unlock(user, pin, NOW)
                .is_err(),
            "{user}'s slot opened on another TPM"
        );
    }
    assert!(matches!(
        open(thief.path(), OpenOptions::default()).unlock("amina", AMINA, NOW),
        Err(SignInError::HardwareMismatch { .. })
    ));
}

#[test]
fn a_caseworker_given_a_new_pin_before_signing_in_on_the_kit_gets_a_tpm_slot() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let recovery = provision_on_a_pc(d);
    let tpm = Swtpm::start().unwrap();
    let mut s = open(d, kit_options(&tpm)).unwrap_or_else_signin("amina", AMINA);
    s.set_credential("joseph", b"285037", NOW).unwrap();
    drop(s);
    assert_eq!(
        open(d, kit_options(&tpm))
            .hardware_status()
            .unwrap()
            .pin_only_slots,
        0
    );
    assert_eq!(cases_held(d, kit_options(&tpm), "joseph", b"285037"), 1);
    // The recovery key, whose slot never uses the TPM, still opens the moved vault.
    let s = open(d, kit_options(&tpm))
        .unlock_recovery(&recovery, NOW)
        .unwrap();
    drop(s);
    // And its slot, moved at that sign-in, opens again.
    open(d, kit_options(&tpm))
        .unlock_recovery(&recovery, NOW)
        .unwrap();
}

/// The TPM's sealing, with the power cut right after the TPM made the sealed object and
/// before the vault stored it.
struct CutAfterSealing(SlotSealer);

impl HardwareSecret for CutAfterSealing {
    fn kind(&self) -> &'static str {
        HardwareSecret::kind(&self.0)
    }

    fn enroll(
        &self,
        vault_id: &[u8; 16],
        auth: &[u8; 32],
    ) -> Result<(Vec<u8>, Key), HardwareError> {
        HardwareSecret::enroll(&self.0, vault_id, auth)?;
        Err(HardwareError::Unavailable("power cut".into()))
    }

    fn unseal(
        &self,
        vault_id: &[u8; 16],
        blob: &[u8],
        auth: &[u8; 32],
    ) -> Result<Key, HardwareError> {
        HardwareSecret::unseal(&self.0, vault_id, blob, auth)
    }
}

/// The TPM's counter, with the power cut before its `n`-th advance (after the vault file's
/// commit it follows).
struct CutBeforeAdvance(NvCounter, u32, AtomicU32);

impl RollbackAnchor for CutBeforeAdvance {
    fn kind(&self) -> &'static str {
        RollbackAnchor::kind(&self.0)
    }

    fn read(&self) -> Result<u64, HardwareError> {
        RollbackAnchor::read(&self.0)
    }

    fn advance_to(&self, value: u64) -> Result<u64, HardwareError> {
        if self.2.fetch_add(1, Ordering::SeqCst) + 1 >= self.1 {
            return Err(HardwareError::Unavailable("power cut".into()));
        }
        RollbackAnchor::advance_to(&self.0, value)
    }
}

#[test]
fn a_power_cut_at_any_step_of_the_move_leaves_a_vault_that_opens() {
    // Every boundary between the TPM and the vault file in a moving sign-in: after the
    // attempt is committed, after the TPM sealed the slot's new secret, after the file's
    // commit and before the TPM's counter follows it.
    for cut in [
        "after sealing",
        "before the attempt's anchor",
        "before the session's anchor",
    ] {
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path();
        provision_on_a_pc(d);
        let tpm = Swtpm::start().unwrap();
        let t = tpm.tpm().unwrap();
        let sealer = SlotSealer::new(t.clone());
        let counter = NvCounter::new(t.clone(), DEFAULT_COUNTER_INDEX).unwrap();
        let opts = match cut {
            "after sealing" => on_the_kit(Arc::new(CutAfterSealing(sealer)), Arc::new(counter)),
            "before the attempt's anchor" => on_the_kit(
                Arc::new(sealer),
                Arc::new(CutBeforeAdvance(counter, 1, AtomicU32::new(0))),
            ),
            _ => on_the_kit(
                Arc::new(sealer),
                Arc::new(CutBeforeAdvance(counter, 2, AtomicU32::new(0))),
            ),
        };
        let cut_short = open(d, opts).unlock("amina", AMINA, NOW);
        // A session's commit outlives an anchor left behind (the next sign-in tolerates a
        // file ahead of its anchor), so only the earlier cuts stop this sign-in; the process
        // dies at a real cut, here the session is dropped.
        if cut != "before the session's anchor" {
            assert!(cut_short.is_err(), "{cut}: the sign-in went through");
        }
        drop(cut_short);
        // Power back: the vault opens with the right PIN, holds its case, and the move is
        // done (again, if the cut undid it).
        assert_eq!(cases_held(d, kit_options(&tpm), "amina", AMINA), 1, "{cut}");
        let status = open(d, kit_options(&tpm)).hardware_status().unwrap();
        assert_eq!(
            (status.hardware.as_str(), status.pin_only_slots),
            ("tpm2", 1),
            "{cut}"
        );
        assert_eq!(
            cases_held(d, kit_options(&tpm), "joseph", JOSEPH),
            1,
            "{cut}"
        );
        assert_eq!(cases_held(d, kit_options(&tpm), "amina", AMINA), 1, "{cut}");
    }
}
