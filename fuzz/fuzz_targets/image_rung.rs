//! A stored picture rendered as a server keeping rendition files renders it: any bytes the
//! upload check accepts, at any size up to 256 px, in any still format. Never panics; what
//! renders straight from the picture also renders through the rung (made on the first render,
//! read back on the second); and the bytes are the same whether the rung was made or kept, and
//! whether the picture was read or only its kept rung ([`render_from_rung`]), as
//! `avatar-image`'s rung documentation promises (a rendition's `ETag` names one sequence of
//! bytes).
#![no_main]

use std::sync::OnceLock;

use avatar_image::{
    ImageFormat, Limits, RenditionFiles, render_from_rung, render_square_as, render_stored,
    validate,
};
use avatar_store::StoredImage;
use libfuzzer_sys::fuzz_target;

/// Formats a rendition may be asked in (AVIF is a build feature the fuzz build leaves out).
const FORMATS: [Option<ImageFormat>; 5] = [
    None,
    Some(ImageFormat::Jpeg),
    Some(ImageFormat::Png),
    Some(ImageFormat::Webp),
    Some(ImageFormat::Gif),
];

/// One folder of rendition files for the whole run, under the system's temporary folder,
/// bounded as a small server's would be.
fn files() -> &'static RenditionFiles {
    static FILES: OnceLock<RenditionFiles> = OnceLock::new();
    FILES.get_or_init(|| {
        let dir = std::env::temp_dir().join(format!("avatars-fuzz-rung-{}", std::process::id()));
        RenditionFiles::open(&dir, 64 << 20).expect("a rendition files' folder in the temp dir")
    })
}

fuzz_target!(|data: &[u8]| {
    let [size, format, bytes @ ..] = data else {
        return;
    };
    let limits = Limits::default();
    if validate(bytes, &limits).is_err() {
        return;
    }
    let Some(source) = ImageFormat::sniff(bytes) else {
        return;
    };
    // 1 to 256 px: the sizes pages ask for, across the rung's side and the largest size
    // rendered from it.
    let size = u32::from(*size) + 1;
    let format = FORMATS[usize::from(*format) % FORMATS.len()];
    let stored = StoredImage::new(bytes.to_vec().into());
    let files = files();
    let straight = render_square_as(bytes, size, format, &limits);
    let first = render_stored(bytes, &stored.content, size, format, &limits, files);
    let second = render_stored(bytes, &stored.content, size, format, &limits, files);
    match (&straight, &first, &second) {
        (Ok(_), Ok(first), Ok(second)) => {
            assert_eq!(first, second, "a kept rung renders other bytes than a made one");
            assert_eq!(first.size, size);
            assert_eq!(ImageFormat::sniff(&first.bytes), Some(first.format));
            if let Some(Ok(kept)) = render_from_rung(&stored.content, source, size, format, files)
            {
                assert_eq!(&kept, first, "the rung alone renders other bytes than with the picture");
            }
        }
        (Err(_), Err(_), Err(_)) => {}
        _ => panic!(
            "straight {:?}, through the rung {:?} then {:?}",
            straight.as_ref().map(|r| r.size),
            first.as_ref().map(|r| r.size),
            second.as_ref().map(|r| r.size)
        ),
    }
});
