//! What `augtrain predict` writes into its output directory: the predictions with their
//! probabilities, pseudo-labels (a manifest of the confident predictions) and a review queue
//! (CSV and Label Studio tasks) of the most uncertain images.

use augtrain_data::csv::Writer;
use augtrain_data::unlabelled::Unlabelled;
use augtrain_data::util::escape::escape;
use augtrain_data::util::names;
use augtrain_quality::label::{Prediction, QueueBy, pseudo_labels, review_queue, studio};

use crate::RunError;
use crate::run_dir::OutputDir;

/// The `n` most probable classes of one row, e.g. `281 tabby (0.62), 285 Egyptian cat (0.21)`
/// (the index first when the names are not the indices).
pub fn top_classes(probs: &[f32], names: &[String], n: usize) -> String {
    let mut order: Vec<usize> = (0..probs.len()).collect();
    order.sort_by(|&a, &b| probs[b].total_cmp(&probs[a]).then(a.cmp(&b)));
    order
        .iter()
        .take(n)
        .map(|&c| {
            if names[c] == c.to_string() {
                format!("{c} ({:.2})", probs[c])
            } else {
                format!("{c} {} ({:.2})", names[c], probs[c])
            }
        })
        .collect::<Vec<_>>()
        .join(", ")
}

/// What `predict` writes into its output directory, each method one file (or a few) and the
/// line saying where.
pub struct PredictOutputs<'a> {
    /// The output directory (published by the caller once every file is written).
    pub dir: &'a OutputDir,
    /// The images predicted, with their paths.
    pub images: &'a Unlabelled,
    /// Class names, by class index.
    pub names: &'a [String],
    /// One prediction per image.
    pub preds: &'a [Prediction],
    /// Row-major probabilities, `names.len()` per image.
    pub probs: &'a [f32],
}

impl PredictOutputs<'_> {
    fn row(&self, i: usize) -> &[f32] {
        let k = self.names.len();
        &self.probs[i * k..(i + 1) * k]
    }

    /// `predictions.csv` (path, predicted class, confidence, one probability per class) and
    /// `skipped.csv` when files were skipped.
    pub fn predictions(&self) -> Result<String, RunError> {
        let header = ["path", "predicted", "confidence"]
            .map(String::from)
            .into_iter()
            .chain(self.names.iter().map(|n| format!("p_{n}")));
        let mut csv = Writer::new(header);
        for (i, p) in self.preds.iter().enumerate() {
            let fields = [
                self.images.data.paths[i].clone(),
                self.names[p.class].clone(),
                p.confidence.to_string(),
            ];
            csv.row(
                fields
                    .into_iter()
                    .chain(self.row(i).iter().map(|v| v.to_string())),
            );
        }
        self.dir.write("predictions.csv", &csv.finish())?;
        if !self.images.skipped.is_empty() {
            let skipped = crate::run_dir::skipped_csv(&self.images.skipped);
            self.dir.write("skipped.csv", skipped.as_bytes())?;
        }
        Ok(format!(
            "predicted {} images into {}",
            self.images.data.len(),
            self.dir.file("predictions.csv").display()
        ))
    }

    /// One line per image with its `n` most probable classes.
    pub fn top_classes(&self, n: usize) -> Vec<String> {
        let paths = &self.images.data.paths;
        (0..paths.len())
            .map(|i| {
                let top = top_classes(self.row(i), self.names, n);
                format!("{}: {top}", escape(&paths[i]))
            })
            .collect()
    }

    /// `pseudo_labels.csv`: a manifest (absolute paths) of the confident predictions.
    pub fn pseudo_labels(
        &self,
        threshold: f64,
        max_per_class: Option<usize>,
    ) -> Result<String, RunError> {
        let accepted = pseudo_labels(self.preds, threshold, max_per_class, self.names.len());
        let mut m = Writer::new(["path", "label", "confidence"]);
        for &i in &accepted {
            m.row([
                self.images.absolute_path(i),
                self.names[self.preds[i].class].clone(),
                self.preds[i].confidence.to_string(),
            ]);
        }
        self.dir.write("pseudo_labels.csv", &m.finish())?;
        Ok(format!(
            "{} pseudo-labels at confidence >= {threshold} ({}) in {}",
            accepted.len(),
            max_per_class
                .map(|m| format!("at most {m} per class"))
                .unwrap_or_else(|| "no cap per class".into()),
            self.dir.file("pseudo_labels.csv").display()
        ))
    }

    /// `review_queue.csv`, and the same images as Label Studio tasks (`review_queue.json`,
    /// `labeling_config.xml`).
    pub fn review_queue(&self, by: QueueBy, top: usize) -> Result<String, RunError> {
        let q = review_queue(self.preds, by, top);
        let mut c = Writer::new([
            "rank",
            "path",
            "predicted",
            "confidence",
            "margin",
            "entropy",
        ]);
        let mut tasks = Vec::new();
        for (r, &i) in q.iter().enumerate() {
            let p = &self.preds[i];
            let class = &self.names[p.class];
            c.row([
                (r + 1).to_string(),
                self.images.data.paths[i].clone(),
                class.clone(),
                p.confidence.to_string(),
                p.margin.to_string(),
                p.entropy.to_string(),
            ]);
            let extra = serde_json::Map::from_iter([("rank".to_string(), (r + 1).into())]);
            let image = self.images.absolute_path(i);
            tasks.push(studio::task(
                i,
                &image,
                extra,
                class,
                p.confidence,
                "augtrain",
            ));
        }
        self.dir.write("review_queue.csv", &c.finish())?;
        let json = serde_json::to_string_pretty(&tasks).expect("json");
        self.dir.write("review_queue.json", json.as_bytes())?;
        let xml = studio::labeling_config(self.names);
        self.dir.write("labeling_config.xml", xml.as_bytes())?;
        Ok(format!(
            "review queue ({}, top {}) in {}",
            names::name(&by),
            q.len(),
            self.dir.file("review_queue.csv").display()
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn top_classes_name_the_index_only_when_names_are_not_indices() {
        let probs = [0.1, 0.6, 0.3];
        let indices: Vec<String> = (0..3).map(|c| c.to_string()).collect();
        assert_eq!(top_classes(&probs, &indices, 2), "1 (0.60), 2 (0.30)");
        let names = ["ant", "bee", "cat"].map(String::from);
        assert_eq!(top_classes(&probs, &names, 1), "1 bee (0.60)");
    }
}
