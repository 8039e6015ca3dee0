//! `identicon`: a 5 x 5 pattern, mirrored left to right, in one hash-derived colour.

use avatar_proto::AvatarHash;
use image::RgbaImage;

use super::Generator;
use super::canvas::Canvas;
use super::colour::hsl;
use super::entropy::Entropy;
use super::parts::Grid;

/// The classic symmetric block pattern.
#[derive(Debug, Clone, Copy, Default)]
pub struct Identicon;

impl Generator for Identicon {
    fn draw(&self, hash: &AvatarHash, size: u32) -> RgbaImage {
        let mut entropy = Entropy::new(b"identicon", hash);
        let colour = hsl(
            entropy.range(0.0, 360.0),
            entropy.range(0.45, 0.7),
            entropy.range(0.42, 0.58),
        );
        let mut canvas = Canvas::new(size, [240, 240, 240, 255]);
        let mut grid = Grid::with_margin(5, 0.08);
        for (row, columns) in (0u8..).zip(pattern(&mut entropy)) {
            for (column, filled) in (0u8..).zip(columns) {
                if filled {
                    grid.fill_mirrored(column, row, colour);
                }
            }
        }
        grid.paint(&mut canvas);
        canvas.into_image()
    }
}

/// Which cells of the left half and the middle column are filled, five rows of three.
fn pattern(entropy: &mut Entropy) -> [[bool; 3]; 5] {
    let mut cells = [[false; 3]; 5];
    for row in &mut cells {
        for filled in row.iter_mut() {
            *filled = entropy.bit();
        }
    }
    if cells.iter().flatten().filter(|&&filled| filled).count() < 5 {
        // Too sparse to read as a pattern (a few stray blocks): give it a spine.
        for row in &mut cells {
            row[2] = true;
        }
    }
    cells
}
