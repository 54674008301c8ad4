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
pub mod fold;
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

use augtrain_run::config::{ModelConfig, ModelKind};

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

    /// The model as inference runs it (`embed`, `predict`, `eval`, validation): evaluation
    /// mode (running batch-norm statistics, no dropout) with the batch norms of ResNet and
    /// EfficientNet folded into their convolutions ([`fold`]). The same outputs to f32
    /// rounding, computed with fewer passes; for computing only, never for training or export.
    pub fn for_inference(self) -> Self {
        match self.valid() {
            Model::ResNet(m) => Model::ResNet(m.fold_batch_norms()),
            Model::EfficientNet(m) => Model::EfficientNet(m.fold_batch_norms()),
            other => other,
        }
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
