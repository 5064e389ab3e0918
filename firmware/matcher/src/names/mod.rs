//! Names across scripts: normalise, transliterate, fold variants, phonetic keys, and
//! compare two names token by token whatever their order.
//!
//! A child registered as "محمد علي حسن" at one kit and sought as "Hassan Mohammed Ali"
//! by a mother at another must meet. [`name_key`] turns any written name into
//! [`NameToken`]s that carry: a folded Latin spelling (the canonical form when the
//! name is a known one, so Mohammed, Muhammad, Maxamed and محمد all read `muhammad`),
//! a consonant skeleton (`mhmd`) that survives the missing short vowels of Arabic
//! script, and Double Metaphone codes (from `rphonetic`). [`compare_names`] pairs the
//! tokens of two names regardless of order and says how well each pair agrees.
//!
//! This module never does IO, never allocates per comparison (its Jaro–Winkler keeps
//! its match flags in two 32-bit masks), and never panics on any input (a property
//! test feeds it arbitrary Unicode).
//!
//! ```
//! use fieldkit_match::names::{compare_names, name_key};
//!
//! let sought = name_key("Hassan Mohammed Ali");
//! let registered = name_key("محمد علي حسن");
//! let agreement = compare_names(&sought, &registered);
//! assert_eq!(agreement.pairs.len(), 3);
//! assert!(agreement.pairs.iter().all(|p| p.similarity >= 0.9));
//! ```

mod fold;
mod similarity;
mod spelling;
mod terms;
#[cfg(test)]
mod tests;
mod variants;

pub use fold::fold_text;
pub use similarity::{
    NameAgreement, PAIR_FLOOR, TokenAgreement, TokenPair, UNSURE_FLOOR, compare_names,
    jaro_winkler, token_similarity,
};
pub use spelling::{name_key, skeleton, somali_fold, spelling_normalise};
pub use terms::{TERMS_VERSION, index_terms, query_terms};

use std::collections::HashMap;

/// Longest Latin spelling kept for a token; longer ones are cut (names this long are
/// compound names already joined, and the first 24 letters tell them apart).
const LATIN_MAX: usize = 24;
/// Longest consonant skeleton kept.
const SKELETON_MAX: usize = 16;
/// Most tokens kept from one written name (given, father, grandfather, family, and a
/// few more for long chains).
pub const MAX_TOKENS: usize = 8;

/// A short ASCII string stored inline, so a profile of 100,000 cases holds no heap
/// allocation per token.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct InlineAscii<const N: usize> {
    len: u8,
    bytes: [u8; N],
}

impl<const N: usize> InlineAscii<N> {
    /// Stores the first `N` bytes of `src` (the kit core rebuilds tokens it kept with it).
    pub fn from_bytes(src: &[u8]) -> Self {
        let len = src.len().min(N);
        let mut bytes = [0u8; N];
        bytes[..len].copy_from_slice(&src[..len]);
        Self {
            len: len as u8,
            bytes,
        }
    }

    /// The stored bytes (lowercase ASCII letters, and `S` for "sh" in skeletons).
    pub fn as_bytes(&self) -> &[u8] {
        &self.bytes[..usize::from(self.len)]
    }

    /// The stored text.
    pub fn as_str(&self) -> &str {
        std::str::from_utf8(self.as_bytes()).unwrap_or("")
    }

    /// Number of letters.
    pub fn len(&self) -> usize {
        usize::from(self.len)
    }

    /// True when nothing is stored.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }
}

impl<const N: usize> std::fmt::Debug for InlineAscii<N> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{:?}", self.as_str())
    }
}

/// One normalised name token: what is compared and indexed.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug)]
pub struct NameToken {
    /// Folded Latin spelling; the canonical form when the name is a known one.
    pub latin: InlineAscii<LATIN_MAX>,
    /// Consonant skeleton of the Latin spelling (`muhammad` → `mhmd`).
    pub skeleton: InlineAscii<SKELETON_MAX>,
    /// Double Metaphone primary and alternate codes, four ASCII bytes packed.
    pub phonetic: [u32; 2],
    /// 1 + index of the known name group, or 0 when the name is not in the tables.
    pub known: u16,
    /// 1 + index of the known name this token is a family short form of, or 0.
    pub nickname_of: u16,
}

impl NameToken {
    /// The folded Latin spelling as text.
    pub fn text(&self) -> &str {
        self.latin.as_str()
    }

    /// A 64-bit key for blocking: the skeleton when it has at least two consonants,
    /// otherwise the Latin spelling (short names such as "Ali" or "Aya").
    pub fn block_key(&self) -> u64 {
        if self.skeleton.len() >= 2 {
            hash_bytes(b's', self.skeleton.as_bytes())
        } else {
            hash_bytes(b'n', self.latin.as_bytes())
        }
    }

    /// The key of the canonical name this token is, or is a short form of.
    pub fn known_key(&self) -> Option<u64> {
        let group = if self.known != 0 {
            self.known
        } else {
            self.nickname_of
        };
        (group != 0).then(|| hash_bytes(b'k', &group.to_le_bytes()))
    }

    /// The key of the Latin spelling itself (used for name frequencies).
    pub fn spelling_key(&self) -> u64 {
        hash_bytes(b'n', self.latin.as_bytes())
    }
}

/// FNV-1a over a tag and bytes: stable across runs and platforms, so keys can be
/// stored and compared between kits.
pub fn hash_bytes(tag: u8, bytes: &[u8]) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for &b in std::iter::once(&tag).chain(bytes) {
        h ^= u64::from(b);
        h = h.wrapping_mul(0x0000_0100_0000_01b3);
    }
    h
}

/// Hasher for keys that are already FNV hashes: passes them through. The std
/// SipHash would hash them a second time in the hottest lookups.
#[derive(Clone, Copy, Default, Debug)]
pub struct KeyHasher(u64);

impl std::hash::Hasher for KeyHasher {
    fn finish(&self) -> u64 {
        self.0
    }
    fn write(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.0 = self.0.rotate_left(8) ^ u64::from(b);
        }
    }
    fn write_u64(&mut self, n: u64) {
        self.0 = n;
    }
}

/// A map keyed by [`hash_bytes`] keys.
pub type KeyMap<V> = HashMap<u64, V, std::hash::BuildHasherDefault<KeyHasher>>;
