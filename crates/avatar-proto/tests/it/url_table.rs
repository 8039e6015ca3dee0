//! A snapshot of the URL builder's output across schemes, algorithms, sizes and defaults, so any
//! change to the URLs clients produce is seen in review.

use std::fmt::Write as _;

use avatar_proto::{AvatarUrlBuilder, HashAlgorithm, Identity, Scheme};

#[test]
fn url_builder_table() {
    let email = Identity::parse("George@example.com").unwrap();
    let openid = Identity::parse("HTTPS://Example.COM/id/Bob").unwrap();
    let schemes = [Scheme::Http, Scheme::Https];
    let algorithms = [HashAlgorithm::Md5, HashAlgorithm::Sha256];
    let sizes = [None, Some(0), Some(1), Some(80), Some(512), Some(513)];
    let defaults = [
        "identicon",
        "404",
        "https://example.org/nobody.png?s=80&bg=#fff",
        "https://example.org/already%20encoded/a b",
        "/static/nobody ünïcode.png",
        "a+b=c&d",
    ];

    let mut table = String::new();
    let mut row = |label: String, builder: &AvatarUrlBuilder| {
        writeln!(table, "{label:<44} {}", builder.build()).unwrap();
    };
    for scheme in schemes {
        for algorithm in algorithms {
            for size in sizes {
                let mut builder = AvatarUrlBuilder::new(email.clone())
                    .scheme(scheme)
                    .algorithm(algorithm);
                if let Some(size) = size {
                    builder = builder.size(size);
                }
                row(
                    format!("email {scheme} {algorithm} size={size:?}"),
                    &builder,
                );
            }
        }
        for default in defaults {
            let builder = AvatarUrlBuilder::new(email.clone())
                .scheme(scheme)
                .size(80)
                .default_image(default);
            row(format!("email {scheme} d={default:?}"), &builder);
        }
        let forced = AvatarUrlBuilder::new(email.clone())
            .scheme(scheme)
            .default_image("mp")
            .force_default(true);
        row(format!("email {scheme} d=mp f=y"), &forced);
        for algorithm in algorithms {
            let builder = AvatarUrlBuilder::new(openid.clone())
                .scheme(scheme)
                .algorithm(algorithm)
                .size(64);
            row(
                format!("openid {scheme} asked {algorithm} size=64"),
                &builder,
            );
        }
    }
    insta::assert_snapshot!(table);
}
