//! [`Subscriptions`]: who subscribed to which JID of the component, and which stored avatars
//! were mirrored from a subscriber's own, kept beside the store so they survive restarts: in a
//! file of the data directory, or (through a [`SubscriptionStorage`] of the embedding
//! application's, as `avatars xmpp` does for PostgreSQL) in the database.
//!
//! The document is hand-written text rather than JSON: a few thousand short lines that an
//! operator can read and edit, rewritten whole on every change (a file through a temporary
//! file, synced, then renamed), so a crash leaves the old version or the new one.

use std::collections::{BTreeMap, BTreeSet};
use std::future::Future;
use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::pin::Pin;
use std::sync::Mutex;

use jid::BareJid;

use crate::error::ConfigError;

/// A future returned by a [`SubscriptionStorage`].
pub type StorageFuture<'a, T> = Pin<Box<dyn Future<Output = std::io::Result<T>> + Send + 'a>>;

/// Where the subscriptions document is kept: read once when the component starts, written whole
/// after every change.
pub trait SubscriptionStorage: Send + Sync + 'static {
    /// The document, or `None` when none was written yet.
    fn load(&self) -> StorageFuture<'_, Option<String>>;
    /// Replaces the document with `text`, whole: a reader sees the old text or the new one.
    fn save(&self, text: String) -> StorageFuture<'_, ()>;
    /// Where it is, for messages.
    fn describe(&self) -> String;
}

/// A file, rewritten through a temporary file beside it.
#[derive(Debug, Clone)]
pub struct SubscriptionFile(pub PathBuf);

impl SubscriptionStorage for SubscriptionFile {
    fn load(&self) -> StorageFuture<'_, Option<String>> {
        Box::pin(async move { read_file(&self.0) })
    }

    fn save(&self, text: String) -> StorageFuture<'_, ()> {
        Box::pin(async move {
            let path = self.0.clone();
            tokio::task::spawn_blocking(move || write_atomically(&path, &text))
                .await
                .map_err(std::io::Error::other)?
        })
    }

    fn describe(&self) -> String {
        self.0.display().to_string()
    }
}

fn read_file(path: &Path) -> std::io::Result<Option<String>> {
    match std::fs::read_to_string(path) {
        Ok(text) => Ok(Some(text)),
        Err(err) if err.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(err) => Err(err),
    }
}

/// The first line of the file: what it is and its format's version.
const HEADER: &str = "# avatars xmpp subscriptions 1";

/// Subscriptions to the component's JIDs, and the avatars mirrored for subscribers. Cheap to
/// share behind an `Arc`; every change is saved before the call returns.
///
/// ```
/// use avatar_xmpp::{Added, Subscriptions};
///
/// # tokio::runtime::Builder::new_current_thread().enable_all().build()?.block_on(async {
/// let dir = tempfile::tempdir()?;
/// let path = dir.path().join("xmpp-subscriptions");
/// let subscriptions = Subscriptions::open(&path)?;
/// let (alice, bob) = ("alice@avatars.example.org".parse()?, "bob@example.org".parse()?);
/// assert_eq!(subscriptions.add(&alice, &bob).await?, Added::New);
/// assert_eq!(subscriptions.add(&alice, &bob).await?, Added::Known);
///
/// let reopened = Subscriptions::open(&path)?;
/// assert_eq!(reopened.subscribers_of(&alice), vec![bob]);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// # })?;
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub struct Subscriptions {
    storage: Option<Box<dyn SubscriptionStorage>>,
    state: Mutex<State>,
    /// Held while a change is saved, so changes are saved one at a time, in order.
    saving: tokio::sync::Mutex<()>,
    limits: Limits,
}

/// How many subscriptions are kept: anyone on the network may subscribe, so both are bounded.
#[derive(Debug, Clone, Copy)]
struct Limits {
    per_subscriber: usize,
    total: usize,
}

/// What [`Subscriptions::add`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Added {
    /// A new subscription, saved.
    New,
    /// The subscriber was subscribed already.
    Known,
    /// Refused: the subscriber, or everyone together, has as many as the limits allow (see
    /// [`Subscriptions::limits`]).
    OverLimit,
}

/// Subscriptions one JID may hold by default.
pub const DEFAULT_PER_SUBSCRIBER: usize = 1_000;
/// Subscriptions kept in all by default.
pub const DEFAULT_TOTAL: usize = 100_000;

impl Limits {
    const DEFAULT: Self = Self {
        per_subscriber: DEFAULT_PER_SUBSCRIBER,
        total: DEFAULT_TOTAL,
    };
}

impl std::fmt::Debug for Subscriptions {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Subscriptions")
            .field(
                "storage",
                &self.storage.as_ref().map(|storage| storage.describe()),
            )
            .finish_non_exhaustive()
    }
}

#[derive(Debug, Default, Clone)]
struct State {
    /// Contact (a JID of the component) to its subscribers' bare JIDs.
    subscribers: BTreeMap<BareJid, BTreeSet<BareJid>>,
    /// Mirrored identity to the SHA-256 of the stored file the mirror wrote.
    mirrors: BTreeMap<String, [u8; 32]>,
}

impl Subscriptions {
    /// Subscriptions kept in memory only: forgotten when the process ends.
    #[must_use]
    pub fn in_memory() -> Self {
        Self {
            storage: None,
            state: Mutex::new(State::default()),
            saving: tokio::sync::Mutex::new(()),
            limits: Limits::DEFAULT,
        }
    }

    /// At most `per_subscriber` subscriptions for one subscriber and `total` in all (by default
    /// [`DEFAULT_PER_SUBSCRIBER`] and [`DEFAULT_TOTAL`]); past them, [`add`](Self::add) refuses.
    /// Those already kept stay.
    #[must_use]
    pub const fn limits(mut self, per_subscriber: usize, total: usize) -> Self {
        self.limits = Limits {
            per_subscriber,
            total,
        };
        self
    }

    /// Subscriptions kept in the file at `path`, read now (a missing file is an empty list).
    ///
    /// # Errors
    /// As [`load`](Self::load).
    pub fn open(path: impl AsRef<Path>) -> Result<Self, ConfigError> {
        let storage = SubscriptionFile(path.as_ref().to_path_buf());
        let text =
            read_file(&storage.0).map_err(|source| ConfigError::SubscriptionsUnreadable {
                place: storage.describe(),
                source,
            })?;
        Self::with_text(Box::new(storage), text.as_deref())
    }

    /// Subscriptions kept in `storage`, read now (nothing written yet is an empty list).
    ///
    /// # Errors
    /// [`ConfigError::SubscriptionsUnreadable`] if it cannot be read;
    /// [`ConfigError::SubscriptionsLine`] if it holds a line that is not a subscription or a
    /// mirror (the message names the line).
    pub async fn load(storage: impl SubscriptionStorage) -> Result<Self, ConfigError> {
        let text = storage
            .load()
            .await
            .map_err(|source| ConfigError::SubscriptionsUnreadable {
                place: storage.describe(),
                source,
            })?;
        Self::with_text(Box::new(storage), text.as_deref())
    }

    fn with_text(
        storage: Box<dyn SubscriptionStorage>,
        text: Option<&str>,
    ) -> Result<Self, ConfigError> {
        let state = parse(text.unwrap_or_default()).map_err(|(line, why)| {
            ConfigError::SubscriptionsLine {
                place: storage.describe(),
                line,
                why,
            }
        })?;
        Ok(Self {
            storage: Some(storage),
            state: Mutex::new(state),
            saving: tokio::sync::Mutex::new(()),
            limits: Limits::DEFAULT,
        })
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        self.state
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Runs `change` on the state; when it reports a change, saves the document. The state is
    /// changed only once it is saved.
    async fn change(&self, change: impl FnOnce(&mut State) -> bool) -> std::io::Result<bool> {
        let _one_at_a_time = self.saving.lock().await;
        let mut next = self.lock().clone();
        if !change(&mut next) {
            return Ok(false);
        }
        if let Some(storage) = &self.storage {
            storage.save(render(&next)).await?;
        }
        *self.lock() = next;
        Ok(true)
    }

    /// `subscriber` subscribed to `contact`: [`Added::New`], or [`Added::Known`] if it already
    /// had, or [`Added::OverLimit`].
    ///
    /// # Errors
    /// The file cannot be written (nothing changed then).
    pub async fn add(&self, contact: &BareJid, subscriber: &BareJid) -> std::io::Result<Added> {
        let limits = self.limits;
        let mut over = false;
        let added = self
            .change(|state| {
                if state
                    .subscribers
                    .get(contact)
                    .is_some_and(|set| set.contains(subscriber))
                {
                    return false;
                }
                let total: usize = state.subscribers.values().map(BTreeSet::len).sum();
                let held = state
                    .subscribers
                    .values()
                    .filter(|set| set.contains(subscriber))
                    .count();
                if total >= limits.total || held >= limits.per_subscriber {
                    over = true;
                    return false;
                }
                state
                    .subscribers
                    .entry(contact.clone())
                    .or_default()
                    .insert(subscriber.clone())
            })
            .await?;
        Ok(match (added, over) {
            (true, _) => Added::New,
            (false, true) => Added::OverLimit,
            (false, false) => Added::Known,
        })
    }

    /// `subscriber` unsubscribed from `contact`; `Ok(false)` if it was not subscribed.
    ///
    /// # Errors
    /// The file cannot be written (nothing changed then).
    pub async fn remove(&self, contact: &BareJid, subscriber: &BareJid) -> std::io::Result<bool> {
        self.change(|state| {
            let Some(set) = state.subscribers.get_mut(contact) else {
                return false;
            };
            let removed = set.remove(subscriber);
            if set.is_empty() {
                state.subscribers.remove(contact);
            }
            removed
        })
        .await
    }

    /// The subscribers of `contact`, in order.
    #[must_use]
    pub fn subscribers_of(&self, contact: &BareJid) -> Vec<BareJid> {
        self.lock()
            .subscribers
            .get(contact)
            .map(|set| set.iter().cloned().collect())
            .unwrap_or_default()
    }

    /// Every contact with at least one subscriber, in order.
    #[must_use]
    pub fn contacts(&self) -> Vec<BareJid> {
        self.lock().subscribers.keys().cloned().collect()
    }

    /// Records that the mirror stored the file with SHA-256 `content` for `identity`.
    ///
    /// # Errors
    /// The file cannot be written (nothing changed then).
    pub async fn set_mirror(&self, identity: &str, content: [u8; 32]) -> std::io::Result<()> {
        self.change(|state| state.mirrors.insert(identity.to_owned(), content) != Some(content))
            .await
            .map(drop)
    }

    /// Forgets that `identity`'s avatar was mirrored.
    ///
    /// # Errors
    /// The file cannot be written (nothing changed then).
    pub async fn clear_mirror(&self, identity: &str) -> std::io::Result<()> {
        self.change(|state| state.mirrors.remove(identity).is_some())
            .await
            .map(drop)
    }

    /// The SHA-256 of the file the mirror last stored for `identity`, if it mirrored one.
    #[must_use]
    pub fn mirror_of(&self, identity: &str) -> Option<[u8; 32]> {
        self.lock().mirrors.get(identity).copied()
    }
}

/// The file's text: the header, then one `subscription CONTACT SUBSCRIBER` or
/// `mirror IDENTITY SHA256` line each (bare JIDs and normalised addresses hold no whitespace).
fn render(state: &State) -> String {
    use std::fmt::Write as _;
    let mut text = format!("{HEADER}\n");
    for (contact, subscribers) in &state.subscribers {
        for subscriber in subscribers {
            let _ = writeln!(text, "subscription {contact} {subscriber}");
        }
    }
    for (identity, content) in &state.mirrors {
        let _ = writeln!(
            text,
            "mirror {identity} {}",
            avatar_proto::hex::encode_lower(content)
        );
    }
    text
}

/// Reads [`render`]'s text back; a bad line is reported with its number (from 1) and why.
fn parse(text: &str) -> Result<State, (usize, String)> {
    let mut state = State::default();
    for (index, line) in text.lines().enumerate() {
        let number = index + 1;
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let fields: Vec<&str> = line.split_whitespace().collect();
        match fields.as_slice() {
            ["subscription", contact, subscriber] => {
                let jid = |text: &str| {
                    BareJid::new(text).map_err(|err| (number, format!("{text:?}: {err}")))
                };
                state
                    .subscribers
                    .entry(jid(contact)?)
                    .or_default()
                    .insert(jid(subscriber)?);
            }
            ["mirror", identity, content] => {
                let digest =
                    avatar_proto::hex::decode_exact::<32>(content.as_bytes()).ok_or_else(|| {
                        (
                            number,
                            format!("{content:?} is not a SHA-256 in 64 hex digits"),
                        )
                    })?;
                state.mirrors.insert((*identity).to_owned(), digest);
            }
            _ => {
                return Err((
                    number,
                    "expected `subscription CONTACT SUBSCRIBER` or `mirror IDENTITY SHA256`"
                        .to_owned(),
                ));
            }
        }
    }
    Ok(state)
}

/// Writes `text` to a temporary file beside `path`, syncs it and renames it over `path`.
fn write_atomically(path: &Path, text: &str) -> std::io::Result<()> {
    let mut temporary = path.as_os_str().to_owned();
    temporary.push(".tmp");
    let temporary = PathBuf::from(temporary);
    let mut file = std::fs::File::create(&temporary)?;
    file.write_all(text.as_bytes())?;
    file.sync_all()?;
    std::fs::rename(&temporary, path)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn jid(text: &str) -> BareJid {
        text.parse().unwrap()
    }

    #[tokio::test]
    async fn what_is_written_reads_back_the_same() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("subs");
        let subscriptions = Subscriptions::open(&path).unwrap();
        let alice = jid("alice@avatars.example.org");
        subscriptions
            .add(&alice, &jid("bob@example.org"))
            .await
            .unwrap();
        subscriptions
            .add(&alice, &jid("carol@example.org"))
            .await
            .unwrap();
        subscriptions
            .add(&jid("avatars.example.org"), &jid("bob@example.org"))
            .await
            .unwrap();
        subscriptions
            .set_mirror("bob@example.org", [7; 32])
            .await
            .unwrap();
        assert!(
            subscriptions
                .remove(&alice, &jid("carol@example.org"))
                .await
                .unwrap()
        );
        assert!(
            !subscriptions
                .remove(&alice, &jid("dave@example.org"))
                .await
                .unwrap()
        );

        let reopened = Subscriptions::open(&path).unwrap();
        assert_eq!(
            reopened.subscribers_of(&alice),
            vec![jid("bob@example.org")]
        );
        assert_eq!(reopened.contacts().len(), 2);
        assert_eq!(reopened.mirror_of("bob@example.org"), Some([7; 32]));
        reopened.clear_mirror("bob@example.org").await.unwrap();
        assert_eq!(
            Subscriptions::open(&path)
                .unwrap()
                .mirror_of("bob@example.org"),
            None
        );
    }

    #[test]
    fn a_damaged_file_is_refused_with_its_line() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("subs");
        for (text, line) in [
            ("subscription a@b\n", 1),
            ("# c\nsubscription a@b c@d\nmirror x@y zz\n", 3),
            ("\n\nsubscribe a@b c@d\n", 3),
            ("subscription a@@b c@d\n", 1),
        ] {
            std::fs::write(&path, text).unwrap();
            let err = Subscriptions::open(&path).unwrap_err();
            assert!(
                matches!(err, ConfigError::SubscriptionsLine { line: l, .. } if l == line),
                "{text:?}: {err}"
            );
        }
    }

    #[tokio::test]
    async fn subscriptions_are_bounded_per_subscriber_and_in_all() {
        let subscriptions = Subscriptions::in_memory().limits(2, 3);
        let contact = |n: u32| jid(&format!("c{n}@avatars.example.org"));
        let (bob, carol) = (jid("bob@example.org"), jid("carol@example.org"));
        assert_eq!(
            subscriptions.add(&contact(1), &bob).await.unwrap(),
            Added::New
        );
        assert_eq!(
            subscriptions.add(&contact(1), &bob).await.unwrap(),
            Added::Known
        );
        assert_eq!(
            subscriptions.add(&contact(2), &bob).await.unwrap(),
            Added::New
        );
        assert_eq!(
            subscriptions.add(&contact(3), &bob).await.unwrap(),
            Added::OverLimit,
            "two per subscriber"
        );
        assert_eq!(
            subscriptions.add(&contact(3), &carol).await.unwrap(),
            Added::New
        );
        assert_eq!(
            subscriptions.add(&contact(4), &carol).await.unwrap(),
            Added::OverLimit,
            "three in all"
        );
        assert_eq!(subscriptions.contacts().len(), 3);
        assert!(subscriptions.remove(&contact(1), &bob).await.unwrap());
        assert_eq!(
            subscriptions.add(&contact(4), &carol).await.unwrap(),
            Added::New
        );
    }

    #[tokio::test]
    async fn a_failed_write_changes_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("missing-folder").join("subs");
        let subscriptions = Subscriptions::open(&path).unwrap();
        let alice = jid("alice@avatars.example.org");
        assert!(
            subscriptions
                .add(&alice, &jid("bob@example.org"))
                .await
                .is_err()
        );
        assert!(subscriptions.subscribers_of(&alice).is_empty());
    }
}
