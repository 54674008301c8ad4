//! `augtrain convert` and annotated `inspect`: the pycocotools fixture through every format and
//! back to COCO, losses on stderr one line per kind, hostile files refused with one line,
//! exit 1 and nothing written.

use std::path::{Path, PathBuf};

use crate::support::*;

fn fixture() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/annotations/coco_small.json")
}

/// A CVAT for images file with shape attributes and an image-level tag with an attribute.
const CVAT: &str = r#"<?xml version="1.0" encoding="utf-8"?>
<annotations>
  <version>1.1</version>
  <meta><task><labels><label><name>car</name></label><label><name>scene</name></label></labels></task></meta>
  <image id="0" name="a.png" width="20" height="10">
    <box label="car" source="manual" occluded="0" xtl="1" ytl="2" xbr="8" ybr="9" z_order="0">
      <attribute name="colour">red</attribute>
    </box>
    <tag label="scene" source="manual"><attribute name="weather">rain &amp; fog</attribute></tag>
  </image>
</annotations>"#;

fn s(p: &Path) -> &str {
    p.to_str().unwrap()
}

/// Blank images of the fixture's sizes under `dir`, for YOLO (whose labels hold no sizes).
fn write_images(dir: &Path) {
    let coco = json(&fixture());
    for im in coco["images"].as_array().unwrap() {
        let p = dir.join(im["file_name"].as_str().unwrap());
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        let (w, h) = (
            im["width"].as_u64().unwrap() as u32,
            im["height"].as_u64().unwrap() as u32,
        );
        image::RgbImage::new(w, h)
            .save_with_format(&p, image::ImageFormat::Png)
            .unwrap();
    }
}

/// Box of every annotation by (file name, category name), sorted.
fn boxes(coco: &serde_json::Value) -> Vec<(String, String, Vec<f64>)> {
    let name_of = |key: &str, id: &serde_json::Value, field: &str| -> String {
        coco[key]
            .as_array()
            .unwrap()
            .iter()
            .find(|x| x["id"] == *id)
            .unwrap()[field]
            .as_str()
            .unwrap()
            .to_string()
    };
    let mut v: Vec<_> = coco["annotations"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| {
            let b = a["bbox"]
                .as_array()
                .unwrap()
                .iter()
                .map(|x| x.as_f64().unwrap())
                .collect();
            (
                name_of("images", &a["image_id"], "file_name"),
                name_of("categories", &a["category_id"], "name"),
                b,
            )
        })
        .collect();
    v.sort_by(|a, b| a.partial_cmp(b).unwrap());
    v
}

#[test]
fn coco_to_every_format_and_back_keeps_the_boxes() {
    let root = scratch("convert-roundtrip");
    let images = root.join("images");
    write_images(&images);
    let boxes_only = root.join("boxes.json");
    // The boxes image of the fixture only: every format holds boxes.
    let mut coco = json(&fixture());
    coco["images"] = serde_json::json!([coco["images"][0].clone()]);
    let anns: Vec<_> = coco["annotations"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|a| a["image_id"] == 11)
        .cloned()
        .collect();
    coco["annotations"] = serde_json::json!(anns);
    std::fs::write(&boxes_only, serde_json::to_vec(&coco).unwrap()).unwrap();
    for format in ["yolo", "voc", "labelme", "labelstudio", "cvat"] {
        let mid = root.join(format);
        let out = augtrain(&["convert", s(&boxes_only), "--to", format, "--out", s(&mid)]);
        let text = ok(&out);
        assert!(
            text.contains("converted 1 images, 3 objects"),
            "{format}: {text}"
        );
        let back = root.join(format!("{format}-coco"));
        let out = augtrain(&[
            "convert",
            s(&mid),
            "--to",
            "coco",
            "--out",
            s(&back),
            "--images",
            s(&images),
        ]);
        ok(&out);
        let again = json(&back.join("annotations.json"));
        let (a, b) = (boxes(&coco), boxes(&again));
        assert_eq!(a.len(), b.len(), "{format}");
        for (x, y) in a.iter().zip(&b) {
            assert_eq!((&x.0, &x.1), (&y.0, &y.1), "{format}");
            for (p, q) in x.2.iter().zip(&y.2) {
                assert!(
                    (p - q).abs() <= 1e-9 * p.abs().max(1.0),
                    "{format}: {x:?} vs {y:?}"
                );
            }
        }
    }
}

#[test]
fn losses_are_reported_one_line_per_kind() {
    let root = scratch("convert-losses");
    let out = augtrain(&[
        "convert",
        s(&fixture()),
        "--to",
        "voc",
        "--out",
        s(&root.join("voc")),
    ]);
    ok(&out);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("lost in voc: 2 polygons (written as their bounding boxes)"),
        "{err}"
    );
    assert!(err.contains("lost in voc: 2 masks (not written)"), "{err}");
    assert!(
        err.contains("lost in voc: 1 keypoints (not written)"),
        "{err}"
    );
    assert!(root.join("voc/Annotations/poly/b.xml").is_file());
    // Without --force an existing output is refused and kept.
    let again = augtrain(&[
        "convert",
        s(&fixture()),
        "--to",
        "voc",
        "--out",
        s(&root.join("voc")),
    ]);
    assert_eq!(again.status.code(), Some(1));
    assert!(root.join("voc/Annotations/poly/b.xml").is_file());
}

#[test]
fn hostile_annotation_files_exit_1_with_one_line_and_write_nothing() {
    let root = scratch("convert-hostile");
    let good = std::fs::read_to_string(fixture()).unwrap();
    let edit = |f: &dyn Fn(&mut serde_json::Value)| {
        let mut v = json(&fixture());
        f(&mut v);
        serde_json::to_string(&v).unwrap()
    };
    let cases = [
        ("traversal.json", good.replace("boxes/a.jpg", "../../etc/passwd")),
        ("one-point.json", edit(&|v| v["annotations"][3]["segmentation"] = serde_json::json!([[10.0, 10.0]]))),
        ("huge.json", edit(&|v| v["images"][0]["width"] = serde_json::json!(1_000_000_000u64))),
        ("types.json", edit(&|v| v["images"][0]["width"] = serde_json::json!("wide"))),
        ("rle.json", edit(&|v| v["annotations"][7]["segmentation"]["counts"][0] = serde_json::json!(1))),
        ("bomb.xml", "<?xml version=\"1.0\"?><!DOCTYPE a [<!ENTITY a \"aaaa\"><!ENTITY b \"&a;&a;&a;&a;\">]><annotations><image name=\"&b;\"/></annotations>".to_string()),
        ("track.xml", CVAT.replace("</annotations>", "<track id=\"4\" label=\"car\"><box frame=\"0\" outside=\"0\" occluded=\"0\" keyframe=\"1\" xtl=\"1\" ytl=\"1\" xbr=\"5\" ybr=\"5\"></box></track></annotations>")),
        ("brush.json", r#"[{"id": 1, "data": {"image": "a.png"}, "annotations": [{"result": [{"type": "brushlabels", "original_width": 2, "original_height": 2, "value": {"format": "rle", "rle": [0, 0, 0, 16, 224], "brushlabels": ["x"]}}]}]}]"#.to_string()),
    ];
    for (name, text) in cases {
        let src = root.join(name);
        std::fs::write(&src, text).unwrap();
        let out_dir = root.join(format!("{name}-out"));
        let out = augtrain(&["convert", s(&src), "--to", "yolo", "--out", s(&out_dir)]);
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(1), "{name}: {err}");
        assert_eq!(err.trim_end().lines().count(), 1, "{name}: {err}");
        assert!(!out_dir.exists(), "{name}: output written");
        assert!(!err.contains("panicked"), "{name}: {err}");
    }
    let out = augtrain(&[
        "convert",
        s(&fixture()),
        "--to",
        "nope",
        "--out",
        s(&root.join("x")),
    ]);
    assert_eq!(out.status.code(), Some(2));
}

#[test]
fn inspect_summarizes_annotations() {
    let out = augtrain(&["inspect", s(&fixture())]);
    let text = ok(&out);
    assert!(
        text.contains("(coco): 5 images, 8 objects, 3 classes; 1 images without objects"),
        "{text}"
    );
    assert!(
        text.lines()
            .any(|l| l.split_whitespace().collect::<Vec<_>>() == ["cat", "4", "3"]),
        "{text}"
    );
    assert!(text.contains("box sizes (COCO bins by area)"), "{text}");
    let out = augtrain(&["inspect", s(&fixture()), "--json"]);
    let v = stdout_json(&out);
    assert_eq!(v["format"], "coco");
    assert_eq!(v["annotations"]["objects"], 8);
    assert_eq!(
        v["annotations"]["box_sizes"]
            .as_array()
            .unwrap()
            .iter()
            .map(|x| x.as_u64().unwrap())
            .sum::<u64>(),
        8
    );
}

#[test]
fn cvat_attributes_and_tags_survive_cvat_and_are_listed_as_lost_elsewhere() {
    let root = scratch("convert-cvat-attributes");
    let src = root.join("annotations.xml");
    std::fs::write(&src, CVAT).unwrap();
    let again = root.join("again");
    ok(&augtrain(&[
        "convert",
        s(&src),
        "--to",
        "cvat",
        "--out",
        s(&again),
    ]));
    let text = std::fs::read_to_string(again.join("annotations.xml")).unwrap();
    assert!(
        text.contains("<attribute name=\"colour\">red</attribute>"),
        "{text}"
    );
    assert!(text.contains("<tag label=\"scene\""), "{text}");
    assert!(text.contains("rain &amp; fog"), "{text}");
    let out = augtrain(&[
        "convert",
        s(&src),
        "--to",
        "coco",
        "--out",
        s(&root.join("coco")),
    ]);
    ok(&out);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("lost in coco: 1 object attributes (not written: only CVAT holds them)"),
        "{err}"
    );
    assert!(
        err.contains("lost in coco: 1 image-level tags, with their attributes (not written: only CVAT holds them)"),
        "{err}"
    );
}

/// Label Studio brush masks (RLEs written by label-studio-converter's `mask2rle`, fixture of
/// `tools/labelstudio_brush_fixture.py`) become COCO RLE masks of the right area, and come
/// back from Label Studio to Label Studio byte for byte.
#[test]
fn label_studio_brush_masks_convert() {
    let root = scratch("convert-brush");
    let src = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/annotations/labelstudio_brush.json");
    let out = augtrain(&[
        "convert",
        s(&src),
        "--to",
        "coco",
        "--out",
        s(&root.join("coco")),
    ]);
    ok(&out);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!err.contains("lost"), "{err}");
    let coco = json(&root.join("coco/annotations.json"));
    let masks: Vec<&serde_json::Value> = coco["annotations"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|a| a["segmentation"].get("counts").is_some())
        .collect();
    assert_eq!(masks.len(), 3);
    // The disk of radius 8 holds 197 pixel centres; the rectangle is 11 x 6.
    assert_eq!(
        masks[0]["segmentation"]["size"],
        serde_json::json!([23, 37])
    );
    assert_eq!(masks[0]["area"], 197.0);
    assert_eq!(masks[1]["area"], 66.0);
    let ls = root.join("ls");
    ok(&augtrain(&[
        "convert",
        s(&src),
        "--to",
        "labelstudio",
        "--out",
        s(&ls),
    ]));
    let rles = |v: serde_json::Value| -> Vec<serde_json::Value> {
        let tasks = v.as_array().unwrap().clone();
        tasks
            .iter()
            .flat_map(|t| t["annotations"][0]["result"].as_array().unwrap().clone())
            .filter_map(|r| r["value"].get("rle").cloned())
            .collect()
    };
    assert_eq!(rles(json(&ls.join("tasks.json"))), rles(json(&src)));
}
