//! Dawid-Skene: one confusion matrix per annotator and the true-class probabilities of every
//! image, fitted by expectation-maximization, exactly as crowd-kit's `DawidSkene(n_iter=100,
//! tol=1e-5)`:
//!
//! - Only the classes somebody used take part (crowd-kit never sees the others); their
//!   probability in [`DawidSkene::probs`] is 0.
//! - Start: each image's vote shares (crowd-kit's `MajorityVote` probabilities); priors are
//!   the mean of the image probabilities, then an M-step.
//! - M-step: `error[a][given][true]` sums the probabilities of the images annotator `a` labelled
//!   `given`, is clipped below at 1e-10 and normalized over the classes `a` used (classes an
//!   annotator never gave have no row and probability 0).
//! - E-step: in base 2, `log prior + Σ log error`, shifted by the row maximum, exponentiated and
//!   normalized; priors clipped below at 1e-10.
//! - Stop after the iteration whose evidence lower bound (per label) improved by less than the
//!   tolerance, or after `iterations`. As in crowd-kit, the returned probabilities are clipped
//!   below at 1e-10 (not renormalized) and the label is the first most probable class.
//!
//! Cost per iteration: O(labels · classes), in parallel over images; memory O(images · classes).

use rayon::prelude::*;
use serde::Serialize;

use super::{LabelMatrix, argmax};

/// crowd-kit's clipping bound (`_EPS = 10**-10`).
const EPS: f64 = 1e-10;

/// Settings of the EM (crowd-kit's defaults).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Settings {
    /// Maximum EM iterations (`n_iter`, 100).
    pub iterations: usize,
    /// Stop when the evidence lower bound gains less (`tol`, 1e-5).
    pub tolerance: f64,
}

impl Default for Settings {
    fn default() -> Self {
        Self {
            iterations: 100,
            tolerance: 1e-5,
        }
    }
}

/// The fitted model.
#[derive(Clone, Debug, Serialize)]
pub struct DawidSkene {
    /// Classes in the matrix.
    pub k: usize,
    /// Row-major `images × k` true-class probabilities.
    pub probs: Vec<f64>,
    /// Most probable class per image.
    pub labels: Vec<usize>,
    /// Class priors (`k`, 0 for classes nobody used).
    pub priors: Vec<f64>,
    /// Per annotator, row-major `k × k` `[given][true]`: P(annotator says `given` | true).
    pub errors: Vec<Vec<f64>>,
    /// Evidence lower bound per label after each iteration.
    pub loss_history: Vec<f64>,
}

/// Working state over the `kp` classes in use.
struct Fit<'a> {
    m: &'a LabelMatrix,
    /// Class in use → position among them, for every label.
    pos: Vec<usize>,
    kp: usize,
}

/// Fits Dawid-Skene to `m` (see the module docs).
pub fn fit(m: &LabelMatrix, settings: Settings) -> DawidSkene {
    let used = m.classes_used();
    let mut pos = vec![usize::MAX; m.n_classes()];
    for (p, &c) in used.iter().enumerate() {
        pos[c] = p;
    }
    let f = Fit {
        m,
        pos,
        kp: used.len(),
    };
    let mut probs = f.vote_shares();
    let mut priors = f.mean_rows(&probs);
    let mut errors = f.m_step(&probs);
    let mut loss = f64::NEG_INFINITY;
    let mut history = Vec::new();
    for _ in 0..settings.iterations {
        clip(&mut priors);
        probs = f.e_step(&priors, &errors);
        priors = f.mean_rows(&probs);
        errors = f.m_step(&probs);
        clip(&mut priors);
        let joint = f.joint_expectation(&probs, &priors, &errors);
        clip(&mut probs);
        let entropy: f64 = -probs.par_iter().map(|&p| p.ln() * p).sum::<f64>();
        let new_loss = (joint + entropy) / m.n_labels() as f64;
        history.push(new_loss);
        if new_loss - loss < settings.tolerance {
            break;
        }
        loss = new_loss;
    }
    f.expand(probs, priors, errors, history, &used)
}

fn clip(v: &mut [f64]) {
    v.iter_mut().for_each(|x| *x = x.max(EPS));
}

impl Fit<'_> {
    fn vote_shares(&self) -> Vec<f64> {
        let kp = self.kp;
        let mut probs = vec![0.0; self.m.n_images() * kp];
        probs.par_chunks_mut(kp).enumerate().for_each(|(i, row)| {
            let labels = self.m.row(i);
            for e in labels {
                row[self.pos[e.class as usize]] += 1.0;
            }
            let n = labels.len() as f64;
            row.iter_mut().for_each(|v| *v /= n);
        });
        probs
    }

    fn mean_rows(&self, probs: &[f64]) -> Vec<f64> {
        let kp = self.kp;
        let sums = probs
            .par_chunks(kp * 4096)
            .map(|block| {
                let mut s = vec![0.0; kp];
                for row in block.chunks_exact(kp) {
                    s.iter_mut().zip(row).for_each(|(a, b)| *a += b);
                }
                s
            })
            .reduce(
                || vec![0.0; kp],
                |mut a, b| {
                    a.iter_mut().zip(&b).for_each(|(x, y)| *x += y);
                    a
                },
            );
        let n = self.m.n_images() as f64;
        sums.into_iter().map(|s| s / n).collect()
    }

    /// `errors[a][given * kp + true]`, normalized over the classes `a` used.
    fn m_step(&self, probs: &[f64]) -> Vec<Vec<f64>> {
        let (kp, na) = (self.kp, self.m.n_annotators());
        let zero = || (vec![vec![0.0; kp * kp]; na], vec![vec![false; kp]; na]);
        let (mut err, used) = (0..self.m.n_images())
            .into_par_iter()
            .fold(zero, |(mut err, mut used), i| {
                let p = &probs[i * kp..(i + 1) * kp];
                for e in self.m.row(i) {
                    let (a, g) = (e.annotator as usize, self.pos[e.class as usize]);
                    used[a][g] = true;
                    let r = &mut err[a][g * kp..(g + 1) * kp];
                    r.iter_mut().zip(p).for_each(|(x, y)| *x += y);
                }
                (err, used)
            })
            .reduce(zero, |(mut e1, mut u1), (e2, u2)| {
                for a in 0..na {
                    e1[a].iter_mut().zip(&e2[a]).for_each(|(x, y)| *x += y);
                    u1[a].iter_mut().zip(&u2[a]).for_each(|(x, y)| *x |= y);
                }
                (e1, u1)
            });
        for (e, u) in err.iter_mut().zip(&used) {
            for t in 0..kp {
                let mut total = 0.0;
                for g in (0..kp).filter(|&g| u[g]) {
                    e[g * kp + t] = e[g * kp + t].max(EPS);
                    total += e[g * kp + t];
                }
                for g in (0..kp).filter(|&g| u[g]) {
                    e[g * kp + t] /= total;
                }
            }
        }
        err
    }

    fn e_step(&self, priors: &[f64], errors: &[Vec<f64>]) -> Vec<f64> {
        let kp = self.kp;
        let log_err: Vec<Vec<f64>> = errors
            .iter()
            .map(|e| e.iter().map(|v| v.log2()).collect())
            .collect();
        let log_prior: Vec<f64> = priors.iter().map(|p| p.log2()).collect();
        let mut probs = vec![0.0; self.m.n_images() * kp];
        probs.par_chunks_mut(kp).enumerate().for_each(|(i, row)| {
            row.copy_from_slice(&log_prior);
            for e in self.m.row(i) {
                let g = self.pos[e.class as usize];
                let l = &log_err[e.annotator as usize][g * kp..(g + 1) * kp];
                row.iter_mut().zip(l).for_each(|(x, y)| *x += y);
            }
            let top = row.iter().copied().fold(f64::NEG_INFINITY, f64::max);
            row.iter_mut().for_each(|x| *x = (*x - top).exp2());
            let s: f64 = row.iter().sum();
            row.iter_mut().for_each(|x| *x /= s);
        });
        probs
    }

    /// Σ over labels and classes of P(image is class t) · (ln error + ln prior).
    fn joint_expectation(&self, probs: &[f64], priors: &[f64], errors: &[Vec<f64>]) -> f64 {
        let kp = self.kp;
        let log_prior: Vec<f64> = priors.iter().map(|p| p.ln()).collect();
        let table: Vec<Vec<f64>> = errors
            .iter()
            .map(|e| {
                e.iter()
                    .enumerate()
                    .map(|(j, v)| v.ln() + log_prior[j % kp])
                    .collect()
            })
            .collect();
        (0..self.m.n_images())
            .into_par_iter()
            .map(|i| {
                let p = &probs[i * kp..(i + 1) * kp];
                self.m
                    .row(i)
                    .iter()
                    .map(|e| {
                        let g = self.pos[e.class as usize];
                        let l = &table[e.annotator as usize][g * kp..(g + 1) * kp];
                        p.iter().zip(l).map(|(a, b)| a * b).sum::<f64>()
                    })
                    .sum::<f64>()
            })
            .sum()
    }

    /// Back from the classes in use to all classes.
    fn expand(
        &self,
        probs: Vec<f64>,
        priors: Vec<f64>,
        errors: Vec<Vec<f64>>,
        loss_history: Vec<f64>,
        used: &[usize],
    ) -> DawidSkene {
        let (k, kp) = (self.m.n_classes(), self.kp);
        let mut full = vec![0.0; self.m.n_images() * k];
        full.par_chunks_mut(k)
            .zip(probs.par_chunks(kp))
            .for_each(|(row, p)| used.iter().zip(p).for_each(|(&c, &v)| row[c] = v));
        let labels = probs.par_chunks(kp).map(|p| used[argmax(p)]).collect();
        let mut full_priors = vec![0.0; k];
        used.iter()
            .zip(&priors)
            .for_each(|(&c, &v)| full_priors[c] = v);
        let full_errors = errors
            .iter()
            .map(|e| {
                let mut out = vec![0.0; k * k];
                for (g, &cg) in used.iter().enumerate() {
                    for (t, &ct) in used.iter().enumerate() {
                        out[cg * k + ct] = e[g * kp + t];
                    }
                }
                out
            })
            .collect();
        DawidSkene {
            k,
            probs: full,
            labels,
            priors: full_priors,
            errors: full_errors,
            loss_history,
        }
    }
}
