//! The subcommands, one module each, and what they share: the configuration, where the vault
//! is, how a credential is read.

use std::io::IsTerminal;
use std::path::PathBuf;
use std::sync::Arc;

use anyhow::{Context, bail};
use zeroize::Zeroizing;

use fieldkit_vault::{OpenOptions, Session, Vault};

use crate::config::Config;

pub mod audit;
pub mod caseworker;
pub mod config;
pub mod exchange;
pub mod fields;
pub mod hardware;
pub mod hub;
pub mod init;
pub mod kiosk;
pub mod photo;
pub mod power;
pub mod print;
pub mod provision;
pub mod records;
pub mod recover;
#[cfg(feature = "simulation")]
pub mod sim;
pub mod sync;
pub mod tpm;
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
    /// Where PINs come from.
    pub pins: PinSource,
    /// How long to wait while another process holds the vault (`None`: fail at once).
    pub lock_wait: Option<std::time::Duration>,
    /// The TPM (or software mode) as configured: every vault open goes through it.
    pub seams: hardware::Seams,
}

/// Where a command reads PINs: the terminal, or one per line from standard input, an open file
/// descriptor, or a private file. Never the command line or the environment: both are readable
/// by other processes (`/proc/PID/cmdline`, `/proc/PID/environ`) and end up in shell histories
/// and crash reports.
#[derive(Debug)]
pub enum PinSource {
    /// Asked on the terminal, without echo.
    Terminal,
    /// `--pin-stdin`.
    Stdin,
    /// `--pin-fd N` or `--pin-file PATH`: opened once, read line by line as PINs are asked.
    Open {
        /// The flag, for messages.
        what: String,
        /// The open file.
        file: std::fs::File,
    },
}

impl PinSource {
    /// The source the flags name (clap lets at most one through).
    pub fn from_flags(
        stdin: bool,
        fd: Option<u32>,
        file: Option<&std::path::Path>,
    ) -> anyhow::Result<PinSource> {
        if stdin {
            return Ok(PinSource::Stdin);
        }
        if let Some(fd) = fd {
            // Opened again through /proc rather than adopted by number: safe code only (the
            // workspace denies unsafe), and a descriptor that is not open fails here, clearly.
            let file = std::fs::File::open(format!("/proc/self/fd/{fd}"))
                .with_context(|| format!("--pin-fd {fd}: no readable open file descriptor {fd}"))?;
            return Ok(PinSource::Open {
                what: format!("--pin-fd {fd}"),
                file,
            });
        }
        if let Some(path) = file {
            return Ok(PinSource::Open {
                what: format!("--pin-file {}", path.display()),
                file: open_private_file(path)?,
            });
        }
        Ok(PinSource::Terminal)
    }
}

/// Opens a PIN file, refusing one that another user could read or change: not a link, a
/// regular file, owned by this user, no permission for group or others (mode 600 or 400).
fn open_private_file(path: &std::path::Path) -> anyhow::Result<std::fs::File> {
    use rustix::fs::{Mode, OFlags};
    use std::os::unix::fs::MetadataExt;
    let fd = rustix::fs::open(
        path,
        OFlags::RDONLY | OFlags::NOFOLLOW | OFlags::CLOEXEC | OFlags::NOCTTY,
        Mode::empty(),
    )
    .with_context(|| {
        format!(
            "--pin-file {}: cannot open it (a link is refused)",
            path.display()
        )
    })?;
    let file = std::fs::File::from(fd);
    let meta = file
        .metadata()
        .with_context(|| format!("--pin-file {}", path.display()))?;
    if !meta.is_file() {
        bail!("--pin-file {}: not a regular file", path.display());
    }
    let mode = meta.mode() & 0o777;
    if mode & 0o077 != 0 {
        bail!(
            "--pin-file {}: mode {mode:03o} lets group or others read or change it; \
             `chmod 600 {}` first",
            path.display(),
            path.display()
        );
    }
    if meta.uid() != rustix::process::geteuid().as_raw() {
        bail!(
            "--pin-file {}: owned by another user (uid {})",
            path.display(),
            meta.uid()
        );
    }
    Ok(file)
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
/// "Mohammed" finds "محمد" (defined by the kit core).
pub use fieldkit_app::MatcherIndexer;

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
            hardware: self.seams.hardware.clone(),
            anchor: Some(self.seams.anchor.clone()),
            boot_clock: Arc::new(crate::clock::ProcBootClock),
            cache_bytes: fieldkit_app::KIT_VAULT_CACHE_BYTES,
            // A kit provisioned on a PC (software mode) moves into its TPM as its caseworkers
            // sign in on it (`fieldkit_vault::Vault::unlock`).
            adopt_software: true,
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
        let what = prompt.trim_end_matches(": ");
        match &self.pins {
            PinSource::Stdin => {
                return crate::harden::read_secret_line()?
                    .with_context(|| format!("standard input ended before the {what}"));
            }
            PinSource::Open { what: flag, file } => {
                return crate::harden::read_secret_line_from(file, flag)?
                    .with_context(|| format!("{flag} ended before the {what}"));
            }
            PinSource::Terminal => {}
        }
        if !std::io::stdin().is_terminal() {
            bail!("no terminal to ask for the {what}: use --pin-stdin, --pin-fd or --pin-file");
        }
        rpassword::prompt_password(prompt)
            .map(Zeroizing::new)
            .context("reading the PIN")
    }

    /// A new secret, asked twice on a terminal.
    pub fn read_new_secret(&self, prompt: &str) -> anyhow::Result<Zeroizing<String>> {
        let first = self.read_secret(prompt)?;
        if matches!(self.pins, PinSource::Terminal) {
            let again = self.read_secret("again: ")?;
            if *again != *first {
                bail!("the two entries differ");
            }
        }
        Ok(first)
    }

    /// The triage rules in force.
    pub fn triage_rules(&self) -> anyhow::Result<fieldkit_match::triage::TriageRules> {
        read_triage_rules(self.config.triage_rules.as_deref())
    }

    /// The location hierarchy, when the configuration names a file.
    pub fn locations(&self) -> anyhow::Result<Option<fieldkit_domain::LocationTree>> {
        read_locations(self.config.locations_file.as_deref())
    }

    /// The lookup lists in force: the shipped ones, with the configured file's on top.
    pub fn lookups(&self) -> anyhow::Result<fieldkit_domain::lookups::Lookups> {
        match &self.config.lookups_file {
            None => Ok(fieldkit_domain::lookups::Lookups::shipped()),
            Some(p) => {
                let text = std::fs::read_to_string(p)
                    .with_context(|| format!("reading {}", p.display()))?;
                fieldkit_domain::lookups::Lookups::from_primero_json(&text)
                    .with_context(|| p.display().to_string())
            }
        }
    }

    /// Opens the vault, waiting while another fieldkit process (the kiosk, an import, another
    /// command) holds it: up to `--wait` seconds, saying so once on standard error; at once with
    /// `--no-wait`. One process at a time is the vault's rule (its file lock); this only turns
    /// "in use" from a failure into a queue.
    pub fn open_vault(&self) -> anyhow::Result<Vault> {
        let path = self.vault_path();
        let started = std::time::Instant::now();
        let mut told = false;
        let mut pause = std::time::Duration::from_millis(20);
        loop {
            match Vault::open(&path, self.open_options()) {
                Err(fieldkit_vault::OpenError::InUse(_)) => {}
                other => return Ok(other?),
            }
            let Some(limit) = self.lock_wait else {
                bail!(
                    "another fieldkit process (the kiosk, an import or another command) is using \
                     the vault {} (--no-wait given)",
                    path.display()
                );
            };
            let waited = started.elapsed();
            if waited >= limit {
                bail!(
                    "another fieldkit process (the kiosk, an import or another command) has held \
                     the vault {} for {} s; try again later, or stop it first",
                    path.display(),
                    waited.as_secs()
                );
            }
            if !told {
                eprintln!(
                    "waiting for the vault: another fieldkit process is using it (up to {} s; \
                     --no-wait fails at once)",
                    limit.as_secs()
                );
                told = true;
            }
            std::thread::sleep(pause.min(limit.saturating_sub(waited)));
            pause = (pause * 2).min(std::time::Duration::from_millis(250));
        }
    }

    /// Opens the vault and signs in.
    pub fn session(&self) -> anyhow::Result<Session> {
        let user = self.username()?;
        let vault = self.open_vault()?;
        let pin = self.read_secret(&format!("PIN for {user}: "))?;
        let session = vault.unlock(&user, pin.as_bytes(), now_ms())?;
        Ok(session)
    }
}

impl Ctx {
    /// Signs in and makes the kit ready (its matcher index built): for every command that
    /// changes records.
    pub fn kit(&self) -> anyhow::Result<fieldkit_app::Kit> {
        let session = self.session()?;
        let config = fieldkit_app::KitConfig {
            locations: self.locations()?,
            triage: self.triage_rules()?,
            matching: fieldkit_match::matcher::MatchSettings::default(),
            lookups: self.lookups()?,
        };
        let mut kit = fieldkit_app::Kit::open(session, config, now_ms())
            .context("building the matcher index")?;
        // A one-shot command starts from the vault's snapshot of the index (records changed
        // since are read): keep one for the next command when it was missing or old.
        if let Err(e) = kit.save_index_snapshot_if_due(now_ms()) {
            tracing::warn!(error = %e, "the matcher index snapshot was not saved");
        }
        // A kit provisioned for sync queues every save for the hub, in the save's transaction.
        fieldkit_kitsync::attach(&mut kit)?;
        Ok(kit)
    }
}

/// Triage rules from a TOML file, or the rules shipped with fieldkit.
pub fn read_triage_rules(
    path: Option<&std::path::Path>,
) -> anyhow::Result<fieldkit_match::triage::TriageRules> {
    let Some(p) = path else {
        return Ok(fieldkit_match::triage::TriageRules::default_rules());
    };
    let text = std::fs::read_to_string(p).with_context(|| format!("reading {}", p.display()))?;
    fieldkit_match::triage::TriageRules::from_toml(&text).with_context(|| p.display().to_string())
}

/// A location hierarchy from a JSON array of `{code, name, level, parent}`, when a file is
/// named.
pub fn read_locations(
    path: Option<&std::path::Path>,
) -> anyhow::Result<Option<fieldkit_domain::LocationTree>> {
    let Some(path) = path else { return Ok(None) };
    let text =
        std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
    let list = serde_json::from_str(&text)
        .with_context(|| format!("{}: expected a JSON array of locations", path.display()))?;
    Ok(Some(
        fieldkit_domain::LocationTree::new(list).with_context(|| path.display().to_string())?,
    ))
}

/// Every case in the vault (one audited bulk read; the kiosk's tests read what it saved).
#[cfg(all(test, feature = "simulation"))]
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
