//! EfficientNet-Lite0 in the EfficientNet-PyTorch layout (parameter names `_conv_stem`,
//! `_bn0`, `_blocks.N._expand_conv` …, `_fc`), so that the published ImageNet weights load by
//! name.
//!
//! The network (the facts in `../shared/data/README.md`): stem 3×3 stride 2 to 32 channels;
//! 16 inverted-residual blocks without squeeze-excitation, stages (repeats, kernel, stride,
//! expansion, out channels) (1,3,1,1,16) (2,3,2,6,24) (2,5,2,6,40) (3,3,2,6,80) (3,5,1,6,112)
//! (4,5,2,6,192) (1,3,1,6,320); a block is [1×1 expand → BN → ReLU6] → k×k depthwise → BN →
//! ReLU6 → 1×1 project → BN (no activation), plus its input when stride is 1 and the width is
//! unchanged; head 1×1 to 1280 → BN → ReLU6 → global average pool → dropout → linear. Every
//! convolution uses TensorFlow "SAME" padding (burn's [`PaddingConfig2d::Same`], recomputed
//! from the input size at each call; an odd total puts the extra pixel right/bottom) and has
//! no bias. Batch norm: eps 1e-3, momentum 0.01 (TensorFlow's decay 0.99 in PyTorch's
//! convention). Inputs are `(x − 127) / 128` on the 0..255 scale (the pipeline's
//! normalization). Stochastic depth (drop-connect) is not implemented.

use burn::nn::conv::{Conv2d, Conv2dConfig};
use burn::nn::pool::{AdaptiveAvgPool2d, AdaptiveAvgPool2dConfig};
use burn::nn::{
    BatchNorm, BatchNormConfig, Dropout, DropoutConfig, Initializer, Linear, LinearConfig,
    PaddingConfig2d,
};
use burn::prelude::*;
use burn::tensor::activation::relu6;

use super::fold::{fold, norm};

/// (repeats, kernel, stride, expansion, out channels) per stage.
const STAGES: [(usize, usize, usize, usize, usize); 7] = [
    (1, 3, 1, 1, 16),
    (2, 3, 2, 6, 24),
    (2, 5, 2, 6, 40),
    (3, 3, 2, 6, 80),
    (3, 5, 1, 6, 112),
    (4, 5, 2, 6, 192),
    (1, 3, 1, 6, 320),
];
/// Stem output channels.
const STEM: usize = 32;
/// Head (features) channels.
pub const FEATURES: usize = 1280;

/// One block's shape: input and output channels, kernel, stride, expansion.
#[derive(Clone, Copy, Debug)]
struct BlockShape {
    cin: usize,
    cout: usize,
    kernel: usize,
    stride: usize,
    expansion: usize,
}

/// The 16 blocks in order.
fn block_shapes() -> Vec<BlockShape> {
    let mut out = Vec::new();
    let mut cin = STEM;
    for (repeats, kernel, stride, expansion, cout) in STAGES {
        for r in 0..repeats {
            out.push(BlockShape {
                cin,
                cout,
                kernel,
                stride: if r == 0 { stride } else { 1 },
                expansion,
            });
            cin = cout;
        }
    }
    out
}

/// A bias-free convolution with TF "SAME" padding.
fn conv(cin: usize, cout: usize, k: usize, stride: usize, groups: usize, dev: &Device) -> Conv2d {
    Conv2dConfig::new([cin, cout], [k, k])
        .with_stride([stride, stride])
        .with_groups(groups)
        .with_padding(PaddingConfig2d::Same)
        .with_bias(false)
        .with_initializer(Initializer::KaimingNormal {
            gain: std::f64::consts::SQRT_2,
            fan_out_only: true,
        })
        .init(dev)
}

/// Batch norm with EfficientNet's eps 1e-3 and momentum 0.01.
fn bn(c: usize, dev: &Device) -> BatchNorm {
    BatchNormConfig::new(c)
        .with_epsilon(1e-3)
        .with_momentum(0.01)
        .init(dev)
}

/// An inverted-residual block (MBConv without squeeze-excitation).
#[derive(Module, Debug)]
pub struct MbConv {
    _expand_conv: Option<Conv2d>,
    _bn0: Option<BatchNorm>,
    _depthwise_conv: Conv2d,
    _bn1: BatchNorm,
    _project_conv: Conv2d,
    _bn2: BatchNorm,
    residual: bool,
    /// Whether the batch norms are folded into the convolutions ([`fold`]).
    #[module(skip)]
    folded: bool,
}

impl MbConv {
    fn new(s: BlockShape, dev: &Device) -> Self {
        let mid = s.cin * s.expansion;
        let expand = s.expansion != 1;
        Self {
            _expand_conv: expand.then(|| conv(s.cin, mid, 1, 1, 1, dev)),
            _bn0: expand.then(|| bn(mid, dev)),
            _depthwise_conv: conv(mid, mid, s.kernel, s.stride, mid, dev),
            _bn1: bn(mid, dev),
            _project_conv: conv(mid, s.cout, 1, 1, 1, dev),
            _bn2: bn(s.cout, dev),
            residual: s.stride == 1 && s.cin == s.cout,
            folded: false,
        }
    }

    fn forward(&self, x: Tensor<4>) -> Tensor<4> {
        let f = self.folded;
        let y = match (&self._expand_conv, &self._bn0) {
            (Some(c), Some(b)) => relu6(norm(b, f, c.forward(x.clone()))),
            _ => x.clone(),
        };
        let y = relu6(norm(&self._bn1, f, self._depthwise_conv.forward(y)));
        let y = norm(&self._bn2, f, self._project_conv.forward(y));
        if self.residual { y + x } else { y }
    }

    /// The block with its batch norms folded into its convolutions (inference only).
    fn fold_batch_norms(self) -> Self {
        if self.folded {
            return self;
        }
        let expand = match (self._expand_conv, &self._bn0) {
            (Some(c), Some(b)) => Some(fold(c, b)),
            (c, _) => c,
        };
        Self {
            _expand_conv: expand,
            _depthwise_conv: fold(self._depthwise_conv, &self._bn1),
            _project_conv: fold(self._project_conv, &self._bn2),
            folded: true,
            ..self
        }
    }
}

/// EfficientNet-Lite0.
#[derive(Module, Debug)]
pub struct EfficientNetLite0 {
    _conv_stem: Conv2d,
    _bn0: BatchNorm,
    _blocks: Vec<MbConv>,
    _conv_head: Conv2d,
    _bn1: BatchNorm,
    _avg_pooling: AdaptiveAvgPool2d,
    /// Dropout before the head (training only).
    pub(super) _dropout: Dropout,
    /// The classification head.
    pub(super) _fc: Linear,
    /// Whether the batch norms are folded into the convolutions ([`fold`]).
    #[module(skip)]
    folded: bool,
}

impl EfficientNetLite0 {
    /// A freshly initialized network for `channels`-channel images, `classes` outputs and
    /// dropout probability `dropout` before the head.
    pub fn new(channels: usize, classes: usize, dropout: f64, dev: &Device) -> Self {
        let blocks = block_shapes();
        let last = blocks.last().map(|b| b.cout).unwrap_or(STEM);
        Self {
            _conv_stem: conv(channels, STEM, 3, 2, 1, dev),
            _bn0: bn(STEM, dev),
            _blocks: blocks.into_iter().map(|s| MbConv::new(s, dev)).collect(),
            _conv_head: conv(last, FEATURES, 1, 1, 1, dev),
            _bn1: bn(FEATURES, dev),
            _avg_pooling: AdaptiveAvgPool2dConfig::new([1, 1]).init(),
            _dropout: DropoutConfig::new(dropout).init(),
            _fc: LinearConfig::new(FEATURES, classes).init(dev),
            folded: false,
        }
    }

    /// The pooled 1280-d features before dropout and `_fc`.
    pub fn features(&self, images: Tensor<4>) -> Tensor<2> {
        let f = self.folded;
        let mut x = relu6(norm(&self._bn0, f, self._conv_stem.forward(images)));
        for block in &self._blocks {
            x = block.forward(x);
        }
        let x = relu6(norm(&self._bn1, f, self._conv_head.forward(x)));
        self._avg_pooling.forward(x).flatten(1, 3)
    }

    /// The network with every batch norm folded into the convolution before it, for
    /// inference: same outputs to f32 rounding, fewer passes. Not for training or export (the
    /// batch norms keep their statistics but are skipped).
    pub fn fold_batch_norms(self) -> Self {
        if self.folded {
            return self;
        }
        Self {
            _conv_stem: fold(self._conv_stem, &self._bn0),
            _blocks: self
                ._blocks
                .into_iter()
                .map(MbConv::fold_batch_norms)
                .collect(),
            _conv_head: fold(self._conv_head, &self._bn1),
            folded: true,
            ..self
        }
    }

    /// Logits for a batch of images.
    pub fn forward(&self, images: Tensor<4>) -> Tensor<2> {
        self._fc
            .forward(self._dropout.forward(self.features(images)))
    }
}

/// Trainable parameters of EfficientNet-Lite0 for `channels`-channel images and `classes`
/// outputs, as built by [`EfficientNetLite0::new`].
pub fn param_count(channels: usize, classes: usize) -> u64 {
    let conv =
        |cin: usize, cout: usize, k: usize, groups: usize| (cin / groups * cout * k * k) as u64;
    let bn = |c: usize| 2 * c as u64;
    let mut total = conv(channels, STEM, 3, 1) + bn(STEM);
    let blocks = block_shapes();
    for s in &blocks {
        let mid = s.cin * s.expansion;
        if s.expansion != 1 {
            total += conv(s.cin, mid, 1, 1) + bn(mid);
        }
        total += conv(mid, mid, s.kernel, mid) + bn(mid) + conv(mid, s.cout, 1, 1) + bn(s.cout);
    }
    let last = blocks.last().map(|b| b.cout).unwrap_or(STEM);
    total + conv(last, FEATURES, 1, 1) + bn(FEATURES) + (FEATURES * classes + classes) as u64
}
