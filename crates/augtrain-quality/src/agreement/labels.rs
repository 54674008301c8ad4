//! Reading the labels of several annotators into a [`LabelMatrix`].
//!
//! Three formats, told apart by [`read`]:
//! - **long CSV**: columns `image,annotator,label` (header names, any order, other columns
//!   ignored), one row per label;
//! - **wide CSV**: an `image` (or `path`) column, then one column per annotator; an empty cell
//!   means "not labelled";
//! - **Label Studio JSON export** (`.json`): a list of tasks, each with `data` (the image is
//!   `data.image`, else the first text field, else the task id) and `annotations`, each by
//!   `completed_by` (a user id, or an object with `email` or `id`) with one `choices` result.
//!   Cancelled annotations and annotations without a choice are skipped.
//!
//! Missing labels are normal. Classes are the ones given (a dataset's), or else the labels
//! seen, sorted numerically when every label is an integer and as text otherwise.

use std::collections::HashMap;
use std::path::Path;

use serde_json::Value;

use super::{LabelMatrix, Triple};
use augtrain_data::DataError;
use augtrain_data::csv::Table;
use augtrain_data::util::escape::escape;

/// Reads `path` (format from its extension and header, see the module docs); labels must be
/// among `classes` when given.
pub fn read(path: &Path, classes: Option<&[String]>) -> Result<LabelMatrix, DataError> {
    let bytes = augtrain_data::util::fs::read_regular(path).map_err(|source| DataError::Read {
        path: path.to_path_buf(),
        source,
    })?;
    let is_json = path
        .extension()
        .is_some_and(|e| e.eq_ignore_ascii_case("json"));
    if is_json {
        let value: Value = serde_json::from_slice(&bytes)
            .map_err(|e| malformed(path, format!("not JSON ({e})")))?;
        return label_studio(path, &value, classes);
    }
    let table = Table::parse(path, &bytes)?;
    if table.column("annotator").is_some() {
        long(&table, classes)
    } else {
        wide(&table, classes)
    }
}

/// Names met in order of first appearance, numbered.
#[derive(Default)]
struct Names {
    list: Vec<String>,
    index: HashMap<String, usize>,
}

impl Names {
    fn id(&mut self, name: &str) -> usize {
        if let Some(&i) = self.index.get(name) {
            return i;
        }
        self.list.push(name.to_string());
        self.index.insert(name.to_string(), self.list.len() - 1);
        self.list.len() - 1
    }
}

/// Labels as read: `(image, annotator, label text)`, with the place each was read at.
#[derive(Default)]
struct Raw {
    images: Names,
    annotators: Names,
    labels: Vec<(usize, usize, String, String)>,
}

impl Raw {
    fn push(&mut self, image: &str, annotator: &str, label: &str, place: String) {
        let (i, a) = (self.images.id(image), self.annotators.id(annotator));
        self.labels.push((i, a, label.to_string(), place));
    }

    fn finish(self, path: &Path, classes: Option<&[String]>) -> Result<LabelMatrix, DataError> {
        let classes = match classes {
            Some(c) => c.to_vec(),
            None => seen_classes(self.labels.iter().map(|l| l.2.as_str())),
        };
        let lookup: HashMap<&str, usize> = classes
            .iter()
            .enumerate()
            .map(|(i, c)| (c.as_str(), i))
            .collect();
        let mut triples: Vec<Triple> = Vec::with_capacity(self.labels.len());
        for (i, a, label, place) in &self.labels {
            let c = lookup.get(label.as_str()).ok_or_else(|| {
                malformed(
                    path,
                    format!(
                        "{place}: label '{}' is not one of the dataset's classes ({})",
                        escape(label),
                        escape(&classes.join(", "))
                    ),
                )
            })?;
            triples.push((*i, *a, *c));
        }
        if triples.is_empty() {
            return Err(malformed(path, "no labels found".into()));
        }
        LabelMatrix::new(self.images.list, self.annotators.list, classes, triples)
            .map_err(|e| malformed(path, e.to_string()))
    }
}

/// The distinct labels, sorted numerically when all are integers, else as text.
fn seen_classes<'a>(labels: impl Iterator<Item = &'a str>) -> Vec<String> {
    let mut v: Vec<String> = labels.map(str::to_string).collect();
    v.sort_unstable();
    v.dedup();
    if v.iter().all(|s| s.parse::<i64>().is_ok()) {
        v.sort_by_key(|s| s.parse::<i64>().expect("checked"));
    }
    v
}

fn malformed(path: &Path, problem: String) -> DataError {
    DataError::Malformed {
        path: path.to_path_buf(),
        problem,
    }
}

/// Long CSV: `image,annotator,label`.
fn long(table: &Table, classes: Option<&[String]>) -> Result<LabelMatrix, DataError> {
    let image = table.column("image").or_else(|| table.column("path"));
    let (Some(ic), Some(ac), Some(lc)) = (image, table.column("annotator"), table.column("label"))
    else {
        return Err(table.file_error(format!(
            "a long label file needs 'image', 'annotator' and 'label' columns (found: {})",
            escape(&table.header().join(","))
        )));
    };
    let mut raw = Raw::default();
    for row in table.rows() {
        let get = |c: usize| row.fields[c].trim();
        if get(ic).is_empty() || get(ac).is_empty() {
            return Err(table.error(row, "empty image or annotator"));
        }
        if !get(lc).is_empty() {
            raw.push(get(ic), get(ac), get(lc), format!("line {}", row.line));
        }
    }
    raw.finish(table.path(), classes)
}

/// Wide CSV: `image`, then a column per annotator.
fn wide(table: &Table, classes: Option<&[String]>) -> Result<LabelMatrix, DataError> {
    let Some(ic) = table.column("image").or_else(|| table.column("path")) else {
        return Err(table.file_error(format!(
            "expected a long label file (image,annotator,label) or a wide one (image, then a column per annotator); found the header {}",
            escape(&table.header().join(","))
        )));
    };
    let mut raw = Raw::default();
    for row in table.rows() {
        let image = row.fields[ic].trim();
        if image.is_empty() {
            return Err(table.error(row, "empty image"));
        }
        for (c, name) in table.header().iter().enumerate().filter(|&(c, _)| c != ic) {
            let label = row.fields[c].trim();
            if !label.is_empty() {
                raw.push(image, name.trim(), label, format!("line {}", row.line));
            }
        }
    }
    raw.finish(table.path(), classes)
}

/// A Label Studio JSON export (a list of tasks).
fn label_studio(
    path: &Path,
    export: &Value,
    classes: Option<&[String]>,
) -> Result<LabelMatrix, DataError> {
    let tasks = export.as_array().ok_or_else(|| {
        malformed(
            path,
            "expected a Label Studio export: a JSON list of tasks".into(),
        )
    })?;
    let mut raw = Raw::default();
    for (t, task) in tasks.iter().enumerate() {
        let image = task_image(task).ok_or_else(|| {
            malformed(path, format!("task {} has no data.image and no id", t + 1))
        })?;
        let annotations = task.get("annotations").and_then(Value::as_array);
        for ann in annotations.into_iter().flatten() {
            if ann.get("was_cancelled").and_then(Value::as_bool) == Some(true) {
                continue;
            }
            let place = format!("task {} ({})", t + 1, escape(&image));
            let who = annotator(ann).ok_or_else(|| {
                malformed(path, format!("{place}: an annotation has no completed_by"))
            })?;
            let choices = choices(ann);
            match choices.as_slice() {
                [] => {}
                [one] => raw.push(&image, &who, one, place),
                _ => {
                    return Err(malformed(
                        path,
                        format!(
                            "{place}: annotator '{}' chose {} classes; one label per annotator and image is expected",
                            escape(&who),
                            choices.len()
                        ),
                    ));
                }
            }
        }
    }
    raw.finish(path, classes)
}

fn task_image(task: &Value) -> Option<String> {
    let data = task.get("data");
    let text = data
        .and_then(|d| d.get("image"))
        .and_then(Value::as_str)
        .or_else(|| {
            data.and_then(Value::as_object)?
                .values()
                .find_map(Value::as_str)
        });
    match text {
        Some(t) => Some(t.to_string()),
        None => task.get("id").map(|id| format!("#{id}")),
    }
}

fn annotator(ann: &Value) -> Option<String> {
    let by = ann.get("completed_by")?;
    match by {
        Value::Object(o) => o
            .get("email")
            .and_then(Value::as_str)
            .map(str::to_string)
            .or_else(|| o.get("id").map(|id| id.to_string())),
        Value::String(s) => Some(s.clone()),
        Value::Null => None,
        other => Some(other.to_string()),
    }
}

/// The classes chosen in an annotation's `choices` results.
fn choices(ann: &Value) -> Vec<String> {
    let results = ann.get("result").and_then(Value::as_array);
    results
        .into_iter()
        .flatten()
        .filter(|r| r.get("type").and_then(Value::as_str) == Some("choices"))
        .filter_map(|r| r.get("value")?.get("choices")?.as_array())
        .flatten()
        .filter_map(|c| c.as_str().map(str::to_string))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(name: &str, text: &str) -> Result<LabelMatrix, DataError> {
        let dir = std::env::temp_dir().join(format!("augtrain-labels-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let p = dir.join(name);
        std::fs::write(&p, text).unwrap();
        let r = read(&p, None);
        std::fs::remove_file(&p).unwrap();
        r
    }

    #[test]
    fn long_wide_and_label_studio_read_the_same_matrix() {
        let long = parse(
            "long.csv",
            "image,annotator,label\na.png,ann,cat\na.png,bob,dog\nb.png,bob,cat\nc.png,ann,\n",
        )
        .unwrap();
        let wide = parse(
            "wide.csv",
            "image,ann,bob\na.png,cat,dog\nb.png,,cat\nc.png,,\n",
        )
        .unwrap();
        let ls = parse(
            "export.json",
            r#"[{"id":1,"data":{"image":"a.png"},"annotations":[
                 {"completed_by":{"email":"ann"},"result":[{"type":"choices","value":{"choices":["cat"]}}]},
                 {"completed_by":{"email":"bob"},"result":[{"type":"choices","value":{"choices":["dog"]}}]}]},
                {"id":2,"data":{"image":"b.png"},"annotations":[
                 {"completed_by":{"email":"bob"},"result":[{"type":"choices","value":{"choices":["cat"]}}]},
                 {"completed_by":{"email":"ann"},"was_cancelled":true,"result":[{"type":"choices","value":{"choices":["dog"]}}]}]}]"#,
        )
        .unwrap();
        assert_eq!(long, wide);
        assert_eq!(long, ls);
        assert_eq!(long.images(), ["a.png", "b.png"]);
        assert_eq!(long.classes(), ["cat", "dog"]);
        assert_eq!(long.get(0, 1), Some(1));
    }

    #[test]
    fn integer_classes_sort_numerically_and_problems_name_the_place() {
        let m = parse("n.csv", "image,annotator,label\na,x,10\na,y,2\n").unwrap();
        assert_eq!(m.classes(), ["2", "10"]);
        let e = parse("d.csv", "image,annotator,label\na,x,1\na,x,2\n").unwrap_err();
        assert!(e.to_string().contains("labelled image 'a' twice"), "{e}");
        let e = parse("h.csv", "file,who,label\na,x,1\n").unwrap_err();
        assert!(e.to_string().contains("wide one"), "{e}");
        let e = parse("m.json", r#"[{"id":1,"data":{"image":"a"},"annotations":[{"completed_by":3,"result":[{"type":"choices","value":{"choices":["x","y"]}}]}]}]"#).unwrap_err();
        assert!(e.to_string().contains("chose 2 classes"), "{e}");
    }
}
