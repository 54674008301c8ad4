//! Out-of-sample predicted probabilities from the labels of each image's nearest neighbours, as
//! cleanlab 2.9's Datalab computes them for its label check when only features are given
//! (`datalab/internal/issue_manager/label.py`).
//!
//! cleanlab fits `KNeighborsClassifier(n_neighbors=k + 1)` (uniform weights, Euclidean distance)
//! on the features and predicts the same features, so each row's k + 1 neighbours are itself and
//! its k nearest others; it then removes the row's own vote and rescales:
//! `(p − onehot(label)/(k+1)) · (k+1) / k`. The result is the uniform vote of the k nearest
//! other rows. On L2-normalized rows Euclidean order equals cosine order
//! (`‖a − b‖² = 2 − 2 a·b`), so [`super::knn::nearest`] gives the same neighbours. The
//! arithmetic follows cleanlab's float64 steps exactly, so values agree bit for bit, not just to
//! rounding, and exact ties in the confident-learning steps break as in cleanlab.
//!
//! Limits: when a row has more than k exact duplicates, scikit-learn may list k + 1 duplicates
//! and leave the row itself out, and cleanlab then still subtracts its own label; both agree
//! when duplicates share a label. Label values must be below `num_classes`; cleanlab's columns
//! are the labels that occur (`np.unique`), the same as `0..num_classes` when every class
//! occurs.

use super::knn::Neighbors;
use crate::label_issues::confident::PredProbs;

/// Why neighbour probabilities cannot be computed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum KnnProbsError {
    /// Labels and neighbour lists disagree in length.
    #[error("{labels} labels for {rows} embedding rows")]
    Length {
        /// Labels given.
        labels: usize,
        /// Rows with neighbours.
        rows: usize,
    },
    /// A label is not below the class count.
    #[error("label {label} of row {row} is not below the {classes} classes")]
    Label {
        /// The row.
        row: usize,
        /// Its label.
        label: usize,
        /// The class count.
        classes: usize,
    },
    /// `k` is zero or exceeds the neighbours available.
    #[error("k = {k} neighbours requested; between 1 and {available} are available")]
    K {
        /// Requested.
        k: usize,
        /// `neighbors.k`.
        available: usize,
    },
}

/// cleanlab Datalab's default k for the label check.
pub const DEFAULT_K: usize = 10;

/// Row `i`'s probability of class `c` = the share of its `k` nearest other rows labelled `c`,
/// computed as cleanlab does (see the module docs).
pub fn knn_pred_probs(
    neighbors: &Neighbors,
    labels: &[usize],
    num_classes: usize,
    k: usize,
) -> Result<PredProbs, KnnProbsError> {
    let n = labels.len();
    if neighbors.len() != n {
        return Err(KnnProbsError::Length {
            labels: n,
            rows: neighbors.len(),
        });
    }
    if let Some((row, &label)) = labels.iter().enumerate().find(|(_, l)| **l >= num_classes) {
        return Err(KnnProbsError::Label {
            row,
            label,
            classes: num_classes,
        });
    }
    if k == 0 || k > neighbors.k {
        return Err(KnnProbsError::K {
            k,
            available: neighbors.k,
        });
    }
    let kp1 = (k + 1) as f64;
    let mut values = vec![0.0; n * num_classes];
    for (i, row) in values.chunks_exact_mut(num_classes).enumerate() {
        // scikit-learn: votes of the k + 1 neighbours (the row itself included) / their count.
        row[labels[i]] += 1.0;
        for &j in &neighbors.indices_of(i)[..k] {
            row[labels[j as usize]] += 1.0;
        }
        for (c, v) in row.iter_mut().enumerate() {
            let own = if c == labels[i] { 1.0 / kp1 } else { 0.0 };
            *v = (*v / kp1 - own) * kp1 / k as f64;
        }
    }
    Ok(PredProbs {
        k: num_classes,
        values,
    })
}
