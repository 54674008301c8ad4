//! Loading throughput: IDX parsing (gzip included), synthetic generation, image-folder decoding,
//! pack reads and pack writing.

use super::{Measurement, Options, time};
use crate::data::{idx, synth};

fn measurement(name: &str, n: usize, stats: super::Stats, bytes: Option<f64>) -> Measurement {
    Measurement {
        group: "load".into(),
        name: name.into(),
        engine: "cpu".into(),
        batch: n,
        items_per_second: n as f64 / stats.median,
        bytes_per_second: bytes.map(|b| b / stats.median),
        ceiling_fraction: None,
        stats,
        note: None,
    }
}

/// Run the loading benchmarks.
pub fn run(opts: &Options, log: &dyn Fn(&str)) -> crate::Result<Vec<Measurement>> {
    let mut out = Vec::new();
    // IDX: the real mnist-10k training images when available, else a generated file.
    let real = opts
        .data
        .as_ref()
        .map(|d| d.join("mnist-10k"))
        .filter(|d| d.exists())
        .and_then(|d| idx::find_files(&d).ok());
    let (path, label, _tmp) = match real {
        Some(files) => (
            files.train_images,
            "IDX parse mnist-10k train (gzip)".to_string(),
            None,
        ),
        None => {
            let dir = std::env::temp_dir().join(format!("augtrain-bench-{}", std::process::id()));
            crate::util::fs::create_dir_all(&dir)?;
            let p = dir.join("train-images-idx3-ubyte.gz");
            let px: Vec<u8> = (0..8000 * 784).map(|i| (i % 251) as u8).collect();
            idx::write_images(&p, 8000, 28, 28, &px, true)
                .map_err(|e| crate::util::fs::IoError::new("write", &p, e))?;
            (
                p,
                "IDX parse 8000x28x28 generated (gzip)".to_string(),
                Some(dir),
            )
        }
    };
    let mut count = 0;
    let stats = time(1, opts.reps(), || {
        let img = idx::read_images(&path).expect("the benchmark IDX file parses");
        count = img.count;
        std::hint::black_box(img.pixels.len());
    });
    let m = measurement(&label, count, stats, Some((count * 784) as f64));
    log(&format!("load {label}: {:.0} images/s", m.items_per_second));
    out.push(m);
    if let Some(dir) = _tmp {
        let _ = std::fs::remove_dir_all(dir);
    }
    let n = if opts.quick { 1000 } else { 4000 };
    let stats = time(1, opts.reps(), || {
        std::hint::black_box(synth::generate(n, 32, 1, synth::SynthSplit::Train).len());
    });
    let m = measurement("synthetic generation 32x32 RGB", n, stats, None);
    log(&format!(
        "load synthetic: {:.0} images/s",
        m.items_per_second
    ));
    out.push(m);
    out.push(folder_decode(opts, log)?);
    out.extend(pack_reads(opts, log)?);
    if let Some(hym) = opts
        .data
        .as_ref()
        .map(|d| d.join("hymenoptera"))
        .filter(|d| d.exists())
    {
        out.push(pack_folder(opts, &hym, log)?);
    }
    Ok(out)
}

fn scratch_dir(tag: &str) -> crate::Result<std::path::PathBuf> {
    let dir = std::env::temp_dir().join(format!("augtrain-bench-{tag}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    crate::util::fs::create_dir_all(&dir)?;
    Ok(dir)
}

/// Decoding a folder of JPEG files to 224×224 RGB (`root/<class>/*`, centre-crop): the real
/// hymenoptera photos when available, else 200 generated 400×300 JPEGs in two classes. Bytes per
/// second count the encoded files read.
fn folder_decode(opts: &Options, log: &dyn Fn(&str)) -> crate::Result<Measurement> {
    use crate::data::LoadOptions;
    use crate::data::source::{DataSource, load_whole};
    let real = opts
        .data
        .as_ref()
        .map(|d| d.join("hymenoptera"))
        .filter(|d| d.exists());
    let (root, label, tmp) = match real {
        Some(d) => (d, "image folder hymenoptera decode to 224x224", None),
        None => {
            let dir = scratch_dir("folder")?;
            write_jpeg_folder(&dir, 200)?;
            (
                dir.clone(),
                "image folder 200 generated JPEGs decode to 224x224",
                Some(dir),
            )
        }
    };
    let lo = LoadOptions {
        size: [224, 224],
        ..LoadOptions::default()
    };
    let mut count = 0;
    let mut failed = None;
    let stats = time(1, opts.reps().min(3), || {
        match load_whole(&DataSource::Folder(root.clone()), &lo, 42) {
            Ok(w) => count = w.data.len(),
            Err(e) => failed = Some(e),
        }
    });
    let bytes = folder_bytes(&root);
    if let Some(dir) = tmp {
        let _ = std::fs::remove_dir_all(dir);
    }
    if let Some(e) = failed {
        return Err(e.into());
    }
    let mut m = measurement(label, count, stats, Some(bytes as f64));
    m.note = Some("bytes per second count the encoded files read".into());
    log(&format!("load {label}: {:.0} images/s", m.items_per_second));
    Ok(m)
}

/// Total size of the regular files under `root`, in bytes.
fn folder_bytes(root: &std::path::Path) -> u64 {
    let mut total = 0;
    let mut stack = vec![root.to_path_buf()];
    while let Some(dir) = stack.pop() {
        for entry in std::fs::read_dir(&dir).into_iter().flatten().flatten() {
            match entry.metadata() {
                Ok(md) if md.is_dir() => stack.push(entry.path()),
                Ok(md) if md.is_file() => total += md.len(),
                _ => {}
            }
        }
    }
    total
}

/// Write `n` 400×300 RGB JPEGs (smooth gradients with a little texture) into `root/a` and
/// `root/b`.
fn write_jpeg_folder(root: &std::path::Path, n: usize) -> crate::Result<()> {
    for class in ["a", "b"] {
        crate::util::fs::create_dir_all(&root.join(class))?;
    }
    for i in 0..n {
        let img = image::RgbImage::from_fn(400, 300, |x, y| {
            let t = (x * 7 + y * 13 + i as u32 * 31) % 17;
            image::Rgb([
                ((x + i as u32) % 256) as u8,
                ((y * 2) % 256) as u8,
                (((x + y) / 3 + t * 4) % 256) as u8,
            ])
        });
        let path = root
            .join(if i % 2 == 0 { "a" } else { "b" })
            .join(format!("{i}.jpg"));
        let mut bytes = Vec::new();
        image::codecs::jpeg::JpegEncoder::new_with_quality(&mut bytes, 90)
            .encode_image(&img)
            .map_err(std::io::Error::other)
            .and_then(|()| std::fs::write(&path, bytes))
            .map_err(|e| crate::util::fs::IoError::new("write", &path, e))?;
    }
    Ok(())
}

/// Sequential and random-batch reads of a 224×224 RGB pack (memory-mapped).
fn pack_reads(opts: &Options, log: &dyn Fn(&str)) -> crate::Result<Vec<Measurement>> {
    use crate::data::{Dataset, pack};
    use crate::util::rng::{Domain, Stream};
    let n = if opts.quick { 1000 } else { 2000 };
    let bytes = 224 * 224 * 3;
    let pixels: Vec<u8> = (0..n * bytes).map(|i| (i % 251) as u8).collect();
    let ds = Dataset::from_pixels(
        crate::data::ImageShape::new(224, 224, 3),
        vec!["a".into(), "b".into()],
        pixels,
        (0..n as u32).map(|i| i % 2).collect(),
        (0..n as u64).collect(),
        Vec::new(),
    );
    let dir = scratch_dir("pack")?;
    let path = dir.join("p");
    pack::write(&path, &ds, &vec![None; n], &[], "bench", "none", 64 << 20)?;
    drop(ds);
    let (packed, _, _) = pack::open(&path)?;
    let total = (n * bytes) as f64;
    // Both reads build batches of 256 in one contiguous buffer, as training does; they differ
    // only in the order of the records.
    let batch = 256;
    let mut buf = vec![0u8; batch * bytes];
    let stats = time(1, opts.reps(), || {
        for start in (0..packed.len()).step_by(batch) {
            for (k, i) in (start..(start + batch).min(packed.len())).enumerate() {
                buf[k * bytes..(k + 1) * bytes].copy_from_slice(packed.image(i));
            }
            std::hint::black_box(&buf);
        }
    });
    let seq = measurement("pack read sequential batches of 256", n, stats, Some(total));
    let mut rng = Stream::new(Domain::Shuffle, &[7]);
    let batches = n / batch;
    let stats = time(1, opts.reps(), || {
        for _ in 0..batches {
            for k in 0..batch {
                let i = rng.below(packed.len() as u64) as usize;
                buf[k * bytes..(k + 1) * bytes].copy_from_slice(packed.image(i));
            }
            std::hint::black_box(&buf);
        }
    });
    let random = measurement(
        "pack read random batches of 256",
        batches * batch,
        stats,
        Some((batches * batch * bytes) as f64),
    );
    log(&format!(
        "load pack: sequential {:.2} GB/s, random batches {:.2} GB/s",
        seq.bytes_per_second.unwrap_or(0.0) / 1e9,
        random.bytes_per_second.unwrap_or(0.0) / 1e9
    ));
    drop(packed);
    let _ = std::fs::remove_dir_all(&dir);
    Ok(vec![seq, random])
}

/// `augtrain pack` of the real hymenoptera folder at 224×224 (decode, resize, write).
fn pack_folder(
    opts: &Options,
    hym: &std::path::Path,
    log: &dyn Fn(&str),
) -> crate::Result<Measurement> {
    use crate::data::LoadOptions;
    use crate::data::source::{DataSource, load_whole};
    let dir = scratch_dir("hym")?;
    let mut k = 0;
    let mut count = 0;
    let mut failed = None;
    let stats = time(0, opts.reps().min(3), || {
        k += 1;
        let lo = LoadOptions {
            size: [224, 224],
            ..LoadOptions::default()
        };
        let result = load_whole(&DataSource::Folder(hym.to_path_buf()), &lo, 42).and_then(|w| {
            count = w.data.len();
            crate::data::pack::write(
                &dir.join(format!("p{k}")),
                &w.data,
                &w.splits,
                &w.report.sha256,
                "bench",
                "center-crop",
                256 << 20,
            )
        });
        if let Err(e) = result {
            failed = Some(e);
        }
    });
    let _ = std::fs::remove_dir_all(&dir);
    if let Some(e) = failed {
        return Err(e.into());
    }
    let m = measurement(
        "pack hymenoptera at 224x224 (decode+write)",
        count,
        stats,
        None,
    );
    log(&format!("load pack hymenoptera: {:.2} s", m.stats.median));
    Ok(m)
}
