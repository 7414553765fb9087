//! The packaged copies (the spec inside venice-mock, the license files) are written by
//! `generate` and a drifted copy is reported by `check`.
#![allow(clippy::unwrap_used, missing_docs)]

use xtask::copies;

#[test]
fn a_drifted_copy_is_stale_until_synced() {
    let root = tempfile::tempdir().unwrap();
    let r = root.path();
    std::fs::create_dir_all(r.join("openapi")).unwrap();
    std::fs::write(r.join("openapi/venice-image.yaml"), "openapi: 3.0.3\n").unwrap();
    std::fs::write(r.join("LICENSE-MIT"), "mit").unwrap();
    std::fs::write(r.join("LICENSE-APACHE"), "apache").unwrap();
    let all = copies::pairs().len();
    assert_eq!(copies::stale(r).unwrap().len(), all, "nothing copied yet");
    assert_eq!(copies::sync(r).unwrap().len(), all);
    assert!(copies::stale(r).unwrap().is_empty());
    // The spec changes but its copy in the mock's package does not: check fails.
    std::fs::write(
        r.join("openapi/venice-image.yaml"),
        "openapi: 3.0.3\n# new\n",
    )
    .unwrap();
    let stale = copies::stale(r).unwrap();
    assert_eq!(stale.len(), 1);
    assert!(
        stale[0].starts_with("crates/venice-mock/openapi/venice-image.yaml"),
        "{stale:?}"
    );
    assert_eq!(
        copies::sync(r).unwrap(),
        vec!["crates/venice-mock/openapi/venice-image.yaml".to_owned()]
    );
    assert_eq!(
        std::fs::read_to_string(r.join("crates/venice-mock/openapi/venice-image.yaml")).unwrap(),
        "openapi: 3.0.3\n# new\n"
    );
}

#[test]
fn the_real_copies_are_current() {
    assert!(
        copies::stale(&xtask::workspace_root()).unwrap().is_empty(),
        "run `cargo xtask generate`"
    );
}
