//! Objects as single-geometry shapes, for the formats that draw one geometry per element
//! (LabelMe, Label Studio, CVAT), and back: an object with several geometries becomes several
//! shapes tied by a group id, and shapes with the same group id and class become one object.

use std::collections::HashMap;

use crate::loss::Losses;
use crate::model::{BBox, Circle, Keypoint, Mask, Object, OrientedBox, Point, Polygon};

/// One geometry of an object.
#[derive(Debug, Clone, PartialEq)]
pub enum Shape<'a> {
    /// Axis-aligned box.
    Box(BBox),
    /// Rotated box.
    Oriented(OrientedBox),
    /// One closed polygon.
    Polygon(&'a Polygon),
    /// Open polyline.
    Polyline(&'a [Point]),
    /// Labelled keypoints (visibility > 0).
    Points(Vec<Keypoint>),
    /// Circle.
    Circle(Circle),
    /// Mask.
    Mask(&'a Mask),
}

/// The shapes that draw `o`: its polygons, else its mask, else its oriented box, else its box;
/// plus its polyline, circle and labelled keypoints. A box is left out beside polygons or a
/// mask (it is their extent in every source that has both); one that differs from the
/// extent is counted as a loss. Unlabelled keypoints (visibility 0) are counted as lost.
pub fn shapes_of<'a>(o: &'a Object, losses: &mut Losses) -> Vec<Shape<'a>> {
    let mut shapes = Vec::new();
    if !o.polygons.is_empty() {
        shapes.extend(o.polygons.iter().map(Shape::Polygon));
        losses.add_if(
            o.mask.is_some(),
            "masks of objects that also have polygons (not written)",
        );
    } else if let Some(m) = &o.mask {
        shapes.push(Shape::Mask(m));
    }
    let drawn = !shapes.is_empty();
    if let Some(ob) = o.oriented.as_deref().copied() {
        shapes.push(Shape::Oriented(ob));
    } else if let Some(b) = o.bbox {
        if !drawn {
            shapes.push(Shape::Box(b));
        } else if o.polygons.is_empty() {
            losses.add("boxes of masked objects (not written; the mask's extent stands for them)");
        } else if !o.polygons.is_empty()
            && !same_box(
                Some(b),
                BBox::enclosing(o.polygons.iter().flat_map(|p| p.points.iter().copied())),
            )
        {
            losses.add("boxes that differ from their polygons' extent (not written)");
        }
    }
    if let Some(line) = &o.polyline {
        shapes.push(Shape::Polyline(line));
    }
    if let Some(c) = o.circle.as_deref().copied() {
        shapes.push(Shape::Circle(c));
    }
    let labelled: Vec<Keypoint> = o
        .keypoints
        .iter()
        .copied()
        .filter(|k| k.visibility > 0)
        .collect();
    losses.add_n(
        "unlabelled keypoints (visibility 0: not written)",
        o.keypoints.len() - labelled.len(),
    );
    if !labelled.is_empty() {
        shapes.push(Shape::Points(labelled));
    }
    shapes
}

fn same_box(a: Option<BBox>, b: Option<BBox>) -> bool {
    match (a, b) {
        (Some(a), Some(b)) => {
            let close = |x: f64, y: f64| (x - y).abs() <= 1e-9 * x.abs().max(y.abs()).max(1.0);
            close(a.x, b.x)
                && close(a.y, b.y)
                && close(a.x_max(), b.x_max())
                && close(a.y_max(), b.y_max())
        }
        _ => false,
    }
}

/// Move the geometry of `from` into `into` when it fits (polygons and keypoints add up; a box,
/// oriented box, mask, polyline or circle only where `into` has none; attributes add up unless
/// one name has two values). `Some(from)` back when it does not fit, so the caller keeps it as
/// its own object.
pub fn absorb(into: &mut Object, from: Object) -> Option<Object> {
    let clash = (into.bbox.is_some() && from.bbox.is_some())
        || (into.oriented.is_some() && from.oriented.is_some())
        || (into.mask.is_some() && from.mask.is_some())
        || (into.polyline.is_some() && from.polyline.is_some())
        || (into.circle.is_some() && from.circle.is_some())
        || from.attributes.iter().any(|a| {
            into.attributes
                .iter()
                .any(|b| b.name == a.name && b.value != a.value)
        });
    if clash || into.class != from.class {
        return Some(from);
    }
    into.bbox = into.bbox.or(from.bbox);
    into.oriented = into.oriented.take().or(from.oriented);
    into.mask = into.mask.take().or(from.mask);
    into.polyline = into.polyline.take().or(from.polyline);
    into.circle = into.circle.take().or(from.circle);
    into.polygons.extend(from.polygons);
    into.keypoints.extend(from.keypoints);
    for a in from.attributes {
        if !into.attributes.contains(&a) {
            into.attributes.push(a);
        }
    }
    None
}

/// One object per group: items with the same group id (and class) are merged with
/// [`absorb`]; items without a group id stay alone. Order follows each group's first item.
pub fn merge_groups(items: Vec<(Option<i64>, Object)>) -> Vec<Object> {
    let mut out: Vec<Object> = Vec::with_capacity(items.len());
    let mut slot: HashMap<(i64, usize), usize> = HashMap::new();
    for (group, o) in items {
        let Some(g) = group else {
            out.push(o);
            continue;
        };
        match slot.get(&(g, o.class)) {
            Some(&i) => {
                if let Some(o) = absorb(&mut out[i], o) {
                    out.push(o);
                }
            }
            None => {
                slot.insert((g, o.class), out.len());
                out.push(o);
            }
        }
    }
    out.shrink_to_fit();
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn poly(x: f64) -> Polygon {
        Polygon {
            points: vec![
                Point { x, y: 0.0 },
                Point { x: x + 1.0, y: 0.0 },
                Point { x, y: 1.0 },
            ],
        }
    }

    #[test]
    fn a_coco_object_becomes_its_polygons_and_back() {
        let mut o = Object::of_class(2);
        o.polygons = vec![poly(0.0), poly(5.0)];
        o.bbox = Some(BBox {
            x: 0.0,
            y: 0.0,
            width: 6.0,
            height: 1.0,
        });
        o.keypoints = vec![
            Keypoint {
                x: 1.0,
                y: 1.0,
                visibility: 2,
            },
            Keypoint::default(),
        ];
        let mut losses = Losses::default();
        let shapes = shapes_of(&o, &mut losses);
        assert_eq!(shapes.len(), 3, "{shapes:?}");
        assert_eq!(losses.iter().count(), 1, "{losses}");
        let parts = vec![
            (
                Some(7),
                Object {
                    polygons: vec![poly(0.0)],
                    ..Object::of_class(2)
                },
            ),
            (None, Object::of_class(2)),
            (
                Some(7),
                Object {
                    polygons: vec![poly(5.0)],
                    ..Object::of_class(2)
                },
            ),
            (
                Some(7),
                Object {
                    polygons: vec![poly(9.0)],
                    ..Object::of_class(3)
                },
            ),
        ];
        let merged = merge_groups(parts);
        assert_eq!(merged.len(), 3);
        assert_eq!(merged[0].polygons.len(), 2);
    }

    #[test]
    fn a_box_differing_from_its_polygon_is_a_counted_loss() {
        let mut o = Object::of_class(0);
        o.polygons = vec![poly(0.0)];
        o.bbox = Some(BBox {
            x: 0.0,
            y: 0.0,
            width: 9.0,
            height: 1.0,
        });
        let mut losses = Losses::default();
        shapes_of(&o, &mut losses);
        assert_eq!(
            losses.count("boxes that differ from their polygons' extent (not written)"),
            1
        );
    }
}
