//! `avatars serve --tls-addr`: a certificate chain from a test CA made here (rcgen), checked by
//! curl (HTTP/1.1 and HTTP/2 by ALPN) and by rustls; every key type an operator may have; a
//! reload on SIGHUP that new connections see while open ones go on; a bad pair refused.

use std::path::Path;
use std::process::Command;
use std::sync::Arc;
use std::time::{Duration, Instant};

use http_body_util::{BodyExt as _, Empty};
use rcgen::{
    BasicConstraints, CertificateParams, CertifiedIssuer, DnType, IsCa, KeyPair, KeyUsagePurpose,
};
use rustls::pki_types::{CertificateDer, ServerName};
use test_support::server::Server;
use tokio::net::TcpStream;
use tokio_rustls::TlsConnector;

use crate::{AVATARS, check_settings, folder_with_george, stderr};

const GEORGE_MD5: &str = "40f8d096a3777232204cb3f796c577b7";

/// A certificate authority made for one test.
pub(crate) struct TestCa {
    issuer: CertifiedIssuer<'static, KeyPair>,
}

impl TestCa {
    pub(crate) fn new() -> Self {
        let mut params = CertificateParams::new(Vec::<String>::new()).unwrap();
        params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        params.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
        params
            .distinguished_name
            .push(DnType::CommonName, "avatars test CA");
        Self {
            issuer: CertifiedIssuer::self_signed(params, KeyPair::generate().unwrap()).unwrap(),
        }
    }

    fn pem(&self) -> String {
        self.issuer.pem()
    }

    /// A server certificate for localhost and 127.0.0.1 with `key`'s public key, as a PEM
    /// chain (the server's certificate, then the CA's), and its DER.
    fn leaf(&self, key: &KeyPair) -> (String, CertificateDer<'static>) {
        let params =
            CertificateParams::new(vec!["localhost".to_owned(), "127.0.0.1".to_owned()]).unwrap();
        let leaf = params.signed_by(key, &self.issuer).unwrap();
        (format!("{}{}", leaf.pem(), self.pem()), leaf.der().clone())
    }

    /// As [`TestCa::leaf`], valid until the day `until` (year, month, day), as a PEM chain.
    pub(crate) fn leaf_until(&self, key: &KeyPair, until: (i32, u8, u8)) -> String {
        let mut params =
            CertificateParams::new(vec!["localhost".to_owned(), "127.0.0.1".to_owned()]).unwrap();
        params.not_before = rcgen::date_time_ymd(2020, 1, 1);
        params.not_after = rcgen::date_time_ymd(until.0, until.1, until.2);
        let leaf = params.signed_by(key, &self.issuer).unwrap();
        format!("{}{}", leaf.pem(), self.pem())
    }

    /// As [`TestCa::leaf`], valid from an hour ago for `days` days, as a PEM chain.
    fn leaf_for_days(&self, key: &KeyPair, days: u64) -> String {
        let since_epoch = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap();
        let now = rcgen::date_time_ymd(1970, 1, 1) + since_epoch;
        let mut params =
            CertificateParams::new(vec!["localhost".to_owned(), "127.0.0.1".to_owned()]).unwrap();
        params.not_before = now - Duration::from_secs(3600);
        params.not_after = now + Duration::from_secs(days * 86_400);
        // What RFC 5280 asks of a certificate a CA issues, and strict validators check.
        params.use_authority_key_identifier_extension = true;
        params
            .distinguished_name
            .push(DnType::CommonName, "localhost");
        let leaf = params.signed_by(key, &self.issuer).unwrap();
        format!("{}{}", leaf.pem(), self.pem())
    }

    /// Writes `cert.pem` and `key.pem` in `dir` for `key` (PEM as given), returning the leaf.
    pub(crate) fn install(
        &self,
        dir: &Path,
        key: &KeyPair,
        key_pem: &str,
    ) -> CertificateDer<'static> {
        let (chain, leaf) = self.leaf(key);
        std::fs::write(dir.join("cert.pem"), chain).unwrap();
        std::fs::write(dir.join("key.pem"), key_pem).unwrap();
        leaf
    }
}

/// `avatars serve` with George imported and HTTPS from `cert.pem` and `key.pem` in `dir`, and
/// `extra` arguments.
pub(crate) fn start_tls(dir: &Path, extra: &[&str]) -> Server {
    let mut args = vec![
        "--email",
        "george@example.com=george.png",
        "--tls-addr",
        "127.0.0.1:0",
        "--tls-cert",
        "cert.pem",
        "--tls-key",
        "key.pem",
    ];
    args.extend(extra);
    Server::start(AVATARS, dir, &args, true)
}

/// `curl` over HTTPS, trusting only the test CA: (status, HTTP version) as curl reports them;
/// the body goes to `body` in `dir`, the headers to `headers`.
fn curl(dir: &Path, https_addr: &str, version_flag: &str) -> (String, String) {
    let port = https_addr.rsplit(':').next().unwrap();
    let output = Command::new("curl")
        .current_dir(dir)
        .args([
            "-sS",
            "--max-time",
            "10",
            "--cacert",
            "ca.pem",
            "--resolve",
            &format!("localhost:{port}:127.0.0.1"),
            version_flag,
            "-D",
            "headers",
            "-o",
            "body",
            "-w",
            "%{http_code} %{http_version}",
            &format!("https://localhost:{port}/avatar/{GEORGE_MD5}?s=40"),
        ])
        .output()
        .expect("curl is installed (Debian's curl package)");
    assert!(output.status.success(), "curl: {}", stderr(&output));
    let text = String::from_utf8(output.stdout).unwrap();
    let (status, version) = text.split_once(' ').unwrap();
    (status.to_owned(), version.to_owned())
}

/// A private key made by openssl, as (PKCS#8 PEM for rcgen, the PEM the server is given).
fn openssl_rsa_key(dir: &Path) -> (String, String) {
    let run = |args: &[&str]| {
        let output = Command::new("openssl")
            .current_dir(dir)
            .args(args)
            .output()
            .expect("openssl is installed");
        assert!(
            output.status.success(),
            "openssl {args:?}: {}",
            stderr(&output)
        );
    };
    run(&[
        "genpkey",
        "-algorithm",
        "RSA",
        "-pkeyopt",
        "rsa_keygen_bits:2048",
        "-out",
        "rsa8.pem",
    ]);
    // The old PKCS#1 form (BEGIN RSA PRIVATE KEY), which many certificate tools still write.
    run(&["rsa", "-in", "rsa8.pem", "-traditional", "-out", "rsa1.pem"]);
    (
        std::fs::read_to_string(dir.join("rsa8.pem")).unwrap(),
        std::fs::read_to_string(dir.join("rsa1.pem")).unwrap(),
    )
}

#[test]
fn https_answers_http1_and_http2_for_every_key_type() {
    let dir = folder_with_george();
    let ca = TestCa::new();
    std::fs::write(dir.path().join("ca.pem"), ca.pem()).unwrap();
    let (rsa_pkcs8, rsa_pkcs1) = openssl_rsa_key(dir.path());
    let ecdsa = KeyPair::generate_for(&rcgen::PKCS_ECDSA_P256_SHA256).unwrap();
    let ecdsa384 = KeyPair::generate_for(&rcgen::PKCS_ECDSA_P384_SHA384).unwrap();
    let ed25519 = KeyPair::generate_for(&rcgen::PKCS_ED25519).unwrap();
    let rsa = KeyPair::from_pem(&rsa_pkcs8).unwrap();
    for (name, key, key_pem) in [
        ("ECDSA P-256", &ecdsa, ecdsa.serialize_pem()),
        ("ECDSA P-384", &ecdsa384, ecdsa384.serialize_pem()),
        ("Ed25519", &ed25519, ed25519.serialize_pem()),
        ("RSA, PKCS#1", &rsa, rsa_pkcs1.clone()),
    ] {
        ca.install(dir.path(), key, &key_pem);
        let server = start_tls(dir.path(), &[]);
        let https = server.https_addr.clone().unwrap();
        assert_eq!(
            curl(dir.path(), &https, "--http2"),
            ("200".to_owned(), "2".to_owned()),
            "{name}: HTTP/2 by ALPN"
        );
        let body = std::fs::read(dir.path().join("body")).unwrap();
        assert_eq!(test_support::suite::dimensions(&body), (40, 40), "{name}");
        assert_eq!(
            curl(dir.path(), &https, "--http1.1"),
            ("200".to_owned(), "1.1".to_owned()),
            "{name}: HTTP/1.1"
        );
        // The plain listener goes on beside it.
        assert_eq!(
            server.get(&format!("/avatar/{GEORGE_MD5}?s=40")).status,
            200
        );
    }
}

/// `--hsts-max-age-secs` sends `Strict-Transport-Security` over HTTPS, never over the plain
/// listener beside it; without it, HTTPS sends none.
#[test]
fn strict_transport_security_is_sent_over_https_only_and_only_when_asked() {
    let dir = folder_with_george();
    let ca = TestCa::new();
    std::fs::write(dir.path().join("ca.pem"), ca.pem()).unwrap();
    let key = KeyPair::generate_for(&rcgen::PKCS_ECDSA_P256_SHA256).unwrap();
    ca.install(dir.path(), &key, &key.serialize_pem());
    let hsts = |dir: &Path| {
        std::fs::read_to_string(dir.join("headers"))
            .unwrap()
            .lines()
            .find_map(|line| {
                line.strip_prefix("strict-transport-security: ")
                    .map(|value| value.trim().to_owned())
            })
    };
    for (extra, expected) in [
        (
            &["--hsts-max-age-secs", "31536000"][..],
            Some("max-age=31536000"),
        ),
        (&[][..], None),
    ] {
        let server = start_tls(dir.path(), extra);
        let https = server.https_addr.clone().unwrap();
        for version in ["--http2", "--http1.1"] {
            assert_eq!(curl(dir.path(), &https, version).0, "200");
            assert_eq!(hsts(dir.path()).as_deref(), expected, "{extra:?} {version}");
        }
        let plain = server.get(&format!("/avatar/{GEORGE_MD5}?s=40"));
        assert_eq!(plain.status, 200);
        assert_eq!(plain.header("strict-transport-security"), None, "{extra:?}");
    }
}

#[test]
fn a_certificate_that_does_not_fit_is_refused_at_start_with_the_reason() {
    let dir = folder_with_george();
    let ca = TestCa::new();
    let key = KeyPair::generate().unwrap();
    let other = KeyPair::generate().unwrap();
    ca.install(dir.path(), &key, &other.serialize_pem());
    std::fs::write(dir.path().join("empty.pem"), "").unwrap();
    for (cert, key, says) in [
        ("cert.pem", "key.pem", "does not go with cert.pem"),
        ("empty.pem", "key.pem", "holds no certificate"),
        ("cert.pem", "empty.pem", "no usable private key"),
        (
            "missing.pem",
            "key.pem",
            "cannot read the certificate chain",
        ),
    ] {
        let output = Command::new(AVATARS)
            .current_dir(dir.path())
            .args([
                "serve",
                "--addr",
                "127.0.0.1:0",
                "--tls-addr",
                "127.0.0.1:0",
                "--tls-cert",
                cert,
                "--tls-key",
                key,
            ])
            .output()
            .unwrap();
        assert_eq!(output.status.code(), Some(2), "{cert} {key}");
        let message = stderr(&output);
        assert!(message.contains(says), "{cert} {key}: {message}");
        // `config check` reads them as the server would, and says the same.
        let checked = check_settings(
            dir.path(),
            &format!("tls-addr = \"127.0.0.1:0\"\ntls-cert = \"{cert}\"\ntls-key = \"{key}\"\n"),
        );
        assert_eq!(checked.status.code(), Some(2), "check {cert} {key}");
        assert!(
            stderr(&checked).contains(says),
            "check {cert} {key}: {}",
            stderr(&checked)
        );
    }
    let fitting = KeyPair::generate().unwrap();
    ca.install(dir.path(), &fitting, &fitting.serialize_pem());
    let checked = check_settings(
        dir.path(),
        "tls-addr = \"127.0.0.1:0\"\ntls-cert = \"cert.pem\"\ntls-key = \"key.pem\"\n",
    );
    assert!(checked.status.success(), "{}", stderr(&checked));
    let said = String::from_utf8_lossy(&checked.stdout);
    assert!(
        said.contains("; read: the TLS certificate (valid until ") && said.ends_with(") and key\n"),
        "{said}"
    );
    // --tls-addr needs both files; the files need --tls-addr.
    let output = Command::new(AVATARS)
        .args([
            "serve",
            "--tls-addr",
            "127.0.0.1:0",
            "--tls-cert",
            "cert.pem",
        ])
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(2));
    assert!(stderr(&output).contains("--tls-key"), "{}", stderr(&output));
}

/// A rustls client trusting only `ca`, offering `alpn`.
fn connector(ca: &TestCa, alpn: &[&[u8]]) -> TlsConnector {
    connector_with(ca, alpn, rustls::crypto::aws_lc_rs::default_provider())
}

/// [`connector`] with the key exchanges, ciphers and signatures of `provider`.
fn connector_with(
    ca: &TestCa,
    alpn: &[&[u8]],
    provider: rustls::crypto::CryptoProvider,
) -> TlsConnector {
    let mut roots = rustls::RootCertStore::empty();
    roots.add(ca.issuer.der().clone()).unwrap();
    let mut config = rustls::ClientConfig::builder_with_provider(Arc::new(provider))
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_root_certificates(roots)
        .with_no_client_auth();
    config.alpn_protocols = alpn.iter().map(|protocol| protocol.to_vec()).collect();
    TlsConnector::from(Arc::new(config))
}

/// An HTTP/1.1 connection over TLS and the certificate the server presented.
async fn connect(
    ca: &TestCa,
    addr: &str,
) -> (
    hyper::client::conn::http1::SendRequest<Empty<bytes::Bytes>>,
    CertificateDer<'static>,
) {
    let tcp = TcpStream::connect(addr).await.unwrap();
    let tls = connector(ca, &[b"http/1.1"])
        .connect(ServerName::try_from("localhost").unwrap(), tcp)
        .await
        .unwrap();
    let presented = tls.get_ref().1.peer_certificates().unwrap()[0].clone();
    let (sender, connection) =
        hyper::client::conn::http1::handshake(hyper_util::rt::TokioIo::new(tls))
            .await
            .unwrap();
    tokio::spawn(connection);
    (sender, presented)
}

async fn status_of(
    sender: &mut hyper::client::conn::http1::SendRequest<Empty<bytes::Bytes>>,
) -> u16 {
    let request = hyper::Request::get(format!("/avatar/{GEORGE_MD5}?s=24"))
        .header("host", "localhost")
        .body(Empty::new())
        .unwrap();
    let response = sender.send_request(request).await.unwrap();
    let status = response.status().as_u16();
    response.into_body().collect().await.unwrap();
    status
}

/// Browsers offer the hybrid post-quantum key exchange first (X25519MLKEM768: Chrome and
/// Firefox since 2024), so recorded traffic cannot be decrypted later with a quantum computer;
/// the server takes it, and still speaks plain X25519 with a client that offers nothing else.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_key_exchange_is_post_quantum_with_clients_that_offer_it() {
    use rustls::NamedGroup;
    use rustls::crypto::aws_lc_rs::{default_provider, kx_group};

    let dir = folder_with_george();
    let ca = TestCa::new();
    let key = KeyPair::generate().unwrap();
    ca.install(dir.path(), &key, &key.serialize_pem());
    let server = start_tls(dir.path(), &[]);
    let https = server.https_addr.clone().unwrap();
    let negotiated = |provider| {
        let https = https.clone();
        let connector = connector_with(&ca, &[b"http/1.1"], provider);
        async move {
            let tcp = TcpStream::connect(&https).await.unwrap();
            let tls = connector
                .connect(ServerName::try_from("localhost").unwrap(), tcp)
                .await
                .unwrap();
            tls.get_ref()
                .1
                .negotiated_key_exchange_group()
                .unwrap()
                .name()
        }
    };
    assert_eq!(
        negotiated(default_provider()).await,
        NamedGroup::X25519MLKEM768
    );
    let classical = rustls::crypto::CryptoProvider {
        kx_groups: vec![kx_group::X25519],
        ..default_provider()
    };
    assert_eq!(negotiated(classical).await, NamedGroup::X25519);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sighup_reloads_the_certificate_for_new_connections_and_keeps_open_ones() {
    let dir = folder_with_george();
    let ca = TestCa::new();
    let first_key = KeyPair::generate().unwrap();
    let first = ca.install(dir.path(), &first_key, &first_key.serialize_pem());
    let mut server = start_tls(dir.path(), &[]);
    let https = server.https_addr.clone().unwrap();
    let (mut open, presented) = connect(&ca, &https).await;
    assert_eq!(presented, first);
    assert_eq!(status_of(&mut open).await, 200);

    // The certificate is renewed (a new key too) and the server told.
    let second_key = KeyPair::generate_for(&rcgen::PKCS_ED25519).unwrap();
    let second = ca.install(dir.path(), &second_key, &second_key.serialize_pem());
    server.signal("HUP");
    let started = Instant::now();
    loop {
        let (mut fresh, presented) = connect(&ca, &https).await;
        if presented == second {
            assert_eq!(status_of(&mut fresh).await, 200);
            break;
        }
        assert!(
            started.elapsed() < Duration::from_secs(10),
            "the new certificate is not served 10 s after SIGHUP"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    // The connection opened before the reload was not dropped.
    assert_eq!(status_of(&mut open).await, 200);

    // A botched renewal (a key that does not match) is refused; the good pair stays in use.
    let stray = KeyPair::generate().unwrap();
    std::fs::write(dir.path().join("key.pem"), stray.serialize_pem()).unwrap();
    server.signal("HUP");
    tokio::time::sleep(Duration::from_millis(500)).await;
    let (mut after, presented) = connect(&ca, &https).await;
    assert_eq!(presented, second, "the old pair is kept");
    assert_eq!(status_of(&mut after).await, 200);
    let log = server.stop_gracefully();
    assert!(
        log.contains("reloaded the TLS certificate from cert.pem"),
        "{log}"
    );
    assert!(
        log.contains("kept the TLS certificate in use") && log.contains("does not go with"),
        "{log}"
    );
}

/// An expired certificate is still served (clients decide), but the operator is told at
/// start, by `config check` and on reload, with the day it expired; a renewed one is reloaded
/// with the day it is valid until, and no warning.
#[test]
fn an_expired_certificate_is_warned_of_at_start_in_the_check_and_on_reload() {
    let dir = folder_with_george();
    let ca = TestCa::new();
    let key = KeyPair::generate().unwrap();
    std::fs::write(
        dir.path().join("cert.pem"),
        ca.leaf_until(&key, (2021, 3, 4)),
    )
    .unwrap();
    std::fs::write(dir.path().join("key.pem"), key.serialize_pem()).unwrap();
    // A key as it should be kept (one others may read is warned of too).
    std::fs::set_permissions(
        dir.path().join("key.pem"),
        std::os::unix::fs::PermissionsExt::from_mode(0o600),
    )
    .unwrap();
    let expired = "the TLS certificate cert.pem expired on 2021-03-04 (";

    let checked = check_settings(
        dir.path(),
        "tls-addr = \"127.0.0.1:0\"\ntls-cert = \"cert.pem\"\ntls-key = \"key.pem\"\n",
    );
    assert!(checked.status.success(), "{}", stderr(&checked));
    assert!(
        String::from_utf8_lossy(&checked.stdout)
            .contains("the TLS certificate (valid until 2021-03-04) and key"),
        "{}",
        String::from_utf8_lossy(&checked.stdout)
    );
    assert!(stderr(&checked).contains(expired), "{}", stderr(&checked));

    let mut server = start_tls(dir.path(), &["--admin-addr", "127.0.0.1:0"]);
    // The metric an alert is written on: the expiry, in seconds since the epoch.
    let expiry = |server: &Server| {
        let admin = server.admin_addr.clone().unwrap();
        let metrics = test_support::raw_http::get(&admin, "/metrics");
        crate::admin::count(
            &String::from_utf8(metrics.body).unwrap(),
            "avatars_tls_certificate_expiry_timestamp_seconds",
            &[],
        )
    };
    assert_eq!(expiry(&server), 1_614_816_000, "2021-03-04");
    std::fs::write(
        dir.path().join("cert.pem"),
        ca.leaf_until(&key, (2099, 12, 31)),
    )
    .unwrap();
    server.signal("HUP");
    let started = Instant::now();
    while expiry(&server) != 4_102_358_400 {
        assert!(
            started.elapsed() < Duration::from_secs(10),
            "2099-12-31 after the reload"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    let log = server.stop_gracefully();
    assert!(log.contains(expired), "at start:\n{log}");
    assert!(
        log.contains("reloaded the TLS certificate from cert.pem (valid until 2099-12-31)"),
        "{log}"
    );
    assert_eq!(
        log.matches("warning").count(),
        1,
        "renewed: no warning\n{log}"
    );
}

/// Let's Encrypt's files as certbot lays them out (`live/` and the key for root alone) cannot
/// be read by the server's user, and the check says so and what to do;
/// `deploy/certbot-deploy-hook`, run as certbot runs it, copies them where that user may read
/// them, reloads the server (here a stand-in `systemctl`: no systemd runs these tests), and
/// does so again on renewal.
#[test]
fn the_certbot_hook_gives_the_server_s_user_let_s_encrypt_s_files() {
    use std::os::unix::fs::{MetadataExt as _, PermissionsExt as _};
    if !test_support::is_root() {
        eprintln!("SKIPPED the_certbot_hook_...: needs root to run the check as nobody");
        return;
    }
    let mode = |path: &Path, mode: u32| {
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode)).unwrap();
    };
    let root = tempfile::tempdir().unwrap();
    mode(root.path(), 0o755);
    let ca = TestCa::new();
    let lineage = root.path().join("letsencrypt/live/avatars.example.org");
    std::fs::create_dir_all(&lineage).unwrap();
    let issue = |key: &KeyPair| {
        let (chain, _) = ca.leaf(key);
        std::fs::write(lineage.join("fullchain.pem"), &chain).unwrap();
        std::fs::write(lineage.join("privkey.pem"), key.serialize_pem()).unwrap();
        mode(&lineage.join("privkey.pem"), 0o600);
        chain
    };
    issue(&KeyPair::generate().unwrap());
    mode(&root.path().join("letsencrypt/live"), 0o700);
    mode(&root.path().join("letsencrypt"), 0o755);
    // The server's data, which nobody (the server's user here) may write.
    let data = root.path().join("data");
    std::fs::create_dir(&data).unwrap();
    mode(&data, 0o777);
    let settings = |cert: &Path, key: &Path| {
        format!(
            "tls-addr = \"127.0.0.1:0\"\ntls-cert = \"{}\"\ntls-key = \"{}\"\ndata-dir = \"{}\"\n",
            cert.display(),
            key.display(),
            data.join("store").display()
        )
    };
    std::fs::write(
        root.path().join("letsencrypt.toml"),
        settings(&lineage.join("fullchain.pem"), &lineage.join("privkey.pem")),
    )
    .unwrap();
    let tls = root.path().join("tls");
    std::fs::write(
        root.path().join("copies.toml"),
        settings(&tls.join("fullchain.pem"), &tls.join("privkey.pem")),
    )
    .unwrap();
    let (_bin, avatars) = crate::avatars_nobody_can_run();
    let check_as_nobody = |file: &str| crate::config_check_as_nobody(&avatars, root.path(), file);
    let refused = check_as_nobody("letsencrypt.toml");
    assert_eq!(refused.status.code(), Some(2), "{}", stderr(&refused));
    assert!(
        stderr(&refused)
            .contains("fullchain.pem: cannot read the certificate chain: Permission denied")
            && stderr(&refused).contains("Let's Encrypt keeps its files for root alone")
            && stderr(&refused).contains("deploy/certbot-deploy-hook"),
        "{}",
        stderr(&refused)
    );

    let (fake, asked) = systemctl_stand_in(root.path());
    let run_hook = |lineage: Option<&Path>| run_certbot_hook(&fake, &tls, lineage);
    let without = run_hook(None);
    assert!(!without.status.success());
    assert!(
        stderr(&without).contains("certbot sets RENEWED_LINEAGE"),
        "{}",
        stderr(&without)
    );

    let ran = run_hook(Some(&lineage));
    assert!(ran.status.success(), "{}", stderr(&ran));
    for file in ["fullchain.pem", "privkey.pem"] {
        let copy = std::fs::metadata(tls.join(file)).unwrap();
        assert_eq!(copy.mode() & 0o7777, 0o640, "{file}");
        assert_eq!(copy.uid(), 0, "{file}");
        assert_eq!(
            std::fs::read(tls.join(file)).unwrap(),
            std::fs::read(lineage.join(file)).unwrap()
        );
    }
    assert_eq!(
        std::fs::read_to_string(&asked).unwrap(),
        "is-active --quiet avatars\nreload avatars\n"
    );
    let checked = check_as_nobody("copies.toml");
    assert!(checked.status.success(), "{}", stderr(&checked));

    // Renewed: the copies follow, and the server is reloaded again.
    let renewed = issue(&KeyPair::generate().unwrap());
    assert!(run_hook(Some(&lineage)).status.success());
    assert_eq!(
        std::fs::read_to_string(tls.join("fullchain.pem")).unwrap(),
        renewed
    );
    assert_eq!(std::fs::read_to_string(&asked).unwrap().lines().count(), 4);
    assert!(check_as_nobody("copies.toml").status.success());
}

/// A stand-in for `systemctl` in a new `bin` folder under `dir`: it succeeds (so the server
/// counts as running) and notes each command line in `systemctl.log`. Both paths.
fn systemctl_stand_in(dir: &Path) -> (std::path::PathBuf, std::path::PathBuf) {
    use std::os::unix::fs::PermissionsExt as _;
    let bin = dir.join("bin");
    std::fs::create_dir(&bin).unwrap();
    let asked = dir.join("systemctl.log");
    std::fs::write(
        bin.join("systemctl"),
        format!("#!/bin/sh\necho \"$*\" >> {}\n", asked.display()),
    )
    .unwrap();
    std::fs::set_permissions(
        bin.join("systemctl"),
        std::fs::Permissions::from_mode(0o755),
    )
    .unwrap();
    (bin, asked)
}

/// `deploy/certbot-deploy-hook` as certbot runs it (with `RENEWED_LINEAGE`, unless `None`),
/// copying into `tls` for the group nogroup, with `bin`'s programs first on the path.
fn run_certbot_hook(bin: &Path, tls: &Path, lineage: Option<&Path>) -> std::process::Output {
    let hook = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../deploy/certbot-deploy-hook"
    );
    let mut command = Command::new("sh");
    command
        .arg(hook)
        .env(
            "PATH",
            format!("{}:{}", bin.display(), std::env::var("PATH").unwrap()),
        )
        .env("AVATARS_TLS_DIR", tls)
        .env("AVATARS_GROUP", "nogroup")
        .env_remove("RENEWED_LINEAGE");
    if let Some(lineage) = lineage {
        command.env("RENEWED_LINEAGE", lineage);
    }
    command.output().unwrap()
}

/// sslyze (PyPI, pinned by `scripts/ensure-api-tools.sh`) scans the HTTPS listener and finds it
/// compliant with Mozilla's "intermediate" TLS configuration (ssl-config.mozilla.org, the one
/// Mozilla recommends for servers most clients reach): TLS 1.2 and 1.3 only, forward-secret
/// AEAD suites, the curves it names, no compression, no insecure renegotiation, a certificate of
/// at most 366 days (a 90-day one here, as Let's Encrypt issues). A listener that took TLS 1.0
/// or a CBC suite fails here, whatever rustls's defaults become.
#[test]
fn sslyze_finds_the_https_listener_compliant_with_mozillas_intermediate_configuration() {
    let sslyze = std::env::var_os("AVATARS_SSLYZE")
        .map_or_else(
            || {
                Path::new(&std::env::var_os("HOME").unwrap_or_default())
                    .join(".cache/avatars-sslyze")
            },
            std::path::PathBuf::from,
        )
        .join("bin/sslyze");
    if !sslyze.exists() {
        eprintln!(
            "\n*** SKIPPED sslyze_finds_the_https_listener_compliant_with_mozillas_intermediate_\
             configuration: {} is missing (scripts/ensure-api-tools.sh). ***\n",
            sslyze.display()
        );
        return;
    }
    let dir = folder_with_george();
    let ca = TestCa::new();
    let key = KeyPair::generate().unwrap();
    std::fs::write(dir.path().join("cert.pem"), ca.leaf_for_days(&key, 90)).unwrap();
    std::fs::write(dir.path().join("key.pem"), key.serialize_pem()).unwrap();
    std::fs::write(dir.path().join("ca.pem"), ca.pem()).unwrap();
    let server = start_tls(dir.path(), &[]);
    let port = server
        .https_addr
        .as_deref()
        .unwrap()
        .rsplit(':')
        .next()
        .unwrap();
    let output = Command::new(&sslyze)
        .current_dir(dir.path())
        .args(["--mozilla_config=intermediate", "--certinfo_ca_file=ca.pem"])
        .arg(format!("localhost:{port}{{127.0.0.1}}"))
        .output()
        .unwrap();
    let report = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success() && report.contains(": OK - Compliant."),
        "sslyze: {}\n{report}{}",
        output.status,
        String::from_utf8_lossy(&output.stderr)
    );
}
