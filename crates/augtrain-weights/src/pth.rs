//! Bounds on a PyTorch weights file (`.pth`, `.pt`), checked before burn-store's reader opens
//! it: the reader trusts a ZIP entry's claimed sizes and grows its pickle stack with every
//! opcode, so a 101 KB file could make it allocate 11.8 GB.
//!
//! What is checked, per container (as `torch.save` writes them):
//! - **ZIP** (PyTorch 1.6+): the entry count (from the end record, before the central
//!   directory is parsed); every entry's uncompressed size against the file (stored) or its
//!   compressed size (deflated: at most [`Limits::max_ratio`] to 1 above
//!   [`Limits::ratio_free_bytes`]), and all of them together; `data.pkl`'s size; then the
//!   pickle's opcodes ([`crate::pickle_scan`]); every storage the pickle declares against
//!   the size of its `data/<key>` entry, and every tensor view against its storage.
//! - **Legacy** (PyTorch 0.1.10 to 1.5): its five pickles scanned, and the storages they
//!   declare against the bytes after them.
//! - **Plain pickle**: scanned.
//! - **TAR** (before PyTorch 0.1.10, 2017): refused; re-saving it with a current PyTorch
//!   gives a ZIP file.

use std::io::{BufReader, Read, Seek, SeekFrom};
use std::path::Path;

use augtrain_data::util::fs::{human_bytes, open_regular};

use crate::pickle_scan::{ScanError, ScanLimits, ScanReport, StorageClaim, scan_pickle};

/// The bounds a file must stay within. The defaults are far above what any published model's
/// state dict needs (ResNet-152: 933 tensors, a 60 KB pickle of about 25,000 values; a
/// 7-billion-parameter language model: 291 tensors) and far below what exhausts a machine.
#[derive(Clone, Copy, Debug)]
pub struct Limits {
    /// ZIP entries (a state dict has one per storage plus five).
    pub max_entries: u64,
    /// Bytes of `data.pkl` (it holds names and shapes; tensor bytes live in other entries).
    pub max_pickle_bytes: u64,
    /// Values a pickle may create, memo writes included (about 25 per tensor).
    pub max_values: u64,
    /// How many times its compressed size a compressed ZIP entry may unpack to.
    pub max_ratio: u64,
    /// A compressed entry up to this many bytes may have any ratio (a tensor of zeros).
    pub ratio_free_bytes: u64,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            max_entries: 100_000,
            max_pickle_bytes: 64 << 20,
            max_values: 1_000_000,
            max_ratio: 100,
            ratio_free_bytes: 1 << 20,
        }
    }
}

/// The container a file uses.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Container {
    /// ZIP (PyTorch 1.6+).
    Zip,
    /// The legacy stream of pickles and raw storages (PyTorch 0.1.10 to 1.5).
    Legacy,
    /// A lone pickle.
    Pickle,
}

/// What a passed check found.
#[derive(Clone, Debug)]
pub struct Checked {
    /// The container.
    pub container: Container,
    /// Values the pickle(s) create.
    pub values: u64,
    /// Storage references.
    pub storages: usize,
}

/// Why a file was refused.
#[derive(Debug, thiserror::Error)]
pub enum PthError {
    /// The file could not be read.
    #[error("cannot read it: {0}")]
    Io(#[from] std::io::Error),
    /// Its pickle was refused.
    #[error("{0}")]
    Pickle(#[from] ScanError),
    /// It breaks one of the bounds (built to exhaust memory, or a container augtrain does
    /// not read).
    #[error("{0}")]
    Refused(String),
    /// It is damaged: truncated, not a ZIP archive, or contradicting itself.
    #[error("{0}")]
    Malformed(String),
}

impl PthError {
    /// Whether the file breaks a bound (rather than being damaged or unreadable).
    pub fn is_bound(&self) -> bool {
        matches!(
            self,
            PthError::Refused(_) | PthError::Pickle(ScanError::TooManyValues { .. })
        )
    }
}

/// Check `path` against the default [`Limits`].
pub fn check_pth(path: &Path) -> Result<Checked, PthError> {
    check_pth_with(path, &Limits::default())
}

/// Check `path` against `limits`.
pub fn check_pth_with(path: &Path, limits: &Limits) -> Result<Checked, PthError> {
    let mut file = open_regular(path)?;
    let len = file.metadata()?.len();
    let mut header = Vec::new();
    (&mut file).take(262).read_to_end(&mut header)?;
    file.seek(SeekFrom::Start(0))?;
    if header.starts_with(b"PK\x03\x04") || header.starts_with(b"PK\x05\x06") {
        check_zip(file, len, limits)
    } else if header.get(257..262) == Some(b"ustar") {
        Err(PthError::Refused(
            "it is a TAR-format PyTorch file (PyTorch before 0.1.10), which augtrain does not read; re-save it with a current PyTorch: torch.save(torch.load(F), F2)".into(),
        ))
    } else if is_legacy(&header) {
        check_legacy(file, len, limits)
    } else {
        let report = scan_pickle(BufReader::new(file), scan_limits(limits))?;
        Ok(Checked {
            container: Container::Pickle,
            values: report.values,
            storages: report.storages.len(),
        })
    }
}

fn scan_limits(limits: &Limits) -> ScanLimits {
    ScanLimits {
        max_values: limits.max_values,
    }
}

/// Whether the file opens with the legacy magic number (`LONG1` bytes or decimal text).
fn is_legacy(header: &[u8]) -> bool {
    const BYTES: [u8; 10] = [0x6c, 0xfc, 0x9c, 0x46, 0xf9, 0x20, 0x6a, 0xa8, 0x50, 0x19];
    const TEXT: &[u8] = b"119547037146038801333356";
    let window = &header[..header.len().min(64)];
    window.windows(BYTES.len()).any(|w| w == BYTES) || window.windows(TEXT.len()).any(|w| w == TEXT)
}

fn refused(why: String) -> PthError {
    PthError::Refused(why)
}

fn malformed(why: String) -> PthError {
    PthError::Malformed(why)
}

/// The entry count and central directory size the end record claims (ZIP64 when present),
/// read before any parser trusts them.
fn end_record(file: &mut std::fs::File, len: u64) -> Result<(u64, u64), PthError> {
    let tail_len = len.min(65_557);
    file.seek(SeekFrom::Start(len - tail_len))?;
    let mut tail = Vec::new();
    file.take(tail_len).read_to_end(&mut tail)?;
    let at = tail
        .windows(4)
        .rposition(|w| w == b"PK\x05\x06")
        .filter(|&at| at + 22 <= tail.len())
        .ok_or_else(|| malformed("it is not a complete ZIP archive (no end record)".into()))?;
    let u16_at = |i: usize| u16::from_le_bytes([tail[at + i], tail[at + i + 1]]) as u64;
    let entries = u16_at(10);
    let cd_size = u16_at(12) | (u16_at(14) << 16);
    if entries != 0xffff && cd_size != 0xffff_ffff {
        return Ok((entries, cd_size));
    }
    // ZIP64: the locator sits just before the end record and points at the ZIP64 record.
    let locator = (len - tail_len + at as u64)
        .checked_sub(20)
        .ok_or_else(|| malformed("its ZIP64 end record is missing".into()))?;
    let mut buf = [0u8; 20];
    file.seek(SeekFrom::Start(locator))?;
    file.read_exact(&mut buf)?;
    if &buf[..4] != b"PK\x06\x07" {
        return Ok((entries, cd_size));
    }
    let record = u64::from_le_bytes(buf[8..16].try_into().expect("8 bytes"));
    let mut rec = [0u8; 56];
    file.seek(SeekFrom::Start(record))?;
    file.read_exact(&mut rec)
        .map_err(|_| malformed("its ZIP64 end record lies outside the file".into()))?;
    let u64_at = |i: usize| u64::from_le_bytes(rec[i..i + 8].try_into().expect("8 bytes"));
    Ok((u64_at(32), u64_at(40)))
}

/// One ZIP entry's facts, read from the central directory without unpacking anything.
struct Entry {
    name: String,
    size: u64,
    compressed: u64,
    stored: bool,
}

fn check_zip(mut file: std::fs::File, len: u64, limits: &Limits) -> Result<Checked, PthError> {
    let (claimed_entries, cd_size) = end_record(&mut file, len)?;
    if claimed_entries > limits.max_entries {
        return Err(refused(format!(
            "its ZIP directory claims {claimed_entries} entries, more than the {} a weights file may have",
            limits.max_entries
        )));
    }
    if cd_size > len {
        return Err(malformed(format!(
            "its ZIP directory claims {cd_size} bytes, more than the file's {len}"
        )));
    }
    file.seek(SeekFrom::Start(0))?;
    let mut archive = zip::ZipArchive::new(BufReader::new(file))
        .map_err(|e| malformed(format!("it is not a readable ZIP archive: {e}")))?;
    let entries = zip_entries(&mut archive)?;
    check_sizes(&entries, len, limits)?;
    let root = entries
        .iter()
        .filter_map(|e| e.name.strip_suffix("data.pkl"))
        .filter(|root| root.is_empty() || root.ends_with('/'))
        .min_by_key(|root| root.len())
        .map(str::to_string)
        .ok_or_else(|| {
            malformed("its ZIP archive has no data.pkl (not a PyTorch 1.6+ file)".into())
        })?;
    let pickle_name = format!("{root}data.pkl");
    let pickle_size = entries
        .iter()
        .find(|e| e.name == pickle_name)
        .map_or(0, |e| e.size);
    if pickle_size > limits.max_pickle_bytes {
        return Err(refused(format!(
            "its {pickle_name} unpacks to {}, more than the {} a state dict's pickle needs",
            human_bytes(pickle_size),
            human_bytes(limits.max_pickle_bytes)
        )));
    }
    let report = {
        let pickle = archive
            .by_name(&pickle_name)
            .map_err(|e| malformed(format!("cannot unpack {pickle_name}: {e}")))?;
        let bounded = BufReader::new(pickle.take(limits.max_pickle_bytes));
        scan_pickle(bounded, scan_limits(limits))?
    };
    check_claims(&report, |key| {
        let name = format!("{root}data/{key}");
        entries.iter().find(|e| e.name == name).map(|e| e.size)
    })?;
    Ok(Checked {
        container: Container::Zip,
        values: report.values,
        storages: report.storages.len(),
    })
}

fn zip_entries<R: Read + Seek>(archive: &mut zip::ZipArchive<R>) -> Result<Vec<Entry>, PthError> {
    (0..archive.len())
        .map(|i| {
            let e = archive
                .by_index_raw(i)
                .map_err(|e| malformed(format!("its ZIP entry {i} cannot be read: {e}")))?;
            let name = e
                .name()
                .map_err(|e| malformed(format!("its ZIP entry {i} has an unreadable name: {e}")))?
                .to_string();
            Ok(Entry {
                name,
                size: e.size(),
                compressed: e.compressed_size(),
                stored: e.compression() == zip::CompressionMethod::Stored,
            })
        })
        .collect()
}

/// Every entry's unpacked size against the file and its packed size, and the total.
fn check_sizes(entries: &[Entry], len: u64, limits: &Limits) -> Result<(), PthError> {
    let mut total = 0u64;
    for e in entries {
        if e.stored && (e.size != e.compressed || e.size > len) {
            return Err(refused(format!(
                "its ZIP entry {} claims {} bytes stored in {} bytes of a {len}-byte file",
                e.name, e.size, e.compressed
            )));
        }
        let ratio_limit = e.compressed.saturating_mul(limits.max_ratio);
        if !e.stored && e.size > limits.ratio_free_bytes && e.size > ratio_limit {
            return Err(refused(format!(
                "its ZIP entry {} unpacks to {} from {} (more than {}:1; a compression bomb?)",
                e.name,
                human_bytes(e.size),
                human_bytes(e.compressed),
                limits.max_ratio
            )));
        }
        total = total.saturating_add(e.size);
    }
    let total_limit = len
        .max(limits.ratio_free_bytes)
        .saturating_mul(limits.max_ratio);
    if total > total_limit {
        return Err(refused(format!(
            "its ZIP entries unpack to {} in all from a {}-byte file (more than {}:1)",
            human_bytes(total),
            len,
            limits.max_ratio
        )));
    }
    Ok(())
}

/// Every declared storage against the bytes its container holds for it (`held(key)`,
/// `None`: no such storage), and every tensor view against its storage.
fn check_claims(report: &ScanReport, held: impl Fn(&str) -> Option<u64>) -> Result<(), PthError> {
    for StorageClaim { key, bytes, .. } in &report.storages {
        match held(key) {
            None => {
                return Err(malformed(format!(
                    "its pickle refers to storage '{key}', which the file does not hold"
                )));
            }
            Some(size) if size < *bytes => {
                return Err(refused(format!(
                    "its pickle declares storage '{key}' of {bytes} bytes, but the file holds {size} bytes for it"
                )));
            }
            Some(_) => {}
        }
    }
    for view in &report.views {
        if view.bytes > view.storage.bytes.max(1 << 20) {
            return Err(refused(format!(
                "its pickle declares a tensor of shape {:?} ({} bytes) on storage '{}' of {} bytes",
                view.shape, view.bytes, view.storage.key, view.storage.bytes
            )));
        }
    }
    Ok(())
}

/// The legacy stream: magic, protocol, system info, the object, the storage keys (five
/// pickles), then per storage an 8-byte element count and its bytes.
fn check_legacy(file: std::fs::File, len: u64, limits: &Limits) -> Result<Checked, PthError> {
    let mut reader = BufReader::new(file);
    let mut values = 0;
    let mut root = ScanReport::default();
    for i in 0..5 {
        let left = ScanLimits {
            max_values: limits.max_values.saturating_sub(values),
        };
        let report = scan_pickle(&mut reader, left)?;
        values += report.values;
        if i == 3 {
            root = report;
        }
    }
    let data_start = reader.stream_position()?;
    let mut per_key: std::collections::BTreeMap<&str, u64> = Default::default();
    for claim in &root.storages {
        let bytes = per_key.entry(&claim.key).or_default();
        *bytes = (*bytes).max(claim.bytes);
    }
    let needed = per_key
        .values()
        .fold(0u64, |a, &b| a.saturating_add(b).saturating_add(8));
    let held = len.saturating_sub(data_start);
    if needed > held {
        return Err(malformed(format!(
            "its pickle declares {needed} bytes of storages, but only {held} bytes follow it"
        )));
    }
    check_claims(&root, |_| Some(u64::MAX))?;
    Ok(Checked {
        container: Container::Legacy,
        values,
        storages: root.storages.len(),
    })
}
