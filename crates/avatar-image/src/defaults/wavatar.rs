//! `wavatar`: a face (eyes, brows, cheeks, mouth) over a hash-coloured background of waves.
//! Each part is drawn by its own function, back to front.

use avatar_proto::AvatarHash;
use image::RgbaImage;

use super::Generator;
use super::canvas::Canvas;
use super::colour::{Colour, WHITE, hsl};
use super::entropy::Entropy;
use super::parts::{SIDES, eye};
use super::shapes::{capsule, circle, ellipse, smile};

/// A face on waves.
#[derive(Debug, Clone, Copy, Default)]
pub struct Wavatar;

const INK: Colour = [38, 32, 44, 255];
const BLUSH: Colour = [240, 120, 130, 110];

/// The face's centre and radius.
struct Face {
    x: f32,
    y: f32,
    r: f32,
}

/// Where the eyes sit: their distance from the centre line, height and radius.
struct Eyes {
    spread: f32,
    y: f32,
    r: f32,
}

impl Generator for Wavatar {
    fn draw(&self, hash: &AvatarHash, size: u32) -> RgbaImage {
        let mut entropy = Entropy::new(b"wavatar", hash);
        let sea = entropy.range(0.0, 360.0);
        let mut canvas = Canvas::new(size, hsl(sea, 0.55, 0.82));
        waves(&mut canvas, &mut entropy, sea);
        let face = head(&mut canvas, &mut entropy, sea);
        let eyes = eyes(&mut canvas, &mut entropy, &face);
        brows(&mut canvas, &mut entropy, &face, &eyes);
        cheeks(&mut canvas, &mut entropy, &face, &eyes);
        mouth(&mut canvas, &mut entropy, &face);
        canvas.into_image()
    }
}

/// Three bands of waves, each a little deeper in colour.
fn waves(canvas: &mut Canvas, entropy: &mut Entropy, sea: f32) {
    for (band, level) in [0.3, 0.55, 0.8].into_iter().enumerate() {
        #[expect(clippy::cast_precision_loss, reason = "three bands")]
        let depth = band as f32;
        let (amplitude, frequency, phase) = (
            entropy.range(0.03, 0.07),
            entropy.range(6.0, 12.0),
            entropy.range(0.0, std::f32::consts::TAU),
        );
        canvas.fill_below_wave(
            level,
            amplitude,
            frequency,
            phase,
            hsl(sea + depth * 8.0, 0.55, 0.72 - depth * 0.1),
        );
    }
}

/// The face, in a colour away from the sea's, over its own shadow.
fn head(canvas: &mut Canvas, entropy: &mut Entropy, sea: f32) -> Face {
    let hue = sea + entropy.range(90.0, 270.0);
    let skin = hsl(hue, entropy.range(0.45, 0.65), entropy.range(0.62, 0.72));
    let face = Face {
        x: 0.5,
        y: 0.52,
        r: entropy.range(0.3, 0.35),
    };
    canvas.fill(circle(face.x, face.y + 0.015, face.r), hsl(hue, 0.4, 0.45));
    canvas.fill(circle(face.x, face.y, face.r), skin);
    face
}

/// Dots, tall eyes looking down, or round eyes looking out.
fn eyes(canvas: &mut Canvas, entropy: &mut Entropy, face: &Face) -> Eyes {
    let spread = entropy.range(0.11, 0.15);
    let y = face.y - face.r * entropy.range(0.18, 0.3);
    let kind = entropy.below(3);
    let r = entropy.range(0.045, 0.06);
    for side in SIDES {
        let x = face.x + side * spread;
        match kind {
            0 => canvas.fill(circle(x, y, r * 0.55), INK),
            1 => {
                canvas.fill(ellipse(x, y, r, r * 1.25), WHITE);
                canvas.fill(circle(x, y + r * 0.3, r * 0.5), INK);
            }
            _ => eye(canvas, (x, y), r, (side * r * 0.25, 0.0), r * 0.55, INK),
        }
    }
    Eyes { spread, y, r }
}

/// Brows: level, worried or cross.
fn brows(canvas: &mut Canvas, entropy: &mut Entropy, face: &Face, eyes: &Eyes) {
    let tilt = [0.0, 0.025, -0.025][entropy.below(3)];
    let y = eyes.y - eyes.r * 1.9;
    for side in SIDES {
        let inner = (face.x + side * (eyes.spread - 0.04), y + tilt);
        let outer = (face.x + side * (eyes.spread + 0.045), y - tilt);
        canvas.fill(capsule(inner, outer, 0.012), INK);
    }
}

/// Blushing cheeks, sometimes.
fn cheeks(canvas: &mut Canvas, entropy: &mut Entropy, face: &Face, eyes: &Eyes) {
    if entropy.bit() {
        for side in SIDES {
            let x = face.x + side * (eyes.spread + 0.07);
            canvas.fill(circle(x, face.y + 0.06, 0.035), BLUSH);
        }
    }
}

/// A smile (most often), a flat line, or an "o".
fn mouth(canvas: &mut Canvas, entropy: &mut Entropy, face: &Face) {
    let y = face.y + face.r * 0.35;
    match entropy.below(4) {
        0 | 1 => canvas.fill(
            smile(face.x, y - 0.04, entropy.range(0.07, 0.11), 0.013),
            INK,
        ),
        2 => canvas.fill(capsule((face.x - 0.06, y), (face.x + 0.06, y), 0.012), INK),
        _ => canvas.fill(ellipse(face.x, y, 0.035, 0.045), INK),
    }
}
