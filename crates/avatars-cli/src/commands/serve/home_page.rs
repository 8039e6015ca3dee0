//! The page at `/`: what this server is, what it holds, and a link to try.

use std::fmt::Write as _;

use avatar_proto::DefaultKeyword;

use super::Held;

/// The home page's style sheet, inline in the page.
const HOME_PAGE_STYLE: &str = "body{font:16px system-ui;max-width:42em;margin:2em auto;\
    line-height:1.5}code{background:#f2f2f2;padding:0 .2em}img{vertical-align:middle;\
    margin-right:.5em}";

/// The home page's headers: it loads nothing but its own pictures and its own style (allowed
/// by its SHA-256, not by `'unsafe-inline'`), runs no script and is framed by no one, and its
/// policy says so (the page is what people and security scanners see first of a server). It
/// counts what the store holds, so caches keep it a minute at most.
pub(super) fn home_page_headers() -> axum::http::HeaderMap {
    use base64::Engine as _;
    use sha2::Digest as _;

    let style = base64::engine::general_purpose::STANDARD
        .encode(sha2::Sha256::digest(HOME_PAGE_STYLE.as_bytes()));
    let policy = format!(
        "default-src 'none'; img-src 'self'; style-src 'sha256-{style}'; base-uri 'none'; \
         form-action 'none'; frame-ancestors 'none'"
    );
    let mut headers = axum::http::HeaderMap::new();
    for (name, value) in [
        ("content-security-policy", policy.as_str()),
        ("x-content-type-options", "nosniff"),
        ("referrer-policy", "no-referrer"),
        ("cache-control", "max-age=60"),
    ] {
        headers.insert(
            name,
            value
                .parse()
                .expect("ASCII without controls is a header value"),
        );
    }
    headers
}

/// `GET /`: what this server is, what it holds, and how to build an avatar URL, with a live
/// example.
pub(super) fn home_page(prefix: &str, stored: Held, example_hash: &str) -> String {
    let base = format!("{prefix}/avatar/");
    let keywords = keywords();
    format!(
        "<!doctype html><html lang=en><meta charset=utf-8><title>avatars</title>\
         <style>{HOME_PAGE_STYLE}</style>\
         <main><h1>A Libravatar server</h1>\
         <p>This is <code>avatars serve</code>, serving the \
         <a href=\"https://wiki.libravatar.org/api/\">Libravatar API</a>. It holds \
         {stored} avatar(s).</p>\
         <h2>Building an avatar URL</h2>\
         <p><code>{base}HASH?s=SIZE&amp;d=DEFAULT</code>, where HASH is the MD5 or SHA-256 (in hex) \
         of the lowercased, trimmed email address; <code>s</code> is the size in pixels (80 by \
         default); <code>d</code> is what to show when there is no avatar: {keywords} \
         (<code>initials</code> draws those of <code>name=</code>, or <code>initials=</code> \
         itself), or a URL. <code>avatars hash ADDRESS</code> prints both hashes.</p>\
         <p><img src=\"{base}{example_hash}?s=80&amp;d=identicon\" width=80 height=80 \
         alt=\"an example avatar\"><code>{base}{example_hash}?s=80&amp;d=identicon</code> \
         (george@example.com)</p></main>"
    )
}

/// Every `d=` keyword the server draws, each once (`robohash` has three sets), from
/// [`DefaultKeyword::ALL`] rather than written out again: `color` and `initials` were missing
/// from the list when it was.
fn keywords() -> String {
    let mut names: Vec<&str> = DefaultKeyword::ALL
        .iter()
        .map(|keyword| keyword.name())
        .collect();
    names.dedup();
    let mut listed = String::new();
    for (at, name) in names.iter().enumerate() {
        if at > 0 {
            listed.push_str(", ");
        }
        let _ = write!(listed, "<code>{name}</code>");
    }
    listed
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_page_names_every_default_keyword() {
        let page = home_page("", Held::Exactly(0), "00");
        for keyword in DefaultKeyword::ALL {
            assert!(
                page.contains(&format!("<code>{}</code>", keyword.name())),
                "{keyword}"
            );
        }
        assert_eq!(page.matches("<code>robohash</code>").count(), 1);
    }
}
