//! What a sync round runs over: frames out, frames back.

use std::time::Duration;

use fieldkit_drivers::rak3172::{LoraError, MAX_PAYLOAD, Rak3172};
use fieldkit_drivers::serial::SerialPort;
use fieldkit_sync::seal::{KitId, peek};

/// Why an exchange over a link failed. Nothing is lost: what was not acknowledged is sent
/// again at the next round.
#[derive(Debug, thiserror::Error)]
pub enum LinkError {
    /// The hub did not answer over HTTP (or the cellular IP path).
    #[error(transparent)]
    Http(#[from] fieldkit_http::HttpError),
    /// The LoRa module failed or the duty cycle is spent.
    #[error(transparent)]
    Lora(#[from] LoraError),
    /// The cellular modem did not come up (power, SIM, registration).
    #[error(transparent)]
    Modem(#[from] fieldkit_drivers::modem::ModemError),
    /// The round was stopped before it was done: the power mode no longer allows the link,
    /// or the kiosk is shutting down. What was acknowledged is kept; the rest goes later.
    #[error("stopped: the power mode no longer allows this link, or the kiosk is shutting down")]
    Stopped,
    /// Frames went out and nothing came back: over LoRa the hub's gateway acknowledges
    /// every frame it hears, so it heard none of them (out of reach, or the hub is down).
    #[error("the hub did not answer ({sent} frames sent)")]
    NoAnswer {
        /// Frames sent in the round.
        sent: usize,
    },
}

/// A link to the hub.
pub trait Link {
    /// Largest frame, bytes.
    fn mtu(&self) -> usize;
    /// Most frames sent in one exchange.
    fn max_frames(&self) -> usize;
    /// Sends `frames` (possibly none: then it only listens) and returns what the hub sent
    /// back for this kit. `now_ms` is the caller's monotonic clock (duty-cycle budget).
    fn exchange(&mut self, frames: &[Vec<u8>], now_ms: u64) -> Result<Vec<Vec<u8>>, LinkError>;
}

/// The HTTP link (any IP network; the cellular modem's data path is one).
#[derive(Debug)]
pub struct HttpLink {
    inner: fieldkit_http::HttpLink,
    mtu: usize,
    max_frames: usize,
}

impl HttpLink {
    /// Largest frame sent over HTTP: big enough that a whole case is one or two frames.
    pub const MTU: usize = 4096;

    /// A link to the hub at `base` (`http://host:port`).
    pub fn new(base: &str, kit: KitId, timeout: Duration) -> Self {
        Self {
            inner: fieldkit_http::HttpLink::new(base, kit, timeout),
            mtu: Self::MTU,
            max_frames: 64,
        }
    }

    /// Smaller frames and fewer per request (tests and metered links).
    pub fn with_limits(mut self, mtu: usize, max_frames: usize) -> Self {
        self.mtu = mtu.clamp(64, fieldkit_http::MAX_FRAME);
        self.max_frames = max_frames.max(1);
        self
    }
}

impl Link for HttpLink {
    fn mtu(&self) -> usize {
        self.mtu
    }

    fn max_frames(&self) -> usize {
        self.max_frames
    }

    fn exchange(&mut self, frames: &[Vec<u8>], _now_ms: u64) -> Result<Vec<Vec<u8>>, LinkError> {
        Ok(self.inner.exchange(frames)?)
    }
}

/// LoRa point to point through a RAK3172, class-A style: each frame sent within the
/// duty-cycle budget is followed by receive windows until one passes silent, because the
/// hub's gateway answers each frame it hears (after its turnaround) and a half-duplex
/// radio still sending the next frame would miss that answer, while the gateway, busy
/// answering, would miss the frame. Frames for other kits are dropped here.
#[derive(Debug)]
pub struct LoraLink<P> {
    radio: Rak3172<P>,
    kit: KitId,
    listen: Duration,
    mtu: usize,
}

impl<P: SerialPort> LoraLink<P> {
    /// A link over a started, configured module. `mtu` is what the spreading factor allows
    /// (e.g. 51 bytes at SF10–12, 239 at SF7 in P2P).
    pub fn new(radio: Rak3172<P>, kit: KitId, mtu: usize, listen: Duration) -> Self {
        Self {
            radio,
            kit,
            listen,
            mtu: mtu.clamp(32, MAX_PAYLOAD),
        }
    }

    /// The module back.
    pub fn into_radio(self) -> Rak3172<P> {
        self.radio
    }

    /// Keeps the frames for `kit` (the kit's id is known once its sync state is read).
    pub fn set_kit(&mut self, kit: KitId) {
        self.kit = kit;
    }

    /// The module.
    pub fn radio(&self) -> &Rak3172<P> {
        &self.radio
    }

    /// The module, to ask its duty-cycle budget.
    pub fn radio_mut(&mut self) -> &mut Rak3172<P> {
        &mut self.radio
    }
}

impl<P: SerialPort> Link for LoraLink<P> {
    fn mtu(&self) -> usize {
        self.mtu
    }

    fn max_frames(&self) -> usize {
        8
    }

    fn exchange(&mut self, frames: &[Vec<u8>], now_ms: u64) -> Result<Vec<Vec<u8>>, LinkError> {
        let mut t = now_ms;
        let mut got = Vec::new();
        let listen = |radio: &mut Rak3172<P>, got: &mut Vec<Vec<u8>>| {
            // Until a window passes silent (each window closes on the first frame heard).
            while got.len() < 64
                && let Some(p) = radio.receive(self.listen)?
            {
                if peek(&p.payload).is_ok_and(|h| h.kit == self.kit) {
                    got.push(p.payload);
                }
            }
            Ok::<_, LinkError>(())
        };
        for f in frames {
            t += u64::from(self.radio.send(t, f)?);
            listen(&mut self.radio, &mut got)?;
        }
        if frames.is_empty() {
            listen(&mut self.radio, &mut got)?;
        }
        Ok(got)
    }
}
