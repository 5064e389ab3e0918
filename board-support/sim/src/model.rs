//! The physical model: a 12.8 V LiFePO4 battery, a solar panel behind an MPPT charge
//! controller (bulk, absorption, float), and whatever load the kit draws. Energy is
//! balanced in Wh step by step; the battery's voltage follows its state of charge along a
//! LiFePO4 open-circuit curve plus the drop or rise across its internal resistance.

use fieldkit_drivers::charger::Stage;

use crate::weather::WeatherTrace;

/// Sizing and behaviour of the simulated kit.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct KitSpec {
    /// Usable battery energy in Wh (20 Ah × 12.8 V = 256 Wh).
    pub battery_capacity_wh: f32,
    /// Cells in series (4 for a 12.8 V LiFePO4 pack).
    pub cells_in_series: u32,
    /// Battery internal resistance in Ω.
    pub internal_resistance_ohm: f32,
    /// Panel rated power in W (STC).
    pub panel_rated_w: f32,
    /// Fraction of rated power a clear midday gives after heat, dust and angle.
    pub panel_derate: f32,
    /// Panel voltage at maximum power in mV.
    pub panel_vmp_mv: u32,
    /// Charge controller efficiency.
    pub charger_efficiency: f32,
    /// Largest charge current in A.
    pub max_charge_current_a: f32,
    /// Absorption voltage in mV.
    pub absorption_mv: u32,
    /// Float voltage in mV.
    pub float_mv: u32,
    /// SOC at which bulk gives way to absorption, 0–1.
    pub absorption_from_soc: f32,
    /// SOC at which absorption ends in float, 0–1.
    pub float_from_soc: f32,
    /// Below this SOC a floating charger starts a new bulk, 0–1.
    pub rebulk_below_soc: f32,
    /// The BMS disconnects the load at empty and reconnects it from this SOC, 0–1.
    pub bms_reconnect_soc: f32,
}

impl Default for KitSpec {
    /// The reference kit: 256 Wh LiFePO4, a 40 W panel.
    fn default() -> Self {
        Self {
            battery_capacity_wh: 256.0,
            cells_in_series: 4,
            internal_resistance_ohm: 0.04,
            panel_rated_w: 40.0,
            panel_derate: 0.85,
            panel_vmp_mv: 18_000,
            charger_efficiency: 0.95,
            max_charge_current_a: 10.0,
            absorption_mv: 14_200,
            float_mv: 13_500,
            absorption_from_soc: 0.95,
            float_from_soc: 0.995,
            rebulk_below_soc: 0.93,
            bms_reconnect_soc: 0.15,
        }
    }
}

/// Rest voltage of a 12.8 V LiFePO4 pack by state of charge (SOC %, mV).
const OCV_CURVE: [(f32, f32); 13] = [
    (0.0, 10_000.0),
    (5.0, 12_000.0),
    (10.0, 12_500.0),
    (20.0, 12_900.0),
    (30.0, 13_000.0),
    (40.0, 13_050.0),
    (50.0, 13_100.0),
    (60.0, 13_150.0),
    (70.0, 13_200.0),
    (80.0, 13_250.0),
    (90.0, 13_300.0),
    (99.0, 13_400.0),
    (100.0, 13_600.0),
];

/// Open-circuit voltage in mV at `soc_percent`.
pub fn open_circuit_mv(soc_percent: f32) -> f32 {
    let s = soc_percent.clamp(0.0, 100.0);
    for pair in OCV_CURVE.windows(2) {
        let ((s0, v0), (s1, v1)) = (pair[0], pair[1]);
        if s <= s1 {
            return v0 + (v1 - v0) * (s - s0) / (s1 - s0);
        }
    }
    OCV_CURVE[OCV_CURVE.len() - 1].1
}

/// What the model's instruments would read now.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct KitState {
    /// Seconds of simulated time.
    pub time_s: u64,
    /// True state of charge, 0–100 %.
    pub soc_percent: f32,
    /// Battery terminal voltage in mV.
    pub battery_voltage_mv: u32,
    /// Battery current in mA (+ charging).
    pub battery_current_ma: i32,
    /// Charge/discharge rate in %/h.
    pub charge_rate_percent_per_hour: f32,
    /// Panel voltage in mV (0 at night).
    pub panel_voltage_mv: u32,
    /// Power taken from the panel in W.
    pub panel_power_w: f32,
    /// Power the panel could have given in W.
    pub panel_available_w: f32,
    /// Power drawn from the battery bus by the kit in W.
    pub load_power_w: f32,
    /// Charger stage.
    pub stage: Stage,
    /// True while the BMS has the load disconnected (battery empty).
    pub load_disconnected: bool,
}

/// The battery and its charge controller without the weather: energy, the charger's float
/// latch and the BMS's load switch. `Copy` and small, so a planner can try many futures
/// (the oracle in [`crate::oracle`] steps thousands of copies through the same code).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Battery {
    /// Stored energy in Wh.
    pub energy_wh: f32,
    /// The charger reached float and stays there until the battery drops below re-bulk.
    pub float_latched: bool,
    /// The BMS has cut the load (the battery emptied).
    pub load_disconnected: bool,
}

/// What one step of the battery did.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct BatteryStep {
    /// The charger's stage during the step.
    pub stage: Stage,
    /// Panel power taken, in W (before the charger's losses).
    pub panel_used_w: f32,
    /// Power from the panel onto the battery bus, in W.
    pub bus_from_panel_w: f32,
    /// Power the kit actually drew, in W (0 while the BMS has it cut off).
    pub load_w: f32,
    /// True if the battery emptied under load in this step (a brown-out for a running kit).
    pub browned_out: bool,
}

impl Battery {
    /// A battery of `spec` at `soc_percent`.
    pub fn new(spec: &KitSpec, soc_percent: f32) -> Self {
        Self {
            energy_wh: spec.battery_capacity_wh * soc_percent.clamp(0.0, 100.0) / 100.0,
            float_latched: false,
            load_disconnected: false,
        }
    }

    /// State of charge, 0–100 %.
    pub fn soc_percent(&self, spec: &KitSpec) -> f32 {
        100.0 * self.energy_wh / spec.battery_capacity_wh
    }

    /// Advances `dt_s` seconds with `available_w` of panel power on offer and the kit drawing
    /// `load_w` from the battery bus.
    pub fn step(
        &mut self,
        spec: &KitSpec,
        dt_s: u64,
        available_w: f32,
        load_w: f32,
    ) -> BatteryStep {
        let dt_h = dt_s as f32 / 3600.0;
        let load_w = if self.load_disconnected {
            0.0
        } else {
            load_w.max(0.0)
        };
        let soc = self.energy_wh / spec.battery_capacity_wh;

        // Charger stage.
        let stage = if available_w < 0.5 {
            self.float_latched = soc >= spec.float_from_soc;
            Stage::Off
        } else if self.float_latched && soc >= spec.rebulk_below_soc {
            Stage::Float
        } else if soc >= spec.float_from_soc {
            self.float_latched = true;
            Stage::Float
        } else if soc >= spec.absorption_from_soc {
            self.float_latched = false;
            Stage::Absorption
        } else {
            self.float_latched = false;
            Stage::Bulk
        };

        // How much the battery will accept, in W on the battery bus.
        let max_charge_w = spec.max_charge_current_a * spec.absorption_mv as f32 / 1000.0;
        let accept_w = match stage {
            Stage::Off | Stage::Fault => 0.0,
            Stage::Bulk | Stage::Equalize => max_charge_w,
            Stage::Absorption => {
                let span = (spec.float_from_soc - spec.absorption_from_soc).max(1e-3);
                max_charge_w * ((spec.float_from_soc - soc) / span).clamp(0.05, 1.0)
            }
            // Float: keep the battery topped up, carry the load.
            Stage::Float => 0.5,
        };
        let eff = spec.charger_efficiency;
        let bus_from_panel_w = (available_w * eff).min(load_w + accept_w);
        let net_w = bus_from_panel_w - load_w;
        self.energy_wh = (self.energy_wh + net_w * dt_h).clamp(0.0, spec.battery_capacity_wh);

        let mut browned_out = false;
        if !self.load_disconnected && self.energy_wh <= 0.0 && load_w > 0.0 {
            self.load_disconnected = true;
            browned_out = true;
        } else if self.load_disconnected
            && self.energy_wh >= spec.bms_reconnect_soc * spec.battery_capacity_wh
        {
            self.load_disconnected = false;
        }
        BatteryStep {
            stage,
            panel_used_w: bus_from_panel_w / eff,
            bus_from_panel_w,
            load_w,
            browned_out,
        }
    }
}

/// Panel power on offer at simulated second `t_s` (the middle of a step), in W.
pub fn panel_available_w(spec: &KitSpec, weather: &WeatherTrace, t_s: u64) -> f32 {
    let day = t_s / 86_400;
    let hour = (t_s % 86_400) as f32 / 3600.0;
    spec.panel_rated_w * spec.panel_derate * weather.panel_fraction(day, hour)
}

/// The battery, panel and charge controller.
#[derive(Debug, Clone)]
pub struct KitModel {
    spec: KitSpec,
    weather: WeatherTrace,
    time_s: u64,
    battery: Battery,
    last: KitState,
    /// Totals since the start.
    pub totals: EnergyTotals,
}

/// Energy totals since the model started.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct EnergyTotals {
    /// Panel energy that reached the battery bus, in Wh.
    pub harvested_wh: f32,
    /// Panel energy available but not taken (battery full), in Wh.
    pub wasted_wh: f32,
    /// Energy the kit drew, in Wh.
    pub consumed_wh: f32,
}

impl KitModel {
    /// A kit at `soc_percent` at time 0 under `weather`.
    pub fn new(spec: KitSpec, weather: WeatherTrace, soc_percent: f32) -> Self {
        let mut m = Self {
            spec,
            weather,
            time_s: 0,
            battery: Battery::new(&spec, soc_percent),
            last: KitState {
                time_s: 0,
                soc_percent,
                battery_voltage_mv: 0,
                battery_current_ma: 0,
                charge_rate_percent_per_hour: 0.0,
                panel_voltage_mv: 0,
                panel_power_w: 0.0,
                panel_available_w: 0.0,
                load_power_w: 0.0,
                stage: Stage::Off,
                load_disconnected: false,
            },
            totals: EnergyTotals::default(),
        };
        m.last.battery_voltage_mv = open_circuit_mv(soc_percent) as u32;
        m
    }

    /// The same kit, its clock set to `time_s` (a live kit starts at its clock's start, not at
    /// midnight of day 0).
    pub fn starting_at(mut self, time_s: u64) -> Self {
        self.time_s = time_s;
        self.last.time_s = time_s;
        self
    }

    /// The spec.
    pub fn spec(&self) -> &KitSpec {
        &self.spec
    }

    /// Simulated seconds since the start.
    pub fn time_s(&self) -> u64 {
        self.time_s
    }

    /// What the instruments read after the last step.
    pub fn state(&self) -> KitState {
        self.last
    }

    /// The battery as it is now.
    pub fn battery(&self) -> Battery {
        self.battery
    }

    /// State of charge, 0–100 %.
    pub fn soc_percent(&self) -> f32 {
        self.battery.soc_percent(&self.spec)
    }

    /// Whether the BMS has cut the load.
    pub fn load_disconnected(&self) -> bool {
        self.battery.load_disconnected
    }

    /// Advances `dt_s` seconds with the kit drawing `load_w` from the battery bus.
    /// Returns true if the battery emptied during the step (the BMS cut the load: a
    /// brown-out for a running kit).
    pub fn step(&mut self, dt_s: u64, load_w: f32) -> bool {
        let spec = self.spec;
        let dt_h = dt_s as f32 / 3600.0;
        let available_w = panel_available_w(&spec, &self.weather, self.time_s + dt_s / 2);
        let before = self.battery.energy_wh;
        let s = self.battery.step(&spec, dt_s, available_w, load_w);
        self.time_s += dt_s;
        self.totals.harvested_wh += s.bus_from_panel_w * dt_h;
        self.totals.wasted_wh += (available_w - s.panel_used_w).max(0.0) * dt_h;
        self.totals.consumed_wh += s.load_w * dt_h;

        let soc_pct = self.soc_percent();
        let ocv = open_circuit_mv(soc_pct);
        let net_w = s.bus_from_panel_w - s.load_w;
        let current_a = net_w / (ocv / 1000.0);
        let terminal_mv = match s.stage {
            Stage::Absorption => spec.absorption_mv as f32,
            Stage::Float => spec.float_mv as f32,
            _ => ocv + current_a * spec.internal_resistance_ohm * 1000.0,
        };
        let rate = if dt_h > 0.0 {
            100.0 * (self.battery.energy_wh - before) / spec.battery_capacity_wh / dt_h
        } else {
            0.0
        };
        self.last = KitState {
            time_s: self.time_s,
            soc_percent: soc_pct,
            battery_voltage_mv: terminal_mv.max(0.0) as u32,
            battery_current_ma: (current_a * 1000.0) as i32,
            charge_rate_percent_per_hour: rate,
            panel_voltage_mv: if available_w >= 0.5 {
                spec.panel_vmp_mv
            } else {
                0
            },
            panel_power_w: s.panel_used_w,
            panel_available_w: available_w,
            load_power_w: s.load_w,
            stage: s.stage,
            load_disconnected: self.battery.load_disconnected,
        };
        s.browned_out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn voltage_follows_the_curve() {
        assert_eq!(open_circuit_mv(0.0), 10_000.0);
        assert!((open_circuit_mv(45.0) - 13_075.0).abs() < 1.0);
        assert_eq!(open_circuit_mv(150.0), 13_600.0);
    }

    #[test]
    fn energy_balances_over_a_night() {
        let mut m = KitModel::new(KitSpec::default(), WeatherTrace::clear(2), 80.0);
        // 00:00–05:00 at 5 W: 25 Wh out of 256.
        for _ in 0..300 {
            m.step(60, 5.0);
        }
        let expected = 80.0 - 100.0 * 25.0 / 256.0;
        assert!((m.soc_percent() - expected).abs() < 0.01);
        assert_eq!(m.state().stage, Stage::Off);
        assert!(m.state().battery_voltage_mv < 13_200);
    }

    #[test]
    fn a_sunny_day_charges_through_the_stages_and_wastes_when_full() {
        let mut m = KitModel::new(KitSpec::default(), WeatherTrace::clear(2), 90.0);
        let mut seen = std::collections::HashSet::new();
        for _ in 0..(24 * 60) {
            m.step(60, 2.0);
            seen.insert(format!("{:?}", m.state().stage));
        }
        assert!(seen.contains("Bulk") || seen.contains("Absorption"));
        assert!(seen.contains("Float"));
        assert!(m.totals.wasted_wh > 50.0);
    }

    #[test]
    fn an_empty_battery_browns_out_and_reconnects_only_with_margin() {
        let mut m = KitModel::new(KitSpec::default(), WeatherTrace::clear(3), 1.0);
        let mut browned = false;
        for _ in 0..60 {
            browned |= m.step(60, 10.0);
        }
        assert!(browned);
        assert!(m.load_disconnected());
        // Through the next day's sun it reconnects once past 15 %.
        for _ in 0..(36 * 60) {
            m.step(60, 1.0);
        }
        assert!(!m.load_disconnected());
    }
}
