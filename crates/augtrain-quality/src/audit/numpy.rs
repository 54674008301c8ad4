//! The two numpy primitives whose exact behaviour decides cleanlab's output: `np.sum` (pairwise
//! summation) and the default `np.argsort` (not stable: ties come out in an order that depends
//! on the sorting algorithm).
//!
//! cleanlab 2.9 calls `np.argsort` with the default `kind="quicksort"`. On x86-64 with AVX-512
//! (the machines augtrain's reference data were computed on), numpy ≥ 2.0 runs that as Intel's
//! x86-simd-sort: an early exit for input that is already sorted, bitonic sorting networks over
//! 8-lane registers for up to 256 elements, and above that a quicksort whose pivot is the median
//! of 8 samples and whose partition compresses each register's lanes in order. [`argsort`] is a
//! scalar emulation of exactly that, so equal keys come out in numpy's order; it was checked
//! against numpy 2.4 on thousands of random arrays full of ties, 2 to 10 000 elements
//! (`tests/fixtures/make_fixtures.py` writes the cases `numpy_argsort.json` replays).
//!
//! Limits, where numpy itself depends on the machine: on CPUs without AVX-512 numpy uses other
//! networks (AVX2) or its own introsort, so cleanlab's choice among exact ties differs between
//! machines; and when quicksort recursion exceeds `2·⌊log2 n⌋` levels x86-simd-sort switches to
//! `std::sort`, which this emulation replaces by a stable sort (not observed in testing). Input
//! must not hold NaN (numpy then sorts with `std::sort` too).

/// Lanes of an AVX-512 register of 64-bit values.
const LANES: usize = 8;
/// Arrays up to this length are sorted by the bitonic networks alone.
const NETWORK_MAX: usize = 256;
/// Registers processed per iteration of the unrolled partition.
const UNROLL: usize = 4;

/// `np.sum` of a contiguous float64 array: pairwise summation with 8 accumulators over blocks
/// of at most 128 values, exactly as numpy adds (results can differ from a left-to-right sum in
/// the last bit).
pub fn sum(values: &[f64]) -> f64 {
    0.0 + pairwise(values)
}

fn pairwise(a: &[f64]) -> f64 {
    let n = a.len();
    if n < 8 {
        a.iter().fold(-0.0, |s, v| s + v)
    } else if n <= 128 {
        let mut r = [0.0; 8];
        r.copy_from_slice(&a[..8]);
        let whole = n - n % 8;
        for block in a[8..whole].chunks_exact(8) {
            for (acc, v) in r.iter_mut().zip(block) {
                *acc += v;
            }
        }
        let mut res = ((r[0] + r[1]) + (r[2] + r[3])) + ((r[4] + r[5]) + (r[6] + r[7]));
        for v in &a[whole..] {
            res += v;
        }
        res
    } else {
        let half = n / 2;
        let half = half - half % 8;
        pairwise(&a[..half]) + pairwise(&a[half..])
    }
}

/// `np.argsort(values)` (default kind) as numpy computes it on x86-64 with AVX-512: the indices
/// that sort `values` ascending, ties in numpy's order (see the module docs).
pub fn argsort(values: &[f64]) -> Vec<usize> {
    let n = values.len();
    let mut arg: Vec<usize> = (0..n).collect();
    if n <= 1 || values.windows(2).all(|w| w[0] <= w[1]) {
        return arg;
    }
    if values.iter().any(|v| v.is_nan()) {
        stable_sort(values, &mut arg);
        return arg;
    }
    let max_iters = 2 * (n as f64).log2() as usize;
    sort_range(values, &mut arg, 0, n - 1, max_iters);
    arg
}

fn stable_sort(values: &[f64], arg: &mut [usize]) {
    arg.sort_by(|&a, &b| values[a].total_cmp(&values[b]));
}

/// Quicksort of `arg[left..=right]` by `values`, networks below [`NETWORK_MAX`].
fn sort_range(values: &[f64], arg: &mut [usize], left: usize, right: usize, max_iters: usize) {
    if max_iters == 0 {
        stable_sort(values, &mut arg[left..=right]);
        return;
    }
    if right + 1 - left <= NETWORK_MAX {
        network_sort(values, &mut arg[left..=right]);
        return;
    }
    let pivot = median_of_8(values, arg, left, right);
    let mut range = (f64::INFINITY, f64::NEG_INFINITY);
    let p = partition_unrolled(values, arg, left, right + 1, pivot, &mut range);
    if pivot != range.0 {
        sort_range(values, arg, left, p - 1, max_iters - 1);
    }
    if pivot != range.1 {
        sort_range(values, arg, p, right, max_iters - 1);
    }
}

fn median_of_8(values: &[f64], arg: &[usize], left: usize, right: usize) -> f64 {
    if right - left < LANES {
        return values[arg[right]];
    }
    let size = (right - left) / 8;
    let mut samples: Vec<f64> = (1..=8).map(|k| values[arg[left + k * size]]).collect();
    samples.sort_by(f64::total_cmp);
    samples[4]
}

/// One register's worth of `arg` and the keys it points at.
#[derive(Clone, Copy)]
struct Reg {
    key: [f64; LANES],
    idx: [usize; LANES],
}

impl Reg {
    fn load(values: &[f64], arg: &[usize], at: usize) -> Reg {
        let mut r = Reg {
            key: [f64::INFINITY; LANES],
            idx: [usize::MAX; LANES],
        };
        for l in 0..LANES {
            if let Some(&i) = arg.get(at + l) {
                r.idx[l] = i;
                r.key[l] = values[i];
            }
        }
        r
    }

    fn reversed(mut self) -> Reg {
        self.key.reverse();
        self.idx.reverse();
        self
    }

    /// `cmp_merge`: each lane takes the min (mask bit 0) or max (bit 1) of itself and its
    /// partner lane; the index follows the key, a tie keeps the lane's own index.
    fn cmp_merge(self, partner: fn(usize) -> usize, mask: u8) -> Reg {
        let mut out = self;
        for l in 0..LANES {
            let (a, b) = (self.key[l], self.key[partner(l)]);
            let t = if mask >> l & 1 == 1 {
                if b > a { b } else { a }
            } else if b < a {
                b
            } else {
                a
            };
            out.key[l] = t;
            out.idx[l] = if t == a {
                self.idx[l]
            } else {
                self.idx[partner(l)]
            };
        }
        out
    }

    /// `sort_reg_8lanes`: the bitonic network sorting one register.
    fn sorted(self) -> Reg {
        self.cmp_merge(rev2, 0xAA)
            .cmp_merge(rev4, 0xCC)
            .cmp_merge(swap2, 0xAA)
            .cmp_merge(rev8, 0xF0)
            .cmp_merge(swap4, 0xCC)
            .cmp_merge(swap2, 0xAA)
    }

    /// `bitonic_merge_reg_8lanes`: the half cleaners of one bitonic register.
    fn merged(self) -> Reg {
        self.cmp_merge(swap8, 0xF0)
            .cmp_merge(swap4, 0xCC)
            .cmp_merge(swap2, 0xAA)
    }
}

fn swap2(l: usize) -> usize {
    l ^ 1
}
fn swap4(l: usize) -> usize {
    l ^ 2
}
fn swap8(l: usize) -> usize {
    l ^ 4
}
fn rev2(l: usize) -> usize {
    l ^ 1
}
fn rev4(l: usize) -> usize {
    (l & !3) | (3 - (l & 3))
}
fn rev8(l: usize) -> usize {
    7 - l
}

/// `COEX` of two registers: lane-wise min into `a`, max into `b`, ties keep their lanes.
fn coex(regs: &mut [Reg], a: usize, b: usize) {
    let (x, y) = (regs[a], regs[b]);
    for l in 0..LANES {
        let (k1, k2) = (x.key[l], y.key[l]);
        let lo = if k1 < k2 { k1 } else { k2 };
        let hi = if k1 > k2 { k1 } else { k2 };
        let keep = lo == k1;
        regs[a].key[l] = lo;
        regs[b].key[l] = hi;
        regs[a].idx[l] = if keep { x.idx[l] } else { y.idx[l] };
        regs[b].idx[l] = if keep { y.idx[l] } else { x.idx[l] };
    }
}

/// `bitonic_merge_n_vec` over `regs` (a power of two of registers, each half sorted).
fn merge_registers(regs: &mut [Reg]) {
    let n = regs.len();
    for i in 0..n / 2 {
        let j = n - i - 1;
        regs[j] = regs[j].reversed();
        coex(regs, i, j);
        regs[j] = regs[j].reversed();
    }
    let mut num = n / 2;
    while num >= 2 {
        for j in (0..n).step_by(num) {
            for i in 0..num / 2 {
                coex(regs, i + j, i + j + num / 2);
            }
        }
        num /= 2;
    }
    for r in regs.iter_mut() {
        *r = r.merged();
    }
}

/// `argsort_n_vec`: sort up to [`NETWORK_MAX`] indices with the networks (padding with +inf).
fn network_sort(values: &[f64], arg: &mut [usize]) {
    let n = arg.len();
    let mut registers = NETWORK_MAX / LANES;
    while registers > 1 && n * 2 <= registers * LANES {
        registers /= 2;
    }
    let mut regs: Vec<Reg> = (0..registers)
        .map(|r| Reg::load(values, arg, r * LANES).sorted())
        .collect();
    let mut per = 2;
    while per <= registers {
        for group in regs.chunks_mut(per) {
            merge_registers(group);
        }
        per *= 2;
    }
    for (slot, i) in arg
        .iter_mut()
        .zip(regs.iter().flat_map(|r| r.idx.iter().copied()))
    {
        *slot = i;
    }
}

/// `partition_vec_avx512`: the register's indices with keys below the pivot go to
/// `arg[left..]`, the others to the end of `arg[..right]`, each in lane order. Returns how many
/// were not below.
fn partition_register(
    arg: &mut [usize],
    left: usize,
    right: usize,
    reg: &Reg,
    pivot: f64,
    range: &mut (f64, f64),
) -> usize {
    let high: Vec<usize> = (0..LANES).filter(|&l| reg.key[l] >= pivot).collect();
    for (at, l) in (left..).zip((0..LANES).filter(|&l| reg.key[l] < pivot)) {
        arg[at] = reg.idx[l];
    }
    for (k, &l) in high.iter().enumerate() {
        arg[right - high.len() + k] = reg.idx[l];
    }
    for &k in &reg.key {
        range.0 = range.0.min(k);
        range.1 = range.1.max(k);
    }
    high.len()
}

/// The scalar start of a partition: shortens `left..right` to a multiple of `modulo`.
fn partition_prelude(
    values: &[f64],
    arg: &mut [usize],
    mut left: usize,
    mut right: usize,
    pivot: f64,
    modulo: usize,
    range: &mut (f64, f64),
) -> (usize, usize) {
    for _ in 0..(right - left) % modulo {
        let v = values[arg[left]];
        if v < range.0 {
            range.0 = v;
        }
        if range.1 < v {
            range.1 = v;
        }
        if v < pivot {
            left += 1;
        } else {
            right -= 1;
            arg.swap(left, right);
        }
    }
    (left, right)
}

/// `argpartition`: partition `arg[left..right]` around `pivot`; returns the first index of the
/// upper part.
fn partition(
    values: &[f64],
    arg: &mut [usize],
    left: usize,
    right: usize,
    pivot: f64,
    range: &mut (f64, f64),
) -> usize {
    let (mut left, mut right) = partition_prelude(values, arg, left, right, pivot, LANES, range);
    if left == right {
        return left;
    }
    if right - left == LANES {
        let reg = Reg::load(values, arg, left);
        let high = partition_register(arg, left, left + LANES, &reg, pivot, range);
        return left + LANES - high;
    }
    let first = Reg::load(values, arg, left);
    let last = Reg::load(values, arg, right - LANES);
    let (mut l_store, mut r_store) = (left, right - LANES);
    left += LANES;
    right -= LANES;
    while right != left {
        let reg = if (r_store + LANES) - right < left - l_store {
            right -= LANES;
            Reg::load(values, arg, right)
        } else {
            left += LANES;
            Reg::load(values, arg, left - LANES)
        };
        let high = partition_register(arg, l_store, r_store + LANES, &reg, pivot, range);
        r_store -= high;
        l_store += LANES - high;
    }
    let high = partition_register(arg, l_store, r_store + LANES, &first, pivot, range);
    l_store += LANES - high;
    let high = partition_register(arg, l_store, l_store + LANES, &last, pivot, range);
    l_store + LANES - high
}

/// `argpartition_unrolled` with 4 registers per step (plain [`partition`] up to 256 elements).
fn partition_unrolled(
    values: &[f64],
    arg: &mut [usize],
    left: usize,
    right: usize,
    pivot: f64,
    range: &mut (f64, f64),
) -> usize {
    let step = UNROLL * LANES;
    if right - left <= 8 * step {
        return partition(values, arg, left, right, pivot, range);
    }
    let (mut left, mut right) = partition_prelude(values, arg, left, right, pivot, step, range);
    if left == right {
        return left;
    }
    let held: Vec<Reg> = (0..UNROLL)
        .map(|k| Reg::load(values, arg, left + LANES * k))
        .chain((0..UNROLL).map(|k| Reg::load(values, arg, right - LANES * (UNROLL - k))))
        .collect();
    let (mut l_store, mut r_store) = (left, right - LANES);
    left += step;
    right -= step;
    while right != left {
        let from = if (r_store + LANES) - right < left - l_store {
            right -= step;
            right
        } else {
            left += step;
            left - step
        };
        let regs: Vec<Reg> = (0..UNROLL)
            .map(|k| Reg::load(values, arg, from + k * LANES))
            .collect();
        for reg in &regs {
            let high = partition_register(arg, l_store, r_store + LANES, reg, pivot, range);
            l_store += LANES - high;
            r_store -= high;
        }
    }
    for reg in &held {
        let high = partition_register(arg, l_store, r_store + LANES, reg, pivot, range);
        l_store += LANES - high;
        r_store -= high;
    }
    l_store
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ties_come_out_in_numpys_order() {
        // cleanlab's round_preserving_sum on row 2 of the CIFAR-10 test set's calibrated
        // confident joint: indices 0 and 5 tie; numpy (AVX-512) puts 5 first.
        let d = [
            0.4742729306487705,
            0.0,
            0.32438478747224053,
            -0.2885906040268438,
            -0.05145413870245896,
            0.4742729306487705,
            -0.4071588366890371,
            0.23713646532438526,
            0.23713646532438526,
            0.0,
        ];
        assert_eq!(argsort(&d), vec![6, 3, 4, 1, 9, 7, 8, 2, 5, 0]);
    }

    #[test]
    fn sorted_input_and_tiny_input_keep_their_order() {
        assert_eq!(argsort(&[1.0, 1.0, 2.0]), vec![0, 1, 2]);
        assert_eq!(argsort(&[3.0]), vec![0]);
        assert!(argsort(&[]).is_empty());
    }

    /// numpy's own outputs (tests/fixtures/make_fixtures.py): every length class the
    /// emulation distinguishes, ties on purpose.
    #[test]
    fn matches_numpy_on_reference_arrays() {
        let cases: Vec<serde_json::Value> = serde_json::from_str(include_str!(
            "../../../../tests/fixtures/numpy_argsort.json"
        ))
        .unwrap();
        assert!(cases.len() >= 50);
        for (c, case) in cases.iter().enumerate() {
            let parse = |v: &serde_json::Value| v.as_str().unwrap().parse::<f64>().unwrap();
            let values: Vec<f64> = case["values"]
                .as_array()
                .unwrap()
                .iter()
                .map(parse)
                .collect();
            let expect: Vec<usize> = case["argsort"]
                .as_array()
                .unwrap()
                .iter()
                .map(|v| v.as_u64().unwrap() as usize)
                .collect();
            assert_eq!(
                argsort(&values),
                expect,
                "case {c}, {} values",
                values.len()
            );
            let s = parse(&case["sum"]);
            assert_eq!(sum(&values).to_bits(), s.to_bits(), "case {c} sum");
        }
    }
}
