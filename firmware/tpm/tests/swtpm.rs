//! The TPM operations against a real software TPM (swtpm), started per test on free loopback
//! ports and stopped when the test ends.

use fieldkit_tpm::swtpm::Swtpm;
use fieldkit_tpm::{CounterError, DEFAULT_COUNTER_INDEX, NvCounter, SlotSealer, UnsealError};

const VAULT: [u8; 16] = [0x11; 16];
const PIN_AUTH: [u8; 32] = [0x42; 32];
const WRONG_AUTH: [u8; 32] = [0x43; 32];

fn sealer(sw: &Swtpm) -> SlotSealer {
    SlotSealer::new(sw.tpm().expect("swtpm TCTI"))
}

#[test]
fn a_slot_opens_with_its_authorisation_only() {
    let sw = Swtpm::start().expect("start swtpm");
    let s = sealer(&sw);
    let (blob, secret) = s.enroll(&VAULT, &PIN_AUTH).expect("enroll");
    let again = s.unseal(&VAULT, &blob, &PIN_AUTH).expect("unseal");
    assert_eq!(*again, *secret);
    assert!(matches!(
        s.unseal(&VAULT, &blob, &WRONG_AUTH),
        Err(UnsealError::WrongAuth)
    ));
    // The same authorisation for another vault's id is refused before the TPM is asked.
    assert!(matches!(
        s.unseal(&[0x22; 16], &blob, &PIN_AUTH),
        Err(UnsealError::ForeignVault)
    ));
    // Two enrolments seal different secrets.
    let (_, other) = s.enroll(&VAULT, &PIN_AUTH).expect("enroll");
    assert_ne!(*other, *secret);
}

#[test]
fn a_copied_slot_does_not_open_on_another_tpm() {
    let kit = Swtpm::start().expect("start swtpm");
    let (blob, _) = sealer(&kit).enroll(&VAULT, &PIN_AUTH).expect("enroll");
    let elsewhere = Swtpm::start().expect("start a second swtpm");
    match sealer(&elsewhere).unseal(&VAULT, &blob, &PIN_AUTH) {
        Err(UnsealError::OtherTpm) => {}
        other => panic!("expected OtherTpm, got {other:?}"),
    }
    // The slot still opens on its own TPM.
    assert!(sealer(&kit).unseal(&VAULT, &blob, &PIN_AUTH).is_ok());
}

#[test]
fn wrong_authorisations_hit_the_tpm_lockout() {
    let sw = Swtpm::start().expect("start swtpm");
    let s = sealer(&sw);
    let (blob, _) = s.enroll(&VAULT, &PIN_AUTH).expect("enroll");
    let da = s.tpm().da_status().expect("DA status");
    assert_eq!(da.failed_tries, 0);
    assert!(da.max_tries > 0, "{da:?}");
    for i in 0..da.max_tries {
        match s.unseal(&VAULT, &blob, &WRONG_AUTH) {
            Err(UnsealError::WrongAuth) => {}
            other => panic!("attempt {i}: expected WrongAuth, got {other:?}"),
        }
    }
    let after = s.tpm().da_status().expect("DA status");
    assert_eq!(after.failed_tries, da.max_tries);
    assert!(after.in_lockout());
    // Now the TPM refuses everyone, the right authorisation too: guessing is metered by the
    // TPM, not by anything in the vault file.
    for auth in [&WRONG_AUTH, &PIN_AUTH] {
        match s.unseal(&VAULT, &blob, auth) {
            Err(UnsealError::Lockout { retry_after_s }) => {
                assert_eq!(retry_after_s, u64::from(da.recovery_s));
                assert!(retry_after_s > 0);
            }
            other => panic!("expected Lockout, got {other:?}"),
        }
    }
}

#[test]
fn damaged_blobs_are_refused_without_counting_a_failure() {
    let sw = Swtpm::start().expect("start swtpm");
    let s = sealer(&sw);
    let (blob, _) = s.enroll(&VAULT, &PIN_AUTH).expect("enroll");
    let mut flipped = blob.clone();
    let last = flipped.len() - 1;
    flipped[last] ^= 0x01;
    assert!(matches!(
        s.unseal(&VAULT, &flipped, &PIN_AUTH),
        Err(UnsealError::OtherTpm | UnsealError::BadBlob(_))
    ));
    assert!(matches!(
        s.unseal(&VAULT, &blob[..blob.len() / 2], &PIN_AUTH),
        Err(UnsealError::BadBlob(_))
    ));
    assert_eq!(s.tpm().da_status().expect("DA status").failed_tries, 0);
}

#[test]
fn the_counter_only_goes_forward() {
    let sw = Swtpm::start().expect("start swtpm");
    let c = NvCounter::new(sw.tpm().expect("tcti"), DEFAULT_COUNTER_INDEX).expect("counter");
    let first = c.read().expect("read");
    assert_eq!(c.read().expect("read"), first, "reading does not move it");
    assert_eq!(c.advance_to(first + 3).expect("advance"), first + 3);
    // Asking for an older value changes nothing.
    assert_eq!(c.advance_to(first).expect("advance"), first + 3);
    assert_eq!(c.read().expect("read"), first + 3);
    assert!(matches!(
        c.advance_to(first + 3 + fieldkit_tpm::MAX_ADVANCE + 1),
        Err(CounterError::TooFar { .. })
    ));
    // Another handle on the same index sees the same value.
    let again = NvCounter::new(sw.tpm().expect("tcti"), DEFAULT_COUNTER_INDEX).expect("counter");
    assert_eq!(again.read().expect("read"), first + 3);
}

#[test]
fn tpm_info_names_the_chip() {
    let sw = Swtpm::start().expect("start swtpm");
    let info = sw.tpm().expect("tcti").info().expect("info");
    assert_eq!(info.manufacturer, "IBM", "{info:?}");
    assert!(!info.lockout_auth_set);
}

#[test]
fn no_tpm_is_a_clear_error() {
    // A port nothing listens on.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("port")
        .port();
    let tpm = fieldkit_tpm::Tpm::new(&format!("swtpm:host=127.0.0.1,port={port}")).expect("tcti");
    let e = tpm.info().expect_err("no TPM there");
    assert!(e.to_string().contains("no TPM answered"), "{e}");
}
