//! `fieldkit export` and `fieldkit import`: an encrypted bundle (backup, or between kits of one
//! vault), or Primero API v2 JSON (`[{"data": {...}}, ...]`, Primero's field names).

use std::io::{Read, Seek, Write};
use std::path::{Path, PathBuf};

use anyhow::{Context, bail};

use fieldkit_domain::{RecordKind, primero};

use super::{Ctx, now_ms};

/// File formats.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Format {
    /// An encrypted bundle that only this vault opens.
    Bundle,
    /// Primero API v2 JSON, in the clear.
    Primero,
}

/// Record kinds on the command line.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum KindArg {
    /// Cases.
    Case,
    /// Tracing requests.
    TracingRequest,
    /// GBV incidents.
    Incident,
}

impl From<KindArg> for RecordKind {
    fn from(k: KindArg) -> RecordKind {
        match k {
            KindArg::Case => RecordKind::Case,
            KindArg::TracingRequest => RecordKind::TracingRequest,
            KindArg::Incident => RecordKind::Incident,
        }
    }
}

/// Arguments of `export`.
#[derive(Debug, clap::Args)]
pub struct ExportArgs {
    /// Where to write (`-` for standard output, Primero JSON only).
    #[arg(long)]
    pub to: PathBuf,
    /// Bundle (encrypted) or Primero JSON (plaintext: handle with care).
    #[arg(long, value_enum, default_value = "bundle")]
    pub format: Format,
    /// With Primero JSON: which kind of record.
    #[arg(long, value_enum, default_value = "case")]
    pub kind: KindArg,
}

/// Arguments of `import`.
#[derive(Debug, clap::Args)]
pub struct ImportArgs {
    /// The file to read.
    pub file: PathBuf,
    /// The file's format (a bundle is recognised by its header when left out).
    #[arg(long, value_enum)]
    pub format: Option<Format>,
    /// With Primero JSON: which kind of record the file holds.
    #[arg(long, value_enum, default_value = "case")]
    pub kind: KindArg,
}

/// Writes a file in one piece: to a temporary file beside it, fsynced, then renamed, so a power
/// cut leaves the old file or the new one, never half of one. The temporary file has a random
/// name and is created exclusively with mode 600 (a link planted under any name is never
/// followed), it is removed if anything fails, and the rename replaces a link at `path` instead
/// of writing through it.
fn write_atomically(path: &Path, bytes: &[u8]) -> anyhow::Result<()> {
    write_atomically_with(path, |out| Ok(out.write_all(bytes)?))
}

/// [`write_atomically`], with what is written streamed by `write` (a bundle of a large vault
/// is never held whole in memory).
fn write_atomically_with<T>(
    path: &Path,
    write: impl FnOnce(&mut dyn Write) -> anyhow::Result<T>,
) -> anyhow::Result<T> {
    let dir = path
        .parent()
        .filter(|d| !d.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    path.file_name()
        .context("the output path has no file name")?;
    let mut tmp = tempfile::Builder::new()
        .prefix(".fieldkit-export-")
        .suffix(".partial")
        .tempfile_in(dir)
        .with_context(|| format!("creating a temporary file in {}", dir.display()))?;
    let written = {
        let mut out = std::io::BufWriter::new(tmp.as_file_mut());
        let written = write(&mut out)?;
        out.flush()?;
        written
    };
    tmp.as_file()
        .sync_all()
        .with_context(|| format!("writing {}", tmp.path().display()))?;
    // On failure the temporary file comes back inside the error and is removed when dropped.
    tmp.persist(path)
        .map_err(|e| e.error)
        .with_context(|| format!("renaming to {}", path.display()))?;
    if let Ok(d) = std::fs::File::open(dir) {
        let _ = d.sync_all();
    }
    Ok(written)
}

/// Says so when an export is about to replace a file (a backup, or an earlier export).
fn warn_if_replacing(path: &Path) {
    if let Ok(meta) = std::fs::symlink_metadata(path) {
        eprintln!(
            "warning: {} exists ({} bytes, {}): it is replaced",
            path.display(),
            meta.len(),
            if meta.file_type().is_symlink() {
                "a link; the link itself is replaced, not its target"
            } else {
                "the old content is lost"
            }
        );
    }
}

/// Runs `export`.
pub fn export(ctx: &Ctx, a: ExportArgs) -> anyhow::Result<()> {
    let to_stdout = a.to.as_os_str() == "-";
    if !to_stdout {
        // Before the PIN is asked, so the caseworker can still stop.
        warn_if_replacing(&a.to);
    }
    let mut s = ctx.session()?;
    let now = now_ms();
    match a.format {
        Format::Bundle => {
            if a.to.as_os_str() == "-" {
                bail!("a bundle is binary: give a file with --to");
            }
            // Streamed to the file: a chunk of records or one photo in memory at a time.
            let written = write_atomically_with(&a.to, |out| Ok(s.export_bundle_to(out, now)?))?;
            eprintln!(
                "bundle written to {} ({} records, {} photos, {} bytes)",
                a.to.display(),
                written.records,
                written.photos,
                written.bytes
            );
        }
        Format::Primero => {
            let kind = RecordKind::from(a.kind);
            // Each record as its document holds it: only its fields, with Primero's values.
            let list = s.all_primero(kind, now)?;
            // Plaintext case data: wiped from memory when written.
            let text = zeroize::Zeroizing::new(serde_json::to_string_pretty(&list)?);
            s.audit_plain_export(list.len(), "primero-json", now)?;
            if to_stdout {
                eprintln!(
                    "warning: {} {kind} records written IN THE CLEAR to standard output: \
                     nothing protects them in a pipe, a terminal's scrollback or a file it is \
                     redirected to",
                    list.len()
                );
                println!("{}", text.as_str());
            } else {
                write_atomically(&a.to, text.as_bytes())?;
                eprintln!(
                    "{} {kind} records written IN THE CLEAR to {}: move it only to an encrypted disk, and delete it after use",
                    list.len(),
                    a.to.display()
                );
            }
        }
    }
    Ok(())
}

/// Runs `import`.
pub fn import(ctx: &Ctx, a: ImportArgs) -> anyhow::Result<()> {
    let reading = || format!("reading {}", a.file.display());
    let mut file = std::fs::File::open(&a.file).with_context(reading)?;
    let format = match a.format {
        Some(f) => f,
        None => {
            // A bundle is read as a stream (it may hold every photo of the kit); only its
            // first bytes say what the file is.
            let mut magic = Vec::with_capacity(8);
            std::io::Read::by_ref(&mut file)
                .take(8)
                .read_to_end(&mut magic)
                .with_context(reading)?;
            if magic == b"FKBUNDLE" {
                Format::Bundle
            } else {
                Format::Primero
            }
        }
    };
    // Through the kit: what is imported is triaged and matched like a registration.
    let mut kit = ctx.kit()?;
    let progress =
        crate::progress::Progress::spinner(&format!("importing {}", a.file.display()), false);
    let now = now_ms();
    match format {
        Format::Bundle => {
            file.seek(std::io::SeekFrom::Start(0))
                .with_context(reading)?;
            let merged = kit.import_bundle_from(std::io::BufReader::new(file), now)?;
            progress.finish();
            println!(
                "bundle merged: {} records new or changed, {} photos put back",
                merged.changed, merged.photos
            );
            print_merged(&merged);
        }
        Format::Primero => {
            let bytes = std::fs::read(&a.file).with_context(reading)?;
            let text = std::str::from_utf8(&bytes)
                .with_context(|| format!("{}: not UTF-8 text", a.file.display()))?;
            let kind = RecordKind::from(a.kind);
            // Records with fields of the wrong type are named with every other problem the
            // import finds, once the vault can check the rest as they will be saved.
            let file = match primero::read_all(text, kind) {
                Ok(r) => r,
                Err(e) => {
                    let hint = match &e {
                        primero::PrimeroError::WrongKind { found, .. } => format!(
                            " (to import them, give --kind {})",
                            found.as_str().replace('_', "-")
                        ),
                        _ => String::new(),
                    };
                    bail!("{}: {e}{hint}", a.file.display());
                }
            };
            progress.say(&format!(
                "saving, triaging and matching {} records",
                file.records.len()
            ));
            // Each record is counted twice, once checked and once triaged and matched.
            let merged = kit
                .import_primero_file(&file, now, &mut |done, total| {
                    progress.set(done as u64, total as u64);
                })
                .with_context(|| format!("importing {}", a.file.display()))?;
            progress.finish();
            println!(
                "{} {kind} records read, {} new or changed",
                file.records.len(),
                merged.changed
            );
            print_merged(&merged);
        }
    }
    Ok(())
}

/// What an import raised: urgent alerts and potential matches to review.
fn print_merged(merged: &fieldkit_app::Merged) {
    let urgent = merged
        .alerts
        .iter()
        .filter(|a| matches!(a, fieldkit_app::Alert::Urgent(_)))
        .count();
    if urgent > 0 {
        println!("{urgent} URGENT ALERTS raised (risk triage): see `fieldkit case list`");
    }
    if !merged.matches.is_empty() {
        println!(
            "{} potential matches saved for review: `fieldkit trace review list`",
            merged.matches.len()
        );
    }
}
