//! Clean-up that must run from `Drop`, which cannot await: the work runs on a thread of
//! its own with a runtime of its own (the test's runtime may be the one being dropped,
//! or a current-thread runtime that a blocking wait would stall).

use std::future::Future;

/// Runs `work` to completion on a fresh thread and runtime, and waits for it. Failures
/// are ignored: clean-up is best effort and a test's result must not depend on it.
pub(crate) fn block_on_aside<F>(work: F)
where
    F: Future<Output = ()> + Send + 'static,
{
    let _ = std::thread::spawn(move || {
        if let Ok(runtime) = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
        {
            runtime.block_on(work);
        }
    })
    .join();
}
