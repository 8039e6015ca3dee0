//! Optional fallback to an upstream server (Gravatar) on a miss. Off by default: privacy is
//! the point of self-hosting.

use std::sync::Arc;
use std::time::{Duration, Instant};

use avatar_image::{ImageFormat, Limits, Rendered};
use avatar_proto::report::with_causes;
use avatar_proto::url_builder::encode_query_value;
use avatar_proto::{AvatarHash, AvatarRequest, DefaultImage, DefaultKeyword, HashAlgorithm};
use bytes::Bytes;
use http::{Request, StatusCode, Uri};
use http_body_util::{BodyExt as _, Empty, Limited};
use hyper_rustls::{HttpsConnector, HttpsConnectorBuilder};
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;
use quick_cache::sync::Cache;
use rustls::RootCertStore;
use rustls::pki_types::CertificateDer;

use crate::error::ServiceError;
use crate::respond::Answer;

/// Gravatar's avatar base, the default upstream.
pub const GRAVATAR_BASE: &str = "https://secure.gravatar.com/avatar/";

/// What happens on a miss before the default flow.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum UpstreamMode {
    /// Nothing: the default flow (the default).
    #[default]
    Off,
    /// A 302 to the upstream's URL for the same hash, size and default.
    Redirect,
    /// Fetch from the upstream (with `d=404`) and serve its bytes; any upstream error or timeout
    /// degrades to the default flow and is remembered for a short time.
    Proxy,
}

/// The upstream fallback settings.
///
/// ```
/// use std::time::Duration;
/// use avatar_service::Upstream;
///
/// let upstream = Upstream::proxy()
///     .base_url("http://avatars.internal.example/avatar/")
///     .timeout(Duration::from_millis(800));
/// # let _ = upstream;
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
#[must_use]
pub struct Upstream {
    mode: UpstreamMode,
    base_url: String,
    timeout: Duration,
    negative_ttl: Duration,
    extra_roots: Vec<Vec<u8>>,
}

impl Upstream {
    /// No upstream (the default).
    pub fn off() -> Self {
        Self::with_mode(UpstreamMode::Off)
    }

    /// Redirect misses to the upstream.
    pub fn redirect() -> Self {
        Self::with_mode(UpstreamMode::Redirect)
    }

    /// Proxy misses from the upstream.
    pub fn proxy() -> Self {
        Self::with_mode(UpstreamMode::Proxy)
    }

    fn with_mode(mode: UpstreamMode) -> Self {
        Self {
            mode,
            base_url: GRAVATAR_BASE.to_owned(),
            timeout: Duration::from_secs(2),
            negative_ttl: Duration::from_secs(300),
            extra_roots: Vec::new(),
        }
    }

    /// The upstream's avatar base, ending in `/` (default Gravatar's); `http://` or `https://`.
    pub fn base_url(mut self, base_url: impl Into<String>) -> Self {
        self.base_url = base_url.into();
        self
    }

    /// How long a proxied fetch may take before the default flow answers (default 2 s).
    pub const fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }

    /// How long a failed or missing upstream answer is remembered (default 5 minutes).
    pub const fn negative_ttl(mut self, ttl: Duration) -> Self {
        self.negative_ttl = ttl;
        self
    }

    /// Trusts one more certificate authority (DER) for an https upstream, besides the usual
    /// web roots: for a mirror behind a private CA.
    pub fn add_root_certificate(mut self, der: impl Into<Vec<u8>>) -> Self {
        self.extra_roots.push(der.into());
        self
    }

    /// The mode.
    #[must_use]
    pub const fn mode(&self) -> UpstreamMode {
        self.mode
    }
}

/// The upstream settings plus what proxying needs at run time.
pub(crate) struct UpstreamClient {
    settings: Upstream,
    limits: Limits,
    client: Option<Client<HttpsConnector<HttpConnector>, Empty<Bytes>>>,
    misses: Cache<(AvatarHash, u32), Instant>,
}

impl UpstreamClient {
    pub(crate) fn new(settings: Upstream, limits: Limits) -> Result<Self, ServiceError> {
        let invalid = |reason| ServiceError::InvalidUpstream {
            found: settings.base_url.clone(),
            reason,
        };
        if settings.mode != UpstreamMode::Off {
            let uri: Uri = settings
                .base_url
                .parse()
                .map_err(|_| invalid("not a valid URL"))?;
            if uri.host().is_none() || !settings.base_url.ends_with('/') {
                return Err(invalid(
                    "expected an absolute URL ending in /, like https://secure.gravatar.com/avatar/",
                ));
            }
            if !matches!(uri.scheme_str(), Some("http" | "https")) {
                return Err(invalid("the scheme must be http or https"));
            }
        }
        let client =
            if settings.mode == UpstreamMode::Proxy {
                Some(proxy_client(&settings.extra_roots).map_err(|_| {
                    invalid("an added root certificate is not a valid DER certificate")
                })?)
            } else {
                None
            };
        Ok(Self {
            settings,
            limits,
            client,
            misses: Cache::new(10_000),
        })
    }

    /// Whether misses go straight to the default flow (no upstream to wait for).
    pub(crate) fn is_off(&self) -> bool {
        self.settings.mode == UpstreamMode::Off
    }

    /// The upstream's answer to a miss, or `None` to go on with the default flow.
    pub(crate) async fn answer(&self, request: &AvatarRequest) -> Option<Answer> {
        match self.settings.mode {
            UpstreamMode::Off => None,
            UpstreamMode::Redirect => Some(Answer::Redirect {
                location: self.url(request, request.default.as_ref()),
            }),
            UpstreamMode::Proxy => self.proxy(request).await,
        }
    }

    /// `{base}{hash}?s={size}[&d=...]`: the request's default goes along when the upstream can
    /// understand it (a keyword Gravatar knows, or a trusted URL), encoded exactly once.
    fn url(&self, request: &AvatarRequest, default: Option<&DefaultImage>) -> String {
        let mut url = format!(
            "{}{}?s={}",
            self.settings.base_url, request.hash, request.size
        );
        let forwarded = match default {
            Some(DefaultImage::Keyword(DefaultKeyword::Pagan)) | None => None,
            Some(DefaultImage::Keyword(keyword)) => Some(keyword.name().to_owned()),
            Some(DefaultImage::Redirect(target)) if target.as_str().starts_with("http") => {
                Some(target.as_str().to_owned())
            }
            Some(DefaultImage::Redirect(_)) => None,
        };
        if let Some(default) = forwarded {
            url.push_str("&d=");
            url.push_str(&encode_query_value(&default));
        }
        url
    }

    async fn proxy(&self, request: &AvatarRequest) -> Option<Answer> {
        let key = (request.hash, request.size);
        if self
            .misses
            .get(&key)
            .is_some_and(|until| Instant::now() < until)
        {
            return None;
        }
        match self.fetch(request).await {
            Ok(bytes) => {
                let format = ImageFormat::sniff(&bytes)?;
                let fingerprint = fingerprint_of(&bytes);
                Some(Answer::Image {
                    rendered: Rendered {
                        bytes,
                        format,
                        size: request.size,
                    },
                    fingerprint,
                    hit: false,
                    // The upstream's bytes as they came: `Accept` changes nothing.
                    varies_with_accept: false,
                })
            }
            Err(reason) => {
                tracing::debug!(hash = %request.hash, %reason, "upstream has no usable avatar; using the default");
                self.misses
                    .insert(key, Instant::now() + self.settings.negative_ttl);
                None
            }
        }
    }

    /// The upstream's picture for `request`, or why there is none: its status, or what
    /// failed with its causes (a refused connection, a certificate not trusted, the timeout).
    async fn fetch(&self, request: &AvatarRequest) -> Result<Bytes, String> {
        let client = self.client.as_ref().ok_or("no client")?;
        let not_found = DefaultImage::Keyword(DefaultKeyword::NotFound);
        let url = self.url(request, Some(&not_found));
        let uri: Uri = url.parse().map_err(|_| format!("bad URL {url}"))?;
        let upstream_request = Request::get(uri)
            .body(Empty::new())
            .map_err(|err| err.to_string())?;
        let exchange = async {
            let response = client
                .request(upstream_request)
                .await
                .map_err(|err| format!("connection failed: {}", with_causes(&err)))?;
            if response.status() != StatusCode::OK {
                return Err(format!("upstream answered {}", response.status().as_u16()));
            }
            let limit = self.limits.max_input_bytes;
            let bytes = Limited::new(response.into_body(), limit)
                .collect()
                .await
                .map_err(|err| {
                    if err.is::<http_body_util::LengthLimitError>() {
                        format!("body over {limit} bytes")
                    } else {
                        format!("body cut short: {}", with_causes(&*err))
                    }
                })?
                .to_bytes();
            if ImageFormat::sniff(&bytes).is_none() {
                return Err("not an image".to_owned());
            }
            Ok(bytes)
        };
        let timeout = self.settings.timeout;
        tokio::time::timeout(timeout, exchange)
            .await
            .map_err(|_| format!("no answer within {timeout:?}"))?
    }
}

/// An http and https client trusting the web's roots (and any added ones), with aws-lc-rs as
/// the crypto provider named explicitly, so no process-wide default has to be installed.
fn proxy_client(
    extra_roots: &[Vec<u8>],
) -> Result<Client<HttpsConnector<HttpConnector>, Empty<Bytes>>, rustls::Error> {
    let connector = HttpsConnectorBuilder::new()
        .with_tls_config(tls_client_config(extra_roots)?)
        .https_or_http()
        .enable_http1()
        .build();
    Ok(Client::builder(TokioExecutor::new()).build(connector))
}

/// The TLS settings of every client this project makes (the upstream fallback, the avatar
/// proxy, the conformance suite): the web's roots from `webpki-roots` plus `extra_roots` (DER),
/// aws-lc-rs as the provider named explicitly (no process-wide default to install), safe protocol
/// versions, no client certificate.
///
/// # Errors
/// A root certificate rustls refuses.
pub fn tls_client_config(extra_roots: &[Vec<u8>]) -> Result<rustls::ClientConfig, rustls::Error> {
    let mut roots: RootCertStore = webpki_roots::TLS_SERVER_ROOTS.iter().cloned().collect();
    for der in extra_roots {
        roots
            .add(CertificateDer::from(der.clone()))
            .map_err(|_| rustls::Error::General("invalid root certificate".into()))?;
    }
    Ok(rustls::ClientConfig::builder_with_provider(Arc::new(
        rustls::crypto::aws_lc_rs::default_provider(),
    ))
    .with_safe_default_protocol_versions()?
    .with_root_certificates(roots)
    .with_no_client_auth())
}

/// Proxied bytes are not rendered here, so their ETag comes from a digest of the bytes.
fn fingerprint_of(bytes: &[u8]) -> [u8; 16] {
    let digest = HashAlgorithm::Sha256.digest(bytes);
    let mut fingerprint = [0u8; 16];
    fingerprint.copy_from_slice(&digest.as_bytes()[..16]);
    fingerprint
}

#[cfg(test)]
mod tests {
    use rustls::NamedGroup;

    use super::*;

    /// Every client the project makes (the fallback, the proxy, the conformance suite) offers
    /// the hybrid post-quantum key exchange first, as browsers do; classical ones after it.
    #[test]
    fn clients_offer_the_post_quantum_key_exchange_first() {
        let config = tls_client_config(&[]).unwrap();
        let offered: Vec<NamedGroup> = config
            .crypto_provider()
            .kx_groups
            .iter()
            .map(|group| group.name())
            .collect();
        assert_eq!(offered.first(), Some(&NamedGroup::X25519MLKEM768));
        assert!(offered.contains(&NamedGroup::X25519), "{offered:?}");
    }
}
