//! DEFLATE with a preset dictionary (a "primer"): the compressor's window starts out holding
//! bytes both sides know, so even a single record's message finds its field codes, value
//! codes and common words already there and sends back-references instead of literals
//! (a full case's sealed frame: 516 bytes deflated alone, 404 primed; `sync_sizes` bench).
//!
//! Raw DEFLATE has no preset-dictionary field, so the primer is fed to the compressor and
//! flushed to a byte boundary (a sync flush), and only what follows is sent. The receiver
//! puts the primer in front as one stored block and inflates the whole: back-references
//! into the primer resolve against the same bytes. `miniz_oxide` (pure Rust) does both
//! sides; nothing here depends on its version, only on the primer's bytes.
//!
//! **The primer is part of the wire format:** `primer-v1.bin` … `primer-v4.bin` never change
//! (their digests are pinned by a test); a new one is a new protocol version. Version 1
//! primes every body but the record forms; version 2 (the same template records and words,
//! with the templates in the record form, [`crate::codec::encode_records`]) primes the record
//! form (body tag 6), version 3 (the templates in the typed record form, without a code
//! book) the typed form (tag 7), so each form finds its own byte patterns. Version 4 is a
//! potential match whose explanation holds every kind of detail the matcher writes (the
//! stored details are JSON, `fieldkit_domain::explain`, whose keys and words version 3
//! lacks; no names and no places), followed by version 3's bytes, last so that a record's
//! back-references keep the distances they had; it primes the typed form as tag 9
//! ([`crate::message`] says who may send it).

use miniz_oxide::deflate::core::{
    CompressorOxide, TDEFLFlush, TDEFLStatus, compress, create_comp_flags_from_zip_params,
};

/// The primer of protocol version 1 (written by `examples/make_primer.rs v1`).
pub const PRIMER: &[u8] = include_bytes!("primer-v1.bin");

/// The primer of the record form (written by `examples/make_primer.rs v2`).
pub const PRIMER_V2: &[u8] = include_bytes!("primer-v2.bin");

/// The primer of the typed record form (written by `examples/make_primer.rs v3`).
pub const PRIMER_V3: &[u8] = include_bytes!("primer-v3.bin");

/// The primer of the typed record form with match explanations (written by
/// `examples/make_primer.rs v4`).
pub const PRIMER_V4: &[u8] = include_bytes!("primer-v4.bin");

/// Compresses `raw` against the version 1 primer; `None` if the compressor failed (the
/// caller sends the bytes uncompressed).
pub fn deflate(raw: &[u8]) -> Option<Vec<u8>> {
    deflate_with(PRIMER, raw)
}

/// Inflates what [`deflate`] made, at most `limit` bytes. `None` for anything that is not
/// such a stream (never panics).
pub fn inflate(packed: &[u8], limit: usize) -> Option<Vec<u8>> {
    inflate_with(PRIMER, packed, limit)
}

/// Compresses `raw` against `primer` (at most 65,535 bytes).
pub fn deflate_with(primer: &[u8], raw: &[u8]) -> Option<Vec<u8>> {
    // Level 9, raw DEFLATE (negative window bits), default strategy.
    let mut c = CompressorOxide::new(create_comp_flags_from_zip_params(9, -15, 0));
    // The primer's own output is dropped: the receiver rebuilds that part of the window.
    let mut sink = vec![0u8; primer.len() + primer.len() / 8 + 64];
    let (status, used, _) = compress(&mut c, primer, &mut sink, TDEFLFlush::Sync);
    if status != TDEFLStatus::Okay || used != primer.len() {
        return None;
    }
    // Worst case DEFLATE grows incompressible data by 5 bytes per 16 KiB stored block.
    let mut out = vec![0u8; raw.len() + raw.len() / 1024 * 5 + 64];
    let (status, used, n) = compress(&mut c, raw, &mut out, TDEFLFlush::Finish);
    if status != TDEFLStatus::Done || used != raw.len() {
        return None;
    }
    out.truncate(n);
    Some(out)
}

/// The primer as one stored, non-final DEFLATE block.
fn stored_primer(primer: &[u8]) -> Vec<u8> {
    let len = u16::try_from(primer.len()).unwrap_or(u16::MAX);
    let mut block = Vec::with_capacity(primer.len() + 5);
    // BFINAL = 0, BTYPE = 00 (stored), then aligned LEN and its complement.
    block.push(0);
    block.extend_from_slice(&len.to_le_bytes());
    block.extend_from_slice(&(!len).to_le_bytes());
    block.extend_from_slice(primer.get(..usize::from(len)).unwrap_or(primer));
    block
}

/// Inflates what [`deflate_with`] made with the same primer, at most `limit` bytes. `None`
/// for anything that is not such a stream (never panics).
pub fn inflate_with(primer: &[u8], packed: &[u8], limit: usize) -> Option<Vec<u8>> {
    let mut stream = stored_primer(primer);
    stream.extend_from_slice(packed);
    let out = miniz_oxide::inflate::decompress_to_vec_with_limit(
        &stream,
        limit.saturating_add(primer.len()),
    )
    .ok()?;
    out.strip_prefix(primer).map(<[u8]>::to_vec)
}

#[cfg(test)]
mod tests {
    use super::*;
    use sha2::{Digest, Sha256};

    /// Changing a released primer's bytes breaks every kit and hub already deployed: a new
    /// one is a new file and a new body tag.
    fn pinned(primer: &[u8], hex: &str) {
        assert!(u16::try_from(primer.len()).is_ok());
        let digest = Sha256::digest(primer);
        let got: String = digest.iter().map(|b| format!("{b:02x}")).collect();
        assert_eq!(got, hex);
    }

    #[test]
    fn released_primers_never_change() {
        pinned(
            PRIMER,
            "c0dbf68d3ef0bc8402e227af7421738871a589c42ceac10ecfedcfaa6aa65643",
        );
        pinned(
            PRIMER_V2,
            "a1a376958667945476e7b04835d5c7d56276d71a76ef83aa466905389f157ef7",
        );
        pinned(
            PRIMER_V3,
            "fb0ed023da25bdb5b73125c6d8700dc2bbf709ca4207659133ac651bb51e9629",
        );
        pinned(
            PRIMER_V4,
            "fc1426f738d86da4a0c852f59408a431c766e825c6213f0873b208cedd935323",
        );
        assert!(PRIMER_V4.ends_with(PRIMER_V3));
    }

    #[test]
    fn primed_streams_round_trip_and_are_shorter() {
        let text = b"the child arrived alone at the camp with an older sibling; the mother was last seen at the border crossing";
        let packed = deflate(text).expect("deflate");
        assert!(packed.len() < miniz_oxide::deflate::compress_to_vec(text, 9).len());
        assert_eq!(inflate(&packed, 1 << 20).as_deref(), Some(&text[..]));
        assert_eq!(inflate(&packed, 10), None);
        assert_eq!(deflate(b"").and_then(|p| inflate(&p, 10)), Some(Vec::new()));
    }
}
