//! Export bundles: every record of a vault, sealed under a key only that vault has.
//!
//! Layout: the magic `FKBUNDLE` and a format byte, the 16-byte vault id (in the clear, so a
//! bundle for another vault is named as such rather than failing as "damaged"), then the
//! postcard-encoded sealed list of documents, whose associated data binds the vault id.

use fieldkit_domain::Document;

use crate::crypto::{self, Key, Sealed};
use crate::error::{Result, VaultError};
use crate::vault::hex;

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
