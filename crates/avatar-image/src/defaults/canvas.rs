//! A small 2D rasteriser for the drawn defaults, working in unit coordinates (0..1 across the
//! image) and drawing at the target size:
//! - [`Canvas::fill_rect`] covers pixels by the exact area of overlap (pixel-grid styles stay
//!   crisp where cells meet pixels and anti-aliased where they do not);
//! - [`Canvas::fill`] paints any [`Shape`] by its signed distance, with one pixel of
//!   anti-aliasing, only inside the shape's bounding box.

use image::RgbaImage;

/// A colour with straight (not premultiplied) alpha.
pub(crate) type Colour = [u8; 4];

/// A region given by its signed distance (negative inside), in unit coordinates.
pub(crate) trait Shape {
    /// Signed distance from `(x, y)` to the edge; negative inside.
    fn distance(&self, x: f32, y: f32) -> f32;
    /// `(x0, y0, x1, y1)` containing the shape.
    fn bounds(&self) -> (f32, f32, f32, f32);
}

pub(crate) struct Canvas {
    size: u32,
    pixels: Vec<[f32; 4]>,
}

impl Canvas {
    pub(crate) fn new(size: u32, background: Colour) -> Self {
        let pixels = vec![to_float(background); (size * size) as usize];
        Self { size, pixels }
    }

    #[expect(clippy::cast_precision_loss, reason = "sizes are at most 4096")]
    fn side(&self) -> f32 {
        self.size as f32
    }

    /// Fills the rectangle `[x0, x1) x [y0, y1)` by exact pixel-area coverage.
    pub(crate) fn fill_rect(&mut self, x0: f32, y0: f32, x1: f32, y1: f32, colour: Colour) {
        let side = self.side();
        let (px0, py0, px1, py1) = (x0 * side, y0 * side, x1 * side, y1 * side);
        let (first_x, last_x) = self.pixel_span(px0, px1);
        let (first_y, last_y) = self.pixel_span(py0, py1);
        for y in first_y..last_y {
            #[expect(clippy::cast_precision_loss, reason = "coordinates are at most 4096")]
            let cover_y = overlap(py0, py1, y as f32);
            for x in first_x..last_x {
                #[expect(clippy::cast_precision_loss, reason = "coordinates are at most 4096")]
                let coverage = cover_y * overlap(px0, px1, x as f32);
                self.blend(x, y, colour, coverage);
            }
        }
    }

    /// Paints `shape` with `colour`, anti-aliased over one pixel.
    pub(crate) fn fill(&mut self, shape: &impl Shape, colour: Colour) {
        let side = self.side();
        let (x0, y0, x1, y1) = shape.bounds();
        let (first_x, last_x) = self.pixel_span(x0 * side - 1.0, x1 * side + 1.0);
        let (first_y, last_y) = self.pixel_span(y0 * side - 1.0, y1 * side + 1.0);
        for y in first_y..last_y {
            #[expect(clippy::cast_precision_loss, reason = "coordinates are at most 4096")]
            let unit_y = (y as f32 + 0.5) / side;
            for x in first_x..last_x {
                #[expect(clippy::cast_precision_loss, reason = "coordinates are at most 4096")]
                let unit_x = (x as f32 + 0.5) / side;
                let coverage = (0.5 - shape.distance(unit_x, unit_y) * side).clamp(0.0, 1.0);
                self.blend(x, y, colour, coverage);
            }
        }
    }

    /// Paints everything below the curve `y = level + amplitude * sin(frequency * x + phase)`,
    /// one column at a time (the curve is evaluated once per column, not once per pixel).
    pub(crate) fn fill_below_wave(
        &mut self,
        level: f32,
        amplitude: f32,
        frequency: f32,
        phase: f32,
        colour: Colour,
    ) {
        let side = self.side();
        for x in 0..self.size {
            #[expect(clippy::cast_precision_loss, reason = "coordinates are at most 4096")]
            let unit_x = (x as f32 + 0.5) / side;
            let angle = unit_x * frequency + phase;
            let edge = (level + amplitude * angle.sin()) * side;
            // Distance to the edge measured across it, not straight down.
            let across = (amplitude * frequency * angle.cos()).hypot(1.0);
            let (first, _) = self.pixel_span(edge - across - 1.0, edge);
            for y in first..self.size {
                #[expect(clippy::cast_precision_loss, reason = "coordinates are at most 4096")]
                let centre = y as f32 + 0.5;
                let coverage = (0.5 + (centre - edge) / across).clamp(0.0, 1.0);
                self.blend(x, y, colour, coverage);
            }
        }
    }

    /// Pixel indices `[first, last)` touched by the span `[from, to)` in pixel units.
    #[expect(
        clippy::cast_possible_truncation,
        clippy::cast_sign_loss,
        reason = "clamped to 0..=size first"
    )]
    fn pixel_span(&self, from: f32, to: f32) -> (u32, u32) {
        let side = self.side();
        let first = from.floor().clamp(0.0, side) as u32;
        let last = to.ceil().clamp(0.0, side) as u32;
        (first, last)
    }

    fn blend(&mut self, x: u32, y: u32, colour: Colour, coverage: f32) {
        if coverage <= 0.0 {
            return;
        }
        if coverage >= 1.0 && colour[3] == 255 {
            // Fully covered by an opaque colour: most pixels of any shape.
            self.pixels[(y * self.size + x) as usize] = to_float(colour);
            return;
        }
        let over = to_float(colour);
        let alpha = over[3] * coverage;
        let under = &mut self.pixels[(y * self.size + x) as usize];
        let out_alpha = alpha + under[3] * (1.0 - alpha);
        if out_alpha <= 0.0 {
            return;
        }
        for channel in 0..3 {
            under[channel] =
                (over[channel] * alpha + under[channel] * under[3] * (1.0 - alpha)) / out_alpha;
        }
        under[3] = out_alpha;
    }

    pub(crate) fn into_image(self) -> RgbaImage {
        let size = self.size;
        let mut bytes = Vec::with_capacity(self.pixels.len() * 4);
        for pixel in self.pixels {
            for channel in pixel {
                #[expect(
                    clippy::cast_possible_truncation,
                    clippy::cast_sign_loss,
                    reason = "clamped to 0..=255"
                )]
                bytes.push((channel * 255.0).round().clamp(0.0, 255.0) as u8);
            }
        }
        RgbaImage::from_raw(size, size, bytes).expect("one RGBA quadruple per pixel")
    }
}

/// How much of pixel `[pixel, pixel + 1)` the span `[from, to)` covers.
fn overlap(from: f32, to: f32, pixel: f32) -> f32 {
    (to.min(pixel + 1.0) - from.max(pixel)).clamp(0.0, 1.0)
}

fn to_float(colour: Colour) -> [f32; 4] {
    colour.map(|channel| f32::from(channel) / 255.0)
}

// ---- shapes ----

pub(crate) struct Circle {
    pub(crate) x: f32,
    pub(crate) y: f32,
    pub(crate) r: f32,
}

impl Shape for Circle {
    fn distance(&self, x: f32, y: f32) -> f32 {
        (x - self.x).hypot(y - self.y) - self.r
    }
    fn bounds(&self) -> (f32, f32, f32, f32) {
        (
            self.x - self.r,
            self.y - self.r,
            self.x + self.r,
            self.y + self.r,
        )
    }
}

/// An axis-aligned ellipse (distance approximated by scaling, exact enough for one pixel of
/// anti-aliasing at the sizes drawn).
pub(crate) struct Ellipse {
    pub(crate) x: f32,
    pub(crate) y: f32,
    pub(crate) rx: f32,
    pub(crate) ry: f32,
}

impl Shape for Ellipse {
    fn distance(&self, x: f32, y: f32) -> f32 {
        let (dx, dy) = ((x - self.x) / self.rx, (y - self.y) / self.ry);
        let k = dx.hypot(dy);
        if k == 0.0 {
            return -self.rx.min(self.ry);
        }
        // First-order distance: (k - 1) / |grad k|.
        let gradient = (dx / self.rx).hypot(dy / self.ry) / k;
        (k - 1.0) / gradient
    }
    fn bounds(&self) -> (f32, f32, f32, f32) {
        (
            self.x - self.rx,
            self.y - self.ry,
            self.x + self.rx,
            self.y + self.ry,
        )
    }
}

/// A rectangle with rounded corners, centred at `(x, y)` with half-sizes `hw`, `hh`.
pub(crate) struct RoundedRect {
    pub(crate) x: f32,
    pub(crate) y: f32,
    pub(crate) hw: f32,
    pub(crate) hh: f32,
    pub(crate) radius: f32,
}

impl Shape for RoundedRect {
    fn distance(&self, x: f32, y: f32) -> f32 {
        let r = self.radius.min(self.hw).min(self.hh);
        let qx = (x - self.x).abs() - self.hw + r;
        let qy = (y - self.y).abs() - self.hh + r;
        qx.max(0.0).hypot(qy.max(0.0)) + qx.max(qy).min(0.0) - r
    }
    fn bounds(&self) -> (f32, f32, f32, f32) {
        (
            self.x - self.hw,
            self.y - self.hh,
            self.x + self.hw,
            self.y + self.hh,
        )
    }
}

/// A segment from `a` to `b` with round ends, `r` thick on each side.
pub(crate) struct Capsule {
    pub(crate) a: (f32, f32),
    pub(crate) b: (f32, f32),
    pub(crate) r: f32,
}

impl Shape for Capsule {
    fn distance(&self, x: f32, y: f32) -> f32 {
        let (px, py) = (x - self.a.0, y - self.a.1);
        let (bx, by) = (self.b.0 - self.a.0, self.b.1 - self.a.1);
        let length = bx * bx + by * by;
        let t = if length == 0.0 {
            0.0
        } else {
            ((px * bx + py * by) / length).clamp(0.0, 1.0)
        };
        (px - bx * t).hypot(py - by * t) - self.r
    }
    fn bounds(&self) -> (f32, f32, f32, f32) {
        (
            self.a.0.min(self.b.0) - self.r,
            self.a.1.min(self.b.1) - self.r,
            self.a.0.max(self.b.0) + self.r,
            self.a.1.max(self.b.1) + self.r,
        )
    }
}

/// A convex polygon, corners in either winding.
pub(crate) struct Polygon {
    pub(crate) points: Vec<(f32, f32)>,
}

impl Shape for Polygon {
    fn distance(&self, x: f32, y: f32) -> f32 {
        let n = self.points.len();
        let area: f32 = (0..n)
            .map(|i| {
                let (a, b) = (self.points[i], self.points[(i + 1) % n]);
                a.0 * b.1 - b.0 * a.1
            })
            .sum();
        let winding = if area >= 0.0 { 1.0 } else { -1.0 };
        (0..n)
            .map(|i| {
                let (a, b) = (self.points[i], self.points[(i + 1) % n]);
                let (ex, ey) = (b.0 - a.0, b.1 - a.1);
                let length = ex.hypot(ey).max(f32::EPSILON);
                // Outward normal for counter-clockwise (positive area) order.
                winding * ((x - a.0) * ey - (y - a.1) * ex) / length
            })
            .fold(f32::NEG_INFINITY, f32::max)
    }
    fn bounds(&self) -> (f32, f32, f32, f32) {
        self.points.iter().fold(
            (
                f32::INFINITY,
                f32::INFINITY,
                f32::NEG_INFINITY,
                f32::NEG_INFINITY,
            ),
            |(x0, y0, x1, y1), &(x, y)| (x0.min(x), y0.min(y), x1.max(x), y1.max(y)),
        )
    }
}

/// The lower (`smile`) or upper half of a ring: a mouth.
pub(crate) struct HalfRing {
    pub(crate) x: f32,
    pub(crate) y: f32,
    pub(crate) r: f32,
    pub(crate) thickness: f32,
    pub(crate) smile: bool,
}

impl Shape for HalfRing {
    fn distance(&self, x: f32, y: f32) -> f32 {
        let ring = ((x - self.x).hypot(y - self.y) - self.r).abs() - self.thickness;
        let side = if self.smile { self.y - y } else { y - self.y };
        ring.max(side)
    }
    fn bounds(&self) -> (f32, f32, f32, f32) {
        let outer = self.r + self.thickness;
        (
            self.x - outer,
            self.y - outer,
            self.x + outer,
            self.y + outer,
        )
    }
}

// ---- colour and entropy ----

/// HSL (hue in degrees, saturation and lightness in 0..1) to an opaque colour.
pub(crate) fn hsl(hue: f32, saturation: f32, lightness: f32) -> Colour {
    let c = (1.0 - (2.0 * lightness - 1.0).abs()) * saturation;
    let h = hue.rem_euclid(360.0) / 60.0;
    let x = c * (1.0 - (h % 2.0 - 1.0).abs());
    let (r, g, b) = match h {
        h if h < 1.0 => (c, x, 0.0),
        h if h < 2.0 => (x, c, 0.0),
        h if h < 3.0 => (0.0, c, x),
        h if h < 4.0 => (0.0, x, c),
        h if h < 5.0 => (x, 0.0, c),
        _ => (c, 0.0, x),
    };
    let m = lightness - c / 2.0;
    #[expect(
        clippy::cast_possible_truncation,
        clippy::cast_sign_loss,
        reason = "clamped to 0..=255"
    )]
    let byte = |v: f32| ((v + m) * 255.0).round().clamp(0.0, 255.0) as u8;
    [byte(r), byte(g), byte(b), 255]
}

/// Numbers drawn from SHA-256(salt, hash): each generator gets its own independent stream.
pub(crate) struct Entropy {
    bytes: [u8; 32],
    position: usize,
}

impl Entropy {
    pub(crate) fn new(salt: &[u8], hash: &avatar_proto::AvatarHash) -> Self {
        use sha2::{Digest as _, Sha256};
        let mut hasher = Sha256::new();
        hasher.update(salt);
        hasher.update(hash.as_bytes());
        Self {
            bytes: hasher.finalize().into(),
            position: 0,
        }
    }

    pub(crate) fn byte(&mut self) -> u8 {
        if self.position == 32 {
            use sha2::{Digest as _, Sha256};
            self.bytes = Sha256::digest(self.bytes).into();
            self.position = 0;
        }
        let byte = self.bytes[self.position];
        self.position += 1;
        byte
    }

    /// A number in `0..n`.
    pub(crate) fn below(&mut self, n: usize) -> usize {
        let value = u16::from_be_bytes([self.byte(), self.byte()]);
        usize::from(value) % n
    }

    /// A number in `0.0..1.0` (16 bits of resolution).
    pub(crate) fn unit(&mut self) -> f32 {
        f32::from(u16::from_be_bytes([self.byte(), self.byte()])) / 65536.0
    }

    /// A number in `from..to`.
    pub(crate) fn range(&mut self, from: f32, to: f32) -> f32 {
        from + (to - from) * self.unit()
    }

    pub(crate) fn bit(&mut self) -> bool {
        self.byte() & 1 == 1
    }
}
