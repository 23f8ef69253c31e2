//! One connection, over any transport (`transport.rs`: the WebSocket, the WebRTC data
//! channel): the `hello` handshake, then a reader loop that answers each message in
//! order, and a writer task that drains the bounded outbox and sends the heartbeat pings.
//! Every loop also watches the node's shutdown signal.

use super::outbox::{self, Inbox, Out, Outbox};
use super::transport::{Closed, Frame, FrameSink, FrameSource, Message, Transport};
use crate::auth::Claims;
use crate::connections::ConnectionSlot;
use crate::hub::Hub;
use crate::limits::Handshake;
use crate::revocation::{Control, Registration};
use crate::subscriptions::{self, Subscriptions};
use crate::tools::Caller;
use crate::{operations, sessions};
use protocol::client::{
    AuthRefresh, DecodeError, Hello, OperationDecide, Ping, SessionConfigure, Snapshot, ToolCall,
    TranscriptAppend, Unsubscribe,
};
use protocol::close;
use protocol::event::project_topic;
use protocol::server::{OkData, ToolResult};
use protocol::{
    ClientMessage, ConnectionId, ErrorBody, ErrorCode, ProjectId, RequestId, ServerMessage,
};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::Mutex;
use tokio::time::{Instant, sleep_until, timeout};
use tracing::Instrument;

/// Most frames written before one flush: enough to turn a burst of events into a few
/// large writes, few enough that one flush stays short.
const WRITE_BATCH: usize = 64;

// The work a connection does now and then (a tool call, a session query, a control
// message, the connection count and presence, which talk to Redis) is boxed where it is
// awaited: a task's future is as large as the largest future it awaits inline, and
// every idle connection would hold that much for work it does now and then (8.8 KiB in
// a debug build with none of it boxed; in release the connection's future was 4.2 KB
// with the connection count and presence inline). Boxed, the allocation lives only
// while that work is done.

pub(crate) fn serve<T: Transport>(
    hub: Hub,
    socket: T,
    upgrade_claims: Option<Claims>,
    handshake: Handshake,
) -> impl Future<Output = ()> + Send {
    let connection_id = ConnectionId::new();
    let span = tracing::info_span!("connection", %connection_id, transport = T::NAME, user = tracing::field::Empty);
    // Split and the writer started here, before the connection's future exists: that
    // future then holds the reader's half alone, not the transport as well (an async
    // fn keeps its arguments for its whole life, 368 bytes for a WebSocket).
    let (sink, mut stream) = socket.split();
    let (outbox, inbox) = outbox::channel(hub.config.outbound_messages, hub.config.outbound_bytes);
    let sink = Arc::new(Mutex::new(sink));
    let answers = Answers {
        sink: sink.clone(),
        inbox: inbox.clone(),
    };
    let writer = hub.delivery.spawn(
        write_loop(
            sink,
            inbox,
            hub.config.heartbeat(),
            hub.config.close_grace(),
        )
        .instrument(span.clone()),
    );
    async move {
        read_loop(
            &hub,
            connection_id,
            &mut stream,
            &outbox,
            &|| answers.send(),
            upgrade_claims,
            handshake,
        )
        .await;
        // The writer ends once it has sent what the reader queued (and any close).
        drop(answers);
        drop(outbox);
        // Input goes on being read, and thrown away, until then: a socket dropped with
        // unread input is reset, and a reset can discard the close frame before the
        // client reads it.
        let finished = timeout(hub.config.shutdown_timeout(), async {
            tokio::select! {
                joined = writer => joined,
                never = discard_input(&mut stream) => match never {},
            }
        });
        if finished.await.is_err() {
            tracing::warn!("writer did not finish in time");
        }
        tracing::debug!("connection closed");
    }
    .instrument(span)
}

/// Reads and drops frames until the peer is gone (or sends more than a frame may hold),
/// then waits forever: the caller stops waiting when the writer is done.
async fn discard_input(stream: &mut impl FrameSource) -> std::convert::Infallible {
    while matches!(
        stream.next_frame().await,
        Frame::Text(_) | Frame::Binary | Frame::Control
    ) {}
    std::future::pending().await
}

fn reply(outbox: &Outbox, message: &ServerMessage) {
    // A full outbox has already started closing the connection with 4008.
    let _ = outbox.push(message.to_json().into());
}

/// The close code that goes with a failed handshake.
fn handshake_close_code(error: &ErrorBody) -> u16 {
    match error.code {
        ErrorCode::Unauthorized => close::UNAUTHORIZED,
        ErrorCode::Forbidden => close::FORBIDDEN,
        // Refused unrun, at capacity: the client is to come back, not to report a fault.
        ErrorCode::Unavailable if error.retry_after_ms.is_some() => close::TRY_AGAIN_LATER,
        ErrorCode::Internal | ErrorCode::Unavailable => close::INTERNAL,
        _ => close::POLICY,
    }
}

/// Answers a refused `hello` and closes; nothing is accepted.
fn fail_handshake(
    outbox: &Outbox,
    re: Option<RequestId>,
    error: ErrorBody,
    reason: &'static str,
) -> Option<Accepted> {
    let code = handshake_close_code(&error);
    reply(outbox, &ServerMessage::error(re, error));
    outbox.close(code, reason);
    None
}

/// The `hello` handshake: the first frame, the token, the user's connection count, the
/// session and its `welcome`. `None` when the connection ends instead.
async fn hello(
    hub: &Hub,
    connection_id: ConnectionId,
    stream: &mut impl FrameSource,
    outbox: &Outbox,
    upgrade_claims: Option<Claims>,
    handshake: Handshake,
) -> Option<Accepted> {
    let config = &hub.config;
    let first = tokio::select! {
        _ = hub.shutdown.cancelled() => {
            outbox.close(close::RESTART, "server restarting");
            return None;
        }
        _ = outbox.aborted() => return None,
        first = timeout(config.hello_timeout(), stream.next_frame()) => first,
    };
    // The first message arrived (or never will): the connection no longer counts as
    // one of its address's handshakes.
    drop(handshake);
    let text = match first {
        Err(_) => {
            let error = ErrorBody::new(
                ErrorCode::BadRequest,
                "hello expected within the time limit",
            );
            return fail_handshake(outbox, None, error, "hello expected");
        }
        Ok(Frame::Text(text)) => text,
        Ok(Frame::TooBig) => {
            outbox.close(close::TOO_BIG, "frame too large");
            return None;
        }
        Ok(Frame::Gone) => return None,
        Ok(Frame::Binary | Frame::Control) => {
            let error = ErrorBody::new(ErrorCode::BadRequest, "the first message must be hello");
            return fail_handshake(outbox, None, error, "hello expected");
        }
    };
    let (id, token, client, resume) = match ClientMessage::decode(&text) {
        Ok(ClientMessage::Hello(Hello {
            id,
            token,
            client,
            session_id,
        })) => (id, token, client, session_id),
        Ok(other) => {
            let error = ErrorBody::new(ErrorCode::BadRequest, "the first message must be hello");
            return fail_handshake(outbox, Some(other.id().clone()), error, "hello expected");
        }
        Err(e) => {
            let re = match &e {
                DecodeError::Invalid { id, .. } => id.clone(),
                DecodeError::Malformed(_) => None,
            };
            let error = ErrorBody::new(ErrorCode::BadRequest, e.to_string());
            return fail_handshake(outbox, re, error, "hello expected");
        }
    };
    let claims = match token {
        Some(token) => hub.auth.verify(&token).ok(),
        None => upgrade_claims,
    }
    // `verify` allows for clock skew past `exp`; a connection would end at once.
    .filter(|claims| !claims.is_expired());
    let Some(claims) = claims else {
        let error = ErrorBody::new(ErrorCode::Unauthorized, "a valid token is required");
        return fail_handshake(outbox, Some(id), error, "unauthorized");
    };
    let user = claims.user();
    tracing::Span::current().record("user", tracing::field::display(&user));
    let Some(slot) = Box::pin(hub.connections.acquire(&user)).await else {
        reply(
            outbox,
            &ServerMessage::error(
                Some(id),
                ErrorBody::new(ErrorCode::RateLimited, "too many connections for this user"),
            ),
        );
        outbox.close(close::TOO_MANY_CONNECTIONS, "too many connections");
        return None;
    };
    // Registered before the session is read: a revocation committed after that read
    // reaches this connection.
    let (registration, control) = hub.revocations.register(&user);
    // Opening the session is work in Postgres, in a line of its own: when a node
    // restarts, its clients all say hello again at once, and the calls of those already
    // back must not queue behind the crowd. A refused hello is told when to come back;
    // a node stopping does not wait for its line.
    let admitted = tokio::select! {
        _ = hub.shutdown.cancelled() => {
            outbox.close(close::RESTART, "server restarting");
            return None;
        }
        _ = outbox.aborted() => return None,
        admitted = hub.openings.enter() => match admitted {
            Ok(admitted) => admitted,
            Err(error) => return fail_handshake(outbox, Some(id), error, "node at capacity"),
        },
    };
    let session = match Box::pin(sessions::open(hub, &user, resume, &client)).await {
        Ok(session) => session,
        Err(error) => return fail_handshake(outbox, Some(id), error, "session refused"),
    };
    drop(admitted);
    tracing::debug!(session_id = %session.id, resumed = resume.is_some(), "hello");
    reply(
        outbox,
        &ServerMessage::Welcome {
            re: id,
            protocol: protocol::PROTOCOL_VERSION,
            session_id: session.id,
            connection_id,
            node_id: hub.node_id.clone(),
            heartbeat_ms: config.heartbeat_ms,
            limits: config.limits(),
            session: session.clone(),
        },
    );
    let caller = Caller { user, session };
    let connection = Connection {
        id: connection_id,
        client,
        subscriptions: Subscriptions::default(),
        token: claims,
    };
    Box::pin(connection.sync_presence(hub, &caller)).await;
    let revocations = Revocations {
        registration,
        control,
    };
    Some(Accepted {
        caller,
        connection,
        revocations,
        slot,
    })
}

/// What a connection holds once its `hello` is answered.
struct Accepted {
    caller: Caller,
    connection: Connection,
    revocations: Revocations,
    /// Its place in the user's connection count, given back when the connection ends.
    slot: ConnectionSlot,
}

/// The handshake, then the messages until the connection ends.
async fn read_loop(
    hub: &Hub,
    connection_id: ConnectionId,
    stream: &mut impl FrameSource,
    outbox: &Outbox,
    answered: &(dyn Fn() + Sync),
    upgrade_claims: Option<Claims>,
    handshake: Handshake,
) {
    // Boxed: what the handshake needs on its way (the hello frame, the token, the
    // session being opened) is not kept for the connection's life.
    let hello = hello(
        hub,
        connection_id,
        stream,
        outbox,
        upgrade_claims,
        handshake,
    );
    let Some(mut accepted) = Box::pin(hello).await else {
        return;
    };
    // Used in place, never moved out of: a future keeps room for a value it has moved
    // from as well as for where it went.
    serve_messages(
        hub,
        stream,
        outbox,
        answered,
        &mut accepted.caller,
        &mut accepted.connection,
        &mut accepted.revocations,
    )
    .await;
    drop(accepted.revocations);
    drop(accepted.connection.subscriptions);
    Box::pin(hub.presence.leave(connection_id)).await;
    Box::pin(sessions::seen(hub, accepted.caller.session.id)).await;
    drop(accepted.slot);
}

/// The connection's place in the node's revocation registry.
struct Revocations {
    registration: Registration,
    control: crate::revocation::Controls,
}

/// What a connection holds beyond its session.
struct Connection {
    id: ConnectionId,
    client: protocol::entities::ClientInfo,
    subscriptions: Subscriptions,
    /// The latest token (from `hello` or `auth.refresh`): the connection ends at its
    /// `exp`.
    token: Claims,
}

impl Connection {
    /// Keeps the connection present in its session's project (none, or a new one after
    /// `session.configure` / `assign_project_to_session`).
    async fn sync_presence(&self, hub: &Hub, caller: &Caller) {
        hub.presence
            .set(
                self.id,
                caller.session.project_id,
                caller.session.id,
                &caller.user,
                Some(&self.client),
            )
            .await;
    }
}

/// The message loop after `hello`.
async fn serve_messages<S: FrameSource>(
    hub: &Hub,
    stream: &mut S,
    outbox: &Outbox,
    answered: &(dyn Fn() + Sync),
    caller: &mut Caller,
    connection: &mut Connection,
    revocations: &mut Revocations,
) {
    let config = &hub.config;
    let mut strikes = 0u32;
    // A peer that answers none of three pings in a row is gone.
    let idle = config.heartbeat() * 3;
    let mut deadline = Instant::now() + idle;
    loop {
        let frame = tokio::select! {
            _ = hub.shutdown.cancelled() => {
                outbox.close(close::RESTART, "server restarting");
                return;
            }
            _ = outbox.aborted() => return,
            _ = sleep_until(deadline) => {
                outbox.abort(close::GOING_AWAY, "heartbeat timeout");
                return;
            }
            _ = sleep_until(connection.token.deadline()) => {
                metrics::counter!(crate::metrics::TOKENS_EXPIRED, "transport" => S::TRANSPORT)
                    .increment(1);
                tracing::debug!("token expired");
                let error = ErrorBody::new(
                    ErrorCode::Unauthorized,
                    "the token expired; send auth.refresh before it does",
                );
                reply(outbox, &ServerMessage::error(None, error));
                return outbox.close(close::UNAUTHORIZED, "token expired");
            }
            _ = revocations.registration.ended() => {
                return outbox.close(close::FORBIDDEN, "access revoked");
            }
            Some(control) = revocations.control.recv() => {
                Box::pin(on_control(hub, caller, connection, outbox, control)).await;
                continue;
            }
            frame = stream.next_frame() => frame,
        };
        deadline = Instant::now() + idle;
        let text = match frame {
            Frame::Gone => return,
            Frame::TooBig => return outbox.close(close::TOO_BIG, "frame too large"),
            Frame::Control => continue,
            Frame::Text(text) => Some(text),
            Frame::Binary => None,
        };
        // The user's rate, shared with their other connections and HTTP requests.
        if let Err(error) = hub.limits.request(&caller.user) {
            strikes += 1;
            if strikes >= config.rate_limit_strikes {
                return outbox.close(close::RATE_LIMITED, "rate limit exceeded repeatedly");
            }
            let re = text
                .as_deref()
                .and_then(|t| serde_json::from_str::<serde_json::Value>(t).ok())
                .and_then(|v| RequestId::from_raw(&v));
            reply(outbox, &ServerMessage::error(re, error));
            answered();
            continue;
        }
        strikes = 0;
        let answer = match text {
            Some(text) => Box::pin(handle(hub, caller, connection, outbox, &text)).await,
            None => Some(ServerMessage::bad_request(
                None,
                "binary frames are not supported; send JSON text",
            )),
        };
        if let Some(answer) = answer {
            reply(outbox, &answer);
        }
        answered();
        Box::pin(connection.sync_presence(hub, caller)).await;
    }
}

/// Answers one client message; `None` when the answer was already queued (a
/// `subscribed` reply goes out ahead of the live events that follow it).
async fn handle(
    hub: &Hub,
    caller: &mut Caller,
    connection: &mut Connection,
    outbox: &Outbox,
    text: &str,
) -> Option<ServerMessage> {
    let message = match ClientMessage::decode(text) {
        Ok(message) => message,
        Err(DecodeError::Malformed(m)) => {
            return Some(ServerMessage::bad_request(
                None,
                format!("malformed JSON: {m}"),
            ));
        }
        Err(DecodeError::Invalid { id, message }) => {
            return Some(ServerMessage::bad_request(id, message));
        }
    };
    let kind = message.kind();
    metrics::counter!(crate::metrics::MESSAGES, "type" => kind).increment(1);
    let started = std::time::Instant::now();
    // Work in Postgres takes one of the node's places, or is refused unrun.
    let _admitted = if crate::admission::needs_a_place(&message) {
        match hub.admission.enter().await {
            Ok(admitted) => Some(admitted),
            Err(e) => return Some(ServerMessage::error(Some(message.id().clone()), e)),
        }
    } else {
        None
    };
    let answer = match message {
        ClientMessage::Hello(Hello { id, .. }) => {
            ServerMessage::bad_request(Some(id), "hello was already received on this connection")
        }
        ClientMessage::Ping(Ping { id }) => ServerMessage::Pong { re: id },
        ClientMessage::AuthRefresh(AuthRefresh { id, token }) => {
            match refresh(hub, caller, connection, &token) {
                Ok(expires_at) => ok(id, OkData::Refreshed { expires_at }),
                Err(e) => ServerMessage::error(Some(id), e),
            }
        }
        ClientMessage::SessionConfigure(SessionConfigure {
            id,
            mode,
            project_id,
            auto_accept,
            todo_id,
        }) => {
            match sessions::configure(hub, caller, mode, project_id, auto_accept, todo_id).await {
                Ok(session) => ok(id, OkData::Session { session }),
                Err(e) => ServerMessage::error(Some(id), e),
            }
        }
        ClientMessage::ToolCall(ToolCall {
            id,
            call_id,
            name,
            arguments,
        }) => {
            let result = crate::calls::call(hub, caller, &name, arguments).await;
            if let Err(e) = &result {
                tracing::debug!(tool = %name, code = %e.code, message = %e.message, "tool call failed");
            }
            ServerMessage::ToolResult {
                re: id,
                call_id,
                result: result.map_or_else(ToolResult::err, ToolResult::ok),
            }
        }
        ClientMessage::TranscriptAppend(TranscriptAppend { id, items }) => {
            match sessions::append_transcript(hub, caller, &items).await {
                Ok(appended) => ok(id, OkData::Appended { appended }),
                Err(e) => ServerMessage::error(Some(id), e),
            }
        }
        ClientMessage::OperationDecide(OperationDecide {
            id,
            operation_ids,
            decision,
            edits,
        }) => match operations::decide(hub, caller, &operation_ids, decision, edits).await {
            Ok(decided) => ok(id, OkData::Decided(decided)),
            Err(e) => ServerMessage::error(Some(id), e),
        },
        ClientMessage::Subscribe(subscribe) => {
            let id = subscribe.id.clone();
            match connection
                .subscriptions
                .subscribe(hub, caller, outbox, subscribe)
                .await
            {
                Ok(()) => return None,
                Err(e) => ServerMessage::error(Some(id), e),
            }
        }
        ClientMessage::Unsubscribe(Unsubscribe { id, topic }) => {
            match connection.subscriptions.unsubscribe(&topic) {
                Ok(()) => ServerMessage::Ok { re: id, data: None },
                Err(e) => ServerMessage::error(Some(id), e),
            }
        }
        ClientMessage::Snapshot(Snapshot { id, project_id }) => {
            match subscriptions::snapshot(hub, caller, id.clone(), project_id).await {
                Ok(snapshot) => snapshot,
                Err(e) => ServerMessage::error(Some(id), e),
            }
        }
        ClientMessage::ChatSend(protocol::client::ChatSend {
            id,
            project_id,
            text,
        }) => {
            let session = Some(caller.session.id);
            match crate::chat::send(hub, &caller.user, session, project_id, &text).await {
                Ok(sent) => ok(
                    id,
                    OkData::ChatSent {
                        message_id: sent.message_id,
                        job_id: sent.job_id,
                    },
                ),
                Err(e) => ServerMessage::error(Some(id), e),
            }
        }
    };
    tracing::debug!(
        kind,
        elapsed_us = started.elapsed().as_micros() as u64,
        "handled"
    );
    Some(answer)
}

/// `auth.refresh`: a valid, unexpired token of the same user becomes the connection's
/// token; answers its expiry. The connection stays open either way.
fn refresh(
    hub: &Hub,
    caller: &Caller,
    connection: &mut Connection,
    token: &str,
) -> Result<chrono::DateTime<chrono::Utc>, ErrorBody> {
    let claims = hub
        .auth
        .verify(token)
        .ok()
        .filter(|claims| !claims.is_expired())
        .ok_or_else(|| {
            ErrorBody::new(ErrorCode::Unauthorized, "the token is invalid or expired")
        })?;
    if claims.user() != caller.user {
        return Err(ErrorBody::new(
            ErrorCode::Forbidden,
            "the token is for another user; a connection keeps its user",
        ));
    }
    let expires_at = claims.expires_at();
    tracing::debug!(%expires_at, "token refreshed");
    connection.token = claims;
    Ok(expires_at)
}

/// What the node's revocation registry says: drop what the user may no longer see.
async fn on_control(
    hub: &Hub,
    caller: &mut Caller,
    connection: &mut Connection,
    outbox: &Outbox,
    control: Control,
) {
    let projects = match control {
        Control::Revoked(project) => {
            let held = caller.session.project_id == Some(project)
                || connection.subscriptions.projects().contains(&project);
            if !held || crate::revocation::still_member(hub, &caller.user, project).await {
                return;
            }
            vec![project]
        }
        // Revocations may have been missed: ask Postgres about every project held.
        Control::Recheck => {
            let mut held = connection.subscriptions.projects();
            if let Some(project) = caller.session.project_id
                && !held.contains(&project)
            {
                held.push(project);
            }
            let mut lost = Vec::new();
            for project in held {
                let access = crate::access::topic(
                    hub,
                    &caller.user,
                    protocol::event::Topic::Project(project),
                )
                .await;
                // Only a definite "not a member" revokes; an unavailable database does not.
                if access.is_err_and(|e| e.code == ErrorCode::NotFound) {
                    lost.push(project);
                }
            }
            lost
        }
    };
    for project in projects {
        revoke(hub, caller, connection, outbox, project).await;
    }
}

/// Drops the connection's subscription to the project's topic, takes the project out of
/// its session (and so out of presence), and tells the client why.
async fn revoke(
    hub: &Hub,
    caller: &mut Caller,
    connection: &mut Connection,
    outbox: &Outbox,
    project: ProjectId,
) {
    let topic = project_topic(project);
    let subscribed = connection
        .subscriptions
        .drop_topic(protocol::event::Topic::Project(project));
    let in_session = caller.session.project_id == Some(project);
    if in_session {
        // The node that removed the member cleared its sessions in the same
        // transaction; again here for a revocation found by a re-check.
        let cleared = async {
            let mut conn = hub.store.acquire().await?;
            store::sessions::leave_project(&mut conn, &caller.user, project).await
        }
        .await;
        if let Err(e) = cleared {
            tracing::warn!(%project, error = %e, "session not cleared of a revoked project");
        }
        caller.session.project_id = None;
        connection.sync_presence(hub, caller).await;
    }
    if subscribed || in_session {
        tracing::info!(%project, subscribed, in_session, "access revoked");
        let error = ErrorBody::new(
            ErrorCode::Forbidden,
            format!("access to {topic} was revoked"),
        )
        .with_details(serde_json::json!({ "topic": topic }));
        reply(outbox, &ServerMessage::error(None, error));
    }
}

fn ok(re: RequestId, data: OkData) -> ServerMessage {
    ServerMessage::Ok {
        re,
        data: Some(data),
    }
}

/// Sends what is queued (the fan-out's events, and answers the reader's own task did not
/// find the sink free for), pings every heartbeat, and closes the socket with the close
/// frame asked for.
async fn write_loop<S: FrameSink>(
    sink: Arc<Mutex<S>>,
    inbox: Inbox,
    heartbeat: Duration,
    close_grace: Duration,
) {
    let mut ping = tokio::time::interval_at(Instant::now() + heartbeat, heartbeat);
    let close = loop {
        let mut batch = tokio::select! {
            ready = inbox.ready() => {
                if !ready {
                    break inbox.abort_reason();
                }
                Vec::new()
            }
            _ = ping.tick() => vec![Message::Ping],
        };
        // An answers task may hold the sink for one batch of its own.
        let mut sink = tokio::select! {
            biased;
            _ = inbox.aborted() => break inbox.abort_reason(),
            sink = sink.lock() => sink,
        };
        // Frames that piled up go out together, up to a batch per flush: one write for
        // a burst of events instead of one per frame. One batch per turn, so a ping due
        // is not held back by a queue that never empties.
        let mut then_close = None;
        while batch.len() < WRITE_BATCH {
            match inbox.try_next() {
                Some(Out::Text(text)) => batch.push(Message::Text(text)),
                Some(Out::Close(code, reason)) => {
                    then_close = Some((code, reason));
                    break;
                }
                None => break,
            }
        }
        if batch.is_empty() && then_close.is_none() {
            // An answers task sent what woke this writer.
            continue;
        }
        // A client that does not read leaves this send pending; an abort (slow
        // consumer, shutdown) must not wait for it.
        let sent = tokio::select! {
            biased;
            _ = inbox.aborted() => break inbox.abort_reason(),
            sent = send(&mut *sink, batch.into_iter()) => sent,
        };
        if sent.is_err() {
            break None;
        }
        if then_close.is_some() {
            break then_close;
        }
    };
    // An answers task gives the sink back within its send, or at the abort.
    if let Ok(mut sink) = timeout(close_grace, sink.lock()).await {
        if let Some((code, reason)) = close {
            let _ = timeout(close_grace, sink.send_close(code, reason)).await;
        }
        let _ = timeout(Duration::from_secs(1), sink.close()).await;
    }
    inbox.finish();
}

/// Feeds `frames` and flushes them in one write.
async fn send(
    sink: &mut impl FrameSink,
    frames: impl Iterator<Item = Message>,
) -> Result<(), Closed> {
    for frame in frames {
        sink.feed(frame).await?;
    }
    sink.flush().await
}

/// The reader's way to its answers' send. The writer runs apart (`delivery.rs`), where a
/// burst of events queues its tasks; an answer the writer would send waits for that
/// queue. So when the reader has queued an answer and the sink is free, a task on the
/// reader's runtime sends what is queued then: at most one batch, text frames only (a
/// close is the writer's), in order, since frames are taken only under the sink's lock.
/// When the sink is taken, its holder is at work: the answer goes in its next batch (the
/// writer, finishing a send, finds its queue not empty and goes on).
struct Answers<S> {
    sink: Arc<Mutex<S>>,
    inbox: Inbox,
}

impl<S: FrameSink> Answers<S> {
    fn send(&self) {
        if self.inbox.is_empty() {
            return;
        }
        let Ok(mut sink) = self.sink.clone().try_lock_owned() else {
            return;
        };
        let inbox = self.inbox.clone();
        tokio::spawn(
            async move {
                let answers = std::iter::from_fn(|| inbox.try_next_text().map(Message::Text))
                    .take(WRITE_BATCH);
                let sent = tokio::select! {
                    biased;
                    _ = inbox.aborted() => return,
                    sent = send(&mut *sink, answers) => sent,
                };
                if sent.is_err() {
                    // The socket is gone: the writer stops too.
                    inbox.finish();
                }
            }
            .in_current_span(),
        );
    }
}
