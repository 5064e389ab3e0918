//! Property tests: the decoders never panic on arbitrary bytes, resynchronise after noise
//! and NUL bytes, and reject a block or frame whose checksum is wrong.

use fieldkit_drivers::modbus::{self, Frame, ReadRequest, Scan};
use fieldkit_drivers::vedirect::{self, Block, Decoder, Event};
use proptest::prelude::*;

fn events(bytes: &[u8]) -> Vec<Event> {
    let mut d = Decoder::new();
    let mut out = Vec::new();
    d.feed_slice(bytes, |e| out.push(e));
    out
}

fn label() -> impl Strategy<Value = String> {
    "[A-Z][A-Z0-9#]{0,8}".prop_filter("not the checksum label", |l| l != "Checksum")
}

fn value() -> impl Strategy<Value = String> {
    "[ -9;-~]{0,33}"
}

fn fields() -> impl Strategy<Value = Vec<(String, String)>> {
    prop::collection::vec((label(), value()), 1..20)
}

fn encode(fields: &[(String, String)]) -> Vec<u8> {
    let pairs: Vec<(&str, &str)> = fields
        .iter()
        .map(|(l, v)| (l.as_str(), v.as_str()))
        .collect();
    let mut buf = vec![0u8; 2048];
    let n = vedirect::encode_block(&pairs, &mut buf).expect("encodable");
    buf.truncate(n);
    buf
}

fn same_fields(block: &Block, fields: &[(String, String)]) -> bool {
    block.fields().len() == fields.len()
        && block
            .fields()
            .iter()
            .zip(fields)
            .all(|(f, (l, v))| f.label.as_str() == l && f.value.as_str() == v)
}

proptest! {
    #![proptest_config(ProptestConfig {
        cases: 512,
        // Kept beside this file for replay (proptest's default looks for a lib.rs that a
        // tests/ folder does not have).
        failure_persistence: Some(Box::new(
            proptest::test_runner::FileFailurePersistence::WithSource("proptest-regressions")
        )),
        ..ProptestConfig::default()
    })]

    #[test]
    fn vedirect_never_panics(bytes in prop::collection::vec(any::<u8>(), 0..4096)) {
        let counts = vedirect::decode_capture(&bytes, |_| {});
        // Every block needs at least "\r\nChecksum\t" plus a byte.
        prop_assert!(counts.valid * 12 <= bytes.len());
    }

    #[test]
    fn vedirect_round_trips(f in fields()) {
        let ev = events(&encode(&f));
        prop_assert_eq!(ev.len(), 1);
        match &ev[0] {
            Event::Block(b) => prop_assert!(same_fields(b, &f)),
            other => prop_assert!(false, "{:?}", other),
        }
    }

    #[test]
    fn vedirect_resynchronises_after_noise_and_nuls(
        noise in prop::collection::vec(prop_oneof![Just(0u8), Just(b'\r'), Just(b'\n'), Just(b':'), Just(b'\t'), any::<u8>()], 0..300),
        first in fields(),
        second in fields(),
    ) {
        let mut stream = noise.clone();
        stream.extend(encode(&first));
        stream.extend(encode(&second));
        let ev = events(&stream);
        // The block right after the noise may be lost to it; the next one never is.
        match ev.last() {
            Some(Event::Block(b)) => prop_assert!(same_fields(b, &second)),
            other => prop_assert!(false, "last event {:?}", other),
        }
    }

    #[test]
    fn vedirect_rejects_a_wrong_checksum(f in fields(), delta in 1u8..=255) {
        let mut bytes = encode(&f);
        let last = bytes.len() - 1;
        bytes[last] = bytes[last].wrapping_add(delta);
        let counts = vedirect::decode_capture(&bytes, |_| {});
        prop_assert_eq!(counts.valid, 0);
        prop_assert_eq!(counts.rejected, 1);
    }

    #[test]
    fn vedirect_rejects_a_changed_digit(v in 0u32..1_000_000, pos in any::<prop::sample::Index>(), d in 1u8..10) {
        let value = v.to_string();
        let mut bytes = encode(&[("V".to_string(), value.clone())]);
        // Change one digit of the value to another digit: the sum changes by less than 256.
        let start = 4; // "\r\nV\t"
        let i = start + pos.index(value.len());
        let old = bytes[i] - b'0';
        bytes[i] = b'0' + (old + d) % 10;
        let counts = vedirect::decode_capture(&bytes, |_| {});
        prop_assert_eq!(counts.valid, 0);
    }

    #[test]
    fn modbus_never_panics(bytes in prop::collection::vec(any::<u8>(), 0..600)) {
        let _ = modbus::decode_response_frame(&bytes);
        let _ = ReadRequest::decode(&bytes);
        let _ = modbus::expected_response_len(&bytes);
        let req = ReadRequest::new(1, 0x04, 0x3100, 16).expect("valid request");
        let _ = req.decode_response(&bytes);
        let mut pos = 0;
        let mut steps = 0;
        while pos < bytes.len() {
            steps += 1;
            prop_assert!(steps <= bytes.len());
            match modbus::scan_frame(&bytes[pos..], None) {
                Scan::Frame { len, .. } => { prop_assert!(len > 0); pos += len }
                Scan::Skip | Scan::NeedMore => pos += 1,
            }
        }
    }

    #[test]
    fn modbus_round_trips_and_finds_frames_after_noise(
        device in 1u8..=247,
        input in any::<bool>(),
        start in any::<u16>(),
        values in prop::collection::vec(any::<u16>(), 1..=125),
        noise in prop::collection::vec(any::<u8>(), 0..64),
    ) {
        let function = if input { 0x04 } else { 0x03 };
        let req = ReadRequest::new(device, function, start, values.len() as u16).expect("valid");
        let mut buf = [0u8; 256];
        let n = req.encode(&mut buf).expect("fits");
        let mut stream = noise.clone();
        stream.extend_from_slice(&buf[..n]);
        let n = modbus::encode_registers(device, function, &values, &mut buf).expect("fits");
        prop_assert_eq!(
            req.decode_response(&buf[..n]),
            Ok(modbus::Response::Registers { device, function, values: values.iter().copied().collect() })
        );
        stream.extend_from_slice(&buf[..n]);
        let mut pos = 0;
        let mut last_req = None;
        let mut found = false;
        while pos < stream.len() {
            match modbus::scan_frame(&stream[pos..], last_req.as_ref()) {
                Scan::Frame { frame, len } => {
                    match frame {
                        Frame::Request(r) => last_req = Some(r),
                        Frame::Response(r) => {
                            if let modbus::Response::Registers { values: v, .. } = r {
                                found |= v.as_slice() == values.as_slice();
                            }
                        }
                    }
                    pos += len;
                }
                _ => pos += 1,
            }
        }
        prop_assert!(found);
    }

    #[test]
    fn modbus_rejects_any_corrupted_byte(
        values in prop::collection::vec(any::<u16>(), 1..=20),
        at in any::<prop::sample::Index>(),
        flip in 1u8..=255,
    ) {
        let req = ReadRequest::new(1, 0x03, 0x0100, values.len() as u16).expect("valid");
        let mut buf = [0u8; 256];
        let n = modbus::encode_registers(1, 0x03, &values, &mut buf).expect("fits");
        let i = at.index(n);
        buf[i] ^= flip;
        prop_assert!(req.decode_response(&buf[..n]).is_err());
    }
}
