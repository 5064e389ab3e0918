//! A deployment's code lists: values both a kit and its hub hold (location codes, the
//! lookups' ids for nationality, language, religion, ethnicity and separation cause,
//! agencies, caseworkers' user names), each sent as its position in the list instead of its
//! text. Unlike [`crate::dict`], which is the protocol's own and append-only, these lists
//! belong to a deployment and change with it (a new camp block, a new agency), so a code is
//! meaningful only against one exact list, named by its [digest](CodeBook::digest).
//!
//! **The handshake.** A kit must never send a code its hub cannot read (the hub
//! acknowledges a message it cannot decode, so the records in it would be lost). The hub
//! announces the digests of every list it reads ([`crate::message::Body::CodeLists`]); a kit
//! codes values only against its own list, and only when that list's digest is among those
//! the hub announced; anything else goes as text. A message names its list by the digest's
//! first [`PREFIX`] bytes, and the hub keeps every list it ever announced, so messages waiting
//! in a kit's outbox from before a change still decode. A hub whose list changed (a location
//! added) announces the new digest *and* the old ones: a kit still holding the old list keeps
//! coding against it.
//!
//! The lists never contain case data; they are configuration both ends were given.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

use fieldkit_domain::LocationTree;
use fieldkit_domain::lookups::Lookups;
use sha2::{Digest, Sha256};

/// Bytes of the digest a message carries to name its list.
pub const PREFIX: usize = 4;

/// The table of location codes.
pub const LOCATIONS: &str = "locations";

/// Which lookup list fills which table when a book is made from a deployment's lookups
/// (Primero's lookup ids).
const LOOKUP_TABLES: &[(&str, &str)] = &[
    ("nationality", "lookup-country"),
    ("language", "lookup-language"),
    ("religion", "lookup-religion"),
    ("ethnicity", "lookup-ethnicity"),
    ("separation_cause", "lookup-separation-cause"),
];

/// A list's full digest.
pub type CodeDigest = [u8; 32];

/// One deployment's code lists, with their digest and a reverse index.
#[derive(Clone, PartialEq, Eq)]
pub struct CodeBook {
    tables: BTreeMap<String, Vec<String>>,
    index: BTreeMap<String, HashMap<String, usize>>,
    digest: CodeDigest,
}

impl std::fmt::Debug for CodeBook {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CodeBook")
            .field("tables", &self.tables.keys().collect::<Vec<_>>())
            .field("digest", &hex(&self.digest[..PREFIX]))
            .finish_non_exhaustive()
    }
}

fn hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

impl CodeBook {
    /// A book of named tables. Within a table a value's code is the position of its first
    /// occurrence (a repeated value keeps its first code); empty tables are left out.
    pub fn new(tables: impl IntoIterator<Item = (String, Vec<String>)>) -> Self {
        let mut clean: BTreeMap<String, Vec<String>> = BTreeMap::new();
        for (name, values) in tables {
            let list = clean.entry(name).or_default();
            for v in values {
                if !list.contains(&v) {
                    list.push(v);
                }
            }
        }
        clean.retain(|_, v| !v.is_empty());
        let index = clean
            .iter()
            .map(|(name, values)| {
                let map = values
                    .iter()
                    .enumerate()
                    .map(|(i, v)| (v.clone(), i))
                    .collect();
                (name.clone(), map)
            })
            .collect();
        let digest = digest_of(&clean);
        Self {
            tables: clean,
            index,
            digest,
        }
    }

    /// The book a deployment's configuration gives: every location code of the tree (in
    /// code order), and the ids of the lookups that fill [`LOOKUP_TABLES`] when the
    /// deployment's lookups hold them. Two ends configured with the same files get the same
    /// digest.
    pub fn of_deployment(locations: Option<&LocationTree>, lookups: &Lookups) -> Self {
        let mut tables = Vec::new();
        if let Some(tree) = locations {
            let mut codes: Vec<String> = tree.iter().map(|l| l.code.clone()).collect();
            codes.sort_unstable();
            tables.push((LOCATIONS.to_string(), codes));
        }
        for (table, lookup) in LOOKUP_TABLES {
            if let Some(list) = lookups.list(lookup) {
                tables.push((
                    (*table).to_string(),
                    list.iter().map(|v| v.id.clone()).collect(),
                ));
            }
        }
        Self::new(tables)
    }

    /// The digest naming exactly these lists.
    pub fn digest(&self) -> CodeDigest {
        self.digest
    }

    /// The digest's prefix a message carries.
    pub fn prefix(&self) -> [u8; PREFIX] {
        let mut p = [0u8; PREFIX];
        p.copy_from_slice(&self.digest[..PREFIX]);
        p
    }

    /// True when the book holds no table (a deployment configured with nothing to code).
    pub fn is_empty(&self) -> bool {
        self.tables.is_empty()
    }

    /// Whether the book holds `table`.
    pub fn has(&self, table: &str) -> bool {
        self.tables.contains_key(table)
    }

    /// The code of `value` in `table`.
    pub fn code(&self, table: &str, value: &str) -> Option<usize> {
        self.index.get(table)?.get(value).copied()
    }

    /// The value of `code` in `table`.
    pub fn value(&self, table: &str, code: usize) -> Option<&str> {
        self.tables.get(table)?.get(code).map(String::as_str)
    }

    /// Every table, by name, with its values (what a book is stored and rebuilt from).
    pub fn tables(&self) -> impl Iterator<Item = (&str, &[String])> {
        self.tables.iter().map(|(n, v)| (n.as_str(), v.as_slice()))
    }

    /// The table's values (position = code).
    pub fn table(&self, table: &str) -> Option<&[String]> {
        self.tables.get(table).map(Vec::as_slice)
    }
}

/// SHA-256 over a versioned label and every table, name and values length-prefixed, in
/// name order.
fn digest_of(tables: &BTreeMap<String, Vec<String>>) -> CodeDigest {
    let mut h = Sha256::new();
    h.update(b"fieldkit code lists v1\0");
    let len = |h: &mut Sha256, n: usize| h.update((n as u64).to_le_bytes());
    len(&mut h, tables.len());
    for (name, values) in tables {
        len(&mut h, name.len());
        h.update(name.as_bytes());
        len(&mut h, values.len());
        for v in values {
            len(&mut h, v.len());
            h.update(v.as_bytes());
        }
    }
    h.finalize().into()
}

/// The books one end can read messages with, found by the prefix a message names.
#[derive(Debug, Clone, Default)]
pub struct CodeBooks {
    books: Vec<Arc<CodeBook>>,
}

/// Why a book was not added to a reader's set.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AddBookError {
    /// Another book held shares the digest's prefix, so messages could not tell them apart.
    #[error("code list {0} shares its digest prefix with one already held")]
    PrefixTaken(String),
}

impl CodeBooks {
    /// No books: coded messages do not decode.
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds a book (again: nothing changes). Refused when another held book has the same
    /// prefix: the caller keeps announcing the books it held.
    pub fn add(&mut self, book: Arc<CodeBook>) -> Result<(), AddBookError> {
        if self.books.iter().any(|b| b.digest == book.digest) {
            return Ok(());
        }
        if self.books.iter().any(|b| b.prefix() == book.prefix()) {
            return Err(AddBookError::PrefixTaken(hex(&book.digest[..PREFIX])));
        }
        self.books.push(book);
        Ok(())
    }

    /// The book a message names.
    pub fn find(&self, prefix: [u8; PREFIX]) -> Option<&CodeBook> {
        self.books
            .iter()
            .find(|b| b.prefix() == prefix)
            .map(|b| &**b)
    }

    /// The book of this digest, when held.
    pub fn get(&self, digest: &CodeDigest) -> Option<Arc<CodeBook>> {
        self.books.iter().find(|b| b.digest == *digest).cloned()
    }

    /// The digests held, in the order added (what a hub announces).
    pub fn digests(&self) -> Vec<CodeDigest> {
        self.books.iter().map(|b| b.digest).collect()
    }

    /// True when no book is held.
    pub fn is_empty(&self) -> bool {
        self.books.is_empty()
    }
}

/// The book a kit may code with: its own, when the hub announced its digest.
pub fn agreed(own: &Arc<CodeBook>, announced: &[CodeDigest]) -> Option<Arc<CodeBook>> {
    (!own.is_empty() && announced.contains(&own.digest)).then(|| Arc::clone(own))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn book(locs: &[&str]) -> CodeBook {
        CodeBook::new([(
            LOCATIONS.to_string(),
            locs.iter().map(|s| s.to_string()).collect(),
        )])
    }

    #[test]
    fn a_digest_names_exactly_one_list() {
        let a = book(&["KE-TUR", "KE-TUR-KAK1"]);
        assert_eq!(a.digest(), book(&["KE-TUR", "KE-TUR-KAK1"]).digest());
        assert_ne!(a.digest(), book(&["KE-TUR-KAK1", "KE-TUR"]).digest());
        assert_ne!(
            a.digest(),
            book(&["KE-TUR", "KE-TUR-KAK1", "KE-TUR-KAK2"]).digest()
        );
        assert_ne!(a.digest(), book(&["KE-TURKE-TUR-KAK1"]).digest());
        assert_eq!(a.code(LOCATIONS, "KE-TUR-KAK1"), Some(1));
        assert_eq!(a.value(LOCATIONS, 1), Some("KE-TUR-KAK1"));
        assert_eq!(a.code("languages", "ar"), None);
        // A repeated value keeps its first code.
        assert_eq!(
            book(&["A", "B", "A"]).table(LOCATIONS).map(<[_]>::len),
            Some(2)
        );
    }

    #[test]
    fn a_kit_codes_only_against_an_announced_list() {
        let own = Arc::new(book(&["A"]));
        assert!(agreed(&own, &[]).is_none());
        assert!(agreed(&own, &[book(&["A", "B"]).digest()]).is_none());
        assert!(agreed(&own, &[book(&["A", "B"]).digest(), own.digest()]).is_some());
        let empty = Arc::new(CodeBook::new(Vec::new()));
        assert!(agreed(&empty, &[empty.digest()]).is_none());
    }

    #[test]
    fn readers_find_books_by_prefix_and_keep_old_ones() {
        let mut books = CodeBooks::new();
        let old = Arc::new(book(&["A"]));
        let new = Arc::new(book(&["A", "B"]));
        books.add(old.clone()).expect("add");
        books.add(new.clone()).expect("add");
        books.add(old.clone()).expect("again");
        assert_eq!(books.digests(), vec![old.digest(), new.digest()]);
        assert_eq!(
            books.find(old.prefix()).map(CodeBook::digest),
            Some(old.digest())
        );
        assert_eq!(
            books.find(new.prefix()).map(CodeBook::digest),
            Some(new.digest())
        );
        assert!(books.find([0; PREFIX]).is_none() || old.prefix() == [0; PREFIX]);
    }
}
