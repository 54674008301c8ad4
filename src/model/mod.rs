//! Classifier models, chosen by [`ModelKind`] and sized from the data (channels, height,
//! width, classes): an MLP, a LeNet-style CNN, a small residual network for small images
//! ([`ResNetSmall`]), torchvision's ResNet-18/34/50 ([`ResNet`]) and EfficientNet-Lite0
//! ([`EfficientNetLite0`]), the last four with PyTorch's parameter names so that published
//! weights load by name ([`pretrained`]). Models take `f32` NCHW images and return logits
//! `[batch, classes]`.
//!
//! Batch norm and dropout train only on an autodiff device with the layer's training flag on
//! (burn's rule): [`Module::valid`] gives the evaluation model (running statistics, no
//! dropout); [`Model::freeze_backbone`] keeps everything but the head in evaluation
//! behaviour. Running statistics are module state: they are saved in checkpoints and
//! restored on `--resume`. Their update follows PyTorch's momentum convention
//! (`running = (1 − m)·running + m·batch`) with one difference, kept on purpose: burn records
//! the biased batch variance (÷N) where PyTorch records the unbiased one (÷(N−1)), N = batch ×
//! height × width values per channel. The relative difference is 1/(N−1): 0.03 % for a batch
//! of 16 at the 7×7 end of an ImageNet network, 0.01 % for resnet-small's 4×4 maps at batch
//! 64, far below the batch-to-batch noise of the statistics themselves; correcting it would
//! mean replacing burn's fused batch-norm op (and its backward) with our own.

mod cnn;
pub mod efficientnet;
pub mod export;
mod mlp;
pub mod pretrained;
pub mod resnet;
pub mod resnet_small;

pub use cnn::Cnn;
pub use efficientnet::EfficientNetLite0;
pub use mlp::Mlp;
pub use resnet::ResNet;
pub use resnet_small::ResNetSmall;

use augtrain_data::ImageShape;
use burn::module::ParamGroup;
use burn::nn::Linear;
use burn::prelude::*;

pub use augtrain_run::config::{ModelConfig, ModelKind};

/// A classifier of any architecture.
#[derive(Module, Debug)]
#[allow(clippy::large_enum_variant)] // one model per run; boxing would complicate the record paths
pub enum Model {
    /// The MLP.
    Mlp(Mlp),
    /// The CNN.
    Cnn(Cnn),
    /// The small residual network.
    ResNetSmall(ResNetSmall),
    /// ResNet-18, -34 or -50.
    ResNet(ResNet),
    /// EfficientNet-Lite0.
    EfficientNet(EfficientNetLite0),
}

/// Gives parameters ids numbered in traversal order instead of burn's random ones, so that two
/// runs with the same seed write byte-identical checkpoints (ids are stored with the weights
/// and key the optimizer state).
struct SequentialIds(u64);

impl burn::module::ModuleMapper for SequentialIds {
    fn map_float<const D: usize>(
        &mut self,
        mut param: burn::module::Param<Tensor<D>>,
    ) -> burn::module::Param<Tensor<D>> {
        self.0 += 1;
        param.id = burn::module::ParamId::from(self.0);
        param
    }
}

/// The most trainable parameters a model may have (2^26, about 67 million: 256 MiB of `f32`
/// weights, about 0.8 GiB per checkpoint with Adam's two moments). The MLP's and the CNN's first
/// layers grow with the input size, so a large `--size` is what reaches this limit; the
/// residual networks' size does not depend on the input (ResNet-50 with 1000 classes: 25.6
/// million).
pub const MAX_PARAMS: u64 = 1 << 26;

/// Trainable parameters of `kind` built for images of `shape`, `classes` outputs and `hidden`
/// units, computed without
/// building it (so that an oversized model is refused before any memory is allocated).
pub fn param_count(kind: ModelKind, shape: ImageShape, classes: usize, hidden: usize) -> u64 {
    let (c, h, w, k, hid) = (
        shape.channels as u64,
        shape.height as u64,
        shape.width as u64,
        classes as u64,
        hidden as u64,
    );
    match kind {
        ModelKind::Mlp => c * h * w * hid + hid + hid * k + k,
        ModelKind::Cnn => {
            let (fh, fw) = (
                cnn::stage(cnn::stage(shape.height)) as u64,
                cnn::stage(cnn::stage(shape.width)) as u64,
            );
            (c * 32 * 25 + 32) + (32 * 64 * 25 + 64) + (64 * fh * fw * hid + hid) + (hid * k + k)
        }
        ModelKind::ResnetSmall => resnet_small::param_count(shape.channels, classes),
        ModelKind::Resnet18 => resnet::param_count(resnet::Depth::D18, shape.channels, classes),
        ModelKind::Resnet34 => resnet::param_count(resnet::Depth::D34, shape.channels, classes),
        ModelKind::Resnet50 => resnet::param_count(resnet::Depth::D50, shape.channels, classes),
        ModelKind::EfficientnetLite0 => efficientnet::param_count(shape.channels, classes),
    }
}

/// Refuse a model over [`MAX_PARAMS`], naming its size, its checkpoint size and, for the
/// models that grow with the input, the largest square input that fits.
fn check_size(
    kind: ModelKind,
    shape: ImageShape,
    classes: usize,
    hidden: usize,
) -> Result<(), String> {
    let params = param_count(kind, shape, classes, hidden);
    if params <= MAX_PARAMS {
        return Ok(());
    }
    let gigabytes = (params * 4 * 3) as f64 / 1e9;
    if !matches!(kind, ModelKind::Mlp | ModelKind::Cnn) {
        // Only the head grows (with the class count).
        return Err(format!(
            "the {kind} model for {classes} classes has {params} parameters (about {gigabytes:.1} GB per checkpoint), more than the limit of {MAX_PARAMS}; use fewer classes"
        ));
    }
    let fits = |side: usize| {
        let s = ImageShape::new(side, side, shape.channels);
        param_count(kind, s, classes, hidden) <= MAX_PARAMS
    };
    let largest = (1..=shape.height.max(shape.width))
        .rev()
        .find(|&s| fits(s))
        .unwrap_or(0);
    Err(format!(
        "the {kind} model for {}x{}x{} images has {params} parameters (about {gigabytes:.1} GB per checkpoint), more than the limit of {MAX_PARAMS}; its size grows with the input size: train at --size {largest}x{largest} or smaller, or use --hidden to shrink it",
        shape.width, shape.height, shape.channels,
    ))
}

/// The classification head's name in PyTorch's (and burn-store's) paths of architecture
/// `kind`: its parameters are `{name}.weight` and `{name}.bias`.
pub fn head_name(kind: ModelKind) -> &'static str {
    match kind {
        ModelKind::Mlp => "output",
        ModelKind::Cnn => "fc2",
        ModelKind::ResnetSmall
        | ModelKind::Resnet18
        | ModelKind::Resnet34
        | ModelKind::Resnet50 => "fc",
        ModelKind::EfficientnetLite0 => "_fc",
    }
}

impl Model {
    /// Build a freshly initialized model of `kind` (other settings default) for images of
    /// `shape` and `classes` outputs on `device`; see [`Model::from_config`].
    pub fn new(
        kind: ModelKind,
        shape: ImageShape,
        classes: usize,
        hidden: usize,
        device: &Device,
    ) -> Result<Self, String> {
        let cfg = ModelConfig {
            kind,
            hidden,
            ..ModelConfig::default()
        };
        Self::from_config(&cfg, shape, classes, device)
    }

    /// Build a freshly initialized model as `cfg` describes (architecture, hidden units,
    /// dropout) for images of `shape` and `classes` outputs on `device` (weights drawn from
    /// the device's seed; parameter ids numbered in order). A model over [`MAX_PARAMS`] is
    /// refused before anything is allocated. Pretrained weights are loaded separately
    /// ([`pretrained::load`]).
    pub fn from_config(
        cfg: &ModelConfig,
        shape: ImageShape,
        classes: usize,
        device: &Device,
    ) -> Result<Self, String> {
        check_size(cfg.kind, shape, classes, cfg.hidden)?;
        let c = shape.channels;
        let model = match cfg.kind {
            ModelKind::Mlp => Model::Mlp(Mlp::new(shape, classes, cfg.hidden, device)),
            ModelKind::Cnn => Cnn::new(shape, classes, cfg.hidden, device).map(Model::Cnn)?,
            ModelKind::ResnetSmall => {
                Model::ResNetSmall(ResNetSmall::new(c, classes, cfg.dropout, device))
            }
            ModelKind::Resnet18 => {
                Model::ResNet(ResNet::new(resnet::Depth::D18, c, classes, device))
            }
            ModelKind::Resnet34 => {
                Model::ResNet(ResNet::new(resnet::Depth::D34, c, classes, device))
            }
            ModelKind::Resnet50 => {
                Model::ResNet(ResNet::new(resnet::Depth::D50, c, classes, device))
            }
            ModelKind::EfficientnetLite0 => {
                Model::EfficientNet(EfficientNetLite0::new(c, classes, cfg.dropout, device))
            }
        };
        Ok(model.map(&mut SequentialIds(0x6175_6774_0000_0000)))
    }

    /// Logits `[batch, classes]` for images `[batch, channels, height, width]`.
    pub fn forward(&self, images: Tensor<4>) -> Tensor<2> {
        match self {
            Model::Mlp(m) => m.forward(images),
            Model::Cnn(m) => m.forward(images),
            Model::ResNetSmall(m) => m.forward(images),
            Model::ResNet(m) => m.forward(images),
            Model::EfficientNet(m) => m.forward(images),
        }
    }

    /// The head's input `[batch, features]` for images `[batch, channels, height, width]`:
    /// the pooled backbone features of the residual networks and EfficientNet (before
    /// dropout), the hidden layer of the MLP and the CNN. `predict`'s logits are
    /// `head(features)`; `embed` writes these, L2-normalized.
    pub fn features(&self, images: Tensor<4>) -> Tensor<2> {
        match self {
            Model::Mlp(m) => m.features(images),
            Model::Cnn(m) => m.features(images),
            Model::ResNetSmall(m) => m.features(images),
            Model::ResNet(m) => m.features(images),
            Model::EfficientNet(m) => m.features(images),
        }
    }

    /// The classification head: the last linear layer, which maps features to classes.
    pub fn head(&self) -> &Linear {
        match self {
            Model::Mlp(m) => m.head(),
            Model::Cnn(m) => m.head(),
            Model::ResNetSmall(m) => &m.fc,
            Model::ResNet(m) => &m.fc,
            Model::EfficientNet(m) => &m._fc,
        }
    }

    /// The head's name in PyTorch's (and burn-store's) paths (see [`head_name`]).
    pub fn head_name(&self) -> &'static str {
        head_name(self.kind())
    }

    /// The architecture.
    pub fn kind(&self) -> ModelKind {
        match self {
            Model::Mlp(_) => ModelKind::Mlp,
            Model::Cnn(_) => ModelKind::Cnn,
            Model::ResNetSmall(_) => ModelKind::ResnetSmall,
            Model::ResNet(m) => match m.depth() {
                resnet::Depth::D18 => ModelKind::Resnet18,
                resnet::Depth::D34 => ModelKind::Resnet34,
                resnet::Depth::D50 => ModelKind::Resnet50,
            },
            Model::EfficientNet(_) => ModelKind::EfficientnetLite0,
        }
    }

    /// The head's parameters (weight and bias), by id: everything else is the backbone.
    pub fn head_group(&self) -> ParamGroup {
        ParamGroup::ids_from_module(self.head().clone())
    }

    /// Freeze everything but the head (and the dropout before it): the backbone's weights get
    /// no gradients and its batch norms use and keep their running statistics, even on the
    /// autodiff device.
    pub fn freeze_backbone(self) -> Self {
        match self.freeze() {
            Model::Mlp(m) => Model::Mlp(m.unfreeze_head()),
            Model::Cnn(m) => Model::Cnn(m.unfreeze_head()),
            Model::ResNetSmall(mut m) => {
                m.fc = m.fc.unfreeze();
                Model::ResNetSmall(m)
            }
            Model::ResNet(mut m) => {
                m.fc = m.fc.unfreeze();
                Model::ResNet(m)
            }
            Model::EfficientNet(mut m) => {
                m._fc = m._fc.unfreeze();
                m._dropout = m._dropout.unfreeze();
                Model::EfficientNet(m)
            }
        }
    }

    /// PyTorch's name for the parameter at `path` (a path as burn-store writes it, enum
    /// variants skipped): the same except ResNet shortcuts (`downsample.0`, `downsample.1`).
    pub fn torch_name(&self, path: &str) -> String {
        match self {
            Model::ResNet(_) | Model::ResNetSmall(_) => resnet::torch_name(path),
            _ => path.to_string(),
        }
    }

    /// The parameter path of PyTorch's name `name` (the inverse of [`Model::torch_name`]).
    pub fn burn_name(&self, name: &str) -> String {
        match self {
            Model::ResNet(_) | Model::ResNetSmall(_) => resnet::burn_name(name),
            _ => name.to_string(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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
        use burn::tensor::{TensorData, Tolerance};
        let ad = Device::flex().autodiff();
        let tol = Tolerance::<f32>::rel_abs(1e-5, 2e-4);
        // Inputs from a fixed hash rather than the device's shared generator: the comparison
        // is against an f32 composition, so the draw must not change from run to run.
        let uniform = |key: u32, i: usize| {
            use augtrain_data::util::rng::{pixel_hash, unit_f32};
            unit_f32(pixel_hash(key, i as u32))
        };
        let normal = |key: u32, len: usize| -> Vec<f32> {
            (0..len)
                .map(|i| (0..4).map(|k| uniform(key + k, i)).sum::<f32>() * 2.0 - 3.5)
                .collect()
        };
        for (case, [n, c, h, w]) in [[4, 3, 5, 7], [2, 8, 1, 1], [64, 2, 12, 12]]
            .into_iter()
            .enumerate()
        {
            let key = 100 * case as u32;
            let t4 = |k: u32| {
                Tensor::<4>::from_data(
                    TensorData::new(normal(key + k, n * c * h * w), [n, c, h, w]),
                    &ad,
                )
            };
            let t1 = |k: u32| Tensor::<1>::from_data(TensorData::new(normal(key + k, c), [c]), &ad);
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
            let expected = (x.detach() - c4(mean)) / c4(var).add_scalar(1e-3).sqrt()
                * c4(g.detach())
                + c4(b.detach());
            eval.to_data().assert_approx_eq(&expected.to_data(), tol);
        }
    }

    /// `dL/dW` of a 2D convolution by its definition, in f64 on the host: `x` NCHW, `dy` the
    /// output's gradient, weight shape `[co, ci / groups, kh, kw]`.
    #[allow(clippy::too_many_arguments)]
    fn conv_weight_grad_by_definition(
        x: &[f32],
        [n, ci, h, w]: [usize; 4],
        dy: &[f32],
        [co, oh, ow]: [usize; 3],
        [kh, kw]: [usize; 2],
        stride: usize,
        pad: usize,
        dilation: usize,
        groups: usize,
    ) -> Vec<f64> {
        let (cig, cog) = (ci / groups, co / groups);
        let mut dw = vec![0f64; co * cig * kh * kw];
        for (o, i, a, b) in itertools_like(co, cig, kh, kw) {
            let c = (o / cog) * cig + i;
            let mut sum = 0f64;
            for s in 0..n {
                for y in 0..oh {
                    for z in 0..ow {
                        let (r, q) = (
                            (y * stride + a * dilation) as isize - pad as isize,
                            (z * stride + b * dilation) as isize - pad as isize,
                        );
                        if r < 0 || q < 0 || r >= h as isize || q >= w as isize {
                            continue;
                        }
                        let xv = x[((s * ci + c) * h + r as usize) * w + q as usize] as f64;
                        sum += xv * dy[((s * co + o) * oh + y) * ow + z] as f64;
                    }
                }
            }
            dw[((o * cig + i) * kh + a) * kw + b] = sum;
        }
        dw
    }

    fn itertools_like(
        a: usize,
        b: usize,
        c: usize,
        d: usize,
    ) -> impl Iterator<Item = (usize, usize, usize, usize)> {
        (0..a).flat_map(move |i| {
            (0..b).flat_map(move |j| (0..c).flat_map(move |k| (0..d).map(move |l| (i, j, k, l))))
        })
    }

    #[test]
    fn conv_weight_gradient_equals_its_definition_for_every_option() {
        use burn::tensor::module::conv2d;
        use burn::tensor::ops::ConvOptions;
        use burn::tensor::{Distribution, TensorData, Tolerance};
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
        ];
        for (n, ci, h, w, co, k, stride, pad, dilation, groups) in cases {
            let normal = Distribution::Normal(0.0, 1.0);
            let x = Tensor::<4>::random([n, ci, h, w], normal, &ad);
            let weight = Tensor::<4>::random([co, ci / groups, k, k], normal, &ad).require_grad();
            let options = ConvOptions::new([stride; 2], [pad; 2], [dilation; 2], groups);
            let y = conv2d(x.clone(), weight.clone(), None, options);
            let [_, _, oh, ow] = y.dims();
            let dy = Tensor::<4>::random([n, co, oh, ow], normal, &ad);
            let grads = (y * dy.clone()).sum().backward();
            let got = weight.grad(&grads).unwrap().into_data();
            let values = |t: Tensor<4>| t.into_data().convert::<f32>().try_to_vec::<f32>().unwrap();
            let expected = conv_weight_grad_by_definition(
                &values(x),
                [n, ci, h, w],
                &values(dy),
                [co, oh, ow],
                [k, k],
                stride,
                pad,
                dilation,
                groups,
            );
            let expected: Vec<f32> = expected.iter().map(|&v| v as f32).collect();
            let expected = TensorData::new(expected, [co, ci / groups, k, k]);
            got.assert_approx_eq::<f32>(&expected, Tolerance::rel_abs(1e-4, 1e-4));
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
        for (s, o, y, z) in itertools_like(n, co, oh, ow) {
            for (i, a, b, _) in itertools_like(cig, k, k, 1) {
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
        use burn::tensor::{Distribution, TensorData, Tolerance};
        let ad = Device::flex().autodiff();
        // (n, ci, h, w, co, k, stride, pad, dilation, groups): LeNet's two layers (small), a
        // batch wide enough for the kernels' sample batching and parallel split, strided and
        // padded, dilated, grouped, depthwise, pointwise, a ResNet-like stem.
        let cases = [
            (3, 1, 12, 12, 4, 5, 1, 0, 1, 1),
            (9, 6, 8, 8, 8, 5, 1, 0, 1, 1),
            (2, 3, 9, 11, 5, 3, 2, 1, 1, 1),
            (2, 4, 10, 10, 6, 3, 1, 2, 2, 2),
            (3, 6, 8, 7, 6, 3, 1, 1, 1, 6),
            (2, 6, 9, 9, 12, 5, 2, 2, 1, 6),
            (4, 8, 5, 5, 3, 1, 1, 0, 1, 1),
            (1, 3, 16, 16, 8, 7, 2, 3, 1, 1),
        ];
        let values = |t: Tensor<4>| t.into_data().convert::<f32>().try_to_vec::<f32>().unwrap();
        for (n, ci, h, w, co, k, stride, pad, dilation, groups) in cases {
            let normal = Distribution::Normal(0.0, 1.0);
            let x = Tensor::<4>::random([n, ci, h, w], normal, &ad).require_grad();
            let weight = Tensor::<4>::random([co, ci / groups, k, k], normal, &ad);
            let bias = Tensor::<1>::random([co], normal, &ad).require_grad();
            let options = ConvOptions::new([stride; 2], [pad; 2], [dilation; 2], groups);
            let y = conv2d(x.clone(), weight.clone(), Some(bias.clone()), options);
            let [_, _, oh, ow] = y.dims();
            let dy = Tensor::<4>::random([n, co, oh, ow], normal, &ad);
            let grads = (y.clone() * dy.clone()).sum().backward();
            let dx = x.grad(&grads).unwrap().into_data();
            let db = bias.grad(&grads).unwrap().into_data();
            let (xs, ws, dys) = (values(x), values(weight), values(dy));
            let bs: Vec<f32> = bias.into_data().convert::<f32>().try_to_vec().unwrap();
            let mut want_db = vec![0f64; co];
            for (i, g) in dys.iter().enumerate() {
                want_db[(i / (oh * ow)) % co] += *g as f64;
            }
            let mut want_y: Vec<f64> = (0..n * co * oh * ow)
                .map(|i| bs[(i / (oh * ow)) % co] as f64)
                .collect();
            let mut want_dx = vec![0f64; xs.len()];
            for (xi, wi, yi) in conv_taps(
                [n, ci, h, w],
                [co, oh, ow],
                k,
                stride,
                pad,
                dilation,
                groups,
            ) {
                want_y[yi] += xs[xi] as f64 * ws[wi] as f64;
                want_dx[xi] += ws[wi] as f64 * dys[yi] as f64;
            }
            let as_data = |v: Vec<f64>, dims: [usize; 4]| {
                TensorData::new(v.into_iter().map(|v| v as f32).collect::<Vec<f32>>(), dims)
            };
            let tolerance = Tolerance::rel_abs(1e-4, 1e-4);
            y.into_data()
                .assert_approx_eq::<f32>(&as_data(want_y, [n, co, oh, ow]), tolerance);
            dx.assert_approx_eq::<f32>(&as_data(want_dx, [n, ci, h, w]), tolerance);
            let want_db = want_db.into_iter().map(|v| v as f32).collect::<Vec<f32>>();
            db.assert_approx_eq::<f32>(&TensorData::new(want_db, [co]), tolerance);
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
        use burn::tensor::{Distribution, TensorData};
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
            let mut xs: Vec<f32> =
                Tensor::<4>::random([n, c, h, w], Distribution::Normal(0.0, 1.0), &ad)
                    .into_data()
                    .try_to_vec()
                    .unwrap();
            xs.iter_mut().for_each(|v| *v = (*v * 2.0).round() / 2.0);
            let nan_at = (case * 7) % xs.len();
            xs[nan_at] = f32::NAN;
            let x = Tensor::<4>::from_data(TensorData::new(xs.clone(), [n, c, h, w]), &ad)
                .require_grad();
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

    /// Trainable parameters of `model`: burn's `num_params` also counts the batch-norm running
    /// statistics (module state, not trained).
    fn trainable(model: &Model) -> u64 {
        use burn::store::ModuleSnapshot;
        let stats: usize = model
            .collect(None, None, true)
            .iter()
            .filter(|t| t.name.ends_with("running_mean") || t.name.ends_with("running_var"))
            .map(|t| t.shape.to_vec().iter().product::<usize>())
            .sum();
        (model.num_params() - stats) as u64
    }

    #[test]
    fn param_count_matches_the_built_models() {
        let device = Device::flex();
        for (kind, side, channels) in [
            (ModelKind::Mlp, 28, 1),
            (ModelKind::Cnn, 32, 3),
            (ModelKind::ResnetSmall, 32, 3),
            (ModelKind::Resnet18, 32, 3),
            (ModelKind::Resnet34, 32, 1),
            (ModelKind::Resnet50, 32, 3),
            (ModelKind::EfficientnetLite0, 32, 3),
        ] {
            let shape = ImageShape::new(side + 4, side, channels);
            let model = Model::new(kind, shape, 10, 64, &device).unwrap();
            assert_eq!(
                trainable(&model),
                param_count(kind, shape, 10, 64),
                "{kind}"
            );
        }
        // The published sizes (1000 classes, RGB): torchvision's and EfficientNet-Lite0's.
        let rgb = ImageShape::new(224, 224, 3);
        for (kind, published) in [
            (ModelKind::Resnet18, 11_689_512),
            (ModelKind::Resnet34, 21_797_672),
            (ModelKind::Resnet50, 25_557_032),
            (ModelKind::EfficientnetLite0, 4_652_008),
        ] {
            assert_eq!(param_count(kind, rgb, 1000, 0), published, "{kind}");
            assert!(param_count(kind, rgb, 1000, 0) <= MAX_PARAMS);
        }
    }

    #[test]
    fn an_oversized_model_is_refused_before_it_is_built() {
        let shape = ImageShape::new(512, 512, 3);
        let e = Model::new(ModelKind::Cnn, shape, 2, 128, &Device::flex()).unwrap_err();
        assert!(
            e.contains("more than the limit") && e.contains("--size"),
            "{e}"
        );
        let largest: usize = e
            .split("--size ")
            .nth(1)
            .unwrap()
            .split('x')
            .next()
            .unwrap()
            .parse()
            .unwrap();
        let fits = ImageShape::new(largest, largest, 3);
        let over = ImageShape::new(largest + 1, largest + 1, 3);
        assert!(param_count(ModelKind::Cnn, fits, 2, 128) <= MAX_PARAMS);
        assert!(param_count(ModelKind::Cnn, over, 2, 128) > MAX_PARAMS);
    }
}
