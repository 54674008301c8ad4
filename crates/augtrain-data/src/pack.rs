//! The packed store: fixed-size `u8` HWC records in shard files, an index and a manifest, read
//! back by memory-mapping the shards (no decoding, no copying).
//!
//! ```text
//! DIR/manifest.json   format "augtrain-pack", version 1, shape, classes, shards + SHA-256
//! DIR/index.csv       id,label,split,sha256,path   (one row per record; sha256 of the source bytes;
//!                     path as path text, crate::util::path_text)
//! DIR/shard-00000.bin records back to back
//! ```
//!
//! Writing is atomic: everything goes into a hidden `.<name>.partial-<pid>` directory next to
//! `DIR`, which is renamed to `DIR` only when complete, so an interrupted pack never leaves a
//! directory that looks complete.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use super::files::{SplitName, hex};
use super::{DataError, Dataset, ImageStore};
use crate::util::escape::escape;

/// The manifest's `format` value.
pub const FORMAT: &str = "augtrain-pack";
/// Largest manifest or index we read (bytes).
const MAX_TEXT: u64 = 1 << 30;
/// The columns of `index.csv`.
const INDEX_HEADER: [&str; 5] = ["id", "label", "split", "sha256", "path"];

/// One shard file.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ShardInfo {
    /// File name inside the pack.
    pub file: String,
    /// Records in it.
    pub records: usize,
    /// SHA-256 of the file (hex).
    pub sha256: String,
}

/// `manifest.json`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PackManifest {
    /// Always [`FORMAT`].
    pub format: String,
    /// Format version (1).
    pub version: u32,
    /// Record width in pixels.
    pub width: usize,
    /// Record height in pixels.
    pub height: usize,
    /// Channels per pixel.
    pub channels: usize,
    /// Number of records.
    pub count: usize,
    /// Class names; labels index this list.
    pub classes: Vec<String>,
    /// Records per shard (all shards but the last are full).
    pub records_per_shard: usize,
    /// The shards in order.
    pub shards: Vec<ShardInfo>,
    /// What was packed.
    pub source: String,
    /// Resize policy used at pack time.
    pub resize: String,
    /// UTC time of packing.
    pub created: String,
}

/// Whether `dir` holds a pack.
pub fn looks_like_pack(dir: &Path) -> bool {
    // A manifest beside an index is a pack, valid or not: `open` then says what is wrong
    // with it, naming the file, rather than "not a dataset".
    (dir.join("manifest.json").is_file() && dir.join("index.csv").is_file())
        || crate::util::fs::read_regular_text(&dir.join("manifest.json"))
            .map(|t| t.contains(FORMAT))
            .unwrap_or(false)
}

fn io<'a>(action: &'static str, path: &'a Path) -> impl FnOnce(std::io::Error) -> DataError + 'a {
    move |source| DataError::Malformed {
        path: path.to_path_buf(),
        problem: format!("cannot {action}: {source}"),
    }
}

/// Write `data` (with per-record splits and source hashes) as a pack at `out`.
#[allow(clippy::too_many_arguments)]
pub fn write(
    out: &Path,
    data: &Dataset,
    splits: &[Option<SplitName>],
    source_sha256: &[String],
    source: &str,
    resize: &str,
    shard_bytes: usize,
) -> Result<PackManifest, DataError> {
    if out.exists() {
        return Err(DataError::Invalid(format!(
            "{} already exists; remove it or choose another --out",
            out.display()
        )));
    }
    let parent = out
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    std::fs::create_dir_all(parent).map_err(io("create the parent directory", parent))?;
    let tmp =
        crate::util::fs::PartialDir::create(out).map_err(|e| DataError::Invalid(e.to_string()))?;
    let manifest = write_into(
        tmp.path(),
        data,
        splits,
        source_sha256,
        source,
        resize,
        shard_bytes,
    )?;
    tmp.publish(out)
        .map_err(io("move the finished pack into place", out))?;
    Ok(manifest)
}

#[allow(clippy::too_many_arguments)]
fn write_into(
    dir: &Path,
    data: &Dataset,
    splits: &[Option<SplitName>],
    source_sha256: &[String],
    source: &str,
    resize: &str,
    shard_bytes: usize,
) -> Result<PackManifest, DataError> {
    std::fs::create_dir_all(dir).map_err(io("create", dir))?;
    let bytes = data.image_bytes().max(1);
    let per_shard = (shard_bytes / bytes).max(1);
    let mut shards = Vec::new();
    for (k, start) in (0..data.len()).step_by(per_shard).enumerate() {
        let end = (start + per_shard).min(data.len());
        let file = format!("shard-{k:05}.bin");
        let path = dir.join(&file);
        let f = std::fs::File::create(&path).map_err(io("create", &path))?;
        let mut w = std::io::BufWriter::with_capacity(1 << 20, f);
        let mut hasher = Sha256::new();
        for i in start..end {
            let rec = data.image(i);
            hasher.update(rec);
            w.write_all(rec).map_err(io("write", &path))?;
        }
        // Flushed to disk with the whole directory before it is published.
        w.into_inner()
            .map_err(|e| io("write", &path)(e.into_error()))?;
        shards.push(ShardInfo {
            file,
            records: end - start,
            sha256: hex(&hasher.finalize()),
        });
    }
    let mut index = crate::csv::Writer::new(INDEX_HEADER);
    for i in 0..data.len() {
        let split = splits
            .get(i)
            .copied()
            .flatten()
            .map(|s| s.as_str())
            .unwrap_or("");
        let sha = source_sha256.get(i).map(String::as_str).unwrap_or("");
        index.row([
            data.ids[i].to_string().as_str(),
            &data.labels[i].to_string(),
            split,
            sha,
            &data.paths[i],
        ]);
    }
    let index_path = dir.join("index.csv");
    std::fs::write(&index_path, index.finish()).map_err(io("write", &index_path))?;
    let manifest = PackManifest {
        format: FORMAT.into(),
        version: 1,
        width: data.shape.width,
        height: data.shape.height,
        channels: data.shape.channels,
        count: data.len(),
        classes: data.class_names.clone(),
        records_per_shard: per_shard,
        shards,
        source: source.into(),
        resize: resize.into(),
        created: crate::util::time::iso8601_now(),
    };
    let manifest_path = dir.join("manifest.json");
    let text = serde_json::to_string_pretty(&manifest).expect("manifest serializes");
    std::fs::write(&manifest_path, text).map_err(io("write", &manifest_path))?;
    Ok(manifest)
}

fn read_text(path: &Path) -> Result<String, DataError> {
    let meta = std::fs::metadata(path).map_err(|source| DataError::Read {
        path: path.to_path_buf(),
        source,
    })?;
    if meta.len() > MAX_TEXT {
        return Err(DataError::Malformed {
            path: path.to_path_buf(),
            problem: format!("{} bytes is too large for a pack file", meta.len()),
        });
    }
    let bytes = crate::util::fs::read_regular(path).map_err(|source| DataError::Read {
        path: path.to_path_buf(),
        source,
    })?;
    String::from_utf8(bytes).map_err(|_| DataError::Malformed {
        path: path.to_path_buf(),
        problem: "not UTF-8 text".into(),
    })
}

/// Open a pack: the dataset (memory-mapped), per-record splits, the manifest.
///
/// The shards are mapped read-only; a pack must not be modified while it is open.
pub fn open(dir: &Path) -> Result<(Dataset, Vec<Option<SplitName>>, PackManifest), DataError> {
    let m = read_manifest(dir)?;
    let maps = map_shards(dir, &m)?;
    let index = read_index(dir, &m)?;
    let store = Arc::new(ImageStore::Mapped {
        shards: maps,
        per_shard: m.records_per_shard,
    });
    let ds = Dataset::from_store(
        crate::ImageShape::new(m.width, m.height, m.channels),
        m.classes.clone(),
        store,
        index.labels,
        index.ids,
        index.paths,
    );
    Ok((ds, index.splits, m))
}

/// A malformed-file error.
fn bad(path: &Path, problem: String) -> DataError {
    DataError::Malformed {
        path: path.to_path_buf(),
        problem,
    }
}

/// Read and check `manifest.json`: format and version, record shape, classes, record counts.
fn read_manifest(dir: &Path) -> Result<PackManifest, DataError> {
    let manifest_path = dir.join("manifest.json");
    let m: PackManifest = serde_json::from_str(&read_text(&manifest_path)?)
        .map_err(|e| bad(&manifest_path, format!("not a valid pack manifest ({e})")))?;
    if m.format != FORMAT || m.version != 1 {
        return Err(bad(
            &manifest_path,
            format!(
                "format {} version {} is not {FORMAT} version 1",
                m.format, m.version
            ),
        ));
    }
    if !(1..=4).contains(&m.channels)
        || m.width == 0
        || m.height == 0
        || m.width > 65_536
        || m.height > 65_536
    {
        return Err(bad(
            &manifest_path,
            format!(
                "record shape {}x{}x{} is not valid",
                m.width, m.height, m.channels
            ),
        ));
    }
    if m.classes.is_empty() {
        return Err(bad(&manifest_path, "no classes".into()));
    }
    let total = m
        .shards
        .iter()
        .try_fold(0usize, |t, s| t.checked_add(s.records))
        .unwrap_or(usize::MAX);
    if total != m.count || m.records_per_shard == 0 {
        return Err(bad(
            &manifest_path,
            format!("shards hold {total} records but count is {}", m.count),
        ));
    }
    Ok(m)
}

/// Map every shard read-only, checking its name and its size against the manifest.
fn map_shards(dir: &Path, m: &PackManifest) -> Result<Vec<memmap2::Mmap>, DataError> {
    let manifest_path = dir.join("manifest.json");
    let bytes = m.width * m.height * m.channels;
    let mut maps = Vec::with_capacity(m.shards.len());
    for (k, s) in m.shards.iter().enumerate() {
        let plain = crate::util::inside::relative_inside(Path::new(&s.file))
            .is_ok_and(|p| p.as_os_str() == s.file.as_str() && p.components().count() == 1);
        if !plain || s.file.contains('\\') || s.file.starts_with('.') {
            return Err(bad(
                &manifest_path,
                format!("shard name '{}' is not a plain file name", escape(&s.file)),
            ));
        }
        if k + 1 < m.shards.len() && s.records != m.records_per_shard
            || s.records > m.records_per_shard
        {
            return Err(bad(
                &manifest_path,
                format!(
                    "shard {} holds {} records, expected {}",
                    s.file, s.records, m.records_per_shard
                ),
            ));
        }
        let path = dir.join(&s.file);
        let file = crate::util::fs::open_regular(&path).map_err(|source| DataError::Read {
            path: path.clone(),
            source,
        })?;
        let len = file.metadata().map(|md| md.len()).unwrap_or(0);
        let expected = (s.records as u64).checked_mul(bytes as u64);
        if expected != Some(len) {
            let expected = expected.map_or_else(|| "more than 2^64".to_string(), |e| e.to_string());
            return Err(bad(
                &path,
                format!(
                    "{len} bytes, expected {expected} ({} records of {bytes})",
                    s.records
                ),
            ));
        }
        // SAFETY: the shard is mapped read-only; packs are immutable once written.
        let map = unsafe { memmap2::Mmap::map(&file) }.map_err(|source| DataError::Read {
            path: path.clone(),
            source,
        })?;
        maps.push(map);
    }
    Ok(maps)
}

/// The columns of a pack's `index.csv`, one entry per record.
struct Index {
    ids: Vec<u64>,
    labels: Vec<u32>,
    splits: Vec<Option<SplitName>>,
    paths: Vec<String>,
}

/// Read and check `index.csv`: one row per record, labels in range, unique ids.
fn read_index(dir: &Path, m: &PackManifest) -> Result<Index, DataError> {
    let index_path = dir.join("index.csv");
    let index = crate::csv::Table::parse(&index_path, read_text(&index_path)?.as_bytes())?;
    if index.header() != INDEX_HEADER {
        return Err(bad(
            &index_path,
            "missing header id,label,split,sha256,path".into(),
        ));
    }
    let (mut ids, mut labels, mut splits, mut paths) =
        (Vec::new(), Vec::new(), Vec::new(), Vec::new());
    for row in index.rows() {
        let f = &row.fields;
        let id: u64 = f[0]
            .parse()
            .map_err(|_| index.error(row, format!("id '{}' is not a number", escape(&f[0]))))?;
        let label: u32 = f[1]
            .parse()
            .map_err(|_| index.error(row, format!("label '{}' is not a number", escape(&f[1]))))?;
        if label as usize >= m.classes.len() {
            return Err(index.error(
                row,
                format!(
                    "label {label} is out of range (the pack has {} classes)",
                    m.classes.len()
                ),
            ));
        }
        let split =
            if f[2].is_empty() {
                None
            } else {
                Some(SplitName::parse(&f[2]).ok_or_else(|| {
                    index.error(row, format!("unknown split '{}'", escape(&f[2])))
                })?)
            };
        ids.push(id);
        labels.push(label);
        splits.push(split);
        paths.push(f[4].clone());
    }
    let mut seen = std::collections::HashSet::with_capacity(ids.len());
    if let Some(dup) = ids.iter().find(|&&id| !seen.insert(id)) {
        return Err(bad(&index_path, format!("id {dup} appears more than once")));
    }
    if labels.len() != m.count {
        return Err(bad(
            &index_path,
            format!(
                "{} rows but the manifest counts {} records",
                labels.len(),
                m.count
            ),
        ));
    }
    Ok(Index {
        ids,
        labels,
        splits,
        paths,
    })
}

/// The default pack directory for a source path: `<name>.pack` beside it.
pub fn default_out(src: &Path) -> PathBuf {
    let name = src
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| "data".into());
    src.with_file_name(format!("{name}.pack"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn write_then_open_round_trips_across_shards() {
        let dir = std::env::temp_dir().join(format!("augtrain-pack-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        let n = 7;
        let pixels: Vec<u8> = (0..n * 12).map(|i| i as u8).collect();
        let ds = Dataset::from_pixels(
            crate::ImageShape::new(2, 2, 3),
            vec!["a".into(), "b".into()],
            pixels.clone(),
            (0..n as u32).map(|i| i % 2).collect(),
            (100..100 + n as u64).collect(),
            (0..n).map(|i| format!("x/{i}, with comma.png")).collect(),
        );
        let splits: Vec<Option<SplitName>> = (0..n)
            .map(|i| if i < 5 { Some(SplitName::Train) } else { None })
            .collect();
        let out = dir.join("p");
        let m = write(&out, &ds, &splits, &[], "test", "stretch", 3 * 12).unwrap();
        assert_eq!(m.shards.len(), 3);
        let (back, s, _) = open(&out).unwrap();
        assert_eq!(back.pixels(), pixels);
        assert_eq!(back.labels, ds.labels);
        assert_eq!(back.ids, ds.ids);
        assert_eq!(back.paths, ds.paths);
        assert_eq!(s, splits);
        assert!(
            write(&out, &ds, &splits, &[], "test", "stretch", 36).is_err(),
            "no overwrite"
        );
        // A damaged shard is reported.
        std::fs::write(out.join("shard-00001.bin"), [0u8; 5]).unwrap();
        let e = open(&out).unwrap_err().to_string();
        assert!(e.contains("shard-00001.bin"), "{e}");
        let leftovers: Vec<_> = std::fs::read_dir(&dir)
            .unwrap()
            .filter_map(|e| e.ok())
            .filter(|e| e.file_name().to_string_lossy().contains("partial"))
            .collect();
        assert!(leftovers.is_empty());
    }
}
