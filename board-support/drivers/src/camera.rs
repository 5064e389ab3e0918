//! Camera frames as V4L2 delivers them, turned into RGB pixels: plain code over byte slices,
//! so the conversion is tested on synthetic frames of the real layouts while only the device
//! opening (`fieldkit-linux`'s `camera`) needs a camera.
//!
//! Formats: `YUYV` (packed 4:2:2, `Y0 U Y1 V` per pair of pixels; what every UVC webcam offers
//! uncompressed), `RGB3` (packed RGB24) and `MJPG` (each frame a JPEG, often without its
//! Huffman tables: the kit core's JPEG decoder fills in the standard ones, so MJPEG frames are
//! handed on as JPEG files and never converted here). YUYV is taken as ITU-R BT.601 with
//! limited range (Y 16–235, Cb/Cr 16–240), which is what UVC devices send unless they say
//! otherwise; the integer coefficients are BT.601's scaled by 256.
//!
//! Every function writes into a buffer the caller gives and returns an error for any size
//! that does not fit: nothing allocates, nothing panics on any input (property tested).

/// A V4L2 four-character code as the kernel packs it (`v4l2_fourcc`: little-endian).
pub const fn fourcc(code: &[u8; 4]) -> u32 {
    u32::from_le_bytes(*code)
}

/// A pixel format the kit can take a photo in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PixelFormat {
    /// Packed YUV 4:2:2, `Y0 U Y1 V`.
    Yuyv,
    /// Motion JPEG: each frame a JPEG.
    Mjpeg,
    /// Packed RGB, 3 bytes a pixel.
    Rgb24,
}

impl PixelFormat {
    /// The V4L2 four-character code.
    pub const fn fourcc(self) -> u32 {
        match self {
            PixelFormat::Yuyv => fourcc(b"YUYV"),
            PixelFormat::Mjpeg => fourcc(b"MJPG"),
            PixelFormat::Rgb24 => fourcc(b"RGB3"),
        }
    }

    /// The format of a V4L2 four-character code, when the kit takes it.
    pub fn from_fourcc(code: u32) -> Option<PixelFormat> {
        [PixelFormat::Yuyv, PixelFormat::Mjpeg, PixelFormat::Rgb24]
            .into_iter()
            .find(|f| f.fourcc() == code)
    }

    /// The shortest line of a frame `width` pixels wide, in bytes (`None` for MJPEG, whose
    /// frames have no lines, or a width whose line does not fit a `usize`).
    pub fn min_stride(self, width: u32) -> Option<usize> {
        let w = usize::try_from(width).ok()?;
        match self {
            PixelFormat::Yuyv => w.checked_mul(2),
            PixelFormat::Rgb24 => w.checked_mul(3),
            PixelFormat::Mjpeg => None,
        }
    }
}

/// A frame that cannot be converted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FrameError {
    /// A width or height of zero, an odd YUYV width, or sizes that overflow.
    BadSize {
        /// Width given.
        width: u32,
        /// Height given.
        height: u32,
    },
    /// A line stride shorter than a line of the format.
    BadStride {
        /// Stride given.
        stride: usize,
        /// The shortest line.
        min: usize,
    },
    /// Fewer bytes than the frame needs.
    Short {
        /// Bytes needed.
        need: usize,
        /// Bytes given.
        got: usize,
    },
    /// An output buffer of the wrong size.
    Output {
        /// Bytes needed.
        need: usize,
        /// Bytes given.
        got: usize,
    },
    /// A format that has no lines to convert (MJPEG).
    Compressed,
}

impl core::fmt::Display for FrameError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            FrameError::BadSize { width, height } => {
                write!(f, "a frame of {width}×{height} pixels cannot be taken")
            }
            FrameError::BadStride { stride, min } => {
                write!(f, "a line of {stride} bytes is shorter than {min}")
            }
            FrameError::Short { need, got } => {
                write!(f, "the frame holds {got} bytes where {need} are needed")
            }
            FrameError::Output { need, got } => {
                write!(f, "an output of {got} bytes where {need} are needed")
            }
            FrameError::Compressed => f.write_str("a compressed frame has no lines to convert"),
        }
    }
}

#[cfg(feature = "std")]
impl std::error::Error for FrameError {}

/// The bytes a frame of `height` lines of `stride` bytes occupies, the last line only as long
/// as its pixels (drivers may leave the padding of the last line out).
fn frame_need(stride: usize, line: usize, height: u32) -> Option<usize> {
    let h = usize::try_from(height).ok()?;
    stride.checked_mul(h.checked_sub(1)?)?.checked_add(line)
}

/// Checks sizes and returns (pixels per line, bytes per line of pixels, output length).
fn check(
    format: PixelFormat,
    src: usize,
    width: u32,
    height: u32,
    stride: usize,
    out: usize,
) -> Result<(usize, usize, usize), FrameError> {
    let bad = FrameError::BadSize { width, height };
    if width == 0 || height == 0 || (format == PixelFormat::Yuyv && width % 2 == 1) {
        return Err(bad);
    }
    let line = format.min_stride(width).ok_or(FrameError::Compressed)?;
    if stride < line {
        return Err(FrameError::BadStride { stride, min: line });
    }
    let need = frame_need(stride, line, height).ok_or(bad)?;
    if src < need {
        return Err(FrameError::Short { need, got: src });
    }
    let w = usize::try_from(width).map_err(|_| bad)?;
    let h = usize::try_from(height).map_err(|_| bad)?;
    let rgb = w.checked_mul(h).and_then(|n| n.checked_mul(3)).ok_or(bad)?;
    if out != rgb {
        return Err(FrameError::Output {
            need: rgb,
            got: out,
        });
    }
    Ok((w, line, rgb))
}

fn clamp(v: i32) -> u8 {
    v.clamp(0, 255) as u8
}

/// One BT.601 limited-range YCbCr sample to RGB.
fn ycbcr_to_rgb(y: u8, cb: u8, cr: u8) -> [u8; 3] {
    let c = 298 * (i32::from(y) - 16);
    let d = i32::from(cb) - 128;
    let e = i32::from(cr) - 128;
    [
        clamp((c + 409 * e + 128) >> 8),
        clamp((c - 100 * d - 208 * e + 128) >> 8),
        clamp((c + 516 * d + 128) >> 8),
    ]
}

/// One RGB pixel to BT.601 limited-range (Y, Cb, Cr).
fn rgb_to_ycbcr([r, g, b]: [u8; 3]) -> (u8, i32, i32) {
    let (r, g, b) = (i32::from(r), i32::from(g), i32::from(b));
    let y = ((66 * r + 129 * g + 25 * b + 128) >> 8) + 16;
    let cb = ((-38 * r - 74 * g + 112 * b + 128) >> 8) + 128;
    let cr = ((112 * r - 94 * g - 18 * b + 128) >> 8) + 128;
    (clamp(y), cb, cr)
}

/// Converts a frame of `format` (`stride` bytes a line, as V4L2's `bytesperline` says) into
/// packed RGB in `out`, which must hold exactly `width × height × 3` bytes.
pub fn to_rgb(
    format: PixelFormat,
    src: &[u8],
    width: u32,
    height: u32,
    stride: usize,
    out: &mut [u8],
) -> Result<(), FrameError> {
    let (w, line, _) = check(format, src.len(), width, height, stride, out.len())?;
    for (row, dst) in out.chunks_exact_mut(w * 3).enumerate() {
        let start = row * stride;
        let Some(px) = src.get(start..start + line) else {
            return Err(FrameError::Short {
                need: start + line,
                got: src.len(),
            });
        };
        match format {
            PixelFormat::Rgb24 => dst.copy_from_slice(px),
            PixelFormat::Yuyv => {
                for (pair, rgb) in px.chunks_exact(4).zip(dst.chunks_exact_mut(6)) {
                    let (y0, cb, y1, cr) = (pair[0], pair[1], pair[2], pair[3]);
                    rgb[..3].copy_from_slice(&ycbcr_to_rgb(y0, cb, cr));
                    rgb[3..].copy_from_slice(&ycbcr_to_rgb(y1, cb, cr));
                }
            }
            PixelFormat::Mjpeg => return Err(FrameError::Compressed),
        }
    }
    Ok(())
}

/// Packs RGB pixels as a YUYV frame (no padding: `width × 2` bytes a line), the chroma of each
/// pair of pixels averaged: what a camera sends, for the simulated camera and for tests.
pub fn rgb_to_yuyv(src: &[u8], width: u32, height: u32, out: &mut [u8]) -> Result<(), FrameError> {
    let bad = FrameError::BadSize { width, height };
    if width == 0 || height == 0 || width % 2 == 1 {
        return Err(bad);
    }
    let w = usize::try_from(width).map_err(|_| bad)?;
    let h = usize::try_from(height).map_err(|_| bad)?;
    let rgb = w.checked_mul(h).and_then(|n| n.checked_mul(3)).ok_or(bad)?;
    let yuyv = w.checked_mul(h).and_then(|n| n.checked_mul(2)).ok_or(bad)?;
    if src.len() != rgb {
        return Err(FrameError::Short {
            need: rgb,
            got: src.len(),
        });
    }
    if out.len() != yuyv {
        return Err(FrameError::Output {
            need: yuyv,
            got: out.len(),
        });
    }
    for (px, pair) in src.chunks_exact(6).zip(out.chunks_exact_mut(4)) {
        let (y0, cb0, cr0) = rgb_to_ycbcr([px[0], px[1], px[2]]);
        let (y1, cb1, cr1) = rgb_to_ycbcr([px[3], px[4], px[5]]);
        pair[0] = y0;
        pair[1] = clamp((cb0 + cb1 + 1) / 2);
        pair[2] = y1;
        pair[3] = clamp((cr0 + cr1 + 1) / 2);
    }
    Ok(())
}

/// A frame as a camera gave it: its format, size, line stride and bytes.
#[cfg(feature = "std")]
pub struct Frame {
    /// The pixel format.
    pub format: PixelFormat,
    /// Width in pixels.
    pub width: u32,
    /// Height in pixels.
    pub height: u32,
    /// Bytes a line (V4L2's `bytesperline`; 0 for MJPEG).
    pub stride: usize,
    /// The frame.
    pub bytes: std::vec::Vec<u8>,
}

#[cfg(feature = "std")]
impl core::fmt::Debug for Frame {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("Frame")
            .field("format", &self.format)
            .field("width", &self.width)
            .field("height", &self.height)
            .field("bytes", &self.bytes.len())
            .finish_non_exhaustive()
    }
}

#[cfg(feature = "std")]
impl Frame {
    /// The frame as packed RGB pixels (`width × height × 3` bytes); MJPEG frames are
    /// [`FrameError::Compressed`]: hand their bytes on as a JPEG.
    pub fn to_rgb(&self) -> Result<std::vec::Vec<u8>, FrameError> {
        let bad = FrameError::BadSize {
            width: self.width,
            height: self.height,
        };
        let len = (self.width as usize)
            .checked_mul(self.height as usize)
            .and_then(|n| n.checked_mul(3))
            .ok_or(bad)?;
        // A frame larger than any camera's is refused before anything is allocated.
        if len > 3 * 12_000 * 12_000 {
            return Err(bad);
        }
        if self.format == PixelFormat::Mjpeg {
            return Err(FrameError::Compressed);
        }
        let mut out = std::vec![0u8; len];
        to_rgb(
            self.format,
            &self.bytes,
            self.width,
            self.height,
            self.stride,
            &mut out,
        )?;
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use proptest::prelude::*;
    use std::vec;
    use std::vec::Vec;

    #[test]
    fn fourccs_are_the_kernels() {
        // videodev2.h: V4L2_PIX_FMT_YUYV = v4l2_fourcc('Y','U','Y','V') = 0x56595559.
        assert_eq!(PixelFormat::Yuyv.fourcc(), 0x5659_5559);
        assert_eq!(PixelFormat::Mjpeg.fourcc(), 0x4750_4A4D);
        assert_eq!(
            PixelFormat::from_fourcc(0x3342_4752),
            Some(PixelFormat::Rgb24)
        );
        assert_eq!(PixelFormat::from_fourcc(fourcc(b"NV12")), None);
    }

    /// BT.601 limited range: the reference colours of a colour-bar frame as a camera sends
    /// them (Y, Cb, Cr), and the RGB they stand for.
    const BARS: [([u8; 3], [u8; 3]); 6] = [
        ([235, 128, 128], [255, 255, 255]), // white
        ([16, 128, 128], [0, 0, 0]),        // black
        ([81, 90, 240], [255, 0, 0]),       // red
        ([145, 54, 34], [0, 255, 0]),       // green
        ([41, 240, 110], [0, 0, 255]),      // blue
        ([210, 16, 146], [255, 255, 0]),    // yellow
    ];

    #[test]
    fn a_yuyv_frame_with_padded_lines_converts_to_its_colours() {
        // 6 pixels wide (3 pairs), 2 lines, each line padded to 16 bytes as drivers align
        // `bytesperline`; the last line's padding left out.
        let (width, height, stride) = (6u32, 2u32, 16usize);
        let mut frame = vec![0xEEu8; stride + 12];
        for (line, bars) in [&BARS[..3], &BARS[3..]].iter().enumerate() {
            for (i, (ycc, _)) in bars.iter().enumerate() {
                let at = line * stride + i * 4;
                frame[at..at + 4].copy_from_slice(&[ycc[0], ycc[1], ycc[0], ycc[2]]);
            }
        }
        let mut rgb = vec![0u8; 6 * 2 * 3];
        to_rgb(PixelFormat::Yuyv, &frame, width, height, stride, &mut rgb).unwrap();
        for (i, (_, want)) in BARS.iter().enumerate() {
            for px in [2 * i, 2 * i + 1] {
                let got = &rgb[px * 3..px * 3 + 3];
                for c in 0..3 {
                    assert!(
                        got[c].abs_diff(want[c]) <= 3,
                        "bar {i} pixel {px}: {got:?} for {want:?}"
                    );
                }
            }
        }
    }

    #[test]
    fn rgb_round_trips_through_yuyv_within_chroma_subsampling() {
        let (w, h) = (8u32, 4u32);
        // Pairs of equal pixels, so chroma subsampling loses nothing but rounding.
        let rgb: Vec<u8> = (0..w * h)
            .flat_map(|i| {
                let p = i / 2;
                [
                    (p * 37 % 256) as u8,
                    (p * 91 % 256) as u8,
                    (p * 53 % 256) as u8,
                ]
            })
            .collect();
        let mut yuyv = vec![0u8; (w * h * 2) as usize];
        rgb_to_yuyv(&rgb, w, h, &mut yuyv).unwrap();
        let mut back = vec![0u8; rgb.len()];
        to_rgb(PixelFormat::Yuyv, &yuyv, w, h, (w * 2) as usize, &mut back).unwrap();
        for (a, b) in rgb.iter().zip(&back) {
            assert!(a.abs_diff(*b) <= 4, "{a} became {b}");
        }
        // RGB24 frames are copied line by line.
        let mut copy = vec![0u8; rgb.len()];
        to_rgb(PixelFormat::Rgb24, &rgb, w, h, (w * 3) as usize, &mut copy).unwrap();
        assert_eq!(copy, rgb);
    }

    #[test]
    fn sizes_that_do_not_fit_are_refused() {
        let mut out = vec![0u8; 12];
        assert_eq!(
            to_rgb(PixelFormat::Yuyv, &[0; 8], 3, 1, 6, &mut out[..9]),
            Err(FrameError::BadSize {
                width: 3,
                height: 1
            })
        );
        assert_eq!(
            to_rgb(PixelFormat::Yuyv, &[0; 8], 4, 1, 6, &mut out),
            Err(FrameError::BadStride { stride: 6, min: 8 })
        );
        assert_eq!(
            to_rgb(PixelFormat::Yuyv, &[0; 7], 4, 1, 8, &mut out),
            Err(FrameError::Short { need: 8, got: 7 })
        );
        assert_eq!(
            to_rgb(PixelFormat::Yuyv, &[0; 8], 4, 1, 8, &mut out[..11]),
            Err(FrameError::Output { need: 12, got: 11 })
        );
        assert_eq!(
            to_rgb(PixelFormat::Mjpeg, &[0; 8], 4, 1, 8, &mut out),
            Err(FrameError::Compressed)
        );
        assert!(
            to_rgb(
                PixelFormat::Yuyv,
                &[],
                u32::MAX - 1,
                u32::MAX,
                usize::MAX,
                &mut out
            )
            .is_err()
        );
    }

    proptest! {
        #[test]
        fn no_frame_makes_the_conversion_panic(
            src in proptest::collection::vec(any::<u8>(), 0..600),
            width in 0u32..40,
            height in 0u32..20,
            stride in 0usize..200,
            out_len in 0usize..3000,
            fmt in 0usize..3,
        ) {
            let format = [PixelFormat::Yuyv, PixelFormat::Mjpeg, PixelFormat::Rgb24][fmt];
            let mut out = vec![0u8; out_len];
            let _ = to_rgb(format, &src, width, height, stride, &mut out);
            let mut yuyv = vec![0u8; out_len];
            let _ = rgb_to_yuyv(&src, width, height, &mut yuyv);
        }
    }
}
