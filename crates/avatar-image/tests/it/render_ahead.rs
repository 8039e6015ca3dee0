//! Renditions made ahead when a picture is stored: the very bytes a request would render, in
//! the formats a request may get, found by a server that did not write them.

use std::sync::Arc;

use avatar_image::render_ahead::MAX_AHEAD_SIZES;
use avatar_image::{
    ImageError, ImageFormat, Limits, OutputFormats, RenderAhead, RenderKey, RenditionFiles,
};
use sha2::{Digest as _, Sha256};
use test_support::images::{animated_gif, encode, photo_like};

fn content(bytes: &[u8]) -> [u8; 32] {
    Sha256::digest(bytes).into()
}

fn files(dir: &tempfile::TempDir) -> Arc<RenditionFiles> {
    Arc::new(RenditionFiles::open(dir.path(), 64 << 20).unwrap())
}

#[test]
fn each_rendition_made_ahead_is_the_bytes_a_request_renders() {
    let limits = Limits::default();
    let stored = [
        encode(&photo_like(300, 200), image::ImageFormat::Jpeg),
        encode(&photo_like(90, 120), image::ImageFormat::Png),
        encode(&photo_like(64, 64), image::ImageFormat::WebP),
        animated_gif(3, 50),
    ];
    let dir = tempfile::tempdir().unwrap();
    let files = files(&dir);
    let sizes = [256, 32, 80, 80];
    let ahead = RenderAhead::new(Arc::clone(&files), sizes, OutputFormats::default()).unwrap();
    assert_eq!(ahead.sizes(), [32, 80, 256], "sorted, each once");
    let mut kept = 0;
    for bytes in &stored {
        let source = ImageFormat::sniff(bytes).unwrap();
        let formats = ahead.formats_for(source);
        let made = ahead.render(bytes, content(bytes), &limits).unwrap();
        assert_eq!(made, 3 * formats.len(), "{source}: {formats:?}");
        kept += made;
        for format in formats {
            for size in [32, 80, 256] {
                let key = RenderKey::Stored {
                    content: content(bytes),
                    size,
                    format,
                };
                let file = files.get(&key).expect("made ahead");
                // What a server keeping rendition files renders, its rung kept or not.
                let rendered = crate::rung::rendered_afresh(bytes, size, Some(format));
                assert_eq!(file, rendered, "{source} as {format} at {size} px");
            }
        }
        // Stored again (the same picture for another address): nothing is made twice.
        assert_eq!(ahead.render(bytes, content(bytes), &limits).unwrap(), 0);
    }
    // JPEG, PNG and GIF also as WebP (what a browser's Accept gets); WebP once.
    assert_eq!(kept, 3 * (2 + 2 + 1 + 2));
    // And the rung of the one picture larger than it (300 x 200).
    assert_eq!(files.len(), kept + 1);
}

#[test]
fn the_formats_made_are_those_a_request_without_an_extension_can_get() {
    let dir = tempfile::tempdir().unwrap();
    let with = |formats| RenderAhead::new(files(&dir), [80], formats).unwrap();
    let default = with(OutputFormats::default());
    assert_eq!(
        default.formats_for(ImageFormat::Png),
        [ImageFormat::Png, ImageFormat::Webp]
    );
    assert_eq!(default.formats_for(ImageFormat::Webp), [ImageFormat::Webp]);
    assert_eq!(
        with(OutputFormats::STORED_ONLY).formats_for(ImageFormat::Gif),
        [ImageFormat::Gif]
    );
    assert_eq!(
        with(OutputFormats::STORED_ONLY.avif(true)).formats_for(ImageFormat::Jpeg),
        [ImageFormat::Jpeg, ImageFormat::Avif]
    );
}

#[test]
fn sizes_out_of_range_or_too_many_are_refused_with_what_is_accepted() {
    let dir = tempfile::tempdir().unwrap();
    let new = |sizes: Vec<u32>| RenderAhead::new(files(&dir), sizes, OutputFormats::default());
    assert_eq!(
        new(vec![]).unwrap_err(),
        ImageError::AheadSizes {
            count: 0,
            limit: MAX_AHEAD_SIZES
        }
    );
    assert_eq!(
        new(vec![80, 0]).unwrap_err(),
        ImageError::InvalidSize { size: 0 }
    );
    assert_eq!(
        new(vec![40, 5000]).unwrap_err(),
        ImageError::InvalidSize { size: 5000 }
    );
    let too_many = new((1..=17).collect()).unwrap_err();
    assert_eq!(
        too_many.to_string(),
        "17 sizes to render ahead were given; from 1 to 16 different sizes are accepted"
    );
    // Repeated sizes count once.
    assert!(new([40; 20].to_vec()).is_ok());
}

#[test]
fn bytes_that_are_no_picture_are_refused_and_nothing_is_kept() {
    let dir = tempfile::tempdir().unwrap();
    let files = files(&dir);
    let ahead = RenderAhead::new(Arc::clone(&files), [40], OutputFormats::default()).unwrap();
    let limits = Limits::default();
    let not_an_image = b"just some text".as_slice();
    assert_eq!(
        ahead.render(not_an_image, content(not_an_image), &limits),
        Err(ImageError::UnknownFormat)
    );
    let mut truncated = encode(&photo_like(100, 100), image::ImageFormat::Png);
    truncated.truncate(truncated.len() / 2);
    assert!(matches!(
        ahead.render(&truncated, content(&truncated), &limits),
        Err(ImageError::Corrupt { .. })
    ));
    assert!(files.is_empty());
}

/// `avatars import --render-ahead` writes into the directory of a server that is running: the
/// server finds the files although it never indexed them.
#[test]
fn a_server_finds_the_renditions_another_process_made_ahead() {
    let dir = tempfile::tempdir().unwrap();
    let serving = files(&dir);
    // Let the server's reading of the (empty) directory finish first.
    std::thread::sleep(std::time::Duration::from_millis(50));
    let importing = files(&dir);
    let photo = encode(&photo_like(120, 120), image::ImageFormat::Jpeg);
    let ahead = RenderAhead::new(importing, [48], OutputFormats::STORED_ONLY).unwrap();
    assert_eq!(
        ahead
            .render(&photo, content(&photo), &Limits::default())
            .unwrap(),
        1
    );
    let key = RenderKey::Stored {
        content: content(&photo),
        size: 48,
        format: ImageFormat::Jpeg,
    };
    assert!(!serving.contains(&key), "not indexed by the server");
    assert_eq!(serving.get(&key).expect("found on disk").size, 48);
    assert!(serving.contains(&key), "indexed once read");
}
