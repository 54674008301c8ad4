//! Examples with out-of-sample probabilities, from the sources `label-issues` and `agreement`
//! share: a dataset with probabilities computed for it (cross-validation), a dataset and a
//! probabilities file computed on it, a probabilities file alone, or embeddings' nearest
//! neighbours.

use std::path::{Path, PathBuf};

use super::train_args::TrainArgs;
use crate::Error;
use crate::audit::confident::PredProbs;
use crate::audit::pred_probs::PredProbsFile;
use crate::data::source::{DataSource, load_whole};
use crate::data::{DataError, Dataset};
use crate::embedding::Embedded;
use crate::util::escape::{escape, escape_path};
use crate::util::path_text;

/// What confident learning runs on: given labels, out-of-sample probabilities, and how to name
/// each example and class in the outputs.
pub(super) struct Examples {
    /// Given label per example.
    pub(super) labels: Vec<usize>,
    /// Each example's path text (relative to `base` when there is one), or `#index`.
    pub(super) paths: Vec<String>,
    /// Class names, by label.
    pub(super) names: Vec<String>,
    /// Out-of-sample probabilities.
    pub(super) probs: PredProbs,
    /// The directory image paths are relative to, when they name files (folders, manifests).
    pub(super) base: Option<PathBuf>,
}

impl Examples {
    /// A loaded dataset with probabilities computed for it (row-major, one row per sample).
    pub(super) fn of_dataset(ds: Dataset, values: Vec<f64>, data: &Path) -> Self {
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
    pub(super) fn of_data_and_file(
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
    pub(super) fn of_embeddings(e: &Embedded, neighbors: usize) -> crate::Result<Self> {
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
            paths: e.index.iter().map(|r| r.path.clone()).collect(),
            names,
            probs,
            base,
        })
    }

    /// A probabilities file with a `given_label` column on its own (classes named by index).
    pub(super) fn of_file(file: &Path, f: PredProbsFile) -> crate::Result<Self> {
        if f.given.is_none() {
            return Err(Error::Usage(format!(
                "{} has no given_label column; also give the DATA it was computed on",
                escape_path(file)
            )));
        }
        Ok(Self::of_probs_file(f))
    }

    /// A probabilities file on its own, given labels or not (`labels` is empty without a
    /// `given_label` column). Examples are named by the file's `path` column, else `#index`
    /// (the `index` column, or the row number); classes by index.
    pub(super) fn of_probs_file(f: PredProbsFile) -> Self {
        let n = f.probs.len();
        let paths = f.paths.unwrap_or_else(|| match f.index {
            Some(ix) => ix.iter().map(|i| format!("#{i}")).collect(),
            None => (0..n).map(|i| format!("#{i}")).collect(),
        });
        Examples {
            labels: f.given.unwrap_or_default(),
            paths,
            names: (0..f.probs.k).map(|c| c.to_string()).collect(),
            probs: f.probs,
            base: None,
        }
    }

    /// Example `i`'s image for a reviewer: its absolute path when it names a file.
    pub(super) fn image(&self, i: usize) -> String {
        match &self.base {
            Some(base) => {
                let p = base.join(path_text::decode(&self.paths[i]));
                path_text::encode(&std::path::absolute(&p).unwrap_or(p))
            }
            None => self.paths[i].clone(),
        }
    }
}
