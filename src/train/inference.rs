//! A trained run, loaded for inference: its config, model card, model (validation mode) and
//! evaluation augmenter. `eval` and `predict` use it.

use super::config::TrainConfig;
use super::evaluate::{Evaluation, evaluate};
use super::trainer::{augmenters, build_model, resolve_pipeline};
use super::{TrainError, weights};
use crate::augment::Augmenter;
use crate::data::Dataset;
use crate::device::ComputeDevice;
use crate::model::Model;
use augtrain_run::records::ModelCard;
use augtrain_run::run_dir::RunDir;

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

    /// Evaluate on `data` (already labelled against the model's classes) on `device`.
    pub fn evaluate(
        &self,
        data: &Dataset,
        device: &ComputeDevice,
        keep_probabilities: bool,
    ) -> Result<Evaluation, TrainError> {
        evaluate(
            &self.model,
            data,
            &self.aug,
            self.cfg.eval_batch_size(),
            &self.cfg,
            &device.device,
            keep_probabilities,
        )
    }
}
