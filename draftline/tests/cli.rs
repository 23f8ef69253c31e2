//! The `draftline` binary as a process: `migrate` creates and migrates a database,
//! `token` prints a token the server accepts, and `serve` closes connections with 1012
//! and exits cleanly on SIGTERM.
// clippy.toml allows unwrap/expect in `#[test]` functions only, not in the helpers a
// test crate is made of; allowed here once for the whole crate.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use testkit::{Database, Prefix, Ws, free_port, redis_url};

use std::process::{Command, Stdio};
use std::time::Duration;

const BIN: &str = env!("CARGO_BIN_EXE_draftline");
const SECRET: &str = "draftline-cli-test-secret-0123456789abcdef";

#[tokio::test]
async fn migrate_token_serve_and_sigterm() {
    let db = Database::reserve("cli");
    let url = db.url.clone();
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
    let prefix = Prefix::new("cli");
    let admin = |args: &[&str]| {
        let output = Command::new(BIN)
            .arg("admin")
            .args([
                "--database-url",
                &url,
                "--redis-url",
                &redis_url(),
                "--redis-prefix",
                prefix.as_str(),
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
            prefix.as_str(),
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
        .env("DRAFTLINE_REDIS_PREFIX", prefix.as_str())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();

    let ws_url = format!("ws://127.0.0.1:{port}/v1/ws?access_token={token}");
    let mut ws = None;
    for _ in 0..100 {
        if let Ok(socket) = Ws::open(&ws_url, None).await {
            ws = Some(socket);
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let mut ws = ws.expect("the server accepts connections");
    // No token in `hello`: the upgrade's `access_token` stands for it.
    ws.send_text(r#"{"type":"hello","id":1,"client":{"name":"cli-test","version":"1"}}"#)
        .await;
    let welcome = ws.recv().await;
    assert_eq!(welcome["type"], "welcome");
    assert_eq!(welcome["session"]["user_id"], "cli-user");

    let pid = serve.id().to_string();
    let kill = Command::new("kill").args(["-TERM", &pid]).status().unwrap();
    assert!(kill.success());
    assert_eq!(ws.closed().await.code, 1012);
    let status = tokio::task::spawn_blocking(move || serve.wait())
        .await
        .unwrap()
        .unwrap();
    assert!(status.success(), "serve exits 0 after SIGTERM: {status}");
    db.drop_now().await.unwrap();
}
