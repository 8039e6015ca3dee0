//! Several `avatars serve` on one PostgreSQL database (a private cluster per test): a change
//! through one is served by the other within 100 ms, the conformance suite passes against
//! both, the database going away and coming back under a running server, an import killed
//! half way, and `avatars migrate` both ways.

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use avatar_conformance::{Group, HttpTarget, Targets};
use test_support::images;
use test_support::postgres::Cluster;
use test_support::raw_http::RawResponse;
use test_support::server::Server;

use crate::{AVATARS, admin_request, avatars_in, stderr, stdout};

const TOKEN: &str = "postgres-test-token-0123456789";
/// `avatars hash alice@example.org`.
const ALICE_MD5: &str = "fbf7c6aec1d4280b7c2704c1c0478bd6";

/// A working directory with the admin token file and the conformance fixtures.
fn workdir() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("tokens"), format!("{TOKEN}\n")).unwrap();
    avatar_conformance::fixtures::write_fixtures(&dir.path().join("fixtures")).unwrap();
    images::bands(64, 48)
        .save(dir.path().join("alice.png"))
        .unwrap();
    dir
}

fn admin(server: &Server, method: &str, path: &str, body: &[u8]) -> RawResponse {
    admin_request(
        server,
        method,
        path,
        &format!("Authorization: Bearer {TOKEN}\r\n"),
        body,
    )
}

/// Polls `path` on `server` until it answers `status`; how long that took (5 s at most).
fn until_status(server: &Server, path: &str, status: u16) -> Duration {
    let started = Instant::now();
    loop {
        if server.get(path).status == status {
            return started.elapsed();
        }
        assert!(
            started.elapsed() < Duration::from_secs(5),
            "{path} never answered {status}"
        );
        std::thread::sleep(Duration::from_millis(1));
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_servers_on_one_database_see_each_others_changes_and_pass_the_suite() {
    let cluster = Cluster::start();
    let url = cluster.database("avatars");
    let dir = workdir();
    let imported = avatars_in(
        dir.path(),
        &[
            "import",
            "--store",
            &url,
            "--manifest",
            "fixtures/manifest.json",
        ],
    );
    assert!(imported.status.success(), "{}", stderr(&imported));
    let first = Server::start(
        AVATARS,
        dir.path(),
        &[
            "--store",
            &url,
            "--admin-addr",
            "127.0.0.1:0",
            "--admin-token-file",
            "tokens",
        ],
        false,
    );
    let second = Server::start(AVATARS, dir.path(), &["--store", &url], false);
    // Its admin /healthz says it sees the others' changes (behind a transaction pool it says
    // why not: tests/it/monitoring.rs).
    let started = Instant::now();
    loop {
        let health = test_support::raw_http::get(first.admin_addr.as_ref().unwrap(), "/healthz");
        let body: serde_json::Value = serde_json::from_slice(&health.body).unwrap();
        if body == serde_json::json!({ "status": "ok", "follows_changes": true }) {
            break;
        }
        assert!(
            health.status == 200 && started.elapsed() < Duration::from_secs(10),
            "/healthz: {} {body}",
            health.status
        );
        std::thread::sleep(Duration::from_millis(50));
    }

    // The second server has answered "nothing" for alice, and remembers it.
    let alice = format!("/avatar/{ALICE_MD5}?d=404&s=32");
    assert_eq!(second.get(&alice).status, 404);
    let png = std::fs::read(dir.path().join("alice.png")).unwrap();
    assert_eq!(
        admin(&first, "PUT", "/v1/avatars/alice@example.org", &png).status,
        201
    );
    let seen = until_status(&second, &alice, 200);
    assert!(
        seen < Duration::from_millis(100),
        "the upload was served by the other after {seen:?}"
    );
    assert_eq!(
        admin(&first, "DELETE", "/v1/avatars/alice@example.org", b"").status,
        204
    );
    let seen = until_status(&second, &alice, 404);
    assert!(
        seen < Duration::from_millis(100),
        "the removal was seen by the other after {seen:?}"
    );

    // `avatars import` from a third process reaches both.
    let imported = avatars_in(
        dir.path(),
        &["import", "--store", &url, "alice@example.org", "alice.png"],
    );
    assert!(imported.status.success(), "{}", stderr(&imported));
    until_status(&first, &alice, 200);
    until_status(&second, &alice, 200);

    for server in [&first, &second] {
        let mut targets = Targets {
            http: Some(HttpTarget::url(&format!("http://{}", server.addr)).unwrap()),
            ..Targets::default()
        };
        crate::suite_passes(&mut targets, &[Group::LibravatarServer]).await;
    }
}

/// The database goes away under a running server: what it cached is still served, what needs
/// the database is a 503 with Retry-After within a bound; it comes back: the server recovers
/// by itself.
#[test]
fn a_database_outage_keeps_cached_answers_and_answers_503_then_recovers() {
    let cluster = Cluster::start();
    let url = cluster.database("outage");
    let dir = workdir();
    let imported = avatars_in(
        dir.path(),
        &["import", "--store", &url, "alice@example.org", "alice.png"],
    );
    assert!(imported.status.success(), "{}", stderr(&imported));
    let mut server = Server::start(AVATARS, dir.path(), &["--store", &url], true);
    let cached = format!("/avatar/{ALICE_MD5}?s=40");
    assert_eq!(server.get(&cached).status, 200);

    cluster.halt();
    assert_eq!(
        server.get(&cached).status,
        200,
        "a cached answer outlives the database"
    );
    let started = Instant::now();
    let unknown = server.get("/avatar/00000000000000000000000000000abc?d=identicon");
    assert_eq!(unknown.status, 503);
    assert_eq!(unknown.header("retry-after"), Some("5"));
    assert_eq!(unknown.header("cache-control"), Some("no-store"));
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "503 after {:?}",
        started.elapsed()
    );

    for other in ["abd", "abe"] {
        let path = format!("/avatar/00000000000000000000000000000{other}?d=identicon");
        assert_eq!(server.get(&path).status, 503);
    }

    cluster.resume();
    until_status(
        &server,
        "/avatar/00000000000000000000000000000abc?d=identicon",
        200,
    );
    until_status(&server, &cached, 200);
    // The outage is logged where it begins and where it ends, not at each 503.
    let log = server.stop_gracefully();
    let lines = |text: &str| log.lines().filter(|line| line.contains(text)).count();
    assert_eq!(lines("the store is unavailable"), 1, "{log}");
    assert_eq!(lines("the store answers again"), 1, "{log}");
}

/// `avatars import` killed (SIGKILL) in the middle of a manifest: every avatar that made it is
/// whole, and running the import again completes it.
#[test]
fn an_import_killed_half_way_leaves_nothing_torn() {
    let cluster = Cluster::start();
    let url = cluster.database("killed");
    let dir = tempfile::tempdir().unwrap();
    let mut entries = Vec::new();
    for n in 0..150u32 {
        let name = format!("p{n}.png");
        images::noise(96, 96, u64::from(n))
            .save(dir.path().join(&name))
            .unwrap();
        entries
            .push(serde_json::json!({ "identity": format!("user{n}@example.org"), "file": name }));
    }
    std::fs::write(
        dir.path().join("manifest.json"),
        serde_json::json!({ "avatars": entries }).to_string(),
    )
    .unwrap();
    let mut import = Command::new(AVATARS)
        .current_dir(dir.path())
        .args(["import", "--store", &url, "--manifest", "manifest.json"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    // Killed once some, not all, are in.
    let started = Instant::now();
    loop {
        let listed = stdout(&avatars_in(dir.path(), &["list", "--store", &url]))
            .lines()
            .count();
        if listed >= 10 {
            break;
        }
        assert!(
            started.elapsed() < Duration::from_secs(30),
            "the import does not progress"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    import.kill().unwrap();
    import.wait().unwrap();
    let listed = stdout(&avatars_in(dir.path(), &["list", "--store", &url]));
    let count = listed.lines().count();
    assert!(count < 150, "killed too late to show anything ({count})");
    let server = Server::start(AVATARS, dir.path(), &["--store", &url], false);
    for line in listed.lines() {
        let identity = line.split_whitespace().last().unwrap();
        let hash = stdout(&avatars_in(dir.path(), &["hash", identity]));
        let md5 = hash
            .lines()
            .next()
            .unwrap()
            .split_whitespace()
            .last()
            .unwrap()
            .to_owned();
        let response = server.get(&format!("/avatar/{md5}?s=96&d=404"));
        assert_eq!(response.status, 200, "{identity}");
        let picture = image::load_from_memory(&response.body).unwrap();
        assert_eq!(
            (picture.width(), picture.height()),
            (96, 96),
            "{identity} is whole"
        );
    }
    let again = avatars_in(
        dir.path(),
        &["import", "--store", &url, "--manifest", "manifest.json"],
    );
    assert!(again.status.success(), "{}", stderr(&again));
    assert_eq!(
        stdout(&avatars_in(dir.path(), &["list", "--store", &url]))
            .lines()
            .count(),
        150
    );
}

/// The database's disk filling up (its tables in a tablespace on a small tmpfs): the import
/// says the database is out of space, the management API answers 507, not 503 (retrying will
/// not mend it), and the avatar stored before is served as it was.
#[test]
fn a_database_out_of_space_refuses_uploads_with_507_and_keeps_what_it_has() {
    // Made before the cluster, so dropped after it: the tablespace is unmounted once the
    // cluster that holds it open has stopped.
    let space = tempfile::tempdir().unwrap();
    let Some(_mount) = test_support::mount::Mounted::tmpfs("512k", space.path()) else {
        return;
    };
    let cluster = Cluster::start();
    let url = cluster.database("crowded");
    let dir = workdir();
    let owned = Command::new("chown")
        .args(["postgres:postgres"])
        .arg(space.path())
        .status()
        .unwrap();
    assert!(owned.success());
    cluster.sql(
        "crowded",
        &format!(
            "CREATE TABLESPACE small LOCATION '{}'",
            space.path().display()
        ),
    );
    cluster.sql(
        "crowded",
        "ALTER DATABASE crowded SET default_tablespace = small",
    );
    // A 512 px picture of noise: about 790 KB, more than the tablespace holds.
    images::noise(512, 512, 7)
        .save(dir.path().join("large.png"))
        .unwrap();

    let stored = avatars_in(
        dir.path(),
        &["import", "--store", &url, "alice@example.org", "alice.png"],
    );
    assert!(stored.status.success(), "{}", stderr(&stored));
    let refused = avatars_in(
        dir.path(),
        &["import", "--store", &url, "alice@example.org", "large.png"],
    );
    assert_eq!(refused.status.code(), Some(1));
    let said = stderr(&refused);
    assert!(
        said.contains("the store's database is out of space: ")
            && said.contains("SQLSTATE 53100")
            && said.contains("free some, or give it more"),
        "{said}"
    );

    let mut args = vec!["--store", url.as_str()];
    args.extend([
        "--admin-addr",
        "127.0.0.1:0",
        "--admin-token-file",
        "tokens",
    ]);
    let server = Server::start(AVATARS, dir.path(), &args, false);
    let large = std::fs::read(dir.path().join("large.png")).unwrap();
    let put = admin(&server, "PUT", "/v1/avatars/alice@example.org", &large);
    assert_eq!(put.status, 507, "{}", String::from_utf8_lossy(&put.body));
    assert!(put.header("retry-after").is_none());
    assert_eq!(server.get(&format!("/avatar/{ALICE_MD5}?s=64")).status, 200);
    let exported = avatars_in(
        dir.path(),
        &["export", "--store", &url, "alice@example.org", "-"],
    );
    assert_eq!(
        image::load_from_memory(&exported.stdout).unwrap().to_rgb8(),
        image::open(dir.path().join("alice.png")).unwrap().to_rgb8(),
        "the picture stored before"
    );
}

/// A directory to the database and back, idempotently, with the same avatars at the end.
#[test]
fn migrate_copies_a_directory_to_the_database_and_back() {
    let cluster = Cluster::start();
    let url = cluster.database("migrate");
    let dir = workdir();
    let imported = avatars_in(
        dir.path(),
        &["import", "--manifest", "fixtures/manifest.json"],
    );
    assert!(imported.status.success(), "{}", stderr(&imported));
    let listed = stdout(&avatars_in(dir.path(), &["list"]));
    let total = listed.lines().count();
    assert!(total >= 3, "{listed}");

    let to_db = avatars_in(
        dir.path(),
        &["migrate", "--from", "avatars-data", "--to", &url],
    );
    assert!(to_db.status.success(), "{}", stderr(&to_db));
    assert!(
        stdout(&to_db).contains(&format!(
            "migrated {total} avatar(s) from avatars-data to postgres://postgres@"
        )),
        "{}",
        stdout(&to_db)
    );
    assert!(stdout(&to_db).contains(&format!("{total} copied, 0 already there")));
    let again = avatars_in(
        dir.path(),
        &["migrate", "--from", "avatars-data", "--to", &url],
    );
    assert!(
        stdout(&again).contains(&format!("0 copied, {total} already there")),
        "{}",
        stdout(&again)
    );
    // A folder lists in directory order, a database in identity order.
    assert_eq!(
        sorted_lines(&stdout(&avatars_in(dir.path(), &["list", "--store", &url]))),
        sorted_lines(&listed)
    );
    // Each picture the database holds is the folder's, byte for byte.
    for line in listed.lines() {
        let identity = line.split_whitespace().last().unwrap();
        let exported = |store: &str| {
            let output = avatars_in(dir.path(), &["export", "--store", store, identity, "-"]);
            assert!(output.status.success(), "{}", stderr(&output));
            output.stdout
        };
        assert_eq!(exported(&url), exported("avatars-data"), "{identity}");
    }

    let back = avatars_in(dir.path(), &["migrate", "--from", &url, "--to", "copy"]);
    assert!(back.status.success(), "{}", stderr(&back));
    assert_eq!(
        sorted_lines(&stdout(&avatars_in(
            dir.path(),
            &["list", "--data-dir", "copy"]
        ))),
        sorted_lines(&listed)
    );

    let same = avatars_in(dir.path(), &["migrate", "--from", &url, "--to", &url]);
    assert_eq!(same.status.code(), Some(2));
    assert!(
        stderr(&same).contains("two different stores"),
        "{}",
        stderr(&same)
    );
    let wrong = avatars_in(
        dir.path(),
        &["list", "--store", "postgres://nobody@127.0.0.1:1/none"],
    );
    assert_eq!(wrong.status.code(), Some(1));
    // Which database, and why: the pool's own message alone said "error connecting to server".
    let says = stderr(&wrong);
    assert!(
        says.contains("unavailable")
            && says.contains("no connection to postgres://nobody@127.0.0.1:1/none")
            && says.contains("Connection refused"),
        "{says}"
    );
}

/// `avatars list` prints a million avatars as it reads them: its peak memory stays below three
/// quarters of the listing's own text (51.5 MiB). Collected, the text alone would be all of it,
/// on top of the process's own 22 MiB or so. A fixed bound of 24 MiB, tried first, was too
/// close to that: a streaming list peaked at 24.9 MiB on a busy CI run.
#[test]
#[expect(clippy::cast_precision_loss, reason = "tens of megabytes")]
fn listing_a_million_avatars_streams_them() {
    const COUNT: usize = 1_000_000;
    let cluster = Cluster::start();
    let url = cluster.database("million");
    let dir = workdir();
    // The schema, made by the store itself; then the rows, made by the database.
    let listed = avatars_in(dir.path(), &["list", "--store", &url]);
    assert!(listed.status.success(), "{}", stderr(&listed));
    cluster.sql(
        "million",
        &format!(
            "INSERT INTO avatar_identities (identity, content, bytes) \
             SELECT 'someone' || lpad(n::text, 7, '0') || '@a-rather-long-domain.example', \
                    '\\x00', '\\x89504e47' FROM generate_series(1, {COUNT}) AS n"
        ),
    );

    let peak = run_measuring_peak(
        Command::new(AVATARS)
            .args(["list", "--store", &url])
            .current_dir(dir.path()),
    );
    assert_eq!(peak.lines, COUNT);
    assert!(
        peak.first
            .ends_with(" someone0000001@a-rather-long-domain.example"),
        "{}",
        peak.first
    );
    assert!(
        peak.last
            .ends_with(" someone1000000@a-rather-long-domain.example"),
        "{}",
        peak.last
    );
    let text_mib = peak.bytes as f64 / f64::from(1 << 20);
    eprintln!(
        "avatars list: {COUNT} lines, {text_mib:.1} MiB, peak resident {:.1} MiB",
        peak.rss_mib
    );
    assert!(
        peak.rss_mib < text_mib * 0.75,
        "peak resident memory {:.1} MiB for {text_mib:.1} MiB of listing",
        peak.rss_mib
    );
}

/// What [`run_measuring_peak`] saw.
struct Peak {
    lines: usize,
    bytes: usize,
    first: String,
    last: String,
    rss_mib: f64,
}

/// Runs `command`, reading its output line by line, and its peak resident memory (the
/// kernel's `VmHWM`, read just before it exits: the reader stops at end of output, when the
/// process has written everything but still exists until it is waited for).
#[expect(clippy::cast_precision_loss, reason = "kibibytes far below 2^52")]
fn run_measuring_peak(command: &mut Command) -> Peak {
    use std::io::BufRead as _;

    let mut child = command
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .unwrap();
    let reader = std::io::BufReader::new(child.stdout.take().unwrap());
    let (mut lines, mut bytes, mut first, mut last) = (0, 0, String::new(), String::new());
    let mut peak_kib = 0u64;
    for line in reader.lines() {
        let line = line.unwrap();
        if lines % 10_000 == 0 {
            peak_kib = peak_kib.max(status_kib(child.id(), "VmHWM:"));
        }
        lines += 1;
        bytes += line.len() + 1;
        if first.is_empty() {
            first.clone_from(&line);
        }
        last = line;
    }
    peak_kib = peak_kib.max(status_kib(child.id(), "VmHWM:"));
    assert!(child.wait().unwrap().success());
    Peak {
        lines,
        bytes,
        first,
        last,
        rss_mib: peak_kib as f64 / 1024.0,
    }
}

/// A `/proc/PID/status` field in KiB (0 once the process is gone).
fn status_kib(pid: u32, field: &str) -> u64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .unwrap_or_default()
        .lines()
        .find_map(|line| line.strip_prefix(field))
        .and_then(|rest| rest.split_whitespace().next()?.parse().ok())
        .unwrap_or(0)
}

fn sorted_lines(text: &str) -> Vec<&str> {
    let mut lines: Vec<_> = text.lines().collect();
    lines.sort_unstable();
    lines
}

/// `avatars config check` of settings naming a database connects and says what `serve` would
/// find there, changing nothing: tables to create, the schema's version, whether it would
/// follow other servers' changes. What would stop `serve` fails the check, saying why (a role
/// that may not create the tables, with what to grant; a database that does not answer);
/// `--values-only` connects to nothing.
#[test]
fn config_check_inspects_the_database_serve_would_use() {
    let cluster = Cluster::start();
    let url = cluster.database("checked");
    cluster.sql("checked", "CREATE ROLE newcomer LOGIN");
    let dir = tempfile::tempdir().unwrap();
    let check = |store: &str, values_only: bool| {
        std::fs::write(
            dir.path().join("serve.toml"),
            format!("store = \"{store}\"\n"),
        )
        .unwrap();
        let mut args = vec!["config", "check"];
        if values_only {
            args.push("--values-only");
        }
        args.push("serve.toml");
        avatars_in(dir.path(), &args)
    };

    let checked = check(&url, false);
    assert!(checked.status.success(), "{}", stderr(&checked));
    assert_eq!(
        stdout(&checked),
        format!(
            "serve.toml: ok, 1 setting(s) for avatars serve; {url}: no avatar tables yet \
             (created on first use), follows changes\n"
        )
    );
    assert_eq!(
        cluster
            .query("checked", "SELECT to_regclass('avatar_schema') IS NULL")
            .trim(),
        "t"
    );

    let newcomer = url.replacen("postgres://postgres@", "postgres://newcomer@", 1);
    let refused = check(&newcomer, false);
    assert!(!refused.status.success());
    assert!(
        stderr(&refused).contains("GRANT CREATE ON SCHEMA public TO newcomer"),
        "{}",
        stderr(&refused)
    );

    let nowhere = format!(
        "postgres://postgres@127.0.0.1:{}/checked",
        test_support::free_port()
    );
    let refused = check(&nowhere, false);
    assert!(!refused.status.success());
    assert!(
        stderr(&refused).contains(&format!("no connection to {nowhere}")),
        "{}",
        stderr(&refused)
    );
    let values = check(&nowhere, true);
    assert!(values.status.success(), "{}", stderr(&values));

    // The tables in a schema the URL no longer names: a warning, naming them.
    cluster.sql(
        "checked",
        "CREATE SCHEMA kept; CREATE TABLE kept.avatar_schema (version integer NOT NULL)",
    );
    let warned = check(&url, false);
    assert!(warned.status.success(), "{}", stderr(&warned));
    assert!(
        stderr(&warned).contains(&format!(
            "avatars: warning: {url}: serve would create empty avatar tables, but schema kept \
             holds avatar tables, which this connection does not look in (its search path: \
             public); if they are this store's, add the parameter options=-c%20search_path%3Dkept to the URL"
        )),
        "{}",
        stderr(&warned)
    );
}
