//! The forward map of a sample (input → output, continuous pixels) and what it does to points,
//! boxes and oriented boxes.

use augtrain_annotations::model::{BBox, OrientedBox, Point};

use super::BoxRotation;
use crate::SampleParams;
use crate::params::{Affine, invert};

/// A sample's forward map `x' = a·x + b·y + c`, `y' = d·x + e·y + f` from input to output
/// pixels (continuous coordinates, pixel centres at +0.5): the inverse of
/// [`SampleParams::affine`].
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Forward {
    /// `[a, b, c, d, e, f]`.
    pub m: Affine,
}

impl Forward {
    /// The forward map of `params` (the inverse of its output → input map).
    pub fn of(params: &SampleParams) -> Self {
        Forward {
            m: invert(&params.affine),
        }
    }

    /// The map given in forward form.
    pub fn new(m: Affine) -> Self {
        Forward { m }
    }

    /// Where the input point `p` lands in the output.
    pub fn point(&self, p: Point) -> Point {
        let m = &self.m;
        Point {
            x: m[0] * p.x + m[1] * p.y + m[2],
            y: m[3] * p.x + m[4] * p.y + m[5],
        }
    }

    /// The linear part applied to a vector (no translation).
    fn vector(&self, x: f64, y: f64) -> (f64, f64) {
        let m = &self.m;
        (m[0] * x + m[1] * y, m[3] * x + m[4] * y)
    }

    /// Determinant of the linear part: the area scale, negative when the map mirrors.
    pub fn det(&self) -> f64 {
        self.m[0] * self.m[4] - self.m[1] * self.m[3]
    }

    /// Whether the map mirrors the image (an odd number of flips): left and right swap.
    pub fn mirrors(&self) -> bool {
        self.det() < 0.0
    }

    /// The axis-aligned box that `b` becomes (not clipped).
    pub fn bbox(&self, b: &BBox, how: BoxRotation) -> BBox {
        match how {
            BoxRotation::Corners => {
                let corners = [
                    (b.x, b.y),
                    (b.x_max(), b.y),
                    (b.x, b.y_max()),
                    (b.x_max(), b.y_max()),
                ];
                BBox::enclosing(corners.map(|(x, y)| self.point(Point { x, y })))
                    .unwrap_or_default()
            }
            BoxRotation::Ellipse => {
                // The ellipse with semi-axes a, b along x, y maps to one whose bounding
                // half-extents are |(m0·a, m1·b)| and |(m3·a, m4·b)|.
                let (a, bb) = (b.width / 2.0, b.height / 2.0);
                let c = self.point(Point {
                    x: b.x + a,
                    y: b.y + bb,
                });
                let m = &self.m;
                let hx = (m[0] * a).hypot(m[1] * bb);
                let hy = (m[3] * a).hypot(m[4] * bb);
                BBox::from_corners(c.x - hx, c.y - hy, c.x + hx, c.y + hy)
            }
        }
    }

    /// The oriented box that `o` becomes: exact when the map keeps right angles, else the
    /// smaller of the two rectangles aligned with a mapped side that hold the mapped
    /// parallelogram. The angle is in (−180°, 180°], clockwise on screen.
    pub fn oriented(&self, o: &OrientedBox) -> OrientedBox {
        let (s, c) = o.angle_deg.to_radians().sin_cos();
        let u = self.vector(c * o.width, s * o.width);
        let v = self.vector(-s * o.height, c * o.height);
        let centre = self.point(Point { x: o.cx, y: o.cy });
        let (lu, lv) = (u.0.hypot(u.1), v.0.hypot(v.1));
        let extent = |d: (f64, f64), n: (f64, f64)| {
            let along = (u.0 * d.0 + u.1 * d.1).abs() + (v.0 * d.0 + v.1 * d.1).abs();
            let across = (u.0 * n.0 + u.1 * n.1).abs() + (v.0 * n.0 + v.1 * n.1).abs();
            (along, across)
        };
        let unit = |w: (f64, f64), l: f64| {
            if l > 0.0 {
                (w.0 / l, w.1 / l)
            } else {
                (1.0, 0.0)
            }
        };
        let (du, dv) = (unit(u, lu), unit(v, lv));
        let (wu, hu) = extent(du, (-du.1, du.0));
        let (wv, hv) = extent(dv, (-dv.1, dv.0));
        // Along u the box is (width, height); along v its sides swap roles.
        let (d, width, height) = if wu * hu <= wv * hv + 1e-12 * (wu * hu).abs() || lv == 0.0 {
            (du, wu, hu)
        } else {
            ((-dv.1, dv.0), hv, wv)
        };
        OrientedBox {
            cx: centre.x,
            cy: centre.y,
            width,
            height,
            angle_deg: d.1.atan2(d.0).to_degrees(),
        }
    }

    /// The radius a circle of radius `r` gets (exact for maps that keep right angles and
    /// scale both axes alike).
    pub fn radius(&self, r: f64) -> f64 {
        r * self.det().abs().sqrt()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::params::rotation_inverse;

    fn close(a: f64, b: f64) -> bool {
        (a - b).abs() < 1e-9
    }

    #[test]
    fn hflip_sends_x_to_w_minus_x() {
        let f = Forward::new(invert(&[-1.0, 0.0, 10.0, 0.0, 1.0, 0.0]));
        let p = f.point(Point { x: 2.5, y: 3.0 });
        assert!(close(p.x, 7.5) && close(p.y, 3.0), "{p:?}");
        assert!(f.mirrors());
        let b = f.bbox(
            &BBox::from_corners(1.0, 2.0, 4.0, 5.0),
            BoxRotation::Corners,
        );
        assert!(
            close(b.x, 6.0) && close(b.x_max(), 9.0) && close(b.y, 2.0),
            "{b:?}"
        );
    }

    #[test]
    fn ellipse_box_of_a_45_degree_rotation() {
        // A 20 × 20 box centred on the image: its corners sweep out ±10√2, the inscribed
        // circle stays a circle of radius 10.
        let f = Forward::new(invert(&rotation_inverse(45.0, 40.0, 40.0)));
        let b = BBox::from_corners(10.0, 10.0, 30.0, 30.0);
        let corners = f.bbox(&b, BoxRotation::Corners);
        let h = 10.0 * 2f64.sqrt();
        assert!(close(corners.x, 20.0 - h) && close(corners.x_max(), 20.0 + h));
        assert!(close(corners.y, 20.0 - h) && close(corners.y_max(), 20.0 + h));
        let ellipse = f.bbox(&b, BoxRotation::Ellipse);
        assert!(
            close(ellipse.x, 10.0) && close(ellipse.x_max(), 30.0),
            "{ellipse:?}"
        );
        assert!(
            close(ellipse.y, 10.0) && close(ellipse.y_max(), 30.0),
            "{ellipse:?}"
        );
        // A 40 × 20 box: ellipse half-extents √(400/2 + 100/2) = √250 on both axes.
        let wide = f.bbox(
            &BBox::from_corners(0.0, 10.0, 40.0, 30.0),
            BoxRotation::Ellipse,
        );
        assert!(close(wide.width, 2.0 * 250f64.sqrt()), "{wide:?}");
        assert!(close(wide.height, 2.0 * 250f64.sqrt()), "{wide:?}");
    }

    #[test]
    fn oriented_boxes_rotate_exactly() {
        // Counter-clockwise on screen by 30° turns a box's axes by −30° (angles are clockwise).
        let f = Forward::new(invert(&rotation_inverse(30.0, 100.0, 100.0)));
        let o = OrientedBox {
            cx: 60.0,
            cy: 50.0,
            width: 20.0,
            height: 8.0,
            angle_deg: 10.0,
        };
        let r = f.oriented(&o);
        assert!(close(r.width, 20.0) && close(r.height, 8.0), "{r:?}");
        assert!(close(r.angle_deg, -20.0), "{r:?}");
        let c = f.point(Point { x: 60.0, y: 50.0 });
        assert!(close(r.cx, c.x) && close(r.cy, c.y));
        // Every mapped corner is a corner of the result.
        let want: Vec<Point> = o.corners().iter().map(|p| f.point(*p)).collect();
        for p in r.corners() {
            assert!(
                want.iter().any(|q| close(p.x, q.x) && close(p.y, q.y)),
                "{p:?}"
            );
        }
    }

    #[test]
    fn oriented_boxes_under_shear_hold_the_parallelogram() {
        let f = Forward::new([1.0, 0.5, 0.0, 0.0, 1.0, 0.0]);
        let o = OrientedBox {
            cx: 10.0,
            cy: 10.0,
            width: 4.0,
            height: 2.0,
            angle_deg: 0.0,
        };
        let r = f.oriented(&o);
        // Along x (the mapped width side): 4 + 0.5·2 = 5 wide, 2 high.
        assert!(
            close(r.width, 5.0) && close(r.height, 2.0) && close(r.angle_deg, 0.0),
            "{r:?}"
        );
    }

    #[test]
    fn circles_scale_with_the_map() {
        let f = Forward::new([2.0, 0.0, 0.0, 0.0, 2.0, 0.0]);
        assert!(close(f.radius(3.0), 6.0));
    }
}
