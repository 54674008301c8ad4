//! `resnet-small`: a small residual network for small images (32×32, CIFAR-like) that trains
//! fast from scratch on the CPU.
//!
//! conv 3×3 (16) → BN → ReLU, then three basic residual blocks (two 3×3 convolutions with BN,
//! a 1×1 convolution + BN on the shortcut) that each halve the size and double the width
//! (32, 64, 128), global average pooling, dropout, linear. For a 32×32 image the stages run
//! at 16×16, 8×8 and 4×4: about 0.3 M parameters and 11 M multiply-adds per image, against
//! the LeNet CNN's 7 M. Why this shape rather than He et al.'s CIFAR ResNet-20 (16-32-64
//! channels, nine blocks at full, half and quarter size, 41 M multiply-adds): on a CPU the
//! full-resolution 16-channel convolutions are the slowest per multiply-add (small matrix
//! products), so this network downsamples in every block and spends its width at low
//! resolution, as the fast "ResNet-9" of the CIFAR speed runs does. Batch norm (eps 1e-5,
//! momentum 0.1) makes it train at a high learning rate; global pooling makes its size
//! independent of the input's.

use burn::nn::pool::{AdaptiveAvgPool2d, AdaptiveAvgPool2dConfig};
use burn::nn::{BatchNorm, Dropout, DropoutConfig, Linear, LinearConfig};
use burn::prelude::*;
use burn::tensor::activation::relu;

use super::resnet::{self, Block, Depth};

/// Stem width.
const STEM: usize = 16;
/// Widths of the three residual stages.
const WIDTHS: [usize; 3] = [32, 64, 128];

/// The small residual network.
#[derive(Module, Debug)]
pub struct ResNetSmall {
    conv1: burn::nn::conv::Conv2d,
    bn1: BatchNorm,
    layers: Vec<Block>,
    avgpool: AdaptiveAvgPool2d,
    dropout: Dropout,
    /// The classification head.
    pub(super) fc: Linear,
}

impl ResNetSmall {
    /// A freshly initialized network for `channels`-channel images, `classes` outputs and
    /// dropout `dropout` before the head.
    pub fn new(channels: usize, classes: usize, dropout: f64, device: &Device) -> Self {
        let mut cin = STEM;
        let layers = WIDTHS
            .iter()
            .map(|&w| {
                let block = Block::new(Depth::D18, cin, w, 2, device);
                cin = w;
                block
            })
            .collect();
        Self {
            conv1: resnet::conv(channels, STEM, 3, 1, 1, device),
            bn1: resnet::bn(STEM, device),
            layers,
            avgpool: AdaptiveAvgPool2dConfig::new([1, 1]).init(),
            dropout: DropoutConfig::new(dropout).init(),
            fc: LinearConfig::new(cin, classes).init(device),
        }
    }

    /// The pooled features before dropout and `fc`, `[batch, 128]`.
    pub fn features(&self, images: Tensor<4>) -> Tensor<2> {
        let mut x = relu(self.bn1.forward(self.conv1.forward(images)));
        for block in &self.layers {
            x = block.forward(x);
        }
        self.avgpool.forward(x).flatten(1, 3)
    }

    /// Logits for a batch of images.
    pub fn forward(&self, images: Tensor<4>) -> Tensor<2> {
        self.fc.forward(self.dropout.forward(self.features(images)))
    }
}

/// Trainable parameters for `channels`-channel images and `classes` outputs.
pub fn param_count(channels: usize, classes: usize) -> u64 {
    let conv = |cin: usize, cout: usize, k: usize| (cin * cout * k * k) as u64;
    let bn = |c: usize| 2 * c as u64;
    let mut total = conv(channels, STEM, 3) + bn(STEM);
    let mut cin = STEM;
    for w in WIDTHS {
        total += conv(cin, w, 3) + bn(w) + conv(w, w, 3) + bn(w) + conv(cin, w, 1) + bn(w);
        cin = w;
    }
    total + (cin * classes + classes) as u64
}
