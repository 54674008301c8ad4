//! The augmentation pipeline spec: what a user writes in a TOML or JSON file.
//!
//! ```toml
//! version = 1
//! interpolation = "bilinear"   # or "nearest"
//! border = "constant"          # or "replicate", "reflect" (mirror without repeating the edge)
//! fill = [0.0]                 # constant border value(s) in [0, 1], one or one per channel
//!
//! [[ops]]
//! op = "hflip"
//! p = 0.5
//!
//! [[ops]]
//! op = "rotate"
//! degrees = [-15.0, 15.0]      # positive = counter-clockwise on screen
//!
//! [[ops]]
//! op = "normalize"
//! mean = [0.485, 0.456, 0.406]
//! std = [0.229, 0.224, 0.225]
//! ```
//!
//! Every op has a probability `p` and, where it is random, parameter ranges `[lo, hi]` drawn
//! uniformly per sample; `same_on_batch = true` draws once for the whole batch. Ops run in
//! stages, in this order: geometry (composed into one affine map) → colour → noise → erasing →
//! normalize → batch mixing (mixup / cutmix). Within a stage they run in the order listed; an
//! op listed out of stage order is an error rather than being silently moved.
//!
//! Units: angles in degrees; sizes in pixels; `translate` as a fraction of width / height;
//! colour values in [0, 1].
//!
//! Validation and test batches run the pipeline's deterministic version
//! ([`PipelineSpec::eval_version`]): random ops are dropped, a random crop becomes a centred
//! one, and a `random_resized_crop` becomes what its `eval` key says: `"resize"` (the
//! default: the whole image resized to the output size) or `"center_crop"` (the centred
//! output-size window, the ImageNet convention: load at 256, train on random resized crops of
//! 224, evaluate on the centre 224):
//!
//! ```toml
//! [[ops]]
//! op = "random_resized_crop"
//! width = 224
//! height = 224
//! eval = "center_crop"
//! ```

use serde::{Deserialize, Serialize};

pub use crate::spec_error::SpecError;

/// A closed range `[lo, hi]` from which a parameter is drawn uniformly.
pub type Range = [f64; 2];

/// How the single gather samples the source image.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum Interpolation {
    /// Bilinear between the four nearest pixel centres (OpenCV `INTER_LINEAR`).
    #[default]
    Bilinear,
    /// The pixel whose area contains the sampling point (OpenCV `INTER_NEAREST`).
    Nearest,
}

/// What the gather reads outside the source image.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum Border {
    /// The `fill` value (OpenCV `BORDER_CONSTANT`).
    #[default]
    Constant,
    /// The nearest edge pixel (OpenCV `BORDER_REPLICATE`).
    Replicate,
    /// Mirror without repeating the edge pixel: `dcb|abcd|cba` (OpenCV `BORDER_REFLECT_101`,
    /// torchvision's `reflect`).
    Reflect,
}

/// Where a fixed-size crop is taken: `"center"`, `"random"` or `[x, y]` (top-left corner in
/// pixels).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum CropPosition {
    /// `"center"` or `"random"`.
    Named(CropPlace),
    /// An explicit top-left corner `[x, y]` in pixels.
    At([u32; 2]),
}

impl Default for CropPosition {
    fn default() -> Self {
        CropPosition::Named(CropPlace::Center)
    }
}

/// Named crop positions.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CropPlace {
    /// Centred in the image.
    Center,
    /// Uniformly random, wholly inside the image.
    Random,
}

/// Padding in pixels: one number for all sides, or `[left, top, right, bottom]`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum Padding {
    /// The same on all four sides.
    All(u32),
    /// `[left, top, right, bottom]`.
    Sides([u32; 4]),
}

impl Padding {
    /// `[left, top, right, bottom]`.
    pub fn sides(&self) -> [u32; 4] {
        match *self {
            Padding::All(v) => [v; 4],
            Padding::Sides(s) => s,
        }
    }
}

/// The value written into erased rectangles.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum EraseFill {
    /// One value for every channel, in [0, 1].
    Value(f32),
    /// One value per channel, in [0, 1].
    PerChannel(Vec<f32>),
    /// `"random"`: uniform noise in [0, 1], per pixel and channel.
    Named(EraseFillName),
}

/// Named erase fills.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum EraseFillName {
    /// Uniform noise per pixel and channel.
    Random,
}

/// What a `random_resized_crop` becomes in the deterministic (evaluation) pipeline.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum EvalCrop {
    /// The whole image resized to the output size.
    #[default]
    Resize,
    /// The centred window of the output size (torchvision's `CenterCrop`).
    CenterCrop,
}

impl EvalCrop {
    fn is_resize(&self) -> bool {
        *self == EvalCrop::Resize
    }
}

impl Default for EraseFill {
    fn default() -> Self {
        EraseFill::Value(0.0)
    }
}

fn half() -> f64 {
    0.5
}
fn one() -> f64 {
    1.0
}
fn zero_range() -> Range {
    [0.0, 0.0]
}
fn unit_range() -> Range {
    [1.0, 1.0]
}
fn rrc_scale() -> Range {
    [0.08, 1.0]
}
fn rrc_ratio() -> Range {
    [3.0 / 4.0, 4.0 / 3.0]
}
fn erase_count() -> [u32; 2] {
    [1, 1]
}
fn erase_scale() -> Range {
    [0.02, 0.33]
}
fn erase_ratio() -> Range {
    [0.3, 3.3]
}
fn yes() -> bool {
    true
}
fn iou_thresholds() -> Vec<f64> {
    vec![0.1, 0.3, 0.5, 0.7, 0.9]
}
fn iou_crop_scale() -> Range {
    [0.3, 1.0]
}
fn iou_crop_aspect() -> Range {
    [0.5, 2.0]
}
fn crop_attempts() -> u32 {
    50
}
fn safe_crop_scale() -> Range {
    [0.3, 1.0]
}

/// One augmentation op. The `op` key selects the variant (snake_case names).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "op", rename_all = "snake_case", deny_unknown_fields)]
pub enum OpSpec {
    /// Mirror left–right.
    Hflip {
        /// Probability (default 0.5).
        #[serde(default = "half")]
        p: f64,
        /// One draw for the whole batch.
        #[serde(default)]
        same_on_batch: bool,
    },
    /// Mirror top–bottom.
    Vflip {
        /// Probability (default 0.5).
        #[serde(default = "half")]
        p: f64,
        /// One draw for the whole batch.
        #[serde(default)]
        same_on_batch: bool,
    },
    /// Rotate about the image centre by an angle in degrees (positive = counter-clockwise on
    /// screen), keeping the canvas size.
    Rotate {
        /// Angle range in degrees.
        degrees: Range,
        /// Probability (default 1).
        #[serde(default = "one")]
        p: f64,
        /// One draw for the whole batch.
        #[serde(default)]
        same_on_batch: bool,
    },
    /// Rotation, scale, translation and shear about the image centre (torchvision's
    /// `RandomAffine`): forward map = translate · rotate · shear · scale, about the centre.
    Affine {
        /// Rotation range in degrees (default `[0, 0]`).
        #[serde(default = "zero_range")]
        degrees: Range,
        /// Scale range (default `[1, 1]`).
        #[serde(default = "unit_range")]
        scale: Range,
        /// Largest translation as a fraction of `[width, height]`, drawn in ±value (default 0).
        #[serde(default)]
        translate: [f64; 2],
        /// Horizontal shear range in degrees (default `[0, 0]`).
        #[serde(default = "zero_range")]
        shear: Range,
        /// Probability (default 1).
        #[serde(default = "one")]
        p: f64,
        /// One draw for the whole batch.
        #[serde(default)]
        same_on_batch: bool,
    },
    /// A fixed-size window; the output becomes `width × height`.
    Crop {
        /// Window width in pixels.
        width: u32,
        /// Window height in pixels.
        height: u32,
        /// `"center"` (default), `"random"` or `[x, y]`.
        #[serde(default)]
        position: CropPosition,
        /// One draw for the whole batch (random position only).
        #[serde(default)]
        same_on_batch: bool,
    },
    /// torchvision's `RandomResizedCrop`: a region of random area fraction and aspect ratio,
    /// resized to `width × height`.
    RandomResizedCrop {
        /// Output width in pixels.
        width: u32,
        /// Output height in pixels.
        height: u32,
        /// Area fraction range (default `[0.08, 1]`).
        #[serde(default = "rrc_scale")]
        scale: Range,
        /// Aspect ratio (w/h) range, drawn log-uniformly (default `[3/4, 4/3]`).
        #[serde(default = "rrc_ratio")]
        ratio: Range,
        /// One draw for the whole batch.
        #[serde(default)]
        same_on_batch: bool,
        /// The evaluation version: `"resize"` (default) or `"center_crop"`.
        #[serde(default, skip_serializing_if = "EvalCrop::is_resize")]
        eval: EvalCrop,
    },
    /// A detection-aware crop that keeps at least one object (SSD's sampler, DALI's
    /// `random_bbox_crop`, torchvision's `RandomIoUCrop`): per sample, one IoU threshold is
    /// drawn from `thresholds`; windows of side fractions in `scale` and aspect (w/h) in `aspect`
    /// are drawn until one has IoU ≥ the threshold with some box whose centre lies inside it;
    /// after `attempts` failures, or for an image without boxes, the whole canvas is used. The
    /// window is resized to `width × height`.
    IouCrop {
        /// Output width in pixels.
        width: u32,
        /// Output height in pixels.
        height: u32,
        /// Minimum IoU choices, each in [0, 1] (default `[0.1, 0.3, 0.5, 0.7, 0.9]`).
        #[serde(default = "iou_thresholds")]
        thresholds: Vec<f64>,
        /// Window side as a fraction of the canvas side, per axis (default `[0.3, 1]`).
        #[serde(default = "iou_crop_scale")]
        scale: Range,
        /// Window aspect ratio w/h range (default `[0.5, 2]`).
        #[serde(default = "iou_crop_aspect")]
        aspect: Range,
        /// Windows tried before falling back to the whole canvas (default 50).
        #[serde(default = "crop_attempts")]
        attempts: u32,
        /// Also offer "no crop" (the whole canvas) as one choice beside the thresholds
        /// (SSD's sampler does; default true).
        #[serde(default = "yes")]
        allow_no_crop: bool,
    },
    /// A crop that never cuts an object beyond `max_cut`: windows of area fraction `scale` and
    /// aspect `ratio` (as `random_resized_crop`) are drawn until every box either lies outside
    /// the window or keeps at least `1 − max_cut` of its area in it, and at least one box is
    /// kept; after `attempts` failures, or for an image without boxes, the whole canvas is used.
    /// The window is resized to `width × height`.
    SafeCrop {
        /// Output width in pixels.
        width: u32,
        /// Output height in pixels.
        height: u32,
        /// Area fraction range (default `[0.3, 1]`).
        #[serde(default = "safe_crop_scale")]
        scale: Range,
        /// Aspect ratio (w/h) range, drawn log-uniformly (default `[3/4, 4/3]`).
        #[serde(default = "rrc_ratio")]
        ratio: Range,
        /// Largest fraction of a box's area a window may cut off, in [0, 1) (default 0:
        /// objects are kept whole or left out).
        #[serde(default)]
        max_cut: f64,
        /// Windows tried before falling back to the whole canvas (default 50).
        #[serde(default = "crop_attempts")]
        attempts: u32,
    },
    /// Resize the whole canvas to `width × height`.
    Resize {
        /// Output width in pixels.
        width: u32,
        /// Output height in pixels.
        height: u32,
    },
    /// Enlarge the canvas; the new border is filled per the pipeline's `border` mode.
    Pad {
        /// Pixels: one number or `[left, top, right, bottom]`.
        pixels: Padding,
    },
    /// Multiply by a factor (torchvision brightness).
    Brightness {
        /// Factor range, e.g. `[0.8, 1.2]`.
        factor: Range,
        /// Probability (default 1).
        #[serde(default = "one")]
        p: f64,
        /// One draw for the whole batch.
        #[serde(default)]
        same_on_batch: bool,
    },
    /// Scale the distance from mid-gray 0.5 by a factor.
    Contrast {
        /// Factor range, e.g. `[0.8, 1.2]`.
        factor: Range,
        /// Probability (default 1).
        #[serde(default = "one")]
        p: f64,
        /// One draw for the whole batch.
        #[serde(default)]
        same_on_batch: bool,
    },
    /// Blend with the pixel's luma (0 = gray, 1 = unchanged); colour images only.
    Saturation {
        /// Factor range, e.g. `[0.8, 1.2]`.
        factor: Range,
        /// Probability (default 1).
        #[serde(default = "one")]
        p: f64,
        /// One draw for the whole batch.
        #[serde(default)]
        same_on_batch: bool,
    },
    /// `v ↦ v^gamma`.
    Gamma {
        /// Exponent range, e.g. `[0.8, 1.25]`.
        gamma: Range,
        /// Probability (default 1).
        #[serde(default = "one")]
        p: f64,
        /// One draw for the whole batch.
        #[serde(default)]
        same_on_batch: bool,
    },
    /// Replace every channel by the luma 0.299 R + 0.587 G + 0.114 B.
    Grayscale {
        /// Probability (default 0.5).
        #[serde(default = "half")]
        p: f64,
        /// One draw for the whole batch.
        #[serde(default)]
        same_on_batch: bool,
    },
    /// Add zero-mean Gaussian noise with a per-sample sigma (values in [0, 1] units).
    GaussianNoise {
        /// Sigma range.
        sigma: Range,
        /// Independent noise per channel (default) or one value per pixel.
        #[serde(default = "yes")]
        per_channel: bool,
        /// Probability (default 1).
        #[serde(default = "one")]
        p: f64,
        /// One draw for the whole batch.
        #[serde(default)]
        same_on_batch: bool,
    },
    /// Set a fraction `amount` of pixels to 0 or 1 (half each).
    SaltPepper {
        /// Fraction range.
        amount: Range,
        /// Probability (default 1).
        #[serde(default = "one")]
        p: f64,
        /// One draw for the whole batch.
        #[serde(default)]
        same_on_batch: bool,
    },
    /// Multiplicative noise `v ↦ v · (1 + sigma · n)`, n standard normal.
    Speckle {
        /// Sigma range.
        sigma: Range,
        /// Probability (default 1).
        #[serde(default = "one")]
        p: f64,
        /// One draw for the whole batch.
        #[serde(default)]
        same_on_batch: bool,
    },
    /// Random erasing / cutout (torchvision's `RandomErasing`, up to 10 attempts per box).
    Erase {
        /// Number of boxes, drawn uniformly in `[lo, hi]` (default `[1, 1]`, at most 8).
        #[serde(default = "erase_count")]
        count: [u32; 2],
        /// Box area as a fraction of the image (default `[0.02, 0.33]`).
        #[serde(default = "erase_scale")]
        scale: Range,
        /// Box aspect ratio h/w, log-uniform (default `[0.3, 3.3]`).
        #[serde(default = "erase_ratio")]
        ratio: Range,
        /// Fill: a value, one value per channel, or `"random"` (default 0).
        #[serde(default)]
        fill: EraseFill,
        /// Probability (default 0.5).
        #[serde(default = "half")]
        p: f64,
        /// One draw for the whole batch.
        #[serde(default)]
        same_on_batch: bool,
    },
    /// `(v - mean) / std` per channel. Always the last per-sample op.
    Normalize {
        /// Mean per channel (one value or one per channel), [0, 1] units.
        mean: Vec<f32>,
        /// Standard deviation per channel (one value or one per channel), > 0.
        std: Vec<f32>,
    },
    /// mixup: blend each sample with a random partner of the batch, λ ~ Beta(α, α) per sample;
    /// targets become `λ·onehot(y) + (1-λ)·onehot(y_partner)`.
    Mixup {
        /// Beta distribution parameter α (> 0).
        alpha: f64,
        /// Probability per sample (default 1).
        #[serde(default = "one")]
        p: f64,
    },
    /// CutMix: paste a box of a random partner, box area `1-λ` with λ ~ Beta(α, α); targets are
    /// weighted by the exact pasted area.
    Cutmix {
        /// Beta distribution parameter α (> 0).
        alpha: f64,
        /// Probability per sample (default 1).
        #[serde(default = "one")]
        p: f64,
    },
}

/// The stage an op runs in (ops must be listed in stage order).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Stage {
    /// Composed into the single affine gather.
    Geometry,
    /// Per-pixel colour transforms.
    Colour,
    /// Per-pixel noise.
    Noise,
    /// Erased rectangles.
    Erase,
    /// Normalization.
    Normalize,
    /// Batch-level mixing.
    Batch,
}

impl OpSpec {
    /// The op's name as written in a spec.
    pub fn name(&self) -> &'static str {
        match self {
            OpSpec::Hflip { .. } => "hflip",
            OpSpec::Vflip { .. } => "vflip",
            OpSpec::Rotate { .. } => "rotate",
            OpSpec::Affine { .. } => "affine",
            OpSpec::Crop { .. } => "crop",
            OpSpec::RandomResizedCrop { .. } => "random_resized_crop",
            OpSpec::IouCrop { .. } => "iou_crop",
            OpSpec::SafeCrop { .. } => "safe_crop",
            OpSpec::Resize { .. } => "resize",
            OpSpec::Pad { .. } => "pad",
            OpSpec::Brightness { .. } => "brightness",
            OpSpec::Contrast { .. } => "contrast",
            OpSpec::Saturation { .. } => "saturation",
            OpSpec::Gamma { .. } => "gamma",
            OpSpec::Grayscale { .. } => "grayscale",
            OpSpec::GaussianNoise { .. } => "gaussian_noise",
            OpSpec::SaltPepper { .. } => "salt_pepper",
            OpSpec::Speckle { .. } => "speckle",
            OpSpec::Erase { .. } => "erase",
            OpSpec::Normalize { .. } => "normalize",
            OpSpec::Mixup { .. } => "mixup",
            OpSpec::Cutmix { .. } => "cutmix",
        }
    }

    /// The stage the op belongs to.
    pub fn stage(&self) -> Stage {
        match self {
            OpSpec::Hflip { .. }
            | OpSpec::Vflip { .. }
            | OpSpec::Rotate { .. }
            | OpSpec::Affine { .. }
            | OpSpec::Crop { .. }
            | OpSpec::RandomResizedCrop { .. }
            | OpSpec::IouCrop { .. }
            | OpSpec::SafeCrop { .. }
            | OpSpec::Resize { .. }
            | OpSpec::Pad { .. } => Stage::Geometry,
            OpSpec::Brightness { .. }
            | OpSpec::Contrast { .. }
            | OpSpec::Saturation { .. }
            | OpSpec::Gamma { .. }
            | OpSpec::Grayscale { .. } => Stage::Colour,
            OpSpec::GaussianNoise { .. } | OpSpec::SaltPepper { .. } | OpSpec::Speckle { .. } => {
                Stage::Noise
            }
            OpSpec::Erase { .. } => Stage::Erase,
            OpSpec::Normalize { .. } => Stage::Normalize,
            OpSpec::Mixup { .. } | OpSpec::Cutmix { .. } => Stage::Batch,
        }
    }

    /// The probability of applying the op (1 for deterministic ops).
    pub fn probability(&self) -> f64 {
        match self {
            OpSpec::Hflip { p, .. }
            | OpSpec::Vflip { p, .. }
            | OpSpec::Rotate { p, .. }
            | OpSpec::Affine { p, .. }
            | OpSpec::Brightness { p, .. }
            | OpSpec::Contrast { p, .. }
            | OpSpec::Saturation { p, .. }
            | OpSpec::Gamma { p, .. }
            | OpSpec::Grayscale { p, .. }
            | OpSpec::GaussianNoise { p, .. }
            | OpSpec::SaltPepper { p, .. }
            | OpSpec::Speckle { p, .. }
            | OpSpec::Erase { p, .. }
            | OpSpec::Mixup { p, .. }
            | OpSpec::Cutmix { p, .. } => *p,
            OpSpec::Crop { .. }
            | OpSpec::RandomResizedCrop { .. }
            | OpSpec::IouCrop { .. }
            | OpSpec::SafeCrop { .. }
            | OpSpec::Resize { .. }
            | OpSpec::Pad { .. }
            | OpSpec::Normalize { .. } => 1.0,
        }
    }

    /// Whether one draw serves the whole batch.
    pub fn same_on_batch(&self) -> bool {
        match self {
            OpSpec::Hflip { same_on_batch, .. }
            | OpSpec::Vflip { same_on_batch, .. }
            | OpSpec::Rotate { same_on_batch, .. }
            | OpSpec::Affine { same_on_batch, .. }
            | OpSpec::Crop { same_on_batch, .. }
            | OpSpec::RandomResizedCrop { same_on_batch, .. }
            | OpSpec::Brightness { same_on_batch, .. }
            | OpSpec::Contrast { same_on_batch, .. }
            | OpSpec::Saturation { same_on_batch, .. }
            | OpSpec::Gamma { same_on_batch, .. }
            | OpSpec::Grayscale { same_on_batch, .. }
            | OpSpec::GaussianNoise { same_on_batch, .. }
            | OpSpec::SaltPepper { same_on_batch, .. }
            | OpSpec::Speckle { same_on_batch, .. }
            | OpSpec::Erase { same_on_batch, .. } => *same_on_batch,
            _ => false,
        }
    }

    /// The deterministic version used for validation and test batches: random crops become
    /// centred crops, random-resized crops become resizes or centred crops (their `eval` key),
    /// size-preserving random ops and colour / noise / erasing / mixing disappear; resize, pad,
    /// fixed crops and normalize stay.
    pub fn eval_version(&self) -> Option<OpSpec> {
        match self {
            OpSpec::Crop {
                width,
                height,
                position,
                ..
            } => Some(OpSpec::Crop {
                width: *width,
                height: *height,
                position: match position {
                    CropPosition::At(xy) => CropPosition::At(*xy),
                    _ => CropPosition::Named(CropPlace::Center),
                },
                same_on_batch: false,
            }),
            OpSpec::RandomResizedCrop {
                width,
                height,
                eval: EvalCrop::Resize,
                ..
            } => Some(OpSpec::Resize {
                width: *width,
                height: *height,
            }),
            OpSpec::RandomResizedCrop {
                width,
                height,
                eval: EvalCrop::CenterCrop,
                ..
            } => Some(OpSpec::Crop {
                width: *width,
                height: *height,
                position: CropPosition::Named(CropPlace::Center),
                same_on_batch: false,
            }),
            OpSpec::IouCrop { width, height, .. } | OpSpec::SafeCrop { width, height, .. } => {
                Some(OpSpec::Resize {
                    width: *width,
                    height: *height,
                })
            }
            OpSpec::Resize { .. } | OpSpec::Pad { .. } | OpSpec::Normalize { .. } => {
                Some(self.clone())
            }
            _ => None,
        }
    }
}

/// A whole pipeline: gather settings and the ops.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PipelineSpec {
    /// Spec format version; must be 1.
    pub version: u32,
    /// Interpolation of the single gather (default bilinear).
    #[serde(default)]
    pub interpolation: Interpolation,
    /// Border mode of the single gather (default constant).
    #[serde(default)]
    pub border: Border,
    /// Constant border value(s) in [0, 1]: one, or one per channel (default 0).
    #[serde(default)]
    pub fill: Vec<f32>,
    /// The ops, in stage order.
    #[serde(default)]
    pub ops: Vec<OpSpec>,
    /// How annotations (boxes, polygons, keypoints) follow the geometry (the `[targets]`
    /// table; see [`crate::targets::TargetOptions`]).
    #[serde(
        default,
        skip_serializing_if = "crate::targets::TargetOptions::is_default"
    )]
    pub targets: crate::targets::TargetOptions,
}

/// Largest output side we accept, in pixels.
pub const MAX_SIDE: u32 = 16_384;
/// Most erase boxes per op.
pub const MAX_ERASE_BOXES: u32 = 8;
/// Most erase boxes over all erase ops.
pub const MAX_TOTAL_ERASE_BOXES: u32 = 16;
/// Most windows a detection-aware crop may try per sample.
pub const MAX_CROP_ATTEMPTS: u32 = 1000;
/// Most ops per stage that the kernel's fixed-size parameter block supports.
pub const MAX_OPS_PER_STAGE: usize = 8;

impl PipelineSpec {
    /// An empty pipeline: images pass through unchanged (scaled to [0, 1]).
    pub fn identity() -> Self {
        PipelineSpec {
            version: 1,
            interpolation: Interpolation::Bilinear,
            border: Border::Constant,
            fill: Vec::new(),
            ops: Vec::new(),
            targets: Default::default(),
        }
    }

    /// Default pipeline for gray digit-like data (MNIST): small rotations, shifts and scale
    /// changes (no flips: a mirrored digit is another symbol), then MNIST normalization.
    pub fn default_gray() -> Self {
        PipelineSpec {
            ops: vec![
                OpSpec::Affine {
                    degrees: [-10.0, 10.0],
                    scale: [0.9, 1.1],
                    translate: [0.1, 0.1],
                    shear: [0.0, 0.0],
                    p: 1.0,
                    same_on_batch: false,
                },
                OpSpec::Normalize {
                    mean: vec![0.1307],
                    std: vec![0.3081],
                },
            ],
            ..Self::identity()
        }
    }

    /// Default pipeline for colour photos of `width × height`: flips, a mild random-resized
    /// crop back to the same size, colour jitter, ImageNet normalization.
    pub fn default_colour(width: u32, height: u32) -> Self {
        PipelineSpec {
            border: Border::Reflect,
            ops: vec![
                OpSpec::Hflip {
                    p: 0.5,
                    same_on_batch: false,
                },
                OpSpec::RandomResizedCrop {
                    width,
                    height,
                    scale: [0.6, 1.0],
                    ratio: rrc_ratio(),
                    same_on_batch: false,
                    eval: EvalCrop::Resize,
                },
                OpSpec::Brightness {
                    factor: [0.8, 1.2],
                    p: 1.0,
                    same_on_batch: false,
                },
                OpSpec::Contrast {
                    factor: [0.8, 1.2],
                    p: 1.0,
                    same_on_batch: false,
                },
                OpSpec::Saturation {
                    factor: [0.8, 1.2],
                    p: 1.0,
                    same_on_batch: false,
                },
                OpSpec::Normalize {
                    mean: vec![0.485, 0.456, 0.406],
                    std: vec![0.229, 0.224, 0.225],
                },
            ],
            ..Self::identity()
        }
    }

    /// The transfer-learning pipeline of an ImageNet model taking `width × height` images
    /// (torchvision's recipe): horizontal flip, random resized crop to the input size (area
    /// 8–100 %, aspect 3/4–4/3) whose evaluation version is the centred window of that size,
    /// then the model's normalization. Images are loaded at the input size × 256/224, so that
    /// evaluation is the usual resize 256 + centre crop 224.
    pub fn imagenet(width: u32, height: u32, mean: Vec<f32>, std: Vec<f32>) -> Self {
        PipelineSpec {
            ops: vec![
                OpSpec::Hflip {
                    p: 0.5,
                    same_on_batch: false,
                },
                OpSpec::RandomResizedCrop {
                    width,
                    height,
                    scale: rrc_scale(),
                    ratio: rrc_ratio(),
                    same_on_batch: false,
                    eval: EvalCrop::CenterCrop,
                },
                OpSpec::Normalize { mean, std },
            ],
            ..Self::identity()
        }
    }

    /// The default pipeline for images of this shape: gray or colour.
    pub fn default_for(channels: usize, width: u32, height: u32) -> Self {
        if channels == 1 {
            Self::default_gray()
        } else {
            Self::default_colour(width, height)
        }
    }

    /// The deterministic part of the pipeline, for validation and test batches
    /// (see [`OpSpec::eval_version`]).
    pub fn eval_version(&self) -> PipelineSpec {
        PipelineSpec {
            ops: self.ops.iter().filter_map(OpSpec::eval_version).collect(),
            ..self.clone()
        }
    }

    /// Parse a spec from TOML text. `origin` names the file in error messages.
    pub fn from_toml(text: &str, origin: &str) -> Result<Self, SpecError> {
        let parsed: Result<PipelineSpec, _> = toml::from_str(text).map_err(|e| SpecError::Syntax {
            line: augtrain_data::util::suggest::toml_error_line(
                text,
                e.message(),
                e.span().map(|s| s.start),
            ),
            message: augtrain_data::util::suggest::with_suggestion(e.message()),
        });
        parsed
            .and_then(|spec| spec.validate().map(|()| spec))
            .map_err(|e| e.in_file(origin))
    }

    /// Parse a spec from JSON text. `origin` names the file in error messages.
    pub fn from_json(text: &str, origin: &str) -> Result<Self, SpecError> {
        let parsed: Result<PipelineSpec, _> =
            serde_json::from_str(text).map_err(|e| SpecError::Syntax {
                line: None,
                message: augtrain_data::util::suggest::with_suggestion(&e.to_string()),
            });
        parsed
            .and_then(|spec| spec.validate().map(|()| spec))
            .map_err(|e| e.in_file(origin))
    }

    /// The spec as TOML text.
    pub fn to_toml(&self) -> String {
        toml::to_string(self).unwrap_or_default()
    }

    /// Check every value's range and the stage order. Messages name the op and key.
    pub fn validate(&self) -> Result<(), SpecError> {
        if self.version != 1 {
            return Err(SpecError::Pipeline {
                key: "version",
                problem: format!("version = {}: only version 1 is supported", self.version),
            });
        }
        if self.fill.len() > 4 {
            return Err(SpecError::Pipeline {
                key: "fill",
                problem: format!(
                    "fill has {} values; give one, or one per channel",
                    self.fill.len()
                ),
            });
        }
        for (i, v) in self.fill.iter().enumerate() {
            if !(0.0..=1.0).contains(v) {
                return Err(SpecError::Pipeline {
                    key: "fill",
                    problem: format!("fill[{i}] = {v} is outside [0, 1]"),
                });
            }
        }
        let mut last_stage = Stage::Geometry;
        let mut per_stage = std::collections::HashMap::new();
        let mut batch_ops = 0;
        for (i, op) in self.ops.iter().enumerate() {
            let at = |problem: String| SpecError::Op {
                index: i,
                op: op.name(),
                problem,
            };
            let stage = op.stage();
            if stage < last_stage {
                return Err(at("listed after a later-stage op; the fused kernel runs geometry → colour → noise → erase → normalize → mixup/cutmix, so list ops in that order".into()));
            }
            last_stage = stage;
            let count = per_stage.entry(stage).or_insert(0usize);
            *count += 1;
            if *count > MAX_OPS_PER_STAGE && stage != Stage::Geometry {
                return Err(at(format!(
                    "more than {MAX_OPS_PER_STAGE} ops in one stage are not supported"
                )));
            }
            if stage == Stage::Normalize && *count > 1 {
                return Err(at("normalize may appear only once".into()));
            }
            if stage == Stage::Batch {
                batch_ops += 1;
                if batch_ops > 1 {
                    return Err(at("use at most one of mixup and cutmix".into()));
                }
            }
            validate_op(op).map_err(at)?;
        }
        let boxes: u32 = self
            .ops
            .iter()
            .map(|op| match op {
                OpSpec::Erase { count, .. } => count[1],
                _ => 0,
            })
            .sum();
        self.targets.validate().map_err(|e| SpecError::Pipeline {
            key: "targets",
            problem: format!("[targets]: {e}"),
        })?;
        if boxes > MAX_TOTAL_ERASE_BOXES {
            return Err(SpecError::Pipeline {
                key: "ops",
                problem: format!(
                    "the erase ops ask for up to {boxes} boxes in total; at most {MAX_TOTAL_ERASE_BOXES} are supported"
                ),
            });
        }
        Ok(())
    }
}

fn check_p(p: f64) -> Result<(), String> {
    if (0.0..=1.0).contains(&p) {
        Ok(())
    } else {
        Err(format!("p = {p} is outside [0, 1]"))
    }
}

fn check_range(key: &str, r: Range, lo: f64, hi: f64, lo_open: bool) -> Result<(), String> {
    let ok_lo = |v: f64| if lo_open { v > lo } else { v >= lo };
    if !(r[0].is_finite() && r[1].is_finite()) {
        return Err(format!("{key} = [{}, {}] must be finite", r[0], r[1]));
    }
    if r[0] > r[1] {
        return Err(format!(
            "{key} = [{}, {}]: the low end exceeds the high end",
            r[0], r[1]
        ));
    }
    if !ok_lo(r[0]) || r[1] > hi {
        let open = if lo_open { "(" } else { "[" };
        return Err(format!(
            "{key} = [{}, {}] is outside {open}{lo}, {hi}]",
            r[0], r[1]
        ));
    }
    Ok(())
}

fn check_size(width: u32, height: u32) -> Result<(), String> {
    if width == 0 || height == 0 || width > MAX_SIDE || height > MAX_SIDE {
        return Err(format!(
            "width = {width}, height = {height}: sides must be in 1..={MAX_SIDE}"
        ));
    }
    Ok(())
}

fn validate_op(op: &OpSpec) -> Result<(), String> {
    check_p(op.probability())?;
    match op {
        OpSpec::Rotate { degrees, .. } => check_range("degrees", *degrees, -360.0, 360.0, false),
        OpSpec::Affine {
            degrees,
            scale,
            translate,
            shear,
            ..
        } => validate_affine(*degrees, *scale, *translate, *shear),
        OpSpec::Crop { .. }
        | OpSpec::RandomResizedCrop { .. }
        | OpSpec::IouCrop { .. }
        | OpSpec::SafeCrop { .. } => validate_crop(op),
        OpSpec::Resize { width, height } => check_size(*width, *height),
        OpSpec::Pad { pixels } => {
            if pixels.sides().iter().any(|&v| v > MAX_SIDE) {
                return Err(format!(
                    "pixels = {:?}: at most {MAX_SIDE} per side",
                    pixels.sides()
                ));
            }
            Ok(())
        }
        OpSpec::Brightness { factor, .. }
        | OpSpec::Contrast { factor, .. }
        | OpSpec::Saturation { factor, .. } => check_range("factor", *factor, 0.0, 100.0, false),
        OpSpec::Gamma { gamma, .. } => check_range("gamma", *gamma, 0.0, 100.0, true),
        OpSpec::GaussianNoise { sigma, .. } | OpSpec::Speckle { sigma, .. } => {
            check_range("sigma", *sigma, 0.0, 10.0, false)
        }
        OpSpec::SaltPepper { amount, .. } => check_range("amount", *amount, 0.0, 1.0, false),
        OpSpec::Erase {
            count,
            scale,
            ratio,
            fill,
            ..
        } => validate_erase(*count, *scale, *ratio, fill),
        OpSpec::Normalize { mean, std } => validate_normalize(mean, std),
        OpSpec::Mixup { alpha, .. } | OpSpec::Cutmix { alpha, .. } => {
            if !(*alpha > 0.0 && *alpha <= 100.0) {
                return Err(format!("alpha = {alpha} must be in (0, 100]"));
            }
            Ok(())
        }
        OpSpec::Hflip { .. } | OpSpec::Vflip { .. } | OpSpec::Grayscale { .. } => Ok(()),
    }
}

/// The fields of the crop ops (`crop`, `random_resized_crop`, `iou_crop`, `safe_crop`);
/// other ops have none.
fn validate_crop(op: &OpSpec) -> Result<(), String> {
    match op {
        OpSpec::Crop {
            width,
            height,
            position,
            ..
        } => {
            check_size(*width, *height)?;
            if let CropPosition::At([x, y]) = position
                && (*x > MAX_SIDE || *y > MAX_SIDE)
            {
                return Err(format!("position = [{x}, {y}] is outside the image"));
            }
            Ok(())
        }
        OpSpec::RandomResizedCrop {
            width,
            height,
            scale,
            ratio,
            ..
        } => {
            check_size(*width, *height)?;
            check_range("scale", *scale, 0.0, 1.0, true)?;
            check_range("ratio", *ratio, 0.0, 100.0, true)
        }
        OpSpec::IouCrop {
            width,
            height,
            thresholds,
            scale,
            aspect,
            attempts,
            ..
        } => {
            check_size(*width, *height)?;
            validate_iou_crop(thresholds, *scale, *aspect, *attempts)
        }
        OpSpec::SafeCrop {
            width,
            height,
            scale,
            ratio,
            max_cut,
            attempts,
        } => {
            check_size(*width, *height)?;
            check_range("scale", *scale, 0.0, 1.0, true)?;
            check_range("ratio", *ratio, 0.0, 100.0, true)?;
            check_attempts(*attempts)?;
            if !(0.0..1.0).contains(max_cut) {
                return Err(format!("max_cut = {max_cut} is outside [0, 1)"));
            }
            Ok(())
        }
        _ => Ok(()),
    }
}

fn validate_affine(
    degrees: Range,
    scale: Range,
    translate: [f64; 2],
    shear: Range,
) -> Result<(), String> {
    check_range("degrees", degrees, -360.0, 360.0, false)?;
    check_range("scale", scale, 0.0, 16.0, true)?;
    for (k, t) in translate.iter().enumerate() {
        if !(0.0..=1.0).contains(t) {
            return Err(format!("translate[{k}] = {t} is outside [0, 1]"));
        }
    }
    check_range("shear", shear, -80.0, 80.0, false)
}

fn check_attempts(attempts: u32) -> Result<(), String> {
    if !(1..=MAX_CROP_ATTEMPTS).contains(&attempts) {
        return Err(format!(
            "attempts = {attempts} is outside 1..={MAX_CROP_ATTEMPTS}"
        ));
    }
    Ok(())
}

fn validate_iou_crop(
    thresholds: &[f64],
    scale: Range,
    aspect: Range,
    attempts: u32,
) -> Result<(), String> {
    if thresholds.is_empty() || thresholds.len() > 16 {
        return Err("thresholds: give 1 to 16 values in [0, 1]".into());
    }
    if let Some(t) = thresholds.iter().find(|t| !(0.0..=1.0).contains(*t)) {
        return Err(format!("thresholds: {t} is outside [0, 1]"));
    }
    check_range("scale", scale, 0.0, 1.0, true)?;
    check_range("aspect", aspect, 0.0, 100.0, true)?;
    check_attempts(attempts)
}

fn validate_erase(
    count: [u32; 2],
    scale: Range,
    ratio: Range,
    fill: &EraseFill,
) -> Result<(), String> {
    if count[0] > count[1] || count[1] > MAX_ERASE_BOXES {
        return Err(format!(
            "count = [{}, {}] must satisfy lo <= hi <= {MAX_ERASE_BOXES}",
            count[0], count[1]
        ));
    }
    check_range("scale", scale, 0.0, 1.0, true)?;
    check_range("ratio", ratio, 0.0, 100.0, true)?;
    match fill {
        EraseFill::Value(v) if !(0.0..=1.0).contains(v) => {
            Err(format!("fill = {v} is outside [0, 1]"))
        }
        EraseFill::PerChannel(vs) if vs.is_empty() || vs.len() > 4 => {
            Err("fill: give one value, or one per channel".into())
        }
        EraseFill::PerChannel(vs) if vs.iter().any(|v| !(0.0..=1.0).contains(v)) => {
            Err(format!("fill = {vs:?} has values outside [0, 1]"))
        }
        _ => Ok(()),
    }
}

fn validate_normalize(mean: &[f32], std: &[f32]) -> Result<(), String> {
    if mean.is_empty() || std.is_empty() || mean.len() > 4 || std.len() > 4 {
        return Err("mean and std: give one value, or one per channel".into());
    }
    if let Some(s) = std.iter().find(|s| !s.is_finite() || **s <= 0.0) {
        return Err(format!("std = {s}: every std must be > 0"));
    }
    if let Some(m) = mean.iter().find(|m| !m.is_finite()) {
        return Err(format!("mean = {m} must be finite"));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_toml_and_json() {
        let t = r#"
version = 1
border = "reflect"
[[ops]]
op = "hflip"
[[ops]]
op = "rotate"
degrees = [-15, 15]
[[ops]]
op = "random_resized_crop"
width = 20
height = 20
[[ops]]
op = "gaussian_noise"
sigma = [0.0, 0.1]
[[ops]]
op = "erase"
fill = "random"
[[ops]]
op = "normalize"
mean = [0.5]
std = [0.5]
"#;
        let s = PipelineSpec::from_toml(t, "p.toml").unwrap();
        assert_eq!(s.ops.len(), 6);
        assert_eq!(s.border, Border::Reflect);
        assert_eq!(
            s.ops[0],
            OpSpec::Hflip {
                p: 0.5,
                same_on_batch: false
            }
        );
        let j = serde_json::to_string(&s).unwrap();
        assert_eq!(PipelineSpec::from_json(&j, "p.json").unwrap(), s);
        let back = PipelineSpec::from_toml(&s.to_toml(), "round-trip").unwrap();
        assert_eq!(back, s);
    }

    #[test]
    fn unknown_keys_and_bad_values_name_the_key() {
        let e = PipelineSpec::from_toml(
            "version = 1\n[[ops]]\nop = \"rotate\"\ndegress = [1, 2]\n",
            "a.toml",
        )
        .unwrap_err()
        .to_string();
        assert!(
            e.contains("degress") && e.contains("a.toml") && e.contains("line"),
            "{e}"
        );
        let e =
            PipelineSpec::from_toml("version = 1\n[[ops]]\nop = \"hflip\"\np = 1.5\n", "b.toml")
                .unwrap_err()
                .to_string();
        assert!(e.contains("ops[0] (hflip)") && e.contains("p = 1.5"), "{e}");
        let e = PipelineSpec::from_toml("version = 2\n", "c.toml")
            .unwrap_err()
            .to_string();
        assert!(e.contains("version"), "{e}");
        let e = PipelineSpec::from_toml(
            "version = 1\n[[ops]]\nop = \"normalize\"\nmean = [0.5]\nstd = [0.0]\n",
            "d.toml",
        )
        .unwrap_err()
        .to_string();
        assert!(e.contains("std"), "{e}");
        let e = PipelineSpec::from_toml("version = 1\nbordr = \"reflect\"\n", "e.toml")
            .unwrap_err()
            .to_string();
        assert!(e.contains("bordr"), "{e}");
    }

    #[test]
    fn stage_order_is_enforced() {
        let e = PipelineSpec::from_toml(
            "version = 1\n[[ops]]\nop = \"gaussian_noise\"\nsigma = [0, 0.1]\n[[ops]]\nop = \"hflip\"\n",
            "f.toml",
        )
        .unwrap_err().to_string();
        assert!(e.contains("ops[1] (hflip)"), "{e}");
    }

    #[test]
    fn random_resized_crop_evaluates_as_its_eval_key_says() {
        let spec = PipelineSpec::imagenet(224, 224, vec![0.5; 3], vec![0.5; 3]);
        spec.validate().unwrap();
        let eval = spec.eval_version();
        assert_eq!(
            eval.ops[0],
            OpSpec::Crop {
                width: 224,
                height: 224,
                position: CropPosition::Named(CropPlace::Center),
                same_on_batch: false
            }
        );
        // The key round-trips through TOML; the default is not written (older specs and
        // configs read and write as before).
        let text = spec.to_toml();
        assert!(text.contains("eval = \"center_crop\""), "{text}");
        assert_eq!(PipelineSpec::from_toml(&text, "t").unwrap(), spec);
        let plain = PipelineSpec::default_colour(32, 32).to_toml();
        assert!(!plain.contains("eval"), "{plain}");
        let parsed = PipelineSpec::from_toml(
            "version = 1\n[[ops]]\nop = \"random_resized_crop\"\nwidth = 8\nheight = 8\n",
            "p",
        )
        .unwrap();
        assert_eq!(
            parsed.eval_version().ops[0],
            OpSpec::Resize {
                width: 8,
                height: 8
            }
        );
        let e = PipelineSpec::from_toml(
            "version = 1\n[[ops]]\nop = \"random_resized_crop\"\nwidth = 8\nheight = 8\neval = \"centre\"\n",
            "p",
        )
        .unwrap_err().to_string();
        assert!(e.contains("centre"), "{e}");
    }

    #[test]
    fn defaults_validate_and_eval_versions_are_deterministic() {
        for s in [
            PipelineSpec::default_gray(),
            PipelineSpec::default_colour(32, 32),
        ] {
            s.validate().unwrap();
            let e = s.eval_version();
            e.validate().unwrap();
            assert!(e.ops.iter().all(|op| matches!(
                op,
                OpSpec::Resize { .. }
                    | OpSpec::Normalize { .. }
                    | OpSpec::Crop { .. }
                    | OpSpec::Pad { .. }
            )));
        }
    }
}
