//! Sizes on the air: prints bytes and LoRa time on air for an urgent alert and a minimal
//! tracing record, the bytes of full cases against Primero API v2 JSON, and sync rounds to
//! deliver a batch of cases over a lossy LoRa link. Sizes are exact (no timing involved);
//! run with `cargo bench -p fieldkit-sync --bench sync_sizes`.

use std::convert::Infallible;
use std::sync::Arc;

use fieldkit_domain::lookups::Lookups;
use fieldkit_domain::{
    Date, DeviceId, Document, Hlc, LocationTree, Op, Record, RecordId, RecordKind, Sex, Trace,
    TracingRequest, primero,
};
use fieldkit_drivers::lora::Modulation;
use fieldkit_sync::codes::CodeBook;
use fieldkit_sync::counter::{ReplayWindow, Reservation, SendCounter};
use fieldkit_sync::endpoint::Endpoint;
use fieldkit_sync::message::{Alert, Body, OpsForm, Priority};
use fieldkit_sync::seal::{Channel, LinkKeys, StaticKey};
use fieldkit_sync::transfer::Envelope;

use fieldkit_testkit::cases;

fn ok(_: Reservation) -> Result<(), Infallible> {
    Ok(())
}

fn keys() -> (LinkKeys, LinkKeys) {
    let kit = StaticKey::from_bytes([0x11; 32]);
    let hub = StaticKey::from_bytes([0x22; 32]);
    (
        LinkKeys::for_kit(&kit, &hub.public()).expect("keys"),
        LinkKeys::for_hub(&hub, &kit.public()).expect("keys"),
    )
}

/// A frame carrying `body` whole, from a kit that has sent `counter` frames and queued
/// `message_id` messages before.
fn one_frame(body: &Body, counter: u64, message_id: u64) -> Vec<u8> {
    let (tag, compressed, bytes) = body.encode();
    let env = Envelope::Whole {
        id: message_id,
        tag,
        compressed,
        body: bytes,
    };
    let (k, _) = keys();
    let mut ch = Channel::new(k, SendCounter::resume(counter, 64), ReplayWindow::default());
    ch.seal(&env.encode(), ok).expect("seal")
}

/// The moment a UUIDv7 record id was minted.
fn minted_ms(id: RecordId) -> u64 {
    let b = id.as_bytes();
    u64::from_be_bytes([0, 0, b[0], b[1], b[2], b[3], b[4], b[5]])
}

/// A generated record as a kit registers it: each subform entry given a UUIDv7 minted at the
/// moment the record's id was (the generated records' short entry ids would flatter both
/// our sizes and Primero's JSON).
fn as_registered(record: Record) -> Record {
    let id = record.id();
    let mut json = record.to_json();
    if let Some(o) = json.as_object_mut() {
        let mut n = 0u8;
        for v in o.values_mut() {
            for entry in v.as_array_mut().into_iter().flatten() {
                if let Some(e) = entry.as_object_mut()
                    && e.contains_key("unique_id")
                {
                    n = n.wrapping_add(1);
                    let mut random = [0u8; 10];
                    random.copy_from_slice(&id.as_bytes()[6..]);
                    random[9] ^= n;
                    let uid = RecordId::mint(minted_ms(id), random).to_string();
                    e.insert("unique_id".into(), serde_json::Value::String(uid));
                }
            }
        }
    }
    Record::from_json(record.kind(), json).expect("the same record")
}

/// The ops of a record's first save, stamped as a kit stamps a registration: at the moment
/// it minted the record's id.
fn ops_of(record: &Record) -> Vec<Op> {
    let stamp = Hlc {
        wall_ms: minted_ms(record.id()),
        counter: 0,
        device: DeviceId(0x5eed_0001_0002_0003),
    };
    Document::new(record.kind(), record.id())
        .diff(&record.to_json(), || stamp)
        .expect("a flat record")
}

/// The bench's full case `i`, as registered.
fn full_case(i: u64) -> Record {
    as_registered(Record::Case(Box::new(cases::case(2026, i))))
}

/// The ops of the bench's full case `i`.
fn case_ops(i: u64) -> Vec<Op> {
    ops_of(&full_case(i))
}

/// Bytes of a record as Primero API v2 JSON.
fn primero_len(record: &Record) -> usize {
    serde_json::to_vec(&primero::to_primero(record))
        .expect("json")
        .len()
}

/// The code book of the generated cases' deployment, made as a kit or hub makes it from its
/// configuration (a location tree and a Primero lookups export).
fn deployment_book() -> CodeBook {
    let tree = LocationTree::new(cases::deployment_locations()).expect("a tree");
    let export: Vec<serde_json::Value> = cases::deployment_lookups()
        .into_iter()
        .map(|(id, values)| {
            serde_json::json!({
                "unique_id": id,
                "values": values.iter().map(|v| serde_json::json!({"id": v, "display_text": v})).collect::<Vec<_>>(),
            })
        })
        .collect();
    let lookups =
        Lookups::from_primero_json(&serde_json::Value::Array(export).to_string()).expect("lookups");
    CodeBook::of_deployment(Some(&tree), &lookups)
}

fn airtime_row(what: &str, bytes: usize) {
    let sf7 = Modulation::p2p(7).time_on_air_us(bytes) as f64 / 1000.0;
    let sf10 = Modulation::p2p(10).time_on_air_us(bytes) as f64 / 1000.0;
    let sf12 = Modulation::p2p(12).time_on_air_us(bytes) as f64 / 1000.0;
    println!(
        "{what:<44} {bytes:>4} B   SF7 {sf7:>7.1} ms   SF10 {sf10:>7.1} ms   SF12 {sf12:>7.1} ms   one SF10 frame (<= 51 B): {}",
        if bytes <= 51 { "yes" } else { "no" }
    );
}

fn main() {
    println!("fieldkit-sync sizes (exact; LoRa 125 kHz, CR 4/5, preamble 8, explicit header, CRC)");
    println!();

    let alert = Body::Alert(Alert {
        kind: RecordKind::Case,
        record: cases::case_id(7, 1),
        risk: "high".into(),
        concerns: vec!["unaccompanied".into(), "child_labour".into()],
        raised_min: 29_666_000,
    });
    airtime_row("urgent alert, new kit", one_frame(&alert, 0, 0).len());
    airtime_row(
        "urgent alert, after 10,000 frames/1,000 msgs",
        one_frame(&alert, 10_000, 1_000).len(),
    );
    airtime_row(
        "urgent alert, after 1M frames/100k msgs",
        one_frame(&alert, 1_000_000, 100_000).len(),
    );

    let tr_id = cases::case_id(99, 2);
    let minimal = TracingRequest {
        id: tr_id,
        inquiry_date: Date::from_ymd(2026, 11, 30).ok(),
        relation_name: Some("Halima Yusuf".into()),
        relation: Some("mother".into()),
        tracing_request_subform_section: vec![Trace {
            unique_id: "a3f09c1e-0".into(),
            name: Some("Amina Yusuf".into()),
            sex: Some(Sex::Female),
            age: Some(7),
            date_of_separation: Date::from_ymd(2026, 10, 14).ok(),
            location_separation: Some("SD-DA-Kalma".into()),
            ..Trace::default()
        }],
        ..TracingRequest::default()
    };
    let tr_record = as_registered(Record::TracingRequest(Box::new(minimal)));
    let tr_ops = ops_of(&tr_record);
    let tr_frame = one_frame(&Body::Ops(tr_ops.clone()), 10_000, 1_000);
    airtime_row(
        &format!("minimal tracing record ({} ops)", tr_ops.len()),
        tr_frame.len(),
    );
    println!(
        "{:<44} {:>4} B   (the same record as Primero API v2 JSON)",
        "  vs Primero JSON",
        primero_len(&tr_record)
    );
    println!();

    // Full cases: every field a registration fills, family details included.
    let n = 200u64;
    let book = Arc::new(deployment_book());
    let mut json_total = 0usize;
    let mut gz_total = 0usize;
    for i in 0..n {
        let record = full_case(i);
        let json = serde_json::to_vec(&primero::to_primero(&record)).expect("json");
        json_total += json.len();
        gz_total += miniz_oxide::deflate::compress_to_vec(&json, 9).len();
    }
    let avg = |t: usize| t as f64 / n as f64;
    println!("full case ({n} generated registrations with family details), average bytes:");
    println!(
        "  Primero API v2 JSON            {:>8.0} B",
        avg(json_total)
    );
    println!("  Primero JSON, DEFLATE-9        {:>8.0} B", avg(gz_total));
    let tag6: usize = (0..n)
        .map(|i| {
            let ops = case_ops(i);
            let raw = fieldkit_sync::codec::encode_records(&ops).expect("a record");
            fieldkit_sync::primer::deflate_with(fieldkit_sync::primer::PRIMER_V2, &raw)
                .expect("deflate")
                .len()
        })
        .sum();
    println!(
        "  compressed body, record form (tag 6, before)          {:>6.0} B",
        avg(tag6)
    );
    for (what, coding) in [
        ("typed form, text (no code list agreed)", None),
        ("typed form, deployment codes agreed", Some(book.clone())),
    ] {
        let body: usize = (0..n)
            .map(|i| {
                Body::Ops(case_ops(i))
                    .encode_with(coding.as_deref())
                    .2
                    .len()
            })
            .sum();
        println!("  compressed body, {what:<38} {:>6.0} B", avg(body));
        let mut ours_lora = 0usize;
        let mut ours_ip = 0usize;
        let mut frames_lora = 0usize;
        for i in 0..n {
            let ops = case_ops(i);
            for (mtu, total, frames) in [
                (239usize, &mut ours_lora, Some(&mut frames_lora)),
                (1200, &mut ours_ip, None),
            ] {
                let (k, _) = keys();
                let mut kit = Endpoint::new(
                    Channel::new(k, SendCounter::resume(10_000, 64), ReplayWindow::default()),
                    Default::default(),
                    Default::default(),
                );
                kit.set_coding(coding.clone());
                kit.queue(&Body::Ops(ops.clone()));
                let mut count = 0;
                while let Some(f) = kit
                    .poll_transmit(0, mtu, u64::MAX, Priority::Bulk, ok)
                    .expect("seal")
                {
                    *total += f.len();
                    count += 1;
                }
                if let Some(fr) = frames {
                    *fr += count;
                }
            }
        }
        println!(
            "    sealed frames of 1200 B (IP)   {:>8.0} B   ratio to JSON 1/{:.2}",
            avg(ours_ip),
            json_total as f64 / ours_ip as f64
        );
        println!(
            "    sealed LoRa frames of 239 B    {:>8.0} B   ratio to JSON 1/{:.2}   {:.1} frames, SF7 {:.0} ms on air",
            avg(ours_lora),
            json_total as f64 / ours_lora as f64,
            frames_lora as f64 / n as f64,
            Modulation::p2p(7).time_on_air_us(239) as f64 / 1000.0
                * (frames_lora as f64 / n as f64)
        );
    }
    println!(
        "  (deployment book: {} location codes, {} lookup lists; digest {:02x?})",
        book.table(fieldkit_sync::codes::LOCATIONS)
            .map_or(0, <[_]>::len),
        cases::deployment_lookups().len(),
        &book.digest()[..4]
    );

    composition(n, &book);
    hub_to_kit(&book);

    // A day's registrations synced together: 20 cases in one message over IP.
    let mut day_ops = Vec::new();
    let mut day_json = 0usize;
    for i in 0..20 {
        let record = full_case(1000 + i);
        day_json += primero_len(&record);
        day_ops.extend(ops_of(&record));
    }
    let (k, _) = keys();
    let mut kit = Endpoint::new(
        Channel::new(k, SendCounter::resume(10_000, 64), ReplayWindow::default()),
        Default::default(),
        Default::default(),
    );
    kit.queue(&Body::Ops(day_ops));
    let mut day_ours = 0usize;
    while let Some(f) = kit
        .poll_transmit(0, 1200, u64::MAX, Priority::Bulk, ok)
        .expect("seal")
    {
        day_ours += f.len();
    }
    println!(
        "  a day's 20 cases in one message (IP)     {:>8.0} B/case   ratio to JSON 1/{:.1}",
        day_ours as f64 / 20.0,
        day_json as f64 / day_ours as f64
    );
    println!();

    // Rounds to deliver 20 cases over LoRa (239-byte frames, one frame each way per
    // round), with a deterministic loss pattern.
    println!("sync rounds to deliver 20 full cases kit -> hub over 239-byte frames:");
    for loss in [0u64, 10, 30] {
        let (k, h) = keys();
        let mut kit = Endpoint::new(
            Channel::new(k, SendCounter::resume(0, 64), ReplayWindow::default()),
            Default::default(),
            Default::default(),
        );
        let mut hub = Endpoint::new(
            Channel::new(h, SendCounter::resume(0, 64), ReplayWindow::default()),
            Default::default(),
            Default::default(),
        );
        for i in 0..20 {
            let c = as_registered(Record::Case(Box::new(cases::case(31, i))));
            kit.queue(&Body::Ops(ops_of(&c)));
        }
        let mut frame_no = 0u64;
        let mut rounds = 0u64;
        let mut delivered = 0;
        let mut now = 0u64;
        while !kit.outbox().is_empty() && rounds < 100_000 {
            rounds += 1;
            now += 2_000;
            if let Some(f) = kit
                .poll_transmit(now, 239, 8_000, Priority::Bulk, ok)
                .expect("seal")
            {
                frame_no += 1;
                if !lost(frame_no, loss) && matches!(hub.handle(&f), Ok(Some(_))) {
                    delivered += 1;
                }
            }
            if let Some(a) = hub
                .poll_transmit(now, 239, 8_000, Priority::Bulk, ok)
                .expect("seal")
            {
                frame_no += 1;
                if !lost(frame_no, loss) {
                    let _ = kit.handle(&a);
                }
            }
        }
        println!(
            "  loss {loss:>2} %: {rounds:>4} rounds, {delivered} cases delivered, {} frames sent by the kit",
            kit.traffic().frames_sent
        );
    }
}

fn lost(i: u64, percent: u64) -> bool {
    let mut z = i.wrapping_mul(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 31)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    (z >> 33) % 100 < percent
}

/// What a full case's compressed bytes are made of: each group's share is what leaving its
/// operations out of the message saves (DEFLATE shares context across groups, so the shares
/// add up only roughly). Tells where a better encoding could still win.
fn composition(n: u64, book: &CodeBook) {
    let all: Vec<Vec<Op>> = (0..n).map(case_ops).collect();

    let packed = |keep: &dyn Fn(&Op) -> bool| -> f64 {
        let total: usize = all
            .iter()
            .map(|ops| {
                let kept: Vec<Op> = ops.iter().filter(|o| keep(o)).cloned().collect();
                Body::Ops(kept).encode_with(Some(book)).2.len()
            })
            .sum();
        total as f64 / n as f64
    };
    let leaf = |o: &Op| -> String {
        o.field
            .rsplit_once("].")
            .map_or_else(|| o.field.clone(), |(_, f)| f.to_string())
    };
    let groups: [(&str, &[&str]); 6] = [
        ("case notes (free text)", &["notes"]),
        (
            "names (child, family, caseworker)",
            &[
                "name",
                "name_other",
                "name_nickname",
                "relation_name",
                "owned_by",
            ],
        ),
        (
            "place codes",
            &[
                "location_current",
                "location_last",
                "location_separation",
                "relation_location_current",
            ],
        ),
        ("telephone numbers", &["relation_telephone"]),
        (
            "case number, agency, ethnicity",
            &["case_id_display", "owned_by_agency_id", "ethnicity"],
        ),
        ("subform entry order", &["family_details_section[]"]),
    ];
    let base = packed(&|_| true);
    let one_op: f64 = all
        .iter()
        .map(|ops| Body::Ops(ops[..1].to_vec()).encode_with(Some(book)).2.len())
        .sum::<usize>() as f64
        / n as f64;
    println!(
        "  what the compressed body with codes ({base:.0} B) is made of, by leaving each group out:"
    );
    let mut named = 0.0;
    for (what, fields) in groups {
        let share = base
            - packed(&|o| {
                !fields.contains(&leaf(o).as_str()) && !fields.contains(&o.field.as_str())
            });
        named += share;
        println!("    {what:<44} {share:>6.0} B");
    }
    println!(
        "    {:<44} {:>6.0} B   (one-op message: record id, device id, stamp)",
        "message header", one_op
    );
    println!(
        "    {:<44} {:>6.0} B   (field paths, codes, numbers, dates, flags)",
        "the rest",
        base - named - one_op
    );
}

/// Sealed bytes of `body` sent by the hub to a kit, coded with `coding`, over frames of
/// `mtu` bytes.
fn downlink_bytes(body: &Body, coding: Option<Arc<CodeBook>>, mtu: usize, form: OpsForm) -> usize {
    let (_, h) = keys();
    let mut hub = Endpoint::new(
        Channel::new(h, SendCounter::resume(10_000, 64), ReplayWindow::default()),
        Default::default(),
        Default::default(),
    );
    hub.set_coding(coding);
    hub.set_ops_form(form);
    hub.queue(body);
    let mut total = 0;
    while let Some(f) = hub
        .poll_transmit(0, mtu, u64::MAX, Priority::Bulk, ok)
        .expect("seal")
    {
        total += f.len();
    }
    total
}

/// What the hub sends a kit, as text (to a kit that never coded: older, or not told a list)
/// and coded with the list the kit codes with: a match notice (the potential match record's
/// operations, from a demo kit's own matching), the review decision that confirms it, and a
/// transferred case (all its operations; a registration never edited).
fn hub_to_kit(book: &Arc<CodeBook>) {
    use fieldkit_app::{Kit, KitConfig, demo};
    use fieldkit_vault::{CredentialPolicy, InitOptions, OpenOptions, Vault};

    let now = 1_780_000_000_000;
    let dir = tempfile::tempdir().expect("a directory");
    let (session, _) = Vault::create(
        &Vault::file_in(dir.path()),
        InitOptions {
            username: demo::USER,
            display_name: "Amina (demo)",
            credential: demo::PIN.as_bytes(),
            policy: CredentialPolicy::default(),
            now_ms: now,
        },
        OpenOptions::default(),
    )
    .expect("a vault");
    let config = KitConfig {
        locations: Some(LocationTree::new(demo::locations()).expect("a tree")),
        ..KitConfig::default()
    };
    let demo_book = Arc::new(CodeBook::of_deployment(
        config.locations.as_ref(),
        &config.lookups,
    ));
    let mut kit = Kit::open(session, config, now).expect("a kit");
    demo::seed(&mut kit, 8, now).expect("the demo records");
    let matches = kit
        .session_mut()
        .all(RecordKind::PotentialMatch, now)
        .expect("matches");
    let Some(first) = matches.first() else {
        println!("  (the demo kit proposed no match)");
        return;
    };
    let id = first.record.id();
    let notice = kit
        .session()
        .ops_since(RecordKind::PotentialMatch, id, None)
        .expect("the notice");
    let before = notice.iter().map(|o| o.stamp).max();
    if std::env::var_os("FIELDKIT_BENCH_SHOW_NOTICE").is_some() {
        for op in &notice {
            println!("    {:?} {} = {:?}", op.stamp, op.field, op.value);
        }
    }
    kit.confirm_match(id, Some("mother recognised her"), now + 60_000)
        .expect("confirmed");
    let decision = kit
        .session()
        .ops_since(RecordKind::PotentialMatch, id, before)
        .expect("the decision");
    let transfer = case_ops(7);

    println!();
    println!("hub -> kit, sealed bytes (IP frames of 1200 B / LoRa frames of 239 B):");
    println!(
        "(\"v4\": to a kit that has not shown it reads protocol version 5, tag 7 against \
         primer-v3; \"v5\": tag 9 against primer-v4, with the explanations' words)"
    );
    println!("{:<48} {:>14} {:>14}", "", "text", "coded");
    for (what, ops, list) in [
        (
            format!("match notice ({} ops)", notice.len()),
            notice,
            demo_book.clone(),
        ),
        (
            format!("review decision ({} ops)", decision.len()),
            decision,
            demo_book.clone(),
        ),
        (
            format!("transferred full case ({} ops)", transfer.len()),
            transfer,
            book.clone(),
        ),
    ] {
        // As the hub sends a record: save by save (`codec::by_save`).
        let body = Body::Ops(fieldkit_sync::codec::by_save(ops));
        for (version, form) in [("v4", OpsForm::Typed), ("v5", OpsForm::Explained)] {
            let cell = |coding: Option<Arc<CodeBook>>| {
                format!(
                    "{:>4} / {:>4} B",
                    downlink_bytes(&body, coding.clone(), 1200, form),
                    downlink_bytes(&body, coding, 239, form)
                )
            };
            let what = format!("{what}, {version}");
            println!(
                "  {what:<46} {:>14} {:>14}",
                cell(None),
                cell(Some(list.clone()))
            );
        }
    }
}
