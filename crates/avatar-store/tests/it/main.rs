//! Integration tests of `avatar-store`: the Store contract on every backend.
//!
//! One integration-test binary for the crate (one link of tokio, hyper and image instead of
//! one per file); each module is a former test file.

mod store;
