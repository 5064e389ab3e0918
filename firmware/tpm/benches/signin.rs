//! Sign-in with and without the TPM, and what a PIN guess costs an attacker with a copy of the
//! vault file. Prints figures; asserts nothing about time.
//!
//! ```text
//! cargo bench -p fieldkit-tpm --bench signin
//! FIELDKIT_BENCH_RUNS=20 cargo bench -p fieldkit-tpm --bench signin
//! ```
//!
//! 1. Offline guessing in software mode: one Argon2id evaluation at the shipped parameters
//!    (m = 19 MiB, t = 2, p = 1) on one core is one PIN tried; the time for every 6-digit PIN
//!    follows. With a TPM the copied file alone gives nothing to guess against.
//! 2. Sign-in (open the vault file, sign in): software mode against the TPM (a swtpm on
//!    loopback, sealed slot and NV-counter anchor; a chip on SPI is slower).
//! 3. The TPM's part alone: one unseal of a key slot (load + unseal, primary derived each time).

use std::error::Error;
use std::time::{Duration, Instant};

use std::sync::Arc;

use fieldkit_tpm::swtpm::Swtpm;
use fieldkit_tpm::{DEFAULT_COUNTER_INDEX, NvCounter, SlotSealer};
use fieldkit_vault::{CredentialPolicy, InitOptions, KdfParams, OpenOptions, Vault};

type Res<T> = Result<T, Box<dyn Error>>;

const USER: &str = "amina";
const PIN: &[u8] = b"482915";
const NOW_MS: u64 = 1_764_500_000_000;

fn runs() -> usize {
    std::env::var("FIELDKIT_BENCH_RUNS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(10)
        .max(3)
}

fn median(mut d: Vec<Duration>) -> Duration {
    d.sort();
    d[d.len() / 2]
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

fn time<T>(runs: usize, mut f: impl FnMut(usize) -> Res<T>) -> Res<Duration> {
    let mut times = Vec::with_capacity(runs);
    for i in 0..runs {
        let t = Instant::now();
        f(i)?;
        times.push(t.elapsed());
    }
    Ok(median(times))
}

fn argon2_guess(runs: usize) -> Res<Duration> {
    let p = KdfParams::FLOOR;
    let params = argon2::Params::new(p.m_kib, p.t, p.p, Some(32)).map_err(|e| e.to_string())?;
    let argon = argon2::Argon2::new(argon2::Algorithm::Argon2id, argon2::Version::V0x13, params);
    let salt = [7u8; 16];
    time(runs, |i| {
        let pin = format!("{:06}", 100_000 + i);
        let mut out = [0u8; 32];
        argon
            .hash_password_into(pin.as_bytes(), &salt, &mut out)
            .map_err(|e| e.to_string())?;
        Ok(out)
    })
}

fn sign_in(path: &std::path::Path, opts: &OpenOptions, runs: usize) -> Res<Duration> {
    time(runs, |i| {
        let vault = Vault::open(path, opts.clone())?;
        let s = vault.unlock(USER, PIN, NOW_MS + 1000 * (i as u64 + 1))?;
        Ok(s.lock())
    })
}

fn create(path: &std::path::Path, opts: &OpenOptions) -> Res<()> {
    let init = InitOptions {
        username: USER,
        display_name: "Amina",
        credential: PIN,
        policy: CredentialPolicy::default(),
        now_ms: NOW_MS,
    };
    Vault::create(path, init, opts.clone())?;
    Ok(())
}

fn main() -> Res<()> {
    // `cargo bench` passes `--bench`; a `cargo test` run of benches passes nothing to run.
    if std::env::args().any(|a| a == "--list" || a == "--test") {
        return Ok(());
    }
    let runs = runs();
    let cores = std::thread::available_parallelism().map_or(1, usize::from);
    println!(
        "sign-in bench, median of {runs} runs, {cores} cores (shared machine: figures under load)"
    );

    let guess = argon2_guess(runs)?;
    let all_pins_h = guess.as_secs_f64() * 1_000_000.0 / 3600.0;
    println!(
        "offline guess, software mode: Argon2id m=19 MiB t=2 p=1, one core: {:.1} ms per PIN; all 10^6 six-digit PINs: {all_pins_h:.1} core-hours ({:.1} h on 8 cores)",
        ms(guess),
        all_pins_h / 8.0
    );

    let dir = tempfile::tempdir()?;
    let soft_path = dir.path().join("software.redb");
    let soft = OpenOptions::default();
    create(&soft_path, &soft)?;
    let soft_signin = sign_in(&soft_path, &soft, runs)?;
    println!(
        "sign-in, software mode (open + unlock): {:.1} ms",
        ms(soft_signin)
    );

    let sw = Swtpm::start()?;
    let tpm_path = dir.path().join("tpm.redb");
    let with_tpm = OpenOptions {
        hardware: Arc::new(SlotSealer::new(sw.tpm()?)),
        anchor: Some(Arc::new(NvCounter::new(sw.tpm()?, DEFAULT_COUNTER_INDEX)?)),
        ..OpenOptions::default()
    };
    create(&tpm_path, &with_tpm)?;
    let tpm_signin = sign_in(&tpm_path, &with_tpm, runs)?;
    println!(
        "sign-in with the TPM (swtpm on loopback; open + anchor check + unlock + unseal + anchor advance): {:.1} ms ({:+.1} ms)",
        ms(tpm_signin),
        ms(tpm_signin) - ms(soft_signin)
    );

    let sealer = SlotSealer::new(sw.tpm()?);
    let vault_id = [5u8; 16];
    let auth = [9u8; 32];
    let (blob, _) = sealer.enroll(&vault_id, &auth)?;
    let unseal = time(runs, |_| Ok(sealer.unseal(&vault_id, &blob, &auth)?))?;
    println!(
        "TPM unseal of one key slot (swtpm, loopback): {:.1} ms",
        ms(unseal)
    );
    Ok(())
}
