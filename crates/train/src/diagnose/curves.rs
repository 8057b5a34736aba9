//! Detectors on the learning curves: divergence (non-finite or runaway loss), a learning rate
//! too high or too low, over-fitting, and under-fitting told apart as a model too small or
//! training too short.

use super::cause::severity_of_cost;
use super::context::{is_non_finite, RunContext};
use super::fixes;
use super::{Finding, Severity};
use crate::record::EpochRecord;
use crate::signals::{ClassStats, EpochSignals};

/// Share of validation loss a later epoch must gain over an epoch for that epoch not to count
/// as the start of a stall.
pub const STALL_GAIN: f64 = 0.02;
/// Relative drop of training loss after the stall start that makes it over-fitting.
pub const TRAIN_STILL_FALLING: f64 = 0.05;
/// Validation loss this far above its (smoothed) minimum counts as rising.
pub const VAL_RISE: f64 = 0.05;
/// A validation loss this many times the training loss is a wide generalization gap ...
pub const GAP_RATIO: f64 = 1.5;
/// ... when the gap is also at least this share of the reference loss (`ln C` for C classes).
pub const GAP_OF_REFERENCE: f64 = 0.1;
/// Stalled validation with `train_accuracy - val_accuracy` above this is over-fitting.
pub const ACCURACY_GAP: f64 = 0.1;
/// A loss above this multiple of the reference loss (predicting nothing) has run away.
pub const RUNAWAY: f64 = 10.0;
/// A median update/weight ratio below this is "lr too low".
pub const TINY_UPDATE: f64 = 1e-5;
/// Final train accuracy below this is "poor" (under-fitting).
pub const POOR_ACCURACY: f64 = 0.8;
/// Relative fall of the training loss per epoch over the last epochs above which training
/// is still making progress ("too short").
pub const STILL_FALLING: f64 = 0.03;

pub(crate) fn fmt(v: f64) -> String {
    if !v.is_finite() {
        return format!("{v}");
    }
    let a = v.abs();
    if a != 0.0 && !(1e-3..1e4).contains(&a) {
        format!("{v:.2e}")
    } else {
        format!("{v:.4}")
    }
}

pub(crate) fn series(records: &[EpochRecord], key: &str) -> Vec<f64> {
    records
        .iter()
        .map(|r| r.get(key).unwrap_or(f64::NAN))
        .collect()
}

/// Centered moving average over `2 * half + 1` epochs (shorter at the ends).
pub(crate) fn smooth(v: &[f64], half: usize) -> Vec<f64> {
    (0..v.len())
        .map(|i| {
            let lo = i.saturating_sub(half);
            let hi = (i + half + 1).min(v.len());
            let w = &v[lo..hi];
            w.iter().sum::<f64>() / w.len() as f64
        })
        .collect()
}

pub(crate) fn mean(v: &[f64]) -> f64 {
    v.iter().sum::<f64>() / v.len().max(1) as f64
}

pub(crate) fn median(mut v: Vec<f64>) -> Option<f64> {
    v.retain(|x| x.is_finite());
    if v.is_empty() {
        return None;
    }
    v.sort_by(|a, b| a.total_cmp(b));
    Some(v[v.len() / 2])
}

/// Least-squares slope of `v` per epoch.
pub(crate) fn slope(v: &[f64]) -> f64 {
    let n = v.len() as f64;
    if v.len() < 2 {
        return 0.0;
    }
    let mx = (n - 1.0) / 2.0;
    let my = mean(v);
    let (mut num, mut den) = (0.0, 0.0);
    for (i, y) in v.iter().enumerate() {
        num += (i as f64 - mx) * (y - my);
        den += (i as f64 - mx).powi(2);
    }
    num / den
}

pub(crate) fn best_epoch(records: &[EpochRecord]) -> Option<usize> {
    let key = if records.iter().any(|r| r.get("val_loss").is_some()) {
        "val_loss"
    } else {
        "train_loss"
    };
    records
        .iter()
        .filter_map(|r| r.get(key).filter(|v| v.is_finite()).map(|v| (r.epoch, v)))
        .min_by(|a, b| a.1.total_cmp(&b.1))
        .map(|(e, _)| e)
}

/// The median update/weight ratio of the weight matrices over `signals`.
pub(crate) fn median_update_ratio(signals: &[EpochSignals]) -> Option<f64> {
    median(
        signals
            .iter()
            .flat_map(|s| {
                s.params
                    .iter()
                    .filter(|(n, p)| n.ends_with("weight") && p.numel > 1)
                    .map(|(_, p)| p.update_ratio.0)
            })
            .filter(|r| *r > 0.0)
            .collect(),
    )
}

/// A run's curves, read once for every detector.
pub(crate) struct View<'a> {
    pub records: &'a [EpochRecord],
    pub signals: &'a [EpochSignals],
    pub ctx: &'a RunContext,
    pub train: Vec<f64>,
    /// Empty without a validation split.
    pub val: Vec<f64>,
    /// Empty when accuracy is not recorded.
    pub train_acc: Vec<f64>,
    pub val_acc: Vec<f64>,
    /// The loss of predicting nothing ([`RunContext::reference_loss`]).
    pub reference: Option<f64>,
    /// Whether the run diverged (non-finite or runaway loss): the evidence, if it did.
    pub divergence: Option<Vec<String>>,
}

fn present(v: Vec<f64>) -> Vec<f64> {
    if v.iter().all(|x| x.is_nan()) {
        Vec::new()
    } else {
        v
    }
}

impl<'a> View<'a> {
    pub fn new(
        records: &'a [EpochRecord],
        signals: &'a [EpochSignals],
        ctx: &'a RunContext,
    ) -> Self {
        let mut v = View {
            records,
            signals,
            ctx,
            train: series(records, "train_loss"),
            val: present(series(records, "val_loss")),
            train_acc: present(series(records, "train_accuracy")),
            val_acc: present(series(records, "val_accuracy")),
            reference: ctx.reference_loss(),
            divergence: None,
        };
        v.divergence = divergence_evidence(&v);
        v
    }

    /// Whether every recorded loss is finite and the run did not diverge.
    pub fn finite(&self) -> bool {
        self.divergence.is_none() && !self.train.is_empty()
    }

    /// The last value of the validation accuracy, else the training accuracy.
    pub fn last_accuracy(&self) -> Option<f64> {
        self.val_acc
            .last()
            .or(self.train_acc.last())
            .copied()
            .filter(|a| a.is_finite())
    }

    /// The mean per-class validation recall (balanced accuracy) at the last epoch: from its
    /// class counts, else from the `val_recall` metric (macro-averaged) when it is recorded.
    pub fn balanced_recall(&self) -> Option<f64> {
        let probed = self
            .signals
            .last()
            .and_then(|s| s.val_classes.as_ref())
            .and_then(ClassStats::balanced_recall);
        probed.or_else(|| {
            self.records
                .last()?
                .get("val_recall")
                .filter(|r| r.is_finite())
        })
    }

    /// How far above chance a balanced recall must be to show learning: two standard errors
    /// of the mean of the per-class recalls at chance, `2 sqrt(sum_c p(1-p)/n_c) / C` with
    /// `p = 1/C` and `n_c` each class's validation samples (from the training split's class
    /// shares); at least 0.02.
    fn chance_margin(&self, classes: usize) -> f64 {
        let Some(p) = self.ctx.profile.as_ref() else {
            return 0.02;
        };
        let counts = &p.target.class_counts;
        let total: usize = counts.iter().sum();
        if total == 0 || p.validation_samples == 0 {
            return 0.02;
        }
        let chance = 1.0 / classes as f64;
        let var: f64 = counts
            .iter()
            .map(|&k| {
                let n = (p.validation_samples as f64 * k as f64 / total as f64).max(1.0);
                chance * (1.0 - chance) / n
            })
            .sum();
        (2.0 * var.sqrt() / classes as f64).max(0.02)
    }

    /// Whether the model learned next to nothing: a balanced accuracy within noise of chance
    /// (every class counts, so a minority class that is partly learned counts as learning),
    /// else accuracy at the level of always predicting the most common class, or a loss still
    /// at the reference loss.
    pub fn learned_nothing(&self) -> bool {
        if let Some(b) = self.balanced_recall() {
            let classes = self.ctx.num_classes().unwrap_or(2).max(1);
            return b <= 1.0 / classes as f64 + self.chance_margin(classes);
        }
        if let (Some(acc), Some(major)) = (self.last_accuracy(), self.ctx.majority_share()) {
            return acc <= major + 0.02;
        }
        match (self.train.last(), self.reference) {
            (Some(l), Some(r)) => *l >= 0.95 * r,
            _ => false,
        }
    }
}

/// The divergence evidence: a non-finite loss (in the metrics or the error the run stopped
/// with), a loss far above the reference loss, or a training loss that climbed back well
/// above its minimum.
fn divergence_evidence(v: &View<'_>) -> Option<Vec<String>> {
    let mut ev = Vec::new();
    if let Some(r) = v.records.iter().find(|r| {
        r.get("train_loss").is_some_and(|x| !x.is_finite())
            || r.get("val_loss").is_some_and(|x| !x.is_finite())
    }) {
        ev.push(format!(
            "epoch {}: the loss is non-finite (NaN/inf)",
            r.epoch
        ));
    }
    if let Some(e) = v.ctx.error.as_deref().filter(|e| is_non_finite(e)) {
        ev.push(format!("the run stopped with: {e}"));
    }
    let finite: Vec<(usize, f64)> = v
        .records
        .iter()
        .flat_map(|r| [r.get("train_loss"), r.get("val_loss")].map(|x| (r.epoch, x)))
        .filter_map(|(e, x)| x.filter(|x| x.is_finite()).map(|x| (e, x)))
        .collect();
    if let Some(reference) = v.reference.filter(|r| *r > 0.0) {
        if let Some((e, x)) = finite
            .iter()
            .copied()
            .filter(|(_, x)| *x > RUNAWAY * reference)
            .max_by(|a, b| a.1.total_cmp(&b.1))
        {
            ev.push(format!(
                "epoch {e}: loss {} is {:.0}x the loss of predicting nothing ({}): it ran away",
                fmt(x),
                x / reference,
                fmt(reference)
            ));
        }
    }
    let train: Vec<f64> = v.train.iter().copied().filter(|x| x.is_finite()).collect();
    let min = train.iter().copied().fold(f64::INFINITY, f64::min);
    if train.len() >= 3 && train[train.len() - 1] > 3.0 * min && train[train.len() - 1] > train[0] {
        ev.push(format!(
            "train_loss rose from a minimum of {} to {} at epoch {}",
            fmt(min),
            fmt(train[train.len() - 1]),
            v.records.len()
        ));
    }
    (!ev.is_empty()).then_some(ev)
}

/// Every curve detector.
pub(crate) fn detect(v: &View<'_>) -> Vec<Finding> {
    let mut out = Vec::new();
    if let Some(ev) = &v.divergence {
        let mut f = Finding::new(
            "divergence",
            Severity::Severe,
            "training diverged: the loss became non-finite or ran away",
        );
        f.evidence = ev.clone();
        out.push(f);
    }
    out.extend(lr_too_high(v));
    out.extend(lr_too_low(v));
    if v.finite() {
        out.extend(overfitting(v));
        out.extend(underfitting(v));
    }
    out
}

/// The knob in control of the lr, named with its value.
fn lr_name(ctx: &RunContext) -> String {
    match ctx.lr_knob() {
        Some((k, v)) => format!("{k} = {}", fmt(v)),
        None => "the learning rate".into(),
    }
}

/// The loss diverged, oscillates without going down, or huge updates killed the ReLUs.
fn lr_too_high(v: &View<'_>) -> Option<Finding> {
    let knob = lr_name(v.ctx);
    if let Some(ev) = &v.divergence {
        let mut f = Finding::new(
            "lr_too_high",
            Severity::Severe,
            format!("the learning rate is too high ({knob}): training diverged"),
        );
        f.evidence = ev.iter().take(1).cloned().collect();
        let peak = scheduled_peak(v);
        if let Some(r) = fixes::drop_raising_schedule(v.ctx, peak) {
            f.title = format!(
                "the learning rate is too high: the schedule raised it to {} and training diverged",
                fmt(peak)
            );
            f = f.evidence(format!(
                "lr per epoch: {}",
                v.records
                    .iter()
                    .filter_map(|r| r.get("lr").map(|lr| format!("{}: {}", r.epoch, fmt(lr))))
                    .collect::<Vec<_>>()
                    .join(", ")
            ));
            f = f.remedy(Some(r));
        }
        return Some(
            f.remedy(fixes::scale_lr(v.ctx, 0.1, "lower the lr 10x"))
                .remedy(fixes::clip(v.ctx)),
        );
    }
    if let Some(f) = oscillation(v) {
        return Some(f);
    }
    huge_updates(v)
}

/// The largest lr the run reached (the `lr` of every epoch record), NaN without records.
fn scheduled_peak(v: &View<'_>) -> f64 {
    v.records
        .iter()
        .filter_map(|r| r.get("lr"))
        .filter(|lr| lr.is_finite())
        .fold(f64::NAN, f64::max)
}

/// Oscillating / spiking loss that does not go down.
fn oscillation(v: &View<'_>) -> Option<Finding> {
    let train = &v.train;
    let n = train.len();
    if n < 3 {
        return None;
    }
    let first = mean(&train[..(n / 3).max(1)]);
    let last = mean(&train[n - (n / 3).max(1)..]);
    let not_decreasing = last > 0.9 * first;
    let diffs: Vec<f64> = train.windows(2).map(|w| w[1] - w[0]).collect();
    let ups = diffs
        .iter()
        .filter(|d| **d > 0.05 * first.abs().max(1e-12))
        .count();
    let oscillating = n >= 5 && ups * 10 >= diffs.len() * 4;
    let late: Vec<&EpochSignals> = v.signals.iter().filter(|s| s.epoch > n / 2).collect();
    let spikes = if late.is_empty() {
        0.0
    } else {
        late.iter().map(|s| s.loss.spikes.len()).sum::<usize>() as f64 / late.len() as f64
    };
    let spread = mean(
        &late
            .iter()
            .map(|s| s.loss.std / s.loss.mean.abs().max(1e-12))
            .collect::<Vec<_>>(),
    );
    let noisy = spikes >= 3.0 || spread > 0.5;
    if !(not_decreasing && (oscillating || noisy)) || v.learned_nothing() && !oscillating {
        return None;
    }
    let mut f = Finding::new(
        "lr_too_high",
        Severity::Warning,
        format!(
            "the learning rate is too high ({}): the loss oscillates or spikes instead of going down",
            lr_name(v.ctx)
        ),
    )
    .evidence(format!(
        "train_loss: mean {} over the first third, {} over the last third",
        fmt(first),
        fmt(last)
    ));
    if oscillating {
        f = f.evidence(format!(
            "train_loss went up in {ups} of {} epoch-to-epoch steps",
            diffs.len()
        ));
    }
    if !late.is_empty() {
        f = f.evidence(format!(
            "second half: {spikes:.1} loss spikes per epoch (batch loss > 2x running mean), batch-loss std/mean {spread:.2}"
        ));
    }
    Some(
        f.remedy(fixes::scale_lr(v.ctx, 0.3, "lower the lr 3x"))
            .remedy(fixes::clip(v.ctx)),
    )
}

/// Updates as large as a good share of the weights in the first epoch, with most ReLUs dead
/// or nothing learned: the first steps wrecked the initialization.
fn huge_updates(v: &View<'_>) -> Option<Finding> {
    let first = v.signals.first()?;
    let ratio = median_update_ratio(std::slice::from_ref(first))?;
    let dead = v
        .signals
        .iter()
        .rev()
        .find(|s| s.probed)
        .and_then(|s| {
            s.dead_units
                .values()
                .map(|d| d.fraction)
                .max_by(|a, b| a.total_cmp(b))
        })
        .unwrap_or(0.0);
    let wrecked = dead >= 0.5 || v.learned_nothing();
    if !(ratio >= super::gradients::LARGE_UPDATE && wrecked) {
        return None;
    }
    let severity = if v.learned_nothing() || dead >= 0.9 {
        Severity::Severe
    } else {
        Severity::Warning
    };
    let mut f = Finding::new(
        "lr_too_high",
        severity,
        format!(
            "the learning rate is too high ({}): the first updates were {:.0}% of the weights",
            lr_name(v.ctx),
            100.0 * ratio
        ),
    )
    .evidence(format!(
        "median update/weight ratio {} per step in epoch 1 (healthy training: ~1e-3)",
        fmt(ratio)
    ));
    if dead > 0.0 {
        f = f.evidence(format!(
            "up to {:.0}% of a ReLU layer's units dead",
            100.0 * dead
        ));
    }
    Some(f.remedy(fixes::scale_lr(v.ctx, 0.1, "lower the lr 10x")))
}

/// Tiny update/weight ratios and a loss that hardly moves.
fn lr_too_low(v: &View<'_>) -> Option<Finding> {
    let ratio = median_update_ratio(v.signals)?;
    if !v.finite() || v.train.len() < 2 {
        return None;
    }
    let train = &v.train;
    let n = train.len();
    let drop = 1.0 - train[n - 1] / train[0];
    let flat = drop < 0.1 && ratio < 1e-4;
    if !(ratio < TINY_UPDATE || flat) {
        return None;
    }
    let severity = if v.learned_nothing() {
        Severity::Severe
    } else {
        Severity::Warning
    };
    let factor = (1e-3 / ratio).clamp(10.0, 1e3).powf(0.8);
    Some(
        Finding::new(
            "lr_too_low",
            severity,
            format!(
                "the learning rate is too low ({}): updates are tiny compared with the weights",
                lr_name(v.ctx)
            ),
        )
        .evidence(format!(
            "median update/weight ratio {} per step (healthy training: ~1e-3)",
            fmt(ratio)
        ))
        .evidence(format!(
            "train_loss went from {} to {} over {n} epoch(s) ({:.1}% lower)",
            fmt(train[0]),
            fmt(train[n - 1]),
            100.0 * drop
        ))
        .remedy(fixes::scale_lr(
            v.ctx,
            factor,
            &format!("raise the lr {factor:.0}x"),
        )),
    )
}

/// The accuracy gap between training and validation at the last epoch.
fn accuracy_gap(v: &View<'_>) -> Option<f64> {
    Some(v.train_acc.last()? - v.val_acc.last()?).filter(|g| g.is_finite())
}

/// Validation loss rising or stalled while the training loss falls, or a wide gap.
fn overfitting(v: &View<'_>) -> Option<Finding> {
    let n = v.val.len();
    if n < 3 || v.val.iter().any(|x| !x.is_finite()) {
        return None;
    }
    let vs = smooth(&v.val, 1);
    let ts = smooth(&v.train, 1);
    if v.val_acc.last().is_some_and(|a| *a >= 0.99) {
        return None;
    }
    let gap = vs[n - 1] - ts[n - 1];
    let ratio = vs[n - 1] / ts[n - 1].max(1e-12);
    let significant = gap > v.reference.map_or(0.05, |r| GAP_OF_REFERENCE * r);
    let acc_gap = accuracy_gap(v);
    let wide = (ratio > GAP_RATIO && significant) || acc_gap.is_some_and(|g| g > ACCURACY_GAP);
    let stall = stall_start(&vs, &ts);
    let vmin = vs.iter().copied().fold(f64::INFINITY, f64::min);
    let rise = vs[n - 1] / vmin - 1.0;
    let rising = stall.is_some() && rise > VAL_RISE && significant;
    if !(rising || wide) {
        return None;
    }
    let cost = acc_gap.unwrap_or(0.0).max(if v.ctx.has_early_stopping {
        0.0
    } else {
        rise / 4.0
    });
    let severity = severity_of_cost(cost).clamp(Severity::Mild, Severity::Warning);
    let best = best_epoch(v.records).unwrap_or(1);
    let title = match (stall, rising) {
        (Some(s), true) => format!(
            "over-fitting from epoch {}: validation loss rises while training loss keeps falling",
            v.records[s].epoch
        ),
        (Some(s), false) => format!(
            "over-fitting from epoch {}: validation loss has stalled while training loss keeps falling",
            v.records[s].epoch
        ),
        _ => "a wide generalization gap: the model fits the training data much better than the validation data".into(),
    };
    let mut f = Finding::new("overfitting", severity, title)
        .evidence(format!(
            "best epoch {best}: val_loss {}; last epoch {}: val_loss {} vs train_loss {} ({:+.1}% vs the smoothed minimum)",
            fmt(v.val[best.saturating_sub(v.records[0].epoch).min(n - 1)]),
            v.records[n - 1].epoch,
            fmt(v.val[n - 1]),
            fmt(v.train[n - 1]),
            100.0 * rise
        ));
    if let Some(g) = acc_gap {
        f = f.evidence(format!(
            "final accuracy: train {} vs validation {} (gap {:.1} points)",
            fmt(v.train_acc[n - 1]),
            fmt(v.val_acc[n - 1]),
            100.0 * g
        ));
    }
    if let (Some(p), Some(profile)) = (v.ctx.parameters, &v.ctx.profile) {
        f = f.evidence(format!(
            "{p} parameters for {} training samples",
            profile.train_samples
        ));
    }
    f.marks = match stall {
        Some(s) => vec![
            (v.records[s].epoch, "overfitting starts".into()),
            (best, "best epoch".into()),
        ],
        None => vec![(best, "best epoch".into())],
    };
    Some(
        f.remedy(fixes::more_data(v.ctx))
            .remedy(fixes::dropout(v.ctx))
            .remedy(fixes::weight_decay(v.ctx))
            .remedy(fixes::early_stopping(v.ctx))
            .remedy(fixes::smaller_model(v.ctx)),
    )
}

/// The first epoch after which the smoothed validation loss never gains more than
/// [`STALL_GAIN`] while the training loss still falls at least [`TRAIN_STILL_FALLING`].
fn stall_start(vs: &[f64], ts: &[f64]) -> Option<usize> {
    let n = vs.len();
    (0..n.saturating_sub(3))
        .find(|&i| {
            let later_min = vs[i + 1..].iter().copied().fold(f64::INFINITY, f64::min);
            later_min >= vs[i] * (1.0 - STALL_GAIN)
        })
        .filter(|&s| 1.0 - ts[n - 1] / ts[s] >= TRAIN_STILL_FALLING)
}

/// Poor training performance: still falling at the end (too short) or on a plateau (too
/// small a model); or a validation loss still falling fast at the end.
fn underfitting(v: &View<'_>) -> Option<Finding> {
    let train = &v.train;
    let n = train.len();
    let tail = &train[n.saturating_sub(4)..];
    let rel_slope = if tail.len() >= 2 {
        -slope(tail) / tail[tail.len() - 1].abs().max(1e-12)
    } else {
        1.0
    };
    let still_falling = rel_slope > STILL_FALLING || steady_decline(train, rel_slope);
    // A model at chance on every class is poor whatever its accuracy: on imbalanced data,
    // predicting the majority class alone scores high.
    let poor = v.learned_nothing()
        || match (v.train_acc.last(), v.reference) {
            (Some(a), _) => *a < POOR_ACCURACY,
            (None, Some(r)) => train[n - 1] > 0.3 * r,
            (None, None) => false,
        };
    let val_falling = v.val.len() >= 4 && {
        let vt = &v.val[v.val.len() - 4..];
        -slope(vt) / vt[vt.len() - 1].abs().max(1e-12) > 2.0 * STILL_FALLING
    };
    if still_falling && (poor || val_falling) {
        return Some(too_short(v, rel_slope, poor));
    }
    if !poor || n < 3 {
        return None;
    }
    Some(too_small(v, rel_slope))
}

/// A training loss still falling at (at least) half its average pace over the run: not a
/// plateau however slow, so more epochs (or a larger lr) will still help. A plateau falls
/// fast at first and barely at the end.
fn steady_decline(train: &[f64], rel_slope: f64) -> bool {
    let n = train.len();
    if n < 3 || rel_slope <= STILL_FALLING / 10.0 {
        return false;
    }
    let tail = &train[n.saturating_sub(4)..];
    let late = -slope(tail);
    let average = (train[0] - train[n - 1]) / (n - 1) as f64;
    average > 0.0 && late >= 0.5 * average
}

fn accuracy_line(v: &View<'_>) -> String {
    let n = v.train.len();
    match v.train_acc.last() {
        Some(a) => format!(
            "final train_accuracy {}{}, train_loss {}",
            fmt(*a),
            if *a < POOR_ACCURACY {
                format!(" (below {POOR_ACCURACY})")
            } else {
                String::new()
            },
            fmt(v.train[n - 1])
        ),
        None => format!(
            "train_loss went from {} to {}{}",
            fmt(v.train[0]),
            fmt(v.train[n - 1]),
            v.reference
                .map(|r| format!(" (predicting nothing: {})", fmt(r)))
                .unwrap_or_default()
        ),
    }
}

fn too_short(v: &View<'_>, rel_slope: f64, poor: bool) -> Finding {
    let n = v.train.len();
    // Good accuracy with a validation loss still falling is worth knowing, not a problem.
    let severity = if poor {
        Severity::Warning
    } else {
        Severity::Info
    };
    let more = (n * 3).max(10);
    Finding::new(
        "training_too_short",
        severity,
        "training is too short: the loss is still falling at the last epoch",
    )
    .evidence(accuracy_line(v))
    .evidence(format!(
        "train_loss still falls {:.1}% per epoch over the last {} epoch(s)",
        100.0 * rel_slope,
        n.min(4)
    ))
    .remedy(fixes::epochs(v.ctx, more))
}

fn too_small(v: &View<'_>, rel_slope: f64) -> Finding {
    let severity = if v.learned_nothing() {
        Severity::Severe
    } else {
        Severity::Warning
    };
    let mut f = Finding::new(
        "model_too_small",
        severity,
        "under-fitting: the training loss has plateaued at a poor value; the model is too small",
    )
    .evidence(accuracy_line(v))
    .evidence(format!(
        "train_loss changes only {:.2}% per epoch over the last epochs",
        100.0 * rel_slope
    ));
    if let Some(r) = median_update_ratio(v.signals) {
        f = f.evidence(format!(
            "update/weight ratios are normal (median {}): the optimizer is moving, capacity is the limit",
            fmt(r)
        ));
    }
    if let Some(p) = v.ctx.parameters {
        f = f.evidence(format!("{p} parameters"));
    }
    f.remedy(fixes::wider_model(v.ctx))
        .remedy(fixes::less_regularization(v.ctx))
}
