//! One test binary for the crate: each module was its own binary, each linking the
//! whole dependency graph (see issue [shape]); `cargo test -p <crate> --test it <module>::`
//! runs one module.

mod api;
mod common;
mod crypto;
mod faults;
mod limits;
mod ops;
mod pacing;
mod pacing_workers;
mod provider_limits;
mod remote_signer;
mod secrets;
mod solana;
mod surface;
mod timeouts;
mod topup;
mod wallet;
