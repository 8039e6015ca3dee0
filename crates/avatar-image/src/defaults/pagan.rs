//! `pagan`: a pixel-art warrior (helmet, face, armour, legs) holding a weapon, on a 16 x 16 grid
//! in hash-chosen colours.

use avatar_proto::AvatarHash;
use image::RgbaImage;

use super::Generator;
use super::canvas::{Canvas, Colour, Entropy, hsl};

/// A tiny warrior.
#[derive(Debug, Clone, Copy, Default)]
pub struct Pagan;

const GRID: u8 = 16;

/// Skin tones.
const SKINS: [Colour; 5] = [
    [255, 219, 172, 255],
    [241, 194, 125, 255],
    [224, 172, 105, 255],
    [198, 134, 66, 255],
    [141, 85, 36, 255],
];

impl Generator for Pagan {
    fn draw(&self, hash: &AvatarHash, size: u32) -> RgbaImage {
        let mut e = Entropy::new(b"pagan", hash);
        let hue = e.range(0.0, 360.0);
        let armour = hsl(hue, e.range(0.45, 0.7), e.range(0.38, 0.5));
        let trim = hsl(hue + e.range(30.0, 90.0), 0.7, 0.62);
        let helmet = hsl(hue + e.range(-40.0, 40.0), 0.25, e.range(0.45, 0.65));
        let skin = SKINS[e.below(SKINS.len())];
        let boots = hsl(hue + 200.0, 0.3, 0.25);
        let eyes: Colour = [30, 30, 40, 255];
        let mut canvas = Canvas::new(size, hsl(hue + 180.0, 0.3, 0.86));
        let put = |canvas: &mut Canvas, column: u8, row: u8, colour: Colour| {
            let cell = 1.0 / f32::from(GRID);
            let (x, y) = (f32::from(column) * cell, f32::from(row) * cell);
            canvas.fill_rect(x, y, x + cell, y + cell, colour);
        };
        // The figure is drawn on columns 4..=11, left half mirrored.
        let mirrored = |canvas: &mut Canvas, column: u8, row: u8, colour: Colour| {
            put(canvas, column, row, colour);
            put(canvas, 15 - column, row, colour);
        };
        // Helmet: rows 2..=5, with a crest, horns or a plume.
        for row in 2..=4 {
            for column in 5..=7 {
                mirrored(&mut canvas, column, row, helmet);
            }
        }
        match e.below(3) {
            0 => {
                for row in 0..=1 {
                    mirrored(&mut canvas, 4, row + 1, helmet);
                }
            }
            1 => {
                put(&mut canvas, 7, 1, trim);
                put(&mut canvas, 8, 1, trim);
                put(&mut canvas, 8, 0, trim);
            }
            _ => mirrored(&mut canvas, 7, 1, helmet),
        }
        // Face and eyes.
        for column in 6..=7 {
            mirrored(&mut canvas, column, 4, skin);
            mirrored(&mut canvas, column, 5, skin);
        }
        mirrored(&mut canvas, 6, 4, eyes);
        // Armour: rows 6..=10, shoulders wider; a belt or a chest emblem.
        for row in 6..=10 {
            let reach = if row == 6 { 4 } else { 5 };
            for column in reach..=7 {
                mirrored(&mut canvas, column, row, armour);
            }
        }
        if e.bit() {
            for column in 5..=7 {
                mirrored(&mut canvas, column, 9, trim);
            }
        } else {
            mirrored(&mut canvas, 7, 7, trim);
            mirrored(&mut canvas, 7, 8, trim);
        }
        // Hands.
        mirrored(&mut canvas, 4, 9, skin);
        // Legs and boots.
        for row in 11..=13 {
            mirrored(&mut canvas, 6, row, armour);
        }
        mirrored(&mut canvas, 5, 14, boots);
        mirrored(&mut canvas, 6, 14, boots);
        // Weapon in the right hand (column 12..=13): sword, axe or staff.
        let metal = hsl(hue + 180.0, 0.1, 0.78);
        let wood: Colour = [120, 78, 40, 255];
        match e.below(3) {
            0 => {
                for row in 2..=9 {
                    put(&mut canvas, 12, row, metal);
                }
                put(&mut canvas, 11, 9, trim);
                put(&mut canvas, 13, 9, trim);
                put(&mut canvas, 12, 10, wood);
            }
            1 => {
                for row in 3..=12 {
                    put(&mut canvas, 12, row, wood);
                }
                for row in 3..=5 {
                    put(&mut canvas, 13, row, metal);
                    put(&mut canvas, 14, row, metal);
                }
            }
            _ => {
                for row in 2..=13 {
                    put(&mut canvas, 12, row, wood);
                }
                put(&mut canvas, 12, 1, trim);
                put(&mut canvas, 11, 1, trim);
                put(&mut canvas, 13, 1, trim);
                put(&mut canvas, 12, 0, trim);
            }
        }
        // A shield on the other arm, sometimes.
        if e.bit() {
            for row in 7..=10 {
                for column in 2..=3 {
                    put(&mut canvas, column, row, trim);
                }
            }
            put(&mut canvas, 2, 8, armour);
        }
        canvas.into_image()
    }
}
