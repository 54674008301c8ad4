//! What `augtrain split` needs of annotated data: the classes present per image (the labels the
//! multi-label stratification spreads), the exact-duplicate key of every image, and the data set
//! of one split.

use std::collections::HashMap;
use std::path::Path;

use rayon::prelude::*;

use crate::model::Dataset;

/// The label set of every image: the classes of its objects (predictions included), sorted and
/// without repeats; an image without objects gets the one label `d.classes.len()` ("no
/// objects"), so such images are spread over the splits in proportion like a class.
pub fn label_sets(d: &Dataset) -> Vec<Vec<u32>> {
    let none = d.classes.len() as u32;
    d.images
        .iter()
        .map(|image| {
            let mut set: Vec<u32> = image.objects.iter().map(|o| o.class as u32).collect();
            set.sort_unstable();
            set.dedup();
            if set.is_empty() { vec![none] } else { set }
        })
        .collect()
}

/// The exact-duplicate keys of the images, and how many image files could not be read.
#[derive(Debug, Clone)]
pub struct ImageKeys {
    /// One key per image: equal keys are duplicates (kept in one split).
    pub keys: Vec<u64>,
    /// Images whose file is missing or unreadable under the image root; each is keyed by its
    /// name alone (so only entries naming the same file are grouped with it).
    pub unreadable: usize,
}

/// The duplicate key of every image of `d`, whose names are relative to `root`: entries naming
/// the same file share a key, and so do files with equal decoded pixels
/// ([`augtrain_data::split_plan::image_file_key`], decoding at most `max_pixels` per image).
pub fn image_keys(d: &Dataset, root: &Path, max_pixels: u64) -> ImageKeys {
    let mut first: HashMap<&str, usize> = HashMap::new();
    let mut unique: Vec<&str> = Vec::new();
    let index: Vec<usize> = d
        .images
        .iter()
        .map(|image| {
            let name = image.file_name.trim_start_matches("./");
            *first.entry(name).or_insert_with(|| {
                unique.push(name);
                unique.len() - 1
            })
        })
        .collect();
    let keyed: Vec<Option<u64>> = unique
        .par_iter()
        .map(|name| augtrain_data::split_plan::image_file_key(&root.join(name), max_pixels).ok())
        .collect();
    let unreadable = keyed.iter().filter(|k| k.is_none()).count();
    let keys = index
        .iter()
        .map(|&u| {
            keyed[u].unwrap_or_else(|| {
                let named = format!("unreadable image named {}", unique[u]);
                augtrain_data::split_plan::pixel_key(named.as_bytes())
            })
        })
        .collect();
    ImageKeys { keys, unreadable }
}

/// The data set of the images `chosen` (indices into `d.images`, kept in that order) with all
/// of `d`'s classes and metadata, so class ids mean the same in every split.
pub fn subset(d: &Dataset, chosen: &[usize]) -> Dataset {
    Dataset {
        images: chosen.iter().map(|&i| d.images[i].clone()).collect(),
        classes: d.classes.clone(),
        meta: d.meta.clone(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{Class, Image, Object};

    fn dataset() -> Dataset {
        let image = |name: &str, classes: &[usize]| Image {
            file_name: name.into(),
            width: 4,
            height: 4,
            objects: classes.iter().map(|&c| Object::of_class(c)).collect(),
            ..Default::default()
        };
        Dataset {
            images: vec![
                image("a.png", &[1, 0, 1]),
                image("b.png", &[]),
                image("c.png", &[2]),
                image("./a.png", &[0]),
                image("d.png", &[]),
            ],
            classes: ["x", "y", "z"]
                .iter()
                .map(|n| Class {
                    name: n.to_string(),
                    ..Default::default()
                })
                .collect(),
            ..Default::default()
        }
    }

    #[test]
    fn label_sets_are_the_classes_present_or_no_objects() {
        let sets = label_sets(&dataset());
        assert_eq!(sets, vec![vec![0, 1], vec![3], vec![2], vec![0], vec![3]]);
    }

    #[test]
    fn duplicates_by_name_and_by_pixels_share_keys() {
        let dir = std::env::temp_dir().join(format!("augtrain-split-keys-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        let px = image::RgbImage::from_pixel(4, 4, image::Rgb([9, 8, 7]));
        px.save(dir.join("a.png")).unwrap();
        px.save(dir.join("c.png")).unwrap(); // same pixels as a.png
        image::RgbImage::from_pixel(4, 4, image::Rgb([1, 2, 3]))
            .save(dir.join("b.png"))
            .unwrap();
        let k = image_keys(&dataset(), &dir, 1 << 20);
        assert_eq!(k.unreadable, 1, "d.png is missing");
        assert_eq!(k.keys[0], k.keys[3], "a.png and ./a.png");
        assert_eq!(k.keys[0], k.keys[2], "equal pixels");
        assert_ne!(k.keys[0], k.keys[1]);
        assert_ne!(k.keys[4], k.keys[1]);
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn a_subset_keeps_every_class() {
        let d = dataset();
        let s = subset(&d, &[2, 0]);
        assert_eq!(s.classes, d.classes);
        assert_eq!(s.images[0].file_name, "c.png");
        assert_eq!(s.images[1].objects.len(), 3);
    }
}
