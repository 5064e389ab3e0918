//! The simulated charge controller's side of the serial protocols: VE.Direct TEXT blocks
//! and Modbus register maps (Renogy Rover, EPEver Tracer) computed from the model state,
//! and an in-memory VE.Direct link for the fast simulation (same encoder, same decoder as
//! the pseudo-terminal path, without the terminal).

use std::sync::{Arc, Mutex};

use fieldkit_drivers::charger::{ChargerReading, ModbusCharger, Stage};
use fieldkit_drivers::serial::{ChargerError, ChargerLink};
use fieldkit_drivers::vedirect::{self, Decoder, Event};

use crate::model::KitState;

/// A shared, updatable view of the model's state for the simulated devices.
#[derive(Debug, Clone)]
pub struct StateCell(Arc<Mutex<KitState>>);

impl StateCell {
    /// A cell holding `state`.
    pub fn new(state: KitState) -> Self {
        Self(Arc::new(Mutex::new(state)))
    }

    /// The current state.
    pub fn get(&self) -> KitState {
        *self.0.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Publishes a new state.
    pub fn set(&self, state: KitState) {
        *self.0.lock().unwrap_or_else(|e| e.into_inner()) = state;
    }
}

/// VE.Direct `CS` code for a stage.
pub fn vedirect_cs(stage: Stage) -> u16 {
    match stage {
        Stage::Off => 0,
        Stage::Fault => 2,
        Stage::Bulk => 3,
        Stage::Absorption => 4,
        Stage::Float => 5,
        Stage::Equalize => 7,
    }
}

/// Writes one TEXT block of a SmartSolar-like MPPT showing `state`; returns its length.
pub fn vedirect_block(state: &KitState, out: &mut [u8]) -> Result<usize, vedirect::EncodeError> {
    let v = state.battery_voltage_mv.to_string();
    let i = state.battery_current_ma.to_string();
    let vpv = state.panel_voltage_mv.to_string();
    let ppv = (state.panel_power_w.round() as i64).to_string();
    let cs = vedirect_cs(state.stage).to_string();
    let mppt = if state.stage == Stage::Off { "0" } else { "2" };
    let il = if state.battery_voltage_mv > 0 {
        ((state.load_power_w * 1e6 / state.battery_voltage_mv as f32) as i64).to_string()
    } else {
        "0".to_string()
    };
    vedirect::encode_block(
        &[
            ("PID", "0xA053"),
            ("FW", "161"),
            ("SER#", "HQ0000SIM01"),
            ("V", &v),
            ("I", &i),
            ("VPV", &vpv),
            ("PPV", &ppv),
            ("CS", &cs),
            ("MPPT", mppt),
            ("OR", "0x00000000"),
            ("ERR", "0"),
            ("LOAD", "ON"),
            ("IL", &il),
            ("HSDS", "0"),
        ],
        out,
    )
}

/// The value of register `reg` of a `charger` showing `state`; `None` for a register the
/// device does not have (it answers with exception 02).
pub fn modbus_register(charger: ModbusCharger, reg: u16, state: &KitState) -> Option<u16> {
    let sat = |v: f32| v.round().clamp(0.0, 65_535.0) as u16;
    let v_bat = state.battery_voltage_mv as f32 / 1000.0;
    let i_bat = state.battery_current_ma.max(0) as f32 / 1000.0;
    let v_pv = state.panel_voltage_mv as f32 / 1000.0;
    let p_pv = state.panel_power_w;
    let i_pv = if v_pv > 0.1 { p_pv / v_pv } else { 0.0 };
    let p_load = state.load_power_w;
    let i_load = if v_bat > 0.1 { p_load / v_bat } else { 0.0 };
    match charger {
        ModbusCharger::Renogy => match reg {
            // 12 V system, 20 A rating.
            0x000A => Some(0x0C14),
            0x0100 => Some(sat(state.soc_percent)),
            0x0101 => Some(sat(v_bat * 10.0)),
            0x0102 => Some(sat(i_bat * 100.0)),
            0x0103 => Some(0x1919),
            0x0104 => Some(sat(v_bat * 10.0)),
            0x0105 => Some(sat(i_load * 100.0)),
            0x0106 => Some(sat(p_load)),
            0x0107 => Some(sat(v_pv * 10.0)),
            0x0108 => Some(sat(i_pv * 100.0)),
            0x0109 => Some(sat(p_pv)),
            0x0120 => Some(charger.stage_code(state.stage)),
            _ => None,
        },
        ModbusCharger::Epever => {
            let p_pv_c = (p_pv * 100.0).round().clamp(0.0, u32::MAX as f32) as u32;
            let p_load_c = (p_load * 100.0).round().clamp(0.0, u32::MAX as f32) as u32;
            let p_bat_c = (v_bat * i_bat * 100.0).round().clamp(0.0, u32::MAX as f32) as u32;
            let lo = |v: u32| (v & 0xFFFF) as u16;
            let hi = |v: u32| (v >> 16) as u16;
            match reg {
                0x3100 => Some(sat(v_pv * 100.0)),
                0x3101 => Some(sat(i_pv * 100.0)),
                0x3102 => Some(lo(p_pv_c)),
                0x3103 => Some(hi(p_pv_c)),
                0x3104 => Some(sat(v_bat * 100.0)),
                0x3105 => Some(sat(i_bat * 100.0)),
                0x3106 => Some(lo(p_bat_c)),
                0x3107 => Some(hi(p_bat_c)),
                0x3108..=0x310B => Some(0),
                0x310C => Some(sat(v_bat * 100.0)),
                0x310D => Some(sat(i_load * 100.0)),
                0x310E => Some(lo(p_load_c)),
                0x310F => Some(hi(p_load_c)),
                0x311A => Some(sat(state.soc_percent)),
                0x3201 => Some(charger.stage_code(state.stage)),
                _ => None,
            }
        }
    }
}

/// Fault switches for a simulated charger line.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct LineFaults {
    /// The charger sends nothing.
    pub silent: bool,
    /// Noise and NUL bytes precede every block.
    pub noise: bool,
    /// Every block's checksum byte is wrong.
    pub bad_checksum: bool,
    /// The battery voltage field carries an impossible value (99 V).
    pub impossible_voltage: bool,
}

/// Bytes a noisy line adds: junk, NULs, a stray CR LF, a HEX frame.
pub const LINE_NOISE: &[u8] = b"\x00\x00\xff\xfe\x13\r\n\x00V\t\x00\x81:A0102000543\n\x00";

/// A VE.Direct charger in memory: each poll encodes a block from the current state,
/// applies the line faults and decodes it with the same decoder as the serial path.
#[derive(Debug, Clone)]
pub struct SimVeDirectLink {
    state: StateCell,
    faults: LineFaults,
    decoder: Decoder,
}

impl SimVeDirectLink {
    /// A link showing `state`.
    pub fn new(state: StateCell) -> Self {
        Self {
            state,
            faults: LineFaults::default(),
            decoder: Decoder::new(),
        }
    }

    /// Sets the line faults.
    pub fn set_faults(&mut self, faults: LineFaults) {
        self.faults = faults;
    }

    /// Bytes one block period puts on the line, faults included.
    pub fn line_bytes(state: &KitState, faults: LineFaults) -> Vec<u8> {
        let mut out = Vec::new();
        if faults.silent {
            return out;
        }
        if faults.noise {
            out.extend_from_slice(LINE_NOISE);
        }
        let mut s = *state;
        if faults.impossible_voltage {
            s.battery_voltage_mv = 99_000;
        }
        let mut buf = [0u8; 512];
        if let Ok(n) = vedirect_block(&s, &mut buf) {
            if faults.bad_checksum && n > 0 {
                buf[n - 1] = buf[n - 1].wrapping_add(1);
            }
            out.extend_from_slice(&buf[..n]);
        }
        out
    }
}

impl ChargerLink for SimVeDirectLink {
    fn poll(&mut self) -> Result<ChargerReading, ChargerError> {
        let bytes = Self::line_bytes(&self.state.get(), self.faults);
        if bytes.is_empty() {
            return Err(ChargerError::Silent);
        }
        let mut block = None;
        let mut rejected = 0;
        // A fresh read, as the serial port clears its input first.
        self.decoder = Decoder::new();
        self.decoder.feed_slice(&bytes, |e| match e {
            Event::Block(b) => block = Some(b),
            Event::Rejected(_) => rejected += 1,
        });
        match block {
            Some(b) => Ok(ChargerReading::from_vedirect(&b)),
            None => Err(ChargerError::NoValidBlock { rejected }),
        }
    }
}
