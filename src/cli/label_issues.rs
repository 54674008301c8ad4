//! `augtrain label-issues DATA`: confident learning on out-of-sample predicted probabilities
//! (from `--pred-probs`, or from a cross-validation run here), a ranked CSV and a Label Studio
//! review queue.

use std::path::PathBuf;

use clap::Args;

use super::cv::{run_cv, write_cv};
use super::train::TrainArgs;
use crate::Error;
use crate::audit::confident::{
    Filter, PredProbs, RankBy, find_label_issues, order_issues, quality_scores, suggested_labels,
};
use crate::audit::pred_probs;
use crate::data::source::load_whole;
use crate::train::progress::{Reporter, Verbosity};
use crate::util::escape::escape;
use augtrain_run::run_dir::OutputDir;

/// Flags of `augtrain label-issues`.
#[derive(Args, Debug)]
#[command(after_help = "Examples:
  augtrain label-issues ../shared/data/mnist-10k --folds 5 --model mlp --epochs 3
  augtrain label-issues --pred-probs ../shared/data/label-errors/mnist-test-pred-probs.csv
  augtrain label-issues DATA --pred-probs pred_probs.csv --filter both --rank-by normalized-margin")]
pub struct LabelIssuesArgs {
    /// The dataset (optional when --pred-probs has a given_label column).
    data: Option<PathBuf>,
    /// Out-of-sample predicted probabilities (CSV with p0..pK-1 columns); without it,
    /// cross-validation runs first.
    #[arg(long)]
    pred_probs: Option<PathBuf>,
    /// prune_by_noise_rate (default), prune_by_class, both, confident_learning, predicted_neq_given.
    #[arg(long, default_value = "prune_by_noise_rate")]
    filter: Filter,
    /// Ranking: self_confidence (default) or normalized_margin.
    #[arg(long, default_value = "self_confidence")]
    rank_by: RankBy,
    /// Folds of the cross-validation run when --pred-probs is not given.
    #[arg(long, default_value_t = 5)]
    folds: usize,
    /// Output directory (default: <runs-dir>/<data>-label-issues-<time>); must not exist or be
    /// empty.
    #[arg(long)]
    out: Option<PathBuf>,
    /// Replace an existing --out directory (as a whole, once the new one is complete).
    #[arg(long)]
    force: bool,
    #[command(flatten)]
    train: TrainArgs,
}

pub fn run(args: LabelIssuesArgs) -> crate::Result<()> {
    let name = args
        .data
        .as_ref()
        .or(args.pred_probs.as_ref())
        .and_then(|p| p.file_stem())
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| "data".into());
    if args.data.is_none() && args.pred_probs.is_none() {
        return Err(Error::Usage("give DATA, --pred-probs FILE, or both".into()));
    }
    // Read the probabilities before creating anything, so a bad file writes nothing.
    let pred = args
        .pred_probs
        .as_deref()
        .map(|f| pred_probs::read(f).map(|p| (f, p)))
        .transpose()?;
    let dir = OutputDir::claim(
        args.out.as_deref(),
        &args.train.runs_dir,
        &format!("{name}-label-issues-{}", crate::util::time::compact_now()),
        args.force,
    )?;
    let reporter = Reporter::new(Verbosity::detect(args.train.quiet));
    // Labels, paths, class names and probabilities, from the data and/or the file.
    let (labels, paths, names, probs): (Vec<usize>, Vec<String>, Vec<String>, PredProbs) = match (
        &args.data, pred,
    ) {
        (None, None) => return Err(Error::Usage("give DATA, --pred-probs FILE, or both".into())),
        (Some(data), None) => {
            let (_, ds, result, reporter) = run_cv(data, &args.train, args.folds)?;
            write_cv(&dir, &ds, &result, &reporter)?;
            let k = ds.num_classes();
            (
                ds.labels.iter().map(|&l| l as usize).collect(),
                ds.paths.clone(),
                ds.class_names.clone(),
                PredProbs {
                    k,
                    values: result.probs.iter().map(|&v| v as f64).collect(),
                },
            )
        }
        (data, Some((file, f))) => match data {
            Some(data) => {
                let mut cfg = args.train.config()?;
                cfg.data.path = Some(data.clone());
                let whole = load_whole(&cfg.data.source()?, &cfg.data, cfg.seed)?;
                let ds = whole.data;
                if ds.len() != f.probs.len() || ds.num_classes() != f.probs.k {
                    return Err(Error::Usage(format!(
                        "{} has {} rows of {} classes but {} has {} images of {} classes; the probabilities must come from the same data",
                        file.display(),
                        f.probs.len(),
                        f.probs.k,
                        data.display(),
                        ds.len(),
                        ds.num_classes()
                    )));
                }
                (
                    ds.labels.iter().map(|&l| l as usize).collect(),
                    ds.paths.clone(),
                    ds.class_names.clone(),
                    f.probs,
                )
            }
            None => {
                let given = f.given.clone().ok_or_else(|| {
                    Error::Usage(format!(
                        "{} has no given_label column; also give the DATA it was computed on",
                        file.display()
                    ))
                })?;
                let n = given.len();
                let paths = f.paths.clone().unwrap_or_else(|| {
                    f.index
                        .clone()
                        .map(|ix| ix.iter().map(|i| format!("#{i}")).collect())
                        .unwrap_or_else(|| (0..n).map(|i| format!("#{i}")).collect())
                });
                let names = (0..f.probs.k).map(|c| c.to_string()).collect();
                (given, paths, names, f.probs)
            }
        },
    };
    let mask = find_label_issues(&labels, &probs, args.filter);
    let scores = quality_scores(&labels, &probs, args.rank_by);
    let suggested = suggested_labels(&probs);
    let ranked = order_issues(&mask, &scores);
    let mut csv = crate::data::csv::Writer::new([
        "rank",
        "index",
        "path",
        "given_label",
        "suggested_label",
        "score",
    ]);
    let mut queue = Vec::new();
    for (r, &i) in ranked.iter().enumerate() {
        csv.row([
            (r + 1).to_string(),
            i.to_string(),
            paths[i].clone(),
            names[labels[i]].clone(),
            names[suggested[i]].clone(),
            scores[i].to_string(),
        ]);
        queue.push(serde_json::json!({
            "data": { "image": paths[i], "index": i, "given_label": names[labels[i]] },
            "predictions": [{
                "model_version": "augtrain-confident-learning",
                "score": scores[i],
                "result": [{
                    "from_name": "label",
                    "to_name": "image",
                    "type": "choices",
                    "value": { "choices": [names[suggested[i]]] }
                }]
            }]
        }));
    }
    dir.write("label_issues.csv", &csv.finish())?;
    dir.write(
        "review_queue.json",
        serde_json::to_string_pretty(&queue)
            .expect("json")
            .as_bytes(),
    )?;
    reporter.line(&format!(
        "{} label issues among {} examples ({:?}, ranked by {:?}); {} and {}",
        ranked.len(),
        labels.len(),
        args.filter,
        args.rank_by,
        dir.file("label_issues.csv").display(),
        dir.file("review_queue.json").display()
    ));
    for &i in ranked.iter().take(10) {
        reporter.line(&format!(
            "  {}: given '{}', suggested '{}' (score {:.4})",
            escape(&paths[i]),
            escape(&names[labels[i]]),
            escape(&names[suggested[i]]),
            scores[i]
        ));
    }
    dir.publish()?;
    Ok(())
}
