//! Several annotators per image: how far they agree, what the consensus is, how good each
//! annotator is, and which images to label next.
//!
//! Everything here works on a [`LabelMatrix`] (images × annotators, most cells usually empty)
//! and, where a model is weighed in, on out-of-sample probabilities; never on images. Each
//! statistic follows one Python reference exactly (the module of each names it), and
//! `tools/agreement_reference.py` writes the fixtures the tests compare against.
//!
//! - [`labels`]: reading long CSV, wide CSV and Label Studio exports into a [`LabelMatrix`].
//! - [`kappa`]: Cohen's kappa, Fleiss' kappa, Krippendorff's alpha, percent agreement.
//! - [`consensus`]: majority vote (cleanlab's tie rule) and confusion matrices against a
//!   consensus; [`dawid_skene`]: crowd-kit's EM; [`crowdlab`]: cleanlab's CROWDLAB.
//! - [`active`]: ActiveLab, uncertainty sampling and a diversity-aware batch.

pub mod active;
pub mod consensus;
pub mod crowdlab;
pub mod dawid_skene;
pub mod kappa;
pub mod labels;
pub mod report;
pub mod synth;

/// Why an agreement statistic or consensus cannot be computed.
#[derive(Debug, thiserror::Error, PartialEq)]
pub enum AgreementError {
    /// The same annotator gave one image two labels.
    #[error(
        "annotator '{annotator}' labelled image '{image}' twice; keep one label per annotator and image"
    )]
    Duplicate {
        /// The image.
        image: String,
        /// The annotator.
        annotator: String,
    },
    /// A label index is not below the number of classes.
    #[error("label {label} is not one of the {classes} classes")]
    LabelOutOfRange {
        /// The label.
        label: usize,
        /// The number of classes.
        classes: usize,
    },
    /// No image has labels from two annotators, so annotators cannot be compared.
    #[error(
        "no image has labels from two annotators; agreement and consensus need overlapping labels"
    )]
    NoOverlap,
    /// The probabilities do not fit the labels.
    #[error("{0}")]
    ProbsMismatch(String),
    /// The matrix holds no labels.
    #[error("no labels")]
    Empty,
}

/// One label: who gave it and which class (an index into [`LabelMatrix::classes`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Entry {
    /// Annotator index into [`LabelMatrix::annotators`].
    pub annotator: u32,
    /// Class index into [`LabelMatrix::classes`].
    pub class: u32,
}

/// Labels of several annotators per image, stored by image (compressed rows): memory is
/// linear in the number of labels, whatever the number of annotators.
///
/// Invariants: every image has at least one label, every annotator gave at least one label,
/// an image's labels are ordered by annotator index, and an annotator labels an image at
/// most once.
#[derive(Clone, Debug, PartialEq)]
pub struct LabelMatrix {
    images: Vec<String>,
    annotators: Vec<String>,
    classes: Vec<String>,
    offsets: Vec<usize>,
    entries: Vec<Entry>,
}

/// One label as read, before the matrix is built: image, annotator, class (indices).
pub type Triple = (usize, usize, usize);

impl LabelMatrix {
    /// Builds the matrix from `(image, annotator, class)` index triples in any order. Images
    /// and annotators without labels are dropped (their names with them); two labels of one
    /// annotator for one image are an error, as is a class index outside `classes`.
    pub fn new(
        images: Vec<String>,
        annotators: Vec<String>,
        classes: Vec<String>,
        mut triples: Vec<Triple>,
    ) -> Result<Self, AgreementError> {
        if let Some(&(_, _, c)) = triples.iter().find(|t| t.2 >= classes.len()) {
            return Err(AgreementError::LabelOutOfRange {
                label: c,
                classes: classes.len(),
            });
        }
        triples.sort_unstable();
        if let Some(w) = triples
            .windows(2)
            .find(|w| w[0].0 == w[1].0 && w[0].1 == w[1].1)
        {
            return Err(AgreementError::Duplicate {
                image: images[w[0].0].clone(),
                annotator: annotators[w[0].1].clone(),
            });
        }
        let keep_annotator = used(annotators.len(), triples.iter().map(|t| t.1));
        let keep_image = used(images.len(), triples.iter().map(|t| t.0));
        let annotator_index = renumber(&keep_annotator);
        let image_index = renumber(&keep_image);
        let mut offsets = vec![0usize; keep_image.iter().filter(|&&k| k).count() + 1];
        let mut entries = Vec::with_capacity(triples.len());
        for &(i, a, c) in &triples {
            offsets[image_index[i] + 1] += 1;
            entries.push(Entry {
                annotator: annotator_index[a] as u32,
                class: c as u32,
            });
        }
        for i in 1..offsets.len() {
            offsets[i] += offsets[i - 1];
        }
        Ok(Self {
            images: keep(images, &keep_image),
            annotators: keep(annotators, &keep_annotator),
            classes,
            offsets,
            entries,
        })
    }

    /// A matrix from dense rows (`None` = not labelled), images and annotators named by
    /// their index and classes `0..k` (for tests and simulations).
    pub fn from_dense(rows: &[Vec<Option<usize>>], k: usize) -> Result<Self, AgreementError> {
        let width = rows.iter().map(Vec::len).max().unwrap_or(0);
        let triples = rows
            .iter()
            .enumerate()
            .flat_map(|(i, r)| {
                r.iter()
                    .enumerate()
                    .filter_map(move |(a, c)| c.map(|c| (i, a, c)))
            })
            .collect();
        Self::new(
            (0..rows.len()).map(|i| i.to_string()).collect(),
            (0..width).map(|a| a.to_string()).collect(),
            (0..k).map(|c| c.to_string()).collect(),
            triples,
        )
    }

    /// Images (with at least one label), in the order given.
    pub fn images(&self) -> &[String] {
        &self.images
    }

    /// Annotators (with at least one label), in the order given.
    pub fn annotators(&self) -> &[String] {
        &self.annotators
    }

    /// Class names; labels are indices into it.
    pub fn classes(&self) -> &[String] {
        &self.classes
    }

    /// Number of images.
    pub fn n_images(&self) -> usize {
        self.images.len()
    }

    /// Number of annotators.
    pub fn n_annotators(&self) -> usize {
        self.annotators.len()
    }

    /// Number of classes.
    pub fn n_classes(&self) -> usize {
        self.classes.len()
    }

    /// Number of labels.
    pub fn n_labels(&self) -> usize {
        self.entries.len()
    }

    /// Image `i`'s labels, ordered by annotator.
    pub fn row(&self, i: usize) -> &[Entry] {
        &self.entries[self.offsets[i]..self.offsets[i + 1]]
    }

    /// Image `i`'s label from annotator `a`, if any.
    pub fn get(&self, i: usize, a: usize) -> Option<usize> {
        let row = self.row(i);
        row.binary_search_by_key(&(a as u32), |e| e.annotator)
            .ok()
            .map(|j| row[j].class as usize)
    }

    /// Labels per image.
    pub fn counts(&self) -> Vec<usize> {
        self.offsets.windows(2).map(|w| w[1] - w[0]).collect()
    }

    /// Each annotator's labels as `(image, class)` pairs, images ascending.
    pub fn by_annotator(&self) -> Vec<Vec<(usize, usize)>> {
        let mut out = vec![Vec::new(); self.n_annotators()];
        for i in 0..self.n_images() {
            for e in self.row(i) {
                out[e.annotator as usize].push((i, e.class as usize));
            }
        }
        out
    }

    /// Labels per class over all images and annotators.
    pub fn class_totals(&self) -> Vec<usize> {
        let mut t = vec![0; self.n_classes()];
        for e in &self.entries {
            t[e.class as usize] += 1;
        }
        t
    }

    /// The classes some annotator used, ascending.
    pub fn classes_used(&self) -> Vec<usize> {
        let t = self.class_totals();
        (0..t.len()).filter(|&c| t[c] > 0).collect()
    }
}

fn used(n: usize, ids: impl Iterator<Item = usize>) -> Vec<bool> {
    let mut u = vec![false; n];
    for i in ids {
        u[i] = true;
    }
    u
}

fn renumber(keep: &[bool]) -> Vec<usize> {
    let mut next = 0;
    keep.iter()
        .map(|&k| {
            let i = next;
            next += k as usize;
            i
        })
        .collect()
}

fn keep(names: Vec<String>, keep: &[bool]) -> Vec<String> {
    names
        .into_iter()
        .zip(keep)
        .filter_map(|(n, &k)| k.then_some(n))
        .collect()
}

/// `values` averaged as `np.mean` does (numpy's pairwise sum divided by the count).
pub(crate) fn np_mean(values: &[f64]) -> f64 {
    crate::audit::numpy::sum(values) / values.len() as f64
}

/// The first index of the largest value (`np.argmax`).
pub(crate) fn argmax(row: &[f64]) -> usize {
    let mut best = 0;
    for (j, &v) in row.iter().enumerate() {
        if v > row[best] {
            best = j;
        }
    }
    best
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rows_are_ordered_and_empty_ones_dropped() {
        let m = LabelMatrix::new(
            vec!["x".into(), "y".into(), "z".into()],
            vec!["a".into(), "b".into(), "c".into()],
            vec!["cat".into(), "dog".into()],
            vec![(2, 1, 0), (0, 1, 1), (0, 0, 0)],
        )
        .unwrap();
        assert_eq!(m.images(), ["x", "z"]);
        assert_eq!(m.annotators(), ["a", "b"]);
        assert_eq!(m.get(0, 0), Some(0));
        assert_eq!(m.get(0, 1), Some(1));
        assert_eq!(m.get(1, 0), None);
        assert_eq!(m.counts(), vec![2, 1]);
        assert_eq!(m.by_annotator(), vec![vec![(0, 0)], vec![(0, 1), (1, 0)]]);
    }

    #[test]
    fn duplicates_and_bad_classes_are_errors() {
        let names = |n: usize| (0..n).map(|i| i.to_string()).collect::<Vec<_>>();
        let e = LabelMatrix::new(names(1), names(1), names(2), vec![(0, 0, 0), (0, 0, 1)]);
        assert!(matches!(e, Err(AgreementError::Duplicate { .. })));
        let e = LabelMatrix::new(names(1), names(1), names(2), vec![(0, 0, 2)]);
        assert!(matches!(e, Err(AgreementError::LabelOutOfRange { .. })));
    }
}
