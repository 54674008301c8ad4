//! What a writer could not put into its format: one line per kind of loss, with a count, so
//! nothing is ever dropped silently.

use std::collections::BTreeMap;
use std::fmt;

/// The losses of one write, by kind. Each kind is a fixed phrase naming what was lost and what
/// was written instead ("oriented boxes (written as their axis-aligned bounding boxes)").
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Losses {
    counts: BTreeMap<&'static str, usize>,
}

impl Losses {
    /// Count one more loss of kind `what`.
    pub fn add(&mut self, what: &'static str) {
        self.add_n(what, 1);
    }

    /// Count `n` more losses of kind `what` (nothing when `n` is 0).
    pub fn add_n(&mut self, what: &'static str, n: usize) {
        if n > 0 {
            *self.counts.entry(what).or_default() += n;
        }
    }

    /// Count one loss of kind `what` when `lost` is true.
    pub fn add_if(&mut self, lost: bool, what: &'static str) {
        if lost {
            self.add(what);
        }
    }

    /// True when nothing was lost.
    pub fn is_empty(&self) -> bool {
        self.counts.is_empty()
    }

    /// The count for kind `what` (0 when none).
    pub fn count(&self, what: &str) -> usize {
        self.counts.get(what).copied().unwrap_or(0)
    }

    /// Every kind with its count, in a stable (alphabetical) order.
    pub fn iter(&self) -> impl Iterator<Item = (&'static str, usize)> + '_ {
        self.counts.iter().map(|(k, v)| (*k, *v))
    }
}

impl fmt::Display for Losses {
    /// One line per kind: "<count> <what>".
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (what, n) in self.iter() {
            writeln!(f, "{n} {what}")?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn losses_count_per_kind_one_line_each() {
        let mut l = Losses::default();
        assert!(l.is_empty());
        l.add("masks (not written)");
        l.add_n("masks (not written)", 2);
        l.add_if(false, "scores");
        l.add_n("keypoints", 0);
        l.add("annotators");
        assert_eq!(l.count("masks (not written)"), 3);
        assert_eq!(l.to_string(), "1 annotators\n3 masks (not written)\n");
    }
}
