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
//!
//! Control characters are never written raw (issue 9): a name or a note holding a tab, a
//! carriage return or a terminal escape code (from an old vault, another kit, a Primero file
//! given to `trace match`) would break tables or drive the reader's terminal. Every line
//! printed through here shows them escaped (`\t`, `\u{1b}`); only line breaks pass. JSON
//! output is unchanged by this: serde_json already escapes them.

use std::fmt;
use std::io::{self, Write};
use std::sync::Mutex;

use zeroize::Zeroizing;

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
    let text = safe(args);
    let mut out = io::stdout().lock();
    let result = out.write_all(text.as_bytes()).and_then(|()| {
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
    let text = safe(args);
    let mut err = io::stderr().lock();
    let _ = err.write_all(text.as_bytes()).and_then(|()| {
        if newline {
            err.write_all(b"\n")
        } else {
            Ok(())
        }
    });
}

/// The text to print, with every control character but the line break escaped. Often
/// decrypted case data: wiped when dropped.
fn safe(args: fmt::Arguments<'_>) -> Zeroizing<String> {
    let mut text = Zeroizing::new(String::new());
    // Formatting into a String fails only if a Display impl fails; print what was made.
    let _ = fmt::write(&mut *text, args);
    if text.chars().any(is_unsafe) {
        let mut clean = Zeroizing::new(String::with_capacity(text.len() + 16));
        for c in text.chars() {
            if is_unsafe(c) {
                clean.extend(c.escape_default());
            } else {
                clean.push(c);
            }
        }
        return clean;
    }
    text
}

fn is_unsafe(c: char) -> bool {
    c.is_control() && c != '\n'
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

/// A count and its noun: "1 field", "3 fields", "0 records".
pub fn plural(n: u64, one: &str, many: &str) -> String {
    format!("{n} {}", if n == 1 { one } else { many })
}

/// True for the error a write gets when the reader went away (`| head`, `| less` quit).
pub fn is_closed_pipe(e: &io::Error) -> bool {
    e.kind() == io::ErrorKind::BrokenPipe
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn control_characters_are_escaped_and_line_breaks_kept() {
        let name = "Ami\u{1b}[2Jna\tYusuf\r";
        assert_eq!(
            safe(format_args!("{name}\nnext")).as_str(),
            "Ami\\u{1b}[2Jna\\tYusuf\\r\nnext"
        );
        assert_eq!(safe(format_args!("plain")).as_str(), "plain");
        // C1 controls (0x9b is a one-byte escape on some terminals) too.
        assert_eq!(safe(format_args!("a\u{9b}b")).as_str(), "a\\u{9b}b");
    }

    #[test]
    fn a_broken_pipe_is_recognised_and_other_errors_are_not() {
        assert!(is_closed_pipe(&io::Error::from(io::ErrorKind::BrokenPipe)));
        assert!(!is_closed_pipe(&io::Error::from(
            io::ErrorKind::StorageFull
        )));
    }
}
