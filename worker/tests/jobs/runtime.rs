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

#[tokio::test]
async fn attempts_and_durations_are_measured_by_kind() {
    let recorder = metrics_exporter_prometheus::PrometheusBuilder::new().build_recorder();
    let handle = recorder.handle();
    // Each test binary has one global recorder; only this test installs one.
    metrics::set_global_recorder(recorder).unwrap();
    let env = Env::new().await;
    let (stop, handle_worker) = env.worker(
        fast_config(),
        Registry::new().register("test.measured", Counting::default()),
    );
    let job = env
        .enqueue(store::jobs::lifecycle::NewJob::new(
            "test.measured",
            serde_json::Value::Null,
        ))
        .await;
    env.wait_for(job.id, Duration::from_secs(10), |j| {
        j.status == JobStatus::Completed
    })
    .await;
    stop.cancel();
    handle_worker.await.unwrap();
    let text = handle.render();
    assert!(
        text.contains("draftline_job_attempts_total{kind=\"test.measured\"} 1"),
        "{text}"
    );
    assert!(
        text.contains(
            "draftline_job_duration_seconds_count{kind=\"test.measured\",outcome=\"completed\"} 1"
        ),
        "{text}"
    );
}
