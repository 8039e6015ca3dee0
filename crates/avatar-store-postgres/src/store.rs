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

use crate::connection::{Connections, connection_config, describe_listen, display_url};
use crate::errors::{database_error, no_answer_in_time, no_connection_in_time, unavailable};
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
