//! `multipart/form-data` bodies held in memory, part by part: parsed with multer (as
//! the server reads uploads) and written back with the same boundary, so a recorder can
//! replace one part's bytes and a replay can compare parts.

use bytes::Bytes;
use futures_util::FutureExt as _;

/// One part of a form.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Part {
    /// The part's headers, lower-case names.
    pub headers: Vec<(String, String)>,
    /// Its field name.
    pub name: String,
    /// The file name, for a file part.
    pub filename: Option<String>,
    /// Its bytes.
    pub data: Bytes,
}

/// The boundary of a `multipart/form-data` `Content-Type`, when it is one.
pub(crate) fn boundary(content_type: &str) -> Option<String> {
    let media = content_type.split(';').next()?.trim();
    if !media.eq_ignore_ascii_case("multipart/form-data") {
        return None;
    }
    multer::parse_boundary(content_type).ok()
}

/// The parts of a whole form body; `None` when it is not a well-formed form.
pub(crate) fn parse(boundary: &str, body: Bytes) -> Option<Vec<Part>> {
    let stream = futures_util::stream::once(async move { Ok::<Bytes, std::io::Error>(body) });
    let mut form = multer::Multipart::new(stream, boundary);
    let mut parts = Vec::new();
    // The body is in memory: every future is ready at once.
    loop {
        let field = form.next_field().now_or_never()?.ok()?;
        let Some(field) = field else { break };
        let headers = field
            .headers()
            .iter()
            .map(|(n, v)| {
                (
                    n.as_str().to_owned(),
                    String::from_utf8_lossy(v.as_bytes()).into_owned(),
                )
            })
            .collect();
        let name = field.name().unwrap_or_default().to_owned();
        let filename = field.file_name().map(str::to_owned);
        let data = field.bytes().now_or_never()?.ok()?;
        parts.push(Part {
            headers,
            name,
            filename,
            data,
        });
    }
    Some(parts)
}

/// Writes parts back as a form body with `boundary`.
#[cfg_attr(not(feature = "record"), allow(dead_code))]
pub(crate) fn write(boundary: &str, parts: &[Part]) -> Vec<u8> {
    let mut out = Vec::new();
    for part in parts {
        out.extend_from_slice(format!("--{boundary}\r\n").as_bytes());
        for (name, value) in &part.headers {
            out.extend_from_slice(format!("{name}: {value}\r\n").as_bytes());
        }
        out.extend_from_slice(b"\r\n");
        out.extend_from_slice(&part.data);
        out.extend_from_slice(b"\r\n");
    }
    out.extend_from_slice(format!("--{boundary}--\r\n").as_bytes());
    out
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn a_form_survives_parse_and_write() {
        let body = "--b\r\nContent-Disposition: form-data; name=\"image\"; filename=\"a.png\"\r\nContent-Type: image/png\r\n\r\nab\r\n\
                    --b\r\nContent-Disposition: form-data; name=\"prompt\"\r\n\r\nhello\r\n--b--\r\n";
        assert_eq!(
            boundary("multipart/form-data; boundary=b").as_deref(),
            Some("b")
        );
        assert!(boundary("application/json").is_none());
        let parts = parse("b", Bytes::from(body)).unwrap();
        assert_eq!(parts.len(), 2);
        assert_eq!(parts[0].filename.as_deref(), Some("a.png"));
        assert_eq!(parts[1].data, &b"hello"[..]);
        let again = parse("b", Bytes::from(write("b", &parts))).unwrap();
        assert_eq!(again, parts);
        assert!(
            parse(
                "b",
                Bytes::from_static(
                    b"--b\r\nContent-Disposition: form-data; name=\"x\"\r\n\r\nunterminated"
                )
            )
            .is_none()
        );
    }
}
