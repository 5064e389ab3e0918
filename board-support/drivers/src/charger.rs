//! Register maps of the Modbus charge controllers the kit supports, and the reading they
//! give. Register numbers and scales are from the vendors' protocol documents:
//!
//! - Renogy Rover (9600 8N1, function 0x03 holding registers): 0x000A system rating (high
//!   byte volts, low byte amps), 0x0100 battery SOC %, 0x0101 battery voltage ×0.1 V,
//!   0x0102 charging current ×0.01 A, 0x0104–0x0106 load V ×0.1 / A ×0.01 / W,
//!   0x0107 PV voltage ×0.1 V, 0x0108 PV current ×0.01 A, 0x0109 PV power W,
//!   0x0120 low byte charging state (0 off, 1 active, 2 MPPT, 3 equalize, 4 boost,
//!   5 float, 6 current limiting).
//! - EPEver Tracer (115200 8N1, function 0x04 input registers): 0x3100 PV voltage ×0.01 V,
//!   0x3101 PV current ×0.01 A, 0x3102/0x3103 PV power ×0.01 W (low, high word),
//!   0x3104 battery voltage ×0.01 V, 0x3105 battery charging current ×0.01 A,
//!   0x310C load voltage, 0x310D load current, 0x310E/0x310F load power,
//!   0x311A battery SOC %, 0x3201 charging equipment status (bit 0 running; bit 1 fault;
//!   bits 3..2: 0 none, 1 float, 2 boost, 3 equalize; bit 4 PV input short, also a fault).

use crate::modbus::{READ_HOLDING_REGISTERS, READ_INPUT_REGISTERS, ReadRequest};

/// The charger's stage, in the words all three protocols share.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stage {
    /// Not charging (night, or disabled).
    Off,
    /// Bulk / boost / MPPT: as much current as the panel gives.
    Bulk,
    /// Absorption: voltage held, current tapering.
    Absorption,
    /// Float: battery full, panel throttled to what the load takes.
    Float,
    /// Equalize.
    Equalize,
    /// The charger reports a fault.
    Fault,
}

/// What a charge controller says, each value optional: a device may not report it, or it
/// may have failed validation. Units are in the names.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ChargerReading {
    /// Battery voltage in mV.
    pub battery_voltage_mv: Option<u32>,
    /// Battery current in mA, positive when charging.
    pub battery_current_ma: Option<i32>,
    /// State of charge in percent, if the device estimates one.
    pub soc_percent: Option<u8>,
    /// Panel voltage in mV.
    pub panel_voltage_mv: Option<u32>,
    /// Panel power in mW.
    pub panel_power_mw: Option<u32>,
    /// Load power in mW (load output), if reported.
    pub load_power_mw: Option<u32>,
    /// Charger stage.
    pub stage: Option<Stage>,
}

/// Modbus charge controllers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ModbusCharger {
    /// Renogy Rover / Wanderer family.
    Renogy,
    /// EPEver Tracer family.
    Epever,
}

/// One register's meaning, as an integer in the unit of its name.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Meaning {
    /// Name with unit, e.g. `battery_voltage_mv`.
    pub name: &'static str,
    /// Value in that unit.
    pub value: i64,
}

impl ModbusCharger {
    /// Line speed the device uses.
    pub fn baud_rate(self) -> u32 {
        match self {
            Self::Renogy => 9600,
            Self::Epever => 115_200,
        }
    }

    /// The function code used to read this device's live data.
    pub fn function(self) -> u8 {
        match self {
            Self::Renogy => READ_HOLDING_REGISTERS,
            Self::Epever => READ_INPUT_REGISTERS,
        }
    }

    /// The requests that fill a [`ChargerReading`] (first register, count).
    pub fn poll_ranges(self) -> &'static [(u16, u16)] {
        match self {
            Self::Renogy => &[(0x0100, 10), (0x0120, 1)],
            Self::Epever => &[(0x3100, 16), (0x311A, 1), (0x3201, 1)],
        }
    }

    /// The requests for `device`.
    pub fn poll_requests(self, device: u8) -> heapless::Vec<ReadRequest, 4> {
        let mut out = heapless::Vec::new();
        for &(start, count) in self.poll_ranges() {
            if let Ok(req) = ReadRequest::new(device, self.function(), start, count) {
                let _ = out.push(req);
            }
        }
        out
    }

    /// Meanings of registers `start..` holding `values`. 32-bit quantities need both words
    /// in the same response; a lone half is skipped.
    pub fn meanings(self, start: u16, values: &[u16], mut each: impl FnMut(Meaning)) {
        let at = |reg: u16| -> Option<u16> {
            let idx = usize::from(reg.checked_sub(start)?);
            values.get(idx).copied()
        };
        for (i, &raw) in values.iter().enumerate() {
            let Some(reg) = u16::try_from(i).ok().and_then(|i| start.checked_add(i)) else {
                break;
            };
            let v = i64::from(raw);
            let m = |name: &'static str, value: i64| Some(Meaning { name, value });
            let meaning = match self {
                Self::Renogy => match reg {
                    0x000A => {
                        each(Meaning {
                            name: "system_voltage_v",
                            value: i64::from(raw >> 8),
                        });
                        m("rated_current_a", i64::from(raw & 0xFF))
                    }
                    0x0100 => m("battery_soc_percent", v),
                    0x0101 => m("battery_voltage_mv", v * 100),
                    0x0102 => m("charging_current_ma", v * 10),
                    0x0104 => m("load_voltage_mv", v * 100),
                    0x0105 => m("load_current_ma", v * 10),
                    0x0106 => m("load_power_mw", v * 1000),
                    0x0107 => m("pv_voltage_mv", v * 100),
                    0x0108 => m("pv_current_ma", v * 10),
                    0x0109 => m("pv_power_mw", v * 1000),
                    0x0120 => m("charging_state", i64::from(raw & 0xFF)),
                    _ => None,
                },
                Self::Epever => match reg {
                    0x3100 => m("pv_voltage_mv", v * 10),
                    0x3101 => m("pv_current_ma", v * 10),
                    0x3102 => at(0x3103).map(|hi| Meaning {
                        name: "pv_power_mw",
                        value: ((i64::from(hi) << 16) | v) * 10,
                    }),
                    0x3104 => m("battery_voltage_mv", v * 10),
                    0x3105 => m("charging_current_ma", v * 10),
                    0x310C => m("load_voltage_mv", v * 10),
                    0x310D => m("load_current_ma", v * 10),
                    0x310E => at(0x310F).map(|hi| Meaning {
                        name: "load_power_mw",
                        value: ((i64::from(hi) << 16) | v) * 10,
                    }),
                    0x311A => m("battery_soc_percent", v),
                    0x3201 => m("charging_state", i64::from((raw >> 2) & 0x3)),
                    _ => None,
                },
            };
            if let Some(meaning) = meaning {
                each(meaning);
            }
        }
    }

    /// Folds registers `start..` into `reading`.
    pub fn apply(self, start: u16, values: &[u16], reading: &mut ChargerReading) {
        let fault_bit = self == Self::Epever
            && 0x3201u16
                .checked_sub(start)
                .and_then(|i| values.get(usize::from(i)))
                // D1 fault, D4 PV input short.
                .is_some_and(|v| v & 0x0012 != 0);
        self.meanings(start, values, |m| {
            let to_u32 = |v: i64| u32::try_from(v).ok();
            match m.name {
                "battery_soc_percent" => reading.soc_percent = u8::try_from(m.value).ok(),
                "battery_voltage_mv" => reading.battery_voltage_mv = to_u32(m.value),
                "charging_current_ma" => reading.battery_current_ma = i32::try_from(m.value).ok(),
                "pv_voltage_mv" => reading.panel_voltage_mv = to_u32(m.value),
                "pv_power_mw" => reading.panel_power_mw = to_u32(m.value),
                "load_power_mw" => reading.load_power_mw = to_u32(m.value),
                "charging_state" => reading.stage = Some(self.stage(m.value)),
                _ => {}
            }
        });
        if fault_bit {
            reading.stage = Some(Stage::Fault);
        }
    }

    fn stage(self, code: i64) -> Stage {
        match (self, code) {
            (Self::Renogy, 0 | 1) => Stage::Off,
            (Self::Renogy, 2 | 6) => Stage::Bulk,
            (Self::Renogy, 3) => Stage::Equalize,
            (Self::Renogy, 4) => Stage::Absorption,
            (Self::Renogy, 5) => Stage::Float,
            (Self::Epever, 0) => Stage::Off,
            (Self::Epever, 1) => Stage::Float,
            (Self::Epever, 2) => Stage::Bulk,
            (Self::Epever, 3) => Stage::Equalize,
            _ => Stage::Fault,
        }
    }

    /// The code this device uses for `stage` (the simulator's side).
    pub fn stage_code(self, stage: Stage) -> u16 {
        match (self, stage) {
            (Self::Renogy, Stage::Off) => 0,
            (Self::Renogy, Stage::Bulk) => 2,
            (Self::Renogy, Stage::Equalize) => 3,
            (Self::Renogy, Stage::Absorption) => 4,
            (Self::Renogy, Stage::Float) => 5,
            (Self::Renogy, Stage::Fault) => 0,
            (Self::Epever, Stage::Off) => 0,
            (Self::Epever, Stage::Float) => 1 << 2,
            (Self::Epever, Stage::Bulk | Stage::Absorption) => 2 << 2,
            (Self::Epever, Stage::Equalize) => 3 << 2,
            (Self::Epever, Stage::Fault) => 0x02,
        }
    }
}

impl From<crate::vedirect::ChargeState> for Stage {
    fn from(cs: crate::vedirect::ChargeState) -> Self {
        use crate::vedirect::ChargeState as C;
        match cs {
            C::Bulk | C::StartingUp => Stage::Bulk,
            C::Absorption | C::RepeatedAbsorption => Stage::Absorption,
            C::Float | C::Storage => Stage::Float,
            C::Equalize | C::AutoEqualize => Stage::Equalize,
            C::Fault => Stage::Fault,
            _ => Stage::Off,
        }
    }
}

impl ChargerReading {
    /// What a VE.Direct block says. A battery monitor (BMV) gives SOC, a charger its stage
    /// and panel power.
    pub fn from_vedirect(block: &crate::vedirect::Block) -> Self {
        let soc_percent = block
            .soc_permille()
            .and_then(|p| u8::try_from(p.div_euclid(10)).ok());
        Self {
            battery_voltage_mv: block
                .battery_voltage_mv()
                .and_then(|v| u32::try_from(v).ok()),
            battery_current_ma: block.battery_current_ma(),
            soc_percent,
            panel_voltage_mv: block.panel_voltage_mv().and_then(|v| u32::try_from(v).ok()),
            panel_power_mw: block
                .panel_power_w()
                .and_then(|w| u32::try_from(w).ok())
                .and_then(|w| w.checked_mul(1000)),
            load_power_mw: None,
            stage: block.charge_state().map(Stage::from),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn collect(c: ModbusCharger, start: u16, values: &[u16]) -> std::vec::Vec<Meaning> {
        let mut out = std::vec::Vec::new();
        c.meanings(start, values, |m| out.push(m));
        out
    }

    #[test]
    fn epever_vectors_mean_what_the_readme_says() {
        assert_eq!(
            collect(ModbusCharger::Epever, 0x311A, &[0x0046]),
            [Meaning {
                name: "battery_soc_percent",
                value: 70
            }]
        );
        assert_eq!(
            collect(ModbusCharger::Epever, 0x3104, &[0x0510]),
            [Meaning {
                name: "battery_voltage_mv",
                value: 12960
            }]
        );
    }

    #[test]
    fn renogy_system_rating_splits_the_register() {
        assert_eq!(
            collect(ModbusCharger::Renogy, 0x000A, &[0x181E]),
            [
                Meaning {
                    name: "system_voltage_v",
                    value: 24
                },
                Meaning {
                    name: "rated_current_a",
                    value: 30
                }
            ]
        );
    }

    #[test]
    fn epever_pv_power_needs_both_words() {
        let mut r = ChargerReading::default();
        ModbusCharger::Epever.apply(0x3102, &[0x0010, 0x0001], &mut r);
        assert_eq!(r.panel_power_mw, Some(((1 << 16) | 0x10) * 10));
        assert!(collect(ModbusCharger::Epever, 0x3102, &[0x0010]).is_empty());
    }

    #[test]
    fn stages_round_trip_through_codes() {
        for c in [ModbusCharger::Renogy, ModbusCharger::Epever] {
            for s in [Stage::Off, Stage::Bulk, Stage::Float, Stage::Equalize] {
                let mut r = ChargerReading::default();
                let reg = if c == ModbusCharger::Renogy {
                    0x0120
                } else {
                    0x3201
                };
                c.apply(reg, &[c.stage_code(s)], &mut r);
                assert_eq!(r.stage, Some(s), "{c:?}");
            }
        }
    }

    /// The charging-state registers as the vendors document them, decoded without the
    /// simulator: Renogy Rover register 0x0120, low byte (0 deactivated, 1 activated,
    /// 2 MPPT, 3 equalizing, 4 boost, 5 floating, 6 current limiting; the high byte is the
    /// street-light state and must not matter); EPEver Tracer register 0x3201 (charging
    /// equipment status: bit 0 running; bit 1 fault; bits 3–2 0 no charging, 1 float,
    /// 2 boost, 3 equalization; bit 4 PV input short).
    #[test]
    fn charge_stages_decode_from_datasheet_values() {
        let stage = |c: ModbusCharger, start: u16, raw: u16| {
            let mut r = ChargerReading::default();
            c.apply(start, &[raw], &mut r);
            r.stage
        };
        let renogy: [(u16, Stage); 8] = [
            (0x0000, Stage::Off),
            (0x0001, Stage::Off),
            (0x0002, Stage::Bulk),
            (0x0003, Stage::Equalize),
            (0x0004, Stage::Absorption),
            (0x0005, Stage::Float),
            (0x0006, Stage::Bulk),
            // Street light on (high byte 0x80) while floating.
            (0x8005, Stage::Float),
        ];
        for (raw, want) in renogy {
            assert_eq!(
                stage(ModbusCharger::Renogy, 0x0120, raw),
                Some(want),
                "{raw:#06x}"
            );
        }
        let epever: [(u16, Stage); 6] = [
            (0b0_0000, Stage::Off),
            // Running (bit 0) and floating.
            (0b0_0101, Stage::Float),
            (0b0_1001, Stage::Bulk),
            (0b0_1101, Stage::Equalize),
            // Boost with the fault bit (D1): the fault wins.
            (0b0_1011, Stage::Fault),
            // PV input short (D4).
            (0b1_0001, Stage::Fault),
        ];
        for (raw, want) in epever {
            assert_eq!(
                stage(ModbusCharger::Epever, 0x3201, raw),
                Some(want),
                "{raw:#07b}"
            );
        }
    }
}
