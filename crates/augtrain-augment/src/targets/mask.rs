//! Object masks through the augmentation: an object's [`Mask`] (COCO RLE, compressed or not, or
//! a bitmap) is laid out as a full-image plane, warped by [`crate::masks::warp_mask`] with the
//! sample's parameters (nearest neighbour through the image's own map, bit-identical to the
//! fused GPU pass), and stored back in the form it came in, at the output's size.

use augtrain_annotations::model::{Bitmap, Mask, Rle};

use crate::{AugmentError, Program, SampleParams};

/// The object's mask moved with the image: `mask` belongs to an input image of the program's
/// input size; the result has the output's size and the same representation (a bitmap is cut
/// to the rectangle holding its foreground, empty when nothing is left).
pub fn warp_object_mask(
    program: &Program,
    params: &SampleParams,
    mask: &Mask,
) -> Result<Mask, AugmentError> {
    let (input, output) = (program.input, program.output);
    let plane = full_plane(mask, input.width, input.height)?;
    let mut out = vec![0u8; output.width * output.height];
    crate::masks::warp_mask(program, params, &plane, &mut out)?;
    let (w, h) = (output.width as u32, output.height as u32);
    let encode = || Rle::encode_row_major(&out, h, w).map_err(|e| bad(e.to_string()));
    Ok(match mask {
        Mask::Rle(_) => Mask::Rle(encode()?),
        Mask::RleString(_) => Mask::RleString(encode()?.compress()),
        Mask::Bitmap(_) => Mask::Bitmap(foreground_bitmap(&out, output.width, output.height)),
    })
}

/// The mask as a row-major `width × height` plane of 0/1.
fn full_plane(mask: &Mask, width: usize, height: usize) -> Result<Vec<u8>, AugmentError> {
    let size_error = |w: u32, h: u32| {
        bad(format!(
            "a mask of {w}x{h} pixels on an image of {width}x{height}; masks must cover their image"
        ))
    };
    let rle = match mask {
        Mask::Rle(r) => r.clone(),
        Mask::RleString(s) => s.decompress().map_err(|e| bad(e.to_string()))?,
        Mask::Bitmap(b) => return bitmap_plane(b, width, height),
    };
    if (rle.width as usize, rle.height as usize) != (width, height) {
        return Err(size_error(rle.width, rle.height));
    }
    let column_major = rle.decode().map_err(|e| bad(e.to_string()))?;
    let mut plane = vec![0u8; width * height];
    for x in 0..width {
        for y in 0..height {
            plane[y * width + x] = column_major[x * height + y];
        }
    }
    Ok(plane)
}

/// A bitmap placed in a full plane; it must lie inside the image.
fn bitmap_plane(b: &Bitmap, width: usize, height: usize) -> Result<Vec<u8>, AugmentError> {
    let (left, top, w, h) = (
        b.left as usize,
        b.top as usize,
        b.width as usize,
        b.height as usize,
    );
    if left + w > width || top + h > height || b.data.len() != w * h {
        return Err(bad(format!(
            "a {w}x{h} bitmap mask at ({left}, {top}) does not fit its {width}x{height} image"
        )));
    }
    let mut plane = vec![0u8; width * height];
    for (row, line) in b.data.chunks_exact(w.max(1)).take(h).enumerate() {
        for (col, &v) in line.iter().enumerate() {
            plane[(top + row) * width + left + col] = u8::from(v != 0);
        }
    }
    Ok(plane)
}

/// The smallest bitmap holding every foreground pixel of a `width × height` plane (0x0 at
/// the origin when there is none).
fn foreground_bitmap(plane: &[u8], width: usize, height: usize) -> Bitmap {
    let on = |x: usize, y: usize| plane[y * width + x] != 0;
    let rows: Vec<usize> = (0..height)
        .filter(|&y| (0..width).any(|x| on(x, y)))
        .collect();
    let cols: Vec<usize> = (0..width)
        .filter(|&x| (0..height).any(|y| on(x, y)))
        .collect();
    let (Some(&top), Some(&bottom), Some(&left), Some(&right)) =
        (rows.first(), rows.last(), cols.first(), cols.last())
    else {
        return Bitmap::default();
    };
    let (w, h) = (right - left + 1, bottom - top + 1);
    let mut data = Vec::with_capacity(w * h);
    for y in top..=bottom {
        data.extend_from_slice(&plane[y * width + left..y * width + right + 1]);
    }
    Bitmap {
        left: left as u32,
        top: top as u32,
        width: w as u32,
        height: h as u32,
        data,
    }
}

fn bad(problem: String) -> AugmentError {
    AugmentError::Shape(problem)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::PipelineSpec;
    use augtrain_data::ImageShape;

    fn program(ops: &str, w: usize, h: usize) -> Program {
        let spec = PipelineSpec::from_toml(&format!("version = 1\n{ops}"), "test").unwrap();
        Program::new(&spec, ImageShape::new(w, h, 3)).unwrap()
    }

    /// A horizontal flip moves a mask's foreground to the mirrored columns in every
    /// representation, and each comes back in its own form.
    #[test]
    fn a_flipped_mask_mirrors_in_every_representation() {
        let (w, h) = (7usize, 5usize);
        let p = program("[[ops]]\nop = \"hflip\"\np = 1.0\n", w, h);
        let params = p.draw(1, 0, &[0]).pop().unwrap();
        // Foreground: columns 1..3 of rows 2..4.
        let mut plane = vec![0u8; w * h];
        for y in 2..4 {
            for x in 1..3 {
                plane[y * w + x] = 1;
            }
        }
        let rle = Rle::encode_row_major(&plane, h as u32, w as u32).unwrap();
        let bitmap = Bitmap {
            left: 1,
            top: 2,
            width: 2,
            height: 2,
            data: vec![1; 4],
        };
        let mut flipped = vec![0u8; w * h];
        for y in 2..4 {
            for x in 4..6 {
                flipped[y * w + x] = 1;
            }
        }
        let expected = Rle::encode_row_major(&flipped, h as u32, w as u32).unwrap();
        let got = warp_object_mask(&p, &params, &Mask::Rle(rle.clone())).unwrap();
        assert_eq!(got, Mask::Rle(expected.clone()));
        let got = warp_object_mask(&p, &params, &Mask::RleString(rle.compress())).unwrap();
        assert_eq!(got, Mask::RleString(expected.compress()));
        let got = warp_object_mask(&p, &params, &Mask::Bitmap(bitmap)).unwrap();
        let Mask::Bitmap(b) = got else { panic!() };
        assert_eq!((b.left, b.top, b.width, b.height), (4, 2, 2, 2));
    }

    #[test]
    fn a_mask_of_another_size_is_an_error() {
        let p = program("", 6, 4);
        let params = p.draw(1, 0, &[0]).pop().unwrap();
        let rle = Rle::encode_row_major(&[0u8; 12], 3, 4).unwrap();
        let e = warp_object_mask(&p, &params, &Mask::Rle(rle)).unwrap_err();
        assert!(
            e.to_string().contains("4x3 pixels on an image of 6x4"),
            "{e}"
        );
    }
}
