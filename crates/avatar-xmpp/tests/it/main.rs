//! Integration tests of `avatar-xmpp`: the IQ service, payloads, hostile stanzas, and the XEP-0114 component over TCP.
//!
//! One integration-test binary for the crate (one link of tokio, hyper and image instead of
//! one per file); each module is a former test file.

mod announce;
mod component;
mod hostile;
mod iq;
mod payloads;
