//! The flags naming the model that embeds (`embed`, and `audit` when it computes embeddings).

use std::path::{Path, PathBuf};

use clap::Args;

use super::data_args::LoadArgs;
use crate::Error;
use crate::embedding::Embedded;
use crate::train::embed::{EmbedSettings, EmbeddingModel, embed_dataset};
use crate::train::progress::Reporter;
use augtrain_run::config::DeviceChoice;
use augtrain_run::config::ModelKind;

/// Which model embeds: a trained run's, or a weights file's backbone.
#[derive(Args, Debug, Clone)]
pub struct EmbedModelArgs {
    /// Embed with the backbone of a trained run (its preprocessing included).
    #[arg(long, conflicts_with = "pretrained")]
    pub run: Option<PathBuf>,
    /// Embed with the backbone of this weights file (.pth, .pt, .safetensors), e.g. the
    /// ImageNet-pretrained EfficientNet-Lite0.
    #[arg(long, requires = "model")]
    pub pretrained: Option<PathBuf>,
    /// The architecture of --pretrained (e.g. efficientnet-lite0, resnet18).
    #[arg(long, requires = "pretrained")]
    pub model: Option<ModelKind>,
    /// Images per forward pass.
    #[arg(long, default_value_t = 32)]
    pub embed_batch: usize,
    /// Compute device for the model (default auto).
    #[arg(long, default_value = "auto")]
    pub device: DeviceChoice,
}

impl EmbedModelArgs {
    /// Whether a model was named.
    pub fn given(&self) -> bool {
        self.run.is_some() || self.pretrained.is_some()
    }

    /// The embedding settings these flags name; a usage error when they name no model.
    pub fn settings(&self) -> crate::Result<EmbedSettings> {
        let model = match (&self.run, &self.pretrained, self.model) {
            (Some(run), _, _) => EmbeddingModel::Run(run.clone()),
            (None, Some(file), Some(kind)) => EmbeddingModel::Pretrained {
                weights: file.clone(),
                kind,
            },
            _ => {
                return Err(Error::Usage(
                    "give --pretrained FILE --model ARCH, or --run DIR".into(),
                ));
            }
        };
        Ok(EmbedSettings {
            model,
            batch_size: self.embed_batch,
            device: self.device,
        })
    }

    /// Embed every image of `data` ([`embed_dataset`]) with the loading flags of `load`, whose
    /// `--size` and `--channels` must be left out (they come from the model).
    pub fn embed(
        &self,
        data: &Path,
        load: &LoadArgs,
        reporter: &Reporter,
    ) -> crate::Result<Embedded> {
        if load.size.is_some() || load.channels.is_some() {
            return Err(Error::Usage(
                "--size and --channels come from the model when embedding; leave them out".into(),
            ));
        }
        let settings = self.settings()?;
        let opts = load.config(Some(data.to_path_buf()))?;
        embed_dataset(&settings, data, opts, load.resize.is_some(), reporter)
    }
}
