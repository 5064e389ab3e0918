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
    probe
        .global::<TextDirection>()
        .on_starts_rtl(|text| lang::starts_right_to_left(&text));
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

    // The long text in a 160 px box: cut, with an ellipsis at its left end (ink in the
    // ellipsis' place, clear of the text, which starts one ellipsis further right).
    let frame = draw(&probe, 160.0, false);
    assert!(
        frame.ink_in(4, BOX_X..BOX_X + 23),
        "no ellipsis on the left"
    );
    // The short one fits at 400 px and is drawn at the right, the left of the box empty.
    let frame = draw(&probe, 400.0, false);
    assert!(
        !frame.ink_in(0, BOX_X..BOX_X + 300),
        "a text that fits is not cut"
    );
}
