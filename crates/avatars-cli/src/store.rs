//! The store a command works on, chosen at run time: `--store postgres://...` for a database
//! several servers share, or a directory (`--store DIR`, or `--data-dir DIR`, the default
//! `avatars-data`).

use std::path::PathBuf;

use avatar_proto::{AvatarHash, Identity};
use avatar_store::{FsStore, Store, StoreError, StoredEntry, StoredImage};
use avatar_store_postgres::PgStore;
use bytes::Bytes;
use futures_util::Stream;
use futures_util::future::Either;

use crate::cli::DataDir;
use crate::error::CliError;

/// A directory or a PostgreSQL database.
#[derive(Debug, Clone)]
pub(crate) enum AnyStore {
    /// `--data-dir DIR` (the embedded default).
    Dir(FsStore),
    /// `--store postgres://...`.
    Postgres(PgStore),
}

/// Whether a store shared by several servers sees the changes the others make.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Following {
    /// It does: what this server caches is dropped when another changes it.
    Yes,
    /// It does not, and why: the listening connection is down (reconnecting), or changes
    /// notified through the store's URL never reach it ([`PgStore::why_not_following`]).
    No(&'static str),
}

impl AnyStore {
    /// Whether it follows other servers' changes; `None` for a directory (other processes'
    /// writes there are noticed by [`FsStore`] itself).
    pub(crate) fn following(&self) -> Option<Following> {
        let Self::Postgres(store) = self else {
            return None;
        };
        Some(if store.is_following() {
            Following::Yes
        } else {
            Following::No(store.why_not_following().unwrap_or(
                "the connection that follows changes is down; reconnecting (the log says why)",
            ))
        })
    }

    /// `health` (a `/healthz` body) with, for a PostgreSQL store, `follows_changes` and, when
    /// false, `why_not`.
    pub(crate) fn with_following(&self, mut health: serde_json::Value) -> serde_json::Value {
        match self.following() {
            None => {}
            Some(Following::Yes) => health["follows_changes"] = true.into(),
            Some(Following::No(why)) => {
                health["follows_changes"] = false.into();
                health["why_not"] = why.into();
            }
        }
        health
    }
}

/// Whether a command may create a store where there is none.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Open {
    /// `serve`, `import`, `xmpp`, `migrate --to`: a new directory becomes a store.
    Create,
    /// `remove`, `render-ahead`: there must be a store already, to write in.
    Existing,
    /// `list`, `migrate --from`: there must be a store already, only read.
    Read,
}

/// Where a command's store is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Location {
    Dir(PathBuf),
    Postgres(String),
}

impl Location {
    /// `postgres://` or `postgresql://` URLs are databases, checked as PostgreSQL reads them;
    /// any other `SCHEME://` is refused (a typo, or a database this build does not know, would
    /// otherwise become a folder of that name); anything else is a directory.
    ///
    /// # Errors
    /// [`StoreError::InvalidUrl`] saying what is wrong and what is accepted.
    pub(crate) fn parse(text: &str) -> Result<Self, StoreError> {
        let lower = text.to_ascii_lowercase();
        if lower.starts_with("postgres://") || lower.starts_with("postgresql://") {
            avatar_store_postgres::check_url(text)?;
            return Ok(Self::Postgres(text.to_owned()));
        }
        if let Some((scheme, _)) = text.split_once("://")
            && is_url_scheme(scheme)
        {
            return Err(StoreError::InvalidUrl {
                url: avatar_store_postgres::display_url(text),
                reason: format!(
                    "{scheme}:// is no store this build knows; expected postgres://USER@HOST/DATABASE, or a directory"
                ),
            });
        }
        Ok(Self::Dir(PathBuf::from(text)))
    }

    /// For messages: the directory, or the URL without its password.
    pub(crate) fn describe(&self) -> String {
        match self {
            Self::Dir(dir) => dir.display().to_string(),
            Self::Postgres(url) => avatar_store_postgres::display_url(url),
        }
    }

    /// Whether this is a directory holding no store yet (nothing there, or an empty
    /// directory): one that [`Open::Create`] would make a store of.
    pub(crate) fn is_new_dir(&self) -> bool {
        matches!(self, Self::Dir(dir)
            if matches!(FsStore::open_existing(dir), Err(StoreError::NoStore { .. })))
    }

    /// The flag that names this store to another command (`avatars import`), nothing for the
    /// default folder: `--data-dir DIR `, or `--store URL ` without its password.
    pub(crate) fn as_flag(&self) -> String {
        match self {
            Self::Dir(dir) if dir.as_os_str() == crate::cli::DEFAULT_DATA_DIR => String::new(),
            Self::Dir(dir) => format!("--data-dir {} ", dir.display()),
            Self::Postgres(_) => format!("--store {} ", self.describe()),
        }
    }

    /// Opens the store here, which `flag` named; a directory to write in only where root may
    /// ([`crate::owner`]).
    ///
    /// # Errors
    /// The store's; [`CliError::StoreAt`] for a directory that holds no store or something
    /// else, saying what to give `flag`; and [`CliError::NotTheOwner`].
    pub(crate) async fn open(&self, open: Open, flag: &'static str) -> Result<AnyStore, CliError> {
        if let (Self::Dir(dir), Open::Create | Open::Existing) = (self, open) {
            crate::owner::check_root_writes_its_own(dir)?;
        }
        let opened = match (self, open) {
            (Self::Dir(dir), Open::Create) => FsStore::open(dir).map(AnyStore::Dir),
            (Self::Dir(dir), Open::Existing | Open::Read) => {
                FsStore::open_existing(dir).map(AnyStore::Dir)
            }
            (Self::Postgres(url), _) => PgStore::connect(url).await.map(AnyStore::Postgres),
        };
        opened.map_err(|err| match err {
            StoreError::NoStore { .. } | StoreError::NotAStore { .. } => {
                CliError::StoreAt { flag, source: err }
            }
            other => CliError::Store(other),
        })
    }
}

impl DataDir {
    /// The option that names the store: `--store` if given, else `--data-dir`.
    pub(crate) const fn flag(&self) -> &'static str {
        if self.store.is_some() {
            "--store"
        } else {
            "--data-dir"
        }
    }

    /// `--store` if given, else `--data-dir`.
    ///
    /// # Errors
    /// As [`Location::parse`], for `--store`.
    pub(crate) fn location(&self) -> Result<Location, StoreError> {
        self.store
            .as_deref()
            .map_or_else(|| Ok(Location::Dir(self.data_dir.clone())), Location::parse)
    }
}

/// Whether `text` is a URL scheme (RFC 3986: a letter, then letters, digits, `+`, `-`, `.`).
fn is_url_scheme(text: &str) -> bool {
    let mut chars = text.chars();
    chars
        .next()
        .is_some_and(|first| first.is_ascii_alphabetic())
        && chars.all(|c| c.is_ascii_alphanumeric() || matches!(c, '+' | '-' | '.'))
}

impl Store for AnyStore {
    async fn get(&self, hash: &AvatarHash) -> Result<Option<StoredImage>, StoreError> {
        match self {
            Self::Dir(store) => store.get(hash).await,
            Self::Postgres(store) => store.get(hash).await,
        }
    }

    async fn put(&self, identity: &Identity, bytes: Bytes) -> Result<(), StoreError> {
        match self {
            Self::Dir(store) => store.put(identity, bytes).await,
            Self::Postgres(store) => store.put(identity, bytes).await,
        }
    }

    async fn put_shared(&self, identities: &[Identity], bytes: Bytes) -> Result<(), StoreError> {
        match self {
            Self::Dir(store) => store.put_shared(identities, bytes).await,
            Self::Postgres(store) => store.put_shared(identities, bytes).await,
        }
    }

    async fn contains(&self, hash: &AvatarHash) -> Result<bool, StoreError> {
        match self {
            Self::Dir(store) => store.contains(hash).await,
            Self::Postgres(store) => store.contains(hash).await,
        }
    }

    async fn remove(&self, identity: &Identity) -> Result<bool, StoreError> {
        match self {
            Self::Dir(store) => store.remove(identity).await,
            Self::Postgres(store) => store.remove(identity).await,
        }
    }

    async fn list(&self) -> Result<Vec<StoredEntry>, StoreError> {
        match self {
            Self::Dir(store) => store.list().await,
            Self::Postgres(store) => store.list().await,
        }
    }

    fn entries(&self) -> impl Stream<Item = Result<StoredEntry, StoreError>> + Send {
        match self {
            Self::Dir(store) => Either::Left(store.entries()),
            Self::Postgres(store) => Either::Right(store.entries()),
        }
    }

    fn generation(&self, hash: &AvatarHash) -> Option<u64> {
        match self {
            Self::Dir(store) => store.generation(hash),
            Self::Postgres(store) => store.generation(hash),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::Location;

    #[test]
    fn a_store_is_named_to_another_command_as_it_was_given() {
        assert_eq!(Location::parse("avatars-data").unwrap().as_flag(), "");
        assert_eq!(
            Location::parse("/srv/av").unwrap().as_flag(),
            "--data-dir /srv/av "
        );
        assert_eq!(
            Location::parse("postgres://avatars:secret@db.internal/avatars")
                .unwrap()
                .as_flag(),
            "--store postgres://avatars@db.internal/avatars "
        );
    }
}
