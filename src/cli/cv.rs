//! `augtrain cv DATA --folds K`: stratified k-fold cross-validation with out-of-sample
//! predicted probabilities for every example.

use std::path::{Path, PathBuf};

use clap::Args;

use super::train::TrainArgs;
use crate::Error;
use crate::data::Dataset;
use crate::data::source::load_whole;
use crate::data::split::check_folds;
use crate::device;
use crate::train::config::TrainConfig;
use crate::train::cv::{CvResult, cross_validate, mean_std, pred_probs_csv};
use crate::train::progress::{Reporter, Verbosity};
use augtrain_run::run_dir::OutputDir;

/// Flags of `augtrain cv`: the dataset, the number of folds, and every `train` flag for the
/// fold models.
#[derive(Args, Debug)]
// Training flags that do not apply to cross-validation (no run is resumed or named, the data
// is given): accepted (to be refused or ignored with the data given), not offered in --help.
#[command(
    mut_arg("resume", |a| a.hide(true)),
    mut_arg("allow_new_train_images", |a| a.hide(true)),
    mut_arg("name", |a| a.hide(true)),
    mut_arg("synthetic_train", |a| a.hide(true)),
    mut_arg("synthetic_test", |a| a.hide(true)),
    mut_arg("synthetic_size", |a| a.hide(true))
)]
#[command(after_help = "Examples:
  augtrain cv ../shared/data/mnist-10k --folds 5 --model mlp --epochs 3
  augtrain label-issues ../shared/data/mnist-10k --pred-probs runs/mnist-10k-cv-.../pred_probs.csv")]
pub struct CvArgs {
    /// The dataset (every image of every split is cross-validated).
    data: PathBuf,
    /// Number of stratified folds.
    #[arg(long, default_value_t = 5)]
    folds: usize,
    /// Output directory (default: <runs-dir>/<data>-cv-<time>); must not exist or be empty.
    #[arg(long)]
    out: Option<PathBuf>,
    /// Replace an existing --out directory (as a whole, once the new one is complete).
    #[arg(long)]
    force: bool,
    #[command(flatten)]
    train: TrainArgs,
}

/// Load every image of `data` with the training flags' load settings and run the folds.
pub(crate) fn run_cv(
    data: &Path,
    train: &TrainArgs,
    folds: usize,
) -> crate::Result<(TrainConfig, Dataset, CvResult, Reporter)> {
    if train.resume.is_some() {
        return Err(Error::Usage(
            "--resume does not apply to cross-validation".into(),
        ));
    }
    if train.data.is_some() {
        return Err(Error::Usage(
            "give the dataset once, as the positional DATA".into(),
        ));
    }
    if train.name.is_some() {
        return Err(Error::Usage(
            "--name does not apply to cross-validation; choose the output with --out".into(),
        ));
    }
    let mut cfg = train.config()?;
    cfg.data.path = Some(data.to_path_buf());
    crate::budget::check_train(&cfg)?;
    let reporter = Reporter::new(Verbosity::detect(train.quiet));
    reporter.show_loading();
    if folds < 2 {
        return Err(Error::Usage(format!("--folds {folds}: use at least 2")));
    }
    let whole = load_whole(&cfg.data.source()?, &cfg.data, cfg.seed)?;
    crate::data::source::check_every_class_trains(&whole.data)?;
    // scikit-learn's StratifiedKFold checks: a --folds the data cannot take is a usage error.
    check_folds(&whole.data.labels, folds).map_err(Error::Usage)?;
    let dev = device::open_main(cfg.device, &cfg.devices)?;
    reporter.line(&format!(
        "cross-validation: {} images, {} classes, {folds} folds, {} on {}",
        whole.data.len(),
        whole.data.num_classes(),
        cfg.model.kind,
        dev.describe()
    ));
    let result = cross_validate(&cfg, &whole.data, folds, &dev, &reporter)?;
    Ok((cfg, whole.data, result, reporter))
}

/// Write `pred_probs.csv` and `folds.json`, print the summary.
pub(crate) fn write_cv(
    dir: &OutputDir,
    data: &Dataset,
    result: &CvResult,
    reporter: &Reporter,
) -> crate::Result<()> {
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

pub fn run(args: CvArgs) -> crate::Result<()> {
    let name = super::stem_name(Some(&args.data));
    // Claimed before the folds train: an existing output fails at once.
    let dir = OutputDir::claim(
        args.out.as_deref(),
        &args.train.runs_dir,
        &format!("{name}-cv-{}", crate::util::time::compact_now()),
        args.force,
    )?;
    let (_, data, result, reporter) = run_cv(&args.data, &args.train, args.folds)?;
    write_cv(&dir, &data, &result, &reporter)?;
    dir.publish()?;
    Ok(())
}
