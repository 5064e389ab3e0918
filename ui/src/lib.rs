//! The kiosk's touch screen: a Slint app a caseworker uses all day, often with a frightened child
//! in front of it, in a language that may run right to left, in noon glare or at dusk under a
//! dimmed backlight.
//!
//! The `.slint` files under `ui/` are the screens (`pages/`), reusable pieces (`widgets/`), the
//! theme (colours, sizes, writing direction) and the labels of record fields and lookup values.
//! Each page talks to Rust only through its `global XxxAdapter`. This crate holds no business
//! logic: registering, matching, reviewing and signing in are calls into the kit's application
//! core; the screen maps taps to those calls and shows their results.
//!
//! What the crate never does: open a device, read configuration or write a file. The binary
//! (`fieldkit kiosk`) picks the backend (a desktop window, the board's DRM/KMS with libinput,
//! or the headless renderer for screenshots) and hands the screen an unlocked kit.
//!
//! ```no_run
//! use fieldkit_ui::{MainWindow, lang};
//! use slint::ComponentHandle;
//! let window = MainWindow::new().expect("a window");
//! fieldkit_ui::keyboard::install(&window);
//! lang::apply(&window, "ar").expect("Arabic is bundled");
//! ```

// The code Slint generates for `ui/main.slint`; this workspace's lints do not apply to it.
#[allow(missing_debug_implementations, unreachable_pub)]
#[allow(clippy::all, clippy::pedantic, clippy::unwrap_used, clippy::todo)]
mod generated {
    slint::include_modules!();
}

pub use generated::*;
/// The Slint version the screen is built with, for the binary that runs it.
pub use slint;

#[cfg(feature = "kiosk")]
pub mod board;
pub mod controller;
/// The demo kit's records (kept in the kit core).
pub use fieldkit_app::demo;
pub mod guard;
pub mod headless;
pub mod idle;
pub mod keyboard;
pub mod lang;
pub mod measure;
pub mod messages;
pub mod panel;
pub mod power;
pub mod screens;
pub mod sync;
