//! CIFAR-10 and CIFAR-100 binary batches.
//!
//! CIFAR-10: `data_batch_1.bin` … `data_batch_5.bin` and `test_batch.bin`, records of 1 label
//! byte + 3072 pixel bytes (1024 R, 1024 G, 1024 B, row-major 32×32); class names from
//! `batches.meta.txt` when present. CIFAR-100: `train.bin` and `test.bin`, records of a coarse
//! and a fine label byte + 3072 pixel bytes; the fine label is used; names from
//! `fine_label_names.txt` when present. Pixels are converted to HWC.

use std::path::{Path, PathBuf};

use super::{DataError, Dataset};

/// Which CIFAR variant a directory holds.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Variant {
    /// 10 classes, 1 label byte.
    Cifar10,
    /// 100 fine classes, 2 label bytes (coarse, fine).
    Cifar100,
}

const PIXELS: usize = 32 * 32 * 3;

/// Pixels (HWC), labels and per-record names of one or more batch files.
type Batches = (Vec<u8>, Vec<u32>, Vec<String>);

/// The variant `dir` holds, if any.
pub fn detect(dir: &Path) -> Option<Variant> {
    if dir.join("data_batch_1.bin").is_file() || dir.join("test_batch.bin").is_file() {
        Some(Variant::Cifar10)
    } else if dir.join("train.bin").is_file() && dir.join("test.bin").is_file() {
        Some(Variant::Cifar100)
    } else {
        None
    }
}

fn read_names(path: &Path, expected: usize) -> Vec<String> {
    let names: Vec<String> = crate::util::fs::read_regular_text(path)
        .map(|t| {
            t.lines()
                .map(|l| l.trim().to_string())
                .filter(|l| !l.is_empty())
                .collect()
        })
        .unwrap_or_default();
    if names.len() == expected {
        names
    } else {
        (0..expected).map(|k| k.to_string()).collect()
    }
}

/// Parse one batch file's bytes into HWC pixels and labels.
pub fn parse_batch(
    path: &Path,
    bytes: &[u8],
    variant: Variant,
) -> Result<(Vec<u8>, Vec<u32>), DataError> {
    let (label_bytes, classes) = match variant {
        Variant::Cifar10 => (1, 10u32),
        Variant::Cifar100 => (2, 100u32),
    };
    let record = label_bytes + PIXELS;
    let bad = |problem: String| DataError::Malformed {
        path: path.to_path_buf(),
        problem,
    };
    if bytes.is_empty() {
        return Err(bad("empty file".into()));
    }
    if !bytes.len().is_multiple_of(record) {
        return Err(bad(format!(
            "{} bytes is not a whole number of {record}-byte records; the file is truncated or not a CIFAR batch",
            bytes.len()
        )));
    }
    let n = bytes.len() / record;
    let mut pixels = vec![0u8; n * PIXELS];
    let mut labels = Vec::with_capacity(n);
    for (i, rec) in bytes.chunks_exact(record).enumerate() {
        let label = rec[label_bytes - 1] as u32;
        if label >= classes {
            return Err(bad(format!(
                "record {i}: label {label} is out of range 0..{}",
                classes - 1
            )));
        }
        labels.push(label);
        let planes = &rec[label_bytes..];
        let out = &mut pixels[i * PIXELS..(i + 1) * PIXELS];
        for p in 0..1024 {
            out[p * 3] = planes[p];
            out[p * 3 + 1] = planes[1024 + p];
            out[p * 3 + 2] = planes[2048 + p];
        }
    }
    Ok((pixels, labels))
}

fn read_batches(files: &[PathBuf], variant: Variant) -> Result<Batches, DataError> {
    let (mut pixels, mut labels, mut paths) = (Vec::new(), Vec::new(), Vec::new());
    for f in files {
        let bytes = crate::util::fs::read_regular(f).map_err(|source| DataError::Read {
            path: f.clone(),
            source,
        })?;
        let (p, l) = parse_batch(f, &bytes, variant)?;
        let name = f
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        paths.extend((0..l.len()).map(|i| format!("{name}#{i}")));
        pixels.extend_from_slice(&p);
        labels.extend_from_slice(&l);
    }
    Ok((pixels, labels, paths))
}

/// Load the train and test batches of a CIFAR directory.
pub fn load(dir: &Path, variant: Variant) -> Result<(Dataset, Dataset), DataError> {
    let (train_files, test_files, names) = match variant {
        Variant::Cifar10 => {
            let train: Vec<PathBuf> = (1..=5)
                .map(|k| dir.join(format!("data_batch_{k}.bin")))
                .filter(|p| p.is_file())
                .collect();
            (
                train,
                vec![dir.join("test_batch.bin")],
                read_names(&dir.join("batches.meta.txt"), 10),
            )
        }
        Variant::Cifar100 => (
            vec![dir.join("train.bin")],
            vec![dir.join("test.bin")],
            read_names(&dir.join("fine_label_names.txt"), 100),
        ),
    };
    if train_files.is_empty() {
        return Err(DataError::Missing {
            path: dir.to_path_buf(),
            problem: "no CIFAR training batch (data_batch_1.bin ... data_batch_5.bin)".into(),
        });
    }
    for f in &test_files {
        if !f.is_file() {
            return Err(DataError::Missing {
                path: dir.to_path_buf(),
                problem: format!("no {}", f.file_name().unwrap_or_default().to_string_lossy()),
            });
        }
    }
    let make = |(pixels, labels, paths): (Vec<u8>, Vec<u32>, Vec<String>), id_base: u64| {
        let n = labels.len() as u64;
        Dataset::from_pixels(
            crate::ImageShape::new(32, 32, 3),
            names.clone(),
            pixels,
            labels,
            (0..n).map(|i| id_base + i).collect(),
            paths,
        )
    };
    Ok((
        make(read_batches(&train_files, variant)?, 0),
        make(read_batches(&test_files, variant)?, 1_000_000_000),
    ))
}

/// Write a CIFAR-10 batch file from HWC pixels and labels (for tests and tools).
pub fn write_cifar10_batch(path: &Path, pixels: &[u8], labels: &[u8]) -> std::io::Result<()> {
    let mut out = Vec::with_capacity(labels.len() * (1 + PIXELS));
    for (i, &l) in labels.iter().enumerate() {
        out.push(l);
        let img = &pixels[i * PIXELS..(i + 1) * PIXELS];
        for c in 0..3 {
            out.extend((0..1024).map(|p| img[p * 3 + c]));
        }
    }
    std::fs::write(path, out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_and_errors() {
        let dir = std::env::temp_dir().join(format!("augtrain-cifar-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let pixels: Vec<u8> = (0..3 * PIXELS).map(|i| (i % 253) as u8).collect();
        write_cifar10_batch(&dir.join("data_batch_1.bin"), &pixels, &[3, 9, 0]).unwrap();
        write_cifar10_batch(&dir.join("test_batch.bin"), &pixels[..PIXELS], &[1]).unwrap();
        assert_eq!(detect(&dir), Some(Variant::Cifar10));
        let (train, test) = load(&dir, Variant::Cifar10).unwrap();
        assert_eq!(train.labels, vec![3, 9, 0]);
        assert_eq!(train.pixels(), pixels);
        assert_eq!(test.len(), 1);
        assert_eq!(train.paths[1], "data_batch_1.bin#1");
        let bytes = std::fs::read(dir.join("test_batch.bin")).unwrap();
        let e = parse_batch(Path::new("x.bin"), &bytes[..100], Variant::Cifar10).unwrap_err();
        assert!(e.to_string().contains("truncated"), "{e}");
        let mut bad = bytes.clone();
        bad[0] = 10;
        let e = parse_batch(Path::new("x.bin"), &bad, Variant::Cifar10).unwrap_err();
        assert!(e.to_string().contains("out of range"), "{e}");
    }
}
