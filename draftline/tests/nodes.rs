//! Several `draftline serve` processes on one machine, sharing Postgres and Redis: a
//! client on one node sees what a client on the other does, and when a node is killed
//! (no goodbye), its sessions leave the project's presence within the expiry.
// clippy.toml allows unwrap/expect in `#[test]` functions only, not in the helpers a
// test crate is made of; allowed here once for the whole crate.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use serde_json::{Value, json};
use std::process::{Child, Command, Stdio};
use std::time::Duration;
use testkit::{Client, Database, Prefix, free_port, redis_url};
use tokio::net::TcpStream;

const BIN: &str = env!("CARGO_BIN_EXE_draftline");
const SECRET: &str = "draftline-nodes-test-secret-0123456789abcdef";
/// Presence expiry for the test: short, so a dead node's sessions leave quickly.
const PRESENCE_TTL_MS: u64 = 1_500;

struct Node {
    port: u16,
    child: Child,
}

impl Drop for Node {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn serve(url: &str, prefix: &str, node_id: &str) -> Node {
    let port = free_port();
    let child = Command::new(BIN)
        .args(["serve", "--workers", "0"])
        .env("DATABASE_URL", url)
        .env("REDIS_URL", redis_url())
        .env("DRAFTLINE_JWT_SECRET", SECRET)
        .env("DRAFTLINE_BIND", format!("127.0.0.1:{port}"))
        .env("DRAFTLINE_REDIS_PREFIX", prefix)
        .env("DRAFTLINE_NODE_ID", node_id)
        .env("DRAFTLINE_PRESENCE_TTL_MS", PRESENCE_TTL_MS.to_string())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    Node { port, child }
}

/// A client of `node` past `hello`, once the process accepts connections.
async fn connect(node: &Node, token: &str) -> Client {
    let url = format!("ws://127.0.0.1:{}/v1/ws", node.port);
    for _ in 0..100 {
        if let Ok(client) = Client::try_connect(&url, token, "nodes-test").await {
            return client;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("node on port {} does not accept connections", node.port);
}

async fn presence(node: &Node, token: &str, project: &str) -> Vec<String> {
    let url = format!(
        "http://127.0.0.1:{}/v1/projects/{project}/presence",
        node.port
    );
    let reply: Value = reqwest_get(&url, token).await;
    let mut sessions: Vec<String> = reply["presence"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["session_id"].as_str().unwrap().to_owned())
        .collect();
    sessions.sort();
    sessions
}

/// A tiny HTTP GET over the test's own TCP stream (the binary's tests need no HTTP
/// client crate for one call).
async fn reqwest_get(url: &str, token: &str) -> Value {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let rest = url.strip_prefix("http://").unwrap();
    let (host, path) = rest.split_once('/').unwrap();
    let mut stream = TcpStream::connect(host).await.unwrap();
    let request = format!(
        "GET /{path} HTTP/1.1\r\nHost: {host}\r\nAuthorization: Bearer {token}\r\nConnection: close\r\n\r\n"
    );
    stream.write_all(request.as_bytes()).await.unwrap();
    let mut response = String::new();
    stream.read_to_string(&mut response).await.unwrap();
    let (head, body) = response.split_once("\r\n\r\n").unwrap();
    assert!(head.starts_with("HTTP/1.1 200"), "{head}");
    serde_json::from_str(body).unwrap()
}

#[tokio::test]
async fn two_processes_share_events_and_a_killed_nodes_sessions_leave() {
    let db = Database::reserve("nodes");
    let migrate = Command::new(BIN)
        .args(["migrate", "--database-url", &db.url])
        .output()
        .unwrap();
    assert!(migrate.status.success());
    let prefix = Prefix::new("nodes");
    let node_a = serve(&db.url, prefix.as_str(), "node-a");
    let mut node_b = serve(&db.url, prefix.as_str(), "node-b");
    let token = server::auth::Auth::new(SECRET)
        .issue("alice", false, 600)
        .unwrap();

    let mut a = connect(&node_a, &token).await;
    assert_eq!(a.welcome["node_id"], "node-a");
    let project = a
        .call_ok("create_project", json!({"name": "Two nodes"}))
        .await["project"]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    a.call_ok("assign_project_to_session", json!({"project_id": project}))
        .await;
    a.subscribe_project(&project).await;

    let mut b = connect(&node_b, &token).await;
    assert_eq!(b.welcome["node_id"], "node-b");
    let b_session = b.welcome["session_id"].as_str().unwrap().to_owned();
    b.call_ok("assign_project_to_session", json!({"project_id": project}))
        .await;
    let joined = a.ws.next_event().await;
    assert_eq!(joined["event"]["kind"], "presence.joined");
    assert_eq!(joined["event"]["session_id"], b_session);
    b.request(json!({"type": "session.configure", "mode": "intake"}))
        .await;
    b.call_ok("create_note", json!({"body": "from node b"}))
        .await;
    let note = a.ws.next_event().await;
    assert_eq!(note["event"]["note"]["body"], "from node b");

    let mut both = vec![
        a.welcome["session_id"].as_str().unwrap().to_owned(),
        b_session.clone(),
    ];
    both.sort();
    assert_eq!(presence(&node_a, &token, &project).await, both);
    assert_eq!(presence(&node_b, &token, &project).await, both);

    // SIGKILL: node b says no goodbye; its session expires and node a announces it.
    node_b.child.kill().unwrap();
    node_b.child.wait().unwrap();
    let started = std::time::Instant::now();
    let left = loop {
        let event = a.ws.next_event().await;
        if event["event"]["kind"] == "presence.left" {
            break event;
        }
    };
    assert_eq!(left["event"]["session_id"], b_session);
    let waited = started.elapsed();
    assert!(
        waited < Duration::from_millis(PRESENCE_TTL_MS * 3),
        "left {waited:?} after the kill"
    );
    assert_eq!(
        presence(&node_a, &token, &project).await,
        vec![a.welcome["session_id"].as_str().unwrap().to_owned()]
    );
    drop(a);
    drop(node_a);
    db.drop_now().await.unwrap();
}
