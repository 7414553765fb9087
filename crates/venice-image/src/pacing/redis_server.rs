//! A real `redis-server` per test (test support: imports nothing of the crate, so it
//! adds no edge between its modules). Also compiled into the integration tests through
//! `#[path]`.

#![allow(clippy::unwrap_used, dead_code)]

use std::time::{Duration, Instant};

/// A `redis-server` on 127.0.0.1 at a free port, in its own temporary directory, with no
/// persistence; killed when dropped.
pub(crate) struct RedisServer {
    child: Option<std::process::Child>,
    port: u16,
    dir: tempfile::TempDir,
}

impl RedisServer {
    /// Start one. Panics when `redis-server` is not installed: the tests that call this
    /// are `#[ignore = "needs redis-server"]` and run only when asked to
    /// (`--include-ignored`), so a missing server fails them instead of passing silently.
    pub(crate) fn start() -> RedisServer {
        if std::process::Command::new("redis-server")
            .arg("--version")
            .output()
            .is_err()
        {
            panic!(
                "`redis-server` is not on PATH: install it (apt-get install -y redis-server) to \
                 run the tests ignored as \"needs redis-server\""
            );
        }
        for _ in 0..5 {
            let port = std::net::TcpListener::bind("127.0.0.1:0")
                .and_then(|l| l.local_addr())
                .unwrap()
                .port();
            let mut server = RedisServer {
                child: None,
                port,
                dir: tempfile::tempdir().unwrap(),
            };
            if server.spawn() {
                return server;
            }
        }
        panic!("redis-server did not start on any of 5 free ports");
    }

    /// (Re)start the process on this server's port; whether it answers PING.
    fn spawn(&mut self) -> bool {
        let child = std::process::Command::new("redis-server")
            .args(["--bind", "127.0.0.1", "--port", &self.port.to_string()])
            .args(["--save", "", "--appendonly", "no", "--dir"])
            .arg(self.dir.path())
            .args(["--loglevel", "warning"])
            .stdout(std::process::Stdio::null())
            .spawn()
            .unwrap();
        self.child = Some(child);
        let deadline = Instant::now() + Duration::from_secs(5);
        while Instant::now() < deadline {
            if let Some(Ok(Some(_))) = self.child.as_mut().map(|c| c.try_wait()) {
                self.child = None;
                return false; // the port was taken meanwhile
            }
            if let Ok(mut conn) = redis::Client::open(self.url()).and_then(|c| c.get_connection())
                && redis::cmd("PING").query::<String>(&mut conn).is_ok()
            {
                return true;
            }
            std::thread::sleep(Duration::from_millis(10));
        }
        self.kill();
        false
    }

    /// `redis://127.0.0.1:PORT`.
    pub(crate) fn url(&self) -> String {
        format!("redis://127.0.0.1:{}", self.port)
    }

    /// A plain connection, for looking at the keys.
    pub(crate) fn connection(&self) -> redis::Connection {
        redis::Client::open(self.url())
            .unwrap()
            .get_connection()
            .unwrap()
    }

    /// Every key whose name starts with `venice:`.
    pub(crate) fn keys(&self) -> Vec<String> {
        let mut keys: Vec<String> = redis::cmd("KEYS")
            .arg("venice:*")
            .query(&mut self.connection())
            .unwrap();
        keys.sort();
        keys
    }

    /// Kill the process now (SIGKILL), as a crash would.
    pub(crate) fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// Start it again on the same port (empty: nothing is persisted).
    pub(crate) fn restart(&mut self) {
        self.kill();
        assert!(self.spawn(), "redis-server did not restart");
    }
}

impl Drop for RedisServer {
    fn drop(&mut self) {
        self.kill();
    }
}
