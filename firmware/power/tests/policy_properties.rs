//! Property tests of the policy: any readings (NaN, infinities, absurd values, stale,
//! from the future) give a decision without panicking, and noisy readings around any
//! threshold never make the mode flap.

use fieldkit_power::{
    ChargeStage, Job, JobKind, Observation, Policy, PolicyConfig, PowerMode, PowerPolicy, Reading,
    Timestamp,
};
use proptest::prelude::*;

fn any_f32() -> impl Strategy<Value = f32> {
    prop_oneof![
        Just(f32::NAN),
        Just(f32::INFINITY),
        Just(f32::NEG_INFINITY),
        -1e6f32..1e6f32,
        0f32..100f32,
    ]
}

fn stage() -> impl Strategy<Value = ChargeStage> {
    prop_oneof![
        Just(ChargeStage::Off),
        Just(ChargeStage::Bulk),
        Just(ChargeStage::Absorption),
        Just(ChargeStage::Float),
        Just(ChargeStage::Equalize),
        Just(ChargeStage::Fault),
    ]
}

fn reading<T: std::fmt::Debug + Clone + Copy + 'static>(
    v: impl Strategy<Value = T>,
) -> impl Strategy<Value = Option<(T, i64)>> {
    prop::option::of((v, -600i64..600))
}

proptest! {
    #![proptest_config(ProptestConfig {
        cases: 256,
        // Kept beside this file for replay (proptest's default looks for a lib.rs that a
        // tests/ folder does not have).
        failure_persistence: Some(Box::new(
            proptest::test_runner::FileFailurePersistence::WithSource("proptest-regressions")
        )),
        ..ProptestConfig::default()
    })]

    #[test]
    fn any_observation_gives_a_decision(
        steps in prop::collection::vec(
            (reading(any_f32()), reading(any::<u32>()), reading(stage()), reading(any_f32()), reading(any_f32()), 0u64..4000),
            1..60,
        ),
    ) {
        let mut p = PowerPolicy::new(PolicyConfig::default());
        let mut now = Timestamp::from_day_and_hour(0, 6.0);
        let at = |now: Timestamp, off: i64| Timestamp((now.as_secs() as i64 + off).max(0) as u64);
        for (soc, v, st, pv, load, dt) in steps {
            now = now.plus_s(dt);
            let obs = Observation {
                soc_percent: soc.map(|(s, o)| Reading::new(s, at(now, o))),
                battery_voltage_mv: v.map(|(s, o)| Reading::new(s, at(now, o))),
                charge_stage: st.map(|(s, o)| Reading::new(s, at(now, o))),
                panel_power_w: pv.map(|(s, o)| Reading::new(s, at(now, o))),
                load_power_w: load.map(|(s, o)| Reading::new(s, at(now, o))),
            };
            let d = p.decide(now, &obs);
            prop_assert!(d.backlight_percent <= 100);
            if !d.power_known {
                prop_assert!(d.mode <= PowerMode::Critical);
            }
            if let Some(s) = d.shutdown {
                prop_assert_eq!(d.mode, PowerMode::Shutdown);
                prop_assert!(s.wake_at.is_none_or(|w| w > now));
            }
            let _ = p.admit(now, &Job { kind: JobKind::MatchRun, energy_wh: 5.0 });
        }
    }

    #[test]
    fn noisy_soc_around_any_level_does_not_flap(level in 8f32..95f32, noise in 0.1f32..2.5, seed in any::<u64>()) {
        let mut p = PowerPolicy::new(PolicyConfig {
            hibernate_in_critical: false,
            design_load_w: [[0.0; 2]; 4],
            ..PolicyConfig::default()
        });
        let mut now = Timestamp::from_day_and_hour(0, 9.0);
        let mut x = seed | 1;
        let mut last = None;
        let mut changes = 0;
        for _ in 0..600 {
            // xorshift noise in [-noise, noise].
            x ^= x << 13; x ^= x >> 7; x ^= x << 17;
            let jitter = ((x % 2001) as f32 / 1000.0 - 1.0) * noise;
            let obs = Observation {
                soc_percent: Some(Reading::new((level + jitter).clamp(0.0, 100.0), now)),
                battery_voltage_mv: Some(Reading::new(13_000, now)),
                ..Observation::default()
            };
            let mode = p.decide(now, &obs).mode;
            if last.is_some_and(|m| m != mode) {
                changes += 1;
            }
            last = Some(mode);
            now = now.plus_s(60);
        }
        // Starting in Normal, a level can take the kit down at most three steps once.
        prop_assert!(changes <= 3, "{} changes at {}±{}", changes, level, noise);
    }
}
