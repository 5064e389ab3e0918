//! Progress of long work (`trace eval`, large imports) on the terminal, with indicatif.
//!
//! Shown only when a person is watching: standard error and standard output both a terminal,
//! and no `--json`. Piped or redirected output, scripts and tests get nothing extra, so what
//! a command prints stays the same whoever runs it. The bar is drawn on standard error and
//! cleared when the work ends.

use std::io::IsTerminal;
use std::time::Duration;

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

/// A spinner that may become a bar once the amount of work is known; hidden when nobody
/// watches.
#[derive(Debug)]
pub struct Progress(Option<ProgressBar>);

/// True when a person is watching the terminal (see the module's note).
fn watched(json: bool) -> bool {
    !json && std::io::stderr().is_terminal() && std::io::stdout().is_terminal()
}

impl Progress {
    /// A spinner with the time spent, for work whose length is not known, labelled `what`.
    pub fn spinner(what: &str, json: bool) -> Progress {
        if !watched(json) {
            return Progress(None);
        }
        let bar = ProgressBar::with_draw_target(None, ProgressDrawTarget::stderr());
        if let Ok(style) = ProgressStyle::with_template("{spinner} {msg} ({elapsed})") {
            bar.set_style(style);
        }
        bar.set_message(what.to_string());
        bar.enable_steady_tick(Duration::from_millis(200));
        Progress(Some(bar))
    }

    /// `done` of `total` steps finished: the spinner becomes a bar with the share done and
    /// the time left, under the current label.
    pub fn set(&self, done: u64, total: u64) {
        let Some(b) = &self.0 else { return };
        if b.length() != Some(total) {
            if let Ok(style) = ProgressStyle::with_template(
                "{msg} [{bar:30}] {percent:>3}% ({elapsed}, about {eta} left)",
            ) {
                b.set_style(style.progress_chars("=> "));
            }
            b.set_length(total);
        }
        b.set_position(done);
    }

    /// A new label for the work now under way.
    pub fn say(&self, what: &str) {
        if let Some(b) = &self.0 {
            b.set_message(what.to_string());
        }
    }

    /// Ends it and clears its line.
    pub fn finish(self) {
        if let Some(b) = self.0 {
            b.finish_and_clear();
        }
    }
}
