//! Set-up shared by the vault's integration tests.
#![allow(dead_code, clippy::unwrap_used)]

use fieldkit_vault::{CredentialPolicy, InitOptions, OpenOptions, Session, Vault};

/// The time the tests' vaults are made at (2025-11-30).
pub const NOW: u64 = 1_764_500_000_000;

/// A new vault in `dir`, signed in as the supervisor who made it.
pub fn init(dir: &std::path::Path) -> Session {
    Vault::create(
        &Vault::file_in(dir),
        InitOptions {
            username: "amina",
            display_name: "Amina K.",
            credential: b"482915",
            policy: CredentialPolicy::default(),
            now_ms: NOW,
        },
        OpenOptions::default(),
    )
    .unwrap()
    .0
}
