//! Reading predicted-probability files: a CSV with `p0 … p{K−1}` columns and, optionally,
//! `given_label`, `index` and `path` columns (augtrain's `cv` output, or cleanlab's
//! label-errors files).

use std::path::Path;

use super::confident::PredProbs;
use augtrain_data::DataError;
use augtrain_data::files::csv_fields;

/// A predicted-probability file.
#[derive(Clone, Debug)]
pub struct PredProbsFile {
    /// The probabilities.
    pub probs: PredProbs,
    /// `given_label` per row, when the file has the column.
    pub given: Option<Vec<usize>>,
    /// `path` per row, when the file has the column.
    pub paths: Option<Vec<String>>,
    /// `index` per row, when the file has the column.
    pub index: Option<Vec<usize>>,
}

/// Read a predicted-probability CSV, checking every row (K values in [0, 1], labels < K).
pub fn read(path: &Path) -> Result<PredProbsFile, DataError> {
    let text =
        augtrain_data::util::fs::read_regular_text(path).map_err(|source| DataError::Read {
            path: path.to_path_buf(),
            source,
        })?;
    parse(path, &text)
}

/// Parse the text of a predicted-probability CSV (see [`read`]); `path` names it in errors.
pub fn parse(path: &Path, text: &str) -> Result<PredProbsFile, DataError> {
    let bad = |problem: String| DataError::Malformed {
        path: path.to_path_buf(),
        problem,
    };
    let mut lines = text
        .lines()
        .enumerate()
        .filter(|(_, l)| !l.trim().is_empty());
    let (_, header) = lines.next().ok_or_else(|| bad("empty file".into()))?;
    let header: Vec<String> = csv_fields(header)
        .map_err(|e| bad(format!("line 1: {e}")))?
        .into_iter()
        .map(|h| h.trim().to_string())
        .collect();
    let col = |name: &str| header.iter().position(|h| h == name);
    let p_cols: Vec<usize> = (0..).map_while(|k| col(&format!("p{k}"))).collect();
    if p_cols.len() < 2 {
        return Err(bad(
            "no p0, p1, ... columns; expected a predicted-probability CSV (e.g. from augtrain cv)"
                .into(),
        ));
    }
    let k = p_cols.len();
    let (gc, pc, ic) = (col("given_label"), col("path"), col("index"));
    let mut values = Vec::new();
    let (mut given, mut paths, mut index) = (Vec::new(), Vec::new(), Vec::new());
    for (n, line) in lines {
        let f = csv_fields(line).map_err(|e| bad(format!("line {}: {e}", n + 1)))?;
        if f.len() != header.len() {
            return Err(bad(format!(
                "line {}: {} fields, the header has {}",
                n + 1,
                f.len(),
                header.len()
            )));
        }
        for &c in &p_cols {
            let v: f64 = f[c]
                .trim()
                .parse()
                .map_err(|_| bad(format!("line {}: '{}' is not a number", n + 1, f[c])))?;
            if !(0.0..=1.0 + 1e-6).contains(&v) {
                return Err(bad(format!(
                    "line {}: probability {v} is outside [0, 1]",
                    n + 1
                )));
            }
            values.push(v);
        }
        if let Some(c) = gc {
            let g: usize = f[c].trim().parse().map_err(|_| {
                bad(format!(
                    "line {}: given_label '{}' is not a class index",
                    n + 1,
                    f[c]
                ))
            })?;
            if g >= k {
                return Err(bad(format!(
                    "line {}: given_label {g} is out of range for {k} classes",
                    n + 1
                )));
            }
            given.push(g);
        }
        if let Some(c) = pc {
            paths.push(f[c].clone());
        }
        if let Some(c) = ic {
            index.push(
                f[c].trim().parse().map_err(|_| {
                    bad(format!("line {}: index '{}' is not a number", n + 1, f[c]))
                })?,
            );
        }
    }
    if values.is_empty() {
        return Err(bad("no rows".into()));
    }
    Ok(PredProbsFile {
        probs: PredProbs { k, values },
        given: gc.map(|_| given),
        paths: pc.map(|_| paths),
        index: ic.map(|_| index),
    })
}
