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
//! frames). It forwards every request to the hub, records each uplink frame's counter, and
//! is where the test chooses the moment of the kill.
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

use common::{spawn_on as spawn, start_hub};

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

/// What the relay saw and what it should do.
#[derive(Default)]
struct RelayState {
    upstream: Option<String>,
    /// Uplink counters per kit, in the order seen.
    counters: BTreeMap<KitId, Vec<u64>>,
    /// Requests per kit.
    requests: BTreeMap<KitId, u32>,
    /// Kill this kit when its request number N (from 1) has reached the hub.
    kill_at: Option<(KitId, u32, mpsc::Sender<()>, mpsc::Receiver<()>)>,
}

struct Relay {
    url: String,
    state: Arc<Mutex<RelayState>>,
    stop: Arc<AtomicBool>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Relay {
    fn start() -> Relay {
        let server = HubServer::bind("127.0.0.1:0").unwrap();
        let url = format!("http://{}", server.local_addr().unwrap());
        let state = Arc::new(Mutex::new(RelayState::default()));
        let stop = Arc::new(AtomicBool::new(false));
        let (s, st) = (Arc::clone(&state), Arc::clone(&stop));
        let thread = std::thread::spawn(move || {
            while !st.load(Ordering::SeqCst) {
                server
                    .serve_one(Duration::from_millis(50), |kit, frames| {
                        let upstream = {
                            let mut g = s.lock().unwrap();
                            let seen = g.counters.entry(kit).or_default();
                            for f in &frames {
                                seen.push(peek(f).unwrap().counter);
                            }
                            *g.requests.entry(kit).or_default() += 1;
                            g.upstream.clone().unwrap()
                        };
                        let link = HttpLink::new(&upstream, kit, Duration::from_secs(60));
                        let answer = link.exchange(&frames).unwrap();
                        let mut g = s.lock().unwrap();
                        let n = g.requests[&kit];
                        if g.kill_at.as_ref().is_some_and(|k| k.0 == kit && k.1 == n) {
                            let (_, _, killed, dead) = g.kill_at.take().unwrap();
                            drop(g);
                            // The hub holds these frames; the kit dies before it hears so.
                            killed.send(()).unwrap();
                            dead.recv().unwrap();
                        }
                        answer
                    })
                    .unwrap();
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

fn sync(kit: &Provisioned, user: &str, extra: &[&str]) -> serde_json::Value {
    let mut args = vec!["sync", "run", "--json", "--retry-s", "1"];
    args.extend_from_slice(extra);
    let r = json(&kit.dir, user, &args);
    assert_eq!(r["done"], true, "{r}");
    assert_eq!(r["frames_refused"], 0, "{r}");
    r
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

#[test]
fn reunion_with_a_kit_killed_mid_transfer_and_a_decision_through_the_hub() {
    let root = tempfile::tempdir().unwrap();
    let hub_dir = root.path().join("hub");
    ok(&hub_dir, "coord", &["hub", "init", "--user", "coord"]);
    let hub_pub = hub_dir.join("hub.pub");
    let relay = Relay::start();
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
    let (mut hub, hub_url) = start_hub(&hub_dir);
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

    // Kit A sends its case in 80-byte frames, one per request, and dies after the hub took
    // the third.
    let (killed_tx, killed_rx) = mpsc::channel();
    let (dead_tx, dead_rx) = mpsc::channel();
    relay.state.lock().unwrap().kill_at = Some((a.id, 3, killed_tx, dead_rx));
    let mut child = spawn(
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
        ],
    );
    killed_rx.recv_timeout(Duration::from_secs(300)).unwrap();
    child.kill().unwrap(); // SIGKILL: no handler runs, nothing is flushed
    let status = child.wait().unwrap();
    dead_tx.send(()).unwrap();
    assert!(!status.success());
    assert_eq!(
        std::os::unix::process::ExitStatusExt::signal(&status),
        Some(9)
    );

    // Started again: it resumes with the fragments the hub has not acknowledged.
    let resumed = sync(&a, "amina", &["--mtu", "80", "--frames", "1"]);
    let before = &resumed["resumed"];
    assert!(before["messages"].as_u64().unwrap() >= 1, "{resumed}");
    let acked = before["fragments_acknowledged"].as_u64().unwrap();
    let total = before["fragments"].as_u64().unwrap();
    assert!(acked >= 1 && acked < total, "{resumed}");
    sync(&b, "brima", &[]);
    // The hub matched the two: both kits fetch the notice.
    sync(&a, "amina", &[]);
    sync(&b, "brima", &[]);

    // Both kits hold the same potential match (its id is derived from the pair), with its
    // explanation. (`trace review list` lists a pending match only when this kit holds both
    // records; each kit here holds one side, so the test reads the match by its id.)
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
    for (k, user) in [(&a, "amina"), (&b, "brima")] {
        let shown = json(
            &k.dir,
            user,
            &["trace", "review", "show", &match_id, "--json"],
        );
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
    // Nothing lost or duplicated: one case on A, one request on B, each once.
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
    sync(&a, "amina", &[]);
    sync(&b, "brima", &[]);
    let on_b = json(
        &b.dir,
        "brima",
        &["trace", "review", "show", &match_id, "--json"],
    );
    let text = on_b.to_string();
    assert!(text.contains("rejected"), "{text}");
    assert!(text.contains("not the same boy"), "{text}");

    // No send counter was used twice, across the kill and every restart.
    let g = relay.state.lock().unwrap();
    for (kit, counters) in &g.counters {
        let distinct: BTreeSet<u64> = counters.iter().copied().collect();
        assert_eq!(distinct.len(), counters.len(), "kit {kit}: {counters:?}");
    }
    drop(g);
    hub.kill().unwrap();
    hub.wait().unwrap();
}
