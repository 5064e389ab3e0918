//! The simulated kit's camera: a generated test picture, delivered as the board's camera
//! delivers frames (packed YUYV, BT.601 limited range), so `--simulate` takes a photo through
//! the same conversion and the same kit core as a kit with a real camera.
//!
//! The picture is deterministic and changes from shot to shot: 75 % colour bars over the top
//! half, a grey ramp below them, a checkerboard patch, and a round "face" that moves across the
//! frame with each shot (so two photos of the simulated kit differ, as two real photos do).

use fieldkit_drivers::camera::{Frame, FrameError, PixelFormat, rgb_to_yuyv};

/// The 75 % colour bars of a test card, left to right: white, yellow, cyan, green, magenta,
/// red, blue.
const BARS: [[u8; 3]; 7] = [
    [191, 191, 191],
    [191, 191, 0],
    [0, 191, 191],
    [0, 191, 0],
    [191, 0, 191],
    [191, 0, 0],
    [0, 0, 191],
];

/// The test picture of shot `shot`, `width × height` packed RGB.
pub fn test_picture(width: u32, height: u32, shot: u32) -> Vec<u8> {
    let (w, h) = (width.max(1), height.max(1));
    // The face moves a seventh of the width per shot and back.
    let step = shot % 12;
    let along = if step < 6 { step } else { 12 - step };
    let (cx, cy) = (w / 7 * (along + 1), h * 3 / 5);
    let r2 = (h / 6).max(1).pow(2);
    let mut out = Vec::with_capacity((w * h * 3) as usize);
    for y in 0..h {
        for x in 0..w {
            let d2 = x.abs_diff(cx).pow(2) + y.abs_diff(cy).pow(2);
            let px = if d2 < r2 {
                // Skin tone, a little darker towards the rim.
                let shade = (d2 * 40 / r2) as u8;
                [224 - shade, 172 - shade, 138 - shade]
            } else if y < h / 2 {
                BARS[(x * 7 / w) as usize]
            } else if x > w * 3 / 4 && y > h * 3 / 4 {
                if (x / 8 + y / 8) % 2 == 0 {
                    [235, 235, 235]
                } else {
                    [16, 16, 16]
                }
            } else {
                let g = (x * 255 / w) as u8;
                [g, g, g]
            };
            out.extend_from_slice(&px);
        }
    }
    out
}

/// The simulated camera.
#[derive(Debug, Clone)]
pub struct SimulatedCamera {
    width: u32,
    height: u32,
    shots: u32,
}

impl SimulatedCamera {
    /// A camera giving `width × height` frames (`width` even, as YUYV needs).
    pub fn new(width: u32, height: u32) -> SimulatedCamera {
        SimulatedCamera {
            width,
            height,
            shots: 0,
        }
    }

    /// The next shot, as a YUYV frame.
    pub fn capture(&mut self) -> Result<Frame, FrameError> {
        let rgb = test_picture(self.width, self.height, self.shots);
        self.shots = self.shots.wrapping_add(1);
        let mut yuyv = vec![0u8; (self.width * self.height * 2) as usize];
        rgb_to_yuyv(&rgb, self.width, self.height, &mut yuyv)?;
        Ok(Frame {
            format: PixelFormat::Yuyv,
            width: self.width,
            height: self.height,
            stride: (self.width * 2) as usize,
            bytes: yuyv,
        })
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn the_picture_is_deterministic_varied_and_moves_between_shots() {
        let a = test_picture(64, 48, 0);
        assert_eq!(a, test_picture(64, 48, 0));
        assert_ne!(a, test_picture(64, 48, 1));
        assert_eq!(a.len(), 64 * 48 * 3);
        let distinct: std::collections::BTreeSet<&[u8]> = a.chunks(3).collect();
        assert!(distinct.len() > 20, "{} colours", distinct.len());
    }

    #[test]
    fn a_shot_converts_back_to_the_picture() {
        let mut cam = SimulatedCamera::new(320, 240);
        let frame = cam.capture().unwrap();
        assert_eq!(frame.bytes.len(), 320 * 240 * 2);
        let rgb = frame.to_rgb().unwrap();
        let want = test_picture(320, 240, 0);
        let mean = rgb
            .iter()
            .zip(&want)
            .map(|(a, b)| u64::from(a.abs_diff(*b)))
            .sum::<u64>() as f64
            / want.len() as f64;
        assert!(mean < 3.0, "mean difference {mean:.2}");
        assert_ne!(cam.capture().unwrap().bytes, frame.bytes);
    }
}
