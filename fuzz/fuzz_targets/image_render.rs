//! Image decode and render under the default limits: any bytes, any size. Never panics; what
//! renders is square at the size asked and sniffs as the format it claims.
#![no_main]

use avatar_image::{ImageFormat, Limits, render_square, validate};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Some((&size, bytes)) = data.split_first() else {
        return;
    };
    let limits = Limits::default();
    if validate(bytes, &limits).is_err() {
        return;
    }
    let size = u32::from(size % 128) + 1;
    if let Ok(rendered) = render_square(bytes, size, &limits) {
        assert_eq!(rendered.size, size);
        assert_eq!(ImageFormat::sniff(&rendered.bytes), Some(rendered.format));
    }
});
