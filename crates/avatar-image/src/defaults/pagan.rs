//! `pagan`: a pixel-art warrior (helmet, face, armour, legs) holding a weapon, on a 16 x 16 grid
//! in hash-chosen colours. The figure stands on columns 4..=11, its left half mirrored.

use avatar_proto::AvatarHash;
use image::RgbaImage;

use super::Generator;
use super::canvas::Canvas;
use super::colour::{Colour, hsl};
use super::entropy::Entropy;
use super::parts::Grid;

/// A tiny warrior.
#[derive(Debug, Clone, Copy, Default)]
pub struct Pagan;

/// Skin tones.
const SKINS: [Colour; 5] = [
    [255, 219, 172, 255],
    [241, 194, 125, 255],
    [224, 172, 105, 255],
    [198, 134, 66, 255],
    [141, 85, 36, 255],
];
const EYES: Colour = [30, 30, 40, 255];
const WOOD: Colour = [120, 78, 40, 255];

/// The warrior's colours, all but the skin chosen around one hue.
struct Palette {
    hue: f32,
    armour: Colour,
    trim: Colour,
    helmet: Colour,
    skin: Colour,
    boots: Colour,
}

impl Palette {
    fn draw(entropy: &mut Entropy) -> Self {
        let hue = entropy.range(0.0, 360.0);
        Self {
            hue,
            armour: hsl(hue, entropy.range(0.45, 0.7), entropy.range(0.38, 0.5)),
            trim: hsl(hue + entropy.range(30.0, 90.0), 0.7, 0.62),
            helmet: hsl(
                hue + entropy.range(-40.0, 40.0),
                0.25,
                entropy.range(0.45, 0.65),
            ),
            skin: SKINS[entropy.below(SKINS.len())],
            boots: hsl(hue + 200.0, 0.3, 0.25),
        }
    }
}

impl Generator for Pagan {
    fn draw(&self, hash: &AvatarHash, size: u32) -> RgbaImage {
        let mut entropy = Entropy::new(b"pagan", hash);
        let palette = Palette::draw(&mut entropy);
        let mut canvas = Canvas::new(size, hsl(palette.hue + 180.0, 0.3, 0.86));
        let mut grid = Grid::edge_to_edge(16);
        helmet(&mut grid, &mut entropy, &palette);
        face(&mut grid, &palette);
        armour(&mut grid, &mut entropy, &palette);
        legs(&mut grid, &palette);
        weapon(&mut grid, &mut entropy, &palette);
        shield(&mut grid, &mut entropy, &palette);
        grid.paint(&mut canvas);
        canvas.into_image()
    }
}

/// Rows 2..=4, with a crest, horns or a plume.
fn helmet(grid: &mut Grid, entropy: &mut Entropy, palette: &Palette) {
    for row in 2..=4 {
        for column in 5..=7 {
            grid.fill_mirrored(column, row, palette.helmet);
        }
    }
    match entropy.below(3) {
        0 => {
            for row in 0..=1 {
                grid.fill_mirrored(4, row + 1, palette.helmet);
            }
        }
        1 => {
            grid.fill(7, 1, palette.trim);
            grid.fill(8, 1, palette.trim);
            grid.fill(8, 0, palette.trim);
        }
        _ => grid.fill_mirrored(7, 1, palette.helmet),
    }
}

/// Rows 4..=5, and the eyes.
fn face(grid: &mut Grid, palette: &Palette) {
    for column in 6..=7 {
        grid.fill_mirrored(column, 4, palette.skin);
        grid.fill_mirrored(column, 5, palette.skin);
    }
    grid.fill_mirrored(6, 4, EYES);
}

/// Rows 6..=10, shoulders wider; a belt or a chest emblem; the hands.
fn armour(grid: &mut Grid, entropy: &mut Entropy, palette: &Palette) {
    for row in 6..=10 {
        let reach = if row == 6 { 4 } else { 5 };
        for column in reach..=7 {
            grid.fill_mirrored(column, row, palette.armour);
        }
    }
    if entropy.bit() {
        for column in 5..=7 {
            grid.fill_mirrored(column, 9, palette.trim);
        }
    } else {
        grid.fill_mirrored(7, 7, palette.trim);
        grid.fill_mirrored(7, 8, palette.trim);
    }
    grid.fill_mirrored(4, 9, palette.skin);
}

/// Rows 11..=14: legs and boots.
fn legs(grid: &mut Grid, palette: &Palette) {
    for row in 11..=13 {
        grid.fill_mirrored(6, row, palette.armour);
    }
    grid.fill_mirrored(5, 14, palette.boots);
    grid.fill_mirrored(6, 14, palette.boots);
}

/// In the right hand (columns 11..=14): a sword, an axe or a staff.
fn weapon(grid: &mut Grid, entropy: &mut Entropy, palette: &Palette) {
    let metal = hsl(palette.hue + 180.0, 0.1, 0.78);
    match entropy.below(3) {
        0 => {
            for row in 2..=9 {
                grid.fill(12, row, metal);
            }
            grid.fill(11, 9, palette.trim);
            grid.fill(13, 9, palette.trim);
            grid.fill(12, 10, WOOD);
        }
        1 => {
            for row in 3..=12 {
                grid.fill(12, row, WOOD);
            }
            for row in 3..=5 {
                grid.fill(13, row, metal);
                grid.fill(14, row, metal);
            }
        }
        _ => {
            for row in 2..=13 {
                grid.fill(12, row, WOOD);
            }
            grid.fill(12, 1, palette.trim);
            grid.fill(11, 1, palette.trim);
            grid.fill(13, 1, palette.trim);
            grid.fill(12, 0, palette.trim);
        }
    }
}

/// A shield on the other arm, sometimes.
fn shield(grid: &mut Grid, entropy: &mut Entropy, palette: &Palette) {
    if entropy.bit() {
        for row in 7..=10 {
            for column in 2..=3 {
                grid.fill(column, row, palette.trim);
            }
        }
        grid.fill(2, 8, palette.armour);
    }
}
