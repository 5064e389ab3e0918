//! A software TPM (`swtpm`, the one QEMU uses) in a process of its own, for tests and
//! benchmarks: started on free loopback ports with its state in a temporary directory, stopped
//! and removed when dropped. Each one is a fresh TPM with its own seeds, as a different kit's
//! chip would be.

use std::io;
use std::net::{Ipv4Addr, TcpListener, TcpStream};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use crate::device::Tpm;

/// A running swtpm. Dropping it stops the process and deletes its state.
#[derive(Debug)]
pub struct Swtpm {
    child: Child,
    port: u16,
    state: tempfile::TempDir,
}

/// Two adjacent free loopback ports (swtpm's server and control channels).
fn free_port_pair() -> io::Result<u16> {
    for _ in 0..50 {
        let a = TcpListener::bind((Ipv4Addr::LOCALHOST, 0))?;
        let port = a.local_addr()?.port();
        let Some(next) = port.checked_add(1) else {
            continue;
        };
        if TcpListener::bind((Ipv4Addr::LOCALHOST, next)).is_ok() {
            return Ok(port);
        }
    }
    Err(io::Error::new(
        io::ErrorKind::AddrInUse,
        "no two adjacent free loopback ports",
    ))
}

impl Swtpm {
    /// Starts a fresh software TPM, retrying on other ports if one was taken meanwhile.
    pub fn start() -> io::Result<Swtpm> {
        let state = tempfile::Builder::new()
            .prefix("fieldkit-swtpm-")
            .tempdir()?;
        let mut last = None;
        for _ in 0..5 {
            let port = free_port_pair()?;
            match Self::spawn(&state, port) {
                Ok(child) => return Ok(Swtpm { child, port, state }),
                Err(e) => last = Some(e),
            }
        }
        Err(last.unwrap_or_else(|| io::Error::other("swtpm did not start")))
    }

    fn spawn(state: &tempfile::TempDir, port: u16) -> io::Result<Child> {
        let mut child = Command::new("swtpm")
            .arg("socket")
            .arg("--tpm2")
            .arg("--server")
            .arg(format!("type=tcp,port={port},bindaddr=127.0.0.1"))
            .arg("--ctrl")
            .arg(format!("type=tcp,port={},bindaddr=127.0.0.1", port + 1))
            .arg("--tpmstate")
            .arg(format!("dir={}", state.path().display()))
            .arg("--flags")
            .arg("not-need-init,startup-clear")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .map_err(|e| {
                io::Error::new(
                    e.kind(),
                    format!("starting swtpm ({e}): install the swtpm and swtpm-tools packages"),
                )
            })?;
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            if let Some(status) = child.try_wait()? {
                return Err(io::Error::other(format!(
                    "swtpm exited at start ({status}): port {port} taken?"
                )));
            }
            if TcpStream::connect((Ipv4Addr::LOCALHOST, port + 1)).is_ok() {
                return Ok(child);
            }
            if Instant::now() > deadline {
                let _ = child.kill();
                let _ = child.wait();
                return Err(io::Error::new(
                    io::ErrorKind::TimedOut,
                    "swtpm did not open its ports within 10 s",
                ));
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// Its TCTI string, for [`Tpm::new`] or the configuration.
    pub fn tcti(&self) -> String {
        format!("swtpm:host=127.0.0.1,port={}", self.port)
    }

    /// A [`Tpm`] for it.
    pub fn tpm(&self) -> Result<Tpm, crate::TpmError> {
        Tpm::new(&self.tcti())
    }

    /// Where it keeps its state.
    pub fn state_dir(&self) -> &std::path::Path {
        self.state.path()
    }
}

impl Drop for Swtpm {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
