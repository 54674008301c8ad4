//! The annotation audit as one self-contained HTML page (`audit --html FILE` on annotated
//! data): counts per kind, then each kind's findings on thumbnails of their images with the
//! boxes drawn over them (the flagged object in red, the image's other objects in grey), files
//! missing or unannotated, and box agreement between annotators with the most disputed boxes
//! drawn in each annotator's colour. Boxes are SVG over the thumbnail, in the image's own pixel
//! coordinates, so they sit exactly where the annotations put them.

use std::collections::{BTreeSet, HashMap};
use std::fmt::Write as _;
use std::path::Path;

use augtrain_annotations::agreement::BoxAgreement;
use augtrain_annotations::model::{BBox, Dataset, Image};
use augtrain_data::util::escape::html as esc;
use rayon::prelude::*;

use super::annotations::AnnotationAudit;
use super::html::{Thumbnail, head, jpeg_thumbnail};

/// Colours of annotators' boxes, in the order of their sorted names.
const PALETTE: [&str; 6] = [
    "#1f77b4", "#ff7f0e", "#2ca02c", "#9467bd", "#8c564b", "#e377c2",
];

/// The page for `report` on `d`; image files are read under `image_root` (None: names only);
/// at most `list` findings per kind.
pub fn page(
    report: &AnnotationAudit,
    d: &Dataset,
    image_root: Option<&Path>,
    list: usize,
) -> String {
    let index: HashMap<&str, usize> = d
        .images
        .iter()
        .enumerate()
        .map(|(i, im)| (im.file_name.as_str(), i))
        .collect();
    let shown = shown_images(report, &index, list);
    let thumbs: HashMap<usize, Thumbnail> = match image_root {
        None => HashMap::new(),
        Some(root) => shown
            .par_iter()
            .filter_map(|&i| Some((i, jpeg_thumbnail(&root.join(&d.images[i].file_name))?)))
            .collect(),
    };
    let mut h = String::new();
    head(&mut h, &report.source);
    h.push_str("<style>.ann{position:relative;display:inline-block}.ann svg{position:absolute;left:0;top:0;width:100%;height:100%}</style>\n");
    let _ = writeln!(
        h,
        "<p>{} annotations: {} images, {} objects, {} classes.</p><table><tr><th>finding</th><th>count</th></tr>",
        esc(&report.format),
        report.images,
        report.objects,
        report.classes
    );
    for (kind, n) in &report.finding_counts {
        let _ = writeln!(h, "<tr><td>{}</td><td>{n}</td></tr>", esc(kind.describe()));
    }
    h.push_str("</table>\n");
    for kind in report.finding_counts.keys() {
        let _ = writeln!(h, "<h2>{}</h2><div class=\"row\">", esc(kind.describe()));
        for f in report
            .findings
            .iter()
            .filter(|f| f.kind == *kind)
            .take(list)
        {
            let drawing = index.get(f.image.as_str()).and_then(|&i| {
                let t = thumbs.get(&i)?;
                Some(drawn(t, &d.images[i], &|o| {
                    if Some(o) == f.object {
                        ("#d62728", 3)
                    } else {
                        ("#999", 1)
                    }
                }))
            });
            let object = f.object.map(|o| format!(" object {o}")).unwrap_or_default();
            let _ = writeln!(
                h,
                "<figure>{}<figcaption>{}{}<br>{}</figcaption></figure>",
                drawing.unwrap_or_default(),
                esc(&f.image),
                esc(&object),
                esc(&f.detail)
            );
        }
        h.push_str("</div>\n");
    }
    if let Some(a) = &report.agreement {
        agreement(&mut h, a, d, &thumbs, list);
    }
    h.push_str("</body></html>\n");
    h
}

/// The images any section draws.
fn shown_images(report: &AnnotationAudit, index: &HashMap<&str, usize>, list: usize) -> Vec<usize> {
    let mut shown = BTreeSet::new();
    for kind in report.finding_counts.keys() {
        for f in report
            .findings
            .iter()
            .filter(|f| f.kind == *kind)
            .take(list)
        {
            shown.extend(index.get(f.image.as_str()));
        }
    }
    if let Some(a) = &report.agreement {
        shown.extend(a.most_disputed.iter().take(list).map(|b| b.image));
    }
    shown.into_iter().collect()
}

/// A thumbnail with every object's box drawn in the colour and width `style` gives it.
fn drawn(t: &Thumbnail, image: &Image, style: &dyn Fn(usize) -> (&'static str, u32)) -> String {
    let mut svg = String::new();
    for (i, o) in image.objects.iter().enumerate() {
        if let Some(b) = o.extent() {
            let (colour, width) = style(i);
            rect(&mut svg, &b, colour, width);
        }
    }
    format!(
        "<div class=\"ann\"><img alt=\"{}\" src=\"data:image/jpeg;base64,{}\"><svg viewBox=\"0 0 {} {}\" preserveAspectRatio=\"none\">{svg}</svg></div>",
        esc(&image.file_name),
        t.base64,
        t.width,
        t.height
    )
}

fn rect(svg: &mut String, b: &BBox, colour: &str, width: u32) {
    if !(b.x.is_finite() && b.y.is_finite() && b.width.is_finite() && b.height.is_finite()) {
        return;
    }
    let _ = write!(
        svg,
        "<rect x=\"{}\" y=\"{}\" width=\"{}\" height=\"{}\" fill=\"none\" stroke=\"{colour}\" stroke-width=\"{width}\" vector-effect=\"non-scaling-stroke\"/>",
        b.x,
        b.y,
        b.width.max(0.0),
        b.height.max(0.0)
    );
}

fn agreement(
    h: &mut String,
    a: &BoxAgreement,
    d: &Dataset,
    thumbs: &HashMap<usize, Thumbnail>,
    list: usize,
) {
    let _ = writeln!(
        h,
        "<h2>Box agreement between annotators</h2><p>{} images with boxes from several annotators; boxes matched per class by IoU ≥ {} (optimal assignment). Overall F1 {:.3}, {} unmatched boxes.</p><table><tr><th>annotator</th><th>images</th><th>boxes</th><th>F1</th><th>mean matched IoU</th></tr>",
        a.images.len(),
        a.iou_threshold,
        a.overall.f1(),
        a.unmatched.len()
    );
    let colour: HashMap<&str, &'static str> = a
        .annotators
        .iter()
        .enumerate()
        .map(|(k, p)| (p.annotator.as_str(), PALETTE[k % PALETTE.len()]))
        .collect();
    for p in &a.annotators {
        let _ = writeln!(
            h,
            "<tr><td><span style=\"color:{}\">■</span> {}</td><td>{}</td><td>{}</td><td>{:.3}</td><td>{}</td></tr>",
            colour[p.annotator.as_str()],
            esc(&p.annotator),
            p.images,
            p.boxes,
            p.tally.f1(),
            p.tally
                .mean_iou()
                .map_or_else(|| "-".to_string(), |v| format!("{v:.3}"))
        );
    }
    h.push_str("</table><h3>Most disputed boxes</h3><div class=\"row\">\n");
    for b in a.most_disputed.iter().take(list) {
        let image = &d.images[b.image];
        let style = |o: usize| -> (&'static str, u32) {
            let who = image.objects[o].annotator.as_deref().unwrap_or("");
            (
                colour.get(who).copied().unwrap_or("#999"),
                if o == b.object { 3 } else { 1 },
            )
        };
        let drawing = thumbs
            .get(&b.image)
            .map(|t| drawn(t, image, &style))
            .unwrap_or_default();
        let _ = writeln!(
            h,
            "<figure>{drawing}<figcaption>{} object {} ({}, {})<br>dispute {:.3}</figcaption></figure>",
            esc(&b.file_name),
            b.object,
            esc(&b.annotator),
            esc(&b.class),
            b.dispute
        );
    }
    h.push_str("</div>\n");
}
