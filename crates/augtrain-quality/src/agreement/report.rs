//! Everything `augtrain agreement` reports, computed in one call ([`analyse`]): agreement
//! statistics, the three consensus methods, per-annotator quality and confusion, and the
//! ranking of images to label next.

use serde::Serialize;

use super::active::{ActiveScores, activelab, k_center_batch, uncertainty_order};
use super::consensus::{confusion_against, majority_vote};
use super::crowdlab::{Crowdlab, crowdlab};
use super::dawid_skene::{self, DawidSkene};
use super::kappa::{self, PairAgreement};
use super::{AgreementError, LabelMatrix};
use crate::embedding::store::EmbeddingSet;
use crate::label::QueueBy;
use crate::label_issues::confident::PredProbs;

/// Which consensus the consensus label file holds.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, serde::Deserialize, Default)]
#[serde(rename_all = "kebab-case")]
pub enum Method {
    /// CROWDLAB with probabilities, else Dawid-Skene.
    #[default]
    Auto,
    /// Majority vote (cleanlab's tie rule).
    Majority,
    /// Dawid-Skene.
    DawidSkene,
    /// CROWDLAB (needs probabilities).
    Crowdlab,
}

augtrain_data::from_str_via_serde!(Method);

/// How images to label next are ranked.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, serde::Deserialize, Default)]
#[serde(rename_all = "kebab-case")]
pub enum NextBy {
    /// ActiveLab scores (lowest first); without probabilities, the consensus's confidence.
    #[default]
    Activelab,
    /// `1 − max p` of the posterior (labelled) or the model (unlabelled), highest first.
    LeastConfidence,
    /// Gap between the two most likely classes, smallest first.
    Margin,
    /// Entropy, highest first.
    Entropy,
}

augtrain_data::from_str_via_serde!(NextBy);

/// Fleiss' kappa and the images it was computed on.
#[derive(Clone, Debug, Serialize)]
pub struct Fleiss {
    /// Images used: all of them when each has the same number of labels, else those labelled
    /// by every annotator.
    pub images: usize,
    /// The kappa.
    pub kappa: f64,
}

/// One annotator in the report.
#[derive(Clone, Debug, Serialize)]
pub struct AnnotatorReport {
    /// Name.
    pub name: String,
    /// Images labelled.
    pub labelled: usize,
    /// Share of their labels equal to the consensus.
    pub agreement_with_consensus: f64,
    /// CROWDLAB quality (with probabilities).
    pub quality: Option<f64>,
    /// CROWDLAB's worst class (with probabilities).
    pub worst_class: Option<String>,
    /// Dawid-Skene's estimate of their accuracy: Σ prior(t) · P(says t | t).
    pub dawid_skene_accuracy: f64,
    /// Confusion against the consensus, `[consensus class][their label]`.
    pub confusion: Vec<Vec<u64>>,
}

/// The whole analysis.
#[derive(Clone, Debug, Serialize)]
pub struct Analysis {
    /// Images with at least one label.
    pub images: usize,
    /// Labels in all.
    pub labels: usize,
    /// Class names.
    pub classes: Vec<String>,
    /// Share of agreeing pairs of labels on the same image.
    pub percent_agreement: Option<f64>,
    /// Krippendorff's alpha (nominal).
    pub krippendorff_alpha: Option<f64>,
    /// Per class, one-vs-rest.
    pub krippendorff_alpha_per_class: Vec<Option<f64>>,
    /// Fleiss' kappa, where defined.
    pub fleiss: Option<Fleiss>,
    /// Cohen's kappa and percent agreement per pair of annotators.
    pub pairs: Vec<PairAgreement>,
    /// The consensus method used for `consensus`.
    pub method: Method,
    /// Per annotator.
    pub annotators: Vec<AnnotatorReport>,
    /// Dawid-Skene's EM iterations.
    pub dawid_skene_iterations: usize,
    /// The temperature ActiveLab scaled the probabilities by.
    pub temperature: Option<f64>,
    /// Consensus class per image.
    #[serde(skip)]
    pub consensus: Vec<usize>,
    /// Confidence in it: CROWDLAB's consensus quality, Dawid-Skene's probability, or the
    /// majority's share of votes.
    #[serde(skip)]
    pub consensus_quality: Vec<f64>,
    /// Majority vote per image.
    #[serde(skip)]
    pub majority: Vec<usize>,
    /// The Dawid-Skene fit.
    #[serde(skip)]
    pub dawid_skene: DawidSkene,
    /// CROWDLAB, with probabilities.
    #[serde(skip)]
    pub crowdlab: Option<Crowdlab>,
    /// ActiveLab, with probabilities.
    #[serde(skip)]
    pub active: Option<ActiveScores>,
}

/// Runs everything on `m`; `probs` (a row per matrix image) and `unlabelled` (a row per
/// unlabelled image) enable CROWDLAB and ActiveLab.
pub fn analyse(
    m: &LabelMatrix,
    probs: Option<(&PredProbs, &PredProbs)>,
    method: Method,
) -> Result<Analysis, AgreementError> {
    if m.n_labels() == 0 {
        return Err(AgreementError::Empty);
    }
    let majority = majority_vote(m, probs.map(|p| p.0));
    let ds = dawid_skene::fit(m, dawid_skene::Settings::default());
    let (cl, active) = match probs {
        Some((p, u)) => (Some(crowdlab(m, p)?), Some(activelab(m, p, u)?)),
        None => (None, None),
    };
    let method = match (method, &cl) {
        (Method::Auto, Some(_)) => Method::Crowdlab,
        (Method::Auto, None) => Method::DawidSkene,
        (Method::Crowdlab, None) => {
            return Err(AgreementError::ProbsMismatch(
                "the CROWDLAB consensus needs probabilities".into(),
            ));
        }
        (other, _) => other,
    };
    let k = m.n_classes();
    let (consensus, quality) = match (method, &cl) {
        (Method::Crowdlab, Some(c)) => (c.consensus.clone(), c.consensus_quality.clone()),
        (Method::DawidSkene, _) => {
            let q = (0..m.n_images())
                .map(|i| ds.probs[i * k + ds.labels[i]])
                .collect();
            (ds.labels.clone(), q)
        }
        _ => {
            let q = (0..m.n_images())
                .map(|i| {
                    let row = m.row(i);
                    let same = row
                        .iter()
                        .filter(|e| e.class as usize == majority[i])
                        .count();
                    same as f64 / row.len() as f64
                })
                .collect();
            (majority.clone(), q)
        }
    };
    Ok(Analysis {
        images: m.n_images(),
        labels: m.n_labels(),
        classes: m.classes().to_vec(),
        percent_agreement: kappa::percent_agreement(m),
        krippendorff_alpha: kappa::krippendorff_alpha(m),
        krippendorff_alpha_per_class: kappa::krippendorff_alpha_per_class(m),
        fleiss: fleiss(m),
        pairs: kappa::pairs(m),
        method,
        annotators: annotators(m, &consensus, &ds, cl.as_ref()),
        dawid_skene_iterations: ds.loss_history.len(),
        temperature: active.as_ref().map(|a| a.temperature),
        consensus,
        consensus_quality: quality,
        majority,
        dawid_skene: ds,
        crowdlab: cl,
        active,
    })
}

fn fleiss(m: &LabelMatrix) -> Option<Fleiss> {
    let all: Vec<usize> = (0..m.n_images()).collect();
    let images = match kappa::fleiss_kappa(m, &all) {
        Some(_) => all,
        None => kappa::complete_images(m),
    };
    kappa::fleiss_kappa(m, &images).map(|kappa| Fleiss {
        images: images.len(),
        kappa,
    })
}

fn annotators(
    m: &LabelMatrix,
    consensus: &[usize],
    ds: &DawidSkene,
    cl: Option<&Crowdlab>,
) -> Vec<AnnotatorReport> {
    let k = m.n_classes();
    let confusion = confusion_against(m, consensus);
    m.by_annotator()
        .iter()
        .enumerate()
        .map(|(a, labels)| {
            let agree = labels.iter().filter(|(i, c)| consensus[*i] == *c).count();
            let stats = cl.map(|c| &c.annotators[a]);
            AnnotatorReport {
                name: m.annotators()[a].clone(),
                labelled: labels.len(),
                agreement_with_consensus: agree as f64 / labels.len() as f64,
                quality: stats.map(|s| s.quality),
                worst_class: stats.map(|s| m.classes()[s.worst_class].clone()),
                dawid_skene_accuracy: (0..k).map(|t| ds.priors[t] * ds.errors[a][t * k + t]).sum(),
                confusion: confusion[a].chunks(k).map(<[u64]>::to_vec).collect(),
            }
        })
        .collect()
}

/// An image to label next.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Next {
    /// Index into the matrix's images (labelled) or into the unlabelled images.
    pub index: usize,
    /// Whether it already has labels.
    pub labelled: bool,
    /// Its score under the ranking (ActiveLab: lower first; uncertainty: see [`NextBy`]).
    pub score: f64,
}

/// The `budget` images to label next, labelled and unlabelled together, ranked by `by`. With
/// `embeddings(candidate)`, a row per candidate (labelled images first, then unlabelled), the
/// batch is made diverse by greedy k-center among the `4 · budget` best-ranked
/// ([`k_center_batch`]).
pub fn next_to_label(
    a: &Analysis,
    unlabelled: Option<&PredProbs>,
    by: NextBy,
    budget: usize,
    embeddings: Option<&EmbeddingSet>,
) -> Vec<Next> {
    let n = a.images;
    let mut candidates: Vec<Next> = Vec::new();
    match (by, &a.active, &a.crowdlab) {
        (NextBy::Activelab, Some(s), _) => {
            let lab = s.labelled.iter().enumerate().map(|(i, &v)| (i, true, v));
            let unl = s.unlabelled.iter().enumerate().map(|(i, &v)| (i, false, v));
            candidates.extend(lab.chain(unl).map(|(index, labelled, score)| Next {
                index,
                labelled,
                score,
            }));
            candidates.sort_by(|x, y| x.score.total_cmp(&y.score));
        }
        (NextBy::Activelab, None, _) | (_, _, None) => {
            candidates.extend((0..n).map(|i| Next {
                index: i,
                labelled: true,
                score: a.consensus_quality[i],
            }));
            candidates.sort_by(|x, y| x.score.total_cmp(&y.score));
        }
        (_, _, Some(c)) => {
            let k = a.classes.len();
            let mut values = c.posterior.clone();
            if let Some(u) = unlabelled {
                values.extend_from_slice(&u.values);
            }
            let all = PredProbs { k, values };
            let queue_by = match by {
                NextBy::Margin => QueueBy::Margin,
                NextBy::Entropy => QueueBy::Entropy,
                _ => QueueBy::LeastConfidence,
            };
            for (j, score) in uncertainty_order(&all, queue_by) {
                candidates.push(Next {
                    index: if j < n { j } else { j - n },
                    labelled: j < n,
                    score,
                });
            }
        }
    }
    match embeddings {
        Some(e) => {
            let row = |c: &Next| if c.labelled { c.index } else { n + c.index };
            let order: Vec<usize> = candidates.iter().map(row).collect();
            let chosen = k_center_batch(&order, e, budget);
            let at: std::collections::HashMap<usize, Next> =
                candidates.iter().map(|c| (row(c), *c)).collect();
            chosen.iter().map(|r| at[r]).collect()
        }
        None => {
            candidates.truncate(budget);
            candidates
        }
    }
}

/// `v` with four decimals, or `n/a`.
pub fn show(v: Option<f64>) -> String {
    match v {
        Some(x) if x.is_finite() => format!("{x:.4}"),
        _ => "n/a".into(),
    }
}

impl Analysis {
    /// The human summary: overall agreement, the consensus, and one line per annotator (worst
    /// quality first when CROWDLAB ran).
    pub fn text(&self) -> Vec<String> {
        let mut lines = vec![format!(
            "{} labels on {} images from {} annotators, {} classes",
            self.labels,
            self.images,
            self.annotators.len(),
            self.classes.len()
        )];
        lines.push(format!(
            "agreement: {} of label pairs agree; Krippendorff's alpha {}; Fleiss' kappa {}",
            show(self.percent_agreement),
            show(self.krippendorff_alpha),
            match &self.fleiss {
                Some(f) => format!("{:.4} (on {} images)", f.kappa, f.images),
                None => "n/a (no image labelled by every annotator)".into(),
            }
        ));
        let changed = self
            .consensus
            .iter()
            .zip(&self.majority)
            .filter(|(a, b)| a != b)
            .count();
        lines.push(format!(
            "consensus: {} ({changed} images differ from the majority vote; Dawid-Skene took {} iterations)",
            augtrain_data::util::names::name(&self.method),
            self.dawid_skene_iterations
        ));
        let mut order: Vec<usize> = (0..self.annotators.len()).collect();
        order.sort_by(|&a, &b| {
            let q = |i: usize| {
                self.annotators[i]
                    .quality
                    .unwrap_or(self.annotators[i].dawid_skene_accuracy)
            };
            q(a).total_cmp(&q(b))
        });
        for a in order {
            let r = &self.annotators[a];
            lines.push(format!(
                "  {}: {} labels, agrees with the consensus {}, quality {}, Dawid-Skene accuracy {}{}",
                r.name,
                r.labelled,
                show(Some(r.agreement_with_consensus)),
                show(r.quality),
                show(Some(r.dawid_skene_accuracy)),
                r.worst_class
                    .as_ref()
                    .map(|c| format!(", worst class '{c}'"))
                    .unwrap_or_default()
            ));
        }
        lines
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::agreement::synth::simulated;

    #[test]
    fn analysis_finds_the_spammer_and_ranks_uncertain_images_first() {
        let (m, _) = simulated(400, 4, &[0.95, 0.9, 0.85, 0.25], 3);
        let a = analyse(&m, None, Method::Auto).unwrap();
        assert_eq!(a.method, Method::DawidSkene);
        let worst = (0..4)
            .min_by(|&x, &y| {
                a.annotators[x]
                    .dawid_skene_accuracy
                    .total_cmp(&a.annotators[y].dawid_skene_accuracy)
            })
            .unwrap();
        assert_eq!(worst, 3);
        let next = next_to_label(&a, None, NextBy::Activelab, 5, None);
        assert_eq!(next.len(), 5);
        assert!(next.windows(2).all(|w| w[0].score <= w[1].score));
        assert!(a.text()[0].starts_with("1600 labels on 400 images from 4 annotators"));
        let e = analyse(&m, None, Method::Crowdlab).unwrap_err();
        assert!(e.to_string().contains("needs probabilities"));
    }

    #[test]
    fn diverse_batches_spread_over_the_embedding() {
        // Two tight clusters: a batch of two takes one image from each.
        let e = EmbeddingSet::new(1, vec![0.0, 0.01, 0.02, 5.0, 5.01]).unwrap();
        let chosen = k_center_batch(&[0, 1, 2, 3, 4], &e, 2);
        assert_eq!(chosen, vec![0, 4]);
    }
}
