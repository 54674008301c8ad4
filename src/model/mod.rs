//! Classifier models: an MLP and a LeNet-style CNN, chosen by [`ModelKind`] and sized from
//! the data (channels, height, width, classes). Models take `f32` NCHW images and return
//! logits `[batch, classes]`.

mod cnn;
mod mlp;

pub use cnn::Cnn;
pub use mlp::Mlp;

use burn::prelude::*;

/// Which architecture to train (`--model`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ModelKind {
    /// Flatten → Linear(hidden) → ReLU → Linear(classes).
    Mlp,
    /// conv 5×5 32 → ReLU → max-pool 2 → conv 5×5 64 → ReLU → max-pool 2 → fc 128 → ReLU → fc.
    #[default]
    Cnn,
}

impl std::str::FromStr for ModelKind {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.to_ascii_lowercase().as_str() {
            "mlp" => Ok(ModelKind::Mlp),
            "cnn" => Ok(ModelKind::Cnn),
            other => Err(format!("unknown model '{other}': use mlp or cnn")),
        }
    }
}

impl std::fmt::Display for ModelKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            ModelKind::Mlp => "mlp",
            ModelKind::Cnn => "cnn",
        })
    }
}

/// The shape a model is built for.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct InputShape {
    /// Channels.
    pub channels: usize,
    /// Height in pixels.
    pub height: usize,
    /// Width in pixels.
    pub width: usize,
    /// Number of classes.
    pub classes: usize,
}

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

impl Model {
    /// Build a freshly initialized model on `device` (weights drawn from the device's seed;
    /// parameter ids numbered in order).
    pub fn new(
        kind: ModelKind,
        shape: InputShape,
        hidden: usize,
        device: &Device,
    ) -> Result<Self, String> {
        let model = match kind {
            ModelKind::Mlp => Model::Mlp(Mlp::new(shape, hidden, device)),
            ModelKind::Cnn => Cnn::new(shape, hidden, device).map(Model::Cnn)?,
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
