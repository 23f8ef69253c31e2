//! The test harness: a fresh database and Redis key prefix per test, an in-process
//! server on port 0, and a WebSocket client that speaks the protocol.

use futures_util::{SinkExt, StreamExt};
use serde_json::{Value, json};
use server::Config;
use std::collections::VecDeque;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;
use tokio::net::TcpStream;
use tokio::task::JoinHandle;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::http::HeaderValue;
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};
use tokio_util::sync::CancellationToken;

/// Signs the tests' tokens; as long as the server requires (32 bytes at least).
pub const SECRET: &str = "draftline-hub-test-secret-0123456789abcdef";
/// How long a test waits for any one message before failing.
pub const WAIT: Duration = Duration::from_secs(10);

fn admin_url() -> String {
    std::env::var("DATABASE_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".into())
}

pub fn redis_url() -> String {
    std::env::var("REDIS_URL").unwrap_or_else(|_| "redis://127.0.0.1:6379".into())
}

/// A database of its own, dropped when the test ends.
pub struct TestDb {
    pub name: String,
    pub url: String,
    /// The server it lives on (any database of it).
    admin: String,
}

impl TestDb {
    pub async fn create() -> Self {
        Self::create_on(&admin_url()).await
    }

    /// A database on the server of `admin` (a URL of any database there).
    pub async fn create_on(admin: &str) -> Self {
        let name = format!("dl_test_{}", uuid::Uuid::new_v4().simple());
        let url = store::with_database(admin, &name);
        store::Store::create_database_if_missing(&url)
            .await
            .expect("create the test database (is Postgres reachable at DATABASE_URL?)");
        let store = store::Store::connect(&url, 2).await.expect("connect");
        store.migrate().await.expect("migrate");
        store.pool.close().await;
        Self {
            name,
            url,
            admin: admin.to_owned(),
        }
    }
}

impl Drop for TestDb {
    fn drop(&mut self) {
        let admin = store::with_database(&self.admin, "postgres");
        let name = self.name.clone();
        // Drop runs inside the test's runtime; use a thread with a runtime of its own.
        let _ = std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build();
            if let Ok(rt) = rt {
                rt.block_on(async {
                    use sqlx::Connection;
                    if let Ok(mut conn) = sqlx::PgConnection::connect(&admin).await {
                        let sql = format!("DROP DATABASE IF EXISTS \"{name}\" WITH (FORCE)");
                        let _ = sqlx::query(&sql).execute(&mut conn).await;
                    }
                });
            }
        })
        .join();
    }
}

/// A hub node running in this process.
pub struct TestServer {
    pub addr: SocketAddr,
    /// Shared by every node of the test.
    pub db: Arc<TestDb>,
    /// The configuration it runs with (peers share its database and Redis prefix).
    pub config: Config,
    pub shutdown: CancellationToken,
    handle: Option<JoinHandle<()>>,
    pub http: reqwest::Client,
}

impl TestServer {
    pub async fn start() -> Self {
        Self::start_with(|_| {}).await
    }

    /// Starts a node after `tune` adjusts its configuration.
    pub async fn start_with(tune: impl FnOnce(&mut Config)) -> Self {
        Self::start_on(&admin_url(), tune).await
    }

    /// Starts a node whose database lives on the Postgres server of `admin` (a URL of
    /// any database there), after `tune` adjusts its configuration.
    pub async fn start_on(admin: &str, tune: impl FnOnce(&mut Config)) -> Self {
        let db = Arc::new(TestDb::create_on(admin).await);
        let mut config = Config::new(db.url.clone(), redis_url(), SECRET.into());
        config.redis_prefix = format!("dl:test:{}:", uuid::Uuid::new_v4().simple());
        config.db_max_connections = 5;
        tune(&mut config);
        Self::launch(db, config).await
    }

    /// Another node of the same install: same database, Redis and key prefix, its own
    /// port and node id.
    pub async fn peer(&self) -> Self {
        let mut config = self.config.clone();
        config.node_id = None;
        Self::launch(self.db.clone(), config).await
    }

    async fn launch(db: Arc<TestDb>, config: Config) -> Self {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let shutdown = CancellationToken::new();
        let token = shutdown.clone();
        let run_config = config.clone();
        let handle = tokio::spawn(async move {
            server::run(run_config, listener, token)
                .await
                .expect("server runs");
        });
        Self {
            addr,
            db,
            config,
            shutdown,
            handle: Some(handle),
            http: reqwest::Client::new(),
        }
    }

    pub fn token(&self, user: &str) -> String {
        server::auth::Auth::new(SECRET)
            .issue(user, false, 3600)
            .unwrap()
    }

    /// A token of `user` that expires in `ttl_secs`.
    pub fn token_for(&self, user: &str, ttl_secs: u64) -> String {
        server::auth::Auth::new(SECRET)
            .issue(user, false, ttl_secs)
            .unwrap()
    }

    /// A client past `hello` with `token`.
    pub async fn connect_with(&self, token: &str) -> Client {
        let mut ws = self.raw("").await;
        let welcome = ws
            .request(json!({"type": "hello", "token": token, "client": {"name": "test", "version": "1"}}))
            .await;
        assert_eq!(welcome["type"], "welcome", "{welcome}");
        Client { ws, welcome }
    }

    /// A token with the `admin` scope.
    pub fn admin_token(&self, user: &str) -> String {
        server::auth::Auth::new(SECRET)
            .issue(user, true, 3600)
            .unwrap()
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr)
    }

    /// A WebSocket with nothing sent yet; `query` is appended to `/v1/ws`.
    pub async fn raw(&self, query: &str) -> Ws {
        self.raw_with(query, None).await.expect("upgrade")
    }

    /// The upgrade, optionally with a bearer token header; the HTTP error when refused.
    pub async fn raw_with(
        &self,
        query: &str,
        bearer: Option<&str>,
    ) -> Result<Ws, tokio_tungstenite::tungstenite::Error> {
        let mut request = format!("ws://{}/v1/ws{query}", self.addr)
            .into_client_request()
            .unwrap();
        request.headers_mut().insert(
            "sec-websocket-protocol",
            HeaderValue::from_static("draftline.v1"),
        );
        if let Some(token) = bearer {
            request.headers_mut().insert(
                "authorization",
                HeaderValue::from_str(&format!("Bearer {token}")).unwrap(),
            );
        }
        let (ws, response) = tokio_tungstenite::connect_async(request).await?;
        assert_eq!(
            response
                .headers()
                .get("sec-websocket-protocol")
                .and_then(|v| v.to_str().ok()),
            Some("draftline.v1")
        );
        Ok(Ws { ws, next_id: 0 })
    }

    /// A client past `hello` as `user`, in a new session.
    pub async fn connect(&self, user: &str) -> Client {
        let mut ws = self.raw("").await;
        let welcome = ws
            .request(json!({"type": "hello", "token": self.token(user), "client": {"name": "test", "version": "1"}}))
            .await;
        assert_eq!(welcome["type"], "welcome", "{welcome}");
        Client { ws, welcome }
    }

    /// A client resuming `session_id` as `user`; answers the reply to `hello`.
    pub async fn resume(&self, user: &str, session_id: &str) -> (Ws, Value) {
        let mut ws = self.raw("").await;
        let reply = ws
            .request(json!({"type": "hello", "token": self.token(user), "session_id": session_id, "client": {"name": "test", "version": "1"}}))
            .await;
        (ws, reply)
    }

    /// Stops the node (SIGTERM's path) and waits for it.
    pub async fn stop(&mut self) {
        self.shutdown.cancel();
        if let Some(handle) = self.handle.take() {
            tokio::time::timeout(Duration::from_secs(15), handle)
                .await
                .expect("server stops in time")
                .expect("server task");
        }
    }

    /// A fresh pool on the test database, to check rows directly.
    pub async fn db(&self) -> sqlx::PgPool {
        sqlx::PgPool::connect(&self.db.url).await.unwrap()
    }
}

impl Drop for TestServer {
    fn drop(&mut self) {
        self.shutdown.cancel();
    }
}

/// A WebSocket speaking the protocol's JSON frames.
pub struct Ws {
    pub ws: WebSocketStream<MaybeTlsStream<TcpStream>>,
    next_id: i64,
}

/// How a connection ended, as the client saw it.
#[derive(Debug, PartialEq, Eq)]
pub struct Closed {
    pub code: u16,
    pub reason: String,
}

impl Ws {
    pub async fn send(&mut self, frame: Value) {
        self.ws
            .send(Message::text(frame.to_string()))
            .await
            .unwrap();
    }

    pub async fn send_text(&mut self, text: &str) {
        self.ws.send(Message::text(text.to_owned())).await.unwrap();
    }

    /// The next JSON message (pings are answered by the library and skipped); panics on
    /// a close or after [`WAIT`].
    pub async fn recv(&mut self) -> Value {
        loop {
            let msg = tokio::time::timeout(WAIT, self.ws.next())
                .await
                .expect("a message in time")
                .expect("connection open")
                .expect("valid frame");
            match msg {
                Message::Text(text) => return serde_json::from_str(&text).unwrap(),
                Message::Close(frame) => panic!("closed: {frame:?}"),
                _ => continue,
            }
        }
    }

    /// The next JSON message within `wait`, `None` when none came; panics on a close.
    pub async fn recv_within(&mut self, wait: Duration) -> Option<Value> {
        loop {
            let msg = tokio::time::timeout(wait, self.ws.next())
                .await
                .ok()?
                .expect("connection open")
                .expect("valid frame");
            match msg {
                Message::Text(text) => return Some(serde_json::from_str(&text).unwrap()),
                Message::Close(frame) => panic!("closed: {frame:?}"),
                _ => continue,
            }
        }
    }

    /// The next JSON message, or `None` once the connection closed (a close frame, an
    /// error, or the end of the stream); panics after [`WAIT`].
    pub async fn recv_or_closed(&mut self) -> Option<Value> {
        loop {
            let msg = tokio::time::timeout(WAIT, self.ws.next())
                .await
                .expect("a message or a close in time");
            match msg {
                Some(Ok(Message::Text(text))) => return Some(serde_json::from_str(&text).unwrap()),
                Some(Ok(Message::Close(_))) | Some(Err(_)) | None => return None,
                Some(Ok(_)) => continue,
            }
        }
    }

    /// Sends `frame` with a fresh `id` and answers the reply carrying that `re`.
    pub async fn request(&mut self, mut frame: Value) -> Value {
        self.next_id += 1;
        let id = self.next_id;
        frame["id"] = json!(id);
        self.send(frame).await;
        loop {
            let msg = self.recv().await;
            if msg["re"] == json!(id) {
                return msg;
            }
        }
    }

    /// Reads until the server closes; answers the close code and reason.
    pub async fn closed(&mut self) -> Closed {
        loop {
            let next = tokio::time::timeout(WAIT, self.ws.next())
                .await
                .expect("a close in time");
            match next {
                Some(Ok(Message::Close(Some(frame)))) => {
                    return Closed {
                        code: frame.code.into(),
                        reason: frame.reason.to_string(),
                    };
                }
                Some(Ok(Message::Close(None))) | None => {
                    return Closed {
                        code: 1005,
                        reason: String::new(),
                    };
                }
                Some(Ok(_)) => continue,
                Some(Err(e)) => panic!("connection failed before a close frame: {e}"),
            }
        }
    }
}

/// A client past `hello`.
pub struct Client {
    pub ws: Ws,
    pub welcome: Value,
}

impl Client {
    pub fn session_id(&self) -> String {
        self.welcome["session_id"].as_str().unwrap().to_owned()
    }

    pub async fn request(&mut self, frame: Value) -> Value {
        self.ws.request(frame).await
    }

    /// Calls a tool; answers the whole `tool.result`.
    pub async fn call(&mut self, name: &str, arguments: Value) -> Value {
        let reply = self
            .request(json!({"type": "tool.call", "call_id": format!("call-{name}"), "name": name, "arguments": arguments}))
            .await;
        assert_eq!(reply["type"], "tool.result", "{reply}");
        assert_eq!(reply["call_id"], format!("call-{name}"));
        reply
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
        let id = project["project"]["id"].as_str().unwrap().to_owned();
        self.call_ok("assign_project_to_session", json!({"project_id": id}))
            .await;
        self.configure(json!({"mode": mode})).await;
        id
    }
}

/// The JSON values a one-parameter query answers, straight from the test database.
pub async fn json_rows(db: &sqlx::PgPool, sql: &str, arg: &str) -> Vec<Value> {
    sqlx::query_scalar::<_, Value>(sql)
        .bind(arg)
        .fetch_all(db)
        .await
        .unwrap()
}

/// The count a one-parameter query answers.
pub async fn count(db: &sqlx::PgPool, sql: &str, arg: &str) -> i64 {
    sqlx::query_scalar::<_, i64>(sql)
        .bind(arg)
        .fetch_one(db)
        .await
        .unwrap()
}

/// A Redis server of the test's own (`redis-server` on a free port, nothing on disk),
/// for tests that flush, restart or cut Redis without touching other tests.
pub struct PrivateRedis {
    pub port: u16,
    child: Option<std::process::Child>,
    /// Where a persistent instance keeps its append-only file across restarts.
    dir: Option<std::path::PathBuf>,
}

impl PrivateRedis {
    pub async fn start() -> Self {
        let mut redis = Self::start_unspawned();
        redis.spawn().await;
        redis
    }

    /// An instance that keeps its data across [`PrivateRedis::restart`] (an append-only
    /// file synced on every write), like a production Redis with persistence.
    pub async fn start_persistent() -> Self {
        let mut redis = Self::start_unspawned();
        let dir = std::env::temp_dir().join(format!("dl-redis-{}", uuid::Uuid::new_v4().simple()));
        std::fs::create_dir_all(&dir).unwrap();
        redis.dir = Some(dir);
        redis.spawn().await;
        redis
    }

    fn start_unspawned() -> Self {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        Self {
            port,
            child: None,
            dir: None,
        }
    }

    /// Kills the server (SIGKILL): clients see their connections drop and new ones refused.
    pub fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// Starts the server again on the same port (with its data when persistent).
    pub async fn restart(&mut self) {
        self.kill();
        self.spawn().await;
    }

    async fn spawn(&mut self) {
        let mut command = std::process::Command::new("redis-server");
        command.args(["--port", &self.port.to_string(), "--bind", "127.0.0.1"]);
        match &self.dir {
            Some(dir) => command
                .args([
                    "--save",
                    "",
                    "--appendonly",
                    "yes",
                    "--appendfsync",
                    "always",
                ])
                .arg("--dir")
                .arg(dir),
            None => command.args(["--save", "", "--appendonly", "no"]),
        };
        let child = command
            .stdout(std::process::Stdio::null())
            .spawn()
            .expect("redis-server on PATH (scripts/test installs it when missing)");
        self.child = Some(child);
        for _ in 0..100 {
            if let Ok(client) = redis::Client::open(self.url().as_str())
                && let Ok(mut conn) = client.get_multiplexed_async_connection().await
                && redis::cmd("PING")
                    .query_async::<String>(&mut conn)
                    .await
                    .is_ok()
            {
                return;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        panic!("private redis did not start");
    }

    pub fn url(&self) -> String {
        format!("redis://127.0.0.1:{}", self.port)
    }

    /// A command on this server.
    pub async fn cmd<T: redis::FromRedisValue>(&self, cmd: &redis::Cmd) -> T {
        let client = redis::Client::open(self.url().as_str()).unwrap();
        let mut conn = client.get_multiplexed_async_connection().await.unwrap();
        cmd.query_async(&mut conn).await.unwrap()
    }
}

impl Drop for PrivateRedis {
    fn drop(&mut self) {
        self.kill();
        if let Some(dir) = &self.dir {
            let _ = std::fs::remove_dir_all(dir);
        }
    }
}

/// An SSE stream read message by message.
pub struct Sse {
    body: futures_util::stream::BoxStream<'static, reqwest::Result<Vec<u8>>>,
    buffer: String,
    messages: VecDeque<SseMessage>,
}

#[derive(Debug, Default, Clone)]
pub struct SseMessage {
    pub id: Option<String>,
    pub event: Option<String>,
    pub data: String,
}

impl Sse {
    /// Opens alice's stream of `project`.
    pub async fn open(
        server: &TestServer,
        project: &str,
        last_id: Option<&str>,
        query: &str,
    ) -> reqwest::Response {
        Self::open_with(server, &server.token("alice"), project, last_id, query).await
    }

    /// Opens a stream of `project` with `token`.
    pub async fn open_with(
        server: &TestServer,
        token: &str,
        project: &str,
        last_id: Option<&str>,
        query: &str,
    ) -> reqwest::Response {
        let mut request = server
            .http
            .get(server.url(&format!("/v1/projects/{project}/events{query}")))
            .bearer_auth(token);
        if let Some(id) = last_id {
            request = request.header("Last-Event-ID", id);
        }
        request.send().await.unwrap()
    }

    pub fn new(response: reqwest::Response) -> Self {
        assert_eq!(response.status(), 200);
        assert_eq!(
            response.headers()["content-type"].to_str().unwrap(),
            "text/event-stream"
        );
        Self {
            body: response
                .bytes_stream()
                .map(|r| r.map(|b| b.to_vec()))
                .boxed(),
            buffer: String::new(),
            messages: VecDeque::new(),
        }
    }

    /// Whether the stream ends (after any messages left) within [`WAIT`].
    pub async fn ends(&mut self) -> bool {
        self.messages.clear();
        loop {
            match tokio::time::timeout(WAIT, self.body.next()).await {
                Err(_) => return false,
                Ok(None | Some(Err(_))) => return true,
                Ok(Some(Ok(_))) => continue,
            }
        }
    }

    /// The next message with data (comments are skipped).
    pub async fn next(&mut self) -> SseMessage {
        loop {
            if let Some(message) = self.messages.pop_front() {
                return message;
            }
            let chunk = tokio::time::timeout(WAIT, self.body.next())
                .await
                .expect("an SSE message in time")
                .expect("stream open")
                .unwrap();
            self.buffer.push_str(std::str::from_utf8(&chunk).unwrap());
            while let Some(end) = self.buffer.find("\n\n") {
                let block: String = self.buffer.drain(..end + 2).collect();
                let mut message = SseMessage::default();
                for line in block.lines() {
                    if let Some(v) = line.strip_prefix("id: ") {
                        message.id = Some(v.to_owned());
                    } else if let Some(v) = line.strip_prefix("event: ") {
                        message.event = Some(v.to_owned());
                    } else if let Some(v) = line.strip_prefix("data: ") {
                        message.data.push_str(v);
                    }
                }
                if !message.data.is_empty() {
                    self.messages.push_back(message);
                }
            }
        }
    }
}
