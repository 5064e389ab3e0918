//! The kit's side: one POST per exchange.

use std::time::Duration;

use fieldkit_sync::seal::KitId;

use crate::body::{BodyError, MAX_BODY, decode_frames, encode_frames};

/// Why an exchange failed (the frames stay in the outbox and go again later).
#[derive(Debug, thiserror::Error)]
pub enum HttpError {
    /// The request failed: no network, refused, timed out, or a non-2xx status.
    #[error("hub unreachable: {0}")]
    Transport(#[from] ureq::Error),
    /// The hub's answer did not decode.
    #[error("hub answered with a malformed body: {0}")]
    Body(#[from] BodyError),
}

/// A kit's HTTP link to its hub.
#[derive(Debug, Clone)]
pub struct HttpLink {
    agent: ureq::Agent,
    url: String,
}

impl HttpLink {
    /// A link to the hub at `base` (e.g. `http://hub.example:8480`) for `kit`, giving up on
    /// an exchange after `timeout`.
    pub fn new(base: &str, kit: KitId, timeout: Duration) -> Self {
        let agent = ureq::Agent::config_builder()
            .timeout_global(Some(timeout))
            .build()
            .new_agent();
        Self {
            agent,
            url: format!("{}/v1/kits/{kit}/frames", base.trim_end_matches('/')),
        }
    }

    /// Sends `frames` and returns the hub's frames for this kit.
    pub fn exchange<T: AsRef<[u8]>>(&self, frames: &[T]) -> Result<Vec<Vec<u8>>, HttpError> {
        let body = encode_frames(frames);
        let mut response = self
            .agent
            .post(&self.url)
            .header("Content-Type", "application/octet-stream")
            .send(&body[..])?;
        let bytes = response
            .body_mut()
            .with_config()
            .limit(MAX_BODY as u64)
            .read_to_vec()?;
        Ok(decode_frames(&bytes)?)
    }
}
