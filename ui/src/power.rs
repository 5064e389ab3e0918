//! What the power daemon tells the screen: the numbers of the status page and the top bar's
//! glance (the page formats them), the Critical warning, and the "saving and shutting down"
//! screen. The daemon runs on its own thread; [`PowerView::send`] hands a reading to the UI
//! thread.

use fieldkit_power::ModeReason;
use slint::ComponentHandle;

use crate::{AppState, MainWindow, StatusAdapter};

/// One reading of the kit's power, as the policy decided on it.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct PowerView {
    /// State of charge in %, when the gauge knows it.
    pub soc_percent: Option<f32>,
    /// Battery voltage, when measured.
    pub battery_volts: Option<f32>,
    /// Solar input in watts, when measured.
    pub solar_watts: Option<f32>,
    /// Load in watts, when measured.
    pub load_watts: Option<f32>,
    /// The policy's mode: `normal`, `saver`, `critical` or `shutdown`.
    pub mode: &'static str,
    /// Why the policy chose the mode (the page words it in the caseworker's language).
    pub reason: Option<ModeReason>,
    /// The charge controller's state, in words.
    pub charger: String,
    /// The policy decided a clean shutdown: the screen says so and takes no more input.
    pub shutting_down: bool,
    /// The mode's screen timeout: the backlight goes dark after this long without a touch.
    pub screen_timeout_s: Option<u32>,
}

impl PowerView {
    /// Shows the reading (on the UI thread).
    pub fn show(&self, window: &MainWindow) {
        let s = window.global::<StatusAdapter>();
        s.set_soc_known(self.soc_percent.is_some());
        s.set_soc_percent(self.soc_percent.unwrap_or(0.0));
        s.set_battery_volts(self.battery_volts.unwrap_or(-1.0));
        s.set_solar_watts(self.solar_watts.unwrap_or(-1.0));
        s.set_load_watts(self.load_watts.unwrap_or(-1.0));
        s.set_mode(self.mode.into());
        s.set_reason(
            self.reason
                .map(crate::messages::power_reason)
                .unwrap_or_default(),
        );
        s.set_charger(self.charger.as_str().into());
        let app = window.global::<AppState>();
        app.set_soc_known(self.soc_percent.is_some());
        app.set_soc_percent(self.soc_percent.unwrap_or(0.0));
        app.set_power_mode(self.mode.into());
        app.set_critical(self.mode == "critical" || self.mode == "shutdown");
        app.set_shutting_down(self.shutting_down);
        app.set_screen_timeout_s(
            self.screen_timeout_s
                .map_or(0, |s| i32::try_from(s).unwrap_or(i32::MAX)),
        );
    }

    /// Hands the reading to the UI thread (from the daemon's thread).
    pub fn send(self, window: &slint::Weak<MainWindow>) {
        if let Err(e) = window.upgrade_in_event_loop(move |w| self.show(&w)) {
            tracing::debug!("power reading not shown: {e}");
        }
    }
}
