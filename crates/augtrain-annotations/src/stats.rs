//! What `inspect` reports about an annotated data set: objects per class and per image, box
//! size distribution, images without objects, and which geometries and annotators occur.

use serde::Serialize;

use crate::model::{Dataset, Origin};

/// COCO's size bins: a box is small below 32² pixels² of area, large from 96².
pub const SMALL_AREA: f64 = 32.0 * 32.0;
/// See [`SMALL_AREA`].
pub const LARGE_AREA: f64 = 96.0 * 96.0;

/// Counts for one class.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ClassCount {
    /// Class name.
    pub name: String,
    /// Objects of the class.
    pub objects: usize,
    /// Images with at least one object of the class.
    pub images: usize,
}

/// Five-number summary of a distribution (min, quartiles, max); all 0 for no values.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize)]
pub struct Quantiles {
    /// Smallest value.
    pub min: f64,
    /// 25th percentile (nearest rank).
    pub q1: f64,
    /// Median (nearest rank).
    pub median: f64,
    /// 75th percentile (nearest rank).
    pub q3: f64,
    /// Largest value.
    pub max: f64,
}

impl Quantiles {
    /// The summary of `values` (sorted here; NaNs sort last).
    pub fn of(mut values: Vec<f64>) -> Self {
        if values.is_empty() {
            return Self::default();
        }
        values.sort_by(f64::total_cmp);
        let at = |q: f64| values[((values.len() - 1) as f64 * q).round() as usize];
        Quantiles { min: at(0.0), q1: at(0.25), median: at(0.5), q3: at(0.75), max: at(1.0) }
    }
}

/// The summary `inspect` prints for an annotated data set.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Summary {
    /// Images listed.
    pub images: usize,
    /// Objects over all images.
    pub objects: usize,
    /// Per class, in class order (classes without objects included).
    pub classes: Vec<ClassCount>,
    /// Images with no objects.
    pub images_without_objects: usize,
    /// Objects per image.
    pub objects_per_image: Quantiles,
    /// Box widths in pixels (each object's extent).
    pub box_width: Quantiles,
    /// Box heights in pixels.
    pub box_height: Quantiles,
    /// Boxes by COCO size bin: `[small, medium, large]` ([`SMALL_AREA`], [`LARGE_AREA`]).
    pub box_sizes: [usize; 3],
    /// Objects with each geometry: box, oriented box, polygons, mask, keypoints, polyline or
    /// circle.
    pub geometries: Vec<(String, usize)>,
    /// Distinct annotators named.
    pub annotators: usize,
    /// Objects that are predictions.
    pub predictions: usize,
}

impl Summary {
    /// Summarize `d`.
    pub fn of(d: &Dataset) -> Self {
        let mut classes: Vec<ClassCount> =
            d.classes.iter().map(|c| ClassCount { name: c.name.clone(), objects: 0, images: 0 }).collect();
        let (mut widths, mut heights, mut sizes) = (Vec::new(), Vec::new(), [0usize; 3]);
        let mut geometries = [0usize; 6];
        let mut annotators = std::collections::HashSet::new();
        let mut predictions = 0;
        for image in &d.images {
            let mut seen = vec![false; classes.len()];
            for o in &image.objects {
                classes[o.class].objects += 1;
                seen[o.class] = true;
                if let Some(b) = o.extent() {
                    widths.push(b.width);
                    heights.push(b.height);
                    let a = b.area();
                    sizes[if a < SMALL_AREA { 0 } else if a < LARGE_AREA { 1 } else { 2 }] += 1;
                }
                let has = [
                    o.bbox.is_some(),
                    o.oriented.is_some(),
                    !o.polygons.is_empty(),
                    o.mask.is_some(),
                    !o.keypoints.is_empty(),
                    o.polyline.is_some() || o.circle.is_some(),
                ];
                geometries.iter_mut().zip(has).for_each(|(n, h)| *n += h as usize);
                annotators.extend(o.annotator.as_deref());
                predictions += (o.origin == Origin::Prediction) as usize;
            }
            classes.iter_mut().zip(seen).for_each(|(c, s)| c.images += s as usize);
        }
        let names = ["boxes", "oriented boxes", "polygons", "masks", "keypoints", "polylines/circles"];
        Summary {
            images: d.images.len(),
            objects: d.object_count(),
            classes,
            images_without_objects: d.images.iter().filter(|i| i.objects.is_empty()).count(),
            objects_per_image: Quantiles::of(d.images.iter().map(|i| i.objects.len() as f64).collect()),
            box_width: Quantiles::of(widths),
            box_height: Quantiles::of(heights),
            box_sizes: sizes,
            geometries: names.iter().map(|n| n.to_string()).zip(geometries).filter(|(_, n)| *n > 0).collect(),
            annotators: annotators.len(),
            predictions,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{BBox, Image, Object};

    #[test]
    fn counts_per_class_image_and_size_bin() {
        let mut d = Dataset::default();
        let (a, b) = (d.class_index("a"), d.class_index("b"));
        let _unused = d.class_index("c");
        let boxed = |class, w: f64| Object { bbox: Some(BBox { x: 0.0, y: 0.0, width: w, height: w }), ..Object::of_class(class) };
        d.images.push(Image { file_name: "1.jpg".into(), objects: vec![boxed(a, 10.0), boxed(a, 50.0), boxed(b, 100.0)], ..Image::default() });
        d.images.push(Image { file_name: "2.jpg".into(), objects: vec![boxed(a, 20.0)], ..Image::default() });
        d.images.push(Image { file_name: "3.jpg".into(), ..Image::default() });
        let s = Summary::of(&d);
        assert_eq!((s.images, s.objects, s.images_without_objects), (3, 4, 1));
        assert_eq!(s.classes[0], ClassCount { name: "a".into(), objects: 3, images: 2 });
        assert_eq!((s.classes[1].objects, s.classes[2].objects), (1, 0));
        assert_eq!(s.box_sizes, [2, 1, 1]);
        assert_eq!(s.objects_per_image, Quantiles { min: 0.0, q1: 1.0, median: 1.0, q3: 3.0, max: 3.0 });
        assert_eq!(s.box_width.max, 100.0);
        assert_eq!(s.geometries, vec![("boxes".to_string(), 4)]);
    }
}
