//! Label Studio JSON export: a list of tasks, each `{id, data: {image: url}, annotations:
//! [{completed_by, result: [...]}], predictions: [{model_version, score, result: [...]}]}`.
//!
//! Result regions hold **percentages** of `original_width`/`original_height` (0..100):
//! `rectanglelabels` (`x, y, width, height` and `rotation`, degrees clockwise about the
//! rectangle's **top-left corner** `(x, y)`), `polygonlabels` (`points`), `keypointlabels`
//! (`x, y`), `ellipselabels` (`x, y` centre, `radiusX`, `radiusY`) and `brushlabels` (`format:
//! "rle"`, `rle`: Label Studio's RLE of the image's RGBA bytes, see [`super::brush`]; the mask is
//! where alpha is not 0, written back as 255). Several annotations per task become objects of
//! one image with their annotator (`completed_by`); predictions become objects with origin
//! prediction, the `model_version` as annotator and the `score`.

use std::cell::RefCell;
use std::path::Path;

use augtrain_data::util::fs::{IoError, open_regular};
use serde::{Deserialize, Serialize, Serializer};
use serde_json::{Value, json};

use super::brush;
use super::common::{check_image_name, check_size, count_class_losses, finite, polygon};
use super::shapes::{Shape, shapes_of};
use super::{ReadOutput, Sink, WriteOutput};
use crate::error::{AnnotationError, Result};
use crate::loss::Losses;
use crate::model::{
    BBox, Bitmap, Circle, Dataset, Image, Keypoint, MAX_MASK_PIXELS, Mask, Object, OrientedBox,
    Origin, Point,
};

#[derive(Deserialize)]
struct Task {
    id: Option<u64>,
    #[serde(default)]
    data: serde_json::Map<String, Value>,
    #[serde(default)]
    annotations: Vec<Completion>,
    #[serde(default)]
    predictions: Vec<Completion>,
}

#[derive(Deserialize)]
struct Completion {
    #[serde(default)]
    completed_by: Option<Value>,
    #[serde(default)]
    model_version: Option<Value>,
    #[serde(default)]
    score: Option<f64>,
    #[serde(default)]
    was_cancelled: bool,
    #[serde(default)]
    result: Vec<Region>,
}

#[derive(Deserialize)]
struct Region {
    #[serde(rename = "type")]
    kind: String,
    #[serde(default)]
    original_width: Option<u64>,
    #[serde(default)]
    original_height: Option<u64>,
    #[serde(default)]
    value: Value,
    #[serde(default)]
    score: Option<f64>,
}

/// Read a Label Studio JSON export (a list of tasks).
pub fn read(path: &Path) -> Result<ReadOutput> {
    let file = open_regular(path).map_err(|e| IoError::new("read", path, e))?;
    let tasks: Vec<Task> = serde_json::from_reader(std::io::BufReader::new(file)).map_err(|e| {
        AnnotationError::malformed(
            path,
            format!("not a Label Studio JSON export (a list of tasks): {e}"),
        )
    })?;
    to_model(path, tasks)
}

/// Parse a Label Studio export from bytes (`path` names it in errors).
pub fn parse(path: &Path, bytes: &[u8]) -> Result<ReadOutput> {
    let tasks: Vec<Task> = serde_json::from_slice(bytes).map_err(|e| {
        AnnotationError::malformed(
            path,
            format!("not a Label Studio JSON export (a list of tasks): {e}"),
        )
    })?;
    to_model(path, tasks)
}

fn to_model(path: &Path, tasks: Vec<Task>) -> Result<ReadOutput> {
    let mut out = ReadOutput::default();
    for (k, task) in tasks.into_iter().enumerate() {
        let url = task
            .data
            .get("image")
            .or_else(|| task.data.values().find(|v| v.is_string()));
        let url = url.and_then(Value::as_str).unwrap_or("");
        let file_name = file_name_of(url);
        check_image_name(path, &file_name)?;
        let mut image = Image {
            file_name,
            id: task.id,
            ..Image::default()
        };
        let groups = task
            .annotations
            .into_iter()
            .map(|c| (Origin::Annotation, c));
        let groups = groups.chain(
            task.predictions
                .into_iter()
                .map(|c| (Origin::Prediction, c)),
        );
        for (origin, c) in groups {
            if c.was_cancelled {
                out.skipped
                    .add("cancelled Label Studio annotations (not read)");
                continue;
            }
            let who = match origin {
                Origin::Annotation => c.completed_by.as_ref().and_then(annotator_of),
                Origin::Prediction => c.model_version.as_ref().and_then(annotator_of),
            };
            for (r, region) in c.result.iter().enumerate() {
                let what = || {
                    format!(
                        "task {} (#{}), region {}",
                        task.id.unwrap_or(k as u64),
                        k + 1,
                        r + 1
                    )
                };
                let Some(mut o) = region_object(path, region, &mut image, &mut out, &what)? else {
                    continue;
                };
                o.origin = origin;
                o.annotator = who.clone();
                o.score = region.score.or(if origin == Origin::Prediction {
                    c.score
                } else {
                    None
                });
                image.objects.push(o);
            }
        }
        out.dataset.images.push(image);
    }
    Ok(out)
}

/// The image's name from the task's URL: the path after `?d=` for local storage, else the
/// last path segment (uploads, cloud URLs).
fn file_name_of(url: &str) -> String {
    if let Some((_, local)) = url.split_once("?d=") {
        return local.to_string();
    }
    let path = url.split(['?', '#']).next().unwrap_or("");
    path.rsplit('/').next().unwrap_or("").to_string()
}

fn annotator_of(v: &Value) -> Option<String> {
    match v {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        Value::Object(m) => m
            .get("email")
            .or_else(|| m.get("id"))
            .and_then(annotator_of),
        _ => None,
    }
}

/// The object of one result `region` of an annotation of `image` (its size taken from the
/// region when the image has none yet); `None` for a region type or shape not read, counted in
/// `out.skipped`.
fn region_object(
    path: &Path,
    region: &Region,
    image: &mut Image,
    out: &mut ReadOutput,
    what: &dyn Fn() -> String,
) -> Result<Option<Object>> {
    let Some(labels_key) = [
        "rectanglelabels",
        "polygonlabels",
        "keypointlabels",
        "ellipselabels",
        "brushlabels",
    ]
    .into_iter()
    .find(|k| *k == region.kind) else {
        out.skipped
            .add("Label Studio regions of other types (choices, text...: not read)");
        return Ok(None);
    };
    let (w, h) = check_size(
        path,
        &image.file_name,
        region.original_width.unwrap_or(0),
        region.original_height.unwrap_or(0),
    )?;
    if (w, h) == (0, 0) {
        return Err(AnnotationError::malformed(
            path,
            format!("{}: no original_width/original_height", what()),
        ));
    }
    if (image.width, image.height) == (0, 0) {
        (image.width, image.height) = (w, h);
    }
    let v = &region.value;
    let label = v
        .get(labels_key)
        .and_then(|l| l.get(0))
        .and_then(Value::as_str);
    let label = label.ok_or_else(|| {
        AnnotationError::malformed(path, format!("{}: no {labels_key} label", what()))
    })?;
    let value = RegionValue {
        path,
        v,
        scale: (w as f64 / 100.0, h as f64 / 100.0),
        what,
    };
    let mut o = Object::of_class(out.dataset.class_index(label));
    match labels_key {
        "rectanglelabels" => value.rectangle(&mut o)?,
        "polygonlabels" => value.polygon(&mut o)?,
        "brushlabels" => o.mask = Some(Box::new(Mask::Bitmap(brush_mask(path, v, (w, h), what)?))),
        "keypointlabels" => {
            let (x, y) = value.point()?;
            o.keypoints = vec![Keypoint {
                x,
                y,
                visibility: 2,
            }]
        }
        _ => match value.circle()? {
            Some(circle) => o.circle = Some(Box::new(circle)),
            None => {
                out.skipped
                    .add("Label Studio ellipses that are not circles (not read)");
                return Ok(None);
            }
        },
    }
    Ok(Some(o))
}

/// A brush region's mask (`"format": "rle"`, `rle`: Label Studio's RLE of the image's RGBA
/// bytes), cropped to the pixels whose alpha is not 0.
fn brush_mask(
    path: &Path,
    v: &Value,
    (w, h): (u32, u32),
    what: &dyn Fn() -> String,
) -> Result<Bitmap> {
    let bad = |m: String| AnnotationError::malformed(path, format!("{}: brush {m}", what()));
    if v.get("format").and_then(Value::as_str) != Some("rle") {
        return Err(bad(
            "region without `\"format\": \"rle\"` (the only brush format Label Studio exports)"
                .into(),
        ));
    }
    if w as u64 * h as u64 > MAX_MASK_PIXELS {
        return Err(bad(format!(
            "mask of {w}x{h} is more than the {MAX_MASK_PIXELS}-pixel mask limit"
        )));
    }
    let rle: Vec<u8> = Vec::<u8>::deserialize(v.get("rle").unwrap_or(&Value::Null))
        .map_err(|e| bad(format!("`rle` is not a list of bytes: {e}")))?;
    let alpha = brush::decode_alpha(&rle, w, h).map_err(|e| bad(e.to_string()))?;
    let whole = Bitmap {
        left: 0,
        top: 0,
        width: w,
        height: h,
        data: alpha,
    };
    Ok(whole.cropped())
}

/// A region's `value`, whose coordinates are percents of the image's size (`scale` turns them
/// into pixels: width / 100 and height / 100); `what` names the region in errors.
struct RegionValue<'a> {
    path: &'a Path,
    v: &'a Value,
    scale: (f64, f64),
    what: &'a dyn Fn() -> String,
}

impl RegionValue<'_> {
    /// The finite number under `k`.
    fn num(&self, k: &str) -> Result<f64> {
        let x = self.v.get(k).and_then(Value::as_f64);
        let x = x.ok_or_else(|| {
            AnnotationError::malformed(
                self.path,
                format!("{}: `{k}` is missing or not a number", (self.what)()),
            )
        })?;
        finite(self.path, x, self.what)
    }

    /// `x` and `y` in pixels.
    fn point(&self) -> Result<(f64, f64)> {
        let (sx, sy) = self.scale;
        Ok((self.num("x")? * sx, self.num("y")? * sy))
    }

    /// A rectangle: an axis-aligned box, or an oriented one when it has a non-zero
    /// `rotation` (degrees, clockwise about its top-left corner).
    fn rectangle(&self, o: &mut Object) -> Result<()> {
        let (sx, sy) = self.scale;
        let (x, y) = self.point()?;
        let (bw, bh) = (self.num("width")? * sx, self.num("height")? * sy);
        let angle = if self.v.get("rotation").is_some() {
            self.num("rotation")?
        } else {
            0.0
        };
        if angle == 0.0 {
            o.bbox = Some(BBox {
                x,
                y,
                width: bw,
                height: bh,
            });
        } else {
            let (s, c) = angle.to_radians().sin_cos();
            let (cx, cy) = (
                x + bw / 2.0 * c - bh / 2.0 * s,
                y + bw / 2.0 * s + bh / 2.0 * c,
            );
            o.oriented = Some(Box::new(OrientedBox {
                cx,
                cy,
                width: bw,
                height: bh,
                angle_deg: angle,
            }));
        }
        Ok(())
    }

    /// A polygon from `points` (`[x, y]` pairs).
    fn polygon(&self, o: &mut Object) -> Result<()> {
        let (sx, sy) = self.scale;
        let pts: Vec<[f64; 2]> = serde_json::from_value(
            self.v.get("points").cloned().unwrap_or(Value::Null),
        )
        .map_err(|e| {
            AnnotationError::malformed(self.path, format!("{}: points: {e}", (self.what)()))
        })?;
        let pts = pts
            .into_iter()
            .map(|[x, y]| Point {
                x: x * sx,
                y: y * sy,
            })
            .collect();
        o.polygons.push(polygon(self.path, pts, self.what)?);
        Ok(())
    }

    /// An ellipse that is a circle (equal radii, no rotation); `None` for any other ellipse.
    fn circle(&self) -> Result<Option<Circle>> {
        let (sx, sy) = self.scale;
        let (rx, ry) = (self.num("radiusX")? * sx, self.num("radiusY")? * sy);
        let rotation = self
            .v
            .get("rotation")
            .and_then(Value::as_f64)
            .unwrap_or(0.0);
        if (rx - ry).abs() > 1e-9 * rx.abs().max(1.0) || rotation != 0.0 {
            return Ok(None);
        }
        let (x, y) = self.point()?;
        Ok(Some(Circle {
            centre: Point { x, y },
            radius: rx,
        }))
    }
}

/// Write the data set as one Label Studio JSON export, `tasks.json`; image URLs are local-storage
/// paths (`/data/local-files/?d=<file name>`).
pub fn write(d: &Dataset) -> Result<WriteOutput> {
    super::in_memory(|sink| write_to(d, sink))
}

/// Write `tasks.json` into `sink`, each task made and serialized in turn.
pub fn write_to(d: &Dataset, sink: &mut dyn Sink) -> Result<Losses> {
    let without_size = d
        .images
        .iter()
        .find(|i| !i.objects.is_empty() && (i.width == 0 || i.height == 0));
    if let Some(image) = without_size {
        return Err(AnnotationError::Unwritable {
            format: "labelstudio",
            message: format!(
                "image {:?} has no known size, which percentages need; pass --images DIR",
                image.file_name
            ),
        });
    }
    let mut losses = Losses::default();
    count_class_losses(d, &mut losses);
    let tasks = Tasks {
        d,
        losses: RefCell::new(losses),
    };
    super::put_with(sink, "tasks.json", &mut |w| {
        serde_json::to_writer_pretty(w, &tasks).map_err(std::io::Error::from)
    })?;
    Ok(tasks.losses.into_inner())
}

/// The task list of a data set, made one task at a time while serializing (every image must
/// have a size when it has objects: [`write_to`] checks first), counting losses as it goes.
struct Tasks<'a> {
    d: &'a Dataset,
    losses: RefCell<Losses>,
}

impl Serialize for Tasks<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> std::result::Result<S::Ok, S::Error> {
        use serde::ser::SerializeSeq;
        let mut seq = s.serialize_seq(Some(self.d.images.len()))?;
        for (k, image) in self.d.images.iter().enumerate() {
            let task = {
                let losses = &mut self.losses.borrow_mut();
                losses.add_if(
                    image.objects.is_empty() && image.width > 0,
                    "sizes of images without objects (not held: Label Studio keeps sizes in regions)",
                );
                task_of(self.d, image, k, losses)
            };
            seq.serialize_element(&task)?;
        }
        seq.end()
    }
}

/// One task (an image with its annotations and predictions); its size must be known when it
/// has objects.
fn task_of(d: &Dataset, image: &Image, k: usize, losses: &mut Losses) -> Value {
    // One completion per (origin, annotator), in order of first appearance.
    let mut keys: Vec<(Origin, Option<&str>)> = Vec::new();
    for o in &image.objects {
        let key = (o.origin, o.annotator.as_deref());
        if !keys.contains(&key) {
            keys.push(key);
        }
    }
    let (mut annotations, mut predictions) = (Vec::new(), Vec::new());
    for (origin, who) in keys {
        let mine = image
            .objects
            .iter()
            .filter(|o| o.origin == origin && o.annotator.as_deref() == who);
        let mut result = Vec::new();
        for o in mine {
            result.extend(regions_of(d, o, image, losses));
        }
        match origin {
            Origin::Annotation => annotations.push(json!({"completed_by": who, "result": result})),
            Origin::Prediction => predictions.push(json!({"model_version": who, "result": result})),
        }
    }
    json!({
        "id": image.id.unwrap_or(k as u64 + 1),
        "data": {"image": format!("/data/local-files/?d={}", image.file_name)},
        "annotations": annotations,
        "predictions": predictions,
    })
}

fn regions_of(d: &Dataset, o: &Object, image: &Image, losses: &mut Losses) -> Vec<Value> {
    losses.add_if(
        o.flags != Default::default(),
        "iscrowd/difficult/truncated/occluded flags (not written)",
    );
    losses.add_if(o.z_order.is_some(), "z-orders (not written)");
    losses.add_if(
        o.keypoints.iter().any(|k| k.visibility == 1),
        "keypoint visibility 1 (written as visible points)",
    );
    let shapes = shapes_of(o, losses);
    let parts: usize = shapes
        .iter()
        .map(|s| if let Shape::Points(k) = s { k.len() } else { 1 })
        .sum();
    losses.add_if(
        parts > 1,
        "objects drawn as several regions (read back as one object per region)",
    );
    let label = d.classes[o.class].name.as_str();
    let (px, py) = (100.0 / image.width as f64, 100.0 / image.height as f64);
    let mut out = Vec::new();
    let mut push = |kind: &str, mut value: Value| {
        value[kind] = json!([label]);
        let mut r = json!({
            "type": kind, "from_name": "label", "to_name": "image",
            "original_width": image.width, "original_height": image.height, "image_rotation": 0,
            "value": value,
        });
        if let Some(s) = o.score {
            r["score"] = json!(s);
        }
        out.push(r);
    };
    for s in shapes {
        match s {
            Shape::Box(b) => push(
                "rectanglelabels",
                json!({"x": b.x * px, "y": b.y * py, "width": b.width * px, "height": b.height * py, "rotation": 0}),
            ),
            Shape::Oriented(ob) => {
                let (s, c) = ob.angle_deg.to_radians().sin_cos();
                let x = ob.cx - (ob.width / 2.0 * c - ob.height / 2.0 * s);
                let y = ob.cy - (ob.width / 2.0 * s + ob.height / 2.0 * c);
                push(
                    "rectanglelabels",
                    json!({"x": x * px, "y": y * py, "width": ob.width * px, "height": ob.height * py, "rotation": ob.angle_deg}),
                );
            }
            Shape::Polygon(p) => {
                let pts: Vec<[f64; 2]> = p.points.iter().map(|q| [q.x * px, q.y * py]).collect();
                push("polygonlabels", json!({"points": pts, "closed": true}));
            }
            Shape::Points(k) => k.iter().for_each(|k| {
                push(
                    "keypointlabels",
                    json!({"x": k.x * px, "y": k.y * py, "width": 0.5}),
                )
            }),
            Shape::Circle(c) => push(
                "ellipselabels",
                json!({"x": c.centre.x * px, "y": c.centre.y * py, "radiusX": c.radius * px, "radiusY": c.radius * py, "rotation": 0}),
            ),
            Shape::Polyline(_) => {
                losses.add("polylines (not written: Label Studio has no polyline region)")
            }
            Shape::Mask(m) => match m.to_bitmap() {
                Some(b) => {
                    let rle = brush::encode_mask(&b.on_image(image.width, image.height));
                    push("brushlabels", json!({"format": "rle", "rle": rle}));
                }
                None => losses.add("compressed-string RLE masks that do not decode (not written)"),
            },
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A task as Label Studio 1.x exports it (trimmed): two annotators and a prediction.
    const EXPORT: &str = r#"[{"id": 7, "data": {"image": "/data/local-files/?d=imgs/a.jpg"},
      "annotations": [
        {"id": 1, "completed_by": 3, "was_cancelled": false, "result": [
          {"id": "r1", "type": "rectanglelabels", "from_name": "label", "to_name": "image",
           "original_width": 200, "original_height": 100, "image_rotation": 0,
           "value": {"x": 10, "y": 20, "width": 25, "height": 50, "rotation": 0, "rectanglelabels": ["cat"]}},
          {"id": "r2", "type": "rectanglelabels", "original_width": 200, "original_height": 100,
           "value": {"x": 50, "y": 50, "width": 10, "height": 20, "rotation": 90, "rectanglelabels": ["dog"]}},
          {"id": "c", "type": "choices", "value": {"choices": ["indoor"]}}
        ]},
        {"id": 2, "completed_by": {"id": 4, "email": "b@x.org"}, "result": [
          {"type": "polygonlabels", "original_width": 200, "original_height": 100,
           "value": {"points": [[0, 0], [50, 0], [50, 100]], "polygonlabels": ["cat"]}}
        ]}
      ],
      "predictions": [{"model_version": "m1", "score": 0.8, "result": [
          {"type": "keypointlabels", "original_width": 200, "original_height": 100,
           "value": {"x": 50, "y": 50, "width": 1, "keypointlabels": ["nose"]}}]}]
    }]"#;

    #[test]
    fn percent_and_rotation_about_the_corner_become_pixels() {
        let r = parse(Path::new("t.json"), EXPORT.as_bytes()).unwrap();
        let im = &r.dataset.images[0];
        assert_eq!(
            (im.file_name.as_str(), im.width, im.height, im.id),
            ("imgs/a.jpg", 200, 100, Some(7))
        );
        assert_eq!(
            im.objects[0].bbox,
            Some(BBox {
                x: 20.0,
                y: 20.0,
                width: 50.0,
                height: 50.0
            })
        );
        assert_eq!(im.objects[0].annotator.as_deref(), Some("3"));
        // 20x20 px rotated 90° clockwise about its top-left corner (100, 50): it now extends
        // left of the corner, centre (100 - 10, 50 + 10).
        let ob = *im.objects[1].oriented.clone().unwrap();
        assert!(
            (ob.cx - 90.0).abs() < 1e-9 && (ob.cy - 60.0).abs() < 1e-9,
            "{ob:?}"
        );
        assert_eq!(im.objects[2].annotator.as_deref(), Some("b@x.org"));
        assert_eq!(
            im.objects[2].polygons[0].points[2],
            Point { x: 100.0, y: 100.0 }
        );
        let kp = &im.objects[3];
        assert_eq!(
            (kp.origin, kp.score, kp.annotator.as_deref()),
            (Origin::Prediction, Some(0.8), Some("m1"))
        );
        assert_eq!(r.skipped.iter().count(), 1);
        let w = write(&r.dataset).unwrap();
        let back = parse(Path::new("w.json"), &w.files[0].bytes).unwrap();
        for (a, b) in back.dataset.images[0].objects.iter().zip(&im.objects) {
            assert_eq!(
                (a.class, a.origin, &a.annotator, a.score),
                (b.class, b.origin, &b.annotator, b.score)
            );
            let (ea, eb) = (a.extent().unwrap(), b.extent().unwrap());
            for (x, y) in [
                (ea.x, eb.x),
                (ea.y, eb.y),
                (ea.width, eb.width),
                (ea.height, eb.height),
            ] {
                assert!((x - y).abs() < 1e-9, "{ea:?} {eb:?}");
            }
        }
        assert_eq!(
            back.dataset.images[0].objects[1]
                .oriented
                .as_deref()
                .map(|o| o.angle_deg),
            Some(90.0)
        );
    }

    /// Brush masks of an export whose RLEs label-studio-converter wrote (`mask2rle`): read as
    /// the masks its `decode_rle` gives, written back byte for byte.
    #[test]
    fn brush_masks_read_and_write_back_as_label_studio_converter_made_them() {
        let dir = concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../../tests/fixtures/annotations"
        );
        let text = std::fs::read(format!("{dir}/labelstudio_brush.json")).unwrap();
        let r = parse(Path::new("brush.json"), &text).unwrap();
        assert!(r.skipped.is_empty(), "{}", r.skipped);
        let d = &r.dataset;
        let masks: Vec<&Bitmap> = d
            .images
            .iter()
            .flat_map(|i| &i.objects)
            .filter_map(|o| match o.mask.as_deref() {
                Some(Mask::Bitmap(b)) => Some(b),
                _ => None,
            })
            .collect();
        assert_eq!(masks.len(), 3);
        // The rectangle: rows 3..9, columns 24..35 of a 37x23 image.
        assert_eq!(
            (masks[1].left, masks[1].top, masks[1].width, masks[1].height),
            (24, 3, 11, 6)
        );
        assert!(masks[1].data.iter().all(|&v| v == 1));
        // The disk: radius 8 about (12, 11) holds 197 pixel centres.
        assert_eq!(masks[0].data.iter().filter(|&&v| v == 1).count(), 197);
        assert_eq!((masks[2].left, masks[2].top), (10, 75));
        let w = write(d).unwrap();
        assert!(w.losses.is_empty(), "{}", w.losses);
        let back = parse(Path::new("w.json"), &w.files[0].bytes).unwrap();
        assert_eq!(back.dataset.images, d.images);
        let rles = |bytes: &[u8]| -> Vec<Value> {
            let tasks: Value = serde_json::from_slice(bytes).unwrap();
            let regions = tasks
                .as_array()
                .unwrap()
                .iter()
                .flat_map(|t| t["annotations"][0]["result"].as_array().unwrap().clone());
            regions
                .filter_map(|r| r["value"].get("rle").cloned())
                .collect()
        };
        assert_eq!(rles(&w.files[0].bytes), rles(&text));
    }

    #[test]
    fn hostile_label_studio_files_are_refused() {
        let cases = [
            (
                EXPORT.replace("\"x\": 10,", "\"x\": \"ten\","),
                "not a number",
            ),
            (EXPORT.replace("imgs/a.jpg", "../../a.jpg"), "safe relative"),
            (
                EXPORT.replace("[[0, 0], [50, 0], [50, 100]]", "[[0, 0]]"),
                "at least 3 points",
            ),
            (
                EXPORT.replacen(
                    "\"original_width\": 200",
                    "\"original_width\": 1000000000",
                    1,
                ),
                "limit",
            ),
            ("{\"not\": \"a list\"}".to_string(), "list of tasks"),
        ];
        let brush = |value: &str| {
            format!(
                r#"[{{"id": 1, "data": {{"image": "a.png"}}, "annotations": [{{"result": [
                {{"type": "brushlabels", "original_width": 2, "original_height": 2,
                  "value": {{"brushlabels": ["x"], {value}}}}}]}}]}}]"#
            )
        };
        let brush_cases = [
            (brush(r#""format": "rle", "rle": [0, 0]"#), "ends before"),
            (brush(r#""format": "png", "rle": []"#), "format"),
            (brush(r#""format": "rle", "rle": [300]"#), "list of bytes"),
            (
                brush(r#""format": "rle", "rle": [0, 0, 0, 100, 0, 0, 0]"#),
                "not 4 x width x height",
            ),
        ];
        for (text, needle) in cases.into_iter().chain(brush_cases) {
            let e = parse(Path::new("h.json"), text.as_bytes())
                .unwrap_err()
                .to_string();
            assert!(e.contains(needle) && !e.contains('\n'), "{needle}: {e}");
        }
    }
}
