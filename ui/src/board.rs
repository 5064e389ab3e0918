//! The board's screen: Slint's DRM/KMS backend with libinput and the software renderer, no
//! compositor. Every libinput event passes through a hook first: it counts as activity for the
//! idle lock and the screen timeout, and Ctrl+Alt+Backspace/Delete (which would quit the app
//! and leave a console) are swallowed by the [`QuitGuard`].

use std::cell::RefCell;
use std::rc::Rc;

use input::event::keyboard::{KeyState, KeyboardEventTrait};
use slint::PlatformError;

use crate::guard::QuitGuard;
use crate::idle::IdleLock;

/// Where the hook finds the idle lock once the window (and so the lock) exists.
pub type ActivitySink = Rc<RefCell<Option<IdleLock>>>;

/// Installs the DRM/KMS platform for this process, before any window is made. Put the window's
/// [`IdleLock`] into the returned sink once the app is installed.
pub fn install_backend() -> Result<ActivitySink, PlatformError> {
    let sink: ActivitySink = Rc::default();
    let seen = sink.clone();
    let guard = RefCell::new(QuitGuard::default());
    let backend = i_slint_backend_linuxkms::BackendBuilder::default()
        .with_renderer_name("software".into())
        .with_libinput_event_hook(Box::new(move |event: &input::Event| {
            if let Some(idle) = seen.borrow().as_ref() {
                idle.seen();
            }
            if let input::Event::Keyboard(k) = event {
                let pressed = k.key_state() == KeyState::Pressed;
                return guard.borrow_mut().key(k.key(), pressed);
            }
            false
        }))
        .build()?;
    slint::platform::set_platform(Box::new(backend))
        .map_err(|e| PlatformError::Other(format!("cannot install the DRM/KMS platform: {e}")))?;
    Ok(sink)
}
