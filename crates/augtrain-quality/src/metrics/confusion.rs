//! The confusion matrix: counts of (true class, predicted class) pairs.

use serde::{Deserialize, Serialize};

/// K×K counts; `get(t, p)` is the number of samples of true class `t` predicted as `p`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ConfusionMatrix {
    num_classes: usize,
    counts: Vec<u64>,
}

impl ConfusionMatrix {
    /// An all-zero matrix for classes `0..num_classes`.
    pub fn new(num_classes: usize) -> Self {
        Self {
            num_classes,
            counts: vec![0; num_classes * num_classes],
        }
    }

    /// Build from label vectors (`y_true[i]`, `y_pred[i]` in `0..num_classes`).
    ///
    /// # Panics
    /// If the vectors differ in length or a label is out of range.
    pub fn from_labels(y_true: &[usize], y_pred: &[usize], num_classes: usize) -> Self {
        assert_eq!(
            y_true.len(),
            y_pred.len(),
            "y_true and y_pred differ in length"
        );
        let mut cm = Self::new(num_classes);
        for (&t, &p) in y_true.iter().zip(y_pred) {
            cm.add(t, p);
        }
        cm
    }

    /// Number of classes K.
    pub fn num_classes(&self) -> usize {
        self.num_classes
    }

    /// Count one sample.
    #[inline]
    pub fn add(&mut self, true_class: usize, predicted: usize) {
        assert!(
            true_class < self.num_classes && predicted < self.num_classes,
            "class out of range"
        );
        self.counts[true_class * self.num_classes + predicted] += 1;
    }

    /// Add `count` samples of true class `true_class` predicted as `predicted`.
    pub fn add_count(&mut self, true_class: usize, predicted: usize, count: u64) {
        assert!(
            true_class < self.num_classes && predicted < self.num_classes,
            "class out of range"
        );
        self.counts[true_class * self.num_classes + predicted] += count;
    }

    /// Add every count of `other` (same K) to this matrix.
    pub fn merge(&mut self, other: &ConfusionMatrix) {
        assert_eq!(self.num_classes, other.num_classes);
        for (a, b) in self.counts.iter_mut().zip(&other.counts) {
            *a += b;
        }
    }

    /// Samples of true class `t` predicted as `p`.
    #[inline]
    pub fn get(&self, t: usize, p: usize) -> u64 {
        self.counts[t * self.num_classes + p]
    }

    /// Row-major counts (rows = true class).
    pub fn counts(&self) -> &[u64] {
        &self.counts
    }

    /// Total number of samples.
    pub fn total(&self) -> u64 {
        self.counts.iter().sum()
    }

    /// Correctly classified samples (the trace).
    pub fn correct(&self) -> u64 {
        (0..self.num_classes).map(|k| self.get(k, k)).sum()
    }

    /// Fraction of samples classified correctly (`accuracy_score`); NaN when empty.
    pub fn accuracy(&self) -> f64 {
        let total = self.total();
        if total == 0 {
            f64::NAN
        } else {
            self.correct() as f64 / total as f64
        }
    }

    /// Samples whose true class is `k` (the row sum).
    pub fn true_count(&self, k: usize) -> u64 {
        if k >= self.num_classes {
            return 0;
        }
        (0..self.num_classes).map(|p| self.get(k, p)).sum()
    }

    /// Samples predicted as `k` (the column sum).
    pub fn predicted_count(&self, k: usize) -> u64 {
        if k >= self.num_classes {
            return 0;
        }
        (0..self.num_classes).map(|t| self.get(t, k)).sum()
    }

    /// True positives of class `k` (0 for a class outside the matrix).
    pub fn true_positives(&self, k: usize) -> u64 {
        if k >= self.num_classes {
            0
        } else {
            self.get(k, k)
        }
    }

    /// Classes that occur as a true or a predicted label, ascending (scikit-learn's
    /// `unique_labels(y_true, y_pred)`).
    pub fn present_labels(&self) -> Vec<usize> {
        (0..self.num_classes)
            .filter(|&k| self.true_count(k) > 0 || self.predicted_count(k) > 0)
            .collect()
    }

    /// CSV text: a header `true\pred,<names...>` then one row per true class.
    pub fn to_csv(&self, class_names: &[String]) -> String {
        let name = |k: usize| class_names.get(k).cloned().unwrap_or_else(|| k.to_string());
        let header =
            std::iter::once("true\\pred".to_string()).chain((0..self.num_classes).map(name));
        let mut out = augtrain_data::csv::Writer::new(header);
        for t in 0..self.num_classes {
            out.row(
                std::iter::once(name(t))
                    .chain((0..self.num_classes).map(|p| self.get(t, p).to_string())),
            );
        }
        out.finish_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_and_sums() {
        let cm = ConfusionMatrix::from_labels(&[0, 1, 2, 2, 2], &[0, 0, 2, 2, 1], 3);
        assert_eq!(cm.get(1, 0), 1);
        assert_eq!(cm.get(2, 2), 2);
        assert_eq!(cm.total(), 5);
        assert_eq!(cm.correct(), 3);
        assert_eq!(cm.true_count(2), 3);
        assert_eq!(cm.predicted_count(0), 2);
        assert!((cm.accuracy() - 0.6).abs() < 1e-15);
        assert_eq!(cm.present_labels(), vec![0, 1, 2]);
    }

    #[test]
    fn csv_has_names_and_rows() {
        let cm = ConfusionMatrix::from_labels(&[0, 1], &[1, 1], 2);
        let names = vec!["a,b".to_string(), "c".to_string()];
        assert_eq!(
            cm.to_csv(&names),
            "true\\pred,\"a,b\",c\n\"a,b\",0,1\nc,0,1\n"
        );
    }
}
