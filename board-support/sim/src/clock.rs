//! The model on an accelerated clock, for live use (the technician's `probe --simulated`,
//! the serial tests): a thread steps the model as simulated time passes and publishes the
//! state to the simulated devices.

use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use fieldkit_power::Timestamp;

use crate::i2c::SimI2c;
use crate::model::KitModel;
use crate::speak::StateCell;

/// Simulated time running `speedup` times faster than the wall clock from `start`.
#[derive(Debug, Clone, Copy)]
pub struct SimClock {
    origin: Instant,
    start: Timestamp,
    speedup: u32,
}

impl SimClock {
    /// A clock at `start`, `speedup` times real time.
    pub fn new(start: Timestamp, speedup: u32) -> Self {
        Self {
            origin: Instant::now(),
            start,
            speedup: speedup.max(1),
        }
    }

    /// Where simulated time started.
    pub fn start(&self) -> Timestamp {
        self.start
    }

    /// Simulated now.
    pub fn now(&self) -> Timestamp {
        let secs = self.origin.elapsed().as_secs_f64() * f64::from(self.speedup);
        self.start.plus_s(secs as u64)
    }
}

/// A model stepping on its own thread.
#[derive(Debug)]
pub struct LiveKit {
    model: Arc<Mutex<KitModel>>,
    /// The battery draw in W, as f32 bits, so the kit's own decisions change the load.
    load_w: Arc<AtomicU32>,
    stop: Arc<AtomicBool>,
    handle: Option<JoinHandle<()>>,
    clock: SimClock,
}

impl LiveKit {
    /// Runs `model` on `clock`, drawing `load_w` (until [`LiveKit::set_load_w`]), publishing
    /// to `state` and `bus` every `tick` of wall time.
    pub fn spawn(
        model: KitModel,
        clock: SimClock,
        load_w: f32,
        state: StateCell,
        bus: SimI2c,
        tick: Duration,
    ) -> std::io::Result<Self> {
        let model = Arc::new(Mutex::new(model));
        let stop = Arc::new(AtomicBool::new(false));
        let load = Arc::new(AtomicU32::new(load_w.to_bits()));
        let (m, s, l) = (model.clone(), stop.clone(), load.clone());
        let handle = std::thread::Builder::new()
            .name("sim-kit".into())
            .spawn(move || {
                while !s.load(Ordering::Relaxed) {
                    {
                        let mut model = m.lock().unwrap_or_else(|e| e.into_inner());
                        let target = clock.now().as_secs();
                        while model.time_s() < target {
                            let dt = (target - model.time_s()).min(60);
                            model.step(dt, f32::from_bits(l.load(Ordering::Relaxed)));
                        }
                        state.set(model.state());
                        bus.set_state(model.state());
                    }
                    std::thread::sleep(tick);
                }
            })?;
        Ok(Self {
            model,
            load_w: load,
            stop,
            handle: Some(handle),
            clock,
        })
    }

    /// The clock the model runs on.
    pub fn clock(&self) -> SimClock {
        self.clock
    }

    /// Changes the battery draw from now on, in W.
    pub fn set_load_w(&self, load_w: f32) {
        self.load_w
            .store(load_w.max(0.0).to_bits(), Ordering::Relaxed);
    }

    /// State of charge now.
    pub fn soc_percent(&self) -> f32 {
        self.model
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .soc_percent()
    }
}

impl Drop for LiveKit {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(h) = self.handle.take() {
            let _ = h.join();
        }
    }
}
