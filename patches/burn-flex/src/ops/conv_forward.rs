//! Forward 2D convolution straight from NCHW through one GEMM per chunk of samples
//! (augtrain's patch; see `patches/README.md` in augtrain's repository).
//!
//! burn-flex's general path (`conv3d_impl` in `conv.rs`) copies the input to NHWC serially, then
//! builds an im2col tile of 512 output positions at a time (allocating per tile and group) and
//! runs one small GEMM per tile. Here, per chunk of `B` samples, an im2col buffer
//! `cols = [c_in·kh·kw, B·oh·ow]` is filled from NCHW directly (the weight gradient's
//! [`im2col`]) and one GEMM per group computes
//!
//! `y[n, co, oh, ow] = b[co] + Σ_{ci,i,j} W[co, ci, i, j] · x[n, ci, oh·sh + i·dh − ph, ow·sw + j·dw − pw]`
//!
//! (zero outside `x`) as `W_g [cog, cig·kh·kw] × cols_g`, written straight into the sample's
//! `[c_out, oh·ow]` block of the NCHW output when `B = 1` (the bias preloaded there and read by
//! the GEMM), or into a `[c_out, B·oh·ow]` buffer copied out per sample when several samples
//! share a GEMM (small output planes). Chunks of samples are split between rayon workers, each
//! with its own buffers; with fewer samples than threads gemm parallelises each product.
//!
//! Padding zeros are multiplied explicitly, as in the general path, so a non-finite weight
//! gives NaN where its window meets padding there too. Asymmetric padding needs no padded copy:
//! positions past the end of `x` are zero. f32 and f64 are computed natively, f16 and bf16
//! through f32. The existing special paths (pointwise stride-1 GEMM, canonical depthwise,
//! small-channel direct loop, 1D-like direct path) keep their shapes; see [`conv2d`].

use alloc::vec;
use alloc::vec::Vec;

use burn_backend::{DType, ops::ConvOptions};
use burn_std::{Bytes, Shape, bf16, f16};

use crate::ops::conv_weight_grad::{Elem, Geometry, im2col, im2col_rows};
use crate::ops::module::{cast_from_f32, cast_to_f32};
use crate::ops::{conv_depthwise, conv_winograd};
use crate::{FlexTensor, Layout};

/// Samples share a GEMM until its width (`B · oh · ow`) reaches this.
const GEMM_MIN_WIDTH: usize = 256;
/// Upper bound on the im2col buffer per worker, in elements (unless one sample needs more).
const MAX_COLS: usize = 1 << 21;
/// A sample whose columns would exceed this many elements (large planes: ResNet's 56×56
/// layers need 1.8 M) is computed in tiles of whole output rows whose columns stay within it,
/// so each tile's columns are still in cache when the GEMM packs them.
const TILE_COLS: usize = 1 << 17;

/// The convolution through this module's GEMM path, or `None` where burn-flex's existing path
/// is kept: the shapes of its special paths, empty outputs, and dtypes other than the floats.
pub(crate) fn conv2d(
    x: &FlexTensor,
    weight: &FlexTensor,
    bias: Option<&FlexTensor>,
    options: &ConvOptions<2>,
) -> Option<FlexTensor> {
    let g = forward_geometry(x.layout().shape(), weight.layout().shape(), options)?;
    if !takes_gemm_path(&g) && !conv_depthwise::applies(&g) {
        return None;
    }
    Some(match x.dtype() {
        DType::F32 => native::<f32>(x, weight, bias, &g),
        DType::F64 => native::<f64>(x, weight, bias, &g),
        DType::F16 => cast_from_f32(
            native::<f32>(
                &cast_to_f32(x.clone(), f16::to_f32),
                &cast_to_f32(weight.clone(), f16::to_f32),
                bias.map(|b| cast_to_f32(b.clone(), f16::to_f32)).as_ref(),
                &g,
            ),
            f16::from_f32,
        ),
        DType::BF16 => cast_from_f32(
            native::<f32>(
                &cast_to_f32(x.clone(), bf16::to_f32),
                &cast_to_f32(weight.clone(), bf16::to_f32),
                bias.map(|b| cast_to_f32(b.clone(), bf16::to_f32)).as_ref(),
                &g,
            ),
            bf16::from_f32,
        ),
        _ => return None,
    })
}

/// Shapes of the convolution, or `None` if the output would be empty, the kernel's span exceeds
/// the padded input or the channels do not divide into the groups (the existing path handles or
/// reports these).
fn forward_geometry(x: &Shape, weight: &Shape, options: &ConvOptions<2>) -> Option<Geometry> {
    if x.num_dims() != 4 || weight.num_dims() != 4 {
        return None;
    }
    let size = |axis: usize| {
        let span = options.dilation[axis] * (weight[2 + axis].checked_sub(1)?) + 1;
        let (begin, end) = options.padding[axis];
        let padded = x[2 + axis] + begin + end;
        Some(padded.checked_sub(span)? / options.stride[axis] + 1)
    };
    let (oh, ow) = (size(0)?, size(1)?);
    let dy = Shape::from(vec![x[0], weight[0], oh, ow]);
    let groups = options.groups;
    if x[0] == 0
        || x[1] == 0
        || weight[0] == 0
        || !weight[0].is_multiple_of(groups)
        || weight[1] * groups != x[1]
    {
        return None;
    }
    Some(Geometry::new(x, weight, &dy, options))
}

/// Whether the GEMM path is used: not where a special path of `conv.rs` is faster (canonical
/// depthwise, pointwise stride 1, at most 4 → 16 channels, 1D-like rows).
fn takes_gemm_path(g: &Geometry) -> bool {
    let depthwise = g.groups == g.c_in && g.groups == g.c_out;
    let pointwise =
        g.taps() == 1 && g.stride == [1, 1] && g.pad == [0, 0] && (g.oh, g.ow) == (g.h, g.w);
    let small_channel = g.groups == 1 && g.c_in <= 4 && g.c_out <= 16;
    let row = g.h == 1 && g.kh == 1;
    !(depthwise || pointwise || small_channel || row)
}

fn native<T: Elem>(
    x: &FlexTensor,
    weight: &FlexTensor,
    bias: Option<&FlexTensor>,
    g: &Geometry,
) -> FlexTensor {
    let (x, weight) = (x.to_contiguous(), weight.to_contiguous());
    let bias = bias.map(|b| b.to_contiguous());
    let bias: Option<&[T]> = bias.as_ref().map(|b| b.storage());
    let (xs, ws) = (x.storage(), weight.storage());
    let out = if conv_depthwise::applies(g) {
        conv_depthwise::forward(g, xs, ws, bias)
    } else if conv_winograd::applies(g) {
        conv_winograd::forward(g, xs, ws, bias).unwrap_or_else(|| forward(g, xs, ws, bias))
    } else {
        forward(g, xs, ws, bias)
    };
    let shape = Shape::from(vec![g.batch, g.c_out, g.oh, g.ow]);
    FlexTensor::new(
        Bytes::from_elems(out),
        Layout::contiguous(shape),
        T::dtype(),
    )
}

/// Samples per GEMM: until the GEMM's width reaches [`GEMM_MIN_WIDTH`], within [`MAX_COLS`],
/// and no more than a worker's share of the batch.
pub(crate) fn samples_per_gemm(g: &Geometry, workers: usize) -> usize {
    let s = g.out_plane();
    GEMM_MIN_WIDTH
        .div_ceil(s)
        .min(MAX_COLS / (g.c_in * g.taps() * s).max(1))
        .min(g.batch.div_ceil(workers))
        .max(1)
}

/// The NCHW output `[batch, c_out, oh, ow]` through im2col and GEMM.
pub(crate) fn forward<T: Elem>(g: &Geometry, x: &[T], w: &[T], bias: Option<&[T]>) -> Vec<T> {
    let per_sample = g.c_out * g.out_plane();
    let mut out = vec![T::zero(); g.batch * per_sample];
    #[cfg(feature = "rayon")]
    {
        let threads = rayon::current_num_threads();
        let work = g.batch * per_sample * g.cig * g.taps();
        if threads > 1 && work >= crate::ops::PARALLEL_THRESHOLD * 16 {
            if g.batch < threads {
                // Too few samples to share out: the workers share each sample.
                let sample = g.c_in * g.h * g.w;
                for (n, dst) in out.chunks_mut(per_sample).enumerate() {
                    let x = &x[n * sample..(n + 1) * sample];
                    shared::forward_sample(g, x, w, bias, dst, threads);
                }
                return out;
            }
            use rayon::prelude::*;
            let chunk = samples_per_gemm(g, threads);
            out.par_chunks_mut(chunk * per_sample)
                .enumerate()
                .for_each_init(Buffers::default, |buffers, (i, dst)| {
                    let p = gemm::Parallelism::None;
                    forward_chunk(g, x, w, bias, i * chunk, dst, buffers, p);
                });
            return out;
        }
    }
    let chunk = samples_per_gemm(g, 1);
    let mut buffers = Buffers::default();
    for (i, dst) in out.chunks_mut(chunk * per_sample).enumerate() {
        forward_chunk(
            g,
            x,
            w,
            bias,
            i * chunk,
            dst,
            &mut buffers,
            gemm::Parallelism::None,
        );
    }
    out
}

/// A worker's reusable buffers: im2col columns and, for several samples per GEMM, its result.
#[derive(Default)]
pub(crate) struct Buffers<T> {
    pub(crate) cols: Vec<T>,
    pub(crate) result: Vec<T>,
}

/// Grow `buf` to at least `len` elements (contents are overwritten by the caller).
pub(crate) fn at_least<T: Elem>(buf: &mut Vec<T>, len: usize) -> &mut [T] {
    if buf.len() < len {
        buf.resize(len, T::zero());
    }
    &mut buf[..len]
}

/// The outputs of samples `first..first + B` into `dst` (`B` whole samples, NCHW).
#[allow(clippy::too_many_arguments)]
fn forward_chunk<T: Elem>(
    g: &Geometry,
    x: &[T],
    w: &[T],
    bias: Option<&[T]>,
    first: usize,
    dst: &mut [T],
    buffers: &mut Buffers<T>,
    parallelism: gemm::Parallelism,
) {
    let s = g.out_plane();
    let nb = dst.len() / (g.c_out * s);
    let width = nb * s;
    let rows = g.c_in * g.taps();
    let sample = g.c_in * g.h * g.w;
    if nb == 1 && rows * s > TILE_COLS {
        let x = &x[first * sample..(first + 1) * sample];
        return forward_tiles(g, x, w, bias, dst, buffers, parallelism);
    }
    let cols = at_least(&mut buffers.cols, rows * width);
    for b in 0..nb {
        im2col(g, &x[(first + b) * sample..], cols, width, b * s);
    }
    if nb == 1 {
        gemm_into(g, w, cols, bias, dst, width, parallelism);
        return;
    }
    let result = at_least(&mut buffers.result, g.c_out * width);
    gemm_into(g, w, cols, bias, result, width, parallelism);
    for (b, out) in dst.chunks_exact_mut(g.c_out * s).enumerate() {
        for (co, plane) in out.chunks_exact_mut(s).enumerate() {
            plane.copy_from_slice(&result[co * width + b * s..co * width + (b + 1) * s]);
        }
    }
}

/// One sample's output `dst` (`[c_out, oh·ow]`) in tiles of whole output rows: per tile, the
/// columns of its rows only and one GEMM per group into the tile's columns of `dst`.
fn forward_tiles<T: Elem>(
    g: &Geometry,
    x: &[T],
    w: &[T],
    bias: Option<&[T]>,
    dst: &mut [T],
    buffers: &mut Buffers<T>,
    parallelism: gemm::Parallelism,
) {
    let (s, rows) = (g.out_plane(), g.c_in * g.taps());
    preload_bias(dst, bias, s);
    let tile_rows = (TILE_COLS / (rows * g.ow).max(1)).clamp(1, g.oh);
    for first_row in (0..g.oh).step_by(tile_rows) {
        let out_rows = first_row..(first_row + tile_rows).min(g.oh);
        let width = out_rows.len() * g.ow;
        let cols = at_least(&mut buffers.cols, rows * width);
        im2col_rows(g, x, cols, width, 0, out_rows);
        let tile = &mut dst[first_row * g.ow..];
        gemm_rows(g, w, cols, width, bias.is_some(), tile, s, parallelism);
    }
}

/// Every row of `result` (`[c_out, row_len]`) set to its channel's bias, if there is one.
fn preload_bias<T: Elem>(result: &mut [T], bias: Option<&[T]>, row_len: usize) {
    if let Some(bias) = bias {
        for (row, &v) in result.chunks_exact_mut(row_len).zip(bias) {
            row.fill(v);
        }
    }
}

/// `result [c_out, width] = bias + W · cols`, one GEMM per group.
fn gemm_into<T: Elem>(
    g: &Geometry,
    w: &[T],
    cols: &[T],
    bias: Option<&[T]>,
    result: &mut [T],
    width: usize,
    parallelism: gemm::Parallelism,
) {
    preload_bias(result, bias, width);
    gemm_rows(
        g,
        w,
        cols,
        width,
        bias.is_some(),
        result,
        width,
        parallelism,
    );
}

/// `dst[co, 0..width] (+)= Σ W[co, r] · cols[r, 0..width]` per group, `dst`'s rows `stride`
/// apart (`stride ≥ width`, `dst` holding `(c_out − 1)·stride + width` values); added to what
/// `dst` holds when `accumulate`.
#[allow(clippy::too_many_arguments)]
fn gemm_rows<T: Elem>(
    g: &Geometry,
    w: &[T],
    cols: &[T],
    width: usize,
    accumulate: bool,
    dst: &mut [T],
    stride: usize,
    parallelism: gemm::Parallelism,
) {
    assert!(stride >= width && dst.len() >= (g.c_out - 1) * stride + width);
    // SAFETY: `dst` is a unique borrow holding the rows (asserted).
    unsafe {
        gemm_rows_raw(
            g,
            w,
            cols,
            width,
            accumulate,
            dst.as_mut_ptr(),
            stride,
            parallelism,
        )
    }
}

/// [`gemm_rows`] into `dst` given as a pointer, so that workers can fill disjoint column
/// ranges of the same rows.
///
/// # Safety
/// `dst` must be valid for writes of `c_out` rows of `width` values `stride` apart
/// (`stride ≥ width`), and nothing else may access those values during the call.
#[allow(clippy::too_many_arguments)]
unsafe fn gemm_rows_raw<T: Elem>(
    g: &Geometry,
    w: &[T],
    cols: &[T],
    width: usize,
    accumulate: bool,
    dst: *mut T,
    stride: usize,
    parallelism: gemm::Parallelism,
) {
    assert!(stride >= width);
    assert!(cols.len() >= g.c_in * g.taps() * width && w.len() >= g.c_out * g.cig * g.taps());
    let per_group = g.cig * g.taps();
    for group in 0..g.groups {
        // SAFETY: `dst` holds `c_out` rows of `width` values `stride` apart (the caller's
        // contract) and the group's block is rows `group·cog..+cog`; `w` is
        // `[c_out, per_group]` row-major, the group's rows likewise; `cols` is `[rows, width]`
        // row-major and the group's block rows `group·per_group..+per_group` (both asserted).
        unsafe {
            gemm::gemm(
                g.cog,
                width,
                per_group,
                dst.add(group * g.cog * stride),
                1,
                stride as isize,
                accumulate,
                w.as_ptr().add(group * g.cog * per_group),
                1,
                per_group as isize,
                cols.as_ptr().add(group * per_group * width),
                1,
                width as isize,
                T::one(),
                T::one(),
                false,
                false,
                false,
                parallelism,
            );
        }
    }
}

/// One sample computed by all of rayon's workers together (a batch smaller than the pool).
#[cfg(feature = "rayon")]
mod shared {
    use alloc::vec;
    use rayon::prelude::*;

    use super::{Buffers, TILE_COLS, at_least, gemm_into, gemm_rows_raw};
    use crate::ops::SendMutPtr;
    use crate::ops::conv_weight_grad::{Elem, Geometry, im2col, im2col_rows};

    /// Output positions per output channel from which a sample is split into tiles of output
    /// rows rather than into blocks of output channels.
    const ROWS_FROM: usize = 4;

    /// One sample's output `dst` (`[c_out, oh·ow]`) from its input `x` (`[c_in, h, w]`) by
    /// `threads` workers: where the plane is large against the output channels (and for
    /// grouped convolutions), in tiles of whole output rows, each worker building its tiles'
    /// columns and running their GEMMs, so both halves of the work run in parallel and the
    /// GEMM stays as wide as the tile; else with the columns built once (input channels split
    /// between the workers) and the output channels split between the workers, each reading
    /// its share of the weights once (small planes: tiles would be a few positions wide and
    /// read all of the weights each). The values are those of the one-worker path: each
    /// output is the same GEMM dot product over the same columns.
    pub(super) fn forward_sample<T: Elem>(
        g: &Geometry,
        x: &[T],
        w: &[T],
        bias: Option<&[T]>,
        dst: &mut [T],
        threads: usize,
    ) {
        if g.groups > 1 || g.out_plane() >= ROWS_FROM * g.c_out {
            row_tiles(g, x, w, bias, dst, threads);
        } else {
            channel_blocks(g, x, w, bias, dst, threads);
        }
    }

    /// [`forward_sample`] in tiles of output rows: as many as keep each tile's columns within
    /// [`TILE_COLS`], rounded up to a multiple of `threads`, rows spread evenly.
    fn row_tiles<T: Elem>(
        g: &Geometry,
        x: &[T],
        w: &[T],
        bias: Option<&[T]>,
        dst: &mut [T],
        threads: usize,
    ) {
        let (s, rows) = (g.out_plane(), g.c_in * g.taps());
        assert!(dst.len() == g.c_out * s && bias.is_none_or(|b| b.len() >= g.c_out));
        let per_tile = (TILE_COLS / (rows * g.ow).max(1)).max(1);
        let tiles = g.oh.div_ceil(per_tile).next_multiple_of(threads).min(g.oh);
        let out = SendMutPtr::new(dst.as_mut_ptr());
        (0..tiles)
            .into_par_iter()
            .for_each_init(Buffers::default, |buffers, t| {
                let out_rows = t * g.oh / tiles..(t + 1) * g.oh / tiles;
                let (first, width) = (out_rows.start * g.ow, out_rows.len() * g.ow);
                let cols = at_least(&mut buffers.cols, rows * width);
                im2col_rows(g, x, cols, width, 0, out_rows);
                // SAFETY: tile `t` touches only columns `first..first + width` of the `c_out`
                // rows of `s` values of `dst` (a unique borrow held for the whole loop); the
                // tiles' column ranges are disjoint.
                unsafe {
                    let tile = out.ptr_add(first);
                    if let Some(bias) = bias {
                        for (co, &b) in bias[..g.c_out].iter().enumerate() {
                            core::slice::from_raw_parts_mut(tile.add(co * s), width).fill(b);
                        }
                    }
                    let p = gemm::Parallelism::None;
                    gemm_rows_raw(g, w, cols, width, bias.is_some(), tile, s, p);
                }
            });
    }

    /// [`forward_sample`] with the sample's columns built once, input channels split between
    /// the workers, then `threads` blocks of output channels, one per worker (`groups == 1`).
    fn channel_blocks<T: Elem>(
        g: &Geometry,
        x: &[T],
        w: &[T],
        bias: Option<&[T]>,
        dst: &mut [T],
        threads: usize,
    ) {
        let (s, rows) = (g.out_plane(), g.c_in * g.taps());
        let (plane, per_channel) = (g.h * g.w, g.taps() * s);
        let mut cols = vec![T::zero(); rows * s];
        let channels = g.c_in.div_ceil(threads);
        cols.par_chunks_mut(channels * per_channel)
            .enumerate()
            .for_each(|(i, cols)| {
                let part = Geometry {
                    c_in: cols.len() / per_channel,
                    ..*g
                };
                im2col(&part, &x[i * channels * plane..], cols, s, 0);
            });
        let block = g.c_out.div_ceil(threads);
        dst.par_chunks_mut(block * s)
            .enumerate()
            .for_each(|(i, dst)| {
                let (c0, n) = (i * block, dst.len() / s);
                let part = Geometry {
                    c_out: n,
                    cog: n,
                    ..*g
                };
                let bias = bias.map(|b| &b[c0..c0 + n]);
                let p = gemm::Parallelism::None;
                gemm_into(&part, &w[c0 * rows..], &cols, bias, dst, s, p);
            });
    }
}

#[cfg(test)]
mod tests {
    use alloc::string::String;
    use alloc::vec;
    use alloc::vec::Vec;

    use burn_backend::TensorData;
    use burn_backend::ops::conv::pad_asymmetric_conv_input;
    use burn_backend::ops::{FloatTensorOps, ModuleOps};
    use burn_std::{bf16, f16};

    use super::{forward_geometry, native};
    use crate::ops::conv;
    use crate::ops::conv_weight_grad::tests::{Case, max_error, tensor_f32, to_f64, values};
    use crate::{Flex, FlexTensor};

    /// The definition in f64, and `Σ |terms|` per element (the scale of its rounding error).
    fn reference(case: &Case, x: &[f64], w: &[f64], bias: Option<&[f64]>) -> (Vec<f64>, Vec<f64>) {
        let [oh, ow] = case.out();
        let (cig, cog) = (case.c_in / case.groups, case.c_out / case.groups);
        let [kh, kw] = case.k;
        let mut value = vec![0.0; case.n * case.c_out * oh * ow];
        let mut scale = value.clone();
        for n in 0..case.n {
            for co in 0..case.c_out {
                for a in 0..oh {
                    for b in 0..ow {
                        let bv = bias.map_or(0.0, |bias| bias[co]);
                        let (mut sum, mut abs) = (bv, bv.abs());
                        for ci in 0..cig {
                            let c = (co / cog) * cig + ci;
                            for i in 0..kh {
                                for j in 0..kw {
                                    let ih = (a * case.stride[0] + i * case.dilation[0]) as isize
                                        - case.padding[0].0 as isize;
                                    let iw = (b * case.stride[1] + j * case.dilation[1]) as isize
                                        - case.padding[1].0 as isize;
                                    if ih < 0
                                        || iw < 0
                                        || ih >= case.h as isize
                                        || iw >= case.w as isize
                                    {
                                        continue;
                                    }
                                    let xv = x[((n * case.c_in + c) * case.h + ih as usize)
                                        * case.w
                                        + iw as usize];
                                    let term = w[((co * cig + ci) * kh + i) * kw + j] * xv;
                                    sum += term;
                                    abs += term.abs();
                                }
                            }
                        }
                        let idx = ((n * case.c_out + co) * oh + a) * ow + b;
                        value[idx] = sum;
                        scale[idx] = abs;
                    }
                }
            }
        }
        (value, scale)
    }

    /// This module's GEMM path on f32 tensors, whatever the routing would choose.
    fn gemm_path(
        case: &Case,
        x: &FlexTensor,
        w: &FlexTensor,
        b: Option<&FlexTensor>,
    ) -> FlexTensor {
        let g = forward_geometry(x.layout().shape(), w.layout().shape(), &case.options()).unwrap();
        let out = match x.dtype() {
            burn_backend::DType::F64 => native::<f64>(x, w, b, &g),
            _ => native::<f32>(x, w, b, &g),
        };
        assert_eq!(out.layout().shape().to_vec(), case.dy_shape(), "{case:?}");
        out
    }

    /// burn-flex's existing forward (what `conv2d` ran before this module).
    fn old_path(case: &Case, x: FlexTensor, w: FlexTensor, b: Option<FlexTensor>) -> FlexTensor {
        let (x, options) = pad_asymmetric_conv_input::<Flex, 2>(x, case.options());
        conv::conv2d_f32(x, w, b, &options)
    }

    struct Inputs {
        x: Vec<f64>,
        w: Vec<f64>,
        b: Vec<f64>,
    }

    impl Inputs {
        fn new(case: &Case, seed: u64) -> Self {
            Self {
                x: values(case.x_shape().iter().product(), seed),
                w: values(case.w_shape().iter().product(), seed + 1),
                b: values(case.c_out, seed + 2),
            }
        }
        fn tensors(&self, case: &Case) -> (FlexTensor, FlexTensor, FlexTensor) {
            (
                tensor_f32(&self.x, case.x_shape()),
                tensor_f32(&self.w, case.w_shape()),
                tensor_f32(&self.b, vec![case.c_out]),
            )
        }
    }

    /// Every combination of the options on small shapes (f32 against the f64 definition),
    /// with and without bias, through the GEMM path and through `Flex::conv2d`'s routing.
    #[test]
    fn matches_definition_over_options() {
        let mut checked = 0;
        let mut worst = (0.0f64, String::new());
        for &(n, c_in, c_out, groups) in &[
            (1, 1, 1, 1),
            (3, 4, 6, 1),
            (3, 4, 6, 2),
            (2, 3, 6, 3),
            (3, 1, 5, 1),
            (2, 6, 20, 1),
        ] {
            for &k in &[1usize, 3, 5, 7] {
                for &stride in &[1usize, 2] {
                    for &pad in &[0usize, 1, 3] {
                        for &dilation in &[1usize, 2] {
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
                            if dilation * (k - 1) + 1 > 9 + 2 * pad {
                                continue;
                            }
                            let inputs = Inputs::new(&case, 1);
                            let (x, w, b) = inputs.tensors(&case);
                            for with_bias in [false, true] {
                                let bias = with_bias.then_some(inputs.b.as_slice());
                                let (want, scale) = reference(&case, &inputs.x, &inputs.w, bias);
                                let bt = with_bias.then(|| b.clone());
                                let got = to_f64(gemm_path(&case, &x, &w, bt.as_ref()));
                                let routed =
                                    to_f64(Flex::conv2d(x.clone(), w.clone(), bt, case.options()));
                                for got in [got, routed] {
                                    let err = max_error(&got, &want, &scale);
                                    assert!(err < 1e-5, "{case:?} bias {with_bias}: error {err:e}");
                                    if err > worst.0 {
                                        worst = (err, alloc::format!("{case:?}"));
                                    }
                                }
                                checked += 1;
                            }
                        }
                    }
                }
            }
        }
        assert!(checked > 500, "{checked}");
        std::println!(
            "{checked} cases, worst relative error {:e} at {}",
            worst.0,
            worst.1
        );
    }

    /// Larger and uneven shapes: several samples per GEMM, the parallel paths, anisotropic
    /// options, asymmetric padding, grouped with a channel multiplier, the benchmark layers.
    #[test]
    fn matches_definition_on_larger_and_uneven_shapes() {
        #[rustfmt::skip]
        let cases = [
            Case { n: 9, c_in: 16, c_out: 24, h: 7, w: 7, k: [3, 3], stride: [1, 1], padding: [(1, 1), (1, 1)], dilation: [1, 1], groups: 1 },
            Case { n: 5, c_in: 32, c_out: 16, h: 21, w: 20, k: [1, 1], stride: [2, 2], padding: [(0, 0), (0, 0)], dilation: [1, 1], groups: 1 },
            Case { n: 2, c_in: 3, c_out: 4, h: 5, w: 6, k: [1, 1], stride: [1, 1], padding: [(1, 1), (2, 2)], dilation: [1, 1], groups: 1 },
            Case { n: 3, c_in: 5, c_out: 7, h: 13, w: 10, k: [3, 2], stride: [2, 1], padding: [(2, 2), (0, 0)], dilation: [1, 3], groups: 1 },
            Case { n: 2, c_in: 4, c_out: 8, h: 10, w: 10, k: [3, 3], stride: [2, 2], padding: [(0, 1), (0, 1)], dilation: [1, 1], groups: 1 },
            Case { n: 2, c_in: 6, c_out: 8, h: 10, w: 9, k: [5, 5], stride: [2, 2], padding: [(1, 2), (2, 1)], dilation: [1, 1], groups: 2 },
            Case { n: 3, c_in: 4, c_out: 12, h: 9, w: 9, k: [3, 3], stride: [1, 1], padding: [(1, 1), (1, 1)], dilation: [1, 1], groups: 4 },
            Case { n: 3, c_in: 8, c_out: 12, h: 9, w: 9, k: [3, 3], stride: [2, 2], padding: [(1, 1), (1, 1)], dilation: [1, 1], groups: 4 },
            Case { n: 4, c_in: 24, c_out: 32, h: 28, w: 28, k: [3, 3], stride: [1, 1], padding: [(1, 1), (1, 1)], dilation: [1, 1], groups: 1 },
            Case { n: 1, c_in: 24, c_out: 32, h: 56, w: 56, k: [3, 3], stride: [2, 2], padding: [(1, 1), (1, 1)], dilation: [1, 1], groups: 1 },
            Case { n: 5, c_in: 1, c_out: 32, h: 28, w: 28, k: [5, 5], stride: [1, 1], padding: [(0, 0), (0, 0)], dilation: [1, 1], groups: 1 },
            Case { n: 7, c_in: 32, c_out: 64, h: 12, w: 12, k: [5, 5], stride: [1, 1], padding: [(0, 0), (0, 0)], dilation: [1, 1], groups: 1 },
            Case { n: 2, c_in: 3, c_out: 64, h: 40, w: 37, k: [7, 7], stride: [2, 2], padding: [(3, 3), (3, 3)], dilation: [1, 1], groups: 1 },
        ];
        for case in &cases {
            let inputs = Inputs::new(case, 3);
            let (want, scale) = reference(case, &inputs.x, &inputs.w, Some(&inputs.b));
            let (x, w, b) = inputs.tensors(case);
            let got = to_f64(gemm_path(case, &x, &w, Some(&b)));
            let err = max_error(&got, &want, &scale);
            assert!(err < 1e-5, "{case:?}: error {err:e}");
            let routed = to_f64(Flex::conv2d(x, w, Some(b), case.options()));
            let err = max_error(&routed, &want, &scale);
            assert!(err < 1e-5, "routed {case:?}: error {err:e}");
        }
    }

    /// One sample large enough for the workers to share it (`shared`): tiles of output rows
    /// (large planes, uneven tiles, strides, dilation, groups), blocks of output channels
    /// (small planes, uneven blocks of input and output channels, asymmetric padding) and
    /// depthwise blocks of channels (`conv_depthwise`), with
    /// and without bias, against the definition; and equal, within rounding, to the same
    /// sample computed by one worker inside a larger batch.
    #[test]
    fn one_sample_shared_between_workers_matches_definition() {
        #[rustfmt::skip]
        let cases = [
            Case { n: 1, c_in: 16, c_out: 16, h: 64, w: 64, k: [3, 3], stride: [1, 1], padding: [(1, 1), (1, 1)], dilation: [1, 1], groups: 1 },
            Case { n: 1, c_in: 8, c_out: 24, h: 99, w: 99, k: [5, 5], stride: [2, 2], padding: [(3, 3), (3, 3)], dilation: [2, 2], groups: 1 },
            Case { n: 1, c_in: 32, c_out: 64, h: 40, w: 40, k: [3, 3], stride: [1, 1], padding: [(1, 1), (1, 1)], dilation: [1, 1], groups: 2 },
            Case { n: 1, c_in: 67, c_out: 97, h: 9, w: 9, k: [3, 3], stride: [1, 1], padding: [(1, 1), (1, 1)], dilation: [1, 1], groups: 1 },
            Case { n: 1, c_in: 80, c_out: 130, h: 15, w: 14, k: [3, 3], stride: [2, 2], padding: [(0, 1), (1, 0)], dilation: [1, 1], groups: 1 },
            Case { n: 1, c_in: 96, c_out: 200, h: 14, w: 14, k: [1, 1], stride: [2, 2], padding: [(0, 0), (0, 0)], dilation: [1, 1], groups: 1 },
            // Pointwise stride 1 (`conv.rs`'s 1×1 path when routed): gemm splits the product.
            Case { n: 1, c_in: 144, c_out: 40, h: 28, w: 28, k: [1, 1], stride: [1, 1], padding: [(0, 0), (0, 0)], dilation: [1, 1], groups: 1 },
            // Depthwise (`conv_depthwise`): blocks of channels, the last one partial.
            Case { n: 1, c_in: 68, c_out: 68, h: 28, w: 28, k: [5, 5], stride: [1, 1], padding: [(2, 2), (2, 2)], dilation: [1, 1], groups: 68 },
            Case { n: 1, c_in: 200, c_out: 200, h: 27, w: 27, k: [5, 5], stride: [2, 2], padding: [(2, 2), (2, 2)], dilation: [1, 1], groups: 200 },
        ];
        assert!(
            rayon::current_num_threads() > 1,
            "needs at least two rayon threads"
        );
        for case in &cases {
            let inputs = Inputs::new(case, 5);
            let (x, w, b) = inputs.tensors(case);
            for with_bias in [false, true] {
                let bias = with_bias.then_some(inputs.b.as_slice());
                let (want, scale) = reference(case, &inputs.x, &inputs.w, bias);
                let bt = with_bias.then(|| b.clone());
                let got = to_f64(gemm_path(case, &x, &w, bt.as_ref()));
                let err = max_error(&got, &want, &scale);
                assert!(err < 1e-5, "{case:?} bias {with_bias}: error {err:e}");
                let routed = to_f64(Flex::conv2d(
                    x.clone(),
                    w.clone(),
                    bt.clone(),
                    case.options(),
                ));
                let err = max_error(&routed, &want, &scale);
                assert!(
                    err < 1e-5,
                    "routed {case:?} bias {with_bias}: error {err:e}"
                );
                // The same sample first in a batch of 3 (one worker per sample).
                let batch = Case { n: 3, ..*case };
                let mut xs = inputs.x.clone();
                xs.extend(values(2 * inputs.x.len(), 9));
                let xb = tensor_f32(&xs, batch.x_shape());
                let alone = to_f64(gemm_path(&batch, &xb, &w, bt.as_ref()));
                let err = max_error(&got, &alone[..got.len()], &scale);
                assert!(
                    err < 1e-6,
                    "{case:?} bias {with_bias}: batch of 3 differs by {err:e}"
                );
            }
        }
    }

    #[rustfmt::skip]
    fn two_cases() -> [Case; 2] {
        [
            Case { n: 3, c_in: 5, c_out: 7, h: 12, w: 11, k: [3, 3], stride: [2, 2], padding: [(1, 1), (1, 1)], dilation: [1, 1], groups: 1 },
            Case { n: 2, c_in: 6, c_out: 20, h: 12, w: 11, k: [5, 5], stride: [1, 1], padding: [(2, 2), (2, 2)], dilation: [1, 1], groups: 1 },
        ]
    }

    #[test]
    fn f64_f16_bf16() {
        fn data<E: burn_backend::Element>(
            v: &[f64],
            shape: Vec<usize>,
            f: fn(f64) -> E,
        ) -> TensorData {
            TensorData::new(v.iter().map(|&a| f(a)).collect::<Vec<E>>(), shape)
        }
        for case in &two_cases() {
            let inputs = Inputs::new(case, 5);
            let run = |x: TensorData, w: TensorData, b: TensorData| {
                let (x, w, b) = (
                    FlexTensor::from_data(x),
                    FlexTensor::from_data(w),
                    FlexTensor::from_data(b),
                );
                let out = Flex::conv2d(x, w, Some(b), case.options());
                assert_eq!(out.layout().shape().to_vec(), case.dy_shape());
                out
            };
            let (want, scale) = reference(case, &inputs.x, &inputs.w, Some(&inputs.b));
            let out = run(
                data(&inputs.x, case.x_shape(), |v| v),
                data(&inputs.w, case.w_shape(), |v| v),
                data(&inputs.b, vec![case.c_out], |v| v),
            );
            assert_eq!(out.dtype(), burn_backend::DType::F64);
            let err = max_error(&to_f64(out), &want, &scale);
            assert!(err < 1e-12, "f64 {case:?}: {err:e}");

            // Half precision: the reference on the rounded inputs; output rounding dominates.
            let round = |v: &[f64], f: fn(f64) -> f64| v.iter().map(|&a| f(a)).collect::<Vec<_>>();
            for (f, tol, dtype) in [
                (
                    (|a| f16::from_f64(a).to_f64()) as fn(f64) -> f64,
                    1e-3,
                    burn_backend::DType::F16,
                ),
                (
                    |a| bf16::from_f64(a).to_f64(),
                    1e-2,
                    burn_backend::DType::BF16,
                ),
            ] {
                let (x, w, b) = (
                    round(&inputs.x, f),
                    round(&inputs.w, f),
                    round(&inputs.b, f),
                );
                let (want, scale) = reference(case, &x, &w, Some(&b));
                let out = if dtype == burn_backend::DType::F16 {
                    run(
                        data(&x, case.x_shape(), f16::from_f64),
                        data(&w, case.w_shape(), f16::from_f64),
                        data(&b, vec![case.c_out], f16::from_f64),
                    )
                } else {
                    run(
                        data(&x, case.x_shape(), bf16::from_f64),
                        data(&w, case.w_shape(), bf16::from_f64),
                        data(&b, vec![case.c_out], bf16::from_f64),
                    )
                };
                assert_eq!(out.dtype(), dtype);
                let err = max_error(&to_f64(out), &want, &scale);
                assert!(err < tol, "{dtype:?} {case:?}: {err:e}");
            }
        }
    }

    /// `x` and `weight` as transposed views (non-contiguous strides).
    #[test]
    fn non_contiguous_inputs() {
        for case in &two_cases() {
            let inputs = Inputs::new(case, 7);
            let (want, scale) = reference(case, &inputs.x, &inputs.w, Some(&inputs.b));
            // Store [a, b, w, h] and swap the last two dims back: same logical tensor.
            let swap = |v: &[f64], s: &[usize]| {
                let mut out = vec![0.0; v.len()];
                for a in 0..s[0] * s[1] {
                    for i in 0..s[2] {
                        for j in 0..s[3] {
                            out[(a * s[3] + j) * s[2] + i] = v[(a * s[2] + i) * s[3] + j];
                        }
                    }
                }
                let t = Flex::float_swap_dims(tensor_f32(&out, vec![s[0], s[1], s[3], s[2]]), 2, 3);
                assert!(!t.layout().is_contiguous());
                t
            };
            let (_, _, b) = inputs.tensors(case);
            let out = Flex::conv2d(
                swap(&inputs.x, &case.x_shape()),
                swap(&inputs.w, &case.w_shape()),
                Some(b),
                case.options(),
            );
            let err = max_error(&to_f64(out), &want, &scale);
            assert!(err < 1e-5, "{case:?}: {err:e}");
        }
    }

    /// Against burn-flex's existing forward, also with `inf`/`NaN` in `x` or `weight` placed
    /// where windows meet padding (`0 · inf = NaN` in both).
    #[test]
    fn matches_existing_path_with_non_finite_values() {
        let mut cases = two_cases().to_vec();
        #[rustfmt::skip]
        let extra = [
            Case { n: 2, c_in: 4, c_out: 6, h: 9, w: 9, k: [3, 3], stride: [2, 2], padding: [(0, 1), (0, 1)], dilation: [1, 1], groups: 2 },
            Case { n: 2, c_in: 8, c_out: 20, h: 7, w: 7, k: [1, 1], stride: [2, 2], padding: [(1, 1), (1, 1)], dilation: [1, 1], groups: 1 },
        ];
        cases.extend(extra);
        for case in &cases {
            for poison in [
                None,
                Some((f64::INFINITY, 0)),
                Some((f64::NAN, 0)),
                Some((f64::NEG_INFINITY, 1)),
                Some((f64::NAN, 1)),
            ] {
                let mut inputs = Inputs::new(case, 9);
                match poison {
                    Some((v, 0)) => inputs.x[0] = v,
                    Some((v, _)) => inputs.w[0] = v,
                    None => {}
                }
                let (x, w, b) = inputs.tensors(case);
                let ours = to_f64(gemm_path(case, &x, &w, Some(&b)));
                let old = to_f64(old_path(case, x, w, Some(b)));
                assert_eq!(ours.len(), old.len());
                for (o, g) in ours.iter().zip(&old) {
                    let same = (o.is_nan() && g.is_nan())
                        || o == g
                        || (o - g).abs() <= 1e-5 * (1.0 + g.abs());
                    assert!(same, "{case:?} {poison:?}: ours {o} old {g}");
                }
            }
        }
    }

    /// The forward layers of augtrain's benchmark models (LeNet CNN batch 64, ResNet-18 and
    /// EfficientNet-Lite0's stem batch 32), f32 with bias: old (burn-flex's existing path) vs
    /// new (`Flex::conv2d`, routed), interleaved, minimum of `CONVFWD_REPS` (default 5) calls.
    /// `CONVFWD_FILTER=substring` selects cases, `CONVFWD_BATCH=n` replaces the batch. Run:
    /// `cargo test --release --lib conv_forward::tests::timing -- --ignored --nocapture`.
    #[test]
    #[ignore]
    fn timing() {
        use std::time::Instant;
        // (name, batch, c_in, size, c_out, kernel, stride, padding)
        type Layer = (
            &'static str,
            usize,
            usize,
            usize,
            usize,
            usize,
            usize,
            usize,
        );
        let cases: &[Layer] = &[
            ("lenet.conv_k5s1_1x32_28", 64, 1, 28, 32, 5, 1, 0),
            ("lenet.conv_k5s1_32x64_12", 64, 32, 12, 64, 5, 1, 0),
            ("resnet18.stem_k7s2_3x64_224", 32, 3, 224, 64, 7, 2, 3),
            ("resnet18.conv_k3s1_64x64_56", 32, 64, 56, 64, 3, 1, 1),
            ("resnet18.conv_k3s2_64x128_56", 32, 64, 56, 128, 3, 2, 1),
            ("resnet18.conv_k3s1_128x128_28", 32, 128, 28, 128, 3, 1, 1),
            (
                "resnet18.downsample_k1s2_64x128_56",
                32,
                64,
                56,
                128,
                1,
                2,
                0,
            ),
            ("resnet18.conv_k3s2_128x256_28", 32, 128, 28, 256, 3, 2, 1),
            ("resnet18.conv_k3s1_256x256_14", 32, 256, 14, 256, 3, 1, 1),
            (
                "resnet18.downsample_k1s2_128x256_28",
                32,
                128,
                28,
                256,
                1,
                2,
                0,
            ),
            ("resnet18.conv_k3s2_256x512_14", 32, 256, 14, 512, 3, 2, 1),
            ("resnet18.conv_k3s1_512x512_7", 32, 512, 7, 512, 3, 1, 1),
            (
                "resnet18.downsample_k1s2_256x512_14",
                32,
                256,
                14,
                512,
                1,
                2,
                0,
            ),
            (
                "efficientnet_lite0.stem_k3s2_3x32_224",
                32,
                3,
                224,
                32,
                3,
                2,
                1,
            ),
            (
                "efficientnet_lite0.expand_k1s1_16x96_112",
                32,
                16,
                112,
                96,
                1,
                1,
                0,
            ),
            (
                "efficientnet_lite0.project_k1s1_240x80_14",
                32,
                240,
                14,
                80,
                1,
                1,
                0,
            ),
            (
                "efficientnet_lite0.head_k1s1_320x1280_7",
                32,
                320,
                7,
                1280,
                1,
                1,
                0,
            ),
        ];
        let env = |k: &str| std::env::var(k).ok();
        let filter = env("CONVFWD_FILTER").unwrap_or_default();
        let reps: usize = env("CONVFWD_REPS")
            .and_then(|v| v.parse().ok())
            .unwrap_or(5);
        let force = env("CONVFWD_FORCE").as_deref() == Some("1");
        let batch: Option<usize> = env("CONVFWD_BATCH").and_then(|v| v.parse().ok());
        std::println!("| case | old ms | new ms | old / new | max abs diff |");
        std::println!("| --- | ---: | ---: | ---: | ---: |");
        let (mut old_sum, mut new_sum) = (0.0, 0.0);
        for &(name, n, c_in, size, c_out, k, s, p) in cases {
            if !name.contains(filter.as_str()) {
                continue;
            }
            let case = Case {
                n: batch.unwrap_or(n),
                c_in,
                c_out,
                h: size,
                w: size,
                k: [k, k],
                stride: [s, s],
                padding: [(p, p), (p, p)],
                dilation: [1, 1],
                groups: 1,
            };
            let (x, w, b) = Inputs::new(&case, 11).tensors(&case);
            let (mut old_ms, mut new_ms) = (f64::INFINITY, f64::INFINITY);
            let (mut old, mut new) = (None, None);
            for _ in 0..reps {
                let start = Instant::now();
                old = Some(old_path(&case, x.clone(), w.clone(), Some(b.clone())));
                old_ms = f64::min(old_ms, start.elapsed().as_secs_f64() * 1e3);
                let start = Instant::now();
                new = Some(if force {
                    gemm_path(&case, &x, &w, Some(&b))
                } else {
                    Flex::conv2d(x.clone(), w.clone(), Some(b.clone()), case.options())
                });
                new_ms = f64::min(new_ms, start.elapsed().as_secs_f64() * 1e3);
            }
            let diff = to_f64(new.unwrap())
                .iter()
                .zip(to_f64(old.unwrap()))
                .map(|(a, b)| (a - b).abs())
                .fold(0.0, f64::max);
            old_sum += old_ms;
            new_sum += new_ms;
            std::println!(
                "| {name} | {old_ms:.2} | {new_ms:.2} | {:.2}x | {diff:.1e} |",
                old_ms / new_ms
            );
        }
        std::println!(
            "| sum | {old_sum:.2} | {new_sum:.2} | {:.2}x | |",
            old_sum / new_sum
        );
    }
}
