//! Multi-label stratification: splitting samples that each carry a *set* of labels (the classes
//! present in an annotated image) into subsets of given sizes so that every label is spread over
//! the subsets in about the same proportions, keeping groups of samples (exact duplicates) whole.
//!
//! The algorithm is the iterative stratification of Sechidis, Tsoumakas and Vlahavas, "On the
//! stratification of multi-label data" (ECML PKDD 2011), as scikit-multilearn implements it
//! (order 1), applied to groups instead of single samples:
//!
//! 1. Each subset `j` wants `r_j · n` samples and, for every label `l`, `r_j · n_l` of the
//!    samples carrying `l` (real numbers; `r_j` the subset's ratio, `n_l` how many samples carry
//!    `l`).
//! 2. While some group with a label is unassigned, take the label with the fewest unassigned
//!    samples (ties: the lowest label), and give each unassigned group carrying it, in seeded
//!    random order, to the subset that still wants the most samples of that label (ties: the one
//!    that wants the most samples overall, then a seeded random choice). The group's members are
//!    subtracted from that subset's wants, label by label and in total.
//! 3. Groups without labels go to the subset that wants the most samples (ties as above).
//!
//! A group counts once per member for each label a member carries, so a group of two duplicate
//! images counts as two samples of their classes. The rarest labels are placed first, which is
//! what keeps even a label with a handful of samples in every subset where its share allows.

use std::collections::HashMap;

use crate::util::rng::{Domain, Stream};

/// Samples grouped by equal key (first-seen order), each group with its members and how many of
/// its members carry each label.
struct Group {
    members: Vec<usize>,
    label_counts: Vec<(u32, usize)>,
}

fn groups_of(labels: &[Vec<u32>], keys: &[u64]) -> Vec<Group> {
    let mut by_key: HashMap<u64, usize> = HashMap::new();
    let mut members: Vec<Vec<usize>> = Vec::new();
    for (i, key) in keys.iter().enumerate() {
        let g = *by_key.entry(*key).or_insert_with(|| {
            members.push(Vec::new());
            members.len() - 1
        });
        members[g].push(i);
    }
    members
        .into_iter()
        .map(|members| {
            let mut counts: std::collections::BTreeMap<u32, usize> = Default::default();
            for &i in &members {
                let mut seen = labels[i].clone();
                seen.sort_unstable();
                seen.dedup();
                for l in seen {
                    *counts.entry(l).or_default() += 1;
                }
            }
            Group {
                members,
                label_counts: counts.into_iter().collect(),
            }
        })
        .collect()
}

/// What every subset still wants: samples in total and samples per label.
struct Wants {
    total: Vec<f64>,
    per_label: Vec<Vec<f64>>,
    /// Subsets with a positive ratio: a subset of ratio 0 never takes a group, even once the
    /// others are over their wants.
    open: Vec<usize>,
}

impl Wants {
    fn new(ratios: &[f64], n: usize, label_sizes: &[usize]) -> Self {
        Wants {
            total: ratios.iter().map(|r| r * n as f64).collect(),
            per_label: label_sizes
                .iter()
                .map(|&size| ratios.iter().map(|r| r * size as f64).collect())
                .collect(),
            open: (0..ratios.len()).filter(|&j| ratios[j] > 0.0).collect(),
        }
    }

    /// The subset for a group: the most wanted for `label` (if any), then the most wanted in
    /// total, then a seeded random one among equals.
    fn choose(&self, label: Option<u32>, rng: &mut Stream) -> usize {
        let key = |j: usize| {
            let l = label.map_or(0.0, |l| self.per_label[l as usize][j]);
            (l, self.total[j])
        };
        let best = self.open.iter().map(|&j| key(j)).fold(
            (f64::NEG_INFINITY, f64::NEG_INFINITY),
            |a, b| {
                if b.0 > a.0 || (b.0 == a.0 && b.1 > a.1) {
                    b
                } else {
                    a
                }
            },
        );
        let tied: Vec<usize> = self
            .open
            .iter()
            .copied()
            .filter(|&j| key(j) == best)
            .collect();
        tied[rng.below(tied.len() as u64) as usize]
    }

    fn take(&mut self, subset: usize, group: &Group) {
        self.total[subset] -= group.members.len() as f64;
        for &(l, count) in &group.label_counts {
            self.per_label[l as usize][subset] -= count as f64;
        }
    }
}

/// The subset (index into `ratios`) of every sample: `labels[i]` is sample `i`'s label set
/// (labels are small integers; an empty set is a sample without labels), samples with equal
/// `keys[i]` always share a subset, and `ratios` are the subsets' shares (non-negative, summing
/// to 1). Deterministic for a given `seed`. See the module docs for the algorithm.
///
/// # Panics
/// If `labels` and `keys` differ in length or no ratio is positive.
pub fn iterative_stratification(
    labels: &[Vec<u32>],
    keys: &[u64],
    ratios: &[f64],
    seed: u64,
) -> Vec<usize> {
    assert_eq!(labels.len(), keys.len(), "one key per sample");
    assert!(
        ratios.iter().any(|&r| r > 0.0),
        "a subset with a positive ratio"
    );
    let groups = groups_of(labels, keys);
    let n_labels = labels
        .iter()
        .flatten()
        .map(|&l| l as usize + 1)
        .max()
        .unwrap_or(0);
    // Unassigned samples per label, and the groups carrying each label.
    let mut left = vec![0usize; n_labels];
    let mut carrying: Vec<Vec<usize>> = vec![Vec::new(); n_labels];
    for (g, group) in groups.iter().enumerate() {
        for &(l, count) in &group.label_counts {
            left[l as usize] += count;
            carrying[l as usize].push(g);
        }
    }
    let mut wants = Wants::new(ratios, labels.len(), &left);
    let mut rng = Stream::new(Domain::Split, &[seed, 0x3171]);
    let mut subset_of: Vec<Option<usize>> = vec![None; groups.len()];
    while let Some(label) = (0..n_labels)
        .filter(|&l| left[l] > 0)
        .min_by_key(|&l| (left[l], l))
    {
        let mut order: Vec<usize> = carrying[label]
            .iter()
            .copied()
            .filter(|&g| subset_of[g].is_none())
            .collect();
        rng.shuffle(&mut order);
        for g in order {
            let j = wants.choose(Some(label as u32), &mut rng);
            wants.take(j, &groups[g]);
            subset_of[g] = Some(j);
            for &(l, count) in &groups[g].label_counts {
                left[l as usize] -= count;
            }
        }
    }
    let mut unlabelled: Vec<usize> = (0..groups.len())
        .filter(|&g| subset_of[g].is_none())
        .collect();
    rng.shuffle(&mut unlabelled);
    for g in unlabelled {
        let j = wants.choose(None, &mut rng);
        wants.take(j, &groups[g]);
        subset_of[g] = Some(j);
    }
    let mut out = vec![0usize; labels.len()];
    for (g, group) in groups.iter().enumerate() {
        for &i in &group.members {
            out[i] = subset_of[g].expect("every group assigned");
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    /// 400 samples over 6 labels with co-occurrence (label 0 in most, label 5 rare), 40
    /// without labels, and pairs of duplicates.
    fn fixture() -> (Vec<Vec<u32>>, Vec<u64>) {
        let mut rng = Stream::new(Domain::Synth, &[11]);
        let mut labels = Vec::new();
        for i in 0..400 {
            let set: Vec<u32> = if i % 10 == 3 {
                Vec::new()
            } else {
                let p = [0.7, 0.4, 0.3, 0.2, 0.1, 0.03];
                (0..6u32)
                    .filter(|&l| rng.bernoulli(p[l as usize]))
                    .collect()
            };
            labels.push(set);
        }
        // Every 25th sample duplicates the one before it (same labels, same key).
        let mut keys: Vec<u64> = (0..400u64).collect();
        for i in (25..400).step_by(25) {
            keys[i] = keys[i - 1];
            labels[i] = labels[i - 1].clone();
        }
        (labels, keys)
    }

    #[test]
    fn every_label_is_spread_in_proportion_and_groups_stay_whole() {
        let (labels, keys) = fixture();
        let ratios = [0.7, 0.15, 0.15];
        let subset = iterative_stratification(&labels, &keys, &ratios, 3);
        for i in 0..labels.len() {
            for k in 0..labels.len() {
                if keys[i] == keys[k] {
                    assert_eq!(subset[i], subset[k], "group of {i} split");
                }
            }
        }
        // Per label: within 2 samples of the ratio's share. (Unlabelled samples only fill
        // the subsets' remaining sizes; callers that want them spread give them a label.)
        let sets: Vec<Vec<usize>> = (0..6u32)
            .map(|l| (0..400).filter(|&i| labels[i].contains(&l)).collect())
            .collect();
        for (l, members) in sets.iter().enumerate() {
            for (j, r) in ratios.iter().enumerate() {
                let got = members.iter().filter(|&&i| subset[i] == j).count() as f64;
                let want = r * members.len() as f64;
                assert!(
                    (got - want).abs() <= 2.0,
                    "label {l} subset {j}: {got} of {} (want {want})",
                    members.len()
                );
            }
        }
        for (j, r) in ratios.iter().enumerate() {
            let got = subset.iter().filter(|&&s| s == j).count() as f64;
            assert!((got - r * 400.0).abs() <= 2.0, "subset {j}: {got}");
        }
        assert_eq!(iterative_stratification(&labels, &keys, &ratios, 3), subset);
        assert_ne!(iterative_stratification(&labels, &keys, &ratios, 4), subset);
    }

    #[test]
    fn a_rare_label_reaches_every_subset_it_can() {
        // Label 1 on three samples only: one per subset of three equal shares.
        let mut labels: Vec<Vec<u32>> = (0..30).map(|_| vec![0]).collect();
        for i in [4, 11, 27] {
            labels[i].push(1);
        }
        let keys: Vec<u64> = (0..30).collect();
        let subset = iterative_stratification(&labels, &keys, &[1.0 / 3.0; 3], 9);
        let mut rare: Vec<usize> = [4, 11, 27].iter().map(|&i| subset[i]).collect();
        rare.sort_unstable();
        assert_eq!(rare, vec![0, 1, 2]);
    }

    #[test]
    fn a_zero_ratio_gets_nothing_and_no_samples_is_fine() {
        let labels: Vec<Vec<u32>> = (0..20).map(|i| vec![i % 3]).collect();
        let keys: Vec<u64> = (0..20).collect();
        let subset = iterative_stratification(&labels, &keys, &[0.8, 0.2, 0.0], 1);
        assert!(subset.iter().all(|&s| s < 2));
        assert!(iterative_stratification(&[], &[], &[0.5, 0.5], 1).is_empty());
    }
}
