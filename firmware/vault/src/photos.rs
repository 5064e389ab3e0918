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
//! **Under the sealed manifest** (schema 4): each photo has a version (`photo_versions`, a
//! random 64-bit number drawn when it is attached), both its rows are sealed at that version
//! (bound into their associated data), and the manifest digests every photo's key and version
//! beside the records'. So a photo removed behind the vault's back (its rows, or its rows and
//! its version), one put back from an older copy of the file in a slot since reused (its old
//! rows, with or without the old version) or one added, changes what the sign-in check and
//! [`Session::verify`] compute, and is refused as tampering, without reading a single image at
//! sign-in (only the small versions table). Schema 3 photos (version 0, no version in the
//! associated data) are sealed again at a fresh version at the first sign-in of this build.
//!
//! Backups ([`Session::export_bundle`]) carry every photo and thumbnail, each sealed apart under
//! the bundle key; a restore puts back those a case lacks (`bundle.rs`).

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
use crate::manifest::Manifest;
use crate::schema::{self, VERSIONS};
use crate::session::Session;
use crate::storage::{Row, begin, decode, encode, hex};

/// Full photos: case key (17 bytes) + slot (4 bytes, big-endian) → sealed image bytes.
pub(crate) const PHOTOS: TableDefinition<&[u8], &[u8]> = TableDefinition::new("photos");
/// Thumbnails: same key → sealed details and thumbnail.
pub(crate) const THUMBS: TableDefinition<&[u8], &[u8]> = TableDefinition::new("photo_thumbs");
/// Photo versions: same key → the version both rows are sealed at (what the sealed manifest
/// digests for photos).
pub(crate) const PHOTO_VERSIONS: TableDefinition<&[u8], u64> =
    TableDefinition::new("photo_versions");

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

/// Associated data: row format, table, case, slot and (from schema 4) the photo's version.
/// Version 0 is schema 3's form, without a version; it is read only to seal such a row again.
fn aad(table: &str, key: &[u8; 21], version: u64) -> Vec<u8> {
    let mut aad = Vec::with_capacity(56);
    aad.extend_from_slice(b"fieldkit/photo/v1|");
    aad.extend_from_slice(table.as_bytes());
    aad.push(b'|');
    aad.extend_from_slice(key);
    if version != 0 {
        aad.push(b'|');
        aad.extend_from_slice(&version.to_le_bytes());
    }
    aad
}

/// A fresh photo version: random, never 0 (schema 3's rows).
fn new_version() -> Result<u64> {
    loop {
        let mut b = [0u8; 8];
        crypto::fill_random(&mut b)?;
        let v = u64::from_le_bytes(b);
        if v != 0 {
            return Ok(v);
        }
    }
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

fn seal_row(key: &Key, table: &str, k: &[u8; 21], version: u64, plain: &[u8]) -> Result<Vec<u8>> {
    let sealed = crypto::seal(key, &aad(table, k, version), plain)?;
    Ok(Row { version, sealed }.to_bytes())
}

/// Opens a photo row, which must be sealed at `version` (the one `photo_versions` vouches for).
fn open_row(
    key: &Key,
    table: &str,
    k: &[u8; 21],
    version: u64,
    bytes: &[u8],
) -> Result<Zeroizing<Vec<u8>>> {
    let row = Row::from_bytes(bytes).ok_or_else(|| tampered(table, k))?;
    if row.version != version {
        return Err(VaultError::Tampered {
            what: format!(
                "{table} row {}: sealed at another version than the vault's (an older copy put back)",
                hex(k)
            ),
        });
    }
    crypto::open(key, &aad(table, k, version), &row.sealed).map_err(|_| tampered(table, k))
}

fn open_thumb(key: &Key, k: &[u8; 21], version: u64, bytes: &[u8]) -> Result<ThumbRow> {
    let plain = open_row(key, "photo_thumbs", k, version, bytes)?;
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

/// Test access to the row sealing (a schema 3 file made by the tests).
#[cfg(test)]
pub(crate) fn tests_seal_row(
    key: &Key,
    table: &str,
    k: &[u8; 21],
    version: u64,
    plain: &[u8],
) -> Vec<u8> {
    seal_row(key, table, k, version, plain).unwrap_or_default()
}

#[cfg(test)]
pub(crate) fn tests_open_row(
    key: &Key,
    table: &str,
    k: &[u8; 21],
    version: u64,
    bytes: &[u8],
) -> Vec<u8> {
    open_row(key, table, k, version, bytes)
        .map(|p| p.to_vec())
        .unwrap_or_default()
}

/// The version `photo_versions` holds for a photo key; a row without one was not written by
/// this vault.
fn version_of(versions: &impl ReadableTable<&'static [u8], u64>, k: &[u8; 21]) -> Result<u64> {
    Ok(versions
        .get(k.as_slice())?
        .ok_or_else(|| VaultError::Tampered {
            what: format!("photo {}: no version in the vault", hex(k)),
        })?
        .value())
}

/// Seals every photo and thumbnail again under new keys (key rotation), one photo at a time,
/// at the version each has.
pub(crate) fn reseal(txn: &WriteTransaction, old: &Key, new: &Key) -> Result<()> {
    let versions = txn.open_table(PHOTO_VERSIONS)?;
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
            let version = version_of(&versions, &k)?;
            let plain = {
                let v = t.get(k.as_slice())?.ok_or_else(|| tampered(table, &k))?;
                open_row(old, table, &k, version, v.value())?
            };
            let row = seal_row(new, table, &k, version, &plain)?;
            t.insert(k.as_slice(), row.as_slice())?;
        }
    }
    Ok(())
}

/// Adds every photo's version to `manifest` (the sign-in check, a rotation, a supervisor
/// accepting the file as it is).
pub(crate) fn add_versions(
    txn: &WriteTransaction,
    keys: &crate::keyslot::Keys,
    manifest: &mut Manifest,
) -> Result<()> {
    let versions = txn.open_table(PHOTO_VERSIONS)?;
    for row in versions.iter()? {
        let (k, v) = row?;
        manifest.add_photo(&keys.manifest, &key21(k.value())?, v.value());
    }
    Ok(())
}

/// Schema 3 → 4: seals every photo that has no version yet (schema 3's rows) again at a fresh
/// version, and adds it to `manifest`. Inside the sign-in transaction, after the file was
/// checked against its sealed state; it reads each such photo once.
pub(crate) fn seal_unversioned(
    txn: &WriteTransaction,
    keys: &crate::keyslot::Keys,
    manifest: &mut Manifest,
) -> Result<usize> {
    let unversioned: Vec<[u8; 21]> = {
        let thumbs = txn.open_table(THUMBS)?;
        let versions = txn.open_table(PHOTO_VERSIONS)?;
        let mut out = Vec::new();
        for row in thumbs.iter()? {
            let k = key21(row?.0.value())?;
            if versions.get(k.as_slice())?.is_none() {
                out.push(k);
            }
        }
        out
    };
    let mut versions = txn.open_table(PHOTO_VERSIONS)?;
    for k in &unversioned {
        let version = new_version()?;
        for (table, def) in [("photos", PHOTOS), ("photo_thumbs", THUMBS)] {
            let mut t = txn.open_table(def)?;
            let plain = {
                let v = t.get(k.as_slice())?.ok_or_else(|| tampered(table, k))?;
                open_row(&keys.photos, table, k, 0, v.value())?
            };
            let row = seal_row(&keys.photos, table, k, version, &plain)?;
            t.insert(k.as_slice(), row.as_slice())?;
        }
        versions.insert(k.as_slice(), version)?;
        manifest.add_photo(&keys.manifest, k, version);
    }
    Ok(unversioned.len())
}

/// Writes a photo's two rows and its version in `txn` (attach and restore); the caller adds
/// the version to the manifest it commits.
fn insert_photo(
    txn: &WriteTransaction,
    key: &Key,
    k: &[u8; 21],
    info: &PhotoInfo,
    image: &[u8],
    thumbnail: &[u8],
) -> Result<u64> {
    let version = new_version()?;
    let full = seal_row(key, "photos", k, version, image)?;
    let thumb = ThumbRow {
        info: info.clone(),
        thumbnail: thumbnail.to_vec(),
    };
    let thumb_plain = Zeroizing::new(encode(&thumb)?);
    let thumb_row = seal_row(key, "photo_thumbs", k, version, &thumb_plain)?;
    txn.open_table(PHOTOS)?
        .insert(k.as_slice(), full.as_slice())?;
    txn.open_table(THUMBS)?
        .insert(k.as_slice(), thumb_row.as_slice())?;
    txn.open_table(PHOTO_VERSIONS)?
        .insert(k.as_slice(), version)?;
    Ok(version)
}

/// How many photos a case holds and its highest slot, in `txn`.
fn held_in(txn: &WriteTransaction, id: RecordId) -> Result<(usize, u32)> {
    let t = txn.open_table(THUMBS)?;
    let (lo, hi) = case_range(id);
    let mut held = 0usize;
    let mut last = 0u32;
    for row in t.range(lo.as_slice()..=hi.as_slice())? {
        let (k, _) = row?;
        held += 1;
        last = last.max(slot_of(k.value()).unwrap_or(0));
    }
    Ok((held, last))
}

/// Checks sizes before anything is written.
fn check_sizes(image: usize, thumbnail: usize) -> Result<(), PhotoError> {
    if image == 0 || image > MAX_PHOTO_BYTES {
        return Err(PhotoError::TooLarge {
            what: "photo",
            bytes: image,
            limit: MAX_PHOTO_BYTES,
        });
    }
    if thumbnail == 0 || thumbnail > MAX_THUMBNAIL_BYTES {
        return Err(PhotoError::TooLarge {
            what: "thumbnail",
            bytes: thumbnail,
            limit: MAX_THUMBNAIL_BYTES,
        });
    }
    Ok(())
}

/// A photo as a backup bundle carries it: its case, details, image and thumbnail.
#[derive(Serialize, Deserialize)]
pub(crate) struct Carried {
    pub(crate) case: [u8; 16],
    pub(crate) info: PhotoInfo,
    pub(crate) image: Vec<u8>,
    pub(crate) thumbnail: Vec<u8>,
}

impl Drop for Carried {
    fn drop(&mut self) {
        zeroize::Zeroize::zeroize(&mut self.image);
        zeroize::Zeroize::zeroize(&mut self.thumbnail);
    }
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
        check_sizes(photo.image.len(), photo.thumbnail.len())?;
        let txn = begin(&self.vault.db)?;
        let rkey = schema::record_key(kind, id);
        if txn.open_table(VERSIONS)?.get(rkey.as_slice())?.is_none() {
            return Err(PhotoError::NotFound { kind, id });
        }
        let (held, last) = held_in(&txn, id)?;
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
        let version = insert_photo(
            &txn,
            &self.keys.photos,
            &k,
            &info,
            photo.image,
            photo.thumbnail,
        )?;
        self.audit(
            &txn,
            now_ms,
            AuditAction::PhotoAdded { slot },
            Some((kind, id)),
        )?;
        let mut manifest = self.manifest;
        manifest.add_photo(&self.keys.manifest, &k, version);
        self.commit_with(txn, manifest)?;
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
        let versions = txn.open_table(PHOTO_VERSIONS)?;
        let (lo, hi) = case_range(id);
        let mut out = Vec::new();
        for row in t.range(lo.as_slice()..=hi.as_slice())? {
            if out.len() >= limit {
                break;
            }
            let (k, v) = row?;
            let k = key21(k.value())?;
            let version = version_of(&versions, &k)?;
            let mut row = open_thumb(&self.keys.photos, &k, version, v.value())?;
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
            let version = version_of(&txn.open_table(PHOTO_VERSIONS)?, &k)?;
            let info = open_thumb(&self.keys.photos, &k, version, t.value())?
                .info
                .clone();
            let photos = txn.open_table(PHOTOS)?;
            // The thumbnail says the photo exists: a missing image is damage, not absence.
            let v = photos
                .get(k.as_slice())?
                .ok_or_else(|| tampered("photos", &k))?;
            let image = open_row(&self.keys.photos, "photos", &k, version, v.value())?;
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
        let version = txn
            .open_table(PHOTO_VERSIONS)?
            .remove(k.as_slice())?
            .map(|g| g.value());
        if !had_thumb && !had_photo {
            return Err(PhotoError::NoSuchPhoto(slot));
        }
        self.audit(
            &txn,
            now_ms,
            AuditAction::PhotoRemoved { slot },
            Some((kind, id)),
        )?;
        let mut manifest = self.manifest;
        if let Some(v) = version {
            manifest.remove_photo(&self.keys.manifest, &k, v);
        }
        self.commit_with(txn, manifest)?;
        Ok(())
    }

    /// Hands every photo of every case to `each`, one at a time (a backup bundle streams them
    /// to its file; its caller audits the export). Returns how many.
    pub(crate) fn each_carried_photo(
        &self,
        mut each: impl FnMut(Carried) -> Result<()>,
    ) -> Result<usize> {
        if self.keys.record_key(RecordKind::Case).is_err() {
            return Ok(0);
        }
        let txn = self.vault.db.begin_read()?;
        let (thumbs, photos, versions) = match (
            txn.open_table(THUMBS),
            txn.open_table(PHOTOS),
            txn.open_table(PHOTO_VERSIONS),
        ) {
            (Ok(t), Ok(p), Ok(v)) => (t, p, v),
            (Err(redb::TableError::TableDoesNotExist(_)), _, _)
            | (_, Err(redb::TableError::TableDoesNotExist(_)), _)
            | (_, _, Err(redb::TableError::TableDoesNotExist(_))) => return Ok(0),
            (Err(e), _, _) | (_, Err(e), _) | (_, _, Err(e)) => return Err(e.into()),
        };
        let mut count = 0;
        for row in thumbs.iter()? {
            let (k, v) = row?;
            let k = key21(k.value())?;
            let version = version_of(&versions, &k)?;
            let mut thumb = open_thumb(&self.keys.photos, &k, version, v.value())?;
            let image = photos
                .get(k.as_slice())?
                .ok_or_else(|| tampered("photos", &k))?;
            let image = open_row(&self.keys.photos, "photos", &k, version, image.value())?;
            let mut case = [0u8; 16];
            case.copy_from_slice(&k[1..17]);
            each(Carried {
                case,
                info: thumb.info.clone(),
                image: image.to_vec(),
                thumbnail: std::mem::take(&mut thumb.thumbnail),
            })?;
            count += 1;
        }
        Ok(count)
    }

    /// Puts back the photos of a backup that the vault lacks, in one commit: a photo goes to a
    /// case the vault holds, unless that case already holds the same image or the most photos
    /// a case may; it keeps its slot when the slot is free, else takes the next one. Each is
    /// audited `PhotoAdded`. Returns how many were put back.
    pub(crate) fn restore_photos(&mut self, carried: &[Carried], now_ms: u64) -> Result<usize> {
        if carried.is_empty() {
            return Ok(0);
        }
        let txn = begin(&self.vault.db)?;
        let mut manifest = self.manifest;
        let mut restored = 0;
        for c in carried {
            let bad = |why: &str| VaultError::BadBundle(format!("a photo {why}"));
            check_sizes(c.image.len(), c.thumbnail.len()).map_err(|e| bad(&e.to_string()))?;
            if c.info.bytes as usize != c.image.len() {
                return Err(bad("whose size is not its image's"));
            }
            let id = RecordId::from_bytes(c.case);
            let rkey = schema::record_key(RecordKind::Case, id);
            if txn.open_table(VERSIONS)?.get(rkey.as_slice())?.is_none() {
                tracing::warn!("a photo of a case this vault does not hold was not restored");
                continue;
            }
            if self.holds_image(&txn, id, &c.image)? {
                continue;
            }
            let (held, last) = held_in(&txn, id)?;
            if held >= MAX_PHOTOS_PER_CASE {
                tracing::warn!(
                    held,
                    "a case is full: a photo of the backup was not restored"
                );
                continue;
            }
            let free = c.info.slot != 0
                && txn
                    .open_table(THUMBS)?
                    .get(photo_key(id, c.info.slot).as_slice())?
                    .is_none();
            let slot = if free {
                c.info.slot
            } else {
                last.checked_add(1)
                    .ok_or_else(|| bad("slot out of range"))?
            };
            let info = PhotoInfo {
                slot,
                ..c.info.clone()
            };
            let k = photo_key(id, slot);
            let version = insert_photo(&txn, &self.keys.photos, &k, &info, &c.image, &c.thumbnail)?;
            manifest.add_photo(&self.keys.manifest, &k, version);
            self.audit(
                &txn,
                now_ms,
                AuditAction::PhotoAdded { slot },
                Some((RecordKind::Case, id)),
            )?;
            restored += 1;
        }
        self.commit_with(txn, manifest)?;
        Ok(restored)
    }

    /// Whether a case already holds this exact image (in `txn`).
    fn holds_image(&self, txn: &WriteTransaction, id: RecordId, image: &[u8]) -> Result<bool> {
        let photos = txn.open_table(PHOTOS)?;
        let versions = txn.open_table(PHOTO_VERSIONS)?;
        let (lo, hi) = case_range(id);
        for row in photos.range(lo.as_slice()..=hi.as_slice())? {
            let (k, v) = row?;
            let k = key21(k.value())?;
            let version = version_of(&versions, &k)?;
            let held = open_row(&self.keys.photos, "photos", &k, version, v.value())?;
            if held.as_slice() == image {
                return Ok(true);
            }
        }
        Ok(false)
    }

    /// Checks every photo row: each opens under the photo key at the version `photo_versions`
    /// holds for it, thumbnail, image and version come in threes, and the case each belongs to
    /// is in the vault. Adds each photo's version to `seen` (compared with the sealed manifest
    /// by the caller). Returns how many photos.
    pub(crate) fn verify_photos(&self, seen: &mut Manifest) -> Result<u64> {
        let txn = self.vault.db.begin_read()?;
        let open = |def| match txn.open_table(def) {
            Ok(t) => Ok(Some(t)),
            Err(redb::TableError::TableDoesNotExist(_)) => Ok(None),
            Err(e) => Err(VaultError::from(e)),
        };
        // A table never written to may not exist yet: it holds nothing.
        let (Some(thumbs), photos) = (open(THUMBS)?, open(PHOTOS)?) else {
            return match open(PHOTOS)? {
                Some(p) if p.len()? > 0 => Err(VaultError::Tampered {
                    what: format!("the photos ({} images without thumbnails)", p.len()?),
                }),
                _ => Ok(0),
            };
        };
        let photo_versions = match txn.open_table(PHOTO_VERSIONS) {
            Ok(t) => Some(t),
            Err(redb::TableError::TableDoesNotExist(_)) => None,
            Err(e) => return Err(e.into()),
        };
        let versions = txn.open_table(VERSIONS)?;
        let counted = photo_versions.as_ref().map_or(Ok(0), |t| t.len())?;
        let images = photos.as_ref().map_or(Ok(0), |t| t.len())?;
        if thumbs.len()? != images || thumbs.len()? != counted {
            return Err(VaultError::Tampered {
                what: format!(
                    "the photos ({} thumbnails and {images} images for {counted} photo versions)",
                    thumbs.len()?,
                ),
            });
        }
        let mut n = 0;
        for row in thumbs.iter()? {
            let (k, v) = row?;
            let k = key21(k.value())?;
            let version = match &photo_versions {
                Some(t) => version_of(t, &k)?,
                None => return Err(tampered("photo_versions", &k)),
            };
            let info = open_thumb(&self.keys.photos, &k, version, v.value())?
                .info
                .clone();
            let image = photos
                .as_ref()
                .map(|p| p.get(k.as_slice()))
                .transpose()?
                .flatten()
                .ok_or_else(|| tampered("photos", &k))?;
            let image = open_row(&self.keys.photos, "photos", &k, version, image.value())?;
            if image.len() != info.bytes as usize {
                return Err(tampered("photos", &k));
            }
            seen.add_photo(&self.keys.manifest, &k, version);
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
