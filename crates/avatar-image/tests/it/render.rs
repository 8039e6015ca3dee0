//! The render pipeline on real encoded files of every supported format.

use std::io::Cursor;

use avatar_image::{
    ImageError, ImageFormat, Limits, probe, render_square, render_square_as, validate,
};
use image::codecs::gif::GifDecoder;
use image::{AnimationDecoder as _, Rgb};
use test_support::hostile::png_claiming;
use test_support::images::{animated_gif, bands, encode};

const FORMATS: [(image::ImageFormat, ImageFormat); 4] = [
    (image::ImageFormat::Png, ImageFormat::Png),
    (image::ImageFormat::Jpeg, ImageFormat::Jpeg),
    (image::ImageFormat::Gif, ImageFormat::Gif),
    (image::ImageFormat::WebP, ImageFormat::Webp),
];

#[test]
fn every_format_renders_exactly_n_by_n_in_its_own_format() {
    for (encoder_format, format) in FORMATS {
        let source = encode(&bands(300, 120), encoder_format);
        for size in [1, 10, 80, 200, 512] {
            let rendered = render_square(&source, size, &Limits::default()).unwrap();
            assert_eq!(rendered.format, format);
            assert_eq!(
                ImageFormat::sniff(&rendered.bytes),
                Some(format),
                "{format} {size}"
            );
            let decoded = image::load_from_memory(&rendered.bytes).unwrap();
            assert_eq!(
                (decoded.width(), decoded.height()),
                (size, size),
                "{format} {size}"
            );
        }
    }
}

#[test]
fn the_centred_square_is_kept() {
    // 300 x 100: the centred 100 x 100 square is the green band, so every pixel is green.
    let source = encode(&bands(300, 100), image::ImageFormat::Png);
    let rendered = render_square(&source, 64, &Limits::default()).unwrap();
    let decoded = image::load_from_memory(&rendered.bytes).unwrap().to_rgb8();
    for (x, y) in [(0, 0), (63, 0), (32, 32), (0, 63), (63, 63)] {
        let Rgb([r, g, b]) = *decoded.get_pixel(x, y);
        assert!(g > 200 && r < 40 && b < 40, "pixel ({x},{y}) = {r},{g},{b}");
    }
}

#[test]
fn small_images_are_upscaled() {
    let source = encode(&bands(3, 2), image::ImageFormat::Png);
    let rendered = render_square(&source, 512, &Limits::default()).unwrap();
    let decoded = image::load_from_memory(&rendered.bytes).unwrap();
    assert_eq!((decoded.width(), decoded.height()), (512, 512));
}

#[test]
fn animated_gifs_stay_animated_with_their_delays() {
    let source = animated_gif(5, 40);
    let rendered = render_square(&source, 80, &Limits::default()).unwrap();
    assert_eq!(rendered.format, ImageFormat::Gif);
    let frames = GifDecoder::new(Cursor::new(&rendered.bytes[..]))
        .unwrap()
        .into_frames()
        .collect_frames()
        .unwrap();
    assert_eq!(frames.len(), 5);
    for frame in &frames {
        assert_eq!(frame.buffer().dimensions(), (80, 80));
        assert_eq!(frame.delay().numer_denom_ms(), (100, 1));
    }
}

/// The frames of an animated WebP, composited, as a viewer shows them.
fn webp_frames(bytes: &[u8]) -> Vec<image::Frame> {
    image::codecs::webp::WebPDecoder::new(Cursor::new(bytes))
        .unwrap()
        .into_frames()
        .collect_frames()
        .unwrap()
}

#[test]
fn animated_webps_stay_animated_with_their_delays_and_shades() {
    // As a chat app sends an animated avatar: lossy, from libwebp's animation encoder.
    let source = test_support::images::animated_webp(4, 60);
    assert_eq!(validate(&source, &Limits::default()).unwrap().width, 60);
    let rendered = render_square(&source, 80, &Limits::default()).unwrap();
    assert_eq!(rendered.format, ImageFormat::Webp);
    let frames = webp_frames(&rendered.bytes);
    assert_eq!(frames.len(), 4);
    for (index, frame) in (0u8..).zip(&frames) {
        assert_eq!(frame.buffer().dimensions(), (80, 80));
        assert_eq!(frame.delay().numer_denom_ms(), (100, 1));
        // Each frame keeps its own shade (40 levels of red apart), lossy both ways.
        let red = frame.buffer().get_pixel(40, 40).0[0];
        assert!(red.abs_diff(index * 40) <= 8, "frame {index}: red {red}");
    }
    // Asked for as GIF, it is an animated GIF; as PNG, its first frame.
    let gif = render_square_as(&source, 48, Some(ImageFormat::Gif), &Limits::default()).unwrap();
    let gif_frames = GifDecoder::new(Cursor::new(&gif.bytes[..]))
        .unwrap()
        .into_frames()
        .collect_frames()
        .unwrap();
    assert_eq!(gif_frames.len(), 4);
    let png = render_square_as(&source, 48, Some(ImageFormat::Png), &Limits::default()).unwrap();
    assert_eq!(ImageFormat::sniff(&png.bytes), Some(ImageFormat::Png));
    // The frame limit holds for WebP as for GIF.
    let few_frames = Limits {
        max_frames: 3,
        ..Limits::default()
    };
    assert_eq!(
        validate(&source, &few_frames).unwrap_err(),
        ImageError::TooManyFrames { limit: 3 }
    );
}

#[test]
fn junk_and_truncated_files_are_refused_clearly() {
    let err = render_square(b"a letter, not a picture", 80, &Limits::default()).unwrap_err();
    assert_eq!(err, ImageError::UnknownFormat);
    assert!(err.to_string().contains("PNG, JPEG, GIF or WebP"));
    let damaged_start = validate(b"\x89PNG, but not its signature", &Limits::default());
    assert_eq!(damaged_start.unwrap_err(), ImageError::UnknownFormat);
    // A file of a kind people send instead of a picture is named, with what to do.
    for other in test_support::not_pictures::not_pictures() {
        let err = validate(&other.bytes, &Limits::default()).unwrap_err();
        assert!(
            matches!(&err, ImageError::UnsupportedFormat { kind, .. } if kind.starts_with(other.named)),
            "{}: {err:?}",
            other.file
        );
        assert!(err.is_the_pictures());
        let message = err.to_string();
        assert!(
            message.starts_with(&format!("this is {}", other.named))
                && message.contains("PNG, JPEG, GIF or WebP images are accepted: "),
            "{}: {message}",
            other.file
        );
    }

    // Cut at half, and at 100 bytes (where zune-jpeg's message ends in a newline): the error
    // names the format once, then says in one line what the decoder found.
    for (encoder_format, format) in FORMATS {
        let whole = encode(&bands(64, 64), encoder_format);
        for truncated in [&whole[..whole.len() / 2], &whole[..100]] {
            let err = render_square(truncated, 80, &Limits::default()).unwrap_err();
            assert!(
                matches!(err, ImageError::Corrupt { format: f, .. } if f == format),
                "{format}: {err:?}"
            );
            let message = err.to_string();
            assert!(
                message.starts_with(&format!("corrupt or truncated {format} image: "))
                    && !message.contains('\n')
                    && !message.contains("Format error"),
                "{format}, {} bytes: {message:?}",
                truncated.len()
            );
        }
    }
}

#[test]
fn bombs_are_refused_from_the_header() {
    let err = probe(&png_claiming(100_000, 100_000), &Limits::default()).unwrap_err();
    assert!(
        matches!(
            err,
            ImageError::Dimensions {
                width: 100_000,
                height: 100_000,
                ..
            }
        ),
        "{err:?}"
    );
    assert!(err.to_string().contains("from 1 to 8192 pixels"));

    let tight = Limits {
        max_decoded_bytes: 1 << 20,
        ..Limits::default()
    };
    let err = probe(&png_claiming(1000, 1000), &tight).unwrap_err();
    assert!(matches!(err, ImageError::DecodedTooLarge { .. }), "{err:?}");
}

#[test]
fn input_size_frames_and_total_memory_are_bounded() {
    let source = encode(&bands(64, 64), image::ImageFormat::Png);
    let tiny = Limits {
        max_input_bytes: 10,
        ..Limits::default()
    };
    assert!(matches!(
        validate(&source, &tiny),
        Err(ImageError::InputTooLarge { limit: 10, .. })
    ));

    let gif = animated_gif(12, 32);
    let few_frames = Limits {
        max_frames: 10,
        ..Limits::default()
    };
    assert_eq!(
        validate(&gif, &few_frames).unwrap_err(),
        ImageError::TooManyFrames { limit: 10 }
    );
    // 12 frames of 32 x 32 x 4 bytes is 49,152 bytes: over a 40,000-byte budget.
    let little_memory = Limits {
        max_decoded_bytes: 40_000,
        ..Limits::default()
    };
    assert!(matches!(
        validate(&gif, &little_memory),
        Err(ImageError::DecodedTooLarge { .. })
    ));
    assert!(validate(&gif, &Limits::default()).is_ok());
}

#[test]
fn sizes_outside_the_renderable_range_are_refused() {
    let source = encode(&bands(8, 8), image::ImageFormat::Png);
    assert_eq!(
        render_square(&source, 0, &Limits::default()).unwrap_err(),
        ImageError::InvalidSize { size: 0 }
    );
    assert!(render_square(&source, 4097, &Limits::default()).is_err());
}
