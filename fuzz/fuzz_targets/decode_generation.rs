//! The JSON generation body decoder of `Client::generate`, the streaming
//! `GenerationDecoder` the client feeds network chunks into: any bytes → images or a
//! decode error, never a panic; the body cut into fuzzer-chosen chunks decodes exactly
//! as in one piece; whatever a plain serde_json + base64 reference accepts, it accepts
//! with the same bytes. Layout: see `checks::check_generation_chunks`.
#![no_main]

use libfuzzer_sys::fuzz_target;

// Each target uses its part of the shared checks.
#[allow(dead_code)]
#[path = "../checks/facade.rs"]
mod checks;

fuzz_target!(|data: &[u8]| {
    if let Err(violation) = checks::check_generation_chunks(data) {
        panic!("{violation}");
    }
});
