//! The square a person chose: `prepare_cropped` stores exactly that part of the picture as
//! shown (upright, in sRGB), at its side or the master side, in the upload's format, every
//! frame of an animation alike; a crop that does not fit, or is not written as `X,Y,SIDE`, is
//! refused saying so.

use avatar_image::{Crop, ImageError, ImageFormat, Limits, prepare_cropped};
use image::{AnimationDecoder as _, Rgb, RgbImage};
use test_support::exif::{stored_for, with_orientation};
use test_support::images::encode;

/// Four quadrants of 200 x 150 in red, green, blue and yellow, clockwise from the top left.
fn quadrants() -> RgbImage {
    RgbImage::from_fn(400, 300, |x, y| match (x < 200, y < 150) {
        (true, true) => Rgb([220, 30, 30]),
        (false, true) => Rgb([30, 200, 30]),
        (false, false) => Rgb([30, 30, 220]),
        (true, false) => Rgb([220, 220, 30]),
    })
}

/// Every pixel of a stored square within `levels` of `colour`.
fn all_near(bytes: &[u8], colour: [u8; 3], levels: u8) -> bool {
    let image = image::load_from_memory(bytes).unwrap().to_rgb8();
    image.pixels().all(|pixel| {
        pixel
            .0
            .iter()
            .zip(colour)
            .all(|(a, b)| a.abs_diff(b) <= levels)
    })
}

#[test]
fn the_chosen_square_is_what_is_stored_in_every_format() {
    // A WebP's master is lossy WebP, as for any WebP upload; PNG stays exact.
    for (format, levels) in [
        (image::ImageFormat::Png, 0),
        (image::ImageFormat::WebP, 12),
        (image::ImageFormat::Jpeg, 12),
    ] {
        let upload = encode(&quadrants(), format);
        // Inside the bottom right (blue) quadrant, off every edge by 10 px.
        let crop = Crop {
            x: 210,
            y: 160,
            side: 130,
        };
        let prepared = prepare_cropped(&upload, &Limits::default(), crop).unwrap();
        assert_eq!((prepared.info.width, prepared.info.height), (400, 300));
        let master = prepared.master.expect("always made");
        assert_eq!(master.size, 130, "{format:?}: at its own side");
        assert_eq!(ImageFormat::sniff(&master.bytes).unwrap(), master.format);
        assert!(
            all_near(&master.bytes, [30, 30, 220], levels),
            "{format:?}: blue only"
        );
    }
}

#[test]
fn a_large_crop_is_stored_at_the_master_side() {
    let upload = encode(&quadrants(), image::ImageFormat::Png);
    let small_master = Limits {
        master_side: 64,
        ..Limits::default()
    };
    let crop = Crop {
        x: 0,
        y: 0,
        side: 150,
    };
    let master = prepare_cropped(&upload, &small_master, crop)
        .unwrap()
        .master
        .unwrap();
    assert_eq!(master.size, 64);
    assert!(all_near(&master.bytes, [220, 30, 30], 0), "red only");
}

#[test]
fn a_crop_is_in_the_picture_as_shown_not_as_the_phone_stored_it() {
    // The quadrants as a viewer sees them, stored turned as a phone held upright stores them
    // (EXIF orientation 6: the pixels are a quarter turn off).
    let shown = image::DynamicImage::ImageRgb8(quadrants());
    for orientation in [3, 6, 8] {
        let stored = stored_for(&shown, orientation).to_rgb8();
        let upload = with_orientation(
            &encode(&stored, image::ImageFormat::Png),
            orientation.into(),
        );
        // The top right of the picture as shown: green.
        let crop = Crop {
            x: 250,
            y: 20,
            side: 100,
        };
        let master = prepare_cropped(&upload, &Limits::default(), crop)
            .unwrap()
            .master
            .unwrap();
        assert!(
            all_near(&master.bytes, [30, 200, 30], 0),
            "orientation {orientation}"
        );
    }
}

#[test]
fn every_frame_of_an_animation_is_cropped_alike() {
    let gif = test_support::images::animated_gif(3, 120);
    let crop = Crop {
        x: 10,
        y: 20,
        side: 50,
    };
    let master = prepare_cropped(&gif, &Limits::default(), crop)
        .unwrap()
        .master
        .unwrap();
    assert_eq!((master.format, master.size), (ImageFormat::Gif, 50));
    let frames = image::codecs::gif::GifDecoder::new(std::io::Cursor::new(&master.bytes[..]))
        .unwrap()
        .into_frames()
        .collect_frames()
        .unwrap();
    assert_eq!(frames.len(), 3);
    assert!(
        frames
            .iter()
            .all(|frame| frame.buffer().dimensions() == (50, 50))
    );
}

#[test]
fn a_crop_outside_the_picture_is_refused_saying_where_it_must_be() {
    let upload = encode(&quadrants(), image::ImageFormat::Png);
    for crop in [
        Crop {
            x: 300,
            y: 0,
            side: 101,
        },
        Crop {
            x: 0,
            y: 200,
            side: 101,
        },
        Crop {
            x: 400,
            y: 0,
            side: 1,
        },
        Crop {
            x: u32::MAX,
            y: u32::MAX,
            side: u32::MAX,
        },
    ] {
        let err = prepare_cropped(&upload, &Limits::default(), crop).unwrap_err();
        assert_eq!(
            err,
            ImageError::CropOutside {
                crop,
                width: 400,
                height: 300
            }
        );
        let message = err.to_string();
        assert!(
            message.contains("does not fit in the 400 x 300 picture"),
            "{message}"
        );
        assert!(
            message.contains("X + SIDE must be at most 400"),
            "{message}"
        );
        assert!(
            !err.is_the_pictures(),
            "the crop is the request's fault, not the picture's"
        );
    }
    // The whole picture's height is the largest square that fits at the left.
    assert!(
        prepare_cropped(
            &upload,
            &Limits::default(),
            Crop {
                x: 100,
                y: 0,
                side: 300
            }
        )
        .is_ok()
    );
}

#[test]
fn crops_are_written_as_x_y_side() {
    assert_eq!(
        "0,0,1".parse::<Crop>().unwrap(),
        Crop {
            x: 0,
            y: 0,
            side: 1
        }
    );
    assert_eq!(
        " 12, 34 ,56 ".parse::<Crop>().unwrap(),
        Crop {
            x: 12,
            y: 34,
            side: 56
        }
    );
    for bad in [
        "",
        "1,2",
        "1,2,3,4",
        "1,2,0",
        "-1,2,3",
        "a,b,c",
        "1.5,2,3",
        "1;2;3",
        "99999999999,0,1",
    ] {
        let err = bad.parse::<Crop>().unwrap_err();
        assert!(
            matches!(err, ImageError::InvalidCrop { .. }),
            "{bad:?}: {err:?}"
        );
        assert!(
            err.to_string().contains("expected X,Y,SIDE"),
            "{bad:?}: {err}"
        );
    }
    let long = "9".repeat(500);
    let ImageError::InvalidCrop { given } = long.parse::<Crop>().unwrap_err() else {
        panic!("not a crop");
    };
    assert_eq!(given.len(), 64, "a long input is cut in the message");
}
