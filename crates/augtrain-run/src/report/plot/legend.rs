//! Legends: rows of (swatch, name) entries in a band of their own below a chart's plotting area,
//! wrapped to its width.

use plotters::prelude::*;

use super::{Anchor, Area, DrawError, INK, LABEL_PX, PixelRect, Rgb, label, rgb, text_width};

/// Height of one legend row, pixels.
const ROW_PX: i32 = 22;
/// Width of a swatch, pixels.
const SWATCH_PX: i32 = 22;
/// Space between a swatch and its name, pixels.
const GAP_PX: i32 = 6;
/// Space between entries, pixels.
const SPACING_PX: i32 = 26;

/// How an entry's colour is shown.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Swatch {
    /// A short thick line with a dot (line charts).
    Line,
    /// A filled square (bar charts).
    Square,
}

/// A legend laid out: each entry's name, colour and top-left corner.
pub(super) struct Legend {
    entries: Vec<(String, Rgb, (i32, i32))>,
    swatch: Swatch,
    /// The rectangle the entries cover.
    pub(super) rect: PixelRect,
}

/// Lay `entries` out in rows centred on `x0..x1`, the first row's top at `y0`.
pub(super) fn layout(
    entries: &[(String, Rgb)],
    swatch: Swatch,
    x0: i32,
    x1: i32,
    y0: i32,
) -> Legend {
    let widths: Vec<i32> = entries
        .iter()
        .map(|(name, _)| SWATCH_PX + GAP_PX + text_width(name, LABEL_PX))
        .collect();
    // Rows: greedy, as many entries as fit the width (at least one each).
    let mut rows: Vec<Vec<usize>> = Vec::new();
    let mut used = 0;
    for (i, &w) in widths.iter().enumerate() {
        match rows.last_mut() {
            Some(row) if used + SPACING_PX + w <= x1 - x0 => {
                row.push(i);
                used += SPACING_PX + w;
            }
            _ => {
                rows.push(vec![i]);
                used = w;
            }
        }
    }
    let mut placed = Vec::new();
    let mut rect = PixelRect {
        x0: x1,
        y0,
        x1: x0,
        y1: y0 + ROW_PX * rows.len() as i32,
    };
    for (r, row) in rows.iter().enumerate() {
        let total: i32 =
            row.iter().map(|&i| widths[i]).sum::<i32>() + SPACING_PX * (row.len() as i32 - 1);
        let mut x = x0 + ((x1 - x0) - total).max(0) / 2;
        rect.x0 = rect.x0.min(x);
        for &i in row {
            placed.push((
                entries[i].0.clone(),
                entries[i].1,
                (x, y0 + ROW_PX * r as i32),
            ));
            x += widths[i] + SPACING_PX;
        }
        rect.x1 = rect.x1.max(x - SPACING_PX);
    }
    if entries.is_empty() {
        rect = PixelRect {
            x0,
            y0,
            x1: x0,
            y1: y0,
        };
    }
    Legend {
        entries: placed,
        swatch,
        rect,
    }
}

/// Height a legend of `entries` takes when wrapped to `width` pixels.
pub(super) fn height(entries: &[(String, Rgb)], width: i32) -> i32 {
    let l = layout(entries, Swatch::Line, 0, width, 0);
    l.rect.y1 - l.rect.y0
}

/// Draw the legend.
pub(super) fn draw(area: &Area, legend: &Legend) -> Result<(), DrawError> {
    for (name, color, (x, y)) in &legend.entries {
        let mid = y + ROW_PX / 2;
        let c = rgb(*color);
        match legend.swatch {
            Swatch::Line => {
                area.draw(&PathElement::new(
                    vec![(x + 1, mid), (x + SWATCH_PX - 1, mid)],
                    c.stroke_width(3),
                ))?;
                area.draw(&Circle::new((x + SWATCH_PX / 2, mid), 3, c.filled()))?;
            }
            Swatch::Square => {
                area.draw(&Rectangle::new(
                    [(x + 4, mid - 7), (x + SWATCH_PX - 4, mid + 7)],
                    c.filled(),
                ))?;
            }
        }
        label(
            area,
            name,
            (x + SWATCH_PX + GAP_PX, mid),
            LABEL_PX,
            INK,
            Anchor::Left,
        )?;
    }
    Ok(())
}
