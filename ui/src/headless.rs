//! Rendering without a display: the software renderer draws into memory. `fieldkit kiosk
//! --screenshots DIR` uses it to write every screen in every language as PNG files for
//! reviewers and translators, and the screen's benchmark uses it to time frames and to count
//! the frames drawn while nothing changes (which must be none).

use std::io::Write;
use std::rc::Rc;

use slint::platform::software_renderer::{MinimalSoftwareWindow, RepaintBufferType};
use slint::platform::{Platform, WindowAdapter};
use slint::{PhysicalSize, PlatformError, Rgb8Pixel, SharedPixelBuffer};

/// A platform whose only window is an in-memory buffer.
pub struct Headless {
    window: Rc<MinimalSoftwareWindow>,
}

impl std::fmt::Debug for Headless {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Headless").finish_non_exhaustive()
    }
}

impl Platform for Headless {
    fn create_window_adapter(&self) -> Result<Rc<dyn WindowAdapter>, PlatformError> {
        Ok(self.window.clone())
    }
}

/// Installs the headless platform for this process (once, before any window is made) and
/// returns its window.
pub fn install() -> Result<Rc<MinimalSoftwareWindow>, PlatformError> {
    let window = MinimalSoftwareWindow::new(RepaintBufferType::NewBuffer);
    slint::platform::set_platform(Box::new(Headless {
        window: window.clone(),
    }))
    .map_err(|e| PlatformError::Other(format!("cannot install the headless platform: {e}")))?;
    Ok(window)
}

/// Lets timers and animations run, then draws the window if anything changed. Returns the
/// frame, or `None` when nothing needed drawing.
pub fn draw(
    window: &MinimalSoftwareWindow,
    size: PhysicalSize,
) -> Option<SharedPixelBuffer<Rgb8Pixel>> {
    window.set_size(size);
    slint::platform::update_timers_and_animations();
    let mut frame = SharedPixelBuffer::<Rgb8Pixel>::new(size.width, size.height);
    let stride = size.width as usize;
    let drawn = window.draw_if_needed(|renderer| {
        renderer.render(frame.make_mut_slice(), stride);
    });
    drawn.then_some(frame)
}

/// Draws the window whether or not anything changed.
pub fn render(window: &MinimalSoftwareWindow, size: PhysicalSize) -> SharedPixelBuffer<Rgb8Pixel> {
    window.set_size(size);
    window.request_redraw();
    match draw(window, size) {
        Some(frame) => frame,
        // draw_if_needed always draws after request_redraw; an empty frame is still a frame.
        None => SharedPixelBuffer::new(size.width, size.height),
    }
}

/// Why a frame could not be written as PNG.
#[derive(Debug, thiserror::Error)]
pub enum PngError {
    /// Writing failed.
    #[error("cannot write the PNG: {0}")]
    Io(#[from] std::io::Error),
    /// Encoding failed.
    #[error("cannot encode the PNG: {0}")]
    Encode(#[from] png::EncodingError),
}

/// Encodes a frame as an 8-bit RGB PNG.
pub fn write_png(frame: &SharedPixelBuffer<Rgb8Pixel>, out: impl Write) -> Result<(), PngError> {
    let mut encoder = png::Encoder::new(out, frame.width(), frame.height());
    encoder.set_color(png::ColorType::Rgb);
    encoder.set_depth(png::BitDepth::Eight);
    let mut writer = encoder.write_header()?;
    writer.write_image_data(frame.as_bytes())?;
    writer.finish()?;
    Ok(())
}
