//! Image files as a dataset: image-folder layouts, CSV manifests, and loading a list of files
//! in parallel with per-file error reports.
//!
//! Layouts: `root/<class>/*` (no split) or `root/{train,val,test}/<class>/*`. Manifests: CSV
//! `path,label[,split]` with a header row; paths are relative to the manifest's directory.
//! Files whose name starts with `.` are ignored; every other file is tried, and one that cannot
//! be used is reported with its reason (and skipped, or stops the load with `--on-error fail`).

use std::path::{Path, PathBuf};

use rayon::prelude::*;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use super::decode::{BadReason, decode_file};
use super::{DataError, Dataset, LoadOptions};

/// A named split.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum SplitName {
    /// Training.
    Train,
    /// Validation.
    Val,
    /// Test.
    Test,
}

impl SplitName {
    /// Parse `train`, `val` / `valid` / `validation`, `test` (case-insensitive).
    pub fn parse(s: &str) -> Option<Self> {
        match s.trim().to_ascii_lowercase().as_str() {
            "train" | "training" => Some(SplitName::Train),
            "val" | "valid" | "validation" => Some(SplitName::Val),
            "test" | "testing" => Some(SplitName::Test),
            _ => None,
        }
    }

    /// The lowercase name.
    pub fn as_str(self) -> &'static str {
        match self {
            SplitName::Train => "train",
            SplitName::Val => "val",
            SplitName::Test => "test",
        }
    }
}

impl std::fmt::Display for SplitName {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// What to do with a file that cannot be used.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum OnError {
    /// Report it and go on without it.
    #[default]
    Skip,
    /// Stop with an error naming it.
    Fail,
}

crate::from_str_via_serde!(OnError);

/// One file to load.
#[derive(Clone, Debug)]
pub struct FileItem {
    /// Where to read it.
    pub path: PathBuf,
    /// Its name relative to the dataset root, for reports.
    pub rel: String,
    /// Its class name.
    pub label: String,
    /// Its split, when the layout or manifest names one.
    pub split: Option<SplitName>,
}

/// A file that was not used, and why.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Skipped {
    /// The file, relative to the dataset root.
    pub path: String,
    /// Why it was not used.
    pub reason: BadReason,
}

/// What loading found besides the images: skipped files and facts for `inspect`.
#[derive(Clone, Debug, Default, Serialize)]
pub struct LoadReport {
    /// Files not used, with reasons.
    pub skipped: Vec<Skipped>,
    /// Width and height of every used file as stored (after EXIF orientation).
    pub original_sizes: Vec<(u32, u32)>,
    /// Format of every used file.
    pub formats: Vec<String>,
    /// Channels of every used file's colour type.
    pub source_channels: Vec<u8>,
    /// Files whose EXIF orientation was applied.
    pub rotated: usize,
    /// SHA-256 of every used file's bytes (hex).
    pub sha256: Vec<String>,
    /// Things the user should know about the load that are not per-file problems (e.g. split
    /// file rows naming files that no longer exist), one sentence each.
    pub notes: Vec<String>,
}

fn is_hidden(name: &str) -> bool {
    name.starts_with('.')
}

fn sorted_entries(dir: &Path) -> Result<Vec<std::fs::DirEntry>, DataError> {
    let mut entries: Vec<_> = std::fs::read_dir(dir)
        .map_err(|source| DataError::Read {
            path: dir.to_path_buf(),
            source,
        })?
        .filter_map(|e| e.ok())
        .filter(|e| !is_hidden(&e.file_name().to_string_lossy()))
        .collect();
    entries.sort_by_key(|e| e.file_name());
    Ok(entries)
}

fn class_dirs(dir: &Path) -> Result<Vec<(String, PathBuf)>, DataError> {
    Ok(sorted_entries(dir)?
        .into_iter()
        .filter(|e| e.path().is_dir())
        .map(|e| (e.file_name().to_string_lossy().into_owned(), e.path()))
        .collect())
}

/// Whether `dir` is an image-folder dataset (has class subdirectories).
pub fn looks_like_folder(dir: &Path) -> bool {
    class_dirs(dir).map(|c| !c.is_empty()).unwrap_or(false)
}

/// Scan an image-folder layout into items (sorted by split, class, file name) and class names.
pub fn scan_folder(root: &Path) -> Result<(Vec<FileItem>, Vec<String>), DataError> {
    let top = class_dirs(root)?;
    let split_layout =
        !top.is_empty() && top.iter().all(|(name, _)| SplitName::parse(name).is_some());
    let groups: Vec<(Option<SplitName>, PathBuf, String)> = if split_layout {
        top.iter()
            .map(|(name, path)| (SplitName::parse(name), path.clone(), format!("{name}/")))
            .collect()
    } else {
        vec![(None, root.to_path_buf(), String::new())]
    };
    let mut items = Vec::new();
    let mut classes = std::collections::BTreeSet::new();
    for (split, dir, prefix) in groups {
        for (class, class_dir) in class_dirs(&dir)? {
            classes.insert(class.clone());
            for entry in sorted_entries(&class_dir)? {
                let path = entry.path();
                if path.is_dir() {
                    continue;
                }
                items.push(FileItem {
                    rel: format!("{prefix}{class}/{}", entry.file_name().to_string_lossy()),
                    path,
                    label: class.clone(),
                    split,
                });
            }
        }
    }
    if items.is_empty() {
        return Err(DataError::Missing {
            path: root.to_path_buf(),
            problem: "no image files found; expected root/<class>/<images> or root/{train,val,test}/<class>/<images>".into(),
        });
    }
    Ok((items, classes.into_iter().collect()))
}

/// Quote a CSV field when it contains a comma, quote or newline (RFC 4180).
pub fn csv_field(s: &str) -> String {
    if s.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", s.replace('"', "\"\""))
    } else {
        s.to_string()
    }
}

/// Split one CSV line into fields (RFC 4180: quotes, doubled quotes inside quotes).
pub fn csv_fields(line: &str) -> Result<Vec<String>, String> {
    let mut fields = Vec::new();
    let mut field = String::new();
    let mut chars = line.chars().peekable();
    let mut quoted = false;
    let mut at_start = true;
    while let Some(ch) = chars.next() {
        if quoted {
            if ch == '"' {
                if chars.peek() == Some(&'"') {
                    chars.next();
                    field.push('"');
                } else {
                    quoted = false;
                }
            } else {
                field.push(ch);
            }
        } else if ch == '"' && at_start {
            quoted = true;
            at_start = false;
        } else if ch == ',' {
            fields.push(std::mem::take(&mut field));
            at_start = true;
        } else {
            field.push(ch);
            at_start = false;
        }
    }
    if quoted {
        return Err("unterminated quoted field".into());
    }
    fields.push(field);
    Ok(fields)
}

/// Read a CSV manifest: a header naming `path` and `label` (and optionally `split`) columns,
/// then one row per image. Rows pointing at missing files are kept (the loader reports them).
pub fn read_manifest(path: &Path) -> Result<(Vec<FileItem>, Vec<String>), DataError> {
    let bytes = crate::util::fs::read_regular(path).map_err(|source| DataError::Read {
        path: path.to_path_buf(),
        source,
    })?;
    parse_manifest(path, bytes)
}

/// Parse a CSV manifest's bytes (see [`read_manifest`]); relative paths are resolved against
/// `path`'s directory.
pub fn parse_manifest(
    path: &Path,
    bytes: Vec<u8>,
) -> Result<(Vec<FileItem>, Vec<String>), DataError> {
    let bad = |problem: String| DataError::Malformed {
        path: path.to_path_buf(),
        problem,
    };
    let text = String::from_utf8(bytes).map_err(|_| bad("not UTF-8 text".into()))?;
    let text = text.strip_prefix('\u{feff}').unwrap_or(&text);
    let mut lines = text
        .lines()
        .enumerate()
        .filter(|(_, l)| !l.trim().is_empty());
    let (_, header) = lines
        .next()
        .ok_or_else(|| bad("empty manifest; expected a header row path,label[,split]".into()))?;
    let header: Vec<String> = csv_fields(header)
        .map_err(|e| bad(format!("line 1: {e}")))?
        .into_iter()
        .map(|h| h.trim().to_ascii_lowercase())
        .collect();
    let col = |name: &str| header.iter().position(|h| h == name);
    let (Some(pc), Some(lc)) = (col("path"), col("label")) else {
        return Err(bad(format!(
            "the header row must name 'path' and 'label' columns (found: {})",
            header.join(",")
        )));
    };
    let sc = col("split");
    let base = path.parent().unwrap_or(Path::new("."));
    let mut items = Vec::new();
    let mut classes = std::collections::BTreeSet::new();
    for (k, line) in lines {
        let fields = csv_fields(line).map_err(|e| bad(format!("line {}: {e}", k + 1)))?;
        let get = |c: usize| fields.get(c).map(|s| s.trim().to_string());
        let (Some(rel), Some(label)) = (get(pc), get(lc)) else {
            return Err(bad(format!(
                "line {}: expected {} fields, found {}",
                k + 1,
                header.len(),
                fields.len()
            )));
        };
        if rel.is_empty() || label.is_empty() {
            return Err(bad(format!("line {}: empty path or label", k + 1)));
        }
        let split = match sc.and_then(get) {
            None => None,
            Some(s) if s.is_empty() => None,
            Some(s) => Some(SplitName::parse(&s).ok_or_else(|| {
                bad(format!(
                    "line {}: unknown split '{s}'; use train, val or test",
                    k + 1
                ))
            })?),
        };
        classes.insert(label.clone());
        items.push(FileItem {
            path: base.join(&rel),
            rel,
            label,
            split,
        });
    }
    if items.is_empty() {
        return Err(bad("the manifest lists no images".into()));
    }
    Ok((items, classes.into_iter().collect()))
}

/// Load `items` at the shape `opts` asks for, in parallel. Returns the dataset of usable files
/// (ids are the items' positions, so they stay stable when files are skipped), their splits,
/// and the report. With [`OnError::Fail`] the first unusable file is an error.
///
/// `known_classes`: when given, a label outside it is reported as unknown; the dataset's class
/// list is `known_classes` (or the sorted labels seen).
pub fn load_items(
    items: &[FileItem],
    classes: &[String],
    known_classes: Option<&[String]>,
    opts: &LoadOptions,
) -> Result<(Dataset, Vec<Option<SplitName>>, LoadReport), DataError> {
    let on_error = opts.on_error;
    let class_names: Vec<String> = known_classes
        .map(|k| k.to_vec())
        .unwrap_or_else(|| classes.to_vec());
    let results: Vec<Result<(super::decode::Decoded, String), BadReason>> = items
        .par_iter()
        .map(|item| {
            if !class_names.contains(&item.label) {
                return Err(BadReason::UnknownLabel(format!(
                    "'{}' is not one of {}",
                    item.label,
                    class_names.join(", ")
                )));
            }
            let (decoded, bytes) = decode_file(&item.path, opts)?;
            let digest = Sha256::digest(&bytes);
            Ok((decoded, hex(&digest)))
        })
        .collect();
    let bytes = opts.file_shape().values();
    let mut pixels = Vec::with_capacity(items.len() * bytes);
    let (mut labels, mut ids, mut paths, mut splits) =
        (Vec::new(), Vec::new(), Vec::new(), Vec::new());
    let mut report = LoadReport::default();
    for (i, (item, result)) in items.iter().zip(results).enumerate() {
        match result {
            Ok((d, sha)) => {
                pixels.extend_from_slice(&d.pixels);
                labels.push(
                    class_names
                        .iter()
                        .position(|c| *c == item.label)
                        .expect("checked") as u32,
                );
                ids.push(i as u64);
                paths.push(item.rel.clone());
                splits.push(item.split);
                report.original_sizes.push(d.original);
                report.formats.push(d.format);
                report.source_channels.push(d.source_channels);
                report.rotated += d.rotated as usize;
                report.sha256.push(sha);
            }
            Err(reason) => {
                if on_error == OnError::Fail {
                    return Err(DataError::Malformed {
                        path: item.path.clone(),
                        problem: format!(
                            "{reason}; fix or remove the file, or use --on-error skip"
                        ),
                    });
                }
                report.skipped.push(Skipped {
                    path: item.rel.clone(),
                    reason,
                });
            }
        }
    }
    if labels.is_empty() {
        return Err(DataError::Invalid(format!(
            "none of the {} files could be used (first problem: {})",
            items.len(),
            report
                .skipped
                .first()
                .map(|s| format!("{}: {}", s.path, s.reason))
                .unwrap_or_default()
        )));
    }
    let ds = Dataset::from_pixels(opts.file_shape(), class_names, pixels, labels, ids, paths);
    Ok((ds, splits, report))
}

/// Lowercase hex of bytes.
pub fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn on_error_parses_in_any_case_and_lists_its_values() {
        for (s, want) in [
            ("skip", OnError::Skip),
            ("SKIP", OnError::Skip),
            ("fail", OnError::Fail),
            ("Fail", OnError::Fail),
        ] {
            assert_eq!(s.parse(), Ok(want), "{s}");
        }
        let e = "ignore".parse::<OnError>().unwrap_err();
        assert!(e.contains("`skip`") && e.contains("`fail`"), "{e}");
    }

    #[test]
    fn csv_fields_handle_quotes() {
        assert_eq!(csv_fields("a,b,c").unwrap(), vec!["a", "b", "c"]);
        assert_eq!(
            csv_fields("\"a,b\",\"say \"\"hi\"\"\",").unwrap(),
            vec!["a,b", "say \"hi\"", ""]
        );
        assert!(csv_fields("\"open").is_err());
        assert_eq!(
            csv_fields("ant photos.jpg,ants").unwrap(),
            vec!["ant photos.jpg", "ants"]
        );
    }

    #[test]
    fn split_names() {
        assert_eq!(SplitName::parse("Validation"), Some(SplitName::Val));
        assert_eq!(SplitName::parse("x"), None);
    }
}
