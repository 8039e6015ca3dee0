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

/// Where two filled cells of the identicon meet, the pixels are the cells' colour: no lighter
/// seam of the background between them, at sizes where cell edges fall inside pixels.
#[test]
fn the_identicon_has_no_seams_between_cells() {
    for size in [256u32, 300, 333, 512] {
        for n in 0..20 {
            let image = image::load_from_memory(&draw(DefaultKeyword::Identicon, &hash(n), size))
                .unwrap()
                .to_rgba8();
            let side = f64::from(size);
            let (margin, cell) = (0.08 * side, (1.0 - 0.16) / 5.0 * side);
            let centre = |index: u32| margin + (f64::from(index) + 0.5) * cell;
            #[expect(
                clippy::cast_possible_truncation,
                clippy::cast_sign_loss,
                reason = "in 0..size"
            )]
            let at = |x: f64, y: f64| image.get_pixel(x as u32, y as u32).0;
            let colour = (0..5)
                .flat_map(|row| (0..5).map(move |column| (column, row)))
                .map(|(column, row)| at(centre(column), centre(row)))
                .find(|pixel| *pixel != [240, 240, 240, 255]);
            let Some(colour) = colour else { continue };
            let filled = |column: u32, row: u32| at(centre(column), centre(row)) == colour;
            for row in 0..5 {
                for column in 0..4 {
                    if filled(column, row) && filled(column + 1, row) {
                        let boundary = margin + f64::from(column + 1) * cell;
                        // Every pixel row well inside the two cells, at the boundary column.
                        let (top, bottom) = (
                            margin + f64::from(row) * cell,
                            margin + f64::from(row + 1) * cell,
                        );
                        let mut y = top.ceil() + 1.0;
                        while y < bottom.floor() - 1.0 {
                            assert_eq!(
                                at(boundary, y),
                                colour,
                                "seam at {size} px, person{n}, x {boundary:.1}, y {y}"
                            );
                            y += 1.0;
                        }
                    }
                }
            }
            for row in 0..4 {
                for column in 0..5 {
                    if filled(column, row) && filled(column, row + 1) {
                        let boundary = margin + f64::from(row + 1) * cell;
                        let (left, right) = (
                            margin + f64::from(column) * cell,
                            margin + f64::from(column + 1) * cell,
                        );
                        let mut x = left.ceil() + 1.0;
                        while x < right.floor() - 1.0 {
                            assert_eq!(
                                at(x, boundary),
                                colour,
                                "seam at {size} px, person{n}, x {x}, y {boundary:.1}"
                            );
                            x += 1.0;
                        }
                    }
                }
            }
        }
    }
}
