//! The hub's side: an HTTP/1.1 server answering `POST /v1/kits/<kit id>/frames`.

use std::io::Read;
use std::net::SocketAddr;
use std::time::Duration;

use fieldkit_sync::seal::KitId;

use crate::body::{MAX_BODY, decode_frames, encode_frames};

/// Why the server could not start.
#[derive(Debug, thiserror::Error)]
pub enum ServerError {
    /// Binding the address failed.
    #[error("cannot listen on {addr}: {reason}")]
    Bind {
        /// The address.
        addr: String,
        /// Why.
        reason: String,
    },
}

/// The hub's HTTP endpoint.
pub struct HubServer {
    server: tiny_http::Server,
}

impl std::fmt::Debug for HubServer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "HubServer({:?})", self.local_addr())
    }
}

fn kit_of(url: &str) -> Option<KitId> {
    let hex = url.strip_prefix("/v1/kits/")?.strip_suffix("/frames")?;
    if hex.len() != 8 {
        return None;
    }
    let mut id = [0u8; 4];
    for (i, b) in id.iter_mut().enumerate() {
        *b = u8::from_str_radix(hex.get(2 * i..2 * i + 2)?, 16).ok()?;
    }
    Some(KitId(id))
}

impl HubServer {
    /// Listens on `addr` (`0.0.0.0:8480`; port 0 picks a free one).
    pub fn bind(addr: &str) -> Result<Self, ServerError> {
        tiny_http::Server::http(addr)
            .map(|server| Self { server })
            .map_err(|e| ServerError::Bind {
                addr: addr.to_string(),
                reason: e.to_string(),
            })
    }

    /// The address it listens on.
    pub fn local_addr(&self) -> Option<SocketAddr> {
        self.server.server_addr().to_ip()
    }

    /// Serves one request if one arrives within `wait`: `handle(kit, frames)` returns the
    /// frames to answer with. Returns whether a request was served. Bad requests get a 4xx
    /// and never reach `handle`.
    pub fn serve_one(
        &self,
        wait: Duration,
        mut handle: impl FnMut(KitId, Vec<Vec<u8>>) -> Vec<Vec<u8>>,
    ) -> std::io::Result<bool> {
        let served = self.serve_one_with(wait, |kit, frames| {
            Ok::<_, std::convert::Infallible>(handle(kit, frames))
        })?;
        Ok(served.is_some())
    }

    /// [`HubServer::serve_one`] with a handler that can fail: a failing handler's request is
    /// answered `503 Service Unavailable` (the kit keeps its frames and tries again later)
    /// and its error returned. `None`: no request arrived within `wait`.
    pub fn serve_one_with<E>(
        &self,
        wait: Duration,
        mut handle: impl FnMut(KitId, Vec<Vec<u8>>) -> Result<Vec<Vec<u8>>, E>,
    ) -> std::io::Result<Option<Result<(), E>>> {
        let Some(mut request) = self.server.recv_timeout(wait)? else {
            return Ok(None);
        };
        let kit = match (request.method(), kit_of(request.url())) {
            (tiny_http::Method::Post, Some(kit)) => kit,
            _ => {
                request.respond(tiny_http::Response::empty(404))?;
                return Ok(Some(Ok(())));
            }
        };
        if request.body_length().is_some_and(|n| n > MAX_BODY) {
            request.respond(tiny_http::Response::empty(413))?;
            return Ok(Some(Ok(())));
        }
        let mut body = Vec::new();
        let read = request
            .as_reader()
            .take(MAX_BODY as u64 + 1)
            .read_to_end(&mut body);
        let frames = match read.ok().and_then(|_| decode_frames(&body).ok()) {
            Some(f) => f,
            None => {
                tracing::warn!(%kit, bytes = body.len(), "malformed sync body refused");
                request.respond(tiny_http::Response::empty(400))?;
                return Ok(Some(Ok(())));
            }
        };
        let answer = match handle(kit, frames) {
            Ok(frames) => encode_frames(&frames),
            Err(e) => {
                request.respond(tiny_http::Response::empty(503))?;
                return Ok(Some(Err(e)));
            }
        };
        request.respond(
            tiny_http::Response::from_data(answer).with_header(tiny_http::Header {
                field: "Content-Type"
                    .parse()
                    .map_err(|_| std::io::Error::other("header"))?,
                value: "application/octet-stream"
                    .parse()
                    .map_err(|_| std::io::Error::other("header"))?,
            }),
        )?;
        Ok(Some(Ok(())))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kit_ids_come_from_the_path_only_when_well_formed() {
        assert_eq!(
            kit_of("/v1/kits/0a0b0c0d/frames"),
            Some(KitId([10, 11, 12, 13]))
        );
        assert_eq!(kit_of("/v1/kits/0a0b0c/frames"), None);
        assert_eq!(kit_of("/v1/kits/zz0b0c0d/frames"), None);
        assert_eq!(kit_of("/v1/kits/0a0b0c0d"), None);
    }
}
