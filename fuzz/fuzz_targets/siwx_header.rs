//! The mock's `SIGN-IN-WITH-X` handling: message parser, `DefaultSiwxVerifier` and the
//! auth layer on arbitrary header values (input starting with `{` is the header JSON,
//! base64-encoded by the harness). Never a panic; accepted headers are single-use and
//! name the signer; a Bearer key beside a SIWX header never decides. See
//! `venice_mock::__fuzz::siwx_input`.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Err(violation) = venice_mock::__fuzz::siwx_input(data) {
        panic!("{violation}");
    }
});
