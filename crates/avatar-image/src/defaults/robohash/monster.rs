//! `set2`: a furry blob with spikes, tentacles, fangs and one or two big eyes.

use avatar_proto::AvatarHash;
use image::RgbaImage;

use super::INK;
use crate::defaults::canvas::Canvas;
use crate::defaults::colour::{Colour, hsl};
use crate::defaults::entropy::Entropy;
use crate::defaults::parts::{SIDES, eye, fang};
use crate::defaults::shapes::{capsule, circle, ellipse, smile, triangle};

/// The body's centre and radii.
struct Blob {
    x: f32,
    y: f32,
    rx: f32,
    ry: f32,
}

pub(super) fn draw(hash: &AvatarHash, size: u32) -> RgbaImage {
    let mut entropy = Entropy::new(b"robohash-set2", hash);
    let hue = entropy.range(0.0, 360.0);
    let fur = hsl(hue, entropy.range(0.6, 0.85), entropy.range(0.48, 0.6));
    let deep = hsl(hue + 15.0, 0.6, 0.34);
    let mut canvas = Canvas::new(size, hsl(hue + 150.0, 0.35, 0.88));
    let blob = Blob {
        x: 0.5,
        y: 0.55,
        rx: entropy.range(0.27, 0.33),
        ry: entropy.range(0.25, 0.3),
    };
    tentacles(&mut canvas, &mut entropy, &blob, deep);
    spikes(&mut canvas, &mut entropy, &blob, deep);
    canvas.fill(ellipse(blob.x, blob.y, blob.rx, blob.ry), fur);
    eyes(
        &mut canvas,
        &mut entropy,
        &blob,
        hsl(hue + 180.0, 0.8, 0.45),
    );
    mouth(&mut canvas, &blob);
    canvas.into_image()
}

/// Three to five tentacles hanging below.
fn tentacles(canvas: &mut Canvas, entropy: &mut Entropy, blob: &Blob, colour: Colour) {
    let count = 3 + entropy.below(3);
    for index in 0..count {
        #[expect(clippy::cast_precision_loss, reason = "a handful of tentacles")]
        let t = (index as f32 + 0.5) / count as f32;
        let x = blob.x - blob.rx * 0.8 + 1.6 * blob.rx * t;
        let sway = entropy.range(-0.06, 0.06);
        canvas.fill(
            capsule((x, blob.y + blob.ry * 0.5), (x + sway, 0.95), 0.035),
            colour,
        );
    }
}

/// Five to eight spikes around the top.
fn spikes(canvas: &mut Canvas, entropy: &mut Entropy, blob: &Blob, colour: Colour) {
    let count = 5 + entropy.below(4);
    for index in 0..count {
        #[expect(clippy::cast_precision_loss, reason = "a handful of spikes")]
        let angle = std::f32::consts::PI * (1.1 + 0.8 * index as f32 / (count - 1) as f32);
        let (dx, dy) = (angle.cos(), angle.sin());
        let base = (blob.x + dx * blob.rx * 0.85, blob.y + dy * blob.ry * 0.85);
        let tip = (blob.x + dx * (blob.rx + 0.1), blob.y + dy * (blob.ry + 0.1));
        let (nx, ny) = (-dy * 0.045, dx * 0.045);
        let corners = ((base.0 + nx, base.1 + ny), (base.0 - nx, base.1 - ny));
        canvas.fill(triangle(corners.0, corners.1, tip), colour);
    }
}

/// One big eye (a cyclops, a third of the time) or two, each with an iris.
fn eyes(canvas: &mut Canvas, entropy: &mut Entropy, blob: &Blob, iris: Colour) {
    let cyclops = entropy.below(3) == 0;
    let offsets: &[f32] = if cyclops { &[0.0] } else { &[-0.4, 0.4] };
    let r = if cyclops {
        0.1
    } else {
        entropy.range(0.06, 0.075)
    };
    let y = blob.y - blob.ry * 0.25;
    for &offset in offsets {
        let x = blob.x + offset * blob.rx;
        eye(canvas, (x, y), r, (0.0, r * 0.15), r * 0.6, iris);
        canvas.fill(circle(x, y + r * 0.15, r * 0.3), INK);
    }
}

/// A wide smile with two fangs.
fn mouth(canvas: &mut Canvas, blob: &Blob) {
    let y = blob.y + blob.ry * 0.35;
    canvas.fill(smile(blob.x, y - 0.03, blob.rx * 0.45, 0.02), INK);
    for side in SIDES {
        let top = y + 0.005;
        fang(
            canvas,
            blob.x + side * blob.rx * 0.22,
            0.025,
            (top, top + 0.06),
        );
    }
}
