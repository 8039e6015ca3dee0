//! `set3`: a robot head filling the picture: plating, crest, visor with lamps, jaw, bolts.

use avatar_proto::AvatarHash;
use image::RgbaImage;

use super::INK;
use crate::defaults::canvas::Canvas;
use crate::defaults::colour::{Colour, hsl};
use crate::defaults::entropy::Entropy;
use crate::defaults::parts::SIDES;
use crate::defaults::shapes::{capsule, circle, ellipse, rounded_rect, triangle};

pub(super) fn draw(hash: &AvatarHash, size: u32) -> RgbaImage {
    let mut entropy = Entropy::new(b"robohash-set3", hash);
    let hue = entropy.range(0.0, 360.0);
    let plate = hsl(hue, entropy.range(0.3, 0.55), entropy.range(0.5, 0.6));
    let trim = hsl(hue, 0.35, 0.35);
    let glow = hsl(hue + entropy.range(90.0, 270.0), 0.95, 0.6);
    let mut canvas = Canvas::new(size, hsl(hue + 200.0, 0.15, 0.2));
    ears(&mut canvas, &mut entropy, trim);
    let radius = entropy.range(0.05, 0.18);
    canvas.fill(rounded_rect(0.5, 0.5, 0.38, 0.4, radius), plate);
    let crest = entropy.range(0.04, 0.12);
    canvas.fill(rounded_rect(0.5, 0.14, crest, 0.06, 0.02), trim);
    visor(&mut canvas, &mut entropy, glow);
    jaw(&mut canvas, &mut entropy, trim);
    for (x, y) in [(0.2, 0.2), (0.8, 0.2), (0.2, 0.8), (0.8, 0.8)] {
        canvas.fill(circle(x, y, 0.022), trim);
    }
    canvas.into_image()
}

/// A fin or a round ear on each side, chosen side by side.
fn ears(canvas: &mut Canvas, entropy: &mut Entropy, colour: Colour) {
    for side in SIDES {
        if entropy.bit() {
            let fin = triangle(
                (0.5 + side * 0.38, 0.3),
                (0.5 + side * 0.47, 0.2),
                (0.5 + side * 0.38, 0.55),
            );
            canvas.fill(fin, colour);
        } else {
            canvas.fill(circle(0.5 + side * 0.4, 0.48, 0.07), colour);
        }
    }
}

/// The visor, with one to three lamps.
fn visor(canvas: &mut Canvas, entropy: &mut Entropy, glow: Colour) {
    let y = entropy.range(0.36, 0.44);
    canvas.fill(rounded_rect(0.5, y, 0.3, 0.09, 0.05), INK);
    let lamps = [1.0_f32, 2.0, 3.0][entropy.below(3)];
    let mut lamp = 0.0;
    while lamp < lamps {
        let x = 0.5 - 0.2 + 0.4 * (lamp + 0.5) / lamps;
        canvas.fill(ellipse(x, y, 0.19 / lamps, 0.045), glow);
        lamp += 1.0;
    }
}

/// The jaw with three vents.
fn jaw(canvas: &mut Canvas, entropy: &mut Entropy, colour: Colour) {
    let y = entropy.range(0.7, 0.76);
    canvas.fill(rounded_rect(0.5, y, 0.22, 0.08, 0.03), colour);
    for row in 0..3u8 {
        let vent = y - 0.04 + f32::from(row) * 0.04;
        canvas.fill(capsule((0.36, vent), (0.64, vent), 0.008), INK);
    }
}
