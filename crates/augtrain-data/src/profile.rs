//! What is in a dataset, as `augtrain inspect` shows it: images per split and class, the
//! stored image sizes, channels and formats, and the files that could not be used.

use std::collections::BTreeMap;

use serde::Serialize;

use crate::files::{Skipped, SplitName};
use crate::source::Whole;

/// A dataset's profile. Serialized as `inspect --json` prints it.
#[derive(Clone, Debug, Serialize)]
pub struct Profile {
    /// The source's name (its directory or file stem, or `synthetic`).
    pub source: String,
    /// Usable images.
    pub images: usize,
    /// Class names, by label.
    pub classes: Vec<String>,
    /// Images per class (by label) for each split (`train`, `val`, `test`, or `(unsplit)`).
    pub counts: BTreeMap<String, Vec<usize>>,
    /// Smallest stored image by area, `WxH`.
    pub size_min: String,
    /// Median stored width by median stored height, `WxH`.
    pub size_median: String,
    /// Largest stored image by area, `WxH`.
    pub size_max: String,
    /// Images per stored channel count (1 gray, 2 gray+alpha, 3 RGB, 4 RGBA).
    pub channels: BTreeMap<u8, usize>,
    /// Images per file format (empty for formats without files).
    pub formats: BTreeMap<String, usize>,
    /// Images turned upright by their EXIF orientation.
    pub exif_rotated: usize,
    /// Shape the images were loaded at, `[width, height, channels]`.
    pub loaded_as: [usize; 3],
    /// Files that could not be used, with the reason.
    pub skipped: Vec<Skipped>,
}

impl Profile {
    /// The profile of a loaded dataset from `source`.
    pub fn of(source: String, whole: &Whole) -> Self {
        let d = &whole.data;
        let r = &whole.report;
        let mut counts: BTreeMap<String, Vec<usize>> = BTreeMap::new();
        for i in 0..d.len() {
            let split = whole.splits[i].map_or_else(|| "(unsplit)".into(), |s| s.to_string());
            counts
                .entry(split)
                .or_insert_with(|| vec![0; d.class_names.len()])[d.labels[i] as usize] += 1;
        }
        let sizes: Vec<(u64, u64)> = if r.original_sizes.is_empty() {
            vec![(d.shape.width as u64, d.shape.height as u64); d.len()]
        } else {
            r.original_sizes
                .iter()
                .map(|&(w, h)| (w as u64, h as u64))
                .collect()
        };
        let mut formats: BTreeMap<String, usize> = BTreeMap::new();
        for f in &r.formats {
            *formats.entry(f.clone()).or_default() += 1;
        }
        let mut channels: BTreeMap<u8, usize> = BTreeMap::new();
        for &c in &r.source_channels {
            *channels.entry(c).or_default() += 1;
        }
        if channels.is_empty() {
            channels.insert(d.shape.channels as u8, d.len());
        }
        let (size_min, size_median, size_max) = size_summary(&sizes);
        Profile {
            source,
            images: d.len(),
            classes: d.class_names.clone(),
            counts,
            size_min,
            size_median,
            size_max,
            channels,
            formats,
            exif_rotated: r.rotated,
            loaded_as: [d.shape.width, d.shape.height, d.shape.channels],
            skipped: r.skipped.clone(),
        }
    }

    /// The splits present, in train, val, test, unsplit order, with their counts per class.
    pub fn splits(&self) -> Vec<(&str, &[usize])> {
        let order = |s: &str| match SplitName::parse(s) {
            Some(SplitName::Train) => 0,
            Some(SplitName::Val) => 1,
            Some(SplitName::Test) => 2,
            None => 3,
        };
        let mut rows: Vec<(&str, &[usize])> = self
            .counts
            .iter()
            .map(|(s, c)| (s.as_str(), c.as_slice()))
            .collect();
        rows.sort_by_key(|(s, _)| order(s));
        rows
    }
}

/// Smallest and largest image by area and the median width by the median height, each `WxH`
/// (empty strings for no images).
fn size_summary(sizes: &[(u64, u64)]) -> (String, String, String) {
    let text = |(w, h): (u64, u64)| format!("{w}x{h}");
    let by_area = |&(w, h): &&(u64, u64)| w * h;
    let min = sizes.iter().min_by_key(by_area).map(|&s| text(s));
    let max = sizes.iter().max_by_key(by_area).map(|&s| text(s));
    let median = |mut v: Vec<u64>| {
        v.sort_unstable();
        v.get(v.len() / 2).copied().unwrap_or(0)
    };
    let widths = sizes.iter().map(|s| s.0).collect();
    let heights = sizes.iter().map(|s| s.1).collect();
    (
        min.unwrap_or_default(),
        text((median(widths), median(heights))),
        max.unwrap_or_default(),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_summarize_by_area_and_by_median_side() {
        let sizes = [(10, 40), (30, 30), (20, 10), (50, 2)];
        let (min, median, max) = size_summary(&sizes);
        assert_eq!(min, "50x2");
        assert_eq!(max, "30x30");
        // Widths 10 20 30 50 and heights 2 10 30 40: the upper medians.
        assert_eq!(median, "30x30");
        assert_eq!(
            size_summary(&[]),
            (String::new(), "0x0".into(), String::new())
        );
    }
}
