//! Majority vote with cleanlab's tie rule, and each annotator's confusion matrix against a
//! consensus.
//!
//! [`majority_vote`] is cleanlab 2.9's `get_majority_vote_label`: the most frequent label of
//! each image; a tie between classes is broken, in this order, by
//! 1. the model's probability of the tied classes (the highest wins), when probabilities are
//!    given;
//! 2. the class used least often over the whole matrix (the rarer class wins);
//! 3. the mean agreement, with the majority vote of the untied images, of the annotators who
//!    chose each tied class (the higher wins);
//! 4. the smallest class index. (cleanlab picks at random here; augtrain stays deterministic.)

use super::{LabelMatrix, argmax};
use crate::label_issues::confident::PredProbs;

/// Votes per class for image `i`.
fn votes(m: &LabelMatrix, i: usize, out: &mut [usize]) {
    out.fill(0);
    for e in m.row(i) {
        out[e.class as usize] += 1;
    }
}

/// The consensus label of every image by majority vote (tie rule in the module docs).
/// `probs`, when given, must have one row per image and [`LabelMatrix::n_classes`] columns.
pub fn majority_vote(m: &LabelMatrix, probs: Option<&PredProbs>) -> Vec<usize> {
    let k = m.n_classes();
    let mut label = vec![0usize; m.n_images()];
    let mut tied: Vec<(usize, Vec<usize>)> = Vec::new();
    let mut untied = Vec::new();
    let mut count = vec![0usize; k];
    for (i, slot) in label.iter_mut().enumerate() {
        votes(m, i, &mut count);
        let top = *count.iter().max().unwrap_or(&0);
        let modes: Vec<usize> = (0..k).filter(|&c| count[c] == top).collect();
        if modes.len() == 1 {
            *slot = modes[0];
            untied.push(i);
        } else {
            tied.push((i, modes));
        }
    }
    if let Some(p) = probs {
        narrow(&mut tied, |i, c| p.row(i)[c], true);
    }
    let totals: Vec<f64> = m.class_totals().iter().map(|&t| t as f64).collect();
    narrow(&mut tied, |_, c| totals[c], false);
    if tied.iter().any(|(_, modes)| modes.len() > 1) {
        let agreement = untied_agreement(m, &untied, &label);
        narrow(
            &mut tied,
            |i, c| {
                let who: Vec<f64> = m
                    .row(i)
                    .iter()
                    .filter(|e| e.class as usize == c)
                    .map(|e| agreement[e.annotator as usize])
                    .collect();
                who.iter().sum::<f64>() / who.len() as f64
            },
            true,
        );
    }
    for (i, modes) in tied {
        label[i] = modes[0];
    }
    label
}

/// Keeps, of each image's tied classes, those with the highest (`highest`) or lowest `key`.
fn narrow(tied: &mut [(usize, Vec<usize>)], key: impl Fn(usize, usize) -> f64, highest: bool) {
    for (i, modes) in tied.iter_mut().filter(|(_, m)| m.len() > 1) {
        let keys: Vec<f64> = modes.iter().map(|&c| key(*i, c)).collect();
        let best = if highest {
            keys.iter().copied().fold(f64::NEG_INFINITY, f64::max)
        } else {
            keys.iter().copied().fold(f64::INFINITY, f64::min)
        };
        let kept: Vec<usize> = modes
            .iter()
            .zip(&keys)
            .filter(|(_, k)| **k == best)
            .map(|(&c, _)| c)
            .collect();
        *modes = kept;
    }
}

/// Each annotator's share of labels equal to the vote on the untied images; annotators
/// without such labels get the mean of the others (cleanlab's rule).
fn untied_agreement(m: &LabelMatrix, untied: &[usize], label: &[usize]) -> Vec<f64> {
    let a = m.n_annotators();
    let (mut same, mut seen) = (vec![0usize; a], vec![0usize; a]);
    for &i in untied {
        for e in m.row(i) {
            seen[e.annotator as usize] += 1;
            same[e.annotator as usize] += (e.class as usize == label[i]) as usize;
        }
    }
    let known: Vec<f64> = (0..a)
        .filter(|&j| seen[j] > 0)
        .map(|j| same[j] as f64 / seen[j] as f64)
        .collect();
    let mean = super::np_mean(&known);
    (0..a)
        .map(|j| {
            if seen[j] > 0 {
                same[j] as f64 / seen[j] as f64
            } else {
                mean
            }
        })
        .collect()
}

/// Each annotator's confusion matrix against `consensus`: `out[a][t * k + g]` counts the
/// images whose consensus is class `t` and that annotator `a` labelled `g`.
pub fn confusion_against(m: &LabelMatrix, consensus: &[usize]) -> Vec<Vec<u64>> {
    let k = m.n_classes();
    let mut out = vec![vec![0u64; k * k]; m.n_annotators()];
    for (i, &t) in consensus.iter().enumerate() {
        for e in m.row(i) {
            out[e.annotator as usize][t * k + e.class as usize] += 1;
        }
    }
    out
}

/// Each image's most probable class (the first on ties) from row-major probabilities.
pub fn argmax_rows(values: &[f64], k: usize) -> Vec<usize> {
    values.chunks_exact(k).map(argmax).collect()
}
