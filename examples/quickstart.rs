//! Quickstart: the built-in synthetic dataset, one look at the augmentation, a training run,
//! and the report it leaves behind.
//!
//! `cargo run --release --example quickstart`

mod common;

use augtrain::augment::{Augmenter, Engine, PipelineSpec};
use augtrain::device;
use augtrain::report::images::augmentation_sheet;
use augtrain_run::config::DeviceChoice;
use augtrain_run::config::TrainConfig;
use common::{check, out_dir, quick, section, train_run};

fn main() {
    // SAFETY: first statement, no other thread yet.
    unsafe { augtrain::device::prepare_environment() };
    let out = out_dir("quickstart");
    let mut cfg = TrainConfig::default();
    if quick() {
        cfg.epochs = 1;
        cfg.data.synthetic_train = 600;
        cfg.data.synthetic_test = 200;
    }

    section(1, "The data");
    println!(
        "With no --data, augtrain draws its own dataset: ten classes of coloured shapes, 32x32,"
    );
    println!(
        "with random position, size, rotation, colour and background. Same seed, same images."
    );
    let splits = check(cfg.data.load(cfg.seed));
    println!(
        "train {} / val {} / test {} images; classes: {}",
        splits.train.len(),
        splits.val.len(),
        splits.test.len(),
        splits.train.class_names.join(", ")
    );

    section(2, "What augmentation does to it");
    let spec = PipelineSpec::default_for(3, 32, 32);
    println!(
        "The default colour pipeline: {}.",
        spec.ops
            .iter()
            .map(|o| o.name())
            .collect::<Vec<_>>()
            .join(" -> ")
    );
    let aug = check(Augmenter::new(
        &spec,
        augtrain::data::ImageShape::new(32, 32, 3),
        cfg.seed,
        Engine::Cpu,
    ));
    let sheet = check(augmentation_sheet(
        &aug.program,
        aug.seed,
        &splits.train,
        8,
        6,
    ));
    let sheet_path = out.join("augmentation.png");
    check(sheet.save_png(&sheet_path));
    println!(
        "Each row of {} shows an image and its versions in epochs 0..5.",
        sheet_path.display()
    );

    section(3, "Training");
    let dev = check(device::open(DeviceChoice::Auto));
    println!("Device: {} ({}).", dev.describe(), dev.reason);
    let summary = train_run(&cfg, &splits, &dev, &out, "run");

    section(4, "Results");
    let r = &summary.report;
    println!(
        "test accuracy {:.4}, macro F1 {:.4} on {} images",
        r.accuracy, r.macro_avg.f1, r.samples
    );
    if let Some(last) = summary.history.last() {
        println!(
            "last epoch: train loss {:.4}, validation accuracy {:.4}, {:.0} images/s",
            last.train_loss, last.val_accuracy, last.images_per_second
        );
    }
    println!(
        "\nThe run directory {} holds the config, per-epoch metrics, the report (text,",
        summary.dir.display()
    );
    println!(
        "JSON and report.html with charts), predictions, the confusion matrix and a checkpoint."
    );
}
