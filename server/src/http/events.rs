//! `GET /v1/projects/{id}/events`: the project's topic as server-sent events
//! (PROTOCOL.md section 6). Each message has `id: {epoch}:{offset}`, `event: {kind}` and
//! the `event` frame as data; a stream resumes after `Last-Event-ID` (or `?since=`), and
//! starts with `event: reset` when that position cannot be recovered. A stream whose
//! client falls too far behind is ended; the browser reconnects with `Last-Event-ID`.

use super::{Authed, project_id};
use crate::error::ApiError;
use crate::fanout::{Publication, Sink};
use crate::hub::Hub;
use crate::subscriptions::check_access;
use axum::extract::{Path, Query, State};
use axum::http::HeaderMap;
use axum::response::sse::{Event as SseEvent, KeepAlive, Sse};
use futures_util::{Stream, StreamExt};
use protocol::client::Position;
use protocol::event::{Topic, project_topic};
use protocol::{ErrorCode, ProjectId};
use serde::Deserialize;
use std::convert::Infallible;
use std::sync::Arc;
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

#[derive(Debug, Deserialize)]
pub struct EventsQuery {
    since: Option<String>,
}

enum Item {
    Reset(Position),
    Publication(Arc<Publication>),
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
    }
}

pub async fn stream(
    State(hub): State<Hub>,
    Authed(claims): Authed,
    Path(id): Path<String>,
    Query(query): Query<EventsQuery>,
    headers: HeaderMap,
) -> Result<Sse<impl Stream<Item = Result<SseEvent, Infallible>>>, ApiError> {
    let project: ProjectId = project_id(&id)?;
    let since = match headers.get("last-event-id") {
        Some(value) => {
            let raw = value
                .to_str()
                .map_err(|_| ApiError::new(ErrorCode::BadRequest, "Last-Event-ID: not text"))?;
            Some(parse_position("Last-Event-ID", raw)?)
        }
        None => query
            .since
            .as_deref()
            .map(|raw| parse_position("since", raw))
            .transpose()?,
    };
    check_access(&hub, &claims.user(), Topic::Project(project)).await?;
    let (tx, rx) = mpsc::channel(hub.config.outbound_messages.max(1));
    let gone = CancellationToken::new();
    let sink = Arc::new(SseSink {
        tx,
        gone: gone.clone(),
    });
    let mut first = Vec::new();
    let topic = project_topic(project);
    let subscription = hub
        .fanout
        .subscribe(&topic, sink, since.as_ref(), |start| {
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
    let shutdown = hub.shutdown.clone();
    let live = futures_util::stream::unfold(
        (rx, subscription, gone, shutdown),
        |(mut rx, subscription, gone, shutdown)| async move {
            let item = tokio::select! {
                _ = gone.cancelled() => None,
                _ = shutdown.cancelled() => None,
                item = rx.recv() => item,
            }?;
            Some((item, (rx, subscription, gone, shutdown)))
        },
    );
    let events = futures_util::stream::iter(first)
        .chain(live)
        .map(|item| Ok(sse_event(item)));
    Ok(Sse::new(events).keep_alive(KeepAlive::new().interval(hub.config.sse_keepalive())))
}

/// `GET /v1/projects/{id}/presence`: the sessions present in the project, on any node
/// (an addition to PROTOCOL.md).
pub async fn presence(
    State(hub): State<Hub>,
    Authed(claims): Authed,
    Path(id): Path<String>,
) -> Result<axum::Json<serde_json::Value>, ApiError> {
    let project = project_id(&id)?;
    check_access(&hub, &claims.user(), Topic::Project(project)).await?;
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
