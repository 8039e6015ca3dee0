//! The XMPP rendition always meets XEP-0008's image rules, whatever comes in.

use std::io::Cursor;

use avatar_image::{ImageFormat, Limits, render_xmpp};
use image::{Rgb, RgbImage};
use proptest::prelude::*;
use sha1::{Digest as _, Sha1};
use test_support::images::{encode, noise};

fn check(bytes: &[u8]) {
    let rendition = render_xmpp(bytes, &Limits::default()).unwrap();
    let body = &rendition.rendered.bytes;
    assert!(body.len() < 8192, "{} bytes", body.len());
    let decoded = image::load_from_memory(body).unwrap();
    assert_eq!(decoded.width(), decoded.height());
    assert!(
        (32..=64).contains(&decoded.width()),
        "{} px",
        decoded.width()
    );
    assert_eq!(ImageFormat::sniff(body), Some(ImageFormat::Png));
    let sha1: [u8; 20] = Sha1::digest(body).into();
    assert_eq!(rendition.sha1, sha1);
}

const FORMATS: [image::ImageFormat; 4] = [
    image::ImageFormat::Png,
    image::ImageFormat::Jpeg,
    image::ImageFormat::Gif,
    image::ImageFormat::WebP,
];

proptest! {
    #![proptest_config(ProptestConfig::with_cases(48))]

    #[test]
    fn random_images_of_random_sizes_and_formats_give_compliant_renditions(
        width in 1u32..700,
        height in 1u32..700,
        format in 0usize..4,
        seed in any::<u64>(),
        smooth in any::<bool>(),
    ) {
        let image = if smooth {
            RgbImage::from_fn(width, height, |x, y| Rgb([x.to_le_bytes()[0], y.to_le_bytes()[0], 128]))
        } else {
            noise(width, height, seed)
        };
        check(&encode(&image, FORMATS[format]));
    }
}

#[test]
fn simple_images_stay_png_at_64_and_noise_still_fits() {
    let flat = encode(
        &RgbImage::from_pixel(300, 200, Rgb([20, 120, 200])),
        image::ImageFormat::Png,
    );
    let rendition = render_xmpp(&flat, &Limits::default()).unwrap();
    assert_eq!(
        (rendition.rendered.format, rendition.rendered.size),
        (ImageFormat::Png, 64)
    );
    // Noise with alpha is the worst case: it still fits, at a smaller side.
    let worst = image::DynamicImage::ImageRgb8(noise(512, 512, 7)).to_rgba8();
    let mut bytes = Vec::new();
    worst
        .write_to(&mut Cursor::new(&mut bytes), image::ImageFormat::Png)
        .unwrap();
    check(&bytes);
    assert!(
        render_xmpp(&bytes, &Limits::default())
            .unwrap()
            .rendered
            .size
            < 64
    );
}

#[test]
fn the_same_image_gives_the_same_sha1() {
    let bytes = encode(&noise(100, 80, 3), image::ImageFormat::Jpeg);
    assert_eq!(
        render_xmpp(&bytes, &Limits::default()).unwrap().sha1,
        render_xmpp(&bytes, &Limits::default()).unwrap().sha1
    );
}
