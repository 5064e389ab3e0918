//! Every screen as a picture: `fieldkit kiosk --simulate --screenshots DIR` draws each page of
//! an unlocked kit, in every bundled language and at both panel sizes, with the software
//! renderer, into PNG files for reviewers and translators.

use std::path::Path;

use slint::platform::software_renderer::MinimalSoftwareWindow;
use slint::{ComponentHandle, Model, PhysicalSize};

use crate::headless::{PngError, render, write_png};
use crate::{AppState, CaseListAdapter, MainWindow, Page, ReviewAdapter, lang};

/// The pages, with the file name part each is saved under.
pub const PAGES: [(Page, &str); 8] = [
    (Page::Lock, "lock"),
    (Page::Home, "home"),
    (Page::Cases, "cases"),
    (Page::CaseForm, "case-form"),
    (Page::TracingForm, "tracing-form"),
    (Page::Review, "review"),
    (Page::Status, "status"),
    (Page::Settings, "settings"),
];

/// The two panels a kit ships with.
pub const SIZES: [(u32, u32); 2] = [(800, 480), (1280, 800)];

/// Puts `page` on screen with something in it: the newest case on the case form, the best
/// potential match on the review page. The lock page is shown without signing out.
pub fn show(window: &MainWindow, page: Page) {
    let state = window.global::<AppState>();
    match page {
        Page::Lock | Page::Status => state.set_page(page),
        Page::CaseForm => {
            state.invoke_navigate(Page::Cases);
            let cases = window.global::<CaseListAdapter>();
            if let Some(first) = cases.get_rows().row_data(0) {
                cases.invoke_open(first.id);
            }
        }
        Page::TracingForm => window
            .global::<crate::HomeAdapter>()
            .invoke_new_tracing_request(),
        Page::Review => {
            state.invoke_navigate(Page::Review);
            let review = window.global::<ReviewAdapter>();
            if let Some(first) = review.get_pending().row_data(0) {
                review.invoke_select(first.id);
            }
        }
        other => state.invoke_navigate(other),
    }
}

/// Writes every page in every language at every size into `dir`; returns how many files.
pub fn write_all(
    surface: &MinimalSoftwareWindow,
    window: &MainWindow,
    dir: &Path,
) -> Result<usize, PngError> {
    std::fs::create_dir_all(dir)?;
    let mut written = 0;
    for language in lang::LANGUAGES {
        if let Err(e) = lang::apply(window, language.code) {
            tracing::warn!("{e}");
            continue;
        }
        for (w, h) in SIZES {
            for (page, name) in PAGES {
                show(window, page);
                let frame = render(surface, PhysicalSize::new(w, h));
                let path = dir.join(format!("{}-{w}x{h}-{name}.png", language.code));
                let file = std::fs::File::create(&path)?;
                write_png(&frame, std::io::BufWriter::new(file))?;
                written += 1;
            }
        }
    }
    Ok(written)
}
