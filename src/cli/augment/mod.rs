//! `augtrain augment`: see what a pipeline does. A contact sheet (`--preview`), the augmented
//! images as PNG with one JSON line of applied parameters each (`--out`), and an exact replay of
//! such a record (`--replay`).

mod data;
mod overlay;

use std::path::{Path, PathBuf};

use crate::augment::record::{Record, check_records, parse_records, pixels_sha256, replay_batches};
use crate::augment::{self, Augmenter, Engine, PipelineSpec, SampleParams, gpu::GpuAugment};
use crate::data::{DataError, Dataset, LoadOptions};
use crate::device;
use crate::report::images::{Picture, contact_sheet, pictures};
use crate::util::fs::{create_dir_all, write_atomic};
use crate::{Error, util};
use augtrain_run::config::DeviceChoice;
use clap::Args;

/// Flags of `augtrain augment`.
#[derive(Args, Debug)]
#[command(after_help = "Examples:
  augtrain augment --preview grid.png                       # default pipeline on the built-in data
  augtrain augment --data ../shared/data/mnist-10k --pipeline gray.toml --preview grid.png --n 16
  augtrain augment --pipeline p.toml --out aug/ --n 100      # PNGs + aug/params.jsonl
  augtrain augment --pipeline p.toml --replay aug/params.jsonl --out again/
  augtrain augment --data coco/instances.json --images coco/img --pipeline det.toml --copies 3 --out aug/
  augtrain augment --data yolo-set/ --copies 2 --to coco --out aug-coco/ --preview sheet.png
  augtrain augment --data yolo-set/ --replay aug/params.jsonl --out again/")]
pub struct AugmentArgs {
    /// Dataset directory; omit for the built-in synthetic dataset.
    #[arg(long)]
    pub(super) data: Option<PathBuf>,
    /// Pipeline file (.toml / .json), or `default` for the data's default pipeline.
    #[arg(long, default_value = "default")]
    pub(super) pipeline: String,
    /// Number of training images to augment (the first N).
    #[arg(long, default_value_t = 16)]
    pub(super) n: usize,
    /// Augmented versions per image (epochs E, E+1, ...).
    #[arg(long, default_value_t = 7)]
    pub(super) versions: usize,
    /// Seed of the random draws.
    #[arg(long, default_value_t = 42)]
    pub(super) seed: u64,
    /// First epoch to draw parameters for.
    #[arg(long, default_value_t = 0)]
    pub(super) epoch: usize,
    /// Write a contact sheet PNG: each original beside its augmented versions.
    #[arg(long)]
    pub(super) preview: Option<PathBuf>,
    /// Write every augmented image as PNG, plus params.jsonl with the parameters applied.
    #[arg(long)]
    pub(super) out: Option<PathBuf>,
    /// Re-create the images recorded in a params.jsonl (needs --out).
    #[arg(long, requires = "out")]
    pub(super) replay: Option<PathBuf>,
    /// Compute device: auto, gpu or cpu.
    #[arg(long, default_value = "auto")]
    pub(super) device: DeviceChoice,
    /// Annotated data: augmented copies per image; writes the images and their annotations
    /// (boxes, polygons, keypoints moved with the pixels) to --out.
    #[arg(long)]
    pub(super) copies: Option<usize>,
    /// Annotated data: the annotation format to write (default: the input's).
    #[arg(long)]
    pub(super) to: Option<augtrain_annotations::formats::Format>,
    /// Annotated data: the input's format, when it cannot be told from the data.
    #[arg(long)]
    pub(super) format: Option<augtrain_annotations::formats::Format>,
    /// Annotated data: the folder image names are relative to (default: beside the annotations).
    #[arg(long)]
    pub(super) images: Option<PathBuf>,
    /// Annotated data: replace an existing, non-empty --out.
    #[arg(long)]
    pub(super) force: bool,
    /// Print nothing but errors.
    #[arg(long, short)]
    pub(super) quiet: bool,
}

fn load_train(path: &Option<PathBuf>) -> crate::Result<Dataset> {
    let opts = LoadOptions {
        path: path.clone(),
        val_fraction: 0.0,
        ..LoadOptions::default()
    };
    Ok(opts.load(42)?.train)
}

fn run_batch(
    aug: &Augmenter,
    images: &[&[u8]],
    params: Vec<SampleParams>,
    dev: &burn::tensor::Device,
) -> crate::Result<Vec<Picture>> {
    let n = images.len();
    let header = aug.program.header(n);
    let batch = aug.batch_with(images, params, dev)?;
    let values = batch
        .images
        .into_data()
        .convert::<f32>()
        .try_to_vec::<f32>()
        .map_err(|e| Error::Usage(format!("cannot read the augmented batch: {e:?}")))?;
    let out = aug.output_shape();
    Ok(pictures(
        &values,
        &header,
        n,
        out.channels,
        out.height,
        out.width,
    ))
}

fn spec_for(arg: &str, data: &Dataset, record_dir: Option<&Path>) -> crate::Result<PipelineSpec> {
    match arg {
        "default" => match record_dir.map(|d| d.join("pipeline.toml")) {
            Some(p) if p.exists() => Ok(augment::load_spec(&p)?),
            _ => Ok(PipelineSpec::default_for(
                data.shape.channels,
                data.shape.width as u32,
                data.shape.height as u32,
            )),
        },
        "none" => Ok(PipelineSpec::identity()),
        path => Ok(augment::load_spec(Path::new(path))?),
    }
}

pub fn run(args: AugmentArgs) -> crate::Result<()> {
    if data::wanted(&args) {
        return data::run(&args);
    }
    if args.preview.is_none() && args.out.is_none() {
        return Err(Error::Usage(
            "nothing to do: give --preview FILE.png and/or --out DIR".into(),
        ));
    }
    let data = load_train(&args.data)?;
    let record_dir = args
        .replay
        .as_ref()
        .and_then(|p| p.parent().map(Path::to_path_buf));
    let spec = spec_for(&args.pipeline, &data, record_dir.as_deref())?;
    let dev = device::open(args.device)?;
    let engine = if dev.is_gpu() {
        Engine::Gpu(Box::new(GpuAugment::new(&dev.device)?))
    } else {
        Engine::Cpu
    };
    let aug = Augmenter::new(&spec, data.shape, args.seed, engine)?;
    if let Some(replay) = &args.replay {
        return replay_records(&args, replay, &data, &aug, &dev.device, &spec);
    }
    let n = args.n.min(data.len()).max(1);
    let output = aug.output_shape();
    let cell = args.preview.as_ref().map(|_| {
        let side = [
            output.width,
            output.height,
            data.shape.width,
            data.shape.height,
        ]
        .into_iter()
        .max()
        .unwrap_or(1);
        side * (96 / side).max(1)
    });
    crate::budget::check_augment(n, args.versions.max(1), output, cell)?;
    let (versions, records) = augment_first(&args, &data, n, &aug, &dev.device)?;
    if let Some(out) = &args.out {
        write_out(out, &spec, &versions, &records)?;
        if !args.quiet {
            say!(
                "wrote {} images and params.jsonl to {}",
                records.len(),
                out.display()
            );
        }
    }
    if let Some(path) = &args.preview {
        write_preview(path, &data, n, &versions, &aug)?;
        if !args.quiet {
            say!(
                "wrote {} ({} images x {} versions, first column = original, {} on {})",
                path.display(),
                n,
                versions.len(),
                if aug.on_gpu() {
                    "fused kernel"
                } else {
                    "CPU twin"
                },
                dev.describe()
            );
        }
    }
    Ok(())
}

/// What `--data` names in a record: its absolute path, or `synthetic`.
fn source_name(data: &Option<PathBuf>) -> String {
    match data {
        Some(p) => util::path_text::encode(&std::path::absolute(p).unwrap_or(p.clone())),
        None => "synthetic".into(),
    }
}

/// `--versions` augmented batches of the first `n` training images (epochs `--epoch`, +1, ...),
/// and a record per augmented image.
fn augment_first(
    args: &AugmentArgs,
    data: &Dataset,
    n: usize,
    aug: &Augmenter,
    dev: &burn::tensor::Device,
) -> crate::Result<(Vec<Vec<Picture>>, Vec<Record>)> {
    let images: Vec<&[u8]> = (0..n).map(|i| data.image(i)).collect();
    let ids: Vec<u64> = data.ids[..n].to_vec();
    let source = source_name(&args.data);
    let mut versions = Vec::new();
    let mut records = Vec::new();
    for v in 0..args.versions.max(1) {
        let epoch = args.epoch + v;
        let params = aug.program.draw(args.seed, epoch, &ids);
        for (i, p) in params.iter().enumerate() {
            records.push(Record {
                batch: v,
                position: i,
                index: i,
                id: ids[i],
                epoch,
                seed: args.seed,
                source: source.clone(),
                image: data
                    .paths
                    .get(i)
                    .cloned()
                    .unwrap_or_else(|| format!("#{}", ids[i])),
                pixels_sha256: pixels_sha256(data.image(i)),
                file: format!("{i:05}-v{v}.png"),
                params: p.clone(),
            });
        }
        versions.push(run_batch(aug, &images, params, dev)?);
    }
    Ok((versions, records))
}

/// The augmented images as PNG, the pipeline and `params.jsonl` under `out`.
fn write_out(
    out: &Path,
    spec: &PipelineSpec,
    versions: &[Vec<Picture>],
    records: &[Record],
) -> crate::Result<()> {
    create_dir_all(out)?;
    write_atomic(&out.join("pipeline.toml"), spec.to_toml().as_bytes())?;
    let mut lines = String::new();
    for r in records {
        versions[r.batch][r.position].save_png(&out.join(&r.file))?;
        lines.push_str(&serde_json::to_string(r).expect("record serializes"));
        lines.push('\n');
    }
    write_atomic(&out.join("params.jsonl"), lines.as_bytes())?;
    Ok(())
}

/// A contact sheet: each original beside its augmented versions, small images scaled up.
fn write_preview(
    path: &Path,
    data: &Dataset,
    n: usize,
    versions: &[Vec<Picture>],
    aug: &Augmenter,
) -> crate::Result<()> {
    let (ow, oh) = (aug.output_shape().width, aug.output_shape().height);
    let (cw, ch) = (ow.max(data.shape.width), oh.max(data.shape.height));
    let zoom = (96 / cw.max(ch)).max(1);
    let rows: Vec<Vec<Picture>> = (0..n)
        .map(|i| {
            let original = Picture {
                width: data.shape.width,
                height: data.shape.height,
                channels: data.shape.channels,
                pixels: data.image(i).to_vec(),
            };
            std::iter::once(original)
                .chain(versions.iter().map(|v| v[i].clone()))
                .collect()
        })
        .collect();
    contact_sheet(&rows, cw * zoom, ch * zoom, 4).save_png(path)?;
    Ok(())
}

/// The records of a `params.jsonl`, checked against the data they are replayed on
/// ([`check_records`]) before anything is written.
fn read_records(
    replay: &Path,
    data: &Dataset,
    source: &str,
    out: &Path,
) -> crate::Result<Vec<(PathBuf, Record)>> {
    let bad = |line: usize, problem: String| {
        Error::Data(DataError::Malformed {
            path: replay.to_path_buf(),
            problem: format!("line {line}: {problem}"),
        })
    };
    let text = String::from_utf8(util::fs::read(replay)?).map_err(|_| {
        Error::Data(DataError::Malformed {
            path: replay.to_path_buf(),
            problem: "not UTF-8 text".into(),
        })
    })?;
    parse_records(replay, &text)
        .and_then(|records| check_records(replay, records, data, source, out))
        .map_err(|e| bad(e.line, e.problem))
}

fn replay_records(
    args: &AugmentArgs,
    replay: &Path,
    data: &Dataset,
    aug: &Augmenter,
    dev: &burn::tensor::Device,
    spec: &PipelineSpec,
) -> crate::Result<()> {
    let out = args
        .out
        .as_ref()
        .expect("clap requires --out with --replay");
    let records = read_records(replay, data, &source_name(&args.data), out)?;
    create_dir_all(out)?;
    write_atomic(&out.join("pipeline.toml"), spec.to_toml().as_bytes())?;
    let mut written = 0;
    for group in replay_batches(&records) {
        let images: Vec<&[u8]> = group.iter().map(|(_, r)| data.image(r.index)).collect();
        let params: Vec<SampleParams> = group.iter().map(|(_, r)| r.params.clone()).collect();
        let pics = run_batch(aug, &images, params, dev)?;
        for ((path, _), p) in group.iter().zip(&pics) {
            p.save_png(path)?;
            written += 1;
        }
    }
    if !args.quiet {
        say!("replayed {written} images into {}", out.display());
    }
    Ok(())
}
