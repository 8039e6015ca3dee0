//! `avatars serve`'s defences, its event loops and its shutdown, over real TCP: a slowloris
//! attack (100 connections sending one header byte a second) while normal requests keep their
//! usual time, the connection limit, the per-address rate limit, the loops asked for, and a
//! graceful shutdown that finishes what is in flight within its bound.

use std::io::{Read as _, Write as _};
use std::net::TcpStream;
use std::time::{Duration, Instant};

use test_support::images;
use test_support::server::Server;

use crate::{AVATARS, avatars_in, folder_with_george, stderr};

const GEORGE_MD5: &str = "40f8d096a3777232204cb3f796c577b7";

fn start(dir: &std::path::Path, extra: &[&str]) -> Server {
    let mut args = vec!["--email", "george@example.com=george.png"];
    args.extend_from_slice(extra);
    Server::start(AVATARS, dir, &args, true)
}

/// How long each of `count` sequential hits takes, sorted.
fn timings(server: &Server, count: usize) -> Vec<Duration> {
    let mut took: Vec<_> = (0..count)
        .map(|_| {
            let started = Instant::now();
            assert_eq!(
                server.get(&format!("/avatar/{GEORGE_MD5}?s=40")).status,
                200
            );
            started.elapsed()
        })
        .collect();
    took.sort();
    took
}

#[test]
fn slow_clients_are_closed_while_others_keep_their_usual_time() {
    let dir = folder_with_george();
    let server = start(dir.path(), &["--header-timeout-secs", "3"]);
    // Warm the rendition, then measure the usual time.
    timings(&server, 5);
    let usual = timings(&server, 40);
    let usual_p50 = usual[usual.len() / 2];

    // 100 connections each sending one byte of a request's headers a second.
    let header = format!("GET /avatar/{GEORGE_MD5} HTTP/1.1\r\nHost: x\r\nX-Slow: ");
    let addr = server.addr.clone();
    let attackers: Vec<_> = (0..100)
        .map(|_| {
            let (addr, header) = (addr.clone(), header.clone());
            std::thread::spawn(move || {
                let started = Instant::now();
                let mut stream = TcpStream::connect(&addr).unwrap();
                stream
                    .set_read_timeout(Some(Duration::from_millis(50)))
                    .unwrap();
                for byte in header.bytes().cycle() {
                    if stream.write_all(&[byte]).is_err() {
                        return started.elapsed();
                    }
                    // Closed by the server: read gives 0 (or an error once reset).
                    let mut sink = [0u8; 256];
                    match stream.read(&mut sink) {
                        Ok(0) => return started.elapsed(),
                        Ok(_) => {}
                        Err(err)
                            if err.kind() == std::io::ErrorKind::WouldBlock
                                || err.kind() == std::io::ErrorKind::TimedOut => {}
                        Err(_) => return started.elapsed(),
                    }
                    std::thread::sleep(Duration::from_millis(950));
                    if started.elapsed() > Duration::from_secs(20) {
                        break;
                    }
                }
                started.elapsed()
            })
        })
        .collect();
    std::thread::sleep(Duration::from_millis(1500));
    let attacked = timings(&server, 40);
    let attacked_p50 = attacked[attacked.len() / 2];
    // Every slow connection was closed by the header timeout (3 s), not left open.
    for attacker in attackers {
        let held = attacker.join().unwrap();
        assert!(
            held >= Duration::from_secs(2) && held < Duration::from_secs(8),
            "a slow connection was held {held:?} (header timeout 3 s)"
        );
    }
    // The usual time, within what a shared 2-core machine adds: the median at most 5x
    // (and 20 ms) over the unattacked median, and no request near a timeout.
    assert!(
        attacked_p50 <= usual_p50 * 5 + Duration::from_millis(20),
        "median {attacked_p50:?} under attack, {usual_p50:?} before"
    );
    assert!(
        attacked[attacked.len() - 1] < Duration::from_secs(1),
        "slowest {:?} under attack",
        attacked[attacked.len() - 1]
    );
}

/// An HTTP/2 connection (prior knowledge) that says nothing after its preface is closed by
/// the idle timeout: hyper's header timeout covers HTTP/1.1 only.
#[test]
fn idle_http2_connections_give_their_slot_back() {
    let dir = folder_with_george();
    let server = start(dir.path(), &["--idle-timeout-secs", "2"]);
    let mut h2 = TcpStream::connect(&server.addr).unwrap();
    // The client preface and an empty SETTINGS frame, then silence.
    h2.write_all(b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n\x00\x00\x00\x04\x00\x00\x00\x00\x00")
        .unwrap();
    h2.set_read_timeout(Some(Duration::from_secs(15))).unwrap();
    let started = Instant::now();
    let mut sink = [0u8; 1024];
    let mut answered = 0;
    loop {
        match h2.read(&mut sink) {
            Ok(0) | Err(_) => break,
            Ok(read) => answered += read,
        }
    }
    let held = started.elapsed();
    assert!(answered > 0, "the server spoke HTTP/2 (its SETTINGS)");
    assert!(
        held >= Duration::from_millis(1500) && held < Duration::from_secs(8),
        "an idle HTTP/2 connection was held {held:?} (idle timeout 2 s)"
    );
    assert_eq!(
        server.get(&format!("/avatar/{GEORGE_MD5}?s=40")).status,
        200
    );
}

#[test]
fn connections_past_the_limit_wait_until_one_closes() {
    let dir = folder_with_george();
    // The limit is the listener's, however many event loops accept on it.
    let server = start(
        dir.path(),
        &["--max-connections", "2", "--event-loops", "3"],
    );
    // Two idle connections take both slots.
    let held: Vec<_> = (0..2)
        .map(|_| {
            let mut stream = TcpStream::connect(&server.addr).unwrap();
            stream.write_all(b"GET /").unwrap();
            stream
        })
        .collect();
    std::thread::sleep(Duration::from_millis(200));
    let mut third = TcpStream::connect(&server.addr).unwrap();
    third
        .write_all(
            format!("GET /avatar/{GEORGE_MD5} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
                .as_bytes(),
        )
        .unwrap();
    third
        .set_read_timeout(Some(Duration::from_millis(700)))
        .unwrap();
    let mut first = [0u8; 12];
    assert!(
        third.read(&mut first).is_err(),
        "a third connection is not served while two are open"
    );
    drop(held);
    third
        .set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    let mut answer = Vec::new();
    third.read_to_end(&mut answer).unwrap();
    assert!(
        answer.starts_with(b"HTTP/1.1 200"),
        "{:?}",
        String::from_utf8_lossy(&answer[..20.min(answer.len())])
    );
}

#[test]
fn the_rate_limit_answers_429_with_retry_after_per_address() {
    let dir = folder_with_george();
    let server = start(dir.path(), &["--rate-limit", "2", "--rate-burst", "4"]);
    let statuses: Vec<_> = (0..6)
        .map(|_| server.get(&format!("/avatar/{GEORGE_MD5}")))
        .collect();
    assert_eq!(
        statuses
            .iter()
            .map(|response| response.status)
            .collect::<Vec<_>>(),
        [200, 200, 200, 200, 429, 429],
        "a burst of 4, then refused"
    );
    let refused = &statuses[4];
    let retry_after: u64 = refused.header("retry-after").unwrap().parse().unwrap();
    assert!((1..=2).contains(&retry_after), "Retry-After {retry_after}");
    let text = String::from_utf8_lossy(&refused.body);
    assert!(text.contains("at most 2 a second, 4 at once"), "{text}");
    // After the wait it says, the client is served again.
    std::thread::sleep(Duration::from_secs(retry_after));
    assert_eq!(server.get(&format!("/avatar/{GEORGE_MD5}")).status, 200);
    // Without --rate-limit there is no limit.
    let unlimited = start(dir.path(), &[]);
    for _ in 0..20 {
        assert_eq!(unlimited.get(&format!("/avatar/{GEORGE_MD5}")).status, 200);
    }
}

/// Behind a reverse proxy given with --trusted-proxy, each forwarded client has its own
/// bucket and its own address in the access log; a client that writes the header itself, from
/// an address not trusted, is counted as what it is.
#[test]
fn behind_a_trusted_proxy_the_rate_limit_counts_each_forwarded_client() {
    let dir = folder_with_george();
    let mut server = start(dir.path(), &LIMITED_BEHIND_LOOPBACK);
    let statuses: Vec<u16> = ["203.0.113.7", "203.0.113.7", "203.0.113.7", "203.0.113.8"]
        .iter()
        .map(|client| forwarded_for(&server, client))
        .collect();
    assert_eq!(
        statuses,
        [200, 200, 429, 200],
        "a bucket per forwarded client"
    );
    let log = server.stop_gracefully();
    assert!(log.contains(" 203.0.113.8 via 127.0.0.1:"), "{log}");

    // Not trusted: the header is the client's own, and all of its requests are one bucket.
    let untrusted = start(dir.path(), &LIMITED_BEHIND_LOOPBACK[..4]);
    let statuses: Vec<u16> = ["203.0.113.1", "203.0.113.2", "203.0.113.3"]
        .iter()
        .map(|client| forwarded_for(&untrusted, client))
        .collect();
    assert_eq!(statuses, [200, 200, 429]);
}

/// On a listener of `[::]`, which takes IPv4 connections too, a proxy on 127.0.0.1 arrives
/// as `::ffff:127.0.0.1`: `--trusted-proxy 127.0.0.1` still trusts it, so its clients are not
/// one bucket, and the log writes the addresses as they are.
#[test]
fn a_trusted_proxy_on_ipv4_is_trusted_on_a_listener_of_every_address() {
    let dir = folder_with_george();
    let mut server = start(
        dir.path(),
        &[
            "--addr",
            "[::]:0",
            "--rate-limit",
            "1",
            "--rate-burst",
            "1",
            "--trusted-proxy",
            "127.0.0.1",
        ],
    );
    let port = server.addr.rsplit(':').next().unwrap().to_owned();
    let ipv4 = format!("127.0.0.1:{port}");
    let statuses: Vec<u16> = ["203.0.113.7", "203.0.113.8", "203.0.113.7"]
        .iter()
        .map(|client| status_with(&ipv4, &format!("X-Forwarded-For: {client}\r\n")))
        .collect();
    assert_eq!(statuses, [200, 200, 429], "a bucket per forwarded client");
    let log = server.stop_gracefully();
    assert!(log.contains(" 203.0.113.8 via 127.0.0.1:"), "{log}");
    assert!(!log.contains("::ffff:"), "{log}");
}

/// Behind a proxy that writes RFC 7239's `Forwarded` (`--forwarded-header forwarded`), each
/// client it names is counted apart, and an `X-Forwarded-For` the client wrote itself, which
/// such a proxy passes on, counts for nothing.
#[test]
fn behind_a_proxy_writing_forwarded_each_client_named_there_has_its_own_bucket() {
    let dir = folder_with_george();
    let mut server = start(
        dir.path(),
        &[
            &LIMITED_BEHIND_LOOPBACK[..],
            &["--forwarded-header", "forwarded", "--log-format", "json"],
        ]
        .concat(),
    );
    let statuses: Vec<u16> = [
        "Forwarded: for=203.0.113.7;proto=https\r\n",
        "Forwarded: for=\"[2001:db8::7]:4711\"\r\n",
        "X-Forwarded-For: 198.51.100.1\r\nForwarded: for=203.0.113.7\r\n",
        "Forwarded: for=203.0.113.7\r\n",
        "Forwarded: for=\"[2001:db8::7]\"\r\n",
        "Forwarded: for=\"[2001:db8::8]\"\r\n",
    ]
    .iter()
    .map(|headers| status_with(&server.addr, headers))
    .collect();
    assert_eq!(
        statuses,
        [200, 200, 200, 429, 200, 429],
        "a bucket per client named in Forwarded (an IPv6 one's /64)"
    );
    let log = server.stop_gracefully();
    assert!(!log.contains("198.51.100.1"), "{log}");
    // The JSON log names the client apart from the connection's peer.
    let entries: Vec<serde_json::Value> = log
        .lines()
        .filter_map(|line| serde_json::from_str(line).ok())
        .collect();
    assert!(
        entries.iter().any(|entry| entry["client"] == "2001:db8::7"
            && entry["peer"]
                .as_str()
                .is_some_and(|peer| peer.starts_with("127.0.0.1:"))),
        "{log}"
    );
}

/// The same behind a real nginx, configured as its documentation's reverse proxy example
/// (`$proxy_add_x_forwarded_for`): clients that reach nginx from different addresses (here:
/// that say so to it, as a proxy before it would) are counted apart, and what a client writes
/// in the header itself before nginx's own entry counts for nothing.
#[test]
fn behind_nginx_each_client_has_its_own_bucket() {
    if !test_support::nginx::ReverseProxy::installed() {
        eprintln!(
            "\n*** SKIPPED behind_nginx_each_client_has_its_own_bucket: nginx is not installed (scripts/ensure-bench-tools.sh) ***\n"
        );
        return;
    }
    let dir = folder_with_george();
    let mut server = start(dir.path(), &LIMITED_BEHIND_LOOPBACK);
    let nginx = test_support::nginx::ReverseProxy::start(&server.addr).unwrap();
    // Each request reaches nginx from 127.0.0.1 with the address of a proxy before it, which
    // is trusted too in this chain: `X-Forwarded-For: CLIENT` then nginx's 127.0.0.1.
    let through_nginx =
        |client: &str| status_with(nginx.addr(), &format!("X-Forwarded-For: {client}\r\n"));
    let statuses: Vec<u16> = [
        "203.0.113.7",
        "198.51.100.1, 203.0.113.7",
        "203.0.113.7",
        "203.0.113.8",
    ]
    .iter()
    .map(|client| through_nginx(client))
    .collect();
    assert_eq!(
        statuses,
        [200, 200, 429, 200],
        "nginx's error log: {}",
        nginx.error_log()
    );
    drop(nginx);
    let log = server.stop_gracefully();
    assert!(log.contains(" 203.0.113.8 via 127.0.0.1:"), "{log}");
}

/// The status of George's avatar asked for with `X-Forwarded-For: client`.
fn forwarded_for(server: &Server, client: &str) -> u16 {
    status_with(&server.addr, &format!("X-Forwarded-For: {client}\r\n"))
}

/// The status of George's avatar asked of `addr` with `headers` (whole lines, each ending in
/// CRLF).
fn status_with(addr: &str, headers: &str) -> u16 {
    let request = format!(
        "GET /avatar/{GEORGE_MD5} HTTP/1.1\r\nHost: avatars.example.org\r\n{headers}Connection: close\r\n\r\n"
    );
    test_support::raw_http::request(addr, request.as_bytes()).status
}

/// A rate of one a second, in bursts of two, for each client 127.0.0.1 forwards.
const LIMITED_BEHIND_LOOPBACK: [&str; 6] = [
    "--rate-limit",
    "1",
    "--rate-burst",
    "2",
    "--trusted-proxy",
    "127.0.0.1",
];

/// A PUT on the admin listener whose body is sent in two halves, with SIGTERM between them.
#[test]
fn shutdown_finishes_requests_in_flight_and_stops_within_its_bound() {
    let dir = folder_with_george();
    std::fs::write(dir.path().join("tokens"), "0123456789abcdef-token\n").unwrap();
    let png = images::png(&images::bands(64, 64));
    let request = |server: &Server| {
        let addr = server.admin_addr.clone().unwrap();
        let mut stream = TcpStream::connect(&addr).unwrap();
        write!(
            stream,
            "PUT /v1/avatars/ann@example.org HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer 0123456789abcdef-token\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
            png.len()
        )
        .unwrap();
        stream.write_all(&png[..png.len() / 2]).unwrap();
        stream
    };

    let mut server = start(
        dir.path(),
        &[
            "--admin-addr",
            "127.0.0.1:0",
            "--admin-token-file",
            "tokens",
            "--shutdown-timeout-secs",
            "5",
        ],
    );
    let mut stream = request(&server);
    std::thread::sleep(Duration::from_millis(300));
    let kill = std::process::Command::new("kill")
        .args(["-TERM", &server.child().id().to_string()])
        .status()
        .unwrap();
    assert!(kill.success());
    std::thread::sleep(Duration::from_millis(300));
    // No new connections once shutting down.
    assert!(
        TcpStream::connect(&server.addr).is_err(),
        "the listener is closed"
    );
    stream.write_all(&png[png.len() / 2..]).unwrap();
    let mut answer = String::new();
    stream.read_to_string(&mut answer).unwrap();
    assert!(answer.starts_with("HTTP/1.1 201"), "{answer}");
    let status = server.child().wait().unwrap();
    assert!(status.success());
    assert!(dir.path().join("avatars-data").exists());

    // A client that never finishes is cut off at the bound.
    let mut server = start(
        dir.path(),
        &[
            "--admin-addr",
            "127.0.0.1:0",
            "--admin-token-file",
            "tokens",
            "--shutdown-timeout-secs",
            "1",
        ],
    );
    let _stuck = request(&server);
    std::thread::sleep(Duration::from_millis(300));
    let started = Instant::now();
    let status = server.stop("TERM");
    assert!(status.success());
    let took = started.elapsed();
    assert!(
        took >= Duration::from_millis(900) && took < Duration::from_secs(4),
        "stopped after {took:?} with --shutdown-timeout-secs 1"
    );
    let log = server.log();
    assert!(
        log.contains("closing the connections still open after 1 s"),
        "{log}"
    );
}

/// `--event-loops N` starts N threads serving the public listener (named `avatars-loop-I`, as
/// `top -H` shows them), and many clients at once are all answered; 0 is refused.
#[test]
fn the_public_listener_is_served_by_the_event_loops_asked_for() {
    let dir = folder_with_george();
    let server = start(dir.path(), &["--event-loops", "3"]);
    if cfg!(target_os = "linux") {
        // The loops start just after the server says it listens.
        let loops = || {
            let tasks = std::fs::read_dir(format!("/proc/{}/task", server.pid())).unwrap();
            let mut loops: Vec<_> = tasks
                .filter_map(|task| std::fs::read_to_string(task.ok()?.path().join("comm")).ok())
                .filter(|name| name.starts_with("avatars-loop-"))
                .map(|name| name.trim().to_owned())
                .collect();
            loops.sort();
            loops
        };
        let started = Instant::now();
        while loops().len() < 3 && started.elapsed() < Duration::from_secs(10) {
            std::thread::sleep(Duration::from_millis(20));
        }
        assert_eq!(
            loops(),
            ["avatars-loop-0", "avatars-loop-1", "avatars-loop-2"]
        );
    }
    std::thread::scope(|scope| {
        for _ in 0..24 {
            scope.spawn(|| {
                for _ in 0..10 {
                    let answer = server.get(&format!("/avatar/{GEORGE_MD5}?s=40"));
                    assert_eq!(answer.status, 200);
                }
            });
        }
    });

    let refused = avatars_in(dir.path(), &["serve", "--event-loops", "0"]);
    assert!(!refused.status.success());
    let err = stderr(&refused);
    assert!(
        err.contains("--event-loops") && err.contains("1..=1024"),
        "{err}"
    );
}

/// `avatars serve` run by a shell whose open-file limits are `ulimit` (soft, then hard).
fn start_limited(dir: &std::path::Path, soft: u32, hard: u32, extra: &[&str]) -> Server {
    use std::os::unix::fs::PermissionsExt as _;
    let shell = dir.join("limited-avatars");
    std::fs::write(
        &shell,
        format!("#!/bin/sh\nulimit -Sn {soft} && ulimit -Hn {hard} && exec '{AVATARS}' \"$@\"\n"),
    )
    .unwrap();
    std::fs::set_permissions(&shell, std::fs::Permissions::from_mode(0o755)).unwrap();
    let mut args = vec!["--email", "george@example.com=george.png"];
    args.extend_from_slice(extra);
    Server::start(shell.to_str().unwrap(), dir, &args, true)
}

/// A shell's soft open-file limit (64 here, 1024 on Debian) below what `--max-connections`
/// allows is raised: 150 connections held open, a new one is still answered at once (without
/// the raise, `accept` fails with EMFILE past 64 and it waits). Below the hard limit nothing
/// can be done but say so, and the server starts. `/metrics` says both, as `process_open_fds`
/// and `process_max_fds`.
#[test]
fn the_open_file_limit_is_raised_to_what_the_connections_need() {
    let dir = folder_with_george();
    let mut server = start_limited(
        dir.path(),
        64,
        4096,
        &["--max-connections", "200", "--admin-addr", "127.0.0.1:0"],
    );
    let limits = std::fs::read_to_string(format!("/proc/{}/limits", server.pid())).unwrap();
    let soft: Vec<&str> = limits
        .lines()
        .find(|line| line.starts_with("Max open files"))
        .unwrap()
        .split_whitespace()
        .collect();
    assert_eq!(
        soft[3..5],
        ["656", "4096"],
        "200 connections on each of two listeners, and 256: {limits}"
    );
    let held: Vec<TcpStream> = (0..150)
        .map(|_| TcpStream::connect(&server.addr).unwrap())
        .collect();
    let mut fresh = TcpStream::connect(&server.addr).unwrap();
    fresh
        .write_all(
            format!(
                "GET /avatar/{GEORGE_MD5}?s=40 HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"
            )
            .as_bytes(),
        )
        .unwrap();
    fresh
        .set_read_timeout(Some(Duration::from_secs(5)))
        .unwrap();
    let mut answer = Vec::new();
    let read = fresh.read_to_end(&mut answer);
    assert!(
        read.is_ok() && answer.starts_with(b"HTTP/1.1 200"),
        "{read:?}: {:?}",
        String::from_utf8_lossy(&answer)
    );
    // What /metrics says of it, as every exporter names it (and the alert reads).
    let admin = server.admin_addr.clone().unwrap();
    let metrics = String::from_utf8(test_support::raw_http::get(&admin, "/metrics").body).unwrap();
    let value = |name: &str| -> f64 {
        metrics
            .lines()
            .find_map(|line| line.strip_prefix(name)?.strip_prefix(' ')?.parse().ok())
            .unwrap_or_else(|| panic!("no {name} in {metrics}"))
    };
    assert!((value("process_max_fds") - 656.0).abs() < 0.5, "{metrics}");
    assert!(value("process_open_fds") >= 150.0, "{metrics}");
    assert!(value("process_resident_memory_bytes") > 0.0, "{metrics}");
    assert!(value("process_cpu_seconds_total") >= 0.0, "{metrics}");
    drop(held);
    server.stop("TERM");
    assert!(!server.log().contains("open-file limit"));

    let mut short = start_limited(dir.path(), 300, 300, &["--admin-addr", "127.0.0.1:0"]);
    short.stop("TERM");
    let log = short.log();
    assert!(
        log.contains(
            "avatars: warning: the open-file limit is 300 and cannot be raised further \
             (`ulimit -Hn`): about 44 connection(s) can be open at once, fewer than the 4096 \
             --max-connections allows on each of the 2 listeners;"
        ),
        "{log}"
    );
}
