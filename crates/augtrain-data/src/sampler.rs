//! The order in which training samples are visited: a permutation that is a pure function of
//! `(seed, epoch)`, so that an interrupted run resumed at epoch `e` sees exactly the batches an
//! uninterrupted run would.

use crate::util::rng::{Domain, Stream};

/// The visiting order of `n` samples in `epoch` (a permutation of `0..n`).
pub fn epoch_order(n: usize, seed: u64, epoch: usize) -> Vec<usize> {
    let mut order: Vec<usize> = (0..n).collect();
    Stream::new(Domain::Shuffle, &[seed, epoch as u64]).shuffle(&mut order);
    order
}

/// Ranges of batch positions: `[0, b), [b, 2b), ...`; the last batch may be smaller.
pub fn batches(n: usize, batch_size: usize) -> impl Iterator<Item = std::ops::Range<usize>> {
    let b = batch_size.max(1);
    (0..n.div_ceil(b)).map(move |i| i * b..((i + 1) * b).min(n))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn orders_are_permutations_that_change_per_epoch() {
        let a = epoch_order(100, 1, 0);
        let b = epoch_order(100, 1, 1);
        assert_ne!(a, b);
        let mut s = a.clone();
        s.sort_unstable();
        assert_eq!(s, (0..100).collect::<Vec<_>>());
        assert_eq!(a, epoch_order(100, 1, 0));
    }

    #[test]
    fn batches_cover_everything_once() {
        let v: Vec<_> = batches(10, 4).collect();
        assert_eq!(v, vec![0..4, 4..8, 8..10]);
        assert_eq!(batches(0, 4).count(), 0);
    }
}
