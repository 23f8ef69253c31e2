//! The runtime the connections' writer tasks run on, apart from the one that reads the
//! sockets and answers the calls.
//!
//! A burst of events wakes one writer per subscriber. On a shared runtime every step of
//! a tool call (its frame read, each Postgres round trip, its answer) is a task wake
//! that queues behind those writers: near the fan-out's limit a `create_note` took three
//! times as long on the busy hub as on an idle one beside it (BENCHMARKS.md, the calls
//! beside the fan-out). On threads of their own the writes share the cores with the
//! calls through the kernel's scheduler, which runs a thread that has slept (a call's)
//! soon after it wakes; the call's answer alone still goes through a writer.
//!
//! A socket stays registered with the main runtime's I/O driver: a writer polls it from
//! here, and only waits on that driver when the client is not reading.

use tokio::runtime::{Builder, Runtime};
use tokio::task::JoinHandle;

/// Owns the writers' runtime (none when they share the main one).
#[derive(Debug)]
pub struct Writers(Option<Runtime>);

impl Writers {
    /// `threads`: 0 shares the main runtime; `None` takes one thread per core.
    pub fn new(threads: Option<usize>) -> std::io::Result<Self> {
        let threads = match threads {
            Some(0) => return Ok(Self(None)),
            Some(n) => n,
            None => std::thread::available_parallelism().map_or(2, usize::from),
        };
        let runtime = Builder::new_multi_thread()
            .worker_threads(threads)
            .thread_name("draftline-writer")
            .enable_all()
            .build()?;
        Ok(Self(Some(runtime)))
    }

    /// Runs a connection's writer.
    pub fn spawn<F>(&self, writer: F) -> JoinHandle<F::Output>
    where
        F: Future + Send + 'static,
        F::Output: Send + 'static,
    {
        match &self.0 {
            Some(runtime) => runtime.spawn(writer),
            None => tokio::spawn(writer),
        }
    }
}

impl Drop for Writers {
    /// The hub can be dropped inside an async task, where a runtime may not wait for its
    /// threads; the writers left (their connections are gone with the hub) are dropped
    /// without waiting.
    fn drop(&mut self) {
        if let Some(runtime) = self.0.take() {
            runtime.shutdown_background();
        }
    }
}
