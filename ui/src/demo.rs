//! A demo kit's records: children registered at a camp and families looking for them, so a
//! newcomer running `fieldkit kiosk --simulate` sees every screen with something on it, and the
//! screen's tests and benchmarks have a vault of a known size. Names come in Latin and Arabic
//! script, and some tracing requests spell a registered child's name differently, so matches
//! wait for review. Everything goes through the kit (validated, triaged, matched), except
//! [`bulk_cases`], which fills a vault for the list benchmarks in batches.

use fieldkit_app::{Kit, SaveError};
use fieldkit_domain::{Record, RecordKind};
use fieldkit_vault::Session;
use serde_json::{Map, Value, json};

/// The demo kit's supervisor.
pub const USER: &str = "amina";
/// The demo kit's PIN (printed when the demo vault is made; never a real kit's).
pub const PIN: &str = "482915";

const GIVEN: &[&str] = &[
    "Muhammad", "Amina", "Yusuf", "Halima", "Abdi", "Fatuma", "Hassan", "Khadija", "Omar",
    "Maryam", "Ali", "Zainab", "Deng", "Nyabol", "Ibrahim", "Aisha",
];
const GIVEN_AR: &[&str] = &[
    "محمد",
    "أمينة",
    "يوسف",
    "حليمة",
    "عمر",
    "مريم",
    "علي",
    "زينب",
];
const FAMILY: &[&str] = &[
    "Hassan", "Abdi", "Warsame", "Yusuf", "Osman", "Garang", "Chuol", "Ahmed", "Salah",
];
const FAMILY_AR: &[&str] = &["حسن", "يوسف", "عثمان", "أحمد", "صالح"];
const PLACES: &[&str] = &[
    "JO-MA-ZAATARI-D1",
    "JO-MA-ZAATARI-D3",
    "JO-MA-ZAATARI-D5",
    "JO-MA-AZRAQ-V2",
];
const CONCERNS: &[&str] = &[
    "unaccompanied",
    "separated",
    "psychosocial_distress",
    "caafag",
];

/// A small deterministic generator (xorshift), so every demo vault holds the same children.
struct Dice(u64);

impl Dice {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
    fn pick<'a>(&mut self, from: &[&'a str]) -> &'a str {
        let n = u64::try_from(from.len()).unwrap_or(1).max(1);
        from[usize::try_from(self.next() % n).unwrap_or(0)]
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n.max(1)
    }
}

fn fields(v: Value) -> Map<String, Value> {
    v.as_object().cloned().unwrap_or_default()
}

/// The `i`th demo child.
fn child(d: &mut Dice, i: usize) -> Map<String, Value> {
    let arabic = i % 3 == 1;
    let name = if arabic {
        format!("{} {}", d.pick(GIVEN_AR), d.pick(FAMILY_AR))
    } else {
        format!("{} {} {}", d.pick(GIVEN), d.pick(GIVEN), d.pick(FAMILY))
    };
    let sex = if d.below(2) == 0 { "female" } else { "male" };
    let age = 2 + d.below(15);
    let mut concerns = vec![d.pick(CONCERNS)];
    if d.below(4) == 0 {
        concerns.push("child_headed_household");
    }
    fields(json!({
        "name": name,
        "sex": sex,
        "age": age,
        "location_current": d.pick(PLACES),
        "location_separation": d.pick(PLACES),
        "date_of_separation": format!("2025-{:02}-{:02}", 1 + d.below(12), 1 + d.below(28)),
        "protection_concerns": concerns,
        "consent_for_tracing": d.below(8) != 0,
        "family_details_section": [{
            "relation": "mother",
            "relation_name": format!("{} {}", d.pick(GIVEN), d.pick(FAMILY)),
        }],
    }))
}

/// A tracing request from the mother of `case` (a registered child's fields), spelling the
/// child's name as a relative might.
fn request_for(case: &Map<String, Value>) -> Map<String, Value> {
    let name = case.get("name").and_then(Value::as_str).unwrap_or_default();
    let respelled = name
        .replace("Muhammad", "Mohamed")
        .replace("Yusuf", "Youssef")
        .replace("Fatuma", "Fatima")
        .replace("Khadija", "Khadijah");
    let mother = case
        .get("family_details_section")
        .and_then(|f| f.get(0))
        .and_then(|m| m.get("relation_name"))
        .cloned()
        .unwrap_or(Value::Null);
    fields(json!({
        "relation_name": mother,
        "relation": "mother",
        "tracing_request_subform_section": [{
            "name": respelled,
            "sex": case.get("sex").cloned().unwrap_or(Value::Null),
            "age": case.get("age").cloned().unwrap_or(Value::Null),
            "location_separation": case.get("location_separation").cloned().unwrap_or(Value::Null),
            "date_of_separation": case.get("date_of_separation").cloned().unwrap_or(Value::Null),
        }],
    }))
}

/// Registers `cases` children and a tracing request for every fourth, through the kit.
pub fn seed(kit: &mut Kit, cases: usize, now_ms: u64) -> Result<(), SaveError> {
    let mut d = Dice(0x9E37_79B9_7F4A_7C15);
    for i in 0..cases {
        let c = child(&mut d, i);
        kit.register(RecordKind::Case, c.clone(), now_ms)?;
        if i % 4 == 0 {
            kit.register(RecordKind::TracingRequest, request_for(&c), now_ms)?;
        }
    }
    Ok(())
}

/// Writes `n` demo cases straight into the vault in batches of 1,000 (no triage, no matching):
/// a vault of a known size for the case list's benchmarks.
pub fn bulk_cases(session: &mut Session, n: usize, now_ms: u64) -> Result<(), SaveError> {
    let mut d = Dice(0x2545_F491_4F6C_DD1D);
    let mut batch = Vec::with_capacity(1000);
    for i in 0..n {
        let mut c = child(&mut d, i);
        c.insert(
            "id".into(),
            Value::String(session.mint_id(now_ms)?.to_string()),
        );
        if let Some(Value::Array(family)) = c.get_mut("family_details_section") {
            for (j, m) in family.iter_mut().enumerate() {
                if let Some(m) = m.as_object_mut() {
                    m.insert("unique_id".into(), Value::String(format!("f{i}-{j}")));
                }
            }
        }
        c.insert("status".into(), Value::String("open".into()));
        c.insert(
            "risk_level".into(),
            Value::String(["low", "medium", "high"][i % 3].into()),
        );
        let record = Record::from_json(RecordKind::Case, Value::Object(c))
            .map_err(|e| SaveError::Fields(e.to_string()))?;
        batch.push(record);
        if batch.len() == 1000 {
            session.create_many(&batch, now_ms)?;
            batch.clear();
        }
    }
    if !batch.is_empty() {
        session.create_many(&batch, now_ms)?;
    }
    Ok(())
}
