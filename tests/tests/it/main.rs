//! One test binary for the crate: each module was its own binary, each linking the
//! whole dependency graph (see issue [shape]); `cargo test -p <crate> --test it <module>::`
//! runs one module.

mod architecture;
mod cassettes;
mod common;
mod fuzz_regressions_facade;
mod fuzz_regressions_mock;
mod ops_contract;
mod provider_shapes;
mod raw_client;
mod recording;
mod requests;
mod responses;
mod spec_coverage;
mod types_spec;
mod vocab;
