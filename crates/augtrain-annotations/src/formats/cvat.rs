//! CVAT for images 1.1 XML: `<annotations>` with the label list under `<meta>` and one
//! `<image id name width height>` per image holding `<box>` (`xtl ytl xbr ybr`, `rotation` in
//! degrees clockwise about the centre), `<polygon>`, `<polyline>` and `<points>`
//! (`points="x,y;x,y"`), `<mask>` (`rle` row-major counts inside `left top width height`,
//! starting with background) and `<ellipse>`; each with `label`, `occluded`, `z_order` and an
//! optional `group_id` tying the shapes of one object.
//!
//! CVAT's coordinates are the model's (continuous pixels from the top-left corner).

use std::path::Path;

use std::io::{BufRead, BufReader, Write};

use augtrain_data::util::fs::{IoError, open_regular};

use super::common::{check_image_name, check_size, num, number, polygon};
use super::shapes::{Shape, merge_groups, shapes_of};
use super::xml::{Element, escape, for_each_child};
use super::{ReadOutput, Sink, WriteOutput};
use crate::error::{AnnotationError, Result};
use crate::loss::Losses;
use crate::model::{
    Attribute, BBox, Bitmap, Circle, Dataset, Image, Keypoint, MAX_MASK_PIXELS, Mask, Object,
    OrientedBox, Point, Tag,
};

/// Read a CVAT for images 1.1 XML file, streaming: one `<image>` element is held at a time.
pub fn read(path: &Path) -> Result<ReadOutput> {
    let file = open_regular(path).map_err(|e| IoError::new("read", path, e))?;
    read_from(path, BufReader::with_capacity(1 << 16, file))
}

/// Parse CVAT XML text (`path` names it in errors).
pub fn parse_text(path: &Path, text: &str) -> Result<ReadOutput> {
    read_from(path, text.as_bytes())
}

fn read_from(path: &Path, input: impl BufRead) -> Result<ReadOutput> {
    let mut out = ReadOutput::default();
    let mut on_root = |root: &Element| {
        if root.name == "annotations" {
            return Ok(());
        }
        Err(AnnotationError::malformed(
            path,
            format!("root element is <{}>, not CVAT's <annotations>", root.name),
        ))
    };
    let mut on_child = |el: Element| {
        match el.name.as_str() {
            "meta" => {
                for name in label_names(&el) {
                    out.dataset.class_index(&name);
                }
            }
            "image" => {
                let image = image(path, &el, &mut out)?;
                out.dataset.images.push(image);
            }
            "track" => return Err(track_refused(path, &el)),
            _ => {}
        }
        Ok(())
    };
    for_each_child(path, input, &mut on_root, &mut on_child)?;
    Ok(out)
}

/// CVAT for video's `<track>`s are refused whole rather than half read: their frames have no
/// image names in the file.
fn track_refused(path: &Path, el: &Element) -> AnnotationError {
    AnnotationError::malformed(
        path,
        format!(
            "has CVAT for video tracks (<track id=\"{}\">), which are not read; export the task as \"CVAT for images 1.1\", which writes each frame's shapes under its <image>",
            el.attr("id").unwrap_or("?")
        ),
    )
}

/// Label names under `<meta>` (task, job or project), in document order.
fn label_names(meta: &Element) -> Vec<String> {
    let mut names = Vec::new();
    let mut stack = vec![meta];
    while let Some(el) = stack.pop() {
        if el.name == "labels" {
            names.extend(
                el.children("label")
                    .filter_map(|l| l.child_text("name"))
                    .map(String::from),
            );
        } else {
            stack.extend(el.children.iter().rev());
        }
    }
    names
}

fn image(path: &Path, el: &Element, out: &mut ReadOutput) -> Result<Image> {
    let name = el.attr("name").unwrap_or("").to_string();
    check_image_name(path, &name)?;
    let whole = |k: &str| -> Result<u64> {
        let t = el.attr(k).unwrap_or("0");
        t.trim().parse().map_err(|_| {
            AnnotationError::malformed(
                path,
                format!("image {name:?}: {k}={t:?} is not a whole number"),
            )
        })
    };
    let (width, height) = check_size(path, &name, whole("width")?, whole("height")?)?;
    let id = el.attr("id").and_then(|v| v.parse().ok());
    let mut items = Vec::new();
    let mut tags = Vec::new();
    for (k, shape) in el.children.iter().enumerate() {
        let what = || format!("image {name:?}, <{}> {}", shape.name, k + 1);
        if shape.name == "tag" {
            tags.push(Tag {
                class: out.dataset.class_index(label(path, shape, &what)?),
                attributes: attributes(path, shape, &what)?,
            });
            continue;
        }
        let Some(geometry) = geometry(path, shape, (width, height), &what, &mut out.skipped)?
        else {
            continue;
        };
        let mut o = geometry;
        o.class = out.dataset.class_index(label(path, shape, &what)?);
        o.flags.occluded = shape.attr("occluded") == Some("1");
        o.z_order = shape.attr("z_order").and_then(|z| z.parse().ok());
        o.attributes = attributes(path, shape, &what)?;
        o.shrink_to_fit();
        items.push((
            shape
                .attr("group_id")
                .and_then(|g| g.parse().ok())
                .filter(|&g: &i64| g != 0),
            o,
        ));
    }
    Ok(Image {
        file_name: name,
        width,
        height,
        id,
        objects: merge_groups(items),
        tags,
    })
}

/// A shape's or tag's `label`, which must be there.
fn label<'e>(path: &Path, el: &'e Element, what: &dyn Fn() -> String) -> Result<&'e str> {
    match el.attr("label") {
        Some(l) if !l.is_empty() => Ok(l),
        _ => Err(AnnotationError::malformed(
            path,
            format!("{}: no label", what()),
        )),
    }
}

/// The `<attribute name="...">value</attribute>` children of a shape or tag, in order.
fn attributes(path: &Path, el: &Element, what: &dyn Fn() -> String) -> Result<Vec<Attribute>> {
    el.children("attribute")
        .map(|a| match a.attr("name") {
            Some(n) if !n.is_empty() => Ok(Attribute {
                name: n.to_string(),
                value: a.text.clone(),
            }),
            _ => Err(AnnotationError::malformed(
                path,
                format!("{}: an <attribute> without a name", what()),
            )),
        })
        .collect()
}

/// The object drawn by one shape element (class not yet set); `None` for elements that are
/// not shapes (those CVAT has that the model cannot hold are counted as skipped).
fn geometry(
    path: &Path,
    el: &Element,
    size: (u32, u32),
    what: &dyn Fn() -> String,
    skipped: &mut Losses,
) -> Result<Option<Object>> {
    let f = |k: &str| {
        number(path, el.attr(k).unwrap_or(""), &|| {
            format!("{} {k}", what())
        })
    };
    let mut o = Object::of_class(0);
    match el.name.as_str() {
        "box" => {
            let b = BBox::from_corners(f("xtl")?, f("ytl")?, f("xbr")?, f("ybr")?);
            let angle = match el.attr("rotation") {
                Some(_) => f("rotation")?,
                None => 0.0,
            };
            if angle == 0.0 {
                o.bbox = Some(b);
            } else {
                let (cx, cy) = (b.x + b.width / 2.0, b.y + b.height / 2.0);
                o.oriented = Some(Box::new(OrientedBox {
                    cx,
                    cy,
                    width: b.width,
                    height: b.height,
                    angle_deg: angle,
                }));
            }
        }
        "polygon" => o
            .polygons
            .push(polygon(path, points(path, el, what)?, what)?),
        "polyline" => {
            let pts = points(path, el, what)?;
            if pts.len() < 2 {
                return Err(AnnotationError::malformed(
                    path,
                    format!("{}: a polyline needs 2 points", what()),
                ));
            }
            o.polyline = Some(pts);
        }
        "points" => {
            let pts = points(path, el, what)?;
            o.keypoints = pts
                .into_iter()
                .map(|p| Keypoint {
                    x: p.x,
                    y: p.y,
                    visibility: 2,
                })
                .collect();
        }
        "mask" => o.mask = Some(Box::new(Mask::Bitmap(mask(path, el, size, what)?))),
        "ellipse"
            if el.attr("rx") == el.attr("ry")
                && el.attr("rotation").is_none_or(|r| r.parse() == Ok(0.0)) =>
        {
            o.circle = Some(Box::new(Circle {
                centre: Point {
                    x: f("cx")?,
                    y: f("cy")?,
                },
                radius: f("rx")?,
            }));
        }
        "ellipse" => {
            skipped.add("CVAT ellipses that are not circles (not read)");
            return Ok(None);
        }
        "skeleton" | "cuboid" => {
            skipped.add("CVAT skeletons and cuboids (not read)");
            return Ok(None);
        }
        _ => return Ok(None),
    }
    Ok(Some(o))
}

fn points(path: &Path, el: &Element, what: &dyn Fn() -> String) -> Result<Vec<Point>> {
    let text = el.attr("points").unwrap_or("");
    text.split(';')
        .filter(|p| !p.trim().is_empty())
        .map(|pair| {
            let (x, y) = pair.split_once(',').ok_or_else(|| {
                AnnotationError::malformed(path, format!("{}: point {pair:?} is not x,y", what()))
            })?;
            Ok(Point {
                x: number(path, x, what)?,
                y: number(path, y, what)?,
            })
        })
        .collect()
}

fn mask(
    path: &Path,
    el: &Element,
    (iw, ih): (u32, u32),
    what: &dyn Fn() -> String,
) -> Result<Bitmap> {
    let whole = |k: &str| -> Result<u32> {
        let t = el.attr(k).unwrap_or("");
        t.trim().parse().map_err(|_| {
            AnnotationError::malformed(path, format!("{}: {k}={t:?} is not a whole number", what()))
        })
    };
    let (left, top, width, height) = (
        whole("left")?,
        whole("top")?,
        whole("width")?,
        whole("height")?,
    );
    let area = width as u64 * height as u64;
    let outside = (iw, ih) != (0, 0)
        && (left as u64 + width as u64 > iw as u64 || top as u64 + height as u64 > ih as u64);
    if area > MAX_MASK_PIXELS || outside {
        return Err(AnnotationError::malformed(
            path,
            format!(
                "{}: mask {width}x{height} at ({left}, {top}) does not fit the image",
                what()
            ),
        ));
    }
    let runs: Vec<u64> = el
        .attr("rle")
        .unwrap_or("")
        .split(',')
        .map(|t| {
            t.trim().parse::<u64>().map_err(|_| {
                AnnotationError::malformed(
                    path,
                    format!("{}: rle value {t:?} is not a count", what()),
                )
            })
        })
        .collect::<Result<_>>()?;
    let sum = runs
        .iter()
        .try_fold(0u64, |a, &r| a.checked_add(r))
        .unwrap_or(u64::MAX);
    if sum != area {
        return Err(AnnotationError::malformed(
            path,
            format!(
                "{}: rle counts add up to {sum}, not {width}x{height}",
                what()
            ),
        ));
    }
    let mut data = Vec::with_capacity(area as usize);
    for (i, &run) in runs.iter().enumerate() {
        data.resize(data.len() + run as usize, (i % 2) as u8);
    }
    Ok(Bitmap {
        left,
        top,
        width,
        height,
        data,
    })
}

/// Write the data set as one `annotations.xml`, in memory.
pub fn write(d: &Dataset) -> Result<WriteOutput> {
    super::in_memory(|sink| write_to(d, sink))
}

/// Write the data set as one `annotations.xml` into `sink`, an image at a time.
pub fn write_to(d: &Dataset, sink: &mut dyn Sink) -> Result<Losses> {
    let mut losses = Losses::default();
    losses.add_n(
        "class ids (not held: classes are named only)",
        d.classes.iter().filter(|c| c.source_id.is_some()).count(),
    );
    super::put_with(sink, "annotations.xml", &mut |w| {
        write_meta(d, w)?;
        let mut next_group = 1;
        for (k, image) in d.images.iter().enumerate() {
            write_image(d, image, k, &mut next_group, &mut losses, w)?;
        }
        w.write_all(b"</annotations>\n")
    })?;
    Ok(losses)
}

/// The XML declaration, `<annotations>` and the `<meta>` block (labels and their attributes).
fn write_meta(d: &Dataset, w: &mut dyn Write) -> std::io::Result<()> {
    w.write_all(
        b"<?xml version=\"1.0\" encoding=\"utf-8\"?>\n<annotations>\n  <version>1.1</version>\n  <meta>\n    <task>\n",
    )?;
    write!(
        w,
        "      <size>{}</size>\n      <mode>annotation</mode>\n      <labels>\n",
        d.images.len()
    )?;
    let declared = attribute_names(d);
    for (c, names) in d.classes.iter().zip(&declared) {
        write!(
            w,
            "        <label>\n          <name>{}</name>\n          <type>any</type>\n          <attributes>\n",
            escape(&c.name)
        )?;
        for n in names {
            write!(
                w,
                "            <attribute>\n              <name>{}</name>\n              <mutable>False</mutable>\n              <input_type>text</input_type>\n              <default_value></default_value>\n              <values></values>\n            </attribute>\n",
                escape(n)
            )?;
        }
        w.write_all(b"          </attributes>\n        </label>\n")?;
    }
    w.write_all(b"      </labels>\n    </task>\n  </meta>\n")
}

/// One `<image>` with its shapes (shapes of one object share a `group_id`, counted from
/// `next_group`) and tags.
fn write_image(
    d: &Dataset,
    image: &Image,
    k: usize,
    next_group: &mut i64,
    losses: &mut Losses,
    w: &mut dyn Write,
) -> std::io::Result<()> {
    let id = image.id.unwrap_or(k as u64);
    writeln!(
        w,
        "  <image id=\"{id}\" name=\"{}\" width=\"{}\" height=\"{}\">",
        escape(&image.file_name),
        image.width,
        image.height
    )?;
    for o in &image.objects {
        count_losses(o, losses);
        let shapes = shapes_of(o, losses);
        let group = (shapes.len() > 1).then(|| {
            *next_group += 1;
            *next_group - 1
        });
        for shape in shapes {
            w.write_all(shape_xml(d, o, &shape, group, losses).as_bytes())?;
        }
    }
    for t in &image.tags {
        write!(
            w,
            "    <tag label=\"{}\" source=\"manual\">\n{}    </tag>\n",
            escape(&d.classes[t.class].name),
            attributes_xml(&t.attributes)
        )?;
    }
    w.write_all(b"  </image>\n")
}

fn count_losses(o: &Object, l: &mut Losses) {
    l.add_if(o.score.is_some(), "scores (not written)");
    l.add_if(o.annotator.is_some(), "annotators (not written)");
    l.add_if(
        o.flags.iscrowd || o.flags.difficult || o.flags.truncated,
        "iscrowd/difficult/truncated flags (not written)",
    );
    l.add_if(
        o.keypoints.iter().any(|k| k.visibility == 1),
        "keypoint visibility 1 (written as visible points)",
    );
}

fn shape_xml(
    d: &Dataset,
    o: &Object,
    shape: &Shape,
    group: Option<i64>,
    losses: &mut Losses,
) -> String {
    let mut common = format!(
        "label=\"{}\" source=\"manual\" occluded=\"{}\"",
        escape(&d.classes[o.class].name),
        o.flags.occluded as u8
    );
    if let Some(z) = o.z_order {
        common += &format!(" z_order=\"{z}\"");
    }
    if let Some(g) = group {
        common += &format!(" group_id=\"{g}\"");
    }
    let pts = |p: &mut dyn Iterator<Item = Point>| {
        p.map(|p| format!("{},{}", num(p.x), num(p.y)))
            .collect::<Vec<_>>()
            .join(";")
    };
    let body = match shape {
        Shape::Box(b) => format!(
            "box {common} xtl=\"{}\" ytl=\"{}\" xbr=\"{}\" ybr=\"{}\"",
            num(b.x),
            num(b.y),
            num(b.x_max()),
            num(b.y_max())
        ),
        Shape::Oriented(ob) => format!(
            "box {common} xtl=\"{}\" ytl=\"{}\" xbr=\"{}\" ybr=\"{}\" rotation=\"{}\"",
            num(ob.cx - ob.width / 2.0),
            num(ob.cy - ob.height / 2.0),
            num(ob.cx + ob.width / 2.0),
            num(ob.cy + ob.height / 2.0),
            num(ob.angle_deg)
        ),
        Shape::Polygon(p) => format!(
            "polygon {common} points=\"{}\"",
            pts(&mut p.points.iter().copied())
        ),
        Shape::Polyline(l) => format!(
            "polyline {common} points=\"{}\"",
            pts(&mut l.iter().copied())
        ),
        Shape::Points(k) => format!(
            "points {common} points=\"{}\"",
            pts(&mut k.iter().map(|k| Point { x: k.x, y: k.y }))
        ),
        Shape::Circle(c) => format!(
            "ellipse {common} cx=\"{}\" cy=\"{}\" rx=\"{}\" ry=\"{}\"",
            num(c.centre.x),
            num(c.centre.y),
            num(c.radius),
            num(c.radius)
        ),
        Shape::Mask(m) => match m.to_bitmap() {
            Some(b) => format!(
                "mask {common} rle=\"{}\" left=\"{}\" top=\"{}\" width=\"{}\" height=\"{}\"",
                row_runs(&b),
                b.left,
                b.top,
                b.width,
                b.height
            ),
            None => {
                losses.add("compressed-string RLE masks that do not decode (not written)");
                return String::new();
            }
        },
    };
    format!(
        "    <{body}>\n{}    </{}>\n",
        attributes_xml(&o.attributes),
        body.split(' ').next().unwrap_or("box")
    )
}

/// `<attribute>` lines for a shape or tag.
fn attributes_xml(attributes: &[Attribute]) -> String {
    attributes
        .iter()
        .map(|a| {
            format!(
                "      <attribute name=\"{}\">{}</attribute>\n",
                escape(&a.name),
                escape(&a.value)
            )
        })
        .collect()
}

/// Per class, the names of the attributes its objects and tags carry, in order of first use:
/// CVAT imports only attributes its label list declares.
fn attribute_names(d: &Dataset) -> Vec<Vec<&str>> {
    let mut names: Vec<Vec<&str>> = vec![Vec::new(); d.classes.len()];
    let objects = d.images.iter().flat_map(|i| &i.objects);
    let used = objects.map(|o| (o.class, &o.attributes)).chain(
        d.images
            .iter()
            .flat_map(|i| &i.tags)
            .map(|t| (t.class, &t.attributes)),
    );
    for (class, attributes) in used {
        for a in attributes {
            if !names[class].contains(&a.name.as_str()) {
                names[class].push(&a.name);
            }
        }
    }
    names
}

/// CVAT's mask counts: row-major runs inside the bitmap, background first.
fn row_runs(b: &Bitmap) -> String {
    let mut runs = Vec::new();
    let (mut current, mut run) = (false, 0u64);
    for &v in &b.data {
        if (v != 0) != current {
            runs.push(run.to_string());
            current = v != 0;
            run = 0;
        }
        run += 1;
    }
    runs.push(run.to_string());
    runs.join(", ")
}

#[cfg(test)]
mod tests {
    use super::*;

    const CVAT: &str = r#"<?xml version="1.0" encoding="utf-8"?>
<annotations>
  <version>1.1</version>
  <meta><task><id>1</id><labels>
    <label><name>car</name><color>#fa3253</color><type>any</type><attributes></attributes></label>
    <label><name>unused</name></label>
  </labels></task></meta>
  <image id="3" name="frames/a.png" width="10" height="8">
    <box label="car" source="manual" occluded="1" xtl="1.5" ytl="2" xbr="4" ybr="6" z_order="2">
      <attribute name="colour">dark &amp; red</attribute>
      <attribute name="parked">true</attribute>
    </box>
    <box label="car" source="manual" occluded="0" xtl="0" ytl="0" xbr="4" ybr="2" z_order="0" rotation="30"></box>
    <polygon label="car" source="manual" occluded="0" points="1,1;5,1;3,4" z_order="0" group_id="5"></polygon>
    <points label="car" source="manual" occluded="0" points="2,2;3,3" z_order="0" group_id="5"></points>
    <mask label="car" source="manual" occluded="0" rle="1, 2, 3" left="2" top="3" width="3" height="2" z_order="0"></mask>
    <tag label="car" source="manual"><attribute name="weather">rain</attribute></tag>
  </image>
</annotations>"#;

    #[test]
    fn cvat_shapes_read_and_round_trip() {
        let r = parse_text(Path::new("c.xml"), CVAT).unwrap();
        let d = &r.dataset;
        assert_eq!(
            d.classes
                .iter()
                .map(|c| c.name.as_str())
                .collect::<Vec<_>>(),
            ["car", "unused"]
        );
        let im = &d.images[0];
        assert_eq!((im.width, im.height, im.id), (10, 8, Some(3)));
        assert_eq!(im.objects.len(), 4, "{:?}", im.objects);
        assert_eq!(
            im.objects[0].bbox,
            Some(BBox {
                x: 1.5,
                y: 2.0,
                width: 2.5,
                height: 4.0
            })
        );
        assert!(im.objects[0].flags.occluded);
        assert_eq!(im.objects[0].z_order, Some(2));
        let ob = *im.objects[1].oriented.clone().unwrap();
        assert_eq!(
            (ob.cx, ob.cy, ob.width, ob.height, ob.angle_deg),
            (2.0, 1.0, 4.0, 2.0, 30.0)
        );
        assert_eq!(im.objects[2].polygons.len(), 1);
        assert_eq!(
            im.objects[2].keypoints.len(),
            2,
            "grouped points join the polygon's object"
        );
        let Some(Mask::Bitmap(b)) = im.objects[3].mask.as_deref() else {
            panic!()
        };
        assert_eq!(b.data, vec![0, 1, 1, 0, 0, 0]);
        let attribute = |name: &str, value: &str| Attribute {
            name: name.into(),
            value: value.into(),
        };
        assert_eq!(
            im.objects[0].attributes,
            [
                attribute("colour", "dark & red"),
                attribute("parked", "true")
            ]
        );
        assert_eq!(
            im.tags,
            [Tag {
                class: 0,
                attributes: vec![attribute("weather", "rain")]
            }]
        );
        assert!(r.skipped.is_empty(), "{}", r.skipped);
        let w = write(d).unwrap();
        assert!(w.losses.is_empty(), "{}", w.losses);
        let text = std::str::from_utf8(&w.files[0].bytes).unwrap();
        assert!(
            text.contains("<name>colour</name>") && text.contains("<name>weather</name>"),
            "the label list declares the attributes: {text}"
        );
        let back = parse_text(
            Path::new("w.xml"),
            std::str::from_utf8(&w.files[0].bytes).unwrap(),
        )
        .unwrap();
        assert_eq!(back.dataset.images, d.images);
        assert_eq!(back.dataset.classes, d.classes);
        for format in super::super::Format::ALL {
            let l = super::super::write(format, d).unwrap().losses;
            let (attributes, tags) = (
                l.count("object attributes (not written: only CVAT holds them)"),
                l.count(
                    "image-level tags, with their attributes (not written: only CVAT holds them)",
                ),
            );
            let expected = if format == super::super::Format::Cvat {
                (0, 0)
            } else {
                (2, 1)
            };
            assert_eq!((attributes, tags), expected, "{format}");
        }
    }

    #[test]
    fn hostile_cvat_files_are_refused() {
        let cases = [
            (CVAT.replace("rle=\"1, 2, 3\"", "rle=\"1, 2, 4\""), "add up"),
            (
                CVAT.replace(
                    "width=\"3\" height=\"2\"",
                    "width=\"300000\" height=\"200000\"",
                ),
                "does not fit",
            ),
            (
                CVAT.replace("points=\"1,1;5,1;3,4\"", "points=\"1,1\""),
                "at least 3 points",
            ),
            (CVAT.replace("frames/a.png", "/etc/passwd"), "safe relative"),
            (CVAT.replace("xtl=\"1.5\"", "xtl=\"NaN\""), "finite"),
            (
                CVAT.replace("width=\"10\"", "width=\"1000000000\""),
                "limit",
            ),
            (
                CVAT.replace("<attribute name=\"parked\">", "<attribute>"),
                "without a name",
            ),
            (
                CVAT.replace(
                    "</annotations>",
                    "<track id=\"0\" label=\"car\"><box frame=\"0\" outside=\"0\" keyframe=\"1\" occluded=\"0\" xtl=\"1\" ytl=\"1\" xbr=\"2\" ybr=\"2\"></box></track></annotations>",
                ),
                "CVAT for video tracks",
            ),
            (CVAT.replace("<annotations>", "<other>").replace("</annotations>", "</other>"), "not CVAT's"),
        ];
        for (text, needle) in cases {
            let e = parse_text(Path::new("h.xml"), &text)
                .unwrap_err()
                .to_string();
            assert!(e.contains(needle) && !e.contains('\n'), "{needle}: {e}");
        }
    }
}
