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
//! - **annotation files** with an annotator per object (a COCO file whose annotations carry an
//!   `annotator` field, a Label Studio export of regions, or any format [`augtrain_annotations`]
//!   reads): each annotator's label of an image is the class of the objects they drew on it.
//!   An annotator who drew objects of two classes on one image has no single label there: an
//!   error, pointing at `audit --annotations` for per-object (box) agreement. Predictions are not
//!   annotators and are skipped; an object without an annotator is an error.
//!
//! Missing labels are normal. Classes are the ones given (a dataset's), or else the labels
//! seen, sorted numerically when every label is an integer and as text otherwise.

use std::collections::HashMap;
use std::path::Path;

use serde_json::Value;

use super::{LabelMatrix, Triple};
use augtrain_annotations::formats::{self, ReadOptions};
use augtrain_annotations::model::{Dataset, Origin};
use augtrain_data::DataError;
use augtrain_data::csv::Table;
use augtrain_data::util::escape::escape;

/// Reads `path` (format from its extension and header, see the module docs); labels must be
/// among `classes` when given.
pub fn read(path: &Path, classes: Option<&[String]>) -> Result<LabelMatrix, DataError> {
    let is_xml = path
        .extension()
        .is_some_and(|e| e.eq_ignore_ascii_case("xml"));
    if path.is_dir() || is_xml {
        return from_annotation_file(path, classes);
    }
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
        if holds_objects(&value) {
            return from_annotation_file(path, classes);
        }
        return label_studio(path, &value, classes);
    }
    let table = Table::parse(path, &bytes)?;
    if table.column("annotator").is_some() {
        long(&table, classes)
    } else {
        wide(&table, classes)
    }
}

/// Whether a JSON label file is an annotation file (a COCO object, or a Label Studio export
/// without a single `choices` result) rather than a Label Studio export of choices.
fn holds_objects(value: &Value) -> bool {
    match value {
        Value::Object(o) => o.contains_key("annotations") && o.contains_key("images"),
        Value::Array(tasks) => tasks
            .iter()
            .filter_map(|t| t.get("annotations")?.as_array())
            .flatten()
            .all(|ann| choices(ann).is_empty()),
        _ => false,
    }
}

/// Reads an annotation file or folder (format detected) into the matrix ([`from_dataset`]).
fn from_annotation_file(path: &Path, classes: Option<&[String]>) -> Result<LabelMatrix, DataError> {
    let invalid =
        |e: augtrain_annotations::error::AnnotationError| DataError::Invalid(e.to_string());
    let (format, file) = formats::detect(path).map_err(invalid)?;
    let read = formats::read(format, &file, &ReadOptions::default()).map_err(invalid)?;
    from_dataset(path, &read.dataset, classes)
}

/// The label matrix of annotated data: annotator `a`'s label of an image is the class of the
/// objects `a` drew on it (see the module docs for the rules). Classes are `classes` when
/// given, else the data's class list in its order.
pub fn from_dataset(
    path: &Path,
    data: &Dataset,
    classes: Option<&[String]>,
) -> Result<LabelMatrix, DataError> {
    let mut raw = Raw::default();
    for image in &data.images {
        // (annotator, class of their first object), in order of first appearance.
        let mut drawn: Vec<(&str, usize)> = Vec::new();
        let annotated = image
            .objects
            .iter()
            .filter(|o| o.origin == Origin::Annotation);
        for (n, o) in annotated.enumerate() {
            let place = format!("image '{}'", escape(&image.file_name));
            let who = o.annotator.as_deref().ok_or_else(|| {
                malformed(
                    path,
                    format!(
                        "{place}: object {} has no annotator; label agreement needs who drew every object (COCO: an 'annotator' field per annotation; Label Studio: completed_by)",
                        n + 1
                    ),
                )
            })?;
            match drawn.iter().find(|(a, _)| *a == who) {
                None => drawn.push((who, o.class)),
                Some(&(_, c)) if c != o.class => {
                    return Err(malformed(
                        path,
                        format!(
                            "{place}: annotator '{}' drew objects of two classes ('{}', '{}'); one label per annotator and image is expected here; for per-object agreement use `augtrain audit --annotations`",
                            escape(who),
                            escape(&data.classes[c].name),
                            escape(&data.classes[o.class].name)
                        ),
                    ));
                }
                Some(_) => {}
            }
        }
        for (who, c) in drawn {
            let place = format!("image '{}'", escape(&image.file_name));
            raw.push(&image.file_name, who, &data.classes[c].name, place);
        }
    }
    let names: Vec<String> = data.classes.iter().map(|c| c.name.clone()).collect();
    raw.finish(path, Some(classes.unwrap_or(&names)))
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

    /// A COCO file whose annotations name their annotator: a.png labelled cat/dog by ann/bob
    /// (ann drew two cats), b.png cat by bob.
    const COCO: &str = r#"{"images":[{"id":1,"file_name":"a.png","width":10,"height":10},
        {"id":2,"file_name":"b.png","width":10,"height":10},{"id":3,"file_name":"c.png","width":10,"height":10}],
      "categories":[{"id":5,"name":"cat"},{"id":9,"name":"dog"}],
      "annotations":[
        {"id":1,"image_id":1,"category_id":5,"bbox":[0,0,4,4],"area":16,"iscrowd":0,"annotator":"ann"},
        {"id":2,"image_id":1,"category_id":5,"bbox":[5,5,4,4],"area":16,"iscrowd":0,"annotator":"ann"},
        {"id":3,"image_id":1,"category_id":9,"bbox":[0,0,4,4],"area":16,"iscrowd":0,"annotator":"bob"},
        {"id":4,"image_id":2,"category_id":5,"bbox":[0,0,4,4],"area":16,"iscrowd":0,"annotator":"bob"}]}"#;

    #[test]
    fn annotation_files_give_each_annotator_the_class_of_their_objects() {
        let coco = parse("instances.json", COCO).unwrap();
        let long = parse(
            "long2.csv",
            "image,annotator,label\na.png,ann,cat\na.png,bob,dog\nb.png,bob,cat\n",
        )
        .unwrap();
        assert_eq!(coco, long);
        // Label Studio regions (no choices): the annotator is completed_by; a prediction is
        // not an annotator.
        let region = |label: &str| {
            format!(
                r#"{{"type":"rectanglelabels","original_width":10,"original_height":10,"value":{{"x":0,"y":0,"width":40,"height":40,"rectanglelabels":["{label}"]}}}}"#
            )
        };
        let ls = format!(
            r#"[{{"id":1,"data":{{"image":"a.png"}},"annotations":[
                 {{"completed_by":{{"email":"ann"}},"result":[{},{}]}},
                 {{"completed_by":{{"email":"bob"}},"result":[{}]}}],
               "predictions":[{{"model_version":"m","score":0.9,"result":[{}]}}]}},
                {{"id":2,"data":{{"image":"b.png"}},"annotations":[
                 {{"completed_by":{{"email":"bob"}},"result":[{}]}}]}}]"#,
            region("cat"),
            region("cat"),
            region("dog"),
            region("dog"),
            region("cat")
        );
        let ls = parse("regions.json", &ls).unwrap();
        assert_eq!(ls.images(), long.images());
        assert_eq!(ls.annotators(), long.annotators());
        assert_eq!(
            (ls.get(0, 0), ls.get(0, 1), ls.get(1, 1)),
            (Some(0), Some(1), Some(0))
        );
    }

    #[test]
    fn an_annotator_with_two_classes_on_an_image_or_an_object_without_annotator_is_an_error() {
        let two = COCO.replace(
            r#""id":2,"image_id":1,"category_id":5"#,
            r#""id":2,"image_id":1,"category_id":9"#,
        );
        let e = parse("two.json", &two).unwrap_err().to_string();
        assert!(
            e.contains("image 'a.png': annotator 'ann' drew objects of two classes ('cat', 'dog')")
                && e.contains("audit --annotations"),
            "{e}"
        );
        let nobody = COCO.replace(r#","annotator":"bob"}]"#, "}]");
        let e = parse("nobody.json", &nobody).unwrap_err().to_string();
        assert!(
            e.contains("image 'b.png': object 1 has no annotator"),
            "{e}"
        );
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
