//! `fieldkit recover` and `fieldkit caseworker remove` as a technician uses them (issue 8,
//! findings 5 and 10): the recovery key gives a caseworker a new PIN after a wipe, and a
//! removed caseworker can no longer sign in.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::process::Output;

mod common;

use common::{Kit, PIN};

fn ok(out: &Output) -> String {
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

#[test]
fn the_recovery_key_sets_a_new_pin_and_removed_caseworkers_are_gone() {
    let kit = Kit::empty("warn");
    let run = |user: &str, args: &[&str], stdin: &[&str]| kit.run_as(user, args, stdin);
    let init = ok(&run("amina", &["init"], &[PIN]));
    let words = init
        .lines()
        .map(str::trim)
        .find(|l| l.len() == 69 && l.matches('-').count() == 13)
        .expect("the recovery key is printed")
        .to_string();
    ok(&run(
        "amina",
        &["caseworker", "add", "yusuf"],
        &[PIN, "731905"],
    ));
    // Amina forgot her PIN: the recovery key gives her a new one.
    let out = ok(&run("amina", &["recover"], &[&words, "640271"]));
    assert!(out.contains("PIN set for amina"), "{out}");
    assert!(!run("amina", &["case", "list"], &[PIN]).status.success());
    ok(&run("amina", &["case", "list"], &["640271"]));
    // A wrong recovery key opens nothing.
    let mut wrong = words.clone();
    wrong.replace_range(
        0..4,
        if wrong.starts_with("AAAA") {
            "BBBB"
        } else {
            "AAAA"
        },
    );
    assert!(
        !run("amina", &["recover"], &[&wrong, "640271"])
            .status
            .success()
    );
    // Yusuf is removed; his PIN no longer signs in.
    ok(&run(
        "amina",
        &["caseworker", "remove", "yusuf"],
        &["640271"],
    ));
    assert!(
        !run("yusuf", &["case", "list"], &["731905"])
            .status
            .success()
    );
    let list = ok(&run(
        "amina",
        &["caseworker", "list", "--json"],
        &["640271"],
    ));
    assert!(!list.contains("yusuf"), "{list}");
}
