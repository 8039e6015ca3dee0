//! `wavatar`: a face (eyes, brows, mouth) over a hash-coloured background of waves.

use avatar_proto::AvatarHash;
use image::RgbaImage;

use super::Generator;
use super::canvas::{Canvas, Capsule, Circle, Colour, Ellipse, Entropy, HalfRing, hsl};

/// A face on waves.
#[derive(Debug, Clone, Copy, Default)]
pub struct Wavatar;

const WHITE: Colour = [255, 255, 255, 255];
const INK: Colour = [38, 32, 44, 255];

impl Generator for Wavatar {
    fn draw(&self, hash: &AvatarHash, size: u32) -> RgbaImage {
        let mut e = Entropy::new(b"wavatar", hash);
        let sea = e.range(0.0, 360.0);
        let mut canvas = Canvas::new(size, hsl(sea, 0.55, 0.82));
        for (band, level) in [0.3, 0.55, 0.8].into_iter().enumerate() {
            #[expect(clippy::cast_precision_loss, reason = "three bands")]
            let depth = band as f32;
            let (amplitude, frequency, phase) = (
                e.range(0.03, 0.07),
                e.range(6.0, 12.0),
                e.range(0.0, std::f32::consts::TAU),
            );
            canvas.fill_below_wave(
                level,
                amplitude,
                frequency,
                phase,
                hsl(sea + depth * 8.0, 0.55, 0.72 - depth * 0.1),
            );
        }

        let face_hue = sea + e.range(90.0, 270.0);
        let face = hsl(face_hue, e.range(0.45, 0.65), e.range(0.62, 0.72));
        let (cx, cy, r) = (0.5, 0.52, e.range(0.3, 0.35));
        canvas.fill(
            &Circle {
                x: cx,
                y: cy + 0.015,
                r,
            },
            hsl(face_hue, 0.4, 0.45),
        );
        canvas.fill(&Circle { x: cx, y: cy, r }, face);

        // Eyes.
        let spread = e.range(0.11, 0.15);
        let eye_y = cy - r * e.range(0.18, 0.3);
        let kind = e.below(3);
        let eye_r = e.range(0.045, 0.06);
        for side in [-1.0, 1.0] {
            let x = cx + side * spread;
            match kind {
                0 => canvas.fill(
                    &Circle {
                        x,
                        y: eye_y,
                        r: eye_r * 0.55,
                    },
                    INK,
                ),
                1 => {
                    canvas.fill(
                        &Ellipse {
                            x,
                            y: eye_y,
                            rx: eye_r,
                            ry: eye_r * 1.25,
                        },
                        WHITE,
                    );
                    canvas.fill(
                        &Circle {
                            x,
                            y: eye_y + eye_r * 0.3,
                            r: eye_r * 0.5,
                        },
                        INK,
                    );
                }
                _ => {
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
                            x: x + side * eye_r * 0.25,
                            y: eye_y,
                            r: eye_r * 0.55,
                        },
                        INK,
                    );
                }
            }
        }
        // Brows: level, worried or cross.
        let tilt = [0.0, 0.025, -0.025][e.below(3)];
        let brow_y = eye_y - eye_r * 1.9;
        for side in [-1.0, 1.0] {
            let inner = (cx + side * (spread - 0.04), brow_y + tilt);
            let outer = (cx + side * (spread + 0.045), brow_y - tilt);
            canvas.fill(
                &Capsule {
                    a: inner,
                    b: outer,
                    r: 0.012,
                },
                INK,
            );
        }
        // Cheeks, sometimes.
        if e.bit() {
            for side in [-1.0, 1.0] {
                canvas.fill(
                    &Circle {
                        x: cx + side * (spread + 0.07),
                        y: cy + 0.06,
                        r: 0.035,
                    },
                    [240, 120, 130, 110],
                );
            }
        }
        // Mouth.
        let mouth_y = cy + r * 0.35;
        match e.below(4) {
            0 | 1 => canvas.fill(
                &HalfRing {
                    x: cx,
                    y: mouth_y - 0.04,
                    r: e.range(0.07, 0.11),
                    thickness: 0.013,
                    smile: true,
                },
                INK,
            ),
            2 => canvas.fill(
                &Capsule {
                    a: (cx - 0.06, mouth_y),
                    b: (cx + 0.06, mouth_y),
                    r: 0.012,
                },
                INK,
            ),
            _ => canvas.fill(
                &Ellipse {
                    x: cx,
                    y: mouth_y,
                    rx: 0.035,
                    ry: 0.045,
                },
                INK,
            ),
        }
        canvas.into_image()
    }
}
