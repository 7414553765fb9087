//! The error decoder: status (2 bytes) + header lines + body → `Error`, including the
//! base64 `PAYMENT-REQUIRED` header, `Retry-After`, rate-limit and metadata headers.
#![no_main]

use libfuzzer_sys::fuzz_target;

// Each target uses its part of the shared checks.
#[allow(dead_code)]
#[path = "../checks/facade.rs"]
mod checks;

fuzz_target!(|data: &[u8]| {
    let err = checks::error_input(data);
    // The excerpt is bounded whatever the body size.
    if let Some(api) = err.api_error() {
        assert!(api.body_excerpt().len() <= 512);
    }
});
