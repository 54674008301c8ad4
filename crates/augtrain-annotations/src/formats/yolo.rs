//! Ultralytics YOLO text labels: one `labels/<image stem>.txt` per image, one object per line,
//! coordinates normalized by the image's width and height (0..1):
//!
//! - detection: `class cx cy w h` (box centre and size), `class cx cy w h conf` for predictions;
//! - segmentation: `class x1 y1 x2 y2 ... xn yn` (one polygon, n ≥ 3);
//! - pose: `class cx cy w h` then `kpt_shape[0]` keypoints of `kpt_shape[1]` numbers
//!   (`x y` or `x y v`).
//!
//! Class names come from `data.yaml` (`names:` as a list or an `{id: name}` map, `kpt_shape`,
//! `flip_idx`) or `classes.txt` (one name a line). Labels hold no image sizes: the reader takes
//! them from the image files (`images/` beside `labels/`, or `--images`).

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use augtrain_data::util::fs::{IoError, read_regular_text};
use rayon::prelude::*;
use serde::Deserialize;

use super::common::{
    check_size, num, number, points_from_flat, polygon, unique_outputs, with_extension,
};
use super::{ReadOptions, ReadOutput, Sink, WriteOutput};
use crate::error::{AnnotationError, Result};
use crate::loss::Losses;
use crate::model::{BBox, Class, Dataset, Image, Keypoint, KeypointSchema, Object, Origin, Point};

/// File extensions taken for images when listing an image folder.
pub const IMAGE_EXTENSIONS: [&str; 9] = [
    "jpg", "jpeg", "png", "bmp", "gif", "webp", "tif", "tiff", "jfif",
];

/// `data.yaml`, the parts augtrain uses.
#[derive(Deserialize, Default)]
struct DataYaml {
    names: Option<Names>,
    kpt_shape: Option<[usize; 2]>,
    flip_idx: Option<Vec<u32>>,
}

#[derive(Deserialize)]
#[serde(untagged)]
enum Names {
    List(Vec<String>),
    Map(std::collections::BTreeMap<usize, String>),
}

/// Where a YOLO data set's parts are.
struct Layout {
    labels: PathBuf,
    images: PathBuf,
    root: PathBuf,
}

fn layout(path: &Path, opts: &ReadOptions) -> Layout {
    // `data.yaml` or `classes.txt` named directly: its folder is the root.
    let path = if path.is_file() {
        path.parent().unwrap_or(Path::new("."))
    } else {
        path
    };
    let (root, labels) = if path.join("labels").is_dir() {
        (path.to_path_buf(), path.join("labels"))
    } else if path.file_name().is_some_and(|n| n == "labels") {
        (
            path.parent().unwrap_or(Path::new(".")).to_path_buf(),
            path.to_path_buf(),
        )
    } else {
        (path.to_path_buf(), path.to_path_buf())
    };
    let images = opts.images.clone().unwrap_or_else(|| {
        let beside = root.join("images");
        if beside.is_dir() && labels != root {
            beside
        } else {
            labels.clone()
        }
    });
    Layout {
        labels,
        images,
        root,
    }
}

/// The folder a YOLO data set's image names are relative to: `opts.images`, else `images/`
/// beside `labels/`, else the labels folder itself.
pub fn image_folder(path: &Path, opts: &ReadOptions) -> PathBuf {
    layout(path, opts).images
}

/// Read a YOLO data set rooted at `path` (the folder holding `labels/`, or `labels/` itself).
pub fn read(path: &Path, opts: &ReadOptions) -> Result<ReadOutput> {
    let lay = layout(path, opts);
    let (mut classes, schema, pose) = class_names(&lay)?;
    let images = list_images(&lay.images)?;
    let label_files = list_labels(&lay.labels)?;
    let mut by_stem: HashMap<String, PathBuf> = label_files.into_iter().collect();
    let mut d = Dataset::default();
    d.meta.keypoints = schema;
    let sized: Vec<Result<(String, u32, u32)>> = images
        .par_iter()
        .map(|(p, rel)| image_size(p).map(|(w, h)| (rel.clone(), w, h)))
        .collect();
    for item in sized {
        let (rel, width, height) = item?;
        let label = by_stem.remove(&with_extension(&rel, "txt"));
        let mut image = Image {
            file_name: rel,
            width,
            height,
            ..Image::default()
        };
        if let Some(label) = label {
            let text = read_regular_text(&label).map_err(|e| IoError::new("read", &label, e))?;
            image.objects = parse_labels(&label, &text, (width, height), pose, &mut classes)?;
        }
        d.images.push(image);
    }
    if let Some(orphan) = by_stem.into_values().min() {
        return Err(AnnotationError::malformed(
            orphan,
            format!(
                "label file without an image under {}; pass --images DIR",
                lay.images.display()
            ),
        ));
    }
    d.classes = classes;
    Ok(ReadOutput {
        dataset: d,
        skipped: Losses::default(),
    })
}

fn image_size(path: &Path) -> Result<(u32, u32)> {
    // The header's own format, not the extension: misnamed files are common.
    let bad = |e: &dyn std::fmt::Display| {
        AnnotationError::malformed(path, format!("cannot read the image's size: {e}"))
    };
    let reader = image::ImageReader::open(path).map_err(|e| bad(&e))?;
    let (w, h) = reader
        .with_guessed_format()
        .map_err(|e| bad(&e))?
        .into_dimensions()
        .map_err(|e| bad(&e))?;
    check_size(path, "", w as u64, h as u64)
}

fn list_images(dir: &Path) -> Result<Vec<(PathBuf, String)>> {
    Ok(augtrain_data::files::files_under(dir)?
        .into_iter()
        .filter(|(p, _)| {
            p.extension()
                .and_then(|e| e.to_str())
                .is_some_and(|e| IMAGE_EXTENSIONS.contains(&e.to_ascii_lowercase().as_str()))
        })
        .collect())
}

/// Label files by their name relative to the labels folder (`train/a.txt`).
fn list_labels(dir: &Path) -> Result<Vec<(String, PathBuf)>> {
    Ok(augtrain_data::files::files_under(dir)?
        .into_iter()
        .filter(|(p, rel)| p.extension().is_some_and(|e| e == "txt") && rel != "classes.txt")
        .map(|(p, rel)| (rel, p))
        .collect())
}

/// Classes, keypoint schema and pose shape `(k, dims)` from `data.yaml` or `classes.txt`.
type YoloMeta = (Vec<Class>, Option<KeypointSchema>, Option<(usize, usize)>);

fn class_names(lay: &Layout) -> Result<YoloMeta> {
    let named = |names: Vec<String>| {
        names
            .into_iter()
            .map(|name| Class {
                name,
                ..Class::default()
            })
            .collect()
    };
    for yaml in [lay.root.join("data.yaml"), lay.labels.join("data.yaml")] {
        if yaml.is_file() {
            let text = read_regular_text(&yaml).map_err(|e| IoError::new("read", &yaml, e))?;
            let data: DataYaml = serde_norway::from_str(&text).map_err(|e| {
                AnnotationError::malformed(&yaml, format!("not a YOLO data.yaml: {e}"))
            })?;
            let names = match data.names {
                None => Vec::new(),
                Some(Names::List(v)) => v,
                Some(Names::Map(m)) => map_names(&yaml, m)?,
            };
            let pose = match data.kpt_shape {
                Some([k, dims]) if (dims == 2 || dims == 3) && k <= 10_000 => Some((k, dims)),
                Some([k, dims]) => {
                    let m =
                        format!("kpt_shape [{k}, {dims}] is not [k, 2] or [k, 3] with k ≤ 10000");
                    return Err(AnnotationError::malformed(&yaml, m));
                }
                None => None,
            };
            let schema = pose.map(|_| KeypointSchema {
                flip_index: data.flip_idx.unwrap_or_default(),
                ..KeypointSchema::default()
            });
            return Ok((named(names), schema, pose));
        }
    }
    for txt in [lay.root.join("classes.txt"), lay.labels.join("classes.txt")] {
        if txt.is_file() {
            let text = read_regular_text(&txt).map_err(|e| IoError::new("read", &txt, e))?;
            let names = text
                .lines()
                .map(str::trim)
                .filter(|l| !l.is_empty())
                .map(String::from)
                .collect();
            return Ok((named(names), None, None));
        }
    }
    Ok((Vec::new(), None, None))
}

fn map_names(path: &Path, m: std::collections::BTreeMap<usize, String>) -> Result<Vec<String>> {
    if m.keys().enumerate().any(|(i, &k)| i != k) {
        return Err(AnnotationError::malformed(
            path,
            "`names` ids must be 0, 1, 2, ... without gaps",
        ));
    }
    Ok(m.into_values().collect())
}

/// Parse one label file's text for an image of `size` (width, height) pixels; `pose` is
/// `kpt_shape` as `(keypoints, numbers per keypoint)`; classes without names are added as
/// their numbers.
pub fn parse_labels(
    path: &Path,
    text: &str,
    (w, h): (u32, u32),
    pose: Option<(usize, usize)>,
    classes: &mut Vec<Class>,
) -> Result<Vec<Object>> {
    let (w, h) = (w as f64, h as f64);
    let mut objects = Vec::new();
    for (n, line) in text.lines().enumerate() {
        let what = || format!("line {}", n + 1);
        let tokens: Vec<&str> = line.split_whitespace().collect();
        let Some((first, rest)) = tokens.split_first() else {
            continue;
        };
        let class = class_id(path, first, classes, &what)?;
        let v: Vec<f64> = rest
            .iter()
            .map(|t| number(path, t, &what))
            .collect::<Result<_>>()?;
        let mut o = Object::of_class(class);
        let boxed = |v: &[f64]| BBox {
            x: (v[0] - v[2] / 2.0) * w,
            y: (v[1] - v[3] / 2.0) * h,
            width: v[2] * w,
            height: v[3] * h,
        };
        match (v.len(), pose) {
            (n, Some((k, dims))) if n == 4 + k * dims => {
                o.bbox = Some(boxed(&v));
                o.keypoints = v[4..]
                    .chunks_exact(dims)
                    .map(|c| keypoint(c, w, h))
                    .collect();
            }
            (4, _) => o.bbox = Some(boxed(&v)),
            (5, _) => {
                o.bbox = Some(boxed(&v));
                (o.score, o.origin) = (Some(v[4]), Origin::Prediction);
            }
            (n, _) if n >= 6 && n.is_multiple_of(2) => {
                let pts = points_from_flat(path, &v, &what)?;
                let pts = pts
                    .into_iter()
                    .map(|p| Point {
                        x: p.x * w,
                        y: p.y * h,
                    })
                    .collect();
                o.polygons.push(polygon(path, pts, &what)?);
            }
            (n, _) => {
                return Err(AnnotationError::malformed(
                    path,
                    format!(
                        "{}: {n} numbers after the class fit no YOLO line (4 box, 5 box+conf, 6+ even polygon, or pose per kpt_shape)",
                        what()
                    ),
                ));
            }
        }
        objects.push(o);
    }
    Ok(objects)
}

fn keypoint(c: &[f64], w: f64, h: f64) -> Keypoint {
    let visibility = if c.len() == 3 {
        c[2].clamp(0.0, 2.0).round() as u8
    } else {
        2
    };
    let visibility = if c.len() == 2 && c[0] == 0.0 && c[1] == 0.0 {
        0
    } else {
        visibility
    };
    Keypoint {
        x: c[0] * w,
        y: c[1] * h,
        visibility,
    }
}

fn class_id(
    path: &Path,
    token: &str,
    classes: &mut Vec<Class>,
    what: &dyn Fn() -> String,
) -> Result<usize> {
    let id: usize = token.parse().map_err(|_| {
        AnnotationError::malformed(
            path,
            format!("{}: class {token:?} is not a class number", what()),
        )
    })?;
    if classes.is_empty() || classes.iter().all(|c| c.name.parse::<usize>().is_ok()) {
        // No names given: classes are their numbers.
        if id > 100_000 {
            return Err(AnnotationError::malformed(
                path,
                format!("{}: class {id} is absurd", what()),
            ));
        }
        while classes.len() <= id {
            classes.push(Class {
                name: classes.len().to_string(),
                ..Class::default()
            });
        }
    }
    if id >= classes.len() {
        return Err(AnnotationError::malformed(
            path,
            format!(
                "{}: class {id}, but the names list {} classes",
                what(),
                classes.len()
            ),
        ));
    }
    Ok(id)
}

/// Write `data.yaml` and `labels/<image name>.txt` for every image (empty for images without
/// objects, so they stay listed as background).
pub fn write(d: &Dataset) -> Result<WriteOutput> {
    super::in_memory(|sink| write_to(d, sink))
}

/// Write `data.yaml` and the label files into `sink`, one image at a time.
pub fn write_to(d: &Dataset, sink: &mut dyn Sink) -> Result<Losses> {
    let mut out = WriteOutput::default();
    let label_name = |i: &Image| format!("labels/{}", with_extension(&i.file_name, "txt"));
    unique_outputs(
        "yolo",
        d.images
            .iter()
            .map(|i| (i.file_name.as_str(), label_name(i))),
    )?;
    let k = d
        .images
        .iter()
        .flat_map(|i| &i.objects)
        .map(|o| o.keypoints.len())
        .max()
        .unwrap_or(0);
    let yaml = data_yaml(d, k, &mut out.losses);
    super::put(sink, "data.yaml", yaml.as_bytes())?;
    for image in &d.images {
        let text = label_text(image, k, &mut out.losses)?;
        super::put(sink, &label_name(image), text.as_bytes())?;
    }
    Ok(out.losses)
}

fn data_yaml(d: &Dataset, k: usize, losses: &mut Losses) -> String {
    let renumbered = d
        .classes
        .iter()
        .enumerate()
        .filter(|(i, c)| c.source_id.is_some_and(|s| s != *i as u64));
    losses.add_n(
        "class ids (renumbered 0, 1, 2, ... as YOLO requires)",
        renumbered.count(),
    );
    let mut y = String::from("# Written by augtrain convert.\nnames:\n");
    for c in &d.classes {
        y += &format!(
            "  - {}\n",
            serde_json::to_string(&c.name).unwrap_or_default()
        );
    }
    if k > 0 {
        y += &format!("kpt_shape: [{k}, 3]\n");
        let schema = d
            .meta
            .keypoints
            .as_ref()
            .or_else(|| d.classes.iter().find_map(|c| c.keypoints.as_ref()));
        if let Some(s) = schema {
            if s.flip_index.len() == k {
                y += &format!("flip_idx: {:?}\n", s.flip_index);
            }
            losses.add_if(
                !s.names.is_empty() || !s.skeleton.is_empty(),
                "keypoint names and skeletons (not held by YOLO)",
            );
        }
    }
    y
}

fn label_text(image: &Image, k: usize, losses: &mut Losses) -> Result<String> {
    if !image.objects.is_empty() && (image.width == 0 || image.height == 0) {
        return Err(AnnotationError::Unwritable {
            format: "yolo",
            message: format!(
                "image {:?} has no known size, which normalized coordinates need; pass --images DIR",
                image.file_name
            ),
        });
    }
    let (w, h) = (image.width as f64, image.height as f64);
    let any_polygon = image.objects.iter().any(|o| !o.polygons.is_empty()) && k == 0;
    let mut text = String::new();
    for o in &image.objects {
        count_losses(o, k, any_polygon, losses);
        let mut fields = vec![o.class.to_string()];
        if any_polygon {
            let ring = match o.polygons.first() {
                Some(p) => p.points.clone(),
                None => rectangle(o.extent().unwrap_or_default()),
            };
            fields.extend(ring.iter().flat_map(|p| [num(p.x / w), num(p.y / h)]));
        } else {
            let b = o.bbox.or_else(|| o.extent()).unwrap_or_default();
            let centre = [
                (b.x + b.width / 2.0) / w,
                (b.y + b.height / 2.0) / h,
                b.width / w,
                b.height / h,
            ];
            fields.extend(centre.iter().map(|&v| num(v)));
            if k > 0 {
                let pad = Keypoint::default();
                let kps = o.keypoints.iter().chain(std::iter::repeat(&pad)).take(k);
                fields.extend(
                    kps.flat_map(|p| [num(p.x / w), num(p.y / h), p.visibility.to_string()]),
                );
            } else if let Some(score) = o.score {
                fields.push(num(score));
            }
        }
        text += &fields.join(" ");
        text.push('\n');
    }
    Ok(text)
}

fn rectangle(b: BBox) -> Vec<Point> {
    let (x1, y1) = (b.x_max(), b.y_max());
    vec![
        Point { x: b.x, y: b.y },
        Point { x: x1, y: b.y },
        Point { x: x1, y: y1 },
        Point { x: b.x, y: y1 },
    ]
}

fn count_losses(o: &Object, k: usize, any_polygon: bool, l: &mut Losses) {
    l.add_if(
        o.oriented.is_some(),
        "oriented boxes (written as their axis-aligned bounding boxes)",
    );
    l.add_if(
        o.polygons.len() > 1 || (k > 0 && !o.polygons.is_empty()),
        "polygons beyond one per object, or beside keypoints (not written)",
    );
    l.add_if(
        any_polygon && o.polygons.is_empty(),
        "boxes in images with polygons (written as 4-point polygons)",
    );
    l.add_if(o.mask.is_some(), "masks (not written)");
    l.add_if(
        o.polyline.is_some() || o.circle.is_some(),
        "polylines and circles (written as their boxes)",
    );
    l.add_if(
        o.score.is_some() && (k > 0 || any_polygon),
        "scores of pose or polygon objects (not written)",
    );
    l.add_if(
        o.flags != Default::default(),
        "iscrowd/difficult/truncated/occluded flags (not written)",
    );
    l.add_if(o.annotator.is_some(), "annotators (not written)");
    l.add_if(o.z_order.is_some(), "z-orders (not written)");
}

#[cfg(test)]
mod tests {
    use super::*;

    fn classes(n: usize) -> Vec<Class> {
        (0..n)
            .map(|i| Class {
                name: format!("c{i}"),
                ..Class::default()
            })
            .collect()
    }

    #[test]
    fn normalized_centres_become_pixels_at_the_borders() {
        let text = "0 0.5 0.5 1 1\n1 0.25 0.75 0.5 0.5 0.9\n\n0 0 0 1 0 1 1\n";
        let objs = parse_labels(Path::new("a.txt"), text, (64, 48), None, &mut classes(2)).unwrap();
        assert_eq!(
            objs[0].bbox,
            Some(BBox {
                x: 0.0,
                y: 0.0,
                width: 64.0,
                height: 48.0
            })
        );
        assert_eq!(
            objs[1].bbox,
            Some(BBox {
                x: 0.0,
                y: 24.0,
                width: 32.0,
                height: 24.0
            })
        );
        assert_eq!(
            (objs[1].score, objs[1].origin),
            (Some(0.9), Origin::Prediction)
        );
        assert_eq!(objs[2].polygons[0].points[2], Point { x: 64.0, y: 48.0 });
        let pose = parse_labels(
            Path::new("p.txt"),
            "0 0.5 0.5 1 1 0.5 0.25 2 0 0 0",
            (64, 48),
            Some((2, 3)),
            &mut classes(1),
        )
        .unwrap();
        assert_eq!(
            pose[0].keypoints,
            [
                Keypoint {
                    x: 32.0,
                    y: 12.0,
                    visibility: 2
                },
                Keypoint::default()
            ]
        );
    }

    #[test]
    fn a_written_line_reads_back() {
        let mut d = Dataset {
            classes: classes(1),
            ..Dataset::default()
        };
        let mut o = Object::of_class(0);
        o.bbox = Some(BBox {
            x: 0.0,
            y: 0.0,
            width: 64.0,
            height: 48.0,
        });
        d.images.push(Image {
            file_name: "a/b.jpg".into(),
            width: 64,
            height: 48,
            objects: vec![o],
            ..Image::default()
        });
        let w = write(&d).unwrap();
        assert_eq!(w.files[1].path, "labels/a/b.txt");
        assert_eq!(
            std::str::from_utf8(&w.files[1].bytes).unwrap(),
            "0 0.5 0.5 1 1\n"
        );
        assert_eq!(
            std::str::from_utf8(&w.files[0].bytes)
                .unwrap()
                .lines()
                .nth(2),
            Some("  - \"c0\"")
        );
    }

    #[test]
    fn hostile_label_lines_are_refused() {
        let cases = [
            ("5 0.5 0.5 1 1", "names list 2 classes"),
            ("x 0.5 0.5 1 1", "not a class number"),
            ("0 0.5 zero 1 1", "not a finite number"),
            ("0 0.5 NaN 1 1", "not a finite number"),
            ("0 0.5 0.5 1", "fit no YOLO line"),
            ("0 0.5 0.5 1 1 0 0 1", "fit no YOLO line"),
            ("-1 0.5 0.5 1 1", "not a class number"),
        ];
        for (line, needle) in cases {
            let e = parse_labels(Path::new("h.txt"), line, (10, 10), None, &mut classes(2))
                .unwrap_err()
                .to_string();
            assert!(e.contains(needle) && e.contains("line 1"), "{needle}: {e}");
        }
    }
}
