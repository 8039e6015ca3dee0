//! HTTPS: the certificate and key from PEM files, swapped for new ones on SIGHUP without
//! touching open connections.
//!
//! Each accepted connection takes the configuration current at that moment, so a reload
//! applies to new connections only; connections already open keep theirs until they close. A
//! pair that cannot be loaded (a missing file, a key that does not match the certificate) is
//! reported and the old pair kept: a botched renewal never takes the server down.

use std::path::{Path, PathBuf};
use std::sync::{Arc, RwLock};

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
    current: RwLock<Arc<ServerConfig>>,
}

impl ReloadableTls {
    /// Loads `cert` (a PEM chain, the server's certificate first) and `key` (its PEM private
    /// key).
    ///
    /// # Errors
    /// [`CliError::Tls`] naming the file and what is wrong with it.
    pub(crate) fn load(cert: &Path, key: &Path) -> Result<Self, CliError> {
        Ok(Self {
            current: RwLock::new(Arc::new(server_config(cert, key)?)),
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
        TlsAcceptor::from(Arc::clone(&current))
    }

    /// Reads both files again and, if they make a usable pair, uses them for new connections.
    ///
    /// # Errors
    /// [`CliError::Tls`] when they do not; the configuration in use is then unchanged.
    pub(crate) fn reload(&self) -> Result<(), CliError> {
        let fresh = Arc::new(server_config(&self.cert, &self.key)?);
        *self
            .current
            .write()
            .unwrap_or_else(std::sync::PoisonError::into_inner) = fresh;
        Ok(())
    }

    /// The certificate file, for messages.
    pub(crate) fn cert_path(&self) -> &Path {
        &self.cert
    }
}

/// A server configuration offering HTTP/2 and HTTP/1.1 by ALPN, with ring's safe defaults
/// (TLS 1.2 and 1.3).
fn server_config(cert: &Path, key: &Path) -> Result<ServerConfig, CliError> {
    let problem = |path: &Path, problem: String| CliError::Tls {
        path: path.to_owned(),
        problem,
    };
    let chain = CertificateDer::pem_file_iter(cert)
        .map_err(|err| problem(cert, format!("cannot read the certificate chain: {err}")))?
        .collect::<Result<Vec<_>, _>>()
        .map_err(|err| problem(cert, format!("not a PEM certificate chain: {err}")))?;
    if chain.is_empty() {
        return Err(problem(
            cert,
            "holds no certificate: expected PEM blocks starting with -----BEGIN CERTIFICATE-----"
                .into(),
        ));
    }
    let private_key = PrivateKeyDer::from_pem_file(key).map_err(|err| {
        problem(
            key,
            format!(
                "no usable private key ({err}): expected one PEM block of BEGIN PRIVATE KEY, BEGIN RSA PRIVATE KEY or BEGIN EC PRIVATE KEY"
            ),
        )
    })?;
    let mut config =
        ServerConfig::builder_with_provider(Arc::new(rustls::crypto::ring::default_provider()))
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
    Ok(config)
}
