//! The lock page: the PIN pad signs a caseworker in. The digits stay on the Rust side (in a
//! zeroizing string); the page only learns how many there are. Signing in runs on a worker
//! thread: the vault's Argon2 and the kit's matcher index take a moment, and the page shows
//! "opening" meanwhile. A lockout after wrong PINs comes back as the vault's delay, which the
//! page counts down.

use std::rc::Rc;

use fieldkit_app::Kit;
use fieldkit_vault::{HardwareError, SignInError, StoreError};
use slint::ComponentHandle;
use zeroize::Zeroizing;

use super::{Inner, KitSlot, OnOpen, Reopen, SharedKit, lock_slot, now_ms};
use crate::{AppState, LockAdapter, MainWindow, Page};

/// The longest PIN the pad takes.
const MAX_PIN: usize = 12;

/// How a sign-in ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// The kit is open in the shared slot.
    Open,
    /// Wrong user name or PIN.
    Wrong,
    /// Too many wrong PINs: the vault waits this many seconds.
    LockedOut(u64),
    /// The page's word for what else went wrong ("damaged", "rolled-back", "hardware").
    Problem(&'static str),
}

fn problem_of(e: &SignInError) -> Outcome {
    match e {
        SignInError::WrongCredential { .. } => Outcome::Wrong,
        SignInError::LockedOut { retry_after_s, .. }
        | SignInError::Store(StoreError::Hardware(HardwareError::Lockout { retry_after_s })) => {
            Outcome::LockedOut(*retry_after_s)
        }
        SignInError::RolledBack { .. } => Outcome::Problem("rolled-back"),
        SignInError::HardwareMismatch { .. } | SignInError::Store(StoreError::Hardware(_)) => {
            Outcome::Problem("hardware")
        }
        _ => Outcome::Problem("damaged"),
    }
}

pub(super) fn install(inner: &Rc<Inner>, window: &MainWindow, kit_name: &str, user: &str) {
    let lock = window.global::<LockAdapter>();
    lock.set_kit_name(kit_name.into());
    lock.set_user(user.into());

    let i = inner.clone();
    lock.on_digit(move |d| {
        let mut pin = i.pin.borrow_mut();
        if pin.chars().count() < MAX_PIN {
            pin.push_str(&d);
        }
        let n = pin.chars().count();
        if let Some(w) = i.window() {
            w.global::<LockAdapter>()
                .set_pin_length(i32::try_from(n).unwrap_or(0));
        }
    });
    let i = inner.clone();
    lock.on_erase(move || {
        let mut pin = i.pin.borrow_mut();
        pin.pop();
        let n = pin.chars().count();
        if let Some(w) = i.window() {
            w.global::<LockAdapter>()
                .set_pin_length(i32::try_from(n).unwrap_or(0));
        }
    });
    let i = inner.clone();
    lock.on_submit(move || submit(&i));
}

fn submit(inner: &Rc<Inner>) {
    let Some(w) = inner.window() else { return };
    let lock = w.global::<LockAdapter>();
    if lock.get_busy() || lock.get_wait_seconds() > 0 {
        return;
    }
    let pin = Zeroizing::new(std::mem::take(&mut **inner.pin.borrow_mut()));
    lock.set_pin_length(0);
    if pin.is_empty() {
        return;
    }
    let user = lock.get_user().trim().to_string();
    let taken = {
        let mut slot = lock_slot(&inner.kit);
        match std::mem::replace(&mut *slot, KitSlot::Opening) {
            KitSlot::Open(kit) => {
                // Already signed in (a second tap): keep it.
                *slot = KitSlot::Open(kit);
                drop(slot);
                inner.navigate(Page::Home);
                return;
            }
            KitSlot::Opening => return,
            KitSlot::Locked(v) => Some(v),
            KitSlot::Closed => None,
        }
    };
    lock.set_busy(true);
    lock.set_problem("".into());
    let kit = inner.kit.clone();
    let reopen = inner.reopen.clone();
    let config = inner.config.clone();
    let on_open = inner.on_open.clone();
    let weak = inner.window.clone();
    let spawned = std::thread::Builder::new()
        .name("sign-in".into())
        .spawn(move || {
            let outcome = sign_in(
                &kit,
                taken.map(|v| *v),
                &reopen,
                &user,
                &pin,
                config,
                on_open.as_ref(),
            );
            drop(pin);
            let _ = weak.upgrade_in_event_loop(move |w| finish(&w, outcome));
        });
    if let Err(e) = spawned {
        tracing::error!("cannot start the sign-in thread: {e}");
        *lock_slot(&inner.kit) = KitSlot::Closed;
        lock.set_busy(false);
        lock.set_problem("damaged".into());
    }
}

/// Signs `user` in on the shared kit with `pin`, as the lock page's worker thread does: unlocks
/// the vault (`vault`, or the file opened again when a failed attempt consumed it), opens the
/// kit, prepares it with `on_open` and leaves it open in `kit`; a failure leaves the slot locked
/// or closed, as the next attempt expects. Runs the vault's Argon2 and the kit's index build:
/// call it off the UI thread. The kiosk's tests sign in through it too.
pub fn sign_in(
    kit: &SharedKit,
    vault: Option<fieldkit_vault::Vault>,
    reopen: &Reopen,
    user: &str,
    pin: &str,
    config: fieldkit_app::KitConfig,
    on_open: Option<&OnOpen>,
) -> Outcome {
    let now = now_ms();
    let vault = match vault {
        Some(v) => Ok(v),
        None => reopen(),
    };
    match vault {
        Err(e) => {
            tracing::error!("the vault could not be opened: {e}");
            Outcome::Problem("damaged")
        }
        Ok(v) => match v.unlock(user, pin.as_bytes(), now) {
            Ok(session) => match Kit::open(session, config, now) {
                Ok(mut k) => match on_open.map_or(Ok(()), |f| f(&mut k)) {
                    Ok(()) => {
                        *lock_slot(kit) = KitSlot::Open(Box::new(k));
                        Outcome::Open
                    }
                    Err(e) => {
                        tracing::error!("the signed-in kit could not be prepared: {e}");
                        *lock_slot(kit) = KitSlot::Locked(Box::new(k.lock()));
                        Outcome::Problem("damaged")
                    }
                },
                Err(e) => {
                    tracing::error!("the kit could not be prepared: {e}");
                    *lock_slot(kit) = KitSlot::Closed;
                    Outcome::Problem("damaged")
                }
            },
            Err(e) => {
                // The failed attempt consumed the vault; the next one opens it again.
                *lock_slot(kit) = KitSlot::Closed;
                if !matches!(e, SignInError::WrongCredential { .. }) {
                    tracing::warn!("sign-in refused: {e}");
                }
                problem_of(&e)
            }
        },
    }
}

/// Back on the UI thread: show the outcome.
fn finish(w: &MainWindow, outcome: Outcome) {
    let lock = w.global::<LockAdapter>();
    lock.set_busy(false);
    match outcome {
        Outcome::Open => {
            lock.set_problem("".into());
            w.global::<AppState>().invoke_navigate(Page::Home);
        }
        Outcome::Wrong => lock.set_problem("wrong".into()),
        Outcome::LockedOut(s) => {
            lock.set_problem("wrong".into());
            lock.set_wait_seconds(i32::try_from(s).unwrap_or(i32::MAX));
        }
        Outcome::Problem(p) => lock.set_problem(p.into()),
    }
}
