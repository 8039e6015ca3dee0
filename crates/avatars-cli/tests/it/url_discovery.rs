//! `avatars url` with DNS discovery against a real DNS server on 127.0.0.1.

use avatar_discovery::fake_dns::{BlackHole, FakeDns};

use crate::{avatars, stdout};

const ZONE: &str = "$ORIGIN example.org.
@ 3600 IN SOA ns.example.org. admin.example.org. 1 7200 900 1209600 300
_avatars._tcp 300 IN SRV 0 0 8080 avatars.example.org.
_avatars-sec._tcp 300 IN SRV 0 0 443 secure.example.org.
";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn discovers_federated_servers_per_scheme() {
    let dns = FakeDns::start(&[ZONE]).await.unwrap();
    let nameserver = dns.addr().to_string();
    let http = avatars(&["url", "--nameserver", &nameserver, "George@Example.org"]);
    assert!(
        http.status.success(),
        "{}",
        String::from_utf8_lossy(&http.stderr)
    );
    let md5 = avatar_proto::Identity::parse("george@example.org")
        .unwrap()
        .hash(avatar_proto::HashAlgorithm::Md5);
    assert_eq!(
        stdout(&http),
        format!("http://avatars.example.org:8080/avatar/{md5}\n")
    );
    let https = avatars(&[
        "url",
        "--https",
        "--sha256",
        "--size",
        "64",
        "-v",
        "--nameserver",
        &nameserver,
        "george@example.org",
    ]);
    assert!(
        stdout(&https).starts_with("https://secure.example.org/avatar/"),
        "{}",
        stdout(&https)
    );
    assert!(stdout(&https).ends_with("?s=64\n"));
    assert_eq!(
        String::from_utf8_lossy(&https.stderr),
        "avatars: federated: secure.example.org:443\n"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn falls_back_to_the_central_server_and_says_why() {
    let dns = FakeDns::start(&[ZONE]).await.unwrap();
    let nameserver = dns.addr().to_string();
    let missing = avatars(&[
        "url",
        "-v",
        "--nameserver",
        &nameserver,
        "someone@nowhere.example.org",
    ]);
    assert!(stdout(&missing).starts_with("http://cdn.libravatar.org/avatar/"));
    assert_eq!(
        String::from_utf8_lossy(&missing.stderr),
        "avatars: central server: no SRV records\n"
    );
    // Not one of the server's zones: REFUSED, told apart from a nameserver that is silent.
    let refused = avatars(&["url", "-v", "--nameserver", &nameserver, "a@example.net"]);
    assert!(stdout(&refused).starts_with("http://cdn.libravatar.org/avatar/"));
    assert_eq!(
        String::from_utf8_lossy(&refused.stderr),
        "avatars: central server: DNS lookup failed (the nameserver refused or failed the \
         query, or could not be reached)\n"
    );

    let hole = BlackHole::start().await.unwrap();
    let silent = avatars(&[
        "url",
        "--https",
        "-v",
        "--timeout-ms",
        "300",
        "--nameserver",
        &hole.addr().to_string(),
        "a@example.org",
    ]);
    assert!(silent.status.success());
    assert!(stdout(&silent).starts_with("https://seccdn.libravatar.org/avatar/"));
    assert_eq!(
        String::from_utf8_lossy(&silent.stderr),
        "avatars: central server: no DNS answer within the lookup's timeout (--timeout-ms 300)\n"
    );
}

#[test]
fn no_discovery_keeps_the_central_server() {
    let output = avatars(&["url", "--no-discovery", "george@example.org"]);
    assert!(stdout(&output).starts_with("http://cdn.libravatar.org/avatar/"));
}

/// Every `$ avatars url ...` example in the README prints what the README shows, run against
/// this file's zone (the README's `192.0.2.53` is this test's DNS server).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_readme_url_examples_are_real_output() {
    let dns = FakeDns::start(&[ZONE]).await.unwrap();
    let nameserver = dns.addr().to_string();
    let mut checked = 0;
    for example in crate::readme::transcripts().into_iter().flatten() {
        if example.words.get(..2) != Some(&["avatars".to_owned(), "url".to_owned()]) {
            continue;
        }
        let args: Vec<String> = example.words[1..]
            .iter()
            .map(|word| word.replace("192.0.2.53", &nameserver))
            .collect();
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        let output = avatars(&args);
        assert!(output.status.success(), "{}", example.line);
        let printed = format!(
            "{}{}",
            String::from_utf8_lossy(&output.stderr),
            stdout(&output)
        );
        assert_eq!(
            printed.lines().collect::<Vec<_>>(),
            example.printed,
            "{}",
            example.line
        );
        checked += 1;
    }
    assert!(checked >= 4, "the README's url examples were not found");
}

/// Several identities: one URL each, in order, and one DNS query for a domain asked twice.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn several_identities_get_a_url_each_and_share_the_dns_answer() {
    let dns = FakeDns::start(&[ZONE]).await.unwrap();
    let nameserver = dns.addr().to_string();
    let output = avatars(&[
        "url",
        "--nameserver",
        &nameserver,
        "alice@example.org",
        "bob@example.org",
        "carol@nowhere.example.net",
    ]);
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let printed = stdout(&output);
    let lines: Vec<&str> = printed.lines().collect();
    assert_eq!(lines.len(), 3, "{printed}");
    assert!(
        lines[0].starts_with("http://avatars.example.org:8080/avatar/fbf7c6ae"),
        "{printed}"
    );
    assert!(
        lines[1].starts_with("http://avatars.example.org:8080/avatar/"),
        "{printed}"
    );
    assert!(
        lines[2].starts_with("http://cdn.libravatar.org/avatar/"),
        "{printed}"
    );
    assert_eq!(
        dns.queries_for("_avatars._tcp.example.org"),
        1,
        "the second lookup was cached"
    );
}
