//! Building the optimizer from the config. SGD momentum follows PyTorch (dampening 0, first
//! step's velocity = gradient); weight decay is PyTorch's L2 penalty added to the gradient.

use burn::optim::decay::WeightDecayConfig;
use burn::optim::momentum::MomentumConfig;
use burn::optim::{AdamConfig, ModuleOptimizer, SgdConfig};

use super::config::{OptimizerConfig, OptimizerKind};

/// A fresh optimizer (no state) for `cfg`.
pub fn build(cfg: &OptimizerConfig) -> ModuleOptimizer {
    let decay = (cfg.weight_decay > 0.0).then(|| WeightDecayConfig::new(cfg.weight_decay as f32));
    match cfg.kind {
        OptimizerKind::Sgd => {
            let momentum = (cfg.momentum > 0.0).then(|| {
                MomentumConfig::new()
                    .with_momentum(cfg.momentum)
                    .with_dampening(0.0)
                    .with_nesterov(false)
            });
            SgdConfig::new()
                .with_momentum(momentum)
                .with_weight_decay(decay)
                .init()
        }
        OptimizerKind::Adam => AdamConfig::new()
            .with_beta_1(cfg.beta1 as f32)
            .with_beta_2(cfg.beta2 as f32)
            .with_epsilon(cfg.eps as f32)
            .with_weight_decay(decay)
            .init(),
    }
}
