//! Chart frames around a plotters plotting area: grid lines, axis lines, tick marks, tick
//! labels and axis titles.

use plotters::coord::cartesian::Cartesian2d;
use plotters::coord::types::RangedCoordf64;
use plotters::prelude::*;

use super::{
    Anchor, Area, DrawError, GRID, INK, LABEL_PX, TICK_PX, label, label_upwards, rgb, text_width,
};

/// A chart with linear axes on the bitmap.
pub(super) type Chart<'a, 'b> =
    ChartContext<'a, BitMapBackend<'b>, Cartesian2d<RangedCoordf64, RangedCoordf64>>;

/// What goes around the plotting area.
pub(super) struct Frame<'t> {
    /// Ticks on the x axis (value, label), each with a vertical grid line.
    pub(super) x_ticks: Vec<(f64, String)>,
    /// Ticks on the y axis (value, label), each with a horizontal grid line.
    pub(super) y_ticks: Vec<(f64, String)>,
    /// Title under the x axis (may be empty).
    pub(super) x_title: &'t str,
    /// Title left of the y axis, reading upwards (may be empty).
    pub(super) y_title: &'t str,
}

/// Room below the plotting area the x tick labels and title need, pixels.
pub(super) const X_AXIS_PX: i32 = 46;

/// Draw `frame` around `chart`'s plotting area (before the data, which goes on top).
pub(super) fn draw(area: &Area, chart: &Chart, frame: &Frame) -> Result<(), DrawError> {
    let (xs, ys) = chart.plotting_area().get_pixel_range();
    let (left, right, top, bottom) = (xs.start, xs.end - 1, ys.start, ys.end - 1);
    let line = |a: (i32, i32), b: (i32, i32), c| PathElement::new(vec![a, b], rgb(c));
    for (v, text) in &frame.y_ticks {
        let (_, y) = chart.backend_coord(&(0.0, *v));
        area.draw(&line((left, y), (right, y), GRID))?;
        area.draw(&line((left - 4, y), (left, y), INK))?;
        label(area, text, (left - 7, y), TICK_PX, INK, Anchor::Right)?;
    }
    for (v, text) in &frame.x_ticks {
        let (x, _) = chart.backend_coord(&(*v, 0.0));
        area.draw(&line((x, top), (x, bottom), GRID))?;
        area.draw(&line((x, bottom), (x, bottom + 4), INK))?;
        label(area, text, (x, bottom + 14), TICK_PX, INK, Anchor::Center)?;
    }
    area.draw(&line((left, top), (left, bottom), INK))?;
    area.draw(&line((left, bottom), (right, bottom), INK))?;
    let centre = ((left + right) / 2, (top + bottom) / 2);
    label(
        area,
        frame.x_title,
        (centre.0, bottom + 35),
        LABEL_PX,
        INK,
        Anchor::Center,
    )?;
    let widest = frame
        .y_ticks
        .iter()
        .map(|(_, t)| text_width(t, TICK_PX))
        .max()
        .unwrap_or(0);
    let y_title_at = (left - 7 - widest - 14, centre.1);
    label_upwards(area, frame.y_title, y_title_at, LABEL_PX, Anchor::Center)
}
