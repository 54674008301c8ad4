//! `augtrain agreement --labels F [DATA]`: several annotators per image. Agreement
//! statistics, consensus labels (majority vote, Dawid-Skene, CROWDLAB), annotator quality and
//! what to label next, with probabilities from `--pred-probs`, `--embeddings` nearest
//! neighbours or a cross-validation run on DATA (the sources `label-issues` uses).

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use clap::Args;

use super::output_args::OutputArgs;
use super::train_args::TrainArgs;
use crate::Error;
use crate::agreement::consensus::argmax_rows;
use crate::agreement::report::{Analysis, Method, Next, NextBy, analyse, next_to_label};
use crate::agreement::{LabelMatrix, labels};
use crate::data::DataError;
use crate::data::source::DataSource;
use crate::embedding::Embedded;
use crate::embedding::store::EmbeddingSet;
use crate::label::studio;
use crate::label_issues::confident::PredProbs;
use crate::label_issues::examples::Examples;
use crate::label_issues::pred_probs;
use crate::train::cv::{run_cv, write_cv};
use crate::train::progress::{Reporter, Verbosity};
use crate::util::escape::escape;
use crate::util::{names, path_text};
use augtrain_run::run_dir::OutputDir;

/// Flags of `augtrain agreement`.
#[derive(Args, Debug)]
#[command(after_help = "Examples:
  augtrain agreement --labels votes.csv
  augtrain agreement --labels votes.csv --pred-probs pred_probs.csv --budget 50
  augtrain agreement photos/ --labels export.json --embeddings runs/photos-emb --budget 20
  augtrain agreement photos/ --labels votes.csv --folds 5 --model cnn --epochs 5")]
pub struct AgreementArgs {
    /// The dataset the labels are about: names the classes and the image files; without
    /// --pred-probs or --embeddings, cross-validation on it gives the probabilities.
    data: Option<PathBuf>,
    /// The annotators' labels: long CSV `image,annotator,label`, wide CSV (`image`, then one
    /// column per annotator, empty = not labelled), a Label Studio JSON export, or annotations
    /// with an annotator per object (COCO with an `annotator` field, Label Studio regions, ...:
    /// each annotator's label of an image is the class of the objects they drew). Images are
    /// named as DATA's paths (relative to its root), or the probabilities file's `path` or
    /// `index` column.
    #[arg(long)]
    labels: PathBuf,
    /// Out-of-sample predicted probabilities (CSV with p0..pK-1; rows matched to images by
    /// its `path` or `index` column); rows without labels are the unlabelled pool.
    #[arg(long)]
    pred_probs: Option<PathBuf>,
    /// Embeddings written by `augtrain embed`: probabilities from each image's nearest
    /// neighbours (as `label-issues --embeddings`), and a diverse --budget batch.
    #[arg(long, conflicts_with = "pred_probs")]
    embeddings: Option<PathBuf>,
    /// Neighbours voting with --embeddings.
    #[arg(long, default_value_t = 10)]
    neighbors: usize,
    /// Agreement and consensus from the labels alone (no probabilities, no cross-validation).
    #[arg(long, conflicts_with_all = ["pred_probs", "embeddings"])]
    labels_only: bool,
    /// Consensus written to consensus.csv: auto (CROWDLAB with probabilities, else
    /// Dawid-Skene), majority, dawid-skene, crowdlab.
    #[arg(long, default_value = "auto")]
    consensus: Method,
    /// Ranking of what to label next: activelab, least-confidence, margin, entropy.
    #[arg(long, default_value = "activelab")]
    next_by: NextBy,
    /// Images in the labelling queue.
    #[arg(long, default_value_t = 100)]
    budget: usize,
    /// Folds of the cross-validation run (DATA without --pred-probs or --embeddings).
    #[arg(long, default_value_t = 5)]
    folds: usize,
    #[command(flatten)]
    output: OutputArgs,
    #[command(flatten)]
    train: TrainArgs,
}

pub fn run(args: AgreementArgs) -> crate::Result<()> {
    if args.neighbors == 0 {
        return Err(Error::Usage("--neighbors 0: use at least 1".into()));
    }
    if args.budget == 0 {
        return Err(Error::Usage("--budget 0: use at least 1".into()));
    }
    // Read every input before creating anything, so a bad file writes nothing.
    let embedded = args.embeddings.as_deref().map(Embedded::read).transpose()?;
    let mut examples = match (&args.data, &args.pred_probs, &embedded) {
        (_, _, Some(e)) => Some(Examples::of_embeddings(e, args.neighbors)?),
        (Some(data), Some(file), None) => {
            let f = pred_probs::read(file)?;
            Some(Examples::of_data_and_file(
                args.train.load_whole(data)?,
                data,
                file,
                f,
            )?)
        }
        (None, Some(file), None) => Some(Examples::of_probs_file(pred_probs::read(file)?)),
        _ => None,
    };
    let cv = args.data.is_some() && examples.is_none() && !args.labels_only;
    let classes = examples.as_ref().map(|e| e.names.clone());
    // With cross-validation to come, the labels are read now to fail fast, and again with
    // the dataset's classes once it is loaded.
    let mut m = labels::read(&args.labels, classes.as_deref())?;
    let name = super::stem_name(Some(&args.labels));
    let dir = args.output.claim(
        &args.train.runs_dir,
        &format!("{name}-agreement-{}", crate::util::time::compact_now()),
    )?;
    let reporter = Reporter::new(Verbosity::detect(args.train.quiet));
    if cv {
        let data = args.data.as_ref().expect("checked");
        let cfg = args.train.fold_config(data)?;
        let (ds, result) = run_cv(&cfg, args.folds, &reporter)?;
        write_cv(&dir, &ds, &result, &reporter)?;
        let probs = result.probs.iter().map(|&v| v as f64).collect();
        let e = Examples::of_dataset(ds, probs, data);
        m = labels::read(&args.labels, Some(&e.names))?;
        examples = Some(e);
    }
    let aligned = examples
        .as_ref()
        .map(|e| Aligned::new(&m, e, &args.labels))
        .transpose()?;
    let probs = aligned.as_ref().map(|a| (&a.labelled, &a.unlabelled));
    let analysis = analyse(&m, probs, args.consensus).map_err(|e| {
        DataError::Invalid(format!(
            "{}: {e}",
            crate::util::escape::escape_path(&args.labels)
        ))
    })?;
    let order = embedded
        .as_ref()
        .zip(aligned.as_ref())
        .map(|(e, a)| a.embedding_rows(&e.set));
    let unlabelled = aligned.as_ref().map(|a| &a.unlabelled);
    let next = next_to_label(
        &analysis,
        unlabelled,
        args.next_by,
        args.budget,
        order.as_ref(),
    );
    let data_root = args
        .data
        .as_deref()
        .and_then(|d| DataSource::from_path(d).ok()?.files_root());
    let base =
        data_root.unwrap_or_else(|| args.labels.parent().unwrap_or(Path::new(".")).to_path_buf());
    let out = Outputs {
        m: &m,
        a: &analysis,
        examples: examples.as_ref(),
        aligned: aligned.as_ref(),
        base: &base,
    };
    out.write(&dir, &next)?;
    for line in analysis.text() {
        reporter.line(&line);
    }
    reporter.line(&format!(
        "consensus labels in {}; {} images to label next ({}) in {}",
        dir.file("consensus.csv").display(),
        next.len(),
        names::name(&args.next_by),
        dir.file("review_queue.json").display()
    ));
    dir.publish()?;
    Ok(())
}

/// Probabilities in the label matrix's image order, and the examples nobody labelled.
struct Aligned {
    /// A row per labelled image (matrix order).
    labelled: PredProbs,
    /// A row per unlabelled example.
    unlabelled: PredProbs,
    /// The example of each labelled image.
    example_of_image: Vec<usize>,
    /// The examples without labels, in example order.
    unlabelled_examples: Vec<usize>,
}

impl Aligned {
    /// Matches each image of `m` to an example by path text (or `#index` for an image named
    /// by a number); an image without probabilities is an error.
    fn new(m: &LabelMatrix, e: &Examples, labels_file: &Path) -> crate::Result<Self> {
        let at: HashMap<&str, usize> = e
            .paths
            .iter()
            .enumerate()
            .map(|(i, p)| (p.as_str(), i))
            .collect();
        let find = |image: &str| {
            let canonical = path_text::encode(&path_text::decode(image));
            at.get(image)
                .or_else(|| at.get(canonical.as_str()))
                .or_else(|| at.get(format!("#{image}").as_str()))
                .copied()
        };
        let mut example_of_image = Vec::with_capacity(m.n_images());
        for image in m.images() {
            example_of_image.push(find(image).ok_or_else(|| {
                DataError::Invalid(format!(
                    "{}: image '{}' has no probabilities (e.g. '{}'); name images as the probabilities' paths or index",
                    crate::util::escape::escape_path(labels_file),
                    escape(image),
                    escape(e.paths.first().map(String::as_str).unwrap_or(""))
                ))
            })?);
        }
        let mut is_labelled = vec![false; e.paths.len()];
        example_of_image.iter().for_each(|&j| is_labelled[j] = true);
        let unlabelled_examples: Vec<usize> =
            (0..e.paths.len()).filter(|&j| !is_labelled[j]).collect();
        let rows = |idx: &[usize]| PredProbs {
            k: e.probs.k,
            values: idx
                .iter()
                .flat_map(|&j| e.probs.row(j).iter().copied())
                .collect(),
        };
        Ok(Aligned {
            labelled: rows(&example_of_image),
            unlabelled: rows(&unlabelled_examples),
            example_of_image,
            unlabelled_examples,
        })
    }

    /// The embeddings reordered: labelled images (matrix order), then unlabelled ones.
    fn embedding_rows(&self, set: &EmbeddingSet) -> EmbeddingSet {
        let order = self
            .example_of_image
            .iter()
            .chain(&self.unlabelled_examples);
        let values = order.flat_map(|&j| set.row(j).iter().copied()).collect();
        EmbeddingSet::new(set.dim, values).expect("rows of the same width")
    }
}

/// What is written, and how images are named in it.
struct Outputs<'a> {
    m: &'a LabelMatrix,
    a: &'a Analysis,
    examples: Option<&'a Examples>,
    aligned: Option<&'a Aligned>,
    /// Where image names that are relative paths are resolved.
    base: &'a Path,
}

impl Outputs<'_> {
    /// Labelled image `i` as a path a manifest can use: the example's absolute path, else the
    /// name resolved against DATA's root (or the label file's directory) when that file
    /// exists, else the name.
    fn labelled_path(&self, i: usize) -> String {
        if let (Some(e), Some(a)) = (self.examples, self.aligned)
            && e.base.is_some()
        {
            return e.image(a.example_of_image[i]);
        }
        let name = &self.m.images()[i];
        let p = self.base.join(path_text::decode(name));
        match p.is_file() {
            true => path_text::encode(&std::path::absolute(&p).unwrap_or(p)),
            false => name.clone(),
        }
    }

    fn unlabelled_path(&self, j: usize) -> String {
        let (e, a) = (
            self.examples.expect("unlabelled images come from examples"),
            self.aligned.expect("aligned"),
        );
        e.image(a.unlabelled_examples[j])
    }

    fn write(&self, dir: &OutputDir, next: &[Next]) -> crate::Result<()> {
        let json = serde_json::to_string_pretty(self.a).expect("the report serializes");
        dir.write("agreement.json", json.as_bytes())?;
        dir.write("consensus.csv", &self.consensus_csv())?;
        self.queue(dir, next)
    }

    /// `consensus.csv`: a manifest (`path,label`) with the consensus and how sure it is.
    fn consensus_csv(&self) -> Vec<u8> {
        let (a, names) = (self.a, self.m.classes());
        let mut csv = crate::data::csv::Writer::new([
            "path",
            "label",
            "quality",
            "labels",
            "majority_vote",
            "dawid_skene",
        ]);
        for i in 0..self.m.n_images() {
            csv.row([
                self.labelled_path(i),
                names[a.consensus[i]].clone(),
                a.consensus_quality[i].to_string(),
                self.m.row(i).len().to_string(),
                names[a.majority[i]].clone(),
                names[a.dawid_skene.labels[i]].clone(),
            ]);
        }
        csv.finish()
    }

    /// `next_to_label.csv` and the same images as a Label Studio queue.
    fn queue(&self, dir: &OutputDir, next: &[Next]) -> crate::Result<()> {
        let names = self.m.classes();
        let mut csv = crate::data::csv::Writer::new([
            "rank",
            "path",
            "labelled",
            "labels",
            "suggested_label",
            "score",
        ]);
        let mut tasks = Vec::new();
        for (r, n) in next.iter().enumerate() {
            let (path, count, suggestion) = if n.labelled {
                let i = n.index;
                (
                    self.labelled_path(i),
                    self.m.row(i).len(),
                    self.a.consensus[i],
                )
            } else {
                let u = &self
                    .aligned
                    .expect("unlabelled rows come with probabilities")
                    .unlabelled;
                (
                    self.unlabelled_path(n.index),
                    0,
                    argmax_rows(u.row(n.index), u.k)[0],
                )
            };
            csv.row([
                (r + 1).to_string(),
                path.clone(),
                n.labelled.to_string(),
                count.to_string(),
                names[suggestion].clone(),
                n.score.to_string(),
            ]);
            let extra = serde_json::Map::from_iter([
                ("rank".to_string(), (r + 1).into()),
                ("labels_so_far".to_string(), count.into()),
            ]);
            tasks.push(studio::task(
                r + 1,
                &path,
                extra,
                &names[suggestion],
                n.score,
                "augtrain-agreement",
            ));
        }
        dir.write("next_to_label.csv", &csv.finish())?;
        let json = serde_json::to_string_pretty(&tasks).expect("json");
        dir.write("review_queue.json", json.as_bytes())?;
        dir.write(
            "labeling_config.xml",
            studio::labeling_config(names).as_bytes(),
        )?;
        Ok(())
    }
}
