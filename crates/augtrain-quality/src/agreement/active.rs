//! What to label next.
//!
//! - [`activelab`]: cleanlab 2.9's `get_active_learning_scores(labels, pred_probs,
//!   pred_probs_unlabeled)`. A low score means a new label would help most. With several labels
//!   on some image the probabilities are first temperature-scaled (the temperature minimizing
//!   the soft cross-entropy against the annotators' label shares, searched on cleanlab's coarse
//!   grid then a finer one), CROWDLAB runs on them, and an image's score is the mean of its
//!   consensus quality (weight: its annotators' weights plus the model's) and 1/K (weight: the
//!   mean annotator weight). With one label per image the model and every annotator weigh 1
//!   and no scaling happens. Unlabelled images score the mean of their top probability
//!   (model weight) and 1/K (mean annotator weight).
//! - [`uncertainty_order`]: least-confidence / margin / entropy sampling of unlabelled
//!   images (the same measures as `predict --queue`).
//! - [`k_center_batch`]: a diversity-aware batch: greedy k-center (core-set) selection on
//!   embeddings among the lowest-scoring candidates.

use super::crowdlab::{check, check_sizes, crowdlab};
use super::{AgreementError, LabelMatrix, np_mean};
use crate::embedding::store::EmbeddingSet;
use crate::label::{QueueBy, predict_row, review_queue};
use crate::label_issues::confident::PredProbs;

/// cleanlab's coarse temperature grid.
const COARSE: [f64; 9] = [0.1, 0.2, 0.5, 0.8, 1.0, 2.0, 3.0, 5.0, 8.0];
/// Points of the fine grid on each side of the coarse optimum.
const FINE: usize = 4;
/// cleanlab's `SMALL_CONST`: probabilities are clipped below at this before logarithms.
const SMALL: f64 = 1e-30;

/// ActiveLab scores: one per labelled image (matrix order) and one per unlabelled image.
#[derive(Clone, Debug, PartialEq)]
pub struct ActiveScores {
    /// Per labelled image.
    pub labelled: Vec<f64>,
    /// Per unlabelled image.
    pub unlabelled: Vec<f64>,
    /// The temperature the probabilities were scaled by.
    pub temperature: f64,
}

/// ActiveLab (see the module docs). `probs` has a row per labelled image, `unlabelled` a row
/// per unlabelled image, both [`LabelMatrix::n_classes`] columns.
pub fn activelab(
    m: &LabelMatrix,
    probs: &PredProbs,
    unlabelled: &PredProbs,
) -> Result<ActiveScores, AgreementError> {
    let k = probs.k;
    if unlabelled.k != k && !unlabelled.is_empty() {
        return Err(AgreementError::ProbsMismatch(format!(
            "the unlabelled images' probabilities have {} classes, the labelled images' {k}",
            unlabelled.k
        )));
    }
    let uniform = 1.0 / k as f64;
    let average = |q: f64, wq: f64, wu: f64| (q * wq + uniform * wu) / (wq + wu);
    let counts = m.counts();
    let (labelled, temperature, model_weight, mean_weight) = if counts.iter().all(|&c| c == 1) {
        check_sizes(m, probs)?;
        let scores = (0..m.n_images())
            .map(|i| average(probs.row(i)[m.row(i)[0].class as usize], 2.0, 1.0))
            .collect();
        (scores, 1.0, 1.0, 1.0)
    } else {
        check(m, probs)?;
        let t = best_temperature(m, probs);
        let scaled = temperature_scale(probs, t);
        let c = crowdlab(m, &scaled)?;
        let mean_weight = np_mean(&c.annotator_weight);
        let scores = (0..m.n_images())
            .map(|i| {
                let w: f64 = m
                    .row(i)
                    .iter()
                    .map(|e| c.annotator_weight[e.annotator as usize])
                    .sum();
                average(c.consensus_quality[i], w + c.model_weight, mean_weight)
            })
            .collect();
        (scores, t, c.model_weight, mean_weight)
    };
    let scaled = temperature_scale(unlabelled, temperature);
    let unlabelled = (0..scaled.len())
        .map(|i| {
            let top = scaled
                .row(i)
                .iter()
                .copied()
                .fold(f64::NEG_INFINITY, f64::max);
            average(top, model_weight, mean_weight)
        })
        .collect();
    Ok(ActiveScores {
        labelled,
        unlabelled,
        temperature,
    })
}

/// cleanlab's `temp_scale_pred_probs`: clip at 1e-30, renormalize, softmax(ln p / t),
/// renormalize.
pub fn temperature_scale(probs: &PredProbs, t: f64) -> PredProbs {
    let k = probs.k;
    let mut values = Vec::with_capacity(probs.values.len());
    for row in probs.values.chunks_exact(k.max(1)) {
        let clipped: Vec<f64> = row.iter().map(|p| p.max(SMALL)).collect();
        let s: f64 = clipped.iter().sum();
        let logs: Vec<f64> = clipped.iter().map(|p| (p / s).ln()).collect();
        values.extend(normalized(&softmax(&logs, t)));
    }
    PredProbs { k, values }
}

fn softmax(logs: &[f64], t: f64) -> Vec<f64> {
    let e: Vec<f64> = logs.iter().map(|x| (x / t.max(1e-6)).exp()).collect();
    normalized(&e)
}

fn normalized(v: &[f64]) -> Vec<f64> {
    let s: f64 = v.iter().sum();
    v.iter().map(|x| x / s).collect()
}

/// cleanlab's `find_best_temp_scaler`: the coarse grid, then `FINE` points towards each
/// neighbour of its best temperature; the first minimum of the mean soft cross-entropy wins.
pub fn best_temperature(m: &LabelMatrix, probs: &PredProbs) -> f64 {
    let ce = |t: f64| soft_cross_entropy(m, probs, t);
    let coarse: Vec<f64> = COARSE.iter().map(|&t| ce(t)).collect();
    let best = first_min(&coarse);
    let mut fine = Vec::new();
    if best != 0 {
        fine.extend(linspace(COARSE[best - 1], COARSE[best], FINE, false));
    }
    if best != COARSE.len() - 1 {
        fine.extend(linspace(COARSE[best], COARSE[best + 1], FINE + 1, true));
    }
    let scores: Vec<f64> = fine.iter().map(|&t| ce(t)).collect();
    fine[first_min(&scores)]
}

fn first_min(v: &[f64]) -> usize {
    (0..v.len()).fold(0, |b, i| if v[i] < v[b] { i } else { b })
}

/// `np.linspace(a, b, n, endpoint)`.
fn linspace(a: f64, b: f64, n: usize, endpoint: bool) -> Vec<f64> {
    let div = if endpoint { n - 1 } else { n } as f64;
    let step = (b - a) / div;
    let mut v: Vec<f64> = (0..n).map(|i| i as f64 * step + a).collect();
    if endpoint {
        v[n - 1] = b;
    }
    v
}

/// Mean over images of −Σ share·ln(max(softmax(ln p / t), 1e-30)) / ln K, as cleanlab 2.9's
/// `compute_soft_cross_entropy` computes it on a float label matrix: its `value_counts` then
/// places the counts of an image's distinct labels (ascending) at classes 0, 1, … rather than
/// at their own classes (a quirk kept so that the temperature, hence the scores, match).
fn soft_cross_entropy(m: &LabelMatrix, probs: &PredProbs, t: f64) -> f64 {
    let k = probs.k;
    let per_image: Vec<f64> = (0..m.n_images())
        .map(|i| {
            let logs: Vec<f64> = probs
                .row(i)
                .iter()
                .map(|&p| if p > 0.0 { p.ln() } else { f64::NEG_INFINITY })
                .collect();
            let scaled = softmax(&logs, t);
            let row = m.row(i);
            let mut count = vec![0.0; k];
            row.iter().for_each(|e| count[e.class as usize] += 1.0);
            // cleanlab's quirk: the counts of the classes present, packed to the front.
            let mut share: Vec<f64> = count.into_iter().filter(|&c| c > 0.0).collect();
            share.resize(k, 0.0);
            let n = row.len() as f64;
            -(0..k)
                .map(|c| share[c] / n * scaled[c].max(SMALL).ln())
                .sum::<f64>()
                / (k as f64).ln()
        })
        .collect();
    np_mean(&per_image)
}

/// Rows of `probs`, most uncertain first under `by` (least confidence, margin or entropy, as
/// `predict --queue` ranks them), each with its score under that measure.
pub fn uncertainty_order(probs: &PredProbs, by: QueueBy) -> Vec<(usize, f64)> {
    let preds: Vec<_> = (0..probs.len())
        .map(|i| {
            let row: Vec<f32> = probs.row(i).iter().map(|&v| v as f32).collect();
            predict_row(&row)
        })
        .collect();
    review_queue(&preds, by, preds.len())
        .into_iter()
        .map(|i| {
            let p = &preds[i];
            let score = match by {
                QueueBy::LeastConfidence => p.least_confidence,
                QueueBy::Margin => p.margin,
                QueueBy::Entropy => p.entropy,
            };
            (i, score)
        })
        .collect()
}

/// A diversity-aware batch of `budget` candidates: `ranked` lists candidates best first (for
/// example by ActiveLab score), `embedding(c)` gives candidate `c`'s row. Among the first
/// `4 · budget` of them, greedy k-center: the best-ranked first, then repeatedly the candidate
/// farthest (squared Euclidean distance) from every one chosen so far, ties to the better
/// rank. Returns the chosen candidates in the order chosen.
pub fn k_center_batch(ranked: &[usize], embeddings: &EmbeddingSet, budget: usize) -> Vec<usize> {
    let pool: Vec<usize> = ranked
        .iter()
        .copied()
        .take(budget.saturating_mul(4))
        .collect();
    let mut chosen = Vec::with_capacity(budget.min(pool.len()));
    let mut nearest = vec![f32::INFINITY; pool.len()];
    let mut taken = vec![false; pool.len()];
    let mut next = 0;
    while chosen.len() < budget.min(pool.len()) {
        taken[next] = true;
        chosen.push(pool[next]);
        let centre = embeddings.row(pool[next]);
        for (j, d) in nearest.iter_mut().enumerate() {
            let e = embeddings.row(pool[j]);
            let dist: f32 = centre.iter().zip(e).map(|(a, b)| (a - b) * (a - b)).sum();
            *d = d.min(dist);
        }
        next = (0..pool.len())
            .filter(|&j| !taken[j])
            .fold(None, |b: Option<usize>, j| match b {
                Some(b) if nearest[b] >= nearest[j] => Some(b),
                _ => Some(j),
            })
            .unwrap_or(0);
    }
    chosen
}
