//! The audit as one self-contained HTML page (`audit --html FILE`): issue counts, then each
//! finding with its images' thumbnails side by side (semantic near duplicates with their
//! similarity, outliers, exact and near duplicate groups, conflicting labels, leaks) and the
//! corrupt files. Thumbnails are JPEGs at most [`THUMB`] pixels on a side, inlined as base64;
//! images that are not files (records of container formats) are shown by name only.

use std::collections::HashMap;
use std::fmt::Write as _;
use std::path::Path;

use rayon::prelude::*;

use super::label_agreement::LabelAgreement;
use super::{AuditReport, Group};
use crate::agreement::report::show;
use augtrain_data::decode::decode_full;
use augtrain_data::util::escape::html as esc;
use augtrain_data::util::path_text;

/// Largest thumbnail side, pixels.
pub const THUMB: u32 = 128;

/// The page for `report`; image paths are relative to `base` (None: no thumbnails); at most
/// `list` entries per section.
pub fn page(report: &AuditReport, base: Option<&Path>, list: usize) -> String {
    let shown = shown_images(report, list);
    let thumbs = thumbnails(report, base, &shown);
    let t = |i: usize| thumb(report, &thumbs, i);
    let mut h = String::new();
    head(&mut h, &report.source);
    counts(&mut h, report);
    if let Some(s) = &report.semantic {
        let _ = writeln!(
            h,
            "<h2>Semantic near duplicates</h2><p>{} pairs with cosine similarity ≥ {} ({} embeddings, {} nearest neighbours searched per image), {} groups, {} spanning splits.</p>",
            s.pairs.len(),
            s.min_similarity,
            esc(&s.model),
            s.neighbors,
            s.groups.len(),
            s.leaks.len()
        );
        for p in s.pairs.iter().take(list) {
            let _ = writeln!(
                h,
                "<div class=\"row\">{}{}<div class=\"note\">cosine {:.4}</div></div>",
                t(p.a),
                t(p.b),
                p.similarity
            );
        }
        let _ = writeln!(
            h,
            "<h2>Outliers</h2><p>{} images whose mean cosine distance to their {} nearest neighbours is above {:.4} (cleanlab's out-of-distribution score, lower = more unusual), most unusual first.</p><div class=\"row\">",
            s.outliers.len(),
            s.neighbors,
            s.outlier_distance_threshold
        );
        for &i in s.outliers.iter().take(list) {
            h.push_str(&t(i));
        }
        h.push_str("</div>\n");
    }
    groups(
        &mut h,
        "Same pixels, different labels",
        &report.conflicting_label_groups,
        list,
        &t,
    );
    groups(
        &mut h,
        "Exact duplicates",
        &report.exact_duplicate_groups,
        list,
        &t,
    );
    groups(
        &mut h,
        "Near duplicates (pHash)",
        &report.near_duplicate_groups,
        list,
        &t,
    );
    groups(&mut h, "Leaks between splits", &report.leaks, list, &t);
    if let Some(a) = &report.label_agreement {
        label_agreement(&mut h, a, list, &t);
    }
    corrupt(&mut h, report, list);
    h.push_str("</body></html>\n");
    h
}

/// The images any section shows.
fn shown_images(report: &AuditReport, list: usize) -> Vec<usize> {
    let mut shown: Vec<usize> = Vec::new();
    let mut add_groups = |gs: &[Group]| {
        for g in gs.iter().take(list) {
            shown.extend(&g.members);
        }
    };
    add_groups(&report.conflicting_label_groups);
    add_groups(&report.exact_duplicate_groups);
    add_groups(&report.near_duplicate_groups);
    add_groups(&report.leaks);
    if let Some(s) = &report.semantic {
        for p in s.pairs.iter().take(list) {
            shown.extend([p.a, p.b]);
        }
        shown.extend(s.outliers.iter().take(list));
    }
    if let Some(a) = &report.label_agreement {
        shown.extend(a.disputed.iter().take(list).filter_map(|d| d.row));
    }
    shown.sort_unstable();
    shown.dedup();
    shown
}

/// Base64 JPEG thumbnails of the `shown` images that are readable files under `base`.
fn thumbnails(
    report: &AuditReport,
    base: Option<&Path>,
    shown: &[usize],
) -> HashMap<usize, String> {
    let Some(base) = base else {
        return HashMap::new();
    };
    shown
        .par_iter()
        .filter_map(|&i| {
            let path = base.join(path_text::decode(&report.rows[i].path));
            Some((i, jpeg_thumbnail(&path)?.base64))
        })
        .collect()
}

/// A thumbnail of an image file, inlined as base64 JPEG.
pub(crate) struct Thumbnail {
    /// The JPEG, base64.
    pub base64: String,
    /// The full image's width, pixels.
    pub width: u32,
    /// The full image's height, pixels.
    pub height: u32,
}

/// The thumbnail (at most [`THUMB`] pixels on a side) of the image file at `path`, if it is a
/// readable image.
pub(crate) fn jpeg_thumbnail(path: &Path) -> Option<Thumbnail> {
    let bytes = augtrain_data::util::fs::read_regular(path).ok()?;
    let (img, _, _) = decode_full(&bytes, 100_000_000).ok()?;
    let small = img.thumbnail(THUMB, THUMB).to_rgb8();
    let mut jpeg = Vec::new();
    image::codecs::jpeg::JpegEncoder::new_with_quality(&mut jpeg, 80)
        .encode_image(&small)
        .ok()?;
    use base64::Engine as _;
    Some(Thumbnail {
        base64: base64::engine::general_purpose::STANDARD.encode(jpeg),
        width: img.width(),
        height: img.height(),
    })
}

/// One image: its thumbnail (if any) over its path and label.
fn thumb(report: &AuditReport, thumbs: &HashMap<usize, String>, i: usize) -> String {
    let r = &report.rows[i];
    let split = r.split.map(|s| format!(", {s}")).unwrap_or_default();
    let img = thumbs
        .get(&i)
        .map(|b| {
            format!(
                "<img alt=\"{}\" src=\"data:image/jpeg;base64,{b}\">",
                esc(&r.path)
            )
        })
        .unwrap_or_default();
    format!(
        "<figure>{img}<figcaption>{}<br><b>{}</b>{}</figcaption></figure>",
        esc(&r.path),
        esc(&r.label),
        esc(&split)
    )
}

pub(crate) fn head(h: &mut String, source: &str) {
    h.push_str("<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><title>augtrain audit</title>\n<style>\n");
    h.push_str("body{font-family:system-ui,-apple-system,'Segoe UI',sans-serif;margin:2em auto;max-width:1100px;color:#222;padding:0 1em}\n");
    h.push_str("h2{border-bottom:1px solid #ddd;padding-bottom:.2em;margin-top:1.6em}table{border-collapse:collapse;margin:.6em 0}td,th{border:1px solid #ddd;padding:.25em .6em}\n");
    h.push_str(".row{display:flex;flex-wrap:wrap;gap:.6em;align-items:center;margin:.5em 0;padding:.4em;background:#f6f8fa;border-radius:6px}\n");
    h.push_str("figure{margin:0;max-width:160px;font-size:.75em;word-break:break-all}img{display:block;max-width:128px;max-height:128px}.note{font-weight:600}\n");
    h.push_str("</style></head><body>\n");
    let _ = writeln!(h, "<h1>augtrain audit: {}</h1>", esc(source));
}

fn counts(h: &mut String, report: &AuditReport) {
    let _ = writeln!(
        h,
        "<p>{} images.</p><table><tr><th>issue</th><th>images</th></tr>",
        report.images
    );
    for (issue, n) in &report.issue_counts {
        let _ = writeln!(
            h,
            "<tr><td>{}</td><td>{n}</td></tr>",
            esc(&issue.replace('_', " "))
        );
    }
    h.push_str("</table>\n");
}

fn groups(h: &mut String, title: &str, gs: &[Group], list: usize, t: &dyn Fn(usize) -> String) {
    if gs.is_empty() {
        return;
    }
    let _ = writeln!(h, "<h2>{}</h2><p>{} groups.</p>", esc(title), gs.len());
    for g in gs.iter().take(list) {
        h.push_str("<div class=\"row\">");
        for &i in &g.members {
            h.push_str(&t(i));
        }
        h.push_str("</div>\n");
    }
}

fn corrupt(h: &mut String, report: &AuditReport, list: usize) {
    let bad: Vec<_> = report.rows.iter().filter(|r| r.is_corrupt_issue).collect();
    if bad.is_empty() {
        return;
    }
    let _ = writeln!(h, "<h2>Corrupt files</h2><p>{} files.</p><ul>", bad.len());
    for r in bad.iter().take(list) {
        let _ = writeln!(
            h,
            "<li>{}: {}</li>",
            esc(&r.path),
            esc(r.corrupt_reason.as_deref().unwrap_or(""))
        );
    }
    h.push_str("</ul>\n");
}

/// The label agreement section: the overall figures, a table of Cohen's kappas per pair, one row
/// per annotator, then the most disputed images with every label they received.
fn label_agreement(h: &mut String, a: &LabelAgreement, list: usize, t: &dyn Fn(usize) -> String) {
    let fleiss = a
        .fleiss
        .as_ref()
        .map(|f| format!("{:.4} (on {} images)", f.kappa, f.images))
        .unwrap_or_else(|| "n/a".into());
    let _ = writeln!(
        h,
        "<h2>Label agreement</h2><p>{} labels on {} images from {} annotators ({}): {} of label pairs agree; Krippendorff's alpha {}; Fleiss' kappa {}.</p>",
        a.labels,
        a.images,
        a.annotators.len(),
        esc(&a.labels_file),
        show(a.percent_agreement),
        show(a.krippendorff_alpha),
        fleiss
    );
    h.push_str("<table><tr><th>annotators</th><th>shared images</th><th>agree</th><th>Cohen's kappa</th><th>linear</th><th>quadratic</th></tr>\n");
    for p in &a.pairs {
        let _ = writeln!(
            h,
            "<tr><td>{} / {}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
            esc(&a.annotators[p.a].name),
            esc(&a.annotators[p.b].name),
            p.images,
            show(Some(p.percent)),
            show(Some(p.kappa)),
            show(Some(p.kappa_linear)),
            show(Some(p.kappa_quadratic))
        );
    }
    h.push_str("</table>\n<table><tr><th>annotator</th><th>labels</th><th>agrees with the consensus</th><th>Dawid-Skene accuracy</th></tr>\n");
    for r in &a.annotators {
        let _ = writeln!(
            h,
            "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
            esc(&r.name),
            r.labelled,
            show(Some(r.agreement_with_consensus)),
            show(Some(r.dawid_skene_accuracy))
        );
    }
    let _ = writeln!(
        h,
        "</table>\n<p>{} disputed images, least certain consensus (Dawid-Skene) first.</p>",
        a.disputed.len()
    );
    for d in a.disputed.iter().take(list) {
        let shown = d.row.map(t).unwrap_or_else(|| {
            format!(
                "<figure><figcaption>{}</figcaption></figure>",
                esc(&d.image)
            )
        });
        let labels: Vec<String> = d
            .labels
            .iter()
            .map(|(who, class)| format!("{}: {}", esc(who), esc(class)))
            .collect();
        let _ = writeln!(
            h,
            "<div class=\"row\">{shown}<div class=\"note\">{}<br>consensus {} ({:.3})</div></div>",
            labels.join("<br>"),
            esc(&d.consensus),
            d.consensus_quality
        );
    }
}
