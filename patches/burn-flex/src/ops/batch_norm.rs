//! Batch normalization over `[batch, channels, ...]` tensors as fused per-channel passes
//! (augtrain's patch; see `patches/README.md` in augtrain's repository).
//!
//! The backend's default `batch_norm_train` and its backward compose generic ops: a
//! `swap_dims(0, 1)` and reshape to `[C, N·S]` (a physical transpose of the whole activation)
//! for every statistic, then separate subtract, square, mean, divide, multiply and add passes.
//! Here each channel's `N` contiguous runs of `S = H·W·…` values are read in place:
//! - forward (training): one pass for the mean, one for the biased variance (two-pass, as the
//!   default: `mean((x − mean)²)`), one writing `(x − mean) / sqrt(var + eps) · γ + β`;
//! - forward (inference): the last pass only, with the given statistics;
//! - backward: one pass for `Σ dy` and `Σ dy · x̂`, one writing
//!   `γ · inv_std · (dy − mean(dy) − x̂ · mean(dy · x̂))` with `x̂ = (x − mean) · inv_std`,
//!   the default's formula.
//!
//! Sums are accumulated in f64 per channel (the default accumulates in the element type), in
//! eight fixed partial sums per run so the loops vectorize and results stay deterministic; they
//! agree with the default to float rounding. Channels run in parallel with rayon.
//! f32 and f64 are computed natively; f16 and bf16 through f32.

use alloc::vec;
use alloc::vec::Vec;

use burn_backend::DType;
// `sqrt` without std (libm through num-traits); with std the inherent method is used.
use burn_std::{Bytes, Shape, bf16, f16};
#[allow(unused_imports)]
use num_traits::Float;

use crate::ops::module::{cast_from_f32, cast_to_f32};
use crate::{FlexTensor, Layout};

/// An element batch norm computes on natively.
pub(crate) trait Real: burn_std::Element + bytemuck::Pod + Copy + Send + Sync {
    fn to_f64(self) -> f64;
    fn from_f64(v: f64) -> Self;
    const DTYPE: DType;
}

impl Real for f32 {
    fn to_f64(self) -> f64 {
        self as f64
    }
    fn from_f64(v: f64) -> Self {
        v as f32
    }
    const DTYPE: DType = DType::F32;
}

impl Real for f64 {
    fn to_f64(self) -> f64 {
        self
    }
    fn from_f64(v: f64) -> Self {
        v
    }
    const DTYPE: DType = DType::F64;
}

/// `(channels, values per channel per sample)` of a `[N, C, ...]` shape.
pub(crate) fn split(shape: &Shape) -> (usize, usize, usize) {
    let n = shape[0];
    let c = shape[1];
    let s = shape.num_elements() / (n * c).max(1);
    (n, c, s)
}

pub(crate) fn tensor<T: Real>(values: Vec<T>, shape: Shape) -> FlexTensor {
    FlexTensor::new(
        Bytes::from_elems(values),
        Layout::contiguous(shape),
        T::DTYPE,
    )
}

/// Per channel `f(channel) -> R`, in parallel where the tensor is large.
pub(crate) fn per_channel<R: Send>(
    c: usize,
    total: usize,
    f: impl Fn(usize) -> R + Sync + Send,
) -> Vec<R> {
    #[cfg(feature = "rayon")]
    if total >= crate::ops::PARALLEL_THRESHOLD {
        use rayon::prelude::*;
        return (0..c).into_par_iter().map(f).collect();
    }
    let _ = total;
    (0..c).map(f).collect()
}

/// Fill `out` (laid out as `x`) run by run: `f(channel, run_index_in_x, out_run)`.
fn per_run<T: Real>(
    out: &mut [T],
    c: usize,
    s: usize,
    f: impl Fn(usize, usize, &mut [T]) + Sync + Send,
) {
    if s == 0 {
        return;
    }
    #[cfg(feature = "rayon")]
    if out.len() >= crate::ops::PARALLEL_THRESHOLD {
        use rayon::prelude::*;
        out.par_chunks_mut(s)
            .enumerate()
            .for_each(|(k, run)| f(k % c, k, run));
        return;
    }
    for (k, run) in out.chunks_mut(s).enumerate() {
        f(k % c, k, run);
    }
}

/// Channel `ch`'s runs of `data` (`[N, C, S]` contiguous).
pub(crate) fn runs<T: Real>(
    data: &[T],
    n: usize,
    c: usize,
    s: usize,
    ch: usize,
) -> impl Iterator<Item = &[T]> {
    (0..n).map(move |b| &data[(b * c + ch) * s..(b * c + ch + 1) * s])
}

/// Independent partial sums a reduction keeps: enough for the compiler to vectorize the loop
/// (AVX2: two 4-lane f64 registers) while the order of the additions stays fixed.
const LANES: usize = 8;

/// `Σ f(a_i)` in `LANES` f64 partial sums added in a fixed order (deterministic).
#[inline(always)]
pub(crate) fn lane_sum<T: Real>(a: &[T], f: impl Fn(f64) -> f64) -> f64 {
    let mut acc = [0.0f64; LANES];
    let chunks = a.chunks_exact(LANES);
    let tail: f64 = chunks.remainder().iter().map(|v| f(v.to_f64())).sum();
    for chunk in chunks {
        for (l, v) in acc.iter_mut().zip(chunk) {
            *l += f(v.to_f64());
        }
    }
    acc.iter().sum::<f64>() + tail
}

/// Both components of `Σ f(a_i, b_i)` over paired slices, summed as in [`lane_sum`].
#[inline(always)]
fn lane_sum_pair<T: Real>(a: &[T], b: &[T], f: impl Fn(f64, f64) -> (f64, f64)) -> (f64, f64) {
    let (mut acc0, mut acc1) = ([0.0f64; LANES], [0.0f64; LANES]);
    let (ca, cb) = (a.chunks_exact(LANES), b.chunks_exact(LANES));
    let (mut t0, mut t1) = (0.0f64, 0.0f64);
    for (x, y) in ca.remainder().iter().zip(cb.remainder()) {
        let (u, v) = f(x.to_f64(), y.to_f64());
        t0 += u;
        t1 += v;
    }
    for (xa, xb) in ca.zip(cb) {
        for l in 0..LANES {
            let (u, v) = f(xa[l].to_f64(), xb[l].to_f64());
            acc0[l] += u;
            acc1[l] += v;
        }
    }
    (acc0.iter().sum::<f64>() + t0, acc1.iter().sum::<f64>() + t1)
}

/// Mean and biased variance of every channel (two passes, f64 sums).
fn statistics<T: Real>(x: &[T], n: usize, c: usize, s: usize) -> Vec<(f64, f64)> {
    let m = (n * s).max(1) as f64;
    per_channel(c, x.len(), |ch| {
        let sum: f64 = runs(x, n, c, s, ch).map(|r| lane_sum(r, |v| v)).sum();
        let mean = sum / m;
        let sq: f64 = runs(x, n, c, s, ch)
            .map(|r| lane_sum(r, |v| (v - mean) * (v - mean)))
            .sum();
        (mean, sq / m)
    })
}

/// `(x − mean) / sqrt(var + eps) · γ + β` with per-channel statistics.
fn normalize<T: Real>(
    x: &[T],
    shape: Shape,
    gamma: &[T],
    beta: &[T],
    stats: &[(f64, f64)],
    eps: f64,
) -> FlexTensor {
    let (_, c, s) = split(&shape);
    let mut out = vec![T::from_f64(0.0); x.len()];
    per_run(&mut out, c, s, |ch, k, run| {
        let (mean, var) = stats[ch];
        let scale = gamma[ch].to_f64() / (var + eps).sqrt();
        let shift = beta[ch].to_f64() - mean * scale;
        for (o, v) in run.iter_mut().zip(&x[k * s..(k + 1) * s]) {
            *o = T::from_f64(v.to_f64() * scale + shift);
        }
    });
    tensor(out, shape)
}

/// Training-mode forward: output, mean and biased variance.
fn train_native<T: Real>(
    x: FlexTensor,
    gamma: FlexTensor,
    beta: FlexTensor,
    eps: f64,
) -> (FlexTensor, FlexTensor, FlexTensor) {
    let (x, gamma, beta) = (
        x.to_contiguous(),
        gamma.to_contiguous(),
        beta.to_contiguous(),
    );
    let shape = x.layout().shape().clone();
    let (n, c, s) = split(&shape);
    let xs: &[T] = x.storage();
    let stats = statistics(xs, n, c, s);
    let out = normalize(xs, shape, gamma.storage(), beta.storage(), &stats, eps);
    let mean = stats.iter().map(|p| T::from_f64(p.0)).collect();
    let var = stats.iter().map(|p| T::from_f64(p.1)).collect();
    (
        out,
        tensor::<T>(mean, Shape::new([c])),
        tensor::<T>(var, Shape::new([c])),
    )
}

/// Inference-mode forward with the given statistics.
fn eval_native<T: Real>(
    x: FlexTensor,
    gamma: FlexTensor,
    beta: FlexTensor,
    mean: FlexTensor,
    var: FlexTensor,
    eps: f64,
) -> FlexTensor {
    let x = x.to_contiguous();
    let (mean, var) = (mean.to_contiguous(), var.to_contiguous());
    let stats: Vec<(f64, f64)> = mean
        .storage::<T>()
        .iter()
        .zip(var.storage::<T>())
        .map(|(m, v)| (m.to_f64(), v.to_f64()))
        .collect();
    let shape = x.layout().shape().clone();
    let (gamma, beta) = (gamma.to_contiguous(), beta.to_contiguous());
    normalize(
        x.storage::<T>(),
        shape,
        gamma.storage(),
        beta.storage(),
        &stats,
        eps,
    )
}

/// Backward of the training-mode forward: dL/dx, dL/dγ, dL/dβ.
fn backward_native<T: Real>(
    x: FlexTensor,
    gamma: FlexTensor,
    mean: FlexTensor,
    var: FlexTensor,
    eps: f64,
    dy: FlexTensor,
) -> (FlexTensor, FlexTensor, FlexTensor) {
    let (x, dy, gamma) = (x.to_contiguous(), dy.to_contiguous(), gamma.to_contiguous());
    let (mean, var) = (mean.to_contiguous(), var.to_contiguous());
    let shape = x.layout().shape().clone();
    let (n, c, s) = split(&shape);
    let (xs, dys): (&[T], &[T]) = (x.storage(), dy.storage());
    let (ms, vs, gs): (&[T], &[T], &[T]) = (mean.storage(), var.storage(), gamma.storage());
    let inv_std: Vec<f64> = vs.iter().map(|v| 1.0 / (v.to_f64() + eps).sqrt()).collect();
    // Per channel: Σ dy and Σ dy·x̂.
    let sums = per_channel(c, xs.len(), |ch| {
        let (m, is) = (ms[ch].to_f64(), inv_std[ch]);
        let (mut sd, mut sdx) = (0.0f64, 0.0f64);
        for (xr, dr) in runs(xs, n, c, s, ch).zip(runs(dys, n, c, s, ch)) {
            let (a, b) = lane_sum_pair(xr, dr, |v, d| (d, d * (v - m)));
            sd += a;
            sdx += b;
        }
        (sd, sdx * is)
    });
    let count = (n * s).max(1) as f64;
    let mut dx = vec![T::from_f64(0.0); xs.len()];
    per_run(&mut dx, c, s, |ch, k, run| {
        let (m, is) = (ms[ch].to_f64(), inv_std[ch]);
        let (mean_dy, mean_dyx) = (sums[ch].0 / count, sums[ch].1 / count);
        let scale = gs[ch].to_f64() * is;
        let (xr, dr) = (&xs[k * s..(k + 1) * s], &dys[k * s..(k + 1) * s]);
        for ((o, v), d) in run.iter_mut().zip(xr).zip(dr) {
            let xhat = (v.to_f64() - m) * is;
            *o = T::from_f64(scale * (d.to_f64() - mean_dy - xhat * mean_dyx));
        }
    });
    let dgamma = sums.iter().map(|p| T::from_f64(p.1)).collect();
    let dbeta = sums.iter().map(|p| T::from_f64(p.0)).collect();
    (
        tensor(dx, shape),
        tensor::<T>(dgamma, Shape::new([c])),
        tensor::<T>(dbeta, Shape::new([c])),
    )
}

/// Half-precision tensors through f32: `f` on the converted inputs, outputs converted back.
fn via_f32<const K: usize>(
    dtype: DType,
    inputs: [FlexTensor; K],
    f: impl FnOnce([FlexTensor; K]) -> Vec<FlexTensor>,
) -> Vec<FlexTensor> {
    let up = |t: FlexTensor| match dtype {
        DType::F16 => cast_to_f32(t, f16::to_f32),
        _ => cast_to_f32(t, bf16::to_f32),
    };
    let outs = f(inputs.map(up));
    outs.into_iter()
        .map(|t| match dtype {
            DType::F16 => cast_from_f32(t, f16::from_f32),
            _ => cast_from_f32(t, bf16::from_f32),
        })
        .collect()
}

/// Training-mode batch norm: output, mean, biased variance.
pub(crate) fn batch_norm_train(
    x: FlexTensor,
    gamma: FlexTensor,
    beta: FlexTensor,
    eps: f64,
) -> (FlexTensor, FlexTensor, FlexTensor) {
    match x.dtype() {
        DType::F32 => train_native::<f32>(x, gamma, beta, eps),
        DType::F64 => train_native::<f64>(x, gamma, beta, eps),
        dtype @ (DType::F16 | DType::BF16) => {
            let mut o = via_f32(dtype, [x, gamma, beta], |[x, g, b]| {
                let (y, m, v) = train_native::<f32>(x, g, b, eps);
                vec![y, m, v]
            });
            let (v, m, y) = (o.pop().unwrap(), o.pop().unwrap(), o.pop().unwrap());
            (y, m, v)
        }
        dtype => panic!("batch_norm_train: unsupported dtype {dtype:?}"),
    }
}

/// Inference-mode batch norm with the given statistics.
pub(crate) fn batch_norm(
    x: FlexTensor,
    gamma: FlexTensor,
    beta: FlexTensor,
    mean: FlexTensor,
    var: FlexTensor,
    eps: f64,
) -> FlexTensor {
    match x.dtype() {
        DType::F32 => eval_native::<f32>(x, gamma, beta, mean, var, eps),
        DType::F64 => eval_native::<f64>(x, gamma, beta, mean, var, eps),
        dtype @ (DType::F16 | DType::BF16) => {
            via_f32(dtype, [x, gamma, beta, mean, var], |[x, g, b, m, v]| {
                vec![eval_native::<f32>(x, g, b, m, v, eps)]
            })
            .pop()
            .unwrap()
        }
        dtype => panic!("batch_norm: unsupported dtype {dtype:?}"),
    }
}

/// Backward of [`batch_norm_train`]: dL/dx, dL/dγ, dL/dβ.
pub(crate) fn batch_norm_train_backward(
    x: FlexTensor,
    gamma: FlexTensor,
    mean: FlexTensor,
    var: FlexTensor,
    eps: f64,
    dy: FlexTensor,
) -> (FlexTensor, FlexTensor, FlexTensor) {
    match x.dtype() {
        DType::F32 => backward_native::<f32>(x, gamma, mean, var, eps, dy),
        DType::F64 => backward_native::<f64>(x, gamma, mean, var, eps, dy),
        dtype @ (DType::F16 | DType::BF16) => {
            let mut o = via_f32(dtype, [x, gamma, mean, var, dy], |[x, g, m, v, d]| {
                let (dx, dg, db) = backward_native::<f32>(x, g, m, v, eps, d);
                vec![dx, dg, db]
            });
            let (db, dg, dx) = (o.pop().unwrap(), o.pop().unwrap(), o.pop().unwrap());
            (dx, dg, db)
        }
        dtype => panic!("batch_norm_train_backward: unsupported dtype {dtype:?}"),
    }
}
