//! Batch norm folded into the convolution it follows, for inference. In evaluation mode a
//! batch norm is a per-channel affine map, `y = γ·(x − μ)/√(σ² + ε) + β`, and the convolution
//! before it is linear, so the two are one convolution with weights `w'[co] = w[co]·s[co]` and
//! bias `b'[co] = (b[co] − μ[co])·s[co] + β[co]`, where `s = γ/√(σ² + ε)`: inference then skips
//! a pass over every normalized activation and the buffer it writes (PyTorch's eager mode keeps
//! both). The folded values are computed in f64 from the f32 parameters, so the folded network
//! agrees with the unfolded one to f32 rounding.

use burn::module::{Param, ParamId};
use burn::nn::BatchNorm;
use burn::nn::conv::Conv2d;
use burn::prelude::*;

/// `conv` followed by `bn` (its running statistics), as one convolution with a bias.
pub fn fold(conv: Conv2d, bn: &BatchNorm) -> Conv2d {
    let floats = |t: Tensor<1>| -> Vec<f64> { t.into_data().iter::<f64>().collect() };
    let (gamma, beta) = (floats(bn.gamma.val()), floats(bn.beta.val()));
    let (mean, var) = (
        floats(bn.running_mean.value()),
        floats(bn.running_var.value()),
    );
    let weight = conv.weight.val();
    let device = weight.device();
    let dims = weight.dims();
    let channels = dims[0];
    let scale: Vec<f64> = (0..channels)
        .map(|c| gamma[c] / (var[c] + bn.epsilon).sqrt())
        .collect();
    let per_channel = dims[1] * dims[2] * dims[3];
    let folded: Vec<f32> = weight
        .into_data()
        .iter::<f64>()
        .enumerate()
        .map(|(i, w)| (w * scale[i / per_channel]) as f32)
        .collect();
    let old_bias = conv
        .bias
        .as_ref()
        .map(|b| floats(b.val()))
        .unwrap_or_else(|| vec![0.0; channels]);
    let bias: Vec<f32> = (0..channels)
        .map(|c| ((old_bias[c] - mean[c]) * scale[c] + beta[c]) as f32)
        .collect();
    let bias_id = conv.bias.as_ref().map_or_else(ParamId::new, |b| b.id);
    Conv2d {
        weight: Param::initialized(
            conv.weight.id,
            Tensor::from_data(TensorData::new(folded, dims), &device),
        ),
        bias: Some(Param::initialized(
            bias_id,
            Tensor::from_data(TensorData::new(bias, [channels]), &device),
        )),
        ..conv
    }
}

/// `bn` applied to `x`, unless it was folded into the convolution that made `x`.
pub fn norm(bn: &BatchNorm, folded: bool, x: Tensor<4>) -> Tensor<4> {
    if folded { x } else { bn.forward(x) }
}

#[cfg(test)]
mod tests {
    use super::*;
    use burn::module::RunningState;
    use burn::nn::BatchNormConfig;
    use burn::nn::conv::Conv2dConfig;
    use burn::tensor::Distribution;

    fn random(shape: [usize; 1], lo: f64, hi: f64, dev: &Device) -> Tensor<1> {
        Tensor::random(shape, Distribution::Uniform(lo, hi), dev)
    }

    /// Folded and unfolded agree on random weights and statistics, for a plain convolution
    /// without bias, a depthwise one and one with a bias of its own.
    #[test]
    fn a_folded_convolution_equals_convolution_then_batch_norm() {
        let dev = Device::flex();
        dev.seed(7);
        for (cin, cout, groups, bias) in [(3, 8, 1, false), (8, 8, 8, false), (4, 6, 1, true)] {
            let conv = Conv2dConfig::new([cin, cout], [3, 3])
                .with_groups(groups)
                .with_bias(bias)
                .init(&dev);
            let mut bn = BatchNormConfig::new(cout).with_epsilon(1e-3).init(&dev);
            bn.gamma = Param::from_tensor(random([cout], 0.5, 2.0, &dev));
            bn.beta = Param::from_tensor(random([cout], -1.0, 1.0, &dev));
            bn.running_mean = RunningState::new(random([cout], -0.5, 0.5, &dev));
            bn.running_var = RunningState::new(random([cout], 0.1, 3.0, &dev));
            let x = Tensor::<4>::random([2, cin, 9, 7], Distribution::Normal(0.0, 1.0), &dev);
            let want = bn.forward(conv.forward(x.clone()));
            let got = fold(conv, &bn).forward(x);
            let (want, got): (Vec<f32>, Vec<f32>) = (
                want.into_data().iter::<f32>().collect(),
                got.into_data().iter::<f32>().collect(),
            );
            assert_eq!(want.len(), got.len());
            let worst = want
                .iter()
                .zip(&got)
                .map(|(a, b)| (a - b).abs() / a.abs().max(1.0))
                .fold(0f32, f32::max);
            assert!(worst < 1e-5, "groups {groups}, bias {bias}: {worst}");
        }
    }
}
