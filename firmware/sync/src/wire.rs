//! Byte-level reading and writing: LEB128 varints, zigzag integers, length-prefixed bytes.
//!
//! The reader never panics and never allocates more than the input could describe: every
//! length is checked against the bytes that remain before anything is reserved.

/// Why bytes could not be decoded.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum DecodeError {
    /// The input ended inside a value.
    #[error("truncated input")]
    Truncated,
    /// A varint longer than 10 bytes or larger than 64 bits.
    #[error("malformed varint")]
    Varint,
    /// A number that does not fit where it goes.
    #[error("number out of range")]
    Range,
    /// Text that is not UTF-8.
    #[error("text is not UTF-8")]
    Utf8,
    /// A tag this version does not know.
    #[error("unknown tag {0}")]
    Tag(u64),
    /// Bytes left over after a complete value.
    #[error("{0} trailing bytes")]
    Trailing(usize),
    /// A declared size above the protocol's limit.
    #[error("declared size above the limit")]
    TooLarge,
    /// Compressed data that does not inflate.
    #[error("compressed data is damaged")]
    Inflate,
    /// Values coded against a deployment's code list this end does not hold (its digest's
    /// prefix): a sender that did not wait for the list to be announced.
    #[error("coded against an unknown code list {0:02x?}")]
    UnknownCodeList([u8; 4]),
}

/// Appends encoded values to a byte vector.
#[derive(Debug, Default, Clone)]
pub struct Writer {
    buf: Vec<u8>,
}

impl Writer {
    /// An empty writer.
    pub fn new() -> Self {
        Self::default()
    }

    /// The bytes written.
    pub fn into_bytes(self) -> Vec<u8> {
        self.buf
    }

    /// Bytes written so far.
    pub fn len(&self) -> usize {
        self.buf.len()
    }

    /// True when nothing was written.
    pub fn is_empty(&self) -> bool {
        self.buf.is_empty()
    }

    /// One byte.
    pub fn u8(&mut self, v: u8) {
        self.buf.push(v);
    }

    /// Raw bytes, no length.
    pub fn raw(&mut self, v: &[u8]) {
        self.buf.extend_from_slice(v);
    }

    /// An unsigned LEB128 varint.
    pub fn varint(&mut self, mut v: u64) {
        loop {
            let byte = (v & 0x7f) as u8;
            v >>= 7;
            if v == 0 {
                self.buf.push(byte);
                return;
            }
            self.buf.push(byte | 0x80);
        }
    }

    /// A signed integer, zigzag then varint (small magnitudes are short).
    pub fn zigzag(&mut self, v: i64) {
        self.varint(((v << 1) ^ (v >> 63)) as u64);
    }

    /// Length-prefixed bytes.
    pub fn bytes(&mut self, v: &[u8]) {
        self.varint(v.len() as u64);
        self.raw(v);
    }
}

/// Length of `v` as an unsigned LEB128 varint.
pub fn varint_len(v: u64) -> usize {
    let bits = 64 - v.leading_zeros() as usize;
    bits.div_ceil(7).max(1)
}

/// Reads encoded values from a byte slice.
#[derive(Debug, Clone)]
pub struct Reader<'a> {
    data: &'a [u8],
    pos: usize,
}

impl<'a> Reader<'a> {
    /// A reader at the start of `data`.
    pub fn new(data: &'a [u8]) -> Self {
        Self { data, pos: 0 }
    }

    /// Bytes not yet read.
    pub fn remaining(&self) -> usize {
        self.data.len().saturating_sub(self.pos)
    }

    /// Fails unless every byte was read.
    pub fn finish(&self) -> Result<(), DecodeError> {
        match self.remaining() {
            0 => Ok(()),
            n => Err(DecodeError::Trailing(n)),
        }
    }

    /// The rest of the input, left unread.
    pub fn peek_rest(&self) -> &'a [u8] {
        self.data.get(self.pos..).unwrap_or(&[])
    }

    /// The rest of the input.
    pub fn rest(&mut self) -> &'a [u8] {
        let rest = self.data.get(self.pos..).unwrap_or(&[]);
        self.pos = self.data.len();
        rest
    }

    /// One byte.
    pub fn u8(&mut self) -> Result<u8, DecodeError> {
        let b = *self.data.get(self.pos).ok_or(DecodeError::Truncated)?;
        self.pos += 1;
        Ok(b)
    }

    /// Exactly `n` raw bytes.
    pub fn raw(&mut self, n: usize) -> Result<&'a [u8], DecodeError> {
        let end = self.pos.checked_add(n).ok_or(DecodeError::Truncated)?;
        let s = self.data.get(self.pos..end).ok_or(DecodeError::Truncated)?;
        self.pos = end;
        Ok(s)
    }

    /// A fixed-size array.
    pub fn array<const N: usize>(&mut self) -> Result<[u8; N], DecodeError> {
        let s = self.raw(N)?;
        let mut out = [0u8; N];
        out.copy_from_slice(s);
        Ok(out)
    }

    /// An unsigned LEB128 varint of at most 64 bits.
    pub fn varint(&mut self) -> Result<u64, DecodeError> {
        let mut v: u64 = 0;
        for i in 0..10 {
            let b = self.u8()?;
            let part = u64::from(b & 0x7f);
            if i == 9 && part > 1 {
                return Err(DecodeError::Varint);
            }
            v |= part << (7 * i);
            if b & 0x80 == 0 {
                return Ok(v);
            }
        }
        Err(DecodeError::Varint)
    }

    /// A varint that must fit a `u32`.
    pub fn varint_u32(&mut self) -> Result<u32, DecodeError> {
        u32::try_from(self.varint()?).map_err(|_| DecodeError::Range)
    }

    /// A count or length: a varint no larger than `max`.
    pub fn len(&mut self, max: usize) -> Result<usize, DecodeError> {
        let v = self.varint()?;
        let v = usize::try_from(v).map_err(|_| DecodeError::TooLarge)?;
        if v > max {
            return Err(DecodeError::TooLarge);
        }
        Ok(v)
    }

    /// A zigzag-encoded signed integer.
    pub fn zigzag(&mut self) -> Result<i64, DecodeError> {
        let v = self.varint()?;
        Ok(((v >> 1) as i64) ^ -((v & 1) as i64))
    }

    /// Length-prefixed bytes (the length is checked against what remains).
    pub fn bytes(&mut self) -> Result<&'a [u8], DecodeError> {
        let n = self.len(self.remaining())?;
        self.raw(n)
    }

    /// Length-prefixed UTF-8 text.
    pub fn str(&mut self) -> Result<&'a str, DecodeError> {
        std::str::from_utf8(self.bytes()?).map_err(|_| DecodeError::Utf8)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn varints_round_trip_at_the_edges() {
        for v in [
            0,
            1,
            127,
            128,
            16_383,
            16_384,
            u64::from(u32::MAX),
            u64::MAX,
        ] {
            let mut w = Writer::new();
            w.varint(v);
            assert_eq!(w.len(), varint_len(v));
            let bytes = w.into_bytes();
            let mut r = Reader::new(&bytes);
            assert_eq!(r.varint(), Ok(v));
            assert_eq!(r.finish(), Ok(()));
        }
        for v in [0i64, -1, 1, i64::MIN, i64::MAX, -64, 63] {
            let mut w = Writer::new();
            w.zigzag(v);
            let bytes = w.into_bytes();
            assert_eq!(Reader::new(&bytes).zigzag(), Ok(v));
        }
    }

    #[test]
    fn overlong_and_oversized_varints_are_refused() {
        assert_eq!(Reader::new(&[0xff; 11]).varint(), Err(DecodeError::Varint));
        let mut too_big = [0xffu8; 10];
        too_big[9] = 0x02;
        assert_eq!(Reader::new(&too_big).varint(), Err(DecodeError::Varint));
        assert_eq!(Reader::new(&[0x80]).varint(), Err(DecodeError::Truncated));
        // A length larger than what remains is refused before anything is reserved.
        assert_eq!(
            Reader::new(&[0xff, 0xff, 0x03, 1]).bytes(),
            Err(DecodeError::TooLarge)
        );
    }
}
