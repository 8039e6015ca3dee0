//! `monsterid`: a cartoon monster assembled from hash-chosen body, belly, arms, legs, horns, eyes
//! and mouth, in a hash-chosen colour. Each part is drawn by its own function, back to front.

use avatar_proto::AvatarHash;
use image::RgbaImage;

use super::Generator;
use super::canvas::Canvas;
use super::colour::{Colour, hsl};
use super::entropy::Entropy;
use super::parts::{SIDES, eye, fang};
use super::shapes::{capsule, circle, ellipse, rounded_rect, smile, triangle};

/// A friendly monster.
#[derive(Debug, Clone, Copy, Default)]
pub struct MonsterId;

const INK: Colour = [40, 34, 48, 255];

/// The body's centre and half-sizes: every other part is placed from it.
struct Body {
    x: f32,
    y: f32,
    hw: f32,
    hh: f32,
}

/// Skin, the darker limbs, the lighter belly.
struct Palette {
    skin: Colour,
    dark: Colour,
    belly: Colour,
}

impl Generator for MonsterId {
    fn draw(&self, hash: &AvatarHash, size: u32) -> RgbaImage {
        let mut entropy = Entropy::new(b"monsterid", hash);
        let hue = entropy.range(0.0, 360.0);
        let palette = Palette {
            skin: hsl(hue, entropy.range(0.5, 0.75), entropy.range(0.5, 0.62)),
            dark: hsl(hue, 0.55, 0.36),
            belly: hsl(hue + entropy.range(-30.0, 30.0), 0.6, 0.78),
        };
        let mut canvas = Canvas::new(size, hsl(hue + 180.0, 0.25, 0.93));
        let body = Body {
            x: 0.5,
            y: 0.55,
            hw: entropy.range(0.22, 0.3),
            hh: entropy.range(0.2, 0.26),
        };
        legs(&mut canvas, &mut entropy, &body, &palette);
        arms(&mut canvas, &mut entropy, &body, &palette);
        horns(&mut canvas, &mut entropy, &body, &palette);
        torso(&mut canvas, &mut entropy, &body, &palette);
        eyes(&mut canvas, &mut entropy, &body);
        mouth(&mut canvas, &mut entropy, &body);
        canvas.into_image()
    }
}

/// Two legs with feet, behind the body.
fn legs(canvas: &mut Canvas, entropy: &mut Entropy, body: &Body, palette: &Palette) {
    let spread = entropy.range(0.08, 0.16);
    for side in SIDES {
        let x = body.x + side * spread;
        canvas.fill(
            capsule((x, body.y + body.hh * 0.5), (x, 0.9), 0.045),
            palette.dark,
        );
        canvas.fill(ellipse(x + side * 0.02, 0.91, 0.07, 0.035), palette.dark);
    }
}

/// Two arms, raised, held out or hanging, with round hands.
fn arms(canvas: &mut Canvas, entropy: &mut Entropy, body: &Body, palette: &Palette) {
    let lift = [-0.2, 0.0, 0.16][entropy.below(3)];
    for side in SIDES {
        let shoulder = (body.x + side * body.hw * 0.8, body.y);
        let hand = (body.x + side * (body.hw + 0.14), body.y + lift);
        canvas.fill(capsule(shoulder, hand, 0.035), palette.skin);
        canvas.fill(circle(hand.0, hand.1, 0.045), palette.dark);
    }
}

/// Horns, antennae, or nothing.
fn horns(canvas: &mut Canvas, entropy: &mut Entropy, body: &Body, palette: &Palette) {
    let top = body.y - body.hh * 0.8;
    match entropy.below(3) {
        0 => {
            for side in SIDES {
                let base = body.x + side * body.hw * 0.55;
                let tip = (base + side * 0.05, body.y - body.hh - 0.12);
                canvas.fill(
                    triangle((base - 0.04, top), (base + 0.04, top), tip),
                    palette.dark,
                );
            }
        }
        1 => {
            for side in SIDES {
                let tip = (body.x + side * body.hw * 0.7, body.y - body.hh - 0.13);
                let root = (body.x + side * body.hw * 0.35, top);
                canvas.fill(capsule(root, tip, 0.015), palette.dark);
                canvas.fill(circle(tip.0, tip.1, 0.035), palette.belly);
            }
        }
        _ => {}
    }
}

/// The body, round or boxy, and its belly.
fn torso(canvas: &mut Canvas, entropy: &mut Entropy, body: &Body, palette: &Palette) {
    if entropy.bit() {
        canvas.fill(ellipse(body.x, body.y, body.hw, body.hh), palette.skin);
    } else {
        canvas.fill(
            rounded_rect(body.x, body.y, body.hw, body.hh, 0.1),
            palette.skin,
        );
    }
    let belly = ellipse(
        body.x,
        body.y + body.hh * 0.35,
        body.hw * 0.6,
        body.hh * 0.5,
    );
    canvas.fill(belly, palette.belly);
}

/// One, two or three eyes, all looking the same way.
fn eyes(canvas: &mut Canvas, entropy: &mut Entropy, body: &Body) {
    let offsets: &[f32] = match entropy.below(4) {
        0 => &[0.0],
        1 | 2 => &[-0.35, 0.35],
        _ => &[-0.5, 0.0, 0.5],
    };
    let radius = if offsets.len() == 1 {
        0.085
    } else {
        entropy.range(0.045, 0.06)
    };
    let y = body.y - body.hh * 0.35;
    let look = (entropy.range(-0.4, 0.4), entropy.range(-0.3, 0.3));
    for &offset in offsets {
        let centre = (body.x + offset * body.hw, y);
        let look = (look.0 * radius, look.1 * radius);
        eye(canvas, centre, radius, look, radius * 0.5, INK);
    }
}

/// A smile, a toothy grin, or a surprised "o".
fn mouth(canvas: &mut Canvas, entropy: &mut Entropy, body: &Body) {
    let y = body.y + body.hh * 0.2;
    match entropy.below(3) {
        0 => canvas.fill(smile(body.x, y - 0.03, body.hw * 0.4, 0.014), INK),
        1 => {
            canvas.fill(
                rounded_rect(body.x, y + 0.02, body.hw * 0.45, 0.035, 0.02),
                INK,
            );
            for side in SIDES {
                fang(
                    canvas,
                    body.x + side * body.hw * 0.2,
                    0.02,
                    (y - 0.015, y + 0.025),
                );
            }
        }
        _ => canvas.fill(ellipse(body.x, y + 0.02, 0.04, 0.05), INK),
    }
}
