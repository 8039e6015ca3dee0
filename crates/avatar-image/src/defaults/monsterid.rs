//! `monsterid`: a cartoon monster assembled from hash-chosen body, belly, arms, legs, horns, eyes
//! and mouth, in a hash-chosen colour.

use avatar_proto::AvatarHash;
use image::RgbaImage;

use super::Generator;
use super::canvas::{
    Canvas, Capsule, Circle, Colour, Ellipse, Entropy, HalfRing, Polygon, RoundedRect, hsl,
};

/// A friendly monster.
#[derive(Debug, Clone, Copy, Default)]
pub struct MonsterId;

const WHITE: Colour = [255, 255, 255, 255];
const INK: Colour = [40, 34, 48, 255];

impl Generator for MonsterId {
    fn draw(&self, hash: &AvatarHash, size: u32) -> RgbaImage {
        let mut e = Entropy::new(b"monsterid", hash);
        let hue = e.range(0.0, 360.0);
        let skin = hsl(hue, e.range(0.5, 0.75), e.range(0.5, 0.62));
        let dark = hsl(hue, 0.55, 0.36);
        let belly = hsl(hue + e.range(-30.0, 30.0), 0.6, 0.78);
        let mut canvas = Canvas::new(size, hsl(hue + 180.0, 0.25, 0.93));

        let (cx, cy) = (0.5, 0.55);
        let (hw, hh) = (e.range(0.22, 0.3), e.range(0.2, 0.26));

        // Legs, behind the body.
        let leg_spread = e.range(0.08, 0.16);
        for side in [-1.0, 1.0] {
            let x = cx + side * leg_spread;
            canvas.fill(
                &Capsule {
                    a: (x, cy + hh * 0.5),
                    b: (x, 0.9),
                    r: 0.045,
                },
                dark,
            );
            canvas.fill(
                &Ellipse {
                    x: x + side * 0.02,
                    y: 0.91,
                    rx: 0.07,
                    ry: 0.035,
                },
                dark,
            );
        }
        // Arms: up, out or down.
        let arm_lift = [-0.2, 0.0, 0.16][e.below(3)];
        for side in [-1.0, 1.0] {
            let shoulder = (cx + side * hw * 0.8, cy);
            let hand = (cx + side * (hw + 0.14), cy + arm_lift);
            canvas.fill(
                &Capsule {
                    a: shoulder,
                    b: hand,
                    r: 0.035,
                },
                skin,
            );
            canvas.fill(
                &Circle {
                    x: hand.0,
                    y: hand.1,
                    r: 0.045,
                },
                dark,
            );
        }
        // Horns or antennae.
        match e.below(3) {
            0 => {
                for side in [-1.0, 1.0] {
                    let base = cx + side * hw * 0.55;
                    canvas.fill(
                        &Polygon {
                            points: vec![
                                (base - 0.04, cy - hh * 0.8),
                                (base + 0.04, cy - hh * 0.8),
                                (base + side * 0.05, cy - hh - 0.12),
                            ],
                        },
                        dark,
                    );
                }
            }
            1 => {
                for side in [-1.0, 1.0] {
                    let tip = (cx + side * hw * 0.7, cy - hh - 0.13);
                    canvas.fill(
                        &Capsule {
                            a: (cx + side * hw * 0.35, cy - hh * 0.8),
                            b: tip,
                            r: 0.015,
                        },
                        dark,
                    );
                    canvas.fill(
                        &Circle {
                            x: tip.0,
                            y: tip.1,
                            r: 0.035,
                        },
                        belly,
                    );
                }
            }
            _ => {}
        }
        // Body.
        if e.bit() {
            canvas.fill(
                &Ellipse {
                    x: cx,
                    y: cy,
                    rx: hw,
                    ry: hh,
                },
                skin,
            );
        } else {
            canvas.fill(
                &RoundedRect {
                    x: cx,
                    y: cy,
                    hw,
                    hh,
                    radius: 0.1,
                },
                skin,
            );
        }
        canvas.fill(
            &Ellipse {
                x: cx,
                y: cy + hh * 0.35,
                rx: hw * 0.6,
                ry: hh * 0.5,
            },
            belly,
        );

        // Eyes: one, two or three.
        let eyes: &[f32] = match e.below(4) {
            0 => &[0.0],
            1 | 2 => &[-0.35, 0.35],
            _ => &[-0.5, 0.0, 0.5],
        };
        let eye_r = if eyes.len() == 1 {
            0.085
        } else {
            e.range(0.045, 0.06)
        };
        let eye_y = cy - hh * 0.35;
        let look = (e.range(-0.4, 0.4), e.range(-0.3, 0.3));
        for &offset in eyes {
            let x = cx + offset * hw;
            canvas.fill(
                &Circle {
                    x,
                    y: eye_y,
                    r: eye_r,
                },
                WHITE,
            );
            canvas.fill(
                &Circle {
                    x: x + look.0 * eye_r,
                    y: eye_y + look.1 * eye_r,
                    r: eye_r * 0.5,
                },
                INK,
            );
        }
        // Mouth.
        let mouth_y = cy + hh * 0.2;
        match e.below(3) {
            0 => canvas.fill(
                &HalfRing {
                    x: cx,
                    y: mouth_y - 0.03,
                    r: hw * 0.4,
                    thickness: 0.014,
                    smile: true,
                },
                INK,
            ),
            1 => {
                canvas.fill(
                    &RoundedRect {
                        x: cx,
                        y: mouth_y + 0.02,
                        hw: hw * 0.45,
                        hh: 0.035,
                        radius: 0.02,
                    },
                    INK,
                );
                for side in [-1.0, 1.0] {
                    let x = cx + side * hw * 0.2;
                    canvas.fill(
                        &Polygon {
                            points: vec![
                                (x - 0.02, mouth_y - 0.015),
                                (x + 0.02, mouth_y - 0.015),
                                (x, mouth_y + 0.025),
                            ],
                        },
                        WHITE,
                    );
                }
            }
            _ => canvas.fill(
                &Ellipse {
                    x: cx,
                    y: mouth_y + 0.02,
                    rx: 0.04,
                    ry: 0.05,
                },
                INK,
            ),
        }
        canvas.into_image()
    }
}
