//! Entry points for the fuzz targets and the fuzz regression tests: the crate-private
//! response decoders, unwrapped. The properties checked on them live with the targets
//! (`fuzz/checks/`). Not part of the public API (hidden, unstable).

#[doc(hidden)]
pub mod __fuzz {
    use reqwest::header::HeaderMap;

    pub use crate::__bench::{DecodedGeneration, GenerationDecoder, decode_generation};

    /// Turn an error response (status, headers, body) into an error exactly as the
    /// client does.
    pub fn error_from_parts(status: u16, headers: &HeaderMap, body: &[u8]) -> crate::Error {
        crate::decode::error_from_parts(status, headers, body)
    }
}
