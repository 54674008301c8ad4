//! LabelMe JSON: one file per image with `imagePath` (relative to the JSON file), `imageWidth`,
//! `imageHeight` and `shapes`, each `{label, points: [[x, y], ...], shape_type, group_id,
//! flags}`. Shape types: `rectangle` (two opposite corners), `polygon`, `circle` (centre and a
//! point on the circle), `line` (2 points), `linestrip`, `point`, `points`. Shapes with the same
//! `group_id` and label are one object. The shape `flags` dictionary carries `occluded`,
//! `difficult`, `truncated` and `iscrowd`.
//!
//! LabelMe's coordinates are the model's (continuous pixels from the top-left corner).

use std::collections::HashMap;
use std::path::Path;

use augtrain_data::util::fs::{IoError, read_regular};
use serde::{Deserialize, Serialize};

use super::common::{
    check_size, count_class_losses, finite, join_relative, polygon, unique_outputs, with_extension,
};
use super::shapes::{Shape, merge_groups, shapes_of};
use super::{ReadOutput, Sink, WriteOutput};
use crate::error::{AnnotationError, Result};
use crate::loss::Losses;
use crate::model::{BBox, Circle, Dataset, Flags, Image, Keypoint, Object, Point};

#[derive(Deserialize, Serialize)]
#[serde(rename_all = "camelCase")]
struct LabelmeFile {
    #[serde(default = "version")]
    version: String,
    #[serde(default)]
    flags: HashMap<String, bool>,
    shapes: Vec<LabelmeShape>,
    image_path: String,
    /// Base64 image bytes, skipped when reading and written as `null` (the image is at
    /// `imagePath`).
    #[serde(default)]
    image_data: Option<Skipped>,
    image_height: Option<u64>,
    image_width: Option<u64>,
}

/// A JSON value skipped when reading; never written (`None` writes `null`).
struct Skipped;

impl<'de> Deserialize<'de> for Skipped {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> std::result::Result<Self, D::Error> {
        serde::de::IgnoredAny::deserialize(d).map(|_| Skipped)
    }
}

impl Serialize for Skipped {
    fn serialize<S: serde::Serializer>(&self, s: S) -> std::result::Result<S::Ok, S::Error> {
        s.serialize_unit()
    }
}

fn version() -> String {
    "5.4.1".into()
}

#[derive(Deserialize, Serialize)]
struct LabelmeShape {
    label: String,
    points: Vec<[f64; 2]>,
    #[serde(default)]
    group_id: Option<i64>,
    #[serde(default = "polygon_type")]
    shape_type: String,
    #[serde(default)]
    flags: Option<HashMap<String, bool>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    description: Option<String>,
}

fn polygon_type() -> String {
    "polygon".into()
}

/// Read one LabelMe JSON file, or every `.json` file under a directory (sorted by name).
pub fn read(path: &Path) -> Result<ReadOutput> {
    let files: Vec<(std::path::PathBuf, String)> = if path.is_dir() {
        let all = augtrain_data::files::files_under(path)?;
        all.into_iter()
            .filter(|(p, _)| {
                p.extension()
                    .is_some_and(|e| e.eq_ignore_ascii_case("json"))
            })
            .collect()
    } else {
        vec![(path.to_path_buf(), String::new())]
    };
    let mut out = ReadOutput::default();
    for (file, rel) in files {
        let bytes = read_regular(&file).map_err(|e| IoError::new("read", &file, e))?;
        let dir = rel.rsplit_once('/').map_or("", |(d, _)| d);
        let image = parse_file(&file, &bytes, dir, &mut out.dataset, &mut out.skipped)?;
        out.dataset.images.push(image);
    }
    Ok(out)
}

/// Parse one LabelMe file whose folder, relative to the data set root, is `dir`.
pub fn parse_file(
    path: &Path,
    bytes: &[u8],
    dir: &str,
    d: &mut Dataset,
    skipped: &mut Losses,
) -> Result<Image> {
    let f: LabelmeFile = serde_json::from_slice(bytes)
        .map_err(|e| AnnotationError::malformed(path, format!("not a LabelMe JSON file: {e}")))?;
    let file_name = join_relative(dir, &f.image_path.replace('\\', "/")).ok_or_else(|| {
        AnnotationError::UnsafeName {
            path: path.to_path_buf(),
            name: f.image_path.clone(),
        }
    })?;
    let (width, height) = check_size(
        path,
        &file_name,
        f.image_width.unwrap_or(0),
        f.image_height.unwrap_or(0),
    )?;
    let mut items = Vec::new();
    for (k, s) in f.shapes.into_iter().enumerate() {
        let what = || format!("shape {} ({})", k + 1, s.shape_type);
        let Some(mut o) = shape_object(path, &s, &what, skipped)? else {
            continue;
        };
        if s.label.is_empty() {
            return Err(AnnotationError::malformed(
                path,
                format!("{}: empty label", what()),
            ));
        }
        o.class = d.class_index(&s.label);
        o.flags = flags_from(s.flags.as_ref());
        items.push((s.group_id, o));
    }
    Ok(Image {
        file_name,
        width,
        height,
        id: None,
        objects: merge_groups(items),
        tags: Vec::new(),
    })
}

fn shape_object(
    path: &Path,
    s: &LabelmeShape,
    what: &dyn Fn() -> String,
    skipped: &mut Losses,
) -> Result<Option<Object>> {
    let mut pts = Vec::with_capacity(s.points.len());
    for &[x, y] in &s.points {
        pts.push(Point {
            x: finite(path, x, what)?,
            y: finite(path, y, what)?,
        });
    }
    let need = |n: usize| -> Result<()> {
        if pts.len() == n {
            Ok(())
        } else {
            Err(AnnotationError::malformed(
                path,
                format!("{}: needs {n} points, has {}", what(), pts.len()),
            ))
        }
    };
    let mut o = Object::of_class(0);
    match s.shape_type.as_str() {
        "rectangle" => {
            need(2)?;
            o.bbox = BBox::enclosing(pts);
        }
        "polygon" => o.polygons.push(polygon(path, pts, what)?),
        "circle" => {
            need(2)?;
            let r = (pts[1].x - pts[0].x).hypot(pts[1].y - pts[0].y);
            o.circle = Some(Box::new(Circle {
                centre: pts[0],
                radius: r,
            }));
        }
        "line" | "linestrip" => {
            if pts.len() < 2 {
                return Err(AnnotationError::malformed(
                    path,
                    format!("{}: needs at least 2 points", what()),
                ));
            }
            o.polyline = Some(pts);
        }
        "point" | "points" => {
            if pts.is_empty() {
                return Err(AnnotationError::malformed(
                    path,
                    format!("{}: no points", what()),
                ));
            }
            o.keypoints = pts
                .into_iter()
                .map(|p| Keypoint {
                    x: p.x,
                    y: p.y,
                    visibility: 2,
                })
                .collect();
        }
        _ => {
            skipped.add("LabelMe shapes of other types (mask and the like: not read)");
            return Ok(None);
        }
    }
    Ok(Some(o))
}

fn flags_from(f: Option<&HashMap<String, bool>>) -> Flags {
    let on = |k: &str| f.and_then(|f| f.get(k)).copied().unwrap_or(false);
    Flags {
        iscrowd: on("iscrowd"),
        difficult: on("difficult"),
        truncated: on("truncated"),
        occluded: on("occluded"),
    }
}

fn flags_of(f: Flags) -> HashMap<String, bool> {
    [
        ("iscrowd", f.iscrowd),
        ("difficult", f.difficult),
        ("truncated", f.truncated),
        ("occluded", f.occluded),
    ]
    .into_iter()
    .filter(|(_, v)| *v)
    .map(|(k, v)| (k.to_string(), v))
    .collect()
}

/// Write one `<image name>.json` per image, beside where the image is (its `imagePath` is the
/// image's own file name).
pub fn write(d: &Dataset) -> Result<WriteOutput> {
    super::in_memory(|sink| write_to(d, sink))
}

/// Write one `<image name>.json` per image into `sink`, one image at a time.
pub fn write_to(d: &Dataset, sink: &mut dyn Sink) -> Result<Losses> {
    let mut out = WriteOutput::default();
    unique_outputs(
        "labelme",
        d.images
            .iter()
            .map(|i| (i.file_name.as_str(), with_extension(&i.file_name, "json"))),
    )?;
    count_class_losses(d, &mut out.losses);
    for image in &d.images {
        let file = file_of(d, image, &mut out.losses);
        super::put_with(sink, &with_extension(&image.file_name, "json"), &mut |w| {
            serde_json::to_writer_pretty(w, &file).map_err(std::io::Error::from)
        })?;
    }
    Ok(out.losses)
}

fn file_of(d: &Dataset, image: &Image, losses: &mut Losses) -> LabelmeFile {
    let mut shapes = Vec::new();
    let mut next_group = 1;
    for o in &image.objects {
        count_losses(o, losses);
        let drawn = shapes_of(o, losses);
        let parts: usize = drawn
            .iter()
            .map(|s| if let Shape::Points(k) = s { k.len() } else { 1 })
            .sum();
        let group = (parts > 1).then(|| {
            next_group += 1;
            next_group - 1
        });
        let label = &d.classes[o.class].name;
        let mut push = |shape_type: &str, points: Vec<[f64; 2]>| {
            shapes.push(LabelmeShape {
                label: label.clone(),
                points,
                group_id: group,
                shape_type: shape_type.into(),
                flags: Some(flags_of(o.flags)),
                description: None,
            })
        };
        for s in drawn {
            match s {
                Shape::Box(b) => push("rectangle", vec![[b.x, b.y], [b.x_max(), b.y_max()]]),
                Shape::Oriented(ob) => {
                    losses.add("oriented boxes (written as 4-point polygons)");
                    push("polygon", ob.corners().iter().map(|p| [p.x, p.y]).collect());
                }
                Shape::Polygon(p) => push("polygon", p.points.iter().map(|p| [p.x, p.y]).collect()),
                Shape::Polyline(l) => push(
                    if l.len() == 2 { "line" } else { "linestrip" },
                    l.iter().map(|p| [p.x, p.y]).collect(),
                ),
                Shape::Points(k) => k.iter().for_each(|k| push("point", vec![[k.x, k.y]])),
                Shape::Circle(c) => push(
                    "circle",
                    vec![
                        [c.centre.x, c.centre.y],
                        [c.centre.x + c.radius, c.centre.y],
                    ],
                ),
                Shape::Mask(_) => losses.add("masks (not written)"),
            }
        }
    }
    let base = image
        .file_name
        .rsplit('/')
        .next()
        .unwrap_or(&image.file_name)
        .to_string();
    LabelmeFile {
        version: version(),
        flags: HashMap::new(),
        shapes,
        image_path: base,
        image_data: None,
        image_height: Some(image.height as u64),
        image_width: Some(image.width as u64),
    }
}

fn count_losses(o: &Object, l: &mut Losses) {
    l.add_if(o.score.is_some(), "scores (not written)");
    l.add_if(o.annotator.is_some(), "annotators (not written)");
    l.add_if(o.z_order.is_some(), "z-orders (not written)");
    l.add_if(
        o.keypoints.iter().any(|k| k.visibility == 1),
        "keypoint visibility 1 (written as visible points)",
    );
}

#[cfg(test)]
mod tests {
    use super::*;

    const FILE: &str = r#"{"version": "5.4.1", "flags": {}, "imagePath": "../img/a.jpg", "imageData": "iVBORw0KGgo=",
      "imageHeight": 40, "imageWidth": 60, "shapes": [
        {"label": "car", "points": [[30, 20], [10, 5]], "group_id": null, "shape_type": "rectangle", "flags": {"occluded": true}},
        {"label": "car", "points": [[1, 1], [5, 1], [3, 4]], "group_id": 2, "shape_type": "polygon", "flags": {}},
        {"label": "car", "points": [[2, 2]], "group_id": 2, "shape_type": "point", "flags": {}},
        {"label": "wheel", "points": [[10, 10], [13, 14]], "shape_type": "circle"},
        {"label": "lane", "points": [[0, 0], [5, 5], [9, 1]], "shape_type": "linestrip"},
        {"label": "blob", "points": [], "shape_type": "mask", "mask": "xx"}
      ]}"#;

    #[test]
    fn shapes_become_objects_and_write_back() {
        let (mut d, mut skipped) = (Dataset::default(), Losses::default());
        let im = parse_file(
            Path::new("ann/a.json"),
            FILE.as_bytes(),
            "ann",
            &mut d,
            &mut skipped,
        )
        .unwrap();
        assert_eq!(
            (im.file_name.as_str(), im.width, im.height),
            ("img/a.jpg", 60, 40)
        );
        assert_eq!(im.objects.len(), 4);
        assert_eq!(
            im.objects[0].bbox,
            Some(BBox {
                x: 10.0,
                y: 5.0,
                width: 20.0,
                height: 15.0
            })
        );
        assert!(im.objects[0].flags.occluded);
        assert_eq!(
            (im.objects[1].polygons.len(), im.objects[1].keypoints.len()),
            (1, 1)
        );
        assert_eq!(im.objects[2].circle.as_deref().map(|c| c.radius), Some(5.0));
        assert_eq!(im.objects[3].polyline.as_ref().map(Vec::len), Some(3));
        assert_eq!(skipped.iter().count(), 1);
        d.images.push(im);
        let w = write(&d).unwrap();
        assert!(w.losses.is_empty(), "{}", w.losses);
        assert_eq!(w.files[0].path, "img/a.json");
        let (mut d2, mut s2) = (Dataset::default(), Losses::default());
        let back = parse_file(
            Path::new("img/a.json"),
            &w.files[0].bytes,
            "img",
            &mut d2,
            &mut s2,
        )
        .unwrap();
        assert_eq!(back, d.images[0]);
    }

    #[test]
    fn hostile_labelme_files_are_refused() {
        let cases = [
            (
                FILE.replace("../img/a.jpg", "../../../etc/passwd"),
                "safe relative",
            ),
            (
                FILE.replace("[[1, 1], [5, 1], [3, 4]]", "[[1, 1]]"),
                "at least 3 points",
            ),
            (
                FILE.replace("[[30, 20], [10, 5]]", "[[30, 20]]"),
                "needs 2 points",
            ),
            (
                FILE.replace("\"imageHeight\": 40", "\"imageHeight\": 1000000000"),
                "limit",
            ),
            (
                FILE.replace("\"imageHeight\": 40", "\"imageHeight\": \"forty\""),
                "invalid type",
            ),
            (FILE.replace("[[2, 2]]", "[[2, \"y\"]]"), "invalid type"),
        ];
        for (text, needle) in cases {
            let e = parse_file(
                Path::new("h.json"),
                text.as_bytes(),
                "ann",
                &mut Dataset::default(),
                &mut Losses::default(),
            )
            .unwrap_err()
            .to_string();
            assert!(e.contains(needle) && !e.contains('\n'), "{needle}: {e}");
        }
    }
}
