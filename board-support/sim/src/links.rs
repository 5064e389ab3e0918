//! The simulated kiosk's sync links (`fieldkit kiosk --simulate`): a LoRa air with the kit's
//! module and the hub's gateway module on it, a cellular modem whose signal follows the
//! simulated hour, and an in-process hub (the real `fieldkit-hub` on its own vault) serving
//! both: the gateway mode on its simulated module and the HTTP endpoint on loopback, which is
//! the modem's IP path in simulation.
//!
//! The kiosk gets the kit's ends of the serial lines and the modem's power key, and drives
//! them with the same code as on a board: only the opening of a device differs.
//!
//! The hub opens with the kiosk's own deployment configuration (location tree, lookups,
//! triage rules: [`LinksConfig::deployment`]), as `fieldkit hub run` opens with the
//! deployment's files, so it announces the code lists the kit holds and the kit codes its
//! records against them (a hub with the shipped defaults would leave a kit configured with a
//! location file sending text).
//!
//! The hub's thread looks at its HTTP socket (1 ms) and listens on the air in receive windows
//! (half a second), so an idle hub costs a few wake-ups a second and nothing else.

use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::thread::JoinHandle;
use std::time::Duration;

use fieldkit_drivers::rak3172::{P2pConfig, Rak3172};
use fieldkit_http::HubServer;
use fieldkit_hub::gateway::{self, GatewayError};
use fieldkit_hub::{HubService, KitConfig};
use fieldkit_vault::{CredentialPolicy, InitOptions, OpenOptions, Vault};
use serialport::TTYPort;
use x25519_dalek::PublicKey;

use crate::cellular::{ModemConfig, ModemKind, SignalDay, SimCard, SimModem, SimPowerKey};
use crate::clock::SimClock;
use crate::lora::{Air, AirConfig, Firmware, SimRak3172};
use crate::pty::PtyError;

/// The simulated hub's coordinator and PIN (a simulation's own vault; never a real hub's).
pub const HUB_USER: &str = "coordinator";
const HUB_PIN: &[u8] = b"739164";

/// Why the simulated links could not start.
#[derive(Debug, thiserror::Error)]
pub enum LinksError {
    /// A module, the modem or a pseudo-terminal.
    #[error("simulated radio: {0}")]
    Pty(#[from] PtyError),
    /// The gateway module's driver.
    #[error("simulated gateway module: {0}")]
    Lora(#[from] fieldkit_drivers::rak3172::LoraError),
    /// The hub's vault.
    #[error("the simulated hub's vault: {0}")]
    Vault(#[from] fieldkit_vault::VaultError),
    /// Making the hub's key.
    #[error("the simulated hub: {0}")]
    Init(#[from] fieldkit_hub::InitError),
    /// Opening the hub.
    #[error("the simulated hub: {0}")]
    Open(#[from] fieldkit_hub::OpenError),
    /// Enrolling the kit.
    #[error("enrolling the kit at the simulated hub: {0}")]
    Enroll(#[from] fieldkit_hub::EnrollKitError),
    /// The HTTP endpoint.
    #[error("the simulated hub's endpoint: {0}")]
    Server(#[from] fieldkit_http::ServerError),
    /// The hub's directory or thread.
    #[error("the simulated hub: {0}")]
    Io(#[from] std::io::Error),
}

/// How the simulated links behave.
#[derive(Debug, Clone)]
pub struct LinksConfig {
    /// The radio settings of the gateway (the kit's module must use the same).
    pub p2p: P2pConfig,
    /// The gateway's largest answer frame (the spreading factor's limit).
    pub mtu: usize,
    /// Simulated time on air = real × this.
    pub time_scale: f64,
    /// Frames lost on the air, percent.
    pub loss_percent: u8,
    /// The modem: from power key to `RDY`.
    pub modem_boot: Duration,
    /// The modem: from `RDY` to registration.
    pub modem_register: Duration,
    /// The clock whose hour sets the cellular signal.
    pub clock: SimClock,
    /// The deployment's configuration the hub opens with: the kit's own (its location tree,
    /// lookups and triage rules), so both hold the same code lists.
    pub deployment: KitConfig,
}

/// The running links; dropping them stops the hub and the simulated devices.
pub struct KioskLinks {
    /// The kit's end of its LoRa module's serial line (taken by the kiosk).
    pub lora_port: Option<TTYPort>,
    /// The kit's end of the modem's serial line (taken by the kiosk).
    pub modem_port: Option<TTYPort>,
    /// The modem's power key.
    pub modem_key: SimPowerKey,
    hub: Arc<Mutex<HubService>>,
    hub_public: PublicKey,
    address: String,
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
    _air: Air,
    _modules: (SimRak3172, SimRak3172),
    modem: Option<SimModem>,
}

impl std::fmt::Debug for KioskLinks {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("KioskLinks")
            .field("address", &self.address)
            .finish_non_exhaustive()
    }
}

fn now_ms() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
}

/// Opens (or, the first time, creates) the simulated hub's vault in `dir`, with the
/// deployment's configuration.
fn hub_service(dir: &Path, deployment: KitConfig) -> Result<HubService, LinksError> {
    std::fs::create_dir_all(dir)?;
    let path = Vault::file_in(dir);
    let now = now_ms();
    let session = if path.exists() {
        Vault::open(&path, OpenOptions::default())
            .map_err(fieldkit_vault::VaultError::from)?
            .unlock(HUB_USER, HUB_PIN, now)
            .map_err(fieldkit_vault::VaultError::from)?
    } else {
        let (mut session, _recovery) = Vault::create(
            &path,
            InitOptions {
                username: HUB_USER,
                display_name: "Coordinator (simulated hub)",
                credential: HUB_PIN,
                policy: CredentialPolicy::default(),
                now_ms: now,
            },
            OpenOptions::default(),
        )
        .map_err(fieldkit_vault::VaultError::from)?;
        fieldkit_hub::init(&mut session)?;
        session
    };
    Ok(HubService::open_with(session, deployment, now)?)
}

impl KioskLinks {
    /// Starts the air with two modules (the kit's, the hub's gateway), the modem, and the hub
    /// on its vault in `hub_dir` (kept between runs, so what it received stays).
    pub fn start(hub_dir: &Path, config: LinksConfig) -> Result<KioskLinks, LinksError> {
        let air = Air::new(AirConfig {
            loss_percent: config.loss_percent,
            time_scale: config.time_scale,
            ..AirConfig::default()
        });
        let (kit_module, lora_port) = air.module(Firmware::V5_0_0, true)?;
        let (gateway_module, gateway_port) = air.module(Firmware::V4_1_0, true)?;
        let mut gateway_radio = Rak3172::new(gateway_port);
        gateway_radio.start()?;
        gateway_radio.configure(config.p2p)?;
        let (modem, modem_key, modem_port) = SimModem::spawn(ModemConfig {
            kind: ModemKind::Sim7600,
            boot: config.modem_boot,
            register_after: config.modem_register,
            sim: SimCard::Ready,
            signal: SignalDay {
                clock: config.clock,
                best_hour: 13.0,
                best_rssi: 22,
                worst_rssi: 8,
                dead: None,
            },
        })?;
        let hub = hub_service(hub_dir, config.deployment)?;
        let hub_public = hub.public();
        let server = HubServer::bind("127.0.0.1:0")?;
        let address = server
            .local_addr()
            .map(|a| format!("http://{a}"))
            .ok_or_else(|| std::io::Error::other("the hub's endpoint has no address"))?;
        let hub = Arc::new(Mutex::new(hub));
        let stop = Arc::new(AtomicBool::new(false));
        let (shared, halt) = (hub.clone(), stop.clone());
        let thread = std::thread::Builder::new()
            .name("sim-hub".into())
            .spawn(move || serve(&server, &mut gateway_radio, config.mtu, &shared, &halt))?;
        Ok(KioskLinks {
            lora_port: Some(lora_port),
            modem_port: Some(modem_port),
            modem_key,
            hub,
            hub_public,
            address,
            stop,
            thread: Some(thread),
            _air: air,
            _modules: (kit_module, gateway_module),
            modem: Some(modem),
        })
    }

    /// The hub's public key (to provision a kit for it).
    pub fn hub_public(&self) -> PublicKey {
        self.hub_public
    }

    /// The hub's HTTP address (`http://127.0.0.1:<port>`, a new port each run).
    pub fn hub_address(&self) -> &str {
        &self.address
    }

    fn hub(&self) -> MutexGuard<'_, HubService> {
        self.hub
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Enrolls a kit at the hub (once: a kit already enrolled is fine).
    pub fn enroll(&self, kit: PublicKey, agency: &str, label: &str) -> Result<(), LinksError> {
        match self.hub().enroll(kit, agency, label, now_ms()) {
            Ok(_) | Err(fieldkit_hub::EnrollKitError::Already(_)) => Ok(()),
            Err(e) => Err(e.into()),
        }
    }

    /// How many records of `kind` the hub holds.
    pub fn hub_holds(&self, kind: fieldkit_domain::RecordKind) -> u64 {
        self.hub().kit().session().count(kind).unwrap_or(0)
    }

    /// The hub's copy of a record (audited at the hub), `None` when it does not hold it.
    pub fn hub_record(
        &self,
        kind: fieldkit_domain::RecordKind,
        id: fieldkit_domain::RecordId,
    ) -> Option<fieldkit_domain::Record> {
        self.hub()
            .open_record(kind, id, now_ms())
            .ok()
            .map(|o| o.record)
    }

    /// Messages from enrolled kits the hub could not read (a code list it lacks, a damaged
    /// message), over all kits.
    pub fn hub_dropped(&self) -> u64 {
        self.hub()
            .kits()
            .iter()
            .map(|k| k.file.messages_dropped)
            .sum()
    }

    /// Urgent alerts the hub received.
    pub fn hub_alerts(&self) -> usize {
        self.hub().alerts().len()
    }

    /// Whether the modem is on.
    pub fn modem_on(&self) -> bool {
        self.modem.as_ref().is_some_and(SimModem::is_on)
    }
}

/// The hub's loop: one HTTP exchange if a kit asks, then one receive window on the air.
fn serve(
    server: &HubServer,
    radio: &mut Rak3172<TTYPort>,
    mtu: usize,
    hub: &Mutex<HubService>,
    stop: &AtomicBool,
) {
    let lock = || {
        hub.lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    };
    while !stop.load(Ordering::Relaxed) {
        // A moment for a waiting HTTP request, then a receive window: the gateway is deaf to
        // the air only for that moment and the window's turnaround (a frame sent then is
        // lost, as on a real air, and sent again by the kit after its retry time).
        let http = gateway::serve_http(server, &mut lock(), Duration::from_millis(1), now_ms);
        let lora =
            gateway::lora_step_with(radio, &mut lock(), Duration::from_millis(500), mtu, now_ms);
        for r in [http, lora] {
            match r {
                Ok(Some(step)) => tracing::debug!(
                    accepted = step.receipt.accepted,
                    records = step.receipt.records_changed,
                    sent = step.sent,
                    "simulated hub: exchange"
                ),
                Ok(None) => {}
                Err(GatewayError::Io(e)) => tracing::debug!("simulated hub: HTTP: {e}"),
                Err(GatewayError::Lora(e)) => {
                    tracing::debug!("simulated hub: LoRa: {e}");
                    std::thread::sleep(Duration::from_millis(200));
                }
                Err(e) => {
                    tracing::warn!("the simulated hub stopped: {e}");
                    return;
                }
            }
        }
    }
}

impl Drop for KioskLinks {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
        if let Some(m) = self.modem.take() {
            m.stop();
        }
    }
}
