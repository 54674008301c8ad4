//! The built-in synthetic dataset: procedurally drawn coloured shapes, deterministic from a
//! seed. It is the default data when no `--data` is given, so that `augtrain train` works on a
//! fresh machine with nothing downloaded.
//!
//! Ten classes, each a shape whose identity survives rotation: circle, ring, triangle, square,
//! star, cross, crescent, half-disc, bar, two dots. Every image varies position, size, rotation,
//! foreground colour and a gradient background with mild noise. Image `i` of a split depends
//! only on `(seed, split, i)`; labels cycle through the classes so every class has the same
//! count (±1).

use std::sync::LazyLock;

use rayon::prelude::*;

use super::Dataset;
use crate::util::rng::{Domain, Stream};

/// Class names of the synthetic dataset, in label order.
pub const CLASS_NAMES: [&str; 10] = [
    "circle",
    "ring",
    "triangle",
    "square",
    "star",
    "cross",
    "crescent",
    "half-disc",
    "bar",
    "two-dots",
];

/// Which split an image belongs to; part of its random key.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SynthSplit {
    /// Training images.
    Train = 0,
    /// Test images.
    Test = 1,
}

/// Generate `n` synthetic images of `size × size` RGB pixels for `split`.
///
/// Sample ids are `i` for the train split and `1_000_000_000 + i` for the test split.
pub fn generate(n: usize, size: usize, seed: u64, split: SynthSplit) -> Dataset {
    let px = size * size * 3;
    let mut images = vec![0u8; n * px];
    images
        .par_chunks_mut(px.max(1))
        .enumerate()
        .for_each(|(i, out)| {
            let label = i % CLASS_NAMES.len();
            draw(
                out,
                size,
                label,
                &mut Stream::new(Domain::Synth, &[seed, split as u64, i as u64]),
            );
        });
    let id_base = match split {
        SynthSplit::Train => 0,
        SynthSplit::Test => 1_000_000_000,
    };
    Dataset::from_pixels(
        crate::ImageShape::new(size, size, 3),
        CLASS_NAMES.iter().map(|s| s.to_string()).collect(),
        images,
        (0..n).map(|i| (i % CLASS_NAMES.len()) as u32).collect(),
        (0..n as u64).map(|i| id_base + i).collect(),
        Vec::new(),
    )
}

fn luminance(c: [f64; 3]) -> f64 {
    0.299 * c[0] + 0.587 * c[1] + 0.114 * c[2]
}

fn random_colour(rng: &mut Stream) -> [f64; 3] {
    [rng.uniform(), rng.uniform(), rng.uniform()]
}

/// Draw one image of class `label` into `out` (size × size × 3).
fn draw(out: &mut [u8], size: usize, label: usize, rng: &mut Stream) {
    let s = size as f64;
    // Background: a linear gradient between two colours in a random direction.
    let bg_a = random_colour(rng);
    let bg_b = random_colour(rng);
    let bg_angle = rng.range(0.0, std::f64::consts::TAU);
    let (gx, gy) = (bg_angle.cos(), bg_angle.sin());
    // Foreground: a colour whose luminance differs clearly from the background's mean.
    let bg_lum = 0.5 * (luminance(bg_a) + luminance(bg_b));
    let mut fg = random_colour(rng);
    for _ in 0..16 {
        if (luminance(fg) - bg_lum).abs() >= 0.3 {
            break;
        }
        fg = random_colour(rng);
    }
    if (luminance(fg) - bg_lum).abs() < 0.3 {
        fg = if bg_lum > 0.5 {
            [0.05, 0.05, 0.1]
        } else {
            [0.95, 0.95, 0.9]
        };
    }
    let cx = s * rng.range(0.38, 0.62);
    let cy = s * rng.range(0.38, 0.62);
    let r = s * rng.range(0.24, 0.36);
    let theta = rng.range(0.0, std::f64::consts::TAU);
    let (sin_t, cos_t) = theta.sin_cos();
    let noise_key = rng.next_u32();

    const SUB: usize = 3;
    for y in 0..size {
        for x in 0..size {
            let mut cover = 0usize;
            for sy in 0..SUB {
                for sx in 0..SUB {
                    let px = x as f64 + (sx as f64 + 0.5) / SUB as f64;
                    let py = y as f64 + (sy as f64 + 0.5) / SUB as f64;
                    let (dx, dy) = ((px - cx) / r, (py - cy) / r);
                    let u = cos_t * dx + sin_t * dy;
                    let v = -sin_t * dx + cos_t * dy;
                    cover += inside(label, u, v) as usize;
                }
            }
            let alpha = cover as f64 / (SUB * SUB) as f64;
            let t = (((x as f64 + 0.5) / s - 0.5) * gx + ((y as f64 + 0.5) / s - 0.5) * gy + 0.5)
                .clamp(0.0, 1.0);
            let idx = (y * size + x) as u32;
            for c in 0..3 {
                let bg = bg_a[c] * (1.0 - t) + bg_b[c] * t;
                let h = crate::util::rng::pixel_hash(noise_key, idx * 3 + c as u32);
                let noise = (crate::util::rng::unit_f32(h) as f64 - 0.5) * 0.08;
                let v = bg * (1.0 - alpha) + fg[c] * alpha + noise;
                out[(y * size + x) * 3 + c] = (v.clamp(0.0, 1.0) * 255.0).round() as u8;
            }
        }
    }
}

/// Point-in-polygon by the even–odd rule.
fn in_polygon(u: f64, v: f64, pts: &[(f64, f64)]) -> bool {
    let mut inside = false;
    let mut j = pts.len() - 1;
    for i in 0..pts.len() {
        let (xi, yi) = pts[i];
        let (xj, yj) = pts[j];
        if (yi > v) != (yj > v) && u < (xj - xi) * (v - yi) / (yj - yi) + xi {
            inside = !inside;
        }
        j = i;
    }
    inside
}

fn regular(n: usize, radius: f64, phase: f64) -> Vec<(f64, f64)> {
    (0..n)
        .map(|k| {
            let a = phase + std::f64::consts::TAU * k as f64 / n as f64;
            (radius * a.cos(), radius * a.sin())
        })
        .collect()
}

static TRIANGLE: LazyLock<Vec<(f64, f64)>> =
    LazyLock::new(|| regular(3, 1.1, -std::f64::consts::FRAC_PI_2));

static STAR: LazyLock<Vec<(f64, f64)>> = LazyLock::new(|| {
    let outer = regular(5, 1.1, -std::f64::consts::FRAC_PI_2);
    let inner = regular(
        5,
        0.45,
        -std::f64::consts::FRAC_PI_2 + std::f64::consts::PI / 5.0,
    );
    outer
        .iter()
        .zip(inner.iter())
        .flat_map(|(&o, &i)| [o, i])
        .collect()
});

/// Whether the shape of class `label`, in unit coordinates (radius 1 at the origin), covers
/// the point (u, v).
fn inside(label: usize, u: f64, v: f64) -> bool {
    let r2 = u * u + v * v;
    match label {
        0 => r2 <= 0.85 * 0.85,
        1 => (0.5 * 0.5..=1.0).contains(&r2),
        2 => in_polygon(u, v, &TRIANGLE),
        3 => u.abs() <= 0.72 && v.abs() <= 0.72,
        4 => in_polygon(u, v, &STAR),
        5 => (u.abs() <= 0.28 && v.abs() <= 1.0) || (v.abs() <= 0.28 && u.abs() <= 1.0),
        6 => r2 <= 1.0 && (u - 0.5) * (u - 0.5) + v * v > 0.8 * 0.8,
        7 => r2 <= 1.0 && v >= 0.1,
        8 => u.abs() <= 1.05 && v.abs() <= 0.26,
        _ => {
            (u - 0.55) * (u - 0.55) + v * v <= 0.4 * 0.4
                || (u + 0.55) * (u + 0.55) + v * v <= 0.4 * 0.4
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn deterministic_and_balanced() {
        let a = generate(50, 32, 7, SynthSplit::Train);
        let b = generate(50, 32, 7, SynthSplit::Train);
        let c = generate(50, 32, 8, SynthSplit::Train);
        let t = generate(50, 32, 7, SynthSplit::Test);
        assert_eq!(a.pixels(), b.pixels());
        assert_ne!(a.pixels(), c.pixels());
        assert_ne!(a.pixels(), t.pixels());
        assert_eq!(a.class_counts(), vec![5; 10]);
        assert_eq!(a.pixels().len(), 50 * 32 * 32 * 3);
    }

    #[test]
    fn every_class_draws_a_visible_shape() {
        for label in 0..10 {
            let covered = (0..64 * 64)
                .filter(|i| {
                    let u = (i % 64) as f64 / 32.0 - 1.0;
                    let v = (i / 64) as f64 / 32.0 - 1.0;
                    inside(label, u, v)
                })
                .count();
            assert!(covered > 200, "class {label} covers {covered} of 4096");
            assert!(covered < 3900, "class {label} covers {covered} of 4096");
        }
    }
}
