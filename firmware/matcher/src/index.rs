//! The blocking index: which profiles are worth comparing with a query at all.
//!
//! Every profile is filed under a few keys per name token (consonant skeleton, known
//! name, Double Metaphone code), separately for the child's names and the relatives'
//! names. A query collects the profiles under its own keys, scores each by the
//! rarity of the keys it shares (Σ ln(N / df)), and keeps the best few hundred for
//! the full comparison. A common name such as Muhammad files thousands of profiles
//! under one key but adds little to their score, so rare shared names decide.
//!
//! The index is a static sorted table (keys, offsets, postings: 4 bytes a posting),
//! plus a small map for profiles added since it was built. It does no IO.
//!
//! ```
//! use fieldkit_domain::{Case, Date};
//! use fieldkit_match::index::{BlockingIndex, Scratch, query_keys};
//! use fieldkit_match::profile::{ChildProfile, Locations};
//!
//! let today: Date = "2026-03-01".parse().unwrap();
//! let cases: Vec<ChildProfile> = ["Amina Yusuf", "Omar Hassan"]
//!     .iter()
//!     .map(|n| ChildProfile::from_case(&Case { name: Some(n.to_string()), ..Case::default() },
//!                                      &Locations::CodePrefixes, today))
//!     .collect();
//! let index = BlockingIndex::build(&cases);
//! let query = ChildProfile::from_case(&Case { name: Some("أمينة".into()), ..Case::default() },
//!                                     &Locations::CodePrefixes, today);
//! let found = index.candidates(&query_keys(&query), &mut Scratch::default(), 10);
//! assert_eq!(found, vec![0]);
//! ```

use crate::names::{KeyMap, NameToken, hash_bytes};
use crate::profile::ChildProfile;

/// Namespace mixed into keys of relatives' names.
const FAMILY: u64 = 0x9e37_79b9_7f4a_7c15;

fn token_keys(t: &NameToken, namespace: u64, out: &mut Vec<u64>) {
    out.push(t.block_key() ^ namespace);
    if let Some(k) = t.known_key() {
        out.push(k ^ namespace);
    }
    if t.phonetic[0] != 0 {
        out.push(hash_bytes(b'p', &t.phonetic[0].to_le_bytes()) ^ namespace);
    }
}

/// The keys a profile is filed under (and queries with): its child-name keys and its
/// relatives' name keys, deduplicated.
pub fn query_keys(p: &ChildProfile) -> Vec<u64> {
    let mut keys = Vec::with_capacity(16);
    for t in p.name_tokens() {
        token_keys(t, 0, &mut keys);
    }
    for t in p.family_tokens() {
        token_keys(t, FAMILY, &mut keys);
    }
    keys.sort_unstable();
    keys.dedup();
    keys
}

/// Per-thread working memory of a query: one score slot per indexed profile.
#[derive(Debug, Default)]
pub struct Scratch {
    scores: Vec<f32>,
    touched: Vec<u32>,
}

/// Keys → profiles, as a sorted table.
#[derive(Debug, Default, Clone)]
pub struct BlockingIndex {
    keys: Vec<u64>,
    offsets: Vec<u32>,
    postings: Vec<u32>,
    added: KeyMap<Vec<u32>>,
    /// Per profile: square root of the summed rarity of its keys, so a sparse record
    /// (a given name only) that shares all it has is not crowded out by long names
    /// sharing a few common keys.
    norms: Vec<f32>,
    population: u32,
    /// Profiles taken out since the table was built (their postings stay in the static
    /// table and are skipped), and per key how many of its static postings they are, so
    /// rarities stay those of the live profiles.
    removed: Vec<bool>,
    removed_count: u32,
    removed_fixed: KeyMap<u32>,
}

impl BlockingIndex {
    /// Files every profile (profile `i` is posted as `i`).
    pub fn build(profiles: &[ChildProfile]) -> BlockingIndex {
        BlockingIndex::build_from(profiles.len(), |i| {
            profiles.get(i).map(query_keys).unwrap_or_default()
        })
    }

    /// Files `n` profiles given by their keys (`keys_of(i)` is [`query_keys`] of profile `i`),
    /// without holding the profiles: a caller that keeps its profiles in another form (the
    /// kit's compact profiles) builds the same table as [`build`](Self::build) would.
    /// `keys_of` is called twice per profile, in order: once to count the postings of each
    /// key, once to file them; so the build holds only the table and a count per key, never a
    /// (key, profile) pair per posting.
    pub fn build_from(n: usize, mut keys_of: impl FnMut(usize) -> Vec<u64>) -> BlockingIndex {
        let mut counts: KeyMap<u32> = KeyMap::default();
        for i in 0..n {
            for k in keys_of(i) {
                *counts.entry(k).or_insert(0) += 1;
            }
        }
        let mut keys: Vec<u64> = counts.keys().copied().collect();
        keys.sort_unstable();
        let mut offsets = Vec::with_capacity(keys.len() + 1);
        let mut total = 0u32;
        for k in &keys {
            offsets.push(total);
            total += counts.get(k).copied().unwrap_or(0);
        }
        offsets.push(total);
        drop(counts);
        // Where the next posting of each key goes.
        let mut next: Vec<u32> = offsets.clone();
        let mut index = BlockingIndex {
            keys,
            offsets,
            postings: vec![0; total as usize],
            added: KeyMap::default(),
            // Room for the profiles a kit pushes before it rebuilds the index (a quarter), so the
            // table is not doubled by the first one.
            norms: Vec::with_capacity(n + n / 4),
            population: n as u32,
            removed: Vec::new(),
            removed_count: 0,
            removed_fixed: KeyMap::default(),
        };
        // Profiles filed in order, so each key's postings ascend (as sorting (key, profile)
        // pairs would give); every key's count is final, so the norms are those of the table.
        for i in 0..n {
            let keys = keys_of(i);
            for k in &keys {
                if let Ok(at) = index.keys.binary_search(k)
                    && let Some(slot) = next.get_mut(at)
                {
                    if let Some(p) = index.postings.get_mut(*slot as usize) {
                        *p = i as u32;
                    }
                    *slot += 1;
                }
            }
            let norm = index.norm(&keys);
            index.norms.push(norm);
        }
        index
    }

    fn idf(&self, df: usize) -> f32 {
        let live = self.population.saturating_sub(self.removed_count);
        ((live as f32 + 1.0) / df.max(1) as f32).ln().max(0.05)
    }

    fn norm(&self, keys: &[u64]) -> f32 {
        keys.iter()
            .map(|&k| self.idf(self.live_df(k)))
            .sum::<f32>()
            .sqrt()
            .max(1.0)
    }

    /// Files one more profile as number `i` (a new registration), without rebuilding.
    pub fn insert(&mut self, i: u32, p: &ChildProfile) {
        let keys = query_keys(p);
        for &k in &keys {
            self.added.entry(k).or_default().push(i);
        }
        self.population = self.population.max(i + 1);
        let norm = self.norm(&keys);
        if self.norms.len() <= i as usize {
            self.norms.resize(i as usize + 1, 1.0);
        }
        self.norms[i as usize] = norm;
    }

    /// Takes profile `i` (filed from `p`) out: it is never a candidate again and no
    /// longer counts in the rarity of its keys. Returns false when it was not filed.
    pub fn remove(&mut self, i: u32, p: &ChildProfile) -> bool {
        if i >= self.population || self.is_removed(i) {
            return false;
        }
        for k in query_keys(p) {
            if let Some(list) = self.added.get_mut(&k)
                && let Some(at) = list.iter().position(|&x| x == i)
            {
                list.swap_remove(at);
                if list.is_empty() {
                    self.added.remove(&k);
                }
                continue;
            }
            if self.postings(k).0.binary_search(&i).is_ok() {
                *self.removed_fixed.entry(k).or_insert(0) += 1;
            }
        }
        if self.removed.len() <= i as usize {
            self.removed.resize(self.population as usize, false);
        }
        self.removed[i as usize] = true;
        self.removed_count += 1;
        true
    }

    /// True when profile `i` was taken out with [`remove`](Self::remove).
    pub fn is_removed(&self, i: u32) -> bool {
        self.removed.get(i as usize).copied().unwrap_or(false)
    }

    /// Live profiles filed under a key.
    fn live_df(&self, key: u64) -> usize {
        let (fixed, added) = self.postings(key);
        let gone = self.removed_fixed.get(&key).copied().unwrap_or(0) as usize;
        (fixed.len() + added.len()).saturating_sub(gone)
    }

    /// Profiles filed under one key (the static table's, then those added since).
    fn postings(&self, key: u64) -> (&[u32], &[u32]) {
        let fixed = match self.keys.binary_search(&key) {
            Ok(at) => {
                let (s, e) = (self.offsets[at] as usize, self.offsets[at + 1] as usize);
                &self.postings[s..e]
            }
            Err(_) => &[][..],
        };
        let added = self.added.get(&key).map_or(&[][..], Vec::as_slice);
        (fixed, added)
    }

    /// Number of profiles filed.
    pub fn population(&self) -> usize {
        self.population as usize
    }

    /// Bytes held by the index (tables and postings; the map of later additions
    /// counted by its contents).
    pub fn memory_bytes(&self) -> usize {
        self.keys.capacity() * 8
            + self.offsets.capacity() * 4
            + self.postings.capacity() * 4
            + self.norms.capacity() * 4
            + self
                .added
                .values()
                .map(|v| v.capacity() * 4 + 8 + 24)
                .sum::<usize>()
    }

    /// Number of postings (profile-key pairs).
    pub fn posting_count(&self) -> usize {
        self.postings.len() + self.added.values().map(Vec::len).sum::<usize>()
    }

    /// The `limit` profiles sharing the rarest keys with the query, best first.
    pub fn candidates(&self, keys: &[u64], scratch: &mut Scratch, limit: usize) -> Vec<u32> {
        let n = self.population();
        if scratch.scores.len() < n {
            scratch.scores.resize(n, 0.0);
        }
        for &k in keys {
            let (fixed, added) = self.postings(k);
            let df = self.live_df(k);
            if df == 0 {
                continue;
            }
            let idf = self.idf(df);
            for &i in fixed.iter().chain(added) {
                if self.removed_count > 0 && self.is_removed(i) {
                    continue;
                }
                let slot = &mut scratch.scores[i as usize];
                if *slot == 0.0 {
                    scratch.touched.push(i);
                }
                *slot += idf;
            }
        }
        let mut found: Vec<(f32, u32)> = scratch
            .touched
            .iter()
            .map(|&i| {
                let norm = self.norms.get(i as usize).copied().unwrap_or(1.0);
                (scratch.scores[i as usize] / norm, i)
            })
            .collect();
        for &i in &scratch.touched {
            scratch.scores[i as usize] = 0.0;
        }
        scratch.touched.clear();
        let by_score = |a: &(f32, u32), b: &(f32, u32)| b.0.total_cmp(&a.0).then(a.1.cmp(&b.1));
        if found.len() > limit {
            found.select_nth_unstable_by(limit, by_score);
            found.truncate(limit);
        }
        found.sort_unstable_by(by_score);
        found.into_iter().map(|(_, i)| i).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::profile::Locations;
    use fieldkit_domain::{Case, Date, FamilyMember};

    #[test]
    fn build_from_keys_files_as_build_does() {
        let today: Date = "2026-03-01".parse().unwrap_or(Date::from_unix_ms(0));
        let names = [
            ("Amina Yusuf", "Halima Yusuf"),
            ("أمينة يوسف", "Fatima Ali"),
            ("Omar Hassan", "Hassan Omar"),
            ("Muhammad Ali", "Aisha"),
            ("", "Yusuf Ali"),
        ];
        let profiles: Vec<ChildProfile> = names
            .iter()
            .map(|(child, mother)| {
                let case = Case {
                    name: (!child.is_empty()).then(|| child.to_string()),
                    family_details_section: vec![FamilyMember {
                        relation_name: Some(mother.to_string()),
                        ..FamilyMember::default()
                    }],
                    ..Case::default()
                };
                ChildProfile::from_case(&case, &Locations::CodePrefixes, today)
            })
            .collect();
        let built = BlockingIndex::build(&profiles);
        let mut calls = 0;
        let from_keys = BlockingIndex::build_from(profiles.len(), |i| {
            calls += 1;
            query_keys(&profiles[i])
        });
        assert_eq!(calls, 2 * profiles.len());
        assert_eq!(format!("{built:?}"), format!("{from_keys:?}"));
        assert!(built.posting_count() > 0);
        let q = query_keys(&profiles[1]);
        assert_eq!(
            built.candidates(&q, &mut Scratch::default(), 10),
            from_keys.candidates(&q, &mut Scratch::default(), 10)
        );
    }
}
