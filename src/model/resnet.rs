//! ResNet-18, -34 and -50 in torchvision's layout and parameter names, so that a torchvision
//! `state_dict` loads by name (see [`torch_name`] for the one renamed path).
//!
//! Stem: conv 7×7 stride 2 (64) → BN → ReLU → max-pool 3×3 stride 2 (padding 1). Four stages
//! of residual blocks (64, 128, 256, 512 channels; stages 2–4 halve the size in their first
//! block, on the 3×3 convolution as torchvision v1.5 does). Basic blocks (ResNet-18/34): two
//! 3×3 convolutions; bottleneck blocks (ResNet-50): 1×1 → 3×3 → 1×1 with 4× expansion. A block
//! whose stride or width changes adds a 1×1 convolution + BN on its shortcut (`downsample`).
//! Global average pooling and a linear layer (`fc`) end the network. Batch norm as
//! torchvision's: eps 1e-5, momentum 0.1; no convolution has a bias. Fresh weights follow
//! torchvision too: convolutions Kaiming-normal (fan-out, ReLU gain), BN weight 1 and bias 0.

use burn::nn::conv::{Conv2d, Conv2dConfig};
use burn::nn::pool::{AdaptiveAvgPool2d, AdaptiveAvgPool2dConfig, MaxPool2d, MaxPool2dConfig};
use burn::nn::{BatchNorm, BatchNormConfig, Initializer, Linear, LinearConfig, PaddingConfig2d};
use burn::prelude::*;
use burn::tensor::activation::relu;

use super::fold::{fold, norm};

/// Block type and blocks per stage of each depth.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Depth {
    /// Basic blocks 2-2-2-2.
    D18,
    /// Basic blocks 3-4-6-3.
    D34,
    /// Bottleneck blocks 3-4-6-3.
    D50,
}

impl Depth {
    fn blocks(self) -> [usize; 4] {
        match self {
            Depth::D18 => [2, 2, 2, 2],
            Depth::D34 | Depth::D50 => [3, 4, 6, 3],
        }
    }

    fn bottleneck(self) -> bool {
        self == Depth::D50
    }

    /// Output channels of a block of `width` (4× for bottlenecks).
    fn expansion(self) -> usize {
        if self.bottleneck() { 4 } else { 1 }
    }
}

/// Widths of the four stages.
const WIDTHS: [usize; 4] = [64, 128, 256, 512];

/// A torchvision-initialized convolution without bias: `k × k`, `stride`, zero padding `pad`.
pub(super) fn conv(
    cin: usize,
    cout: usize,
    k: usize,
    stride: usize,
    pad: usize,
    device: &Device,
) -> Conv2d {
    Conv2dConfig::new([cin, cout], [k, k])
        .with_stride([stride, stride])
        .with_padding(PaddingConfig2d::Explicit(pad, pad, pad, pad))
        .with_bias(false)
        .with_initializer(Initializer::KaimingNormal {
            gain: std::f64::consts::SQRT_2,
            fan_out_only: true,
        })
        .init(device)
}

/// torchvision's batch norm (eps 1e-5, momentum 0.1).
pub(super) fn bn(c: usize, device: &Device) -> BatchNorm {
    BatchNormConfig::new(c).init(device)
}

/// A block's shortcut when its stride or width changes: 1×1 convolution + BN (torchvision's
/// `downsample.0` and `downsample.1`).
#[derive(Module, Debug)]
pub struct Downsample {
    conv: Conv2d,
    bn: BatchNorm,
    /// Whether `bn` is folded into `conv` ([`fold`]).
    #[module(skip)]
    folded: bool,
}

impl Downsample {
    fn forward(&self, x: Tensor<4>) -> Tensor<4> {
        norm(&self.bn, self.folded, self.conv.forward(x))
    }

    fn fold_batch_norms(self) -> Self {
        if self.folded {
            return self;
        }
        Self {
            conv: fold(self.conv, &self.bn),
            folded: true,
            ..self
        }
    }
}

/// A basic block (`conv3`/`bn3` absent) or a bottleneck block.
#[derive(Module, Debug)]
pub struct Block {
    conv1: Conv2d,
    bn1: BatchNorm,
    conv2: Conv2d,
    bn2: BatchNorm,
    conv3: Option<Conv2d>,
    bn3: Option<BatchNorm>,
    downsample: Option<Downsample>,
    /// Whether the batch norms are folded into the convolutions ([`fold`]).
    #[module(skip)]
    folded: bool,
}

impl Block {
    /// A block from `cin` channels for stage width `width`, with `stride` on its 3×3 conv.
    pub(super) fn new(
        depth: Depth,
        cin: usize,
        width: usize,
        stride: usize,
        device: &Device,
    ) -> Self {
        let cout = width * depth.expansion();
        let downsample = (stride != 1 || cin != cout).then(|| Downsample {
            conv: conv(cin, cout, 1, stride, 0, device),
            bn: bn(cout, device),
            folded: false,
        });
        if depth.bottleneck() {
            Self {
                conv1: conv(cin, width, 1, 1, 0, device),
                bn1: bn(width, device),
                conv2: conv(width, width, 3, stride, 1, device),
                bn2: bn(width, device),
                conv3: Some(conv(width, cout, 1, 1, 0, device)),
                bn3: Some(bn(cout, device)),
                downsample,
                folded: false,
            }
        } else {
            Self {
                conv1: conv(cin, width, 3, stride, 1, device),
                bn1: bn(width, device),
                conv2: conv(width, width, 3, 1, 1, device),
                bn2: bn(width, device),
                conv3: None,
                bn3: None,
                downsample,
                folded: false,
            }
        }
    }

    pub(super) fn forward(&self, x: Tensor<4>) -> Tensor<4> {
        let identity = match &self.downsample {
            Some(d) => d.forward(x.clone()),
            None => x.clone(),
        };
        let f = self.folded;
        let y = relu(norm(&self.bn1, f, self.conv1.forward(x)));
        let y = norm(&self.bn2, f, self.conv2.forward(y));
        let y = match (&self.conv3, &self.bn3) {
            (Some(c3), Some(b3)) => norm(b3, f, c3.forward(relu(y))),
            _ => y,
        };
        relu(y + identity)
    }

    /// The block with its batch norms folded into its convolutions (inference only).
    fn fold_batch_norms(self) -> Self {
        if self.folded {
            return self;
        }
        let conv3 = match (self.conv3, &self.bn3) {
            (Some(c), Some(b)) => Some(fold(c, b)),
            (c, _) => c,
        };
        Self {
            conv1: fold(self.conv1, &self.bn1),
            conv2: fold(self.conv2, &self.bn2),
            conv3,
            downsample: self.downsample.map(Downsample::fold_batch_norms),
            folded: true,
            ..self
        }
    }
}

/// ResNet-18/34/50.
#[derive(Module, Debug)]
pub struct ResNet {
    conv1: Conv2d,
    bn1: BatchNorm,
    maxpool: MaxPool2d,
    layer1: Vec<Block>,
    layer2: Vec<Block>,
    layer3: Vec<Block>,
    layer4: Vec<Block>,
    avgpool: AdaptiveAvgPool2d,
    /// The classification head.
    pub(super) fc: Linear,
    /// Whether the batch norms are folded into the convolutions ([`fold`]).
    #[module(skip)]
    folded: bool,
}

impl ResNet {
    /// A freshly initialized network for `channels`-channel images and `classes` outputs.
    pub fn new(depth: Depth, channels: usize, classes: usize, device: &Device) -> Self {
        let mut cin = 64;
        let mut stages = Vec::with_capacity(4);
        for (s, (&width, n)) in WIDTHS.iter().zip(depth.blocks()).enumerate() {
            let mut blocks = Vec::with_capacity(n);
            for b in 0..n {
                let stride = if s > 0 && b == 0 { 2 } else { 1 };
                blocks.push(Block::new(depth, cin, width, stride, device));
                cin = width * depth.expansion();
            }
            stages.push(blocks);
        }
        let [layer1, layer2, layer3, layer4]: [Vec<Block>; 4] =
            stages.try_into().expect("four stages");
        Self {
            conv1: conv(channels, 64, 7, 2, 3, device),
            bn1: bn(64, device),
            maxpool: MaxPool2dConfig::new([3, 3])
                .with_strides([2, 2])
                .with_padding(PaddingConfig2d::Explicit(1, 1, 1, 1))
                .init(),
            layer1,
            layer2,
            layer3,
            layer4,
            avgpool: AdaptiveAvgPool2dConfig::new([1, 1]).init(),
            fc: LinearConfig::new(cin, classes).init(device),
            folded: false,
        }
    }

    /// The depth, read from the structure (bottlenecks: 50; six blocks in stage 3: 34).
    pub fn depth(&self) -> Depth {
        if self.layer1.first().is_some_and(|b| b.conv3.is_some()) {
            Depth::D50
        } else if self.layer3.len() == 6 {
            Depth::D34
        } else {
            Depth::D18
        }
    }

    /// The pooled features before `fc`, `[batch, 512 × expansion]`.
    pub fn features(&self, images: Tensor<4>) -> Tensor<2> {
        let x = relu(norm(&self.bn1, self.folded, self.conv1.forward(images)));
        let mut x = self.maxpool.forward(x);
        for block in self
            .layer1
            .iter()
            .chain(&self.layer2)
            .chain(&self.layer3)
            .chain(&self.layer4)
        {
            x = block.forward(x);
        }
        self.avgpool.forward(x).flatten(1, 3)
    }

    /// The network with every batch norm folded into the convolution before it, for
    /// inference: same outputs to f32 rounding, fewer passes. Not for training or export (the
    /// batch norms keep their statistics but are skipped).
    pub fn fold_batch_norms(self) -> Self {
        if self.folded {
            return self;
        }
        let blocks = |v: Vec<Block>| v.into_iter().map(Block::fold_batch_norms).collect();
        Self {
            conv1: fold(self.conv1, &self.bn1),
            layer1: blocks(self.layer1),
            layer2: blocks(self.layer2),
            layer3: blocks(self.layer3),
            layer4: blocks(self.layer4),
            folded: true,
            ..self
        }
    }

    /// Logits for a batch of images.
    pub fn forward(&self, images: Tensor<4>) -> Tensor<2> {
        self.fc.forward(self.features(images))
    }
}

/// Trainable parameters of a ResNet of `depth` for `channels`-channel images and `classes`
/// outputs (convolution weights, BN weights and biases, the linear layer), as built by
/// [`ResNet::new`].
pub fn param_count(depth: Depth, channels: usize, classes: usize) -> u64 {
    let conv = |cin: usize, cout: usize, k: usize| (cin * cout * k * k) as u64;
    let bn = |c: usize| 2 * c as u64;
    let mut total = conv(channels, 64, 7) + bn(64);
    let mut cin = 64;
    for (s, (&width, n)) in WIDTHS.iter().zip(depth.blocks()).enumerate() {
        for b in 0..n {
            let stride = if s > 0 && b == 0 { 2 } else { 1 };
            let cout = width * depth.expansion();
            total += if depth.bottleneck() {
                conv(cin, width, 1) + conv(width, width, 3) + conv(width, cout, 1)
            } else {
                conv(cin, width, 3) + conv(width, width, 3)
            };
            total += bn(width) + bn(width) + if depth.bottleneck() { bn(cout) } else { 0 };
            if stride != 1 || cin != cout {
                total += conv(cin, cout, 1) + bn(cout);
            }
            cin = cout;
        }
    }
    total + (cin * classes + classes) as u64
}

/// The torchvision name of a parameter path of [`ResNet`] (`…downsample.conv.…` is
/// torchvision's `…downsample.0.…`, `…downsample.bn.…` its `…downsample.1.…`); other paths
/// are the same.
pub fn torch_name(path: &str) -> String {
    path.replace(".downsample.conv.", ".downsample.0.")
        .replace(".downsample.bn.", ".downsample.1.")
}

/// The [`ResNet`] path of a torchvision parameter name (the inverse of [`torch_name`]).
pub fn burn_name(name: &str) -> String {
    name.replace(".downsample.0.", ".downsample.conv.")
        .replace(".downsample.1.", ".downsample.bn.")
}
