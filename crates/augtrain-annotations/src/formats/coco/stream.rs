//! Reading a COCO file in one pass without holding its annotations twice: each entry of
//! `annotations` becomes a model [`Object`] as soon as it is parsed (its JSON form is dropped
//! at once) and is filed under its `image_id`; classes and images are joined at the end, since
//! COCO files list `categories` (and may list `images`) after `annotations`.

use std::collections::HashMap;
use std::fmt;
use std::path::Path;

use serde::de::{self, DeserializeSeed, Deserializer, IgnoredAny, MapAccess, SeqAccess, Visitor};

use super::json::{CocoAnnotation, CocoCategory, CocoImage};
use crate::error::{AnnotationError, Result};
use crate::model::Object;

/// Everything read from a COCO file, before classes and images are joined.
#[derive(Default)]
pub struct Parts {
    /// `images`, as listed.
    pub images: Vec<CocoImage>,
    /// `categories`, as listed.
    pub categories: Vec<CocoCategory>,
    /// The objects of each `image_id`, in file order; each object's `class` holds an index
    /// into [`Parts::category_ids`] until the categories are known.
    pub objects: HashMap<u64, Vec<Object>>,
    /// The `category_id` values met in `annotations`, in order of first appearance.
    pub category_ids: Vec<u64>,
    category_slot: HashMap<u64, usize>,
    /// The first error the conversion of an annotation raised (serde only carries text).
    error: Option<AnnotationError>,
}

/// Converts one parsed annotation (its index in the file given) into an object whose class
/// is still to be resolved.
pub type Convert<'c> = dyn FnMut(CocoAnnotation, usize) -> Result<Object> + 'c;

/// Parse the top-level COCO object from `de`, converting annotations with `convert` as they
/// come. A conversion error is returned as itself, a syntax error as a malformed-file error.
pub fn read<'de, D>(path: &Path, de: D, convert: &mut Convert) -> Result<Parts>
where
    D: Deserializer<'de, Error = serde_json::Error>,
{
    let mut parts = Parts::default();
    let outcome = FileSeed {
        parts: &mut parts,
        convert,
    }
    .deserialize(de);
    if let Some(e) = parts.error.take() {
        return Err(e);
    }
    outcome.map_err(|e| AnnotationError::malformed(path, format!("not valid COCO JSON: {e}")))?;
    Ok(parts)
}

impl Parts {
    /// File `o` under `image_id`, with its class slot for `category_id`. The per-image lists
    /// grow one object at a time up to 8, then by an eighth, so that their unused capacity
    /// (objects are some 360 bytes) stays small while pushes stay amortized O(1).
    fn add(&mut self, image_id: u64, category_id: u64, mut o: Object) {
        let slots = self.category_ids.len();
        let slot = *self.category_slot.entry(category_id).or_insert(slots);
        if slot == slots {
            self.category_ids.push(category_id);
        }
        o.class = slot;
        let list = self.objects.entry(image_id).or_default();
        if list.len() == list.capacity() {
            list.reserve_exact((list.len() / 8).max(1));
        }
        list.push(o);
    }
}

struct FileSeed<'p, 'c, 'x> {
    parts: &'p mut Parts,
    convert: &'c mut Convert<'x>,
}

impl<'de> DeserializeSeed<'de> for FileSeed<'_, '_, '_> {
    type Value = ();
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> std::result::Result<(), D::Error> {
        d.deserialize_map(self)
    }
}

impl<'de> Visitor<'de> for FileSeed<'_, '_, '_> {
    type Value = ();
    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a COCO object with images, annotations and categories")
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> std::result::Result<(), A::Error> {
        let mut seen = [false; 3];
        while let Some(key) = map.next_key::<String>()? {
            let field = ["images", "annotations", "categories"]
                .iter()
                .position(|k| *k == key);
            if let Some(i) = field
                && std::mem::replace(&mut seen[i], true)
            {
                return Err(de::Error::duplicate_field(
                    ["images", "annotations", "categories"][i],
                ));
            }
            match field {
                Some(0) => self.parts.images = map.next_value()?,
                Some(1) => map.next_value_seed(AnnotationsSeed {
                    parts: &mut *self.parts,
                    convert: &mut *self.convert,
                })?,
                Some(_) => self.parts.categories = map.next_value()?,
                None => {
                    map.next_value::<IgnoredAny>()?;
                }
            }
        }
        Ok(())
    }
}

struct AnnotationsSeed<'p, 'c, 'x> {
    parts: &'p mut Parts,
    convert: &'c mut Convert<'x>,
}

impl<'de> DeserializeSeed<'de> for AnnotationsSeed<'_, '_, '_> {
    type Value = ();
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> std::result::Result<(), D::Error> {
        d.deserialize_seq(self)
    }
}

impl<'de> Visitor<'de> for AnnotationsSeed<'_, '_, '_> {
    type Value = ();
    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a list of COCO annotations")
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> std::result::Result<(), A::Error> {
        let mut k = 0;
        while let Some(a) = seq.next_element::<CocoAnnotation>()? {
            let (image_id, category_id) = (a.image_id, a.category_id);
            match (self.convert)(a, k) {
                Ok(o) => self.parts.add(image_id, category_id, o),
                Err(e) => {
                    let text = e.to_string();
                    self.parts.error = Some(e);
                    return Err(de::Error::custom(text));
                }
            }
            k += 1;
        }
        Ok(())
    }
}
