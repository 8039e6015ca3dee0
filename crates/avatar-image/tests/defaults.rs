//! Drawn defaults: exact sizes, determinism, and the hash-dependent stand-ins.

use avatar_image::render_default;
use avatar_proto::{AvatarHash, DefaultKeyword, RobohashSet};

fn hash(n: u8) -> AvatarHash {
    AvatarHash::Md5([n; 16])
}

#[test]
fn every_image_keyword_renders_png_at_exactly_the_size() {
    let keywords = [
        DefaultKeyword::MysteryPerson,
        DefaultKeyword::Blank,
        DefaultKeyword::Identicon,
        DefaultKeyword::MonsterId,
        DefaultKeyword::Wavatar,
        DefaultKeyword::Retro,
        DefaultKeyword::Robohash(RobohashSet::Set2),
        DefaultKeyword::Pagan,
    ];
    for keyword in keywords {
        for size in [1, 2, 31, 80, 512] {
            let rendered = render_default(keyword, &hash(1), size).unwrap().unwrap();
            let decoded = image::load_from_memory(&rendered.bytes).unwrap();
            assert_eq!(
                (decoded.width(), decoded.height()),
                (size, size),
                "{keyword} {size}"
            );
        }
    }
    assert_eq!(
        render_default(DefaultKeyword::NotFound, &hash(1), 80).unwrap(),
        None
    );
}

#[test]
fn defaults_are_deterministic_and_stand_ins_differ_by_hash() {
    let draw = |keyword, n| {
        render_default(keyword, &hash(n), 64)
            .unwrap()
            .unwrap()
            .bytes
    };
    assert_eq!(
        draw(DefaultKeyword::MysteryPerson, 1),
        draw(DefaultKeyword::MysteryPerson, 1)
    );
    assert_eq!(
        draw(DefaultKeyword::MysteryPerson, 1),
        draw(DefaultKeyword::MysteryPerson, 2)
    );
    assert_eq!(
        draw(DefaultKeyword::Identicon, 1),
        draw(DefaultKeyword::Identicon, 1)
    );
    assert_ne!(
        draw(DefaultKeyword::Identicon, 1),
        draw(DefaultKeyword::Identicon, 2)
    );
}

#[test]
fn blank_is_fully_transparent_and_the_silhouette_is_not() {
    let blank = render_default(DefaultKeyword::Blank, &hash(1), 16)
        .unwrap()
        .unwrap();
    let blank = image::load_from_memory(&blank.bytes).unwrap().to_rgba8();
    assert!(blank.pixels().all(|pixel| pixel[3] == 0));

    let person = render_default(DefaultKeyword::MysteryPerson, &hash(1), 100)
        .unwrap()
        .unwrap();
    let person = image::load_from_memory(&person.bytes).unwrap().to_rgba8();
    // The head's centre is figure-coloured, the top-left corner background-coloured.
    assert!(person.get_pixel(50, 39)[0] > 240);
    assert!(person.get_pixel(2, 2)[0] < 200);
}
