//! What only the service itself can show: the settings of its builder (which a black-box suite
//! cannot change), paths outside the avatar API, and the exact header set of each kind of answer.
//!
//! The black-box statement of the HTTP behaviour, one case per rule of `docs/protocol.md`
//! section 2, is the conformance suite (`conformance/src/http/cases.rs`), which
//! `conformance/tests/it/harness.rs` runs against this service in process and `cargo xtask
//! conformance` over TCP: it is not repeated here.

use std::time::Duration;

use avatar_proto::{DefaultKeyword, TrustedUrl, TrustedUrls};
use avatar_service::AvatarService;
use avatar_store::MemoryStore;
use http::{Request, StatusCode};
use test_support::suite::*;

#[tokio::test]
async fn max_size_clamps_larger_requests_to_the_configured_maximum() {
    let small = AvatarService::builder(store().await)
        .max_size(64)
        .build()
        .unwrap();
    let hash = md5(GEORGE);
    assert_eq!(
        dimensions(get(&small, &format!("/avatar/{hash}?s=500")).await.body()),
        (64, 64)
    );
    assert_eq!(
        dimensions(get(&small, &format!("/avatar/{hash}?s=20")).await.body()),
        (20, 20)
    );
}

/// `d=color` is a solid square in a colour of the palette; a site's own palette themes it, and
/// its `ETag` differs from the default palette's.
#[tokio::test]
async fn d_color_draws_a_palette_colour_and_a_theme_changes_it_and_its_etag() {
    let default = service().await;
    let themed = AvatarService::builder(store().await)
        .palette(avatar_image::Palette::new(vec![[10, 20, 30]]).unwrap())
        .build()
        .unwrap();
    let uri = format!("/avatar/{}?s=24&d=color", md5(NOBODY));
    let colours = |body: &[u8]| -> std::collections::HashSet<[u8; 3]> {
        image::load_from_memory(body)
            .unwrap()
            .to_rgb8()
            .pixels()
            .map(|pixel| pixel.0)
            .collect()
    };
    let plain = get(&default, &uri).await;
    assert_eq!(plain.status(), StatusCode::OK);
    assert_eq!(dimensions(plain.body()), (24, 24));
    let [colour] = colours(plain.body()).into_iter().collect::<Vec<_>>()[..] else {
        panic!("one solid colour");
    };
    assert!(avatar_image::Palette::DEFAULT.colours().contains(&colour));

    let own = get(&themed, &uri).await;
    assert_eq!(colours(own.body()), [[10, 20, 30]].into());
    assert_ne!(plain.headers()["etag"], own.headers()["etag"]);
    // Other defaults keep their ETags whatever the palette.
    let identicon = format!("/avatar/{}?s=24&d=identicon", md5(NOBODY));
    assert_eq!(
        get(&default, &identicon).await.headers()["etag"],
        get(&themed, &identicon).await.headers()["etag"]
    );
}

#[tokio::test]
async fn a_configured_404_replaces_the_servers_own_default() {
    let strict = AvatarService::builder(store().await)
        .server_default(DefaultKeyword::NotFound)
        .build()
        .unwrap();
    let miss = md5(NOBODY);
    assert_eq!(
        get(&strict, &format!("/avatar/{miss}")).await.status(),
        StatusCode::NOT_FOUND
    );
    // A keyword the request names still wins over the server's own default.
    let drawn = get(&strict, &format!("/avatar/{miss}?d=retro&s=30")).await;
    assert_eq!(drawn.status(), StatusCode::OK);
    assert_eq!(dimensions(drawn.body()), (30, 30));
}

#[tokio::test]
async fn max_ages_are_configurable_for_hits_and_defaults() {
    let tuned = AvatarService::builder(store().await)
        .hit_max_age(Duration::from_secs(7))
        .default_max_age(Duration::from_secs(3))
        .build()
        .unwrap();
    assert_eq!(
        get(&tuned, &format!("/avatar/{}", md5(GEORGE)))
            .await
            .headers()["cache-control"],
        "max-age=7"
    );
    assert_eq!(
        get(&tuned, &format!("/avatar/{}", md5(NOBODY)))
            .await
            .headers()["cache-control"],
        "max-age=3"
    );
}

#[tokio::test]
async fn trusted_urls_are_what_the_operator_configures() {
    let only_ours = AvatarService::builder(store().await)
        .trusted_urls(
            TrustedUrls::none().with(
                "https://img.example.org/defaults/"
                    .parse::<TrustedUrl>()
                    .unwrap(),
            ),
        )
        .build()
        .unwrap();
    let miss = md5(NOBODY);
    let ours = get(
        &only_ours,
        &format!("/avatar/{miss}?d=https%3A%2F%2Fimg.example.org%2Fdefaults%2Fa.png"),
    )
    .await;
    assert_eq!(ours.status(), StatusCode::FOUND);
    assert_eq!(
        ours.headers()["location"],
        "https://img.example.org/defaults/a.png"
    );
    // Gravatar is trusted by default, but not here: treated as absent.
    let gravatar = get(
        &only_ours,
        &format!("/avatar/{miss}?d=https%3A%2F%2Fgravatar.com%2Favatar%2Fx"),
    )
    .await;
    assert_eq!(gravatar.status(), StatusCode::OK);
    assert!(gravatar.headers().get("location").is_none());
}

#[tokio::test]
async fn non_avatar_paths_get_a_404_saying_what_is_served() {
    let service = AvatarService::builder(store().await)
        .prefix("/avatars")
        .build()
        .unwrap();
    let response = get(&service, "/elsewhere").await;
    assert_eq!(response.status(), StatusCode::NOT_FOUND);
    assert!(
        std::str::from_utf8(response.body())
            .unwrap()
            .contains("/avatars/avatar/HASH")
    );
    assert_eq!(
        get(&service, &format!("/avatars/avatar/{}", md5(GEORGE)))
            .await
            .status(),
        StatusCode::OK
    );
    assert_eq!(
        get(&service, &format!("/avatar/{}", md5(GEORGE)))
            .await
            .status(),
        StatusCode::NOT_FOUND
    );
}

#[tokio::test]
async fn bad_prefixes_and_sizes_are_refused_when_building() {
    for prefix in ["avatars", "/avatars/", "/a b", "/a?b"] {
        let err = AvatarService::builder(MemoryStore::new())
            .prefix(prefix)
            .build()
            .unwrap_err();
        assert!(
            err.to_string()
                .contains("expected \"\" or a path starting with /"),
            "{err}"
        );
    }
    let err = AvatarService::builder(MemoryStore::new())
        .max_size(0)
        .build()
        .unwrap_err();
    assert!(err.to_string().contains("from 1 to 4096"), "{err}");
}

/// The exact header set of a hit, a 304, a 404 and a redirect: a header added or lost anywhere
/// shows up here.
#[tokio::test]
async fn header_snapshots() {
    let service = service().await;
    let uri = format!("/avatar/{}?s=64", md5(GEORGE));
    let hit = get(&service, &uri).await;
    insta::assert_snapshot!("hit", header_lines(&hit));
    let not_modified = send(
        &service,
        Request::get(&uri)
            .header("if-none-match", hit.headers()["etag"].clone())
            .body(())
            .unwrap(),
    )
    .await;
    insta::assert_snapshot!("not_modified", header_lines(&not_modified));
    let not_found = get(
        &service,
        &format!("/avatar/{}?d=404", md5("nobody@example.com")),
    )
    .await;
    insta::assert_snapshot!("not_found", header_lines(&not_found));
    let redirect = get(
        &service,
        &format!(
            "/avatar/{}?d=%2Fimg%2Fnobody.png",
            md5("nobody@example.com")
        ),
    )
    .await;
    insta::assert_snapshot!("redirect", header_lines(&redirect));
}

/// `stats()` counts what the service did: the first request renders (a cache miss), the
/// second is a cache hit, and a drawn default is a render of its own.
#[tokio::test]
async fn stats_count_renders_hits_and_misses() {
    let service = service().await;
    assert_eq!(service.stats().renders, 0);
    let hash = md5(GEORGE);
    for _ in 0..2 {
        let response = get(&service, &format!("/avatar/{hash}?s=48")).await;
        assert_eq!(response.status(), StatusCode::OK);
    }
    let stats = service.stats();
    assert_eq!(
        (stats.renders, stats.cache_misses, stats.cache_hits),
        (1, 1, 1)
    );
    assert!(stats.render_seconds > 0.0);
    assert_eq!(stats.cache_entries_now, 1);
    assert!(stats.cache_bytes_now > 0);
    assert_eq!(stats.index_entries, 1);
    get(
        &service,
        "/avatar/00000000000000000000000000000000?d=identicon&s=20",
    )
    .await;
    let stats = service.stats();
    assert_eq!((stats.renders, stats.cache_misses), (2, 2));
    assert_eq!(stats.store_errors, 0);
}
