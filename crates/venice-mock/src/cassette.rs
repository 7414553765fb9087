//! The cassette format: recorded HTTP exchanges, one JSON object a line.
//!
//! A cassette is a text file (`traffic.cassette`) whose first line is a [`Header`] and
//! every other line one [`Exchange`] (request and response, headers in the order they
//! were sent), appended as each exchange completes. Bodies up to [`INLINE_MAX`] bytes
//! are kept in the line (JSON verbatim, UTF-8 text as a string, anything else as
//! base64); larger ones go to a side file in the directory `<cassette file name>.d`
//! next to it, which the line names. The format is versioned ([`FORMAT_VERSION`]);
//! the mock's README documents it field by field.
//!
//! This module only reads and writes the format; what goes into it (scrubbed
//! secrets, shrunk images) is decided by the recorder.

use std::fmt;
use std::io::{BufRead as _, Write as _};
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use bytes::Bytes;
use serde::{Deserialize, Serialize};
use serde_json::value::RawValue;
use sha2::{Digest as _, Sha256};

/// The version this crate writes; it reads this one and older ones.
pub const FORMAT_VERSION: u32 = 1;

/// Bodies larger than this many bytes go to a side file.
pub const INLINE_MAX: usize = 64 * 1024;

/// The first line of a cassette.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Header {
    /// Format version ([`FORMAT_VERSION`] when written by this crate).
    pub venice_cassette: u32,
    /// What wrote it, e.g. `venice-mock 0.1.0`.
    pub recorded_by: String,
    /// The upstream base URL the traffic went to.
    pub upstream: String,
    /// When recording started (RFC 3339, UTC).
    pub started: String,
    /// Image payloads were replaced by small images of the same format and aspect.
    #[serde(default)]
    pub shrink_images: bool,
    /// Wallet addresses were replaced by stand-ins everywhere.
    #[serde(default)]
    pub redact_wallets: bool,
}

impl Header {
    /// A header for a recording that starts now.
    pub fn new(upstream: &str) -> Self {
        Self {
            venice_cassette: FORMAT_VERSION,
            recorded_by: concat!("venice-mock ", env!("CARGO_PKG_VERSION")).to_owned(),
            upstream: upstream.to_owned(),
            started: rfc3339(SystemTime::now()),
            shrink_images: false,
            redact_wallets: false,
        }
    }
}

/// One request and its response.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Exchange {
    /// Arrival order of the request (0-based); lines are in completion order.
    pub seq: u64,
    /// When the request arrived (RFC 3339 with milliseconds, UTC): the clock that
    /// absolute times in the response are relative to.
    pub at: String,
    /// From the request's arrival to the end of the response body, in milliseconds.
    pub duration_ms: u64,
    /// What the client sent.
    pub request: Message,
    /// What the upstream answered; `None` when it did not (see [`error`](Self::error)).
    pub response: Option<Response>,
    /// Why the exchange did not complete (upstream unreachable, body cut off).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

impl Exchange {
    /// [`at`](Self::at) as a time (the Unix epoch when it does not parse).
    pub fn at_time(&self) -> SystemTime {
        humantime::parse_rfc3339_weak(&self.at).unwrap_or(UNIX_EPOCH)
    }
}

/// A request as sent.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Message {
    /// HTTP method.
    pub method: String,
    /// Path as sent (with the base path, percent-encoding kept).
    pub path: String,
    /// Raw query string.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub query: Option<String>,
    /// Headers in the order sent (lower-case names); secrets are placeholders.
    pub headers: Vec<(String, String)>,
    /// The body; `None` when empty.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub body: Option<Body>,
}

/// A response as received.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Response {
    /// HTTP status.
    pub status: u16,
    /// Headers in the order received (lower-case names); a `content-encoding` the
    /// body was decoded from is moved to [`Body::encoding`].
    pub headers: Vec<(String, String)>,
    /// The body; `None` when empty.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub body: Option<Body>,
}

/// First value of a header by name (case-insensitive) in recorded headers.
pub fn header<'a>(headers: &'a [(String, String)], name: &str) -> Option<&'a str> {
    headers
        .iter()
        .find(|(n, _)| n.eq_ignore_ascii_case(name))
        .map(|(_, v)| v.as_str())
}

/// A body: exactly one of `json`, `text`, `base64` or `file` is set.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct Body {
    /// Stored length in bytes (after scrubbing and shrinking).
    pub len: u64,
    /// A JSON body, verbatim (only for JSON without raw line breaks).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub json: Option<Box<RawValue>>,
    /// A UTF-8 body that is not inline JSON.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub text: Option<String>,
    /// Any other body, base64 (standard alphabet, padded).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub base64: Option<String>,
    /// A side file, relative to the cassette's directory.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub file: Option<String>,
    /// SHA-256 (hex) of the side file's bytes; absent for a binary body streamed to
    /// disk as it passed (its `len` is checked instead).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sha256: Option<String>,
    /// The `Content-Encoding` (`gzip`, `br`) the body arrived in; it is stored decoded.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub encoding: Option<String>,
    /// Image payloads replaced by small images (`--shrink-images`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub images: Vec<ImageNote>,
    /// The body ended early (the connection failed); `len` bytes were received.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub truncated: bool,
}

/// An image payload that was replaced by a small image of the same format and aspect.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ImageNote {
    /// Where it was: a JSON pointer into the body (`/images/0`), `part:<name>#<n>` for
    /// the n-th multipart file of a field, or empty for the whole body.
    pub at: String,
    /// `png`, `jpeg`, `webp` or `gif`.
    pub format: String,
    /// Original width in pixels.
    pub width: u32,
    /// Original height in pixels.
    pub height: u32,
    /// Original length in bytes (decoded, for base64 payloads).
    pub bytes: u64,
    /// SHA-256 (hex) of the original bytes.
    pub sha256: String,
}

impl Body {
    /// A body stored in the line: JSON verbatim when it is JSON without line breaks,
    /// else text or base64.
    pub fn inline(bytes: &[u8], json_media: bool) -> Self {
        let mut body = Body {
            len: bytes.len() as u64,
            ..Body::default()
        };
        let one_line = !bytes.iter().any(|b| *b == b'\n' || *b == b'\r');
        match std::str::from_utf8(bytes) {
            Ok(text) if json_media && one_line => match RawValue::from_string(text.to_owned()) {
                Ok(raw) => body.json = Some(raw),
                Err(_) => body.text = Some(text.to_owned()),
            },
            Ok(text) => body.text = Some(text.to_owned()),
            Err(_) => {
                use base64::Engine as _;
                body.base64 = Some(base64::engine::general_purpose::STANDARD.encode(bytes));
            }
        }
        body
    }

    /// A body in a side file (`file` relative to the cassette's directory).
    pub fn side_file(file: String, len: u64, sha256: Option<String>) -> Self {
        Body {
            len,
            file: Some(file),
            sha256,
            ..Body::default()
        }
    }

    /// The bytes of an inline body (`None` for a side file or a malformed entry).
    pub fn inline_bytes(&self) -> Option<Bytes> {
        if let Some(raw) = &self.json {
            return Some(Bytes::copy_from_slice(raw.get().as_bytes()));
        }
        if let Some(text) = &self.text {
            return Some(Bytes::copy_from_slice(text.as_bytes()));
        }
        if let Some(b64) = &self.base64 {
            use base64::Engine as _;
            return base64::engine::general_purpose::STANDARD
                .decode(b64)
                .ok()
                .map(Bytes::from);
        }
        None
    }

    /// The side file's path, when the body is in one.
    pub fn file_path(&self, cassette_dir: &Path) -> Option<PathBuf> {
        self.file.as_ref().map(|f| cassette_dir.join(f))
    }

    /// The stored bytes, reading the side file (checked against its SHA-256).
    pub fn load(&self, cassette_dir: &Path) -> std::io::Result<Bytes> {
        if let Some(bytes) = self.inline_bytes() {
            return Ok(bytes);
        }
        let Some(path) = self.file_path(cassette_dir) else {
            return Err(std::io::Error::new(
                std::io::ErrorKind::InvalidData,
                "a body has none of json, text, base64 or file",
            ));
        };
        let bytes = std::fs::read(&path)?;
        if bytes.len() as u64 != self.len {
            return Err(std::io::Error::new(
                std::io::ErrorKind::InvalidData,
                format!(
                    "{} has {} bytes, the cassette says {}",
                    path.display(),
                    bytes.len(),
                    self.len
                ),
            ));
        }
        if let Some(expected) = &self.sha256
            && !expected.eq_ignore_ascii_case(&sha256_hex(&bytes))
        {
            return Err(std::io::Error::new(
                std::io::ErrorKind::InvalidData,
                format!("{} does not match its sha256", path.display()),
            ));
        }
        Ok(Bytes::from(bytes))
    }
}

/// SHA-256 of `bytes`, lower-case hex.
pub fn sha256_hex(bytes: &[u8]) -> String {
    hex(&Sha256::digest(bytes))
}

/// Lower-case hex of `bytes`.
pub(crate) fn hex(bytes: &[u8]) -> String {
    use std::fmt::Write as _;
    let mut s = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        let _ = write!(s, "{b:02x}");
    }
    s
}

/// A time as RFC 3339 with milliseconds, UTC.
pub fn rfc3339(t: SystemTime) -> String {
    humantime::format_rfc3339_millis(t).to_string()
}

/// Why a cassette could not be read or written.
#[derive(Debug)]
pub struct CassetteError {
    /// The cassette file.
    pub path: PathBuf,
    /// 1-based line, when the problem is in one.
    pub line: Option<usize>,
    /// What went wrong.
    pub kind: CassetteErrorKind,
}

/// The kinds of [`CassetteError`].
#[derive(Debug)]
#[non_exhaustive]
pub enum CassetteErrorKind {
    /// Reading or writing failed.
    Io(std::io::Error),
    /// A line is not a valid header or exchange.
    Parse(serde_json::Error),
    /// The first line is not a cassette header.
    NotACassette,
    /// Written by a newer format version than this crate reads.
    NewerVersion(u32),
}

impl fmt::Display for CassetteError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "cassette {}", self.path.display())?;
        if let Some(line) = self.line {
            write!(f, " line {line}")?;
        }
        match &self.kind {
            CassetteErrorKind::Io(_) => f.write_str(": cannot read or write it"),
            CassetteErrorKind::Parse(_) => f.write_str(": not a valid cassette line"),
            CassetteErrorKind::NotACassette => f.write_str(
                ": the first line is not a cassette header (`{\"venice_cassette\": N, ...}`)",
            ),
            CassetteErrorKind::NewerVersion(v) => write!(
                f,
                ": format version {v} is newer than this venice-mock reads ({FORMAT_VERSION})"
            ),
        }
    }
}

impl std::error::Error for CassetteError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match &self.kind {
            CassetteErrorKind::Io(e) => Some(e),
            CassetteErrorKind::Parse(e) => Some(e),
            _ => None,
        }
    }
}

/// A cassette read from disk.
#[derive(Debug, Clone)]
pub struct Cassette {
    /// Where it was read from.
    pub path: PathBuf,
    /// Its first line.
    pub header: Header,
    /// Its exchanges, in file order.
    pub exchanges: Vec<Exchange>,
}

impl Cassette {
    /// Reads a cassette (side files are read on demand, see [`Body::load`]).
    pub fn open(path: impl AsRef<Path>) -> Result<Self, CassetteError> {
        let path = path.as_ref().to_path_buf();
        let err = |line: Option<usize>, kind| CassetteError {
            path: path.clone(),
            line,
            kind,
        };
        let file = std::fs::File::open(&path).map_err(|e| err(None, CassetteErrorKind::Io(e)))?;
        let mut lines = std::io::BufReader::new(file).lines();
        let first = match lines.next() {
            Some(Ok(line)) => line,
            Some(Err(e)) => return Err(err(Some(1), CassetteErrorKind::Io(e))),
            None => return Err(err(Some(1), CassetteErrorKind::NotACassette)),
        };
        let header: Header = serde_json::from_str(&first)
            .map_err(|_| err(Some(1), CassetteErrorKind::NotACassette))?;
        if header.venice_cassette > FORMAT_VERSION {
            return Err(err(
                Some(1),
                CassetteErrorKind::NewerVersion(header.venice_cassette),
            ));
        }
        let mut exchanges = Vec::new();
        for (i, line) in lines.enumerate() {
            let number = i + 2;
            let line = line.map_err(|e| err(Some(number), CassetteErrorKind::Io(e)))?;
            if line.trim().is_empty() {
                continue;
            }
            let exchange: Exchange = serde_json::from_str(&line)
                .map_err(|e| err(Some(number), CassetteErrorKind::Parse(e)))?;
            exchanges.push(exchange);
        }
        Ok(Self {
            path,
            header,
            exchanges,
        })
    }

    /// The directory side files are relative to (the cassette's own).
    pub fn dir(&self) -> &Path {
        self.path.parent().unwrap_or(Path::new("."))
    }
}

/// Appends exchanges to a cassette file, one line each, flushed as written.
#[derive(Debug)]
pub struct CassetteWriter {
    path: PathBuf,
    file: std::fs::File,
    side_dir_name: String,
}

impl CassetteWriter {
    /// Creates (or truncates) `path` and writes the header line.
    pub fn create(path: impl AsRef<Path>, header: &Header) -> Result<Self, CassetteError> {
        let path = path.as_ref().to_path_buf();
        let io = |e| CassetteError {
            path: path.clone(),
            line: None,
            kind: CassetteErrorKind::Io(e),
        };
        let name = path
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_else(|| "cassette".to_owned());
        let mut file = std::fs::File::create(&path).map_err(io)?;
        let mut line = serde_json::to_vec(header).map_err(|e| CassetteError {
            path: path.clone(),
            line: Some(1),
            kind: CassetteErrorKind::Parse(e),
        })?;
        line.push(b'\n');
        file.write_all(&line).map_err(io)?;
        // A stale side directory of an earlier recording would mislead a reader.
        let side = path.with_file_name(format!("{name}.d"));
        if side.is_dir() {
            std::fs::remove_dir_all(&side).map_err(io)?;
        }
        Ok(Self {
            path,
            file,
            side_dir_name: format!("{name}.d"),
        })
    }

    /// The cassette file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The directory of side files (`<cassette file name>.d`, next to it; it exists only
    /// once a side file was made).
    pub fn side_dir(&self) -> PathBuf {
        self.path.with_file_name(&self.side_dir_name)
    }

    /// A new side file for exchange `seq` (`role`: `request` or `response`): its name
    /// relative to the cassette's directory, and its path (the directory is created).
    pub fn side_file(&self, seq: u64, role: &str, ext: &str) -> std::io::Result<(String, PathBuf)> {
        let dir = self.side_dir();
        std::fs::create_dir_all(&dir)?;
        let name = format!("{seq:06}-{role}.{ext}");
        Ok((format!("{}/{name}", self.side_dir_name), dir.join(name)))
    }

    /// Appends one exchange as a line and flushes it.
    pub fn append(&mut self, exchange: &Exchange) -> std::io::Result<()> {
        let mut line = serde_json::to_vec(exchange)?;
        line.push(b'\n');
        self.file.write_all(&line)?;
        self.file.flush()
    }
}

/// `t` moved by `delta_ms` (may be negative).
pub(crate) fn shifted(t: SystemTime, delta_ms: i128) -> SystemTime {
    let d = Duration::from_millis(delta_ms.unsigned_abs().min(u64::MAX as u128) as u64);
    if delta_ms >= 0 {
        t.checked_add(d).unwrap_or(t)
    } else {
        t.checked_sub(d).unwrap_or(t)
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn bodies_keep_their_bytes() {
        let json = br#"{"b":1,  "a":[2,3]}"#;
        let b = Body::inline(json, true);
        assert!(b.json.is_some());
        assert_eq!(b.inline_bytes().unwrap(), &json[..]);
        let pretty = b"{\n  \"a\": 1\n}";
        let b = Body::inline(pretty, true);
        assert_eq!(b.text.as_deref(), Some("{\n  \"a\": 1\n}"));
        let bin = [0u8, 159, 146, 150];
        let b = Body::inline(&bin, false);
        assert!(b.base64.is_some());
        assert_eq!(b.inline_bytes().unwrap(), &bin[..]);
        let not_json = b"{oops";
        assert_eq!(Body::inline(not_json, true).text.as_deref(), Some("{oops"));
    }

    #[test]
    fn a_cassette_round_trips_through_its_lines() {
        let dir = std::env::temp_dir().join(format!("cassette-unit-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("t.cassette");
        let mut w = CassetteWriter::create(&path, &Header::new("http://up/api/v1")).unwrap();
        let (name, side) = w.side_file(1, "response", "bin").unwrap();
        std::fs::write(&side, b"side bytes").unwrap();
        let exchange = Exchange {
            seq: 1,
            at: rfc3339(SystemTime::now()),
            duration_ms: 3,
            request: Message {
                method: "POST".into(),
                path: "/api/v1/image/generate".into(),
                query: None,
                headers: vec![("content-type".into(), "application/json".into())],
                body: Some(Body::inline(br#"{"prompt":"p"}"#, true)),
            },
            response: Some(Response {
                status: 200,
                headers: vec![("x-b".into(), "1".into()), ("x-a".into(), "2".into())],
                body: Some(Body::side_file(name, 10, Some(sha256_hex(b"side bytes")))),
            }),
            error: None,
        };
        w.append(&exchange).unwrap();
        let c = Cassette::open(&path).unwrap();
        assert_eq!(c.header.venice_cassette, FORMAT_VERSION);
        let e = &c.exchanges[0];
        let resp = e.response.as_ref().unwrap();
        assert_eq!(resp.headers[0].0, "x-b");
        assert_eq!(
            resp.body.as_ref().unwrap().load(c.dir()).unwrap(),
            &b"side bytes"[..]
        );
        assert_eq!(
            e.request.body.as_ref().unwrap().load(c.dir()).unwrap(),
            &br#"{"prompt":"p"}"#[..]
        );
        // A tampered side file is refused (same length, other bytes).
        std::fs::write(&side, b"other byte").unwrap();
        assert!(resp.body.as_ref().unwrap().load(c.dir()).is_err());
        // A newer format is refused with a message that says so.
        std::fs::write(
            &path,
            "{\"venice_cassette\":99,\"recorded_by\":\"x\",\"upstream\":\"u\",\"started\":\"s\"}\n",
        )
        .unwrap();
        let e = Cassette::open(&path).unwrap_err();
        assert!(e.to_string().contains("version 99"), "{e}");
        std::fs::write(&path, "hello\n").unwrap();
        assert!(matches!(
            Cassette::open(&path).unwrap_err().kind,
            CassetteErrorKind::NotACassette
        ));
        let _ = std::fs::remove_dir_all(&dir);
    }
}
