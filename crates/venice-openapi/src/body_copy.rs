//! [`BodyCopy`]: the bytes of a success body exactly as the server sent them, kept
//! beside the generated code's typed decoding.
//!
//! Why: a typed response keeps only the fields the spec models. A caller that must pass
//! the server's answer on untouched (the CLI's `models --json --as-sent`, which captures the
//! provider's catalogue for `venice-mock --catalogue`) still sends the request through
//! the generated builder, with its hooks and the spec's path, and reads the copy.

use std::sync::{Arc, Mutex, MutexGuard};

/// The body of the last successful response of the requests sent with a
/// [`ClientState`](crate::ClientState) that holds this copy
/// ([`ClientState::copy_body`](crate::ClientState::copy_body)).
///
/// It is filled as the generated code reads the body (after decompression, within the
/// client's size cap) and cleared when the next successful response starts. Clones share
/// one buffer.
///
/// ```
/// use venice_openapi::{BodyCopy, Client, ClientState};
///
/// let copy = BodyCopy::new();
/// let client = Client::new(
///     "http://127.0.0.1:9/api/v1",
///     ClientState::anonymous().copy_body(copy.clone()),
/// );
/// // … `client.list_models().send().await` …, then:
/// assert!(copy.take().is_empty()); // nothing was sent here
/// # drop(client);
/// ```
#[derive(Clone, Default)]
pub struct BodyCopy(Arc<Mutex<Vec<u8>>>);

impl BodyCopy {
    /// An empty copy.
    pub fn new() -> Self {
        Self::default()
    }

    /// The bytes copied so far, leaving the copy empty.
    pub fn take(&self) -> Vec<u8> {
        std::mem::take(&mut *self.lock())
    }

    pub(crate) fn clear(&self) {
        self.lock().clear();
    }

    pub(crate) fn extend(&self, chunk: &[u8]) {
        self.lock().extend_from_slice(chunk);
    }

    fn lock(&self) -> MutexGuard<'_, Vec<u8>> {
        // A panic while holding the lock leaves plain bytes behind: still usable.
        self.0
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

impl std::fmt::Debug for BodyCopy {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("BodyCopy")
            .field("bytes", &self.lock().len())
            .finish()
    }
}
