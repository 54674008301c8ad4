//! The GPU battery's training part (`augtrain bench gpu`): images per second of a whole training
//! epoch for every model, with the training images resident on the device and with each
//! batch's images uploaded, and the epoch's host/device traffic (syncs, bytes, kernel
//! launches). The augmentation part (copy ceiling, every op and the full pipeline as a
//! fraction of it) is the augment suite, which the battery runs first.

use serde::Serialize;

use super::rows::Rows;
use super::{Measurement, Options, Stats};
use crate::data::{self, DataSource, Dataset};
use crate::device::ComputeDevice;
use crate::train::progress::{Reporter, Verbosity};
use crate::train::{TrainError, Trainer};
use augtrain_run::config::ModelKind;
use augtrain_run::config::TrainConfig;
use augtrain_run::records::TransferCounts;

/// One model's training epoch on the GPU, resident and streamed.
#[derive(Clone, Debug, Serialize)]
pub struct EpochTraffic {
    /// Model and data.
    pub what: String,
    /// Whether the images were resident.
    pub resident: bool,
    /// Training images per second of the timed epoch.
    pub images_per_second: f64,
    /// The timed epoch's traffic.
    pub transfers: TransferCounts,
}

/// A model to train in the battery: kind, square image side as loaded (the ImageNet models
/// train on 224×224 crops of 256×256 images), training images.
struct Case {
    kind: ModelKind,
    side: usize,
    images: usize,
}

fn cases(opts: &Options) -> Vec<Case> {
    let case = |kind, side, images| Case { kind, side, images };
    if opts.quick {
        return vec![case(ModelKind::Mlp, 28, 256), case(ModelKind::Cnn, 28, 256)];
    }
    vec![
        case(ModelKind::Mlp, 28, 8000),
        case(ModelKind::Cnn, 28, 8000),
        case(ModelKind::ResnetSmall, 32, 8000),
        case(ModelKind::Resnet18, 256, 512),
        case(ModelKind::EfficientnetLite0, 256, 512),
    ]
}

/// The training images of a case: mnist-10k's for 28×28 when the data directory has it,
/// else built-in synthetic images of the case's side.
fn case_data(opts: &Options, case: &Case) -> crate::Result<Dataset> {
    let mnist = opts
        .data
        .as_ref()
        .map(|d| d.join("mnist-10k"))
        .filter(|d| case.side == 28 && d.exists());
    let source = match mnist {
        Some(dir) => DataSource::Idx(dir),
        None => DataSource::Synthetic {
            train: case.images,
            test: 1,
            size: case.side,
        },
    };
    let load = data::LoadOptions {
        val_fraction: 0.0,
        ..Default::default()
    };
    let train = data::load(&source, &load, 1)?.train;
    let keep: Vec<usize> = (0..train.len().min(case.images)).collect();
    Ok(train.subset(&keep))
}

/// Train `case` for two epochs on `train` and return the second (the first compiles the
/// kernels, burn's fusion among them; this build runs burn without autotune, so no kernel is
/// chosen by timing).
fn timed_epoch(
    case: &Case,
    train: &Dataset,
    device: &ComputeDevice,
    resident_fraction: f64,
) -> Result<(f64, TransferCounts), TrainError> {
    let cfg = TrainConfig {
        seed: 1,
        epochs: 2,
        batch_size: if case.side >= 256 { 32 } else { 64 },
        resident_fraction,
        model: augtrain_run::config::ModelConfig {
            kind: case.kind,
            ..Default::default()
        },
        ..TrainConfig::default()
    };
    let trainer = Trainer::new(&cfg, train, device)?;
    let quiet = Reporter::new(Verbosity::Quiet);
    let (trainer, first) = trainer.epoch(0, None, &quiet);
    first?;
    let (_, record) = trainer.epoch(1, None, &quiet);
    let record = record?;
    Ok((
        record.images_per_second,
        record.transfers.unwrap_or_default(),
    ))
}

/// Time one training epoch of every model on `device` (a GPU), resident and streamed; each
/// row is added to `rows` as it completes.
pub fn run(
    opts: &Options,
    device: &ComputeDevice,
    rows: &mut Rows,
    log: &dyn Fn(&str),
) -> crate::Result<Vec<EpochTraffic>> {
    let mut traffic = Vec::new();
    for case in cases(opts) {
        let what = format!(
            "{} {}x{} epoch, {} images",
            case.kind, case.side, case.side, case.images
        );
        if !opts.wants_case(&format!("train {what}")) {
            continue;
        }
        let train = case_data(opts, &case)?;
        for (resident, fraction) in [(true, 0.25), (false, 0.0)] {
            let (ips, transfers) = timed_epoch(&case, &train, device, fraction)?;
            let how = if resident {
                "resident images"
            } else {
                "per-batch upload"
            };
            log(&format!(
                "gpu train {what}, {how}: {ips:.0} images/s, {} host syncs, {} kernel launches",
                transfers.host_syncs,
                transfers.kernel_launches.unwrap_or(0)
            ));
            let seconds = train.len() as f64 / ips.max(1e-9);
            rows.push(Measurement {
                group: "gpu".into(),
                name: format!("train {what}, {how}"),
                engine: "gpu".into(),
                batch: train.len(),
                stats: Stats::single(seconds),
                items_per_second: ips,
                bytes_per_second: None,
                ceiling_fraction: None,
                note: Some(format!(
                    "second epoch, host clock; {} host syncs, {} kernel launches, {} image bytes uploaded",
                    transfers.host_syncs,
                    transfers.kernel_launches.unwrap_or(0),
                    transfers.image_bytes_uploaded
                )),
            })?;
            let t = EpochTraffic {
                what: what.clone(),
                resident: transfers.resident,
                images_per_second: ips,
                transfers,
            };
            rows.line("epoch_traffic", &t)?;
            traffic.push(t);
        }
    }
    Ok(traffic)
}
