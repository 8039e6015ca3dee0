//! A real browser through the proxy: headless Chromium (Debian's, `scripts/ensure-chromium.sh`)
//! loads a page of 30 people from 4 domains, each domain's avatar server a real
//! `AvatarService` over TCP found by SRV; the page's own probe counts the pictures loaded, and
//! Chromium's network log shows that it asked no host but the page's own.

use std::time::Duration;

use avatar_discovery::Discovery;
use avatar_discovery::fake_dns::FakeDns;
use avatar_proto::Identity;
use avatar_proxy::{AvatarProxy, ProxyKey, ProxyKeys};
use avatar_service::AvatarService;
use avatar_store::{MemoryStore, Store as _};
use axum::response::Html;
use axum::routing::get;
use bytes::Bytes;
use test_support::{browser, images};

use crate::axum_example::{Person, app, people_page};
use crate::{serve_upstream, zone};

/// After every picture has loaded or failed: how many there are, and how many show.
const PROBE: &str = r"<script>
window.addEventListener('load', () => {
  const images = [...document.images];
  const result = document.createElement('pre');
  result.id = 'browser-result';
  result.textContent = JSON.stringify({
    total: images.length,
    loaded: images.filter((image) => image.complete && image.naturalWidth > 0).length,
    sources: images.map((image) => image.currentSrc),
  });
  document.body.appendChild(result);
});
</script>";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_browser_shows_thirty_avatars_from_four_domains_and_talks_only_to_the_site() {
    if !browser::available(
        "a_browser_shows_thirty_avatars_from_four_domains_and_talks_only_to_the_site",
    ) {
        return;
    }
    let (people, zones) = four_domains().await;
    let dns = FakeDns::start(&zones.iter().map(String::as_str).collect::<Vec<_>>())
        .await
        .unwrap();
    let proxy = AvatarProxy::builder(
        ProxyKeys::new(ProxyKey::generate(), Vec::new()),
        Discovery::builder().nameserver(dns.addr()).build().unwrap(),
    )
    .allow_network("127.0.0.1/32".parse().unwrap())
    .central("http://127.0.0.1:1/avatar/")
    .build()
    .unwrap();

    // The example's application, plus a copy of its page with the probe.
    let (page_proxy, page_people) = (proxy.clone(), people.clone());
    let example_page = people_page(&proxy, &people);
    let router = app(proxy, people).route(
        "/check",
        get(move || {
            let page = people_page(&page_proxy, &page_people) + PROBE;
            async move { Html(page) }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let site = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, router).await });

    let dir = tempfile::tempdir().unwrap();
    let net_log = dir.path().join("net-log.json");
    let mut chromium = browser::headless(dir.path());
    chromium
        .arg(format!("--log-net-log={}", net_log.display()))
        .arg("--virtual-time-budget=20000")
        .arg("--dump-dom")
        .arg(format!("http://{site}/check"));
    let found =
        tokio::task::spawn_blocking(move || browser::probe(chromium, Duration::from_secs(90)))
            .await
            .unwrap();
    assert_eq!(found["total"], 30, "{found}");
    assert_eq!(found["loaded"], 30, "every picture shows: {found}");
    for source in found["sources"].as_array().unwrap() {
        assert!(
            source
                .as_str()
                .unwrap()
                .starts_with(&format!("http://{site}/proxy/")),
            "{source}"
        );
    }

    // The network log. Requests the page caused carry its site as their network isolation
    // key; Chromium's own background chatter (time, updates, accounts) carries none and is not
    // the page's doing. Every request of the page went to the page's own origin, and no request
    // at all reached the avatar servers on their loopback ports.
    let requests = logged_requests(&net_log);
    let own = format!("http://{site}/");
    let page: Vec<&String> = requests
        .iter()
        .filter(|(_, key)| key.starts_with("http://127.0.0.1 "))
        .map(|(url, _)| url)
        .collect();
    assert!(page.len() >= 31, "the page and its 30 pictures: {page:?}");
    let elsewhere: Vec<&&String> = page.iter().filter(|url| !url.starts_with(&own)).collect();
    assert!(
        elsewhere.is_empty(),
        "the page asked other hosts: {elsewhere:?}"
    );
    let upstream_hits: Vec<&String> = requests
        .iter()
        .map(|(url, _)| url)
        .filter(|url| url.starts_with("http://127.0.0.1:") && !url.starts_with(&own))
        .collect();
    assert!(
        upstream_hits.is_empty(),
        "the browser reached an avatar server: {upstream_hits:?}"
    );

    // The page an application would copy passes axe-core's accessibility audit.
    browser::assert_accessible(
        "a_browser_shows_thirty_avatars_from_four_domains_and_talks_only_to_the_site",
        &example_page,
    );
}

/// (URL, network isolation key) of every request in a Chromium network log.
fn logged_requests(net_log: &std::path::Path) -> Vec<(String, String)> {
    let text = std::fs::read_to_string(net_log).expect("chromium wrote its network log");
    let log: serde_json::Value = serde_json::from_str(&text)
        .or_else(|_| serde_json::from_str(&format!("{}]}}", text.trim_end().trim_end_matches(','))))
        .expect("the network log is JSON");
    let start_job = log["constants"]["logEventTypes"]["URL_REQUEST_START_JOB"].clone();
    log["events"]
        .as_array()
        .expect("the log has events")
        .iter()
        .filter(|event| event["type"] == start_job)
        .map(|event| {
            let params = &event["params"];
            (
                params["url"].as_str().unwrap_or_default().to_owned(),
                params["network_isolation_key"]
                    .as_str()
                    .unwrap_or_default()
                    .to_owned(),
            )
        })
        .collect()
}

/// Four domains, each with its own server holding five of its eight people's pictures (the
/// rest have none anywhere and get an identicon); 30 people in all, and the zones pointing at
/// the servers.
async fn four_domains() -> (Vec<Person>, Vec<String>) {
    let mut zones = Vec::new();
    let mut people = Vec::new();
    for (domain, colour) in [
        ("a.test", [200, 30, 30]),
        ("b.test", [30, 160, 30]),
        ("c.test", [30, 30, 200]),
        ("d.test", [200, 160, 30]),
    ] {
        let store = MemoryStore::new();
        for n in 0..8 {
            let identity = Identity::parse(&format!("person{n}@{domain}")).unwrap();
            if n < 5 {
                let picture = Bytes::from(images::png(&images::solid(64, 64, colour)));
                store.put(&identity, picture).await.unwrap();
            }
            if people.len() < 30 {
                people.push(Person {
                    name: format!("Person {n} of {domain}"),
                    identity,
                });
            }
        }
        let (addr, _) = serve_upstream(AvatarService::new(store)).await;
        zones.push(zone(domain, addr.port()));
    }
    (people, zones)
}
