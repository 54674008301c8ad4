//! `augtrain cv DATA --folds K`: stratified k-fold cross-validation with out-of-sample
//! predicted probabilities for every example.

use std::path::PathBuf;

use clap::Args;

use super::output_args::OutputArgs;
use super::train_args::TrainArgs;
use crate::train::cv::{run_cv, write_cv};
use crate::train::progress::{Reporter, Verbosity};

/// Flags of `augtrain cv`: the dataset, the number of folds, and every `train` flag for the
/// fold models.
#[derive(Args, Debug)]
// Training flags that do not apply to cross-validation (no run is resumed or named, the data
// is given): accepted (to be refused or ignored with the data given), not offered in --help.
#[command(
    mut_arg("resume", |a| a.hide(true)),
    mut_arg("allow_new_train_images", |a| a.hide(true)),
    mut_arg("name", |a| a.hide(true)),
    mut_arg("data.synthetic_train", |a| a.hide(true)),
    mut_arg("data.synthetic_test", |a| a.hide(true)),
    mut_arg("data.synthetic_size", |a| a.hide(true))
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
    #[command(flatten)]
    output: OutputArgs,
    #[command(flatten)]
    train: TrainArgs,
}

pub fn run(args: CvArgs) -> crate::Result<()> {
    let name = super::stem_name(Some(&args.data));
    // Claimed before the folds train: an existing output fails at once.
    let dir = args.output.claim(
        &args.train.runs_dir,
        &format!("{name}-cv-{}", crate::util::time::compact_now()),
    )?;
    let cfg = args.train.fold_config(&args.data)?;
    let reporter = Reporter::new(Verbosity::detect(args.train.quiet));
    let (data, result) = run_cv(&cfg, args.folds, &reporter)?;
    write_cv(&dir, &data, &result, &reporter)?;
    dir.publish()?;
    Ok(())
}
