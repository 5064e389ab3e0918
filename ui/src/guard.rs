//! Keeping the kiosk a kiosk on the board: Slint's DRM/KMS backend quits the app on
//! Ctrl+Alt+Backspace (and Ctrl+Alt+Delete), which would leave a caseworker at a console.
//! libinput events pass through a hook first; this module tracks the modifier keys from the raw
//! key codes and swallows those combinations, and reports every event as activity for the idle
//! lock.

/// Linux input event codes (`include/uapi/linux/input-event-codes.h`).
mod code {
    pub const KEY_BACKSPACE: u32 = 14;
    pub const KEY_LEFTCTRL: u32 = 29;
    pub const KEY_LEFTALT: u32 = 56;
    pub const KEY_RIGHTCTRL: u32 = 97;
    pub const KEY_RIGHTALT: u32 = 100;
    pub const KEY_DELETE: u32 = 111;
}

/// Follows Ctrl and Alt across key events and decides which events to swallow.
#[derive(Debug, Default, Clone)]
pub struct QuitGuard {
    ctrl: [bool; 2],
    alt: [bool; 2],
}

impl QuitGuard {
    /// A key went down (`pressed`) or up. Returns true when the event must not reach the app.
    pub fn key(&mut self, code: u32, pressed: bool) -> bool {
        match code {
            code::KEY_LEFTCTRL => self.ctrl[0] = pressed,
            code::KEY_RIGHTCTRL => self.ctrl[1] = pressed,
            code::KEY_LEFTALT => self.alt[0] = pressed,
            code::KEY_RIGHTALT => self.alt[1] = pressed,
            code::KEY_BACKSPACE | code::KEY_DELETE => {
                return self.ctrl.iter().any(|&c| c) && self.alt.iter().any(|&a| a);
            }
            _ => {}
        }
        false
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ctrl_alt_backspace_and_delete_are_swallowed() {
        let mut g = QuitGuard::default();
        assert!(!g.key(code::KEY_LEFTCTRL, true));
        assert!(!g.key(code::KEY_RIGHTALT, true));
        assert!(g.key(code::KEY_BACKSPACE, true));
        assert!(g.key(code::KEY_BACKSPACE, false));
        assert!(g.key(code::KEY_DELETE, true));
        g.key(code::KEY_RIGHTALT, false);
        assert!(
            !g.key(code::KEY_BACKSPACE, true),
            "plain Ctrl+Backspace is typing"
        );
    }

    #[test]
    fn backspace_alone_is_typing() {
        let mut g = QuitGuard::default();
        assert!(!g.key(code::KEY_BACKSPACE, true));
        assert!(!g.key(30, true));
    }
}
