//! Cached values (`Session::write_cache_with`, `read_cache`): chunks come back in the order
//! they were handed over, a value written in pieces replaces the old one only when its writer
//! finishes, and a writer that fails leaves the old value whole.
#![allow(clippy::unwrap_used)]

use fieldkit_vault::{Session, WriteError};

mod common;

use common::init;

fn read(s: &Session, name: &str) -> Option<Vec<Vec<u8>>> {
    let mut got = Vec::new();
    let whole = s
        .read_cache(name, |c| {
            got.push(c.to_vec());
            true
        })
        .unwrap();
    whole.then_some(got)
}

fn chunk(i: u8, len: usize) -> Vec<u8> {
    (0..len)
        .map(|j| i.wrapping_mul(31).wrapping_add(j as u8))
        .collect()
}

#[test]
fn chunks_written_one_by_one_come_back_in_order() {
    let dir = tempfile::tempdir().unwrap();
    let mut s = init(dir.path());
    assert_eq!(read(&s, "index"), None);
    let want: Vec<Vec<u8>> = (0..5).map(|i| chunk(i, 70_000 + usize::from(i))).collect();
    s.write_cache_with("index", |w| {
        for c in &want {
            w.chunk(c)?;
        }
        Ok(())
    })
    .unwrap();
    assert_eq!(read(&s, "index").as_ref(), Some(&want));

    // A shorter value replaces it whole: no chunk of the longer one is read after it.
    s.write_cache("index", &want[..2]).unwrap();
    assert_eq!(read(&s, "index").as_deref(), Some(&want[..2]));
    // An empty value is present and empty.
    s.write_cache_with("index", |_| Ok(())).unwrap();
    assert_eq!(read(&s, "index"), Some(Vec::new()));
}

#[test]
fn a_writer_that_fails_leaves_the_old_value() {
    let dir = tempfile::tempdir().unwrap();
    let mut s = init(dir.path());
    let old = vec![chunk(1, 1000), chunk(2, 1000)];
    s.write_cache("index", &old).unwrap();
    let err = s
        .write_cache_with("index", |w| {
            w.chunk(&chunk(9, 5000))?;
            w.chunk(&chunk(8, 5000))?;
            Err(WriteError::BadChange("the writer gave up".into()))
        })
        .unwrap_err();
    assert!(err.to_string().contains("the writer gave up"), "{err}");
    assert_eq!(read(&s, "index"), Some(old));
    // Other values are apart.
    assert_eq!(read(&s, "terms"), None);
}
