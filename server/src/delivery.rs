//! The runtime that delivers events: the node's event listener (`fanout::listener`) and
//! every connection's writer task run here, apart from the runtime that reads the
//! sockets and answers the calls.
//!
//! A burst of events wakes one writer per subscriber. On a shared runtime every step of
//! a tool call (its frame read, each Postgres round trip, its answer) is a task wake
//! that queues behind those writers: near the fan-out's limit a `create_note` took two
//! to three times as long on the busy hub as on an idle one beside it (BENCHMARKS.md,
//! the calls beside the fan-out). Here the deliveries share the cores with the calls
//! through the kernel's scheduler, which runs a thread that has slept (a call's) soon
//! after it wakes; an answer does not wait for this runtime either (the reader's task
//! sends it when the socket is free, `ws::connection`). The listener runs beside the
//! writers it wakes: a wake within a runtime goes to a worker's own queue, one across
//! runtimes through a shared queue and often a thread's wake-up.
//!
//! A socket stays registered with the main runtime's I/O driver: a writer polls it from
//! here, and only waits on that driver when the client is not reading.

use tokio::runtime::{Builder, Runtime};
use tokio::task::JoinHandle;

/// Owns the delivery runtime (none when delivery shares the main one).
#[derive(Debug)]
pub struct Delivery(Option<Runtime>);

impl Delivery {
    /// `threads`: 0 shares the main runtime; `None` takes one thread per core.
    pub fn new(threads: Option<usize>) -> std::io::Result<Self> {
        let threads = match threads {
            Some(0) => return Ok(Self(None)),
            Some(n) => n,
            None => std::thread::available_parallelism().map_or(2, usize::from),
        };
        let runtime = Builder::new_multi_thread()
            .worker_threads(threads)
            .thread_name("draftline-delivery")
            .enable_all()
            .build()?;
        Ok(Self(Some(runtime)))
    }

    /// Runs the listener or a connection's writer.
    pub fn spawn<F>(&self, task: F) -> JoinHandle<F::Output>
    where
        F: Future + Send + 'static,
        F::Output: Send + 'static,
    {
        match &self.0 {
            Some(runtime) => runtime.spawn(task),
            None => tokio::spawn(task),
        }
    }
}

impl Drop for Delivery {
    /// The hub can be dropped inside an async task, where a runtime may not wait for its
    /// threads; what is left here (its connections and listener are gone with the hub)
    /// is dropped without waiting.
    fn drop(&mut self) {
        if let Some(runtime) = self.0.take() {
            runtime.shutdown_background();
        }
    }
}
