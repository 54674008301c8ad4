//! PNG charts drawn with [plotters] on an RGB bitmap, text set by ab_glyph in DejaVu Sans
//! (embedded from the `dejavu` crate, so a chart looks the same on every machine): training curves
//! ([`line_chart`]), the confusion-matrix heatmap ([`confusion_heatmap`]) and per-class
//! precision / recall / F1 bars ([`metric_bars`]). Legends sit below the plotting area, so they
//! never cover data. [`draw_text`] writes a caption onto any picture.
//!
//! Coordinates are pixels, origin top left, y down.

mod axes;
mod bars;
mod heatmap;
mod legend;
mod line;
mod text;

use plotters::coord::Shift;
use plotters::prelude::*;

use super::images::Picture;

pub use bars::metric_bars;
pub use heatmap::confusion_heatmap;
pub use line::{Series, line_chart};

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
const WHITE_RGB: Rgb = [255, 255, 255];

/// Title text size, pixels to the em.
const TITLE_PX: f64 = 19.0;
/// Axis-title and legend text size, pixels to the em.
const LABEL_PX: f64 = 15.0;
/// Tick-label and cell text size, pixels to the em.
const TICK_PX: f64 = 13.0;

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

/// A pixel rectangle, `x0..x1` × `y0..y1` (end exclusive).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PixelRect {
    /// Left edge.
    pub x0: i32,
    /// Top edge.
    pub y0: i32,
    /// One past the right edge.
    pub x1: i32,
    /// One past the bottom edge.
    pub y1: i32,
}

impl PixelRect {
    /// Whether pixel (x, y) lies inside.
    pub fn contains(&self, (x, y): (i32, i32)) -> bool {
        (self.x0..self.x1).contains(&x) && (self.y0..self.y1).contains(&y)
    }

    /// Whether the two rectangles share a pixel.
    pub fn intersects(&self, other: &PixelRect) -> bool {
        self.x0 < other.x1 && other.x0 < self.x1 && self.y0 < other.y1 && other.y0 < self.y1
    }
}

/// The drawing surface every chart paints on.
type Area<'a> = DrawingArea<BitMapBackend<'a>, Shift>;
/// A plotters drawing failure.
type DrawError = DrawingAreaErrorKind<<BitMapBackend<'static> as DrawingBackend>::ErrorType>;

/// A plotters colour.
fn rgb(c: Rgb) -> RGBColor {
    RGBColor(c[0], c[1], c[2])
}

/// Width of `text` at `size` pixels to the em, in pixels.
fn text_width(text: &str, size: f64) -> i32 {
    text::width(text, size)
}

/// `text`, cut with "…" to fit `max_width` pixels at `size` pixels to the em.
fn fit(text: &str, size: f64, max_width: i32) -> String {
    if text_width(text, size) <= max_width {
        return text.to_string();
    }
    let chars: Vec<char> = text.chars().collect();
    (0..chars.len())
        .rev()
        .map(|n| chars[..n].iter().chain(['…'].iter()).collect::<String>())
        .find(|s| text_width(s, size) <= max_width)
        .unwrap_or_default()
}

/// Draw `text` of `size` pixels to the em, the capitals vertically centred on `y`, anchored
/// horizontally at `x` by `anchor`.
fn label(
    area: &Area,
    text: &str,
    (x, y): (i32, i32),
    size: f64,
    color: Rgb,
    anchor: Anchor,
) -> Result<(), DrawError> {
    area.draw(&text::Text::new(text, (x, y), size, color, anchor))
}

/// Draw `text` reading upwards (rotated a quarter turn counter-clockwise about (x, y)), the
/// capitals horizontally centred on `x`; `anchor` says which end is at `y` (`Right`: the end,
/// the text hanging below).
fn label_upwards(
    area: &Area,
    text: &str,
    (x, y): (i32, i32),
    size: f64,
    anchor: Anchor,
) -> Result<(), DrawError> {
    area.draw(&text::Text::new(text, (x, y), size, INK, anchor).upwards())
}

/// Paint on a white `width × height` RGB bitmap and return it as a picture.
fn paint(
    width: usize,
    height: usize,
    draw: impl FnOnce(&Area) -> Result<(), DrawError>,
) -> Picture {
    let mut pixels = vec![255u8; width * height * 3];
    {
        let area = BitMapBackend::with_buffer(&mut pixels, (width as u32, height as u32))
            .into_drawing_area();
        let drawn = draw(&area).and_then(|()| area.present());
        // Only the backend can fail, and an in-memory RGB buffer of the right size cannot.
        drawn.expect("drawing into an in-memory bitmap cannot fail");
    }
    Picture {
        width,
        height,
        channels: 3,
        pixels,
    }
}

/// Write `text` onto `picture` at (x, y), `y` being the vertical centre of the capitals, `size`
/// pixels to the em, anchored horizontally by `anchor`. A gray picture becomes RGB first.
pub fn draw_text(
    picture: &mut Picture,
    (x, y): (i32, i32),
    text: &str,
    size: f64,
    color: Rgb,
    anchor: Anchor,
) {
    if picture.channels == 1 {
        picture.pixels = picture.pixels.iter().flat_map(|&v| [v, v, v]).collect();
        picture.channels = 3;
    }
    let (w, h) = (picture.width as u32, picture.height as u32);
    let area = BitMapBackend::with_buffer(&mut picture.pixels, (w, h)).into_drawing_area();
    label(&area, text, (x, y), size, color, anchor)
        .and_then(|()| area.present())
        .expect("drawing into an in-memory bitmap cannot fail");
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fit_cuts_long_text_to_the_width() {
        assert_eq!(fit("cat", LABEL_PX, 200), "cat");
        let cut = fit("a very long class name indeed", LABEL_PX, 60);
        assert!(cut.ends_with('…'), "{cut}");
        assert!(text_width(&cut, LABEL_PX) <= 60);
        assert!("a very long class name indeed".starts_with(cut.trim_end_matches('…')));
        // Maximal: one more character would not fit.
        let longer: String = "a very long class name indeed"
            .chars()
            .take(cut.chars().count())
            .collect();
        assert!(text_width(&format!("{longer}…"), LABEL_PX) > 60);
    }

    #[test]
    fn text_lands_where_it_is_anchored() {
        let mut p = Picture::blank(200, 40, 1, 255);
        draw_text(&mut p, (100, 20), "Hello", 16.0, INK, Anchor::Right);
        assert_eq!(p.channels, 3);
        let dark: Vec<(usize, usize)> = (0..p.height)
            .flat_map(|y| (0..p.width).map(move |x| (x, y)))
            .filter(|&(x, y)| p.pixels[(y * p.width + x) * 3] < 128)
            .collect();
        assert!(dark.len() > 30, "{}", dark.len());
        assert!(dark.iter().all(|&(x, _)| (50..=101).contains(&x)));
        let (top, bottom) = (
            dark.iter().map(|p| p.1).min().unwrap(),
            dark.iter().map(|p| p.1).max().unwrap(),
        );
        // Capitals of 16-pixel text centred on row 20.
        assert!(
            (12..=15).contains(&top) && (25..=28).contains(&bottom),
            "{top}..{bottom}"
        );
    }
}
