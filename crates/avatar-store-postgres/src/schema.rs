//! The tables, created and migrated by the code itself.

use avatar_store::StoreError;
use tokio_postgres::Client;
use tokio_postgres::types::Type;

use crate::store::database_error;

/// The schema version this release writes; `PgStore::connect` migrates any older database to it.
pub const SCHEMA_VERSION: i32 = 3;

/// The statements that take the schema from version `n` to `n + 1`, at index `n`.
const MIGRATIONS: [&str; 3] = [
    r"
    CREATE TABLE avatar_identities (
        identity text PRIMARY KEY,   -- normalised email address or OpenID URL
        content bytea NOT NULL,      -- SHA-256 of bytes
        bytes bytea NOT NULL,        -- the image as uploaded
        updated timestamptz NOT NULL DEFAULT now()
    );
    CREATE TABLE avatar_hashes (
        hash bytea PRIMARY KEY,      -- an MD5 (16 bytes) or SHA-256 (32 bytes) digest
        identity text NOT NULL REFERENCES avatar_identities (identity) ON DELETE CASCADE
    );
    CREATE INDEX avatar_hashes_by_identity ON avatar_hashes (identity);
",
    // Listing goes through identities in byte order (Rust's order of strings), a page at a
    // time from where the last page ended: this index makes each page a range scan whatever
    // the database's collation.
    r#"
    CREATE INDEX avatar_identities_in_byte_order ON avatar_identities (identity COLLATE "C");
"#,
    // Small named documents the avatar services keep beside the avatars (`avatars xmpp`'s
    // subscriptions), so several servers on one database share them.
    r"
    CREATE TABLE avatar_documents (
        name text PRIMARY KEY,
        body text NOT NULL,
        updated timestamptz NOT NULL DEFAULT now()
    );
",
];

/// An arbitrary constant: the advisory lock servers take while migrating.
const MIGRATION_LOCK: i64 = 0x6176_6174_6172_7331;

/// Creates the tables or brings them to [`SCHEMA_VERSION`], in one transaction under an
/// advisory lock (servers starting at once wait for the first).
pub(crate) async fn migrate(client: &mut Client) -> Result<(), StoreError> {
    let transaction = client.transaction().await.map_err(database_error)?;
    transaction
        .execute_typed(
            "SELECT pg_advisory_xact_lock($1)",
            &[(&MIGRATION_LOCK, Type::INT8)],
        )
        .await
        .map_err(database_error)?;
    transaction
        .batch_execute("CREATE TABLE IF NOT EXISTS avatar_schema (version integer NOT NULL)")
        .await
        .map_err(database_error)?;
    let found: Option<i32> = transaction
        .query_typed_opt("SELECT version FROM avatar_schema", &[])
        .await
        .map_err(database_error)?
        .map(|row| row.get(0));
    let version = found.unwrap_or(0);
    if version > SCHEMA_VERSION {
        return Err(StoreError::Backend(format!(
            "the database's avatar schema is version {version}, newer than this release's {SCHEMA_VERSION}; upgrade avatars"
        )));
    }
    for (from, statements) in MIGRATIONS
        .iter()
        .enumerate()
        .skip(usize::try_from(version).unwrap_or(0))
    {
        tracing::info!(from, to = from + 1, "migrating the avatar schema");
        transaction
            .batch_execute(statements)
            .await
            .map_err(database_error)?;
    }
    if found.is_none() {
        transaction
            .execute_typed(
                "INSERT INTO avatar_schema (version) VALUES ($1)",
                &[(&SCHEMA_VERSION, Type::INT4)],
            )
            .await
            .map_err(database_error)?;
    } else if version < SCHEMA_VERSION {
        transaction
            .execute_typed(
                "UPDATE avatar_schema SET version = $1",
                &[(&SCHEMA_VERSION, Type::INT4)],
            )
            .await
            .map_err(database_error)?;
    }
    transaction.commit().await.map_err(database_error)
}
