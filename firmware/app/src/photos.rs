//! Children's photos: what a caseworker attaches to a case, from the kit's camera or a file.
//!
//! Every photo is *normalised* on the way in, whatever its source: a JPEG or PNG file is
//! decoded (with limits, so a crafted file cannot make the kit allocate without bound; its
//! EXIF orientation applied), a camera frame comes as RGB pixels; the picture is scaled down
//! to fit [`MAX_EDGE`] pixels and encoded again as a JPEG of at most
//! [`fieldkit_vault::MAX_PHOTO_BYTES`], with a [`THUMB_EDGE`]-pixel thumbnail beside it. Encoding
//! again drops everything but the pixels: EXIF tags (a phone's GPS position, its owner's
//! name), comments, colour profiles. The vault seals both (`fieldkit_vault`'s `photos`
//! module); nothing here writes a file, and the kit never holds a photo in the clear outside
//! memory.
//!
//! The list reads thumbnails only ([`Kit::thumbnail`]), never a full photo; [`decode`] turns
//! a thumbnail or photo into RGB pixels for a screen.
//!
//! Photos do not travel by sync (a 100 KB photo is ~450 LoRa frames of 239 bytes; over IP they
//! would need their own transfer, not built): each stays on the kit where it was taken. A
//! Primero export writes the record without the photos (ARCHITECTURE.md, "Photos").

use std::io::Cursor;

use image::codecs::jpeg::JpegEncoder;
use image::imageops::FilterType;
use image::{DynamicImage, ImageDecoder, ImageFormat, ImageReader, Limits, RgbImage};

use fieldkit_domain::{RecordId, RecordKind};
use fieldkit_vault::{MAX_PHOTO_BYTES, NewPhoto, Photo, PhotoError, PhotoInfo, Session, Thumbnail};

use crate::kit::Kit;

/// The longest edge of a stored photo, in pixels: enough to recognise a child's face on the
/// kit's 1280×800 screen and on a printed tracing poster, at 100–300 KB a photo.
pub const MAX_EDGE: u32 = 1280;
/// The longest edge of a thumbnail, in pixels (a list row shows it at 48–64 pixels; twice that
/// keeps it sharp on the larger screen).
pub const THUMB_EDGE: u32 = 128;
/// The largest file accepted for attaching, in bytes.
pub const MAX_INPUT_BYTES: usize = 24 << 20;
/// The largest picture accepted, in pixels per edge (a 50-megapixel camera's is 8,688).
pub const MAX_INPUT_EDGE: u32 = 12_000;
/// What a decoder may allocate for one picture (a 12,000 × 8,000 RGBA picture is 384 MB).
const MAX_DECODE_ALLOC: u64 = 400 << 20;
/// JPEG qualities tried in turn until the photo fits the vault's limit.
const QUALITIES: [u8; 4] = [85, 70, 55, 40];
/// The thumbnail's JPEG quality.
const THUMB_QUALITY: u8 = 75;
/// The media type of every stored photo.
pub const MEDIA_TYPE: &str = "image/jpeg";

/// A picture could not be taken in, or a photo operation failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum PhotoInputError {
    /// The file is larger than [`MAX_INPUT_BYTES`].
    #[error("the picture file is {bytes} bytes: at most {limit} bytes are accepted")]
    FileTooLarge {
        /// Its size.
        bytes: usize,
        /// The limit.
        limit: usize,
    },
    /// Neither JPEG nor PNG.
    #[error("not a JPEG or PNG picture{0}")]
    NotAPicture(String),
    /// A JPEG or PNG that does not decode, or is too large in pixels.
    #[error("the picture could not be read: {0}")]
    Undecodable(String),
    /// Pixels that do not make a picture of the size given.
    #[error("a frame of {got} bytes is not {width}×{height} RGB ({want} bytes)")]
    BadFrame {
        /// Width given.
        width: u32,
        /// Height given.
        height: u32,
        /// Bytes given.
        got: usize,
        /// Bytes expected.
        want: usize,
    },
    /// Even at the lowest quality the photo does not fit the vault's limit.
    #[error("the photo does not fit in {limit} bytes even at the lowest quality")]
    TooLarge {
        /// The vault's limit.
        limit: usize,
    },
    /// The JPEG encoder failed.
    #[error("the photo could not be encoded: {0}")]
    Encode(String),
    /// The vault refused or failed.
    #[error(transparent)]
    Vault(#[from] PhotoError),
}

/// A normalised photo, ready for the vault.
pub struct Normalised {
    /// The photo as JPEG.
    pub jpeg: Vec<u8>,
    /// Its width.
    pub width: u32,
    /// Its height.
    pub height: u32,
    /// The thumbnail as JPEG.
    pub thumbnail: Vec<u8>,
}

impl std::fmt::Debug for Normalised {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Normalised")
            .field("bytes", &self.jpeg.len())
            .field("width", &self.width)
            .field("height", &self.height)
            .field("thumbnail_bytes", &self.thumbnail.len())
            .finish()
    }
}

/// RGB pixels decoded from a stored photo or thumbnail, row by row, 3 bytes a pixel.
pub struct Pixels {
    /// Width.
    pub width: u32,
    /// Height.
    pub height: u32,
    /// `width × height × 3` bytes.
    pub rgb: Vec<u8>,
}

impl std::fmt::Debug for Pixels {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Pixels({}×{})", self.width, self.height)
    }
}

/// A picture as a source gave it, before it is normalised.
#[derive(Clone)]
pub enum Captured {
    /// Packed RGB pixels (a camera's YUYV or RGB frame, converted).
    Rgb {
        /// Width.
        width: u32,
        /// Height.
        height: u32,
        /// `width × height × 3` bytes.
        rgb: Vec<u8>,
    },
    /// A JPEG or PNG file's bytes (a file chosen, or a camera's MJPEG frame).
    Encoded(Vec<u8>),
}

impl std::fmt::Debug for Captured {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Captured::Rgb { width, height, .. } => write!(f, "Captured::Rgb({width}×{height})"),
            Captured::Encoded(b) => write!(f, "Captured::Encoded({} bytes)", b.len()),
        }
    }
}

/// Where a front end takes photos from: the board's camera, or the simulated kit's. The
/// binary opens the device and hands the front end one of these; the front end never names
/// a device.
pub trait Camera: Send {
    /// Takes one picture.
    fn capture(&mut self) -> Result<Captured, Box<dyn std::error::Error + Send + Sync>>;
}

/// Normalises what a source gave ([`normalise_rgb`] or [`normalise_file`]).
pub fn normalise_captured(c: Captured) -> Result<Normalised, PhotoInputError> {
    match c {
        Captured::Rgb { width, height, rgb } => normalise_rgb(width, height, rgb),
        Captured::Encoded(bytes) => normalise_file(&bytes),
    }
}

/// Stores a normalised photo of a case through a vault session (what [`Kit::attach_normalised`]
/// does; for a front end that has no kit open, such as a one-shot command).
pub fn attach(
    session: &mut Session,
    case: RecordId,
    n: &Normalised,
    now_ms: u64,
) -> Result<PhotoInfo, PhotoInputError> {
    let photo = NewPhoto {
        image: &n.jpeg,
        media_type: MEDIA_TYPE,
        width: n.width,
        height: n.height,
        thumbnail: &n.thumbnail,
    };
    Ok(session.attach_photo(RecordKind::Case, case, &photo, now_ms)?)
}

/// Normalises a JPEG or PNG file's bytes (see the module documentation).
pub fn normalise_file(bytes: &[u8]) -> Result<Normalised, PhotoInputError> {
    if bytes.len() > MAX_INPUT_BYTES {
        return Err(PhotoInputError::FileTooLarge {
            bytes: bytes.len(),
            limit: MAX_INPUT_BYTES,
        });
    }
    let format = image::guess_format(bytes).ok();
    match format {
        Some(ImageFormat::Jpeg | ImageFormat::Png) => {}
        Some(other) => {
            return Err(PhotoInputError::NotAPicture(format!(
                " (a {} picture)",
                other.extensions_str().first().unwrap_or(&"other")
            )));
        }
        None => return Err(PhotoInputError::NotAPicture(String::new())),
    }
    let mut reader = ImageReader::new(Cursor::new(bytes))
        .with_guessed_format()
        .map_err(|e| PhotoInputError::Undecodable(e.to_string()))?;
    let mut limits = Limits::default();
    limits.max_image_width = Some(MAX_INPUT_EDGE);
    limits.max_image_height = Some(MAX_INPUT_EDGE);
    limits.max_alloc = Some(MAX_DECODE_ALLOC);
    reader.limits(limits);
    let undecodable = |e: image::ImageError| PhotoInputError::Undecodable(e.to_string());
    let mut decoder = reader.into_decoder().map_err(undecodable)?;
    // A missing or unreadable orientation tag leaves the picture as stored.
    let orientation = decoder.orientation().ok();
    let mut picture = DynamicImage::from_decoder(decoder).map_err(undecodable)?;
    if let Some(o) = orientation {
        picture.apply_orientation(o);
    }
    normalise(&picture)
}

/// Normalises a camera frame of packed RGB pixels (3 bytes a pixel, row by row).
pub fn normalise_rgb(width: u32, height: u32, rgb: Vec<u8>) -> Result<Normalised, PhotoInputError> {
    let want = (width as usize)
        .checked_mul(height as usize)
        .and_then(|n| n.checked_mul(3))
        .unwrap_or(usize::MAX);
    let got = rgb.len();
    if width == 0 || height == 0 || width > MAX_INPUT_EDGE || height > MAX_INPUT_EDGE {
        return Err(PhotoInputError::BadFrame {
            width,
            height,
            got,
            want,
        });
    }
    let picture = RgbImage::from_raw(width, height, rgb).ok_or(PhotoInputError::BadFrame {
        width,
        height,
        got,
        want,
    })?;
    normalise(&DynamicImage::ImageRgb8(picture))
}

fn normalise(picture: &DynamicImage) -> Result<Normalised, PhotoInputError> {
    let fitted = if picture.width() > MAX_EDGE || picture.height() > MAX_EDGE {
        picture.resize(MAX_EDGE, MAX_EDGE, FilterType::Triangle)
    } else {
        picture.clone()
    };
    let rgb = fitted.to_rgb8();
    let mut jpeg = None;
    for q in QUALITIES {
        let bytes = encode_jpeg(&rgb, q)?;
        if bytes.len() <= MAX_PHOTO_BYTES {
            jpeg = Some(bytes);
            break;
        }
    }
    let jpeg = jpeg.ok_or(PhotoInputError::TooLarge {
        limit: MAX_PHOTO_BYTES,
    })?;
    let thumb = DynamicImage::ImageRgb8(rgb.clone())
        .thumbnail(THUMB_EDGE, THUMB_EDGE)
        .to_rgb8();
    let thumbnail = encode_jpeg(&thumb, THUMB_QUALITY)?;
    Ok(Normalised {
        jpeg,
        width: rgb.width(),
        height: rgb.height(),
        thumbnail,
    })
}

fn encode_jpeg(rgb: &RgbImage, quality: u8) -> Result<Vec<u8>, PhotoInputError> {
    let mut out = Vec::with_capacity(64 << 10);
    JpegEncoder::new_with_quality(&mut out, quality)
        .encode_image(rgb)
        .map_err(|e| PhotoInputError::Encode(e.to_string()))?;
    Ok(out)
}

/// Decodes a stored photo or thumbnail (a JPEG the kit wrote) into RGB pixels for a screen.
pub fn decode(jpeg: &[u8]) -> Result<Pixels, PhotoInputError> {
    let mut reader = ImageReader::with_format(Cursor::new(jpeg), ImageFormat::Jpeg);
    let mut limits = Limits::default();
    limits.max_image_width = Some(MAX_EDGE);
    limits.max_image_height = Some(MAX_EDGE);
    reader.limits(limits);
    let rgb = reader
        .decode()
        .map_err(|e| PhotoInputError::Undecodable(e.to_string()))?
        .to_rgb8();
    Ok(Pixels {
        width: rgb.width(),
        height: rgb.height(),
        rgb: rgb.into_raw(),
    })
}

impl Kit {
    /// Attaches a photo from a JPEG or PNG file's bytes to a case (normalised, then sealed in
    /// one vault transaction with its audit entry).
    pub fn attach_photo_file(
        &mut self,
        case: RecordId,
        bytes: &[u8],
        now_ms: u64,
    ) -> Result<PhotoInfo, PhotoInputError> {
        let n = normalise_file(bytes)?;
        self.attach_normalised(case, &n, now_ms)
    }

    /// Attaches a camera frame of RGB pixels to a case.
    pub fn attach_photo_rgb(
        &mut self,
        case: RecordId,
        width: u32,
        height: u32,
        rgb: Vec<u8>,
        now_ms: u64,
    ) -> Result<PhotoInfo, PhotoInputError> {
        let n = normalise_rgb(width, height, rgb)?;
        self.attach_normalised(case, &n, now_ms)
    }

    /// Attaches a photo already normalised ([`normalise_file`], [`normalise_rgb`]), so a
    /// front end can normalise off its UI thread and hold the kit only to store.
    pub fn attach_normalised(
        &mut self,
        case: RecordId,
        n: &Normalised,
        now_ms: u64,
    ) -> Result<PhotoInfo, PhotoInputError> {
        attach(self.session_mut(), case, n, now_ms)
    }

    /// Every photo of a case as thumbnails with their details, in the order attached (no full
    /// photo is read; unaudited like a list: the caller audits the case it shows them with).
    pub fn photos(&self, case: RecordId) -> Result<Vec<Thumbnail>, PhotoError> {
        self.session()
            .photo_thumbnails(RecordKind::Case, case, usize::MAX)
    }

    /// The first photo's thumbnail, for a list row (`None`: no photo).
    pub fn thumbnail(&self, case: RecordId) -> Result<Option<Thumbnail>, PhotoError> {
        Ok(self
            .session()
            .photo_thumbnails(RecordKind::Case, case, 1)?
            .into_iter()
            .next())
    }

    /// One full photo (audited).
    pub fn photo(&mut self, case: RecordId, slot: u32, now_ms: u64) -> Result<Photo, PhotoError> {
        self.session_mut()
            .photo(RecordKind::Case, case, slot, now_ms)
    }

    /// Removes one photo (audited).
    pub fn remove_photo(
        &mut self,
        case: RecordId,
        slot: u32,
        now_ms: u64,
    ) -> Result<(), PhotoError> {
        self.session_mut()
            .remove_photo(RecordKind::Case, case, slot, now_ms)
    }
}
