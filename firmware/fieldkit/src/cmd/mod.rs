//! The subcommands, one module each, and what they share: the configuration, where the vault
//! is, how a credential is read.

use std::io::IsTerminal;
use std::path::PathBuf;
use std::sync::Arc;

use anyhow::{Context, bail};
use zeroize::Zeroizing;

use fieldkit_vault::{FileAnchor, OpenOptions, Session, Vault};

use crate::config::Config;

pub mod audit;
pub mod caseworker;
pub mod config;
pub mod exchange;
pub mod hardware;
pub mod init;
pub mod kiosk;
pub mod power;
pub mod records;
pub mod recover;
pub mod sim;
pub mod trace;

/// What every command may need.
#[derive(Debug)]
pub struct Ctx {
    /// The configuration.
    pub config: Config,
    /// The data directory (from `--data-dir`, else the config).
    pub data_dir: PathBuf,
    /// The caseworker signing in.
    pub user: Option<String>,
    /// Credentials come on standard input, one per line.
    pub pin_stdin: bool,
}

/// Milliseconds since the Unix epoch, from the system clock: the only place the binary reads
/// wall time for records.
pub fn now_ms() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
        .unwrap_or(0)
}

/// The blind-index terms the kiosk uses: the matcher's cross-script name keys, so a search for
/// "Mohammed" finds "محمد".
#[derive(Debug, Clone, Copy, Default)]
pub struct MatcherIndexer;

impl fieldkit_vault::NameIndexer for MatcherIndexer {
    fn id(&self) -> &str {
        "fieldkit-match-names-1"
    }

    fn terms(&self, name: &str) -> Vec<String> {
        fieldkit_match::names::index_terms(name)
    }
}

impl Ctx {
    /// The vault file.
    pub fn vault_path(&self) -> PathBuf {
        Vault::file_in(&self.data_dir)
    }

    /// How the vault is opened.
    pub fn open_options(&self) -> OpenOptions {
        OpenOptions {
            indexer: Arc::new(MatcherIndexer),
            verify_on_open: self.config.security.verify_on_open,
            // Software mode's rollback anchor: a counter beside the vault catches a vault file
            // copied back on its own. A TPM's NV counter replaces it where the kit has one.
            anchor: Some(Arc::new(FileAnchor::new(
                self.data_dir.join("vault.anchor"),
            ))),
            boot_clock: Arc::new(crate::clock::ProcBootClock),
            ..OpenOptions::default()
        }
    }

    /// The caseworker name to sign in as.
    pub fn username(&self) -> anyhow::Result<String> {
        self.user
            .clone()
            .or_else(|| self.config.default_caseworker.clone())
            .context("no caseworker given: pass --user NAME (or FIELDKIT_USER, or default_caseworker in the config)")
    }

    /// Reads one secret: the next line of standard input with `--pin-stdin`, else a prompt on
    /// the terminal without echo.
    pub fn read_secret(&self, prompt: &str) -> anyhow::Result<Zeroizing<String>> {
        if self.pin_stdin {
            return crate::harden::read_secret_line()?.with_context(|| {
                format!(
                    "standard input ended before the {}",
                    prompt.trim_end_matches(": ")
                )
            });
        }
        if !std::io::stdin().is_terminal() {
            bail!(
                "no terminal to ask for the {}: use --pin-stdin",
                prompt.trim_end_matches(": ")
            );
        }
        rpassword::prompt_password(prompt)
            .map(Zeroizing::new)
            .context("reading the PIN")
    }

    /// A new secret, asked twice on a terminal.
    pub fn read_new_secret(&self, prompt: &str) -> anyhow::Result<Zeroizing<String>> {
        let first = self.read_secret(prompt)?;
        if !self.pin_stdin {
            let again = self.read_secret("again: ")?;
            if *again != *first {
                bail!("the two entries differ");
            }
        }
        Ok(first)
    }

    /// The triage rules in force.
    pub fn triage_rules(&self) -> anyhow::Result<fieldkit_match::triage::TriageRules> {
        match &self.config.triage_rules {
            None => Ok(fieldkit_match::triage::TriageRules::default_rules()),
            Some(p) => {
                let text = std::fs::read_to_string(p)
                    .with_context(|| format!("reading {}", p.display()))?;
                fieldkit_match::triage::TriageRules::from_toml(&text)
                    .with_context(|| format!("{}", p.display()))
            }
        }
    }

    /// The location hierarchy, when the configuration names a file.
    pub fn locations(&self) -> anyhow::Result<Option<fieldkit_domain::LocationTree>> {
        let Some(path) = &self.config.locations_file else {
            return Ok(None);
        };
        let text =
            std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
        let list = serde_json::from_str(&text)
            .with_context(|| format!("{}: expected a JSON array of locations", path.display()))?;
        Ok(Some(
            fieldkit_domain::LocationTree::new(list).with_context(|| path.display().to_string())?,
        ))
    }

    /// Opens the vault and signs in.
    pub fn session(&self) -> anyhow::Result<Session> {
        let user = self.username()?;
        let vault = Vault::open(&self.vault_path(), self.open_options())?;
        let pin = self.read_secret(&format!("PIN for {user}: "))?;
        let session = vault.unlock(&user, pin.as_bytes(), now_ms())?;
        Ok(session)
    }
}

/// Every case in the vault (one audited bulk read).
pub fn all_cases(s: &mut Session, now_ms: u64) -> anyhow::Result<Vec<fieldkit_domain::Case>> {
    let opened = s
        .all(fieldkit_domain::RecordKind::Case, now_ms)
        .context("reading cases")?;
    Ok(opened
        .into_iter()
        .filter_map(|o| match o.record {
            fieldkit_domain::Record::Case(c) => Some(*c),
            _ => None,
        })
        .collect())
}

/// Every tracing request in the vault (one audited bulk read).
pub fn all_requests(
    s: &mut Session,
    now_ms: u64,
) -> anyhow::Result<Vec<fieldkit_domain::TracingRequest>> {
    let opened = s
        .all(fieldkit_domain::RecordKind::TracingRequest, now_ms)
        .context("reading tracing requests")?;
    Ok(opened
        .into_iter()
        .filter_map(|o| match o.record {
            fieldkit_domain::Record::TracingRequest(t) => Some(*t),
            _ => None,
        })
        .collect())
}

/// Prints a value as pretty JSON on standard output.
pub fn print_json(v: &impl serde::Serialize) -> anyhow::Result<()> {
    // Often decrypted case data: the text is wiped once printed.
    let text = Zeroizing::new(serde_json::to_string_pretty(v).context("encoding JSON")?);
    println!("{}", text.as_str());
    Ok(())
}
