//! Bad input end to end: an unplugged gauge, a charger that falls silent, noise and NULs on
//! the line, impossible values. Each gives a rate-limited warning and the unknown state,
//! never a panic and never an old value shown as current.

use std::io::Write;
use std::sync::{Arc, Mutex};

use fieldkit_power::{Policy, PolicyConfig, PowerMode, PowerPolicy, Timestamp};
use fieldkit_sensors::{PowerSensors, SensorLayout};
use fieldkit_sim::i2c::{BusFaults, SimI2c};
use fieldkit_sim::model::{KitModel, KitSpec};
use fieldkit_sim::speak::{LineFaults, SimVeDirectLink, StateCell};
use fieldkit_sim::weather::WeatherTrace;

#[derive(Clone, Default)]
struct Captured(Arc<Mutex<Vec<u8>>>);

impl Write for Captured {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().expect("lock").extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl Captured {
    fn warnings(&self, needle: &str) -> usize {
        let text = String::from_utf8_lossy(&self.0.lock().expect("lock")).to_string();
        text.lines()
            .filter(|l| l.contains("WARN") && l.contains(needle))
            .count()
    }
}

struct Rig {
    bus: SimI2c,
    link_faults: LineFaults,
    sensors: PowerSensors<SimI2c, SimVeDirectLink>,
    policy: PowerPolicy,
}

impl Rig {
    fn new() -> Self {
        let mut m = KitModel::new(KitSpec::default(), WeatherTrace::clear(1), 70.0);
        for _ in 0..(10 * 60) {
            m.step(60, 5.0);
        }
        let bus = SimI2c::new(m.state(), 4);
        let link = SimVeDirectLink::new(StateCell::new(m.state()));
        let layout = SensorLayout {
            warn_interval_s: 600,
            ..SensorLayout::default()
        };
        Self {
            sensors: PowerSensors::new(bus.clone(), Some(link), layout),
            bus,
            link_faults: LineFaults::default(),
            policy: PowerPolicy::new(PolicyConfig::default()),
        }
    }

    fn set_line(&mut self, faults: LineFaults) {
        self.link_faults = faults;
        let (bus, link) = std::mem::replace(
            &mut self.sensors,
            PowerSensors::new(self.bus.clone(), None, SensorLayout::default()),
        )
        .destroy();
        let mut link = link.expect("link");
        link.set_faults(faults);
        self.sensors = PowerSensors::new(bus, Some(link), SensorLayout::default());
    }
}

#[test]
fn unplugged_gauge_is_unknown_with_rate_limited_warnings() {
    let log = Captured::default();
    let writer = log.clone();
    let subscriber = tracing_subscriber::fmt()
        .with_writer(move || writer.clone())
        .with_ansi(false)
        .finish();
    tracing::subscriber::with_default(subscriber, || {
        let mut rig = Rig::new();
        let t0 = Timestamp::from_day_and_hour(0, 10.0);
        let obs = rig.sensors.observe(t0);
        assert!(obs.soc_percent.is_some());
        assert!(rig.policy.decide(t0, &obs).power_known);

        rig.bus.set_faults(BusFaults {
            gauge_unplugged: true,
            ..BusFaults::default()
        });
        // An hour of readings every minute with the gauge gone.
        for i in 1..=60 {
            let now = t0.plus_s(60 * i);
            let obs = rig.sensors.observe(now);
            // Never the last good value: unknown.
            assert!(obs.soc_percent.is_none());
            // The charger still gives voltage, stage and panel power.
            assert!(obs.battery_voltage_mv.is_some());
            let d = rig.policy.decide(now, &obs);
            assert!(!d.power_known);
            assert!(d.mode <= PowerMode::Critical, "unknown counts as low power");
        }
        // One warning per ten minutes, not sixty.
        let n = log.warnings("gauge");
        assert!((6..=7).contains(&n), "{n} gauge warnings");
    });
}

#[test]
fn garbage_from_the_gauge_is_not_a_reading() {
    let mut rig = Rig::new();
    rig.bus.set_faults(BusFaults {
        gauge_garbage: true,
        ..BusFaults::default()
    });
    let obs = rig.sensors.observe(Timestamp::from_day_and_hour(0, 10.0));
    assert!(obs.soc_percent.is_none());
}

#[test]
fn silent_charger_and_impossible_values_are_unknown() {
    let mut rig = Rig::new();
    let t = Timestamp::from_day_and_hour(0, 10.0);
    assert!(rig.sensors.observe(t).charge_stage.is_some());

    rig.set_line(LineFaults {
        silent: true,
        ..LineFaults::default()
    });
    let obs = rig.sensors.observe(t.plus_s(60));
    assert!(
        obs.charge_stage.is_none(),
        "a silent charger's stage is unknown"
    );

    rig.set_line(LineFaults {
        noise: true,
        ..LineFaults::default()
    });
    let obs = rig.sensors.observe(t.plus_s(120));
    assert!(obs.charge_stage.is_some(), "noise and NULs are skipped");

    rig.set_line(LineFaults {
        impossible_voltage: true,
        ..LineFaults::default()
    });
    let obs = rig.sensors.observe(t.plus_s(180));
    let v = obs
        .battery_voltage_mv
        .expect("the gauge's voltage stands in")
        .value;
    assert!(v < 17_000, "99 V from the charger was refused, got {v}");

    // With the gauge gone too, nothing says what the battery is: unknown, low power.
    rig.bus.set_faults(BusFaults {
        gauge_unplugged: true,
        ..BusFaults::default()
    });
    let now = t.plus_s(240);
    let obs = rig.sensors.observe(now);
    assert!(obs.battery_voltage_mv.is_none());
    assert!(obs.soc_percent.is_none());
    let d = rig.policy.decide(now, &obs);
    assert!(!d.power_known);
    assert!(!d.links.cellular);
}

#[test]
fn stale_readings_are_unknown() {
    let mut rig = Rig::new();
    let t = Timestamp::from_day_and_hour(0, 10.0);
    let obs = rig.sensors.observe(t);
    assert!(rig.policy.decide(t, &obs).power_known);
    // The same observation an hour later (sensors not read since): stale.
    let later = t.plus_s(3600);
    let d = rig.policy.decide(later, &obs);
    assert!(!d.power_known);
    assert_eq!(d.projected_sunrise_soc_percent, None);
}
