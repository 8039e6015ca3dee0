//! The shapes the generators draw, each a signed distance (negative inside) in unit
//! coordinates (0..1 across the image), with short constructors so a drawing reads as a list of
//! shapes: `circle(0.5, 0.4, 0.19)`.

/// A region given by its signed distance (negative inside), in unit coordinates. Shapes are
/// small values, painted by value.
pub(crate) trait Shape: Copy {
    /// Signed distance from `(x, y)` to the edge; negative inside.
    fn distance(&self, x: f32, y: f32) -> f32;
    /// `(x0, y0, x1, y1)` containing the shape.
    fn bounds(&self) -> (f32, f32, f32, f32);
    /// A span `(x0, x1)` of the row at height `y` whose points all lie at least `depth` inside
    /// the edge, so a painter can fill it without asking each pixel's distance; `None` when
    /// none is known. Any span truly that deep is right; a shorter one is only slower.
    fn inside(&self, _y: f32, _depth: f32) -> Option<(f32, f32)> {
        None
    }
}

/// A point in unit coordinates.
pub(crate) type Point = (f32, f32);

/// A circle centred at `(x, y)`.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Circle {
    x: f32,
    y: f32,
    r: f32,
}

/// A circle of radius `r` centred at `(x, y)`.
pub(crate) const fn circle(x: f32, y: f32, r: f32) -> Circle {
    Circle { x, y, r }
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
    fn inside(&self, y: f32, depth: f32) -> Option<(f32, f32)> {
        let (r, dy) = (self.r - depth, y - self.y);
        (dy.abs() < r).then(|| {
            let half = (r * r - dy * dy).sqrt();
            (self.x - half, self.x + half)
        })
    }
}

/// An axis-aligned ellipse (distance approximated by scaling, exact enough for one pixel of
/// anti-aliasing at the sizes drawn).
#[derive(Debug, Clone, Copy)]
pub(crate) struct Ellipse {
    x: f32,
    y: f32,
    rx: f32,
    ry: f32,
}

/// An ellipse centred at `(x, y)` with radii `rx` across and `ry` down.
pub(crate) const fn ellipse(x: f32, y: f32, rx: f32, ry: f32) -> Ellipse {
    Ellipse { x, y, rx, ry }
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

/// A rectangle with rounded corners.
#[derive(Debug, Clone, Copy)]
pub(crate) struct RoundedRect {
    x: f32,
    y: f32,
    hw: f32,
    hh: f32,
    radius: f32,
}

/// A rectangle centred at `(x, y)` with half-width `hw`, half-height `hh` and corners rounded
/// by `radius` (at most the smaller half-side).
pub(crate) const fn rounded_rect(x: f32, y: f32, hw: f32, hh: f32, radius: f32) -> RoundedRect {
    RoundedRect {
        x,
        y,
        hw,
        hh,
        radius,
    }
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

/// A segment with round ends: a limb, a bar, a brow.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Capsule {
    a: Point,
    b: Point,
    r: f32,
}

/// A segment from `a` to `b` with round ends, `r` thick on each side.
pub(crate) const fn capsule(a: Point, b: Point, r: f32) -> Capsule {
    Capsule { a, b, r }
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

/// A convex polygon of `N` corners, in either winding.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Polygon<const N: usize> {
    points: [Point; N],
}

/// The triangle `a`, `b`, `c`.
pub(crate) const fn triangle(a: Point, b: Point, c: Point) -> Polygon<3> {
    Polygon { points: [a, b, c] }
}

impl<const N: usize> Shape for Polygon<N> {
    fn distance(&self, x: f32, y: f32) -> f32 {
        let area: f32 = (0..N)
            .map(|i| {
                let (a, b) = (self.points[i], self.points[(i + 1) % N]);
                a.0 * b.1 - b.0 * a.1
            })
            .sum();
        let winding = if area >= 0.0 { 1.0 } else { -1.0 };
        (0..N)
            .map(|i| {
                let (a, b) = (self.points[i], self.points[(i + 1) % N]);
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

/// The lower half of a ring: a smile.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Smile {
    x: f32,
    y: f32,
    r: f32,
    thickness: f32,
}

/// The lower half of a ring centred at `(x, y)`, radius `r`, `thickness` on each side.
pub(crate) const fn smile(x: f32, y: f32, r: f32, thickness: f32) -> Smile {
    Smile { x, y, r, thickness }
}

impl Shape for Smile {
    fn distance(&self, x: f32, y: f32) -> f32 {
        let ring = ((x - self.x).hypot(y - self.y) - self.r).abs() - self.thickness;
        ring.max(self.y - y)
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
