//! Depthwise 2D convolution on small planes with the channels interleaved in blocks of
//! [`LANES`] (augtrain's patch; see `patches/README.md` in augtrain's repository).
//!
//! burn-flex's depthwise forward (`conv.rs`) and this patch's depthwise input gradient walk
//! each plane row by row; on the 7×7 and 14×14 planes of EfficientNet's last stages every row
//! is 7 or 14 values long and the loop overhead dominates (6× slower than PyTorch on
//! 1152×7×7). Here, per sample and block of [`LANES`] channels, the planes are copied into one
//! zero-padded buffer `[row][column][lane]` and every kernel tap is a [`LANES`]-wide
//! multiply-add per output position, one vector across channels instead of a short row:
//!
//! `y[n, c, oh, ow] = b[c] + Σ_{i,j} W[c, i, j] · x[n, c, oh·sh + i·dh − ph, ow·sw + j·dw − pw]`
//!
//! (zero outside `x`, taps in row-major order after the bias). Padding zeros are multiplied
//! explicitly, so a non-finite weight gives NaN where its window meets padding, as burn-flex's
//! own depthwise path does. The input gradient of a stride-1 depthwise convolution is the same
//! correlation of `dy` with the kernel rotated by 180° and leading padding `(k − 1)·d − p`;
//! [`input_grad`] applies where that padding is not negative and every weight is finite (the
//! products are then those of the row-wise scatter, plus zero terms).

use alloc::vec;
use alloc::vec::Vec;

use crate::ops::conv_weight_grad::{Elem, Geometry};

/// Channels per interleaved block: one AVX2 vector of f32.
pub(crate) const LANES: usize = 8;

/// Output planes up to this many values (28×28) take this path; larger planes keep the
/// row-wise loops, whose rows are then long enough to vectorize.
const MAX_PLANE: usize = 28 * 28;

/// One depthwise correlation: input planes `h × w`, kernel `kh × kw`, output `oh × ow`.
#[derive(Clone, Copy, Debug)]
struct Plan {
    h: usize,
    w: usize,
    kh: usize,
    kw: usize,
    stride: [usize; 2],
    dilation: [usize; 2],
    /// Leading padding (rows, columns): input `(r, c)` sits at padded `(r + ph, c + pw)`.
    pad: [usize; 2],
    oh: usize,
    ow: usize,
}

impl Plan {
    /// Rows and columns of the padded input that outputs read.
    fn padded(&self) -> (usize, usize) {
        let span = |o: usize, s: usize, k: usize, d: usize| (o - 1) * s + (k - 1) * d + 1;
        (
            span(self.oh, self.stride[0], self.kh, self.dilation[0]),
            span(self.ow, self.stride[1], self.kw, self.dilation[1]),
        )
    }
}

/// Whether a convolution is canonical depthwise (one input and one output channel per group)
/// with an output plane small enough for this path.
pub(crate) fn applies(g: &Geometry) -> bool {
    g.groups > 1 && g.groups == g.c_in && g.groups == g.c_out && g.out_plane() <= MAX_PLANE
}

/// Whether [`input_grad`] applies: [`applies`], stride 1, leading padding at most the kernel's
/// dilated span and every weight finite.
pub(crate) fn applies_to_input_grad<T: Elem>(g: &Geometry, w: &[T]) -> bool {
    applies(g)
        && g.h * g.w <= MAX_PLANE
        && g.stride == [1, 1]
        && g.pad[0] <= (g.kh - 1) * g.dilation[0]
        && g.pad[1] <= (g.kw - 1) * g.dilation[1]
        && w.iter().all(|v| v.is_finite())
}

/// The NCHW output `[batch, c, oh, ow]` of a convolution [`applies`] accepts.
pub(crate) fn forward<T: Elem>(g: &Geometry, x: &[T], w: &[T], bias: Option<&[T]>) -> Vec<T> {
    let plan = Plan {
        h: g.h,
        w: g.w,
        kh: g.kh,
        kw: g.kw,
        stride: g.stride,
        dilation: g.dilation,
        pad: g.pad,
        oh: g.oh,
        ow: g.ow,
    };
    correlate(&plan, g.batch, g.c_in, x, w, bias)
}

/// `dx` `[batch, c, h, w]` of a convolution [`applies_to_input_grad`] accepts, from `dy`.
pub(crate) fn input_grad<T: Elem>(g: &Geometry, w: &[T], dy: &[T]) -> Vec<T> {
    let taps = g.taps();
    let rotated: Vec<T> = w
        .chunks_exact(taps)
        .flat_map(|k| k.iter().rev().copied())
        .collect();
    let plan = Plan {
        h: g.oh,
        w: g.ow,
        kh: g.kh,
        kw: g.kw,
        stride: [1, 1],
        dilation: g.dilation,
        pad: [
            (g.kh - 1) * g.dilation[0] - g.pad[0],
            (g.kw - 1) * g.dilation[1] - g.pad[1],
        ],
        oh: g.h,
        ow: g.w,
    };
    correlate(&plan, g.batch, g.c_in, dy, &rotated, None)
}

/// Every sample's `channels` output planes, samples split between rayon workers (blocks of
/// [`LANES`] channels of each sample when there are fewer samples than workers).
fn correlate<T: Elem>(
    plan: &Plan,
    batch: usize,
    channels: usize,
    x: &[T],
    w: &[T],
    bias: Option<&[T]>,
) -> Vec<T> {
    let per_sample = channels * plan.oh * plan.ow;
    let mut out = vec![T::zero(); batch * per_sample];
    if per_sample == 0 {
        return out;
    }
    let in_sample = channels * plan.h * plan.w;
    let sample = |(n, dst): (usize, &mut [T]), buffers: &mut Buffers<T>| {
        let x = &x[n * in_sample..(n + 1) * in_sample];
        for c0 in (0..channels).step_by(LANES) {
            let lanes = LANES.min(channels - c0);
            let dst = &mut dst[c0 * plan.oh * plan.ow..(c0 + lanes) * plan.oh * plan.ow];
            block(plan, c0, lanes, x, w, bias, dst, buffers);
        }
    };
    #[cfg(feature = "rayon")]
    {
        use rayon::prelude::*;
        let work = out.len() * plan.kh * plan.kw;
        let threads = rayon::current_num_threads();
        if threads > 1 && work >= crate::ops::PARALLEL_THRESHOLD && batch < threads {
            let block_len = LANES * plan.oh * plan.ow;
            for (n, dst) in out.chunks_mut(per_sample).enumerate() {
                let x = &x[n * in_sample..(n + 1) * in_sample];
                dst.par_chunks_mut(block_len).enumerate().for_each_init(
                    Buffers::default,
                    |buffers, (i, dst)| {
                        let c0 = i * LANES;
                        let lanes = LANES.min(channels - c0);
                        block(plan, c0, lanes, x, w, bias, dst, buffers);
                    },
                );
            }
            return out;
        }
        if threads > 1 && work >= crate::ops::PARALLEL_THRESHOLD {
            out.par_chunks_mut(per_sample)
                .enumerate()
                .for_each_init(Buffers::default, |b, item| sample(item, b));
            return out;
        }
    }
    let mut buffers = Buffers::default();
    for item in out.chunks_mut(per_sample).enumerate() {
        sample(item, &mut buffers);
    }
    out
}

/// A worker's reusable interleaved buffers.
struct Buffers<T> {
    input: Vec<[T; LANES]>,
    weights: Vec<[T; LANES]>,
    output: Vec<[T; LANES]>,
}

impl<T> Default for Buffers<T> {
    fn default() -> Self {
        Self {
            input: Vec::new(),
            weights: Vec::new(),
            output: Vec::new(),
        }
    }
}

/// Output planes `c0..c0 + lanes` of one sample into `dst` (`lanes` planes).
#[allow(clippy::too_many_arguments)]
fn block<T: Elem>(
    plan: &Plan,
    c0: usize,
    lanes: usize,
    x: &[T],
    w: &[T],
    bias: Option<&[T]>,
    dst: &mut [T],
    buffers: &mut Buffers<T>,
) {
    let (hp, wp) = plan.padded();
    let (in_plane, out_plane, taps) = (plan.h * plan.w, plan.oh * plan.ow, plan.kh * plan.kw);
    let input = &mut buffers.input;
    input.clear();
    input.resize(hp * wp, [T::zero(); LANES]);
    for l in 0..lanes {
        let xp = &x[(c0 + l) * in_plane..(c0 + l + 1) * in_plane];
        for r in 0..plan.h.min(hp.saturating_sub(plan.pad[0])) {
            let cols = plan.w.min(wp.saturating_sub(plan.pad[1]));
            let row = &mut input[(r + plan.pad[0]) * wp + plan.pad[1]..][..cols];
            for (v, &s) in row.iter_mut().zip(&xp[r * plan.w..r * plan.w + cols]) {
                v[l] = s;
            }
        }
    }
    let weights = &mut buffers.weights;
    weights.clear();
    weights.resize(taps, [T::zero(); LANES]);
    for (t, wt) in weights.iter_mut().enumerate() {
        for l in 0..lanes {
            wt[l] = w[(c0 + l) * taps + t];
        }
    }
    let mut start = [T::zero(); LANES];
    if let Some(bias) = bias {
        start[..lanes].copy_from_slice(&bias[c0..c0 + lanes]);
    }
    let output = &mut buffers.output;
    output.clear();
    output.resize(out_plane, start);
    accumulate(plan, wp, input, weights, output);
    for l in 0..lanes {
        for (d, v) in dst[l * out_plane..(l + 1) * out_plane].iter_mut().zip(output.iter()) {
            *d = v[l];
        }
    }
}

/// Output positions whose accumulators [`accumulate`] keeps in registers at once.
const POSITIONS: usize = 4;

/// `output[oh, ow] += Σ_{i,j} weights[i, j] · input[oh·sh + i·dh, ow·sw + j·dw]`, lane-wise, taps
/// in row-major order; [`POSITIONS`] outputs of a row at a time, their sums in registers.
#[allow(clippy::extra_unused_type_parameters)]
#[cfg_attr(feature = "simd", macerator::with_simd)]
fn accumulate<#[cfg(feature = "simd")] S: macerator::Simd, T: Elem>(
    plan: &Plan,
    wp: usize,
    input: &[[T; LANES]],
    weights: &[[T; LANES]],
    output: &mut [[T; LANES]],
) {
    let [sh, sw] = plan.stride;
    let [dh, dw] = plan.dilation;
    for (y, out_row) in output.chunks_exact_mut(plan.ow).enumerate() {
        let rows = &input[y * sh * wp..];
        let mut x = 0;
        while x < plan.ow {
            let n = POSITIONS.min(plan.ow - x);
            let mut acc = [[T::zero(); LANES]; POSITIONS];
            acc[..n].copy_from_slice(&out_row[x..x + n]);
            for i in 0..plan.kh {
                let row = &rows[i * dh * wp + x * sw..];
                for j in 0..plan.kw {
                    let wv = weights[i * plan.kw + j];
                    let seg = &row[j * dw..];
                    if n == POSITIONS {
                        for (a, sum) in acc.iter_mut().enumerate() {
                            let v = &seg[a * sw];
                            for l in 0..LANES {
                                sum[l] = sum[l] + wv[l] * v[l];
                            }
                        }
                    } else {
                        for (a, sum) in acc[..n].iter_mut().enumerate() {
                            let v = &seg[a * sw];
                            for l in 0..LANES {
                                sum[l] = sum[l] + wv[l] * v[l];
                            }
                        }
                    }
                }
            }
            out_row[x..x + n].copy_from_slice(&acc[..n]);
            x += n;
        }
    }
}
