//! The CPU twin of `shaders/augment.wgsl`: the same maths on the same header and parameter
//! words, multi-threaded over (sample, output row), with no per-pixel allocation.
//!
//! It is the reference in tests (the GPU must match it within 1/255 before normalization) and
//! the augmentation path on CPU devices. Every per-value operation is written in the same order
//! as in the shader; the only differences come from fused multiply-adds and transcendental
//! functions on the GPU.

use rayon::prelude::*;

use super::fastmath::gaussian;
use super::layout::*;
use crate::util::rng::{pixel_hash, unit_f32};

const INV_255: f32 = 1.0 / 255.0;

/// The header decoded once per batch.
struct Batch<'a> {
    ih: i32,
    iw: i32,
    c: usize,
    ow: usize,
    nearest: bool,
    border: u32,
    fill: [f32; 4],
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
fn reflect101(mut i: i32, n: i32) -> i32 {
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

    /// Source value of channel `ch` at integer pixel (x, y) with the border rule, in [0, 1].
    #[inline(always)]
    fn texel(&self, img: &[u8], x: i32, y: i32, ch: usize) -> f32 {
        let (x, y) = if x >= 0 && x < self.iw && y >= 0 && y < self.ih {
            (x, y)
        } else {
            match self.border {
                0 => return self.fill[ch],
                1 => (x.clamp(0, self.iw - 1), y.clamp(0, self.ih - 1)),
                _ => (reflect101(x, self.iw), reflect101(y, self.ih)),
            }
        };
        img[(y as usize * self.iw as usize + x as usize) * self.c + ch] as f32 * INV_255
    }

    /// Gather one output row of sample `s` into `row` (`ow × c`, HWC), in [0, 1].
    fn gather_row(&self, s: usize, yo: usize, row: &mut [f32]) {
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
        let mut u = b.wrapping_mul(y).wrapping_add(cc);
        let mut v = e.wrapping_mul(y).wrapping_add(f);
        let c = self.c;
        let (iw, ih) = (self.iw, self.ih);
        if self.nearest {
            let half = 1i32 << (frac - 1);
            for px in row.chunks_exact_mut(c) {
                let x0 = u.wrapping_add(half) >> frac;
                let y0 = v.wrapping_add(half) >> frac;
                for (ch, out) in px.iter_mut().enumerate() {
                    *out = self.texel(img, x0, y0, ch);
                }
                u = u.wrapping_add(a);
                v = v.wrapping_add(d);
            }
            return;
        }
        for px in row.chunks_exact_mut(c) {
            let x0 = u >> frac;
            let y0 = v >> frac;
            let fx = (u & mask) as f32 * inv;
            let fy = (v & mask) as f32 * inv;
            if x0 >= 0 && y0 >= 0 && x0 + 1 < iw && y0 + 1 < ih {
                let base = (y0 as usize * iw as usize + x0 as usize) * c;
                let down = iw as usize * c;
                for (ch, out) in px.iter_mut().enumerate() {
                    let p00 = img[base + ch] as f32 * INV_255;
                    let p01 = img[base + c + ch] as f32 * INV_255;
                    let p10 = img[base + down + ch] as f32 * INV_255;
                    let p11 = img[base + down + c + ch] as f32 * INV_255;
                    let top = p00 + (p01 - p00) * fx;
                    let bot = p10 + (p11 - p10) * fx;
                    *out = top + (bot - top) * fy;
                }
            } else {
                for (ch, out) in px.iter_mut().enumerate() {
                    let p00 = self.texel(img, x0, y0, ch);
                    let p01 = self.texel(img, x0 + 1, y0, ch);
                    let p10 = self.texel(img, x0, y0 + 1, ch);
                    let p11 = self.texel(img, x0 + 1, y0 + 1, ch);
                    let top = p00 + (p01 - p00) * fx;
                    let bot = p10 + (p11 - p10) * fx;
                    *out = top + (bot - top) * fy;
                }
            }
            u = u.wrapping_add(a);
            v = v.wrapping_add(d);
        }
    }

    /// Colour ops, in pipeline order, on a row.
    fn colour_row(&self, s: usize, row: &mut [f32]) {
        let c = self.c;
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
                    for px in row.chunks_exact_mut(c) {
                        let g = LUMA[0] * px[0] + LUMA[1] * px[1] + LUMA[2] * px[2];
                        for v in px[..3].iter_mut() {
                            *v = (g + (*v - g) * f).clamp(0.0, 1.0);
                        }
                    }
                }
                COLOUR_GAMMA if f != 1.0 => {
                    for v in row.iter_mut() {
                        *v = v.powf(f);
                    }
                }
                COLOUR_GRAYSCALE if f >= 0.5 && c >= 3 => {
                    for px in row.chunks_exact_mut(c) {
                        let g = LUMA[0] * px[0] + LUMA[1] * px[1] + LUMA[2] * px[2];
                        px[0] = g;
                        px[1] = g;
                        px[2] = g;
                    }
                }
                _ => {}
            }
        }
    }

    /// Noise ops, in pipeline order, on row `yo`.
    fn noise_row(&self, s: usize, yo: usize, row: &mut [f32]) {
        let c = self.c;
        let first = (yo * self.ow) as u32;
        for k in 0..self.n_noise {
            let strength = self.fword(s, self.off_noise + NOISE_WORDS * k);
            if strength == 0.0 {
                continue;
            }
            let key = self.word(s, self.off_noise + NOISE_WORDS * k + 1);
            match self.noise_kinds[k] {
                NOISE_GAUSSIAN | NOISE_SPECKLE => {
                    let speckle = self.noise_kinds[k] == NOISE_SPECKLE;
                    let base = first.wrapping_mul(c as u32);
                    for (i, v) in row.iter_mut().enumerate() {
                        let j = base.wrapping_add(i as u32);
                        let z = gaussian(
                            pixel_hash(key, j.wrapping_mul(2)),
                            pixel_hash(key, j.wrapping_mul(2).wrapping_add(1)),
                        );
                        let delta = if speckle {
                            *v * strength * z
                        } else {
                            strength * z
                        };
                        *v = (*v + delta).clamp(0.0, 1.0);
                    }
                }
                NOISE_GAUSSIAN_SHARED => {
                    for (x, px) in row.chunks_exact_mut(c).enumerate() {
                        let j = first.wrapping_add(x as u32);
                        let z = gaussian(
                            pixel_hash(key, j.wrapping_mul(2)),
                            pixel_hash(key, j.wrapping_mul(2).wrapping_add(1)),
                        );
                        for v in px.iter_mut() {
                            *v = (*v + strength * z).clamp(0.0, 1.0);
                        }
                    }
                }
                _ => {
                    for (x, px) in row.chunks_exact_mut(c).enumerate() {
                        let u = unit_f32(pixel_hash(key, first.wrapping_add(x as u32)));
                        if u < strength * 0.5 {
                            px.fill(0.0);
                        } else if u < strength {
                            px.fill(1.0);
                        }
                    }
                }
            }
        }
    }

    /// Erase boxes on row `yo`.
    fn erase_row(&self, s: usize, yo: usize, row: &mut [f32]) {
        let c = self.c;
        let y = yo as u32;
        for k in 0..self.n_boxes {
            let o = self.off_erase + BOX_WORDS * k;
            let (x0, y0, x1, y1) = (
                self.word(s, o),
                self.word(s, o + 1),
                self.word(s, o + 2).min(self.ow as u32),
                self.word(s, o + 3),
            );
            if y < y0 || y >= y1 || x0 >= x1 {
                continue;
            }
            let random = self.word(s, o + 4) != 0;
            let key = self.word(s, o + 5);
            for x in x0..x1 {
                let pix = (yo * self.ow) as u32 + x;
                for ch in 0..c {
                    row[x as usize * c + ch] = if random {
                        unit_f32(pixel_hash(
                            key,
                            pix.wrapping_mul(c as u32).wrapping_add(ch as u32),
                        ))
                    } else {
                        self.fword(s, o + 6 + ch)
                    };
                }
            }
        }
    }

    /// Everything before mixing and normalization, for one row.
    fn sample_row(&self, s: usize, yo: usize, row: &mut [f32]) {
        self.gather_row(s, yo, row);
        self.colour_row(s, row);
        self.noise_row(s, yo, row);
        self.erase_row(s, yo, row);
    }

    /// Row `yo` of sample `s` with mixing, before normalization.
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
        let c = self.c;
        if self.mix == 1 {
            self.sample_row(partner, yo, partner_row);
            for (v, p) in row.iter_mut().zip(partner_row.iter()) {
                *v = *v * lambda + *p * (1.0 - lambda);
            }
        } else {
            let (x0, y0, x1, y1) = (
                self.word(s, self.off_mix + 2) as usize,
                self.word(s, self.off_mix + 3) as usize,
                (self.word(s, self.off_mix + 4) as usize).min(self.ow),
                self.word(s, self.off_mix + 5) as usize,
            );
            if yo >= y0 && yo < y1 && x0 < x1 {
                self.sample_row(partner, yo, partner_row);
                row[x0 * c..x1 * c].copy_from_slice(&partner_row[x0 * c..x1 * c]);
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
        fill: f4(H_FILL),
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
    let plane = oh * ow;
    // Enough rows per task to amortize scheduling on small images.
    let min_rows = (4096 / (ow * c).max(1)).max(1);
    (0..n * oh)
        .into_par_iter()
        .with_min_len(min_rows)
        .for_each_init(
            || (vec![0f32; ow * c], vec![0f32; ow * c]),
            |(row, partner_row), task| {
                let (s, yo) = (task / oh, task % oh);
                batch.full_row(s, yo, row, partner_row);
                for ch in 0..c {
                    let (scale, bias) = (batch.scale[ch], batch.bias[ch]);
                    // SAFETY: this task alone writes row `yo` of plane (s, ch).
                    let dst = unsafe { ptr.row((s * c + ch) * plane + yo * ow, ow) };
                    for (x, d) in dst.iter_mut().enumerate() {
                        *d = row[x * c + ch] * scale + bias;
                    }
                }
            },
        );
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::augment::Program;
    use crate::augment::spec::PipelineSpec;

    fn run_spec(
        toml: &str,
        img: &[u8],
        w: usize,
        h: usize,
        c: usize,
    ) -> (Vec<f32>, (usize, usize)) {
        let spec = PipelineSpec::from_toml(toml, "test").unwrap();
        let prog = Program::new(&spec, w, h, c).unwrap();
        let params = prog.draw(1, 0, &[0]);
        let (ow, oh) = prog.output;
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
        let prog = Program::new(&spec, 24, 24, 3).unwrap();
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
}
