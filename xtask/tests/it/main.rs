//! One test binary for the crate: each module was its own binary, each linking the
//! whole dependency graph (see issue [shape]); `cargo test -p <crate> --test it <module>::`
//! runs one module.

mod codegen;
mod copies;
mod spec_diff;
mod vocab;
