//! Admission of the requests that do work in Postgres: tool calls, snapshots, decisions,
//! transcript appends, session changes, chat, and the HTTP API's routes of the same
//! kind; and, in a line of their own with fewer places and a longer wait, the sessions
//! `hello` opens. A node runs at most `in_flight` of them at once; a request beyond that waits
//! for a place, but only behind `in_flight` others and for at most `wait`. Past either
//! bound it is refused at once with `unavailable` and `retry_after_ms`, without being run.
//!
//! Without it, a node offered more calls than its database can answer lets every call
//! wait: each connection answers its messages in order, so a session's calls pile up
//! behind its slowest one and every answer takes seconds (BENCHMARKS.md, tool calls at
//! 2,000 sessions). Bounded, the calls the node takes are answered at its usual pace and
//! the rest learn at once to come back.

use protocol::client::ClientMessage;
use protocol::{ErrorBody, ErrorCode};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;
use tokio::sync::{Semaphore, SemaphorePermit};

/// A node's places for one kind of database work, and the line for them. A node has
/// two (in the hub): one for requests, one for the sessions `hello` opens.
#[derive(Debug)]
pub struct Admission {
    places: Semaphore,
    /// Requests waiting for a place now.
    waiting: AtomicUsize,
    max_waiting: usize,
    wait: Duration,
    /// Which line this is, for the refusal metric.
    line: &'static str,
}

/// Requests waiting for a session to open, per place: a crowd of clients saying `hello`
/// at once waits its turn rather than being sent away to come back.
const OPENINGS_WAITING_PER_PLACE: usize = 4096;

/// A place, held while the request runs; dropping it gives it to the next in line.
#[derive(Debug)]
pub struct Admitted<'a> {
    _place: SemaphorePermit<'a>,
}

/// One request counted among the waiting while it waits.
struct Waiting<'a>(&'a AtomicUsize);

impl Drop for Waiting<'_> {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::AcqRel);
    }
}

impl Admission {
    /// `in_flight` requests at once (at least one), as many waiting, each for at most
    /// `wait`.
    pub fn new(in_flight: usize, wait: Duration) -> Self {
        let in_flight = in_flight.max(1);
        Self::with(in_flight, in_flight, wait, "requests")
    }

    /// The line for opening sessions on a node that runs `in_flight` requests: a
    /// quarter as many places (at least one), so a crowd of `hello`s never holds more
    /// than a quarter of the Postgres pool and the calls of the sessions already open
    /// keep the rest; 4,096 waiting per place, each for at most `wait`.
    pub fn openings(in_flight: usize, wait: Duration) -> Self {
        let places = (in_flight / 4).max(1);
        Self::with(
            places,
            places * OPENINGS_WAITING_PER_PLACE,
            wait,
            "openings",
        )
    }

    fn with(places: usize, max_waiting: usize, wait: Duration, line: &'static str) -> Self {
        Self {
            places: Semaphore::new(places),
            waiting: AtomicUsize::new(0),
            max_waiting,
            wait,
            line,
        }
    }

    /// A place for one request, or `unavailable` with `retry_after_ms` when the node
    /// has none to give within the bounds.
    pub async fn enter(&self) -> Result<Admitted<'_>, ErrorBody> {
        if let Ok(place) = self.places.try_acquire() {
            return Ok(Admitted { _place: place });
        }
        let ahead = self.waiting.fetch_add(1, Ordering::AcqRel);
        let waiting = Waiting(&self.waiting);
        if ahead >= self.max_waiting {
            drop(waiting);
            return Err(self.refuse("queue"));
        }
        let place = tokio::time::timeout(self.wait, self.places.acquire()).await;
        drop(waiting);
        match place {
            Ok(Ok(place)) => Ok(Admitted { _place: place }),
            // The semaphore is never closed; a timeout is the node being full.
            _ => Err(self.refuse("wait")),
        }
    }

    fn refuse(&self, bound: &'static str) -> ErrorBody {
        metrics::counter!(crate::metrics::REFUSED_AT_CAPACITY, "line" => self.line, "bound" => bound)
            .increment(1);
        ErrorBody::new(
            ErrorCode::Unavailable,
            "the node is at capacity; the request was not run, send it again after retry_after_ms",
        )
        // A refused client waits as long as a request waits here, so one that comes
        // back finds the line it left moved on.
        .with_retry_after_ms(crate::limits::millis(self.wait))
    }
}

/// Whether a client message (over WebSocket or the RTC channel) waits for a place: those
/// that work in Postgres. `subscribe` does not: its one query is an access check, and it
/// may then wait seconds for Redis, holding a place that calls could use. `hello` waits
/// in a line of its own ([`Admission::openings`]), in the handshake, only while it opens
/// its session (and a `hello` after the first is refused without work).
pub fn needs_a_place(message: &ClientMessage) -> bool {
    match message {
        ClientMessage::SessionConfigure(_)
        | ClientMessage::ToolCall(_)
        | ClientMessage::TranscriptAppend(_)
        | ClientMessage::Snapshot(_)
        | ClientMessage::OperationDecide(_)
        | ClientMessage::ChatSend(_) => true,
        ClientMessage::Hello(_)
        | ClientMessage::Ping(_)
        | ClientMessage::AuthRefresh(_)
        | ClientMessage::Subscribe(_)
        | ClientMessage::Unsubscribe(_) => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use futures_util::FutureExt;

    fn refused(result: Result<Admitted<'_>, ErrorBody>) -> ErrorBody {
        match result {
            Ok(_) => panic!("admitted"),
            Err(e) => e,
        }
    }

    #[tokio::test(start_paused = true)]
    async fn a_full_node_queues_as_many_as_it_runs_then_refuses_at_once() {
        let admission = Admission::new(1, Duration::from_millis(100));
        let running = admission.enter().await.unwrap();
        // The one place is taken: the next request waits, and the one after it is
        // refused without waiting.
        let queued = admission.enter();
        tokio::pin!(queued);
        assert!(queued.as_mut().now_or_never().is_none());
        let started = tokio::time::Instant::now();
        let refusal = refused(admission.enter().await);
        assert_eq!(started.elapsed(), Duration::ZERO);
        assert_eq!(refusal.code, ErrorCode::Unavailable);
        assert_eq!(refusal.retry_after_ms, Some(100));
        // The place given back goes to the one waiting.
        drop(running);
        let admitted = queued.await.unwrap();
        drop(admitted);
        assert_eq!(admission.waiting.load(Ordering::Acquire), 0);
    }

    #[tokio::test(start_paused = true)]
    async fn openings_have_a_quarter_of_the_places_and_a_long_line() {
        let openings = Admission::openings(8, Duration::from_secs(10));
        let open: Vec<_> = (0..2).map(|_| openings.enter().now_or_never()).collect();
        assert!(open.iter().all(|o| matches!(o, Some(Ok(_)))), "two places");
        assert!(openings.enter().now_or_never().is_none(), "the third waits");
        assert_eq!(openings.max_waiting, 2 * OPENINGS_WAITING_PER_PLACE);
        // At least one place, however small the node.
        let small = Admission::openings(1, Duration::from_secs(10));
        assert!(matches!(small.enter().now_or_never(), Some(Ok(_))));
    }

    #[tokio::test(start_paused = true)]
    async fn a_request_waits_at_most_the_bound() {
        let admission = Admission::new(1, Duration::from_millis(100));
        let _running = admission.enter().await.unwrap();
        let started = tokio::time::Instant::now();
        let refusal = refused(admission.enter().await);
        assert_eq!(started.elapsed(), Duration::from_millis(100));
        assert_eq!(refusal.code, ErrorCode::Unavailable);
        // It no longer counts as waiting: the next one gets its place in line.
        assert_eq!(admission.waiting.load(Ordering::Acquire), 0);
    }
}
