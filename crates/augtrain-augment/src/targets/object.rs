//! One sample's objects through its map: mapped, clipped, filtered (see the conventions in
//! [`super`]).

use augtrain_annotations::model::{BBox, Circle, Dataset, Keypoint, Object, Point, Polygon};

use super::clip::{box_area, clip_box, clip_polygon, corners, polygon_area, uncovered_area};
use super::{EDGE_TOLERANCE, Forward, TargetOptions};
use crate::SampleParams;

/// The keypoint schemas of a data set, as the transform needs them: whether a class's
/// keypoints are indexed by a schema (they can then not be removed, only unlabelled) and its
/// `flip_index` for mirroring maps.
#[derive(Clone, Debug, Default)]
pub struct KeypointSchemas {
    /// The data-set-wide schema's flip index (`Some(empty)`: schema without flip index).
    shared: Option<Vec<u32>>,
    /// Per class: the class's own schema's flip index, if it has one.
    per_class: Vec<Option<Vec<u32>>>,
}

impl KeypointSchemas {
    /// The schemas of `d` (per class first, then the data-set-wide one).
    pub fn of(d: &Dataset) -> Self {
        KeypointSchemas {
            shared: d.meta.keypoints.as_ref().map(|s| s.flip_index.clone()),
            per_class: d
                .classes
                .iter()
                .map(|c| c.keypoints.as_ref().map(|s| s.flip_index.clone()))
                .collect(),
        }
    }

    fn schema(&self, class: usize) -> Option<&[u32]> {
        match self.per_class.get(class) {
            Some(Some(f)) => Some(f),
            _ => self.shared.as_deref(),
        }
    }
}

/// Where a sample's targets go: its forward map, the output size and its erased rectangles.
#[derive(Clone, Debug)]
pub struct Frame {
    /// Input → output map.
    pub forward: Forward,
    /// Output width, pixels.
    pub width: f64,
    /// Output height, pixels.
    pub height: f64,
    /// Erased rectangles `[x0, y0, x1, y1]` in output pixels.
    pub erased: Vec<[f64; 4]>,
}

impl Frame {
    /// The frame of `params` for an output of `width × height` pixels.
    pub fn of(params: &SampleParams, width: usize, height: usize) -> Self {
        Frame {
            forward: Forward::of(params),
            width: width as f64,
            height: height as f64,
            erased: params
                .boxes
                .iter()
                .filter(|b| b.rect[0] < b.rect[2] && b.rect[1] < b.rect[3])
                .map(|b| b.rect.map(f64::from))
                .collect(),
        }
    }

    fn inside(&self, p: Point) -> bool {
        let t = EDGE_TOLERANCE;
        (-t..=self.width + t).contains(&p.x) && (-t..=self.height + t).contains(&p.y)
    }

    fn erased_at(&self, p: Point) -> bool {
        self.erased
            .iter()
            .any(|r| r[0] <= p.x && p.x < r[2] && r[1] <= p.y && p.y < r[3])
    }

    /// Fraction of the clipped box `c` not under an erase rectangle.
    fn unerased_fraction(&self, c: &BBox) -> f64 {
        let area = box_area(c);
        if area <= 0.0 || self.erased.is_empty() {
            return 1.0;
        }
        uncovered_area(corners(c), &self.erased) / area
    }
}

/// `objects` through `frame`: every object mapped and clipped, those failing `opts`' filters
/// dropped (with their labels and keypoints), in input order.
pub fn transform_objects(
    objects: &[Object],
    frame: &Frame,
    opts: &TargetOptions,
    schemas: &KeypointSchemas,
) -> Vec<Object> {
    objects
        .iter()
        .filter_map(|o| transform_object(o, frame, opts, schemas))
        .collect()
}

/// What an object's mapped extent shows: its clipped box and visible fraction.
struct Extent {
    clipped: BBox,
    visible: f64,
}

fn transform_object(
    o: &Object,
    frame: &Frame,
    opts: &TargetOptions,
    schemas: &KeypointSchemas,
) -> Option<Object> {
    let f = &frame.forward;
    let mut out = o.clone();
    out.area = None;
    let mut extent = None;
    if !o.polygons.is_empty() {
        let (polygons, e) = map_polygons(&o.polygons, frame)?;
        out.polygons = polygons;
        extent = Some(e);
    }
    if let Some(o_box) = &o.oriented {
        let mapped = f.oriented(o_box);
        out.oriented = Some(Box::new(mapped));
        if extent.is_none() {
            extent = Some(polygon_extent(&mapped.corners(), frame));
        }
    }
    if let Some(b) = &o.bbox {
        let mapped = f.bbox(b, opts.box_rotation);
        let clipped = clip_box(&mapped, frame.width, frame.height);
        out.bbox = Some(clipped);
        let full = box_area(&mapped);
        let visible = if full > 0.0 {
            box_area(&clipped) / full * frame.unerased_fraction(&clipped)
        } else {
            // A degenerate box is visible when it touches the image.
            f64::from(u8::from(frame.inside(Point {
                x: mapped.x,
                y: mapped.y,
            })))
        };
        extent = Some(Extent { clipped, visible });
    }
    if let Some(e) = &extent
        && !keeps(e, opts)
    {
        return None;
    }
    out.polyline = o
        .polyline
        .as_ref()
        .map(|l| l.iter().map(|p| f.point(*p)).collect());
    out.circle = o.circle.as_deref().map(|c| {
        Box::new(Circle {
            centre: f.point(c.centre),
            radius: f.radius(c.radius),
        })
    });
    out.keypoints = map_keypoints(o, frame, opts, schemas);
    Some(out)
}

/// Whether an object with this extent passes the filters (an object wholly hidden never does).
fn keeps(e: &Extent, opts: &TargetOptions) -> bool {
    let shorter = e.clipped.width.min(e.clipped.height);
    e.visible > 0.0
        && e.visible >= opts.min_visibility
        && box_area(&e.clipped) >= opts.min_area
        && shorter >= opts.min_size
}

/// Polygons mapped and cut to the image (parts left with no area are removed), with their
/// extent; `None` when nothing is left.
fn map_polygons(polygons: &[Polygon], frame: &Frame) -> Option<(Vec<Polygon>, Extent)> {
    let (mut full, mut kept) = (0.0, 0.0);
    let mut out = Vec::with_capacity(polygons.len());
    for p in polygons {
        let mapped: Vec<Point> = p.points.iter().map(|q| frame.forward.point(*q)).collect();
        full += polygon_area(&mapped);
        let cut = clip_polygon(&mapped, frame.width, frame.height);
        let area = polygon_area(&cut);
        if area > 0.0 {
            kept += area;
            out.push(Polygon { points: cut });
        }
    }
    let clipped = BBox::enclosing(out.iter().flat_map(|p| p.points.iter().copied()))?;
    let visible = if full > 0.0 { kept / full } else { 0.0 };
    let visible = visible * frame.unerased_fraction(&clipped);
    Some((out, Extent { clipped, visible }))
}

/// The extent of a closed shape given by its mapped corners (oriented boxes).
fn polygon_extent(points: &[Point], frame: &Frame) -> Extent {
    let full = polygon_area(points);
    let cut = clip_polygon(points, frame.width, frame.height);
    let clipped = BBox::enclosing(cut.iter().copied()).unwrap_or_default();
    let visible = if full > 0.0 {
        polygon_area(&cut) / full * frame.unerased_fraction(&clipped)
    } else {
        0.0
    };
    Extent { clipped, visible }
}

/// Keypoints mapped, swapped left/right under a mirroring map (when the schema has a complete
/// flip index), and marked: outside the image → visibility 0 (or removed / unlabelled with
/// `drop_outside_keypoints`), under an erase rectangle → visibility 1.
fn map_keypoints(
    o: &Object,
    frame: &Frame,
    opts: &TargetOptions,
    schemas: &KeypointSchemas,
) -> Vec<Keypoint> {
    let schema = schemas.schema(o.class);
    let mut kps: Vec<Keypoint> = o
        .keypoints
        .iter()
        .map(|k| {
            let p = frame.forward.point(Point { x: k.x, y: k.y });
            Keypoint {
                x: p.x,
                y: p.y,
                ..*k
            }
        })
        .collect();
    if frame.forward.mirrors()
        && let Some(flip) = schema
        && flip.len() == kps.len()
        && flip.iter().all(|&i| (i as usize) < kps.len())
    {
        kps = (0..kps.len()).map(|i| kps[flip[i] as usize]).collect();
    }
    let mut out = Vec::with_capacity(kps.len());
    for mut k in kps {
        let p = Point { x: k.x, y: k.y };
        if !frame.inside(p) {
            if opts.drop_outside_keypoints {
                if schema.is_none() {
                    continue;
                }
                k = Keypoint::default();
            } else {
                k.visibility = 0;
            }
        } else if k.visibility == 2 && frame.erased_at(p) {
            k.visibility = 1;
        }
        out.push(k);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn frame(m: [f64; 6], w: f64, h: f64) -> Frame {
        Frame {
            forward: Forward::new(m),
            width: w,
            height: h,
            erased: Vec::new(),
        }
    }

    fn boxed(x0: f64, y0: f64, x1: f64, y1: f64) -> Object {
        Object {
            bbox: Some(BBox::from_corners(x0, y0, x1, y1)),
            ..Object::default()
        }
    }

    const SHIFT_LEFT_10: [f64; 6] = [1.0, 0.0, -10.0, 0.0, 1.0, 0.0];

    #[test]
    fn visibility_and_size_filters_drop_objects() {
        let f = frame(SHIFT_LEFT_10, 100.0, 100.0);
        // 20 wide, 10 of it left of the image after the shift: 50 % visible.
        let half = boxed(0.0, 0.0, 20.0, 10.0);
        let whole = boxed(50.0, 50.0, 60.0, 60.0);
        let gone = boxed(0.0, 0.0, 5.0, 5.0);
        let objs = [half.clone(), whole.clone(), gone];
        let keep = |opts: &TargetOptions| transform_objects(&objs, &f, opts, &Default::default());
        let all = keep(&TargetOptions::default());
        assert_eq!(all.len(), 2, "wholly hidden objects are always dropped");
        assert_eq!(all[0].bbox, Some(BBox::from_corners(0.0, 0.0, 10.0, 10.0)));
        let strict = TargetOptions {
            min_visibility: 0.6,
            ..Default::default()
        };
        assert_eq!(keep(&strict).len(), 1);
        let big = TargetOptions {
            min_area: 101.0,
            ..Default::default()
        };
        assert_eq!(keep(&big).len(), 0);
        let wide = TargetOptions {
            min_size: 10.0,
            ..Default::default()
        };
        assert_eq!(keep(&wide).len(), 2);
    }

    #[test]
    fn erasing_reduces_visibility() {
        let mut f = frame([1.0, 0.0, 0.0, 0.0, 1.0, 0.0], 100.0, 100.0);
        f.erased = vec![[0.0, 0.0, 15.0, 10.0]];
        let o = boxed(0.0, 0.0, 20.0, 10.0);
        let opts = TargetOptions {
            min_visibility: 0.3,
            ..Default::default()
        };
        assert!(
            transform_objects(std::slice::from_ref(&o), &f, &opts, &Default::default()).is_empty()
        );
        let opts = TargetOptions {
            min_visibility: 0.25,
            ..Default::default()
        };
        assert_eq!(
            transform_objects(&[o], &f, &opts, &Default::default()).len(),
            1
        );
    }

    #[test]
    fn keypoints_outside_are_kept_invisible_or_dropped() {
        let f = frame(SHIFT_LEFT_10, 100.0, 100.0);
        let o = Object {
            keypoints: vec![
                Keypoint {
                    x: 5.0,
                    y: 5.0,
                    visibility: 2,
                },
                Keypoint {
                    x: 50.0,
                    y: 5.0,
                    visibility: 2,
                },
            ],
            ..Object::default()
        };
        let kept = transform_objects(
            std::slice::from_ref(&o),
            &f,
            &Default::default(),
            &Default::default(),
        );
        assert_eq!(kept[0].keypoints.len(), 2);
        assert_eq!(kept[0].keypoints[0].visibility, 0);
        assert_eq!(
            (kept[0].keypoints[0].x, kept[0].keypoints[1].visibility),
            (-5.0, 2)
        );
        let opts = TargetOptions {
            drop_outside_keypoints: true,
            ..Default::default()
        };
        let dropped = transform_objects(&[o], &f, &opts, &Default::default());
        assert_eq!(dropped[0].keypoints.len(), 1);
        assert_eq!(dropped[0].keypoints[0].x, 40.0);
    }

    #[test]
    fn mirroring_swaps_left_and_right_keypoints() {
        let mut d = Dataset::default();
        d.meta.keypoints = Some(augtrain_annotations::model::KeypointSchema {
            names: vec!["nose".into(), "left_eye".into(), "right_eye".into()],
            skeleton: Vec::new(),
            flip_index: vec![0, 2, 1],
        });
        let schemas = KeypointSchemas::of(&d);
        let hflip = frame([-1.0, 0.0, 10.0, 0.0, 1.0, 0.0], 10.0, 10.0);
        let o = Object {
            keypoints: vec![
                Keypoint {
                    x: 5.0,
                    y: 1.0,
                    visibility: 2,
                },
                Keypoint {
                    x: 3.0,
                    y: 2.0,
                    visibility: 2,
                },
                Keypoint {
                    x: 7.0,
                    y: 2.0,
                    visibility: 1,
                },
            ],
            ..Object::default()
        };
        let out = transform_objects(&[o], &hflip, &Default::default(), &schemas);
        let k = &out[0].keypoints;
        // The left eye (index 1) is now the flipped right eye: x = 10 − 7.
        assert_eq!((k[1].x, k[1].visibility), (3.0, 1));
        assert_eq!((k[2].x, k[2].visibility), (7.0, 2));
        assert_eq!(k[0].x, 5.0);
    }

    #[test]
    fn polygons_are_clipped_and_vanish_outside() {
        let f = frame(SHIFT_LEFT_10, 100.0, 100.0);
        let tri = |x: f64| Polygon {
            points: vec![
                Point { x, y: 0.0 },
                Point {
                    x: x + 10.0,
                    y: 0.0,
                },
                Point { x, y: 10.0 },
            ],
        };
        let o = Object {
            polygons: vec![tri(0.0), tri(30.0)],
            ..Object::default()
        };
        let out = transform_objects(&[o], &f, &Default::default(), &Default::default());
        assert_eq!(out[0].polygons.len(), 1);
        assert_eq!(out[0].polygons[0].points[0], Point { x: 20.0, y: 0.0 });
    }
}
