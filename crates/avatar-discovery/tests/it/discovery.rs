//! Discovery against a real DNS server (hickory-server on 127.0.0.1), rule by rule.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use avatar_discovery::fake_dns::{BlackHole, FakeDns};
use avatar_discovery::{Discovery, ManualClock};
use avatar_proto::{AvatarUrlBuilder, BaseOrigin, Fallback, Identity, Scheme};

const EXAMPLE_ORG: &str = "
$ORIGIN example.org.
@ 3600 IN SOA ns.example.org. admin.example.org. 1 7200 900 1209600 300
_avatars._tcp 300 IN SRV 0 0 80 avatars.example.org.
_avatars-sec._tcp 300 IN SRV 0 0 443 avatars.example.org.
_avatars._tcp.custom 300 IN SRV 0 0 8080 img.custom.example.org.
_avatars-sec._tcp.custom 300 IN SRV 0 0 8443 img.custom.example.org.
_avatars-sec._tcp.http80 300 IN SRV 0 0 80 img.example.org.
_avatars._tcp.https443 300 IN SRV 0 0 443 img.example.org.
_avatars._tcp.priorities 300 IN SRV 20 65535 80 late.example.org.
_avatars._tcp.priorities 300 IN SRV 10 1 80 early.example.org.
_avatars._tcp.weights 300 IN SRV 0 10 80 a.example.org.
_avatars._tcp.weights 300 IN SRV 0 30 80 b.example.org.
_avatars._tcp.zero 300 IN SRV 0 0 80 z1.example.org.
_avatars._tcp.zero 300 IN SRV 0 0 80 z2.example.org.
_avatars._tcp.junk 300 IN SRV 0 0 80 _evil.example.org.
_avatars._tcp.junkport 300 IN SRV 0 0 0 ok.example.org.
_avatars._tcp.noservice 300 IN SRV 0 0 0 .
_avatars._tcp.shouting 300 IN SRV 0 0 80 Avatars.Example.ORG.
_avatars._tcp.ownsub 300 IN SRV 0 0 80 own.example.org.
deep 300 IN A 192.0.2.1
avatars 300 IN A 192.0.2.80
avatars 300 IN AAAA 2001:db8::80
v6only 300 IN AAAA 2001:db8::6
";

const IDN: &str = "
$ORIGIN xn--bcher-kva.example.
@ 3600 IN SOA ns.xn--bcher-kva.example. admin.xn--bcher-kva.example. 1 7200 900 1209600 300
_avatars._tcp 300 IN SRV 0 0 80 avatars.xn--bcher-kva.example.
";

async fn dns() -> FakeDns {
    FakeDns::start(&[EXAMPLE_ORG, IDN]).await.unwrap()
}

fn discovery(dns: &FakeDns) -> Discovery {
    Discovery::builder()
        .nameserver(dns.addr())
        .timeout(Duration::from_millis(500))
        .build()
        .unwrap()
}

async fn base(discovery: &Discovery, domain: &str, scheme: Scheme) -> String {
    discovery.base_url(domain, scheme).await.as_str().to_owned()
}

#[tokio::test]
async fn a_federated_domain_on_each_scheme_with_default_ports_omitted() {
    let dns = dns().await;
    let discovery = discovery(&dns);
    assert_eq!(
        base(&discovery, "example.org", Scheme::Http).await,
        "http://avatars.example.org/avatar/"
    );
    assert_eq!(
        base(&discovery, "example.org", Scheme::Https).await,
        "https://avatars.example.org/avatar/"
    );
}

#[tokio::test]
async fn custom_ports_are_kept_even_for_a_single_record() {
    let dns = dns().await;
    let discovery = discovery(&dns);
    assert_eq!(
        base(&discovery, "custom.example.org", Scheme::Http).await,
        "http://img.custom.example.org:8080/avatar/"
    );
    assert_eq!(
        base(&discovery, "custom.example.org", Scheme::Https).await,
        "https://img.custom.example.org:8443/avatar/"
    );
    assert_eq!(
        base(&discovery, "http80.example.org", Scheme::Https).await,
        "https://img.example.org:80/avatar/"
    );
    assert_eq!(
        base(&discovery, "https443.example.org", Scheme::Http).await,
        "http://img.example.org:443/avatar/"
    );
}

#[tokio::test]
async fn the_lowest_priority_value_wins() {
    let dns = dns().await;
    let discovery = discovery(&dns);
    for _ in 0..20 {
        assert_eq!(
            base(&discovery, "priorities.example.org", Scheme::Http).await,
            "http://early.example.org/avatar/"
        );
    }
}

#[tokio::test]
async fn weights_follow_the_injected_draw() {
    let dns = dns().await;
    // r takes every value 0..=40 once: a (weight 10) and b (weight 30) get their share, plus the
    // r = 0 draw for whichever record DNS listed first.
    let next = Arc::new(AtomicU64::new(0));
    let counter = Arc::clone(&next);
    let discovery = Discovery::builder()
        .nameserver(dns.addr())
        .random(move |max| {
            assert_eq!(max, 40);
            counter.fetch_add(1, Ordering::SeqCst) % 41
        })
        .build()
        .unwrap();
    let (mut a, mut b) = (0, 0);
    for _ in 0..41 {
        match base(&discovery, "weights.example.org", Scheme::Http)
            .await
            .as_str()
        {
            "http://a.example.org/avatar/" => a += 1,
            "http://b.example.org/avatar/" => b += 1,
            other => panic!("{other}"),
        }
    }
    assert!((a, b) == (11, 30) || (a, b) == (10, 31), "a={a} b={b}");
}

#[tokio::test]
async fn all_zero_weights_work_and_spread() {
    let dns = dns().await;
    let seen: std::collections::HashSet<String> = {
        let discovery = discovery(&dns);
        let mut seen = std::collections::HashSet::new();
        for _ in 0..64 {
            seen.insert(base(&discovery, "zero.example.org", Scheme::Http).await);
        }
        seen
    };
    let expected: std::collections::HashSet<String> = [
        "http://z1.example.org/avatar/",
        "http://z2.example.org/avatar/",
    ]
    .iter()
    .map(|s| (*s).to_owned())
    .collect();
    assert_eq!(seen, expected);
}

#[tokio::test]
async fn junk_targets_bad_ports_and_dot_fall_back_with_their_reason() {
    let dns = dns().await;
    let discovery = discovery(&dns);
    for (domain, reason) in [
        ("junk.example.org", Fallback::InvalidTarget),
        ("junkport.example.org", Fallback::InvalidPort),
        ("noservice.example.org", Fallback::NoService),
    ] {
        let base = discovery.base_url(domain, Scheme::Http).await;
        assert_eq!(
            base.as_str(),
            "http://cdn.libravatar.org/avatar/",
            "{domain}"
        );
        assert_eq!(base.origin(), &BaseOrigin::Central(reason), "{domain}");
    }
}

#[tokio::test]
async fn a_trailing_dot_never_reaches_the_url_and_hosts_are_lowercased() {
    let dns = dns().await;
    let discovery = discovery(&dns);
    assert_eq!(
        base(&discovery, "shouting.example.org", Scheme::Http).await,
        "http://avatars.example.org/avatar/"
    );
    for domain in ["example.org", "custom.example.org", "shouting.example.org"] {
        for scheme in [Scheme::Http, Scheme::Https] {
            let url = base(&discovery, domain, scheme).await;
            assert!(!url.contains(".:") && !url.contains("./"), "{url}");
        }
    }
}

#[tokio::test]
async fn a_subdomain_queries_its_own_name_and_never_its_parent() {
    let dns = dns().await;
    let discovery = discovery(&dns);
    assert_eq!(
        base(&discovery, "ownsub.example.org", Scheme::Http).await,
        "http://own.example.org/avatar/"
    );
    // deep.example.org exists (an A record) but has no SRV: the parent's records are not used.
    let deep = discovery.base_url("deep.example.org", Scheme::Http).await;
    assert_eq!(deep.origin(), &BaseOrigin::Central(Fallback::NoRecords));
}

#[tokio::test]
async fn a_non_ascii_domain_is_queried_in_punycode() {
    let dns = dns().await;
    let discovery = discovery(&dns);
    let idn = discovery.base_url("Bücher.example", Scheme::Http).await;
    assert_eq!(
        idn.as_str(),
        "http://avatars.xn--bcher-kva.example/avatar/",
        "{:?}",
        idn.origin()
    );
    let url = discovery
        .avatar_url(&AvatarUrlBuilder::new(
            Identity::parse("anna@bücher.example").unwrap(),
        ))
        .await;
    assert!(
        url.starts_with("http://avatars.xn--bcher-kva.example/avatar/"),
        "{url}"
    );
}

#[tokio::test]
async fn nxdomain_and_a_refusing_server_fall_back() {
    let dns = dns().await;
    let discovery = discovery(&dns);
    let missing = discovery
        .base_url("missing.example.org", Scheme::Https)
        .await;
    assert_eq!(missing.as_str(), "https://seccdn.libravatar.org/avatar/");
    assert_eq!(missing.origin(), &BaseOrigin::Central(Fallback::NoRecords));
    // Not one of the server's zones: it answers REFUSED.
    let refused = discovery.base_url("example.net", Scheme::Http).await;
    assert_eq!(refused.as_str(), "http://cdn.libravatar.org/avatar/");
    assert_eq!(
        refused.origin(),
        &BaseOrigin::Central(Fallback::LookupFailed)
    );
    let invalid = discovery.base_url("exa mple..org", Scheme::Http).await;
    assert_eq!(
        invalid.origin(),
        &BaseOrigin::Central(Fallback::InvalidDomain)
    );
}

#[tokio::test]
async fn a_short_ttl_is_cached_for_a_day() {
    let dns = dns().await;
    let clock = Arc::new(ManualClock::new());
    let discovery = Discovery::builder()
        .nameserver(dns.addr())
        .timeout(Duration::from_millis(300))
        .clock(Arc::clone(&clock))
        .build()
        .unwrap();
    assert_eq!(
        base(&discovery, "example.org", Scheme::Http).await,
        "http://avatars.example.org/avatar/"
    );
    drop(dns); // From now on every query fails.

    clock.advance(Duration::from_secs(23 * 3600));
    assert_eq!(
        base(&discovery, "example.org", Scheme::Http).await,
        "http://avatars.example.org/avatar/",
        "a 300 s TTL is still cached after 23 h"
    );
    clock.advance(Duration::from_secs(3600));
    let expired = discovery.base_url("example.org", Scheme::Http).await;
    // Whether the closed port's refusal reaches the resolver before the timeout is the
    // system's affair.
    assert!(
        matches!(
            expired.origin(),
            BaseOrigin::Central(Fallback::LookupFailed | Fallback::TimedOut)
        ),
        "re-queried after a day: {:?}",
        expired.origin()
    );
}

#[tokio::test]
async fn a_black_holed_nameserver_falls_back_and_concurrent_lookups_share_one_query() {
    let hole = BlackHole::start().await.unwrap();
    let discovery = Discovery::builder()
        .nameserver(hole.addr())
        .timeout(Duration::from_millis(400))
        .build()
        .unwrap();
    // What one lookup costs the nameserver (hickory may send more than one packet).
    discovery.base_url("one.example.org", Scheme::Https).await;
    let per_lookup = hole.queries();
    assert!(per_lookup >= 1);

    let started = Instant::now();
    let lookups: Vec<_> = (0..20)
        .map(|_| {
            let discovery = discovery.clone();
            tokio::spawn(async move { discovery.base_url("example.org", Scheme::Https).await })
        })
        .collect();
    for lookup in lookups {
        let base = lookup.await.unwrap();
        assert_eq!(base.as_str(), "https://seccdn.libravatar.org/avatar/");
        assert_eq!(base.origin(), &BaseOrigin::Central(Fallback::TimedOut));
    }
    // Not a speed assertion (the benchmark measures that): only that nothing hangs.
    assert!(started.elapsed() < Duration::from_secs(10));
    assert_eq!(
        hole.queries(),
        2 * per_lookup,
        "twenty concurrent lookups of one name cost one lookup"
    );
    // The failure is cached for a while: no new query.
    discovery.base_url("example.org", Scheme::Https).await;
    assert_eq!(hole.queries(), 2 * per_lookup);
}

#[tokio::test]
async fn avatar_urls_use_the_identitys_domain_never_an_openid_port() {
    let dns = dns().await;
    let discovery = discovery(&dns);
    let url = discovery
        .avatar_url(
            &AvatarUrlBuilder::new(Identity::parse("George@Custom.Example.org").unwrap())
                .scheme(Scheme::Https)
                .size(64),
        )
        .await;
    assert_eq!(
        url,
        format!(
            "https://img.custom.example.org:8443/avatar/{}?s=64",
            Identity::parse("george@custom.example.org")
                .unwrap()
                .hash(avatar_proto::HashAlgorithm::Md5)
        )
    );
    // The PHP library's bug: the OpenID's port leaking into the SRV name.
    let openid = discovery
        .avatar_url(
            &AvatarUrlBuilder::new(Identity::parse("https://example.org:8443/id/bob").unwrap())
                .scheme(Scheme::Https),
        )
        .await;
    assert!(
        openid.starts_with("https://avatars.example.org/avatar/"),
        "{openid}"
    );
}

#[tokio::test]
async fn bad_zone_text_is_a_clear_error() {
    let err = FakeDns::start(&[
        "$ORIGIN nosoa.example.\n_avatars._tcp 300 IN SRV 0 0 80 a.nosoa.example.\n",
    ])
    .await
    .unwrap_err();
    assert!(err.to_string().contains("SOA"), "{err}");
}

/// The nameserver stops answering mid-run: what was cached stays federated, a new lookup falls
/// back to the central server after the timeout, and nothing hangs.
#[tokio::test]
async fn a_nameserver_that_stops_answering_falls_back_after_the_timeout() {
    let dns = dns().await;
    let discovery = discovery(&dns);
    let federated = base(&discovery, "example.org", Scheme::Http).await;
    assert_eq!(federated, "http://avatars.example.org/avatar/");

    drop(dns);
    let started = std::time::Instant::now();
    let fallback = discovery.base_url("custom.example.org", Scheme::Http).await;
    let waited = started.elapsed();
    assert_eq!(fallback.as_str(), "http://cdn.libravatar.org/avatar/");
    assert!(
        matches!(fallback.origin(), BaseOrigin::Central(_)),
        "{:?}",
        fallback.origin()
    );
    // The 500 ms timeout, with room for a loaded machine; not the system's 5 s.
    assert!(waited < Duration::from_secs(3), "took {waited:?}");
    assert_eq!(
        base(&discovery, "example.org", Scheme::Http).await,
        federated,
        "the cached answer was lost"
    );
}

/// Page rendering never waits on DNS: the first call answers the central server at once and
/// starts the lookup; once it is done, the federated server comes from the cache.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_lookup_that_never_waits_answers_central_first_then_the_federated_server() {
    let dns = dns().await;
    let discovery = discovery(&dns);
    let first = discovery.base_url_now("example.org", Scheme::Http);
    assert_eq!(first.origin(), &BaseOrigin::Central(Fallback::Resolving));
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        let now = discovery.base_url_now("example.org", Scheme::Http);
        if now.as_str() == "http://avatars.example.org/avatar/" {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "the background lookup never landed"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    // A black-holed nameserver costs a page nothing: the answer is immediate.
    let hole = BlackHole::start().await.unwrap();
    let stalled = Discovery::builder()
        .nameserver(hole.addr())
        .timeout(Duration::from_secs(2))
        .build()
        .unwrap();
    let started = Instant::now();
    let url = stalled.avatar_url_now(&AvatarUrlBuilder::new(
        avatar_proto::Identity::parse("alice@example.org").unwrap(),
    ));
    assert!(
        started.elapsed() < Duration::from_millis(100),
        "{:?}",
        started.elapsed()
    );
    assert!(
        url.starts_with("http://cdn.libravatar.org/avatar/"),
        "{url}"
    );
    // Held locally: the application's own mount point, no DNS at all.
    let builder =
        AvatarUrlBuilder::new(avatar_proto::Identity::parse("alice@example.org").unwrap())
            .size(64)
            .version("3");
    assert_eq!(
        stalled.local_or_discovered(&builder, "/avatars/avatar", true),
        "/avatars/avatar/fbf7c6aec1d4280b7c2704c1c0478bd6?s=64&v=3"
    );
}

/// The fake DNS server answers several records in turn, as real servers' round robin does;
/// `lookup_now` shows DNS as it is, uncached, TTL included.
#[tokio::test]
async fn the_fake_server_rotates_answers_and_lookup_now_reads_them_uncached() {
    use avatar_discovery::SrvAnswer;

    let dns = dns().await;
    let discovery = discovery(&dns);
    let mut firsts = Vec::new();
    for _ in 0..4 {
        let Ok(SrvAnswer::Records { records, ttl }) =
            discovery.lookup_now("zero.example.org", Scheme::Http).await
        else {
            panic!("records for zero.example.org");
        };
        assert_eq!((records.len(), ttl), (2, 300));
        firsts.push(records[0].target.clone());
    }
    assert_eq!(
        firsts,
        [
            "z1.example.org.",
            "z2.example.org.",
            "z1.example.org.",
            "z2.example.org."
        ],
        "rotated by one place per query"
    );
    assert_eq!(
        discovery
            .lookup_now("missing.example.org", Scheme::Http)
            .await,
        Ok(SrvAnswer::NoRecords)
    );
    assert_eq!(
        discovery.lookup_now("exa mple.org", Scheme::Http).await,
        Err(Fallback::InvalidDomain)
    );
}

/// With a nameserver given, a host's addresses come from it too, IPv6 and IPv4 together; an
/// address literal is its own answer, asked of no one; a name it does not know, or a
/// nameserver that never answers, is an error that names the host and why.
#[tokio::test]
async fn host_addresses_come_from_the_same_nameserver() {
    let dns = dns().await;
    let discovery = discovery(&dns);
    let mut both = discovery
        .host_addresses("avatars.example.org")
        .await
        .unwrap();
    both.sort();
    assert_eq!(
        both,
        [
            "192.0.2.80".parse::<std::net::IpAddr>().unwrap(),
            "2001:db8::80".parse().unwrap()
        ]
    );
    assert_eq!(
        discovery
            .host_addresses("v6only.example.org.")
            .await
            .unwrap(),
        ["2001:db8::6".parse::<std::net::IpAddr>().unwrap()]
    );
    assert!(dns.queries_for("v6only.example.org") >= 1);
    for literal in ["192.0.2.9", "[2001:db8::9]", "2001:db8::9"] {
        let found = discovery.host_addresses(literal).await.unwrap();
        assert_eq!(found.len(), 1, "{literal}");
    }
    let unknown = discovery
        .host_addresses("nosuch.example.org")
        .await
        .unwrap_err()
        .to_string();
    assert!(
        unknown.starts_with("cannot find the addresses of nosuch.example.org: "),
        "{unknown}"
    );

    let hole = BlackHole::start().await.unwrap();
    let silent = Discovery::builder()
        .nameserver(hole.addr())
        .timeout(Duration::from_millis(200))
        .build()
        .unwrap();
    let started = Instant::now();
    let timed_out = silent
        .host_addresses("avatars.example.org")
        .await
        .unwrap_err()
        .to_string();
    assert!(
        started.elapsed() < Duration::from_secs(2),
        "bounded by the timeout"
    );
    assert!(timed_out.contains("avatars.example.org"), "{timed_out}");
}

/// Without a nameserver, a host's addresses are the system's answer (`/etc/hosts` here).
#[tokio::test]
async fn host_addresses_without_a_nameserver_are_the_system_s() {
    let system = Discovery::builder().build().unwrap();
    let found = system.host_addresses("localhost").await.unwrap();
    assert!(
        found.contains(&std::net::IpAddr::from([127, 0, 0, 1])),
        "{found:?}"
    );
}
