//! The mock's request pipeline: request line + headers + body → an answer that keeps
//! the auth invariants and validates against the spec, never a panic.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Err(broken) = venice_mock::__fuzz::check_request(data) {
        panic!("{broken}");
    }
});
