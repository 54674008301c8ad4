//! `augtrain label-issues DATA`: confident learning on out-of-sample predicted probabilities
//! (from `--pred-probs`, from a k-nearest-neighbour vote on `--embeddings`, or from a
//! cross-validation run here), a ranked CSV and a Label Studio review queue.

use std::path::{Path, PathBuf};

use clap::Args;

use super::cv::{run_cv, write_cv};
use super::train::TrainArgs;
use crate::Error;
use crate::audit::confident::{
    Filter, PredProbs, RankBy, find_label_issues, order_issues, quality_scores, suggested_labels,
};
use crate::audit::pred_probs::{self, PredProbsFile};
use crate::data::source::{DataSource, load_whole};
use crate::data::{DataError, Dataset};
use crate::embedding::Embedded;
use crate::label::studio;
use crate::train::progress::{Reporter, Verbosity};
use crate::util::escape::{escape, escape_path};
use crate::util::{names, path_text};
use augtrain_run::run_dir::OutputDir;

/// Flags of `augtrain label-issues`.
#[derive(Args, Debug)]
// Training flags that do not apply to cross-validation (no run is resumed or named, the data
// is given): accepted (to be refused or ignored with the data given), not offered in --help.
#[command(
    mut_arg("resume", |a| a.hide(true)),
    mut_arg("name", |a| a.hide(true)),
    mut_arg("synthetic_train", |a| a.hide(true)),
    mut_arg("synthetic_test", |a| a.hide(true)),
    mut_arg("synthetic_size", |a| a.hide(true))
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
    let dir = OutputDir::claim(
        args.out.as_deref(),
        &args.train.runs_dir,
        &format!("{name}-label-issues-{}", crate::util::time::compact_now()),
        args.force,
    )?;
    let reporter = Reporter::new(Verbosity::detect(args.train.quiet));
    let examples = match (&args.data, pred) {
        _ if embedded.is_some() => {
            Examples::of_embeddings(embedded.expect("checked"), args.neighbors)?
        }
        (Some(data), None) => {
            let (_, ds, result, reporter) = run_cv(data, &args.train, args.folds)?;
            write_cv(&dir, &ds, &result, &reporter)?;
            let probs = result.probs.iter().map(|&v| v as f64).collect();
            Examples::of_dataset(ds, probs, data)
        }
        (Some(data), Some((file, f))) => Examples::of_data_and_file(data, file, f, &args.train)?,
        (None, Some((file, f))) => Examples::of_file(file, f)?,
        (None, None) => unreachable!("checked above"),
    };
    let found = examples.find(args.filter, args.rank_by);
    examples.write(&dir, &found)?;
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

/// What confident learning runs on: given labels, out-of-sample probabilities, and how to name
/// each example and class in the outputs.
struct Examples {
    /// Given label per example.
    labels: Vec<usize>,
    /// Each example's path text (relative to `base` when there is one), or `#index`.
    paths: Vec<String>,
    /// Class names, by label.
    names: Vec<String>,
    /// Out-of-sample probabilities.
    probs: PredProbs,
    /// The directory image paths are relative to, when they name files (folders, manifests).
    base: Option<PathBuf>,
}

/// The issues found: flagged examples in rank order, every example's score and suggestion.
struct Found {
    ranked: Vec<usize>,
    scores: Vec<f64>,
    suggested: Vec<usize>,
}

impl Examples {
    /// A loaded dataset with probabilities computed for it (row-major, one row per sample).
    fn of_dataset(ds: Dataset, values: Vec<f64>, data: &Path) -> Self {
        let base = DataSource::from_path(data)
            .ok()
            .and_then(|s| s.files_root());
        Examples {
            labels: ds.labels.iter().map(|&l| l as usize).collect(),
            probs: PredProbs {
                k: ds.num_classes(),
                values,
            },
            paths: ds.paths,
            names: ds.class_names,
            base,
        }
    }

    /// A dataset and a probabilities file computed on it: they must agree in size and classes.
    fn of_data_and_file(
        data: &Path,
        file: &Path,
        f: PredProbsFile,
        train: &TrainArgs,
    ) -> crate::Result<Self> {
        let mut cfg = train.config()?;
        cfg.data.path = Some(data.to_path_buf());
        let ds = load_whole(&cfg.data.source()?, &cfg.data, cfg.seed)?.data;
        if ds.len() != f.probs.len() || ds.num_classes() != f.probs.k {
            return Err(DataError::Invalid(format!(
                "{} has {} rows of {} classes but {} has {} images of {} classes; the probabilities must come from the same data",
                escape_path(file),
                f.probs.len(),
                f.probs.k,
                escape_path(data),
                ds.len(),
                ds.num_classes()
            ))
            .into());
        }
        Ok(Self::of_dataset(ds, f.probs.values, data))
    }

    /// Embeddings with their labels: probabilities from the uniform vote of each image's
    /// `neighbors` nearest other images (cleanlab Datalab's route when only features are
    /// given). Classes are the index's labels, sorted.
    fn of_embeddings(e: Embedded, neighbors: usize) -> crate::Result<Self> {
        let mut names: Vec<String> = e.index.iter().map(|r| r.label.clone()).collect();
        names.sort();
        names.dedup();
        if names.len() < 2 || names.iter().any(String::is_empty) {
            return Err(Error::Usage(format!(
                "the embeddings' index.csv must give every image a label, of at least two classes (found: {})",
                names
                    .iter()
                    .map(|n| format!("'{}'", escape(n)))
                    .collect::<Vec<_>>()
                    .join(", ")
            )));
        }
        let labels: Vec<usize> = e
            .index
            .iter()
            .map(|r| names.binary_search(&r.label).expect("a listed label"))
            .collect();
        let nb = crate::embedding::knn::nearest(&e.set, neighbors);
        let probs =
            crate::embedding::knn_probs::knn_pred_probs(&nb, &labels, names.len(), nb.k.max(1))
                .map_err(|e| Error::Usage(format!("--neighbors {neighbors}: {e}")))?;
        let base = DataSource::from_path(Path::new(&e.info.data))
            .ok()
            .and_then(|s| s.files_root());
        Ok(Examples {
            labels,
            paths: e.index.into_iter().map(|r| r.path).collect(),
            names,
            probs,
            base,
        })
    }

    /// A probabilities file with a `given_label` column on its own (classes named by index).
    fn of_file(file: &Path, f: PredProbsFile) -> crate::Result<Self> {
        let labels = f.given.ok_or_else(|| {
            Error::Usage(format!(
                "{} has no given_label column; also give the DATA it was computed on",
                escape_path(file)
            ))
        })?;
        let n = labels.len();
        let paths = f.paths.unwrap_or_else(|| match f.index {
            Some(ix) => ix.iter().map(|i| format!("#{i}")).collect(),
            None => (0..n).map(|i| format!("#{i}")).collect(),
        });
        Ok(Examples {
            labels,
            paths,
            names: (0..f.probs.k).map(|c| c.to_string()).collect(),
            probs: f.probs,
            base: None,
        })
    }

    fn find(&self, filter: Filter, rank_by: RankBy) -> Found {
        let mask = find_label_issues(&self.labels, &self.probs, filter);
        let scores = quality_scores(&self.labels, &self.probs, rank_by);
        Found {
            ranked: order_issues(&mask, &scores),
            suggested: suggested_labels(&self.probs),
            scores,
        }
    }

    /// Example `i`'s image for a reviewer: its absolute path when it names a file.
    fn image(&self, i: usize) -> String {
        match &self.base {
            Some(base) => {
                let p = base.join(path_text::decode(&self.paths[i]));
                path_text::encode(&std::path::absolute(&p).unwrap_or(p))
            }
            None => self.paths[i].clone(),
        }
    }

    /// `label_issues.csv` and the Label Studio review queue (`review_queue.json`,
    /// `labeling_config.xml`).
    fn write(&self, dir: &OutputDir, found: &Found) -> crate::Result<()> {
        let header = [
            "rank",
            "index",
            "path",
            "given_label",
            "suggested_label",
            "score",
        ];
        let mut csv = crate::data::csv::Writer::new(header);
        let mut queue = Vec::new();
        for (r, &i) in found.ranked.iter().enumerate() {
            let (given, suggested) = (&self.names[self.labels[i]], &self.names[found.suggested[i]]);
            csv.row([
                (r + 1).to_string(),
                i.to_string(),
                self.paths[i].clone(),
                given.clone(),
                suggested.clone(),
                found.scores[i].to_string(),
            ]);
            let extra = serde_json::Map::from_iter([
                ("index".to_string(), i.into()),
                ("given_label".to_string(), given.clone().into()),
            ]);
            let model = "augtrain-confident-learning";
            let task = studio::task(i, &self.image(i), extra, suggested, found.scores[i], model);
            queue.push(task);
        }
        dir.write("label_issues.csv", &csv.finish())?;
        let json = serde_json::to_string_pretty(&queue).expect("json");
        dir.write("review_queue.json", json.as_bytes())?;
        let xml = studio::labeling_config(&self.names);
        dir.write("labeling_config.xml", xml.as_bytes())?;
        Ok(())
    }
}
