//! A conformance suite for Libravatar servers and clients and XMPP avatar services.
//!
//! Cases are data ([`Case`]: id, title, source, level, check) in five groups:
//! `libravatar-server`, `libravatar-discovery`, `xep-0008`, `xep-0153` and `xep-0084`. The
//! runner points each group at a target: this project's implementation in process by default,
//! or any server at a URL, any discovery client that can be pointed at a nameserver, any XEP-0114
//! component that connects to the harness, or a real XMPP server reached as a client. Discovery
//! cases run against a fake DNS server (hickory-server on 127.0.0.1) loaded from the zone files in
//! `conformance/zones/`.
//!
//! ```
//! use avatar_conformance::{Group, HttpTarget, Level, Progress, Targets, all_cases, run};
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), avatar_conformance::ConformanceError> {
//! let mut targets = Targets {
//!     http: Some(HttpTarget::in_process().await?),
//!     ..Targets::default()
//! };
//! let report = run(&all_cases(), &mut targets, &[Group::LibravatarServer], Progress::Quiet).await?;
//! assert!(report.outcomes.len() >= 60);
//! assert_eq!(report.failures_at_least(Level::Compat).count(), 0);
//! println!("{}", avatar_conformance::report::summary(&report));
//! # Ok(())
//! # }
//! ```
//!
//! The binary, `avatar-conformance`, wraps the same calls; `cargo xtask conformance` runs it
//! against the in-process targets, the `avatars serve` binary over TCP and the `avatars xmpp`
//! component.

// `eprintln!` panics when standard error cannot be written (`2>&1 | head` once `head` has
// gone), stopping a run before its verdicts: progress goes through `Progress::say`.
#![deny(
    clippy::print_stdout,
    clippy::print_stderr,
    reason = "Progress::say writes without panicking when it cannot"
)]

pub mod case;
pub mod check;
pub mod discovery;
mod error;
pub mod fixtures;
pub mod http;
pub mod report;
pub mod runner;
pub mod xmpp;

pub use case::{Case, Check, Group, Level, Outcome, Verdict, VerdictKind};
pub use discovery::DiscoveryClient;
pub use error::ConformanceError;
pub use http::HttpTarget;
pub use runner::{Progress, Report, Targets, all_cases, cases_named, run};
pub use xmpp::XmppTarget;
