//! Phone photos keep their colours: a picture whose file embeds an RGB colour profile (an
//! iPhone's Display P3, a camera's Adobe RGB) renders in the sRGB colours a browser shows for
//! the upload, in every format, at every size, in the master, the XMPP rendition and every
//! frame of an animation; a profile that changes nothing, is damaged or is not RGB leaves the
//! pixels as they are.

use std::io::Cursor;

use avatar_image::{Limits, prepare, render_square, render_xmpp};
use image::{DynamicImage, ImageBuffer};
use test_support::icc::{adobe_rgb, display_p3, display_p3_as_srgb, grey, srgb, with_profile};
use test_support::images::{encode, solid};

/// Saturated colours where Display P3 and sRGB differ most, and a grey where they agree.
const COLOURS: [[u8; 3]; 4] = [[200, 60, 60], [60, 170, 90], [40, 90, 200], [128, 128, 128]];

const FORMATS: [image::ImageFormat; 3] = [
    image::ImageFormat::Png,
    image::ImageFormat::Jpeg,
    image::ImageFormat::WebP,
];

/// `picture` encoded as `format`, with `icc` as its colour profile.
fn tagged(picture: &image::RgbImage, format: image::ImageFormat, icc: &[u8]) -> Vec<u8> {
    with_profile(&encode(picture, format), icc)
}

/// The colour at the centre of a rendition.
fn centre(bytes: &[u8]) -> [u8; 3] {
    let image = image::load_from_memory(bytes).unwrap().to_rgb8();
    image.get_pixel(image.width() / 2, image.height() / 2).0
}

/// Within `levels` of each other, channel by channel.
fn near(a: [u8; 3], b: [u8; 3], levels: u8) -> bool {
    a.iter().zip(b).all(|(x, y)| x.abs_diff(y) <= levels)
}

/// The largest channel difference: how far apart two colours are.
fn apart(a: [u8; 3], b: [u8; 3]) -> u8 {
    a.iter().zip(b).map(|(x, y)| x.abs_diff(y)).max().unwrap()
}

#[test]
fn a_display_p3_photo_renders_in_the_colours_a_browser_shows_for_it() {
    for format in FORMATS {
        for colour in COLOURS {
            let upload = tagged(&solid(300, 200, colour), format, &display_p3());
            let shown = display_p3_as_srgb(colour);
            for size in [40, 80, 256] {
                let rendered = centre(
                    &render_square(&upload, size, &Limits::default())
                        .unwrap()
                        .bytes,
                );
                // JPEG moves a flat colour by a level or two each time it is encoded.
                assert!(
                    near(rendered, shown, 3),
                    "{format:?} P3 {colour:?} at {size} px: rendered {rendered:?}, a browser shows {shown:?}"
                );
            }
        }
    }
    // The check has teeth: the saturated colours are apart in the two spaces, green by 60
    // levels of red.
    for colour in &COLOURS[..3] {
        assert!(
            apart(display_p3_as_srgb(*colour), *colour) > 6,
            "{colour:?}"
        );
    }
    assert!(apart(display_p3_as_srgb(COLOURS[1]), COLOURS[1]) > 50);
}

#[test]
fn a_large_display_p3_photo_is_stored_as_an_srgb_master() {
    let colour = COLOURS[0];
    let upload = tagged(
        &solid(1600, 1200, colour),
        image::ImageFormat::Jpeg,
        &display_p3(),
    );
    let master = prepare(&upload, &Limits::default())
        .unwrap()
        .master
        .expect("over 512 px");
    assert!(near(centre(&master.bytes), display_p3_as_srgb(colour), 3));
    // What is drawn from the master is not converted twice: it carries no profile.
    let again = render_square(&master.bytes, 80, &Limits::default()).unwrap();
    assert!(near(centre(&again.bytes), display_p3_as_srgb(colour), 3));
}

#[test]
fn the_xmpp_rendition_of_a_display_p3_photo_is_in_srgb() {
    let colour = COLOURS[2];
    let upload = tagged(
        &solid(300, 300, colour),
        image::ImageFormat::Png,
        &display_p3(),
    );
    let rendition = render_xmpp(&upload, &Limits::default()).unwrap();
    assert!(near(
        centre(&rendition.rendered.bytes),
        display_p3_as_srgb(colour),
        3
    ));
}

#[test]
fn sixteen_bit_pngs_with_transparency_are_converted_and_keep_their_alpha() {
    let colour = COLOURS[1];
    let pixel = image::Rgba(
        colour
            .map(|level| u16::from(level) * 257)
            .into_iter()
            .chain([32_768])
            .collect::<Vec<_>>()
            .try_into()
            .unwrap(),
    );
    let picture: ImageBuffer<image::Rgba<u16>, Vec<u16>> = ImageBuffer::from_pixel(120, 120, pixel);
    let mut png = Vec::new();
    DynamicImage::ImageRgba16(picture)
        .write_to(&mut Cursor::new(&mut png), image::ImageFormat::Png)
        .unwrap();
    let upload = with_profile(&png, &display_p3());
    let rendered = render_square(&upload, 64, &Limits::default()).unwrap();
    let decoded = image::load_from_memory(&rendered.bytes).unwrap().to_rgba8();
    let centre = decoded.get_pixel(32, 32).0;
    assert!(
        near(
            [centre[0], centre[1], centre[2]],
            display_p3_as_srgb(colour),
            3
        ),
        "{centre:?}"
    );
    assert!(centre[3].abs_diff(128) <= 1, "alpha kept: {centre:?}");
}

#[test]
fn an_adobe_rgb_photo_is_converted_too() {
    let colour = COLOURS[1];
    let upload = tagged(
        &solid(100, 100, colour),
        image::ImageFormat::Png,
        &adobe_rgb(),
    );
    let rendered = centre(
        &render_square(&upload, 64, &Limits::default())
            .unwrap()
            .bytes,
    );
    // Adobe RGB's green is far outside sRGB: a mid green shown through it is more saturated.
    assert!(apart(rendered, colour) > 20, "{rendered:?}");
    assert!(
        rendered[1] > colour[1] && rendered[0] < colour[0],
        "{rendered:?}"
    );
}

#[test]
fn an_srgb_profile_changes_no_byte_of_any_rendition() {
    for format in FORMATS {
        let plain = encode(&solid(300, 200, COLOURS[0]), format);
        let tagged = with_profile(&plain, &srgb());
        for size in [40, 80] {
            assert_eq!(
                render_square(&tagged, size, &Limits::default()).unwrap(),
                render_square(&plain, size, &Limits::default()).unwrap(),
                "{format:?} at {size} px"
            );
        }
    }
}

#[test]
fn a_damaged_or_grey_profile_leaves_the_pixels_as_decoded() {
    let plain = encode(&solid(100, 100, COLOURS[0]), image::ImageFormat::Png);
    let p3 = display_p3();
    let damaged = [&p3[..p3.len() / 2], &[0u8; 4][..], b"not a profile"];
    for icc in [
        damaged[0].to_vec(),
        damaged[1].to_vec(),
        damaged[2].to_vec(),
        grey(),
    ] {
        let tagged = with_profile(&plain, &icc);
        assert_eq!(
            render_square(&tagged, 64, &Limits::default()).unwrap(),
            render_square(&plain, 64, &Limits::default()).unwrap(),
            "a profile of {} bytes",
            icc.len()
        );
    }
}

#[test]
fn the_arithmetic_the_tests_check_against_agrees_with_css_color_4() {
    // Both spaces share white, black, greys and their tone curve.
    assert_eq!(display_p3_as_srgb([255, 255, 255]), [255, 255, 255]);
    assert_eq!(display_p3_as_srgb([0, 0, 0]), [0, 0, 0]);
    assert_eq!(display_p3_as_srgb([128, 128, 128]), [128, 128, 128]);
    // sRGB's red is color(display-p3 0.9175 0.2003 0.1386), as CSS Color 4's examples give it.
    assert!(near(display_p3_as_srgb([234, 51, 35]), [255, 0, 0], 2));
    // Display P3's own red is outside sRGB: clipped to sRGB's.
    assert_eq!(display_p3_as_srgb([255, 0, 0]), [255, 0, 0]);
}

#[test]
fn every_frame_of_an_animated_webp_in_display_p3_is_converted() {
    use image::AnimationDecoder as _;
    let frames_of = |bytes: &[u8]| {
        image::codecs::webp::WebPDecoder::new(Cursor::new(bytes))
            .unwrap()
            .into_frames()
            .collect_frames()
            .unwrap()
    };
    let plain = test_support::images::animated_webp(3, 60);
    let upload = with_profile(&plain, &display_p3());
    let rendered = render_square(&upload, 48, &Limits::default()).unwrap();
    let frames = frames_of(&rendered.bytes);
    assert_eq!(frames.len(), 3);
    // Frame 1 is (40, 100, 200): in Display P3 that is sRGB (0, 102, 207); lossy both ways.
    let pixel = frames[1].buffer().get_pixel(24, 24).0;
    let shown = display_p3_as_srgb([40, 100, 200]);
    assert!(
        near([pixel[0], pixel[1], pixel[2]], shown, 8),
        "{pixel:?}, a browser shows {shown:?}"
    );
}
