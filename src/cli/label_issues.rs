//! `augtrain label-issues DATA`: confident learning on out-of-sample predicted probabilities
//! (from `--pred-probs`, from a k-nearest-neighbour vote on `--embeddings`, or from a
//! cross-validation run here), a ranked CSV and a Label Studio review queue.

use std::path::PathBuf;

use clap::Args;

use super::output_args::OutputArgs;
use super::train_args::TrainArgs;
use crate::Error;
use crate::embedding::Embedded;
use crate::label_issues::confident::{Filter, RankBy};
use crate::label_issues::examples::Examples;
use crate::label_issues::pred_probs;
use crate::train::cv::{run_cv, write_cv};
use crate::train::progress::{Reporter, Verbosity};
use crate::util::escape::escape;
use crate::util::names;

/// Flags of `augtrain label-issues`.
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
  augtrain label-issues ../shared/data/mnist-10k --folds 5 --model mlp --epochs 3
  augtrain label-issues --pred-probs ../shared/data/label-errors/mnist-test-pred-probs.csv
  augtrain label-issues DATA --pred-probs pred_probs.csv --filter both --rank-by normalized-margin
  augtrain label-issues --embeddings runs/hym-emb --neighbors 10")]
pub struct LabelIssuesArgs {
    /// The dataset (optional when --pred-probs has a given_label column).
    data: Option<PathBuf>,
    /// Out-of-sample predicted probabilities (CSV with p0..pK-1 columns); without it,
    /// cross-validation runs first.
    #[arg(long)]
    pred_probs: Option<PathBuf>,
    /// Embeddings written by `augtrain embed` (labels from its index.csv): probabilities from
    /// the vote of each image's nearest neighbours, itself excluded (cleanlab Datalab's
    /// features route); no training.
    #[arg(long, conflicts_with_all = ["pred_probs", "data"])]
    embeddings: Option<PathBuf>,
    /// Neighbours voting with --embeddings.
    #[arg(long, default_value_t = 10)]
    neighbors: usize,
    /// prune_by_noise_rate (default), prune_by_class, both, confident_learning, predicted_neq_given.
    #[arg(long, default_value = "prune_by_noise_rate")]
    filter: Filter,
    /// Ranking: self_confidence (default) or normalized_margin.
    #[arg(long, default_value = "self_confidence")]
    rank_by: RankBy,
    /// Folds of the cross-validation run when --pred-probs is not given.
    #[arg(long, default_value_t = 5)]
    folds: usize,
    #[command(flatten)]
    output: OutputArgs,
    #[command(flatten)]
    train: TrainArgs,
}

pub fn run(args: LabelIssuesArgs) -> crate::Result<()> {
    let source = args.data.as_ref().or(args.pred_probs.as_ref());
    let name = super::stem_name(source.or(args.embeddings.as_ref()).map(|p| p.as_path()));
    // Read the probabilities before creating anything, so a bad file writes nothing.
    let pred = args
        .pred_probs
        .as_deref()
        .map(|f| pred_probs::read(f).map(|p| (f, p)))
        .transpose()?;
    let embedded = args.embeddings.as_deref().map(Embedded::read).transpose()?;
    if args.data.is_none() && pred.is_none() && embedded.is_none() {
        return Err(Error::Usage(
            "give DATA, --pred-probs FILE (or both), or --embeddings DIR".into(),
        ));
    }
    if args.neighbors == 0 {
        return Err(Error::Usage("--neighbors 0: use at least 1".into()));
    }
    let dir = args.output.claim(
        &args.train.runs_dir,
        &format!("{name}-label-issues-{}", crate::util::time::compact_now()),
    )?;
    let reporter = Reporter::new(Verbosity::detect(args.train.quiet));
    let examples = match (&args.data, pred) {
        _ if embedded.is_some() => {
            Examples::of_embeddings(embedded.as_ref().expect("checked"), args.neighbors)?
        }
        (Some(data), None) => {
            let cfg = args.train.fold_config(data)?;
            let (ds, result) = run_cv(&cfg, args.folds, &reporter)?;
            write_cv(&dir, &ds, &result, &reporter)?;
            let probs = result.probs.iter().map(|&v| v as f64).collect();
            Examples::of_dataset(ds, probs, data)
        }
        (Some(data), Some((file, f))) => {
            Examples::of_data_and_file(args.train.load_whole(data)?, data, file, f)?
        }
        (None, Some((file, f))) => Examples::of_file(file, f)?,
        (None, None) => unreachable!("checked above"),
    };
    let found = examples.find(args.filter, args.rank_by);
    for (file, bytes) in examples.files(&found) {
        dir.write(file, &bytes)?;
    }
    reporter.line(&format!(
        "{} label issues among {} examples ({}, ranked by {}); {} and {}",
        found.ranked.len(),
        examples.labels.len(),
        names::name(&args.filter),
        names::name(&args.rank_by),
        dir.file("label_issues.csv").display(),
        dir.file("review_queue.json").display()
    ));
    for &i in found.ranked.iter().take(10) {
        reporter.line(&format!(
            "  {}: given '{}', suggested '{}' (score {:.4})",
            escape(&examples.paths[i]),
            escape(&examples.names[examples.labels[i]]),
            escape(&examples.names[found.suggested[i]]),
            found.scores[i]
        ));
    }
    dir.publish()?;
    Ok(())
}
