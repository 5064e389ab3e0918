//! The case form's photo section and the case list's thumbnails, through the kit core's
//! photos (`fieldkit_app::photos`): take a photo with the camera the binary handed in, choose
//! a JPEG or PNG file from the photo folder (a USB stick's mount point in the configuration),
//! remove one after a confirmation. Every picture is normalised and sealed by the kit core;
//! nothing here writes a file.
//!
//! The list shows each row's first thumbnail (128 px), never a full photo. The form shows the
//! case's last photo, opened in full (audited as opened) and decoded on a "photo" worker thread:
//! the case opens at once, the photo appears when decoded, and only if the same case is still
//! on the form.
//!
//! Taking a photo or choosing a file runs on a worker thread ("photo"), as the PIN pad's
//! sign-in does: the camera's frame (or the file), normalising it (decode, scale, JPEG encode,
//! thumbnail: 0.3–0.4 s on the kit for a camera frame, longer for a large file), sealing it in
//! the vault and decoding the photo to show take the UI thread nothing; the section says it is
//! storing a photo and its buttons wait meanwhile. The result comes back through
//! `slint::invoke_from_event_loop` and is shown only if the same case is still on the form.

use std::cell::RefCell;
use std::path::{Path, PathBuf};
use std::rc::{Rc, Weak};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};

use fieldkit_app::Kit;
use fieldkit_app::photos::{self, Camera, Captured, PhotoInputError, Pixels};
use fieldkit_domain::RecordId;
use slint::{ComponentHandle, Rgb8Pixel, SharedPixelBuffer, SharedString};

use super::{Inner, KitSlot, SharedKit, lock_slot, model, now_ms};
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

/// The sources as the screen holds them: the camera shared with the photo worker (which
/// takes a picture with it while the UI thread goes on).
#[derive(Default)]
pub(crate) struct Held {
    camera: Option<Arc<Mutex<Box<dyn Camera>>>>,
    folder: Option<PathBuf>,
}

impl From<Sources> for Held {
    fn from(s: Sources) -> Held {
        Held {
            camera: s.camera.map(|c| Arc::new(Mutex::new(c))),
            folder: s.folder,
        }
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

/// The last photo a worker should open for the form: each case opened (or photo stored) takes
/// the next ticket, and a worker whose ticket is no longer the latest stops or is ignored.
static OPENING: AtomicU64 = AtomicU64::new(0);

/// Reads a case's last photo (audited as opened) and decodes it, on the photo worker; `None`
/// when it has none, the kit was locked, or a newer case was opened meanwhile.
fn open_last(kit: &SharedKit, case: RecordId, ticket: u64) -> Option<(usize, Pixels)> {
    let photo = {
        let mut slot = lock_slot(kit);
        if OPENING.load(Ordering::SeqCst) != ticket {
            return None;
        }
        let KitSlot::Open(kit) = &mut *slot else {
            return None;
        };
        let all = kit.photos(case).ok()?;
        let last = all.last()?.info.slot;
        let photo = kit
            .photo(case, last, now_ms())
            .map_err(|e| tracing::warn!("photo not read: {e}"))
            .ok()?;
        (all.len(), photo)
    };
    // The slow part (up to 1 MiB of JPEG), with nothing held.
    let (count, photo) = photo;
    photos::decode(&photo.image)
        .map_err(|e| tracing::warn!("photo not decoded: {e}"))
        .ok()
        .map(|px| (count, px))
}

/// Shows the case's photos on the form: its last photo, opened in full and decoded on the
/// photo worker, so the case opens at once and its photo appears when decoded (only if the same
/// case is still open). A screen with no event loop (the screenshot writer) decodes it here.
pub(super) fn show(inner: &Inner, w: &MainWindow) {
    let a = w.global::<CaseFormAdapter>();
    a.set_camera_available(inner.photos.borrow().camera.is_some());
    a.set_choosing_file(false);
    a.set_confirm_remove(false);
    a.set_photo(slint::Image::default());
    a.set_has_photo(false);
    a.set_photo_count(0);
    a.set_photo_loading(false);
    let ticket = OPENING.fetch_add(1, Ordering::SeqCst) + 1;
    let Some(case) = inner.case_form.borrow().id else {
        return;
    };
    if !inner.event_loop {
        let shown = open_last(&inner.kit, case, ticket);
        shown_photo(w, shown.map(|(n, px)| (n, image_of(&px))));
        return;
    }
    a.set_photo_loading(true);
    let kit = inner.kit.clone();
    let spawned = std::thread::Builder::new()
        .name("photo".into())
        .spawn(move || {
            let shown = open_last(&kit, case, ticket);
            let sent = slint::invoke_from_event_loop(move || {
                let Some(inner) = SCREEN.with(|s| s.borrow().upgrade()) else {
                    return;
                };
                let Some(w) = inner.window() else { return };
                // Only for the case still on the form, and no newer photo shown meanwhile.
                if OPENING.load(Ordering::SeqCst) != ticket
                    || inner.case_form.borrow().id != Some(case)
                {
                    return;
                }
                w.global::<CaseFormAdapter>().set_photo_loading(false);
                shown_photo(&w, shown.map(|(n, px)| (n, image_of(&px))));
            });
            if let Err(e) = sent {
                tracing::warn!("photo not shown: {e}");
            }
        });
    if let Err(e) = spawned {
        tracing::error!("cannot start the photo thread: {e}");
        a.set_photo_loading(false);
    }
}

/// Puts a case's photo (and how many it has) on the form, or its placeholder.
fn shown_photo(w: &MainWindow, shown: Option<(usize, slint::Image)>) {
    let a = w.global::<CaseFormAdapter>();
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

/// Where the photo worker gets its picture.
enum Source {
    /// A picture taken with the kit's camera.
    Camera(Arc<Mutex<Box<dyn Camera>>>),
    /// A JPEG or PNG file in the photo folder.
    File(PathBuf),
}

/// Why the worker stored nothing: the page's message (`photo-message`).
#[derive(Debug)]
enum NotStored {
    /// The camera gave no picture, the file could not be read, or the picture was refused.
    Failed,
}

/// What the worker did, for the UI thread.
struct Stored {
    /// The case the photo went to.
    case: RecordId,
    /// How many photos it has now, and the last one decoded for the screen.
    shown: Result<(usize, Pixels), NotStored>,
}

/// On the photo worker: takes the picture, normalises it, seals it to `case` in the shared
/// kit, and reads back what the form shows (the count and the last photo, decoded).
fn store(kit: &SharedKit, case: RecordId, source: Source) -> Result<(usize, Pixels), NotStored> {
    let captured = match source {
        Source::Camera(camera) => camera
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .capture()
            .map_err(|e| tracing::warn!("the camera gave no picture: {e}")),
        Source::File(path) => std::fs::metadata(&path)
            .ok()
            .filter(|m| m.len() <= photos::MAX_INPUT_BYTES as u64)
            .and_then(|_| std::fs::read(&path).ok())
            .map(Captured::Encoded)
            .ok_or_else(|| tracing::warn!("picture file not read: {}", path.display())),
    }
    .map_err(|()| NotStored::Failed)?;
    // The slow part, with nothing held.
    let normalised = photos::normalise_captured(captured).map_err(|e| {
        tracing::warn!("photo not normalised: {e}");
        NotStored::Failed
    })?;
    let mut slot = lock_slot(kit);
    let KitSlot::Open(kit) = &mut *slot else {
        tracing::warn!("photo not attached: the kit was locked meanwhile");
        return Err(NotStored::Failed);
    };
    let last = kit
        .attach_normalised(case, &normalised, now_ms())
        .map_err(|e| {
            tracing::warn!("photo not attached: {e}");
            NotStored::Failed
        })?;
    let count = kit.photos(case).map_or(1, |p| p.len());
    // The photo just stored is shown (opened as the form opens it: audited).
    let photo = kit.photo(case, last.slot, now_ms()).map_err(|e| {
        tracing::warn!("photo stored but not read back: {e}");
        NotStored::Failed
    })?;
    drop(slot);
    photos::decode(&photo.image)
        .map(|px| (count, px))
        .map_err(|e: PhotoInputError| {
            tracing::warn!("photo stored but not decoded: {e}");
            NotStored::Failed
        })
}

thread_local! {
    /// The screen's controllers on the UI thread, for the worker's result (the kiosk has one
    /// screen; a newer one installed on the thread takes over).
    static SCREEN: RefCell<Weak<Inner>> = const { RefCell::new(Weak::new()) };
}

/// Starts storing a picture for the case on the form, on the photo worker.
fn start(inner: &Rc<Inner>, w: &MainWindow, source: Source) {
    let a = w.global::<CaseFormAdapter>();
    let Some(case) = inner.case_form.borrow().id else {
        // A case not yet saved has no id: the form saves on the first field, so this is a
        // form with no name yet.
        a.set_photo_message("failed".into());
        return;
    };
    if a.get_photo_busy() {
        return;
    }
    a.set_photo_busy(true);
    a.set_photo_message(SharedString::new());
    let kit = inner.kit.clone();
    let spawned = std::thread::Builder::new()
        .name("photo".into())
        .spawn(move || {
            let stored = Stored {
                case,
                shown: store(&kit, case, source),
            };
            let sent = slint::invoke_from_event_loop(move || {
                if let Some(inner) = SCREEN.with(|s| s.borrow().upgrade()) {
                    finish(&inner, stored);
                }
            });
            if let Err(e) = sent {
                tracing::warn!("photo result not shown: {e}");
            }
        });
    if let Err(e) = spawned {
        tracing::error!("cannot start the photo thread: {e}");
        a.set_photo_busy(false);
        a.set_photo_message("failed".into());
    }
}

/// Back on the UI thread: the section shows the stored photo if its case is still open, and
/// the list reads its thumbnails again.
fn finish(inner: &Rc<Inner>, stored: Stored) {
    let Some(w) = inner.window() else { return };
    let a = w.global::<CaseFormAdapter>();
    a.set_photo_busy(false);
    super::cases::forget_pages(inner);
    if inner.case_form.borrow().id != Some(stored.case) {
        return;
    }
    match stored.shown {
        Ok((count, px)) => {
            // A worker still opening the case's previous photo is overtaken.
            OPENING.fetch_add(1, Ordering::SeqCst);
            a.set_photo_loading(false);
            a.set_photo_message(SharedString::new());
            a.set_photo(image_of(&px));
            a.set_has_photo(true);
            a.set_photo_count(i32::try_from(count).unwrap_or(i32::MAX));
        }
        Err(NotStored::Failed) => a.set_photo_message("failed".into()),
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
    SCREEN.with(|s| *s.borrow_mut() = Rc::downgrade(inner));
    let a = window.global::<CaseFormAdapter>();
    let i = inner.clone();
    a.on_take_photo(move || {
        let Some(w) = i.window() else { return };
        let camera = i.photos.borrow().camera.clone();
        match camera {
            None => w
                .global::<CaseFormAdapter>()
                .set_photo_message("no-camera".into()),
            Some(c) => start(&i, &w, Source::Camera(c)),
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
        start(&i, &w, Source::File(folder.join(name.as_str())));
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
pub(crate) type SharedSources = RefCell<Held>;
