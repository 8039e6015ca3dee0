//! The rung: with rendition files, sizes up to 96 px of a still picture larger than 128 px are
//! rendered from a 128 px copy of it kept among them. Renditions from it are the same bytes
//! whether the rung was kept or made, and a damaged rung is made again rather than used. (That they look like
//! the picture scaled down directly is checked where the direct pipeline can be called, in
//! `rung.rs`'s own tests.)

use std::fs;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use avatar_image::rung::{LARGEST_FROM_RUNG, RUNG_SIDE};
use avatar_image::{
    ImageFormat, Limits, RenderAhead, RenditionFiles, render_square_as, render_stored,
};
use sha2::{Digest as _, Sha256};
use test_support::images::{encode, photo_like, translucent_disc};

fn content(bytes: &[u8]) -> [u8; 32] {
    Sha256::digest(bytes).into()
}

/// What a server keeping rendition files, none of them yet (a fresh folder), renders of
/// `stored` at `size` as `format`: its rung made on the way.
pub(crate) fn rendered_afresh(
    stored: &[u8],
    size: u32,
    format: Option<ImageFormat>,
) -> avatar_image::Rendered {
    let fresh = tempfile::tempdir().unwrap();
    let files = RenditionFiles::open(fresh.path(), 1 << 20).unwrap();
    render_stored(
        stored,
        &content(stored),
        size,
        format,
        &Limits::default(),
        &files,
    )
    .unwrap()
}

/// `image` as a rendition file holds it: followed by its check, so it reads as intact.
fn as_kept(image: &[u8]) -> Vec<u8> {
    let check = Sha256::digest(image);
    [image, &check[..avatar_image::rendition_files::CHECK_BYTES]].concat()
}

/// The files kept in `dir`'s folders.
fn kept(dir: &Path) -> Vec<PathBuf> {
    let mut files = Vec::new();
    for folder in fs::read_dir(dir).unwrap().flatten() {
        if folder.path().is_dir() {
            files.extend(
                fs::read_dir(folder.path())
                    .unwrap()
                    .flatten()
                    .map(|f| f.path()),
            );
        }
    }
    files
}

#[test]
fn the_rung_is_kept_once_and_renders_the_same_bytes_kept_or_made() {
    let limits = Limits::default();
    let dir = tempfile::tempdir().unwrap();
    let files = RenditionFiles::open(dir.path(), 1 << 20).unwrap();
    for (stored, rung_format) in [
        (
            encode(&photo_like(300, 200), image::ImageFormat::Jpeg),
            ImageFormat::Jpeg,
        ),
        (translucent_disc(200), ImageFormat::Png),
    ] {
        let before = kept(dir.path()).len();
        // 128 px after 80 px made the rung: the kept rung answers at its own side.
        for size in [80, 40, RUNG_SIDE, 80, 32] {
            for format in [None, Some(ImageFormat::Webp)] {
                let with_rung =
                    render_stored(&stored, &content(&stored), size, format, &limits, &files)
                        .unwrap();
                // A server whose files have no rung makes it: the same bytes.
                let made_now = rendered_afresh(&stored, size, format);
                assert_eq!(with_rung, made_now, "{size} px as {format:?}");
                let straight = render_square_as(&stored, size, format, &limits).unwrap();
                if size == RUNG_SIDE && rung_format == ImageFormat::Png {
                    assert_eq!(
                        with_rung, straight,
                        "a lossless rung at its side is the rendition"
                    );
                } else {
                    assert_ne!(
                        with_rung.bytes, straight.bytes,
                        "from the rung, not the picture"
                    );
                }
            }
        }
        assert_eq!(kept(dir.path()).len(), before + 1, "one rung per picture");
        assert!(
            kept(dir.path())
                .iter()
                .any(|path| ImageFormat::sniff(&fs::read(path).unwrap()) == Some(rung_format)),
            "a {rung_format} rung"
        );
    }
}

#[test]
fn a_damaged_rung_is_made_again_not_used() {
    let limits = Limits::default();
    let stored = encode(&photo_like(400, 300), image::ImageFormat::Jpeg);
    let dir = tempfile::tempdir().unwrap();
    let files = RenditionFiles::open(dir.path(), 1 << 20).unwrap();
    let first = render_stored(&stored, &content(&stored), 64, None, &limits, &files).unwrap();
    let Ok([rung]) = <[PathBuf; 1]>::try_from(kept(dir.path())) else {
        panic!("one rung file");
    };
    let intact = fs::read(&rung).unwrap();
    for damage in [
        // A flipped byte in the middle of the picture.
        {
            let mut bytes = intact.clone();
            let middle = bytes.len() / 2;
            bytes[middle] ^= 0x55;
            bytes
        },
        // Cut short, as by a crash.
        intact[..intact.len() / 3].to_vec(),
        Vec::new(),
        // Intact (its check matches) but no rung: a 64 px picture.
        as_kept(&encode(&photo_like(64, 64), image::ImageFormat::Jpeg)),
    ] {
        fs::write(&rung, &damage).unwrap();
        let again = render_stored(&stored, &content(&stored), 64, None, &limits, &files).unwrap();
        assert_eq!(
            again, first,
            "rendered from the picture, not the damaged rung"
        );
        assert_eq!(fs::read(&rung).unwrap(), intact, "and the rung made again");
    }
}

#[test]
fn pictures_no_larger_than_the_rung_animations_and_its_own_size_make_none() {
    let limits = Limits::default();
    let dir = tempfile::tempdir().unwrap();
    let files = RenditionFiles::open(dir.path(), 1 << 20).unwrap();
    let large = encode(&photo_like(600, 400), image::ImageFormat::Jpeg);
    let cases = [
        (encode(&photo_like(128, 900), image::ImageFormat::Png), 64),
        (test_support::images::animated_gif(3, 200), 64),
        (large.clone(), LARGEST_FROM_RUNG + 1),
        (large, 256),
    ];
    for (stored, size) in &cases {
        let rendered =
            render_stored(stored, &content(stored), *size, None, &limits, &files).unwrap();
        assert_eq!(rendered.size, *size);
    }
    assert!(kept(dir.path()).is_empty(), "{:?}", kept(dir.path()));
    let none = RenditionFiles::open(dir.path(), 0).unwrap();
    let stored = &cases[2].0;
    render_stored(stored, &content(stored), 40, None, &limits, &none).unwrap();
    assert!(kept(dir.path()).is_empty(), "a budget of 0 keeps no rung");
}

#[test]
fn storing_a_picture_makes_its_rung_once() {
    let limits = Limits::default();
    let dir = tempfile::tempdir().unwrap();
    let files = Arc::new(RenditionFiles::open(dir.path(), 1 << 20).unwrap());
    let ahead = RenderAhead::rung_only(Arc::clone(&files));
    let stored = encode(&photo_like(512, 512), image::ImageFormat::Jpeg);
    assert_eq!(
        ahead.render(&stored, content(&stored), &limits).unwrap(),
        0,
        "no rendition"
    );
    assert_eq!(kept(dir.path()).len(), 1, "the rung");
    let small = encode(&photo_like(100, 100), image::ImageFormat::Jpeg);
    ahead.render(&small, content(&small), &limits).unwrap();
    ahead.render(&stored, content(&stored), &limits).unwrap();
    assert_eq!(
        kept(dir.path()).len(),
        1,
        "none for a small picture, none twice"
    );
    let rendered = render_stored(&stored, &content(&stored), 40, None, &limits, &files).unwrap();
    let made_now = rendered_afresh(&stored, 40, None);
    assert_eq!(
        rendered, made_now,
        "the rung made at storing is the one a render makes"
    );
}

/// What a small rendition is made from, once the rung is kept, is the rung: a rung file
/// replaced by another (intact) picture shows in the renditions made after.
#[test]
fn small_renditions_are_made_from_the_kept_rung() {
    let limits = Limits::default();
    let stored = encode(&photo_like(300, 300), image::ImageFormat::Jpeg);
    let dir = tempfile::tempdir().unwrap();
    let files = RenditionFiles::open(dir.path(), 1 << 20).unwrap();
    render_stored(&stored, &content(&stored), 48, None, &limits, &files).unwrap();
    let Ok([rung]) = <[PathBuf; 1]>::try_from(kept(dir.path())) else {
        panic!("one rung file");
    };
    let red = encode(
        &test_support::images::solid(128, 128, [220, 0, 0]),
        image::ImageFormat::Jpeg,
    );
    fs::write(&rung, as_kept(&red)).unwrap();
    let rendered = render_stored(&stored, &content(&stored), 40, None, &limits, &files).unwrap();
    let pixels = image::load_from_memory(&rendered.bytes).unwrap().to_rgb8();
    let [r, g, b] = pixels.get_pixel(20, 20).0;
    assert!(
        r > 200 && g < 30 && b < 30,
        "from the rung file: {:?}",
        [r, g, b]
    );
    let larger = render_stored(&stored, &content(&stored), 256, None, &limits, &files).unwrap();
    let [r, g, _] = image::load_from_memory(&larger.bytes)
        .unwrap()
        .to_rgb8()
        .get_pixel(9, 9)
        .0;
    assert!(r < 200 || g > 30, "256 px is made from the picture");
}
