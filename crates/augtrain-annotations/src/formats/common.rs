//! Checks and conversions shared by the format modules.

use std::path::Path;

use crate::error::{AnnotationError, Result};
use crate::loss::Losses;
use crate::model::{Dataset, MAX_IMAGE_SIDE, Object, Point, Polygon};
use augtrain_data::util::inside::portable_relative_inside;

/// Check what every reader must guarantee: safe image names, sizes within
/// [`MAX_IMAGE_SIDE`] (0 = unknown), class indices in range, finite coordinates.
pub fn check_dataset(path: &Path, d: &Dataset) -> Result<()> {
    for image in &d.images {
        check_image_name(path, &image.file_name)?;
        check_size(
            path,
            &image.file_name,
            image.width as u64,
            image.height as u64,
        )?;
        for o in &image.objects {
            if o.class >= d.classes.len() {
                return Err(AnnotationError::malformed(
                    path,
                    format!("{}: an object has no class", image.file_name),
                ));
            }
            if !numbers_finite(o) {
                return Err(AnnotationError::malformed(
                    path,
                    format!(
                        "{}: an object's coordinates overflow to infinity",
                        image.file_name
                    ),
                ));
            }
        }
    }
    Ok(())
}

/// Whether every number of `o` is finite (scaling a huge percentage or normalized value by
/// the image size can overflow).
fn numbers_finite(o: &Object) -> bool {
    let b = o.bbox.iter().flat_map(|b| [b.x, b.y, b.width, b.height]);
    let r = o
        .oriented
        .iter()
        .flat_map(|r| [r.cx, r.cy, r.width, r.height, r.angle_deg]);
    let p = o
        .polygons
        .iter()
        .flat_map(|p| &p.points)
        .chain(o.polyline.iter().flatten())
        .flat_map(|p| [p.x, p.y]);
    let c = o
        .circle
        .iter()
        .flat_map(|c| [c.centre.x, c.centre.y, c.radius]);
    let k = o.keypoints.iter().flat_map(|k| [k.x, k.y]);
    let extra = o.area.into_iter().chain(o.score);
    b.chain(r)
        .chain(p)
        .chain(c)
        .chain(k)
        .chain(extra)
        .all(f64::is_finite)
}

/// Refuse an image name that could leave the image root
/// ([`augtrain_data::util::inside::portable_relative_inside`]).
pub fn check_image_name(path: &Path, name: &str) -> Result<()> {
    if portable_relative_inside(name).is_ok() {
        Ok(())
    } else {
        Err(AnnotationError::UnsafeName {
            path: path.to_path_buf(),
            name: name.to_string(),
        })
    }
}

/// Refuse image sizes above [`MAX_IMAGE_SIDE`] (hostile or corrupt size fields).
pub fn check_size(path: &Path, name: &str, width: u64, height: u64) -> Result<(u32, u32)> {
    let max = MAX_IMAGE_SIDE as u64;
    if width > max || height > max {
        return Err(AnnotationError::malformed(
            path,
            format!(
                "image {name:?} claims {width}x{height} pixels, more than the {max}-pixel limit per side; \
                 fix its size fields"
            ),
        ));
    }
    Ok((width as u32, height as u32))
}

/// A number read from text, finite, or a [`AnnotationError::Malformed`] naming `what`.
pub fn number(path: &Path, text: &str, what: &dyn Fn() -> String) -> Result<f64> {
    match text.trim().parse::<f64>() {
        Ok(v) if v.is_finite() => Ok(v),
        _ => Err(AnnotationError::malformed(
            path,
            format!("{}: {:?} is not a finite number", what(), text.trim()),
        )),
    }
}

/// Refuse a non-finite coordinate.
pub fn finite(path: &Path, v: f64, what: &dyn Fn() -> String) -> Result<f64> {
    if v.is_finite() {
        Ok(v)
    } else {
        Err(AnnotationError::malformed(
            path,
            format!("{}: a coordinate is not finite", what()),
        ))
    }
}

/// A polygon from points, refusing fewer than 3 points or non-finite coordinates.
pub fn polygon(path: &Path, mut points: Vec<Point>, what: &dyn Fn() -> String) -> Result<Polygon> {
    if points.len() < 3 {
        return Err(AnnotationError::malformed(
            path,
            format!(
                "{}: a polygon needs at least 3 points, it has {}",
                what(),
                points.len()
            ),
        ));
    }
    for p in &points {
        finite(path, p.x, what)?;
        finite(path, p.y, what)?;
    }
    // Kept for the data set's lifetime: no spare capacity from parsing.
    points.shrink_to_fit();
    Ok(Polygon { points })
}

/// Points from flat `[x0, y0, x1, y1, ...]` coordinates (an odd count is an error).
pub fn points_from_flat(
    path: &Path,
    flat: &[f64],
    what: &dyn Fn() -> String,
) -> Result<Vec<Point>> {
    if !flat.len().is_multiple_of(2) {
        return Err(AnnotationError::malformed(
            path,
            format!(
                "{}: {} coordinates do not make x,y pairs",
                what(),
                flat.len()
            ),
        ));
    }
    Ok(flat
        .chunks_exact(2)
        .map(|c| Point { x: c[0], y: c[1] })
        .collect())
}

/// A number as text, shortest form that reads back to the same `f64` ("12", "0.1", "1e-7").
pub fn num(v: f64) -> String {
    let s = format!("{v}");
    if s == "-0" { "0".into() } else { s }
}

/// `name` with its extension replaced by `ext` (`a/b.jpg` → `a/b.txt`).
pub fn with_extension(name: &str, ext: &str) -> String {
    let slash = name.rfind('/').map_or(0, |i| i + 1);
    match name[slash..].rfind('.') {
        Some(dot) if dot > 0 => format!("{}.{ext}", &name[..slash + dot]),
        _ => format!("{name}.{ext}"),
    }
}

/// Refuse two images whose output files would have the same name (`a.jpg` and `a.png` both
/// becoming `a.txt`).
pub fn unique_outputs<'a>(
    format: &'static str,
    names: impl Iterator<Item = (&'a str, String)>,
) -> Result<()> {
    let mut seen = std::collections::HashMap::new();
    for (image, out) in names {
        if let Some(other) = seen.insert(out.clone(), image) {
            return Err(AnnotationError::Unwritable {
                format,
                message: format!("images {other:?} and {image:?} would both be written to {out:?}"),
            });
        }
    }
    Ok(())
}

/// Lexically join `dir` (relative, `/`-separated, may be empty) and `name` (relative to it,
/// may contain `..` that stays inside), giving a name relative to the root; `None` if it
/// would leave the root or is absolute.
pub fn join_relative(dir: &str, name: &str) -> Option<String> {
    if name.starts_with(['/', '\\'])
        || name.contains('\0')
        || (name.len() >= 2 && name.as_bytes()[1] == b':')
    {
        return None;
    }
    let mut parts: Vec<&str> = dir
        .split('/')
        .filter(|p| !p.is_empty() && *p != ".")
        .collect();
    for part in name.split(['/', '\\']) {
        match part {
            "" | "." => {}
            ".." => {
                parts.pop()?;
            }
            p => parts.push(p),
        }
    }
    (!parts.is_empty()).then(|| parts.join("/"))
}

/// Losses of the class list, shared by the formats that keep classes only as object names.
pub fn count_class_losses(d: &Dataset, losses: &mut Losses) {
    let mut used = vec![false; d.classes.len()];
    for o in d.images.iter().flat_map(|i| &i.objects) {
        used[o.class] = true;
    }
    losses.add_n(
        "classes without objects (not held: classes exist only as object names)",
        used.iter().filter(|u| !**u).count(),
    );
    losses.add_n(
        "class ids (not held: classes are named only)",
        d.classes.iter().filter(|c| c.source_id.is_some()).count(),
    );
}

/// Losses of what only CVAT holds: object attributes and image-level tags, for every other
/// format's writer.
pub fn count_attribute_losses(d: &Dataset, losses: &mut Losses) {
    let objects = d.images.iter().flat_map(|i| &i.objects);
    losses.add_n(
        "object attributes (not written: only CVAT holds them)",
        objects.map(|o| o.attributes.len()).sum(),
    );
    losses.add_n(
        "image-level tags, with their attributes (not written: only CVAT holds them)",
        d.images.iter().map(|i| i.tags.len()).sum(),
    );
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_print_shortest_and_read_back() {
        for v in [12.0, 0.1, 1.0 / 3.0, 1e-7, 123456.789, -0.0] {
            assert_eq!(num(v).parse::<f64>().unwrap(), v);
        }
        assert_eq!(num(12.0), "12");
        assert_eq!(num(-0.0), "0");
    }

    #[test]
    fn extensions_are_replaced_in_the_last_component_only() {
        assert_eq!(with_extension("a/b.jpg", "txt"), "a/b.txt");
        assert_eq!(with_extension("a.d/b", "txt"), "a.d/b.txt");
        assert_eq!(with_extension(".hidden", "txt"), ".hidden.txt");
    }

    #[test]
    fn relative_joins_stay_inside_the_root() {
        assert_eq!(
            join_relative("ann", "../images/x.jpg").as_deref(),
            Some("images/x.jpg")
        );
        assert_eq!(join_relative("", "x.jpg").as_deref(), Some("x.jpg"));
        assert_eq!(join_relative("", "../x.jpg"), None);
        assert_eq!(join_relative("a", "/etc/passwd"), None);
        assert_eq!(join_relative("a", "C:\\x.jpg"), None);
    }
}
