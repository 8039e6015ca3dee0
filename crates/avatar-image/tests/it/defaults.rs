//! The drawn defaults: exact sizes, determinism, variety, and snapshots of their bytes.

use std::collections::HashSet;
use std::fmt::Write as _;

use avatar_image::render_default;
use avatar_proto::{AvatarHash, DefaultKeyword, HashAlgorithm};

/// Every keyword that draws an image.
fn drawn() -> impl Iterator<Item = DefaultKeyword> {
    DefaultKeyword::ALL.into_iter().filter(|k| k.is_drawn())
}

fn hash(n: u32) -> AvatarHash {
    HashAlgorithm::Md5.digest(format!("person{n}@example.org").as_bytes())
}

fn draw(keyword: DefaultKeyword, hash: &AvatarHash, size: u32) -> Vec<u8> {
    render_default(keyword, hash, size)
        .unwrap()
        .expect("an image keyword")
        .bytes
        .to_vec()
}

#[test]
fn every_keyword_is_exactly_n_by_n() {
    for keyword in drawn() {
        for size in [1, 2, 31, 80, 512] {
            let decoded = image::load_from_memory(&draw(keyword, &hash(1), size)).unwrap();
            assert_eq!(
                (decoded.width(), decoded.height()),
                (size, size),
                "{} at {size}",
                keyword.label()
            );
        }
    }
    assert_eq!(
        render_default(DefaultKeyword::NotFound, &hash(1), 80).unwrap(),
        None
    );
}

#[test]
fn same_hash_and_size_give_identical_bytes() {
    for keyword in drawn() {
        for size in [7, 80] {
            assert_eq!(
                draw(keyword, &hash(3), size),
                draw(keyword, &hash(3), size),
                "{}",
                keyword.label()
            );
        }
    }
}

#[test]
fn a_thousand_hashes_give_a_thousand_distinct_images_per_generator() {
    for keyword in DefaultKeyword::ALL.into_iter().filter(|k| k.is_generated()) {
        let images: HashSet<Vec<u8>> = (0..1000).map(|n| draw(keyword, &hash(n), 32)).collect();
        assert_eq!(images.len(), 1000, "{} repeated itself", keyword.label());
    }
}

#[test]
fn mp_is_the_same_for_everyone_and_blank_is_transparent() {
    assert_eq!(
        draw(DefaultKeyword::MysteryPerson, &hash(1), 40),
        draw(DefaultKeyword::MysteryPerson, &hash(2), 40)
    );
    let blank = image::load_from_memory(&draw(DefaultKeyword::Blank, &hash(1), 16))
        .unwrap()
        .to_rgba8();
    assert!(blank.pixels().all(|pixel| pixel[3] == 0));
    let person = image::load_from_memory(&draw(DefaultKeyword::MysteryPerson, &hash(1), 100))
        .unwrap()
        .to_rgba8();
    assert!(person.get_pixel(50, 39)[0] > 240, "the head is drawn");
    assert!(person.get_pixel(2, 2)[0] < 200, "the corner is background");
}

/// An accidental change to any generator's output shows up here.
#[test]
fn output_digests() {
    let mut table = String::new();
    for keyword in drawn() {
        for n in [1, 2, 3] {
            for size in [32, 80] {
                let digest = HashAlgorithm::Sha256.digest(&draw(keyword, &hash(n), size));
                writeln!(
                    table,
                    "{:<16} person{n} {size:>3} {digest}",
                    keyword.label()
                )
                .unwrap();
            }
        }
    }
    insta::assert_snapshot!(table);
}
