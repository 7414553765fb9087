//! A JSON request body (the generated request type, with upload placeholders) laid out
//! as `multipart/form-data` (RFC 7578): each field a text part, each placeholder the file
//! part of its upload, array fields as repeated parts in order.

use bytes::Bytes;
use serde_json::{Map, Value};

use super::source::{Encoding, Registered, UploadSource};
use super::stream::Part;

/// Why a body cannot be sent as a form.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum FormError {
    /// The body is not a JSON object.
    Body,
    /// A placeholder sits in a field the operation's form does not take files in.
    FileField(String),
    /// The upload is text (base64, a URL), which a form cannot carry as a file.
    Text(usize),
}

/// The file extension of a media type, for the part's file name.
fn extension(media_type: &str) -> &'static str {
    match media_type {
        "image/png" => "png",
        "image/jpeg" => "jpg",
        "image/webp" => "webp",
        "image/heic" => "heic",
        "image/avif" => "avif",
        _ => "bin",
    }
}

/// A field name as a quoted-string parameter: `"`, CR and LF percent-encoded, as
/// browsers do (our names come from the spec and never contain them).
fn quoted(name: &str) -> String {
    name.replace('"', "%22")
        .replace('\r', "%0D")
        .replace('\n', "%0A")
}

/// Builds the parts of a form.
struct Layout<'a> {
    boundary: &'a str,
    parts: Vec<Part>,
    /// Literal bytes not yet pushed as a part.
    pending: Vec<u8>,
}

impl Layout<'_> {
    fn text(&mut self, name: &str, value: &str) {
        let head = format!(
            "--{}\r\nContent-Disposition: form-data; name=\"{}\"\r\n\r\n",
            self.boundary,
            quoted(name)
        );
        self.pending.extend_from_slice(head.as_bytes());
        self.pending.extend_from_slice(value.as_bytes());
        self.pending.extend_from_slice(b"\r\n");
    }

    fn file(&mut self, name: &str, number: usize, upload: &Registered) {
        let head = format!(
            "--{}\r\nContent-Disposition: form-data; name=\"{name}\"; filename=\"{name}-{number}.{}\"\r\nContent-Type: {}\r\n\r\n",
            self.boundary,
            extension(&upload.media_type),
            upload.media_type,
            name = quoted(name),
        );
        self.pending.extend_from_slice(head.as_bytes());
        self.flush();
        self.parts
            .push(Part::Source(upload.source.clone(), Encoding::Raw));
        self.pending.extend_from_slice(b"\r\n");
    }

    fn flush(&mut self) {
        if !self.pending.is_empty() {
            let bytes = Bytes::from(std::mem::take(&mut self.pending));
            self.parts.push(Part::Raw(bytes));
        }
    }
}

/// The form parts of `body`. `upload_of` names the upload a string is the placeholder
/// of; `files` are the fields the operation takes files in. Every field of the object
/// becomes a part: strings as they are, numbers and booleans as their JSON text, nulls
/// left out, arrays as one part per item.
pub(crate) fn layout(
    body: &[u8],
    boundary: &str,
    uploads: &[Registered],
    files: &[&str],
    upload_of: impl Fn(&str) -> Option<usize>,
) -> Result<(Vec<Part>, Vec<usize>), FormError> {
    let object: Map<String, Value> = serde_json::from_slice(body).map_err(|_| FormError::Body)?;
    let mut layout = Layout {
        boundary,
        parts: Vec::new(),
        pending: Vec::new(),
    };
    let mut used = Vec::new();
    for (name, value) in &object {
        let items: &[Value] = match value {
            Value::Array(items) => items,
            single => std::slice::from_ref(single),
        };
        let mut number = 0;
        for item in items {
            match item {
                Value::Null => {}
                Value::String(s) => match upload_of(s) {
                    Some(index) => {
                        if !files.contains(&name.as_str()) {
                            return Err(FormError::FileField(name.clone()));
                        }
                        let Some(upload) = uploads.get(index) else {
                            return Err(FormError::Text(index));
                        };
                        if matches!(upload.source, UploadSource::Text(_)) {
                            return Err(FormError::Text(index));
                        }
                        layout.file(name, number, upload);
                        number += 1;
                        used.push(index);
                    }
                    None => layout.text(name, s),
                },
                other => layout.text(name, &other.to_string()),
            }
        }
    }
    let end = format!("--{boundary}--\r\n");
    layout.pending.extend_from_slice(end.as_bytes());
    layout.flush();
    Ok((layout.parts, used))
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn registered(source: UploadSource) -> Registered {
        Registered {
            source,
            media_type: "image/png".into(),
        }
    }

    fn lookup(s: &str) -> Option<usize> {
        s.strip_prefix("up:").and_then(|i| i.parse().ok())
    }

    #[test]
    fn fields_become_parts_and_placeholders_files() {
        let uploads = vec![
            registered(UploadSource::Bytes(Bytes::from_static(b"PNG0"))),
            registered(UploadSource::Bytes(Bytes::from_static(b"PNG1"))),
        ];
        let body = br#"{"images":["up:0","up:1"],"prompt":"a \"quoted\"\r\nline","scale":2,"safe_mode":false,"quality":null}"#;
        let (parts, used) = layout(body, "B", &uploads, &["images"], lookup).unwrap();
        assert_eq!(used, [0, 1]);
        let mut text = Vec::new();
        for part in &parts {
            match part {
                Part::Raw(b) => text.extend_from_slice(b),
                Part::Source(UploadSource::Bytes(b), Encoding::Raw) => text.extend_from_slice(b),
                other => panic!("{other:?}"),
            }
        }
        let text = String::from_utf8(text).unwrap();
        assert_eq!(
            text,
            "--B\r\nContent-Disposition: form-data; name=\"images\"; filename=\"images-0.png\"\r\nContent-Type: image/png\r\n\r\nPNG0\r\n\
             --B\r\nContent-Disposition: form-data; name=\"images\"; filename=\"images-1.png\"\r\nContent-Type: image/png\r\n\r\nPNG1\r\n\
             --B\r\nContent-Disposition: form-data; name=\"prompt\"\r\n\r\na \"quoted\"\r\nline\r\n\
             --B\r\nContent-Disposition: form-data; name=\"safe_mode\"\r\n\r\nfalse\r\n\
             --B\r\nContent-Disposition: form-data; name=\"scale\"\r\n\r\n2\r\n--B--\r\n"
        );
    }

    #[test]
    fn files_only_where_the_spec_takes_them() {
        let uploads = vec![
            registered(UploadSource::Bytes(Bytes::from_static(b"x"))),
            registered(UploadSource::Text(Bytes::from_static(b"aGk="))),
        ];
        assert_eq!(
            layout(br#"{"prompt":"up:0"}"#, "B", &uploads, &["image"], lookup).unwrap_err(),
            FormError::FileField("prompt".into())
        );
        assert_eq!(
            layout(br#"{"image":"up:1"}"#, "B", &uploads, &["image"], lookup).unwrap_err(),
            FormError::Text(1)
        );
        assert_eq!(
            layout(b"[1]", "B", &uploads, &["image"], lookup).unwrap_err(),
            FormError::Body
        );
    }
}
