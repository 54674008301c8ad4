//! A small element tree for the XML formats (Pascal VOC, CVAT), read with quick-xml's pull
//! parser and written with escaping.
//!
//! Safety against hostile XML: a `<!DOCTYPE>` is refused outright (VOC and CVAT files never
//! have one; it is where entity declarations live), and entity references other than the five
//! predefined ones and character references are errors, so nothing is ever expanded: no
//! billion-laughs, no external entities. Nesting depth is bounded.

use std::io::BufRead;
use std::path::Path;

use quick_xml::Reader;
use quick_xml::events::{BytesStart, Event};

use crate::error::{AnnotationError, Result};

/// Deepest element nesting accepted (VOC and CVAT need 5).
const MAX_DEPTH: usize = 64;

/// An element: name, attributes, text content (concatenated, trimmed) and children.
#[derive(Debug, Default, Clone)]
pub struct Element {
    /// Tag name.
    pub name: String,
    /// Attributes in document order, unescaped.
    pub attrs: Vec<(String, String)>,
    /// The element's own text, unescaped and trimmed.
    pub text: String,
    /// Child elements in document order.
    pub children: Vec<Element>,
}

impl Element {
    /// The first child called `name`.
    pub fn child(&self, name: &str) -> Option<&Element> {
        self.children.iter().find(|c| c.name == name)
    }

    /// Every child called `name`.
    pub fn children<'a>(&'a self, name: &'a str) -> impl Iterator<Item = &'a Element> + 'a {
        self.children.iter().filter(move |c| c.name == name)
    }

    /// The text of the first child called `name`.
    pub fn child_text(&self, name: &str) -> Option<&str> {
        self.child(name).map(|c| c.text.as_str())
    }

    /// The value of attribute `name`.
    pub fn attr(&self, name: &str) -> Option<&str> {
        self.attrs
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }
}

/// Parse `text` into its root element.
pub fn parse(path: &Path, text: &str) -> Result<Element> {
    let mut children = Vec::new();
    let mut root = walk(
        path,
        Reader::from_reader(text.as_bytes()),
        &mut |_| Ok(()),
        &mut |c| {
            children.push(c);
            Ok(())
        },
    )?;
    root.children = children;
    Ok(root)
}

/// Stream the XML read from `input`: `on_root` sees the root element (name and attributes, no
/// children yet) as soon as it opens, then `on_child` gets each child of the root, built
/// whole, as it closes, and drops it. Memory is one child's tree, not the document's: for
/// files such as CVAT's, one `<image>` at a time. Returns the root without its children.
pub fn for_each_child<R: BufRead>(
    path: &Path,
    input: R,
    on_root: &mut dyn FnMut(&Element) -> Result<()>,
    on_child: &mut dyn FnMut(Element) -> Result<()>,
) -> Result<Element> {
    walk(path, Reader::from_reader(input), on_root, on_child)
}

/// The parser behind [`parse`] and [`for_each_child`]. The stack holds the open elements under
/// a document node: `[document, root, child, ...]`.
fn walk<R: BufRead>(
    path: &Path,
    mut reader: Reader<R>,
    on_root: &mut dyn FnMut(&Element) -> Result<()>,
    on_child: &mut dyn FnMut(Element) -> Result<()>,
) -> Result<Element> {
    let bad = |m: String| AnnotationError::malformed(path, format!("not well-formed XML: {m}"));
    let mut stack: Vec<Element> = vec![Element::default()];
    let mut roots = 0usize;
    let mut buf = Vec::new();
    loop {
        buf.clear();
        let at = reader.buffer_position();
        let event = reader
            .read_event_into(&mut buf)
            .map_err(|e| bad(format!("{e} (byte {at})")))?;
        let closed = match event {
            Event::DocType(_) => {
                return Err(AnnotationError::malformed(
                    path,
                    "XML with a <!DOCTYPE> is refused (entity declarations could expand without bound); remove it",
                ));
            }
            Event::Start(e) => {
                if stack.len() > MAX_DEPTH {
                    return Err(bad(format!("elements nested deeper than {MAX_DEPTH}")));
                }
                let el = element(&e).map_err(bad)?;
                if stack.len() == 1 {
                    roots += 1;
                    on_root(&el)?;
                }
                stack.push(el);
                None
            }
            Event::Empty(e) => {
                let el = element(&e).map_err(bad)?;
                if stack.len() == 1 {
                    roots += 1;
                    on_root(&el)?;
                }
                Some(el)
            }
            Event::End(_) => {
                let mut done = stack.pop().expect("start before end");
                if stack.is_empty() {
                    return Err(bad("unbalanced end tag".into()));
                }
                let trimmed = done.text.trim();
                if trimmed.len() != done.text.len() {
                    done.text = trimmed.to_string();
                }
                Some(done)
            }
            Event::Text(t) => {
                top(&mut stack).text.push_str(&t.xml10_content());
                None
            }
            Event::CData(t) => {
                top(&mut stack).text.push_str(&t.xml10_content());
                None
            }
            Event::GeneralRef(r) => {
                let name: &str = r.as_ref();
                let resolved = match r.resolve_char_ref() {
                    Ok(Some(c)) => c.to_string(),
                    _ => match quick_xml::escape::resolve_predefined_entity(name) {
                        Some(s) => s.to_string(),
                        None => {
                            return Err(bad(format!(
                                "entity &{name}; is not one of XML's predefined ones (refused)"
                            )));
                        }
                    },
                };
                top(&mut stack).text.push_str(&resolved);
                None
            }
            Event::Eof => break,
            _ => None,
        };
        if let Some(done) = closed {
            match stack.len() {
                2 => on_child(done)?,
                _ => top(&mut stack).children.push(done),
            }
        }
    }
    let document = stack
        .pop()
        .filter(|_| stack.is_empty())
        .ok_or_else(|| bad("unclosed elements at the end".into()))?;
    if !document.text.trim().is_empty() {
        return Err(bad("text outside the root element".into()));
    }
    match (roots, document.children.into_iter().next()) {
        (1, Some(root)) => Ok(root),
        _ => Err(bad("not exactly one root element".into())),
    }
}

fn top(stack: &mut [Element]) -> &mut Element {
    stack
        .last_mut()
        .expect("the document node stays on the stack")
}

fn element(e: &BytesStart) -> std::result::Result<Element, String> {
    let name = e.name().as_ref().to_string();
    let mut attrs = Vec::new();
    for a in e.attributes() {
        let a = a.map_err(|e| e.to_string())?;
        let key = a.key.as_ref().to_string();
        let value = a
            .normalized_value(quick_xml::XmlVersion::Implicit1_0)
            .map_err(|e| e.to_string())?;
        attrs.push((key, value.into_owned()));
    }
    Ok(Element {
        name,
        attrs,
        ..Element::default()
    })
}

/// `s` escaped for XML text and attribute values.
pub fn escape(s: &str) -> std::borrow::Cow<'_, str> {
    quick_xml::escape::escape(s)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn elements_attributes_text_and_references_are_read() {
        let x = r#"<?xml version="1.0"?><a k="1 &amp; 2"><b>x &lt; y&#33;</b><c/><b>2</b></a>"#;
        let root = parse(Path::new("t.xml"), x).unwrap();
        assert_eq!(root.name, "a");
        assert_eq!(root.attr("k"), Some("1 & 2"));
        assert_eq!(root.child_text("b"), Some("x < y!"));
        assert_eq!(root.children("b").count(), 2);
        assert!(root.child("c").is_some());
    }

    #[test]
    fn entity_bombs_and_external_entities_are_refused() {
        let bomb = r#"<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY lol "lol"><!ENTITY lol2 "&lol;&lol;&lol;">]><a>&lol2;</a>"#;
        let e = parse(Path::new("t.xml"), bomb).unwrap_err().to_string();
        assert!(e.contains("DOCTYPE"), "{e}");
        let undeclared = "<a>&xxe;</a>";
        let e = parse(Path::new("t.xml"), undeclared)
            .unwrap_err()
            .to_string();
        assert!(e.contains("&xxe;"), "{e}");
        for broken in ["<a>", "<a></b>", "", "<a/><b/>", "text"] {
            assert!(parse(Path::new("t.xml"), broken).is_err(), "{broken:?}");
        }
        let deep = "<a>".repeat(100) + &"</a>".repeat(100);
        assert!(parse(Path::new("t.xml"), &deep).is_err());
    }
}
