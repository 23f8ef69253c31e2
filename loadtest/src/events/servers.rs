//! The servers the fan-out and connection scenarios measure, each a child process of
//! the harness so its CPU and memory are its own: the Draftline hub (`draftline
//! serve --workers 0`), the Node `ws` and Socket.IO peers (`loadtest/peers/*.js`), and
//! the tokio-tungstenite ceiling (`loadtest ceiling-server`). Killed when dropped.

use anyhow::Context;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// Which system a server is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Draftline,
    /// Node `ws` broadcast server.
    Ws,
    /// Socket.IO 4 with `@socket.io/redis-adapter`.
    SocketIo,
    /// The bare tokio-tungstenite broadcast server.
    Ceiling,
}

impl Kind {
    pub fn parse(name: &str) -> anyhow::Result<Self> {
        Ok(match name {
            "draftline" => Kind::Draftline,
            "ws" => Kind::Ws,
            "socketio" => Kind::SocketIo,
            "ceiling" => Kind::Ceiling,
            other => anyhow::bail!(
                "unknown target `{other}` in --targets (draftline, ws, socketio, ceiling)"
            ),
        })
    }

    pub fn name(self) -> &'static str {
        match self {
            Kind::Draftline => "draftline",
            Kind::Ws => "ws",
            Kind::SocketIo => "socketio",
            Kind::Ceiling => "ceiling",
        }
    }
}

/// What a Draftline hub needs to start.
pub struct HubEnv<'a> {
    pub binary: &'a Path,
    pub database_url: &'a str,
    pub redis_url: &'a str,
    pub redis_prefix: &'a str,
    pub secret: &'a str,
    /// Settings of the scenario's own, set after (and so over) the defaults below.
    pub extra: &'a [(&'a str, String)],
}

/// A server as a child process.
pub struct Server {
    pub kind: Kind,
    child: std::process::Child,
    pub addr: SocketAddr,
    pub log: PathBuf,
}

impl Server {
    /// Starts a Draftline hub and waits for its `/readyz`.
    pub async fn hub(env: &HubEnv<'_>, label: &str) -> anyhow::Result<Self> {
        let addr = free_addr()?;
        let mut command = std::process::Command::new(env.binary);
        command
            .args(["serve", "--workers", "0"])
            .env("DATABASE_URL", env.database_url)
            .env("REDIS_URL", env.redis_url)
            .env("DRAFTLINE_JWT_SECRET", env.secret)
            .env("DRAFTLINE_BIND", addr.to_string())
            .env("DRAFTLINE_REDIS_PREFIX", env.redis_prefix)
            .env("DRAFTLINE_MAX_CONNECTIONS_PER_USER", "100000")
            // Every client connects from loopback, hundreds at once.
            .env("DRAFTLINE_MAX_HANDSHAKES_PER_ADDRESS", "100000")
            // Hundreds of subscribers share their project owner's token: their hellos
            // and subscribes are one user's messages. The scenarios measure delivery,
            // not the per-user rate limit.
            .env("DRAFTLINE_MESSAGES_PER_SECOND", "1000000")
            .env("DRAFTLINE_MESSAGE_BURST", "1000000");
        for (name, value) in env.extra {
            command.env(name, value);
        }
        Self::spawn(Kind::Draftline, command, addr, label).await
    }

    /// Starts a peer: a Node script from `peers_dir`, or this binary's ceiling server.
    pub async fn peer(
        kind: Kind,
        node: &str,
        peers_dir: &Path,
        redis_url: &str,
        redis_prefix: &str,
        label: &str,
    ) -> anyhow::Result<Self> {
        let addr = free_addr()?;
        let command = match kind {
            Kind::Ws | Kind::SocketIo => {
                let script = peers_dir.join(if kind == Kind::Ws {
                    "ws-server.js"
                } else {
                    "socketio-server.js"
                });
                anyhow::ensure!(
                    peers_dir.join("node_modules").is_dir(),
                    "{} has no node_modules: run `npm ci` there (./scripts/bench does)",
                    peers_dir.display()
                );
                let mut command = std::process::Command::new(node);
                command
                    .arg(script)
                    .env("PORT", addr.port().to_string())
                    .env("REDIS_URL", redis_url)
                    .env("REDIS_PREFIX", redis_prefix);
                command
            }
            Kind::Ceiling => {
                let mut command = std::process::Command::new(
                    std::env::current_exe().context("locating this binary")?,
                );
                command.args(["ceiling-server", "--bind", &addr.to_string()]);
                command
            }
            Kind::Draftline => anyhow::bail!("Draftline hubs start with Server::hub"),
        };
        Self::spawn(kind, command, addr, label).await
    }

    async fn spawn(
        kind: Kind,
        mut command: std::process::Command,
        addr: SocketAddr,
        label: &str,
    ) -> anyhow::Result<Self> {
        let log = std::env::temp_dir().join(format!(
            "draftline-bench-{label}-{}-{}.log",
            kind.name(),
            std::process::id()
        ));
        let stderr = std::fs::File::create(&log)
            .with_context(|| format!("creating the server log {}", log.display()))?;
        let child = command
            // The log is a file: no colour codes in it.
            .env("NO_COLOR", "1")
            .env(
                "RUST_LOG",
                std::env::var("RUST_LOG").unwrap_or_else(|_| "warn".into()),
            )
            .stdout(std::process::Stdio::null())
            .stderr(stderr)
            .spawn()
            .with_context(|| format!("starting the {} server", kind.name()))?;
        let mut server = Self {
            kind,
            child,
            addr,
            log,
        };
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            if let Some(status) = server.child.try_wait()? {
                anyhow::bail!(
                    "the {} server exited with {status}; see {}",
                    kind.name(),
                    server.log.display()
                );
            }
            let ready = match kind {
                Kind::Draftline => http_get(addr, "/readyz")
                    .await
                    .is_ok_and(|body| body.starts_with("HTTP/1.1 200")),
                _ => tokio::net::TcpStream::connect(addr).await.is_ok(),
            };
            if ready {
                return Ok(server);
            }
            anyhow::ensure!(
                Instant::now() < deadline,
                "the {} server was not ready within 20 s; see {}",
                kind.name(),
                server.log.display()
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Resident memory, bytes (`VmRSS` of `/proc/<pid>/status`).
    pub fn rss_bytes(&self) -> Option<u64> {
        rss_bytes(self.pid())
    }

    /// A counter or gauge from the hub's `/metrics` (summed over its labels).
    pub async fn metric(&self, name: &str) -> Option<f64> {
        if self.kind != Kind::Draftline {
            return None;
        }
        let body = http_get(self.addr, "/metrics").await.ok()?;
        let values: Vec<f64> = body
            .lines()
            .filter(|l| {
                l.strip_prefix(name)
                    .is_some_and(|rest| rest.starts_with(' ') || rest.starts_with('{'))
            })
            .filter_map(|l| l.rsplit(' ').next()?.parse().ok())
            .collect();
        (!values.is_empty()).then(|| values.iter().sum())
    }

    /// Warnings and errors the server logged.
    pub fn complaints(&self) -> Vec<String> {
        std::fs::read_to_string(&self.log)
            .unwrap_or_default()
            .lines()
            .filter(|l| {
                l.contains("WARN")
                    || l.contains("ERROR")
                    || l.contains("Error")
                    || l.contains("error")
            })
            .map(str::to_owned)
            .collect()
    }

    /// Stops the server; reports its complaints and keeps its log only if it had any.
    pub fn finish(self) {
        let complaints = self.complaints();
        match complaints.first() {
            Some(first) => println!(
                "the {} server logged {} warnings/errors (kept in {}), the first: {first}",
                self.kind.name(),
                complaints.len(),
                self.log.display(),
            ),
            None => {
                let _ = std::fs::remove_file(&self.log);
            }
        }
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Resident memory of process `pid`, bytes (`VmRSS` of `/proc/<pid>/status`).
pub fn rss_bytes(pid: u32) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let kib: u64 = status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))?
        .trim()
        .trim_end_matches("kB")
        .trim()
        .parse()
        .ok()?;
    Some(kib * 1024)
}

/// A port the kernel just handed out and released; the server binds it at once.
fn free_addr() -> anyhow::Result<SocketAddr> {
    Ok(std::net::TcpListener::bind("127.0.0.1:0")?.local_addr()?)
}

/// A plain HTTP/1.1 GET; answers the whole response, status line first.
pub async fn http_get(addr: SocketAddr, path: &str) -> anyhow::Result<String> {
    let mut stream = tokio::net::TcpStream::connect(addr).await?;
    stream
        .write_all(
            format!("GET {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n").as_bytes(),
        )
        .await?;
    let mut body = String::new();
    tokio::time::timeout(Duration::from_secs(5), stream.read_to_string(&mut body)).await??;
    Ok(body)
}
