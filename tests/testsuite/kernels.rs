//! The CPU backend's patched kernels (`patches/burn-flex`: fused batch norm, direct
//! convolution forward and gradients, 2-D max pooling) against their definitions, through
//! burn's own dispatch and autodiff, as augtrain's models use them. The crate's own suite
//! (`tools/burn-flex-patch.sh test`) tests each kernel alone; these check the wiring.
//!
//! Inputs come from a fixed hash, never from the device's shared generator, so a run is
//! reproducible; sums are compared within a tolerance relative to the sum of the absolute
//! values of their terms (what float rounding of a sum can move), not to the sum itself.

use burn::tensor::{Device, Tensor, TensorData, Tolerance};

/// `len` values of mean 0 and variance 1 (a sum of four uniforms, Irwin-Hall), from `key`.
fn hashed_normal(key: u32, len: usize) -> Vec<f32> {
    use augtrain::util::rng::{pixel_hash, unit_f32};
    let uniform = |k: u32, i: usize| unit_f32(pixel_hash(key.wrapping_mul(8) + k, i as u32));
    (0..len)
        .map(|i| ((0..4).map(|k| uniform(k, i)).sum::<f32>() - 2.0) * 3f32.sqrt())
        .collect()
}

fn hashed_tensor(key: u32, dims: [usize; 4], device: &Device) -> Tensor<4> {
    let len = dims.iter().product();
    Tensor::<4>::from_data(TensorData::new(hashed_normal(key, len), dims), device)
}

/// Every `(i, j, k, l)` of `0..a × 0..b × 0..c × 0..d`, last index fastest.
fn index_grid(
    a: usize,
    b: usize,
    c: usize,
    d: usize,
) -> impl Iterator<Item = (usize, usize, usize, usize)> {
    (0..a).flat_map(move |i| {
        (0..b).flat_map(move |j| (0..c).flat_map(move |k| (0..d).map(move |l| (i, j, k, l))))
    })
}

/// A tensor's values as `f32`, in row-major order.
fn values<const D: usize>(t: Tensor<D>) -> Vec<f32> {
    t.into_data().convert::<f32>().try_to_vec::<f32>().unwrap()
}

/// Every `got[i]` within `1e-5 · scale[i] + 1e-5` of `want[i]`, where `scale[i]` is the sum of
/// the absolute values of the terms that make `want[i]`.
fn assert_sums_close(what: &str, got: &[f32], want: &[f64], scale: &[f64]) {
    assert_eq!(got.len(), want.len(), "{what}: length");
    for (i, ((g, w), s)) in got.iter().zip(want).zip(scale).enumerate() {
        let err = (*g as f64 - w).abs();
        assert!(
            err <= 1e-5 * s + 1e-5,
            "{what}[{i}]: {g} against {w} (error {err:.2e}, terms' absolute sum {s:.3})"
        );
    }
}

/// Batch norm as burn's backend defines it by default, out of generic tensor ops (the
/// statistics over `[C, N·S]` after swapping the first two axes), differentiated by
/// autodiff op by op; the patched CPU backend (`patches/burn-flex`) replaces it with fused
/// kernels and must give the same values and gradients.
fn composed_batch_norm(x: Tensor<4>, g: Tensor<1>, b: Tensor<1>, eps: f64) -> Tensor<4> {
    let [n, c, h, w] = x.dims();
    let flat = |t: Tensor<4>| t.swap_dims(0, 1).reshape([c, n * h * w]);
    let mean = flat(x.clone()).mean_dim(1).reshape([1, c, 1, 1]);
    let centred = x - mean;
    let var = flat(centred.clone() * centred.clone())
        .mean_dim(1)
        .reshape([1, c, 1, 1]);
    centred / var.add_scalar(eps).sqrt() * g.reshape([1, c, 1, 1]) + b.reshape([1, c, 1, 1])
}

#[test]
fn fused_batch_norm_equals_burns_composed_definition_values_and_gradients() {
    use burn::tensor::module::{batch_norm, batch_norm_train};
    let ad = Device::flex().autodiff();
    let tol = Tolerance::<f32>::rel_abs(1e-5, 2e-4);
    for (case, [n, c, h, w]) in [[4, 3, 5, 7], [2, 8, 1, 1], [64, 2, 12, 12]]
        .into_iter()
        .enumerate()
    {
        let key = 100 * case as u32;
        let t4 = |k: u32| {
            Tensor::<4>::from_data(
                TensorData::new(hashed_normal(key + k, n * c * h * w), [n, c, h, w]),
                &ad,
            )
        };
        let t1 =
            |k: u32| Tensor::<1>::from_data(TensorData::new(hashed_normal(key + k, c), [c]), &ad);
        let (x, dy) = (t4(0).require_grad(), t4(10));
        let (g, b) = (t1(20).require_grad(), t1(30).require_grad());
        let fused = batch_norm_train(x.clone(), g.clone(), b.clone(), 1e-5);
        let composed = composed_batch_norm(x.clone(), g.clone(), b.clone(), 1e-5);
        fused
            .output
            .to_data()
            .assert_approx_eq(&composed.to_data(), tol);
        let grads_f = (fused.output * dy.clone()).sum().backward();
        let grads_c = (composed * dy).sum().backward();
        for (name, f, e) in [
            (
                "dx",
                x.grad(&grads_f).unwrap().into_data(),
                x.grad(&grads_c).unwrap().into_data(),
            ),
            (
                "dgamma",
                g.grad(&grads_f).unwrap().into_data(),
                g.grad(&grads_c).unwrap().into_data(),
            ),
            (
                "dbeta",
                b.grad(&grads_f).unwrap().into_data(),
                b.grad(&grads_c).unwrap().into_data(),
            ),
        ] {
            assert_eq!(f.shape(), e.shape(), "{name}");
            f.assert_approx_eq::<f32>(&e, tol);
        }
        // Evaluation mode with given statistics.
        let (mean, var) = (fused.mean.detach(), fused.variance.detach());
        let eval = batch_norm(
            x.clone().detach(),
            g.clone().detach(),
            b.clone().detach(),
            mean.clone(),
            var.clone(),
            1e-3,
        );
        let c4 = |t: Tensor<1>| t.reshape([1, c, 1, 1]);
        let expected = (x.detach() - c4(mean)) / c4(var).add_scalar(1e-3).sqrt() * c4(g.detach())
            + c4(b.detach());
        eval.to_data().assert_approx_eq(&expected.to_data(), tol);
    }
}

#[test]
fn conv_weight_gradient_equals_its_definition_for_every_option() {
    use burn::tensor::module::conv2d;
    use burn::tensor::ops::ConvOptions;
    let ad = Device::flex().autodiff();
    // (n, ci, h, w, co, k, stride, pad, dilation, groups): the LeNet and ResNet shapes in
    // small, strided and padded, dilated, grouped, depthwise, pointwise, one input channel.
    let cases = [
        (3, 1, 12, 12, 4, 5, 1, 0, 1, 1),
        (2, 3, 9, 11, 5, 3, 2, 1, 1, 1),
        (2, 4, 10, 10, 6, 3, 1, 2, 2, 2),
        (3, 6, 8, 7, 6, 3, 1, 1, 1, 6),
        (2, 6, 9, 9, 12, 5, 2, 2, 1, 6),
        (4, 8, 5, 5, 3, 1, 1, 0, 1, 1),
        (1, 3, 16, 16, 8, 7, 2, 3, 1, 1),
        // Planes large enough for the forward's row tiles (one sample, then several;
        // the last tile partial; padding, stride, dilation and groups clipped per tile).
        (1, 8, 64, 64, 4, 3, 1, 1, 1, 1),
        (3, 16, 80, 72, 6, 3, 2, 2, 2, 2),
        // 3×3 stride-1 layers wide enough for Winograd, padded and unpadded, odd planes.
        (4, 32, 9, 9, 40, 3, 1, 1, 1, 1),
        (8, 32, 10, 7, 32, 3, 1, 0, 1, 1),
    ];
    for (n, ci, h, w, co, k, stride, pad, dilation, groups) in cases {
        let x = hashed_tensor(1, [n, ci, h, w], &ad);
        let weight = hashed_tensor(2, [co, ci / groups, k, k], &ad).require_grad();
        let options = ConvOptions::new([stride; 2], [pad; 2], [dilation; 2], groups);
        let y = conv2d(x.clone(), weight.clone(), None, options);
        let [_, _, oh, ow] = y.dims();
        let dy = hashed_tensor(3, [n, co, oh, ow], &ad);
        let grads = (y * dy.clone()).sum().backward();
        let got = values(weight.grad(&grads).unwrap());
        let (xs, dys) = (values(x), values(dy));
        let mut want = vec![0f64; got.len()];
        let mut scale = vec![0f64; got.len()];
        for (xi, wi, yi) in conv_taps(
            [n, ci, h, w],
            [co, oh, ow],
            k,
            stride,
            pad,
            dilation,
            groups,
        ) {
            let term = xs[xi] as f64 * dys[yi] as f64;
            want[wi] += term;
            scale[wi] += term.abs();
        }
        let what = format!(
            "dW of case {:?}",
            (n, ci, h, w, co, k, stride, pad, dilation, groups)
        );
        assert_sums_close(&what, &got, &want, &scale);
    }
}

/// Every multiply of a convolution as `(x index, weight index, y index)`, NCHW / OIHW,
/// taps that fall in the zero padding left out.
#[allow(clippy::too_many_arguments)]
fn conv_taps(
    [n, ci, h, w]: [usize; 4],
    [co, oh, ow]: [usize; 3],
    k: usize,
    stride: usize,
    pad: usize,
    dilation: usize,
    groups: usize,
) -> Vec<(usize, usize, usize)> {
    let (cig, cog) = (ci / groups, co / groups);
    let mut taps = Vec::new();
    for (s, o, y, z) in index_grid(n, co, oh, ow) {
        for (i, a, b, _) in index_grid(cig, k, k, 1) {
            let (r, q) = (
                (y * stride + a * dilation) as isize - pad as isize,
                (z * stride + b * dilation) as isize - pad as isize,
            );
            if r < 0 || q < 0 || r >= h as isize || q >= w as isize {
                continue;
            }
            let c = (o / cog) * cig + i;
            let xi = ((s * ci + c) * h + r as usize) * w + q as usize;
            let wi = ((o * cig + i) * k + a) * k + b;
            taps.push((xi, wi, ((s * co + o) * oh + y) * ow + z));
        }
    }
    taps
}

#[test]
fn conv_forward_input_and_bias_gradients_equal_their_definition_for_every_option() {
    use burn::tensor::module::conv2d;
    use burn::tensor::ops::ConvOptions;
    let ad = Device::flex().autodiff();
    // (n, ci, h, w, co, k, stride, pad, dilation, groups): LeNet's two layers (small), a
    // batch wide enough for the kernels' sample batching and parallel split, strided and
    // padded, dilated, grouped, depthwise, pointwise, a ResNet-like stem, and 3×3 stride-1
    // layers wide enough for Winograd (padded and unpadded, odd planes).
    let cases = [
        (4, 32, 9, 9, 40, 3, 1, 1, 1, 1),
        (8, 32, 10, 7, 32, 3, 1, 0, 1, 1),
        (3, 1, 12, 12, 4, 5, 1, 0, 1, 1),
        (9, 6, 8, 8, 8, 5, 1, 0, 1, 1),
        (2, 3, 9, 11, 5, 3, 2, 1, 1, 1),
        (2, 4, 10, 10, 6, 3, 1, 2, 2, 2),
        (3, 6, 8, 7, 6, 3, 1, 1, 1, 6),
        (2, 6, 9, 9, 12, 5, 2, 2, 1, 6),
        (4, 8, 5, 5, 3, 1, 1, 0, 1, 1),
        (1, 3, 16, 16, 8, 7, 2, 3, 1, 1),
    ];
    for (n, ci, h, w, co, k, stride, pad, dilation, groups) in cases {
        let x = hashed_tensor(4, [n, ci, h, w], &ad).require_grad();
        let weight = hashed_tensor(5, [co, ci / groups, k, k], &ad);
        let bias =
            Tensor::<1>::from_data(TensorData::new(hashed_normal(6, co), [co]), &ad).require_grad();
        let options = ConvOptions::new([stride; 2], [pad; 2], [dilation; 2], groups);
        let y = conv2d(x.clone(), weight.clone(), Some(bias.clone()), options);
        let [_, _, oh, ow] = y.dims();
        let dy = hashed_tensor(7, [n, co, oh, ow], &ad);
        let grads = (y.clone() * dy.clone()).sum().backward();
        let dx = values(x.grad(&grads).unwrap());
        let db = values(bias.grad(&grads).unwrap());
        let (xs, ws, dys, bs) = (values(x), values(weight), values(dy), values(bias));
        let plane = oh * ow;
        let mut want_db = vec![0f64; co];
        let mut scale_db = vec![0f64; co];
        for (i, g) in dys.iter().enumerate() {
            want_db[(i / plane) % co] += *g as f64;
            scale_db[(i / plane) % co] += g.abs() as f64;
        }
        let mut want_y: Vec<f64> = (0..n * co * plane)
            .map(|i| bs[(i / plane) % co] as f64)
            .collect();
        let mut scale_y: Vec<f64> = want_y.iter().map(|b| b.abs()).collect();
        let mut want_dx = vec![0f64; xs.len()];
        let mut scale_dx = vec![0f64; xs.len()];
        for (xi, wi, yi) in conv_taps(
            [n, ci, h, w],
            [co, oh, ow],
            k,
            stride,
            pad,
            dilation,
            groups,
        ) {
            let (forward, backward) = (
                xs[xi] as f64 * ws[wi] as f64,
                ws[wi] as f64 * dys[yi] as f64,
            );
            want_y[yi] += forward;
            scale_y[yi] += forward.abs();
            want_dx[xi] += backward;
            scale_dx[xi] += backward.abs();
        }
        let case = format!("{:?}", (n, ci, h, w, co, k, stride, pad, dilation, groups));
        assert_sums_close(&format!("y of case {case}"), &values(y), &want_y, &scale_y);
        assert_sums_close(&format!("dx of case {case}"), &dx, &want_dx, &scale_dx);
        assert_sums_close(&format!("db of case {case}"), &db, &want_db, &scale_db);
    }
}

/// Max pooling by its definition over one `[n, c, h, w]` tensor: each window clipped to the
/// input, the first maximum in row-major window order, a NaN replacing anything (PyTorch's
/// convention). Returns the pooled values and, per output, the flat input index it took.
fn max_pool_by_definition(
    x: &[f32],
    [n, c, h, w]: [usize; 4],
    k: usize,
    stride: usize,
    pad: usize,
    dilation: usize,
    [oh, ow]: [usize; 2],
) -> (Vec<f32>, Vec<usize>) {
    let (mut values, mut taken) = (Vec::new(), Vec::new());
    for (plane, i, j) in
        (0..n * c).flat_map(|p| (0..oh).flat_map(move |i| (0..ow).map(move |j| (p, i, j))))
    {
        let mut best: Option<(f32, usize)> = None;
        for (a, b) in (0..k).flat_map(|a| (0..k).map(move |b| (a, b))) {
            let (y, x_) = (
                (i * stride + a * dilation) as isize - pad as isize,
                (j * stride + b * dilation) as isize - pad as isize,
            );
            if y < 0 || x_ < 0 || y as usize >= h || x_ as usize >= w {
                continue;
            }
            let at = plane * h * w + y as usize * w + x_ as usize;
            let v = x[at];
            if best.is_none_or(|(m, _)| v > m || v.is_nan()) {
                best = Some((v, at));
            }
        }
        let (v, at) = best.expect("every window of these cases overlaps the input");
        values.push(v);
        taken.push(at);
    }
    (values, taken)
}

#[test]
fn max_pooling_equals_its_definition_values_and_gradients() {
    use burn::nn::PaddingConfig2d;
    use burn::nn::pool::MaxPool2dConfig;
    let ad = Device::flex().autodiff();
    // (n, c, h, w, k, stride, pad, dilation, ceil): LeNet's and ResNet's stem pools, odd
    // sizes, ceil mode with a clipped last window, overlapping and dilated windows; the
    // first and last large enough for the backend's parallel path, 2x2 windows on odd
    // sizes (the last row and column dropped). Values on a 0.5 grid, so windows hold ties
    // (the first maximum must win); one NaN in each.
    let cases = [
        (16, 32, 24, 24, 2, 2, 0, 1, false),
        (2, 3, 7, 9, 2, 2, 0, 1, false),
        (2, 3, 15, 13, 3, 2, 1, 1, false),
        (2, 2, 9, 10, 3, 2, 1, 1, true),
        (1, 3, 11, 9, 2, 1, 0, 2, false),
        (2, 5, 7, 8, 3, 3, 1, 1, true),
        (2, 8, 128, 129, 3, 2, 1, 1, false),
    ];
    for (case, (n, c, h, w, k, stride, pad, dilation, ceil)) in cases.into_iter().enumerate() {
        let mut xs = hashed_normal(8 + case as u32, n * c * h * w);
        xs.iter_mut().for_each(|v| *v = (*v * 2.0).round() / 2.0);
        let nan_at = (case * 7) % xs.len();
        xs[nan_at] = f32::NAN;
        let x =
            Tensor::<4>::from_data(TensorData::new(xs.clone(), [n, c, h, w]), &ad).require_grad();
        let pool = MaxPool2dConfig::new([k, k])
            .with_strides([stride; 2])
            .with_padding(PaddingConfig2d::Explicit(pad, pad, pad, pad))
            .with_dilation([dilation; 2])
            .with_ceil_mode(ceil)
            .init();
        let y = pool.forward(x.clone());
        let [_, _, oh, ow] = y.dims();
        let (want, taken) =
            max_pool_by_definition(&xs, [n, c, h, w], k, stride, pad, dilation, [oh, ow]);
        let got: Vec<f32> = y.clone().into_data().try_to_vec().unwrap();
        let same = |a: f32, b: f32| a == b || (a.is_nan() && b.is_nan());
        assert!(
            got.iter().zip(&want).all(|(a, b)| same(*a, *b)),
            "case {case}: values"
        );
        // Inference (no autodiff, no indices) gives the same values.
        let plain = pool.forward(Tensor::<4>::from_data(
            TensorData::new(xs.clone(), [n, c, h, w]),
            &Device::flex(),
        ));
        let plain: Vec<f32> = plain.into_data().try_to_vec().unwrap();
        assert!(
            plain.iter().zip(&want).all(|(a, b)| same(*a, *b)),
            "case {case}: inference"
        );
        // Gradient: each output's upstream value lands on the input it took.
        let dy: Vec<f32> = (0..got.len())
            .map(|i| 1.0 + (i % 13) as f32 / 8.0)
            .collect();
        let dyt = Tensor::<4>::from_data(TensorData::new(dy.clone(), [n, c, oh, ow]), &ad);
        let grads = (y * dyt).sum().backward();
        let grad: Vec<f32> = x.grad(&grads).unwrap().into_data().try_to_vec().unwrap();
        let mut expected = vec![0.0f32; xs.len()];
        for (at, d) in taken.iter().zip(&dy) {
            expected[*at] += d;
        }
        assert_eq!(grad, expected, "case {case}: gradient");
    }
}
