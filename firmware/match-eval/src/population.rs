//! The synthetic population: families from several naming traditions, separated
//! children registered as cases (some twice), families filing tracing requests, and
//! many unrelated registrations, with the errors real registrations carry.
//!
//! The corruption model is fixed here, before any tuning, and every draw comes from
//! one seeded [`Prng`], so a seed always gives the same population. The rates:
//!
//! | what | case (child registered) | trace (family asks) |
//! |---|---|---|
//! | script | Arabic-script 35 % (Arabic, Sudanese), 40 % (Afghan); Cyrillic 45 % (Ukrainian); Somali orthography 50 % per record | same rates, drawn independently |
//! | Latin respelling | every Latin token respelled by transliteration rules (vowels, doubled letters, q/k, kh/h, -a/-ah, …) | same |
//! | typing slip | 15 % of records, one letter in one token | 10 % |
//! | name order | family/last name first 20 % | 15 % |
//! | last name token dropped | 20 % | 10 % |
//! | given name only | 5 % | 3 % |
//! | nickname | in `name_nickname` 15 % | in `name_nickname` 20 %, as the given name 6 % |
//! | sex | missing 5 %, wrong 1 % | missing 2 %, wrong 1 % |
//! | age | estimated: off by 0/±1/±2/±3 years with 40/30/20/10 %; missing 5 % | off by ±1 25 %, ±2 5 %; missing 5 % |
//! | date of birth | known 15 % | known 35 % (10 % of them with day and month swapped) |
//! | separation date | 60 %, off up to ±20 days | 80 %, off up to ±7 days |
//! | separation place | 60 %: block 50 %, camp 30 %, region 20 %; 10 % a neighbouring block | 85 %, same depths |
//! | family listed | mother 60 %, father 50 % (their names corrupted the same way), sibling 20 % | inquirer: mother 60 %, father 30 %, other relative 10 % |
//! | nationality / language / ethnicity | 75 / 60 / 30 %, 3 % wrong | 80 / 60 / 30 % |
//!
//! | relatives' details (second stream) | mother and father listed: date of birth 30 %, nationality 50 %, ethnicity 30 %, religion 40 %, nickname 20 % (when the name has a short form) | inquirer's date of birth 30 % (mother or father), religion 40 %; the request's own separation date (±10 days) and place 40 % each; each trace's last home 30 % |
//!
//! Of the children families seek, 15 % were never registered (their traces have no
//! true match); 4 % of registered children were registered twice (near-duplicates).
//! Siblings separated together share parents, family name and separation: the
//! hardest wrong matches.

use fieldkit_domain::{
    Case, Date, FamilyMember, Location, LocationLevel, LocationTree, RecordId, Sex, Trace,
    TracingRequest, WgAnswer, concern,
};

use crate::pools;
use fieldkit_testkit::Rng;

/// The population's draws, on the workspace's one seeded SplitMix64
/// ([`fieldkit_testkit::Rng`], not `rand`, so a seed gives the same population whatever
/// crate versions the workspace moves to), in the two shapes the corruption model speaks
/// in: probabilities and index ranges.
#[derive(Debug, Clone)]
pub struct Prng(Rng);

impl Prng {
    /// A generator from a seed.
    pub fn new(seed: u64) -> Prng {
        Prng(Rng::new(seed ^ 0x5DEE_CE66_D1CE_4E5B))
    }

    /// The next 64 random bits.
    pub fn next_u64(&mut self) -> u64 {
        self.0.next_u64()
    }

    /// Uniform in `0..n` (0 when `n` is 0).
    pub fn below(&mut self, n: usize) -> usize {
        self.0.index(n)
    }

    /// Uniform in `[0, 1)`.
    pub fn unit(&mut self) -> f64 {
        self.0.unit()
    }

    /// True with probability `p`.
    pub fn chance(&mut self, p: f64) -> bool {
        self.0.unit() < p
    }

    /// Uniform in `lo..=hi` (`lo` when `hi` <= `lo`).
    pub fn between(&mut self, lo: i64, hi: i64) -> i64 {
        self.0.range(lo, hi)
    }

    /// One element of a non-empty slice.
    pub fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        self.0.pick(items)
    }
}

/// What the population generator is asked for.
#[derive(Debug, Clone, Copy)]
pub struct PopulationSpec {
    /// Seed of every draw.
    pub seed: u64,
    /// Number of families.
    pub families: usize,
    /// Share of families that file a tracing request.
    pub tracing_share: f64,
    /// Which population.
    pub variant: Variant,
}

/// The populations the generator draws.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Variant {
    /// The corruption model in the table above.
    #[default]
    Standard,
    /// The standard population made harder, as a field test found it (issue 7): a quarter of
    /// families are namesakes of an earlier family (same family name, and the father's given name
    /// where the child's name carries it; the first child's given name too; but other parents
    /// and other ages); half the requests
    /// are made by the mother and give each child's given name only; traces' ages are off by up
    /// to 3 years either way (uniformly); 40 % of traces give no sex; Arabic, Persian and
    /// Cyrillic script in 60 % of records of those traditions. Its draws come from a second
    /// stream, so the records it shares with the standard population are the same.
    Hard,
}

impl Variant {
    /// Its name in reports and on the command line.
    pub fn as_str(self) -> &'static str {
        match self {
            Variant::Standard => "standard",
            Variant::Hard => "hard",
        }
    }
}

impl PopulationSpec {
    /// About `cases` registrations (each family registers 1.3 on average).
    pub fn with_cases(seed: u64, cases: usize) -> PopulationSpec {
        PopulationSpec {
            seed,
            families: (cases as f64 / 1.3).ceil() as usize,
            tracing_share: 0.15,
            variant: Variant::Standard,
        }
    }

    /// The [`Variant::Hard`] population of about `cases` registrations.
    pub fn hard(seed: u64, cases: usize) -> PopulationSpec {
        PopulationSpec {
            variant: Variant::Hard,
            ..PopulationSpec::with_cases(seed, cases)
        }
    }
}

/// A generated population with its truth.
#[derive(Debug, Clone)]
pub struct Population {
    /// Cases, as Primero-shaped records.
    pub cases: Vec<Case>,
    /// Tracing requests.
    pub requests: Vec<TracingRequest>,
    /// The child each case registers.
    pub case_child: Vec<u32>,
    /// The child each trace seeks, by (request, trace) in order.
    pub trace_child: Vec<Vec<u32>>,
    /// The family of each child (indexed by the child's id, as in `case_child`): children
    /// of one family are siblings. Truth for the analysis of errors; no matcher sees it.
    pub child_family: Vec<u32>,
    /// For each family, the earlier family it is a namesake of (hard population only).
    pub namesake_of: Vec<Option<u32>>,
    /// The location hierarchy used.
    pub locations: LocationTree,
    /// The day the evaluation is run on.
    pub today: Date,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Tradition {
    Levant,
    Sudan,
    Somali,
    Afghan,
    SouthSudan,
    Ukraine,
    Congo,
}

impl Tradition {
    fn draw(rng: &mut Prng) -> Tradition {
        let r = rng.unit();
        match r {
            x if x < 0.30 => Tradition::Levant,
            x if x < 0.40 => Tradition::Sudan,
            x if x < 0.55 => Tradition::Somali,
            x if x < 0.67 => Tradition::Afghan,
            x if x < 0.80 => Tradition::SouthSudan,
            x if x < 0.92 => Tradition::Ukraine,
            _ => Tradition::Congo,
        }
    }

    fn country(self) -> usize {
        match self {
            Tradition::Levant => 0,
            Tradition::Sudan | Tradition::Somali | Tradition::SouthSudan | Tradition::Congo => 1,
            Tradition::Afghan => 2,
            Tradition::Ukraine => 3,
        }
    }

    fn nationality(self) -> &'static str {
        match self {
            Tradition::Levant => "syrian",
            Tradition::Sudan => "sudanese",
            Tradition::Somali => "somali",
            Tradition::Afghan => "afghan",
            Tradition::SouthSudan => "south_sudanese",
            Tradition::Ukraine => "ukrainian",
            Tradition::Congo => "congolese",
        }
    }

    fn languages(self) -> &'static [&'static str] {
        match self {
            Tradition::Levant | Tradition::Sudan => &["arabic"],
            Tradition::Somali => &["somali"],
            Tradition::Afghan => &["dari", "pashto"],
            Tradition::SouthSudan => &["dinka", "nuer"],
            Tradition::Ukraine => &["ukrainian", "russian"],
            Tradition::Congo => &["swahili", "lingala", "french"],
        }
    }

    fn ethnicities(self) -> &'static [&'static str] {
        match self {
            Tradition::Levant => &["arab", "kurd"],
            Tradition::Sudan => &["arab", "fur", "masalit"],
            Tradition::Somali => &["darod", "hawiye", "dir"],
            Tradition::Afghan => &["pashtun", "tajik", "hazara"],
            Tradition::SouthSudan => &["dinka", "nuer"],
            Tradition::Ukraine => &["ukrainian"],
            Tradition::Congo => &["luba", "nande", "shi"],
        }
    }

    fn religion(self) -> &'static str {
        match self {
            Tradition::Levant | Tradition::Sudan | Tradition::Somali | Tradition::Afghan => "islam",
            Tradition::SouthSudan | Tradition::Ukraine | Tradition::Congo => "christianity",
        }
    }

    /// Probability that a record of this family is written in its native script.
    fn native_script(self) -> f64 {
        match self {
            Tradition::Levant | Tradition::Sudan => 0.35,
            Tradition::Afghan => 0.40,
            Tradition::Ukraine => 0.45,
            Tradition::Somali => 0.5,
            Tradition::SouthSudan | Tradition::Congo => 0.0,
        }
    }
}

/// One name: a Latin spelling and, when there is one, its native form.
#[derive(Clone, Copy, Debug)]
struct Entry {
    latin: &'static str,
    native: Option<&'static str>,
}

fn parse_pool(pool: &'static str) -> Vec<Entry> {
    pool.split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(|s| match s.split_once('|') {
            Some((l, n)) => Entry {
                latin: l,
                native: Some(n),
            },
            None => Entry {
                latin: s,
                native: None,
            },
        })
        .collect()
}

struct Pools {
    male: Vec<Vec<Entry>>,
    female: Vec<Vec<Entry>>,
    family: Vec<Vec<Entry>>,
}

impl Pools {
    fn new() -> Pools {
        let t = |p: &'static str| parse_pool(p);
        // Index by Tradition as usize in `traditions()` order.
        Pools {
            male: vec![
                t(pools::ARABIC_MALE),
                t(pools::ARABIC_MALE),
                t(pools::SOMALI_MALE),
                t(pools::AFGHAN_MALE),
                t(pools::SUDANESE_MALE),
                t(pools::UKRAINIAN_MALE),
                t(pools::CONGOLESE_MALE),
            ],
            female: vec![
                t(pools::ARABIC_FEMALE),
                t(pools::ARABIC_FEMALE),
                t(pools::SOMALI_FEMALE),
                t(pools::AFGHAN_FEMALE),
                t(pools::SUDANESE_FEMALE),
                t(pools::UKRAINIAN_FEMALE),
                t(pools::CONGOLESE_FEMALE),
            ],
            family: vec![
                t(pools::ARABIC_MALE),
                t(pools::ARABIC_MALE),
                t(pools::SOMALI_MALE),
                t(pools::AFGHAN_FAMILY),
                t(pools::SUDANESE_MALE),
                t(pools::UKRAINIAN_FAMILY),
                t(pools::CONGOLESE_FAMILY),
            ],
        }
    }
}

fn slot(t: Tradition) -> usize {
    match t {
        Tradition::Levant => 0,
        Tradition::Sudan => 1,
        Tradition::Somali => 2,
        Tradition::Afghan => 3,
        Tradition::SouthSudan => 4,
        Tradition::Ukraine => 5,
        Tradition::Congo => 6,
    }
}

/// A person's true name: ordered parts (given first).
#[derive(Clone, Debug)]
struct TrueName {
    parts: Vec<Entry>,
    /// Congolese names put the family name first by custom.
    family_first: bool,
}

#[derive(Clone, Debug)]
struct Child {
    uid: u32,
    name: TrueName,
    sex: Sex,
    birth: Date,
}

/// How one record writes its names: its script choice is made once per record.
struct Writer<'a> {
    rng: &'a mut Prng,
    tradition: Tradition,
    native: bool,
}

impl Writer<'_> {
    fn token(&mut self, e: &Entry) -> String {
        match (self.tradition, e.native) {
            (Tradition::Somali, Some(anglicised)) => {
                // Somali orthography is the Latin part; the anglicised form the second.
                if self.native && self.rng.chance(0.85) {
                    e.latin.to_string()
                } else {
                    respell(self.rng, anglicised)
                }
            }
            (_, Some(native)) if self.native => native_variant(self.rng, native),
            _ => respell(self.rng, e.latin),
        }
    }

    fn name(&mut self, n: &TrueName, drop_last: f64, swap: f64, given_only: f64) -> String {
        let mut parts: Vec<String> = n.parts.iter().map(|e| self.token(e)).collect();
        if parts.len() > 1 && self.rng.chance(given_only) {
            parts.truncate(1);
        } else if parts.len() > 2 && self.rng.chance(drop_last) {
            parts.pop();
        }
        let family_first = n.family_first != self.rng.chance(swap);
        if family_first && parts.len() > 1 {
            let last = parts.pop().unwrap_or_default();
            parts.insert(0, last);
        }
        parts.join(" ")
    }
}

/// Arabic and Cyrillic typing variants: hamza seats dropped, teh marbuta as heh,
/// alef maksura as yeh, the article written or not, occasionally harakat.
fn native_variant(rng: &mut Prng, native: &str) -> String {
    let mut s: String = native.to_string();
    if rng.chance(0.5) {
        s = s.replace(['أ', 'إ', 'آ'], "ا");
    }
    if rng.chance(0.3) {
        s = s.replace('ة', "ه");
    }
    if rng.chance(0.3) {
        s = s.replace('ى', "ي");
    }
    if rng.chance(0.2) {
        s = s.replace('\u{200C}', "");
    }
    if rng.chance(0.05) && s.contains('م') {
        s = s.replacen('م', "مُ", 1);
    }
    s
}

/// Transliteration choices a registrar makes, drawn at random: vowels (u/o, i/ee/e,
/// ou/u, a/e), doubled consonants, q/k, kh/h, j/dj, sh/ch, -a/-ah, y/i, Abd- forms.
fn respell(rng: &mut Prng, base: &str) -> String {
    let mut s = base.to_lowercase();
    let rules: &[(&str, &str, f64)] = &[
        ("abdul", "abdel", 0.15),
        ("abdul", "abdul ", 0.25),
        ("abdu", "abd al-", 0.05),
        ("u", "o", 0.3),
        ("o", "ou", 0.15),
        ("ee", "i", 0.5),
        ("i", "ee", 0.1),
        ("ou", "u", 0.3),
        ("oo", "u", 0.3),
        ("q", "k", 0.4),
        ("kh", "h", 0.1),
        ("j", "dj", 0.05),
        ("sh", "ch", 0.05),
        ("y", "i", 0.15),
        ("iy", "ii", 0.3),
        ("ii", "iy", 0.2),
        ("aa", "a", 0.4),
        ("ss", "s", 0.35),
        ("mm", "m", 0.35),
        ("dd", "d", 0.3),
        ("ll", "l", 0.3),
        ("a", "e", 0.12),
    ];
    for (from, to, p) in rules {
        if s.contains(from) && rng.chance(*p) {
            s = s.replacen(from, to, 1);
        }
    }
    // Doubling a medial consonant, final -a/-ah.
    if rng.chance(0.08) && s.len() > 3 {
        let b: Vec<char> = s.chars().collect();
        let i = 1 + rng.below(b.len() - 2);
        if !"aeiou ".contains(b[i]) {
            s = b[..=i].iter().chain(b[i..].iter()).collect();
        }
    }
    if s.ends_with('a') && rng.chance(0.2) {
        s.push('h');
    } else if s.ends_with("ah") && rng.chance(0.5) {
        s.pop();
    }
    capitalise(&s)
}

fn capitalise(s: &str) -> String {
    s.split(' ')
        .map(|w| {
            let mut c = w.chars();
            match c.next() {
                Some(f) => f.to_uppercase().chain(c).collect(),
                None => String::new(),
            }
        })
        .collect::<Vec<_>>()
        .join(" ")
}

/// One typing slip in one token: a letter dropped, doubled, swapped with its
/// neighbour, or replaced.
fn typo(rng: &mut Prng, name: &str) -> String {
    let mut tokens: Vec<Vec<char>> = name.split(' ').map(|t| t.chars().collect()).collect();
    let ti = rng.below(tokens.len());
    let t = &mut tokens[ti];
    if t.len() < 3 {
        return name.to_string();
    }
    let i = 1 + rng.below(t.len() - 1);
    match rng.below(4) {
        0 => {
            t.remove(i);
        }
        1 => {
            let c = t[i];
            t.insert(i, c);
        }
        2 => {
            t.swap(i - 1, i);
        }
        _ => {
            let arabic = t.iter().any(|c| ('\u{0600}'..='\u{06FF}').contains(c));
            let cyrillic = t.iter().any(|c| ('\u{0400}'..='\u{04FF}').contains(c));
            let set: &[char] = if arabic {
                &['ا', 'ب', 'ت', 'ن', 'ي', 'ر', 'س', 'ل', 'م', 'ه']
            } else if cyrillic {
                &['а', 'о', 'и', 'н', 'р', 'с', 'т', 'к', 'л', 'в']
            } else {
                &['a', 'e', 'i', 'o', 'u', 'n', 'r', 's', 't', 'l', 'm', 'h']
            };
            t[i] = *rng.pick(set);
        }
    }
    tokens
        .iter()
        .map(|t| t.iter().collect::<String>())
        .collect::<Vec<_>>()
        .join(" ")
}

fn short_form(given: &Entry) -> Option<&'static str> {
    pools::SHORT_FORMS
        .iter()
        .find(|(full, _)| *full == given.latin)
        .map(|(_, short)| *short)
}

fn date(days: i64) -> Date {
    Date::from_days_since_epoch(days)
}

struct Geography {
    blocks: Vec<Vec<Vec<Vec<String>>>>, // country > region > camp > block codes
    tree: LocationTree,
}

const COUNTRIES: [&str; 4] = ["JO", "KE", "PK", "PL"];

fn geography() -> Geography {
    let mut locs = Vec::new();
    let mut blocks = Vec::new();
    for c in COUNTRIES {
        locs.push(Location {
            code: c.into(),
            name: c.into(),
            level: LocationLevel::Country,
            parent: None,
        });
        let mut regions = Vec::new();
        for r in 1..=3 {
            let rc = format!("{c}-R{r}");
            locs.push(Location {
                code: rc.clone(),
                name: rc.clone(),
                level: LocationLevel::Region,
                parent: Some(c.into()),
            });
            let mut camps = Vec::new();
            for k in 1..=4 {
                let kc = format!("{rc}-C{k}");
                locs.push(Location {
                    code: kc.clone(),
                    name: kc.clone(),
                    level: LocationLevel::Camp,
                    parent: Some(rc.clone()),
                });
                let mut bs = Vec::new();
                for b in 1..=8 {
                    let bc = format!("{kc}-B{b}");
                    locs.push(Location {
                        code: bc.clone(),
                        name: bc.clone(),
                        level: LocationLevel::Block,
                        parent: Some(kc.clone()),
                    });
                    bs.push(bc);
                }
                camps.push(bs);
            }
            regions.push(camps);
        }
        blocks.push(regions);
    }
    // The codes above are unique and every parent precedes its children.
    let tree = LocationTree::new(locs).unwrap_or_default();
    Geography { blocks, tree }
}

/// A place as a record gives it: the block, or only its camp or region.
fn described_place(rng: &mut Prng, block: &str, wrong_block: Option<&str>) -> String {
    let b = match wrong_block {
        Some(w) if rng.chance(0.1) => w,
        _ => block,
    };
    let parts: Vec<&str> = b.split('-').collect();
    let depth = match rng.unit() {
        x if x < 0.5 => 4,
        x if x < 0.8 => 3,
        _ => 2,
    };
    parts[..depth.min(parts.len())].join("-")
}

fn mint(rng: &mut Prng, day: i64) -> RecordId {
    let mut bytes = [0u8; 10];
    for b in &mut bytes {
        *b = rng.next_u64() as u8;
    }
    RecordId::mint((day.max(0) as u64) * 86_400_000, bytes)
}

fn age_on(birth: Date, day: i64) -> i64 {
    i64::from(birth.age_on(date(day)))
}

fn misestimate(rng: &mut Prng, age: i64) -> i64 {
    let off = match rng.unit() {
        x if x < 0.40 => 0,
        x if x < 0.70 => 1,
        x if x < 0.90 => 2,
        _ => 3,
    };
    let signed = if rng.chance(0.5) { off } else { -off };
    (age + signed).max(0)
}

fn maybe_wrong_sex(rng: &mut Prng, sex: Sex, missing: f64) -> Option<Sex> {
    if rng.chance(missing) {
        None
    } else if rng.chance(0.01) {
        Some(if sex == Sex::Female {
            Sex::Male
        } else {
            Sex::Female
        })
    } else {
        Some(sex)
    }
}

/// Draws a population.
pub fn generate(spec: PopulationSpec) -> Population {
    let mut g = Generator::new(spec);
    for _ in 0..spec.families {
        let family = g.family();
        let traces_family = g.rng.chance(spec.tracing_share);
        // A family asking finds up to three children gone, others up to two.
        let most = if traces_family { 3 } else { 2 };
        let k = 1 + g.rng.below(family.children.len().min(most));
        let separated = &family.children[..k];
        for child in separated {
            if traces_family && g.rng.chance(0.15) {
                continue; // never registered
            }
            g.register(&family, child);
        }
        if traces_family {
            g.request(&family, separated);
        }
    }
    Population {
        cases: g.cases,
        requests: g.requests,
        case_child: g.case_child,
        trace_child: g.trace_child,
        child_family: g.child_family,
        namesake_of: g.namesake_of,
        locations: g.geo.tree,
        today: date(g.today_days),
    }
}

/// The given names a family is built from, drawn before the tradition shapes them.
#[derive(Clone, Copy)]
struct Elders {
    family_name: Entry,
    father_given: Entry,
    grandfather: Entry,
    mother_given: Entry,
    mother_father: Entry,
    mother_family: Entry,
}

/// One family as it truly is: names, where and when it was separated, its children.
struct Family {
    tradition: Tradition,
    slot: usize,
    elders: Elders,
    father: TrueName,
    mother: TrueName,
    family_first: bool,
    country: usize,
    sep_block: String,
    neighbour: String,
    home_block: String,
    separated_on: i64,
    nationality: &'static str,
    language: &'static str,
    ethnicity: &'static str,
    religion: &'static str,
    children: Vec<Child>,
    mother_birth: Date,
    father_birth: Date,
}

/// What one tracing request knows of its children.
#[derive(Clone, Copy)]
struct Inquiry {
    day: i64,
    relation: &'static str,
    /// Hard population: the mother knows each child by the given name only.
    given_only: bool,
    /// Written in the family's own script.
    native: bool,
}

/// What a later family may share with an earlier one of its tradition (hard population).
#[derive(Clone, Copy)]
struct Namesake {
    family_name: Entry,
    father_given: Entry,
    first_child_given: Entry,
    first_child_sex: Sex,
    /// The earlier family (truth, for the analysis of errors).
    family: u32,
}

/// The generator's state: both streams, the families drawn so far (for namesakes) and
/// the records written.
struct Generator {
    rng: Prng,
    /// Fields added after the standard population was fixed, and the hard variant's
    /// changes, draw from a second stream: the first stream's records stay what they were.
    extra: Prng,
    hard: bool,
    /// Families a later one may be a namesake of, by tradition.
    earlier: Vec<Vec<Namesake>>,
    /// Truth kept for the analysis of errors: each child's family, each family's namesake.
    child_family: Vec<u32>,
    namesake_of: Vec<Option<u32>>,
    pools: Pools,
    geo: Geography,
    today_days: i64,
    next_uid: u32,
    cases: Vec<Case>,
    case_child: Vec<u32>,
    requests: Vec<TracingRequest>,
    trace_child: Vec<Vec<u32>>,
}

impl Generator {
    fn new(spec: PopulationSpec) -> Generator {
        Generator {
            rng: Prng::new(spec.seed),
            extra: Prng::new(spec.seed ^ 0x5DEE_CE66_D1CE_4E5B),
            hard: spec.variant == Variant::Hard,
            earlier: vec![Vec::new(); 7],
            child_family: Vec::new(),
            namesake_of: Vec::new(),
            pools: Pools::new(),
            geo: geography(),
            today_days: date_days(2026, 3, 1),
            next_uid: 0,
            cases: Vec::new(),
            case_child: Vec::new(),
            requests: Vec::new(),
            trace_child: Vec::new(),
        }
    }

    /// Script of one record: the tradition's own script at its rate (the hard population
    /// writes more of it, from the second stream).
    fn native(&mut self, tradition: Tradition) -> bool {
        let native = self.rng.chance(tradition.native_script());
        if self.hard && tradition.native_script() > 0.0 && tradition != Tradition::Somali {
            self.extra.chance(0.6)
        } else {
            native
        }
    }

    /// Draws one family: its names, its separation, its children and the parents' births.
    fn family(&mut self) -> Family {
        let rng = &mut self.rng;
        let tradition = Tradition::draw(rng);
        let s = slot(tradition);
        let (male, female, family) = (
            &self.pools.male[s],
            &self.pools.female[s],
            &self.pools.family[s],
        );
        let mut elders = Elders {
            family_name: *rng.pick(family),
            father_given: *rng.pick(male),
            grandfather: *rng.pick(male),
            mother_given: *rng.pick(female),
            mother_father: *rng.pick(male),
            mother_family: *rng.pick(family),
        };
        let earlier = &self.earlier[s];
        let namesake = if self.hard && self.extra.chance(0.25) && !earlier.is_empty() {
            Some(earlier[self.extra.below(earlier.len())])
        } else {
            None
        };
        let family_index = self.namesake_of.len() as u32;
        self.namesake_of.push(namesake.map(|n| n.family));
        if let Some(n) = namesake {
            elders.family_name = n.family_name;
            // The father's given name is part of the child's name in these traditions; the
            // father is still another man (his father's name is his own).
            if matches!(
                tradition,
                Tradition::Levant | Tradition::Sudan | Tradition::Somali | Tradition::SouthSudan
            ) {
                elders.father_given = n.father_given;
            }
        }
        let (father, mother, child_tail) = true_names(rng, tradition, male, &elders);
        let family_first = tradition == Tradition::Congo;

        // Geography and the day of separation.
        let country = if rng.chance(0.85) {
            tradition.country()
        } else {
            rng.below(COUNTRIES.len())
        };
        let region = rng.below(3);
        let camp = rng.below(4);
        let block = rng.below(8);
        let blocks = &self.geo.blocks;
        let sep_block = blocks[country][region][camp][block].clone();
        let neighbour = blocks[country][region][camp][(block + 1) % 8].clone();
        let home_block = blocks[country][rng.below(3)][rng.below(4)][rng.below(8)].clone();
        let separated_on = date_days(2024, 1, 1) + rng.between(0, 700);
        let nationality = tradition.nationality();
        let language = *rng.pick(tradition.languages());
        let ethnicity = *rng.pick(tradition.ethnicities());

        let mut children = children(
            rng,
            &mut self.next_uid,
            [male, female],
            &child_tail,
            family_first,
            separated_on,
        );
        self.child_family
            .extend(children.iter().map(|_| family_index));
        if let Some(n) = namesake {
            children[0].name.parts[0] = n.first_child_given;
            children[0].sex = n.first_child_sex;
        }
        if self.hard {
            self.earlier[s].push(Namesake {
                family_name: elders.family_name,
                father_given: elders.father_given,
                first_child_given: children[0].name.parts[0],
                first_child_sex: children[0].sex,
                family: family_index,
            });
        }
        // The parents' dates of birth and the family's religion (second stream).
        let eldest = children
            .iter()
            .map(|c| c.birth)
            .min()
            .unwrap_or(children[0].birth);
        let born_before = |rng: &mut Prng, years: (i64, i64)| {
            let y = eldest.year() - rng.between(years.0, years.1) as i32;
            Date::from_ymd(y, rng.between(1, 12) as u8, rng.between(1, 28) as u8).unwrap_or(eldest)
        };
        let mother_birth = born_before(&mut self.extra, (18, 34));
        let father_birth = born_before(&mut self.extra, (20, 42));
        Family {
            tradition,
            slot: s,
            elders,
            father,
            mother,
            family_first,
            country,
            sep_block,
            neighbour,
            home_block,
            separated_on,
            nationality,
            language,
            ethnicity,
            religion: tradition.religion(),
            children,
            mother_birth,
            father_birth,
        }
    }

    /// Registers one separated child: one case, or two for a child registered twice.
    fn register(&mut self, fam: &Family, child: &Child) {
        let copies = if self.rng.chance(0.04) { 2 } else { 1 };
        for _ in 0..copies {
            let case = self.case(fam, child);
            self.cases.push(case);
            self.case_child.push(child.uid);
        }
    }

    /// One registration of a child, with the errors a registration carries.
    fn case(&mut self, fam: &Family, child: &Child) -> Case {
        let reg_day = (fam.separated_on + self.rng.between(5, 200)).min(self.today_days);
        let native = self.native(fam.tradition);
        let mut w = Writer {
            rng: &mut self.rng,
            tradition: fam.tradition,
            native,
        };
        let mut name = w.name(&child.name, 0.2, 0.2, 0.05);
        let nickname = short_form(&child.name.parts[0]);
        let mother_name = w.name(&fam.mother, 0.2, 0.1, 0.1);
        let father_name = w.name(&fam.father, 0.2, 0.1, 0.1);
        let sibling = fam
            .children
            .iter()
            .find(|c| c.uid != child.uid)
            .map(|c| w.name(&c.name, 0.3, 0.1, 0.3));
        let rng = &mut self.rng;
        if rng.chance(0.15) {
            name = typo(rng, &name);
        }
        let true_age = age_on(child.birth, reg_day);
        let dob_known = rng.chance(0.15);
        let family_details =
            self.relatives(fam, child, [mother_name, father_name], sibling, true_age);
        let rng = &mut self.rng;
        let mut concerns = vec![if rng.chance(0.4) {
            concern::UNACCOMPANIED.to_string()
        } else {
            concern::SEPARATED.to_string()
        }];
        if rng.chance(0.02) {
            concerns.push(concern::CAAFAG.into());
        }
        if rng.chance(0.03) {
            concerns.push(concern::GBV_SURVIVOR.into());
        }
        let current_camp = &self.geo.blocks[fam.country][rng.below(3)][rng.below(4)][0];
        Case {
            id: mint(rng, reg_day),
            registration_date: Some(date(reg_day)),
            status: Some("open".into()),
            name: Some(name),
            name_nickname: nickname.filter(|_| rng.chance(0.15)).map(str::to_string),
            sex: maybe_wrong_sex(rng, child.sex, 0.05),
            age: (!rng.chance(0.05)).then(|| misestimate(rng, true_age)),
            date_of_birth: dob_known.then_some(child.birth),
            estimated: !dob_known,
            nationality: if rng.chance(0.75) {
                vec![if rng.chance(0.03) {
                    "other".into()
                } else {
                    fam.nationality.into()
                }]
            } else {
                Vec::new()
            },
            language: if rng.chance(0.6) {
                vec![fam.language.into()]
            } else {
                Vec::new()
            },
            ethnicity: if rng.chance(0.3) {
                vec![fam.ethnicity.into()]
            } else {
                Vec::new()
            },
            location_current: Some(
                current_camp
                    .rsplit_once('-')
                    .map_or("", |x| x.0)
                    .to_string(),
            ),
            location_last: rng.chance(0.4).then(|| fam.home_block.clone()),
            protection_concerns: concerns,
            date_of_separation: rng
                .chance(0.6)
                .then(|| date(fam.separated_on + rng.between(-20, 20))),
            location_separation: rng
                .chance(0.6)
                .then(|| described_place(rng, &fam.sep_block, Some(&fam.neighbour))),
            family_details_section: family_details,
            consent_for_tracing: Some(true),
            disability_walking: rng.chance(0.04).then_some(WgAnswer::ALotOfDifficulty),
            ..Case::default()
        }
    }

    /// The family a case lists: mother, father, a sibling, each by chance, and the
    /// parents' own details (second stream).
    fn relatives(
        &mut self,
        fam: &Family,
        child: &Child,
        [mother_name, father_name]: [String; 2],
        sibling: Option<String>,
        true_age: i64,
    ) -> Vec<FamilyMember> {
        let rng = &mut self.rng;
        let mut family_details = Vec::new();
        if rng.chance(0.6) {
            family_details.push(FamilyMember {
                unique_id: format!("m{}", child.uid),
                relation: Some("mother".into()),
                relation_name: Some(mother_name),
                relation_age: rng.chance(0.3).then(|| 20 + true_age + rng.between(0, 15)),
                ..FamilyMember::default()
            });
        }
        if rng.chance(0.5) {
            family_details.push(FamilyMember {
                unique_id: format!("f{}", child.uid),
                relation: Some("father".into()),
                relation_name: Some(father_name),
                ..FamilyMember::default()
            });
        }
        if let Some(s) = sibling
            && rng.chance(0.2)
        {
            family_details.push(FamilyMember {
                unique_id: format!("s{}", child.uid),
                relation: Some("sibling".into()),
                relation_name: Some(s),
                ..FamilyMember::default()
            });
        }
        let extra = &mut self.extra;
        for m in &mut family_details {
            let (birth, given) = match m.relation.as_deref() {
                Some("mother") => (fam.mother_birth, fam.elders.mother_given),
                Some("father") => (fam.father_birth, fam.elders.father_given),
                _ => continue,
            };
            m.relation_date_of_birth = extra.chance(0.3).then_some(birth);
            if extra.chance(0.5) {
                m.relation_nationality = vec![fam.nationality.into()];
            }
            if extra.chance(0.3) {
                m.relation_ethnicity = vec![fam.ethnicity.into()];
            }
            if extra.chance(0.4) {
                m.relation_religion = vec![fam.religion.into()];
            }
            m.relation_nickname = short_form(&given)
                .filter(|_| extra.chance(0.2))
                .map(str::to_string);
        }
        family_details
    }

    /// The family's tracing request for the children it lost.
    fn request(&mut self, fam: &Family, separated: &[Child]) {
        let rng = &mut self.rng;
        let inquiry_day = (fam.separated_on + rng.between(10, 300)).min(self.today_days);
        let (male, female) = (&self.pools.male[fam.slot], &self.pools.female[fam.slot]);
        let (inquirer, relation, inquirer_age): (TrueName, &'static str, i64) = match rng.unit() {
            x if x < 0.6 => (fam.mother.clone(), "mother", rng.between(22, 50)),
            x if x < 0.9 => (fam.father.clone(), "father", rng.between(25, 60)),
            _ => (
                TrueName {
                    parts: vec![
                        if rng.chance(0.5) {
                            *rng.pick(female)
                        } else {
                            *rng.pick(male)
                        },
                        fam.elders.family_name,
                    ],
                    family_first: fam.family_first,
                },
                *rng.pick(&["aunt", "uncle", "grandmother"]),
                rng.between(25, 70),
            ),
        };
        // Hard: the mother asks, knowing each child by the given name only.
        let given_only = self.hard && self.extra.chance(0.5);
        let (inquirer, relation) = if given_only {
            (fam.mother.clone(), "mother")
        } else {
            (inquirer, relation)
        };
        let inquirer_birth = match relation {
            "mother" => Some(fam.mother_birth),
            "father" => Some(fam.father_birth),
            _ => None,
        };
        let native = self.native(fam.tradition);
        let mut w = Writer {
            rng: &mut self.rng,
            tradition: fam.tradition,
            native,
        };
        let inquirer_name = w.name(&inquirer, 0.1, 0.1, 0.05);
        let written: Vec<(String, Option<&'static str>)> = separated
            .iter()
            .map(|c| {
                (
                    w.name(&c.name, 0.1, 0.15, 0.03),
                    short_form(&c.name.parts[0]),
                )
            })
            .collect();
        let inquiry = Inquiry {
            day: inquiry_day,
            relation,
            given_only,
            native,
        };
        let mut traces = Vec::new();
        let mut truth = Vec::new();
        for (child, written) in separated.iter().zip(written) {
            traces.push(self.trace(fam, child, written, inquiry));
            truth.push(child.uid);
        }
        let (rng, extra) = (&mut self.rng, &mut self.extra);
        let request = TracingRequest {
            id: mint(rng, inquiry_day),
            inquiry_date: Some(date(inquiry_day)),
            status: Some("open".into()),
            relation_name: Some(inquirer_name),
            relation: Some(relation.into()),
            relation_age: rng.chance(0.5).then_some(inquirer_age),
            relation_nationality: if rng.chance(0.8) {
                vec![fam.nationality.into()]
            } else {
                Vec::new()
            },
            relation_language: if rng.chance(0.6) {
                vec![fam.language.into()]
            } else {
                Vec::new()
            },
            relation_ethnicity: if rng.chance(0.3) {
                vec![fam.ethnicity.into()]
            } else {
                Vec::new()
            },
            location_last: rng.chance(0.7).then(|| fam.home_block.clone()),
            relation_date_of_birth: inquirer_birth.filter(|_| extra.chance(0.3)),
            relation_religion: if extra.chance(0.4) {
                vec![fam.religion.into()]
            } else {
                Vec::new()
            },
            // The inquirer's own separation history, beside each trace's.
            date_of_separation: extra
                .chance(0.4)
                .then(|| date(fam.separated_on + extra.between(-10, 10))),
            location_separation: extra
                .chance(0.4)
                .then(|| described_place(extra, &fam.sep_block, None)),
            tracing_request_subform_section: traces,
            ..TracingRequest::default()
        };
        self.requests.push(request);
        self.trace_child.push(truth);
    }

    /// One trace: the child as the family describes it.
    fn trace(
        &mut self,
        fam: &Family,
        child: &Child,
        (written_name, short): (String, Option<&'static str>),
        inquiry: Inquiry,
    ) -> Trace {
        let (rng, extra) = (&mut self.rng, &mut self.extra);
        let mut name = written_name;
        if rng.chance(0.10) {
            name = typo(rng, &name);
        }
        let mut nickname = short.filter(|_| rng.chance(0.2)).map(str::to_string);
        if let Some(sf) = short
            && rng.chance(0.06)
        {
            // The family knows the child by the short form only.
            let rest: Vec<&str> = name.split(' ').skip(1).collect();
            name = std::iter::once(sf)
                .chain(rest)
                .collect::<Vec<_>>()
                .join(" ");
            nickname = None;
        }
        if inquiry.given_only {
            let mut w = Writer {
                rng: &mut *extra,
                tradition: fam.tradition,
                native: inquiry.native,
            };
            name = w.token(&child.name.parts[0]);
            nickname = None;
        }
        let true_age = age_on(child.birth, inquiry.day);
        let age = match rng.unit() {
            x if x < 0.05 => None,
            x if x < 0.75 => Some(true_age),
            x if x < 0.95 => Some((true_age + if rng.chance(0.5) { 1 } else { -1 }).max(0)),
            _ => Some((true_age + if rng.chance(0.5) { 2 } else { -2 }).max(0)),
        };
        let age = if self.hard {
            (!extra.chance(0.05)).then(|| (true_age + extra.between(-3, 3)).max(0))
        } else {
            age
        };
        let dob = rng.chance(0.35).then(|| {
            let b = child.birth;
            if rng.chance(0.1) && b.day() <= 12 {
                Date::from_ymd(b.year(), b.day(), b.month()).unwrap_or(b)
            } else {
                b
            }
        });
        let sex = maybe_wrong_sex(rng, child.sex, 0.02);
        let sex = if self.hard && extra.chance(0.4) {
            None
        } else {
            sex
        };
        Trace {
            unique_id: format!("t{}", child.uid),
            name: Some(name),
            name_nickname: nickname,
            relation: Some(inquiry.relation.into()),
            sex,
            location_last: extra.chance(0.3).then(|| fam.home_block.clone()),
            age,
            date_of_birth: dob,
            date_of_separation: rng
                .chance(0.8)
                .then(|| date(fam.separated_on + rng.between(-7, 7))),
            location_separation: rng
                .chance(0.85)
                .then(|| described_place(rng, &fam.sep_block, None)),
            ..Trace::default()
        }
    }
}

/// The parents' true names and the part of the child's name that comes from them, as
/// each tradition builds names.
fn true_names(
    rng: &mut Prng,
    tradition: Tradition,
    male: &[Entry],
    e: &Elders,
) -> (TrueName, TrueName, Vec<Entry>) {
    let named = |parts: Vec<Entry>, family_first: bool| TrueName {
        parts,
        family_first,
    };
    match tradition {
        Tradition::Levant | Tradition::Sudan => (
            named(vec![e.father_given, e.grandfather, e.family_name], false),
            named(
                vec![e.mother_given, e.mother_father, e.mother_family],
                false,
            ),
            if rng.chance(0.4) {
                vec![e.father_given, e.grandfather, e.family_name]
            } else {
                vec![e.father_given, e.family_name]
            },
        ),
        Tradition::Somali => (
            named(vec![e.father_given, e.grandfather, *rng.pick(male)], false),
            named(
                vec![e.mother_given, e.mother_father, *rng.pick(male)],
                false,
            ),
            vec![e.father_given, e.grandfather],
        ),
        Tradition::Afghan => (
            named(vec![e.father_given, e.family_name], false),
            named(
                if rng.chance(0.5) {
                    vec![e.mother_given, e.family_name]
                } else {
                    vec![e.mother_given]
                },
                false,
            ),
            if rng.chance(0.7) {
                vec![e.family_name]
            } else {
                vec![e.father_given]
            },
        ),
        Tradition::SouthSudan => (
            named(vec![e.father_given, e.grandfather], false),
            named(vec![e.mother_given, e.mother_father], false),
            if rng.chance(0.5) {
                vec![e.father_given, e.grandfather]
            } else {
                vec![e.father_given]
            },
        ),
        Tradition::Ukraine => (
            named(vec![e.father_given, e.family_name], false),
            named(vec![e.mother_given, e.family_name], false),
            vec![e.family_name],
        ),
        Tradition::Congo => (
            named(vec![e.father_given, e.family_name], true),
            named(vec![e.mother_given, e.mother_family], true),
            vec![e.family_name],
        ),
    }
}

/// One to five children, spaced like siblings, never two with one given name.
fn children(
    rng: &mut Prng,
    next_uid: &mut u32,
    [male, female]: [&[Entry]; 2],
    child_tail: &[Entry],
    family_first: bool,
    separated_on: i64,
) -> Vec<Child> {
    let n_children = 1 + rng.below(5);
    let mut children = Vec::with_capacity(n_children);
    let mut age = rng.between(0, 17);
    for _ in 0..n_children {
        let sex = if rng.chance(0.5) {
            Sex::Female
        } else {
            Sex::Male
        };
        let pool = if sex == Sex::Female { female } else { male };
        let mut given = *rng.pick(pool);
        while children
            .iter()
            .any(|c: &Child| c.name.parts[0].latin == given.latin)
        {
            given = *rng.pick(pool);
        }
        let mut parts = vec![given];
        parts.extend(child_tail.iter().copied());
        let birth = date(separated_on - age * 365 - rng.between(0, 364));
        children.push(Child {
            uid: *next_uid,
            name: TrueName {
                parts,
                family_first,
            },
            sex,
            birth,
        });
        *next_uid += 1;
        age = (age + rng.between(1, 4)) % 18;
    }
    children
}

fn date_days(y: i32, m: u8, d: u8) -> i64 {
    Date::from_ymd(y, m, d).map_or(0, |x| x.days_since_epoch())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_seed_gives_one_population() {
        let a = generate(PopulationSpec::with_cases(3, 300));
        let b = generate(PopulationSpec::with_cases(3, 300));
        assert_eq!(a.cases, b.cases);
        assert_eq!(a.requests, b.requests);
        let c = generate(PopulationSpec::with_cases(4, 300));
        assert_ne!(a.cases, c.cases);
        assert!(a.cases.len() > 200, "{}", a.cases.len());
        assert!(!a.requests.is_empty());
    }

    #[test]
    fn populations_mix_scripts() {
        let p = generate(PopulationSpec::with_cases(5, 2000));
        let names: Vec<&str> = p.cases.iter().filter_map(|c| c.name.as_deref()).collect();
        let arabic = names
            .iter()
            .filter(|n| n.chars().any(|c| ('\u{0600}'..='\u{06FF}').contains(&c)))
            .count();
        let cyrillic = names
            .iter()
            .filter(|n| n.chars().any(|c| ('\u{0400}'..='\u{04FF}').contains(&c)))
            .count();
        assert!(arabic > names.len() / 20, "{arabic}");
        assert!(cyrillic > names.len() / 50, "{cyrillic}");
    }
}
