//! `augtrain augment --data ANNOTATED --copies N --out DIR`: an augmented copy of an annotated
//! data set. Each image is augmented `N` times with the CPU twin of the fused kernel (images of
//! any size: one compiled program per size); its boxes, polygons and keypoints follow with the
//! same drawn parameters (`augtrain_augment::targets`). The output holds the images under
//! `images/`, the annotations in the input's format (or `--to`), `pipeline.toml` and
//! `params.jsonl`, published whole or not at all; `--replay` redoes a `params.jsonl`, targets
//! included.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use augtrain_annotations::formats::{self, Format};
use augtrain_annotations::input::annotated_input_with_images;
use augtrain_annotations::model::{Dataset, Image, Object};
use augtrain_augment::record::{Record, pixels_sha256};
use augtrain_augment::spec::OpSpec;
use augtrain_augment::targets::mask::warp_object_mask;
use augtrain_augment::targets::object::Frame;
use augtrain_augment::targets::{KeypointSchemas, transform_objects};
use augtrain_augment::{PipelineSpec, Program, SampleParams};
use augtrain_data::ImageShape;
use augtrain_run::report::images::{Picture, pictures};
use augtrain_run::run_dir::OutputDir;

use super::AugmentArgs;
use crate::util::escape::escape_path;
use crate::{Error, augment};

/// One augmented image: which input, which copy, the parameters, the result.
struct Augmented {
    index: usize,
    copy: usize,
    epoch: usize,
    params: SampleParams,
    picture: Picture,
    objects: Vec<Object>,
    file: String,
    /// SHA-256 of the input image's decoded pixels (RGB), recorded for `--replay`.
    sha: String,
}

/// The input: annotations, where their images are, and their format.
struct Input {
    dataset: Dataset,
    root: PathBuf,
    format: Format,
}

/// Whether `--data` should go through the annotated path.
pub fn wanted(args: &AugmentArgs) -> bool {
    args.copies.is_some()
        || args.to.is_some()
        || args.format.is_some()
        || args.data.as_deref().is_some_and(formats::looks_annotated)
}

/// Run `augment` on annotated data.
pub fn run(args: &AugmentArgs) -> crate::Result<()> {
    let data = args.data.as_deref().ok_or_else(|| {
        Error::Usage("--copies needs --data with annotated data (COCO, YOLO, VOC, ...)".into())
    })?;
    let out = args.out.as_deref().ok_or_else(|| {
        Error::Usage("augmenting annotated data writes a data set: give --out DIR".into())
    })?;
    let input = read_input(data, args)?;
    let record_dir = args.replay.as_ref().and_then(|p| p.parent());
    let spec = pipeline(&args.pipeline, record_dir)?;
    let mut programs = Programs::new(&spec);
    let source = crate::util::path_text::encode(&std::path::absolute(data).unwrap_or(data.into()));
    let done = match &args.replay {
        Some(replay) => replay_all(replay, &input, &mut programs)?,
        None => augment_all(args, &input, &mut programs)?,
    };
    let to = args.to.unwrap_or(input.format);
    let published = publish(
        out, args.force, &spec, &input, &done, to, args.seed, &source,
    )?;
    if let Some(path) = &args.preview {
        let shown: Vec<(usize, &Picture, &[Object])> = done
            .iter()
            .map(|a| (a.index, &a.picture, a.objects.as_slice()))
            .collect();
        let originals = |i: usize| -> crate::Result<Picture> {
            let (pixels, shape) = load_image(&input.root, &input.dataset.images[i])?;
            Ok(Picture {
                width: shape.width,
                height: shape.height,
                channels: 3,
                pixels,
            })
        };
        super::overlay::write_preview(path, &input.dataset, &shown, args.n, originals)?;
    }
    if !args.quiet {
        say!(
            "wrote {} augmented images of {} with their annotations ({to}) to {}",
            done.len(),
            input.dataset.images.len(),
            escape_path(&published)
        );
    }
    Ok(())
}

/// Read the annotations.
fn read_input(data: &Path, args: &AugmentArgs) -> crate::Result<Input> {
    let found = annotated_input_with_images(data, args.format, args.images.as_deref())?;
    let found = found.ok_or_else(|| {
        Error::Usage(format!(
            "{}: not annotated data; give a COCO/LabelMe/Label Studio file or a YOLO/VOC/CVAT folder, or --format",
            escape_path(data)
        ))
    })?;
    let dataset = found.read()?.dataset;
    let root = found.image_root();
    Ok(Input {
        dataset,
        root,
        format: found.format,
    })
}

/// The pipeline: a file, `none`, or `default` (the recorded one when replaying; else flips and
/// mild colour changes). Mixup and cutmix are refused: they mix two images' targets.
fn pipeline(arg: &str, record_dir: Option<&Path>) -> crate::Result<PipelineSpec> {
    let spec = match arg {
        "default" => match record_dir.map(|d| d.join("pipeline.toml")) {
            Some(p) if p.exists() => augment::load_spec(&p)?,
            _ => PipelineSpec::from_toml(DEFAULT_PIPELINE, "the default pipeline")
                .map_err(|e| Error::Usage(e.to_string()))?,
        },
        "none" => PipelineSpec::identity(),
        path => augment::load_spec(Path::new(path))?,
    };
    if let Some(op) = spec
        .ops
        .iter()
        .find(|op| matches!(op, OpSpec::Mixup { .. } | OpSpec::Cutmix { .. }))
    {
        return Err(Error::Usage(format!(
            "{} mixes two images and their annotations, which augment --data does not do; remove it from the pipeline",
            op.name()
        )));
    }
    Ok(spec)
}

/// The default pipeline of `augment --data`: horizontal flips and mild colour jitter.
const DEFAULT_PIPELINE: &str = "version = 1
[[ops]]
op = \"hflip\"
[[ops]]
op = \"brightness\"
factor = [0.8, 1.2]
[[ops]]
op = \"contrast\"
factor = [0.8, 1.2]
";

/// One compiled program per input size.
struct Programs<'a> {
    spec: &'a PipelineSpec,
    by_shape: HashMap<(usize, usize), Program>,
}

impl<'a> Programs<'a> {
    fn new(spec: &'a PipelineSpec) -> Self {
        Programs {
            spec,
            by_shape: HashMap::new(),
        }
    }

    fn get(&mut self, shape: ImageShape) -> crate::Result<&Program> {
        let key = (shape.width, shape.height);
        if !self.by_shape.contains_key(&key) {
            let p = Program::new(self.spec, shape)?;
            self.by_shape.insert(key, p);
        }
        Ok(&self.by_shape[&key])
    }
}

/// An image's pixels, RGB, with its shape.
fn load_image(root: &Path, image: &Image) -> crate::Result<(Vec<u8>, ImageShape)> {
    let path = root.join(&image.file_name);
    let bytes = crate::util::fs::read(&path)?;
    let decoded = image::load_from_memory(&bytes).map_err(|e| {
        Error::Data(crate::data::DataError::Malformed {
            path: path.clone(),
            problem: format!("cannot decode the image ({e}); augment needs every annotated image"),
        })
    })?;
    let rgb = decoded.to_rgb8();
    let shape = ImageShape::new(rgb.width() as usize, rgb.height() as usize, 3);
    Ok((rgb.into_raw(), shape))
}

/// The boxes the detection-aware crops look at: each object's box, or the box around its
/// oriented box or polygons.
fn object_boxes(image: &Image) -> Vec<[f64; 4]> {
    image
        .objects
        .iter()
        .filter_map(|o| {
            o.bbox
                .or_else(|| o.oriented.as_deref().map(|b| b.bounding_box()))
                .or_else(|| {
                    augtrain_annotations::model::BBox::enclosing(
                        o.polygons.iter().flat_map(|p| p.points.iter().copied()),
                    )
                })
        })
        .map(|b| [b.x, b.y, b.x_max(), b.y_max()])
        .collect()
}

/// Augment one decoded image with `params`: the picture and its objects.
fn apply(
    program: &Program,
    pixels: &[u8],
    image: &Image,
    params: &SampleParams,
    schemas: &KeypointSchemas,
) -> crate::Result<(Picture, Vec<Object>)> {
    let out = program.output;
    let header = program.header(1);
    let words = program.pack(std::slice::from_ref(params))?;
    let mut values = vec![0f32; out.channels * out.height * out.width];
    augtrain_augment::cpu::run(&header, &words, &[pixels], &mut values);
    let picture = pictures(&values, &header, 1, out.channels, out.height, out.width)
        .pop()
        .expect("one picture per sample");
    let frame = Frame::of(params, out.width, out.height);
    let mut objects = transform_objects(&image.objects, &frame, &program.spec.targets, schemas);
    // Masks move with the pixels: the same parameters, nearest neighbour, as the GPU pass.
    for o in &mut objects {
        if let Some(mask) = &o.mask {
            o.mask = Some(Box::new(warp_object_mask(program, params, mask)?));
        }
    }
    Ok((picture, objects))
}

/// The output name of copy `copy` of `file_name`: `<stem>-aug<copy>.png`, same folders.
fn copy_name(file_name: &str, copy: usize) -> String {
    let stem = match file_name.rfind('.') {
        Some(dot) if !file_name[dot..].contains('/') => &file_name[..dot],
        _ => file_name,
    };
    format!("{stem}-aug{copy}.png")
}

/// `--copies` augmented versions of every image (copy k drawn for epoch `--epoch` + k).
fn augment_all(
    args: &AugmentArgs,
    input: &Input,
    programs: &mut Programs,
) -> crate::Result<Vec<Augmented>> {
    let copies = args.copies.unwrap_or(1);
    if copies == 0 {
        return Err(Error::Usage("--copies must be at least 1".into()));
    }
    let schemas = KeypointSchemas::of(&input.dataset);
    let mut done = Vec::new();
    for (index, image) in input.dataset.images.iter().enumerate() {
        let (pixels, shape) = load_image(&input.root, image)?;
        let sha = pixels_sha256(&pixels);
        let program = programs.get(shape)?;
        let boxes = vec![object_boxes(image)];
        for copy in 0..copies {
            let epoch = args.epoch + copy;
            let params = program
                .draw_with_boxes(args.seed, epoch, &[index as u64], &boxes)
                .pop()
                .expect("one draw per id");
            let (picture, objects) = apply(program, &pixels, image, &params, &schemas)?;
            done.push(Augmented {
                index,
                copy,
                epoch,
                params,
                picture,
                objects,
                file: copy_name(&image.file_name, copy),
                sha: sha.clone(),
            });
        }
    }
    Ok(done)
}

/// Redo the records of a `params.jsonl`: the same pictures and targets from the recorded
/// parameters. Every record must name an image of `--data` with the recorded pixels.
fn replay_all(
    replay: &Path,
    input: &Input,
    programs: &mut Programs,
) -> crate::Result<Vec<Augmented>> {
    let text = String::from_utf8(crate::util::fs::read(replay)?).map_err(|_| {
        Error::Data(crate::data::DataError::Malformed {
            path: replay.to_path_buf(),
            problem: "not UTF-8 text".into(),
        })
    })?;
    let bad = |line: usize, problem: String| {
        Error::Data(crate::data::DataError::Malformed {
            path: replay.to_path_buf(),
            problem: format!("line {line}: {problem}"),
        })
    };
    let records = augtrain_augment::record::parse_records(replay, &text)
        .map_err(|e| bad(e.line, e.problem))?;
    let schemas = KeypointSchemas::of(&input.dataset);
    let mut done = Vec::new();
    for (line, r) in records {
        let image = input
            .dataset
            .images
            .get(r.index)
            .filter(|i| i.file_name == r.image)
            .ok_or_else(|| bad(line, format!("image {} is not image {} of --data; replay with the data the records were made from", r.image, r.index)))?;
        let (pixels, shape) = load_image(&input.root, image)?;
        let sha = pixels_sha256(&pixels);
        if sha != r.pixels_sha256 {
            return Err(bad(
                line,
                format!("image {} has other pixels than when recorded", r.image),
            ));
        }
        let program = programs.get(shape)?;
        let (picture, objects) = apply(program, &pixels, image, &r.params, &schemas)?;
        let file = r
            .file
            .strip_prefix("images/")
            .unwrap_or(&r.file)
            .to_string();
        done.push(Augmented {
            index: r.index,
            copy: r.batch,
            epoch: r.epoch,
            params: r.params,
            picture,
            objects,
            file,
            sha,
        });
    }
    Ok(done)
}

/// The augmented data set: one image per augmented copy, classes and schemas as the input's.
fn augmented_dataset(input: &Input, done: &[Augmented]) -> Dataset {
    let images = done
        .iter()
        .enumerate()
        .map(|(k, a)| Image {
            file_name: a.file.clone(),
            width: a.picture.width as u32,
            height: a.picture.height as u32,
            id: Some(k as u64 + 1),
            objects: a
                .objects
                .iter()
                .map(|o| Object {
                    id: None,
                    ..o.clone()
                })
                .collect(),
            // Image-level tags hold for every augmented copy.
            tags: input.dataset.images[a.index].tags.clone(),
        })
        .collect();
    Dataset {
        images,
        classes: input.dataset.classes.clone(),
        meta: input.dataset.meta.clone(),
    }
}

/// Write images, annotations, `pipeline.toml` and `params.jsonl` under `out`, whole or not
/// at all.
#[allow(clippy::too_many_arguments)]
fn publish(
    out: &Path,
    force: bool,
    spec: &PipelineSpec,
    input: &Input,
    done: &[Augmented],
    to: Format,
    seed: u64,
    source: &str,
) -> crate::Result<PathBuf> {
    let written = formats::write(to, &augmented_dataset(input, done))?;
    let dir = OutputDir::claim(Some(out), Path::new("."), "augmented", force)?;
    for file in &written.files {
        dir.write(&file.path, &file.bytes)?;
    }
    // Encoding is most of the work left: on every core, then written in order.
    let pngs: Vec<Vec<u8>> = {
        use rayon::prelude::*;
        done.par_iter().map(|a| a.picture.png_bytes()).collect()
    };
    let mut lines = String::new();
    for (a, png) in done.iter().zip(&pngs) {
        let image = &input.dataset.images[a.index];
        let file = format!("images/{}", a.file);
        dir.write(&file, png)?;
        let record = Record {
            batch: a.copy,
            position: 0,
            index: a.index,
            id: a.index as u64,
            epoch: a.epoch,
            seed,
            source: source.to_string(),
            image: image.file_name.clone(),
            pixels_sha256: a.sha.clone(),
            file,
            params: a.params.clone(),
        };
        lines.push_str(&serde_json::to_string(&record).expect("record serializes"));
        lines.push('\n');
    }
    dir.write("pipeline.toml", spec.to_toml().as_bytes())?;
    dir.write("params.jsonl", lines.as_bytes())?;
    let path = dir.publish()?;
    for (what, n) in written.losses.iter() {
        warn!("lost in {to}: {n} {what}");
    }
    Ok(path)
}
