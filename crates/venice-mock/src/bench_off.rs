//! Stand-in for the benchmark payload mode ([`MockConfig::bench_image_bytes`]) when the
//! private `__internal` feature is off: no value of it can exist, so the setting is
//! ignored and the benchmark code is not compiled into users' builds.
//!
//! [`MockConfig::bench_image_bytes`]: crate::MockConfig::bench_image_bytes

use std::convert::Infallible;

use bytes::Bytes;

/// Never constructed without the `__internal` feature.
#[derive(Debug)]
pub(crate) struct BenchPayload {
    pub png: Bytes,
    never: Infallible,
}

impl BenchPayload {
    pub fn new(_target: u64) -> Result<Self, String> {
        Err("the benchmark payload mode needs the private `__internal` feature".into())
    }

    pub fn generate_json(&self, _variants: u32) -> Bytes {
        match self.never {}
    }

    pub fn openai_json(&self, _data_url: bool) -> Bytes {
        match self.never {}
    }
}
