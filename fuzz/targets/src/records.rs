//! Record files that name other files or vouch for them: `params.jsonl` (joined to the replay's
//! output folder) and an embeddings directory's `index.csv` (matched to images by path and
//! content hash).

use std::path::{Component, Path};

use augtrain_augment::record::parse_records;
use augtrain_data::csv::Table;
use augtrain_data::util::inside::relative_inside;
use augtrain_quality::embedding::files::parse_index;

/// `params.jsonl` (the input of `augment --replay`): every accepted record names a file that,
/// normalised, is a non-empty run of plain names (nothing absolute, no `..`, no NUL), so
/// joining it to the output folder stays inside; a refused file names a line that exists.
pub fn params_jsonl(bytes: &[u8]) -> bool {
    let Ok(text) = std::str::from_utf8(bytes) else {
        return false;
    };
    match parse_records(Path::new("params.jsonl"), text) {
        Ok(records) => {
            for (line, r) in &records {
                assert!(*line >= 1 && *line <= text.lines().count());
                let rel = relative_inside(Path::new(&r.file)).expect("checked by the parser");
                assert!(rel.components().count() > 0);
                assert!(
                    rel.components().all(|c| matches!(c, Component::Normal(_))),
                    "{rel:?} is not plain"
                );
                assert!(!r.file.contains('\0'));
            }
            !records.is_empty()
        }
        Err(e) => {
            assert!(e.line >= 1 && e.line <= text.lines().count(), "{e}");
            false
        }
    }
}

/// An embeddings directory's `index.csv`: an accepted index has one row per line, unique
/// paths, and each hash empty or 64 lowercase hex digits.
pub fn embedding_index(bytes: &[u8]) -> bool {
    let Ok(table) = Table::parse(Path::new("index.csv"), bytes) else {
        return false;
    };
    let n = table.rows().len();
    let Ok(rows) = parse_index(&table, n) else {
        return false;
    };
    assert_eq!(rows.len(), n);
    let mut paths = std::collections::HashSet::new();
    for r in &rows {
        assert!(paths.insert(r.path.as_str()), "'{}' twice", r.path);
        if let Some(sha) = &r.sha256 {
            assert!(
                sha.is_empty()
                    || (sha.len() == 64
                        && sha
                            .bytes()
                            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))),
                "{sha}"
            );
        }
    }
    true
}
