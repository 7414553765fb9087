//! [`Uploads`]: large values of a request body (input images) that are streamed while
//! the request is sent instead of being held in the body, as base64 inside the JSON body
//! or as the file parts of a `multipart/form-data` body.
//!
//! The generated builders serialise the generated request type into one JSON buffer,
//! and progenitor generates no multipart bodies. For an image upload that buffer would
//! hold the whole base64 image (33 MB for a 25 MB file) per attempt. Instead the caller
//! puts a placeholder in the image field and registers the real value here; the client's
//! `pre` hook then either splices the values into the JSON body as a stream (a file is
//! read in slices and base64-encoded slice by slice) or, for [`Uploads::multipart`],
//! lays the same body out as a form whose file parts are streamed from disk as they are.
//! Memory stays flat whatever the file size, the exact `Content-Length` is known in
//! advance, and each retry re-opens the file. The request still goes through the
//! generated builder (method, path, fields, credentials): only the body's encoding
//! changes, and only for an operation whose spec takes a form
//! ([`Operation::form_files`](crate::Operation::form_files)).
//!
//! Every JSON body, with uploads or without, is also checked against the provider's
//! limit ([`MAX_JSON_BODY_BYTES`], 35 MB) before a byte is sent.

mod form;
mod source;
mod stream;

use std::collections::hash_map::RandomState;
use std::fmt::Write as _;
use std::hash::{BuildHasher, Hasher};

use bytes::Bytes;
use reqwest::header::{CONTENT_LENGTH, CONTENT_TYPE, HeaderValue};

pub use source::UploadSource;

use crate::auth::Operation;
use form::FormError;
use source::{Encoding, Registered};
use stream::Part;

/// The provider's largest JSON request body: 35 MB, in bytes. The provider's
/// documentation (`venice-errors`, `venice-image-edit`) writes "35 MB" and answers a
/// larger body with 413 "Request body exceeds the maximum allowed size."; read as SI
/// megabytes, the stricter reading, so nothing this client sends is refused for size.
pub const MAX_JSON_BODY_BYTES: u64 = 35_000_000;

/// Media type of a form part whose type is not known.
const OCTET_STREAM: &str = "application/octet-stream";

/// A body that cannot be sent.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum UploadError {
    /// Text that would need escaping inside a JSON string.
    #[error("upload text contains a character that needs JSON escaping (byte {byte:#04x})")]
    NotJsonSafe {
        /// The offending byte.
        byte: u8,
    },
    /// A media type that cannot be a part's `Content-Type`.
    #[error("upload media type {0:?} is not a type/subtype token")]
    MediaType(String),
    /// The request body does not contain a registered placeholder exactly once.
    #[error("the request body does not contain upload placeholder #{index} exactly once")]
    Placeholder {
        /// Which upload.
        index: usize,
    },
    /// The JSON body would be larger than the provider accepts.
    #[error(
        "the JSON request body would be {len} bytes; the API refuses JSON bodies over {limit} \
         bytes (35 MB): send large images as files (multipart/form-data) or as URLs"
    )]
    BodyTooLarge {
        /// Bytes the body would have.
        len: u64,
        /// The limit in force.
        limit: u64,
    },
    /// The operation's spec takes no `multipart/form-data` body, or not in this form.
    #[error("{operation} cannot be sent as multipart/form-data: {reason}")]
    NotAForm {
        /// The operation (`OperationInfo::operation_id`).
        operation: String,
        /// What does not fit.
        reason: String,
    },
}

/// The uploads of one call: each registered value gets a placeholder string to put
/// in the request's field; the client's `pre` hook swaps placeholders for the values
/// while sending, inside the JSON body ([`Uploads::new`]) or as the file parts of a
/// form ([`Uploads::multipart`]).
///
/// ```
/// use venice_openapi::{UploadSource, Uploads};
///
/// let mut uploads = Uploads::new();
/// let field = uploads.add(UploadSource::Text("aGVsbG8=".into()))?;
/// assert!(field.starts_with("venice-upload:"));
/// assert!(!uploads.is_multipart());
///
/// let mut form = Uploads::multipart();
/// let image = form.add_as(UploadSource::Bytes(vec![0x89, b'P', b'N', b'G'].into()), "image/png")?;
/// assert!(image.starts_with("venice-upload:") && form.is_multipart());
/// # Ok::<(), venice_openapi::UploadError>(())
/// ```
#[derive(Clone, Debug)]
pub struct Uploads {
    /// Random per call, so a placeholder (or a form boundary) cannot collide with user
    /// text.
    tag: String,
    sources: Vec<Registered>,
    encoding: Encoding,
}

impl Default for Uploads {
    fn default() -> Self {
        Self::new()
    }
}

impl Uploads {
    /// No uploads yet; they go inside the JSON body, base64-encoded.
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
            encoding: Encoding::Base64,
        }
    }

    /// No uploads yet; the body goes as `multipart/form-data`, each upload a file part
    /// sent as it is (no base64). Only for operations whose spec takes a form, with
    /// files ([`UploadSource::File`], [`UploadSource::Bytes`]) in its file fields.
    pub fn multipart() -> Self {
        Self {
            encoding: Encoding::Raw,
            ..Self::new()
        }
    }

    /// Whether the body goes as `multipart/form-data`.
    pub fn is_multipart(&self) -> bool {
        self.encoding == Encoding::Raw
    }

    /// Register `source`; put the returned placeholder in its field. In a form its part
    /// is typed `application/octet-stream` (see [`add_as`](Self::add_as)).
    pub fn add(&mut self, source: UploadSource) -> Result<String, UploadError> {
        self.add_as(source, OCTET_STREAM)
    }

    /// Register `source` with the media type of its form part (e.g. `image/png`).
    pub fn add_as(
        &mut self,
        source: UploadSource,
        media_type: &str,
    ) -> Result<String, UploadError> {
        if let UploadSource::Text(t) = &source
            && let Some(&byte) = t
                .iter()
                .find(|b| !(0x20..0x7f).contains(*b) || matches!(b, b'"' | b'\\'))
        {
            return Err(UploadError::NotJsonSafe { byte });
        }
        let token = |s: &str| {
            !s.is_empty()
                && s.bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b"!#$&-^_.+".contains(&b))
        };
        match media_type.split_once('/') {
            Some((kind, sub)) if token(kind) && token(sub) => {}
            _ => return Err(UploadError::MediaType(media_type.to_owned())),
        }
        let placeholder = format!("venice-upload:{}:{}", self.tag, self.sources.len());
        self.sources.push(Registered {
            source,
            media_type: media_type.to_owned(),
        });
        Ok(placeholder)
    }

    /// Whether nothing was registered.
    pub fn is_empty(&self) -> bool {
        self.sources.is_empty()
    }

    /// The upload a placeholder string stands for.
    fn index_of(&self, value: &str) -> Option<usize> {
        value
            .strip_prefix("venice-upload:")?
            .strip_prefix(self.tag.as_str())?
            .strip_prefix(':')?
            .parse()
            .ok()
            .filter(|i| *i < self.sources.len())
    }

    /// Replace the body of `request` (JSON with the placeholders) by a stream that sends
    /// the registered values in their place, as JSON or as a form, with the exact
    /// `Content-Length`; a JSON body over `json_limit` bytes is refused.
    pub(crate) fn apply(
        &self,
        request: &mut reqwest::Request,
        operation: Option<&Operation>,
        operation_id: &str,
        json_limit: u64,
    ) -> Result<(), UploadError> {
        let body = request
            .body()
            .and_then(reqwest::Body::as_bytes)
            .map(Bytes::copy_from_slice)
            .unwrap_or_default();
        let (parts, content_type) = match self.encoding {
            Encoding::Base64 => (self.splice(&body)?, None),
            Encoding::Raw => {
                let (parts, boundary) = self.form(&body, operation, operation_id)?;
                (
                    parts,
                    Some(format!("multipart/form-data; boundary={boundary}")),
                )
            }
        };
        let len: u64 = parts.iter().map(Part::wire_len).sum();
        if content_type.is_none() {
            check_json_len(len, json_limit)?;
        }
        let headers = request.headers_mut();
        headers.insert(CONTENT_LENGTH, HeaderValue::from(len));
        if let Some(ct) = content_type
            && let Ok(value) = HeaderValue::from_str(&ct)
        {
            headers.insert(CONTENT_TYPE, value);
        }
        *request.body_mut() = Some(reqwest::Body::wrap_stream(stream::stream(parts.into())));
        Ok(())
    }

    /// The JSON body with every placeholder replaced by its value.
    fn splice(&self, body: &Bytes) -> Result<Vec<Part>, UploadError> {
        let mut spans = Vec::with_capacity(self.sources.len());
        for (index, upload) in self.sources.iter().enumerate() {
            let needle = format!("venice-upload:{}:{index}", self.tag);
            let finder = memchr::memmem::Finder::new(needle.as_bytes());
            let mut hits = finder.find_iter(body);
            let (Some(at), None) = (hits.next(), hits.next()) else {
                return Err(UploadError::Placeholder { index });
            };
            spans.push((at, at + needle.len(), &upload.source));
        }
        spans.sort_by_key(|s| s.0);
        let mut parts = Vec::with_capacity(self.sources.len() * 2 + 1);
        let mut from = 0;
        for (start, end, source) in spans {
            parts.push(Part::Raw(body.slice(from..start)));
            parts.push(Part::Source(source.clone(), Encoding::Base64));
            from = end;
        }
        parts.push(Part::Raw(body.slice(from..)));
        Ok(parts)
    }

    /// The JSON body laid out as a form, and its boundary.
    fn form(
        &self,
        body: &Bytes,
        operation: Option<&Operation>,
        operation_id: &str,
    ) -> Result<(Vec<Part>, String), UploadError> {
        let not_a_form = |reason: String| UploadError::NotAForm {
            operation: operation_id.to_owned(),
            reason,
        };
        let files = operation.map_or(&[][..], |o| o.form_files);
        if files.is_empty() {
            return Err(not_a_form("its spec takes no multipart body".into()));
        }
        let boundary = format!("venice-form-{}", self.tag);
        let (parts, used) =
            form::layout(body, &boundary, &self.sources, files, |s| self.index_of(s)).map_err(
                |e| match e {
                    FormError::Body => not_a_form("the body is not a JSON object".into()),
                    FormError::FileField(field) => {
                        not_a_form(format!("`{field}` is not a file field of its form"))
                    }
                    FormError::Text(index) => not_a_form(format!(
                        "upload #{index} is text (base64 or a URL), not a file"
                    )),
                },
            )?;
        // Each upload exactly once, as in a JSON body.
        if let Some(index) =
            (0..self.sources.len()).find(|i| used.iter().filter(|u| *u == i).count() != 1)
        {
            return Err(UploadError::Placeholder { index });
        }
        Ok((parts, boundary))
    }
}

fn check_json_len(len: u64, limit: u64) -> Result<(), UploadError> {
    if len > limit {
        return Err(UploadError::BodyTooLarge { len, limit });
    }
    Ok(())
}

/// Refuse a plain JSON body (one without uploads) over `limit` bytes.
pub(crate) fn check_json_body(request: &reqwest::Request, limit: u64) -> Result<(), UploadError> {
    let is_json = request
        .headers()
        .get(CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("application/json"));
    match request.body().and_then(reqwest::Body::as_bytes) {
        Some(body) if is_json => check_json_len(body.len() as u64, limit),
        _ => Ok(()),
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use futures::TryStreamExt;
    use std::path::PathBuf;

    fn request_with(body: &serde_json::Value) -> reqwest::Request {
        let mut r = reqwest::Request::new(reqwest::Method::POST, "http://x/".parse().unwrap());
        r.headers_mut()
            .insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
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

    fn op(form_files: &'static [&'static str]) -> Operation {
        Operation {
            id: "edit_image",
            method: "POST",
            path: "/image/edit",
            security: crate::OperationSecurity {
                anonymous: false,
                schemes: &[],
            },
            form_files,
        }
    }

    fn file(dir: &tempfile::TempDir, data: &[u8]) -> (PathBuf, u64) {
        let path = dir.path().join("f.bin");
        std::fs::write(&path, data).unwrap();
        (path, data.len() as u64)
    }

    #[tokio::test]
    async fn a_file_and_text_are_spliced_with_the_exact_length() {
        let dir = tempfile::tempdir().unwrap();
        // Not a multiple of 3 and longer than one slice: padding only at the end.
        let data: Vec<u8> = (0..stream::SLICE * 2 + 7)
            .map(|i| (i * 31 % 251) as u8)
            .collect();
        let (path, len) = file(&dir, &data);
        let mut uploads = Uploads::new();
        let a = uploads.add(UploadSource::File { path, len }).unwrap();
        let b = uploads
            .add(UploadSource::Text(Bytes::from_static(
                b"https://x.test/a.png",
            )))
            .unwrap();
        let c = uploads
            .add(UploadSource::Bytes(Bytes::from_static(b"hello")))
            .unwrap();
        let mut r = request_with(&serde_json::json!({"images": [a, b, c], "prompt": "p"}));
        uploads
            .apply(&mut r, None, "x", MAX_JSON_BODY_BYTES)
            .unwrap();
        let (len, body) = sent(r).await;
        assert_eq!(len, body.len() as u64);
        let v: serde_json::Value = serde_json::from_slice(&body).unwrap();
        let back = base64_simd::STANDARD
            .decode_to_vec(v["images"][0].as_str().unwrap())
            .unwrap();
        assert_eq!(back, data);
        assert_eq!(v["images"][1], "https://x.test/a.png");
        assert_eq!(v["images"][2], "aGVsbG8=");
        assert_eq!(v["prompt"], "p");
    }

    #[tokio::test]
    async fn a_form_streams_the_file_as_it_is() {
        let dir = tempfile::tempdir().unwrap();
        let data: Vec<u8> = (0..stream::SLICE + 5).map(|i| (i % 256) as u8).collect();
        let (path, len) = file(&dir, &data);
        let mut uploads = Uploads::multipart();
        let image = uploads
            .add_as(UploadSource::File { path, len }, "image/png")
            .unwrap();
        let mut r = request_with(&serde_json::json!({"image": image, "prompt": "p", "scale": 2}));
        uploads
            .apply(
                &mut r,
                Some(&op(&["image"])),
                "edit_image",
                MAX_JSON_BODY_BYTES,
            )
            .unwrap();
        let ct = r.headers()[CONTENT_TYPE].to_str().unwrap().to_owned();
        let boundary = ct
            .strip_prefix("multipart/form-data; boundary=")
            .unwrap()
            .to_owned();
        let (len, body) = sent(r).await;
        assert_eq!(len, body.len() as u64);
        let head = format!(
            "--{boundary}\r\nContent-Disposition: form-data; name=\"image\"; filename=\"image-0.png\"\r\nContent-Type: image/png\r\n\r\n"
        );
        assert!(body.starts_with(head.as_bytes()));
        assert_eq!(&body[head.len()..head.len() + data.len()], &data[..]);
        let tail = String::from_utf8_lossy(&body[head.len() + data.len()..]).into_owned();
        assert!(tail.contains("name=\"prompt\"\r\n\r\np\r\n"), "{tail}");
        assert!(tail.contains("name=\"scale\"\r\n\r\n2\r\n"), "{tail}");
        assert!(tail.ends_with(&format!("--{boundary}--\r\n")), "{tail}");
    }

    #[test]
    fn a_form_only_where_the_spec_takes_one() {
        let mut uploads = Uploads::multipart();
        let image = uploads
            .add(UploadSource::Bytes(Bytes::from_static(b"x")))
            .unwrap();
        let body = serde_json::json!({"image": image});
        let e = uploads
            .apply(
                &mut request_with(&body),
                Some(&op(&[])),
                "generate_image",
                u64::MAX,
            )
            .unwrap_err();
        assert!(e.to_string().contains("generate_image"), "{e}");
        let e = uploads
            .apply(
                &mut request_with(&serde_json::json!({"other": "x"})),
                Some(&op(&["image"])),
                "edit_image",
                u64::MAX,
            )
            .unwrap_err();
        assert!(matches!(e, UploadError::Placeholder { index: 0 }), "{e}");
        let mut text = Uploads::multipart();
        let t = text
            .add(UploadSource::Text(Bytes::from_static(
                b"https://x.test/a.png",
            )))
            .unwrap();
        let e = text
            .apply(
                &mut request_with(&serde_json::json!({"image": t})),
                Some(&op(&["image"])),
                "edit_image",
                u64::MAX,
            )
            .unwrap_err();
        assert!(e.to_string().contains("not a file"), "{e}");
    }

    #[test]
    fn json_bodies_over_the_limit_are_refused_before_sending() {
        let mut uploads = Uploads::new();
        // 30 bytes of data are 40 of base64.
        let a = uploads
            .add(UploadSource::Bytes(Bytes::from(vec![7u8; 30])))
            .unwrap();
        let body = serde_json::json!({"image": a});
        let json_len = (serde_json::to_vec(&body).unwrap().len() - a.len() + 40) as u64;
        let mut r = request_with(&body);
        let e = uploads.apply(&mut r, None, "x", json_len - 1).unwrap_err();
        assert!(
            matches!(e, UploadError::BodyTooLarge { len, limit } if len == json_len && limit == json_len - 1),
            "{e}"
        );
        assert!(
            uploads
                .apply(&mut request_with(&body), None, "x", json_len)
                .is_ok()
        );
        // Without uploads: the serialised body itself.
        let plain = request_with(&serde_json::json!({"prompt": "abc"}));
        assert!(check_json_body(&plain, 16).is_ok());
        assert!(matches!(
            check_json_body(&plain, 15),
            Err(UploadError::BodyTooLarge { len: 16, limit: 15 })
        ));
    }

    #[test]
    fn placeholders_must_be_present_once_and_values_well_formed() {
        let mut uploads = Uploads::new();
        assert!(matches!(
            uploads.add(UploadSource::Text(Bytes::from_static(b"a\"b"))),
            Err(UploadError::NotJsonSafe { byte: b'"' })
        ));
        assert!(matches!(
            uploads.add_as(UploadSource::Bytes(Bytes::new()), "image/png\r\nX: y"),
            Err(UploadError::MediaType(_))
        ));
        let p = uploads
            .add(UploadSource::Text(Bytes::from_static(b"QUJD")))
            .unwrap();
        let mut missing = request_with(&serde_json::json!({"image": "other"}));
        assert!(matches!(
            uploads.apply(&mut missing, None, "x", u64::MAX),
            Err(UploadError::Placeholder { index: 0 })
        ));
        let mut twice = request_with(&serde_json::json!({"a": p, "b": p}));
        assert!(uploads.apply(&mut twice, None, "x", u64::MAX).is_err());
        // Two calls never share placeholders.
        assert_ne!(Uploads::new().tag, Uploads::new().tag);
    }
}
