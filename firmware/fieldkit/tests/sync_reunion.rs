//! The reunion over real processes: a hub (`fieldkit hub run`) and two kits provisioned with
//! `fieldkit provision`, each syncing with `fieldkit sync run` over HTTP. Kit A registers a
//! separated child, kit B the mother's tracing request. Kit A's process is killed with
//! SIGKILL in the middle of sending the case (after the hub took some of its fragments, before
//! the kit heard the acknowledgement), then started again: the transfer resumes from the
//! fragments acknowledged, nothing is lost or duplicated, and no send counter repeats. Both
//! kits end up holding the hub's match notice with its explanation, and a decision made on
//! kit A reaches kit B through the hub.
//!
//! Between the kits and the hub sits a relay in this test (a network hop: it sees only sealed
//! frames). It forwards every request to the hub, records each frame's counter both ways, and
//! is where the test chooses the moment of the kill. The scenario runs twice: without loss,
//! and with the relay dropping 30 % of the kits' frames and 30 % of the hub's answers (the
//! hub took the request, the kit never heard), chosen by a seeded hash of the kit, the frame's
//! counter or the request's number, so a run can be repeated (`FIELDKIT_RELAY_SEED`).
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use fieldkit_http::{HttpLink, HubServer};
use fieldkit_sync::seal::{KitId, peek, public_key_from_text};

mod common;

use common::{spawn_logged, spawn_on as spawn, start_hub_with};

fn ok(dir: &Path, user: &str, args: &[&str]) -> String {
    let out = spawn(dir, user, args).wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "{args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

fn json(dir: &Path, user: &str, args: &[&str]) -> serde_json::Value {
    let text = ok(dir, user, args);
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{args:?}: {e}: {text}"))
}

/// Where the test kills a kit sending a message cut into frames of `mtu` bytes: at the first
/// request that brings the hub a fragment of it (a frame of the full size: the message's
/// last frame, an alert, a status report, an acknowledgement, are shorter) after the kit
/// heard the answer to an earlier such request (so it holds acknowledged fragments, and this
/// one is not acknowledged yet), before it hears this answer.
struct Kill {
    kit: KitId,
    mtu: usize,
    killed: mpsc::Sender<()>,
    dead: mpsc::Receiver<()>,
}

/// What the relay saw and what it should do.
#[derive(Default)]
struct RelayState {
    upstream: Option<String>,
    /// Uplink counters per kit, in the order sent (dropped frames included).
    counters: BTreeMap<KitId, Vec<u64>>,
    /// Downlink counters per kit, in the order the hub sent them (dropped answers included).
    downlink: BTreeMap<KitId, Vec<u64>>,
    /// Requests per kit.
    requests: BTreeMap<KitId, u32>,
    /// Answers a kit heard to requests that brought the hub a full-size fragment, per kit.
    heard: BTreeMap<KitId, u32>,
    /// Frames and answers dropped.
    frames_dropped: u32,
    answers_dropped: u32,
    /// Requests the hub did not answer (it must answer every one).
    hub_failures: Vec<String>,
    kill_at: Option<Kill>,
}

/// The relay's loss: `percent` of frames and of answers, by a hash of `seed` and what is
/// dropped (the same frames and answers on every run with the same seed and traffic).
#[derive(Clone, Copy)]
struct Loss {
    percent: u64,
    seed: u64,
}

impl Loss {
    fn drops(self, what: u64, kit: KitId, n: u64) -> bool {
        // SplitMix64 over the seed, the kind of thing, the kit and its number.
        let mut z = self.seed
            ^ what.wrapping_mul(0xA076_1D64_78BD_642F)
            ^ u64::from(u32::from_be_bytes(kit.0)).wrapping_mul(0xE703_7ED1_A0B4_28DB)
            ^ n.wrapping_mul(0x9E37_79B9_7F4A_7C15);
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^= z >> 31;
        z % 100 < self.percent
    }
}

/// The relay's answer to a request whose answer it drops: the kit sees a failed request.
#[derive(Debug)]
struct Dropped;

struct Relay {
    url: String,
    state: Arc<Mutex<RelayState>>,
    stop: Arc<AtomicBool>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Relay {
    fn start(loss: Loss) -> Relay {
        let server = HubServer::bind("127.0.0.1:0").unwrap();
        let url = format!("http://{}", server.local_addr().unwrap());
        let state = Arc::new(Mutex::new(RelayState::default()));
        let stop = Arc::new(AtomicBool::new(false));
        let (s, st) = (Arc::clone(&state), Arc::clone(&stop));
        let thread = std::thread::spawn(move || {
            while !st.load(Ordering::SeqCst) {
                let served = server.serve_one_with(Duration::from_millis(50), |kit, frames| {
                    let (upstream, n, forward) = {
                        let mut g = s.lock().unwrap();
                        let mut forward = Vec::new();
                        for f in frames {
                            let counter = peek(&f).unwrap().counter;
                            g.counters.entry(kit).or_default().push(counter);
                            if loss.drops(1, kit, counter) {
                                g.frames_dropped += 1;
                            } else {
                                forward.push(f);
                            }
                        }
                        let n = {
                            let r = g.requests.entry(kit).or_default();
                            *r += 1;
                            *r
                        };
                        (g.upstream.clone().unwrap(), n, forward)
                    };
                    let link = HttpLink::new(&upstream, kit, Duration::from_secs(60));
                    let answer = match link.exchange(&forward) {
                        Ok(a) => a,
                        Err(e) => {
                            s.lock().unwrap().hub_failures.push(e.to_string());
                            return Err(Dropped);
                        }
                    };
                    let mut g = s.lock().unwrap();
                    for f in &answer {
                        let counter = peek(f).unwrap().counter;
                        g.downlink.entry(kit).or_default().push(counter);
                    }
                    // A fragment of the message being cut (the full size, give or take the
                    // counter's varint growing on a frame sent again).
                    let fragment = g.kill_at.as_ref().is_some_and(|k| {
                        k.kit == kit && forward.iter().any(|f| f.len() + 4 >= k.mtu)
                    });
                    let heard = g.heard.get(&kit).copied().unwrap_or(0);
                    if fragment && heard >= 1 {
                        let k = g.kill_at.take().unwrap();
                        drop(g);
                        // The hub holds these frames; the kit dies before it hears so.
                        k.killed.send(()).unwrap();
                        k.dead.recv().unwrap();
                        return Err(Dropped);
                    }
                    if loss.drops(2, kit, u64::from(n)) {
                        g.answers_dropped += 1;
                        return Err(Dropped);
                    }
                    if fragment {
                        *g.heard.entry(kit).or_default() += 1;
                    }
                    Ok(answer)
                });
                // A kit gone mid-answer (the one killed) is no failure of the relay's.
                if let Err(e) = served {
                    eprintln!("relay: {e}");
                }
            }
        });
        Relay {
            url,
            state,
            stop,
            thread: Some(thread),
        }
    }
}

impl Drop for Relay {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

/// A process killed when the test ends, passed or failed (a hub left running would hold the
/// test's standard error open).
struct Killed(std::process::Child);

impl Drop for Killed {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

struct Provisioned {
    dir: PathBuf,
    id: KitId,
}

fn provision(root: &Path, name: &str, user: &str, hub_pub: &Path, relay: &str) -> Provisioned {
    let dir = root.join(name);
    let out = ok(
        &dir,
        user,
        &[
            "provision",
            "--user",
            user,
            "--kit-id",
            name,
            "--agency",
            "unicef",
            "--hub-key",
            hub_pub.to_str().unwrap(),
            "--hub-address",
            relay,
        ],
    );
    assert!(out.contains("RECOVERY KEY"), "{out}");
    let key =
        public_key_from_text(&std::fs::read_to_string(dir.join("sync/kit.pub")).unwrap()).unwrap();
    let id = KitId::of(&key);
    assert!(out.contains(&id.to_string()), "{out}");
    let status = json(&dir, user, &["sync", "status", "--json"]);
    assert_eq!(status["kit_id"], id.to_string());
    Provisioned { dir, id }
}

/// `sync run` on `kit`, giving up after 8 failed exchanges in a row (the relay's dropped
/// answers). Without loss it must finish with none failed; with loss a run may stop with work
/// left, which the next run takes up. No frame is ever refused: the relay drops, it never alters.
fn sync(kit: &Provisioned, user: &str, lossy: bool, extra: &[&str]) -> serde_json::Value {
    let mut args = vec![
        "sync",
        "run",
        "--json",
        "--retry-s",
        "1",
        "--give-up-after",
        "8",
    ];
    args.extend_from_slice(extra);
    let r = json(&kit.dir, user, &args);
    if !lossy {
        assert_eq!(r["done"], true, "{r}");
        assert_eq!(r["exchanges_failed"], 0, "{r}");
    }
    assert_eq!(r["frames_refused"], 0, "{r}");
    r
}

/// Runs `args` and parses its JSON when it succeeds (`None`: it failed, e.g. a record this
/// kit does not hold yet).
fn try_json(dir: &Path, user: &str, args: &[&str]) -> Option<serde_json::Value> {
    let out = spawn(dir, user, args).wait_with_output().unwrap();
    out.status
        .success()
        .then(|| serde_json::from_slice(&out.stdout).unwrap())
}

/// The `unique_id` of the first trace in a shown tracing request, wherever the JSON nests it.
fn first_trace_id(v: &serde_json::Value) -> Option<&str> {
    match v {
        serde_json::Value::Object(m) => m
            .get("tracing_request_subform_section")
            .and_then(|t| t.get(0))
            .and_then(|t| t.get("unique_id"))
            .and_then(serde_json::Value::as_str)
            .or_else(|| m.values().find_map(first_trace_id)),
        serde_json::Value::Array(a) => a.iter().find_map(first_trace_id),
        _ => None,
    }
}

/// Most passes (a sync run on each kit) for the match notice, or the decision, to reach both
/// kits. Without loss one pass does it; with loss a pass ends early when the answer carrying
/// the last fragment was dropped (the hub sends it again after its retry time, one second
/// here, at the next run).
const MAX_PASSES: u32 = 12;

#[test]
fn reunion_with_a_kit_killed_mid_transfer_and_a_decision_through_the_hub() {
    assert!(reunion(Loss {
        percent: 0,
        seed: 0,
    }));
}

#[test]
fn reunion_at_30_percent_loss_with_a_kit_killed_mid_transfer() {
    let seed: u64 = std::env::var("FIELDKIT_RELAY_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(0x0C0F_FEE5_2026_1204);
    // Which answers are lost depends on the seed and on how the hub's and the kit's retries
    // fall in time, so under some loss patterns kit A gets its whole case through (or gives
    // up) before the moment the kill waits for. Such a run proves nothing about the kill: it
    // is left (and said so) and the next seed tried; one of a few must reach the kill.
    for attempt in 0..4 {
        let seed = seed.wrapping_add(attempt);
        eprintln!("relay seed {seed}");
        if reunion(Loss { percent: 30, seed }) {
            return;
        }
        eprintln!("seed {seed}: kit A finished before the kill point; next seed");
    }
    panic!("no seed of four reached the kill point");
}

/// Runs the scenario; `false` when kit A's first sync ended before the kill point.
fn reunion(loss: Loss) -> bool {
    let lossy = loss.percent > 0;
    let root = tempfile::tempdir().unwrap();
    let hub_dir = root.path().join("hub");
    ok(&hub_dir, "coord", &["hub", "init", "--user", "coord"]);
    let hub_pub = hub_dir.join("hub.pub");
    let relay = Relay::start(loss);
    let a = provision(root.path(), "kit-a", "amina", &hub_pub, &relay.url);
    let b = provision(root.path(), "kit-b", "brima", &hub_pub, &relay.url);
    for k in [&a, &b] {
        let key = k.dir.join("sync/kit.pub");
        ok(
            &hub_dir,
            "coord",
            &[
                "hub",
                "enroll",
                "--key",
                key.to_str().unwrap(),
                "--agency",
                "unicef",
            ],
        );
    }
    let (hub, hub_url) = start_hub_with(&hub_dir, &["--retry-s", "1"]);
    let mut hub = Killed(hub);
    relay.state.lock().unwrap().upstream = Some(hub_url);

    // Kit A: the child; kit B: the mother looking for him.
    let case = json(
        &a.dir,
        "amina",
        &[
            "case",
            "add",
            "--name",
            "Mohammed Yusuf",
            "--sex",
            "male",
            "--age",
            "9",
            "--separation-place",
            "JO-MA-ZAATARI",
            "--family",
            "relation=mother,relation_name=Halima Yusuf",
            "--consent",
            "true",
            "--json",
        ],
    );
    let request = json(
        &b.dir,
        "brima",
        &[
            "tracing",
            "add",
            "--inquirer",
            "Halima Yusuf",
            "--relation",
            "mother",
            "--child",
            "name=Mohamed Yousef,sex=male,age=9,location_separation=JO-MA-ZAATARI",
            "--json",
        ],
    );

    // Kit A sends its case in 80-byte frames, one per request, and dies once the hub took a
    // fragment after the kit heard the acknowledgement of an earlier one.
    let (killed_tx, killed_rx) = mpsc::channel();
    let (dead_tx, dead_rx) = mpsc::channel();
    relay.state.lock().unwrap().kill_at = Some(Kill {
        kit: a.id,
        mtu: 80,
        killed: killed_tx,
        dead: dead_rx,
    });
    let log = root.path().join("kit-a-killed.log");
    let mut child = spawn_logged(
        &a.dir,
        "amina",
        &[
            "sync",
            "run",
            "--json",
            "--mtu",
            "80",
            "--frames",
            "1",
            "--retry-s",
            "1",
            "--give-up-after",
            "8",
        ],
        &log,
    );
    let waiting = std::time::Instant::now();
    loop {
        match killed_rx.recv_timeout(Duration::from_millis(200)) {
            Ok(()) => break,
            Err(mpsc::RecvTimeoutError::Timeout) => {
                if let Some(status) = child.try_wait().unwrap() {
                    let text = std::fs::read_to_string(&log).unwrap_or_default();
                    let tail: Vec<&str> = text.lines().rev().take(5).collect();
                    eprintln!("kit A's sync ended ({status}) before the kill point: {tail:?}");
                    assert!(lossy, "without loss the kill point is always reached");
                    return false;
                }
                if waiting.elapsed() > Duration::from_secs(300) {
                    let text = std::fs::read_to_string(&log).unwrap_or_default();
                    let tail: Vec<&str> = text.lines().rev().take(20).collect();
                    panic!("kit A neither reached the kill point nor ended in 300 s: {tail:?}");
                }
            }
            Err(e) => panic!("{e}"),
        }
    }
    child.kill().unwrap(); // SIGKILL: no handler runs, nothing is flushed
    let status = child.wait().unwrap();
    dead_tx.send(()).unwrap();
    assert!(!status.success());
    assert_eq!(
        std::os::unix::process::ExitStatusExt::signal(&status),
        Some(9)
    );

    // Started again: it resumes with the fragments the hub has not acknowledged.
    let resumed = sync(&a, "amina", lossy, &["--mtu", "80", "--frames", "1"]);
    let before = &resumed["resumed"];
    assert!(before["messages"].as_u64().unwrap() >= 1, "{resumed}");
    let acked = before["fragments_acknowledged"].as_u64().unwrap();
    let total = before["fragments"].as_u64().unwrap();
    assert!(acked >= 1 && acked < total, "{resumed}");

    // The hub matches the two once both records reach it: both kits fetch the notice.
    let case_id: fieldkit_domain::RecordId = case["id"].as_str().unwrap().parse().unwrap();
    let request_id = request["id"].as_str().unwrap();
    let shown = json(&b.dir, "brima", &["tracing", "show", request_id, "--json"]);
    let trace = fieldkit_app::TraceRef {
        tracing_request_id: request_id.parse().unwrap(),
        trace_id: first_trace_id(&shown)
            .unwrap_or_else(|| panic!("no trace in {shown}"))
            .to_string(),
    };
    let match_id = fieldkit_app::match_id(case_id, &trace).to_string();
    let review = ["trace", "review", "show", match_id.as_str(), "--json"];
    let mut passes = 0;
    let (mut on_a, mut on_b) = (None, None);
    while on_a.is_none() || on_b.is_none() {
        passes += 1;
        assert!(
            passes <= MAX_PASSES,
            "the notice did not reach both kits in {MAX_PASSES} passes"
        );
        sync(&b, "brima", lossy, &[]);
        sync(&a, "amina", lossy, &[]);
        on_a = try_json(&a.dir, "amina", &review);
        on_b = try_json(&b.dir, "brima", &review);
    }
    eprintln!(
        "notice on both kits after {passes} passes (loss {} %)",
        loss.percent
    );
    if !lossy {
        assert!(passes <= 2, "{passes} passes without loss");
    }

    // Both kits hold the same potential match (its id is derived from the pair), with its
    // explanation. (`trace review list` lists a pending match only when this kit holds both
    // records; each kit here holds one side, so the test reads the match by its id.)
    for shown in [on_a.unwrap(), on_b.unwrap()] {
        let text = shown.to_string();
        assert!(text.contains(case["id"].as_str().unwrap()), "{text}");
        // The explanation travelled with the notice: each kit holds one side only, so it
        // could not have scored the pair itself.
        let comparison = shown["potential_match"]["comparison"]
            .as_array()
            .cloned()
            .unwrap_or_default();
        assert!(
            comparison
                .iter()
                .any(|e| e["field"] == "name" && e["weight"].as_f64().is_some_and(|w| w > 0.0)),
            "no name evidence: {text}"
        );
        assert!(text.contains("pending"), "{text}");
    }
    // Nothing lost or duplicated on the kits: one case on A, one request on B, each once.
    let cases = json(&a.dir, "amina", &["case", "list", "--json"]);
    assert_eq!(cases.as_array().unwrap().len(), 1, "{cases}");
    let requests = json(&b.dir, "brima", &["tracing", "list", "--json"]);
    assert_eq!(requests.as_array().unwrap().len(), 1, "{requests}");

    // A decision on kit A reaches kit B through the hub.
    ok(
        &a.dir,
        "amina",
        &[
            "trace",
            "review",
            "reject",
            &match_id,
            "--note",
            "not the same boy",
        ],
    );
    let mut passes = 0;
    loop {
        passes += 1;
        assert!(
            passes <= MAX_PASSES,
            "the decision did not reach kit B in {MAX_PASSES} passes"
        );
        sync(&a, "amina", lossy, &[]);
        sync(&b, "brima", lossy, &[]);
        let text = json(&b.dir, "brima", &review).to_string();
        if text.contains("rejected") {
            assert!(text.contains("not the same boy"), "{text}");
            break;
        }
    }
    eprintln!(
        "decision on kit B after {passes} passes (loss {} %)",
        loss.percent
    );

    // No send counter was used twice, either way, across the kill and every restart.
    let g = relay.state.lock().unwrap();
    for (way, seen) in [("uplink", &g.counters), ("downlink", &g.downlink)] {
        for (kit, counters) in seen {
            let distinct: BTreeSet<u64> = counters.iter().copied().collect();
            assert_eq!(
                distinct.len(),
                counters.len(),
                "{way} of kit {kit}: {counters:?}"
            );
        }
    }
    eprintln!(
        "relay: {} requests, {} frames dropped, {} answers dropped",
        g.requests.values().sum::<u32>(),
        g.frames_dropped,
        g.answers_dropped
    );
    assert!(g.hub_failures.is_empty(), "{:?}", g.hub_failures);
    if lossy {
        // The loss happened, both ways.
        assert!(g.frames_dropped > 0 && g.answers_dropped > 0);
    }
    drop(g);
    drop(relay);
    hub.0.kill().unwrap();
    hub.0.wait().unwrap();
    // Nothing lost or duplicated at the hub either: one case, one request, one match.
    let status = json(&hub_dir, "coord", &["hub", "status", "--json"]);
    assert_eq!(
        (
            &status["cases"],
            &status["tracing_requests"],
            &status["potential_matches"]
        ),
        (&1.into(), &1.into(), &1.into()),
        "{status}"
    );
    true
}
