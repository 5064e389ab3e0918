//! What the process does to itself before it touches a secret: no core dumps (a dump of a
//! signed-in process would hold keys, PINs and decrypted case data), files private by default,
//! and PINs read from standard input without leaving a copy in a buffer.

use std::io::Read;
use std::os::fd::AsFd;

use anyhow::{Context, bail};
use rustix::process::{DumpableBehavior, Resource, Rlimit};
use zeroize::{Zeroize, Zeroizing};

/// Longest line accepted as a PIN or passphrase (and as a recovery key typed back in).
const MAX_SECRET_LINE: usize = 1024;

/// Disables core dumps (`RLIMIT_CORE` 0, soft and hard, and `PR_SET_DUMPABLE` 0, which also
/// keeps other processes of the same user from attaching to this one) and sets the umask to
/// 077, so every file fieldkit creates is readable by its own user only.
pub fn harden_process() -> anyhow::Result<()> {
    rustix::process::setrlimit(
        Resource::Core,
        Rlimit {
            current: Some(0),
            maximum: Some(0),
        },
    )
    .context("disabling core dumps (RLIMIT_CORE)")?;
    rustix::process::set_dumpable_behavior(DumpableBehavior::NotDumpable)
        .context("disabling core dumps (PR_SET_DUMPABLE)")?;
    rustix::process::umask(rustix::fs::Mode::from_raw_mode(0o077));
    Ok(())
}

/// Reads one line from standard input, byte by byte from the file descriptor, bypassing the
/// standard library's 8 KiB input buffer (which would keep the PIN, and never wipe it, until
/// the process ends). Reads nothing past the newline, so the next line stays for whoever reads
/// next. `None` at the end of input.
pub fn read_secret_line() -> anyhow::Result<Option<Zeroizing<String>>> {
    let fd = std::io::stdin()
        .as_fd()
        .try_clone_to_owned()
        .context("reading standard input")?;
    read_secret_line_from(&std::fs::File::from(fd), "standard input")
}

/// [`read_secret_line`] from an open file (`--pin-fd`, `--pin-file`); `what` names it in
/// messages. Reads from the file's current position and leaves it after the newline.
pub fn read_secret_line_from(
    mut input: &std::fs::File,
    what: &str,
) -> anyhow::Result<Option<Zeroizing<String>>> {
    let mut line = Zeroizing::new(Vec::with_capacity(MAX_SECRET_LINE));
    let mut byte = [0u8; 1];
    let result = loop {
        match input.read(&mut byte) {
            Ok(0) if line.is_empty() => break Ok(false),
            Ok(0) => break Ok(true),
            Ok(_) if byte[0] == b'\n' => break Ok(true),
            Ok(_) if line.len() == MAX_SECRET_LINE => {
                break Err(anyhow::anyhow!(
                    "a line on {what} is longer than {MAX_SECRET_LINE} bytes"
                ));
            }
            Ok(_) => line.push(byte[0]),
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) => break Err(e).with_context(|| format!("reading {what}")),
        }
    };
    byte.zeroize();
    if !result? {
        return Ok(None);
    }
    if line.last() == Some(&b'\r') {
        line.pop();
    }
    match std::str::from_utf8(&line) {
        Ok(text) => Ok(Some(Zeroizing::new(text.to_string()))),
        Err(_) => bail!("the PIN on {what} is not UTF-8 text"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hardening_disables_core_dumps_and_private_files() {
        harden_process().unwrap();
        let core = rustix::process::getrlimit(Resource::Core);
        assert_eq!(core.current, Some(0));
        assert_eq!(core.maximum, Some(0));
        assert_eq!(
            rustix::process::dumpable_behavior().unwrap(),
            DumpableBehavior::NotDumpable
        );
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("f");
        std::fs::write(&p, b"x").unwrap();
        use std::os::unix::fs::PermissionsExt;
        assert_eq!(
            std::fs::metadata(&p).unwrap().permissions().mode() & 0o777,
            0o600
        );
    }
}
