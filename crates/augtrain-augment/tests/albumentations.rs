//! Targets against Albumentations 2.0.8 (`tools/geometry_oracle.py` writes the fixture): for
//! deterministic pipelines our boxes (Pascal VOC and COCO), keypoints and polygon vertices
//! equal Albumentations' within 1e-3 px, after the one documented convention shift (keypoints
//! are continuous here, pixel indices there: +0.5), except where we deliberately differ (Resize
//! of keypoints, see README "Geometry conventions").

use augtrain_annotations::model::{BBox, Keypoint, Object, Point, Polygon};
use augtrain_augment::targets::{KeypointSchemas, TargetOptions, object::Frame, transform_objects};
use augtrain_augment::{PipelineSpec, Program};
use augtrain_data::ImageShape;
use serde_json::Value;

const TOLERANCE: f64 = 1e-3;

fn fixture() -> Value {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../tests/fixtures/geometry/albumentations.json"
    );
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

fn pairs(v: &Value) -> Vec<Vec<f64>> {
    v.as_array()
        .unwrap()
        .iter()
        .map(|r| {
            r.as_array()
                .unwrap()
                .iter()
                .map(|x| x.as_f64().unwrap())
                .collect()
        })
        .collect()
}

fn close(name: &str, what: &str, got: &[f64], want: &[f64]) {
    assert_eq!(got.len(), want.len(), "{name}: {what}");
    for (g, w) in got.iter().zip(want) {
        assert!(
            (g - w).abs() <= TOLERANCE,
            "{name}: {what}: got {got:?}, Albumentations {want:?}"
        );
    }
}

/// One case's objects: each box as its own object, then one object with every keypoint and
/// one with the polygon.
fn objects(case: &Value) -> Vec<Object> {
    let mut objs: Vec<Object> = pairs(&case["boxes"])
        .iter()
        .map(|b| Object {
            bbox: Some(BBox::from_corners(b[0], b[1], b[2], b[3])),
            ..Object::default()
        })
        .collect();
    objs.push(Object {
        keypoints: pairs(&case["keypoints"])
            .iter()
            .map(|k| Keypoint {
                x: k[0],
                y: k[1],
                visibility: 2,
            })
            .collect(),
        ..Object::default()
    });
    objs.push(Object {
        keypoints: pairs(&case["polygon"])
            .iter()
            .map(|k| Keypoint {
                x: k[0],
                y: k[1],
                visibility: 2,
            })
            .collect(),
        ..Object::default()
    });
    objs
}

#[test]
fn targets_match_albumentations() {
    let doc = fixture();
    assert_eq!(doc["albumentations"], "2.0.8");
    for case in doc["cases"].as_array().unwrap() {
        let name = case["name"].as_str().unwrap();
        let spec = PipelineSpec::from_toml(case["pipeline"].as_str().unwrap(), name).unwrap();
        let (w, h) = (
            case["width"].as_u64().unwrap(),
            case["height"].as_u64().unwrap(),
        );
        let prog = Program::new(&spec, ImageShape::new(w as usize, h as usize, 3)).unwrap();
        assert_eq!(
            prog.output.width as u64,
            case["out_width"].as_u64().unwrap(),
            "{name}"
        );
        assert_eq!(
            prog.output.height as u64,
            case["out_height"].as_u64().unwrap(),
            "{name}"
        );
        let params = &prog.draw(1, 0, &[0])[0];
        let frame = Frame::of(params, prog.output.width, prog.output.height);
        let opts = TargetOptions {
            drop_outside_keypoints: false,
            ..TargetOptions::default()
        };
        let out = transform_objects(&objects(case), &frame, &opts, &KeypointSchemas::default());
        let n_boxes = pairs(&case["boxes"]).len();
        assert_eq!(out.len(), n_boxes + 2, "{name}: an object was dropped");
        for (k, want) in pairs(&case["boxes_out"]).iter().enumerate() {
            let b = out[k].bbox.unwrap();
            close(
                name,
                "pascal_voc box",
                &[b.x, b.y, b.x_max(), b.y_max()],
                want,
            );
        }
        for (k, want) in pairs(&case["coco_out"]).iter().enumerate() {
            let b = out[k].bbox.unwrap();
            close(name, "coco box", &[b.x, b.y, b.width, b.height], want);
        }
        // Resize: Albumentations scales keypoint indices (x·s), which moves them off the pixel
        // they marked by (s − 1)/2; ours follow the pixels: ours = theirs + 0.5·s − 0.5 in its
        // index convention, i.e. theirs (shifted +0.5) + 0.5·s − 0.5.
        let shift = if name == "resize" {
            let (sx, sy) = (
                prog.output.width as f64 / w as f64,
                prog.output.height as f64 / h as f64,
            );
            [0.5 * sx - 0.5, 0.5 * sy - 0.5]
        } else {
            [0.0, 0.0]
        };
        for (obj, key) in [(n_boxes, "keypoints_out"), (n_boxes + 1, "polygon_out")] {
            for (k, want) in pairs(&case[key]).iter().enumerate() {
                let p = out[obj].keypoints[k];
                close(
                    name,
                    key,
                    &[p.x, p.y],
                    &[want[0] + shift[0], want[1] + shift[1]],
                );
            }
        }
    }
}

#[test]
fn polygons_follow_the_same_map_as_their_vertices() {
    let doc = fixture();
    let mut checked = 0;
    for case in doc["cases"].as_array().unwrap() {
        let name = case["name"].as_str().unwrap();
        let spec = PipelineSpec::from_toml(case["pipeline"].as_str().unwrap(), name).unwrap();
        let (w, h) = (
            case["width"].as_u64().unwrap(),
            case["height"].as_u64().unwrap(),
        );
        let prog = Program::new(&spec, ImageShape::new(w as usize, h as usize, 3)).unwrap();
        let params = &prog.draw(1, 0, &[0])[0];
        let frame = Frame::of(params, prog.output.width, prog.output.height);
        let points: Vec<Point> = pairs(&case["polygon"])
            .iter()
            .map(|p| Point { x: p[0], y: p[1] })
            .collect();
        let o = Object {
            polygons: vec![Polygon {
                points: points.clone(),
            }],
            ..Object::default()
        };
        let out = transform_objects(&[o], &frame, &TargetOptions::default(), &Default::default());
        let got = &out[0].polygons[0].points;
        let mapped: Vec<Point> = points.iter().map(|p| frame.forward.point(*p)).collect();
        let inside =
            |p: &Point| (0.0..=frame.width).contains(&p.x) && (0.0..=frame.height).contains(&p.y);
        if !mapped.iter().all(inside) {
            // Cut to the image: every vertex inside, fewer or other vertices.
            assert!(got.iter().all(inside), "{name}: {got:?}");
            continue;
        }
        checked += 1;
        assert_eq!(got.len(), points.len(), "{name}");
        for (g, p) in got.iter().zip(&points) {
            let want = frame.forward.point(*p);
            close(name, "polygon vertex", &[g.x, g.y], &[want.x, want.y]);
        }
    }
    assert!(checked >= 5, "only {checked} cases kept the polygon whole");
}

#[test]
fn reflect_borders_add_no_keypoint_copies_here() {
    // Albumentations 2.0.8 adds mirrored copies of keypoints into reflected regions; we keep
    // one keypoint per annotated keypoint whatever the border.
    let doc = fixture();
    let n_in = doc["reflect_keypoints_in"].as_u64().unwrap();
    assert!(doc["reflect_keypoints_out"].as_u64().unwrap() > n_in);
    let spec = PipelineSpec::from_toml(
        "version = 1\nborder = \"reflect\"\n[[ops]]\nop = \"affine\"\ndegrees = [30.0, 30.0]\n",
        "reflect",
    )
    .unwrap();
    let prog = Program::new(&spec, ImageShape::new(64, 48, 3)).unwrap();
    let params = &prog.draw(1, 0, &[0])[0];
    let frame = Frame::of(params, 64, 48);
    let case = &doc["cases"][0];
    let objs = objects(case);
    let out = transform_objects(
        &objs[3..4],
        &frame,
        &TargetOptions::default(),
        &Default::default(),
    );
    assert_eq!(out[0].keypoints.len() as u64, n_in);
}
