//! Stratified hold-out splits: the same fraction of every class goes to the held-out side,
//! chosen by a seeded, counter-based shuffle (the split depends only on the labels, the
//! fraction and the seed).

use crate::util::rng::{Domain, Stream};

/// Split sample indices `0..labels.len()` into (kept, held out) with `fraction` of the samples
/// held out, stratified by class.
///
/// The held-out total is `round(fraction · n)`, apportioned to classes by largest remainder,
/// so per-class shares differ from `fraction` by less than one sample. Both sides are returned
/// in ascending index order.
pub fn stratified_holdout(labels: &[u32], fraction: f64, seed: u64) -> (Vec<usize>, Vec<usize>) {
    let n = labels.len();
    let k = labels.iter().map(|&l| l as usize + 1).max().unwrap_or(0);
    let mut by_class: Vec<Vec<usize>> = vec![Vec::new(); k];
    for (i, &l) in labels.iter().enumerate() {
        by_class[l as usize].push(i);
    }
    let fraction = fraction.clamp(0.0, 1.0);
    let total = (fraction * n as f64).round() as usize;
    // Largest-remainder apportionment of `total` over classes.
    let exact: Vec<f64> = by_class.iter().map(|c| c.len() as f64 * fraction).collect();
    let mut take: Vec<usize> = exact.iter().map(|e| e.floor() as usize).collect();
    let mut order: Vec<usize> = (0..k).collect();
    order.sort_by(|&a, &b| {
        let ra = exact[a] - exact[a].floor();
        let rb = exact[b] - exact[b].floor();
        rb.partial_cmp(&ra)
            .unwrap_or(std::cmp::Ordering::Equal)
            .then(a.cmp(&b))
    });
    let mut missing = total.saturating_sub(take.iter().sum());
    for &c in order.iter().cycle().take(k * 2) {
        if missing == 0 {
            break;
        }
        if take[c] < by_class[c].len() {
            take[c] += 1;
            missing -= 1;
        }
    }
    let mut kept = Vec::with_capacity(n - total);
    let mut held = Vec::with_capacity(total);
    for (c, members) in by_class.iter().enumerate() {
        let mut shuffled = members.clone();
        Stream::new(Domain::Split, &[seed, c as u64]).shuffle(&mut shuffled);
        held.extend_from_slice(&shuffled[..take[c]]);
        kept.extend_from_slice(&shuffled[take[c]..]);
    }
    kept.sort_unstable();
    held.sort_unstable();
    (kept, held)
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
}
