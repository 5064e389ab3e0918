//! The on-screen keyboard's Rust half: each key becomes the key press and release a hardware
//! keyboard would send, dispatched to the window, so the focused text field takes it as typing
//! (Slint has no keyboard of its own; this is the pattern of its `virtual_keyboard` example).

use slint::ComponentHandle;
use slint::platform::WindowEvent;

use crate::{KeyboardAdapter, MainWindow};

/// Below this height (logical pixels) the keyboard leaves too little room for the page's
/// header: the 800×480 panel, not the 1280×800 one.
const SHORT_PANEL_PX: f32 = 600.0;

/// Wires the keyboard's keys to the window.
pub fn install(window: &MainWindow) {
    let keyboard = window.global::<KeyboardAdapter>();
    let weak = window.as_weak();
    keyboard.on_reveal(move || {
        if let Some(window) = weak.upgrade() {
            let w = window.window();
            let height = w.size().to_logical(w.scale_factor()).height;
            window
                .global::<KeyboardAdapter>()
                .set_short_panel(height < SHORT_PANEL_PX);
            reveal_focused_field(w);
        }
    });
    let weak = window.as_weak();
    keyboard.on_key_pressed(move |text| {
        if let Some(window) = weak.upgrade() {
            let w = window.window();
            w.dispatch_event(WindowEvent::KeyPressed { text: text.clone() });
            w.dispatch_event(WindowEvent::KeyReleased { text });
        }
    });
}

/// Scrolls the focused text field into view above the keyboard.
///
/// The keyboard is part of the window's layout: when it comes up, the page above it shrinks
/// and a field in the lower part of a scrolled form ends up outside the form's visible area.
/// Slint 1.18 takes the focus away from a field that is out of sight at the next key press
/// (`WindowInner::process_key_input`), so the first key closed the keyboard and typed nothing.
/// Slint scrolls the focused item into view when the window is resized; the keyboard's
/// arrival is a resize of the page, which Slint does not see, so it is told with the size the
/// window already has (nothing else changes). `dispatch_event` is Slint's public entry point
/// for a platform's window events.
fn reveal_focused_field(window: &slint::Window) {
    let size = window.size().to_logical(window.scale_factor());
    window.dispatch_event(WindowEvent::Resized { size });
}
