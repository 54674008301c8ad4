//! Label agreement in the audit (`audit DATA --labels F`): how far several annotators' class
//! labels of the audited images agree (the statistics of [`crate::agreement`], with the
//! Dawid-Skene consensus) and which images they dispute most, matched to the audited files by
//! path so the page can show them.

use std::collections::HashMap;

use serde::Serialize;

use super::ImageRow;
use crate::agreement::LabelMatrix;
use crate::agreement::kappa::PairAgreement;
use crate::agreement::report::{Analysis, AnnotatorReport, Fleiss, show};
use augtrain_data::util::escape::escape;
use augtrain_data::util::path_text;

/// Agreement among the annotators of a label file, for the audit report.
#[derive(Clone, Debug, Serialize)]
pub struct LabelAgreement {
    /// The label file, as given.
    pub labels_file: String,
    /// Images with at least one label.
    pub images: usize,
    /// Labels in all.
    pub labels: usize,
    /// Class names (indices of the per-class lists).
    pub classes: Vec<String>,
    /// Share of pairs of labels on one image that agree.
    pub percent_agreement: Option<f64>,
    /// Krippendorff's alpha (nominal, missing labels allowed).
    pub krippendorff_alpha: Option<f64>,
    /// Alpha per class, one-vs-rest.
    pub krippendorff_alpha_per_class: Vec<Option<f64>>,
    /// Fleiss' kappa on the images labelled by every annotator, if any.
    pub fleiss: Option<Fleiss>,
    /// Cohen's kappas per pair of annotators (indices into `annotators`).
    pub pairs: Vec<PairAgreement>,
    /// Each annotator against the Dawid-Skene consensus.
    pub annotators: Vec<AnnotatorReport>,
    /// Every image whose labels differ, least certain consensus first.
    pub disputed: Vec<DisputedImage>,
    /// Labelled images that are not among the audited files.
    pub not_audited: usize,
}

/// An image the annotators label differently.
#[derive(Clone, Debug, Serialize)]
pub struct DisputedImage {
    /// The image as the label file names it.
    pub image: String,
    /// Its row in the audit, when it is one of the audited files.
    pub row: Option<usize>,
    /// `(annotator, class)` for every label it has.
    pub labels: Vec<(String, String)>,
    /// The Dawid-Skene consensus class.
    pub consensus: String,
    /// The consensus class's posterior probability.
    pub consensus_quality: f64,
}

impl LabelAgreement {
    /// The section for labels `m` analysed as `a`, matched to the audit's `rows` by path text
    /// (as the label file names them, or in canonical path form).
    pub fn new(labels_file: &str, m: &LabelMatrix, a: &Analysis, rows: &[ImageRow]) -> Self {
        let at: HashMap<&str, usize> = rows
            .iter()
            .enumerate()
            .map(|(i, r)| (r.path.as_str(), i))
            .collect();
        let find = |image: &str| {
            let canonical = path_text::encode(&path_text::decode(image));
            at.get(image)
                .or_else(|| at.get(canonical.as_str()))
                .copied()
        };
        let row_of: Vec<Option<usize>> = m.images().iter().map(|i| find(i)).collect();
        let mut disputed: Vec<DisputedImage> = (0..m.n_images())
            .filter(|&i| m.row(i).windows(2).any(|w| w[0].class != w[1].class))
            .map(|i| DisputedImage {
                image: m.images()[i].clone(),
                row: row_of[i],
                labels: m
                    .row(i)
                    .iter()
                    .map(|e| {
                        let who = m.annotators()[e.annotator as usize].clone();
                        (who, m.classes()[e.class as usize].clone())
                    })
                    .collect(),
                consensus: m.classes()[a.consensus[i]].clone(),
                consensus_quality: a.consensus_quality[i],
            })
            .collect();
        disputed.sort_by(|x, y| x.consensus_quality.total_cmp(&y.consensus_quality));
        LabelAgreement {
            labels_file: labels_file.to_string(),
            images: a.images,
            labels: a.labels,
            classes: a.classes.clone(),
            percent_agreement: a.percent_agreement,
            krippendorff_alpha: a.krippendorff_alpha,
            krippendorff_alpha_per_class: a.krippendorff_alpha_per_class.clone(),
            fleiss: a.fleiss.clone(),
            pairs: a.pairs.clone(),
            annotators: a.annotators.clone(),
            disputed,
            not_audited: row_of.iter().filter(|r| r.is_none()).count(),
        }
    }

    /// The text summary: the agreement figures, one line per annotator and up to `list`
    /// disputed images.
    pub fn summary(&self, list: usize) -> String {
        let mut out = format!(
            "\nlabel agreement ({}): {} labels on {} images from {} annotators; {} of label pairs agree, Krippendorff's alpha {}, Fleiss' kappa {}\n",
            escape(&self.labels_file),
            self.labels,
            self.images,
            self.annotators.len(),
            show(self.percent_agreement),
            show(self.krippendorff_alpha),
            self.fleiss
                .as_ref()
                .map(|f| format!("{:.4} (on {} images)", f.kappa, f.images))
                .unwrap_or_else(|| "n/a".into())
        );
        for r in &self.annotators {
            out.push_str(&format!(
                "  {}: {} labels, agrees with the consensus {}, Dawid-Skene accuracy {}\n",
                escape(&r.name),
                r.labelled,
                show(Some(r.agreement_with_consensus)),
                show(Some(r.dawid_skene_accuracy))
            ));
        }
        if self.not_audited > 0 {
            out.push_str(&format!(
                "  {} labelled images are not among the audited files (name them by their path under the data)\n",
                self.not_audited
            ));
        }
        out.push_str(&format!("  disputed images: {}\n", self.disputed.len()));
        for d in self.disputed.iter().take(list) {
            out.push_str(&format!(
                "    {}: {} (consensus '{}', {:.3})\n",
                escape(&d.image),
                d.labels_text(),
                escape(&d.consensus),
                d.consensus_quality
            ));
        }
        out
    }
}

impl DisputedImage {
    /// `annotator: class, …`, escaped for a terminal.
    pub fn labels_text(&self) -> String {
        self.labels
            .iter()
            .map(|(who, class)| format!("{}: {}", escape(who), escape(class)))
            .collect::<Vec<_>>()
            .join(", ")
    }
}
