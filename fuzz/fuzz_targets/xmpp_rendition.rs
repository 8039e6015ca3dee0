//! The XMPP rendition fitter: any stored bytes -> a square PNG of 32..=64 px under 8 KB, with
//! the SHA-1 of exactly those bytes. Never panics.
#![no_main]

use avatar_image::{ImageFormat, Limits, render_xmpp};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(rendition) = render_xmpp(data, &Limits::default()) {
        let rendered = &rendition.rendered;
        assert!((32..=64).contains(&rendered.size), "size {}", rendered.size);
        assert!(rendered.bytes.len() < 8192, "{} bytes", rendered.bytes.len());
        assert_eq!(ImageFormat::sniff(&rendered.bytes), Some(ImageFormat::Png));
    }
});
