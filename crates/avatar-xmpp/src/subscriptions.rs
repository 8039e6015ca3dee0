//! [`Subscriptions`]: who subscribed to which JID of the component, and which stored avatars
//! were mirrored from a subscriber's own, kept in a small text file beside the store so they
//! survive restarts.
//!
//! The file is hand-written text rather than a database or JSON: a few thousand short lines that
//! an operator can read and edit, rewritten whole (to a temporary file, synced, then renamed) on
//! every change, so a crash leaves the old version or the new one.

use std::collections::{BTreeMap, BTreeSet};
use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use jid::BareJid;

use crate::error::ConfigError;

/// The first line of the file: what it is and its format's version.
const HEADER: &str = "# avatars xmpp subscriptions 1";

/// Subscriptions to the component's JIDs, and the avatars mirrored for subscribers. Cheap to
/// share behind an `Arc`; every change is written to the file before the call returns.
///
/// ```
/// use avatar_xmpp::Subscriptions;
///
/// let dir = tempfile::tempdir()?;
/// let path = dir.path().join("xmpp-subscriptions");
/// let subscriptions = Subscriptions::open(&path)?;
/// let (alice, bob) = ("alice@avatars.example.org".parse()?, "bob@example.org".parse()?);
/// assert!(subscriptions.add(&alice, &bob)?);
/// assert!(!subscriptions.add(&alice, &bob)?, "already there");
///
/// let reopened = Subscriptions::open(&path)?;
/// assert_eq!(reopened.subscribers_of(&alice), vec![bob]);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug)]
pub struct Subscriptions {
    path: Option<PathBuf>,
    state: Mutex<State>,
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
            path: None,
            state: Mutex::new(State::default()),
        }
    }

    /// Subscriptions kept in the file at `path`, read now (a missing file is an empty list).
    ///
    /// # Errors
    /// [`ConfigError::SubscriptionsFile`] if the file cannot be read, or holds a line that is
    /// not a subscription or a mirror (the message names the line).
    pub fn open(path: impl AsRef<Path>) -> Result<Self, ConfigError> {
        let path = path.as_ref().to_path_buf();
        let text = match std::fs::read_to_string(&path) {
            Ok(text) => text,
            Err(err) if err.kind() == std::io::ErrorKind::NotFound => String::new(),
            Err(source) => return Err(ConfigError::SubscriptionsFile { path, source }),
        };
        let state = parse(&text).map_err(|(line, why)| ConfigError::SubscriptionsLine {
            path: path.clone(),
            line,
            why,
        })?;
        Ok(Self {
            path: Some(path),
            state: Mutex::new(state),
        })
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        self.state
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Runs `change` on the state; when it reports a change, writes the file. The state is
    /// changed only once the file is written.
    fn change(&self, change: impl FnOnce(&mut State) -> bool) -> std::io::Result<bool> {
        let mut state = self.lock();
        let mut next = state.clone();
        if !change(&mut next) {
            return Ok(false);
        }
        if let Some(path) = &self.path {
            write_atomically(path, &render(&next))?;
        }
        *state = next;
        Ok(true)
    }

    /// `subscriber` subscribed to `contact`; `Ok(false)` if it already had.
    ///
    /// # Errors
    /// The file cannot be written (nothing changed then).
    pub fn add(&self, contact: &BareJid, subscriber: &BareJid) -> std::io::Result<bool> {
        self.change(|state| {
            state
                .subscribers
                .entry(contact.clone())
                .or_default()
                .insert(subscriber.clone())
        })
    }

    /// `subscriber` unsubscribed from `contact`; `Ok(false)` if it was not subscribed.
    ///
    /// # Errors
    /// The file cannot be written (nothing changed then).
    pub fn remove(&self, contact: &BareJid, subscriber: &BareJid) -> std::io::Result<bool> {
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
    pub fn set_mirror(&self, identity: &str, content: [u8; 32]) -> std::io::Result<()> {
        self.change(|state| state.mirrors.insert(identity.to_owned(), content) != Some(content))
            .map(drop)
    }

    /// Forgets that `identity`'s avatar was mirrored.
    ///
    /// # Errors
    /// The file cannot be written (nothing changed then).
    pub fn clear_mirror(&self, identity: &str) -> std::io::Result<()> {
        self.change(|state| state.mirrors.remove(identity).is_some())
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

    #[test]
    fn what_is_written_reads_back_the_same() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("subs");
        let subscriptions = Subscriptions::open(&path).unwrap();
        let alice = jid("alice@avatars.example.org");
        subscriptions.add(&alice, &jid("bob@example.org")).unwrap();
        subscriptions
            .add(&alice, &jid("carol@example.org"))
            .unwrap();
        subscriptions
            .add(&jid("avatars.example.org"), &jid("bob@example.org"))
            .unwrap();
        subscriptions
            .set_mirror("bob@example.org", [7; 32])
            .unwrap();
        assert!(
            subscriptions
                .remove(&alice, &jid("carol@example.org"))
                .unwrap()
        );
        assert!(
            !subscriptions
                .remove(&alice, &jid("dave@example.org"))
                .unwrap()
        );

        let reopened = Subscriptions::open(&path).unwrap();
        assert_eq!(
            reopened.subscribers_of(&alice),
            vec![jid("bob@example.org")]
        );
        assert_eq!(reopened.contacts().len(), 2);
        assert_eq!(reopened.mirror_of("bob@example.org"), Some([7; 32]));
        reopened.clear_mirror("bob@example.org").unwrap();
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

    #[test]
    fn a_failed_write_changes_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("missing-folder").join("subs");
        let subscriptions = Subscriptions::open(&path).unwrap();
        let alice = jid("alice@avatars.example.org");
        assert!(subscriptions.add(&alice, &jid("bob@example.org")).is_err());
        assert!(subscriptions.subscribers_of(&alice).is_empty());
    }
}
