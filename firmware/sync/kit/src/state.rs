//! The names and encodings of what sync keeps in the vault (`Session::sync_value`): postcard
//! values under `kit/…` names, each sealed by the vault.

use fieldkit_domain::Hlc;
use std::sync::Arc;

use fieldkit_sync::codes::CodeBook;
use fieldkit_sync::counter::ReplayWindow;
use fieldkit_sync::schedule::Backoff;
use fieldkit_sync::transfer::{Inbox, Outbox};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use zeroize::{Zeroize, ZeroizeOnDrop};

use fieldkit_vault::Session;

use crate::engine::SyncError;

/// The kit's identity and its hub.
pub const IDENTITY: &str = "kit/identity";
/// The send counter's reserved limit.
pub const COUNTER: &str = "kit/counter";
/// The replay window over the hub's counters.
pub const WINDOW: &str = "kit/window";
/// Messages in transfer to the hub.
pub const OUTBOX: &str = "kit/outbox";
/// Messages being received from the hub.
pub const INBOX: &str = "kit/inbox";
/// The newest stamp of this kit's own operations already in the outbox.
pub const MARK: &str = "kit/mark";
/// The deployment code lists: what the hub announced, and the list the kit codes with.
pub const CODES: &str = "kit/codes";
/// The LoRa module's duty-cycle ledger: this hour's transmissions (start, airtime, ms), and
/// before a round the airtime it may spend, so a kit killed mid-round never exceeds 1 %.
pub const AIRTIME: &str = "kit/lora/airtime";
/// Every code list the kit ever coded with ([`HeldCodes`]), so it reads what the hub codes
/// for it with any of them.
pub const HELD_CODES: &str = "kit/codes/held";
/// The links' rests ([`Rests`]), written when they change.
pub const RESTS: &str = "kit/rests";

/// What keeps the kit from trying a link again at once, kept across restarts: each link's
/// back-off after rounds the hub did not answer, and when the modem last failed to come up
/// usable. Without it a kit rebooting in a brown-out loop would boot its modem, or spend the
/// channel's airtime, at every start for a hub that is down or a network out of reach.
/// Times are the jobs' clock (wall time, ms).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Rests {
    /// The IP row's (the camp's network, or the modem's data path).
    pub ip: Backoff,
    /// LoRa's.
    pub lora: Backoff,
    /// When the modem last did not come up usable (no registration, too weak a signal).
    pub modem_failed_ms: Option<u64>,
}

impl Rests {
    /// The rests persisted before a restart, taken back at `now_ms`: a time later than now
    /// (a board without a real-time clock that started with an older time) counts from now.
    #[must_use]
    pub fn restored(self, now_ms: u64) -> Self {
        Self {
            ip: self.ip.restored(now_ms),
            lora: self.lora.restored(now_ms),
            modem_failed_ms: self.modem_failed_ms.map(|t| t.min(now_ms)),
        }
    }
}

/// The tables of every code list the kit coded with, oldest first. The hub codes what it
/// sends a kit with the list the kit last coded with (from protocol version 4 on), which may
/// be one the kit has since moved on from while the message waited: the kit keeps them all
/// (a few KiB each; lists change when a deployment adds a camp).
pub type HeldCodes = Vec<Vec<(String, Vec<String>)>>;

/// The books of `held`, for reading (a list whose digest prefix collides with one before is
/// left out: a hub announces none such, see `fieldkit_sync::codes::CodeBooks::add`).
pub fn held_books(held: &HeldCodes) -> fieldkit_sync::codes::CodeBooks {
    let mut books = fieldkit_sync::codes::CodeBooks::new();
    for tables in held {
        if let Err(e) = books.add(Arc::new(CodeBook::new(tables.clone()))) {
            tracing::warn!(error = %e, "a code list the kit held is not read");
        }
    }
    books
}

/// What the kit knows of the code-list handshake (`fieldkit_sync::codes`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct KitCodes {
    /// The digests the hub last announced it reads.
    pub announced: Vec<[u8; 32]>,
    /// The tables of the list the kit codes with: its own list when the hub announced it;
    /// kept so messages go on being coded against a list the hub reads even if the kit's
    /// configuration changes before the hub's does.
    pub agreed: Option<Vec<(String, Vec<String>)>>,
}

impl KitCodes {
    /// The list agreed before, when the hub still names it.
    pub fn agreed_book(&self) -> Option<Arc<CodeBook>> {
        let book = CodeBook::new(self.agreed.clone()?);
        self.announced
            .contains(&book.digest())
            .then(|| Arc::new(book))
    }

    /// The list to code with: the kit's own when announced, else the one agreed before when
    /// the hub still names it, else none (text).
    pub fn choose(&self, own: &Arc<CodeBook>) -> Option<Arc<CodeBook>> {
        fieldkit_sync::codes::agreed(own, &self.announced).or_else(|| self.agreed_book())
    }
}

/// Who this kit is for sync: its X25519 secret and the hub it talks to.
#[derive(Serialize, Deserialize, Zeroize, ZeroizeOnDrop)]
pub struct Identity {
    /// The kit's static X25519 secret.
    pub secret: [u8; 32],
    /// The hub's public key.
    pub hub_public: [u8; 32],
    /// The hub's address (`http://host:port` for HTTP and cellular).
    pub hub_address: String,
    /// The agency this kit works for.
    pub agency: String,
    /// The kit's label for technicians.
    pub label: String,
}

impl std::fmt::Debug for Identity {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Identity")
            .field("hub_address", &self.hub_address)
            .field("agency", &self.agency)
            .finish_non_exhaustive()
    }
}

/// The protocol state restored at start.
#[derive(Debug, Default)]
pub struct Restored {
    /// Counter limit reserved.
    pub counter_limit: u64,
    /// Replay window.
    pub window: ReplayWindow,
    /// Outbox.
    pub outbox: Outbox,
    /// Inbox.
    pub inbox: Inbox,
    /// High-water stamp.
    pub mark: Option<Hlc>,
}

pub(crate) fn encode<T: Serialize>(v: &T) -> Result<Vec<u8>, SyncError> {
    postcard::to_allocvec(v).map_err(|e| SyncError::State(format!("encoding: {e}")))
}

pub(crate) fn read<T: DeserializeOwned>(s: &Session, name: &str) -> Result<Option<T>, SyncError> {
    match s.sync_value(name)? {
        Some(bytes) => postcard::from_bytes(&bytes)
            .map(Some)
            .map_err(|e| SyncError::State(format!("{name}: {e}"))),
        None => Ok(None),
    }
}

pub(crate) fn restore(s: &Session) -> Result<Restored, SyncError> {
    Ok(Restored {
        counter_limit: read(s, COUNTER)?.unwrap_or(0),
        window: read(s, WINDOW)?.unwrap_or_default(),
        outbox: read(s, OUTBOX)?.unwrap_or_default(),
        inbox: read(s, INBOX)?.unwrap_or_default(),
        mark: read(s, MARK)?.flatten(),
    })
}
