//! The kiosk under a service manager: `fieldkit kiosk` speaks systemd's notify protocol on the
//! datagram socket named by `NOTIFY_SOCKET`, as `Type=notify` with `WatchdogSec` in the image's
//! unit expects. The socket here is a real Unix datagram socket, read the way systemd reads it.

use std::os::unix::net::UnixDatagram;
use std::process::{Command, Stdio};
use std::time::Duration;

#[test]
fn the_kiosk_reports_ready_pings_the_watchdog_and_says_when_it_stops() {
    let dir = tempfile::tempdir().unwrap();
    let socket_path = dir.path().join("notify.sock");
    let socket = UnixDatagram::bind(&socket_path).unwrap();
    socket
        .set_read_timeout(Some(Duration::from_millis(200)))
        .unwrap();

    // Three simulated hours at 3600x: about three seconds, one decision every ~17 ms; the
    // watchdog period of 200 ms asks for a ping at least every 100 ms.
    let mut child = Command::new(env!("CARGO_BIN_EXE_fieldkit"))
        .arg("--data-dir")
        .arg(dir.path().join("data"))
        .args(["kiosk", "--simulate", "--speed", "3600", "--hours", "3"])
        .env("NOTIFY_SOCKET", &socket_path)
        .env("WATCHDOG_USEC", "200000")
        .env_remove("WATCHDOG_PID")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();

    let mut messages = Vec::new();
    let mut buf = [0u8; 4096];
    let status = loop {
        match socket.recv(&mut buf) {
            Ok(n) => messages.push(String::from_utf8_lossy(&buf[..n]).into_owned()),
            Err(_) => {
                if let Some(status) = child.try_wait().unwrap() {
                    // Drain what arrived between the last read and the exit.
                    while let Ok(n) = socket.recv(&mut buf) {
                        messages.push(String::from_utf8_lossy(&buf[..n]).into_owned());
                    }
                    break status;
                }
            }
        }
    };
    assert!(status.success(), "kiosk exited with {status}");

    let first = messages.first().expect("no notification at all");
    assert!(first.lines().any(|l| l == "READY=1"), "{messages:?}");
    assert!(
        first.lines().any(|l| l.starts_with("STATUS=power mode ")),
        "{messages:?}"
    );
    let pings = messages
        .iter()
        .filter(|m| m.lines().any(|l| l == "WATCHDOG=1"))
        .count();
    assert!(pings >= 5, "only {pings} watchdog pings in {messages:?}");
    let last = messages.last().unwrap();
    assert!(last.lines().any(|l| l == "STOPPING=1"), "{messages:?}");
    assert_eq!(
        messages.iter().filter(|m| m.contains("READY=1")).count(),
        1,
        "READY is sent once: {messages:?}"
    );
}
