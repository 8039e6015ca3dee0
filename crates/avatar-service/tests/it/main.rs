//! Integration tests of `avatar-service`: what only the service can show (allocations, races, faults, headers), hostile input, and real TCP.
//!
//! One integration-test binary for the crate (one link of tokio, hyper and image instead of
//! one per file); each module is a former test file.

mod faults;
mod hostile;
mod hot_path;
mod settings;
mod tcp;
