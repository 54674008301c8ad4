//! The run directory: everything a run leaves behind, each file written atomically.
//!
//! `runs/<name>/` holds `config.toml` (resolved config), `metrics.jsonl` (one JSON line per
//! epoch), `report.txt` and `report.json` (final test metrics), `predictions.csv` (index,
//! y_true, y_pred, one probability column per class), `confusion.csv` and `checkpoint.bin`.

pub mod font;
pub mod html;
pub mod images;
pub mod plot;

use std::path::{Path, PathBuf};

use crate::metrics::confusion::csv_field;
use crate::util::fs::{IoError, check_writable_dir, write_atomic};

/// A run directory.
#[derive(Clone, Debug)]
pub struct RunDir {
    path: PathBuf,
}

impl RunDir {
    /// Use an existing run directory.
    pub fn open(path: &Path) -> Self {
        Self {
            path: path.to_path_buf(),
        }
    }

    /// Create `runs_dir/<name>`, checking it is writable. When `unique`, a numeric suffix is
    /// added if the name is taken.
    pub fn create(runs_dir: &Path, name: &str, unique: bool) -> Result<Self, IoError> {
        let mut path = runs_dir.join(name);
        if unique {
            let mut k = 2;
            while path.exists() {
                path = runs_dir.join(format!("{name}-{k}"));
                k += 1;
            }
        }
        check_writable_dir(&path)?;
        Ok(Self { path })
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
