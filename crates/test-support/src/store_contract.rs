//! The contract every [`Store`] keeps, as one async function a backend's tests call: the
//! memory and filesystem stores' tests (`avatar-store/tests/it/store.rs`) and the PostgreSQL
//! store's (`avatar-store-postgres/tests/it/main.rs`).

use avatar_proto::{HashAlgorithm, Identity};
use avatar_store::Store;
use bytes::Bytes;
use futures_util::StreamExt as _;

fn identity(text: &str) -> Identity {
    Identity::parse(text).unwrap()
}

/// Puts, replaces, finds by every published hash, lists, removes, and shares one picture
/// between several identities; the generation of a touched hash changes on every write.
///
/// # Panics
/// When the store breaks the contract (a test failure).
pub async fn contract(store: impl Store) {
    let george = identity("George@example.com");
    let bob = identity("https://example.com/id/Bob");
    assert!(
        store
            .get(&george.hash(HashAlgorithm::Md5))
            .await
            .unwrap()
            .is_none()
    );

    let before = store
        .generation(&george.hash(HashAlgorithm::Md5))
        .expect("both stores tell their generation");
    store
        .put(&george, Bytes::from_static(b"first"))
        .await
        .unwrap();
    let after_put = store.generation(&george.hash(HashAlgorithm::Md5)).unwrap();
    assert_ne!(before, after_put, "a put changes the generation");
    store.put(&bob, Bytes::from_static(b"bob's")).await.unwrap();
    let by_md5 = store
        .get(&george.hash(HashAlgorithm::Md5))
        .await
        .unwrap()
        .unwrap();
    let by_sha = store
        .get(&george.hash(HashAlgorithm::Sha256))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(by_md5, by_sha);
    assert_eq!(&by_md5.bytes[..], b"first");

    // Every OpenID spelling finds the same avatar.
    for variant in [
        "http://example.com/id/Bob",
        "http://example.com/id/Bob/",
        "https://example.com/id/Bob/",
    ] {
        let found = store
            .get(&identity(variant).hash(HashAlgorithm::Sha256))
            .await
            .unwrap();
        assert_eq!(
            found.map(|image| image.bytes),
            Some(Bytes::from_static(b"bob's")),
            "{variant}"
        );
    }

    store
        .put(&george, Bytes::from_static(b"second, longer"))
        .await
        .unwrap();
    let replaced = store
        .get(&george.hash(HashAlgorithm::Md5))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(&replaced.bytes[..], b"second, longer");
    assert_ne!(replaced.content, by_md5.content);

    let listed = store.list().await.unwrap();
    let names: Vec<_> = listed.iter().map(|entry| entry.identity.as_str()).collect();
    assert_eq!(names, ["george@example.com", "https://example.com/id/Bob"]);
    assert_eq!(listed[0].bytes, 14);

    let before_remove = store.generation(&george.hash(HashAlgorithm::Md5)).unwrap();
    assert!(store.remove(&george).await.unwrap());
    assert_ne!(
        store.generation(&george.hash(HashAlgorithm::Md5)).unwrap(),
        before_remove,
        "a remove changes it"
    );
    assert!(!store.remove(&george).await.unwrap());
    assert!(
        store
            .get(&george.hash(HashAlgorithm::Sha256))
            .await
            .unwrap()
            .is_none()
    );
    assert_eq!(store.list().await.unwrap().len(), 1);

    shared_contract(&store).await;
}

/// One picture for the several addresses of one person: stored together, found by each
/// address's hashes, replaced and removed one address at a time.
async fn shared_contract(store: &impl Store) {
    let addresses = [
        identity("alice@example.org"),
        identity("alice@work.example"),
        identity("https://alice.example/"),
    ];
    let before = store
        .generation(&addresses[0].hash(HashAlgorithm::Md5))
        .unwrap();
    store
        .put_shared(&addresses, Bytes::from_static(b"alice"))
        .await
        .unwrap();
    assert_ne!(
        store
            .generation(&addresses[0].hash(HashAlgorithm::Md5))
            .unwrap(),
        before,
        "a shared put changes it"
    );
    for address in &addresses {
        for hash in address.published_hashes() {
            assert!(store.contains(&hash).await.unwrap(), "{address}");
            let found = store.get(&hash).await.unwrap().expect("stored");
            assert_eq!(&found.bytes[..], b"alice", "{address}");
        }
    }
    store
        .put(&addresses[1], Bytes::from_static(b"work"))
        .await
        .unwrap();
    let first = store
        .get(&addresses[0].hash(HashAlgorithm::Md5))
        .await
        .unwrap();
    let second = store
        .get(&addresses[1].hash(HashAlgorithm::Md5))
        .await
        .unwrap();
    assert_eq!(
        &first.unwrap().bytes[..],
        b"alice",
        "the others keep theirs"
    );
    assert_eq!(&second.unwrap().bytes[..], b"work");

    assert!(store.remove(&addresses[0]).await.unwrap());
    assert!(
        !store
            .contains(&addresses[0].hash(HashAlgorithm::Sha256))
            .await
            .unwrap()
    );
    let third = store
        .get(&addresses[2].hash(HashAlgorithm::Sha256))
        .await
        .unwrap();
    assert_eq!(
        &third.unwrap().bytes[..],
        b"alice",
        "removing one keeps the others"
    );
    assert!(
        !store
            .contains(&identity("nobody@example.org").hash(HashAlgorithm::Md5))
            .await
            .unwrap()
    );
    store
        .put_shared(&[], Bytes::from_static(b"no one"))
        .await
        .unwrap();
    for address in &addresses[1..] {
        assert!(store.remove(address).await.unwrap());
    }
}

/// A write changes the generation of the hashes it touched and of no others: what a cache
/// knows about other identities stays valid. For stores that track each hash
/// ([`MemoryStore`](avatar_store::MemoryStore), the PostgreSQL store).
///
/// # Panics
/// When a write to one identity changes another's generation.
pub async fn per_hash_generations(store: impl Store) {
    let alice = identity("alice@generations.example");
    let bob = identity("bob@generations.example");
    let bob_before: Vec<_> = bob
        .published_hashes()
        .iter()
        .map(|hash| store.generation(hash))
        .collect();
    let alice_before = store.generation(&alice.hash(HashAlgorithm::Sha256));
    store
        .put(&alice, Bytes::from_static(b"alice"))
        .await
        .unwrap();
    assert_ne!(
        store.generation(&alice.hash(HashAlgorithm::Sha256)),
        alice_before
    );
    let bob_after: Vec<_> = bob
        .published_hashes()
        .iter()
        .map(|hash| store.generation(hash))
        .collect();
    assert_eq!(
        bob_before, bob_after,
        "a write to alice leaves bob's answers valid"
    );
    assert!(store.remove(&alice).await.unwrap());
}

/// [`Store::entries`] yields what [`Store::list`] does, each identity once, over more than one
/// page of the backends that read in pages (1,200 identities: the PostgreSQL store reads 1,000
/// per query); a stream dropped half way is no harm.
///
/// # Panics
/// When the two disagree.
pub async fn entries_as_listed(store: impl Store) {
    let identities: Vec<_> = (0..1_200)
        .map(|n| identity(&format!("user{n:04}@entries.example")))
        .collect();
    for chunk in identities.chunks(300) {
        store
            .put_shared(chunk, Bytes::from_static(b"shared picture"))
            .await
            .unwrap();
    }
    let listed = store.list().await.unwrap();
    assert_eq!(listed.len(), 1_200);
    let mut streamed: Vec<_> = store.entries().map(|entry| entry.unwrap()).collect().await;
    streamed.sort_by(|a, b| a.identity.cmp(&b.identity));
    assert_eq!(streamed, listed);

    let first: Vec<_> = store.entries().take(3).collect().await;
    assert_eq!(first.len(), 3);
    assert_eq!(
        store.entries().count().await,
        1_200,
        "and again, from the start"
    );
}
