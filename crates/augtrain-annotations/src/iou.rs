//! Intersection over union of boxes and of masks, exactly as pycocotools 2.0.11's `iou`
//! (`bbIou` and `rleIou` of `common/maskApi.c`), including its `iscrowd` rule: for a crowd
//! ground truth the union is the detection's own area, so a detection inside a crowd region
//! scores by how much of it the crowd covers.
//!
//! Matrices are `detections × ground truths`, as pycocotools returns them. Boxes are COCO's
//! `[x, y, width, height]` ([`BBox`]) in pixels.

use crate::model::{BBox, Rle};
use crate::rle::RleError;

/// Why an IoU matrix could not be computed.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum IouError {
    /// One `iscrowd` flag per ground truth is needed.
    #[error("{flags} iscrowd flags for {ground_truths} ground truths")]
    CrowdFlags {
        /// Number of flags given.
        flags: usize,
        /// Number of ground truths.
        ground_truths: usize,
    },
    /// A mask is invalid, or two masks have different sizes (pycocotools writes -1 there).
    #[error(transparent)]
    Rle(#[from] RleError),
}

/// A dense `rows × cols` matrix of IoUs (rows: detections, columns: ground truths).
#[derive(Debug, Clone, PartialEq)]
pub struct IouMatrix {
    /// Number of detections.
    pub rows: usize,
    /// Number of ground truths.
    pub cols: usize,
    /// Row-major values: `values[d * cols + g]`.
    pub values: Vec<f64>,
}

impl IouMatrix {
    /// The IoU of detection `d` with ground truth `g`.
    pub fn get(&self, d: usize, g: usize) -> f64 {
        self.values[d * self.cols + g]
    }

    /// The IoUs of detection `d` with every ground truth.
    pub fn row(&self, d: usize) -> &[f64] {
        &self.values[d * self.cols..(d + 1) * self.cols]
    }
}

/// pycocotools' `bbIou` for one pair: the IoU of boxes `dt` and `gt`, with the union replaced
/// by `dt`'s area when `gt_is_crowd`. Boxes that do not overlap (or only touch) give 0.
pub fn box_iou(dt: &BBox, gt: &BBox, gt_is_crowd: bool) -> f64 {
    let ga = gt.width * gt.height;
    let da = dt.width * dt.height;
    let w = (dt.width + dt.x).min(gt.width + gt.x) - dt.x.max(gt.x);
    if w <= 0.0 {
        return 0.0;
    }
    let h = (dt.height + dt.y).min(gt.height + gt.y) - dt.y.max(gt.y);
    if h <= 0.0 {
        return 0.0;
    }
    let i = w * h;
    let u = if gt_is_crowd { da } else { da + ga - i };
    i / u
}

/// pycocotools' `iou(dt, gt, iscrowd)` for boxes.
pub fn box_iou_matrix(dt: &[BBox], gt: &[BBox], iscrowd: &[bool]) -> Result<IouMatrix, IouError> {
    check_flags(gt.len(), iscrowd)?;
    let values = dt
        .iter()
        .flat_map(|d| gt.iter().zip(iscrowd).map(move |(g, &c)| box_iou(d, g, c)))
        .collect();
    Ok(IouMatrix {
        rows: dt.len(),
        cols: gt.len(),
        values,
    })
}

/// pycocotools' `rleIou` for one pair of valid masks of one size: intersection over union of
/// their pixels (over `dt`'s area when `gt_is_crowd`), 0 when their boxes do not overlap.
pub fn mask_iou(dt: &Rle, gt: &Rle, gt_is_crowd: bool) -> Result<f64, RleError> {
    dt.validate()?;
    gt.validate()?;
    mask_iou_prepared((dt, &dt.to_bbox()), (gt, &gt.to_bbox()), gt_is_crowd)
}

/// pycocotools' `iou(dt, gt, iscrowd)` for masks (RLEs): every mask is validated, and masks of
/// different sizes are an error where pycocotools writes -1.
pub fn mask_iou_matrix(dt: &[Rle], gt: &[Rle], iscrowd: &[bool]) -> Result<IouMatrix, IouError> {
    check_flags(gt.len(), iscrowd)?;
    for r in dt.iter().chain(gt) {
        r.validate()?;
    }
    let dt_boxes: Vec<BBox> = dt.iter().map(Rle::to_bbox).collect();
    let gt_boxes: Vec<BBox> = gt.iter().map(Rle::to_bbox).collect();
    let mut values = Vec::with_capacity(dt.len() * gt.len());
    for (d, db) in dt.iter().zip(&dt_boxes) {
        for ((g, gb), &crowd) in gt.iter().zip(&gt_boxes).zip(iscrowd) {
            values.push(mask_iou_prepared((d, db), (g, gb), crowd)?);
        }
    }
    Ok(IouMatrix {
        rows: dt.len(),
        cols: gt.len(),
        values,
    })
}

fn check_flags(ground_truths: usize, iscrowd: &[bool]) -> Result<(), IouError> {
    if iscrowd.len() != ground_truths {
        return Err(IouError::CrowdFlags {
            flags: iscrowd.len(),
            ground_truths,
        });
    }
    Ok(())
}

/// `rleIou`'s inner step for validated masks with their boxes already computed.
fn mask_iou_prepared(
    (dt, db): (&Rle, &BBox),
    (gt, gb): (&Rle, &BBox),
    crowd: bool,
) -> Result<f64, RleError> {
    if (dt.height, dt.width) != (gt.height, gt.width) {
        return Err(RleError::SizeMismatch(
            dt.height, dt.width, gt.height, gt.width,
        ));
    }
    if box_iou(db, gb, crowd) <= 0.0 {
        return Ok(0.0);
    }
    let (intersection, union) = overlap(&dt.counts, &gt.counts);
    let union = if intersection == 0 {
        1
    } else if crowd {
        dt.area()
    } else {
        union
    };
    Ok(intersection as f64 / union as f64)
}

/// Pixels in both masks and in either, walking both run lists once (`rleIou`'s loop).
fn overlap(a: &[u32], b: &[u32]) -> (u64, u64) {
    let (mut ca, mut cb) = (
        a.first().copied().unwrap_or(0),
        b.first().copied().unwrap_or(0),
    );
    let (mut va, mut vb) = (false, false);
    let (mut ia, mut ib) = (1usize, 1usize);
    let (mut inter, mut union) = (0u64, 0u64);
    loop {
        let c = ca.min(cb);
        if va || vb {
            union += u64::from(c);
            if va && vb {
                inter += u64::from(c);
            }
        }
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
        if ca == 0 && cb == 0 {
            return (inter, union);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::RleString;
    use crate::oracle;

    fn bbox(b: &[f64; 4]) -> BBox {
        BBox {
            x: b[0],
            y: b[1],
            width: b[2],
            height: b[3],
        }
    }

    fn assert_matrix(m: &IouMatrix, expected: &[Vec<f64>]) {
        assert_eq!(m.rows, expected.len());
        for (d, row) in expected.iter().enumerate() {
            for (g, &e) in row.iter().enumerate() {
                // Bit-identical: compare the bits, not within a tolerance.
                assert_eq!(
                    m.get(d, g).to_bits(),
                    e.to_bits(),
                    "({d}, {g}): {} vs {e}",
                    m.get(d, g)
                );
            }
        }
    }

    #[test]
    fn box_iou_equals_pycocotools_bit_for_bit() {
        let o = oracle::load();
        for case in &o.box_iou {
            let dt: Vec<BBox> = case.dt.iter().map(bbox).collect();
            let gt: Vec<BBox> = case.gt.iter().map(bbox).collect();
            let crowd: Vec<bool> = case.iscrowd.iter().map(|&c| c != 0).collect();
            assert_matrix(&box_iou_matrix(&dt, &gt, &crowd).unwrap(), &case.iou);
        }
    }

    #[test]
    fn mask_iou_equals_pycocotools_bit_for_bit() {
        let o = oracle::load();
        for case in o.mask_iou.iter().chain([&o.random_polygons.iou]) {
            let rle = |s: &String| {
                RleString {
                    height: case.height,
                    width: case.width,
                    counts: s.clone(),
                }
                .decompress()
                .unwrap()
            };
            let dt: Vec<Rle> = case.case.dt.iter().map(rle).collect();
            let gt: Vec<Rle> = case.case.gt.iter().map(rle).collect();
            let crowd: Vec<bool> = case.case.iscrowd.iter().map(|&c| c != 0).collect();
            let m = mask_iou_matrix(&dt, &gt, &crowd).unwrap();
            assert_matrix(&m, &case.case.iou);
            assert!(m.values.iter().any(|&v| v > 0.0 && v < 1.0));
        }
    }

    #[test]
    fn mismatched_inputs_are_errors() {
        let a = Rle::encode(&[0, 1, 1, 1], 2, 2).unwrap();
        let b = Rle::encode(&[0, 1, 1, 1], 4, 1).unwrap();
        assert!(matches!(
            mask_iou_matrix(std::slice::from_ref(&a), &[b], &[false]),
            Err(IouError::Rle(RleError::SizeMismatch(2, 2, 4, 1)))
        ));
        assert_eq!(
            box_iou_matrix(&[BBox::default()], &[BBox::default()], &[]),
            Err(IouError::CrowdFlags {
                flags: 0,
                ground_truths: 1
            })
        );
        assert_eq!(mask_iou(&a, &a, false).unwrap(), 1.0);
    }
}
