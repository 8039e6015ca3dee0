//! HTTPS: the certificate and key from PEM files, swapped for new ones on SIGHUP without
//! touching open connections.
//!
//! Each accepted connection takes the configuration current at that moment, so a reload
//! applies to new connections only; connections already open keep theirs until they close. A
//! pair that cannot be loaded (a missing file, a key that does not match the certificate) is
//! reported and the old pair kept: a botched renewal never takes the server down.
//!
//! The certificate's expiry is read with it ([`ValidUntil`]): one that has expired, or will
//! within two weeks (a renewal that is not running), is warned of at start, on reload and by
//! `config check`, since clients refuse it without a word to the operator.

use std::path::{Path, PathBuf};
use std::sync::{Arc, RwLock};
use std::time::{Duration, SystemTime};

use rustls::ServerConfig;
use rustls::pki_types::pem::PemObject as _;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use tokio_rustls::TlsAcceptor;

use crate::error::CliError;

/// The TLS settings of the HTTPS listener, reloadable.
#[derive(Debug)]
pub(crate) struct ReloadableTls {
    cert: PathBuf,
    key: PathBuf,
    current: RwLock<(Arc<ServerConfig>, Option<ValidUntil>)>,
}

impl ReloadableTls {
    /// Loads `cert` (a PEM chain, the server's certificate first) and `key` (its PEM private
    /// key).
    ///
    /// # Errors
    /// [`CliError::Tls`] naming the file and what is wrong with it.
    pub(crate) fn load(cert: &Path, key: &Path) -> Result<Self, CliError> {
        let (config, valid_until) = server_config(cert, key)?;
        Ok(Self {
            current: RwLock::new((Arc::new(config), valid_until)),
            cert: cert.to_owned(),
            key: key.to_owned(),
        })
    }

    /// An acceptor with the configuration current now.
    pub(crate) fn acceptor(&self) -> TlsAcceptor {
        let current = self
            .current
            .read()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        TlsAcceptor::from(Arc::clone(&current.0))
    }

    /// When the certificate in use stops being valid (`None` if its dates could not be read:
    /// rustls accepted it, so this only costs the warning).
    pub(crate) fn valid_until(&self) -> Option<ValidUntil> {
        self.current
            .read()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .1
    }

    /// A warning when the certificate in use has expired or soon will ([`ValidUntil::warning`]).
    pub(crate) fn expiry_warning(&self) -> Option<String> {
        self.valid_until()?.warning(&self.cert, SystemTime::now())
    }

    /// Reads both files again and, if they make a usable pair, uses them for new connections.
    ///
    /// # Errors
    /// [`CliError::Tls`] when they do not; the configuration in use is then unchanged.
    pub(crate) fn reload(&self) -> Result<(), CliError> {
        let (config, valid_until) = server_config(&self.cert, &self.key)?;
        *self
            .current
            .write()
            .unwrap_or_else(std::sync::PoisonError::into_inner) = (Arc::new(config), valid_until);
        Ok(())
    }

    /// The certificate file, for messages.
    pub(crate) fn cert_path(&self) -> &Path {
        &self.cert
    }
}

/// When a certificate stops being valid: its `notAfter`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct ValidUntil {
    /// Seconds since the Unix epoch.
    timestamp: i64,
}

/// How long before its expiry a certificate is warned of: two weeks, when a renewal that runs
/// (certbot renews 30 days ahead) has long been done.
const WARN_BEFORE: Duration = Duration::from_secs(14 * 24 * 3600);

impl ValidUntil {
    /// The `notAfter` of a DER certificate, if it parses.
    fn of(certificate: &CertificateDer<'_>) -> Option<Self> {
        let (_, parsed) = x509_parser::parse_x509_certificate(certificate).ok()?;
        Some(Self {
            timestamp: parsed.validity().not_after.timestamp(),
        })
    }

    /// Seconds since the Unix epoch (0 for a date before it).
    pub(crate) fn timestamp(self) -> u64 {
        u64::try_from(self.timestamp).unwrap_or(0)
    }

    /// The day, as `YYYY-MM-DD` (UTC).
    pub(crate) fn date(self) -> String {
        x509_parser::time::ASN1Time::from_timestamp(self.timestamp).map_or_else(
            |_| self.timestamp.to_string(),
            |time| time.to_datetime().date().to_string(),
        )
    }

    /// What to tell the operator of `cert` at `now`: that it has expired, or expires within
    /// [`WARN_BEFORE`]; `None` otherwise.
    pub(crate) fn warning(self, cert: &Path, now: SystemTime) -> Option<String> {
        let now = now
            .duration_since(SystemTime::UNIX_EPOCH)
            .map_or(0, |since| {
                i64::try_from(since.as_secs()).unwrap_or(i64::MAX)
            });
        let left = self.timestamp.saturating_sub(now);
        let days = |seconds: i64| seconds.unsigned_abs().div_ceil(24 * 3600);
        let reload = "renew it, then send SIGHUP (`systemctl reload avatars`) to read it again";
        if left <= 0 {
            return Some(format!(
                "the TLS certificate {} expired on {} ({} day(s) ago): clients refuse it; {reload}",
                cert.display(),
                self.date(),
                days(left)
            ));
        }
        (left.unsigned_abs() < WARN_BEFORE.as_secs()).then(|| {
            format!(
                "the TLS certificate {} expires on {}, in {} day(s): is its renewal running? {reload}",
                cert.display(),
                self.date(),
                days(left)
            )
        })
    }
}

/// What to do about a certificate or key file that cannot be read: one the server's user may
/// not read is, most often, Let's Encrypt's, kept for root alone.
fn unreadable(err: &std::io::Error) -> &'static str {
    if err.kind() == std::io::ErrorKind::PermissionDenied {
        " (the server's user may not read it: Let's Encrypt keeps its files for root alone; \
         have certbot copy them where that user can on each renewal, as \
         deploy/certbot-deploy-hook does)"
    } else {
        ""
    }
}

/// A server configuration offering HTTP/2 and HTTP/1.1 by ALPN, with ring's safe defaults
/// (TLS 1.2 and 1.3), and when its certificate expires.
fn server_config(cert: &Path, key: &Path) -> Result<(ServerConfig, Option<ValidUntil>), CliError> {
    let problem = |path: &Path, problem: String| CliError::Tls {
        path: path.to_owned(),
        problem,
    };
    let read = |path: &Path, what: &str| {
        std::fs::read(path).map_err(|err| {
            problem(
                path,
                format!("cannot read the {what}: {err}{}", unreadable(&err)),
            )
        })
    };
    let (cert_pem, key_pem) = (read(cert, "certificate chain")?, read(key, "private key")?);
    let chain = CertificateDer::pem_slice_iter(&cert_pem)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|err| problem(cert, format!("not a PEM certificate chain: {err}")))?;
    if chain.is_empty() {
        return Err(problem(
            cert,
            "holds no certificate: expected PEM blocks starting with -----BEGIN CERTIFICATE-----"
                .into(),
        ));
    }
    let valid_until = ValidUntil::of(&chain[0]);
    let private_key = PrivateKeyDer::from_pem_slice(&key_pem).map_err(|err| {
        problem(
            key,
            format!(
                "no usable private key ({err}): expected one PEM block of BEGIN PRIVATE KEY, BEGIN RSA PRIVATE KEY or BEGIN EC PRIVATE KEY"
            ),
        )
    })?;
    let mut config =
        ServerConfig::builder_with_provider(Arc::new(rustls::crypto::aws_lc_rs::default_provider()))
            .with_safe_default_protocol_versions()
            .map_err(|err| problem(cert, err.to_string()))?
            .with_no_client_auth()
            .with_single_cert(chain, private_key)
            .map_err(|err| {
                problem(
                    key,
                    format!(
                        "does not go with {}: {err} (expected the private key of the chain's first certificate: RSA, ECDSA P-256/P-384 or Ed25519)",
                        cert.display()
                    ),
                )
            })?;
    config.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
    Ok((config, valid_until))
}

#[cfg(test)]
mod tests {
    use std::path::Path;
    use std::time::{Duration, SystemTime};

    use super::ValidUntil;

    /// 2027-03-01T00:00:00Z.
    const MARCH_1: i64 = 1_803_859_200;

    #[test]
    fn expiry_is_warned_of_two_weeks_ahead_and_after() {
        let until = ValidUntil { timestamp: MARCH_1 };
        assert_eq!(until.date(), "2027-03-01");
        let at =
            |seconds: i64| SystemTime::UNIX_EPOCH + Duration::from_secs(seconds.unsigned_abs());
        let day = 24 * 3600;
        let cert = Path::new("cert.pem");
        assert_eq!(until.warning(cert, at(MARCH_1 - 15 * day)), None);
        let soon = until.warning(cert, at(MARCH_1 - 3 * day)).unwrap();
        assert!(
            soon.contains("cert.pem expires on 2027-03-01, in 3 day(s)"),
            "{soon}"
        );
        let past = until.warning(cert, at(MARCH_1 + 2 * day)).unwrap();
        assert!(
            past.contains("cert.pem expired on 2027-03-01 (2 day(s) ago)"),
            "{past}"
        );
        assert!(past.contains("systemctl reload avatars"), "{past}");
    }
}
