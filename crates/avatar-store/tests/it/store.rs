//! The Store contract, run against both backends, and the filesystem backend's guarantees.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use avatar_proto::{HashAlgorithm, Identity};
use avatar_store::{FsStore, MemoryStore, Store, StoreError};
use bytes::Bytes;
use test_support::store_contract;
use test_support::tree::snapshot;

fn identity(text: &str) -> Identity {
    Identity::parse(text).unwrap()
}

#[tokio::test]
async fn memory_store_keeps_a_shared_picture_in_one_buffer() {
    let store = MemoryStore::new();
    let addresses = [
        identity("alice@example.org"),
        identity("alice@work.example"),
    ];
    store
        .put_shared(&addresses, Bytes::from(vec![7u8; 4096]))
        .await
        .unwrap();
    let [first, second] = addresses.map(|address| address.hash(HashAlgorithm::Md5));
    let first = store.get(&first).await.unwrap().unwrap();
    let second = store.get(&second).await.unwrap().unwrap();
    assert_eq!(
        first.bytes.as_ptr(),
        second.bytes.as_ptr(),
        "one buffer, not two"
    );
}

#[cfg(unix)]
#[tokio::test]
async fn fs_store_keeps_a_shared_picture_in_one_file() {
    use std::os::unix::fs::MetadataExt as _;

    let dir = tempfile::tempdir().unwrap();
    let store = FsStore::open(dir.path()).unwrap();
    let addresses = [
        identity("alice@example.org"),
        identity("alice@work.example"),
        identity("alice@home.example"),
    ];
    store
        .put_shared(&addresses, Bytes::from(vec![7u8; 4096]))
        .await
        .unwrap();
    let images: Vec<_> = std::fs::read_dir(dir.path().join("identities"))
        .unwrap()
        .map(|entry| std::fs::metadata(entry.unwrap().path().join("image")).unwrap())
        .collect();
    assert_eq!(images.len(), 3);
    assert!(
        images
            .iter()
            .all(|image| image.ino() == images[0].ino() && image.nlink() == 3),
        "one file with three names"
    );
    assert_eq!(
        std::fs::read_dir(dir.path().join("tmp")).unwrap().count(),
        0
    );

    // Replacing one address's picture gives it a file of its own and leaves the others whole.
    store
        .put(&addresses[0], Bytes::from_static(b"new"))
        .await
        .unwrap();
    let other = store
        .get(&addresses[2].hash(HashAlgorithm::Sha256))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(other.bytes.len(), 4096);
}

/// Every folder and file of a store is its owner's, its group's to read, and no one else's,
/// whatever the umask (the tests' is the usual 022, under which the store's addresses were
/// readable by every user of the machine).
#[cfg(unix)]
#[tokio::test]
async fn fs_store_folders_and_files_are_no_one_else_s_to_read() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("store");
    let store = FsStore::open(&root).unwrap();
    store
        .put(
            &identity("alice@example.org"),
            Bytes::from_static(b"picture"),
        )
        .await
        .unwrap();
    assert!(root.join("identities").read_dir().unwrap().count() == 1);
    assert_eq!(test_support::tree::not_private(&root), Vec::<String>::new());
}

#[tokio::test]
async fn memory_store_keeps_the_contract() {
    store_contract::contract(MemoryStore::new()).await;
}

#[tokio::test]
async fn every_store_streams_its_entries_as_it_lists_them() {
    store_contract::entries_as_listed(MemoryStore::new()).await;
    let dir = tempfile::tempdir().unwrap();
    store_contract::entries_as_listed(FsStore::open(dir.path()).unwrap()).await;
}

#[tokio::test]
async fn fs_store_keeps_the_contract() {
    let dir = tempfile::tempdir().unwrap();
    store_contract::contract(FsStore::open(dir.path()).unwrap()).await;
    store_contract::contract(Arc::new(
        FsStore::open(tempfile::tempdir().unwrap().path()).unwrap(),
    ))
    .await;
}

#[tokio::test]
async fn fs_store_notices_another_process_writing_its_directory() {
    let dir = tempfile::tempdir().unwrap();
    // A second store on the same directory stands for `avatars import` in another process.
    let writer = FsStore::open(dir.path()).unwrap();
    let george = identity("george@example.com");

    let slow = FsStore::open(dir.path())
        .unwrap()
        .external_writes_check(std::time::Duration::from_secs(3600));
    let slow_before = slow.generation(&george.hash(HashAlgorithm::Md5));
    let eager = FsStore::open(dir.path())
        .unwrap()
        .external_writes_check(std::time::Duration::ZERO);
    let eager_before = eager.generation(&george.hash(HashAlgorithm::Md5));

    writer
        .put(&george, Bytes::from_static(b"new"))
        .await
        .unwrap();
    assert_ne!(
        eager.generation(&george.hash(HashAlgorithm::Md5)),
        eager_before,
        "read on every call"
    );
    assert_eq!(
        slow.generation(&george.hash(HashAlgorithm::Md5)),
        slow_before,
        "not read again within the hour"
    );
    let eager_after_put = eager.generation(&george.hash(HashAlgorithm::Md5));
    assert_eq!(
        eager.generation(&george.hash(HashAlgorithm::Md5)),
        eager_after_put,
        "no write, no change"
    );
    writer.remove(&george).await.unwrap();
    assert_ne!(
        eager.generation(&george.hash(HashAlgorithm::Md5)),
        eager_after_put
    );
}

#[tokio::test]
async fn fs_store_persists_and_leaves_no_temporaries() {
    let dir = tempfile::tempdir().unwrap();
    let george = identity("george@example.com");
    FsStore::open(dir.path())
        .unwrap()
        .put(&george, Bytes::from_static(b"kept"))
        .await
        .unwrap();

    let reopened = FsStore::open(dir.path()).unwrap();
    let found = reopened
        .get(&george.hash(HashAlgorithm::Md5))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(&found.bytes[..], b"kept");
    assert_eq!(
        std::fs::read_dir(dir.path().join("tmp")).unwrap().count(),
        0
    );
    assert_eq!(
        std::fs::read_to_string(dir.path().join("VERSION")).unwrap(),
        "avatars-store 1\n"
    );
}

/// A store whose directory goes away while it is open (deleted, or its disk unmounted under a
/// running server) says so on every lookup, as an unavailable store, rather than answering
/// that nobody has an avatar; once the directory is back, it answers again.
#[tokio::test]
async fn fs_store_whose_directory_is_gone_is_unavailable_not_empty() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("avatars");
    let store = FsStore::open(&root).unwrap();
    let george = identity("george@example.com");
    store
        .put(&george, Bytes::from_static(b"kept"))
        .await
        .unwrap();
    let nobody = identity("nobody@example.com").hash(HashAlgorithm::Md5);
    assert!(store.get(&nobody).await.unwrap().is_none(), "a plain miss");

    let aside = dir.path().join("unmounted");
    std::fs::rename(&root, &aside).unwrap();
    for hash in [nobody, george.hash(HashAlgorithm::Md5)] {
        let err = store.get(&hash).await.unwrap_err();
        assert!(err.is_unavailable(), "{err}");
        assert!(
            err.to_string().contains("its VERSION file is missing"),
            "{err}"
        );
        assert!(store.contains(&hash).await.unwrap_err().is_unavailable());
    }

    std::fs::rename(&aside, &root).unwrap();
    assert!(store.get(&nobody).await.unwrap().is_none());
    assert!(
        store
            .contains(&george.hash(HashAlgorithm::Md5))
            .await
            .unwrap()
    );
}

#[tokio::test]
async fn fs_store_refuses_a_directory_of_another_kind() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("VERSION"), "something else 9\n").unwrap();
    let err = FsStore::open(dir.path()).unwrap_err();
    assert!(matches!(err, StoreError::WrongVersion { .. }), "{err}");
    assert!(err.to_string().contains("use an empty or new directory"));
}

#[tokio::test]
async fn a_folder_that_is_not_a_store_is_refused_and_left_untouched() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("notes.txt"), "my own file").unwrap();
    std::fs::create_dir(dir.path().join("photos")).unwrap();
    let before = snapshot(dir.path());
    for err in [
        FsStore::open(dir.path()).unwrap_err(),
        FsStore::open_existing(dir.path()).unwrap_err(),
    ] {
        assert!(matches!(err, StoreError::NotAStore { .. }), "{err}");
        assert!(err.to_string().contains("has no VERSION file"), "{err}");
    }
    assert_eq!(snapshot(dir.path()), before, "nothing was written");

    let file = dir.path().join("notes.txt");
    let err = FsStore::open(&file).unwrap_err();
    assert!(matches!(err, StoreError::NotAStore { .. }), "{err}");
    assert!(
        err.to_string().contains("it is a file, not a directory"),
        "{err}"
    );
}

#[tokio::test]
async fn opening_an_existing_store_never_creates_one() {
    let dir = tempfile::tempdir().unwrap();
    let missing = dir.path().join("missing");
    let err = FsStore::open_existing(&missing).unwrap_err();
    assert!(matches!(err, StoreError::NoStore { .. }), "{err}");
    assert!(
        err.to_string().contains("there is no avatars store"),
        "{err}"
    );
    assert!(!missing.exists());
    let err = FsStore::open_existing(dir.path()).unwrap_err();
    assert!(matches!(err, StoreError::NoStore { .. }), "{err}");
    assert!(
        snapshot(dir.path()).is_empty(),
        "the empty folder stays empty"
    );

    // An empty folder becomes a store on open; open_existing then reads it.
    let store = FsStore::open(dir.path()).unwrap();
    store
        .put(&identity("a@example.org"), Bytes::from_static(b"x"))
        .await
        .unwrap();
    let existing = FsStore::open_existing(dir.path()).unwrap();
    assert_eq!(existing.list().await.unwrap().len(), 1);
}

#[tokio::test]
async fn damaged_and_oversized_files_are_errors_not_panics() {
    let dir = tempfile::tempdir().unwrap();
    let store = FsStore::open(dir.path()).unwrap().max_file_bytes(8);
    let george = identity("george@example.com");
    let md5 = george.hash(HashAlgorithm::Md5);

    store
        .put(&george, Bytes::from_static(b"0123456789"))
        .await
        .unwrap();
    let err = store.get(&md5).await.unwrap_err();
    assert!(matches!(err, StoreError::Damaged { .. }), "{err}");

    std::fs::write(
        dir.path().join("hashes/md5").join(md5.to_string()),
        "../../etc/passwd",
    )
    .unwrap();
    let err = store.get(&md5).await.unwrap_err();
    assert!(err.to_string().contains("expected 64 hex digits"), "{err}");
}

/// A writer flips one identity between two images while readers read: every read is one of the
/// two images, whole.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn readers_never_see_a_torn_or_mixed_image() {
    let dir = tempfile::tempdir().unwrap();
    let store = FsStore::open(dir.path()).unwrap();
    let george = identity("george@example.com");
    let first = Bytes::from(vec![b'a'; 200_000]);
    let second = Bytes::from(vec![b'b'; 150_000]);
    store.put(&george, first.clone()).await.unwrap();

    let done = Arc::new(AtomicBool::new(false));
    let reader = {
        let (store, done, first, second) =
            (store.clone(), done.clone(), first.clone(), second.clone());
        let hash = george.hash(HashAlgorithm::Md5);
        tokio::spawn(async move {
            let mut reads = 0u32;
            while !done.load(Ordering::Relaxed) || reads < 50 {
                let image = store
                    .get(&hash)
                    .await
                    .unwrap()
                    .expect("never missing while only replaced");
                assert!(
                    image.bytes == first || image.bytes == second,
                    "torn read of {} bytes",
                    image.bytes.len()
                );
                reads += 1;
            }
            reads
        })
    };
    for round in 0..100 {
        let bytes = if round % 2 == 0 {
            second.clone()
        } else {
            first.clone()
        };
        store.put(&george, bytes).await.unwrap();
    }
    done.store(true, Ordering::Relaxed);
    let reads = reader.await.unwrap();
    assert!(reads >= 50);
}
