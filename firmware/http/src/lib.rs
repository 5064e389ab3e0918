//! The HTTP link between a kit and the hub, over any IP network (cellular, Wi-Fi, a camp's
//! LAN). A kit POSTs the frames it has to `/v1/kits/<kit id>/frames`; the hub answers with
//! the frames it has for that kit (acknowledgements first, then messages). Frames are sealed
//! end to end by `fieldkit-sync`, so the link adds no cryptography of its own: plain HTTP
//! carries nothing readable, and TLS (a reverse proxy in front of the hub) only hides
//! metadata.
//!
//! Kit side: `ureq` without default features (no TLS stack, no compression: frames are
//! already compressed and sealed), blocking, with a global timeout. Hub side: `tiny_http`,
//! chosen against the kit's footprint because the hub is the same binary: synchronous, four
//! small dependencies, no async runtime (hyper/axum would bring tokio and about a hundred
//! crates into every kit's image for a server only the hub runs).
//!
//! **Never:** logs a frame's bytes, accepts a body over [`MAX_BODY`], or panics on any
//! body (the body codec is property tested).

pub mod body;
pub mod client;
pub mod server;

pub use body::{BodyError, MAX_BODY, MAX_FRAME, decode_frames, encode_frames};
pub use client::{HttpError, HttpLink};
pub use server::{HubServer, ServerError};
