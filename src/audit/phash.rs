//! The 64-bit perceptual hash (imagehash's `phash`, hash size 8): the gray image shrunk to
//! 32×32 (Lanczos), a 2-D DCT-II, the top-left 8×8 coefficients compared with their median;
//! bits row-major, most significant first. Near-duplicate images have hashes a small Hamming
//! distance apart.

use std::sync::LazyLock;

/// `cos(π·k·(2n+1)/64)` for k, n in 0..32.
static COS: LazyLock<Vec<f64>> = LazyLock::new(|| {
    let mut t = vec![0.0; 32 * 32];
    for k in 0..32 {
        for n in 0..32 {
            t[k * 32 + n] = (std::f64::consts::PI * k as f64 * (2 * n + 1) as f64 / 64.0).cos();
        }
    }
    t
});

/// pHash of a gray image of `w × h`.
pub fn phash(gray: &[u8], w: usize, h: usize) -> u64 {
    let img = image::GrayImage::from_raw(w as u32, h as u32, gray.to_vec()).expect("gray size");
    let small = image::imageops::resize(&img, 32, 32, image::imageops::FilterType::Lanczos3);
    let px: Vec<f64> = small.into_raw().into_iter().map(|v| v as f64).collect();
    let cos = &*COS;
    // Rows (axis 0 in scipy is down the columns): first along y for each column, then along x;
    // only the 8 lowest frequencies of each pass are needed.
    let mut tmp = [0.0f64; 8 * 32]; // tmp[ky][x]
    for ky in 0..8 {
        for x in 0..32 {
            let mut s = 0.0;
            for y in 0..32 {
                s += px[y * 32 + x] * cos[ky * 32 + y];
            }
            tmp[ky * 32 + x] = s;
        }
    }
    let mut low = [0.0f64; 64];
    for ky in 0..8 {
        for kx in 0..8 {
            let mut s = 0.0;
            for x in 0..32 {
                s += tmp[ky * 32 + x] * cos[kx * 32 + x];
            }
            low[ky * 8 + kx] = s;
        }
    }
    let mut sorted = low;
    sorted.sort_by(|a, b| a.partial_cmp(b).unwrap_or(std::cmp::Ordering::Equal));
    let median = (sorted[31] + sorted[32]) / 2.0;
    low.iter()
        .fold(0u64, |acc, &v| (acc << 1) | (v > median) as u64)
}

/// Hamming distance between two hashes.
pub fn distance(a: u64, b: u64) -> u32 {
    (a ^ b).count_ones()
}

/// A BK-tree over 64-bit hashes with the Hamming metric: radius queries visit only subtrees
/// whose edge distance is within the radius of the query's distance to the node.
#[derive(Default)]
pub struct BkTree {
    nodes: Vec<BkNode>,
}

/// (hash, item, children as (distance, node index)).
type BkNode = (u64, usize, Vec<(u32, usize)>);

impl BkTree {
    /// An empty tree.
    pub fn new() -> Self {
        Self::default()
    }

    /// Insert `hash` for item `item`.
    pub fn insert(&mut self, hash: u64, item: usize) {
        if self.nodes.is_empty() {
            self.nodes.push((hash, item, Vec::new()));
            return;
        }
        let mut at = 0;
        loop {
            let d = distance(self.nodes[at].0, hash);
            match self.nodes[at].2.iter().find(|(cd, _)| *cd == d) {
                Some(&(_, child)) => at = child,
                None => {
                    let idx = self.nodes.len();
                    self.nodes.push((hash, item, Vec::new()));
                    self.nodes[at].2.push((d, idx));
                    return;
                }
            }
        }
    }

    /// Items within `radius` of `hash`, with their distances.
    pub fn within(&self, hash: u64, radius: u32) -> Vec<(usize, u32)> {
        let mut out = Vec::new();
        if self.nodes.is_empty() {
            return out;
        }
        let mut stack = vec![0usize];
        while let Some(at) = stack.pop() {
            let (h, item, children) = &self.nodes[at];
            let d = distance(*h, hash);
            if d <= radius {
                out.push((*item, d));
            }
            for &(cd, child) in children {
                if cd + radius >= d && cd <= d + radius {
                    stack.push(child);
                }
            }
        }
        out
    }
}

/// Union-find over `n` items.
pub struct UnionFind {
    parent: Vec<usize>,
}

impl UnionFind {
    /// `n` singletons.
    pub fn new(n: usize) -> Self {
        Self {
            parent: (0..n).collect(),
        }
    }

    /// The representative of `i`.
    pub fn find(&mut self, mut i: usize) -> usize {
        while self.parent[i] != i {
            self.parent[i] = self.parent[self.parent[i]];
            i = self.parent[i];
        }
        i
    }

    /// Merge the sets of `a` and `b`.
    pub fn union(&mut self, a: usize, b: usize) {
        let (ra, rb) = (self.find(a), self.find(b));
        if ra != rb {
            self.parent[ra.max(rb)] = ra.min(rb);
        }
    }

    /// Groups of two or more items, each sorted, ordered by first member.
    pub fn groups(&mut self) -> Vec<Vec<usize>> {
        let n = self.parent.len();
        let mut by_root: std::collections::BTreeMap<usize, Vec<usize>> =
            std::collections::BTreeMap::new();
        for i in 0..n {
            let r = self.find(i);
            by_root.entry(r).or_default().push(i);
        }
        by_root.into_values().filter(|g| g.len() > 1).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::util::rng::{Domain, Stream};

    #[test]
    fn bk_tree_finds_exactly_the_brute_force_neighbours() {
        let mut rng = Stream::new(Domain::Split, &[5]);
        let base: Vec<u64> = (0..50).map(|_| rng.next_u64()).collect();
        let mut hashes = Vec::new();
        for &b in &base {
            hashes.push(b);
            for _ in 0..3 {
                hashes.push(b ^ (1u64 << rng.below(64)) ^ (1u64 << rng.below(64)));
            }
        }
        let mut tree = BkTree::new();
        for (i, &h) in hashes.iter().enumerate() {
            tree.insert(h, i);
        }
        for (i, &h) in hashes.iter().enumerate().step_by(7) {
            let mut got: Vec<usize> = tree.within(h, 4).into_iter().map(|(j, _)| j).collect();
            got.sort_unstable();
            let want: Vec<usize> = (0..hashes.len())
                .filter(|&j| distance(hashes[j], h) <= 4)
                .collect();
            assert_eq!(got, want, "query {i}");
        }
    }

    #[test]
    fn phash_is_stable_under_small_changes_and_differs_across_images() {
        let (w, h) = (64usize, 48usize);
        let img: Vec<u8> = (0..w * h)
            .map(|i| ((i % w) * 4 + (i / w) * 2) as u8 ^ ((i * 7 % 13) as u8))
            .collect();
        let brighter: Vec<u8> = img.iter().map(|v| v.saturating_add(6)).collect();
        let other: Vec<u8> = (0..w * h)
            .map(|i| (crate::util::rng::pixel_hash(3, i as u32) >> 24) as u8)
            .collect();
        let (a, b, c) = (
            phash(&img, w, h),
            phash(&brighter, w, h),
            phash(&other, w, h),
        );
        assert!(distance(a, b) <= 4, "{}", distance(a, b));
        assert!(distance(a, c) > 10, "{}", distance(a, c));
    }

    #[test]
    fn union_find_groups() {
        let mut uf = UnionFind::new(6);
        uf.union(0, 3);
        uf.union(3, 5);
        uf.union(1, 2);
        assert_eq!(uf.groups(), vec![vec![0, 3, 5], vec![1, 2]]);
    }
}
