//! The LeNet-style CNN: conv 5×5 (32) → ReLU → max-pool 2 → conv 5×5 (64) → ReLU → max-pool 2
//! → fc (hidden, 128 by default) → ReLU → fc (classes). Convolutions are unpadded ("valid"), as
//! in PyTorch's `nn.Conv2d(c, 32, 5)`; 28×28 input gives 64 × 4 × 4 features before the fc.

use burn::nn::conv::{Conv2d, Conv2dConfig};
use burn::nn::pool::{MaxPool2d, MaxPool2dConfig};
use burn::nn::{Linear, LinearConfig, Relu};
use burn::prelude::*;

use augtrain_data::ImageShape;

/// The LeNet-style CNN.
#[derive(Module, Debug)]
pub struct Cnn {
    conv1: Conv2d,
    conv2: Conv2d,
    pool: MaxPool2d,
    activation: Relu,
    fc1: Linear,
    fc2: Linear,
}

/// Spatial size after conv 5 (valid) and pool 2.
pub(super) fn stage(n: usize) -> usize {
    (n.saturating_sub(4)) / 2
}

impl Cnn {
    /// Build for images of `shape` and `classes` outputs; images must be at least 16 × 16.
    pub fn new(
        shape: ImageShape,
        classes: usize,
        hidden: usize,
        device: &Device,
    ) -> Result<Self, String> {
        let (h, w) = (stage(stage(shape.height)), stage(stage(shape.width)));
        if h == 0 || w == 0 {
            return Err(format!(
                "the CNN needs images of at least 16x16 pixels, these are {}x{}; use --model mlp or a resize op",
                shape.width, shape.height
            ));
        }
        Ok(Self {
            conv1: Conv2dConfig::new([shape.channels, 32], [5, 5]).init(device),
            conv2: Conv2dConfig::new([32, 64], [5, 5]).init(device),
            pool: MaxPool2dConfig::new([2, 2]).with_strides([2, 2]).init(),
            activation: Relu::new(),
            fc1: LinearConfig::new(64 * h * w, hidden).init(device),
            fc2: LinearConfig::new(hidden, classes).init(device),
        })
    }

    /// The classification head (the last linear layer).
    pub(super) fn head(&self) -> &Linear {
        &self.fc2
    }

    /// This model with its head trainable again (after [`Module::freeze`]).
    pub(super) fn unfreeze_head(mut self) -> Self {
        self.fc2 = self.fc2.unfreeze();
        self
    }

    /// The head's input, `[batch, hidden]`: the hidden layer's activations.
    pub fn features(&self, images: Tensor<4>) -> Tensor<2> {
        let x = self
            .pool
            .forward(self.activation.forward(self.conv1.forward(images)));
        let x = self
            .pool
            .forward(self.activation.forward(self.conv2.forward(x)));
        let x: Tensor<2> = x.flatten(1, 3);
        self.activation.forward(self.fc1.forward(x))
    }

    /// Logits for a batch of images.
    pub fn forward(&self, images: Tensor<4>) -> Tensor<2> {
        self.fc2.forward(self.features(images))
    }
}
