//! Draftline's hub: the HTTP API and WebSocket transport, sessions, tool calls and the
//! operations engine. `run` starts one node on a given listener so tests can run real
//! servers on port 0 in-process.

pub(crate) mod access;
pub mod admission;
pub mod auth;
pub mod calls;
pub mod chat;
pub mod config;
pub mod connections;
pub mod delivery;
pub mod error;
pub mod fanout;
pub mod focus;
pub mod http;
pub mod hub;
pub mod limits;
pub mod metrics;
pub mod narrate;
pub mod operations;
pub mod presence;
pub mod revocation;
pub mod rtc;
pub mod sessions;
pub mod subscriptions;
pub mod tools;
pub mod ws;

pub use config::Config;
pub use error::ServerError;
pub use hub::Hub;

use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;

/// Connects to Postgres and Redis and builds the node's shared state.
pub async fn connect(config: Config, shutdown: CancellationToken) -> Result<Hub, ServerError> {
    auth::check_secret(&config.jwt_secret)?;
    metrics::install();
    let store = store::Store::connect(&config.database_url, config.db_max_connections).await?;
    let redis = redis::Client::open(config.redis_url.as_str())?;
    let manager =
        redis::aio::ConnectionManager::new_with_config(redis.clone(), redis_manager_config())
            .await?;
    Ok(Hub::new(config, store, redis, manager, shutdown)?)
}

/// How the node's shared Redis connection reconnects. The crate's defaults retry six
/// times with doubling pauses (0.1 s to 3.2 s) behind every waiting command, and a tool
/// call publishing two events waited out that backoff twice: more than 15 s with Redis
/// down. Here a command fails within about a second instead (one retry, 100 ms apart at
/// most 500 ms, each connect bounded at 500 ms, each reply at 500 ms) and the next
/// command tries again; Postgres is the truth and the outbox publishes later.
pub fn redis_manager_config() -> redis::aio::ConnectionManagerConfig {
    redis::aio::ConnectionManagerConfig::new()
        .set_number_of_retries(1)
        .set_min_delay(std::time::Duration::from_millis(100))
        .set_max_delay(std::time::Duration::from_millis(500))
        .set_connection_timeout(Some(std::time::Duration::from_millis(500)))
        .set_response_timeout(Some(std::time::Duration::from_millis(500)))
}

/// Serves HTTP and WebSocket on `listener` until `shutdown` is cancelled, then closes
/// every connection with 1012 and waits (bounded) for them to finish.
pub async fn serve(hub: Hub, listener: TcpListener) -> Result<(), ServerError> {
    let app = http::router(hub.clone());
    let shutdown = hub.shutdown.clone();
    let listener_task = hub.delivery.spawn(fanout::listener::run(
        hub.fanout.clone(),
        hub.redis_client.clone(),
        shutdown.clone(),
    ));
    let presence_task = tokio::spawn(
        hub.presence
            .clone()
            .run(hub.fanout.clone(), shutdown.clone()),
    );
    let control_task = tokio::spawn(
        hub.revocations
            .clone()
            .run(hub.redis_client.clone(), shutdown.clone()),
    );
    let limits_task = tokio::spawn(hub.limits.clone().run(shutdown.clone()));
    // Every node takes part in the relay's election; one leads.
    let relay_task = tokio::spawn(store::outbox::relay(
        hub.outbox.clone(),
        hub.config.outbox_relay(),
        shutdown.clone(),
        |tick| {
            ::metrics::gauge!(metrics::OUTBOX_ROWS).set(tick.backlog as f64);
            if tick.failed > 0 {
                ::metrics::counter!(metrics::EVENTS_LOST).increment(tick.failed as u64);
            }
        },
    ));
    let counts_task = tokio::spawn(hub.connections.clone().run(shutdown.clone()));
    tracing::info!(addr = %listener.local_addr()?, node_id = %hub.node_id, "serving");
    // No Nagle: a frame queued behind an unacknowledged one would wait for the peer's
    // delayed ACK (40 ms on Linux), which measured as 40 ms added to every drafted
    // document's arrival.
    let listener = axum::serve::ListenerExt::tap_io(listener, |tcp: &mut tokio::net::TcpStream| {
        if let Err(e) = tcp.set_nodelay(true) {
            tracing::debug!(error = %e, "TCP_NODELAY not set");
        }
    });
    // The peer's address counts connections still waiting for `hello`.
    let app = app.into_make_service_with_connect_info::<std::net::SocketAddr>();
    axum::serve(listener, app)
        .with_graceful_shutdown(async move { shutdown.cancelled().await })
        .await?;
    hub.tasks.close();
    if tokio::time::timeout(hub.config.shutdown_timeout(), hub.tasks.wait())
        .await
        .is_err()
    {
        tracing::warn!(
            open = hub.tasks.len(),
            "connections still open at the shutdown deadline"
        );
    }
    // The connections are gone: the events of their last changes go out before the
    // process does.
    if !hub.outbox.settle(hub.config.shutdown_timeout()).await {
        tracing::warn!(
            "outbox rounds still running at the shutdown deadline; the relay sends the rest"
        );
    }
    let _ = listener_task.await;
    let _ = presence_task.await;
    let _ = control_task.await;
    let _ = limits_task.await;
    let _ = relay_task.await;
    let _ = counts_task.await;
    tracing::info!("stopped");
    Ok(())
}

/// Connects and serves: one complete hub node.
pub async fn run(
    config: Config,
    listener: TcpListener,
    shutdown: CancellationToken,
) -> Result<(), ServerError> {
    let hub = connect(config, shutdown).await?;
    serve(hub, listener).await
}
