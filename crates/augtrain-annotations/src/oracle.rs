//! The pycocotools/scipy reference fixture (`tests/fixtures/annotations/rle_oracle.json`,
//! written by `tools/coco_mask_reference.py`), for the unit tests of [`crate::rle`],
//! [`crate::iou`] and [`crate::matching`].

use serde::Deserialize;

/// The whole fixture.
#[derive(Deserialize)]
pub struct Oracle {
    pub masks: Vec<MaskCase>,
    pub polygons: Vec<PolygonCase>,
    pub boxes: BoxCase,
    pub merges: Vec<MergeCase>,
    pub box_iou: Vec<IouCase<[f64; 4]>>,
    pub mask_iou: Vec<MaskIouCase>,
    pub assignments: Vec<AssignmentCase>,
    pub random_polygons: RandomPolygons,
}

/// 200 random polygons on one grid, and the mask IoU of some of them.
#[derive(Deserialize)]
pub struct RandomPolygons {
    pub height: u32,
    pub width: u32,
    pub polygons: Vec<Vec<f64>>,
    pub strings: Vec<String>,
    pub iou: MaskIouCase,
}

/// A mask encoded by pycocotools.
#[derive(Deserialize)]
pub struct MaskCase {
    pub name: String,
    pub height: u32,
    pub width: u32,
    pub counts: Vec<u32>,
    pub string: String,
    pub area: u64,
    pub bbox: [f64; 4],
    /// `np.packbits` of the column-major mask, hex.
    pub bits: Option<String>,
    /// Or filled rectangles `[row0, row1, col0, col1)`.
    pub rects: Option<Vec<[u32; 4]>>,
}

impl MaskCase {
    /// The column-major 0/1 mask.
    pub fn mask(&self) -> Vec<u8> {
        let n = self.height as usize * self.width as usize;
        if let Some(hex) = &self.bits {
            let bytes: Vec<u8> = (0..hex.len())
                .step_by(2)
                .map(|i| u8::from_str_radix(&hex[i..i + 2], 16).unwrap())
                .collect();
            return (0..n).map(|i| (bytes[i / 8] >> (7 - i % 8)) & 1).collect();
        }
        let mut m = vec![0u8; n];
        let h = self.height as usize;
        for r in self.rects.as_ref().expect("bits or rects") {
            for x in r[2] as usize..r[3] as usize {
                m[x * h + r[0] as usize..x * h + r[1] as usize].fill(1);
            }
        }
        m
    }
}

/// Polygons rasterised by `frPyObjects` and merged.
#[derive(Deserialize)]
pub struct PolygonCase {
    pub name: String,
    pub height: u32,
    pub width: u32,
    pub polygons: Vec<Vec<f64>>,
    pub strings: Vec<String>,
    pub merged: String,
    pub area: u64,
    pub bbox: [f64; 4],
}

/// Boxes rasterised by `frPyObjects`.
#[derive(Deserialize)]
pub struct BoxCase {
    pub height: u32,
    pub width: u32,
    pub boxes: Vec<[f64; 4]>,
    pub strings: Vec<String>,
    pub areas: Vec<u64>,
}

/// `merge` of masks of [`Oracle::masks`], by name.
#[derive(Deserialize)]
pub struct MergeCase {
    pub height: u32,
    pub width: u32,
    pub names: Vec<String>,
    pub union: String,
    pub intersection: String,
}

/// `iou(dt, gt, iscrowd)`: a `dt × gt` matrix.
#[derive(Deserialize)]
pub struct IouCase<T> {
    pub dt: Vec<T>,
    pub gt: Vec<T>,
    pub iscrowd: Vec<u8>,
    pub iou: Vec<Vec<f64>>,
}

/// Mask IoU of compressed strings on one grid.
#[derive(Deserialize)]
pub struct MaskIouCase {
    pub height: u32,
    pub width: u32,
    #[serde(flatten)]
    pub case: IouCase<String>,
}

/// scipy's `linear_sum_assignment`.
#[derive(Deserialize)]
pub struct AssignmentCase {
    pub cost: Vec<Vec<f64>>,
    pub total: f64,
    pub maximize: bool,
    pub rows: Option<Vec<usize>>,
    pub cols: Option<Vec<usize>>,
}

/// The fixture, parsed.
pub fn load() -> Oracle {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../tests/fixtures/annotations/rle_oracle.json"
    );
    let text = std::fs::read_to_string(path).expect("tests/fixtures/annotations/rle_oracle.json");
    serde_json::from_str(&text).expect("oracle fixture parses")
}
