//! The preview of `augment --data`: each original beside its augmented copies, with boxes,
//! oriented boxes, polygons, polylines and keypoints drawn over them in a colour per class, masks
//! half-tinted in it.

use std::path::Path;

use augtrain_annotations::model::{Bitmap, Dataset, Object, Point};
use augtrain_run::report::images::{Picture, contact_sheet};

/// Largest cell side of the sheet, pixels.
const CELL: usize = 192;

/// One colour per class (cycled).
const PALETTE: [[u8; 3]; 8] = [
    [230, 25, 75],
    [60, 180, 75],
    [255, 225, 25],
    [0, 130, 200],
    [245, 130, 48],
    [145, 30, 180],
    [70, 240, 240],
    [240, 50, 230],
];

/// Write the sheet: the first `n` input images (in the order of `shown`), each followed by
/// its augmented copies; `original(i)` loads input image `i`.
pub fn write_preview(
    path: &Path,
    data: &Dataset,
    shown: &[(usize, &Picture, &[Object])],
    n: usize,
    original: impl Fn(usize) -> crate::Result<Picture>,
) -> crate::Result<()> {
    let mut order: Vec<usize> = Vec::new();
    for (i, _, _) in shown {
        if !order.contains(i) && order.len() < n.max(1) {
            order.push(*i);
        }
    }
    let side = shown
        .iter()
        .map(|(_, p, _)| p.width.max(p.height))
        .chain(
            order
                .iter()
                .map(|&i| data.images[i].width.max(data.images[i].height) as usize),
        )
        .max()
        .unwrap_or(1)
        .clamp(1, CELL);
    let mut rows = Vec::with_capacity(order.len());
    for &i in &order {
        let first = original(i)?;
        let mut row = vec![cell(&first, &data.images[i].objects, side)];
        for (_, pic, objects) in shown.iter().filter(|(k, _, _)| *k == i) {
            row.push(cell(pic, objects, side));
        }
        rows.push(row);
    }
    contact_sheet(&rows, side, side, 4).save_png(path)?;
    Ok(())
}

/// `pic` scaled into a `side × side` cell (aspect kept) with `objects` drawn over it.
fn cell(pic: &Picture, objects: &[Object], side: usize) -> Picture {
    let scale = side as f64 / pic.width.max(pic.height).max(1) as f64;
    let (w, h) = (
        ((pic.width as f64 * scale).round() as usize).max(1),
        ((pic.height as f64 * scale).round() as usize).max(1),
    );
    let mut out = Picture::blank(side, side, 3, 255);
    out.paste(pic, 0, 0, w, h);
    let at = |p: Point| (p.x * scale, p.y * scale);
    for o in objects {
        let colour = PALETTE[o.class % PALETTE.len()];
        if let Some(mask) = o.mask.as_ref().and_then(|m| m.to_bitmap()) {
            tint(&mut out, &mask, (w, h), scale, colour);
        }
        let mut rings: Vec<(Vec<Point>, bool)> = Vec::new();
        if let Some(b) = &o.bbox {
            let c = [
                (b.x, b.y),
                (b.x_max(), b.y),
                (b.x_max(), b.y_max()),
                (b.x, b.y_max()),
            ];
            rings.push((c.iter().map(|&(x, y)| Point { x, y }).collect(), true));
        }
        if let Some(b) = &o.oriented {
            rings.push((b.corners().to_vec(), true));
        }
        rings.extend(o.polygons.iter().map(|p| (p.points.clone(), true)));
        if let Some(l) = &o.polyline {
            rings.push((l.clone(), false));
        }
        for (points, closed) in rings {
            let n = points.len();
            let edges = if closed { n } else { n.saturating_sub(1) };
            for k in 0..edges {
                line(&mut out, at(points[k]), at(points[(k + 1) % n]), colour);
            }
        }
        for k in o.keypoints.iter().filter(|k| k.visibility > 0) {
            dot(
                &mut out,
                at(Point { x: k.x, y: k.y }),
                colour,
                k.visibility == 2,
            );
        }
    }
    out
}

/// Half-tint in `colour` the pixels of the `w × h` scaled image whose source pixel (the cell
/// pixel's centre divided by `scale`) is inside `mask`.
fn tint(pic: &mut Picture, mask: &Bitmap, (w, h): (usize, usize), scale: f64, colour: [u8; 3]) {
    for y in 0..h.min(pic.height) {
        let sy = ((y as f64 + 0.5) / scale) as i64 - mask.top as i64;
        if sy < 0 || sy >= mask.height as i64 {
            continue;
        }
        for x in 0..w.min(pic.width) {
            let sx = ((x as f64 + 0.5) / scale) as i64 - mask.left as i64;
            if sx < 0 || sx >= mask.width as i64 {
                continue;
            }
            let inside = mask
                .data
                .get(sy as usize * mask.width as usize + sx as usize);
            if inside.is_some_and(|&v| v != 0) {
                let o = (y * pic.width + x) * 3;
                for (p, c) in pic.pixels[o..o + 3].iter_mut().zip(colour) {
                    *p = ((*p as u16 + c as u16) / 2) as u8;
                }
            }
        }
    }
}

fn plot(pic: &mut Picture, x: f64, y: f64, colour: [u8; 3]) {
    if x < 0.0 || y < 0.0 {
        return;
    }
    let (x, y) = (x as usize, y as usize);
    if x < pic.width && y < pic.height {
        let o = (y * pic.width + x) * 3;
        pic.pixels[o..o + 3].copy_from_slice(&colour);
    }
}

/// A straight line, one pixel wide.
fn line(pic: &mut Picture, a: (f64, f64), b: (f64, f64), colour: [u8; 3]) {
    let steps = (b.0 - a.0)
        .abs()
        .max((b.1 - a.1).abs())
        .ceil()
        .clamp(1.0, 1e5);
    for s in 0..=steps as usize {
        let t = s as f64 / steps;
        plot(pic, a.0 + t * (b.0 - a.0), a.1 + t * (b.1 - a.1), colour);
    }
}

/// A keypoint: a filled 5 × 5 square when visible, its outline when occluded.
fn dot(pic: &mut Picture, c: (f64, f64), colour: [u8; 3], visible: bool) {
    for dy in -2..=2i32 {
        for dx in -2..=2i32 {
            if visible || dx.abs() == 2 || dy.abs() == 2 {
                plot(pic, c.0 + dx as f64, c.1 + dy as f64, colour);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use augtrain_annotations::model::Mask;

    #[test]
    fn a_mask_is_tinted_where_it_covers_the_image_and_nowhere_else() {
        let pic = Picture::blank(4, 4, 3, 0);
        let mut o = Object::of_class(0);
        // The right half of the 4 x 4 image, as a bitmap starting at column 2.
        o.mask = Some(Box::new(Mask::Bitmap(Bitmap {
            left: 2,
            top: 0,
            width: 2,
            height: 4,
            data: vec![1; 8],
        })));
        let out = cell(&pic, &[o], 8);
        let at = |x: usize, y: usize| &out.pixels[(y * 8 + x) * 3..(y * 8 + x) * 3 + 3];
        let half = PALETTE[0].map(|c| c / 2);
        assert_eq!(at(6, 3), half, "inside the mask");
        assert_eq!(at(1, 3), [0, 0, 0], "image outside the mask");
        assert_eq!(at(6, 7), half);
        assert_eq!(at(0, 0), [0, 0, 0]);
    }
}
