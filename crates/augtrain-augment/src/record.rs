//! `params.jsonl`: one JSON line per augmented image that `augtrain augment --out` wrote, read
//! back by `augment --replay` to redraw exactly the same pictures.
//!
//! A record's `file` is joined to the replay's `--out` folder, so it must be a plain relative
//! name that stays inside it ([`augtrain_data::util::inside`]): a file edited by hand or made
//! by someone else cannot make the replay write anywhere else.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use augtrain_data::Dataset;
use augtrain_data::files::sha256_hex;
use augtrain_data::util::escape::{escape, escape_path};
use augtrain_data::util::inside::{relative_inside, writable_inside};

use crate::SampleParams;

/// One line of `params.jsonl`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Record {
    /// Batch number (one batch per version).
    pub batch: usize,
    /// Position in the batch.
    pub position: usize,
    /// Index of the image in the training split.
    pub index: usize,
    /// The image's sample id.
    pub id: u64,
    /// Epoch the parameters were drawn for.
    pub epoch: usize,
    /// Seed of the draw.
    pub seed: u64,
    /// The dataset the image came from: the absolute `--data` path, or `synthetic`.
    pub source: String,
    /// The image's path in that dataset (path text; `#id` for formats without files).
    pub image: String,
    /// SHA-256 of the image's decoded pixels (HWC, as augmented), so that a replay on other
    /// data is refused rather than silently producing other pictures.
    pub pixels_sha256: String,
    /// PNG file written, relative to the output folder.
    pub file: String,
    /// The parameters applied.
    pub params: SampleParams,
}

/// A `params.jsonl` that cannot be replayed: which file, which line, what is wrong.
#[derive(Debug, thiserror::Error)]
#[error("{}: line {line}: {problem}", escape_path(path))]
pub struct RecordError {
    /// The `params.jsonl`.
    pub path: PathBuf,
    /// 1-based line number.
    pub line: usize,
    /// What is wrong.
    pub problem: String,
}

/// Parse the text of a `params.jsonl` (`path` names it in errors); blank lines are skipped.
/// Every line must be a [`Record`] whose `file` is a plain relative name inside the output
/// folder; the first bad line is the error. Returned with their 1-based line numbers.
pub fn parse_records(path: &Path, text: &str) -> Result<Vec<(usize, Record)>, RecordError> {
    let mut records = Vec::new();
    for (k, line) in text.lines().enumerate() {
        if line.trim().is_empty() {
            continue;
        }
        let bad = |problem: String| RecordError {
            path: path.to_path_buf(),
            line: k + 1,
            problem,
        };
        let r: Record = serde_json::from_str(line).map_err(|e| {
            bad(format!(
                "{e} (a params.jsonl written by augment --out of this version is expected)"
            ))
        })?;
        relative_inside(Path::new(&r.file)).map_err(|e| {
            bad(format!(
                "file {e}; a record may only name a file inside the output folder"
            ))
        })?;
        records.push((k + 1, r));
    }
    Ok(records)
}

/// A record's `pixels_sha256`: SHA-256 (hex) of an image's decoded pixels.
pub fn pixels_sha256(pixels: &[u8]) -> String {
    sha256_hex(pixels)
}

/// The records of a `params.jsonl` (parsed from `path`), each checked against the data it is
/// replayed on (`source` names that data in errors): the image it names must have the
/// recorded pixels (same `--data`, same loading flags), and its `file` must be a plain name
/// inside `out` reached through no symbolic link. Each record comes with the path it is written
/// to; the first bad record is the error, before anything is written.
pub fn check_records(
    path: &Path,
    records: Vec<(usize, Record)>,
    data: &Dataset,
    source: &str,
    out: &Path,
) -> Result<Vec<(PathBuf, Record)>, RecordError> {
    let bad = |line: usize, problem: String| RecordError {
        path: path.to_path_buf(),
        line,
        problem,
    };
    let mut checked = Vec::with_capacity(records.len());
    for (line, r) in records {
        if r.index >= data.len() || pixels_sha256(data.image(r.index)) != r.pixels_sha256 {
            return Err(bad(
                line,
                format!(
                    "image {} of {} is not in the data being replayed on ({source}); replay with the --data the records were made from",
                    escape(&r.image),
                    escape(&r.source),
                ),
            ));
        }
        let file = writable_inside(out, Path::new(&r.file))
            .map_err(|e| bad(line, format!("file {e}; nothing was written")))?;
        checked.push((file, r));
    }
    Ok(checked)
}

/// Checked records grouped by their batch, in batch order, each batch in position order:
/// the batches a replay redraws (empty batches left out).
pub fn replay_batches(records: &[(PathBuf, Record)]) -> Vec<Vec<&(PathBuf, Record)>> {
    let batches = records.iter().map(|(_, r)| r.batch + 1).max().unwrap_or(0);
    (0..batches)
        .map(|b| {
            let mut group: Vec<&(PathBuf, Record)> =
                records.iter().filter(|(_, r)| r.batch == b).collect();
            group.sort_by_key(|(_, r)| r.position);
            group
        })
        .filter(|g| !g.is_empty())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn line(file: &str) -> String {
        let params = SampleParams {
            affine: Default::default(),
            fixed: [0; 6],
            frac_bits: 16,
            colour: Vec::new(),
            noise: Vec::new(),
            boxes: Vec::new(),
            mix: None,
        };
        let r = Record {
            batch: 0,
            position: 0,
            index: 0,
            id: 0,
            epoch: 0,
            seed: 1,
            source: "synthetic".into(),
            image: "#0".into(),
            pixels_sha256: "00".into(),
            file: file.into(),
            params,
        };
        serde_json::to_string(&r).unwrap()
    }

    #[test]
    fn records_read_back_with_their_line_numbers() {
        let text = format!("{}\n\n{}\n", line("00000-v0.png"), line("sub/00001-v0.png"));
        let records = parse_records(Path::new("params.jsonl"), &text).unwrap();
        assert_eq!(records.len(), 2);
        assert_eq!((records[0].0, records[1].0), (1, 3));
        assert_eq!(records[1].1.file, "sub/00001-v0.png");
    }

    #[test]
    fn a_file_outside_the_output_folder_names_the_line() {
        for (file, why) in [
            ("/home/u/.bashrc", "is an absolute path"),
            ("../../x.png", "leaves its folder through '..'"),
            ("", "is empty"),
            ("a\u{0}.png", "NUL"),
        ] {
            let text = format!("{}\n{}\n", line("ok.png"), line(file));
            let e = parse_records(Path::new("p/params.jsonl"), &text).unwrap_err();
            assert_eq!(e.line, 2, "{e}");
            let shown = e.to_string();
            assert!(
                shown.starts_with("p/params.jsonl: line 2: file '"),
                "{shown}"
            );
            assert!(shown.contains(why), "{shown}");
        }
    }
}
