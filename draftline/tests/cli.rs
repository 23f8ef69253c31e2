//! The `draftline` binary as a process: `migrate` creates and migrates a database,
//! `token` prints a token the server accepts, and `serve` closes connections with 1012
//! and exits cleanly on SIGTERM.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::{database_url, redis_url};

use futures_util::{SinkExt, StreamExt};
use std::process::{Command, Stdio};
use std::time::Duration;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;

const BIN: &str = env!("CARGO_BIN_EXE_draftline");
const SECRET: &str = "draftline-cli-test-secret-0123456789abcdef";

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

#[tokio::test]
async fn migrate_token_serve_and_sigterm() {
    let name = format!("dl_cli_{}", uuid::Uuid::new_v4().simple());
    let url = database_url(&name);
    let migrate = Command::new(BIN)
        .args(["migrate", "--database-url", &url])
        .output()
        .unwrap();
    assert!(
        migrate.status.success(),
        "{}",
        String::from_utf8_lossy(&migrate.stderr)
    );
    // Migrating again is a no-op.
    let again = Command::new(BIN)
        .args(["migrate", "--database-url", &url])
        .output()
        .unwrap();
    assert!(again.status.success());

    // The admin command line reads and steers the queue without a hub.
    let prefix = format!("dl:cli:{name}:");
    let admin = |args: &[&str]| {
        let output = Command::new(BIN)
            .arg("admin")
            .args([
                "--database-url",
                &url,
                "--redis-url",
                &redis_url(),
                "--redis-prefix",
                &prefix,
            ])
            .args(args)
            .output()
            .unwrap();
        assert!(
            output.status.success(),
            "{}",
            String::from_utf8_lossy(&output.stderr)
        );
        serde_json::from_slice::<serde_json::Value>(&output.stdout).unwrap()
    };
    assert_eq!(admin(&["jobs", "ls"])["jobs"], serde_json::json!([]));
    assert_eq!(admin(&["jobs", "drain"])["dispatched"], 0);
    let stats = admin(&["jobs", "stats"]);
    assert_eq!(stats["depth"], serde_json::json!([]));
    let missing = Command::new(BIN)
        .arg("admin")
        .args([
            "--database-url",
            &url,
            "--redis-url",
            &redis_url(),
            "--redis-prefix",
            &prefix,
        ])
        .args(["jobs", "cancel", "00000000-0000-0000-0000-000000000000"])
        .output()
        .unwrap();
    assert!(!missing.status.success(), "cancelling an unknown job fails");
    assert!(String::from_utf8_lossy(&missing.stderr).contains("not found"));

    let token = Command::new(BIN)
        .args(["token", "--user", "cli-user", "--ttl", "600"])
        .env("DRAFTLINE_JWT_SECRET", SECRET)
        .output()
        .unwrap();
    assert!(token.status.success());
    let token = String::from_utf8(token.stdout).unwrap().trim().to_owned();
    assert_eq!(token.split('.').count(), 3, "a JWT: {token}");

    let port = free_port();
    let mut serve = Command::new(BIN)
        .arg("serve")
        .env("DATABASE_URL", &url)
        .env("REDIS_URL", redis_url())
        .env("DRAFTLINE_JWT_SECRET", SECRET)
        .env("DRAFTLINE_BIND", format!("127.0.0.1:{port}"))
        .env("DRAFTLINE_REDIS_PREFIX", format!("dl:cli:{name}:"))
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();

    let mut ws = None;
    for _ in 0..100 {
        let mut request = format!("ws://127.0.0.1:{port}/v1/ws?access_token={token}")
            .into_client_request()
            .unwrap();
        request
            .headers_mut()
            .insert("sec-websocket-protocol", "draftline.v1".parse().unwrap());
        if let Ok((socket, _)) = tokio_tungstenite::connect_async(request).await {
            ws = Some(socket);
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let mut ws = ws.expect("the server accepts connections");
    let hello = r#"{"type":"hello","id":1,"client":{"name":"cli-test","version":"1"}}"#;
    ws.send(Message::text(hello)).await.unwrap();
    let welcome = ws.next().await.unwrap().unwrap();
    let welcome: serde_json::Value = serde_json::from_str(welcome.to_text().unwrap()).unwrap();
    assert_eq!(welcome["type"], "welcome");
    assert_eq!(welcome["session"]["user_id"], "cli-user");

    let pid = serve.id().to_string();
    let kill = Command::new("kill").args(["-TERM", &pid]).status().unwrap();
    assert!(kill.success());
    let close = tokio::time::timeout(Duration::from_secs(10), async {
        loop {
            match ws.next().await {
                Some(Ok(Message::Close(frame))) => return frame.map(|f| u16::from(f.code)),
                Some(Ok(_)) => continue,
                _ => return None,
            }
        }
    })
    .await
    .unwrap();
    assert_eq!(close, Some(1012));
    let status = tokio::task::spawn_blocking(move || serve.wait())
        .await
        .unwrap()
        .unwrap();
    assert!(status.success(), "serve exits 0 after SIGTERM: {status}");
    common::drop_database(&name).await;
}
