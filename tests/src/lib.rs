//! Scenarios that cross crates: realistic case data, and the vault under crashes, tampering and
//! repeated wrong PINs.
//!
//! - [`cases`] (from `fieldkit-testkit`) generates realistic, deterministic case records.
//! - [`workload`] is the mixed workload the crash scenarios interrupt (saves, batches, edits,
//!   merges, wrong PINs, sign-ins, PIN changes, new caseworkers) and the check of what a vault
//!   holds afterwards.
//! - The `vault-writer` binary is the process the scenarios kill: it runs the workload and
//!   reports each step on stdout before and after it, or makes one sign-in attempt.
//! - `tests/vault_crash.rs`, `tests/vault_power_cut.rs`, `tests/vault_tamper.rs`,
//!   `tests/vault_lockout.rs` and `tests/any_record.rs` are the scenarios.
//!
//! Case `i` of a seed is always the same record, and an edit `n` of it is always the same edit,
//! so a scenario that knows only which saves were acknowledged can rebuild what must be in the
//! vault and compare field by field.

pub mod workload;

pub use fieldkit_testkit::{Rng, cases};

use std::path::Path;

use fieldkit_domain::{Case, Record, RecordKind};
use fieldkit_vault::{CredentialPolicy, InitOptions, OpenOptions, Session, Vault, VaultError};

/// The caseworker every scenario signs in as.
pub const USER: &str = "amina";
/// Her PIN.
pub const PIN: &[u8] = b"482915";
/// A PIN that is not hers.
pub const WRONG_PIN: &[u8] = b"000000";
/// Wall time of the scenarios: 2025-11-30, the day after the last generated date.
pub const NOW_MS: u64 = 1_764_500_000_000;

/// Creates a vault at `path` with [`USER`] as its supervisor.
pub fn create_vault(path: &Path, policy: CredentialPolicy) -> Result<Session, VaultError> {
    let (session, _recovery) = Vault::create(
        path,
        InitOptions {
            username: USER,
            display_name: "Amina K.",
            credential: PIN,
            policy,
            now_ms: NOW_MS,
        },
        OpenOptions::default(),
    )?;
    Ok(session)
}

/// A policy that never delays or wipes, for scenarios that sign in over and over (a writer
/// killed during sign-in leaves one failed attempt counted).
pub fn lenient_policy() -> CredentialPolicy {
    CredentialPolicy {
        free_attempts: 1_000_000,
        ..CredentialPolicy::default()
    }
}

/// The prefix of the notes of an edited case; the number after it is the edit count.
const EDIT_MARK: &str = "[follow-up ";

/// Case `index` of `seed` after `edits` follow-up edits (0: as registered). Each edit rewrites
/// the notes, the risk level and the tracing status, the way a follow-up visit does.
pub fn edited_case(seed: u64, index: u64, edits: u64) -> Case {
    let mut c = cases::case(seed, index);
    if edits > 0 {
        let mut r = Rng::new(seed ^ index.rotate_left(17) ^ edits.wrapping_mul(31));
        let visit = *r.pick(&[
            "visited the foster family; the child is eating and sleeping better",
            "uncle reached by phone in the other camp; verification interview booked",
            "school enrolment done; the child asked again about the mother",
            "referred to the health post for the leg injury",
            "no news from the tracing partner yet",
        ]);
        c.notes = Some(format!("{EDIT_MARK}{edits}] {visit}"));
        c.risk_level = Some(r.pick(&["low", "medium", "high"]).to_string());
        c.tracing_status = Some(r.pick(&["open", "in_progress", "on_hold"]).to_string());
    }
    c
}

/// [`edited_case`] as a record.
pub fn edited_record(seed: u64, index: u64, edits: u64) -> Record {
    Record::Case(Box::new(edited_case(seed, index, edits)))
}

/// How many follow-up edits a stored case has had, read from its notes.
pub fn edit_count(case: &Case) -> u64 {
    case.notes
        .as_deref()
        .and_then(|n| n.strip_prefix(EDIT_MARK))
        .and_then(|n| n.split(']').next())
        .and_then(|n| n.parse().ok())
        .unwrap_or(0)
}

/// The case inside a record, if it is one.
pub fn as_case(record: &Record) -> Option<&Case> {
    match record {
        Record::Case(c) => Some(c),
        _ => None,
    }
}

/// Every case in the vault, decrypted, in id order (registration order), with its version.
pub fn all_cases(session: &mut Session, now_ms: u64) -> Result<Vec<(Case, u64)>, VaultError> {
    let mut out: Vec<(Case, u64)> = session
        .all(RecordKind::Case, now_ms)?
        .into_iter()
        .filter_map(|o| as_case(&o.record).map(|c| (c.clone(), o.version)))
        .collect();
    out.sort_by_key(|(c, _)| c.id);
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use fieldkit_domain::Date;

    #[test]
    fn generated_cases_are_valid_deterministic_and_varied() {
        let today = Date::from_unix_ms(NOW_MS);
        let mut arabic_script = 0;
        let mut cyrillic = 0;
        let mut with_family = 0;
        let mut concerns = 0;
        for i in 0..2_000 {
            let c = cases::case(7, i);
            assert_eq!(c, cases::case(7, i));
            assert_eq!(c.id, cases::case_id(7, i));
            c.validate(today)
                .unwrap_or_else(|e| panic!("case {i}: {e}: {c:?}"));
            let names: String = c.names().collect();
            arabic_script +=
                usize::from(names.chars().any(|ch| ('\u{600}'..'\u{700}').contains(&ch)));
            cyrillic += usize::from(names.chars().any(|ch| ('\u{400}'..'\u{500}').contains(&ch)));
            with_family += usize::from(!c.family_details_section.is_empty());
            concerns += usize::from(!c.protection_concerns.is_empty());
            for n in 1..3 {
                edited_case(7, i, n).validate(today).unwrap();
                assert_eq!(edit_count(&edited_case(7, i, n)), n);
            }
        }
        assert!(arabic_script > 300, "{arabic_script}");
        assert!(cyrillic > 20, "{cyrillic}");
        assert_eq!(with_family, 2_000);
        assert!(concerns > 1_000, "{concerns}");
        assert_ne!(cases::case(7, 1), cases::case(8, 1));
        // Ids sort in generation order, so a vault lists cases as they were generated.
        assert!(cases::case_id(7, 1) < cases::case_id(7, 2));
    }
}
