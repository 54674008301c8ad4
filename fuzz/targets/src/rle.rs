//! COCO run-length encodings: the compressed counts string and the uncompressed counts list,
//! each with its grid size, as a COCO `segmentation` holds them.

use augtrain_annotations::iou::mask_iou;
use augtrain_annotations::model::{Rle, RleString};

/// Largest grid decoded to a bitmap by the target (the RLE operations themselves never
/// allocate per pixel).
const DECODE_MAX_PIXELS: u64 = 1 << 16;

/// Input: a first line `HEIGHT WIDTH`, then the counts, read both as a compressed string and
/// as a whitespace-separated list of run lengths. An accepted RLE must survive the round trip
/// through the compressed string, merge with itself into itself, overlap itself fully, and
/// decode (when small) to exactly its area.
pub fn rle(bytes: &[u8]) -> bool {
    let Ok(text) = std::str::from_utf8(bytes) else {
        return false;
    };
    let (size, counts) = text.split_once('\n').unwrap_or((text, ""));
    let mut dims = size.split_whitespace().map(str::parse::<u32>);
    let (Some(Ok(height)), Some(Ok(width))) = (dims.next(), dims.next()) else {
        return false;
    };
    let compressed = RleString {
        height,
        width,
        counts: counts.trim_end_matches('\n').to_string(),
    }
    .decompress();
    let plain = counts
        .split_whitespace()
        .map(str::parse::<u32>)
        .collect::<Result<Vec<u32>, _>>()
        .ok()
        .map(|counts| Rle {
            height,
            width,
            counts,
        })
        .filter(|r| r.validate().is_ok());
    let mut accepted = false;
    for r in compressed.ok().into_iter().chain(plain) {
        check_invariants(&r);
        accepted = true;
    }
    accepted
}

/// What must hold for every valid RLE.
fn check_invariants(r: &Rle) {
    let pixels = u64::from(r.height) * u64::from(r.width);
    let back = r
        .compress()
        .decompress()
        .expect("a compressed RLE decompresses");
    assert_eq!(&back, r, "compressed round trip");
    let area = r.area();
    assert!(area <= pixels, "area beyond the grid");
    let b = r.to_bbox();
    assert!(b.x + b.width <= f64::from(r.width) && b.y + b.height <= f64::from(r.height));
    assert_eq!(area == 0, b.width == 0.0, "empty box iff empty mask");
    for intersect in [false, true] {
        let m = Rle::merge(&[r.clone(), r.clone()], intersect).expect("same size");
        assert_eq!(m.area(), area, "self merge keeps the area");
    }
    let iou = mask_iou(r, r, false).expect("valid");
    assert_eq!(iou, if area == 0 { 0.0 } else { 1.0 }, "self IoU");
    if pixels <= DECODE_MAX_PIXELS {
        let mask = r.decode().expect("valid");
        assert_eq!(mask.iter().map(|&v| u64::from(v)).sum::<u64>(), area);
        let again = Rle::encode(&mask, r.height, r.width).expect("sized");
        assert_eq!(again.area(), area, "re-encoded area");
    }
}
