//! Confident learning, as cleanlab 2.x defines it (`cleanlab.filter.find_label_issues`).
//!
//! Inputs: given labels and out-of-sample predicted probabilities (`n × K`, rows summing to 1).
//!
//! - per-class threshold `t_k` = mean of `p[i][k]` over examples labelled `k` (2.0, i.e.
//!   unreachable, for a class with no examples), clipped below at 2e-6;
//! - an example is confident for class `j` when `p[i][j] ≥ t_j − 1e-6`; its guessed true label is
//!   the argmax of `p` when several classes are confident, else the one confident class;
//! - the confident joint `C[given][guess]` counts confident examples (diagonal at least 1),
//!   calibrated to the label counts and rounded preserving row totals;
//! - filters: `prune_by_noise_rate` (default: for each given class `k` and other class `j`, the
//!   `C[k][j]` examples with the largest margin `p[j] − p[k]`), `prune_by_class` (the
//!   `n_k − C[k][k]` examples with the lowest `p[k]`), `both`, `confident_learning` (off-diagonal
//!   confident examples) and `predicted_neq_given`;
//! - an example whose prediction is its given label (argmax after adding 1e-6 to the given
//!   label's probability) is never flagged;
//! - ranking by self-confidence `p[y]` or normalized margin `(p[y] − max_{k≠y} p[k] + 1) / 2`,
//!   lowest first.
//!
//! Exactness: every sum cleanlab takes with numpy is taken with numpy's pairwise summation, and
//! every order cleanlab takes with `np.argsort` (rounding preserving totals, pruning by class and
//! by noise rate, ranking) with numpy's own unstable argsort ([`crate::audit::numpy`]), so that exact
//! ties are broken as cleanlab breaks them. On the CIFAR-10 test set, for example, two cells of
//! the calibrated confident joint's row for class 2 are equal (4.4742729306487705); rounding the
//! row to its total needs one of them rounded up, and numpy's argsort picks the later cell,
//! which decides whether index 4302 or 4546 is flagged.

use serde::{Deserialize, Serialize};

use crate::audit::numpy;

const FLOATING_POINT_COMPARISON: f64 = 1e-6;
const THRESHOLD_LOWER_BOUND: f64 = 2.0 * FLOATING_POINT_COMPARISON;
const MISSING_CLASS_THRESHOLD: f64 = 2.0;

/// Which examples to flag (cleanlab's `filter_by`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum Filter {
    /// Per (given, true) pair, the examples with the largest margin toward the true class.
    #[default]
    PruneByNoiseRate,
    /// Per given class, the examples with the lowest probability of it.
    PruneByClass,
    /// Both of the above.
    Both,
    /// The off-diagonal examples of the confident joint.
    ConfidentLearning,
    /// Argmax differs from the given label.
    PredictedNeqGiven,
}

/// How flagged examples are ordered (cleanlab's `return_indices_ranked_by`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum RankBy {
    /// `p[y]`.
    #[default]
    SelfConfidence,
    /// `(p[y] − max_{k≠y} p[k] + 1) / 2`.
    NormalizedMargin,
}

augtrain_data::from_str_via_serde!(Filter, RankBy);

/// Predicted probabilities: `n` rows of `k` values.
#[derive(Clone, Debug)]
pub struct PredProbs {
    /// Classes.
    pub k: usize,
    /// Row-major values.
    pub values: Vec<f64>,
}

impl PredProbs {
    /// Rows.
    pub fn len(&self) -> usize {
        self.values.len() / self.k.max(1)
    }

    /// `true` without rows.
    pub fn is_empty(&self) -> bool {
        self.values.is_empty()
    }

    /// Row `i`.
    pub fn row(&self, i: usize) -> &[f64] {
        &self.values[i * self.k..(i + 1) * self.k]
    }
}

fn argmax(row: &[f64]) -> usize {
    let mut best = 0;
    for (j, v) in row.iter().enumerate() {
        if *v > row[best] {
            best = j;
        }
    }
    best
}

/// Per-class confident thresholds.
pub fn confident_thresholds(labels: &[usize], p: &PredProbs) -> Vec<f64> {
    let mut own: Vec<Vec<f64>> = vec![Vec::new(); p.k];
    for (i, &y) in labels.iter().enumerate() {
        own[y].push(p.row(i)[y]);
    }
    own.iter()
        .map(|v| {
            if v.is_empty() {
                MISSING_CLASS_THRESHOLD
            } else {
                numpy::sum(v) / v.len() as f64
            }
            .max(THRESHOLD_LOWER_BOUND)
        })
        .collect()
}

/// Round a row to integers keeping its (rounded) total, cleanlab's `round_preserving_sum`.
fn round_preserving_sum(floats: &[f64]) -> Vec<i64> {
    let mut ints: Vec<f64> = floats.iter().map(|f| f.round_ties_even()).collect();
    let orig_sum = numpy::sum(floats).round_ties_even();
    let mut int_sum = numpy::sum(&ints).round_ties_even();
    while (int_sum - orig_sum).abs() > FLOATING_POINT_COMPARISON {
        let diff = (orig_sum - int_sum).round_ties_even();
        let increment = if diff < 0.0 { -1.0 } else { 1.0 };
        let changes = (diff.abs() as usize).min(floats.len());
        // Indices by (float − int) in numpy's argsort order (ties included), reversed (largest
        // first) when adding, as is when removing.
        let gaps: Vec<f64> = floats.iter().zip(&ints).map(|(f, i)| f - i).collect();
        let mut order = numpy::argsort(&gaps);
        if increment > 0.0 {
            order.reverse();
        }
        for &i in order.iter().take(changes) {
            ints[i] += increment;
        }
        int_sum = numpy::sum(&ints).round_ties_even();
    }
    ints.iter().map(|v| *v as i64).collect()
}

/// The confident joint `C[given][guess]` (calibrated) and the indices of confident examples
/// whose guess differs from the given label.
pub fn confident_joint(labels: &[usize], p: &PredProbs) -> (Vec<Vec<i64>>, Vec<usize>) {
    let k = p.k;
    let t = confident_thresholds(labels, p);
    let mut c = vec![vec![0i64; k]; k];
    let mut off_diagonal = Vec::new();
    for (i, &y) in labels.iter().enumerate() {
        let row = p.row(i);
        let confident: Vec<bool> = (0..k)
            .map(|j| row[j] >= t[j] - FLOATING_POINT_COMPARISON)
            .collect();
        let n = confident.iter().filter(|b| **b).count();
        if n == 0 {
            continue;
        }
        let guess = if n > 1 {
            argmax(row)
        } else {
            confident.iter().position(|b| *b).expect("one")
        };
        c[y][guess] += 1;
        if guess != y {
            off_diagonal.push(i);
        }
    }
    for (j, row) in c.iter_mut().enumerate() {
        row[j] = row[j].max(1);
    }
    // Calibrate: rows to the label counts, total to n, rounded preserving row totals.
    let mut counts = vec![0f64; k];
    for &y in labels {
        counts[y] += 1.0;
    }
    let mut cal: Vec<Vec<f64>> = c
        .iter()
        .enumerate()
        .map(|(i, row)| {
            let total = (row.iter().sum::<i64>() as f64).max(1e-100);
            row.iter().map(|&v| v as f64 / total * counts[i]).collect()
        })
        .collect();
    let flat: Vec<f64> = cal.iter().flatten().copied().collect();
    let sum: f64 = numpy::sum(&flat).max(1e-100);
    let n: f64 = counts.iter().sum();
    for row in cal.iter_mut() {
        for v in row.iter_mut() {
            *v = *v / sum * n;
        }
    }
    (
        cal.iter().map(|row| round_preserving_sum(row)).collect(),
        off_diagonal,
    )
}

/// `idx` ordered by `key` ascending as `idx[np.argsort(key[idx])]` orders them (numpy's tie
/// order, see [`numpy::argsort`]).
fn numpy_order(idx: &[usize], key: impl Fn(usize) -> f64) -> Vec<usize> {
    let keys: Vec<f64> = idx.iter().map(|&i| key(i)).collect();
    numpy::argsort(&keys).into_iter().map(|k| idx[k]).collect()
}

/// Whether each example is a label issue under `filter`.
pub fn find_label_issues(labels: &[usize], p: &PredProbs, filter: Filter) -> Vec<bool> {
    let (n, k) = (labels.len(), p.k);
    let mut mask = vec![false; n];
    let (cj, off_diagonal) = confident_joint(labels, p);
    // cleanlab's prune_count_matrix is C transposed, with at least one example kept per class;
    // the calibrated diagonal is already ≥ 1 in practice, so the adjustment keeps it as is.
    let pcm = keep_at_least_one(&cj);
    let members: Vec<Vec<usize>> = (0..k)
        .map(|c| (0..n).filter(|&i| labels[i] == c).collect())
        .collect();
    let by_class = |mask: &mut Vec<bool>| {
        for c in 0..k {
            let m = &members[c];
            if m.len() <= 1 {
                continue;
            }
            let issues = m.len() as i64 - pcm[c][c];
            if issues >= 1 {
                let order = numpy_order(m, |i| p.row(i)[c]);
                for &i in order.iter().take(issues as usize) {
                    mask[i] = true;
                }
            }
        }
    };
    let by_noise_rate = |mask: &mut Vec<bool>| {
        for c in 0..k {
            let m = &members[c];
            if m.len() <= 1 {
                continue;
            }
            for (j, row) in pcm.iter().enumerate() {
                let prune = row[c];
                if j == c || prune <= 0 {
                    continue;
                }
                let order = numpy_order(m, |i| -(p.row(i)[j] - p.row(i)[c]));
                for &i in order.iter().take(prune as usize) {
                    mask[i] = true;
                }
            }
        }
    };
    match filter {
        Filter::PruneByClass => by_class(&mut mask),
        Filter::PruneByNoiseRate => by_noise_rate(&mut mask),
        Filter::Both => {
            let mut a = vec![false; n];
            by_class(&mut a);
            by_noise_rate(&mut mask);
            for (m, b) in mask.iter_mut().zip(a) {
                *m &= b;
            }
        }
        Filter::ConfidentLearning => {
            for i in off_diagonal {
                mask[i] = true;
            }
        }
        Filter::PredictedNeqGiven => {
            for i in 0..n {
                mask[i] = argmax(p.row(i)) != labels[i];
            }
        }
    }
    // Never flag an example the model predicts as its given label.
    for i in 0..n {
        let mut row = p.row(i).to_vec();
        row[labels[i]] += FLOATING_POINT_COMPARISON;
        if argmax(&row) == labels[i] {
            mask[i] = false;
        }
    }
    mask
}

/// cleanlab's `_keep_at_least_n_per_class(confident_joint.T, n=1)`, returned as
/// `pcm[true][given]`. Like cleanlab (`_reduce_prune_counts(...).astype(int)`), the adjusted
/// counts are truncated toward zero, not rounded.
fn keep_at_least_one(cj: &[Vec<i64>]) -> Vec<Vec<i64>> {
    let k = cj.len();
    // pcm[j][c] = cj[c][j]
    let pcm: Vec<Vec<f64>> = (0..k)
        .map(|j| (0..k).map(|c| cj[c][j] as f64).collect())
        .collect();
    let diag: Vec<f64> = (0..k).map(|c| pcm[c][c]).collect();
    let new_diag: Vec<f64> = diag.iter().map(|d| d.max(1.0)).collect();
    let diff: Vec<f64> = (0..k).map(|c| new_diag[c] - diag[c]).collect();
    let nonzero: Vec<f64> = (0..k)
        .map(|c| ((0..k).filter(|&j| pcm[j][c] != 0.0).count() as f64 - 1.0).max(1.0))
        .collect();
    let mut m: Vec<Vec<f64>> = (0..k)
        .map(|j| {
            (0..k)
                .map(|c| (pcm[j][c] - diff[c] / nonzero[c]).max(0.0))
                .collect()
        })
        .collect();
    for c in 0..k {
        m[c][c] = new_diag[c];
    }
    m.iter()
        .map(|row| row.iter().map(|v| v.trunc() as i64).collect())
        .collect()
}

/// Label quality score per example (lower = more likely mislabelled).
pub fn quality_scores(labels: &[usize], p: &PredProbs, rank: RankBy) -> Vec<f64> {
    labels
        .iter()
        .enumerate()
        .map(|(i, &y)| {
            let row = p.row(i);
            match rank {
                RankBy::SelfConfidence => row[y],
                RankBy::NormalizedMargin => {
                    let other = row
                        .iter()
                        .enumerate()
                        .filter(|(j, _)| *j != y)
                        .map(|(_, v)| *v)
                        .fold(f64::NEG_INFINITY, f64::max);
                    (row[y] - other + 1.0) / 2.0
                }
            }
        })
        .collect()
}

/// Flagged example indices ordered by `rank` (lowest score first).
pub fn ranked_issues(labels: &[usize], p: &PredProbs, filter: Filter, rank: RankBy) -> Vec<usize> {
    let mask = find_label_issues(labels, p, filter);
    let scores = quality_scores(labels, p, rank);
    order_issues(&mask, &scores)
}

/// The flagged indices of `mask` ordered by `scores`, lowest first, ties as cleanlab's
/// `order_label_issues` leaves them (numpy's argsort).
pub fn order_issues(mask: &[bool], scores: &[f64]) -> Vec<usize> {
    let idx: Vec<usize> = (0..mask.len()).filter(|&i| mask[i]).collect();
    numpy_order(&idx, |i| scores[i])
}

/// The most likely true label of each example: the argmax of its probabilities.
pub fn suggested_labels(p: &PredProbs) -> Vec<usize> {
    (0..p.len()).map(|i| argmax(p.row(i))).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_filter_and_ranking_spelling_parses() {
        use Filter::*;
        for (s, want) in [
            ("prune_by_noise_rate", PruneByNoiseRate),
            ("prune-by-noise-rate", PruneByNoiseRate),
            ("Prune_By_Noise_Rate", PruneByNoiseRate),
            ("prune_by_class", PruneByClass),
            ("prune-by-class", PruneByClass),
            ("both", Both),
            ("confident_learning", ConfidentLearning),
            ("confident-learning", ConfidentLearning),
            ("predicted_neq_given", PredictedNeqGiven),
            ("predicted-neq-given", PredictedNeqGiven),
        ] {
            assert_eq!(s.parse(), Ok(want), "{s}");
        }
        for (s, want) in [
            ("self_confidence", RankBy::SelfConfidence),
            ("self-confidence", RankBy::SelfConfidence),
            ("normalized_margin", RankBy::NormalizedMargin),
            ("Normalized-Margin", RankBy::NormalizedMargin),
        ] {
            assert_eq!(s.parse(), Ok(want), "{s}");
        }
        let e = "all".parse::<Filter>().unwrap_err();
        let valid = [
            "prune_by_noise_rate",
            "prune_by_class",
            "both",
            "confident_learning",
            "predicted_neq_given",
        ];
        assert!(valid.iter().all(|v| e.contains(v)), "{e}");
        let e = "margin".parse::<RankBy>().unwrap_err();
        assert!(
            e.contains("`self_confidence`") && e.contains("`normalized_margin`"),
            "{e}"
        );
    }

    fn probs(rows: &[&[f64]]) -> PredProbs {
        PredProbs {
            k: rows[0].len(),
            values: rows.iter().flat_map(|r| r.iter().copied()).collect(),
        }
    }

    #[test]
    fn rounding_preserves_row_totals() {
        assert_eq!(round_preserving_sum(&[0.4, 0.4, 0.2]), vec![0, 1, 0]);
        assert_eq!(
            round_preserving_sum(&[2.5, 1.5, 1.0]).iter().sum::<i64>(),
            5
        );
    }

    #[test]
    fn flags_the_obvious_flip_and_never_a_correct_prediction() {
        // Example 3 is labelled 0 but the model is sure it is 1.
        let p = probs(&[
            &[0.9, 0.1],
            &[0.8, 0.2],
            &[0.85, 0.15],
            &[0.05, 0.95],
            &[0.1, 0.9],
            &[0.2, 0.8],
            &[0.15, 0.85],
        ]);
        let labels = [0, 0, 0, 0, 1, 1, 1];
        for f in [
            Filter::PruneByNoiseRate,
            Filter::PruneByClass,
            Filter::Both,
            Filter::ConfidentLearning,
            Filter::PredictedNeqGiven,
        ] {
            let m = find_label_issues(&labels, &p, f);
            assert_eq!(
                m,
                vec![false, false, false, true, false, false, false],
                "{f:?}"
            );
        }
        let s = quality_scores(&labels, &p, RankBy::NormalizedMargin);
        assert!((s[3] - (0.05 - 0.95 + 1.0) / 2.0).abs() < 1e-12);
    }

    /// cleanlab 2.9's outputs on random cases (tests/fixtures/make_fixtures.py).
    #[test]
    fn matches_cleanlab_on_reference_cases() {
        let cases: Vec<serde_json::Value> =
            serde_json::from_str(include_str!("../../../../tests/fixtures/cleanlab.json")).unwrap();
        let ints = |v: &serde_json::Value| -> Vec<usize> {
            v.as_array()
                .unwrap()
                .iter()
                .map(|x| x.as_u64().unwrap() as usize)
                .collect()
        };
        for (c, case) in cases.iter().enumerate() {
            let k = case["k"].as_u64().unwrap() as usize;
            let labels = ints(&case["labels"]);
            let values: Vec<f64> = case["pred_probs"]
                .as_array()
                .unwrap()
                .iter()
                .flat_map(|r| r.as_array().unwrap().iter().map(|x| x.as_f64().unwrap()))
                .collect();
            let p = PredProbs { k, values };
            let t = confident_thresholds(&labels, &p);
            for (a, b) in t.iter().zip(case["thresholds"].as_array().unwrap()) {
                assert!(
                    (a - b.as_f64().unwrap()).abs() < 1e-12,
                    "case {c} thresholds"
                );
            }
            let (cj, _) = confident_joint(&labels, &p);
            let expect: Vec<Vec<i64>> = case["confident_joint"]
                .as_array()
                .unwrap()
                .iter()
                .map(|r| {
                    r.as_array()
                        .unwrap()
                        .iter()
                        .map(|x| x.as_i64().unwrap())
                        .collect()
                })
                .collect();
            assert_eq!(cj, expect, "case {c} confident joint");
            for (name, f) in [
                ("prune_by_noise_rate", Filter::PruneByNoiseRate),
                ("prune_by_class", Filter::PruneByClass),
                ("both", Filter::Both),
                ("confident_learning", Filter::ConfidentLearning),
                ("predicted_neq_given", Filter::PredictedNeqGiven),
            ] {
                let mask = find_label_issues(&labels, &p, f);
                let got: Vec<usize> = (0..labels.len()).filter(|&i| mask[i]).collect();
                assert_eq!(got, ints(&case[name]), "case {c} {name}");
            }
            for (name, r) in [
                ("self_confidence", RankBy::SelfConfidence),
                ("normalized_margin", RankBy::NormalizedMargin),
            ] {
                assert_eq!(
                    ranked_issues(&labels, &p, Filter::PruneByNoiseRate, r),
                    ints(&case[format!("ranked_{name}")]),
                    "case {c} ranked {name}"
                );
                let scores = quality_scores(&labels, &p, r);
                for (a, b) in scores
                    .iter()
                    .zip(case[format!("scores_{name}")].as_array().unwrap())
                {
                    assert!(
                        (a - b.as_f64().unwrap()).abs() < 1e-12,
                        "case {c} scores {name}"
                    );
                }
            }
        }
    }

    /// The real-data directory's `sub` (`AUGTRAIN_TEST_DATA`, default `../shared/data` from the
    /// workspace root), or `None` (skipping loudly; failing when `AUGTRAIN_REQUIRE_DATA=1`).
    fn real_data(sub: &str) -> Option<std::path::PathBuf> {
        let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
        let base = std::env::var_os("AUGTRAIN_TEST_DATA")
            .map(std::path::PathBuf::from)
            .unwrap_or_else(|| root.join("../shared/data"));
        let dir = if base.is_relative() {
            root.join(base)
        } else {
            base
        }
        .join(sub);
        if dir.exists() {
            return Some(dir);
        }
        assert!(
            std::env::var("AUGTRAIN_REQUIRE_DATA").as_deref() != Ok("1"),
            "AUGTRAIN_REQUIRE_DATA=1 but {} is missing",
            dir.display()
        );
        eprintln!(
            "SKIPPED: real data {} not found (set AUGTRAIN_TEST_DATA)",
            dir.display()
        );
        None
    }

    /// The CIFAR-10 test set's real out-of-sample probabilities: every filter and both rankings
    /// give cleanlab 2.9's exact output (tests/fixtures/cleanlab_cifar10.json). Before numpy's
    /// tie order was followed, prune_by_noise_rate flagged 4302 where cleanlab flags 4546.
    #[test]
    fn matches_cleanlab_on_the_real_cifar10_test_set() {
        let Some(dir) = real_data("label-errors") else {
            return;
        };
        let file =
            super::super::pred_probs::read(&dir.join("cifar10-test-pred-probs.csv")).unwrap();
        let labels = file.given.unwrap();
        let reference: serde_json::Value = serde_json::from_str(include_str!(
            "../../../../tests/fixtures/cleanlab_cifar10.json"
        ))
        .unwrap();
        let want = |name: &str| -> Vec<usize> {
            reference[name]
                .as_array()
                .unwrap()
                .iter()
                .map(|v| v.as_u64().unwrap() as usize)
                .collect()
        };
        for (name, f) in [
            ("prune_by_noise_rate", Filter::PruneByNoiseRate),
            ("prune_by_class", Filter::PruneByClass),
            ("both", Filter::Both),
            ("confident_learning", Filter::ConfidentLearning),
            ("predicted_neq_given", Filter::PredictedNeqGiven),
        ] {
            let mask = find_label_issues(&labels, &file.probs, f);
            let got: Vec<usize> = (0..labels.len()).filter(|&i| mask[i]).collect();
            assert_eq!(got, want(name), "{name}");
        }
        let noise_rate = find_label_issues(&labels, &file.probs, Filter::PruneByNoiseRate);
        assert!(noise_rate[4546] && !noise_rate[4302]);
        for (name, r) in [
            ("ranked_self_confidence", RankBy::SelfConfidence),
            ("ranked_normalized_margin", RankBy::NormalizedMargin),
        ] {
            assert_eq!(
                ranked_issues(&labels, &file.probs, Filter::PruneByNoiseRate, r),
                want(name),
                "{name}"
            );
        }
    }

    #[test]
    fn a_class_with_no_examples_gets_an_unreachable_threshold() {
        let p = probs(&[
            &[0.7, 0.2, 0.1],
            &[0.6, 0.3, 0.1],
            &[0.1, 0.8, 0.1],
            &[0.2, 0.7, 0.1],
        ]);
        let labels = [0, 0, 1, 1];
        let t = confident_thresholds(&labels, &p);
        assert_eq!(t[2], 2.0);
        let (cj, _) = confident_joint(&labels, &p);
        assert_eq!(cj[2].iter().sum::<i64>(), 0, "no examples labelled 2");
        assert!(
            find_label_issues(&labels, &p, Filter::PruneByNoiseRate)
                .iter()
                .all(|b| !b)
        );
    }
}
