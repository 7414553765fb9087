//! One test binary for the crate: each module was its own binary, each linking the
//! whole dependency graph (see issue [shape]); `cargo test -p <crate> --test it <module>::`
//! runs one module.

mod account;
mod api;
mod billing;
mod cassettes;
mod common;
mod faults;
mod limits;
mod multipart;
mod ops;
mod schemathesis_findings;
mod security;
mod solana;
mod x402;
