//! Compact matcher profiles: what the warm index keeps per record.
//!
//! Why not the matcher's [`ChildProfile`]s themselves: a profile holds every name token as a
//! 56-byte [`NameToken`] and every name, relative and value set in an allocation of its own,
//! about 1.1 KB per case of the evaluation population. At 50,000 cases that alone was more
//! than half of the kiosk's 80 MB budget (the kiosk peaked at 145 MiB). The tokens of a
//! population repeat (its given and family names are a few thousand spellings), so the index
//! interns each token once ([`Tokens`]) and keeps, per record, the profile's fixed fields and
//! one byte string: the names as token numbers with the text as written, the relatives and the
//! value sets. A profile is decoded back, exactly (tested against the profile it came from),
//! only when the matcher compares it: the few hundred candidates the blocking index gives a
//! query, never the whole population.
//!
//! The encoding lives only in memory and is never stored or sent: it may change freely.

use std::collections::HashMap;

use fieldkit_domain::{Date, Sex};
use fieldkit_match::names::NameToken;
use fieldkit_match::profile::{ChildProfile, NameField, NameKind, Place, Relation, Relative};

/// Every distinct name token the index holds, numbered.
#[derive(Debug, Default)]
pub(crate) struct Tokens {
    list: Vec<NameToken>,
    ids: HashMap<NameToken, u32>,
}

impl Tokens {
    fn id(&mut self, t: &NameToken) -> u32 {
        if let Some(&id) = self.ids.get(t) {
            return id;
        }
        let id = u32::try_from(self.list.len()).unwrap_or(u32::MAX);
        self.list.push(*t);
        self.ids.insert(*t, id);
        id
    }

    fn get(&self, id: u32) -> Option<NameToken> {
        self.list.get(id as usize).copied()
    }

    /// Distinct tokens held.
    pub(crate) fn len(&self) -> usize {
        self.list.len()
    }

    /// The tokens in number order (what a snapshot keeps).
    pub(crate) fn iter(&self) -> impl Iterator<Item = &NameToken> {
        self.list.iter()
    }

    /// Appends a token read back from a snapshot: it takes the next number.
    pub(crate) fn push(&mut self, t: NameToken) {
        self.id(&t);
    }
}

/// A [`ChildProfile`] kept small. See the module documentation.
#[derive(Debug, Clone)]
pub(crate) struct Compact {
    sex: Option<Sex>,
    age: Option<u8>,
    estimated: bool,
    consent: bool,
    birth_year: Option<i32>,
    date_of_birth: Option<Date>,
    date_of_separation: Option<Date>,
    separated_by: Option<Date>,
    separation_place: Place,
    last_place: Place,
    /// Names, value sets and relatives (see `encode`).
    rest: Box<[u8]>,
}

fn kind_byte(k: NameKind) -> u8 {
    match k {
        NameKind::Name => 0,
        NameKind::Other => 1,
        NameKind::Nickname => 2,
    }
}

fn kind_of(b: u8) -> NameKind {
    match b {
        1 => NameKind::Other,
        2 => NameKind::Nickname,
        _ => NameKind::Name,
    }
}

fn relation_byte(r: Relation) -> u8 {
    match r {
        Relation::Mother => 0,
        Relation::Father => 1,
        Relation::Sibling => 2,
        Relation::Grandparent => 3,
        Relation::OtherFamily => 4,
        Relation::Unknown => 5,
    }
}

fn relation_of(b: u8) -> Relation {
    match b {
        0 => Relation::Mother,
        1 => Relation::Father,
        2 => Relation::Sibling,
        3 => Relation::Grandparent,
        4 => Relation::OtherFamily,
        _ => Relation::Unknown,
    }
}

struct Writer<'t> {
    out: Vec<u8>,
    tokens: &'t mut Tokens,
}

impl Writer<'_> {
    fn varint(&mut self, mut v: u64) {
        loop {
            let byte = (v & 0x7f) as u8;
            v >>= 7;
            if v == 0 {
                self.out.push(byte);
                return;
            }
            self.out.push(byte | 0x80);
        }
    }

    fn len(&mut self, n: usize) {
        self.varint(n as u64);
    }

    fn signed(&mut self, v: i64) {
        // Zigzag: small magnitudes of either sign stay short.
        self.varint(((v << 1) ^ (v >> 63)) as u64);
    }

    fn opt_signed(&mut self, v: Option<i64>) {
        match v {
            None => self.out.push(0),
            Some(v) => {
                self.out.push(1);
                self.signed(v);
            }
        }
    }

    fn values(&mut self, v: &[u32]) {
        self.len(v.len());
        for x in v {
            self.out.extend_from_slice(&x.to_le_bytes());
        }
    }

    fn names(&mut self, names: &[NameField]) {
        self.len(names.len());
        for f in names {
            self.out.push(kind_byte(f.kind));
            self.len(f.display.len());
            self.out.extend_from_slice(f.display.as_bytes());
            self.len(f.tokens.len());
            for t in f.tokens.iter() {
                let id = self.tokens.id(t);
                self.varint(u64::from(id));
            }
        }
    }
}

/// Reads what [`Writer`] wrote. It only ever reads bytes this module wrote in this process, so
/// running short cannot happen; if it did, it reads zeros (empty lists), never panics.
struct Reader<'a> {
    b: &'a [u8],
    at: usize,
}

impl<'a> Reader<'a> {
    fn u8(&mut self) -> u8 {
        let v = self.b.get(self.at).copied().unwrap_or(0);
        self.at += 1;
        v
    }

    fn varint(&mut self) -> u64 {
        let mut v = 0u64;
        for shift in (0..64).step_by(7) {
            let byte = self.u8();
            v |= u64::from(byte & 0x7f) << shift;
            if byte & 0x80 == 0 {
                break;
            }
        }
        v
    }

    fn len(&mut self) -> usize {
        usize::try_from(self.varint())
            .unwrap_or(0)
            .min(self.b.len())
    }

    fn signed(&mut self) -> i64 {
        let v = self.varint();
        ((v >> 1) as i64) ^ -((v & 1) as i64)
    }

    fn opt_signed(&mut self) -> Option<i64> {
        (self.u8() == 1).then(|| self.signed())
    }

    fn bytes(&mut self, n: usize) -> &'a [u8] {
        let start = self.at.min(self.b.len());
        let end = self.at.saturating_add(n).min(self.b.len());
        self.at = self.at.saturating_add(n);
        &self.b[start..end]
    }

    fn values(&mut self) -> Box<[u32]> {
        let n = self.len();
        (0..n)
            .map(|_| {
                let b = self.bytes(4);
                let mut x = [0u8; 4];
                x[..b.len()].copy_from_slice(b);
                u32::from_le_bytes(x)
            })
            .collect()
    }

    /// Three value sets in a row; with `keys_only` they are skipped (left empty).
    fn value_sets(&mut self, keys_only: bool) -> [Box<[u32]>; 3] {
        std::array::from_fn(|_| {
            if keys_only {
                let n = self.len();
                self.bytes(n.saturating_mul(4));
                Box::default()
            } else {
                self.values()
            }
        })
    }

    /// The names; with `keys_only`, without the text as written (for the blocking keys).
    fn names(&mut self, tokens: &Tokens, keys_only: bool) -> Vec<NameField> {
        let n = self.len();
        let mut out = Vec::with_capacity(n);
        for _ in 0..n {
            let kind = kind_of(self.u8());
            let len = self.len();
            let text = self.bytes(len);
            let display: Box<str> = if keys_only {
                Box::default()
            } else {
                String::from_utf8_lossy(text).into()
            };
            let count = self.len();
            let toks: Box<[NameToken]> = (0..count)
                .filter_map(|_| {
                    let id = u32::try_from(self.varint()).unwrap_or(u32::MAX);
                    tokens.get(id)
                })
                .collect();
            out.push(NameField {
                kind,
                display,
                tokens: toks,
            });
        }
        out
    }

    /// The first name's text as written, leaving the reader after the names.
    fn first_display(&mut self) -> Option<&'a str> {
        let n = self.len();
        if n == 0 {
            return None;
        }
        self.u8();
        let len = self.len();
        std::str::from_utf8(self.bytes(len)).ok()
    }
}

impl Compact {
    /// Encodes a profile, numbering its tokens in `tokens`.
    pub(crate) fn encode(p: &ChildProfile, tokens: &mut Tokens) -> Compact {
        let mut w = Writer {
            out: Vec::with_capacity(128),
            tokens,
        };
        w.names(&p.names);
        w.values(&p.nationality);
        w.values(&p.language);
        w.values(&p.ethnicity);
        w.len(p.family.len());
        for r in &p.family {
            w.out.push(relation_byte(r.relation));
            w.out.push(r.age.map_or(0, |a| a.saturating_add(1)));
            w.opt_signed(r.birth_year.map(i64::from));
            w.opt_signed(r.date_of_birth.map(|d| d.days_since_epoch()));
            w.values(&r.nationality);
            w.values(&r.ethnicity);
            w.values(&r.religion);
            w.names(&r.names);
        }
        Compact {
            sex: p.sex,
            age: p.age,
            estimated: p.estimated,
            consent: p.consent,
            birth_year: p.birth_year,
            date_of_birth: p.date_of_birth,
            date_of_separation: p.date_of_separation,
            separated_by: p.separated_by,
            separation_place: p.separation_place,
            last_place: p.last_place,
            rest: w.out.into_boxed_slice(),
        }
    }

    /// The profile it was encoded from, field for field.
    pub(crate) fn decode(&self, tokens: &Tokens) -> ChildProfile {
        self.decode_with(tokens, false)
    }

    /// Only what the blocking index files a profile under (the child's and the relatives'
    /// name tokens); every other field is left empty. Cheaper than [`decode`](Self::decode).
    pub(crate) fn decode_keys(&self, tokens: &Tokens) -> ChildProfile {
        self.decode_with(tokens, true)
    }

    fn decode_with(&self, tokens: &Tokens, keys_only: bool) -> ChildProfile {
        let mut r = Reader {
            b: &self.rest,
            at: 0,
        };
        let names = r.names(tokens, keys_only);
        let [nationality, language, ethnicity] = r.value_sets(keys_only);
        let n = r.len();
        let mut family = Vec::with_capacity(n);
        for _ in 0..n {
            let relation = relation_of(r.u8());
            let age = r.u8().checked_sub(1);
            let birth_year = r.opt_signed().and_then(|y| i32::try_from(y).ok());
            let date_of_birth = r.opt_signed().map(Date::from_days_since_epoch);
            let [nationality, ethnicity, religion] = r.value_sets(keys_only);
            let names = r.names(tokens, keys_only);
            family.push(Relative {
                relation,
                names,
                age,
                birth_year,
                date_of_birth,
                nationality,
                ethnicity,
                religion,
            });
        }
        ChildProfile {
            names,
            sex: self.sex,
            age: self.age,
            birth_year: self.birth_year,
            date_of_birth: self.date_of_birth,
            estimated: self.estimated,
            date_of_separation: self.date_of_separation,
            separated_by: self.separated_by,
            separation_place: self.separation_place,
            last_place: self.last_place,
            nationality,
            language,
            ethnicity,
            family,
            consent: self.consent,
        }
    }

    /// The child's name as first written ([`ChildProfile::display_name`]), without decoding.
    pub(crate) fn display_name(&self) -> &str {
        Reader {
            b: &self.rest,
            at: 0,
        }
        .first_display()
        .unwrap_or("")
    }

    /// Bytes held by this profile beyond the tokens table (for the index's memory figures).
    pub(crate) fn heap_bytes(&self) -> usize {
        std::mem::size_of::<Compact>() + self.rest.len()
    }
}

/// A compact profile in the index's snapshot (`crate::snapshot`): its fixed fields, then the
/// byte string as it is (token numbers refer to the snapshot's tokens, kept in number order).
impl Compact {
    pub(crate) fn write_snapshot(&self, o: &mut crate::snapshot::Out<'_>) {
        o.sex(self.sex);
        o.opt_signed(self.age.map(i64::from));
        o.u8(u8::from(self.estimated) | (u8::from(self.consent) << 1));
        o.opt_signed(self.birth_year.map(i64::from));
        o.date(self.date_of_birth);
        o.date(self.date_of_separation);
        o.date(self.separated_by);
        o.place(&self.separation_place);
        o.place(&self.last_place);
        o.bytes(&self.rest);
    }

    pub(crate) fn read_snapshot(i: &mut crate::snapshot::In<'_>) -> Option<Compact> {
        let sex = i.sex().ok()?;
        let age = match i.opt_signed().ok()? {
            None => None,
            Some(a) => Some(u8::try_from(a).ok()?),
        };
        let flags = i.u8()?;
        let birth_year = match i.opt_signed().ok()? {
            None => None,
            Some(y) => Some(i32::try_from(y).ok()?),
        };
        Some(Compact {
            sex,
            age,
            estimated: flags & 1 != 0,
            consent: flags & 2 != 0,
            birth_year,
            date_of_birth: i.date().ok()?,
            date_of_separation: i.date().ok()?,
            separated_by: i.date().ok()?,
            separation_place: i.place()?,
            last_place: i.place()?,
            rest: i.bytes()?.into(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use fieldkit_domain::{Case, FamilyMember, Trace, TracingRequest};
    use fieldkit_match::profile::Locations;

    fn today() -> Date {
        Date::from_ymd(2026, 3, 1).unwrap_or(Date::from_unix_ms(0))
    }

    #[test]
    fn a_case_and_a_trace_come_back_exactly() {
        let case = Case {
            name: Some("محمد علي حسن".into()),
            name_other: Some("Mo Hassan".into()),
            sex: Some(Sex::Male),
            age: Some(9),
            estimated: true,
            date_of_separation: Date::from_ymd(2025, 6, 2).ok(),
            location_separation: Some("JO-MA-ZAATARI-D3".into()),
            location_current: Some("JO-MA".into()),
            nationality: vec!["syria".into(), "jordan".into()],
            language: vec!["arabic".into()],
            consent_for_tracing: Some(true),
            family_details_section: vec![
                FamilyMember {
                    relation: Some("mother".into()),
                    relation_name: Some("Fatima Yusuf".into()),
                    relation_nickname: Some("Umm Ali".into()),
                    relation_age: Some(34),
                    relation_date_of_birth: Date::from_ymd(1960, 1, 31).ok(),
                    relation_nationality: vec!["syria".into()],
                    relation_religion: vec!["islam".into()],
                    ..FamilyMember::default()
                },
                FamilyMember {
                    relation: Some("uncle".into()),
                    relation_name: Some("Ахмед".into()),
                    ..FamilyMember::default()
                },
            ],
            ..Case::default()
        };
        let request = TracingRequest {
            relation_name: Some("Halima Yusuf".into()),
            relation_age: Some(40),
            ..TracingRequest::default()
        };
        let trace = Trace {
            name: Some("Aisha Yousef".into()),
            sex: Some(Sex::Female),
            age: Some(10),
            ..Trace::default()
        };
        let mut tokens = Tokens::default();
        let loc = Locations::CodePrefixes;
        for p in [
            ChildProfile::from_case(&case, &loc, today()),
            ChildProfile::from_trace(&request, &trace, &loc, today()),
            ChildProfile::from_case(&Case::default(), &loc, today()),
        ] {
            let c = Compact::encode(&p, &mut tokens);
            assert_eq!(format!("{:?}", c.decode(&tokens)), format!("{p:?}"));
            assert_eq!(c.display_name(), p.display_name());
            assert_eq!(
                fieldkit_match::index::query_keys(&c.decode_keys(&tokens)),
                fieldkit_match::index::query_keys(&p)
            );
        }
        // "Yusuf" is interned once for the case's mother and the trace's inquirer.
        let distinct: std::collections::HashSet<String> = [
            "محمد علي حسن",
            "Mo Hassan",
            "Fatima Yusuf",
            "Umm Ali",
            "Ахмед",
            "Halima Yusuf",
            "Aisha Yousef",
        ]
        .iter()
        .flat_map(|n| fieldkit_match::names::name_key(n))
        .map(|t| format!("{t:?}"))
        .collect();
        assert_eq!(tokens.len(), distinct.len());
    }
}
