//! `fieldkit case photo add|list|export|remove`: the simulated camera's test picture and a
//! file attached, listed, exported to a new 0600 file and attached again, removed; a file that
//! is not a picture and a camera that is not there are clear errors; nothing of a photo is in
//! the data directory in the clear.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::os::unix::fs::PermissionsExt;

mod common;

use common::Kit;

#[test]
fn photos_through_the_command_line() {
    let kit = Kit::new();
    let id = kit.add_case("Amina Yusuf", "female", "9", &[]);

    // The simulated camera: a YUYV test picture, converted, normalised, sealed.
    let added = kit.json(&["case", "photo", "add", &id, "--test-picture", "--json"]);
    assert_eq!(added["photo"]["slot"], 1);
    assert_eq!(added["photo"]["width"], 1280);
    assert_eq!(added["photo"]["height"], 720);
    assert_eq!(added["photo"]["media_type"], "image/jpeg");

    // Exported to a new file, owner-only, a JPEG; never over an existing file.
    let out = kit.tmp().join("amina-1.jpg");
    let said = kit.ok(&[
        "case",
        "photo",
        "export",
        &id,
        "1",
        "--out",
        out.to_str().unwrap(),
    ]);
    assert!(said.contains("in the clear"), "{said}");
    let jpeg = std::fs::read(&out).unwrap();
    assert_eq!(&jpeg[..3], &[0xFF, 0xD8, 0xFF]);
    assert_eq!(
        std::fs::metadata(&out).unwrap().permissions().mode() & 0o777,
        0o600
    );
    let err = kit.fails(&[
        "case",
        "photo",
        "export",
        &id,
        "1",
        "--out",
        out.to_str().unwrap(),
    ]);
    assert!(err.contains("must not exist"), "{err}");

    // The exported file attached again, as a file.
    let again = kit.json(&[
        "case",
        "photo",
        "add",
        &id,
        "--file",
        out.to_str().unwrap(),
        "--json",
    ]);
    assert_eq!(again["photo"]["slot"], 2);
    let list = kit.json(&["case", "photo", "list", &id, "--json"]);
    let slots: Vec<u64> = list["photos"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["slot"].as_u64().unwrap())
        .collect();
    assert_eq!(slots, [1, 2]);
    let text = kit.ok(&["case", "photo", "list", &id]);
    assert!(
        text.contains("1280×720") && text.contains("by amina"),
        "{text}"
    );

    // Nothing of the photo is in the data directory in the clear.
    let vault_bytes: Vec<u8> = std::fs::read_dir(kit.data())
        .unwrap()
        .flat_map(|e| std::fs::read(e.unwrap().path()).unwrap_or_default())
        .collect();
    for at in (jpeg.len() / 4..jpeg.len() - 32).step_by(jpeg.len() / 20) {
        let w = &jpeg[at..at + 32];
        assert!(
            !vault_bytes.windows(32).any(|v| v == w),
            "photo bytes in the clear"
        );
    }

    // Removed; the audit says so.
    assert!(
        kit.ok(&["case", "photo", "remove", &id, "1"])
            .contains("removed")
    );
    let list = kit.json(&["case", "photo", "list", &id, "--json"]);
    assert_eq!(list["photos"].as_array().unwrap().len(), 1);
    let audit = kit.ok(&["audit", "list"]);
    for want in ["photo 1 attached", "photo 1 opened", "photo 1 removed"] {
        assert!(audit.contains(want), "{want} not in the audit:\n{audit}");
    }

    // A file that is not a picture, a missing slot, a camera that is not there.
    let not = kit.file("notes.txt", "the child was found near the water point");
    let err = kit.fails(&["case", "photo", "add", &id, "--file", not.to_str().unwrap()]);
    assert!(err.contains("not a JPEG or PNG picture"), "{err}");
    let err = kit.fails(&["case", "photo", "remove", &id, "7"]);
    assert!(err.contains("no photo 7"), "{err}");
    let config = kit.file(
        "fieldkit.toml",
        "[kiosk]\ncamera = \"/dev/fieldkit-no-camera\"\n",
    );
    let out = kit
        .command()
        .args(["--config", config.to_str().unwrap(), "--pin-stdin"])
        .args(["case", "photo", "add", &id, "--camera"])
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = common::text(&out.stderr);
    assert!(
        err.contains("/dev/fieldkit-no-camera could not be opened"),
        "{err}"
    );
}
