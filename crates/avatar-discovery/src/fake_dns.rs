//! An in-process DNS server for tests and the conformance harness: hickory-server answering from
//! in-memory zones given as zone-file text, on UDP and TCP at one ephemeral port of 127.0.0.1.
//! Dropping it stops it. Names outside its zones are REFUSED, like any authoritative-only server.
//! An answer with several records comes in a different order each time (rotated by one place per
//! query), as real servers' round robin does, so a client cannot pass by always taking the first.
//!
//! [`BlackHole`] is the opposite: a nameserver address that accepts queries and never answers.

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use hickory_proto::rr::{LowerName, Record, RecordSet, RecordType, RrKey, TSigResponseContext};
use hickory_proto::serialize::txt::Parser;
use hickory_resolver::net::runtime::TokioRuntimeProvider;
use hickory_server::Server;
use hickory_server::server::{Request, RequestInfo};
use hickory_server::store::in_memory::InMemoryZoneHandler;
use hickory_server::zone_handler::{
    AuthLookup, AxfrPolicy, Catalog, LookupControlFlow, LookupOptions, LookupRecords, ZoneHandler,
    ZoneType,
};
use tokio::net::{TcpListener, UdpSocket};
use tokio::task::JoinHandle;

use crate::error::DiscoveryError;

/// A running DNS server with fixed zones.
pub struct FakeDns {
    addr: SocketAddr,
    queries: Queries,
    _server: Server<Catalog>,
}

/// How many queries each name got (lowercase, without the trailing dot).
type Queries = Arc<std::sync::Mutex<std::collections::HashMap<String, usize>>>;

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
        let queries = Queries::default();
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
            let rotating = Rotating {
                inner: handler,
                turns: AtomicUsize::new(0),
                queries: Arc::clone(&queries),
            };
            catalog.upsert(LowerName::from(&origin), vec![Arc::new(rotating)]);
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
            queries,
            _server: server,
        })
    }

    /// How many queries (of any type) `name` has had so far: what a client's own caching
    /// saves. `name` is compared without case or trailing dot.
    #[must_use]
    pub fn queries_for(&self, name: &str) -> usize {
        let key = name.trim_end_matches('.').to_ascii_lowercase();
        self.queries
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .get(&key)
            .copied()
            .unwrap_or(0)
    }

    /// Where it listens (UDP and TCP, same port).
    #[must_use]
    pub const fn addr(&self) -> SocketAddr {
        self.addr
    }
}

/// An in-memory zone whose answers of several records rotate by one place per query, counting
/// the queries per name.
struct Rotating {
    inner: InMemoryZoneHandler<TokioRuntimeProvider>,
    turns: AtomicUsize,
    queries: Queries,
}

impl Rotating {
    /// `flow` with its answers rotated, when it has more than one of one name and type.
    fn rotate(
        &self,
        flow: LookupControlFlow<AuthLookup>,
        options: LookupOptions,
    ) -> LookupControlFlow<AuthLookup> {
        match flow {
            LookupControlFlow::Continue(Ok(lookup)) => {
                LookupControlFlow::Continue(Ok(self.rotated(lookup, options)))
            }
            LookupControlFlow::Break(Ok(lookup)) => {
                LookupControlFlow::Break(Ok(self.rotated(lookup, options)))
            }
            other => other,
        }
    }

    fn rotated(&self, lookup: AuthLookup, options: LookupOptions) -> AuthLookup {
        let AuthLookup::Records {
            answers,
            additionals,
        } = lookup
        else {
            return lookup;
        };
        let mut records: Vec<Record> = answers.iter().cloned().collect();
        let same_set = records
            .first()
            .map(|first| (first.name.clone(), first.record_type()));
        let Some((name, record_type)) = same_set.filter(|(name, record_type)| {
            records.len() > 1
                && records
                    .iter()
                    .all(|record| record.name == *name && record.record_type() == *record_type)
        }) else {
            return AuthLookup::Records {
                answers,
                additionals,
            };
        };
        let turn = self.turns.fetch_add(1, Ordering::Relaxed) % records.len();
        records.rotate_left(turn);
        let mut set = RecordSet::new(name, record_type, 0);
        for record in records {
            set.insert(record, 0);
        }
        AuthLookup::answers(LookupRecords::new(options, Arc::new(set)), additionals)
    }
}

#[async_trait::async_trait]
impl ZoneHandler for Rotating {
    fn zone_type(&self) -> ZoneType {
        self.inner.zone_type()
    }

    fn axfr_policy(&self) -> AxfrPolicy {
        self.inner.axfr_policy()
    }

    fn origin(&self) -> &LowerName {
        self.inner.origin()
    }

    async fn lookup(
        &self,
        name: &LowerName,
        record_type: RecordType,
        request_info: Option<&RequestInfo<'_>>,
        options: LookupOptions,
    ) -> LookupControlFlow<AuthLookup> {
        let flow = self
            .inner
            .lookup(name, record_type, request_info, options)
            .await;
        self.rotate(flow, options)
    }

    async fn search(
        &self,
        request: &Request,
        options: LookupOptions,
    ) -> (LookupControlFlow<AuthLookup>, Option<TSigResponseContext>) {
        if let Ok(info) = request.request_info() {
            let name = info.query.name().to_string();
            let key = name.trim_end_matches('.').to_ascii_lowercase();
            *self
                .queries
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner)
                .entry(key)
                .or_default() += 1;
        }
        let (flow, signature) = self.inner.search(request, options).await;
        (self.rotate(flow, options), signature)
    }

    async fn nsec_records(
        &self,
        name: &LowerName,
        options: LookupOptions,
    ) -> LookupControlFlow<AuthLookup> {
        self.inner.nsec_records(name, options).await
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
