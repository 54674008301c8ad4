//! Line charts (training curves): axes with nice ticks, a light grid, one line with point
//! markers per series, and the legend in a band below the plot.

use plotters::prelude::*;

use super::axes::{self, Frame, X_AXIS_PX};
use super::legend::{self, Swatch};
use super::{Anchor, Area, DrawError, INK, PixelRect, Rgb, TITLE_PX, label, paint, rgb};
use crate::report::images::Picture;

/// One line of a line chart.
pub struct Series {
    /// Legend name.
    pub name: String,
    /// Colour.
    pub color: Rgb,
    /// Points (x, y); points with a non-finite coordinate are skipped.
    pub points: Vec<(f64, f64)>,
}

/// Margin around the chart, pixels.
const MARGIN_PX: i32 = 12;
/// Room left of the plot for tick labels and the y-axis title, pixels.
const Y_LABELS_PX: i32 = 66;
/// Room above the plot for the title, pixels.
const TITLE_BAND_PX: i32 = 40;

/// Where a line chart put things, in pixels of the picture.
#[derive(Clone, Debug)]
#[cfg_attr(not(test), allow(dead_code))] // Read by the legend tests.
pub(crate) struct LineLayout {
    /// The plotting area (inside the axes).
    pub plot: PixelRect,
    /// The legend entries (empty when drawn without a legend).
    pub legend: PixelRect,
    /// Every drawn data point, series after series.
    pub points: Vec<(i32, i32)>,
}

/// A line chart of `width × height` pixels with title, axis titles, ticks, grid and a legend
/// below the plot.
pub fn line_chart(
    title: &str,
    x_label: &str,
    y_label: &str,
    series: &[Series],
    width: usize,
    height: usize,
) -> Picture {
    draw(title, x_label, y_label, series, (width, height), true).0
}

/// The finite points of `s`.
fn finite(s: &Series) -> Vec<(f64, f64)> {
    s.points
        .iter()
        .copied()
        .filter(|p| p.0.is_finite() && p.1.is_finite())
        .collect()
}

/// The chart, with or without its legend entries (the space for them is kept either way, so
/// the two pictures differ only where the legend is).
pub(crate) fn draw(
    title: &str,
    x_label: &str,
    y_label: &str,
    series: &[Series],
    (width, height): (usize, usize),
    with_legend: bool,
) -> (Picture, LineLayout) {
    let entries: Vec<(String, Rgb)> = series.iter().map(|s| (s.name.clone(), s.color)).collect();
    let (plot_x0, plot_x1) = (MARGIN_PX + Y_LABELS_PX, width as i32 - MARGIN_PX);
    let legend_h = legend::height(&entries, plot_x1 - plot_x0) + 8;
    let chart_h = (height as i32 - legend_h).max(1);
    let key = legend::layout(&entries, Swatch::Line, plot_x0, plot_x1, chart_h + 2);
    let mut layout = None;
    let picture = paint(width, height, |root| {
        root.fill(&WHITE)?;
        let (upper, _) = root.split_vertically(chart_h);
        layout = Some(plot(&upper, title, (x_label, y_label), series)?);
        if with_legend {
            legend::draw(root, &key)?;
        }
        Ok(())
    });
    let (plot, points) = layout.expect("the chart was drawn");
    let legend = if with_legend {
        key.rect
    } else {
        PixelRect {
            x0: 0,
            y0: 0,
            x1: 0,
            y1: 0,
        }
    };
    (
        picture,
        LineLayout {
            plot,
            legend,
            points,
        },
    )
}

/// Title, axes, grid and series on `area`; returns the plotting area and the data points'
/// pixels.
fn plot(
    area: &Area,
    title: &str,
    (x_label, y_label): (&str, &str),
    series: &[Series],
) -> Result<(PixelRect, Vec<(i32, i32)>), DrawError> {
    let pts: Vec<(f64, f64)> = series.iter().flat_map(finite).collect();
    let (x0, x1) = span(pts.iter().map(|p| p.0));
    let (y0, y1) = span(pts.iter().map(|p| p.1));
    let (ypad, xpad) = ((y1 - y0) * 0.06, (x1 - x0) * 0.03);
    let integer_x = pts.iter().all(|p| p.0.fract() == 0.0);
    let xt = if integer_x {
        integer_ticks(x0, x1, 10)
    } else {
        ticks(x0, x1, 8)
    };
    let yt = ticks(y0 - ypad, y1 + ypad, 5);
    let (xstep, ystep) = (step_of(&xt), step_of(&yt));
    let mut chart = ChartBuilder::on(area)
        .margin(MARGIN_PX)
        .margin_top(TITLE_BAND_PX)
        .x_label_area_size(X_AXIS_PX)
        .y_label_area_size(Y_LABELS_PX)
        .build_cartesian_2d((x0 - xpad)..(x1 + xpad), (y0 - ypad)..(y1 + ypad))?;
    let (width, _) = area.dim_in_pixel();
    label(
        area,
        title,
        (width as i32 / 2, 20),
        TITLE_PX,
        INK,
        Anchor::Center,
    )?;
    let frame = Frame {
        x_ticks: xt.iter().map(|&t| (t, fmt_tick(t, xstep))).collect(),
        y_ticks: yt.iter().map(|&t| (t, fmt_tick(t, ystep))).collect(),
        x_title: x_label,
        y_title: y_label,
    };
    axes::draw(area, &chart, &frame)?;
    let mut points = Vec::new();
    for s in series {
        let p = finite(s);
        let c = rgb(s.color);
        chart.draw_series(LineSeries::new(p.iter().copied(), c.stroke_width(2)))?;
        chart.draw_series(p.iter().map(|&q| Circle::new(q, 3, c.filled())))?;
        points.extend(p.iter().map(|q| chart.backend_coord(q)));
    }
    let (xs, ys) = chart.plotting_area().get_pixel_range();
    let plot = PixelRect {
        x0: xs.start,
        y0: ys.start,
        x1: xs.end,
        y1: ys.end,
    };
    Ok((plot, points))
}

/// The smallest and largest of `values`, widened to a non-empty range ([0, 1] when empty).
fn span(values: impl Iterator<Item = f64>) -> (f64, f64) {
    let (lo, hi) = values.fold((f64::INFINITY, f64::NEG_INFINITY), |a, v| {
        (a.0.min(v), a.1.max(v))
    });
    if !lo.is_finite() {
        (0.0, 1.0)
    } else if hi <= lo {
        (lo - 0.5, hi + 0.5)
    } else {
        (lo, hi)
    }
}

/// "Nice" tick positions in [lo, hi]: the smallest step of 1, 2, 2.5 or 5 × 10^k that gives at
/// most `n` + 1 of them.
fn ticks(lo: f64, hi: f64, n: usize) -> Vec<f64> {
    if hi <= lo || !lo.is_finite() || !hi.is_finite() {
        return vec![lo];
    }
    let raw = (hi - lo) / (n + 1) as f64;
    let mag = 10f64.powf(raw.log10().floor());
    let step = [1.0, 2.0, 2.5, 5.0, 10.0]
        .iter()
        .map(|m| m * mag)
        .find(|s| *s >= raw)
        .unwrap_or(10.0 * mag);
    let mut v = Vec::new();
    let mut t = (lo / step).ceil() * step;
    while t <= hi + step * 1e-9 {
        v.push(if t.abs() < step * 1e-9 { 0.0 } else { t });
        t += step;
    }
    v
}

/// Whole-number ticks in [lo, hi], at most `n`, steps 1, 2 or 5 × 10^k.
fn integer_ticks(lo: f64, hi: f64, n: usize) -> Vec<f64> {
    let (lo, hi) = (lo.ceil(), hi.floor());
    let step = (0..)
        .flat_map(|k| [1.0, 2.0, 5.0].map(|m| m * 10f64.powi(k)))
        .find(|s| ((hi - lo) / s).floor() + 1.0 <= n as f64)
        .unwrap_or(1.0);
    let first = (lo / step).ceil() * step;
    (0..)
        .map(|i| first + i as f64 * step)
        .take_while(|t| *t <= hi)
        .collect()
}

/// Distance between the first two ticks (1 when there are fewer).
fn step_of(t: &[f64]) -> f64 {
    if t.len() > 1 { t[1] - t[0] } else { 1.0 }
}

/// A tick label with as many decimals as the step needs.
fn fmt_tick(v: f64, step: f64) -> String {
    let decimals = (0..6)
        .find(|&d| {
            let scaled = step * 10f64.powi(d);
            (scaled - scaled.round()).abs() < 1e-6
        })
        .unwrap_or(6) as usize;
    format!("{v:.decimals$}")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::plot::PALETTE;

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
        assert_eq!(integer_ticks(1.0, 3.0, 10), vec![1.0, 2.0, 3.0]);
        assert_eq!(
            integer_ticks(1.0, 20.0, 10),
            vec![2.0, 4.0, 6.0, 8.0, 10.0, 12.0, 14.0, 16.0, 18.0, 20.0]
        );
        assert_eq!(
            integer_ticks(0.0, 100.0, 10),
            (0..=5).map(|v| v as f64 * 20.0).collect::<Vec<_>>()
        );
        assert_eq!(fmt_tick(2.5, 2.5), "2.5");
        assert_eq!(fmt_tick(0.6000000000000001, 0.2), "0.6");
        assert_eq!(fmt_tick(4.0, 2.0), "4");
        assert_eq!(fmt_tick(0.925, 0.025), "0.925");
    }

    /// Curves that fill every corner of the plot: accuracy rising to the top right (where the
    /// old in-plot legend sat), a falling curve through the top left and bottom right, and a
    /// flat one along the bottom.
    fn crowded(names: &[&str]) -> Vec<Series> {
        let curve = |f: &dyn Fn(f64) -> f64| (1..=20).map(|e| (e as f64, f(e as f64))).collect();
        let shapes: [&dyn Fn(f64) -> f64; 4] = [
            &|e| 0.97 - 0.4 * (-e / 4.0).exp(),
            &|e| 0.95 - 0.3 * (-e / 3.0).exp() - 0.004 * (e - 12.0).max(0.0),
            &|e| 1.0 - e / 20.0,
            &|_| 0.6,
        ];
        names
            .iter()
            .enumerate()
            .map(|(i, n)| Series {
                name: n.to_string(),
                color: PALETTE[i % PALETTE.len()],
                points: curve(shapes[i % shapes.len()]),
            })
            .collect()
    }

    fn pixel(p: &Picture, (x, y): (i32, i32)) -> [u8; 3] {
        let i = (y as usize * p.width + x as usize) * 3;
        [p.pixels[i], p.pixels[i + 1], p.pixels[i + 2]]
    }

    #[test]
    fn the_legend_never_covers_data() {
        let cases: [(&[&str], (usize, usize)); 3] = [
            (&["train (augmented)", "validation"], (640, 360)),
            (
                &[
                    "baseline: validation",
                    "baseline: train",
                    "augmented: validation",
                    "augmented: train",
                ],
                (760, 420),
            ),
            (
                &[
                    "a long series name number one",
                    "another long series name",
                    "third",
                    "fourth one here",
                ],
                (400, 300),
            ),
        ];
        for (names, size) in cases {
            let series = crowded(names);
            let (with, layout) = draw(
                "Accuracy per epoch",
                "epoch",
                "accuracy",
                &series,
                size,
                true,
            );
            let (without, bare) = draw(
                "Accuracy per epoch",
                "epoch",
                "accuracy",
                &series,
                size,
                false,
            );
            assert_eq!((with.width, with.height), size);
            assert_eq!(layout.plot, bare.plot, "the legend moved the plot");
            assert_eq!(layout.points, bare.points);
            let legend = layout.legend;
            // The legend band lies below the plot and inside the picture.
            assert!(
                !legend.intersects(&layout.plot),
                "{names:?}: {legend:?} overlaps {:?}",
                layout.plot
            );
            assert!(
                legend.y0 >= layout.plot.y1 && legend.y1 <= size.1 as i32,
                "{legend:?}"
            );
            assert!(legend.x0 >= 0 && legend.x1 <= size.0 as i32, "{legend:?}");
            // No data point (nor its marker) falls in it.
            assert_eq!(layout.points.len(), 20 * names.len());
            for &(x, y) in &layout.points {
                let marker = PixelRect {
                    x0: x - 4,
                    y0: y - 4,
                    x1: x + 5,
                    y1: y + 5,
                };
                assert!(
                    !marker.intersects(&legend),
                    "{names:?}: point ({x}, {y}) under {legend:?}"
                );
            }
            // Pixel for pixel: the legend only paints over background, only inside its band.
            let mut changed = 0;
            for y in 0..size.1 as i32 {
                for x in 0..size.0 as i32 {
                    if pixel(&with, (x, y)) != pixel(&without, (x, y)) {
                        changed += 1;
                        assert_eq!(
                            pixel(&without, (x, y)),
                            [255; 3],
                            "legend over a drawn pixel at ({x}, {y})"
                        );
                        assert!(
                            legend.contains((x, y)),
                            "legend pixel ({x}, {y}) outside {legend:?}"
                        );
                    }
                }
            }
            assert!(
                changed > 200 * names.len(),
                "{names:?}: the legend drew only {changed} pixels"
            );
        }
    }

    #[test]
    fn a_line_chart_shows_its_data_title_and_ticks() {
        let s = crowded(&["train", "validation"]);
        let (p, layout) = draw("loss", "epoch", "loss", &s, (400, 300), true);
        assert_eq!((p.width, p.height), (400, 300));
        // Each series' colour is drawn at its points.
        for (k, series) in s.iter().enumerate() {
            let at = layout.points[k * series.points.len() + 5];
            assert_eq!(pixel(&p, at), series.color, "series {k} at {at:?}");
        }
        // Ink above the plot (title), left of it (tick labels) and below it (tick labels).
        let ink = |r: PixelRect| {
            (r.y0..r.y1)
                .flat_map(|y| (r.x0..r.x1).map(move |x| (x, y)))
                .filter(|&q| pixel(&p, q)[0] < 120)
                .count()
        };
        let plot = layout.plot;
        assert!(
            ink(PixelRect {
                x0: 0,
                y0: 0,
                x1: 400,
                y1: plot.y0 - 2
            }) > 40
        );
        assert!(
            ink(PixelRect {
                x0: 0,
                y0: plot.y0,
                x1: plot.x0 - 2,
                y1: plot.y1
            }) > 60
        );
        assert!(
            ink(PixelRect {
                x0: plot.x0,
                y0: plot.y1 + 2,
                x1: plot.x1,
                y1: layout.legend.y0
            }) > 60
        );
    }

    #[test]
    fn a_chart_without_finite_points_still_draws() {
        let s = vec![Series {
            name: "nothing".into(),
            color: PALETTE[0],
            points: vec![(1.0, f64::NAN)],
        }];
        let (p, layout) = draw("empty", "x", "y", &s, (300, 200), true);
        assert!(layout.points.is_empty());
        assert_eq!((p.width, p.height), (300, 200));
    }
}
