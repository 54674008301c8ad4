//! Classifier models: an MLP and a LeNet-style CNN, chosen by [`ModelKind`] and sized from
//! the data (channels, height, width, classes). Models take `f32` NCHW images and return
//! logits `[batch, classes]`.

mod cnn;
mod mlp;

pub use cnn::Cnn;
pub use mlp::Mlp;

use augtrain_data::ImageShape;
use burn::prelude::*;

pub use augtrain_run::config::ModelKind;

/// A classifier of either architecture.
#[derive(Module, Debug)]
#[allow(clippy::large_enum_variant)] // one model per run; boxing would complicate the record paths
pub enum Model {
    /// The MLP.
    Mlp(Mlp),
    /// The CNN.
    Cnn(Cnn),
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
/// layers grow with the input size, so a large `--size` is what reaches this limit.
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
    }
}

/// Refuse a model over [`MAX_PARAMS`], naming its size, its checkpoint size and the largest
/// square input that fits.
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
    let fits = |side: usize| {
        let s = ImageShape::new(side, side, shape.channels);
        param_count(kind, s, classes, hidden) <= MAX_PARAMS
    };
    let largest = (1..=shape.height.max(shape.width))
        .rev()
        .find(|&s| fits(s))
        .unwrap_or(0);
    Err(format!(
        "the {kind} model for {}x{}x{} images has {params} parameters (about {:.1} GB per checkpoint), more than the limit of {MAX_PARAMS}; its size grows with the input size: train at --size {largest}x{largest} or smaller, or use --hidden to shrink it",
        shape.width,
        shape.height,
        shape.channels,
        (params * 4 * 3) as f64 / 1e9
    ))
}

impl Model {
    /// Build a freshly initialized model for images of `shape` and `classes` outputs on `device`
    /// (weights drawn from the device's seed;
    /// parameter ids numbered in order). A model over [`MAX_PARAMS`] is refused before anything
    /// is allocated.
    pub fn new(
        kind: ModelKind,
        shape: ImageShape,
        classes: usize,
        hidden: usize,
        device: &Device,
    ) -> Result<Self, String> {
        check_size(kind, shape, classes, hidden)?;
        let model = match kind {
            ModelKind::Mlp => Model::Mlp(Mlp::new(shape, classes, hidden, device)),
            ModelKind::Cnn => Cnn::new(shape, classes, hidden, device).map(Model::Cnn)?,
        };
        Ok(model.map(&mut SequentialIds(0x6175_6774_0000_0000)))
    }

    /// Logits `[batch, classes]` for images `[batch, channels, height, width]`.
    pub fn forward(&self, images: Tensor<4>) -> Tensor<2> {
        match self {
            Model::Mlp(m) => m.forward(images),
            Model::Cnn(m) => m.forward(images),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn param_count_matches_the_built_models() {
        let device = Device::flex();
        for (kind, side, channels) in [(ModelKind::Mlp, 28, 1), (ModelKind::Cnn, 32, 3)] {
            let shape = ImageShape::new(side + 4, side, channels);
            let model = Model::new(kind, shape, 10, 64, &device).unwrap();
            assert_eq!(
                model.num_params() as u64,
                param_count(kind, shape, 10, 64),
                "{kind}"
            );
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
