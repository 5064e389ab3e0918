//! Export bundles: every record of a vault, sealed under a key only that vault has.
//!
//! Layout: the magic `FKBUNDLE` and a format byte, the 16-byte vault id (in the clear, so a
//! bundle for another vault is named as such rather than failing as "damaged"), then the
//! postcard-encoded body: the sealed list of records other than incidents (under the bundle
//! key), the sealed list of incidents (under the incident bundle key), and (format 3) the
//! children's photos, each photo with its thumbnail and details sealed apart under the bundle
//! key, each binding the vault id and its part (for a photo: its place and the photo count, so
//! none can be dropped or moved unnoticed) in its associated data. Bundles of formats 1 and 2
//! (no photos) still open. The whole bundle is made and read in memory (up to 1 MiB a photo).

use crate::error::{ExchangeError, WriteError};
use serde::{Deserialize, Serialize};

use fieldkit_domain::{Document, RecordKind};

use crate::audit::AuditAction;
use crate::crypto::{self, Key, Sealed};
use crate::error::{Result, VaultError};
use crate::photos::Carried;
use crate::session::Session;
use crate::storage::{encode, hex};

/// What importing a bundle changed.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct BundleImport {
    /// Records new or changed.
    pub records: usize,
    /// Photos put back (those a case lacked).
    pub photos: usize,
}

const MAGIC: &[u8; 8] = b"FKBUNDLE";
/// Format 1 sealed every record under the bundle key; format 2 seals GBV incidents apart, under
/// a key from the incident key, so a caseworker without incident access cannot open them from
/// a supervisor's bundle (issue 8, finding 2); format 3 adds the photos.
const FORMAT: u8 = 3;

fn aad(vault_id: &[u8; 16], part: &str) -> Vec<u8> {
    let mut a = b"fieldkit/bundle/v1|".to_vec();
    a.extend_from_slice(vault_id);
    if !part.is_empty() {
        a.push(b'|');
        a.extend_from_slice(part.as_bytes());
    }
    a
}

/// A format 2 bundle's body: the records other than incidents, and the incidents.
#[derive(Serialize, Deserialize)]
struct Body {
    records: Sealed,
    incidents: Option<Sealed>,
}

/// A format 3 bundle's body: format 2's, and each photo sealed apart.
#[derive(Serialize, Deserialize)]
struct BodyWithPhotos {
    records: Sealed,
    incidents: Option<Sealed>,
    photos: Vec<Sealed>,
}

/// A photo's associated data: its place among the bundle's photos and their count.
fn photo_aad(vault_id: &[u8; 16], at: usize, count: usize) -> Vec<u8> {
    let mut a = aad(vault_id, "photo");
    a.extend_from_slice(&(at as u64).to_le_bytes());
    a.extend_from_slice(&(count as u64).to_le_bytes());
    a
}

/// The keys a bundle is sealed under: the bundle key for the records, and the incident bundle
/// key (when the session has incident access) for the incidents.
pub(crate) struct BundleKeys<'a> {
    pub(crate) records: &'a Key,
    pub(crate) incidents: Option<&'a Key>,
}

fn seal_docs(key: &Key, aad: &[u8], docs: &[&Document]) -> Result<Sealed> {
    let plain = zeroize::Zeroizing::new(crate::storage::encode(&docs)?);
    Ok(crypto::seal(key, aad, &plain)?)
}

pub(crate) fn seal(
    keys: &BundleKeys<'_>,
    vault_id: &[u8; 16],
    docs: &[Document],
    photos: &[Carried],
) -> Result<Vec<u8>> {
    let (incidents, records): (Vec<&Document>, Vec<&Document>) =
        docs.iter().partition(|d| d.kind() == RecordKind::Incident);
    let incidents = match (keys.incidents, incidents.is_empty()) {
        (_, true) => None,
        (Some(k), false) => Some(seal_docs(k, &aad(vault_id, "incidents"), &incidents)?),
        (None, false) => {
            return Err(VaultError::Forbidden(
                "this caseworker has no access to GBV incidents".into(),
            ));
        }
    };
    let photos = photos
        .iter()
        .enumerate()
        .map(|(at, p)| {
            let plain = zeroize::Zeroizing::new(encode(p)?);
            Ok(crypto::seal(
                keys.records,
                &photo_aad(vault_id, at, photos.len()),
                &plain,
            )?)
        })
        .collect::<Result<Vec<Sealed>>>()?;
    let body = BodyWithPhotos {
        records: seal_docs(keys.records, &aad(vault_id, "records"), &records)?,
        incidents,
        photos,
    };
    let mut out = Vec::new();
    out.extend_from_slice(MAGIC);
    out.push(FORMAT);
    out.extend_from_slice(vault_id);
    out.extend_from_slice(&encode(&body)?);
    Ok(out)
}

/// A bundle as format 2 made it (records, no photos), for the test that it still restores.
#[cfg(test)]
pub(crate) fn tests_seal_format2(key: &Key, vault_id: &[u8; 16], docs: &[Document]) -> Vec<u8> {
    let refs: Vec<&Document> = docs.iter().collect();
    let body = Body {
        records: seal_docs(key, &aad(vault_id, "records"), &refs).unwrap_or_else(|e| panic!("{e}")),
        incidents: None,
    };
    let mut out = MAGIC.to_vec();
    out.push(2);
    out.extend_from_slice(vault_id);
    out.extend_from_slice(&encode(&body).unwrap_or_default());
    out
}

/// What a bundle gave: the documents this session can open, whether it held incidents this
/// session cannot, and its photos.
pub(crate) struct Opened {
    pub(crate) docs: Vec<Document>,
    pub(crate) sealed_incidents: bool,
    pub(crate) photos: Vec<Carried>,
}

/// Opens one sealed list of documents.
fn open_docs(key: &Key, aad: &[u8], sealed: &Sealed) -> Result<Vec<Document>> {
    let bad = |m: &str| VaultError::BadBundle(m.to_string());
    let plain = crypto::open(key, aad, sealed).map_err(|_| {
        bad("authentication failed: altered or truncated, or sealed under keys this vault has since rotated")
    })?;
    postcard::from_bytes(&plain).map_err(|_| bad("malformed records"))
}

/// Opens a format 2 or 3 body's two record parts.
fn open_parts(
    keys: &BundleKeys<'_>,
    vault_id: &[u8; 16],
    records: &Sealed,
    incidents: Option<&Sealed>,
) -> Result<(Vec<Document>, bool)> {
    let bad = |m: &str| VaultError::BadBundle(m.to_string());
    let mut docs = open_docs(keys.records, &aad(vault_id, "records"), records)?;
    if docs.iter().any(|d| d.kind() == RecordKind::Incident) {
        return Err(bad("an incident outside the incident part"));
    }
    let mut sealed_incidents = false;
    match (incidents, keys.incidents) {
        (Some(sealed), Some(k)) => {
            let incidents = open_docs(k, &aad(vault_id, "incidents"), sealed)?;
            if incidents.iter().any(|d| d.kind() != RecordKind::Incident) {
                return Err(bad("a record other than an incident in the incident part"));
            }
            docs.extend(incidents);
        }
        (Some(_), None) => sealed_incidents = true,
        (None, _) => {}
    }
    Ok((docs, sealed_incidents))
}

pub(crate) fn open(keys: &BundleKeys<'_>, vault_id: &[u8; 16], bytes: &[u8]) -> Result<Opened> {
    let bad = |m: &str| VaultError::BadBundle(m.to_string());
    if bytes.len() < 25 || &bytes[..8] != MAGIC {
        return Err(bad("no FKBUNDLE header"));
    }
    let their_id: [u8; 16] = bytes[9..25].try_into().map_err(|_| bad("short header"))?;
    if &their_id != vault_id {
        return Err(VaultError::ForeignBundle {
            bundle_vault: hex(&their_id),
            this_vault: hex(vault_id),
        });
    }
    match bytes[8] {
        1 => {
            let sealed: Sealed = postcard::from_bytes(&bytes[25..])
                .map_err(|_| bad("truncated or malformed body"))?;
            let mut docs = open_docs(keys.records, &aad(vault_id, ""), &sealed)?;
            let before = docs.len();
            if keys.incidents.is_none() {
                docs.retain(|d| d.kind() != RecordKind::Incident);
            }
            Ok(Opened {
                sealed_incidents: docs.len() != before,
                docs,
                photos: Vec::new(),
            })
        }
        2 => {
            let body: Body = postcard::from_bytes(&bytes[25..])
                .map_err(|_| bad("truncated or malformed body"))?;
            let (docs, sealed_incidents) =
                open_parts(keys, vault_id, &body.records, body.incidents.as_ref())?;
            Ok(Opened {
                docs,
                sealed_incidents,
                photos: Vec::new(),
            })
        }
        3 => {
            let body: BodyWithPhotos = postcard::from_bytes(&bytes[25..])
                .map_err(|_| bad("truncated or malformed body"))?;
            let (docs, sealed_incidents) =
                open_parts(keys, vault_id, &body.records, body.incidents.as_ref())?;
            let count = body.photos.len();
            let photos = body
                .photos
                .iter()
                .enumerate()
                .map(|(at, sealed)| {
                    let plain = crypto::open(keys.records, &photo_aad(vault_id, at, count), sealed)
                        .map_err(|_| {
                            bad("a photo failed authentication: altered, moved or dropped")
                        })?;
                    postcard::from_bytes::<Carried>(&plain).map_err(|_| bad("a malformed photo"))
                })
                .collect::<Result<Vec<Carried>>>()?;
            Ok(Opened {
                docs,
                sealed_incidents,
                photos,
            })
        }
        other => Err(bad(&format!("unknown bundle format {other}"))),
    }
}

impl Session {
    /// Seals every readable record, and every photo with its thumbnail, into a bundle for this
    /// vault (backup, or moving between kits of the same vault). Audited.
    pub fn export_bundle(&mut self, now_ms: u64) -> Result<Vec<u8>, ExchangeError> {
        let mut docs = Vec::new();
        for kind in RecordKind::ALL {
            if self.keys.record_key(kind).is_ok() {
                docs.extend(self.documents(kind)?.into_iter().map(|(d, _)| d));
            }
        }
        let photos = self.carried_photos()?;
        let bytes = seal(&self.bundle_keys(), &self.vault.vault_id, &docs, &photos)?;
        self.audit_now(
            now_ms,
            AuditAction::Export {
                records: u32::try_from(docs.len()).unwrap_or(u32::MAX),
                format: "bundle".into(),
            },
            None,
        )?;
        Ok(bytes)
    }

    fn bundle_keys(&self) -> BundleKeys<'_> {
        BundleKeys {
            records: &self.keys.bundle,
            incidents: self.keys.incident_bundle.as_ref(),
        }
    }

    /// Merges a bundle sealed by this vault, then puts back the photos its cases lack (see
    /// `restore_photos`). Returns how many records changed and how many photos came back.
    /// Incidents in it stay sealed for a caseworker without incident access.
    pub fn import_bundle(
        &mut self,
        bytes: &[u8],
        now_ms: u64,
    ) -> Result<BundleImport, ExchangeError> {
        let opened = open(&self.bundle_keys(), &self.vault.vault_id, bytes)?;
        if opened.sealed_incidents {
            tracing::info!("the bundle's incidents stay sealed: no incident access");
        }
        let docs = opened.docs;
        let import = AuditAction::Import {
            records: u32::try_from(docs.len()).unwrap_or(u32::MAX),
            format: "bundle".into(),
        };
        let records = self.merge_audited(&docs, now_ms, Some(import))?;
        let photos = self.restore_photos(&opened.photos, now_ms)?;
        Ok(BundleImport { records, photos })
    }

    /// Records that records left in a plaintext file (the caller writes it).
    pub fn audit_plain_export(
        &mut self,
        records: usize,
        format: &str,
        now_ms: u64,
    ) -> Result<(), WriteError> {
        Ok(self.audit_now(
            now_ms,
            AuditAction::Export {
                records: u32::try_from(records).unwrap_or(u32::MAX),
                format: format.into(),
            },
            None,
        )?)
    }
}
