//! Replays the committed inputs of the `decode_generation` and `error_decoder` fuzz
//! targets (seeds and minimised crashers under `fuzz/regressions/`) through the same
//! entry points and checks the same properties (the targets' own `fuzz/checks/facade.rs`),
//! so fixed findings stay fixed in CI.
#![allow(clippy::unwrap_used, missing_docs)]

#[path = "../../../fuzz/checks/facade.rs"]
mod checks;

fn inputs(target: &str) -> Vec<(String, Vec<u8>)> {
    let out = contract_tests::fuzz_regressions(target)
        .unwrap_or_else(|e| panic!("fuzz/regressions/{target}: {e}"));
    assert!(out.len() >= 5, "{target} corpus missing");
    out
}

#[test]
fn decode_generation_inputs() {
    let mut decoded = 0;
    for (name, data) in inputs("decode_generation") {
        // Same layout and properties as the fuzz target: chunked == one piece ==
        // reference, never more image bytes than body bytes.
        match checks::check_generation_chunks(&data) {
            Err(violation) => panic!("{name}: {violation}"),
            Ok(Ok(_)) => decoded += 1,
            Ok(Err(_)) => {}
        }
    }
    assert!(
        decoded >= 8,
        "the valid seeds decode, in one piece and in chunks"
    );
}

#[test]
fn error_decoder_inputs() {
    for (name, data) in inputs("error_decoder") {
        let err = checks::error_input(&data);
        if let Some(api) = err.api_error() {
            assert!(
                api.body_excerpt().len() <= venice_image::limits::MAX_ERROR_BODY_EXCERPT,
                "{name}"
            );
        }
    }
    // The 402 seed decodes its base64 PAYMENT-REQUIRED header.
    let (_, seed) = inputs("error_decoder")
        .into_iter()
        .find(|(n, _)| n == "seed-402-payment-required")
        .unwrap();
    let venice_image::Error::PaymentRequired { error: p, .. } = checks::error_input(&seed) else {
        panic!("not a 402")
    };
    assert_eq!(p.payment_required_header().unwrap().x402_version, 2);
}
