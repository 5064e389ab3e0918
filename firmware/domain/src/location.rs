//! The location hierarchy: country > region > camp > block.
//!
//! Records hold location codes; the tree says how close two codes are, so that "same camp" and
//! "same region" can count in matching.

use std::collections::HashMap;

use serde::{Deserialize, Serialize};

/// A level of the hierarchy, from widest to narrowest.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum LocationLevel {
    /// A country.
    Country,
    /// A region, governorate or province.
    Region,
    /// A camp, settlement or town.
    Camp,
    /// A block, sector or zone within a camp.
    Block,
}

impl LocationLevel {
    fn depth(self) -> usize {
        self as usize
    }
}

/// One place.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Location {
    /// Its code, as records store it.
    pub code: String,
    /// Its name, for people.
    pub name: String,
    /// Its level.
    pub level: LocationLevel,
    /// The code of the place it lies in (none for a country).
    #[serde(default)]
    pub parent: Option<String>,
}

/// A tree that does not hold together.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum LocationError {
    /// Two places with one code.
    #[error("location code `{0}` appears twice")]
    Duplicate(String),
    /// A parent that is not in the tree.
    #[error("location `{code}` names parent `{parent}`, which is not in the list")]
    UnknownParent {
        /// The child.
        code: String,
        /// The missing parent.
        parent: String,
    },
    /// A place whose level does not sit right below its parent's.
    #[error("location `{code}` is a {level:?} but its parent `{parent}` is a {parent_level:?}")]
    BadLevel {
        /// The place.
        code: String,
        /// Its level.
        level: LocationLevel,
        /// Its parent.
        parent: String,
        /// The parent's level.
        parent_level: LocationLevel,
    },
    /// A country with a parent, or another level without one.
    #[error("location `{0}`: only countries have no parent")]
    Root(String),
}

/// The hierarchy of places.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct LocationTree {
    by_code: HashMap<String, Location>,
}

impl LocationTree {
    /// Builds and checks a tree.
    pub fn new(locations: Vec<Location>) -> Result<Self, LocationError> {
        let mut by_code = HashMap::with_capacity(locations.len());
        for l in locations {
            if by_code.contains_key(&l.code) {
                return Err(LocationError::Duplicate(l.code));
            }
            by_code.insert(l.code.clone(), l);
        }
        for l in by_code.values() {
            match (&l.parent, l.level) {
                (None, LocationLevel::Country) => {}
                (None, _) | (Some(_), LocationLevel::Country) => {
                    return Err(LocationError::Root(l.code.clone()));
                }
                (Some(p), level) => {
                    let parent = by_code.get(p).ok_or_else(|| LocationError::UnknownParent {
                        code: l.code.clone(),
                        parent: p.clone(),
                    })?;
                    if parent.level.depth() + 1 != level.depth() {
                        return Err(LocationError::BadLevel {
                            code: l.code.clone(),
                            level,
                            parent: p.clone(),
                            parent_level: parent.level,
                        });
                    }
                }
            }
        }
        // Levels strictly deepen from parent to child, so the tree has no cycles.
        Ok(LocationTree { by_code })
    }

    /// The place with this code.
    pub fn get(&self, code: &str) -> Option<&Location> {
        self.by_code.get(code)
    }

    /// Number of places.
    pub fn len(&self) -> usize {
        self.by_code.len()
    }

    /// Every place, in no particular order.
    pub fn iter(&self) -> impl Iterator<Item = &Location> {
        self.by_code.values()
    }

    /// True when the tree has no places.
    pub fn is_empty(&self) -> bool {
        self.by_code.is_empty()
    }

    /// The place and its ancestors, narrowest first. Unknown codes give an empty list.
    pub fn path(&self, code: &str) -> Vec<&Location> {
        let mut out = Vec::with_capacity(4);
        let mut next = self.by_code.get(code);
        while let Some(l) = next {
            out.push(l);
            next = l.parent.as_deref().and_then(|p| self.by_code.get(p));
        }
        out
    }

    /// The narrowest level two places share: `Block` when they are the same block, `Camp` when
    /// they lie in the same camp, ... `None` when they share no country or either is unknown.
    pub fn shared_level(&self, a: &str, b: &str) -> Option<LocationLevel> {
        let pa = self.path(a);
        let pb = self.path(b);
        pa.iter()
            .find(|l| pb.iter().any(|m| m.code == l.code))
            .map(|l| l.level)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn loc(code: &str, level: LocationLevel, parent: Option<&str>) -> Location {
        Location {
            code: code.into(),
            name: code.into(),
            level,
            parent: parent.map(str::to_string),
        }
    }

    fn tree() -> LocationTree {
        use LocationLevel::*;
        LocationTree::new(vec![
            loc("JO", Country, None),
            loc("JO-MA", Region, Some("JO")),
            loc("JO-MA-ZAATARI", Camp, Some("JO-MA")),
            loc("JO-MA-ZAATARI-D3", Block, Some("JO-MA-ZAATARI")),
            loc("JO-MA-ZAATARI-D7", Block, Some("JO-MA-ZAATARI")),
            loc("JO-ZA", Region, Some("JO")),
            loc("JO-ZA-AZRAQ", Camp, Some("JO-ZA")),
            loc("LB", Country, None),
        ])
        .unwrap()
    }

    #[test]
    fn shared_levels() {
        let t = tree();
        use LocationLevel::*;
        assert_eq!(
            t.shared_level("JO-MA-ZAATARI-D3", "JO-MA-ZAATARI-D3"),
            Some(Block)
        );
        assert_eq!(
            t.shared_level("JO-MA-ZAATARI-D3", "JO-MA-ZAATARI-D7"),
            Some(Camp)
        );
        assert_eq!(t.shared_level("JO-MA-ZAATARI-D3", "JO-MA"), Some(Region));
        assert_eq!(
            t.shared_level("JO-MA-ZAATARI", "JO-ZA-AZRAQ"),
            Some(Country)
        );
        assert_eq!(t.shared_level("JO-MA", "LB"), None);
        assert_eq!(t.shared_level("JO-MA", "nowhere"), None);
    }

    #[test]
    fn malformed_trees_are_refused() {
        use LocationLevel::*;
        assert_eq!(
            LocationTree::new(vec![loc("A", Country, None), loc("A", Country, None)]),
            Err(LocationError::Duplicate("A".into()))
        );
        assert!(matches!(
            LocationTree::new(vec![loc("B", Region, Some("A"))]),
            Err(LocationError::UnknownParent { .. })
        ));
        assert!(matches!(
            LocationTree::new(vec![loc("A", Country, None), loc("B", Camp, Some("A"))]),
            Err(LocationError::BadLevel { .. })
        ));
        assert_eq!(
            LocationTree::new(vec![loc("R", Region, None)]),
            Err(LocationError::Root("R".into()))
        );
    }
}
