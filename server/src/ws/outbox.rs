//! A connection's outbound queue: bounded by messages and by bytes. The reader (and,
//! later, topic fan-out) push frames without waiting; a push that finds the queue full
//! closes the connection as a slow consumer (4008) instead of blocking anyone.

use axum::extract::ws::Utf8Bytes;
use std::collections::VecDeque;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use tokio::sync::Notify;
use tokio_util::sync::CancellationToken;

/// What the writer task is asked to send.
#[derive(Debug)]
pub enum Out {
    Text(Utf8Bytes),
    /// Send everything queued before it, then close with this code.
    Close(u16, &'static str),
}

/// A queue that has drained keeps at most this many slots: an idle connection holds
/// no memory for the burst it once had.
const KEEP_SLOTS: usize = 8;

/// The queue itself: a deque behind a lock rather than a channel, since a channel
/// allocates its first block (32 slots) when it is made and an idle connection would
/// carry it for its whole life; the deque allocates at the first push.
#[derive(Debug)]
struct Shared {
    queue: Mutex<VecDeque<Out>>,
    /// Woken by a push, and when the last pusher is gone.
    ready: Notify,
    /// Live [`Outbox`] handles; none left means nothing more can come.
    senders: AtomicUsize,
    max_messages: usize,
    queued_bytes: AtomicUsize,
    max_bytes: usize,
    /// Cancelled when the connection must end now, without flushing the queue.
    abort: CancellationToken,
    /// The close frame to send when aborting.
    reason: Mutex<Option<(u16, &'static str)>>,
}

impl Shared {
    fn queue(&self) -> MutexGuard<'_, VecDeque<Out>> {
        self.queue.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Queues `out` unless the queue holds `max_messages` already.
    fn offer(&self, out: Out) -> bool {
        let mut queue = self.queue();
        if queue.len() >= self.max_messages {
            return false;
        }
        queue.push_back(out);
        drop(queue);
        self.ready.notify_one();
        true
    }

    /// The next queued message (a close too unless `text_only`), its bytes released.
    fn take(&self, text_only: bool) -> Option<Out> {
        let mut queue = self.queue();
        let out = match queue.front() {
            Some(Out::Close(..)) if text_only => return None,
            _ => queue.pop_front(),
        };
        if queue.is_empty() && queue.capacity() > KEEP_SLOTS {
            queue.shrink_to(KEEP_SLOTS);
        }
        drop(queue);
        if let Some(Out::Text(text)) = &out {
            self.queued_bytes.fetch_sub(text.len(), Ordering::AcqRel);
        }
        out
    }
}

/// The pushing side; cheap to clone.
#[derive(Debug)]
pub struct Outbox {
    shared: Arc<Shared>,
}

impl Clone for Outbox {
    fn clone(&self) -> Self {
        self.shared.senders.fetch_add(1, Ordering::AcqRel);
        Self {
            shared: self.shared.clone(),
        }
    }
}

impl Drop for Outbox {
    fn drop(&mut self) {
        if self.shared.senders.fetch_sub(1, Ordering::AcqRel) == 1 {
            self.shared.ready.notify_one();
        }
    }
}

/// The sending side: the writer task's, and a task sending the reader's answers. Frames
/// are taken only by whoever holds the connection's sink, so they go out in order.
#[derive(Clone, Debug)]
pub struct Inbox {
    shared: Arc<Shared>,
}

/// The queue was full; the connection is being closed with 4008.
#[derive(Debug, PartialEq, Eq)]
pub struct Full;

pub fn channel(max_messages: usize, max_bytes: usize) -> (Outbox, Inbox) {
    let shared = Arc::new(Shared {
        queue: Mutex::new(VecDeque::new()),
        ready: Notify::new(),
        senders: AtomicUsize::new(1),
        max_messages: max_messages.max(1),
        queued_bytes: AtomicUsize::new(0),
        max_bytes,
        abort: CancellationToken::new(),
        reason: Mutex::new(None),
    });
    (
        Outbox {
            shared: shared.clone(),
        },
        Inbox { shared },
    )
}

impl Outbox {
    /// Queues one text frame, or closes the connection with 4008 when the client has
    /// fallen too far behind.
    pub fn push(&self, text: Utf8Bytes) -> Result<(), Full> {
        let len = text.len();
        let queued = self.shared.queued_bytes.fetch_add(len, Ordering::AcqRel);
        if queued + len > self.shared.max_bytes || !self.shared.offer(Out::Text(text)) {
            self.shared.queued_bytes.fetch_sub(len, Ordering::AcqRel);
            self.abort(protocol::close::SLOW_CONSUMER, "slow consumer: resume");
            return Err(Full);
        }
        Ok(())
    }

    /// Closes after everything already queued is sent (a full queue closes at once).
    pub fn close(&self, code: u16, reason: &'static str) {
        if !self.shared.offer(Out::Close(code, reason)) {
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
    /// Waits for a queued frame: `true` when there is one, `false` when the connection
    /// is aborted or every sender is gone with nothing left to send.
    pub async fn ready(&self) -> bool {
        loop {
            if self.shared.abort.is_cancelled() {
                return false;
            }
            // A push after this look leaves its permit in `ready`.
            if !self.shared.queue().is_empty() {
                return true;
            }
            if self.shared.senders.load(Ordering::Acquire) == 0 {
                return false;
            }
            tokio::select! {
                biased;
                _ = self.shared.abort.cancelled() => return false,
                _ = self.shared.ready.notified() => {}
            }
        }
    }

    /// The next frame if one is queued now, without waiting (the writer batches what
    /// has piled up into one flush).
    pub fn try_next(&self) -> Option<Out> {
        if self.shared.abort.is_cancelled() {
            return None;
        }
        self.shared.take(false)
    }

    /// The next frame if it is a text frame queued now: a close stays for the writer.
    pub fn try_next_text(&self) -> Option<Utf8Bytes> {
        if self.shared.abort.is_cancelled() {
            return None;
        }
        match self.shared.take(true) {
            Some(Out::Text(text)) => Some(text),
            _ => None,
        }
    }

    pub fn is_empty(&self) -> bool {
        self.shared.queue().is_empty()
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
        let (outbox, inbox) = channel(100, 10);
        assert_eq!(outbox.push("12345".into()), Ok(()));
        assert_eq!(outbox.push("12345".into()), Ok(()));
        assert!(matches!(inbox.try_next(), Some(Out::Text(_))));
        assert_eq!(
            outbox.push("12345".into()),
            Ok(()),
            "a sent frame frees its bytes"
        );
        assert_eq!(outbox.push("x".into()), Err(Full));
        assert!(!inbox.ready().await, "aborted");
        assert!(inbox.try_next().is_none(), "aborted: the rest is dropped");
    }

    #[tokio::test]
    async fn close_is_sent_after_queued_frames_and_answers_leave_it_to_the_writer() {
        let (outbox, inbox) = channel(10, 1 << 20);
        assert_eq!(outbox.push("last words".into()), Ok(()));
        outbox.close(1008, "bye");
        assert!(matches!(inbox.try_next_text(), Some(t) if t.as_str() == "last words"));
        assert!(
            inbox.try_next_text().is_none(),
            "a close is not a text frame"
        );
        assert!(inbox.ready().await, "the close is still queued");
        assert!(matches!(inbox.try_next(), Some(Out::Close(1008, "bye"))));
    }

    #[tokio::test]
    async fn the_writer_ends_when_every_pusher_is_gone() {
        let (outbox, inbox) = channel(10, 1 << 20);
        let other = outbox.clone();
        assert_eq!(other.push("queued".into()), Ok(()));
        drop(outbox);
        drop(other);
        assert!(inbox.ready().await, "what was queued is still sent");
        assert!(matches!(inbox.try_next(), Some(Out::Text(_))));
        assert!(!inbox.ready().await, "nothing more can come");
    }

    #[tokio::test]
    async fn a_waiting_writer_wakes_for_a_push_and_a_drained_queue_lets_its_slots_go() {
        let (outbox, inbox) = channel(1_000, 1 << 20);
        let waiting = tokio::spawn(async move { inbox.ready().await.then_some(inbox) });
        tokio::task::yield_now().await;
        assert_eq!(outbox.push("wake".into()), Ok(()));
        let inbox = waiting
            .await
            .expect("joined")
            .expect("woken with the frame");
        assert!(matches!(inbox.try_next(), Some(Out::Text(_))));
        for _ in 0..100 {
            assert_eq!(outbox.push("burst".into()), Ok(()));
        }
        while inbox.try_next().is_some() {}
        assert!(inbox.shared.queue().capacity() <= KEEP_SLOTS);
    }
}
