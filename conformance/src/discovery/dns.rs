//! The fake DNS server the discovery cases run against: the zones kept in `conformance/zones/`,
//! plus junk answers that zone text cannot spell.

use std::net::SocketAddr;

use avatar_discovery::fake_dns::{BlackHole, FakeDns};
use hickory_proto::rr::rdata::SRV;
use hickory_proto::rr::{Name, RData, Record};

use crate::error::ConformanceError;

/// The zone files, in the repository under `conformance/zones/`.
pub const ZONES: [(&str, &str); 2] = [
    (
        "example.org.zone",
        include_str!("../../zones/example.org.zone"),
    ),
    (
        "xn--bcher-kva.example.zone",
        include_str!("../../zones/xn--bcher-kva.example.zone"),
    ),
];

/// SRV answers with byte-level junk in the target, one per name under `example.org`: each
/// `(subdomain, target labels)` becomes `_avatars._tcp.SUBDOMAIN.example.org. SRV 0 0 80 TARGET`.
pub const JUNK_TARGETS: [(&str, &[&[u8]]); 4] = [
    ("junk-space", &[b"ev il", b"example", b"org"]),
    ("junk-slash", &[b"evil.example", b"org/x"]),
    ("junk-at", &[b"user@evil", b"example", b"org"]),
    ("junk-colon", &[b"evil:8080", b"example", b"org"]),
];

/// The fake DNS server and a nameserver that never answers, both on 127.0.0.1.
#[derive(Debug)]
pub struct Nameservers {
    dns: FakeDns,
    black_hole: BlackHole,
}

impl Nameservers {
    /// Starts both.
    ///
    /// # Errors
    /// [`ConformanceError::Dns`] if a zone does not load or no port can be bound;
    /// [`ConformanceError::Record`] if a junk record cannot be built.
    pub async fn start() -> Result<Self, ConformanceError> {
        let zones: Vec<&str> = ZONES.iter().map(|(_, text)| *text).collect();
        let dns = FakeDns::start_with_records(&zones, junk_records()?).await?;
        let black_hole = BlackHole::start().await?;
        Ok(Self { dns, black_hole })
    }

    /// The fake DNS server's address.
    #[must_use]
    pub const fn dns(&self) -> SocketAddr {
        self.dns.addr()
    }

    /// How many queries the fake DNS server has had for `name`.
    #[must_use]
    pub fn queries_for(&self, name: &str) -> usize {
        self.dns.queries_for(name)
    }

    /// The address of the nameserver that never answers.
    #[must_use]
    pub const fn black_hole(&self) -> SocketAddr {
        self.black_hole.addr()
    }
}

fn junk_records() -> Result<Vec<Record>, ConformanceError> {
    JUNK_TARGETS
        .iter()
        .map(|(subdomain, labels)| {
            let name = Name::from_ascii(format!("_avatars._tcp.{subdomain}.example.org."))?;
            let mut target = Name::from_labels(labels.iter().copied())?;
            target.set_fqdn(true);
            Ok(Record::from_rdata(
                name,
                300,
                RData::SRV(SRV::new(0, 0, 80, target)),
            ))
        })
        .collect()
}
