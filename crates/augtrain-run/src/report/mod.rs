//! The run directory: everything a run leaves behind, each file written atomically.
//!
//! `runs/<name>/` holds `config.toml` (resolved config), `metrics.jsonl` (one JSON line per
//! epoch), `report.txt` and `report.json` (final test metrics), `predictions.csv` (index,
//! y_true, y_pred, one probability column per class), `confusion.csv` and `checkpoint.bin`.

pub mod html;
pub mod images;
pub mod plot;

use std::path::{Path, PathBuf};

use augtrain_data::files::csv_field;
use augtrain_data::util::fs::{IoError, check_writable_dir, create_dir_all, write_atomic};

/// The hidden lock file of a run directory. The process writing a run holds an exclusive
/// advisory lock on it (released by the operating system when the process ends, however it
/// ends), so two processes never write one run.
pub const LOCK_FILE: &str = ".augtrain.lock";

/// A run directory.
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
        .open(dir.join(LOCK_FILE))
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
    /// Use an existing run directory read-only.
    pub fn open(path: &Path) -> Self {
        Self {
            path: path.to_path_buf(),
            _lock: None,
        }
    }

    /// Open an existing run directory to continue writing it, holding its lock.
    pub fn resume(path: &Path) -> Result<Self, IoError> {
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
    /// and a second process writing the same name gets an error.
    pub fn create(runs_dir: &Path, name: &str, unique: bool) -> Result<Self, IoError> {
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
                    Err(e) => return Err(IoError::new("create directory", &path, e)),
                }
            }
        }
        check_writable_dir(&path)?;
        let lock = lock(&path)?;
        Ok(Self {
            path,
            _lock: Some(std::sync::Arc::new(lock)),
        })
    }

    /// The output directory of a command with an `--out DIR` flag: exactly `out` when given
    /// (reused if it exists), else a new `parent/<default_name>` (suffixed if taken).
    pub fn for_output(
        out: Option<&Path>,
        parent: &Path,
        default_name: &str,
    ) -> Result<Self, IoError> {
        match out {
            Some(out) => Self::create(
                out.parent().unwrap_or(Path::new(".")),
                &out.file_name().unwrap_or_default().to_string_lossy(),
                false,
            ),
            None => Self::create(parent, default_name, true),
        }
    }

    /// The directory.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// A file inside the directory.
    pub fn file(&self, name: &str) -> PathBuf {
        self.path.join(name)
    }

    /// Write a text file atomically.
    pub fn write(&self, name: &str, text: &str) -> Result<(), IoError> {
        write_atomic(&self.file(name), text.as_bytes())
    }
}

/// `predictions.csv`: `index,y_true,y_pred,p_<class>...` with probabilities in full precision.
pub fn predictions_csv(
    y_true: &[u32],
    y_pred: &[usize],
    probabilities: &[f32],
    class_names: &[String],
) -> String {
    let k = class_names.len();
    let mut out = String::from("index,y_true,y_pred");
    for name in class_names {
        out.push(',');
        out.push_str(&csv_field(&format!("p_{name}")));
    }
    out.push('\n');
    for (i, (&t, &p)) in y_true.iter().zip(y_pred).enumerate() {
        out.push_str(&format!("{i},{t},{p}"));
        for v in &probabilities[i * k..(i + 1) * k] {
            out.push_str(&format!(",{v}"));
        }
        out.push('\n');
    }
    out
}
