//! `augtrain export-model --run DIR --format safetensors`: a trained run's weights with
//! PyTorch's names and layouts.

use std::collections::HashMap;
use std::path::PathBuf;

use clap::Args;

use crate::Error;
use crate::device;
use crate::model::export::safetensors_bytes;
use crate::train::Inference;
use augtrain_run::RunDir;
use augtrain_run::config::DeviceChoice;

/// Flags of `augtrain export-model`.
#[derive(Args, Debug)]
#[command(after_help = "Examples:
  augtrain export-model --run runs/hym-efficientnet-lite0 --format safetensors
  augtrain export-model --run runs/hym --out hym.safetensors --force
Then in PyTorch: model.load_state_dict(safetensors.torch.load_file(\"hym.safetensors\"))")]
pub struct ExportModelArgs {
    /// The run directory (written by `augtrain train`).
    #[arg(long)]
    run: PathBuf,
    /// Output format: safetensors (PyTorch names and layouts).
    #[arg(long, default_value = "safetensors")]
    format: String,
    /// Output file (default: <run>/model.safetensors).
    #[arg(long)]
    out: Option<PathBuf>,
    /// Replace an existing output file.
    #[arg(long)]
    force: bool,
    /// Print nothing but errors.
    #[arg(long, short)]
    quiet: bool,
}

pub fn run(args: ExportModelArgs) -> crate::Result<()> {
    if args.format != "safetensors" {
        return Err(Error::Usage(format!(
            "--format {}: the one format is safetensors",
            args.format
        )));
    }
    let out = args
        .out
        .clone()
        .unwrap_or_else(|| args.run.join("model.safetensors"));
    // An existing file is a conflict with what is on disk, not a usage error: exit 1.
    crate::util::fs::check_new_output(&out, args.force)?;
    let run = RunDir::open(&args.run)?;
    let inference = Inference::load(&run, &device::open(DeviceChoice::Cpu)?)?;
    let kind = inference.cfg.model.kind;
    let metadata = HashMap::from([
        ("format".to_string(), "pt".to_string()),
        ("architecture".to_string(), kind.to_string()),
        ("classes".to_string(), inference.card.class_names.join("\n")),
        // The loaded image shape (`WxHxC`): `predict --pretrained` builds the model for it.
        ("input".to_string(), inference.card.input.to_string()),
    ]);
    let batches = run.checkpoint()?.progress.batch_norm_batches;
    let bytes = safetensors_bytes(&inference.model, metadata, batches).map_err(|why| {
        Error::Train(crate::train::TrainError::Checkpoint(format!(
            "cannot export the weights of {}: {why}",
            args.run.display()
        )))
    })?;
    crate::util::fs::write_output(&out, &bytes, args.force)?;
    if !args.quiet {
        say!(
            "wrote {} ({kind}, {} classes, PyTorch names and layouts, {} bytes)",
            out.display(),
            inference.card.class_names.len(),
            bytes.len()
        );
    }
    Ok(())
}
