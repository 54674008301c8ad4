//! Image health properties with cleanvision's definitions and default thresholds.
//!
//! Every score is in [0, 1], lower = worse; an image has the issue when its score is below the
//! threshold.
//!
//! | issue | score | threshold |
//! | --- | --- | --- |
//! | dark | 99th percentile of brightness `sqrt(0.241R² + 0.691G² + 0.068B²) / 255` | 0.32 |
//! | light | 1 − 5th percentile of brightness | 0.05 |
//! | odd aspect ratio | `min(w/h, h/w)` | 0.35 |
//! | low information | `min(1, 0.1 · entropy)`, entropy in bits of the band histograms (PIL's `Image.entropy`) | 0.3 |
//! | blurry | `min(1, (1 − e^(−0.01·σ_edges)) + s)` with `σ_edges` the standard deviation of the 3×3 edge filter (`[-1…8…-1]`, PIL's `FIND_EDGES`) on the gray image shrunk to at most 64 px, and `s = 1 − e^(−0.01·std(gray histogram))` kept only above 0.18 | 0.29 |
//! | odd size | `1 − clip(|√w·√h − mid| / gap, 0, 1)` with fences at Q1 − 3·IQR and Q3 + 3·IQR of `√w·√h` over the dataset, mid and gap their centre and width | 0.5 |
//! | grayscale stored as colour | 0 when a 3-channel image has R = G = B everywhere, else 1 | 0.5 |
//!
//! Percentiles interpolate linearly between order statistics (NumPy's default).

use serde::Serialize;

/// Thresholds (cleanvision's defaults).
pub const DARK: f64 = 0.32;
/// Light threshold.
pub const LIGHT: f64 = 0.05;
/// Odd aspect ratio threshold.
pub const ODD_ASPECT_RATIO: f64 = 0.35;
/// Low information threshold.
pub const LOW_INFORMATION: f64 = 0.3;
/// Blurry threshold.
pub const BLURRY: f64 = 0.29;
/// Odd size threshold.
pub const ODD_SIZE: f64 = 0.5;

/// Per-image properties that need only the image itself.
#[derive(Clone, Debug, Default, Serialize, PartialEq)]
pub struct Health {
    /// 99th percentile brightness.
    pub dark_score: f64,
    /// 1 − 5th percentile brightness.
    pub light_score: f64,
    /// `min(w/h, h/w)`.
    pub odd_aspect_ratio_score: f64,
    /// Normalized entropy.
    pub low_information_score: f64,
    /// Edge-strength score.
    pub blurry_score: f64,
    /// 0 for gray content stored as colour.
    pub grayscale_score: f64,
    /// `√w · √h`, for the dataset-level odd-size check.
    pub size: f64,
}

/// The `p`-th percentile (0–100) of `values` (reordered in place), NumPy's linear method.
pub fn percentile(values: &mut [f64], p: f64) -> f64 {
    let n = values.len();
    if n == 0 {
        return f64::NAN;
    }
    let rank = p / 100.0 * (n - 1) as f64;
    let lo = rank.floor() as usize;
    let hi = rank.ceil() as usize;
    let cmp = |a: &f64, b: &f64| a.partial_cmp(b).unwrap_or(std::cmp::Ordering::Equal);
    let (_, v_lo, right) = values.select_nth_unstable_by(lo, cmp);
    let v_lo = *v_lo;
    let v_hi = if hi == lo {
        v_lo
    } else {
        // The smallest of the values after `lo` is the next order statistic.
        right.iter().copied().fold(f64::INFINITY, f64::min)
    };
    v_lo + (v_hi - v_lo) * (rank - lo as f64)
}

fn brightness(px: &[u8], channels: usize) -> Vec<f64> {
    px.chunks_exact(channels)
        .map(|p| {
            if channels >= 3 {
                let (r, g, b) = (p[0] as f64, p[1] as f64, p[2] as f64);
                (0.241 * r * r + 0.691 * g * g + 0.068 * b * b).sqrt() / 255.0
            } else {
                p[0] as f64 / 255.0
            }
        })
        .collect()
}

/// PIL's `Image.entropy()`: Shannon entropy (bits) of the concatenated per-band histograms.
fn entropy(px: &[u8], channels: usize) -> f64 {
    let bands = channels.min(3);
    let mut hist = vec![0u64; 256 * bands];
    for p in px.chunks_exact(channels) {
        for b in 0..bands {
            hist[b * 256 + p[b] as usize] += 1;
        }
    }
    let total: u64 = hist.iter().sum();
    if total == 0 {
        return 0.0;
    }
    hist.iter()
        .filter(|&&c| c > 0)
        .map(|&c| {
            let p = c as f64 / total as f64;
            -p * p.log2()
        })
        .sum()
}

/// Gray (ITU-R 601-2 luma, as PIL's `convert("L")`) of an HWC image.
pub fn gray(px: &[u8], channels: usize) -> Vec<u8> {
    px.chunks_exact(channels)
        .map(|p| {
            if channels >= 3 {
                // PIL: L = R*299/1000 + G*587/1000 + B*114/1000, rounded.
                ((p[0] as u32 * 19595 + p[1] as u32 * 38470 + p[2] as u32 * 7471 + 0x8000) >> 16)
                    as u8
            } else {
                p[0]
            }
        })
        .collect()
}

/// The blurry score of a gray image of `w × h`.
fn blurriness(g: &[u8], w: usize, h: usize) -> f64 {
    // Shrink so the longer side is at most 64 px (cleanvision's MAX_RESOLUTION_FOR_BLURRY_DETECTION).
    let ratio = w.max(h) as f64 / 64.0;
    let (g, w, h) = if ratio > 1.0 {
        let (nw, nh) = (
            ((w as f64 / ratio) as u32).max(1),
            ((h as f64 / ratio) as u32).max(1),
        );
        let img = image::GrayImage::from_raw(w as u32, h as u32, g.to_vec()).expect("gray size");
        let small = image::imageops::resize(&img, nw, nh, image::imageops::FilterType::CatmullRom);
        (small.into_raw(), nw as usize, nh as usize)
    } else {
        (g.to_vec(), w, h)
    };
    // PIL FIND_EDGES: 3×3 kernel, centre 8, neighbours −1, clipped to 0..255; border pixels
    // keep their value.
    let mut edges = g.clone();
    if w >= 3 && h >= 3 {
        for y in 1..h - 1 {
            for x in 1..w - 1 {
                let mut s = 8 * g[y * w + x] as i32;
                for dy in [-1i32, 0, 1] {
                    for dx in [-1i32, 0, 1] {
                        if dx != 0 || dy != 0 {
                            s -= g[(y as i32 + dy) as usize * w + (x as i32 + dx) as usize] as i32;
                        }
                    }
                }
                edges[y * w + x] = s.clamp(0, 255) as u8;
            }
        }
    }
    let n = edges.len() as f64;
    let mean = edges.iter().map(|&v| v as f64).sum::<f64>() / n;
    let var = edges
        .iter()
        .map(|&v| (v as f64 - mean).powi(2))
        .sum::<f64>()
        / n;
    let mut hist = [0f64; 256];
    for &v in &g {
        hist[v as usize] += 1.0;
    }
    let hmean = hist.iter().sum::<f64>() / 256.0;
    let hstd = (hist.iter().map(|v| (v - hmean).powi(2)).sum::<f64>() / 256.0).sqrt();
    let blur = 1.0 - (-0.01 * var.sqrt()).exp();
    let mut std_score = 1.0 - (-0.01 * hstd).exp();
    if std_score <= 0.18 {
        std_score = 0.0;
    }
    (blur + std_score).min(1.0)
}

/// All per-image properties of an HWC image.
pub fn measure(px: &[u8], width: usize, height: usize, channels: usize) -> Health {
    let mut b = brightness(px, channels);
    let p99 = percentile(&mut b, 99.0);
    let p5 = percentile(&mut b, 5.0);
    let gray_as_colour = channels >= 3
        && px
            .chunks_exact(channels)
            .all(|p| p[0] == p[1] && p[1] == p[2]);
    Health {
        dark_score: p99,
        light_score: 1.0 - p5,
        odd_aspect_ratio_score: (width as f64 / height as f64).min(height as f64 / width as f64),
        low_information_score: (0.1 * entropy(px, channels)).min(1.0),
        blurry_score: blurriness(&gray(px, channels), width, height),
        grayscale_score: if gray_as_colour { 0.0 } else { 1.0 },
        size: (width as f64).sqrt() * (height as f64).sqrt(),
    }
}

/// Odd-size scores for a dataset's `√w·√h` values (cleanvision's IQR fences at 3·IQR) and the
/// threshold to compare them with.
pub fn odd_size_scores(sizes: &[f64]) -> (Vec<f64>, f64) {
    let mut v = sizes.to_vec();
    let q1 = percentile(&mut v, 25.0);
    let q3 = percentile(&mut v, 75.0);
    let iqr = q3 - q1;
    let (lo, hi) = (q1 - 3.0 * iqr, q3 + 3.0 * iqr);
    let mid = (lo + hi) / 2.0;
    let gap = hi - lo;
    let (norm, threshold) = if gap > 0.0 {
        (gap, ODD_SIZE)
    } else {
        (mid, 1.0)
    };
    (
        sizes
            .iter()
            .map(|s| 1.0 - ((s - mid).abs() / norm).clamp(0.0, 1.0))
            .collect(),
        threshold,
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percentiles_match_numpy() {
        // numpy.percentile([1, 2, 3, 4], 50) = 2.5, 99 → 3.97
        let mut v = vec![4.0, 1.0, 3.0, 2.0];
        assert!((percentile(&mut v, 50.0) - 2.5).abs() < 1e-12);
        let mut v = vec![4.0, 1.0, 3.0, 2.0];
        assert!((percentile(&mut v, 99.0) - 3.97).abs() < 1e-12);
    }

    #[test]
    fn dark_light_flat_and_gray_images_are_recognised() {
        let (w, h) = (40, 30);
        let dark = vec![10u8; w * h * 3];
        let hd = measure(&dark, w, h, 3);
        assert!(hd.dark_score < DARK && hd.low_information_score < LOW_INFORMATION);
        assert_eq!(hd.grayscale_score, 0.0);
        let light = vec![250u8; w * h * 3];
        assert!(measure(&light, w, h, 3).light_score < LIGHT);
        let noisy: Vec<u8> = (0..w * h * 3)
            .map(|i| (augtrain_data::util::rng::pixel_hash(1, i as u32) >> 24) as u8)
            .collect();
        let hn = measure(&noisy, w, h, 3);
        assert!(hn.dark_score > DARK && hn.light_score > LIGHT && hn.low_information_score > 0.7);
        assert!(hn.blurry_score > BLURRY && hn.grayscale_score == 1.0);
        let wide = vec![128u8; 100 * 20 * 3];
        assert!((measure(&wide, 100, 20, 3).odd_aspect_ratio_score - 0.2).abs() < 1e-12);
    }

    #[test]
    fn odd_sizes_are_outside_the_fences() {
        let mut sizes: Vec<f64> = (0..24).map(|i| 80.0 + 2.0 * i as f64).collect();
        sizes.push(2000.0);
        let (scores, t) = odd_size_scores(&sizes);
        assert!(scores[24] < t);
        assert!(scores[..24].iter().all(|s| *s >= t));
        // All sizes equal: cleanvision flags anything that differs at all.
        let (scores, t) = odd_size_scores(&[100.0, 100.0, 100.0, 100.0, 100.0, 101.0]);
        assert_eq!(t, 1.0);
        assert!(scores[5] < t && scores[0] >= t);
    }
}
