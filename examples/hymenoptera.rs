//! An image folder from start to finish: inspect the ants-and-bees photos, audit them, train,
//! and read the report.
//!
//! `cargo run --release --example hymenoptera`

mod common;

use augtrain::audit::{AuditOptions, audit};
use augtrain::data::source::load_whole;
use augtrain::device;
use augtrain_run::config::DeviceChoice;
use augtrain_run::config::TrainConfig;
use common::{check, data, out_dir, quick, section, train_run};

fn main() {
    // SAFETY: first statement, no other thread yet.
    unsafe { augtrain::device::prepare_environment() };
    let Some(hym) = data("hymenoptera") else {
        return;
    };
    let out = out_dir("hymenoptera");
    let mut cfg = TrainConfig {
        epochs: if quick() { 1 } else { 15 },
        batch_size: 32,
        ..TrainConfig::default()
    };
    cfg.data.path = Some(hym.clone());
    cfg.data.size = if quick() { [32, 32] } else { [64, 64] };
    cfg.optimizer.lr = Some(0.01);

    section(1, "Inspect");
    let source = check(cfg.data.source());
    let whole = check(load_whole(&source, &cfg.data, cfg.seed));
    let r = &whole.report;
    let (w, h): (Vec<u32>, Vec<u32>) = r.original_sizes.iter().copied().unzip();
    println!(
        "{} photos in {} classes ({}), stored from {}x{} to {}x{} pixels; {} skipped.",
        whole.data.len(),
        whole.data.num_classes(),
        whole.data.class_names.join(", "),
        w.iter().min().unwrap_or(&0),
        h.iter().min().unwrap_or(&0),
        w.iter().max().unwrap_or(&0),
        h.iter().max().unwrap_or(&0),
        r.skipped.len()
    );
    println!(
        "They are decoded once, EXIF orientation applied, centre-cropped and resized to {}x{}.",
        cfg.data.size[0], cfg.data.size[1]
    );

    section(2, "Audit");
    let report = check(audit(
        &source,
        &cfg.data,
        cfg.seed,
        &AuditOptions::default(),
    ));
    print!("{}", report.summary(3));
    let audit_json = out.join("audit.json");
    check(std::fs::write(
        &audit_json,
        serde_json::to_string_pretty(&report).expect("json"),
    ));

    section(3, "Train");
    println!(
        "The folder has train/ and val/ but no test/: val is used for both validation and test."
    );
    let splits = check(cfg.data.load(cfg.seed));
    let dev = check(device::open(DeviceChoice::Auto));
    let summary = train_run(&cfg, &splits, &dev, &out, "run");

    section(4, "Report");
    // Put the audit beside the run so the HTML report shows it, then redraw.
    check(std::fs::copy(&audit_json, summary.dir.join("audit.json")));
    check(augtrain::report::html::render(&summary.dir));
    println!("{}", summary.report.to_text(3));
    println!(
        "Open {} in a browser: summary, dataset and audit tables, curves, confusion matrix,",
        summary.dir.join("report.html").display()
    );
    println!("per-class bars and the augmentation contact sheet, all in one file.");
}
