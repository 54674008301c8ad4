//! Pascal VOC XML (LabelImg's format): one `<annotation>` file per image with `<filename>`,
//! `<size>` and `<object>`s holding `<name>`, `<bndbox>`, `<difficult>`, `<truncated>` and
//! `<occluded>`.
//!
//! VOC boxes are **1-based inclusive pixel indices**: `xmin = 1` is the first column, and
//! `xmax` is the last column inside the box. In the model's continuous coordinates pixel `i`
//! (1-based) covers `[i - 1, i)`, so the box is `[xmin - 1, xmax] × [ymin - 1, ymax]`, and
//! writing uses `xmin = x + 1`, `xmax = x + width` (Detectron2's reading of VOC).

use std::path::Path;

use augtrain_data::util::fs::{IoError, read_regular_text};

use super::common::{
    check_image_name, check_size, count_class_losses, num, number, unique_outputs, with_extension,
};
use super::xml::{Element, escape, parse};
use super::{ReadOutput, Sink, WriteOutput};
use crate::error::{AnnotationError, Result};
use crate::loss::Losses;
use crate::model::{BBox, Dataset, Image, Object};

/// Read one VOC XML file, or every `.xml` file under a directory (sorted by name).
pub fn read(path: &Path) -> Result<ReadOutput> {
    let files: Vec<_> = if path.is_dir() {
        augtrain_data::files::files_under(path)?
            .into_iter()
            .filter(|(p, _)| p.extension().is_some_and(|e| e.eq_ignore_ascii_case("xml")))
            .map(|(p, _)| p)
            .collect()
    } else {
        vec![path.to_path_buf()]
    };
    let mut out = ReadOutput::default();
    for file in files {
        let text = read_regular_text(&file).map_err(|e| IoError::new("read", &file, e))?;
        let image = parse_file(&file, &text, &mut out.dataset, &mut out.skipped)?;
        out.dataset.images.push(image);
    }
    Ok(out)
}

/// Parse one VOC annotation file, adding its classes to `d`.
pub fn parse_file(path: &Path, text: &str, d: &mut Dataset, skipped: &mut Losses) -> Result<Image> {
    let root = parse(path, text)?;
    if root.name != "annotation" {
        return Err(AnnotationError::malformed(
            path,
            format!("root element is <{}>, not VOC's <annotation>", root.name),
        ));
    }
    let file_name = root
        .child_text("filename")
        .filter(|f| !f.is_empty())
        .ok_or_else(|| AnnotationError::malformed(path, "no <filename>"))?
        .to_string();
    check_image_name(path, &file_name)?;
    let size = root.child("size");
    let dim = |name: &str| -> Result<u64> {
        match size.and_then(|s| s.child_text(name)) {
            None | Some("") => Ok(0),
            Some(t) => t.trim().parse::<u64>().map_err(|_| {
                AnnotationError::malformed(
                    path,
                    format!("<size><{name}> {t:?} is not a whole number"),
                )
            }),
        }
    };
    let (width, height) = check_size(path, &file_name, dim("width")?, dim("height")?)?;
    let mut objects = Vec::new();
    for (k, el) in root.children("object").enumerate() {
        objects.push(object(path, el, k, d)?);
        skipped.add_n(
            "VOC object parts (<part>: not read)",
            el.children("part").count(),
        );
    }
    Ok(Image {
        file_name,
        width,
        height,
        id: None,
        objects,
        tags: Vec::new(),
    })
}

fn object(path: &Path, el: &Element, k: usize, d: &mut Dataset) -> Result<Object> {
    let what = || format!("object {}", k + 1);
    let name = el.child_text("name").filter(|n| !n.is_empty());
    let name =
        name.ok_or_else(|| AnnotationError::malformed(path, format!("{}: no <name>", what())))?;
    let mut o = Object::of_class(d.class_index(name));
    let flag = |tag: &str| -> Result<bool> {
        match el.child_text(tag).map(str::trim) {
            None | Some("") | Some("0") | Some("false") => Ok(false),
            Some("1") | Some("true") => Ok(true),
            Some(v) => Err(AnnotationError::malformed(
                path,
                format!("{}: <{tag}> {v:?} is not 0 or 1", what()),
            )),
        }
    };
    o.flags.difficult = flag("difficult")?;
    o.flags.truncated = flag("truncated")?;
    o.flags.occluded = flag("occluded")?;
    if let Some(b) = el.child("bndbox") {
        let c = |tag: &str| -> Result<f64> {
            let t = b.child_text(tag).unwrap_or("");
            number(path, t, &|| format!("{} <bndbox><{tag}>", what()))
        };
        o.bbox = Some(BBox::from_corners(
            c("xmin")? - 1.0,
            c("ymin")? - 1.0,
            c("xmax")?,
            c("ymax")?,
        ));
    }
    Ok(o)
}

/// Write one `Annotations/<image name>.xml` per image.
pub fn write(d: &Dataset) -> Result<WriteOutput> {
    super::in_memory(|sink| write_to(d, sink))
}

/// Write one `Annotations/<image name>.xml` per image into `sink`, one image at a time.
pub fn write_to(d: &Dataset, sink: &mut dyn Sink) -> Result<Losses> {
    let mut out = WriteOutput::default();
    let name = |i: &Image| format!("Annotations/{}", with_extension(&i.file_name, "xml"));
    unique_outputs(
        "voc",
        d.images.iter().map(|i| (i.file_name.as_str(), name(i))),
    )?;
    count_class_losses(d, &mut out.losses);
    for image in &d.images {
        let xml = image_xml(d, image, &mut out.losses);
        super::put(sink, &name(image), xml.as_bytes())?;
    }
    Ok(out.losses)
}

fn image_xml(d: &Dataset, image: &Image, losses: &mut Losses) -> String {
    let mut x = format!(
        "<annotation>\n  <folder></folder>\n  <filename>{}</filename>\n  <size>\n    <width>{}</width>\n    \
         <height>{}</height>\n    <depth>3</depth>\n  </size>\n  <segmented>0</segmented>\n",
        escape(&image.file_name),
        image.width,
        image.height
    );
    for o in &image.objects {
        count_object_losses(o, losses);
        let Some(b) = o.bbox.or_else(|| o.extent()) else {
            losses.add("objects without any geometry (not written)");
            continue;
        };
        let f = |v: bool| if v { 1 } else { 0 };
        x += &format!(
            "  <object>\n    <name>{}</name>\n    <pose>Unspecified</pose>\n    <truncated>{}</truncated>\n    \
             <difficult>{}</difficult>\n    <occluded>{}</occluded>\n    <bndbox>\n      <xmin>{}</xmin>\n      \
             <ymin>{}</ymin>\n      <xmax>{}</xmax>\n      <ymax>{}</ymax>\n    </bndbox>\n  </object>\n",
            escape(&d.classes[o.class].name),
            f(o.flags.truncated),
            f(o.flags.difficult),
            f(o.flags.occluded),
            num(b.x + 1.0),
            num(b.y + 1.0),
            num(b.x_max()),
            num(b.y_max()),
        );
    }
    x + "</annotation>\n"
}

fn count_object_losses(o: &Object, l: &mut Losses) {
    l.add_if(
        o.oriented.is_some(),
        "oriented boxes (written as their axis-aligned bounding boxes)",
    );
    l.add_if(
        !o.polygons.is_empty(),
        "polygons (written as their bounding boxes)",
    );
    l.add_if(o.mask.is_some(), "masks (not written)");
    l.add_if(!o.keypoints.is_empty(), "keypoints (not written)");
    l.add_if(
        o.polyline.is_some() || o.circle.is_some(),
        "polylines and circles (written as their boxes)",
    );
    l.add_if(o.score.is_some(), "scores (not written)");
    l.add_if(o.annotator.is_some(), "annotators (not written)");
    l.add_if(o.flags.iscrowd, "iscrowd flags (not written)");
    l.add_if(o.z_order.is_some(), "z-orders (not written)");
}

#[cfg(test)]
mod tests {
    use super::*;

    const LABELIMG: &str = r#"<annotation>
	<folder>imgs</folder>
	<filename>dog.jpg</filename>
	<path>/home/u/imgs/dog.jpg</path>
	<source><database>Unknown</database></source>
	<size><width>64</width><height>48</height><depth>3</depth></size>
	<segmented>0</segmented>
	<object>
		<name>dog</name><pose>Unspecified</pose><truncated>1</truncated><difficult>0</difficult>
		<bndbox><xmin>1</xmin><ymin>2</ymin><xmax>64</xmax><ymax>48</ymax></bndbox>
	</object>
</annotation>"#;

    #[test]
    fn one_based_inclusive_boxes_become_continuous_and_back() {
        let mut d = Dataset::default();
        let image =
            parse_file(Path::new("a.xml"), LABELIMG, &mut d, &mut Losses::default()).unwrap();
        assert_eq!((image.width, image.height), (64, 48));
        let o = &image.objects[0];
        // The whole image width: columns 1..=64 are [0, 64).
        assert_eq!(
            o.bbox,
            Some(BBox {
                x: 0.0,
                y: 1.0,
                width: 64.0,
                height: 47.0
            })
        );
        assert!(o.flags.truncated && !o.flags.difficult);
        d.images.push(image);
        let w = write(&d).unwrap();
        assert!(w.losses.is_empty(), "{}", w.losses);
        let text = String::from_utf8(w.files[0].bytes.clone()).unwrap();
        assert!(
            text.contains("<xmin>1</xmin>") && text.contains("<xmax>64</xmax>"),
            "{text}"
        );
        let mut d2 = Dataset::default();
        let back = parse_file(Path::new("b.xml"), &text, &mut d2, &mut Losses::default()).unwrap();
        assert_eq!(back, d.images[0]);
    }

    #[test]
    fn hostile_voc_files_are_refused_with_one_line() {
        let cases = [
            (
                LABELIMG.replace("<width>64</width>", "<width>1000000000</width>"),
                "limit",
            ),
            (
                LABELIMG.replace("dog.jpg</filename>", "../../etc/passwd</filename>"),
                "safe relative",
            ),
            (
                LABELIMG.replace("<xmin>1</xmin>", "<xmin>one</xmin>"),
                "not a finite number",
            ),
            (
                LABELIMG.replace("<difficult>0", "<difficult>7"),
                "not 0 or 1",
            ),
            (
                LABELIMG.replace(
                    "<annotation>",
                    "<!DOCTYPE a [<!ENTITY x \"y\">]><annotation>",
                ),
                "DOCTYPE",
            ),
        ];
        for (text, needle) in cases {
            let e = parse_file(
                Path::new("h.xml"),
                &text,
                &mut Dataset::default(),
                &mut Losses::default(),
            )
            .unwrap_err()
            .to_string();
            assert!(e.contains(needle) && !e.contains('\n'), "{needle}: {e}");
        }
    }
}
