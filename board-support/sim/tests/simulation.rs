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
