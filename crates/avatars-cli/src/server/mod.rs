//! The standalone server around the avatar service: listeners (plain, TLS, admin) with the
//! operator's limits, the access log and metrics, the admin API, and graceful shutdown.
//!
//! - `listen`: accept loops, connection limits, header timeout, HTTP/1.1 and HTTP/2;
//! - `tls`: certificates from PEM files, reloaded on SIGHUP;
//! - `observe`: per request, the rate limit, the access log and the request metrics;
//! - `metrics`: `/metrics`;
//! - `admin`: the admin listener's routes, `/healthz` and the management API.
//!
//! None of it is in the library crates: an application embedding `AvatarService` brings its
//! own server.

pub(crate) mod admin;
pub(crate) mod listen;
pub(crate) mod metrics;
pub(crate) mod observe;
pub(crate) mod tls;
