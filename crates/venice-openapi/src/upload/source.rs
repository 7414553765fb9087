//! [`UploadSource`]: where an upload's bytes come from, and how many go on the wire.

use std::path::PathBuf;

use bytes::Bytes;

/// A value sent in place of a placeholder of the request body.
#[derive(Clone, Debug)]
#[non_exhaustive]
pub enum UploadSource {
    /// A file of exactly `len` bytes, read while the request is sent: base64-encoded
    /// (standard alphabet, padded) in a JSON body, as it is in a form.
    File {
        /// The file.
        path: PathBuf,
        /// Its length; a file that changes size before it is sent fails the request.
        len: u64,
    },
    /// Bytes in memory, shared by every attempt without copying: base64-encoded slice
    /// by slice in a JSON body, sent as they are in a form.
    Bytes(Bytes),
    /// Text sent as it is in a JSON string, shared by every attempt without copying:
    /// base64, a data URI or a URL (nothing that needs JSON escaping). A form cannot
    /// carry it as a file.
    Text(Bytes),
}

impl UploadSource {
    /// Bytes of data (a file's or the in-memory bytes), `None` for text.
    pub(crate) fn data_len(&self) -> Option<u64> {
        match self {
            UploadSource::File { len, .. } => Some(*len),
            UploadSource::Bytes(b) => Some(b.len() as u64),
            UploadSource::Text(_) => None,
        }
    }

    /// Bytes it takes inside a JSON string.
    pub(crate) fn json_len(&self) -> u64 {
        match (self, self.data_len()) {
            (UploadSource::Text(t), _) => t.len() as u64,
            (_, len) => len.unwrap_or(0).div_ceil(3) * 4,
        }
    }
}

/// An upload as registered: its source and the media type of its form part.
#[derive(Clone, Debug)]
pub(crate) struct Registered {
    pub source: UploadSource,
    pub media_type: String,
}

/// How a source's data goes on the wire.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Encoding {
    /// Inside a JSON string.
    Base64,
    /// A form's file part.
    Raw,
}
