//! Children's photos through the kit core on a real vault: a JPEG or PNG file and a camera
//! frame are normalised, sealed and read back; nothing of the picture (its file bytes, the
//! stored JPEG, the thumbnail, rows of its pixels) is anywhere on disk in the clear.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::io::Cursor;
use std::path::Path;

use fieldkit_app::Kit;
use fieldkit_app::photos::{self, MAX_EDGE, PhotoInputError, THUMB_EDGE};
use fieldkit_domain::{RecordId, RecordKind};
use fieldkit_vault::PhotoError;
use image::{ImageFormat, Rgb, RgbImage};
use serde_json::json;

const NOW: u64 = 1_772_000_000_000;

fn kit(dir: &Path) -> Kit {
    common::new_kit(dir, NOW)
}

fn register(kit: &mut Kit, name: &str) -> RecordId {
    let f = json!({"name": name, "sex": "female", "age": 9, "consent_for_tracing": true});
    kit.register(RecordKind::Case, f.as_object().cloned().unwrap(), NOW)
        .unwrap()
        .id
}

/// A picture with structure a JPEG keeps (gradients, bars, a disc), different per seed.
fn picture(width: u32, height: u32, seed: u32) -> RgbImage {
    RgbImage::from_fn(width, height, |x, y| {
        let (cx, cy) = (width / 2, height / 2);
        let d2 = (x.abs_diff(cx)).pow(2) + (y.abs_diff(cy)).pow(2);
        if d2 < (height / 4).pow(2) {
            Rgb([230, 180, (seed * 40 % 256) as u8])
        } else {
            Rgb([
                (x * 255 / width) as u8,
                (y * 255 / height) as u8,
                ((x / 40 + y / 40 + seed) % 2 * 200) as u8,
            ])
        }
    })
}

fn encoded(img: &RgbImage, format: ImageFormat) -> Vec<u8> {
    let mut out = Cursor::new(Vec::new());
    img.write_to(&mut out, format).unwrap();
    out.into_inner()
}

/// Whether `needle` (at least 16 bytes) occurs in any file under `dir`.
fn on_disk(dir: &Path, needle: &[u8]) -> Option<String> {
    assert!(needle.len() >= 16);
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            if let Some(hit) = on_disk(&path, needle) {
                return Some(hit);
            }
            continue;
        }
        let bytes = std::fs::read(&path).unwrap();
        if bytes.windows(needle.len()).any(|w| w == needle) {
            return Some(path.display().to_string());
        }
    }
    None
}

/// Windows of 32 bytes taken across a byte string, past its first 600 bytes (a JPEG's
/// headers and quantisation tables are the same in every photo the kit writes).
fn samples(bytes: &[u8]) -> Vec<&[u8]> {
    let start = 600.min(bytes.len().saturating_sub(32));
    (start..bytes.len().saturating_sub(32))
        .step_by(97)
        .map(|i| &bytes[i..i + 32])
        .collect()
}

#[test]
fn a_photo_round_trips_and_nothing_of_it_is_on_disk_in_the_clear() {
    let dir = tempfile::tempdir().unwrap();
    let mut kit = kit(dir.path());
    let amina = register(&mut kit, "Amina Yusuf");
    let omar = register(&mut kit, "Omar Yusuf");

    // A large PNG (scaled down), a small JPEG (kept at its size), a camera frame.
    let big = picture(2000, 1500, 1);
    let png = encoded(&big, ImageFormat::Png);
    let small = picture(320, 240, 2);
    let jpeg = encoded(&small, ImageFormat::Jpeg);
    let frame = picture(640, 480, 3);

    let p1 = kit.attach_photo_file(amina, &png, NOW).unwrap();
    assert_eq!((p1.slot, p1.width, p1.height), (1, MAX_EDGE, 960));
    assert_eq!(p1.media_type, "image/jpeg");
    let p2 = kit.attach_photo_file(amina, &jpeg, NOW + 1).unwrap();
    assert_eq!((p2.slot, p2.width, p2.height), (2, 320, 240));
    let p3 = kit
        .attach_photo_rgb(omar, 640, 480, frame.clone().into_raw(), NOW + 2)
        .unwrap();
    assert_eq!((p3.slot, p3.width, p3.height), (1, 640, 480));

    // Thumbnails in order, each small and decodable; the list's one is the first.
    let thumbs = kit.photos(amina).unwrap();
    assert_eq!(
        thumbs.iter().map(|t| t.info.slot).collect::<Vec<_>>(),
        [1, 2]
    );
    let t = photos::decode(&thumbs[0].image).unwrap();
    assert_eq!((t.width, t.height), (THUMB_EDGE, 96));
    assert!(thumbs[0].image.len() < 16 << 10);
    assert_eq!(kit.thumbnail(omar).unwrap().unwrap().info.slot, 1);
    let nobody = register(&mut kit, "Nadia Ali");
    assert!(kit.thumbnail(nobody).unwrap().is_none());

    // The full photo decodes to the picture given (JPEG: close, not equal).
    let full = kit.photo(omar, 1, NOW + 3).unwrap();
    let px = photos::decode(&full.image).unwrap();
    assert_eq!((px.width, px.height), (640, 480));
    let diff: u64 = px
        .rgb
        .iter()
        .zip(frame.as_raw())
        .map(|(a, b)| u64::from(a.abs_diff(*b)))
        .sum();
    let mean = diff as f64 / px.rgb.len() as f64;
    assert!(mean < 6.0, "mean difference {mean:.2} per channel");

    // Nothing of any picture is on disk in the clear: not the files given, not the stored
    // JPEGs, not the thumbnails, not rows of pixels.
    let stored: Vec<Vec<u8>> = vec![
        kit.photo(amina, 1, NOW).unwrap().image.to_vec(),
        kit.photo(amina, 2, NOW).unwrap().image.to_vec(),
        full.image.to_vec(),
        thumbs[0].image.to_vec(),
        thumbs[1].image.to_vec(),
    ];
    let vault = kit.lock();
    drop(vault);
    let mut needles: Vec<&[u8]> = Vec::new();
    needles.extend(samples(&png));
    needles.extend(samples(&jpeg));
    for s in &stored {
        needles.extend(samples(s));
    }
    for img in [&big, &small, &frame] {
        let row = (img.width() * 3) as usize;
        let raw = img.as_raw();
        for y in (0..img.height() as usize).step_by(37) {
            needles.push(&raw[y * row + 30..y * row + 78]);
        }
    }
    assert!(needles.len() > 500, "{} samples", needles.len());
    for n in needles {
        if let Some(file) = on_disk(dir.path(), n) {
            panic!("picture bytes found in the clear in {file}");
        }
    }
}

#[test]
fn removing_a_photo_and_the_refusals() {
    let dir = tempfile::tempdir().unwrap();
    let mut kit = kit(dir.path());
    let amina = register(&mut kit, "Amina Yusuf");
    let png = encoded(&picture(300, 400, 4), ImageFormat::Png);
    let p = kit.attach_photo_file(amina, &png, NOW).unwrap();
    // Portrait stays portrait; the thumbnail fits THUMB_EDGE on its long edge.
    assert_eq!((p.width, p.height), (300, 400));
    let t = photos::decode(&kit.photos(amina).unwrap()[0].image).unwrap();
    assert_eq!((t.width, t.height), (96, THUMB_EDGE));
    kit.remove_photo(amina, 1, NOW).unwrap();
    assert!(kit.photos(amina).unwrap().is_empty());
    assert!(matches!(
        kit.remove_photo(amina, 1, NOW),
        Err(PhotoError::NoSuchPhoto(1))
    ));

    // Not a picture, a GIF, a broken PNG, a frame of the wrong size: clear errors.
    assert!(matches!(
        kit.attach_photo_file(amina, b"hello, this is not a picture at all", NOW),
        Err(PhotoInputError::NotAPicture(_))
    ));
    let gif = b"GIF89a\x01\x00\x01\x00\x00\x00\x00;";
    let e = kit.attach_photo_file(amina, gif, NOW).unwrap_err();
    assert!(e.to_string().contains("gif"), "{e}");
    let mut broken = png.clone();
    broken.truncate(200);
    assert!(matches!(
        kit.attach_photo_file(amina, &broken, NOW),
        Err(PhotoInputError::Undecodable(_))
    ));
    assert!(matches!(
        kit.attach_photo_rgb(amina, 10, 10, vec![0; 299], NOW),
        Err(PhotoInputError::BadFrame { want: 300, .. })
    ));
    let huge = vec![0u8; photos::MAX_INPUT_BYTES + 1];
    assert!(matches!(
        kit.attach_photo_file(amina, &huge, NOW),
        Err(PhotoInputError::FileTooLarge { .. })
    ));
    // A PNG that claims more pixels than the limit is refused before it is decoded.
    let mut wide = encoded(&picture(16, 16, 5), ImageFormat::Png);
    wide[16..20].copy_from_slice(&20_000u32.to_be_bytes());
    assert!(kit.attach_photo_file(amina, &wide, NOW).is_err());
    // Photos are for cases the vault holds.
    let stranger = kit.session().mint_id(NOW).unwrap();
    assert!(matches!(
        kit.attach_photo_file(stranger, &png, NOW),
        Err(PhotoInputError::Vault(PhotoError::NotFound { .. }))
    ));
    // Nothing was stored by any refusal.
    assert!(kit.photos(amina).unwrap().is_empty());
}
