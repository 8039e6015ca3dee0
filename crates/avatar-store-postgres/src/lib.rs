//! A PostgreSQL [`Store`](avatar_store::Store): any number of avatar servers in front of one
//! database, each told of every change at once.
//!
//! ```no_run
//! use avatar_proto::{HashAlgorithm, Identity};
//! use avatar_store::Store as _;
//! use avatar_store_postgres::PgStore;
//! use bytes::Bytes;
//!
//! # async fn example() -> Result<(), Box<dyn std::error::Error>> {
//! // Creates (or migrates) its tables, and starts listening for other servers' changes.
//! let store = PgStore::connect("postgres://avatars@db.internal/avatars").await?;
//! let george = Identity::parse("george@example.com")?;
//! store.put(&george, Bytes::from_static(b"\x89PNG...")).await?;
//! assert!(store.contains(&george.hash(HashAlgorithm::Md5)).await?);
//! # Ok(())
//! # }
//! ```
//!
//! # What is where
//!
//! - **In the database** (schema version 3, created and migrated by [`PgStore::connect`] under
//!   an advisory lock, so servers starting together do not race): `avatar_identities` holds
//!   each identity's image whole, with its SHA-256 (`content`); `avatar_hashes` maps every
//!   published hash (MD5 and SHA-256 of an email, the four SHA-256 variants of an OpenID URL)
//!   to its identity; `avatar_documents` holds small named texts beside them
//!   ([`PgStore::read_document`], such as `avatars xmpp`'s subscriptions); `avatar_schema`
//!   holds the version. A put or remove is one transaction,
//!   so a reader on any server sees the old avatar or the new one, whole.
//! - **In each server's memory**: what the service remembers per hash (its index) and its
//!   rendered pictures, keyed by the image's digest. The store only keeps
//!   [`ChangeCounters`](avatar_store::ChangeCounters), the per-hash generations the service
//!   checks those against.
//!
//! # Roles
//!
//! Creating or migrating the tables takes a role that may create tables in the schema (the
//! database's owner; since PostgreSQL 15 no one else may in `public` unless granted) and, for
//! the index of version 2, owns `avatar_identities`. A database already at this release's
//! version is only read when connecting, so a role granted just what the store's statements do
//! (`SELECT, INSERT, UPDATE, DELETE` on `avatar_identities`; `SELECT, INSERT, UPDATE` on
//! `avatar_hashes` and `avatar_documents`; `SELECT` on `avatar_schema`) connects too, once the
//! owner has. A role that could not create or migrate the tables is refused saying what to
//! grant, before anything is tried. [`PgStoreBuilder::inspect`] says all of this of a
//! database without changing it (`avatars config check`).
//!
//! The tables live in the first schema of the connection's search path: `public`, or a schema
//! named after the role, or one the URL names as libpq takes it
//! (`?options=-c%20search_path%3Davatar_store`).
//!
//! # What a server may have stale, and for how long
//!
//! Every put and remove sends `NOTIFY avatar_changes` with the hashes it touched, in the same
//! transaction (so it is delivered exactly when the change is visible). Each server listens on
//! a connection of its own and bumps the generation of exactly those hashes: its cached answers
//! for them are dropped, and nothing else is. So a server has a hash stale only between
//! another server's commit and the notification's arrival (a millisecond or two on a LAN;
//! `cargo xtask bench --only store` measures it). Its own writes are seen at once.
//!
//! When the listening connection is lost, the server keeps answering from what it has cached
//! (a database outage does not take cached avatars down), reconnects with backoff, and once
//! it listens again treats everything it cached as unknown: a notification missed while it
//! was away cannot leave a stale answer behind. Operations that need the database while it is
//! down fail within the operation timeout (2 s by default) with
//! [`StoreError::Unavailable`](avatar_store::StoreError::Unavailable), which the service
//! answers with 503 and `Retry-After`.
//!
//! # Behind a connection pooler
//!
//! Every statement goes out unnamed (tokio-postgres's `*_typed` calls: parse, bind and
//! execute in one round trip), so a pooler in transaction mode, which hands each statement to
//! whichever server connection is free, runs them all: PgBouncer, and the managed databases'
//! pools built on it. Statements prepared by name failed there ("prepared statement \"s84\"
//! does not exist"). `LISTEN` cannot work through such a pool (the server connection that ran
//! it goes back to the pool), so the URL's `listen_host` and `listen_port` parameters send the
//! listening connection elsewhere: to the database itself, or a pool in session mode. Whether
//! changes reach it is checked, not assumed: once listening, the store notifies a probe through
//! its pool and follows changes only when the probe arrives (late still counts: a loaded
//! database is slow, not a pooler); otherwise [`PgStore::why_not_following`] (and the log,
//! trying again after 5 s, then less and less often, up to every minute) says what to add.
//! Until then the store tells a cache in front of it nothing
//! ([`Store::generation`](avatar_store::Store::generation) is `None`): each request reads the
//! database, slower but never stale, where a cache would otherwise keep serving a picture
//! another server had replaced.
//!
//! # TLS
//!
//! The connection string's `sslmode` and `sslrootcert` mean what they mean to libpq (and
//! `psql`): `prefer`, the default, encrypts when the server offers TLS; `require` encrypts or
//! does not connect; `verify-ca` checks the server's certificate against the authorities in
//! `sslrootcert` (PEM; the web's without it); `verify-full` checks its host name too;
//! `disable` never encrypts. For a database on another machine:
//! `postgres://avatars@db.internal/avatars?sslmode=verify-full&sslrootcert=/etc/avatars/db-ca.pem`.
//! rustls does the TLS (through tokio-postgres-rustls); `tls.rs` says how each mode is checked.
//!
//! # Why tokio-postgres
//!
//! It is the async driver with first-class `LISTEN`/`NOTIFY` (its connection yields
//! notifications as messages), no compile-time database and no macros; `deadpool-postgres`
//! pools it. sqlx would do the queries too, but its listener is a separate abstraction and it
//! brings far more to compile for five statements.
//!
//! # Where things live
//!
//! `store.rs` has the [`Store`](avatar_store::Store) methods as SQL; `schema.rs` the tables and
//! their migrations; `listen.rs` the `LISTEN` connection that tells other servers' changes;
//! `connection.rs` the connection string read into configurations; `errors.rs` what a failed
//! call means as a [`StoreError`](avatar_store::StoreError); `tls.rs` the `sslmode`s.

mod connection;
mod errors;
mod listen;
mod schema;
mod store;
mod tls;

pub use connection::{check_url, display_url};
pub use schema::SCHEMA_VERSION;
pub use store::{Inspection, PgStore, PgStoreBuilder};
