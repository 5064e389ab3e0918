//! One-line texts in right-to-left languages, in boxes from roomy to far too narrow (issue 10).
//!
//! Two defects of Slint 1.18.1's text drawing meet here. A right-to-left text that starts with
//! a digit or a space ("3 عناصر") once lost its leftmost glyph in the software renderer; and a
//! right-aligned text with `overflow: elide` that is too long for its box is not elided but
//! shifted left past the box (over whatever stands there), with no ellipsis where it was cut.
//! The pages draw every such text through `Line` (`ui/widgets/line.slint`), which lays a line
//! that does not fit out word-wrapped and clipped to one line, with its own ellipsis on the
//! left. The probe draws texts as the pages do, and these tests look at the ink.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use fieldkit_ui::{ElideProbe, TextDirection, Theme, lang};
use slint::{ComponentHandle, ModelRc, SharedString, VecModel};

/// Where the probe's boxes start (`x: 100px` in `probe.slint`) and each row's height.
const BOX_X: u32 = 100;
const ROW: u32 = 40;

/// The probe's texts; the last runs left to right (a Latin name on an Arabic page).
const TEXTS: [&str; 6] = [
    "3 عناصر",
    "12 حالة مسجلة اليوم",
    "١٢ حالة مسجلة اليوم",
    " حالة",
    "٣ طلبات تتبع بانتظار المراجعة في المخيم",
    "Muhammad Yusuf ⇄ Aminah Yousef",
];

/// The probe's frame as (width, pixels); `ink(x, y)` is a dark pixel.
struct Frame {
    width: u32,
    pixels: Vec<[u8; 3]>,
}

impl Frame {
    fn ink(&self, x: u32, y: u32) -> bool {
        let [r, g, b] = self.pixels[(y * self.width + x) as usize];
        u32::from(r) + u32::from(g) + u32::from(b) < 3 * 160
    }

    /// Whether row `row` has ink in columns `xs`.
    fn ink_in(&self, row: u32, xs: std::ops::Range<u32>) -> bool {
        (row * ROW + 2..row * ROW + ROW - 2).any(|y| xs.clone().any(|x| self.ink(x, y)))
    }
}

fn draw(probe: &ElideProbe, width: f32, raw: bool) -> Frame {
    probe.set_box_width(width);
    probe.set_raw(raw);
    let shot = probe.window().take_snapshot().unwrap();
    if let Some(dir) = std::env::var_os("FIELDKIT_PROBE_DIR") {
        let rgb: Vec<u8> = shot
            .as_bytes()
            .chunks(4)
            .flat_map(|p| [p[0], p[1], p[2]])
            .collect();
        let name = format!("probe-{}-{width}.png", if raw { "raw" } else { "line" });
        let file = std::fs::File::create(std::path::Path::new(&dir).join(name)).unwrap();
        let mut enc = png::Encoder::new(file, shot.width(), shot.height());
        enc.set_color(png::ColorType::Rgb);
        enc.write_header().unwrap().write_image_data(&rgb).unwrap();
    }
    Frame {
        width: shot.width(),
        pixels: shot.as_slice().iter().map(|p| [p.r, p.g, p.b]).collect(),
    }
}

fn probe() -> ElideProbe {
    let probe = ElideProbe::new().unwrap();
    probe.global::<Theme>().set_rtl(true);
    lang::install_text(&probe.global::<TextDirection>());
    let texts: Vec<SharedString> = TEXTS.into_iter().map(SharedString::from).collect();
    probe.set_texts(ModelRc::new(VecModel::from(texts)));
    probe
}

// Both tests share the probe's window: the testing backend is installed once per thread.
#[test]
fn right_to_left_lines_stay_in_their_box_whole_or_elided() {
    common::init();
    let probe = probe();

    // What Slint draws by itself: the long text in a 160 px box runs out past the box's left
    // edge. When this stops failing, Slint elides right-aligned text itself and `Line` can go
    // back to being a plain `Text { overflow: elide; }`.
    let raw = draw(&probe, 160.0, true);
    assert!(
        raw.ink_in(4, 0..BOX_X),
        "Slint 1.18.1 draws a right-aligned text that is too long past its box's left edge"
    );

    for width in [400.0_f32, 160.0, 90.0, 50.0] {
        let frame = draw(&probe, width, false);
        let end = BOX_X + width as u32;
        for (row, text) in TEXTS.iter().enumerate() {
            let row = row as u32;
            assert!(
                !frame.ink_in(row, 0..BOX_X) && !frame.ink_in(row, end..frame.width),
                "{text:?} in a {width} px box: ink outside the box"
            );
            assert!(
                !frame.ink_in(row, BOX_X..BOX_X + 1),
                "{text:?} in a {width} px box: ink on the box's left edge (a glyph cut off)"
            );
            assert!(
                frame.ink_in(row, BOX_X..end),
                "{text:?} in a {width} px box: nothing drawn"
            );
            // Right to left, the text starts at the box's right edge, cut or not; the Latin
            // one fills the box from its left edge when cut.
            if lang::starts_right_to_left(text) {
                assert!(
                    frame.ink_in(row, end.saturating_sub(24).max(BOX_X)..end),
                    "{text:?} in a {width} px box: its beginning is not at the right"
                );
            } else if width < 300.0 {
                assert!(
                    frame.ink_in(row, BOX_X..BOX_X + 24),
                    "{text:?} in a {width} px box: its beginning is not at the left"
                );
            }
        }
    }

    // The long text in a 160 px box: cut, with an ellipsis at its left end, where its first
    // line's last whole word ends (ink in the ellipsis' place; nothing between it and the
    // box's left edge).
    let frame = draw(&probe, 160.0, false);
    let dots = 18.0 * 1.3;
    let cut = fieldkit_ui::measure::first_line_width(TEXTS[4], "", 18.0, 400, 160.0 - dots);
    let ellipsis = BOX_X + (160.0 - cut - dots).max(0.0) as u32;
    assert!(
        frame.ink_in(4, ellipsis..ellipsis + dots as u32),
        "no ellipsis left of the text"
    );
    assert!(
        !frame.ink_in(4, BOX_X..ellipsis),
        "ink between the box's edge and the ellipsis"
    );
    // A cut line's ellipsis stands right after its last whole word, not at the box's edge:
    // in each box where the words of the first line leave room (more than 20 px between
    // them and the edge), no gap in the row's ink is wider than a word space and the
    // ellipsis' own margin.
    let dots = 18.0 * 1.3;
    let mut roomy = 0;
    for width in (60..=300).step_by(10).map(|w| w as f32) {
        let frame = draw(&probe, width, false);
        for (row, text) in TEXTS.iter().enumerate() {
            let avail = width - dots;
            let cut = fieldkit_ui::measure::first_line_width(text, "", 18.0, 400, avail);
            let whole = fieldkit_ui::measure::first_line_width(text, "", 18.0, 400, 10_000.0);
            if whole <= width || avail - cut <= 20.0 {
                continue;
            }
            roomy += 1;
            let row = row as u32;
            let inked: Vec<u32> = (BOX_X..BOX_X + width as u32)
                .filter(|&x| frame.ink_in(row, x..x + 1))
                .collect();
            let gap = inked.windows(2).map(|p| p[1] - p[0]).max().unwrap_or(0);
            assert!(
                gap <= 12,
                "{text:?} in a {width} px box: a {gap} px gap between the text and its ellipsis"
            );
        }
    }
    assert!(roomy >= 3, "only {roomy} cut lines leave room at their end");

    // The short one fits at 400 px and is drawn at the right, the left of the box empty.
    let frame = draw(&probe, 400.0, false);
    assert!(
        !frame.ink_in(0, BOX_X..BOX_X + 300),
        "a text that fits is not cut"
    );
}
