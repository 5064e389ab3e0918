//! `fieldkit power probe`: live readings, raw and as the policy sees them.

use std::time::Duration;

use anyhow::{Context, bail};
use fieldkit_drivers::embedded_hal::i2c::{
    ErrorKind, ErrorType, I2c, NoAcknowledgeSource, Operation,
};
use serde_json::{Value, json};

use fieldkit_drivers::charger::ModbusCharger;
use fieldkit_drivers::serial::{ChargerError, ChargerLink, ModbusPort, TTYPort, VeDirectPort};
use fieldkit_power::{Observation, Timestamp};
use fieldkit_sensors::{PowerSensors, SensorLayout, SensorRound};

/// Arguments of `probe`.
#[derive(Debug, clap::Args)]
pub struct ProbeArgs {
    /// I2C bus with the fuel gauge (0x36) and the INA226 monitors (panel 0x40, load 0x41).
    #[arg(long, value_name = "PATH")]
    pub i2c: Option<String>,
    /// Charge controller: `vedirect:/dev/ttyUSB0`, `renogy:/dev/ttyUSB0[@ADDR]` or
    /// `epever:/dev/ttyUSB0[@ADDR]` (Modbus address, default 1).
    #[arg(long, value_name = "PROTOCOL:PATH")]
    pub charger: Option<String>,
    /// Probe simulated devices instead: the kit model on an accelerated clock, its I2C bus,
    /// and the charger (protocol from --charger, default vedirect) on a pseudo-terminal.
    #[arg(long)]
    pub simulated: bool,
    /// Number of readings.
    #[arg(long, default_value_t = 1)]
    pub count: u32,
    /// Seconds between readings.
    #[arg(long, default_value_t = 1.0)]
    pub interval_s: f32,
    /// Print JSON lines instead of text.
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum ChargerKind {
    VeDirect,
    Modbus(ModbusCharger),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct ChargerSpec {
    pub(crate) kind: ChargerKind,
    pub(crate) path: String,
    pub(crate) device: u8,
}

pub(crate) fn parse_charger(spec: &str) -> anyhow::Result<ChargerSpec> {
    let (proto, rest) = spec
        .split_once(':')
        .with_context(|| format!("--charger {spec:?}: expected PROTOCOL:PATH"))?;
    let kind = match proto {
        "vedirect" => ChargerKind::VeDirect,
        "renogy" => ChargerKind::Modbus(ModbusCharger::Renogy),
        "epever" => ChargerKind::Modbus(ModbusCharger::Epever),
        other => bail!("--charger: unknown protocol {other:?} (vedirect, renogy, epever)"),
    };
    let (path, device) = match rest.rsplit_once('@') {
        Some((p, a)) if kind != ChargerKind::VeDirect => {
            let device = a
                .parse::<u8>()
                .ok()
                .filter(|d| (1..=247).contains(d))
                .with_context(|| format!("--charger: Modbus address {a:?} not in 1-247"))?;
            (p.to_string(), device)
        }
        _ => (rest.to_string(), 1),
    };
    if path.is_empty() {
        bail!("--charger {spec:?}: no device path");
    }
    Ok(ChargerSpec { kind, path, device })
}

/// A charger on a serial port, whichever protocol it speaks.
#[derive(Debug)]
pub(crate) enum SerialCharger {
    VeDirect(Box<VeDirectPort<TTYPort>>),
    Modbus(ModbusPort<TTYPort>),
}

impl ChargerLink for SerialCharger {
    fn poll(&mut self) -> Result<fieldkit_drivers::charger::ChargerReading, ChargerError> {
        match self {
            Self::VeDirect(p) => p.poll(),
            Self::Modbus(p) => p.poll(),
        }
    }
}

pub(crate) fn charger_on(port: TTYPort, spec: &ChargerSpec) -> SerialCharger {
    match spec.kind {
        ChargerKind::VeDirect => SerialCharger::VeDirect(Box::new(VeDirectPort::new(port))),
        ChargerKind::Modbus(c) => SerialCharger::Modbus(ModbusPort::new(port, c, spec.device)),
    }
}

/// A bus with nothing on it, for a probe of the charger alone.
#[derive(Debug)]
pub(crate) struct NoBus;

impl ErrorType for NoBus {
    type Error = ErrorKind;
}

impl I2c for NoBus {
    fn transaction(&mut self, _: u8, _: &mut [Operation<'_>]) -> Result<(), ErrorKind> {
        Err(ErrorKind::NoAcknowledge(NoAcknowledgeSource::Address))
    }
}

/// A reading to the precision its sensor has (the gauge's SOC register is 1/256 %, the
/// monitors' power a few mW), not the float's seventeen digits.
fn rounded(value: f32, decimals: i32) -> f64 {
    let scale = 10f64.powi(decimals);
    (f64::from(value) * scale).round() / scale
}

fn round_json(now: Timestamp, round: &SensorRound, obs: &Observation) -> Value {
    fn part<T: std::fmt::Debug>(r: &Option<Result<T, String>>, f: impl Fn(&T) -> Value) -> Value {
        match r {
            None => Value::Null,
            Some(Ok(v)) => f(v),
            Some(Err(e)) => json!({ "error": e }),
        }
    }
    json!({
        "taken_at_s": now.as_secs(),
        "gauge": part(&round.gauge, |g| json!({
            "cell_voltage_mv": g.cell_voltage_mv,
            "soc_percent": rounded(g.soc_percent, 2),
            "charge_rate_percent_per_hour": rounded(g.charge_rate_percent_per_hour, 2),
        })),
        "panel_monitor": part(&round.panel, |l| json!({
            "bus_voltage_mv": l.bus_voltage_mv, "current_ma": l.current_ma, "power_mw": l.power_mw,
        })),
        "load_monitor": part(&round.load, |l| json!({
            "bus_voltage_mv": l.bus_voltage_mv, "current_ma": l.current_ma, "power_mw": l.power_mw,
        })),
        "charger": part(&round.charger, |c| json!({
            "battery_voltage_mv": c.battery_voltage_mv,
            "battery_current_ma": c.battery_current_ma,
            "soc_percent": c.soc_percent,
            "panel_voltage_mv": c.panel_voltage_mv,
            "panel_power_mw": c.panel_power_mw,
            "stage": c.stage.map(|s| fieldkit_sensors::charge_stage(s).name()),
        })),
        "policy_view": {
            "soc_percent": obs.soc_percent.map(|r| rounded(r.value, 2)),
            "battery_voltage_mv": obs.battery_voltage_mv.map(|r| r.value),
            "charge_stage": obs.charge_stage.map(|r| r.value),
            "panel_power_w": obs.panel_power_w.map(|r| rounded(r.value, 3)),
            "load_power_w": obs.load_power_w.map(|r| rounded(r.value, 3)),
        },
    })
}

fn print_round(now: Timestamp, round: &SensorRound, obs: &Observation, as_json: bool) {
    let v = round_json(now, round, obs);
    if as_json {
        println!("{v}");
        return;
    }
    println!("reading at t={} s", now.as_secs());
    for key in ["gauge", "panel_monitor", "load_monitor", "charger"] {
        match &v[key] {
            Value::Null => {}
            other => println!("  {key:<14} {other}"),
        }
    }
    println!("  {:<14} {}", "policy view", v["policy_view"]);
}

fn probe_loop<I2C: I2c, L: ChargerLink>(
    mut sensors: PowerSensors<I2C, L>,
    args: &ProbeArgs,
    now: impl Fn() -> Timestamp,
) {
    for i in 0..args.count {
        if i > 0 {
            std::thread::sleep(Duration::from_secs_f32(args.interval_s));
        }
        let t = now();
        // One round of raw reads for the technician, then the policy's view of the same
        // devices (a second read, so both are current).
        let round = sensors.read_round();
        let obs = sensors.observe(t);
        print_round(t, &round, &obs, args.json);
    }
}

fn layout_for(i2c: bool) -> SensorLayout {
    let mut layout = SensorLayout::default();
    if !i2c {
        layout.gauge = false;
        layout.panel_monitor = None;
        layout.load_monitor = None;
    }
    layout
}

#[cfg(not(feature = "simulation"))]
fn run_simulated(_args: &ProbeArgs) -> anyhow::Result<()> {
    bail!("this build has no simulated kit (built without the `simulation` feature)")
}

#[cfg(feature = "simulation")]
fn run_simulated(args: &ProbeArgs) -> anyhow::Result<()> {
    use fieldkit_sim::clock::SimClock;
    use fieldkit_sim::live::{SimCharger, SimulatedKit};
    use fieldkit_sim::model::KitSpec;
    use fieldkit_sim::weather::WeatherTrace;

    let spec = match &args.charger {
        Some(s) => parse_charger(s)?,
        None => ChargerSpec {
            kind: ChargerKind::VeDirect,
            path: "sim".into(),
            device: 1,
        },
    };
    let charger = match spec.kind {
        ChargerKind::VeDirect => SimCharger::VeDirect,
        ChargerKind::Modbus(c) => SimCharger::Modbus(c, spec.device),
    };
    // Noon on day 0, an hour of simulated time per minute of wall time.
    let clock = SimClock::new(Timestamp::from_day_and_hour(0, 12.0), 60);
    let (sim, port) = SimulatedKit::start(
        KitSpec::default(),
        WeatherTrace::clear(365),
        80.0,
        clock,
        6.0,
        charger,
    )
    .context("starting the simulated kit")?;
    let sensors = PowerSensors::new(
        sim.bus.clone(),
        Some(charger_on(port, &spec)),
        layout_for(true),
    );
    let clock = sim.kit.clock();
    probe_loop(sensors, args, || clock.now());
    Ok(())
}

fn unix_now() -> Timestamp {
    Timestamp(crate::cmd::now_ms() / 1000)
}

/// Opens the charge controller named `PROTOCOL:PATH[@ADDR]` on the board's serial port.
#[cfg(feature = "kiosk")]
pub(crate) fn open_charger(spec: &str) -> anyhow::Result<SerialCharger> {
    let spec = parse_charger(spec)?;
    let baud = match spec.kind {
        ChargerKind::VeDirect => 19_200,
        ChargerKind::Modbus(c) => c.baud_rate(),
    };
    let port = fieldkit_linux::open_serial(&spec.path, baud, Duration::from_millis(1500))
        .context("opening the charge controller")?;
    Ok(charger_on(port, &spec))
}

#[cfg(feature = "kiosk")]
fn run_devices(args: &ProbeArgs) -> anyhow::Result<()> {
    let charger = args.charger.as_deref().map(open_charger).transpose()?;
    match &args.i2c {
        Some(path) => {
            let bus = fieldkit_linux::open_i2c(path).context("opening the I2C bus")?;
            probe_loop(
                PowerSensors::new(bus, charger, layout_for(true)),
                args,
                unix_now,
            );
        }
        None => probe_loop(
            PowerSensors::new(NoBus, charger, layout_for(false)),
            args,
            unix_now,
        ),
    }
    Ok(())
}

#[cfg(not(feature = "kiosk"))]
fn run_devices(args: &ProbeArgs) -> anyhow::Result<()> {
    if let Some(s) = &args.charger {
        parse_charger(s)?;
    }
    let _ = (unix_now, NoBus);
    bail!(
        "this build cannot open devices (built without the `kiosk` feature); \
         use --simulated, or the kiosk build on the board"
    )
}

/// Runs `probe`.
pub fn run(args: ProbeArgs) -> anyhow::Result<()> {
    if args.count == 0 {
        bail!("--count must be at least 1");
    }
    if !(args.interval_s.is_finite() && (0.0..=3600.0).contains(&args.interval_s)) {
        bail!(
            "--interval-s must be a number of seconds from 0 to 3600 (got {})",
            args.interval_s
        );
    }
    if args.simulated {
        return run_simulated(&args);
    }
    if args.i2c.is_none() && args.charger.is_none() {
        bail!("nothing to probe: give --i2c and/or --charger (or --simulated)");
    }
    run_devices(&args)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn charger_specs() {
        let s = parse_charger("renogy:/dev/ttyUSB0@16").unwrap();
        assert_eq!(s.kind, ChargerKind::Modbus(ModbusCharger::Renogy));
        assert_eq!((s.path.as_str(), s.device), ("/dev/ttyUSB0", 16));
        let s = parse_charger("vedirect:/dev/serial/by-id/usb-VictronEnergy@x").unwrap();
        assert_eq!(s.path, "/dev/serial/by-id/usb-VictronEnergy@x");
        assert!(parse_charger("modbus:/dev/x").is_err());
        assert!(parse_charger("epever:/dev/x@0").is_err());
        assert!(parse_charger("/dev/ttyUSB0").is_err());
    }
}
