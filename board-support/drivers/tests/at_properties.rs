//! Property tests of the AT parsers: no input makes them panic, every framing of a reply
//! gives the same lines, and receive events round-trip their payload.

use fieldkit_drivers::at::{self, LineEvent, LineReader, cellular, rui3};
use fieldkit_drivers::lora::{DutyCycle, Modulation};
use proptest::prelude::*;

fn feed_all(bytes: &[u8]) -> Vec<String> {
    let mut r = LineReader::<256>::new();
    let mut out = Vec::new();
    for &b in bytes {
        if let Some(LineEvent::Line(l)) = r.feed(b) {
            out.push(l.as_str().to_string());
        }
    }
    out
}

fn arb_line() -> impl Strategy<Value = String> {
    prop_oneof![
        Just("OK".to_string()),
        Just("AT_BUSY_ERROR".to_string()),
        Just("+EVT:TXP2P DONE".to_string()),
        Just("+CEREG: 2,1, 1F00, 79D903 ,7".to_string()),
        Just("+CME ERROR: SIM not inserted".to_string()),
        "[ -~]{1,40}"
            .prop_map(|s| s.trim().to_string())
            .prop_filter("non-empty", |s| !s.is_empty()),
        "\\+(EVT|CSQ|CEREG|CREG|CPIN|QIND|CME ERROR):[ -~]{0,30}",
    ]
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
    fn no_parser_panics_on_any_bytes(bytes in prop::collection::vec(any::<u8>(), 0..600)) {
        let mut r = LineReader::<128>::new();
        for &b in &bytes {
            if let Some(LineEvent::Line(l)) = r.feed(b) {
                let _ = rui3::classify(&l);
                let _ = cellular::classify(&l);
                let _ = rui3::Version::parse(&l);
            }
        }
        let text = String::from_utf8_lossy(&bytes);
        let _ = rui3::classify(&text);
        let _ = cellular::classify(&text);
        let _ = rui3::Version::parse(&text);
        let mut out = [0u8; 300];
        let _ = at::hex_decode(&text, &mut out);
    }

    #[test]
    fn every_framing_gives_the_same_lines(
        lines in prop::collection::vec(arb_line(), 1..8),
        framing in prop::collection::vec(0u8..5, 8),
    ) {
        let mut bytes = Vec::new();
        for (i, l) in lines.iter().enumerate() {
            match framing[i % framing.len()] {
                0 => { bytes.extend_from_slice(l.as_bytes()); bytes.extend_from_slice(b"\r\n"); }
                1 => { bytes.extend_from_slice(b"\r\n"); bytes.extend_from_slice(l.as_bytes()); bytes.extend_from_slice(b"\r\n"); }
                2 => { bytes.extend_from_slice(l.as_bytes()); bytes.extend_from_slice(b"\r\r\n"); }
                3 => { bytes.extend_from_slice(l.as_bytes()); bytes.extend_from_slice(b"\n\r"); }
                _ => { bytes.extend_from_slice(l.as_bytes()); bytes.push(b'\r'); }
            }
        }
        prop_assert_eq!(feed_all(&bytes), lines);
    }

    #[test]
    fn receive_events_carry_the_payload_back(
        rssi in -140i16..0,
        snr in -20i16..20,
        payload in prop::collection::vec(any::<u8>(), 1..240),
    ) {
        let mut hex = vec![0u8; payload.len() * 2];
        let line = format!("+EVT:RXP2P:{rssi}:{snr}:{}", at::hex_encode(&payload, &mut hex));
        match rui3::classify(&line) {
            rui3::Line::Received { rssi: r, snr: s, hex } => {
                prop_assert_eq!((r, s), (rssi, snr));
                let mut out = vec![0u8; 239];
                let n = at::hex_decode(hex, &mut out).expect("hex");
                prop_assert_eq!(&out[..n], &payload[..]);
            }
            other => prop_assert!(false, "{:?}", other),
        }
    }

    #[test]
    fn registration_lines_parse_with_any_spacing(n in 0u16..3, stat in 0u16..12, sp in "[ ]{0,2}") {
        let line = format!("+CEREG:{sp}{n},{sp}{stat}");
        prop_assert_eq!(
            cellular::classify(&line),
            cellular::Line::Registration { domain: cellular::Domain::Eps, first: n, second: Some(stat) }
        );
    }

    #[test]
    fn time_on_air_grows_with_length_and_spreading_factor(len in 0usize..255, sf in 7u8..12) {
        let a = Modulation::p2p(sf).time_on_air_us(len);
        prop_assert!(a <= Modulation::p2p(sf).time_on_air_us(len + 1));
        prop_assert!(a < Modulation::p2p(sf + 1).time_on_air_us(len));
    }

    #[test]
    fn the_duty_cycle_budget_is_never_exceeded(
        gaps in prop::collection::vec(0u64..200_000, 1..300),
        lens in prop::collection::vec(1usize..240, 1..300),
        sf in 7u8..13,
    ) {
        let m = Modulation::p2p(sf);
        let mut d = DutyCycle::eu868();
        let mut now = 0u64;
        let mut sent: Vec<(u64, u64)> = Vec::new();
        for (i, gap) in gaps.iter().enumerate() {
            now += gap;
            let ms = m.time_on_air_ms(lens[i % lens.len()]);
            if d.check(now, ms).is_ok() {
                d.record(now, ms);
                sent.push((now, u64::from(ms)));
            }
        }
        for &(t, _) in &sent {
            let used: u64 = sent.iter().filter(|(s, _)| *s >= t && *s < t + 3_600_000).map(|(_, m)| m).sum();
            prop_assert!(used <= 36_000, "{} ms within the hour from {}", used, t);
        }
    }
}
