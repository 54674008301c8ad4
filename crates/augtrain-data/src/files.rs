//! Image files as a dataset: image-folder layouts, CSV manifests, and loading a list of files
//! in parallel with per-file error reports.
//!
//! Layouts: `root/<class>/**` (no split) or `root/{train,val,test}/<class>/**`, files in
//! sub-folders of a class folder belonging to that class. Manifests: CSV
//! `path,label[,split]` with a header row; paths are relative to the manifest's directory and
//! written as path text ([`crate::util::path_text`]), so any file name reads back exactly.
//! Files whose name starts with `.` are ignored; every other file is tried, and one that cannot
//! be used is reported with its reason (and skipped, or stops the load with `--on-error fail`).

use std::path::{Path, PathBuf};

use rayon::prelude::*;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use super::decode::{BadReason, decode_file};
use super::{DataError, Dataset, LoadOptions};
use crate::util::escape::escape;
use crate::util::path_text;

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
    /// Its name relative to the dataset root as path text ([`path_text`]), for reports and
    /// split files.
    pub rel: String,
    /// Its class name.
    pub label: String,
    /// Its split, when the layout or manifest names one.
    pub split: Option<SplitName>,
}

/// A file that was not used, and why.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Skipped {
    /// The file, relative to the dataset root, as path text ([`path_text`]).
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

/// Every non-hidden file under `root`, searched recursively (hidden directories skipped), in
/// sorted order, with its path relative to `root` as path text ([`path_text::encode`]).
/// Symbolic links are followed, but a directory already being walked or walked before (a link
/// loop, or two links to one folder) is not entered again, and a file reached twice (through
/// links or hard links) is listed once, at its first path.
pub fn files_under(root: &Path) -> Result<Vec<(PathBuf, String)>, DataError> {
    struct Walk<'a> {
        root: &'a Path,
        seen_dirs: std::collections::HashSet<FileKey>,
        seen_files: std::collections::HashSet<FileKey>,
        out: Vec<(PathBuf, String)>,
    }
    fn walk(dir: &Path, w: &mut Walk) -> Result<(), DataError> {
        for entry in sorted_entries(dir)? {
            let path = entry.path();
            let Ok(meta) = std::fs::metadata(&path) else {
                // A broken link: listed, so that loading reports it as missing.
                w.out.push(listed(&path, w.root));
                continue;
            };
            if meta.is_dir() {
                if w.seen_dirs.insert(file_key(&path, &meta)) {
                    walk(&path, w)?;
                }
            } else if w.seen_files.insert(file_key(&path, &meta)) {
                w.out.push(listed(&path, w.root));
            }
        }
        Ok(())
    }
    fn listed(path: &Path, root: &Path) -> (PathBuf, String) {
        let rel = path_text::encode(path.strip_prefix(root).unwrap_or(path));
        (path.to_path_buf(), rel)
    }
    let mut w = Walk {
        root,
        seen_dirs: std::collections::HashSet::new(),
        seen_files: std::collections::HashSet::new(),
        out: Vec::new(),
    };
    if let Ok(meta) = std::fs::metadata(root) {
        w.seen_dirs.insert(file_key(root, &meta));
    }
    walk(root, &mut w)?;
    Ok(w.out)
}

/// What identifies a file or directory whatever the path to it: (device, inode) on Unix, the
/// canonical path elsewhere.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
enum FileKey {
    #[cfg_attr(not(unix), allow(dead_code))]
    Inode(u64, u64),
    #[cfg_attr(unix, allow(dead_code))]
    Path(PathBuf),
}

#[cfg(unix)]
fn file_key(_path: &Path, meta: &std::fs::Metadata) -> FileKey {
    use std::os::unix::fs::MetadataExt;
    FileKey::Inode(meta.dev(), meta.ino())
}

#[cfg(not(unix))]
fn file_key(path: &Path, _meta: &std::fs::Metadata) -> FileKey {
    FileKey::Path(std::fs::canonicalize(path).unwrap_or_else(|_| path.to_path_buf()))
}

/// Whether `dir` is an image-folder dataset (has class subdirectories).
pub fn looks_like_folder(dir: &Path) -> bool {
    class_dirs(dir).map(|c| !c.is_empty()).unwrap_or(false)
}

/// Scan an image-folder layout into items (sorted by split, class, file path) and class names.
///
/// The class of a file is the top-level folder it is under (below the split folder in the
/// split layout), however deep it sits: `root/red/sub/a.png` is a `red` image, as in
/// torchvision's `ImageFolder`. Hidden files and folders are skipped; every other file is
/// tried (an unusable one is reported when loading, where `ImageFolder` would silently pass
/// over files without an image extension). A class folder holding no file is still a class
/// (with no images), so that `inspect` shows it and training refuses it.
pub fn scan_folder(root: &Path) -> Result<(Vec<FileItem>, Vec<String>), DataError> {
    let top = class_dirs(root)?;
    let split_layout =
        !top.is_empty() && top.iter().all(|(name, _)| SplitName::parse(name).is_some());
    let groups: Vec<(Option<SplitName>, PathBuf, PathBuf)> = if split_layout {
        top.iter()
            .map(|(name, path)| {
                let dir_name = path.file_name().map(PathBuf::from).unwrap_or_default();
                (SplitName::parse(name), path.clone(), dir_name)
            })
            .collect()
    } else {
        vec![(None, root.to_path_buf(), PathBuf::new())]
    };
    let mut items = Vec::new();
    let mut classes = std::collections::BTreeSet::new();
    for (split, dir, prefix) in groups {
        for (class, class_dir) in class_dirs(&dir)? {
            classes.insert(class.clone());
            let class_rel = prefix.join(class_dir.file_name().unwrap_or_default());
            // Every file below the class folder, sub-folders included, is of that class (as
            // torchvision's `ImageFolder` takes them).
            for (path, _) in files_under(&class_dir)? {
                let inside = path.strip_prefix(&class_dir).unwrap_or(&path);
                items.push(FileItem {
                    rel: path_text::encode(&class_rel.join(inside)),
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
/// `path`'s directory. Fields are trimmed (hand-written `a.png, ants`); every row must have the
/// header's number of fields.
pub fn parse_manifest(
    path: &Path,
    bytes: Vec<u8>,
) -> Result<(Vec<FileItem>, Vec<String>), DataError> {
    let table = crate::csv::Table::parse(path, &bytes)?;
    let (Some(pc), Some(lc)) = (table.column("path"), table.column("label")) else {
        return Err(table.file_error(format!(
            "the header row must name 'path' and 'label' columns (found: {})",
            escape(&table.header().join(","))
        )));
    };
    let sc = table.column("split");
    let base = path.parent().unwrap_or(Path::new("."));
    let mut items = Vec::new();
    let mut classes = std::collections::BTreeSet::new();
    for row in table.rows() {
        let get = |c: usize| row.fields[c].trim().to_string();
        let (rel, label) = (get(pc), get(lc));
        if rel.is_empty() || label.is_empty() {
            return Err(table.error(row, "empty path or label"));
        }
        let split = match sc.map(get) {
            None => None,
            Some(s) if s.is_empty() => None,
            Some(s) => Some(SplitName::parse(&s).ok_or_else(|| {
                table.error(
                    row,
                    format!("unknown split '{}'; use train, val or test", escape(&s)),
                )
            })?),
        };
        classes.insert(label.clone());
        // The canonical text of the file named, so that a split file made from this manifest
        // matches one made from the same files in a folder.
        let file = path_text::decode(&rel);
        items.push(FileItem {
            rel: path_text::encode(&file),
            path: base.join(file),
            label,
            split,
        });
    }
    if items.is_empty() {
        return Err(table.file_error("the manifest lists no images"));
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
    crate::util::progress::start("loading", items.len());
    let results: Vec<Result<(super::decode::Decoded, String), BadReason>> = items
        .par_iter()
        .map(|item| {
            let result = if !class_names.contains(&item.label) {
                Err(BadReason::UnknownLabel(format!(
                    "'{}' is not one of {}",
                    escape(&item.label),
                    escape(&class_names.join(", "))
                )))
            } else {
                decode_file(&item.path, opts).map(|(decoded, bytes)| {
                    let digest = Sha256::digest(&bytes);
                    (decoded, hex(&digest))
                })
            };
            crate::util::progress::advance(1);
            result
        })
        .collect();
    crate::util::progress::finish();
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
                .map(|s| format!("{}: {}", escape(&s.path), s.reason))
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

/// SHA-256 of `bytes`, as lowercase hex.
pub fn sha256_hex(bytes: &[u8]) -> String {
    use sha2::{Digest, Sha256};
    hex(&Sha256::digest(bytes))
}

#[cfg(test)]
mod tests {
    #[cfg(unix)]
    #[test]
    fn link_loops_are_walked_once_and_files_listed_once() {
        use std::os::unix::fs::symlink;
        let root = std::env::temp_dir().join(format!("augtrain-walk-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&root);
        std::fs::create_dir_all(root.join("a/b")).unwrap();
        std::fs::write(root.join("a/b/x.png"), b"x").unwrap();
        std::fs::write(root.join("y.png"), b"y").unwrap();
        symlink(&root, root.join("a/b/loop")).unwrap(); // back to the root
        symlink(root.join("a"), root.join("c")).unwrap(); // a second way into a/
        symlink(root.join("y.png"), root.join("z.png")).unwrap(); // y.png again
        symlink(root.join("gone.png"), root.join("broken.png")).unwrap();
        let started = std::time::Instant::now();
        let rels: Vec<String> = super::files_under(&root)
            .unwrap()
            .into_iter()
            .map(|(_, r)| r)
            .collect();
        assert!(started.elapsed().as_secs() < 5);
        assert_eq!(rels, ["a/b/x.png", "broken.png", "y.png"], "{rels:?}");
        std::fs::remove_dir_all(&root).unwrap();
    }

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
    fn manifests_read_quoted_fields_and_refuse_ragged_rows() {
        let m = Path::new("/data/m.csv");
        let text = "path,label,split\n\"a, \"\"b\"\"\nc.png\",ants,train\n raw:%20d.png , bees ,\n";
        let (items, classes) = parse_manifest(m, text.as_bytes().to_vec()).unwrap();
        assert_eq!(items[0].rel, "a, \"b\"\nc.png");
        assert_eq!(items[0].path, Path::new("/data/a, \"b\"\nc.png"));
        assert_eq!(
            items[1].path,
            Path::new("/data/ d.png"),
            "escaped leading space kept"
        );
        assert_eq!(items[1].split, None);
        assert_eq!(classes, vec!["ants", "bees"]);
        let e = parse_manifest(m, b"path,label\na.png,ants\nb.png\n".to_vec())
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("m.csv: line 3:") && e.contains("1 field(s)"),
            "{e}"
        );
        let e = parse_manifest(m, b"path,label\na.png,ants,extra\n".to_vec())
            .unwrap_err()
            .to_string();
        assert!(e.contains("line 2: 3 field(s)"), "{e}");
    }

    #[test]
    fn files_in_sub_folders_of_a_class_folder_belong_to_that_class() {
        let root = std::env::temp_dir().join(format!("augtrain-nested-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&root);
        for dir in ["red/sub/deeper", "red/.hidden", "blue", "green"] {
            std::fs::create_dir_all(root.join(dir)).unwrap();
        }
        for file in [
            "red/sub/a.png",
            "red/sub/deeper/b.png",
            "red/.hidden/c.png",
            "red/.d.png",
            "blue/e.png",
        ] {
            std::fs::write(root.join(file), b"x").unwrap();
        }
        let (items, classes) = scan_folder(&root).unwrap();
        let got: Vec<(&str, &str)> = items
            .iter()
            .map(|i| (i.rel.as_str(), i.label.as_str()))
            .collect();
        assert_eq!(
            got,
            [
                ("blue/e.png", "blue"),
                ("red/sub/a.png", "red"),
                ("red/sub/deeper/b.png", "red")
            ]
        );
        assert_eq!(items[2].path, root.join("red/sub/deeper/b.png"));
        // An empty class folder is still a class, with no files.
        assert_eq!(classes, ["blue", "green", "red"]);
        std::fs::remove_dir_all(&root).unwrap();
    }

    #[test]
    fn split_names() {
        assert_eq!(SplitName::parse("Validation"), Some(SplitName::Val));
        assert_eq!(SplitName::parse("x"), None);
    }
}
