//! Debian's PgBouncer in front of a private [`Cluster`], as managed PostgreSQL services and
//! busy deployments put it: a temporary directory, a free loopback port, trust authentication,
//! stopped when dropped (`scripts/ensure-postgres.sh` installs it). As root it switches to the
//! `postgres` user itself (`-u`: PgBouncer refuses to run as root).
//!
//! ```no_run
//! use test_support::pgbouncer::{PoolMode, Pooler};
//! use test_support::postgres::Cluster;
//!
//! let cluster = Cluster::start();
//! let _ = cluster.database("avatars");
//! let pooler = Pooler::start(&cluster, PoolMode::Transaction).expect("pgbouncer is installed");
//! println!("{}", pooler.url("avatars"));
//! ```

use std::net::TcpStream;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use crate::postgres::Cluster;
use crate::{free_port, is_root};

/// Where Debian installs PgBouncer.
const PGBOUNCER: &str = "/usr/sbin/pgbouncer";

/// When a server connection goes back to PgBouncer's pool for another client.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PoolMode {
    /// After each transaction (or statement outside one): what DigitalOcean's, Supabase's and
    /// Heroku's poolers use, and where session state (named prepared statements, `LISTEN`)
    /// does not follow the client.
    Transaction,
    /// When the client disconnects: a server connection per client, as without a pooler.
    Session,
}

/// PgBouncer on 127.0.0.1, stopped when dropped.
#[derive(Debug)]
pub struct Pooler {
    child: Child,
    port: u16,
    dir: tempfile::TempDir,
}

impl Pooler {
    /// Whether PgBouncer is installed here.
    #[must_use]
    pub fn installed() -> bool {
        Path::new(PGBOUNCER).exists()
    }

    /// Starts PgBouncer for every database of `cluster`, in `mode`, with at most four server
    /// connections per database (so that clients share them), and waits until it listens.
    ///
    /// # Errors
    /// When PgBouncer is not installed, does not start, or does not listen within 10 s; the
    /// message has its log.
    pub fn start(cluster: &Cluster, mode: PoolMode) -> Result<Self, String> {
        let dir = tempfile::tempdir().map_err(|err| err.to_string())?;
        let port = free_port();
        let path = dir.path().display();
        let mode = match mode {
            PoolMode::Transaction => "transaction",
            PoolMode::Session => "session",
        };
        let config = format!(
            "[databases]\n\
             * = host=127.0.0.1 port={}\n\
             [pgbouncer]\n\
             listen_addr = 127.0.0.1\n\
             listen_port = {port}\n\
             unix_socket_dir =\n\
             auth_type = trust\n\
             auth_file = {path}/users.txt\n\
             pool_mode = {mode}\n\
             default_pool_size = 4\n\
             max_client_conn = 200\n\
             logfile = {path}/pgbouncer.log\n\
             pidfile = {path}/pgbouncer.pid\n",
            cluster.port()
        );
        std::fs::write(dir.path().join("pgbouncer.ini"), config).map_err(|err| err.to_string())?;
        std::fs::write(dir.path().join("users.txt"), "\"postgres\" \"\"\n")
            .map_err(|err| err.to_string())?;
        let mut command = Command::new(PGBOUNCER);
        if is_root() {
            let status = Command::new("chown")
                .args(["-R", "postgres:postgres"])
                .arg(dir.path())
                .status()
                .map_err(|err| err.to_string())?;
            if !status.success() {
                return Err(format!("chown of {path} to postgres failed"));
            }
            // It switches to that user itself, so the child is PgBouncer, for Drop to stop.
            command.args(["-u", "postgres"]);
        }
        let child = command
            .arg(dir.path().join("pgbouncer.ini"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .map_err(|err| format!("cannot start {PGBOUNCER}: {err}"))?;
        let mut pooler = Self { child, port, dir };
        let started = Instant::now();
        while TcpStream::connect(("127.0.0.1", port)).is_err() {
            if started.elapsed() > Duration::from_secs(10)
                || matches!(pooler.child.try_wait(), Ok(Some(_)))
            {
                return Err(format!(
                    "PgBouncer did not listen on 127.0.0.1:{port} within 10 s: {}",
                    pooler.log()
                ));
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        Ok(pooler)
    }

    /// The URL of database `name` through it.
    #[must_use]
    pub fn url(&self, name: &str) -> String {
        format!("postgres://postgres@127.0.0.1:{}/{name}", self.port)
    }

    /// Its log so far.
    #[must_use]
    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("pgbouncer.log")).unwrap_or_default()
    }
}

impl Drop for Pooler {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
