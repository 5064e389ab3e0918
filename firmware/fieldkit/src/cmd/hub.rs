//! `fieldkit hub`: the coordinators' hub. `init` makes the hub's vault and key, `enroll` adds a
//! kit by its public key file, `run` serves kits over HTTP and/or a LoRa module, `kits` and
//! `status` show the coordinator what the hub holds (a kit whose vault was rolled back is
//! flagged). The hub's vault is the vault of `--data-dir`, like a kit's; one process holds it
//! at a time, so stop `run` (or wait for it) before `kits`/`status`.

use std::io::Write;
use std::path::PathBuf;
use std::time::Duration;

use anyhow::{Context, bail};
use fieldkit_domain::RecordKind;
use fieldkit_hub::HubService;
use fieldkit_hub::gateway::{self, GatewayError};
use fieldkit_sync::seal::{public_key_from_text, public_key_to_text};
use serde::Serialize;

use super::{Ctx, now_ms, print_json};

/// `fieldkit hub …`
#[derive(Debug, clap::Subcommand)]
pub enum HubCommand {
    /// Create the hub's vault (if there is none) and its key; writes `<data-dir>/hub.pub`.
    Init(InitArgs),
    /// Enroll a kit from its public key file (`fieldkit provision` writes `sync/kit.pub`).
    Enroll(EnrollArgs),
    /// Serve kits: HTTP for kits on IP, and/or a LoRa gateway on a serial RAK3172.
    Run(RunArgs),
    /// Enrolled kits: last seen, vault status, rollbacks, messages waiting.
    Kits(JsonArg),
    /// What the hub holds: kits, records, potential matches, urgent alerts.
    Status(JsonArg),
}

/// Arguments of `hub init`.
#[derive(Debug, clap::Args)]
pub struct InitArgs {
    /// Sign-in name of the coordinator (a supervisor of the hub's vault).
    #[arg(long)]
    pub user: Option<String>,
    /// Their display name.
    #[arg(long)]
    pub display_name: Option<String>,
}

/// Arguments of `hub enroll`.
#[derive(Debug, clap::Args)]
pub struct EnrollArgs {
    /// The kit's public key file (`fieldkit-x25519 <hex>`).
    #[arg(long, value_name = "FILE")]
    pub key: PathBuf,
    /// The agency the kit belongs to (cases transferred to it reach its kits).
    #[arg(long)]
    pub agency: String,
    /// A label for the coordinator (camp, site).
    #[arg(long, default_value = "")]
    pub label: String,
}

/// Arguments of `hub run`.
#[derive(Debug, clap::Args)]
pub struct RunArgs {
    /// Address for the kits' HTTP link, e.g. `0.0.0.0:8480` (port 0 picks one). The address
    /// bound is printed on standard output's first line.
    #[arg(long, value_name = "ADDR")]
    pub listen: Option<String>,
    /// Serial device of the LoRa gateway module (RAK3172, RUI3 firmware), e.g. `/dev/lora`.
    #[arg(long, value_name = "DEVICE")]
    pub lora: Option<String>,
    /// Stop after this many seconds (tests, trials); runs until killed otherwise.
    #[arg(long, value_name = "SECONDS")]
    pub for_seconds: Option<u64>,
    /// Seconds before a fragment a kit has not acknowledged is sent again (default 20).
    #[arg(long, value_name = "SECONDS")]
    pub retry_s: Option<u64>,
}

/// `--json`.
#[derive(Debug, clap::Args)]
pub struct JsonArg {
    /// JSON on standard output.
    #[arg(long)]
    pub json: bool,
}

/// Runs a `hub` subcommand.
pub fn run(ctx: &Ctx, command: HubCommand) -> anyhow::Result<()> {
    match command {
        HubCommand::Init(a) => init(ctx, a),
        HubCommand::Enroll(a) => enroll(ctx, &a),
        HubCommand::Run(a) => serve(ctx, &a),
        HubCommand::Kits(a) => kits(ctx, a.json),
        HubCommand::Status(a) => status(ctx, a.json),
    }
}

fn hub_pub_path(ctx: &Ctx) -> PathBuf {
    ctx.data_dir.join("hub.pub")
}

fn init(ctx: &Ctx, args: InitArgs) -> anyhow::Result<()> {
    let path = ctx.vault_path();
    let mut session = if path.exists() {
        ctx.session()?
    } else {
        let user = args.user.map_or_else(|| ctx.username(), Ok)?;
        let display = args.display_name.unwrap_or_else(|| user.clone());
        let (session, recovery) = super::init::create(ctx, &user, &display)?;
        println!("Hub vault created at {}.", path.display());
        println!(
            "RECOVERY KEY — write it down and keep it away from the hub. It is shown only now."
        );
        println!();
        println!("    {}", recovery.to_words().as_str());
        println!();
        session
    };
    let public = fieldkit_hub::init(&mut session).context("making the hub's key")?;
    let text = public_key_to_text(&public);
    let file = hub_pub_path(ctx);
    std::fs::write(&file, format!("{text}\n"))
        .with_context(|| format!("writing {}", file.display()))?;
    println!(
        "Hub key made; its public key (give it to every kit's provisioning) is in {}:",
        file.display()
    );
    println!("{text}");
    Ok(())
}

/// Opens the hub with the deployment's configuration (location tree, lookups, triage
/// rules): the same files as its kits', whose code lists it announces to them.
fn open(ctx: &Ctx) -> anyhow::Result<HubService> {
    let config = fieldkit_app::KitConfig {
        locations: ctx.locations()?,
        triage: ctx.triage_rules()?,
        matching: fieldkit_match::matcher::MatchSettings::default(),
        lookups: ctx.lookups()?,
    };
    let session = ctx.session()?;
    HubService::open_with(session, config, now_ms()).context("opening the hub")
}

fn enroll(ctx: &Ctx, args: &EnrollArgs) -> anyhow::Result<()> {
    let text = std::fs::read_to_string(&args.key)
        .with_context(|| format!("reading {}", args.key.display()))?;
    let public = public_key_from_text(&text).with_context(|| format!("{}", args.key.display()))?;
    let mut hub = open(ctx)?;
    let id = hub
        .enroll(public, &args.agency, &args.label, now_ms())
        .context("enrolling the kit")?;
    println!("Kit {id} enrolled ({}).", args.agency.trim());
    Ok(())
}

fn serve(ctx: &Ctx, args: &RunArgs) -> anyhow::Result<()> {
    if args.listen.is_none() && args.lora.is_none() {
        bail!("nothing to serve: give --listen ADDR and/or --lora DEVICE");
    }
    let mut hub = open(ctx)?;
    if let Some(s) = args.retry_s {
        hub.set_retry_ms(s.saturating_mul(1000));
    }
    let server = match &args.listen {
        Some(addr) => Some(fieldkit_http::HubServer::bind(addr)?),
        None => None,
    };
    let mut radio = match &args.lora {
        Some(dev) => {
            let port = fieldkit_linux::open_serial(
                dev,
                fieldkit_drivers::rak3172::Rak3172::<serialport::TTYPort>::BAUD_RATE,
                Duration::from_millis(50),
            )?;
            // The kits' radio settings ([lora]): the gateway must hear what they send.
            let settings = crate::config::LoraConfig {
                port: dev.clone(),
                ..ctx.config.lora.clone()
            }
            .settings()?
            .context("the LoRa gateway's settings")?;
            let mut radio = fieldkit_drivers::rak3172::Rak3172::new(port);
            radio.set_duty_cycle(fieldkit_drivers::lora::DutyCycle::new(
                settings.duty_permille,
                3_600_000,
            ));
            let version = radio
                .start()
                .with_context(|| format!("LoRa module on {dev}"))?;
            radio
                .configure(settings.p2p)
                .with_context(|| format!("configuring the LoRa module on {dev}"))?;
            // The hour's airtime spent before a restart still counts.
            let ledger = hub
                .airtime()
                .context("the LoRa gateway's duty-cycle ledger")?;
            radio.duty_cycle_mut().restore(now_ms(), ledger);
            tracing::info!(device = %dev, ?version, sf = settings.p2p.modulation.sf, "LoRa gateway ready");
            Some((radio, settings.mtu))
        }
        None => None,
    };
    {
        let mut out = std::io::stdout().lock();
        if let Some(addr) = server
            .as_ref()
            .and_then(fieldkit_http::HubServer::local_addr)
        {
            writeln!(out, "listening on http://{addr}")?;
        }
        if let Some(dev) = &args.lora {
            writeln!(out, "LoRa gateway on {dev}")?;
        }
        out.flush()?;
    }
    tracing::info!(kits = hub.kits().len(), "hub serving");
    let started = std::time::Instant::now();
    let http_wait = if radio.is_some() {
        Duration::from_millis(20)
    } else {
        Duration::from_millis(500)
    };
    loop {
        if args
            .for_seconds
            .is_some_and(|s| started.elapsed() >= Duration::from_secs(s))
        {
            return Ok(());
        }
        if let Some(server) = &server {
            match gateway::serve_http(server, &mut hub, http_wait, now_ms) {
                Ok(Some(step)) => report(&step),
                Ok(None) => {}
                // One connection failing (a kit gone mid-answer) is the kit's problem: it
                // sends again, and what it sent is committed.
                Err(GatewayError::Io(e)) => tracing::warn!(error = %e, "HTTP exchange failed"),
                Err(e) => {
                    return Err(e)
                        .context("the hub failed; restart it (nothing acknowledged is lost)");
                }
            }
        }
        if let Some((radio, mtu)) = radio.as_mut() {
            match gateway::lora_step_with(radio, &mut hub, Duration::from_millis(500), *mtu, now_ms)
            {
                Ok(Some(step)) => report(&step),
                Ok(None) => {}
                Err(GatewayError::Lora(e)) => {
                    tracing::warn!(error = %e, "LoRa gateway step failed");
                    std::thread::sleep(Duration::from_millis(200));
                }
                Err(e) => {
                    return Err(e)
                        .context("the hub failed; restart it (nothing acknowledged is lost)");
                }
            }
        }
    }
}

fn report(step: &gateway::Step) {
    let r = &step.receipt;
    for kit in &r.rollbacks {
        tracing::warn!(%kit, "ROLLED BACK: this kit's vault is older than it reported before; check it (`fieldkit hub kits`)");
    }
    tracing::info!(
        kit = ?step.kit.map(|k| k.to_string()),
        accepted = r.accepted,
        refused = r.refused,
        messages = r.messages,
        records_changed = r.records_changed,
        notices = r.notices_queued,
        reviews = r.reviews_forwarded,
        transfers = r.records_transferred,
        sent = step.sent,
        held_back = step.held_back,
        "exchange"
    );
}

#[derive(Serialize)]
struct KitRow {
    id: String,
    agency: String,
    label: String,
    enrolled_at_ms: u64,
    last_seen_ms: Option<u64>,
    commits: Option<u64>,
    audit_head: Option<String>,
    records: Option<u64>,
    rolled_back: bool,
    rollbacks: Vec<fieldkit_hub::store::RollbackSeen>,
    messages_waiting: usize,
    frames_accepted: u64,
    frames_refused: u64,
    messages_dropped: u64,
    records_held: usize,
}

fn rows(hub: &HubService) -> Vec<KitRow> {
    hub.kits()
        .into_iter()
        .map(|k| KitRow {
            id: k.id.to_string(),
            agency: k.file.agency.clone(),
            label: k.file.label.clone(),
            enrolled_at_ms: k.file.enrolled_at_ms,
            last_seen_ms: k.file.last_seen_ms,
            commits: k.file.status.as_ref().map(|s| s.commits),
            audit_head: k
                .file
                .status
                .as_ref()
                .map(|s| s.audit_head.iter().map(|b| format!("{b:02x}")).collect()),
            records: k.file.status.as_ref().map(|s| s.records),
            rolled_back: !k.file.rollbacks.is_empty(),
            rollbacks: k.file.rollbacks.clone(),
            messages_waiting: k.queued,
            frames_accepted: k.file.frames_accepted,
            frames_refused: k.refused,
            messages_dropped: k.file.messages_dropped,
            records_held: k.file.holds.len(),
        })
        .collect()
}

fn kits(ctx: &Ctx, json: bool) -> anyhow::Result<()> {
    let hub = open(ctx)?;
    let rows = rows(&hub);
    if json {
        return print_json(&rows);
    }
    println!(
        "{:<8}  {:<12}  {:<16}  {:>8}  {:>8}  {:>7}  {:<10}",
        "KIT", "AGENCY", "LABEL", "COMMITS", "RECORDS", "WAITING", "VAULT"
    );
    for r in &rows {
        println!(
            "{:<8}  {:<12}  {:<16}  {:>8}  {:>8}  {:>7}  {:<10}",
            r.id,
            r.agency,
            r.label,
            r.commits.map_or("-".into(), |c| c.to_string()),
            r.records_held,
            r.messages_waiting,
            if r.rolled_back { "ROLLED BACK" } else { "ok" }
        );
    }
    for r in rows.iter().filter(|r| r.rolled_back) {
        for b in &r.rollbacks {
            println!(
                "kit {}: vault rolled back from commit {} to {}{}",
                r.id,
                b.before_commits,
                b.now_commits,
                if b.other_history {
                    " (same counter, different audit history)"
                } else {
                    ""
                }
            );
        }
    }
    Ok(())
}

#[derive(Serialize)]
struct Status {
    public_key: String,
    kits: usize,
    kits_rolled_back: usize,
    cases: u64,
    tracing_requests: u64,
    potential_matches: u64,
    pending_matches: usize,
    urgent_alerts: usize,
    frames_from_unknown_kits: u64,
}

fn status(ctx: &Ctx, json: bool) -> anyhow::Result<()> {
    let hub = open(ctx)?;
    let s = hub.kit().session();
    let rows = rows(&hub);
    let st = Status {
        public_key: public_key_to_text(&hub.public()),
        kits: rows.len(),
        kits_rolled_back: rows.iter().filter(|r| r.rolled_back).count(),
        cases: s.count(RecordKind::Case)?,
        tracing_requests: s.count(RecordKind::TracingRequest)?,
        potential_matches: s.count(RecordKind::PotentialMatch)?,
        pending_matches: hub
            .kit()
            .potential_matches(&fieldkit_app::MatchFilter {
                status: Some("pending".into()),
                ..Default::default()
            })
            .len(),
        urgent_alerts: hub.alerts().len(),
        frames_from_unknown_kits: hub.unknown_kit_frames(),
    };
    if json {
        return print_json(&st);
    }
    println!("hub key           {}", st.public_key);
    println!(
        "kits              {} ({} rolled back)",
        st.kits, st.kits_rolled_back
    );
    println!("cases             {}", st.cases);
    println!("tracing requests  {}", st.tracing_requests);
    println!(
        "potential matches {} ({} pending)",
        st.potential_matches, st.pending_matches
    );
    println!("urgent alerts     {}", st.urgent_alerts);
    println!("unknown-kit frames {}", st.frames_from_unknown_kits);
    Ok(())
}
