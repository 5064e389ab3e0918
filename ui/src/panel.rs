//! The panel's shape, for the pages that arrange themselves by it: a window narrower than
//! [`NARROW_PANEL_PX`] (the 800×480 panel mounted upright) sets `Theme.narrow`, and the pages
//! stack what stands side by side on a wide panel (the match review's queue above the
//! explanation, the home page's counts in two rows) and the top bar keeps its buttons whole.
//!
//! Why from Rust: a `.slint` binding such as `narrow: self.width < 600px` on an element whose
//! contents change with it makes the element's minimum width depend on its own width, through
//! the layout that gives it that width; Slint 1.18 reports a binding loop and warns it may
//! panic. The window tells the Rust side its width from a change handler (`AppState.resized`),
//! which runs after the layout, and the flag is set from outside the bindings, as
//! `KeyboardAdapter.short-panel` is (`keyboard`).

use slint::ComponentHandle;

use crate::{AppState, MainWindow, Theme};

/// Below this width (logical pixels) the window counts as narrow: the 480 px of an upright
/// 800×480 panel, not the 800 px of the same panel lying down.
pub const NARROW_PANEL_PX: f32 = 600.0;

/// Whether a window `width` logical pixels wide is narrow.
pub fn is_narrow(width: f32) -> bool {
    width < NARROW_PANEL_PX
}

/// Keeps `Theme.narrow` true while the window is narrow: set now from the window's size, and
/// again at every change of its width.
pub fn install(window: &MainWindow) {
    let w = window.window();
    let width = w.size().to_logical(w.scale_factor()).width;
    // A window not sized yet (0 px) is not narrow: its first size sets the flag.
    window
        .global::<Theme>()
        .set_narrow(width > 0.0 && is_narrow(width));
    let weak = window.as_weak();
    window.global::<AppState>().on_resized(move |width| {
        if let Some(window) = weak.upgrade() {
            let theme = window.global::<Theme>();
            let narrow = is_narrow(width);
            if theme.get_narrow() != narrow {
                theme.set_narrow(narrow);
            }
        }
    });
}
