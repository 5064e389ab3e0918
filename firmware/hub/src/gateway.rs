//! The hub's two doors: the HTTP endpoint for kits on IP and the LoRa gateway on a serial
//! RAK3172.
//!
//! HTTP server choice: the hub is the same `fieldkit` binary as the kits, so whatever serves
//! HTTP here is linked into every kit's image. `tiny_http` (through `fieldkit-http`) is
//! synchronous and brings four small crates; hyper or axum would bring tokio and about a
//! hundred crates, several hundred kilobytes of code and an async runtime onto a solar kit
//! for a server only the hub runs. One request at a time is enough: an exchange is a
//! few kilobytes, and the hub must commit before it answers anyway, so requests would queue
//! on the vault's single writer even with a concurrent server.
//!
//! LoRa gateway: the kits talk first (class-A style): after each frame a kit sends it
//! listens for the hub's answer, so the gateway answers the kit it just heard, with at most
//! [`LORA_ANSWER_FRAMES`] frames, acknowledgements first. The driver's duty-cycle budget
//! holds back what the hour does not allow; what is held back stays in the kit's outbox for
//! its next turn.
//!
//! Timing: a RAK3172's timed receive window closes on the first frame it hears, and a kit
//! can only open it after its module reported the end of its own transmission. So the
//! gateway never answers at once: each answer frame starts [`LORA_TURNAROUND`] after the
//! frame before it ended (the kit's, then its own), which leaves the kit time to read the
//! event line and send `AT+PRECV` again, as LoRaWAN's class A waits `RECEIVE_DELAY1`
//! before its downlink. An answer sent earlier arrives at a radio that is not listening
//! and is lost without a trace (not even a receive error).

use std::time::{Duration, Instant};

use fieldkit_drivers::rak3172::{LoraError, MAX_PAYLOAD, Rak3172};
use fieldkit_http::HubServer;
use fieldkit_sync::seal::{KitId, peek};
use serialport::SerialPort;

use crate::service::{HubService, Receipt, ReceiveError, TransmitError};

/// Frames the gateway answers a kit with, at most, per frame heard.
pub const LORA_ANSWER_FRAMES: usize = 4;
/// Frames per HTTP answer, at most.
pub const HTTP_ANSWER_FRAMES: usize = 256;
/// Time the gateway leaves a kit to turn its radio to receive before each answer frame
/// (after the kit's frame, and between answer frames). A kit's host needs a few
/// milliseconds (an event line in, `AT+PRECV=…` out at 115,200 baud); the margin covers a
/// busy host. Against the duty cycle's 99 silent seconds in 100 it costs nothing.
pub const LORA_TURNAROUND: Duration = Duration::from_millis(150);
/// Frame size on IP.
pub const IP_MTU: usize = 1200;

/// Why a gateway step failed.
#[derive(Debug, thiserror::Error)]
pub enum GatewayError {
    /// The radio or its port.
    #[error("LoRa module: {0}")]
    Lora(#[from] LoraError),
    /// The HTTP endpoint's socket.
    #[error("HTTP endpoint: {0}")]
    Io(#[from] std::io::Error),
    /// Taking frames (the hub must be reopened).
    #[error(transparent)]
    Receive(#[from] ReceiveError),
    /// Making frames.
    #[error(transparent)]
    Transmit(#[from] TransmitError),
    /// Saving the duty-cycle ledger (the hub must be reopened).
    #[error("saving the LoRa duty-cycle ledger: {0}")]
    Airtime(#[from] fieldkit_vault::VaultError),
}

/// What one gateway step did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Step {
    /// The kit served, if any.
    pub kit: Option<KitId>,
    /// What receiving did.
    pub receipt: Receipt,
    /// Frames sent back.
    pub sent: usize,
    /// Frames the duty cycle held back.
    pub held_back: usize,
}

/// Serves one HTTP exchange if a kit asks within `wait`. The kit's frames are committed before
/// the answer (its acknowledgements) is made; if the hub fails, the kit is answered 503 and
/// the error returned (the caller reopens the hub).
pub fn serve_http(
    server: &HubServer,
    hub: &mut HubService,
    wait: Duration,
    now_ms: impl Fn() -> u64,
) -> Result<Option<Step>, GatewayError> {
    let mut step = Step::default();
    let served = server.serve_one_with(wait, |kit, frames| {
        let now = now_ms();
        step.kit = Some(kit);
        step.receipt = hub.receive(&frames, now)?;
        let out = hub.transmit(kit, IP_MTU, HTTP_ANSWER_FRAMES, now)?;
        step.sent = out.len();
        Ok::<_, GatewayError>(out)
    })?;
    match served {
        None => Ok(None),
        Some(Ok(())) => Ok(Some(step)),
        Some(Err(e)) => Err(e),
    }
}

/// Listens for up to `listen`; a frame heard is received (and committed), then the kit it
/// came from is answered over the air in frames of up to 239 bytes (SF7–8).
pub fn lora_step<P: SerialPort>(
    radio: &mut Rak3172<P>,
    hub: &mut HubService,
    listen: Duration,
    now_ms: impl Fn() -> u64,
) -> Result<Option<Step>, GatewayError> {
    lora_step_with(radio, hub, listen, MAX_PAYLOAD, now_ms)
}

/// [`lora_step`] answering in frames of at most `mtu` bytes (the spreading factor's limit:
/// 115 at SF9, 51 at SF10–12).
pub fn lora_step_with<P: SerialPort>(
    radio: &mut Rak3172<P>,
    hub: &mut HubService,
    listen: Duration,
    mtu: usize,
    now_ms: impl Fn() -> u64,
) -> Result<Option<Step>, GatewayError> {
    let Some(packet) = radio.receive(listen)? else {
        return Ok(None);
    };
    let mut ready_at = Instant::now() + LORA_TURNAROUND;
    let mut step = Step::default();
    let kit = peek(&packet.payload).ok().map(|h| h.kit);
    step.receipt = hub.receive(&[packet.payload], now_ms())?;
    let Some(kit) = kit.filter(|_| step.receipt.accepted > 0) else {
        return Ok(Some(step));
    };
    step.kit = Some(kit);
    let mtu = mtu.min(MAX_PAYLOAD);
    let frames = hub.transmit(kit, mtu, LORA_ANSWER_FRAMES, now_ms())?;
    if frames.is_empty() {
        return Ok(Some(step));
    }
    // The duty-cycle ledger is saved before the answer with the most it may spend (every
    // frame full, counted from its latest start) and after it as it is, so a hub killed
    // mid-answer and restarted (`fieldkit hub run` restores it) never passes 1 % an hour.
    let n = u32::try_from(frames.len()).unwrap_or(u32::MAX);
    let most = radio.time_on_air_ms(mtu).saturating_mul(n);
    let turnarounds = u64::from(n) * LORA_TURNAROUND.as_millis() as u64;
    let mut reserved: Vec<(u64, u32)> = radio.duty_cycle().entries().collect();
    reserved.push((now_ms().saturating_add(u64::from(most) + turnarounds), most));
    hub.save_airtime(&reserved)?;
    for f in frames {
        std::thread::sleep(ready_at.saturating_duration_since(Instant::now()));
        match radio.send(now_ms(), &f) {
            Ok(_) => {
                step.sent += 1;
                ready_at = Instant::now() + LORA_TURNAROUND;
            }
            // Held back: the fragment goes again after the retry time, the acknowledgement
            // with the kit's next frame.
            Err(LoraError::DutyCycle(_)) => step.held_back += 1,
            Err(e) => {
                hub.save_airtime(&radio.duty_cycle().entries().collect::<Vec<_>>())?;
                return Err(e.into());
            }
        }
    }
    hub.save_airtime(&radio.duty_cycle().entries().collect::<Vec<_>>())?;
    Ok(Some(step))
}
