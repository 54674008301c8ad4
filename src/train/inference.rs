//! A trained run, loaded for inference: its config, model card, model (validation mode) and
//! evaluation augmenter. `eval` and `predict` use it; `predict --pretrained` builds one from a
//! weights file with its own head ([`Inference::pretrained`]).

use std::path::Path;

use super::evaluate::{Evaluation, evaluate};
use super::progress::ImageProgress;
use super::trainer::{augmenters, build_model, resolve_pipeline};
use super::{TrainError, weights};
use crate::augment::Augmenter;
use crate::data::{Dataset, ImageShape, LoadOptions};
use crate::device::ComputeDevice;
use crate::model::pretrained::{HeadPolicy, WeightsFile};
use crate::model::{self, Model};
use augtrain_run::config::{ModelKind, TrainConfig};
use augtrain_run::records::ModelCard;
use augtrain_run::run_dir::RunDir;
use burn::module::Module;

/// A trained model ready to predict.
pub struct Inference {
    /// The run's resolved config.
    pub cfg: TrainConfig,
    /// What the model expects: input shape and classes.
    pub card: ModelCard,
    /// The trained model, validation mode, on the inference device.
    pub model: Model,
    /// The deterministic (evaluation) pipeline.
    pub aug: Augmenter,
}

impl Inference {
    /// Load the run in `run` onto `device`. A missing or damaged run file is a
    /// [`augtrain_run::RunError`] naming it.
    pub fn load(run: &RunDir, device: &ComputeDevice) -> Result<Self, TrainError> {
        let cfg = run.config()?;
        let card = run.model_card()?;
        // A dataset of no images with the model's input shape and classes: what the pipeline
        // and the model are built for.
        let probe = Dataset::from_pixels(
            card.input,
            card.class_names.clone(),
            Vec::new(),
            Vec::new(),
            Vec::new(),
            Vec::new(),
        );
        let spec = resolve_pipeline(&cfg, &probe);
        let (train_aug, aug) = augmenters(&spec, &probe, cfg.seed, device)?;
        let model = build_model(&cfg, &train_aug, card.class_names.len(), &device.device)?;
        let model = weights::restore_model(model, run.checkpoint()?.model)?;
        Ok(Self {
            cfg,
            card,
            model,
            aug,
        })
    }
}

impl Inference {
    /// A model of architecture `kind` with the weights of `path`, head included (e.g. the
    /// ImageNet classifier), for predicting without training. ImageNet architectures get their
    /// evaluation preprocessing (load at 256, centre crop 224, their normalization); the others
    /// the default deterministic pipeline at the default size. Classes are named by
    /// `class_names` (one per head output, else an error) or by their indices.
    pub fn pretrained(
        kind: ModelKind,
        path: &Path,
        class_names: Option<Vec<String>>,
        device: &ComputeDevice,
    ) -> Result<Self, TrainError> {
        let file = WeightsFile::open(path)?;
        // Another architecture's file has no head under this one's name either; say what
        // it is before advising to train a head it could never load into.
        if let Some(arch) = file.architecture().filter(|a| *a != kind.to_string()) {
            return Err(TrainError::Config(format!(
                "{} holds {arch} weights, not {kind} ones: predict with augtrain predict --pretrained {} --model {arch} --data YOUR_IMAGES",
                path.display(),
                path.display()
            )));
        }
        let head = model::head_name(kind);
        let classes = file.head_classes(head).ok_or_else(|| {
            TrainError::Config(format!(
                "{} has no classification head ({head}.weight) to predict with; train one: augtrain train --pretrained {} --model {kind}",
                path.display(),
                path.display()
            ))
        })?;
        // `export-model` records the run's class names; a file for another head has other ones.
        let recorded = file
            .metadata()
            .get("classes")
            .map(|text| text.split('\n').map(String::from).collect::<Vec<_>>())
            .filter(|names| names.len() == classes);
        let class_names = match class_names.or(recorded) {
            Some(names) if names.len() != classes => {
                return Err(TrainError::Config(format!(
                    "{} names {} classes but the head of {} has {classes}; give one name per line, in the head's order",
                    "--class-names",
                    names.len(),
                    path.display()
                )));
            }
            Some(names) => names,
            None => (0..classes).map(|i| i.to_string()).collect(),
        };
        Self::from_weights(kind, &file, class_names, HeadPolicy::Keep, device)
    }

    /// A model of architecture `kind` with the backbone of the weights file `path`, for
    /// computing features ([`Model::features`](crate::model::Model::features)): the file's
    /// head is loaded when it has one, and not needed when it does not (a backbone-only file).
    pub fn backbone(
        kind: ModelKind,
        path: &Path,
        device: &ComputeDevice,
    ) -> Result<Self, TrainError> {
        let file = WeightsFile::open(path)?;
        let classes = file.head_classes(model::head_name(kind)).unwrap_or(1);
        let names = (0..classes).map(|i| i.to_string()).collect();
        Self::from_weights(kind, &file, names, HeadPolicy::Replace, device)
    }

    /// The model of `kind` built for `class_names`, weights from `file` under `policy`, with
    /// the evaluation pipeline of `kind`'s published preprocessing.
    fn from_weights(
        kind: ModelKind,
        file: &WeightsFile,
        class_names: Vec<String>,
        policy: HeadPolicy,
        device: &ComputeDevice,
    ) -> Result<Self, TrainError> {
        let path = file.path();
        let mut cfg = TrainConfig::default();
        cfg.model.kind = kind;
        cfg.model.pretrained = Some(path.to_path_buf());
        let mut channels = 3;
        if let Some(input) = kind.imagenet_input() {
            cfg.data.size = [input.load_size; 2];
        } else if let Some(shape) = file.metadata().get("input").and_then(|s| parse_shape(s)) {
            // A file written by `export-model`: the shape its run loaded images at.
            cfg.data.size = [shape.width as u32, shape.height as u32];
            channels = shape.channels;
        }
        cfg.data.channels = channels;
        let shape = ImageShape::new(
            cfg.data.size[0] as usize,
            cfg.data.size[1] as usize,
            channels,
        );
        let probe = Dataset::from_pixels(
            shape,
            class_names.clone(),
            Vec::new(),
            Vec::new(),
            Vec::new(),
            Vec::new(),
        );
        let spec = resolve_pipeline(&cfg, &probe);
        let (_, aug) = augmenters(&spec, &probe, cfg.seed, device)?;
        let model = build_model(&cfg, &aug, class_names.len(), &device.device)?;
        let (model, _) = file.load_into(model, policy)?;
        let card = ModelCard {
            architecture: Some(kind.to_string()),
            model_input: Some(aug.output_shape()),
            pretrained: Some(path.display().to_string()),
            ..ModelCard::new(shape, class_names)
        };
        Ok(Self {
            cfg,
            card,
            model: model.valid(),
            aug,
        })
    }

    /// How images must be loaded for this model: its input shape and the run's decoding rules
    /// (resize policy, pixel limit); nothing else of the training data.
    pub fn load_options(&self) -> LoadOptions {
        LoadOptions {
            size: [self.card.input.width as u32, self.card.input.height as u32],
            channels: self.card.input.channels,
            resize: self.cfg.data.resize,
            max_pixels: self.cfg.data.max_pixels,
            ..LoadOptions::default()
        }
    }

    /// `data` labelled against the model's classes by name (never by position): a class the
    /// model does not know is an error naming it and the model's classes.
    pub fn match_classes(&self, data: &Dataset, origin: &str) -> Result<Dataset, TrainError> {
        if data.shape != self.card.input {
            return Err(TrainError::Config(format!(
                "{origin} holds {} images but the model takes {}; load them at the model's size (--size, --channels)",
                data.shape, self.card.input
            )));
        }
        data.relabel_by_name(&self.card.class_names).map_err(|unknown| {
            TrainError::Config(format!(
                "{origin} has class(es) {} that the model does not know (its classes: {}); rename them, or pass --classes with the model's classes to skip the others",
                unknown.iter().map(|c| format!("'{c}'")).collect::<Vec<_>>().join(", "),
                self.card.class_names.join(", ")
            ))
        })
    }

    /// Images per evaluation batch of this model on `device` ([`TrainConfig::eval_batch_size`]).
    pub fn eval_batch_size(&self, device: &ComputeDevice) -> usize {
        self.cfg
            .eval_batch_size(self.aug.output_shape().values(), !device.is_gpu())
    }

    /// Evaluate on `data` (already labelled against the model's classes) on `device`.
    pub fn evaluate(
        &self,
        data: &Dataset,
        device: &ComputeDevice,
        keep_probabilities: bool,
        progress: Option<&ImageProgress>,
    ) -> Result<Evaluation, TrainError> {
        evaluate(
            &self.model,
            data,
            &self.aug,
            self.eval_batch_size(device),
            &self.cfg,
            &device.device,
            keep_probabilities,
            progress,
        )
    }
}

/// `WxHxC` (as [`ImageShape`] displays itself) back into a shape.
fn parse_shape(text: &str) -> Option<ImageShape> {
    let mut parts = text.split('x').map(|p| p.trim().parse::<usize>().ok());
    let (w, h, c) = (parts.next()??, parts.next()??, parts.next()??);
    (parts.next().is_none() && w > 0 && h > 0 && (c == 1 || c == 3) && w <= 4096 && h <= 4096)
        .then(|| ImageShape::new(w, h, c))
}
