//! The run directory, one typed owner for every file a training run leaves behind.
//!
//! `runs/<name>/` holds the resolved config (`config.toml`), the model card (`model.json`), the
//! dataset summary (`dataset.json`), one JSON line per epoch (`metrics.jsonl`), the test report
//! (`report.txt`, `report.json`), predictions (`predictions.csv`), the confusion matrix
//! (`confusion.csv`), unusable files (`skipped.csv`), the checkpoint (`checkpoint.bin`), charts
//! and `report.html`. Every file is written to a temporary name and renamed; a damaged or
//! missing file is a [`RunError`]. File names live in [`file`] and nowhere else.

use std::path::{Path, PathBuf};

use augtrain_data::csv::{Table, Writer};
use augtrain_data::files::Skipped;
use augtrain_data::membership::{self, Member};
use augtrain_data::util::fs::{
    IoError, PartialDir, check_writable_dir, create_dir_all, write_atomic,
};
use augtrain_quality::metrics::ConfusionMatrix;

use crate::checkpoint::{self, Checkpoint};
use crate::config::TrainConfig;
use crate::error::RunError;
use crate::records::{DatasetSummary, EpochRecord, ModelCard, Progress, TestReport};

/// The names of a run directory's files.
pub mod file {
    /// The resolved configuration (TOML); `--resume` and `--config` take it back.
    pub const CONFIG: &str = "config.toml";
    /// What the model expects: input shape and classes (JSON).
    pub const MODEL_CARD: &str = "model.json";
    /// What was trained on (JSON).
    pub const DATASET: &str = "dataset.json";
    /// One JSON line per finished epoch.
    pub const METRICS: &str = "metrics.jsonl";
    /// Final test metrics, scikit-learn's `classification_report` layout.
    pub const REPORT_TEXT: &str = "report.txt";
    /// Final test metrics as JSON.
    pub const REPORT_JSON: &str = "report.json";
    /// One row per test image: path, true and predicted class, probabilities.
    pub const PREDICTIONS: &str = "predictions.csv";
    /// The test confusion matrix, rows = true class.
    pub const CONFUSION: &str = "confusion.csv";
    /// Files that could not be used, with reasons.
    pub const SKIPPED: &str = "skipped.csv";
    /// Every image's split, by path and content hash (`augtrain_data::membership`).
    pub const SPLITS: &str = "splits.csv";
    /// Weights, optimizer state and progress.
    pub const CHECKPOINT: &str = "checkpoint.bin";
    /// The self-contained HTML report.
    pub const REPORT_HTML: &str = "report.html";
    /// An audit of the data, when one was saved into the run (shown in the HTML report).
    pub const AUDIT: &str = "audit.json";
    /// Loss curves.
    pub const CURVES_LOSS: &str = "curves_loss.png";
    /// Accuracy curves.
    pub const CURVES_ACCURACY: &str = "curves_accuracy.png";
    /// Confusion matrix heatmap.
    pub const CONFUSION_PNG: &str = "confusion.png";
    /// Precision, recall and F1 per class.
    pub const PER_CLASS: &str = "per_class.png";
    /// Contact sheet of training images and their augmented versions.
    pub const AUGMENTATION: &str = "augmentation.png";
    /// The hidden lock file held by the process writing the run.
    pub const LOCK: &str = ".augtrain.lock";
    /// Every file a run writes through a temporary name (all but the lock).
    pub const WRITTEN: [&str; 16] = [
        CONFIG,
        MODEL_CARD,
        DATASET,
        METRICS,
        REPORT_TEXT,
        REPORT_JSON,
        PREDICTIONS,
        CONFUSION,
        SKIPPED,
        CHECKPOINT,
        REPORT_HTML,
        AUDIT,
        CURVES_LOSS,
        CURVES_ACCURACY,
        CONFUSION_PNG,
        PER_CLASS,
    ];
}

/// A run directory. Opened read-only ([`RunDir::open`]) or held for writing
/// ([`RunDir::create`], [`RunDir::resume`]): a writer holds an exclusive advisory lock on the
/// lock file, released by the operating system when the process ends however it ends, so two
/// processes never write one run.
#[derive(Clone, Debug)]
pub struct RunDir {
    path: PathBuf,
    /// The held lock of a run being written (none for read-only use).
    _lock: Option<std::sync::Arc<std::fs::File>>,
}

/// Take the exclusive lock of the run directory `dir` (which must exist).
fn lock(dir: &Path) -> Result<std::fs::File, IoError> {
    let claim = |e| IoError::new("claim the run directory", dir, e);
    let file = std::fs::OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(dir.join(file::LOCK))
        .map_err(claim)?;
    match file.try_lock() {
        Ok(()) => Ok(file),
        Err(std::fs::TryLockError::WouldBlock) => Err(claim(std::io::Error::new(
            std::io::ErrorKind::ResourceBusy,
            "another augtrain process is writing this run; wait for it to finish or choose another --name",
        ))),
        Err(std::fs::TryLockError::Error(e)) => Err(claim(e)),
    }
}

impl RunDir {
    /// Open an existing run directory read-only. A path that is not a directory holding a
    /// `config.toml` is a [`RunError::Missing`].
    pub fn open(path: &Path) -> Result<Self, RunError> {
        if !path.join(file::CONFIG).is_file() {
            return Err(RunError::Missing {
                path: path.to_path_buf(),
                what: format!(
                    "not a run directory (no {}); pass a directory written by augtrain train",
                    file::CONFIG
                ),
            });
        }
        Ok(Self {
            path: path.to_path_buf(),
            _lock: None,
        })
    }

    /// Remove the temporary files (`.<file>.tmp-<pid>`) of this run's own [`file::WRITTEN`]
    /// files left by a writer that was killed. Only while holding the run's lock, which proves
    /// that no other augtrain process writes them; a read-only handle removes nothing.
    pub fn remove_abandoned_temps(&self) {
        if self._lock.is_some() {
            augtrain_data::util::fs::remove_abandoned_temps(&self.path, &file::WRITTEN);
        }
    }

    /// Open an existing run directory to continue writing it, holding its lock.
    pub fn resume(path: &Path) -> Result<Self, RunError> {
        Self::open(path)?;
        check_writable_dir(path)?;
        let lock = lock(path)?;
        Ok(Self {
            path: path.to_path_buf(),
            _lock: Some(std::sync::Arc::new(lock)),
        })
    }

    /// Claim `runs_dir/<name>` for a new run, holding its lock. When `unique`, a numeric suffix
    /// is added if the name is taken, and the directory is created atomically (two processes
    /// never get the same one); otherwise an existing directory is claimed through its lock,
    /// a second process writing the same name gets an error, and a directory that already
    /// holds a run (a checkpoint) is refused.
    pub fn create(runs_dir: &Path, name: &str, unique: bool) -> Result<Self, RunError> {
        let mut path = runs_dir.join(name);
        if unique {
            create_dir_all(runs_dir)?;
            let mut k = 2;
            loop {
                match std::fs::create_dir(&path) {
                    Ok(()) => break,
                    Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
                        path = runs_dir.join(format!("{name}-{k}"));
                        k += 1;
                    }
                    Err(e) => return Err(IoError::new("create directory", &path, e).into()),
                }
            }
        }
        check_writable_dir(&path)?;
        let lock = lock(&path)?;
        let dir = Self {
            path,
            _lock: Some(std::sync::Arc::new(lock)),
        };
        if dir.has_checkpoint() {
            return Err(RunError::Missing {
                path: dir.path.clone(),
                what: format!(
                    "already holds a run; use --resume {} to continue it, or another --name",
                    augtrain_data::util::escape::escape_path(&dir.path)
                ),
            });
        }
        Ok(dir)
    }

    /// The directory.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// A file inside the directory (names in [`file`]).
    pub fn file(&self, name: &str) -> PathBuf {
        self.path.join(name)
    }

    /// Write a file atomically.
    pub fn write(&self, name: &str, bytes: &[u8]) -> Result<(), RunError> {
        Ok(write_atomic(&self.file(name), bytes)?)
    }

    /// Read a text file of the run; a missing one is [`RunError::Missing`].
    fn read_text(&self, name: &str) -> Result<String, RunError> {
        let path = self.file(name);
        if !path.exists() {
            return Err(RunError::Missing {
                what: format!(
                    "missing from the run directory {}",
                    augtrain_data::util::escape::escape_path(&self.path)
                ),
                path,
            });
        }
        let bytes = augtrain_data::util::fs::read(&path)?;
        String::from_utf8(bytes).map_err(|_| RunError::damaged(&path, "not UTF-8 text"))
    }

    /// Read and parse a JSON file of the run.
    fn read_json<T: serde::de::DeserializeOwned>(&self, name: &str) -> Result<T, RunError> {
        let text = self.read_text(name)?;
        serde_json::from_str(&text).map_err(|e| RunError::damaged(self.file(name), e.to_string()))
    }

    /// Write a value as pretty JSON.
    fn write_json<T: serde::Serialize>(&self, name: &str, value: &T) -> Result<(), RunError> {
        let text = serde_json::to_string_pretty(value).expect("run records serialize");
        self.write(name, text.as_bytes())
    }

    /// The run's resolved configuration.
    pub fn config(&self) -> Result<TrainConfig, RunError> {
        TrainConfig::parse(&self.read_text(file::CONFIG)?)
            .map_err(|problem| RunError::damaged(self.file(file::CONFIG), problem.to_string()))
    }

    /// Write the resolved configuration.
    pub fn write_config(&self, cfg: &TrainConfig) -> Result<(), RunError> {
        self.write(file::CONFIG, cfg.to_toml().as_bytes())
    }

    /// The model card.
    pub fn model_card(&self) -> Result<ModelCard, RunError> {
        self.read_json(file::MODEL_CARD)
    }

    /// Write the model card.
    pub fn write_model_card(&self, card: &ModelCard) -> Result<(), RunError> {
        self.write_json(file::MODEL_CARD, card)
    }

    /// The dataset summary.
    pub fn dataset(&self) -> Result<DatasetSummary, RunError> {
        self.read_json(file::DATASET)
    }

    /// Write the dataset summary.
    pub fn write_dataset(&self, summary: &DatasetSummary) -> Result<(), RunError> {
        self.write_json(file::DATASET, summary)
    }

    /// Every epoch record in `metrics.jsonl`.
    pub fn metrics(&self) -> Result<Vec<EpochRecord>, RunError> {
        let text = self.read_text(file::METRICS)?;
        text.lines()
            .enumerate()
            .filter(|(_, l)| !l.trim().is_empty())
            .map(|(n, l)| {
                serde_json::from_str(l).map_err(|e| {
                    RunError::damaged(self.file(file::METRICS), format!("line {}: {e}", n + 1))
                })
            })
            .collect()
    }

    /// Rewrite `metrics.jsonl` with `history`, one JSON line per epoch.
    pub fn write_metrics(&self, history: &[EpochRecord]) -> Result<(), RunError> {
        let text: String = history
            .iter()
            .map(|r| serde_json::to_string(r).expect("records serialize") + "\n")
            .collect();
        self.write(file::METRICS, text.as_bytes())
    }

    /// The epoch history to continue from: the checkpoint's records, with their timings taken
    /// from `metrics.jsonl` when it describes the same epochs (it is written just before the
    /// checkpoint, so after a crash it may hold one epoch more, which is dropped).
    pub fn reconcile_history(&self, progress: &Progress) -> Vec<EpochRecord> {
        let done = progress.epochs_done;
        match self.metrics() {
            Ok(lines)
                if lines.len() >= done
                    && lines[..done]
                        .iter()
                        .zip(&progress.history)
                        .all(|(a, b)| a.same_epoch(b)) =>
            {
                lines[..done].to_vec()
            }
            _ => progress.history.clone(),
        }
    }

    /// The test report.
    pub fn test_report(&self) -> Result<TestReport, RunError> {
        self.read_json(file::REPORT_JSON)
    }

    /// Write the test report as `report.txt` (scikit-learn's layout, 4 digits) and
    /// `report.json`.
    pub fn write_test_report(&self, report: &TestReport) -> Result<(), RunError> {
        self.write(file::REPORT_TEXT, report.report.to_text(4).as_bytes())?;
        self.write_json(file::REPORT_JSON, report)
    }

    /// The test confusion matrix and its class names.
    pub fn confusion(&self) -> Result<(ConfusionMatrix, Vec<String>), RunError> {
        let path = self.file(file::CONFUSION);
        let text = self.read_text(file::CONFUSION)?;
        parse_confusion(&path, &text).map_err(|problem| RunError::damaged(path, problem))
    }

    /// Write the test confusion matrix.
    pub fn write_confusion(&self, cm: &ConfusionMatrix, names: &[String]) -> Result<(), RunError> {
        self.write(file::CONFUSION, cm.to_csv(names).as_bytes())
    }

    /// Write `predictions.csv` (see [`predictions_csv`]).
    pub fn write_predictions(&self, rows: &PredictionRows<'_>) -> Result<(), RunError> {
        self.write(file::PREDICTIONS, predictions_csv(rows).as_bytes())
    }

    /// Write `skipped.csv`: `path,reason` per unusable file; with none, remove it (a resumed
    /// run whose files are all usable now leaves no stale list behind).
    pub fn write_skipped(&self, skipped: &[Skipped]) -> Result<(), RunError> {
        if skipped.is_empty() {
            let path = self.file(file::SKIPPED);
            return match std::fs::remove_file(&path) {
                Err(e) if e.kind() != std::io::ErrorKind::NotFound => {
                    Err(IoError::new("remove", path, e).into())
                }
                _ => Ok(()),
            };
        }
        self.write(file::SKIPPED, skipped_csv(skipped).as_bytes())
    }

    /// The split of every image the run trained, validated and tested on (`splits.csv`);
    /// `None` for a run made before augtrain recorded them.
    pub fn splits(&self) -> Result<Option<Vec<Member>>, RunError> {
        let path = self.file(file::SPLITS);
        if !path.exists() {
            return Ok(None);
        }
        let text = self.read_text(file::SPLITS)?;
        membership::parse(&path, &text)
            .map(Some)
            .map_err(|e| match e {
                augtrain_data::DataError::Malformed { problem, .. } => {
                    RunError::damaged(&path, problem)
                }
                other => RunError::damaged(&path, other.to_string()),
            })
    }

    /// Write `splits.csv`.
    pub fn write_splits(&self, members: &[Member]) -> Result<(), RunError> {
        self.write(file::SPLITS, membership::to_csv(members).as_bytes())
    }

    /// Whether the run has a checkpoint.
    pub fn has_checkpoint(&self) -> bool {
        self.file(file::CHECKPOINT).exists()
    }

    /// The checkpoint.
    pub fn checkpoint(&self) -> Result<Checkpoint, RunError> {
        let path = self.file(file::CHECKPOINT);
        if !path.exists() {
            return Err(RunError::Missing {
                what: "no checkpoint: the run has not finished an epoch yet; start it again".into(),
                path,
            });
        }
        checkpoint::load(&path)
    }

    /// Replace the checkpoint atomically.
    pub fn save_checkpoint(
        &self,
        progress: &Progress,
        model: &[u8],
        optimizer: &[u8],
    ) -> Result<(), RunError> {
        checkpoint::save(&self.file(file::CHECKPOINT), progress, model, optimizer)
    }

    /// The data audit saved in the run, if any (shown by the HTML report).
    pub fn audit(&self) -> Option<serde_json::Value> {
        self.read_json(file::AUDIT).ok()
    }
}

/// The rows of a `predictions.csv`.
pub struct PredictionRows<'a> {
    /// Source path of each image (empty for generated data).
    pub paths: &'a [String],
    /// True class of each image.
    pub y_true: &'a [u32],
    /// Predicted class of each image.
    pub y_pred: &'a [usize],
    /// Class probabilities, `len × classes`, row-major.
    pub probabilities: &'a [f32],
    /// Class names in label order.
    pub class_names: &'a [String],
}

/// `predictions.csv`: `index,path,y_true,y_pred,p_<class>...`. Each row's probabilities are
/// renormalized in `f64` so that they sum to 1 (to within one unit in the last place), and
/// written in the shortest form that reads back to the same `f64`. Paths are path text.
pub fn predictions_csv(rows: &PredictionRows<'_>) -> String {
    let k = rows.class_names.len();
    let header = ["index", "path", "y_true", "y_pred"]
        .map(String::from)
        .into_iter()
        .chain(rows.class_names.iter().map(|name| format!("p_{name}")));
    let mut out = Writer::new(header);
    for (i, (&t, &p)) in rows.y_true.iter().zip(rows.y_pred).enumerate() {
        let path = rows.paths.get(i).map(String::as_str).unwrap_or("");
        let row: Vec<f64> = rows.probabilities[i * k..(i + 1) * k]
            .iter()
            .map(|&v| v as f64)
            .collect();
        let total: f64 = row.iter().sum();
        let fields = [
            i.to_string(),
            path.to_string(),
            t.to_string(),
            p.to_string(),
        ]
        .into_iter()
        .chain(row.iter().map(|v| (v / total).to_string()));
        out.row(fields);
    }
    out.finish_string()
}

/// `skipped.csv`: `path,reason` per unusable file.
pub fn skipped_csv(skipped: &[Skipped]) -> String {
    let mut csv = Writer::new(["path", "reason"]);
    for s in skipped {
        csv.row([s.path.clone(), s.reason.to_string()]);
    }
    csv.finish_string()
}

/// Parse a `confusion.csv` (header `true\pred,<names>`, then one row per true class).
fn parse_confusion(path: &Path, text: &str) -> Result<(ConfusionMatrix, Vec<String>), String> {
    let table = Table::parse(path, text.as_bytes()).map_err(|e| match e {
        augtrain_data::DataError::Malformed { problem, .. } => problem,
        other => other.to_string(),
    })?;
    let names: Vec<String> = table.header().iter().skip(1).cloned().collect();
    let k = names.len();
    let mut cm = ConfusionMatrix::new(k);
    for (t, row) in table.rows().iter().enumerate() {
        if t >= k {
            return Err(format!("line {}: more rows than the {k} classes", row.line));
        }
        for (p, v) in row.fields[1..].iter().enumerate() {
            let count: u64 = v.trim().parse().map_err(|_| {
                format!(
                    "line {}: '{}' is not a count",
                    row.line,
                    augtrain_data::util::escape::escape(v)
                )
            })?;
            cm.add_count(t, p, count);
        }
    }
    if table.rows().len() != k {
        return Err(format!("{} rows for {k} classes", table.rows().len()));
    }
    Ok((cm, names))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn scratch(tag: &str) -> PathBuf {
        let dir =
            std::env::temp_dir().join(format!("augtrain-rundir-{tag}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        dir
    }

    #[test]
    fn confusion_round_trips_and_damage_is_an_error() {
        let dir = scratch("confusion");
        let run = RunDir::create(&dir, "r", false).unwrap();
        let cm = ConfusionMatrix::from_labels(&[0, 1, 1, 2], &[0, 1, 2, 2], 3);
        let names: Vec<String> = ["a,b", "c", "d"].iter().map(|s| s.to_string()).collect();
        run.write_confusion(&cm, &names).unwrap();
        assert_eq!(run.confusion().unwrap(), (cm, names));
        std::fs::write(run.file(file::CONFUSION), "true\\pred,a,b\na,1,x\nb,0,1\n").unwrap();
        let e = run.confusion().unwrap_err();
        assert!(matches!(e, RunError::Damaged { .. }), "{e}");
        assert!(e.to_string().contains("'x' is not a count"), "{e}");
    }

    #[test]
    fn a_second_writer_is_refused_and_missing_files_are_missing() {
        let dir = scratch("lock");
        let first = RunDir::create(&dir, "r", false).unwrap();
        let e = RunDir::create(&dir, "r", false).unwrap_err().to_string();
        assert!(e.contains("another augtrain process"), "{e}");
        drop(first);
        let again = RunDir::create(&dir, "r", false).unwrap();
        assert!(matches!(again.model_card(), Err(RunError::Missing { .. })));
        let e = RunDir::open(&dir.join("nope")).unwrap_err();
        assert!(matches!(e, RunError::Missing { .. }));
    }

    #[test]
    fn predictions_sum_to_one_in_f64_and_name_paths() {
        let names = vec!["a".to_string(), "b".to_string(), "c".to_string()];
        let probs = [0.1f32, 0.2, 0.7000001, 0.3333, 0.3333, 0.3334];
        let csv = predictions_csv(&PredictionRows {
            paths: &["x,1.png".into(), "y.png".into()],
            y_true: &[2, 0],
            y_pred: &[2, 2],
            probabilities: &probs,
            class_names: &names,
        });
        assert_eq!(
            csv.lines().next().unwrap(),
            "index,path,y_true,y_pred,p_a,p_b,p_c"
        );
        let table = Table::parse(Path::new("p.csv"), csv.as_bytes()).unwrap();
        for row in table.rows() {
            let f = &row.fields;
            let sum: f64 = f[4..].iter().map(|v| v.parse::<f64>().unwrap()).sum();
            assert!((sum - 1.0).abs() <= 2.0 * f64::EPSILON, "{f:?}: {sum}");
        }
        assert!(csv.contains("0,\"x,1.png\",2,2,"), "{csv}");
    }
}

/// The output directory of a command that writes several files at once (`cv`, `predict`,
/// `label-issues`, `split --out`): claimed before any work, written under a hidden partial
/// name, and moved into place whole by [`OutputDir::publish`]. An existing non-empty target is
/// refused unless `force`, which replaces it as a whole at publication; an unpublished output
/// (error, interruption) leaves nothing behind.
#[derive(Debug)]
pub struct OutputDir {
    target: PathBuf,
    work: PartialDir,
    force: bool,
    /// The target was an empty directory when claimed (taken over at publication).
    empty_dir: bool,
}

impl OutputDir {
    /// Claim `out`, or `parent/<default_name>` (suffixed `-2`, `-3`, ... if taken) when no
    /// `out` is given.
    pub fn claim(
        out: Option<&Path>,
        parent: &Path,
        default_name: &str,
        force: bool,
    ) -> Result<Self, RunError> {
        let target = match out {
            Some(out) => out.to_path_buf(),
            None => {
                let mut path = parent.join(default_name);
                let mut k = 2;
                while path.exists() {
                    path = parent.join(format!("{default_name}-{k}"));
                    k += 1;
                }
                path
            }
        };
        let empty_dir = std::fs::read_dir(&target).is_ok_and(|mut d| d.next().is_none());
        let taken = std::fs::symlink_metadata(&target).is_ok() && !empty_dir;
        if taken && !force {
            return Err(exists(&target));
        }
        let dir = target.parent().filter(|p| !p.as_os_str().is_empty());
        create_dir_all(dir.unwrap_or(Path::new(".")))?;
        let work = PartialDir::create(&target)?;
        check_writable_dir(work.path())?;
        Ok(Self {
            target,
            work,
            force,
            empty_dir,
        })
    }

    /// Where the output will be once published.
    pub fn path(&self) -> &Path {
        &self.target
    }

    /// Where `name` will be once published (for messages).
    pub fn file(&self, name: &str) -> PathBuf {
        self.target.join(name)
    }

    /// Write a file of the output; `name` may hold `/`-separated folders, created as needed.
    /// A name that would leave the output (absolute, `..`, a symbolic link on the way) is an
    /// error: names can come from files we did not write (annotation image names).
    pub fn write(&self, name: &str, bytes: &[u8]) -> Result<(), RunError> {
        Ok(write_atomic(&self.writable(name)?, bytes)?)
    }

    /// Where `name` is written in the unpublished output, its folders created; an error for a
    /// name that would leave the output.
    fn writable(&self, name: &str) -> Result<PathBuf, RunError> {
        let path = augtrain_data::util::inside::writable_inside(self.work.path(), Path::new(name))
            .map_err(|e| RunError::Damaged {
                path: self.target.clone(),
                problem: format!("refusing to write {e} outside this output"),
            })?;
        if let Some(parent) = path.parent().filter(|p| *p != self.work.path()) {
            create_dir_all(parent)?;
        }
        Ok(path)
    }

    /// Write a file of the output from what `fill` writes into it (buffered), for files too
    /// large to hold in memory first; names as [`OutputDir::write`]. The file is written in
    /// place inside the unpublished output, which [`OutputDir::publish`] flushes to disk whole.
    pub fn write_with(
        &self,
        name: &str,
        fill: &mut dyn FnMut(&mut dyn std::io::Write) -> std::io::Result<()>,
    ) -> Result<(), RunError> {
        use std::io::Write;
        let written = std::fs::File::create(self.writable(name)?).and_then(|file| {
            let mut w = std::io::BufWriter::with_capacity(1 << 16, file);
            fill(&mut w)?;
            w.flush()
        });
        written.map_err(|e| IoError::new("write", self.file(name), e).into())
    }

    /// Move the finished output into place, flushed to disk first. The final rename never
    /// replaces anything: an output that appeared meanwhile (another process with the same
    /// `--out`) is left intact and this one is an error. Claimed with `force`, an existing
    /// output is first moved aside and removed once the new one is in place; an empty directory
    /// found at claim time is taken over (removed only while still empty).
    pub fn publish(self) -> Result<PathBuf, RunError> {
        let io = |e| IoError::new("move the finished output to", &self.target, e);
        let mut old = None;
        if self.force && !self.empty_dir && std::fs::symlink_metadata(&self.target).is_ok() {
            let aside = self.work.path().with_extension("old");
            std::fs::rename(&self.target, &aside).map_err(io)?;
            old = Some(aside);
        } else if self.empty_dir {
            // Fails (and the rename below refuses) if someone has written into it meanwhile.
            let _ = std::fs::remove_dir(&self.target);
        }
        let target = self.target.clone();
        if let Err(e) = self.work.publish(&target) {
            if e.kind() == std::io::ErrorKind::AlreadyExists {
                return Err(RunError::Exists {
                    path: target,
                    what: format!(
                        "appeared while this output was being written (another process?) and was left as it is{}; choose another --out",
                        old.map(|o| format!("; the replaced output is kept as {}", o.display()))
                            .unwrap_or_default()
                    ),
                });
            }
            return Err(io(e).into());
        }
        if let Some(old) = old {
            let _ = if old.is_dir() {
                std::fs::remove_dir_all(&old)
            } else {
                std::fs::remove_file(&old)
            };
        }
        Ok(target)
    }
}

/// The error for an output that exists and may not be replaced.
fn exists(target: &Path) -> RunError {
    RunError::Exists {
        path: target.to_path_buf(),
        what:
            "already exists and is not empty; choose another --out, or pass --force to replace it"
                .into(),
    }
}

#[cfg(test)]
mod output_tests {
    use super::*;

    #[test]
    fn outputs_appear_whole_and_existing_ones_need_force() {
        let root = std::env::temp_dir().join(format!("augtrain-output-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&root);
        let target = root.join("out");
        let out = OutputDir::claim(Some(&target), &root, "x", false).unwrap();
        out.write("a.csv", b"1").unwrap();
        assert!(!target.exists(), "visible before publication");
        out.publish().unwrap();
        assert_eq!(std::fs::read(target.join("a.csv")).unwrap(), b"1");
        let e = OutputDir::claim(Some(&target), &root, "x", false).unwrap_err();
        assert!(matches!(e, RunError::Exists { .. }), "{e}");
        // Dropped unpublished: the old output stays as it was, no partial directory is left.
        let out = OutputDir::claim(Some(&target), &root, "x", true).unwrap();
        out.write("b.csv", b"2").unwrap();
        drop(out);
        assert!(target.join("a.csv").exists() && !target.join("b.csv").exists());
        let out = OutputDir::claim(Some(&target), &root, "x", true).unwrap();
        out.write("b.csv", b"2").unwrap();
        out.publish().unwrap();
        assert!(!target.join("a.csv").exists() && target.join("b.csv").exists());
        let left: Vec<_> = std::fs::read_dir(&root).unwrap().collect();
        assert_eq!(left.len(), 1, "{left:?}");
        std::fs::remove_dir_all(&root).unwrap();
    }

    #[test]
    fn names_that_would_leave_the_output_are_refused() {
        let root = std::env::temp_dir().join(format!("augtrain-output3-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&root);
        let out = OutputDir::claim(Some(&root.join("out")), &root, "x", false).unwrap();
        out.write("sub/a.txt", b"1").unwrap();
        for bad in [
            "../escape.txt",
            "/tmp/augtrain-absolute.txt",
            "sub/../../x.txt",
        ] {
            let e = out.write(bad, b"2").unwrap_err().to_string();
            assert!(e.contains("outside this output"), "{bad}: {e}");
        }
        assert!(!root.join("escape.txt").exists() && !root.join("x.txt").exists());
        out.publish().unwrap();
        std::fs::remove_dir_all(&root).unwrap();
    }

    #[test]
    fn of_two_writers_of_one_output_the_second_fails_and_the_first_stays() {
        let root = std::env::temp_dir().join(format!("augtrain-output2-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&root);
        let target = root.join("emb");
        let first = OutputDir::claim(Some(&target), &root, "x", false).unwrap();
        // The second claim sees nothing yet (the first works under a hidden name).
        let second = OutputDir::claim(Some(&root.join("emb")), &root, "x", false);
        // Same process, same partial name: the second cannot take the first's directory.
        assert!(second.is_err());
        first.write("a.csv", b"first").unwrap();
        // Another process's output appears at the target meanwhile.
        std::fs::create_dir_all(&target).unwrap();
        std::fs::write(target.join("a.csv"), b"other").unwrap();
        let e = first.publish().unwrap_err();
        assert!(matches!(e, RunError::Exists { .. }), "{e}");
        assert!(e.to_string().contains("appeared while"), "{e}");
        assert_eq!(std::fs::read(target.join("a.csv")).unwrap(), b"other");
        // An empty directory at claim time is taken over.
        let empty = root.join("empty");
        std::fs::create_dir_all(&empty).unwrap();
        let out = OutputDir::claim(Some(&empty), &root, "x", false).unwrap();
        out.write("b.csv", b"2").unwrap();
        out.publish().unwrap();
        assert_eq!(std::fs::read(empty.join("b.csv")).unwrap(), b"2");
        let left: Vec<_> = std::fs::read_dir(&root).unwrap().collect();
        assert_eq!(left.len(), 2, "{left:?}");
        std::fs::remove_dir_all(&root).unwrap();
    }

    #[test]
    fn a_run_removes_only_its_own_abandoned_temps_and_only_while_locked() {
        let root = std::env::temp_dir().join(format!("augtrain-runtemps-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&root);
        let run = RunDir::create(&root, "r", false).unwrap();
        let dir = root.join("r");
        std::fs::write(dir.join(".checkpoint.bin.tmp-4194305"), b"half").unwrap();
        std::fs::write(dir.join(".mine.txt.tmp-4194305"), b"user").unwrap();
        let reader = RunDir {
            path: dir.clone(),
            _lock: None,
        };
        reader.remove_abandoned_temps();
        assert!(dir.join(".checkpoint.bin.tmp-4194305").exists());
        run.remove_abandoned_temps();
        assert!(!dir.join(".checkpoint.bin.tmp-4194305").exists());
        assert!(dir.join(".mine.txt.tmp-4194305").exists());
        std::fs::remove_dir_all(&root).unwrap();
    }
}
