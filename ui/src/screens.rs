//! Every screen as a picture: `fieldkit kiosk --simulate --screenshots DIR` draws each page of
//! an unlocked kit, in every bundled language, at both panel sizes and upright, with the
//! software renderer, into PNG files for reviewers and translators.

use std::path::Path;

use slint::platform::software_renderer::MinimalSoftwareWindow;
use slint::{ComponentHandle, Model, PhysicalSize};

use crate::headless::{PngError, render, write_png};
use crate::{
    AppState, CaseFormAdapter, CaseListAdapter, CaseSection, MainWindow, Page, ReviewAdapter, lang,
};

/// One screen of the set: a page (the case form with one of its sections).
#[derive(Debug, Clone, Copy)]
pub struct Screen {
    /// The page.
    pub page: Page,
    /// The case form's section (other pages ignore it).
    pub section: CaseSection,
    /// The file name part it is saved under.
    pub name: &'static str,
}

const fn screen(page: Page, name: &'static str) -> Screen {
    Screen {
        page,
        section: CaseSection::Identity,
        name,
    }
}

/// Every page, and the case form twice: its first section and its photos.
pub const PAGES: [Screen; 9] = [
    screen(Page::Lock, "lock"),
    screen(Page::Home, "home"),
    screen(Page::Cases, "cases"),
    screen(Page::CaseForm, "case-form"),
    Screen {
        page: Page::CaseForm,
        section: CaseSection::Photos,
        name: "case-photo",
    },
    screen(Page::TracingForm, "tracing-form"),
    screen(Page::Review, "review"),
    screen(Page::Status, "status"),
    screen(Page::Settings, "settings"),
];

/// The sizes every page is drawn at (by `--screenshots` and in the screenshot tests): the two
/// panels a kit ships with, and the small one turned upright (a kit mounted in portrait),
/// which every page must stand too.
pub const SIZES: [(u32, u32); 3] = [(800, 480), (1280, 800), (480, 800)];

/// Puts `screen` on a signed-in kit's screen with something in it: the newest case on the
/// case form (the newest with a photo for its photo section), the best potential match on the
/// review page. The lock page is shown without signing out.
pub fn show(window: &MainWindow, screen: Screen) {
    let state = window.global::<AppState>();
    match screen.page {
        Page::Lock | Page::Status => state.set_page(screen.page),
        Page::CaseForm => {
            state.invoke_navigate(Page::Cases);
            let cases = window.global::<CaseListAdapter>();
            let rows = cases.get_rows();
            let photos = screen.section == CaseSection::Photos;
            let first = (0..rows.row_count().min(64))
                .filter_map(|i| rows.row_data(i))
                .find(|r| !photos || r.has_thumbnail)
                .or_else(|| rows.row_data(0));
            if let Some(first) = first {
                cases.invoke_open(first.id);
            }
            window
                .global::<CaseFormAdapter>()
                .set_section(screen.section);
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
            for screen in PAGES {
                show(window, screen);
                let frame = render(surface, PhysicalSize::new(w, h));
                let path = dir.join(format!("{}-{w}x{h}-{}.png", language.code, screen.name));
                let file = std::fs::File::create(&path)?;
                write_png(&frame, std::io::BufWriter::new(file))?;
                written += 1;
            }
        }
    }
    Ok(written)
}
