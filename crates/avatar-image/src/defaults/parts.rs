//! Parts several generators draw: grids of cells for the pixel styles, eyes, lamps, fangs, and
//! the two sides of a symmetric figure.

use super::canvas::Canvas;
use super::colour::{Colour, WHITE};
use super::shapes::{Point, circle, triangle};

/// Left and right: multiply an offset from the centre line by each to draw a symmetric pair.
pub(crate) const SIDES: [f32; 2] = [-1.0, 1.0];

/// A square grid of cells starting at `origin` (both ways), `columns` cells across, each `cell`
/// wide, for the pixel styles (identicon, retro, pagan). Cells are filled by exact area, so they
/// stay crisp where they meet pixels.
pub(crate) struct Grid {
    origin: f32,
    cell: f32,
    columns: u8,
}

impl Grid {
    /// `columns` cells across the whole image.
    pub(crate) fn edge_to_edge(columns: u8) -> Self {
        Self {
            origin: 0.0,
            cell: 1.0 / f32::from(columns),
            columns,
        }
    }

    /// `columns` cells across the image less a `margin` on every side.
    pub(crate) fn with_margin(columns: u8, margin: f32) -> Self {
        Self {
            origin: margin,
            cell: (1.0 - 2.0 * margin) / f32::from(columns),
            columns,
        }
    }

    /// Fills the cell at `column`, `row`.
    pub(crate) fn fill(&self, canvas: &mut Canvas, column: u8, row: u8, colour: Colour) {
        let x = self.origin + f32::from(column) * self.cell;
        let y = self.origin + f32::from(row) * self.cell;
        canvas.fill_rect(x, y, x + self.cell, y + self.cell, colour);
    }

    /// Fills the cell at `column`, `row` and its mirror image across the vertical centre line.
    pub(crate) fn fill_mirrored(&self, canvas: &mut Canvas, column: u8, row: u8, colour: Colour) {
        self.fill(canvas, column, row, colour);
        self.fill(canvas, self.columns - 1 - column, row, colour);
    }
}

/// An eye: a white of radius `radius` at `centre`, and a pupil of `pupil_radius` moved by
/// `look` from the centre.
pub(crate) fn eye(
    canvas: &mut Canvas,
    centre: Point,
    radius: f32,
    look: Point,
    pupil_radius: f32,
    pupil: Colour,
) {
    canvas.fill(circle(centre.0, centre.1, radius), WHITE);
    canvas.fill(
        circle(centre.0 + look.0, centre.1 + look.1, pupil_radius),
        pupil,
    );
}

/// A lamp: a rim of radius `outer` and a light of radius `inner`, both centred at `centre`.
pub(crate) fn lamp(
    canvas: &mut Canvas,
    centre: Point,
    (outer, inner): (f32, f32),
    rim: Colour,
    light: Colour,
) {
    canvas.fill(circle(centre.0, centre.1, outer), rim);
    canvas.fill(circle(centre.0, centre.1, inner), light);
}

/// A white tooth at `x`, `half_width` either side, from `top` down to its point at `tip`.
pub(crate) fn fang(canvas: &mut Canvas, x: f32, half_width: f32, (top, tip): (f32, f32)) {
    canvas.fill(
        triangle((x - half_width, top), (x + half_width, top), (x, tip)),
        WHITE,
    );
}
