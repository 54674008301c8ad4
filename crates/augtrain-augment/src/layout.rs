//! The binary layout shared by the CPU twin and `augment.wgsl`: a header of `u32`
//! words describing the batch and the pipeline, and a block of `u32` words per sample holding
//! its drawn parameters (floats stored as their bit patterns).
//!
//! The shader declares the same constants; `shader`'s tests check every one it uses.

/// Header: batch size.
pub const H_N: usize = 0;
/// Header: input height in pixels.
pub const H_IN_H: usize = 1;
/// Header: input width in pixels.
pub const H_IN_W: usize = 2;
/// Header: channels (1..=4).
pub const H_C: usize = 3;
/// Header: output height in pixels.
pub const H_OUT_H: usize = 4;
/// Header: output width in pixels.
pub const H_OUT_W: usize = 5;
/// Header: interpolation, 0 = bilinear, 1 = nearest.
pub const H_INTERP: usize = 6;
/// Header: border, 0 = constant, 1 = replicate, 2 = reflect-101.
pub const H_BORDER: usize = 7;
/// Header: 4 × f32 constant border value per channel, [0, 1].
pub const H_FILL: usize = 8;
/// Header: 4 × f32 normalization scale per channel (1 / std).
pub const H_SCALE: usize = 12;
/// Header: 4 × f32 normalization bias per channel (-mean / std).
pub const H_BIAS: usize = 16;
/// Header: number of colour ops.
pub const H_N_COLOUR: usize = 20;
/// Header: number of noise ops.
pub const H_N_NOISE: usize = 21;
/// Header: number of erase boxes per sample.
pub const H_N_BOXES: usize = 22;
/// Header: words per sample in the parameter block.
pub const H_STRIDE: usize = 23;
/// Header: batch mixing, 0 = none, 1 = mixup, 2 = cutmix.
pub const H_MIX: usize = 24;
/// Header: workgroups along x of the dispatch (GPU only; for the 2-D index).
pub const H_GRID_X: usize = 25;
/// Header: GPU only. 0: sample `s`'s pixels are the `s`-th image of the pixel buffer; 1: the
/// batch gathers from a resident buffer of many images, sample `s` reading image slot
/// `header[HEADER_WORDS + s]` (the slot list follows the header, one word per sample).
pub const H_GATHER: usize = 30;
/// Header: 1 when every sample comes with a `u8` label plane (`in_h × in_w`, 0 = background)
/// and the kernel writes its warped copy (nearest neighbour through the image's map; see
/// [`crate::masks`]); 0 = images only (the mask bindings are then 1-word placeholders).
pub const H_MASK: usize = 31;
/// Header: offset of the colour parameters in a sample's block.
pub const H_OFF_COLOUR: usize = 26;
/// Header: offset of the noise parameters.
pub const H_OFF_NOISE: usize = 27;
/// Header: offset of the erase boxes.
pub const H_OFF_ERASE: usize = 28;
/// Header: offset of the mixing parameters.
pub const H_OFF_MIX: usize = 29;
/// Header: 8 colour op kinds ([`COLOUR_BRIGHTNESS`], ...).
pub const H_COLOUR_KINDS: usize = 32;
/// Header: 8 noise op kinds ([`NOISE_GAUSSIAN`], ...).
pub const H_NOISE_KINDS: usize = 40;
/// Header length in words.
pub const HEADER_WORDS: usize = 48;

/// Sample block: the inverse affine in fixed point, `u = A·x + B·y + C` (index space).
pub const P_AFFINE: usize = 0;
/// Sample block: fractional bits of the fixed-point affine.
pub const P_FRAC: usize = 6;
/// Words of the geometry part of a sample block.
pub const GEOMETRY_WORDS: usize = 7;
/// Words per noise op: strength (f32), key (u32).
pub const NOISE_WORDS: usize = 2;
/// Words per erase box: x0, y0, x1, y1 (output pixels, end exclusive), mode (0 value,
/// 1 random), key, 4 × f32 fill.
pub const BOX_WORDS: usize = 10;
/// Words of the mixing part: partner (batch position), λ (f32), box x0, y0, x1, y1.
pub const MIX_WORDS: usize = 6;

/// Colour op: multiply by the factor.
pub const COLOUR_BRIGHTNESS: u32 = 0;
/// Colour op: scale the distance from 0.5.
pub const COLOUR_CONTRAST: u32 = 1;
/// Colour op: blend with luma.
pub const COLOUR_SATURATION: u32 = 2;
/// Colour op: power.
pub const COLOUR_GAMMA: u32 = 3;
/// Colour op: replace by luma when the parameter is ≥ 0.5.
pub const COLOUR_GRAYSCALE: u32 = 4;

/// Noise op: additive Gaussian, independent per channel.
pub const NOISE_GAUSSIAN: u32 = 0;
/// Noise op: additive Gaussian, one value per pixel.
pub const NOISE_GAUSSIAN_SHARED: u32 = 1;
/// Noise op: salt and pepper.
pub const NOISE_SALT_PEPPER: u32 = 2;
/// Noise op: multiplicative (speckle).
pub const NOISE_SPECKLE: u32 = 3;

/// Luma weights (ITU-R BT.601), used by saturation and grayscale.
pub const LUMA: [f32; 3] = [0.299, 0.587, 0.114];
