//! `set1`: a robot with torso, neck, head, antenna, eyes, mouth grille and arms.

use avatar_proto::AvatarHash;
use image::RgbaImage;

use super::INK;
use crate::defaults::canvas::Canvas;
use crate::defaults::colour::{Colour, hsl};
use crate::defaults::entropy::Entropy;
use crate::defaults::parts::{SIDES, lamp};
use crate::defaults::shapes::{capsule, circle, rounded_rect};

/// Polished metal, its shade, and the light of lamps and eyes.
struct Palette {
    metal: Colour,
    shade: Colour,
    glow: Colour,
}

/// The head's half-sizes and height.
struct Head {
    hw: f32,
    hh: f32,
    y: f32,
}

pub(super) fn draw(hash: &AvatarHash, size: u32) -> RgbaImage {
    let mut entropy = Entropy::new(b"robohash-set1", hash);
    let hue = entropy.range(0.0, 360.0);
    let palette = Palette {
        metal: hsl(hue, entropy.range(0.25, 0.5), entropy.range(0.55, 0.65)),
        shade: hsl(hue, 0.3, 0.4),
        glow: hsl(hue + entropy.range(120.0, 240.0), 0.9, 0.6),
    };
    let mut canvas = Canvas::new(size, hsl(hue + 30.0, 0.2, 0.92));
    torso(&mut canvas, &mut entropy, &palette);
    canvas.fill(rounded_rect(0.5, 0.62, 0.06, 0.05, 0.01), palette.shade);
    let head = Head {
        hw: entropy.range(0.2, 0.26),
        hh: entropy.range(0.15, 0.19),
        y: 0.42,
    };
    skull(&mut canvas, &mut entropy, &head, &palette);
    eyes(&mut canvas, &mut entropy, &head, &palette);
    grille(&mut canvas, &mut entropy, &head, &palette);
    canvas.into_image()
}

/// Arms, the torso, and the chest panel with three lights.
fn torso(canvas: &mut Canvas, entropy: &mut Entropy, palette: &Palette) {
    let half_width = entropy.range(0.2, 0.26);
    for side in SIDES {
        let shoulder = (0.5 + side * half_width, 0.74);
        let hand = (0.5 + side * (half_width + 0.1), 0.95);
        canvas.fill(capsule(shoulder, hand, 0.04), palette.shade);
        canvas.fill(circle(shoulder.0, shoulder.1, 0.05), palette.metal);
    }
    canvas.fill(
        rounded_rect(0.5, 0.88, half_width, 0.2, 0.05),
        palette.metal,
    );
    canvas.fill(rounded_rect(0.5, 0.82, 0.07, 0.045, 0.015), palette.shade);
    for (index, x) in [0.46, 0.5, 0.54].into_iter().enumerate() {
        let light = if entropy.bit() || index == 1 {
            palette.glow
        } else {
            palette.shade
        };
        canvas.fill(circle(x, 0.82, 0.012), light);
    }
}

/// The antenna, the ear bolts and the head itself.
fn skull(canvas: &mut Canvas, entropy: &mut Entropy, head: &Head, palette: &Palette) {
    let radius = [0.02, 0.06, 0.12][entropy.below(3)];
    let tip = (0.5 + entropy.range(-0.08, 0.08), head.y - head.hh - 0.12);
    canvas.fill(capsule((0.5, head.y - head.hh), tip, 0.012), palette.shade);
    canvas.fill(circle(tip.0, tip.1, 0.03), palette.glow);
    for side in SIDES {
        let x = 0.5 + side * (head.hw + 0.02);
        canvas.fill(rounded_rect(x, head.y, 0.03, 0.06, 0.01), palette.shade);
    }
    canvas.fill(
        rounded_rect(0.5, head.y, head.hw, head.hh, radius),
        palette.metal,
    );
}

/// Two round lamps, or a visor with a light moving across it.
fn eyes(canvas: &mut Canvas, entropy: &mut Entropy, head: &Head, palette: &Palette) {
    let y = head.y - head.hh * 0.25;
    if entropy.bit() {
        for side in SIDES {
            let x = 0.5 + side * head.hw * 0.45;
            lamp(canvas, (x, y), (0.055, 0.035), INK, palette.glow);
        }
    } else {
        canvas.fill(rounded_rect(0.5, y, head.hw * 0.75, 0.04, 0.04), INK);
        let x = 0.5 + entropy.range(-0.06, 0.06);
        canvas.fill(
            rounded_rect(x, y, head.hw * 0.25, 0.022, 0.02),
            palette.glow,
        );
    }
}

/// The mouth grille and its bars.
fn grille(canvas: &mut Canvas, entropy: &mut Entropy, head: &Head, palette: &Palette) {
    let y = head.y + head.hh * 0.5;
    let half_width = head.hw * entropy.range(0.4, 0.65);
    canvas.fill(rounded_rect(0.5, y, half_width, 0.03, 0.008), INK);
    let bars = 3 + entropy.below(3);
    for bar in 1..bars {
        #[expect(clippy::cast_precision_loss, reason = "a handful of bars")]
        let x = 0.5 - half_width + 2.0 * half_width * bar as f32 / bars as f32;
        canvas.fill(capsule((x, y - 0.02), (x, y + 0.02), 0.005), palette.metal);
    }
}
