//! A whole training run, top to bottom: load nothing (the data comes in), claim or resume the
//! run directory, train epoch by epoch with a checkpoint after each, evaluate the test split,
//! write the report.

use std::path::PathBuf;

use super::progress::Reporter;
use super::trainer::Trainer;
use super::{TrainError, evaluate::Evaluation};
use crate::data::{Dataset, Splits};
use crate::device::ComputeDevice;
use crate::metrics::ClassificationReport;
use augtrain_run::config::TrainConfig;
use augtrain_run::records::{DatasetSummary, EpochRecord, Progress, TestReport};
use augtrain_run::run_dir::{PredictionRows, RunDir, file};

/// Options of a training run that are not part of its config.
#[derive(Clone, Debug)]
pub struct RunOptions {
    /// Parent of run directories (`runs/`).
    pub runs_dir: PathBuf,
    /// Run name; default `<data>-<model>-<time>`.
    pub name: Option<String>,
    /// Continue this run directory from its checkpoint.
    pub resume: Option<PathBuf>,
}

/// What a finished run reports.
#[derive(Clone, Debug)]
pub struct RunSummary {
    /// The run directory.
    pub dir: PathBuf,
    /// Final test report.
    pub report: ClassificationReport,
    /// Per-epoch history.
    pub history: Vec<EpochRecord>,
    /// Device description.
    pub device: String,
    /// Whether augmentation ran on the GPU kernel.
    pub augment_on_gpu: bool,
}

/// Train from `cfg` on already loaded `data`, on `device`, writing the run directory. The
/// run's files change only when an epoch completes (a failed `--resume` leaves them as they
/// were); the checkpoint is replaced after every epoch.
pub fn run(
    cfg: &TrainConfig,
    data: &Splits,
    device: &ComputeDevice,
    opts: &RunOptions,
    reporter: &Reporter,
) -> Result<RunSummary, TrainError> {
    // Pretrained weights are read (and checked) here, before the run directory exists; a
    // resumed run takes its weights from the checkpoint instead.
    let mut trainer = match opts.resume {
        Some(_) => Trainer::for_resume(cfg, &data.train, device)?,
        None => Trainer::new(cfg, &data.train, device)?,
    };
    // Too large a batch for the device fails here, before the run directory exists.
    trainer.check_batches(data.val.len().max(data.test.len()))?;
    let (run, mut progress) = claim_run(&mut trainer, cfg, data, opts)?;
    announce(reporter, cfg, data, device, &trainer, &run);
    let first = progress.epochs_done;
    for epoch in first..cfg.epochs {
        let record;
        (trainer, record) = trainer.epoch(epoch, Some(&data.val), reporter);
        let record = record.map_err(|e| e.with_last_good(progress.epochs_done))?;
        reporter.line(&epoch_line(&record, cfg.epochs));
        progress.history.push(record);
        progress.epochs_done = epoch + 1;
        progress.batch_norm_batches += trainer.batch_norm_batches_per_epoch();
        if epoch == first {
            write_run_files(&run, &trainer, data)?;
        }
        run.write_metrics(&progress.history)?;
        trainer.save_checkpoint(&run, &progress)?;
    }
    let bar = reporter.images("evaluating", data.test.len());
    let eval = trainer.evaluate(&data.test, true, Some(&bar));
    bar.finish();
    let eval = eval?;
    let report = write_test_outputs(&run, cfg, &data.test, &eval)?;
    draw_report(&run, &trainer, data, reporter);
    reporter.line("");
    reporter.line(&report.to_text(4));
    reporter.line(&format!(
        "test accuracy {:.4}  ({} images)",
        report.accuracy, report.samples
    ));
    Ok(RunSummary {
        dir: run.path().to_path_buf(),
        report,
        history: progress.history,
        device: device.describe(),
        augment_on_gpu: trainer.train_augmenter().on_gpu(),
    })
}

/// The run directory and the progress to continue from: a resumed run continues in place from
/// its checkpoint; a new one is claimed after the file system says there is room for it.
fn claim_run(
    trainer: &mut Trainer,
    cfg: &TrainConfig,
    data: &Splits,
    opts: &RunOptions,
) -> Result<(RunDir, Progress), TrainError> {
    if let Some(dir) = &opts.resume {
        let run = RunDir::resume(dir)?;
        let ckpt = run.checkpoint()?;
        let mut progress = ckpt.progress.clone();
        trainer.restore(ckpt)?;
        run.remove_abandoned_temps();
        progress.history = run.reconcile_history(&progress);
        return Ok((run, progress));
    }
    let name = opts.name.clone().unwrap_or_else(|| {
        format!(
            "{}-{}-{}",
            data.name,
            cfg.model.kind,
            crate::util::time::compact_now()
        )
    });
    // Asked of the file system before anything is created: a full disk leaves nothing.
    crate::util::fs::check_space(&opts.runs_dir.join(&name), trainer.space_needed())?;
    let run = RunDir::create(&opts.runs_dir, &name, opts.name.is_none())?;
    Ok((run, Progress::default()))
}

/// The files that describe the run: resolved config, model card, dataset summary, every
/// image's split by path and content, skipped files (this load's: none removes the list).
fn write_run_files(run: &RunDir, trainer: &Trainer, data: &Splits) -> Result<(), TrainError> {
    run.write_config(&trainer.resolved_config())?;
    run.write_model_card(&trainer.model_card())?;
    run.write_dataset(&dataset_summary(data))?;
    run.write_splits(&crate::data::membership::record(data))?;
    run.write_skipped(&data.report.skipped)?;
    Ok(())
}

/// What the run trained on, for `dataset.json`.
fn dataset_summary(data: &Splits) -> DatasetSummary {
    DatasetSummary {
        name: data.name.clone(),
        provenance: data.provenance.clone(),
        shape: data.train.shape,
        classes: data.train.class_names.clone(),
        counts: [
            data.train.class_counts(),
            data.val.class_counts(),
            data.test.class_counts(),
        ],
        skipped: data
            .report
            .skipped
            .iter()
            .map(|s| (s.path.clone(), s.reason.to_string()))
            .collect(),
    }
}

/// The run's opening lines: data, model, device, directory, splits, balance, skipped files.
fn announce(
    reporter: &Reporter,
    cfg: &TrainConfig,
    data: &Splits,
    device: &ComputeDevice,
    trainer: &Trainer,
    run: &RunDir,
) {
    reporter.line(&format!(
        "augtrain: {} ({} train / {} val / {} test, {}, {} classes) | {} | {} | augmentation on {}",
        data.name,
        data.train.len(),
        data.val.len(),
        data.test.len(),
        data.train.shape,
        data.train.num_classes(),
        cfg.model.kind,
        device.describe(),
        if trainer.train_augmenter().on_gpu() {
            "the GPU (fused WGSL kernel)"
        } else {
            "the CPU (twin)"
        },
    ));
    reporter.line(&format!("run directory: {}", run.path().display()));
    for line in trainer.streaming_lines() {
        reporter.line(line);
    }
    if let Some(report) = trainer.pretrained() {
        reporter.line(&report.describe(data.train.num_classes()));
    }
    if cfg.model.freeze == augtrain_run::config::Freeze::Backbone {
        reporter
            .line("frozen: the backbone (weights and batch-norm statistics); only the head trains");
    }
    reporter.line(&format!("splits: {}", data.provenance));
    for note in &data.report.notes {
        reporter.line(&format!("note: {note}"));
    }
    if cfg.balance != crate::data::balance::Balance::None {
        let set = trainer.train_set();
        reporter.line(&format!(
            "balance: {} on the training split ({} images per epoch, class counts {:?})",
            crate::util::names::name(&cfg.balance),
            set.len(),
            set.class_counts()
        ));
    }
    if let Some(first) = data.report.skipped.first() {
        reporter.line(&format!(
            "skipped {} unusable files (listed in {}), e.g. {}: {}",
            data.report.skipped.len(),
            file::SKIPPED,
            first.path,
            first.reason
        ));
    }
}

/// One line per finished epoch.
fn epoch_line(record: &EpochRecord, epochs: usize) -> String {
    let val = if record.val_loss.is_nan() && record.val_accuracy.is_nan() {
        "no validation split".to_string()
    } else {
        format!(
            "val loss {:.4} acc {:.4}",
            record.val_loss, record.val_accuracy
        )
    };
    format!(
        "epoch {}/{}  lr {:.4}  train loss {:.4} acc {:.4}  {}  {:.0} img/s  {:.1} s",
        record.epoch,
        epochs,
        record.lr,
        record.train_loss,
        record.train_accuracy,
        val,
        record.images_per_second,
        record.seconds
    )
}

/// Write `report.txt`, `report.json`, `predictions.csv` and `confusion.csv` for a test
/// evaluation; returns the report.
pub fn write_test_outputs(
    run: &RunDir,
    cfg: &TrainConfig,
    test: &Dataset,
    eval: &Evaluation,
) -> Result<ClassificationReport, TrainError> {
    let report =
        ClassificationReport::new(&eval.confusion, None, &test.class_names, cfg.zero_division);
    run.write_test_report(&TestReport::new(report.clone(), eval.loss))?;
    if let Some(probabilities) = &eval.probabilities {
        run.write_predictions(&PredictionRows {
            paths: &test.paths,
            y_true: &test.labels,
            y_pred: &eval.predictions,
            probabilities,
            class_names: &test.class_names,
        })?;
    }
    run.write_confusion(&eval.confusion, &test.class_names)?;
    Ok(report)
}

/// The augmentation contact sheet, the charts and the HTML report. A failure here costs the
/// report, not the run: it is said, and the run succeeds.
fn draw_report(run: &RunDir, trainer: &Trainer, data: &Splits, reporter: &Reporter) {
    let aug = trainer.train_augmenter();
    let sheet =
        crate::report::images::augmentation_sheet(&aug.program, aug.seed, &data.train, 8, 6);
    match sheet.map(|s| s.save_png(&run.file(file::AUGMENTATION))) {
        Ok(Ok(())) => {}
        Ok(Err(e)) => reporter.line(&format!("warning: no augmentation contact sheet: {e}")),
        Err(e) => reporter.line(&format!("warning: no augmentation contact sheet: {e}")),
    }
    match crate::report::html::render(run.path()) {
        Ok(_) => reporter.line(&format!(
            "report: {}",
            run.file(file::REPORT_HTML).display()
        )),
        Err(e) => reporter.line(&format!("warning: the HTML report could not be drawn: {e}")),
    }
}
