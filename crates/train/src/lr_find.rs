//! The LR range test (Smith 2017, "Cyclical Learning Rates for Training Neural Networks",
//! §3.3; popularised by fastai's `lr_find`): train from the experiment's initial weights for
//! a few hundred batches while the learning rate grows exponentially from tiny to huge, record
//! the (smoothed) loss, stop once it diverges, and read a good learning rate off the curve.
//!
//! ```no_run
//! use tuna_train::experiment::Experiment;
//! use tuna_train::lr_find::{lr_find, LrFinderConfig};
//!
//! let exp = Experiment::load("examples/configs/mnist-mlp.toml".as_ref(), &[]).unwrap();
//! let ctx = tuna_data::DataContext::new(0);
//! let result = lr_find(&exp, &ctx, &LrFinderConfig::default()).unwrap();
//! println!("lr {:.2e}, one-cycle max_lr {:.2e}", result.suggested_lr, result.suggested_max_lr);
//! ```
//!
//! The experiment itself is untouched: a fresh model is built from its seed (the same initial
//! weights `tuna train` starts from), the experiment's scheduler and early stopping are
//! ignored, and nothing is written to disk.

use tuna_autograd::Tape;
use tuna_data::DataContext;

use crate::error::TrainError;
use crate::experiment::Experiment;
use crate::trainer::Trainer;

/// Settings of the LR range test.
#[derive(Clone, Debug, PartialEq)]
pub struct LrFinderConfig {
    /// The learning rate of the first batch (default 1e-7, as fastai).
    pub start_lr: f64,
    /// The learning rate of the last batch (default 10, as fastai).
    pub end_lr: f64,
    /// The number of batches of the sweep (default 100, fastai's default). The loader cycles
    /// over epochs if the training split has fewer batches.
    pub num_iter: usize,
    /// The weight of each new loss in the exponential moving average that smooths the curve:
    /// `avg = (1 - smooth) * avg + smooth * loss`, then bias-corrected by
    /// `1 - (1 - smooth)^k` after `k` batches (Adam-style debiasing, as fastai's
    /// `AvgSmoothLoss`). fastai's recorder uses `beta = 0.98`, i.e. `smooth = 0.02`; the
    /// default 0.05 (`beta = 0.95`) lags less over a sweep of only 100 batches.
    pub smooth: f64,
    /// Stop when the smoothed loss exceeds this multiple of the best smoothed loss so far
    /// (default 4, as fastai), or becomes non-finite.
    pub diverge_threshold: f64,
}

impl Default for LrFinderConfig {
    fn default() -> Self {
        LrFinderConfig {
            start_lr: 1e-7,
            end_lr: 10.0,
            num_iter: 100,
            smooth: 0.05,
            diverge_threshold: 4.0,
        }
    }
}

impl LrFinderConfig {
    fn validate(&self) -> Result<(), TrainError> {
        let bad = |m: String| Err(TrainError::Setup(format!("lr range test: {m}")));
        if !(self.start_lr.is_finite() && self.start_lr > 0.0) {
            return bad(format!("start_lr must be > 0, got {}", self.start_lr));
        }
        if !(self.end_lr.is_finite() && self.end_lr > self.start_lr) {
            return bad(format!(
                "end_lr must be finite and > start_lr ({}), got {}",
                self.start_lr, self.end_lr
            ));
        }
        if self.num_iter < 2 {
            return bad(format!(
                "num_iter must be at least 2, got {}",
                self.num_iter
            ));
        }
        if !(self.smooth > 0.0 && self.smooth <= 1.0) {
            return bad(format!("smooth must be in (0, 1], got {}", self.smooth));
        }
        if self.diverge_threshold.is_nan() || self.diverge_threshold <= 1.0 {
            return bad(format!(
                "diverge_threshold must be > 1, got {}",
                self.diverge_threshold
            ));
        }
        Ok(())
    }

    /// The learning rate of batch `i` (0-based): `start * (end/start)^(i/(num_iter-1))`, so
    /// the sweep starts at `start_lr` and ends exactly at `end_lr`.
    pub fn lr_at(&self, i: usize) -> f64 {
        let t = i as f64 / (self.num_iter - 1) as f64;
        self.start_lr * (self.end_lr / self.start_lr).powf(t)
    }
}

/// What the LR range test measured and suggests.
#[derive(Clone, Debug, PartialEq)]
pub struct LrFindResult {
    /// The learning rate of each recorded batch.
    pub lrs: Vec<f64>,
    /// The raw training loss of each batch (the loss function only, without regularizer
    /// penalties; `inf`/`NaN` possible on the last batch when it diverged).
    pub losses: Vec<f64>,
    /// The bias-corrected moving average of `losses` (see [`LrFinderConfig::smooth`]).
    pub smoothed: Vec<f64>,
    /// The lr where the smoothed loss falls fastest against `log(lr)` (fastai's `steep`).
    pub suggestion_steepest: f64,
    /// The lr half-way down the longest valley of the smoothed loss (fastai's `valley`).
    pub suggestion_valley: f64,
    /// The suggested constant lr: [`LrFindResult::suggestion_valley`], fastai's default.
    pub suggested_lr: f64,
    /// The suggested `max_lr` of OneCycleLR: one tenth of the lr where the smoothed loss is
    /// lowest (fastai's `minimum` rule; at the minimum the loss is already about to blow up,
    /// a tenth of it is the largest lr that still trains reliably), but never below
    /// [`LrFindResult::suggested_lr`] — the one-cycle peak should not sit under the lr one
    /// would train at constantly.
    pub suggested_max_lr: f64,
    /// Whether the sweep stopped before `num_iter` batches because the loss diverged.
    pub stopped_early: bool,
}

/// Bias-corrected exponential moving average of `losses` with new-value weight `smooth`.
/// A non-finite loss makes the rest of the average non-finite.
pub fn smooth_losses(losses: &[f64], smooth: f64) -> Vec<f64> {
    let beta = 1.0 - smooth;
    let mut avg = 0.0;
    let mut out = Vec::with_capacity(losses.len());
    for (k, &l) in losses.iter().enumerate() {
        avg = beta * avg + smooth * l;
        out.push(avg / (1.0 - beta.powi(k as i32 + 1)));
    }
    out
}

/// The part of the curve the suggestions look at: fastai drops the first `num_iter / 10`
/// points (the loss has not started moving) and the last 5 (the divergence). With too few
/// points left, everything is used.
fn trimmed(n: usize, num_iter: usize) -> (usize, usize) {
    let lo = num_iter / 10;
    let hi = n.saturating_sub(5);
    if hi >= lo + 3 {
        (lo, hi)
    } else {
        (0, n)
    }
}

/// fastai's `steep` suggestion: the lr (the left point of the segment) where the slope of
/// `losses` against `ln(lr)` is most negative. `lrs` and `losses` are already trimmed.
pub fn steepest(lrs: &[f64], losses: &[f64]) -> Option<f64> {
    let mut best: Option<(f64, usize)> = None;
    for i in 0..lrs.len().saturating_sub(1) {
        let g = (losses[i + 1] - losses[i]) / (lrs[i + 1].ln() - lrs[i].ln());
        if g.is_finite() && best.is_none_or(|(b, _)| g < b) {
            best = Some((g, i));
        }
    }
    best.map(|(_, i)| lrs[i])
}

/// fastai's `valley` suggestion (fastai `callback/schedule.py`, `def valley`, contributed by
/// Zachary Mueller, fastai 2.4): find the longest strictly decreasing subsequence of the
/// losses (O(n²) dynamic programming, `lds[i]` = its length ending at `i`), take the span
/// `[max_end - lds[max_end], max_end]` it covers, and return the lr at
/// `start + ⌊len/3⌋ + ⌊len/6⌋` — about half-way down the valley, past the flat start and
/// well before its bottom. Returns the index into `losses` (already trimmed).
pub fn valley(losses: &[f64]) -> Option<usize> {
    let n = losses.len();
    if n == 0 {
        return None;
    }
    let mut lds = vec![1usize; n];
    // Signed like fastai's Python: a valley starting at the first point gives max_start = -1.
    let (mut max_start, mut max_end) = (0isize, 0usize);
    for i in 1..n {
        for j in 0..i {
            if losses[i] < losses[j] && lds[i] < lds[j] + 1 {
                lds[i] = lds[j] + 1;
            }
            if lds[max_end] < lds[i] {
                max_end = i;
                max_start = max_end as isize - lds[max_end] as isize;
            }
        }
    }
    let sections = (max_end as isize - max_start) as f64 / 3.0;
    let idx = max_start + sections as isize + (sections / 2.0) as isize;
    Some((idx.max(0) as usize).min(n - 1))
}

/// A sweep whose loss diverged before two finite points were recorded: no curve to read.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
#[error("the loss diverged after {batches} batch(es), too soon to read a curve; lower start_lr")]
pub struct CurveTooShort {
    /// The finite points recorded.
    pub batches: usize,
}

/// Computes the suggestions from a recorded curve (`lrs`, `smoothed`) of a sweep planned
/// over `num_iter` batches.
///
/// # Errors
/// Fewer than 2 finite points were recorded.
pub fn suggest(
    lrs: &[f64],
    smoothed: &[f64],
    num_iter: usize,
) -> Result<Suggestions, CurveTooShort> {
    // Only the finite prefix of the curve is usable.
    let n = smoothed
        .iter()
        .position(|v| !v.is_finite())
        .unwrap_or(smoothed.len())
        .min(lrs.len());
    if n < 2 {
        return Err(CurveTooShort { batches: n });
    }
    let (lo, hi) = trimmed(n, num_iter);
    let (l, s) = (&lrs[lo..hi], &smoothed[lo..hi]);
    let steep = steepest(l, s).unwrap_or(l[0]);
    let v = l[valley(s).unwrap_or(0)];
    let min_i = (0..n)
        .min_by(|&a, &b| smoothed[a].total_cmp(&smoothed[b]))
        .unwrap_or(0);
    let max_lr = (lrs[min_i] / 10.0).max(v);
    Ok(Suggestions {
        steepest: steep,
        valley: v,
        max_lr,
    })
}

/// The suggestions read off a curve by [`suggest`].
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Suggestions {
    /// See [`LrFindResult::suggestion_steepest`].
    pub steepest: f64,
    /// See [`LrFindResult::suggestion_valley`].
    pub valley: f64,
    /// See [`LrFindResult::suggested_max_lr`].
    pub max_lr: f64,
}

/// Runs the LR range test on a fresh copy of the experiment's model (see the module docs).
///
/// Each batch is a full training step as `tuna train` takes it (regularizer penalties,
/// gradient clipping, constraints, the model in training mode), with every parameter group's
/// lr set to [`LrFinderConfig::lr_at`]; the experiment's scheduler is not used. A non-finite
/// loss or gradient ends the sweep as a divergence instead of failing.
///
/// # Errors
/// Invalid settings, any error building the experiment (data, model, optimizer), or a loss
/// that diverges within the first 2 batches.
pub fn lr_find(
    exp: &Experiment,
    ctx: &DataContext,
    cfg: &LrFinderConfig,
) -> Result<LrFindResult, TrainError> {
    cfg.validate()?;
    let mut exp = exp.clone();
    exp.scheduler = None;
    exp.train.early_stopping = None;
    exp.train.signals = false;
    let mut trainer = Trainer::new(exp, ctx)?;
    let (model, params, optimizer, loader, exp, info) = trainer.step_parts();
    let setup = |what: &str, e: &dyn std::fmt::Display| TrainError::Setup(format!("{what}: {e}"));
    model.set_training(true);
    let groups = optimizer.lrs().len();
    let (mut lrs, mut losses, mut smoothed) = (Vec::new(), Vec::new(), Vec::new());
    let beta = 1.0 - cfg.smooth;
    let (mut avg, mut best) = (0.0f64, f64::INFINITY);
    let mut stopped_early = false;
    let mut epoch = 0;
    let mut it = loader.try_epoch_from(epoch, 0);
    for i in 0..cfg.num_iter {
        let batch = match it.next() {
            Some(b) => b?,
            None => {
                epoch += 1;
                it = loader.try_epoch_from(epoch, 0);
                it.next()
                    .ok_or_else(|| setup("loader", &"no training batch"))??
            }
        };
        let lr = cfg.lr_at(i);
        for g in 0..groups {
            optimizer
                .set_lr(g, lr)
                .map_err(|e| setup("optimizer", &e))?;
        }
        let loss = {
            let tape = Tape::new();
            let f = crate::trainer::step::forward_loss(
                &*model,
                exp.loss.as_ref(),
                &exp.regularizers,
                params,
                info,
                &tape,
                &batch,
            )?;
            let value = f.loss.item();
            if value.is_finite() {
                f.total.backward();
            }
            value
        };
        avg = beta * avg + cfg.smooth * loss;
        let s = avg / (1.0 - beta.powi(i as i32 + 1));
        lrs.push(lr);
        losses.push(loss);
        smoothed.push(s);
        let grads_finite = params.iter().all(|(_, p)| {
            p.grad()
                .is_none_or(|g| g.to_vec_f64().iter().all(|v| v.is_finite()))
        });
        if !s.is_finite() || !grads_finite || s > cfg.diverge_threshold * best {
            stopped_early = i + 1 < cfg.num_iter;
            optimizer.zero_grad();
            break;
        }
        best = best.min(s);
        crate::trainer::update::update(&exp.train, params, optimizer, &exp.constraints, None)?;
    }
    let sug = suggest(&lrs, &smoothed, cfg.num_iter)
        .map_err(|e| TrainError::Setup(format!("lr range test: {e}")))?;
    Ok(LrFindResult {
        lrs,
        losses,
        smoothed,
        suggestion_steepest: sug.steepest,
        suggestion_valley: sug.valley,
        suggested_lr: sug.valley,
        suggested_max_lr: sug.max_lr,
        stopped_early,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sweep(n: usize) -> Vec<f64> {
        let cfg = LrFinderConfig {
            num_iter: n,
            ..LrFinderConfig::default()
        };
        (0..n).map(|i| cfg.lr_at(i)).collect()
    }

    #[test]
    fn lr_sweep_is_exponential_from_start_to_end() {
        let lrs = sweep(100);
        assert!((lrs[0] - 1e-7).abs() < 1e-20);
        assert!((lrs[99] - 10.0).abs() < 1e-9);
        let r0 = lrs[1] / lrs[0];
        for w in lrs.windows(2) {
            assert!((w[1] / w[0] - r0).abs() < 1e-9);
        }
    }

    #[test]
    fn smoothing_is_bias_corrected() {
        // A constant loss smooths to itself from the first batch on (no pull towards 0).
        let s = smooth_losses(&[2.0; 10], 0.05);
        assert!(s.iter().all(|v| (v - 2.0).abs() < 1e-12), "{s:?}");
        // And it lags a step change.
        let s = smooth_losses(&[1.0, 1.0, 1.0, 0.0], 0.5);
        assert!(s[3] > 0.0 && s[3] < 1.0);
    }

    /// A sigmoid drop centred at log10(lr) = `centre` followed by an explosion past
    /// log10(lr) = `blow`: the steepest descent is at the centre.
    fn curve(lrs: &[f64], centre: f64, blow: f64) -> Vec<f64> {
        lrs.iter()
            .map(|lr| {
                let x = lr.log10();
                let drop = 2.0 / (1.0 + (-(x - centre) * 3.0).exp());
                let rise = if x > blow {
                    (x - blow).powi(2) * 4.0
                } else {
                    0.0
                };
                2.5 - drop + rise
            })
            .collect()
    }

    #[test]
    fn steepest_finds_the_sigmoid_centre() {
        let lrs = sweep(100);
        let losses = curve(&lrs, -3.0, 0.0);
        let s = steepest(&lrs, &losses).unwrap();
        assert!((s.log10() + 3.0).abs() < 0.1, "{s}");
        let sug = suggest(&lrs, &losses, 100).unwrap();
        assert!((sug.steepest.log10() + 3.0).abs() < 0.1, "{sug:?}");
    }

    #[test]
    fn valley_lands_inside_the_descent_before_the_bottom() {
        let lrs = sweep(100);
        let losses = curve(&lrs, -3.0, -1.0);
        let min_i = (0..100)
            .min_by(|&a, &b| losses[a].total_cmp(&losses[b]))
            .unwrap();
        let i = valley(&losses).unwrap();
        // The longest decreasing run is the whole descent, start to minimum.
        assert!(i > 0 && i < min_i, "{i} vs minimum at {min_i}");
        // fastai's index rule: start + len/3 + len/6 of the valley 0..=min_i.
        let sections = (min_i + 1) as f64 / 3.0;
        assert_eq!(i, sections as usize + (sections / 2.0) as usize - 1);
        let sug = suggest(&lrs, &losses, 100).unwrap();
        assert!(sug.valley > 1e-5 && sug.valley < lrs[min_i], "{sug:?}");
        // max_lr: a tenth of the lr at the minimum, here above the valley.
        assert!((sug.max_lr - (lrs[min_i] / 10.0).max(sug.valley)).abs() < 1e-15);
    }

    #[test]
    fn valley_picks_the_longest_valley_not_the_deepest_drop() {
        // A short steep dip, a bump, then a long gentle descent: the long one wins.
        let mut losses = vec![5.0, 1.0, 4.9];
        losses.extend((0..30).map(|k| 4.8 - 0.01 * k as f64));
        let i = valley(&losses).unwrap();
        // lds ends at the last point (length 31: 5.0, 4.9, then 29 more).
        assert!(i >= 10 && i < losses.len() - 1, "{i}");
    }

    #[test]
    fn too_short_curves_are_an_error_and_nan_tails_are_ignored() {
        assert!(suggest(&[1e-3], &[1.0], 100).is_err());
        let lrs = sweep(20);
        let mut losses = curve(&lrs, -3.0, 0.5);
        losses[15] = f64::NAN;
        let sug = suggest(&lrs[..16], &losses[..16], 20).unwrap();
        assert!(sug.valley.is_finite() && sug.steepest.is_finite() && sug.max_lr.is_finite());
    }

    #[test]
    fn config_validation() {
        let ok = LrFinderConfig::default();
        assert!(ok.validate().is_ok());
        for bad in [
            LrFinderConfig {
                start_lr: 0.0,
                ..ok.clone()
            },
            LrFinderConfig {
                end_lr: 1e-8,
                ..ok.clone()
            },
            LrFinderConfig {
                num_iter: 1,
                ..ok.clone()
            },
            LrFinderConfig {
                smooth: 0.0,
                ..ok.clone()
            },
            LrFinderConfig {
                diverge_threshold: 1.0,
                ..ok.clone()
            },
        ] {
            assert!(bad.validate().is_err(), "{bad:?}");
        }
    }
}
