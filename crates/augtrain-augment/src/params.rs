//! Drawing per-sample parameters: the host side of the fused kernel.
//!
//! For every sample, each op draws from its own counter-based stream keyed by
//! `(seed, epoch, sample id, op index)` (or by the batch's first id with `same_on_batch`), so
//! the parameters of a sample do not depend on batch size, batch order, threads or device.
//! Geometry ops are composed here into one inverse affine map (output pixel → input pixel,
//! continuous coordinates with pixel centres at +0.5), stored in fixed point so that the CPU
//! twin and the GPU compute bit-identical sampling positions.

use augtrain_data::ImageShape;
use serde::{Deserialize, Serialize};

use super::AugmentError;
use super::crop_windows;
use super::layout::*;
use super::spec::{
    Border, CropPlace, CropPosition, EraseFill, Interpolation, OpSpec, PipelineSpec,
};
use augtrain_data::util::rng::{Domain, Stream};

/// A 2×3 affine map `[a, b, c, d, e, f]`: `x' = a·x + b·y + c`, `y' = d·x + e·y + f`.
pub type Affine = [f64; 6];

const IDENTITY: Affine = [1.0, 0.0, 0.0, 0.0, 1.0, 0.0];

/// `m ∘ t`: apply `t` first, then `m`.
fn compose(m: &Affine, t: &Affine) -> Affine {
    [
        m[0] * t[0] + m[1] * t[3],
        m[0] * t[1] + m[1] * t[4],
        m[0] * t[2] + m[1] * t[5] + m[2],
        m[3] * t[0] + m[4] * t[3],
        m[3] * t[1] + m[4] * t[4],
        m[3] * t[2] + m[4] * t[5] + m[5],
    ]
}

/// The inverse of an affine map (the zero map for a singular one).
pub fn invert(m: &Affine) -> Affine {
    let det = m[0] * m[4] - m[1] * m[3];
    let inv = if det.abs() < 1e-12 { 0.0 } else { 1.0 / det };
    let (a, b, d, e) = (m[4] * inv, -m[1] * inv, -m[3] * inv, m[0] * inv);
    [a, b, -(a * m[2] + b * m[5]), d, e, -(d * m[2] + e * m[5])]
}

/// The map `new → old` of a rotation by `degrees` (counter-clockwise on screen, y down) about
/// the centre of a `w × h` canvas. Matches OpenCV's
/// `getRotationMatrix2D(((w-1)/2, (h-1)/2), degrees, 1)` + `warpAffine`.
pub fn rotation_inverse(degrees: f64, w: f64, h: f64) -> Affine {
    let (s, c) = degrees.to_radians().sin_cos();
    let (cx, cy) = (w / 2.0, h / 2.0);
    // forward: x' = cx + c·dx + s·dy, y' = cy − s·dx + c·dy; inverse is the transpose.
    [c, -s, cx - c * cx + s * cy, s, c, cy - s * cx - c * cy]
}

/// Parameters drawn for one sample, in readable form. Converts exactly to and from the words
/// the kernel reads (floats are stored as `f32`).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct SampleParams {
    /// The composed inverse map, output → input, continuous coordinates (for reading only).
    pub affine: Affine,
    /// The fixed-point form the kernel uses: `[A, B, C, D, E, F]` with
    /// `u = (A·x + B·y + C) / 2^frac` in input index space (x, y output indices).
    pub fixed: [i32; 6],
    /// Fractional bits of `fixed`.
    pub frac_bits: u32,
    /// One parameter per colour op (identity value when the op was not applied).
    pub colour: Vec<f32>,
    /// Per noise op: (strength, key); strength 0 = not applied.
    pub noise: Vec<(f32, u32)>,
    /// Erase boxes: `[x0, y0, x1, y1]` (end exclusive; empty when x0 ≥ x1), mode, key, fill.
    pub boxes: Vec<EraseBox>,
    /// Batch mixing: partner's batch position, λ (own weight) and cutmix box.
    pub mix: Option<MixParams>,
}

/// One erase rectangle.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct EraseBox {
    /// `[x0, y0, x1, y1]` in output pixels, end exclusive.
    pub rect: [u32; 4],
    /// `true`: fill with uniform noise; `false`: with `fill`.
    pub random: bool,
    /// Key of the noise fill.
    pub key: u32,
    /// Fill per channel, [0, 1].
    pub fill: [f32; 4],
}

/// Mixing parameters of one sample.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct MixParams {
    /// Batch position of the partner sample (itself when not mixed).
    pub partner: u32,
    /// Weight of the sample's own image and label, in [0, 1].
    pub lambda: f32,
    /// CutMix box `[x0, y0, x1, y1]` taken from the partner (empty for mixup).
    pub rect: [u32; 4],
}

/// How a pipeline maps onto the kernel for one input shape: kinds of colour and noise ops,
/// the per-sample layout, output size, normalization.
#[derive(Clone, Debug)]
pub struct Program {
    /// The spec this program runs.
    pub spec: PipelineSpec,
    /// The shape of the images going in.
    pub input: ImageShape,
    /// The shape of the images coming out (same channels; geometry ops may resize).
    pub output: ImageShape,
    header: Vec<u32>,
    stride: usize,
    n_colour: usize,
    n_noise: usize,
    n_boxes: usize,
    mix: u32,
}

impl Program {
    /// Compile `spec` for inputs of shape `input`.
    pub fn new(spec: &PipelineSpec, input: ImageShape) -> Result<Self, AugmentError> {
        spec.validate()?;
        let ImageShape {
            width,
            height,
            channels,
        } = input;
        if !(1..=4).contains(&channels) || width == 0 || height == 0 {
            return Err(AugmentError::Shape(format!(
                "images of {width}x{height}x{channels} cannot be augmented (1 to 4 channels, non-empty)"
            )));
        }
        // The kernel and its twin address an image's bytes with 32-bit indices.
        if (width as u64) * (height as u64) * (channels as u64) > u32::MAX as u64 {
            return Err(AugmentError::Shape(format!(
                "images of {width}x{height}x{channels} cannot be augmented (at most 2^32 - 1 bytes per image); resize them first"
            )));
        }
        let fill = per_channel(&spec.fill, channels, "fill", 0.0)?;
        let kinds = OpKinds::of(spec, input)?;
        let stride = kinds.offsets().stride;
        let header = kinds.header(spec, input, fill);
        Ok(Program {
            spec: spec.clone(),
            input,
            output: ImageShape::new(kinds.width as usize, kinds.height as usize, channels),
            header,
            stride,
            n_colour: kinds.colour.len(),
            n_noise: kinds.noise.len(),
            n_boxes: kinds.boxes,
            mix: kinds.mix,
        })
    }

    /// Words per sample in the parameter block.
    pub fn stride(&self) -> usize {
        self.stride
    }

    /// The header for a batch of `n` samples.
    pub fn header(&self, n: usize) -> Vec<u32> {
        let mut h = self.header.clone();
        h[H_N] = n as u32;
        h
    }

    /// Whether the pipeline mixes samples (mixup or cutmix), producing soft targets.
    pub fn mixes(&self) -> bool {
        self.mix > 0
    }

    /// Draw the parameters of every sample of a batch. `ids[i]` is the stable id of the sample
    /// at batch position `i`.
    pub fn draw(&self, seed: u64, epoch: usize, ids: &[u64]) -> Vec<SampleParams> {
        self.draw_with_boxes(seed, epoch, ids, &[])
    }

    /// [`Program::draw`] for samples with annotated boxes: `boxes[i]` holds the boxes of the
    /// sample at batch position `i` as `[x0, y0, x1, y1]` in input pixels (continuous
    /// coordinates; a missing entry means none). Only the detection-aware crops (`iou_crop`,
    /// `safe_crop`) look at them; every other op draws exactly as [`Program::draw`].
    pub fn draw_with_boxes(
        &self,
        seed: u64,
        epoch: usize,
        ids: &[u64],
        boxes: &[Vec<[f64; 4]>],
    ) -> Vec<SampleParams> {
        let n = ids.len();
        let batch_key = ids.first().copied().unwrap_or(0);
        let mut out: Vec<SampleParams> = ids
            .iter()
            .enumerate()
            .map(|(i, &id)| {
                let own = boxes.get(i).map_or(&[][..], Vec::as_slice);
                self.draw_one(seed, epoch, id, batch_key, own)
            })
            .collect();
        if self.mix > 0 {
            let (w, h) = (self.output.width, self.output.height);
            for (i, &id) in ids.iter().enumerate() {
                let mut rng = Stream::new(Domain::Batch, &[seed, epoch as u64, id]);
                let (alpha, p) = match self.spec.ops.last() {
                    Some(OpSpec::Mixup { alpha, p }) | Some(OpSpec::Cutmix { alpha, p }) => {
                        (*alpha, *p)
                    }
                    _ => (1.0, 0.0),
                };
                let apply = rng.bernoulli(p) && n > 1;
                let partner = (i + 1 + rng.below(n.saturating_sub(1) as u64) as usize) % n.max(1);
                let lam = beta(&mut rng, alpha);
                let mut mix = MixParams {
                    partner: i as u32,
                    lambda: 1.0,
                    rect: [0; 4],
                };
                if apply {
                    mix.partner = partner as u32;
                    if self.mix == 1 {
                        mix.lambda = lam as f32;
                    } else {
                        // CutMix box of area (1 - λ), clipped; λ becomes the kept area.
                        let cut = (1.0 - lam).sqrt();
                        let (cw, ch) = ((w as f64 * cut) as i64, (h as f64 * cut) as i64);
                        let cx = rng.below(w as u64) as i64;
                        let cy = rng.below(h as u64) as i64;
                        let x0 = (cx - cw / 2).clamp(0, w as i64) as u32;
                        let x1 = (cx + cw / 2).clamp(0, w as i64) as u32;
                        let y0 = (cy - ch / 2).clamp(0, h as i64) as u32;
                        let y1 = (cy + ch / 2).clamp(0, h as i64) as u32;
                        mix.rect = [x0, y0, x1, y1];
                        let area = (x1 - x0) as f64 * (y1 - y0) as f64;
                        mix.lambda = (1.0 - area / (w as f64 * h as f64)) as f32;
                    }
                }
                out[i].mix = Some(mix);
            }
        }
        out
    }

    fn stream(&self, seed: u64, epoch: usize, id: u64, batch_key: u64, op: usize) -> Stream {
        let key = if self.spec.ops[op].same_on_batch() {
            // One draw per batch: key by the batch, not the sample.
            u64::MAX ^ batch_key
        } else {
            id
        };
        Stream::new(Domain::Augment, &[seed, epoch as u64, key, op as u64])
    }

    fn draw_one(
        &self,
        seed: u64,
        epoch: usize,
        id: u64,
        batch_key: u64,
        objects: &[[f64; 4]],
    ) -> SampleParams {
        let mut draft = Draft {
            objects,
            w: self.input.width as f64,
            h: self.input.height as f64,
            m: IDENTITY,
            colour: Vec::with_capacity(self.n_colour),
            noise: Vec::with_capacity(self.n_noise),
            boxes: Vec::with_capacity(self.n_boxes),
        };
        for (k, op) in self.spec.ops.iter().enumerate() {
            let mut rng = self.stream(seed, epoch, id, batch_key, k);
            let apply = rng.bernoulli(op.probability());
            draft.add(op, &mut rng, apply);
        }
        let (fixed, frac_bits) = to_fixed(&draft.m, self.output.width, self.output.height);
        SampleParams {
            affine: draft.m,
            fixed,
            frac_bits,
            colour: draft.colour,
            noise: draft.noise,
            boxes: draft.boxes,
            mix: None,
        }
    }

    /// Pack drawn parameters into the kernel's per-sample words.
    pub fn pack(&self, params: &[SampleParams]) -> Result<Vec<u32>, AugmentError> {
        let mut words = vec![0u32; params.len() * self.stride];
        for (i, p) in params.iter().enumerate() {
            if p.colour.len() != self.n_colour
                || p.noise.len() != self.n_noise
                || p.boxes.len() != self.n_boxes
                || p.mix.is_some() != (self.mix > 0)
            {
                return Err(AugmentError::Spec(format!(
                    "parameters of sample {i} do not fit this pipeline (were they recorded with another one?)"
                )));
            }
            let b = &mut words[i * self.stride..(i + 1) * self.stride];
            for k in 0..6 {
                b[P_AFFINE + k] = p.fixed[k] as u32;
            }
            b[P_FRAC] = p.frac_bits;
            let oc = GEOMETRY_WORDS;
            for (k, v) in p.colour.iter().enumerate() {
                b[oc + k] = v.to_bits();
            }
            let on = oc + self.n_colour;
            for (k, (s, key)) in p.noise.iter().enumerate() {
                b[on + NOISE_WORDS * k] = s.to_bits();
                b[on + NOISE_WORDS * k + 1] = *key;
            }
            let oe = on + NOISE_WORDS * self.n_noise;
            for (k, e) in p.boxes.iter().enumerate() {
                let o = oe + BOX_WORDS * k;
                b[o..o + 4].copy_from_slice(&e.rect);
                b[o + 4] = e.random as u32;
                b[o + 5] = e.key;
                for c in 0..4 {
                    b[o + 6 + c] = e.fill[c].to_bits();
                }
            }
            if let Some(m) = &p.mix {
                if m.partner as usize >= params.len() {
                    return Err(AugmentError::Spec(format!(
                        "sample {i} mixes with batch position {} but the batch has {} samples",
                        m.partner,
                        params.len()
                    )));
                }
                let om = oe + BOX_WORDS * self.n_boxes;
                b[om] = m.partner;
                b[om + 1] = m.lambda.to_bits();
                b[om + 2..om + 6].copy_from_slice(&m.rect);
            }
        }
        Ok(words)
    }
}

/// One sample's parameters as its ops draw them, in op order. Every op draws from its own
/// stream, and draws its values whether or not it applies (so applying one op never shifts
/// another's draws).
struct Draft<'a> {
    /// The sample's boxes `[x0, y0, x1, y1]` in input pixels (for detection-aware crops).
    objects: &'a [[f64; 4]],
    /// Canvas width after the geometry ops so far, pixels.
    w: f64,
    /// Canvas height after the geometry ops so far, pixels.
    h: f64,
    /// The composed inverse map so far (output → input).
    m: Affine,
    /// One value per colour op.
    colour: Vec<f32>,
    /// (strength, key) per noise op.
    noise: Vec<(f32, u32)>,
    /// Every erase op's boxes.
    boxes: Vec<EraseBox>,
}

impl Draft<'_> {
    /// Draw `op`'s parameters from `rng`; `apply` is its Bernoulli draw.
    fn add(&mut self, op: &OpSpec, rng: &mut Stream, apply: bool) {
        match op {
            OpSpec::Hflip { .. }
            | OpSpec::Vflip { .. }
            | OpSpec::Rotate { .. }
            | OpSpec::Affine { .. } => self.orient(op, rng, apply),
            OpSpec::Crop { .. }
            | OpSpec::RandomResizedCrop { .. }
            | OpSpec::IouCrop { .. }
            | OpSpec::SafeCrop { .. }
            | OpSpec::Resize { .. }
            | OpSpec::Pad { .. } => self.reframe(op, rng),
            OpSpec::Brightness { factor, .. }
            | OpSpec::Contrast { factor, .. }
            | OpSpec::Saturation { factor, .. } => {
                let f = rng.range(factor[0], factor[1]);
                self.colour.push(if apply { f as f32 } else { 1.0 });
            }
            OpSpec::Gamma { gamma, .. } => {
                let g = rng.range(gamma[0], gamma[1]);
                self.colour.push(if apply { g as f32 } else { 1.0 });
            }
            OpSpec::Grayscale { .. } => self.colour.push(if apply { 1.0 } else { 0.0 }),
            OpSpec::GaussianNoise { sigma, .. }
            | OpSpec::Speckle { sigma, .. }
            | OpSpec::SaltPepper { amount: sigma, .. } => {
                let s = rng.range(sigma[0], sigma[1]);
                let key = rng.next_u32();
                self.noise.push((if apply { s as f32 } else { 0.0 }, key));
            }
            OpSpec::Erase {
                count,
                scale,
                ratio,
                fill,
                ..
            } => self.erase(*count, *scale, *ratio, fill, rng, apply),
            OpSpec::Normalize { .. } | OpSpec::Mixup { .. } | OpSpec::Cutmix { .. } => {}
        }
    }

    /// Flips, rotation and affine: the canvas keeps its size.
    fn orient(&mut self, op: &OpSpec, rng: &mut Stream, apply: bool) {
        let (w, h) = (self.w, self.h);
        let map = match op {
            OpSpec::Hflip { .. } => [-1.0, 0.0, w, 0.0, 1.0, 0.0],
            OpSpec::Vflip { .. } => [1.0, 0.0, 0.0, 0.0, -1.0, h],
            OpSpec::Rotate { degrees, .. } => {
                rotation_inverse(rng.range(degrees[0], degrees[1]), w, h)
            }
            OpSpec::Affine {
                degrees,
                scale,
                translate,
                shear,
                ..
            } => affine_inverse(rng, w, h, *degrees, *scale, *translate, *shear),
            _ => return,
        };
        if apply {
            self.m = compose(&self.m, &map);
        }
    }

    /// Crop, random resized crop, resize and pad: the canvas changes size (always applied).
    fn reframe(&mut self, op: &OpSpec, rng: &mut Stream) {
        let (w, h) = (self.w, self.h);
        let (map, size) = match op {
            OpSpec::Crop {
                width: cw,
                height: ch,
                position,
                ..
            } => {
                let (cw, ch) = (*cw as f64, *ch as f64);
                let (x0, y0) = match position {
                    CropPosition::At([x, y]) => (*x as f64, *y as f64),
                    CropPosition::Named(CropPlace::Random) if w >= cw && h >= ch => (
                        rng.below((w - cw) as u64 + 1) as f64,
                        rng.below((h - ch) as u64 + 1) as f64,
                    ),
                    _ => (((w - cw) / 2.0).round(), ((h - ch) / 2.0).round()),
                };
                ([1.0, 0.0, x0, 0.0, 1.0, y0], (cw, ch))
            }
            OpSpec::RandomResizedCrop {
                width: ow,
                height: oh,
                scale,
                ratio,
                ..
            } => {
                let (x0, y0, cw, ch) = rrc_window(rng, w, h, *scale, *ratio);
                let (ow, oh) = (*ow as f64, *oh as f64);
                ([cw / ow, 0.0, x0, 0.0, ch / oh, y0], (ow, oh))
            }
            OpSpec::Resize {
                width: ow,
                height: oh,
            } => {
                let (ow, oh) = (*ow as f64, *oh as f64);
                ([w / ow, 0.0, 0.0, 0.0, h / oh, 0.0], (ow, oh))
            }
            OpSpec::IouCrop { width, height, .. } | OpSpec::SafeCrop { width, height, .. } => {
                let (x0, y0, cw, ch) = self.object_window(op, rng);
                let (ow, oh) = (*width as f64, *height as f64);
                ([cw / ow, 0.0, x0, 0.0, ch / oh, y0], (ow, oh))
            }
            OpSpec::Pad { pixels } => {
                let [l, t, r, b] = pixels.sides().map(|v| v as f64);
                ([1.0, 0.0, -l, 0.0, 1.0, -t], (w + l + r, h + t + b))
            }
            _ => return,
        };
        self.m = compose(&self.m, &map);
        (self.w, self.h) = size;
    }

    /// The window of a detection-aware crop, from the sample's boxes as they lie on the
    /// canvas now (mapped by the geometry so far, clipped to the canvas).
    fn object_window(&self, op: &OpSpec, rng: &mut Stream) -> crop_windows::Window {
        let forward = invert(&self.m);
        let at = |x: f64, y: f64| {
            (
                forward[0] * x + forward[1] * y + forward[2],
                forward[3] * x + forward[4] * y + forward[5],
            )
        };
        let boxes: Vec<[f64; 4]> = self
            .objects
            .iter()
            .map(|b| {
                let pts = [
                    at(b[0], b[1]),
                    at(b[2], b[1]),
                    at(b[0], b[3]),
                    at(b[2], b[3]),
                ];
                let (mut lo, mut hi) = (pts[0], pts[0]);
                for p in pts {
                    lo = (lo.0.min(p.0), lo.1.min(p.1));
                    hi = (hi.0.max(p.0), hi.1.max(p.1));
                }
                [
                    lo.0.clamp(0.0, self.w),
                    lo.1.clamp(0.0, self.h),
                    hi.0.clamp(0.0, self.w),
                    hi.1.clamp(0.0, self.h),
                ]
            })
            .collect();
        match op {
            OpSpec::IouCrop {
                thresholds,
                scale,
                aspect,
                attempts,
                allow_no_crop,
                ..
            } => crop_windows::iou_window(
                rng,
                self.w,
                self.h,
                &boxes,
                &crop_windows::IouCrop {
                    thresholds,
                    scale: *scale,
                    aspect: *aspect,
                    attempts: *attempts,
                    allow_no_crop: *allow_no_crop,
                },
            ),
            OpSpec::SafeCrop {
                scale,
                ratio,
                max_cut,
                attempts,
                ..
            } => crop_windows::safe_window(
                rng,
                self.w,
                self.h,
                &boxes,
                &crop_windows::SafeCrop {
                    scale: *scale,
                    ratio: *ratio,
                    max_cut: *max_cut,
                    attempts: *attempts,
                },
            ),
            _ => (0.0, 0.0, self.w, self.h),
        }
    }

    /// An erase op's `count[1]` boxes (the first `drawn` of them non-empty when applied).
    fn erase(
        &mut self,
        count: [u32; 2],
        scale: [f64; 2],
        ratio: [f64; 2],
        fill: &EraseFill,
        rng: &mut Stream,
        apply: bool,
    ) {
        let drawn = count[0] + rng.below((count[1] - count[0]) as u64 + 1) as u32;
        let (fill, random) = match fill {
            EraseFill::Value(v) => ([*v; 4], false),
            EraseFill::PerChannel(v) if v.len() == 1 => ([v[0]; 4], false),
            EraseFill::PerChannel(v) => {
                let mut f = [0.0; 4];
                f[..v.len().min(4)].copy_from_slice(&v[..v.len().min(4)]);
                (f, false)
            }
            EraseFill::Named(_) => ([0.0; 4], true),
        };
        for b in 0..count[1] {
            let key = rng.next_u32();
            let rect = if apply && b < drawn {
                erase_window(rng, self.w, self.h, scale, ratio)
            } else {
                [0; 4]
            };
            self.boxes.push(EraseBox {
                rect,
                random,
                key,
                fill,
            });
        }
    }
}

/// torchvision's `RandomAffine` on a `w × h` canvas: the inverse of translate · rotate · shear
/// · scale about the centre, with its five values drawn from `rng` in that order (angle, scale,
/// translation x and y, shear).
fn affine_inverse(
    rng: &mut Stream,
    w: f64,
    h: f64,
    degrees: [f64; 2],
    scale: [f64; 2],
    translate: [f64; 2],
    shear: [f64; 2],
) -> Affine {
    let angle = rng.range(degrees[0], degrees[1]).to_radians();
    let s = rng.range(scale[0], scale[1]);
    let tx = rng.range(-translate[0], translate[0]) * w;
    let ty = rng.range(-translate[1], translate[1]) * h;
    let sh = rng.range(shear[0], shear[1]).to_radians().tan();
    let (sn, cs) = angle.sin_cos();
    // L = R · Sh · S with R counter-clockwise on screen (y down).
    let (l00, l01) = (cs * s, (cs * sh + sn) * s);
    let (l10, l11) = (-sn * s, (-sn * sh + cs) * s);
    let (cx, cy) = (w / 2.0, h / 2.0);
    let forward = [
        l00,
        l01,
        cx + tx - l00 * cx - l01 * cy,
        l10,
        l11,
        cy + ty - l10 * cx - l11 * cy,
    ];
    invert(&forward)
}

/// A per-channel setting (`fill`, normalize mean or std) as four values: none given →
/// `default`, one → repeated, one per channel → as given; any other count is an error.
fn per_channel(
    v: &[f32],
    channels: usize,
    what: &str,
    default: f32,
) -> Result<[f32; 4], AugmentError> {
    let mut out = [default; 4];
    match v.len() {
        0 => {}
        1 => out = [v[0]; 4],
        n if n == channels => out[..n].copy_from_slice(v),
        n => {
            return Err(AugmentError::Spec(format!(
                "{what} has {n} values but the images have {channels} channels; give one value or {channels}"
            )));
        }
    }
    Ok(out)
}

/// What a pipeline asks of the kernel for one input shape: the output size after the
/// geometry ops, the kinds of colour and noise ops in order, the erase boxes, normalization
/// and batch mixing.
struct OpKinds {
    /// Output width, pixels.
    width: u64,
    /// Output height, pixels.
    height: u64,
    /// `COLOUR_*` kind per colour op.
    colour: Vec<u32>,
    /// `NOISE_*` kind per noise op.
    noise: Vec<u32>,
    /// Erase boxes (the sum of every erase op's largest count).
    boxes: usize,
    /// Normalization `v · scale + bias` per channel.
    scale: [f32; 4],
    /// See `scale`.
    bias: [f32; 4],
    /// 0 none, 1 mixup, 2 cutmix.
    mix: u32,
}

/// Where each part of a sample's parameter block starts, in words, and its length.
struct Offsets {
    colour: usize,
    noise: usize,
    erase: usize,
    mix: usize,
    stride: usize,
}

impl OpKinds {
    /// Walk `spec`'s ops for inputs of shape `input`.
    fn of(spec: &PipelineSpec, input: ImageShape) -> Result<Self, AugmentError> {
        let channels = input.channels;
        let mut k = OpKinds {
            width: input.width as u64,
            height: input.height as u64,
            colour: Vec::new(),
            noise: Vec::new(),
            boxes: 0,
            scale: [1.0; 4],
            bias: [0.0; 4],
            mix: 0,
        };
        for op in &spec.ops {
            match op {
                OpSpec::Crop { width, height, .. }
                | OpSpec::RandomResizedCrop { width, height, .. }
                | OpSpec::IouCrop { width, height, .. }
                | OpSpec::SafeCrop { width, height, .. }
                | OpSpec::Resize { width, height } => {
                    (k.width, k.height) = (*width as u64, *height as u64);
                }
                OpSpec::Pad { pixels } => {
                    let [l, t, r, b] = pixels.sides();
                    k.width += l as u64 + r as u64;
                    k.height += t as u64 + b as u64;
                }
                OpSpec::Brightness { .. } => k.colour.push(COLOUR_BRIGHTNESS),
                OpSpec::Contrast { .. } => k.colour.push(COLOUR_CONTRAST),
                OpSpec::Saturation { .. } => k.colour.push(COLOUR_SATURATION),
                OpSpec::Gamma { .. } => k.colour.push(COLOUR_GAMMA),
                OpSpec::Grayscale { .. } => k.colour.push(COLOUR_GRAYSCALE),
                OpSpec::GaussianNoise { per_channel, .. } => k.noise.push(if *per_channel {
                    NOISE_GAUSSIAN
                } else {
                    NOISE_GAUSSIAN_SHARED
                }),
                OpSpec::SaltPepper { .. } => k.noise.push(NOISE_SALT_PEPPER),
                OpSpec::Speckle { .. } => k.noise.push(NOISE_SPECKLE),
                OpSpec::Erase { count, fill, .. } => {
                    k.boxes += count[1] as usize;
                    if let EraseFill::PerChannel(v) = fill
                        && v.len() != 1
                        && v.len() != channels
                    {
                        return Err(AugmentError::Spec(format!(
                            "erase fill has {} values but the images have {channels} channels",
                            v.len()
                        )));
                    }
                }
                OpSpec::Normalize { mean, std } => {
                    let m = per_channel(mean, channels, "normalize mean", 0.0)?;
                    let s = per_channel(std, channels, "normalize std", 1.0)?;
                    for c in 0..4 {
                        k.scale[c] = 1.0 / s[c];
                        k.bias[c] = -m[c] / s[c];
                    }
                }
                OpSpec::Mixup { .. } => k.mix = 1,
                OpSpec::Cutmix { .. } => k.mix = 2,
                OpSpec::Hflip { .. }
                | OpSpec::Vflip { .. }
                | OpSpec::Rotate { .. }
                | OpSpec::Affine { .. } => {}
            }
            k.check_size(op)?;
        }
        Ok(k)
    }

    /// The canvas after `op` must have sides in `1..=MAX_SIDE`.
    fn check_size(&self, op: &OpSpec) -> Result<(), AugmentError> {
        let (w, h) = (self.width, self.height);
        let max = super::spec::MAX_SIDE as u64;
        if w == 0 || h == 0 || w > max || h > max {
            return Err(AugmentError::Spec(format!(
                "{} makes the image {w}x{h}; sides must be in 1..={}",
                op.name(),
                super::spec::MAX_SIDE
            )));
        }
        Ok(())
    }

    /// The per-sample block layout: geometry, colour, noise, erase boxes, mixing.
    fn offsets(&self) -> Offsets {
        let colour = GEOMETRY_WORDS;
        let noise = colour + self.colour.len();
        let erase = noise + NOISE_WORDS * self.noise.len();
        let mix = erase + BOX_WORDS * self.boxes;
        let stride = mix + if self.mix > 0 { MIX_WORDS } else { 0 };
        Offsets {
            colour,
            noise,
            erase,
            mix,
            stride,
        }
    }

    /// The kernel's header words (the batch size `H_N` left 0).
    fn header(&self, spec: &PipelineSpec, input: ImageShape, fill: [f32; 4]) -> Vec<u32> {
        let (n_colour, n_noise) = (self.colour.len(), self.noise.len());
        let off = self.offsets();
        let mut header = vec![0u32; HEADER_WORDS];
        header[H_IN_H] = input.height as u32;
        header[H_IN_W] = input.width as u32;
        header[H_C] = input.channels as u32;
        header[H_OUT_H] = self.height as u32;
        header[H_OUT_W] = self.width as u32;
        header[H_INTERP] = match spec.interpolation {
            Interpolation::Bilinear => 0,
            Interpolation::Nearest => 1,
        };
        header[H_BORDER] = match spec.border {
            Border::Constant => 0,
            Border::Replicate => 1,
            Border::Reflect => 2,
        };
        for c in 0..4 {
            header[H_FILL + c] = fill[c].to_bits();
            header[H_SCALE + c] = self.scale[c].to_bits();
            header[H_BIAS + c] = self.bias[c].to_bits();
        }
        header[H_N_COLOUR] = n_colour as u32;
        header[H_N_NOISE] = n_noise as u32;
        header[H_N_BOXES] = self.boxes as u32;
        header[H_STRIDE] = off.stride as u32;
        header[H_MIX] = self.mix;
        header[H_OFF_COLOUR] = off.colour as u32;
        header[H_OFF_NOISE] = off.noise as u32;
        header[H_OFF_ERASE] = off.erase as u32;
        header[H_OFF_MIX] = off.mix as u32;
        header[H_COLOUR_KINDS..H_COLOUR_KINDS + n_colour].copy_from_slice(&self.colour);
        header[H_NOISE_KINDS..H_NOISE_KINDS + n_noise].copy_from_slice(&self.noise);
        header
    }
}

/// Convert the output→input map to fixed point in index space, choosing the most fractional
/// bits (≤ 16) for which every coordinate of the output grid fits in an `i32`.
fn to_fixed(m: &Affine, out_w: usize, out_h: usize) -> ([i32; 6], u32) {
    // Index space: u = m0·(x+½) + m1·(y+½) + m2 − ½ for integer output indices x, y.
    let (a, b, c) = (m[0], m[1], 0.5 * (m[0] + m[1]) + m[2] - 0.5);
    let (d, e, f) = (m[3], m[4], 0.5 * (m[3] + m[4]) + m[5] - 0.5);
    let corners = [
        (0.0, 0.0),
        (out_w as f64 - 1.0, 0.0),
        (0.0, out_h as f64 - 1.0),
        (out_w as f64 - 1.0, out_h as f64 - 1.0),
    ];
    let mut extent: f64 = 1.0;
    for (x, y) in corners {
        extent = extent
            .max((a * x + b * y + c).abs())
            .max((d * x + e * y + f).abs());
        extent = extent.max(a.abs()).max(b.abs()).max(d.abs()).max(e.abs());
    }
    let bits_int = (extent + 2.0).log2().ceil() as i32 + 1;
    let frac = (30 - bits_int).clamp(1, 16) as u32;
    let q = |v: f64| -> i32 {
        let s = (v * (1u64 << frac) as f64).round();
        s.clamp(i32::MIN as f64, i32::MAX as f64) as i32
    };
    ([q(a), q(b), q(c), q(d), q(e), q(f)], frac)
}

/// torchvision's `RandomResizedCrop.get_params`: (x0, y0, w, h) of the crop window.
fn rrc_window(
    rng: &mut Stream,
    w: f64,
    h: f64,
    scale: [f64; 2],
    ratio: [f64; 2],
) -> (f64, f64, f64, f64) {
    let area = w * h;
    let (lr0, lr1) = (ratio[0].ln(), ratio[1].ln());
    for _ in 0..10 {
        let target = area * rng.range(scale[0], scale[1]);
        let aspect = rng.range(lr0, lr1).exp();
        let cw = (target * aspect).sqrt().round();
        let ch = (target / aspect).sqrt().round();
        if cw > 0.0 && cw <= w && ch > 0.0 && ch <= h {
            let x0 = rng.below((w - cw) as u64 + 1) as f64;
            let y0 = rng.below((h - ch) as u64 + 1) as f64;
            return (x0, y0, cw, ch);
        }
    }
    // Fallback: central crop with the ratio clamped into range.
    let in_ratio = w / h;
    let (cw, ch) = if in_ratio < ratio[0] {
        (w, (w / ratio[0]).round())
    } else if in_ratio > ratio[1] {
        ((h * ratio[1]).round(), h)
    } else {
        (w, h)
    };
    (((w - cw) / 2.0).floor(), ((h - ch) / 2.0).floor(), cw, ch)
}

/// torchvision's `RandomErasing.get_params`: a box `[x0, y0, x1, y1]`, empty after 10 failed
/// attempts.
fn erase_window(rng: &mut Stream, w: f64, h: f64, scale: [f64; 2], ratio: [f64; 2]) -> [u32; 4] {
    let area = w * h;
    let (lr0, lr1) = (ratio[0].ln(), ratio[1].ln());
    for _ in 0..10 {
        let target = area * rng.range(scale[0], scale[1]);
        let aspect = rng.range(lr0, lr1).exp();
        let eh = (target * aspect).sqrt().round();
        let ew = (target / aspect).sqrt().round();
        if eh >= 1.0 && ew >= 1.0 && eh < h && ew < w {
            let y0 = rng.below((h - eh) as u64 + 1) as u32;
            let x0 = rng.below((w - ew) as u64 + 1) as u32;
            return [x0, y0, x0 + ew as u32, y0 + eh as u32];
        }
    }
    [0; 4]
}

/// A Gamma(shape, 1) draw (Marsaglia–Tsang, with the shape < 1 boost).
fn gamma(rng: &mut Stream, shape: f64) -> f64 {
    if shape < 1.0 {
        let u = 1.0 - rng.uniform();
        return gamma(rng, shape + 1.0) * u.powf(1.0 / shape);
    }
    let d = shape - 1.0 / 3.0;
    let c = 1.0 / (9.0 * d).sqrt();
    loop {
        let x = rng.normal();
        let v = (1.0 + c * x).powi(3);
        if v <= 0.0 {
            continue;
        }
        let u = 1.0 - rng.uniform();
        if u.ln() < 0.5 * x * x + d - d * v + d * v.ln() {
            return d * v;
        }
    }
}

/// A Beta(α, α) draw.
fn beta(rng: &mut Stream, alpha: f64) -> f64 {
    let x = gamma(rng, alpha);
    let y = gamma(rng, alpha);
    if x + y == 0.0 { 0.5 } else { x / (x + y) }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn apply(m: &Affine, x: f64, y: f64) -> (f64, f64) {
        (m[0] * x + m[1] * y + m[2], m[3] * x + m[4] * y + m[5])
    }

    #[test]
    fn images_over_32_bit_byte_indices_are_refused() {
        let spec = crate::spec::PipelineSpec::from_toml("version = 1\n", "t").unwrap();
        let at = |w: usize, h: usize| Program::new(&spec, ImageShape::new(w, h, 3));
        // 37,838 x 37,838 x 3 = 4,295,142,732 bytes, just over u32::MAX.
        let Err(err) = at(37_838, 37_838) else {
            panic!("a 37,838 x 37,838 RGB image was accepted")
        };
        assert!(err.to_string().contains("2^32"), "{err}");
        assert!(at(37_837, 37_837).is_ok());
    }

    #[test]
    fn rotation_is_counter_clockwise_on_screen() {
        // Output pixel to the right of the centre must read from below the centre in the
        // source when rotating counter-clockwise by 90° (the source's bottom goes right).
        let m = rotation_inverse(90.0, 10.0, 10.0);
        let (x, y) = apply(&m, 8.0, 5.0);
        assert!(
            (x - 5.0).abs() < 1e-12 && (y - 8.0).abs() < 1e-12,
            "{x} {y}"
        );
        // A source point right of centre ends up above the centre.
        let fwd = invert(&m);
        let (x, y) = apply(&fwd, 8.0, 5.0);
        assert!(
            (x - 5.0).abs() < 1e-12 && (y - 2.0).abs() < 1e-12,
            "{x} {y}"
        );
    }

    #[test]
    fn compose_and_invert_are_consistent() {
        let a = rotation_inverse(33.0, 17.0, 9.0);
        let b = [2.0, 0.0, 1.0, 0.0, 0.5, -3.0];
        let ab = compose(&a, &b);
        let (x1, y1) = apply(&ab, 1.5, 2.5);
        let (bx, by) = apply(&b, 1.5, 2.5);
        let (x2, y2) = apply(&a, bx, by);
        assert!((x1 - x2).abs() < 1e-12 && (y1 - y2).abs() < 1e-12);
        let id = compose(&ab, &invert(&ab));
        for (u, v) in id.iter().zip(IDENTITY.iter()) {
            assert!((u - v).abs() < 1e-9);
        }
    }

    #[test]
    fn fixed_point_of_identity_is_exact() {
        let (f, frac) = to_fixed(&IDENTITY, 28, 28);
        assert_eq!(f, [1 << frac, 0, 0, 0, 1 << frac, 0]);
    }

    #[test]
    fn draws_do_not_depend_on_batch_composition() {
        let spec = PipelineSpec::default_colour(16, 16);
        let prog = Program::new(&spec, ImageShape::new(20, 20, 3)).unwrap();
        let all = prog.draw(5, 2, &[10, 11, 12, 13]);
        let part = prog.draw(5, 2, &[12, 13]);
        assert_eq!(all[2], part[0]);
        assert_eq!(all[3], part[1]);
        let other_epoch = prog.draw(5, 3, &[12]);
        assert_ne!(other_epoch[0], part[0]);
    }

    #[test]
    fn beta_draws_are_in_unit_interval_with_right_mean() {
        let mut rng = Stream::new(Domain::Batch, &[1]);
        let xs: Vec<f64> = (0..20_000).map(|_| beta(&mut rng, 0.4)).collect();
        assert!(xs.iter().all(|x| (0.0..=1.0).contains(x)));
        let mean = xs.iter().sum::<f64>() / xs.len() as f64;
        assert!((mean - 0.5).abs() < 0.02, "{mean}");
    }

    fn detection_spec(op: &str) -> PipelineSpec {
        PipelineSpec::from_toml(
            &format!("version = 1\n[[ops]]\nop = \"hflip\"\n[[ops]]\n{op}\n"),
            "t",
        )
        .unwrap()
    }

    /// Input pixels of box `b` seen through a sample's output → input map: the output
    /// window it covers is where the crop put it.
    fn box_in_output(p: &SampleParams, b: [f64; 4]) -> [f64; 4] {
        let f = invert(&p.affine);
        let (x0, y0) = apply(&f, b[0], b[1]);
        let (x1, y1) = apply(&f, b[2], b[3]);
        [x0.min(x1), y0.min(y1), x0.max(x1), y0.max(y1)]
    }

    #[test]
    fn detection_crops_keep_an_object_and_replay() {
        let spec =
            detection_spec("op = \"iou_crop\"\nwidth = 32\nheight = 32\nallow_no_crop = false");
        let prog = Program::new(&spec, ImageShape::new(100, 80, 3)).unwrap();
        let boxes = vec![
            vec![[10.0, 10.0, 30.0, 40.0]],
            vec![[60.0, 50.0, 90.0, 70.0]],
        ];
        let mut cropped = 0;
        for epoch in 0..50 {
            let params = prog.draw_with_boxes(3, epoch, &[7, 8], &boxes);
            for (p, b) in params.iter().zip(&boxes) {
                let o = box_in_output(p, b[0]);
                let (mx, my) = ((o[0] + o[2]) / 2.0, (o[1] + o[3]) / 2.0);
                assert!(
                    (0.0..=32.0).contains(&mx) && (0.0..=32.0).contains(&my),
                    "{o:?}"
                );
                cropped += usize::from(p.affine[0] < 100.0 / 32.0 - 1e-9);
            }
            // Same seed, same result; and a sample's draw does not depend on its batch.
            let alone = prog.draw_with_boxes(3, epoch, &[8], &boxes[1..]);
            assert_eq!(alone[0], params[1]);
        }
        assert!(cropped > 50, "only {cropped} of 100 samples were cropped");
        // Without boxes: the whole canvas, deterministically.
        let bare = prog.draw(3, 0, &[7]);
        assert_eq!(bare, prog.draw(3, 0, &[7]));
        assert!((bare[0].affine[0].abs() - 100.0 / 32.0).abs() < 1e-12);
    }

    #[test]
    fn safe_crops_resize_to_their_output() {
        let spec = detection_spec("op = \"safe_crop\"\nwidth = 24\nheight = 16\nmax_cut = 0.2");
        let prog = Program::new(&spec, ImageShape::new(100, 80, 3)).unwrap();
        assert_eq!((prog.output.width, prog.output.height), (24, 16));
        let eval = spec.eval_version();
        assert_eq!(
            eval.ops,
            vec![OpSpec::Resize {
                width: 24,
                height: 16
            }]
        );
    }

    #[test]
    fn detection_crop_and_target_settings_are_validated() {
        for (text, key) in [
            (
                "[[ops]]\nop = \"iou_crop\"\nwidth = 8\nheight = 8\nthresholds = [1.5]",
                "thresholds",
            ),
            (
                "[[ops]]\nop = \"iou_crop\"\nwidth = 8\nheight = 8\nattempts = 0",
                "attempts",
            ),
            (
                "[[ops]]\nop = \"safe_crop\"\nwidth = 8\nheight = 8\nmax_cut = 1.0",
                "max_cut",
            ),
            ("[targets]\nmin_visibility = 2.0", "min_visibility"),
            ("[targets]\nmin_area = -1.0", "min_area"),
            ("[targets]\nbox_rotation = \"circle\"", "circle"),
            ("[targets]\nmin_visiblity = 0.5", "min_visiblity"),
        ] {
            let e = PipelineSpec::from_toml(&format!("version = 1\n{text}\n"), "p.toml")
                .unwrap_err()
                .to_string();
            assert!(e.contains(key) && e.contains("p.toml"), "{e}");
        }
        let ok = PipelineSpec::from_toml(
            "version = 1\n[targets]\nbox_rotation = \"ellipse\"\nmin_visibility = 0.3\n",
            "p.toml",
        )
        .unwrap();
        let back = PipelineSpec::from_toml(&ok.to_toml(), "again").unwrap();
        assert_eq!(back, ok);
    }

    #[test]
    fn output_size_follows_geometry() {
        let spec = PipelineSpec::from_toml(
            "version = 1\n[[ops]]\nop = \"pad\"\npixels = 4\n[[ops]]\nop = \"crop\"\nwidth = 30\nheight = 20\nposition = \"random\"\n",
            "t",
        )
        .unwrap();
        let prog = Program::new(&spec, ImageShape::new(32, 32, 3)).unwrap();
        assert_eq!((prog.output.width, prog.output.height), (30, 20));
    }
}
