//! The head-and-shoulders silhouette: two circles on the canvas, so its edges are anti-aliased
//! and crisp at every size.

use image::RgbaImage;

use super::canvas::Canvas;
use super::colour::Colour;
use super::shapes::circle;

pub(super) const GREY_BACKGROUND: Colour = [189, 196, 204, 255];
const FIGURE: Colour = [246, 247, 249, 255];

pub(super) fn draw(size: u32, background: Colour) -> RgbaImage {
    draw_in(size, background, FIGURE)
}

/// The figure in `figure` on `background` (the `initials` fallback).
pub(super) fn draw_in(size: u32, background: Colour, figure: Colour) -> RgbaImage {
    let mut canvas = Canvas::new(size, background);
    canvas.fill(circle(0.5, 1.08, 0.42), figure);
    canvas.fill(circle(0.5, 0.39, 0.19), figure);
    canvas.into_image()
}
