//! Counter-based randomness: every random number is a pure function of a key and a counter,
//! never of a stateful generator shared across samples. This is what makes results independent
//! of batch size, batch order, thread count and device.
//!
//! Two families:
//! - [`mix32`], [`pixel_hash`] and [`unit_f32`]: 32-bit, used per pixel, implemented
//!   identically in augtrain-augment's `src/augment.wgsl` (its `shader` tests compare them);
//! - [`Stream`]: 64-bit, host only, used to draw per-sample parameters, epoch orders, splits
//!   and synthetic data.

/// Wellons' `lowbias32` integer hash: a bijection on `u32` with good avalanche.
/// WGSL twin: `fn mix32` in augtrain-augment's `src/augment.wgsl`.
#[inline(always)]
pub const fn mix32(mut x: u32) -> u32 {
    x ^= x >> 16;
    x = x.wrapping_mul(0x7feb_352d);
    x ^= x >> 15;
    x = x.wrapping_mul(0x846c_a68b);
    x ^= x >> 16;
    x
}

/// Hash of a per-sample key and a per-value counter (pixel index × channels + channel, ...).
/// WGSL twin: `fn pixel_hash`.
#[inline(always)]
pub const fn pixel_hash(key: u32, index: u32) -> u32 {
    mix32(key ^ mix32(index))
}

/// A uniform number in [0, 1) from the top 24 bits of `h`; exact in `f32` on every device.
/// WGSL twin: `fn unit_f32`.
#[inline(always)]
pub fn unit_f32(h: u32) -> f32 {
    (h >> 8) as f32 * (1.0 / 16_777_216.0)
}

/// splitmix64's finalizer: a bijection on `u64` with good avalanche.
#[inline(always)]
pub const fn mix64(mut x: u64) -> u64 {
    x ^= x >> 30;
    x = x.wrapping_mul(0xbf58_476d_1ce4_e5b9);
    x ^= x >> 27;
    x = x.wrapping_mul(0x94d0_49bb_1331_11eb);
    x ^= x >> 31;
    x
}

const GOLDEN: u64 = 0x9e37_79b9_7f4a_7c15;

/// What a [`Stream`] is used for; part of its key so that different uses never share numbers.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(u64)]
pub enum Domain {
    /// Per-sample augmentation parameters: key (seed, epoch, sample id, op index).
    Augment = 1,
    /// Epoch order of the training samples: key (seed, epoch).
    Shuffle = 2,
    /// Train / validation / test splits: key (seed, class).
    Split = 3,
    /// The built-in synthetic dataset: key (seed, split, sample index).
    Synth = 4,
    /// Batch-level augmentation (mixup / cutmix partners): key (seed, epoch, batch start).
    Batch = 5,
    /// The training device's generator at the start of an epoch (dropout masks): key
    /// (seed, epoch), so that a resumed run draws what an uninterrupted one draws.
    Model = 6,
}

/// A deterministic stream of random numbers identified by a key.
///
/// `Stream::new(Domain::Augment, &[seed, epoch, sample_id, op])` always yields the same numbers,
/// whatever else the program does.
#[derive(Clone, Debug)]
pub struct Stream {
    key: u64,
    counter: u64,
}

impl Stream {
    /// A stream keyed by a domain and any number of integers.
    pub fn new(domain: Domain, parts: &[u64]) -> Self {
        let mut key = mix64(domain as u64 ^ 0x243f_6a88_85a3_08d3);
        for &p in parts {
            key = mix64(key ^ mix64(p.wrapping_add(GOLDEN)));
        }
        Self { key, counter: 0 }
    }

    /// The next 64 random bits.
    #[inline]
    pub fn next_u64(&mut self) -> u64 {
        self.counter = self.counter.wrapping_add(1);
        mix64(self.key ^ self.counter.wrapping_mul(GOLDEN))
    }

    /// The next 32 random bits.
    #[inline]
    pub fn next_u32(&mut self) -> u32 {
        (self.next_u64() >> 32) as u32
    }

    /// A uniform number in [0, 1) with 53 random bits.
    #[inline]
    pub fn uniform(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 * (1.0 / 9_007_199_254_740_992.0)
    }

    /// A uniform number in [lo, hi) (returns `lo` when the range is empty).
    #[inline]
    pub fn range(&mut self, lo: f64, hi: f64) -> f64 {
        if hi <= lo {
            // Still consume a draw, so that later draws do not shift with the range.
            let _ = self.next_u64();
            lo
        } else {
            lo + (hi - lo) * self.uniform()
        }
    }

    /// A uniform integer in [0, n) (0 when n is 0), by Lemire's multiply-shift.
    #[inline]
    pub fn below(&mut self, n: u64) -> u64 {
        ((self.next_u64() as u128 * n as u128) >> 64) as u64
    }

    /// `true` with probability `p`.
    #[inline]
    pub fn bernoulli(&mut self, p: f64) -> bool {
        self.uniform() < p
    }

    /// A standard normal number (Box–Muller).
    pub fn normal(&mut self) -> f64 {
        let u1 = 1.0 - self.uniform(); // (0, 1]
        let u2 = self.uniform();
        (-2.0 * u1.ln()).sqrt() * (std::f64::consts::TAU * u2).cos()
    }

    /// Shuffle a slice in place (Fisher–Yates).
    pub fn shuffle<T>(&mut self, items: &mut [T]) {
        for i in (1..items.len()).rev() {
            let j = self.below(i as u64 + 1) as usize;
            items.swap(i, j);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn streams_are_pure_functions_of_their_key() {
        let a: Vec<u64> = {
            let mut s = Stream::new(Domain::Augment, &[1, 2, 3]);
            (0..5).map(|_| s.next_u64()).collect()
        };
        let b: Vec<u64> = {
            let mut s = Stream::new(Domain::Augment, &[1, 2, 3]);
            (0..5).map(|_| s.next_u64()).collect()
        };
        let c: Vec<u64> = {
            let mut s = Stream::new(Domain::Augment, &[1, 2, 4]);
            (0..5).map(|_| s.next_u64()).collect()
        };
        assert_eq!(a, b);
        assert_ne!(a, c);
        let d: Vec<u64> = {
            let mut s = Stream::new(Domain::Shuffle, &[1, 2, 3]);
            (0..5).map(|_| s.next_u64()).collect()
        };
        assert_ne!(a, d);
    }

    #[test]
    fn uniform_moments() {
        let mut s = Stream::new(Domain::Synth, &[7]);
        let n = 100_000;
        let xs: Vec<f64> = (0..n).map(|_| s.uniform()).collect();
        let mean = xs.iter().sum::<f64>() / n as f64;
        let var = xs.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / n as f64;
        assert!((mean - 0.5).abs() < 0.01, "mean {mean}");
        assert!((var - 1.0 / 12.0).abs() < 0.005, "var {var}");
        assert!(xs.iter().all(|&x| (0.0..1.0).contains(&x)));
    }

    #[test]
    fn normal_moments() {
        let mut s = Stream::new(Domain::Synth, &[8]);
        let n = 100_000;
        let xs: Vec<f64> = (0..n).map(|_| s.normal()).collect();
        let mean = xs.iter().sum::<f64>() / n as f64;
        let var = xs.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / n as f64;
        assert!(mean.abs() < 0.02, "mean {mean}");
        assert!((var - 1.0).abs() < 0.03, "var {var}");
    }

    #[test]
    fn below_is_in_range_and_covers_it() {
        let mut s = Stream::new(Domain::Shuffle, &[1]);
        let mut seen = [false; 7];
        for _ in 0..1000 {
            let v = s.below(7) as usize;
            seen[v] = true;
        }
        assert!(seen.iter().all(|&b| b));
        assert_eq!(s.below(0), 0);
    }

    #[test]
    fn mix32_known_values() {
        // Reference values of lowbias32 (also asserted in the WGSL twin's tests).
        assert_eq!(mix32(0), 0);
        assert_eq!(mix32(1), 0x6889_90c0);
    }

    #[test]
    fn unit_f32_is_in_unit_interval() {
        assert_eq!(unit_f32(0), 0.0);
        assert!(unit_f32(u32::MAX) < 1.0);
    }
}
