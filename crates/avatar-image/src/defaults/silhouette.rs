//! A head-and-shoulders silhouette drawn analytically: each pixel's coverage comes from its
//! signed distance to two circles, so edges are anti-aliased and crisp at every size.

use image::{Rgba, RgbaImage};

pub(super) const GREY_BACKGROUND: Rgba<u8> = Rgba([189, 196, 204, 255]);
const FIGURE: Rgba<u8> = Rgba([246, 247, 249, 255]);

/// (centre x, centre y, radius) in units of the image side.
const HEAD: (f32, f32, f32) = (0.5, 0.39, 0.19);
const SHOULDERS: (f32, f32, f32) = (0.5, 1.08, 0.42);

pub(super) fn draw(size: u32, background: Rgba<u8>) -> RgbaImage {
    #[expect(clippy::cast_precision_loss, reason = "sizes are at most 4096")]
    let side = size as f32;
    RgbaImage::from_fn(size, size, |x, y| {
        #[expect(clippy::cast_precision_loss, reason = "coordinates are at most 4096")]
        let (px, py) = (x as f32 + 0.5, y as f32 + 0.5);
        let distance =
            |(cx, cy, r): (f32, f32, f32)| (px - cx * side).hypot(py - cy * side) - r * side;
        let nearest = distance(HEAD).min(distance(SHOULDERS));
        let coverage = (0.5 - nearest).clamp(0.0, 1.0);
        blend(background, FIGURE, coverage)
    })
}

fn blend(under: Rgba<u8>, over: Rgba<u8>, coverage: f32) -> Rgba<u8> {
    let mix = |a: u8, b: u8| {
        let value = f32::from(a) + (f32::from(b) - f32::from(a)) * coverage;
        #[expect(
            clippy::cast_possible_truncation,
            clippy::cast_sign_loss,
            reason = "value is within 0..=255"
        )]
        let byte = value.round() as u8;
        byte
    };
    Rgba([
        mix(under[0], over[0]),
        mix(under[1], over[1]),
        mix(under[2], over[2]),
        mix(under[3], over[3]),
    ])
}
