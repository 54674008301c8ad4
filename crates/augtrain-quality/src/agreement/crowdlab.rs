//! CROWDLAB: the consensus of several annotators and a classifier's out-of-sample
//! probabilities, each weighed by how well it agrees with the others, exactly as cleanlab 2.9's
//! `get_label_quality_multiannotator(labels, pred_probs)` with its defaults
//! (`consensus_method="best_quality"`, `quality_method="crowdlab"`, no calibration).
//!
//! 1. Majority vote ([`super::consensus::majority_vote`] with the probabilities).
//! 2. Weights from that consensus: each annotator's agreement with the *other annotators*
//!    (images with ≥ 2 labels), the model's accuracy, both measured against the error of always
//!    answering the most common class and clipped below at 1e-6; the model's weight is scaled
//!    by √(mean labels per image). The posterior of each image is the weighted mean of the
//!    model's probabilities and, per annotator, `consensus_likelihood` for the class given and
//!    `(1 − consensus_likelihood)/(K − 1)` for the others.
//! 3. "best quality": the posterior's unique most likely class (else the majority vote);
//!    weights and posterior again from that consensus.
//! 4. Scores: the posterior of the consensus (consensus quality), of each given label
//!    (label quality), the share of an image's annotators agreeing with the consensus; per
//!    annotator, a weighted mix of mean label quality and agreement with the consensus on
//!    images with ≥ 2 labels, and the worst class.
//!
//! Values cleanlab leaves NaN (an annotator who only labelled images nobody else labelled has
//! no agreement) stay NaN.

use serde::Serialize;

use super::consensus::majority_vote;
use super::{AgreementError, LabelMatrix, argmax};
use crate::label_issues::confident::PredProbs;

/// cleanlab's `CLIPPING_LOWER_BOUND`.
const CLIP: f64 = 1e-6;

/// Per-image results.
#[derive(Clone, Debug, Serialize)]
pub struct Crowdlab {
    /// Consensus class per image.
    pub consensus: Vec<usize>,
    /// Posterior probability of the consensus class (higher = more trustworthy).
    pub consensus_quality: Vec<f64>,
    /// Share of the image's annotators who gave the consensus.
    pub annotator_agreement: Vec<f64>,
    /// Posterior, row-major `images × k`.
    pub posterior: Vec<f64>,
    /// Weight of the model in the posterior.
    pub model_weight: f64,
    /// Weight of each annotator.
    pub annotator_weight: Vec<f64>,
    /// Per annotator: quality, agreement with the consensus, worst class, labels given.
    pub annotators: Vec<AnnotatorQuality>,
}

/// One annotator's statistics (cleanlab's `annotator_stats`).
#[derive(Clone, Debug, Serialize)]
pub struct AnnotatorQuality {
    /// CROWDLAB's quality score in [0, 1] (NaN when undefined).
    #[serde(with = "augtrain_data::util::nan")]
    pub quality: f64,
    /// Share of their labels equal to the consensus.
    pub agreement_with_consensus: f64,
    /// The class they label worst (lowest agreement with the consensus; ties: most labels, then
    /// highest mean consensus quality, then smallest index).
    pub worst_class: usize,
    /// Images they labelled.
    pub labelled: usize,
}

/// Weights and posterior from one consensus.
struct Stats {
    agreement: Vec<f64>,
    posterior: Vec<f64>,
    model_weight: f64,
    annotator_weight: Vec<f64>,
}

/// CROWDLAB on `m` with out-of-sample `probs` (one row per image, a column per class).
/// Needs some image with two labels.
pub fn crowdlab(m: &LabelMatrix, probs: &PredProbs) -> Result<Crowdlab, AgreementError> {
    check(m, probs)?;
    let k = probs.k;
    let vote = majority_vote(m, Some(probs));
    let first = stats(m, probs, &vote);
    let consensus: Vec<usize> = (0..m.n_images())
        .map(|i| {
            let row = &first.posterior[i * k..(i + 1) * k];
            let top = row.iter().copied().fold(f64::NEG_INFINITY, f64::max);
            match row.iter().filter(|&&v| v == top).count() {
                1 => argmax(row),
                _ => vote[i],
            }
        })
        .collect();
    let s = stats(m, probs, &consensus);
    let quality: Vec<f64> = (0..m.n_images())
        .map(|i| s.posterior[i * k + consensus[i]])
        .collect();
    let annotators = annotator_stats(m, &s, &consensus, &quality);
    Ok(Crowdlab {
        consensus,
        consensus_quality: quality,
        annotator_agreement: s.agreement,
        posterior: s.posterior,
        model_weight: s.model_weight,
        annotator_weight: s.annotator_weight,
        annotators,
    })
}

/// The probabilities fit the matrix, and some image has two labels.
pub(crate) fn check(m: &LabelMatrix, probs: &PredProbs) -> Result<(), AgreementError> {
    check_sizes(m, probs)?;
    if m.counts().iter().all(|&c| c < 2) {
        return Err(AgreementError::NoOverlap);
    }
    Ok(())
}

/// One row of at least two classes per image, a column per class.
pub(crate) fn check_sizes(m: &LabelMatrix, probs: &PredProbs) -> Result<(), AgreementError> {
    if probs.k != m.n_classes() || probs.len() != m.n_images() || probs.k < 2 {
        return Err(AgreementError::ProbsMismatch(format!(
            "the probabilities have {} rows of {} classes but the labels cover {} images of {} classes",
            probs.len(),
            probs.k,
            m.n_images(),
            m.n_classes()
        )));
    }
    Ok(())
}

/// The label quality of annotator labels: the posterior of the class given.
pub fn label_quality(m: &LabelMatrix, posterior: &[f64], i: usize, a: usize) -> Option<f64> {
    let k = posterior.len() / m.n_images();
    m.get(i, a).map(|c| posterior[i * k + c])
}

fn stats(m: &LabelMatrix, probs: &PredProbs, consensus: &[usize]) -> Stats {
    let k = probs.k;
    let counts = m.counts();
    let agreement: Vec<f64> = (0..m.n_images())
        .map(|i| {
            let row = m.row(i);
            let same = row
                .iter()
                .filter(|e| e.class as usize == consensus[i])
                .count();
            same as f64 / row.len() as f64
        })
        .collect();
    let multi: Vec<usize> = (0..m.n_images()).filter(|&i| counts[i] != 1).collect();
    let consensus_likelihood =
        super::np_mean(&multi.iter().map(|&i| agreement[i]).collect::<Vec<_>>());
    let non_consensus = (1.0 - consensus_likelihood) / (k as f64 - 1.0);
    let mut bins = vec![0usize; k];
    multi.iter().for_each(|&i| bins[consensus[i]] += 1);
    let common = (0..k).fold(0, |b, c| if bins[c] > bins[b] { c } else { b });
    let share = |wrong: usize| wrong as f64 / multi.len() as f64;
    let common_error = share(multi.iter().filter(|&&i| consensus[i] != common).count()).max(CLIP);
    let annotator_weight: Vec<f64> = agreement_with_annotators(m)
        .iter()
        .map(|&a| (1.0 - (1.0 - a) / common_error).max(CLIP))
        .collect();
    let model_wrong = multi
        .iter()
        .filter(|&&i| argmax(probs.row(i)) != consensus[i])
        .count();
    let mean_labels = counts.iter().sum::<usize>() as f64 / counts.len() as f64;
    let model_weight = (1.0 - share(model_wrong) / common_error).max(CLIP) * mean_labels.sqrt();
    let mut posterior = vec![0.0; m.n_images() * k];
    for i in 0..m.n_images() {
        let row = &mut posterior[i * k..(i + 1) * k];
        let total = m
            .row(i)
            .iter()
            .map(|e| annotator_weight[e.annotator as usize])
            .fold(0.0, |s, w| s + w)
            + model_weight;
        for (c, v) in row.iter_mut().enumerate() {
            *v = probs.row(i)[c] * model_weight;
            for e in m.row(i) {
                let w = annotator_weight[e.annotator as usize];
                *v += w * if e.class as usize == c {
                    consensus_likelihood
                } else {
                    non_consensus
                };
            }
            *v /= total;
        }
    }
    Stats {
        agreement,
        posterior,
        model_weight,
        annotator_weight,
    }
}

/// cleanlab's `_get_annotator_agreement_with_annotators`: per annotator, over the images they
/// share with others, (others with the same label) / (others); annotators who share no image
/// get the mean of the rest.
fn agreement_with_annotators(m: &LabelMatrix) -> Vec<f64> {
    let a = m.n_annotators();
    let (mut agree, mut others) = (vec![0usize; a], vec![0usize; a]);
    for i in 0..m.n_images() {
        let row = m.row(i);
        for e in row {
            let same = row.iter().filter(|x| x.class == e.class).count() - 1;
            agree[e.annotator as usize] += same;
            others[e.annotator as usize] += row.len() - 1;
        }
    }
    let value = |j: usize| (others[j] > 0).then(|| agree[j] as f64 / others[j] as f64);
    let known: Vec<f64> = (0..a).filter_map(value).collect();
    let mean = super::np_mean(&known);
    (0..a).map(|j| value(j).unwrap_or(mean)).collect()
}

fn annotator_stats(
    m: &LabelMatrix,
    s: &Stats,
    consensus: &[usize],
    consensus_quality: &[f64],
) -> Vec<AnnotatorQuality> {
    let k = m.n_classes();
    let counts = m.counts();
    let mean_labels = counts.iter().sum::<usize>() as f64 / counts.len() as f64;
    let adjusted = s.annotator_weight.iter().sum::<f64>() * (mean_labels / m.n_annotators() as f64);
    let w = s.model_weight / (s.model_weight + adjusted);
    m.by_annotator()
        .iter()
        .map(|labels| {
            let lq: Vec<f64> = labels
                .iter()
                .map(|&(i, c)| s.posterior[i * k + c])
                .collect();
            let multi: Vec<&(usize, usize)> =
                labels.iter().filter(|(i, _)| counts[*i] != 1).collect();
            let agree_multi = if multi.is_empty() {
                f64::NAN
            } else {
                multi.iter().filter(|(i, c)| consensus[*i] == *c).count() as f64
                    / multi.len() as f64
            };
            let agree_all = labels.iter().filter(|(i, c)| consensus[*i] == *c).count() as f64
                / labels.len() as f64;
            AnnotatorQuality {
                quality: w * super::np_mean(&lq) + (1.0 - w) * agree_multi,
                agreement_with_consensus: agree_all,
                worst_class: worst_class(labels, consensus, consensus_quality, k),
                labelled: labels.len(),
            }
        })
        .collect()
}

/// cleanlab's `_get_single_annotator_worst_class` (ties in the docs of [`AnnotatorQuality`]).
fn worst_class(
    labels: &[(usize, usize)],
    consensus: &[usize],
    consensus_quality: &[f64],
    k: usize,
) -> usize {
    let (mut right, mut seen, mut quality) = (vec![0usize; k], vec![0usize; k], vec![0.0; k]);
    for &(i, c) in labels {
        seen[c] += 1;
        right[c] += (consensus[i] == c) as usize;
        quality[c] += consensus_quality[i];
    }
    let classes: Vec<usize> = (0..k).filter(|&c| seen[c] > 0).collect();
    let accuracy = |c: usize| right[c] as f64 / seen[c] as f64;
    let lowest = classes
        .iter()
        .map(|&c| accuracy(c))
        .fold(f64::INFINITY, f64::min);
    let worst: Vec<usize> = classes
        .into_iter()
        .filter(|&c| accuracy(c) == lowest)
        .collect();
    let most = worst.iter().map(|&c| seen[c]).max().unwrap_or(0);
    let worst: Vec<usize> = worst.into_iter().filter(|&c| seen[c] == most).collect();
    let mean_quality = |c: usize| quality[c] / seen[c] as f64;
    let best = worst
        .iter()
        .map(|&c| mean_quality(c))
        .fold(f64::NEG_INFINITY, f64::max);
    worst
        .into_iter()
        .find(|&c| mean_quality(c) == best)
        .unwrap_or(0)
}
