//! Examples with out-of-sample probabilities, from the sources `label-issues` and `agreement`
//! share: a dataset with probabilities computed for it (cross-validation), a dataset and a
//! probabilities file computed on it, a probabilities file alone, or embeddings' nearest
//! neighbours; and the label issues found among them, as files.

use std::path::{Path, PathBuf};

use augtrain_data::csv::Writer;
use augtrain_data::source::DataSource;
use augtrain_data::util::escape::{escape, escape_path};
use augtrain_data::util::path_text;
use augtrain_data::{DataError, Dataset};

use super::confident::{
    Filter, PredProbs, RankBy, find_label_issues, order_issues, quality_scores, suggested_labels,
};
use super::pred_probs::PredProbsFile;
use crate::embedding::Embedded;
use crate::embedding::knn_probs::KnnProbsError;
use crate::label::studio;

/// Why a source of examples cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum ExamplesError {
    /// The dataset and the probabilities file differ in size or classes.
    #[error(transparent)]
    Data(#[from] DataError),
    /// The embeddings' index does not label every image with one of at least two classes.
    #[error(
        "the embeddings' index.csv must give every image a label, of at least two classes (found: {found})"
    )]
    UnlabelledEmbeddings {
        /// The labels found, quoted and escaped, comma-separated.
        found: String,
    },
    /// The neighbour vote could not be taken with `neighbors` neighbours (the `--neighbors` flag).
    #[error("--neighbors {neighbors}: {source}")]
    Neighbors {
        /// Neighbours asked for.
        neighbors: usize,
        /// Why the vote failed.
        source: KnnProbsError,
    },
    /// A probabilities file without given labels was given without its data.
    #[error("{} has no given_label column; also give the DATA it was computed on", escape_path(.file))]
    NoGivenLabels {
        /// The probabilities file.
        file: PathBuf,
    },
}

/// What confident learning runs on: given labels, out-of-sample probabilities, and how to name
/// each example and class in the outputs.
pub struct Examples {
    /// Given label per example.
    pub labels: Vec<usize>,
    /// Each example's path text (relative to `base` when there is one), or `#index`.
    pub paths: Vec<String>,
    /// Class names, by label.
    pub names: Vec<String>,
    /// Out-of-sample probabilities.
    pub probs: PredProbs,
    /// The directory image paths are relative to, when they name files (folders, manifests).
    pub base: Option<PathBuf>,
}

/// The label issues found among [`Examples`]: flagged examples in rank order, every example's
/// score and suggested label.
pub struct Found {
    /// Flagged examples, most likely wrong first.
    pub ranked: Vec<usize>,
    /// Every example's label quality score (lower: more likely wrong).
    pub scores: Vec<f64>,
    /// Every example's suggested label (the argmax of its probabilities).
    pub suggested: Vec<usize>,
}

impl Examples {
    /// A loaded dataset (read from `data`) with probabilities computed for it (row-major, one
    /// row per sample).
    pub fn of_dataset(ds: Dataset, values: Vec<f64>, data: &Path) -> Self {
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

    /// A dataset (read from `data`) and a probabilities file `f` (read from `file`) computed
    /// on it: they must agree in size and classes.
    pub fn of_data_and_file(
        ds: Dataset,
        data: &Path,
        file: &Path,
        f: PredProbsFile,
    ) -> Result<Self, ExamplesError> {
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
    pub fn of_embeddings(e: &Embedded, neighbors: usize) -> Result<Self, ExamplesError> {
        let mut names: Vec<String> = e.index.iter().map(|r| r.label.clone()).collect();
        names.sort();
        names.dedup();
        if names.len() < 2 || names.iter().any(String::is_empty) {
            return Err(ExamplesError::UnlabelledEmbeddings {
                found: names
                    .iter()
                    .map(|n| format!("'{}'", escape(n)))
                    .collect::<Vec<_>>()
                    .join(", "),
            });
        }
        let labels: Vec<usize> = e
            .index
            .iter()
            .map(|r| names.binary_search(&r.label).expect("a listed label"))
            .collect();
        let nb = crate::embedding::knn::nearest(&e.set, neighbors);
        let probs =
            crate::embedding::knn_probs::knn_pred_probs(&nb, &labels, names.len(), nb.k.max(1))
                .map_err(|source| ExamplesError::Neighbors { neighbors, source })?;
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

    /// A probabilities file `f` (read from `file`) with a `given_label` column on its own
    /// (classes named by index).
    pub fn of_file(file: &Path, f: PredProbsFile) -> Result<Self, ExamplesError> {
        if f.given.is_none() {
            return Err(ExamplesError::NoGivenLabels {
                file: file.to_path_buf(),
            });
        }
        Ok(Self::of_probs_file(f))
    }

    /// A probabilities file on its own, given labels or not (`labels` is empty without a
    /// `given_label` column). Examples are named by the file's `path` column, else `#index`
    /// (the `index` column, or the row number); classes by index.
    pub fn of_probs_file(f: PredProbsFile) -> Self {
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
    pub fn image(&self, i: usize) -> String {
        match &self.base {
            Some(base) => {
                let p = base.join(path_text::decode(&self.paths[i]));
                path_text::encode(&std::path::absolute(&p).unwrap_or(p))
            }
            None => self.paths[i].clone(),
        }
    }

    /// The label issues by confident learning with `filter`, ranked by `rank_by`.
    pub fn find(&self, filter: Filter, rank_by: RankBy) -> Found {
        let mask = find_label_issues(&self.labels, &self.probs, filter);
        let scores = quality_scores(&self.labels, &self.probs, rank_by);
        Found {
            ranked: order_issues(&mask, &scores),
            suggested: suggested_labels(&self.probs),
            scores,
        }
    }

    /// The files of what was `found`, by name, as bytes: `label_issues.csv` (rank, index, path,
    /// given and suggested label, score) and the Label Studio review queue
    /// (`review_queue.json`, `labeling_config.xml`).
    pub fn files(&self, found: &Found) -> Vec<(&'static str, Vec<u8>)> {
        let header = [
            "rank",
            "index",
            "path",
            "given_label",
            "suggested_label",
            "score",
        ];
        let mut csv = Writer::new(header);
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
        let json = serde_json::to_string_pretty(&queue).expect("json");
        let xml = studio::labeling_config(&self.names);
        vec![
            ("label_issues.csv", csv.finish()),
            ("review_queue.json", json.into_bytes()),
            ("labeling_config.xml", xml.into_bytes()),
        ]
    }
}
