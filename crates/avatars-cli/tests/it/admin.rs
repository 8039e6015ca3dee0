//! `avatars serve --admin-addr`: `/metrics` counting what happens, `/healthz`, and every status
//! of the management API, over real TCP.

use std::io::Write as _;
use std::path::Path;

use test_support::images;
use test_support::raw_http::{self, RawResponse};
use test_support::server::Server;

use crate::{AVATARS, admin_request};

pub(crate) const TOKEN: &str = "correct-horse-battery-staple-0123";
const ALICE: &str = "alice@example.org";
/// `avatars hash alice@example.org`.
const ALICE_MD5: &str = "fbf7c6aec1d4280b7c2704c1c0478bd6";
/// `avatars hash bob@example.org`.
const BOB_MD5: &str = "10ac39056a4b6f1f6804d724518ff2dc";
const ALICE_SHA256: &str = "7a64adf28737ea90719cbdf0b1a87a5effff3753b79c91d717f4f4153ead0498";

/// A server with the admin listener and a token file; stderr piped.
pub(crate) fn start(dir: &Path, extra: &[&str]) -> Server {
    std::fs::write(dir.join("tokens"), format!("# operators\n\n{TOKEN}\n")).unwrap();
    let mut args = vec![
        "--admin-addr",
        "127.0.0.1:0",
        "--admin-token-file",
        "tokens",
    ];
    args.extend_from_slice(extra);
    Server::start(AVATARS, dir, &args, true)
}

pub(crate) fn bearer(token: &str) -> String {
    format!("Authorization: Bearer {token}\r\n")
}

fn json(response: &RawResponse) -> serde_json::Value {
    serde_json::from_slice(&response.body)
        .unwrap_or_else(|err| panic!("{err}: {}", String::from_utf8_lossy(&response.body)))
}

/// The value of the first sample line of the metric `name` with all `labels`, as written.
fn sample_text<'a>(metrics: &'a str, name: &str, labels: &[&str]) -> Option<&'a str> {
    metrics
        .lines()
        .filter(|line| !line.starts_with('#'))
        .find(|line| {
            let (series, _) = line.rsplit_once(' ').unwrap();
            (series == name || series.starts_with(&format!("{name}{{")))
                && labels.iter().all(|label| series.contains(label))
        })
        .map(|line| line.rsplit_once(' ').unwrap().1)
}

/// A counter or gauge that counts things (0 when the series does not exist yet).
pub(crate) fn count(metrics: &str, name: &str, labels: &[&str]) -> u64 {
    sample_text(metrics, name, labels).map_or(0, |value| value.parse().unwrap())
}

/// A sample in seconds or bytes.
fn sample(metrics: &str, name: &str, labels: &[&str]) -> f64 {
    sample_text(metrics, name, labels).map_or(0.0, |value| value.parse().unwrap())
}

#[test]
fn metrics_count_requests_renders_and_cache_hits() {
    let dir = tempfile::tempdir().unwrap();
    images::bands(60, 60)
        .save(dir.path().join("alice.png"))
        .unwrap();
    let server = start(dir.path(), &["--email", "alice@example.org=alice.png"]);
    let addr = server.admin_addr.clone().unwrap();
    let health = raw_http::get(&addr, "/healthz");
    assert_eq!(health.status, 200);
    assert_eq!(json(&health)["status"], "ok");

    // Prometheus (2.42 sends this) is answered in OpenMetrics; any other scraper, and curl, in
    // the Prometheus text format.
    let prometheus = raw_http::get_accepting(
        &addr,
        "/metrics",
        "application/openmetrics-text;version=1.0.0,application/openmetrics-text;version=0.0.1;q=0.75,text/plain;version=0.0.4;q=0.5,*/*;q=0.1",
    );
    assert_eq!(
        prometheus.header("content-type"),
        Some("application/openmetrics-text; version=1.0.0; charset=utf-8")
    );
    assert!(
        String::from_utf8(prometheus.body)
            .unwrap()
            .ends_with("# EOF\n"),
        "OpenMetrics text ends with # EOF"
    );
    let plain = raw_http::get(&addr, "/metrics");
    assert_eq!(
        plain.header("content-type"),
        Some("text/plain; version=0.0.4; charset=utf-8")
    );
    assert_eq!(plain.header("vary"), Some("accept"));
    let scrape = || String::from_utf8(raw_http::get(&addr, "/metrics").body).unwrap();
    let before = scrape();
    let avatar_200 = ["listener=\"http\"", "route=\"avatar\"", "status=\"200\""];
    assert_eq!(
        count(&before, "avatars_http_requests_total", &avatar_200),
        0
    );
    for _ in 0..3 {
        assert_eq!(server.get(&format!("/avatar/{ALICE_MD5}?s=32")).status, 200);
    }
    assert_eq!(server.get("/nowhere").status, 404);
    let after = scrape();
    assert_eq!(count(&after, "avatars_http_requests_total", &avatar_200), 3);
    assert_eq!(
        count(
            &after,
            "avatars_http_requests_total",
            &["listener=\"http\"", "route=\"other\"", "status=\"404\""]
        ),
        1
    );
    assert_eq!(
        count(
            &after,
            "avatars_http_request_duration_seconds_count",
            &["listener=\"http\"", "route=\"avatar\""]
        ),
        3
    );
    assert_eq!(count(&after, "avatars_renders_total", &[]), 1);
    assert_eq!(count(&after, "avatars_render_cache_misses_total", &[]), 1);
    assert_eq!(count(&after, "avatars_render_cache_hits_total", &[]), 2);
    assert!(sample(&after, "avatars_render_seconds_total", &[]) > 0.0);
    assert!(sample(&after, "avatars_render_cache_bytes", &[]) > 0.0);
    assert_eq!(count(&after, "avatars_index_entries", &[]), 1);
    assert_eq!(count(&after, "avatars_store_errors_total", &[]), 0);
    // The scrape itself is counted on the admin listener, and the admin listener's
    // connection is open while it is answered.
    assert!(
        count(
            &after,
            "avatars_http_requests_total",
            &["listener=\"admin\"", "route=\"metrics\""]
        ) >= 1
    );
    assert!(count(&after, "avatars_connections_open", &["listener=\"admin\""]) >= 1);
}

/// A folder with Alice's photo, and `serve` arguments that keep the render cache in
/// `renditions.cache` (plus `extra`).
fn alice_with_a_render_cache_file(
    extra: &[&'static str],
) -> (tempfile::TempDir, Vec<&'static str>) {
    let dir = tempfile::tempdir().unwrap();
    images::photo_like(300, 200)
        .save(dir.path().join("alice.jpg"))
        .unwrap();
    let mut args = vec![
        "--email",
        "alice@example.org=alice.jpg",
        "--render-cache-file",
        "renditions.cache",
    ];
    args.extend_from_slice(extra);
    (dir, args)
}

/// The restarted server answers `paths` with the bytes `served` before, rendering none.
fn served_again_without_rendering(second: &Server, paths: &[String], served: &[Vec<u8>]) {
    let again: Vec<_> = paths.iter().map(|path| second.get(path).body).collect();
    assert_eq!(again, served, "the same bytes");
    let metrics =
        String::from_utf8(raw_http::get(second.admin_addr.as_ref().unwrap(), "/metrics").body)
            .unwrap();
    assert_eq!(
        count(&metrics, "avatars_renders_total", &[]),
        0,
        "nothing rendered again"
    );
    assert_eq!(
        count(&metrics, "avatars_render_cache_hits_total", &[]),
        paths.len() as u64
    );
}

/// With `--render-cache-file`, a restarted server answers what it had rendered without
/// rendering it again: the renditions are saved at SIGTERM and read back at start, the bytes
/// are the same, and a damaged file starts an empty cache with a warning.
#[test]
fn a_restarted_server_keeps_its_renditions_with_a_render_cache_file() {
    let (dir, args) = alice_with_a_render_cache_file(&[]);
    let sizes = [32, 80, 256];
    let paths = sizes.map(|size| format!("/avatar/{ALICE_MD5}?s={size}"));
    let mut first = start(dir.path(), &args);
    let served: Vec<_> = paths.iter().map(|path| first.get(path).body).collect();
    let log = first.stop_gracefully();
    assert!(
        log.contains("render cache: 3 rendition(s) saved to renditions.cache"),
        "{log}"
    );

    let mut second = start(dir.path(), &args);
    served_again_without_rendering(&second, &paths, &served);
    let log = second.stop_gracefully();
    assert!(
        log.contains("render cache: 3 rendition(s) from renditions.cache"),
        "{log}"
    );

    std::fs::write(
        dir.path().join("renditions.cache"),
        b"not a snapshot at all",
    )
    .unwrap();
    let mut third = start(dir.path(), &args);
    assert_eq!(third.get(&paths[1]).status, 200, "served, rendered anew");
    let log = third.stop_gracefully();
    assert!(
        log.contains("warning: render cache renditions.cache not used"),
        "{log}"
    );
}

/// `--render-cache-save-secs`: the renditions are saved while serving too, so a server killed
/// without warning (SIGKILL: no shutdown save) still restarts warm.
#[test]
fn renditions_saved_while_serving_survive_a_crash() {
    let (dir, args) = alice_with_a_render_cache_file(&["--render-cache-save-secs", "1"]);
    let paths = [40, 128].map(|size| format!("/avatar/{ALICE_MD5}?s={size}"));
    let mut first = start(dir.path(), &args);
    let served: Vec<_> = paths.iter().map(|path| first.get(path).body).collect();
    // Saved (renamed into place) while the server runs.
    let started = std::time::Instant::now();
    while !dir.path().join("renditions.cache").exists() {
        assert!(
            started.elapsed() < std::time::Duration::from_secs(20),
            "no periodic save"
        );
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
    assert!(!first.stop("KILL").success(), "killed, not shut down");
    assert!(
        first
            .log()
            .contains("render cache: 2 rendition(s) saved to renditions.cache")
    );

    let mut second = start(dir.path(), &args);
    served_again_without_rendering(&second, &paths, &served);
    second.stop_gracefully();
}

/// A restarted server reads what it rendered back from its rendition files (by default in
/// the data directory's `renditions`), the same bytes, rendering none; `--render-files-bytes 0`
/// keeps none and empties the folder.
#[test]
fn a_restarted_server_reads_its_renditions_back_from_their_files() {
    let (dir, _) = alice_with_a_render_cache_file(&[]);
    let args = ["--email", "alice@example.org=alice.jpg"];
    let paths = [32, 80, 256].map(|size| format!("/avatar/{ALICE_MD5}?s={size}"));
    let mut first = start(dir.path(), &args);
    let served: Vec<_> = paths.iter().map(|path| first.get(path).body).collect();
    let metrics = |server: &Server| {
        String::from_utf8(raw_http::get(server.admin_addr.as_ref().unwrap(), "/metrics").body)
            .unwrap()
    };
    // The three renditions, and the rung the 32 and 80 px ones were made from, made when
    // `--email` stored the 300 x 200 picture.
    assert_eq!(count(&metrics(&first), "avatars_rendition_files", &[]), 4);
    first.stop_gracefully();
    let files = dir.path().join("avatars-data/renditions");
    assert_eq!(kept(&files), 4, "{}", files.display());

    let mut second = start(dir.path(), &args);
    let again: Vec<_> = paths.iter().map(|path| second.get(path).body).collect();
    assert_eq!(again, served, "the same bytes");
    let after = metrics(&second);
    assert_eq!(count(&after, "avatars_renders_total", &[]), 0, "{after}");
    assert_eq!(count(&after, "avatars_rendition_file_hits_total", &[]), 3);
    second.stop_gracefully();

    let mut third = start(dir.path(), &[args[0], args[1], "--render-files-bytes", "0"]);
    assert_eq!(third.get(&paths[0]).body, served[0]);
    assert_eq!(count(&metrics(&third), "avatars_renders_total", &[]), 1);
    third.stop_gracefully();
    assert_eq!(kept(&files), 0, "a budget of 0 keeps no file");
}

/// The rendition files in `files` (each in one of its folders).
fn kept(files: &Path) -> usize {
    std::fs::read_dir(files)
        .unwrap()
        .flatten()
        .filter(|entry| entry.path().is_dir())
        .map(|folder| std::fs::read_dir(folder.path()).unwrap().count())
        .sum()
}

/// `--render-ahead`: `import` makes a picture's renditions at the given sizes as files (in the
/// stored format, and in WebP for browsers), and the server answers them without rendering;
/// an upload through the management API gets those of the server's `--render-ahead`.
#[test]
fn renditions_made_ahead_are_answered_without_rendering() {
    let dir = tempfile::tempdir().unwrap();
    let photo = images::encode(&images::photo_like(300, 200), image::ImageFormat::Jpeg);
    std::fs::write(dir.path().join("alice.jpg"), &photo).unwrap();
    let import = ["import", "--render-ahead", "40,80", ALICE, "alice.jpg"];
    let output = crate::avatars_in(dir.path(), &import);
    assert!(output.status.success(), "{}", crate::stderr(&output));
    assert_eq!(
        crate::stdout(&output).trim(),
        "imported alice@example.org: JPEG 300 x 200, 4 rendition(s) made ahead"
    );
    let files = dir.path().join("avatars-data/renditions");
    assert_eq!(
        kept(&files),
        4 + 1,
        "JPEG and WebP at 40 and 80 px, and the rung"
    );

    let server = start(dir.path(), &["--render-ahead", "48"]);
    let admin = server.admin_addr.clone().unwrap();
    let metrics = || String::from_utf8(raw_http::get(&admin, "/metrics").body).unwrap();
    for size in [40, 80] {
        let answer = server.get(&format!("/avatar/{ALICE_MD5}?s={size}"));
        assert_eq!(answer.header("content-type"), Some("image/jpeg"));
    }
    let webp = raw_http::get_accepting(
        &server.addr,
        &format!("/avatar/{ALICE_MD5}?s=80"),
        "image/avif,image/webp,*/*",
    );
    assert_eq!(webp.header("content-type"), Some("image/webp"));
    let after = metrics();
    assert_eq!(count(&after, "avatars_renders_total", &[]), 0, "{after}");
    assert_eq!(count(&after, "avatars_rendition_file_hits_total", &[]), 3);

    let path = "/v1/avatars/bob@example.org";
    let png = images::png(&images::bands(90, 60));
    assert_eq!(
        admin_request(&server, "PUT", path, &bearer(TOKEN), &png).status,
        201
    );
    assert_eq!(
        kept(&files),
        5 + 2,
        "PNG and WebP at 48 px (90 x 60 px has no rung)"
    );
    assert_eq!(server.get(&format!("/avatar/{BOB_MD5}?s=48")).status, 200);
    assert_eq!(count(&metrics(), "avatars_renders_total", &[]), 0);
    assert_eq!(server.get(&format!("/avatar/{BOB_MD5}?s=64")).status, 200);
    assert_eq!(
        count(&metrics(), "avatars_renders_total", &[]),
        1,
        "64 px was not made ahead"
    );
}

/// `avatars render-ahead`: the renditions of the avatars stored before `--render-ahead` was
/// turned on, made once (a second run makes none; a picture stored for two addresses, once),
/// answered without rendering; a stored file that cannot be rendered is told and skipped.
#[test]
fn render_ahead_makes_the_renditions_of_avatars_stored_before() {
    let dir = tempfile::tempdir().unwrap();
    let photo = images::encode(&images::photo_like(120, 90), image::ImageFormat::Jpeg);
    std::fs::write(dir.path().join("alice.jpg"), &photo).unwrap();
    images::bands(60, 60)
        .save(dir.path().join("bob.png"))
        .unwrap();
    let carol = images::png(&images::checkers(70, 70, [200, 40, 40]));
    std::fs::write(dir.path().join("carol.png"), &carol).unwrap();
    for import in [
        &[ALICE, "alice.jpg", "--also", "alice@work.example"][..],
        &["bob@example.org", "bob.png"],
        &["carol@example.org", "carol.png"],
    ] {
        let output = crate::avatars_in(dir.path(), &[&["import"][..], import].concat());
        assert!(output.status.success(), "{}", crate::stderr(&output));
    }
    // Carol's stored file damaged on disk: told and skipped, the others rendered.
    let (stored, _) = test_support::tree::snapshot(&dir.path().join("avatars-data"))
        .into_iter()
        .find(|(_, bytes)| *bytes == carol)
        .expect("Carol's picture is stored as it was uploaded");
    std::fs::write(stored, b"not a picture any more").unwrap();
    let ahead = [
        "render-ahead",
        "--render-ahead",
        "80,40",
        "--formats",
        "none",
    ];
    let output = crate::avatars_in(dir.path(), &ahead);
    assert!(output.status.success(), "{}", crate::stderr(&output));
    assert_eq!(
        crate::stdout(&output).trim(),
        "rendered ahead at 80, 40 px, in the stored format, for 4 avatar(s) in avatars-data/renditions: 4 rendition(s) \
         made, 1 picture(s) that could not be rendered"
    );
    assert!(
        crate::stderr(&output).contains("warning: carol@example.org: not rendered ahead"),
        "{}",
        crate::stderr(&output)
    );
    let again = crate::stdout(&crate::avatars_in(dir.path(), &ahead));
    assert!(
        again.contains("for 4 avatar(s) in avatars-data/renditions: 0 rendition(s) made"),
        "{again}"
    );

    let server = start(dir.path(), &[]);
    let admin = server.admin_addr.clone().unwrap();
    for path in [
        format!("/avatar/{ALICE_MD5}?s=40"),
        format!("/avatar/{BOB_MD5}?s=80"),
    ] {
        assert_eq!(server.get(&path).status, 200);
    }
    let metrics = String::from_utf8(raw_http::get(&admin, "/metrics").body).unwrap();
    assert_eq!(
        count(&metrics, "avatars_renders_total", &[]),
        0,
        "{metrics}"
    );
    drop(server);

    let postgres = ["--store", "postgres://nobody@127.0.0.1:1/avatars"];
    for (args, wanted) in [
        (
            &["--render-files-bytes", "0"][..],
            "give --render-files-bytes above 0",
        ),
        (
            &postgres[..],
            "give --render-files-dir DIR (or --render-ahead PX,...)",
        ),
    ] {
        let mut all = vec!["render-ahead"];
        all.extend_from_slice(args);
        let refused = crate::avatars_in(dir.path(), &all);
        assert_eq!(refused.status.code(), Some(2), "{args:?}");
        assert!(
            crate::stderr(&refused).contains(wanted),
            "{args:?}: {}",
            crate::stderr(&refused)
        );
    }
}

/// `avatars render-ahead` without sizes makes the rung of each stored picture larger than
/// 128 px that has none (a store imported before rungs were made at import), once.
#[test]
fn render_ahead_without_sizes_makes_the_rungs() {
    let dir = tempfile::tempdir().unwrap();
    let photo = images::encode(&images::photo_like(300, 200), image::ImageFormat::Jpeg);
    std::fs::write(dir.path().join("alice.jpg"), &photo).unwrap();
    images::bands(60, 60)
        .save(dir.path().join("bob.png"))
        .unwrap();
    for (identity, file) in [(ALICE, "alice.jpg"), ("bob@example.org", "bob.png")] {
        let import = ["import", "--render-files-bytes", "0", identity, file];
        let output = crate::avatars_in(dir.path(), &import);
        assert!(output.status.success(), "{}", crate::stderr(&output));
    }
    let files = dir.path().join("avatars-data/renditions");
    assert!(!files.exists(), "a budget of 0: the import made no rung");
    let output = crate::avatars_in(dir.path(), &["render-ahead"]);
    assert!(output.status.success(), "{}", crate::stderr(&output));
    assert_eq!(
        crate::stdout(&output).trim(),
        "made the rungs of 2 avatar(s) in avatars-data/renditions (those larger than 128 px \
         that had none), 0 picture(s) that could not be rendered"
    );
    assert_eq!(kept(&files), 1, "Alice's; Bob's 60 px picture has none");
    let again = crate::avatars_in(dir.path(), &["render-ahead"]);
    assert!(again.status.success(), "{}", crate::stderr(&again));
    assert_eq!(kept(&files), 1, "made once");
}

/// `--render-ahead` with nowhere to keep the files, or with bad sizes: exit 2 and what to give,
/// before any store is opened.
#[test]
fn render_ahead_without_room_or_with_bad_sizes_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("a.png"),
        images::png(&images::bands(50, 40)),
    )
    .unwrap();
    let refused = |args: &[&str], wanted: &str| {
        let mut all = vec!["import", ALICE, "a.png"];
        all.extend_from_slice(args);
        let output = crate::avatars_in(dir.path(), &all);
        assert_eq!(output.status.code(), Some(2), "{args:?}");
        let stderr = crate::stderr(&output);
        assert!(stderr.contains(wanted), "{args:?}: {stderr}");
    };
    refused(
        &[
            "--render-ahead",
            "40",
            "--store",
            "postgres://nobody@127.0.0.1:1/avatars",
        ],
        "--render-ahead keeps renditions as files, and a database store has no folder for them: give --render-files-dir DIR",
    );
    refused(
        &["--render-ahead", "40", "--render-files-bytes", "0"],
        "--render-ahead keeps renditions as files: give --render-files-bytes above 0",
    );
    refused(&["--render-ahead", "0"], "0 is not in 1..=4096");
    let many = (1..=17)
        .map(|size| size.to_string())
        .collect::<Vec<_>>()
        .join(",");
    refused(
        &["--render-ahead", &many],
        "--render-ahead: 17 sizes to render ahead were given; from 1 to 16 different sizes are accepted",
    );
    assert!(
        !dir.path().join("avatars-data/VERSION").exists(),
        "no store was opened"
    );
}

/// The error message of a JSON error answer.
pub(crate) fn error_of(response: &RawResponse) -> String {
    json(response)["error"].as_str().unwrap().to_owned()
}

/// 401 without a bearer token (checked before the body is read), 403 with a wrong one, on
/// every route of the API; nothing is stored.
#[test]
fn the_management_api_refuses_requests_without_the_token() {
    let dir = tempfile::tempdir().unwrap();
    let server = start(dir.path(), &[]);
    let png = images::png(&images::bands(50, 40));
    let path = format!("/v1/avatars/{ALICE}");
    for headers in [String::new(), "Authorization: Basic YTpi\r\n".to_owned()] {
        let refused = admin_request(&server, "PUT", &path, &headers, &png);
        assert_eq!(refused.status, 401, "{headers:?}");
        assert_eq!(refused.header("www-authenticate"), Some("bearer"));
        assert!(error_of(&refused).contains("Bearer TOKEN"));
    }
    let wrong = admin_request(
        &server,
        "PUT",
        &path,
        &bearer("correct-horse-battery-staple-0124"),
        &png,
    );
    assert_eq!(wrong.status, 403);
    assert_eq!(json(&wrong)["status"], 403);
    let picture = format!("{path}/picture");
    for (method, target) in [
        ("GET", "/v1/avatars"),
        ("DELETE", path.as_str()),
        ("GET", picture.as_str()),
    ] {
        assert_eq!(
            admin_request(&server, method, target, "", b"").status,
            401,
            "{method}"
        );
        assert_eq!(
            admin_request(&server, method, target, &bearer("x"), b"").status,
            403,
            "{method}"
        );
    }
    assert_eq!(
        server.get(&format!("/avatar/{ALICE_MD5}?d=404")).status,
        404,
        "nothing stored"
    );
}

/// A reload does not apply an edited settings file, and says so: nothing while the file holds
/// the settings the server started with (comments aside); which settings changed, and that
/// they apply at a restart, once they differ; that a restart would fail once the file does not
/// parse. Each reload is seen done when the token rotated with it is accepted.
#[test]
fn a_sighup_says_an_edited_settings_file_waits_for_a_restart() {
    let dir = tempfile::tempdir().unwrap();
    let settings = dir.path().join("serve.toml");
    std::fs::write(&settings, "# limits\nrate-limit = 50\nmax-size = 512\n").unwrap();
    let mut server = start(dir.path(), &["--config", "serve.toml"]);
    let reload = |settings_now: &str, token: &str| {
        std::fs::write(&settings, settings_now).unwrap();
        std::fs::write(dir.path().join("tokens"), format!("{token}\n")).unwrap();
        server.signal("HUP");
        let started = std::time::Instant::now();
        while admin_request(&server, "GET", "/v1/avatars", &bearer(token), b"").status != 200 {
            assert!(
                started.elapsed() < std::time::Duration::from_secs(5),
                "no reload"
            );
            std::thread::sleep(std::time::Duration::from_millis(20));
        }
    };
    reload(
        "# the limits, reworded\nrate-limit   = 50\n\nmax-size = 512\n",
        "token-after-a-reload-with-nothing-changed",
    );
    reload(
        "rate-limit = 60\nmax-size = 512\nrender-ahead = \"40\"\n",
        "token-after-a-reload-with-two-settings-changed",
    );
    reload(
        "rate-limit = sixty\n",
        "token-after-a-reload-with-a-broken-file",
    );
    reload(
        "max-size = 99999\n",
        "token-after-a-reload-with-a-value-out-of-range",
    );
    let log = server.stop_gracefully();
    let said: Vec<&str> = log
        .lines()
        .filter(|line| line.contains("serve.toml"))
        .collect();
    assert_eq!(said.len(), 3, "{log}");
    assert!(
        said[0].starts_with("avatars: warning: serve.toml changed since the server started (rate-limit, render-ahead)")
            && said[0].contains("a reload reads again only the TLS certificate and key")
            && said[0].contains("they apply at a restart (check the files they name first: avatars config check serve.toml)"),
        "{}",
        said[0]
    );
    assert!(
        said[1].contains("not valid TOML at line 1, column 14 (`rate-limit = sixty`)")
            && said[1].contains("a restart would fail"),
        "{}",
        said[1]
    );
    assert!(
        said[2].contains("changed since the server started (max-size, rate-limit)")
            && said[2].contains("a restart would fail: serve.toml: ")
            && said[2].contains("max-size"),
        "{}",
        said[2]
    );
}

/// A token rotated in the file is accepted after a SIGHUP (`systemctl reload avatars`), and
/// the old one refused; a file that cannot be used then is reported and the tokens in use
/// kept.
#[test]
fn a_sighup_reads_the_admin_tokens_again() {
    let dir = tempfile::tempdir().unwrap();
    let mut server = start(dir.path(), &[]);
    let list =
        |token: &str| admin_request(&server, "GET", "/v1/avatars", &bearer(token), b"").status;
    let until = |token: &str, status: u16| {
        let started = std::time::Instant::now();
        while list(token) != status {
            assert!(
                started.elapsed() < std::time::Duration::from_secs(5),
                "{token} never answered {status}"
            );
            std::thread::sleep(std::time::Duration::from_millis(20));
        }
    };
    assert_eq!(list(TOKEN), 200);
    let rotated = "a-new-token-after-rotation-0123456789";
    assert_eq!(list(rotated), 403);
    std::fs::write(dir.path().join("tokens"), format!("{rotated}\n")).unwrap();
    assert_eq!(list(rotated), 403, "not before the SIGHUP");
    server.signal("HUP");
    until(rotated, 200);
    assert_eq!(list(TOKEN), 403, "the old token is gone");

    std::fs::write(dir.path().join("tokens"), "short\n").unwrap();
    server.signal("HUP");
    std::thread::sleep(std::time::Duration::from_millis(300));
    assert_eq!(list(rotated), 200, "the tokens in use are kept");
    let log = server.stop_gracefully();
    assert!(
        log.contains("reloaded 1 admin token(s) from tokens"),
        "{log}"
    );
    assert!(
        log.contains("avatars: kept the admin tokens in use: tokens: line 1: a token must be"),
        "{log}"
    );
    // The file, readable by all, is warned of at start and again at each reload.
    assert_eq!(
        log.matches("avatars: warning: tokens (--admin-token-file) is a secret that every user")
            .count(),
        3,
        "{log}"
    );
}

/// 415 for a non-image (saying what to send for a form), 413 over the limit, 422 for a broken
/// image, 400 for a bad identity (or a path that is not UTF-8), 405 with the methods for a
/// method a path does not take, all in JSON; none of them stores anything.
#[test]
fn the_management_api_refuses_bad_uploads_with_their_reason() {
    let dir = tempfile::tempdir().unwrap();
    let server = start(dir.path(), &[]);
    let png = images::png(&images::bands(50, 40));
    let path = format!("/v1/avatars/{ALICE}");
    let not_image = admin_request(&server, "PUT", &path, &bearer(TOKEN), b"just some text");
    assert_eq!(not_image.status, 415);
    assert!(error_of(&not_image).contains("PNG, JPEG, GIF or WebP"));
    // A file of another kind is named, with what to do (here an iPhone's HEIC photo).
    let heic = test_support::not_pictures::not_pictures().remove(0);
    let named = admin_request(&server, "PUT", &path, &bearer(TOKEN), &heic.bytes);
    assert_eq!(named.status, 415);
    assert!(
        error_of(&named).contains("this is a HEIC image"),
        "{}",
        error_of(&named)
    );
    // What `curl -F avatar=@alice.png` sends: a form around the picture.
    let mut form =
        b"--x\r\nContent-Disposition: form-data; name=\"avatar\"; filename=\"a.png\"\r\n\r\n"
            .to_vec();
    form.extend_from_slice(&png);
    form.extend_from_slice(b"\r\n--x--\r\n");
    let headers = format!(
        "{}Content-Type: multipart/form-data; boundary=x\r\n",
        bearer(TOKEN)
    );
    let as_form = admin_request(&server, "PUT", &path, &headers, &form);
    assert_eq!(as_form.status, 415);
    assert!(
        error_of(&as_form).contains("--data-binary"),
        "{}",
        error_of(&as_form)
    );
    let huge = vec![0u8; (8 << 20) + 1];
    let too_large = admin_request(&server, "PUT", &path, &bearer(TOKEN), &huge);
    assert_eq!(too_large.status, 413);
    assert!(error_of(&too_large).contains("8388608 bytes"));
    let broken = admin_request(&server, "PUT", &path, &bearer(TOKEN), &png[..png.len() / 2]);
    assert_eq!(broken.status, 422);
    let bad = admin_request(
        &server,
        "PUT",
        "/v1/avatars/not-an-address",
        &bearer(TOKEN),
        &png,
    );
    assert_eq!(bad.status, 400);
    assert!(json(&bad)["error"].is_string());
    assert_eq!(
        server.get(&format!("/avatar/{ALICE_MD5}?d=404")).status,
        404,
        "nothing stored by refusals"
    );
    let unknown = admin_request(&server, "GET", "/v2/whatever", "", b"");
    assert_eq!(unknown.status, 404);
    assert!(error_of(&unknown).contains("/v1/avatars"));
    // A path that is not UTF-8 once decoded: JSON as every other error, after the token check.
    let not_utf8 = "/v1/avatars/%FF@example.org";
    assert_eq!(admin_request(&server, "GET", not_utf8, "", b"").status, 401);
    let undecodable = admin_request(&server, "GET", not_utf8, &bearer(TOKEN), b"");
    assert_eq!(undecodable.status, 400);
    assert!(
        error_of(&undecodable).contains("not UTF-8"),
        "{}",
        error_of(&undecodable)
    );
    // A method a known path does not take: 405 with Allow, and JSON naming the methods.
    for (method, target, allowed) in [
        ("PATCH", path.as_str(), "GET, HEAD, PUT, DELETE"),
        ("POST", "/v1/avatars", "GET, HEAD"),
        ("DELETE", "/metrics", "GET, HEAD"),
    ] {
        let refused = admin_request(&server, method, target, &bearer(TOKEN), b"");
        assert_eq!(refused.status, 405, "{method} {target}");
        assert_eq!(
            refused
                .header("allow")
                .map(|allow| allow.replace(',', ", ")),
            // (RawResponse keeps the header block in lowercase.)
            Some(allowed.to_lowercase()),
            "{method} {target}"
        );
        assert_eq!(
            error_of(&refused),
            format!("method {method} is not allowed here; use {allowed}")
        );
    }
}

/// `PUT /v1/avatars/{identity}?crop=X,Y,SIDE` stores that square of the body; a crop not
/// written so is a 400 and one outside the picture a 422, each saying what is expected.
#[test]
fn the_management_api_stores_the_square_asked_for_with_crop() {
    let dir = tempfile::tempdir().unwrap();
    let server = start(dir.path(), &[]);
    let png = images::png(&images::bands(300, 200));
    let path = format!("/v1/avatars/{ALICE}");
    for (query, status, says) in [
        ("?crop=1,2", 400, "expected X,Y,SIDE"),
        ("?crop=0,0,0", 400, "expected X,Y,SIDE"),
        (
            "?crop=250,0,100",
            422,
            "does not fit in the 300 x 200 picture",
        ),
    ] {
        let refused = admin_request(
            &server,
            "PUT",
            &format!("{path}{query}"),
            &bearer(TOKEN),
            &png,
        );
        assert_eq!(refused.status, status, "{query}: {}", error_of(&refused));
        assert!(
            error_of(&refused).contains(says),
            "{query}: {}",
            error_of(&refused)
        );
    }
    assert_eq!(
        server.get(&format!("/avatar/{ALICE_MD5}?d=404")).status,
        404
    );
    let stored = admin_request(
        &server,
        "PUT",
        &format!("{path}?crop=100,50,120"),
        &bearer(TOKEN),
        &png,
    );
    assert_eq!(stored.status, 201, "{}", error_of(&stored));
    let answered = json(&stored);
    assert_eq!(
        (answered["width"].as_u64(), answered["height"].as_u64()),
        (Some(120), Some(120)),
        "the answer describes the square stored, not the upload"
    );
    let picture = admin_request(
        &server,
        "GET",
        &format!("{path}/picture"),
        &bearer(TOKEN),
        b"",
    );
    let stored = image::load_from_memory(&picture.body).unwrap().to_rgb8();
    let chosen = image::imageops::crop_imm(&images::bands(300, 200), 100, 50, 120, 120).to_image();
    assert_eq!(stored, chosen);
}

/// `GET /v1/avatars/{identity}/picture` gives the stored picture byte for byte, as `avatars
/// export` does, with its own content type; 404 when nothing is stored.
#[test]
fn the_stored_picture_is_given_back_byte_for_byte() {
    let dir = tempfile::tempdir().unwrap();
    let server = start(dir.path(), &[]);
    let png = images::png(&images::bands(50, 40));
    let path = format!("/v1/avatars/{ALICE}");
    assert_eq!(
        admin_request(&server, "PUT", &path, &bearer(TOKEN), &png).status,
        201
    );
    let picture = admin_request(
        &server,
        "GET",
        &format!("{path}/picture"),
        &bearer(TOKEN),
        b"",
    );
    assert_eq!(picture.status, 200);
    assert_eq!(picture.header("content-type"), Some("image/png"));
    assert_eq!(picture.header("x-content-type-options"), Some("nosniff"));
    let exported = crate::avatars_in(dir.path(), &["export", ALICE, "-"]);
    assert!(exported.status.success(), "{}", crate::stderr(&exported));
    assert_eq!(picture.body, exported.stdout);
    let nobody = admin_request(
        &server,
        "GET",
        "/v1/avatars/bob@example.org/picture",
        &bearer(TOKEN),
        b"",
    );
    assert_eq!(nobody.status, 404);
    assert_eq!(error_of(&nobody), "nothing is stored for bob@example.org");
}

/// 201 for a new avatar (served at once), 200 when replaced, the list a page at a time, 204
/// for a removal (gone at once) and 404 for the second; the access log has every request and
/// never the token.
#[test]
fn the_management_api_stores_lists_and_removes() {
    let dir = tempfile::tempdir().unwrap();
    let mut server = start(dir.path(), &["--log-format", "json"]);
    let png = images::png(&images::bands(50, 40));
    let path = format!("/v1/avatars/{ALICE}");
    let created = admin_request(&server, "PUT", &path, &bearer(TOKEN), &png);
    assert_eq!(created.status, 201);
    let body = json(&created);
    assert_eq!(body["identity"], ALICE);
    assert_eq!(body["sha256"], ALICE_SHA256);
    assert_eq!(body["md5"], ALICE_MD5);
    assert_eq!(
        (body["width"].as_u64(), body["height"].as_u64()),
        (Some(50), Some(40))
    );
    assert_eq!(body["format"], "png");
    assert_eq!(
        server.get(&format!("/avatar/{ALICE_MD5}?d=404")).status,
        200
    );
    assert_eq!(
        server.get(&format!("/avatar/{ALICE_SHA256}?d=404")).status,
        200
    );
    let replaced = admin_request(
        &server,
        "PUT",
        &path,
        &bearer(TOKEN),
        &images::png(&images::solid(30, 30, [1, 2, 3])),
    );
    assert_eq!(replaced.status, 200);

    // The list, a page at a time.
    for name in ["bob", "carol"] {
        let stored = admin_request(
            &server,
            "PUT",
            &format!("/v1/avatars/{name}@example.org"),
            &bearer(TOKEN),
            &png,
        );
        assert_eq!(stored.status, 201);
    }
    let mut seen = Vec::new();
    let mut after = String::new();
    loop {
        let page = admin_request(
            &server,
            "GET",
            &format!("/v1/avatars?limit=2{after}"),
            &bearer(TOKEN),
            b"",
        );
        assert_eq!(page.status, 200);
        let page = json(&page);
        for entry in page["avatars"].as_array().unwrap() {
            seen.push(entry["identity"].as_str().unwrap().to_owned());
            assert!(entry["bytes"].as_u64().unwrap() > 0);
        }
        match page["next"].as_str() {
            Some(next) => after = format!("&after={next}"),
            None => break,
        }
    }
    assert_eq!(
        seen,
        ["alice@example.org", "bob@example.org", "carol@example.org"]
    );
    // `after=%FF` is no identity (it is not UTF-8 once decoded): refused, not an empty page.
    for query in ["limit=0", "limit=1001", "limit=x", "after=%FF"] {
        let refused = admin_request(
            &server,
            "GET",
            &format!("/v1/avatars?{query}"),
            &bearer(TOKEN),
            b"",
        );
        assert_eq!(refused.status, 400, "{query}");
        assert!(error_of(&refused).contains("limit"), "{query}");
        assert!(error_of(&refused).contains("after"), "{query}");
    }

    // 204 when removed (and gone from the public API at once), 404 the second time.
    assert_eq!(
        admin_request(&server, "DELETE", &path, &bearer(TOKEN), b"").status,
        204
    );
    assert_eq!(
        server.get(&format!("/avatar/{ALICE_MD5}?d=404")).status,
        404
    );
    let again = admin_request(&server, "DELETE", &path, &bearer(TOKEN), b"");
    assert_eq!(again.status, 404);
    assert!(error_of(&again).contains("nothing is stored"));

    // Every request is in the access log, and the token never is.
    let log = server.stop_gracefully();
    assert!(
        log.contains("\"path\":\"/v1/avatars/alice@example.org\""),
        "{log}"
    );
    assert!(
        !log.contains(TOKEN) && !log.to_lowercase().contains("authorization"),
        "{log}"
    );
}

/// `GET /v1/avatars/{identity}` describes what is stored as the `PUT` that stored it was
/// answered, with its size; the stored picture's dimensions for an upload over the master
/// side; 404 once removed; 401 without the token.
#[test]
fn the_management_api_shows_what_is_stored() {
    let dir = tempfile::tempdir().unwrap();
    let server = start(dir.path(), &[]);
    let path = format!("/v1/avatars/{ALICE}");
    let png = images::png(&images::bands(50, 40));
    let stored = admin_request(&server, "PUT", &path, &bearer(TOKEN), &png);
    assert_eq!(stored.status, 201);
    let shown = admin_request(&server, "GET", &path, &bearer(TOKEN), b"");
    assert_eq!(shown.status, 200);
    let (shown, stored) = (json(&shown), json(&stored));
    for field in [
        "identity", "md5", "sha256", "format", "width", "height", "version",
    ] {
        assert_eq!(shown[field], stored[field], "{field}");
    }
    assert_eq!(shown["bytes"].as_u64(), Some(png.len() as u64));

    // A 900 x 600 upload is stored as its centred 512 px square, and both answers say so.
    let large = images::png(&images::bands(900, 600));
    let stored = admin_request(&server, "PUT", &path, &bearer(TOKEN), &large);
    assert_eq!(stored.status, 200);
    let shown = json(&admin_request(&server, "GET", &path, &bearer(TOKEN), b""));
    assert_eq!(
        (shown["width"].as_u64(), shown["height"].as_u64()),
        (Some(512), Some(512))
    );
    let stored = json(&stored);
    for field in [
        "identity", "md5", "sha256", "format", "width", "height", "version",
    ] {
        assert_eq!(shown[field], stored[field], "{field}");
    }

    assert_eq!(admin_request(&server, "GET", &path, "", b"").status, 401);
    assert_eq!(
        admin_request(&server, "DELETE", &path, &bearer(TOKEN), b"").status,
        204
    );
    let gone = admin_request(&server, "GET", &path, &bearer(TOKEN), b"");
    assert_eq!(gone.status, 404);
    assert!(error_of(&gone).contains("nothing is stored for alice@example.org"));
}

#[test]
fn a_token_file_without_a_usable_token_is_refused_at_start() {
    let dir = tempfile::tempdir().unwrap();
    for (text, says) in [
        ("# nothing here\n\n", "holds no token"),
        ("short\n", "at least 16 characters"),
    ] {
        let mut file = std::fs::File::create(dir.path().join("tokens")).unwrap();
        file.write_all(text.as_bytes()).unwrap();
        let output = std::process::Command::new(AVATARS)
            .current_dir(dir.path())
            .args([
                "serve",
                "--addr",
                "127.0.0.1:0",
                "--admin-addr",
                "127.0.0.1:0",
                "--admin-token-file",
                "tokens",
            ])
            .output()
            .unwrap();
        assert_eq!(output.status.code(), Some(2), "{text:?}");
        let message = crate::stderr(&output);
        assert!(
            message.contains(says) && message.contains("tokens"),
            "{message}"
        );
    }
}

/// `/healthz` is 503 with `Retry-After` while the store cannot be read, and 200 again once it
/// can, without a restart; the failed reads are counted as store errors, each, and logged
/// once, not at every request.
#[test]
fn healthz_follows_the_store() {
    let dir = tempfile::tempdir().unwrap();
    let mut server = start(dir.path(), &[]);
    let addr = server.admin_addr.clone().unwrap();
    assert_eq!(raw_http::get(&addr, "/healthz").status, 200);
    // The folder of MD5 pointers becomes a file: every MD5 lookup fails (ENOTDIR).
    let pointers = dir.path().join("avatars-data/hashes/md5");
    std::fs::rename(&pointers, dir.path().join("md5-aside")).unwrap();
    std::fs::write(&pointers, "not a folder").unwrap();
    let sick = raw_http::get(&addr, "/healthz");
    assert_eq!(sick.status, 503);
    assert_eq!(sick.header("retry-after"), Some("5"));
    assert!(
        error_of(&sick).contains("the store fails"),
        "{}",
        error_of(&sick)
    );
    for n in 1..=20 {
        assert_eq!(
            server.get(&format!("/avatar/{n:032x}?d=404")).status,
            404,
            "a failing store is answered as a miss"
        );
    }
    let metrics = String::from_utf8(raw_http::get(&addr, "/metrics").body).unwrap();
    assert_eq!(count(&metrics, "avatars_store_errors_total", &[]), 20);
    std::fs::remove_file(&pointers).unwrap();
    std::fs::rename(dir.path().join("md5-aside"), &pointers).unwrap();
    assert_eq!(raw_http::get(&addr, "/healthz").status, 200);
    let log = server.stop_gracefully();
    let warnings = log
        .lines()
        .filter(|line| line.contains("cannot read the stored avatar"))
        .count();
    assert_eq!(
        warnings, 1,
        "the first failed read only, within 10 s:\n{log}"
    );
}
