//! COCO JSON: `images`, `annotations`, `categories` (object detection, instance segmentation
//! and keypoints files; a `score` per annotation marks predictions).
//!
//! COCO's coordinates are the model's (continuous pixels, origin at the top-left corner), so
//! boxes, polygons and keypoints pass unchanged. Category ids need not be contiguous: each
//! class keeps its id ([`crate::model::Class::source_id`]) and writing reuses it. Masks are RLEs
//! (`{"size": [h, w], "counts": [...] | "..."}`), column-major; compressed strings are kept as
//! read. CVAT's COCO export puts `occluded` and `rotation` into an `attributes` object: read
//! and written the same way, with `difficult`/`truncated`. Reading streams the file into
//! compact structs (no JSON value trees).

use std::collections::HashMap;
use std::io::{BufRead, BufReader};
use std::path::Path;

use augtrain_data::util::fs::{IoError, open_regular};

use super::common::{check_image_name, check_size, points_from_flat, polygon};
use super::{ReadOutput, Sink, WriteOutput};
use crate::error::{AnnotationError, Result};
use crate::loss::Losses;
use crate::model::{
    BBox, Class, Dataset, Image, Keypoint, KeypointSchema, MAX_MASK_PIXELS, Mask, Object,
    OrientedBox, Origin, Rle, RleString,
};

mod json;
mod stream;

use json::{Attributes, CocoAnnotation, CocoCategory, CocoImage, Segmentation};

/// Read a COCO JSON file.
pub fn read(path: &Path) -> Result<ReadOutput> {
    let file = open_regular(path).map_err(|e| IoError::new("read", path, e))?;
    let mut reader = BufReader::with_capacity(1 << 16, file);
    let first = reader
        .fill_buf()
        .map_err(|e| IoError::new("read", path, e))?
        .iter()
        .find(|b| !b.is_ascii_whitespace())
        .copied();
    if first == Some(b'[') {
        return Err(AnnotationError::malformed(
            path,
            "this is a COCO results list (no images or categories); convert the ground-truth \
             file, whose annotations may carry a `score`",
        ));
    }
    let mut de = serde_json::Deserializer::from_reader(reader);
    let dataset = read_from(path, &mut de)?;
    Ok(ReadOutput {
        dataset,
        skipped: Losses::default(),
    })
}

/// Parse COCO JSON from bytes (for tests and fuzzing; `path` names it in errors).
pub fn parse(path: &Path, bytes: &[u8]) -> Result<Dataset> {
    read_from(path, &mut serde_json::Deserializer::from_slice(bytes))
}

/// Read the whole COCO file from `de` (which must hold nothing after it) into the model.
fn read_from<'de, R: serde_json::de::Read<'de>>(
    path: &Path,
    de: &mut serde_json::Deserializer<R>,
) -> Result<Dataset> {
    let mut convert = |a: CocoAnnotation, k: usize| {
        let aid = a.id;
        let what = move || match aid {
            Some(id) => format!("annotation id {id}"),
            None => format!("annotation {k} (without an id)"),
        };
        object_from(path, a, &what)
    };
    let parts = stream::read(path, &mut *de, &mut convert)?;
    de.end()
        .map_err(|e| AnnotationError::malformed(path, format!("not valid COCO JSON: {e}")))?;
    to_model(path, parts)
}

/// Join the streamed parts: classes from `categories`, images with their objects, each
/// object's class resolved and its mask checked against its image's size.
fn to_model(path: &Path, mut parts: stream::Parts) -> Result<Dataset> {
    let mut d = Dataset::default();
    let mut class_of = HashMap::new();
    for c in std::mem::take(&mut parts.categories) {
        if class_of.insert(c.id, d.classes.len()).is_some() {
            return Err(AnnotationError::malformed(
                path,
                format!("category id {} appears twice", c.id),
            ));
        }
        d.classes.push(class_from(c));
    }
    hoist_shared_schema(&mut d);
    let slots: Vec<Option<usize>> = parts
        .category_ids
        .iter()
        .map(|id| class_of.get(id).copied())
        .collect();
    let mut seen = std::collections::HashSet::new();
    for im in std::mem::take(&mut parts.images) {
        if !seen.insert(im.id) {
            return Err(AnnotationError::malformed(
                path,
                format!("image id {} appears twice", im.id),
            ));
        }
        let mut image = image_from(path, im)?;
        let mut objects = parts
            .objects
            .remove(&image.id.unwrap_or(0))
            .unwrap_or_default();
        objects.shrink_to_fit();
        for o in &mut objects {
            let what = || object_name(o.id);
            let class = slots[o.class].ok_or_else(|| {
                AnnotationError::malformed(
                    path,
                    format!(
                        "{}: category_id {} is not in `categories`",
                        what(),
                        parts.category_ids[o.class]
                    ),
                )
            })?;
            check_mask_size(path, o, (image.width, image.height), &what)?;
            o.class = class;
        }
        image.objects = objects;
        d.images.push(image);
    }
    if let Some((image_id, objects)) = parts.objects.iter().next() {
        return Err(AnnotationError::malformed(
            path,
            format!(
                "{}: image_id {image_id} is not in `images`",
                object_name(objects[0].id)
            ),
        ));
    }
    Ok(d)
}

/// How errors found after reading name an annotation.
fn object_name(id: Option<u64>) -> String {
    match id {
        Some(id) => format!("annotation id {id}"),
        None => "an annotation without an id".to_string(),
    }
}

/// An RLE mask must cover its image's grid (when the image's size is known).
fn check_mask_size(
    path: &Path,
    o: &Object,
    (w, h): (u32, u32),
    what: &dyn Fn() -> String,
) -> Result<()> {
    let size = match o.mask.as_deref() {
        Some(Mask::Rle(r)) => (r.width, r.height),
        Some(Mask::RleString(r)) => (r.width, r.height),
        _ => return Ok(()),
    };
    if (w, h) != (0, 0) && (w, h) != size {
        let (width, height) = size;
        return Err(AnnotationError::malformed(
            path,
            format!(
                "{}: RLE size [{height}, {width}] differs from the image's [{h}, {w}]",
                what()
            ),
        ));
    }
    Ok(())
}

fn class_from(c: CocoCategory) -> Class {
    let keypoints = (c.keypoints.is_some() || c.skeleton.is_some()).then(|| KeypointSchema {
        names: c.keypoints.unwrap_or_default(),
        skeleton: c.skeleton.unwrap_or_default(),
        flip_index: Vec::new(),
    });
    Class {
        name: c.name,
        source_id: Some(c.id),
        supercategory: c.supercategory,
        keypoints,
    }
}

/// When every class has the same keypoint schema, keep it once for the data set.
fn hoist_shared_schema(d: &mut Dataset) {
    let first = d.classes.first().and_then(|c| c.keypoints.clone());
    if first.is_some() && d.classes.len() == 1 {
        d.meta.keypoints = first;
        d.classes[0].keypoints = None;
    }
}

fn image_from(path: &Path, im: CocoImage) -> Result<Image> {
    check_image_name(path, &im.file_name)?;
    let (width, height) = check_size(
        path,
        &im.file_name,
        im.width.unwrap_or(0),
        im.height.unwrap_or(0),
    )?;
    Ok(Image {
        file_name: im.file_name,
        width,
        height,
        id: Some(im.id),
        objects: Vec::new(),
        tags: Vec::new(),
    })
}

/// The object of one annotation, its class not yet resolved (see [`to_model`]).
fn object_from(path: &Path, a: CocoAnnotation, what: &dyn Fn() -> String) -> Result<Object> {
    let mut o = Object::of_class(0);
    o.id = a.id;
    o.area = a.area;
    o.score = a.score;
    o.origin = if a.score.is_some() {
        Origin::Prediction
    } else {
        Origin::Annotation
    };
    o.annotator = a.annotator;
    o.flags.iscrowd = match a.iscrowd.unwrap_or(0) {
        0 => false,
        1 => true,
        v => {
            return Err(AnnotationError::malformed(
                path,
                format!("{}: iscrowd is {v}, not 0 or 1", what()),
            ));
        }
    };
    match a.bbox.as_deref() {
        None | Some([]) => {}
        Some(&[x, y, width, height]) => {
            o.bbox = Some(BBox {
                x,
                y,
                width,
                height,
            })
        }
        Some(v) => {
            return Err(AnnotationError::malformed(
                path,
                format!("{}: bbox has {} numbers, not 4", what(), v.len()),
            ));
        }
    }
    if let Some(attrs) = a.attributes {
        apply_attributes(&mut o, attrs);
    }
    match a.segmentation {
        None => {}
        Some(Segmentation::Polygons(polys)) => {
            for flat in polys {
                o.polygons
                    .push(polygon(path, points_from_flat(path, &flat, what)?, what)?);
            }
        }
        Some(Segmentation::Rle { size, counts }) => {
            o.mask = Some(Box::new(mask_from(path, size, counts, what)?))
        }
    }
    if let Some(flat) = a.keypoints {
        o.keypoints = keypoints_from(path, &flat, what)?;
    }
    o.shrink_to_fit();
    Ok(o)
}

fn apply_attributes(o: &mut Object, a: Attributes) {
    o.flags.occluded = a.occluded.unwrap_or(false);
    o.flags.difficult = a.difficult.unwrap_or(false);
    o.flags.truncated = a.truncated.unwrap_or(false);
    o.z_order = a.z_order;
    if let (Some(angle), Some(b)) = (a.rotation.filter(|r| *r != 0.0), o.bbox) {
        o.oriented = Some(Box::new(OrientedBox {
            cx: b.x + b.width / 2.0,
            cy: b.y + b.height / 2.0,
            width: b.width,
            height: b.height,
            angle_deg: angle,
        }));
        o.bbox = None;
    }
}

fn mask_from(
    path: &Path,
    size: [u64; 2],
    counts: json::Counts,
    what: &dyn Fn() -> String,
) -> Result<Mask> {
    let (width, height) = check_size(path, &what(), size[1], size[0])?;
    if width as u64 * height as u64 > MAX_MASK_PIXELS {
        return Err(AnnotationError::malformed(
            path,
            format!(
                "{}: RLE size [{height}, {width}] is more than the {MAX_MASK_PIXELS}-pixel mask limit",
                what()
            ),
        ));
    }
    Ok(match counts {
        json::Counts::Plain(counts) => {
            let sum: u64 = counts.iter().map(|&c| c as u64).sum();
            if sum != width as u64 * height as u64 {
                return Err(AnnotationError::malformed(
                    path,
                    format!(
                        "{}: RLE counts add up to {sum}, not {height}x{width}",
                        what()
                    ),
                ));
            }
            Mask::Rle(Rle {
                height,
                width,
                counts,
            })
        }
        json::Counts::Compressed(counts) => {
            let rle = RleString {
                height,
                width,
                counts,
            };
            // Decoded once to refuse a bad string here; kept as written for exact round trips.
            rle.decompress().map_err(|e| {
                AnnotationError::malformed(path, format!("{}: compressed RLE: {e}", what()))
            })?;
            Mask::RleString(rle)
        }
    })
}

fn keypoints_from(path: &Path, flat: &[f64], what: &dyn Fn() -> String) -> Result<Vec<Keypoint>> {
    if !flat.len().is_multiple_of(3) {
        return Err(AnnotationError::malformed(
            path,
            format!(
                "{}: {} keypoint numbers are not x,y,v triples",
                what(),
                flat.len()
            ),
        ));
    }
    flat.chunks_exact(3)
        .map(|t| match t[2] {
            v if v == 0.0 || v == 1.0 || v == 2.0 => Ok(Keypoint {
                x: t[0],
                y: t[1],
                visibility: v as u8,
            }),
            v => Err(AnnotationError::malformed(
                path,
                format!("{}: keypoint visibility {v} is not 0, 1 or 2", what()),
            )),
        })
        .collect()
}

/// Write the data set as one COCO JSON file, `annotations.json`, in memory.
pub fn write(d: &Dataset) -> Result<WriteOutput> {
    super::in_memory(|sink| write_to(d, sink))
}

/// Write the data set as one COCO JSON file, `annotations.json`, into `sink`: annotations are
/// made and serialized one at a time, straight into the file.
pub fn write_to(d: &Dataset, sink: &mut dyn Sink) -> Result<Losses> {
    let mut out = WriteOutput::default();
    let image_ids = ids(d.images.iter().map(|i| i.id));
    let class_ids = ids(d.classes.iter().map(|c| c.source_id));
    let object_ids = ids(d.images.iter().flat_map(|i| &i.objects).map(|o| o.id));
    out.losses.add_n(
        "class ids (renumbered: missing or repeated in the source)",
        d.classes
            .iter()
            .zip(&class_ids)
            .filter(|(c, id)| c.source_id.is_some_and(|s| s != **id))
            .count(),
    );
    out.losses.add_n(
        "images without a known size (written as 0x0)",
        d.images
            .iter()
            .filter(|i| i.width == 0 || i.height == 0)
            .count(),
    );
    let file = json::CocoOut {
        images: d
            .images
            .iter()
            .zip(&image_ids)
            .map(|(i, &id)| json::image_of(i, id))
            .collect(),
        categories: d
            .classes
            .iter()
            .enumerate()
            .map(|(i, c)| json::category_of(c, class_ids[i], d.keypoint_schema(i)))
            .collect(),
        annotations: json::AnnotationsOut {
            d,
            image_ids: &image_ids,
            class_ids: &class_ids,
            object_ids: &object_ids,
            losses: Default::default(),
        },
    };
    super::put_with(sink, "annotations.json", &mut |w| {
        serde_json::to_writer(w, &file).map_err(std::io::Error::from)
    })?;
    for (what, n) in file.annotations.losses.take().iter() {
        out.losses.add_n(what, n);
    }
    Ok(out.losses)
}

/// The source ids when all are present and distinct, else 1, 2, 3, ...
fn ids(source: impl Iterator<Item = Option<u64>>) -> Vec<u64> {
    let source: Vec<Option<u64>> = source.collect();
    let mut seen = std::collections::HashSet::with_capacity(source.len());
    let usable = source.iter().all(|id| id.is_some_and(|id| seen.insert(id)));
    if usable {
        source.into_iter().flatten().collect()
    } else {
        (1..=source.len() as u64).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const GOOD: &str = r#"{"images": [{"id": 1, "file_name": "a.jpg", "width": 4, "height": 3}],
        "categories": [{"id": 9, "name": "x"}],
        "annotations": [{"id": 5, "image_id": 1, "category_id": 9, "bbox": [0, 0, 2, 2], "iscrowd": 0,
                         "segmentation": [[0, 0, 2, 0, 2, 2]], "area": 2}]}"#;

    fn err(text: &str) -> String {
        parse(Path::new("h.json"), text.as_bytes())
            .unwrap_err()
            .to_string()
    }

    #[test]
    fn a_small_file_reads_and_writes_back_the_same_numbers() {
        let d = parse(Path::new("g.json"), GOOD.as_bytes()).unwrap();
        assert_eq!(d.classes[0].source_id, Some(9));
        let o = &d.images[0].objects[0];
        assert_eq!(
            (o.id, o.area, o.polygons[0].points.len()),
            (Some(5), Some(2.0), 3)
        );
        let w = write(&d).unwrap();
        assert_eq!(parse(Path::new("w.json"), &w.files[0].bytes).unwrap(), d);
    }

    /// Areas the file lacks are written as pycocotools computes them: the oracle's polygon
    /// cases (union of `frPyObjects` rasters) and compressed-RLE masks, through read and write.
    #[test]
    fn missing_areas_are_pycocotools_mask_areas() {
        let oracle = crate::oracle::load();
        let mut images = Vec::new();
        let mut annotations = Vec::new();
        let mut expected = Vec::new();
        // The cases the reader accepts (pycocotools' odd-length and 1-2 point edge cases are
        // refused as malformed).
        let readable = |p: &&crate::oracle::PolygonCase| {
            p.polygons
                .iter()
                .all(|xy| xy.len() % 2 == 0 && xy.len() >= 6)
        };
        for (k, p) in oracle.polygons.iter().filter(readable).enumerate() {
            images.push(serde_json::json!({"id": k, "file_name": format!("p{k}.png"), "width": p.width, "height": p.height}));
            annotations.push(serde_json::json!({"id": k + 1, "image_id": k, "category_id": 1, "segmentation": p.polygons}));
            expected.push(p.area as f64);
        }
        for (k, m) in oracle.masks.iter().enumerate() {
            let id = 1000 + k;
            images.push(serde_json::json!({"id": id, "file_name": format!("m{k}.png"), "width": m.width, "height": m.height}));
            annotations.push(
                serde_json::json!({"id": id, "image_id": id, "category_id": 1, "iscrowd": 1,
                "segmentation": {"size": [m.height, m.width], "counts": m.string}}),
            );
            expected.push(m.area as f64);
        }
        let text = serde_json::json!({"images": images, "annotations": annotations,
                                      "categories": [{"id": 1, "name": "x"}]});
        let d = parse(Path::new("o.json"), text.to_string().as_bytes()).unwrap();
        let written = write(&d).unwrap();
        let back: serde_json::Value = serde_json::from_slice(&written.files[0].bytes).unwrap();
        let areas: Vec<f64> = back["annotations"]
            .as_array()
            .unwrap()
            .iter()
            .map(|a| a["area"].as_f64().unwrap())
            .collect();
        assert_eq!(areas, expected);
    }

    #[test]
    fn a_bad_compressed_rle_names_the_file_and_the_annotation() {
        let bad = GOOD.replace(
            "\"segmentation\": [[0, 0, 2, 0, 2, 2]]",
            "\"segmentation\": {\"size\": [3, 4], \"counts\": \"0:0\"}",
        );
        let e = err(&bad);
        assert!(e.contains("h.json") && e.contains("annotation id 5"), "{e}");
        assert!(!e.contains('\n'), "{e}");
        let fine = GOOD.replace(
            "\"segmentation\": [[0, 0, 2, 0, 2, 2]]",
            &format!(
                "\"segmentation\": {{\"size\": [3, 4], \"counts\": \"{}\"}}",
                crate::model::Rle::encode(&[1; 12], 3, 4)
                    .unwrap()
                    .compress()
                    .counts
            ),
        );
        parse(Path::new("f.json"), fine.as_bytes()).unwrap();
    }

    #[test]
    fn hostile_coco_files_are_refused_with_one_line() {
        let cases = [
            (GOOD.replace("[0, 0, 2, 2]", "\"x\""), "invalid type"),
            (
                GOOD.replace("[0, 0, 2, 2]", "[0, 0, 2]"),
                "3 numbers, not 4",
            ),
            (
                GOOD.replace("[[0, 0, 2, 0, 2, 2]]", "[[1, 2]]"),
                "at least 3 points",
            ),
            (
                GOOD.replace("[[0, 0, 2, 0, 2, 2]]", "[[1, 2, 3]]"),
                "x,y pairs",
            ),
            (
                GOOD.replace(
                    "[[0, 0, 2, 0, 2, 2]]",
                    r#"{"size": [3, 4], "counts": [1, 2]}"#,
                ),
                "add up to 3, not 3x4",
            ),
            (
                GOOD.replace(
                    "[[0, 0, 2, 0, 2, 2]]",
                    r#"{"size": [1000000000, 1000000000], "counts": [1]}"#,
                ),
                "limit",
            ),
            (
                GOOD.replace("\"width\": 4", "\"width\": 1048576")
                    .replace("\"height\": 3", "\"height\": 1048576")
                    .replace(
                        "[[0, 0, 2, 0, 2, 2]]",
                        r#"{"size": [1048576, 1048576], "counts": [0, 4294967295]}"#,
                    ),
                "mask limit",
            ),
            (
                GOOD.replace("\"width\": 4", "\"width\": 1000000000"),
                "limit",
            ),
            (
                GOOD.replace("\"width\": 4", "\"width\": -4"),
                "invalid value",
            ),
            (GOOD.replace("a.jpg", "../../etc/passwd"), "safe relative"),
            (GOOD.replace("a.jpg", "/abs.jpg"), "safe relative"),
            (
                GOOD.replace("\"image_id\": 1", "\"image_id\": 2"),
                "not in `images`",
            ),
            (
                GOOD.replace("\"category_id\": 9", "\"category_id\": 8"),
                "not in `categories`",
            ),
            (
                GOOD.replace("\"iscrowd\": 0", "\"iscrowd\": 2"),
                "not 0 or 1",
            ),
            (
                GOOD.replace("\"area\": 2", "\"area\": 2, \"keypoints\": [1, 2]"),
                "triples",
            ),
            (
                GOOD.replace("\"area\": 2", "\"area\": 2, \"keypoints\": [1, 2, 5]"),
                "visibility",
            ),
            (
                GOOD.replace(
                    "}],\n        \"categories\"",
                    "}, {\"id\": 1, \"file_name\": \"b.jpg\"}],\n        \"categories\"",
                ),
                "appears twice",
            ),
            ("[1, 2]".to_string(), "invalid type"),
            ("{\"images\": [".to_string(), "EOF"),
        ];
        for (text, needle) in cases {
            let e = err(&text);
            assert!(e.contains(needle) && !e.contains('\n'), "{needle}: {e}");
        }
    }

    #[test]
    fn a_results_list_is_refused_by_the_file_reader() {
        let dir =
            std::env::temp_dir().join(format!("augtrain-coco-results-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let p = dir.join("r.json");
        std::fs::write(
            &p,
            r#"[{"image_id": 1, "category_id": 1, "bbox": [0, 0, 1, 1], "score": 0.5}]"#,
        )
        .unwrap();
        let e = read(&p).unwrap_err().to_string();
        assert!(e.contains("results list"), "{e}");
        let _ = std::fs::remove_dir_all(&dir);
    }
}
