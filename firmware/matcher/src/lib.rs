//! Family tracing for fieldkit: names across scripts, matching of tracing requests to
//! cases, duplicate registrations, and risk triage.
//!
//! (module docs being written)

pub mod names;
