//! Right-to-left text that starts with a digit or a space ("3 عناصر") lost its leftmost glyph
//! in Slint 1.18.1's software renderer (issue 10). The probe draws such texts, aligned to the
//! start as the pages align them in Arabic, in boxes from roomy to too narrow (elided), and this
//! test looks at the ink: every text leaves a blank column at its box's left edge (nothing
//! drawn cut off there) and has ink inside the box.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use fieldkit_ui::{ElideProbe, Theme};
use slint::{ComponentHandle, ModelRc, SharedString, VecModel};

/// Where the probe's boxes start (`x: 100px` in `probe.slint`).
const BOX_X: u32 = 100;

// Fails today, so it is left out of the default run (`--ignored` runs it): in a box too narrow
// for it, a right-aligned Arabic text with `overflow: elide` is not elided but runs out past the
// box's left edge (seen at 160 px: "٣ طلبات تتبع بانتظار المراجعة في المخيم"). Texts that fit are
// drawn whole. The pages' workaround is still to be built (issue 10).
#[test]
#[ignore = "Slint 1.18.1 does not elide right-aligned right-to-left text; workaround pending"]
fn right_to_left_text_starting_with_a_digit_is_drawn_whole_or_elided() {
    common::init();
    let probe = ElideProbe::new().unwrap();
    probe.global::<Theme>().set_rtl(true);
    let texts: Vec<SharedString> = [
        "3 عناصر",
        "12 حالة مسجلة اليوم",
        "١٢ حالة مسجلة اليوم",
        " حالة",
        "٣ طلبات تتبع بانتظار المراجعة في المخيم",
    ]
    .into_iter()
    .map(SharedString::from)
    .collect();
    let rows = texts.len() as u32;
    probe.set_texts(ModelRc::new(VecModel::from(texts.clone())));
    for width in [400.0_f32, 160.0, 90.0, 50.0] {
        probe.set_box_width(width);
        let shot = probe.window().take_snapshot().unwrap();
        if let Some(dir) = std::env::var_os("FIELDKIT_PROBE_DIR") {
            let rgb: Vec<u8> = shot
                .as_bytes()
                .chunks(4)
                .flat_map(|p| [p[0], p[1], p[2]])
                .collect();
            let file = std::fs::File::create(
                std::path::Path::new(&dir).join(format!("probe-{width}.png")),
            )
            .unwrap();
            let mut enc = png::Encoder::new(file, shot.width(), shot.height());
            enc.set_color(png::ColorType::Rgb);
            enc.write_header().unwrap().write_image_data(&rgb).unwrap();
        }
        let w = shot.width();
        let px = shot.as_slice();
        let ink = |x: u32, y: u32| {
            let p = px[(y * w + x) as usize];
            u32::from(p.r) + u32::from(p.g) + u32::from(p.b) < 3 * 160
        };
        for row in 0..rows {
            let ys = row * 40 + 4..row * 40 + 36;
            let edge = ys.clone().any(|y| ink(BOX_X, y));
            assert!(
                !edge,
                "{:?} in a {width} px box: ink on the box's left edge (a glyph cut off)",
                texts[row as usize]
            );
            let inside = ys
                .clone()
                .any(|y| (BOX_X..BOX_X + width as u32).any(|x| ink(x, y)));
            assert!(
                inside,
                "{:?} in a {width} px box: nothing drawn",
                texts[row as usize]
            );
        }
    }
}
