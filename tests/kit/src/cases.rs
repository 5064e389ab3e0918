//! Realistic, deterministic case records for scenarios and benchmarks.
//!
//! Case `i` of seed `s` is always the same record, id included, so a test that only knows how
//! many saves were acknowledged can rebuild exactly what was written. Names come from several
//! naming traditions (Arabic in Latin and Arabic script, Somali, South Sudanese, Rohingya,
//! Congolese, Afghan, Ukrainian in Cyrillic); ages, dates, locations, family details and
//! protection concerns vary the way a camp registration point sees them.
//!
//! Case `i` and its id are built with [`crate::Rng`], so they are the same on every platform.

use fieldkit_domain::{
    Case, Date, FamilyMember, Location, LocationLevel, RecordId, Sex, WgAnswer, concern,
};

use crate::Rng;

/// One naming tradition: given names by sex, family names, and what goes with them.
struct Tradition {
    female: &'static [&'static str],
    male: &'static [&'static str],
    family: &'static [&'static str],
    nationality: &'static str,
    languages: &'static [&'static str],
    religion: &'static str,
    ethnicity: &'static str,
    phone_prefix: &'static str,
    /// The same names in another script, index for index, when the tradition has one.
    other_script: Option<(
        &'static [&'static str],
        &'static [&'static str],
        &'static [&'static str],
    )>,
}

const ARABIC: Tradition = Tradition {
    female: &[
        "Amina", "Fatima", "Aisha", "Maryam", "Zainab", "Huda", "Rania", "Noor", "Salma", "Layla",
        "Hiba", "Asma",
    ],
    male: &[
        "Mohammed", "Ahmad", "Omar", "Yusuf", "Ali", "Hassan", "Ibrahim", "Khalid", "Mustafa",
        "Bilal", "Tariq", "Hamza",
    ],
    family: &[
        "Haddad",
        "Yusuf",
        "Rahman",
        "Hussein",
        "Abdullah",
        "Al-Khatib",
        "Nasser",
        "Saleh",
        "Darwish",
        "Mansour",
        "Ibrahim",
        "Othman",
    ],
    nationality: "sy",
    languages: &["ar"],
    religion: "islam",
    ethnicity: "arab",
    phone_prefix: "+96279",
    other_script: Some((
        &[
            "أمينة",
            "فاطمة",
            "عائشة",
            "مريم",
            "زينب",
            "هدى",
            "رانيا",
            "نور",
            "سلمى",
            "ليلى",
            "هبة",
            "أسماء",
        ],
        &[
            "محمد",
            "أحمد",
            "عمر",
            "يوسف",
            "علي",
            "حسن",
            "إبراهيم",
            "خالد",
            "مصطفى",
            "بلال",
            "طارق",
            "حمزة",
        ],
        &[
            "حداد",
            "يوسف",
            "رحمن",
            "حسين",
            "عبدالله",
            "الخطيب",
            "ناصر",
            "صالح",
            "درويش",
            "منصور",
            "إبراهيم",
            "عثمان",
        ],
    )),
};

const SUDANESE_ARABIC_SCRIPT: Tradition = Tradition {
    female: &[
        "آمنة",
        "حواء",
        "مريم",
        "خديجة",
        "سارة",
        "إخلاص",
        "نفيسة",
        "رحمة",
    ],
    male: &[
        "آدم",
        "عبدالرحمن",
        "إسحاق",
        "موسى",
        "يعقوب",
        "صديق",
        "جمال",
        "الطيب",
    ],
    family: &[
        "آدم",
        "عبدالله",
        "إدريس",
        "هارون",
        "أبكر",
        "إسماعيل",
        "الزين",
        "بشير",
    ],
    nationality: "sd",
    languages: &["ar", "fvr"],
    religion: "islam",
    ethnicity: "fur",
    phone_prefix: "+23566",
    other_script: None,
};

const SOMALI: Tradition = Tradition {
    female: &[
        "Hodan", "Ayaan", "Faadumo", "Xaawo", "Sahra", "Ifrah", "Hibaaq", "Nasteexo", "Ubah",
    ],
    male: &[
        "Abdi", "Mahad", "Guled", "Liban", "Cabdi", "Mohamed", "Bashiir", "Xasan", "Yoonis",
    ],
    family: &[
        "Warsame", "Farah", "Jama", "Hirsi", "Mohamud", "Cali", "Nuur", "Cilmi", "Aadan",
    ],
    nationality: "so",
    languages: &["so"],
    religion: "islam",
    ethnicity: "somali",
    phone_prefix: "+25472",
    other_script: None,
};

const SOUTH_SUDANESE: Tradition = Tradition {
    female: &[
        "Nyandeng", "Achol", "Nyakim", "Abuk", "Ayen", "Nyabol", "Adut", "Nyaluak", "Akuol",
    ],
    male: &[
        "Deng", "Garang", "Majok", "Mabior", "Kuol", "Gatluak", "Bol", "Chol", "Machar",
    ],
    family: &[
        "Deng", "Garang", "Chol", "Makuei", "Gatdet", "Ruei", "Malual", "Akol", "Kiir",
    ],
    nationality: "ss",
    languages: &["din", "nus", "en"],
    religion: "christianity",
    ethnicity: "dinka",
    phone_prefix: "+25677",
    other_script: None,
};

const ROHINGYA: Tradition = Tradition {
    female: &[
        "Rashida",
        "Hasina",
        "Jannat",
        "Rokeya",
        "Setara",
        "Minara",
        "Nur Kaida",
        "Sabekun",
    ],
    male: &[
        "Rafiq",
        "Nurul Islam",
        "Anwar",
        "Jamal",
        "Rashid",
        "Mohammad Ayub",
        "Kamal",
        "Sadek",
    ],
    family: &[
        "Begum", "Khatun", "Ullah", "Alam", "Hossain", "Amin", "Bibi", "Kabir",
    ],
    nationality: "mm",
    languages: &["rhg"],
    religion: "islam",
    ethnicity: "rohingya",
    phone_prefix: "+88018",
    other_script: None,
};

const CONGOLESE: Tradition = Tradition {
    female: &[
        "Esther",
        "Grâce",
        "Furaha",
        "Neema",
        "Amani",
        "Josiane",
        "Chantal",
        "Béatrice",
    ],
    male: &[
        "Jean-Baptiste",
        "Emmanuel",
        "Baraka",
        "Patrick",
        "Dieudonné",
        "Juma",
        "Héritier",
        "Christian",
    ],
    family: &[
        "Mukendi", "Mbuyi", "Ilunga", "Kasongo", "Mulumba", "Nsimba", "Bahati", "Kabeya",
    ],
    nationality: "cd",
    languages: &["sw", "fr", "ln"],
    religion: "christianity",
    ethnicity: "luba",
    phone_prefix: "+25678",
    other_script: None,
};

const AFGHAN: Tradition = Tradition {
    female: &[
        "Farida", "Mariam", "Parwana", "Shabnam", "Zarghona", "Nazanin", "Fereshta", "Gulalai",
    ],
    male: &[
        "Ahmad Shah",
        "Zabihullah",
        "Hamid",
        "Farhad",
        "Sami",
        "Mirwais",
        "Nasir",
        "Wahid",
    ],
    family: &[
        "Ahmadzai",
        "Popal",
        "Karimi",
        "Haidari",
        "Stanekzai",
        "Noorzai",
        "Rahimi",
        "Sultani",
    ],
    nationality: "af",
    languages: &["prs", "ps"],
    religion: "islam",
    ethnicity: "pashtun",
    phone_prefix: "+9230",
    other_script: None,
};

const UKRAINIAN: Tradition = Tradition {
    female: &["Олена", "Марія", "Софія", "Анна", "Дарина", "Вікторія"],
    male: &["Андрій", "Максим", "Богдан", "Олександр", "Дмитро", "Тарас"],
    family: &[
        "Шевченко",
        "Коваленко",
        "Бондаренко",
        "Ткаченко",
        "Мельник",
        "Кравчук",
    ],
    nationality: "ua",
    languages: &["uk", "ru"],
    religion: "christianity",
    ethnicity: "ukrainian",
    phone_prefix: "+48501",
    other_script: None,
};

/// Traditions with their weights in a camp's caseload.
const TRADITIONS: &[(&Tradition, u64)] = &[
    (&ARABIC, 22),
    (&SUDANESE_ARABIC_SCRIPT, 12),
    (&SOMALI, 14),
    (&SOUTH_SUDANESE, 16),
    (&ROHINGYA, 12),
    (&CONGOLESE, 12),
    (&AFGHAN, 8),
    (&UKRAINIAN, 4),
];

/// Camp blocks, as location codes (country > region > camp > block).
const LOCATIONS: &[&str] = &[
    "KE-TUR-KAK1-B07",
    "KE-TUR-KAK3-B12",
    "KE-GAR-DAD-IFO2",
    "JO-MAF-ZAT-D12",
    "JO-MAF-ZAT-D05",
    "BD-CXB-KTP-C04",
    "BD-CXB-KTP-C17",
    "UG-ADJ-NYU-Z3",
    "UG-YUM-BID-V14",
    "TD-OUA-FAR-B2",
    "TD-OUA-ADR-S9",
    "ET-GAM-NGU-A6",
];

/// Where children were separated from their families.
const SEPARATION_PLACES: &[&str] = &[
    "SD-DAR-GEN",
    "SD-KHA-OMD",
    "SS-UNI-BEN",
    "SS-JUB-JUB",
    "SO-BAN-MOG",
    "MM-RAK-MAU",
    "CD-NKI-GOM",
    "AF-KAB-KAB",
    "UA-KHA-KHA",
    "SY-ALE-ALE",
];

const CAUSES: &[&str] = &[
    "conflict",
    "flight",
    "lost_in_transit",
    "abduction",
    "natural_disaster",
    "death_of_caregiver",
    "medical_evacuation",
];

const CONCERNS: &[&str] = &[
    concern::UNACCOMPANIED,
    concern::SEPARATED,
    concern::CAAFAG,
    concern::GBV_SURVIVOR,
    concern::TRAFFICKED,
    concern::CHILD_LABOUR,
    concern::CHILD_HEADED_HOUSEHOLD,
    concern::DISABLED,
];

const AGENCIES: &[&str] = &["unicef", "irc", "save_the_children", "nrc", "drc", "plan"];
const CASEWORKERS: &[&str] = &["amina", "deng.a", "hodan", "esther.m", "rafiq", "olena"];

const NOTES: &[&str] = &[
    "Arrived with a group of neighbours; says the mother stayed behind to look for a younger sibling.",
    "Was found at the water point by a block leader. Speaks little; follow up with a psychosocial worker.",
    "Staying with a family friend in the next block. Needs school enrolment and a blanket kit.",
    "Reports working at the market for food. Refer to the child labour focal point.",
    "Has a phone number for an uncle but the line was out of service on the first try.",
    "Older sibling is the caregiver and is 16. Both attend the child-friendly space.",
    "Injured leg, seen at the health post; walks with difficulty. Follow up next week.",
    "Was registered at the transit centre under a different spelling of the family name.",
];

fn weighted_tradition(rng: &mut Rng) -> &'static Tradition {
    let total: u64 = TRADITIONS.iter().map(|(_, w)| w).sum();
    let mut x = rng.below(total);
    for (t, w) in TRADITIONS {
        if x < *w {
            return t;
        }
        x -= w;
    }
    TRADITIONS[0].0
}

/// "Today" for generated data: every date is on or before 2025-11-29, so any `now` from
/// 2025-11-30 (`1_764_460_800_000` ms) validates.
pub const LAST_DAY: (i32, u8, u8) = (2025, 11, 29);

/// The wall time behind record `index`'s UUIDv7: records sort in generation order.
pub const ID_EPOCH_MS: u64 = 1_700_000_000_000;

fn date_days_before_last(days: i64) -> Date {
    let (y, m, d) = LAST_DAY;
    let last = Date::from_ymd(y, m, d).unwrap_or_else(|_| Date::from_days_since_epoch(20_421));
    Date::from_days_since_epoch(last.days_since_epoch() - days)
}

fn rng_for(seed: u64, index: u64) -> Rng {
    let mut r = Rng::new(seed ^ index.wrapping_mul(0xD1B5_4A32_D192_ED03));
    r.next_u64();
    r
}

/// The id of case `index` of `seed`, without building the case.
pub fn case_id(seed: u64, index: u64) -> RecordId {
    let mut r = rng_for(seed, index);
    let mut random = [0u8; 10];
    r.fill(&mut random);
    RecordId::mint(ID_EPOCH_MS + index, random)
}

struct Person {
    name: String,
    other: Option<String>,
    given: &'static str,
}

fn person(rng: &mut Rng, t: &Tradition, sex: Sex, family: usize) -> Person {
    let names = if sex == Sex::Female { t.female } else { t.male };
    let gi = usize::try_from(rng.below(names.len() as u64)).unwrap_or(0);
    let given = names[gi];
    let fam = t.family[family % t.family.len()];
    let name = format!("{given} {fam}");
    let other = t.other_script.map(|(f, m, fams)| {
        let g = if sex == Sex::Female { f[gi] } else { m[gi] };
        format!("{g} {}", fams[family % fams.len()])
    });
    Person { name, other, given }
}

/// Case `index` of `seed`: a full registration with family details.
pub fn case(seed: u64, index: u64) -> Case {
    let id = case_id(seed, index);
    let mut r = rng_for(seed, index);
    r.fill(&mut [0u8; 10]); // the id's bytes
    let t = weighted_tradition(&mut r);
    let sex = if r.chance(50) { Sex::Female } else { Sex::Male };
    let family = usize::try_from(r.below(t.family.len() as u64)).unwrap_or(0);
    let child = person(&mut r, t, sex, family);
    let age = r.range(0, 17);
    // Born about `age` years before the last day; registered and separated after birth.
    let born_days_ago = age * 365 + r.range(30, 330);
    let registered_days_ago = r.range(0, 1000.min(born_days_ago - 1));
    let registration_date = date_days_before_last(registered_days_ago);
    let estimated = r.chance(40);
    let date_of_birth = r.chance(45).then(|| date_days_before_last(born_days_ago));
    let separated = r.chance(70);
    let date_of_separation = separated.then(|| {
        let before = r.range(0, 400.min(born_days_ago - registered_days_ago - 1));
        date_days_before_last(registered_days_ago + before)
    });
    let mut concerns = Vec::new();
    if separated {
        concerns.push(if r.chance(35) {
            concern::UNACCOMPANIED
        } else {
            concern::SEPARATED
        });
    }
    for _ in 0..r.below(3) {
        let c = *r.pick(CONCERNS);
        if !concerns.contains(&c) {
            concerns.push(c);
        }
    }
    let location_current = *r.pick(LOCATIONS);
    let mut members = Vec::new();
    for m in 0..r.below(4) + 1 {
        let (relation, rsex, age_lo, age_hi) = *r.pick(&[
            ("mother", Sex::Female, 18, 55),
            ("father", Sex::Male, 20, 65),
            ("sibling", Sex::Female, 0, 25),
            ("sibling", Sex::Male, 0, 25),
            ("uncle", Sex::Male, 20, 70),
            ("aunt", Sex::Female, 20, 70),
            ("grandmother", Sex::Female, 45, 90),
        ]);
        let same_family = matches!(relation, "father" | "sibling" | "uncle");
        let fam = if same_family {
            family
        } else {
            usize::try_from(r.below(t.family.len() as u64)).unwrap_or(0)
        };
        let p = person(&mut r, t, rsex, fam);
        let alive = *r.pick(&["alive", "alive", "unknown", "dead"]);
        members.push(FamilyMember {
            unique_id: format!("{:08x}-{m}", r.next_u64() as u32),
            relation: Some(relation.to_string()),
            relation_name: Some(p.name),
            relation_sex: Some(rsex),
            relation_age: Some(r.range(age_lo, age_hi)),
            relation_is_alive: Some(alive.to_string()),
            relation_is_caregiver: Some(alive == "alive" && r.chance(30)),
            relation_language: t.languages.iter().map(|s| s.to_string()).collect(),
            relation_location_current: (alive == "alive").then(|| {
                if r.chance(50) {
                    location_current.to_string()
                } else {
                    r.pick(SEPARATION_PLACES).to_string()
                }
            }),
            relation_telephone: r
                .chance(40)
                .then(|| format!("{}{:07}", t.phone_prefix, r.below(10_000_000))),
            ..FamilyMember::default()
        });
    }
    let wg = |r: &mut Rng| {
        Some(*r.pick(&[
            WgAnswer::NoDifficulty,
            WgAnswer::NoDifficulty,
            WgAnswer::NoDifficulty,
            WgAnswer::SomeDifficulty,
            WgAnswer::ALotOfDifficulty,
            WgAnswer::CannotDoAtAll,
        ]))
    };
    let asked_wg = age >= 5 && r.chance(60);
    let mut c = Case {
        id,
        case_id_display: Some(id.short()),
        registration_date: Some(registration_date),
        status: Some("open".into()),
        owned_by: Some(r.pick(CASEWORKERS).to_string()),
        owned_by_agency_id: Some(r.pick(AGENCIES).to_string()),
        name: Some(child.name),
        name_other: if r.chance(70) { child.other } else { None },
        name_nickname: r.chance(20).then(|| {
            child
                .given
                .split([' ', '-'])
                .next()
                .unwrap_or(child.given)
                .to_string()
        }),
        sex: Some(sex),
        age: Some(age),
        date_of_birth,
        estimated,
        nationality: vec![t.nationality.to_string()],
        ethnicity: vec![t.ethnicity.to_string()],
        language: t.languages.iter().map(|s| s.to_string()).collect(),
        religion: vec![t.religion.to_string()],
        location_current: Some(location_current.to_string()),
        location_last: Some(r.pick(SEPARATION_PLACES).to_string()),
        displacement_status: Some(
            r.pick(&["refugee", "refugee", "asylum_seeker", "idp", "returnee"])
                .to_string(),
        ),
        protection_concerns: concerns.iter().map(|s| s.to_string()).collect(),
        urgent_protection_concern: r.chance(8),
        risk_level: Some(r.pick(&["low", "medium", "medium", "high"]).to_string()),
        tracing_status: separated.then(|| r.pick(&["open", "in_progress", "on_hold"]).to_string()),
        date_of_separation,
        separation_cause: separated.then(|| r.pick(CAUSES).to_string()),
        location_separation: separated.then(|| r.pick(SEPARATION_PLACES).to_string()),
        family_details_section: members,
        consent_for_tracing: separated.then(|| r.chance(90)),
        notes: Some(r.pick(NOTES).to_string()),
        ..Case::default()
    };
    if asked_wg {
        c.disability_seeing = wg(&mut r);
        c.disability_hearing = wg(&mut r);
        c.disability_walking = wg(&mut r);
        c.disability_remembering = wg(&mut r);
        c.disability_self_care = wg(&mut r);
        c.disability_communicating = wg(&mut r);
    }
    // A date of birth that is not an estimate gives the age exactly.
    if let (Some(dob), false) = (c.date_of_birth, c.estimated) {
        c.age = Some(i64::from(dob.age_on(date_days_before_last(0))).clamp(0, 17));
    }
    c
}

/// The name a caseworker would type to find case `index` (its full name, as registered).
pub fn search_name(seed: u64, index: u64) -> String {
    case(seed, index).name.unwrap_or_default()
}

/// The location tree of the deployment the generated cases belong to, sized as a field
/// deployment's: every country, region and camp the cases name, 30 blocks in each camp
/// (the cases' own among them) and the places of origin, 357 places in all.
pub fn deployment_locations() -> Vec<Location> {
    let mut codes: Vec<String> = Vec::new();
    for code in LOCATIONS.iter().chain(SEPARATION_PLACES) {
        let parts: Vec<&str> = code.split('-').collect();
        for depth in 1..=parts.len() {
            codes.push(parts[..depth].join("-"));
        }
        if parts.len() == 4 {
            // The camp's other blocks, numbered as its own.
            let camp = parts[..3].join("-");
            let letters: String = parts[3]
                .chars()
                .filter(|c| c.is_ascii_alphabetic())
                .collect();
            for b in 1..=30 {
                codes.push(format!("{camp}-{letters}{b:02}"));
            }
        }
    }
    codes.sort_unstable();
    codes.dedup();
    let level = |depth: usize| match depth {
        1 => LocationLevel::Country,
        2 => LocationLevel::Region,
        3 => LocationLevel::Camp,
        _ => LocationLevel::Block,
    };
    codes
        .iter()
        .map(|code| {
            let depth = code.split('-').count();
            Location {
                code: code.clone(),
                name: code.clone(),
                level: level(depth),
                parent: code.rsplit_once('-').map(|(p, _)| p.to_string()),
            }
        })
        .collect()
}

/// The lookup lists of the generated cases' deployment that a code book draws on, by
/// Primero's lookup id, each in alphabetical order and larger than what the cases use.
pub fn deployment_lookups() -> Vec<(&'static str, Vec<String>)> {
    let list = |v: &[&str]| {
        let mut v: Vec<String> = v.iter().map(|s| s.to_string()).collect();
        v.sort_unstable();
        v
    };
    vec![
        (
            "lookup-country",
            list(&[
                "af", "bd", "bi", "cd", "cf", "er", "et", "iq", "ir", "jo", "ke", "lb", "ly", "mm",
                "ng", "pk", "rw", "sd", "so", "ss", "sy", "td", "tr", "ua", "ug", "ye",
            ]),
        ),
        (
            "lookup-language",
            list(&[
                "am", "ar", "din", "en", "fa", "fr", "fvr", "ha", "ku", "ln", "nus", "prs", "ps",
                "rhg", "ru", "rw", "so", "sw", "ti", "tr", "uk", "ur",
            ]),
        ),
        (
            "lookup-religion",
            list(&[
                "buddhism",
                "christianity",
                "hinduism",
                "islam",
                "judaism",
                "none",
                "other",
            ]),
        ),
        (
            "lookup-ethnicity",
            list(&[
                "amhara",
                "arab",
                "dinka",
                "fur",
                "hazara",
                "kurd",
                "luba",
                "masalit",
                "nuer",
                "oromo",
                "pashtun",
                "rohingya",
                "somali",
                "tajik",
                "tigrinya",
                "ukrainian",
                "zaghawa",
            ]),
        ),
        (
            "lookup-separation-cause",
            list(&[
                "abduction",
                "conflict",
                "death_of_caregiver",
                "flight",
                "lost_in_transit",
                "medical_evacuation",
                "natural_disaster",
                "economic",
                "other",
            ]),
        ),
    ]
}
