//! A small 2D rasteriser for the drawn defaults, working in unit coordinates (0..1 across the
//! image) and drawing at the target size:
//! - [`Canvas::fill_grid`] covers pixels by the exact area of overlap of grid cells (pixel-grid
//!   styles stay crisp where cells meet pixels, anti-aliased where they do not, and seamless
//!   where cells of one colour meet);
//! - [`Canvas::fill`] paints any [`Shape`] by its signed distance, with one pixel of
//!   anti-aliasing, only inside the shape's bounding box;
//! - [`Canvas::fill_below_wave`] paints below a sine curve, evaluated once per column.
//!
//! The pixels are the RGBA image itself, 4 bytes each (a 2048 px canvas is 16 MiB); each paint
//! blends in floating point and rounds back to bytes.

use image::{Rgba, RgbaImage};

use super::colour::Colour;
use super::shapes::Shape;

/// An image being drawn.
pub(crate) struct Canvas {
    size: u32,
    pixels: RgbaImage,
}

impl Canvas {
    /// A `size` x `size` canvas filled with `background`.
    pub(crate) fn new(size: u32, background: Colour) -> Self {
        Self {
            size,
            pixels: RgbaImage::from_pixel(size, size, Rgba(background)),
        }
    }

    #[expect(clippy::cast_precision_loss, reason = "sizes are at most 4096")]
    fn side(&self) -> f32 {
        self.size as f32
    }

    /// Paints a square grid of `cells` x `cells` cells, `cell` wide, from `origin` (both ways),
    /// each in the colour `colour_of(column, row)` gives (none: left as it is). Cells do not
    /// overlap, so each pixel is painted once with the exact share every cell covers of it:
    /// where two cells of one colour meet between pixels, the pixel is that colour, with no
    /// seam of the background showing through.
    pub(crate) fn fill_grid(
        &mut self,
        origin: f32,
        cell: f32,
        cells: usize,
        colour_of: &dyn Fn(usize, usize) -> Option<Colour>,
    ) {
        let side = self.side();
        // For each pixel column (and row), the grid columns it touches and how much of each.
        let spans = |pixel: u32| -> Vec<(usize, f32)> {
            #[expect(clippy::cast_precision_loss, reason = "coordinates are at most 4096")]
            let pixel = pixel as f32;
            (0..cells)
                .filter_map(|index| {
                    #[expect(clippy::cast_precision_loss, reason = "at most 16 cells")]
                    let start = (origin + index as f32 * cell) * side;
                    let end = start + cell * side;
                    let covered = overlap(start, end, pixel);
                    (covered > 0.0).then_some((index, covered))
                })
                .collect()
        };
        let across: Vec<Vec<(usize, f32)>> = (0..self.size).map(spans).collect();
        for (y, rows) in (0..self.size).zip(&across) {
            if rows.is_empty() {
                continue;
            }
            for (x, columns) in (0..self.size).zip(&across) {
                // Inside one cell, the pixel is the cell's colour (what the mixing below gives,
                // without it): most pixels of a large grid.
                if let ([(row, row_share)], [(column, column_share)]) =
                    (rows.as_slice(), columns.as_slice())
                    && *row_share >= 1.0
                    && *column_share >= 1.0
                {
                    match colour_of(*column, *row) {
                        None => continue,
                        Some(colour) if colour[3] == 255 => {
                            self.pixels.get_pixel_mut(x, y).0[..3].copy_from_slice(&colour[..3]);
                            continue;
                        }
                        Some(_) => {}
                    }
                }
                let mut mixed = [0.0f32; 3];
                let mut covered = 0.0f32;
                for &(row, row_share) in rows {
                    for &(column, column_share) in columns {
                        if let Some(colour) = colour_of(column, row) {
                            let share = row_share * column_share * f32::from(colour[3]) / 255.0;
                            for (sum, channel) in mixed.iter_mut().zip(colour) {
                                *sum += share * f32::from(channel);
                            }
                            covered += share;
                        }
                    }
                }
                if covered <= 0.0 {
                    continue;
                }
                let under = &mut self.pixels.get_pixel_mut(x, y).0;
                let covered = covered.min(1.0);
                for (channel, sum) in under.iter_mut().zip(mixed) {
                    *channel = to_byte(sum + f32::from(*channel) * (1.0 - covered));
                }
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
            // Pixels whose centres lie 1.5 px inside are wholly covered (0.5 px, and a pixel
            // to spare for rounding): an opaque colour is copied there, distance unasked.
            let (solid_first, solid_last) = shape
                .inside(unit_y, 1.5 / side)
                .filter(|_| colour[3] == 255)
                .map_or((last_x, last_x), |(from, to)| {
                    let (first, last) = self.pixel_span(from * side - 0.5, to * side - 0.5);
                    let first = (first + 1).clamp(first_x, last_x);
                    (first, last.clamp(first, last_x))
                });
            let row = self.row(y, first_x, last_x);
            for (x, under) in (first_x..last_x).zip(row.chunks_exact_mut(4)) {
                if (solid_first..solid_last).contains(&x) {
                    under.copy_from_slice(&colour);
                    continue;
                }
                #[expect(clippy::cast_precision_loss, reason = "coordinates are at most 4096")]
                let unit_x = (x as f32 + 0.5) / side;
                let coverage = (0.5 - shape.distance(unit_x, unit_y) * side).clamp(0.0, 1.0);
                blend(under, colour, coverage);
            }
        }
    }

    /// Paints everything below the curve `y = level + amplitude * sin(frequency * x + phase)`.
    /// The curve is evaluated once per column, and the pixels are then painted row by row, in
    /// the order they lie in memory (a column at a time strides a whole row per pixel).
    pub(crate) fn fill_below_wave(
        &mut self,
        level: f32,
        amplitude: f32,
        frequency: f32,
        phase: f32,
        colour: Colour,
    ) {
        let side = self.side();
        // For each column: where the edge crosses it, the pixel distance across the edge per
        // pixel down (measured across it, not straight down), and the first row it touches.
        let columns: Vec<(f32, f32, u32)> = (0..self.size)
            .map(|x| {
                #[expect(clippy::cast_precision_loss, reason = "coordinates are at most 4096")]
                let unit_x = (x as f32 + 0.5) / side;
                let angle = unit_x * frequency + phase;
                let edge = (level + amplitude * angle.sin()) * side;
                let across = (amplitude * frequency * angle.cos()).hypot(1.0);
                let (first, _) = self.pixel_span(edge - across - 1.0, edge);
                (edge, across, first)
            })
            .collect();
        let Some(top) = columns.iter().map(|&(_, _, first)| first).min() else {
            return;
        };
        let coverage = |y: u32, edge: f32, across: f32| {
            #[expect(clippy::cast_precision_loss, reason = "coordinates are at most 4096")]
            let centre = y as f32 + 0.5;
            (0.5 + (centre - edge) / across).clamp(0.0, 1.0)
        };
        // The first row of each column wholly covered: coverage only grows downwards.
        let solid: Vec<u32> = columns
            .iter()
            .map(|&(edge, across, first)| {
                (first..self.size)
                    .find(|&y| coverage(y, edge, across) >= 1.0)
                    .unwrap_or(self.size)
            })
            .collect();
        let opaque = colour[3] == 255;
        for y in top..self.size {
            let row = self.row(y, 0, self.size);
            for ((under, &(edge, across, first)), &solid) in
                row.chunks_exact_mut(4).zip(&columns).zip(&solid)
            {
                if opaque && y >= solid {
                    under.copy_from_slice(&colour);
                } else if y >= first {
                    blend(under, colour, coverage(y, edge, across));
                }
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

    /// The bytes of pixels `[first, last)` of row `y`, 4 per pixel.
    fn row(&mut self, y: u32, first: u32, last: u32) -> &mut [u8] {
        let start = (y as usize * self.size as usize + first as usize) * 4;
        let end = start + (last - first) as usize * 4;
        &mut (*self.pixels)[start..end]
    }

    /// The finished image.
    pub(crate) fn into_image(self) -> RgbaImage {
        self.pixels
    }
}

/// Paints `colour` over the pixel `under` (4 bytes) with `coverage` (0..=1), straight-alpha
/// "over".
fn blend(under: &mut [u8], colour: Colour, coverage: f32) {
    if coverage <= 0.0 {
        return;
    }
    if coverage >= 1.0 && colour[3] == 255 {
        // Fully covered by an opaque colour: most pixels of any shape.
        under.copy_from_slice(&colour);
        return;
    }
    let alpha = f32::from(colour[3]) / 255.0 * coverage;
    let under_alpha = f32::from(under[3]) / 255.0;
    let out_alpha = alpha + under_alpha * (1.0 - alpha);
    if out_alpha <= 0.0 {
        return;
    }
    for channel in 0..3 {
        let mixed = (f32::from(colour[channel]) * alpha
            + f32::from(under[channel]) * under_alpha * (1.0 - alpha))
            / out_alpha;
        under[channel] = to_byte(mixed);
    }
    under[3] = to_byte(out_alpha * 255.0);
}

/// How much of pixel `[pixel, pixel + 1)` the span `[from, to)` covers.
fn overlap(from: f32, to: f32, pixel: f32) -> f32 {
    (to.min(pixel + 1.0) - from.max(pixel)).clamp(0.0, 1.0)
}

/// A channel value in 0.0..=255.0, rounded to a byte.
#[expect(
    clippy::cast_possible_truncation,
    clippy::cast_sign_loss,
    reason = "clamped to 0..=255"
)]
fn to_byte(value: f32) -> u8 {
    value.round().clamp(0.0, 255.0) as u8
}

#[cfg(test)]
mod tests {
    //! Every primitive against a golden image (`golden/NAME.png`, compared pixel by pixel after
    //! decoding), and against what geometry says it must cover. Set `AVATAR_GOLDEN_UPDATE=1` to
    //! rewrite the golden files after a deliberate change, and look at them before committing.

    use std::path::PathBuf;

    use super::*;
    use crate::defaults::shapes::{capsule, circle, ellipse, rounded_rect, smile, triangle};

    const SIDE: u32 = 24;
    const BACKGROUND: Colour = [20, 30, 40, 255];
    const INK: Colour = [250, 200, 100, 255];

    /// A 3 x 3 checkerboard with its centre in a second colour.
    fn checkers(column: usize, row: usize) -> Option<Colour> {
        match (column, row) {
            (1, 1) => Some([40, 200, 90, 255]),
            _ if (column + row).is_multiple_of(2) => Some(INK),
            _ => None,
        }
    }

    /// Each primitive drawn once on a 24 px canvas.
    fn primitives() -> Vec<(&'static str, Canvas)> {
        let draw = |paint: &dyn Fn(&mut Canvas)| {
            let mut canvas = Canvas::new(SIDE, BACKGROUND);
            paint(&mut canvas);
            canvas
        };
        vec![
            ("grid", draw(&|c| c.fill_grid(0.1, 0.27, 3, &checkers))),
            ("circle", draw(&|c| c.fill(circle(0.5, 0.45, 0.3), INK))),
            (
                "ellipse",
                draw(&|c| c.fill(ellipse(0.5, 0.5, 0.4, 0.2), INK)),
            ),
            (
                "rounded_rect",
                draw(&|c| c.fill(rounded_rect(0.5, 0.5, 0.35, 0.25, 0.1), INK)),
            ),
            (
                "capsule",
                draw(&|c| c.fill(capsule((0.2, 0.3), (0.8, 0.7), 0.08), INK)),
            ),
            (
                "triangle",
                draw(&|c| c.fill(triangle((0.1, 0.9), (0.9, 0.9), (0.5, 0.1)), INK)),
            ),
            ("smile", draw(&|c| c.fill(smile(0.5, 0.4, 0.3, 0.05), INK))),
            (
                "wave",
                draw(&|c| c.fill_below_wave(0.5, 0.1, 9.0, 0.3, INK)),
            ),
            (
                "translucent",
                draw(&|c| c.fill(circle(0.5, 0.5, 0.4), [255, 0, 0, 110])),
            ),
        ]
    }

    fn golden_path(name: &str) -> PathBuf {
        PathBuf::from(env!("CARGO_MANIFEST_DIR"))
            .join("src/defaults/golden")
            .join(format!("{name}.png"))
    }

    #[test]
    fn every_primitive_matches_its_golden_image() {
        let update = std::env::var_os("AVATAR_GOLDEN_UPDATE").is_some();
        for (name, canvas) in primitives() {
            let drawn = canvas.into_image();
            let path = golden_path(name);
            if update {
                drawn.save(&path).unwrap();
                continue;
            }
            let golden = image::open(&path)
                .unwrap_or_else(|err| panic!("{}: {err}", path.display()))
                .to_rgba8();
            assert_eq!(drawn.dimensions(), golden.dimensions(), "{name}");
            for (x, y, pixel) in drawn.enumerate_pixels() {
                assert_eq!(
                    pixel,
                    golden.get_pixel(x, y),
                    "{name}: pixel ({x}, {y}) differs from {}",
                    path.display()
                );
            }
        }
    }

    /// How much of the canvas `colour` covers, in pixels: each pixel counts by how far it moved
    /// from the background towards `colour` (red channel).
    fn covered(image: &RgbaImage) -> f32 {
        let (from, to) = (f32::from(BACKGROUND[0]), f32::from(INK[0]));
        image
            .pixels()
            .map(|pixel| (f32::from(pixel[0]) - from) / (to - from))
            .sum()
    }

    #[test]
    fn shapes_cover_their_area() {
        #[expect(clippy::cast_precision_loss, reason = "a small canvas")]
        let area = |unit: f32| unit * (SIDE * SIDE) as f32;
        let expected = [
            ("grid", area(4.0 * 0.27 * 0.27)),
            ("circle", area(std::f32::consts::PI * 0.3 * 0.3)),
            ("ellipse", area(std::f32::consts::PI * 0.4 * 0.2)),
            ("triangle", area(0.5 * 0.8 * 0.8)),
        ];
        let drawn = primitives();
        for (name, want) in expected {
            let (_, canvas) = drawn.iter().find(|(n, _)| *n == name).unwrap();
            let got = covered(&canvas.pixels);
            assert!(
                (got - want).abs() <= want * 0.03,
                "{name}: covers {got:.1} px, geometry says {want:.1}"
            );
        }
    }

    #[test]
    fn inside_is_the_colour_outside_is_untouched() {
        let mut canvas = Canvas::new(SIDE, BACKGROUND);
        canvas.fill(circle(0.5, 0.5, 0.25), INK);
        let image = canvas.into_image();
        assert_eq!(image.get_pixel(12, 12).0, INK);
        assert_eq!(image.get_pixel(0, 0).0, BACKGROUND);
        assert_eq!(image.get_pixel(23, 12).0, BACKGROUND);
    }

    #[test]
    fn half_covered_pixels_are_half_way() {
        let mut canvas = Canvas::new(4, BACKGROUND);
        // One cell 1.5 pixels wide: all of column 0, half of column 1 (and of row 1).
        canvas.fill_grid(0.0, 0.375, 1, &|_, _| Some(INK));
        let image = canvas.into_image();
        assert_eq!(image.get_pixel(0, 0).0, INK);
        let half = image.get_pixel(1, 0).0;
        for channel in 0..3 {
            let midway = u16::midpoint(u16::from(BACKGROUND[channel]), u16::from(INK[channel]));
            assert!(u16::from(half[channel]).abs_diff(midway) <= 1, "{half:?}");
        }
        assert_eq!(image.get_pixel(2, 0).0, BACKGROUND);
    }

    #[test]
    fn cells_of_one_colour_meet_without_a_seam() {
        // Five cells across 23 pixels: every boundary falls inside a pixel.
        let mut canvas = Canvas::new(23, BACKGROUND);
        canvas.fill_grid(0.0, 0.2, 5, &|_, _| Some(INK));
        let image = canvas.into_image();
        assert!(image.pixels().all(|pixel| pixel.0 == INK), "a seam shows");
    }

    #[test]
    fn a_translucent_colour_mixes_with_what_is_under_it() {
        let mut canvas = Canvas::new(2, [0, 0, 255, 255]);
        canvas.fill_grid(0.0, 1.0, 1, &|_, _| Some([255, 0, 0, 128]));
        let pixel = canvas.into_image().get_pixel(0, 0).0;
        assert_eq!(pixel[3], 255);
        assert!(
            pixel[0].abs_diff(128) <= 1 && pixel[2].abs_diff(127) <= 1,
            "{pixel:?}"
        );
    }

    /// A shape that knows no inside span: painted by distance alone.
    #[derive(Clone, Copy)]
    struct ByDistance<S>(S);

    impl<S: Shape> Shape for ByDistance<S> {
        fn distance(&self, x: f32, y: f32) -> f32 {
            self.0.distance(x, y)
        }
        fn bounds(&self) -> (f32, f32, f32, f32) {
            self.0.bounds()
        }
    }

    proptest::proptest! {
        /// The inside-span shortcut paints exactly what asking every pixel's distance paints.
        #[test]
        fn a_circle_painted_through_its_inside_span_is_the_circle_painted_by_distance(
            size in 1u32..300,
            x in -0.2f32..1.2,
            y in -0.2f32..1.2,
            r in 0.0f32..0.8,
        ) {
            let paint = |shape: &dyn Fn(&mut Canvas)| {
                let mut canvas = Canvas::new(size, BACKGROUND);
                shape(&mut canvas);
                canvas.into_image()
            };
            let shortcut = paint(&|canvas| canvas.fill(circle(x, y, r), INK));
            let by_distance = paint(&|canvas| canvas.fill(ByDistance(circle(x, y, r)), INK));
            proptest::prop_assert!(shortcut == by_distance);
        }
    }
}
