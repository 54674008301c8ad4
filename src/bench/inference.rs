//! Inference against PyTorch in the same run: the forward pass alone of the CNN (28×28×1),
//! ResNet-18 and EfficientNet-Lite0 (224×224×3, 1000 classes) at batch 1 and 32, and `embed`
//! of hymenoptera end to end (decode, resize, normalize, forward of the ImageNet-pretrained
//! EfficientNet-Lite0, L2-normalized rows), and `eval` of a run end to end (the whole `augtrain
//! eval --run R` command on a run of the pretrained EfficientNet-Lite0 trained on hymenoptera
//! for the case, against PyTorch evaluating the run's exported weights on the same 153 photos
//! with a DataLoader and scikit-learn's report), each beside `tools/torch_infer_bench.py` doing
//! the same. The two sides alternate for [`ROUNDS`] rounds (augtrain, then PyTorch, per round) so
//! that a change in the machine's load falls on both; each row reports the median over the
//! rounds and their range, and notes the ratio.

use std::ffi::OsStr;
use std::path::{Path, PathBuf};
use std::time::Instant;

use burn::tensor::{Distribution, Tensor};
use serde::Deserialize;

use super::child::{self, Scratch};
use super::{Measurement, Options, Stats, reference, time};
use crate::data::source::load_whole;
use crate::device::ComputeDevice;
use crate::model::Model;
use crate::train::Inference;
use crate::train::embed::embed;
use crate::train::progress::{Reporter, Verbosity};
use crate::util::fs::IoError;
use augtrain_run::config::ModelKind;

/// The PyTorch side, relative to the repository root.
pub const SCRIPT: &str = "tools/torch_infer_bench.py";

/// Alternated rounds of augtrain and PyTorch per case.
pub const ROUNDS: usize = 3;

/// Images per forward pass of the embed case (`augtrain embed`'s default `--embed-batch`).
const EMBED_BATCH: usize = 32;

/// The models and batches of the forward cases.
const FORWARD: [ModelKind; 3] = [
    ModelKind::Cnn,
    ModelKind::Resnet18,
    ModelKind::EfficientnetLite0,
];
const BATCHES: [usize; 2] = [1, 32];

/// One row of the script's `forward` output.
#[derive(Deserialize)]
struct ForwardRow {
    model: String,
    batch: usize,
    seconds_median: f64,
}

/// One row of the script's `embed` output.
#[derive(Deserialize)]
struct EmbedRow {
    images: usize,
    seconds: f64,
}

/// One row of the script's `eval` output.
#[derive(Deserialize)]
struct EvalRow {
    images: usize,
    accuracy: f64,
    seconds: f64,
}

/// Seconds per call (or per run) of one case, one value per round, for each side.
#[derive(Default)]
struct Pairs {
    ours: Vec<f64>,
    torch: Vec<f64>,
}

/// Run the inference cases on `device`, with PyTorch beside them when `opts.reference` names a
/// Python that can run the script.
pub fn run(
    opts: &Options,
    device: &ComputeDevice,
    log: &dyn Fn(&str),
) -> crate::Result<Vec<Measurement>> {
    let engine = if device.is_gpu() { "gpu" } else { "cpu" };
    let mut python = opts.reference.clone();
    let mut cases: Vec<(String, usize, Pairs)> = Vec::new();
    let seconds = if opts.quick { 1.0 } else { 3.0 };
    let models: Vec<(ModelKind, Model, [usize; 3])> = FORWARD
        .iter()
        .filter(|&&kind| {
            BATCHES
                .iter()
                .any(|&b| opts.wants_case(&forward_label(kind, b)))
        })
        .map(|&kind| forward_model(kind, device).map(|(m, chw)| (kind, m, chw)))
        .collect::<crate::Result<_>>()?;
    let embed_case = if opts.wants_case(EMBED_CASE) {
        EmbedCase::find(opts, device, log)?
    } else {
        None
    };
    let eval_case = if opts.wants_case(EVAL_CASE) {
        EvalCase::find(opts, device, log)?
    } else {
        None
    };
    for round in 0..ROUNDS {
        log(&format!("inference round {} of {ROUNDS}", round + 1));
        let mut i = 0;
        for (kind, model, chw) in &models {
            for batch in BATCHES {
                if !opts.wants_case(&forward_label(*kind, batch)) {
                    continue;
                }
                let s = time_forward(model, *chw, batch, opts, device);
                log(&format!(
                    "  augtrain {kind} forward, batch {batch}: {:.1} images/s",
                    batch as f64 / s
                ));
                if round == 0 {
                    cases.push((format!("{kind} forward"), batch, Pairs::default()));
                }
                cases[i].2.ours.push(s);
                i += 1;
            }
        }
        if let Some(py) = &python {
            match torch_forward(py, seconds, opts) {
                Ok(rows) => {
                    for (name, batch, pairs) in cases.iter_mut() {
                        let model = name.split(' ').next().unwrap_or("");
                        if let Some(r) = rows.iter().find(|r| r.model == model && r.batch == *batch)
                        {
                            pairs.torch.push(r.seconds_median);
                        }
                    }
                }
                Err(why) => {
                    log(&format!("PyTorch reference skipped: {why}"));
                    python = None;
                }
            }
        }
        if let Some(e) = &embed_case {
            let (images, s) = e.run_ours(device)?;
            log(&format!(
                "  augtrain embed: {images} images in {s:.2} s ({:.1} images/s)",
                images as f64 / s
            ));
            let pairs = pairs_of(&mut cases, EMBED_CASE, images);
            pairs.ours.push(s);
            if let Some(py) = &python {
                match e.run_torch(py) {
                    Ok(row) => pairs
                        .torch
                        .push(row.seconds / row.images as f64 * images as f64),
                    Err(why) => log(&format!("PyTorch embed skipped: {why}")),
                }
            }
        }
        if let Some(e) = &eval_case {
            let (images, s) = e.run_both(round, python.as_deref(), log)?;
            let pairs = pairs_of(&mut cases, EVAL_CASE, images);
            pairs.ours.push(s.0);
            pairs.torch.extend(s.1);
        }
    }
    Ok(cases
        .into_iter()
        .flat_map(|(name, batch, pairs)| rows(&name, batch, engine, &pairs))
        .collect())
}

/// The values of the case named `name`, added (for `batch` images) on its first round. Each
/// end-to-end case finds its own: taking the last case gave the embed case's later rounds to
/// the eval case that follows it.
fn pairs_of<'a>(
    cases: &'a mut Vec<(String, usize, Pairs)>,
    name: &str,
    batch: usize,
) -> &'a mut Pairs {
    let i = match cases.iter().position(|c| c.0 == name) {
        Some(i) => i,
        None => {
            cases.push((name.to_string(), batch, Pairs::default()));
            cases.len() - 1
        }
    };
    &mut cases[i].2
}

/// The name of a forward case as `--filter` matches it and its row shows it.
fn forward_label(kind: ModelKind, batch: usize) -> String {
    format!("{kind} forward, batch {batch}")
}

/// A model of `kind` as the forward cases take it (the CNN for 28×28×1 and 10 classes, the
/// others for 224×224×3 and 1000), in evaluation mode, and its input shape `[C, H, W]`.
fn forward_model(kind: ModelKind, device: &ComputeDevice) -> crate::Result<(Model, [usize; 3])> {
    let (shape, classes) = match kind {
        ModelKind::Cnn | ModelKind::Mlp => (crate::data::ImageShape::new(28, 28, 1), 10),
        _ => (crate::data::ImageShape::new(224, 224, 3), 1000),
    };
    device.device.seed(1);
    let model =
        Model::new(kind, shape, classes, 128, &device.device).map_err(crate::Error::Usage)?;
    Ok((
        model.for_inference(),
        [shape.channels, shape.height, shape.width],
    ))
}

/// Median seconds of one forward pass (logits read back) of `model` on a random batch.
fn time_forward(
    model: &Model,
    chw: [usize; 3],
    batch: usize,
    opts: &Options,
    device: &ComputeDevice,
) -> f64 {
    let x = Tensor::<4>::random(
        [batch, chw[0], chw[1], chw[2]],
        Distribution::Normal(0.0, 1.0),
        &device.device,
    );
    let stats = time(2, opts.reps().min(5), || {
        std::hint::black_box(model.forward(x.clone()).into_data());
    });
    stats.median
}

/// PyTorch's forward cases (those `opts` selects), one call of the script.
fn torch_forward(python: &Path, seconds: f64, opts: &Options) -> Result<Vec<ForwardRow>, String> {
    let wanted = |kind: ModelKind, batch: usize| opts.wants_case(&forward_label(kind, batch));
    let models: Vec<String> = FORWARD
        .iter()
        .filter(|&&kind| BATCHES.iter().any(|&b| wanted(kind, b)))
        .map(|m| m.to_string())
        .collect();
    let batches: Vec<String> = BATCHES
        .iter()
        .filter(|&&b| FORWARD.iter().any(|&kind| wanted(kind, b)))
        .map(|b| b.to_string())
        .collect();
    if models.is_empty() {
        return Ok(Vec::new());
    }
    reference::run_rows(
        python,
        SCRIPT,
        &[
            "forward".into(),
            "--models".into(),
            models.join(","),
            "--batches".into(),
            batches.join(","),
            "--seconds".into(),
            seconds.to_string(),
        ],
    )
}

/// hymenoptera and the ImageNet EfficientNet-Lite0 weights under the data directory, or None
/// (after saying on `log` that `case` is skipped) when either is absent.
pub(super) fn hymenoptera_and_weights(
    opts: &Options,
    case: &str,
    log: &dyn Fn(&str),
) -> Option<(PathBuf, PathBuf)> {
    let root = opts.data.as_ref()?;
    let data = root.join("hymenoptera");
    let weights = root.join("models/efficientnet-lite0-57934424.pth");
    if !data.is_dir() || !weights.is_file() {
        log(&format!(
            "{case} skipped: {} or {} is missing",
            data.display(),
            weights.display()
        ));
        return None;
    }
    Some((data, weights))
}

/// The embed case's inputs: hymenoptera and the pretrained EfficientNet-Lite0 under the data
/// directory, the model loaded once.
struct EmbedCase {
    data: PathBuf,
    weights: PathBuf,
    inference: Inference,
}

impl EmbedCase {
    /// The case, or None (after saying why) when its data or weights are absent.
    fn find(
        opts: &Options,
        device: &ComputeDevice,
        log: &dyn Fn(&str),
    ) -> crate::Result<Option<Self>> {
        let Some((data, weights)) = hymenoptera_and_weights(opts, "embed case", log) else {
            return Ok(None);
        };
        let inference = Inference::backbone(ModelKind::EfficientnetLite0, &weights, device)?;
        Ok(Some(Self {
            data,
            weights,
            inference,
        }))
    }

    /// augtrain's embed of every image, as `augtrain embed` runs it: images and seconds.
    fn run_ours(&self, device: &ComputeDevice) -> crate::Result<(usize, f64)> {
        let start = Instant::now();
        let mut opts = self.inference.load_options();
        opts.path = Some(self.data.clone());
        let whole = load_whole(&opts.source()?, &opts, 0)?;
        let set = embed(
            &self.inference.model,
            &whole.data,
            &self.inference.aug,
            EMBED_BATCH,
            &device.device,
            &Reporter::new(Verbosity::Quiet).images("", 0),
        )?;
        std::hint::black_box(&set);
        Ok((set.len(), start.elapsed().as_secs_f64()))
    }

    /// PyTorch's embed of the same folder, one call of the script.
    fn run_torch(&self, python: &Path) -> Result<EmbedRow, String> {
        let rows: Vec<EmbedRow> =
            torch_folder_case(python, "embed", &self.data, ("--weights", &self.weights))?;
        rows.into_iter()
            .find(|r| r.images > 0)
            .ok_or_else(|| format!("{SCRIPT} embedded no images"))
    }
}

/// The name of the embed case as `--filter` matches it and its row shows it.
const EMBED_CASE: &str = "embed hymenoptera end to end";

/// The name of the eval case as `--filter` matches it and its row shows it.
const EVAL_CASE: &str = "eval of a run, hymenoptera val end to end";

/// The eval case: a run of the pretrained EfficientNet-Lite0 trained on hymenoptera (head only,
/// one epoch) in a scratch directory, evaluated on its test split (the 153 `val/` photos) by
/// the whole `augtrain eval --run R` command, and by PyTorch from the same weights (the run's
/// `export-model` safetensors).
struct EvalCase {
    scratch: Scratch,
    run: PathBuf,
    model: PathBuf,
    test: PathBuf,
    device: &'static str,
}

impl EvalCase {
    /// The case with its run trained and exported, or None (after saying why) when its data or
    /// weights are absent.
    fn find(
        opts: &Options,
        device: &ComputeDevice,
        log: &dyn Fn(&str),
    ) -> crate::Result<Option<Self>> {
        let Some((data, weights)) = hymenoptera_and_weights(opts, "eval case", log) else {
            return Ok(None);
        };
        let scratch = Scratch::new("eval")?;
        let run = scratch.path().join("run");
        let model = scratch.path().join("model.safetensors");
        let device = if device.is_gpu() { "gpu" } else { "cpu" };
        log("eval case: training the run it evaluates (head only, 1 epoch)");
        let mut train: Vec<&OsStr> = ["train", "--data"].map(OsStr::new).to_vec();
        train.push(data.as_os_str());
        train.extend(["--model", "efficientnet-lite0", "--pretrained"].map(OsStr::new));
        train.push(weights.as_os_str());
        train.extend(["--freeze", "backbone", "--epochs", "1", "--device", device].map(OsStr::new));
        train.extend(["--quiet", "--name", "run", "--runs-dir"].map(OsStr::new));
        train.push(scratch.path().as_os_str());
        child::augtrain(&train, "train the eval case's run into", &run)?;
        let export = ["export-model", "--quiet", "--run"].map(OsStr::new);
        let export = [
            &export[..],
            &[run.as_os_str(), "--out".as_ref(), model.as_os_str()],
        ];
        child::augtrain(&export.concat(), "export the eval case's model to", &model)?;
        Ok(Some(Self {
            scratch,
            run,
            model,
            test: data.join("val"),
            device,
        }))
    }

    /// One round: augtrain's `eval` command, then PyTorch's when `python` is given; the images
    /// and each side's seconds. A PyTorch failure is logged, not fatal; a disagreement of the
    /// two accuracies (the same weights on the same photos) is logged.
    fn run_both(
        &self,
        round: usize,
        python: Option<&Path>,
        log: &dyn Fn(&str),
    ) -> crate::Result<(usize, (f64, Option<f64>))> {
        let (images, accuracy, ours) = self.run_ours(round)?;
        log(&format!(
            "  augtrain eval: {images} images in {ours:.2} s, accuracy {accuracy:.4}"
        ));
        let Some(py) = python else {
            return Ok((images, (ours, None)));
        };
        let theirs = match self.run_torch(py) {
            Ok(row) if row.images == images => row,
            Ok(row) => {
                log(&format!(
                    "PyTorch eval skipped: it evaluated {} images, augtrain {images}",
                    row.images
                ));
                return Ok((images, (ours, None)));
            }
            Err(why) => {
                log(&format!("PyTorch eval skipped: {why}"));
                return Ok((images, (ours, None)));
            }
        };
        log(&format!(
            "  PyTorch eval: {images} images in {:.2} s, accuracy {:.4}{}",
            theirs.seconds,
            theirs.accuracy,
            if (theirs.accuracy - accuracy).abs() > 1e-9 {
                " (differs from augtrain's)"
            } else {
                ""
            }
        ));
        Ok((images, (ours, Some(theirs.seconds))))
    }

    /// The whole `augtrain eval --run R --json F` command: images, accuracy and wall seconds.
    fn run_ours(&self, round: usize) -> crate::Result<(usize, f64, f64)> {
        let json = self.scratch.path().join(format!("eval-{round}.json"));
        let args = ["eval", "--quiet", "--device", self.device, "--run"].map(OsStr::new);
        let args = [
            &args[..],
            &[self.run.as_os_str(), "--json".as_ref(), json.as_os_str()],
        ];
        let wall = child::augtrain(&args.concat(), "evaluate the eval case's run", &self.run)?;
        let read = |e: String| IoError::new("read", &json, std::io::Error::other(e));
        let bytes = std::fs::read(&json).map_err(|e| read(e.to_string()))?;
        let report: augtrain_run::records::TestReport =
            serde_json::from_slice(&bytes).map_err(|e| read(e.to_string()))?;
        Ok((report.samples as usize, report.accuracy, wall))
    }

    /// PyTorch's evaluation of the exported model on the same photos, one call of the script.
    fn run_torch(&self, python: &Path) -> Result<EvalRow, String> {
        let rows: Vec<EvalRow> =
            torch_folder_case(python, "eval", &self.test, ("--safetensors", &self.model))?;
        rows.into_iter()
            .find(|r| r.images > 0)
            .ok_or_else(|| format!("{SCRIPT} evaluated no images"))
    }
}

/// One call of the script's `case` over the image folder `data` with the model file `model`
/// (its flag and path), in batches of [`EMBED_BATCH`] with a DataLoader worker per thread.
fn torch_folder_case<T: serde::de::DeserializeOwned>(
    python: &Path,
    case: &str,
    data: &Path,
    model: (&str, &Path),
) -> Result<Vec<T>, String> {
    reference::run_rows(
        python,
        SCRIPT,
        &[
            case.into(),
            "--data".into(),
            data.display().to_string(),
            model.0.into(),
            model.1.display().to_string(),
            "--batch".into(),
            EMBED_BATCH.to_string(),
            "--workers".into(),
            rayon::current_num_threads().to_string(),
        ],
    )
}

/// The statistics of per-round values.
pub(super) fn stats(values: &[f64]) -> Stats {
    let mut v = values.to_vec();
    v.sort_by(f64::total_cmp);
    let median = if v.len() % 2 == 1 {
        v[v.len() / 2]
    } else {
        (v[v.len() / 2 - 1] + v[v.len() / 2]) / 2.0
    };
    Stats {
        median,
        min: v[0],
        max: v[v.len() - 1],
        spread: (v[v.len() - 1] - v[0]) / median.max(1e-12),
        samples: v.len(),
        calls_per_sample: 1,
    }
}

/// The rows of one case: augtrain's, and PyTorch's with the ratios when it ran every round.
fn rows(name: &str, batch: usize, engine: &str, pairs: &Pairs) -> Vec<Measurement> {
    let row = |group: &str, label: String, values: &[f64], note: Option<String>| {
        let s = stats(values);
        Measurement {
            group: group.into(),
            name: label,
            engine: engine.into(),
            batch,
            items_per_second: batch as f64 / s.median,
            bytes_per_second: None,
            ceiling_fraction: None,
            stats: s,
            note,
        }
    };
    let range = |v: &[f64]| {
        let s = stats(v);
        format!(
            "{:.1} images/s median of {} rounds, {:.1}..{:.1}",
            batch as f64 / s.median,
            s.samples,
            batch as f64 / s.max,
            batch as f64 / s.min
        )
    };
    let ours_label = format!("{name}, batch {batch}");
    if pairs.torch.len() != pairs.ours.len() || pairs.ours.is_empty() {
        return vec![row(
            "infer",
            ours_label,
            &pairs.ours,
            Some(range(&pairs.ours)),
        )];
    }
    let ratios: Vec<f64> = pairs
        .ours
        .iter()
        .zip(&pairs.torch)
        .map(|(o, t)| t / o)
        .collect();
    let r = stats(&ratios);
    let note = format!(
        "{}; {:.2}x PyTorch (median of the {} same-round ratios, {:.2}..{:.2})",
        range(&pairs.ours),
        r.median,
        r.samples,
        r.min,
        r.max
    );
    vec![
        row("infer", ours_label, &pairs.ours, Some(note)),
        row(
            "torch",
            format!("{name}, batch {batch} (PyTorch)"),
            &pairs.torch,
            Some(range(&pairs.torch)),
        ),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_case_reports_medians_ranges_and_same_round_ratios() {
        let pairs = Pairs {
            ours: vec![1.0, 2.0, 1.5],
            torch: vec![3.0, 2.0, 3.0],
        };
        let rows = rows("resnet18 forward", 32, "cpu", &pairs);
        assert_eq!(rows.len(), 2);
        assert_eq!(rows[0].stats.median, 1.5);
        assert_eq!(rows[0].items_per_second, 32.0 / 1.5);
        assert_eq!(rows[1].stats.median, 3.0);
        // Ratios per round: 3, 1, 2 -> median 2.
        let note = rows[0].note.as_deref().unwrap();
        assert!(note.contains("2.00x PyTorch"), "{note}");
        assert!(note.contains("1.00..3.00"), "{note}");
        assert!(note.contains("16.0..32.0"), "{note}");
    }

    #[test]
    fn each_end_to_end_case_keeps_its_own_rounds() {
        let mut cases = Vec::new();
        for round in 0..3 {
            pairs_of(&mut cases, "embed", 398).ours.push(round as f64);
            pairs_of(&mut cases, "eval", 153)
                .ours
                .push(10.0 + round as f64);
        }
        assert_eq!(cases.len(), 2);
        assert_eq!(
            (cases[0].1, &cases[0].2.ours[..]),
            (398, &[0.0, 1.0, 2.0][..])
        );
        assert_eq!(
            (cases[1].1, &cases[1].2.ours[..]),
            (153, &[10.0, 11.0, 12.0][..])
        );
    }

    #[test]
    fn without_every_reference_round_only_augtrains_row_is_kept() {
        let pairs = Pairs {
            ours: vec![1.0, 1.0, 1.0],
            torch: vec![2.0],
        };
        let rows = rows("cnn forward", 1, "cpu", &pairs);
        assert_eq!(rows.len(), 1);
        assert!(!rows[0].note.as_deref().unwrap().contains("PyTorch"));
    }
}
