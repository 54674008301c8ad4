//! The CPU twin of `augment.wgsl`: the same maths on the same header and parameter
//! words, multi-threaded over (sample, output row), with no per-pixel allocation.
//!
//! It is the reference in tests (the GPU must match it within 1/255 before normalization) and
//! the augmentation path on CPU devices. Every per-value operation is written in the same order
//! as in the shader; the only differences come from fused multiply-adds and transcendental
//! functions on the GPU.

use rayon::prelude::*;

use super::fastmath::{gaussian, gaussians};
use super::layout::*;
use augtrain_data::util::rng::{pixel_hash, unit_f32};

const INV_255: f32 = 1.0 / 255.0;

/// The header decoded once per batch.
struct Batch<'a> {
    ih: i32,
    iw: i32,
    c: usize,
    ow: usize,
    nearest: bool,
    border: u32,
    fill255: [f32; 4],
    scale: [f32; 4],
    bias: [f32; 4],
    colour_kinds: [u32; 8],
    noise_kinds: [u32; 8],
    n_colour: usize,
    n_noise: usize,
    n_boxes: usize,
    stride: usize,
    mix: u32,
    off_colour: usize,
    off_noise: usize,
    off_erase: usize,
    off_mix: usize,
    params: &'a [u32],
    images: &'a [&'a [u8]],
}

/// Reflect-101 an index into `0..n` (`dcb|abcd|cba`).
#[inline(always)]
pub(crate) fn reflect101(mut i: i32, n: i32) -> i32 {
    if n == 1 {
        return 0;
    }
    let period = 2 * n - 2;
    i = i.rem_euclid(period);
    if i >= n { period - i } else { i }
}

impl Batch<'_> {
    #[inline(always)]
    fn word(&self, s: usize, k: usize) -> u32 {
        self.params[s * self.stride + k]
    }

    #[inline(always)]
    fn fword(&self, s: usize, k: usize) -> f32 {
        f32::from_bits(self.word(s, k))
    }

    /// Source value of channel `ch` at integer pixel (x, y) with the border rule, on the
    /// 0..=255 scale (the constant fill is stored scaled up).
    #[inline(always)]
    fn texel(&self, img: &[u8], x: i32, y: i32, ch: usize) -> f32 {
        let (x, y) = if x >= 0 && x < self.iw && y >= 0 && y < self.ih {
            (x, y)
        } else {
            match self.border {
                0 => return self.fill255[ch],
                1 => (x.clamp(0, self.iw - 1), y.clamp(0, self.ih - 1)),
                _ => (reflect101(x, self.iw), reflect101(y, self.ih)),
            }
        };
        img[(y as usize * self.iw as usize + x as usize) * self.c + ch] as f32
    }

    /// Gather one output row of sample `s` into `row`, planar (`c` planes of `ow` values),
    /// in [0, 1].
    #[inline(always)]
    fn gather_row(&self, s: usize, yo: usize, row: &mut [f32]) {
        match self.c {
            1 => self.gather_row_c::<1>(s, yo, row),
            2 => self.gather_row_c::<2>(s, yo, row),
            3 => self.gather_row_c::<3>(s, yo, row),
            _ => self.gather_row_c::<4>(s, yo, row),
        }
    }

    /// Bilinear sample of every channel at one pixel, through the border rule.
    #[inline(always)]
    fn bilinear_slow<const C: usize>(
        &self,
        img: &[u8],
        x0: i32,
        y0: i32,
        fx: f32,
        fy: f32,
    ) -> [f32; C] {
        std::array::from_fn(|ch| {
            let p00 = self.texel(img, x0, y0, ch);
            let p01 = self.texel(img, x0 + 1, y0, ch);
            let p10 = self.texel(img, x0, y0 + 1, ch);
            let p11 = self.texel(img, x0 + 1, y0 + 1, ch);
            let top = p00 + (p01 - p00) * fx;
            let bot = p10 + (p11 - p10) * fx;
            (top + (bot - top) * fy) * INV_255
        })
    }

    /// [`Self::gather_row`] for `C` channels.
    ///
    /// Bilinear: lerp on the 0..=255 scale, then one multiply by 1/255 (as the shader does),
    /// 16 pixels at a time (one AVX-512 or two AVX2 vectors) so the arithmetic vectorizes.
    /// When the map has no fractional part (identity, flips, integer crops and pads) every
    /// weight is zero and the result is exactly the top-left tap, so that tap is read alone.
    #[inline(always)]
    fn gather_row_c<const C: usize>(&self, s: usize, yo: usize, row: &mut [f32]) {
        const L: usize = 16;
        let ow = self.ow;
        let img = self.images[s];
        let a = self.word(s, P_AFFINE) as i32;
        let b = self.word(s, P_AFFINE + 1) as i32;
        let cc = self.word(s, P_AFFINE + 2) as i32;
        let d = self.word(s, P_AFFINE + 3) as i32;
        let e = self.word(s, P_AFFINE + 4) as i32;
        let f = self.word(s, P_AFFINE + 5) as i32;
        let frac = self.word(s, P_FRAC);
        let mask = ((1u32 << frac) - 1) as i32;
        let inv = 1.0 / (1u32 << frac) as f32;
        let y = yo as i32;
        let u_row = b.wrapping_mul(y).wrapping_add(cc);
        let v_row = e.wrapping_mul(y).wrapping_add(f);
        let (iw, ih) = (self.iw, self.ih);
        let aligned = [a, b, cc, d, e, f].iter().all(|w| w & mask == 0);
        if self.nearest || aligned {
            let half = if self.nearest { 1i32 << (frac - 1) } else { 0 };
            self.gather_row_top_left::<C>(img, (u_row, v_row), (a, d), frac, half, row);
            return;
        }
        let down = iw as usize * C;
        let blocks = ow / L;
        for blk in 0..=blocks {
            let start = blk * L;
            let lanes = if blk == blocks { ow - start } else { L };
            if lanes == 0 {
                break;
            }
            // Fixed-point coordinates of the block's pixels (exactly the incremental sums).
            let xs: [i32; L] = std::array::from_fn(|l| (start + l) as i32);
            let u: [i32; L] = std::array::from_fn(|l| a.wrapping_mul(xs[l]).wrapping_add(u_row));
            let v: [i32; L] = std::array::from_fn(|l| d.wrapping_mul(xs[l]).wrapping_add(v_row));
            let x0: [i32; L] = std::array::from_fn(|l| u[l] >> frac);
            let y0: [i32; L] = std::array::from_fn(|l| v[l] >> frac);
            let fx: [f32; L] = std::array::from_fn(|l| (u[l] & mask) as f32 * inv);
            let fy: [f32; L] = std::array::from_fn(|l| (v[l] & mask) as f32 * inv);
            // Taps of in-bounds lanes as little-endian 32-bit words (channel `ch` in byte `ch`),
            // one load each; lanes touching the border, or whose last 4-byte read would pass the
            // end of the image, are redone below.
            let mut taps = [[0u32; L]; 4];
            let mut slow = [false; L];
            for l in 0..L {
                if l >= lanes || !(x0[l] >= 0 && y0[l] >= 0 && x0[l] + 1 < iw && y0[l] + 1 < ih) {
                    slow[l] = l < lanes;
                    continue;
                }
                let base = (y0[l] as usize * iw as usize + x0[l] as usize) * C;
                if base + down + C + 4 > img.len() {
                    slow[l] = true;
                    continue;
                }
                // SAFETY: every read starts at or before base + down + C and the check above
                // keeps that read's 4 bytes inside `img`.
                let word = |o: usize| {
                    unsafe { img.as_ptr().add(o).cast::<u32>().read_unaligned() }.to_le()
                };
                taps[0][l] = word(base);
                taps[1][l] = word(base + C);
                taps[2][l] = word(base + down);
                taps[3][l] = word(base + down + C);
            }
            for ch in 0..C {
                let shift = 8 * ch as u32;
                let tap = |k: usize, l: usize| ((taps[k][l] >> shift) & 0xff) as f32;
                let mut out = [0f32; L];
                for l in 0..L {
                    let (p00, p01, p10, p11) = (tap(0, l), tap(1, l), tap(2, l), tap(3, l));
                    let top = p00 + (p01 - p00) * fx[l];
                    let bot = p10 + (p11 - p10) * fx[l];
                    out[l] = (top + (bot - top) * fy[l]) * INV_255;
                }
                row[ch * ow + start..ch * ow + start + lanes].copy_from_slice(&out[..lanes]);
            }
            for l in 0..lanes {
                if slow[l] {
                    let vals = self.bilinear_slow::<C>(img, x0[l], y0[l], fx[l], fy[l]);
                    for ch in 0..C {
                        row[ch * ow + start + l] = vals[ch];
                    }
                }
            }
        }
    }

    /// One row where every sample is one source texel: the nearest texel (`half` = one half in
    /// fixed point) or, for maps without a fractional part (`half` = 0), the exact top-left tap.
    /// `(u, v)`: the row's first fixed-point source coordinates; `(a, d)`: their step per pixel.
    #[inline(always)]
    fn gather_row_top_left<const C: usize>(
        &self,
        img: &[u8],
        (mut u, mut v): (i32, i32),
        (a, d): (i32, i32),
        frac: u32,
        half: i32,
        row: &mut [f32],
    ) {
        let (ow, iw, ih) = (self.ow, self.iw, self.ih);
        for x in 0..ow {
            let x0 = u.wrapping_add(half) >> frac;
            let y0 = v.wrapping_add(half) >> frac;
            if x0 >= 0 && y0 >= 0 && x0 < iw && y0 < ih {
                let base = (y0 as usize * iw as usize + x0 as usize) * C;
                let tap: &[u8; C] = img[base..base + C].try_into().expect("C bytes");
                for ch in 0..C {
                    row[ch * ow + x] = tap[ch] as f32 * INV_255;
                }
            } else {
                for ch in 0..C {
                    row[ch * ow + x] = self.texel(img, x0, y0, ch) * INV_255;
                }
            }
            u = u.wrapping_add(a);
            v = v.wrapping_add(d);
        }
    }

    /// Colour ops, in pipeline order, on a planar row.
    #[inline(always)]
    fn colour_row(&self, s: usize, row: &mut [f32]) {
        let (c, ow) = (self.c, self.ow);
        for k in 0..self.n_colour {
            let f = self.fword(s, self.off_colour + k);
            match self.colour_kinds[k] {
                COLOUR_BRIGHTNESS if f != 1.0 => {
                    for v in row.iter_mut() {
                        *v = (*v * f).clamp(0.0, 1.0);
                    }
                }
                COLOUR_CONTRAST if f != 1.0 => {
                    for v in row.iter_mut() {
                        *v = ((*v - 0.5) * f + 0.5).clamp(0.0, 1.0);
                    }
                }
                COLOUR_SATURATION if f != 1.0 && c >= 3 => {
                    let (r, rest) = row.split_at_mut(ow);
                    let (g, rest) = rest.split_at_mut(ow);
                    let bl = &mut rest[..ow];
                    for x in 0..ow {
                        let luma = LUMA[0] * r[x] + LUMA[1] * g[x] + LUMA[2] * bl[x];
                        r[x] = (luma + (r[x] - luma) * f).clamp(0.0, 1.0);
                        g[x] = (luma + (g[x] - luma) * f).clamp(0.0, 1.0);
                        bl[x] = (luma + (bl[x] - luma) * f).clamp(0.0, 1.0);
                    }
                }
                COLOUR_GAMMA if f != 1.0 => {
                    for v in row.iter_mut() {
                        // As the shader's safe_pow: 0 stays 0 (no pow of 0 under fast math).
                        *v = if *v <= 0.0 { 0.0 } else { v.max(1e-30).powf(f) };
                    }
                }
                COLOUR_GRAYSCALE if f >= 0.5 && c >= 3 => {
                    let (r, rest) = row.split_at_mut(ow);
                    let (g, rest) = rest.split_at_mut(ow);
                    let bl = &mut rest[..ow];
                    for x in 0..ow {
                        let luma = LUMA[0] * r[x] + LUMA[1] * g[x] + LUMA[2] * bl[x];
                        r[x] = luma;
                        g[x] = luma;
                        bl[x] = luma;
                    }
                }
                _ => {}
            }
        }
    }

    /// Noise ops, in pipeline order, on planar row `yo`. Value index of (pixel, channel) is
    /// `pixel · c + channel`, as in the shader.
    #[inline(always)]
    fn noise_row(&self, s: usize, yo: usize, row: &mut [f32]) {
        let (c, ow) = (self.c, self.ow);
        let first = (yo * ow) as u32;
        for k in 0..self.n_noise {
            let strength = self.fword(s, self.off_noise + NOISE_WORDS * k);
            if strength == 0.0 {
                continue;
            }
            let key = self.word(s, self.off_noise + NOISE_WORDS * k + 1);
            match self.noise_kinds[k] {
                NOISE_GAUSSIAN | NOISE_SPECKLE => {
                    let speckle = self.noise_kinds[k] == NOISE_SPECKLE;
                    gaussian_noise_row(key, strength, speckle, first, c, ow, row);
                }
                NOISE_GAUSSIAN_SHARED => {
                    for x in 0..ow {
                        let z = gaussian(key, first + x as u32);
                        for ch in 0..c {
                            let v = &mut row[ch * ow + x];
                            *v = (*v + strength * z).clamp(0.0, 1.0);
                        }
                    }
                }
                _ => {
                    for x in 0..ow {
                        let u = unit_f32(pixel_hash(key, first + x as u32));
                        let set = if u < strength * 0.5 {
                            0.0
                        } else if u < strength {
                            1.0
                        } else {
                            continue;
                        };
                        for ch in 0..c {
                            row[ch * ow + x] = set;
                        }
                    }
                }
            }
        }
    }

    /// Erase boxes on planar row `yo`.
    #[inline(always)]
    fn erase_row(&self, s: usize, yo: usize, row: &mut [f32]) {
        let (c, ow) = (self.c, self.ow);
        let y = yo as u32;
        for k in 0..self.n_boxes {
            let o = self.off_erase + BOX_WORDS * k;
            let (x0, y0, x1, y1) = (
                self.word(s, o),
                self.word(s, o + 1),
                self.word(s, o + 2).min(ow as u32),
                self.word(s, o + 3),
            );
            if y < y0 || y >= y1 || x0 >= x1 {
                continue;
            }
            let random = self.word(s, o + 4) != 0;
            let key = self.word(s, o + 5);
            for ch in 0..c {
                let fill = self.fword(s, o + 6 + ch);
                for x in x0..x1 {
                    let pix = (yo * ow) as u32 + x;
                    row[ch * ow + x as usize] = if random {
                        unit_f32(pixel_hash(
                            key,
                            pix.wrapping_mul(c as u32).wrapping_add(ch as u32),
                        ))
                    } else {
                        fill
                    };
                }
            }
        }
    }

    /// Everything before mixing and normalization, for one planar row.
    #[inline(always)]
    fn sample_row(&self, s: usize, yo: usize, row: &mut [f32]) {
        self.gather_row(s, yo, row);
        self.colour_row(s, row);
        self.noise_row(s, yo, row);
        self.erase_row(s, yo, row);
    }

    /// Planar row `yo` of sample `s` with mixing, before normalization.
    #[inline(always)]
    fn full_row(&self, s: usize, yo: usize, row: &mut [f32], partner_row: &mut [f32]) {
        self.sample_row(s, yo, row);
        if self.mix == 0 {
            return;
        }
        let partner = self.word(s, self.off_mix) as usize;
        let lambda = self.fword(s, self.off_mix + 1);
        if partner == s {
            return;
        }
        let (c, ow) = (self.c, self.ow);
        if self.mix == 1 {
            self.sample_row(partner, yo, partner_row);
            for (v, p) in row.iter_mut().zip(partner_row.iter()) {
                *v = *v * lambda + *p * (1.0 - lambda);
            }
        } else {
            let (x0, y0, x1, y1) = (
                self.word(s, self.off_mix + 2) as usize,
                self.word(s, self.off_mix + 3) as usize,
                (self.word(s, self.off_mix + 4) as usize).min(ow),
                self.word(s, self.off_mix + 5) as usize,
            );
            if yo >= y0 && yo < y1 && x0 < x1 {
                self.sample_row(partner, yo, partner_row);
                for ch in 0..c {
                    let r = ch * ow;
                    row[r + x0..r + x1].copy_from_slice(&partner_row[r + x0..r + x1]);
                }
            }
        }
    }
}

/// Raw output pointer shared by the row tasks; each task writes only its own rows.
#[derive(Clone, Copy)]
struct OutPtr(*mut f32);
// SAFETY: tasks write disjoint (sample, channel, row) segments of the output buffer, which
// outlives the parallel loop.
unsafe impl Send for OutPtr {}
unsafe impl Sync for OutPtr {}

impl OutPtr {
    /// The `len` values starting at `offset`.
    ///
    /// # Safety
    /// The range must lie inside the output buffer and no other task may touch it.
    #[allow(clippy::mut_from_ref)]
    unsafe fn row(&self, offset: usize, len: usize) -> &mut [f32] {
        // SAFETY: guaranteed by the caller.
        unsafe { std::slice::from_raw_parts_mut(self.0.add(offset), len) }
    }
}

/// Run the pipeline described by `header` / `params` on `images` (one HWC `u8` slice per
/// sample, `H_IN_H × H_IN_W × H_C` bytes each), writing `f32` NCHW into `out`
/// (`n × c × out_h × out_w`), normalized.
///
/// # Panics
/// If the buffer sizes disagree with the header.
pub fn run(header: &[u32], params: &[u32], images: &[&[u8]], out: &mut [f32]) {
    run_with(header, params, images, out, Kernels::Fastest)
}

/// Which row kernels [`run_with`] uses (the results are the same bit for bit).
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub(crate) enum Kernels {
    /// The widest the CPU supports (AVX-512 or AVX2, detected at run time).
    Fastest,
    /// At most AVX2, even on an AVX-512 CPU (tests the AVX2 build where both exist).
    #[cfg_attr(not(test), allow(dead_code))]
    AtMostAvx2,
    /// Portable code only (the reference the vector kernels are tested against).
    #[cfg_attr(not(test), allow(dead_code))]
    Portable,
}

/// [`run`] with a choice of kernels.
pub(crate) fn run_with(
    header: &[u32],
    params: &[u32],
    images: &[&[u8]],
    out: &mut [f32],
    kernels: Kernels,
) {
    let n = header[H_N] as usize;
    let c = header[H_C] as usize;
    let (oh, ow) = (header[H_OUT_H] as usize, header[H_OUT_W] as usize);
    let stride = header[H_STRIDE] as usize;
    assert_eq!(images.len(), n, "one image per sample");
    assert_eq!(params.len(), n * stride, "parameter block size");
    assert_eq!(out.len(), n * c * oh * ow, "output size");
    let in_bytes = (header[H_IN_H] * header[H_IN_W]) as usize * c;
    assert!(images.iter().all(|i| i.len() == in_bytes), "image size");
    let f4 = |o: usize| -> [f32; 4] { std::array::from_fn(|k| f32::from_bits(header[o + k])) };
    let u8s = |o: usize| -> [u32; 8] { std::array::from_fn(|k| header[o + k]) };
    let batch = Batch {
        ih: header[H_IN_H] as i32,
        iw: header[H_IN_W] as i32,
        c,
        ow,
        nearest: header[H_INTERP] == 1,
        border: header[H_BORDER],
        fill255: f4(H_FILL).map(|v| v * 255.0),
        scale: f4(H_SCALE),
        bias: f4(H_BIAS),
        colour_kinds: u8s(H_COLOUR_KINDS),
        noise_kinds: u8s(H_NOISE_KINDS),
        n_colour: header[H_N_COLOUR] as usize,
        n_noise: header[H_N_NOISE] as usize,
        n_boxes: header[H_N_BOXES] as usize,
        stride,
        mix: header[H_MIX],
        off_colour: header[H_OFF_COLOUR] as usize,
        off_noise: header[H_OFF_NOISE] as usize,
        off_erase: header[H_OFF_ERASE] as usize,
        off_mix: header[H_OFF_MIX] as usize,
        params,
        images,
    };
    if n == 0 || oh == 0 || ow == 0 {
        return;
    }
    let ptr = OutPtr(out.as_mut_ptr());
    // Enough rows per task to amortize scheduling on small images.
    let min_rows = (4096 / (ow * c).max(1)).max(1);
    let isa = match kernels {
        Kernels::Fastest => Isa::detect(),
        Kernels::AtMostAvx2 => Isa::detect().min(Isa::Avx2),
        Kernels::Portable => Isa::Baseline,
    };
    (0..n * oh)
        .into_par_iter()
        .with_min_len(min_rows)
        .for_each_init(
            || (vec![0f32; ow * c], vec![0f32; ow * c]),
            |(row, partner_row), task| {
                let (s, yo) = (task / oh, task % oh);
                match isa {
                    // SAFETY: the CPU supports the instruction set (detected at run time).
                    #[cfg(target_arch = "x86_64")]
                    Isa::Avx512 => unsafe {
                        process_row_avx512(&batch, s, yo, row, partner_row, ptr, oh)
                    },
                    // SAFETY: as above.
                    #[cfg(target_arch = "x86_64")]
                    Isa::Avx2 => unsafe {
                        process_row_avx2(&batch, s, yo, row, partner_row, ptr, oh)
                    },
                    _ => process_row(&batch, s, yo, row, partner_row, ptr, oh),
                }
            },
        );
}

/// The instruction set the row kernel is compiled for (it is compiled three times: baseline,
/// AVX2 and AVX-512; the same operations in the same order, only the vector width differs).
/// Ordered from narrowest to widest.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Debug)]
enum Isa {
    /// The target's baseline (SSE2 on x86-64).
    Baseline,
    /// AVX2 (8 lanes of f32).
    #[cfg_attr(not(target_arch = "x86_64"), allow(dead_code))]
    Avx2,
    /// AVX-512 F/BW/DQ/VL (16 lanes of f32, masked tails).
    #[cfg_attr(not(target_arch = "x86_64"), allow(dead_code))]
    Avx512,
}

impl Isa {
    /// The widest the CPU supports, detected at run time.
    fn detect() -> Self {
        #[cfg(target_arch = "x86_64")]
        {
            if std::is_x86_feature_detected!("avx512f")
                && std::is_x86_feature_detected!("avx512bw")
                && std::is_x86_feature_detected!("avx512dq")
                && std::is_x86_feature_detected!("avx512vl")
            {
                return Self::Avx512;
            }
            if std::is_x86_feature_detected!("avx2") {
                return Self::Avx2;
            }
        }
        Self::Baseline
    }
}

/// Values drawn per chunk by [`gaussian_noise_row`]: a stack buffer (4 KiB) instead of a
/// heap allocation per row.
const NOISE_CHUNK_VALUES: usize = 1024;

/// Additive (or, with `speckle`, multiplicative) Gaussian noise of strength `strength` on the
/// planar row `row` (`c` planes of `ow` values) whose first pixel has index `first`. Value
/// `pixel · c + channel` of the stream `key` goes to that pixel and channel, as in the shader;
/// the row's values are contiguous in the stream, so they are drawn a chunk of pixels at a time,
/// each Box–Muller pair once.
#[inline(always)]
fn gaussian_noise_row(
    key: u32,
    strength: f32,
    speckle: bool,
    first: u32,
    c: usize,
    ow: usize,
    row: &mut [f32],
) {
    // Channels are 1 to 4 (`ImageShape`), as in `gather_row`. A constant channel count lets the compiler turn the stride-c reads into vector shuffles.
    match c {
        1 => gaussian_noise_row_c::<1>(key, strength, speckle, first, ow, row),
        2 => gaussian_noise_row_c::<2>(key, strength, speckle, first, ow, row),
        3 => gaussian_noise_row_c::<3>(key, strength, speckle, first, ow, row),
        _ => gaussian_noise_row_c::<4>(key, strength, speckle, first, ow, row),
    }
}

/// [`gaussian_noise_row`] for `C` channels.
#[inline(always)]
fn gaussian_noise_row_c<const C: usize>(
    key: u32,
    strength: f32,
    speckle: bool,
    first: u32,
    ow: usize,
    row: &mut [f32],
) {
    let mut zs = [0f32; NOISE_CHUNK_VALUES];
    // An even number of pixels per chunk, so that a chunk never splits a pair it could draw.
    let chunk_pixels = (NOISE_CHUNK_VALUES / C) & !1;
    for x0 in (0..ow).step_by(chunk_pixels) {
        let x1 = (x0 + chunk_pixels).min(ow);
        let zs = &mut zs[..(x1 - x0) * C];
        gaussians(
            key,
            first.wrapping_add(x0 as u32).wrapping_mul(C as u32),
            zs,
        );
        for ch in 0..C {
            let plane = &mut row[ch * ow + x0..ch * ow + x1];
            for (v, z) in plane.iter_mut().zip(zs.chunks_exact(C)) {
                let delta = if speckle {
                    *v * strength * z[ch]
                } else {
                    strength * z[ch]
                };
                *v = (*v + delta).clamp(0.0, 1.0);
            }
        }
    }
}

/// One output row of one sample: compute, normalize, write into the channel planes.
#[inline(always)]
fn process_row(
    batch: &Batch<'_>,
    s: usize,
    yo: usize,
    row: &mut [f32],
    partner_row: &mut [f32],
    ptr: OutPtr,
    oh: usize,
) {
    let (c, ow) = (batch.c, batch.ow);
    let plane = oh * ow;
    batch.full_row(s, yo, row, partner_row);
    for ch in 0..c {
        let (scale, bias) = (batch.scale[ch], batch.bias[ch]);
        // SAFETY: this task alone writes row `yo` of plane (s, ch).
        let dst = unsafe { ptr.row((s * c + ch) * plane + yo * ow, ow) };
        for (d, v) in dst.iter_mut().zip(&row[ch * ow..(ch + 1) * ow]) {
            *d = *v * scale + bias;
        }
    }
}

/// [`process_row`] compiled for AVX2 (same operations, wider vectors; no FMA contraction).
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2")]
unsafe fn process_row_avx2(
    batch: &Batch<'_>,
    s: usize,
    yo: usize,
    row: &mut [f32],
    partner_row: &mut [f32],
    ptr: OutPtr,
    oh: usize,
) {
    process_row(batch, s, yo, row, partner_row, ptr, oh)
}

/// [`process_row`] compiled for AVX-512 (same operations, wider vectors; no FMA contraction).
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,avx512f,avx512bw,avx512dq,avx512vl")]
unsafe fn process_row_avx512(
    batch: &Batch<'_>,
    s: usize,
    yo: usize,
    row: &mut [f32],
    partner_row: &mut [f32],
    ptr: OutPtr,
    oh: usize,
) {
    process_row(batch, s, yo, row, partner_row, ptr, oh)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Program;
    use crate::spec::PipelineSpec;

    fn run_spec(
        toml: &str,
        img: &[u8],
        w: usize,
        h: usize,
        c: usize,
    ) -> (Vec<f32>, (usize, usize)) {
        let spec = PipelineSpec::from_toml(toml, "test").unwrap();
        let prog = Program::new(&spec, augtrain_data::ImageShape::new(w, h, c)).unwrap();
        let params = prog.draw(1, 0, &[0]);
        let (ow, oh) = (prog.output.width, prog.output.height);
        let mut out = vec![0f32; c * oh * ow];
        run(
            &prog.header(1),
            &prog.pack(&params).unwrap(),
            &[img],
            &mut out,
        );
        (out, (ow, oh))
    }

    fn ramp(w: usize, h: usize, c: usize) -> Vec<u8> {
        (0..w * h * c).map(|i| (i * 37 % 251) as u8).collect()
    }

    /// HWC u8 → CHW values in [0, 1].
    fn chw(img: &[u8], w: usize, h: usize, c: usize) -> Vec<f32> {
        let mut out = vec![0f32; w * h * c];
        for y in 0..h {
            for x in 0..w {
                for ch in 0..c {
                    out[(ch * h + y) * w + x] = img[(y * w + x) * c + ch] as f32 * INV_255;
                }
            }
        }
        out
    }

    #[test]
    fn identity_is_exact() {
        let (w, h, c) = (5, 3, 3);
        let img = ramp(w, h, c);
        let (out, size) = run_spec("version = 1\n", &img, w, h, c);
        assert_eq!(size, (w, h));
        assert_eq!(out, chw(&img, w, h, c));
    }

    #[test]
    fn flips_are_exact() {
        let (w, h, c) = (7, 4, 3);
        let img = ramp(w, h, c);
        let src = chw(&img, w, h, c);
        let (out, _) = run_spec(
            "version = 1\n[[ops]]\nop = \"hflip\"\np = 1.0\n",
            &img,
            w,
            h,
            c,
        );
        for ch in 0..c {
            for y in 0..h {
                for x in 0..w {
                    assert_eq!(
                        out[(ch * h + y) * w + x],
                        src[(ch * h + y) * w + (w - 1 - x)]
                    );
                }
            }
        }
        let (out, _) = run_spec(
            "version = 1\n[[ops]]\nop = \"vflip\"\np = 1.0\n",
            &img,
            w,
            h,
            c,
        );
        for ch in 0..c {
            for y in 0..h {
                for x in 0..w {
                    assert_eq!(
                        out[(ch * h + y) * w + x],
                        src[(ch * h + (h - 1 - y)) * w + x]
                    );
                }
            }
        }
    }

    #[test]
    fn rotation_by_90_degrees_is_the_exact_transpose_and_flip() {
        for n in [4usize, 5] {
            let img = ramp(n, n, 1);
            let src = chw(&img, n, n, 1);
            for interp in ["bilinear", "nearest"] {
                let (out, _) = run_spec(
                    &format!(
                        "version = 1\ninterpolation = \"{interp}\"\n[[ops]]\nop = \"rotate\"\ndegrees = [90.0, 90.0]\n"
                    ),
                    &img,
                    n,
                    n,
                    1,
                );
                // Counter-clockwise (numpy's rot90): out[i][j] = in[j][n-1-i].
                for i in 0..n {
                    for j in 0..n {
                        assert_eq!(
                            out[i * n + j],
                            src[j * n + (n - 1 - i)],
                            "{interp} n={n} ({i},{j})"
                        );
                    }
                }
            }
        }
    }

    #[test]
    fn small_rotation_matches_the_opencv_convention() {
        // Reference: M = getRotationMatrix2D(((w-1)/2, (h-1)/2), angle, 1); warpAffine maps each
        // destination pixel (x, y) (integer coordinates at pixel centres) through M⁻¹ and
        // samples bilinearly, constant border 0. Computed here in f64.
        let (w, h) = (6usize, 5usize);
        let img = ramp(w, h, 1);
        let angle = 17.0f64;
        let (out, _) = run_spec(
            &format!("version = 1\n[[ops]]\nop = \"rotate\"\ndegrees = [{angle}, {angle}]\n"),
            &img,
            w,
            h,
            1,
        );
        let (cx, cy) = ((w as f64 - 1.0) / 2.0, (h as f64 - 1.0) / 2.0);
        let (a, b) = (angle.to_radians().cos(), angle.to_radians().sin());
        let m = [
            a,
            b,
            (1.0 - a) * cx - b * cy,
            -b,
            a,
            b * cx + (1.0 - a) * cy,
        ];
        let det = m[0] * m[4] - m[1] * m[3];
        let inv = [m[4] / det, -m[1] / det, -m[3] / det, m[0] / det];
        let px = |x: i64, y: i64| -> f64 {
            if x < 0 || y < 0 || x >= w as i64 || y >= h as i64 {
                0.0
            } else {
                img[y as usize * w + x as usize] as f64 / 255.0
            }
        };
        for y in 0..h {
            for x in 0..w {
                let (dx, dy) = (x as f64 - m[2], y as f64 - m[5]);
                let sx = inv[0] * dx + inv[1] * dy;
                let sy = inv[2] * dx + inv[3] * dy;
                let (x0, y0) = (sx.floor(), sy.floor());
                let (fx, fy) = (sx - x0, sy - y0);
                let (x0, y0) = (x0 as i64, y0 as i64);
                let expect = (px(x0, y0) * (1.0 - fx) + px(x0 + 1, y0) * fx) * (1.0 - fy)
                    + (px(x0, y0 + 1) * (1.0 - fx) + px(x0 + 1, y0 + 1) * fx) * fy;
                let got = out[y * w + x] as f64;
                assert!((got - expect).abs() < 1e-4, "({x},{y}): {got} vs {expect}");
            }
        }
    }

    #[test]
    fn results_do_not_depend_on_thread_count() {
        let spec = PipelineSpec::default_colour(20, 20);
        let prog = Program::new(&spec, augtrain_data::ImageShape::new(24, 24, 3)).unwrap();
        let imgs: Vec<Vec<u8>> = (0..6)
            .map(|s| ramp(24, 24, 3).iter().map(|v| v.wrapping_add(s)).collect())
            .collect();
        let refs: Vec<&[u8]> = imgs.iter().map(|v| v.as_slice()).collect();
        let params = prog.draw(3, 0, &[1, 2, 3, 4, 5, 6]);
        let words = prog.pack(&params).unwrap();
        let mut a = vec![0f32; 6 * 3 * 20 * 20];
        let mut b = a.clone();
        run(&prog.header(6), &words, &refs, &mut a);
        rayon::ThreadPoolBuilder::new()
            .num_threads(1)
            .build()
            .unwrap()
            .install(|| run(&prog.header(6), &words, &refs, &mut b));
        assert_eq!(a, b);
    }

    /// The vector kernels (AVX-512 and AVX2, on a CPU that has them) against the portable code:
    /// every op, every border rule, every channel count, odd widths (tail blocks) and tiny
    /// images (reads near the end of the buffer), bit for bit.
    #[test]
    fn vector_kernels_equal_the_portable_code() {
        let geometry = [
            "[[ops]]\nop = \"rotate\"\ndegrees = [-40.0, 40.0]\n",
            "[[ops]]\nop = \"affine\"\ndegrees = [-20.0, 20.0]\nscale = [0.6, 1.4]\ntranslate = [0.3, 0.3]\nshear = [-10.0, 10.0]\n",
            "[[ops]]\nop = \"random_resized_crop\"\nwidth = 11\nheight = 5\n",
            "[[ops]]\nop = \"resize\"\nwidth = 29\nheight = 3\n",
            "[[ops]]\nop = \"pad\"\npixels = [2, 1, 3, 0]\n[[ops]]\nop = \"hflip\"\np = 1.0\n",
        ];
        let rest = [
            "",
            "[[ops]]\nop = \"gaussian_noise\"\nsigma = [0.01, 0.2]\n",
            "[[ops]]\nop = \"gaussian_noise\"\nsigma = [0.01, 0.2]\nper_channel = false\n",
            "[[ops]]\nop = \"speckle\"\nsigma = [0.05, 0.3]\n[[ops]]\nop = \"salt_pepper\"\namount = [0.05, 0.2]\n",
            "[[ops]]\nop = \"brightness\"\nfactor = [0.5, 1.5]\n[[ops]]\nop = \"contrast\"\nfactor = [0.5, 1.5]\n\
             [[ops]]\nop = \"saturation\"\nfactor = [0.5, 1.5]\n[[ops]]\nop = \"gamma\"\ngamma = [0.5, 2.0]\n\
             [[ops]]\nop = \"grayscale\"\np = 0.5\n[[ops]]\nop = \"erase\"\np = 1.0\nfill = \"random\"\n\
             [[ops]]\nop = \"normalize\"\nmean = [0.5]\nstd = [0.25]\n",
            "[[ops]]\nop = \"cutmix\"\nalpha = 1.0\n",
            "[[ops]]\nop = \"mixup\"\nalpha = 0.4\n",
        ];
        let sizes = [(1, 1), (2, 3), (13, 7), (31, 9)];
        let mut compared = 0;
        for (g, geo) in geometry.iter().enumerate() {
            for (r, tail) in rest.iter().enumerate() {
                for border in ["constant", "replicate", "reflect"] {
                    for c in 1..=4 {
                        let (w, h) = sizes[(g + r + c) % sizes.len()];
                        let toml = format!(
                            "version = 1\nborder = \"{border}\"\nfill = [0.3]\n{geo}{tail}"
                        );
                        let spec = PipelineSpec::from_toml(&toml, "test").unwrap();
                        let Ok(prog) = Program::new(&spec, augtrain_data::ImageShape::new(w, h, c))
                        else {
                            continue; // e.g. saturation on one channel
                        };
                        let imgs: Vec<Vec<u8>> = (0..4)
                            .map(|s| {
                                ramp(w, h, c)
                                    .iter()
                                    .map(|v| v.wrapping_mul(s + 3))
                                    .collect()
                            })
                            .collect();
                        let refs: Vec<&[u8]> = imgs.iter().map(|v| v.as_slice()).collect();
                        let params = prog.draw(7, 1, &[10, 11, 12, 13]);
                        let words = prog.pack(&params).unwrap();
                        let len = 4 * c * prog.output.width * prog.output.height;
                        let header = prog.header(4);
                        let bits = |kernels| {
                            let mut out = vec![0f32; len];
                            run_with(&header, &words, &refs, &mut out, kernels);
                            out.iter().map(|x| x.to_bits()).collect::<Vec<_>>()
                        };
                        let portable = bits(Kernels::Portable);
                        assert_eq!(bits(Kernels::Fastest), portable, "{toml} {w}x{h}x{c}");
                        assert_eq!(bits(Kernels::AtMostAvx2), portable, "{toml} {w}x{h}x{c}");
                        compared += 1;
                    }
                }
            }
        }
        assert!(compared > 300, "{compared} pipelines compared");
    }
}
