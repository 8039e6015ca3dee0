//! An in-process DNS server for tests and the conformance harness: hickory-server answering from
//! in-memory zones given as zone-file text, on UDP and TCP at one ephemeral port of 127.0.0.1.
//! Dropping it stops it. Names outside its zones are REFUSED, like any authoritative-only server.
//!
//! [`BlackHole`] is the opposite: a nameserver address that accepts queries and never answers.

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use hickory_proto::rr::{LowerName, Record, RecordSet, RrKey};
use hickory_proto::serialize::txt::Parser;
use hickory_resolver::net::runtime::TokioRuntimeProvider;
use hickory_server::Server;
use hickory_server::store::in_memory::InMemoryZoneHandler;
use hickory_server::zone_handler::{AxfrPolicy, Catalog, ZoneType};
use tokio::net::{TcpListener, UdpSocket};
use tokio::task::JoinHandle;

use crate::error::DiscoveryError;

/// A running DNS server with fixed zones.
pub struct FakeDns {
    addr: SocketAddr,
    _server: Server<Catalog>,
}

impl std::fmt::Debug for FakeDns {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FakeDns")
            .field("addr", &self.addr)
            .finish_non_exhaustive()
    }
}

impl FakeDns {
    /// Starts a server for `zones`, each the text of a zone file with an `$ORIGIN` and an SOA
    /// record (an in-memory zone needs one).
    ///
    /// # Errors
    /// [`DiscoveryError::ZoneText`] for zone text that does not parse, [`DiscoveryError::Zone`]
    /// for a zone hickory-server cannot serve (no SOA, say);
    /// [`DiscoveryError::Bind`] if no port could be bound.
    pub async fn start(zones: &[&str]) -> Result<Self, DiscoveryError> {
        Self::start_with_records(zones, Vec::new()).await
    }

    /// As [`FakeDns::start`], plus `extra` records added to the zone they fall in. Zone text
    /// cannot spell every answer a hostile server might send (hickory's parser refuses escaped
    /// bytes and inner underscores in names); records built in code can, such as an SRV target
    /// whose label holds a space or a slash.
    ///
    /// # Errors
    /// As [`FakeDns::start`]; [`DiscoveryError::RecordOutsideZones`] for an extra record outside
    /// every zone.
    pub async fn start_with_records(
        zones: &[&str],
        mut extra: Vec<Record>,
    ) -> Result<Self, DiscoveryError> {
        let mut catalog = Catalog::new();
        for text in zones {
            let (origin, mut records) = Parser::new(*text, None, None)
                .parse()
                .map_err(|source| DiscoveryError::ZoneText { source })?;
            let (inside, outside): (Vec<Record>, Vec<Record>) = extra
                .into_iter()
                .partition(|record| origin.zone_of(&record.name));
            extra = outside;
            for record in inside {
                let key = RrKey::new(LowerName::from(&record.name), record.record_type());
                records
                    .entry(key)
                    .or_insert_with(|| RecordSet::new(record.name.clone(), record.record_type(), 0))
                    .insert(record, 0);
            }
            let handler = InMemoryZoneHandler::<TokioRuntimeProvider>::new(
                origin.clone(),
                records,
                ZoneType::Primary,
                AxfrPolicy::Deny,
            )
            .map_err(|reason| DiscoveryError::Zone {
                origin: origin.to_string(),
                reason,
            })?;
            catalog.upsert(LowerName::from(&origin), vec![Arc::new(handler)]);
        }
        if let Some(record) = extra.first() {
            return Err(DiscoveryError::RecordOutsideZones {
                name: record.name.to_string(),
            });
        }
        let (udp, tcp) = bind_pair().await?;
        let addr = udp.local_addr().map_err(DiscoveryError::Bind)?;
        let mut server = Server::new(catalog);
        server.register_socket(udp);
        server.register_listener(tcp, Duration::from_secs(5), 64);
        Ok(Self {
            addr,
            _server: server,
        })
    }

    /// Where it listens (UDP and TCP, same port).
    #[must_use]
    pub const fn addr(&self) -> SocketAddr {
        self.addr
    }
}

/// A UDP socket and a TCP listener on the same free port of 127.0.0.1.
async fn bind_pair() -> Result<(UdpSocket, TcpListener), DiscoveryError> {
    let mut last_error = None;
    for _ in 0..20 {
        let udp = UdpSocket::bind("127.0.0.1:0")
            .await
            .map_err(DiscoveryError::Bind)?;
        let addr = udp.local_addr().map_err(DiscoveryError::Bind)?;
        match TcpListener::bind(addr).await {
            Ok(tcp) => return Ok((udp, tcp)),
            Err(err) => last_error = Some(err),
        }
    }
    Err(DiscoveryError::Bind(last_error.unwrap_or_else(|| {
        std::io::Error::other("no free port pair")
    })))
}

/// A nameserver that never answers: UDP queries are read and dropped, TCP connections are
/// accepted and left hanging. Dropping it closes both.
pub struct BlackHole {
    addr: SocketAddr,
    queries: Arc<AtomicUsize>,
    tasks: Vec<JoinHandle<()>>,
}

impl std::fmt::Debug for BlackHole {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("BlackHole")
            .field("addr", &self.addr)
            .finish_non_exhaustive()
    }
}

impl BlackHole {
    /// Binds a free port pair on 127.0.0.1.
    ///
    /// # Errors
    /// [`DiscoveryError::Bind`] if no port could be bound.
    pub async fn start() -> Result<Self, DiscoveryError> {
        let (udp, tcp) = bind_pair().await?;
        let addr = udp.local_addr().map_err(DiscoveryError::Bind)?;
        let queries = Arc::new(AtomicUsize::new(0));
        let counted = Arc::clone(&queries);
        let swallow_udp = tokio::spawn(async move {
            let mut buffer = [0u8; 1500];
            while udp.recv_from(&mut buffer).await.is_ok() {
                counted.fetch_add(1, Ordering::SeqCst);
            }
        });
        let counted = Arc::clone(&queries);
        let hold_tcp = tokio::spawn(async move {
            let mut held = Vec::new();
            while let Ok((stream, _)) = tcp.accept().await {
                counted.fetch_add(1, Ordering::SeqCst);
                held.push(stream);
            }
        });
        Ok(Self {
            addr,
            queries,
            tasks: vec![swallow_udp, hold_tcp],
        })
    }

    /// Its address.
    #[must_use]
    pub const fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// How many queries (UDP datagrams and TCP connections) it has swallowed.
    #[must_use]
    pub fn queries(&self) -> usize {
        self.queries.load(Ordering::SeqCst)
    }
}

impl Drop for BlackHole {
    fn drop(&mut self) {
        for task in &self.tasks {
            task.abort();
        }
    }
}
