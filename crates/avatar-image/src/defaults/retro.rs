//! `retro`: an 8-bit style sprite, 8 x 8 cells mirrored left to right, in two colours on a dark
//! background, edge to edge.

use avatar_proto::AvatarHash;
use image::RgbaImage;

use super::Generator;
use super::canvas::Canvas;
use super::colour::hsl;
use super::entropy::Entropy;
use super::parts::Grid;

/// An arcade-sprite pattern.
#[derive(Debug, Clone, Copy, Default)]
pub struct Retro;

impl Generator for Retro {
    fn draw(&self, hash: &AvatarHash, size: u32) -> RgbaImage {
        let mut entropy = Entropy::new(b"retro", hash);
        let hue = entropy.range(0.0, 360.0);
        let main = hsl(hue, 0.75, 0.58);
        let accent = hsl(hue + entropy.range(120.0, 240.0), 0.8, 0.66);
        let background = hsl(hue + 180.0, 0.3, 0.14);
        let mut canvas = Canvas::new(size, background);
        let mut grid = Grid::edge_to_edge(8);
        for row in 0u8..8 {
            for column in 0u8..4 {
                // Denser towards the middle, like a sprite's body.
                let centre_bonus = if column >= 2 { 2 } else { 0 };
                let colour = match entropy.below(10) + centre_bonus {
                    0..=4 => continue,
                    5..=9 => main,
                    _ => accent,
                };
                grid.fill_mirrored(column, row, colour);
            }
        }
        grid.paint(&mut canvas);
        canvas.into_image()
    }
}
