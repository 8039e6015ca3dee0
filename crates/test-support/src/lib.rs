//! Fixtures for the workspace's tests and benches, in one place (the shape of hickory-dns's
//! `test-support`): nothing under any crate's `src/` depends on this crate.
//!
//! ```
//! use test_support::{hostile, images, suite};
//!
//! // Real encoded images, built in memory.
//! let png = images::png(&images::bands(300, 120));
//! assert_eq!(image::load_from_memory(&png)?.width(), 300);
//! // A file whose header claims more than any limit.
//! assert!(image::load_from_memory(&hostile::png_claiming(100_000, 100_000)).is_err());
//! // The conformance suite's fixtures: the same bytes a server under test is loaded with.
//! assert_eq!(suite::md5(suite::GEORGE), "40f8d096a3777232204cb3f796c577b7");
//! # Ok::<(), image::ImageError>(())
//! ```
//!
//! - [`images`]: encoded images of every format, from plain pixels (bands, solid, checkers,
//!   noise, animated GIFs);
//! - [`browser`]: headless Chromium as the browser tests run it;
//! - [`exif`]: JPEG, PNG and WebP files with an EXIF orientation, as phones write them;
//! - [`icc`]: colour profiles (Display P3, Adobe RGB, sRGB, grey), files embedding them, and
//!   CSS Color 4's Display P3 to sRGB arithmetic;
//! - [`hostile`]: files that claim enormous dimensions (PNG, GIF, WebP bombs);
//! - [`suite`]: the conformance suite's fixture identities and images, a memory store holding
//!   them, and a one-shot call through an [`AvatarService`](avatar_service::AvatarService);
//! - [`mount`]: a small tmpfs or read-only bind mount, undone when dropped, and a disk filled
//!   to its last kilobytes;
//! - [`log`]: what a library logged through `tracing`, captured in memory;
//! - [`nginx`]: Debian's nginx as a reverse proxy in front of a server under test;
//! - [`pgbouncer`]: Debian's PgBouncer in front of a private PostgreSQL, in either pool mode;
//! - [`prometheus`]: Debian's Prometheus scraping servers under test and evaluating rules;
//! - [`raw_http`]: a raw HTTP/1.1 client over TCP, for requests no HTTP library would send;
//! - [`server`]: a spawned `avatars serve` process, stopped when dropped;
//! - [`silent`]: a TCP server that accepts and never answers, and an address where nothing
//!   listens;
//! - [`systemd`]: this machine's systemd booted in namespaces of its own, to run `deploy/`'s
//!   units as an operator would;
//! - [`tree`]: what a directory holds, to show a command wrote nothing;
//! - [`xmpp`]: private Prosody and ejabberd servers, and a user played by slixmpp.

pub mod browser;
pub mod exif;
pub mod hostile;
pub mod icc;
pub mod images;
pub mod log;
pub mod mount;
pub mod nginx;
pub mod not_pictures;
pub mod pgbouncer;
pub mod postgres;
pub mod prometheus;
pub mod raw_http;
pub mod server;
pub mod silent;
pub mod store_contract;
pub mod suite;
pub mod systemd;
pub mod tree;
pub mod xmpp;

/// Whether this process runs as root (then services run as their own users, and a test may
/// run a command as another user).
#[must_use]
pub fn is_root() -> bool {
    std::process::Command::new("id")
        .arg("-u")
        .output()
        .is_ok_and(|output| output.stdout.trim_ascii() == b"0")
}

/// A free TCP port on 127.0.0.1, for a server that must be told its port before it starts.
///
/// # Panics
/// If no port can be had on 127.0.0.1.
#[must_use]
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|listener| listener.local_addr())
        .map(|addr| addr.port())
        .expect("a free loopback port")
}
