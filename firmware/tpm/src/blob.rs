//! The stored form of a TPM key slot: what the vault keeps in its file and hands back to open
//! the slot. Written by hand (a magic, the vault id, two length-prefixed TPM structures) so the
//! parser is small enough to check completely; it never panics on any input (property tested).

use crate::error::UnsealError;

const MAGIC: &[u8; 8] = b"FKTPM\x00\x00\x01";

/// The sealed object as the TPM returned it: its public area (marshalled `TPMT_PUBLIC`) and its
/// private area (`TPM2B_PRIVATE`'s bytes, encrypted under the primary key by the TPM).
#[derive(Clone, PartialEq, Eq)]
pub(crate) struct SlotBlob {
    pub vault_id: [u8; 16],
    pub public: Vec<u8>,
    pub private: Vec<u8>,
}

impl std::fmt::Debug for SlotBlob {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "SlotBlob({} + {} bytes)",
            self.public.len(),
            self.private.len()
        )
    }
}

impl SlotBlob {
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut out =
            Vec::with_capacity(MAGIC.len() + 16 + 4 + self.public.len() + self.private.len());
        out.extend_from_slice(MAGIC);
        out.extend_from_slice(&self.vault_id);
        for part in [&self.public, &self.private] {
            // TPM structures are far below 64 KiB (TPM2B sizes are u16 themselves).
            let len = u16::try_from(part.len()).unwrap_or(u16::MAX);
            out.extend_from_slice(&len.to_be_bytes());
            out.extend_from_slice(part);
        }
        out
    }

    pub fn parse(bytes: &[u8]) -> Result<SlotBlob, UnsealError> {
        let bad = |why: &str| UnsealError::BadBlob(why.to_string());
        let rest = bytes
            .strip_prefix(MAGIC.as_slice())
            .ok_or_else(|| bad("not a fieldkit TPM slot"))?;
        let (vault_id, rest) = rest.split_at_checked(16).ok_or_else(|| bad("truncated"))?;
        let (public, rest) = take_sized(rest).ok_or_else(|| bad("truncated public area"))?;
        let (private, rest) = take_sized(rest).ok_or_else(|| bad("truncated private area"))?;
        if !rest.is_empty() {
            return Err(bad("trailing bytes"));
        }
        if public.is_empty() || private.is_empty() {
            return Err(bad("empty area"));
        }
        let mut id = [0u8; 16];
        id.copy_from_slice(vault_id);
        Ok(SlotBlob {
            vault_id: id,
            public: public.to_vec(),
            private: private.to_vec(),
        })
    }
}

fn take_sized(bytes: &[u8]) -> Option<(&[u8], &[u8])> {
    let (len, rest) = bytes.split_at_checked(2)?;
    let len = usize::from(u16::from_be_bytes([len[0], len[1]]));
    rest.split_at_checked(len)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn sample() -> SlotBlob {
        SlotBlob {
            vault_id: [7; 16],
            public: vec![1, 2, 3],
            private: vec![4; 40],
        }
    }

    #[test]
    fn a_blob_reads_back() {
        let b = sample();
        assert_eq!(SlotBlob::parse(&b.to_bytes()).unwrap(), b);
    }

    #[test]
    fn damaged_blobs_are_refused() {
        let bytes = sample().to_bytes();
        for cut in 0..bytes.len() {
            assert!(SlotBlob::parse(&bytes[..cut]).is_err(), "cut at {cut}");
        }
        let mut longer = bytes.clone();
        longer.push(0);
        assert!(SlotBlob::parse(&longer).is_err());
        let mut magic = bytes;
        magic[0] ^= 1;
        assert!(matches!(
            SlotBlob::parse(&magic),
            Err(UnsealError::BadBlob(_))
        ));
    }

    proptest! {
        #[test]
        fn parsing_never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..300)) {
            let _ = SlotBlob::parse(&bytes);
            let mut with_magic = MAGIC.to_vec();
            with_magic.extend_from_slice(&bytes);
            let _ = SlotBlob::parse(&with_magic);
        }

        #[test]
        fn any_blob_round_trips(
            id in any::<[u8; 16]>(),
            public in proptest::collection::vec(any::<u8>(), 1..200),
            private in proptest::collection::vec(any::<u8>(), 1..200),
        ) {
            let b = SlotBlob { vault_id: id, public, private };
            prop_assert_eq!(SlotBlob::parse(&b.to_bytes()).unwrap(), b);
        }
    }
}
