//! Auto-lock and screen timeout: the kiosk locks itself when nobody has touched it for the
//! configured time, so a kit left on a table does not stay open on a child's case, and the
//! backlight goes dark after the power mode's screen timeout to save the battery.
//!
//! Every tap on one of the app's widgets reports itself (`Activity.seen` in the `.slint` files),
//! and on the board every libinput event does too (the input hook calls [`IdleLock::seen`]).
//! Each is a single-shot timer that activity restarts: nothing polls, and the screen draws
//! nothing while it waits. The first touch on a dark screen lights it again.

use std::cell::{Cell, RefCell};
use std::rc::Rc;
use std::time::Duration;

use slint::{ComponentHandle, Timer, TimerMode};

use crate::{Activity, AppState, MainWindow, Page};

type DarkHook = Rc<RefCell<Option<Box<dyn Fn(bool)>>>>;

/// The idle lock and screen timeout of one window.
#[derive(Clone)]
pub struct IdleLock {
    timer: Rc<Timer>,
    limit: Duration,
    screen: Rc<Timer>,
    dark: Rc<Cell<bool>>,
    on_dark: DarkHook,
    window: slint::Weak<MainWindow>,
}

impl std::fmt::Debug for IdleLock {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("IdleLock")
            .field("limit", &self.limit)
            .field("dark", &self.dark.get())
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
        let lock = IdleLock {
            timer,
            limit,
            screen: Rc::new(Timer::default()),
            dark: Rc::new(Cell::new(false)),
            on_dark: Rc::default(),
            window: window.as_weak(),
        };
        let seen = lock.clone();
        window.global::<Activity>().on_seen(move || seen.seen());
        lock
    }

    /// What turns the backlight off (`true`) and on again (`false`).
    pub fn on_screen(&self, hook: impl Fn(bool) + 'static) {
        *self.on_dark.borrow_mut() = Some(Box::new(hook));
        self.restart_screen();
    }

    fn set_dark(&self, dark: bool) {
        if self.dark.replace(dark) != dark
            && let Some(hook) = self.on_dark.borrow().as_ref()
        {
            hook(dark);
        }
    }

    fn restart_screen(&self) {
        let seconds = self
            .window
            .upgrade()
            .map_or(0, |w| w.global::<AppState>().get_screen_timeout_s());
        let Ok(seconds) = u64::try_from(seconds) else {
            self.screen.stop();
            return;
        };
        if seconds == 0 || self.on_dark.borrow().is_none() {
            self.screen.stop();
            return;
        }
        let me = self.clone();
        self.screen.start(
            TimerMode::SingleShot,
            Duration::from_secs(seconds),
            move || me.set_dark(true),
        );
    }

    /// Somebody touched the screen or pressed a key: the idle time starts again and a dark
    /// screen lights up.
    pub fn seen(&self) {
        self.timer.restart();
        self.set_dark(false);
        self.restart_screen();
    }

    /// Whether the screen timeout has turned the backlight off.
    pub fn dark(&self) -> bool {
        self.dark.get()
    }

    /// The configured idle time.
    pub fn limit(&self) -> Duration {
        self.limit
    }
}
