//! The kit's power sensors read together into one [`Observation`] for the power policy: the
//! layer between the drivers, which keep to their bus and never allocate, hold a clock or
//! log, and the policy, which does no IO. It formats error texts for the technician's probe
//! and logs rate-limited warnings; the caller passes `now`. It opens no device: the bus and
//! the charger link are given to it.
//!
//! Every value is read afresh and stamped with the `now` the caller passes; a value that
//! fails (NACK, timeout, bad frame, outside the physically possible range) is left out,
//! so it is unknown rather than an old value shown as current. Each failure is logged as a
//! `tracing` warning, at most once per interval per source.

use embedded_hal::i2c::I2c;
use fieldkit_power::{ChargeStage, Observation, Reading, Timestamp, WarnLimiter};

use fieldkit_drivers::charger::{ChargerReading, Stage};
use fieldkit_drivers::gauge::{FuelGauge, GaugeReading};
use fieldkit_drivers::monitor::{Chip, CurrentMonitor, LineReading};
use fieldkit_drivers::serial::ChargerLink;

/// A current monitor on the bus.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MonitorSpec {
    /// INA226 or INA219.
    pub chip: Chip,
    /// Its I2C address.
    pub address: u8,
    /// Its shunt in µΩ.
    pub shunt_micro_ohm: u32,
}

/// How the kit's sensors are wired.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct SensorLayout {
    /// Whether a MAX17048 is on the bus.
    pub gauge: bool,
    /// Cells in series behind the gauge's cell (pack voltage = cell voltage × this).
    pub cells_in_series: u32,
    /// Monitor on the panel line.
    pub panel_monitor: Option<MonitorSpec>,
    /// Monitor on the load line.
    pub load_monitor: Option<MonitorSpec>,
    /// Plausible pack voltage range in mV; outside it a reading is garbage.
    pub pack_voltage_range_mv: (u32, u32),
    /// Largest plausible panel power in W.
    pub max_panel_power_w: f32,
    /// Largest plausible load in W.
    pub max_load_power_w: f32,
    /// At most one warning per source per this many seconds.
    pub warn_interval_s: u64,
}

impl Default for SensorLayout {
    /// The reference kit: a gauge on one cell of a 4S LiFePO4 pack (12.8 V), INA226 on the
    /// panel at 0x40 and on the load at 0x41, both over 10 mΩ shunts.
    fn default() -> Self {
        Self {
            gauge: true,
            cells_in_series: 4,
            panel_monitor: Some(MonitorSpec {
                chip: Chip::Ina226,
                address: 0x40,
                shunt_micro_ohm: 10_000,
            }),
            load_monitor: Some(MonitorSpec {
                chip: Chip::Ina226,
                address: 0x41,
                shunt_micro_ohm: 10_000,
            }),
            pack_voltage_range_mv: (8_000, 17_000),
            max_panel_power_w: 1_000.0,
            max_load_power_w: 200.0,
            warn_interval_s: 600,
        }
    }
}

/// Raw results of one round of reads, for a technician's probe.
#[derive(Debug, Clone, Default)]
pub struct SensorRound {
    /// Gauge reading or the error text.
    pub gauge: Option<Result<GaugeReading, String>>,
    /// Panel monitor.
    pub panel: Option<Result<LineReading, String>>,
    /// Load monitor.
    pub load: Option<Result<LineReading, String>>,
    /// Charger.
    pub charger: Option<Result<ChargerReading, String>>,
}

/// The sensors of one kit: an I2C bus (gauge, monitors) and an optional charger link.
#[derive(Debug)]
pub struct PowerSensors<I2C, L> {
    bus: I2C,
    charger: Option<L>,
    layout: SensorLayout,
    warnings: WarnLimiter,
    monitors_ready: [bool; 2],
}

/// The power policy's stage for a charger's stage (the names are the policy's:
/// [`ChargeStage::name`]).
pub fn charge_stage(s: Stage) -> ChargeStage {
    match s {
        Stage::Off => ChargeStage::Off,
        Stage::Bulk => ChargeStage::Bulk,
        Stage::Absorption => ChargeStage::Absorption,
        Stage::Float => ChargeStage::Float,
        Stage::Equalize => ChargeStage::Equalize,
        Stage::Fault => ChargeStage::Fault,
    }
}

impl<I2C: I2c, L: ChargerLink> PowerSensors<I2C, L> {
    /// Sensors on `bus` wired as `layout`, with a charger on `charger` if there is one.
    pub fn new(bus: I2C, charger: Option<L>, layout: SensorLayout) -> Self {
        Self {
            bus,
            charger,
            warnings: WarnLimiter::new(layout.warn_interval_s),
            layout,
            monitors_ready: [false; 2],
        }
    }

    /// Gives the bus and charger link back.
    pub fn destroy(self) -> (I2C, Option<L>) {
        (self.bus, self.charger)
    }

    /// The layout.
    pub fn layout(&self) -> &SensorLayout {
        &self.layout
    }

    fn warn(&mut self, source: &'static str, now: Timestamp, error: &dyn core::fmt::Display) {
        if let Some(suppressed) = self.warnings.check(source, now) {
            tracing::warn!(
                source,
                error = %error,
                suppressed,
                "power reading unavailable; treated as unknown"
            );
        }
    }

    fn read_monitor(&mut self, which: usize, spec: MonitorSpec) -> Result<LineReading, String> {
        let mut m =
            CurrentMonitor::new(&mut self.bus, spec.chip, spec.address, spec.shunt_micro_ohm)
                .map_err(|e| e.to_string())?;
        if !self.monitors_ready[which] {
            m.init().map_err(|e| e.to_string())?;
            self.monitors_ready[which] = true;
        }
        let r = m.read();
        if r.is_err() {
            // Re-check the chip next time (it may have been unplugged and replaced).
            self.monitors_ready[which] = false;
        }
        r.map_err(|e| e.to_string())
    }

    /// Reads every sensor once, without judging the values.
    pub fn read_round(&mut self) -> SensorRound {
        let mut round = SensorRound::default();
        if self.layout.gauge {
            round.gauge = Some(
                FuelGauge::new(&mut self.bus)
                    .read()
                    .map_err(|e| e.to_string()),
            );
        }
        if let Some(spec) = self.layout.panel_monitor {
            round.panel = Some(self.read_monitor(0, spec));
        }
        if let Some(spec) = self.layout.load_monitor {
            round.load = Some(self.read_monitor(1, spec));
        }
        if let Some(link) = self.charger.as_mut() {
            round.charger = Some(link.poll().map_err(|e| e.to_string()));
        }
        round
    }

    /// Reads every sensor and builds the policy's observation, stamped `now`. Failures and
    /// impossible values are warned about (rate-limited) and left unknown.
    pub fn observe(&mut self, now: Timestamp) -> Observation {
        let round = self.read_round();
        let mut obs = Observation::default();
        let (vmin, vmax) = self.layout.pack_voltage_range_mv;

        match round.gauge {
            Some(Ok(g)) => {
                obs.soc_percent = Some(Reading::new(g.soc_percent, now));
                let pack = g
                    .cell_voltage_mv
                    .saturating_mul(self.layout.cells_in_series);
                if (vmin..=vmax).contains(&pack) {
                    obs.battery_voltage_mv = Some(Reading::new(pack, now));
                } else {
                    self.warn(
                        "gauge",
                        now,
                        &format_args!("pack voltage {pack} mV impossible"),
                    );
                }
            }
            Some(Err(e)) => self.warn("gauge", now, &e),
            None => {}
        }
        match round.panel {
            Some(Ok(r)) => {
                let w = r.power_mw.max(0) as f32 / 1000.0;
                if w <= self.layout.max_panel_power_w {
                    obs.panel_power_w = Some(Reading::new(w, now));
                } else {
                    self.warn("panel monitor", now, &format_args!("{w} W impossible"));
                }
            }
            Some(Err(e)) => self.warn("panel monitor", now, &e),
            None => {}
        }
        match round.load {
            Some(Ok(r)) => {
                let w = r.power_mw.max(0) as f32 / 1000.0;
                if w <= self.layout.max_load_power_w {
                    obs.load_power_w = Some(Reading::new(w, now));
                } else {
                    self.warn("load monitor", now, &format_args!("{w} W impossible"));
                }
            }
            Some(Err(e)) => self.warn("load monitor", now, &e),
            None => {}
        }
        match round.charger {
            Some(Ok(c)) => {
                let mut bad = None;
                if let Some(v) = c.battery_voltage_mv {
                    if (vmin..=vmax).contains(&v) {
                        obs.battery_voltage_mv = Some(Reading::new(v, now));
                    } else {
                        bad = Some("battery voltage");
                    }
                }
                if let Some(s) = c.soc_percent
                    && obs.soc_percent.is_none()
                {
                    if s <= 100 {
                        obs.soc_percent = Some(Reading::new(f32::from(s), now));
                    } else {
                        bad = Some("state of charge");
                    }
                }
                if let Some(mw) = c.panel_power_mw
                    && obs.panel_power_w.is_none()
                {
                    let w = mw as f32 / 1000.0;
                    if w <= self.layout.max_panel_power_w {
                        obs.panel_power_w = Some(Reading::new(w, now));
                    } else {
                        bad = Some("panel power");
                    }
                }
                if let Some(mw) = c.load_power_mw
                    && obs.load_power_w.is_none()
                {
                    let w = mw as f32 / 1000.0;
                    if w <= self.layout.max_load_power_w {
                        obs.load_power_w = Some(Reading::new(w, now));
                    }
                }
                obs.charge_stage = c.stage.map(|s| Reading::new(charge_stage(s), now));
                if let Some(what) = bad {
                    self.warn(
                        "charger",
                        now,
                        &format_args!("{what} outside the physically possible range"),
                    );
                }
            }
            Some(Err(e)) => self.warn("charger", now, &e),
            None => {}
        }
        obs
    }
}
