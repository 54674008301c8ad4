//! Pictures: PNG encoding (atomic) and contact sheets of original and augmented images.

use std::path::Path;

use augtrain_data::ImageShape;
use augtrain_data::util::fs::{IoError, write_atomic};

/// An 8-bit image, height × width × channels (1 or 3), row-major.
#[derive(Clone, Debug, PartialEq)]
pub struct Picture {
    /// Width in pixels.
    pub width: usize,
    /// Height in pixels.
    pub height: usize,
    /// 1 (gray) or 3 (RGB).
    pub channels: usize,
    /// The pixels.
    pub pixels: Vec<u8>,
}

impl Picture {
    /// A picture filled with one gray level.
    pub fn blank(width: usize, height: usize, channels: usize, level: u8) -> Self {
        Self {
            width,
            height,
            channels,
            pixels: vec![level; width * height * channels],
        }
    }

    /// From `f32` CHW values in [0, 1] (clamped, rounded).
    pub fn from_chw(values: &[f32], channels: usize, height: usize, width: usize) -> Self {
        let mut pixels = vec![0u8; width * height * channels];
        for c in 0..channels {
            for i in 0..width * height {
                let v = values[c * width * height + i];
                pixels[i * channels + c] = (v.clamp(0.0, 1.0) * 255.0).round() as u8;
            }
        }
        Self {
            width,
            height,
            channels,
            pixels,
        }
    }

    /// Encode as PNG, at the fast compression setting (as OpenCV's `imwrite` default, level 1):
    /// augmented data sets and previews are written far more often than they are stored.
    pub fn png_bytes(&self) -> Vec<u8> {
        use image::ImageEncoder;
        let mut out = Vec::new();
        let colour = if self.channels == 1 {
            image::ExtendedColorType::L8
        } else {
            image::ExtendedColorType::Rgb8
        };
        use image::codecs::png::{CompressionType, FilterType, PngEncoder};
        PngEncoder::new_with_quality(&mut out, CompressionType::Fast, FilterType::Adaptive)
            .write_image(&self.pixels, self.width as u32, self.height as u32, colour)
            .expect("encoding a PNG into memory cannot fail for a well-formed picture");
        out
    }

    /// Write as PNG, atomically.
    pub fn save_png(&self, path: &Path) -> Result<(), IoError> {
        write_atomic(path, &self.png_bytes())
    }

    /// Copy `src` into this picture at (x, y), scaled by nearest neighbour to `w × h`;
    /// gray sources are replicated into colour targets.
    pub fn paste(&mut self, src: &Picture, x: usize, y: usize, w: usize, h: usize) {
        for dy in 0..h {
            for dx in 0..w {
                let sx = dx * src.width / w.max(1);
                let sy = dy * src.height / h.max(1);
                let (tx, ty) = (x + dx, y + dy);
                if tx >= self.width || ty >= self.height {
                    continue;
                }
                for c in 0..self.channels {
                    let sc = if src.channels == 1 {
                        0
                    } else {
                        c.min(src.channels - 1)
                    };
                    self.pixels[(ty * self.width + tx) * self.channels + c] =
                        src.pixels[(sy * src.width + sx) * src.channels + sc];
                }
            }
        }
    }
}

/// Un-normalize kernel output (`f32` NCHW, normalized per the header) back to [0, 1]
/// pictures, one per sample.
pub fn pictures(
    values: &[f32],
    header: &[u32],
    n: usize,
    c: usize,
    h: usize,
    w: usize,
) -> Vec<Picture> {
    use augtrain_augment::layout::{H_BIAS, H_SCALE};
    (0..n)
        .map(|s| {
            let mut raw = values[s * c * h * w..(s + 1) * c * h * w].to_vec();
            for ch in 0..c {
                let scale = f32::from_bits(header[H_SCALE + ch]);
                let bias = f32::from_bits(header[H_BIAS + ch]);
                for v in &mut raw[ch * h * w..(ch + 1) * h * w] {
                    *v = (*v - bias) / scale;
                }
            }
            Picture::from_chw(&raw, c, h, w)
        })
        .collect()
}

/// A contact sheet of the first `n` images of `data`, each beside `versions` augmented
/// versions (epochs 0, 1, ...) drawn by `program` from `seed`, computed with the CPU twin.
pub fn augmentation_sheet(
    program: &augtrain_augment::Program,
    seed: u64,
    data: &augtrain_data::Dataset,
    n: usize,
    versions: usize,
) -> Result<Picture, augtrain_augment::AugmentError> {
    let n = n.min(data.len());
    let images: Vec<&[u8]> = (0..n).map(|i| data.image(i)).collect();
    let ids: Vec<u64> = data.ids[..n].to_vec();
    let ImageShape {
        width: w,
        height: h,
        channels: c,
    } = program.output;
    let header = program.header(n);
    let mut columns = Vec::new();
    for v in 0..versions {
        let params = program.draw(seed, v, &ids);
        let mut values = vec![0f32; n * c * h * w];
        augtrain_augment::cpu::run(&header, &program.pack(&params)?, &images, &mut values);
        columns.push(pictures(&values, &header, n, c, h, w));
    }
    let rows: Vec<Vec<Picture>> = (0..n)
        .map(|i| {
            std::iter::once(Picture {
                width: data.shape.width,
                height: data.shape.height,
                channels: data.shape.channels,
                pixels: images[i].to_vec(),
            })
            .chain(columns.iter().map(|col| col[i].clone()))
            .collect()
        })
        .collect();
    let (cw, ch) = (w.max(data.shape.width), h.max(data.shape.height));
    let zoom = (96 / cw.max(ch)).max(1);
    Ok(contact_sheet(&rows, cw * zoom, ch * zoom, 4))
}

/// A grid of rows; each row shows an original and then its augmented versions, with a gap of
/// `gap` pixels between cells. Every cell is `cell_w × cell_h` (pictures are scaled to fit).
pub fn contact_sheet(rows: &[Vec<Picture>], cell_w: usize, cell_h: usize, gap: usize) -> Picture {
    let cols = rows.iter().map(|r| r.len()).max().unwrap_or(0);
    let width = cols * cell_w + (cols + 1) * gap;
    let height = rows.len() * cell_h + (rows.len() + 1) * gap;
    let mut sheet = Picture::blank(width.max(1), height.max(1), 3, 255);
    for (r, row) in rows.iter().enumerate() {
        for (c, pic) in row.iter().enumerate() {
            // A thicker gap after the original column.
            let x = gap + c * (cell_w + gap);
            let y = gap + r * (cell_h + gap);
            sheet.paste(pic, x, y, cell_w, cell_h);
        }
    }
    sheet
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn png_round_trip() {
        let p = Picture {
            width: 3,
            height: 2,
            channels: 3,
            pixels: (0..18).map(|i| i as u8 * 10).collect(),
        };
        let bytes = p.png_bytes();
        let back = image::load_from_memory(&bytes).unwrap().to_rgb8();
        assert_eq!(back.into_raw(), p.pixels);
    }

    #[test]
    fn contact_sheet_places_cells() {
        let a = Picture::blank(2, 2, 1, 0);
        let sheet = contact_sheet(&[vec![a.clone(), a]], 2, 2, 1);
        assert_eq!((sheet.width, sheet.height), (7, 4));
        assert_eq!(sheet.pixels[(7 + 1) * 3], 0);
        assert_eq!(sheet.pixels[0], 255);
    }
}
