//! `augtrain bench`: throughput against the machine's own ceilings.

use std::path::PathBuf;

use clap::Args;

use crate::bench::{self, Options, Suite};
use crate::device;
use crate::util::fs::write_atomic;
use augtrain_run::config::DeviceChoice;

/// Flags of `augtrain bench`.
#[derive(Args, Debug)]
#[command(after_help = "Examples:
  augtrain bench --quick                              # all suites, fewer repetitions
  augtrain bench augment --device gpu --json gpu.json
  augtrain bench augment --device gpu --filter masks  # the mask pairs alone
  augtrain bench gpu --device gpu --jsonl rows.jsonl  # one line per row as it completes
  augtrain bench train --breakdown --device cpu
  augtrain bench train --device cpu --models resnet18,efficientnet-lite0
  augtrain bench ops --device cpu --filter lenet --json burn_ops.json
  augtrain bench train --device cpu --reference /path/to/venv/bin/python
  augtrain bench agreement --device cpu --reference /path/to/venv/bin/python
  augtrain bench inference --device cpu --reference /path/to/venv/bin/python
  augtrain bench transfer --device cpu --filter \"default recipe\" --reference /path/to/venv/bin/python")]
pub struct BenchArgs {
    /// Which suite to run.
    #[arg(value_enum, default_value = "all")]
    suite: Suite,
    /// Compute device: auto, gpu or cpu.
    #[arg(long, default_value = "auto")]
    device: DeviceChoice,
    /// Also write the report as JSON (at the end).
    #[arg(long)]
    json: Option<PathBuf>,
    /// Append each row to this file as one JSON line the moment it completes, after a line
    /// describing the machine and the GPU adapter (a run cut short keeps its finished rows).
    #[arg(long)]
    jsonl: Option<PathBuf>,
    /// Time a software GPU adapter (Mesa lavapipe/llvmpipe, SwiftShader) or one seen through
    /// OpenGL instead of refusing it (smoke runs and tests).
    #[arg(long)]
    allow_software: bool,
    /// Fewer repetitions and cases.
    #[arg(long)]
    quick: bool,
    /// Also time every GPU augmentation case with the image upload in the timed call (host
    /// clock), beside its device-timed row.
    #[arg(long)]
    with_upload: bool,
    /// Profile one training epoch by phase (with `train` or `all`).
    #[arg(long)]
    breakdown: bool,
    /// Real data directory holding mnist-10k (default: $AUGTRAIN_TEST_DATA or ../shared/data).
    #[arg(long)]
    data: Option<PathBuf>,
    /// Also time the training step of these models at 224x224, batch 32 (train suite).
    #[arg(long, value_delimiter = ',')]
    models: Vec<augtrain_run::config::ModelKind>,
    /// The op cases of the ops suite (layer shapes and directions).
    #[arg(long, default_value = "tools/op_cases.json")]
    cases: PathBuf,
    /// Only the cases whose name contains this: ops suite (e.g. lenet), augment and gpu
    /// suites (e.g. hflip; `masks` runs the mask pairs alone), inference suite (e.g.
    /// `resnet18 forward, batch 1`, `embed`), transfer suite (`default recipe`, `tutorial,
    /// full`, `tutorial, head`).
    #[arg(long, alias = "case", default_value = "")]
    filter: String,
    /// Train suite: also time PyTorch's same steps with this Python (one with torch, e.g.
    /// a venv's bin/python) right after augtrain's, and note the ratios; inference suite:
    /// alternate with tools/torch_infer_bench.py, three rounds; agreement suite:
    /// time scikit-learn, krippendorff and crowd-kit on the same shape; transfer suite:
    /// alternate each seed's run with tools/transfer_reference.py. Skipped with a message
    /// when it cannot run.
    #[arg(long)]
    reference: Option<PathBuf>,
    /// Print only the final table.
    #[arg(long, short)]
    quiet: bool,
}

pub fn run(args: BenchArgs) -> crate::Result<()> {
    let data = args
        .data
        .clone()
        .or_else(|| std::env::var_os("AUGTRAIN_TEST_DATA").map(PathBuf::from))
        .or_else(|| Some(PathBuf::from("../shared/data")));
    let opts = Options {
        suite: args.suite,
        quick: args.quick,
        with_upload: args.with_upload,
        breakdown: args.breakdown,
        data,
        models: args.models.clone(),
        op_cases: args.cases.clone(),
        op_filter: args.filter.clone(),
        allow_software: args.allow_software,
        reference: args.reference.clone(),
    };
    let dev = device::open(args.device)?;
    let quiet = args.quiet;
    let log = move |s: &str| {
        if !quiet {
            warn!("{s}");
        }
    };
    let report = bench::run(&opts, &dev, args.jsonl.as_deref(), &log)?;
    say_raw!("{}", report.to_table());
    if let Some(path) = &args.json {
        write_atomic(
            path,
            serde_json::to_string_pretty(&report)
                .expect("json")
                .as_bytes(),
        )?;
    }
    Ok(())
}
