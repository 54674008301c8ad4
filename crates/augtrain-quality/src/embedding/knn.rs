//! Exact k-nearest-neighbour search by cosine similarity.
//!
//! Every row is compared with every other row: the `n × n` similarity matrix is computed in
//! tiles of `query × base` rows with `matrixmultiply::sgemm` (single-threaded, runtime-selected
//! AVX2/FMA or AVX-512 kernels) into a buffer reused by each worker, and each query row keeps a
//! bounded top-k (a small sorted array). Query blocks are spread over rayon's threads; base blocks
//! are visited in index order within a query block.
//!
//! **Conventions.** Rows are assumed L2-normalized ([`EmbeddingSet::normalize_rows`]), so a dot
//! product is the cosine similarity. A row's neighbours exclude the row itself by index, not by
//! value. Similarities are sorted descending, equal similarities by lower index first. Two rows
//! that are bit-identical have similarity exactly `1.0` (their computed dot product, which
//! rounding puts within a few ulps of 1, is replaced), and any other pair whose dot product
//! rounds to 1 or above is capped just below 1 (`1 − 2⁻²⁴`): so exact duplicates always come
//! first, as cleanlab's duplicate correction places them, and `1.0` means "identical".
//!
//! **Determinism.** The result does not depend on the thread count or the block sizes: every
//! similarity is one sgemm dot product whose summation order does not depend on where the pair
//! sits in a tile, and the top-k order is total.
//!
//! **Threads.** matrixmultiply's own `threading` feature is off here, so each sgemm call runs on
//! the calling rayon worker. If another crate in a build enables it (burn-ndarray's
//! `multi-threads` does), sgemm would also fan out on its own pool; set `MATMUL_NUM_THREADS=1`
//! then to avoid oversubscription.
//!
//! **Symmetry is not exploited.** Computing only tiles `j ≥ i` would halve the multiply-adds but
//! each tile would then feed the top-k of rows owned by other threads, needing per-thread top-k
//! arrays for all `n` rows and a merge (memory `threads·n·k`), and the transposed scan of each
//! tile is cache-unfriendly; the NumPy reference computes the full matrix as well.
//!
//! **Cost.** Time `O(n²·d)` multiply-adds: 10 000 × 1 280 is 1.3e11 (2.3 to 2.6 s measured on two
//! busy cores, where NumPy with OpenBLAS took 5.5 to 6.6 s for the same search,
//! tools/knn_reference.py), 100 000 × 1 280 is 1.3e13 (minutes on two cores). Memory `O(n·d + threads·query·base +
//! n·k)`: the rows, one f32 tile per worker, and the result. Beyond roughly a million images an
//! approximate index (HNSW graphs or IVF inverted lists with product quantization) would take
//! over: sub-quadratic search at the price of recall below 1 and of build parameters to tune.
//! Here exactness matters more: the duplicate, outlier and label-noise scores are compared with
//! cleanlab's exact (scikit-learn brute-force) neighbours, and the sizes augtrain handles stay
//! within the quadratic budget.

use rayon::prelude::*;

use super::store::EmbeddingSet;
use super::topk::TopK;

/// Dot products at or above this are checked for bit-identical rows (snapped to 1) and capped.
const NEAR_ONE: f32 = 0.999;
/// The largest f32 below 1, the cap for non-identical rows.
const BELOW_ONE: f32 = 1.0 - f32::EPSILON / 2.0;

/// For each of `len()` rows, its `k` most similar other rows.
#[derive(Clone, Debug, PartialEq)]
pub struct Neighbors {
    /// Neighbours per row (the requested k clamped to `n − 1`).
    pub k: usize,
    /// `n × k` row indices, row-major, most similar first.
    pub indices: Vec<u32>,
    /// `n × k` cosine similarities matching `indices`, descending.
    pub similarities: Vec<f32>,
}

impl Neighbors {
    /// Rows.
    pub fn len(&self) -> usize {
        self.indices.len().checked_div(self.k).unwrap_or(0)
    }

    /// `true` without rows or without neighbours (`k = 0`).
    pub fn is_empty(&self) -> bool {
        self.indices.is_empty()
    }

    /// Row `i`'s neighbours, most similar first.
    pub fn indices_of(&self, i: usize) -> &[u32] {
        &self.indices[i * self.k..(i + 1) * self.k]
    }

    /// Row `i`'s similarities, descending.
    pub fn similarities_of(&self, i: usize) -> &[f32] {
        &self.similarities[i * self.k..(i + 1) * self.k]
    }
}

/// Tile sizes of the similarity matrix, in rows.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Blocking {
    /// Query rows per block (one rayon task each).
    pub query: usize,
    /// Base rows per sgemm call; the tile buffer is `query × base` f32.
    pub base: usize,
}

impl Default for Blocking {
    /// 256 × 1024 (a 1 MiB f32 tile). Measured on 10 000 × 1 280 rows, 2 cores (under load from
    /// other builds): 64 query rows 3.8 s, 128 2.7 s, 256 or 512 with 256 to 4096 base rows all
    /// 2.3 to 2.5 s (within noise); fewer query rows re-pack the base rows more often per
    /// multiply-add, larger tiles only cost memory.
    fn default() -> Self {
        Self {
            query: 256,
            base: 1024,
        }
    }
}

/// Every row's `k` most similar other rows (see the module docs), with the default blocking.
/// Panics when the set has more than `u32::MAX` rows.
pub fn nearest(set: &EmbeddingSet, k: usize) -> Neighbors {
    nearest_blocked(set, k, Blocking::default())
}

/// [`nearest`] with explicit tile sizes (0 is taken as 1); the result does not depend on them.
pub fn nearest_blocked(set: &EmbeddingSet, k: usize, blocking: Blocking) -> Neighbors {
    let n = set.len();
    assert!(u32::try_from(n).is_ok(), "more than u32::MAX embeddings");
    let k = k.min(n.saturating_sub(1));
    let mut indices = vec![0u32; n * k];
    let mut similarities = vec![0f32; n * k];
    if k == 0 {
        return Neighbors {
            k,
            indices,
            similarities,
        };
    }
    let (qb, bb) = (blocking.query.clamp(1, n), blocking.base.clamp(1, n));
    indices
        .par_chunks_mut(qb * k)
        .zip(similarities.par_chunks_mut(qb * k))
        .enumerate()
        .for_each_init(
            || vec![0f32; qb * bb],
            |tile, (block, (idx_out, sim_out))| {
                let q0 = block * qb;
                let tops = search_block(set, q0..(q0 + qb).min(n), k, bb, tile);
                for (r, top) in tops.iter().enumerate() {
                    for (c, &(s, j)) in top.items().iter().enumerate() {
                        idx_out[r * k + c] = j;
                        sim_out[r * k + c] = s;
                    }
                }
            },
        );
    Neighbors {
        k,
        indices,
        similarities,
    }
}

/// The top-k of each row in `queries` over all rows, base block by base block.
fn search_block(
    set: &EmbeddingSet,
    queries: std::ops::Range<usize>,
    k: usize,
    bb: usize,
    tile: &mut [f32],
) -> Vec<TopK> {
    let n = set.len();
    let mut tops: Vec<TopK> = queries.clone().map(|_| TopK::new(k)).collect();
    for b0 in (0..n).step_by(bb) {
        let base = b0..(b0 + bb).min(n);
        let width = base.len();
        similarity_tile(set, queries.clone(), base, tile);
        for (r, top) in tops.iter_mut().enumerate() {
            let i = queries.start + r;
            let mut floor = top.floor();
            for (c, &s) in tile[r * width..(r + 1) * width].iter().enumerate() {
                // `>=` lets an equal similarity through to the index tie-break, NEAR_ONE a
                // duplicate that snaps to 1 above the floor, NaN the total order.
                if s >= floor || s >= NEAR_ONE || s.is_nan() {
                    let j = b0 + c;
                    if j != i {
                        top.offer(snap(set, i, j, s), j as u32);
                        floor = top.floor();
                    }
                }
            }
        }
    }
    tops
}

/// The dot product `s` of rows `i` and `j` with duplicates made exactly 1 (see module docs).
#[inline]
fn snap(set: &EmbeddingSet, i: usize, j: usize, s: f32) -> f32 {
    if s < NEAR_ONE {
        return s;
    }
    let identical = set
        .row(i)
        .iter()
        .zip(set.row(j))
        .all(|(a, b)| a.to_bits() == b.to_bits());
    if identical { 1.0 } else { s.min(BELOW_ONE) }
}

/// `tile[r·|base| + c] = row(queries[r]) · row(base[c])`.
fn similarity_tile(
    set: &EmbeddingSet,
    queries: std::ops::Range<usize>,
    base: std::ops::Range<usize>,
    tile: &mut [f32],
) {
    let d = set.dim;
    let (m, w) = (queries.len(), base.len());
    let a = &set.values[queries.start * d..queries.end * d];
    let b = &set.values[base.start * d..base.end * d];
    let c = &mut tile[..m * w];
    // SAFETY: `a` holds m rows of d (row stride d), `b` read as a d × w matrix with row stride 1
    // and column stride d covers its w rows of d, and `c` holds m × w values with row stride w;
    // all three are valid for the call and `c` does not alias them.
    unsafe {
        matrixmultiply::sgemm(
            m,
            d,
            w,
            1.0,
            a.as_ptr(),
            d as isize,
            1,
            b.as_ptr(),
            1,
            d as isize,
            0.0,
            c.as_mut_ptr(),
            w as isize,
            1,
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::embedding::synth::gaussian_unit_rows;

    /// O(n²) reference: f64 dot products, identical rows at exactly 1, sorted by the same total
    /// order.
    fn naive(set: &EmbeddingSet, k: usize) -> Vec<Vec<(f64, u32)>> {
        let n = set.len();
        (0..n)
            .map(|i| {
                let mut all: Vec<(f64, u32)> = (0..n)
                    .filter(|&j| j != i)
                    .map(|j| {
                        let same = set.row(i) == set.row(j);
                        let dot = set.row(i).iter().zip(set.row(j));
                        let s = dot.map(|(a, b)| f64::from(*a) * f64::from(*b)).sum();
                        (if same { 1.0 } else { s }, j as u32)
                    })
                    .collect();
                all.sort_by(|a, b| b.0.total_cmp(&a.0).then(a.1.cmp(&b.1)));
                all.truncate(k.min(n.saturating_sub(1)));
                all
            })
            .collect()
    }

    /// Random unit rows where every third row of the second half copies a row of the first fifth.
    fn with_duplicates(n: usize, d: usize, seed: u64) -> EmbeddingSet {
        let mut set = gaussian_unit_rows(n, d, seed);
        for i in (n / 2..n).step_by(3) {
            let src = set.row(i / 5).to_vec();
            set.values[i * d..(i + 1) * d].copy_from_slice(&src);
        }
        set
    }

    #[test]
    fn matches_the_naive_search() {
        for (n, d, k) in [
            (1, 4, 3),
            (2, 3, 1),
            (5, 8, 10),
            (37, 16, 5),
            (130, 7, 12),
            (301, 64, 10),
            (64, 1, 4),
        ] {
            let set = with_duplicates(n, d, (n * 31 + d) as u64);
            let got = nearest_blocked(
                &set,
                k,
                Blocking {
                    query: 16,
                    base: 48,
                },
            );
            let want = naive(&set, k);
            assert_eq!(got.k, k.min(n - 1), "n {n} d {d} k {k}");
            assert_eq!(got.len(), if got.k == 0 { 0 } else { n });
            for (i, want) in want.iter().enumerate().filter(|_| got.k > 0) {
                let sims = got.similarities_of(i);
                assert!(sims.windows(2).all(|w| w[0] >= w[1]), "row {i}: {sims:?}");
                for (c, &(s, j)) in want.iter().enumerate() {
                    assert!((f64::from(sims[c]) - s).abs() < 1e-5, "n {n} d {d} row {i}");
                    // d = 1: every similarity is ±1, so only the similarities are compared.
                    if d > 1 {
                        assert_eq!(
                            got.indices_of(i)[c],
                            j,
                            "n {n} d {d} k {k} row {i} rank {c}"
                        );
                    }
                }
            }
        }
    }

    #[test]
    fn duplicates_have_similarity_one_and_come_first() {
        let mut set = gaussian_unit_rows(20, 12, 9);
        let row3 = set.row(3).to_vec();
        for i in [8, 15] {
            set.values[i * 12..(i + 1) * 12].copy_from_slice(&row3);
        }
        let nb = nearest(&set, 3);
        assert_eq!(nb.indices_of(8)[..2], [3, 15]);
        assert_eq!(nb.similarities_of(8)[..2], [1.0, 1.0]);
        assert_eq!(nb.indices_of(3)[..2], [8, 15]);
        assert!(nb.similarities_of(0).iter().all(|&s| s < 1.0));
    }

    #[test]
    fn result_is_independent_of_blocking_and_threads() {
        let set = with_duplicates(257, 33, 4);
        let reference = nearest_blocked(&set, 7, Blocking { query: 1, base: 1 });
        for (query, base) in [(3, 5), (16, 300), (64, 64), (257, 257), (1000, 7), (0, 0)] {
            let got = nearest_blocked(&set, 7, Blocking { query, base });
            assert_eq!(got, reference, "blocking {query} × {base}");
        }
        let one = rayon::ThreadPoolBuilder::new()
            .num_threads(1)
            .build()
            .unwrap();
        assert_eq!(one.install(|| nearest(&set, 7)), reference);
        let three = rayon::ThreadPoolBuilder::new()
            .num_threads(3)
            .build()
            .unwrap();
        assert_eq!(three.install(|| nearest(&set, 7)), reference);
    }

    #[test]
    fn empty_and_single_sets_have_no_neighbours() {
        let empty = EmbeddingSet::new(4, vec![]).unwrap();
        assert!(nearest(&empty, 5).is_empty());
        let one = gaussian_unit_rows(1, 4, 1);
        let nb = nearest(&one, 5);
        assert_eq!((nb.k, nb.len()), (0, 0));
    }
}
