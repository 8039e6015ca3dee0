//! One test (at least) per row of the decisions table in shared/spec/libravatar.md section 2,
//! through `oneshot` on the service.

mod common;

use std::time::Duration;

use avatar_image::ImageFormat;
use avatar_proto::DefaultKeyword;
use avatar_service::AvatarService;
use avatar_store::{MemoryStore, Store as _};
use bytes::Bytes;
use common::*;
use http::{Method, Request, StatusCode};

#[tokio::test]
async fn hash_form_any_case_with_optional_suffix_else_400_with_a_reason() {
    let service = service().await;
    let hash = md5(GEORGE);
    for path in [
        format!("/avatar/{hash}"),
        format!("/avatar/{}", hash.to_uppercase()),
        format!("/avatar/{hash}.png"),
        format!("/avatar/{hash}.JPG"),
        format!("/avatar/{hash}.jpeg"),
        format!("/avatar/{hash}.gif"),
        format!("/avatar/{hash}.webp"),
        format!("/avatar/{}", sha256(GEORGE)),
    ] {
        let response = get(&service, &path).await;
        assert_eq!(response.status(), StatusCode::OK, "{path}");
        assert_eq!(response.headers()["content-type"], "image/png", "{path}");
    }
    for path in [
        "/avatar/".to_owned(),
        "/avatar/abc".to_owned(),
        format!("/avatar/{hash}.bmp"),
        format!("/avatar/{hash}/extra"),
        format!("/avatar/{}", &hash[..31]),
        "/avatar/..%2F..%2Fetc%2Fpasswd".to_owned(),
        "/avatar/../../etc/passwd".to_owned(),
    ] {
        let response = get(&service, &path).await;
        assert_eq!(response.status(), StatusCode::BAD_REQUEST, "{path}");
        assert_eq!(
            response.headers()["content-type"],
            "text/plain; charset=utf-8"
        );
        let body = std::str::from_utf8(response.body()).unwrap();
        assert_eq!(body.lines().count(), 1, "{body}");
        assert!(
            body.contains("32 (MD5) or 64 (SHA-256) hex digits"),
            "{body}"
        );
    }
}

#[tokio::test]
async fn size_rules_with_decoded_dimensions() {
    let service = service().await;
    let hash = md5(GEORGE);
    for (query, side) in [
        ("s=1", 1),
        ("s=10", 10),
        ("s=80", 80),
        ("s=200", 200),
        ("s=512", 512),
        ("s=1000", 512),
        ("", 80),
        ("s=", 80),
        ("s=0", 80),
        ("s=-4", 80),
        ("s=big", 80),
        ("s=20&size=30", 30),
        ("size=&s=40", 40),
    ] {
        let response = get(&service, &format!("/avatar/{hash}?{query}")).await;
        assert_eq!(response.status(), StatusCode::OK, "{query}");
        assert_eq!(dimensions(response.body()), (side, side), "{query}");
    }
    let small = AvatarService::builder(store().await)
        .max_size(64)
        .build()
        .unwrap();
    assert_eq!(
        dimensions(get(&small, &format!("/avatar/{hash}?s=500")).await.body()),
        (64, 64)
    );
}

#[tokio::test]
async fn default_precedence_empty_and_unknown_keywords() {
    let service = service().await;
    let miss = md5("nobody@example.com");
    let status = |query: &str| {
        let service = service.clone();
        let uri = format!("/avatar/{miss}?{query}");
        async move { get(&service, &uri).await.status() }
    };
    assert_eq!(status("d=404").await, StatusCode::NOT_FOUND);
    assert_eq!(status("d=mp&default=404").await, StatusCode::NOT_FOUND);
    assert_eq!(status("default=&d=404").await, StatusCode::NOT_FOUND);
    // Not lowercase, unknown, or empty: absent, so the server's own default (200 image).
    assert_eq!(status("d=NOTFOUND").await, StatusCode::OK);
    assert_eq!(status("d=Identicon").await, StatusCode::OK);
    assert_eq!(status("d=").await, StatusCode::OK);
}

#[tokio::test]
async fn forcedefault_exactly_y_skips_the_stored_avatar() {
    let service = service().await;
    let hash = md5(GEORGE);
    let stored = get(&service, &format!("/avatar/{hash}?s=32")).await;
    let forced = get(&service, &format!("/avatar/{hash}?s=32&f=y")).await;
    let forced_long = get(
        &service,
        &format!("/avatar/{hash}?s=32&forcedefault=y&d=blank"),
    )
    .await;
    let not_forced = get(&service, &format!("/avatar/{hash}?s=32&f=Y")).await;
    assert_ne!(stored.body(), forced.body());
    assert_eq!(forced.headers()["cache-control"], "public, max-age=300");
    assert!(
        image::load_from_memory(forced_long.body())
            .unwrap()
            .to_rgba8()
            .pixels()
            .all(|p| p[3] == 0)
    );
    assert_eq!(stored.body(), not_forced.body());
    assert_eq!(
        get(&service, &format!("/avatar/{hash}?f=y&d=404"))
            .await
            .status(),
        StatusCode::NOT_FOUND
    );
}

#[tokio::test]
async fn miss_without_default_is_the_servers_own_default_or_a_configured_404() {
    let miss = md5("nobody@example.com");
    let response = get(&service().await, &format!("/avatar/{miss}?s=48")).await;
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(dimensions(response.body()), (48, 48));
    // One response: no redirect chain.
    assert!(response.headers().get("location").is_none());

    let strict = AvatarService::builder(store().await)
        .server_default(DefaultKeyword::NotFound)
        .build()
        .unwrap();
    assert_eq!(
        get(&strict, &format!("/avatar/{miss}")).await.status(),
        StatusCode::NOT_FOUND
    );
}

#[tokio::test]
async fn d_404_is_a_short_plain_text_404() {
    let response = get(
        &service().await,
        &format!("/avatar/{}?d=404", md5("nobody@example.com")),
    )
    .await;
    assert_eq!(response.status(), StatusCode::NOT_FOUND);
    assert_eq!(
        response.headers()["content-type"],
        "text/plain; charset=utf-8"
    );
    assert!(response.body().len() < 100);
}

#[tokio::test]
async fn drawn_defaults_at_exactly_the_size_deterministic_and_per_hash() {
    let service = service().await;
    let (one, two) = (md5("one@example.com"), md5("two@example.com"));
    for keyword in [
        "mm",
        "mp",
        "blank",
        "identicon",
        "monsterid",
        "wavatar",
        "retro",
        "robohash",
        "pagan",
    ] {
        for size in [1, 33, 80, 512] {
            let response = get(&service, &format!("/avatar/{one}?d={keyword}&s={size}")).await;
            assert_eq!(response.status(), StatusCode::OK, "{keyword}");
            assert_eq!(response.headers()["content-type"], "image/png", "{keyword}");
            assert_eq!(
                dimensions(response.body()),
                (size, size),
                "{keyword} {size}"
            );
        }
        let again = get(&service, &format!("/avatar/{one}?d={keyword}&s=64")).await;
        let same = get(&service, &format!("/avatar/{one}?d={keyword}&s=64")).await;
        assert_eq!(again.body(), same.body(), "{keyword} is deterministic");
    }
    for keyword in [
        "identicon",
        "monsterid",
        "wavatar",
        "retro",
        "robohash",
        "pagan",
    ] {
        let first = get(&service, &format!("/avatar/{one}?d={keyword}&s=64")).await;
        let second = get(&service, &format!("/avatar/{two}?d={keyword}&s=64")).await;
        assert_ne!(
            first.body(),
            second.body(),
            "{keyword} differs between hashes"
        );
    }
    for set in ["set1", "set2", "set3"] {
        let response = get(
            &service,
            &format!("/avatar/{one}?d=robohash&robohash={set}&s=50"),
        )
        .await;
        assert_eq!(response.status(), StatusCode::OK, "{set}");
        assert_eq!(response.headers()["content-type"], "image/png", "{set}");
        assert_eq!(dimensions(response.body()), (50, 50));
    }
}

#[tokio::test]
async fn url_defaults_redirect_only_when_trusted_or_relative() {
    let service = service().await;
    let miss = md5("nobody@example.com");
    let location = |query: &str| {
        let service = service.clone();
        let uri = format!("/avatar/{miss}?{query}");
        async move {
            let response = get(&service, &uri).await;
            (
                response.status(),
                response
                    .headers()
                    .get("location")
                    .map(|value| value.to_str().unwrap().to_owned()),
            )
        }
    };
    assert_eq!(
        location("d=https%3A%2F%2Fsecure.gravatar.com%2Favatar%2Fabc%3Fs%3D80").await,
        (
            StatusCode::FOUND,
            Some("https://secure.gravatar.com/avatar/abc?s=80".to_owned())
        )
    );
    assert_eq!(
        location("d=%2Fstatic%2Fno%20body.png").await,
        (StatusCode::FOUND, Some("/static/no%20body.png".to_owned()))
    );
    for hostile in [
        "d=%2F%2Fevil.example%2Fx",
        "d=https%3A%2F%2Fevil.example%2Favatar%2F",
        "d=javascript%3Aalert(1)",
        "d=%2F%5Cevil.example",
        "d=https%3A%2F%2Fgravatar.com%40evil.example%2Favatar%2F",
        "d=https%3A%2F%2Fgravatar.com%2Favatar%2F%0D%0ASet-Cookie%3A%20x",
    ] {
        let (status, location) = location(hostile).await;
        assert_eq!(
            (status, location),
            (StatusCode::OK, None),
            "{hostile} must be ignored"
        );
    }
}

#[tokio::test]
async fn hits_are_the_centred_square_in_the_stored_format_and_animations_stay_animated() {
    let service = service().await;
    let response = get(&service, &format!("/avatar/{}?s=50", md5(GEORGE))).await;
    let pixel = image::load_from_memory(response.body()).unwrap().to_rgb8();
    // The centred square of the 300 x 200 bands is mostly the green middle band.
    let centre = pixel.get_pixel(25, 25);
    assert!(centre[1] > 150 && centre[0] < 90, "{centre:?}");

    let jpeg = get(&service, &format!("/avatar/{}?s=70", md5(JPEG_OWNER))).await;
    assert_eq!(jpeg.headers()["content-type"], "image/jpeg");
    assert_eq!(dimensions(jpeg.body()), (70, 70));

    let gif = get(&service, &format!("/avatar/{}?s=90", md5(ANIMATED))).await;
    assert_eq!(gif.headers()["content-type"], "image/gif");
    let frames = {
        use image::AnimationDecoder as _;
        image::codecs::gif::GifDecoder::new(std::io::Cursor::new(gif.body().to_vec()))
            .unwrap()
            .into_frames()
            .collect_frames()
            .unwrap()
    };
    assert_eq!(frames.len(), 3);
    assert_eq!(frames[0].buffer().dimensions(), (90, 90));
}

#[tokio::test]
async fn md5_and_sha256_of_one_email_give_identical_bytes_and_openid_variants_resolve() {
    let service = service().await;
    let by_md5 = get(&service, &format!("/avatar/{}?s=64", md5(GEORGE))).await;
    let by_sha = get(&service, &format!("/avatar/{}?s=64", sha256(GEORGE))).await;
    assert_eq!(by_md5.status(), StatusCode::OK);
    assert_eq!(by_md5.body(), by_sha.body());
    assert_eq!(by_md5.headers()["etag"], by_sha.headers()["etag"]);

    for variant in [
        "http://example.com/id/Bob",
        "http://example.com/id/Bob/",
        "https://example.com/id/Bob",
        "https://example.com/id/Bob/",
    ] {
        let response = get(&service, &format!("/avatar/{}?s=64&d=404", sha256(variant))).await;
        assert_eq!(response.status(), StatusCode::OK, "{variant}");
        assert_eq!(
            response.body(),
            by_md5.body(),
            "{variant}: same image as George's"
        );
    }
}

#[tokio::test]
async fn headers_of_hits_and_defaults() {
    let service = service().await;
    let hit = get(&service, &format!("/avatar/{}", md5(GEORGE))).await;
    let headers = hit.headers();
    assert_eq!(headers["content-type"], "image/png");
    assert_eq!(
        headers["content-length"],
        hit.body().len().to_string().as_str()
    );
    let etag = headers["etag"].to_str().unwrap();
    assert!(
        etag.starts_with('"') && etag.ends_with('"') && !etag.starts_with("W/"),
        "strong: {etag}"
    );
    assert_eq!(headers["cache-control"], "public, max-age=86400");
    assert_eq!(headers["access-control-allow-origin"], "*");
    assert_eq!(headers["x-content-type-options"], "nosniff");

    let default = get(
        &service,
        &format!("/avatar/{}?d=retro", md5("nobody@example.com")),
    )
    .await;
    assert_eq!(default.headers()["cache-control"], "public, max-age=300");
    assert_ne!(default.headers()["etag"], headers["etag"]);

    let tuned = AvatarService::builder(store().await)
        .hit_max_age(Duration::from_secs(7))
        .default_max_age(Duration::from_secs(3))
        .build()
        .unwrap();
    assert_eq!(
        get(&tuned, &format!("/avatar/{}", md5(GEORGE)))
            .await
            .headers()["cache-control"],
        "public, max-age=7"
    );
    assert_eq!(
        get(&tuned, &format!("/avatar/{}", md5("x@y.z")))
            .await
            .headers()["cache-control"],
        "public, max-age=3"
    );
}

#[tokio::test]
async fn content_type_comes_from_the_bytes_not_the_suffix() {
    let service = service().await;
    let response = get(&service, &format!("/avatar/{}.png?s=40", md5(JPEG_OWNER))).await;
    assert_eq!(response.headers()["content-type"], "image/jpeg");
}

#[tokio::test]
async fn if_none_match_gives_304_without_a_body() {
    let service = service().await;
    let uri = format!("/avatar/{}?s=64", md5(GEORGE));
    let first = get(&service, &uri).await;
    let etag = first.headers()["etag"].clone();
    let revalidated = send(
        &service,
        Request::get(&uri)
            .header("if-none-match", etag.clone())
            .body(())
            .unwrap(),
    )
    .await;
    assert_eq!(revalidated.status(), StatusCode::NOT_MODIFIED);
    assert!(revalidated.body().is_empty());
    assert_eq!(revalidated.headers()["etag"], etag);
    let other = send(
        &service,
        Request::get(&uri)
            .header("if-none-match", "\"nope\"")
            .body(())
            .unwrap(),
    )
    .await;
    assert_eq!(other.status(), StatusCode::OK);
    // A different size is a different representation.
    let resized = send(
        &service,
        Request::get(format!("/avatar/{}?s=65", md5(GEORGE)))
            .header("if-none-match", etag)
            .body(())
            .unwrap(),
    )
    .await;
    assert_eq!(resized.status(), StatusCode::OK);
}

#[tokio::test]
async fn head_options_and_other_methods() {
    let service = service().await;
    let uri = format!("/avatar/{}?s=64", md5(GEORGE));
    let get_response = get(&service, &uri).await;
    let head = send(&service, Request::head(&uri).body(()).unwrap()).await;
    assert_eq!(head.status(), StatusCode::OK);
    assert!(head.body().is_empty());
    assert_eq!(head.headers(), get_response.headers());

    let options = send(&service, Request::options(&uri).body(()).unwrap()).await;
    assert_eq!(options.status(), StatusCode::NO_CONTENT);
    assert_eq!(options.headers()["allow"], "GET, HEAD, OPTIONS");
    assert_eq!(options.headers()["access-control-allow-origin"], "*");

    for method in [Method::POST, Method::PUT, Method::DELETE, Method::PATCH] {
        let response = send(
            &service,
            Request::builder()
                .method(method.clone())
                .uri(&uri)
                .body(())
                .unwrap(),
        )
        .await;
        assert_eq!(
            response.status(),
            StatusCode::METHOD_NOT_ALLOWED,
            "{method}"
        );
        assert_eq!(response.headers()["allow"], "GET, HEAD, OPTIONS");
    }
}

#[tokio::test]
async fn unknown_parameters_are_ignored() {
    let service = service().await;
    let plain = get(&service, &format!("/avatar/{}?s=40", md5(GEORGE))).await;
    let noisy = get(
        &service,
        &format!("/avatar/{}?s=40&r=x&rating=pg&foo=bar&S=99", md5(GEORGE)),
    )
    .await;
    assert_eq!(plain.body(), noisy.body());
}

#[tokio::test]
async fn a_corrupt_stored_image_is_answered_as_a_miss() {
    let store = MemoryStore::new();
    let broken = identity("broken@example.com");
    let mut truncated = png();
    truncated.truncate(truncated.len() / 2);
    store.put(&broken, Bytes::from(truncated)).await.unwrap();
    let service = AvatarService::new(store);
    let hash = md5("broken@example.com");
    assert_eq!(
        get(&service, &format!("/avatar/{hash}?d=404"))
            .await
            .status(),
        StatusCode::NOT_FOUND
    );
    let fallback = get(&service, &format!("/avatar/{hash}?s=20")).await;
    assert_eq!(fallback.status(), StatusCode::OK);
    assert_eq!(dimensions(fallback.body()), (20, 20));
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

#[tokio::test]
async fn rendered_formats_match_their_content_type() {
    let service = service().await;
    for (owner, format) in [
        (GEORGE, ImageFormat::Png),
        (JPEG_OWNER, ImageFormat::Jpeg),
        (ANIMATED, ImageFormat::Gif),
    ] {
        let response = get(&service, &format!("/avatar/{}", md5(owner))).await;
        assert_eq!(ImageFormat::sniff(response.body()), Some(format));
        assert_eq!(response.headers()["content-type"], format.mime_type());
    }
}

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
