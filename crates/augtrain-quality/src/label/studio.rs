//! Review queues for [Label Studio](https://labelstud.io): tasks (one JSON object per image,
//! with the model's suggestion as a pre-annotation) and the labeling configuration they fit.
//!
//! Both `predict --queue` and `label-issues` write `review_queue.json` (the tasks) and
//! `labeling_config.xml` (paste it into the project's Labeling Interface, code view). Images are
//! named by their **absolute local path** (path text, see `augtrain_data::util::path_text`), so
//! the queue works from any directory; serve them with Label Studio's local-files storage
//! (`LABEL_STUDIO_LOCAL_FILES_SERVING_ENABLED=true`, document root `/`) or rewrite the prefix.

use serde_json::{Map, Value, json};

/// The `from_name` and `to_name` of the tasks' results, as [`labeling_config`] names them.
const CHOICES: &str = "label";
const IMAGE: &str = "image";

/// One task: `image` (absolute path), extra `data` fields shown to the reviewer, and the
/// suggested class with its score as a prediction by `model_version`.
pub fn task(
    id: usize,
    image: &str,
    extra: Map<String, Value>,
    suggestion: &str,
    score: f64,
    model_version: &str,
) -> Value {
    let mut data = Map::new();
    data.insert(IMAGE.into(), Value::String(image.into()));
    data.extend(extra);
    json!({
        "id": id,
        "data": data,
        "predictions": [{
            "model_version": model_version,
            "score": score,
            "result": [{
                "from_name": CHOICES,
                "to_name": IMAGE,
                "type": "choices",
                "value": { "choices": [suggestion] }
            }]
        }]
    })
}

/// The labeling configuration the tasks fit: the image and one choice per class, in order.
pub fn labeling_config(class_names: &[String]) -> String {
    let mut xml = format!(
        "<View>\n  <Image name=\"{IMAGE}\" value=\"${IMAGE}\"/>\n  <Choices name=\"{CHOICES}\" toName=\"{IMAGE}\" choice=\"single\" showInLine=\"true\">\n"
    );
    for name in class_names {
        xml.push_str(&format!(
            "    <Choice value=\"{}\"/>\n",
            xml_attribute(name)
        ));
    }
    xml.push_str("  </Choices>\n</View>\n");
    xml
}

/// `s` escaped for a double-quoted XML attribute.
fn xml_attribute(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            c if c.is_control() => out.push_str(&format!("&#{};", c as u32)),
            c => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tasks_name_the_fields_the_config_declares() {
        let names = vec!["ants".to_string(), "a \"b\" & <c>".to_string()];
        let xml = labeling_config(&names);
        assert!(
            xml.contains("<Image name=\"image\" value=\"$image\"/>"),
            "{xml}"
        );
        assert!(
            xml.contains("<Choices name=\"label\" toName=\"image\""),
            "{xml}"
        );
        assert!(xml.contains("<Choice value=\"ants\"/>"), "{xml}");
        assert!(
            xml.contains("<Choice value=\"a &quot;b&quot; &amp; &lt;c&gt;\"/>"),
            "{xml}"
        );
        let mut extra = Map::new();
        extra.insert("given_label".into(), json!("ants"));
        let t = task(3, "/data/x.png", extra, "ants", 0.25, "augtrain");
        assert_eq!(t["id"], 3);
        assert_eq!(t["data"]["image"], "/data/x.png");
        assert_eq!(t["data"]["given_label"], "ants");
        let r = &t["predictions"][0]["result"][0];
        assert_eq!(r["from_name"], "label");
        assert_eq!(r["to_name"], "image");
        assert_eq!(r["value"]["choices"][0], "ants");
    }
}
