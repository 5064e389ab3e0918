//! Set-up the kit core's tests and its registration bench share: a vault with one caseworker,
//! a kit on it, records as a caseworker's form gives them, and an evaluation population as
//! records. The bench takes this file by path (`#[path]`), as a bench and a test share no
//! module otherwise. Each test uses some of it.
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used)]

use std::path::Path;

use fieldkit_app::{Kit, KitConfig, MatchFilter, MatchIndex, TraceRef};
use fieldkit_domain::{Date, Record};
use fieldkit_match::matcher::MatchSettings;
use fieldkit_match_eval::population::Population;
use fieldkit_vault::{CredentialPolicy, InitOptions, OpenOptions, Session, Vault};
use serde_json::{Map, Value, json};

/// The caseworker every test vault has.
pub const USER: &str = "amina";
/// Her PIN.
pub const PIN: &[u8] = b"482915";

/// A new vault at `path` with [`USER`] signed in.
pub fn new_vault(path: &Path, now_ms: u64, opts: OpenOptions) -> Session {
    let (session, _recovery) = Vault::create(
        path,
        InitOptions {
            username: USER,
            display_name: "Amina K.",
            credential: PIN,
            policy: CredentialPolicy::default(),
            now_ms,
        },
        opts,
    )
    .unwrap();
    session
}

/// A kit on a new vault in `dir`.
pub fn new_kit(dir: &Path, now_ms: u64) -> Kit {
    let session = new_vault(&dir.join("vault.redb"), now_ms, OpenOptions::default());
    Kit::open(session, KitConfig::default(), now_ms).unwrap()
}

/// Signs [`USER`] in to the vault at `path` and makes a kit ready.
pub fn open_kit(path: &Path, now_ms: u64, config: KitConfig) -> Kit {
    let vault = Vault::open(path, OpenOptions::default()).unwrap();
    Kit::open(vault.unlock(USER, PIN, now_ms).unwrap(), config, now_ms).unwrap()
}

/// A record as the fields a caseworker's form gives (no id: registration mints it).
pub fn form(r: &Record) -> Map<String, Value> {
    let Value::Object(mut o) = r.to_json() else {
        panic!("a record is an object")
    };
    o.remove("id");
    o
}

/// A population's cases and tracing requests as records, those valid on `today` only.
pub fn population_records(pop: &Population, today: Date) -> (Vec<Record>, Vec<Record>) {
    let valid = |r: &Record| r.validate(today).is_ok();
    let cases = pop
        .cases
        .iter()
        .map(|c| Record::Case(Box::new(c.clone())))
        .filter(valid)
        .collect();
    let requests = pop
        .requests
        .iter()
        .map(|r| Record::TracingRequest(Box::new(r.clone())))
        .filter(valid)
        .collect();
    (cases, requests)
}

/// How the kit differs from what a sign-in would build: the warm index's differences from
/// `fresh` (an index rebuilt from the vault), and each pending match stored in another class
/// than `fresh` gives it, or that `fresh` would not propose. Empty when the incremental index
/// and the stored classes are a rebuild's.
pub fn unlike_a_rebuild(kit: &Kit, fresh: &MatchIndex) -> Vec<String> {
    let mut out = kit.index().differences(fresh);
    let settings = MatchSettings::default();
    for m in kit.potential_matches(&MatchFilter {
        status: Some("pending".into()),
        ..MatchFilter::default()
    }) {
        let t = TraceRef {
            tracing_request_id: m.tracing_request_id,
            trace_id: m.trace_id.clone(),
        };
        let rebuilt = fresh
            .score_pair(m.case_id, &t, &settings)
            .and_then(|s| s.likelihood)
            .map(|l| l.as_str());
        if rebuilt.is_none() || m.likelihood.as_deref() != rebuilt {
            out.push(format!(
                "match {} stored {:?}, rebuilt {rebuilt:?}",
                m.id, m.likelihood
            ));
        }
    }
    out
}

/// A JSON object literal as a record's fields.
pub fn fields(v: Value) -> Map<String, Value> {
    v.as_object().cloned().unwrap()
}

/// Halima Yusuf's tracing request for her daughter Amina Yusuf Hassan, 9, separated at Zaatari
/// (trace `t1`).
pub fn request() -> Map<String, Value> {
    fields(json!({
        "relation_name": "Halima Yusuf", "relation": "mother",
        "tracing_request_subform_section": [{
            "unique_id": "t1", "name": "Amina Yusuf Hassan", "sex": "female", "age": 9,
            "location_separation": "JO-MA-ZAATARI-D3", "date_of_separation": "2025-03-01",
        }],
    }))
}

/// The kit's pending potential matches.
pub fn pending(kit: &Kit) -> Vec<fieldkit_domain::PotentialMatch> {
    kit.potential_matches(&MatchFilter {
        status: Some("pending".into()),
        ..MatchFilter::default()
    })
}

/// A record as the kit stores it now (its flat JSON), read by `open_record`.
pub fn stored(
    kit: &mut Kit,
    kind: fieldkit_domain::RecordKind,
    id: fieldkit_domain::RecordId,
    now_ms: u64,
) -> Value {
    kit.open_record(kind, id, now_ms).unwrap().record.to_json()
}
