//! `augtrain audit` on annotated data (COCO, YOLO, Pascal VOC, LabelMe, Label Studio, CVAT):
//! the annotation checks, the image-file checks and box agreement between annotators, as text,
//! `--json` and `--html`. DATA is the annotations (file or folder, format detected or given
//! with `--format`), or the image folder with the annotations named by `--annotations FILE`.

use std::path::{Path, PathBuf};

use augtrain_annotations::AnnotationError;
use augtrain_annotations::formats::Format;
use augtrain_annotations::input::AnnotatedInput;
use augtrain_quality::audit::annotations::{
    AnnotationAudit, AnnotationAuditOptions, audit_annotations,
};
use augtrain_quality::audit::annotations_html;

use crate::Error;
use crate::train::progress::Reporter;
use crate::util::fs::write_output;

/// What the annotated audit writes and prints.
pub struct Outputs<'a> {
    /// `--json FILE`.
    pub json: Option<&'a Path>,
    /// `--html FILE`.
    pub html: Option<&'a Path>,
    /// Findings listed per kind.
    pub list: usize,
    /// Replace existing `--json` / `--html` files (`--force`).
    pub force: bool,
}

/// Read, check and report annotated data. Nothing is written unless every check ran.
pub fn run(
    input: &AnnotatedInput,
    opts: &AnnotationAuditOptions,
    out: &Outputs,
    reporter: &Reporter,
) -> crate::Result<()> {
    let start = std::time::Instant::now();
    let read = input.read()?;
    let d = &read.dataset;
    let root = image_root(input);
    let listing = list_images(input, d, &root)?;
    let skipped: Vec<String> = read
        .skipped
        .iter()
        .map(|(what, n)| format!("{n} {what}"))
        .collect();
    let source = input.annotations.to_string_lossy();
    let files = match &listing {
        Ok(on_disk) => Ok((root.to_str().unwrap_or("."), on_disk.as_slice())),
        Err(why) => Err(why.clone()),
    };
    let report = audit_annotations(&source, input.format.name(), d, files, skipped, opts)
        .map_err(|e| AnnotationError::malformed(&input.annotations, e.to_string()))?;
    write_outputs(&report, d, &root, listing.is_ok(), out)?;
    // The summary is the result: a standard output that cannot take it is an error.
    reporter
        .result(&report.summary(out.list))
        .map_err(crate::cli::stdout_error)?;
    reporter.line(&format!("({:.2} s)", start.elapsed().as_secs_f64()));
    Ok(())
}

fn write_outputs(
    report: &AnnotationAudit,
    d: &augtrain_annotations::Dataset,
    root: &Path,
    images_found: bool,
    out: &Outputs,
) -> crate::Result<()> {
    if let Some(path) = out.json {
        let json = serde_json::to_string_pretty(report).expect("json");
        write_output(path, json.as_bytes(), out.force)?;
    }
    if let Some(path) = out.html {
        let base = images_found.then_some(root);
        let page = annotations_html::page(report, d, base, out.list);
        write_output(path, page.as_bytes(), out.force)?;
    }
    Ok(())
}

/// The folder image names are relative to: the folder given with `--annotations`, else the
/// annotation folder, or the folder holding the annotation file (for YOLO too, unlike
/// [`AnnotatedInput::image_root`]).
fn image_root(input: &AnnotatedInput) -> PathBuf {
    if let Some(images) = &input.images {
        return images.clone();
    }
    let a = &input.annotations;
    if a.is_dir() {
        a.clone()
    } else {
        a.parent()
            .filter(|p| !p.as_os_str().is_empty())
            .unwrap_or(Path::new("."))
            .to_path_buf()
    }
}

/// The files under the image folder for the file checks, or why they do not run: YOLO lists
/// its images from the folder itself, and a folder holding none of the annotated images is not
/// the image folder.
fn list_images(
    input: &AnnotatedInput,
    d: &augtrain_annotations::Dataset,
    root: &Path,
) -> crate::Result<Result<Vec<String>, String>> {
    if input.format == Format::Yolo {
        return Ok(Err(
            "YOLO's images are listed from the image folder itself".into()
        ));
    }
    if !root.is_dir() {
        return Err(Error::Usage(format!(
            "{}: not a folder; give the image folder as DATA with --annotations FILE",
            root.display()
        )));
    }
    let on_disk: Vec<String> = augtrain_data::files::files_under(root)?
        .into_iter()
        .map(|(_, rel)| rel)
        .collect();
    let names: std::collections::HashSet<&str> = on_disk.iter().map(String::as_str).collect();
    let found = d
        .images
        .iter()
        .any(|i| names.contains(i.file_name.trim_start_matches("./")));
    if !found && !d.images.is_empty() {
        return Ok(Err(format!(
            "none of the {} annotated images is under {}; give the image folder as DATA with --annotations FILE",
            d.images.len(),
            root.display()
        )));
    }
    Ok(Ok(on_disk))
}
