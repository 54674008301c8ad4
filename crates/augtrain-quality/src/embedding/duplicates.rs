//! Semantic near duplicates: pairs of images whose embeddings are almost parallel.
//!
//! A pair `(i, j)` is reported when its cosine similarity is at least the threshold **and** `j`
//! is among `i`'s k nearest neighbours **or** `i` is among `j`'s: the search only looks at the
//! neighbour lists, so an image with more than `k` near copies may miss some pairs. Groups are
//! the connected components of the pairs (union-find), so a group can be larger than `k + 1`
//! and is complete whenever the copies are chained through neighbour lists.

use super::knn::Neighbors;
use crate::audit::phash::UnionFind;

/// Two images whose embeddings are near duplicates.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct DuplicatePair {
    /// The lower row index.
    pub i: usize,
    /// The higher row index.
    pub j: usize,
    /// Their cosine similarity (1 for identical embeddings).
    pub similarity: f32,
}

/// Near-duplicate pairs and the groups they form.
#[derive(Clone, Debug, PartialEq, Default)]
pub struct NearDuplicates {
    /// Pairs by similarity descending, then by `i`, then by `j`.
    pub pairs: Vec<DuplicatePair>,
    /// Groups of two or more rows, each sorted, ordered by first member.
    pub groups: Vec<Vec<usize>>,
}

/// The pairs among `neighbors` with cosine similarity `≥ threshold` (a NaN threshold finds
/// none), and their groups. A pair seen from both sides is reported once, with the larger of
/// its two computed similarities (they agree unless rounding differs).
pub fn near_duplicates(neighbors: &Neighbors, threshold: f32) -> NearDuplicates {
    let n = neighbors.len();
    let mut found: Vec<DuplicatePair> = Vec::new();
    for i in 0..n {
        let sims = neighbors.similarities_of(i);
        for (&j, &s) in neighbors.indices_of(i).iter().zip(sims) {
            if s >= threshold {
                let (a, b) = (i.min(j as usize), i.max(j as usize));
                found.push(DuplicatePair {
                    i: a,
                    j: b,
                    similarity: s,
                });
            }
        }
    }
    // Merge both directions of a pair, keeping the larger similarity.
    found.sort_by(|x, y| {
        (x.i, x.j)
            .cmp(&(y.i, y.j))
            .then(y.similarity.total_cmp(&x.similarity))
    });
    found.dedup_by_key(|p| (p.i, p.j));
    let mut uf = UnionFind::new(n);
    for p in &found {
        uf.union(p.i, p.j);
    }
    found.sort_by(|x, y| {
        y.similarity
            .total_cmp(&x.similarity)
            .then((x.i, x.j).cmp(&(y.i, y.j)))
    });
    NearDuplicates {
        pairs: found,
        groups: uf.groups(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::embedding::{EmbeddingSet, nearest, synth::gaussian_unit_rows};

    #[test]
    fn finds_planted_copies_and_groups_chains_beyond_k() {
        let base = gaussian_unit_rows(40, 16, 3);
        let mut values = base.values.clone();
        // Five exact copies of row 0 (rows 40..45) and a slightly moved copy of row 7 (row 45).
        for _ in 0..5 {
            values.extend_from_slice(base.row(0));
        }
        let moved: Vec<f32> = base
            .row(7)
            .iter()
            .enumerate()
            .map(|(c, v)| v + if c == 0 { 1e-3 } else { 0.0 })
            .collect();
        values.extend_from_slice(&moved);
        let mut set = EmbeddingSet::new(16, values).unwrap();
        set.normalize_rows().unwrap();
        // k = 2 < 5 copies: the group of six is still found through the chains.
        let dups = near_duplicates(&nearest(&set, 2), 0.99);
        assert_eq!(dups.groups, vec![vec![0, 40, 41, 42, 43, 44], vec![7, 45]]);
        let p = dups.pairs.last().unwrap();
        assert_eq!((p.i, p.j), (7, 45));
        assert!(p.similarity > 0.99 && p.similarity < 1.0);
        assert!(
            dups.pairs[..dups.pairs.len() - 1]
                .iter()
                .all(|p| p.similarity == 1.0)
        );
        let sorted = dups.pairs.windows(2).all(|w| {
            w[0].similarity > w[1].similarity
                || (w[0].similarity == w[1].similarity && (w[0].i, w[0].j) < (w[1].i, w[1].j))
        });
        assert!(sorted, "{:?}", dups.pairs);
        assert!(
            near_duplicates(&nearest(&set, 2), f32::NAN)
                .pairs
                .is_empty()
        );
    }
}
