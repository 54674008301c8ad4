//! The run report: PNG charts and one self-contained `report.html` (PNGs inlined) drawn from a
//! run directory's files, so `augtrain plot --run DIR` can redraw them at any time.
//!
//! Reads `config.toml`, `metrics.jsonl`, `report.json`, `confusion.csv`, `dataset.json`, and when
//! present `audit.json` and `augmentation.png`; writes `curves_loss.png`,
//! `curves_accuracy.png`, `confusion.png`, `per_class.png` and `report.html`.

use std::path::Path;

use serde::{Deserialize, Serialize};

use super::RunDir;
use super::plot::{PALETTE, Series, confusion_heatmap, line_chart, metric_bars};
use augtrain_data::files::csv_fields;
use augtrain_data::util::fs::IoError;

/// The dataset facts a run records (`dataset.json`).
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub struct DatasetSummary {
    /// Source name.
    pub name: String,
    /// How the splits were made.
    pub provenance: String,
    /// Width, height, channels of the loaded images.
    pub shape: [usize; 3],
    /// Class names.
    pub classes: Vec<String>,
    /// Images per class in the train, val and test splits.
    pub counts: [Vec<usize>; 3],
    /// Files skipped at load time (path and reason).
    pub skipped: Vec<(String, String)>,
}

/// A failure to read a run directory's files.
#[derive(Debug, thiserror::Error)]
pub enum ReportError {
    /// A file could not be read or written.
    #[error(transparent)]
    Io(#[from] IoError),
    /// A file is malformed.
    #[error("{0}")]
    Malformed(String),
}

fn read_text(dir: &RunDir, name: &str) -> Result<String, ReportError> {
    let path = dir.file(name);
    let bytes = augtrain_data::util::fs::read(&path)?;
    String::from_utf8(bytes)
        .map_err(|_| ReportError::Malformed(format!("{}: not UTF-8 text", path.display())))
}

/// Standard base64 (RFC 4648, padded) of `bytes`.
pub fn base64(bytes: &[u8]) -> String {
    use base64::Engine;
    base64::engine::general_purpose::STANDARD.encode(bytes)
}

fn esc(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

fn num(v: &serde_json::Value) -> f64 {
    v.as_f64().unwrap_or(f64::NAN)
}

fn f4(v: f64) -> String {
    if v.is_finite() {
        format!("{v:.4}")
    } else {
        "—".into()
    }
}

/// Draw the charts and write `report.html` for the run in `dir`. Returns the files written.
pub fn render(dir: &Path) -> Result<Vec<String>, ReportError> {
    let run = RunDir::open(dir);
    let mut written = Vec::new();
    let config = read_text(&run, "config.toml")?;
    let history: Vec<serde_json::Value> = read_text(&run, "metrics.jsonl")?
        .lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| {
            serde_json::from_str(l)
                .map_err(|e| ReportError::Malformed(format!("metrics.jsonl: {e}")))
        })
        .collect::<Result<_, _>>()?;
    let report: serde_json::Value = serde_json::from_str(&read_text(&run, "report.json")?)
        .map_err(|e| ReportError::Malformed(format!("report.json: {e}")))?;
    let dataset: DatasetSummary = serde_json::from_str(&read_text(&run, "dataset.json")?)
        .map_err(|e| ReportError::Malformed(format!("dataset.json: {e}")))?;
    // Confusion matrix from its CSV.
    let confusion = read_text(&run, "confusion.csv")?;
    let mut rows = confusion.lines();
    let names: Vec<String> = csv_fields(rows.next().unwrap_or_default())
        .map_err(ReportError::Malformed)?
        .into_iter()
        .skip(1)
        .collect();
    let counts: Vec<Vec<u64>> = rows
        .map(|l| {
            csv_fields(l)
                .map_err(ReportError::Malformed)
                .map(|f| f.iter().skip(1).map(|v| v.parse().unwrap_or(0)).collect())
        })
        .collect::<Result<_, _>>()?;

    // Charts.
    let series = |key: &str| -> Vec<(f64, f64)> {
        history
            .iter()
            .map(|r| (num(&r["epoch"]), num(&r[key])))
            .collect()
    };
    let save = |name: &str,
                pic: &super::images::Picture,
                written: &mut Vec<String>|
     -> Result<Vec<u8>, ReportError> {
        let bytes = pic.png_bytes();
        augtrain_data::util::fs::write_atomic(&run.file(name), &bytes)?;
        written.push(name.to_string());
        Ok(bytes)
    };
    let loss = line_chart(
        "Loss per epoch",
        "epoch",
        "loss",
        &[
            Series {
                name: "train".into(),
                color: PALETTE[0],
                points: series("train_loss"),
            },
            Series {
                name: "validation".into(),
                color: PALETTE[1],
                points: series("val_loss"),
            },
        ],
        640,
        360,
    );
    let acc = line_chart(
        "Accuracy per epoch",
        "epoch",
        "accuracy",
        &[
            Series {
                name: "train (augmented)".into(),
                color: PALETTE[0],
                points: series("train_accuracy"),
            },
            Series {
                name: "validation".into(),
                color: PALETTE[1],
                points: series("val_accuracy"),
            },
        ],
        640,
        360,
    );
    let classes = report["report"]["classes"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    let metric = |key: &str| -> Vec<f64> { classes.iter().map(|c| num(&c[key])).collect() };
    let class_names: Vec<String> = classes
        .iter()
        .map(|c| c["name"].as_str().unwrap_or("?").to_string())
        .collect();
    let bars = metric_bars(
        "Test precision, recall and F1 per class",
        &class_names,
        &[
            ("precision", metric("precision")),
            ("recall", metric("recall")),
            ("F1", metric("f1")),
        ],
    );
    let heat = confusion_heatmap("Test confusion matrix", &counts, &names);
    let loss_png = save("curves_loss.png", &loss, &mut written)?;
    let acc_png = save("curves_accuracy.png", &acc, &mut written)?;
    let heat_png = save("confusion.png", &heat, &mut written)?;
    let bars_png = save("per_class.png", &bars, &mut written)?;
    let aug_png = std::fs::read(run.file("augmentation.png")).ok();
    let audit: Option<serde_json::Value> = read_text(&run, "audit.json")
        .ok()
        .and_then(|t| serde_json::from_str(&t).ok());

    // HTML.
    let img = |png: &[u8], alt: &str| {
        format!(
            "<img alt=\"{}\" src=\"data:image/png;base64,{}\">",
            esc(alt),
            base64(png)
        )
    };
    let r = &report["report"];
    let total_seconds: f64 = history
        .iter()
        .map(|h| num(&h["seconds"]))
        .filter(|v| v.is_finite())
        .sum();
    let mut h = String::new();
    h.push_str("<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><title>augtrain run report</title>\n<style>\n");
    h.push_str("body{font-family:system-ui,-apple-system,'Segoe UI',sans-serif;margin:2em auto;max-width:1100px;color:#222;padding:0 1em}\n");
    h.push_str("h1{font-size:1.6em}h2{border-bottom:1px solid #ddd;padding-bottom:.2em;margin-top:1.6em}\n");
    h.push_str("table{border-collapse:collapse;margin:.6em 0}td,th{border:1px solid #ddd;padding:.25em .6em;text-align:right}th{background:#f4f6f8}td:first-child,th:first-child{text-align:left}\n");
    h.push_str("pre{background:#f6f8fa;padding:1em;overflow:auto;font-size:.85em}img{max-width:100%;border:1px solid #eee;margin:.4em .4em .4em 0}\n");
    h.push_str(".big{font-size:2em;font-weight:600}.cards{display:flex;gap:1.5em;flex-wrap:wrap}.card{background:#f6f8fa;padding:.8em 1.2em;border-radius:6px}\n#toc a{margin-right:1em}\n</style></head><body>\n");
    h.push_str(&format!(
        "<h1>augtrain run: {}</h1>\n<nav id=\"toc\"></nav>\n",
        esc(&dir
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default())
    ));
    h.push_str("<h2 id=\"summary\">Summary</h2>\n<div class=\"cards\">");
    h.push_str(&format!(
        "<div class=\"card\"><div class=\"big\">{}</div>test accuracy</div>",
        f4(num(&report["accuracy"]))
    ));
    h.push_str(&format!(
        "<div class=\"card\"><div class=\"big\">{}</div>macro F1</div>",
        f4(num(&r["macro_avg"]["f1"]))
    ));
    h.push_str(&format!(
        "<div class=\"card\"><div class=\"big\">{}</div>test images</div>",
        report["samples"]
    ));
    h.push_str(&format!(
        "<div class=\"card\"><div class=\"big\">{}</div>epochs</div>",
        history.len()
    ));
    h.push_str(&format!("<div class=\"card\"><div class=\"big\">{total_seconds:.1} s</div>training time</div></div>\n"));
    h.push_str("<h2 id=\"dataset\">Dataset</h2>\n");
    h.push_str(&format!(
        "<p>{} — {}×{}×{} images, {} classes. {}</p>\n<table><tr><th>class</th><th>train</th><th>val</th><th>test</th></tr>\n",
        esc(&dataset.name),
        dataset.shape[0],
        dataset.shape[1],
        dataset.shape[2],
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
    if let Some(a) = &audit {
        h.push_str("<h2 id=\"audit\">Audit</h2>\n<table><tr><th>issue</th><th>images</th></tr>\n");
        if let Some(m) = a["issue_counts"].as_object() {
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
    h.push_str("<h2 id=\"training\">Training</h2>\n");
    h.push_str(&img(&loss_png, "loss per epoch"));
    h.push_str(&img(&acc_png, "accuracy per epoch"));
    h.push_str("\n<table><tr><th>epoch</th><th>lr</th><th>train loss</th><th>train acc</th><th>val loss</th><th>val acc</th><th>val macro F1</th><th>images/s</th><th>seconds</th></tr>\n");
    for e in &history {
        h.push_str(&format!(
            "<tr><td>{}</td><td>{:.5}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{:.0}</td><td>{:.1}</td></tr>\n",
            e["epoch"],
            num(&e["lr"]),
            f4(num(&e["train_loss"])),
            f4(num(&e["train_accuracy"])),
            f4(num(&e["val_loss"])),
            f4(num(&e["val_accuracy"])),
            f4(num(&e["val_macro_f1"])),
            num(&e["images_per_second"]),
            num(&e["seconds"])
        ));
    }
    h.push_str("</table>\n<h2 id=\"metrics\">Test metrics</h2>\n<table><tr><th>class</th><th>precision</th><th>recall</th><th>f1-score</th><th>support</th></tr>\n");
    for c in &classes {
        h.push_str(&format!(
            "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>\n",
            esc(c["name"].as_str().unwrap_or("?")),
            f4(num(&c["precision"])),
            f4(num(&c["recall"])),
            f4(num(&c["f1"])),
            c["support"]
        ));
    }
    for (label, key) in [("macro avg", "macro_avg"), ("weighted avg", "weighted")] {
        let a = &r[key];
        h.push_str(&format!(
            "<tr><th>{label}</th><th>{}</th><th>{}</th><th>{}</th><th>{}</th></tr>\n",
            f4(num(&a["precision"])),
            f4(num(&a["recall"])),
            f4(num(&a["f1"])),
            a["support"]
        ));
    }
    h.push_str("</table>\n");
    h.push_str(&img(&bars_png, "precision, recall and F1 per class"));
    h.push_str(&img(&heat_png, "confusion matrix"));
    if let Some(png) = &aug_png {
        h.push_str("\n<h2 id=\"augmentation\">Augmentation</h2>\n<p>Each row: an original training image, then its augmented versions in epochs 0, 1, 2, ...</p>\n");
        h.push_str(&img(png, "augmentation contact sheet"));
    }
    h.push_str(&format!(
        "\n<h2 id=\"config\">Configuration</h2>\n<pre>{}</pre>\n",
        esc(&config)
    ));
    h.push_str(&format!(
        "<p><small>augtrain {} ({}), report drawn {}</small></p>\n",
        env!("CARGO_PKG_VERSION"),
        crate::GIT_COMMIT,
        augtrain_data::util::time::iso8601_now()
    ));
    h.push_str("<script>\n// Table of contents from the section headings.\nconst toc = document.getElementById('toc');\nfor (const h of document.querySelectorAll('h2[id]')) {\n  const a = document.createElement('a');\n  a.href = '#' + h.id;\n  a.textContent = h.textContent;\n  toc.appendChild(a);\n}\ndocument.body.dataset.ready = 'yes';\n</script>\n</body></html>\n");
    augtrain_data::util::fs::write_atomic(&run.file("report.html"), h.as_bytes())?;
    written.push("report.html".into());
    Ok(written)
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
