//! `augtrain export` on annotated data: a privacy-clean copy of the annotated images and their
//! annotations, in the input's format, written whole or not at all.
//!
//! Every annotated image is decoded, its EXIF orientation applied, and re-encoded as PNG from
//! its pixels alone ([`crate::data::export::clean_image`]), named by its content hash:
//! `images/<16 hex digits>.png`. The annotations are rewritten to those names with ids
//! renumbered and annotators replaced by pseudonyms unless `--keep-annotators`
//! ([`augtrain_annotations::export`] lists what is dropped), then written by the input format's
//! writer at the top of the export (YOLO: `labels/` and `data.yaml`, its images in `images/`).
//! `SHA256SUMS` covers every file; `README.md` says what was removed.
//!
//! Annotations are taken to refer to the image as displayed, EXIF orientation applied (as
//! browser-based tools show it). An image whose annotated size differs from its size after
//! orientation is refused rather than guessed about.

use std::collections::HashSet;
use std::path::Path;
use std::sync::Mutex;

use augtrain_annotations::export::{Anonymized, ExportedName, anonymize};
use augtrain_annotations::formats::{self, Format};
use augtrain_annotations::input::AnnotatedInput;
use augtrain_run::run_dir::OutputDir;
use rayon::prelude::*;

use crate::Error;
use crate::data::DataError;
use crate::data::decode::BadReason;
use crate::data::export::{check_targets, clean_image, content_name};
use crate::data::files::OnError;
use crate::util::escape::{escape, escape_path};

/// What `export` on annotated data was asked.
pub struct AnnotatedExport<'a> {
    /// The annotations and their format.
    pub input: &'a AnnotatedInput,
    /// The export directory to create (must not exist).
    pub out: &'a Path,
    /// Where to write the `original,exported` mapping, outside the export.
    pub mapping: Option<&'a Path>,
    /// Keep annotator names instead of pseudonyms.
    pub keep_annotators: bool,
    /// What a missing or unreadable image does: stop the export, or drop it and its objects.
    pub on_error: OnError,
    /// Largest image decoded, pixels.
    pub max_pixels: u64,
    /// Print nothing but errors.
    pub quiet: bool,
}

/// One distinct source image after cleaning.
struct Cleaned {
    name: ExportedName,
    sha256: String,
    rotated: bool,
    had_metadata: bool,
}

/// Export annotated data (see the module docs).
pub fn run(args: &AnnotatedExport) -> crate::Result<()> {
    check_targets(args.out, args.mapping)?;
    let input = args.input;
    let read = input.read()?;
    let d = &read.dataset;
    let root = input.image_root();
    let out = OutputDir::claim(Some(args.out), Path::new("."), "export", false)?;
    let sources: Vec<&str> = d
        .images
        .iter()
        .map(|i| i.file_name.trim_start_matches("./"))
        .collect();
    let cleaned = clean_all(&out, &root, &sources, input.format, args.max_pixels)?;
    let mut names = Vec::with_capacity(d.images.len());
    let mut skipped = Vec::new();
    for ((image, source), result) in d.images.iter().zip(&sources).zip(&cleaned) {
        match result {
            Ok(c) => {
                check_size(&input.annotations, image, &c.name)?;
                names.push(Some(c.name.clone()));
            }
            Err(reason) if args.on_error == OnError::Skip => {
                skipped.push(format!("{}: {reason}", escape(source)));
                names.push(None);
            }
            Err(reason) => {
                return Err(Error::Data(DataError::Invalid(format!(
                    "{}: {reason}; fix or remove the file, or use --on-error skip",
                    escape_path(&root.join(source))
                ))));
            }
        }
    }
    let clean = anonymize(d, &names, args.keep_annotators);
    if clean.dataset.images.is_empty() {
        return Err(Error::Data(DataError::Invalid(
            "nothing to export: no usable image".into(),
        )));
    }
    let written = formats::write(input.format, &clean.dataset)?;
    let mut sums: Vec<(String, String)> = Vec::new();
    for c in cleaned.iter().flatten() {
        sums.push((
            c.sha256.clone(),
            image_path(input.format, &c.name.file_name),
        ));
    }
    for file in &written.files {
        out.write(&file.path, &file.bytes)?;
        sums.push((content_name(&file.bytes).1, file.path.clone()));
    }
    sums.sort_by(|a, b| a.1.cmp(&b.1));
    sums.dedup();
    let text: String = sums.iter().map(|(s, p)| format!("{s}  {p}\n")).collect();
    out.write("SHA256SUMS", text.as_bytes())?;
    out.write(
        "README.md",
        card(args, &cleaned, &clean, &skipped).as_bytes(),
    )?;
    let path = out.publish()?;
    if let Some(m) = args.mapping {
        write_mapping(m, &sources, &names)?;
    }
    for (what, n) in written.losses.iter() {
        warn!("lost in {}: {n} {what}", input.format);
    }
    if !args.quiet {
        say!(
            "exported {} images ({} objects) to {} in {} format ({} carried metadata, {} rotated by EXIF orientation, {} merged as exact duplicates, {} skipped)",
            clean.dataset.images.len(),
            clean.dataset.object_count(),
            escape_path(&path),
            input.format,
            cleaned.iter().flatten().filter(|c| c.had_metadata).count(),
            cleaned.iter().flatten().filter(|c| c.rotated).count(),
            clean.merged,
            skipped.len()
        );
        for s in &skipped {
            say!("  skipped {s}");
        }
    }
    Ok(())
}

/// Clean every source image in parallel and write each distinct result once into `out`
/// (`images/<hash>.png`); one result per entry of `sources`, in order.
fn clean_all(
    out: &OutputDir,
    root: &Path,
    sources: &[&str],
    format: Format,
    max_pixels: u64,
) -> crate::Result<Vec<Result<Cleaned, BadReason>>> {
    let written: Mutex<HashSet<String>> = Mutex::new(HashSet::new());
    let results: Vec<crate::Result<Result<Cleaned, BadReason>>> = sources
        .par_iter()
        .map(|source| {
            let clean = match clean_image(&root.join(source), max_pixels) {
                Ok(c) => c,
                Err(reason) => return Ok(Err(reason)),
            };
            let (stem, sha256) = content_name(&clean.png);
            let file_name = match format {
                // YOLO's image names are relative to images/ beside labels/.
                Format::Yolo => format!("{stem}.png"),
                _ => format!("images/{stem}.png"),
            };
            let first = written
                .lock()
                .expect("no panic while holding the lock")
                .insert(stem);
            if first {
                out.write(&image_path(format, &file_name), &clean.png)?;
            }
            Ok(Ok(Cleaned {
                name: ExportedName {
                    file_name,
                    width: clean.width,
                    height: clean.height,
                },
                sha256,
                rotated: clean.rotated,
                had_metadata: clean.had_metadata,
            }))
        })
        .collect();
    results.into_iter().collect()
}

/// Where an exported image name lies inside the export.
fn image_path(format: Format, file_name: &str) -> String {
    match format {
        Format::Yolo => format!("images/{file_name}"),
        _ => file_name.to_string(),
    }
}

/// Refuse an image whose annotated size is not its size after EXIF orientation (0×0: unknown,
/// taken from the image).
fn check_size(
    annotations: &Path,
    image: &augtrain_annotations::Image,
    name: &ExportedName,
) -> crate::Result<()> {
    let known = image.width > 0 && image.height > 0;
    if known && (image.width, image.height) != (name.width, name.height) {
        return Err(Error::Data(DataError::Invalid(format!(
            "{}: image {} is annotated as {}x{} but is {}x{} after its EXIF orientation; fix its size in the annotations (export does not guess which orientation they use)",
            escape_path(annotations),
            escape(&image.file_name),
            image.width,
            image.height,
            name.width,
            name.height
        ))));
    }
    Ok(())
}

/// The `original,exported` mapping, written atomically outside the export.
fn write_mapping(
    path: &Path,
    sources: &[&str],
    names: &[Option<ExportedName>],
) -> crate::Result<()> {
    let mut text = crate::data::csv::Writer::new(["original", "exported"]);
    for (source, name) in sources.iter().zip(names) {
        if let Some(name) = name {
            text.row([*source, name.file_name.as_str()]);
        }
    }
    Ok(crate::util::fs::write_atomic(path, &text.finish())?)
}

/// The export's `README.md`: counts, and what was removed or changed.
fn card(
    args: &AnnotatedExport,
    cleaned: &[Result<Cleaned, BadReason>],
    clean: &Anonymized,
    skipped: &[String],
) -> String {
    let ok = || cleaned.iter().flatten();
    let annotators = if args.keep_annotators {
        "- Annotator names were kept as they were (`--keep-annotators`).\n".to_string()
    } else {
        format!(
            "- Annotator names and prediction sources were replaced by `annotator-N` / `model-N` in order of first appearance ({} names replaced).\n",
            clean.pseudonyms
        )
    };
    let mut text = format!(
        "# Annotated dataset card\n\nExported by augtrain {} on {} in {} format.\n\n{} images, {} objects, {} classes.\n\n\
         ## What was removed or changed\n\n\
         - Every image was decoded and re-encoded as PNG from its pixels alone: no EXIF (GPS position, camera, timestamps, thumbnails), XMP, IPTC, ICC profile or text comment was carried over ({} source files carried such metadata). EXIF orientation was applied first ({} images), and the annotations refer to the image as displayed.\n\
         - Image files were named by the first 16 hex digits of the SHA-256 of the exported file; the annotations name those files. No mapping to the original names is part of this export.\n\
         - Images with equal pixels became one file and one image holding all their objects ({} merged).\n\
         - Image ids and object ids were renumbered from 1.\n\
         {annotators}\
         - Only what augtrain's annotation model holds was written: format fields outside it (COCO `info` and `licenses`, LabelMe `imageData` and flags, Label Studio task data, users and dates, CVAT `meta` with owners and dates) were dropped.\n\
         - `SHA256SUMS` lists every file (`sha256sum -c SHA256SUMS` checks them).\n",
        env!("CARGO_PKG_VERSION"),
        crate::util::time::iso8601_now(),
        args.input.format,
        clean.dataset.images.len(),
        clean.dataset.object_count(),
        clean.dataset.classes.len(),
        ok().filter(|c| c.had_metadata).count(),
        ok().filter(|c| c.rotated).count(),
        clean.merged,
    );
    if !skipped.is_empty() {
        // Their names would identify the source: only the count goes into the export.
        text.push_str(&format!(
            "- {} annotated images could not be read and were left out with their objects.\n",
            skipped.len()
        ));
    }
    text
}
