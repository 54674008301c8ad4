//! The embeddings directory `augtrain embed` writes and `audit --embeddings` and
//! `label-issues --embeddings` read:
//!
//! - `embeddings.npy`: `float32`, shape `(images, dim)`, C order, each row L2-normalized
//!   (`numpy.load` reads it);
//! - `index.csv`: `row,path,label,split,sha256`, one line per embedding row in the same order:
//!   the image's path text as the dataset names it (relative to the dataset root;
//!   `#id` for records of container formats), its class, its split (empty when the source
//!   assigns none) and the SHA-256 of the image file's bytes (hex; empty for records of
//!   container formats, which have no file of their own);
//! - `embed.json`: what computed them ([`EmbedInfo`]).
//!
//! Rows are matched to images by path, never by position, so an audit whose file list differs
//! (a file added, a corrupt one skipped) says which images have no embedding instead of pairing
//! the wrong ones; and by content, so an image changed since it was embedded is named rather
//! than audited with its old embedding. An `index.csv` without the `sha256` column (written by
//! augtrain before 0.1's safety fixes, or by hand) still reads, but an audit of images refuses
//! it: its rows cannot be checked against the files. Embeddings computed elsewhere can be used
//! by writing these two files (`embed.json` is optional on reading; rows are normalized on
//! reading; `sha256sum` prints the hashes).

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use super::npy;
use super::store::EmbeddingSet;
use augtrain_data::DataError;
use augtrain_data::csv::{Table, Writer};
use augtrain_data::files::SplitName;

/// The embedding matrix's file name.
pub const EMBEDDINGS: &str = "embeddings.npy";
/// The index's file name.
pub const INDEX: &str = "index.csv";
/// The provenance file's name.
pub const INFO: &str = "embed.json";

/// What computed a set of embeddings.
#[derive(Clone, Debug, Default, Serialize, Deserialize, PartialEq)]
pub struct EmbedInfo {
    /// The architecture (e.g. `efficientnet-lite0`).
    pub model: String,
    /// The weights file, for `--pretrained` (absolute path text).
    pub weights: Option<String>,
    /// The run directory, for `--run` (absolute path text).
    pub run: Option<String>,
    /// The dataset embedded (absolute path text).
    pub data: String,
    /// Images embedded.
    pub images: usize,
    /// Floats per embedding.
    pub dim: usize,
    /// The model's input, `WxHxC`, after the evaluation pipeline.
    pub input: String,
    /// The device that ran the model.
    pub device: String,
    /// Wall time of the forward passes, seconds.
    pub seconds: f64,
}

/// One embedding row's image.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct IndexRow {
    /// Path text as the dataset names the image.
    pub path: String,
    /// Class name (empty when unknown).
    pub label: String,
    /// Split the source assigns, if any.
    pub split: Option<SplitName>,
    /// SHA-256 (lowercase hex) of the image file's bytes when it was embedded; empty for a
    /// record without a file of its own; `None` when the index has no `sha256` column.
    pub sha256: Option<String>,
}

/// Embeddings with the images they belong to.
#[derive(Clone, Debug)]
pub struct Embedded {
    /// One L2-normalized row per image.
    pub set: EmbeddingSet,
    /// The images, row by row.
    pub index: Vec<IndexRow>,
    /// Provenance (default when the directory has no `embed.json`).
    pub info: EmbedInfo,
}

impl Embedded {
    /// The files of the embeddings directory, by name, as bytes.
    pub fn files(&self) -> Vec<(&'static str, Vec<u8>)> {
        let mut csv = Writer::new(["row", "path", "label", "split", "sha256"]);
        for (i, r) in self.index.iter().enumerate() {
            let split = r.split.map(|s| s.to_string()).unwrap_or_default();
            let sha = r.sha256.clone().unwrap_or_default();
            csv.row([i.to_string(), r.path.clone(), r.label.clone(), split, sha]);
        }
        let info = serde_json::to_string_pretty(&self.info).expect("json");
        vec![
            (EMBEDDINGS, npy::npy_bytes(&self.set)),
            (INDEX, csv.finish()),
            (INFO, info.into_bytes()),
        ]
    }

    /// Read the embeddings directory `dir`: every row normalized, the index as long as the
    /// matrix, paths unique.
    pub fn read(dir: &Path) -> Result<Embedded, DataError> {
        let matrix_path = dir.join(EMBEDDINGS);
        let bytes = augtrain_data::util::fs::read_regular(&matrix_path).map_err(|source| {
            DataError::Read {
                path: matrix_path.clone(),
                source,
            }
        })?;
        let malformed = |path: &PathBuf, problem: String| DataError::Malformed {
            path: path.clone(),
            problem,
        };
        let mut set = npy::parse_npy(
            &bytes,
            &augtrain_data::util::escape::escape_path(&matrix_path),
        )
        .map_err(|e| DataError::Invalid(e.to_string()))?;
        set.normalize_rows()
            .map_err(|e| malformed(&matrix_path, e.to_string()))?;
        let index = read_index(&dir.join(INDEX), set.len())?;
        let info_path = dir.join(INFO);
        let info = match augtrain_data::util::fs::read_regular(&info_path) {
            Ok(bytes) => serde_json::from_slice(&bytes)
                .map_err(|e| malformed(&info_path, format!("not an embed.json: {e}")))?,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => EmbedInfo::default(),
            Err(source) => {
                return Err(DataError::Read {
                    path: info_path,
                    source,
                });
            }
        };
        Ok(Embedded { set, index, info })
    }

    /// Row of each path.
    pub fn rows_by_path(&self) -> std::collections::HashMap<&str, usize> {
        self.index
            .iter()
            .enumerate()
            .map(|(i, r)| (r.path.as_str(), i))
            .collect()
    }
}

/// `index.csv`: a `path` column (required), `label`, `split` and `sha256` (optional), `rows`
/// lines.
fn read_index(path: &Path, rows: usize) -> Result<Vec<IndexRow>, DataError> {
    parse_index(&Table::read(path)?, rows)
}

/// A SHA-256 as `index.csv` holds it: empty, or 64 hex digits (read lowercase).
fn parse_sha256(text: &str) -> Option<String> {
    let t = text.trim();
    (t.is_empty() || (t.len() == 64 && t.bytes().all(|b| b.is_ascii_hexdigit())))
        .then(|| t.to_ascii_lowercase())
}

/// The rows of a parsed `index.csv` (see [`read_index`]); public for the fuzz target.
pub fn parse_index(table: &Table, rows: usize) -> Result<Vec<IndexRow>, DataError> {
    let path_col = table
        .column("path")
        .ok_or_else(|| table.file_error("no 'path' column; expected row,path,label,split"))?;
    let (label_col, split_col) = (table.column("label"), table.column("split"));
    let sha_col = table.column("sha256");
    if table.rows().len() != rows {
        return Err(table.file_error(format!(
            "{} rows for {rows} embeddings; the index must list the matrix's rows in order",
            table.rows().len()
        )));
    }
    let mut seen = std::collections::HashSet::new();
    let mut out = Vec::with_capacity(rows);
    for row in table.rows() {
        let p = row.fields[path_col].clone();
        if !seen.insert(p.clone()) {
            return Err(table.error(row, format!("path '{p}' is listed twice")));
        }
        let split =
            match split_col.map(|c| row.fields[c].trim()) {
                None | Some("") => None,
                Some(s) => Some(SplitName::parse(s).ok_or_else(|| {
                    table.error(row, format!("split '{s}': use train, val or test"))
                })?),
            };
        let sha256 = match sha_col {
            None => None,
            Some(c) => Some(parse_sha256(&row.fields[c]).ok_or_else(|| {
                table.error(
                    row,
                    format!(
                        "sha256 '{}' is not 64 hex digits",
                        augtrain_data::util::escape::escape(&row.fields[c])
                    ),
                )
            })?),
        };
        out.push(IndexRow {
            path: p,
            label: label_col.map(|c| row.fields[c].clone()).unwrap_or_default(),
            split,
            sha256,
        });
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> Embedded {
        let mut set = EmbeddingSet {
            dim: 3,
            values: vec![1.0, 2.0, 2.0, 0.0, 3.0, 4.0],
        };
        set.normalize_rows().unwrap();
        Embedded {
            set,
            index: vec![
                IndexRow {
                    path: "ants/a, b.jpg".into(),
                    label: "ants".into(),
                    split: Some(SplitName::Train),
                    sha256: Some("ab".repeat(32)),
                },
                IndexRow {
                    path: "bees/c.jpg".into(),
                    label: "bees".into(),
                    split: None,
                    sha256: Some(String::new()),
                },
            ],
            info: EmbedInfo {
                model: "efficientnet-lite0".into(),
                images: 2,
                dim: 3,
                ..EmbedInfo::default()
            },
        }
    }

    fn write(dir: &Path, e: &Embedded) {
        for (name, bytes) in e.files() {
            std::fs::write(dir.join(name), bytes).unwrap();
        }
    }

    #[test]
    fn a_directory_reads_back_as_written() {
        let dir = tempdir("roundtrip");
        let e = sample();
        write(&dir, &e);
        let back = Embedded::read(&dir).unwrap();
        assert_eq!(back.set.values, e.set.values);
        assert_eq!(back.index, e.index);
        assert_eq!(back.info, e.info);
        assert_eq!(back.rows_by_path()["bees/c.jpg"], 1);
    }

    #[test]
    fn an_index_that_does_not_fit_the_matrix_is_refused() {
        let dir = tempdir("short");
        write(&dir, &sample());
        std::fs::write(dir.join(INDEX), "row,path\n0,a.jpg\n").unwrap();
        let e = Embedded::read(&dir).unwrap_err().to_string();
        assert!(e.contains("1 rows for 2 embeddings"), "{e}");
        std::fs::write(dir.join(INDEX), "row,path\n0,a.jpg\n1,a.jpg\n").unwrap();
        let e = Embedded::read(&dir).unwrap_err().to_string();
        assert!(e.contains("listed twice"), "{e}");
        std::fs::write(dir.join(INDEX), "row,path,sha256\n0,a.jpg,\n1,b.jpg,xyz\n").unwrap();
        let e = Embedded::read(&dir).unwrap_err().to_string();
        assert!(e.contains("sha256 'xyz' is not 64 hex digits"), "{e}");
        // Without the column (an older or hand-written index): read, nothing to check against.
        std::fs::write(dir.join(INDEX), "row,path\n0,a.jpg\n1,b.jpg\n").unwrap();
        let back = Embedded::read(&dir).unwrap();
        assert!(back.index.iter().all(|r| r.sha256.is_none()));
        std::fs::remove_file(dir.join(EMBEDDINGS)).unwrap();
        let e = Embedded::read(&dir).unwrap_err().to_string();
        assert!(e.contains("embeddings.npy"), "{e}");
    }

    fn tempdir(name: &str) -> PathBuf {
        let dir = std::env::temp_dir().join(format!(
            "augtrain-embedding-files-{name}-{}",
            std::process::id()
        ));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        dir
    }
}
