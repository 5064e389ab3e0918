//! The oracle: the most working-hour availability a kit can have on a given weather trace,
//! with no brown-out, planned with the whole trace known in advance. It is the physical limit
//! the fieldkit policy is measured against, not a policy a kit could run: it reads the weather
//! and the model, which nothing else may.
//!
//! The plan chooses, for each slot of the run (an hour by default), to halt the kit or to run
//! it in one of the policy's modes (Critical, Saver, Normal, with the outputs
//! [`Decision::for_mode`] gives them). Outside working hours it halts: up time there earns
//! nothing and costs energy. It runs no background work.
//!
//! **How.** Dynamic programming over slots. The value is the number of working-hour steps the
//! kit is up; the state is the battery ([`Battery`]: energy, the charger's float latch) and
//! whether the kit is up (a halted kit pays a boot to come back). For each slot, value, latch
//! and up/down, only the state with the most energy is kept, and a state with less value and
//! less energy than another of the same kind is dropped: with the same future actions more
//! energy never leaves less (the model's step is monotone in energy, except within the
//! charger's float band, a few Wh below full). Each candidate slot is stepped through the
//! same battery model and the same load figures as [`crate::run::simulate`], minute by
//! minute, so the plan, run through the simulation, gives exactly the availability the
//! planner computed (tested), and the planner equals an exhaustive search on small cases
//! (tested).
//!
//! Among plans of the best availability, the planner then brightens what it can: slot by
//! slot in time order, Critical becomes Normal or Saver wherever that keeps every planned
//! working slot up without a brown-out. That second pass is greedy, so "hours in Normal" is
//! a good plan, not a proven optimum; the availability is the optimum.

use std::collections::BTreeMap;

use fieldkit_power::{
    Admission, Decision, Job, JobClass, Observation, Policy, PowerMode, Shutdown, ShutdownReason,
    Timestamp, WaitReason,
};

use crate::model::{Battery, KitSpec, panel_available_w};
use crate::run::{SimConfig, is_working};
use crate::weather::WeatherTrace;

/// What the kit does during one slot of the plan.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum SlotAction {
    /// Halted (RTC and charger only).
    Halt,
    /// Up in this mode.
    Run(PowerMode),
}

/// Every action, cheapest first.
const ACTIONS: [SlotAction; 4] = [
    SlotAction::Halt,
    SlotAction::Run(PowerMode::Critical),
    SlotAction::Run(PowerMode::Saver),
    SlotAction::Run(PowerMode::Normal),
];

const RUN_MODES: [PowerMode; 3] = [PowerMode::Critical, PowerMode::Saver, PowerMode::Normal];

fn mode_index(mode: PowerMode) -> usize {
    match mode {
        PowerMode::Normal => 2,
        PowerMode::Saver => 1,
        _ => 0,
    }
}

/// The plan and what it achieves.
#[derive(Debug, Clone, PartialEq)]
pub struct OraclePlan {
    /// Slot length in seconds.
    pub slot_s: u64,
    /// One action per slot from the start of the run.
    pub actions: Vec<SlotAction>,
    /// Working-hour steps in the run.
    pub working_steps: u64,
    /// Working-hour steps the plan keeps the kit up.
    pub working_steps_up: u64,
    /// Working-hour steps the plan runs in Normal.
    pub working_steps_normal: u64,
}

impl OraclePlan {
    /// The best working-hour availability on the trace, 0–1.
    pub fn availability(&self) -> f64 {
        if self.working_steps == 0 {
            return 0.0;
        }
        self.working_steps_up as f64 / self.working_steps as f64
    }
}

/// Everything the planner needs per simulation step, computed once per trace.
#[derive(Debug)]
struct Tables {
    spec: KitSpec,
    step_s: u64,
    steps_per_slot: usize,
    steps: usize,
    boot_steps: usize,
    halted_w: f32,
    available_w: Vec<f32>,
    working: Vec<bool>,
    /// Draw per step of each running mode: [mode][step], idle and booting.
    idle_w: [Vec<f32>; 3],
    boot_w: [Vec<f32>; 3],
    start: Battery,
}

impl Tables {
    fn new(config: &SimConfig, weather: &WeatherTrace, slot_s: u64) -> Self {
        let step_s = config.step_s.max(1);
        let steps = usize::try_from(u64::from(config.days) * 86_400 / step_s).unwrap_or(0);
        let steps_per_slot = usize::try_from((slot_s / step_s).max(1)).unwrap_or(1);
        let mut t = Self {
            spec: config.spec,
            step_s,
            steps_per_slot,
            steps,
            boot_steps: config.loads.boot_minutes as usize,
            halted_w: config.loads.halted_w,
            available_w: Vec::with_capacity(steps),
            working: Vec::with_capacity(steps),
            idle_w: Default::default(),
            boot_w: Default::default(),
            start: Battery::new(&config.spec, config.start_soc_percent),
        };
        for i in 0..steps {
            let t_s = i as u64 * step_s;
            let now = Timestamp(t_s);
            let working = is_working(now, config.working_hours);
            t.available_w
                .push(panel_available_w(&config.spec, weather, t_s + step_s / 2));
            t.working.push(working);
            for mode in RUN_MODES {
                let d = Decision::for_mode(mode, false);
                let m = mode_index(mode);
                t.idle_w[m].push(config.loads.draw_w(&d, now, working, false, 0.0));
                t.boot_w[m].push(config.loads.draw_w(&d, now, working, true, 0.0));
            }
        }
        t
    }

    fn slots(&self) -> usize {
        self.steps.div_ceil(self.steps_per_slot)
    }

    fn slot_range(&self, slot: usize) -> std::ops::Range<usize> {
        let from = slot * self.steps_per_slot;
        from..(from + self.steps_per_slot).min(self.steps)
    }

    fn working_steps(&self, slot: usize) -> u64 {
        self.working[self.slot_range(slot)]
            .iter()
            .filter(|w| **w)
            .count() as u64
    }

    /// Runs one slot from `battery`: the working steps up and the Normal ones, or `None` if
    /// the battery empties (a brown-out, or a halted kit going dead).
    fn run_slot(
        &self,
        slot: usize,
        action: SlotAction,
        battery: &mut Battery,
        was_up: bool,
    ) -> Option<(u64, u64)> {
        let range = self.slot_range(slot);
        let first = range.start;
        let (mut up, mut normal) = (0u64, 0u64);
        for i in range {
            let draw = match action {
                SlotAction::Halt => self.halted_w,
                SlotAction::Run(mode) => {
                    let m = mode_index(mode);
                    if !was_up && i - first < self.boot_steps {
                        self.boot_w[m][i]
                    } else {
                        self.idle_w[m][i]
                    }
                }
            };
            let s = battery.step(&self.spec, self.step_s, self.available_w[i], draw);
            if s.browned_out || battery.load_disconnected {
                return None;
            }
            if self.working[i] && action != SlotAction::Halt {
                up += 1;
                if action == SlotAction::Run(PowerMode::Normal) {
                    normal += 1;
                }
            }
        }
        Some((up, normal))
    }

    /// Runs a whole plan: (working steps up, in Normal), or `None` if it empties the battery.
    fn run_plan(&self, actions: &[SlotAction]) -> Option<(u64, u64)> {
        let mut battery = self.start;
        let mut was_up = true;
        let (mut up, mut normal) = (0, 0);
        for (slot, &a) in actions.iter().enumerate() {
            let (u, n) = self.run_slot(slot, a, &mut battery, was_up)?;
            up += u;
            normal += n;
            was_up = a != SlotAction::Halt;
        }
        Some((up, normal))
    }
}

/// A planner state's key: working steps up so far, float latch, kit up at the slot's end.
type Key = (u64, bool, bool);

#[derive(Debug, Clone, Copy)]
struct Entry {
    battery: Battery,
    parent: Key,
    action: SlotAction,
}

/// Drops states another state of the same latch and up/down beats on both value and energy.
fn prune(layer: BTreeMap<Key, Entry>) -> BTreeMap<Key, Entry> {
    let mut out = BTreeMap::new();
    // Highest value first within each (latch, up) group: keep a state only if it has more
    // energy than every state of higher value.
    let mut best: BTreeMap<(bool, bool), f32> = BTreeMap::new();
    for (key, entry) in layer.into_iter().rev() {
        let group = (key.1, key.2);
        let e = entry.battery.energy_wh;
        match best.get(&group) {
            Some(&b) if e <= b => {}
            _ => {
                best.insert(group, e);
                out.insert(key, entry);
            }
        }
    }
    out
}

/// Plans the kit's modes over `weather` for `config.days` days in slots of `slot_s` seconds
/// (a multiple of the step; an hour is the default).
pub fn plan(config: &SimConfig, weather: &WeatherTrace, slot_s: u64) -> OraclePlan {
    let t = Tables::new(config, weather, slot_s);
    let slots = t.slots();
    let start_key: Key = (0, t.start.float_latched, true);
    let mut layer: BTreeMap<Key, Entry> = BTreeMap::new();
    layer.insert(
        start_key,
        Entry {
            battery: t.start,
            parent: start_key,
            action: SlotAction::Halt,
        },
    );
    let mut history: Vec<BTreeMap<Key, (Key, SlotAction)>> = Vec::with_capacity(slots);
    for slot in 0..slots {
        let actions: &[SlotAction] = if t.working_steps(slot) == 0 {
            &ACTIONS[..1]
        } else {
            &ACTIONS
        };
        let mut next: BTreeMap<Key, Entry> = BTreeMap::new();
        for (&key, entry) in &layer {
            for &action in actions {
                let mut battery = entry.battery;
                let Some((up, _)) = t.run_slot(slot, action, &mut battery, key.2) else {
                    continue;
                };
                let k = (
                    key.0 + up,
                    battery.float_latched,
                    action != SlotAction::Halt,
                );
                let better = next
                    .get(&k)
                    .is_none_or(|e| battery.energy_wh > e.battery.energy_wh);
                if better {
                    next.insert(
                        k,
                        Entry {
                            battery,
                            parent: key,
                            action,
                        },
                    );
                }
            }
        }
        layer = prune(next);
        history.push(
            layer
                .iter()
                .map(|(k, e)| (*k, (e.parent, e.action)))
                .collect(),
        );
    }

    // The best final state: most value, then most energy left.
    let best = layer.iter().max_by(|a, b| {
        (a.0.0)
            .cmp(&b.0.0)
            .then(a.1.battery.energy_wh.total_cmp(&b.1.battery.energy_wh))
    });
    let mut actions = vec![SlotAction::Halt; slots];
    if let Some((&key, _)) = best {
        let mut key = key;
        for slot in (0..slots).rev() {
            if let Some(&(parent, action)) = history[slot].get(&key) {
                actions[slot] = action;
                key = parent;
            }
        }
    }
    brighten(&t, &mut actions);
    let (up, normal) = t.run_plan(&actions).unwrap_or((0, 0));
    OraclePlan {
        slot_s: t.steps_per_slot as u64 * t.step_s,
        actions,
        working_steps: t.working.iter().filter(|w| **w).count() as u64,
        working_steps_up: up,
        working_steps_normal: normal,
    }
}

/// The second pass: in time order, each running slot becomes Normal, or else Saver, wherever
/// the whole plan still runs without emptying the battery.
fn brighten(t: &Tables, actions: &mut [SlotAction]) {
    for slot in 0..actions.len() {
        let SlotAction::Run(current) = actions[slot] else {
            continue;
        };
        for better in [PowerMode::Normal, PowerMode::Saver] {
            if better <= current {
                continue;
            }
            actions[slot] = SlotAction::Run(better);
            if t.run_plan(actions).is_some() {
                break;
            }
            actions[slot] = SlotAction::Run(current);
        }
    }
}

/// The oracle as a policy, so the simulation runs its plan through the same loop, drivers
/// and model as every other policy. It ignores what the sensors say: it already knows.
#[derive(Debug, Clone)]
pub struct Oracle {
    plan: OraclePlan,
    working_hours: (f32, f32),
}

impl Oracle {
    /// Plans `config`'s run over `weather` in hourly slots.
    pub fn new(config: &SimConfig, weather: &WeatherTrace) -> Self {
        Self::from_plan(plan(config, weather, 3600), config)
    }

    /// Runs a plan made earlier.
    pub fn from_plan(plan: OraclePlan, config: &SimConfig) -> Self {
        Self {
            plan,
            working_hours: config.working_hours,
        }
    }

    /// The plan.
    pub fn plan(&self) -> &OraclePlan {
        &self.plan
    }

    fn action_at(&self, slot: u64) -> SlotAction {
        usize::try_from(slot)
            .ok()
            .and_then(|s| self.plan.actions.get(s))
            .copied()
            .unwrap_or(SlotAction::Halt)
    }
}

impl Policy for Oracle {
    fn name(&self) -> &'static str {
        "oracle"
    }

    fn decide(&mut self, now: Timestamp, _observation: &Observation) -> Decision {
        let slot_s = self.plan.slot_s.max(1);
        let slot = now.as_secs() / slot_s;
        match self.action_at(slot) {
            SlotAction::Run(mode) => Decision::for_mode(mode, false),
            SlotAction::Halt => {
                let wake = (slot + 1..self.plan.actions.len() as u64)
                    .find(|&s| self.action_at(s) != SlotAction::Halt)
                    .map(|s| Timestamp(s * slot_s));
                let reason = if is_working(now, self.working_hours) {
                    ShutdownReason::BatteryLow
                } else {
                    ShutdownReason::Overnight
                };
                Decision {
                    shutdown: Some(Shutdown {
                        reason,
                        wake_at: wake,
                    }),
                    ..Decision::for_mode(PowerMode::Shutdown, false)
                }
            }
        }
    }

    fn admit(&self, _now: Timestamp, job: &Job) -> Admission {
        match job.kind.class() {
            JobClass::Essential | JobClass::Urgent => Admission::Run,
            // The limit of availability spends nothing on background work.
            JobClass::Bulk => Admission::Wait(WaitReason::NoSurplus),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::KitSpec;
    use crate::run::simulate;
    use crate::weather::WeatherDay;

    fn trace(factors: &[f32]) -> WeatherTrace {
        WeatherTrace {
            sunrise_hour: 6.0,
            sunset_hour: 18.5,
            days: factors
                .iter()
                .map(|&f| WeatherDay {
                    factor: f,
                    label: String::new(),
                    hourly: Vec::new(),
                })
                .collect(),
        }
    }

    /// A small kit whose battery binds within a day or two.
    fn tiny(days: u32, soc: f32, capacity_wh: f32) -> SimConfig {
        SimConfig {
            days,
            start_soc_percent: soc,
            working_hours: (8.0, 16.0),
            spec: KitSpec {
                battery_capacity_wh: capacity_wh,
                panel_rated_w: 10.0,
                ..KitSpec::default()
            },
            ..SimConfig::default()
        }
    }

    /// Every sequence of actions, every slot (off-hours too): the most working steps up.
    fn brute_force(config: &SimConfig, weather: &WeatherTrace, slot_s: u64) -> u64 {
        let t = Tables::new(config, weather, slot_s);
        let slots = t.slots();
        let mut best = 0;
        let mut actions = vec![SlotAction::Halt; slots];
        for code in 0..4usize.pow(slots as u32) {
            let mut c = code;
            for a in actions.iter_mut() {
                *a = ACTIONS[c % 4];
                c /= 4;
            }
            if let Some((up, _)) = t.run_plan(&actions) {
                best = best.max(up);
            }
        }
        best
    }

    #[test]
    fn the_planner_equals_an_exhaustive_search_on_small_cases() {
        // (days, slot hours, start SOC, battery Wh, daily weather)
        let cases: [(u32, u64, f32, f32, &[f32]); 8] = [
            (1, 4, 100.0, 15.0, &[0.0]),
            (1, 4, 35.0, 30.0, &[0.05]),
            (1, 4, 60.0, 12.0, &[0.3]),
            (2, 8, 100.0, 20.0, &[0.1, 0.1]),
            (2, 8, 100.0, 30.0, &[0.0, 0.3]),
            (2, 8, 80.0, 30.0, &[0.02, 0.02]),
            (2, 8, 20.0, 30.0, &[1.0, 0.1]),
            (2, 8, 60.0, 30.0, &[0.0, 0.15]),
        ];
        // Cases where energy, not the clock, limits the kit (else the search proves little).
        let mut binding = 0;
        for (days, slot_h, soc, wh, factors) in cases {
            let config = tiny(days, soc, wh);
            let weather = trace(factors);
            let planned = plan(&config, &weather, slot_h * 3600);
            let exhaustive = brute_force(&config, &weather, slot_h * 3600);
            assert_eq!(
                planned.working_steps_up, exhaustive,
                "{days} d, {slot_h} h slots, {soc} %, {wh} Wh, {factors:?}"
            );
            if planned.working_steps_up < planned.working_steps {
                binding += 1;
            }
        }
        assert!(binding >= 4, "only {binding} cases bind");
    }

    #[test]
    fn the_plan_run_through_the_simulation_gives_what_was_planned() {
        for (soc, factors) in [
            (45.0, &[0.9, 0.05, 0.03, 0.04, 0.6][..]),
            (80.0, &[1.0, 1.0, 0.2][..]),
        ] {
            let config = SimConfig {
                days: factors.len() as u32,
                start_soc_percent: soc,
                ..SimConfig::default()
            };
            let weather = trace(factors);
            let mut oracle = Oracle::new(&config, &weather);
            let planned = oracle.plan().clone();
            let r = simulate(&config, &weather, &mut oracle);
            assert_eq!(r.brownouts, 0, "{r:#?}");
            assert_eq!(r.working_minutes, planned.working_steps);
            assert_eq!(r.working_minutes_up, planned.working_steps_up, "{r:#?}");
            assert_eq!(r.working_minutes_normal, planned.working_steps_normal);
        }
    }
}
