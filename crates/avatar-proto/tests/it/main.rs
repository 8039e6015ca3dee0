//! Integration tests of `avatar-proto`: property tests and the URL-builder snapshot table.
//!
//! One integration-test binary for the crate (one link of tokio, hyper and image instead of
//! one per file); each module is a former test file.

mod properties;
mod url_table;
