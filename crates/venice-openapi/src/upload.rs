//! [`Uploads`]: large string values of a JSON request body (input images) that are
//! streamed while the request is sent instead of being held in the body.
//!
//! The generated builders serialise the generated request type into one buffer. For an
//! image upload that buffer would hold the whole base64 image (33 MB for a 25 MB file)
//! per attempt. Instead the caller puts a placeholder in the image field, registers the
//! real value here, and the `pre` hook splices it into the body as a stream: a file is
//! read in slices and base64-encoded slice by slice, so memory stays flat whatever the
//! file size, the exact `Content-Length` is known from the file size, and each retry
//! re-opens the file.

use std::collections::hash_map::RandomState;
use std::fmt::Write as _;
use std::hash::{BuildHasher, Hasher};
use std::path::PathBuf;
use std::sync::Arc;

use bytes::Bytes;
use reqwest::header::{CONTENT_LENGTH, HeaderValue};
use tokio::io::AsyncReadExt;

/// Bytes read from a file per encoded slice; a multiple of 3 so that the base64 of the
/// slices, concatenated, is the base64 of the file (padding only at the very end).
const SLICE: usize = 3 * 64 * 1024;

/// A value spliced into a JSON string of the request body.
#[derive(Clone, Debug)]
#[non_exhaustive]
pub enum UploadSource {
    /// A file of exactly `len` bytes, sent base64-encoded (standard alphabet, padded).
    File {
        /// The file.
        path: PathBuf,
        /// Its length; a file that changes size before it is sent fails the request.
        len: u64,
    },
    /// Text sent as it is, shared by every attempt without copying: base64, a data URI
    /// or a URL (nothing that needs JSON escaping).
    Text(Bytes),
}

impl UploadSource {
    fn wire_len(&self) -> u64 {
        match self {
            UploadSource::File { len, .. } => len.div_ceil(3) * 4,
            UploadSource::Text(t) => t.len() as u64,
        }
    }
}

/// A splice that cannot be done.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum UploadError {
    /// Text that would need escaping inside a JSON string.
    #[error("upload text contains a character that needs JSON escaping (byte {byte:#04x})")]
    NotJsonSafe {
        /// The offending byte.
        byte: u8,
    },
    /// The request body does not contain a registered placeholder exactly once.
    #[error("the request body does not contain upload placeholder #{index} exactly once")]
    Placeholder {
        /// Which upload.
        index: usize,
    },
}

/// The uploads of one call: each registered value gets a placeholder string to put
/// in the request's field; the client's `pre` hook swaps placeholders for the values
/// while sending.
///
/// ```
/// use venice_openapi::{UploadSource, Uploads};
///
/// let mut uploads = Uploads::new();
/// let field = uploads.add(UploadSource::Text("aGVsbG8=".into()))?;
/// assert!(field.starts_with("venice-upload:"));
/// # Ok::<(), venice_openapi::UploadError>(())
/// ```
#[derive(Clone, Debug)]
pub struct Uploads {
    /// Random per call, so a placeholder cannot collide with user text.
    tag: String,
    sources: Vec<UploadSource>,
}

impl Default for Uploads {
    fn default() -> Self {
        Self::new()
    }
}

impl Uploads {
    /// No uploads yet.
    pub fn new() -> Self {
        // `RandomState` is seeded from the OS per instance: 128 random bits without
        // another dependency.
        let mut tag = String::with_capacity(32);
        for _ in 0..2 {
            let _ = write!(tag, "{:016x}", RandomState::new().build_hasher().finish());
        }
        Self {
            tag,
            sources: Vec::new(),
        }
    }

    /// Register `source`; put the returned placeholder in its JSON string field.
    pub fn add(&mut self, source: UploadSource) -> Result<String, UploadError> {
        if let UploadSource::Text(t) = &source
            && let Some(&byte) = t
                .iter()
                .find(|b| !(0x20..0x7f).contains(*b) || matches!(b, b'"' | b'\\'))
        {
            return Err(UploadError::NotJsonSafe { byte });
        }
        let placeholder = format!("venice-upload:{}:{}", self.tag, self.sources.len());
        self.sources.push(source);
        Ok(placeholder)
    }

    /// Whether nothing was registered.
    pub fn is_empty(&self) -> bool {
        self.sources.is_empty()
    }

    /// Replace the body of `request` (JSON with the placeholders) by a stream that
    /// sends the registered values in their place, with the exact `Content-Length`.
    pub(crate) fn splice(&self, request: &mut reqwest::Request) -> Result<(), UploadError> {
        if self.sources.is_empty() {
            return Ok(());
        }
        let body = request
            .body()
            .and_then(reqwest::Body::as_bytes)
            .map(Bytes::copy_from_slice)
            .unwrap_or_default();
        let mut parts = Vec::with_capacity(self.sources.len() * 2 + 1);
        let mut spans = Vec::with_capacity(self.sources.len());
        for (index, source) in self.sources.iter().enumerate() {
            let needle = format!("venice-upload:{}:{index}", self.tag);
            let finder = memchr::memmem::Finder::new(needle.as_bytes());
            let mut hits = finder.find_iter(&body);
            let (Some(at), None) = (hits.next(), hits.next()) else {
                return Err(UploadError::Placeholder { index });
            };
            spans.push((at, at + needle.len(), source));
        }
        spans.sort_by_key(|s| s.0);
        let mut from = 0;
        for (start, end, source) in spans {
            parts.push(Part::Raw(body.slice(from..start)));
            parts.push(Part::Source(source.clone()));
            from = end;
        }
        parts.push(Part::Raw(body.slice(from..)));
        let len: u64 = parts.iter().map(Part::wire_len).sum();
        request
            .headers_mut()
            .insert(CONTENT_LENGTH, HeaderValue::from(len));
        *request.body_mut() = Some(reqwest::Body::wrap_stream(stream(parts.into())));
        Ok(())
    }
}

#[derive(Clone, Debug)]
enum Part {
    Raw(Bytes),
    Source(UploadSource),
}

impl Part {
    fn wire_len(&self) -> u64 {
        match self {
            Part::Raw(b) => b.len() as u64,
            Part::Source(s) => s.wire_len(),
        }
    }
}

struct State {
    parts: Arc<[Part]>,
    next: usize,
    file: Option<OpenFile>,
    buf: Vec<u8>,
}

struct OpenFile {
    file: tokio::fs::File,
    remaining: u64,
    path: PathBuf,
}

fn changed(path: &std::path::Path) -> std::io::Error {
    std::io::Error::other(format!(
        "{} changed size while it was being uploaded",
        path.display()
    ))
}

fn stream(
    parts: Arc<[Part]>,
) -> impl futures::Stream<Item = std::io::Result<Bytes>> + Send + 'static {
    let state = State {
        parts,
        next: 0,
        file: None,
        buf: Vec::new(),
    };
    futures::stream::try_unfold(state, |mut st| async move {
        loop {
            if let Some(open) = &mut st.file {
                if open.remaining == 0 {
                    // The promised Content-Length is already fixed: a file that grew
                    // must fail the upload, not be cut silently.
                    let mut probe = [0u8; 1];
                    if open.file.read(&mut probe).await? != 0 {
                        return Err(changed(&open.path));
                    }
                    st.file = None;
                    continue;
                }
                let want = usize::try_from(open.remaining.min(SLICE as u64)).unwrap_or(SLICE);
                st.buf.resize(want, 0);
                open.file
                    .read_exact(&mut st.buf[..want])
                    .await
                    .map_err(|e| {
                        if e.kind() == std::io::ErrorKind::UnexpectedEof {
                            changed(&open.path)
                        } else {
                            e
                        }
                    })?;
                open.remaining -= want as u64;
                let encoded: Vec<u8> = base64_simd::STANDARD.encode_type(&st.buf[..want]);
                return Ok(Some((Bytes::from(encoded), st)));
            }
            let Some(part) = st.parts.get(st.next).cloned() else {
                return Ok(None);
            };
            st.next += 1;
            match part {
                Part::Raw(b) if b.is_empty() => {}
                Part::Raw(b) | Part::Source(UploadSource::Text(b)) => return Ok(Some((b, st))),
                Part::Source(UploadSource::File { path, len }) => {
                    let file = tokio::fs::File::open(&path).await?;
                    st.file = Some(OpenFile {
                        file,
                        remaining: len,
                        path,
                    });
                }
            }
        }
    })
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use futures::TryStreamExt;

    fn request_with(body: &serde_json::Value) -> reqwest::Request {
        let mut r = reqwest::Request::new(reqwest::Method::POST, "http://x/".parse().unwrap());
        *r.body_mut() = Some(serde_json::to_vec(body).unwrap().into());
        r
    }

    async fn sent(mut r: reqwest::Request) -> (u64, Vec<u8>) {
        let len = r.headers()[CONTENT_LENGTH]
            .to_str()
            .unwrap()
            .parse()
            .unwrap();
        let body = r.body_mut().take().unwrap();
        let chunks: Vec<Bytes> = http_body_util::BodyDataStream::new(body)
            .try_collect()
            .await
            .unwrap();
        (len, chunks.concat())
    }

    #[tokio::test]
    async fn a_file_and_text_are_spliced_with_the_exact_length() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("f.bin");
        // Not a multiple of 3 and longer than one slice: padding only at the end.
        let data: Vec<u8> = (0..SLICE * 2 + 7).map(|i| (i * 31 % 251) as u8).collect();
        std::fs::write(&path, &data).unwrap();
        let mut uploads = Uploads::new();
        let a = uploads
            .add(UploadSource::File {
                path: path.clone(),
                len: data.len() as u64,
            })
            .unwrap();
        let b = uploads
            .add(UploadSource::Text(Bytes::from_static(
                b"https://x.test/a.png",
            )))
            .unwrap();
        let mut r = request_with(&serde_json::json!({"images": [a, b], "prompt": "p"}));
        uploads.splice(&mut r).unwrap();
        let (len, body) = sent(r).await;
        assert_eq!(len, body.len() as u64);
        let v: serde_json::Value = serde_json::from_slice(&body).unwrap();
        let back = base64_simd::STANDARD
            .decode_to_vec(v["images"][0].as_str().unwrap())
            .unwrap();
        assert_eq!(back, data);
        assert_eq!(v["images"][1], "https://x.test/a.png");
        assert_eq!(v["prompt"], "p");
    }

    #[tokio::test]
    async fn a_file_that_changed_size_fails_the_stream() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("f.bin");
        std::fs::write(&path, [1u8; 10]).unwrap();
        for len in [9u64, 11] {
            let parts: Arc<[Part]> = vec![Part::Source(UploadSource::File {
                path: path.clone(),
                len,
            })]
            .into();
            let err = stream(parts).try_collect::<Vec<_>>().await.unwrap_err();
            assert!(err.to_string().contains("changed size"), "{err}");
        }
    }

    #[test]
    fn placeholders_must_be_present_once_and_text_json_safe() {
        let mut uploads = Uploads::new();
        assert!(matches!(
            uploads.add(UploadSource::Text(Bytes::from_static(b"a\"b"))),
            Err(UploadError::NotJsonSafe { byte: b'"' })
        ));
        let p = uploads
            .add(UploadSource::Text(Bytes::from_static(b"QUJD")))
            .unwrap();
        let mut missing = request_with(&serde_json::json!({"image": "other"}));
        assert!(matches!(
            uploads.splice(&mut missing),
            Err(UploadError::Placeholder { index: 0 })
        ));
        let mut twice = request_with(&serde_json::json!({"a": p, "b": p}));
        assert!(uploads.splice(&mut twice).is_err());
        // Two calls never share placeholders.
        assert_ne!(Uploads::new().tag, Uploads::new().tag);
    }
}
