//! A Postgres server of the test's own (`initdb` and `pg_ctl` from the Debian packages,
//! a temporary directory, a free port), for tests that stop and start the server
//! itself: the shared one runs everybody else's tests.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

/// A private cluster; stopped and removed when dropped.
pub struct PrivatePostgres {
    pub port: u16,
    bin: PathBuf,
    dir: PathBuf,
}

impl PrivatePostgres {
    /// Initialises a cluster in a temporary directory and starts it.
    pub async fn start() -> Self {
        let bin = pg_bin_dir();
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let dir = std::env::temp_dir().join(format!("dl-pg-{}", uuid::Uuid::new_v4().simple()));
        std::fs::create_dir_all(dir.join("run")).unwrap();
        let pg = Self { port, bin, dir };
        // Postgres refuses to run as root: the cluster then belongs to the `postgres`
        // user, as `scripts/lib.sh` does for its private instance.
        if is_root() {
            pg.run(
                Command::new("chown")
                    .args(["-R", "postgres:postgres"])
                    .arg(&pg.dir),
            );
        }
        let mut initdb = pg.as_owner(&pg.bin.join("initdb"));
        initdb.arg("-D").arg(pg.data()).args([
            "--auth=trust",
            "-U",
            "postgres",
            "-E",
            "UTF8",
            "--locale=C",
        ]);
        blocking(move || {
            let out = initdb.output().expect("initdb runs");
            assert!(out.status.success(), "initdb: {out:?}");
        })
        .await;
        pg.start_again().await;
        pg
    }

    /// A URL of `database` on this server.
    pub fn url(&self, database: &str) -> String {
        format!("postgres://postgres@127.0.0.1:{}/{database}", self.port)
    }

    /// Stops the server in fast mode (what a restart by an operator or a package
    /// upgrade does): open transactions are rolled back, every client is disconnected,
    /// and it waits for the shutdown checkpoint.
    pub async fn stop(&self) {
        let mut stop = self.pg_ctl();
        stop.args(["-m", "fast", "-w", "stop"]);
        blocking(move || {
            let out = stop.output().expect("pg_ctl runs");
            assert!(out.status.success(), "pg_ctl stop: {out:?}");
        })
        .await;
    }

    /// Starts the (stopped) server on its port and waits until it accepts connections.
    pub async fn start_again(&self) {
        let mut start = self.pg_ctl();
        start
            .arg("-l")
            .arg(self.dir.join("postgres.log"))
            .args(["-w", "-t", "60", "-o"])
            .arg(format!(
                "-p {} -c listen_addresses=127.0.0.1 -k {} -c shared_buffers=16MB -c max_connections=40",
                self.port,
                self.dir.join("run").display()
            ))
            .arg("start");
        blocking(move || {
            let out = start.output().expect("pg_ctl runs");
            assert!(out.status.success(), "pg_ctl start: {out:?}");
        })
        .await;
    }

    fn data(&self) -> PathBuf {
        self.dir.join("data")
    }

    fn pg_ctl(&self) -> Command {
        let mut command = self.as_owner(&self.bin.join("pg_ctl"));
        command.arg("-D").arg(self.data());
        command
    }

    /// `program` run as the cluster's owner.
    fn as_owner(&self, program: &Path) -> Command {
        let mut command = if is_root() {
            let mut c = Command::new("runuser");
            c.args(["-u", "postgres", "--"]).arg(program);
            c
        } else {
            Command::new(program)
        };
        // pg_ctl and initdb look at the working directory; the owner must be able to.
        command.current_dir(&self.dir);
        command
    }

    fn run(&self, command: &mut Command) {
        let out = command.output().unwrap();
        assert!(out.status.success(), "{command:?}: {out:?}");
    }
}

impl Drop for PrivatePostgres {
    fn drop(&mut self) {
        let _ = self
            .pg_ctl()
            .args(["-m", "immediate", "-w", "stop"])
            .output();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// The newest `/usr/lib/postgresql/*/bin` with an `initdb`.
fn pg_bin_dir() -> PathBuf {
    let mut found: Vec<PathBuf> = std::fs::read_dir("/usr/lib/postgresql")
        .expect("Postgres server binaries under /usr/lib/postgresql (apt-get install postgresql)")
        .filter_map(|e| Some(e.ok()?.path().join("bin")))
        .filter(|bin| bin.join("initdb").is_file())
        .collect();
    found.sort_by_key(|bin| {
        bin.parent()
            .and_then(|v| v.file_name()?.to_str()?.parse::<u32>().ok())
            .unwrap_or(0)
    });
    found
        .pop()
        .expect("an initdb under /usr/lib/postgresql/*/bin")
}

fn is_root() -> bool {
    Command::new("id")
        .arg("-u")
        .output()
        .is_ok_and(|out| out.stdout.starts_with(b"0\n"))
}

/// Runs `f` off the runtime: the node under test shares the test's thread.
async fn blocking(f: impl FnOnce() + Send + 'static) {
    tokio::time::timeout(Duration::from_secs(120), tokio::task::spawn_blocking(f))
        .await
        .expect("pg_ctl in time")
        .unwrap();
}
