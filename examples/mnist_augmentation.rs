//! MNIST with and without augmentation: the same CNN, the same seed, the only difference is the
//! default gray pipeline (small rotations, shifts and scale changes). Numbers and curves.
//!
//! `cargo run --release --example mnist_augmentation`

mod common;

use augtrain::device;
use augtrain::report::images::Picture;
use augtrain::report::plot::{PALETTE, Series, line_chart};
use augtrain::train::RunSummary;
use augtrain_run::config::DeviceChoice;
use augtrain_run::config::{AugmentConfig, ScheduleKind, TrainConfig};
use augtrain_run::records::EpochRecord;
use common::{check, data, out_dir, quick, section, train_run};

fn main() {
    // SAFETY: first statement, no other thread yet.
    unsafe { augtrain::device::prepare_environment() };
    let Some(mnist) = data("mnist-10k") else {
        return;
    };
    let out = out_dir("mnist_augmentation");

    section(1, "The recipe");
    let mut cfg = TrainConfig {
        epochs: if quick() { 1 } else { 10 },
        ..TrainConfig::default()
    };
    cfg.data.path = Some(mnist);
    cfg.data.val_fraction = 0.1;
    cfg.optimizer.lr = Some(0.05);
    cfg.schedule.kind = ScheduleKind::Constant;
    println!(
        "LeNet-style CNN, SGD momentum 0.9, lr 0.05, batch 64, {} epochs, seed {}.",
        cfg.epochs, cfg.seed
    );
    let mut splits = check(cfg.data.load(cfg.seed));
    if quick() {
        let keep: Vec<usize> = (0..1000).collect();
        splits.train = splits.train.subset(&keep);
    }
    println!(
        "{} training, {} validation, {} test images.",
        splits.train.len(),
        splits.val.len(),
        splits.test.len()
    );

    let dev = check(device::open(DeviceChoice::Auto));
    let mut results = Vec::new();
    for (k, (name, augment)) in [
        ("none", AugmentConfig::None),
        ("default", AugmentConfig::Default),
    ]
    .into_iter()
    .enumerate()
    {
        section(2 + k, &format!("Training with augmentation = {name}"));
        let run_cfg = TrainConfig {
            augment,
            ..cfg.clone()
        };
        let summary = train_run(&run_cfg, &splits, &dev, &out, name);
        println!("test accuracy {:.4}", summary.report.accuracy);
        results.push((name, summary));
    }

    section(4, "The effect");
    for (name, s) in &results {
        let best_val = s.history.iter().map(|h| h.val_accuracy).fold(0.0, f64::max);
        println!(
            "{name:>8}: test accuracy {:.4}, best validation accuracy {:.4}, final train loss {:.4}",
            s.report.accuracy,
            best_val,
            s.history.last().map(|h| h.train_loss).unwrap_or(f64::NAN)
        );
    }
    let gain = results[1].1.report.accuracy - results[0].1.report.accuracy;
    println!(
        "augmentation changed test accuracy by {:+.2} points.",
        100.0 * gain
    );
    let path = out.join("accuracy_with_vs_without_augmentation.png");
    check(accuracy_chart(&results).save_png(&path));
    println!(
        "Curves: {} (augmented training accuracy runs lower: the task is harder; validation is what counts).",
        path.display()
    );
}

/// Validation and training accuracy per epoch of each run.
fn accuracy_chart(results: &[(&str, RunSummary)]) -> Picture {
    let series: Vec<Series> = results
        .iter()
        .enumerate()
        .flat_map(|(k, (name, s))| {
            let curve = |f: fn(&EpochRecord) -> f64| -> Vec<(f64, f64)> {
                s.history.iter().map(|h| (h.epoch as f64, f(h))).collect()
            };
            [
                Series {
                    name: format!("{name}: validation"),
                    color: PALETTE[k],
                    points: curve(|h| h.val_accuracy),
                },
                Series {
                    name: format!("{name}: train"),
                    color: PALETTE[k + 2],
                    points: curve(|h| h.train_accuracy),
                },
            ]
        })
        .collect();
    line_chart(
        "MNIST CNN: accuracy with and without augmentation",
        "epoch",
        "accuracy",
        &series,
        760,
        420,
    )
}
