//! Reading predicted-probability files: a CSV with `p0 … p{K−1}` columns and, optionally,
//! `given_label`, `index` and `path` columns (augtrain's `cv` output, or cleanlab's
//! label-errors files).

use std::path::Path;

use std::collections::HashMap;

use super::confident::PredProbs;
use augtrain_data::DataError;
use augtrain_data::csv::Table;
use augtrain_data::util::escape::escape;

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

/// How far a row's probabilities may sum from 1. The real out-of-sample files in
/// `label-errors/` (float32 softmax outputs) are off by at most 1.1e-6, and `augtrain cv`
/// writes float32 values whose sum is off by at most a few 1e-6; a row off by more than 1e-3 is
/// not a probability distribution (a missing or extra column, logits, a truncated line).
pub const SUM_TOLERANCE: f64 = 1e-3;

/// Parse the text of a predicted-probability CSV (see [`read`]); `path` names it in errors.
/// Every row must have the header's fields, K finite values in [0, 1] summing to 1 within
/// [`SUM_TOLERANCE`], labels below K, and distinct `index` values.
pub fn parse(path: &Path, text: &str) -> Result<PredProbsFile, DataError> {
    let table = Table::parse(path, text.as_bytes())?;
    let p_cols: Vec<usize> = (0..)
        .map_while(|k| table.column(&format!("p{k}")))
        .collect();
    if p_cols.len() < 2 {
        return Err(table.file_error(
            "no p0, p1, ... columns; expected a predicted-probability CSV (e.g. from augtrain cv)",
        ));
    }
    let k = p_cols.len();
    let (gc, pc, ic) = (
        table.column("given_label"),
        table.column("path"),
        table.column("index"),
    );
    let mut values = Vec::with_capacity(table.rows().len() * k);
    let (mut given, mut paths, mut index) = (Vec::new(), Vec::new(), Vec::new());
    let mut first_line_of_index: HashMap<usize, u64> = HashMap::new();
    for row in table.rows() {
        let f = &row.fields;
        let mut sum = 0.0;
        for &c in &p_cols {
            let v: f64 = f[c]
                .trim()
                .parse()
                .map_err(|_| table.error(row, format!("'{}' is not a number", escape(&f[c]))))?;
            if !v.is_finite() {
                return Err(table.error(row, format!("probability {v} is not a finite number")));
            }
            if !(0.0..=1.0 + 1e-6).contains(&v) {
                return Err(table.error(row, format!("probability {v} is outside [0, 1]")));
            }
            sum += v;
            values.push(v);
        }
        if (sum - 1.0).abs() > SUM_TOLERANCE {
            return Err(table.error(
                row,
                format!(
                    "the probabilities sum to {sum}, not 1 (within {SUM_TOLERANCE}); is a column missing or extra, or are these scores rather than probabilities?"
                ),
            ));
        }
        if let Some(c) = gc {
            let g: usize = f[c].trim().parse().map_err(|_| {
                table.error(
                    row,
                    format!("given_label '{}' is not a class index", escape(&f[c])),
                )
            })?;
            if g >= k {
                return Err(table.error(
                    row,
                    format!("given_label {g} is out of range for {k} classes"),
                ));
            }
            given.push(g);
        }
        if let Some(c) = pc {
            paths.push(f[c].clone());
        }
        if let Some(c) = ic {
            let i: usize = f[c].trim().parse().map_err(|_| {
                table.error(row, format!("index '{}' is not a number", escape(&f[c])))
            })?;
            if let Some(first) = first_line_of_index.insert(i, row.line) {
                return Err(table.error(
                    row,
                    format!("index {i} appears again (first on line {first}); each example must appear once"),
                ));
            }
            index.push(i);
        }
    }
    if values.is_empty() {
        return Err(table.file_error("no rows"));
    }
    Ok(PredProbsFile {
        probs: PredProbs { k, values },
        given: gc.map(|_| given),
        paths: pc.map(|_| paths),
        index: ic.map(|_| index),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse_text(text: &str) -> Result<PredProbsFile, String> {
        parse(Path::new("pp.csv"), text).map_err(|e| e.to_string())
    }

    #[test]
    fn good_rows_are_read_with_their_columns() {
        let f = parse_text(
            "index,path,given_label,p0,p1\n0,\"a,b.png\",1,0.25,0.75\n1,c.png,0,0.9999996,4e-7\n",
        )
        .unwrap();
        assert_eq!(f.probs.k, 2);
        assert_eq!(f.given, Some(vec![1, 0]));
        assert_eq!(f.paths.unwrap()[0], "a,b.png");
        assert_eq!(f.index, Some(vec![0, 1]));
    }

    #[test]
    fn rows_off_one_duplicate_indices_and_non_finite_values_name_the_line() {
        let e = parse_text("index,p0,p1\n0,0.5,0.5\n1,0.5,0.4\n").unwrap_err();
        assert!(
            e.contains("pp.csv: line 3: the probabilities sum to 0.9"),
            "{e}"
        );
        let e = parse_text("index,p0,p1\n0,0.5,0.5\n1,0.2,0.8\n0,0.1,0.9\n").unwrap_err();
        assert!(
            e.contains("line 4: index 0 appears again (first on line 2)"),
            "{e}"
        );
        let e = parse_text("p0,p1\n0.5,NaN\n").unwrap_err();
        assert!(
            e.contains("line 2: probability NaN is not a finite number"),
            "{e}"
        );
        let e = parse_text("p0,p1\n0.5,0.5\n0.5\n").unwrap_err();
        assert!(e.contains("line 3: 1 field(s)"), "{e}");
    }
}
