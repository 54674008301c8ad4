//! Chance-corrected agreement between annotators, each as its Python reference computes it
//! (same sums in the same order, so results agree to the last bits):
//!
//! - [`cohen_kappa`]: scikit-learn's `cohen_kappa_score(y1, y2, weights=None|"linear"|
//!   "quadratic")` on the images both annotators labelled. As in scikit-learn, the classes are
//!   those either annotator used, sorted, and linear/quadratic weights count the distance
//!   between their *positions* in that list (not between class indices). Undefined (NaN) when
//!   the pair shares no image or only one class.
//! - [`fleiss_kappa`]: statsmodels' `fleiss_kappa(aggregate_raters(data)[0])` (method
//!   "fleiss") over images that all have the same number (≥ 2) of labels.
//! - [`krippendorff_alpha`]: the `krippendorff` package's `alpha(level_of_measurement=
//!   "nominal")` with missing labels; [`krippendorff_alpha_per_class`] is the same on each
//!   class made one-vs-rest (label = c or not, missing stays missing).
//! - [`percent_agreement`]: the share of agreeing pairs among all pairs of labels of one image.

use serde::Serialize;

use super::LabelMatrix;
use crate::audit::numpy;

/// How disagreements between ordered classes are weighed in [`cohen_kappa`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Weights {
    /// Every disagreement counts 1 (`weights=None`).
    Unweighted,
    /// By the distance between the classes' positions.
    Linear,
    /// By the squared distance.
    Quadratic,
}

/// Agreement of one pair of annotators on the images both labelled.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct PairAgreement {
    /// First annotator (index).
    pub a: usize,
    /// Second annotator (index).
    pub b: usize,
    /// Images both labelled.
    pub images: usize,
    /// Share of those images with the same label (NaN without shared images).
    #[serde(with = "augtrain_data::util::nan")]
    pub percent: f64,
    /// Cohen's kappa, unweighted.
    #[serde(with = "augtrain_data::util::nan")]
    pub kappa: f64,
    /// Cohen's kappa, linear weights.
    #[serde(with = "augtrain_data::util::nan")]
    pub kappa_linear: f64,
    /// Cohen's kappa, quadratic weights.
    #[serde(with = "augtrain_data::util::nan")]
    pub kappa_quadratic: f64,
}

/// Every pair `a < b` of annotators: shared images, percent agreement, Cohen's kappa.
pub fn pairs(m: &LabelMatrix) -> Vec<PairAgreement> {
    let n = m.n_annotators();
    let mut out = Vec::new();
    for a in 0..n {
        for b in a + 1..n {
            let (y1, y2) = shared(m, a, b);
            let same = y1.iter().zip(&y2).filter(|(p, q)| p == q).count();
            out.push(PairAgreement {
                a,
                b,
                images: y1.len(),
                percent: if y1.is_empty() {
                    f64::NAN
                } else {
                    same as f64 / y1.len() as f64
                },
                kappa: cohen_kappa(&y1, &y2, Weights::Unweighted),
                kappa_linear: cohen_kappa(&y1, &y2, Weights::Linear),
                kappa_quadratic: cohen_kappa(&y1, &y2, Weights::Quadratic),
            });
        }
    }
    out
}

/// The labels of annotators `a` and `b` on the images both labelled, image order.
pub fn shared(m: &LabelMatrix, a: usize, b: usize) -> (Vec<usize>, Vec<usize>) {
    let (mut y1, mut y2) = (Vec::new(), Vec::new());
    for i in 0..m.n_images() {
        if let (Some(p), Some(q)) = (m.get(i, a), m.get(i, b)) {
            y1.push(p);
            y2.push(q);
        }
    }
    (y1, y2)
}

/// scikit-learn's `cohen_kappa_score(y1, y2, weights=...)`; NaN where scikit-learn returns
/// its `replace_undefined_by` (no labels, or a zero expected disagreement).
pub fn cohen_kappa(y1: &[usize], y2: &[usize], weights: Weights) -> f64 {
    let mut labels: Vec<usize> = y1.iter().chain(y2).copied().collect();
    labels.sort_unstable();
    labels.dedup();
    let l = labels.len();
    let pos = |c: usize| labels.binary_search(&c).expect("a listed label");
    let mut confusion = vec![0.0f64; l * l];
    for (&p, &q) in y1.iter().zip(y2) {
        confusion[pos(p) * l + pos(q)] += 1.0;
    }
    let sum0: Vec<f64> = (0..l)
        .map(|j| (0..l).map(|i| confusion[i * l + j]).sum())
        .collect();
    let sum1: Vec<f64> = (0..l)
        .map(|i| confusion[i * l..(i + 1) * l].iter().sum())
        .collect();
    let total = numpy::sum(&sum0);
    if total == 0.0 {
        return f64::NAN;
    }
    let w = |i: usize, j: usize| {
        let d = (i as f64 - j as f64).abs();
        match weights {
            Weights::Unweighted => (i != j) as u8 as f64,
            Weights::Linear => d,
            Weights::Quadratic => d * d,
        }
    };
    let mut observed = Vec::with_capacity(l * l);
    let mut expected = Vec::with_capacity(l * l);
    for i in 0..l {
        for j in 0..l {
            observed.push(w(i, j) * confusion[i * l + j]);
            expected.push(w(i, j) * (sum0[i] * sum1[j] / total));
        }
    }
    let denominator = numpy::sum(&expected);
    if denominator == 0.0 {
        return f64::NAN;
    }
    1.0 - numpy::sum(&observed) / denominator
}

/// The images labelled by every annotator (where Fleiss' kappa is defined for any data).
pub fn complete_images(m: &LabelMatrix) -> Vec<usize> {
    let a = m.n_annotators();
    (0..m.n_images()).filter(|&i| m.row(i).len() == a).collect()
}

/// statsmodels' `fleiss_kappa` over `images`, the categories being the classes used there.
/// `None` unless the images all have the same number of labels, at least two.
pub fn fleiss_kappa(m: &LabelMatrix, images: &[usize]) -> Option<f64> {
    let raters = m.row(*images.first()?).len();
    if raters < 2 || images.iter().any(|&i| m.row(i).len() != raters) {
        return None;
    }
    let k = m.n_classes();
    let mut totals = vec![0.0f64; k];
    let mut agreement = Vec::with_capacity(images.len());
    let mut counts = vec![0usize; k];
    for &i in images {
        counts.fill(0);
        for e in m.row(i) {
            counts[e.class as usize] += 1;
        }
        let squares: usize = counts.iter().map(|c| c * c).sum();
        let r = raters as f64;
        agreement.push((squares as f64 - r) / (r * (r - 1.0)));
        for (t, &c) in totals.iter_mut().zip(&counts) {
            *t += c as f64;
        }
    }
    let n_total = (images.len() * raters) as f64;
    let p_cat_sq: Vec<f64> = totals
        .iter()
        .filter(|&&t| t > 0.0)
        .map(|t| (t / n_total) * (t / n_total))
        .collect();
    let p_mean = numpy::sum(&agreement) / agreement.len() as f64;
    let p_exp = numpy::sum(&p_cat_sq);
    Some((p_mean - p_exp) / (1.0 - p_exp))
}

/// Krippendorff's alpha, nominal, over all labels (images are the units, missing labels
/// skipped). `None` where the package raises: fewer than two classes used, or no image with
/// two labels.
pub fn krippendorff_alpha(m: &LabelMatrix) -> Option<f64> {
    let used = m.classes_used();
    let mut value = vec![0; m.n_classes()];
    for (v, &c) in used.iter().enumerate() {
        value[c] = v;
    }
    nominal_alpha(m, used.len(), |c| value[c])
}

/// Krippendorff's alpha per class, one-vs-rest (each label is "class c" or "another class");
/// `None` for a class that nobody used or that every label names.
pub fn krippendorff_alpha_per_class(m: &LabelMatrix) -> Vec<Option<f64>> {
    let totals = m.class_totals();
    (0..m.n_classes())
        .map(|c| {
            if totals[c] == 0 || totals[c] == m.n_labels() {
                return None;
            }
            nominal_alpha(m, 2, |x| (x == c) as usize)
        })
        .collect()
}

/// The `krippendorff` package's nominal alpha with `v` values, `value` mapping a class to its
/// value's position in the sorted domain.
fn nominal_alpha(m: &LabelMatrix, v: usize, value: impl Fn(usize) -> usize) -> Option<f64> {
    if v <= 1 {
        return None;
    }
    let mut o = vec![0.0f64; v * v];
    let mut counts = vec![0usize; v];
    let mut pairable = false;
    for i in 0..m.n_images() {
        let row = m.row(i);
        if row.len() < 2 {
            continue; // contributes exact zeros
        }
        pairable = true;
        counts.fill(0);
        for e in row {
            counts[value(e.class as usize)] += 1;
        }
        let denom = (row.len() - 1) as f64;
        for c in (0..v).filter(|&c| counts[c] > 0) {
            for k in (0..v).filter(|&k| counts[k] > 0) {
                let pairs = counts[c] * counts[k] - if c == k { counts[c] } else { 0 };
                o[c * v + k] += pairs as f64 / denom;
            }
        }
    }
    if !pairable {
        return None;
    }
    let n_v: Vec<f64> = (0..v)
        .map(|k| (0..v).fold(0.0, |s, c| s + o[c * v + k]))
        .collect();
    let total = numpy::sum(&n_v);
    let (mut od, mut ed) = (vec![0.0; v * v], vec![0.0; v * v]);
    for c in 0..v {
        for k in (0..v).filter(|&k| k != c) {
            od[c * v + k] = o[c * v + k];
            ed[c * v + k] = n_v[c] * n_v[k] / (total - 1.0);
        }
    }
    Some(1.0 - numpy::sum(&od) / numpy::sum(&ed))
}

/// Agreeing pairs among all pairs of labels on the same image (images with ≥ 2 labels);
/// `None` when no image has two labels.
pub fn percent_agreement(m: &LabelMatrix) -> Option<f64> {
    let (mut agree, mut pairs) = (0u64, 0u64);
    let mut counts = vec![0u64; m.n_classes()];
    for i in 0..m.n_images() {
        let row = m.row(i);
        if row.len() < 2 {
            continue;
        }
        let n = row.len() as u64;
        pairs += n * (n - 1) / 2;
        for e in row {
            counts[e.class as usize] += 1;
        }
        for e in row {
            let c = &mut counts[e.class as usize];
            agree += *c * (*c - 1) / 2;
            *c = 0;
        }
    }
    (pairs > 0).then(|| agree as f64 / pairs as f64)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// scikit-learn 1.9: `cohen_kappa_score([1,1,1],[1,1,1])` is nan; on classes {0, 2, 5}
    /// the weights count positions (0, 1, 2), giving 1/7 (linear) and 0 (quadratic).
    #[test]
    fn cohen_kappa_edge_cases_follow_scikit_learn() {
        assert!(cohen_kappa(&[1, 1, 1], &[1, 1, 1], Weights::Unweighted).is_nan());
        assert!(cohen_kappa(&[], &[], Weights::Unweighted).is_nan());
        let (y1, y2) = ([0, 2, 5, 5], [2, 2, 5, 0]);
        assert!((cohen_kappa(&y1, &y2, Weights::Linear) - 0.1428571428571429).abs() < 1e-15);
        assert_eq!(cohen_kappa(&y1, &y2, Weights::Quadratic), 0.0);
    }

    #[test]
    fn fleiss_needs_equal_counts_and_alpha_needs_pairs() {
        let m = LabelMatrix::from_dense(&[vec![Some(0), Some(0)], vec![Some(1), None]], 2).unwrap();
        assert_eq!(fleiss_kappa(&m, &[0, 1]), None);
        let single =
            LabelMatrix::from_dense(&[vec![Some(0), None], vec![None, Some(1)]], 2).unwrap();
        assert_eq!(krippendorff_alpha(&single), None);
        assert_eq!(percent_agreement(&single), None);
    }
}
