//! The kit's radios as the sync jobs hold them: the LoRa module (a [`LoraLink`], powered all
//! the time: it draws a few milliamps listening and 30–45 mA only while it sends) and the
//! cellular modem, switched on for a sync round and off after it (it draws 0.5–0.8 A while it
//! transmits and, idle but registered, still far more than the whole LoRa module).
//!
//! The device build and the simulator share all of this; they differ only in how a serial
//! port and the modem's power key are opened (the binary's business).

use std::fmt;
use std::io;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use fieldkit_drivers::at::cellular::RegStatus;
use fieldkit_drivers::modem::{Modem, ModemError, ModemModel, PowerKey};
use fieldkit_drivers::serial::SerialPort;
use fieldkit_sync::seal::KitId;

use crate::link::{Link, LinkError, LoraLink};

/// The LoRa link as the scheduler needs it: a [`Link`] with its duty-cycle budget.
pub trait LoraRound: Link + Send + fmt::Debug {
    /// Airtime still allowed in the duty-cycle window ending at `now_ms`, ms.
    fn airtime_left_ms(&mut self, now_ms: u64) -> u64;
    /// Time on air of one full frame at the module's settings, ms.
    fn frame_airtime_ms(&self) -> u32;
    /// Keeps only the frames for this kit from now on.
    fn set_kit(&mut self, kit: KitId);
    /// The duty-cycle window's transmissions (start, airtime, ms), to persist: the module
    /// keeps no ledger of its own, and a kit restarted with an empty one could spend
    /// another hour's allowance.
    fn airtime_ledger(&self) -> Vec<(u64, u32)>;
    /// Takes back the transmissions persisted before a restart (restoring twice counts
    /// them once).
    fn restore_airtime(&mut self, now_ms: u64, ledger: &[(u64, u32)]);
}

impl<P: SerialPort + Send + fmt::Debug> LoraRound for LoraLink<P> {
    fn airtime_left_ms(&mut self, now_ms: u64) -> u64 {
        self.radio_mut().airtime_left_ms(now_ms)
    }

    fn frame_airtime_ms(&self) -> u32 {
        self.radio().time_on_air_ms(self.mtu())
    }

    fn set_kit(&mut self, kit: KitId) {
        LoraLink::set_kit(self, kit);
    }

    fn airtime_ledger(&self) -> Vec<(u64, u32)> {
        self.radio().duty_cycle().entries().collect()
    }

    fn restore_airtime(&mut self, now_ms: u64, ledger: &[(u64, u32)]) {
        self.radio_mut()
            .duty_cycle_mut()
            .restore(now_ms, ledger.iter().copied());
    }
}

/// What a modem that came up reports.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CellularUp {
    /// Registration (home or roaming).
    pub registration: RegStatus,
    /// Signal, dBm, when the modem knows it.
    pub signal_dbm: Option<i16>,
}

/// The cellular modem, switched on only for a sync round.
pub trait Cellular: Send + fmt::Debug {
    /// Switches the modem on (if it is off) and waits until it is registered. `go_on` is
    /// asked between the waits (the port appearing, each registration poll): when it says no
    /// (the power mode took cellular away, the kiosk is shutting down) this returns
    /// [`LinkError::Stopped`] and the caller switches the modem off.
    fn power_up(&mut self, go_on: &dyn Fn() -> bool) -> Result<CellularUp, LinkError>;
    /// Switches it off.
    fn power_down(&mut self) -> Result<(), LinkError>;
    /// Whether the modem is on, as far as the kit knows.
    fn is_on(&self) -> bool;
}

/// Opens the modem's AT port (each power-up: a USB modem's port exists only while it is on).
pub type OpenPort<P> = Box<dyn FnMut() -> io::Result<P> + Send>;

/// Drives the modem's supply switch (a load switch on the board), when it has one.
pub type EnableLine = Box<dyn FnMut(bool) -> io::Result<()> + Send>;

/// How long the modem's steps may take.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ModemTiming {
    /// How long the power key is held (SIM7600: ≥ 0.5 s; EG25-G: ≥ 0.5 s).
    pub press: Duration,
    /// From the key's release until it answers (SIM7600: ~12 s to `RDY`).
    pub boot: Duration,
    /// Until registered on the network.
    pub register: Duration,
}

impl Default for ModemTiming {
    fn default() -> Self {
        Self {
            press: Duration::from_millis(600),
            boot: Duration::from_secs(30),
            register: Duration::from_secs(90),
        }
    }
}

/// A power key shared between the modem driver (while the port is open) and the kit (which
/// presses it itself when the port is absent because the modem is off).
#[derive(Debug)]
struct SharedKey<K>(Arc<Mutex<K>>);

impl<K> Clone for SharedKey<K> {
    fn clone(&self) -> Self {
        Self(self.0.clone())
    }
}

impl<K: PowerKey> PowerKey for SharedKey<K> {
    fn set_pressed(&mut self, pressed: bool) -> io::Result<()> {
        self.0
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .set_pressed(pressed)
    }
}

/// A SIM7600 / EG25-G modem behind a power key (and an optional supply switch): on for a
/// round, off after. The AT port is opened at each power-up and closed at power-down, so a
/// modem whose port is a USB interface (there only while it is on) works as one on a UART.
pub struct SwitchedModem<P, K> {
    open: OpenPort<P>,
    key: SharedKey<K>,
    enable: Option<EnableLine>,
    model: ModemModel,
    apn: Option<String>,
    timing: ModemTiming,
    modem: Option<Modem<P, SharedKey<K>>>,
    /// Whether it is on: unknown (`None`) until the first power-up looked.
    on: Option<bool>,
    /// When the key was pressed on a modem whose port had not appeared yet.
    booting: Option<Instant>,
}

impl<P, K> fmt::Debug for SwitchedModem<P, K> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SwitchedModem")
            .field("model", &self.model)
            .field("apn", &self.apn)
            .field("timing", &self.timing)
            .field("on", &self.on)
            .finish_non_exhaustive()
    }
}

impl<P: SerialPort + Send, K: PowerKey + Send> SwitchedModem<P, K> {
    /// A modem whose port `open` opens, switched by `key`.
    pub fn new(open: OpenPort<P>, key: K, model: ModemModel, timing: ModemTiming) -> Self {
        Self {
            open,
            key: SharedKey(Arc::new(Mutex::new(key))),
            enable: None,
            model,
            apn: None,
            timing,
            modem: None,
            on: None,
            booting: None,
        }
    }

    /// With a supply switch, turned on before the key is pressed and off after power-down.
    pub fn with_enable(mut self, enable: EnableLine) -> Self {
        self.enable = Some(enable);
        self
    }

    /// With an access point name set at each power-up (checked by the driver).
    pub fn with_apn(mut self, apn: Option<String>) -> Self {
        self.apn = apn.filter(|a| !a.is_empty());
        self
    }

    fn press(&mut self) -> Result<(), ModemError> {
        let key = &mut self.key;
        key.set_pressed(true).map_err(ModemError::PowerKey)?;
        std::thread::sleep(self.timing.press);
        key.set_pressed(false).map_err(ModemError::PowerKey)
    }

    /// The modem on and answering, its port open; `None` when `go_on` said stop while the
    /// port was awaited.
    fn switch_on(
        &mut self,
        go_on: &dyn Fn() -> bool,
    ) -> Result<Option<Modem<P, SharedKey<K>>>, ModemError> {
        if let Some(enable) = self.enable.as_mut() {
            enable(true).map_err(ModemError::PowerKey)?;
        }
        let t = self.timing;
        match (self.open)() {
            Ok(port) => {
                let mut modem = Modem::new(port, self.key.clone(), self.model);
                // Only when we do not know it is off: pressing the key of a modem that is
                // on switches it off.
                if self.on != Some(false) && modem.answers(Duration::from_secs(1)) {
                    modem.init()?;
                } else {
                    // Pressed: it may be booting from now on, so power-down must look (and
                    // switch it off) whatever happens next; the boot (~12 s on a SIM7600)
                    // stops when `go_on` says so, as the USB branch's wait for its port does.
                    self.on = None;
                    self.booting = Some(Instant::now() + t.press);
                    if !modem.power_on_while(t.press, t.boot, go_on)? {
                        return Ok(None);
                    }
                    self.booting = None;
                }
                Ok(Some(modem))
            }
            // No port: a USB modem that is off. Press the key, wait for the port to appear
            // (the USB interface enumerates a few seconds after power-up).
            Err(first) => {
                self.press()?;
                // Pressed: it may be booting now, so power-down must look (and switch it
                // off) whatever happens next.
                self.on = None;
                self.booting = Some(Instant::now());
                let deadline = Instant::now() + t.boot;
                let mut last = first;
                while Instant::now() < deadline {
                    if !go_on() {
                        return Ok(None);
                    }
                    std::thread::sleep(Duration::from_millis(250));
                    match (self.open)() {
                        Ok(port) => {
                            let mut modem = Modem::new(port, self.key.clone(), self.model);
                            while Instant::now() < deadline {
                                if modem.answers(Duration::from_millis(500)) {
                                    self.booting = None;
                                    modem.init()?;
                                    return Ok(Some(modem));
                                }
                            }
                            return Err(ModemError::Silent("power on"));
                        }
                        Err(e) => last = e,
                    }
                }
                Err(ModemError::Io(io::Error::new(
                    last.kind(),
                    format!(
                        "its port did not appear within {} s of power-up: {last}",
                        t.boot.as_secs()
                    ),
                )))
            }
        }
    }

    /// Switches off a modem the kit holds no port of, if it answers; its port is awaited
    /// until `until` (a modem pressed on a moment ago), else looked for once.
    fn off_if_it_answers(&mut self, until: Option<Instant>) -> Result<(), ModemError> {
        let waiting = || until.is_some_and(|u| Instant::now() < u);
        loop {
            match (self.open)() {
                Ok(port) => {
                    let mut modem = Modem::new(port, self.key.clone(), self.model);
                    loop {
                        if modem.answers(Duration::from_secs(1)) {
                            return modem.power_off();
                        }
                        if !waiting() {
                            return Ok(());
                        }
                    }
                }
                Err(_) if waiting() => std::thread::sleep(Duration::from_millis(250)),
                Err(_) => return Ok(()),
            }
        }
    }

    fn come_up(&mut self, go_on: &dyn Fn() -> bool) -> Result<CellularUp, LinkError> {
        let t = self.timing;
        if self.modem.is_none() {
            let Some(modem) = self.switch_on(go_on)? else {
                return Err(LinkError::Stopped);
            };
            self.modem = Some(modem);
            self.on = Some(true);
        }
        let apn = self.apn.clone();
        let Some(modem) = self.modem.as_mut() else {
            return Err(ModemError::Silent("power on").into());
        };
        let sim = modem.sim_state()?;
        if sim != "READY" {
            return Err(ModemError::Sim(sim).into());
        }
        if let Some(apn) = &apn {
            modem.set_apn(apn)?;
        }
        // Registration polled once a second (as `Modem::wait_registered` does), asking
        // `go_on` between polls: a search can take a minute and a half.
        let deadline = Instant::now() + t.register;
        let registration = loop {
            let state = modem.registration()?;
            if state.is_registered() {
                break state;
            }
            if Instant::now() + Duration::from_secs(1) > deadline {
                return Err(ModemError::NotRegistered(t.register, state).into());
            }
            if !go_on() {
                return Err(LinkError::Stopped);
            }
            std::thread::sleep(Duration::from_secs(1));
        };
        let signal_dbm = modem.signal()?.dbm();
        Ok(CellularUp {
            registration,
            signal_dbm,
        })
    }
}

impl<P, K> Cellular for SwitchedModem<P, K>
where
    P: SerialPort + Send,
    K: PowerKey + Send,
{
    fn power_up(&mut self, go_on: &dyn Fn() -> bool) -> Result<CellularUp, LinkError> {
        self.come_up(go_on)
    }

    fn power_down(&mut self) -> Result<(), LinkError> {
        // Pressed and stopped (or given up) before its port appeared: it may still be
        // booting, so its port is awaited for the rest of the boot time to switch it off
        // (without a supply switch to cut).
        let booting = self.booting.take().filter(|_| self.enable.is_none());
        let result = match self.modem.take() {
            Some(mut modem) => modem.power_off(),
            // Never opened by us: switched off only if it answers (it was left on).
            None if self.on != Some(false) => {
                self.off_if_it_answers(booting.map(|at| at + self.timing.boot))
            }
            None => Ok(()),
        };
        // A modem that did not take the command is cut by its supply switch, if any; a
        // key press here could switch on one that did.
        if let Some(enable) = self.enable.as_mut() {
            enable(false).map_err(|e| LinkError::Modem(ModemError::PowerKey(e)))?;
        }
        // Unknown when it did not take the command and no switch cut it: the next power-up
        // asks before pressing the key.
        self.on = (result.is_ok() || self.enable.is_some()).then_some(false);
        result.map_err(LinkError::Modem)
    }

    fn is_on(&self) -> bool {
        self.on == Some(true)
    }
}
