//! A client that speaks the protocol (`docs/protocol.md`) over WebSocket: the upgrade
//! with the `draftline.v1` subprotocol, `hello`, requests matched to their reply by
//! `re`, tool calls, subscriptions, waiting for an event, and how the server closed.
//!
//! Frames are JSON values, so tests can send what a broken client would and assert on
//! exactly what the server wrote. Every wait is bounded ([`Ws::wait`], [`crate::WAIT`]
//! by default): the panicking methods name what did not arrive, the `try_` methods
//! answer a [`ClientError`].

use futures_util::{SinkExt, StreamExt};
use serde_json::{Value, json};
use std::time::Duration;
use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::http::HeaderValue;
use tokio_tungstenite::tungstenite::protocol::WebSocketConfig;
use tokio_tungstenite::tungstenite::{self, Message};
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};

pub type Socket = WebSocketStream<MaybeTlsStream<TcpStream>>;

/// How a connection ended, as the client saw it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Closed {
    pub code: u16,
    pub reason: String,
}

#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    #[error("no {what} within {after:?}")]
    Timeout { what: String, after: Duration },
    #[error("the server closed the connection ({} {:?}) while waiting for {what}", closed.code, closed.reason)]
    Closed { closed: Closed, what: String },
    #[error("the connection ended without a close frame while waiting for {what}")]
    Ended { what: String },
    #[error("WebSocket: {0}")]
    Socket(#[from] tungstenite::Error),
    #[error("a frame that is not JSON ({error}): {text}")]
    NotJson {
        error: serde_json::Error,
        text: String,
    },
    #[error("expected {expected}, got {got}")]
    Unexpected { expected: String, got: Value },
}

/// What the next read gave.
enum Frame {
    Json(Value),
    Closed(Closed),
}

/// A WebSocket speaking the protocol's JSON frames.
pub struct Ws {
    pub ws: Socket,
    next_id: i64,
    /// How long any one wait lasts.
    pub wait: Duration,
}

impl Ws {
    /// Upgrades at `url` (`ws://host:port/v1/ws…`) asking for the protocol's
    /// subprotocol, optionally with a bearer token header; the HTTP error when refused.
    /// Panics when the server answers with another subprotocol.
    pub async fn open(url: &str, bearer: Option<&str>) -> Result<Self, tungstenite::Error> {
        Self::open_with(url, bearer, None).await
    }

    /// [`Ws::open`] with a WebSocket configuration (the load harness's read buffer).
    pub async fn open_with(
        url: &str,
        bearer: Option<&str>,
        config: Option<WebSocketConfig>,
    ) -> Result<Self, tungstenite::Error> {
        let mut request = url.into_client_request()?;
        request.headers_mut().insert(
            "sec-websocket-protocol",
            HeaderValue::from_static(protocol::SUBPROTOCOL),
        );
        if let Some(token) = bearer {
            let value = HeaderValue::from_str(&format!("Bearer {token}"))
                .map_err(|e| tungstenite::Error::HttpFormat(e.into()))?;
            request.headers_mut().insert("authorization", value);
        }
        let (ws, response) =
            tokio_tungstenite::connect_async_with_config(request, config, false).await?;
        let subprotocol = response
            .headers()
            .get("sec-websocket-protocol")
            .and_then(|v| v.to_str().ok());
        assert_eq!(
            subprotocol,
            Some(protocol::SUBPROTOCOL),
            "the server's subprotocol"
        );
        Ok(Self {
            ws,
            next_id: 0,
            wait: crate::WAIT,
        })
    }

    /// Waits at most `wait` for each message from now on.
    pub fn with_wait(mut self, wait: Duration) -> Self {
        self.wait = wait;
        self
    }

    pub async fn try_send(&mut self, frame: &Value) -> Result<(), ClientError> {
        Ok(self.ws.send(Message::text(frame.to_string())).await?)
    }

    pub async fn send(&mut self, frame: Value) {
        self.try_send(&frame)
            .await
            .unwrap_or_else(|e| panic!("send {frame}: {e}"));
    }

    pub async fn send_text(&mut self, text: &str) {
        self.ws
            .send(Message::text(text.to_owned()))
            .await
            .unwrap_or_else(|e| panic!("send {text:?}: {e}"));
    }

    /// The next text or close message within `wait` (`None` after it). Pings are
    /// answered by the library and skipped; a stream that ends or fails is an error.
    async fn next_message(
        &mut self,
        wait: Duration,
        what: &str,
    ) -> Result<Option<Message>, ClientError> {
        loop {
            let Ok(next) = tokio::time::timeout(wait, self.ws.next()).await else {
                return Ok(None);
            };
            let message = next.ok_or_else(|| ClientError::Ended { what: what.into() })??;
            if matches!(message, Message::Text(_) | Message::Close(_)) {
                return Ok(Some(message));
            }
        }
    }

    /// The next JSON message or the close, within `wait` (`None` after it).
    async fn next_frame(
        &mut self,
        wait: Duration,
        what: &str,
    ) -> Result<Option<Frame>, ClientError> {
        match self.next_message(wait, what).await? {
            Some(Message::Text(text)) => serde_json::from_str(&text)
                .map(|v| Some(Frame::Json(v)))
                .map_err(|error| ClientError::NotJson {
                    error,
                    text: text.to_string(),
                }),
            Some(Message::Close(frame)) => Ok(Some(Frame::Closed(closed_by(frame)))),
            _ => Ok(None),
        }
    }

    /// The next JSON message within `wait`, `None` when none came.
    async fn try_recv_for(
        &mut self,
        wait: Duration,
        what: &str,
    ) -> Result<Option<Value>, ClientError> {
        match self.next_frame(wait, what).await? {
            None => Ok(None),
            Some(Frame::Json(value)) => Ok(Some(value)),
            Some(Frame::Closed(closed)) => Err(ClientError::Closed {
                closed,
                what: what.into(),
            }),
        }
    }

    /// The next JSON message; an error on a close or after [`Ws::wait`].
    pub async fn try_recv(&mut self) -> Result<Value, ClientError> {
        let wait = self.wait;
        self.try_recv_for(wait, "message")
            .await?
            .ok_or_else(|| ClientError::Timeout {
                what: "message".into(),
                after: wait,
            })
    }

    /// The next JSON message; panics on a close or after [`Ws::wait`].
    pub async fn recv(&mut self) -> Value {
        self.try_recv().await.unwrap_or_else(|e| panic!("{e}"))
    }

    /// The next JSON message within `wait`, `None` when none came; panics on a close.
    pub async fn recv_within(&mut self, wait: Duration) -> Option<Value> {
        self.try_recv_for(wait, "message")
            .await
            .unwrap_or_else(|e| panic!("{e}"))
    }

    /// The next JSON message, or `None` once the connection closed (a close frame, an
    /// error, or the end of the stream); panics after [`Ws::wait`].
    pub async fn recv_or_closed(&mut self) -> Option<Value> {
        match self.next_frame(self.wait, "a message or a close").await {
            Ok(None) => panic!("no message or close within {:?}", self.wait),
            Ok(Some(Frame::Json(value))) => Some(value),
            Err(e @ ClientError::NotJson { .. }) => panic!("{e}"),
            Ok(Some(Frame::Closed(_))) | Err(_) => None,
        }
    }

    /// Sends `frame` with a fresh `id` and answers the reply carrying that `re`; every
    /// other message that arrives meanwhile is shown to `seen`, then skipped.
    pub async fn try_request_seeing(
        &mut self,
        mut frame: Value,
        mut seen: impl FnMut(&Value),
    ) -> Result<Value, ClientError> {
        self.next_id += 1;
        let id = json!(self.next_id);
        frame["id"] = id.clone();
        self.try_send(&frame).await?;
        let what = format!("the reply to {}", frame["type"]);
        loop {
            let wait = self.wait;
            let message =
                self.try_recv_for(wait, &what)
                    .await?
                    .ok_or_else(|| ClientError::Timeout {
                        what: what.clone(),
                        after: wait,
                    })?;
            if message["re"] == id {
                return Ok(message);
            }
            seen(&message);
        }
    }

    /// Sends `frame` with a fresh `id`; answers the reply (other messages are skipped).
    pub async fn try_request(&mut self, frame: Value) -> Result<Value, ClientError> {
        self.try_request_seeing(frame, |_| {}).await
    }

    /// Sends `frame` with a fresh `id` and answers the reply carrying that `re`.
    pub async fn request(&mut self, frame: Value) -> Value {
        self.try_request(frame)
            .await
            .unwrap_or_else(|e| panic!("{e}"))
    }

    /// `hello` with `token` as client `name`; answers the `welcome` (anything else is
    /// an error carrying the reply).
    pub async fn try_hello(&mut self, token: &str, name: &str) -> Result<Value, ClientError> {
        let reply = self
            .try_request(
                json!({"type": "hello", "token": token, "client": {"name": name, "version": "1"}}),
            )
            .await?;
        if reply["type"] != "welcome" {
            return Err(ClientError::Unexpected {
                expected: "welcome".into(),
                got: reply,
            });
        }
        Ok(reply)
    }

    /// `subscribe` to `topic`; answers the `subscribed` reply.
    pub async fn try_subscribe(&mut self, topic: &str) -> Result<Value, ClientError> {
        let reply = self
            .try_request(json!({"type": "subscribe", "topic": topic}))
            .await?;
        if reply["type"] != "subscribed" {
            return Err(ClientError::Unexpected {
                expected: format!("subscribed to {topic}"),
                got: reply,
            });
        }
        Ok(reply)
    }

    /// The first message `matches` accepts, skipping the others; an error naming `what`
    /// when none came within [`Ws::wait`] of the last message, or on a close.
    pub async fn try_wait_for(
        &mut self,
        what: &str,
        mut matches: impl FnMut(&Value) -> bool,
    ) -> Result<Value, ClientError> {
        loop {
            let wait = self.wait;
            let message =
                self.try_recv_for(wait, what)
                    .await?
                    .ok_or_else(|| ClientError::Timeout {
                        what: what.into(),
                        after: wait,
                    })?;
            if matches(&message) {
                return Ok(message);
            }
        }
    }

    /// The first message `matches` accepts; panics naming `what` when none came in time.
    pub async fn wait_for(&mut self, what: &str, matches: impl FnMut(&Value) -> bool) -> Value {
        self.try_wait_for(what, matches)
            .await
            .unwrap_or_else(|e| panic!("{e}"))
    }

    /// The next `event` message (the whole frame), skipping others.
    pub async fn next_event(&mut self) -> Value {
        self.wait_for("event", |m| m["type"] == "event").await
    }

    /// The `event` of the next event frame of `kind`, skipping others.
    pub async fn next_event_of(&mut self, kind: &str) -> Value {
        let what = format!("{kind} event");
        let frame = self
            .wait_for(&what, |m| {
                m["type"] == "event" && m["event"]["kind"] == kind
            })
            .await;
        frame["event"].clone()
    }

    /// Panics when an `event` arrives within `quiet` (other messages are skipped).
    pub async fn no_event_within(&mut self, quiet: Duration) {
        let deadline = tokio::time::Instant::now() + quiet;
        loop {
            let left = deadline.saturating_duration_since(tokio::time::Instant::now());
            match self.try_recv_for(left, "quiet").await {
                Ok(None) => return,
                Ok(Some(message)) if message["type"] == "event" => {
                    panic!("unexpected event: {message}")
                }
                Ok(Some(_)) => continue,
                Err(e) => panic!("{e}"),
            }
        }
    }

    /// Reads until the server closes; answers the close code and reason (1005 when the
    /// close frame had none or the stream just ended). Panics when the connection fails
    /// before a close frame or nothing comes within [`Ws::wait`].
    pub async fn closed(&mut self) -> Closed {
        loop {
            // Messages before the close are skipped unread: a slow reader must not let
            // the server's reset overtake its close frame.
            match self.next_message(self.wait, "a close").await {
                Ok(Some(Message::Close(frame))) => return closed_by(frame),
                Ok(Some(_)) => continue,
                Ok(None) => panic!("no close within {:?}", self.wait),
                Err(ClientError::Ended { .. }) => return closed_by(None),
                Err(e) => panic!("connection failed before a close frame: {e}"),
            }
        }
    }
}

/// The code and reason of a close frame (1005 when it had none).
fn closed_by(frame: Option<tungstenite::protocol::CloseFrame>) -> Closed {
    frame.map_or(
        Closed {
            code: 1005,
            reason: String::new(),
        },
        |f| Closed {
            code: f.code.into(),
            reason: f.reason.to_string(),
        },
    )
}

/// A client past `hello`.
pub struct Client {
    pub ws: Ws,
    pub welcome: Value,
}

impl Client {
    /// Opens `url` and says `hello` with `token` as client `name`.
    pub async fn try_connect(url: &str, token: &str, name: &str) -> Result<Self, ClientError> {
        let mut ws = Ws::open(url, None).await?;
        let welcome = ws.try_hello(token, name).await?;
        Ok(Self { ws, welcome })
    }

    /// [`Client::try_connect`] as client `test`; panics saying why it failed.
    pub async fn connect(url: &str, token: &str) -> Self {
        Self::try_connect(url, token, "test")
            .await
            .unwrap_or_else(|e| panic!("connect to {url}: {e}"))
    }

    pub fn session_id(&self) -> String {
        self.welcome["session_id"]
            .as_str()
            .unwrap_or_else(|| panic!("a welcome without a session id: {}", self.welcome))
            .to_owned()
    }

    pub async fn request(&mut self, frame: Value) -> Value {
        self.ws.request(frame).await
    }

    /// Calls a tool; answers the whole `tool.result` (an error when the reply is not
    /// one, or answers another call).
    pub async fn try_call(&mut self, name: &str, arguments: Value) -> Result<Value, ClientError> {
        let call_id = format!("call-{name}");
        let reply = self
            .ws
            .try_request(json!({"type": "tool.call", "call_id": call_id, "name": name, "arguments": arguments}))
            .await?;
        if reply["type"] != "tool.result" || reply["call_id"] != call_id.as_str() {
            return Err(ClientError::Unexpected {
                expected: format!("the tool.result of {call_id}"),
                got: reply,
            });
        }
        Ok(reply)
    }

    /// Calls a tool; answers the whole `tool.result`.
    pub async fn call(&mut self, name: &str, arguments: Value) -> Value {
        self.try_call(name, arguments)
            .await
            .unwrap_or_else(|e| panic!("{e}"))
    }

    /// Calls a tool that must succeed; answers its output.
    pub async fn call_ok(&mut self, name: &str, arguments: Value) -> Value {
        let reply = self.call(name, arguments).await;
        assert_eq!(reply["ok"], true, "{name} failed: {reply}");
        reply["output"].clone()
    }

    /// Calls a tool that must fail; answers its error.
    pub async fn call_err(&mut self, name: &str, arguments: Value) -> Value {
        let reply = self.call(name, arguments).await;
        assert_eq!(reply["ok"], false, "{name} should fail: {reply}");
        reply["error"].clone()
    }

    /// `session.configure`; answers the session.
    pub async fn configure(&mut self, settings: Value) -> Value {
        let mut frame = settings;
        frame["type"] = json!("session.configure");
        let reply = self.request(frame).await;
        assert_eq!(reply["type"], "ok", "{reply}");
        reply["data"]["session"].clone()
    }

    /// Creates a project, assigns it to the session and switches to `mode`; answers the
    /// project id.
    pub async fn project_in_mode(&mut self, name: &str, mode: &str) -> String {
        let project = self.call_ok("create_project", json!({"name": name})).await;
        let id = project["project"]["id"]
            .as_str()
            .unwrap_or_else(|| panic!("create_project answered no id: {project}"))
            .to_owned();
        self.call_ok("assign_project_to_session", json!({"project_id": id}))
            .await;
        self.configure(json!({"mode": mode})).await;
        id
    }

    /// Subscribes to the project's topic; answers the `subscribed` reply.
    pub async fn subscribe_project(&mut self, project: &str) -> Value {
        let topic = format!("project:{project}");
        self.ws
            .try_subscribe(&topic)
            .await
            .unwrap_or_else(|e| panic!("{e}"))
    }
}
