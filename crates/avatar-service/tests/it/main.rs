//! Integration tests of `avatar-service`: what only the service can show (allocations, races, faults, headers), hostile input, and real TCP.
//!
//! One integration-test binary for the crate (one link of tokio, hyper and image instead of
//! one per file); each module is a former test file.

// The axum example, compiled into the tests so its routes are tested as they are written.
#[path = "../../examples/axum.rs"]
#[allow(dead_code)]
mod axum_example;
mod browser;
mod faults;
mod formats;
mod hostile;
mod hot_path;
mod rendition_files;
mod settings;
mod tcp;
mod tower_http;
mod upload;
