//! The discovery cases against real client libraries, as their users install them: pyLibravatar
//! 2.0.2, 2.0.0 and 1.7 and django-avatar 9.0.0 from PyPI, the npm `libravatar` 3.0.0 and
//! Debian's go-libravatar (git 2016-11-11), installed (pinned) by
//! `scripts/ensure-client-libraries.sh` and run through the adapters in `conformance/clients/`,
//! which set the nameserver and nothing else.
//!
//! Each library must fail exactly the cases its own code gives reason to, no more: a verdict the
//! suite gets wrong on someone else's correct code shows up here as an unexpected failure. The
//! reasons, read in each library's source:
//! - the Python and Node libraries keep no SRV answers between lookups
//!   (`discovery-cache-one-process`, SHOULD);
//! - none falls back within 5 s when the nameserver never answers (`discovery-dns-down`,
//!   SHOULD): dnspython's lifetime is 5 s, py3dns waits 30 s, Node's c-ares retries for longer
//!   than the suite waits, and go-libravatar returns the timeout as an error;
//! - pyLibravatar 2.0.0 keeps dnspython's trailing dot in the host (`str(srv_rdata.target)`,
//!   stripped since 2.0.2), so it fails both trailing-dot cases (one record, several), and takes
//!   the target `.` (RFC 2782: no service here) for a host, building `http://./avatar/...` where
//!   the central server is due (`discovery-dot-target`);
//! - pyLibravatar 1.7 gets the target of an IDN domain back from py3dns as Unicode and its own
//!   sanitiser then refuses it, so it falls back to the central server (`discovery-idn`);
//! - the npm `libravatar` passes its options through as they are given (`size=1000`);
//! - django-avatar 9.0.0's `LibRAvatarProvider` never looks a name up: it adds the domain as
//!   bytes to a str (`"_avatars._tcp." + domain`, a `TypeError` its `except Exception` swallows),
//!   so every identity gets the central https server, and every case that needs an SRV answer
//!   fails (15 MUST, the OpenID ones too: it reads an email field only); it passes the size as
//!   given; and with no lookup, it has nothing to cache. The cases that ask for the central
//!   server pass: on an http page its https form is the central server too;
//! - go-libravatar has the bugs `docs/protocol.md` lists for it, and more: a single record's
//!   port dropped (four cases); the trailing dot stripped from a single record only; a panic
//!   (`rand.Intn(0)`) on all-zero weights; no sanitiser (an underscore, port 0, a `.` target);
//!   no IDNA; the OpenID's port in the SRV name; the size unclamped. It does cache, and it has
//!   no way to set a default image (the query-default case is skipped).
//!
//! Beside discovery, three Gravatar URL builders that sites point at their own avatar server
//! (django-avatar's provider, django-gravatar2, Perl's `Gravatar::URL`, the last two installed by
//! the same script) are pointed at a server of ours, which must answer what they build.
//!
//! The six run at once, in one test: each spends most of its time starting processes or waiting
//! for a silent nameserver, so together they take little longer than the slowest alone. The
//! Python ones run through `conformance/clients/forkserver.py`: each draw is a process forked
//! from one that has imported the library and looked nothing up, as a new process would start,
//! without importing dnspython (0.1 s) or Django (0.3 s) again for each of the ~380 draws.
//!
//! Without the libraries (a machine that has not run the script), the test says so for each and
//! goes on with the others.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use futures_util::future::join_all;

use avatar_conformance::{DiscoveryClient, Group, Progress, Targets, all_cases, run};

use crate::stand_ins::failed;

/// Where `scripts/ensure-client-libraries.sh` installs the libraries.
fn clients_dir() -> PathBuf {
    std::env::var_os("AVATARS_CLIENTS").map_or_else(
        || Path::new(&std::env::var_os("HOME").unwrap_or_default()).join(".cache/avatars-clients"),
        PathBuf::from,
    )
}

/// The virtual environment `scripts/ensure-client-libraries.sh` installs django-avatar in.
const DJANGO_AVATAR: &str = "django-avatar-9.0.0";

/// The arguments the Python and Node adapters take, after the program.
const ARGUMENTS: &str =
    "{nameserver} {scheme} --size={size} --default={default} {identity} {again}";

/// Where Debian's Go packages keep their source, and go-libravatar's there.
const GOPATH: &str = "/usr/share/gocode";
const GO_LIBRAVATAR: &str = "/usr/share/gocode/src/strk.kbt.io/projects/go/libravatar";

/// The adapter `name` in `conformance/clients/`.
fn adapter(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("clients")
        .join(name)
}

/// A library installed by the script, and what it must fail.
struct RealClient {
    /// What it is, for messages.
    library: &'static str,
    /// A file that is there once it is installed.
    installed: PathBuf,
    /// The `--client-cmd` template.
    template: String,
    /// For a Python library: the fork server the template asks, started for the run.
    fork_server: Option<ForkServer>,
    /// The cases it must fail, and no others.
    expected: &'static [&'static str],
}

/// `conformance/clients/forkserver.py` serving a Python adapter.
struct ForkServer {
    /// The Python of the library's virtual environment.
    python: PathBuf,
    /// The adapter it imports.
    script: PathBuf,
    /// Where it listens.
    socket: PathBuf,
}

impl ForkServer {
    /// The `--client-cmd` template: a Python without site packages asking the server.
    fn client_template(&self) -> String {
        format!(
            "{} -I -S {} --client {} {ARGUMENTS}",
            self.python.display(),
            adapter("forkserver.py").display(),
            self.socket.display()
        )
    }

    /// Starts the server and waits until it listens; it is killed when the returned child is
    /// dropped.
    async fn start(&self) -> tokio::process::Child {
        use tokio::io::AsyncBufReadExt;

        let mut server = tokio::process::Command::new(&self.python)
            .arg(adapter("forkserver.py"))
            .arg(&self.socket)
            .arg(&self.script)
            .stdout(std::process::Stdio::piped())
            .kill_on_drop(true)
            .spawn()
            .unwrap();
        let stdout = server.stdout.take().unwrap();
        let ready = tokio::io::BufReader::new(stdout).lines().next_line().await;
        assert!(
            matches!(ready, Ok(Some(_))),
            "forkserver.py for {} did not start (its stderr is above): {ready:?}",
            self.script.display()
        );
        server
    }
}

impl RealClient {
    /// pyLibravatar `version`: the Python of its virtual environment running the adapter.
    fn pylibravatar(
        library: &'static str,
        version: &str,
        dir: &Path,
        expected: &'static [&'static str],
    ) -> Self {
        Self::python(
            library,
            &format!("pylibravatar-{version}"),
            "pylibravatar.py",
            dir,
            expected,
        )
    }

    /// A Python library: the adapter `script` run by the Python of its virtual environment
    /// `venv` (in the clients folder), through a fork server listening in `dir`.
    fn python(
        library: &'static str,
        venv: &str,
        script: &str,
        dir: &Path,
        expected: &'static [&'static str],
    ) -> Self {
        let python = clients_dir().join(venv).join("bin/python");
        let fork_server = ForkServer {
            python: python.clone(),
            script: adapter(script),
            socket: dir.join(format!("{venv}.sock")),
        };
        Self {
            library,
            installed: python,
            template: fork_server.client_template(),
            fork_server: Some(fork_server),
            expected,
        }
    }

    /// The npm `libravatar`: Node running the adapter, told where the package is.
    fn node_libravatar(library: &'static str, expected: &'static [&'static str]) -> Self {
        let package = clients_dir().join("node/node_modules/libravatar");
        let template = format!(
            "node {} --library={} {ARGUMENTS}",
            adapter("node-libravatar.js").display(),
            package.display()
        );
        Self {
            library,
            installed: package,
            template,
            fork_server: None,
            expected,
        }
    }

    /// go-libravatar from Debian's package, built with its adapter into `dir` (Go 1.19 in
    /// GOPATH mode, as Debian's Go packages are built; a second build comes from Go's cache).
    fn go_libravatar(library: &'static str, dir: &Path, expected: &'static [&'static str]) -> Self {
        let binary = dir.join("go-libravatar");
        if Path::new(GO_LIBRAVATAR).exists() {
            let output = std::process::Command::new("go")
                .args(["build", "-o"])
                .arg(&binary)
                .arg(adapter("go-libravatar.go"))
                .env("GO111MODULE", "off")
                .env("GOPATH", GOPATH)
                .output();
            match output {
                Ok(output) if output.status.success() => {}
                Ok(output) => panic!(
                    "go build of the go-libravatar adapter: {}",
                    String::from_utf8_lossy(&output.stderr)
                ),
                Err(err) => eprintln!("go: {err}"),
            }
        }
        // The library has no setter for the default image: no {default}.
        let template = format!(
            "{} {{nameserver}} {{scheme}} --size={{size}} {{identity}} {{again}}",
            binary.display()
        );
        Self {
            library,
            installed: binary,
            template,
            fork_server: None,
            expected,
        }
    }

    /// Runs the discovery group against it: `None` when the failed cases are the expected ones
    /// (or it is not installed, which it says), else what differs, with the run's summary.
    async fn mismatch(&self) -> Option<String> {
        if !self.installed.exists() {
            eprintln!(
                "{} is not installed ({} is missing): run scripts/ensure-client-libraries.sh; SKIPPED",
                self.library,
                self.installed.display()
            );
            return None;
        }
        let _server = match &self.fork_server {
            Some(fork_server) => Some(fork_server.start().await),
            None => None,
        };
        let mut targets = Targets {
            discovery: Some(DiscoveryClient::command(&self.template).unwrap()),
            ..Targets::default()
        };
        let report = run(
            &all_cases(),
            &mut targets,
            &[Group::LibravatarDiscovery],
            Progress::Quiet,
        )
        .await
        .unwrap();
        let failed = failed(&report);
        let expected: BTreeSet<&str> = self.expected.iter().copied().collect();
        (failed != expected).then(|| {
            format!(
                "{}: failed {failed:?}, expected {expected:?}\n{}",
                self.library,
                avatar_conformance::report::summary(&report)
            )
        })
    }
}

#[tokio::test]
async fn real_client_libraries_fail_exactly_the_cases_their_code_gives_reason_to() {
    let dir = tempfile::tempdir().unwrap();
    let clients = [
        RealClient::pylibravatar(
            "pyLibravatar 2.0.2",
            "2.0.2",
            dir.path(),
            &["discovery-cache-one-process", "discovery-dns-down"],
        ),
        RealClient::pylibravatar(
            "pyLibravatar 2.0.0",
            "2.0.0",
            dir.path(),
            &[
                "discovery-cache-one-process",
                "discovery-dns-down",
                "discovery-dot-target",
                "discovery-trailing-dot",
                "discovery-trailing-dot-several",
            ],
        ),
        RealClient::pylibravatar(
            "pyLibravatar 1.7",
            "1.7",
            dir.path(),
            &[
                "discovery-cache-one-process",
                "discovery-dns-down",
                "discovery-idn",
            ],
        ),
        RealClient::python(
            "django-avatar 9.0.0",
            DJANGO_AVATAR,
            "django-avatar.py",
            dir.path(),
            &[
                "discovery-cache-one-process",
                "discovery-custom-port-http",
                "discovery-custom-port-https",
                "discovery-http",
                "discovery-http-port-443",
                "discovery-https",
                "discovery-https-base-form",
                "discovery-https-port-80",
                "discovery-idn",
                "discovery-normalised-email",
                "discovery-openid",
                "discovery-openid-port",
                "discovery-priority",
                "discovery-query-size-clamped",
                "discovery-several-records-port",
                "discovery-subdomain",
                "discovery-trailing-dot",
                "discovery-uppercase-target",
                "discovery-weights",
                "discovery-zero-weights",
                "discovery-zero-weights-spread",
            ],
        ),
        RealClient::node_libravatar(
            "the npm libravatar 3.0.0",
            &[
                "discovery-cache-one-process",
                "discovery-dns-down",
                "discovery-query-size-clamped",
            ],
        ),
        RealClient::go_libravatar(
            "go-libravatar (Debian's, git 2016-11-11)",
            dir.path(),
            &[
                "discovery-custom-port-http",
                "discovery-custom-port-https",
                "discovery-dns-down",
                "discovery-dot-target",
                "discovery-http-port-443",
                "discovery-https-port-80",
                "discovery-idn",
                "discovery-junk-underscore",
                "discovery-openid-port",
                "discovery-port-zero",
                "discovery-query-size-clamped",
                "discovery-trailing-dot-several",
                "discovery-zero-weights",
                "discovery-zero-weights-spread",
            ],
        ),
    ];
    let mismatches: Vec<String> = join_all(clients.iter().map(RealClient::mismatch))
        .await
        .into_iter()
        .flatten()
        .collect();
    assert!(mismatches.is_empty(), "{}", mismatches.join("\n\n"));
}

/// django-avatar pointed at a server of ours, as a Django site uses it with its own avatar
/// server (`AVATAR_GRAVATAR_BASE_URL`), asks for `/avatar/HASH/?s=64`: the server answers with
/// George's picture, the bytes `/avatar/HASH?s=64` gets (it answered 400 before
/// `[server.hash-form]` took the trailing slash). The provider hashes the email as the user
/// record holds it, without lowercasing (Django keeps the local part's case), so the site must
/// store it lowercased: the address is given so here.
#[tokio::test]
async fn django_avatar_pointed_at_our_server_gets_the_picture() {
    let python = clients_dir().join(DJANGO_AVATAR).join("bin/python");
    if !python.exists() {
        eprintln!(
            "django-avatar is not installed ({} is missing): run scripts/ensure-client-libraries.sh; SKIPPED",
            python.display()
        );
        return;
    }
    let server = crate::stand_ins::stand_in(
        crate::stand_ins::Altered::Forward,
        crate::stand_ins::unchanged,
        false,
    )
    .await;
    let output = tokio::process::Command::new(&python)
        .arg(adapter("django-avatar.py"))
        .arg(format!("--gravatar-base-url={server}/avatar/"))
        .args(["--size=64", "george@example.com"])
        .output()
        .await
        .unwrap();
    let url = String::from_utf8(output.stdout).unwrap();
    let md5 = test_support::suite::md5("george@example.com");
    assert_eq!(
        url.trim_end(),
        format!("{server}/avatar/{md5}/?s=64"),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    served_as_asked_plainly(&server, url.trim_end(), &format!("/avatar/{md5}?s=64")).await;
}

/// Two Gravatar URL builders that sites point at their own avatar server, pointed at one of
/// ours: django-gravatar2 1.4.5 (Mailman 3's web interface, `GRAVATAR_URL`), building
/// `/avatar/HASH.jpg?s=64&d=404&r=g`, and Perl's `Gravatar::URL` (Debian's, `base`), building
/// `/avatar/HASH?r=g&s=64&d=404`. George's URL gets the picture `/avatar/HASH?s=64` gets, and
/// a stranger's the 404 their `default` asks for.
#[tokio::test]
async fn gravatar_url_builders_pointed_at_our_server_get_the_picture_or_their_default() {
    let django_gravatar2 = clients_dir().join("django-gravatar2-1.4.5/bin/python");
    let builders: [(&str, PathBuf, Vec<String>); 2] = [
        (
            "django-gravatar2 1.4.5",
            django_gravatar2.clone(),
            vec![
                adapter("django-gravatar2.py").display().to_string(),
                "--base-url={server}/".into(),
                "--size=64".into(),
                "--default=404".into(),
            ],
        ),
        (
            "Gravatar::URL",
            PathBuf::from("perl"),
            vec![
                adapter("gravatar-url.pl").display().to_string(),
                "{server}/avatar/".into(),
                "64".into(),
                "404".into(),
            ],
        ),
    ];
    let server = crate::stand_ins::stand_in(
        crate::stand_ins::Altered::Forward,
        crate::stand_ins::unchanged,
        false,
    )
    .await;
    let george = test_support::suite::md5("george@example.com");
    for (library, program, arguments) in builders {
        let perl_found = std::process::Command::new("perl")
            .args(["-MGravatar::URL", "-e", "1"])
            .status()
            .is_ok_and(|status| status.success());
        if (program == django_gravatar2 && !program.exists())
            || (program.ends_with("perl") && !perl_found)
        {
            eprintln!(
                "{library} is not installed: run scripts/ensure-client-libraries.sh; SKIPPED"
            );
            continue;
        }
        let output = tokio::process::Command::new(&program)
            .args(
                arguments
                    .iter()
                    .map(|argument| argument.replace("{server}", &server)),
            )
            .args(["george@example.com", "nobody@example.com"])
            .output()
            .await
            .unwrap();
        let urls = String::from_utf8(output.stdout).unwrap();
        let urls: Vec<&str> = urls.lines().collect();
        assert_eq!(
            urls.len(),
            2,
            "{library}: {urls:?} {}",
            String::from_utf8_lossy(&output.stderr)
        );
        assert!(urls[0].contains(&george), "{library}: {}", urls[0]);
        served_as_asked_plainly(&server, urls[0], &format!("/avatar/{george}?s=64")).await;
        let addr = server.trim_start_matches("http://").to_owned();
        let stranger = urls[1].trim_start_matches(&server).to_owned();
        let answer =
            tokio::task::spawn_blocking(move || test_support::raw_http::get(&addr, &stranger))
                .await
                .unwrap();
        assert_eq!(answer.status, 404, "{library}: {}", urls[1]);
    }
}

/// `url` (on `server`) is answered 200 with the picture `plain` gets: the same rendition, or,
/// where `url` asks for another format (`HASH.jpg`), the same picture at the same size in it.
async fn served_as_asked_plainly(server: &str, url: &str, plain: &str) {
    let addr = server.trim_start_matches("http://").to_owned();
    let path = url.trim_start_matches(server).to_owned();
    let plain = plain.to_owned();
    let (asked, plain) = tokio::task::spawn_blocking(move || {
        (
            test_support::raw_http::get(&addr, &path),
            test_support::raw_http::get(&addr, &plain),
        )
    })
    .await
    .unwrap();
    assert_eq!(
        asked.status,
        200,
        "{url}: {}",
        String::from_utf8_lossy(&asked.body)
    );
    if asked.header("content-type") == plain.header("content-type") {
        assert_eq!(asked.body, plain.body, "{url}");
        assert_eq!(
            asked.header("etag"),
            plain.header("etag"),
            "{url}: the same rendition"
        );
    } else {
        let difference = test_support::images::mean_difference(&asked.body, &plain.body);
        assert!(
            difference < 4.0,
            "{url}: {difference} from the plain rendition"
        );
    }
}
