//! Where HTTP requests go: this project's service in process, or any server at a URL.

use std::fmt::Write as _;
use std::future::Future;
use std::net::SocketAddr;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use avatar_discovery::Discovery;
use avatar_proto::{HashAlgorithm, Identity};
use avatar_service::AvatarService;
use avatar_store::MemoryStore;
use bytes::Bytes;
use http::{HeaderMap, Method, Request};
use http_body_util::{BodyExt as _, Full};
use hyper_rustls::{HttpsConnector, HttpsConnectorBuilder};
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::client::legacy::connect::dns::Name;
use hyper_util::rt::TokioExecutor;
use tower::ServiceExt as _;
use url::Url;

use crate::error::ConformanceError;
use crate::fixtures::memory_store;

/// One response, whole.
#[derive(Debug, Clone)]
pub struct Exchange {
    /// The status code.
    pub status: u16,
    /// The headers.
    pub headers: HeaderMap,
    /// The body.
    pub body: Bytes,
}

impl Exchange {
    /// The value of header `name` as text, if present and printable.
    #[must_use]
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|value| value.to_str().ok())
    }

    /// Status, headers and the start of the body, for failure messages.
    #[must_use]
    pub fn describe(&self) -> String {
        let mut text = format!("{}", self.status);
        let mut names: Vec<&str> = self.headers.keys().map(http::HeaderName::as_str).collect();
        names.sort_unstable();
        names.dedup();
        for name in names {
            for value in self.headers.get_all(name) {
                let _ = write!(
                    text,
                    "\n  {name}: {}",
                    String::from_utf8_lossy(value.as_bytes())
                );
            }
        }
        let _ = write!(text, "\n  body: {}", describe_body(&self.body));
        text
    }
}

/// One request of a chain and its answer.
#[derive(Debug, Clone)]
pub struct Hop {
    /// The URL requested (a path for the in-process service).
    pub url: String,
    /// What came back.
    pub exchange: Exchange,
}

/// The answer to a request: the same-origin redirects followed, then the final answer.
#[derive(Debug, Clone)]
pub struct Answer {
    /// The redirects followed, in order (empty when the first answer was final).
    pub earlier: Vec<Hop>,
    /// The final answer: not a redirect, or a redirect to another origin.
    pub last: Hop,
}

impl Answer {
    /// The answer to the request as sent.
    #[must_use]
    pub fn first(&self) -> &Exchange {
        self.earlier
            .first()
            .map_or(&self.last.exchange, |hop| &hop.exchange)
    }

    /// The final answer.
    #[must_use]
    pub const fn last(&self) -> &Exchange {
        &self.last.exchange
    }

    /// Every hop, in order.
    pub fn hops(&self) -> impl Iterator<Item = &Hop> {
        self.earlier.iter().chain(std::iter::once(&self.last))
    }

    /// The answer in words: the redirects followed (status and `Location`), then the final
    /// answer described whole.
    #[must_use]
    pub fn describe(&self) -> String {
        let mut text = String::new();
        for hop in &self.earlier {
            let _ = write!(
                text,
                "{} Location: {} (followed)\n-> ",
                hop.exchange.status,
                hop.exchange.header("location").unwrap_or("")
            );
        }
        if !self.earlier.is_empty() {
            let _ = write!(text, "{}: ", self.last.url);
        }
        text.push_str(&self.last.exchange.describe());
        text
    }
}

/// A short description of a body: its kind and size, or its text if it is short text.
#[must_use]
pub fn describe_body(body: &[u8]) -> String {
    if body.is_empty() {
        return "(empty)".to_owned();
    }
    if let Some(format) = avatar_image::ImageFormat::sniff(body) {
        let dimensions = image::load_from_memory(body)
            .map(|image| format!(" {}x{}", image.width(), image.height()))
            .unwrap_or_default();
        return format!("{} bytes of {}{dimensions}", body.len(), format.mime_type());
    }
    match std::str::from_utf8(body) {
        Ok(text) if text.len() <= 200 => format!("{text:?}"),
        Ok(text) => format!("{:?}... ({} bytes)", head(text, 200), body.len()),
        Err(_) => format!("{} bytes of binary data", body.len()),
    }
}

/// A response with its body read whole.
async fn whole<B>(
    response: http::Response<B>,
) -> Result<Exchange, Box<dyn std::error::Error + Send + Sync>>
where
    B: http_body::Body,
    B::Error: std::error::Error + Send + Sync + 'static,
{
    let (parts, body) = response.into_parts();
    let body = body.collect().await?.to_bytes();
    Ok(Exchange {
        status: parts.status.as_u16(),
        headers: parts.headers,
        body,
    })
}

/// At most `limit` bytes of `text`, cut at a character boundary.
fn head(text: &str, limit: usize) -> &str {
    let mut end = limit.min(text.len());
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    &text[..end]
}

/// The Libravatar server under test.
#[derive(Clone)]
pub enum HttpTarget {
    /// This project's [`AvatarService`] with default settings, holding the fixtures.
    InProcess(AvatarService<MemoryStore>),
    /// A server reached over TCP; requests go to `base` + `/avatar/...`.
    Url {
        /// `http(s)://host:port` with an optional path prefix, no trailing slash.
        base: String,
        /// The HTTP/1 client (https with the web's roots and any added with
        /// [`HttpTarget::trusting`]).
        client: Box<Client<HttpsConnector<HttpConnector<HostLookup>>, Full<Bytes>>>,
        /// The identity `{identity}` in request templates stands for (the domain checker's
        /// `--identity`).
        identity: Option<Identity>,
        /// How long one request may take ([`HttpTarget::request_timeout`]).
        timeout: Duration,
    },
}

impl std::fmt::Debug for HttpTarget {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::InProcess(_) => f.write_str("HttpTarget::InProcess"),
            Self::Url { base, .. } => write!(f, "HttpTarget::Url({base})"),
        }
    }
}

/// How the client finds a host's addresses: the discovery client's
/// ([`Discovery::host_addresses`]), so the domain checker's `--nameserver` answers for the
/// servers its SRV records name too; or, with none, the system's resolver.
#[derive(Clone)]
pub struct HostLookup(Option<Discovery>);

impl tower::Service<Name> for HostLookup {
    type Response = std::vec::IntoIter<SocketAddr>;
    type Error = std::io::Error;
    type Future = Pin<Box<dyn Future<Output = Result<Self::Response, Self::Error>> + Send>>;

    fn poll_ready(&mut self, _cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, name: Name) -> Self::Future {
        let names = self.0.clone();
        Box::pin(async move {
            let host = name.as_str();
            let found: Vec<SocketAddr> = match names {
                Some(names) => names
                    .host_addresses(host)
                    .await
                    .map_err(std::io::Error::other)?
                    .into_iter()
                    .map(|ip| SocketAddr::new(ip, 0))
                    .collect(),
                None => tokio::net::lookup_host((host, 0)).await?.collect(),
            };
            Ok(found.into_iter())
        })
    }
}

/// An http and https client trusting the web's roots and `extra_roots`, with ring named as the
/// crypto provider so no process-wide default has to be installed, finding hosts with `names`.
fn https_client(
    extra_roots: &[Vec<u8>],
    names: Option<Discovery>,
) -> Result<Client<HttpsConnector<HttpConnector<HostLookup>>, Full<Bytes>>, ConformanceError> {
    let tls = avatar_service::upstream::tls_client_config(extra_roots).map_err(|err| {
        ConformanceError::Usage(format!("TLS settings or a CA certificate: {err}"))
    })?;
    let mut http = HttpConnector::new_with_resolver(HostLookup(names));
    http.enforce_http(false);
    let connector = HttpsConnectorBuilder::new()
        .with_tls_config(tls)
        .https_or_http()
        .enable_http1()
        .wrap_connector(http);
    Ok(Client::builder(TokioExecutor::new()).build(connector))
}

/// How many same-origin redirects [`HttpTarget::fetch`] follows before it gives up.
pub const MAX_REDIRECTS: usize = 10;

/// The origin the in-process service's paths are resolved against.
const IN_PROCESS_ORIGIN: &str = "http://in-process.invalid/";

/// How long one request may take before it counts as failed, unless
/// [`HttpTarget::request_timeout`] says otherwise.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(15);

impl HttpTarget {
    /// This project's service with default settings and the fixtures in a memory store.
    ///
    /// # Errors
    /// [`ConformanceError::Store`] if a fixture cannot be stored (it never should).
    pub async fn in_process() -> Result<Self, ConformanceError> {
        let store = memory_store().await?;
        Ok(Self::InProcess(AvatarService::new(store)))
    }

    /// A server at `url` (`http(s)://host:port`, optionally with a path prefix under which
    /// `/avatar/HASH` is served). https certificates must chain to the web's roots.
    ///
    /// # Errors
    /// [`ConformanceError::Usage`] for anything but an `http://` or `https://` URL without
    /// query or fragment.
    pub fn url(url: &str) -> Result<Self, ConformanceError> {
        Self::trusting(url, &[])
    }

    /// As [`HttpTarget::url`], also trusting the certificate authorities in `extra_roots`
    /// (DER), for a server with a private CA.
    ///
    /// # Errors
    /// As [`HttpTarget::url`]; [`ConformanceError::Usage`] for a root that is not a certificate.
    pub fn trusting(url: &str, extra_roots: &[Vec<u8>]) -> Result<Self, ConformanceError> {
        Self::build(url, extra_roots, None)
    }

    /// As [`HttpTarget::trusting`], finding the server's addresses with `names`
    /// ([`Discovery::host_addresses`]): its nameservers, as the domain checker's SRV records
    /// came from, or the system's resolver.
    ///
    /// # Errors
    /// As [`HttpTarget::trusting`].
    pub fn trusting_found_by(
        url: &str,
        extra_roots: &[Vec<u8>],
        names: Discovery,
    ) -> Result<Self, ConformanceError> {
        Self::build(url, extra_roots, Some(names))
    }

    fn build(
        url: &str,
        extra_roots: &[Vec<u8>],
        names: Option<Discovery>,
    ) -> Result<Self, ConformanceError> {
        let parsed: http::Uri = url.parse().map_err(|err| {
            ConformanceError::Usage(format!("--target-url {url:?} is not a URL: {err}"))
        })?;
        if !matches!(parsed.scheme_str(), Some("http" | "https")) || parsed.authority().is_none() {
            return Err(ConformanceError::Usage(format!(
                "--target-url {url:?}: expected http://HOST:PORT[/PREFIX] or https://..."
            )));
        }
        if parsed.query().is_some() {
            return Err(ConformanceError::Usage(format!(
                "--target-url {url:?}: no query string, please; the suite adds its own"
            )));
        }
        Ok(Self::Url {
            base: url.trim_end_matches('/').to_owned(),
            client: Box::new(https_client(extra_roots, names)?),
            identity: None,
            timeout: REQUEST_TIMEOUT,
        })
    }

    /// How long one request to a server at a URL may take before it counts as failed (15 s
    /// by default: a render of a large picture on a slow machine takes well under that).
    #[must_use]
    pub fn request_timeout(mut self, timeout: Duration) -> Self {
        if let Self::Url { timeout: slot, .. } = &mut self {
            *slot = timeout;
        }
        self
    }

    /// Whether the target answers HTTP at all: one `GET` for an avatar no one has, with
    /// `d=404`, whatever its status. A run asks this first, so that a wrong address or a
    /// server that is not running stops it at once with the reason, instead of failing every
    /// case after a timeout each.
    ///
    /// # Errors
    /// As [`HttpTarget::send`]: the connection refused, no answer within the timeout, a TLS
    /// certificate refused.
    pub async fn answers(&self) -> Result<(), ConformanceError> {
        self.send(&Method::GET, &super::expand("/avatar/{nobody}?d=404"), &[])
            .await
            .map(|_| ())
    }

    /// The same target with `{identity}` (MD5, or SHA-256 for an OpenID) and
    /// `{identity.sha256}` in request templates standing for `identity`.
    #[must_use]
    pub fn with_identity(mut self, identity: Identity) -> Self {
        if let Self::Url { identity: slot, .. } = &mut self {
            *slot = Some(identity);
        }
        self
    }

    /// A request template with the fixtures' placeholders, and `{identity}`, filled in.
    #[must_use]
    pub fn expand(&self, template: &str) -> String {
        let mut template = template.to_owned();
        if let Self::Url {
            identity: Some(identity),
            ..
        } = self
        {
            let sha256 = identity.hash(HashAlgorithm::Sha256).to_string();
            let default = match identity {
                Identity::Email(_) => identity.hash(HashAlgorithm::Md5).to_string(),
                Identity::OpenId(_) => sha256.clone(),
            };
            template = template
                .replace("{identity.sha256}", &sha256)
                .replace("{identity}", &default);
        }
        super::expand(&template)
    }

    /// Sends one request; `target` is the path and query (`/avatar/...`), appended to the
    /// target's base URL. Redirects are not followed (see [`HttpTarget::fetch`]).
    ///
    /// # Errors
    /// [`ConformanceError::Http`] when the request cannot be built, sent or read;
    /// [`ConformanceError::Timeout`] when no whole answer comes in time.
    pub async fn send(
        &self,
        method: &Method,
        target: &str,
        headers: &[(String, String)],
    ) -> Result<Exchange, ConformanceError> {
        let uri = match self {
            Self::InProcess(_) => target.to_owned(),
            Self::Url { base, .. } => format!("{base}{target}"),
        };
        self.send_uri(method, uri, headers).await
    }

    /// Sends `request` and follows the redirects that stay on the target's origin (scheme, host
    /// and port, compared per RFC 3986 6.2.3 so `:80` is the same as no port), keeping method
    /// and headers, up to [`MAX_REDIRECTS`]. A redirect elsewhere ends the chain: it is the
    /// final answer, judged by the case.
    ///
    /// # Errors
    /// As [`HttpTarget::send`], and [`ConformanceError::Redirects`] for a loop or too many hops.
    pub async fn fetch(
        &self,
        method: &Method,
        target: &str,
        headers: &[(String, String)],
    ) -> Result<Answer, ConformanceError> {
        let mut url = match self {
            Self::InProcess(_) => target.to_owned(),
            Self::Url { base, .. } => format!("{base}{target}"),
        };
        let mut earlier: Vec<Hop> = Vec::new();
        loop {
            let exchange = self.send_uri(method, url.clone(), headers).await?;
            let Some(next) = self.same_origin_redirect(&url, &exchange) else {
                return Ok(Answer {
                    earlier,
                    last: Hop { url, exchange },
                });
            };
            earlier.push(Hop { url, exchange });
            let looped = earlier.iter().any(|hop| hop.url == next);
            if looped || earlier.len() >= MAX_REDIRECTS {
                let mut chain: Vec<&str> = earlier.iter().map(|hop| hop.url.as_str()).collect();
                chain.push(&next);
                return Err(ConformanceError::Redirects {
                    what: if looped {
                        "a redirect loop".to_owned()
                    } else {
                        format!("more than {MAX_REDIRECTS} redirects")
                    },
                    chain: chain.join(" -> "),
                });
            }
            url = next;
        }
    }

    /// The base URLs of requests are resolved against: the target's, or a stand-in origin for
    /// the in-process service (whose requests carry only a path).
    fn base(&self) -> Option<Url> {
        match self {
            Self::InProcess(_) => Url::parse(IN_PROCESS_ORIGIN).ok(),
            Self::Url { base, .. } => Url::parse(base).ok(),
        }
    }

    /// Whether `location`, found in the answer to `url`, points at this target's own origin.
    #[must_use]
    pub fn is_same_origin(&self, url: &str, location: &str) -> bool {
        let Some(base) = self.base() else {
            return false;
        };
        base.join(url)
            .and_then(|current| current.join(location))
            .is_ok_and(|next| next.origin() == base.origin())
    }

    /// Where `exchange` (the answer to `url`) redirects, if it is a redirect on this target's
    /// origin: the URL to request next, in the form [`HttpTarget::send_uri`] takes.
    fn same_origin_redirect(&self, url: &str, exchange: &Exchange) -> Option<String> {
        if !(300..400).contains(&exchange.status) || exchange.status == 304 {
            return None;
        }
        let location = exchange.header("location")?;
        if !self.is_same_origin(url, location) {
            return None;
        }
        let next = self.base()?.join(url).ok()?.join(location).ok()?;
        Some(match self {
            Self::InProcess(_) => {
                let mut path = next.path().to_owned();
                if let Some(query) = next.query() {
                    path.push('?');
                    path.push_str(query);
                }
                path
            }
            Self::Url { .. } => next.to_string(),
        })
    }

    /// Sends one request to `uri`: a path for the in-process service, an absolute URL otherwise.
    async fn send_uri(
        &self,
        method: &Method,
        uri: String,
        headers: &[(String, String)],
    ) -> Result<Exchange, ConformanceError> {
        let mut builder = Request::builder().method(method.clone()).uri(&uri);
        for (name, value) in headers {
            builder = builder.header(name.as_str(), value.as_str());
        }
        let failed = |source| ConformanceError::Http {
            request: format!("{method} {uri}"),
            source,
        };
        let request = builder
            .body(Full::new(Bytes::new()))
            .map_err(|err| failed(err.into()))?;
        let exchange = async {
            match self {
                Self::InProcess(service) => {
                    let Ok(response) = service.clone().oneshot(request).await;
                    whole(response).await
                }
                Self::Url { client, .. } => match client.request(request).await {
                    Ok(response) => whole(response).await,
                    Err(err) => Err(err.into()),
                },
            }
            .map_err(failed)
        };
        let timeout = match self {
            Self::InProcess(_) => REQUEST_TIMEOUT,
            Self::Url { timeout, .. } => *timeout,
        };
        tokio::time::timeout(timeout, exchange)
            .await
            .map_err(|_| ConformanceError::Timeout {
                waiting_for: format!("an answer to {method} {uri}"),
                after: timeout,
            })?
    }
}
