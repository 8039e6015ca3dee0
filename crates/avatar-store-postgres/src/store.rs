//! [`PgStore`]: the [`Store`] methods as SQL, each within the operation timeout.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use avatar_proto::{AvatarHash, Identity};
use avatar_store::{ChangeCounters, Store, StoreError, StoredEntry, StoredImage};
use bytes::Bytes;
use deadpool_postgres::{Manager, ManagerConfig, Pool, RecyclingMethod, Runtime};
use futures_util::stream::{self, Stream, StreamExt as _};
use sha2::{Digest as _, Sha256};
use tokio_postgres::types::Type;
use tokio_postgres_rustls::MakeRustlsConnect;

use crate::tls::TlsSettings;

use crate::{listen, schema};

/// The notification channel every server listens on.
pub(crate) const CHANNEL: &str = "avatar_changes";

/// PostgreSQL keeps a notification's payload under 8000 bytes: hashes are sent in chunks of
/// at most this many hex characters.
const PAYLOAD_LIMIT: usize = 7_000;

/// How many identities one query of [`Store::entries`] reads.
const LIST_PAGE: i64 = 1_000;

/// Avatars in a PostgreSQL database, shared by every server connected to it. Cheap to clone.
#[derive(Clone)]
pub struct PgStore {
    shared: Arc<Shared>,
}

pub(crate) struct Shared {
    pool: Pool,
    pub(crate) changes: ChangeCounters,
    timeout: Duration,
    /// The URL without its password, for messages.
    pub(crate) url: String,
    /// Whether the listening connection is up (set by [`listen::follow`]).
    pub(crate) following: tokio::sync::watch::Sender<bool>,
    /// Whether its last probe was notified and never arrived (set by [`listen::follow`]).
    pub(crate) undelivered: AtomicBool,
    /// The task of [`listen::follow`], set once the store exists (see [`PgStoreBuilder::connect`]).
    listener: std::sync::OnceLock<tokio::task::AbortHandle>,
}

impl Shared {
    /// Sends `payload` on [`CHANNEL`] through the pool, as writes do: the listening connection
    /// must receive it for other servers' changes to be followed at all.
    pub(crate) async fn notify_through_pool(
        self: &Arc<Self>,
        payload: &str,
    ) -> Result<(), StoreError> {
        let store = PgStore {
            shared: Arc::clone(self),
        };
        store
            .with_client(async |client| send(&***client, payload).await)
            .await
    }
}

impl Drop for Shared {
    fn drop(&mut self) {
        if let Some(listener) = self.listener.get() {
            listener.abort();
        }
    }
}

impl std::fmt::Debug for PgStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PgStore")
            .field("url", &self.shared.url)
            .field("timeout", &self.shared.timeout)
            .finish_non_exhaustive()
    }
}

/// Settings of a [`PgStore`]; [`PgStore::connect`] uses the defaults.
#[derive(Debug, Clone)]
pub struct PgStoreBuilder {
    url: String,
    pool_size: usize,
    timeout: Duration,
}

/// What [`PgStoreBuilder::prepare`] makes of a URL and settings.
struct Prepared {
    pool: Pool,
    listen: tokio_postgres::Config,
    tls: MakeRustlsConnect,
    /// The URL without its password, for messages.
    shown: String,
}

impl Prepared {
    /// A connection from the pool within `timeout`, or why there is none.
    async fn client(&self, timeout: Duration) -> Result<deadpool_postgres::Object, StoreError> {
        self.pool
            .get()
            .await
            .map_err(|err| unavailable(&self.shown, timeout, &err))
    }
}

/// What [`PgStoreBuilder::inspect`] found in a database, which a store connecting there would
/// meet.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Inspection {
    /// The avatar schema's version there: 0 where there are no avatar tables yet, and below
    /// [`SCHEMA_VERSION`](crate::SCHEMA_VERSION) where [`PgStoreBuilder::connect`] would
    /// migrate it (which this role may do, or `inspect` would have said not).
    pub schema_version: i32,
    /// What this role may not do on the tables (at the current version) that the store's
    /// statements do, as the `GRANT` statements that would let it; what needs it would fail.
    pub missing_privileges: Option<String>,
    /// Why the store would not follow other servers' changes ([`PgStore::why_not_following`]'s
    /// text), or `None`: a probe notified through the URL reached the listening connection.
    pub why_not_following: Option<&'static str>,
    /// Where there are no avatar tables in the connection's search path: the avatar tables
    /// elsewhere in the database that it does not look in (a schema the role may not use, or
    /// one a URL that lost its `options=-c search_path=...` no longer names), and what would
    /// make it. `connect` would create empty tables beside them.
    pub tables_elsewhere: Option<String>,
}

impl std::fmt::Display for Inspection {
    /// One phrase: "schema version 3, follows changes", or what connecting would do and what
    /// is missing.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.schema_version {
            0 if self.tables_elsewhere.is_some() => f.write_str(
                "no avatar tables where it looks (created there on first use; some elsewhere)",
            )?,
            0 => f.write_str("no avatar tables yet (created on first use)")?,
            version if version < crate::SCHEMA_VERSION => write!(
                f,
                "schema version {version} (migrated to {} on first use)",
                crate::SCHEMA_VERSION
            )?,
            version => write!(f, "schema version {version}")?,
        }
        if self.missing_privileges.is_some() {
            f.write_str(", privileges missing")?;
        }
        f.write_str(if self.why_not_following.is_some() {
            ", does not follow changes"
        } else {
            ", follows changes"
        })
    }
}

impl PgStoreBuilder {
    /// At most `size` connections in the pool (16 by default), besides the listening one.
    #[must_use]
    pub const fn pool_size(mut self, size: usize) -> Self {
        self.pool_size = size;
        self
    }

    /// How long one operation (waiting for a connection included) may take before it fails
    /// with [`StoreError::Unavailable`] (2 s by default): a database that went away costs a
    /// request this much, never a hang.
    #[must_use]
    pub const fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }

    /// Connects, creates or migrates the schema, and starts listening for changes.
    ///
    /// # Errors
    /// [`StoreError::InvalidUrl`] for a URL that is not a PostgreSQL connection string;
    /// [`StoreError::Unavailable`] when the database cannot be reached;
    /// [`StoreError::Backend`] when it refuses the schema, holds a newer one, or this role may
    /// not create or migrate it (saying what to grant).
    pub async fn connect(self) -> Result<PgStore, StoreError> {
        let prepared = self.prepare()?;
        schema::migrate(&mut *prepared.client(self.timeout).await?).await?;
        let Prepared {
            pool,
            listen,
            tls,
            shown,
        } = prepared;
        let (following, mut followed) = tokio::sync::watch::channel(false);
        let store = PgStore {
            shared: Arc::new(Shared {
                pool,
                changes: ChangeCounters::new(),
                timeout: self.timeout,
                url: shown,
                following,
                undelivered: AtomicBool::new(false),
                listener: std::sync::OnceLock::new(),
            }),
        };
        // Spawned once the store exists, not while it is built (`Arc::new_cyclic`): the task
        // may run at once on another thread, and one that found the store not there yet took
        // it for dropped and ended, so the store never followed changes. On a loaded machine
        // that happened (the building thread preempted between the spawn and the end of
        // `new_cyclic`).
        let listener = tokio::spawn(listen::follow(
            Arc::downgrade(&store.shared),
            listen,
            tls,
            self.timeout,
        ));
        let _ = store.shared.listener.set(listener.abort_handle());
        // Returned once it follows other servers' changes (or, if that takes longer than the
        // timeout, following them as soon as it can).
        let _ = tokio::time::timeout(self.timeout, followed.wait_for(|up| *up)).await;
        Ok(store)
    }

    /// Connects as [`connect`](Self::connect) does and says what it would find there,
    /// changing nothing (the schema is read in a read-only transaction; the probe, a
    /// notification no server takes for a change, is all that is sent): the schema's version,
    /// what this role may not do on the tables that the store's statements do, and whether
    /// changes notified through the URL reach the connection that listens for them. For
    /// `avatars config check`, before a server is started on a database.
    ///
    /// # Errors
    /// As [`connect`](Self::connect): [`StoreError::InvalidUrl`],
    /// [`StoreError::Unavailable`] (the listening connection's too, where `listen_host` or
    /// `listen_port` send it elsewhere), and [`StoreError::Backend`] for a newer schema, or
    /// one this role could not create or migrate (saying what to grant).
    pub async fn inspect(self) -> Result<Inspection, StoreError> {
        let prepared = self.prepare()?;
        let mut client = prepared.client(self.timeout).await?;
        let Prepared {
            listen, tls, shown, ..
        } = prepared;
        let late = || no_answer_in_time(&shown, self.timeout);
        let found = tokio::time::timeout(self.timeout, schema::inspect(&mut client))
            .await
            .map_err(|_| late())??;
        let delivered = listen::probe_delivery(&client, &listen, tls, self.timeout)
            .await
            .map_err(|why| {
                StoreError::Unavailable(format!(
                    "the connection that follows changes, to {}: {why}",
                    describe_listen(&listen)
                ))
            })?;
        Ok(Inspection {
            schema_version: found.version,
            missing_privileges: found.missing_privileges,
            why_not_following: (!delivered).then_some(listen::UNDELIVERED),
            tables_elsewhere: found.tables_elsewhere,
        })
    }

    /// The pool (with no connection made yet), the listening connection's settings and the
    /// TLS connector for this builder's URL and settings.
    fn prepare(&self) -> Result<Prepared, StoreError> {
        let shown = display_url(&self.url);
        let Connections {
            pool: mut config,
            listen,
            tls,
        } = connection_config(&self.url)?;
        let mut listen = listen.unwrap_or_else(|| config.clone());
        for config in [&mut config, &mut listen] {
            config
                .connect_timeout(self.timeout)
                .keepalives(true)
                .keepalives_idle(Duration::from_secs(10))
                .application_name("avatars");
        }
        let manager = Manager::from_config(
            config,
            tls.clone(),
            ManagerConfig {
                recycling_method: RecyclingMethod::Fast,
            },
        );
        let pool = Pool::builder(manager)
            .max_size(self.pool_size.max(1))
            .runtime(Runtime::Tokio1)
            .wait_timeout(Some(self.timeout))
            .create_timeout(Some(self.timeout))
            .recycle_timeout(Some(self.timeout))
            .build()
            .map_err(|err| StoreError::Backend(err.to_string()))?;
        Ok(Prepared {
            pool,
            listen,
            tls,
            shown,
        })
    }
}

impl PgStore {
    /// Settings to change before connecting to `url` (`postgres://USER@HOST/DATABASE`).
    #[must_use]
    pub fn builder(url: &str) -> PgStoreBuilder {
        PgStoreBuilder {
            url: url.to_owned(),
            pool_size: 16,
            timeout: Duration::from_secs(2),
        }
    }

    /// Connects to `url` with the defaults: see [`PgStoreBuilder::connect`].
    ///
    /// # Errors
    /// As [`PgStoreBuilder::connect`].
    pub async fn connect(url: &str) -> Result<Self, StoreError> {
        Self::builder(url).connect().await
    }

    /// Whether it is following other servers' changes now (its listening connection is up).
    /// While the connection is down (the database away, a reconnect), what the service cached
    /// keeps being served, and is treated as unknown once it follows again; when changes
    /// cannot reach it at all ([`why_not_following`](Self::why_not_following)), nothing is
    /// cached in front of it.
    #[must_use]
    pub fn is_following(&self) -> bool {
        *self.shared.following.borrow()
    }

    /// Why it does not follow other servers' changes, when it knows: its listening connection
    /// took `LISTEN`, and a probe notified through its pool, as writes are, never reached it
    /// (a pooler in transaction mode); the text says what to add to the URL. `None` while it
    /// follows, and while it cannot connect (which it logs, and retries).
    #[must_use]
    pub fn why_not_following(&self) -> Option<&'static str> {
        (!self.is_following() && self.shared.undelivered.load(Ordering::Relaxed))
            .then_some(listen::UNDELIVERED)
    }

    /// Runs `operation` on a pooled connection within the timeout.
    async fn with_client<T>(
        &self,
        operation: impl AsyncFnOnce(&mut deadpool_postgres::Client) -> Result<T, StoreError>,
    ) -> Result<T, StoreError> {
        let shared = &self.shared;
        // Whether the time ran out in the pool or in the operation: the pool's own timeouts
        // are the same as this one, so which of them ends a wait for a silent server is a
        // matter of which timer the runtime looks at first; the message must not depend on it.
        let connected = AtomicBool::new(false);
        let work = async {
            let pooled = shared.pool.get().await;
            let mut client =
                pooled.map_err(|err| unavailable(&shared.url, shared.timeout, &err))?;
            connected.store(true, Ordering::Relaxed);
            operation(&mut client).await
        };
        match tokio::time::timeout(shared.timeout, work).await {
            Ok(done) => done,
            Err(_) if connected.load(Ordering::Relaxed) => {
                Err(no_answer_in_time(&shared.url, shared.timeout))
            }
            Err(_) => {
                let status = shared.pool.status();
                let busy = status.size >= status.max_size && status.available == 0;
                Err(no_connection_in_time(&shared.url, shared.timeout, busy))
            }
        }
    }
}

impl PgStore {
    /// The document named `name` (table `avatar_documents`), if one was written: small texts
    /// kept beside the avatars, such as `avatars xmpp`'s subscriptions.
    ///
    /// # Errors
    /// [`StoreError::Unavailable`] or [`StoreError::Backend`] as for every operation.
    pub async fn read_document(&self, name: &str) -> Result<Option<String>, StoreError> {
        self.with_client(async move |client| {
            let row = client
                .query_typed_opt(
                    "SELECT body FROM avatar_documents WHERE name = $1",
                    &[(&name, Type::TEXT)],
                )
                .await
                .map_err(database_error)?;
            Ok(row.map(|row| row.get(0)))
        })
        .await
    }

    /// Writes (or replaces) the document named `name`, whole, in one statement.
    ///
    /// # Errors
    /// [`StoreError::Unavailable`] or [`StoreError::Backend`] as for every operation.
    pub async fn write_document(&self, name: &str, body: &str) -> Result<(), StoreError> {
        self.with_client(async move |client| {
            client
                .execute_typed(
                    "INSERT INTO avatar_documents (name, body) VALUES ($1, $2) \
                     ON CONFLICT (name) DO UPDATE SET body = EXCLUDED.body, updated = now()",
                    &[(&name, Type::TEXT), (&body, Type::TEXT)],
                )
                .await
                .map_err(database_error)?;
            Ok(())
        })
        .await
    }

    /// Up to [`LIST_PAGE`] identities after `after` (from the first when `None`), in byte order.
    async fn page_after(&self, after: Option<String>) -> Result<Vec<StoredEntry>, StoreError> {
        self.with_client(async move |client| {
            let rows =
                match &after {
                    None => client
                        .query_typed(
                            "SELECT identity, octet_length(bytes)::bigint FROM avatar_identities \
                             ORDER BY identity COLLATE \"C\" LIMIT $1",
                            &[(&LIST_PAGE, Type::INT8)],
                        )
                        .await,
                    Some(after) => client
                        .query_typed(
                            "SELECT identity, octet_length(bytes)::bigint FROM avatar_identities \
                             WHERE identity COLLATE \"C\" > $1 \
                             ORDER BY identity COLLATE \"C\" LIMIT $2",
                            &[(after, Type::TEXT), (&LIST_PAGE, Type::INT8)],
                        )
                        .await,
                }
                .map_err(database_error)?;
            Ok(rows.iter().map(entry_of).collect())
        })
        .await
    }
}

/// A listed row: identity, and the image's length.
fn entry_of(row: &tokio_postgres::Row) -> StoredEntry {
    StoredEntry {
        identity: row.get(0),
        bytes: u64::try_from(row.get::<_, i64>(1)).unwrap_or(0),
    }
}

impl Store for PgStore {
    async fn get(&self, hash: &AvatarHash) -> Result<Option<StoredImage>, StoreError> {
        let key = hash.as_bytes().to_vec();
        self.with_client(async move |client| {
            let row = client
                .query_typed_opt(
                    "SELECT i.bytes, i.content FROM avatar_hashes h \
                     JOIN avatar_identities i USING (identity) WHERE h.hash = $1",
                    &[(&key, Type::BYTEA)],
                )
                .await
                .map_err(database_error)?;
            Ok(row.map(|row| {
                let bytes: Vec<u8> = row.get(0);
                let content: Vec<u8> = row.get(1);
                let mut digest = [0; 32];
                if content.len() == 32 {
                    digest.copy_from_slice(&content);
                    StoredImage {
                        bytes: Bytes::from(bytes),
                        content: digest,
                    }
                } else {
                    StoredImage::new(Bytes::from(bytes))
                }
            }))
        })
        .await
    }

    async fn put(&self, identity: &Identity, bytes: Bytes) -> Result<(), StoreError> {
        self.put_shared(std::slice::from_ref(identity), bytes).await
    }

    /// One transaction for every identity, so all of them change together or none does.
    async fn put_shared(&self, identities: &[Identity], bytes: Bytes) -> Result<(), StoreError> {
        if identities.is_empty() {
            return Ok(());
        }
        let content = Sha256::digest(&bytes).to_vec();
        // A fixed order, so two servers writing overlapping sets cannot deadlock.
        let mut identities = identities.to_vec();
        identities.sort_by(|a, b| a.as_str().cmp(b.as_str()));
        identities.dedup();
        let hashes: Vec<AvatarHash> = identities
            .iter()
            .flat_map(Identity::published_hashes)
            .collect();
        let (identities, touched) = (identities.clone(), hashes.clone());
        self.with_client(async move |client| {
            let transaction = client.transaction().await.map_err(database_error)?;
            for identity in &identities {
                transaction
                    .execute_typed(
                        "INSERT INTO avatar_identities (identity, content, bytes) VALUES ($1, $2, $3) \
                         ON CONFLICT (identity) DO UPDATE \
                         SET content = excluded.content, bytes = excluded.bytes, updated = now()",
                        &[
                            (&identity.as_str(), Type::TEXT),
                            (&content, Type::BYTEA),
                            (&bytes.as_ref(), Type::BYTEA),
                        ],
                    )
                    .await
                    .map_err(database_error)?;
                for hash in identity.published_hashes() {
                    transaction
                        .execute_typed(
                            "INSERT INTO avatar_hashes (hash, identity) VALUES ($1, $2) \
                             ON CONFLICT (hash) DO UPDATE SET identity = excluded.identity",
                            &[
                                (&hash.as_bytes(), Type::BYTEA),
                                (&identity.as_str(), Type::TEXT),
                            ],
                        )
                        .await
                        .map_err(database_error)?;
                }
            }
            notify(&transaction, &touched).await?;
            transaction.commit().await.map_err(database_error)
        })
        .await?;
        for hash in &hashes {
            self.shared.changes.changed(hash);
        }
        Ok(())
    }

    async fn contains(&self, hash: &AvatarHash) -> Result<bool, StoreError> {
        let key = hash.as_bytes().to_vec();
        self.with_client(async move |client| {
            let row = client
                .query_typed_one(
                    "SELECT EXISTS (SELECT 1 FROM avatar_hashes WHERE hash = $1)",
                    &[(&key, Type::BYTEA)],
                )
                .await
                .map_err(database_error)?;
            Ok(row.get(0))
        })
        .await
    }

    async fn remove(&self, identity: &Identity) -> Result<bool, StoreError> {
        let hashes: Vec<AvatarHash> = identity.published_hashes();
        let (name, touched) = (identity.as_str().to_owned(), hashes.clone());
        let removed = self
            .with_client(async move |client| {
                let transaction = client.transaction().await.map_err(database_error)?;
                let removed = transaction
                    .execute_typed(
                        "DELETE FROM avatar_identities WHERE identity = $1",
                        &[(&name, Type::TEXT)],
                    )
                    .await
                    .map_err(database_error)?;
                if removed > 0 {
                    notify(&transaction, &touched).await?;
                }
                transaction.commit().await.map_err(database_error)?;
                Ok(removed > 0)
            })
            .await?;
        for hash in &hashes {
            self.shared.changes.changed(hash);
        }
        Ok(removed)
    }

    async fn list(&self) -> Result<Vec<StoredEntry>, StoreError> {
        self.with_client(async |client| {
            let rows = client
                .query_typed(
                    "SELECT identity, octet_length(bytes)::bigint FROM avatar_identities \
                     ORDER BY identity COLLATE \"C\"",
                    &[],
                )
                .await
                .map_err(database_error)?;
            Ok(rows.iter().map(entry_of).collect())
        })
        .await
    }

    /// In identity order (bytes, as [`list`](Store::list)), 1,000 identities per
    /// query, each query starting after the last identity of the one before: no connection
    /// is held between pages, and an identity added or removed meanwhile is listed or not.
    fn entries(&self) -> impl Stream<Item = Result<StoredEntry, StoreError>> + Send {
        enum Next {
            After(Option<String>),
            Done,
        }
        let store = self.clone();
        stream::unfold(Next::After(None), move |next| {
            let store = store.clone();
            async move {
                let Next::After(after) = next else {
                    return None;
                };
                Some(match store.page_after(after).await {
                    Ok(page) => {
                        let full = i64::try_from(page.len()) == Ok(LIST_PAGE);
                        let next = match page.last() {
                            Some(last) if full => Next::After(Some(last.identity.clone())),
                            _ => Next::Done,
                        };
                        (page.into_iter().map(Ok).collect::<Vec<_>>(), next)
                    }
                    Err(err) => (vec![Err(err)], Next::Done),
                })
            }
        })
        .flat_map(stream::iter)
    }

    /// `None` while changes notified through the pool do not reach the listening connection
    /// ([`PgStore::why_not_following`]): then this store cannot tell when what a hash finds
    /// changed, and a cache in front of it would serve a picture another server replaced for as
    /// long as it kept it. While the listening connection is only down, the generations stand
    /// (cached answers are served through a database outage) and all change when it is back.
    fn generation(&self, hash: &AvatarHash) -> Option<u64> {
        if self.shared.undelivered.load(Ordering::Relaxed) && !self.is_following() {
            return None;
        }
        Some(self.shared.changes.generation(hash))
    }
}

/// `NOTIFY avatar_changes` with the touched hashes in hex, comma-separated, in chunks under
/// PostgreSQL's payload limit; delivered to every listener when the transaction commits.
async fn notify(
    transaction: &tokio_postgres::Transaction<'_>,
    hashes: &[AvatarHash],
) -> Result<(), StoreError> {
    let mut payload = String::new();
    for hash in hashes {
        if !payload.is_empty() && payload.len() + 65 > PAYLOAD_LIMIT {
            send(transaction, &payload).await?;
            payload.clear();
        }
        if !payload.is_empty() {
            payload.push(',');
        }
        payload.push_str(&hash.to_string());
    }
    if payload.is_empty() {
        return Ok(());
    }
    send(transaction, &payload).await
}

/// `payload` on [`CHANNEL`], in `client`'s transaction or on its own.
pub(crate) async fn send(
    client: &impl tokio_postgres::GenericClient,
    payload: &str,
) -> Result<(), StoreError> {
    client
        .execute_typed(
            "SELECT pg_notify($1, $2)",
            &[(&CHANNEL, Type::TEXT), (&payload, Type::TEXT)],
        )
        .await
        .map_err(database_error)?;
    Ok(())
}

/// A driver error: [`StoreError::Unavailable`] when the connection is gone or the server is
/// shutting down or starting (SQLSTATE classes 08 and 57), [`StoreError::OutOfSpace`] when its
/// disk is full (53100), otherwise [`StoreError::Backend`]; with the server's own message.
#[expect(
    clippy::needless_pass_by_value,
    reason = "used as `map_err(database_error)`"
)]
pub(crate) fn database_error(err: tokio_postgres::Error) -> StoreError {
    match err.as_db_error() {
        Some(db) => {
            let code = db.code().code();
            let message = format!("{} (SQLSTATE {code})", db.message());
            if code.starts_with("08") || code.starts_with("57") {
                StoreError::Unavailable(message)
            } else if code == "53100" {
                StoreError::OutOfSpace(message)
            } else {
                StoreError::Backend(message)
            }
        }
        None => StoreError::Unavailable(err.to_string()),
    }
}

/// A connected server that did not answer within `timeout`.
fn no_answer_in_time(url: &str, timeout: Duration) -> StoreError {
    StoreError::Unavailable(format!("{url} did not answer within {timeout:?}"))
}

/// No connection within `timeout`: every pooled one stayed `busy`, or else the server did not
/// answer.
fn no_connection_in_time(url: &str, timeout: Duration, busy: bool) -> StoreError {
    StoreError::Unavailable(if busy {
        format!(
            "no connection to {url} free within {timeout:?}: every pooled connection stayed \
             busy (the database is slow, or the pool too small for the load)"
        )
    } else {
        format!(
            "no connection to {url} within {timeout:?}: the server did not answer in time \
             (is it running, and reachable from here?)"
        )
    })
}

/// No connection to `url` (as [`display_url`] shows it) could be had: `err` with its causes,
/// where the pool's own message alone ("error connecting to server") hid why (a refused
/// connection, a name that does not resolve, a password refused), and the time waited where
/// the pool's says only that a timeout occurred.
fn unavailable(url: &str, timeout: Duration, err: &deadpool_postgres::PoolError) -> StoreError {
    use deadpool_postgres::{PoolError, TimeoutType};
    match err {
        PoolError::Timeout(TimeoutType::Create | TimeoutType::Recycle) => {
            return no_connection_in_time(url, timeout, false);
        }
        PoolError::Timeout(TimeoutType::Wait) => return no_connection_in_time(url, timeout, true),
        _ => {}
    }
    let message = avatar_proto::report::with_causes(err);
    let hint = tls_hint(&message);
    StoreError::Unavailable(format!("no connection to {url}: {message}{hint}"))
}

/// What a TLS failure means for the connection string's `sslmode` and `sslrootcert`.
fn tls_hint(message: &str) -> &'static str {
    if message.contains("invalid peer certificate") {
        " (sslmode=verify-ca checks the server's certificate against the authorities in \
         sslrootcert, or the web's without it, and verify-full its host name too: give the \
         database's authority, or connect by a name its certificate holds)"
    } else if message.contains("server does not support TLS") {
        " (sslmode=require, verify-ca and verify-full need a server with ssl = on)"
    } else {
        ""
    }
}

/// Whether `url` is a PostgreSQL connection string [`PgStore::connect`] accepts, checked
/// without connecting: for a command line or settings file to refuse a malformed one at once.
///
/// # Errors
/// [`StoreError::InvalidUrl`] saying what is wrong, with any password removed.
pub fn check_url(url: &str) -> Result<(), StoreError> {
    connection_config(url).map(drop)
}

/// `url` parsed as tokio-postgres parses it, with the TLS connector its `sslmode` and
/// `sslrootcert` ask for ([`TlsSettings`]).
fn connection_config(url: &str) -> Result<Connections, StoreError> {
    let invalid = |reason: String| StoreError::InvalidUrl {
        url: display_url(url),
        reason,
    };
    let (listen_at, url_rest) = crate::tls::take_parameters(url, &["listen_host", "listen_port"]);
    let (tls, rest) = TlsSettings::split(&url_rest).map_err(invalid)?;
    let mut config = rest.parse::<tokio_postgres::Config>().map_err(|err| {
        // "invalid connection string" alone; what is wrong is its source ("invalid port").
        let why =
            std::error::Error::source(&err).map_or_else(String::new, |why| format!(": {why}"));
        invalid(format!(
            "{err}{why}; expected postgres://USER[:PASSWORD]@HOST[:PORT]/DATABASE"
        ))
    })?;
    config.ssl_mode(tls.mode);
    let connector = tls.connector().map_err(invalid)?;
    let listen = listen_config(&config, &listen_at).map_err(invalid)?;
    Ok(Connections {
        pool: config,
        listen,
        tls: connector,
    })
}

/// Where a store's connections go: its pool's, and its listening one's (the same unless the
/// URL has `listen_host` or `listen_port`).
struct Connections {
    pool: tokio_postgres::Config,
    listen: Option<tokio_postgres::Config>,
    tls: MakeRustlsConnect,
}

/// The listening connection's settings when `listen_at` (the URL's `listen_host` and
/// `listen_port`) moves it: `pool`'s, at that host or port. For a URL that names a pooler in
/// transaction mode (PgBouncer's, a managed database's pool), where `LISTEN` cannot work: a
/// server connection goes back to the pool after each statement, and what is notified to it
/// then reaches no one.
fn listen_config(
    pool: &tokio_postgres::Config,
    listen_at: &[(String, String)],
) -> Result<Option<tokio_postgres::Config>, String> {
    let (host, port) = (
        crate::tls::last_value(listen_at, "listen_host"),
        crate::tls::last_value(listen_at, "listen_port"),
    );
    if host.is_none() && port.is_none() {
        return Ok(None);
    }
    let port = port
        .map(|port| {
            port.parse::<u16>()
                .ok()
                .filter(|&port| port > 0)
                .ok_or_else(|| format!("listen_port={port} is no port: expected 1 to 65535"))
        })
        .transpose()?;
    let mut listen = tokio_postgres::Config::new();
    match host {
        Some(host) => {
            listen.host(host);
        }
        None => {
            for host in pool.get_hosts() {
                match host {
                    tokio_postgres::config::Host::Tcp(name) => listen.host(name),
                    tokio_postgres::config::Host::Unix(path) => listen.host_path(path),
                };
            }
        }
    }
    match port {
        Some(port) => {
            listen.port(port);
        }
        None => {
            for &port in pool.get_ports() {
                listen.port(port);
            }
        }
    }
    if let Some(user) = pool.get_user() {
        listen.user(user);
    }
    if let Some(password) = pool.get_password() {
        listen.password(password);
    }
    if let Some(dbname) = pool.get_dbname() {
        listen.dbname(dbname);
    }
    if let Some(options) = pool.get_options() {
        listen.options(options);
    }
    listen.ssl_mode(pool.get_ssl_mode());
    Ok(Some(listen))
}

/// Where a connection made with `config` goes, for messages: `HOST:PORT` (the first of each).
fn describe_listen(config: &tokio_postgres::Config) -> String {
    use tokio_postgres::config::Host;
    let host = config.get_hosts().first().map_or_else(
        || "localhost".to_owned(),
        |host| match host {
            Host::Tcp(name) => name.clone(),
            Host::Unix(path) => path.display().to_string(),
        },
    );
    let port = config.get_ports().first().copied().unwrap_or(5432);
    format!("{host}:{port}")
}

/// A connection string for messages and logs, with every password taken out:
/// `postgres://user:secret@host/db` as `postgres://user@host/db`, a `password` query parameter
/// and a `password=` of a key=value string (`host=db password=secret`) as `***`.
#[must_use]
pub fn display_url(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else {
        return hide_key_value_password(url);
    };
    let (authority, path) = rest
        .find(['/', '?'])
        .map_or((rest, ""), |end| rest.split_at(end));
    // The last '@' ends the credentials: a password may hold an unencoded '@'.
    let authority = match authority.rsplit_once('@') {
        Some((credentials, host)) => {
            let user = credentials.split(':').next().unwrap_or("");
            format!("{user}@{host}")
        }
        None => authority.to_owned(),
    };
    let path = match path.split_once('?') {
        Some((path, query)) => {
            let query: Vec<String> = query
                .split('&')
                .map(|pair| match pair.split_once('=') {
                    Some((key, _)) if key.eq_ignore_ascii_case("password") => {
                        format!("{key}=***")
                    }
                    _ => pair.to_owned(),
                })
                .collect();
            format!("{path}?{}", query.join("&"))
        }
        None => path.to_owned(),
    };
    format!("{scheme}://{authority}{path}")
}

/// `host=db password='a b' user=x` as `host=db password=*** user=x`: libpq's key=value form,
/// where a value may be single-quoted with `\'` and `\\` escapes.
fn hide_key_value_password(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut chars = text.chars().peekable();
    while let Some(&c) = chars.peek() {
        if c.is_whitespace() {
            out.push(c);
            chars.next();
            continue;
        }
        let mut key = String::new();
        while let Some(&c) = chars.peek() {
            if c == '=' || c.is_whitespace() {
                break;
            }
            key.push(c);
            chars.next();
        }
        out.push_str(&key);
        while chars.peek().is_some_and(|c| c.is_whitespace()) {
            out.push(chars.next().unwrap_or(' '));
        }
        if chars.peek() != Some(&'=') {
            continue;
        }
        out.push('=');
        chars.next();
        while chars.peek().is_some_and(|c| c.is_whitespace()) {
            out.push(chars.next().unwrap_or(' '));
        }
        let mut value = String::new();
        if chars.peek() == Some(&'\'') {
            value.push('\'');
            chars.next();
            while let Some(c) = chars.next() {
                value.push(c);
                match c {
                    '\\' => value.extend(chars.next()),
                    '\'' => break,
                    _ => {}
                }
            }
        } else {
            while let Some(&c) = chars.peek() {
                if c.is_whitespace() {
                    break;
                }
                value.push(c);
                chars.next();
            }
        }
        if key.eq_ignore_ascii_case("password") {
            out.push_str("***");
        } else {
            out.push_str(&value);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn listen_host_and_port_move_only_the_listening_connection() {
        let url =
            "postgres://avatars:pw@pool.internal:6432/avatars?listen_port=5432&sslmode=disable";
        let connections = connection_config(url).unwrap();
        assert_eq!(connections.pool.get_ports(), &[6432]);
        let listen = connections.listen.unwrap();
        assert_eq!(listen.get_ports(), &[5432]);
        assert_eq!(
            listen.get_hosts(),
            &[tokio_postgres::config::Host::Tcp(
                "pool.internal".to_owned()
            )]
        );
        assert_eq!(listen.get_user(), Some("avatars"));
        assert_eq!(listen.get_password(), Some(&b"pw"[..]));
        assert_eq!(listen.get_dbname(), Some("avatars"));
        let moved = connection_config("postgres://a@pool/db?listen_host=db.internal").unwrap();
        let listen = moved.listen.unwrap();
        assert_eq!(
            listen.get_hosts(),
            &[tokio_postgres::config::Host::Tcp("db.internal".to_owned())]
        );
        assert!(
            connection_config("postgres://a@db/db")
                .unwrap()
                .listen
                .is_none()
        );
        for bad in ["0", "65536", "x"] {
            let err = check_url(&format!("postgres://a@db/db?listen_port={bad}")).unwrap_err();
            assert!(err.to_string().contains("expected 1 to 65535"), "{err}");
        }
    }

    #[test]
    fn passwords_never_show() {
        assert_eq!(
            display_url("postgres://avatars:s3cret@db:5432/avatars"),
            "postgres://avatars@db:5432/avatars"
        );
        assert_eq!(
            display_url("postgres://db/avatars"),
            "postgres://db/avatars"
        );
        assert_eq!(display_url("host=db user=x"), "host=db user=x");
        let hidden = [
            (
                "postgres://avatars:p@ss@db/avatars",
                "postgres://avatars@db/avatars",
            ),
            (
                "postgresql://db/avatars?user=x&password=s3cret&sslmode=disable",
                "postgresql://db/avatars?user=x&password=***&sslmode=disable",
            ),
            (
                "postgres://a:b@db?password=s3cret",
                "postgres://a@db?password=***",
            ),
            (
                "host=db password=s3cret user=x",
                "host=db password=*** user=x",
            ),
            (
                "host=db password = 's3 \\'cret' user=x",
                "host=db password = *** user=x",
            ),
            ("password=s3cret", "password=***"),
            ("host=db password=", "host=db password=***"),
        ];
        for (given, shown) in hidden {
            assert_eq!(display_url(given), shown, "{given}");
            assert!(!display_url(given).contains("s3"), "{given}");
        }
    }

    proptest::proptest! {
        /// Whatever the password and the form, it never shows; and nothing panics on any text.
        #[test]
        fn no_password_shows_in_any_form(
            password in "[A-Za-z0-9@:%!#$^&*()_+=-]{6,20}",
            junk in "\\PC{0,60}",
        ) {
            let _ = display_url(&junk);
            let marked = format!("Q{password}Z");
            for given in [
                format!("postgres://avatars:{marked}@db:5432/avatars"),
                format!("postgres://db/avatars?password={}", marked.replace('&', "%26")),
                format!("host=db password={marked} user=x"),
                format!("host=db password='{}' user=x", marked.replace('\'', "\\'")),
            ] {
                let shown = display_url(&given);
                proptest::prop_assert!(!shown.contains(&marked), "{} shows {}", given, shown);
            }
        }
    }
}
