//! Input gradient of the 2D convolution, `dL/dx` from the weight and `dL/dy`
//! (augtrain's patch; see `patches/README.md` in augtrain's repository).
//!
//! The backend's default (`burn_backend`'s generic `conv2d_x_backward`) runs a transposed
//! convolution of `dy` by `W` (after padding `x`'s shape and before cropping the result, for
//! asymmetric padding), which burn-flex computes per sample and group as a GEMM and a col2im
//! scatter. Here the definition
//!
//! `dx[n, ci, ih, iw] = Σ_{co, i, j, oh, ow : oh·sh + i·dh − ph = ih, ow·sw + j·dw − pw = iw} dy[n, co, oh, ow] · W[co, ci', i, j]`
//!
//! (`ci' = ci − g·cig` within its group `g`, contributions that fall into the padding
//! dropped) is computed from the NCHW tensors directly: per chunk of samples, one GEMM per
//! group `dcols_g [cig·kh·kw, B·oh·ow] = W_gᵀ · dy_g` (the transposed weight read through its
//! strides, no copy; samples batched when planes are small) and a col2im scatter-add of
//! `dcols` into the chunk's `dx` (contiguous slice additions for stride 1). Chunks of samples
//! are split between rayon workers with reusable buffers; with fewer samples than threads gemm
//! parallelises each product. The same products and sums as the default, so `inf`/`NaN` in `dy`
//! or `W` propagate the same way. Depthwise convolutions (one input channel per group) skip the
//! GEMM: each tap's row of `dy`, scaled by its weight, is added to `dx` directly; strided ones
//! with symmetric padding keep the default, which measured faster than that loop. Asymmetric
//! padding needs no pad and crop: only the leading padding shifts indices. f32 and f64 are
//! computed natively, f16 and bf16 through f32.

use alloc::vec;
use alloc::vec::Vec;

use burn_backend::DType;
use burn_backend::ops::conv::calculate_padding_out;
use burn_backend::ops::{ConvOptions, ConvTransposeOptions, ModuleOps};
use burn_std::{Bytes, bf16, f16};

use crate::ops::conv_forward::{Buffers, at_least, samples_per_gemm};
use crate::ops::conv_weight_grad::{Elem, Geometry};
use crate::ops::module::{cast_from_f32, cast_to_f32};
use crate::ops::{conv_depthwise, conv_winograd};
use crate::{Flex, FlexTensor, Layout};

/// `dL/dx` of [`ModuleOps::conv2d`](burn_backend::ops::ModuleOps::conv2d) for the forward's
/// `x` (only its shape is read), `weight` and `output_grad`; shaped like `x`.
pub(crate) fn conv2d_x_backward(
    x: FlexTensor,
    weight: FlexTensor,
    output_grad: FlexTensor,
    options: &ConvOptions<2>,
) -> FlexTensor {
    let shape = x.layout().shape().clone();
    let g = Geometry::new(
        &shape,
        weight.layout().shape(),
        output_grad.layout().shape(),
        options,
    );
    assert_eq!(
        weight.dtype(),
        output_grad.dtype(),
        "conv2d_x_backward: dtype mismatch"
    );
    if g.cig == 1 && g.groups > 1 && g.stride != [1, 1] && !options.is_asymmetric() {
        // Strided depthwise: the default's per-channel GEMM measured faster than the loop here.
        return transposed_convolution(&g, weight, output_grad, options);
    }
    let dx = match output_grad.dtype() {
        DType::F32 => native::<f32>(&g, weight, output_grad),
        DType::F64 => native::<f64>(&g, weight, output_grad),
        DType::F16 => cast_from_f32(
            native::<f32>(
                &g,
                cast_to_f32(weight, f16::to_f32),
                cast_to_f32(output_grad, f16::to_f32),
            ),
            f16::from_f32,
        ),
        DType::BF16 => cast_from_f32(
            native::<f32>(
                &g,
                cast_to_f32(weight, bf16::to_f32),
                cast_to_f32(output_grad, bf16::to_f32),
            ),
            bf16::from_f32,
        ),
        dtype => panic!("conv2d_x_backward: unsupported dtype {dtype:?}"),
    };
    dx.reshape(shape)
}

/// burn-backend's default for symmetric padding: the transposed convolution of `dy` by `W`,
/// with the output padding that restores `x`'s size for strided convolutions.
fn transposed_convolution(
    g: &Geometry,
    weight: FlexTensor,
    dy: FlexTensor,
    options: &ConvOptions<2>,
) -> FlexTensor {
    let pad = options.padding_begin();
    let [(kernel, input), (kernel_w, input_w)] = [(g.kh, g.h), (g.kw, g.w)];
    let padding_out = [
        calculate_padding_out(kernel, g.stride[0], pad[0], g.dilation[0], input, g.oh),
        calculate_padding_out(kernel_w, g.stride[1], pad[1], g.dilation[1], input_w, g.ow),
    ];
    let options = ConvTransposeOptions::new(g.stride, pad, padding_out, g.dilation, g.groups);
    <Flex as ModuleOps<Flex>>::conv_transpose2d(dy, weight, None, options)
}

fn native<T: Elem>(g: &Geometry, weight: FlexTensor, dy: FlexTensor) -> FlexTensor {
    let (weight, dy) = (weight.to_contiguous(), dy.to_contiguous());
    let len = g.batch * g.c_in * g.h * g.w;
    let dx = if len == 0 || g.out_plane() == 0 || g.c_out == 0 {
        vec![T::zero(); len]
    } else {
        input_grad(g, weight.storage(), dy.storage())
    };
    let shape = burn_std::Shape::from(vec![g.batch, g.c_in, g.h, g.w]);
    FlexTensor::new(Bytes::from_elems(dx), Layout::contiguous(shape), T::dtype())
}

/// The NCHW input gradient `[batch, c_in, h, w]`.
fn input_grad<T: Elem>(g: &Geometry, w: &[T], dy: &[T]) -> Vec<T> {
    if conv_depthwise::applies_to_input_grad(g, w) {
        return conv_depthwise::input_grad(g, w, dy);
    }
    if conv_winograd::applies_to_input_grad(g)
        && let Some(dx) = conv_winograd::input_grad(g, w, dy)
    {
        return dx;
    }
    gemm_input_grad(g, w, dy)
}

/// [`input_grad`] through the GEMM and col2im (any convolution but the depthwise ones).
pub(crate) fn gemm_input_grad<T: Elem>(g: &Geometry, w: &[T], dy: &[T]) -> Vec<T> {
    let per_sample = g.c_in * g.h * g.w;
    let mut dx = vec![T::zero(); g.batch * per_sample];
    let backward_chunk = if g.cig == 1 && g.groups > 1 {
        depthwise_chunk::<T>
    } else {
        backward_chunk::<T>
    };
    #[cfg(feature = "rayon")]
    {
        let threads = rayon::current_num_threads();
        let work = g.batch * g.out_plane() * g.c_out * g.cig * g.taps();
        if threads > 1 && work >= crate::ops::PARALLEL_THRESHOLD * 16 {
            if g.batch < threads {
                // Too few samples to share out: let gemm split each product instead.
                let mut buffers = Buffers::default();
                let chunk = samples_per_gemm(g, 1);
                for (i, dst) in dx.chunks_mut(chunk * per_sample).enumerate() {
                    let p = gemm::Parallelism::Rayon(0);
                    backward_chunk(g, w, dy, i * chunk, dst, &mut buffers, p);
                }
                return dx;
            }
            use rayon::prelude::*;
            let chunk = samples_per_gemm(g, threads);
            dx.par_chunks_mut(chunk * per_sample)
                .enumerate()
                .for_each_init(Buffers::default, |buffers, (i, dst)| {
                    let p = gemm::Parallelism::None;
                    backward_chunk(g, w, dy, i * chunk, dst, buffers, p);
                });
            return dx;
        }
    }
    let chunk = samples_per_gemm(g, 1);
    let mut buffers = Buffers::default();
    for (i, dst) in dx.chunks_mut(chunk * per_sample).enumerate() {
        backward_chunk(
            g,
            w,
            dy,
            i * chunk,
            dst,
            &mut buffers,
            gemm::Parallelism::None,
        );
    }
    dx
}

/// The input gradients of samples `first..first + B` into `dst` (`B` whole zeroed samples).
fn backward_chunk<T: Elem>(
    g: &Geometry,
    w: &[T],
    dy: &[T],
    first: usize,
    dst: &mut [T],
    buffers: &mut Buffers<T>,
    parallelism: gemm::Parallelism,
) {
    let s = g.out_plane();
    let sample = g.c_in * g.h * g.w;
    let nb = dst.len() / sample;
    let width = nb * s;
    // The GEMM's right operand: the chunk's `dy` as `[c_out, width]`, row stride `rhs_rs`.
    let (rhs, rhs_rs): (&[T], usize) = if nb == 1 {
        (&dy[first * g.c_out * s..(first + 1) * g.c_out * s], s)
    } else {
        let copy = at_least(&mut buffers.result, g.c_out * width);
        for b in 0..nb {
            for co in 0..g.c_out {
                let src = ((first + b) * g.c_out + co) * s;
                copy[co * width + b * s..co * width + (b + 1) * s]
                    .copy_from_slice(&dy[src..src + s]);
            }
        }
        (copy, width)
    };
    let per_group = g.cig * g.taps();
    let dcols = at_least(&mut buffers.cols, g.c_in * g.taps() * width);
    for group in 0..g.groups {
        // SAFETY: `dcols` is `[c_in·kh·kw, width]` row-major, the group's block rows
        // `group·per_group..+per_group`; the left operand is the transpose of the group's
        // rows of `w` (`[c_out, per_group]` row-major), element `(r, co)` at
        // `co·per_group + r`; `rhs` rows `group·cog..+cog`, each `width` long at stride
        // `rhs_rs ≥ width`. All in bounds of their slices.
        unsafe {
            gemm::gemm(
                per_group,
                width,
                g.cog,
                dcols.as_mut_ptr().add(group * per_group * width),
                1,
                width as isize,
                false,
                w.as_ptr().add(group * g.cog * per_group),
                per_group as isize,
                1,
                rhs.as_ptr().add(group * g.cog * rhs_rs),
                1,
                rhs_rs as isize,
                T::zero(),
                T::one(),
                false,
                false,
                false,
                parallelism,
            );
        }
    }
    for (b, dx) in dst.chunks_exact_mut(sample).enumerate() {
        col2im(g, dcols, width, b * s, dx);
    }
}

/// The input gradients of samples `first..first + B` into `dst` when every group has one input
/// channel (depthwise, any channel multiplier): per plane and kernel tap, rows of `dy` scaled by
/// the tap's weight are added to rows of `dx` directly, without a GEMM or columns buffer.
fn depthwise_chunk<T: Elem>(
    g: &Geometry,
    w: &[T],
    dy: &[T],
    first: usize,
    dst: &mut [T],
    _: &mut Buffers<T>,
    _: gemm::Parallelism,
) {
    let s = g.out_plane();
    let plane = g.h * g.w;
    for (p, dxp) in dst.chunks_exact_mut(plane).enumerate() {
        let (n, c) = (first + p / g.c_in, p % g.c_in);
        for co in c * g.cog..(c + 1) * g.cog {
            let dyp = &dy[(n * g.c_out + co) * s..(n * g.c_out + co + 1) * s];
            for i in 0..g.kh {
                let (oh0, oh1) = g.valid(0, i);
                for j in 0..g.kw {
                    let (ow0, ow1) = g.valid(1, j);
                    if ow0 == ow1 {
                        continue;
                    }
                    let wv = w[(co * g.kh + i) * g.kw + j];
                    let iw0 = ow0 * g.stride[1] + j * g.dilation[1] - g.pad[1];
                    for o in oh0..oh1 {
                        let ih = o * g.stride[0] + i * g.dilation[0] - g.pad[0];
                        let from = &dyp[o * g.ow + ow0..o * g.ow + ow1];
                        let to = &mut dxp[ih * g.w + iw0..(ih + 1) * g.w];
                        if g.stride[1] == 1 {
                            for (d, &v) in to.iter_mut().zip(from) {
                                *d = *d + wv * v;
                            }
                        } else {
                            for (d, &v) in to.iter_mut().step_by(g.stride[1]).zip(from) {
                                *d = *d + wv * v;
                            }
                        }
                    }
                }
            }
        }
    }
}

/// Add columns `offset..offset + oh·ow` of every row `(ci, i, j)` of `cols` (row length
/// `depth`) to `dx[ci, oh·sh + i·dh − ph, ow·sw + j·dw − pw]` of one sample, where inside.
fn col2im<T: Elem>(g: &Geometry, cols: &[T], depth: usize, offset: usize, dx: &mut [T]) {
    let plane = g.h * g.w;
    for (ci, dxp) in dx.chunks_exact_mut(plane).enumerate() {
        for i in 0..g.kh {
            let (oh0, oh1) = g.valid(0, i);
            for j in 0..g.kw {
                let (ow0, ow1) = g.valid(1, j);
                if ow0 == ow1 {
                    continue;
                }
                let row = (ci * g.kh + i) * g.kw + j;
                let src = &cols[row * depth + offset..row * depth + offset + g.out_plane()];
                let iw0 = ow0 * g.stride[1] + j * g.dilation[1] - g.pad[1];
                for o in oh0..oh1 {
                    let ih = o * g.stride[0] + i * g.dilation[0] - g.pad[0];
                    let from = &src[o * g.ow + ow0..o * g.ow + ow1];
                    let to = &mut dxp[ih * g.w + iw0..(ih + 1) * g.w];
                    if g.stride[1] == 1 {
                        for (d, &v) in to.iter_mut().zip(from) {
                            *d = *d + v;
                        }
                    } else {
                        for (d, &v) in to.iter_mut().step_by(g.stride[1]).zip(from) {
                            *d = *d + v;
                        }
                    }
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use alloc::string::String;
    use alloc::vec;
    use alloc::vec::Vec;

    use burn_backend::TensorData;
    use burn_backend::ops::{FloatTensorOps, ModuleOps};
    use burn_std::{bf16, f16};

    use crate::ops::conv_weight_grad::tests::{
        Case, GenericPath, max_error, tensor_f32, to_f64, values,
    };
    use crate::{Flex, FlexTensor};

    /// The definition in f64, and `Σ |terms|` per element (the scale of its rounding error).
    fn reference(case: &Case, w: &[f64], dy: &[f64]) -> (Vec<f64>, Vec<f64>) {
        let [oh, ow] = case.out();
        let (cig, cog) = (case.c_in / case.groups, case.c_out / case.groups);
        let [kh, kw] = case.k;
        let mut value = vec![0.0; case.n * case.c_in * case.h * case.w];
        let mut scale = value.clone();
        for n in 0..case.n {
            for co in 0..case.c_out {
                for ci in 0..cig {
                    let c = (co / cog) * cig + ci;
                    for i in 0..kh {
                        for j in 0..kw {
                            let wv = w[((co * cig + ci) * kh + i) * kw + j];
                            for a in 0..oh {
                                for b in 0..ow {
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
                                    let idx = ((n * case.c_in + c) * case.h + ih as usize) * case.w
                                        + iw as usize;
                                    let term = dy[((n * case.c_out + co) * oh + a) * ow + b] * wv;
                                    value[idx] += term;
                                    scale[idx] += term.abs();
                                }
                            }
                        }
                    }
                }
            }
        }
        (value, scale)
    }

    fn x_f32(case: &Case) -> FlexTensor {
        FlexTensor::from_data(TensorData::zeros::<f32, _>(case.x_shape()))
    }

    fn run_f32(case: &Case, w: &[f64], dy: &[f64]) -> FlexTensor {
        let out = Flex::conv2d_x_backward(
            x_f32(case),
            tensor_f32(w, case.w_shape()),
            tensor_f32(dy, case.dy_shape()),
            case.options(),
        );
        assert_eq!(out.layout().shape().to_vec(), case.x_shape(), "{case:?}");
        out
    }

    /// Every combination of the options on small shapes (f32 against the f64 definition).
    #[test]
    fn matches_definition_over_options() {
        let mut checked = 0;
        let mut worst = (0.0f64, String::new());
        for &(n, c_in, c_out, groups) in &[
            (1, 1, 1, 1),
            (3, 4, 6, 1),
            (3, 4, 6, 2),
            (3, 6, 6, 6),
            (1, 3, 6, 3),
            (3, 1, 5, 1),
        ] {
            for &k in &[1usize, 3, 5, 7] {
                for &stride in &[1usize, 2, 3] {
                    for &pad in &[0usize, 1, 3] {
                        for &dilation in &[1usize, 2] {
                            // 11×9 leaves the last rows/columns of x unreached for some options.
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
                            let w = values(case.w_shape().iter().product(), 1);
                            let dy = values(case.dy_shape().iter().product(), 2);
                            let (want, scale) = reference(&case, &w, &dy);
                            let got = to_f64(run_f32(&case, &w, &dy));
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
        assert!(checked > 350, "{checked}");
        std::println!(
            "{checked} cases, worst relative error {:e} at {}",
            worst.0,
            worst.1
        );
    }

    /// Larger shapes that take the parallel and sample-chunked paths, anisotropic options,
    /// asymmetric padding, grouped and depthwise with a channel multiplier.
    #[test]
    fn matches_definition_on_larger_and_uneven_shapes() {
        #[rustfmt::skip]
        let cases = [
            Case { n: 9, c_in: 16, c_out: 24, h: 7, w: 7, k: [3, 3], stride: [1, 1], padding: [(1, 1), (1, 1)], dilation: [1, 1], groups: 1 },
            Case { n: 5, c_in: 32, c_out: 16, h: 20, w: 20, k: [1, 1], stride: [1, 1], padding: [(0, 0), (0, 0)], dilation: [1, 1], groups: 1 },
            Case { n: 5, c_in: 32, c_out: 16, h: 21, w: 20, k: [1, 1], stride: [2, 2], padding: [(0, 0), (0, 0)], dilation: [1, 1], groups: 1 },
            Case { n: 2, c_in: 3, c_out: 4, h: 5, w: 6, k: [1, 1], stride: [1, 1], padding: [(1, 1), (2, 2)], dilation: [1, 1], groups: 1 },
            Case { n: 3, c_in: 5, c_out: 7, h: 13, w: 10, k: [3, 2], stride: [2, 1], padding: [(2, 2), (0, 0)], dilation: [1, 3], groups: 1 },
            Case { n: 3, c_in: 6, c_out: 6, h: 13, w: 10, k: [2, 5], stride: [1, 3], padding: [(0, 0), (3, 3)], dilation: [2, 1], groups: 6 },
            Case { n: 2, c_in: 4, c_out: 8, h: 10, w: 10, k: [3, 3], stride: [2, 2], padding: [(0, 1), (0, 1)], dilation: [1, 1], groups: 1 },
            Case { n: 2, c_in: 4, c_out: 4, h: 10, w: 9, k: [5, 5], stride: [2, 2], padding: [(1, 2), (2, 1)], dilation: [1, 1], groups: 4 },
            Case { n: 2, c_in: 4, c_out: 4, h: 6, w: 6, k: [1, 1], stride: [1, 1], padding: [(0, 1), (1, 0)], dilation: [1, 1], groups: 1 },
            Case { n: 3, c_in: 4, c_out: 12, h: 9, w: 9, k: [3, 3], stride: [1, 1], padding: [(1, 1), (1, 1)], dilation: [1, 1], groups: 4 },
            Case { n: 3, c_in: 8, c_out: 12, h: 9, w: 9, k: [3, 3], stride: [2, 2], padding: [(1, 1), (1, 1)], dilation: [1, 1], groups: 4 },
            Case { n: 4, c_in: 24, c_out: 32, h: 28, w: 28, k: [3, 3], stride: [1, 1], padding: [(1, 1), (1, 1)], dilation: [1, 1], groups: 1 },
            Case { n: 1, c_in: 24, c_out: 32, h: 56, w: 56, k: [3, 3], stride: [2, 2], padding: [(1, 1), (1, 1)], dilation: [1, 1], groups: 1 },
            Case { n: 4, c_in: 48, c_out: 48, h: 30, w: 30, k: [5, 5], stride: [2, 2], padding: [(2, 2), (2, 2)], dilation: [1, 1], groups: 48 },
            Case { n: 3, c_in: 1, c_out: 32, h: 28, w: 28, k: [5, 5], stride: [1, 1], padding: [(0, 0), (0, 0)], dilation: [1, 1], groups: 1 },
            Case { n: 7, c_in: 32, c_out: 64, h: 12, w: 12, k: [5, 5], stride: [1, 1], padding: [(0, 0), (0, 0)], dilation: [1, 1], groups: 1 },
        ];
        for case in &cases {
            let w = values(case.w_shape().iter().product(), 3);
            let dy = values(case.dy_shape().iter().product(), 4);
            let (want, scale) = reference(case, &w, &dy);
            let err = max_error(&to_f64(run_f32(case, &w, &dy)), &want, &scale);
            assert!(err < 1e-5, "{case:?}: error {err:e}");
        }
    }

    #[rustfmt::skip]
    fn grouped_and_dense() -> [Case; 2] {
        [
            Case { n: 3, c_in: 5, c_out: 7, h: 12, w: 11, k: [3, 3], stride: [2, 2], padding: [(1, 1), (1, 1)], dilation: [1, 1], groups: 1 },
            Case { n: 3, c_in: 6, c_out: 6, h: 12, w: 11, k: [5, 5], stride: [1, 1], padding: [(2, 2), (2, 2)], dilation: [1, 1], groups: 6 },
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
        for case in &grouped_and_dense() {
            let w = values(case.w_shape().iter().product(), 5);
            let dy = values(case.dy_shape().iter().product(), 6);
            let run = |x: TensorData, w: TensorData, dy: TensorData| {
                let out = Flex::conv2d_x_backward(
                    FlexTensor::from_data(x),
                    FlexTensor::from_data(w),
                    FlexTensor::from_data(dy),
                    case.options(),
                );
                assert_eq!(out.layout().shape().to_vec(), case.x_shape());
                out
            };
            let (want, scale) = reference(case, &w, &dy);
            let out = run(
                TensorData::zeros::<f64, _>(case.x_shape()),
                data(&w, case.w_shape(), |v| v),
                data(&dy, case.dy_shape(), |v| v),
            );
            assert_eq!(out.dtype(), burn_backend::DType::F64);
            let err = max_error(&to_f64(out), &want, &scale);
            assert!(err < 1e-12, "f64 {case:?}: {err:e}");

            // Half precision: the reference on the rounded inputs; output rounding dominates.
            let round = |v: &[f64], f: fn(f64) -> f64| v.iter().map(|&a| f(a)).collect::<Vec<_>>();
            let f16r: fn(f64) -> f64 = |a| f16::from_f64(a).to_f64();
            let (wh, dyh) = (round(&w, f16r), round(&dy, f16r));
            let (want, scale) = reference(case, &wh, &dyh);
            let out = run(
                TensorData::zeros::<f16, _>(case.x_shape()),
                data(&wh, case.w_shape(), f16::from_f64),
                data(&dyh, case.dy_shape(), f16::from_f64),
            );
            assert_eq!(out.dtype(), burn_backend::DType::F16);
            let err = max_error(&to_f64(out), &want, &scale);
            assert!(err < 1e-3, "f16 {case:?}: {err:e}");

            let bf16r: fn(f64) -> f64 = |a| bf16::from_f64(a).to_f64();
            let (wb, dyb) = (round(&w, bf16r), round(&dy, bf16r));
            let (want, scale) = reference(case, &wb, &dyb);
            let out = run(
                TensorData::zeros::<bf16, _>(case.x_shape()),
                data(&wb, case.w_shape(), bf16::from_f64),
                data(&dyb, case.dy_shape(), bf16::from_f64),
            );
            assert_eq!(out.dtype(), burn_backend::DType::BF16);
            let err = max_error(&to_f64(out), &want, &scale);
            assert!(err < 1e-2, "bf16 {case:?}: {err:e}");
        }
    }

    /// `weight` and `dy` as transposed views (non-contiguous strides).
    #[test]
    fn non_contiguous_inputs() {
        for case in &grouped_and_dense() {
            let w = values(case.w_shape().iter().product(), 7);
            let dy = values(case.dy_shape().iter().product(), 8);
            let (want, scale) = reference(case, &w, &dy);
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
            let out = Flex::conv2d_x_backward(
                x_f32(case),
                swap(&w, &case.w_shape()),
                swap(&dy, &case.dy_shape()),
                case.options(),
            );
            let err = max_error(&to_f64(out), &want, &scale);
            assert!(err < 1e-5, "{case:?}: {err:e}");
        }
    }

    /// Against burn-backend's own generic implementation (a transposed convolution), also with
    /// `inf`/`NaN` in `dy` or `weight`, at a corner (meeting padding) and inside.
    #[test]
    fn matches_generic_default() {
        let mut cases = grouped_and_dense().to_vec();
        #[rustfmt::skip]
        let extra = [
            Case { n: 2, c_in: 4, c_out: 6, h: 9, w: 9, k: [3, 3], stride: [2, 2], padding: [(0, 1), (0, 1)], dilation: [1, 1], groups: 2 },
            Case { n: 2, c_in: 8, c_out: 4, h: 7, w: 7, k: [1, 1], stride: [1, 1], padding: [(0, 0), (0, 0)], dilation: [1, 1], groups: 1 },
            Case { n: 2, c_in: 3, c_out: 5, h: 10, w: 9, k: [3, 2], stride: [3, 2], padding: [(1, 1), (0, 0)], dilation: [2, 1], groups: 1 },
        ];
        cases.extend(extra);
        for case in &cases {
            let poisons = [
                None,
                Some((f64::INFINITY, false, 0)),
                Some((f64::NAN, false, 5)),
                Some((f64::INFINITY, true, 0)),
                Some((f64::NAN, true, 4)),
            ];
            for poison in poisons {
                let mut w = values(case.w_shape().iter().product(), 9);
                let mut dy = values(case.dy_shape().iter().product(), 10);
                match poison {
                    Some((v, true, i)) => {
                        let len = w.len();
                        w[i % len] = v
                    }
                    Some((v, false, i)) => {
                        let len = dy.len();
                        dy[i % len] = v
                    }
                    None => {}
                }
                let args = || {
                    (
                        x_f32(case),
                        tensor_f32(&w, case.w_shape()),
                        tensor_f32(&dy, case.dy_shape()),
                    )
                };
                let (a, b, c) = args();
                let ours = to_f64(Flex::conv2d_x_backward(a, b, c, case.options()));
                let (a, b, c) = args();
                let generic = to_f64(GenericPath::conv2d_x_backward(a, b, c, case.options()));
                assert_eq!(ours.len(), generic.len());
                for (o, g) in ours.iter().zip(&generic) {
                    let same = (o.is_nan() && g.is_nan())
                        || o == g
                        || (o - g).abs() <= 1e-5 * (1.0 + g.abs());
                    assert!(same, "{case:?} {poison:?}: ours {o} generic {g}");
                }
            }
        }
    }

    /// Old (burn-backend's generic path, a transposed convolution) vs new on the input-gradient
    /// layers of augtrain's benchmark models (LeNet's second layer, ResNet-18, EfficientNet-Lite0
    /// samples), f32, interleaved, minimum of `CONVXGRAD_REPS` (default 5) calls each.
    /// `CONVXGRAD_FILTER=substring` selects cases. Run:
    /// `cargo test --release --lib conv_input_grad::tests::timing -- --ignored --nocapture`.
    #[test]
    #[ignore]
    fn timing() {
        use std::time::Instant;
        // (name, batch, c_in, size, c_out, kernel, stride, padding, groups)
        type Layer = (
            &'static str,
            usize,
            usize,
            usize,
            usize,
            usize,
            usize,
            usize,
            usize,
        );
        let cases: &[Layer] = &[
            ("lenet.conv_k5s1_1x32_28", 64, 1, 28, 32, 5, 1, 0, 1),
            ("lenet.conv_k5s1_32x64_12", 64, 32, 12, 64, 5, 1, 0, 1),
            ("resnet18.conv_k3s1_64x64_56", 32, 64, 56, 64, 3, 1, 1, 1),
            ("resnet18.conv_k3s2_64x128_56", 32, 64, 56, 128, 3, 2, 1, 1),
            (
                "resnet18.conv_k3s1_128x128_28",
                32,
                128,
                28,
                128,
                3,
                1,
                1,
                1,
            ),
            (
                "resnet18.downsample_k1s2_64x128_56",
                32,
                64,
                56,
                128,
                1,
                2,
                0,
                1,
            ),
            (
                "resnet18.conv_k3s2_128x256_28",
                32,
                128,
                28,
                256,
                3,
                2,
                1,
                1,
            ),
            (
                "resnet18.conv_k3s1_256x256_14",
                32,
                256,
                14,
                256,
                3,
                1,
                1,
                1,
            ),
            (
                "resnet18.downsample_k1s2_128x256_28",
                32,
                128,
                28,
                256,
                1,
                2,
                0,
                1,
            ),
            (
                "resnet18.conv_k3s2_256x512_14",
                32,
                256,
                14,
                512,
                3,
                2,
                1,
                1,
            ),
            ("resnet18.conv_k3s1_512x512_7", 32, 512, 7, 512, 3, 1, 1, 1),
            (
                "resnet18.downsample_k1s2_256x512_14",
                32,
                256,
                14,
                512,
                1,
                2,
                0,
                1,
            ),
            (
                "efficientnet_lite0.dwconv_k3s1_32_112",
                32,
                32,
                112,
                32,
                3,
                1,
                1,
                32,
            ),
            (
                "efficientnet_lite0.dwconv_k5s2_144_56",
                32,
                144,
                56,
                144,
                5,
                2,
                2,
                144,
            ),
            (
                "efficientnet_lite0.dwconv_k3s1_1152_7",
                32,
                1152,
                7,
                1152,
                3,
                1,
                1,
                1152,
            ),
            (
                "efficientnet_lite0.project_k1s1_144x24_56",
                32,
                144,
                56,
                24,
                1,
                1,
                0,
                1,
            ),
            (
                "efficientnet_lite0.expand_k1s1_192x1152_7",
                32,
                192,
                7,
                1152,
                1,
                1,
                0,
                1,
            ),
        ];
        let env = |k: &str| std::env::var(k).ok();
        let filter = env("CONVXGRAD_FILTER").unwrap_or_default();
        let reps: usize = env("CONVXGRAD_REPS")
            .and_then(|v| v.parse().ok())
            .unwrap_or(5);
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
            let x = x_f32(&case);
            let w = tensor_f32(&values(case.w_shape().iter().product(), 11), case.w_shape());
            let dy = tensor_f32(
                &values(case.dy_shape().iter().product(), 12),
                case.dy_shape(),
            );
            let (mut old_ms, mut new_ms) = (f64::INFINITY, f64::INFINITY);
            let (mut old, mut new) = (None, None);
            for _ in 0..reps {
                let start = Instant::now();
                old = Some(GenericPath::conv2d_x_backward(
                    x.clone(),
                    w.clone(),
                    dy.clone(),
                    case.options(),
                ));
                old_ms = f64::min(old_ms, start.elapsed().as_secs_f64() * 1e3);
                let start = Instant::now();
                new = Some(Flex::conv2d_x_backward(
                    x.clone(),
                    w.clone(),
                    dy.clone(),
                    case.options(),
                ));
                new_ms = f64::min(new_ms, start.elapsed().as_secs_f64() * 1e3);
            }
            let diff = to_f64(new.unwrap())
                .iter()
                .zip(to_f64(old.unwrap()))
                .map(|(a, b)| (a - b).abs())
                .fold(0.0, f64::max);
            std::println!(
                "| {name} | {old_ms:.2} | {new_ms:.2} | {:.2}x | {diff:.1e} |",
                old_ms / new_ms
            );
        }
    }
}
