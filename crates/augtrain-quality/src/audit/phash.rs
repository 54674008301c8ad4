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

/// Multi-index hashing (Norouzi et al.): a 64-bit hash is cut into `radius + 1` chunks, so two
/// hashes within `radius` of each other agree exactly on at least one chunk (pigeonhole).
/// Candidates come from exact chunk lookups and are verified on the full distance: near-linear
/// in practice, and exact.
pub struct MultiIndex {
    radius: u32,
    chunks: Vec<(u32, u32)>, // (shift, width)
    tables: Vec<std::collections::HashMap<u64, Vec<usize>>>,
    hashes: Vec<u64>,
}

impl MultiIndex {
    /// An index over `hashes` for queries within `radius` (0..=63).
    pub fn new(hashes: &[u64], radius: u32) -> Self {
        let m = (radius + 1).min(64);
        let mut chunks = Vec::with_capacity(m as usize);
        let mut shift = 0;
        for c in 0..m {
            let width = 64 / m + u32::from(c < 64 % m);
            chunks.push((shift, width));
            shift += width;
        }
        let mut tables = vec![std::collections::HashMap::new(); m as usize];
        for (i, &h) in hashes.iter().enumerate() {
            for (t, &(s, w)) in tables.iter_mut().zip(&chunks) {
                t.entry(chunk(h, s, w)).or_insert_with(Vec::new).push(i);
            }
        }
        Self {
            radius,
            chunks,
            tables,
            hashes: hashes.to_vec(),
        }
    }

    /// Every `(j, distance)` with `distance(hashes[i], hashes[j]) <= radius`, `j != i`.
    /// `seen` is scratch space reused across queries (one per thread).
    pub fn neighbours(&self, i: usize, seen: &mut Seen) -> Vec<(usize, u32)> {
        let h = self.hashes[i];
        let mut out = Vec::new();
        seen.next(self.hashes.len());
        for (t, &(s, w)) in self.tables.iter().zip(&self.chunks) {
            if let Some(bucket) = t.get(&chunk(h, s, w)) {
                for &j in bucket {
                    if j != i && seen.first_visit(j) {
                        let d = distance(h, self.hashes[j]);
                        if d <= self.radius {
                            out.push((j, d));
                        }
                    }
                }
            }
        }
        out
    }
}

/// Per-query visited marks without clearing: a stamp per item, bumped per query.
#[derive(Default)]
pub struct Seen {
    stamp: u32,
    marks: Vec<u32>,
}

impl Seen {
    fn next(&mut self, n: usize) {
        if self.marks.len() < n {
            self.marks.resize(n, 0);
        }
        self.stamp = self.stamp.wrapping_add(1);
        if self.stamp == 0 {
            self.marks.iter_mut().for_each(|m| *m = 0);
            self.stamp = 1;
        }
    }

    fn first_visit(&mut self, j: usize) -> bool {
        let fresh = self.marks[j] != self.stamp;
        self.marks[j] = self.stamp;
        fresh
    }
}

fn chunk(h: u64, shift: u32, width: u32) -> u64 {
    if width >= 64 {
        h
    } else {
        (h >> shift) & ((1u64 << width) - 1)
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
    use augtrain_data::util::rng::{Domain, Stream};

    #[test]
    fn phash_is_stable_under_small_changes_and_differs_across_images() {
        let (w, h) = (64usize, 48usize);
        let img: Vec<u8> = (0..w * h)
            .map(|i| ((i % w) * 4 + (i / w) * 2) as u8 ^ ((i * 7 % 13) as u8))
            .collect();
        let brighter: Vec<u8> = img.iter().map(|v| v.saturating_add(6)).collect();
        let other: Vec<u8> = (0..w * h)
            .map(|i| (augtrain_data::util::rng::pixel_hash(3, i as u32) >> 24) as u8)
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
    fn multi_index_finds_exactly_the_brute_force_neighbours() {
        let mut rng = Stream::new(Domain::Split, &[9]);
        let base: Vec<u64> = (0..40).map(|_| rng.next_u64()).collect();
        let mut hashes = Vec::new();
        for &b in &base {
            hashes.push(b);
            for k in 0..4 {
                let mut h = b;
                for _ in 0..=k {
                    h ^= 1u64 << rng.below(64);
                }
                hashes.push(h);
            }
        }
        for radius in [0, 3, 4, 7] {
            let index = MultiIndex::new(&hashes, radius);
            let mut seen = Seen::default();
            for i in 0..hashes.len() {
                let mut got: Vec<usize> = index
                    .neighbours(i, &mut seen)
                    .into_iter()
                    .map(|(j, _)| j)
                    .collect();
                got.sort_unstable();
                let want: Vec<usize> = (0..hashes.len())
                    .filter(|&j| j != i && distance(hashes[i], hashes[j]) <= radius)
                    .collect();
                assert_eq!(got, want, "radius {radius}, item {i}");
            }
        }
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
