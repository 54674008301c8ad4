//! Round trips COCO → every format → back, on a fixture whose masks, areas and mask boxes
//! come from pycocotools (`tools/annotation_fixtures.py`): the numbers both formats hold come
//! back (exactly for COCO, within 1e-9 px where a format stores normalized or percent
//! coordinates), and what a format cannot hold is reported as a counted loss.

use std::path::{Path, PathBuf};

use augtrain_annotations::formats::{self, Format, ReadOptions, WriteOutput};
use augtrain_annotations::{BBox, Dataset, Losses, Mask};

fn fixture() -> Dataset {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../tests/fixtures/annotations/coco_small.json");
    formats::read(Format::Coco, &path, &ReadOptions::default())
        .unwrap()
        .dataset
}

fn subset(d: &Dataset, prefixes: &[&str]) -> Dataset {
    let mut s = d.clone();
    s.images
        .retain(|i| prefixes.iter().any(|p| i.file_name.starts_with(p)));
    s
}

/// The first `n` objects of every image.
fn subset_objects(d: &Dataset, n: usize) -> Dataset {
    let mut s = d.clone();
    s.images.iter_mut().for_each(|i| i.objects.truncate(n));
    s
}

fn temp(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("augtrain-ann-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

fn write_files(dir: &Path, out: &WriteOutput) {
    for f in &out.files {
        let p = dir.join(&f.path);
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(p, &f.bytes).unwrap();
    }
}

/// Write `d` as `format` into a fresh folder (with the images, for YOLO), detect and read it back.
fn round_trip(format: Format, d: &Dataset, tag: &str) -> (Dataset, Losses) {
    let dir = temp(&format!("{format}-{tag}"));
    let out = formats::write(format, d).unwrap();
    write_files(&dir, &out);
    if format == Format::Yolo {
        for im in &d.images {
            let p = dir.join("images").join(&im.file_name);
            std::fs::create_dir_all(p.parent().unwrap()).unwrap();
            image::RgbImage::new(im.width, im.height)
                .save_with_format(&p, image::ImageFormat::Png)
                .unwrap();
        }
    }
    let (found, back) = formats::read_any(&dir, None, &ReadOptions::default()).unwrap();
    assert_eq!(found, format, "detected format");
    let _ = std::fs::remove_dir_all(&dir);
    (back.dataset, out.losses)
}

fn close(a: f64, b: f64) -> bool {
    (a - b).abs() <= 1e-9 * a.abs().max(b.abs()).max(1.0)
}

fn boxes_close(a: BBox, b: BBox) -> bool {
    close(a.x, b.x) && close(a.y, b.y) && close(a.width, b.width) && close(a.height, b.height)
}

/// (image, class name, extent) of every object, sorted.
fn extents(d: &Dataset) -> Vec<(String, String, [f64; 4])> {
    let mut v: Vec<_> = d
        .images
        .iter()
        .flat_map(|i| {
            i.objects.iter().map(move |o| {
                let b = o.extent().unwrap();
                (
                    i.file_name.clone(),
                    d.classes[o.class].name.clone(),
                    [b.x, b.y, b.width, b.height],
                )
            })
        })
        .collect();
    v.sort_by(|a, b| a.partial_cmp(b).unwrap());
    v
}

fn assert_same_extents(a: &Dataset, b: &Dataset, what: &str) {
    let (ea, eb) = (extents(a), extents(b));
    assert_eq!(ea.len(), eb.len(), "{what}: {ea:?} vs {eb:?}");
    for (x, y) in ea.iter().zip(&eb) {
        assert_eq!((&x.0, &x.1), (&y.0, &y.1), "{what}");
        let (p, q) = (x.2, y.2);
        assert!(
            boxes_close(
                BBox {
                    x: p[0],
                    y: p[1],
                    width: p[2],
                    height: p[3]
                },
                BBox {
                    x: q[0],
                    y: q[1],
                    width: q[2],
                    height: q[3]
                }
            ),
            "{what}: {x:?} vs {y:?}"
        );
    }
}

#[test]
fn the_pycocotools_fixture_reads_whole() {
    let d = fixture();
    assert_eq!(d.images.len(), 5);
    assert_eq!(d.object_count(), 8);
    let ids: Vec<_> = d.classes.iter().map(|c| c.source_id).collect();
    assert_eq!(
        ids,
        [Some(3), Some(7), Some(1)],
        "non-contiguous category ids are kept"
    );
    let masks = &d.images[3].objects;
    assert!(matches!(masks[0].mask.as_deref(), Some(Mask::RleString(_))));
    let Some(Mask::Rle(rle)) = masks[1].mask.as_deref() else {
        panic!("uncompressed RLE")
    };
    assert!(masks[1].flags.iscrowd);
    // pycocotools' toBbox of the same mask is the fixture's bbox.
    let b = rle.to_bitmap();
    let expect = masks[1].bbox.unwrap();
    assert_eq!(
        [b.left as f64, b.top as f64, b.width as f64, b.height as f64],
        [expect.x, expect.y, expect.width, expect.height]
    );
    assert_eq!(
        b.data.iter().filter(|&&v| v != 0).count() as f64,
        masks[1].area.unwrap(),
        "pycocotools' area"
    );
    assert!(d.images[0].objects[0].flags.occluded);
    assert_eq!(d.images[2].objects[0].keypoints[2].visibility, 0);
}

#[test]
fn coco_to_coco_is_exact() {
    let d = fixture();
    let (back, losses) = round_trip(Format::Coco, &d, "all");
    assert!(losses.is_empty(), "{losses}");
    assert_eq!(back, d);
}

#[test]
fn boxes_survive_every_format() {
    let d = subset(&fixture(), &["boxes/", "empty/"]);
    for format in [
        Format::Yolo,
        Format::Voc,
        Format::Labelme,
        Format::Labelstudio,
        Format::Cvat,
    ] {
        let (back, losses) = round_trip(format, &d, "boxes");
        assert_same_extents(&d, &back, format.name());
        // Through COCO again: the boxes are still the same numbers.
        let again = formats::write(Format::Coco, &back).unwrap();
        let coco = formats::coco::parse(Path::new("again.json"), &again.files[0].bytes).unwrap();
        assert_same_extents(&d, &coco, format.name());
        let names: Vec<_> = back.images.iter().map(|i| i.file_name.as_str()).collect();
        assert!(
            names.contains(&"boxes/a.jpg") && names.contains(&"empty/e.jpg"),
            "{format}: {names:?}"
        );
        let occluded_kept = matches!(format, Format::Voc | Format::Labelme | Format::Cvat);
        let first = back
            .images
            .iter()
            .find(|i| i.file_name == "boxes/a.jpg")
            .unwrap();
        assert_eq!(
            first.objects.iter().any(|o| o.flags.occluded),
            occluded_kept,
            "{format}"
        );
        if !occluded_kept {
            assert!(
                losses.iter().any(|(k, n)| k.contains("occluded") && n == 1),
                "{format}: {losses}"
            );
        }
        assert!(
            !losses.is_empty(),
            "{format}: category ids are not held and must be reported"
        );
    }
}

#[test]
fn polygons_survive_the_formats_that_hold_them() {
    let d = subset(&fixture(), &["poly/"]);
    for format in [
        Format::Yolo,
        Format::Labelme,
        Format::Labelstudio,
        Format::Cvat,
    ] {
        let (back, losses) = round_trip(format, &d, "poly");
        if format == Format::Yolo {
            // One polygon per line: the two-part dog keeps its first part only (a counted loss).
            assert_same_extents(&subset_objects(&d, 1), &subset_objects(&back, 1), "yolo");
        } else if format == Format::Labelstudio {
            // Regions are independent: the two-part dog comes back as two objects (counted).
            assert_eq!(
                losses
                    .count("objects drawn as several regions (read back as one object per region)"),
                1
            );
        } else {
            assert_same_extents(&d, &back, format.name());
        }
        let polys = |d: &Dataset| -> Vec<Vec<(f64, f64)>> {
            d.images
                .iter()
                .flat_map(|i| &i.objects)
                .flat_map(|o| &o.polygons)
                .map(|p| p.points.iter().map(|q| (q.x, q.y)).collect())
                .collect()
        };
        let (a, b) = (polys(&d), polys(&back));
        let expected = if format == Format::Yolo { 2 } else { 3 };
        assert_eq!(b.len(), expected, "{format}");
        for (pa, pb) in a.iter().zip(&b) {
            assert!(
                pa.iter()
                    .zip(pb)
                    .all(|(p, q)| close(p.0, q.0) && close(p.1, q.1)),
                "{format}: {pa:?} {pb:?}"
            );
        }
        let extra =
            losses.count("polygons beyond one per object, or beside keypoints (not written)");
        assert_eq!(
            extra,
            (format == Format::Yolo) as usize,
            "{format}: {losses}"
        );
    }
    let (back, losses) = round_trip(Format::Voc, &d, "poly");
    assert_same_extents(&d, &back, "voc");
    assert_eq!(
        losses.count("polygons (written as their bounding boxes)"),
        2,
        "{losses}"
    );
}

#[test]
fn yolo_pose_keeps_keypoints_and_visibility() {
    let d = subset(&fixture(), &["pose/"]);
    let (back, losses) = round_trip(Format::Yolo, &d, "pose");
    let (a, b) = (&d.images[0].objects[0], &back.images[0].objects[0]);
    assert!(boxes_close(a.bbox.unwrap(), b.bbox.unwrap()));
    assert_eq!(a.keypoints.len(), b.keypoints.len());
    for (p, q) in a.keypoints.iter().zip(&b.keypoints) {
        assert!(
            close(p.x, q.x) && close(p.y, q.y) && p.visibility == q.visibility,
            "{p:?} {q:?}"
        );
    }
    assert_eq!(
        losses.count("keypoint names and skeletons (not held by YOLO)"),
        1,
        "{losses}"
    );
    let (_, losses) = round_trip(Format::Labelme, &d, "pose");
    assert_eq!(
        losses.count("unlabelled keypoints (visibility 0: not written)"),
        1,
        "{losses}"
    );
}

/// CVAT holds both of the fixture's masks as bitmaps: the uncompressed RLE and the compressed
/// string (decoded on write), with no loss reported; back in COCO the uncompressed one has its
/// counts again.
#[test]
fn cvat_holds_uncompressed_and_compressed_masks() {
    let d = subset(&fixture(), &["masks/"]);
    let (back, losses) = round_trip(Format::Cvat, &d, "masks");
    assert_eq!(losses.count("compressed-string RLE masks"), 0, "{losses}");
    let Some(Mask::Rle(rle)) = d.images[0].objects[1].mask.as_deref() else {
        panic!()
    };
    let masked: Vec<_> = back.images[0]
        .objects
        .iter()
        .filter_map(|o| o.mask.as_deref())
        .collect();
    assert_eq!(masked.len(), 2, "{masked:?}");
    assert!(masked.contains(&&Mask::Bitmap(rle.to_bitmap())));
    // And back to COCO: the same uncompressed counts.
    let again = formats::write(Format::Coco, &back).unwrap();
    let coco = formats::coco::parse(Path::new("again.json"), &again.files[0].bytes).unwrap();
    let masks: Vec<Mask> = coco.images[0]
        .objects
        .iter()
        .filter_map(|o| o.mask.as_deref().cloned())
        .collect();
    assert!(masks.contains(&Mask::Rle(rle.clone())), "{masks:?}");
}

#[test]
fn every_lossy_write_says_what_it_lost() {
    let d = fixture();
    for format in Format::ALL {
        let out = match formats::write(format, &d) {
            Ok(out) => out,
            Err(e) => panic!("{format}: {e}"),
        };
        assert_eq!(
            out.losses.is_empty(),
            format == Format::Coco,
            "{format}: {}",
            out.losses
        );
        for line in out.losses.to_string().lines() {
            assert!(
                line.split(' ').next().unwrap().parse::<usize>().unwrap() > 0,
                "{line}"
            );
        }
    }
}
