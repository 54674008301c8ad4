//! Privacy-clean export: every image decoded, its EXIF orientation baked into the pixels, and
//! re-encoded as PNG from pixels alone, so no metadata survives (EXIF with GPS position, XMP,
//! IPTC, ICC profiles, comments); files renamed to their content hash; a manifest with SHA-256
//! per file, a `SHA256SUMS` that `sha256sum -c` accepts, and a dataset card. The mapping from
//! original names is written only on request, outside the export.
//!
//! Class folders: a label that is a safe, portable folder name (letters, digits, `-`, `_`, `.`,
//! at most 64 bytes, not starting or ending with `.`, not a Windows device name such as `CON`)
//! and that no other label equals ignoring case is its own folder. Every other label (`.`,
//! `..`, `a/b`, empty, control characters, ...) gets `<cleaned>~<16 hex digits of the SHA-256
//! of the label>`, where `<cleaned>` keeps its safe characters: distinct labels always get
//! distinct folders, and the manifest and the dataset card keep the true label.
//!
//! Written atomically: into a hidden `.<name>.partial-<pid>` directory renamed into place at
//! the end.

use std::collections::{BTreeMap, BTreeSet};
use std::io::Cursor;
use std::path::{Path, PathBuf};

use rayon::prelude::*;

use super::decode::{BadReason, decode_full};
use super::files::{
    FileItem, LoadReport, OnError, Skipped, SplitName, read_manifest, scan_folder, sha256_hex,
};
use super::source::{DataSource, load_whole};
use super::{DataError, Dataset, LoadOptions};
use crate::util::escape::{escape, escape_path};

/// One exported file.
#[derive(Clone, Debug)]
pub struct ExportedFile {
    /// Path inside the export (`[split/]class/<hash>.png`).
    pub path: String,
    /// Class name.
    pub label: String,
    /// Split, when known.
    pub split: Option<SplitName>,
    /// SHA-256 of the written bytes (hex).
    pub sha256: String,
    /// Where it came from (for the optional mapping).
    pub original: String,
}

/// What an export did.
#[derive(Clone, Debug, Default)]
pub struct ExportSummary {
    /// Files written (duplicates by content appear once per row, pointing at one file).
    pub files: Vec<ExportedFile>,
    /// Files skipped, with reasons.
    pub skipped: Vec<Skipped>,
    /// Images whose EXIF orientation was applied.
    pub rotated: usize,
    /// Source files that carried EXIF / XMP / IPTC / comment metadata.
    pub had_metadata: usize,
}

fn png_bytes(img: &image::DynamicImage) -> Vec<u8> {
    let mut out = Vec::new();
    let img = match img {
        image::DynamicImage::ImageLuma8(_)
        | image::DynamicImage::ImageRgb8(_)
        | image::DynamicImage::ImageRgba8(_)
        | image::DynamicImage::ImageLumaA8(_) => img.clone(),
        other => image::DynamicImage::ImageRgba8(other.to_rgba8()),
    };
    img.write_to(&mut Cursor::new(&mut out), image::ImageFormat::Png)
        .expect("encoding a decoded image as PNG in memory cannot fail");
    out
}

/// Whether raw file bytes carry metadata blocks (EXIF, XMP, IPTC / Photoshop, comments, text).
pub fn has_metadata(bytes: &[u8]) -> bool {
    let find = |needle: &[u8]| bytes.windows(needle.len()).any(|w| w == needle);
    find(b"Exif\0")
        || find(b"http://ns.adobe.com/xap")
        || find(b"Photoshop 3.0")
        || find(b"eXIf")
        || find(b"tEXt")
        || find(b"iTXt")
        || find(b"zTXt")
        || (bytes.starts_with(&[0xFF, 0xD8]) && find(&[0xFF, 0xFE]))
}

struct Prepared {
    label: String,
    split: Option<SplitName>,
    original: String,
    png: Vec<u8>,
    rotated: bool,
    had_metadata: bool,
}

/// An image file made privacy-clean: decoded, its EXIF orientation applied, re-encoded as PNG
/// from its pixels alone.
#[derive(Clone, Debug)]
pub struct CleanImage {
    /// The PNG bytes.
    pub png: Vec<u8>,
    /// Width of the written image (after orientation), pixels.
    pub width: u32,
    /// Height of the written image (after orientation), pixels.
    pub height: u32,
    /// Whether an EXIF orientation was applied.
    pub rotated: bool,
    /// Whether the source file carried metadata ([`has_metadata`]).
    pub had_metadata: bool,
}

/// Read the image file at `path` (decoding at most `max_pixels`) and make it clean
/// ([`CleanImage`]).
pub fn clean_image(path: &Path, max_pixels: u64) -> Result<CleanImage, BadReason> {
    let bytes = crate::util::fs::read_regular(path).map_err(|e| {
        if e.kind() == std::io::ErrorKind::NotFound {
            BadReason::Missing
        } else {
            BadReason::Unreadable(e.to_string())
        }
    })?;
    let (img, _, rotated) = decode_full(&bytes, max_pixels)?;
    Ok(CleanImage {
        png: png_bytes(&img),
        width: img.width(),
        height: img.height(),
        rotated,
        had_metadata: has_metadata(&bytes),
    })
}

/// The first 16 hex digits of the SHA-256 of `bytes` and the whole digest in hex: the exported
/// file's name stem and its checksum.
pub fn content_name(bytes: &[u8]) -> (String, String) {
    let sha = sha256_hex(bytes);
    (sha[..16].to_string(), sha)
}

fn prepare_files(items: &[FileItem], opts: &LoadOptions) -> Vec<Result<Prepared, Skipped>> {
    items
        .par_iter()
        .map(|item| {
            let clean = clean_image(&item.path, opts.max_pixels).map_err(|reason| Skipped {
                path: item.rel.clone(),
                reason,
            })?;
            Ok(Prepared {
                label: item.label.clone(),
                split: item.split,
                original: item.rel.clone(),
                png: clean.png,
                rotated: clean.rotated,
                had_metadata: clean.had_metadata,
            })
        })
        .collect()
}

fn prepare_dataset(data: &Dataset, splits: &[Option<SplitName>]) -> Vec<Result<Prepared, Skipped>> {
    (0..data.len())
        .into_par_iter()
        .map(|i| {
            let (w, h) = (data.shape.width as u32, data.shape.height as u32);
            let px = data.image(i).to_vec();
            let img = if data.shape.channels == 1 {
                image::DynamicImage::ImageLuma8(
                    image::GrayImage::from_raw(w, h, px).expect("record size"),
                )
            } else {
                image::DynamicImage::ImageRgb8(
                    image::RgbImage::from_raw(w, h, px).expect("record size"),
                )
            };
            Ok(Prepared {
                label: data.class_names[data.labels[i] as usize].clone(),
                split: splits[i],
                original: if data.paths[i].is_empty() {
                    format!("#{}", data.ids[i])
                } else {
                    data.paths[i].clone()
                },
                png: png_bytes(&img),
                rotated: false,
                had_metadata: false,
            })
        })
        .collect()
}

/// Longest label used as a folder name as it is (bytes).
const MAX_PLAIN_FOLDER: usize = 64;

fn is_folder_char(c: char) -> bool {
    c.is_alphanumeric() || c == '-' || c == '_' || c == '.'
}

/// Whether `label` can be a folder name as it is on every common file system.
fn is_plain_folder(label: &str) -> bool {
    const DEVICES: [&str; 22] = [
        "con", "prn", "aux", "nul", "com1", "com2", "com3", "com4", "com5", "com6", "com7", "com8",
        "com9", "lpt1", "lpt2", "lpt3", "lpt4", "lpt5", "lpt6", "lpt7", "lpt8", "lpt9",
    ];
    let stem = label.split('.').next().unwrap_or("").to_ascii_lowercase();
    !label.is_empty()
        && label.len() <= MAX_PLAIN_FOLDER
        && label.chars().all(is_folder_char)
        && !label.starts_with('.')
        && !label.ends_with('.')
        && !DEVICES.contains(&stem.as_str())
}

/// The folder of each label: safe single path components, distinct for distinct labels even
/// on case-insensitive file systems (see the module docs for the rule).
pub fn class_folders<'a>(
    labels: impl IntoIterator<Item = &'a str>,
) -> Result<BTreeMap<String, String>, DataError> {
    let labels: BTreeSet<&str> = labels.into_iter().collect();
    let mut folded: BTreeMap<String, usize> = BTreeMap::new();
    for l in &labels {
        *folded.entry(l.to_lowercase()).or_default() += 1;
    }
    let mut out = BTreeMap::new();
    let mut taken: BTreeMap<String, &str> = BTreeMap::new();
    for &label in &labels {
        let folder = if is_plain_folder(label) && folded[&label.to_lowercase()] == 1 {
            label.to_string()
        } else {
            let cleaned: String = label
                .chars()
                .filter(|&c| is_folder_char(c))
                .take(MAX_PLAIN_FOLDER)
                .collect();
            let cleaned = match cleaned.trim_matches('.') {
                "" => "class",
                c => c,
            };
            let sha = sha256_hex(label.as_bytes());
            format!("{cleaned}~{}", &sha[..16])
        };
        if let Some(other) = taken.insert(folder.to_lowercase(), label) {
            return Err(DataError::Invalid(format!(
                "class labels '{}' and '{}' would share the folder '{}'; rename one",
                escape(other),
                escape(label),
                escape(&folder)
            )));
        }
        out.insert(label.to_string(), folder);
    }
    Ok(out)
}

/// Export `source` to `out`. `mapping`: where to write `original,exported` pairs, if anywhere.
pub fn export(
    source: &DataSource,
    opts: &LoadOptions,
    seed: u64,
    out: &Path,
    mapping: Option<&Path>,
    name: &str,
) -> Result<ExportSummary, DataError> {
    check_targets(out, mapping)?;
    let prepared = match source {
        DataSource::Folder(dir) => prepare_files(&scan_folder(dir)?.0, opts),
        DataSource::Manifest(path) => prepare_files(&read_manifest(path)?.0, opts),
        other => {
            let whole = load_whole(other, opts, seed)?;
            prepare_dataset(&whole.data, &whole.splits)
        }
    };
    let folders = class_folders(
        prepared
            .iter()
            .filter_map(|p| p.as_ref().ok().map(|p| p.label.as_str())),
    )?;
    let (summary, payload) = name_files(prepared, &folders, opts.on_error)?;
    publish(out, &summary, &payload, &folders, name)?;
    if let Some(m) = mapping {
        write_mapping(m, &summary)?;
    }
    Ok(summary)
}

/// Refuse an existing `out`, and a mapping file inside the export (it would de-anonymize it).
pub fn check_targets(out: &Path, mapping: Option<&Path>) -> Result<(), DataError> {
    if out.exists() {
        return Err(DataError::Invalid(format!(
            "{} already exists; remove it or choose another --out",
            escape_path(out)
        )));
    }
    if let Some(m) = mapping
        && m.starts_with(out)
    {
        return Err(DataError::Invalid(format!(
            "--keep-mapping {} is inside the export; keep the mapping outside it so the export stays anonymous",
            escape_path(m)
        )));
    }
    Ok(())
}

/// Name every prepared image by its content hash (`[split/]class/<hash>.png`): the summary and
/// the bytes per exported path (exact duplicates share one). A skipped file stops the export
/// under `OnError::Fail`; no usable image at all is an error.
fn name_files(
    prepared: Vec<Result<Prepared, Skipped>>,
    folders: &BTreeMap<String, String>,
    on_error: OnError,
) -> Result<(ExportSummary, BTreeMap<String, Vec<u8>>), DataError> {
    let mut summary = ExportSummary::default();
    let mut payload: BTreeMap<String, Vec<u8>> = BTreeMap::new();
    for p in prepared {
        match p {
            Ok(p) => {
                let (stem, sha) = content_name(&p.png);
                let class = &folders[&p.label];
                let path = match p.split {
                    Some(s) => format!("{s}/{class}/{stem}.png"),
                    None => format!("{class}/{stem}.png"),
                };
                summary.rotated += p.rotated as usize;
                summary.had_metadata += p.had_metadata as usize;
                payload.entry(path.clone()).or_insert(p.png);
                summary.files.push(ExportedFile {
                    path,
                    label: p.label,
                    split: p.split,
                    sha256: sha,
                    original: p.original,
                });
            }
            Err(s) => {
                if on_error == OnError::Fail {
                    return Err(DataError::Invalid(format!(
                        "{}: {}; fix or remove the file, or use --on-error skip",
                        escape(&s.path),
                        s.reason
                    )));
                }
                summary.skipped.push(s);
            }
        }
    }
    if summary.files.is_empty() {
        return Err(DataError::Invalid(
            "nothing to export: no usable image".into(),
        ));
    }
    Ok((summary, payload))
}

/// Write the export into a temporary sibling of `out` and move it into place in one rename;
/// on failure nothing is left behind.
fn publish(
    out: &Path,
    summary: &ExportSummary,
    payload: &BTreeMap<String, Vec<u8>>,
    folders: &BTreeMap<String, String>,
    name: &str,
) -> Result<(), DataError> {
    let tmp =
        crate::util::fs::PartialDir::create(out).map_err(|e| DataError::Invalid(e.to_string()))?;
    write_export(tmp.path(), summary, payload, folders, name)?;
    tmp.publish(out).map_err(|e| {
        DataError::Invalid(format!(
            "cannot move the export into {}: {e}",
            escape_path(out)
        ))
    })
}

/// The `original,exported` mapping, written atomically to `path` (outside the export).
fn write_mapping(path: &Path, summary: &ExportSummary) -> Result<(), DataError> {
    let mut text = crate::csv::Writer::new(["original", "exported"]);
    for f in &summary.files {
        text.row([&f.original, &f.path]);
    }
    crate::util::fs::write_atomic(path, &text.finish())
        .map_err(|e| DataError::Invalid(e.to_string()))
}

fn write_export(
    dir: &Path,
    summary: &ExportSummary,
    payload: &BTreeMap<String, Vec<u8>>,
    folders: &BTreeMap<String, String>,
    name: &str,
) -> Result<(), DataError> {
    let io = |p: &Path| {
        let p: PathBuf = p.to_path_buf();
        move |e: std::io::Error| {
            DataError::Invalid(format!("cannot write {}: {e}", escape_path(&p)))
        }
    };
    for (rel, bytes) in payload {
        let path = dir.join(rel);
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent).map_err(io(parent))?;
        }
        std::fs::write(&path, bytes).map_err(io(&path))?;
    }
    let mut manifest = crate::csv::Writer::new(["path", "label", "split", "sha256"]);
    for f in &summary.files {
        manifest.row([
            f.path.as_str(),
            &f.label,
            f.split.map(|s| s.as_str()).unwrap_or(""),
            &f.sha256,
        ]);
    }
    std::fs::write(dir.join("manifest.csv"), manifest.finish())
        .map_err(io(&dir.join("manifest.csv")))?;
    let mut sums = String::new();
    let unique: BTreeSet<(&str, &str)> = summary
        .files
        .iter()
        .map(|f| (f.path.as_str(), f.sha256.as_str()))
        .collect();
    for (path, sha) in unique {
        sums.push_str(&format!("{sha}  {path}\n"));
    }
    std::fs::write(dir.join("SHA256SUMS"), sums).map_err(io(&dir.join("SHA256SUMS")))?;
    std::fs::write(dir.join("README.md"), card(summary, folders, name))
        .map_err(io(&dir.join("README.md")))?;
    Ok(())
}

/// A label in a Markdown table cell: control characters escaped, `|` and `\\` backslashed.
fn cell(label: &str) -> String {
    escape(label).replace('\\', "\\\\").replace('|', "\\|")
}

fn card(s: &ExportSummary, folders: &BTreeMap<String, String>, name: &str) -> String {
    let mut classes: BTreeSet<&str> = BTreeSet::new();
    let mut splits: BTreeSet<String> = BTreeSet::new();
    let mut counts: BTreeMap<(String, &str), usize> = BTreeMap::new();
    for f in &s.files {
        classes.insert(&f.label);
        let split = f
            .split
            .map(|x| x.to_string())
            .unwrap_or_else(|| "(none)".into());
        splits.insert(split.clone());
        *counts.entry((split, &f.label)).or_default() += 1;
    }
    let unique: BTreeSet<&str> = s.files.iter().map(|f| f.path.as_str()).collect();
    let mut out = format!(
        "# Dataset card: {name}\n\nExported by augtrain {} on {}.\n\n{} images in {} files ({} exact duplicates share a file), {} classes.\n\n",
        env!("CARGO_PKG_VERSION"),
        crate::util::time::iso8601_now(),
        s.files.len(),
        unique.len(),
        s.files.len() - unique.len(),
        classes.len()
    );
    out.push_str("## Images per class and split\n\n| class |");
    for sp in &splits {
        out.push_str(&format!(" {sp} |"));
    }
    out.push_str(" total |\n|---|");
    for _ in &splits {
        out.push_str("---:|");
    }
    out.push_str("---:|\n");
    for c in &classes {
        out.push_str(&format!("| {} |", cell(c)));
        let mut total = 0;
        for sp in &splits {
            let n = counts.get(&(sp.clone(), *c)).copied().unwrap_or(0);
            total += n;
            out.push_str(&format!(" {n} |"));
        }
        out.push_str(&format!(" {total} |\n"));
    }
    out.push_str(&format!(
        "\n## What was removed or changed\n\n\
         - Every image was decoded and re-encoded as PNG from its pixels alone, so no metadata was carried over: EXIF (including GPS position, camera make and model, timestamps and thumbnails), XMP, IPTC / Photoshop blocks, ICC profiles, and text comments or chunks. {} source files carried such metadata.\n\
         - EXIF orientation was applied to the pixels first ({} images rotated or flipped), so images look as they did.\n\
         - File names were replaced by the first 16 hex digits of the SHA-256 of the exported file; no mapping to the original names is part of this export.\n\
         - `SHA256SUMS` lists every file (`sha256sum -c SHA256SUMS` checks them); `manifest.csv` lists path, label, split and SHA-256 per image.\n",
        s.had_metadata, s.rotated
    ));
    let renamed: Vec<(&String, &String)> = folders.iter().filter(|(l, f)| l != f).collect();
    if !renamed.is_empty() {
        out.push_str(
            "\n## Class folders\n\nA class whose name is not a safe, portable folder name (or equals another ignoring case) is stored in `<its safe characters>~<16 hex digits of the SHA-256 of the name>`; `manifest.csv` gives every image's true label.\n\n| class | folder |\n|---|---|\n",
        );
        for (label, folder) in renamed {
            out.push_str(&format!("| {} | {} |\n", cell(label), folder));
        }
    }
    if !s.skipped.is_empty() {
        out.push_str(&format!("\n## Skipped files ({})\n\n", s.skipped.len()));
        for k in &s.skipped {
            out.push_str(&format!("- {}: {}\n", escape(&k.path), k.reason));
        }
    }
    out
}

/// Used by `inspect` and friends: the load report of a source (`seed` keys generated data).
pub fn report_of(
    source: &DataSource,
    opts: &LoadOptions,
    seed: u64,
) -> Result<LoadReport, DataError> {
    Ok(load_whole(source, opts, seed)?.report)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_label_gets_a_safe_distinct_folder() {
        let labels = [
            ".", "..", "", "a/b", "a_b", "ants", "Bees", "bees", "con", "x\0y", "é t", "...",
        ];
        let folders = class_folders(labels).unwrap();
        assert_eq!(folders["ants"], "ants");
        assert_eq!(folders["a_b"], "a_b");
        let mut seen = BTreeSet::new();
        for l in labels {
            let f = &folders[l];
            assert!(seen.insert(f.to_lowercase()), "{l:?} -> {f} is shared");
            assert!(
                !f.is_empty() && f != "." && f != ".." && !f.starts_with('.'),
                "{l:?} -> {f}"
            );
            assert!(
                f.chars().all(|c| is_folder_char(c) || c == '~'),
                "{l:?} -> {f}"
            );
        }
        for l in [".", "..", "a/b", "Bees", "bees", "con", "é t"] {
            assert!(folders[l].contains('~'), "{l:?} -> {}", folders[l]);
        }
        assert!(folders["a/b"].starts_with("ab~"), "{}", folders["a/b"]);
    }

    /// Labels `.`, `..` and `a/b` from a manifest: before folders were made distinct, `.` and
    /// `..` both went to `class/` and `a/b` to `a_b/`, the folder of the label `a_b`.
    #[test]
    fn export_keeps_dot_labels_apart_and_the_manifest_keeps_true_labels() {
        let dir = std::env::temp_dir().join(format!("augtrain-export-dots-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        let labels = [".", "..", "a/b", "a_b"];
        let mut manifest = crate::csv::Writer::new(["path", "label"]);
        for (k, label) in labels.iter().enumerate() {
            let name = format!("{k}.png");
            image::RgbImage::from_pixel(4, 4, image::Rgb([40 * k as u8, 7, 9]))
                .save(dir.join(&name))
                .unwrap();
            manifest.row([name.as_str(), label]);
        }
        std::fs::write(dir.join("m.csv"), manifest.finish()).unwrap();
        let out = dir.join("out");
        let summary = export(
            &DataSource::Manifest(dir.join("m.csv")),
            &LoadOptions::default(),
            1,
            &out,
            None,
            "t",
        )
        .unwrap();
        let folders: BTreeSet<&str> = summary
            .files
            .iter()
            .map(|f| f.path.split('/').next().unwrap())
            .collect();
        assert_eq!(folders.len(), 4, "{folders:?}");
        for f in &summary.files {
            assert!(out.join(&f.path).is_file(), "{}", f.path);
            assert_eq!(Path::new(&f.path).components().count(), 2, "{}", f.path);
        }
        let (items, _) = read_manifest(&out.join("manifest.csv")).unwrap();
        let mut back: Vec<&str> = items.iter().map(|i| i.label.as_str()).collect();
        back.sort();
        assert_eq!(back, vec![".", "..", "a/b", "a_b"]);
        let card = std::fs::read_to_string(out.join("README.md")).unwrap();
        assert!(
            card.contains("## Class folders") && card.contains("| .. |"),
            "{card}"
        );
    }
}
