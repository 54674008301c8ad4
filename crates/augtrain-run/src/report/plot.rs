//! PNG charts drawn in pure Rust: an RGB canvas with anti-aliased lines and text (the bitmap
//! font in [`super::font`]), and the run's charts: training curves, the confusion-matrix heatmap,
//! per-class precision / recall / F1 bars.

use super::font::{CELL_H, CELL_W, GLYPHS};
use super::images::Picture;

/// An RGB colour.
pub type Rgb = [u8; 3];

/// Chart colours (Okabe–Ito, colour-blind safe).
pub const PALETTE: [Rgb; 6] = [
    [0, 114, 178],
    [230, 159, 0],
    [0, 158, 115],
    [204, 121, 167],
    [86, 180, 233],
    [213, 94, 0],
];
const INK: Rgb = [40, 40, 40];
const GRID: Rgb = [225, 225, 225];

/// Horizontal text anchor.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Anchor {
    /// `x` is the left edge.
    Left,
    /// `x` is the centre.
    Center,
    /// `x` is the right edge.
    Right,
}

/// An RGB drawing surface.
pub struct Canvas {
    /// Width in pixels.
    pub width: usize,
    /// Height in pixels.
    pub height: usize,
    px: Vec<u8>,
}

impl Canvas {
    /// A canvas filled with white.
    pub fn new(width: usize, height: usize) -> Self {
        Self {
            width,
            height,
            px: vec![255; width * height * 3],
        }
    }

    /// Blend `color` into pixel (x, y) with coverage `alpha` in [0, 1].
    pub fn blend(&mut self, x: i64, y: i64, color: Rgb, alpha: f64) {
        if x < 0 || y < 0 || x >= self.width as i64 || y >= self.height as i64 || alpha <= 0.0 {
            return;
        }
        let a = alpha.min(1.0);
        let i = (y as usize * self.width + x as usize) * 3;
        for (dst, &src) in self.px[i..i + 3].iter_mut().zip(&color) {
            let old = *dst as f64;
            *dst = (old + (src as f64 - old) * a).round() as u8;
        }
    }

    /// Fill a rectangle.
    pub fn fill_rect(&mut self, x: i64, y: i64, w: i64, h: i64, color: Rgb) {
        for yy in y.max(0)..(y + h).min(self.height as i64) {
            for xx in x.max(0)..(x + w).min(self.width as i64) {
                self.blend(xx, yy, color, 1.0);
            }
        }
    }

    /// An anti-aliased line of `thickness` pixels.
    pub fn line(&mut self, x0: f64, y0: f64, x1: f64, y1: f64, color: Rgb, thickness: f64) {
        let r = thickness / 2.0;
        let (dx, dy) = (x1 - x0, y1 - y0);
        let len2 = dx * dx + dy * dy;
        let (minx, maxx) = (
            (x0.min(x1) - r - 1.0).floor() as i64,
            (x0.max(x1) + r + 1.0).ceil() as i64,
        );
        let (miny, maxy) = (
            (y0.min(y1) - r - 1.0).floor() as i64,
            (y0.max(y1) + r + 1.0).ceil() as i64,
        );
        for y in miny..=maxy {
            for x in minx..=maxx {
                let (px, py) = (x as f64 + 0.5, y as f64 + 0.5);
                let t = if len2 == 0.0 {
                    0.0
                } else {
                    (((px - x0) * dx + (py - y0) * dy) / len2).clamp(0.0, 1.0)
                };
                let (cx, cy) = (x0 + t * dx, y0 + t * dy);
                let d = ((px - cx).powi(2) + (py - cy).powi(2)).sqrt();
                self.blend(x, y, color, (r + 0.5 - d).clamp(0.0, 1.0));
            }
        }
    }

    /// Text with its top at `y`, anchored horizontally at `x`.
    pub fn text(&mut self, x: i64, y: i64, s: &str, color: Rgb, anchor: Anchor) {
        let w = (s.chars().count() * CELL_W) as i64;
        let left = match anchor {
            Anchor::Left => x,
            Anchor::Center => x - w / 2,
            Anchor::Right => x - w,
        };
        for (k, ch) in s.chars().enumerate() {
            let code = ch as u32;
            let g = if (32..=126).contains(&code) {
                &GLYPHS[(code - 32) as usize]
            } else {
                &GLYPHS[('?' as u32 - 32) as usize]
            };
            for gy in 0..CELL_H {
                for gx in 0..CELL_W {
                    let a = g[gy * CELL_W + gx] as f64 / 255.0;
                    self.blend(left + (k * CELL_W + gx) as i64, y + gy as i64, color, a);
                }
            }
        }
    }

    /// Text rotated 90° counter-clockwise (reading upwards), centred vertically on `y`, its
    /// top (left side on screen) at `x`.
    pub fn text_up(&mut self, x: i64, y: i64, s: &str, color: Rgb) {
        let n = s.chars().count();
        let bottom = y + (n * CELL_W) as i64 / 2;
        for (k, ch) in s.chars().enumerate() {
            let code = ch as u32;
            let g = if (32..=126).contains(&code) {
                &GLYPHS[(code - 32) as usize]
            } else {
                &GLYPHS[('?' as u32 - 32) as usize]
            };
            for gy in 0..CELL_H {
                for gx in 0..CELL_W {
                    let a = g[gy * CELL_W + gx] as f64 / 255.0;
                    self.blend(x + gy as i64, bottom - (k * CELL_W + gx) as i64, color, a);
                }
            }
        }
    }

    /// The canvas as a picture.
    pub fn into_picture(self) -> Picture {
        Picture {
            width: self.width,
            height: self.height,
            channels: 3,
            pixels: self.px,
        }
    }
}

/// "Nice" tick positions covering [lo, hi] (about `n` of them).
pub fn ticks(lo: f64, hi: f64, n: usize) -> Vec<f64> {
    if hi <= lo || !lo.is_finite() || !hi.is_finite() {
        return vec![lo];
    }
    let raw = (hi - lo) / n.max(1) as f64;
    let mag = 10f64.powf(raw.log10().floor());
    let step = [1.0, 2.0, 2.5, 5.0, 10.0]
        .iter()
        .map(|m| m * mag)
        .find(|s| *s >= raw)
        .unwrap_or(10.0 * mag);
    let start = (lo / step).ceil() * step;
    let mut v = Vec::new();
    let mut t = start;
    while t <= hi + step * 1e-9 {
        v.push(if t.abs() < step * 1e-9 { 0.0 } else { t });
        t += step;
    }
    v
}

fn fmt_tick(v: f64, step: f64) -> String {
    let decimals = if step >= 1.0 {
        0
    } else {
        (-step.log10().floor()) as usize
            + usize::from(step * 10f64.powf(-step.log10().floor()) % 1.0 > 1e-9)
    };
    format!("{v:.decimals$}")
}

/// One line of a line chart.
pub struct Series {
    /// Legend name.
    pub name: String,
    /// Colour.
    pub color: Rgb,
    /// Points (x, y); non-finite y values are skipped.
    pub points: Vec<(f64, f64)>,
}

/// A line chart with axes, ticks, grid and legend.
pub fn line_chart(
    title: &str,
    x_label: &str,
    y_label: &str,
    series: &[Series],
    width: usize,
    height: usize,
) -> Picture {
    let mut c = Canvas::new(width, height);
    let (left, right, top, bottom) = (70.0, width as f64 - 20.0, 40.0, height as f64 - 50.0);
    let pts: Vec<(f64, f64)> = series
        .iter()
        .flat_map(|s| s.points.iter().copied())
        .filter(|p| p.0.is_finite() && p.1.is_finite())
        .collect();
    let (mut x0, mut x1) = pts.iter().fold((f64::INFINITY, f64::NEG_INFINITY), |a, p| {
        (a.0.min(p.0), a.1.max(p.0))
    });
    let (mut y0, mut y1) = pts.iter().fold((f64::INFINITY, f64::NEG_INFINITY), |a, p| {
        (a.0.min(p.1), a.1.max(p.1))
    });
    if !x0.is_finite() {
        (x0, x1, y0, y1) = (0.0, 1.0, 0.0, 1.0);
    }
    if x1 <= x0 {
        x1 = x0 + 1.0;
    }
    if y1 <= y0 {
        y1 = y0 + 1.0;
    }
    let pad = (y1 - y0) * 0.05;
    let (y0, y1) = (y0 - pad, y1 + pad);
    let sx = |x: f64| left + (x - x0) / (x1 - x0) * (right - left);
    let sy = |y: f64| bottom - (y - y0) / (y1 - y0) * (bottom - top);
    c.text(width as i64 / 2, 10, title, INK, Anchor::Center);
    let yt = ticks(y0, y1, 5);
    let ystep = if yt.len() > 1 { yt[1] - yt[0] } else { 1.0 };
    for &t in &yt {
        c.line(left, sy(t), right, sy(t), GRID, 1.0);
        c.text(
            left as i64 - 6,
            sy(t) as i64 - 8,
            &fmt_tick(t, ystep),
            INK,
            Anchor::Right,
        );
    }
    let integer_x = pts.iter().all(|p| p.0.fract() == 0.0);
    let mut xt = ticks(x0, x1, 8);
    if integer_x && xt.len() > 1 && xt[1] - xt[0] < 1.0 {
        xt = (x0.ceil() as i64..=x1.floor() as i64)
            .map(|v| v as f64)
            .collect();
    }
    let xstep = if xt.len() > 1 { xt[1] - xt[0] } else { 1.0 };
    for &t in &xt {
        c.line(sx(t), bottom, sx(t), bottom + 4.0, INK, 1.0);
        c.text(
            sx(t) as i64,
            bottom as i64 + 6,
            &fmt_tick(t, xstep),
            INK,
            Anchor::Center,
        );
    }
    c.line(left, top, left, bottom, INK, 1.0);
    c.line(left, bottom, right, bottom, INK, 1.0);
    c.text(
        ((left + right) / 2.0) as i64,
        height as i64 - 20,
        x_label,
        INK,
        Anchor::Center,
    );
    c.text_up(6, ((top + bottom) / 2.0) as i64, y_label, INK);
    for s in series {
        let p: Vec<(f64, f64)> = s
            .points
            .iter()
            .copied()
            .filter(|p| p.0.is_finite() && p.1.is_finite())
            .collect();
        for w in p.windows(2) {
            c.line(sx(w[0].0), sy(w[0].1), sx(w[1].0), sy(w[1].1), s.color, 2.0);
        }
        for &(x, y) in &p {
            c.line(sx(x), sy(y), sx(x), sy(y), s.color, 5.0);
        }
    }
    // Legend, top right inside the plot.
    let mut ly = top as i64 + 6;
    for s in series {
        let w = (s.name.len() * CELL_W) as i64;
        let lx = right as i64 - w - 30;
        c.line(
            lx as f64,
            ly as f64 + 8.0,
            lx as f64 + 18.0,
            ly as f64 + 8.0,
            s.color,
            3.0,
        );
        c.text(lx + 24, ly, &s.name, INK, Anchor::Left);
        ly += 18;
    }
    c.into_picture()
}

fn truncate(s: &str, n: usize) -> String {
    if s.chars().count() <= n {
        s.to_string()
    } else {
        s.chars()
            .take(n.saturating_sub(1))
            .chain(std::iter::once('~'))
            .collect()
    }
}

/// The confusion matrix as a heatmap: rows true, columns predicted, cell shade = share of the
/// row, cell text = count.
pub fn confusion_heatmap(title: &str, counts: &[Vec<u64>], names: &[String]) -> Picture {
    let k = counts.len().max(1);
    let label_w = names.iter().map(|n| n.len().min(14)).max().unwrap_or(1) * CELL_W + 12;
    let cell = (480 / k).clamp(18, 64);
    let (left, top) = (label_w + 30, 60);
    let width = left + k * cell + 20;
    let height = top + k * cell + 70;
    let mut c = Canvas::new(width, height);
    c.text(width as i64 / 2, 10, title, INK, Anchor::Center);
    c.text(
        (left + k * cell / 2) as i64,
        34,
        "predicted",
        INK,
        Anchor::Center,
    );
    c.text_up(4, (top + k * cell / 2) as i64, "true", INK);
    let show_counts = cell >= 28;
    for t in 0..k {
        let row: u64 = counts[t].iter().sum();
        for (p, &v) in counts[t].iter().enumerate().take(k) {
            let share = if row == 0 { 0.0 } else { v as f64 / row as f64 };
            let shade = |a: u8, b: u8| (a as f64 + (b as f64 - a as f64) * share).round() as u8;
            let color = [shade(247, 8), shade(251, 48), shade(255, 107)];
            let (x, y) = ((left + p * cell) as i64, (top + t * cell) as i64);
            c.fill_rect(x, y, cell as i64 - 1, cell as i64 - 1, color);
            if show_counts {
                let ink = if share > 0.5 { [255, 255, 255] } else { INK };
                c.text(
                    x + cell as i64 / 2,
                    y + cell as i64 / 2 - 8,
                    &v.to_string(),
                    ink,
                    Anchor::Center,
                );
            }
        }
        c.text(
            left as i64 - 6,
            (top + t * cell + cell / 2) as i64 - 8,
            &truncate(&names[t], 14),
            INK,
            Anchor::Right,
        );
    }
    for (p, name) in names.iter().enumerate().take(k) {
        let label = if cell >= CELL_W * 4 {
            truncate(name, cell / CELL_W - 1)
        } else {
            p.to_string()
        };
        c.text(
            (left + p * cell + cell / 2) as i64,
            (top + k * cell + 6) as i64,
            &label,
            INK,
            Anchor::Center,
        );
    }
    if !show_counts || cell < CELL_W * 4 {
        c.text(
            10,
            height as i64 - 22,
            "columns numbered in class order; shade = share of the row",
            INK,
            Anchor::Left,
        );
    }
    c.into_picture()
}

/// Grouped bars: one group per class, one bar per metric (values in [0, 1]).
pub fn metric_bars(title: &str, names: &[String], metrics: &[(&str, Vec<f64>)]) -> Picture {
    let k = names.len().max(1);
    let m = metrics.len().max(1);
    let group = (700 / k).clamp(24, 120);
    let (left, top, bottom_pad) = (60usize, 50usize, 70usize);
    let plot_h = 280usize;
    let width = left + k * group + 30;
    let height = top + plot_h + bottom_pad;
    let mut c = Canvas::new(width.max(420), height);
    c.text(c.width as i64 / 2, 10, title, INK, Anchor::Center);
    let sy = |v: f64| (top + plot_h) as f64 - v.clamp(0.0, 1.0) * plot_h as f64;
    for t in [0.0, 0.25, 0.5, 0.75, 1.0] {
        c.line(
            left as f64,
            sy(t),
            (left + k * group) as f64,
            sy(t),
            GRID,
            1.0,
        );
        c.text(
            left as i64 - 6,
            sy(t) as i64 - 8,
            &format!("{t:.2}"),
            INK,
            Anchor::Right,
        );
    }
    let bar = ((group - 8) / m).max(2);
    for (ci, name) in names.iter().enumerate() {
        for (mi, (_, values)) in metrics.iter().enumerate() {
            let v = values.get(ci).copied().unwrap_or(0.0);
            let v = if v.is_finite() { v } else { 0.0 };
            let x = (left + ci * group + 4 + mi * bar) as i64;
            c.fill_rect(
                x,
                sy(v) as i64,
                bar as i64 - 1,
                (sy(0.0) - sy(v)).round() as i64,
                PALETTE[mi % PALETTE.len()],
            );
        }
        let label = if group >= CELL_W * 3 {
            truncate(name, group / CELL_W - 1)
        } else {
            ci.to_string()
        };
        c.text(
            (left + ci * group + group / 2) as i64,
            (top + plot_h + 6) as i64,
            &label,
            INK,
            Anchor::Center,
        );
    }
    c.line(left as f64, top as f64, left as f64, sy(0.0), INK, 1.0);
    let mut lx = left as i64;
    for (mi, (name, _)) in metrics.iter().enumerate() {
        c.fill_rect(
            lx,
            (height - 26) as i64,
            12,
            12,
            PALETTE[mi % PALETTE.len()],
        );
        c.text(lx + 16, (height - 29) as i64, name, INK, Anchor::Left);
        lx += 16 + (name.len() * CELL_W) as i64 + 20;
    }
    c.into_picture()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nice_ticks() {
        assert_eq!(
            ticks(0.0, 1.0, 5),
            vec![0.0, 0.2, 0.4, 0.6000000000000001, 0.8, 1.0]
        );
        assert_eq!(
            ticks(1.0, 10.0, 9),
            (1..=10).map(|v| v as f64).collect::<Vec<_>>()
        );
    }

    #[test]
    fn charts_draw_something() {
        let s = vec![Series {
            name: "train".into(),
            color: PALETTE[0],
            points: vec![(1.0, 0.5), (2.0, 0.3), (3.0, 0.2)],
        }];
        let p = line_chart("loss", "epoch", "loss", &s, 400, 300);
        assert_eq!((p.width, p.height), (400, 300));
        let non_white = p.pixels.iter().filter(|&&v| v < 200).count();
        assert!(non_white > 500, "{non_white}");
        let h = confusion_heatmap("cm", &[vec![5, 1], vec![0, 7]], &["a".into(), "b".into()]);
        assert!(h.pixels.iter().filter(|&&v| v < 100).count() > 100);
        let b = metric_bars(
            "f1",
            &["a".into(), "b".into()],
            &[("precision", vec![0.5, 1.0])],
        );
        assert!(b.pixels.iter().filter(|&&v| v < 200).count() > 100);
    }
}
