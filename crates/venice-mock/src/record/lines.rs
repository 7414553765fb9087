//! From finished body copies to a cassette line: secrets learned from the bodies
//! themselves (JSON fields named like keys, EVM signatures) scrubbed again everywhere,
//! base64 payloads scrubbed inside, images shrunk when asked, side files named after
//! what they hold, and the exchange appended.

use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::time::SystemTime;

use crate::cassette::{
    Body, CassetteWriter, Exchange, INLINE_MAX, Message, Response as Answered, rfc3339, sha256_hex,
};
use crate::scrub::Scrubber;
use crate::shrink;

use super::copy::Stored;
use super::known::SecretsCell;
use super::tee::Ended;

/// A finished body copy, with what to record about it.
pub(super) struct Finished {
    pub stored: Option<Stored>,
    pub json: bool,
    pub media: String,
    pub encoding: Option<String>,
    pub cut_off: Option<String>,
}

impl Finished {
    /// A text body (read back after streaming, to be scrubbed again).
    fn textual(&self) -> bool {
        let media = self.media.to_ascii_lowercase();
        self.json || media.starts_with("text/") || media.starts_with("multipart/form-data")
    }
}

/// Ends a copy.
pub(super) fn finish(
    ended: Ended,
    json: bool,
    media: String,
    encoding: Option<String>,
) -> Finished {
    let (stored, error) = ended.copy.finish();
    let cut_off = ended
        .cut_off
        .or(error)
        .or_else(|| stored.as_ref().err().map(|e| e.to_string()));
    Finished {
        stored: stored.ok(),
        json,
        media,
        encoding,
        cut_off,
    }
}

/// What the recorder shares with the writing of lines.
pub(super) struct Lines<'a> {
    pub secrets: &'a SecretsCell,
    pub writer: &'a Mutex<CassetteWriter>,
    pub shrink_images: bool,
}

/// A response half of an exchange: status, recorded headers, its body copy.
pub(super) type Answer = (u16, Vec<(String, String)>, Option<Finished>);

/// One exchange being completed.
pub(super) struct Completed {
    pub seq: u64,
    pub at: SystemTime,
    pub duration_ms: u64,
    pub request: Message,
    pub request_body: Option<Finished>,
    pub response: Option<Answer>,
    pub error: Option<String>,
}

impl Lines<'_> {
    /// Writes one exchange's line.
    pub fn append(&self, done: Completed) -> std::io::Result<()> {
        let Completed {
            seq,
            at,
            duration_ms,
            mut request,
            request_body,
            response,
            mut error,
        } = done;
        // Secrets in the bodies (a key in a JSON field, a signature anywhere in text) are
        // learned first, so each body is scrubbed of what the other revealed.
        let bodies = [
            request_body.as_ref(),
            response.as_ref().and_then(|r| r.2.as_ref()),
        ];
        let mut learned = false;
        let scrubber = self
            .secrets
            .learn(|secrets| {
                for finished in bodies.into_iter().flatten() {
                    let Some(stored) = &finished.stored else {
                        continue;
                    };
                    if !(finished.textual() || matches!(stored, Stored::Memory(_))) {
                        continue;
                    }
                    let Ok(bytes) = stored.bytes() else {
                        continue;
                    };
                    learned |= secrets.learn_signatures(&bytes);
                    if finished.json
                        && let Ok(value) = serde_json::from_slice::<serde_json::Value>(&bytes)
                    {
                        learned |= secrets.learn_json(&value);
                    }
                }
                learned
            })
            .ok_or_else(|| std::io::Error::other("secrets poisoned"))?;
        let again = |pairs: Vec<(String, String)>| -> Vec<(String, String)> {
            pairs
                .into_iter()
                .map(|(n, v)| (n, scrubber.text(&v)))
                .collect()
        };
        request.path = scrubber.text(&request.path);
        request.query = request.query.map(|q| scrubber.text(&q));
        request.headers = again(request.headers);
        if let Some(cut) = request_body.as_ref().and_then(|f| f.cut_off.clone()) {
            error.get_or_insert(format!("request body: {cut}"));
        }
        request.body = self.body(&scrubber, request_body, learned)?;
        let response = match response {
            Some((status, headers, finished)) => {
                if let Some(cut) = finished.as_ref().and_then(|f| f.cut_off.clone()) {
                    error.get_or_insert(format!("response body: {cut}"));
                }
                Some(Answered {
                    status,
                    headers: again(headers),
                    body: self.body(&scrubber, finished, learned)?,
                })
            }
            None => None,
        };
        let exchange = Exchange {
            seq,
            at: rfc3339(at),
            duration_ms,
            request,
            response,
            error,
        };
        self.writer
            .lock()
            .map_err(|_| std::io::Error::other("cassette writer poisoned"))?
            .append(&exchange)
    }

    /// The line's record of a finished body. Bodies kept in memory and text side files
    /// are read back, scrubbed of secrets learned since and inside their base64
    /// payloads, and shrunk when asked; a binary side file (an image streamed to disk)
    /// stays as it was scrubbed while it passed, and is only renamed.
    fn body(
        &self,
        scrubber: &Scrubber,
        finished: Option<Finished>,
        learned: bool,
    ) -> std::io::Result<Option<Body>> {
        let Some(finished) = finished else {
            return Ok(None);
        };
        let textual = finished.textual();
        let Some(stored) = finished.stored else {
            return Ok(None);
        };
        if stored.is_empty() && finished.cut_off.is_none() {
            return Ok(None);
        }
        let json = finished.json;
        let in_memory = matches!(stored, Stored::Memory(_));
        let mut images = Vec::new();
        let changed = if learned || self.shrink_images || in_memory || textual {
            let mut bytes = stored.bytes()?;
            if learned {
                bytes = scrubber.bytes(&bytes).into_owned();
            }
            if let Some(nested) = scrubber.inside_base64(&bytes) {
                bytes = nested;
            }
            if self.shrink_images {
                let shrunk = if json {
                    shrink::shrink_json(&bytes)
                } else if finished
                    .media
                    .to_ascii_lowercase()
                    .starts_with("multipart/form-data")
                {
                    shrink::shrink_form(&finished.media, &bytes)
                } else {
                    shrink::small_image(&bytes, "").map(|(b, note)| (b, vec![note]))
                };
                if let Some((small, notes)) = shrunk {
                    bytes = small;
                    images = notes;
                }
            }
            Some(bytes)
        } else {
            None
        };
        let mut body = match (changed, stored) {
            // A body small enough for memory stays in the line.
            (Some(bytes), Stored::Memory(_)) => Body::inline(&bytes, json),
            (Some(bytes), Stored::File { path, .. }) if bytes.len() <= INLINE_MAX => {
                std::fs::remove_file(&path)?;
                Body::inline(&bytes, json)
            }
            (Some(bytes), Stored::File { path, name, .. }) => {
                std::fs::write(&path, &bytes)?;
                let name = rename_side(&path, &name, &bytes, json)?;
                Body::side_file(name, bytes.len() as u64, Some(sha256_hex(&bytes)))
            }
            // Streamed to disk and not read back: hashing it would cost the forwarding
            // more than the copy itself, so it has its length only.
            (None, Stored::File { path, name, len }) => {
                let mut head = vec![0u8; 16];
                let n = std::io::Read::read(&mut std::fs::File::open(&path)?, &mut head)?;
                head.truncate(n);
                let name = rename_side(&path, &name, &head, json)?;
                Body::side_file(name, len, None)
            }
            (None, Stored::Memory(bytes)) => Body::inline(&bytes, json),
        };
        body.images = images;
        body.encoding = finished.encoding;
        body.truncated = finished.cut_off.is_some();
        Ok(Some(body))
    }
}

/// Renames a side file `….part` after what it holds (`.json`, `.png`, `.bin`…); the new
/// name, relative to the cassette's directory.
fn rename_side(path: &Path, name: &str, head: &[u8], json: bool) -> std::io::Result<String> {
    let ext = if json {
        "json"
    } else {
        match crate::spec::sniff_image(head) {
            Some("jpeg") => "jpg",
            Some(kind) => kind,
            None => "bin",
        }
    };
    let new_path: PathBuf = path.with_extension(ext);
    std::fs::rename(path, &new_path)?;
    Ok(format!("{}.{ext}", name.trim_end_matches(".part")))
}
