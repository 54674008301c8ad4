//! Pipeline specs (TOML and JSON) and training configs: parsed, checked to survive a write
//! and read round trip, compiled and run on the CPU twin.

use augtrain_augment::{PipelineSpec, Program, cpu};
use augtrain_data::ImageShape;
use augtrain_run::config::{AugmentConfig, TrainConfig};

/// Largest output (channels × height × width) of one image that [`exercise_spec`] runs;
/// valid specs may resize up to 16384², beyond what a fuzzing process should allocate.
const MAX_OUTPUT_VALUES: usize = 1 << 16;

/// A valid spec must write TOML that reads back as the same spec (runs record their
/// pipeline this way), then compile and run on two small images, gray and RGB, with finite
/// output values.
fn exercise_spec(spec: &PipelineSpec) {
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
        .map(|spec| exercise_spec(&spec))
        .is_ok()
}

/// Pipeline specs in JSON (`--augment file.json`).
pub fn pipeline_json(bytes: &[u8]) -> bool {
    PipelineSpec::from_json(&String::from_utf8_lossy(bytes), "spec.json")
        .map(|spec| exercise_spec(&spec))
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
