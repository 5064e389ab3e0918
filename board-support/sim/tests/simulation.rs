//! Fourteen days with a five-day overcast spell: the fieldkit policy against always-on.

use fieldkit_power::{AlwaysOn, PowerPolicy};
use fieldkit_sim::run::{SimConfig, simulate};
use fieldkit_sim::weather::WeatherTrace;

fn overcast() -> WeatherTrace {
    let text = include_str!("../../../tests/data/power/overcast-14d.toml");
    WeatherTrace::from_toml(text).expect("the weather file parses")
}

#[test]
fn fieldkit_survives_the_overcast_spell_that_browns_out_always_on() {
    let config = SimConfig::default();
    let weather = overcast();
    let mut fieldkit = PowerPolicy::new(config.policy_config());
    let ours = simulate(&config, &weather, &mut fieldkit);
    let theirs = simulate(&config, &weather, &mut AlwaysOn);
    eprintln!("{ours:#?}\n{theirs:#?}");
    assert_eq!(ours.brownouts, 0);
    assert_eq!(ours.saves_lost, 0);
    assert!(theirs.brownouts > 0);
    assert!(ours.availability_working_hours > theirs.availability_working_hours);
}

#[test]
fn a_fortnight_of_near_darkness_shuts_down_cleanly_but_never_browns_out() {
    let mut weather = WeatherTrace::clear(14);
    for day in weather.days.iter_mut().skip(1) {
        day.factor = 0.06;
        day.label = "dark".into();
    }
    let config = SimConfig {
        start_soc_percent: 30.0,
        ..SimConfig::default()
    };
    let mut fieldkit = PowerPolicy::new(config.policy_config());
    let r = simulate(&config, &weather, &mut fieldkit);
    assert_eq!(r.brownouts, 0, "{r:#?}");
    assert_eq!(r.saves_lost, 0);
    assert!(r.low_battery_shutdowns > 0, "it had to shut down: {r:#?}");
    assert!(r.min_soc_percent > 0.0);
}
