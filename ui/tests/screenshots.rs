//! Every screen at 800×480, 1280×800 and upright at 480×800, in English and Arabic, compared
//! with the committed reference PNGs under `tests/reference/` within a tolerance (fonts and
//! anti-aliasing may differ by a shade between machines; a moved widget or a missing text does
//! not pass).
//! `FIELDKIT_UPDATE_SCREENSHOTS=1` rewrites the references; look at them before committing.

mod common;

use std::path::PathBuf;

use fieldkit_ui::screens::{PAGES, SIZES};
use fieldkit_ui::{AppState, CaseFormAdapter, MainWindow, lang};
use slint::ComponentHandle;

/// Fraction of pixels that may differ, and by how much a channel may differ before a pixel
/// counts as different.
const MAX_DIFFERENT_PIXELS: f64 = 0.005;
const CHANNEL_TOLERANCE: u8 = 48;

fn reference_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/reference")
}

fn decode(path: &std::path::Path) -> Option<(u32, u32, Vec<u8>)> {
    let file = std::fs::File::open(path).ok()?;
    let mut reader = png::Decoder::new(std::io::BufReader::new(file))
        .read_info()
        .ok()?;
    let mut buf = vec![0; reader.output_buffer_size()?];
    let info = reader.next_frame(&mut buf).ok()?;
    buf.truncate(info.buffer_size());
    let rgb = match info.color_type {
        png::ColorType::Rgb => buf,
        png::ColorType::Rgba => buf.chunks(4).flat_map(|p| [p[0], p[1], p[2]]).collect(),
        _ => return None,
    };
    Some((info.width, info.height, rgb))
}

fn rgb_of(window: &MainWindow) -> (u32, u32, Vec<u8>) {
    let shot = window
        .window()
        .take_snapshot()
        .expect("the software renderer takes a snapshot");
    let rgb = shot
        .as_bytes()
        .chunks(4)
        .flat_map(|p| [p[0], p[1], p[2]])
        .collect();
    (shot.width(), shot.height(), rgb)
}

fn save(path: &std::path::Path, (w, h, rgb): &(u32, u32, Vec<u8>)) {
    let file = std::fs::File::create(path).expect("create reference PNG");
    let mut enc = png::Encoder::new(std::io::BufWriter::new(file), *w, *h);
    enc.set_color(png::ColorType::Rgb);
    enc.set_depth(png::BitDepth::Eight);
    enc.write_header()
        .and_then(|mut wr| wr.write_image_data(rgb))
        .expect("write reference PNG");
}

#[test]
fn every_screen_matches_its_reference_in_english_and_arabic() {
    common::init();
    let update = std::env::var_os("FIELDKIT_UPDATE_SCREENSHOTS").is_some();
    let window = MainWindow::new().expect("the main window");
    common::preview::fill(&window);
    let mut failures = Vec::new();
    let out = std::env::temp_dir().join("fieldkit-ui-screens");
    std::fs::create_dir_all(&out).expect("temp dir");
    for code in ["en", "ar"] {
        lang::apply(&window, code).expect("bundled language");
        for (w, h) in SIZES {
            window.window().set_size(slint::PhysicalSize::new(w, h));
            for screen in PAGES {
                window.global::<AppState>().set_page(screen.page);
                window
                    .global::<CaseFormAdapter>()
                    .set_section(screen.section);
                let got = rgb_of(&window);
                let file = format!("{code}-{w}x{h}-{}.png", screen.name);
                let reference = reference_dir().join(&file);
                if update {
                    save(&reference, &got);
                    continue;
                }
                save(&out.join(&file), &got);
                let Some(want) = decode(&reference) else {
                    failures.push(format!(
                        "{file}: no reference (run with FIELDKIT_UPDATE_SCREENSHOTS=1)"
                    ));
                    continue;
                };
                if (want.0, want.1) != (got.0, got.1) {
                    failures.push(format!(
                        "{file}: size {}x{} != reference {}x{}",
                        got.0, got.1, want.0, want.1
                    ));
                    continue;
                }
                let differing = want
                    .2
                    .chunks(3)
                    .zip(got.2.chunks(3))
                    .filter(|(a, b)| {
                        a.iter()
                            .zip(b.iter())
                            .any(|(x, y)| x.abs_diff(*y) > CHANNEL_TOLERANCE)
                    })
                    .count();
                let fraction = differing as f64 / f64::from(w * h);
                if fraction > MAX_DIFFERENT_PIXELS {
                    failures.push(format!(
                        "{file}: {:.2} % of pixels differ (limit {:.2} %); this run's image is {}",
                        fraction * 100.0,
                        MAX_DIFFERENT_PIXELS * 100.0,
                        out.join(&file).display()
                    ));
                }
            }
        }
    }
    assert!(
        failures.is_empty(),
        "screens differ from their references:\n{}",
        failures.join("\n")
    );
}
