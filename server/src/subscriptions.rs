//! `subscribe`, `unsubscribe` and `snapshot` for one connection (docs/protocol.md sections
//! 4-5): access checks, the per-connection limit, and the `subscribed` reply with the
//! recovered events, sent ahead of the live ones.

use crate::access::{self, Need};
use crate::fanout::{Publication, Sink, Subscription};
use crate::hub::Hub;
use crate::tools::{self, Caller};
use crate::ws::outbox::Outbox;
use protocol::client::{Position, Subscribe};
use protocol::event::{Topic, project_topic};
use protocol::frames::subscribed_frame;
use protocol::server::SNAPSHOT_CHAT_MESSAGES;
use protocol::{ErrorBody, ErrorCode, ProjectId, RequestId, ServerMessage};
use std::collections::HashMap;
use std::sync::Arc;

/// A WebSocket connection as a topic subscriber: publications go to its outbox (a full
/// one closes the connection with 4008).
impl Sink for Outbox {
    fn deliver(&self, publication: &Arc<Publication>) -> bool {
        self.push(publication.frame.clone()).is_ok()
    }
}

/// The topics one connection subscribes to.
#[derive(Debug, Default)]
pub struct Subscriptions {
    topics: HashMap<Topic, Subscription>,
}

impl Subscriptions {
    /// Serves `subscribe`: on success the `subscribed` reply is already queued (followed
    /// by live events); on failure the error to answer.
    pub async fn subscribe(
        &mut self,
        hub: &Hub,
        caller: &Caller,
        outbox: &Outbox,
        message: Subscribe,
    ) -> Result<(), ErrorBody> {
        let Subscribe { id, topic, since } = message;
        let topic = Topic::parse(&topic).ok_or_else(|| {
            ErrorBody::new(
                ErrorCode::BadRequest,
                format!("topic: expected `project:{{id}}` or `session:{{id}}`, got {topic:?}"),
            )
        })?;
        // Parsed once: `project:X` and an uppercase X are one topic from here on, and
        // the fan-out is keyed by the parsed topic.
        let name = topic.to_string();
        // Resubscribing (after a gap, with a position) replaces the subscription.
        self.topics.remove(&topic);
        if self.topics.len() >= hub.config.max_subscriptions {
            return Err(ErrorBody::new(
                ErrorCode::BadRequest,
                format!(
                    "topic: at most {} subscriptions per connection",
                    hub.config.max_subscriptions
                ),
            ));
        }
        access::topic(hub, &caller.user, topic).await?;
        let sink: Arc<dyn Sink> = Arc::new(outbox.clone());
        let subscription = hub
            .fanout
            .subscribe(topic, sink, since.as_ref(), |start| {
                let events: Vec<&str> = start.events.iter().map(|e| e.frame.as_str()).collect();
                let bytes: usize = events.iter().map(|e| e.len()).sum();
                // A recovery larger than half the outbound queue would close the
                // connection as slow by itself: the client takes a snapshot instead.
                let fits = bytes <= hub.config.outbound_bytes / 2;
                let frame = subscribed_frame(
                    &id,
                    &name,
                    &start.position.epoch,
                    start.position.offset,
                    start.recovered && fits,
                    if fits { &events } else { &[] },
                );
                match frame {
                    Ok(frame) => {
                        let _ = outbox.push(frame.into());
                    }
                    Err(e) => {
                        tracing::error!(error = %e, "stored event frame unreadable");
                        let error = ErrorBody::new(ErrorCode::Internal, "internal error");
                        let _ = outbox.push(
                            ServerMessage::error(Some(id.clone()), error)
                                .to_json()
                                .into(),
                        );
                    }
                }
            })
            .await?;
        self.topics.insert(topic, subscription);
        Ok(())
    }

    /// Drops the subscription to `topic` (access to it was revoked); answers whether
    /// there was one.
    pub fn drop_topic(&mut self, topic: Topic) -> bool {
        self.topics.remove(&topic).is_some()
    }

    /// The projects whose topics are subscribed.
    pub fn projects(&self) -> Vec<ProjectId> {
        self.topics
            .keys()
            .filter_map(|t| match t {
                Topic::Project(project) => Some(*project),
                Topic::Session(_) => None,
            })
            .collect()
    }

    /// Serves `unsubscribe`; unsubscribing from a topic not subscribed is fine.
    pub fn unsubscribe(&mut self, topic: &str) -> Result<(), ErrorBody> {
        let parsed = Topic::parse(topic).ok_or_else(|| {
            ErrorBody::new(
                ErrorCode::BadRequest,
                format!("topic: unknown topic {topic:?}"),
            )
        })?;
        self.topics.remove(&parsed);
        Ok(())
    }
}

/// Serves `snapshot`: the topic's position first, then the state, so a client that
/// continues from the position misses nothing (it may see some changes twice).
pub async fn snapshot(
    hub: &Hub,
    caller: &Caller,
    re: RequestId,
    project: ProjectId,
) -> Result<ServerMessage, ErrorBody> {
    let mut conn = tools::conn(hub).await?;
    access::require(&mut conn, project, &caller.user, Need::Read).await?;
    let topic = project_topic(project);
    let position: Position = hub.topics.position(&topic).await?;
    let project_row = store::projects::get_for(&mut conn, project, &caller.user).await?;
    let document = store::documents::get(&mut conn, project).await?;
    let jobs = store::jobs::unfinished(&mut conn, project).await?;
    let operations = store::operations::pending_for_project(&mut conn, project).await?;
    let notes = store::notes::list(&mut conn, project).await?;
    let todos = store::todos::list(&mut conn, project, None).await?;
    let transcript_pointers = store::transcript::pointers(&mut conn, project).await?;
    let chat = store::chat::list(&mut conn, project, SNAPSHOT_CHAT_MESSAGES).await?;
    drop(conn);
    let presence = hub.topics.presence(&topic).await?;
    Ok(ServerMessage::Snapshot {
        re,
        position,
        project: project_row,
        document,
        jobs,
        operations,
        presence,
        notes,
        todos,
        transcript_pointers,
        chat,
    })
}
