//! Weight gradient of the 2D convolution, `dL/dW` from the input `x` and `dL/dy`
//! (augtrain's patch; see `patches/README.md` in augtrain's repository).
//!
//! The backend's default (`burn_backend`'s generic `conv2d_weight_backward`) swaps the batch
//! and channel dims of `x` and `dy` (two physical transposes), runs a forward convolution of
//! `x` by `dy` with stride and dilation exchanged, swaps the result back and slices it to the
//! kernel size; with groups, once per group, slice-assigning each block. Here the definition
//!
//! `dW[co, ci, i, j] = Σ_n Σ_{oh,ow} dy[n, co, oh, ow] · x[n, g·cig + ci, oh·sh + i·dh − ph, ow·sw + j·dw − pw]`
//!
//! (`g = co / cog`, `cig`/`cog` input/output channels per group, zero outside `x`) is computed
//! from the NCHW tensors directly:
//! - `groups = 1`, or several input channels per group: per chunk of samples an im2col buffer
//!   `[c_in·kh·kw, B·oh·ow]` and one GEMM per group, `dW_gᵀ += cols_g · dy_gᵀ`, accumulated by
//!   `gemm` (samples are batched until the GEMM's depth `B·oh·ow` reaches 512). Samples are split
//!   between rayon workers, each with its own partial `dWᵀ` and sequential GEMMs; the partials
//!   are summed and transposed at the end. Pointwise convolutions (1×1, stride 1, no padding)
//!   pass `x` itself as the GEMM operand.
//! - one input channel per group and `groups > 1` (depthwise, with any channel multiplier): per
//!   output channel, blocks of samples' planes are copied once into zero-padded stride-phase
//!   planes of `x` with the row width of a zero-padded copy of `dy`, so that each kernel tap is
//!   one contiguous SIMD dot product over the whole block (see [`Planes`]); parallel over
//!   output channels, block sums added in f64.
//!
//! Both paths multiply the padding zeros explicitly (as the default's convolution does), so
//! non-finite values propagate the same way (`0 · inf = NaN`); the dot-product path would add
//! spurious `0 · x` terms for a non-finite `x`, and takes a plain loop for such planes.
//! Asymmetric padding needs no padded copy of `x`: only the leading padding shifts indices and
//! positions past the end of `x` are zero. f32 and f64 are computed natively, f16 and bf16
//! through f32.

use alloc::vec;
use alloc::vec::Vec;
use core::ops::Range;

use burn_backend::{DType, ops::ConvOptions};
use burn_std::{Bytes, Shape, bf16, f16};

use crate::ops::conv::valid_out_range;
use crate::ops::conv_winograd;
use crate::ops::module::{cast_from_f32, cast_to_f32};
use crate::{FlexTensor, Layout};

/// An element type the weight gradient is computed in (`gemm` dispatches on f32 and f64).
pub(crate) trait Elem:
    num_traits::Float + burn_std::Element + bytemuck::Pod + Send + Sync + SimdElem + 'static
{
    fn widen(self) -> f64;
    fn narrow(v: f64) -> Self;
}

impl Elem for f32 {
    fn widen(self) -> f64 {
        self as f64
    }
    fn narrow(v: f64) -> Self {
        v as f32
    }
}

/// The vector operations of the dot products (macerator), where SIMD is enabled.
#[cfg(feature = "simd")]
pub(crate) trait SimdElem: macerator::VMulAdd + macerator::VAdd + macerator::ReduceAdd {}
#[cfg(feature = "simd")]
impl<T: macerator::VMulAdd + macerator::VAdd + macerator::ReduceAdd> SimdElem for T {}
#[cfg(not(feature = "simd"))]
pub(crate) trait SimdElem {}
#[cfg(not(feature = "simd"))]
impl<T> SimdElem for T {}

impl Elem for f64 {
    fn widen(self) -> f64 {
        self
    }
    fn narrow(v: f64) -> Self {
        v
    }
}

/// Shapes and options of one convolution, as the kernels need them.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Geometry {
    pub(crate) batch: usize,
    pub(crate) c_in: usize,
    pub(crate) h: usize,
    pub(crate) w: usize,
    pub(crate) c_out: usize,
    pub(crate) groups: usize,
    /// Input channels per group (`c_in / groups`).
    pub(crate) cig: usize,
    /// Output channels per group (`c_out / groups`).
    pub(crate) cog: usize,
    pub(crate) kh: usize,
    pub(crate) kw: usize,
    pub(crate) oh: usize,
    pub(crate) ow: usize,
    pub(crate) stride: [usize; 2],
    /// Leading padding; trailing padding only decides `oh`/`ow`, which `dy` gives.
    pub(crate) pad: [usize; 2],
    pub(crate) dilation: [usize; 2],
}

impl Geometry {
    pub(crate) fn new(x: &Shape, weight: &Shape, dy: &Shape, options: &ConvOptions<2>) -> Self {
        assert!(
            x.num_dims() == 4 && weight.num_dims() == 4 && dy.num_dims() == 4,
            "conv2d_weight_backward: x, weight and output_grad must be 4D"
        );
        let groups = options.groups;
        let g = Self {
            batch: x[0],
            c_in: x[1],
            h: x[2],
            w: x[3],
            c_out: weight[0],
            groups,
            cig: weight[1],
            cog: weight[0] / groups,
            kh: weight[2],
            kw: weight[3],
            oh: dy[2],
            ow: dy[3],
            stride: options.stride,
            pad: options.padding_begin(),
            dilation: options.dilation,
        };
        assert_eq!(g.cig * groups, g.c_in, "conv2d_weight_backward: c_in != c_in/groups · groups");
        assert_eq!(g.cog * groups, g.c_out, "conv2d_weight_backward: c_out not divisible by groups");
        assert_eq!((dy[0], dy[1]), (g.batch, g.c_out), "conv2d_weight_backward: output_grad shape");
        g
    }

    pub(crate) fn taps(&self) -> usize {
        self.kh * self.kw
    }

    pub(crate) fn out_plane(&self) -> usize {
        self.oh * self.ow
    }

    /// Weight-gradient elements (`c_out · cig · kh · kw`).
    pub(crate) fn len(&self) -> usize {
        self.c_out * self.cig * self.taps()
    }

    /// Multiply-adds of the whole gradient.
    #[cfg_attr(not(feature = "rayon"), allow(dead_code))]
    fn work(&self) -> usize {
        self.len() * self.batch * self.out_plane()
    }

    /// Output rows (`axis` 0) or columns (1) whose input index for kernel tap `k` is inside `x`.
    pub(crate) fn valid(&self, axis: usize, k: usize) -> (usize, usize) {
        let (input, output) = if axis == 0 { (self.h, self.oh) } else { (self.w, self.ow) };
        valid_out_range(k, self.dilation[axis], self.pad[axis], self.stride[axis], input, output)
    }
}

/// `dL/dW` of [`ModuleOps::conv2d`](burn_backend::ops::ModuleOps::conv2d) for `x`, the
/// forward's `weight` (only its shape is read) and `output_grad`; shaped like `weight`.
pub(crate) fn conv2d_weight_backward(
    x: FlexTensor,
    weight: FlexTensor,
    output_grad: FlexTensor,
    options: &ConvOptions<2>,
) -> FlexTensor {
    let shape = weight.layout().shape().clone();
    let geometry = Geometry::new(x.layout().shape(), &shape, output_grad.layout().shape(), options);
    assert_eq!(x.dtype(), output_grad.dtype(), "conv2d_weight_backward: dtype mismatch");
    match x.dtype() {
        DType::F32 => native::<f32>(x, output_grad, geometry, shape),
        DType::F64 => native::<f64>(x, output_grad, geometry, shape),
        DType::F16 => cast_from_f32(
            native::<f32>(
                cast_to_f32(x, f16::to_f32),
                cast_to_f32(output_grad, f16::to_f32),
                geometry,
                shape,
            ),
            f16::from_f32,
        ),
        DType::BF16 => cast_from_f32(
            native::<f32>(
                cast_to_f32(x, bf16::to_f32),
                cast_to_f32(output_grad, bf16::to_f32),
                geometry,
                shape,
            ),
            bf16::from_f32,
        ),
        dtype => panic!("conv2d_weight_backward: unsupported dtype {dtype:?}"),
    }
}

fn native<T: Elem>(x: FlexTensor, dy: FlexTensor, g: Geometry, shape: Shape) -> FlexTensor {
    let (x, dy) = (x.to_contiguous(), dy.to_contiguous());
    let (xs, dys): (&[T], &[T]) = (x.storage(), dy.storage());
    let dw = if g.len() == 0 || g.batch == 0 || g.out_plane() == 0 {
        vec![T::zero(); g.len()]
    } else if g.cig == 1 && g.groups > 1 {
        per_channel(&g, xs, dys)
    } else if conv_winograd::applies_to_weight_grad(&g)
        && let Some(dw) = conv_winograd::weight_grad(&g, xs, dys)
    {
        dw
    } else {
        im2col_gemm(&g, xs, dys)
    };
    FlexTensor::new(Bytes::from_elems(dw), Layout::contiguous(shape), T::dtype())
}

// ============================================================================
// Several input channels per group (or a dense convolution): im2col + GEMM
// ============================================================================

/// Samples per GEMM are batched until the GEMM's inner dimension (`B · oh · ow`) reaches this.
const GEMM_MIN_DEPTH: usize = 512;
/// Upper bound on the im2col buffer per worker, in elements (unless one sample needs more).
const MAX_COLS: usize = 1 << 22;

/// `dW` through GEMMs. Accumulates `dWᵀ` per group (`[cig·kh·kw, cog]`, column-major `dW`,
/// the destination layout `gemm`'s kernels run fastest on here) and transposes at the end.
pub(crate) fn im2col_gemm<T: Elem>(g: &Geometry, x: &[T], dy: &[T]) -> Vec<T> {
    let dwt = im2col_gemm_transposed(g, x, dy);
    let per_group = g.cig * g.taps();
    let mut dw = vec![T::zero(); g.len()];
    let block = g.cog * per_group;
    for (out, src) in dw.chunks_exact_mut(block).zip(dwt.chunks_exact(block)) {
        for (co, row) in out.chunks_exact_mut(per_group).enumerate() {
            for (k, v) in row.iter_mut().enumerate() {
                *v = src[k * g.cog + co];
            }
        }
    }
    dw
}

fn im2col_gemm_transposed<T: Elem>(g: &Geometry, x: &[T], dy: &[T]) -> Vec<T> {
    #[cfg(feature = "rayon")]
    {
        let threads = rayon::current_num_threads();
        if threads > 1 && g.work() >= crate::ops::PARALLEL_THRESHOLD * 16 {
            if g.batch < threads {
                // Too few samples to share out: let gemm split each product instead.
                let mut dwt = vec![T::zero(); g.len()];
                accumulate(g, x, dy, 0..g.batch, &mut dwt, gemm::Parallelism::Rayon(0));
                return dwt;
            }
            use rayon::prelude::*;
            let chunk = g.batch.div_ceil(threads);
            let partials: Vec<Vec<T>> = (0..g.batch.div_ceil(chunk))
                .into_par_iter()
                .map(|i| {
                    let mut dwt = vec![T::zero(); g.len()];
                    let samples = i * chunk..((i + 1) * chunk).min(g.batch);
                    accumulate(g, x, dy, samples, &mut dwt, gemm::Parallelism::None);
                    dwt
                })
                .collect();
            let mut partials = partials.into_iter();
            let mut dwt = partials.next().unwrap();
            for partial in partials {
                for (a, b) in dwt.iter_mut().zip(partial) {
                    *a = *a + b;
                }
            }
            return dwt;
        }
    }
    let mut dwt = vec![T::zero(); g.len()];
    accumulate(g, x, dy, 0..g.batch, &mut dwt, gemm::Parallelism::None);
    dwt
}

/// `dwt += (Σ_{n ∈ samples} dy[n] · cols(x[n])ᵀ)ᵀ`, per group, in chunks of samples.
fn accumulate<T: Elem>(
    g: &Geometry,
    x: &[T],
    dy: &[T],
    samples: Range<usize>,
    dwt: &mut [T],
    parallelism: gemm::Parallelism,
) {
    let s = g.out_plane();
    let rows = g.c_in * g.taps();
    let per_group = g.cig * g.taps();
    let pointwise =
        g.taps() == 1 && g.pad == [0, 0] && g.stride == [1, 1] && (g.oh, g.ow) == (g.h, g.w);
    let chunk = GEMM_MIN_DEPTH
        .div_ceil(s)
        .min(MAX_COLS / (rows * s).max(1))
        .clamp(1, samples.len().max(1));
    let mut cols = vec![T::zero(); if pointwise && chunk == 1 { 0 } else { rows * chunk * s }];
    let mut dyb = vec![T::zero(); if chunk == 1 { 0 } else { g.c_out * chunk * s }];

    let mut start = samples.start;
    while start < samples.end {
        let nb = chunk.min(samples.end - start);
        let depth = nb * s;
        // The GEMM's left operand, `[c_out, depth]` with row stride `lhs_rs`.
        let (lhs, lhs_rs): (&[T], usize) = if nb == 1 {
            (&dy[start * g.c_out * s..(start + 1) * g.c_out * s], s)
        } else {
            for b in 0..nb {
                for co in 0..g.c_out {
                    let src = ((start + b) * g.c_out + co) * s;
                    dyb[co * depth + b * s..co * depth + (b + 1) * s]
                        .copy_from_slice(&dy[src..src + s]);
                }
            }
            (&dyb[..g.c_out * depth], depth)
        };
        // The right operand's transpose, `[rows, depth]` with row stride `depth`.
        let rhs: &[T] = if pointwise && nb == 1 {
            &x[start * g.c_in * s..(start + 1) * g.c_in * s]
        } else {
            for b in 0..nb {
                im2col(g, &x[(start + b) * g.c_in * g.h * g.w..], &mut cols, depth, b * s);
            }
            &cols[..rows * depth]
        };
        for group in 0..g.groups {
            // SAFETY: every pointer addresses a block of its slice: dwt's group block
            // `cog × per_group` (column-major), lhs rows `group·cog..+cog` × `depth` (row
            // stride `lhs_rs ≥ depth`), rhs rows `group·per_group..+per_group` × `depth`.
            unsafe {
                gemm::gemm(
                    g.cog,
                    per_group,
                    depth,
                    dwt.as_mut_ptr().add(group * g.cog * per_group),
                    g.cog as isize,
                    1,
                    true,
                    lhs.as_ptr().add(group * g.cog * lhs_rs),
                    1,
                    lhs_rs as isize,
                    rhs.as_ptr().add(group * per_group * depth),
                    depth as isize,
                    1,
                    T::one(),
                    T::one(),
                    false,
                    false,
                    false,
                    parallelism,
                );
            }
        }
        start += nb;
    }
}

/// Fill columns `offset..offset + oh·ow` of every row `(ci, i, j)` of `cols` (row length
/// `depth`) with `x[ci, oh·sh + i·dh − ph, ow·sw + j·dw − pw]` of one sample (zero outside).
pub(crate) fn im2col<T: Elem>(g: &Geometry, x: &[T], cols: &mut [T], depth: usize, offset: usize) {
    im2col_rows(g, x, cols, depth, offset, 0..g.oh);
}

/// [`im2col`] for the output rows `out_rows` only: output position `(o, t)` goes to column
/// `offset + (o − out_rows.start)·ow + t`.
pub(crate) fn im2col_rows<T: Elem>(
    g: &Geometry,
    x: &[T],
    cols: &mut [T],
    depth: usize,
    offset: usize,
    out_rows: Range<usize>,
) {
    let plane = g.h * g.w;
    let span = out_rows.len() * g.ow;
    let local = |o: usize| (o - out_rows.start) * g.ow;
    let clip = |o: usize| o.clamp(out_rows.start, out_rows.end);
    for ci in 0..g.c_in {
        let xp = &x[ci * plane..(ci + 1) * plane];
        for i in 0..g.kh {
            let (oh0, oh1) = g.valid(0, i);
            let (oh0, oh1) = (clip(oh0), clip(oh1));
            for j in 0..g.kw {
                let (ow0, ow1) = g.valid(1, j);
                let row = (ci * g.kh + i) * g.kw + j;
                let dst = &mut cols[row * depth + offset..row * depth + offset + span];
                dst[..local(oh0)].fill(T::zero());
                dst[local(oh1)..].fill(T::zero());
                if ow0 == ow1 {
                    dst[local(oh0)..local(oh1)].fill(T::zero());
                    continue;
                }
                let iw0 = ow0 * g.stride[1] + j * g.dilation[1] - g.pad[1];
                for o in oh0..oh1 {
                    let ih = o * g.stride[0] + i * g.dilation[0] - g.pad[0];
                    let src = &xp[ih * g.w + iw0..(ih + 1) * g.w];
                    let out = &mut dst[local(o)..local(o) + g.ow];
                    out[..ow0].fill(T::zero());
                    out[ow1..].fill(T::zero());
                    if g.stride[1] == 1 {
                        out[ow0..ow1].copy_from_slice(&src[..ow1 - ow0]);
                    } else {
                        for (d, v) in out[ow0..ow1].iter_mut().zip(src.iter().step_by(g.stride[1])) {
                            *d = *v;
                        }
                    }
                }
            }
        }
    }
}

// ============================================================================
// One input channel per group: per output channel, one dot product per tap
// ============================================================================

/// Target size (elements) of a block of samples' planes on the per-channel path.
const PLANE_BLOCK: usize = 4096;

/// Zero-padded copies of a block of samples' planes of one channel, laid out so that every
/// kernel tap `(i, j)` is one contiguous dot product over the whole block.
///
/// With `Wq = ow + ⌊(kw−1)·dw / sw⌋` and `Hq = oh + ⌊(kh−1)·dh / sh⌋`, each sample's `dy`
/// plane is stored as `Hq × Wq` (zeros right of column `ow` and below row `oh`), and its `x`
/// plane as `sh·sw` phase planes `X[bh, bw][r, t] = x[r·sh + bh − ph, t·sw + bw − pw]` (zero
/// outside `x`), each `Hq × Wq`; samples follow each other at a stride of `Hq·Wq`. Writing
/// `i·dh = ah·sh + bh` and `j·dw = aw·sw + bw`, the tap's sum
/// `Σ_{n,oh,ow} dy[n, oh, ow] · x[n, oh·sh + i·dh − ph, ow·sw + j·dw − pw]` is the dot product of
/// the `dy` block's first `L = (nb−1)·Hq·Wq + (oh−1)·Wq + ow` values with `X[bh, bw]` from
/// `ah·Wq + aw` on: every real `(n, oh, ow)` meets its own `x` value (`ow + aw < Wq`,
/// `oh + ah < Hq`), and the zeros of `dy`'s padding meet other values of the phase planes, which
/// adds nothing as long as those are finite.
struct Planes<T> {
    wq: usize,
    hq: usize,
    /// Samples per block.
    nb: usize,
    dy: Vec<T>,
    x: Vec<T>,
}

impl<T: Elem> Planes<T> {
    fn new(g: &Geometry) -> Self {
        let wq = g.ow + (g.kw - 1) * g.dilation[1] / g.stride[1];
        let hq = g.oh + (g.kh - 1) * g.dilation[0] / g.stride[0];
        let nb = (PLANE_BLOCK / (hq * wq)).clamp(1, g.batch);
        Self {
            wq,
            hq,
            nb,
            dy: vec![T::zero(); nb * hq * wq],
            x: vec![T::zero(); g.stride[0] * g.stride[1] * nb * hq * wq],
        }
    }

    /// Load sample `b` of the block (its planes of `x` and `dy`); false when `x`'s plane has a
    /// non-finite value (the block's dot products are then unusable). Only values inside `x`
    /// and `dy` are written: the zeros around them, at the same places for every load, stay.
    fn load(&mut self, g: &Geometry, b: usize, x: &[T], dy: &[T]) -> bool {
        let (wq, hq) = (self.wq, self.hq);
        let block = self.nb * hq * wq;
        let dy_plane = &mut self.dy[b * hq * wq..(b + 1) * hq * wq];
        for (row, src) in dy_plane.chunks_exact_mut(wq).zip(dy.chunks_exact(g.ow)) {
            row[..g.ow].copy_from_slice(src);
        }
        let [sh, sw] = g.stride;
        let [ph, pw] = g.pad;
        for bh in 0..sh {
            for bw in 0..sw {
                // Rows `r0..r1` and columns `t0..t1` of this phase are inside `x`, from
                // `x[r0·sh + bh − ph, t0·sw + bw − pw]` on.
                let r0 = ph.saturating_sub(bh).div_ceil(sh);
                let r1 = (g.h + ph).saturating_sub(bh).div_ceil(sh).min(hq);
                let t0 = pw.saturating_sub(bw).div_ceil(sw);
                let t1 = (g.w + pw).saturating_sub(bw).div_ceil(sw).min(wq);
                if r0 >= r1 || t0 >= t1 {
                    continue;
                }
                let iw0 = t0 * sw + bw - pw;
                let start = (bh * sw + bw) * block + b * hq * wq;
                let phase = &mut self.x[start..start + hq * wq];
                for r in r0..r1 {
                    let ih = r * sh + bh - ph;
                    let src = &x[ih * g.w + iw0..(ih + 1) * g.w];
                    let dst = &mut phase[r * wq + t0..r * wq + t1];
                    if sw == 1 {
                        dst.copy_from_slice(&src[..t1 - t0]);
                    } else {
                        let src = &src[..(t1 - t0 - 1) * sw + 1];
                        for (k, d) in dst.iter_mut().enumerate() {
                            *d = src[k * sw];
                        }
                    }
                }
            }
        }
        is_finite(x)
    }
}

/// Whether every value is finite (`v · 0` is ±0 for finite `v`, NaN otherwise), vectorizable.
fn is_finite<T: Elem>(values: &[T]) -> bool {
    let mut acc = [T::zero(); 16];
    let chunks = values.chunks_exact(16);
    for (k, v) in chunks.remainder().iter().enumerate() {
        acc[k] = acc[k] + *v * T::zero();
    }
    for chunk in chunks {
        for k in 0..16 {
            acc[k] = acc[k] + chunk[k] * T::zero();
        }
    }
    acc.iter().all(|v| *v == T::zero())
}

fn per_channel<T: Elem>(g: &Geometry, x: &[T], dy: &[T]) -> Vec<T> {
    let taps = g.taps();
    let mut dw = vec![T::zero(); g.len()];
    let channel = |planes: &mut Planes<T>, co: usize, out: &mut [T]| {
        let ci = co / g.cog; // the group's only input channel
        let mut acc = vec![0.0f64; taps];
        let mut part = vec![T::zero(); taps];
        let x_plane = |n: usize| &x[(n * g.c_in + ci) * g.h * g.w..][..g.h * g.w];
        let dy_plane = |n: usize| &dy[(n * g.c_out + co) * g.out_plane()..][..g.out_plane()];
        let mut start = 0;
        while start < g.batch {
            let nb = planes.nb.min(g.batch - start);
            let mut finite = true;
            for b in 0..nb {
                finite &= planes.load(g, b, x_plane(start + b), dy_plane(start + b));
            }
            if finite {
                let len = ((nb - 1) * planes.hq + g.oh - 1) * planes.wq + g.ow;
                let block = planes.nb * planes.hq * planes.wq;
                taps_dot(&mut part, &planes.dy[..len], &planes.x, block, planes.wq, g.kh, g.kw, g.stride, g.dilation);
                for (a, p) in acc.iter_mut().zip(&part) {
                    *a += p.widen();
                }
            } else {
                for n in start..start + nb {
                    taps_naive(g, &mut part, x_plane(n), dy_plane(n));
                    for (a, p) in acc.iter_mut().zip(&part) {
                        *a += p.widen();
                    }
                }
            }
            start += nb;
        }
        for (o, a) in out.iter_mut().zip(acc) {
            *o = T::narrow(a);
        }
    };
    #[cfg(feature = "rayon")]
    if g.work() >= crate::ops::PARALLEL_THRESHOLD {
        use rayon::prelude::*;
        dw.par_chunks_mut(taps)
            .enumerate()
            .for_each_init(|| Planes::new(g), |planes, (co, out)| channel(planes, co, out));
        return dw;
    }
    let mut planes = Planes::new(g);
    for (co, out) in dw.chunks_mut(taps).enumerate() {
        channel(&mut planes, co, out);
    }
    dw
}

/// `part[i·kw + j]` = the dot product of `dy` with phase plane block `(bh, bw)` of `x` (blocks
/// `block` elements apart) from `ah·wq + aw` on, for every tap (see [`Planes`]). The taps of a
/// kernel row share each load of `dy` (up to five at a time).
#[allow(clippy::too_many_arguments, clippy::extra_unused_type_parameters)]
#[cfg_attr(feature = "simd", macerator::with_simd)]
fn taps_dot<#[cfg(feature = "simd")] S: macerator::Simd, T: Elem>(
    part: &mut [T],
    dy: &[T],
    x: &[T],
    block: usize,
    wq: usize,
    kh: usize,
    kw: usize,
    stride: [usize; 2],
    dilation: [usize; 2],
) {
    let len = dy.len();
    let tap = |i: usize, j: usize| {
        let (ah, bh) = (i * dilation[0] / stride[0], i * dilation[0] % stride[0]);
        let (aw, bw) = (j * dilation[1] / stride[1], j * dilation[1] % stride[1]);
        let start = (bh * stride[1] + bw) * block + ah * wq + aw;
        &x[start..start + len]
    };
    #[cfg(feature = "simd")]
    let simd = core::marker::PhantomData::<S>;
    macro_rules! dots {
        ($out:expr, $b:expr) => {{
            #[cfg(feature = "simd")]
            dots_simd(simd, $out, dy, $b);
            #[cfg(not(feature = "simd"))]
            dots_scalar($out, dy, $b);
        }};
    }
    for i in 0..kh {
        let mut j = 0;
        while j < kw {
            let out = &mut part[i * kw + j..];
            match kw - j {
                1 => dots!(out, [tap(i, j)]),
                2 => dots!(out, [tap(i, j), tap(i, j + 1)]),
                3 => dots!(out, [tap(i, j), tap(i, j + 1), tap(i, j + 2)]),
                4 => dots!(out, [tap(i, j), tap(i, j + 1), tap(i, j + 2), tap(i, j + 3)]),
                _ => dots!(out, [tap(i, j), tap(i, j + 1), tap(i, j + 2), tap(i, j + 3), tap(i, j + 4)]),
            }
            j += 5.min(kw - j);
        }
    }
}

/// `out[t] = a · b[t]` for `K` vectors `b[t]` at least as long as `a`, sharing the loads of
/// `a`; two vector accumulators per `t`.
#[cfg(feature = "simd")]
#[inline(always)]
fn dots_simd<S: macerator::Simd, T: Elem, const K: usize>(
    _simd: core::marker::PhantomData<S>,
    out: &mut [T],
    a: &[T],
    b: [&[T]; K],
) {
    use macerator::vload_unaligned;
    let len = a.len();
    for bt in &b {
        assert!(bt.len() >= len);
    }
    let lanes = T::lanes::<S>();
    let full = len / (2 * lanes) * (2 * lanes);
    let mut acc0 = [T::zero().splat::<S>(); K];
    let mut acc1 = acc0;
    let mut q = 0;
    while q < full {
        // SAFETY: `q + 2·lanes ≤ len`, and every slice holds at least `len` values.
        unsafe {
            let a0 = vload_unaligned::<S, T>(a.as_ptr().add(q));
            let a1 = vload_unaligned::<S, T>(a.as_ptr().add(q + lanes));
            for t in 0..K {
                let b0 = vload_unaligned::<S, T>(b[t].as_ptr().add(q));
                let b1 = vload_unaligned::<S, T>(b[t].as_ptr().add(q + lanes));
                acc0[t] = a0.mul_add(b0, acc0[t]);
                acc1[t] = a1.mul_add(b1, acc1[t]);
            }
        }
        q += 2 * lanes;
    }
    for t in 0..K {
        let mut sum = (acc0[t] + acc1[t]).reduce_add();
        for r in full..len {
            sum = sum + a[r] * b[t][r];
        }
        out[t] = sum;
    }
}

/// `out[t] = a · b[t]` for `K` vectors `b[t]` at least as long as `a` (without SIMD).
#[cfg(not(feature = "simd"))]
fn dots_scalar<T: Elem, const K: usize>(out: &mut [T], a: &[T], b: [&[T]; K]) {
    for t in 0..K {
        let mut acc = [T::zero(); 8];
        let (ca, cb) = (a.chunks_exact(8), b[t][..a.len()].chunks_exact(8));
        let tail: T = ca.remainder().iter().zip(cb.remainder()).fold(T::zero(), |s, (u, v)| s + *u * *v);
        for (u, v) in ca.zip(cb) {
            for l in 0..8 {
                acc[l] = acc[l] + u[l] * v[l];
            }
        }
        out[t] = acc.iter().fold(tail, |s, v| s + *v);
    }
}

/// The definition for one sample's planes, multiplying the padding zeros explicitly (for
/// planes of `x` with non-finite values, where [`Planes`] would add spurious `0 · x` terms).
fn taps_naive<T: Elem>(g: &Geometry, part: &mut [T], x: &[T], dy: &[T]) {
    for i in 0..g.kh {
        for j in 0..g.kw {
            let mut sum = T::zero();
            for o in 0..g.oh {
                let ih = (o * g.stride[0] + i * g.dilation[0]).wrapping_sub(g.pad[0]);
                for p in 0..g.ow {
                    let iw = (p * g.stride[1] + j * g.dilation[1]).wrapping_sub(g.pad[1]);
                    let v = if ih < g.h && iw < g.w { x[ih * g.w + iw] } else { T::zero() };
                    sum = sum + dy[o * g.ow + p] * v;
                }
            }
            part[i * g.kw + j] = sum;
        }
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use alloc::string::String;
    use alloc::vec;
    use alloc::vec::Vec;

    use burn_backend::ops::{
        AttentionModuleOptions, ConvOptions, ConvTransposeOptions, DeformConv2dBackward,
        DeformConvOptions, FloatTensorOps, InterpolateOptions, MaxPool2dBackward,
        MaxPool2dWithIndices, ModuleOps,
    };
    use burn_backend::tensor::{BoolTensor, FloatTensor, IntTensor};
    use burn_backend::{TensorData, TensorMetadata};
    use burn_std::{IntDType, bf16, f16};

    use crate::{Flex, FlexTensor};

    /// burn-backend's generic `ModuleOps::conv2d_weight_backward` on Flex's ops: the trait's
    /// default body, reached through a type that overrides nothing (its default calls
    /// `B::conv2d` and friends with `B = Flex`; the required methods below are never called).
    pub(crate) struct GenericPath;

    impl ModuleOps<Flex> for GenericPath {
        fn conv2d(
            _: FloatTensor<Flex>,
            _: FloatTensor<Flex>,
            _: Option<FloatTensor<Flex>>,
            _: ConvOptions<2>,
        ) -> FloatTensor<Flex> {
            unreachable!()
        }
        fn deform_conv2d(
            _: FloatTensor<Flex>,
            _: FloatTensor<Flex>,
            _: FloatTensor<Flex>,
            _: Option<FloatTensor<Flex>>,
            _: Option<FloatTensor<Flex>>,
            _: DeformConvOptions<2>,
        ) -> FloatTensor<Flex> {
            unreachable!()
        }
        fn deform_conv2d_backward(
            _: FloatTensor<Flex>,
            _: FloatTensor<Flex>,
            _: FloatTensor<Flex>,
            _: Option<FloatTensor<Flex>>,
            _: Option<FloatTensor<Flex>>,
            _: FloatTensor<Flex>,
            _: DeformConvOptions<2>,
        ) -> DeformConv2dBackward<Flex> {
            unreachable!()
        }
        fn conv3d(
            _: FloatTensor<Flex>,
            _: FloatTensor<Flex>,
            _: Option<FloatTensor<Flex>>,
            _: ConvOptions<3>,
        ) -> FloatTensor<Flex> {
            unreachable!()
        }
        fn conv_transpose2d(
            _: FloatTensor<Flex>,
            _: FloatTensor<Flex>,
            _: Option<FloatTensor<Flex>>,
            _: ConvTransposeOptions<2>,
        ) -> FloatTensor<Flex> {
            unreachable!()
        }
        fn conv_transpose3d(
            _: FloatTensor<Flex>,
            _: FloatTensor<Flex>,
            _: Option<FloatTensor<Flex>>,
            _: ConvTransposeOptions<3>,
        ) -> FloatTensor<Flex> {
            unreachable!()
        }
        fn avg_pool2d(
            _: FloatTensor<Flex>,
            _: [usize; 2],
            _: [usize; 2],
            _: [usize; 2],
            _: bool,
            _: bool,
        ) -> FloatTensor<Flex> {
            unreachable!()
        }
        fn avg_pool2d_backward(
            _: FloatTensor<Flex>,
            _: FloatTensor<Flex>,
            _: [usize; 2],
            _: [usize; 2],
            _: [usize; 2],
            _: bool,
            _: bool,
        ) -> FloatTensor<Flex> {
            unreachable!()
        }
        fn adaptive_avg_pool2d(_: FloatTensor<Flex>, _: [usize; 2]) -> FloatTensor<Flex> {
            unreachable!()
        }
        fn adaptive_avg_pool2d_backward(
            _: FloatTensor<Flex>,
            _: FloatTensor<Flex>,
        ) -> FloatTensor<Flex> {
            unreachable!()
        }
        fn adaptive_avg_pool3d(_: FloatTensor<Flex>, _: [usize; 3]) -> FloatTensor<Flex> {
            unreachable!()
        }
        fn adaptive_avg_pool3d_backward(
            _: FloatTensor<Flex>,
            _: FloatTensor<Flex>,
        ) -> FloatTensor<Flex> {
            unreachable!()
        }
        fn max_pool2d(
            _: FloatTensor<Flex>,
            _: [usize; 2],
            _: [usize; 2],
            _: [usize; 2],
            _: [usize; 2],
            _: bool,
        ) -> FloatTensor<Flex> {
            unreachable!()
        }
        fn max_pool2d_with_indices(
            _: FloatTensor<Flex>,
            _: [usize; 2],
            _: [usize; 2],
            _: [usize; 2],
            _: [usize; 2],
            _: bool,
            _: IntDType,
        ) -> MaxPool2dWithIndices<Flex> {
            unreachable!()
        }
        fn max_pool2d_with_indices_backward(
            _: FloatTensor<Flex>,
            _: [usize; 2],
            _: [usize; 2],
            _: [usize; 2],
            _: [usize; 2],
            _: bool,
            _: FloatTensor<Flex>,
            _: IntTensor<Flex>,
        ) -> MaxPool2dBackward<Flex> {
            unreachable!()
        }
        fn interpolate(
            _: FloatTensor<Flex>,
            _: [usize; 2],
            _: InterpolateOptions,
        ) -> FloatTensor<Flex> {
            unreachable!()
        }
        fn interpolate_backward(
            _: FloatTensor<Flex>,
            _: FloatTensor<Flex>,
            _: [usize; 2],
            _: InterpolateOptions,
        ) -> FloatTensor<Flex> {
            unreachable!()
        }
        fn attention(
            _: FloatTensor<Flex>,
            _: FloatTensor<Flex>,
            _: FloatTensor<Flex>,
            _: Option<BoolTensor<Flex>>,
            _: Option<FloatTensor<Flex>>,
            _: AttentionModuleOptions,
        ) -> FloatTensor<Flex> {
            unreachable!()
        }
    }

    /// One convolution: input `[n, c_in, h, w]`, kernel `k = (kh, kw)`, output channels.
    #[derive(Clone, Debug)]
    pub(crate) struct Case {
        pub(crate) n: usize,
        pub(crate) c_in: usize,
        pub(crate) c_out: usize,
        pub(crate) h: usize,
        pub(crate) w: usize,
        pub(crate) k: [usize; 2],
        pub(crate) stride: [usize; 2],
        pub(crate) padding: [(usize, usize); 2],
        pub(crate) dilation: [usize; 2],
        pub(crate) groups: usize,
    }

    impl Case {
        pub(crate) fn options(&self) -> ConvOptions<2> {
            ConvOptions::new_with_padding(self.stride, self.padding, self.dilation, self.groups)
        }
        pub(crate) fn out(&self) -> [usize; 2] {
            let size = |a: usize, input: usize| {
                let span = self.dilation[a] * (self.k[a] - 1) + 1;
                (input + self.padding[a].0 + self.padding[a].1 - span) / self.stride[a] + 1
            };
            [size(0, self.h), size(1, self.w)]
        }
        pub(crate) fn x_shape(&self) -> Vec<usize> {
            vec![self.n, self.c_in, self.h, self.w]
        }
        pub(crate) fn w_shape(&self) -> Vec<usize> {
            vec![self.c_out, self.c_in / self.groups, self.k[0], self.k[1]]
        }
        pub(crate) fn dy_shape(&self) -> Vec<usize> {
            let [oh, ow] = self.out();
            vec![self.n, self.c_out, oh, ow]
        }
    }

    /// Deterministic values in [-1, 1).
    pub(crate) fn values(len: usize, seed: u64) -> Vec<f64> {
        let mut state = seed.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
        (0..len)
            .map(|_| {
                state = state.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
                ((state >> 11) as f64 / (1u64 << 53) as f64) * 2.0 - 1.0
            })
            .collect()
    }

    /// The definition in f64, and `Σ |terms|` per element (the scale of its rounding error).
    fn reference(case: &Case, x: &[f64], dy: &[f64]) -> (Vec<f64>, Vec<f64>) {
        let [oh, ow] = case.out();
        let (cig, cog) = (case.c_in / case.groups, case.c_out / case.groups);
        let [kh, kw] = case.k;
        let mut value = vec![0.0; case.c_out * cig * kh * kw];
        let mut scale = value.clone();
        for co in 0..case.c_out {
            for ci in 0..cig {
                let c = (co / cog) * cig + ci;
                for i in 0..kh {
                    for j in 0..kw {
                        let (mut sum, mut abs) = (0.0, 0.0);
                        for n in 0..case.n {
                            for a in 0..oh {
                                for b in 0..ow {
                                    let ih = (a * case.stride[0] + i * case.dilation[0]) as isize
                                        - case.padding[0].0 as isize;
                                    let iw = (b * case.stride[1] + j * case.dilation[1]) as isize
                                        - case.padding[1].0 as isize;
                                    if ih < 0 || iw < 0 || ih >= case.h as isize || iw >= case.w as isize {
                                        continue;
                                    }
                                    let xv = x[((n * case.c_in + c) * case.h + ih as usize) * case.w + iw as usize];
                                    let term = dy[((n * case.c_out + co) * oh + a) * ow + b] * xv;
                                    sum += term;
                                    abs += term.abs();
                                }
                            }
                        }
                        let idx = ((co * cig + ci) * kh + i) * kw + j;
                        value[idx] = sum;
                        scale[idx] = abs;
                    }
                }
            }
        }
        (value, scale)
    }

    pub(crate) fn tensor_f32(v: &[f64], shape: Vec<usize>) -> FlexTensor {
        FlexTensor::from_data(TensorData::new(v.iter().map(|&a| a as f32).collect::<Vec<_>>(), shape))
    }

    pub(crate) fn to_f64(t: FlexTensor) -> Vec<f64> {
        t.into_data().convert::<f64>().try_into_vec::<f64>().unwrap()
    }

    /// Largest `|got − want| / (Σ|terms| + tiny)` over the gradient's elements.
    pub(crate) fn max_error(got: &[f64], want: &[f64], scale: &[f64]) -> f64 {
        assert_eq!(got.len(), want.len());
        got.iter()
            .zip(want)
            .zip(scale)
            .map(|((g, w), s)| (g - w).abs() / (s + 1e-30))
            .fold(0.0, f64::max)
    }

    fn run_f32(case: &Case, x: &[f64], dy: &[f64]) -> FlexTensor {
        let weight = FlexTensor::from_data(TensorData::zeros::<f32, _>(case.w_shape()));
        let out = Flex::conv2d_weight_backward(
            tensor_f32(x, case.x_shape()),
            weight,
            tensor_f32(dy, case.dy_shape()),
            case.options(),
        );
        assert_eq!(out.shape().to_vec(), case.w_shape(), "{case:?}");
        out
    }

    /// Every combination of the options on small shapes (f32 against the f64 definition).
    #[test]
    fn matches_definition_over_options() {
        let mut checked = 0;
        let mut worst = (0.0f64, String::new());
        for &(n, c_in, c_out, groups) in
            &[(1, 1, 1, 1), (3, 4, 6, 1), (3, 4, 6, 2), (3, 6, 6, 6), (1, 3, 6, 3), (3, 1, 5, 1)]
        {
            for &k in &[1usize, 3, 5, 7] {
                for &stride in &[1usize, 2] {
                    for &pad in &[0usize, 1, 3] {
                        for &dilation in &[1usize, 2] {
                            // 11×9 leaves the last rows/columns of x unread for some options.
                            let case = Case {
                                n,
                                c_in,
                                c_out,
                                h: 11,
                                w: 9,
                                k: [k, k],
                                stride: [stride, stride],
                                padding: [(pad, pad), (pad, pad)],
                                dilation: [dilation, dilation],
                                groups,
                            };
                            let span = dilation * (k - 1) + 1;
                            if span > 9 + 2 * pad {
                                continue;
                            }
                            let x = values(case.x_shape().iter().product(), 1);
                            let dy = values(case.dy_shape().iter().product(), 2);
                            let (want, scale) = reference(&case, &x, &dy);
                            let got = to_f64(run_f32(&case, &x, &dy));
                            let err = max_error(&got, &want, &scale);
                            assert!(err < 1e-5, "{case:?}: error {err:e}");
                            if err > worst.0 {
                                worst = (err, alloc::format!("{case:?}"));
                            }
                            checked += 1;
                        }
                    }
                }
            }
        }
        assert!(checked > 250, "{checked}");
        std::println!("{checked} cases, worst relative error {:e} at {}", worst.0, worst.1);
    }

    /// Larger shapes that take the parallel and sample-chunked paths, anisotropic options,
    /// asymmetric padding, depthwise with a channel multiplier.
    #[test]
    fn matches_definition_on_larger_and_uneven_shapes() {
        let cases = [
            // groups = 1, several samples per GEMM (small planes) and workers.
            Case { n: 9, c_in: 16, c_out: 24, h: 7, w: 7, k: [3, 3], stride: [1, 1], padding: [(1, 1), (1, 1)], dilation: [1, 1], groups: 1 },
            // Pointwise, stride 1 (x used directly) and stride 2.
            Case { n: 5, c_in: 32, c_out: 16, h: 20, w: 20, k: [1, 1], stride: [1, 1], padding: [(0, 0), (0, 0)], dilation: [1, 1], groups: 1 },
            Case { n: 5, c_in: 32, c_out: 16, h: 21, w: 20, k: [1, 1], stride: [2, 2], padding: [(0, 0), (0, 0)], dilation: [1, 1], groups: 1 },
            // 1×1 with padding: not pointwise.
            Case { n: 2, c_in: 3, c_out: 4, h: 5, w: 6, k: [1, 1], stride: [1, 1], padding: [(1, 1), (2, 2)], dilation: [1, 1], groups: 1 },
            // Anisotropic kernel, stride, dilation, padding.
            Case { n: 3, c_in: 5, c_out: 7, h: 13, w: 10, k: [3, 2], stride: [2, 1], padding: [(2, 2), (0, 0)], dilation: [1, 3], groups: 1 },
            Case { n: 3, c_in: 6, c_out: 6, h: 13, w: 10, k: [2, 5], stride: [1, 3], padding: [(0, 0), (3, 3)], dilation: [2, 1], groups: 6 },
            // Asymmetric padding (TensorFlow SAME for stride 2), groups 1 and depthwise.
            Case { n: 2, c_in: 4, c_out: 8, h: 10, w: 10, k: [3, 3], stride: [2, 2], padding: [(0, 1), (0, 1)], dilation: [1, 1], groups: 1 },
            Case { n: 2, c_in: 4, c_out: 4, h: 10, w: 9, k: [5, 5], stride: [2, 2], padding: [(1, 2), (2, 1)], dilation: [1, 1], groups: 4 },
            Case { n: 2, c_in: 4, c_out: 4, h: 6, w: 6, k: [1, 1], stride: [1, 1], padding: [(0, 1), (1, 0)], dilation: [1, 1], groups: 1 },
            // Depthwise with multiplier 3; grouped with 2 input and 3 output channels per group.
            Case { n: 3, c_in: 4, c_out: 12, h: 9, w: 9, k: [3, 3], stride: [1, 1], padding: [(1, 1), (1, 1)], dilation: [1, 1], groups: 4 },
            Case { n: 3, c_in: 8, c_out: 12, h: 9, w: 9, k: [3, 3], stride: [2, 2], padding: [(1, 1), (1, 1)], dilation: [1, 1], groups: 4 },
            // Big enough for rayon on both paths.
            Case { n: 4, c_in: 24, c_out: 32, h: 28, w: 28, k: [3, 3], stride: [1, 1], padding: [(1, 1), (1, 1)], dilation: [1, 1], groups: 1 },
            Case { n: 1, c_in: 24, c_out: 32, h: 56, w: 56, k: [3, 3], stride: [2, 2], padding: [(1, 1), (1, 1)], dilation: [1, 1], groups: 1 },
            Case { n: 4, c_in: 48, c_out: 48, h: 30, w: 30, k: [5, 5], stride: [2, 2], padding: [(2, 2), (2, 2)], dilation: [1, 1], groups: 48 },
            Case { n: 3, c_in: 1, c_out: 32, h: 28, w: 28, k: [5, 5], stride: [1, 1], padding: [(0, 0), (0, 0)], dilation: [1, 1], groups: 1 },
        ];
        for case in &cases {
            let x = values(case.x_shape().iter().product(), 3);
            let dy = values(case.dy_shape().iter().product(), 4);
            let (want, scale) = reference(case, &x, &dy);
            let got = to_f64(run_f32(case, &x, &dy));
            let err = max_error(&got, &want, &scale);
            assert!(err < 1e-5, "{case:?}: error {err:e}");
        }
    }

    fn depthwise_and_dense() -> [Case; 2] {
        [
            Case { n: 3, c_in: 5, c_out: 7, h: 12, w: 11, k: [3, 3], stride: [2, 2], padding: [(1, 1), (1, 1)], dilation: [1, 1], groups: 1 },
            Case { n: 3, c_in: 6, c_out: 6, h: 12, w: 11, k: [5, 5], stride: [1, 1], padding: [(2, 2), (2, 2)], dilation: [1, 1], groups: 6 },
        ]
    }

    #[test]
    fn f64_f16_bf16() {
        for case in &depthwise_and_dense() {
            let x = values(case.x_shape().iter().product(), 5);
            let dy = values(case.dy_shape().iter().product(), 6);
            let (want, scale) = reference(case, &x, &dy);
            let run = |x: TensorData, dy: TensorData, w: TensorData| {
                let out = Flex::conv2d_weight_backward(
                    FlexTensor::from_data(x),
                    FlexTensor::from_data(w),
                    FlexTensor::from_data(dy),
                    case.options(),
                );
                assert_eq!(out.shape().to_vec(), case.w_shape());
                out
            };
            let out = run(
                TensorData::new(x.clone(), case.x_shape()),
                TensorData::new(dy.clone(), case.dy_shape()),
                TensorData::zeros::<f64, _>(case.w_shape()),
            );
            assert_eq!(out.dtype(), burn_backend::DType::F64);
            let err = max_error(&to_f64(out), &want, &scale);
            assert!(err < 1e-12, "f64 {case:?}: {err:e}");

            // Half precision: the reference on the rounded inputs; output rounding dominates.
            let xh: Vec<f16> = x.iter().map(|&v| f16::from_f64(v)).collect();
            let dyh: Vec<f16> = dy.iter().map(|&v| f16::from_f64(v)).collect();
            let (want_h, scale_h) = reference(
                case,
                &xh.iter().map(|v| v.to_f64()).collect::<Vec<_>>(),
                &dyh.iter().map(|v| v.to_f64()).collect::<Vec<_>>(),
            );
            let out = run(
                TensorData::new(xh, case.x_shape()),
                TensorData::new(dyh, case.dy_shape()),
                TensorData::zeros::<f16, _>(case.w_shape()),
            );
            assert_eq!(out.dtype(), burn_backend::DType::F16);
            let err = max_error(&to_f64(out), &want_h, &scale_h);
            assert!(err < 1e-3, "f16 {case:?}: {err:e}");

            let xb: Vec<bf16> = x.iter().map(|&v| bf16::from_f64(v)).collect();
            let dyb: Vec<bf16> = dy.iter().map(|&v| bf16::from_f64(v)).collect();
            let (want_b, scale_b) = reference(
                case,
                &xb.iter().map(|v| v.to_f64()).collect::<Vec<_>>(),
                &dyb.iter().map(|v| v.to_f64()).collect::<Vec<_>>(),
            );
            let out = run(
                TensorData::new(xb, case.x_shape()),
                TensorData::new(dyb, case.dy_shape()),
                TensorData::zeros::<bf16, _>(case.w_shape()),
            );
            assert_eq!(out.dtype(), burn_backend::DType::BF16);
            let err = max_error(&to_f64(out), &want_b, &scale_b);
            assert!(err < 1e-2, "bf16 {case:?}: {err:e}");
        }
    }

    /// `x` and `dy` as transposed views (non-contiguous strides).
    #[test]
    fn non_contiguous_inputs() {
        for case in &depthwise_and_dense() {
            let x = values(case.x_shape().iter().product(), 7);
            let dy = values(case.dy_shape().iter().product(), 8);
            let (want, scale) = reference(case, &x, &dy);
            // Store [n, c, w, h] and swap the last two dims back: same logical tensor.
            let swap = |v: &[f64], s: &[usize]| {
                let mut out = vec![0.0; v.len()];
                for a in 0..s[0] * s[1] {
                    for i in 0..s[2] {
                        for j in 0..s[3] {
                            out[(a * s[3] + j) * s[2] + i] = v[(a * s[2] + i) * s[3] + j];
                        }
                    }
                }
                let t = tensor_f32(&out, vec![s[0], s[1], s[3], s[2]]);
                let t = Flex::float_swap_dims(t, 2, 3);
                assert!(!t.layout().is_contiguous());
                t
            };
            let out = Flex::conv2d_weight_backward(
                swap(&x, &case.x_shape()),
                FlexTensor::from_data(TensorData::zeros::<f32, _>(case.w_shape())),
                swap(&dy, &case.dy_shape()),
                case.options(),
            );
            let err = max_error(&to_f64(out), &want, &scale);
            assert!(err < 1e-5, "{case:?}: {err:e}");
        }
    }

    /// Against burn-backend's own generic implementation, including where padding zeros meet
    /// non-finite gradients (`0 · inf = NaN`) and non-finite inputs.
    #[test]
    fn matches_generic_default() {
        let mut cases = depthwise_and_dense().to_vec();
        cases.push(Case { n: 2, c_in: 4, c_out: 6, h: 9, w: 9, k: [3, 3], stride: [2, 2], padding: [(0, 1), (0, 1)], dilation: [1, 1], groups: 2 });
        cases.push(Case { n: 2, c_in: 8, c_out: 4, h: 7, w: 7, k: [1, 1], stride: [1, 1], padding: [(0, 0), (0, 0)], dilation: [1, 1], groups: 1 });
        for case in &cases {
            for poison in [None, Some((f64::INFINITY, false)), Some((f64::NAN, false)), Some((f64::INFINITY, true))] {
                let mut x = values(case.x_shape().iter().product(), 9);
                let mut dy = values(case.dy_shape().iter().product(), 10);
                if let Some((v, in_x)) = poison {
                    // A corner value: it meets padding for some taps.
                    if in_x {
                        x[0] = v;
                    } else {
                        dy[0] = v;
                    }
                }
                let args = || {
                    (
                        tensor_f32(&x, case.x_shape()),
                        FlexTensor::from_data(TensorData::zeros::<f32, _>(case.w_shape())),
                        tensor_f32(&dy, case.dy_shape()),
                    )
                };
                let (a, b, c) = args();
                let ours = to_f64(Flex::conv2d_weight_backward(a, b, c, case.options()));
                let (a, b, c) = args();
                let generic = to_f64(GenericPath::conv2d_weight_backward(a, b, c, case.options()));
                assert_eq!(ours.len(), generic.len());
                for (o, g) in ours.iter().zip(&generic) {
                    let same = (o.is_nan() && g.is_nan())
                        || o == g
                        || (o - g).abs() <= 1e-5 * (1.0 + g.abs());
                    assert!(same, "{case:?} {poison:?}: ours {o} generic {g}\n{ours:?}\n{generic:?}");
                }
            }
        }
    }

    /// Old (burn-backend's generic path) vs new on the weight-gradient cases of augtrain's
    /// `tools/op_cases.json` (LeNet CNN, ResNet-18, EfficientNet-Lite0), f32, minimum of
    /// `CONVGRAD_REPS` (default 5) calls each. `CONVGRAD_FILTER=substring` selects cases,
    /// `CONVGRAD_OLD=0` skips the old path. Run:
    /// `cargo test --release --lib conv_weight_grad::tests::timing -- --ignored --nocapture`.
    #[test]
    #[ignore]
    fn timing() {
        use std::time::Instant;
        // (name, batch, c_in, size, c_out, kernel, stride, padding, groups)
        type Shape = (&'static str, usize, usize, usize, usize, usize, usize, usize, usize);
        let cases: &[Shape] = &[
            ("lenet.conv_k5s1_1x32_28", 64, 1, 28, 32, 5, 1, 0, 1),
            ("lenet.conv_k5s1_32x64_12", 64, 32, 12, 64, 5, 1, 0, 1),
            ("resnet18.stem_k7s2_3x64_224", 32, 3, 224, 64, 7, 2, 3, 1),
            ("resnet18.conv_k3s1_64x64_56", 32, 64, 56, 64, 3, 1, 1, 1),
            ("resnet18.conv_k3s2_64x128_56", 32, 64, 56, 128, 3, 2, 1, 1),
            ("resnet18.conv_k3s1_128x128_28", 32, 128, 28, 128, 3, 1, 1, 1),
            ("resnet18.downsample_k1s2_64x128_56", 32, 64, 56, 128, 1, 2, 0, 1),
            ("resnet18.conv_k3s2_128x256_28", 32, 128, 28, 256, 3, 2, 1, 1),
            ("resnet18.conv_k3s1_256x256_14", 32, 256, 14, 256, 3, 1, 1, 1),
            ("resnet18.downsample_k1s2_128x256_28", 32, 128, 28, 256, 1, 2, 0, 1),
            ("resnet18.conv_k3s2_256x512_14", 32, 256, 14, 512, 3, 2, 1, 1),
            ("resnet18.conv_k3s1_512x512_7", 32, 512, 7, 512, 3, 1, 1, 1),
            ("resnet18.downsample_k1s2_256x512_14", 32, 256, 14, 512, 1, 2, 0, 1),
            ("efficientnet_lite0.stem_k3s2_3x32_224", 32, 3, 224, 32, 3, 2, 1, 1),
            ("efficientnet_lite0.dwconv_k3s1_32_112", 32, 32, 112, 32, 3, 1, 1, 32),
            ("efficientnet_lite0.project_k1s1_32x16_112", 32, 32, 112, 16, 1, 1, 0, 1),
            ("efficientnet_lite0.expand_k1s1_16x96_112", 32, 16, 112, 96, 1, 1, 0, 1),
            ("efficientnet_lite0.dwconv_k3s2_96_112", 32, 96, 112, 96, 3, 2, 1, 96),
            ("efficientnet_lite0.project_k1s1_96x24_56", 32, 96, 56, 24, 1, 1, 0, 1),
            ("efficientnet_lite0.expand_k1s1_24x144_56", 32, 24, 56, 144, 1, 1, 0, 1),
            ("efficientnet_lite0.dwconv_k3s1_144_56", 32, 144, 56, 144, 3, 1, 1, 144),
            ("efficientnet_lite0.project_k1s1_144x24_56", 32, 144, 56, 24, 1, 1, 0, 1),
            ("efficientnet_lite0.dwconv_k5s2_144_56", 32, 144, 56, 144, 5, 2, 2, 144),
            ("efficientnet_lite0.project_k1s1_144x40_28", 32, 144, 28, 40, 1, 1, 0, 1),
            ("efficientnet_lite0.expand_k1s1_40x240_28", 32, 40, 28, 240, 1, 1, 0, 1),
            ("efficientnet_lite0.dwconv_k5s1_240_28", 32, 240, 28, 240, 5, 1, 2, 240),
            ("efficientnet_lite0.project_k1s1_240x40_28", 32, 240, 28, 40, 1, 1, 0, 1),
            ("efficientnet_lite0.dwconv_k3s2_240_28", 32, 240, 28, 240, 3, 2, 1, 240),
            ("efficientnet_lite0.project_k1s1_240x80_14", 32, 240, 14, 80, 1, 1, 0, 1),
            ("efficientnet_lite0.expand_k1s1_80x480_14", 32, 80, 14, 480, 1, 1, 0, 1),
            ("efficientnet_lite0.dwconv_k3s1_480_14", 32, 480, 14, 480, 3, 1, 1, 480),
            ("efficientnet_lite0.project_k1s1_480x80_14", 32, 480, 14, 80, 1, 1, 0, 1),
            ("efficientnet_lite0.dwconv_k5s1_480_14", 32, 480, 14, 480, 5, 1, 2, 480),
            ("efficientnet_lite0.project_k1s1_480x112_14", 32, 480, 14, 112, 1, 1, 0, 1),
            ("efficientnet_lite0.expand_k1s1_112x672_14", 32, 112, 14, 672, 1, 1, 0, 1),
            ("efficientnet_lite0.dwconv_k5s1_672_14", 32, 672, 14, 672, 5, 1, 2, 672),
            ("efficientnet_lite0.project_k1s1_672x112_14", 32, 672, 14, 112, 1, 1, 0, 1),
            ("efficientnet_lite0.dwconv_k5s2_672_14", 32, 672, 14, 672, 5, 2, 2, 672),
            ("efficientnet_lite0.project_k1s1_672x192_7", 32, 672, 7, 192, 1, 1, 0, 1),
            ("efficientnet_lite0.expand_k1s1_192x1152_7", 32, 192, 7, 1152, 1, 1, 0, 1),
            ("efficientnet_lite0.dwconv_k5s1_1152_7", 32, 1152, 7, 1152, 5, 1, 2, 1152),
            ("efficientnet_lite0.project_k1s1_1152x192_7", 32, 1152, 7, 192, 1, 1, 0, 1),
            ("efficientnet_lite0.dwconv_k3s1_1152_7", 32, 1152, 7, 1152, 3, 1, 1, 1152),
            ("efficientnet_lite0.project_k1s1_1152x320_7", 32, 1152, 7, 320, 1, 1, 0, 1),
            ("efficientnet_lite0.head_k1s1_320x1280_7", 32, 320, 7, 1280, 1, 1, 0, 1),
        ];
        let env = |k: &str| std::env::var(k).ok();
        let filter = env("CONVGRAD_FILTER").unwrap_or_default();
        let reps: usize = env("CONVGRAD_REPS").and_then(|v| v.parse().ok()).unwrap_or(5);
        let old = env("CONVGRAD_OLD").as_deref() != Some("0");
        std::println!("| case | old ms | new ms | old / new | max abs diff |");
        std::println!("| --- | ---: | ---: | ---: | ---: |");
        for &(name, n, c_in, size, c_out, k, s, p, groups) in cases {
            if !name.contains(filter.as_str()) {
                continue;
            }
            let case = Case {
                n,
                c_in,
                c_out,
                h: size,
                w: size,
                k: [k, k],
                stride: [s, s],
                padding: [(p, p), (p, p)],
                dilation: [1, 1],
                groups,
            };
            let x = tensor_f32(&values(case.x_shape().iter().product(), 11), case.x_shape());
            let dy = tensor_f32(&values(case.dy_shape().iter().product(), 12), case.dy_shape());
            let w = FlexTensor::from_data(TensorData::zeros::<f32, _>(case.w_shape()));
            let time = |f: &dyn Fn() -> FlexTensor| {
                let mut best = f64::INFINITY;
                let mut out = None;
                for _ in 0..reps {
                    let start = Instant::now();
                    let r = f();
                    best = best.min(start.elapsed().as_secs_f64() * 1e3);
                    out = Some(r);
                }
                (best, out.unwrap())
            };
            let (new_ms, new) = time(&|| {
                Flex::conv2d_weight_backward(x.clone(), w.clone(), dy.clone(), case.options())
            });
            if old {
                let (old_ms, reference) = time(&|| {
                    GenericPath::conv2d_weight_backward(x.clone(), w.clone(), dy.clone(), case.options())
                });
                let diff = to_f64(new)
                    .iter()
                    .zip(to_f64(reference))
                    .map(|(a, b)| (a - b).abs())
                    .fold(0.0, f64::max);
                std::println!("| {name} | {old_ms:.2} | {new_ms:.2} | {:.2}x | {diff:.1e} |", old_ms / new_ms);
            } else {
                std::println!("| {name} | | {new_ms:.2} | | |");
            }
        }
    }
}
