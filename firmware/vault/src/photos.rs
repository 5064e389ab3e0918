//! Children's photos, sealed like records: each photo a case holds is two rows, the image
//! (`photos`) and a small thumbnail with the photo's details (`photo_thumbs`), so a list shows
//! thumbnails without reading or decrypting a single full photo.
//!
//! The vault does not decode images: the kit core hands it an image already normalised
//! (`fieldkit_app::photos`) and a thumbnail, as bytes. Both rows are sealed with
//! XChaCha20-Poly1305 under a key derived from the data key (`fieldkit photos v1`, re-sealed
//! when the keys rotate); the associated data binds each row to its table, its case and its
//! slot, so a row moved to another case or slot, a thumbnail put in a photo's place, or a
//! flipped byte is refused as [`VaultError::Tampered`]. Nothing is written in the clear: the
//! photo's pixels and its JPEG bytes exist on disk only as ciphertext.
//!
//! Attaching, opening a full photo and removing are audited with the case (`PhotoAdded`,
//! `PhotoOpened`, `PhotoRemoved`); thumbnails are read unaudited, as list summaries are (the
//! list page or the opened case is audited by its caller). [`Session::verify`] opens every
//! photo row and checks that its case exists.
//!
//! Known gap, as for the sync tables: photo rows are not bound into the sealed manifest, so a
//! photo row deleted, or put back from an older copy of this same file, is caught only by the
//! rollback anchor (TPM mode), as the file is. Records are never deleted from a vault, so a
//! photo is removed only by [`Session::remove_photo`].

use std::fmt;

use redb::{
    ReadableDatabase, ReadableTable, ReadableTableMetadata, TableDefinition, WriteTransaction,
};
use serde::{Deserialize, Serialize};
use zeroize::Zeroizing;

use fieldkit_domain::{RecordId, RecordKind};

use crate::audit::AuditAction;
use crate::crypto::{self, Key};
use crate::error::{CryptoError, Result, StoreError, VaultError};
use crate::schema::{self, VERSIONS};
use crate::session::Session;
use crate::storage::{Row, begin, decode, encode, hex};

/// Full photos: case key (17 bytes) + slot (4 bytes, big-endian) → sealed image bytes.
pub(crate) const PHOTOS: TableDefinition<&[u8], &[u8]> = TableDefinition::new("photos");
/// Thumbnails: same key → sealed details and thumbnail.
pub(crate) const THUMBS: TableDefinition<&[u8], &[u8]> = TableDefinition::new("photo_thumbs");

/// The largest photo the vault stores, in bytes (the kit core normalises a 1280-pixel JPEG to
/// well under half of this).
pub const MAX_PHOTO_BYTES: usize = 1 << 20;
/// The largest thumbnail, in bytes.
pub const MAX_THUMBNAIL_BYTES: usize = 64 << 10;
/// The most photos one case holds.
pub const MAX_PHOTOS_PER_CASE: usize = 8;

/// What the kit core hands the vault to store.
pub struct NewPhoto<'a> {
    /// The normalised image (JPEG).
    pub image: &'a [u8],
    /// Its media type (`image/jpeg`).
    pub media_type: &'a str,
    /// Its width in pixels.
    pub width: u32,
    /// Its height in pixels.
    pub height: u32,
    /// The thumbnail (JPEG).
    pub thumbnail: &'a [u8],
}

impl fmt::Debug for NewPhoto<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("NewPhoto")
            .field("bytes", &self.image.len())
            .field("media_type", &self.media_type)
            .field("width", &self.width)
            .field("height", &self.height)
            .finish_non_exhaustive()
    }
}

/// A stored photo's details (no image data).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PhotoInfo {
    /// Its slot in the case: numbered from 1 in the order attached, never reused while the
    /// case holds a photo.
    pub slot: u32,
    /// When it was attached (the kit's wall time).
    pub added_ms: u64,
    /// Who attached it.
    pub added_by: String,
    /// Width in pixels.
    pub width: u32,
    /// Height in pixels.
    pub height: u32,
    /// Size of the stored image in bytes.
    pub bytes: u32,
    /// Media type of the stored image.
    pub media_type: String,
}

/// A thumbnail with the details of its photo. Its bytes are zeroized when dropped and never
/// printed.
pub struct Thumbnail {
    /// The photo it stands for.
    pub info: PhotoInfo,
    /// The thumbnail image (JPEG).
    pub image: Zeroizing<Vec<u8>>,
}

impl fmt::Debug for Thumbnail {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Thumbnail")
            .field("info", &self.info)
            .field("bytes", &self.image.len())
            .finish()
    }
}

/// A full photo. Its bytes are zeroized when dropped and never printed.
pub struct Photo {
    /// Its details.
    pub info: PhotoInfo,
    /// The image.
    pub image: Zeroizing<Vec<u8>>,
}

impl fmt::Debug for Photo {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Photo")
            .field("info", &self.info)
            .field("bytes", &self.image.len())
            .finish()
    }
}

/// The sealed plaintext of a thumbnail row.
#[derive(Serialize, Deserialize)]
struct ThumbRow {
    info: PhotoInfo,
    thumbnail: Vec<u8>,
}

impl Drop for ThumbRow {
    fn drop(&mut self) {
        zeroize::Zeroize::zeroize(&mut self.thumbnail);
    }
}

/// The 21-byte key of a photo: the case's record key, then the slot (big-endian, so a case's
/// photos sit together in slot order).
fn photo_key(id: RecordId, slot: u32) -> [u8; 21] {
    let mut k = [0u8; 21];
    k[..17].copy_from_slice(&schema::record_key(RecordKind::Case, id));
    k[17..].copy_from_slice(&slot.to_be_bytes());
    k
}

fn slot_of(key: &[u8]) -> Option<u32> {
    let s: [u8; 4] = key.get(17..21)?.try_into().ok()?;
    (key.len() == 21).then_some(u32::from_be_bytes(s))
}

/// The range of keys of one case's photos.
fn case_range(id: RecordId) -> ([u8; 21], [u8; 21]) {
    (photo_key(id, 0), photo_key(id, u32::MAX))
}

/// Associated data: row format, table, case and slot.
fn aad(table: &str, key: &[u8; 21]) -> Vec<u8> {
    let mut aad = Vec::with_capacity(48);
    aad.extend_from_slice(b"fieldkit/photo/v1|");
    aad.extend_from_slice(table.as_bytes());
    aad.push(b'|');
    aad.extend_from_slice(key);
    aad
}

fn key21(k: &[u8]) -> Result<[u8; 21]> {
    k.try_into().map_err(|_| VaultError::Tampered {
        what: format!("photo key {}", hex(k)),
    })
}

fn tampered(table: &str, key: &[u8]) -> VaultError {
    VaultError::Tampered {
        what: format!("{table} row {}", hex(key)),
    }
}

fn seal_row(key: &Key, table: &str, k: &[u8; 21], plain: &[u8]) -> Result<Vec<u8>> {
    let sealed = crypto::seal(key, &aad(table, k), plain)?;
    Ok(Row { version: 0, sealed }.to_bytes())
}

fn open_row(key: &Key, table: &str, k: &[u8; 21], bytes: &[u8]) -> Result<Zeroizing<Vec<u8>>> {
    let row = Row::from_bytes(bytes).ok_or_else(|| tampered(table, k))?;
    crypto::open(key, &aad(table, k), &row.sealed).map_err(|_| tampered(table, k))
}

fn open_thumb(key: &Key, k: &[u8; 21], bytes: &[u8]) -> Result<ThumbRow> {
    let plain = open_row(key, "photo_thumbs", k, bytes)?;
    let row: ThumbRow = decode(&plain, "photo thumbnail")?;
    if Some(row.info.slot) != slot_of(k) {
        return Err(tampered("photo_thumbs", k));
    }
    Ok(row)
}

fn only_cases(kind: RecordKind) -> Result<(), PhotoError> {
    if kind == RecordKind::Case {
        Ok(())
    } else {
        Err(PhotoError::NotACase(kind))
    }
}

/// A photo operation (attach, thumbnails, open, remove) failed. Nothing is half-written.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum PhotoError {
    /// Photos are kept for cases only.
    #[error("photos are kept for cases only, not for a {0}")]
    NotACase(RecordKind),
    /// No such case.
    #[error("no {kind} with id {id}")]
    NotFound {
        /// Kind sought.
        kind: RecordKind,
        /// Id sought.
        id: RecordId,
    },
    /// The case holds no photo in this slot.
    #[error("this case has no photo {0}")]
    NoSuchPhoto(u32),
    /// An image or thumbnail over its limit (or empty).
    #[error("a {what} of {bytes} bytes: it must be 1 to {limit} bytes")]
    TooLarge {
        /// `photo` or `thumbnail`.
        what: &'static str,
        /// Its size.
        bytes: usize,
        /// The limit.
        limit: usize,
    },
    /// The case already holds the most photos a case may.
    #[error("this case already holds {0} photos, the most a case may: remove one first")]
    Full(usize),
    /// Damage, tampering, storage, cryptography or hardware.
    #[error(transparent)]
    Store(StoreError),
    /// A failure this operation does not list (a fieldkit defect).
    #[error(transparent)]
    Unexpected(Box<VaultError>),
}

impl From<VaultError> for PhotoError {
    fn from(e: VaultError) -> Self {
        match e {
            VaultError::NotFound { kind, id } => PhotoError::NotFound { kind, id },
            other => match StoreError::try_from(other) {
                Ok(s) => PhotoError::Store(s),
                Err(other) => PhotoError::Unexpected(Box::new(other)),
            },
        }
    }
}

impl From<StoreError> for PhotoError {
    fn from(e: StoreError) -> Self {
        PhotoError::Store(e)
    }
}

impl From<PhotoError> for VaultError {
    fn from(e: PhotoError) -> Self {
        match e {
            PhotoError::NotFound { kind, id } => VaultError::NotFound { kind, id },
            PhotoError::Store(s) => s.into(),
            PhotoError::Unexpected(e) => *e,
            other => VaultError::BadChange(other.to_string()),
        }
    }
}

macro_rules! photo_error_through {
    ($($t:ty),*) => {$(
        impl From<$t> for PhotoError {
            fn from(e: $t) -> Self {
                VaultError::from(e).into()
            }
        }
    )*};
}
photo_error_through!(
    CryptoError,
    redb::Error,
    redb::StorageError,
    redb::TableError,
    redb::TransactionError,
    redb::CommitError,
    redb::SetDurabilityError
);

/// Seals every photo and thumbnail again under new keys (key rotation), one photo at a time.
pub(crate) fn reseal(txn: &WriteTransaction, old: &Key, new: &Key) -> Result<()> {
    for (table, def) in [("photos", PHOTOS), ("photo_thumbs", THUMBS)] {
        let keys: Vec<Vec<u8>> = {
            let t = txn.open_table(def)?;
            let mut out = Vec::new();
            for row in t.iter()? {
                out.push(row?.0.value().to_vec());
            }
            out
        };
        let mut t = txn.open_table(def)?;
        for k in keys {
            let k = key21(&k)?;
            let plain = {
                let v = t.get(k.as_slice())?.ok_or_else(|| tampered(table, &k))?;
                open_row(old, table, &k, v.value())?
            };
            let row = seal_row(new, table, &k, &plain)?;
            t.insert(k.as_slice(), row.as_slice())?;
        }
    }
    Ok(())
}

impl Session {
    /// Attaches a photo to a case, in one committed transaction with its audit entry. Returns
    /// its details (its slot among them). Refused: another kind of record, a case this vault
    /// does not hold, an image or thumbnail over the limits, a case already holding
    /// [`MAX_PHOTOS_PER_CASE`] photos.
    pub fn attach_photo(
        &mut self,
        kind: RecordKind,
        id: RecordId,
        photo: &NewPhoto<'_>,
        now_ms: u64,
    ) -> Result<PhotoInfo, PhotoError> {
        only_cases(kind)?;
        if photo.image.is_empty() || photo.image.len() > MAX_PHOTO_BYTES {
            return Err(PhotoError::TooLarge {
                what: "photo",
                bytes: photo.image.len(),
                limit: MAX_PHOTO_BYTES,
            });
        }
        if photo.thumbnail.is_empty() || photo.thumbnail.len() > MAX_THUMBNAIL_BYTES {
            return Err(PhotoError::TooLarge {
                what: "thumbnail",
                bytes: photo.thumbnail.len(),
                limit: MAX_THUMBNAIL_BYTES,
            });
        }
        let txn = begin(&self.vault.db)?;
        let rkey = schema::record_key(kind, id);
        if txn.open_table(VERSIONS)?.get(rkey.as_slice())?.is_none() {
            return Err(PhotoError::NotFound { kind, id });
        }
        let (held, last) = {
            let t = txn.open_table(THUMBS)?;
            let (lo, hi) = case_range(id);
            let mut held = 0usize;
            let mut last = 0u32;
            for row in t.range(lo.as_slice()..=hi.as_slice())? {
                let (k, _) = row?;
                held += 1;
                last = last.max(slot_of(k.value()).unwrap_or(0));
            }
            (held, last)
        };
        if held >= MAX_PHOTOS_PER_CASE {
            return Err(PhotoError::Full(held));
        }
        let slot = last.checked_add(1).ok_or(PhotoError::Full(held))?;
        let info = PhotoInfo {
            slot,
            added_ms: now_ms,
            added_by: self.user.username.clone(),
            width: photo.width,
            height: photo.height,
            bytes: u32::try_from(photo.image.len()).unwrap_or(u32::MAX),
            media_type: photo.media_type.to_string(),
        };
        let k = photo_key(id, slot);
        let full = seal_row(&self.keys.photos, "photos", &k, photo.image)?;
        let thumb = ThumbRow {
            info: info.clone(),
            thumbnail: photo.thumbnail.to_vec(),
        };
        let thumb_plain = Zeroizing::new(encode(&thumb)?);
        let thumb_row = seal_row(&self.keys.photos, "photo_thumbs", &k, &thumb_plain)?;
        txn.open_table(PHOTOS)?
            .insert(k.as_slice(), full.as_slice())?;
        txn.open_table(THUMBS)?
            .insert(k.as_slice(), thumb_row.as_slice())?;
        self.audit(
            &txn,
            now_ms,
            AuditAction::PhotoAdded { slot },
            Some((kind, id)),
        )?;
        self.commit(txn)?;
        Ok(info)
    }

    /// The thumbnails of a case's photos in slot order, at most `limit` (unaudited, like list
    /// summaries: the caller audits the page or the case it shows them with). No full photo is
    /// read.
    pub fn photo_thumbnails(
        &self,
        kind: RecordKind,
        id: RecordId,
        limit: usize,
    ) -> Result<Vec<Thumbnail>, PhotoError> {
        if kind != RecordKind::Case {
            return Ok(Vec::new());
        }
        let txn = self.vault.db.begin_read()?;
        let t = match txn.open_table(THUMBS) {
            Ok(t) => t,
            Err(redb::TableError::TableDoesNotExist(_)) => return Ok(Vec::new()),
            Err(e) => return Err(e.into()),
        };
        let (lo, hi) = case_range(id);
        let mut out = Vec::new();
        for row in t.range(lo.as_slice()..=hi.as_slice())? {
            if out.len() >= limit {
                break;
            }
            let (k, v) = row?;
            let k = key21(k.value())?;
            let mut row = open_thumb(&self.keys.photos, &k, v.value())?;
            out.push(Thumbnail {
                info: row.info.clone(),
                image: Zeroizing::new(std::mem::take(&mut row.thumbnail)),
            });
        }
        Ok(out)
    }

    /// Opens one full photo of a case (audited `PhotoOpened`).
    pub fn photo(
        &mut self,
        kind: RecordKind,
        id: RecordId,
        slot: u32,
        now_ms: u64,
    ) -> Result<Photo, PhotoError> {
        only_cases(kind)?;
        let k = photo_key(id, slot);
        let (info, image) = {
            let txn = self.vault.db.begin_read()?;
            let thumbs = match txn.open_table(THUMBS) {
                Ok(t) => t,
                Err(redb::TableError::TableDoesNotExist(_)) => {
                    return Err(PhotoError::NoSuchPhoto(slot));
                }
                Err(e) => return Err(e.into()),
            };
            let Some(t) = thumbs.get(k.as_slice())? else {
                return Err(PhotoError::NoSuchPhoto(slot));
            };
            let info = open_thumb(&self.keys.photos, &k, t.value())?.info.clone();
            let photos = txn.open_table(PHOTOS)?;
            // The thumbnail says the photo exists: a missing image is damage, not absence.
            let v = photos
                .get(k.as_slice())?
                .ok_or_else(|| tampered("photos", &k))?;
            let image = open_row(&self.keys.photos, "photos", &k, v.value())?;
            if image.len() != info.bytes as usize {
                return Err(tampered("photos", &k).into());
            }
            (info, image)
        };
        self.audit_now(now_ms, AuditAction::PhotoOpened { slot }, Some((kind, id)))?;
        Ok(Photo { info, image })
    }

    /// Removes one photo of a case (image and thumbnail), audited `PhotoRemoved`, in one
    /// committed transaction.
    pub fn remove_photo(
        &mut self,
        kind: RecordKind,
        id: RecordId,
        slot: u32,
        now_ms: u64,
    ) -> Result<(), PhotoError> {
        only_cases(kind)?;
        let k = photo_key(id, slot);
        let txn = begin(&self.vault.db)?;
        let had_thumb = txn.open_table(THUMBS)?.remove(k.as_slice())?.is_some();
        let had_photo = txn.open_table(PHOTOS)?.remove(k.as_slice())?.is_some();
        if !had_thumb && !had_photo {
            return Err(PhotoError::NoSuchPhoto(slot));
        }
        self.audit(
            &txn,
            now_ms,
            AuditAction::PhotoRemoved { slot },
            Some((kind, id)),
        )?;
        self.commit(txn)?;
        Ok(())
    }

    /// Checks every photo row: each opens under the photo key, thumbnail and image come in
    /// pairs, and the case each belongs to is in the vault. Returns how many photos.
    pub(crate) fn verify_photos(&self) -> Result<u64> {
        let txn = self.vault.db.begin_read()?;
        let (thumbs, photos) = match (txn.open_table(THUMBS), txn.open_table(PHOTOS)) {
            (Ok(t), Ok(p)) => (t, p),
            (
                Err(redb::TableError::TableDoesNotExist(_)),
                Err(redb::TableError::TableDoesNotExist(_)),
            ) => {
                return Ok(0);
            }
            (Err(e), _) | (_, Err(e)) => return Err(e.into()),
        };
        let versions = txn.open_table(VERSIONS)?;
        if thumbs.len()? != photos.len()? {
            return Err(VaultError::Tampered {
                what: format!(
                    "the photos ({} thumbnails for {} images)",
                    thumbs.len()?,
                    photos.len()?
                ),
            });
        }
        let mut n = 0;
        for row in thumbs.iter()? {
            let (k, v) = row?;
            let k = key21(k.value())?;
            let info = open_thumb(&self.keys.photos, &k, v.value())?.info.clone();
            let image = photos
                .get(k.as_slice())?
                .ok_or_else(|| tampered("photos", &k))?;
            let image = open_row(&self.keys.photos, "photos", &k, image.value())?;
            if image.len() != info.bytes as usize {
                return Err(tampered("photos", &k));
            }
            if versions.get(&k[..17])?.is_none() {
                return Err(VaultError::Tampered {
                    what: format!("photo {} of a case the vault does not hold", hex(&k)),
                });
            }
            n += 1;
        }
        Ok(n)
    }
}
