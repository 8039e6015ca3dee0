//! The head-and-shoulders silhouette: two circles on the canvas, so its edges are anti-aliased
//! and crisp at every size.

use image::RgbaImage;

use super::canvas::{Canvas, Circle, Colour};

pub(super) const GREY_BACKGROUND: Colour = [189, 196, 204, 255];
const FIGURE: Colour = [246, 247, 249, 255];

pub(super) fn draw(size: u32, background: Colour) -> RgbaImage {
    let mut canvas = Canvas::new(size, background);
    canvas.fill(
        &Circle {
            x: 0.5,
            y: 1.08,
            r: 0.42,
        },
        FIGURE,
    );
    canvas.fill(
        &Circle {
            x: 0.5,
            y: 0.39,
            r: 0.19,
        },
        FIGURE,
    );
    canvas.into_image()
}
