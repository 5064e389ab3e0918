//! The controllers: each page's adapter wired to the kit's application core (`fieldkit-app`).
//!
//! A controller turns a tap into a plain Rust value, calls the [`Kit`], and puts what the kit
//! returns on the page: validation, triage, matching and review decisions are the kit's. The
//! kit lives in a [`SharedKit`] (a mutex around the vault's state: locked, opening, or an
//! unlocked kit), so the kiosk's background jobs (sync, the daily match run) can use the same
//! unlocked kit between taps. Everything here runs on the UI thread except signing in, whose
//! slow part (Argon2 and building the matcher index) runs on a worker thread while the lock
//! page shows that the vault is opening; the result comes back through
//! `slint::invoke_from_event_loop`.

mod cases;
mod form;
mod home;
mod lock;
mod photos;
mod review;
mod settings;

use std::cell::RefCell;
use std::rc::Rc;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use fieldkit_app::{Kit, KitConfig};
use fieldkit_vault::{OpenError, Vault};
use slint::{ComponentHandle, Model, ModelRc, SharedString, VecModel};

use crate::idle::IdleLock;
use crate::{AppState, FilterOption, MainWindow, Page};

pub use cases::CasePager;
pub use lock::{Outcome as SignInOutcome, sign_in};
pub use photos::Sources as PhotoSources;

/// Where the kit's vault is: locked (waiting for a PIN), being opened on the worker thread, or
/// an unlocked kit.
#[derive(Debug, Default)]
pub enum KitSlot {
    /// Locked: the vault file is open and held, no keys in memory.
    Locked(Box<Vault>),
    /// A sign-in is under way on the worker thread.
    Opening,
    /// Unlocked.
    Open(Box<Kit>),
    /// The vault was consumed by a failed sign-in; the next sign-in opens the file again.
    #[default]
    Closed,
}

/// The kit as the screen and the background jobs share it.
pub type SharedKit = Arc<Mutex<KitSlot>>;

/// Opens the vault file again (after a failed sign-in consumed it).
pub type Reopen = Arc<dyn Fn() -> Result<Vault, OpenError> + Send + Sync>;

/// Prepares a kit just opened by a sign-in, on the sign-in worker (the kiosk gives it the sync
/// outbox hook). An error refuses the sign-in: the kit is locked again and the page says the
/// vault could not be opened.
pub type OnOpen =
    Arc<dyn Fn(&mut Kit) -> Result<(), Box<dyn std::error::Error + Send + Sync>> + Send + Sync>;

/// Told on the UI thread each time a signed-in kit is locked (the kiosk's background jobs
/// forget what they held of the session).
pub type OnLock = Arc<dyn Fn() + Send + Sync>;

/// Locks the shared kit, recovering it if a thread panicked while holding it (the kit's state
/// is on disk, committed per operation, so the data behind a poisoned lock is still whole).
pub fn lock_slot(kit: &SharedKit) -> MutexGuard<'_, KitSlot> {
    kit.lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// What the screen is started with.
pub struct Setup {
    /// The kit's configuration (locations, triage rules, match settings).
    pub config: KitConfig,
    /// The locked vault, and how to open it again.
    pub kit: SharedKit,
    /// Opens the vault file again.
    pub reopen: Reopen,
    /// Auto-lock after this long without a touch.
    pub idle: Duration,
    /// The kit's name on the lock page.
    pub kit_name: String,
    /// The caseworker name the lock page starts with.
    pub user: String,
    /// Run on each kit a sign-in opens.
    pub on_open: Option<OnOpen>,
    /// Run each time the kit is locked.
    pub on_lock: Option<OnLock>,
}

impl std::fmt::Debug for Setup {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Setup")
            .field("idle", &self.idle)
            .field("kit_name", &self.kit_name)
            .finish_non_exhaustive()
    }
}

/// Milliseconds since the Unix epoch from the system clock (the vault measures lockout waits
/// on its own boot clock).
pub(crate) fn now_ms() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
        .unwrap_or(0)
}

/// The state the controllers share on the UI thread.
pub(crate) struct Inner {
    pub(crate) window: slint::Weak<MainWindow>,
    pub(crate) kit: SharedKit,
    pub(crate) config: KitConfig,
    pub(crate) reopen: Reopen,
    pub(crate) on_open: Option<OnOpen>,
    pub(crate) on_lock: Option<OnLock>,
    pub(crate) pin: RefCell<zeroize::Zeroizing<String>>,
    pub(crate) cases: Rc<CasePager>,
    pub(crate) case_form: RefCell<form::FormState>,
    pub(crate) tracing_form: RefCell<form::FormState>,
    pub(crate) photos: photos::SharedSources,
    /// The platform runs an event loop that workers can hand results to (not so the headless
    /// screenshot writer's): opening a case's photo then runs on a worker.
    pub(crate) event_loop: bool,
}

impl Inner {
    /// Runs `f` on the unlocked kit; `None` when the kit is locked.
    pub(crate) fn with_kit<R>(&self, f: impl FnOnce(&mut Kit) -> R) -> Option<R> {
        let mut slot = lock_slot(&self.kit);
        match &mut *slot {
            KitSlot::Open(kit) => Some(f(kit)),
            _ => None,
        }
    }

    pub(crate) fn window(&self) -> Option<MainWindow> {
        self.window.upgrade()
    }

    /// Signs out: the keys are zeroized, forms and lists forgotten, the lock page shown.
    pub(crate) fn lock_kit(&self) {
        let was_open = {
            let mut slot = lock_slot(&self.kit);
            if let KitSlot::Open(_) = &*slot
                && let KitSlot::Open(kit) = std::mem::take(&mut *slot)
            {
                *slot = KitSlot::Locked(Box::new(kit.lock()));
                true
            } else {
                false
            }
        };
        if was_open && let Some(on_lock) = &self.on_lock {
            on_lock();
        }
        self.cases.clear();
        *self.case_form.borrow_mut() = form::FormState::default();
        *self.tracing_form.borrow_mut() = form::FormState::default();
        if let Some(w) = self.window() {
            form::clear_pages(&w);
            w.global::<AppState>().set_page(Page::Lock);
        }
    }

    /// Shows a page with fresh contents.
    pub(crate) fn navigate(self: &Rc<Self>, page: Page) {
        let Some(w) = self.window() else { return };
        if page == Page::Lock {
            self.lock_kit();
            return;
        }
        if self.with_kit(|_| ()).is_none() {
            w.global::<AppState>().set_page(Page::Lock);
            return;
        }
        match page {
            Page::Home => home::refresh(self, &w),
            Page::Cases => cases::refresh(self, &w),
            Page::Review => review::refresh(self, &w),
            Page::Settings => settings::refresh(self, &w),
            _ => {}
        }
        w.global::<AppState>().set_page(page);
    }
}

/// The screen's controllers, installed on one window.
#[derive(Clone)]
pub struct App {
    inner: Rc<Inner>,
    idle: IdleLock,
}

impl std::fmt::Debug for App {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("App").finish_non_exhaustive()
    }
}

/// The protection concerns the case list filters by (Primero's `protection_concerns` lookup
/// ids; the screen shows their translated labels).
pub const CONCERN_FILTERS: [&str; 6] = [
    "unaccompanied",
    "separated",
    "caafag",
    "gbv_survivor",
    "child_headed_household",
    "disabled",
];

pub(crate) fn model<T: Clone + 'static>(items: Vec<T>) -> ModelRc<T> {
    ModelRc::new(VecModel::from(items))
}

impl App {
    /// Gives the screen its photo sources: the camera (the board's or the simulated one) and
    /// the folder picture files are chosen from.
    pub fn set_photo_sources(&self, sources: PhotoSources) {
        *self.inner.photos.borrow_mut() = sources.into();
    }

    /// Wires every page of `window` to the kit. The lock page is shown; the vault in
    /// `setup.kit` should be locked.
    pub fn install(window: &MainWindow, setup: Setup) -> App {
        let cases = Rc::new(CasePager::new(setup.kit.clone()));
        let inner = Rc::new(Inner {
            window: window.as_weak(),
            kit: setup.kit,
            config: setup.config,
            reopen: setup.reopen,
            on_open: setup.on_open,
            on_lock: setup.on_lock,
            pin: RefCell::new(zeroize::Zeroizing::new(String::new())),
            cases,
            case_form: RefCell::default(),
            tracing_form: RefCell::default(),
            photos: RefCell::default(),
            event_loop: slint::invoke_from_event_loop(|| ()).is_ok(),
        });
        crate::keyboard::install(window);
        crate::panel::install(window);
        crate::lang::install(window);
        let state = window.global::<AppState>();
        state.set_page(Page::Lock);
        let nav = inner.clone();
        state.on_navigate(move |page| nav.navigate(page));
        let locker = inner.clone();
        state.on_lock(move || locker.lock_kit());
        window
            .global::<crate::CaseListAdapter>()
            .set_concerns(model(
                CONCERN_FILTERS
                    .iter()
                    .map(|c| FilterOption {
                        value: (*c).into(),
                        // No label: the page shows the lookup id translated.
                        label: SharedString::new(),
                    })
                    .collect(),
            ));

        lock::install(&inner, window, &setup.kit_name, &setup.user);
        home::install(&inner, window);
        cases::install(&inner, window);
        form::install(&inner, window);
        photos::install(&inner, window);
        review::install(&inner, window);
        settings::install(&inner, window);

        let on_idle = inner.clone();
        let idle = IdleLock::install(window, setup.idle, move || on_idle.lock_kit());
        App { inner, idle }
    }

    /// The kit the screen uses, for the kiosk's background jobs.
    pub fn kit(&self) -> SharedKit {
        self.inner.kit.clone()
    }

    /// The idle lock, for the board's input hook to feed.
    pub fn idle(&self) -> &IdleLock {
        &self.idle
    }

    /// The case list's model (for benchmarks).
    pub fn cases(&self) -> Rc<CasePager> {
        self.inner.cases.clone()
    }

    /// Shows the home page of a kit put in the shared slot already unlocked (the screenshot
    /// writer and benchmarks sign in without the PIN pad).
    pub fn opened(&self) {
        self.inner.navigate(Page::Home);
    }

    /// Signs out (as the Lock button and the idle lock do).
    pub fn lock(&self) {
        self.inner.lock_kit();
    }

    /// Whether a caseworker is signed in.
    pub fn unlocked(&self) -> bool {
        self.inner.with_kit(|_| ()).is_some()
    }

    /// How many rows the case list shows now.
    pub fn case_rows(&self) -> usize {
        self.inner.cases.row_count()
    }
}
