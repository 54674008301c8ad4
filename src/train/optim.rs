//! Building the optimizer from the config, the learning rate of every batch and parameter,
//! and global gradient-norm clipping.
//!
//! SGD momentum follows PyTorch (dampening 0, first step's velocity = gradient); SGD's and
//! Adam's weight decay is PyTorch's L2 penalty added to the gradient, AdamW's is decoupled
//! (`p ← p·(1 − lr·wd)`, PyTorch `AdamW`). With `decay_biases_and_norms = false` the
//! one-dimensional parameters (biases, batch-norm weights and biases) get no decay, the usual
//! rule (timm's `ndim <= 1`).

use burn::lr_scheduler::module_lr_scheduler::{ModuleLearningRate, ModuleLrScheduler};
use burn::module::{ModuleVisitor, Param, ParamGroup, ParamId};
use burn::optim::decay::WeightDecayConfig;
use burn::optim::momentum::MomentumConfig;
use burn::optim::{AdamConfig, AdamWConfig, GradientsParams, ModuleOptimizer, SgdConfig};
use burn::prelude::*;

use crate::model::Model;
use augtrain_run::config::{OptimizerConfig, OptimizerKind};

/// A fresh optimizer (no state) for `cfg`, with a no-decay group for `model`'s
/// one-dimensional parameters when the config asks for it.
pub fn build(cfg: &OptimizerConfig, model: &Model) -> ModuleOptimizer {
    let optimizer = build_one(cfg, cfg.weight_decay);
    if cfg.decay_biases_and_norms || cfg.weight_decay == 0.0 {
        return optimizer;
    }
    let no_decay = ParamGroup::from_ids(one_dimensional(model));
    match cfg.kind {
        OptimizerKind::Sgd => optimizer.with_group(no_decay, sgd(cfg, 0.0).build(), None),
        OptimizerKind::Adam => optimizer.with_group(no_decay, adam(cfg, 0.0).build(), None),
        OptimizerKind::Adamw => optimizer.with_group(no_decay, adamw(cfg, 0.0).build(), None),
    }
}

/// One optimizer for every parameter with weight decay `decay`.
fn build_one(cfg: &OptimizerConfig, decay: f64) -> ModuleOptimizer {
    match cfg.kind {
        OptimizerKind::Sgd => sgd(cfg, decay).init(),
        OptimizerKind::Adam => adam(cfg, decay).init(),
        OptimizerKind::Adamw => adamw(cfg, decay).init(),
    }
}

fn l2(decay: f64) -> Option<WeightDecayConfig> {
    (decay > 0.0).then(|| WeightDecayConfig::new(decay as f32))
}

fn sgd(cfg: &OptimizerConfig, decay: f64) -> SgdConfig {
    let momentum = (cfg.momentum > 0.0).then(|| {
        MomentumConfig::new()
            .with_momentum(cfg.momentum)
            .with_dampening(0.0)
            .with_nesterov(false)
    });
    SgdConfig::new()
        .with_momentum(momentum)
        .with_weight_decay(l2(decay))
}

fn adam(cfg: &OptimizerConfig, decay: f64) -> AdamConfig {
    AdamConfig::new()
        .with_beta_1(cfg.beta1 as f32)
        .with_beta_2(cfg.beta2 as f32)
        .with_epsilon(cfg.eps as f32)
        .with_weight_decay(l2(decay))
}

fn adamw(cfg: &OptimizerConfig, decay: f64) -> AdamWConfig {
    AdamWConfig::new()
        .with_beta_1(cfg.beta1 as f32)
        .with_beta_2(cfg.beta2 as f32)
        .with_epsilon(cfg.eps as f32)
        .with_weight_decay(decay as f32)
}

/// Ids of the one-dimensional float parameters (biases, normalization weights).
fn one_dimensional(model: &Model) -> Vec<ParamId> {
    struct Collect(Vec<ParamId>);
    impl ModuleVisitor for Collect {
        fn visit_float<const D: usize>(&mut self, param: &Param<Tensor<D>>) {
            if D == 1 {
                self.0.push(param.id);
            }
        }
    }
    let mut c = Collect(Vec::new());
    model.visit(&mut c);
    c.0
}

/// The learning rates of one epoch: a base rate per batch (warmup ramps it), and, when
/// fine-tuning pretrained weights, the backbone's share of it.
#[derive(Clone)]
pub struct EpochLr {
    /// Base rate per batch of the epoch (one value: the same for every batch).
    per_batch: Vec<f64>,
    /// The head's parameters and the backbone's scale (`lr × scale` for everything else).
    backbone: Option<(ParamGroup, f64)>,
}

impl EpochLr {
    /// `lr` for every batch and parameter.
    pub fn constant(lr: f64) -> Self {
        Self {
            per_batch: vec![lr],
            backbone: None,
        }
    }

    /// Rate `per_batch[b]` for batch `b` (the last value for later batches).
    pub fn per_batch(per_batch: Vec<f64>) -> Self {
        assert!(!per_batch.is_empty(), "at least one rate");
        Self {
            per_batch,
            backbone: None,
        }
    }

    /// The same rates with every parameter but `head`'s at `scale ×` them.
    pub fn with_backbone_scale(self, head: ParamGroup, scale: f64) -> Self {
        Self {
            backbone: Some((head, scale)),
            ..self
        }
    }

    /// The base rate of batch `b`.
    pub fn base(&self, b: usize) -> f64 {
        self.per_batch[b.min(self.per_batch.len() - 1)]
    }

    /// The base rate of the epoch's last batch (what the epoch's record reports).
    pub fn last(&self) -> f64 {
        *self.per_batch.last().expect("at least one rate")
    }

    /// The rate of every parameter for batch `b`.
    pub fn at(&self, b: usize) -> ModuleLearningRate {
        let lr = self.base(b);
        match &self.backbone {
            None => lr.into(),
            Some((head, scale)) => ModuleLrScheduler::new(lr * scale)
                .with_group(head.clone(), lr)
                .step(),
        }
    }
}

/// Scale `grads` so that their global L2 norm (all parameters of `model` together) is at most
/// `max_norm`, as PyTorch's `clip_grad_norm_` (factor `max_norm / (norm + 1e-6)`, only when
/// below 1). Everything stays on the device: the factor is a one-element tensor,
/// `min(max_norm / (norm + 1e-6), 1)`, that every gradient is multiplied by (by exactly 1 when
/// the norm is under the limit), so no batch waits for a read. Returns the norm before
/// clipping as a one-element tensor (not read), or `None` when `model` has no gradient.
pub fn clip_global_norm(
    grads: &mut GradientsParams,
    model: &Model,
    max_norm: f64,
) -> Option<Tensor<1>> {
    struct SumSquares<'a> {
        grads: &'a GradientsParams,
        sum: Option<Tensor<1>>,
    }
    impl ModuleVisitor for SumSquares<'_> {
        fn visit_float<const D: usize>(&mut self, param: &Param<Tensor<D>>) {
            if let Some(g) = self.grads.get::<D>(param.id) {
                let s = g.powi_scalar(2).sum();
                self.sum = Some(match self.sum.take() {
                    Some(acc) => acc + s,
                    None => s,
                });
            }
        }
    }
    struct Scale<'a> {
        grads: &'a mut GradientsParams,
        factor: Tensor<1>,
    }
    impl ModuleVisitor for Scale<'_> {
        fn visit_float<const D: usize>(&mut self, param: &Param<Tensor<D>>) {
            if let Some(g) = self.grads.remove::<D>(param.id) {
                let factor = self.factor.clone().reshape([1; D]);
                self.grads.register(param.id, g.mul(factor));
            }
        }
    }
    let mut sums = SumSquares { grads, sum: None };
    model.visit(&mut sums);
    let norm = sums.sum?.sqrt();
    let factor = norm
        .ones_like()
        .mul_scalar(max_norm)
        .div(norm.clone().add_scalar(1e-6))
        .clamp_max(1.0);
    model.visit(&mut Scale { grads, factor });
    Some(norm)
}

#[cfg(test)]
mod tests {
    use super::*;
    use augtrain_run::config::ModelKind;

    /// The gradients of an MLP on a fixed batch, and the model.
    fn grads() -> (Model, GradientsParams) {
        let ad = Device::flex().autodiff();
        ad.seed(3);
        let shape = crate::data::ImageShape::new(4, 4, 1);
        let model = Model::new(ModelKind::Mlp, shape, 3, 8, &ad).unwrap();
        let x = Tensor::<4>::random(
            [5, 1, 4, 4],
            burn::tensor::Distribution::Normal(0.0, 1.0),
            &ad,
        );
        let loss = model.clone().forward(x).powi_scalar(2).sum();
        let grads = GradientsParams::from_grads(loss.backward(), &model);
        (model, grads)
    }

    /// Every gradient of `model` in `grads`, flattened, in visiting order.
    fn values(model: &Model, grads: &GradientsParams) -> Vec<f32> {
        struct Collect<'a>(&'a GradientsParams, Vec<f32>);
        impl ModuleVisitor for Collect<'_> {
            fn visit_float<const D: usize>(&mut self, param: &Param<Tensor<D>>) {
                if let Some(g) = self.0.get::<D>(param.id) {
                    self.1.extend(g.into_data().try_to_vec::<f32>().unwrap());
                }
            }
        }
        let mut c = Collect(grads, Vec::new());
        model.visit(&mut c);
        c.1
    }

    #[test]
    fn clipping_scales_to_the_limit_on_the_device_and_leaves_small_gradients_alone() {
        let (model, mut g) = grads();
        let before = values(&model, &g);
        let norm = before
            .iter()
            .map(|v| (*v as f64).powi(2))
            .sum::<f64>()
            .sqrt();
        assert!(norm > 0.5, "{norm}");
        // Under the limit: multiplied by exactly 1.
        let got = clip_global_norm(&mut g, &model, norm * 2.0).unwrap();
        let got = got.into_data().try_to_vec::<f32>().unwrap()[0] as f64;
        assert!((got - norm).abs() <= 1e-5 * norm, "{got} {norm}");
        let same = values(&model, &g);
        assert!(
            before
                .iter()
                .zip(&same)
                .all(|(a, b)| a.to_bits() == b.to_bits())
        );
        // Over it: PyTorch's factor max_norm / (norm + 1e-6).
        clip_global_norm(&mut g, &model, 0.5).unwrap();
        let factor = 0.5 / (norm + 1e-6);
        for (a, b) in before.iter().zip(values(&model, &g)) {
            assert!(
                ((*a as f64) * factor - b as f64).abs() <= 1e-6 * (a.abs() as f64 + 1e-3),
                "{a} {b}"
            );
        }
    }
}
