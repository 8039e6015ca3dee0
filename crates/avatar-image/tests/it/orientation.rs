//! Phone photos are served upright: a JPEG, PNG or WebP whose pixels are stored turned, with an
//! EXIF `Orientation` from 2 to 8, renders as it is meant to be seen, at every size and in the
//! XMPP rendition, and no EXIF block reaches what is served.

use std::io::Cursor;

use avatar_image::{Limits, render_square, render_xmpp};
use image::{DynamicImage, ImageDecoder as _, ImageReader, Rgb, RgbImage};
use test_support::exif::{stored_for, with_orientation};
use test_support::images::{encode, mean_difference};

/// Red, green, blue and yellow quadrants, clockwise from the top left: every one of the eight
/// orientations shows a different picture.
fn quadrants(side: u32) -> RgbImage {
    RgbImage::from_fn(side, side, |x, y| match (x < side / 2, y < side / 2) {
        (true, true) => Rgb([230, 30, 30]),
        (false, true) => Rgb([30, 200, 30]),
        (false, false) => Rgb([30, 30, 230]),
        (true, false) => Rgb([230, 230, 30]),
    })
}

/// The colour at the centre of each quadrant of a decoded rendition, clockwise from top left.
fn quadrant_colours(bytes: &[u8]) -> [[u8; 3]; 4] {
    let image = image::load_from_memory(bytes).unwrap().to_rgb8();
    let (w, h) = image.dimensions();
    [(1, 1), (3, 1), (3, 3), (1, 3)].map(|(qx, qy)| image.get_pixel(w * qx / 4, h * qy / 4).0)
}

fn close(a: [u8; 3], b: [u8; 3]) -> bool {
    a.iter().zip(b).all(|(x, y)| x.abs_diff(y) <= 40)
}

const FORMATS: [image::ImageFormat; 3] = [
    image::ImageFormat::Jpeg,
    image::ImageFormat::Png,
    image::ImageFormat::WebP,
];

#[test]
fn all_eight_orientations_render_upright_in_every_format_and_size() {
    let shown = DynamicImage::ImageRgb8(quadrants(120));
    let want = quadrant_colours(&encode(&shown.to_rgb8(), image::ImageFormat::Png));
    for format in FORMATS {
        for orientation in 1..=8u8 {
            let stored = stored_for(&shown, orientation);
            let file = with_orientation(&encode(&stored.to_rgb8(), format), u16::from(orientation));
            for size in [16, 64, 200] {
                let rendered = render_square(&file, size, &Limits::default()).unwrap();
                let got = quadrant_colours(&rendered.bytes);
                assert!(
                    got.iter().zip(want).all(|(g, w)| close(*g, w)),
                    "{format:?}, orientation {orientation}, {size} px: {got:?}, want {want:?}"
                );
            }
            let xmpp = render_xmpp(&file, &Limits::default()).unwrap();
            let got = quadrant_colours(&xmpp.rendered.bytes);
            assert!(
                got.iter().zip(want).all(|(g, w)| close(*g, w)),
                "{format:?}, orientation {orientation}, XMPP: {got:?}"
            );
        }
    }
}

#[test]
fn the_centred_square_is_taken_after_turning() {
    // Shown as a 150 x 100 landscape in red, green and blue bands; stored as a 100 x 150
    // portrait turned for orientation 6. The centred square of what is shown is mostly green,
    // and its left and right edges red and blue.
    let shown = DynamicImage::ImageRgb8(RgbImage::from_fn(150, 100, |x, _| match x / 50 {
        0 => Rgb([230, 30, 30]),
        1 => Rgb([30, 200, 30]),
        _ => Rgb([30, 30, 230]),
    }));
    let stored = stored_for(&shown, 6);
    assert_eq!((stored.width(), stored.height()), (100, 150));
    let file = with_orientation(&encode(&stored.to_rgb8(), image::ImageFormat::Png), 6);
    let rendered = render_square(&file, 100, &Limits::default()).unwrap();
    let image = image::load_from_memory(&rendered.bytes).unwrap().to_rgb8();
    assert!(close(image.get_pixel(50, 50).0, [30, 200, 30]));
    assert!(close(image.get_pixel(5, 50).0, [230, 30, 30]));
    assert!(close(image.get_pixel(95, 50).0, [30, 30, 230]));
}

#[test]
fn a_real_phone_photo_turned_by_its_exif_comes_out_as_if_it_had_been_stored_upright() {
    let photo = std::fs::read(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../xtask/assets/astronaut-512.jpg"
    ))
    .unwrap();
    let upright = render_square(&photo, 128, &Limits::default()).unwrap();
    // What a phone held sideways writes: the pixels turned anticlockwise, and Orientation 6.
    let stored = stored_for(&image::load_from_memory(&photo).unwrap(), 6);
    let sideways = with_orientation(&encode(&stored.to_rgb8(), image::ImageFormat::Jpeg), 6);
    let turned = render_square(&sideways, 128, &Limits::default()).unwrap();
    let difference = mean_difference(&upright.bytes, &turned.bytes);
    assert!(
        difference < 6.0,
        "mean difference {difference:.1} levels: not the same picture"
    );
    // Without the tag it would be a different picture: the test can tell.
    let untagged = render_square(
        &encode(&stored.to_rgb8(), image::ImageFormat::Jpeg),
        128,
        &Limits::default(),
    )
    .unwrap();
    let wrong = mean_difference(&upright.bytes, &untagged.bytes);
    assert!(wrong > difference * 4.0, "{wrong:.1} vs {difference:.1}");
}

#[test]
fn no_exif_reaches_what_is_served() {
    let shown = DynamicImage::ImageRgb8(quadrants(64));
    for format in FORMATS {
        let file = with_orientation(&encode(&stored_for(&shown, 6).to_rgb8(), format), 6);
        assert!(
            file.windows(4).any(|w| w == b"MM\0\x2a"),
            "the fixture has EXIF"
        );
        let rendered = render_square(&file, 48, &Limits::default()).unwrap();
        assert!(
            !rendered
                .bytes
                .windows(4)
                .any(|w| w == b"MM\0\x2a" || w == b"II\x2a\0"),
            "{format:?}: a TIFF header in the output"
        );
        let mut decoder = ImageReader::new(Cursor::new(&rendered.bytes[..]))
            .with_guessed_format()
            .unwrap()
            .into_decoder()
            .unwrap();
        assert_eq!(
            decoder.exif_metadata().unwrap(),
            None,
            "{format:?}: EXIF in the output"
        );
    }
}
