//! Grouped bar charts (per-class metrics in [0, 1]): one group per class, one bar per metric,
//! class names under the groups and the legend in a band below them.

use plotters::prelude::*;

use super::axes::{self, Frame};
use super::legend::{self, Swatch};
use super::{
    Anchor, Area, DrawError, INK, PALETTE, Rgb, TICK_PX, TITLE_PX, fit, label, label_upwards,
    paint, rgb, text_width,
};
use crate::report::images::Picture;

/// Height of the plotting area, pixels.
const PLOT_H_PX: i32 = 280;
/// Room left of the plot for tick labels and the axis title, pixels.
const LEFT_PX: i32 = 70;
/// Room above the plot for the title, pixels.
const TOP_PX: i32 = 48;
/// Longest class label drawn, pixels (longer names are cut with "…").
const NAME_MAX_PX: i32 = 130;

/// Grouped bars: one group per class, one bar per metric (values in [0, 1]; others are clamped,
/// non-finite ones drawn as 0).
pub fn metric_bars(title: &str, names: &[String], metrics: &[(&str, Vec<f64>)]) -> Picture {
    let k = names.len().max(1) as i32;
    let group = (700 / k).clamp(24, 120);
    let labels: Vec<String> = names.iter().map(|n| fit(n, TICK_PX, NAME_MAX_PX)).collect();
    let widest = labels
        .iter()
        .map(|l| text_width(l, TICK_PX))
        .max()
        .unwrap_or(0);
    // Class names lie flat when every one fits its group, else they read upwards.
    let flat = widest <= group - 6;
    let names_h = if flat { 26 } else { widest + 14 };
    let entries: Vec<(String, Rgb)> = metrics
        .iter()
        .enumerate()
        .map(|(m, (name, _))| (name.to_string(), PALETTE[m % PALETTE.len()]))
        .collect();
    let width = (LEFT_PX + k * group + 30)
        .max(420)
        .max(text_width(title, TITLE_PX) + 40);
    let chart_h = TOP_PX + PLOT_H_PX + names_h;
    let key = legend::layout(&entries, Swatch::Square, LEFT_PX, width - 30, chart_h + 4);
    let height = key.rect.y1 + 10;
    paint(width as usize, height as usize, |area| {
        area.fill(&WHITE)?;
        label(area, title, (width / 2, 20), TITLE_PX, INK, Anchor::Center)?;
        let (upper, _) = area.split_vertically(chart_h);
        let mut chart = ChartBuilder::on(&upper)
            .margin_top(TOP_PX)
            .margin_right(width - LEFT_PX - k * group)
            .x_label_area_size(names_h)
            .y_label_area_size(LEFT_PX)
            .build_cartesian_2d(0.0..k as f64, 0.0..1.0)?;
        let frame = Frame {
            x_ticks: Vec::new(),
            y_ticks: (0..=4)
                .map(|i| (i as f64 / 4.0, format!("{:.2}", i as f64 / 4.0)))
                .collect(),
            x_title: "",
            y_title: "score",
        };
        axes::draw(area, &chart, &frame)?;
        bars(&mut chart, metrics, names.len(), group)?;
        for (c, name) in labels.iter().enumerate() {
            let (x, y) = chart.backend_coord(&(c as f64 + 0.5, 0.0));
            class_name(area, name, (x, y), flat)?;
        }
        legend::draw(area, &key)
    })
}

/// The bars: class `c`'s group spans [c, c + 1) on the x axis, its bars side by side inside.
fn bars(
    chart: &mut axes::Chart,
    metrics: &[(&str, Vec<f64>)],
    classes: usize,
    group_px: i32,
) -> Result<(), DrawError> {
    let pad = 4.0 / group_px as f64;
    let bar = (1.0 - 2.0 * pad) / metrics.len().max(1) as f64;
    let gap = (1.0 / group_px as f64).min(bar / 4.0);
    for (m, (_, values)) in metrics.iter().enumerate() {
        let fill = rgb(PALETTE[m % PALETTE.len()]).filled();
        chart.draw_series((0..classes).map(|c| {
            let v = values
                .get(c)
                .copied()
                .filter(|v| v.is_finite())
                .unwrap_or(0.0);
            let x = c as f64 + pad + m as f64 * bar;
            Rectangle::new([(x, v.clamp(0.0, 1.0)), (x + bar - gap, 0.0)], fill)
        }))?;
    }
    Ok(())
}

/// A class name under its group, centred on `x` below the axis at `y`, flat or reading
/// upwards.
fn class_name(area: &Area, name: &str, (x, y): (i32, i32), flat: bool) -> Result<(), DrawError> {
    if flat {
        label(area, name, (x, y + 14), TICK_PX, INK, Anchor::Center)
    } else {
        label_upwards(area, name, (x, y + 8), TICK_PX, Anchor::Right)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Rows of the plotting area in column `x` painted `color`.
    fn height_in_column(p: &Picture, x: usize, color: Rgb) -> usize {
        (TOP_PX as usize..=(TOP_PX + PLOT_H_PX) as usize)
            .filter(|&y| p.pixels[(y * p.width + x) * 3..][..3] == color)
            .count()
    }

    #[test]
    fn bars_are_as_tall_as_their_values() {
        let names = ["cat".to_string(), "dog".to_string()];
        let p = metric_bars(
            "f1",
            &names,
            &[
                ("precision", vec![0.5, 1.0]),
                ("recall", vec![0.25, f64::NAN]),
            ],
        );
        let group = (700 / 2).clamp(24, 120) as usize;
        let tallest = |class: usize, color: Rgb| {
            (0..group)
                .map(|dx| height_in_column(&p, LEFT_PX as usize + class * group + dx, color))
                .max()
                .unwrap()
        };
        let h = PLOT_H_PX as f64;
        for (class, metric, value) in [(0, 0, 0.5), (1, 0, 1.0), (0, 1, 0.25), (1, 1, 0.0)] {
            let got = tallest(class, PALETTE[metric]) as f64;
            assert!(
                (got - value * h).abs() <= 2.0,
                "class {class} metric {metric}: {got} px for {value}"
            );
        }
        // The legend lies below the class names: each metric's colour appears there too.
        let below = ((TOP_PX + PLOT_H_PX + 30) as usize)..p.height;
        for (m, colour) in PALETTE.iter().take(2).enumerate() {
            let found = below
                .clone()
                .any(|y| (0..p.width).any(|x| p.pixels[(y * p.width + x) * 3..][..3] == *colour));
            assert!(found, "no legend swatch for metric {m}");
        }
    }

    #[test]
    fn many_long_class_names_read_upwards_and_fit() {
        let names: Vec<String> = (0..40)
            .map(|i| format!("a rather long class name {i}"))
            .collect();
        let values = vec![0.5; 40];
        let p = metric_bars("per class", &names, &[("F1", values)]);
        assert_eq!(p.width, (LEFT_PX + 40 * 24 + 30) as usize);
        // Names are cut to NAME_MAX_PX and stand upright under the plot.
        assert!(p.height as i32 >= TOP_PX + PLOT_H_PX + NAME_MAX_PX);
        assert!(
            p.height as i32 <= TOP_PX + PLOT_H_PX + NAME_MAX_PX + 80,
            "{}",
            p.height
        );
    }
}
