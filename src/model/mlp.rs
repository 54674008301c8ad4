//! The multi-layer perceptron: flatten → Linear(hidden) → ReLU → Linear(classes).
//! For MNIST-shaped input with hidden 128 this is the classic 784-128-10.

use burn::nn::{Linear, LinearConfig, Relu};
use burn::prelude::*;

use augtrain_data::ImageShape;

/// A one-hidden-layer MLP.
#[derive(Module, Debug)]
pub struct Mlp {
    hidden: Linear,
    activation: Relu,
    output: Linear,
}

impl Mlp {
    /// Input size `channels × height × width` of `shape`, `hidden` units, `classes` outputs.
    pub fn new(shape: ImageShape, classes: usize, hidden: usize, device: &Device) -> Self {
        let inputs = shape.channels * shape.height * shape.width;
        Self {
            hidden: LinearConfig::new(inputs, hidden).init(device),
            activation: Relu::new(),
            output: LinearConfig::new(hidden, classes).init(device),
        }
    }

    /// The classification head (the last linear layer).
    pub(super) fn head(&self) -> &Linear {
        &self.output
    }

    /// This model with its head trainable again (after [`Module::freeze`]).
    pub(super) fn unfreeze_head(mut self) -> Self {
        self.output = self.output.unfreeze();
        self
    }

    /// The head's input, `[batch, hidden]`: the hidden layer's activations.
    pub fn features(&self, images: Tensor<4>) -> Tensor<2> {
        let x: Tensor<2> = images.flatten(1, 3);
        self.activation.forward(self.hidden.forward(x))
    }

    /// Logits for a batch of images.
    pub fn forward(&self, images: Tensor<4>) -> Tensor<2> {
        self.output.forward(self.features(images))
    }
}
