//! The annotation model: per image, a list of objects, each with a class and any of an
//! axis-aligned box, an oriented box, polygons, a polyline, a circle, a mask and keypoints,
//! plus the flags, annotator and score the formats carry.
//!
//! # Coordinate convention (one for every format)
//!
//! Coordinates are **continuous pixels** in `f64`, with the **origin at the top-left corner of
//! the top-left pixel**, `x` growing to the right and `y` growing downwards. Pixel `(col, row)`
//! (0-based indices) covers the square `[col, col + 1) × [row, row + 1)`; its centre is
//! `(col + 0.5, row + 0.5)`. An image of `width × height` pixels spans `[0, width] × [0, height]`.
//! This is COCO's convention for boxes and polygons; every reader and writer converts at the
//! border (YOLO's normalized centres, Pascal VOC's 1-based inclusive pixel boxes, Label Studio's
//! percentages and rotation about the top-left corner, CVAT's rotation about the centre).
//!
//! Angles are in **degrees, clockwise on screen** (with `y` down, a positive angle turns the
//! `+x` axis towards `+y`), as CVAT and Label Studio write them, so their round trips are exact.
//!
//! Masks keep their own pixel grids: a COCO RLE runs down the columns of a `height × width`
//! grid (column-major), a [`Bitmap`] is row-major over a rectangle of whole pixels.

use std::collections::HashMap;

use serde::{Deserialize, Serialize};

/// The largest image side accepted, in pixels: size fields above this are hostile or corrupt
/// (a 10^9-pixel side would make any mask or buffer sized from it unallocatable).
pub const MAX_IMAGE_SIDE: u32 = 1 << 20;

/// The largest mask accepted, in pixels (height × width of an RLE grid or a bitmap): masks are
/// decoded to one byte per pixel, so a few bytes of RLE must not announce terabytes.
pub const MAX_MASK_PIXELS: u64 = 1 << 28;

/// An annotated data set: its images (each with its objects), its classes and its metadata.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Dataset {
    /// The images, in the order the source lists them.
    pub images: Vec<Image>,
    /// The classes; [`Object::class`] indexes this list.
    pub classes: Vec<Class>,
    /// Per-data-set metadata (keypoint schema and the like).
    #[serde(default)]
    pub meta: Metadata,
}

/// Per-data-set metadata that applies to all objects.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Metadata {
    /// The keypoint schema shared by the data set's objects, when the source has one for the
    /// whole data set (YOLO's `kpt_shape`/`flip_idx`, or every COCO category listing the same
    /// names). A COCO file whose categories differ keeps them per class ([`Class::keypoints`]).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub keypoints: Option<KeypointSchema>,
}

/// The names and connections of the keypoints of an object, in order.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct KeypointSchema {
    /// One name per keypoint, in the order objects list their keypoints (may be empty when the
    /// source names none, as YOLO).
    pub names: Vec<String>,
    /// Edges between keypoints as pairs of **1-based** keypoint indices, as COCO writes them.
    #[serde(default)]
    pub skeleton: Vec<[u32; 2]>,
    /// For horizontal flips: `flip_index[i]` is the keypoint that keypoint `i` (0-based) becomes
    /// (YOLO's `flip_idx`); empty when unknown.
    #[serde(default)]
    pub flip_index: Vec<u32>,
}

/// One class of objects.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Class {
    /// The class name, as written in the source.
    pub name: String,
    /// The class's id in the source when the source numbers classes itself (COCO category ids,
    /// which need not be contiguous nor start at 0); `None` when the source names classes only.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source_id: Option<u64>,
    /// COCO's `supercategory`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub supercategory: Option<String>,
    /// This class's keypoint schema when it differs per class (COCO categories); see
    /// [`Metadata::keypoints`] for the data-set-wide one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub keypoints: Option<KeypointSchema>,
}

/// One image and its objects.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Image {
    /// The image file, relative to the image root, `/`-separated; never absolute and never
    /// containing `..` (readers reject such names, see
    /// [`augtrain_data::util::inside::portable_relative_inside`]).
    pub file_name: String,
    /// Width in pixels (1..=[`MAX_IMAGE_SIDE`]).
    pub width: u32,
    /// Height in pixels (1..=[`MAX_IMAGE_SIDE`]).
    pub height: u32,
    /// The image's id in the source (COCO `id`, CVAT `id`, Label Studio task id), if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<u64>,
    /// The objects, in source order.
    #[serde(default)]
    pub objects: Vec<Object>,
    /// Image-level labels (CVAT `<tag>`): classes that apply to the whole image, without
    /// geometry.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub tags: Vec<Tag>,
}

/// An image-level label: a class for the whole image, with its attributes.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Tag {
    /// Index into [`Dataset::classes`].
    pub class: usize,
    /// The tag's attributes, in source order.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub attributes: Vec<Attribute>,
}

/// A named attribute an annotation tool attached to an object or tag (CVAT
/// `<attribute name="...">value</attribute>`), kept as the text the source wrote.
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Attribute {
    /// The attribute's name.
    pub name: String,
    /// Its value, as text (CVAT writes checkboxes as `true`/`false`, numbers as digits).
    pub value: String,
}

/// One annotated (or predicted) object.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Object {
    /// Index into [`Dataset::classes`].
    pub class: usize,
    /// The object's id in the source (COCO annotation `id`), if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<u64>,
    /// Axis-aligned box.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub bbox: Option<BBox>,
    /// Oriented (rotated) box (boxed, as the other rare geometries: an object without them
    /// stays small, which is what bounds the memory of a large data set).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub oriented: Option<Box<OrientedBox>>,
    /// Closed polygons; several polygons are parts of one object (their union), as COCO's
    /// `segmentation` lists them.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub polygons: Vec<Polygon>,
    /// An open polyline (LabelMe `line`/`linestrip`, CVAT `polyline`): at least 2 points.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub polyline: Option<Vec<Point>>,
    /// A circle (LabelMe `circle`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub circle: Option<Box<Circle>>,
    /// A pixel mask.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mask: Option<Box<Mask>>,
    /// Keypoints, in the order of the class's (or data set's) keypoint schema; for formats
    /// without a schema (LabelMe `point`, CVAT `points`) simply the points.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub keypoints: Vec<Keypoint>,
    /// COCO's `area` as the source wrote it (pixels²), kept so round trips are exact; `None`
    /// when the source has none.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub area: Option<f64>,
    /// Boolean flags.
    #[serde(default)]
    pub flags: Flags,
    /// Drawing order (CVAT `z_order`); higher is in front.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub z_order: Option<i64>,
    /// Who drew it (Label Studio `completed_by`, CVAT/COCO annotator fields), if known.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub annotator: Option<String>,
    /// Whether a person drew it or a model predicted it.
    #[serde(default, skip_serializing_if = "Origin::is_annotation")]
    pub origin: Origin,
    /// A prediction's confidence (COCO results `score`, Label Studio prediction `score`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub score: Option<f64>,
    /// Free-form attributes the source attached (CVAT `<attribute>`), in source order.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub attributes: Vec<Attribute>,
}

/// Where an object comes from.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Origin {
    /// Drawn by a person (COCO `annotations`, Label Studio `annotations`).
    #[default]
    Annotation,
    /// Predicted by a model (COCO results files, Label Studio `predictions`).
    Prediction,
}

impl Origin {
    /// True for [`Origin::Annotation`] (serde's skip test).
    pub fn is_annotation(&self) -> bool {
        *self == Origin::Annotation
    }
}

/// Boolean per-object flags.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Flags {
    /// COCO `iscrowd`: the object is a crowd of instances (its mask is an RLE).
    #[serde(default)]
    pub iscrowd: bool,
    /// Pascal VOC `difficult`.
    #[serde(default)]
    pub difficult: bool,
    /// Pascal VOC `truncated`: the object extends beyond the image.
    #[serde(default)]
    pub truncated: bool,
    /// Pascal VOC / CVAT `occluded`.
    #[serde(default)]
    pub occluded: bool,
}

/// A point in the model's coordinates (see the module documentation).
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
pub struct Point {
    /// Horizontal coordinate, pixels from the left edge.
    pub x: f64,
    /// Vertical coordinate, pixels from the top edge.
    pub y: f64,
}

/// An axis-aligned box: top-left corner and size, as COCO's `[x, y, width, height]`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
pub struct BBox {
    /// Left edge, pixels.
    pub x: f64,
    /// Top edge, pixels.
    pub y: f64,
    /// Width, pixels (may be zero or negative in bad data; readers keep it for the audit).
    pub width: f64,
    /// Height, pixels.
    pub height: f64,
}

impl BBox {
    /// The box from its corners `(x0, y0)` (top-left) and `(x1, y1)` (bottom-right).
    pub fn from_corners(x0: f64, y0: f64, x1: f64, y1: f64) -> Self {
        BBox {
            x: x0,
            y: y0,
            width: x1 - x0,
            height: y1 - y0,
        }
    }

    /// Right edge, pixels.
    pub fn x_max(&self) -> f64 {
        self.x + self.width
    }

    /// Bottom edge, pixels.
    pub fn y_max(&self) -> f64 {
        self.y + self.height
    }

    /// Area in pixels² (negative sizes give a non-positive area as they are).
    pub fn area(&self) -> f64 {
        self.width * self.height
    }

    /// The smallest box holding every point; `None` for no points.
    pub fn enclosing(points: impl IntoIterator<Item = Point>) -> Option<BBox> {
        let mut it = points.into_iter();
        let first = it.next()?;
        let (mut x0, mut y0, mut x1, mut y1) = (first.x, first.y, first.x, first.y);
        for p in it {
            x0 = x0.min(p.x);
            y0 = y0.min(p.y);
            x1 = x1.max(p.x);
            y1 = y1.max(p.y);
        }
        Some(BBox::from_corners(x0, y0, x1, y1))
    }
}

/// A rotated box: centre, size along its own axes, and the clockwise rotation of those axes.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
pub struct OrientedBox {
    /// Centre, horizontal, pixels.
    pub cx: f64,
    /// Centre, vertical, pixels.
    pub cy: f64,
    /// Extent along the box's own x axis, pixels.
    pub width: f64,
    /// Extent along the box's own y axis, pixels.
    pub height: f64,
    /// Rotation of the box about its centre, degrees clockwise on screen (0 = axis-aligned).
    pub angle_deg: f64,
}

impl OrientedBox {
    /// The four corners, starting at the box's own top-left and going clockwise on screen.
    pub fn corners(&self) -> [Point; 4] {
        let (s, c) = self.angle_deg.to_radians().sin_cos();
        let (hw, hh) = (self.width / 2.0, self.height / 2.0);
        let at = |dx: f64, dy: f64| Point {
            x: self.cx + dx * c - dy * s,
            y: self.cy + dx * s + dy * c,
        };
        [at(-hw, -hh), at(hw, -hh), at(hw, hh), at(-hw, hh)]
    }

    /// The axis-aligned box enclosing the rotated one.
    pub fn bounding_box(&self) -> BBox {
        BBox::enclosing(self.corners()).unwrap_or_default()
    }
}

/// A closed polygon (ring): the edge from the last point back to the first is implied.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Polygon {
    /// The vertices, in drawing order (readers require at least 3).
    pub points: Vec<Point>,
}

/// A circle.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
pub struct Circle {
    /// Centre.
    pub centre: Point,
    /// Radius, pixels.
    pub radius: f64,
}

/// A keypoint with COCO's visibility flag.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
pub struct Keypoint {
    /// Horizontal coordinate, pixels (meaningless when `visibility` is 0).
    pub x: f64,
    /// Vertical coordinate, pixels (meaningless when `visibility` is 0).
    pub y: f64,
    /// COCO visibility: 0 not labelled, 1 labelled but not visible, 2 labelled and visible.
    pub visibility: u8,
}

/// A pixel mask.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Mask {
    /// COCO run-length encoding, uncompressed.
    Rle(Rle),
    /// COCO run-length encoding in its compressed string form (LEB128-like text), kept exactly
    /// as read; `crate::rle` decodes it to [`Rle`].
    RleString(RleString),
    /// A bitmap over a rectangle of whole pixels (CVAT `mask`).
    Bitmap(Bitmap),
}

/// A COCO RLE, uncompressed: alternating run lengths of 0s and 1s (starting with 0s, so the
/// first run may be 0 long) down the columns of a `height × width` grid (column-major, as
/// pycocotools). The runs must add up to `height × width`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Rle {
    /// Grid height, pixels.
    pub height: u32,
    /// Grid width, pixels.
    pub width: u32,
    /// The run lengths.
    pub counts: Vec<u32>,
}

/// A COCO RLE in compressed string form, exactly as read (`{"size": [h, w], "counts": "..."}`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct RleString {
    /// Grid height, pixels.
    pub height: u32,
    /// Grid width, pixels.
    pub width: u32,
    /// pycocotools' compressed counts string.
    pub counts: String,
}

/// A binary mask over the pixels `[left, left + width) × [top, top + height)` of its image,
/// row-major, one byte per pixel (0 = outside, anything else = inside).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Bitmap {
    /// Column of the first pixel.
    pub left: u32,
    /// Row of the first pixel.
    pub top: u32,
    /// Width in pixels.
    pub width: u32,
    /// Height in pixels.
    pub height: u32,
    /// `width × height` bytes, row by row.
    pub data: Vec<u8>,
}

impl Polygon {
    /// Enclosed area by the shoelace formula, pixels² (absolute value; a self-intersecting
    /// ring counts its lobes with signs).
    pub fn area(&self) -> f64 {
        let n = self.points.len();
        let twice: f64 = (0..n)
            .map(|i| {
                let (a, b) = (self.points[i], self.points[(i + 1) % n]);
                a.x * b.y - b.x * a.y
            })
            .sum();
        twice.abs() / 2.0
    }
}

impl Bitmap {
    /// The bitmap as an uncompressed COCO RLE over the whole `image_width × image_height`
    /// grid (column-major); pixels of the bitmap outside the image are dropped. Work is
    /// O(image width + bitmap area). `None` when the grid is above [`MAX_MASK_PIXELS`].
    pub fn to_rle(&self, image_width: u32, image_height: u32) -> Option<Rle> {
        if image_width as u64 * image_height as u64 > MAX_MASK_PIXELS {
            return None;
        }
        let h = image_height;
        let mut counts = Vec::new();
        let (mut current, mut run) = (false, 0u32);
        let mut push = |v: bool, n: u32| {
            if n == 0 {
                return;
            }
            if v != current {
                counts.push(run);
                (current, run) = (v, 0);
            }
            run += n;
        };
        let (top, bottom) = (self.top.min(h), self.top.saturating_add(self.height).min(h));
        for col in 0..image_width {
            if col < self.left || col - self.left >= self.width {
                push(false, h);
                continue;
            }
            push(false, top);
            for row in top..bottom {
                let i =
                    (row - self.top) as usize * self.width as usize + (col - self.left) as usize;
                push(self.data.get(i).is_some_and(|&v| v != 0), 1);
            }
            push(false, h - bottom);
        }
        counts.push(run);
        Some(Rle {
            height: image_height,
            width: image_width,
            counts,
        })
    }
}

impl Bitmap {
    /// The smallest bitmap with the same inside pixels, values made 0/1 (an empty mask gives a
    /// 0×0 bitmap at the origin).
    pub fn cropped(&self) -> Bitmap {
        let (w, h) = (self.width as usize, self.height as usize);
        let inside = |c: usize, r: usize| self.data.get(r * w + c).is_some_and(|&v| v != 0);
        let rows: Vec<usize> = (0..h).filter(|&r| (0..w).any(|c| inside(c, r))).collect();
        let cols: Vec<usize> = (0..w)
            .filter(|&c| rows.iter().any(|&r| inside(c, r)))
            .collect();
        let (Some(&r0), Some(&r1), Some(&c0), Some(&c1)) =
            (rows.first(), rows.last(), cols.first(), cols.last())
        else {
            return Bitmap::default();
        };
        let data = (r0..=r1)
            .flat_map(|r| (c0..=c1).map(move |c| (r, c)))
            .map(|(r, c)| inside(c, r) as u8)
            .collect();
        Bitmap {
            left: self.left + c0 as u32,
            top: self.top + r0 as u32,
            width: (c1 - c0 + 1) as u32,
            height: (r1 - r0 + 1) as u32,
            data,
        }
    }

    /// The mask over a whole `width × height` image, row-major, 0/1 per pixel (pixels of the
    /// bitmap outside the image are dropped).
    pub fn on_image(&self, width: u32, height: u32) -> Vec<u8> {
        let (iw, ih) = (width as usize, height as usize);
        let mut out = vec![0u8; iw * ih];
        for r in 0..self.height as usize {
            for c in 0..self.width as usize {
                let (x, y) = (self.left as usize + c, self.top as usize + r);
                let v = self
                    .data
                    .get(r * self.width as usize + c)
                    .copied()
                    .unwrap_or(0);
                if x < iw && y < ih && v != 0 {
                    out[y * iw + x] = 1;
                }
            }
        }
        out
    }
}

impl Mask {
    /// The mask as a [`Bitmap`] (an RLE cropped to its extent); `None` for a compressed RLE
    /// string that does not decode.
    pub fn to_bitmap(&self) -> Option<Bitmap> {
        match self {
            Mask::Bitmap(b) => Some(b.clone()),
            Mask::Rle(r) => Some(r.to_bitmap()),
            Mask::RleString(s) => s.decompress().ok().map(|r| r.to_bitmap()),
        }
    }
}

impl Rle {
    /// The mask as a [`Bitmap`] cropped to the rows and columns it covers (an empty mask gives
    /// a 0×0 bitmap at the origin). Runs past `height × width` are ignored.
    pub fn to_bitmap(&self) -> Bitmap {
        let (w, h) = (self.width as usize, self.height as usize);
        let total = w * h;
        // The runs of 1s as [start, end) pixel ranges (column-major), clipped to the grid.
        let mut ones = Vec::new();
        let mut at = 0usize;
        for (i, &run) in self.counts.iter().enumerate() {
            let end = at.saturating_add(run as usize).min(total);
            if i % 2 == 1 && end > at {
                ones.push((at, end));
            }
            at = end;
        }
        let (mut c0, mut c1, mut r0, mut r1) = (usize::MAX, 0, usize::MAX, 0);
        for &(a, b) in &ones {
            let (ca, cb) = (a / h, (b - 1) / h);
            let (ra, rb) = if ca == cb {
                (a % h, (b - 1) % h)
            } else {
                (0, h - 1)
            };
            (c0, c1, r0, r1) = (c0.min(ca), c1.max(cb), r0.min(ra), r1.max(rb));
        }
        if ones.is_empty() {
            return Bitmap::default();
        }
        let (bw, bh) = (c1 - c0 + 1, r1 - r0 + 1);
        let mut data = vec![0u8; bw * bh];
        for (a, b) in ones {
            for p in a..b {
                data[(p % h - r0) * bw + (p / h - c0)] = 1;
            }
        }
        Bitmap {
            left: c0 as u32,
            top: r0 as u32,
            width: bw as u32,
            height: bh as u32,
            data,
        }
    }
}

impl Dataset {
    /// The index of the class called `name`, adding it (without a source id) if new.
    pub fn class_index(&mut self, name: &str) -> usize {
        if let Some(i) = self.classes.iter().position(|c| c.name == name) {
            return i;
        }
        self.classes.push(Class {
            name: name.to_string(),
            ..Class::default()
        });
        self.classes.len() - 1
    }

    /// Map from class name to index, for readers that look names up per object.
    pub fn class_lookup(&self) -> HashMap<String, usize> {
        self.classes
            .iter()
            .enumerate()
            .map(|(i, c)| (c.name.clone(), i))
            .collect()
    }

    /// Total number of objects over all images.
    pub fn object_count(&self) -> usize {
        self.images.iter().map(|i| i.objects.len()).sum()
    }

    /// The keypoint schema for objects of `class`: the class's own, else the data set's.
    pub fn keypoint_schema(&self, class: usize) -> Option<&KeypointSchema> {
        self.classes
            .get(class)
            .and_then(|c| c.keypoints.as_ref())
            .or(self.meta.keypoints.as_ref())
    }
}

impl Object {
    /// An object of `class` with nothing else set.
    pub fn of_class(class: usize) -> Self {
        Object {
            class,
            ..Object::default()
        }
    }

    /// Drop the spare capacity of the object's lists (a list grown by one push holds room for
    /// four): readers call it on each object they keep, which bounds a large data set's memory.
    pub fn shrink_to_fit(&mut self) {
        self.polygons.shrink_to_fit();
        self.keypoints.shrink_to_fit();
        self.attributes.shrink_to_fit();
    }

    /// The object's axis-aligned extent: its box, else the bounding box of its oriented box,
    /// polygons, polyline, circle or labelled keypoints (in that order of preference).
    pub fn extent(&self) -> Option<BBox> {
        if let Some(b) = self.bbox {
            return Some(b);
        }
        if let Some(o) = &self.oriented {
            return Some(o.bounding_box());
        }
        let poly = self.polygons.iter().flat_map(|p| p.points.iter().copied());
        if let Some(b) = BBox::enclosing(poly) {
            return Some(b);
        }
        if let Some(b) = self
            .polyline
            .as_ref()
            .and_then(|l| BBox::enclosing(l.iter().copied()))
        {
            return Some(b);
        }
        if let Some(c) = self.circle.as_deref() {
            let r = c.radius;
            return Some(BBox::from_corners(
                c.centre.x - r,
                c.centre.y - r,
                c.centre.x + r,
                c.centre.y + r,
            ));
        }
        let labelled = self.keypoints.iter().filter(|k| k.visibility > 0);
        BBox::enclosing(labelled.map(|k| Point { x: k.x, y: k.y }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_unrotated_oriented_box_bounds_itself() {
        let o = OrientedBox {
            cx: 10.0,
            cy: 20.0,
            width: 4.0,
            height: 2.0,
            angle_deg: 0.0,
        };
        assert_eq!(o.bounding_box(), BBox::from_corners(8.0, 19.0, 12.0, 21.0));
    }

    #[test]
    fn a_quarter_turn_swaps_the_extent_and_turns_clockwise() {
        let o = OrientedBox {
            cx: 0.0,
            cy: 0.0,
            width: 4.0,
            height: 2.0,
            angle_deg: 90.0,
        };
        let b = o.bounding_box();
        assert!((b.width - 2.0).abs() < 1e-12 && (b.height - 4.0).abs() < 1e-12);
        // Clockwise on screen (y down): the box's own top-left (-2, -1) goes to (1, -2).
        let tl = o.corners()[0];
        assert!(
            (tl.x - 1.0).abs() < 1e-12 && (tl.y + 2.0).abs() < 1e-12,
            "{tl:?}"
        );
    }

    #[test]
    fn the_extent_falls_back_through_the_geometries() {
        let mut o = Object::of_class(0);
        assert_eq!(o.extent(), None);
        o.keypoints = vec![
            Keypoint {
                x: 1.0,
                y: 2.0,
                visibility: 2,
            },
            Keypoint {
                x: 100.0,
                y: 100.0,
                visibility: 0,
            },
            Keypoint {
                x: 3.0,
                y: 7.0,
                visibility: 1,
            },
        ];
        assert_eq!(o.extent(), Some(BBox::from_corners(1.0, 2.0, 3.0, 7.0)));
        o.polygons = vec![Polygon {
            points: vec![
                Point { x: 0.0, y: 0.0 },
                Point { x: 5.0, y: 1.0 },
                Point { x: 2.0, y: 9.0 },
            ],
        }];
        assert_eq!(o.extent(), Some(BBox::from_corners(0.0, 0.0, 5.0, 9.0)));
    }

    #[test]
    fn a_bitmap_becomes_column_major_runs_over_the_image() {
        // 3x2 image; bitmap of 2x1 at (1, 1): pixels (col 1, row 1) and (col 2, row 1).
        let b = Bitmap {
            left: 1,
            top: 1,
            width: 2,
            height: 1,
            data: vec![1, 1],
        };
        let r = b.to_rle(3, 2).unwrap();
        // Column-major: col0 = [0,0], col1 = [0,1], col2 = [0,1] -> 3 zeros, 1 one, 1 zero, 1 one.
        assert_eq!(r.counts, vec![3, 1, 1, 1]);
        assert_eq!(r.counts.iter().sum::<u32>(), 6);
        assert_eq!(r.to_bitmap(), b);
        let square = Polygon {
            points: vec![
                Point { x: 0.0, y: 0.0 },
                Point { x: 2.0, y: 0.0 },
                Point { x: 2.0, y: 3.0 },
                Point { x: 0.0, y: 3.0 },
            ],
        };
        assert_eq!(square.area(), 6.0);
    }

    #[test]
    fn the_model_round_trips_through_serde_json() {
        let mut d = Dataset::default();
        let c = d.class_index("cat");
        assert_eq!(d.class_index("cat"), c);
        let mut o = Object::of_class(c);
        o.mask = Some(Box::new(Mask::Rle(Rle {
            height: 2,
            width: 2,
            counts: vec![1, 2, 1],
        })));
        o.origin = Origin::Prediction;
        o.score = Some(0.25);
        d.images.push(Image {
            file_name: "a/b.png".into(),
            width: 2,
            height: 2,
            id: Some(7),
            objects: vec![o],
            tags: Vec::new(),
        });
        let text = serde_json::to_string(&d).unwrap();
        assert_eq!(serde_json::from_str::<Dataset>(&text).unwrap(), d);
    }
}
