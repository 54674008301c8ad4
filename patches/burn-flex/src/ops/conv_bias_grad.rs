//! Bias gradient of a 2-D convolution (augtrain's patch; see `patches/README.md` in
//! augtrain's repository).
//!
//! The backend's default `conv2d_bias_backward` swaps the batch and channel axes of the whole
//! output gradient and reshapes it to `[C, N·H·W]`, which copies it (a physical transpose of
//! the largest tensor of the layer), then sums each row. Here each channel's `N` contiguous
//! runs of `H·W` values are summed in place, in f64 with fixed partial sums (as batch norm's
//! statistics: deterministic), channels in parallel. f32 and f64 natively; other dtypes keep
//! the default composition.

use burn_backend::ops::FloatTensorOps;
use burn_backend::{DType, TensorMetadata};
use burn_std::Shape;

use crate::ops::batch_norm::{Real, lane_sum, per_channel, runs, split, tensor};
use crate::{Flex, FlexTensor};

/// `Σ_{n,h,w} output_grad[n, c, h, w]` for every channel `c`, shaped as `bias` (`[C]`).
pub(crate) fn conv2d_bias_backward(bias: FlexTensor, output_grad: FlexTensor) -> FlexTensor {
    let bias_shape = bias.shape();
    match output_grad.dtype() {
        DType::F32 => native::<f32>(output_grad, bias_shape),
        DType::F64 => native::<f64>(output_grad, bias_shape),
        _ => composed(output_grad, bias_shape),
    }
}

fn native<T: Real>(output_grad: FlexTensor, bias_shape: Shape) -> FlexTensor {
    let dy = output_grad.to_contiguous();
    let (n, c, s) = split(&dy.shape());
    let values: &[T] = dy.storage();
    let sums = per_channel(c, values.len(), |ch| {
        runs(values, n, c, s, ch)
            .map(|run| lane_sum(run, |v| v))
            .sum::<f64>()
    });
    tensor(sums.into_iter().map(T::from_f64).collect(), bias_shape)
}

/// The backend's default: swap batch and channels, flatten, sum each channel's row.
fn composed(output_grad: FlexTensor, bias_shape: Shape) -> FlexTensor {
    let [n, c, h, w] = output_grad.shape().dims();
    let grad = Flex::float_swap_dims(output_grad, 0, 1);
    let grad = Flex::float_reshape(grad, Shape::new([c, n * h * w]));
    let grad = Flex::float_sum_dim(grad, 1);
    Flex::float_reshape(grad, bias_shape)
}
