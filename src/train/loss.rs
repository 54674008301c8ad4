//! Losses on logits against target distributions `[batch, classes]` (one-hot for plain labels,
//! soft for mixup / cutmix).
//!
//! - cross-entropy: `−Σ_c t_c · log softmax(z)_c` per sample, then the mean over the batch; with
//!   class weights `w`, each sample is weighted by `Σ_c w_c t_c` and the sum is divided by the
//!   sum of those weights (PyTorch's weighted mean for one-hot targets);
//! - MSE: `mean((softmax(z) − t)²)` over all batch × class entries (PyTorch `MSELoss`).

use burn::tensor::activation::{log_softmax, softmax};
use burn::tensor::{Device, Tensor, TensorData};

use crate::augment::MixParams;
use augtrain_run::config::LossKind;

/// Target distributions for a batch: one-hot rows, mixed per `mix` when given.
pub fn target_rows(labels: &[u32], mix: Option<&[MixParams]>, classes: usize) -> Vec<f32> {
    let mut t = vec![0f32; labels.len() * classes];
    for (i, &y) in labels.iter().enumerate() {
        let row = &mut t[i * classes..(i + 1) * classes];
        match mix.and_then(|m| m.get(i)) {
            Some(m) if m.partner as usize != i => {
                row[y as usize] += m.lambda;
                row[labels[m.partner as usize] as usize] += 1.0 - m.lambda;
            }
            _ => row[y as usize] = 1.0,
        }
    }
    t
}

/// Label smoothing (PyTorch's `label_smoothing`): every target row `t` becomes
/// `(1 − eps)·t + eps / classes`. Rows still sum to 1; with `eps = 0` nothing changes.
pub fn smooth(targets: &mut [f32], classes: usize, eps: f64) {
    if eps <= 0.0 || classes == 0 {
        return;
    }
    let (keep, spread) = ((1.0 - eps) as f32, (eps / classes as f64) as f32);
    for t in targets.iter_mut() {
        *t = keep * *t + spread;
    }
}

/// What a batch's loss is a mean over, for combining shards of one batch: its rows, or with
/// class weights the sum of its rows' weights `Σ_c w_c t_c` (the denominator of [`loss`]'s
/// weighted mean).
pub fn batch_weight(targets: &[f32], classes: usize, class_weights: Option<&[f32]>) -> f64 {
    match class_weights {
        None => (targets.len() / classes.max(1)) as f64,
        Some(w) => targets
            .chunks_exact(classes)
            .map(|row| row.iter().zip(w).map(|(a, b)| a * b).sum::<f32>() as f64)
            .sum(),
    }
}

/// The loss (a one-element tensor) of `logits` against `targets` (`[batch, classes]` rows
/// summing to 1), optionally with per-class weights.
pub fn loss(
    kind: LossKind,
    logits: Tensor<2>,
    targets: &[f32],
    class_weights: Option<&[f32]>,
    device: &Device,
) -> Tensor<1> {
    let [batch, classes] = logits.dims();
    let t = Tensor::<2>::from_data(TensorData::new(targets.to_vec(), [batch, classes]), device);
    match kind {
        LossKind::CrossEntropy => {
            let per_sample: Tensor<2> = (t * log_softmax(logits, 1)).sum_dim(1).neg();
            match class_weights {
                None => per_sample.mean(),
                Some(w) => {
                    let sw: Vec<f32> = targets
                        .chunks_exact(classes)
                        .map(|row| row.iter().zip(w).map(|(a, b)| a * b).sum())
                        .collect();
                    let total: f32 = sw.iter().sum();
                    let sw = Tensor::<2>::from_data(TensorData::new(sw, [batch, 1]), device);
                    (per_sample * sw)
                        .sum()
                        .div_scalar(total.max(f32::MIN_POSITIVE))
                }
            }
        }
        LossKind::Mse => (softmax(logits, 1) - t).powi_scalar(2).mean(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn targets_mix_labels() {
        let mix = [
            MixParams {
                partner: 1,
                lambda: 0.75,
                rect: [0; 4],
            },
            MixParams {
                partner: 1,
                lambda: 1.0,
                rect: [0; 4],
            },
        ];
        let t = target_rows(&[0, 2], Some(&mix), 3);
        assert_eq!(t, vec![0.75, 0.0, 0.25, 0.0, 0.0, 1.0]);
    }

    #[test]
    fn label_smoothing_matches_pytorch() {
        // torch.nn.functional.cross_entropy(torch.tensor([[1., 2., 0.5]]), torch.tensor([1]),
        // label_smoothing=0.1) = 0.5477021336555481
        let mut t = target_rows(&[1], None, 3);
        smooth(&mut t, 3, 0.1);
        assert!((t.iter().sum::<f32>() - 1.0).abs() < 1e-6);
        let device = Device::flex();
        let logits =
            Tensor::<2>::from_data(TensorData::new(vec![1.0f32, 2.0, 0.5], [1, 3]), &device);
        let l: f32 = loss(LossKind::CrossEntropy, logits, &t, None, &device).into_scalar();
        assert!((l - 0.547_702_1).abs() < 1e-5, "{l}");
    }

    #[test]
    fn cross_entropy_matches_hand_computation() {
        let device = Device::flex();
        let logits = Tensor::<2>::from_data(
            TensorData::new(vec![1.0f32, 2.0, 0.5, 0.0], [2, 2]),
            &device,
        );
        let t = target_rows(&[1, 0], None, 2);
        let l: f32 = loss(LossKind::CrossEntropy, logits.clone(), &t, None, &device).into_scalar();
        let ce = |z: [f64; 2], y: usize| -> f64 {
            let m = z[0].max(z[1]);
            let lse = m + ((z[0] - m).exp() + (z[1] - m).exp()).ln();
            lse - z[y]
        };
        let expect = (ce([1.0, 2.0], 1) + ce([0.5, 0.0], 0)) / 2.0;
        assert!((l as f64 - expect).abs() < 1e-6, "{l} vs {expect}");
        // Class weights: PyTorch's weighted mean.
        let w = [1.0f32, 3.0];
        let lw: f32 = loss(
            LossKind::CrossEntropy,
            logits.clone(),
            &t,
            Some(&w),
            &device,
        )
        .into_scalar();
        let expect_w = (3.0 * ce([1.0, 2.0], 1) + ce([0.5, 0.0], 0)) / 4.0;
        assert!((lw as f64 - expect_w).abs() < 1e-6, "{lw} vs {expect_w}");
        let m: f32 = loss(LossKind::Mse, logits, &t, None, &device).into_scalar();
        let p0 = 1.0 / (1.0 + (1.0f64).exp()); // softmax([1,2])[0]
        let p1 = 1.0 / (1.0 + (-0.5f64).exp()); // softmax([0.5,0])[0]
        let expect_m = (2.0 * p0 * p0 + 2.0 * (1.0 - p1) * (1.0 - p1)) / 4.0;
        assert!((m as f64 - expect_m).abs() < 1e-6, "{m} vs {expect_m}");
    }
}
