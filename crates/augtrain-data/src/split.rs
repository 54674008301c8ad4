//! Stratified splits: hold-out splits and k folds, keeping exact-duplicate groups on one side,
//! chosen by seeded counter-based shuffles; and the split file that saves them.

use std::collections::HashMap;
use std::path::Path;

use super::DataError;
use super::files::SplitName;
use crate::util::escape::escape;
use crate::util::rng::{Domain, Stream};

/// scikit-learn's refusal to stratify a class with a single member, naming the class.
pub fn check_stratifiable(labels: &[u32], class_names: &[String]) -> Result<(), DataError> {
    let mut counts: HashMap<u32, usize> = HashMap::new();
    for &l in labels {
        *counts.entry(l).or_default() += 1;
    }
    let mut singles: Vec<u32> = counts
        .iter()
        .filter(|(_, c)| **c == 1)
        .map(|(l, _)| *l)
        .collect();
    singles.sort_unstable();
    if let Some(&l) = singles.first() {
        let name = class_names
            .get(l as usize)
            .cloned()
            .unwrap_or_else(|| l.to_string());
        return Err(DataError::Invalid(format!(
            "The least populated class in y has only 1 member, which is too few. The minimum number of groups for any class cannot be less than 2. (class '{name}'; add images of it or remove it)"
        )));
    }
    Ok(())
}

/// scikit-learn's `StratifiedKFold` checks on `folds` for these labels: at least 2, at most
/// the number of samples, and not more than every class's count (`Err` = the message, a usage
/// error). When some class has fewer members than folds, `Ok` carries scikit-learn's warning.
pub fn check_folds(labels: &[u32], folds: usize) -> Result<Option<String>, String> {
    if folds < 2 {
        return Err(format!(
            "k-fold cross-validation requires at least one train/test split by setting n_splits=2 or more, got n_splits={folds}."
        ));
    }
    if folds > labels.len() {
        return Err(format!(
            "Cannot have number of splits n_splits={folds} greater than the number of samples: n_samples={}.",
            labels.len()
        ));
    }
    let mut counts: HashMap<u32, usize> = HashMap::new();
    for &l in labels {
        *counts.entry(l).or_default() += 1;
    }
    let (min, max) = (
        counts.values().copied().min().unwrap_or(0),
        counts.values().copied().max().unwrap_or(0),
    );
    if folds > max {
        return Err(format!(
            "n_splits={folds} cannot be greater than the number of members in each class."
        ));
    }
    Ok((folds > min).then(|| {
        format!("The least populated class in y has only {min} members, which is less than n_splits={folds}.")
    }))
}

/// Per-class hold-out targets: `round(fraction · n)` in total, apportioned by largest remainder.
fn targets(class_sizes: &[usize], fraction: f64) -> Vec<usize> {
    let n: usize = class_sizes.iter().sum();
    let total = (fraction * n as f64).round() as usize;
    let exact: Vec<f64> = class_sizes.iter().map(|&c| c as f64 * fraction).collect();
    let mut take: Vec<usize> = exact.iter().map(|e| e.floor() as usize).collect();
    let mut order: Vec<usize> = (0..class_sizes.len()).collect();
    order.sort_by(|&a, &b| {
        let ra = exact[a] - exact[a].floor();
        let rb = exact[b] - exact[b].floor();
        rb.partial_cmp(&ra)
            .unwrap_or(std::cmp::Ordering::Equal)
            .then(a.cmp(&b))
    });
    let mut missing = total.saturating_sub(take.iter().sum());
    for &c in order.iter().cycle().take(class_sizes.len() * 2) {
        if missing == 0 {
            break;
        }
        if take[c] < class_sizes[c] {
            take[c] += 1;
            missing -= 1;
        }
    }
    take
}

/// Groups of sample indices sharing a key (first-seen order), with each group's class (its first
/// member's label).
fn groups_by_class(labels: &[u32], keys: Option<&[u64]>) -> Vec<Vec<Vec<usize>>> {
    let k = labels.iter().map(|&l| l as usize + 1).max().unwrap_or(0);
    let mut by_key: HashMap<u64, usize> = HashMap::new();
    let mut groups: Vec<Vec<usize>> = Vec::new();
    for i in 0..labels.len() {
        match keys {
            Some(keys) => {
                let g = *by_key.entry(keys[i]).or_insert_with(|| {
                    groups.push(Vec::new());
                    groups.len() - 1
                });
                groups[g].push(i);
            }
            None => groups.push(vec![i]),
        }
    }
    let mut by_class: Vec<Vec<Vec<usize>>> = vec![Vec::new(); k];
    for g in groups {
        by_class[labels[g[0]] as usize].push(g);
    }
    by_class
}

/// Split sample indices `0..labels.len()` into (kept, held out) with `fraction` of the samples
/// held out, stratified by class, keeping every group of equal `keys` (e.g. exact duplicates)
/// on one side.
///
/// Held-out counts per class follow the largest-remainder apportionment of `round(fraction·n)`;
/// groups larger than what a class still needs are skipped, so with groups the held-out side
/// can fall short by less than one group. Both sides are returned in ascending index order.
pub fn stratified_group_holdout(
    labels: &[u32],
    keys: Option<&[u64]>,
    fraction: f64,
    seed: u64,
) -> (Vec<usize>, Vec<usize>) {
    let fraction = fraction.clamp(0.0, 1.0);
    let by_class = groups_by_class(labels, keys);
    let sizes: Vec<usize> = by_class
        .iter()
        .map(|gs| gs.iter().map(Vec::len).sum())
        .collect();
    let take = targets(&sizes, fraction);
    let (mut kept, mut held) = (Vec::new(), Vec::new());
    for (c, groups) in by_class.iter().enumerate() {
        let mut order: Vec<usize> = (0..groups.len()).collect();
        Stream::new(Domain::Split, &[seed, c as u64]).shuffle(&mut order);
        let mut got = 0;
        for g in order {
            let members = &groups[g];
            if got + members.len() <= take[c] {
                got += members.len();
                held.extend_from_slice(members);
            } else {
                kept.extend_from_slice(members);
            }
        }
    }
    kept.sort_unstable();
    held.sort_unstable();
    (kept, held)
}

/// [`stratified_group_holdout`] without groups.
pub fn stratified_holdout(labels: &[u32], fraction: f64, seed: u64) -> (Vec<usize>, Vec<usize>) {
    stratified_group_holdout(labels, None, fraction, seed)
}

/// Assign every sample to one of `folds` folds, stratified by class, groups kept whole
/// (scikit-learn's `StratifiedGroupKFold` idea): per class, groups in seeded random order go to
/// the fold holding the fewest samples of that class so far.
pub fn stratified_group_folds(
    labels: &[u32],
    keys: Option<&[u64]>,
    folds: usize,
    seed: u64,
) -> Vec<usize> {
    let folds = folds.max(1);
    let mut out = vec![0usize; labels.len()];
    for (c, groups) in groups_by_class(labels, keys).iter().enumerate() {
        let mut order: Vec<usize> = (0..groups.len()).collect();
        Stream::new(Domain::Split, &[seed, 0xf01d, c as u64]).shuffle(&mut order);
        // Largest groups first keeps the folds even.
        order.sort_by_key(|&g| std::cmp::Reverse(groups[g].len()));
        let mut fill = vec![0usize; folds];
        for g in order {
            let f = (0..folds)
                .min_by_key(|&f| (fill[f], f))
                .expect("at least one fold");
            fill[f] += groups[g].len();
            for &i in &groups[g] {
                out[i] = f;
            }
        }
    }
    out
}

/// One row of a split file.
#[derive(Clone, Debug, PartialEq)]
pub struct SplitRow {
    /// Sample id.
    pub id: u64,
    /// Its split.
    pub split: SplitName,
    /// Its fold, when folds were made.
    pub fold: Option<usize>,
    /// Its class name (checked when applied).
    pub label: Option<String>,
    /// Its source path as path text ([`crate::util::path_text`]): the key matching rows to
    /// files.
    pub path: String,
}

/// The columns of a split file.
const HEADER: [&str; 5] = ["id", "split", "fold", "label", "path"];

/// A split file as text: `id,split,fold,label,path`.
pub fn split_file_text(rows: &[SplitRow]) -> String {
    let mut out = crate::csv::Writer::new(HEADER);
    for r in rows {
        out.row([
            r.id.to_string().as_str(),
            r.split.as_str(),
            &r.fold.map(|f| f.to_string()).unwrap_or_default(),
            r.label.as_deref().unwrap_or(""),
            &r.path,
        ]);
    }
    out.finish_string()
}

/// Read a split file written by `augtrain split`.
pub fn read_split_file(path: &Path) -> Result<Vec<SplitRow>, DataError> {
    let text = crate::util::fs::read_regular_text(path).map_err(|source| DataError::Read {
        path: path.to_path_buf(),
        source,
    })?;
    parse_split_file(path, &text)
}

/// Parse the text of a split file (see [`read_split_file`]); `path` names it in errors.
pub fn parse_split_file(path: &Path, text: &str) -> Result<Vec<SplitRow>, DataError> {
    let table = crate::csv::Table::parse(path, text.as_bytes())?;
    if table.header().iter().map(|h| h.trim()).ne(HEADER) {
        return Err(
            table.file_error("not a split file: the header must be id,split,fold,label,path")
        );
    }
    let mut rows = Vec::new();
    for row in table.rows() {
        let f = &row.fields;
        let bad = |what: &str, v: &str, why: &str| {
            table.error(row, format!("{what} '{}'{why}", escape(v)))
        };
        rows.push(SplitRow {
            id: f[0]
                .parse()
                .map_err(|_| bad("id", &f[0], " is not a number"))?,
            split: SplitName::parse(&f[1]).ok_or_else(|| bad("unknown split", &f[1], ""))?,
            fold: if f[2].is_empty() {
                None
            } else {
                Some(
                    f[2].parse()
                        .map_err(|_| bad("fold", &f[2], " is not a number"))?,
                )
            },
            label: (!f[3].is_empty()).then(|| f[3].clone()),
            path: f[4].clone(),
        });
    }
    Ok(rows)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn proportions_per_class_and_disjoint_cover() {
        let labels: Vec<u32> = (0..1000)
            .map(|i| {
                if i < 700 {
                    0
                } else if i < 950 {
                    1
                } else {
                    2
                }
            })
            .collect();
        let (kept, held) = stratified_holdout(&labels, 0.1, 3);
        assert_eq!(held.len(), 100);
        assert_eq!(kept.len() + held.len(), 1000);
        let count = |idx: &[usize], c: u32| idx.iter().filter(|&&i| labels[i] == c).count();
        assert_eq!(count(&held, 0), 70);
        assert_eq!(count(&held, 1), 25);
        assert_eq!(count(&held, 2), 5);
        let mut all: Vec<usize> = kept.iter().chain(held.iter()).copied().collect();
        all.sort_unstable();
        assert_eq!(all, (0..1000).collect::<Vec<_>>());
    }

    #[test]
    fn seed_changes_membership_not_sizes() {
        let labels: Vec<u32> = (0..200).map(|i| (i % 4) as u32).collect();
        let (_, a) = stratified_holdout(&labels, 0.25, 1);
        let (_, b) = stratified_holdout(&labels, 0.25, 1);
        let (_, c) = stratified_holdout(&labels, 0.25, 2);
        assert_eq!(a, b);
        assert_ne!(a, c);
        assert_eq!(a.len(), c.len());
    }

    #[test]
    fn zero_fraction_holds_nothing_out() {
        let labels = vec![0u32, 1, 1, 0];
        let (kept, held) = stratified_holdout(&labels, 0.0, 1);
        assert!(held.is_empty());
        assert_eq!(kept, vec![0, 1, 2, 3]);
    }

    #[test]
    fn duplicate_groups_stay_on_one_side() {
        let labels: Vec<u32> = (0..100).map(|i| (i % 2) as u32).collect();
        // Samples i and i + 2 share a key when i % 10 < 2: pairs of duplicates.
        let keys: Vec<u64> = (0..100u64)
            .map(|i| {
                if i % 10 < 4 {
                    i % 10 % 2 + 1000 * (i / 10)
                } else {
                    i + 10_000
                }
            })
            .collect();
        for seed in 0..20 {
            let (kept, held) = stratified_group_holdout(&labels, Some(&keys), 0.3, seed);
            for a in &held {
                for b in &kept {
                    assert_ne!(keys[*a], keys[*b], "group split across sides (seed {seed})");
                }
            }
            assert!((28..=30).contains(&held.len()), "{}", held.len());
        }
    }

    #[test]
    fn folds_are_stratified_and_keep_groups() {
        let labels: Vec<u32> = (0..300).map(|i| (i % 3) as u32).collect();
        let keys: Vec<u64> = (0..300u64).map(|i| i / 6).collect();
        let folds = stratified_group_folds(&labels, Some(&keys), 5, 7);
        for f in 0..5 {
            let members: Vec<usize> = (0..300).filter(|&i| folds[i] == f).collect();
            assert!(
                (54..=66).contains(&members.len()),
                "fold {f}: {}",
                members.len()
            );
        }
        for i in 0..300 {
            for j in 0..300 {
                if keys[i] == keys[j] {
                    assert_eq!(folds[i], folds[j]);
                }
            }
        }
    }

    #[test]
    fn fold_counts_are_checked_like_stratified_kfold() {
        let labels = [0, 0, 0, 1, 1];
        assert!(
            check_folds(&labels, 1)
                .unwrap_err()
                .contains("n_splits=2 or more")
        );
        assert!(
            check_folds(&labels, 6)
                .unwrap_err()
                .contains("greater than the number of samples")
        );
        assert!(
            check_folds(&labels, 4)
                .unwrap_err()
                .contains("cannot be greater than the number of members in each class")
        );
        assert!(
            check_folds(&labels, 3)
                .unwrap()
                .unwrap()
                .contains("only 2 members")
        );
        assert_eq!(check_folds(&labels, 2).unwrap(), None);
    }

    #[test]
    fn single_member_class_is_refused_like_sklearn() {
        let e = check_stratifiable(&[0, 0, 1], &["a".into(), "b".into()])
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("The least populated class in y has only 1 member") && e.contains("'b'"),
            "{e}"
        );
    }

    #[test]
    fn split_file_round_trip() {
        let rows = vec![
            SplitRow {
                id: 3,
                split: SplitName::Train,
                fold: Some(1),
                label: Some("a,b".into()),
                path: "x/y.png".into(),
            },
            SplitRow {
                id: 4,
                split: SplitName::Test,
                fold: None,
                label: None,
                path: String::new(),
            },
        ];
        let dir = std::env::temp_dir().join(format!("augtrain-splitfile-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let p = dir.join("s.csv");
        std::fs::write(&p, split_file_text(&rows)).unwrap();
        assert_eq!(read_split_file(&p).unwrap(), rows);
    }
}
