//! Per-operation timings of burn's kernels on the cases of `tools/op_cases.json` (the layer
//! shapes of the LeNet CNN, ResNet-18 and EfficientNet-Lite0, each direction of training), the
//! same file `tools/torch_op_bench.py` times PyTorch on, so the two JSON reports join case by
//! case (`tools/op_compare.py`).
//!
//! What one call is, per kind and direction (the backend's own backward kernels, the ones burn's
//! autodiff calls, reached through the dispatch backend where burn's tensor API has no function):
//! - conv2d forward: `module::conv2d` (with the bias when the case has one);
//! - conv2d input_grad: `ModuleOps::conv2d_x_backward` (the CPU backend's native kernels; a
//!   backend without its own runs burn's default transposed convolution);
//! - conv2d weight_grad: `module::conv2d_weight_backward`;
//! - pool forward / backward: `max_pool2d_with_indices` / its backward, `avg_pool2d` / its backward;
//! - linear forward: `module::linear`; backward: dL/dx = dy·Wᵀ, dL/dW = xᵀ·dy, dL/db = Σ dy;
//! - batchnorm forward: `module::batch_norm_train` plus the running-statistics update;
//!   backward: `ModuleOps::batch_norm_train_backward` (dL/dx, dL/dγ, dL/dβ from the forward's
//!   batch mean and variance), PyTorch's `native_batch_norm_backward`.
//!
//! Inputs are random; every call ends by reading one value of its result and syncing the
//! device, so queued work (none on the CPU backend, some on a GPU) is finished inside the
//! timing.

use std::path::Path;

use burn::backend::Dispatch;
use burn::backend::ops::ModuleOps;
use burn::prelude::*;
use burn::tensor::Distribution;
use burn::tensor::module::{
    avg_pool2d, avg_pool2d_backward, batch_norm_train, conv2d, conv2d_weight_backward, linear,
    max_pool2d_with_indices, max_pool2d_with_indices_backward,
};
use burn::tensor::ops::{AvgPoolOptions, ConvOptions, MaxPoolOptions};
use serde::Deserialize;

use super::{Measurement, Options, time};
use crate::device::ComputeDevice;

/// One case of `tools/op_cases.json` (field meanings in the file's `fields`).
#[derive(Clone, Debug, Deserialize)]
pub struct OpCase {
    /// Stable id, `model.role_shape_height.direction`.
    pub name: String,
    /// `conv2d`, `pool`, `linear` or `batchnorm`.
    pub kind: String,
    /// `forward`, `input_grad`, `weight_grad` or `backward`.
    pub direction: String,
    /// N.
    pub batch: usize,
    /// C in (linear: in features).
    pub in_channels: usize,
    /// C out (linear: out features).
    pub out_channels: usize,
    /// Input height.
    pub height: usize,
    /// Input width.
    pub width: usize,
    /// Square kernel or pool window.
    pub kernel: usize,
    /// Stride.
    pub stride: usize,
    /// Symmetric padding per side.
    pub padding: usize,
    /// Convolution groups.
    pub groups: usize,
    /// Whether a conv or linear layer has a bias.
    #[serde(default)]
    pub bias: bool,
    /// `max` or `avg` for pools.
    #[serde(default)]
    pub pool: Option<String>,
    /// Batch-norm epsilon.
    #[serde(default)]
    pub eps: Option<f64>,
}

#[derive(Deserialize)]
struct CaseFile {
    cases: Vec<OpCase>,
}

/// Read the cases of `path`, keeping those whose name contains `filter` (all when empty).
pub fn read_cases(path: &Path, filter: &str) -> crate::Result<Vec<OpCase>> {
    let bytes = crate::util::fs::read(path)?;
    let file: CaseFile = serde_json::from_slice(&bytes).map_err(|e| {
        crate::Error::Data(crate::data::DataError::Malformed {
            path: path.to_path_buf(),
            problem: format!("not an op-cases file: {e}"),
        })
    })?;
    Ok(file
        .cases
        .into_iter()
        .filter(|c| c.name.contains(filter))
        .collect())
}

/// Time every case on `device`; one measurement per case (its GFLOP/s in the note for
/// convolutions and linear layers).
pub fn run(
    opts: &Options,
    cases: &[OpCase],
    device: &ComputeDevice,
    log: &dyn Fn(&str),
) -> crate::Result<Vec<Measurement>> {
    let dev = &device.device;
    let mut out = Vec::with_capacity(cases.len());
    for case in cases {
        let mut call = prepare(case, dev)?;
        let stats = time(1, opts.reps(), &mut call);
        let median = stats.median;
        let gflop = work_gflop(case);
        let note = gflop.map(|g| format!("{:.2} GFLOP/s", g / median));
        log(&format!(
            "{:<60} {:>10.3} ms  {}",
            case.name,
            median * 1e3,
            note.clone().unwrap_or_default()
        ));
        out.push(Measurement {
            group: "ops".into(),
            name: case.name.clone(),
            engine: if device.is_gpu() { "gpu" } else { "cpu" }.into(),
            batch: case.batch,
            items_per_second: 1.0 / median,
            bytes_per_second: None,
            ceiling_fraction: None,
            note,
            stats: super::Stats { median, ..stats },
        });
    }
    Ok(out)
}

/// Work of one call in GFLOP (2 per multiply-add) for convolutions and linear layers: each of
/// a convolution's three directions counts `2·N·Cout·Hout·Wout·Cin/groups·k²`, a linear
/// layer's forward `2·N·in·out` and its backward twice that.
pub fn work_gflop(c: &OpCase) -> Option<f64> {
    match c.kind.as_str() {
        "conv2d" => {
            let (ho, wo) = out_size(c);
            let macs = c.batch
                * c.out_channels
                * ho
                * wo
                * (c.in_channels / c.groups)
                * c.kernel
                * c.kernel;
            Some(2.0 * macs as f64 / 1e9)
        }
        "linear" => {
            let f = 2.0 * (c.batch * c.in_channels * c.out_channels) as f64 / 1e9;
            Some(if c.direction == "backward" {
                2.0 * f
            } else {
                f
            })
        }
        _ => None,
    }
}

/// Output height and width of a conv or pool case.
fn out_size(c: &OpCase) -> (usize, usize) {
    let o = |n: usize| (n + 2 * c.padding - c.kernel) / c.stride + 1;
    (o(c.height), o(c.width))
}

fn random<const D: usize>(dims: [usize; D], dev: &Device) -> Tensor<D> {
    Tensor::random(dims, Distribution::Normal(0.0, 1.0), dev)
}

/// Wait for `t`: read one of its values, then drain the device's queue (a GPU may otherwise
/// still be working on what the value did not need).
fn finish<const D: usize>(t: Tensor<D>) {
    let device = t.device();
    let first = t.flatten::<1>(0, D - 1).slice(0..1);
    std::hint::black_box(first.into_data());
    let _ = device.sync();
}

type Call = Box<dyn FnMut()>;

/// The closure timing `case` (inputs made once, outside the timing).
fn prepare(c: &OpCase, dev: &Device) -> crate::Result<Call> {
    let call: Call = match (c.kind.as_str(), c.direction.as_str()) {
        ("conv2d", dir) => prepare_conv(c, dir, dev),
        ("pool", dir) => prepare_pool(c, dir, dev),
        ("linear", dir) => prepare_linear(c, dir, dev),
        ("batchnorm", "forward") => prepare_bn_forward(c, dev),
        ("batchnorm", "backward") => prepare_bn_backward(c, dev),
        (kind, dir) => {
            return Err(crate::Error::Usage(format!(
                "op case {}: unknown kind/direction {kind}/{dir}",
                c.name
            )));
        }
    };
    Ok(call)
}

fn prepare_conv(c: &OpCase, dir: &str, dev: &Device) -> Call {
    let (ho, wo) = out_size(c);
    let x = random([c.batch, c.in_channels, c.height, c.width], dev);
    let w = random(
        [c.out_channels, c.in_channels / c.groups, c.kernel, c.kernel],
        dev,
    );
    let b = c.bias.then(|| random([c.out_channels], dev));
    let dy = random([c.batch, c.out_channels, ho, wo], dev);
    let opts = ConvOptions::new([c.stride; 2], [c.padding; 2], [1, 1], c.groups);
    match dir {
        "forward" => {
            Box::new(move || finish(conv2d(x.clone(), w.clone(), b.clone(), opts.clone())))
        }
        "input_grad" => Box::new(move || {
            finish(conv2d_x_backward(
                x.clone(),
                w.clone(),
                dy.clone(),
                opts.clone(),
            ))
        }),
        _ => Box::new(move || {
            finish(conv2d_weight_backward(
                x.clone(),
                w.clone(),
                dy.clone(),
                opts.clone(),
            ))
        }),
    }
}

/// dL/dx of `conv2d(x, w)` given dL/dy: the backend's `conv2d_x_backward`, the kernel burn's
/// autodiff runs (burn's tensor API exposes only the weight gradient).
fn conv2d_x_backward(x: Tensor<4>, w: Tensor<4>, dy: Tensor<4>, o: ConvOptions<2>) -> Tensor<4> {
    Tensor::from_dispatch(<Dispatch as ModuleOps<Dispatch>>::conv2d_x_backward(
        x.into_dispatch(),
        w.into_dispatch(),
        dy.into_dispatch(),
        o,
    ))
}

fn prepare_pool(c: &OpCase, dir: &str, dev: &Device) -> Call {
    let x = random([c.batch, c.in_channels, c.height, c.width], dev);
    let (k, s, p) = ([c.kernel; 2], [c.stride; 2], [c.padding; 2]);
    if c.pool.as_deref() == Some("avg") {
        let o = AvgPoolOptions::new(k).with_stride(s).with_padding(p);
        let y = avg_pool2d(x.clone(), o.clone());
        return match dir {
            "forward" => Box::new(move || finish(avg_pool2d(x.clone(), o.clone()))),
            _ => Box::new(move || {
                finish(avg_pool2d_backward(
                    x.clone(),
                    y.clone(),
                    k,
                    s,
                    p,
                    true,
                    false,
                ))
            }),
        };
    }
    let o = MaxPoolOptions::new(k).with_stride(s).with_padding(p);
    let (y, idx) = max_pool2d_with_indices(x.clone(), o.clone());
    match dir {
        "forward" => Box::new(move || finish(max_pool2d_with_indices(x.clone(), o.clone()).0)),
        _ => Box::new(move || {
            finish(max_pool2d_with_indices_backward(
                x.clone(),
                k,
                s,
                p,
                [1, 1],
                false,
                y.clone(),
                idx.clone(),
            ))
        }),
    }
}

fn prepare_linear(c: &OpCase, dir: &str, dev: &Device) -> Call {
    let x = random([c.batch, c.in_channels], dev);
    let w = random([c.in_channels, c.out_channels], dev);
    let b = random([c.out_channels], dev);
    let dy = random([c.batch, c.out_channels], dev);
    match dir {
        "forward" => Box::new(move || finish(linear(x.clone(), w.clone(), Some(b.clone())))),
        _ => Box::new(move || {
            finish(dy.clone().matmul(w.clone().transpose()));
            finish(x.clone().transpose().matmul(dy.clone()));
            finish(dy.clone().sum_dim(0));
        }),
    }
}

/// Training-mode batch norm and the running-statistics update (momentum 0.1).
fn prepare_bn_forward(c: &OpCase, dev: &Device) -> Call {
    let x = random([c.batch, c.in_channels, c.height, c.width], dev);
    let (gamma, beta) = (
        Tensor::<1>::ones([c.in_channels], dev),
        Tensor::<1>::zeros([c.in_channels], dev),
    );
    let eps = c.eps.unwrap_or(1e-5);
    let mut running = Tensor::<1>::zeros([c.in_channels], dev);
    Box::new(move || {
        let out = batch_norm_train(x.clone(), gamma.clone(), beta.clone(), eps);
        running = running.clone().mul_scalar(0.9) + out.mean.mul_scalar(0.1);
        finish(out.output);
    })
}

/// The backward kernel alone: dL/dx, dL/dγ and dL/dβ of training-mode batch norm from the
/// forward's batch statistics (computed once, outside the timing) and dL/dy.
fn prepare_bn_backward(c: &OpCase, dev: &Device) -> Call {
    let x = random([c.batch, c.in_channels, c.height, c.width], dev);
    let gamma = Tensor::<1>::ones([c.in_channels], dev);
    let dy = random([c.batch, c.in_channels, c.height, c.width], dev);
    let eps = c.eps.unwrap_or(1e-5);
    let stats = batch_norm_train(x.clone(), gamma.clone(), gamma.zeros_like(), eps);
    let (mean, variance) = (stats.mean, stats.variance);
    Box::new(move || {
        let grads = <Dispatch as ModuleOps<Dispatch>>::batch_norm_train_backward(
            x.clone().into_dispatch(),
            gamma.clone().into_dispatch(),
            mean.clone().into_dispatch(),
            variance.clone().into_dispatch(),
            eps,
            dy.clone().into_dispatch(),
        );
        finish(Tensor::<4>::from_dispatch(grads.x_grad));
        std::hint::black_box((grads.gamma_grad, grads.beta_grad));
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The input gradient timed is the gradient burn's autodiff computes, for a strided, padded
    /// case, a strided depthwise one and a stride-1 depthwise one.
    #[test]
    fn the_timed_input_gradient_is_autodiffs() {
        let dev = Device::flex();
        let ad = dev.clone().autodiff();
        for (cin, cout, k, s, p, g, side) in [
            (3, 4, 3, 2, 1, 1, 9),
            (4, 4, 5, 2, 2, 4, 10),
            (8, 8, 5, 1, 2, 8, 7),
        ] {
            let x = random([2, cin, side, side], &dev);
            let w = random([cout, cin / g, k, k], &dev);
            let opts = ConvOptions::new([s; 2], [p; 2], [1, 1], g);
            let y = conv2d(x.clone(), w.clone(), None, opts.clone());
            let dy = random(y.dims(), &dev);
            let xa = Tensor::<4>::from_data(x.to_data(), &ad).require_grad();
            let wa = Tensor::<4>::from_data(w.to_data(), &ad);
            let ya = conv2d(xa.clone(), wa, None, opts.clone());
            let grads = (ya * Tensor::from_data(dy.to_data(), &ad)).sum().backward();
            let expected = xa.grad(&grads).unwrap().into_data();
            let got = conv2d_x_backward(x, w, dy, opts).into_data();
            got.assert_approx_eq::<f32>(&expected, burn::tensor::Tolerance::default());
        }
    }

    /// The batch-norm backward timed gives the input, scale and shift gradients burn's autodiff
    /// computes for `sum(batch_norm_train(x) · dy)`.
    #[test]
    fn the_timed_batch_norm_backward_is_autodiffs() {
        let dev = Device::flex();
        let ad = dev.clone().autodiff();
        let (x, dy) = (random([3, 4, 5, 6], &dev), random([3, 4, 5, 6], &dev));
        let gamma = random([4], &dev);
        let xa = Tensor::<4>::from_data(x.to_data(), &ad).require_grad();
        let ga = Tensor::<1>::from_data(gamma.to_data(), &ad).require_grad();
        let ba = Tensor::<1>::zeros([4], &ad).require_grad();
        let out = batch_norm_train(xa.clone(), ga.clone(), ba.clone(), 1e-5);
        let grads = (out.output * Tensor::from_data(dy.to_data(), &ad))
            .sum()
            .backward();
        let stats = batch_norm_train(x.clone(), gamma.clone(), gamma.zeros_like(), 1e-5);
        let got = <Dispatch as ModuleOps<Dispatch>>::batch_norm_train_backward(
            x.into_dispatch(),
            gamma.into_dispatch(),
            stats.mean.into_dispatch(),
            stats.variance.into_dispatch(),
            1e-5,
            dy.into_dispatch(),
        );
        let tol = burn::tensor::Tolerance::default();
        Tensor::<4>::from_dispatch(got.x_grad)
            .into_data()
            .assert_approx_eq::<f32>(&xa.grad(&grads).unwrap().into_data(), tol);
        Tensor::<1>::from_dispatch(got.gamma_grad)
            .into_data()
            .assert_approx_eq::<f32>(&ga.grad(&grads).unwrap().into_data(), tol);
        Tensor::<1>::from_dispatch(got.beta_grad)
            .into_data()
            .assert_approx_eq::<f32>(&ba.grad(&grads).unwrap().into_data(), tol);
    }
}
