//! The on-screen keyboard's Rust half: each key becomes the key press and release a hardware
//! keyboard would send, dispatched to the window, so the focused text field takes it as typing
//! (Slint has no keyboard of its own; this is the pattern of its `virtual_keyboard` example).

use slint::ComponentHandle;
use slint::platform::WindowEvent;

use crate::{KeyboardAdapter, MainWindow};

/// Wires the keyboard's keys to the window.
pub fn install(window: &MainWindow) {
    let weak = window.as_weak();
    window
        .global::<KeyboardAdapter>()
        .on_key_pressed(move |text| {
            if let Some(window) = weak.upgrade() {
                let w = window.window();
                w.dispatch_event(WindowEvent::KeyPressed { text: text.clone() });
                w.dispatch_event(WindowEvent::KeyReleased { text });
            }
        });
}
