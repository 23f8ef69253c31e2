//! Workers run jobs: smoke test of claim, run, complete.

use crate::support::*;
use protocol::entities::JobStatus;
use std::sync::atomic::Ordering;
use std::time::Duration;
use worker::Registry;

#[tokio::test]
async fn a_worker_runs_a_job_once() {
    let env = Env::new().await;
    let counting = Counting::default();
    let (stop, handle) = env.worker(
        fast_config(),
        Registry::new().register("test.noop", counting.clone()),
    );
    let job = env.enqueue(noop_job()).await;
    let done = env
        .wait_for(job.id, Duration::from_secs(10), |j| {
            j.status == JobStatus::Completed
        })
        .await;
    assert_eq!(done.attempts, 1);
    assert!(done.duration_ms.is_some());
    assert_eq!(counting.runs.load(Ordering::SeqCst), 1);
    stop.cancel();
    handle.await.unwrap();
}
