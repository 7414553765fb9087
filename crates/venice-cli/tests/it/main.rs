//! One test binary for the crate: each module was its own binary, each linking the
//! whole dependency graph (see issue [shape]); `cargo test -p <crate> --test it <module>::`
//! runs one module.

mod account;
mod balance;
mod billing;
mod cli;
mod common;
mod crash;
mod errors;
mod faults;
mod help;
mod limits;
mod money;
mod offline_images;
mod ops;
mod readme;
mod record;
mod requests;
mod scale;
mod sheet;
mod sheet_browser;
mod uploads;
