//! Formats read from files on disk: CSV manifests (and the images they list), packs and split
//! files. Each input is written to a per-process scratch directory first.

use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use augtrain_data::LoadOptions;
use augtrain_data::decode::ResizePolicy;
use augtrain_data::files::{OnError, load_items, parse_manifest};
use augtrain_data::source::{self, Whole};
use augtrain_data::synth::{self, SynthSplit};

use crate::scratch;

/// A directory with a few real, empty and broken images for manifests to point at.
fn manifest_dir() -> &'static Path {
    static DIR: OnceLock<PathBuf> = OnceLock::new();
    DIR.get_or_init(|| {
        let dir = scratch("manifest");
        std::fs::create_dir_all(dir.join("sub")).unwrap();
        let img = image::RgbImage::from_fn(12, 9, |x, y| {
            image::Rgb([(x * 20) as u8, (y * 25) as u8, 90])
        });
        img.save(dir.join("a.png")).unwrap();
        img.save(dir.join("b.jpg")).unwrap();
        image::GrayImage::from_fn(5, 7, |x, y| image::Luma([(x * y * 7) as u8]))
            .save(dir.join("sub/c.png"))
            .unwrap();
        std::fs::write(dir.join("empty.png"), b"").unwrap();
        std::fs::write(dir.join("text.png"), b"not an image").unwrap();
        dir
    })
}

/// CSV manifests, then loading the images they list (skipping bad ones) at 8×6 RGB; a loaded
/// dataset holds one 8×6×3 image and one known class per row.
pub fn manifest(bytes: &[u8]) -> bool {
    let dir = manifest_dir();
    let Ok((items, classes)) = parse_manifest(&dir.join("manifest.csv"), bytes.to_vec()) else {
        return false;
    };
    let opts = LoadOptions {
        size: [8, 6],
        channels: 3,
        resize: ResizePolicy::CenterCrop,
        max_pixels: 1 << 16,
        on_error: OnError::Skip,
        ..LoadOptions::default()
    };
    let Ok((ds, splits, _)) = load_items(&items, &classes, None, &opts) else {
        return false;
    };
    assert_eq!(splits.len(), ds.len());
    assert_eq!(ds.image_bytes(), 8 * 6 * 3);
    let classes = ds.class_names.len();
    assert!(
        ds.labels.iter().all(|&l| (l as usize) < classes),
        "label without a class"
    );
    !ds.is_empty()
}

/// Separator between the files of a pack in one fuzz input: `manifest.json`, `index.csv`,
/// then the shards in order.
pub const PACK_SEPARATOR: &[u8] = b"\n@@file@@\n";

/// Split a pack fuzz input at [`PACK_SEPARATOR`] into the contents of `manifest.json`,
/// `index.csv` and the shards.
pub fn pack_files(bytes: &[u8]) -> Vec<&[u8]> {
    let mut parts = Vec::new();
    let mut rest = bytes;
    while let Some(at) = rest
        .windows(PACK_SEPARATOR.len())
        .position(|w| w == PACK_SEPARATOR)
    {
        parts.push(&rest[..at]);
        rest = &rest[at + PACK_SEPARATOR.len()..];
    }
    parts.push(rest);
    parts
}

/// Packs (manifest, index and shards in one input, see [`pack_files`]) written to disk,
/// opened, and read record by record; an opened pack has one split and one whole image per
/// record.
pub fn pack(bytes: &[u8]) -> bool {
    let dir = scratch("pack").join("p");
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    for (k, content) in pack_files(bytes).iter().enumerate() {
        let name = match k {
            0 => "manifest.json".to_string(),
            1 => "index.csv".to_string(),
            n => format!("shard-{:05}.bin", n - 2),
        };
        std::fs::write(dir.join(name), content).unwrap();
    }
    let Ok((ds, splits, _)) = augtrain_data::pack::open(&dir) else {
        return false;
    };
    assert_eq!(splits.len(), ds.len());
    let mut sum = 0u64;
    for i in 0..ds.len() {
        let img = ds.image(i);
        assert_eq!(img.len(), ds.image_bytes());
        sum += img.iter().map(|&b| u64::from(b)).sum::<u64>();
    }
    std::hint::black_box(sum);
    true
}

/// Split files, parsed, then applied to a 24-image synthetic dataset and assembled into
/// train/val/test.
pub fn split_file(bytes: &[u8]) -> bool {
    let path = scratch("split").join("split.csv");
    std::fs::write(&path, bytes).unwrap();
    let _ = augtrain_data::split::parse_split_file(
        Path::new("split.csv"),
        &String::from_utf8_lossy(bytes),
    );
    let data = synth::generate(24, 6, 1, SynthSplit::Train);
    let whole = Whole {
        splits: vec![None; data.len()],
        data,
        report: Default::default(),
        split_origin: None,
    };
    match source::apply_split_file(whole, &path) {
        Ok(whole) => source::assemble("fuzz".into(), whole, &Default::default(), 1).is_ok(),
        Err(_) => false,
    }
}
