//! Which path holds the annotations, in which format, and where their images are: what the
//! commands taking annotated data (`audit`, `augment`, `split`, `export`) make of their `DATA`
//! argument and the `--annotations`, `--format` and `--images` flags.

use std::path::{Path, PathBuf};

use crate::Result;
use crate::formats::{self, Format, ReadOptions, ReadOutput, detect};

/// Where the annotations are and where their images are.
#[derive(Clone, Debug)]
pub struct AnnotatedInput {
    /// The annotations' format.
    pub format: Format,
    /// The annotation file or folder the reader takes.
    pub annotations: PathBuf,
    /// The image folder given (`DATA` with `--annotations`, or `--images`), if any.
    pub images: Option<PathBuf>,
}

/// The annotated input `data` names, if it is (or `annotations`/`format` make it) annotated
/// data; `None` for a plain image dataset. With `annotations`, `data` is the image folder.
/// Without either, `data` is annotated when its format is recognised: a COCO, LabelMe, Label
/// Studio, CVAT or VOC file or folder, or a YOLO folder with `labels/`, `data.yaml` or
/// `classes.txt` (loose `.txt` files alone are not enough).
pub fn annotated_input(
    data: &Path,
    annotations: Option<&Path>,
    format: Option<Format>,
) -> Result<Option<AnnotatedInput>> {
    if let Some(ann) = annotations {
        let (format, path) = match format {
            Some(f) => (f, ann.to_path_buf()),
            None => detect(ann)?,
        };
        return Ok(Some(AnnotatedInput {
            format,
            annotations: path,
            images: Some(data.to_path_buf()),
        }));
    }
    if let Some(f) = format {
        return Ok(Some(AnnotatedInput {
            format: f,
            annotations: data.to_path_buf(),
            images: None,
        }));
    }
    let Ok((format, path)) = detect(data) else {
        return Ok(None);
    };
    let yolo_marked = ["labels", "data.yaml", "classes.txt"]
        .iter()
        .any(|n| data.join(n).exists())
        || data.is_file()
        || data.file_name().is_some_and(|n| n == "labels");
    if format == Format::Yolo && !yolo_marked {
        return Ok(None);
    }
    Ok(Some(AnnotatedInput {
        format,
        annotations: path,
        images: None,
    }))
}

/// The annotated input of `data` as [`annotated_input`] finds it without `--annotations`, its
/// images in `images` (`--images`) when given.
pub fn annotated_input_with_images(
    data: &Path,
    format: Option<Format>,
    images: Option<&Path>,
) -> Result<Option<AnnotatedInput>> {
    let found = annotated_input(data, None, format)?;
    Ok(found.map(|mut input| {
        input.images = images.map(Path::to_path_buf);
        input
    }))
}

impl AnnotatedInput {
    /// Read the annotations ([`formats::read`]), their images in `images` when given.
    pub fn read(&self) -> Result<ReadOutput> {
        let opts = ReadOptions {
            images: self.images.clone(),
        };
        formats::read(self.format, &self.annotations, &opts)
    }

    /// The folder the image names are relative to ([`formats::image_root`]).
    pub fn image_root(&self) -> PathBuf {
        formats::image_root(self.format, &self.annotations, self.images.as_deref())
    }
}
