//! Images without labels, for prediction: a folder (searched recursively), a CSV with a `path`
//! column, or any dataset augtrain reads (its labels are ignored). Images are decoded at the
//! model's input shape with the model's decoding rules ([`LoadOptions`]).

use std::path::{Path, PathBuf};

use crate::files::{FileItem, Skipped, files_under, load_items};
use crate::source::{DataSource, load_whole};
use crate::util::escape::escape_path;
use crate::util::path_text;
use crate::{DataError, Dataset, LoadOptions};

/// The images to predict.
#[derive(Debug)]
pub struct Unlabelled {
    /// The usable images; every label is 0 and the class names are the model's, so the
    /// dataset goes through evaluation unchanged. `paths` are path text relative to `base`.
    pub data: Dataset,
    /// Files that could not be used, with the reason (none under [`crate::files::OnError::Fail`],
    /// where the first one is an error).
    pub skipped: Vec<Skipped>,
    /// The directory the paths are relative to.
    pub base: PathBuf,
}

impl Unlabelled {
    /// Image `i`'s path from anywhere: absolute, as path text (exact for any file name).
    pub fn absolute_path(&self, i: usize) -> String {
        let p = self.base.join(path_text::decode(&self.data.paths[i]));
        path_text::encode(&std::path::absolute(&p).unwrap_or(p))
    }
}

/// Load the images at `path` for a model with `class_names` (see the module documentation).
pub fn load(
    path: &Path,
    opts: &LoadOptions,
    class_names: &[String],
) -> Result<Unlabelled, DataError> {
    let source = DataSource::from_path(path);
    let is_csv = path
        .extension()
        .is_some_and(|e| e.eq_ignore_ascii_case("csv"));
    let files = match source {
        Ok(DataSource::Folder(_)) | Err(_) if path.is_dir() => files_under(path)?,
        _ if is_csv && !path.is_dir() => listed_files(path)?,
        Ok(source) => return labelled(path, &source, opts, class_names),
        Err(e) => return Err(e),
    };
    if files.is_empty() {
        return Err(DataError::Missing {
            path: path.to_path_buf(),
            problem: "no files to predict".into(),
        });
    }
    let label = class_names.first().cloned().unwrap_or_default();
    let items: Vec<FileItem> = files
        .into_iter()
        .map(|(path, rel)| FileItem {
            path,
            rel,
            label: label.clone(),
            split: None,
        })
        .collect();
    let (data, _, report) = load_items(&items, class_names, Some(class_names), opts)?;
    Ok(Unlabelled {
        data,
        skipped: report.skipped,
        base: base_of(path),
    })
}

/// The directory relative paths of `path` are resolved against.
fn base_of(path: &Path) -> PathBuf {
    if path.is_dir() {
        path.to_path_buf()
    } else {
        path.parent()
            .filter(|p| !p.as_os_str().is_empty())
            .unwrap_or(Path::new("."))
            .to_path_buf()
    }
}

/// The files a CSV names in its `path` column (other columns ignored), relative to its folder.
fn listed_files(csv: &Path) -> Result<Vec<(PathBuf, String)>, DataError> {
    let table = crate::csv::Table::read(csv)?;
    let column = table
        .column("path")
        .ok_or_else(|| table.file_error("no 'path' column: the header row must name one"))?;
    let base = base_of(csv);
    Ok(table
        .rows()
        .iter()
        .map(|row| {
            let file = path_text::decode(row.fields[column].trim());
            (base.join(&file), path_text::encode(&file))
        })
        .collect())
}

/// Every sample of a labelled dataset, its labels replaced by 0.
fn labelled(
    path: &Path,
    source: &DataSource,
    opts: &LoadOptions,
    class_names: &[String],
) -> Result<Unlabelled, DataError> {
    let whole = load_whole(source, opts, 42)?;
    if whole.data.shape != opts.file_shape() {
        return Err(DataError::Invalid(format!(
            "{} holds {} images but the model takes {}",
            escape_path(path),
            whole.data.shape,
            opts.file_shape()
        )));
    }
    let mut data = whole.data;
    data.class_names = class_names.to_vec();
    data.labels = vec![0; data.len()];
    Ok(Unlabelled {
        data,
        skipped: whole.report.skipped,
        base: base_of(path),
    })
}
