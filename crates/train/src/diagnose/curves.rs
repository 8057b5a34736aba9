//! Detectors on the learning curves: divergence, lr too high / too low, over- and
//! under-fitting.

use super::{Finding, RunContext, Severity};
use crate::record::EpochRecord;
use crate::signals::EpochSignals;

/// Share of validation loss a later epoch must gain over an epoch for that epoch not to count
/// as the start of a stall.
pub const STALL_GAIN: f64 = 0.02;
/// Relative drop of training loss after the stall start that makes it over-fitting.
pub const TRAIN_STILL_FALLING: f64 = 0.05;
/// Validation loss this far above its (smoothed) minimum counts as rising.
pub const VAL_RISE: f64 = 0.05;
/// Stalled validation with `val_loss / train_loss` above this is over-fitting.
pub const GAP_RATIO: f64 = 1.5;
/// Stalled validation with `train_accuracy - val_accuracy` above this is over-fitting.
pub const ACCURACY_GAP: f64 = 0.1;
/// A median update/weight ratio below this is "lr too low".
pub const TINY_UPDATE: f64 = 1e-5;
/// Final train accuracy below this is "poor" (under-fitting).
pub const POOR_ACCURACY: f64 = 0.9;

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

fn mean(v: &[f64]) -> f64 {
    v.iter().sum::<f64>() / v.len().max(1) as f64
}

fn median(mut v: Vec<f64>) -> Option<f64> {
    v.retain(|x| x.is_finite());
    if v.is_empty() {
        return None;
    }
    v.sort_by(|a, b| a.total_cmp(b));
    Some(v[v.len() / 2])
}

/// Least-squares slope of `v` per epoch.
fn slope(v: &[f64]) -> f64 {
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

fn lr_suggestion(ctx: &RunContext, factor: f64) -> String {
    match ctx.lr {
        Some(lr) => format!(
            "set optimizer.lr to ~{} (now {}; run `tuna lr-find` for a measured value)",
            fmt(lr * factor),
            fmt(lr)
        ),
        None => "lower optimizer.lr (run `tuna lr-find` for a measured value)".into(),
    }
}

/// Non-finite or exploding loss.
pub(crate) fn divergence(
    records: &[EpochRecord],
    signals: &[EpochSignals],
    ctx: &RunContext,
) -> Option<Finding> {
    let train = series(records, "train_loss");
    let first_bad = records.iter().find(|r| {
        r.get("train_loss").is_some_and(|v| !v.is_finite())
            || r.get("val_loss").is_some_and(|v| !v.is_finite())
    });
    let nonfinite_error = ctx
        .error
        .as_deref()
        .is_some_and(|e| e.contains("non-finite") || e.contains("NaN") || e.contains("inf"));
    let finite: Vec<f64> = train.iter().copied().filter(|v| v.is_finite()).collect();
    let min = finite.iter().copied().fold(f64::INFINITY, f64::min);
    let exploding = finite.len() >= 3
        && finite[finite.len() - 1] > 3.0 * min
        && finite[finite.len() - 1] > finite[0];
    if first_bad.is_none() && !nonfinite_error && !exploding {
        return None;
    }
    let mut f = Finding::new(
        "divergence",
        Severity::Severe,
        "training diverged: the loss became non-finite or exploded",
    );
    if let Some(r) = first_bad {
        f = f.evidence(format!("epoch {}: loss is non-finite (NaN/inf)", r.epoch));
    }
    if let Some(e) = &ctx.error {
        f = f.evidence(format!("the run stopped with: {e}"));
    }
    if exploding {
        f = f.evidence(format!(
            "train_loss rose from a minimum of {} to {} at epoch {}",
            fmt(min),
            fmt(finite[finite.len() - 1]),
            records.len()
        ));
    }
    if let Some(last) = finite.last() {
        if first_bad.is_some() || nonfinite_error {
            f = f.evidence(format!(
                "last finite train_loss {} after {} epoch(s)",
                fmt(*last),
                finite.len()
            ));
        }
    }
    let gmax = signals
        .iter()
        .flat_map(|s| s.params.iter().map(|(n, p)| (n.clone(), p.grad_norm_max.0)))
        .filter(|(_, g)| g.is_finite())
        .max_by(|a, b| a.1.total_cmp(&b.1));
    if let Some((name, g)) = gmax {
        f = f.evidence(format!("largest gradient norm seen: {} ({name})", fmt(g)));
    }
    if let Some(lr) = ctx.lr.filter(|lr| *lr >= 1.0) {
        f = f.evidence(format!("optimizer.lr = {} is very large", fmt(lr)));
    }
    f.recommend(lr_suggestion(ctx, 0.1))
        .recommend("set train.clip_grad_norm = 1.0")
        .recommend("if it still diverges, check the data for NaN/inf inputs or labels out of range")
        .into()
}

/// Oscillating / spiking loss that does not go down.
pub(crate) fn lr_too_high(
    records: &[EpochRecord],
    signals: &[EpochSignals],
    ctx: &RunContext,
) -> Option<Finding> {
    let train = series(records, "train_loss");
    if train.len() < 3 || train.iter().any(|v| !v.is_finite()) {
        return None;
    }
    let n = train.len();
    let half = &train[n / 2..];
    let first = mean(&train[..(n / 3).max(1)]);
    let last = mean(&train[n - (n / 3).max(1)..]);
    let not_decreasing = last > 0.9 * first;
    // Epoch-level oscillation: many ups, of size well above the trend.
    let diffs: Vec<f64> = train.windows(2).map(|w| w[1] - w[0]).collect();
    let ups = diffs
        .iter()
        .filter(|d| **d > 0.05 * first.abs().max(1e-12))
        .count();
    let oscillating = n >= 5 && ups * 10 >= diffs.len() * 4;
    // Within-epoch: spikes and spread in the second half of the run.
    let late: Vec<&EpochSignals> = signals.iter().filter(|s| s.epoch > n / 2).collect();
    let spikes_per_epoch = if late.is_empty() {
        0.0
    } else {
        late.iter().map(|s| s.loss.spikes.len()).sum::<usize>() as f64 / late.len() as f64
    };
    let spread = if late.is_empty() {
        0.0
    } else {
        mean(
            &late
                .iter()
                .map(|s| s.loss.std / s.loss.mean.abs().max(1e-12))
                .collect::<Vec<_>>(),
        )
    };
    let noisy = spikes_per_epoch >= 3.0 || spread > 0.5;
    if !(not_decreasing && (oscillating || noisy)) {
        return None;
    }
    let mut f = Finding::new(
        "lr_too_high",
        Severity::Warning,
        "the loss oscillates or spikes instead of going down: the learning rate is too high",
    )
    .evidence(format!(
        "train_loss: mean {} over the first third, {} over the last third (slope {} per epoch over the second half)",
        fmt(first),
        fmt(last),
        fmt(slope(half))
    ));
    if oscillating {
        f = f.evidence(format!(
            "train_loss went up in {ups} of {} epoch-to-epoch steps",
            diffs.len()
        ));
    }
    if !late.is_empty() {
        f = f.evidence(format!(
            "second half: {:.1} loss spikes per epoch (batch loss > 2x running mean), batch-loss std/mean {:.2}",
            spikes_per_epoch, spread
        ));
    }
    f.recommend(lr_suggestion(ctx, 0.3))
        .recommend("or add a warm-up / decay: [scheduler] type = \"OneCycleLR\", max_lr = <lr-find suggestion>")
        .recommend("set train.clip_grad_norm = 1.0")
        .into()
}

fn median_update_ratio(signals: &[EpochSignals]) -> Option<f64> {
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

/// Tiny update/weight ratios and a slow decrease.
pub(crate) fn lr_too_low(
    records: &[EpochRecord],
    signals: &[EpochSignals],
    ctx: &RunContext,
) -> Option<Finding> {
    let ratio = median_update_ratio(signals)?;
    if ratio >= TINY_UPDATE {
        return None;
    }
    let train = series(records, "train_loss");
    if train.iter().any(|v| !v.is_finite()) || train.is_empty() {
        return None;
    }
    let drop = 1.0 - train[train.len() - 1] / train[0];
    let mut f = Finding::new(
        "lr_too_low",
        Severity::Warning,
        "updates are tiny compared with the weights: the learning rate is too low",
    )
    .evidence(format!(
        "median update/weight ratio {} per step (healthy training: ~1e-3; threshold {})",
        fmt(ratio),
        fmt(TINY_UPDATE)
    ))
    .evidence(format!(
        "train_loss went from {} to {} over {} epoch(s) ({:.1}% lower)",
        fmt(train[0]),
        fmt(train[train.len() - 1]),
        train.len(),
        100.0 * drop
    ));
    let factor = (1e-3 / ratio).clamp(10.0, 1e4);
    f = f.recommend(lr_suggestion(ctx, factor.powf(0.8)));
    if let Some(s) = &ctx.scheduler {
        f = f.recommend(format!(
            "the [scheduler] ({s}) sets the lr too: raise its max_lr / base lr with it"
        ));
    }
    Some(f)
}

/// Validation loss rising or stalled while training loss falls, with a growing gap.
pub(crate) fn overfitting(records: &[EpochRecord], ctx: &RunContext) -> Option<Finding> {
    let val = series(records, "val_loss");
    let train = series(records, "train_loss");
    let n = val.len();
    if n < 5 || val.iter().chain(&train).any(|v| !v.is_finite()) {
        return None;
    }
    let vs = smooth(&val, 1);
    let ts = smooth(&train, 1);
    // Start: the first epoch after which smoothed val never gains more than STALL_GAIN.
    let start = (0..n).find(|&i| {
        let later_min = vs[i + 1..].iter().copied().fold(f64::INFINITY, f64::min);
        i + 1 < n && later_min >= vs[i] * (1.0 - STALL_GAIN)
    });
    let train_drop = start.map_or(0.0, |s| 1.0 - ts[n - 1] / ts[s]);
    let Some(start) = start.filter(|s| n - 1 - s >= 3 && train_drop >= TRAIN_STILL_FALLING) else {
        return wide_gap(records, &vs, &ts, ctx);
    };
    let vmin = vs.iter().copied().fold(f64::INFINITY, f64::min);
    let rise = vs[n - 1] / vmin - 1.0;
    let rising = rise > VAL_RISE;
    let gap_start = vs[start] - ts[start];
    let gap_end = vs[n - 1] - ts[n - 1];
    let ratio = vs[n - 1] / ts[n - 1].max(1e-12);
    let acc_gap = match (
        records.last().and_then(|r| r.get("train_accuracy")),
        records.last().and_then(|r| r.get("val_accuracy")),
    ) {
        (Some(t), Some(v)) => Some(t - v),
        _ => None,
    };
    let wide = ratio > GAP_RATIO || acc_gap.is_some_and(|g| g > ACCURACY_GAP);
    if gap_end <= gap_start || !(rising || wide) {
        return None;
    }
    let best = best_epoch(records).unwrap_or(1);
    let start_epoch = records[start].epoch;
    let severity = if rise > 0.3 {
        Severity::Severe
    } else {
        Severity::Warning
    };
    let mut f = Finding::new(
        "overfitting",
        severity,
        format!(
            "over-fitting from epoch {start_epoch}: validation loss {} while training loss keeps falling",
            if rising { "rises" } else { "has stalled" }
        ),
    )
    .evidence(format!(
        "best epoch {best}: val_loss {}; last epoch {}: val_loss {} ({:+.1}% vs the smoothed minimum)",
        fmt(val[best.saturating_sub(records[0].epoch).min(n - 1)]),
        records[n - 1].epoch,
        fmt(val[n - 1]),
        100.0 * rise
    ))
    .evidence(format!(
        "train_loss fell {:.1}% after epoch {start_epoch} ({} -> {})",
        100.0 * train_drop,
        fmt(ts[start]),
        fmt(ts[n - 1])
    ))
    .evidence(format!(
        "generalization gap (val_loss - train_loss, smoothed) grew from {} to {}",
        fmt(gap_start),
        fmt(gap_end)
    ));
    if let Some(g) = acc_gap {
        f = f.evidence(format!(
            "final accuracy: train {} vs validation {} (gap {:.1} points)",
            fmt(records[n - 1].get("train_accuracy").unwrap_or(f64::NAN)),
            fmt(records[n - 1].get("val_accuracy").unwrap_or(f64::NAN)),
            100.0 * g
        ));
    }
    f.marks = vec![
        (start_epoch, "overfitting starts".into()),
        (best, "best epoch".into()),
    ];
    if !ctx.has_early_stopping {
        f = f.recommend(
            "enable train.early_stopping = { monitor = \"val_loss\", patience = 3, restore_best = true }",
        );
    }
    if !ctx.has_regularization {
        f = f.recommend(
            "add [[regularizers]] type = \"L2\", weight = 1e-4 (or optimizer.weight_decay = 5e-4)",
        );
    }
    let dropouts: Vec<usize> = ctx
        .layers
        .iter()
        .filter(|l| l.kind.contains("Dropout"))
        .map(|l| l.index)
        .collect();
    if !ctx.has_dropout && !dropouts.is_empty() {
        f = f.recommend(format!(
            "set model.layers[{}].p = 0.2 (Dropout is off)",
            dropouts[0]
        ));
    } else if !ctx.has_dropout {
        if let Some(act) = hidden_activation(ctx) {
            f = f.recommend(format!(
                "add {{ type = \"Dropout\", p = 0.2 }} after model.layers[{act}]"
            ));
        }
    } else if let Some(i) = dropouts.first() {
        f = f.recommend(format!("raise model.layers[{i}].p (Dropout) to 0.3-0.5"));
    }
    f = f.recommend(format!(
        "use more training data (data.train_subset, augmentation) or a smaller model{}",
        ctx.parameters
            .map(|p| format!(" (now {p} parameters)"))
            .unwrap_or_default()
    ));
    Some(f)
}

/// The index of the last activation before the last trainable layer.
fn hidden_activation(ctx: &RunContext) -> Option<usize> {
    let last_trainable = ctx.layers.iter().rev().find(|l| l.width.is_some())?.index;
    ctx.layers
        .iter()
        .filter(|l| l.index < last_trainable && is_activation(&l.kind))
        .map(|l| l.index)
        .next_back()
}

fn is_activation(kind: &str) -> bool {
    matches!(
        kind,
        "ReLU"
            | "LeakyReLU"
            | "GELU"
            | "Sigmoid"
            | "Tanh"
            | "ELU"
            | "SiLU"
            | "ReLU6"
            | "Softplus"
            | "Mish"
            | "SELU"
            | "PReLU"
    )
}

/// Poor, flat training performance; tells too short, too low lr and too small apart.
pub(crate) fn underfitting(
    records: &[EpochRecord],
    signals: &[EpochSignals],
    ctx: &RunContext,
    lr_low: bool,
) -> Option<Finding> {
    let train = series(records, "train_loss");
    let n = train.len();
    if n == 0 || train.iter().any(|v| !v.is_finite()) {
        return None;
    }
    let acc = records.last().and_then(|r| r.get("train_accuracy"));
    let poor = match acc {
        Some(a) => a < POOR_ACCURACY,
        None => n >= 3 && train[n - 1] > 0.5 * train[0],
    };
    if !poor {
        return None;
    }
    // Still decreasing at the end: relative slope over the last (up to) 4 epochs.
    let tail = &train[n.saturating_sub(4)..];
    let rel_slope = if n >= 2 {
        -slope(tail) / tail[tail.len() - 1].abs().max(1e-12)
    } else {
        0.0
    };
    let still_falling = n < 3 || rel_slope > 0.02;
    let ratio = median_update_ratio(signals);
    let mut f = Finding::new(
        "underfitting",
        Severity::Warning,
        "the model does not fit even the training data",
    );
    f = match acc {
        Some(a) => f.evidence(format!(
            "final train_accuracy {} (below {}), train_loss {}",
            fmt(a),
            POOR_ACCURACY,
            fmt(train[n - 1])
        )),
        None => f.evidence(format!(
            "train_loss only fell from {} to {}",
            fmt(train[0]),
            fmt(train[n - 1])
        )),
    };
    if let Some(v) = records.last().and_then(|r| r.get("val_loss")) {
        f = f.evidence(format!(
            "val_loss {} is close to train_loss {}: not an over-fitting problem",
            fmt(v),
            fmt(train[n - 1])
        ));
    }
    if lr_low {
        f.title = "under-fitting because the learning rate is too low (see lr_too_low)".into();
        f = f.recommend(lr_suggestion(ctx, 100.0));
    } else if still_falling {
        f.title = "under-fitting because training is too short: the loss is still falling".into();
        f = f.evidence(format!(
            "train_loss still falls {:.1}% per epoch over the last {} epoch(s)",
            100.0 * rel_slope,
            tail.len()
        ));
        let more = (n * 3).max(10);
        f = f.recommend(format!("set train.epochs = {more} (now {n})"));
    } else {
        f.title = "under-fitting: the training loss has plateaued at a poor value; the model is probably too small".into();
        f = f.evidence(format!(
            "train_loss changes only {:.2}% per epoch over the last {} epochs",
            100.0 * rel_slope,
            tail.len()
        ));
        if let Some(r) = ratio {
            f = f.evidence(format!(
                "update/weight ratios are normal (median {}), so the optimizer is moving: capacity is the limit",
                fmt(r)
            ));
        }
        if let Some(p) = ctx.parameters {
            f = f.evidence(format!("{p} parameters"));
        }
        let narrow = ctx
            .layers
            .iter()
            .filter(|l| l.width.is_some())
            .take(
                ctx.layers
                    .iter()
                    .filter(|l| l.width.is_some())
                    .count()
                    .saturating_sub(1),
            )
            .min_by_key(|l| l.width);
        if let Some(l) = narrow {
            f = f.recommend(format!(
                "widen model.layers[{}] (out_features {} -> {}, and the next layer's in_features)",
                l.index,
                l.width.unwrap_or(0),
                (l.width.unwrap_or(1) * 4).max(64)
            ));
        }
        f = f.recommend("or add hidden layers; remove regularization / lower Dropout p if any");
    }
    if !lr_low && still_falling {
        f = f.recommend("a higher optimizer.lr may converge faster (run `tuna lr-find`)");
    }
    Some(f)
}

/// A mild finding: a wide generalization gap at the end, without a clear stall or rise.
fn wide_gap(records: &[EpochRecord], vs: &[f64], ts: &[f64], ctx: &RunContext) -> Option<Finding> {
    let n = vs.len();
    let last = records.last()?;
    let ratio = vs[n - 1] / ts[n - 1].max(1e-12);
    let acc_gap = match (last.get("train_accuracy"), last.get("val_accuracy")) {
        (Some(t), Some(v)) => Some(t - v),
        _ => None,
    };
    if !(ratio > GAP_RATIO || acc_gap.is_some_and(|g| g > ACCURACY_GAP)) {
        return None;
    }
    let mut f = Finding::new(
        "overfitting",
        Severity::Mild,
        "a wide generalization gap: the model fits the training data much better than the validation data",
    )
    .evidence(format!(
        "last epoch {}: train_loss {} vs val_loss {} (ratio {:.2}, threshold {GAP_RATIO})",
        last.epoch,
        fmt(ts[n - 1]),
        fmt(vs[n - 1]),
        ratio
    ));
    if let Some(g) = acc_gap {
        f = f.evidence(format!(
            "accuracy gap train - validation {:.1} points",
            100.0 * g
        ));
    }
    if let Some(b) = best_epoch(records) {
        f.marks = vec![(b, "best epoch".into())];
    }
    if !ctx.has_regularization {
        f = f.recommend("add [[regularizers]] type = \"L2\", weight = 1e-4");
    }
    Some(f.recommend(format!(
        "use more training data (data.train_subset, augmentation) or a smaller model{}",
        ctx.parameters
            .map(|p| format!(" (now {p} parameters)"))
            .unwrap_or_default()
    )))
}
