//! Large uploads are stored as a bounded master: the centred square at `Limits::master_side`,
//! upright, in the upload's format; what is rendered from the master is what would have been
//! rendered from the upload.

use avatar_image::{ImageFormat, Limits, prepare, probe, render_square};
use image::AnimationDecoder as _;
use image::DynamicImage;
use test_support::exif::{stored_for, with_orientation};
use test_support::images::{animated_gif, encode, mean_difference, photo_like};

#[test]
fn a_large_photo_becomes_a_square_master_that_renders_like_the_upload() {
    let upload = encode(&photo_like(3000, 2000), image::ImageFormat::Jpeg);
    let limits = Limits::default();
    let prepared = prepare(&upload, &limits).unwrap();
    assert_eq!(
        (
            prepared.info.format,
            prepared.info.width,
            prepared.info.height
        ),
        (ImageFormat::Jpeg, 3000, 2000),
        "the upload is reported as it is"
    );
    let master = prepared
        .master
        .expect("3000 px is over the 512 px master side");
    let header = probe(&master.bytes, &limits).unwrap();
    assert_eq!(
        (header.format, header.width, header.height),
        (ImageFormat::Jpeg, 512, 512)
    );
    for size in [32, 80, 256, 512] {
        let from_upload = render_square(&upload, size, &limits).unwrap();
        let from_master = render_square(&master.bytes, size, &limits).unwrap();
        let difference = mean_difference(&from_upload.bytes, &from_master.bytes);
        assert!(difference < 4.0, "{size} px: {difference:.2} per channel");
    }
    assert!(
        prepare(&master.bytes, &limits).unwrap().master.is_none(),
        "a master is stored as it is"
    );
}

#[test]
fn a_phone_photo_on_its_side_gets_an_upright_master_without_exif() {
    let shown = DynamicImage::ImageRgb8(photo_like(1200, 900));
    let upload = with_orientation(
        &encode(&stored_for(&shown, 6).to_rgb8(), image::ImageFormat::Jpeg),
        6,
    );
    let limits = Limits::default();
    let prepared = prepare(&upload, &limits).unwrap();
    assert_eq!((prepared.info.width, prepared.info.height), (1200, 900));
    let master = prepared.master.unwrap();
    assert!(
        !master.bytes.windows(4).any(|w| w == b"Exif"),
        "the master has no EXIF block"
    );
    let upright = encode(&shown.to_rgb8(), image::ImageFormat::Png);
    let difference = mean_difference(
        &render_square(&upright, 64, &limits).unwrap().bytes,
        &render_square(&master.bytes, 64, &limits).unwrap().bytes,
    );
    assert!(difference < 4.0, "{difference:.2} per channel");
}

#[test]
fn the_master_side_is_never_more_than_the_shortest_side() {
    let panorama = encode(&photo_like(3000, 300), image::ImageFormat::Png);
    let master = prepare(&panorama, &Limits::default())
        .unwrap()
        .master
        .unwrap();
    assert_eq!((master.format, master.size), (ImageFormat::Png, 300));
}

#[test]
fn small_uploads_and_a_raised_master_side_keep_the_file_as_it_is() {
    let small = encode(&photo_like(512, 400), image::ImageFormat::Jpeg);
    assert!(
        prepare(&small, &Limits::default())
            .unwrap()
            .master
            .is_none()
    );
    let large = encode(&photo_like(1500, 1500), image::ImageFormat::WebP);
    let raised = Limits {
        master_side: 2048,
        ..Limits::default()
    };
    assert!(prepare(&large, &raised).unwrap().master.is_none());
}

#[test]
fn a_large_animation_stays_animated() {
    let gif = animated_gif(3, 600);
    let master = prepare(&gif, &Limits::default()).unwrap().master.unwrap();
    assert_eq!((master.format, master.size), (ImageFormat::Gif, 512));
    let frames =
        image::codecs::gif::GifDecoder::new(std::io::Cursor::new(&master.bytes[..])).unwrap();
    assert_eq!(frames.into_frames().count(), 3);
}

#[test]
fn a_large_animated_webp_stays_animated() {
    let webp = test_support::images::animated_webp(3, 600);
    let master = prepare(&webp, &Limits::default()).unwrap().master.unwrap();
    assert_eq!((master.format, master.size), (ImageFormat::Webp, 512));
    let frames =
        image::codecs::webp::WebPDecoder::new(std::io::Cursor::new(&master.bytes[..])).unwrap();
    assert_eq!(frames.into_frames().count(), 3);
}

#[test]
fn refused_uploads_are_refused_by_prepare_too() {
    assert!(prepare(b"not a picture", &Limits::default()).is_err());
    let upload = encode(&photo_like(800, 600), image::ImageFormat::Jpeg);
    assert!(prepare(&upload[..upload.len() / 2], &Limits::default()).is_err());
}
