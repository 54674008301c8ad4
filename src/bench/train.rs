//! Training throughput: forward + backward + optimizer step for the MLP and the CNN at batch
//! 64 and 256, one end-to-end epoch (load → augment → train), and the per-phase profile.

use std::time::Instant;

use burn::optim::GradientsParams;
use burn::tensor::{Device, Distribution, Tensor};
use serde::Serialize;

use super::{Measurement, Options, time};
use crate::augment::gpu::ResidentImages;
use crate::data::{self, DataSource, Splits};
use crate::device::ComputeDevice;
use crate::model::Model;
use crate::train::device_metrics::ReadSchedule;
use crate::train::{self as training, Breakdown, EpochContext, loss, optim};
use augtrain_run::config::ModelKind;
use augtrain_run::config::{LossKind, TrainConfig};
use augtrain_run::records::TransferCounts;

/// Where the time of one training epoch goes.
#[derive(Clone, Debug, Serialize)]
pub struct EpochProfile {
    /// What was trained on what.
    pub what: String,
    /// Images in the epoch.
    pub images: usize,
    /// Wall time of the profiled epoch.
    pub seconds: f64,
    /// Seconds per phase.
    pub phases: Breakdown,
    /// Host/device traffic of the unprofiled epoch with per-batch uploads (the profiled one
    /// syncs after every phase).
    pub transfers: TransferCounts,
}

impl EpochProfile {
    /// The profile as a small table with shares of the total.
    pub fn to_table(&self) -> String {
        let p = &self.phases;
        let rows = [
            ("loading (order, gather)", p.loading),
            ("augmentation", p.augmentation),
            ("forward + loss", p.forward),
            ("backward", p.backward),
            ("optimizer step", p.optimizer),
            ("metrics (read back)", p.metrics),
        ];
        let total: f64 = rows.iter().map(|r| r.1).sum();
        let mut out = format!(
            "epoch profile: {} ({} images, {:.2} s, {:.0} images/s)\n",
            self.what,
            self.images,
            self.seconds,
            self.images as f64 / self.seconds
        );
        for (name, s) in rows {
            out.push_str(&format!(
                "  {:<26} {:>8.3} s  {:>5.1}%\n",
                name,
                s,
                100.0 * s / total.max(1e-12)
            ));
        }
        out.push_str(&transfer_table(&self.transfers));
        out
    }
}

/// Host/device traffic of one epoch as text lines.
pub fn transfer_table(t: &TransferCounts) -> String {
    let launches = t
        .kernel_launches
        .map_or("n/a (CPU)".to_string(), |l| l.to_string());
    format!(
        "  traffic of an unprofiled epoch{}:
    image bytes uploaded {:>14}
    other bytes uploaded {:>14}
    bytes read back      {:>14}
    host syncs           {:>14}
    kernel launches      {:>14}\n",
        if t.resident { " (resident images)" } else { "" },
        t.image_bytes_uploaded,
        t.other_bytes_uploaded,
        t.bytes_read_back,
        t.host_syncs,
        launches
    )
}

fn measurement(
    name: &str,
    engine: &str,
    n: usize,
    stats: super::Stats,
    note: Option<String>,
) -> Measurement {
    Measurement {
        group: "train".into(),
        name: name.into(),
        engine: engine.into(),
        batch: n,
        items_per_second: n as f64 / stats.median,
        bytes_per_second: None,
        ceiling_fraction: None,
        stats,
        note,
    }
}

/// The data for the epoch benchmarks: mnist-10k when present, else synthetic.
fn epoch_data(opts: &Options) -> crate::Result<(Splits, f64)> {
    let start = Instant::now();
    let source = opts
        .data
        .as_ref()
        .map(|d| d.join("mnist-10k"))
        .filter(|d| d.exists())
        .map(DataSource::Idx)
        .unwrap_or(DataSource::Synthetic {
            train: 8000,
            test: 2000,
            size: 32,
        });
    let opts = data::LoadOptions {
        val_fraction: 0.0,
        ..Default::default()
    };
    let splits = data::load(&source, &opts, 1)?;
    Ok((splits, start.elapsed().as_secs_f64()))
}

/// One training step (forward, cross-entropy, backward, SGD momentum step, loss read back) of
/// `kind` at 224×224×3, batch 32, 1000 classes, on a fixed random batch: the shape
/// `tools/torch_train_bench.py` times for PyTorch.
fn large_model_step(
    kind: ModelKind,
    opts: &Options,
    ad: &Device,
    engine: &str,
    log: &dyn Fn(&str),
) -> crate::Result<Measurement> {
    const BATCH: usize = 32;
    const CLASSES: usize = 1000;
    ad.seed(1);
    let shape = crate::data::ImageShape::new(224, 224, 3);
    let mut model = Model::new(kind, shape, CLASSES, 128, ad).map_err(crate::Error::Usage)?;
    let mut optimizer = optim::build(&TrainConfig::default().optimizer, &model);
    let x = Tensor::<4>::random([BATCH, 3, 224, 224], Distribution::Normal(0.0, 1.0), ad);
    let labels: Vec<u32> = (0..BATCH as u32).map(|i| i * 31 % CLASSES as u32).collect();
    let targets = loss::target_rows(&labels, None, CLASSES);
    let stats = time(1, opts.reps().min(5), || {
        let logits = model.clone().forward(x.clone());
        let l = loss::loss(LossKind::CrossEntropy, logits, &targets, None, ad);
        let grads = GradientsParams::from_grads(l.clone().backward(), &model);
        model = optimizer.step(0.01, model.clone(), grads);
        std::hint::black_box(l.into_scalar::<f32>());
    });
    let name = format!("{kind} 224x224 step, batch {BATCH}");
    let m = measurement(&name, engine, BATCH, stats, Some("1000 classes".into()));
    log(&format!(
        "train {name} {engine}: {:.1} images/s",
        m.items_per_second
    ));
    Ok(m)
}

/// Run the training benchmarks on `device`.
pub fn run(
    opts: &Options,
    device: &ComputeDevice,
    log: &dyn Fn(&str),
) -> crate::Result<(Vec<Measurement>, Option<EpochProfile>)> {
    let engine = if device.is_gpu() { "gpu" } else { "cpu" };
    let ad = device.device.clone().autodiff();
    let mut out = small_model_steps(opts, &ad, engine, log)?;
    for &kind in &opts.models {
        out.push(large_model_step(kind, opts, &ad, engine, log)?);
    }
    let (epochs, profile) = end_to_end_epoch(opts, device, &ad, engine, log)?;
    out.extend(epochs);
    Ok((out, profile))
}

/// Training steps of the MLP and the CNN on random 28x28 gray batches of 64 and 256.
fn small_model_steps(
    opts: &Options,
    ad: &Device,
    engine: &str,
    log: &dyn Fn(&str),
) -> crate::Result<Vec<Measurement>> {
    let mut out = Vec::new();
    let shape = crate::data::ImageShape::new(28, 28, 1);
    for kind in [ModelKind::Mlp, ModelKind::Cnn] {
        for batch in [64usize, 256] {
            ad.seed(1);
            let mut model = Model::new(kind, shape, 10, 128, ad).map_err(crate::Error::Usage)?;
            let mut optimizer = optim::build(&TrainConfig::default().optimizer, &model);
            let x = Tensor::<4>::random([batch, 1, 28, 28], Distribution::Uniform(0.0, 1.0), ad);
            let labels: Vec<u32> = (0..batch as u32).map(|i| i % 10).collect();
            let targets = loss::target_rows(&labels, None, 10);
            let mut step = || {
                let logits = model.clone().forward(x.clone());
                let l = loss::loss(LossKind::CrossEntropy, logits, &targets, None, ad);
                let grads = GradientsParams::from_grads(l.clone().backward(), &model);
                model = optimizer.step(0.01, model.clone(), grads);
                std::hint::black_box(l.into_scalar::<f32>());
            };
            // Several steps per timed run: single steps are too short to time steadily.
            let steps = (4096 / batch).max(4);
            let stats = time(1, opts.reps(), || {
                for _ in 0..steps {
                    step();
                }
            });
            let name = format!("{kind} 28x28 step, batch {batch}");
            let note = Some(format!("{steps} steps per timed run"));
            let mut m = measurement(&name, engine, batch, stats, note);
            m.items_per_second = (batch * steps) as f64 / m.stats.median;
            log(&format!(
                "train {name} {engine}: {:.0} images/s",
                m.items_per_second
            ));
            out.push(m);
        }
    }
    Ok(out)
}

/// One end-to-end epoch: load → augment (default pipeline) → train, CNN batch 64, with each
/// batch's images uploaded; on a GPU also with the training images resident (uploaded once,
/// before the epoch; that upload is timed apart); with `--breakdown`, another epoch timed per
/// phase and the first epoch's host/device traffic.
fn end_to_end_epoch(
    opts: &Options,
    device: &ComputeDevice,
    ad: &Device,
    engine: &str,
    log: &dyn Fn(&str),
) -> crate::Result<(Vec<Measurement>, Option<EpochProfile>)> {
    let (splits, load_seconds) = epoch_data(opts)?;
    let cfg = TrainConfig {
        seed: 1,
        batch_size: 64,
        ..TrainConfig::default()
    };
    let spec = training::resolve_pipeline(&cfg, &splits.train);
    let (train_aug, _) = training::augmenters(&spec, &splits.train, cfg.seed, device)?;
    let epoch_run = |resident: Option<&ResidentImages>,
                     breakdown: Option<&mut Breakdown>|
     -> crate::Result<(f64, TransferCounts)> {
        let model = training::build_model(&cfg, &train_aug, splits.train.num_classes(), ad)?;
        let mut optimizer = optim::build(&cfg.optimizer, &model);
        let mut ctx = EpochContext {
            data: &splits.train,
            aug: &train_aug,
            cfg: &cfg,
            device: ad,
            epoch: 0,
            lr: optim::EpochLr::constant(cfg.lr()),
            class_weights: None,
            resident,
            reads: ReadSchedule::from_sync_every(cfg.sync_every),
            replicas: &[],
        };
        let start = Instant::now();
        let (_, stats) = training::train_epoch(&mut ctx, model, &mut optimizer, None, breakdown);
        let stats = stats?;
        Ok((start.elapsed().as_secs_f64(), stats.transfers))
    };
    let (seconds, transfers) = epoch_run(None, None)?;
    let n = splits.train.len();
    let kernel = if train_aug.on_gpu() {
        "the GPU kernel"
    } else {
        "the CPU twin"
    };
    let what = format!(
        "{} cnn batch 64, default augmentation on {kernel}",
        splits.name
    );
    let row = |how: &str, seconds: f64| {
        let note = format!("{what}{how}; load {load_seconds:.2} s + train {seconds:.2} s");
        let name = format!("epoch end to end{how} ({})", splits.name);
        let m = measurement(
            &name,
            engine,
            n,
            super::Stats::single(seconds + load_seconds),
            Some(note),
        );
        log(&format!(
            "train epoch end to end {engine}{how}: {:.0} images/s",
            m.items_per_second
        ));
        m
    };
    let mut out = vec![row("", seconds)];
    // The resident images are uploaded once, before the timed epoch.
    let memory = device.adapter.as_ref().and_then(|a| a.memory);
    let (resident, streaming) =
        training::trainer::resident_images(&cfg, &train_aug, &splits.train, memory)?;
    if let Some(line) = streaming {
        log(&line);
    }
    if let Some(resident) = &resident {
        let (seconds, _) = epoch_run(Some(resident), None)?;
        out.push(row(", resident images", seconds));
    }
    let profile = if opts.breakdown {
        let mut phases = Breakdown::default();
        let (seconds, _) = epoch_run(resident.as_ref(), Some(&mut phases))?;
        Some(EpochProfile {
            what,
            images: n,
            seconds,
            phases,
            transfers,
        })
    } else {
        None
    };
    Ok((out, profile))
}
