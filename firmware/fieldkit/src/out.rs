//! Standard output and standard error for every command, without panics.
//!
//! The standard library's `println!` panics when a write fails, so `fieldkit case list | head`
//! died with "failed printing to stdout: Broken pipe" and exit 101. The crate root shadows
//! `println!`, `print!`, `eprintln!` and `eprint!` with the macros below, so every command
//! writes through here without knowing it: the first failed write to standard output is
//! remembered and everything printed after it is dropped, the command runs to its normal end
//! (so the vault is closed cleanly and secrets are wiped by their destructors), and `main` then
//! exits quietly on a closed pipe, or names any other write error (a full disk under `>`).
//! Nothing here exits the process from the middle of a command.

use std::fmt;
use std::io::{self, Write};
use std::sync::Mutex;

/// The first error writing to standard output, if any.
static STDOUT_FAILED: Mutex<Option<io::Error>> = Mutex::new(None);

fn failed() -> std::sync::MutexGuard<'static, Option<io::Error>> {
    STDOUT_FAILED
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// True once standard output is gone (its reader closed the pipe, or a write failed): long
/// listings may stop early.
pub fn closed() -> bool {
    failed().is_some()
}

/// Writes to standard output, with a newline when `newline`; a failure is remembered, never
/// raised.
pub fn stdout(args: fmt::Arguments<'_>, newline: bool) {
    if closed() {
        return;
    }
    let mut out = io::stdout().lock();
    let result = out.write_fmt(args).and_then(|()| {
        if newline {
            out.write_all(b"\n")
        } else {
            Ok(())
        }
    });
    if let Err(e) = result {
        failed().get_or_insert(e);
    }
}

/// Writes to standard error; a failure is ignored (there is nowhere left to say so).
pub fn stderr(args: fmt::Arguments<'_>, newline: bool) {
    let mut err = io::stderr().lock();
    let _ = err.write_fmt(args).and_then(|()| {
        if newline {
            err.write_all(b"\n")
        } else {
            Ok(())
        }
    });
}

/// How standard output ended, after the command: flushed, or the first write error.
pub fn finish() -> Result<(), io::Error> {
    let mut slot = failed();
    if slot.is_none()
        && let Err(e) = io::stdout().lock().flush()
    {
        *slot = Some(e);
    }
    match slot.take() {
        None => Ok(()),
        Some(e) => {
            // Keep later writes (none are expected) from trying again.
            *slot = Some(io::Error::new(e.kind(), "standard output closed"));
            Err(e)
        }
    }
}

/// True for the error a write gets when the reader went away (`| head`, `| less` quit).
pub fn is_closed_pipe(e: &io::Error) -> bool {
    e.kind() == io::ErrorKind::BrokenPipe
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_broken_pipe_is_recognised_and_other_errors_are_not() {
        assert!(is_closed_pipe(&io::Error::from(io::ErrorKind::BrokenPipe)));
        assert!(!is_closed_pipe(&io::Error::from(
            io::ErrorKind::StorageFull
        )));
    }
}
