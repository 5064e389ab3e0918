//! The case form's photo section and the case list's thumbnails, through the kit core's
//! photos (`fieldkit_app::photos`): take a photo with the camera the binary handed in, choose
//! a JPEG or PNG file from the photo folder (a USB stick's mount point in the configuration),
//! remove one after a confirmation. Every picture is normalised and sealed by the kit core;
//! nothing here writes a file.
//!
//! The list shows each row's first thumbnail (128 px, decoded when its page of rows is read
//! and kept with that page), never a full photo. The form shows the case's last photo, opened
//! in full (audited as opened). Taking a photo runs on the UI thread: a camera gives its frame
//! in a few hundred milliseconds, and the page says nothing else meanwhile.

use std::cell::RefCell;
use std::path::{Path, PathBuf};
use std::rc::Rc;

use fieldkit_app::Kit;
use fieldkit_app::photos::{self, Camera, Captured};
use fieldkit_domain::RecordId;
use slint::{ComponentHandle, Rgb8Pixel, SharedPixelBuffer, SharedString};

use super::{Inner, model, now_ms};
use crate::{CaseFormAdapter, MainWindow};

/// Where photos come from: the camera and the folder of picture files.
#[derive(Default)]
pub struct Sources {
    /// The kit's camera (or the simulated one); `None`: no camera.
    pub camera: Option<Box<dyn Camera>>,
    /// The folder the screen lists picture files from.
    pub folder: Option<PathBuf>,
}

impl std::fmt::Debug for Sources {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Sources")
            .field("camera", &self.camera.is_some())
            .field("folder", &self.folder)
            .finish()
    }
}

/// The most picture files the chooser lists (newest first).
const FILES_LISTED: usize = 24;

/// RGB pixels as an image for the screen.
fn image_of(px: &photos::Pixels) -> slint::Image {
    let buf = SharedPixelBuffer::<Rgb8Pixel>::clone_from_slice(&px.rgb, px.width, px.height);
    slint::Image::from_rgb8(buf)
}

/// A case's first thumbnail as an image (`None`: no photo, or it could not be read).
pub(super) fn thumbnail(kit: &Kit, id: RecordId) -> Option<slint::Image> {
    let t = match kit.thumbnail(id) {
        Ok(t) => t?,
        Err(e) => {
            tracing::warn!("thumbnail not read: {e}");
            return None;
        }
    };
    photos::decode(&t.image).ok().map(|px| image_of(&px))
}

/// Shows the case's photos on the form (its last photo, opened in full).
pub(super) fn show(inner: &Inner, w: &MainWindow) {
    let a = w.global::<CaseFormAdapter>();
    a.set_camera_available(inner.photos.borrow().camera.is_some());
    a.set_choosing_file(false);
    a.set_confirm_remove(false);
    let id = inner.case_form.borrow().id;
    let shown = id.and_then(|id| {
        inner
            .with_kit(|kit| {
                let all = kit.photos(id).ok()?;
                let last = all.last()?.info.slot;
                let photo = kit.photo(id, last, now_ms()).ok()?;
                let px = photos::decode(&photo.image).ok()?;
                Some((all.len(), image_of(&px)))
            })
            .flatten()
    });
    match shown {
        Some((n, img)) => {
            a.set_photo(img);
            a.set_has_photo(true);
            a.set_photo_count(i32::try_from(n).unwrap_or(i32::MAX));
        }
        None => {
            a.set_photo(slint::Image::default());
            a.set_has_photo(false);
            a.set_photo_count(0);
        }
    }
}

/// Attaches a picture to the open case (registering nothing: the case must be saved first).
fn attach(inner: &Rc<Inner>, w: &MainWindow, captured: Captured) {
    let a = w.global::<CaseFormAdapter>();
    let Some(id) = inner.case_form.borrow().id else {
        // A case not yet saved has no id: the form saves on the first field, so this is a
        // form with no name yet.
        a.set_photo_message("failed".into());
        return;
    };
    let done = photos::normalise_captured(captured).and_then(|n| {
        inner
            .with_kit(|kit| kit.attach_normalised(id, &n, now_ms()))
            .unwrap_or(Err(photos::PhotoInputError::Encode(
                "the kit is locked".into(),
            )))
    });
    match done {
        Ok(_) => {
            a.set_photo_message(SharedString::new());
            show(inner, w);
            super::cases::forget_pages(inner);
        }
        Err(e) => {
            tracing::warn!("photo not attached: {e}");
            a.set_photo_message("failed".into());
        }
    }
}

/// The picture files in `folder`, newest first.
fn picture_files(folder: &Path) -> Vec<String> {
    let Ok(dir) = std::fs::read_dir(folder) else {
        return Vec::new();
    };
    let mut files: Vec<(std::time::SystemTime, String)> = dir
        .flatten()
        .filter_map(|e| {
            let name = e.file_name().to_str()?.to_owned();
            let ext = Path::new(&name).extension()?.to_str()?.to_ascii_lowercase();
            if !matches!(ext.as_str(), "jpg" | "jpeg" | "png") || name.starts_with('.') {
                return None;
            }
            let meta = e.metadata().ok().filter(std::fs::Metadata::is_file)?;
            Some((meta.modified().unwrap_or(std::time::UNIX_EPOCH), name))
        })
        .collect();
    files.sort_by(|a, b| b.cmp(a));
    files.truncate(FILES_LISTED);
    files.into_iter().map(|(_, n)| n).collect()
}

pub(super) fn install(inner: &Rc<Inner>, window: &MainWindow) {
    let a = window.global::<CaseFormAdapter>();
    let i = inner.clone();
    a.on_take_photo(move || {
        let Some(w) = i.window() else { return };
        let taken = i.photos.borrow_mut().camera.as_mut().map(|c| c.capture());
        match taken {
            None => w
                .global::<CaseFormAdapter>()
                .set_photo_message("no-camera".into()),
            Some(Err(e)) => {
                tracing::warn!("the camera gave no picture: {e}");
                w.global::<CaseFormAdapter>()
                    .set_photo_message("failed".into());
            }
            Some(Ok(c)) => attach(&i, &w, c),
        }
    });
    let i = inner.clone();
    a.on_photo_from_file(move || {
        let Some(w) = i.window() else { return };
        let a = w.global::<CaseFormAdapter>();
        let files = i
            .photos
            .borrow()
            .folder
            .as_deref()
            .map(picture_files)
            .unwrap_or_default();
        if files.is_empty() {
            a.set_photo_message("no-files".into());
            a.set_choosing_file(false);
            return;
        }
        a.set_photo_message(SharedString::new());
        a.set_picture_files(model(files.into_iter().map(SharedString::from).collect()));
        a.set_choosing_file(true);
    });
    let i = inner.clone();
    a.on_choose_file(move |name| {
        let Some(w) = i.window() else { return };
        w.global::<CaseFormAdapter>().set_choosing_file(false);
        let Some(folder) = i.photos.borrow().folder.clone() else {
            return;
        };
        // Only a plain name the chooser listed: never a path out of the folder.
        if name.contains('/') || name.starts_with('.') {
            return;
        }
        let path = folder.join(name.as_str());
        let bytes = std::fs::metadata(&path)
            .ok()
            .filter(|m| m.len() <= photos::MAX_INPUT_BYTES as u64)
            .and_then(|_| std::fs::read(&path).ok());
        match bytes {
            Some(b) => attach(&i, &w, Captured::Encoded(b)),
            None => w
                .global::<CaseFormAdapter>()
                .set_photo_message("failed".into()),
        }
    });
    let i = inner.clone();
    a.on_remove_photo(move || {
        let Some(w) = i.window() else { return };
        let Some(id) = i.case_form.borrow().id else {
            return;
        };
        let removed = i.with_kit(|kit| {
            let last = kit.photos(id).ok()?.last()?.info.slot;
            kit.remove_photo(id, last, now_ms()).ok()
        });
        if removed.flatten().is_none() {
            w.global::<CaseFormAdapter>()
                .set_photo_message("failed".into());
        }
        show(&i, &w);
        super::cases::forget_pages(&i);
    });
}

/// The sources the screen was given, shared with [`Inner`].
pub(super) type SharedSources = RefCell<Sources>;
