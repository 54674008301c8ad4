//! `augtrain audit DATA`: corrupt files, duplicates, leaks, image health and class balance;
//! with embeddings (`--embeddings DIR`, or computed here with `--pretrained FILE --model M`)
//! also semantic near duplicates and outliers; `--html` writes the page with thumbnails.
//! On annotated data (boxes, polygons, masks, keypoints) the annotation audit instead
//! ([`annotations`]).

use std::path::{Path, PathBuf};

use clap::Args;

use augtrain_annotations::agreement::AgreementOptions;
use augtrain_annotations::checks::CheckOptions;
use augtrain_annotations::formats::Format;
use augtrain_quality::audit::annotations::AnnotationAuditOptions;

mod annotations;

use super::data_args::LoadArgs;
use super::embed_args::EmbedModelArgs;
use crate::Error;
use crate::agreement::LabelMatrix;
use crate::agreement::labels;
use crate::agreement::report::{Analysis, Method, analyse};
use crate::audit::label_agreement::LabelAgreement;
use crate::audit::semantic::{DEFAULT_MIN_SIMILARITY, SemanticInput, SemanticOptions};
use crate::audit::{AuditOptions, audit, html};
use crate::data::DataError;
use crate::embedding::Embedded;
use crate::train::progress::{Reporter, Verbosity};
use crate::util::fs::{check_new_output, write_output};
use annotations::{self as annotated, Outputs};
use augtrain_annotations::input::{AnnotatedInput, annotated_input};

/// Flags of `augtrain audit`.
#[derive(Args, Debug)]
#[command(after_help = "Examples:
  augtrain audit ../shared/data/hymenoptera
  augtrain audit ../shared/data/hymenoptera --json audit.json --near-radius 6
  augtrain audit ../shared/data/hymenoptera --pretrained ../shared/data/models/efficientnet-lite0.pth --model efficientnet-lite0 --html audit.html
  augtrain audit ../shared/data/hymenoptera --embeddings runs/hym-emb
  augtrain audit photos/ --labels votes.csv --html audit.html
  augtrain audit annotations/instances_val.json --html audit.html
  augtrain audit images/ --annotations project.json --format labelstudio --agreement-iou 0.6")]
pub struct AuditArgs {
    /// The dataset to audit: images, or annotations (COCO, YOLO, VOC, LabelMe, Label Studio,
    /// CVAT; the format is detected).
    data: PathBuf,
    /// Annotations of the images in DATA (file or folder): audit boxes, polygons, masks,
    /// keypoints and annotator agreement.
    #[arg(long)]
    annotations: Option<PathBuf>,
    /// The annotation format, when detection should not decide (coco, yolo, voc, labelme,
    /// labelstudio, cvat).
    #[arg(long)]
    format: Option<Format>,
    /// Smallest IoU at which two annotators' boxes of a class count as the same object.
    #[arg(long, default_value_t = 0.5)]
    agreement_iou: f64,
    /// Several annotators' labels of these images (long CSV `image,annotator,label`, wide CSV,
    /// Label Studio export, or annotations with an annotator per object, as `augtrain
    /// agreement` reads them): adds their agreement and the most disputed images.
    #[arg(long, value_name = "FILE")]
    labels: Option<PathBuf>,
    /// Also write the full report (a row per image) as JSON (a new file, unless --force).
    #[arg(long)]
    json: Option<PathBuf>,
    /// Also write the report as one HTML page with thumbnails side by side (a new file, unless
    /// --force).
    #[arg(long)]
    html: Option<PathBuf>,
    /// Replace existing --json and --html files.
    #[arg(long)]
    force: bool,
    /// Largest pHash Hamming distance between near duplicates (0–64).
    #[arg(long, default_value_t = 4)]
    near_radius: u32,
    /// Embeddings of this data written by `augtrain embed` (semantic duplicates, outliers).
    #[arg(long, conflicts_with_all = ["run", "pretrained"])]
    embeddings: Option<PathBuf>,
    #[command(flatten)]
    embed: EmbedModelArgs,
    /// Smallest cosine similarity of semantic near duplicates (with embeddings).
    #[arg(long, default_value_t = DEFAULT_MIN_SIMILARITY)]
    min_similarity: f32,
    /// Nearest neighbours searched per image (with embeddings).
    #[arg(long, default_value_t = 10)]
    neighbors: usize,
    /// Flagged images listed per issue in the text summary (and the HTML page).
    #[arg(long, default_value_t = 10)]
    list: usize,
    #[command(flatten)]
    load: LoadArgs,
    /// Print nothing but errors.
    #[arg(long, short)]
    quiet: bool,
}

pub fn run(args: AuditArgs) -> crate::Result<()> {
    if args.near_radius > 64 {
        return Err(Error::Usage(format!(
            "--near-radius {}: use 0..=64",
            args.near_radius
        )));
    }
    if !(-1.0..=1.0).contains(&args.min_similarity) || args.neighbors == 0 {
        return Err(Error::Usage(format!(
            "--min-similarity {} --neighbors {}: use a cosine in [-1, 1] and at least 1 neighbour",
            args.min_similarity, args.neighbors
        )));
    }
    for path in [&args.json, &args.html].into_iter().flatten() {
        check_new_output(path, args.force)?;
    }
    let reporter = Reporter::new(Verbosity::detect(args.quiet));
    if let Some(input) = annotated_input(&args.data, args.annotations.as_deref(), args.format)? {
        if args.labels.is_some() {
            return Err(Error::Usage(
                "--labels applies to image datasets; on annotated data the audit already compares the annotators' boxes (--agreement-iou)".into(),
            ));
        }
        return run_annotated(&args, &input, &reporter);
    }
    // Read before the audit's long pass, so a bad label file fails at once.
    let labels = args
        .labels
        .as_deref()
        .map(|f| Ok::<_, Error>((f, label_agreement_input(f)?)))
        .transpose()?;
    let cfg = args.load.config(Some(args.data.clone()))?;
    let source = cfg.source()?;
    let embedded = match (&args.embeddings, args.embed.given()) {
        (Some(dir), _) => Some(Embedded::read(dir)?),
        (None, true) => Some(args.embed.embed(&args.data, &args.load, &reporter)?),
        (None, false) => None,
    };
    let opts = AuditOptions {
        near_radius: args.near_radius,
        semantic: embedded.map(|embedded| SemanticInput {
            embedded,
            opts: SemanticOptions {
                min_similarity: args.min_similarity,
                neighbors: args.neighbors,
            },
        }),
    };
    let start = std::time::Instant::now();
    let mut report = audit(&source, &cfg, 42, &opts)?;
    if let Some((file, (m, analysis))) = &labels {
        let name = crate::util::path_text::encode(file);
        report.label_agreement = Some(LabelAgreement::new(&name, m, analysis, &report.rows));
    }
    if let Some(path) = &args.json {
        let json = serde_json::to_string_pretty(&report).expect("json");
        write_output(path, json.as_bytes(), args.force)?;
    }
    if let Some(path) = &args.html {
        let page = html::page(&report, source.files_root().as_deref(), args.list);
        write_output(path, page.as_bytes(), args.force)?;
    }
    // The summary is the result: a standard output that cannot take it is an error.
    reporter
        .result(&report.summary(args.list))
        .map_err(super::stdout_error)?;
    reporter.line(&format!("({:.2} s)", start.elapsed().as_secs_f64()));
    Ok(())
}

/// The labels of `file` and their analysis (Dawid-Skene consensus; no probabilities).
fn label_agreement_input(file: &Path) -> crate::Result<(LabelMatrix, Analysis)> {
    let m = labels::read(file, None)?;
    let analysis = analyse(&m, None, Method::DawidSkene).map_err(|e| {
        DataError::Invalid(format!("{}: {e}", crate::util::escape::escape_path(file)))
    })?;
    Ok((m, analysis))
}

/// The audit of annotated data, with the flags that apply to it.
fn run_annotated(
    args: &AuditArgs,
    input: &AnnotatedInput,
    reporter: &Reporter,
) -> crate::Result<()> {
    if !(args.agreement_iou > 0.0 && args.agreement_iou <= 1.0) {
        return Err(Error::Usage(format!(
            "--agreement-iou {}: use an IoU in (0, 1]",
            args.agreement_iou
        )));
    }
    let opts = AnnotationAuditOptions {
        checks: CheckOptions {
            known_classes: args
                .load
                .classes
                .as_ref()
                .map(|c| c.iter().map(|s| s.trim().to_string()).collect()),
            ..CheckOptions::default()
        },
        agreement: AgreementOptions {
            iou_threshold: args.agreement_iou,
            most_disputed: args.list,
        },
    };
    let out = Outputs {
        json: args.json.as_deref(),
        html: args.html.as_deref(),
        list: args.list,
        force: args.force,
    };
    annotated::run(input, &opts, &out, reporter)
}
