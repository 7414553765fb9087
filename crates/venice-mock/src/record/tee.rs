//! A tap on a body stream: every chunk goes on to its reader unchanged and, as a
//! reference-counted copy, to a copier thread that decodes, scrubs and stores it
//! ([`Copy`]). The copier runs beside the forwarding, so the stream is not slowed by
//! scrubbing or disk writes; at most [`IN_FLIGHT_KIB`] KiB wait for it (the stream waits
//! when the copier falls that far behind), so memory stays flat.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use bytes::Bytes;
use futures_util::{Stream, StreamExt as _};
use tokio::sync::{AcquireError, OwnedSemaphorePermit, Semaphore, mpsc, oneshot};

use super::copy::Copy;

/// KiB of one body that may wait for its copier.
pub(super) const IN_FLIGHT_KIB: u32 = 8 * 1024;

/// The end of a copied body: the copy and, if the body did not end cleanly, why.
pub(super) struct Ended {
    pub copy: Copy,
    pub cut_off: Option<String>,
}

enum Msg {
    Chunk(Bytes, OwnedSemaphorePermit),
    End(Option<String>),
}

type Acquire = Pin<Box<dyn Future<Output = Result<OwnedSemaphorePermit, AcquireError>> + Send>>;

/// The tapped stream.
pub(super) struct Tee<S> {
    inner: S,
    to_copier: Option<mpsc::UnboundedSender<Msg>>,
    budget: Arc<Semaphore>,
    waiting: Option<(Bytes, Acquire)>,
    expected: Option<u64>,
    seen: u64,
}

/// Taps `inner`; the receiver gets the finished copy. `expected` is the declared length:
/// a reader that knows it stops polling there, which ends the copy too.
pub(super) fn tee<S>(
    inner: S,
    copy: Copy,
    expected: Option<u64>,
) -> (Tee<S>, oneshot::Receiver<Ended>) {
    let (to_copier, mut chunks) = mpsc::unbounded_channel::<Msg>();
    let (done, ended) = oneshot::channel();
    tokio::task::spawn_blocking(move || {
        let mut copy = copy;
        let mut cut_off = Some("the body was not read to its end".to_owned());
        while let Some(msg) = chunks.blocking_recv() {
            match msg {
                Msg::Chunk(chunk, permit) => {
                    copy.push(&chunk);
                    drop(permit);
                }
                Msg::End(why) => {
                    cut_off = why;
                    break;
                }
            }
        }
        let _ = done.send(Ended { copy, cut_off });
    });
    let tee = Tee {
        inner,
        to_copier: Some(to_copier),
        budget: Arc::new(Semaphore::new(IN_FLIGHT_KIB as usize)),
        waiting: None,
        expected,
        seen: 0,
    };
    (tee, ended)
}

impl<S> Tee<S> {
    fn end(&mut self, cut_off: Option<String>) {
        if let Some(tx) = self.to_copier.take() {
            let _ = tx.send(Msg::End(cut_off));
        }
    }
}

impl<S> Drop for Tee<S> {
    fn drop(&mut self) {
        let whole = self.expected.is_some_and(|n| self.seen >= n);
        self.end((!whole).then(|| "the body was not read to its end".to_owned()));
    }
}

impl<S, E> Stream for Tee<S>
where
    S: Stream<Item = Result<Bytes, E>> + Unpin,
    E: std::fmt::Display,
{
    type Item = Result<Bytes, E>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        loop {
            if let Some((_, acquire)) = &mut self.waiting {
                let Poll::Ready(permit) = acquire.as_mut().poll(cx) else {
                    return Poll::Pending;
                };
                let Some((chunk, _)) = self.waiting.take() else {
                    continue;
                };
                if let (Some(tx), Ok(permit)) = (&self.to_copier, permit) {
                    let _ = tx.send(Msg::Chunk(chunk.clone(), permit));
                }
                self.seen += chunk.len() as u64;
                if self.expected.is_some_and(|n| self.seen >= n) {
                    self.end(None);
                }
                return Poll::Ready(Some(Ok(chunk)));
            }
            match self.inner.poll_next_unpin(cx) {
                Poll::Ready(Some(Ok(chunk))) => {
                    let kib = u32::try_from(chunk.len().div_ceil(1024))
                        .unwrap_or(IN_FLIGHT_KIB)
                        .clamp(1, IN_FLIGHT_KIB);
                    let acquire = Box::pin(Arc::clone(&self.budget).acquire_many_owned(kib));
                    self.waiting = Some((chunk, acquire));
                }
                Poll::Ready(Some(Err(e))) => {
                    self.end(Some(e.to_string()));
                    return Poll::Ready(Some(Err(e)));
                }
                Poll::Ready(None) => {
                    self.end(None);
                    return Poll::Ready(None);
                }
                Poll::Pending => return Poll::Pending,
            }
        }
    }
}
