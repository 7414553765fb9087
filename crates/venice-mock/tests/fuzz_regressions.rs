//! Replays the committed inputs of the `mock_request` fuzz target (seeds and minimised
//! crashers under `fuzz/regressions/mock_request/`) through the same entry point, so a
//! fixed finding stays fixed in CI without nightly or cargo-fuzz.
#![allow(clippy::unwrap_used, missing_docs)]

use std::path::PathBuf;

use venice_mock::__fuzz::{Outcome, check_request};

fn inputs() -> Vec<(String, Vec<u8>)> {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../fuzz/regressions/mock_request");
    let mut out: Vec<(String, Vec<u8>)> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|e| {
            let p = e.unwrap().path();
            (
                p.file_name().unwrap().to_string_lossy().into_owned(),
                std::fs::read(&p).unwrap(),
            )
        })
        .collect();
    out.sort();
    out
}

#[test]
fn every_committed_input_keeps_the_invariants() {
    let inputs = inputs();
    assert!(inputs.len() >= 10, "corpus missing");
    for (name, data) in &inputs {
        if let Err(broken) = check_request(data) {
            panic!("{name}: {broken}");
        }
    }
}

#[test]
fn the_harness_routes_authenticates_and_stops_at_the_charge() {
    let outcome = |name: &str| {
        let data = std::fs::read(
            PathBuf::from(env!("CARGO_MANIFEST_DIR"))
                .join("../../fuzz/regressions/mock_request")
                .join(name),
        )
        .unwrap();
        check_request(&data).unwrap().unwrap()
    };
    let op = Some("generateImage");
    // Valid key and body: validated, then refused at the charge (negative balance).
    assert_eq!(
        outcome("seed-generate"),
        Outcome {
            operation: op,
            status: 402
        }
    );
    assert_eq!(
        outcome("seed-generate-noauth"),
        Outcome {
            operation: op,
            status: 401
        }
    );
    assert_eq!(outcome("seed-models").status, 200);
    assert_eq!(
        outcome("seed-traversal"),
        Outcome {
            operation: None,
            status: 404
        }
    );
    assert_eq!(outcome("seed-method").status, 405);
    // Not a request hyper would pass on.
    assert_eq!(check_request(b"GET \x00 \n\n"), Ok(None));
}
