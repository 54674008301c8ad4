//! Where a benchmark run's rows go as they complete: the in-memory list for the final table
//! and `--json` report, and with `--jsonl PATH` one JSON line appended to `PATH` per row,
//! written and flushed before the next case starts, so a run killed by a timeout keeps every
//! row it finished. The file's first line describes the machine and the adapter.

use std::io::Write;
use std::path::{Path, PathBuf};

use super::{Machine, Measurement};
use crate::util::fs::IoError;

/// The rows of a run so far, and the line log they are mirrored to.
pub struct Rows {
    /// Every row, in completion order.
    pub list: Vec<Measurement>,
    log: Option<(PathBuf, std::fs::File)>,
}

impl Rows {
    /// Rows kept in memory only.
    pub fn in_memory() -> Self {
        Self {
            list: Vec::new(),
            log: None,
        }
    }

    /// Rows mirrored to `path` (created, or appended to), whose first line written here is
    /// `{"kind": "machine", ...machine}`.
    pub fn logged(path: &Path, machine: &Machine) -> Result<Self, IoError> {
        let file = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(path)
            .map_err(|e| IoError::new("open", path, e))?;
        let mut rows = Self {
            list: Vec::new(),
            log: Some((path.to_path_buf(), file)),
        };
        rows.line("machine", machine)?;
        Ok(rows)
    }

    /// Add a finished row (and write its line).
    pub fn push(&mut self, m: Measurement) -> Result<(), IoError> {
        self.line("row", &m)?;
        self.list.push(m);
        Ok(())
    }

    /// Add finished rows.
    pub fn extend(&mut self, ms: Vec<Measurement>) -> Result<(), IoError> {
        ms.into_iter().try_for_each(|m| self.push(m))
    }

    /// Append `{"kind": kind, ...value}` as one line and flush it.
    pub fn line<T: serde::Serialize>(&mut self, kind: &str, value: &T) -> Result<(), IoError> {
        let Some((path, file)) = self.log.as_mut() else {
            return Ok(());
        };
        let mut json = serde_json::to_value(value).expect("rows serialize");
        if let Some(obj) = json.as_object_mut() {
            obj.insert("kind".into(), kind.into());
        }
        let mut text = serde_json::to_string(&json).expect("rows serialize");
        text.push('\n');
        file.write_all(text.as_bytes())
            .and_then(|()| file.flush())
            .map_err(|e| IoError::new("append to", path.clone(), e))
    }
}
