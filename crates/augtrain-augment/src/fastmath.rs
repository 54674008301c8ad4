//! Branch-free polynomial `ln` and `cos(2πu)` used by the per-pixel Gaussian noise, written
//! identically here and in `augment.wgsl` (`fn fast_ln`, `fn cos_2pi`), so the CPU twin
//! and the GPU draw the same noise, and the CPU loops vectorize.

/// ln 2.
const LN2: f32 = std::f32::consts::LN_2;

/// Natural logarithm of a positive normal `x`; absolute error below 1e-6 on (0, 1].
#[inline(always)]
pub fn fast_ln(x: f32) -> f32 {
    let bits = x.to_bits();
    let mut e = ((bits >> 23) & 0xff) as i32 - 127;
    let mut m = f32::from_bits((bits & 0x007f_ffff) | 0x3f80_0000); // [1, 2)
    // Centre the mantissa on 1: m in [√½, √2).
    let big = m > std::f32::consts::SQRT_2;
    m = if big { m * 0.5 } else { m };
    e += big as i32;
    let t = (m - 1.0) / (m + 1.0);
    let t2 = t * t;
    let p = t * (2.0 + t2 * (0.666_666_7 + t2 * (0.4 + t2 * (0.285_714_3 + t2 * 0.222_222_22))));
    e as f32 * LN2 + p
}

/// `cos(2π·u)` for `u` in [0, 1); absolute error below 1e-6.
#[inline(always)]
pub fn cos_2pi(u: f32) -> f32 {
    // cos(2πu) = sin(2π·z) with z = |u − ½| − ¼ in [−¼, ¼].
    let z = (u - 0.5).abs() - 0.25;
    let x = z * std::f32::consts::TAU;
    let x2 = x * x;
    x * (1.0
        + x2 * (-0.166_666_67
            + x2 * (0.008_333_334
                + x2 * (-0.000_198_412_7 + x2 * (2.755_731_9e-6 + x2 * -2.505_210_8e-8)))))
}

/// The `j`-th standard normal value of the stream `key` (Box–Muller with the polynomials
/// above). Values `2k` and `2k + 1` are the cosine and sine halves of one Box–Muller pair drawn
/// from one 32-bit hash of `k`: two 16-bit uniforms, so the tails stop at ±4.7σ.
/// WGSL twin: `fn gaussian`.
#[inline(always)]
pub fn gaussian(key: u32, j: u32) -> f32 {
    let h = augtrain_data::util::rng::pixel_hash(key, j >> 1);
    let u1 = 1.0 - (h >> 16) as f32 * (1.0 / 65_536.0); // (0, 1]
    let u2 = (h & 0xffff) as f32 * (1.0 / 65_536.0); // [0, 1)
    // sin(2πu) = cos(2π(u + ¾)); both sums are exact in f32.
    let shifted = u2 + 0.75 * (j & 1) as f32;
    let u = if shifted >= 1.0 {
        shifted - 1.0
    } else {
        shifted
    };
    (-2.0 * fast_ln(u1)).sqrt() * cos_2pi(u)
}

/// Values `2k` and `2k + 1` of the normal stream `key` (both halves of Box–Muller pair `k`)
/// from one hash, one `ln` and one `sqrt`; bit-identical to [`gaussian`]`(key, 2k)` and
/// `(key, 2k + 1)`. WGSL twin: `fn gaussian_pair`.
#[inline(always)]
pub fn gaussian_pair(key: u32, k: u32) -> (f32, f32) {
    let h = augtrain_data::util::rng::pixel_hash(key, k);
    let u1 = 1.0 - (h >> 16) as f32 * (1.0 / 65_536.0);
    let u2 = (h & 0xffff) as f32 * (1.0 / 65_536.0);
    let shifted = u2 + 0.75;
    let u = if shifted >= 1.0 {
        shifted - 1.0
    } else {
        shifted
    };
    let r = (-2.0 * fast_ln(u1)).sqrt();
    (r * cos_2pi(u2), r * cos_2pi(u))
}

/// Pairs per block of [`gaussians`]: one AVX-512 vector of f32 lanes.
const PAIR_BLOCK: usize = 16;

/// Values `first`, `first + 1`, ... of the normal stream `key` into `out`, each Box–Muller
/// pair drawn once ([`gaussian_pair`]); equal to [`gaussian`] value by value. The pairs are
/// computed a block at a time into two lane arrays (cosine halves, sine halves) and then
/// interleaved, so that the caller's vector width (inlined into its AVX2/AVX-512 build)
/// computes [`PAIR_BLOCK`] pairs at once.
#[inline(always)]
pub fn gaussians(key: u32, first: u32, out: &mut [f32]) {
    let mut i = 0;
    if first & 1 == 1 && !out.is_empty() {
        out[0] = gaussian(key, first);
        i = 1;
    }
    let pairs = (out.len() - i) / 2;
    let mut done = 0;
    while done < pairs {
        let n = (pairs - done).min(PAIR_BLOCK);
        let j0 = first.wrapping_add(i as u32);
        let mut cos_half = [0f32; PAIR_BLOCK];
        let mut sin_half = [0f32; PAIR_BLOCK];
        for l in 0..PAIR_BLOCK {
            // The value index wraps at 2^32 (as in the shader), so the pair index is taken
            // from it, not counted on from the block's first pair.
            let k = j0.wrapping_add(2 * l as u32) >> 1;
            let (a, b) = gaussian_pair(key, k);
            cos_half[l] = a;
            sin_half[l] = b;
        }
        if n == PAIR_BLOCK {
            // A whole block: a constant trip count, so the interleave is a vector shuffle.
            let dst: &mut [f32; 2 * PAIR_BLOCK] = (&mut out[i..i + 2 * PAIR_BLOCK])
                .try_into()
                .expect("a whole block of pairs");
            for l in 0..PAIR_BLOCK {
                dst[2 * l] = cos_half[l];
                dst[2 * l + 1] = sin_half[l];
            }
        } else {
            for l in 0..n {
                out[i + 2 * l] = cos_half[l];
                out[i + 2 * l + 1] = sin_half[l];
            }
        }
        i += 2 * n;
        done += n;
    }
    if i < out.len() {
        out[i] = gaussian(key, first.wrapping_add(i as u32));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pairs_equal_the_values_they_replace_bit_for_bit() {
        for first in [0u32, 1, 2, 7, u32::MAX - 4] {
            for len in [0usize, 1, 2, 3, 8, 9, 31, 32, 33, 34, 67] {
                let mut got = vec![0f32; len];
                gaussians(11, first, &mut got);
                for (i, g) in got.iter().enumerate() {
                    let want = gaussian(11, first.wrapping_add(i as u32));
                    assert_eq!(
                        g.to_bits(),
                        want.to_bits(),
                        "first {first} len {len} at {i}"
                    );
                }
            }
        }
    }

    #[test]
    fn ln_matches_std() {
        let mut worst = 0.0f32;
        for i in 1..=100_000u32 {
            let x = i as f32 / 100_000.0;
            worst = worst.max((fast_ln(x) - x.ln()).abs());
        }
        let tiny = 1.0 / 16_777_216.0f32;
        worst = worst.max((fast_ln(tiny) - tiny.ln()).abs());
        assert!(worst < 2e-6, "{worst}");
    }

    #[test]
    fn cos_matches_std() {
        let mut worst = 0.0f32;
        for i in 0..100_000u32 {
            let u = i as f32 / 100_000.0;
            worst = worst.max((cos_2pi(u) - (u * std::f32::consts::TAU).cos()).abs());
        }
        assert!(worst < 2e-6, "{worst}");
    }

    #[test]
    fn gaussian_moments() {
        let n = 200_000u32;
        let xs: Vec<f64> = (0..n).map(|j| gaussian(9, j) as f64).collect();
        let mean = xs.iter().sum::<f64>() / n as f64;
        let var = xs.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / n as f64;
        let tail = xs.iter().filter(|x| x.abs() > 2.0).count() as f64 / n as f64;
        assert!(mean.abs() < 0.01, "{mean}");
        assert!((var - 1.0).abs() < 0.02, "{var}");
        assert!((tail - 0.0455).abs() < 0.003, "{tail}");
        // The two halves of a pair are uncorrelated.
        let corr: f64 = (0..n / 2)
            .map(|k| xs[2 * k as usize] * xs[2 * k as usize + 1])
            .sum::<f64>()
            / (n / 2) as f64;
        assert!(corr.abs() < 0.01, "{corr}");
    }
}
