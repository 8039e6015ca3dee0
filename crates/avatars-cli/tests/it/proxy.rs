//! `avatars proxy-key`, `avatars proxy-url` and `avatars serve --proxy-key-file`, end to end:
//! one `avatars serve` holds alice@a.test's picture, the fake DNS points `_avatars._tcp.a.test`
//! at it, and a second `avatars serve` proxies it (and counts it in its metrics), answering
//! the one it stores itself from its own store. The same over IPv6 loopback, with the central
//! server an IPv6 literal.

use avatar_discovery::fake_dns::FakeDns;
use test_support::images;
use test_support::raw_http::RawResponse;
use test_support::server::Server;

use crate::{AVATARS, avatars, stdout};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_second_server_proxies_the_first_ones_avatar_by_srv() {
    let (_upstream_dir, upstream) = alice_s_server(&[], false);
    let port = upstream.addr.rsplit(':').next().unwrap().to_owned();
    let zone = format!(
        "$ORIGIN a.test.\n@ 3600 IN SOA ns.a.test. admin.a.test. 1 7200 900 1209600 300\n\
         _avatars._tcp 300 IN SRV 0 0 {port} localhost.\n"
    );
    let dns = FakeDns::start(&[&zone]).await.unwrap();

    let dir = tempfile::tempdir().unwrap();
    let key = new_key(dir.path());
    // Bob is stored on the proxying server itself.
    images::solid(90, 90, [30, 30, 200])
        .save(dir.path().join("bob.png"))
        .unwrap();
    let key_text = key.to_str().unwrap();
    let nameserver = dns.addr().to_string();
    let mut proxy = Server::start(
        AVATARS,
        dir.path(),
        &[
            "--proxy-key-file",
            key_text,
            "--nameserver",
            &nameserver,
            "--proxy-allow-net",
            "127.0.0.1/32",
            // Loopback only: the central server is a closed port here.
            "--proxy-central",
            "http://127.0.0.1:1/avatar/",
            "--admin-addr",
            "127.0.0.1:0",
            "--email",
            "bob@a.test=bob.png",
        ],
        true,
    );
    let printed = avatars(&[
        "proxy-url",
        "--key-file",
        key_text,
        "--base",
        &format!("http://{}", proxy.addr),
        "--size",
        "64",
        "--default",
        "404",
        "alice@a.test",
    ]);
    assert!(
        printed.status.success(),
        "{}",
        String::from_utf8_lossy(&printed.stderr)
    );
    let url = stdout(&printed);
    let url = url.trim();
    assert!(
        !url.contains("alice") && url.ends_with("?s=64&d=404"),
        "{url}"
    );
    let answer = proxy.get(&path_of(&printed));
    assert_eq!(answer.status, 200);
    assert_eq!(test_support::suite::dimensions(&answer.body), (64, 64));
    let centre = centre_of(&answer.body);
    assert!(centre[0] > 180 && centre[1] < 60, "alice's red: {centre:?}");
    // A link for someone with no avatar anywhere gets the asked 404.
    // `--proxy-key-file`, as `serve` names it, is the same flag.
    let nobody = [
        "--proxy-key-file",
        key_text,
        "--default",
        "404",
        "nobody@a.test",
    ];
    let nobody = avatars(&[&["proxy-url"][..], &nobody].concat());
    assert_eq!(proxy.get(&path_of(&nobody)).status, 404);
    // Bob's link is answered from this server's own store: his blue, and no fetch.
    let bob = avatars(&["proxy-url", "--key-file", key_text, "bob@a.test"]);
    let answer = proxy.get(&path_of(&bob));
    assert_eq!(answer.status, 200);
    let centre = centre_of(&answer.body);
    assert!(centre[2] > 180 && centre[0] < 60, "bob's blue: {centre:?}");

    fetches_counted(&proxy);
    start_offered_bob_s_link(&mut proxy, key_text);
}

/// IPv6 end to end, as a dual-stack or IPv6-only host runs it: a server listening on `[::1]`
/// only says so with brackets and answers there, naming its IPv6 clients in its access log; a
/// proxy whose central server is that IPv6 literal, allowed by `--proxy-allow-net ::1/128`,
/// fetches from it, and refuses it when only IPv4 loopback is allowed.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_ipv6_server_answers_and_is_proxied_over_ipv6() {
    let (_upstream_dir, mut upstream) = alice_s_server(&["--addr", "[::1]:0"], true);
    assert!(upstream.addr.starts_with("[::1]:"), "{}", upstream.addr);
    let md5 = avatars(&["hash", "alice@a.test"]);
    let md5 = stdout(&md5);
    let md5 = md5.split_whitespace().nth(1).unwrap();
    assert_eq!(upstream.get(&format!("/avatar/{md5}?s=48")).status, 200);

    // a.test publishes no SRV record: the proxy asks its central server, the IPv6 literal.
    let dns = FakeDns::start(&[
        "$ORIGIN a.test.\n@ 3600 IN SOA ns.a.test. admin.a.test. 1 7200 900 1209600 300\n",
    ])
    .await
    .unwrap();
    let nameserver = dns.addr().to_string();
    let central = format!("http://{}/avatar/", upstream.addr);
    let proxied = |allowed: &str| {
        alice_through_a_proxy(
            &nameserver,
            &["--proxy-allow-net", allowed, "--proxy-central", &central],
        )
    };
    let answer = proxied("::1/128");
    assert_eq!(answer.status, 200);
    let centre = centre_of(&answer.body);
    assert!(centre[0] > 180 && centre[1] < 60, "alice's red: {centre:?}");
    // Only IPv4 loopback allowed: ::1 is as internal as any address not allowed.
    let refused = proxied("127.0.0.1/32");
    assert_eq!(refused.status, 404, "::1 is not in 127.0.0.1/32: d=404");

    let log = upstream.stop_gracefully();
    assert!(
        log.lines().any(
            |line| line.contains(&format!("/avatar/{md5}?s=48 200")) && line.contains("[::1]:")
        ),
        "the access log names the IPv6 client:\n{log}"
    );
    let fetched = log
        .lines()
        .filter(|line| line.contains("GET /avatar/") && !line.contains("?s=48"))
        .count();
    assert_eq!(fetched, 1, "the refused proxy never connected:\n{log}");
}

/// An SRV target with only an IPv6 address, which the proxy's own nameserver publishes beside
/// the record (the system's resolver has never heard of the name): the proxy asks that
/// nameserver for the target's address too, and fetches over IPv6.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_srv_target_with_only_an_ipv6_address_is_found_through_the_proxy_s_nameserver() {
    let (_upstream_dir, upstream) = alice_s_server(&["--addr", "[::1]:0"], false);
    let port = upstream.addr.rsplit(':').next().unwrap();
    let dns = FakeDns::start(&[&format!(
        "$ORIGIN a.test.\n@ 3600 IN SOA ns.a.test. admin.a.test. 1 7200 900 1209600 300\n\
         _avatars._tcp 300 IN SRV 0 0 {port} avatars.a.test.\n\
         avatars 300 IN AAAA ::1\n"
    )])
    .await
    .unwrap();
    let answer = alice_through_a_proxy(
        &dns.addr().to_string(),
        &[
            "--proxy-allow-net",
            "::1/128",
            "--proxy-central",
            "http://127.0.0.1:1/avatar/",
        ],
    );
    assert_eq!(answer.status, 200, "alice's picture, not d=404");
    let centre = centre_of(&answer.body);
    assert!(centre[0] > 180 && centre[1] < 60, "alice's red: {centre:?}");
    assert!(
        dns.queries_for("avatars.a.test") >= 1,
        "the target's address came from the proxy's nameserver"
    );
}

/// alice@a.test's picture at 64 px (`d=404`) through a proxy started with `args`, whose
/// nameserver is `nameserver`.
fn alice_through_a_proxy(nameserver: &str, args: &[&str]) -> RawResponse {
    let dir = tempfile::tempdir().unwrap();
    let key = new_key(dir.path());
    let key = key.to_str().unwrap();
    let args = [
        &["--proxy-key-file", key, "--nameserver", nameserver][..],
        args,
    ]
    .concat();
    let proxy = Server::start(AVATARS, dir.path(), &args, false);
    let link = avatars(&[
        "proxy-url",
        "--key-file",
        key,
        "--size",
        "64",
        "--default",
        "404",
        "alice@a.test",
    ]);
    proxy.get(&path_of(&link))
}

/// The admin listener's metrics count the proxy's two fetches from a.test's server: alice's
/// picture, and nobody's 404, which is an answer, not a failure (none for bob); and two
/// proxied pictures answered.
fn fetches_counted(proxy: &Server) {
    let metrics = test_support::raw_http::get(proxy.admin_addr.as_deref().unwrap(), "/metrics");
    let metrics = String::from_utf8(metrics.body).unwrap();
    assert!(
        metrics.contains("\navatars_proxy_fetches_total 2\n"),
        "{metrics}"
    );
    for reason in avatar_proxy::fetch::FetchFailure::REASONS {
        assert!(
            metrics.contains(&format!(
                "\navatars_proxy_fetch_failures_total{{reason=\"{reason}\"}} 0\n"
            )),
            "{metrics}"
        );
    }
    assert!(
        metrics.contains(
            "avatars_http_requests_total{listener=\"http\",route=\"proxy\",status=\"200\"} 2"
        ),
        "{metrics}"
    );
}

/// The start of `proxy` said where to try the proxy: Bob's link at 128 px, the one
/// `proxy-url` prints with the key in `key_file`.
fn start_offered_bob_s_link(proxy: &mut Server, key_file: &str) {
    let bob_128 = avatars(&[
        "proxy-url",
        "--key-file",
        key_file,
        "--base",
        &format!("http://{}", proxy.addr),
        "--size",
        "128",
        "bob@a.test",
    ]);
    let log = proxy.stop_gracefully();
    let said = format!("; try {} (bob@a.test's link;", stdout(&bob_128).trim());
    assert!(log.contains(&said), "{said} in:\n{log}");
}

/// An `avatars serve` (started with `args` and `log` as [`Server::start`] takes them) storing
/// alice@a.test's picture, a red square, in a directory kept as long as the one returned.
fn alice_s_server(args: &[&str], log: bool) -> (tempfile::TempDir, Server) {
    let dir = tempfile::tempdir().unwrap();
    images::solid(90, 90, [200, 30, 30])
        .save(dir.path().join("alice.png"))
        .unwrap();
    let args = [args, &["--email", "alice@a.test=alice.png"]].concat();
    let server = Server::start(AVATARS, dir.path(), &args, log);
    (dir, server)
}

/// The `/proxy/...` path of the URL `avatars proxy-url` printed.
fn path_of(printed: &std::process::Output) -> String {
    let url = stdout(printed);
    let start = url
        .find("/proxy/")
        .unwrap_or_else(|| panic!("no proxy URL: {url}"));
    url[start..].trim().to_owned()
}

/// The colour at the centre of an image answer.
fn centre_of(body: &[u8]) -> [u8; 3] {
    let image = image::load_from_memory(body).unwrap().to_rgb8();
    image.get_pixel(image.width() / 2, image.height() / 2).0
}

/// `avatars proxy-key DIR/proxy.key`: the key is its owner's alone, and never overwritten
/// (`--out FILE` names it too).
fn new_key(dir: &std::path::Path) -> std::path::PathBuf {
    let key = dir.join("proxy.key");
    let key_text = key.to_str().unwrap();
    let written = avatars(&["proxy-key", key_text]);
    assert!(
        written.status.success(),
        "{}",
        String::from_utf8_lossy(&written.stderr)
    );
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt as _;
        let mode = std::fs::metadata(&key).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600, "the key is its owner's alone");
    }
    let again = avatars(&["proxy-key", "--out", key_text]);
    assert_eq!(again.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&again.stderr).contains("not overwriting"));

    key
}

/// A key rotation without a restart: a new key written first in the key file mints after a
/// SIGHUP while the old one, kept after it, still opens; once the old one is left out its links
/// are 404; a file that cannot be used is reported and the keys in use kept.
#[test]
fn a_sighup_reads_the_proxy_keys_again() {
    let dir = tempfile::tempdir().unwrap();
    let served = new_key(dir.path());
    let old = key_line(&served);
    let fresh = dir.path().join("fresh");
    std::fs::create_dir(&fresh).unwrap();
    let new = key_line(&new_key(&fresh));
    images::solid(90, 90, [30, 30, 200])
        .save(dir.path().join("bob.png"))
        .unwrap();
    let key_text = served.to_str().unwrap();
    let mut server = Server::start(
        AVATARS,
        dir.path(),
        &[
            "--proxy-key-file",
            key_text,
            "--proxy-central",
            "http://127.0.0.1:1/avatar/",
            "--email",
            "bob@a.test=bob.png",
        ],
        true,
    );
    let link = || {
        path_of(&avatars(&[
            "proxy-url",
            "--key-file",
            key_text,
            "bob@a.test",
        ]))
    };
    let hangup = |server: &Server| {
        server.signal("HUP");
        std::thread::sleep(std::time::Duration::from_millis(300));
    };
    let by_old = link();
    assert_eq!(server.get(&by_old).status, 200);

    std::fs::write(&served, format!("{new}\n{old}\n")).unwrap();
    let by_new = link();
    assert_ne!(by_new, by_old);
    assert_eq!(server.get(&by_new).status, 404, "not before the SIGHUP");
    hangup(&server);
    assert_eq!(server.get(&by_new).status, 200, "the new key");
    assert_eq!(
        server.get(&by_old).status,
        200,
        "the old key, kept after it"
    );

    std::fs::write(&served, format!("{new}\n")).unwrap();
    hangup(&server);
    assert_eq!(server.get(&by_old).status, 404, "the old key, retired");
    assert_eq!(server.get(&by_new).status, 200);

    std::fs::write(&served, "not a key\n").unwrap();
    hangup(&server);
    assert_eq!(server.get(&by_new).status, 200, "the keys in use are kept");
    let log = server.stop_gracefully();
    assert_eq!(
        log.matches("reloaded the proxy keys from").count(),
        2,
        "{log}"
    );
    assert!(
        log.contains("avatars: kept the proxy keys in use: "),
        "{log}"
    );
}

/// The key line of a key file `avatars proxy-key` wrote.
fn key_line(file: &std::path::Path) -> String {
    std::fs::read_to_string(file)
        .unwrap()
        .lines()
        .find(|line| !line.starts_with('#') && !line.trim().is_empty())
        .unwrap()
        .to_owned()
}
