//! Auto-lock: the kiosk locks itself when nobody has touched it for the configured time, so a
//! kit left on a table does not stay open on a child's case.
//!
//! Every tap on one of the app's widgets reports itself (`Activity.seen` in the `.slint` files),
//! and on the board every libinput event does too (the binary's input hook calls
//! [`IdleLock::seen`]). The lock is one single-shot timer that each activity restarts: nothing
//! polls, and the screen draws nothing while it waits.

use std::rc::Rc;
use std::time::Duration;

use slint::{ComponentHandle, Timer, TimerMode};

use crate::{Activity, AppState, MainWindow, Page};

/// The idle lock of one window.
#[derive(Clone)]
pub struct IdleLock {
    timer: Rc<Timer>,
    limit: Duration,
}

impl std::fmt::Debug for IdleLock {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("IdleLock")
            .field("limit", &self.limit)
            .finish_non_exhaustive()
    }
}

impl IdleLock {
    /// Locks the screen after `limit` without activity. `on_lock` is what locking means to the
    /// caller (closing the vault session); the page switches to the lock screen here.
    pub fn install(window: &MainWindow, limit: Duration, on_lock: impl Fn() + 'static) -> IdleLock {
        let timer = Rc::new(Timer::default());
        let weak = window.as_weak();
        timer.start(TimerMode::SingleShot, limit, move || {
            let Some(window) = weak.upgrade() else { return };
            let state = window.global::<AppState>();
            if state.get_page() != Page::Lock {
                on_lock();
                state.set_page(Page::Lock);
            }
        });
        let lock = IdleLock { timer, limit };
        let seen = lock.clone();
        window.global::<Activity>().on_seen(move || seen.seen());
        lock
    }

    /// Somebody touched the screen or pressed a key: the idle time starts again.
    pub fn seen(&self) {
        self.timer.restart();
    }

    /// The configured idle time.
    pub fn limit(&self) -> Duration {
        self.limit
    }
}
