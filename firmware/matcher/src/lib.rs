//! Family tracing for fieldkit: names across scripts, matching of tracing requests to
//! cases, duplicate registrations, and risk triage.
//!
//! (module docs being written)

pub mod baseline;
pub mod compare;
pub mod duplicates;
pub mod eval;
pub mod index;
pub mod matcher;
pub mod names;
pub mod profile;
pub mod triage;
