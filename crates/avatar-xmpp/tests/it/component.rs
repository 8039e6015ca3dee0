//! The XEP-0114 component against a fake server on 127.0.0.1 that plays the server side of the
//! protocol over real TCP: handshake, a malformed IQ and a query, then closing the stream or
//! refusing the secret.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use avatar_store::MemoryStore;
use avatar_xmpp::component::run;
use avatar_xmpp::{ComponentConfig, IqConfig, IqService, JidMapping};
use sha1::Digest as _;
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::mpsc;

const DOMAIN: &str = "avatars.localhost";
const SECRET: &str = "s3cret";

/// Reads until `marker` has arrived; returns everything read.
async fn read_until(stream: &mut TcpStream, marker: &str) -> String {
    let mut seen = Vec::new();
    let mut buffer = [0u8; 4096];
    loop {
        let read = tokio::time::timeout(Duration::from_secs(10), stream.read(&mut buffer))
            .await
            .expect("the component answers in time")
            .unwrap();
        assert!(
            read > 0,
            "the component closed the connection; so far: {}",
            String::from_utf8_lossy(&seen)
        );
        seen.extend_from_slice(&buffer[..read]);
        let text = String::from_utf8_lossy(&seen);
        if text.contains(marker) {
            return text.into_owned();
        }
    }
}

/// Accepts components; for each connection reports the handshake verdict and, if accepted,
/// the reply to a disco#info query, then closes the stream.
async fn fake_server(
    secret: &'static str,
) -> (String, mpsc::UnboundedReceiver<String>, Arc<AtomicUsize>) {
    fake_server_with(secret, false).await
}

/// As [`fake_server`]; with `conflict`, every accepted session is ended at once with a
/// `conflict` stream error (another component took the domain).
async fn fake_server_with(
    secret: &'static str,
    conflict: bool,
) -> (String, mpsc::UnboundedReceiver<String>, Arc<AtomicUsize>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap().to_string();
    let (events, received) = mpsc::unbounded_channel();
    let connections = Arc::new(AtomicUsize::new(0));
    let counted = Arc::clone(&connections);
    tokio::spawn(async move {
        loop {
            let (mut stream, _) = listener.accept().await.unwrap();
            let number = counted.fetch_add(1, Ordering::SeqCst) + 1;
            let stream_id = format!("stream{number}");
            read_until(&mut stream, ">").await;
            let header = format!(
                "<?xml version='1.0'?><stream:stream xmlns='jabber:component:accept' \
                 xmlns:stream='http://etherx.jabber.org/streams' from='{DOMAIN}' id='{stream_id}'>"
            );
            stream.write_all(header.as_bytes()).await.unwrap();
            let handshake = read_until(&mut stream, "</handshake>").await;
            let digest = handshake
                .split("<handshake>")
                .nth(1)
                .unwrap()
                .split("</handshake>")
                .next()
                .unwrap()
                .to_owned();
            let expected: [u8; 20] = sha1::Sha1::digest(format!("{stream_id}{secret}")).into();
            let expected = avatar_proto::hex::encode_lower(&expected);
            if digest != expected {
                let refusal = "<stream:error><not-authorized xmlns='urn:ietf:params:xml:ns:xmpp-streams'/></stream:error></stream:stream>";
                stream.write_all(refusal.as_bytes()).await.unwrap();
                let _ = events.send("not-authorized".to_owned());
                continue;
            }
            stream.write_all(b"<handshake/>").await.unwrap();
            if conflict {
                let error = "<stream:error><conflict xmlns='urn:ietf:params:xml:ns:xmpp-streams'/></stream:error></stream:stream>";
                stream.write_all(error.as_bytes()).await.unwrap();
                let _ = events.send("conflict".to_owned());
                continue;
            }
            // A malformed IQ (a get with no payload) must get bad-request, not end the session.
            let malformed =
                format!("<iq type='get' id='m{number}' from='user@localhost/test' to='{DOMAIN}'/>");
            stream.write_all(malformed.as_bytes()).await.unwrap();
            let refusal = read_until(&mut stream, "</iq>").await;
            let query = format!(
                "<iq type='get' id='d{number}' from='user@localhost/test' to='{DOMAIN}'>\
                 <query xmlns='http://jabber.org/protocol/disco#info'/></iq>"
            );
            stream.write_all(query.as_bytes()).await.unwrap();
            let reply = read_until(&mut stream, "</iq>").await;
            let _ = events.send(format!("{refusal}{reply}"));
            // Close the stream: the component must come back.
            stream.write_all(b"</stream:stream>").await.unwrap();
            drop(stream);
        }
    });
    (addr, received, connections)
}

fn service() -> IqService<MemoryStore> {
    IqService::new(
        MemoryStore::new(),
        IqConfig::new(JidMapping::new(DOMAIN).identity_domain("localhost")),
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn answers_and_reconnects_after_the_server_closes_the_stream() {
    let (addr, mut events, connections) = fake_server(SECRET).await;
    let config = ComponentConfig::new(addr, DOMAIN, SECRET)
        .unwrap()
        .backoff(Duration::from_millis(50), Duration::from_millis(200));
    let component = Running::start(config);
    for session in 1..=2 {
        let reply = tokio::time::timeout(Duration::from_secs(20), events.recv())
            .await
            .unwrap()
            .unwrap();
        assert!(
            reply.contains(&format!("id=\"d{session}\""))
                || reply.contains(&format!("id='d{session}'")),
            "{reply}"
        );
        assert!(
            reply.contains("jabber:iq:avatar"),
            "session {session}: {reply}"
        );
        assert!(
            reply.contains("bad-request") && reply.contains(&format!("m{session}")),
            "a malformed IQ gets bad-request and the session goes on: {reply}"
        );
    }
    assert!(connections.load(Ordering::SeqCst) >= 2);
    component.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_refused_secret_is_retried_with_backoff() {
    let (addr, mut events, _) = fake_server("the server's secret").await;
    let config = ComponentConfig::new(addr, DOMAIN, "a wrong secret")
        .unwrap()
        .backoff(Duration::from_millis(20), Duration::from_millis(100));
    let component = Running::start(config);
    expect_events(&mut events, 3, "not-authorized").await;
    let log = component.log.text();
    assert!(
        log.contains("handshake refused: not-authorized (the secret is not the one the XMPP server has for this component"),
        "{log}"
    );
    component.stop().await;
}

/// Nothing listening at the address: the log says what should be there, and it is retried.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_closed_port_is_retried_and_the_log_says_what_should_listen_there() {
    let addr = test_support::silent::closed_address().to_string();
    let config = ComponentConfig::new(addr, DOMAIN, SECRET)
        .unwrap()
        .backoff(Duration::from_millis(20), Duration::from_millis(100));
    let component = Running::start(config);
    let said = "(nothing listens there: is it the XMPP server's component port, 5347 by default?)";
    for _ in 0..500 {
        if component.log.text().matches(said).count() >= 2 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let log = component.log.text();
    assert!(
        log.matches(said).count() >= 2,
        "tried again, saying so:\n{log}"
    );
    component.stop().await;
}

/// A server that accepts the connection and never says a word: each attempt gives up after
/// the connect timeout and is tried again, instead of waiting on the stream's read timeouts.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_server_that_never_answers_is_retried_after_the_connect_timeout() {
    let silent = test_support::silent::SilentServer::start();
    let config = ComponentConfig::new(silent.addr().to_string(), DOMAIN, SECRET)
        .unwrap()
        .connect_timeout(Duration::from_millis(300))
        .backoff(Duration::from_millis(20), Duration::from_millis(100));
    let component = Running::start(config);
    // Each attempt would otherwise wait 90 s of stream timeouts.
    let started = tokio::time::Instant::now();
    while silent.accepted() < 3 {
        assert!(
            started.elapsed() < Duration::from_secs(20),
            "{} attempt(s) in 20 s",
            silent.accepted()
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let log = component.log.text();
    assert!(
        log.contains("no handshake within 300ms: the server accepted but did not answer"),
        "{log}"
    );
    component.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_conflict_ends_the_session_and_the_component_comes_back() {
    let (addr, mut events, connections) = fake_server_with(SECRET, true).await;
    let config = ComponentConfig::new(addr, DOMAIN, SECRET)
        .unwrap()
        .backoff(Duration::from_millis(20), Duration::from_millis(100));
    let component = Running::start(config);
    expect_events(&mut events, 3, "conflict").await;
    assert!(connections.load(Ordering::SeqCst) >= 3);
    component.stop().await;
}

/// A component running in the background until stopped.
struct Running {
    stop: tokio::sync::oneshot::Sender<()>,
    task: tokio::task::JoinHandle<()>,
    /// What it logged.
    log: test_support::log::Captured,
}

impl Running {
    fn start(config: ComponentConfig) -> Self {
        use tracing::instrument::WithSubscriber as _;
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let log = test_support::log::Captured::default();
        let running = run(config, service(), async move {
            let _ = stopped.await;
        });
        let task = tokio::spawn(running.with_subscriber(log.subscriber()));
        Self { stop, task, log }
    }

    /// Stops it and checks that it does stop.
    async fn stop(self) {
        self.stop.send(()).unwrap();
        tokio::time::timeout(Duration::from_secs(5), self.task)
            .await
            .unwrap()
            .unwrap();
    }
}

/// The next `count` server events are all `expected`.
async fn expect_events(events: &mut mpsc::UnboundedReceiver<String>, count: usize, expected: &str) {
    for _ in 0..count {
        let event = tokio::time::timeout(Duration::from_secs(20), events.recv())
            .await
            .unwrap()
            .unwrap();
        assert_eq!(event, expected);
    }
}

/// A stanza larger than `max_stanza_bytes` ends the session (the reader would otherwise keep
/// all of it in memory), and the component comes back.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_oversized_stanza_ends_the_session_and_the_component_comes_back() {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap().to_string();
    let (events, mut received) = mpsc::unbounded_channel();
    tokio::spawn(async move {
        for number in 1..=2 {
            let (mut stream, _) = listener.accept().await.unwrap();
            read_until(&mut stream, ">").await;
            let header = format!(
                "<?xml version='1.0'?><stream:stream xmlns='jabber:component:accept' \
                 xmlns:stream='http://etherx.jabber.org/streams' from='{DOMAIN}' id='big{number}'>"
            );
            stream.write_all(header.as_bytes()).await.unwrap();
            read_until(&mut stream, "</handshake>").await;
            stream.write_all(b"<handshake/>").await.unwrap();
            // 4 MiB of base64 that never ends, against a 1 MiB limit.
            let start = format!(
                "<iq type='set' id='u{number}' from='a@localhost/r' to='{DOMAIN}'>\
                 <query xmlns='storage:client:avatar'><data mimetype='image/png'>"
            );
            let mut sent = stream.write_all(start.as_bytes()).await.is_ok();
            let chunk = vec![b'A'; 64 << 10];
            for _ in 0..64 {
                if !sent {
                    break;
                }
                sent = stream.write_all(&chunk).await.is_ok();
            }
            // The component hangs up: the rest of the stream reads as the end, or a reset.
            let mut rest = [0u8; 1024];
            let closed = loop {
                match tokio::time::timeout(Duration::from_secs(10), stream.read(&mut rest)).await {
                    Ok(Ok(0) | Err(_)) => break true,
                    Ok(Ok(_)) => {}
                    Err(_) => break false,
                }
            };
            let _ = events.send(format!("session {number}: closed={closed}"));
        }
    });
    let config = ComponentConfig::new(addr, DOMAIN, SECRET)
        .unwrap()
        .backoff(Duration::from_millis(20), Duration::from_millis(100))
        .max_stanza_bytes(1 << 20);
    let component = Running::start(config);
    for number in 1..=2 {
        let event = tokio::time::timeout(Duration::from_secs(30), received.recv())
            .await
            .unwrap()
            .unwrap();
        assert_eq!(event, format!("session {number}: closed=true"));
    }
    component.stop().await;
}
