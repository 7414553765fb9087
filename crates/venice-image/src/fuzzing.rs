//! Entry points for fuzzing and for the fuzz regression tests: thin wrappers around the
//! crate-private response decoders. Not part of the public API (hidden, unstable).

#[doc(hidden)]
pub mod __fuzz {
    use reqwest::header::{HeaderMap, HeaderName, HeaderValue};

    use crate::error::Error;

    /// What a decoded JSON generation body held (sizes only; the bytes are dropped).
    #[derive(Debug, Clone, PartialEq, Eq)]
    pub struct DecodedSummary {
        /// The generation id.
        pub id: String,
        /// Byte length of each decoded image.
        pub image_lens: Vec<usize>,
    }

    /// Decode a JSON generation body exactly as `Client::generate` does.
    pub fn decode_generation(body: &[u8]) -> Result<DecodedSummary, Error> {
        crate::decode::decode_generation(body).map(|d| DecodedSummary {
            id: d.id,
            image_lens: d.images.iter().map(|b| b.len()).collect(),
        })
    }

    /// Turn an error response (status, headers, body) into an [`Error`] exactly as the
    /// client does.
    pub fn error_from_parts(status: u16, headers: &HeaderMap, body: &[u8]) -> Error {
        crate::decode::error_from_parts(status, headers, body)
    }

    /// Decode one fuzz input laid out as: 2 bytes big-endian status, then header lines
    /// `name: value\n` up to an empty line, then the body. Headers that `http` rejects are
    /// skipped. Exercises the error decoder (incl. the base64 `PAYMENT-REQUIRED`
    /// header), response metadata, `Display`/`Debug` of the error and the retry
    /// classification; when the status is 2xx also the generation decoder on the body.
    pub fn error_input(data: &[u8]) -> Error {
        let (status, headers, body) = split_response(data);
        let err = error_from_parts(status, &headers, body);
        // Everything a caller does with an error must not panic either.
        let _ = (err.to_string(), format!("{err:?}"), err.is_retryable());
        let _ = (err.status(), err.code(), err.api_error());
        let _ = crate::RetryPolicy::default().should_retry(&err);
        let _ = crate::ResponseMeta::from_headers(status, &headers);
        if (200..300).contains(&status) {
            let _ = decode_generation(body);
        }
        err
    }

    /// Split a fuzz input into status, headers and body (see [`error_input`]).
    pub fn split_response(data: &[u8]) -> (u16, HeaderMap, &[u8]) {
        let (status, rest) = match data {
            [a, b, rest @ ..] => (u16::from_be_bytes([*a, *b]), rest),
            _ => (500, data),
        };
        // Keep statuses in the valid HTTP range, biased to the interesting ones.
        let status = match status % 8 {
            0 => 402,
            1 => 429,
            2 => 400 + status % 100,
            _ => 100 + status % 500,
        };
        let mut headers = HeaderMap::new();
        let mut rest = rest;
        while let Some(nl) = rest.iter().position(|b| *b == b'\n') {
            let line = &rest[..nl];
            rest = &rest[nl + 1..];
            if line.is_empty() {
                break;
            }
            let Some(colon) = line.iter().position(|b| *b == b':') else {
                continue;
            };
            let value = line[colon + 1..].trim_ascii();
            if let (Ok(n), Ok(v)) = (
                HeaderName::from_bytes(&line[..colon]),
                HeaderValue::from_bytes(value),
            ) {
                headers.append(n, v);
            }
        }
        (status, headers, rest)
    }
}
