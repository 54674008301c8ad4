//! A bounded top-k of (similarity, index) candidates under one total order.

use std::cmp::Ordering;

/// Whether candidate `a` ranks before `b`: higher similarity first (`f32::total_cmp`), equal
/// similarities by lower index. A total order, so the top k of any set of candidates is unique
/// whatever order they are offered in.
pub(crate) fn ranks_before(a: (f32, u32), b: (f32, u32)) -> bool {
    match a.0.total_cmp(&b.0) {
        Ordering::Greater => true,
        Ordering::Less => false,
        Ordering::Equal => a.1 < b.1,
    }
}

/// The best `k` candidates offered so far, best first: a small sorted array (k is small, tens at
/// most, and after the first few blocks almost every candidate is rejected by one comparison
/// with [`TopK::floor`]).
pub(crate) struct TopK {
    items: Vec<(f32, u32)>,
}

impl TopK {
    /// An empty top-k filled with sentinels that every candidate beats.
    pub(crate) fn new(k: usize) -> Self {
        Self {
            items: vec![(f32::NEG_INFINITY, u32::MAX); k],
        }
    }

    /// The similarity of the current k-th candidate: anything below it is rejected.
    #[inline]
    pub(crate) fn floor(&self) -> f32 {
        self.items.last().map_or(f32::INFINITY, |w| w.0)
    }

    /// Keeps `(similarity, index)` when it ranks before the current k-th candidate.
    #[inline]
    pub(crate) fn offer(&mut self, similarity: f32, index: u32) {
        let c = (similarity, index);
        let Some(&last) = self.items.last() else {
            return;
        };
        if !ranks_before(c, last) {
            return;
        }
        let mut at = self.items.len() - 1;
        while at > 0 && ranks_before(c, self.items[at - 1]) {
            self.items[at] = self.items[at - 1];
            at -= 1;
        }
        self.items[at] = c;
    }

    /// The kept candidates, best first.
    pub(crate) fn items(&self) -> &[(f32, u32)] {
        &self.items
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keeps_the_best_k_in_order_whatever_the_offer_order() {
        let cands = [(0.5, 3), (0.9, 7), (0.5, 1), (-0.2, 0), (0.9, 2), (0.7, 9)];
        let mut fwd = TopK::new(4);
        let mut rev = TopK::new(4);
        for &(s, i) in &cands {
            fwd.offer(s, i);
        }
        for &(s, i) in cands.iter().rev() {
            rev.offer(s, i);
        }
        let want = [(0.9, 2), (0.9, 7), (0.7, 9), (0.5, 1)];
        assert_eq!(fwd.items(), &want);
        assert_eq!(rev.items(), &want);
        assert_eq!(fwd.floor(), 0.5);
        let mut none = TopK::new(0);
        none.offer(1.0, 0);
        assert!(none.items().is_empty());
    }
}
