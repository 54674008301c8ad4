//! One module per annotation format, each with a reader (into the [`crate::model`]) and a
//! writer (streaming its files into a [`Sink`], with a [`Losses`] report of what the format
//! cannot hold), plus detection of the format from the data.

use std::io::Write;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::error::Result;
use crate::loss::Losses;
use crate::model::Dataset;

pub mod brush;
pub mod coco;
pub mod common;
pub mod cvat;
pub mod labelme;
pub mod labelstudio;
pub mod shapes;
pub mod voc;
pub mod yolo;

mod detect;
mod xml;

pub use detect::detect;

/// An annotation format.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Format {
    /// COCO JSON (`instances_*.json`, `person_keypoints_*.json`).
    Coco,
    /// Ultralytics YOLO text labels (`labels/*.txt`, `data.yaml` or `classes.txt`).
    Yolo,
    /// Pascal VOC XML, one file per image (LabelImg's format).
    Voc,
    /// LabelMe JSON, one file per image.
    Labelme,
    /// Label Studio JSON export (a list of tasks).
    #[serde(alias = "label-studio", alias = "label_studio", alias = "ls")]
    Labelstudio,
    /// CVAT for images 1.1 XML.
    Cvat,
}
augtrain_data::from_str_via_serde!(Format);

impl Format {
    /// Every format, in documentation order.
    pub const ALL: [Format; 6] = [
        Format::Coco,
        Format::Yolo,
        Format::Voc,
        Format::Labelme,
        Format::Labelstudio,
        Format::Cvat,
    ];

    /// The format's command-line name.
    pub fn name(self) -> &'static str {
        match self {
            Format::Coco => "coco",
            Format::Yolo => "yolo",
            Format::Voc => "voc",
            Format::Labelme => "labelme",
            Format::Labelstudio => "labelstudio",
            Format::Cvat => "cvat",
        }
    }
}

impl std::fmt::Display for Format {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

/// How to read: where the images are, when the annotations do not say their sizes (YOLO) or the
/// caller wants sizes filled from the files.
#[derive(Debug, Clone, Default)]
pub struct ReadOptions {
    /// The image root; image names in the model are relative to it. `None`: the format's own
    /// default (YOLO: `images/` beside `labels/`; others need none).
    pub images: Option<PathBuf>,
}

/// What a reader returns: the data set and what it had to skip (result types the model does
/// not hold, such as Label Studio choices), one line per kind with a count.
#[derive(Debug, Clone, Default)]
pub struct ReadOutput {
    /// The annotations read.
    pub dataset: Dataset,
    /// What was not read, by kind.
    pub skipped: Losses,
}

/// A file a writer produced, relative to the output directory.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OutFile {
    /// Relative path, `/`-separated.
    pub path: String,
    /// The complete contents.
    pub bytes: Vec<u8>,
}

/// What a writer returns: every file of the output and what the format could not hold.
#[derive(Debug, Clone, Default)]
pub struct WriteOutput {
    /// The files, to be written under one directory and published whole.
    pub files: Vec<OutFile>,
    /// What was lost, one entry per kind with a count.
    pub losses: Losses,
}

/// Where a writer puts the files of its output, one at a time, as it makes them: in memory
/// ([`Vec<OutFile>`]) or straight into an output directory, so that a large data set is never
/// held twice (model and written text).
pub trait Sink {
    /// Create the file `path` (relative to the output, `/`-separated) and fill it with what
    /// `fill` writes (a buffered writer); an error from `fill` or from the sink itself is
    /// returned, and the output must then not be published.
    fn file(
        &mut self,
        path: &str,
        fill: &mut dyn FnMut(&mut dyn Write) -> std::io::Result<()>,
    ) -> std::io::Result<()>;
}

impl Sink for Vec<OutFile> {
    fn file(
        &mut self,
        path: &str,
        fill: &mut dyn FnMut(&mut dyn Write) -> std::io::Result<()>,
    ) -> std::io::Result<()> {
        let mut bytes = Vec::new();
        fill(&mut bytes)?;
        self.push(OutFile {
            path: path.to_string(),
            bytes,
        });
        Ok(())
    }
}

/// Put the file `path` holding `bytes` into `sink`; a failure is a write error naming `path`.
pub(crate) fn put(sink: &mut dyn Sink, path: &str, bytes: &[u8]) -> Result<()> {
    put_with(sink, path, &mut |w| w.write_all(bytes))
}

/// Put the file `path` into `sink`, filled by `fill`; a failure is a write error naming `path`
/// (the sink may know more: see [`Sink`]).
pub(crate) fn put_with(
    sink: &mut dyn Sink,
    path: &str,
    fill: &mut dyn FnMut(&mut dyn Write) -> std::io::Result<()>,
) -> Result<()> {
    sink.file(path, fill)
        .map_err(|e| augtrain_data::util::fs::IoError::new("write", path, e).into())
}

/// Read the annotations at `path` (a file or a directory, as the format keeps them).
pub fn read(format: Format, path: &Path, opts: &ReadOptions) -> Result<ReadOutput> {
    let out = match format {
        Format::Coco => coco::read(path)?,
        Format::Yolo => yolo::read(path, opts)?,
        Format::Voc => voc::read(path)?,
        Format::Labelme => labelme::read(path)?,
        Format::Labelstudio => labelstudio::read(path)?,
        Format::Cvat => cvat::read(path)?,
    };
    common::check_dataset(path, &out.dataset)?;
    Ok(out)
}

/// Write `dataset` in `format` in memory: the files to publish and the losses.
pub fn write(format: Format, dataset: &Dataset) -> Result<WriteOutput> {
    let mut files = Vec::new();
    let losses = write_to(format, dataset, &mut files)?;
    Ok(WriteOutput { files, losses })
}

/// Write `dataset` in `format` into `sink`, one file at a time, each streamed as it is made;
/// returns the losses. On error the sink holds an incomplete output, not to be published.
pub fn write_to(format: Format, dataset: &Dataset, sink: &mut dyn Sink) -> Result<Losses> {
    let mut losses = match format {
        Format::Coco => coco::write_to(dataset, sink),
        Format::Yolo => yolo::write_to(dataset, sink),
        Format::Voc => voc::write_to(dataset, sink),
        Format::Labelme => labelme::write_to(dataset, sink),
        Format::Labelstudio => labelstudio::write_to(dataset, sink),
        Format::Cvat => cvat::write_to(dataset, sink),
    }?;
    if format != Format::Cvat {
        common::count_attribute_losses(dataset, &mut losses);
    }
    Ok(losses)
}

/// Run the streaming writer `write_to` in memory (the formats' own `write` functions).
pub(crate) fn in_memory(
    write_to: impl FnOnce(&mut dyn Sink) -> Result<Losses>,
) -> Result<WriteOutput> {
    let mut files = Vec::new();
    let losses = write_to(&mut files)?;
    Ok(WriteOutput { files, losses })
}

/// Detect the format of `path` unless `format` names it, then read.
pub fn read_any(
    path: &Path,
    format: Option<Format>,
    opts: &ReadOptions,
) -> Result<(Format, ReadOutput)> {
    let (format, path) = match format {
        Some(f) => (f, path.to_path_buf()),
        None => detect(path)?,
    };
    Ok((format, read(format, &path, opts)?))
}

/// Whether `path` is plainly annotation data rather than an image folder, manifest or pack: a
/// `.json` or `.xml` file, or a folder with YOLO's `labels/` and `data.yaml` or `classes.txt`,
/// VOC's `Annotations/`, or CVAT's `annotations.xml`. Used to route `inspect`; `--format`
/// forces the annotation reading.
pub fn looks_annotated(path: &Path) -> bool {
    if path.is_file() {
        let ext = path
            .extension()
            .and_then(|e| e.to_str())
            .unwrap_or("")
            .to_ascii_lowercase();
        return ext == "json" || ext == "xml";
    }
    let yolo = path.join("labels").is_dir()
        && (path.join("data.yaml").is_file() || path.join("classes.txt").is_file());
    yolo || path.join("Annotations").is_dir()
        || path.join("annotations.xml").is_file()
        || path.join("annotations.json").is_file()
}

/// The folder the image names of annotations at `annotations` (in `format`) are relative to:
/// `images` when given; for YOLO, the reader's own choice (`images/` beside `labels/`, else the
/// label folder); otherwise the annotation folder, or the folder holding the annotation file.
pub fn image_root(format: Format, annotations: &Path, images: Option<&Path>) -> PathBuf {
    if let Some(images) = images {
        return images.to_path_buf();
    }
    if format == Format::Yolo {
        return yolo::image_folder(annotations, &ReadOptions::default());
    }
    if annotations.is_dir() {
        annotations.to_path_buf()
    } else {
        annotations
            .parent()
            .filter(|p| !p.as_os_str().is_empty())
            .unwrap_or(Path::new("."))
            .to_path_buf()
    }
}

/// Fill the sizes of images whose annotations did not say them (0×0) from the image files
/// under `images` (headers only). Returns how many images had no readable file; those keep
/// 0×0.
pub fn fill_sizes(d: &mut Dataset, images: &Path) -> usize {
    use rayon::prelude::*;
    d.images
        .par_iter_mut()
        .filter(|i| i.width == 0 || i.height == 0)
        .map(|i| {
            let size = image::ImageReader::open(images.join(&i.file_name))
                .ok()
                .and_then(|r| r.with_guessed_format().ok())
                .and_then(|r| r.into_dimensions().ok())
                .filter(|&(w, h)| {
                    w <= crate::model::MAX_IMAGE_SIDE && h <= crate::model::MAX_IMAGE_SIDE
                });
            match size {
                Some((w, h)) => {
                    (i.width, i.height) = (w, h);
                    0
                }
                None => 1,
            }
        })
        .sum()
}
