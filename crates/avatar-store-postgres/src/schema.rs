//! The tables, created and migrated by the code itself.

use avatar_store::StoreError;
use tokio_postgres::types::Type;
use tokio_postgres::{Client, Transaction};

use crate::errors::database_error;

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

/// The privileges the store's statements need on each table, once the tables are there: what
/// a role that did not create them must be granted. Removing an identity removes its hashes
/// by the foreign key, which PostgreSQL does with the tables' owner's rights.
pub(crate) const TABLE_PRIVILEGES: [(&str, &[&str]); 4] = [
    (
        "avatar_identities",
        &["SELECT", "INSERT", "UPDATE", "DELETE"],
    ),
    ("avatar_hashes", &["SELECT", "INSERT", "UPDATE"]),
    ("avatar_documents", &["SELECT", "INSERT", "UPDATE"]),
    ("avatar_schema", &["SELECT"]),
];

/// What each of [`MIGRATIONS`] needs of the role that runs it, besides writing
/// `avatar_schema`.
const MIGRATION_NEEDS: [Need; 3] = [
    Need::CreateInSchema,
    Need::Owner("avatar_identities"),
    Need::CreateInSchema,
];

/// A right a migration needs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Need {
    /// `CREATE` on the schema the tables go in (the first of the search path).
    CreateInSchema,
    /// Owning the table (an index on it).
    Owner(&'static str),
}

/// Creates the tables or brings them to [`SCHEMA_VERSION`], in one transaction under an
/// advisory lock (servers starting together wait for the first). A database already at this
/// version is only read: a role that may read and write the tables, and not create any,
/// connects too (a database whose owner created them, for a server with fewer rights).
pub(crate) async fn migrate(client: &mut Client) -> Result<(), StoreError> {
    let transaction = client.transaction().await.map_err(database_error)?;
    transaction
        .execute_typed(
            "SELECT pg_advisory_xact_lock($1)",
            &[(&MIGRATION_LOCK, Type::INT8)],
        )
        .await
        .map_err(database_error)?;
    let found = read_version(&transaction).await?;
    let version = found.unwrap_or(0);
    if version > SCHEMA_VERSION {
        return Err(newer_schema(version));
    }
    if version == SCHEMA_VERSION {
        return transaction.commit().await.map_err(database_error);
    }
    // Said before trying: PostgreSQL's own "permission denied for schema public" says neither
    // why the store needs it nor what to grant.
    if let Some(problem) = may_not_migrate(&transaction, version).await? {
        return Err(StoreError::Backend(problem));
    }
    if found.is_none()
        && let Some(elsewhere) = tables_elsewhere(&transaction).await?
    {
        tracing::warn!("creating empty avatar tables, although {elsewhere}");
    }
    transaction
        .batch_execute("CREATE TABLE IF NOT EXISTS avatar_schema (version integer NOT NULL)")
        .await
        .map_err(database_error)?;
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
    } else {
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

/// What [`inspect`] found.
pub(crate) struct Found {
    /// The schema's version, 0 where there is none (in the search path).
    pub(crate) version: i32,
    /// What the role may not do on the tables at this version, as `GRANT` statements.
    pub(crate) missing_privileges: Option<String>,
    /// Where there is no schema: avatar tables the connection does not look in, and what
    /// would make it ([`tables_elsewhere`]).
    pub(crate) tables_elsewhere: Option<String>,
}

/// What [`migrate`] would find, read in a read-only transaction: the schema's version (0 where
/// there is none yet), and what the role may not do that the store would need, where it may
/// not: create or migrate the schema (an error, as `migrate` would stop there), or read and
/// write the tables at this version (`Some`, since only what needs it would fail).
///
/// # Errors
/// [`StoreError::Backend`] for a newer schema, or one this role could not create or migrate.
pub(crate) async fn inspect(client: &mut Client) -> Result<Found, StoreError> {
    let transaction = client
        .build_transaction()
        .read_only(true)
        .start()
        .await
        .map_err(database_error)?;
    let version = read_version(&transaction).await?.unwrap_or(0);
    if version > SCHEMA_VERSION {
        return Err(newer_schema(version));
    }
    if version < SCHEMA_VERSION {
        if let Some(problem) = may_not_migrate(&transaction, version).await? {
            return Err(StoreError::Backend(problem));
        }
        let tables_elsewhere = if version == 0 {
            tables_elsewhere(&transaction).await?
        } else {
            None
        };
        return Ok(Found {
            version,
            missing_privileges: None,
            tables_elsewhere,
        });
    }
    Ok(Found {
        version,
        missing_privileges: may_not_use(&transaction).await?,
        tables_elsewhere: None,
    })
}

/// What a schema's name must have encoded as a value in a URL's query: the rest is read as
/// written.
const IN_URL_QUERY: &percent_encoding::AsciiSet = &percent_encoding::CONTROLS
    .add(b' ')
    .add(b'"')
    .add(b'#')
    .add(b'%')
    .add(b'&')
    .add(b'+')
    .add(b'=');

/// Avatar tables in the database that the connection does not look in, when it finds none in
/// its search path: in a schema the role may not use, or one outside the search path (a URL
/// that lost its `options=-c search_path=...`). Says where, and what would make the store use
/// them; `None` where there are none. Such tables may be another store's on purpose, so this
/// only ever warns.
async fn tables_elsewhere(transaction: &Transaction<'_>) -> Result<Option<String>, StoreError> {
    let rows = transaction
        .query_typed(
            "SELECT n.nspname, quote_ident(n.nspname), has_schema_privilege(n.oid, 'USAGE'), \
             quote_ident(current_user), array_to_string(current_schemas(false), ', ') \
             FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace \
             WHERE c.relname = 'avatar_schema' AND c.relkind = 'r' ORDER BY n.nspname",
            &[],
        )
        .await
        .map_err(database_error)?;
    let Some(first) = rows.first() else {
        return Ok(None);
    };
    let (name, schema, usable, role, search_path): (String, String, bool, String, String) = (
        first.get(0),
        first.get(1),
        first.get(2),
        first.get(3),
        first.get(4),
    );
    let more = match rows.len() {
        1 => String::new(),
        2 => " (and one other schema)".to_owned(),
        n => format!(" (and {} other schemas)", n - 1),
    };
    Ok(Some(if usable {
        format!(
            "schema {schema}{more} holds avatar tables, which this connection does not look in \
             (its search path: {search_path}); if they are this store's, add \
             the parameter options=-c%20search_path%3D{} to the URL",
            percent_encoding::utf8_percent_encode(&name, IN_URL_QUERY)
        )
    } else {
        format!(
            "schema {schema}{more} holds avatar tables, which role {role} may not use; if \
             they are this store's: GRANT USAGE ON SCHEMA {schema} TO {role}"
        )
    }))
}

/// The version in `avatar_schema`, read without creating it: `None` where there is no such
/// table (in the search path) or no row.
async fn read_version(transaction: &Transaction<'_>) -> Result<Option<i32>, StoreError> {
    let table: bool = transaction
        .query_typed_one("SELECT to_regclass('avatar_schema') IS NOT NULL", &[])
        .await
        .map_err(database_error)?
        .get(0);
    if !table {
        return Ok(None);
    }
    Ok(transaction
        .query_typed_opt("SELECT version FROM avatar_schema", &[])
        .await
        .map_err(database_error)?
        .map(|row| row.get(0)))
}

/// The error for a database whose schema a newer release wrote.
fn newer_schema(version: i32) -> StoreError {
    StoreError::Backend(format!(
        "the database's avatar schema is version {version}, newer than this release's {SCHEMA_VERSION}; upgrade avatars"
    ))
}

/// Why the connected role could not bring the schema from `version` to [`SCHEMA_VERSION`],
/// and what to grant, or `None` where it could.
async fn may_not_migrate(
    transaction: &Transaction<'_>,
    version: i32,
) -> Result<Option<String>, StoreError> {
    let row = transaction
        .query_typed_one(
            "SELECT quote_ident(current_user), current_database(), current_schema(), \
             coalesce(has_schema_privilege(current_schema(), 'CREATE'), false), \
             coalesce(has_table_privilege(to_regclass('avatar_schema'), 'UPDATE'), true)",
            &[],
        )
        .await
        .map_err(database_error)?;
    let (role, database): (String, String) = (row.get(0), row.get(1));
    let Some(schema) = row.get::<_, Option<String>>(2) else {
        return Ok(Some(format!(
            "no schema of the search path of role {role} exists in database {database}, so \
             the avatar tables have nowhere to go: create one, or set the role's search_path"
        )));
    };
    let (may_create, may_update_version): (bool, bool) = (row.get(3), row.get(4));
    let creating = if version == 0 {
        "create the avatar tables".to_owned()
    } else {
        format!("migrate the avatar tables from schema version {version} to {SCHEMA_VERSION}")
    };
    let needs = &MIGRATION_NEEDS[usize::try_from(version).unwrap_or(0)..];
    if needs.contains(&Need::CreateInSchema) && !may_create {
        // Tables it cannot see are more likely what is wrong than a right to create.
        let elsewhere = if version == 0 {
            tables_elsewhere(transaction)
                .await?
                .map_or_else(String::new, |elsewhere| format!(". But {elsewhere}"))
        } else {
            String::new()
        };
        return Ok(Some(format!(
            "role {role} may not create tables in schema {schema} of database {database}, and \
             the store must, to {creating} (since PostgreSQL 15 only the database's owner may, \
             unless granted): connect once as the database's owner, or make {role} the owner \
             (createdb -O {role}, or ALTER DATABASE {database} OWNER TO {role}), or GRANT \
             CREATE ON SCHEMA {schema} TO {role}{elsewhere}"
        )));
    }
    for need in needs {
        let Need::Owner(table) = *need else {
            continue;
        };
        let owns: Option<bool> = transaction
            .query_typed_opt(
                "SELECT pg_has_role(relowner, 'USAGE') FROM pg_class WHERE oid = to_regclass($1)",
                &[(&table, Type::TEXT)],
            )
            .await
            .map_err(database_error)?
            .map(|row| row.get(0));
        if owns == Some(false) {
            return Ok(Some(format!(
                "role {role} does not own table {table} of database {database}, and the store \
                 must, to {creating}: connect once as its owner"
            )));
        }
    }
    if !may_update_version {
        return Ok(Some(format!(
            "role {role} may not update table avatar_schema of database {database}, and the \
             store must, to {creating}: connect once as its owner"
        )));
    }
    Ok(None)
}

/// What the connected role may not do of what the store's statements do on tables at
/// [`SCHEMA_VERSION`] ([`TABLE_PRIVILEGES`]), as the `GRANT` statements that would give it,
/// or `None` where it may do all of it.
async fn may_not_use(transaction: &Transaction<'_>) -> Result<Option<String>, StoreError> {
    let (tables, privileges): (Vec<&str>, Vec<&str>) = TABLE_PRIVILEGES
        .iter()
        .flat_map(|(table, privileges)| {
            privileges.iter().map(move |privilege| (*table, *privilege))
        })
        .unzip();
    let rows = transaction
        .query_typed(
            "SELECT quote_ident(current_user), wanted.name, wanted.privilege \
             FROM unnest($1::text[], $2::text[]) WITH ORDINALITY AS wanted (name, privilege, n) \
             WHERE NOT coalesce(has_table_privilege(to_regclass(wanted.name), wanted.privilege), false) \
             ORDER BY n",
            &[(&tables, Type::TEXT_ARRAY), (&privileges, Type::TEXT_ARRAY)],
        )
        .await
        .map_err(database_error)?;
    let Some(role) = rows.first().map(|row| row.get::<_, String>(0)) else {
        return Ok(None);
    };
    let mut grants: Vec<(String, Vec<String>)> = Vec::new();
    for row in &rows {
        let (table, privilege): (String, String) = (row.get(1), row.get(2));
        match grants.last_mut() {
            Some((last, missing)) if *last == table => missing.push(privilege),
            _ => grants.push((table, vec![privilege])),
        }
    }
    let grants = grants
        .iter()
        .map(|(table, missing)| format!("GRANT {} ON {table} TO {role};", missing.join(", ")))
        .collect::<Vec<_>>()
        .join(" ");
    Ok(Some(format!(
        "role {role} lacks privileges the store's statements need on the avatar tables, and \
         what needs them will fail: {grants}"
    )))
}
