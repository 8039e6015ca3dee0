//! TLS to the database, as libpq's `sslmode` and `sslrootcert` ask for it, so that a connection
//! string that works with `psql` works here, to a database on another machine too:
//!
//! - `disable`: never TLS.
//! - `prefer` (the default, as libpq's) and `allow`: TLS when the server offers it, plain
//!   otherwise.
//! - `require`: TLS or no connection.
//! - `verify-ca`: TLS, with a certificate chain that one of the roots signed.
//! - `verify-full`: that, and a certificate for the host connected to.
//!
//! As libpq does, `prefer` and `require` encrypt without checking who answers, unless
//! `sslrootcert=FILE` (PEM) names roots: then `require` checks the chain, as `verify-ca`. The
//! roots are `sslrootcert`'s, or else the web's (webpki-roots), which a database with a
//! certificate from a public authority needs no file for.
//!
//! tokio-postgres knows `disable`, `prefer` and `require` only, and neither of `verify-*`
//! nor `sslrootcert`: both are taken out of the string here, and the verification they ask
//! for is given to rustls (through tokio-postgres-rustls) as a certificate verifier.

use std::fmt;
use std::path::PathBuf;
use std::sync::Arc;

use rustls::client::WebPkiServerVerifier;
use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::crypto::{CryptoProvider, WebPkiSupportedAlgorithms};
use rustls::pki_types::pem::PemObject as _;
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::{
    CertificateError, ClientConfig, DigitallySignedStruct, RootCertStore, SignatureScheme,
};
use tokio_postgres::config::SslMode;
use tokio_postgres_rustls::MakeRustlsConnect;

/// What `sslmode` asks of the server's certificate.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Check {
    /// Encryption only (`prefer`, `require` without roots; also `disable`, where no TLS is
    /// ever made).
    Nothing,
    /// The chain, to one of the roots (`verify-ca`, `require` with `sslrootcert`).
    Chain,
    /// The chain and the host name (`verify-full`).
    ChainAndName,
}

/// The TLS settings a connection string holds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct TlsSettings {
    /// What tokio-postgres is told: whether to try TLS, and whether it must succeed.
    pub(crate) mode: SslMode,
    check: Check,
    root: Option<PathBuf>,
}

impl TlsSettings {
    /// The settings of `url` (a `postgres://` URL or libpq's `key=value` form), and `url`
    /// without `sslmode` and `sslrootcert`, for tokio-postgres to parse.
    ///
    /// # Errors
    /// A message naming an `sslmode` that is none of libpq's.
    pub(crate) fn split(url: &str) -> Result<(Self, String), String> {
        let (pairs, rest) = take_parameters(url, &["sslmode", "sslrootcert"]);
        let root = last_value(&pairs, "sslrootcert").map(PathBuf::from);
        let sslmode = last_value(&pairs, "sslmode").unwrap_or("prefer").to_owned();
        let (mode, check) = match sslmode.as_str() {
            "disable" => (SslMode::Disable, Check::Nothing),
            "allow" | "prefer" => (SslMode::Prefer, Check::Nothing),
            "require" if root.is_some() => (SslMode::Require, Check::Chain),
            "require" => (SslMode::Require, Check::Nothing),
            "verify-ca" => (SslMode::Require, Check::Chain),
            "verify-full" => (SslMode::Require, Check::ChainAndName),
            other => {
                return Err(format!(
                    "sslmode={other} is not one of disable, allow, prefer, require, verify-ca, verify-full"
                ));
            }
        };
        Ok((Self { mode, check, root }, rest))
    }

    /// The connector: rustls with the verifier the settings ask for.
    ///
    /// # Errors
    /// A message when `sslrootcert` cannot be read or holds no certificate.
    pub(crate) fn connector(&self) -> Result<MakeRustlsConnect, String> {
        let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
        let verifier: Arc<dyn ServerCertVerifier> = match self.check {
            Check::Nothing => Arc::new(EncryptOnly {
                algorithms: provider.signature_verification_algorithms,
            }),
            Check::Chain => Arc::new(ChainOnly(self.webpki(&provider)?)),
            Check::ChainAndName => self.webpki(&provider)?,
        };
        let config = ClientConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .map_err(|err| err.to_string())?
            .dangerous()
            .with_custom_certificate_verifier(verifier)
            .with_no_client_auth();
        Ok(MakeRustlsConnect::new(config))
    }

    /// rustls's verifier over `sslrootcert`'s roots, or the web's.
    fn webpki(&self, provider: &Arc<CryptoProvider>) -> Result<Arc<WebPkiServerVerifier>, String> {
        let mut roots = RootCertStore::empty();
        match &self.root {
            Some(file) => {
                let shown = file.display();
                let certificates = CertificateDer::pem_file_iter(file)
                    .map_err(|err| format!("sslrootcert {shown}: cannot read it: {err}"))?
                    .collect::<Result<Vec<_>, _>>()
                    .map_err(|err| format!("sslrootcert {shown}: not PEM certificates: {err}"))?;
                let (added, _) = roots.add_parsable_certificates(certificates);
                if added == 0 {
                    return Err(format!(
                        "sslrootcert {shown}: holds no certificate: expected the PEM of the database's certificate authority"
                    ));
                }
            }
            None => roots.extend(webpki_roots::TLS_SERVER_ROOTS.iter().cloned()),
        }
        WebPkiServerVerifier::builder_with_provider(Arc::new(roots), Arc::clone(provider))
            .build()
            .map_err(|err| err.to_string())
    }
}

/// `sslmode=prefer` and `require` as libpq has them: the session is encrypted and its
/// handshake signed by the certificate's key, whoever's certificate it is.
#[derive(Debug)]
struct EncryptOnly {
    algorithms: WebPkiSupportedAlgorithms,
}

impl ServerCertVerifier for EncryptOnly {
    fn verify_server_cert(
        &self,
        _end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp_response: &[u8],
        _now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        Ok(ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(message, cert, dss, &self.algorithms)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(message, cert, dss, &self.algorithms)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.algorithms.supported_schemes()
    }
}

/// `sslmode=verify-ca`: rustls's verification, but a certificate for another name passes.
struct ChainOnly(Arc<WebPkiServerVerifier>);

impl fmt::Debug for ChainOnly {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("ChainOnly")
    }
}

impl ServerCertVerifier for ChainOnly {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        server_name: &ServerName<'_>,
        ocsp_response: &[u8],
        now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        match self
            .0
            .verify_server_cert(end_entity, intermediates, server_name, ocsp_response, now)
        {
            Err(rustls::Error::InvalidCertificate(
                CertificateError::NotValidForName | CertificateError::NotValidForNameContext { .. },
            )) => Ok(ServerCertVerified::assertion()),
            other => other,
        }
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.0.verify_tls12_signature(message, cert, dss)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.0.verify_tls13_signature(message, cert, dss)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.0.supported_verify_schemes()
    }
}

/// The value `key` was last given among `pairs` (libpq takes the last of repeated ones).
pub(crate) fn last_value<'a>(pairs: &'a [(String, String)], key: &str) -> Option<&'a str> {
    pairs
        .iter()
        .rev()
        .find(|(name, _)| name == key)
        .map(|(_, value)| value.as_str())
}

/// The `keys` parameters of a connection string, taken out: their (key, value) pairs, and the
/// string without them. A URL's are in its query (`?sslmode=require&sslrootcert=ca.pem`,
/// percent-decoded); libpq's `key=value` form's are words of it (`sslmode=require`, a value
/// quoted with `'` when it holds spaces).
pub(crate) fn take_parameters(url: &str, keys: &[&str]) -> (Vec<(String, String)>, String) {
    let mut taken = Vec::new();
    if url.contains("://") {
        let Some((base, query)) = url.split_once('?') else {
            return (taken, url.to_owned());
        };
        let kept: Vec<&str> = query
            .split('&')
            .filter(|pair| {
                let (key, value) = pair.split_once('=').unwrap_or((pair, ""));
                let wanted = keys.contains(&key);
                if wanted {
                    taken.push((key.to_owned(), percent_decoded(value)));
                }
                !wanted
            })
            .collect();
        let rest = if kept.is_empty() {
            base.to_owned()
        } else {
            format!("{base}?{}", kept.join("&"))
        };
        return (taken, rest);
    }
    let mut kept = Vec::new();
    for word in key_value_words(url) {
        match word.split_once('=') {
            Some((key, value)) if keys.contains(&key.trim()) => {
                let value = value.trim();
                let value = value
                    .strip_prefix('\'')
                    .and_then(|value| value.strip_suffix('\''))
                    .unwrap_or(value);
                taken.push((key.trim().to_owned(), value.replace("\\'", "'")));
            }
            _ => kept.push(word),
        }
    }
    (taken, kept.join(" "))
}

/// The words of libpq's `key=value` form: split at spaces outside single quotes.
fn key_value_words(text: &str) -> Vec<String> {
    let mut words = Vec::new();
    let mut word = String::new();
    let mut quoted = false;
    let mut escaped = false;
    for c in text.chars() {
        match c {
            _ if escaped => {
                word.push(c);
                escaped = false;
            }
            '\\' => {
                word.push(c);
                escaped = true;
            }
            '\'' => {
                word.push(c);
                quoted = !quoted;
            }
            c if c.is_whitespace() && !quoted => {
                if !word.is_empty() {
                    words.push(std::mem::take(&mut word));
                }
            }
            c => word.push(c),
        }
    }
    if !word.is_empty() {
        words.push(word);
    }
    words
}

/// `%2F` as `/`, and so on; anything that is not a valid escape is kept as it is.
fn percent_decoded(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut index = 0;
    while index < bytes.len() {
        let escape = (bytes[index] == b'%')
            .then(|| bytes.get(index + 1..index + 3))
            .flatten()
            .and_then(|hex| u8::from_str_radix(std::str::from_utf8(hex).ok()?, 16).ok());
        if let Some(byte) = escape {
            out.push(byte);
            index += 3;
        } else {
            out.push(bytes[index]);
            index += 1;
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn libpq_s_modes_and_root_are_taken_out_of_both_forms() {
        let cases = [
            (
                "postgres://u@db/a",
                SslMode::Prefer,
                Check::Nothing,
                None,
                "postgres://u@db/a",
            ),
            (
                "postgres://u@db/a?sslmode=disable",
                SslMode::Disable,
                Check::Nothing,
                None,
                "postgres://u@db/a",
            ),
            (
                "postgres://u@db/a?application_name=x&sslmode=require&connect_timeout=3",
                SslMode::Require,
                Check::Nothing,
                None,
                "postgres://u@db/a?application_name=x&connect_timeout=3",
            ),
            (
                "postgres://u@db/a?sslmode=require&sslrootcert=%2Fetc%2Fca.pem",
                SslMode::Require,
                Check::Chain,
                Some("/etc/ca.pem"),
                "postgres://u@db/a",
            ),
            (
                "postgres://u@db/a?sslmode=verify-ca&sslrootcert=ca.pem",
                SslMode::Require,
                Check::Chain,
                Some("ca.pem"),
                "postgres://u@db/a",
            ),
            (
                "host=db user=u sslmode=verify-full sslrootcert='/etc/my ca.pem'",
                SslMode::Require,
                Check::ChainAndName,
                Some("/etc/my ca.pem"),
                "host=db user=u",
            ),
            (
                "host=db password='a b' sslmode=allow",
                SslMode::Prefer,
                Check::Nothing,
                None,
                "host=db password='a b'",
            ),
        ];
        for (url, mode, check, root, rest) in cases {
            let (settings, left) = TlsSettings::split(url).expect(url);
            assert_eq!(
                (settings.mode, settings.check, settings.root, left.as_str()),
                (mode, check, root.map(PathBuf::from), rest),
                "{url}"
            );
        }
        let refused = TlsSettings::split("postgres://u@db/a?sslmode=verify").unwrap_err();
        assert!(
            refused.contains("sslmode=verify is not one of disable, allow"),
            "{refused}"
        );
    }
}
