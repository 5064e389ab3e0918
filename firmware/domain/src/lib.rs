//! The records of child protection, as fieldkit and Primero name them, and the rules for
//! changing them.
//!
//! - [`Case`], [`TracingRequest`] (with one [`Trace`] per child sought) and [`Incident`], with
//!   Primero's field names, so a Primero API v2 export (`{"data": {...}}`) maps one-to-one
//!   ([`primero`]).
//! - Validation with messages a caseworker can act on ([`ValidationErrors`]), size and text
//!   limits ([`limits`]), and the lookup lists values are checked against ([`lookups`]).
//! - The location hierarchy ([`LocationTree`]).
//! - Every change as a field-level [`Op`] stamped by a hybrid logical clock ([`Hlc`]); a
//!   [`Document`] applies operations from any kit in any order to the same result and reports
//!   same-field concurrent edits as [`Conflict`]s.
//!
//! **Architecture invariant:** this crate does no IO, holds no clock and no random source. Callers
//! pass the wall time, today's date and fresh random bytes.
//!
//! ```
//! use fieldkit_domain::{Document, DeviceId, HlcClock, RecordId, RecordKind, Record};
//! let mut clock = HlcClock::new(DeviceId(1));
//! let mut doc = Document::new(RecordKind::Case, RecordId::mint(1_764_500_000_000, [7; 10]));
//! let edit = serde_json::json!({"name": "Amina Yusuf", "sex": "female", "age": 9});
//! for op in doc.diff(&edit, || clock.tick(1_764_500_000_000)).unwrap() {
//!     doc.apply(&op).unwrap();
//! }
//! let Record::Case(case) = doc.to_record().unwrap() else { unreachable!() };
//! assert_eq!(case.age, Some(9));
//! ```

mod date;
mod doc;
pub mod explain;
mod hlc;
mod ids;
pub mod limits;
mod location;
pub mod lookups;
pub mod names;
pub mod potential_match;
pub mod primero;
mod record;
mod summary;
mod validate;

pub use date::{Date, DateError};
pub use doc::{Applied, Conflict, DocError, Document, FieldValue, Op, flatten};
pub use explain::Detail;
pub use hlc::{Hlc, HlcClock, MAX_WALL_MS};
pub use ids::{DeviceId, RecordId};
pub use location::{Location, LocationError, LocationLevel, LocationTree};
pub use potential_match::{MatchEvidence, PotentialMatch};
pub use record::{
    Case, FamilyMember, Followup, Incident, Photo, Record, RecordKind, SUBFORMS, Service, Sex,
    Trace, TracingRequest, WgAnswer, concern, risk_rank, status,
};
pub use summary::Summary;
pub use validate::{FieldError, Problem, ValidationErrors};
