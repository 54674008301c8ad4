//! Stratified k-fold cross-validation with out-of-sample predicted probabilities: every example
//! gets the probabilities of the fold model that never saw it. Exact duplicates (equal pixels)
//! stay in one fold.

use serde::Serialize;

use super::evaluate::Evaluation;
use super::progress::Reporter;
use super::{TrainError, Trainer};
use augtrain_run::RunError;
use augtrain_run::config::TrainConfig;
use augtrain_run::run_dir::OutputDir;

use crate::data::Dataset;
use crate::data::source::load_whole;
use crate::data::split::{check_folds, check_stratifiable, stratified_group_folds};
use crate::data::split_plan::pixel_group_keys;
use crate::device::ComputeDevice;
use crate::metrics::{ClassificationReport, ConfusionMatrix};

/// Metrics of one fold's model on its held-out fold.
#[derive(Clone, Debug, Serialize)]
pub struct FoldResult {
    /// Fold number, 0-based.
    pub fold: usize,
    /// Training images.
    pub train_images: usize,
    /// Held-out images.
    pub test_images: usize,
    /// Accuracy on the held-out fold.
    pub accuracy: f64,
    /// Macro F1 on the held-out fold.
    pub macro_f1: f64,
    /// Weighted F1 on the held-out fold.
    pub weighted_f1: f64,
}

/// Everything cross-validation produces.
#[derive(Clone, Debug)]
pub struct CvResult {
    /// Per-fold metrics.
    pub folds: Vec<FoldResult>,
    /// Fold of each example.
    pub fold_of: Vec<usize>,
    /// Out-of-sample probabilities, `n × classes`, in dataset order.
    pub probs: Vec<f32>,
    /// The confusion matrix of all out-of-sample predictions.
    pub confusion: ConfusionMatrix,
}

/// Mean and (population) standard deviation.
pub fn mean_std(v: &[f64]) -> (f64, f64) {
    let n = v.len().max(1) as f64;
    let mean = v.iter().sum::<f64>() / n;
    (
        mean,
        (v.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / n).sqrt(),
    )
}

/// Cross-validate `cfg` on every image of `cfg.data` (all its splits together) with `folds`
/// stratified folds, on the device the config names: what `augtrain cv` runs, and
/// `label-issues` and `agreement` when given data without probabilities. A `folds` the data
/// cannot take is a usage error, before anything trains.
pub fn run_cv(
    cfg: &TrainConfig,
    folds: usize,
    reporter: &Reporter,
) -> crate::Result<(Dataset, CvResult)> {
    crate::budget::check_train(cfg)?;
    reporter.show_loading();
    if folds < 2 {
        return Err(crate::Error::Usage(format!(
            "--folds {folds}: use at least 2"
        )));
    }
    let whole = load_whole(&cfg.data.source()?, &cfg.data, cfg.seed)?;
    crate::data::source::check_every_class_trains(&whole.data)?;
    // scikit-learn's StratifiedKFold checks: a --folds the data cannot take is a usage error.
    check_folds(&whole.data.labels, folds).map_err(crate::Error::Usage)?;
    let device = crate::device::open_main(cfg.device, &cfg.devices)?;
    reporter.line(&format!(
        "cross-validation: {} images, {} classes, {folds} folds, {} on {}",
        whole.data.len(),
        whole.data.num_classes(),
        cfg.model.kind,
        device.describe()
    ));
    let result = cross_validate(cfg, &whole.data, folds, &device, reporter)?;
    Ok((whole.data, result))
}

/// Write `pred_probs.csv` (every example's out-of-sample probabilities) and `folds.json` (the
/// metrics per fold, their mean and standard deviation) into `dir`, and report the summary.
pub fn write_cv(
    dir: &OutputDir,
    data: &Dataset,
    result: &CvResult,
    reporter: &Reporter,
) -> Result<(), RunError> {
    dir.write(
        "pred_probs.csv",
        pred_probs_csv(data, &result.probs).as_bytes(),
    )?;
    let accs: Vec<f64> = result.folds.iter().map(|f| f.accuracy).collect();
    let f1s: Vec<f64> = result.folds.iter().map(|f| f.macro_f1).collect();
    let (acc_m, acc_s) = mean_std(&accs);
    let (f1_m, f1_s) = mean_std(&f1s);
    let json = serde_json::json!({
        "folds": result.folds,
        "accuracy_mean": acc_m, "accuracy_std": acc_s,
        "macro_f1_mean": f1_m, "macro_f1_std": f1_s,
        "out_of_sample_accuracy": result.confusion.accuracy(),
    });
    dir.write(
        "folds.json",
        serde_json::to_string_pretty(&json)
            .expect("json")
            .as_bytes(),
    )?;
    reporter.line(&format!(
        "accuracy {acc_m:.4} ± {acc_s:.4}, macro F1 {f1_m:.4} ± {f1_s:.4} over {} folds; out-of-sample probabilities in {}",
        result.folds.len(),
        dir.file("pred_probs.csv").display()
    ));
    Ok(())
}

/// Cross-validate `cfg` on `data` with `folds` stratified folds.
pub fn cross_validate(
    cfg: &TrainConfig,
    data: &Dataset,
    folds: usize,
    device: &ComputeDevice,
    reporter: &Reporter,
) -> Result<CvResult, TrainError> {
    if let Some(warning) = check_folds(&data.labels, folds).map_err(TrainError::Config)? {
        reporter.line(&format!("warning: {warning}"));
    }
    check_stratifiable(&data.labels, &data.class_names)
        .map_err(|e| TrainError::Config(e.to_string()))?;
    let keys = pixel_group_keys(data);
    let fold_of = stratified_group_folds(&data.labels, Some(&keys), folds, cfg.seed);
    if let Some(empty) = (0..folds).find(|f| !fold_of.contains(f)) {
        return Err(TrainError::Config(format!(
            "fold {} would hold out no image (exact duplicates are kept in one fold); use fewer --folds",
            empty + 1
        )));
    }
    let k = data.num_classes();
    let mut probs = vec![0f32; data.len() * k];
    let mut results = Vec::new();
    let mut confusion = ConfusionMatrix::new(k);
    for f in 0..folds {
        let train_idx: Vec<usize> = (0..data.len()).filter(|&i| fold_of[i] != f).collect();
        let test_idx: Vec<usize> = (0..data.len()).filter(|&i| fold_of[i] == f).collect();
        let what = format!("fold {}/{folds}", f + 1);
        let ev = fit_and_evaluate(
            cfg,
            &data.subset(&train_idx),
            &data.subset(&test_idx),
            device,
            reporter,
            &what,
        )?;
        let p = ev.probabilities.as_ref().expect("asked for probabilities");
        for (row, &i) in test_idx.iter().enumerate() {
            probs[i * k..(i + 1) * k].copy_from_slice(&p[row * k..(row + 1) * k]);
        }
        confusion.merge(&ev.confusion);
        let rep =
            ClassificationReport::new(&ev.confusion, None, &data.class_names, cfg.zero_division);
        let r = FoldResult {
            fold: f,
            train_images: train_idx.len(),
            test_images: test_idx.len(),
            accuracy: rep.accuracy,
            macro_f1: rep.macro_avg.f1,
            weighted_f1: rep.weighted.f1,
        };
        reporter.line(&format!(
            "{what}: accuracy {:.4}  macro F1 {:.4}  ({} train / {} held out)",
            r.accuracy, r.macro_f1, r.train_images, r.test_images
        ));
        results.push(r);
    }
    Ok(CvResult {
        folds: results,
        fold_of,
        probs,
        confusion,
    })
}

/// Train a fresh model on `train` for the config's epochs (no validation, no files) and
/// evaluate it on `held_out`, keeping the probabilities.
fn fit_and_evaluate(
    cfg: &TrainConfig,
    train: &Dataset,
    held_out: &Dataset,
    device: &ComputeDevice,
    reporter: &Reporter,
    what: &str,
) -> Result<Evaluation, TrainError> {
    let mut trainer = Trainer::new(cfg, train, device)?;
    for epoch in 0..cfg.epochs {
        let r;
        (trainer, r) = trainer.epoch(epoch, None, reporter);
        let r = r?;
        reporter.line(&format!(
            "{what}: epoch {}/{}  train loss {:.4} acc {:.4}",
            r.epoch, cfg.epochs, r.train_loss, r.train_accuracy
        ));
    }
    trainer.evaluate(held_out, true, None)
}

/// Predicted probabilities as CSV: `index,id,path,given_label,p0,p1,...` (paths as path text).
pub fn pred_probs_csv(data: &Dataset, probs: &[f32]) -> String {
    let k = data.num_classes();
    let header = ["index", "id", "path", "given_label"]
        .map(String::from)
        .into_iter()
        .chain((0..k).map(|c| format!("p{c}")));
    let mut out = crate::data::csv::Writer::new(header);
    for i in 0..data.len() {
        let fields = [
            i.to_string(),
            data.ids[i].to_string(),
            data.paths[i].clone(),
            data.labels[i].to_string(),
        ];
        out.row(
            fields
                .into_iter()
                .chain(probs[i * k..(i + 1) * k].iter().map(|v| v.to_string())),
        );
    }
    out.finish_string()
}
