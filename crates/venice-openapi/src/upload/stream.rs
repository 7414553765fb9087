//! The body stream of a request with uploads: literal pieces and sources, read slice
//! by slice so memory stays flat whatever the upload's size, re-opened per attempt.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use bytes::Bytes;
use tokio::io::AsyncReadExt;

use super::source::{Encoding, UploadSource};

/// Bytes read from a file (or taken from memory) per slice; a multiple of 3 so that the
/// base64 of the slices, concatenated, is the base64 of the whole (padding only at the
/// very end).
pub(crate) const SLICE: usize = 3 * 64 * 1024;

/// One piece of a body.
#[derive(Clone, Debug)]
pub(crate) enum Part {
    /// Sent as it is.
    Raw(Bytes),
    /// An upload's data (or text), in this encoding.
    Source(UploadSource, Encoding),
}

impl Part {
    /// Bytes this piece puts on the wire.
    pub(crate) fn wire_len(&self) -> u64 {
        match self {
            Part::Raw(b) => b.len() as u64,
            Part::Source(s, Encoding::Base64) => s.json_len(),
            Part::Source(s, Encoding::Raw) => s.data_len().unwrap_or(0),
        }
    }
}

/// The data being sent now.
enum Active {
    File {
        file: tokio::fs::File,
        remaining: u64,
        path: PathBuf,
        encoding: Encoding,
    },
    /// In-memory bytes being base64-encoded, from `at`.
    Memory { data: Bytes, at: usize },
}

struct State {
    parts: Arc<[Part]>,
    next: usize,
    active: Option<Active>,
}

fn changed(path: &Path) -> std::io::Error {
    std::io::Error::other(format!(
        "{} changed size while it was being uploaded",
        path.display()
    ))
}

fn encoded(data: &[u8]) -> Bytes {
    let text: Vec<u8> = base64_simd::STANDARD.encode_type(data);
    Bytes::from(text)
}

/// The next slice of `active`, or `None` when it is exhausted.
async fn next_slice(active: &mut Active) -> std::io::Result<Option<Bytes>> {
    match active {
        Active::Memory { data, at } => {
            if *at >= data.len() {
                return Ok(None);
            }
            let end = (*at + SLICE).min(data.len());
            let slice = encoded(&data[*at..end]);
            *at = end;
            Ok(Some(slice))
        }
        Active::File {
            file,
            remaining,
            path,
            encoding,
        } => {
            if *remaining == 0 {
                // The promised Content-Length is already fixed: a file that grew
                // must fail the upload, not be cut silently.
                let mut probe = [0u8; 1];
                if file.read(&mut probe).await? != 0 {
                    return Err(changed(path));
                }
                return Ok(None);
            }
            let want = usize::try_from((*remaining).min(SLICE as u64)).unwrap_or(SLICE);
            let mut buf = vec![0u8; want];
            file.read_exact(&mut buf).await.map_err(|e| {
                if e.kind() == std::io::ErrorKind::UnexpectedEof {
                    changed(path)
                } else {
                    e
                }
            })?;
            *remaining -= want as u64;
            Ok(Some(match encoding {
                Encoding::Base64 => encoded(&buf),
                Encoding::Raw => Bytes::from(buf),
            }))
        }
    }
}

/// The bytes of `parts`, in order.
pub(crate) fn stream(
    parts: Arc<[Part]>,
) -> impl futures::Stream<Item = std::io::Result<Bytes>> + Send + 'static {
    let state = State {
        parts,
        next: 0,
        active: None,
    };
    futures::stream::try_unfold(state, |mut st| async move {
        loop {
            if let Some(active) = &mut st.active {
                match next_slice(active).await? {
                    Some(bytes) => return Ok(Some((bytes, st))),
                    None => st.active = None,
                }
                continue;
            }
            let Some(part) = st.parts.get(st.next).cloned() else {
                return Ok(None);
            };
            st.next += 1;
            match part {
                Part::Raw(b) if b.is_empty() => {}
                Part::Raw(b)
                | Part::Source(UploadSource::Text(b), _)
                | Part::Source(UploadSource::Bytes(b), Encoding::Raw) => {
                    if !b.is_empty() {
                        return Ok(Some((b, st)));
                    }
                }
                Part::Source(UploadSource::Bytes(data), Encoding::Base64) => {
                    st.active = Some(Active::Memory { data, at: 0 });
                }
                Part::Source(UploadSource::File { path, len }, encoding) => {
                    let file = tokio::fs::File::open(&path).await?;
                    st.active = Some(Active::File {
                        file,
                        remaining: len,
                        path,
                        encoding,
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

    #[tokio::test]
    async fn a_file_that_changed_size_fails_the_stream() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("f.bin");
        std::fs::write(&path, [1u8; 10]).unwrap();
        for encoding in [Encoding::Base64, Encoding::Raw] {
            for len in [9u64, 11] {
                let parts: Arc<[Part]> = vec![Part::Source(
                    UploadSource::File {
                        path: path.clone(),
                        len,
                    },
                    encoding,
                )]
                .into();
                let err = stream(parts).try_collect::<Vec<_>>().await.unwrap_err();
                assert!(err.to_string().contains("changed size"), "{err}");
            }
        }
    }

    #[tokio::test]
    async fn memory_and_files_stream_in_slices_of_the_promised_length() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("f.bin");
        // Not a multiple of 3 and longer than two slices.
        let data: Vec<u8> = (0..SLICE * 2 + 7).map(|i| (i * 31 % 251) as u8).collect();
        std::fs::write(&path, &data).unwrap();
        let file = UploadSource::File {
            path,
            len: data.len() as u64,
        };
        let memory = UploadSource::Bytes(Bytes::from(data.clone()));
        for source in [file, memory] {
            for encoding in [Encoding::Base64, Encoding::Raw] {
                let part = Part::Source(source.clone(), encoding);
                let promised = part.wire_len();
                let chunks: Vec<Bytes> = stream(vec![part].into()).try_collect().await.unwrap();
                let sent = chunks.concat();
                assert_eq!(sent.len() as u64, promised);
                let back = match encoding {
                    Encoding::Base64 => base64_simd::STANDARD.decode_to_vec(&sent).unwrap(),
                    Encoding::Raw => sent,
                };
                assert_eq!(back, data);
                // Flat memory: no chunk is larger than one encoded slice.
                assert!(
                    chunks
                        .iter()
                        .all(|c| c.len() <= SLICE / 3 * 4 || c.len() == data.len())
                );
            }
        }
    }
}
