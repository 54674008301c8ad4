//! The IDX format of MNIST and Fashion-MNIST: big-endian headers, `u8` payloads, optionally
//! gzip-compressed.
//!
//! Images: magic `0x00000803` (2051), then count, rows, cols (u32 BE), then `count·rows·cols`
//! bytes row-major. Labels: magic `0x00000801` (2049), then count, then `count` bytes.
//! A 4-D image file (`0x00000804`: count, rows, cols, channels) is accepted for colour data.
//!
//! Sizes are checked against the header before anything is allocated, so a header claiming
//! 10^12 images fails with a message instead of exhausting memory.

use std::io::Read;
use std::path::{Path, PathBuf};

use super::DataError;

/// Largest payload we agree to read from one IDX file (bytes). Larger headers are rejected.
pub const MAX_PAYLOAD: u64 = 1 << 34;

/// Images read from an IDX file: `count × rows × cols × channels` bytes, HWC.
#[derive(Debug, Clone)]
pub struct IdxImages {
    /// Number of images.
    pub count: usize,
    /// Rows (height).
    pub rows: usize,
    /// Columns (width).
    pub cols: usize,
    /// Channels (1 unless the file is 4-D).
    pub channels: usize,
    /// Pixels.
    pub pixels: Vec<u8>,
}

fn malformed(path: &Path, problem: impl Into<String>) -> DataError {
    DataError::Malformed {
        path: path.to_path_buf(),
        problem: problem.into(),
    }
}

/// Wrap `r` in a gzip decoder if its first two bytes are the gzip magic.
fn decompressing<'a, R: Read + 'a>(mut r: R) -> std::io::Result<Box<dyn Read + 'a>> {
    let mut magic = [0u8; 2];
    let n = read_full(&mut r, &mut magic)?;
    let chained = std::io::Cursor::new(magic[..n].to_vec()).chain(r);
    if n == 2 && magic == [0x1f, 0x8b] {
        Ok(Box::new(flate2::read::MultiGzDecoder::new(chained)))
    } else {
        Ok(Box::new(chained))
    }
}

/// Open `path` and return a reader over its decompressed bytes (gzip is detected by magic).
fn open(path: &Path) -> Result<Box<dyn Read>, DataError> {
    let read_err = |source| DataError::Read {
        path: path.to_path_buf(),
        source,
    };
    let file = crate::util::fs::open_regular(path).map_err(read_err)?;
    decompressing(file).map_err(read_err)
}

/// Read until `buf` is full or the stream ends; returns the number of bytes read.
fn read_full<R: Read + ?Sized>(r: &mut R, buf: &mut [u8]) -> std::io::Result<usize> {
    let mut filled = 0;
    while filled < buf.len() {
        match r.read(&mut buf[filled..]) {
            Ok(0) => break,
            Ok(n) => filled += n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(filled)
}

fn read_header(path: &Path, r: &mut dyn Read, words: usize) -> Result<Vec<u32>, DataError> {
    let mut buf = vec![0u8; 4 * words];
    let n = read_full(r, &mut buf).map_err(|e| decode_error(path, e))?;
    if n < buf.len() {
        return Err(malformed(
            path,
            format!(
                "truncated header ({n} of {} bytes); the file is cut short or is not an IDX file",
                buf.len()
            ),
        ));
    }
    Ok(buf
        .chunks_exact(4)
        .map(|c| u32::from_be_bytes([c[0], c[1], c[2], c[3]]))
        .collect())
}

fn decode_error(path: &Path, e: std::io::Error) -> DataError {
    if e.kind() == std::io::ErrorKind::InvalidInput || e.kind() == std::io::ErrorKind::InvalidData {
        malformed(path, format!("corrupt gzip stream ({e})"))
    } else if e.kind() == std::io::ErrorKind::UnexpectedEof {
        malformed(path, "gzip stream is truncated")
    } else {
        DataError::Read {
            path: path.to_path_buf(),
            source: e,
        }
    }
}

fn read_payload(path: &Path, r: &mut dyn Read, len: u64, what: &str) -> Result<Vec<u8>, DataError> {
    if len > MAX_PAYLOAD {
        return Err(malformed(
            path,
            format!(
                "header announces {len} bytes of {what}, more than the {MAX_PAYLOAD}-byte limit; the header is corrupt"
            ),
        ));
    }
    let len = len as usize;
    // Grow as data arrives rather than trusting the header with one big allocation.
    let mut data = Vec::with_capacity(len.min(1 << 24));
    r.take(len as u64)
        .read_to_end(&mut data)
        .map_err(|e| decode_error(path, e))?;
    if data.len() < len {
        return Err(malformed(
            path,
            format!(
                "truncated: header announces {len} bytes of {what} but only {} follow",
                data.len()
            ),
        ));
    }
    let mut extra = [0u8; 1];
    let n = read_full(r, &mut extra).map_err(|e| decode_error(path, e))?;
    if n > 0 {
        return Err(malformed(
            path,
            format!("{what}: more bytes than the header announces; the header is corrupt"),
        ));
    }
    Ok(data)
}

/// Read an IDX image file (3-D `u8`, or 4-D `u8` with channels last).
pub fn read_images(path: &Path) -> Result<IdxImages, DataError> {
    parse_images(path, open(path)?)
}

/// Parse IDX images from `r` (plain or gzip bytes); `path` names the source in errors.
pub fn parse_images(path: &Path, r: impl Read) -> Result<IdxImages, DataError> {
    let mut r = decompressing(r).map_err(|e| decode_error(path, e))?;
    let magic = read_header(path, &mut *r, 1)?[0];
    let dims = match magic {
        0x0000_0803 => 3,
        0x0000_0804 => 4,
        0x0000_0801 => {
            return Err(malformed(
                path,
                "this is an IDX label file (magic 2049), expected an image file (magic 2051)",
            ));
        }
        other => {
            return Err(malformed(
                path,
                format!(
                    "wrong magic number {other:#010x}: expected 0x00000803 (2051) for IDX u8 images"
                ),
            ));
        }
    };
    let h = read_header(path, &mut *r, dims)?;
    let (count, rows, cols) = (h[0] as u64, h[1] as u64, h[2] as u64);
    let channels = if dims == 4 { h[3] as u64 } else { 1 };
    if rows == 0 || cols == 0 || channels == 0 {
        return Err(malformed(
            path,
            format!("image dimensions {rows}x{cols}x{channels} contain a zero"),
        ));
    }
    if !(channels == 1 || channels == 3) {
        return Err(malformed(
            path,
            format!("{channels} channels per pixel; augtrain reads 1 (gray) or 3 (RGB)"),
        ));
    }
    let len = count
        .checked_mul(rows)
        .and_then(|v| v.checked_mul(cols))
        .and_then(|v| v.checked_mul(channels))
        .unwrap_or(u64::MAX);
    let pixels = read_payload(path, &mut *r, len, "pixels")?;
    Ok(IdxImages {
        count: count as usize,
        rows: rows as usize,
        cols: cols as usize,
        channels: channels as usize,
        pixels,
    })
}

/// Read an IDX label file (1-D `u8`).
pub fn read_labels(path: &Path) -> Result<Vec<u8>, DataError> {
    parse_labels(path, open(path)?)
}

/// Parse IDX labels from `r` (plain or gzip bytes); `path` names the source in errors.
pub fn parse_labels(path: &Path, r: impl Read) -> Result<Vec<u8>, DataError> {
    let mut r = decompressing(r).map_err(|e| decode_error(path, e))?;
    let magic = read_header(path, &mut *r, 1)?[0];
    match magic {
        0x0000_0801 => {}
        0x0000_0803 | 0x0000_0804 => {
            return Err(malformed(
                path,
                "this is an IDX image file (magic 2051), expected a label file (magic 2049)",
            ));
        }
        other => {
            return Err(malformed(
                path,
                format!(
                    "wrong magic number {other:#010x}: expected 0x00000801 (2049) for IDX u8 labels"
                ),
            ));
        }
    }
    let count = read_header(path, &mut *r, 1)?[0] as u64;
    read_payload(path, &mut *r, count, "labels")
}

/// The four files of an IDX dataset directory.
#[derive(Debug, Clone)]
pub struct IdxFiles {
    /// Training images (`train-images*`).
    pub train_images: PathBuf,
    /// Training labels (`train-labels*`).
    pub train_labels: PathBuf,
    /// Test images (`t10k-images*`).
    pub test_images: PathBuf,
    /// Test labels (`t10k-labels*`).
    pub test_labels: PathBuf,
}

/// Find the `train-images*`, `train-labels*`, `t10k-images*` and `t10k-labels*` files in `dir`.
pub fn find_files(dir: &Path) -> Result<IdxFiles, DataError> {
    let entries = std::fs::read_dir(dir).map_err(|source| DataError::Read {
        path: dir.to_path_buf(),
        source,
    })?;
    let mut names: Vec<String> = entries
        .filter_map(|e| e.ok())
        .filter(|e| {
            e.file_type()
                .map(|t| t.is_file() || t.is_symlink())
                .unwrap_or(false)
        })
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    let find = |prefix: &str| -> Result<PathBuf, DataError> {
        let hits: Vec<&String> = names.iter().filter(|n| n.starts_with(prefix)).collect();
        match hits.as_slice() {
            [one] => Ok(dir.join(one)),
            [] => Err(DataError::Missing {
                path: dir.to_path_buf(),
                problem: format!(
                    "no {prefix}* file; an IDX dataset directory holds train-images, train-labels, t10k-images and t10k-labels files (raw or .gz)"
                ),
            }),
            many => Err(DataError::Missing {
                path: dir.to_path_buf(),
                problem: format!(
                    "several {prefix}* files ({}); keep exactly one",
                    many.iter()
                        .map(|s| s.as_str())
                        .collect::<Vec<_>>()
                        .join(", ")
                ),
            }),
        }
    };
    Ok(IdxFiles {
        train_images: find("train-images")?,
        train_labels: find("train-labels")?,
        test_images: find("t10k-images")?,
        test_labels: find("t10k-labels")?,
    })
}

/// `true` when `dir` looks like an IDX dataset directory (has a `train-images*` file).
pub fn looks_like_idx_dir(dir: &Path) -> bool {
    std::fs::read_dir(dir)
        .map(|entries| {
            entries
                .filter_map(|e| e.ok())
                .any(|e| e.file_name().to_string_lossy().starts_with("train-images"))
        })
        .unwrap_or(false)
}

/// Write an IDX image file (uncompressed or gzip), used by tests and tools.
pub fn write_images(
    path: &Path,
    count: usize,
    rows: usize,
    cols: usize,
    pixels: &[u8],
    gzip: bool,
) -> std::io::Result<()> {
    let mut bytes = Vec::with_capacity(16 + pixels.len());
    for v in [0x0000_0803u32, count as u32, rows as u32, cols as u32] {
        bytes.extend_from_slice(&v.to_be_bytes());
    }
    bytes.extend_from_slice(pixels);
    write_maybe_gz(path, &bytes, gzip)
}

/// Write an IDX label file (uncompressed or gzip), used by tests and tools.
pub fn write_labels(path: &Path, labels: &[u8], gzip: bool) -> std::io::Result<()> {
    let mut bytes = Vec::with_capacity(8 + labels.len());
    for v in [0x0000_0801u32, labels.len() as u32] {
        bytes.extend_from_slice(&v.to_be_bytes());
    }
    bytes.extend_from_slice(labels);
    write_maybe_gz(path, &bytes, gzip)
}

fn write_maybe_gz(path: &Path, bytes: &[u8], gzip: bool) -> std::io::Result<()> {
    use std::io::Write;
    if gzip {
        let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        enc.write_all(bytes)?;
        std::fs::write(path, enc.finish()?)
    } else {
        std::fs::write(path, bytes)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tmp(name: &str) -> PathBuf {
        let dir = std::env::temp_dir().join(format!("augtrain-idx-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        dir.join(name)
    }

    #[test]
    fn round_trip_raw_and_gzip() {
        for gz in [false, true] {
            let p = tmp(&format!("img-{gz}"));
            let pixels: Vec<u8> = (0..2 * 3 * 4).map(|i| i as u8).collect();
            write_images(&p, 2, 3, 4, &pixels, gz).unwrap();
            let img = read_images(&p).unwrap();
            assert_eq!((img.count, img.rows, img.cols, img.channels), (2, 3, 4, 1));
            assert_eq!(img.pixels, pixels);
            let l = tmp(&format!("lab-{gz}"));
            write_labels(&l, &[3, 1], gz).unwrap();
            assert_eq!(read_labels(&l).unwrap(), vec![3, 1]);
        }
    }

    #[test]
    fn rejects_wrong_magic_truncation_and_huge_headers() {
        let p = tmp("bad-magic");
        std::fs::write(&p, [0u8, 0, 8, 9, 0, 0, 0, 1]).unwrap();
        let e = read_images(&p).unwrap_err().to_string();
        assert!(e.contains("wrong magic"), "{e}");

        let p = tmp("labels-as-images");
        write_labels(&p, &[1, 2], false).unwrap();
        let e = read_images(&p).unwrap_err().to_string();
        assert!(e.contains("label file"), "{e}");

        let p = tmp("truncated");
        let mut bytes = Vec::new();
        for v in [0x0803u32, 10, 28, 28] {
            bytes.extend_from_slice(&v.to_be_bytes());
        }
        bytes.extend_from_slice(&[0u8; 100]);
        std::fs::write(&p, &bytes).unwrap();
        let e = read_images(&p).unwrap_err().to_string();
        assert!(e.contains("truncated"), "{e}");

        let p = tmp("huge");
        let mut bytes = Vec::new();
        for v in [0x0803u32, u32::MAX, 60_000, 60_000] {
            bytes.extend_from_slice(&v.to_be_bytes());
        }
        std::fs::write(&p, &bytes).unwrap();
        let e = read_images(&p).unwrap_err().to_string();
        assert!(e.contains("limit"), "{e}");

        let p = tmp("empty");
        std::fs::write(&p, []).unwrap();
        let e = read_images(&p).unwrap_err().to_string();
        assert!(e.contains("truncated header"), "{e}");
    }

    #[test]
    fn rejects_trailing_bytes() {
        let p = tmp("trailing");
        let mut bytes = Vec::new();
        for v in [0x0801u32, 2] {
            bytes.extend_from_slice(&v.to_be_bytes());
        }
        bytes.extend_from_slice(&[1, 2, 3]);
        std::fs::write(&p, &bytes).unwrap();
        let e = read_labels(&p).unwrap_err().to_string();
        assert!(e.contains("more bytes"), "{e}");
    }

    #[test]
    fn corrupt_gzip_is_reported() {
        let p = tmp("corrupt.gz");
        std::fs::write(&p, [0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 3, 1, 2, 3, 4, 5]).unwrap();
        let e = read_images(&p).unwrap_err().to_string();
        assert!(e.contains("gzip") || e.contains("truncated"), "{e}");
    }
}
