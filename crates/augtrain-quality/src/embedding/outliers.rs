//! Out-of-distribution scores from nearest-neighbour distances, as cleanlab 2.9's
//! `OutOfDistribution().fit_score(features=X)` computes them for features with more than three
//! columns (cosine metric).
//!
//! For each row: the cosine distances `1 − s` (clipped to `[0, 2]` as scikit-learn's
//! `cosine_distances`) to its `k` nearest other rows, averaged (numpy's pairwise sum, then ÷ k);
//! the scaling factor is the median of those averages over all rows (`np.median`: the mean of
//! the two middle values for an even count), at least `100·ε` (f64); the score is
//! `exp(−t · avg / max(scale, 1e-6))` with `t = 1`, and rows whose average distance is below
//! `100 · epsneg` (f64, 1.1e-14), i.e. rows whose neighbours are all exact duplicates, score
//! exactly 1 (cleanlab's `correct_precision_errors`). Scores lie in `(0, 1]`; lower is more
//! outlying.
//!
//! Exact duplicates: cleanlab corrects scikit-learn's neighbour lists so that identical rows are
//! each other's first neighbours at distance exactly 0 (`correct_knn_distances_and_indices`).
//! [`super::knn::nearest`] gives identical rows similarity exactly 1 and ranks them first, which
//! is the same correction.
//!
//! Agreement with cleanlab: within 1e-6 per score. Our similarities are f32 dot products
//! (relative error ~1e-7 for unit rows) where scikit-learn computes float64 cosines, which moves
//! each average distance and the median by ~1e-7; the exponential's derivative is at most
//! `1/scale`, a few units for typical embeddings.

use super::knn::{Neighbors, nearest};
use super::store::EmbeddingSet;
use crate::audit::numpy;

/// cleanlab's default neighbour count for features: `min(10, n − 1)`.
pub fn default_k(n: usize) -> usize {
    10.min(n.saturating_sub(1))
}

/// OOD scores from precomputed neighbours, using each row's first `k` (clamped to
/// `neighbors.k`, as cleanlab clamps `k` to the fitted `n_neighbors`). With `k = 0` (fewer than
/// two rows) there is nothing to compare and every score is 1.
pub fn ood_scores(neighbors: &Neighbors, k: usize) -> Vec<f64> {
    let n = neighbors.len();
    let k = k.min(neighbors.k);
    if k == 0 {
        return vec![1.0; n];
    }
    let avg: Vec<f64> = (0..n)
        .map(|i| {
            let d: Vec<f64> = neighbors.similarities_of(i)[..k]
                .iter()
                .map(|&s| (1.0 - f64::from(s)).clamp(0.0, 2.0))
                .collect();
            numpy::sum(&d) / k as f64
        })
        .collect();
    let scale = median(&avg).max(100.0 * f64::EPSILON);
    let tolerance = 100.0 * f64::EPSILON / 2.0;
    avg.iter()
        .map(|&a| {
            if a < tolerance {
                1.0
            } else {
                (-a / scale.max(1e-6)).exp()
            }
        })
        .collect()
}

/// OOD scores of `set` (L2-normalized rows) with cleanlab's default `k` ([`default_k`]).
pub fn ood_scores_for(set: &EmbeddingSet) -> Vec<f64> {
    let k = default_k(set.len());
    ood_scores(&nearest(set, k), k)
}

/// `np.median` of a non-empty array without NaN.
fn median(values: &[f64]) -> f64 {
    let mut v = values.to_vec();
    v.sort_by(f64::total_cmp);
    let m = v.len() / 2;
    if v.len() % 2 == 1 {
        v[m]
    } else {
        (v[m - 1] + v[m]) / 2.0
    }
}
