//! Using a trained model on unlabelled images: predictions with confidence, pseudo-labels
//! (confident predictions, capped per class) and active-learning review queues (the most
//! uncertain images first).

pub mod studio;

use serde::{Deserialize, Serialize};

/// How uncertainty is measured for the review queue.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "kebab-case")]
pub enum QueueBy {
    /// `1 − max p` (highest first).
    #[default]
    LeastConfidence,
    /// `p₁ − p₂`, the gap between the two most likely classes (smallest first).
    Margin,
    /// `−Σ p log p` (highest first).
    Entropy,
}

augtrain_data::from_str_via_serde!(QueueBy);

/// The prediction for one image.
#[derive(Clone, Debug, PartialEq)]
pub struct Prediction {
    /// Most likely class.
    pub class: usize,
    /// Its probability.
    pub confidence: f64,
    /// Uncertainty under each measure: least confidence, margin, entropy.
    pub least_confidence: f64,
    /// `p₁ − p₂`.
    pub margin: f64,
    /// Entropy in nats.
    pub entropy: f64,
}

/// Summarize one row of probabilities.
pub fn predict_row(p: &[f32]) -> Prediction {
    let mut best = 0;
    for (j, v) in p.iter().enumerate() {
        if *v > p[best] {
            best = j;
        }
    }
    let second = p
        .iter()
        .enumerate()
        .filter(|(j, _)| *j != best)
        .map(|(_, v)| *v as f64)
        .fold(0.0f64, f64::max);
    let top = p[best] as f64;
    Prediction {
        class: best,
        confidence: top,
        least_confidence: 1.0 - top,
        margin: top - second,
        entropy: p
            .iter()
            .filter(|v| **v > 0.0)
            .map(|&v| -(v as f64) * (v as f64).ln())
            .sum(),
    }
}

/// Indices accepted as pseudo-labels: confidence ≥ `threshold`, at most `max_per_class` per
/// class (the most confident kept), ordered by class then confidence (highest first).
pub fn pseudo_labels(
    preds: &[Prediction],
    threshold: f64,
    max_per_class: Option<usize>,
    classes: usize,
) -> Vec<usize> {
    let mut out = Vec::new();
    for c in 0..classes {
        let mut members: Vec<usize> = (0..preds.len())
            .filter(|&i| preds[i].class == c && preds[i].confidence >= threshold)
            .collect();
        members.sort_by(|&a, &b| {
            preds[b]
                .confidence
                .partial_cmp(&preds[a].confidence)
                .unwrap_or(std::cmp::Ordering::Equal)
                .then(a.cmp(&b))
        });
        if let Some(m) = max_per_class {
            members.truncate(m);
        }
        out.extend(members);
    }
    out
}

/// The `top` most uncertain indices under `by`, most uncertain first.
pub fn review_queue(preds: &[Prediction], by: QueueBy, top: usize) -> Vec<usize> {
    let key = |i: usize| match by {
        QueueBy::LeastConfidence => -preds[i].least_confidence,
        QueueBy::Margin => preds[i].margin,
        QueueBy::Entropy => -preds[i].entropy,
    };
    let mut idx: Vec<usize> = (0..preds.len()).collect();
    idx.sort_by(|&a, &b| {
        key(a)
            .partial_cmp(&key(b))
            .unwrap_or(std::cmp::Ordering::Equal)
            .then(a.cmp(&b))
    });
    idx.truncate(top);
    idx
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_queue_spelling_parses() {
        for (s, want) in [
            ("least-confidence", QueueBy::LeastConfidence),
            ("least_confidence", QueueBy::LeastConfidence),
            ("Least-Confidence", QueueBy::LeastConfidence),
            ("margin", QueueBy::Margin),
            ("ENTROPY", QueueBy::Entropy),
        ] {
            assert_eq!(s.parse(), Ok(want), "{s}");
        }
        let e = "random".parse::<QueueBy>().unwrap_err();
        assert!(
            ["`least-confidence`", "`margin`", "`entropy`"]
                .iter()
                .all(|v| e.contains(v)),
            "{e}"
        );
    }

    #[test]
    fn uncertainty_measures() {
        let p = predict_row(&[0.5, 0.3, 0.2]);
        assert_eq!(p.class, 0);
        assert!((p.margin - 0.2).abs() < 1e-6);
        assert!((p.least_confidence - 0.5).abs() < 1e-6);
        let e: f64 = [0.5f64, 0.3, 0.2].iter().map(|v| -v * v.ln()).sum();
        assert!((p.entropy - e).abs() < 1e-6);
    }

    #[test]
    fn pseudo_labels_respect_threshold_and_cap() {
        let preds: Vec<Prediction> = [
            [0.99f32, 0.01],
            [0.97, 0.03],
            [0.6, 0.4],
            [0.02, 0.98],
            [0.999, 0.001],
        ]
        .iter()
        .map(|r| predict_row(r))
        .collect();
        assert_eq!(pseudo_labels(&preds, 0.95, None, 2), vec![4, 0, 1, 3]);
        assert_eq!(pseudo_labels(&preds, 0.95, Some(1), 2), vec![4, 3]);
    }

    #[test]
    fn queues_put_the_most_uncertain_first() {
        let preds: Vec<Prediction> = [[0.9f32, 0.1], [0.55, 0.45], [0.7, 0.3]]
            .iter()
            .map(|r| predict_row(r))
            .collect();
        for by in [QueueBy::LeastConfidence, QueueBy::Margin, QueueBy::Entropy] {
            assert_eq!(review_queue(&preds, by, 2), vec![1, 2], "{by:?}");
        }
    }
}
