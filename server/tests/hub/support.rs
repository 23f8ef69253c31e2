//! The hub's test harness: an in-process server on port 0 (and more nodes of the same
//! install) built on the shared test kit (`testkit`: a fresh database and Redis key
//! prefix, the protocol client), plus what only the hub's tests need: tokens, SSE
//! streams, a private Redis to break.
//!
//! `TestServer` lives here rather than in the kit: it runs `server`, and a kit that
//! depended on `server` could not serve `server`'s own unit tests or the worker's.

use futures_util::StreamExt;
use serde_json::{Value, json};
use server::Config;
use std::collections::VecDeque;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

/// The test's own database (`name`, `url`), dropped when its last node is.
pub use testkit::Database as TestDb;
pub use testkit::{Client, Prefix, WAIT, Ws, redis_url};

/// Signs the tests' tokens; as long as the server requires (32 bytes at least).
pub const SECRET: &str = "draftline-hub-test-secret-0123456789abcdef";

/// A hub node running in this process.
pub struct TestServer {
    pub addr: SocketAddr,
    /// Shared by every node of the test.
    pub db: Arc<TestDb>,
    /// The nodes' Redis key prefix, its keys deleted when the last node is dropped.
    pub prefix: Arc<Prefix>,
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
        Self::start_on(&testkit::database_url(), tune).await
    }

    /// Starts a node whose database lives on the Postgres server of `admin` (a URL of
    /// any database there), after `tune` adjusts its configuration.
    pub async fn start_on(admin: &str, tune: impl FnOnce(&mut Config)) -> Self {
        let db = Arc::new(
            TestDb::try_create(admin, "test")
                .await
                .unwrap_or_else(|e| panic!("create the test database on {admin}: {e}")),
        );
        let prefix = Arc::new(Prefix::new("test"));
        let mut config = Config::new(db.url.clone(), redis_url(), SECRET.into());
        config.redis_prefix = prefix.prefix.clone();
        config.db_max_connections = 5;
        tune(&mut config);
        Self::launch(db, prefix, config).await
    }

    /// Another node of the same install: same database, Redis and key prefix, its own
    /// port and node id.
    pub async fn peer(&self) -> Self {
        let mut config = self.config.clone();
        config.node_id = None;
        Self::launch(self.db.clone(), self.prefix.clone(), config).await
    }

    async fn launch(db: Arc<TestDb>, prefix: Arc<Prefix>, config: Config) -> Self {
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
            prefix,
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
        Client::connect(&self.ws_url(""), token).await
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

    /// `GET path` as `user` (no token without one), its body as JSON whatever the status.
    pub async fn get_json(&self, path: &str, user: Option<&str>) -> Value {
        let mut request = self.http.get(self.url(path));
        if let Some(user) = user {
            request = request.bearer_auth(self.token(user));
        }
        request.send().await.unwrap().json().await.unwrap()
    }

    /// The node's `/metrics` text (the recorder is process-wide: every node of this test
    /// binary shares it).
    pub async fn metrics(&self) -> String {
        let response = self.http.get(self.url("/metrics")).send().await.unwrap();
        response.text().await.unwrap()
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
        Ws::open(&self.ws_url(query), bearer).await
    }

    /// The node's WebSocket URL with `query` appended.
    pub fn ws_url(&self, query: &str) -> String {
        format!("ws://{}/v1/ws{query}", self.addr)
    }

    /// A client past `hello` as `user`, in a new session.
    pub async fn connect(&self, user: &str) -> Client {
        self.connect_with(&self.token(user)).await
    }

    /// A client of `user` subscribed to the project's topic.
    pub async fn watcher(&self, user: &str, project: &str) -> Client {
        let mut client = self.connect(user).await;
        client.subscribe_project(project).await;
        client
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

/// `PUT /v1/projects/{project}/members/{user}` as the owner; the member must come back
/// with `role`.
pub async fn put_member(server: &TestServer, owner: &str, project: &str, user: &str, role: &str) {
    let response = server
        .http
        .put(server.url(&format!("/v1/projects/{project}/members/{user}")))
        .bearer_auth(server.token(owner))
        .json(&json!({ "role": role }))
        .send()
        .await
        .unwrap();
    let status = response.status();
    let body: Value = response.json().await.unwrap();
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["role"], role, "{body}");
}

/// The sessions present in the project, as `GET .../presence` on `server` answers to
/// `user`.
pub async fn present(server: &TestServer, user: &str, project: &str) -> Vec<String> {
    let reply = server
        .get_json(&format!("/v1/projects/{project}/presence"), Some(user))
        .await;
    reply["presence"]
        .as_array()
        .unwrap_or_else(|| panic!("{reply}"))
        .iter()
        .map(|p| p["session_id"].as_str().unwrap().to_owned())
        .collect()
}

/// The row of `table` with `id`, as JSON.
pub async fn row(db: &sqlx::PgPool, table: &str, id: &str) -> Option<Value> {
    json_rows(
        db,
        &format!("SELECT to_jsonb(t) FROM {table} t WHERE id::text = $1"),
        id,
    )
    .await
    .pop()
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
        Self {
            port: testkit::free_port(),
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
