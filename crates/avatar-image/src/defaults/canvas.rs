//! A small 2D rasteriser for the drawn defaults, working in unit coordinates (0..1 across the
//! image) and drawing at the target size:
//! - [`Canvas::fill_rect`] covers pixels by the exact area of overlap (pixel-grid styles stay
//!   crisp where cells meet pixels and anti-aliased where they do not);
//! - [`Canvas::fill`] paints any [`Shape`] by its signed distance, with one pixel of
//!   anti-aliasing, only inside the shape's bounding box.

use image::RgbaImage;

use super::colour::Colour;
use super::shapes::Shape;

pub(crate) struct Canvas {
    size: u32,
    pixels: Vec<[f32; 4]>,
}

impl Canvas {
    pub(crate) fn new(size: u32, background: Colour) -> Self {
        let pixels = vec![to_float(background); (size * size) as usize];
        Self { size, pixels }
    }

    #[expect(clippy::cast_precision_loss, reason = "sizes are at most 4096")]
    fn side(&self) -> f32 {
        self.size as f32
    }

    /// Fills the rectangle `[x0, x1) x [y0, y1)` by exact pixel-area coverage.
    pub(crate) fn fill_rect(&mut self, x0: f32, y0: f32, x1: f32, y1: f32, colour: Colour) {
        let side = self.side();
        let (px0, py0, px1, py1) = (x0 * side, y0 * side, x1 * side, y1 * side);
        let (first_x, last_x) = self.pixel_span(px0, px1);
        let (first_y, last_y) = self.pixel_span(py0, py1);
        for y in first_y..last_y {
            #[expect(clippy::cast_precision_loss, reason = "coordinates are at most 4096")]
            let cover_y = overlap(py0, py1, y as f32);
            for x in first_x..last_x {
                #[expect(clippy::cast_precision_loss, reason = "coordinates are at most 4096")]
                let coverage = cover_y * overlap(px0, px1, x as f32);
                self.blend(x, y, colour, coverage);
            }
        }
    }

    /// Paints `shape` with `colour`, anti-aliased over one pixel.
    pub(crate) fn fill(&mut self, shape: impl Shape, colour: Colour) {
        let side = self.side();
        let (x0, y0, x1, y1) = shape.bounds();
        let (first_x, last_x) = self.pixel_span(x0 * side - 1.0, x1 * side + 1.0);
        let (first_y, last_y) = self.pixel_span(y0 * side - 1.0, y1 * side + 1.0);
        for y in first_y..last_y {
            #[expect(clippy::cast_precision_loss, reason = "coordinates are at most 4096")]
            let unit_y = (y as f32 + 0.5) / side;
            for x in first_x..last_x {
                #[expect(clippy::cast_precision_loss, reason = "coordinates are at most 4096")]
                let unit_x = (x as f32 + 0.5) / side;
                let coverage = (0.5 - shape.distance(unit_x, unit_y) * side).clamp(0.0, 1.0);
                self.blend(x, y, colour, coverage);
            }
        }
    }

    /// Paints everything below the curve `y = level + amplitude * sin(frequency * x + phase)`,
    /// one column at a time (the curve is evaluated once per column, not once per pixel).
    pub(crate) fn fill_below_wave(
        &mut self,
        level: f32,
        amplitude: f32,
        frequency: f32,
        phase: f32,
        colour: Colour,
    ) {
        let side = self.side();
        for x in 0..self.size {
            #[expect(clippy::cast_precision_loss, reason = "coordinates are at most 4096")]
            let unit_x = (x as f32 + 0.5) / side;
            let angle = unit_x * frequency + phase;
            let edge = (level + amplitude * angle.sin()) * side;
            // Distance to the edge measured across it, not straight down.
            let across = (amplitude * frequency * angle.cos()).hypot(1.0);
            let (first, _) = self.pixel_span(edge - across - 1.0, edge);
            for y in first..self.size {
                #[expect(clippy::cast_precision_loss, reason = "coordinates are at most 4096")]
                let centre = y as f32 + 0.5;
                let coverage = (0.5 + (centre - edge) / across).clamp(0.0, 1.0);
                self.blend(x, y, colour, coverage);
            }
        }
    }

    /// Pixel indices `[first, last)` touched by the span `[from, to)` in pixel units.
    #[expect(
        clippy::cast_possible_truncation,
        clippy::cast_sign_loss,
        reason = "clamped to 0..=size first"
    )]
    fn pixel_span(&self, from: f32, to: f32) -> (u32, u32) {
        let side = self.side();
        let first = from.floor().clamp(0.0, side) as u32;
        let last = to.ceil().clamp(0.0, side) as u32;
        (first, last)
    }

    fn blend(&mut self, x: u32, y: u32, colour: Colour, coverage: f32) {
        if coverage <= 0.0 {
            return;
        }
        if coverage >= 1.0 && colour[3] == 255 {
            // Fully covered by an opaque colour: most pixels of any shape.
            self.pixels[(y * self.size + x) as usize] = to_float(colour);
            return;
        }
        let over = to_float(colour);
        let alpha = over[3] * coverage;
        let under = &mut self.pixels[(y * self.size + x) as usize];
        let out_alpha = alpha + under[3] * (1.0 - alpha);
        if out_alpha <= 0.0 {
            return;
        }
        for channel in 0..3 {
            under[channel] =
                (over[channel] * alpha + under[channel] * under[3] * (1.0 - alpha)) / out_alpha;
        }
        under[3] = out_alpha;
    }

    pub(crate) fn into_image(self) -> RgbaImage {
        let size = self.size;
        let mut bytes = Vec::with_capacity(self.pixels.len() * 4);
        for pixel in self.pixels {
            for channel in pixel {
                #[expect(
                    clippy::cast_possible_truncation,
                    clippy::cast_sign_loss,
                    reason = "clamped to 0..=255"
                )]
                bytes.push((channel * 255.0).round().clamp(0.0, 255.0) as u8);
            }
        }
        RgbaImage::from_raw(size, size, bytes).expect("one RGBA quadruple per pixel")
    }
}

/// How much of pixel `[pixel, pixel + 1)` the span `[from, to)` covers.
fn overlap(from: f32, to: f32, pixel: f32) -> f32 {
    (to.min(pixel + 1.0) - from.max(pixel)).clamp(0.0, 1.0)
}

fn to_float(colour: Colour) -> [f32; 4] {
    colour.map(|channel| f32::from(channel) / 255.0)
}
