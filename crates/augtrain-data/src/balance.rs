//! Class balancing for the training split only: scikit-learn's `balanced` class weights,
//! imbalanced-learn's random over- and under-sampling (`sampling_strategy` semantics), and a
//! class-balanced sampler.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::util::rng::{Domain, Stream};

/// How to balance the training split (`--balance`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum Balance {
    /// Train on the split as it is.
    #[default]
    None,
    /// Cross-entropy class weights `n / (K · n_c)` (scikit-learn's `balanced`).
    #[serde(alias = "balanced")]
    Weights,
    /// Random over-sampling with replacement (imbalanced-learn `RandomOverSampler`).
    Oversample,
    /// Random under-sampling without replacement (imbalanced-learn `RandomUnderSampler`).
    Undersample,
    /// Each epoch draws `n` samples with probability ∝ 1 / n_class (PyTorch's
    /// `WeightedRandomSampler` with replacement).
    Sampler,
}

crate::from_str_via_serde!(Balance);

/// imbalanced-learn's `sampling_strategy`: a named set of classes, or target counts per class.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum SamplingStrategy {
    /// `auto`, `minority`, `majority`, `not minority`, `not majority`, `all`.
    Named(String),
    /// Target count per class name.
    Counts(BTreeMap<String, usize>),
}

impl Default for SamplingStrategy {
    fn default() -> Self {
        SamplingStrategy::Named("auto".into())
    }
}

/// `--sampling-strategy`: a name (`auto`, `minority`, ...; checked against the data when
/// balancing) or `CLASS=COUNT,CLASS=COUNT`.
impl std::str::FromStr for SamplingStrategy {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, String> {
        if !s.contains('=') {
            return Ok(SamplingStrategy::Named(s.to_string()));
        }
        let mut counts = BTreeMap::new();
        for part in s.split(',').filter(|p| !p.trim().is_empty()) {
            let (class, count) = part
                .split_once('=')
                .ok_or_else(|| format!("'{part}': use CLASS=COUNT"))?;
            let count: usize = count
                .trim()
                .parse()
                .map_err(|_| format!("'{part}': COUNT must be a whole number"))?;
            counts.insert(class.trim().to_string(), count);
        }
        Ok(SamplingStrategy::Counts(counts))
    }
}

/// scikit-learn's `compute_class_weight("balanced")`: `n / (K · n_c)` for the classes present
/// (absent classes get weight 1).
pub fn balanced_class_weights(counts: &[usize]) -> Vec<f32> {
    let n: usize = counts.iter().sum();
    let present = counts.iter().filter(|&&c| c > 0).count().max(1);
    counts
        .iter()
        .map(|&c| {
            if c == 0 {
                1.0
            } else {
                (n as f64 / (present as f64 * c as f64)) as f32
            }
        })
        .collect()
}

fn counts_of(labels: &[u32], k: usize) -> Vec<usize> {
    let mut counts = vec![0; k];
    for &l in labels {
        counts[l as usize] += 1;
    }
    counts
}

/// Target count per class for a sampler (`over` = over-sampling), imbalanced-learn's rules.
fn targets(
    counts: &[usize],
    strategy: &SamplingStrategy,
    names: &[String],
    over: bool,
) -> Result<Vec<usize>, String> {
    let present: Vec<usize> = (0..counts.len()).filter(|&c| counts[c] > 0).collect();
    let majority = present
        .iter()
        .copied()
        .max_by_key(|&c| (counts[c], std::cmp::Reverse(c)))
        .unwrap_or(0);
    let minority = present
        .iter()
        .copied()
        .min_by_key(|&c| (counts[c], c))
        .unwrap_or(0);
    let mut out = counts.to_vec();
    match strategy {
        SamplingStrategy::Named(name) => {
            let name = name.to_ascii_lowercase().replace('_', " ");
            let name = match name.as_str() {
                "auto" if over => "not majority".to_string(),
                "auto" => "not minority".to_string(),
                other => other.to_string(),
            };
            let selected: Vec<usize> = match name.as_str() {
                "minority" => vec![minority],
                "majority" => vec![majority],
                "not minority" => present.iter().copied().filter(|&c| c != minority).collect(),
                "not majority" => present.iter().copied().filter(|&c| c != majority).collect(),
                "all" => present.clone(),
                other => {
                    return Err(format!(
                        "unknown sampling_strategy '{other}': use auto, minority, majority, not minority, not majority, all, or counts per class"
                    ));
                }
            };
            if over && name == "majority" {
                return Err("'majority' cannot be used with over-sampling".into());
            }
            if !over && name == "minority" {
                return Err("'minority' cannot be used with under-sampling".into());
            }
            let goal = if over {
                counts[majority]
            } else {
                counts[minority]
            };
            for c in selected {
                out[c] = goal;
            }
        }
        SamplingStrategy::Counts(map) => {
            for (class, &want) in map {
                let c = names.iter().position(|n| n == class).ok_or_else(|| {
                    format!("sampling_strategy names class '{class}', which is not in the data")
                })?;
                if over && want < counts[c] {
                    return Err(format!(
                        "With over-sampling methods, the number of samples in a class should be greater or equal to the original number of samples. Originally, there is {} samples and {want} samples are asked (class '{class}').",
                        counts[c]
                    ));
                }
                if !over && want > counts[c] {
                    return Err(format!(
                        "With under-sampling methods, the number of samples in a class should be less or equal to the original number of samples. Originally, there is {} samples and {want} samples are asked (class '{class}').",
                        counts[c]
                    ));
                }
                out[c] = want;
            }
        }
    }
    Ok(out)
}

/// Indices of a randomly over-sampled training set: every original sample once, then for each
/// selected class `target − count` more drawn with replacement from the class.
pub fn oversample(
    labels: &[u32],
    names: &[String],
    strategy: &SamplingStrategy,
    seed: u64,
) -> Result<Vec<usize>, String> {
    let counts = counts_of(labels, names.len());
    let goal = targets(&counts, strategy, names, true)?;
    let mut out: Vec<usize> = (0..labels.len()).collect();
    for c in 0..names.len() {
        let members: Vec<usize> = (0..labels.len())
            .filter(|&i| labels[i] as usize == c)
            .collect();
        let mut rng = Stream::new(Domain::Split, &[seed, 0x0e5a, c as u64]);
        for _ in counts[c]..goal[c] {
            out.push(members[rng.below(members.len() as u64) as usize]);
        }
    }
    Ok(out)
}

/// Indices of a randomly under-sampled training set: each selected class keeps `target` of its
/// samples, drawn without replacement; the rest keep all. Ascending order.
pub fn undersample(
    labels: &[u32],
    names: &[String],
    strategy: &SamplingStrategy,
    seed: u64,
) -> Result<Vec<usize>, String> {
    let counts = counts_of(labels, names.len());
    let goal = targets(&counts, strategy, names, false)?;
    let mut out = Vec::new();
    for c in 0..names.len() {
        let mut members: Vec<usize> = (0..labels.len())
            .filter(|&i| labels[i] as usize == c)
            .collect();
        Stream::new(Domain::Split, &[seed, 0x0d5a, c as u64]).shuffle(&mut members);
        out.extend_from_slice(&members[..goal[c].min(members.len())]);
    }
    out.sort_unstable();
    Ok(out)
}

/// The training split as trained on under `balance` (training split only; validation and test
/// are never balanced): over- or under-sampled indices, where every copy of a sample gets its
/// own augmentation key, and the cross-entropy class weights for [`Balance::Weights`].
pub fn training_set(
    train: &crate::Dataset,
    balance: Balance,
    strategy: &SamplingStrategy,
    seed: u64,
) -> Result<(crate::Dataset, Option<Vec<f32>>), String> {
    let resampled = |idx: Vec<usize>| {
        let mut ds = train.subset(&idx);
        let mut seen = std::collections::HashMap::new();
        for id in ds.ids.iter_mut() {
            let copy = seen.entry(*id).or_insert(0u64);
            if *copy > 0 {
                *id = crate::util::rng::mix64(id.wrapping_add(*copy << 48));
            }
            *copy += 1;
        }
        ds
    };
    let names = &train.class_names;
    match balance {
        Balance::None | Balance::Sampler => Ok((train.clone(), None)),
        Balance::Weights => Ok((
            train.clone(),
            Some(balanced_class_weights(&train.class_counts())),
        )),
        Balance::Oversample => Ok((
            resampled(oversample(&train.labels, names, strategy, seed)?),
            None,
        )),
        Balance::Undersample => Ok((
            resampled(undersample(&train.labels, names, strategy, seed)?),
            None,
        )),
    }
}

/// A class-balanced epoch: `labels.len()` draws, each sample with probability ∝ 1 / count of its
/// class, with replacement; a pure function of `(seed, epoch)`.
pub fn balanced_epoch(labels: &[u32], classes: usize, seed: u64, epoch: usize) -> Vec<usize> {
    let counts = counts_of(labels, classes);
    let present: Vec<usize> = (0..classes).filter(|&c| counts[c] > 0).collect();
    let members: Vec<Vec<usize>> = (0..classes)
        .map(|c| {
            (0..labels.len())
                .filter(|&i| labels[i] as usize == c)
                .collect()
        })
        .collect();
    let mut rng = Stream::new(Domain::Shuffle, &[seed, epoch as u64, 0xba1]);
    (0..labels.len())
        .map(|_| {
            // Uniform class, then uniform member: P(i) = 1 / (K · n_c).
            let c = present[rng.below(present.len() as u64) as usize];
            members[c][rng.below(members[c].len() as u64) as usize]
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sampling_strategies_parse_from_a_flag() {
        assert_eq!(
            "not minority".parse(),
            Ok(SamplingStrategy::Named("not minority".into()))
        );
        let counts: SamplingStrategy = "red=5, blue = 7,".parse().unwrap();
        assert_eq!(
            counts,
            SamplingStrategy::Counts([("red".into(), 5), ("blue".into(), 7)].into())
        );
        let e = "red=5,blue".parse::<SamplingStrategy>().unwrap_err();
        assert!(e.contains("'blue'") && e.contains("CLASS=COUNT"), "{e}");
        let e = "red=five".parse::<SamplingStrategy>().unwrap_err();
        assert!(e.contains("whole number"), "{e}");
    }

    #[test]
    fn every_balance_spelling_parses() {
        for (s, want) in [
            ("none", Balance::None),
            ("None", Balance::None),
            ("weights", Balance::Weights),
            ("balanced", Balance::Weights),
            ("Weights", Balance::Weights),
            ("oversample", Balance::Oversample),
            ("undersample", Balance::Undersample),
            ("SAMPLER", Balance::Sampler),
        ] {
            assert_eq!(s.parse(), Ok(want), "{s}");
        }
        let e = "smote".parse::<Balance>().unwrap_err();
        let valid = [
            "`none`",
            "`weights`",
            "`oversample`",
            "`undersample`",
            "`sampler`",
        ];
        assert!(valid.iter().all(|v| e.contains(v)), "{e}");
    }

    fn names(k: usize) -> Vec<String> {
        (0..k).map(|c| format!("c{c}")).collect()
    }

    #[test]
    fn balanced_weights_match_sklearn() {
        // sklearn: compute_class_weight("balanced", classes=[0,1,2], y=[0]*6+[1]*3+[2]) = n/(K n_c)
        let w = balanced_class_weights(&[6, 3, 1]);
        let expect = [10.0 / 18.0, 10.0 / 9.0, 10.0 / 3.0];
        for (a, b) in w.iter().zip(expect) {
            assert!((*a as f64 - b).abs() < 1e-6);
        }
    }

    #[test]
    fn oversampling_auto_raises_all_but_the_majority() {
        let labels: Vec<u32> = [vec![0; 10], vec![1; 4], vec![2; 1]].concat();
        let idx = oversample(&labels, &names(3), &SamplingStrategy::default(), 1).unwrap();
        let counts = counts_of(&idx.iter().map(|&i| labels[i]).collect::<Vec<_>>(), 3);
        assert_eq!(counts, vec![10, 10, 10]);
        assert_eq!(
            &idx[..15],
            &(0..15).collect::<Vec<_>>()[..],
            "originals first"
        );
        let m = SamplingStrategy::Named("minority".into());
        let idx = oversample(&labels, &names(3), &m, 1).unwrap();
        assert_eq!(
            counts_of(&idx.iter().map(|&i| labels[i]).collect::<Vec<_>>(), 3),
            vec![10, 4, 10]
        );
        let dict = SamplingStrategy::Counts([("c1".to_string(), 6)].into());
        let idx = oversample(&labels, &names(3), &dict, 1).unwrap();
        assert_eq!(
            counts_of(&idx.iter().map(|&i| labels[i]).collect::<Vec<_>>(), 3),
            vec![10, 6, 1]
        );
        let bad = SamplingStrategy::Counts([("c0".to_string(), 2)].into());
        assert!(
            oversample(&labels, &names(3), &bad, 1)
                .unwrap_err()
                .contains("greater or equal")
        );
    }

    #[test]
    fn undersampling_auto_lowers_all_but_the_minority() {
        let labels: Vec<u32> = [vec![0; 10], vec![1; 4], vec![2; 2]].concat();
        let idx = undersample(&labels, &names(3), &SamplingStrategy::default(), 1).unwrap();
        let counts = counts_of(&idx.iter().map(|&i| labels[i]).collect::<Vec<_>>(), 3);
        assert_eq!(counts, vec![2, 2, 2]);
        let mut dedup = idx.clone();
        dedup.dedup();
        assert_eq!(dedup.len(), idx.len(), "without replacement");
        let m = SamplingStrategy::Named("majority".into());
        let idx = undersample(&labels, &names(3), &m, 1).unwrap();
        assert_eq!(
            counts_of(&idx.iter().map(|&i| labels[i]).collect::<Vec<_>>(), 3),
            vec![2, 4, 2]
        );
    }

    #[test]
    fn balanced_sampler_draws_classes_evenly() {
        let labels: Vec<u32> = [vec![0; 900], vec![1; 100]].concat();
        let order = balanced_epoch(&labels, 2, 3, 0);
        assert_eq!(order.len(), 1000);
        let ones = order.iter().filter(|&&i| labels[i] == 1).count();
        assert!((430..=570).contains(&ones), "{ones}");
        assert_ne!(order, balanced_epoch(&labels, 2, 3, 1));
    }
}
