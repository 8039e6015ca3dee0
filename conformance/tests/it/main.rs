//! Integration tests of the conformance harness: the suite against this project and against deliberately wrong targets.
//!
//! One integration-test binary for the crate (one link of tokio, hyper and image instead of
//! one per file); each module is a former test file.

mod domain_check;
mod harness;
mod html_report;
mod readmes;
mod real_clients;
mod stand_ins;
