//! An HTTP body of frames: each frame as a two-byte big-endian length and its bytes.

/// Largest frame carried.
pub const MAX_FRAME: usize = 4096;
/// Largest body accepted either way.
pub const MAX_BODY: usize = 1 << 20;

/// Why a body did not decode.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum BodyError {
    /// The body ended inside a frame.
    #[error("body truncated inside a frame")]
    Truncated,
    /// A frame longer than [`MAX_FRAME`], or an empty one.
    #[error("frame length {0} out of range")]
    FrameLength(usize),
    /// More than [`MAX_BODY`] bytes.
    #[error("body larger than {MAX_BODY} bytes")]
    TooLarge,
}

/// Encodes frames into a body; frames over [`MAX_FRAME`] are left out (none are made).
pub fn encode_frames<T: AsRef<[u8]>>(frames: &[T]) -> Vec<u8> {
    let mut out = Vec::new();
    for f in frames {
        let f = f.as_ref();
        if f.is_empty() || f.len() > MAX_FRAME || out.len() + 2 + f.len() > MAX_BODY {
            continue;
        }
        out.extend_from_slice(&(f.len() as u16).to_be_bytes());
        out.extend_from_slice(f);
    }
    out
}

/// Decodes a body into frames.
pub fn decode_frames(body: &[u8]) -> Result<Vec<Vec<u8>>, BodyError> {
    if body.len() > MAX_BODY {
        return Err(BodyError::TooLarge);
    }
    let mut frames = Vec::new();
    let mut rest = body;
    while !rest.is_empty() {
        let [hi, lo, tail @ ..] = rest else {
            return Err(BodyError::Truncated);
        };
        let n = usize::from(u16::from_be_bytes([*hi, *lo]));
        if n == 0 || n > MAX_FRAME {
            return Err(BodyError::FrameLength(n));
        }
        let frame = tail.get(..n).ok_or(BodyError::Truncated)?;
        frames.push(frame.to_vec());
        rest = &tail[n..];
    }
    Ok(frames)
}
