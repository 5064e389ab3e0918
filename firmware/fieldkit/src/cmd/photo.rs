//! `fieldkit case photo ...`: a child's photos, through the kit core (`fieldkit_app::photos`),
//! and the cameras the binary opens for it and for the touch screen.
//!
//! `add` takes a JPEG or PNG file (`--file`), a picture from the kit's camera (`--camera`, the
//! V4L2 device `kiosk.camera` names) or, in a build with the simulated kit, the simulated
//! camera's test picture (`--test-picture`); the kit core normalises it and the vault seals it.
//! `export` is the one way a photo leaves the vault in the clear: to a new file the caseworker
//! names (mode 0600, never over an existing file), audited as an export.

use std::io::Write;
use std::path::{Path, PathBuf};

use anyhow::{Context, bail};
use serde_json::json;

use fieldkit_app::photos::{self, Camera, Captured};
use fieldkit_domain::RecordKind;
use fieldkit_drivers::camera::{Frame, FrameError, PixelFormat};

use super::records::resolve;
use super::{Ctx, now_ms, print_json};

/// Photos of a case.
#[derive(Debug, clap::Subcommand)]
pub enum PhotoCommand {
    /// Attach a photo to a case: from a JPEG or PNG file, or from the kit's camera.
    Add {
        /// Case id, or its short id (the last 8 hex digits lists print).
        id: String,
        /// A JPEG or PNG file.
        #[arg(long, required_unless_present_any = ["camera", "test_picture"], conflicts_with_all = ["camera", "test_picture"])]
        file: Option<PathBuf>,
        /// Take the picture with the kit's camera (`kiosk.camera` in the configuration).
        #[arg(long, conflicts_with = "test_picture")]
        camera: bool,
        /// Take the simulated camera's test picture (builds with the simulated kit).
        #[arg(long)]
        test_picture: bool,
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
    /// List a case's photos (slot, size, when, by whom).
    List {
        /// Case id, or its short id.
        id: String,
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
    /// Write one photo to a new JPEG file, in the clear (audited as an export).
    Export {
        /// Case id, or its short id.
        id: String,
        /// The photo's slot (`photo list` shows them).
        slot: u32,
        /// The file to write (must not exist).
        #[arg(long)]
        out: PathBuf,
    },
    /// Remove one photo of a case.
    Remove {
        /// Case id, or its short id.
        id: String,
        /// The photo's slot.
        slot: u32,
    },
}

/// Runs a photo command.
pub fn run(ctx: &Ctx, cmd: PhotoCommand) -> anyhow::Result<()> {
    match cmd {
        PhotoCommand::Add {
            id,
            file,
            camera,
            test_picture,
            json: json_out,
        } => {
            // The picture first: a camera or file that fails asks for no PIN.
            let captured = if let Some(f) = file {
                let bytes = read_picture(&f)?;
                Captured::Encoded(bytes)
            } else if camera {
                let mut cam = board_camera(ctx)?;
                cam.capture()
                    .map_err(|e| anyhow::anyhow!("{e}"))
                    .context("taking the picture")?
            } else if test_picture {
                let mut cam = simulated_camera()?;
                cam.capture().map_err(|e| anyhow::anyhow!("{e}"))?
            } else {
                bail!("say where the picture comes from: --file, --camera or --test-picture");
            };
            let normalised = photos::normalise_captured(captured)?;
            let mut s = ctx.session()?;
            let case = resolve(&s, RecordKind::Case, &id)?;
            let info = photos::attach(&mut s, case, &normalised, now_ms())?;
            if json_out {
                print_json(&json!({"id": case.to_string(), "photo": info}))
            } else {
                println!(
                    "photo {} attached to case {} ({}×{}, {} KB)",
                    info.slot,
                    case.short(),
                    info.width,
                    info.height,
                    info.bytes.div_ceil(1024)
                );
                Ok(())
            }
        }
        PhotoCommand::List { id, json: json_out } => {
            let s = ctx.session()?;
            let case = resolve(&s, RecordKind::Case, &id)?;
            let thumbs = s.photo_thumbnails(RecordKind::Case, case, usize::MAX)?;
            if json_out {
                let list: Vec<_> = thumbs.iter().map(|t| &t.info).collect();
                return print_json(&json!({"id": case.to_string(), "photos": list}));
            }
            if thumbs.is_empty() {
                println!("case {} has no photo", case.short());
            }
            for t in &thumbs {
                let i = &t.info;
                println!(
                    "{}  {}×{}  {} KB  added {} by {}",
                    i.slot,
                    i.width,
                    i.height,
                    i.bytes.div_ceil(1024),
                    super::audit::when(i.added_ms),
                    i.added_by
                );
            }
            Ok(())
        }
        PhotoCommand::Export { id, slot, out } => {
            let mut s = ctx.session()?;
            let case = resolve(&s, RecordKind::Case, &id)?;
            let now = now_ms();
            let photo = s.photo(RecordKind::Case, case, slot, now)?;
            write_new(&out, &photo.image)?;
            s.audit_plain_export(1, "photo-jpeg", now)?;
            println!(
                "photo {slot} of case {} written to {} (in the clear: delete it when done)",
                case.short(),
                out.display()
            );
            Ok(())
        }
        PhotoCommand::Remove { id, slot } => {
            let mut s = ctx.session()?;
            let case = resolve(&s, RecordKind::Case, &id)?;
            s.remove_photo(RecordKind::Case, case, slot, now_ms())?;
            println!("photo {slot} of case {} removed", case.short());
            Ok(())
        }
    }
}

fn read_picture(path: &Path) -> anyhow::Result<Vec<u8>> {
    let len = std::fs::metadata(path)
        .with_context(|| format!("reading {}", path.display()))?
        .len();
    if len > photos::MAX_INPUT_BYTES as u64 {
        bail!(
            "{} is {} MB: pictures of at most {} MB are accepted",
            path.display(),
            len >> 20,
            photos::MAX_INPUT_BYTES >> 20
        );
    }
    std::fs::read(path).with_context(|| format!("reading {}", path.display()))
}

/// Writes a new file readable by its owner only; never replaces one.
fn write_new(path: &Path, bytes: &[u8]) -> anyhow::Result<()> {
    use std::os::unix::fs::OpenOptionsExt;
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)
        .with_context(|| format!("creating {} (it must not exist)", path.display()))?;
    f.write_all(bytes)
        .and_then(|()| f.sync_all())
        .with_context(|| format!("writing {}", path.display()))
}

/// What a camera frame gives the kit core: an MJPEG frame is a JPEG (its Huffman tables, when
/// left out, are filled in by the decoder), a YUYV or RGB frame is converted to RGB.
pub fn captured(frame: Frame) -> Result<Captured, FrameError> {
    if frame.format == PixelFormat::Mjpeg {
        return Ok(Captured::Encoded(frame.bytes));
    }
    let rgb = frame.to_rgb()?;
    Ok(Captured::Rgb {
        width: frame.width,
        height: frame.height,
        rgb,
    })
}

/// The picture size asked of a camera (it may give the nearest it has).
const CAMERA_SIZE: (u32, u32) = (1280, 720);

/// The kit's camera over V4L2, as the configuration names it.
#[cfg(target_pointer_width = "64")]
struct BoardCamera(fieldkit_linux::camera::V4l2Camera);

#[cfg(target_pointer_width = "64")]
impl Camera for BoardCamera {
    fn capture(&mut self) -> Result<Captured, Box<dyn std::error::Error + Send + Sync>> {
        Ok(captured(self.0.capture()?)?)
    }
}

/// The board's camera (`kiosk.camera`; "" for none).
pub fn board_camera(ctx: &Ctx) -> anyhow::Result<Box<dyn Camera>> {
    camera_at(&ctx.config.kiosk.camera)
        .with_context(|| "no camera: set `camera` in the [kiosk] section of the configuration")
}

/// The camera at a device path (`None` for "", or on a 32-bit build, which has no V4L2 layer).
pub fn camera_at(device: &str) -> Option<Box<dyn Camera>> {
    if device.is_empty() {
        return None;
    }
    #[cfg(target_pointer_width = "64")]
    {
        let (w, h) = CAMERA_SIZE;
        Some(Box::new(BoardCamera(
            fieldkit_linux::camera::V4l2Camera::new(Path::new(device), w, h),
        )))
    }
    #[cfg(not(target_pointer_width = "64"))]
    {
        let _ = CAMERA_SIZE;
        None
    }
}

#[cfg(feature = "simulation")]
struct SimCamera(fieldkit_sim::camera::SimulatedCamera);

#[cfg(feature = "simulation")]
impl Camera for SimCamera {
    fn capture(&mut self) -> Result<Captured, Box<dyn std::error::Error + Send + Sync>> {
        Ok(captured(self.0.capture()?)?)
    }
}

/// The simulated kit's camera (its test picture, as YUYV frames).
#[cfg(feature = "simulation")]
pub fn simulated_camera() -> anyhow::Result<Box<dyn Camera>> {
    let (w, h) = CAMERA_SIZE;
    Ok(Box::new(SimCamera(
        fieldkit_sim::camera::SimulatedCamera::new(w, h),
    )))
}

/// The simulated kit's camera: not in this build.
#[cfg(not(feature = "simulation"))]
pub fn simulated_camera() -> anyhow::Result<Box<dyn Camera>> {
    bail!("this build has no simulated kit: --test-picture is not available")
}

/// The touch screen's photo sources: the simulated camera with `--simulate` (when built in),
/// else the board's camera; the photo folder from the configuration.
pub fn screen_sources(ctx: &Ctx, simulate: bool) -> fieldkit_ui::controller::PhotoSources {
    let camera = if simulate {
        simulated_camera().ok()
    } else {
        camera_at(&ctx.config.kiosk.camera)
    };
    fieldkit_ui::controller::PhotoSources {
        camera,
        folder: Some(ctx.config.kiosk.photo_folder.clone()),
    }
}
