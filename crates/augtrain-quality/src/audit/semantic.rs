//! The audit's embedding checks: semantic near duplicates and outliers.
//!
//! Every usable image of the audit is matched to its embedding by path (an image without one
//! is an error naming it: embeddings of other data must not be paired by position). Then, on
//! the L2-normalized embeddings, with one exact k-nearest-neighbour search
//! ([`crate::embedding::knn`]):
//!
//! - **semantic near duplicates**: pairs with cosine similarity at least
//!   [`SemanticOptions::min_similarity`] among each image's k nearest neighbours, grouped
//!   transitively; they catch crops, rescales, colour shifts, re-encodes and flips that the
//!   pHash misses. Groups whose members span splits are leaks. An image's
//!   `semantic_duplicates_score` is 1 − its largest similarity to another image, clamped to
//!   [0, 1];
//! - **outliers**: cleanlab's out-of-distribution score from features (`outlier_score`,
//!   [`crate::embedding::outliers`]: the mean cosine distance to the k nearest neighbours,
//!   `exp(−d / median d)`, lower = more unusual), flagged with cleanlab Datalab's rule: mean
//!   distance above Q3 + (1/0.37037 − 1)·IQR of all images' mean distances.

use std::time::Instant;

use serde::Serialize;

use super::{Group, Measured};
use crate::embedding::duplicates::near_duplicates;
use crate::embedding::{Embedded, EmbeddingSet, knn, outliers};
use augtrain_data::DataError;

/// Datalab's default outlier threshold on features (`OutlierIssueManager.DEFAULT_THRESHOLDS`).
const OUTLIER_THRESHOLD: f64 = 0.37037;

/// How the embedding checks run.
#[derive(Clone, Debug)]
pub struct SemanticOptions {
    /// Smallest cosine similarity of semantic near duplicates.
    pub min_similarity: f32,
    /// Neighbours searched per image (and averaged by the outlier score).
    pub neighbors: usize,
}

impl Default for SemanticOptions {
    fn default() -> Self {
        Self {
            min_similarity: DEFAULT_MIN_SIMILARITY,
            neighbors: 10,
        }
    }
}

/// The default [`SemanticOptions::min_similarity`].
pub const DEFAULT_MIN_SIMILARITY: f32 = 0.9;

/// Embeddings for the audit and how to use them.
#[derive(Clone, Debug)]
pub struct SemanticInput {
    /// The embeddings, matched to images by path.
    pub embedded: Embedded,
    /// Thresholds.
    pub opts: SemanticOptions,
}

/// Two images whose embeddings are at least the threshold alike.
#[derive(Clone, Debug, Serialize)]
pub struct SemanticPair {
    /// The first image's index in the audit.
    pub a: usize,
    /// The second image's index (`a < b`).
    pub b: usize,
    /// Their paths.
    pub paths: [String; 2],
    /// Their labels.
    pub labels: [String; 2],
    /// Cosine similarity of their embeddings.
    pub similarity: f32,
}

/// The audit's embedding findings.
#[derive(Clone, Debug, Serialize)]
pub struct SemanticReport {
    /// The model that computed the embeddings (`embed.json`; empty when unknown).
    pub model: String,
    /// Floats per embedding.
    pub dim: usize,
    /// The similarity threshold used.
    pub min_similarity: f32,
    /// Neighbours per image.
    pub neighbors: usize,
    /// Pairs at or above the threshold, most similar first.
    pub pairs: Vec<SemanticPair>,
    /// Pairs joined transitively.
    pub groups: Vec<Group>,
    /// Groups spanning splits.
    pub leaks: Vec<Group>,
    /// Mean cosine distance to the k nearest above which an image is an outlier.
    pub outlier_distance_threshold: f64,
    /// Flagged outliers, most unusual first (audit indices).
    pub outliers: Vec<usize>,
    /// Seconds the neighbour search took.
    pub search_seconds: f64,
}

impl SemanticReport {
    /// The text summary's embedding part: up to `list` pairs and outliers.
    pub fn summary(&self, rows: &[super::ImageRow], list: usize) -> String {
        use augtrain_data::util::escape::escape;
        let model = if self.model.is_empty() {
            "given".to_string()
        } else {
            self.model.clone()
        };
        let mut out = format!(
            "\nsemantic near duplicates ({model} embeddings, cosine >= {}): {} pairs in {} groups, {} spanning splits\n",
            self.min_similarity,
            self.pairs.len(),
            self.groups.len(),
            self.leaks.len()
        );
        for p in self.pairs.iter().take(list) {
            out.push_str(&format!(
                "  {:.4}  {} ({}) ~ {} ({})\n",
                p.similarity,
                escape(&p.paths[0]),
                escape(&p.labels[0]),
                escape(&p.paths[1]),
                escape(&p.labels[1])
            ));
        }
        out.push_str(&format!(
            "\noutliers (cleanlab's score from {} nearest neighbours; mean cosine distance above {:.4}): {}\n",
            self.neighbors,
            self.outlier_distance_threshold,
            self.outliers.len()
        ));
        for &i in self.outliers.iter().take(list) {
            out.push_str(&format!(
                "  {:.4}  {} ({})\n",
                rows[i].outlier_score.unwrap_or(f64::NAN),
                escape(&rows[i].path),
                escape(&rows[i].label)
            ));
        }
        out
    }
}

/// Per measured image: what the embedding checks found (None for images not checked).
#[derive(Clone, Debug, Default)]
pub(super) struct RowFindings {
    pub max_similarity: Option<f32>,
    pub group: Option<usize>,
    pub outlier_score: Option<f64>,
    pub is_outlier: bool,
}

/// Run the checks over the usable images `ok` of `m`.
pub(super) fn analyse(
    input: &SemanticInput,
    m: &[Measured],
    ok: &[usize],
) -> Result<(SemanticReport, Vec<RowFindings>), DataError> {
    let set = aligned(&input.embedded, m, ok)?;
    let k = input.opts.neighbors.max(1);
    let start = Instant::now();
    let nb = knn::nearest(&set, k);
    let search_seconds = start.elapsed().as_secs_f64();
    let k = nb.k;
    let mut rows = vec![RowFindings::default(); m.len()];
    let (pairs, groups) = duplicate_pairs(&nb, input.opts.min_similarity, m, ok);
    for (g, members) in groups.iter().enumerate() {
        for &i in members {
            rows[i].group = Some(g);
        }
    }
    let groups: Vec<Group> = groups.into_iter().map(|g| super::group(g, m)).collect();
    let leaks = groups
        .iter()
        .filter(|g| g.splits.len() > 1)
        .cloned()
        .collect();
    let (outlier_list, threshold) = flag_outliers(&nb, ok, &mut rows);
    for (a, &i) in ok.iter().enumerate() {
        rows[i].max_similarity = (k > 0).then(|| nb.similarities[a * k]);
    }
    let report = SemanticReport {
        model: input.embedded.info.model.clone(),
        dim: set.dim,
        min_similarity: input.opts.min_similarity,
        neighbors: k,
        pairs,
        groups,
        leaks,
        outlier_distance_threshold: threshold,
        outliers: outlier_list,
        search_seconds,
    };
    Ok((report, rows))
}

/// The embeddings of the usable images, in audit order; an image without one is an error.
fn aligned(e: &Embedded, m: &[Measured], ok: &[usize]) -> Result<EmbeddingSet, DataError> {
    let by_path = e.rows_by_path();
    let missing: Vec<&str> = ok
        .iter()
        .map(|&i| m[i].path.as_str())
        .filter(|p| !by_path.contains_key(p))
        .collect();
    if !missing.is_empty() {
        return Err(DataError::Invalid(format!(
            "{} of {} images have no embedding (e.g. {}); compute the embeddings on this data: augtrain embed --data DATA ...",
            missing.len(),
            ok.len(),
            missing
                .iter()
                .take(3)
                .map(|p| format!("'{}'", augtrain_data::util::escape::escape(p)))
                .collect::<Vec<_>>()
                .join(", ")
        )));
    }
    check_unchanged(e, m, ok, &by_path)?;
    let dim = e.set.dim;
    let mut values = Vec::with_capacity(ok.len() * dim);
    for &i in ok {
        values.extend_from_slice(e.set.row(by_path[m[i].path.as_str()]));
    }
    Ok(EmbeddingSet { dim, values })
}

/// Every image read from a file must be the one that was embedded: its bytes' SHA-256 equal to
/// the index's. An index without hashes cannot be checked against files and is refused.
fn check_unchanged(
    e: &Embedded,
    m: &[Measured],
    ok: &[usize],
    by_path: &std::collections::HashMap<&str, usize>,
) -> Result<(), DataError> {
    let files: Vec<(&Measured, &str)> = ok
        .iter()
        .filter_map(|&i| m[i].file_sha256.as_deref().map(|s| (&m[i], s)))
        .collect();
    if files.is_empty() {
        return Ok(());
    }
    let mut changed = Vec::new();
    for (measured, sha) in &files {
        match &e.index[by_path[measured.path.as_str()]].sha256 {
            None => {
                return Err(DataError::Invalid(
                    "the embeddings' index.csv has no sha256 column, so its rows cannot be checked against the images (written by an older augtrain, or by hand); compute the embeddings again: augtrain embed --data DATA ..., or add a sha256 column (the SHA-256 of each file's bytes, as sha256sum prints it)".into(),
                ));
            }
            Some(recorded) if recorded != sha => changed.push(measured.path.as_str()),
            Some(_) => {}
        }
    }
    if changed.is_empty() {
        return Ok(());
    }
    Err(DataError::Invalid(format!(
        "{} of {} images changed since their embeddings were computed (e.g. {}); compute the embeddings on this data again: augtrain embed --data DATA ...",
        changed.len(),
        files.len(),
        changed
            .iter()
            .take(3)
            .map(|p| format!("'{}'", augtrain_data::util::escape::escape(p)))
            .collect::<Vec<_>>()
            .join(", ")
    )))
}

/// Pairs at or above `min` (audit indices, `a < b`, most similar first) and their groups.
fn duplicate_pairs(
    nb: &knn::Neighbors,
    min: f32,
    m: &[Measured],
    ok: &[usize],
) -> (Vec<SemanticPair>, Vec<Vec<usize>>) {
    let found = near_duplicates(nb, min);
    // `ok` is increasing, so audit indices keep the pairs' order and `a < b`.
    let pairs = found
        .pairs
        .iter()
        .map(|p| {
            let (a, b) = (ok[p.i], ok[p.j]);
            SemanticPair {
                a,
                b,
                paths: [m[a].path.clone(), m[b].path.clone()],
                labels: [m[a].label.clone(), m[b].label.clone()],
                similarity: p.similarity,
            }
        })
        .collect();
    let groups = found
        .groups
        .into_iter()
        .map(|g| g.into_iter().map(|r| ok[r]).collect())
        .collect();
    (pairs, groups)
}

/// cleanlab's scores into `rows`, Datalab's flags; the flagged (most unusual first) and the
/// mean-distance threshold.
fn flag_outliers(nb: &knn::Neighbors, ok: &[usize], rows: &mut [RowFindings]) -> (Vec<usize>, f64) {
    if nb.k == 0 || ok.is_empty() {
        return (Vec::new(), f64::INFINITY);
    }
    let scores = outliers::ood_scores(nb, nb.k);
    let mean_distance: Vec<f64> = (0..ok.len())
        .map(|a| {
            let row = &nb.similarities[a * nb.k..(a + 1) * nb.k];
            row.iter().map(|&s| 1.0 - s as f64).sum::<f64>() / nb.k as f64
        })
        .collect();
    let (q1, q3) = (
        percentile(&mean_distance, 25.0),
        percentile(&mean_distance, 75.0),
    );
    let threshold = q3 + (1.0 / OUTLIER_THRESHOLD - 1.0) * (q3 - q1);
    let mut flagged = Vec::new();
    for (a, &i) in ok.iter().enumerate() {
        rows[i].outlier_score = Some(scores[a]);
        rows[i].is_outlier = mean_distance[a] > threshold;
        if rows[i].is_outlier {
            flagged.push((scores[a], i));
        }
    }
    flagged.sort_by(|x, y| x.0.total_cmp(&y.0).then(x.1.cmp(&y.1)));
    (flagged.into_iter().map(|(_, i)| i).collect(), threshold)
}

/// numpy's `percentile` with linear interpolation (its default).
fn percentile(values: &[f64], q: f64) -> f64 {
    let mut v = values.to_vec();
    v.sort_by(f64::total_cmp);
    let pos = (v.len() - 1) as f64 * q / 100.0;
    let (lo, hi) = (pos.floor() as usize, pos.ceil() as usize);
    v[lo] + (v[hi] - v[lo]) * (pos - lo as f64)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percentile_interpolates_as_numpy() {
        // np.percentile([1, 2, 3, 4], [25, 75]) == [1.75, 3.25]
        assert_eq!(percentile(&[4.0, 1.0, 3.0, 2.0], 25.0), 1.75);
        assert_eq!(percentile(&[4.0, 1.0, 3.0, 2.0], 75.0), 3.25);
        assert_eq!(percentile(&[5.0], 75.0), 5.0);
    }
}
