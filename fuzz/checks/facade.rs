//! The properties the facade's fuzz targets check, shared with the fuzz regression
//! tests (`tests/tests/it/fuzz_regressions_facade.rs` includes this file), so a
//! replayed input is held to exactly what the fuzzer held it to.

use http::{HeaderMap, HeaderName, HeaderValue};
use venice_image::__fuzz::{DecodedGeneration, GenerationDecoder, decode_generation};
use venice_image::{Error, ResponseMeta, RetryPolicy};

/// One fuzz input of the chunked generation decoder: `data[0]` bit 7 says whether the
/// decoder gets the body length as a size hint (as with `Content-Length`), bits 0–2
/// how many chunk-size bytes follow (0: the body is fed in one piece); each size byte
/// `s` is a chunk of `s + 1` bytes, the sizes repeat until the body is consumed.
/// The rest is the body.
///
/// Checks the properties a streaming parser breaks at chunk boundaries and returns
/// `Err` with a description when one fails (the fuzz target panics on it):
/// - the chunked decode gives the same result (images, id, timing, or an error) as
///   the one-piece decode;
/// - whenever a plain `serde_json` + base64 reference decoder accepts the body, the
///   streaming decoder accepts it too and yields the same bytes;
/// - decoded images never total more bytes than the body.
///
/// `Ok` carries what the one-piece decode gave.
pub fn check_generation_chunks(data: &[u8]) -> Result<Result<DecodedGeneration, Error>, String> {
    let (hint, sizes, body) = match data {
        [flags, rest @ ..] => {
            let n = usize::from(flags & 7).min(rest.len());
            (flags & 0x80 != 0, &rest[..n], &rest[n..])
        }
        [] => (false, &[][..], data),
    };
    let whole = decode_generation(body);
    let chunked = decode_in_chunks(body, hint.then_some(body.len() as u64), sizes);
    match (&whole, &chunked) {
        (Ok(a), Ok(b)) => {
            if a.id != b.id || a.timing != b.timing || a.images != b.images {
                return Err(format!("chunked decode differs: {a:?} vs {b:?}"));
            }
        }
        (Err(_), Err(_)) => {}
        (a, b) => {
            return Err(format!(
                "one-piece and chunked decode disagree: {:?} vs {:?}",
                a.as_ref().map(|d| d.images.len()),
                b.as_ref().map(|d| d.images.len())
            ));
        }
    }
    if let Some((id, images)) = reference_decode(body) {
        match &whole {
            Ok(d) if d.id == id && d.images == images => {}
            Ok(d) => {
                return Err(format!(
                    "decode differs from the reference: {d:?} vs {id:?} with {images:?}"
                ));
            }
            Err(e) => return Err(format!("reference accepts, decoder rejects: {e}")),
        }
    }
    if let Ok(d) = &whole {
        let total: usize = d.images.iter().map(|b| b.len()).sum();
        if total > body.len() {
            return Err("decoded more bytes than the body holds".into());
        }
    }
    Ok(whole)
}

fn decode_in_chunks(
    body: &[u8],
    hint: Option<u64>,
    sizes: &[u8],
) -> Result<DecodedGeneration, Error> {
    let mut decoder = GenerationDecoder::new(hint);
    if sizes.is_empty() {
        decoder.feed(body)?;
        return decoder.finish();
    }
    let mut rest = body;
    for s in sizes.iter().cycle() {
        if rest.is_empty() {
            break;
        }
        let (chunk, tail) = rest.split_at((usize::from(*s) + 1).min(rest.len()));
        decoder.feed(chunk)?;
        rest = tail;
    }
    decoder.finish()
}

/// The obvious, non-streaming decoder: `serde_json` into owned strings, then strict
/// padded base64 of each image (after an optional `data:…,` prefix): the id and the
/// images, or `None` when it rejects the body. The streaming decoder is more lenient
/// (line breaks, missing padding), never stricter.
fn reference_decode(body: &[u8]) -> Option<(String, Vec<Vec<u8>>)> {
    #[derive(serde::Deserialize)]
    struct Reference {
        #[serde(default)]
        id: Option<String>,
        // `timing` is not read: both decoders keep the images of a body whose timing
        // is not the spec's.
        images: Vec<String>,
    }
    let r: Reference = serde_json::from_slice(body).ok()?;
    let images = r.images.iter().map(|s| {
        let b64 = match s.strip_prefix("data:") {
            Some(rest) => rest.split_once(',')?.1,
            None => s,
        };
        base64_simd::STANDARD.decode_to_vec(b64).ok()
    });
    Some((r.id.unwrap_or_default(), images.collect::<Option<_>>()?))
}

/// Decode one fuzz input laid out as: 2 bytes big-endian status, then header lines
/// `name: value\n` up to an empty line, then the body. Headers that `http` rejects are
/// skipped. Exercises the error decoder (incl. the base64 `PAYMENT-REQUIRED`
/// header), response metadata, `Display`/`Debug` of the error and the retry
/// classification; when the status is 2xx also the generation decoder on the body.
pub fn error_input(data: &[u8]) -> Error {
    let (status, headers, body) = split_response(data);
    let err = venice_image::__fuzz::error_from_parts(status, &headers, body);
    // Everything a caller does with an error must not panic either.
    let _ = (err.to_string(), format!("{err:?}"), err.is_retryable());
    let _ = (err.status(), err.code(), err.api_error());
    let _ = RetryPolicy::default().should_retry(&err);
    let _ = ResponseMeta::from_headers(status, &headers);
    if (200..300).contains(&status) {
        let _ = decode_generation(body);
    }
    err
}

/// Split a fuzz input into status, headers and body (see [`error_input`]).
fn split_response(data: &[u8]) -> (u16, HeaderMap, &[u8]) {
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
