//! The run report: PNG charts and one self-contained `report.html` (PNGs inlined) drawn from a
//! run directory's files, so `augtrain plot --run DIR` can redraw them at any time.
//!
//! Reads `config.toml`, `metrics.jsonl`, `report.json`, `confusion.csv`, `dataset.json`, and when
//! present `audit.json` and `augmentation.png` (all through [`RunDir`]); writes
//! `curves_loss.png`, `curves_accuracy.png`, `confusion.png`, `per_class.png` and `report.html`.

use std::path::Path;

use super::images::Picture;
use super::plot::{PALETTE, Series, confusion_heatmap, line_chart, metric_bars};
use crate::error::RunError;
use crate::records::{DatasetSummary, EpochRecord, TestReport};
use crate::run_dir::{RunDir, file};
use augtrain_quality::metrics::{Averages, ConfusionMatrix};

/// A failure to draw a run's report: a missing or damaged run file, or an unwritable chart.
pub type ReportError = RunError;

/// Everything the report shows, read from the run directory.
struct RunFiles {
    name: String,
    config: String,
    history: Vec<EpochRecord>,
    test: TestReport,
    dataset: DatasetSummary,
    confusion: (ConfusionMatrix, Vec<String>),
    audit: Option<serde_json::Value>,
    augmentation: Option<Vec<u8>>,
}

impl RunFiles {
    fn read(run: &RunDir) -> Result<Self, RunError> {
        let config =
            augtrain_data::util::fs::read_regular_text(&run.file(file::CONFIG)).map_err(|e| {
                augtrain_data::util::fs::IoError::new("read", run.file(file::CONFIG), e)
            })?;
        Ok(Self {
            name: run
                .path()
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_default(),
            config,
            history: run.metrics()?,
            test: run.test_report()?,
            dataset: run.dataset()?,
            confusion: run.confusion()?,
            audit: run.audit(),
            augmentation: augtrain_data::util::fs::read_regular(&run.file(file::AUGMENTATION)).ok(),
        })
    }
}

/// The four charts as PNG bytes: loss, accuracy, per-class bars, confusion heatmap.
struct Charts {
    loss: Vec<u8>,
    accuracy: Vec<u8>,
    per_class: Vec<u8>,
    confusion: Vec<u8>,
}

/// Draw the charts and write `report.html` for the run in `dir`. Returns the files written.
pub fn render(dir: &Path) -> Result<Vec<String>, ReportError> {
    let run = RunDir::open(dir)?;
    let files = RunFiles::read(&run)?;
    let charts = draw_charts(&run, &files)?;
    let mut h = String::new();
    page_head(&mut h, &files.name);
    summary_section(&mut h, &files);
    dataset_section(&mut h, &files.dataset);
    if let Some(audit) = &files.audit {
        audit_section(&mut h, audit);
    }
    training_section(&mut h, &files.history, &charts);
    metrics_section(&mut h, &files.test, &charts);
    if let Some(png) = &files.augmentation {
        h.push_str("\n<h2 id=\"augmentation\">Augmentation</h2>\n<p>Each row: an original training image, then its augmented versions in epochs 0, 1, 2, ...</p>\n");
        h.push_str(&img(png, "augmentation contact sheet"));
    }
    page_foot(&mut h, &files.config);
    run.write(file::REPORT_HTML, h.as_bytes())?;
    Ok([
        file::CURVES_LOSS,
        file::CURVES_ACCURACY,
        file::CONFUSION_PNG,
        file::PER_CLASS,
        file::REPORT_HTML,
    ]
    .map(String::from)
    .to_vec())
}

/// Draw the charts and save them as PNG files in the run directory.
fn draw_charts(run: &RunDir, files: &RunFiles) -> Result<Charts, RunError> {
    let series = |name: &str, color, value: fn(&EpochRecord) -> f64| Series {
        name: name.into(),
        color,
        points: files
            .history
            .iter()
            .map(|r| (r.epoch as f64, value(r)))
            .collect(),
    };
    let loss = line_chart(
        "Loss per epoch",
        "epoch",
        "loss",
        &[
            series("train", PALETTE[0], |r| r.train_loss),
            series("validation", PALETTE[1], |r| r.val_loss),
        ],
        640,
        360,
    );
    let accuracy = line_chart(
        "Accuracy per epoch",
        "epoch",
        "accuracy",
        &[
            series("train (augmented)", PALETTE[0], |r| r.train_accuracy),
            series("validation", PALETTE[1], |r| r.val_accuracy),
        ],
        640,
        360,
    );
    let classes = &files.test.report.classes;
    let names: Vec<String> = classes.iter().map(|c| c.name.clone()).collect();
    let per_class = metric_bars(
        "Test precision, recall and F1 per class",
        &names,
        &[
            ("precision", classes.iter().map(|c| c.precision).collect()),
            ("recall", classes.iter().map(|c| c.recall).collect()),
            ("F1", classes.iter().map(|c| c.f1).collect()),
        ],
    );
    let (cm, cm_names) = &files.confusion;
    let k = cm.num_classes();
    let counts: Vec<Vec<u64>> = (0..k)
        .map(|t| (0..k).map(|p| cm.get(t, p)).collect())
        .collect();
    let heat = confusion_heatmap("Test confusion matrix", &counts, cm_names);
    let save = |name: &str, pic: &Picture| -> Result<Vec<u8>, RunError> {
        let bytes = pic.png_bytes();
        run.write(name, &bytes)?;
        Ok(bytes)
    };
    Ok(Charts {
        loss: save(file::CURVES_LOSS, &loss)?,
        accuracy: save(file::CURVES_ACCURACY, &accuracy)?,
        per_class: save(file::PER_CLASS, &per_class)?,
        confusion: save(file::CONFUSION_PNG, &heat)?,
    })
}

/// An inline PNG.
fn img(png: &[u8], alt: &str) -> String {
    format!(
        "<img alt=\"{}\" src=\"data:image/png;base64,{}\">",
        esc(alt),
        base64(png)
    )
}

fn page_head(h: &mut String, name: &str) {
    h.push_str("<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><title>augtrain run report</title>\n<style>\n");
    h.push_str("body{font-family:system-ui,-apple-system,'Segoe UI',sans-serif;margin:2em auto;max-width:1100px;color:#222;padding:0 1em}\n");
    h.push_str("h1{font-size:1.6em}h2{border-bottom:1px solid #ddd;padding-bottom:.2em;margin-top:1.6em}\n");
    h.push_str("table{border-collapse:collapse;margin:.6em 0}td,th{border:1px solid #ddd;padding:.25em .6em;text-align:right}th{background:#f4f6f8}td:first-child,th:first-child{text-align:left}\n");
    h.push_str("pre{background:#f6f8fa;padding:1em;overflow:auto;font-size:.85em}img{max-width:100%;border:1px solid #eee;margin:.4em .4em .4em 0}\n");
    h.push_str(".big{font-size:2em;font-weight:600}.cards{display:flex;gap:1.5em;flex-wrap:wrap}.card{background:#f6f8fa;padding:.8em 1.2em;border-radius:6px}\n#toc a{margin-right:1em}\n</style></head><body>\n");
    h.push_str(&format!(
        "<h1>augtrain run: {}</h1>\n<nav id=\"toc\"></nav>\n",
        esc(name)
    ));
}

fn summary_section(h: &mut String, files: &RunFiles) {
    let total_seconds: f64 = files
        .history
        .iter()
        .map(|r| r.seconds)
        .filter(|v| v.is_finite())
        .sum();
    let card = |value: String, label: &str| {
        format!("<div class=\"card\"><div class=\"big\">{value}</div>{label}</div>")
    };
    h.push_str("<h2 id=\"summary\">Summary</h2>\n<div class=\"cards\">");
    h.push_str(&card(f4(files.test.accuracy), "test accuracy"));
    h.push_str(&card(f4(files.test.report.macro_avg.f1), "macro F1"));
    h.push_str(&card(files.test.samples.to_string(), "test images"));
    h.push_str(&card(files.history.len().to_string(), "epochs"));
    h.push_str(&card(format!("{total_seconds:.1} s"), "training time"));
    h.push_str("</div>\n");
}

fn dataset_section(h: &mut String, dataset: &DatasetSummary) {
    h.push_str("<h2 id=\"dataset\">Dataset</h2>\n");
    h.push_str(&format!(
        "<p>{} — {}×{}×{} images, {} classes. {}</p>\n<table><tr><th>class</th><th>train</th><th>val</th><th>test</th></tr>\n",
        esc(&dataset.name),
        dataset.shape.width,
        dataset.shape.height,
        dataset.shape.channels,
        dataset.classes.len(),
        esc(&dataset.provenance)
    ));
    for (k, c) in dataset.classes.iter().enumerate() {
        let get = |s: usize| dataset.counts[s].get(k).copied().unwrap_or(0);
        h.push_str(&format!(
            "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>\n",
            esc(c),
            get(0),
            get(1),
            get(2)
        ));
    }
    h.push_str("</table>\n");
    if !dataset.skipped.is_empty() {
        h.push_str(&format!(
            "<p>{} files were skipped:</p><ul>",
            dataset.skipped.len()
        ));
        for (p, why) in dataset.skipped.iter().take(50) {
            h.push_str(&format!("<li>{}: {}</li>", esc(p), esc(why)));
        }
        h.push_str("</ul>\n");
    }
}

fn audit_section(h: &mut String, audit: &serde_json::Value) {
    h.push_str("<h2 id=\"audit\">Audit</h2>\n<table><tr><th>issue</th><th>images</th></tr>\n");
    if let Some(m) = audit["issue_counts"].as_object() {
        for (k, v) in m {
            h.push_str(&format!(
                "<tr><td>{}</td><td>{}</td></tr>\n",
                esc(&k.replace('_', " ")),
                v
            ));
        }
    }
    h.push_str("</table>\n");
}

fn training_section(h: &mut String, history: &[EpochRecord], charts: &Charts) {
    h.push_str("<h2 id=\"training\">Training</h2>\n");
    h.push_str(&img(&charts.loss, "loss per epoch"));
    h.push_str(&img(&charts.accuracy, "accuracy per epoch"));
    h.push_str("\n<table><tr><th>epoch</th><th>lr</th><th>train loss</th><th>train acc</th><th>val loss</th><th>val acc</th><th>val macro F1</th><th>images/s</th><th>seconds</th></tr>\n");
    for e in history {
        h.push_str(&format!(
            "<tr><td>{}</td><td>{:.5}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{:.0}</td><td>{:.1}</td></tr>\n",
            e.epoch,
            e.lr,
            f4(e.train_loss),
            f4(e.train_accuracy),
            f4(e.val_loss),
            f4(e.val_accuracy),
            f4(e.val_macro_f1),
            e.images_per_second,
            e.seconds
        ));
    }
    h.push_str("</table>\n");
}

fn metrics_section(h: &mut String, test: &TestReport, charts: &Charts) {
    h.push_str("<h2 id=\"metrics\">Test metrics</h2>\n<table><tr><th>class</th><th>precision</th><th>recall</th><th>f1-score</th><th>support</th></tr>\n");
    for c in &test.report.classes {
        h.push_str(&format!(
            "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>\n",
            esc(&c.name),
            f4(c.precision),
            f4(c.recall),
            f4(c.f1),
            c.support
        ));
    }
    let rows: [(&str, &Averages); 2] = [
        ("macro avg", &test.report.macro_avg),
        ("weighted avg", &test.report.weighted),
    ];
    for (label, a) in rows {
        h.push_str(&format!(
            "<tr><th>{label}</th><th>{}</th><th>{}</th><th>{}</th><th>{}</th></tr>\n",
            f4(a.precision),
            f4(a.recall),
            f4(a.f1),
            a.support
        ));
    }
    h.push_str("</table>\n");
    h.push_str(&img(
        &charts.per_class,
        "precision, recall and F1 per class",
    ));
    h.push_str(&img(&charts.confusion, "confusion matrix"));
}

fn page_foot(h: &mut String, config: &str) {
    h.push_str(&format!(
        "\n<h2 id=\"config\">Configuration</h2>\n<pre>{}</pre>\n",
        esc(config)
    ));
    h.push_str(&format!(
        "<p><small>augtrain {} ({}), report drawn {}</small></p>\n",
        env!("CARGO_PKG_VERSION"),
        crate::GIT_COMMIT,
        augtrain_data::util::time::iso8601_now()
    ));
    h.push_str("<script>\n// Table of contents from the section headings.\nconst toc = document.getElementById('toc');\nfor (const h of document.querySelectorAll('h2[id]')) {\n  const a = document.createElement('a');\n  a.href = '#' + h.id;\n  a.textContent = h.textContent;\n  toc.appendChild(a);\n}\ndocument.body.dataset.ready = 'yes';\n</script>\n</body></html>\n");
}

/// Standard base64 (RFC 4648, padded) of `bytes`.
pub fn base64(bytes: &[u8]) -> String {
    use base64::Engine;
    base64::engine::general_purpose::STANDARD.encode(bytes)
}

fn esc(s: &str) -> String {
    augtrain_data::util::escape::html(s)
}

fn f4(v: f64) -> String {
    if v.is_finite() {
        format!("{v:.4}")
    } else {
        "—".into()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base64_matches_rfc4648_vectors() {
        for (input, out) in [
            ("", ""),
            ("f", "Zg=="),
            ("fo", "Zm8="),
            ("foo", "Zm9v"),
            ("foob", "Zm9vYg=="),
            ("fooba", "Zm9vYmE="),
            ("foobar", "Zm9vYmFy"),
        ] {
            assert_eq!(base64(input.as_bytes()), out);
        }
    }
}
