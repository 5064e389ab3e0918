//! What sync tells the screen: whether the kit is set up for sync, how many changes wait to be
//! sent, and for each link (the IP path and LoRa) its state and when its last round completed;
//! the top bar shows the time of the last sync. The kiosk's daemon thread builds a
//! [`SyncView`] from the sync jobs' state and hands it to the UI thread with [`SyncView::send`]
//! only when it changed, so an idle screen draws nothing.

use slint::{ComponentHandle, ModelRc, VecModel};

use crate::{AppState, LinkRow, MainWindow, StatusAdapter};

/// What a link is doing, as the status page words it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LinkState {
    /// Fitted, allowed by the power mode, and its last round did not fail.
    Ready,
    /// A sync round runs over it now (the modem coming up, frames travelling).
    Syncing,
    /// The power mode keeps it off now.
    Off,
    /// The kit has no such link (no hub address; no LoRa module configured).
    NotFitted,
    /// Its last round failed (the log says why).
    Failed,
    /// No sync job has looked since the sign-in.
    Unknown,
}

impl LinkState {
    /// The code the status page translates.
    pub fn code(self) -> &'static str {
        match self {
            LinkState::Ready => "ready",
            LinkState::Syncing => "syncing",
            LinkState::Off => "off",
            LinkState::NotFitted => "not-fitted",
            LinkState::Failed => "failed",
            LinkState::Unknown => "unknown",
        }
    }
}

/// One link's row.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LinkView {
    /// `ip` (the camp's network or the cellular modem's data link) or `lora`.
    pub link: &'static str,
    /// What it is doing.
    pub state: LinkState,
    /// Local time of its last completed round (see [`clock_text`]), if any.
    pub last_sync: Option<String>,
}

/// Sync as the screen shows it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SyncView {
    /// Set up for sync; `None` until a sync job looked (a locked kit's vault is sealed).
    pub provisioned: Option<bool>,
    /// Changes (messages) waiting to be sent, when known.
    pub queued: Option<usize>,
    /// Each link.
    pub links: Vec<LinkView>,
    /// The last completed round over any link, for the top bar.
    pub last_sync: Option<String>,
}

impl SyncView {
    /// Shows it (on the UI thread).
    pub fn show(&self, window: &MainWindow) {
        let s = window.global::<StatusAdapter>();
        s.set_sync_setup(
            match self.provisioned {
                Some(true) => "yes",
                Some(false) => "no",
                None => "unknown",
            }
            .into(),
        );
        s.set_queued(
            self.queued
                .map_or(-1, |n| i32::try_from(n).unwrap_or(i32::MAX)),
        );
        let rows: Vec<LinkRow> = self
            .links
            .iter()
            .map(|l| LinkRow {
                name: l.link.into(),
                state: l.state.code().into(),
                last_sync: l.last_sync.clone().unwrap_or_default().into(),
            })
            .collect();
        s.set_links(ModelRc::new(VecModel::from(rows)));
        let glance = match (self.provisioned, &self.last_sync) {
            (Some(false), _) => String::new(),
            (_, Some(t)) => t.clone(),
            (_, None) => "–".into(),
        };
        window.global::<AppState>().set_sync_line(glance.into());
    }

    /// Hands it to the UI thread (from the daemon's thread).
    pub fn send(self, window: &slint::Weak<MainWindow>) {
        if let Err(e) = window.upgrade_in_event_loop(move |w| self.show(&w)) {
            tracing::debug!("sync state not shown: {e}");
        }
    }
}

/// A moment as the status page shows it: `HH:MM` when it is on the same local day as `now_ms`,
/// `MM-DD HH:MM` otherwise (numbers only, so no word needs translating). Both are Unix
/// milliseconds; `utc_offset_minutes` is the kit's local time zone.
pub fn clock_text(at_ms: u64, now_ms: u64, utc_offset_minutes: i32) -> String {
    let local = |ms: u64| {
        let s = i64::try_from(ms / 1000).unwrap_or(i64::MAX);
        s.saturating_add(i64::from(utc_offset_minutes) * 60)
    };
    let (at, now) = (local(at_ms), local(now_ms));
    let day = at.div_euclid(86_400);
    let minute = at.rem_euclid(86_400) / 60;
    let hm = format!("{:02}:{:02}", minute / 60, minute % 60);
    if day == now.div_euclid(86_400) {
        return hm;
    }
    let (_, month, dom) = civil_from_days(day);
    format!("{month:02}-{dom:02} {hm}")
}

/// The proleptic Gregorian date of a day count since 1970-01-01 (Howard Hinnant's
/// `civil_from_days`; a date crate for one line of the status page is not worth it).
fn civil_from_days(days: i64) -> (i64, u32, u32) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    (
        y,
        u32::try_from(m).unwrap_or(1),
        u32::try_from(d).unwrap_or(1),
    )
}

#[cfg(test)]
mod tests {
    use super::clock_text;

    // 2026-12-03 10:42:00 UTC.
    const AT: u64 = 1_796_294_520_000;

    #[test]
    fn the_same_day_shows_the_time_and_another_day_the_date_too() {
        assert_eq!(clock_text(AT, AT + 3_600_000, 0), "10:42");
        assert_eq!(clock_text(AT, AT + 86_400_000, 0), "12-03 10:42");
        // Kabul is 4:30 ahead of UTC.
        assert_eq!(clock_text(AT, AT, 270), "15:12");
        // 23:30 UTC is the next day in Amman (+3:00).
        let late = AT + 46_080_000;
        assert_eq!(clock_text(late, late, 180), "02:30");
        assert_eq!(clock_text(late, late, 0), "23:30");
    }
}
