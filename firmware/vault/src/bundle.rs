//! Export bundles: every record of a vault, sealed under a key only that vault has.
//!
//! Layout: the magic `FKBUNDLE` and a format byte, the 16-byte vault id (in the clear, so a
//! bundle for another vault is named as such rather than failing as "damaged"), then the
//! postcard-encoded sealed list of documents, whose associated data binds the vault id.

use fieldkit_domain::{Document, RecordKind};

use crate::audit::AuditAction;
use crate::crypto::{self, Key, Sealed};
use crate::error::{Result, VaultError};
use crate::session::Session;
use crate::storage::hex;

const MAGIC: &[u8; 8] = b"FKBUNDLE";
const FORMAT: u8 = 1;

fn aad(vault_id: &[u8; 16]) -> Vec<u8> {
    let mut a = b"fieldkit/bundle/v1|".to_vec();
    a.extend_from_slice(vault_id);
    a
}

pub(crate) fn seal(key: &Key, vault_id: &[u8; 16], docs: &[Document]) -> Result<Vec<u8>> {
    let plain = zeroize::Zeroizing::new(postcard::to_allocvec(docs).unwrap_or_default());
    let sealed = crypto::seal(key, &aad(vault_id), &plain)?;
    let mut out = Vec::with_capacity(plain.len() + 64);
    out.extend_from_slice(MAGIC);
    out.push(FORMAT);
    out.extend_from_slice(vault_id);
    out.extend_from_slice(&postcard::to_allocvec(&sealed).unwrap_or_default());
    Ok(out)
}

pub(crate) fn open(key: &Key, vault_id: &[u8; 16], bytes: &[u8]) -> Result<Vec<Document>> {
    let bad = |m: &str| VaultError::BadBundle(m.to_string());
    if bytes.len() < 25 || &bytes[..8] != MAGIC {
        return Err(bad("no FKBUNDLE header"));
    }
    if bytes[8] != FORMAT {
        return Err(bad(&format!("unknown bundle format {}", bytes[8])));
    }
    let their_id: [u8; 16] = bytes[9..25].try_into().map_err(|_| bad("short header"))?;
    if &their_id != vault_id {
        return Err(VaultError::ForeignBundle {
            bundle_vault: hex(&their_id),
            this_vault: hex(vault_id),
        });
    }
    let sealed: Sealed =
        postcard::from_bytes(&bytes[25..]).map_err(|_| bad("truncated or malformed body"))?;
    let plain = crypto::open(key, &aad(vault_id), &sealed)
        .map_err(|_| bad("authentication failed: altered or truncated"))?;
    postcard::from_bytes(&plain).map_err(|_| bad("malformed records"))
}

impl Session {
    /// Seals every readable record into a bundle for this vault (backup, or moving between
    /// kits of the same vault). Audited.
    pub fn export_bundle(&mut self, now_ms: u64) -> Result<Vec<u8>> {
        let mut docs = Vec::new();
        for kind in RecordKind::ALL {
            if self.keys.record_key(kind).is_ok() {
                docs.extend(self.documents(kind)?.into_iter().map(|(d, _)| d));
            }
        }
        let bytes = crate::bundle::seal(&self.keys.bundle, &self.vault.vault_id, &docs)?;
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

    /// Merges a bundle sealed by this vault. Returns how many records changed.
    pub fn import_bundle(&mut self, bytes: &[u8], now_ms: u64) -> Result<usize> {
        let docs = crate::bundle::open(&self.keys.bundle, &self.vault.vault_id, bytes)?;
        let import = AuditAction::Import {
            records: u32::try_from(docs.len()).unwrap_or(u32::MAX),
            format: "bundle".into(),
        };
        self.merge_audited(&docs, now_ms, Some(import))
    }

    /// Records that records left in a plaintext file (the caller writes it).
    pub fn audit_plain_export(&mut self, records: usize, format: &str, now_ms: u64) -> Result<()> {
        self.audit_now(
            now_ms,
            AuditAction::Export {
                records: u32::try_from(records).unwrap_or(u32::MAX),
                format: format.into(),
            },
            None,
        )
    }
}
