//! Parts several generators draw: grids of cells for the pixel styles, eyes, lamps, fangs, and
//! the two sides of a symmetric figure.

use super::canvas::Canvas;
use super::colour::{Colour, WHITE};
use super::shapes::{Point, circle, triangle};

/// Left and right: multiply an offset from the centre line by each to draw a symmetric pair.
pub(crate) const SIDES: [f32; 2] = [-1.0, 1.0];

/// A square grid of `columns` x `columns` cells for the pixel styles (identicon, retro, pagan):
/// cells are set to colours (a later colour replaces an earlier one), then the grid is painted
/// in one pass. Each pixel gets exactly the share of each cell's colour that the cell covers of
/// it, so cells that meet between pixels show no seam, whatever the size.
pub(crate) struct Grid {
    origin: f32,
    cell: f32,
    columns: u8,
    cells: Vec<Option<Colour>>,
}

impl Grid {
    /// `columns` cells across the whole image.
    pub(crate) fn edge_to_edge(columns: u8) -> Self {
        Self::new(0.0, 1.0 / f32::from(columns), columns)
    }

    /// `columns` cells across the image less a `margin` on every side.
    pub(crate) fn with_margin(columns: u8, margin: f32) -> Self {
        Self::new(margin, (1.0 - 2.0 * margin) / f32::from(columns), columns)
    }

    fn new(origin: f32, cell: f32, columns: u8) -> Self {
        Self {
            origin,
            cell,
            columns,
            cells: vec![None; usize::from(columns) * usize::from(columns)],
        }
    }

    /// Sets the cell at `column`, `row` to `colour`.
    pub(crate) fn fill(&mut self, column: u8, row: u8, colour: Colour) {
        let index = usize::from(row) * usize::from(self.columns) + usize::from(column);
        self.cells[index] = Some(colour);
    }

    /// Sets the cell at `column`, `row` and its mirror image across the vertical centre line.
    pub(crate) fn fill_mirrored(&mut self, column: u8, row: u8, colour: Colour) {
        self.fill(column, row, colour);
        self.fill(self.columns - 1 - column, row, colour);
    }

    /// Paints every set cell.
    pub(crate) fn paint(&self, canvas: &mut Canvas) {
        let columns = usize::from(self.columns);
        canvas.fill_grid(self.origin, self.cell, columns, &|column, row| {
            self.cells[row * columns + column]
        });
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
