//! COCO's JSON shapes: owned structs deserialized straight from the stream (reading) and
//! borrowed ones serialized from the model (writing).

use std::fmt;

use std::cell::RefCell;

use serde::de::{self, Deserializer, MapAccess, SeqAccess, Visitor};
use serde::{Deserialize, Serialize, Serializer};

use crate::loss::Losses;
use crate::model::{Class, Dataset, Image, KeypointSchema, Mask, Object, Origin};

/// One entry of `images`.
#[derive(Deserialize)]
pub struct CocoImage {
    pub id: u64,
    pub file_name: String,
    pub width: Option<u64>,
    pub height: Option<u64>,
}

/// One entry of `categories`.
#[derive(Deserialize)]
pub struct CocoCategory {
    pub id: u64,
    pub name: String,
    pub supercategory: Option<String>,
    pub keypoints: Option<Vec<String>>,
    pub skeleton: Option<Vec<[u32; 2]>>,
}

/// One entry of `annotations`.
#[derive(Deserialize)]
pub struct CocoAnnotation {
    pub id: Option<u64>,
    pub image_id: u64,
    pub category_id: u64,
    pub bbox: Option<Vec<f64>>,
    pub segmentation: Option<Segmentation>,
    pub area: Option<f64>,
    pub iscrowd: Option<u8>,
    pub keypoints: Option<Vec<f64>>,
    pub score: Option<f64>,
    pub annotator: Option<String>,
    pub attributes: Option<Attributes>,
}

/// CVAT's per-annotation `attributes` (others ignored).
#[derive(Deserialize, Serialize, Default)]
pub struct Attributes {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub occluded: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub difficult: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub truncated: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub z_order: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rotation: Option<f64>,
}

/// `segmentation`: a list of flat polygons, or an RLE object.
pub enum Segmentation {
    Polygons(Vec<Vec<f64>>),
    Rle { size: [u64; 2], counts: Counts },
}

/// RLE `counts`: uncompressed numbers or pycocotools' compressed string.
pub enum Counts {
    Plain(Vec<u32>),
    Compressed(String),
}

impl<'de> Deserialize<'de> for Segmentation {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = Segmentation;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a list of polygons or an RLE object {size, counts}")
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
                let mut polys = Vec::new();
                while let Some(p) = seq.next_element::<Vec<f64>>()? {
                    polys.push(p);
                }
                Ok(Segmentation::Polygons(polys))
            }
            fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<Self::Value, A::Error> {
                #[derive(Deserialize)]
                struct RleJson {
                    size: [u64; 2],
                    counts: Counts,
                }
                let r = RleJson::deserialize(de::value::MapAccessDeserializer::new(map))?;
                Ok(Segmentation::Rle {
                    size: r.size,
                    counts: r.counts,
                })
            }
        }
        d.deserialize_any(V)
    }
}

impl<'de> Deserialize<'de> for Counts {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = Counts;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("RLE counts: a list of run lengths or a compressed string")
            }
            fn visit_str<E: de::Error>(self, s: &str) -> Result<Self::Value, E> {
                Ok(Counts::Compressed(s.to_string()))
            }
            fn visit_string<E: de::Error>(self, s: String) -> Result<Self::Value, E> {
                Ok(Counts::Compressed(s))
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
                let mut v = Vec::new();
                while let Some(c) = seq.next_element::<u32>()? {
                    v.push(c);
                }
                Ok(Counts::Plain(v))
            }
        }
        d.deserialize_any(V)
    }
}

/// A COCO file to write, borrowing from the model.
#[derive(Serialize)]
pub struct CocoOut<'a> {
    pub images: Vec<ImageOut<'a>>,
    pub annotations: AnnotationsOut<'a>,
    pub categories: Vec<CategoryOut<'a>>,
}

/// `annotations`, made one at a time while serializing (never all at once: each holds a
/// flat copy of its object's geometry), counting losses as it goes.
pub struct AnnotationsOut<'a> {
    /// The data set.
    pub d: &'a Dataset,
    /// COCO `id` of each image, in image order.
    pub image_ids: &'a [u64],
    /// COCO `id` of each class.
    pub class_ids: &'a [u64],
    /// COCO `id` of each object, in image then object order.
    pub object_ids: &'a [u64],
    /// What the objects lose (serialization borrows `self` immutably).
    pub losses: RefCell<Losses>,
}

impl Serialize for AnnotationsOut<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut ids = self.object_ids.iter();
        let objects = self
            .d
            .images
            .iter()
            .zip(self.image_ids)
            .flat_map(|(image, &image_id)| image.objects.iter().map(move |o| (image, image_id, o)));
        s.collect_seq(objects.map(|(image, image_id, o)| {
            let id = *ids.next().unwrap_or(&0);
            let class_id = self.class_ids[o.class];
            annotation_of(
                o,
                id,
                image_id,
                class_id,
                image,
                &mut self.losses.borrow_mut(),
            )
        }))
    }
}

#[derive(Serialize)]
pub struct ImageOut<'a> {
    id: u64,
    file_name: &'a str,
    width: u32,
    height: u32,
}

#[derive(Serialize)]
pub struct CategoryOut<'a> {
    id: u64,
    name: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    supercategory: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    keypoints: Option<&'a [String]>,
    #[serde(skip_serializing_if = "Option::is_none")]
    skeleton: Option<&'a [[u32; 2]]>,
}

#[derive(Serialize)]
pub struct AnnotationOut<'a> {
    id: u64,
    image_id: u64,
    category_id: u64,
    #[serde(skip_serializing_if = "Option::is_none")]
    bbox: Option<[f64; 4]>,
    segmentation: SegmentationOut<'a>,
    area: f64,
    iscrowd: u8,
    #[serde(skip_serializing_if = "Option::is_none")]
    keypoints: Option<Vec<f64>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    num_keypoints: Option<usize>,
    #[serde(skip_serializing_if = "Option::is_none")]
    score: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    annotator: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    attributes: Option<Attributes>,
}

#[derive(Serialize)]
#[serde(untagged)]
pub enum SegmentationOut<'a> {
    Polygons(Vec<Vec<f64>>),
    Rle { size: [u32; 2], counts: &'a [u32] },
    RleOwned { size: [u32; 2], counts: Vec<u32> },
    RleString { size: [u32; 2], counts: &'a str },
}

pub fn image_of(i: &Image, id: u64) -> ImageOut<'_> {
    ImageOut {
        id,
        file_name: &i.file_name,
        width: i.width,
        height: i.height,
    }
}

pub fn category_of<'a>(
    c: &'a Class,
    id: u64,
    schema: Option<&'a KeypointSchema>,
) -> CategoryOut<'a> {
    CategoryOut {
        id,
        name: &c.name,
        supercategory: c.supercategory.as_deref(),
        keypoints: schema.map(|s| s.names.as_slice()),
        skeleton: schema.map(|s| s.skeleton.as_slice()),
    }
}

pub fn annotation_of<'a>(
    o: &'a Object,
    id: u64,
    image_id: u64,
    category_id: u64,
    image: &Image,
    losses: &mut Losses,
) -> AnnotationOut<'a> {
    let bbox = o
        .bbox
        .or_else(|| o.extent())
        .map(|b| [b.x, b.y, b.width, b.height]);
    losses.add_if(
        o.oriented.is_some(),
        "oriented boxes (written as their axis-aligned bounding boxes)",
    );
    losses.add_if(
        o.polyline.is_some(),
        "polylines (not written; the box encloses them)",
    );
    losses.add_if(
        o.circle.is_some(),
        "circles (not written; the box encloses them)",
    );
    losses.add_if(
        o.origin == Origin::Prediction && o.score.is_none(),
        "predictions without a score (written as annotations)",
    );
    let keypoints = (!o.keypoints.is_empty()).then(|| {
        o.keypoints
            .iter()
            .flat_map(|k| [k.x, k.y, k.visibility as f64])
            .collect()
    });
    let attributes = attributes_of(o);
    AnnotationOut {
        id,
        image_id,
        category_id,
        bbox,
        segmentation: segmentation_of(o, image, losses),
        area: o.area.unwrap_or_else(|| area_of(o, image)),
        iscrowd: o.flags.iscrowd as u8,
        num_keypoints: keypoints
            .as_ref()
            .map(|_| o.keypoints.iter().filter(|k| k.visibility > 0).count()),
        keypoints,
        score: o.score,
        annotator: o.annotator.as_deref(),
        attributes,
    }
}

fn attributes_of(o: &Object) -> Option<Attributes> {
    let f = o.flags;
    let a = Attributes {
        occluded: f.occluded.then_some(true),
        difficult: f.difficult.then_some(true),
        truncated: f.truncated.then_some(true),
        z_order: o.z_order,
        rotation: None,
    };
    (f.occluded || f.difficult || f.truncated || o.z_order.is_some()).then_some(a)
}

fn segmentation_of<'a>(o: &'a Object, image: &Image, losses: &mut Losses) -> SegmentationOut<'a> {
    if !o.polygons.is_empty() {
        losses.add_if(
            o.mask.is_some(),
            "masks of objects that also have polygons (not written)",
        );
        let flat = o
            .polygons
            .iter()
            .map(|p| p.points.iter().flat_map(|q| [q.x, q.y]).collect());
        return SegmentationOut::Polygons(flat.collect());
    }
    match o.mask.as_deref() {
        None => SegmentationOut::Polygons(Vec::new()),
        Some(Mask::Rle(r)) => SegmentationOut::Rle {
            size: [r.height, r.width],
            counts: &r.counts,
        },
        Some(Mask::RleString(r)) => SegmentationOut::RleString {
            size: [r.height, r.width],
            counts: &r.counts,
        },
        Some(Mask::Bitmap(b)) => match b.to_rle(image.width, image.height) {
            Some(r) => SegmentationOut::RleOwned {
                size: [r.height, r.width],
                counts: r.counts,
            },
            None => {
                losses.add("bitmap masks on images above the mask pixel limit (not written)");
                SegmentationOut::Polygons(Vec::new())
            }
        },
    }
}

/// Area when the source gave none, as pycocotools computes it (`maskUtils.area`): the pixels
/// of the union of the polygons rasterised on the image's grid (`frPyObjects` then `merge`),
/// of the RLE (compressed or not) or of the bitmap; else the box's width × height (what
/// `loadRes` gives boxes). Polygons on an image of unknown size (0×0) fall back to their
/// shoelace area.
fn area_of(o: &Object, image: &Image) -> f64 {
    use crate::model::Rle;
    if !o.polygons.is_empty() {
        let rasterised: Option<Vec<Rle>> = o
            .polygons
            .iter()
            .map(|p| Rle::from_points(&p.points, image.height, image.width).ok())
            .collect();
        let union = rasterised
            .filter(|_| image.width > 0 && image.height > 0)
            .and_then(|rles| Rle::merge(&rles, false).ok());
        return match union {
            Some(u) => u.area() as f64,
            None => o.polygons.iter().map(|p| p.area()).sum(),
        };
    }
    match o.mask.as_deref() {
        Some(Mask::Rle(r)) => return r.area() as f64,
        Some(Mask::RleString(r)) => {
            if let Ok(r) = r.decompress() {
                return r.area() as f64;
            }
        }
        Some(Mask::Bitmap(b)) => return b.data.iter().filter(|&&v| v != 0).count() as f64,
        None => {}
    }
    o.extent().map_or(0.0, |b| b.area())
}
