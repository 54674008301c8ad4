//! Transfer learning on a folder of photos: the ants-and-bees photos of the PyTorch tutorial,
//! EfficientNet-Lite0 trained three ways: from scratch, only a new head on the frozen
//! ImageNet-pretrained network, and the whole pretrained network fine-tuned.
//!
//! `cargo run --release --example transfer_learning` (about an hour on two CPU cores;
//! `AUGTRAIN_EXAMPLE_QUICK=1` runs a few images for one epoch).

mod common;

use std::time::Instant;

use augtrain::data::source::Splits;
use augtrain::device;
use augtrain::train::RunSummary;
use augtrain_run::config::DeviceChoice;
use augtrain_run::config::ModelKind;
use augtrain_run::config::{Freeze, ScheduleKind, TrainConfig};
use common::{check, data, out_dir, quick, section, train_run};

/// One way of training, and what it gave.
struct Outcome {
    name: &'static str,
    summary: RunSummary,
    seconds: f64,
}

fn main() {
    // SAFETY: first statement, no other thread yet.
    unsafe { augtrain::device::prepare_environment() };
    let (Some(hym), Some(models)) = (data("hymenoptera"), data("models")) else {
        return;
    };
    let weights = models.join("efficientnet-lite0-57934424.pth");
    let out = out_dir("transfer_learning");

    section(1, "The photos and the recipe");
    let mut cfg = TrainConfig {
        epochs: if quick() { 1 } else { 10 },
        batch_size: 16,
        ..TrainConfig::default()
    };
    cfg.model.kind = ModelKind::EfficientnetLite0;
    cfg.data.path = Some(hym);
    // The ImageNet evaluation crop: loaded once at 256x256 (shorter side, centre), trained on
    // random resized crops of 224 with flips, evaluated on the centre 224.
    cfg.data.size = if quick() { [72, 72] } else { [256, 256] };
    cfg.optimizer.lr = Some(0.01);
    cfg.optimizer.momentum = 0.9;
    cfg.schedule.kind = ScheduleKind::Cosine;
    let splits = check(cfg.data.load(cfg.seed));
    let splits = if quick() { small(&splits, 6) } else { splits };
    println!(
        "{} training photos, {} for validation and testing (the folder's val/), loaded at {}x{}.",
        splits.train.len(),
        splits.test.len(),
        cfg.data.size[0],
        cfg.data.size[1]
    );
    println!(
        "Every run: EfficientNet-Lite0, SGD with momentum 0.9, batch 16, cosine schedule, {} epochs.",
        cfg.epochs
    );
    let dev = check(device::open(DeviceChoice::Auto));
    let mut outcomes = Vec::new();

    section(2, "From scratch");
    println!("Random weights: 245 photos are far too few to learn ImageNet-like features.");
    outcomes.push(timed("from scratch", &cfg, &splits, &dev, &out, "scratch"));

    section(3, "A new head on the frozen pretrained network");
    let mut head = cfg.clone();
    head.model.pretrained = Some(weights.clone());
    head.model.freeze = Freeze::Backbone;
    println!(
        "The 1000-class ImageNet head is replaced by a 2-class one, the only part that trains;"
    );
    println!("the backbone's weights and batch-norm statistics stay as published.");
    outcomes.push(timed("head only", &head, &splits, &dev, &out, "head-only"));

    section(4, "Fine-tuning the whole network");
    let mut full = cfg.clone();
    full.model.pretrained = Some(weights);
    full.optimizer.backbone_lr_scale = 0.1;
    println!(
        "Every weight trains; the pretrained backbone at a tenth of the new head's learning rate."
    );
    outcomes.push(timed("fine-tune", &full, &splits, &dev, &out, "fine-tune"));

    section(5, "Results");
    println!(
        "{:<14} {:>10} {:>10} {:>10} {:>14}",
        "", "test acc", "best val", "seconds", "95 % val at"
    );
    for o in &outcomes {
        let best = o
            .summary
            .history
            .iter()
            .map(|r| r.val_accuracy)
            .fold(f64::NAN, f64::max);
        let reached = o
            .summary
            .history
            .iter()
            .position(|r| r.val_accuracy >= 0.95)
            .map(|e| {
                let s: f64 = o.summary.history[..=e].iter().map(|r| r.seconds).sum();
                format!("epoch {} ({s:.0} s)", e + 1)
            })
            .unwrap_or_else(|| "never".into());
        println!(
            "{:<14} {:>9.1}% {:>9.1}% {:>10.0} {:>14}",
            o.name,
            100.0 * o.summary.report.accuracy,
            100.0 * best,
            o.seconds,
            reached
        );
    }
    println!(
        "\nThe report of each run (curves, confusion matrix, the augmentation contact sheet) is in"
    );
    for o in &outcomes {
        println!("  {}", o.summary.dir.join("report.html").display());
    }
}

/// Train `cfg` into `out/<dir>` and time it.
fn timed(
    name: &'static str,
    cfg: &TrainConfig,
    splits: &Splits,
    dev: &augtrain::device::ComputeDevice,
    out: &std::path::Path,
    dir: &str,
) -> Outcome {
    let start = Instant::now();
    let summary = train_run(cfg, splits, dev, out, dir);
    let seconds = start.elapsed().as_secs_f64();
    println!(
        "{name}: test accuracy {:.1}% after {seconds:.0} s",
        100.0 * summary.report.accuracy
    );
    Outcome {
        name,
        summary,
        seconds,
    }
}

/// The first `n` images of each class of every split (quick mode).
fn small(splits: &Splits, n: usize) -> Splits {
    let pick = |d: &augtrain::data::Dataset| {
        let mut taken = vec![0; d.num_classes()];
        let keep: Vec<usize> = (0..d.len())
            .filter(|&i| {
                let c = d.labels[i] as usize;
                taken[c] += 1;
                taken[c] <= n
            })
            .collect();
        d.subset(&keep)
    };
    Splits {
        train: pick(&splits.train),
        val: pick(&splits.val),
        test: pick(&splits.test),
        ..splits.clone()
    }
}
