//! A connection's outbound queue: bounded by messages and by bytes. The reader (and,
//! later, topic fan-out) push frames without waiting; a push that finds the queue full
//! closes the connection as a slow consumer (4008) instead of blocking anyone.

use axum::extract::ws::Utf8Bytes;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

/// What the writer task is asked to send.
#[derive(Debug)]
pub enum Out {
    Text(Utf8Bytes),
    /// Send everything queued before it, then close with this code.
    Close(u16, &'static str),
}

#[derive(Debug)]
struct Shared {
    queued_bytes: AtomicUsize,
    max_bytes: usize,
    /// Cancelled when the connection must end now, without flushing the queue.
    abort: CancellationToken,
    /// The close frame to send when aborting.
    reason: Mutex<Option<(u16, &'static str)>>,
}

/// The pushing side; cheap to clone.
#[derive(Clone, Debug)]
pub struct Outbox {
    tx: mpsc::Sender<Out>,
    shared: Arc<Shared>,
}

/// The writer task's side.
#[derive(Debug)]
pub struct Inbox {
    rx: mpsc::Receiver<Out>,
    shared: Arc<Shared>,
}

/// The queue was full; the connection is being closed with 4008.
#[derive(Debug, PartialEq, Eq)]
pub struct Full;

pub fn channel(max_messages: usize, max_bytes: usize) -> (Outbox, Inbox) {
    let (tx, rx) = mpsc::channel(max_messages.max(1));
    let shared = Arc::new(Shared {
        queued_bytes: AtomicUsize::new(0),
        max_bytes,
        abort: CancellationToken::new(),
        reason: Mutex::new(None),
    });
    (
        Outbox {
            tx,
            shared: shared.clone(),
        },
        Inbox { rx, shared },
    )
}

impl Outbox {
    /// Queues one text frame, or closes the connection with 4008 when the client has
    /// fallen too far behind.
    pub fn push(&self, text: Utf8Bytes) -> Result<(), Full> {
        let len = text.len();
        let queued = self.shared.queued_bytes.fetch_add(len, Ordering::AcqRel);
        if queued + len > self.shared.max_bytes {
            self.shared.queued_bytes.fetch_sub(len, Ordering::AcqRel);
            self.abort(protocol::close::SLOW_CONSUMER, "slow consumer: resume");
            return Err(Full);
        }
        if self.tx.try_send(Out::Text(text)).is_err() {
            self.shared.queued_bytes.fetch_sub(len, Ordering::AcqRel);
            self.abort(protocol::close::SLOW_CONSUMER, "slow consumer: resume");
            return Err(Full);
        }
        Ok(())
    }

    /// Closes after everything already queued is sent (a full queue closes at once).
    pub fn close(&self, code: u16, reason: &'static str) {
        if self.tx.try_send(Out::Close(code, reason)).is_err() {
            self.abort(code, reason);
        }
    }

    /// Closes now, dropping whatever is queued. The first reason given wins.
    pub fn abort(&self, code: u16, reason: &'static str) {
        let mut slot = self.shared.reason.lock().unwrap_or_else(|p| p.into_inner());
        slot.get_or_insert((code, reason));
        drop(slot);
        self.shared.abort.cancel();
    }

    /// Resolves when the connection is being torn down.
    pub async fn aborted(&self) {
        self.shared.abort.cancelled().await
    }

    pub fn is_aborted(&self) -> bool {
        self.shared.abort.is_cancelled()
    }
}

impl Inbox {
    /// The next frame to send; `None` when the connection is aborted or every sender is
    /// gone.
    pub async fn next(&mut self) -> Option<Out> {
        tokio::select! {
            biased;
            _ = self.shared.abort.cancelled() => None,
            out = self.rx.recv() => {
                if let Some(Out::Text(text)) = &out {
                    self.shared.queued_bytes.fetch_sub(text.len(), Ordering::AcqRel);
                }
                out
            }
        }
    }

    /// The next frame if one is queued now, without waiting (the writer batches what
    /// has piled up into one flush).
    pub fn try_next(&mut self) -> Option<Out> {
        if self.shared.abort.is_cancelled() {
            return None;
        }
        let out = self.rx.try_recv().ok()?;
        if let Out::Text(text) = &out {
            self.shared
                .queued_bytes
                .fetch_sub(text.len(), Ordering::AcqRel);
        }
        Some(out)
    }

    /// Resolves when the connection is aborted.
    pub async fn aborted(&self) {
        self.shared.abort.cancelled().await
    }

    /// The close frame an abort asked for.
    pub fn abort_reason(&self) -> Option<(u16, &'static str)> {
        *self.shared.reason.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Marks the connection as ended (the writer stopped), so pushers stop too.
    pub fn finish(&self) {
        self.shared.abort.cancel();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn full_by_count_aborts_with_4008() {
        let (outbox, inbox) = channel(2, 1 << 20);
        assert_eq!(outbox.push("a".into()), Ok(()));
        assert_eq!(outbox.push("b".into()), Ok(()));
        assert_eq!(outbox.push("c".into()), Err(Full));
        assert!(outbox.is_aborted());
        assert_eq!(inbox.abort_reason().map(|r| r.0), Some(4008));
    }

    #[tokio::test]
    async fn full_by_bytes_aborts_and_sent_frames_free_budget() {
        let (outbox, mut inbox) = channel(100, 10);
        assert_eq!(outbox.push("12345".into()), Ok(()));
        assert_eq!(outbox.push("12345".into()), Ok(()));
        assert!(matches!(inbox.next().await, Some(Out::Text(_))));
        assert_eq!(
            outbox.push("12345".into()),
            Ok(()),
            "a sent frame frees its bytes"
        );
        assert_eq!(outbox.push("x".into()), Err(Full));
        assert!(inbox.next().await.is_none(), "aborted: the rest is dropped");
    }

    #[tokio::test]
    async fn close_is_sent_after_queued_frames() {
        let (outbox, mut inbox) = channel(10, 1 << 20);
        assert_eq!(outbox.push("last words".into()), Ok(()));
        outbox.close(1008, "bye");
        assert!(matches!(inbox.next().await, Some(Out::Text(t)) if t.as_str() == "last words"));
        assert!(matches!(inbox.next().await, Some(Out::Close(1008, "bye"))));
    }
}
