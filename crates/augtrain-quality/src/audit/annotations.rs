//! The audit of annotated data (boxes, polygons, masks, keypoints): the annotation checks of
//! [`augtrain_annotations::checks`] with counts per kind, the image-file checks when the image
//! folder is known, and agreement between annotators on boxes
//! ([`augtrain_annotations::agreement`]) when an image has boxes from several annotators.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use augtrain_annotations::agreement::{AgreementOptions, BoxAgreement, box_agreement};
use augtrain_annotations::checks::{
    CheckError, CheckOptions, Finding, FindingKind, check_annotations, check_files,
};
use augtrain_annotations::model::Dataset;
use augtrain_data::util::escape::escape;
use serde::Serialize;

/// What to check and how.
#[derive(Debug, Clone, Default)]
pub struct AnnotationAuditOptions {
    /// Thresholds of the annotation checks.
    pub checks: CheckOptions,
    /// Settings of the agreement report.
    pub agreement: AgreementOptions,
}

/// The audit of one annotated data set.
#[derive(Debug, Clone, Serialize)]
pub struct AnnotationAudit {
    /// The annotations audited (path as given).
    pub source: String,
    /// Their format.
    pub format: String,
    /// Images listed by the annotations.
    pub images: usize,
    /// Objects over all images.
    pub objects: usize,
    /// Classes.
    pub classes: usize,
    /// The image folder the file checks looked in; `None` when they did not run.
    pub image_root: Option<String>,
    /// Why the file checks did not run, when they did not.
    pub files_not_checked: Option<String>,
    /// Findings per kind (kinds with none are left out).
    pub finding_counts: BTreeMap<FindingKind, usize>,
    /// Every finding, annotation checks first (in image and object order), then the files.
    pub findings: Vec<Finding>,
    /// Box agreement between annotators, when some image has boxes from two or more.
    pub agreement: Option<BoxAgreement>,
    /// What the reader did not read, one line per kind with a count.
    pub skipped: Vec<String>,
}

/// Audit `d` (read from `source` in `format`). `files`: the image folder and the files under
/// it (relative, `/`-separated) for the file checks, or why they cannot run. An invalid mask
/// is an error, not a finding.
pub fn audit_annotations(
    source: &str,
    format: &str,
    d: &Dataset,
    files: Result<(&str, &[String]), String>,
    skipped: Vec<String>,
    opts: &AnnotationAuditOptions,
) -> Result<AnnotationAudit, CheckError> {
    let mut findings = check_annotations(d, &opts.checks)?;
    if let Ok((_, on_disk)) = files {
        findings.extend(check_files(d, on_disk));
    }
    let mut finding_counts = BTreeMap::new();
    for f in &findings {
        *finding_counts.entry(f.kind).or_insert(0) += 1;
    }
    Ok(AnnotationAudit {
        source: source.to_string(),
        format: format.to_string(),
        images: d.images.len(),
        objects: d.object_count(),
        classes: d.classes.len(),
        image_root: files.as_ref().ok().map(|(root, _)| root.to_string()),
        files_not_checked: files.err(),
        finding_counts,
        findings,
        agreement: box_agreement(d, &opts.agreement),
        skipped,
    })
}

impl AnnotationAudit {
    /// The text summary: counts per kind with up to `list` examples each, then agreement.
    pub fn summary(&self, list: usize) -> String {
        let mut s = String::new();
        let _ = writeln!(
            s,
            "{} ({}): {} images, {} objects, {} classes",
            escape(&self.source),
            self.format,
            self.images,
            self.objects,
            self.classes
        );
        if let Some(root) = &self.image_root {
            let _ = writeln!(s, "image files checked under {}", escape(root));
        }
        if let Some(why) = &self.files_not_checked {
            let _ = writeln!(s, "image files not checked: {}", escape(why));
        }
        for line in &self.skipped {
            let _ = writeln!(s, "not read: {}", escape(line));
        }
        if self.findings.is_empty() {
            s.push_str("no annotation issues found\n");
        }
        for (kind, n) in &self.finding_counts {
            let _ = writeln!(s, "{}: {n}", kind.describe());
            for f in self.findings.iter().filter(|f| f.kind == *kind).take(list) {
                let object = f.object.map(|o| format!(" object {o}")).unwrap_or_default();
                let _ = writeln!(s, "  {}{object}: {}", escape(&f.image), escape(&f.detail));
            }
        }
        if let Some(a) = &self.agreement {
            agreement_summary(&mut s, a, list);
        }
        s.trim_end().to_string()
    }
}

fn mean_iou(m: Option<f64>) -> String {
    m.map_or_else(|| "-".to_string(), |v| format!("{v:.3}"))
}

fn agreement_summary(s: &mut String, a: &BoxAgreement, list: usize) {
    let _ = writeln!(
        s,
        "box agreement (IoU ≥ {}, matched per class): {} images with several annotators, F1 {:.3}, mean matched IoU {}",
        a.iou_threshold,
        a.images.len(),
        a.overall.f1(),
        mean_iou(a.overall.mean_iou())
    );
    for p in &a.annotators {
        let _ = writeln!(
            s,
            "  {}: {} images, {} boxes, F1 {:.3}, mean matched IoU {}",
            escape(&p.annotator),
            p.images,
            p.boxes,
            p.tally.f1(),
            mean_iou(p.tally.mean_iou())
        );
    }
    let _ = writeln!(s, "unmatched boxes: {}", a.unmatched.len());
    if !a.most_disputed.is_empty() {
        let _ = writeln!(s, "most disputed boxes:");
    }
    for b in a.most_disputed.iter().take(list) {
        let by = if b.unmatched_by.is_empty() {
            String::new()
        } else {
            format!(", no match by {}", escape(&b.unmatched_by.join(", ")))
        };
        let _ = writeln!(
            s,
            "  {} object {} ({}, {}): dispute {:.3}{by}",
            escape(&b.file_name),
            b.object,
            escape(&b.annotator),
            escape(&b.class),
            b.dispute
        );
    }
}
