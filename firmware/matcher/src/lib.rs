//! Family tracing for fieldkit: find the registered child a family asks for, whatever
//! the spelling, script or name order; flag children registered twice; triage risk.
//!
//! A tracing request's trace and a case become [`profile::ChildProfile`]s once (names
//! normalised across scripts by [`names`]: harakat and diacritics stripped, Arabic and
//! Cyrillic transliterated, known spellings folded, consonant skeletons and Double
//! Metaphone keys); the [`index`] blocking index keeps each query to a few hundred
//! candidates; [`compare`] weighs every field as a Fellegi–Sunter log-likelihood
//! ratio and explains it; [`matcher`] ranks and classes (`likely`, `possible`).
//! [`duplicates`] finds cases of one child, comparing case against case with its own
//! weights and a sibling guard; [`triage`] applies the risk rules of a
//! TOML file. The evaluation (a seeded synthetic population, a Primero-style baseline
//! and the harness that compares the two) lives in its own crate, `fieldkit-match-eval`,
//! so the kiosk does not ship it.
//!
//! **Architecture invariant:** no IO, no clock, no randomness from outside: callers
//! pass records, `today`, and (for the generator) a seed. Nothing here panics on any
//! record or any Unicode.
//!
//! What the rest of fieldkit calls:
//! - the vault's blind index: [`names::index_terms`] and [`names::query_terms`];
//! - a kit after a save, and the hub after a sync (it runs the kit core): the kit core's
//!   warm index (`fieldkit-app`), which classes as [`matcher::ProfileIndex::find_traces`];
//!   without a warm index, [`matcher::match_changed`] (changed records against all, each
//!   pair classed the same way);
//! - the case form and sync: [`triage::TriageRules::assess`] and
//!   [`triage::Triage::urgent_alert`].
//!
//! ```
//! use fieldkit_domain::{Case, Date, Sex, Trace, TracingRequest};
//! use fieldkit_match::matcher::{match_changed, Likelihood, MatchSettings};
//! use fieldkit_match::profile::Locations;
//!
//! let today: Date = "2026-03-01".parse().unwrap();
//! let case = Case { name: Some("محمد علي حسن".into()), sex: Some(Sex::Male), age: Some(9),
//!                   location_separation: Some("JO-MA-ZAATARI-D3".into()),
//!                   consent_for_tracing: Some(true), ..Case::default() };
//! let request = TracingRequest {
//!     relation_name: Some("Fatima Yusuf".into()),
//!     tracing_request_subform_section: vec![Trace {
//!         unique_id: "t1".into(), name: Some("Hassan Mohammed Ali".into()),
//!         sex: Some(Sex::Male), age: Some(11),
//!         location_separation: Some("JO-MA-ZAATARI-D3".into()), ..Trace::default() }],
//!     ..TracingRequest::default()
//! };
//! // A new registration, checked at once against the requests on the kit.
//! let found = match_changed(&[case.clone()], &[], [&case], [&request],
//!                           &Locations::CodePrefixes, today, &MatchSettings::default());
//! assert_eq!(found[0].trace_id, "t1");
//! assert!(found[0].likelihood >= Likelihood::Possible);
//! ```

pub mod compare;
pub mod duplicates;
pub mod index;
pub mod matcher;
pub mod names;
pub mod profile;
pub mod triage;
