//! The recorded copy of one body: decoded from its `Content-Encoding`, scrubbed while it
//! passes, kept in memory up to [`INLINE_MAX`] bytes and in a side file beyond.

use std::io::Write as _;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};

use crate::cassette::{CassetteWriter, INLINE_MAX};
use crate::scrub::{Scrubber, StreamScrub};

/// Where a body's side file goes, if it needs one.
#[derive(Clone)]
pub(super) struct SideFile {
    pub writer: Arc<Mutex<CassetteWriter>>,
    pub seq: u64,
    pub role: &'static str,
}

/// A finished body copy.
pub(super) enum Stored {
    Memory(Vec<u8>),
    File {
        path: PathBuf,
        name: String,
        len: u64,
    },
}

impl Stored {
    /// The bytes, reading the side file back.
    pub fn bytes(&self) -> std::io::Result<Vec<u8>> {
        match self {
            Stored::Memory(b) => Ok(b.clone()),
            Stored::File { path, .. } => std::fs::read(path),
        }
    }

    /// No bytes at all.
    pub fn is_empty(&self) -> bool {
        match self {
            Stored::Memory(b) => b.is_empty(),
            Stored::File { len, .. } => *len == 0,
        }
    }
}

/// Scrubbed bytes go here: memory, then a side file.
struct Store {
    scrub: Option<StreamScrub>,
    memory: Vec<u8>,
    file: Option<(std::fs::File, PathBuf, String)>,
    side: SideFile,
    len: u64,
}

impl Store {
    fn write_scrubbed(&mut self, data: &[u8]) -> std::io::Result<()> {
        self.len += data.len() as u64;
        if let Some((file, _, _)) = &mut self.file {
            return file.write_all(data);
        }
        self.memory.extend_from_slice(data);
        if self.memory.len() > INLINE_MAX {
            let (name, path) = self
                .side
                .writer
                .lock()
                .map_err(|_| std::io::Error::other("cassette writer poisoned"))?
                .side_file(self.side.seq, self.side.role, "part")?;
            let mut file = std::fs::File::create(&path)?;
            file.write_all(&self.memory)?;
            self.memory = Vec::new();
            self.file = Some((file, path, name));
        }
        Ok(())
    }

    fn finish(mut self) -> std::io::Result<Stored> {
        let mut tail = Vec::new();
        if let Some(scrub) = self.scrub.take() {
            scrub.finish(&mut tail);
        }
        self.write_scrubbed(&tail)?;
        Ok(match self.file {
            Some((mut file, path, name)) => {
                file.flush()?;
                Stored::File {
                    path,
                    name,
                    len: self.len,
                }
            }
            None => Stored::Memory(self.memory),
        })
    }
}

impl std::io::Write for Store {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        let mut result = Ok(());
        match self.scrub.take() {
            Some(mut scrub) => {
                scrub.push_with(buf, &mut |bytes| {
                    if result.is_ok() {
                        result = self.write_scrubbed(bytes);
                    }
                });
                self.scrub = Some(scrub);
            }
            None => result = self.write_scrubbed(buf),
        }
        result.map(|()| buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

enum Decoder {
    Identity(Store),
    Gzip(Box<flate2::write::GzDecoder<Store>>),
    Brotli(Box<brotli::DecompressorWriter<Store>>),
}

/// A body copy being made.
pub(super) struct Copy {
    decoder: Decoder,
    error: Option<String>,
}

impl Copy {
    /// A copy scrubbed by `scrubber`, decoded from `encoding` (`gzip`, `br`).
    pub fn new(side: SideFile, scrubber: &Scrubber, encoding: Option<&str>) -> Self {
        let store = Store {
            scrub: Some(scrubber.stream()),
            memory: Vec::new(),
            file: None,
            side,
            len: 0,
        };
        let decoder = match encoding {
            Some("gzip") | Some("x-gzip") => {
                Decoder::Gzip(Box::new(flate2::write::GzDecoder::new(store)))
            }
            Some("br") => {
                Decoder::Brotli(Box::new(brotli::DecompressorWriter::new(store, 64 * 1024)))
            }
            _ => Decoder::Identity(store),
        };
        Self {
            decoder,
            error: None,
        }
    }

    /// Adds a chunk as it arrived on the wire.
    pub fn push(&mut self, chunk: &[u8]) {
        if self.error.is_some() {
            return;
        }
        let result = match &mut self.decoder {
            Decoder::Identity(s) => s.write_all(chunk),
            Decoder::Gzip(d) => d.write_all(chunk),
            Decoder::Brotli(d) => d.write_all(chunk),
        };
        if let Err(e) = result {
            self.error = Some(format!("copying the body: {e}"));
        }
    }

    /// The stored copy, and why copying failed part-way, if it did.
    pub fn finish(self) -> (std::io::Result<Stored>, Option<String>) {
        let store = match self.decoder {
            Decoder::Identity(s) => Ok(s),
            Decoder::Gzip(d) => d.finish(),
            Decoder::Brotli(d) => d.into_inner().map_err(|_| {
                std::io::Error::new(std::io::ErrorKind::InvalidData, "incomplete brotli stream")
            }),
        };
        match store {
            Ok(store) => (store.finish(), self.error),
            Err(e) => (Err(e), self.error),
        }
    }
}
