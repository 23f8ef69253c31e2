//! `GET /v1/projects/{id}/events`: the project's topic as server-sent events
//! (docs/protocol.md section 6). Each message has `id: {epoch}:{offset}`, `event: {kind}` and
//! the `event` frame as data; a stream resumes after `Last-Event-ID` (or `?since=`), and
//! starts with `event: reset` when that position cannot be recovered. A stream whose
//! client falls too far behind is ended; the browser reconnects with `Last-Event-ID`.
//! A stream counts toward its user's connection limit, and ends with `event: error`
//! when its token expires or the user loses access to the project (on any node).

use super::openapi::ReadErrors;
use super::{Authed, project_id};
use super::{Path, Query};
use crate::access;
use crate::error::ApiError;
use crate::fanout::{Publication, Sink};
use crate::hub::Hub;
use crate::revocation::Control;
use axum::extract::State;
use axum::http::HeaderMap;
use axum::response::sse::{Event as SseEvent, KeepAlive, Sse};
use futures_util::{Stream, StreamExt};
use protocol::client::Position;
use protocol::event::{Topic, project_topic};
use protocol::{ErrorBody, ErrorCode, ProjectId, ServerMessage};
use serde::Deserialize;
use std::convert::Infallible;
use std::sync::Arc;
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct EventsQuery {
    /// Resume after this `epoch:offset` (as `Last-Event-ID`).
    #[param(pattern = r"^[0-9A-Za-z]+:[0-9]{1,19}$")]
    since: Option<String>,
}

enum Item {
    Reset(Position),
    Publication(Arc<Publication>),
    /// The stream's last message: why it ends.
    Error(ErrorBody),
}

/// An SSE stream as a topic subscriber: a bounded queue; when it is full the stream
/// ends (the client resumes from its last id).
struct SseSink {
    tx: mpsc::Sender<Item>,
    gone: CancellationToken,
}

impl Sink for SseSink {
    fn deliver(&self, publication: &Arc<Publication>) -> bool {
        if self
            .tx
            .try_send(Item::Publication(publication.clone()))
            .is_ok()
        {
            true
        } else {
            self.gone.cancel();
            false
        }
    }
}

/// Parses `epoch:offset`, naming `field` when it is not one.
fn parse_position(field: &str, raw: &str) -> Result<Position, ApiError> {
    let bad = || {
        ApiError::new(
            ErrorCode::BadRequest,
            format!("{field}: expected `epoch:offset`, got {raw:?}"),
        )
    };
    let (epoch, offset) = raw.trim().rsplit_once(':').ok_or_else(bad)?;
    if epoch.is_empty() {
        return Err(bad());
    }
    Ok(Position {
        epoch: epoch.to_owned(),
        offset: offset.parse().map_err(|_| bad())?,
    })
}

fn sse_event(item: Item) -> SseEvent {
    match item {
        Item::Reset(position) => SseEvent::default()
            .id(format!("{}:{}", position.epoch, position.offset))
            .event("reset")
            .data(serde_json::json!({ "position": position }).to_string()),
        Item::Publication(p) => SseEvent::default()
            .id(format!("{}:{}", p.epoch, p.offset))
            .event(&p.kind)
            .data(p.frame.as_str()),
        // No id: a browser that reconnects resumes after the last event it had.
        Item::Error(error) => SseEvent::default()
            .event("error")
            .data(ServerMessage::error(None, error).to_json()),
    }
}

/// The stream's next publication, or the error that ends it (access revoked, token
/// expired); `None` when it ends without one (the client fell behind, shutdown).
async fn next_live(
    live: &mut Live,
    hub: &Hub,
    project: ProjectId,
) -> Option<Result<Item, ErrorBody>> {
    loop {
        let item = tokio::select! {
            _ = live.gone.cancelled() => return None,
            _ = live.shutdown.cancelled() => return None,
            _ = live.registration.ended() => return Some(Err(revoked(project))),
            _ = tokio::time::sleep_until(live.expires) => {
                metrics::counter!(crate::metrics::TOKENS_EXPIRED, "transport" => "sse").increment(1);
                return Some(Err(ErrorBody::new(
                    ErrorCode::Unauthorized,
                    "the token expired; reconnect with a fresh one",
                )));
            }
            Some(control) = live.control.recv() => match control {
                Control::Revoked(lost) if lost == project => {
                    if crate::revocation::still_member(hub, &live.user, project).await {
                        continue;
                    }
                    return Some(Err(revoked(project)));
                }
                Control::Revoked(_) => continue,
                Control::Recheck => {
                    let access = access::topic(hub, &live.user, Topic::Project(project)).await;
                    if access.is_err_and(|e| e.code == ErrorCode::NotFound) {
                        return Some(Err(revoked(project)));
                    }
                    continue;
                }
            },
            item = live.rx.recv() => item,
        };
        return item.map(Ok);
    }
}

fn revoked(project: ProjectId) -> ErrorBody {
    let topic = project_topic(project);
    ErrorBody::new(
        ErrorCode::Forbidden,
        format!("access to {topic} was revoked"),
    )
    .with_details(serde_json::json!({ "topic": topic }))
}

/// What a live stream holds: its queue, its subscription, its place in the user's
/// connections and in the revocation registry. Dropped when the stream ends.
struct Live {
    rx: mpsc::Receiver<Item>,
    gone: CancellationToken,
    shutdown: CancellationToken,
    control: crate::revocation::Controls,
    registration: crate::revocation::Registration,
    expires: tokio::time::Instant,
    user: protocol::UserId,
    _subscription: crate::fanout::Subscription,
    _slot: crate::connections::ConnectionSlot,
    /// Set once the closing error was sent.
    done: bool,
}

#[utoipa::path(get, path = "/v1/projects/{id}/events", tag = "projects",
    description = "Server-sent events of the project's topic (docs/protocol.md section 6): \
        `id: {epoch}:{offset}`, `event: {kind}`, the `event` frame as data; \
        `event: reset` when the position is lost, `event: error` as the last message.",
    security(("bearer" = []), ("access_token" = [])),
    params(("id" = Uuid, Path, description = "The project"), EventsQuery,
        ("Last-Event-ID" = Option<String>, Header, nullable = false, pattern = r"^[0-9A-Za-z]+:[0-9]{1,19}$",
            description = "Resume after this `epoch:offset`")),
    responses((status = 200, description = "The event stream", content_type = "text/event-stream", body = String),
        ReadErrors))]
pub async fn stream(
    State(hub): State<Hub>,
    Authed(claims): Authed,
    Path(id): Path<String>,
    Query(query): Query<EventsQuery>,
    headers: HeaderMap,
) -> Result<Sse<impl Stream<Item = Result<SseEvent, Infallible>>>, ApiError> {
    let project: ProjectId = project_id(&id)?;
    // An empty `Last-Event-ID` or `since` is no position (a browser whose last event had
    // no id sends none), like an absent one.
    let last_event_id = headers
        .get("last-event-id")
        .map(|value| {
            value
                .to_str()
                .map_err(|_| ApiError::new(ErrorCode::BadRequest, "Last-Event-ID: not text"))
        })
        .transpose()?
        .filter(|raw| !raw.trim().is_empty());
    let since = match last_event_id {
        Some(raw) => Some(parse_position("Last-Event-ID", raw)?),
        None => query
            .since
            .as_deref()
            .filter(|raw| !raw.trim().is_empty())
            .map(|raw| parse_position("since", raw))
            .transpose()?,
    };
    let user = claims.user();
    // Registered before access is checked, so a revocation committed after the check
    // reaches this stream.
    let (registration, control) = hub.revocations.register(&user);
    access::topic(&hub, &user, Topic::Project(project)).await?;
    let slot = hub.connections.acquire(&user).await.ok_or_else(|| {
        ApiError::new(ErrorCode::RateLimited, "too many connections for this user")
    })?;
    // Bounded like a WebSocket's outbox: a client this far behind is ended (it resumes
    // from its last id).
    let (tx, rx) = mpsc::channel(hub.config.outbound_messages.max(1));
    let gone = CancellationToken::new();
    let sink = Arc::new(SseSink {
        tx,
        gone: gone.clone(),
    });
    let mut first = Vec::new();
    let subscription = hub
        .fanout
        .subscribe(Topic::Project(project), sink, since.as_ref(), |start| {
            if since.is_some() && !start.recovered {
                first.push(Item::Reset(start.position.clone()));
            }
            let epoch: Arc<str> = Arc::from(start.position.epoch.as_str());
            first.extend(
                start
                    .events
                    .iter()
                    .map(|e| Item::Publication(Publication::from_stored(&epoch, e.clone()))),
            );
        })
        .await?;
    let live = Live {
        rx,
        gone,
        shutdown: hub.shutdown.clone(),
        control,
        registration,
        expires: claims.deadline(),
        user,
        _subscription: subscription,
        _slot: slot,
        done: false,
    };
    let live =
        futures_util::stream::unfold((live, hub.clone()), move |(mut live, hub)| async move {
            if live.done {
                return None;
            }
            match next_live(&mut live, &hub, project).await? {
                Ok(item) => Some((item, (live, hub))),
                Err(error) => {
                    tracing::debug!(%project, code = %error.code, "event stream ended");
                    live.done = true;
                    Some((Item::Error(error), (live, hub)))
                }
            }
        });
    let events = futures_util::stream::iter(first)
        .chain(live)
        .map(|item| Ok(sse_event(item)));
    Ok(Sse::new(events).keep_alive(KeepAlive::new().interval(hub.config.sse_keepalive())))
}

/// `GET /v1/projects/{id}/presence`: the sessions present in the project, on any node
/// (docs/protocol.md section 5.6).
#[utoipa::path(get, path = "/v1/projects/{id}/presence", tag = "projects",
    params(("id" = Uuid, Path, description = "The project")),
    responses((status = 200, description = "`{presence: [...]}`: the sessions present", body = Object), ReadErrors))]
pub async fn presence(
    State(hub): State<Hub>,
    Authed(claims): Authed,
    Path(id): Path<String>,
) -> Result<axum::Json<serde_json::Value>, ApiError> {
    let project = project_id(&id)?;
    access::topic(&hub, &claims.user(), Topic::Project(project)).await?;
    let presence = hub.topics.presence(&project_topic(project)).await?;
    Ok(axum::Json(serde_json::json!({ "presence": presence })))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn positions_parse_and_errors_name_the_field() {
        let p = parse_position("since", "ab12:42")
            .map_err(|_| ())
            .unwrap_or_else(|()| panic!("no parse"));
        assert_eq!((p.epoch.as_str(), p.offset), ("ab12", 42));
        for bad in ["", "ab12", ":4", "ab12:x", "ab12:-1"] {
            let e = parse_position("Last-Event-ID", bad)
                .err()
                .map(|e| e.0.message);
            assert!(
                e.as_deref()
                    .is_some_and(|m| m.starts_with("Last-Event-ID:")),
                "{bad}: {e:?}"
            );
        }
    }
}
