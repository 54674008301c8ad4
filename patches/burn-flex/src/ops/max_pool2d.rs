//! Two-dimensional max pooling over NCHW planes (augtrain's patch; see `patches/README.md` in
//! augtrain's repository).
//!
//! The crate's `max_pool2d{,_with_indices}` view the input as 3-D and run the 3-D kernel, which
//! recomputes the valid window of all three axes for every output value and always writes
//! `i64` indices (also for `max_pool2d`, which drops them, and also when autodiff asks for
//! `i32` indices, which then cost a second cast pass). Here each `H×W` plane is pooled with the
//! row and column windows computed once per call, indices are written only when asked for and
//! directly in the requested integer type, and planes run in parallel (rayon) in blocks.
//!
//! Semantics are the 3-D kernel's: the window is clipped to the input (padding never wins),
//! the first maximum in row-major window order wins, a NaN replaces any value (so the last NaN
//! of a window is reported, as PyTorch does), an empty window gives `-inf` and index `-1`;
//! indices are positions within the `H×W` plane (`ih·W + iw`), as `max_pool2d_backward` reads.

use alloc::vec;
use alloc::vec::Vec;

use burn_backend::DType;
use burn_std::{Bytes, Shape};

use crate::ops::pool::{pool_output_size, valid_range_maxpool};
use crate::{FlexTensor, Layout};

/// A float element pooled natively.
pub(crate) trait PoolFloat:
    burn_std::Element + bytemuck::Pod + Copy + PartialOrd + Send + Sync
{
    /// `-inf`, the value of an empty window.
    const NEG_INF: Self;
    /// The dtype tag of tensors of this element.
    const DTYPE: DType;
    /// Whether the value is NaN.
    fn nan(self) -> bool;
}

impl PoolFloat for f32 {
    const NEG_INF: Self = f32::NEG_INFINITY;
    const DTYPE: DType = DType::F32;
    fn nan(self) -> bool {
        self.is_nan()
    }
}

impl PoolFloat for f64 {
    const NEG_INF: Self = f64::NEG_INFINITY;
    const DTYPE: DType = DType::F64;
    fn nan(self) -> bool {
        self.is_nan()
    }
}

/// An integer type indices are written in.
trait PoolIndex: bytemuck::Pod + Copy + Send + Sync {
    const DTYPE: DType;
    fn from_plane_offset(v: i64) -> Self;
}

impl PoolIndex for i64 {
    const DTYPE: DType = DType::I64;
    fn from_plane_offset(v: i64) -> Self {
        v
    }
}

impl PoolIndex for i32 {
    const DTYPE: DType = DType::I32;
    fn from_plane_offset(v: i64) -> Self {
        v as i32
    }
}

/// Pooling geometry of one plane: sizes, and the clipped window of every output row and column
/// as `(first input index, kernel offsets start..end)`.
struct Windows {
    in_h: usize,
    in_w: usize,
    out_h: usize,
    out_w: usize,
    dilation: [usize; 2],
    rows: Vec<(usize, usize, usize)>,
    cols: Vec<(usize, usize, usize)>,
    /// Every window is the full 2×2 block at `(2·oh, 2·ow)` (kernel 2, stride 2, dilation 1,
    /// no clipping): the common case, pooled by [`Windows::pool_pairs`].
    pairs: bool,
}

/// Whether every window of an axis is the full pair `2·o, 2·o + 1`.
fn full_pairs(axis: &[(usize, usize, usize)], kernel: usize, dilation: usize) -> bool {
    kernel == 2
        && dilation == 1
        && axis
            .iter()
            .enumerate()
            .all(|(o, &(first, k0, k1))| first == 2 * o && k0 == 0 && k1 == 2)
}

/// `best` replaced by `v` under the kernel's rule: larger, or NaN.
#[inline(always)]
fn wins<T: PoolFloat>(v: T, best: T) -> bool {
    v > best || v.nan()
}

impl Windows {
    fn new(
        in_hw: [usize; 2],
        kernel: [usize; 2],
        stride: [usize; 2],
        padding: [usize; 2],
        dilation: [usize; 2],
        ceil_mode: bool,
    ) -> Self {
        let axis = |a: usize| {
            let out = pool_output_size(
                in_hw[a],
                kernel[a],
                padding[a],
                stride[a],
                dilation[a],
                ceil_mode,
            );
            (0..out)
                .map(|o| {
                    let (k0, k1) = valid_range_maxpool(
                        o,
                        kernel[a],
                        stride[a],
                        padding[a],
                        dilation[a],
                        in_hw[a],
                    );
                    // `valid_range` guarantees `o·stride + k0·dilation ≥ padding` when k0 < k1.
                    let first = (o * stride[a] + k0 * dilation[a]).saturating_sub(padding[a]);
                    (first, k0, k1)
                })
                .collect::<Vec<_>>()
        };
        let (rows, cols) = (axis(0), axis(1));
        let pairs =
            full_pairs(&rows, kernel[0], dilation[0]) && full_pairs(&cols, kernel[1], dilation[1]);
        Self {
            in_h: in_hw[0],
            in_w: in_hw[1],
            out_h: rows.len(),
            out_w: cols.len(),
            dilation,
            rows,
            cols,
            pairs,
        }
    }

    /// [`Windows::pool`] for 2×2 windows at stride 2: the same comparisons in the same order
    /// (top-left, top-right, bottom-left, bottom-right), without the window bookkeeping.
    fn pool_pairs<T: PoolFloat, I: PoolIndex>(
        &self,
        x: &[T],
        out: &mut [T],
        idx: Option<&mut [I]>,
    ) {
        let (w, ow_n) = (self.in_w, self.out_w);
        let rows = out.chunks_exact_mut(ow_n).enumerate();
        match idx {
            None => {
                for (oh, o) in rows {
                    let (top, bottom) = (&x[2 * oh * w..][..w], &x[(2 * oh + 1) * w..][..w]);
                    for (ow, o) in o.iter_mut().enumerate() {
                        let mut best = top[2 * ow];
                        for v in [top[2 * ow + 1], bottom[2 * ow], bottom[2 * ow + 1]] {
                            best = if wins(v, best) { v } else { best };
                        }
                        *o = best;
                    }
                }
            }
            Some(idx) => {
                for ((oh, o), i) in rows.zip(idx.chunks_exact_mut(ow_n)) {
                    let (t0, b0) = (2 * oh * w, (2 * oh + 1) * w);
                    for (ow, (o, i)) in o.iter_mut().zip(i.iter_mut()).enumerate() {
                        let (mut best, mut at) = (x[t0 + 2 * ow], t0 + 2 * ow);
                        for p in [t0 + 2 * ow + 1, b0 + 2 * ow, b0 + 2 * ow + 1] {
                            if wins(x[p], best) {
                                (best, at) = (x[p], p);
                            }
                        }
                        *o = best;
                        *i = I::from_plane_offset(at as i64);
                    }
                }
            }
        }
    }

    /// Pools one plane separably (windows other than 2×2 pairs): each input row's maximum
    /// over every output column's window (and its column) into `scratch`, then each output the
    /// maximum over its window's rows of those. The same value and index as a row-major scan
    /// of the window: within a row the first maximum is kept and a NaN replaces anything, and
    /// a later row replaces the kept value only when it is larger or NaN, so the result is the
    /// first maximum in row-major order or the last NaN; an empty window gives `-inf` and `-1`.
    fn pool_separable<T: PoolFloat, I: PoolIndex>(
        &self,
        x: &[T],
        out: &mut [T],
        idx: Option<&mut [I]>,
        scratch: &mut Scratch<T>,
    ) {
        let [dh, dw] = self.dilation;
        let ow_n = self.out_w;
        let indexed = idx.is_some();
        scratch.maxima.resize(self.in_h * ow_n, T::NEG_INF);
        scratch
            .columns
            .resize(if indexed { self.in_h * ow_n } else { 0 }, 0);
        for (ih, line) in x.chunks_exact(self.in_w).enumerate() {
            let maxima = &mut scratch.maxima[ih * ow_n..][..ow_n];
            for (o, &(iw0, c0, c1)) in self.cols.iter().enumerate() {
                let count = c1.saturating_sub(c0);
                let (mut best, mut at) = (T::NEG_INF, EMPTY);
                if count > 0 {
                    (best, at) = (line[iw0], iw0);
                    for c in 1..count {
                        let v = line[iw0 + c * dw];
                        if wins(v, best) {
                            (best, at) = (v, iw0 + c * dw);
                        }
                    }
                }
                maxima[o] = best;
                if indexed {
                    scratch.columns[ih * ow_n + o] = at;
                }
            }
        }
        let (maxima, columns) = (&scratch.maxima, &scratch.columns);
        match idx {
            None => {
                for (o, &(ih0, r0, r1)) in out.chunks_exact_mut(ow_n).zip(&self.rows) {
                    o.fill(T::NEG_INF);
                    for r in 0..r1.saturating_sub(r0) {
                        let row = &maxima[(ih0 + r * dh) * ow_n..][..ow_n];
                        if r == 0 {
                            o.copy_from_slice(row);
                            continue;
                        }
                        for (best, &v) in o.iter_mut().zip(row) {
                            *best = if wins(v, *best) { v } else { *best };
                        }
                    }
                }
            }
            Some(idx) => {
                let rows = out.chunks_exact_mut(ow_n).zip(idx.chunks_exact_mut(ow_n));
                for ((o, i), &(ih0, r0, r1)) in rows.zip(&self.rows) {
                    for (ow, (o, i)) in o.iter_mut().zip(i.iter_mut()).enumerate() {
                        let (mut best, mut at) = (T::NEG_INF, -1i64);
                        for r in 0..r1.saturating_sub(r0) {
                            let ih = ih0 + r * dh;
                            let v = maxima[ih * ow_n + ow];
                            let column = columns[ih * ow_n + ow];
                            if column != EMPTY && (r == 0 || wins(v, best)) {
                                (best, at) = (v, (ih * self.in_w + column) as i64);
                            }
                        }
                        *o = best;
                        *i = I::from_plane_offset(at);
                    }
                }
            }
        }
    }

    /// Pools one plane: `out[oh·out_w + ow]` and, if given, its index.
    fn pool<T: PoolFloat, I: PoolIndex>(
        &self,
        x: &[T],
        out: &mut [T],
        idx: Option<&mut [I]>,
        scratch: &mut Scratch<T>,
    ) {
        if self.pairs {
            self.pool_pairs(x, out, idx)
        } else {
            self.pool_separable(x, out, idx, scratch)
        }
    }
}

/// The column of an empty window in [`Scratch::columns`].
const EMPTY: usize = usize::MAX;

/// A worker's buffers for [`Windows::pool_separable`]: per input row and output column, the
/// window's maximum and (when indices are asked for) its column.
struct Scratch<T> {
    maxima: Vec<T>,
    columns: Vec<usize>,
}

impl<T> Default for Scratch<T> {
    fn default() -> Self {
        Self {
            maxima: Vec::new(),
            columns: Vec::new(),
        }
    }
}

/// Planes of `n` values pooled per rayon task: at least ~16 K input values of work.
fn planes_per_task(plane_in: usize) -> usize {
    (16 * 1024 / plane_in.max(1)).max(1)
}

/// Pools every plane of `x` (`[N, C, H, W]` contiguous) into `out` and optionally `idx`.
fn pool_planes<T: PoolFloat, I: PoolIndex>(
    x: &[T],
    plane_in: usize,
    w: &Windows,
    out: &mut [T],
    idx: Option<&mut [I]>,
) {
    let plane_out = w.out_h * w.out_w;
    if plane_out == 0 {
        return;
    }
    #[cfg(feature = "rayon")]
    if x.len() >= crate::ops::PARALLEL_THRESHOLD {
        use rayon::prelude::*;
        let block = planes_per_task(plane_in);
        let outs = out.par_chunks_mut(plane_out * block);
        let start = |b: usize, p: usize| (b * block + p) * plane_in;
        match idx {
            Some(idx) => outs
                .zip(idx.par_chunks_mut(plane_out * block))
                .enumerate()
                .for_each_init(Scratch::default, |scratch, (b, (o, i))| {
                    let planes = o.chunks_mut(plane_out).zip(i.chunks_mut(plane_out));
                    for (p, (o, i)) in planes.enumerate() {
                        let x = &x[start(b, p)..start(b, p) + plane_in];
                        w.pool(x, o, Some(i), scratch);
                    }
                }),
            None => outs
                .enumerate()
                .for_each_init(Scratch::default, |scratch, (b, o)| {
                    for (p, o) in o.chunks_mut(plane_out).enumerate() {
                        let x = &x[start(b, p)..start(b, p) + plane_in];
                        w.pool::<T, I>(x, o, None, scratch);
                    }
                }),
        }
        return;
    }
    let planes = x.chunks(plane_in.max(1)).zip(out.chunks_mut(plane_out));
    let mut scratch = Scratch::default();
    match idx {
        Some(idx) => {
            for ((xp, o), i) in planes.zip(idx.chunks_mut(plane_out)) {
                w.pool(xp, o, Some(i), &mut scratch);
            }
        }
        None => {
            for (xp, o) in planes {
                w.pool::<T, I>(xp, o, None, &mut scratch);
            }
        }
    }
}

/// Max pooling of a `[N, C, H, W]` tensor; indices (plane offsets) in `indices` when asked for:
/// `Some(DType::I32)` (when every plane offset fits) or `Some(DType::I64)`; other index types
/// come back as `I64` for the caller to cast.
pub(crate) fn max_pool2d<T: PoolFloat>(
    x: FlexTensor,
    kernel: [usize; 2],
    stride: [usize; 2],
    padding: [usize; 2],
    dilation: [usize; 2],
    ceil_mode: bool,
    indices: Option<DType>,
) -> (FlexTensor, Option<FlexTensor>) {
    let x = x.to_contiguous();
    let shape = x.layout().shape();
    let (n, c, h, wd) = (shape[0], shape[1], shape[2], shape[3]);
    let w = Windows::new([h, wd], kernel, stride, padding, dilation, ceil_mode);
    let out_shape = Shape::from(vec![n, c, w.out_h, w.out_w]);
    let len = n * c * w.out_h * w.out_w;
    let xs: &[T] = x.storage();
    let mut out = vec![T::NEG_INF; len];
    let small_plane = h * wd <= i32::MAX as usize;
    let idx = match indices {
        None => {
            pool_planes::<T, i64>(xs, h * wd, &w, &mut out, None);
            None
        }
        Some(DType::I32) if small_plane => {
            Some(pooled_indices::<T, i32>(xs, h * wd, &w, &mut out, len))
        }
        Some(_) => Some(pooled_indices::<T, i64>(xs, h * wd, &w, &mut out, len)),
    };
    let out = FlexTensor::new(
        Bytes::from_elems(out),
        Layout::contiguous(out_shape.clone()),
        T::DTYPE,
    );
    let idx = idx
        .map(|(bytes, dtype)| FlexTensor::new(bytes, Layout::contiguous(out_shape.clone()), dtype));
    (out, idx)
}

/// Pools with indices of type `I`: the indices' bytes and dtype.
fn pooled_indices<T: PoolFloat, I: PoolIndex>(
    xs: &[T],
    plane_in: usize,
    w: &Windows,
    out: &mut [T],
    len: usize,
) -> (Bytes, DType) {
    let mut idx = vec![I::from_plane_offset(-1); len];
    pool_planes(xs, plane_in, w, out, Some(&mut idx));
    (Bytes::from_elems(idx), I::DTYPE)
}

#[cfg(test)]
mod tests {
    use alloc::vec;
    use alloc::vec::Vec;

    use super::{Scratch, Windows};

    /// The row-major scan of each window (the 3-D kernel's rule, as the path before the
    /// separable one computed it): value and plane offset of every output.
    fn scan(w: &Windows, x: &[f32]) -> (Vec<f32>, Vec<i64>) {
        let [dh, dw] = w.dilation;
        let (mut out, mut idx) = (vec![], vec![]);
        for &(ih0, r0, r1) in &w.rows {
            for &(iw0, c0, c1) in &w.cols {
                let (mut best, mut at) = (f32::NEG_INFINITY, -1i64);
                for r in 0..r1.saturating_sub(r0) {
                    for c in 0..c1.saturating_sub(c0) {
                        let pos = (ih0 + r * dh) * w.in_w + iw0 + c * dw;
                        let v = x[pos];
                        if at < 0 || v > best || v.is_nan() {
                            (best, at) = (v, pos as i64);
                        }
                    }
                }
                out.push(best);
                idx.push(at);
            }
        }
        (out, idx)
    }

    /// Values on a coarse grid (ties), signed zeros, infinities and NaN: the separable pooling,
    /// with and without indices, gives the scan's values (to the bit: signed zeros, the NaN
    /// taken) and indices, for kernels, strides, paddings, dilations and ceil mode.
    #[test]
    fn separable_pooling_equals_the_row_major_scan() {
        let specials = [
            0.0f32,
            -0.0,
            f32::INFINITY,
            f32::NEG_INFINITY,
            f32::NAN,
            -f32::NAN,
        ];
        let mut state = 7u64;
        let mut next = || {
            state = state
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            (state >> 33) as usize
        };
        let mut checked = 0;
        for &(h, w) in &[(7, 9), (12, 12), (15, 13), (5, 4)] {
            for k in [2, 3, 5] {
                for s in [1, 2, 3] {
                    for p in 0..=(k / 2) {
                        for d in [1, 2] {
                            for ceil in [false, true] {
                                if d * (k - 1) + 1 > h + 2 * p || d * (k - 1) + 1 > w + 2 * p {
                                    continue;
                                }
                                let win =
                                    Windows::new([h, w], [k, k], [s, s], [p, p], [d, d], ceil);
                                let x: Vec<f32> = (0..h * w)
                                    .map(|_| match next() % 10 {
                                        0 => specials[next() % specials.len()],
                                        _ => (next() % 7) as f32 * 0.5 - 1.5,
                                    })
                                    .collect();
                                let (want, want_idx) = scan(&win, &x);
                                let n = win.out_h * win.out_w;
                                let (mut got, mut idx) = (vec![0f32; n], vec![0i64; n]);
                                let mut scratch = Scratch::default();
                                win.pool(&x, &mut got, Some(&mut idx), &mut scratch);
                                let mut values = vec![0f32; n];
                                win.pool::<f32, i64>(&x, &mut values, None, &mut scratch);
                                let bits =
                                    |v: &[f32]| v.iter().map(|v| v.to_bits()).collect::<Vec<_>>();
                                let case = (h, w, k, s, p, d, ceil);
                                assert_eq!(bits(&got), bits(&want), "{case:?}");
                                assert_eq!(bits(&values), bits(&want), "{case:?}");
                                assert_eq!(idx, want_idx, "{case:?}");
                                checked += 1;
                            }
                        }
                    }
                }
            }
        }
        assert!(checked > 150, "{checked}");
    }

    /// The separable pooling against the scan on ResNet-18's stem pool (3×3, stride 2, padding
    /// 1, 112×112), one thread, with and without indices, minimum of 5 runs over 64 planes:
    /// `cargo test --release --lib max_pool2d::tests::timing -- --ignored --nocapture`.
    #[test]
    #[ignore]
    fn timing() {
        use std::time::Instant;
        let win = Windows::new([112, 112], [3, 3], [2, 2], [1, 1], [1, 1], false);
        let planes = 64;
        let x: Vec<f32> = (0..planes * 112 * 112)
            .map(|i| ((i as u64).wrapping_mul(2654435761) % 1000) as f32 / 7.0)
            .collect();
        let n = win.out_h * win.out_w;
        let mut scratch = Scratch::default();
        let (mut out, mut idx) = (vec![0f32; n], vec![0i64; n]);
        let best = |f: &mut dyn FnMut()| {
            (0..5)
                .map(|_| {
                    let start = Instant::now();
                    f();
                    start.elapsed().as_secs_f64() * 1e3
                })
                .fold(f64::INFINITY, f64::min)
        };
        let scan_ms = best(&mut || {
            for p in x.chunks_exact(112 * 112) {
                std::hint::black_box(scan(&win, p));
            }
        });
        let indexed_ms = best(&mut || {
            for p in x.chunks_exact(112 * 112) {
                win.pool(p, &mut out, Some(&mut idx), &mut scratch);
            }
        });
        let values_ms = best(&mut || {
            for p in x.chunks_exact(112 * 112) {
                win.pool::<f32, i64>(p, &mut out, None, &mut scratch);
            }
        });
        std::println!(
            "{planes} planes: scan {scan_ms:.2} ms, separable with indices {indexed_ms:.2} ms, values only {values_ms:.2} ms"
        );
    }
}
