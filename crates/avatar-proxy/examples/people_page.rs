//! The proxy in an axum application: `GET /people` renders a page of people, each picture an
//! `<img>` whose `src` and `srcset` (1x and 2x screens) point at this site's `/proxy/...`, so
//! the visitor's browser never talks to anyone else.
//!
//! `cargo run -p avatar-proxy --example people_page -- alice@example.org bob@example.net`, then open
//! <http://127.0.0.1:3000/people>. The key is made at start (URLs change on restart); a real
//! site keeps it in a file (`avatars proxy-key --out FILE`).

use std::fmt::Write as _;
use std::sync::Arc;

use avatar_discovery::Discovery;
use avatar_proto::Identity;
use avatar_proxy::{AvatarProxy, AvatarProxyLayer, ProxyKey, ProxyKeys};
use axum::Router;
use axum::response::Html;
use axum::routing::get;

/// One person on the page: a name and the identity whose avatar is shown.
#[derive(Debug, Clone)]
pub(crate) struct Person {
    /// Shown under the picture.
    pub(crate) name: String,
    /// Whose avatar.
    pub(crate) identity: Identity,
}

/// The application: `/people`, with the proxy in front of it.
pub(crate) fn app(proxy: AvatarProxy, people: Vec<Person>) -> Router {
    let people = Arc::new(people);
    let page_proxy = proxy.clone();
    Router::new()
        .route(
            "/people",
            get(move || {
                let page = people_page(&page_proxy, &people);
                async move { Html(page) }
            }),
        )
        .layer(AvatarProxyLayer::new(proxy))
}

/// The page: a grid of 48 px pictures (96 px on 2x screens), identicons for those without one.
pub(crate) fn people_page(proxy: &AvatarProxy, people: &[Person]) -> String {
    let mut page = String::from(
        "<!doctype html><html lang=en><meta charset=utf-8><title>People</title>\
         <style>body{font:14px system-ui;margin:2em}ul{list-style:none;padding:0;display:grid;\
         grid-template-columns:repeat(auto-fill,8em);gap:1em}li{text-align:center}\
         img{border-radius:50%}</style><main><h1>People</h1><ul>",
    );
    for person in people {
        let (Ok(src), Ok(srcset)) = (
            proxy.url(&person.identity, 48, Some("identicon")),
            proxy.srcset(&person.identity, 48, &[1, 2], Some("identicon")),
        ) else {
            continue;
        };
        let name = escape(&person.name);
        let _ = write!(
            page,
            // The name follows as text, so the picture is decoration to a screen reader.
            "<li><img src=\"{src}\" srcset=\"{srcset}\" width=48 height=48 alt=\"\"><br>{name}</li>"
        );
    }
    page.push_str("</ul></main>");
    page
}

/// HTML text and attribute escaping.
fn escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let people = std::env::args()
        .skip(1)
        .map(|address| {
            Ok(Person {
                name: address.clone(),
                identity: Identity::parse(&address)?,
            })
        })
        .collect::<Result<Vec<_>, avatar_proto::Error>>()?;
    let keys = ProxyKeys::new(ProxyKey::generate(), Vec::new());
    let proxy = AvatarProxy::builder(keys, Discovery::builder().build()?).build()?;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:3000").await?;
    println!("http://{}/people", listener.local_addr()?);
    axum::serve(listener, app(proxy, people)).await?;
    Ok(())
}
