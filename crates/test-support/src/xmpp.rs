//! Real XMPP peers for end-to-end tests, installed by `scripts/ensure-xmpp-peers.sh`:
//!
//! - [`XmppServer`]: a private Prosody or ejabberd (Debian's packages) in a temporary directory,
//!   with c2s and component ports on loopback, users registered by the server's own tool, and
//!   a component domain accepting a secret; stopped when dropped, never the system instance;
//! - [`XmppUser`]: a user played by slixmpp (`peers/xmpp_user.py`, in the project's venv),
//!   driven by commands and read as JSON lines.

use std::io::{BufRead as _, BufReader, Write as _};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use crate::{free_port, is_root};

/// Which server.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ServerKind {
    /// Prosody, `prosody` and `prosodyctl`.
    Prosody,
    /// ejabberd, through `ejabberdctl`.
    Ejabberd,
}

impl ServerKind {
    /// Both, in the order tests run them.
    pub const ALL: [Self; 2] = [Self::Prosody, Self::Ejabberd];

    /// Whether it is installed here.
    #[must_use]
    pub fn installed(self) -> bool {
        match self {
            Self::Prosody => Path::new("/usr/bin/prosody").exists(),
            Self::Ejabberd => Path::new("/usr/sbin/ejabberdctl").exists(),
        }
    }
}

/// The virtual host users live on.
pub const USER_DOMAIN: &str = "localhost";

/// A running server with one virtual host ([`USER_DOMAIN`]) and one component domain.
#[derive(Debug)]
pub struct XmppServer {
    kind: ServerKind,
    dir: tempfile::TempDir,
    c2s: u16,
    component: u16,
    node: String,
    process: Child,
}

impl XmppServer {
    /// Starts `kind` with a component `domain` accepting `secret`, and registers `users`
    /// (each with the password `pw`).
    ///
    /// # Panics
    /// When the server is not installed (run `scripts/ensure-xmpp-peers.sh`) or does not start
    /// within 30 s; the message has its log.
    #[must_use]
    pub fn start(kind: ServerKind, domain: &str, secret: &str, users: &[&str]) -> Self {
        assert!(
            kind.installed(),
            "{kind:?} is not installed: run scripts/ensure-xmpp-peers.sh (cargo xtask ci does)"
        );
        let dir = tempfile::tempdir().expect("a temporary directory");
        let (c2s, component) = (free_port(), free_port());
        let node = format!("avatars-test-{}-{c2s}@localhost", std::process::id());
        let path = dir.path().display().to_string();
        let (owner, mut command) = match kind {
            ServerKind::Prosody => {
                std::fs::create_dir_all(dir.path().join("data")).unwrap();
                std::fs::write(
                    dir.path().join("prosody.cfg.lua"),
                    prosody_config(&path, c2s, component, domain, secret),
                )
                .unwrap();
                let mut command = as_user("prosody", "prosody");
                command.args(["--config", &format!("{path}/prosody.cfg.lua")]);
                ("prosody", command)
            }
            ServerKind::Ejabberd => {
                for sub in ["spool", "logs"] {
                    std::fs::create_dir_all(dir.path().join(sub)).unwrap();
                }
                std::fs::write(
                    dir.path().join("ejabberd.yml"),
                    ejabberd_config(c2s, component, domain, secret),
                )
                .unwrap();
                // A distribution port of its own: no epmd (the port mapper every Erlang node
                // on the machine would share) is started, and nothing outlives the server.
                std::fs::write(
                    dir.path().join("ejabberdctl.cfg"),
                    format!(
                        "ERL_DIST_PORT={}\nERL_EPMD_ADDRESS=127.0.0.1\nINET_DIST_INTERFACE=127.0.0.1\n",
                        free_port()
                    ),
                )
                .unwrap();
                // ejabberdctl runs the node as the ejabberd user itself.
                let mut command = Command::new("/usr/sbin/ejabberdctl");
                command
                    .args(ejabberdctl_args(&path, &node))
                    .arg("foreground");
                ("ejabberd", command)
            }
        };
        if is_root() {
            let chowned = Command::new("chown")
                .arg("-R")
                .arg(format!("{owner}:{owner}"))
                .arg(dir.path())
                .status()
                .expect("chown runs");
            assert!(chowned.success());
        }
        let log = std::fs::File::create(dir.path().join("console.log")).unwrap();
        // A process group of its own, so that stopping it stops everything it started
        // (ejabberdctl runs the Erlang node under su and sh).
        std::os::unix::process::CommandExt::process_group(&mut command, 0);
        let process = command
            .stdin(Stdio::null())
            .stdout(log.try_clone().unwrap())
            .stderr(log)
            .spawn()
            .unwrap_or_else(|err| panic!("cannot start {kind:?}: {err}"));
        let server = Self {
            kind,
            dir,
            c2s,
            component,
            node,
            process,
        };
        server.wait_for("the c2s port", || {
            std::net::TcpStream::connect(("127.0.0.1", c2s)).is_ok()
        });
        for user in users {
            server.register(user);
        }
        server
    }

    /// Which server this is.
    #[must_use]
    pub const fn kind(&self) -> ServerKind {
        self.kind
    }

    /// `127.0.0.1:PORT` of the client port.
    #[must_use]
    pub fn c2s(&self) -> String {
        format!("127.0.0.1:{}", self.c2s)
    }

    /// `127.0.0.1:PORT` of the component port.
    #[must_use]
    pub fn component(&self) -> String {
        format!("127.0.0.1:{}", self.component)
    }

    /// The server's temporary directory (its logs are there).
    #[must_use]
    pub fn dir(&self) -> &Path {
        self.dir.path()
    }

    /// What the server logged so far, for failure messages.
    #[must_use]
    pub fn log(&self) -> String {
        let mut text =
            std::fs::read_to_string(self.dir.path().join("console.log")).unwrap_or_default();
        for file in ["prosody.log", "logs/ejabberd.log", "logs/error.log"] {
            if let Ok(more) = std::fs::read_to_string(self.dir.path().join(file)) {
                text.push_str(&more);
            }
        }
        text
    }

    /// Registers `user@localhost` with the password `pw`.
    ///
    /// # Panics
    /// When the server's tool refuses.
    pub fn register(&self, user: &str) {
        let path = self.dir.path().display().to_string();
        let output = match self.kind {
            ServerKind::Prosody => {
                let mut command = as_user("prosody", "prosodyctl");
                command.args([
                    "--config",
                    &format!("{path}/prosody.cfg.lua"),
                    "register",
                    user,
                    USER_DOMAIN,
                    "pw",
                ]);
                command.output()
            }
            ServerKind::Ejabberd => {
                // The node takes a moment to answer after its port opens.
                self.wait_for("ejabberd's node", || {
                    Command::new("/usr/sbin/ejabberdctl")
                        .args(ejabberdctl_args(&path, &self.node))
                        .arg("status")
                        .output()
                        .is_ok_and(|out| out.status.success())
                });
                Command::new("/usr/sbin/ejabberdctl")
                    .args(ejabberdctl_args(&path, &self.node))
                    .args(["register", user, USER_DOMAIN, "pw"])
                    .output()
            }
        }
        .expect("the server's tool runs");
        assert!(
            output.status.success(),
            "registering {user} on {:?}: {}{}",
            self.kind,
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        );
    }

    fn wait_for(&self, what: &str, mut ready: impl FnMut() -> bool) {
        let started = Instant::now();
        while !ready() {
            assert!(
                started.elapsed() < Duration::from_secs(30),
                "{:?}: timed out waiting for {what}; log:\n{}",
                self.kind,
                self.log()
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    }
}

impl Drop for XmppServer {
    fn drop(&mut self) {
        if self.kind == ServerKind::Ejabberd {
            let path = self.dir.path().display().to_string();
            let _ = Command::new("/usr/sbin/ejabberdctl")
                .args(ejabberdctl_args(&path, &self.node))
                .arg("stop")
                .output();
        }
        // The whole group: the node may have ignored the stop, or outlived its launcher.
        let _ = Command::new("kill")
            .args(["-KILL", "--", &format!("-{}", self.process.id())])
            .status();
        let _ = self.process.kill();
        let _ = self.process.wait();
    }
}

/// `program`, as `user` when running as root (Prosody refuses to run as root without
/// `mod_posix`, which must not be loaded when it is run by hand).
fn as_user(user: &str, program: &str) -> Command {
    if is_root() {
        let mut command = Command::new("setpriv");
        command
            .arg(format!("--reuid={user}"))
            .arg(format!("--regid={user}"))
            .args(["--init-groups", "--", program]);
        command
    } else {
        Command::new(program)
    }
}

fn ejabberdctl_args(path: &str, node: &str) -> Vec<String> {
    [
        "--config",
        &format!("{path}/ejabberd.yml"),
        "--ctl-config",
        &format!("{path}/ejabberdctl.cfg"),
        "--logs",
        &format!("{path}/logs"),
        "--spool",
        &format!("{path}/spool"),
        "--node",
        node,
    ]
    .map(str::to_owned)
    .to_vec()
}

/// `deploy/prosody-avatars.cfg.lua`, what an operator installs: the tests' Prosody runs it.
const PROSODY_SNIPPET: &str = include_str!("../../../deploy/prosody-avatars.cfg.lua");

/// `deploy/ejabberd-avatars.yml`, the `listen:` item an operator adds: the tests' ejabberd runs
/// it.
const EJABBERD_SNIPPET: &str = include_str!("../../../deploy/ejabberd-avatars.yml");

/// A `deploy/` snippet with this test's values in place of its examples: each `(example,
/// value)` of `values`, which the snippet must hold.
fn deployed(snippet: &str, values: &[(&str, &str)]) -> String {
    values.iter().fold(snippet.to_owned(), |text, (example, value)| {
        assert!(
            text.contains(example),
            "a deploy/ snippet no longer holds {example:?}: update crates/test-support/src/xmpp.rs"
        );
        text.replace(example, value)
    })
}

/// The example domain and secret placeholder of the `deploy/` snippets.
const EXAMPLE_DOMAIN: &str = "avatars.example.org";
const EXAMPLE_SECRET: &str = "the secret in /etc/avatars/xmpp-secret";

fn prosody_config(path: &str, c2s: u16, component: u16, domain: &str, secret: &str) -> String {
    format!(
        r#"daemonize = false
pidfile = "{path}/prosody.pid"
data_path = "{path}/data"
log = {{ {{ levels = {{ min = "info" }}, to = "file", filename = "{path}/prosody.log" }} }}
interfaces = {{ "127.0.0.1" }}
c2s_ports = {{ {c2s} }}
c2s_direct_tls_ports = {{ }}
component_ports = {{ {component} }}
component_interfaces = {{ "127.0.0.1" }}
s2s_ports = {{ }}
modules_enabled = {{ "roster", "saslauth", "disco", "ping", "presence", "pep", "vcard_legacy" }}
modules_disabled = {{ "s2s", "posix", "http", "tls" }}
c2s_require_encryption = false
allow_unencrypted_plain_auth = true
authentication = "internal_plain"
VirtualHost "{USER_DOMAIN}"
{snippet}"#,
        snippet = deployed(
            PROSODY_SNIPPET,
            &[(EXAMPLE_DOMAIN, domain), (EXAMPLE_SECRET, secret)]
        )
    )
}

fn ejabberd_config(c2s: u16, component: u16, domain: &str, secret: &str) -> String {
    format!(
        r#"hosts:
  - {USER_DOMAIN}
loglevel: info
certfiles: []
listen:
  - port: {c2s}
    ip: "127.0.0.1"
    module: ejabberd_c2s
    starttls: false
{snippet}
auth_method: internal
auth_password_format: plain
acl:
  local:
    user_regexp: ""
access_rules:
  local:
    allow: local
modules:
  mod_roster: {{}}
  mod_disco: {{}}
  mod_caps: {{}}
  mod_ping: {{}}
  mod_pubsub:
    plugins: ["flat", "pep"]
  mod_vcard: {{}}
  mod_vcard_xupdate: {{}}
  mod_avatar: {{}}
"#,
        snippet = deployed(
            EJABBERD_SNIPPET,
            &[
                (EXAMPLE_DOMAIN, domain),
                (EXAMPLE_SECRET, secret),
                ("port: 5347", &format!("port: {component}")),
            ]
        )
        .lines()
        .filter(|line| !line.starts_with('#'))
        .collect::<Vec<_>>()
        .join("\n")
        .trim_matches('\n')
    )
}

/// What an [`XmppUser`] saw, one JSON object each (see `peers/xmpp_user.py`).
pub type Seen = serde_json::Value;

/// A user played by slixmpp, logged in to a server.
#[derive(Debug)]
pub struct XmppUser {
    process: Child,
    commands: ChildStdin,
    seen: mpsc::Receiver<Seen>,
    jid: String,
}

/// The project's venv python (`scripts/ensure-xmpp-peers.sh` installs slixmpp in it).
#[must_use]
pub fn venv_python() -> PathBuf {
    std::env::var_os("AVATARS_VENV")
        .map(PathBuf::from)
        .or_else(|| {
            std::env::var_os("HOME").map(|home| Path::new(&home).join(".cache/avatars-venv"))
        })
        .unwrap_or_default()
        .join("bin/python")
}

impl XmppUser {
    /// Logs `user@localhost` (password `pw`) in to `server` and waits until it is online.
    ///
    /// # Panics
    /// When slixmpp is not installed or the login fails within 30 s.
    #[must_use]
    pub fn online(server: &XmppServer, user: &str) -> Self {
        let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("peers/xmpp_user.py");
        let jid = format!("{user}@{USER_DOMAIN}");
        let mut process = Command::new(venv_python())
            .arg(script)
            .args(["127.0.0.1", &server.c2s.to_string(), &jid, "pw"])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("the venv's python runs: run scripts/ensure-xmpp-peers.sh");
        let commands = process.stdin.take().unwrap();
        let stdout = BufReader::new(process.stdout.take().unwrap());
        let (sender, seen) = mpsc::channel();
        std::thread::spawn(move || {
            for line in stdout.lines().map_while(Result::ok) {
                if let Ok(value) = serde_json::from_str(&line)
                    && sender.send(value).is_err()
                {
                    return;
                }
            }
        });
        let mut user = Self {
            process,
            commands,
            seen,
            jid,
        };
        user.expect("online", |seen| seen["kind"] == "online");
        user
    }

    /// The user's bare JID.
    #[must_use]
    pub fn jid(&self) -> &str {
        &self.jid
    }

    /// Sends one command line (see `peers/xmpp_user.py`) and waits until it is carried out.
    ///
    /// # Panics
    /// When the command fails or does not finish within 30 s.
    pub fn command(&mut self, line: &str) {
        writeln!(self.commands, "{line}").expect("the user process reads commands");
        self.commands.flush().unwrap();
        let name = line
            .split_whitespace()
            .next()
            .unwrap_or_default()
            .to_owned();
        self.expect(&format!("{line:?} to be carried out"), |seen| {
            assert_ne!(seen["kind"], "error", "{line:?} failed: {seen}");
            seen["kind"] == "done" && seen["command"] == name.as_str()
        });
    }

    /// Waits up to 30 s for something `wanted`, skipping (and returning) everything else.
    ///
    /// # Panics
    /// When nothing wanted arrives in time; the message lists what did.
    pub fn expect(&mut self, what: &str, wanted: impl Fn(&Seen) -> bool) -> Vec<Seen> {
        self.expect_within(what, Duration::from_secs(30), wanted)
    }

    /// [`expect`](Self::expect) with a deadline of `limit`.
    ///
    /// # Panics
    /// When nothing wanted arrives within `limit`.
    pub fn expect_within(
        &mut self,
        what: &str,
        limit: Duration,
        wanted: impl Fn(&Seen) -> bool,
    ) -> Vec<Seen> {
        let deadline = Instant::now() + limit;
        let mut skipped = Vec::new();
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.seen.recv_timeout(left) {
                Ok(seen) if wanted(&seen) => {
                    skipped.push(seen);
                    return skipped;
                }
                Ok(seen) => skipped.push(seen),
                Err(err) => panic!(
                    "{}: no {what} within {limit:?} ({err}); saw {skipped:#?}",
                    self.jid
                ),
            }
        }
    }

    /// Everything seen in the next `wait`.
    pub fn seen_within(&mut self, wait: Duration) -> Vec<Seen> {
        let deadline = Instant::now() + wait;
        let mut seen = Vec::new();
        while let Ok(one) = self
            .seen
            .recv_timeout(deadline.saturating_duration_since(Instant::now()))
        {
            seen.push(one);
        }
        seen
    }
}

impl Drop for XmppUser {
    fn drop(&mut self) {
        let _ = self.process.kill();
        let _ = self.process.wait();
    }
}
