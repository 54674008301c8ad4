//! Text in the embedded DejaVu Sans, as a plotters element: ab_glyph lays out and rasterizes
//! the glyphs (kerning, sub-pixel pen positions, anti-aliasing) and the coverage is blended into
//! the bitmap. plotters' own ab_glyph text path drops each glyph's left bearing and truncates
//! pen positions to whole pixels, which spaces letters unevenly at chart sizes; this one does
//! not.

use std::sync::OnceLock;

use ab_glyph::{Font, FontRef, GlyphId, PxScale, ScaleFont, point};
use plotters::element::{Drawable, PointCollection};
use plotters_backend::{BackendColor, BackendCoord, DrawingBackend, DrawingErrorKind};

use super::{Anchor, Rgb};

/// DejaVu Sans, parsed once.
fn font() -> &'static FontRef<'static> {
    static FONT: OnceLock<FontRef<'static>> = OnceLock::new();
    FONT.get_or_init(|| {
        FontRef::try_from_slice(dejavu::sans::regular())
            .expect("the embedded DejaVu Sans is a valid TrueType font")
    })
}

/// One line of text: `size` is the font's em in pixels; the anchor point is on the vertical
/// middle of the capitals, at the left edge, centre or right edge (`anchor`) of the line.
#[derive(Clone, Debug)]
pub(super) struct Text {
    text: String,
    at: BackendCoord,
    size: f32,
    color: Rgb,
    anchor: Anchor,
    /// Rotated a quarter turn counter-clockwise (reading upwards), around the anchor point.
    upwards: bool,
}

impl Text {
    /// Horizontal text.
    pub(super) fn new(text: &str, at: (i32, i32), size: f64, color: Rgb, anchor: Anchor) -> Self {
        Self {
            text: text.to_string(),
            at,
            size: size as f32,
            color,
            anchor,
            upwards: false,
        }
    }

    /// The same text reading upwards.
    pub(super) fn upwards(mut self) -> Self {
        self.upwards = true;
        self
    }
}

/// The scale whose em is `size` pixels.
fn scale(size: f32) -> PxScale {
    let f = font();
    let em = f.units_per_em().unwrap_or(2048.0);
    PxScale::from(size * f.height_unscaled() / em)
}

/// Pen positions of each glyph of `text` on a baseline from x = 0, and the advance width.
fn layout(text: &str, size: f32) -> (Vec<(GlyphId, f32)>, f32) {
    let f = font().as_scaled(scale(size));
    let mut x = 0.0;
    let mut prev: Option<GlyphId> = None;
    let mut glyphs = Vec::new();
    for c in text.chars() {
        let id = f.glyph_id(c);
        if let Some(p) = prev {
            x += f.kern(p, id);
        }
        glyphs.push((id, x));
        x += f.h_advance(id);
        prev = Some(id);
    }
    (glyphs, x)
}

/// Width of `text` at `size` pixels to the em, in pixels.
pub(super) fn width(text: &str, size: f64) -> i32 {
    layout(text, size as f32).1.ceil() as i32
}

impl Text {
    /// Every covered pixel as (dx, dy, coverage) relative to the anchor point.
    fn coverage(&self) -> Vec<(i32, i32, f32)> {
        let f = font();
        let (glyphs, w) = layout(&self.text, self.size);
        let s = scale(self.size);
        let x0 = match self.anchor {
            Anchor::Left => 0.0,
            Anchor::Center => -w / 2.0,
            Anchor::Right => -w,
        };
        // DejaVu's capitals are 0.729 em high; the baseline sits half of that below the anchor.
        let baseline = 0.729 * self.size / 2.0;
        let mut out = Vec::new();
        for (id, x) in glyphs {
            let glyph = id.with_scale_and_position(s, point(x0 + x, baseline));
            if let Some(outline) = f.outline_glyph(glyph) {
                let b = outline.px_bounds();
                outline.draw(|gx, gy, c| {
                    out.push((b.min.x as i32 + gx as i32, b.min.y as i32 + gy as i32, c));
                });
            }
        }
        out
    }
}

impl<'a> PointCollection<'a, BackendCoord> for &'a Text {
    type Point = &'a BackendCoord;
    type IntoIter = std::iter::Once<&'a BackendCoord>;
    fn point_iter(self) -> Self::IntoIter {
        std::iter::once(&self.at)
    }
}

impl<DB: DrawingBackend> Drawable<DB> for Text {
    fn draw<I: Iterator<Item = BackendCoord>>(
        &self,
        mut pos: I,
        backend: &mut DB,
        _: (u32, u32),
    ) -> Result<(), DrawingErrorKind<DB::ErrorType>> {
        let Some((x, y)) = pos.next() else {
            return Ok(());
        };
        let rgb = (self.color[0], self.color[1], self.color[2]);
        for (dx, dy, c) in self.coverage() {
            let (px, py) = if self.upwards {
                (x + dy, y - dx)
            } else {
                (x + dx, y + dy)
            };
            let color = BackendColor {
                alpha: c.clamp(0.0, 1.0) as f64,
                rgb,
            };
            backend.draw_pixel((px, py), color)?;
        }
        Ok(())
    }
}
