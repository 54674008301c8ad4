//! The annotations of a privacy-clean export (`augtrain export` on annotated data): image names
//! replaced by the exported files' content-hash names, and what could identify people or the
//! source project removed from the model before any writer sees it.
//!
//! What is rewritten or dropped:
//! - image names: the exported name ([`ExportedName`]); images whose pixels are equal share one
//!   exported file, so their entries are merged into one image holding all their objects;
//! - image ids (COCO image `id`, Label Studio task `id`, CVAT image `id`) and object ids (COCO
//!   annotation `id`): renumbered 1, 2, ... in export order, since source ids can point back to
//!   a project's database;
//! - annotators (Label Studio `completed_by`, CVAT/COCO annotator fields) and prediction
//!   sources (Label Studio `model_version`): replaced by `annotator-1`, `annotator-2`, ... and
//!   `model-1`, ... in order of first appearance, so agreement between annotators can still be
//!   measured, unless the names are asked for;
//! - everything else a source file held outside the model is never read into it and so never
//!   written: COCO `info`/`licenses`, LabelMe `imageData` (the embedded original image, with its
//!   metadata) and `flags`, Label Studio task data, dates and users, CVAT `meta` (owner,
//!   dumped date, task names).
//!
//! Kept: classes (names, category ids, supercategories, keypoint schemas), geometry, flags,
//! `z_order`, scores and the image sizes.

use std::collections::HashMap;

use crate::model::{Dataset, Image, Origin};

/// Where one source image went in the export.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExportedName {
    /// The exported image name, relative to the export's image root, `/`-separated.
    pub file_name: String,
    /// The exported image's width, pixels.
    pub width: u32,
    /// The exported image's height, pixels.
    pub height: u32,
}

/// The exported annotations and what the rewrite did.
#[derive(Debug, Clone, Default)]
pub struct Anonymized {
    /// The data set to write, in the input's format.
    pub dataset: Dataset,
    /// Source images merged into an earlier one with equal pixels.
    pub merged: usize,
    /// Distinct annotator names replaced by pseudonyms (0 when names were kept).
    pub pseudonyms: usize,
}

/// The export's annotations: `names[i]` says where image `i` of `d` went (`None`: not exported,
/// its objects dropped); `keep_annotators` keeps annotator names as they are. See the module
/// docs for what is rewritten.
///
/// # Panics
/// If `names` has not one entry per image.
pub fn anonymize(d: &Dataset, names: &[Option<ExportedName>], keep_annotators: bool) -> Anonymized {
    assert_eq!(names.len(), d.images.len(), "one name per image");
    let mut out = Anonymized {
        dataset: Dataset {
            images: Vec::new(),
            classes: d.classes.clone(),
            meta: d.meta.clone(),
        },
        ..Default::default()
    };
    let mut slot: HashMap<&str, usize> = HashMap::new();
    for (image, name) in d.images.iter().zip(names) {
        let Some(name) = name else { continue };
        let at = match slot.get(name.file_name.as_str()) {
            Some(&at) => {
                out.merged += 1;
                at
            }
            None => {
                slot.insert(&name.file_name, out.dataset.images.len());
                out.dataset.images.push(Image {
                    file_name: name.file_name.clone(),
                    width: name.width,
                    height: name.height,
                    id: None,
                    objects: Vec::new(),
                    tags: Vec::new(),
                });
                out.dataset.images.len() - 1
            }
        };
        let target = &mut out.dataset.images[at];
        target.objects.extend(image.objects.iter().cloned());
        target.tags.extend(image.tags.iter().cloned());
    }
    renumber(&mut out.dataset);
    if !keep_annotators {
        out.pseudonyms = pseudonymize(&mut out.dataset);
    }
    out
}

/// Image ids 1, 2, ... and object ids 1, 2, ... in order.
fn renumber(d: &mut Dataset) {
    let mut next_object = 0u64;
    for (k, image) in d.images.iter_mut().enumerate() {
        image.id = Some(k as u64 + 1);
        for o in &mut image.objects {
            next_object += 1;
            o.id = Some(next_object);
        }
    }
}

/// Replace annotator names by `annotator-N` (annotations) and `model-N` (predictions) in order
/// of first appearance; returns how many distinct names were replaced.
fn pseudonymize(d: &mut Dataset) -> usize {
    let mut given: HashMap<(Origin, String), String> = HashMap::new();
    let mut counts: HashMap<Origin, usize> = HashMap::new();
    for o in d.images.iter_mut().flat_map(|i| i.objects.iter_mut()) {
        let Some(who) = o.annotator.take() else {
            continue;
        };
        let pseudonym = given.entry((o.origin, who)).or_insert_with(|| {
            let n = counts.entry(o.origin).or_default();
            *n += 1;
            match o.origin {
                Origin::Annotation => format!("annotator-{n}"),
                Origin::Prediction => format!("model-{n}"),
            }
        });
        o.annotator = Some(pseudonym.clone());
    }
    given.len()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{Class, Object};

    fn object(class: usize, who: Option<&str>, origin: Origin) -> Object {
        Object {
            id: Some(900 + class as u64),
            annotator: who.map(str::to_string),
            origin,
            ..Object::of_class(class)
        }
    }

    fn dataset() -> Dataset {
        let image = |name: &str, id: u64, objects: Vec<Object>| Image {
            file_name: name.into(),
            width: 8,
            height: 6,
            id: Some(id),
            objects,
            tags: Vec::new(),
        };
        Dataset {
            images: vec![
                image(
                    "alice/IMG_0001.jpg",
                    71,
                    vec![
                        object(0, Some("alice@example.com"), Origin::Annotation),
                        object(1, Some("bob"), Origin::Annotation),
                    ],
                ),
                image(
                    "gone.jpg",
                    72,
                    vec![object(1, Some("carol"), Origin::Annotation)],
                ),
                image(
                    "copy-of-0001.jpg",
                    73,
                    vec![object(1, Some("alice@example.com"), Origin::Annotation)],
                ),
                image(
                    "b.jpg",
                    74,
                    vec![
                        object(0, Some("yolo-v8-internal"), Origin::Prediction),
                        object(0, None, Origin::Annotation),
                    ],
                ),
            ],
            classes: vec![
                Class {
                    name: "cat".into(),
                    source_id: Some(17),
                    ..Default::default()
                },
                Class {
                    name: "dog".into(),
                    ..Default::default()
                },
            ],
            ..Default::default()
        }
    }

    fn names() -> Vec<Option<ExportedName>> {
        let name = |n: &str| {
            Some(ExportedName {
                file_name: n.into(),
                width: 8,
                height: 6,
            })
        };
        vec![
            name("images/aa.png"),
            None,
            name("images/aa.png"),
            name("images/bb.png"),
        ]
    }

    #[test]
    fn names_ids_and_annotators_are_rewritten_and_duplicates_merged() {
        let a = anonymize(&dataset(), &names(), false);
        let d = &a.dataset;
        assert_eq!(a.merged, 1);
        assert_eq!(a.pseudonyms, 3);
        let files: Vec<&str> = d.images.iter().map(|i| i.file_name.as_str()).collect();
        assert_eq!(files, ["images/aa.png", "images/bb.png"]);
        assert_eq!(d.images[0].id, Some(1));
        assert_eq!(d.images[1].id, Some(2));
        let ids: Vec<Option<u64>> = d
            .images
            .iter()
            .flat_map(|i| &i.objects)
            .map(|o| o.id)
            .collect();
        assert_eq!(ids, [Some(1), Some(2), Some(3), Some(4), Some(5)]);
        let who: Vec<Option<&str>> = d
            .images
            .iter()
            .flat_map(|i| &i.objects)
            .map(|o| o.annotator.as_deref())
            .collect();
        assert_eq!(
            who,
            [
                Some("annotator-1"),
                Some("annotator-2"),
                Some("annotator-1"),
                Some("model-1"),
                None
            ]
        );
        assert_eq!(d.classes[0].source_id, Some(17), "category ids are kept");
        let text = serde_json::to_string(d).unwrap();
        for leak in ["alice", "bob", "carol", "IMG_0001", "yolo-v8", "71", "gone"] {
            assert!(!text.contains(leak), "{leak} in {text}");
        }
    }

    #[test]
    fn annotator_names_are_kept_when_asked() {
        let a = anonymize(&dataset(), &names(), true);
        assert_eq!(a.pseudonyms, 0);
        let first = a.dataset.images[0].objects[0].annotator.as_deref();
        assert_eq!(first, Some("alice@example.com"));
    }
}
