//! The render pipeline on real encoded files of every supported format.

use std::io::Cursor;

use avatar_image::{ImageError, ImageFormat, Limits, probe, render_square, validate};
use image::codecs::gif::{GifDecoder, GifEncoder, Repeat};
use image::{AnimationDecoder as _, Delay, Frame, Rgb, RgbImage, Rgba, RgbaImage};

/// A `width` x `height` image in three vertical bands: red, green, blue.
fn bands(width: u32, height: u32) -> RgbImage {
    RgbImage::from_fn(width, height, |x, _| match 3 * x / width {
        0 => Rgb([255, 0, 0]),
        1 => Rgb([0, 255, 0]),
        _ => Rgb([0, 0, 255]),
    })
}

fn encode(image: &RgbImage, format: image::ImageFormat) -> Vec<u8> {
    let mut out = Vec::new();
    let dynamic = image::DynamicImage::ImageRgb8(image.clone());
    let dynamic = if format == image::ImageFormat::WebP || format == image::ImageFormat::Gif {
        image::DynamicImage::ImageRgba8(dynamic.to_rgba8())
    } else {
        dynamic
    };
    dynamic
        .write_to(&mut Cursor::new(&mut out), format)
        .unwrap();
    out
}

fn animated_gif(frames: u32, side: u32) -> Vec<u8> {
    let mut out = Vec::new();
    {
        let mut encoder = GifEncoder::new(&mut out);
        encoder.set_repeat(Repeat::Infinite).unwrap();
        for index in 0..frames {
            let shade = u8::try_from(index * 40 % 256).unwrap();
            let frame = RgbaImage::from_pixel(side, side, Rgba([shade, 100, 200, 255]));
            encoder
                .encode_frame(Frame::from_parts(
                    frame,
                    0,
                    0,
                    Delay::from_numer_denom_ms(100, 1),
                ))
                .unwrap();
        }
    }
    out
}

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

#[test]
fn junk_and_truncated_files_are_refused_clearly() {
    let err = render_square(
        b"<svg xmlns='http://www.w3.org/2000/svg'/>",
        80,
        &Limits::default(),
    )
    .unwrap_err();
    assert_eq!(err, ImageError::UnknownFormat);
    assert!(err.to_string().contains("PNG, JPEG, GIF or WebP"));

    for (encoder_format, format) in FORMATS {
        let whole = encode(&bands(64, 64), encoder_format);
        let truncated = &whole[..whole.len() / 2];
        let err = render_square(truncated, 80, &Limits::default()).unwrap_err();
        assert!(
            matches!(err, ImageError::Corrupt { format: f, .. } if f == format),
            "{format}: {err:?}"
        );
    }
}

/// A PNG whose header claims `width` x `height` and whose data is one empty IDAT.
fn png_claiming(width: u32, height: u32) -> Vec<u8> {
    fn chunk(out: &mut Vec<u8>, kind: [u8; 4], data: &[u8]) {
        out.extend_from_slice(&u32::try_from(data.len()).unwrap().to_be_bytes());
        let mut crc_input = kind.to_vec();
        crc_input.extend_from_slice(data);
        out.extend_from_slice(&crc_input);
        out.extend_from_slice(&crc32(&crc_input).to_be_bytes());
    }
    fn crc32(bytes: &[u8]) -> u32 {
        let mut crc = 0xffff_ffffu32;
        for &byte in bytes {
            crc ^= u32::from(byte);
            for _ in 0..8 {
                crc = if crc & 1 == 1 {
                    (crc >> 1) ^ 0xedb8_8320
                } else {
                    crc >> 1
                };
            }
        }
        !crc
    }
    let mut out = b"\x89PNG\r\n\x1a\n".to_vec();
    let mut header = Vec::new();
    header.extend_from_slice(&width.to_be_bytes());
    header.extend_from_slice(&height.to_be_bytes());
    header.extend_from_slice(&[8, 6, 0, 0, 0]);
    chunk(&mut out, *b"IHDR", &header);
    chunk(
        &mut out,
        *b"IDAT",
        &[0x78, 0x9c, 0x03, 0x00, 0x00, 0x00, 0x00, 0x01],
    );
    chunk(&mut out, *b"IEND", &[]);
    out
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
