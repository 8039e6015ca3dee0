//! One SRV query with hickory, bounded by a timeout, turned into protocol records.

use std::sync::Arc;
use std::time::Duration;

use avatar_proto::SrvRecord;
use hickory_proto::rr::{Name, RData};
use hickory_resolver::TokioResolver;

/// What DNS said about one SRV name (see [`Discovery::lookup_now`](crate::Discovery::lookup_now)).
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum SrvAnswer {
    /// SRV records, in the order the server sent them, and the smallest TTL among them.
    Records {
        /// The records.
        records: Arc<[SrvRecord]>,
        /// The smallest TTL of the answer, in seconds.
        ttl: u32,
    },
    /// NXDOMAIN, or the name exists without SRV records.
    NoRecords,
    /// No answer within the lookup's timeout.
    TimedOut {
        /// The timeout.
        after: Duration,
    },
    /// Anything else: refusal, server failure, malformed answer, an unreachable nameserver.
    Failed {
        /// What went wrong, in words.
        reason: String,
    },
}

pub(crate) async fn srv(resolver: &TokioResolver, name: &str, timeout: Duration) -> SrvAnswer {
    let Ok(name) = Name::from_ascii(name) else {
        return SrvAnswer::Failed {
            reason: format!("{name:?} is not a DNS name"),
        };
    };
    // hickory has its own per-attempt timeout; this one bounds the whole lookup, whatever
    // the transport does (UDP retries, a TCP fallback).
    let lookup = match tokio::time::timeout(timeout, resolver.srv_lookup(name)).await {
        Err(_) => {
            tracing::debug!(?timeout, "SRV lookup timed out");
            return SrvAnswer::TimedOut { after: timeout };
        }
        Ok(Err(err)) if err.is_nx_domain() || err.is_no_records_found() => {
            return SrvAnswer::NoRecords;
        }
        Ok(Err(err)) => {
            tracing::debug!(error = %err, "SRV lookup failed");
            return SrvAnswer::Failed {
                reason: err.to_string(),
            };
        }
        Ok(Ok(lookup)) => lookup,
    };
    let mut ttl = u32::MAX;
    let records: Vec<SrvRecord> = lookup
        .answers()
        .iter()
        .filter_map(|record| match &record.data {
            RData::SRV(srv) => {
                ttl = ttl.min(record.ttl);
                // The ASCII form: `Name`'s Display turns punycode labels into Unicode, which the
                // sanitiser (rightly) refuses. Fully qualified names keep their trailing dot; the
                // sanitiser strips exactly one, and the root name "." stays "." (no service).
                Some(SrvRecord::new(
                    srv.priority,
                    srv.weight,
                    srv.port,
                    srv.target.to_ascii(),
                ))
            }
            _ => None,
        })
        .collect();
    if records.is_empty() {
        SrvAnswer::NoRecords
    } else {
        SrvAnswer::Records {
            records: records.into(),
            ttl,
        }
    }
}
