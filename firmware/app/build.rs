//! Gives the kit core `FIELDKIT_PROFILE_BUILD`: a digest of every source a matcher profile
//! depends on (the matcher, the domain, this crate, and `Cargo.lock` for the crates they use).
//! A snapshot of the warm index made by another build is not used (`src/snapshot.rs`), so
//! profiles a changed matcher would make differently are never mixed with new ones.
//!
//! The digest is 128 bits of two FNV-1a passes (no dependency needed; this tells builds
//! apart, it guards nothing against an attacker: the snapshot is sealed by the vault).

use std::path::{Path, PathBuf};

fn files(dir: &Path, out: &mut Vec<PathBuf>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for e in entries.flatten() {
        let p = e.path();
        if p.is_dir() {
            files(&p, out);
        } else if p
            .extension()
            .is_some_and(|x| x == "rs" || x == "toml" || x == "json")
        {
            out.push(p);
        }
    }
}

fn main() {
    let here = PathBuf::from(std::env::var_os("CARGO_MANIFEST_DIR").unwrap_or_default());
    let firmware = here.parent().map(Path::to_path_buf).unwrap_or_default();
    let roots = [
        firmware.join("matcher").join("src"),
        firmware.join("matcher").join("rules"),
        firmware.join("domain").join("src"),
        here.join("src"),
    ];
    let mut all = Vec::new();
    for r in &roots {
        println!("cargo:rerun-if-changed={}", r.display());
        files(r, &mut all);
    }
    if let Some(lock) = firmware.parent().map(|w| w.join("Cargo.lock")) {
        println!("cargo:rerun-if-changed={}", lock.display());
        all.push(lock);
    }
    all.sort();
    let (mut a, mut b) = (0xcbf2_9ce4_8422_2325_u64, 0x8422_2325_cbf2_9ce4_u64);
    for p in &all {
        let rel = p.strip_prefix(&firmware).unwrap_or(p);
        let bytes = std::fs::read(p).unwrap_or_default();
        for byte in rel.to_string_lossy().bytes().chain([0]).chain(bytes) {
            a = (a ^ u64::from(byte)).wrapping_mul(0x0100_0000_01b3);
            b = (b ^ u64::from(byte)).wrapping_mul(0x9e37_79b9_7f4a_7c15);
        }
    }
    println!("cargo:rustc-env=FIELDKIT_PROFILE_BUILD={a:016x}{b:016x}");
}
