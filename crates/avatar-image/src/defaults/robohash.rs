//! `robohash`: robots (`set1`), monsters (`set2`) and robot heads (`set3`), built from
//! hash-chosen parts.

use avatar_proto::{AvatarHash, RobohashSet};
use image::RgbaImage;

use super::Generator;
use super::canvas::{
    Canvas, Capsule, Circle, Colour, Ellipse, Entropy, HalfRing, Polygon, RoundedRect, hsl,
};

/// One robohash set.
#[derive(Debug, Clone, Copy)]
pub struct Robohash(pub RobohashSet);

const INK: Colour = [35, 38, 48, 255];
const WHITE: Colour = [255, 255, 255, 255];

impl Generator for Robohash {
    fn draw(&self, hash: &AvatarHash, size: u32) -> RgbaImage {
        match self.0 {
            RobohashSet::Set1 => robot(hash, size),
            RobohashSet::Set2 => monster(hash, size),
            RobohashSet::Set3 => head(hash, size),
        }
    }
}

/// A robot: torso, neck, head, antenna, eyes, mouth grille, arms.
fn robot(hash: &AvatarHash, size: u32) -> RgbaImage {
    let mut e = Entropy::new(b"robohash-set1", hash);
    let hue = e.range(0.0, 360.0);
    let metal = hsl(hue, e.range(0.25, 0.5), e.range(0.55, 0.65));
    let shade = hsl(hue, 0.3, 0.4);
    let glow = hsl(hue + e.range(120.0, 240.0), 0.9, 0.6);
    let mut canvas = Canvas::new(size, hsl(hue + 30.0, 0.2, 0.92));

    // Arms and torso.
    let torso_hw = e.range(0.2, 0.26);
    for side in [-1.0, 1.0] {
        let shoulder = (0.5 + side * torso_hw, 0.74);
        let hand = (0.5 + side * (torso_hw + 0.1), 0.95);
        canvas.fill(
            &Capsule {
                a: shoulder,
                b: hand,
                r: 0.04,
            },
            shade,
        );
        canvas.fill(
            &Circle {
                x: shoulder.0,
                y: shoulder.1,
                r: 0.05,
            },
            metal,
        );
    }
    canvas.fill(
        &RoundedRect {
            x: 0.5,
            y: 0.88,
            hw: torso_hw,
            hh: 0.2,
            radius: 0.05,
        },
        metal,
    );
    canvas.fill(
        &RoundedRect {
            x: 0.5,
            y: 0.82,
            hw: 0.07,
            hh: 0.045,
            radius: 0.015,
        },
        shade,
    );
    for (index, x) in [0.46, 0.5, 0.54].into_iter().enumerate() {
        let light = if e.bit() || index == 1 { glow } else { shade };
        canvas.fill(
            &Circle {
                x,
                y: 0.82,
                r: 0.012,
            },
            light,
        );
    }
    // Neck and head.
    canvas.fill(
        &RoundedRect {
            x: 0.5,
            y: 0.62,
            hw: 0.06,
            hh: 0.05,
            radius: 0.01,
        },
        shade,
    );
    let head_hw = e.range(0.2, 0.26);
    let head_hh = e.range(0.15, 0.19);
    let radius = [0.02, 0.06, 0.12][e.below(3)];
    let head_y = 0.42;
    // Antenna.
    let tip = (0.5 + e.range(-0.08, 0.08), head_y - head_hh - 0.12);
    canvas.fill(
        &Capsule {
            a: (0.5, head_y - head_hh),
            b: tip,
            r: 0.012,
        },
        shade,
    );
    canvas.fill(
        &Circle {
            x: tip.0,
            y: tip.1,
            r: 0.03,
        },
        glow,
    );
    // Ear bolts.
    for side in [-1.0, 1.0] {
        canvas.fill(
            &RoundedRect {
                x: 0.5 + side * (head_hw + 0.02),
                y: head_y,
                hw: 0.03,
                hh: 0.06,
                radius: 0.01,
            },
            shade,
        );
    }
    canvas.fill(
        &RoundedRect {
            x: 0.5,
            y: head_y,
            hw: head_hw,
            hh: head_hh,
            radius,
        },
        metal,
    );
    // Eyes: round lamps or a visor.
    let eye_y = head_y - head_hh * 0.25;
    if e.bit() {
        for side in [-1.0, 1.0] {
            let x = 0.5 + side * head_hw * 0.45;
            canvas.fill(
                &Circle {
                    x,
                    y: eye_y,
                    r: 0.055,
                },
                INK,
            );
            canvas.fill(
                &Circle {
                    x,
                    y: eye_y,
                    r: 0.035,
                },
                glow,
            );
        }
    } else {
        canvas.fill(
            &RoundedRect {
                x: 0.5,
                y: eye_y,
                hw: head_hw * 0.75,
                hh: 0.04,
                radius: 0.04,
            },
            INK,
        );
        canvas.fill(
            &RoundedRect {
                x: 0.5 + e.range(-0.06, 0.06),
                y: eye_y,
                hw: head_hw * 0.25,
                hh: 0.022,
                radius: 0.02,
            },
            glow,
        );
    }
    // Mouth grille.
    let mouth_y = head_y + head_hh * 0.5;
    let mouth_hw = head_hw * e.range(0.4, 0.65);
    canvas.fill(
        &RoundedRect {
            x: 0.5,
            y: mouth_y,
            hw: mouth_hw,
            hh: 0.03,
            radius: 0.008,
        },
        INK,
    );
    let bars = 3 + e.below(3);
    for bar in 1..bars {
        #[expect(clippy::cast_precision_loss, reason = "a handful of bars")]
        let x = 0.5 - mouth_hw + 2.0 * mouth_hw * bar as f32 / bars as f32;
        canvas.fill(
            &Capsule {
                a: (x, mouth_y - 0.02),
                b: (x, mouth_y + 0.02),
                r: 0.005,
            },
            metal,
        );
    }
    canvas.into_image()
}

/// A monster: a furry blob with spikes, tentacles, fangs and one or two big eyes.
fn monster(hash: &AvatarHash, size: u32) -> RgbaImage {
    let mut e = Entropy::new(b"robohash-set2", hash);
    let hue = e.range(0.0, 360.0);
    let fur = hsl(hue, e.range(0.6, 0.85), e.range(0.48, 0.6));
    let deep = hsl(hue + 15.0, 0.6, 0.34);
    let mut canvas = Canvas::new(size, hsl(hue + 150.0, 0.35, 0.88));
    let (cx, cy, rx, ry) = (0.5, 0.55, e.range(0.27, 0.33), e.range(0.25, 0.3));

    // Tentacles.
    let count = 3 + e.below(3);
    for index in 0..count {
        #[expect(clippy::cast_precision_loss, reason = "a handful of tentacles")]
        let t = (index as f32 + 0.5) / count as f32;
        let x = cx - rx * 0.8 + 1.6 * rx * t;
        let sway = e.range(-0.06, 0.06);
        canvas.fill(
            &Capsule {
                a: (x, cy + ry * 0.5),
                b: (x + sway, 0.95),
                r: 0.035,
            },
            deep,
        );
    }
    // Spikes around the top.
    let spikes = 5 + e.below(4);
    for index in 0..spikes {
        #[expect(clippy::cast_precision_loss, reason = "a handful of spikes")]
        let angle = std::f32::consts::PI * (1.1 + 0.8 * index as f32 / (spikes - 1) as f32);
        let (dx, dy) = (angle.cos(), angle.sin());
        let base = (cx + dx * rx * 0.85, cy + dy * ry * 0.85);
        let tip = (cx + dx * (rx + 0.1), cy + dy * (ry + 0.1));
        let (nx, ny) = (-dy * 0.045, dx * 0.045);
        canvas.fill(
            &Polygon {
                points: vec![(base.0 + nx, base.1 + ny), (base.0 - nx, base.1 - ny), tip],
            },
            deep,
        );
    }
    canvas.fill(
        &Ellipse {
            x: cx,
            y: cy,
            rx,
            ry,
        },
        fur,
    );
    // Eyes.
    let cyclops = e.below(3) == 0;
    let eyes: &[f32] = if cyclops { &[0.0] } else { &[-0.4, 0.4] };
    let eye_r = if cyclops { 0.1 } else { e.range(0.06, 0.075) };
    let eye_y = cy - ry * 0.25;
    let iris = hsl(hue + 180.0, 0.8, 0.45);
    for &offset in eyes {
        let x = cx + offset * rx;
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
                x,
                y: eye_y + eye_r * 0.15,
                r: eye_r * 0.6,
            },
            iris,
        );
        canvas.fill(
            &Circle {
                x,
                y: eye_y + eye_r * 0.15,
                r: eye_r * 0.3,
            },
            INK,
        );
    }
    // Mouth with fangs.
    let mouth_y = cy + ry * 0.35;
    canvas.fill(
        &HalfRing {
            x: cx,
            y: mouth_y - 0.03,
            r: rx * 0.45,
            thickness: 0.02,
            smile: true,
        },
        INK,
    );
    for side in [-1.0, 1.0] {
        let x = cx + side * rx * 0.22;
        let top = mouth_y + 0.005;
        canvas.fill(
            &Polygon {
                points: vec![(x - 0.025, top), (x + 0.025, top), (x, top + 0.06)],
            },
            WHITE,
        );
    }
    canvas.into_image()
}

/// A robot head, filling the picture: plating, visor, lamps, jaw, bolts.
fn head(hash: &AvatarHash, size: u32) -> RgbaImage {
    let mut e = Entropy::new(b"robohash-set3", hash);
    let hue = e.range(0.0, 360.0);
    let plate = hsl(hue, e.range(0.3, 0.55), e.range(0.5, 0.6));
    let trim = hsl(hue, 0.35, 0.35);
    let glow = hsl(hue + e.range(90.0, 270.0), 0.95, 0.6);
    let mut canvas = Canvas::new(size, hsl(hue + 200.0, 0.15, 0.2));
    // Side fins or ears.
    for side in [-1.0, 1.0] {
        if e.bit() {
            canvas.fill(
                &Polygon {
                    points: vec![
                        (0.5 + side * 0.38, 0.3),
                        (0.5 + side * 0.47, 0.2),
                        (0.5 + side * 0.38, 0.55),
                    ],
                },
                trim,
            );
        } else {
            canvas.fill(
                &Circle {
                    x: 0.5 + side * 0.4,
                    y: 0.48,
                    r: 0.07,
                },
                trim,
            );
        }
    }
    canvas.fill(
        &RoundedRect {
            x: 0.5,
            y: 0.5,
            hw: 0.38,
            hh: 0.4,
            radius: e.range(0.05, 0.18),
        },
        plate,
    );
    // Crest.
    canvas.fill(
        &RoundedRect {
            x: 0.5,
            y: 0.14,
            hw: e.range(0.04, 0.12),
            hh: 0.06,
            radius: 0.02,
        },
        trim,
    );
    // Visor with lamps.
    let visor_y = e.range(0.36, 0.44);
    canvas.fill(
        &RoundedRect {
            x: 0.5,
            y: visor_y,
            hw: 0.3,
            hh: 0.09,
            radius: 0.05,
        },
        INK,
    );
    let lamps = [1.0_f32, 2.0, 3.0][e.below(3)];
    let mut lamp = 0.0;
    while lamp < lamps {
        let x = 0.5 - 0.2 + 0.4 * (lamp + 0.5) / lamps;
        canvas.fill(
            &Ellipse {
                x,
                y: visor_y,
                rx: 0.19 / lamps,
                ry: 0.045,
            },
            glow,
        );
        lamp += 1.0;
    }
    // Jaw with vents.
    let jaw_y = e.range(0.7, 0.76);
    canvas.fill(
        &RoundedRect {
            x: 0.5,
            y: jaw_y,
            hw: 0.22,
            hh: 0.08,
            radius: 0.03,
        },
        trim,
    );
    for row in 0..3u8 {
        let y = jaw_y - 0.04 + f32::from(row) * 0.04;
        canvas.fill(
            &Capsule {
                a: (0.36, y),
                b: (0.64, y),
                r: 0.008,
            },
            INK,
        );
    }
    // Bolts in the corners.
    for (x, y) in [(0.2, 0.2), (0.8, 0.2), (0.2, 0.8), (0.8, 0.8)] {
        canvas.fill(&Circle { x, y, r: 0.022 }, trim);
    }
    canvas.into_image()
}
