//! `augtrain predict --run DIR --data UNLABELLED`: predictions with confidence, pseudo-labels and
//! a review queue of the most uncertain images. With `--pretrained FILE --model ARCH` instead of
//! `--run`, the weights file's own head classifies (e.g. ImageNet's 1000 classes, by index or
//! by the names of `--class-names`), to check weights before training.

use std::path::{Path, PathBuf};

use clap::Args;
use rayon::prelude::*;

use crate::data::Dataset;
use crate::data::LoadOptions;
use crate::data::csv::{Table, Writer};
use crate::data::decode::decode_file;
use crate::data::files::{Skipped, hex};
use crate::data::source::{DataSource, load_whole};
use crate::device::{self, DeviceChoice};
use crate::label::{QueueBy, predict_row, pseudo_labels, review_queue};
use crate::model::ModelKind;
use crate::train::{Inference, evaluate};
use crate::util::escape::{escape, escape_path};
use crate::util::path_text;
use crate::{Error, util};
use augtrain_run::RunDir;
use augtrain_run::run_dir::OutputDir;

/// Flags of `augtrain predict`.
#[derive(Args, Debug)]
#[command(after_help = "Examples:
  augtrain predict --run runs/hym --data new-photos/ --pseudo-label --threshold 0.95 --max-per-class 50
  augtrain predict --run runs/hym --data new-photos/ --queue margin --top 20
  augtrain predict --pretrained efficientnet-lite0.pth --model efficientnet-lite0 --data photos/ --class-names imagenet.txt")]
pub struct PredictArgs {
    /// The run directory of a trained model.
    #[arg(long, required_unless_present = "pretrained", conflicts_with = "pretrained")]
    run: Option<PathBuf>,
    /// Predict with this weights file's own head instead of a run (.pth, .pt, .safetensors).
    #[arg(long, requires = "model")]
    pretrained: Option<PathBuf>,
    /// The architecture of --pretrained (e.g. efficientnet-lite0, resnet18).
    #[arg(long, requires = "pretrained")]
    model: Option<ModelKind>,
    /// With --pretrained: a text file of class names, one per line in the head's order
    /// (default: the class indices).
    #[arg(long, requires = "pretrained")]
    class_names: Option<PathBuf>,
    /// Images to predict: a folder (searched recursively), a CSV with a `path` column, or any
    /// dataset augtrain reads (its labels are ignored).
    #[arg(long)]
    data: PathBuf,
    /// Write confident predictions as a manifest of pseudo-labels.
    #[arg(long)]
    pseudo_label: bool,
    /// Smallest confidence accepted as a pseudo-label.
    #[arg(long, default_value_t = 0.95)]
    threshold: f64,
    /// At most this many pseudo-labels per class (the most confident).
    #[arg(long)]
    max_per_class: Option<usize>,
    /// Review queue order: least-confidence, margin or entropy.
    #[arg(long)]
    queue: Option<QueueBy>,
    /// Images in the review queue.
    #[arg(long, default_value_t = 50)]
    top: usize,
    /// Output directory (default: <run>/predict-<time>, or ./predict-<time> with --pretrained);
    /// must not exist or be empty.
    #[arg(long)]
    out: Option<PathBuf>,
    /// Replace an existing --out directory (as a whole, once the new one is complete).
    #[arg(long)]
    force: bool,
    /// Compute device (default auto).
    #[arg(long, default_value = "auto")]
    device: DeviceChoice,
    /// Print nothing but errors.
    #[arg(long, short)]
    quiet: bool,
}

fn is_hidden(p: &Path) -> bool {
    p.file_name()
        .map(|n| n.to_string_lossy().starts_with('.'))
        .unwrap_or(false)
}

fn walk(dir: &Path, root: &Path, out: &mut Vec<(PathBuf, String)>) -> crate::Result<()> {
    let mut entries: Vec<PathBuf> = std::fs::read_dir(dir)
        .map_err(|e| util::fs::IoError::new("read", dir, e))?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| !is_hidden(p))
        .collect();
    entries.sort();
    for p in entries {
        if p.is_dir() {
            walk(&p, root, out)?;
        } else {
            let rel = path_text::encode(p.strip_prefix(root).unwrap_or(&p));
            out.push((p, rel));
        }
    }
    Ok(())
}

/// The images to predict, decoded to the model's input, with the files that could not be used.
fn load_unlabelled(
    path: &Path,
    opts: &LoadOptions,
    class_names: &[String],
) -> crate::Result<(Dataset, Vec<Skipped>)> {
    let files: Vec<(PathBuf, String)> = if path.is_dir()
        && !DataSource::from_path(path).is_ok_and(|s| !matches!(s, DataSource::Folder(_)))
    {
        let mut v = Vec::new();
        walk(path, path, &mut v)?;
        v
    } else if path
        .extension()
        .is_some_and(|e| e.eq_ignore_ascii_case("csv"))
    {
        let table = Table::read(path)?;
        let pc = table
            .column("path")
            .ok_or_else(|| Error::Usage(format!("{}: no 'path' column", escape_path(path))))?;
        let base = path.parent().unwrap_or(Path::new("."));
        table
            .rows()
            .iter()
            .map(|row| {
                let file = path_text::decode(row.fields[pc].trim());
                (base.join(&file), path_text::encode(&file))
            })
            .collect()
    } else {
        // A labelled dataset: predict every image, ignoring its labels.
        let source = DataSource::from_path(path)?;
        let whole = load_whole(&source, opts, 42)?;
        if whole.data.shape != opts.file_shape() {
            return Err(Error::Usage(format!(
                "{} holds {} images but the model takes {}",
                escape_path(path),
                whole.data.shape,
                opts.file_shape()
            )));
        }
        let mut d = whole.data;
        d.class_names = class_names.to_vec();
        d.labels = vec![0; d.len()];
        return Ok((d, whole.report.skipped));
    };
    if files.is_empty() {
        return Err(Error::Usage(format!(
            "{}: no files to predict",
            escape_path(path)
        )));
    }
    let decoded: Vec<_> = files
        .par_iter()
        .map(|(p, _)| decode_file(p, opts).map(|(d, _)| d.pixels))
        .collect();
    let (mut pixels, mut paths, mut skipped) = (Vec::new(), Vec::new(), Vec::new());
    for ((_, rel), r) in files.iter().zip(decoded) {
        match r {
            Ok(px) => {
                pixels.extend_from_slice(&px);
                paths.push(rel.clone());
            }
            Err(reason) => skipped.push(Skipped {
                path: rel.clone(),
                reason,
            }),
        }
    }
    let n = paths.len();
    if n == 0 {
        return Err(Error::Usage(format!(
            "{}: none of the {} files could be used",
            escape_path(path),
            files.len()
        )));
    }
    let ds = Dataset::from_pixels(
        opts.file_shape(),
        class_names.to_vec(),
        pixels,
        vec![0; n],
        (0..n as u64).collect(),
        paths,
    );
    Ok((ds, skipped))
}

/// The run's model, or the weights file's with its own head.
fn load_model(args: &PredictArgs, dev: &device::ComputeDevice) -> crate::Result<Inference> {
    match (&args.run, &args.pretrained, args.model) {
        (Some(run), _, _) => Ok(Inference::load(&RunDir::open(run)?, dev)?),
        (None, Some(file), Some(kind)) => {
            let names = match &args.class_names {
                Some(path) => Some(read_class_names(path)?),
                None => None,
            };
            Ok(Inference::pretrained(kind, file, names, dev)?)
        }
        _ => Err(Error::Usage(
            "give --run DIR, or --pretrained FILE with --model".into(),
        )),
    }
}

/// The `n` most probable classes of one row, e.g. `281 tabby (0.62), 285 Egyptian cat (0.21)`
/// (the index first when the names are not the indices).
fn top_classes(probs: &[f32], names: &[String], n: usize) -> String {
    let mut order: Vec<usize> = (0..probs.len()).collect();
    order.sort_by(|&a, &b| probs[b].total_cmp(&probs[a]).then(a.cmp(&b)));
    order
        .iter()
        .take(n)
        .map(|&c| {
            if names[c] == c.to_string() {
                format!("{c} ({:.2})", probs[c])
            } else {
                format!("{c} {} ({:.2})", names[c], probs[c])
            }
        })
        .collect::<Vec<_>>()
        .join(", ")
}

/// Class names, one per non-empty line.
fn read_class_names(path: &Path) -> crate::Result<Vec<String>> {
    let text = String::from_utf8(util::fs::read(path)?)
        .map_err(|_| Error::Usage(format!("{}: not UTF-8 text", path.display())))?;
    Ok(text
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .map(String::from)
        .collect())
}

pub fn run(args: PredictArgs) -> crate::Result<()> {
    if !(0.0..=1.0).contains(&args.threshold) {
        return Err(Error::Usage(format!(
            "--threshold {}: use a probability in [0, 1]",
            args.threshold
        )));
    }
    let dev = device::open(args.device)?;
    let Inference {
        cfg,
        card,
        model,
        aug: eval_aug,
    } = load_model(&args, &dev)?;
    // The model's input shape and the run's decoding rules; nothing else of the training data.
    let opts = LoadOptions {
        size: [card.input.width as u32, card.input.height as u32],
        channels: card.input.channels,
        resize: cfg.data.resize,
        max_pixels: cfg.data.max_pixels,
        ..LoadOptions::default()
    };
    let (data, skipped) = load_unlabelled(&args.data, &opts, &card.class_names)?;
    let ev = evaluate(&model, &data, &eval_aug, 256, &cfg, &dev.device, true)?;
    let probs = ev.probabilities.expect("asked for probabilities");
    let k = card.class_names.len();
    let preds: Vec<_> = (0..data.len())
        .map(|i| predict_row(&probs[i * k..(i + 1) * k]))
        .collect();
    let base = args.run.clone().unwrap_or_else(|| PathBuf::from("."));
    let dir = OutputDir::claim(
        args.out.as_deref(),
        &base,
        &format!("predict-{}", util::time::compact_now()),
        args.force,
    )?;
    let names = &card.class_names;
    let header = ["path", "predicted", "confidence"]
        .map(String::from)
        .into_iter()
        .chain(names.iter().map(|n| format!("p_{n}")));
    let mut csv = Writer::new(header);
    for (i, p) in preds.iter().enumerate() {
        let fields = [
            data.paths[i].clone(),
            names[p.class].clone(),
            p.confidence.to_string(),
        ];
        csv.row(
            fields
                .into_iter()
                .chain(probs[i * k..(i + 1) * k].iter().map(|v| v.to_string())),
        );
    }
    dir.write("predictions.csv", &csv.finish())?;
    if !skipped.is_empty() {
        dir.write(
            "skipped.csv",
            augtrain_run::run_dir::skipped_csv(&skipped).as_bytes(),
        )?;
    }
    // An image's path from anywhere (path text, exact for any file name).
    let abs = |rel: &str| -> String {
        let rel = path_text::decode(rel);
        let p = if args.data.is_dir() {
            args.data.join(rel)
        } else {
            args.data.parent().unwrap_or(Path::new(".")).join(rel)
        };
        path_text::encode(&std::path::absolute(&p).unwrap_or(p))
    };
    let mut lines = vec![format!(
        "predicted {} images into {}",
        data.len(),
        dir.file("predictions.csv").display()
    )];
    if args.pretrained.is_some() {
        for (i, path) in data.paths.iter().enumerate() {
            lines.push(format!(
                "{path}: {}",
                top_classes(&probs[i * k..(i + 1) * k], names, 5)
            ));
        }
    }
    if args.pseudo_label {
        let accepted = pseudo_labels(&preds, args.threshold, args.max_per_class, k);
        let mut m = Writer::new(["path", "label", "confidence"]);
        for &i in &accepted {
            m.row([
                abs(&data.paths[i]),
                names[preds[i].class].clone(),
                preds[i].confidence.to_string(),
            ]);
        }
        dir.write("pseudo_labels.csv", &m.finish())?;
        lines.push(format!(
            "{} pseudo-labels at confidence >= {} ({}) in {}",
            accepted.len(),
            args.threshold,
            args.max_per_class
                .map(|m| format!("at most {m} per class"))
                .unwrap_or_else(|| "no cap per class".into()),
            dir.file("pseudo_labels.csv").display()
        ));
    }
    if let Some(by) = args.queue {
        let q = review_queue(&preds, by, args.top);
        let mut c = Writer::new([
            "rank",
            "path",
            "predicted",
            "confidence",
            "margin",
            "entropy",
        ]);
        let mut ls = Vec::new();
        for (r, &i) in q.iter().enumerate() {
            let p = &preds[i];
            c.row([
                (r + 1).to_string(),
                data.paths[i].clone(),
                names[p.class].clone(),
                p.confidence.to_string(),
                p.margin.to_string(),
                p.entropy.to_string(),
            ]);
            ls.push(serde_json::json!({
                "id": hex(&(i as u64).to_be_bytes()),
                "data": { "image": abs(&data.paths[i]) },
                "predictions": [{
                    "model_version": "augtrain",
                    "score": p.confidence,
                    "result": [{ "from_name": "label", "to_name": "image", "type": "choices", "value": { "choices": [names[p.class]] } }]
                }]
            }));
        }
        dir.write("review_queue.csv", &c.finish())?;
        dir.write(
            "review_queue.json",
            serde_json::to_string_pretty(&ls).expect("json").as_bytes(),
        )?;
        lines.push(format!(
            "review queue ({by:?}, top {}) in {}",
            q.len(),
            dir.file("review_queue.csv").display()
        ));
    }
    dir.publish()?;
    if !args.quiet {
        for l in lines {
            say!("{l}");
        }
        for s in &skipped {
            say!("  skipped {}: {}", escape(&s.path), s.reason);
        }
    }
    Ok(())
}
