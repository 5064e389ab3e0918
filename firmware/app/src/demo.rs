//! A demo kit's records: children registered at a camp and families looking for them, so a
//! newcomer running `fieldkit kiosk --simulate` sees every screen with something on it, and the
//! screen's tests and benchmarks have a vault of a known size. Names come in Latin and Arabic
//! script, and some tracing requests spell a registered child's name differently, so matches
//! wait for review. Every other child has a photo: a generated portrait, normalised and sealed
//! by the kit core like a photo from the camera, so the list's thumbnails and the form's photo
//! section show something. Everything goes through the kit (validated, triaged, matched),
//! except [`bulk_cases`], which fills a vault for the list benchmarks in batches. Kept in the
//! kit core (the screen re-exports it as `fieldkit_ui::demo`) so the sync tests can check
//! that every demo record travels exactly without building the screen.

use crate::photos::{self, Normalised, PhotoInputError};
use crate::{Kit, SaveError};
use fieldkit_domain::{Location, LocationLevel, Record, RecordId, RecordKind};
use fieldkit_vault::Session;
use serde_json::{Map, Value, json};

/// Why the demo records could not be made.
#[derive(Debug, thiserror::Error)]
pub enum SeedError {
    /// A record was refused or not written.
    #[error(transparent)]
    Save(#[from] SaveError),
    /// A demo photo was not normalised or stored.
    #[error("demo photo: {0}")]
    Photo(#[from] PhotoInputError),
}

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

/// The demo camps' location tree (country, region, camps, and the blocks the demo records
/// name), for a kit or hub configured as the demo's deployment: the places then travel as
/// codes of its list.
pub fn locations() -> Vec<Location> {
    let place = |code: &str, level: LocationLevel, parent: Option<&str>| Location {
        code: code.into(),
        name: code.into(),
        level,
        parent: parent.map(str::to_string),
    };
    let mut out = vec![
        place("JO", LocationLevel::Country, None),
        place("JO-MA", LocationLevel::Region, Some("JO")),
        place("JO-MA-ZAATARI", LocationLevel::Camp, Some("JO-MA")),
        place("JO-MA-AZRAQ", LocationLevel::Camp, Some("JO-MA")),
    ];
    for block in PLACES {
        let camp = block.rsplit_once('-').map(|(camp, _)| camp);
        out.push(place(block, LocationLevel::Block, camp));
    }
    out
}

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

/// The portraits' size: a camera's 3:4 portrait, small enough to normalise in a few
/// milliseconds (the kit scales nothing down below 1280 pixels).
const PORTRAIT: (u32, u32) = (360, 480);

/// A generated portrait of demo child `i`, packed RGB (`PORTRAIT` pixels): a plain backdrop,
/// shoulders in a shirt and a head, in colours that change from child to child, so thumbnails
/// tell the rows apart. Nobody's likeness.
pub fn portrait(i: usize) -> (u32, u32, Vec<u8>) {
    const BACKDROPS: [[u8; 3]; 5] = [
        [178, 204, 224],
        [214, 200, 170],
        [190, 214, 186],
        [222, 190, 196],
        [200, 200, 206],
    ];
    const SKIN: [[u8; 3]; 4] = [[120, 82, 58], [164, 118, 86], [198, 150, 112], [92, 62, 46]];
    const SHIRTS: [[u8; 3]; 6] = [
        [40, 90, 160],
        [190, 60, 50],
        [60, 130, 80],
        [230, 180, 40],
        [110, 70, 140],
        [70, 70, 80],
    ];
    let (w, h) = PORTRAIT;
    let back = BACKDROPS[i % BACKDROPS.len()];
    let skin = SKIN[(i / 2) % SKIN.len()];
    let hair = [30, 24, 20];
    let shirt = SHIRTS[(i / 3) % SHIRTS.len()];
    let (cx, cy, r) = (i64::from(w) / 2, i64::from(h) * 2 / 5, i64::from(w) / 5);
    let mut out = Vec::with_capacity((w * h * 3) as usize);
    for y in 0..i64::from(h) {
        for x in 0..i64::from(w) {
            let (dx, dy) = (x - cx, y - cy);
            let head = dx * dx * 100 / 81 + dy * dy * 100 / 121 < r * r;
            let hair_line = head && dy < -r * 2 / 5;
            // Shoulders: the top half of a wide ellipse below the head.
            let (sx, sy) = (x - cx, y - i64::from(h));
            let shoulders = sx * sx / 4 + sy * sy < (r * 2) * (r * 2);
            let px = if hair_line {
                hair
            } else if head {
                skin
            } else if shoulders {
                shirt
            } else {
                // A soft vertical gradient on the backdrop.
                let shade = u8::try_from(y * 24 / i64::from(h)).unwrap_or(0);
                [
                    back[0].saturating_sub(shade),
                    back[1].saturating_sub(shade),
                    back[2].saturating_sub(shade),
                ]
            };
            out.extend_from_slice(&px);
        }
    }
    (w, h, out)
}

/// Demo child `i`'s portrait, normalised as a camera's photo is.
pub fn portrait_photo(i: usize) -> Result<Normalised, PhotoInputError> {
    let (w, h, rgb) = portrait(i);
    photos::normalise_rgb(w, h, rgb)
}

/// Whether demo child `i` has a photo (every other one).
fn photographed(i: usize) -> bool {
    i.is_multiple_of(2)
}

/// Registers `cases` children and a tracing request for every fourth, through the kit; every
/// other child gets a portrait through the kit's photos.
pub fn seed(kit: &mut Kit, cases: usize, now_ms: u64) -> Result<(), SeedError> {
    let mut d = Dice(0x9E37_79B9_7F4A_7C15);
    for i in 0..cases {
        let c = child(&mut d, i);
        let saved = kit.register(RecordKind::Case, c.clone(), now_ms)?;
        if photographed(i) {
            kit.attach_normalised(saved.id, &portrait_photo(i)?, now_ms)?;
        }
        if i % 4 == 0 {
            kit.register(RecordKind::TracingRequest, request_for(&c), now_ms)?;
        }
    }
    Ok(())
}

/// Writes `n` demo cases straight into the vault in batches of 1,000 (no triage, no matching):
/// a vault of a known size for the case list's benchmarks. Every `photo_every`th case (none for
/// 0) gets the same portrait's photo and thumbnail, sealed as any photo is.
pub fn bulk_cases(
    session: &mut Session,
    n: usize,
    photo_every: usize,
    now_ms: u64,
) -> Result<(), SeedError> {
    let mut d = Dice(0x2545_F491_4F6C_DD1D);
    let mut batch = Vec::with_capacity(1000);
    let photo = if photo_every > 0 {
        Some(portrait_photo(0)?)
    } else {
        None
    };
    let mut with_photo: Vec<RecordId> = Vec::new();
    for i in 0..n {
        let mut c = child(&mut d, i);
        c.insert(
            "id".into(),
            Value::String(
                session
                    .mint_id(now_ms)
                    .map_err(SaveError::from)?
                    .to_string(),
            ),
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
        if photo_every > 0 && i.is_multiple_of(photo_every) {
            with_photo.push(record.id());
        }
        batch.push(record);
        if batch.len() == 1000 {
            session
                .create_many(&batch, now_ms)
                .map_err(SaveError::from)?;
            batch.clear();
        }
    }
    if !batch.is_empty() {
        session
            .create_many(&batch, now_ms)
            .map_err(SaveError::from)?;
    }
    if let Some(photo) = photo {
        for id in with_photo {
            photos::attach(session, id, &photo, now_ms)?;
        }
    }
    Ok(())
}
