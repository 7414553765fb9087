//! Ergonomic client for the Venice.ai image API (work in progress: see the facade issue).
//!
//! Until the facade lands this crate only re-exports the generated low-level client.

pub use venice_openapi as raw;
