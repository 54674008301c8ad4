//! Pipeline specs (TOML and JSON) and training configs: parsed, checked to survive a write
//! and read round trip, compiled and run on the CPU twin.

use augtrain_annotations::model::{BBox, Keypoint, Object, OrientedBox, Point, Polygon};
use augtrain_augment::targets::object::Frame;
use augtrain_augment::targets::{KeypointSchemas, transform_objects};
use augtrain_augment::{PipelineSpec, Program, cpu};
use augtrain_data::ImageShape;
use augtrain_run::config::{AugmentConfig, TrainConfig};

/// Largest output (channels × height × width) of one image that [`exercise_spec`] runs;
/// valid specs may resize up to 16384², beyond what a fuzzing process should allocate.
const MAX_OUTPUT_VALUES: usize = 1 << 16;

/// Annotations of a `w × h` image that stress the target maps: boxes on and beyond the border
/// (1.0025 of the image), degenerate and inverted boxes, zero-size oriented boxes, polygons
/// with repeated or collinear points, keypoints outside; plus boxes derived from `bytes`
/// (coordinates in [−w, 2w] × [−h, 2h]).
fn hostile_objects(w: f64, h: f64, bytes: &[u8]) -> Vec<Object> {
    let kp = |x, y, visibility| Keypoint { x, y, visibility };
    let pt = |x, y| Point { x, y };
    let mut objects = vec![
        Object {
            bbox: Some(BBox::from_corners(0.0, 0.0, w * 1.0025, h * 1.0025)),
            keypoints: vec![
                kp(-1.0, 0.0, 2),
                kp(w, h, 2),
                kp(0.5, 0.5, 1),
                kp(0.0, 0.0, 0),
            ],
            ..Object::default()
        },
        Object {
            bbox: Some(BBox::from_corners(2.0, 2.0, 2.0, 2.0)),
            oriented: Some(Box::new(OrientedBox {
                cx: 1.0,
                cy: 1.0,
                width: 0.0,
                height: 0.0,
                angle_deg: 45.0,
            })),
            ..Object::default()
        },
        Object {
            bbox: Some(BBox {
                x: w,
                y: h,
                width: -3.0,
                height: -2.0,
            }),
            polygons: vec![Polygon {
                points: vec![pt(0.0, 0.0), pt(0.0, 0.0), pt(1.0, 1.0)],
            }],
            ..Object::default()
        },
        Object {
            polygons: vec![Polygon {
                points: vec![pt(-w, -h), pt(2.0 * w, 0.0), pt(0.0, 2.0 * h)],
            }],
            polyline: Some(vec![pt(0.0, 0.0), pt(w, h)]),
            ..Object::default()
        },
    ];
    for (k, c) in bytes.chunks_exact(4).take(16).enumerate() {
        let at = |b: u8, side: f64| (f64::from(b) / 255.0 * 3.0 - 1.0) * side;
        objects.push(Object {
            class: k % 3,
            bbox: Some(BBox::from_corners(
                at(c[0], w),
                at(c[1], h),
                at(c[2], w),
                at(c[3], h),
            )),
            keypoints: vec![kp(at(c[1], w), at(c[2], h), 2)],
            ..Object::default()
        });
    }
    objects
}

/// Draw with the objects' boxes and move the objects: no panic, and every kept box lies in
/// the output image.
fn exercise_targets(program: &Program, objects: &[Object]) {
    let boxes: Vec<[f64; 4]> = objects
        .iter()
        .filter_map(|o| o.bbox)
        .map(|b| [b.x, b.y, b.x_max(), b.y_max()])
        .collect();
    let (ow, oh) = (program.output.width, program.output.height);
    for params in program.draw_with_boxes(11, 3, &[5, 9], &[boxes.clone(), boxes]) {
        let frame = Frame::of(&params, ow, oh);
        let moved = transform_objects(
            objects,
            &frame,
            &program.spec.targets,
            &KeypointSchemas::default(),
        );
        for b in moved.iter().filter_map(|o| o.bbox) {
            assert!(
                b.x >= 0.0 && b.y >= 0.0 && b.x_max() <= ow as f64 && b.y_max() <= oh as f64,
                "a kept box leaves the {ow}x{oh} output: {b:?}"
            );
        }
    }
}

/// A valid spec must write TOML that reads back as the same spec (runs record their
/// pipeline this way), then compile and run on two small images, gray and RGB, with finite
/// output values, and move hostile annotations (see [`hostile_objects`]) without panicking.
fn exercise_spec(spec: &PipelineSpec) {
    exercise_spec_with(spec, &[]);
}

fn exercise_spec_with(spec: &PipelineSpec, bytes: &[u8]) {
    let text = spec.to_toml();
    let again = PipelineSpec::from_toml(&text, "again.toml");
    assert_eq!(
        again.as_ref(),
        Ok(spec),
        "a valid spec does not read back:\n{text}"
    );
    let _ = spec.eval_version();
    for channels in [1usize, 3] {
        let (w, h) = (7usize, 5usize);
        let Ok(program) = Program::new(spec, ImageShape::new(w, h, channels)) else {
            continue;
        };
        let (ow, oh) = (program.output.width, program.output.height);
        if channels * oh * ow > MAX_OUTPUT_VALUES {
            continue;
        }
        exercise_targets(&program, &hostile_objects(w as f64, h as f64, bytes));
        let images: Vec<Vec<u8>> = (0..2)
            .map(|k| {
                (0..w * h * channels)
                    .map(|i| (i * 37 + k * 101) as u8)
                    .collect()
            })
            .collect();
        let refs: Vec<&[u8]> = images.iter().map(Vec::as_slice).collect();
        let params = program.draw(11, 3, &[5, 9]);
        let Ok(words) = program.pack(&params) else {
            continue;
        };
        let mut out = vec![0f32; refs.len() * channels * oh * ow];
        cpu::run(&program.header(refs.len()), &words, &refs, &mut out);
        assert!(
            out.iter().all(|v| v.is_finite()),
            "the CPU twin wrote a non-finite value"
        );
    }
}

/// Pipeline specs in TOML (`--augment file.toml`).
pub fn pipeline_toml(bytes: &[u8]) -> bool {
    PipelineSpec::from_toml(&String::from_utf8_lossy(bytes), "spec.toml")
        .map(|spec| exercise_spec_with(&spec, bytes))
        .is_ok()
}

/// Pipeline specs in JSON (`--augment file.json`).
pub fn pipeline_json(bytes: &[u8]) -> bool {
    PipelineSpec::from_json(&String::from_utf8_lossy(bytes), "spec.json")
        .map(|spec| exercise_spec_with(&spec, bytes))
        .is_ok()
}

/// Training configs in TOML (`--config`); a valid one must read back from its own TOML as
/// the same config (a run directory's `config.toml` is read again by `--resume`).
pub fn config(bytes: &[u8]) -> bool {
    let Ok(cfg) = TrainConfig::from_toml(&String::from_utf8_lossy(bytes), "config.toml") else {
        return false;
    };
    let text = cfg.to_toml();
    let again = TrainConfig::from_toml(&text, "again.toml")
        .unwrap_or_else(|e| panic!("a valid config does not read back: {e}\n{text}"));
    assert_eq!(again, cfg, "a valid config reads back changed:\n{text}");
    let _ = cfg.data.source();
    if let AugmentConfig::Pipeline { spec } = &cfg.augment {
        exercise_spec(spec);
    }
    true
}
