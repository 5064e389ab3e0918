//! Layouts that hold their text, checked on the geometry the testing backend's element lookups
//! report (the build emits the element names); what a text needs is measured with the engine
//! Slint draws text with (`measure`).
//!
//! - The match review page's explanation rows: a value that wraps onto three or more lines
//!   (Arabic at 800×480, where each value has ~150 px) makes its row as tall as its lines, and
//!   the rows below move down instead of being drawn over it.
//! - The case form's section tabs: one row at 800×480 in every bundled language, each tab as
//!   wide as its label, and the section right under them.
//! - Upright (480×800): the top bar's buttons, the match review's decision buttons, the forms',
//!   the case list's and the settings' buttons and the home page's counts lie inside the window
//!   and are as wide as their words.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use fieldkit_ui::{
    AppState, CaseFormAdapter, CaseSection, ExplainRow, MainWindow, Message, Page, ReviewAdapter,
    lang, measure,
};
use i_slint_backend_testing::ElementHandle;
use slint::{ComponentHandle, Model, ModelRc, VecModel};

/// Where a child was separated, as a family describes it: long enough to wrap at 800×480.
const LONG: &str =
    "عند بوابة المخيم الشمالية قرب نقطة توزيع المياه بعد صلاة المغرب يوم وصول القافلة";

/// The window's default text (`default-font-size` of `MainWindow`: `Theme.text-body`).
const BODY_PX: f32 = 18.0;

struct Placed {
    text: String,
    x: f32,
    y: f32,
    width: f32,
    height: f32,
}

fn placed(e: &ElementHandle) -> Placed {
    let at = e.absolute_position();
    let size = e.size();
    Placed {
        text: e
            .accessible_label()
            .map(|s| s.to_string())
            .unwrap_or_default(),
        x: at.x,
        y: at.y,
        width: size.width,
        height: size.height,
    }
}

fn all(window: &MainWindow, type_name: &str) -> Vec<Placed> {
    let mut found: Vec<Placed> = ElementHandle::find_by_element_type_name(window, type_name)
        .filter(ElementHandle::is_valid)
        .map(|e| placed(&e))
        .collect();
    found.sort_by(|a, b| a.y.total_cmp(&b.y).then(a.x.total_cmp(&b.x)));
    found
}

#[test]
fn a_long_explanation_in_arabic_makes_its_row_as_tall_as_its_lines() {
    common::init();
    let window = MainWindow::new().expect("the main window");
    common::preview::fill(&window);
    lang::apply(&window, "ar").expect("Arabic is bundled");
    window.window().set_size(slint::PhysicalSize::new(800, 480));
    window.global::<AppState>().set_page(Page::Review);
    let review = window.global::<ReviewAdapter>();
    let mut rows: Vec<ExplainRow> = review.get_explanation().iter().collect();
    // Second, so rows stand below it on the screen.
    rows.insert(
        1,
        ExplainRow {
            field: "location_separation".into(),
            case_value: "السوق".into(),
            trace_value: LONG.into(),
            weight: "−0.4".into(),
            detail: Message::default(),
            lookup: false,
            agrees: false,
            disagrees: true,
        },
    );
    let count = rows.len();
    review.set_explanation(ModelRc::new(VecModel::from(rows)));
    // Lays the page out as a frame does (kept as `DIR/ar-review-long.png` when
    // `FIELDKIT_SHOT_DIR=DIR` is set, to look at).
    let shot = window.window().take_snapshot().expect("a frame");
    if let Some(dir) = std::env::var_os("FIELDKIT_SHOT_DIR") {
        let rgb: Vec<u8> = shot
            .as_bytes()
            .chunks(4)
            .flat_map(|p| [p[0], p[1], p[2]])
            .collect();
        let file = std::fs::File::create(std::path::Path::new(&dir).join("ar-review-long.png"))
            .expect("the shot's file");
        let mut enc = png::Encoder::new(file, shot.width(), shot.height());
        enc.set_color(png::ColorType::Rgb);
        enc.write_header()
            .and_then(|mut w| w.write_image_data(&rgb))
            .expect("the shot written");
    }

    // The rows in view (the lookups skip what the scrolling area hides).
    let lines = all(&window, "ExplainLine");
    assert!(
        (3..=count).contains(&lines.len()),
        "{} of the {count} rows in view",
        lines.len()
    );
    let values = all(&window, "ExplainValue");
    assert!(
        (lines.len()..=2 * lines.len()).contains(&values.len()),
        "{} values in {} rows: two a row, or the matcher's words alone",
        values.len(),
        lines.len()
    );

    let long = values
        .iter()
        .find(|v| v.text == LONG)
        .expect("the long value is on the page");
    let long_lines = measure::wrapped_lines(LONG, "", BODY_PX, 400, long.width);
    assert!(
        long_lines >= 3,
        "the long value wraps onto {long_lines} lines in its {} px: the test needs 3 or more",
        long.width
    );

    for v in &values {
        let need = measure::wrapped_height(&v.text, "", BODY_PX, 400, v.width);
        assert!(
            v.height + 0.5 >= need,
            "{:?}: {} px high, its {} lines need {need} px",
            v.text,
            v.height,
            measure::wrapped_lines(&v.text, "", BODY_PX, 400, v.width)
        );
        let row = lines
            .iter()
            .find(|l| l.y <= v.y + 0.5 && v.y < l.y + l.height)
            .unwrap_or_else(|| panic!("{:?} stands in no row", v.text));
        assert!(
            v.y + v.height <= row.y + row.height + 0.5 && row.height + 0.5 >= need,
            "{:?} needs {need} px: its row is {} px high (from {} to {}), the text {} px (to {})",
            v.text,
            row.height,
            row.y,
            row.y + row.height,
            v.height,
            v.y + v.height
        );
    }
    // The rows follow one another without overlapping.
    for pair in lines.windows(2) {
        assert!(
            pair[1].y + 0.5 >= pair[0].y + pair[0].height,
            "a row at {} starts inside the one above (to {})",
            pair[1].y,
            pair[0].y + pair[0].height
        );
    }
    // Right to left: the field's name at the right, then the case, the family's words, and
    // the weight at the left.
    let row = lines
        .iter()
        .find(|l| l.y <= long.y + 0.5 && long.y < l.y + l.height)
        .expect("the long value's row");
    let in_row = |p: &&Placed| p.y + 0.5 >= row.y && p.y + p.height <= row.y + row.height + 0.5;
    let label = all(&window, "ExplainLabel")
        .into_iter()
        .find(|p| in_row(&p))
        .expect("the row's field name");
    let weight = all(&window, "ExplainWeight")
        .into_iter()
        .find(|p| in_row(&p))
        .expect("the row's weight");
    let case = values
        .iter()
        .find(|v| v.text == "السوق")
        .expect("the case's value");
    assert!(
        label.x > case.x && case.x > long.x && long.x > weight.x,
        "not mirrored: label at {}, case at {}, family's words at {}, weight at {}",
        label.x,
        case.x,
        long.x,
        weight.x
    );
    lang::apply(&window, "en").expect("English");
}

/// The form's tab labels' size (`Theme.text-small`) and each side's padding in a tab.
const TAB_PX: f32 = 15.0;
const TAB_PAD: f32 = 10.0;

#[test]
fn the_case_forms_tabs_fit_one_row_at_800x480_in_every_language() {
    common::init();
    let window = MainWindow::new().expect("the main window");
    common::preview::fill(&window);
    // A case without conflicts: nothing stands between the tabs and the section.
    window
        .global::<CaseFormAdapter>()
        .set_conflicts(ModelRc::new(VecModel::from(Vec::new())));
    window.window().set_size(slint::PhysicalSize::new(800, 480));
    window.global::<AppState>().set_page(Page::CaseForm);
    window
        .global::<CaseFormAdapter>()
        .set_section(CaseSection::Photos);
    for language in lang::LANGUAGES {
        lang::apply(&window, language.code).expect("a bundled language");
        window.window().take_snapshot().expect("a frame");
        let code = language.code;
        let tabs: Vec<(Placed, bool)> =
            ElementHandle::find_by_element_type_name(&window, "SectionTab")
                .filter(ElementHandle::is_valid)
                .map(|e| (placed(&e), e.accessible_item_selected() == Some(true)))
                .collect();
        assert_eq!(tabs.len(), 7, "{code}: the seven sections");
        assert_eq!(
            tabs.iter().filter(|(_, selected)| *selected).count(),
            1,
            "{code}: one tab selected"
        );
        let top = tabs[0].0.y;
        for (t, selected) in &tabs {
            assert!(
                (t.y - top).abs() < 0.5 && t.height <= 48.5,
                "{code}: the tab {:?} at y {} ({} px high): the tabs do not stand in one row at {top}",
                t.text,
                t.y,
                t.height
            );
            assert!(
                t.x >= 0.0 && t.x + t.width <= 800.5,
                "{code}: {:?} off the screen",
                t.text
            );
            // The label stays inside its tab (the selected one's is bold).
            let weight = if *selected { 700 } else { 400 };
            let need =
                measure::first_line_width(&t.text, "", TAB_PX, weight, 10_000.0) + 2.0 * TAB_PAD;
            assert!(
                t.width + 0.5 >= need,
                "{code}: {:?} needs {need} px, its tab is {} px",
                t.text,
                t.width
            );
        }
        // The section starts right under the tabs: the rows above did not grow into the room a
        // short section leaves.
        let frame = all(&window, "PhotoFrame");
        let frame = frame.first().expect("the photo section");
        let gap = frame.y - (top + tabs[0].0.height);
        assert!(
            (0.0..=16.5).contains(&gap),
            "{code}: {gap} px between the tabs and the photo section"
        );
    }
    lang::apply(&window, "en").expect("English");
}

/// A button's word (`TouchButton`): compact buttons (the top bar's) use `Theme.text-small`,
/// others `Theme.text-body`; its icon `Theme.text-title`, 8 px from the word; its padding on
/// each side 8 px (compact) or 14 px.
const SMALL_PX: f32 = 15.0;
const TITLE_PX: f32 = 24.0;

/// What a `TouchButton` needs to show its icon and word whole.
fn button_needs(label: &str, icon: &str, compact: bool, weight: i32) -> f32 {
    let (size, pad) = if compact {
        (SMALL_PX, 8.0)
    } else {
        (BODY_PX, 14.0)
    };
    let icon = if icon.is_empty() {
        0.0
    } else {
        measure::first_line_width(icon, "", TITLE_PX, 400, 10_000.0) + 8.0
    };
    measure::first_line_width(label, "", size, weight, 10_000.0) + icon + 2.0 * pad
}

fn inside_upright(code: &str, what: &str, p: &Placed) {
    assert!(
        p.x >= -0.5 && p.x + p.width <= 480.5 && p.y >= -0.5 && p.y + p.height <= 800.5,
        "{code}: {what} {:?} at ({}, {}) {}x{} is not wholly inside the 480x800 window",
        p.text,
        p.x,
        p.y,
        p.width,
        p.height
    );
}

#[test]
fn upright_the_buttons_and_counts_keep_their_words_whole() {
    common::init();
    let window = MainWindow::new().expect("the main window");
    common::preview::fill(&window);
    window.window().set_size(slint::PhysicalSize::new(480, 800));
    for code in ["en", "ar", "fa", "my"] {
        lang::apply(&window, code).expect("a bundled language");

        // The match review: the queue, the explanation, the note and both decisions.
        window.global::<AppState>().set_page(Page::Review);
        window.window().take_snapshot().expect("a frame");
        // The top bar's buttons, left to right (no icon but Home's arrow; none is primary).
        let mut bar: Vec<Placed> = all(&window, "TouchButton")
            .into_iter()
            .filter(|b| b.y < 52.0)
            .collect();
        bar.sort_by(|a, b| a.x.total_cmp(&b.x));
        assert!(
            bar.len() >= 4,
            "{code}: {} buttons in the top bar (home, charge, settings, lock)",
            bar.len()
        );
        for (i, b) in bar.iter().enumerate() {
            inside_upright(code, "the top bar's button", b);
            // Home, on the reading side (left in English, right in Arabic and Dari), carries
            // the back arrow.
            let rtl = code == "ar" || code == "fa";
            let home = if rtl { i + 1 == bar.len() } else { i == 0 };
            let arrow = match (home, rtl) {
                (false, _) => "",
                (true, false) => "←",
                (true, true) => "→",
            };
            let need = button_needs(&b.text, arrow, true, 500);
            assert!(
                b.width + 0.5 >= need,
                "{code}: the top bar's {:?} is {} px wide, its word needs {need} px",
                b.text,
                b.width
            );
            if let Some(next) = bar.get(i + 1) {
                assert!(
                    next.x + 0.5 >= b.x + b.width,
                    "{code}: the top bar's {:?} and {:?} overlap",
                    b.text,
                    next.text
                );
            }
        }
        for (kind, icon, weight) in [("ConfirmButton", "✓", 700), ("RejectButton", "✗", 500)] {
            let found = all(&window, kind);
            let b = found
                .first()
                .unwrap_or_else(|| panic!("{code}: the review page shows no {kind}"));
            inside_upright(code, kind, b);
            let need = button_needs(&b.text, icon, false, weight);
            assert!(
                b.width + 0.5 >= need,
                "{code}: {kind} {:?} is {} px wide, its word needs {need} px",
                b.text,
                b.width
            );
            assert!(b.height >= 55.5, "{code}: {kind} is {} px high", b.height);
        }
        let note = all(&window, "Field");
        assert!(
            note.iter().any(|f| f.y >= 52.0 && f.y + f.height <= 800.5),
            "{code}: the note field is not on the screen"
        );

        // The forms' and the case list's buttons: whole and on the screen.
        for (page, kinds) in [
            (Page::CaseForm, &["DoneButton"][..]),
            (Page::TracingForm, &["SaveAndSearch"][..]),
            (
                Page::Cases,
                &["SearchButton", "FiltersButton", "NewCaseButton"][..],
            ),
        ] {
            window.global::<AppState>().set_page(page);
            window.window().take_snapshot().expect("a frame");
            for kind in kinds {
                let found = all(&window, kind);
                let b = found
                    .first()
                    .unwrap_or_else(|| panic!("{code}: no {kind} on {page:?}"));
                inside_upright(code, kind, b);
                let (icon, weight) = match *kind {
                    "DoneButton" => ("✓", 700),
                    "SaveAndSearch" => ("⌕", 700),
                    "SearchButton" => ("⌕", 500),
                    "FiltersButton" => ("▾", 500),
                    _ => ("+", 700),
                };
                let need = button_needs(&b.text, icon, true, weight);
                assert!(
                    b.width + 0.5 >= need,
                    "{code}: {kind} {:?} is {} px wide, its word needs {need} px",
                    b.text,
                    b.width
                );
            }
        }
        // Settings: the last button (Add caseworker) whole and on the screen.
        window.global::<AppState>().set_page(Page::Settings);
        window.window().take_snapshot().expect("a frame");
        let buttons = all(&window, "TouchButton");
        let add = buttons.last().expect("the settings page's buttons");
        inside_upright(code, "the add button", add);
        let need = button_needs(&add.text, "+", false, 500);
        assert!(
            add.width + 0.5 >= need,
            "{code}: {:?} is {} px wide, its word needs {need} px",
            add.text,
            add.width
        );

        // The home page's four counts, each as wide as its word (10 px padding a side).
        window.global::<AppState>().set_page(Page::Home);
        window.window().take_snapshot().expect("a frame");
        let counts = all(&window, "Count");
        assert_eq!(counts.len(), 4, "{code}: the four counts");
        for c in &counts {
            inside_upright(code, "the count", c);
            let need = measure::first_line_width(&c.text, "", SMALL_PX, 400, 10_000.0) + 20.0;
            assert!(
                c.width + 0.5 >= need,
                "{code}: the count {:?} is {} px wide, its word needs {need} px",
                c.text,
                c.width
            );
        }
    }
    lang::apply(&window, "en").expect("English");
}
