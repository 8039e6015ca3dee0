//! A private PostgreSQL cluster for one test: Debian's binaries (`scripts/ensure-postgres.sh`
//! installs them), a temporary directory, a free loopback port, `fsync` off; stopped and
//! deleted when dropped. Never the system's instance. As root, the binaries run as the
//! `postgres` user (PostgreSQL refuses to run as root).

use std::path::PathBuf;
use std::process::{Command, Output};

use crate::{free_port, is_root};

/// A running cluster, stopped when dropped.
#[derive(Debug)]
pub struct Cluster {
    dir: tempfile::TempDir,
    bin: PathBuf,
    port: u16,
    as_postgres: bool,
}

impl Cluster {
    /// `initdb` in a new temporary directory, then starts the server on a free port.
    ///
    /// # Panics
    /// When PostgreSQL is not installed (run `scripts/ensure-postgres.sh`) or does not start;
    /// the message has its log.
    #[must_use]
    pub fn start() -> Self {
        let bin = bin_dir().unwrap_or_else(|| {
            panic!(
                "PostgreSQL is not installed: run scripts/ensure-postgres.sh (cargo xtask ci does)"
            )
        });
        let dir = tempfile::tempdir().expect("a temporary directory");
        let as_postgres = is_root();
        if as_postgres {
            run(Command::new("chown")
                .args(["-R", "postgres:postgres"])
                .arg(dir.path()));
        }
        let port = free_port();
        let cluster = Self {
            dir,
            bin,
            port,
            as_postgres,
        };
        cluster.pg(
            "initdb",
            &[
                "-D",
                &cluster.data(),
                "-A",
                "trust",
                "-U",
                "postgres",
                "--no-sync",
                "-E",
                "UTF8",
                "--locale=C",
            ],
        );
        cluster.resume();
        cluster
    }

    /// The port it listens on (127.0.0.1).
    #[must_use]
    pub const fn port(&self) -> u16 {
        self.port
    }

    /// A new, empty database named `name`, and its URL.
    ///
    /// # Panics
    /// When `createdb` fails.
    #[must_use]
    pub fn database(&self, name: &str) -> String {
        let port = self.port.to_string();
        self.pg(
            "createdb",
            &["-h", "127.0.0.1", "-p", &port, "-U", "postgres", name],
        );
        self.url(name)
    }

    /// Runs `statements` in database `name` with `psql` (stopping at the first error).
    ///
    /// # Panics
    /// When `psql` fails; the message has its output.
    pub fn sql(&self, name: &str, statements: &str) {
        let _ = self.query(name, statements);
    }

    /// What `psql` prints for `statements` in database `name`, unaligned and without headers
    /// (`-At`): one line per row, columns separated by `|`.
    ///
    /// # Panics
    /// When `psql` fails; the message has its output.
    #[must_use = "use `sql` when the output is not needed"]
    pub fn query(&self, name: &str, statements: &str) -> String {
        let port = self.port.to_string();
        let args = [
            "-h",
            "127.0.0.1",
            "-p",
            &port,
            "-U",
            "postgres",
            "-d",
            name,
            "-v",
            "ON_ERROR_STOP=1",
            "-q",
            "-At",
            "-c",
            statements,
        ];
        let output = self.try_pg("psql", &args);
        assert!(
            output.status.success(),
            "psql {args:?}: {}{}",
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        );
        String::from_utf8_lossy(&output.stdout).into_owned()
    }

    /// Serves TLS from now on with the certificate chain and key given (PEM), as
    /// `ssl = on` in its settings, read again without a restart; connections may still be
    /// plain.
    ///
    /// # Panics
    /// When the files cannot be written or the server does not reload.
    pub fn enable_tls(&self, chain_pem: &str, key_pem: &str) {
        let data = self.dir.path().join("data");
        std::fs::write(data.join("server.crt"), chain_pem).expect("the certificate is written");
        std::fs::write(data.join("server.key"), key_pem).expect("the key is written");
        std::fs::set_permissions(
            data.join("server.key"),
            std::os::unix::fs::PermissionsExt::from_mode(0o600),
        )
        .expect("the key is made private");
        if self.as_postgres {
            run(Command::new("chown")
                .args(["postgres:postgres"])
                .arg(data.join("server.crt"))
                .arg(data.join("server.key")));
        }
        self.settings("ssl = on\nssl_cert_file = 'server.crt'\nssl_key_file = 'server.key'\n");
        self.until_shown("ssl", "on");
    }

    /// Serves no TLS from now on, read again without a restart.
    ///
    /// # Panics
    /// When the server does not reload.
    pub fn disable_tls(&self) {
        self.settings("ssl = off\n");
        self.until_shown("ssl", "off");
    }

    /// Appends `lines` to the server's settings and has it read them again.
    fn settings(&self, lines: &str) {
        use std::io::Write as _;
        let conf = self.dir.path().join("data").join("postgresql.auto.conf");
        std::fs::OpenOptions::new()
            .append(true)
            .open(&conf)
            .and_then(|mut file| file.write_all(lines.as_bytes()))
            .expect("the settings are written");
        self.pg("pg_ctl", &["-D", &self.data(), "reload"]);
    }

    /// Waits until the server shows `setting` as `value` (`pg_ctl reload` returns once it has
    /// signalled the server, not once the server has read its settings).
    fn until_shown(&self, setting: &str, value: &str) {
        let started = std::time::Instant::now();
        while self.query("postgres", &format!("SHOW {setting}")).trim() != value {
            assert!(
                started.elapsed() < std::time::Duration::from_secs(10),
                "{setting} is not {value} 10 s after a reload"
            );
            std::thread::sleep(std::time::Duration::from_millis(20));
        }
    }

    /// The URL of database `name`.
    #[must_use]
    pub fn url(&self, name: &str) -> String {
        format!("postgres://postgres@127.0.0.1:{}/{name}", self.port)
    }

    /// Stops the server at once (`-m immediate`: like a crash or a pulled cable, clients see
    /// their connections reset); [`Cluster::resume`] starts it again on the same port.
    pub fn halt(&self) {
        self.pg(
            "pg_ctl",
            &["-D", &self.data(), "-m", "immediate", "-w", "stop"],
        );
    }

    /// Starts the (stopped) server on its port. `fsync` is off (the operating system keeps
    /// what a halted server wrote), but commits stay synchronous: with
    /// `synchronous_commit=off` a halt would lose the last commits, which no test expects.
    ///
    /// # Panics
    /// When it does not start; the message has its log.
    pub fn resume(&self) {
        let options = format!(
            "-p {} -k {} -c listen_addresses=127.0.0.1 -c fsync=off -c full_page_writes=off -c max_connections=200",
            self.port,
            self.dir.path().display()
        );
        let log = self.dir.path().join("log").display().to_string();
        let started = self.try_pg(
            "pg_ctl",
            &[
                "-D",
                &self.data(),
                "-l",
                &log,
                "-o",
                &options,
                "-w",
                "start",
            ],
        );
        assert!(
            started.status.success(),
            "PostgreSQL did not start: {}\n{}",
            String::from_utf8_lossy(&started.stderr),
            std::fs::read_to_string(self.dir.path().join("log")).unwrap_or_default()
        );
    }

    fn data(&self) -> String {
        self.dir.path().join("data").display().to_string()
    }

    fn pg(&self, program: &str, args: &[&str]) {
        let output = self.try_pg(program, args);
        assert!(
            output.status.success(),
            "{program} {args:?}: {}{}",
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        );
    }

    fn try_pg(&self, program: &str, args: &[&str]) -> Output {
        let path = self.bin.join(program);
        let mut command = if self.as_postgres {
            let mut command = Command::new("runuser");
            command.args(["-u", "postgres", "--"]).arg(&path);
            command
        } else {
            Command::new(&path)
        };
        command
            .args(args)
            .current_dir(self.dir.path())
            .output()
            .unwrap_or_else(|err| panic!("cannot run {}: {err}", path.display()))
    }
}

impl Drop for Cluster {
    fn drop(&mut self) {
        let _ = self.try_pg(
            "pg_ctl",
            &["-D", &self.data(), "-m", "immediate", "-w", "stop"],
        );
    }
}

/// Debian's PostgreSQL binaries, the newest major version installed.
fn bin_dir() -> Option<PathBuf> {
    let mut versions: Vec<(u32, PathBuf)> = std::fs::read_dir("/usr/lib/postgresql")
        .ok()?
        .filter_map(Result::ok)
        .filter_map(|entry| {
            let version = entry.file_name().to_str()?.parse().ok()?;
            let bin = entry.path().join("bin");
            bin.join("initdb").exists().then_some((version, bin))
        })
        .collect();
    versions.sort();
    versions.pop().map(|(_, bin)| bin)
}

fn run(command: &mut Command) {
    let status = command.status().expect("the command runs");
    assert!(status.success(), "{command:?} failed");
}
