//! Integration tests of `avatar-discovery`: SRV lookups against a real DNS server (hickory-server) on loopback.
//!
//! One integration-test binary for the crate (one link of tokio, hyper and image instead of
//! one per file); each module is a former test file.

mod discovery;
