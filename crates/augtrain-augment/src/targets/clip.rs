//! Clipping to the output image and the areas visibility is computed from.

use augtrain_annotations::model::{BBox, Point};

/// `b` clamped to `[0, w] × [0, h]` (a box wholly outside becomes an empty box on the edge).
/// Round-off never makes this fail: a box at 1.0025 of the image is simply cut back.
pub fn clip_box(b: &BBox, w: f64, h: f64) -> BBox {
    let (x0, x1) = (b.x.min(b.x_max()), b.x.max(b.x_max()));
    let (y0, y1) = (b.y.min(b.y_max()), b.y.max(b.y_max()));
    BBox::from_corners(clamp(x0, w), clamp(y0, h), clamp(x1, w), clamp(y1, h))
}

/// `v` in `[0, hi]` (NaN stays NaN; hostile values are refused when annotations are read).
fn clamp(v: f64, hi: f64) -> f64 {
    v.max(0.0).min(hi)
}

/// Area of a box, 0 for empty or inverted ones.
pub fn box_area(b: &BBox) -> f64 {
    b.width.max(0.0) * b.height.max(0.0)
}

/// Area of the intersection of boxes `[x0, y0, x1, y1]`.
pub fn intersection(a: [f64; 4], b: [f64; 4]) -> f64 {
    let w = a[2].min(b[2]) - a[0].max(b[0]);
    let h = a[3].min(b[3]) - a[1].max(b[1]);
    w.max(0.0) * h.max(0.0)
}

/// The corners `[x0, y0, x1, y1]` of a box.
pub fn corners(b: &BBox) -> [f64; 4] {
    [b.x, b.y, b.x_max(), b.y_max()]
}

/// The part of the closed polygon `points` inside `[0, w] × [0, h]` (Sutherland–Hodgman; a
/// convex clip window, so the result is one polygon, possibly with fewer than 3 points when
/// nothing is left).
pub fn clip_polygon(points: &[Point], w: f64, h: f64) -> Vec<Point> {
    // Each edge: inside test and the intersection with the boundary line.
    type Inside = fn(&Point, f64) -> bool;
    let edges: [(Inside, f64, bool); 4] = [
        (|p, _| p.x >= 0.0, 0.0, true),
        (|p, w| p.x <= w, w, true),
        (|p, _| p.y >= 0.0, 0.0, false),
        (|p, h| p.y <= h, h, false),
    ];
    let mut poly = points.to_vec();
    for (inside, at, vertical) in edges {
        let limit = if vertical { w } else { h };
        if poly.is_empty() {
            break;
        }
        let mut out = Vec::with_capacity(poly.len() + 4);
        for k in 0..poly.len() {
            let (p, q) = (poly[k], poly[(k + 1) % poly.len()]);
            let (pin, qin) = (inside(&p, limit), inside(&q, limit));
            if pin {
                out.push(p);
            }
            if pin != qin {
                out.push(crossing(p, q, at, vertical));
            }
        }
        poly = out;
    }
    poly
}

/// Where segment `p–q` crosses the line `x = at` (`vertical`) or `y = at`.
fn crossing(p: Point, q: Point, at: f64, vertical: bool) -> Point {
    if vertical {
        let t = (at - p.x) / (q.x - p.x);
        Point {
            x: at,
            y: p.y + t * (q.y - p.y),
        }
    } else {
        let t = (at - p.y) / (q.y - p.y);
        Point {
            x: p.x + t * (q.x - p.x),
            y: at,
        }
    }
}

/// Area enclosed by a closed polygon (shoelace formula, absolute value).
pub fn polygon_area(points: &[Point]) -> f64 {
    let n = points.len();
    if n < 3 {
        return 0.0;
    }
    let twice: f64 = (0..n)
        .map(|k| {
            let (p, q) = (points[k], points[(k + 1) % n]);
            p.x * q.y - q.x * p.y
        })
        .sum();
    twice.abs() / 2.0
}

/// Area of `rect` (`[x0, y0, x1, y1]`) not covered by any of `holes` (same form), exact:
/// the plane is cut along every edge and each cell counted once.
pub fn uncovered_area(rect: [f64; 4], holes: &[[f64; 4]]) -> f64 {
    let full = intersection(rect, rect);
    let holes: Vec<[f64; 4]> = holes
        .iter()
        .filter(|h| intersection(rect, **h) > 0.0)
        .copied()
        .collect();
    if holes.is_empty() {
        return full;
    }
    let cuts = |lo: usize, hi: usize| {
        let mut v: Vec<f64> = vec![rect[lo], rect[hi]];
        for h in &holes {
            v.push(h[lo].clamp(rect[lo], rect[hi]));
            v.push(h[hi].clamp(rect[lo], rect[hi]));
        }
        v.sort_by(f64::total_cmp);
        v.dedup();
        v
    };
    let (xs, ys) = (cuts(0, 2), cuts(1, 3));
    let mut covered = 0.0;
    for i in 0..xs.len() - 1 {
        for j in 0..ys.len() - 1 {
            let (cx, cy) = ((xs[i] + xs[i + 1]) / 2.0, (ys[j] + ys[j + 1]) / 2.0);
            if holes
                .iter()
                .any(|h| h[0] <= cx && cx < h[2] && h[1] <= cy && cy < h[3])
            {
                covered += (xs[i + 1] - xs[i]) * (ys[j + 1] - ys[j]);
            }
        }
    }
    (full - covered).max(0.0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn boxes_a_little_outside_are_clipped_not_refused() {
        // 1.0025 of a 400-pixel image, as normalized round trips produce.
        let b = BBox::from_corners(-0.5, 10.0, 401.0, 400.0 * 1.0025);
        let c = clip_box(&b, 400.0, 400.0);
        assert_eq!((c.x, c.y, c.x_max(), c.y_max()), (0.0, 10.0, 400.0, 400.0));
        let gone = clip_box(
            &BBox::from_corners(500.0, 500.0, 600.0, 600.0),
            400.0,
            400.0,
        );
        assert_eq!(box_area(&gone), 0.0);
    }

    #[test]
    fn polygons_are_cut_to_the_image() {
        let square = [
            Point { x: -5.0, y: -5.0 },
            Point { x: 5.0, y: -5.0 },
            Point { x: 5.0, y: 5.0 },
            Point { x: -5.0, y: 5.0 },
        ];
        let c = clip_polygon(&square, 10.0, 10.0);
        assert!((polygon_area(&c) - 25.0).abs() < 1e-12, "{c:?}");
        let outside = clip_polygon(&square.map(|p| Point { x: p.x - 20.0, ..p }), 10.0, 10.0);
        assert!(polygon_area(&outside) == 0.0);
    }

    #[test]
    fn erased_area_counts_overlaps_once() {
        let rect = [0.0, 0.0, 10.0, 10.0];
        let holes = [
            [0.0, 0.0, 5.0, 10.0],
            [2.0, 0.0, 7.0, 10.0],
            [20.0, 20.0, 30.0, 30.0],
        ];
        assert!((uncovered_area(rect, &holes) - 30.0).abs() < 1e-12);
        assert_eq!(uncovered_area(rect, &[]), 100.0);
        assert_eq!(uncovered_area(rect, &[[-1.0, -1.0, 11.0, 11.0]]), 0.0);
    }
}
