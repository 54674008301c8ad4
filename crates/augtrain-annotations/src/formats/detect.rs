//! Telling the annotation format from the data: file extensions and, for JSON and XML, the
//! top-level structure (read from the first MiB only).

use std::io::Read;
use std::path::{Path, PathBuf};

use augtrain_data::util::fs::{IoError, open_regular};

use super::Format;
use crate::error::{AnnotationError, Result};

/// How much of a file is looked at.
const PEEK_BYTES: u64 = 1 << 20;

/// The format of the annotations at `path` and the path its reader takes (a directory holding
/// one COCO or Label Studio JSON file resolves to that file).
pub fn detect(path: &Path) -> Result<(Format, PathBuf)> {
    let unknown = |reason: &str| AnnotationError::UnknownFormat { path: path.to_path_buf(), reason: reason.to_string() };
    if path.is_file() {
        return detect_file(path).map(|f| (f, path.to_path_buf()));
    }
    if !path.is_dir() {
        return Err(AnnotationError::Io(IoError::new(
            "read",
            path,
            std::io::Error::new(std::io::ErrorKind::NotFound, "no such file or directory"),
        )));
    }
    let is_yolo = ["labels", "data.yaml", "classes.txt"].iter().any(|n| path.join(n).exists())
        || path.file_name().is_some_and(|n| n == "labels");
    if is_yolo {
        return Ok((Format::Yolo, path.to_path_buf()));
    }
    let files = augtrain_data::files::files_under(path)?;
    let with_ext = |ext: &str| -> Vec<&PathBuf> {
        files.iter().map(|(p, _)| p).filter(|p| p.extension().is_some_and(|e| e.eq_ignore_ascii_case(ext))).collect()
    };
    let (xml, json, txt) = (with_ext("xml"), with_ext("json"), with_ext("txt"));
    if let Some(first) = xml.first() {
        return detect_file(first).map(|f| (f, if xml.len() == 1 { first.to_path_buf() } else { path.to_path_buf() }));
    }
    if let Some(first) = json.first() {
        let f = detect_file(first)?;
        return match f {
            Format::Labelme => Ok((f, path.to_path_buf())),
            _ if json.len() == 1 => Ok((f, first.to_path_buf())),
            _ => Err(unknown("several COCO or Label Studio JSON files; name one")),
        };
    }
    if !txt.is_empty() {
        return Ok((Format::Yolo, path.to_path_buf()));
    }
    Err(unknown("no .json, .xml or YOLO .txt files"))
}

fn detect_file(path: &Path) -> Result<Format> {
    let unknown = |reason: &str| AnnotationError::UnknownFormat { path: path.to_path_buf(), reason: reason.to_string() };
    let ext = path.extension().and_then(|e| e.to_str()).unwrap_or("").to_ascii_lowercase();
    if matches!(ext.as_str(), "yaml" | "yml" | "txt") {
        return Ok(Format::Yolo);
    }
    let mut head = Vec::new();
    let file = open_regular(path).map_err(|e| IoError::new("read", path, e))?;
    file.take(PEEK_BYTES).read_to_end(&mut head).map_err(|e| IoError::new("read", path, e))?;
    let text = String::from_utf8_lossy(&head);
    let body = text.trim_start_matches('\u{feff}').trim_start();
    match ext.as_str() {
        "json" => detect_json(body).ok_or_else(|| unknown("JSON that is neither COCO, LabelMe nor a Label Studio export")),
        "xml" => detect_xml(body).ok_or_else(|| unknown("XML whose root is neither <annotation> (VOC) nor <annotations> (CVAT)")),
        _ => detect_json(body).or_else(|| detect_xml(body)).ok_or_else(|| unknown("an unknown extension and content")),
    }
}

fn detect_json(body: &str) -> Option<Format> {
    let has = |key: &str| body.contains(&format!("\"{key}\""));
    if body.starts_with('[') {
        return (has("data") || has("annotations") || has("predictions")).then_some(Format::Labelstudio);
    }
    if !body.starts_with('{') {
        return None;
    }
    if has("shapes") && (has("imagePath") || has("imageHeight")) {
        Some(Format::Labelme)
    } else if has("images") || has("categories") || has("annotations") {
        Some(Format::Coco)
    } else {
        None
    }
}

fn detect_xml(body: &str) -> Option<Format> {
    // The first element that is not a declaration, comment or processing instruction.
    let mut rest = body;
    while let Some(i) = rest.find('<') {
        rest = &rest[i + 1..];
        if rest.starts_with('?') || rest.starts_with('!') {
            continue;
        }
        let name: String = rest.chars().take_while(|c| c.is_alphanumeric() || *c == '_' || *c == ':').collect();
        return match name.as_str() {
            "annotations" => Some(Format::Cvat),
            "annotation" => Some(Format::Voc),
            _ => None,
        };
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_are_told_from_their_first_bytes() {
        assert_eq!(detect_json(r#"{"images": [], "annotations": []}"#), Some(Format::Coco));
        assert_eq!(detect_json(r#"{"version": "5", "shapes": [], "imagePath": "a.jpg"}"#), Some(Format::Labelme));
        assert_eq!(detect_json(r#"[{"id": 1, "data": {"image": "x"}}]"#), Some(Format::Labelstudio));
        assert_eq!(detect_json(r#"{"foo": 1}"#), None);
        assert_eq!(detect_xml("<?xml version=\"1.0\"?>\n<!-- c --><annotations><version>1.1</version>"), Some(Format::Cvat));
        assert_eq!(detect_xml("<annotation><filename>a</filename>"), Some(Format::Voc));
        assert_eq!(detect_xml("<svg/>"), None);
    }
}
