//! Fixture writers: little datasets in the formats augtrain reads, built in a test's scratch
//! directory.

use std::path::{Path, PathBuf};

use super::data;

/// Write a valid little IDX dataset into `dir` (20 train, 10 test images of 4x4).
pub fn write_idx(dir: &Path) {
    use augtrain::data::idx::{write_images, write_labels};
    std::fs::create_dir_all(dir).unwrap();
    let px = |n: usize| (0..n * 16).map(|i| (i * 7) as u8).collect::<Vec<u8>>();
    write_images(
        &dir.join("train-images-idx3-ubyte.gz"),
        20,
        4,
        4,
        &px(20),
        true,
    )
    .unwrap();
    write_labels(
        &dir.join("train-labels-idx1-ubyte.gz"),
        &(0..20).map(|i| (i % 2) as u8).collect::<Vec<_>>(),
        true,
    )
    .unwrap();
    write_images(
        &dir.join("t10k-images-idx3-ubyte"),
        10,
        4,
        4,
        &px(10),
        false,
    )
    .unwrap();
    write_labels(
        &dir.join("t10k-labels-idx1-ubyte"),
        &(0..10).map(|i| (i % 2) as u8).collect::<Vec<_>>(),
        false,
    )
    .unwrap();
}

/// `n` real JPEGs of each hymenoptera class copied into `root/<class>/` (renamed per class).
pub fn real_folder(root: &Path, classes: &[&str], n: usize) -> Option<()> {
    let hym = data("hymenoptera")?;
    let ants: Vec<_> = std::fs::read_dir(hym.join("train/ants"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    let bees: Vec<_> = std::fs::read_dir(hym.join("train/bees"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    for (k, class) in classes.iter().enumerate() {
        let dir = root.join(class);
        std::fs::create_dir_all(&dir).unwrap();
        let src = if k % 2 == 0 { &ants } else { &bees };
        let mut src = src.clone();
        src.sort();
        for (i, p) in src.iter().skip(k * n).take(n).enumerate() {
            std::fs::copy(p, dir.join(format!("{class}-{i}.jpg"))).unwrap();
        }
    }
    Some(())
}

/// A PNG whose header claims `w × h` pixels with almost no data: a decompression bomb.
pub fn bomb_png(w: u32, h: u32) -> Vec<u8> {
    fn chunk(out: &mut Vec<u8>, kind: &[u8], data: &[u8]) {
        out.extend_from_slice(&(data.len() as u32).to_be_bytes());
        let mut crc = flate2::Crc::new();
        crc.update(kind);
        crc.update(data);
        out.extend_from_slice(kind);
        out.extend_from_slice(data);
        out.extend_from_slice(&crc.sum().to_be_bytes());
    }
    let mut out = b"\x89PNG\r\n\x1a\n".to_vec();
    let mut ihdr = Vec::new();
    ihdr.extend_from_slice(&w.to_be_bytes());
    ihdr.extend_from_slice(&h.to_be_bytes());
    ihdr.extend_from_slice(&[8, 2, 0, 0, 0]);
    chunk(&mut out, b"IHDR", &ihdr);
    chunk(
        &mut out,
        b"IDAT",
        &[0x78, 0x9c, 0x03, 0x00, 0x00, 0x00, 0x00, 0x01],
    );
    chunk(&mut out, b"IEND", &[]);
    out
}

/// An image folder `root/<class>/<i>.png` of `per_class` distinct 8x8 RGB images per class
/// (no two images alike, within or across classes, for up to 32 per class); `root`.
pub fn image_folder(root: &Path, classes: &[&str], per_class: u8) -> PathBuf {
    image_folder_from(root, classes, 0..per_class)
}

/// [`image_folder`] with the images numbered `numbers` (at most 32): a folder made with
/// numbers the first one did not use holds none of its images' pixels (new data for a model
/// trained on the first).
pub fn image_folder_from(root: &Path, classes: &[&str], numbers: std::ops::Range<u8>) -> PathBuf {
    for (c, class) in classes.iter().enumerate() {
        std::fs::create_dir_all(root.join(class)).unwrap();
        for i in numbers.clone() {
            let px = image::Rgb([(c * 80) as u8 + 7 * i, 13 * i + 5, (c * 40) as u8 + 90]);
            image::RgbImage::from_pixel(8, 8, px)
                .save(root.join(class).join(format!("{i}.png")))
                .unwrap();
        }
    }
    root.to_path_buf()
}
