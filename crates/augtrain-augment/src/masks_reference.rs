//! [`crate::masks`] against Albumentations 2.0.8: the fixture
//! `tests/fixtures/augment/masks_albumentations.json` (written by
//! `tools/albumentations_mask_reference.py`) holds two masks at odd sizes, each through
//! deterministic pipelines (flips, fixed rotations, a fixed crop, resizes, pads) with nearest
//! interpolation, and the augtrain pipeline meant to be the same. Only pixels on region borders
//! may differ, fewer than 0.5 % of the mask; where the conventions agree exactly, nothing may.
//! Resizes are also compared with OpenCV's default `INTER_NEAREST`, a deliberate difference
//! (see [`exact`]): there too, only pixels on region borders may differ.

use serde::Deserialize;

use crate::Program;
use crate::masks::warp_mask;
use crate::spec::PipelineSpec;
use augtrain_data::ImageShape;

#[derive(Deserialize)]
struct Fixture {
    albumentations: String,
    masks: Vec<Mask>,
}

#[derive(Deserialize)]
struct Mask {
    name: String,
    width: usize,
    height: usize,
    runs: Vec<u32>,
    results: Vec<Case>,
}

#[derive(Deserialize)]
struct Case {
    case: String,
    pipeline: String,
    width: usize,
    height: usize,
    runs: Vec<u32>,
}

fn fixture() -> Fixture {
    let text = include_str!(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../tests/fixtures/augment/masks_albumentations.json"
    ));
    serde_json::from_str(text).expect("the fixture parses")
}

/// Decode `[label, length, ...]` runs into `n` labels.
fn decode(runs: &[u32], n: usize) -> Vec<u8> {
    let out: Vec<u8> = runs
        .chunks(2)
        .flat_map(|p| std::iter::repeat_n(p[0] as u8, p[1] as usize))
        .collect();
    assert_eq!(out.len(), n, "runs cover the mask");
    out
}

/// Whether pixel `i` of a `w`-wide mask has a 4-neighbour with another label.
fn on_border(m: &[u8], w: usize, i: usize) -> bool {
    let (x, y, h) = (i % w, i / w, m.len() / w);
    let v = m[i];
    (x > 0 && m[i - 1] != v)
        || (x + 1 < w && m[i + 1] != v)
        || (y > 0 && m[i - w] != v)
        || (y + 1 < h && m[i + w] != v)
}

/// Cases whose convention is exactly Albumentations': every pixel must agree. (Resizes with
/// OpenCV's default `INTER_NEAREST` sample `floor(x · scale)`, half a source pixel off the
/// pixel-centre rule `floor((x + ½) · scale)` that augtrain and `INTER_NEAREST_EXACT` follow: a
/// deliberate difference, documented in the README; they may differ on every region border, so
/// only the "borders only" rule applies to them.)
fn exact(case: &str) -> bool {
    ["hflip", "vflip", "crop", "pad constant", "pad reflect"].contains(&case)
        || case.ends_with(" exact")
}

#[test]
fn masks_match_albumentations_except_on_region_borders() {
    let f = fixture();
    assert_eq!(f.albumentations, "2.0.8");
    let mut report = Vec::new();
    for m in &f.masks {
        let input = decode(&m.runs, m.width * m.height);
        for c in &m.results {
            let spec = PipelineSpec::from_toml(&c.pipeline, &c.case).unwrap();
            let prog = Program::new(&spec, ImageShape::new(m.width, m.height, 1)).unwrap();
            assert_eq!(
                (prog.output.width, prog.output.height),
                (c.width, c.height),
                "{} {}: output size",
                m.name,
                c.case
            );
            let params = prog.draw(0, 0, &[0]);
            let mut ours = vec![0u8; c.width * c.height];
            warp_mask(&prog, &params[0], &input, &mut ours).unwrap();
            let theirs = decode(&c.runs, c.width * c.height);
            let differ: Vec<usize> = (0..ours.len()).filter(|&i| ours[i] != theirs[i]).collect();
            let inner = differ
                .iter()
                .filter(|&&i| !on_border(&theirs, c.width, i) && !on_border(&ours, c.width, i))
                .count();
            let share = differ.len() as f64 / ours.len() as f64;
            report.push(format!(
                "{} {}: {} of {} pixels differ ({:.3} %), {inner} off region borders",
                m.name,
                c.case,
                differ.len(),
                ours.len(),
                100.0 * share
            ));
            assert_eq!(inner, 0, "{}", report.last().unwrap());
            if !c.case.ends_with(" opencv-nearest") {
                assert!(share < 0.005, "{}", report.last().unwrap());
            }
            if exact(&c.case) {
                assert!(differ.is_empty(), "{}", report.last().unwrap());
            }
        }
    }
    assert_eq!(report.len(), 22);
    eprintln!("{}", report.join("\n"));
}
