//! COCO run-length encoding, exactly as pycocotools 2.0.11 computes it (`common/maskApi.c`):
//! encode, decode, area, merge, box from mask, polygon and box rasterisation, and the compressed
//! string codec. Every function here gives pycocotools' bits on valid input (checked against
//! `tests/fixtures/annotations/rle_oracle.json`, written by `tools/coco_mask_reference.py`).
//!
//! An [`Rle`] runs down the columns of a `height × width` grid (column-major): alternating run
//! lengths of 0s and 1s starting with 0s. Where pycocotools trusts its input (counts that do not
//! add up to `height × width` make it read or write past its buffers; characters outside its
//! alphabet are masked; a size mismatch in `merge` silently gives an empty mask), this module
//! returns an [`RleError`] instead. The one deliberate difference on valid input is
//! [`Rle::to_bbox`] of a mask without a single foreground pixel but with zero-length foreground
//! runs (e.g. counts `[5, 0, 95]`): pycocotools' unsigned arithmetic wraps to a box about 2^32
//! pixels wide; this gives `[0, 0, 0, 0]`, as pycocotools does for every other empty mask.

use crate::model::{BBox, Point, Rle, RleString};

/// Why an RLE, a compressed RLE string or a mask operation was refused.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum RleError {
    /// The runs do not cover the grid exactly.
    #[error(
        "RLE counts add up to {sum} pixels, not height × width = {height} × {width} = {expected}"
    )]
    CountsSum {
        /// The sum of the runs.
        sum: u64,
        /// `height × width`.
        expected: u64,
        /// Grid height.
        height: u32,
        /// Grid width.
        width: u32,
    },
    /// The grid has more pixels than a run length can hold (pycocotools' counts are `uint`).
    #[error("RLE size {height} × {width} has more than 2^32 - 1 pixels")]
    TooLarge {
        /// Grid height.
        height: u32,
        /// Grid width.
        width: u32,
    },
    /// A character outside pycocotools' alphabet `'0'..='o'` (ASCII 48 to 111).
    #[error("compressed RLE counts: byte {byte:#04x} at offset {offset} is outside '0'..='o'")]
    BadCharacter {
        /// Offset in the string, bytes.
        offset: usize,
        /// The byte found.
        byte: u8,
    },
    /// The string ends inside a value (its last character has the continuation bit).
    #[error("compressed RLE counts end inside a value")]
    Truncated,
    /// A value longer than 7 characters (35 bits; no run length needs more).
    #[error("compressed RLE counts: the value at offset {offset} is longer than 7 characters")]
    ValueTooLong {
        /// Offset of the value's first character.
        offset: usize,
    },
    /// A decoded run length that is negative or above 2^32 - 1.
    #[error("compressed RLE counts: run {index} decodes to {value}, not a run length")]
    RunOutOfRange {
        /// Index of the run.
        index: usize,
        /// The decoded value.
        value: i64,
    },
    /// Two masks of different sizes were combined.
    #[error("masks of different sizes: {0} × {1} and {2} × {3} (height × width)")]
    SizeMismatch(u32, u32, u32, u32),
    /// A bitmap whose length is not `height × width`.
    #[error("a {height} × {width} mask needs {expected} bytes, got {len}")]
    BitmapLength {
        /// Grid height.
        height: u32,
        /// Grid width.
        width: u32,
        /// `height × width`.
        expected: u64,
        /// The length given.
        len: usize,
    },
    /// A polygon coordinate that is not finite or too far out to rasterise (beyond ±2^27 px).
    #[error("polygon coordinate {0} is not finite or too far outside the image to rasterise")]
    PolygonCoordinate(f64),
    /// A polygon whose boundary is too long to rasterise (more than [`MAX_POLYGON_STEPS`]
    /// steps at pycocotools' 5× upsampling).
    #[error("polygon boundary of {0} upsampled steps is too long to rasterise")]
    PolygonTooLong(u64),
}

/// pycocotools rasterises polygons on a grid 5 times finer than the image.
const POLY_SCALE: f64 = 5.0;

/// The largest polygon coordinate magnitude rasterised, pixels: pycocotools computes in C `int`
/// at 5× scale, so beyond this its arithmetic overflows; real annotations stay far inside.
const MAX_POLYGON_COORDINATE: f64 = (1u64 << 27) as f64;

/// The most upsampled boundary steps a polygon may take (pycocotools' point count `m`); about
/// a second of work. A polygon in a 40000 × 40000 image going round it 60 times stays below.
pub const MAX_POLYGON_STEPS: u64 = 1 << 26;

/// The number of pixels of a `height × width` grid, refused above `u32::MAX`.
fn grid_pixels(height: u32, width: u32) -> Result<u32, RleError> {
    let n = u64::from(height) * u64::from(width);
    u32::try_from(n).map_err(|_| RleError::TooLarge { height, width })
}

impl Rle {
    /// Checks that the runs cover the `height × width` grid exactly (and that the grid fits
    /// 32-bit run lengths). Every operation below assumes a valid RLE; readers call this.
    pub fn validate(&self) -> Result<(), RleError> {
        let expected = grid_pixels(self.height, self.width)?;
        let sum: u64 = self.counts.iter().map(|&c| u64::from(c)).sum();
        if sum != u64::from(expected) {
            return Err(RleError::CountsSum {
                sum,
                expected: u64::from(expected),
                height: self.height,
                width: self.width,
            });
        }
        Ok(())
    }

    /// pycocotools' `rleEncode`: the RLE of a column-major `height × width` mask (`mask[x *
    /// height + y]` is pixel (column x, row y)); any non-zero byte is foreground.
    pub fn encode(mask: &[u8], height: u32, width: u32) -> Result<Rle, RleError> {
        let expected = grid_pixels(height, width)?;
        if mask.len() as u64 != u64::from(expected) {
            return Err(RleError::BitmapLength {
                height,
                width,
                expected: u64::from(expected),
                len: mask.len(),
            });
        }
        let mut counts = Vec::new();
        let (mut value, mut run) = (false, 0u32);
        for &b in mask {
            if (b != 0) != value {
                counts.push(run);
                run = 0;
                value = !value;
            }
            run += 1;
        }
        counts.push(run);
        Ok(Rle {
            height,
            width,
            counts,
        })
    }

    /// The RLE of a row-major `height × width` mask (`mask[y * width + x]`), as
    /// [`Rle::encode`] of its transpose.
    pub fn encode_row_major(mask: &[u8], height: u32, width: u32) -> Result<Rle, RleError> {
        let expected = grid_pixels(height, width)?;
        if mask.len() as u64 != u64::from(expected) {
            return Err(RleError::BitmapLength {
                height,
                width,
                expected: u64::from(expected),
                len: mask.len(),
            });
        }
        let (h, w) = (height as usize, width as usize);
        let column_major: Vec<u8> = (0..w)
            .flat_map(|x| (0..h).map(move |y| (x, y)))
            .map(|(x, y)| mask[y * w + x])
            .collect();
        Rle::encode(&column_major, height, width)
    }

    /// pycocotools' `rleDecode`: the column-major mask, one byte per pixel (0 or 1). Allocates
    /// `height × width` bytes; validates first.
    pub fn decode(&self) -> Result<Vec<u8>, RleError> {
        self.validate()?;
        let mut mask = Vec::with_capacity(self.height as usize * self.width as usize);
        let mut value = 0u8;
        for &c in &self.counts {
            mask.resize(mask.len() + c as usize, value);
            value ^= 1;
        }
        Ok(mask)
    }

    /// pycocotools' `rleArea`: the number of foreground pixels (the sum of the odd runs).
    pub fn area(&self) -> u64 {
        self.counts
            .iter()
            .skip(1)
            .step_by(2)
            .map(|&c| u64::from(c))
            .sum()
    }

    /// pycocotools' `rleToBbox`: the tightest box of whole pixels around the foreground,
    /// `[x, y, width, height]` in pixels; `[0, 0, 0, 0]` for an empty mask (see the module
    /// documentation for the one case pycocotools differs). A foreground run that crosses from
    /// one column to the next makes the box span the full height, as in pycocotools.
    pub fn to_bbox(&self) -> BBox {
        let h = u64::from(self.height);
        let m = self.counts.len() / 2 * 2;
        let (mut xs, mut ys, mut xe, mut ye) = (u64::MAX, u64::MAX, 0u64, 0u64);
        let mut cc = 0u64;
        for j in 0..m {
            let start = cc;
            cc += u64::from(self.counts[j]);
            if j % 2 == 0 || self.counts[j] == 0 {
                continue;
            }
            let (x_start, x_end) = (start / h, (cc - 1) / h);
            xs = xs.min(x_start);
            xe = xe.max(x_end);
            if x_start < x_end {
                ys = 0;
                ye = h - 1;
            } else {
                ys = ys.min(start % h);
                ye = ye.max((cc - 1) % h);
            }
        }
        if xs == u64::MAX {
            return BBox::default();
        }
        BBox {
            x: xs as f64,
            y: ys as f64,
            width: (xe - xs + 1) as f64,
            height: (ye - ys + 1) as f64,
        }
    }

    /// pycocotools' `rleMerge`: the union (or with `intersect`, the intersection) of masks of
    /// one size; one mask is returned as it is, none gives the empty 0 × 0 RLE.
    pub fn merge(rles: &[Rle], intersect: bool) -> Result<Rle, RleError> {
        let Some(first) = rles.first() else {
            return Ok(Rle::default());
        };
        for r in rles {
            if (r.height, r.width) != (first.height, first.width) {
                return Err(RleError::SizeMismatch(
                    first.height,
                    first.width,
                    r.height,
                    r.width,
                ));
            }
            r.validate()?;
        }
        let mut counts = first.counts.clone();
        for r in &rles[1..] {
            counts = merge_runs(&counts, &r.counts, intersect);
        }
        Ok(Rle {
            height: first.height,
            width: first.width,
            counts,
        })
    }

    /// pycocotools' `rleFrPoly`: the mask of one closed polygon given as `[x0, y0, x1, y1,
    /// ...]` in pixels (an odd trailing coordinate is ignored, as pycocotools does), rasterised
    /// on a 5× finer grid exactly as pycocotools does.
    pub fn from_polygon(xy: &[f64], height: u32, width: u32) -> Result<Rle, RleError> {
        grid_pixels(height, width)?;
        let k = xy.len() / 2;
        let mut x = Vec::with_capacity(k + 1);
        let mut y = Vec::with_capacity(k + 1);
        for p in xy[..2 * k].chunks_exact(2) {
            x.push(upsample(p[0])?);
            y.push(upsample(p[1])?);
        }
        if k > 0 {
            x.push(x[0]);
            y.push(y[0]);
        }
        let steps: u64 = (0..k)
            .map(|j| {
                (x[j] - x[j + 1])
                    .unsigned_abs()
                    .max((y[j] - y[j + 1]).unsigned_abs())
                    + 1
            })
            .sum();
        if steps > MAX_POLYGON_STEPS {
            return Err(RleError::PolygonTooLong(steps));
        }
        let mut crossings = ColumnCrossings::new(height, width);
        for j in 0..k {
            trace_edge((x[j], y[j]), (x[j + 1], y[j + 1]), &mut crossings);
        }
        Ok(Rle {
            height,
            width,
            counts: crossings.into_counts(),
        })
    }

    /// [`Rle::from_polygon`] of a model [`Point`] list.
    pub fn from_points(points: &[Point], height: u32, width: u32) -> Result<Rle, RleError> {
        let xy: Vec<f64> = points.iter().flat_map(|p| [p.x, p.y]).collect();
        Rle::from_polygon(&xy, height, width)
    }

    /// pycocotools' `rleFrBbox`: the mask of a box, as the polygon of its four corners.
    pub fn from_bbox(bbox: &BBox, height: u32, width: u32) -> Result<Rle, RleError> {
        let (xs, ys) = (bbox.x, bbox.y);
        let (xe, ye) = (xs + bbox.width, ys + bbox.height);
        Rle::from_polygon(&[xs, ys, xs, ye, xe, ye, xe, ys], height, width)
    }

    /// pycocotools' `rleToString`: the compressed counts string (LEB128-like, 5 bits per
    /// character in ASCII 48..=111, runs from the fourth on stored as differences).
    pub fn compress(&self) -> RleString {
        let mut s = String::with_capacity(self.counts.len() * 2);
        for (i, &c) in self.counts.iter().enumerate() {
            let mut x = i64::from(c);
            if i > 2 {
                x -= i64::from(self.counts[i - 2]);
            }
            loop {
                let mut ch = (x & 0x1f) as u8;
                x >>= 5;
                let more = if ch & 0x10 != 0 { x != -1 } else { x != 0 };
                if more {
                    ch |= 0x20;
                }
                s.push(char::from(ch + 48));
                if !more {
                    break;
                }
            }
        }
        RleString {
            height: self.height,
            width: self.width,
            counts: s,
        }
    }
}

impl RleString {
    /// pycocotools' `rleFrString`, validated: the runs of a compressed counts string, refused
    /// when a character is outside the alphabet, a value is cut off or out of range, or the
    /// runs do not cover the grid.
    pub fn decompress(&self) -> Result<Rle, RleError> {
        let bytes = self.counts.as_bytes();
        let mut counts: Vec<u32> = Vec::with_capacity(bytes.len() / 2);
        let mut p = 0;
        while p < bytes.len() {
            let start = p;
            let (mut x, mut k) = (0i64, 0u32);
            loop {
                let Some(&b) = bytes.get(p) else {
                    return Err(RleError::Truncated);
                };
                if !(48..=111).contains(&b) {
                    return Err(RleError::BadCharacter { offset: p, byte: b });
                }
                if k == 7 {
                    return Err(RleError::ValueTooLong { offset: start });
                }
                let c = i64::from(b - 48);
                x |= (c & 0x1f) << (5 * k);
                p += 1;
                k += 1;
                if c & 0x20 == 0 {
                    if c & 0x10 != 0 {
                        x |= -1i64 << (5 * k);
                    }
                    break;
                }
            }
            let m = counts.len();
            if m > 2 {
                x += i64::from(counts[m - 2]);
            }
            let run =
                u32::try_from(x).map_err(|_| RleError::RunOutOfRange { index: m, value: x })?;
            counts.push(run);
        }
        let rle = Rle {
            height: self.height,
            width: self.width,
            counts,
        };
        rle.validate()?;
        Ok(rle)
    }
}

/// pycocotools' `(int)(scale * v + .5)`, refusing values whose C arithmetic would overflow.
fn upsample(v: f64) -> Result<i64, RleError> {
    if !v.is_finite() || v.abs() > MAX_POLYGON_COORDINATE {
        return Err(RleError::PolygonCoordinate(v));
    }
    Ok((POLY_SCALE * v + 0.5) as i32 as i64)
}

/// One merge step of `rleMerge`: the runs of `a ∪ b` (or `a ∩ b`), both valid on one grid.
fn merge_runs(a: &[u32], b: &[u32], intersect: bool) -> Vec<u32> {
    let mut out = Vec::with_capacity(a.len() + b.len());
    let (mut ca, mut cb) = (
        a.first().copied().unwrap_or(0),
        b.first().copied().unwrap_or(0),
    );
    let (mut v, mut va, mut vb) = (false, false, false);
    let (mut ia, mut ib, mut cc) = (1usize, 1usize, 0u32);
    loop {
        let c = ca.min(cb);
        cc += c;
        ca -= c;
        if ca == 0 && ia < a.len() {
            ca = a[ia];
            ia += 1;
            va = !va;
        }
        cb -= c;
        if cb == 0 && ib < b.len() {
            cb = b[ib];
            ib += 1;
            vb = !vb;
        }
        let remaining = u64::from(ca) + u64::from(cb);
        let vp = v;
        v = if intersect { va && vb } else { va || vb };
        if v != vp || remaining == 0 {
            out.push(cc);
            cc = 0;
        }
        if remaining == 0 {
            return out;
        }
    }
}

/// The upsampled boundary points of `rleFrPoly`, consumed one at a time: where consecutive
/// points change column, the boundary crosses a pixel column and (maybe) a pixel row boundary,
/// which becomes a run start.
struct ColumnCrossings {
    height: u32,
    width: u32,
    previous: Option<(i64, i64)>,
    /// Linear (column-major) indices of the crossings.
    starts: Vec<u32>,
}

impl ColumnCrossings {
    fn new(height: u32, width: u32) -> Self {
        ColumnCrossings {
            height,
            width,
            previous: None,
            starts: Vec::new(),
        }
    }

    /// The next upsampled boundary point `(u, v)`; pycocotools' second loop, on the fly.
    fn push(&mut self, u: i64, v: i64) {
        if let Some((pu, pv)) = self.previous.replace((u, v))
            && u != pu
        {
            let xd = if u < pu { u } else { u - 1 } as f64;
            let xd = (xd + 0.5) / POLY_SCALE - 0.5;
            let last_column = u64::from(self.width).wrapping_sub(1) as f64;
            if xd.floor() != xd || xd < 0.0 || xd > last_column {
                return;
            }
            let mut yd = (v.min(pv) as f64 + 0.5) / POLY_SCALE - 0.5;
            let h = f64::from(self.height);
            if yd < 0.0 {
                yd = 0.0;
            } else if yd > h {
                yd = h;
            }
            let (x, y) = (xd as u32, yd.ceil() as u32);
            self.starts
                .push(x.wrapping_mul(self.height).wrapping_add(y));
        }
    }

    /// pycocotools' last step: sort the crossings, take differences, fold empty runs.
    fn into_counts(mut self) -> Vec<u32> {
        self.starts.push(self.height * self.width);
        self.starts.sort_unstable();
        let mut p = 0u32;
        for a in &mut self.starts {
            let t = *a;
            *a -= p;
            p = t;
        }
        let a = &self.starts;
        let mut b = Vec::with_capacity(a.len());
        b.push(a[0]);
        let mut j = 1;
        while j < a.len() {
            if a[j] > 0 {
                b.push(a[j]);
                j += 1;
            } else {
                j += 1;
                if j < a.len() {
                    *b.last_mut().expect("b starts non-empty") += a[j];
                    j += 1;
                }
            }
        }
        b
    }
}

/// pycocotools' first loop for one polygon edge: the points of the upsampled segment from `s`
/// to `e` (both included), one per step along its longer axis, rounded as pycocotools does.
fn trace_edge(s: (i64, i64), e: (i64, i64), out: &mut ColumnCrossings) {
    let ((mut xs, mut ys), (mut xe, mut ye)) = (s, e);
    let (dx, dy) = ((xe - xs).abs(), (ys - ye).abs());
    let flip = (dx >= dy && xs > xe) || (dx < dy && ys > ye);
    if flip {
        std::mem::swap(&mut xs, &mut xe);
        std::mem::swap(&mut ys, &mut ye);
    }
    if dx >= dy {
        // dx == dy == 0 divides 0 by 0 in pycocotools; the single point's row is never read.
        let s = if dx == 0 {
            0.0
        } else {
            (ye - ys) as f64 / dx as f64
        };
        for d in 0..=dx {
            let t = if flip { dx - d } else { d };
            out.push(t + xs, (ys as f64 + s * t as f64 + 0.5) as i32 as i64);
        }
    } else {
        let s = (xe - xs) as f64 / dy as f64;
        for d in 0..=dy {
            let t = if flip { dy - d } else { d };
            out.push((xs as f64 + s * t as f64 + 0.5) as i32 as i64, t + ys);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::oracle;

    fn string(s: &str, height: u32, width: u32) -> RleString {
        RleString {
            height,
            width,
            counts: s.to_string(),
        }
    }

    #[test]
    fn encode_decode_area_bbox_and_strings_equal_pycocotools() {
        let o = oracle::load();
        for case in &o.masks {
            let mask = case.mask();
            let rle = Rle::encode(&mask, case.height, case.width).unwrap();
            assert_eq!(rle.counts, case.counts, "{}", case.name);
            assert_eq!(rle.compress().counts, case.string, "{}", case.name);
            let back = string(&case.string, case.height, case.width)
                .decompress()
                .unwrap();
            assert_eq!(back, rle, "{}", case.name);
            assert_eq!(rle.decode().unwrap(), mask, "{}", case.name);
            assert_eq!(rle.area(), case.area, "{}", case.name);
            let b = rle.to_bbox();
            assert_eq!([b.x, b.y, b.width, b.height], case.bbox, "{}", case.name);
        }
    }

    #[test]
    fn row_major_encoding_is_the_transpose() {
        let o = oracle::load();
        let case = o.masks.iter().find(|m| m.name == "chelsea_53x67").unwrap();
        let col = case.mask();
        let (h, w) = (case.height as usize, case.width as usize);
        let mut row = vec![0u8; h * w];
        for x in 0..w {
            for y in 0..h {
                row[y * w + x] = col[x * h + y];
            }
        }
        let rle = Rle::encode_row_major(&row, case.height, case.width).unwrap();
        assert_eq!(rle.counts, case.counts);
    }

    #[test]
    fn polygons_and_boxes_rasterise_as_pycocotools() {
        let o = oracle::load();
        for case in &o.polygons {
            let rles: Vec<Rle> = case
                .polygons
                .iter()
                .map(|p| Rle::from_polygon(p, case.height, case.width).unwrap())
                .collect();
            let strings: Vec<String> = rles.iter().map(|r| r.compress().counts).collect();
            assert_eq!(strings, case.strings, "{}", case.name);
            let merged = Rle::merge(&rles, false).unwrap();
            assert_eq!(merged.compress().counts, case.merged, "{}", case.name);
            assert_eq!(merged.area(), case.area, "{}", case.name);
            let b = merged.to_bbox();
            assert_eq!([b.x, b.y, b.width, b.height], case.bbox, "{}", case.name);
        }
        let b = &o.boxes;
        for ((bx, s), area) in b.boxes.iter().zip(&b.strings).zip(&b.areas) {
            let bbox = BBox {
                x: bx[0],
                y: bx[1],
                width: bx[2],
                height: bx[3],
            };
            let rle = Rle::from_bbox(&bbox, b.height, b.width).unwrap();
            assert_eq!(&rle.compress().counts, s, "{bx:?}");
            assert_eq!(rle.area(), *area, "{bx:?}");
        }
    }

    #[test]
    fn random_polygons_rasterise_as_pycocotools() {
        let r = oracle::load().random_polygons;
        assert_eq!(r.polygons.len(), 200);
        for (p, s) in r.polygons.iter().zip(&r.strings) {
            let rle = Rle::from_polygon(p, r.height, r.width).unwrap();
            assert_eq!(&rle.compress().counts, s, "{p:?}");
        }
    }

    #[test]
    fn merges_equal_pycocotools() {
        let o = oracle::load();
        assert!(o.merges.len() > 10);
        for case in &o.merges {
            let rles: Vec<Rle> = case
                .names
                .iter()
                .map(|n| {
                    let m = o.masks.iter().find(|m| &m.name == n).unwrap();
                    string(&m.string, case.height, case.width)
                        .decompress()
                        .unwrap()
                })
                .collect();
            let union = Rle::merge(&rles, false).unwrap();
            let inter = Rle::merge(&rles, true).unwrap();
            assert_eq!(union.compress().counts, case.union, "{:?}", case.names);
            assert_eq!(
                inter.compress().counts,
                case.intersection,
                "{:?}",
                case.names
            );
        }
    }

    #[test]
    fn counts_that_do_not_cover_the_grid_are_refused() {
        let short = Rle {
            height: 3,
            width: 3,
            counts: vec![2, 3],
        };
        assert!(matches!(
            short.validate(),
            Err(RleError::CountsSum {
                sum: 5,
                expected: 9,
                ..
            })
        ));
        assert!(short.decode().is_err());
        let long = Rle {
            height: 3,
            width: 3,
            counts: vec![2, 3, 10],
        };
        assert!(Rle::merge(&[long.clone(), long.clone()], false).is_err());
        // "52" decodes to runs 5 and 2: 7 pixels, not 9.
        assert!(matches!(
            string("52", 3, 3).decompress(),
            Err(RleError::CountsSum { sum: 7, .. })
        ));
        assert!(matches!(
            string("", 3, 3).decompress(),
            Err(RleError::CountsSum { sum: 0, .. })
        ));
        assert_eq!(
            Rle::encode(&[0; 8], 3, 3),
            Err(RleError::BitmapLength {
                height: 3,
                width: 3,
                expected: 9,
                len: 8
            })
        );
    }

    #[test]
    fn hostile_strings_are_refused_not_misread() {
        // 'p' is past the alphabet; pycocotools masks it into a silent terminator.
        assert!(matches!(
            string("1p", 1, 2).decompress(),
            Err(RleError::BadCharacter {
                offset: 1,
                byte: b'p'
            })
        ));
        // A continuation bit on the last character: pycocotools reads past the string's end.
        assert_eq!(string("1P", 1, 2).decompress(), Err(RleError::Truncated));
        assert!(matches!(
            string("PPPPPPPP0", 1, 2).decompress(),
            Err(RleError::ValueTooLong { offset: 0 })
        ));
        // A negative first run ('O' = -1 in 5-bit two's complement).
        assert!(matches!(
            string("O", 1, 1).decompress(),
            Err(RleError::RunOutOfRange {
                index: 0,
                value: -1
            })
        ));
        // A 10^9-pixel size whose runs say otherwise: a typed error, nothing allocated.
        assert!(string("1", 1 << 20, 1 << 10).decompress().is_err());
        assert!(matches!(
            string("1", 1 << 20, 1 << 20).decompress(),
            Err(RleError::TooLarge { .. })
        ));
        // Sizes of merged masks must agree (pycocotools returns an empty 0 x 0 mask).
        let a = Rle::encode(&[0, 1], 1, 2).unwrap();
        let b = Rle::encode(&[0, 1], 2, 1).unwrap();
        assert_eq!(
            Rle::merge(&[a, b], false),
            Err(RleError::SizeMismatch(1, 2, 2, 1))
        );
    }

    #[test]
    fn hostile_polygons_are_refused() {
        assert!(matches!(
            Rle::from_polygon(&[0.0, 0.0, f64::NAN, 1.0, 2.0, 2.0], 4, 4),
            Err(RleError::PolygonCoordinate(_))
        ));
        assert!(matches!(
            Rle::from_polygon(&[0.0, 0.0, 1e12, 1.0, 2.0, 2.0], 4, 4),
            Err(RleError::PolygonCoordinate(_))
        ));
        assert!(matches!(
            Rle::from_polygon(&[0.0, 0.0, 1e8, 1.0, 2.0, 2.0], 4, 4),
            Err(RleError::PolygonTooLong(_))
        ));
        // Fewer than 3 points rasterise to nothing (pycocotools: empty mask), never panic.
        for xy in [&[][..], &[1.0, 1.0], &[1.0, 1.0, 3.0, 3.0]] {
            let r = Rle::from_polygon(xy, 4, 4).unwrap();
            r.validate().unwrap();
            assert_eq!(r.area(), 0, "{xy:?}");
        }
    }

    #[test]
    fn empty_masks_with_zero_length_runs_have_an_empty_box() {
        let r = Rle {
            height: 10,
            width: 10,
            counts: vec![5, 0, 95],
        };
        r.validate().unwrap();
        assert_eq!(r.area(), 0);
        assert_eq!(r.to_bbox(), BBox::default());
        assert_eq!(Rle::merge(&[], false).unwrap(), Rle::default());
    }
}
