//! Label masks through the pipeline: the CPU twin of the fused kernel's mask half, and the
//! public API that warps one sample's (or a batch's) label plane exactly as the GPU does.
//!
//! A mask is one `u8` label per input pixel (`in_h × in_w`, row-major; class or instance ids,
//! 0 = background). It follows the image's inverse map — the same fixed-point words
//! ([`SampleParams::fixed`], [`SampleParams::frac_bits`]), drawn once for the image — with
//! nearest-neighbour sampling: output pixel `(x, y)` takes the label of the input pixel nearest
//! to its mapped centre, rounding halves up (as `interpolation = "nearest"` does for the
//! image). Conventions:
//! - Outside the input the image's border rule applies to the rounded position: `constant` →
//!   label 0, `replicate` → the nearest edge pixel's label, `reflect` → the reflected pixel's.
//! - Colour ops, noise and erasing leave labels unchanged (Albumentations' `CoarseDropout`
//!   without `fill_mask`): an erased object is hidden from the image but stays in the target.
//! - `cutmix` pastes the partner's labels inside its box, as it pastes its pixels; `mixup` is
//!   refused ([`check`]): a blend of two label planes is not a label plane.
//!
//! Everything is integer arithmetic on the words the kernel reads, so the result is
//! bit-identical to the GPU's for any batch split, thread count or device.

use rayon::prelude::*;

use crate::AugmentError;
use crate::cpu::reflect101;
use crate::layout::*;
use crate::{Program, SampleParams};

/// Refuse a program whose batch mixing cannot carry masks (mixup).
pub fn check(program: &Program) -> Result<(), AugmentError> {
    if program.header(0)[H_MIX] == 1 {
        return Err(AugmentError::Spec(
            "mixup blends two images and a label mask cannot be blended; remove mixup or use cutmix (which pastes the partner's mask) when masks are attached".into(),
        ));
    }
    Ok(())
}

/// The kernel's header for a batch of `n` samples with a label plane each ([`H_MASK`] set).
/// Fails when the program mixes with mixup ([`check`]).
pub fn header(program: &Program, n: usize) -> Result<Vec<u32>, AugmentError> {
    check(program)?;
    let mut h = program.header(n);
    h[H_MASK] = 1;
    Ok(h)
}

/// Warp the label planes of a whole batch: `masks[i]` belongs to the sample drawn as
/// `params[i]` (`input.width × input.height` bytes), `out` receives `n × output.height ×
/// output.width` labels, sample after sample. Handles cutmix (a partner is a batch position).
pub fn warp_masks(
    program: &Program,
    params: &[SampleParams],
    masks: &[&[u8]],
    out: &mut [u8],
) -> Result<(), AugmentError> {
    let n = params.len();
    let header = header(program, n)?;
    check_sizes(program, n, masks, out.len())?;
    let words = program.pack(params)?;
    run(&header, &words, masks, out);
    Ok(())
}

/// Warp one sample's label plane (`input.width × input.height` bytes) into `out`
/// (`output.width × output.height` bytes), as the GPU writes it for that sample. Fails for a
/// mixing program: cutmix needs the partner's mask, so warp the batch with [`warp_masks`].
pub fn warp_mask(
    program: &Program,
    params: &SampleParams,
    mask: &[u8],
    out: &mut [u8],
) -> Result<(), AugmentError> {
    if program.mixes() {
        return Err(AugmentError::Spec(
            "this pipeline mixes samples: warp the whole batch's masks with warp_masks so that cutmix finds the partner's mask".into(),
        ));
    }
    warp_masks(program, std::slice::from_ref(params), &[mask], out)
}

/// Shape errors for `n` masks and an output of `out_len` labels.
fn check_sizes(
    program: &Program,
    n: usize,
    masks: &[&[u8]],
    out_len: usize,
) -> Result<(), AugmentError> {
    let (iw, ih) = (program.input.width, program.input.height);
    let (ow, oh) = (program.output.width, program.output.height);
    if masks.len() != n {
        return Err(AugmentError::Shape(format!(
            "{} masks for {n} samples; give one label plane per sample",
            masks.len()
        )));
    }
    if let Some((i, m)) = masks.iter().enumerate().find(|(_, m)| m.len() != iw * ih) {
        return Err(AugmentError::Shape(format!(
            "mask {i} has {} labels but the images are {iw}x{ih} ({} pixels); masks must have the image's size",
            m.len(),
            iw * ih
        )));
    }
    if out_len != n * ow * oh {
        return Err(AugmentError::Shape(format!(
            "the mask output holds {out_len} labels, {n} samples of {ow}x{oh} need {}",
            n * ow * oh
        )));
    }
    Ok(())
}

/// The header words the mask half reads, decoded once.
struct Plane<'a> {
    ih: i32,
    iw: i32,
    ow: usize,
    border: u32,
    stride: usize,
    params: &'a [u32],
    masks: &'a [&'a [u8]],
}

/// Output pixels per block of [`Plane::labels`]: a block whose mapped ends are both inside the
/// input is gathered without the border rule.
const BLOCK: usize = 32;

/// One output row's inverse map in the kernel's fixed point: source position `u, v` of its
/// first pixel, the steps `a, d` per pixel, `frac` fraction bits and the rounding `half`.
#[derive(Clone, Copy)]
struct RowMap {
    u: i32,
    v: i32,
    a: i32,
    d: i32,
    frac: u32,
    half: i32,
}

impl RowMap {
    /// The map from output pixel `k` of this row on.
    #[inline(always)]
    fn skip(self, k: usize) -> Self {
        let k = k as i32;
        Self {
            u: self.u.wrapping_add(self.a.wrapping_mul(k)),
            v: self.v.wrapping_add(self.d.wrapping_mul(k)),
            ..self
        }
    }

    /// Whether pixels `0..len` all map inside a `iw × ih` input with no wrapping on the way:
    /// both ends rounded in 64 bits stay in `i32` and inside, so every pixel between them (the
    /// map is linear) does too, and its wrapping `i32` arithmetic equals the exact one.
    #[inline(always)]
    fn inside(self, len: usize, iw: i32, ih: i32) -> bool {
        let last = len as i64 - 1;
        let end = |p: i32, step: i32| {
            (
                p as i64 + self.half as i64,
                p as i64 + step as i64 * last + self.half as i64,
            )
        };
        let fits = |t: i64, n: i32| t >= 0 && t <= i32::MAX as i64 && (t >> self.frac) < n as i64;
        let (u0, u1) = end(self.u, self.a);
        let (v0, v1) = end(self.v, self.d);
        fits(u0, iw) && fits(u1, iw) && fits(v0, ih) && fits(v1, ih)
    }
}

impl Plane<'_> {
    /// Labels of sample `s` for output pixels `x0..x0 + row.len()` of row `yo`: nearest source
    /// pixel through the fixed-point map (the kernel's `mask_label`). Blocks of [`BLOCK`]
    /// pixels that map wholly inside the input skip the border rule; the others take
    /// [`Self::labels_with_border`]. Both give the kernel's labels bit for bit.
    #[inline(always)]
    fn labels(&self, s: usize, yo: usize, x0: usize, row: &mut [u8]) {
        let map = self.row_map(s, yo, x0);
        let mask = self.masks[s];
        for (k, block) in row.chunks_mut(BLOCK).enumerate() {
            let m = map.skip(k * BLOCK);
            if m.inside(block.len(), self.iw, self.ih) {
                self.gather_inside(mask, m, block);
            } else {
                self.labels_with_border(mask, m, block);
            }
        }
    }

    /// The fixed-point map of output row `yo` of sample `s` from pixel `x0` on.
    #[inline(always)]
    fn row_map(&self, s: usize, yo: usize, x0: usize) -> RowMap {
        let w = |k: usize| self.params[s * self.stride + k] as i32;
        let (a, b, cc) = (w(P_AFFINE), w(P_AFFINE + 1), w(P_AFFINE + 2));
        let (d, e, f) = (w(P_AFFINE + 3), w(P_AFFINE + 4), w(P_AFFINE + 5));
        let frac = self.params[s * self.stride + P_FRAC];
        let (x, y) = (x0 as i32, yo as i32);
        // Wrapping i32 sums, as the kernel's `a * xo + b * yo + c`.
        RowMap {
            u: a.wrapping_mul(x)
                .wrapping_add(b.wrapping_mul(y))
                .wrapping_add(cc),
            v: d.wrapping_mul(x)
                .wrapping_add(e.wrapping_mul(y))
                .wrapping_add(f),
            a,
            d,
            frac,
            half: 1i32 << (frac - 1),
        }
    }

    /// [`Self::labels`] for a block known to map inside ([`RowMap::inside`]): the source
    /// indices computed a block at a time (vector lanes), then read.
    #[inline(always)]
    fn gather_inside(&self, mask: &[u8], m: RowMap, out: &mut [u8]) {
        let mut index = [0u32; BLOCK];
        let iw = self.iw;
        for (k, i) in index.iter_mut().enumerate() {
            let k = k as i32;
            // Exact for the block's pixels (no wrapping there, [`RowMap::inside`]); lanes past
            // a short last block wrap and are not read.
            let sx = m.u.wrapping_add(m.half).wrapping_add(m.a.wrapping_mul(k)) >> m.frac;
            let sy = m.v.wrapping_add(m.half).wrapping_add(m.d.wrapping_mul(k)) >> m.frac;
            *i = sy.wrapping_mul(iw).wrapping_add(sx) as u32;
        }
        for (o, &i) in out.iter_mut().zip(&index) {
            *o = mask[i as usize];
        }
    }

    /// [`Self::labels`] pixel by pixel with the border rule.
    fn labels_with_border(&self, mask: &[u8], m: RowMap, row: &mut [u8]) {
        let (mut u, mut v) = (m.u, m.v);
        for out in row.iter_mut() {
            let sx = u.wrapping_add(m.half) >> m.frac;
            let sy = v.wrapping_add(m.half) >> m.frac;
            *out = self.label(mask, sx, sy);
            u = u.wrapping_add(m.a);
            v = v.wrapping_add(m.d);
        }
    }

    /// Label at source pixel `(x, y)` after the border rule (constant: 0).
    #[inline(always)]
    fn label(&self, mask: &[u8], x: i32, y: i32) -> u8 {
        let (x, y) = if x >= 0 && x < self.iw && y >= 0 && y < self.ih {
            (x, y)
        } else {
            match self.border {
                0 => return 0,
                1 => (x.clamp(0, self.iw - 1), y.clamp(0, self.ih - 1)),
                _ => (reflect101(x, self.iw), reflect101(y, self.ih)),
            }
        };
        mask[y as usize * self.iw as usize + x as usize]
    }
}

/// The twin of the kernel's mask half: warp `masks` (one `H_IN_H × H_IN_W` label plane per
/// sample) into `out` (`n × out_h × out_w` labels) as described by `header` / `params`, the
/// words [`header`] and [`Program::pack`] give. Multi-threaded over output rows.
///
/// # Panics
/// If the buffer sizes disagree with the header.
pub fn run(header: &[u32], params: &[u32], masks: &[&[u8]], out: &mut [u8]) {
    let n = header[H_N] as usize;
    let (oh, ow) = (header[H_OUT_H] as usize, header[H_OUT_W] as usize);
    let stride = header[H_STRIDE] as usize;
    let (ih, iw) = (header[H_IN_H] as usize, header[H_IN_W] as usize);
    assert_eq!(masks.len(), n, "one mask per sample");
    assert_eq!(params.len(), n * stride, "parameter block size");
    assert_eq!(out.len(), n * oh * ow, "mask output size");
    assert!(masks.iter().all(|m| m.len() == ih * iw), "mask size");
    if n == 0 || oh == 0 || ow == 0 {
        return;
    }
    let plane = Plane {
        ih: ih as i32,
        iw: iw as i32,
        ow,
        border: header[H_BORDER],
        stride,
        params,
        masks,
    };
    let cutmix = header[H_MIX] == 2;
    let off_mix = header[H_OFF_MIX] as usize;
    out.par_chunks_mut(ow)
        .with_min_len((4096 / ow).max(1))
        .enumerate()
        .for_each(|(task, row)| {
            let (s, yo) = (task / oh, task % oh);
            plane.labels(s, yo, 0, row);
            if !cutmix {
                return;
            }
            let word = |k: usize| params[s * stride + off_mix + k] as usize;
            let partner = word(0);
            let (x0, y0, x1, y1) = (word(2), word(3), word(4).min(plane.ow), word(5));
            if partner != s && yo >= y0 && yo < y1 && x0 < x1 {
                plane.labels(partner, yo, x0, &mut row[x0..x1]);
            }
        });
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::spec::PipelineSpec;
    use augtrain_data::ImageShape;

    fn program(toml: &str, w: usize, h: usize) -> Program {
        let spec = PipelineSpec::from_toml(toml, "test").unwrap();
        Program::new(&spec, ImageShape::new(w, h, 3)).unwrap()
    }

    fn labels(w: usize, h: usize) -> Vec<u8> {
        (0..w * h).map(|i| (i * 7 % 13) as u8).collect()
    }

    fn warp(p: &Program, mask: &[u8]) -> Vec<u8> {
        let params = p.draw(1, 0, &[0]);
        let mut out = vec![0u8; p.output.width * p.output.height];
        warp_mask(p, &params[0], mask, &mut out).unwrap();
        out
    }

    #[test]
    fn identity_and_flips_move_labels_exactly() {
        let (w, h) = (7, 5);
        let m = labels(w, h);
        assert_eq!(warp(&program("version = 1\n", w, h), &m), m);
        let flipped = warp(
            &program("version = 1\n[[ops]]\nop = \"hflip\"\np = 1.0\n", w, h),
            &m,
        );
        for y in 0..h {
            for x in 0..w {
                assert_eq!(flipped[y * w + x], m[y * w + w - 1 - x]);
            }
        }
        let flipped = warp(
            &program("version = 1\n[[ops]]\nop = \"vflip\"\np = 1.0\n", w, h),
            &m,
        );
        for y in 0..h {
            for x in 0..w {
                assert_eq!(flipped[y * w + x], m[(h - 1 - y) * w + x]);
            }
        }
    }

    #[test]
    fn pad_uses_the_border_rule_of_the_image() {
        let (w, h) = (4, 3);
        let m = labels(w, h);
        let pad = "[[ops]]\nop = \"pad\"\npixels = [2, 1, 1, 2]\n";
        type Outside = fn(&[u8], i32, i32) -> u8;
        let rules: [(&str, Outside); 3] = [
            ("constant", |_, _, _| 0),
            ("replicate", |m, x, y| {
                m[(y.clamp(0, 2) * 4 + x.clamp(0, 3)) as usize]
            }),
            ("reflect", |m, x, y| {
                m[(reflect101(y, 3) * 4 + reflect101(x, 4)) as usize]
            }),
        ];
        for (border, expect) in rules {
            let p = program(&format!("version = 1\nborder = \"{border}\"\n{pad}"), w, h);
            let out = warp(&p, &m);
            assert_eq!((p.output.width, p.output.height), (7, 6));
            for y in 0..6 {
                for x in 0..7 {
                    let (sx, sy) = (x as i32 - 2, y as i32 - 1);
                    let inside = (0..4).contains(&sx) && (0..3).contains(&sy);
                    let want = if inside {
                        m[(sy * 4 + sx) as usize]
                    } else {
                        expect(&m, sx, sy)
                    };
                    assert_eq!(out[y * 7 + x], want, "{border} ({x},{y})");
                }
            }
        }
    }

    #[test]
    fn the_mask_lands_where_the_nearest_image_pixel_lands() {
        // Give the image its own labels as pixel values: a nearest-neighbour image warp must
        // then carry exactly the mask's labels (through rotation, affine and resize).
        let (w, h) = (23, 17);
        let m = labels(w, h);
        let img: Vec<u8> = m.iter().flat_map(|&v| [v, v, v]).collect();
        let spec = "version = 1\ninterpolation = \"nearest\"\nborder = \"reflect\"\n\
                    [[ops]]\nop = \"affine\"\ndegrees = [-40.0, 40.0]\nscale = [0.7, 1.3]\ntranslate = [0.2, 0.2]\nshear = [-10.0, 10.0]\n\
                    [[ops]]\nop = \"resize\"\nwidth = 31\nheight = 11\n\
                    [[ops]]\nop = \"brightness\"\nfactor = [0.5, 1.5]\n\
                    [[ops]]\nop = \"erase\"\np = 1.0\n";
        let p = program(spec, w, h);
        let ids: Vec<u64> = (0..5).collect();
        let params = p.draw(9, 1, &ids);
        let (ow, oh) = (p.output.width, p.output.height);
        let masks: Vec<&[u8]> = vec![&m; 5];
        let mut got = vec![0u8; 5 * ow * oh];
        warp_masks(&p, &params, &masks, &mut got).unwrap();
        // The same program without brightness and erasing, run on the label image.
        let geometry = program(
            "version = 1\ninterpolation = \"nearest\"\nborder = \"reflect\"\n\
             [[ops]]\nop = \"affine\"\ndegrees = [-40.0, 40.0]\nscale = [0.7, 1.3]\ntranslate = [0.2, 0.2]\nshear = [-10.0, 10.0]\n\
             [[ops]]\nop = \"resize\"\nwidth = 31\nheight = 11\n",
            w,
            h,
        );
        let gparams = geometry.draw(9, 1, &ids);
        assert_eq!(gparams[0].fixed, params[0].fixed);
        let mut image_out = vec![0f32; 5 * 3 * ow * oh];
        let imgs: Vec<&[u8]> = vec![&img; 5];
        crate::cpu::run(
            &geometry.header(5),
            &geometry.pack(&gparams).unwrap(),
            &imgs,
            &mut image_out,
        );
        for s in 0..5 {
            for i in 0..ow * oh {
                let v = (image_out[s * 3 * ow * oh + i] * 255.0).round() as u8;
                assert_eq!(got[s * ow * oh + i], v, "sample {s} pixel {i}");
            }
        }
    }

    #[test]
    fn cutmix_pastes_the_partners_labels_and_mixup_is_refused() {
        let (w, h) = (16, 12);
        let p = program(
            "version = 1\n[[ops]]\nop = \"cutmix\"\nalpha = 1.0\np = 1.0\n",
            w,
            h,
        );
        let a = vec![1u8; w * h];
        let b = vec![2u8; w * h];
        let params = p.draw(3, 0, &[0, 1]);
        let mut out = vec![0u8; 2 * w * h];
        warp_masks(&p, &params, &[&a, &b], &mut out).unwrap();
        for (s, own, other) in [(0, 1u8, 2u8), (1, 2, 1)] {
            let mix = params[s].mix.as_ref().unwrap();
            let [x0, y0, x1, y1] = mix.rect.map(|v| v as usize);
            assert!(x1 > x0 && y1 > y0, "a box was drawn");
            for y in 0..h {
                for x in 0..w {
                    let inside = x >= x0 && x < x1 && y >= y0 && y < y1;
                    let want = if inside { other } else { own };
                    assert_eq!(out[s * w * h + y * w + x], want);
                }
            }
        }
        let e = warp_mask(&p, &params[0], &a, &mut out[..w * h]).unwrap_err();
        assert!(e.to_string().contains("warp_masks"), "{e}");
        let mixup = program("version = 1\n[[ops]]\nop = \"mixup\"\nalpha = 0.4\n", w, h);
        let e = warp_masks(&mixup, &mixup.draw(1, 0, &[0, 1]), &[&a, &b], &mut out)
            .unwrap_err()
            .to_string();
        assert!(e.contains("mixup"), "{e}");
    }

    #[test]
    fn recorded_parameters_replay_the_same_masks() {
        // `augment --replay` re-reads SampleParams from params.jsonl (serde JSON): the masks
        // warped with the read-back parameters are the ones warped with the drawn ones.
        let p = program(
            "version = 1\n[[ops]]\nop = \"affine\"\ndegrees = [-30.0, 30.0]\nscale = [0.8, 1.2]\n\
             [[ops]]\nop = \"random_resized_crop\"\nwidth = 11\nheight = 9\n",
            19,
            14,
        );
        let m = labels(19, 14);
        for id in 0..20 {
            let drawn = p.draw(8, 3, &[id]).remove(0);
            let text = serde_json::to_string(&drawn).unwrap();
            let read: SampleParams = serde_json::from_str(&text).unwrap();
            let (mut a, mut b) = (vec![0u8; 99], vec![0u8; 99]);
            warp_mask(&p, &drawn, &m, &mut a).unwrap();
            warp_mask(&p, &read, &m, &mut b).unwrap();
            assert_eq!(a, b, "sample {id}");
        }
    }

    #[test]
    fn blocks_inside_give_the_labels_of_the_pixel_by_pixel_rule() {
        // Realistic maps (small steps, rows crossing the edges) and arbitrary words (steps near
        // i32::MAX, positions that wrap): the blocked fast path of `labels` must equal the border
        // rule applied to every pixel, for every border and row offset.
        let mut state = 0x9e37_79b9_7f4a_7c15u64;
        let mut next = move || {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            state
        };
        let (iw, ih) = (37usize, 23usize);
        let mask: Vec<u8> = (0..iw * ih).map(|i| (i * 31 % 251) as u8).collect();
        let masks: [&[u8]; 1] = [&mask];
        let mut fast_blocks = 0;
        for case in 0..3000 {
            let frac = 1 + (next() % 24) as u32;
            let one = 1i64 << frac;
            let word = |r: u64| -> i32 {
                if case % 3 == 0 {
                    r as i32
                } else {
                    // A step of -1..1 pixel, in fixed point.
                    let t = (r % 1_000_000) as i64;
                    (t * one / 500_000 - one) as i32
                }
            };
            let mut params = [0u32; 16];
            for k in 0..6 {
                params[P_AFFINE + k] = word(next()) as u32;
            }
            if case % 3 != 0 {
                // Rows start from -5..30 pixels and go 0.25 pixel down per row at most.
                let offset = (next() % 35) as i64 * one - 5 * one;
                params[P_AFFINE + 2] = offset as i32 as u32;
                params[P_AFFINE + 5] = (offset / 2) as i32 as u32;
                params[P_AFFINE + 1] = (params[P_AFFINE + 1] as i32 / 4) as u32;
                params[P_AFFINE + 3] = (params[P_AFFINE + 3] as i32 / 8) as u32;
                params[P_AFFINE + 4] = (params[P_AFFINE + 4] as i32 / 4) as u32;
            }
            params[P_FRAC] = frac;
            let plane = Plane {
                ih: ih as i32,
                iw: iw as i32,
                ow: 100,
                border: (case % 3) as u32,
                stride: 16,
                params: &params,
                masks: &masks,
            };
            let (yo, x0) = ((next() % 40) as usize, (next() % 7) as usize);
            let mut fast = vec![0u8; 100 - x0];
            plane.labels(0, yo, x0, &mut fast);
            let mut slow = vec![0u8; 100 - x0];
            plane.labels_with_border(&mask, plane.row_map(0, yo, x0), &mut slow);
            assert_eq!(fast, slow, "case {case}");
            let m = plane.row_map(0, yo, x0);
            fast_blocks += (0..fast.len())
                .step_by(BLOCK)
                .filter(|&k| {
                    m.skip(k)
                        .inside(BLOCK.min(fast.len() - k), plane.iw, plane.ih)
                })
                .count();
        }
        assert!(
            fast_blocks > 1000,
            "the fast path ran in {fast_blocks} cases"
        );
    }

    #[test]
    fn wrong_sizes_are_errors_not_panics() {
        let p = program("version = 1\n", 4, 4);
        let params = p.draw(1, 0, &[0]);
        let mut out = vec![0u8; 16];
        let e = warp_mask(&p, &params[0], &[0u8; 15], &mut out).unwrap_err();
        assert!(e.to_string().contains("mask 0 has 15 labels"), "{e}");
        let e = warp_mask(&p, &params[0], &[0u8; 16], &mut out[..3]).unwrap_err();
        assert!(e.to_string().contains("holds 3 labels"), "{e}");
    }

    #[test]
    fn results_do_not_depend_on_batch_split_or_threads() {
        let spec = "version = 1\n[[ops]]\nop = \"rotate\"\ndegrees = [-30.0, 30.0]\n\
                    [[ops]]\nop = \"random_resized_crop\"\nwidth = 13\nheight = 9\n";
        let p = program(spec, 20, 15);
        let m: Vec<Vec<u8>> = (0..7)
            .map(|s| labels(20, 15).iter().map(|v| v + s).collect())
            .collect();
        let refs: Vec<&[u8]> = m.iter().map(|v| v.as_slice()).collect();
        let ids: Vec<u64> = (40..47).collect();
        let all = p.draw(5, 2, &ids);
        let mut whole = vec![0u8; 7 * 13 * 9];
        warp_masks(&p, &all, &refs, &mut whole).unwrap();
        let mut split = Vec::new();
        for (lo, hi) in [(0, 4), (4, 7)] {
            let part = p.draw(5, 2, &ids[lo..hi]);
            let mut out = vec![0u8; (hi - lo) * 13 * 9];
            rayon::ThreadPoolBuilder::new()
                .num_threads(1)
                .build()
                .unwrap()
                .install(|| warp_masks(&p, &part, &refs[lo..hi], &mut out).unwrap());
            split.extend(out);
        }
        assert_eq!(whole, split);
    }
}
