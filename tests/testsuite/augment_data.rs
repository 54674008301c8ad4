//! `augtrain augment --data ANNOTATED --copies N --out DIR`: the written annotations equal the
//! host maps of the recorded parameters (COCO and YOLO), `--replay` redoes images and targets
//! byte for byte, masks move with the pixels, and hostile coordinates are refused with one line, exit 1 and nothing
//! written.

use std::path::{Path, PathBuf};

use crate::support::*;

fn s(p: &Path) -> &str {
    p.to_str().unwrap()
}

/// The annotation fixture without its mask image, as COCO, with textured images under
/// `root/img` (so that flips and crops change the pixels).
fn coco_without_masks(root: &Path) -> (PathBuf, PathBuf) {
    let src =
        Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/annotations/coco_small.json");
    let mut coco = json(&src);
    let masked: Vec<u64> = coco["images"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|i| i["file_name"].as_str().unwrap().starts_with("masks/"))
        .map(|i| i["id"].as_u64().unwrap())
        .collect();
    coco["images"]
        .as_array_mut()
        .unwrap()
        .retain(|i| !masked.contains(&i["id"].as_u64().unwrap()));
    coco["annotations"]
        .as_array_mut()
        .unwrap()
        .retain(|a| !masked.contains(&a["image_id"].as_u64().unwrap()));
    std::fs::create_dir_all(root).unwrap();
    let file = root.join("coco.json");
    std::fs::write(&file, serde_json::to_vec(&coco).unwrap()).unwrap();
    let images = root.join("img");
    for im in coco["images"].as_array().unwrap() {
        let p = images.join(im["file_name"].as_str().unwrap());
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        let (w, h) = (
            im["width"].as_u64().unwrap() as u32,
            im["height"].as_u64().unwrap() as u32,
        );
        image::RgbImage::from_fn(w, h, |x, y| {
            image::Rgb([(x * 7 % 256) as u8, (y * 5 % 256) as u8, 90])
        })
        .save_with_format(&p, image::ImageFormat::Png)
        .unwrap();
    }
    (file, images)
}

const PIPELINE: &str = "version = 1
[[ops]]
op = \"hflip\"
p = 0.5
[[ops]]
op = \"affine\"
degrees = [-20.0, 20.0]
scale = [0.9, 1.1]
[[ops]]
op = \"iou_crop\"
width = 40
height = 40
[[ops]]
op = \"brightness\"
factor = [0.8, 1.2]
[targets]
min_visibility = 0.2
";

fn records(out: &Path) -> Vec<serde_json::Value> {
    std::fs::read_to_string(out.join("params.jsonl"))
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

/// Forward map of a record (the inverse of its output → input `affine`).
fn forward(record: &serde_json::Value) -> [f64; 6] {
    let m: Vec<f64> = record["params"]["affine"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_f64().unwrap())
        .collect();
    let det = m[0] * m[4] - m[1] * m[3];
    let (a, b, d, e) = (m[4] / det, -m[1] / det, -m[3] / det, m[0] / det);
    [a, b, -(a * m[2] + b * m[5]), d, e, -(d * m[2] + e * m[5])]
}

/// A COCO box `[x, y, w, h]` through `f` by its corners, clipped to `w × h`.
fn mapped_box(f: &[f64; 6], b: &[f64], w: f64, h: f64) -> [f64; 4] {
    let pts = [
        (b[0], b[1]),
        (b[0] + b[2], b[1]),
        (b[0], b[1] + b[3]),
        (b[0] + b[2], b[1] + b[3]),
    ];
    let (mut x0, mut y0, mut x1, mut y1) = (f64::MAX, f64::MAX, f64::MIN, f64::MIN);
    for (x, y) in pts {
        let (u, v) = (f[0] * x + f[1] * y + f[2], f[3] * x + f[4] * y + f[5]);
        (x0, y0, x1, y1) = (x0.min(u), y0.min(v), x1.max(u), y1.max(v));
    }
    [
        x0.clamp(0.0, w),
        y0.clamp(0.0, h),
        x1.clamp(0.0, w),
        y1.clamp(0.0, h),
    ]
}

/// Checks that every box written for the augmented copies `recs` (in `out`) is the clipped
/// host map of one `input` box of the same source image; returns how many boxes it checked.
fn check_mapped_boxes(
    input: &serde_json::Value,
    written: &serde_json::Value,
    recs: &[serde_json::Value],
    out: &Path,
) -> usize {
    assert_eq!(written["images"].as_array().unwrap().len(), 12);
    let mut checked = 0;
    for (k, rec) in recs.iter().enumerate() {
        let file = rec["file"].as_str().unwrap();
        assert!(out.join(file).is_file(), "{file}");
        let src = &input["images"][rec["index"].as_u64().unwrap() as usize];
        assert_eq!(src["file_name"], rec["image"]);
        let img = &written["images"][k];
        assert_eq!(
            (img["width"].as_u64(), img["height"].as_u64()),
            (Some(40), Some(40))
        );
        let f = forward(rec);
        let theirs: Vec<&serde_json::Value> = input["annotations"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|a| a["image_id"] == src["id"])
            .collect();
        let ours: Vec<&serde_json::Value> = written["annotations"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|a| a["image_id"] == img["id"])
            .collect();
        assert!(ours.len() <= theirs.len());
        // Every written box is the clipped host map of one input box of that image.
        for a in ours {
            let got: Vec<f64> = a["bbox"]
                .as_array()
                .unwrap()
                .iter()
                .map(|v| v.as_f64().unwrap())
                .collect();
            let found = theirs.iter().any(|t| {
                let b: Vec<f64> = t["bbox"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .map(|v| v.as_f64().unwrap())
                    .collect();
                let m = mapped_box(&f, &b, 40.0, 40.0);
                let want = [m[0], m[1], m[2] - m[0], m[3] - m[1]];
                want.iter().zip(&got).all(|(w, g)| (w - g).abs() < 1e-6)
            });
            assert!(found, "record {k}: box {got:?} is no input box's map");
            checked += 1;
        }
    }
    checked
}

#[test]
fn coco_copies_carry_boxes_mapped_by_their_recorded_parameters() {
    let root = scratch("augment-data-coco");
    let (coco, images) = coco_without_masks(&root);
    let pipeline = root.join("det.toml");
    std::fs::write(&pipeline, PIPELINE).unwrap();
    let out = root.join("out");
    let preview = root.join("sheet.png");
    ok(&augtrain(&[
        "augment",
        "--data",
        s(&coco),
        "--images",
        s(&images),
        "--pipeline",
        s(&pipeline),
        "--copies",
        "3",
        "--out",
        s(&out),
        "--preview",
        s(&preview),
    ]));
    assert!(preview.is_file());
    let recs = records(&out);
    assert_eq!(recs.len(), 4 * 3);
    let checked = check_mapped_boxes(
        &json(&coco),
        &json(&out.join("annotations.json")),
        &recs,
        &out,
    );
    assert!(checked >= 12, "only {checked} boxes checked");

    // Replay: the same images and annotations, byte for byte.
    let again = root.join("again");
    ok(&augtrain(&[
        "augment",
        "--data",
        s(&coco),
        "--images",
        s(&images),
        "--replay",
        s(&out.join("params.jsonl")),
        "--out",
        s(&again),
    ]));
    assert_eq!(
        std::fs::read(out.join("annotations.json")).unwrap(),
        std::fs::read(again.join("annotations.json")).unwrap()
    );
    for rec in &recs {
        let file = rec["file"].as_str().unwrap();
        assert_eq!(
            std::fs::read(out.join(file)).unwrap(),
            std::fs::read(again.join(file)).unwrap(),
            "{file}"
        );
    }
}

#[test]
fn yolo_copies_keep_yolo_and_the_mapped_boxes() {
    let root = scratch("augment-data-yolo");
    let (coco, images) = coco_without_masks(&root);
    let yolo = root.join("yolo");
    ok(&augtrain(&[
        "convert",
        s(&coco),
        "--to",
        "yolo",
        "--out",
        s(&yolo),
    ]));
    copy_tree(&images, &yolo.join("images"));
    let pipeline = root.join("flip.toml");
    std::fs::write(&pipeline, "version = 1\n[[ops]]\nop = \"hflip\"\np = 1.0\n").unwrap();
    let out = root.join("out");
    ok(&augtrain(&[
        "augment",
        "--data",
        s(&yolo),
        "--pipeline",
        s(&pipeline),
        "--copies",
        "1",
        "--out",
        s(&out),
    ]));
    // boxes/a.jpg is 64 wide: a flipped YOLO centre x becomes 1 − x, sizes unchanged.
    let before = std::fs::read_to_string(yolo.join("labels/boxes/a.txt")).unwrap();
    let after = std::fs::read_to_string(out.join("labels/boxes/a-aug0.txt")).unwrap();
    let rows = |t: &str| -> Vec<Vec<f64>> {
        t.lines()
            .map(|l| l.split_whitespace().map(|v| v.parse().unwrap()).collect())
            .collect()
    };
    let (b, a) = (rows(&before), rows(&after));
    assert_eq!(b.len(), a.len());
    assert!(!b.is_empty());
    for (x, y) in b.iter().zip(&a) {
        assert_eq!(x[0], y[0]);
        assert!(
            (1.0 - x[1] - y[1]).abs() < 1e-5 && (x[2] - y[2]).abs() < 1e-5,
            "{x:?} {y:?}"
        );
        assert!(
            (x[3] - y[3]).abs() < 1e-5 && (x[4] - y[4]).abs() < 1e-5,
            "{x:?} {y:?}"
        );
    }
    assert!(out.join("images/boxes/a-aug0.png").is_file());
}

fn copy_tree(from: &Path, to: &Path) {
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        let target = to.join(entry.file_name());
        if entry.file_type().unwrap().is_dir() {
            copy_tree(&entry.path(), &target);
        } else {
            std::fs::create_dir_all(to).unwrap();
            std::fs::copy(entry.path(), target).unwrap();
        }
    }
}

/// An object's RLE mask moves with the pixels: a flip (p = 1) of a 6x4 image sends the
/// foreground column 1 to column 4 (column-major counts [4, 4, 16] -> [16, 4, 4]), written back
/// as an RLE in the COCO output beside the flipped box.
#[test]
fn object_masks_move_with_the_pixels() {
    let root = scratch("augment-data-masks");
    let img = root.join("img");
    std::fs::create_dir_all(&img).unwrap();
    image::RgbImage::from_fn(6, 4, |x, y| image::Rgb([(x * 40) as u8, (y * 60) as u8, 9]))
        .save_with_format(img.join("m.png"), image::ImageFormat::Png)
        .unwrap();
    let coco = root.join("coco.json");
    std::fs::write(
        &coco,
        serde_json::json!({
            "images": [{"id": 1, "file_name": "m.png", "width": 6, "height": 4}],
            "categories": [{"id": 1, "name": "stick"}],
            "annotations": [{"id": 1, "image_id": 1, "category_id": 1, "iscrowd": 1,
                "bbox": [1, 0, 1, 4], "area": 4,
                "segmentation": {"size": [4, 6], "counts": [4, 4, 16]}}]
        })
        .to_string(),
    )
    .unwrap();
    let pipeline = root.join("flip.toml");
    std::fs::write(&pipeline, "version = 1\n[[ops]]\nop = \"hflip\"\np = 1.0\n").unwrap();
    let out = root.join("out");
    ok(&augtrain(&[
        "augment",
        "--data",
        s(&coco),
        "--images",
        s(&img),
        "--pipeline",
        s(&pipeline),
        "--copies",
        "1",
        "--out",
        s(&out),
    ]));
    let written = std::fs::read_dir(&out)
        .unwrap()
        .map(|e| e.unwrap().path())
        .find(|p| p.extension().is_some_and(|e| e == "json"))
        .expect("a COCO file");
    let ann = &json(&written)["annotations"][0];
    let numbers = |v: &serde_json::Value| -> Vec<f64> {
        v.as_array()
            .unwrap()
            .iter()
            .map(|x| x.as_f64().unwrap())
            .collect()
    };
    assert_eq!(
        numbers(&ann["segmentation"]["counts"]),
        [16.0, 4.0, 4.0],
        "{ann}"
    );
    assert_eq!(numbers(&ann["bbox"]), [4.0, 0.0, 1.0, 4.0], "{ann}");
}

#[test]
fn nan_coordinates_are_refused_with_nothing_written() {
    let root = scratch("augment-data-hostile");
    let out = root.join("out");
    let (coco, images) = coco_without_masks(&root);
    let yolo = root.join("yolo");
    ok(&augtrain(&[
        "convert",
        s(&coco),
        "--to",
        "yolo",
        "--out",
        s(&yolo),
    ]));
    copy_tree(&images, &yolo.join("images"));
    std::fs::write(yolo.join("labels/boxes/a.txt"), "0 nan 0.5 0.2 0.2\n").unwrap();
    let run = augtrain(&[
        "augment",
        "--data",
        s(&yolo),
        "--copies",
        "1",
        "--out",
        s(&out),
    ]);
    let err = one_error_line(&run, 1);
    assert!(err.contains("a.txt"), "{err}");
    assert!(!out.exists());
}
