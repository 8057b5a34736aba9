//! Findings the data or the experiment explains, not the curves: a loss that does not fit the
//! model's outputs, non-finite values, inputs or targets far from unit scale, duplicated
//! samples with conflicting labels or a model confidently contradicting many labels (label
//! noise, a ceiling on accuracy), and a class imbalance that the accuracy hides.

use super::curves::{best_epoch, fmt, View};
use super::fixes;
use super::{Finding, Severity};
use crate::signals::FitStats;

/// Inputs whose per-feature standard deviation or mean exceeds this are unscaled.
pub const INPUT_SCALE: f64 = 20.0;
/// Regression targets whose standard deviation or mean exceeds this are unscaled.
pub const TARGET_SCALE: f64 = 20.0;
/// Duplicated samples with conflicting labels above this share of the data are label noise.
pub const CONFLICTS: f64 = 0.02;
/// Training-probe samples the model confidently assigns to another class above this share
/// (while it is confident on the rest) are label noise.
pub const CONTRADICTED: f64 = 0.08;
/// A model hedging on every training sample (mean confidence in its prediction below this)
/// ...
pub const HEDGING: f64 = 0.9;
/// ... that still splits the samples into two groups, the labels it gives >= 0.5 and a
/// group of at least this share it gives < 0.3, with (almost) nothing between them, has
/// fitted noisy labels: the hedge is the noise rate, the low group the flipped labels.
pub const SPLIT_GROUP: f64 = 0.1;

/// A class whose validation recall is below this ...
pub const POOR_RECALL: f64 = 0.5;
/// ... while it makes up less than this share of the data ...
pub const MINORITY: f64 = 0.25;
/// ... and less than this fraction of its balanced share (`1 / classes`) is a hidden
/// minority: with many classes every class is small, and only an under-represented one is
/// an imbalance.
pub const OF_BALANCED: f64 = 0.5;

/// Every data detector.
pub(crate) fn detect(v: &View<'_>) -> Vec<Finding> {
    [
        loss_mismatch(v),
        nonfinite(v),
        unscaled_targets(v),
        unscaled_inputs(v),
        label_noise(v),
        class_imbalance(v),
    ]
    .into_iter()
    .flatten()
    .collect()
}

/// The model's last layer, if it is not trainable (an activation at the output).
fn last_layer<'a>(v: &'a View<'a>) -> Option<(usize, &'a str)> {
    v.ctx.layers.last().map(|l| (l.index, l.kind.as_str()))
}

/// A loss that does not take what the model outputs: probabilities into a loss that applies
/// (log-)softmax or sigmoid itself, or raw scores into one that expects log-probabilities.
fn loss_mismatch(v: &View<'_>) -> Option<Finding> {
    let loss = v.ctx.loss()?;
    let (last, kind) = last_layer(v).unwrap_or((0, ""));
    let unset = |why: &str| {
        Some(super::Remedy::new(
            vec![super::Change::unset(format!("model.layers[{last}]"))],
            why,
        ))
    };
    let retype = |to: &str, why: &str| {
        Some(super::Remedy::new(
            vec![super::Change::set("loss.type", to)],
            why,
        ))
    };
    let (title, remedy) = match (loss, kind) {
        ("CrossEntropyLoss", "Softmax" | "LogSoftmax") => (
            format!("the model ends with {kind}, but CrossEntropyLoss applies log-softmax itself: the outputs are squashed twice and the gradients shrink"),
            unset(&format!("remove the final {kind}: CrossEntropyLoss takes raw scores")),
        ),
        ("BCEWithLogitsLoss", "Sigmoid") => (
            "the model ends with Sigmoid, but BCEWithLogitsLoss applies the sigmoid itself".to_string(),
            unset("remove the final Sigmoid: BCEWithLogitsLoss takes raw scores"),
        ),
        ("NLLLoss", k) if k != "LogSoftmax" => (
            "NLLLoss takes log-probabilities, but the model does not end with LogSoftmax: the loss can fall without bound".to_string(),
            retype("CrossEntropyLoss", "CrossEntropyLoss = LogSoftmax + NLLLoss on raw scores"),
        ),
        ("BCELoss", k) if k != "Sigmoid" => (
            "BCELoss takes probabilities, but the model does not end with Sigmoid".to_string(),
            retype("BCEWithLogitsLoss", "BCEWithLogitsLoss takes raw scores"),
        ),
        _ => return None,
    };
    let negative = v.train.iter().any(|l| l.is_finite() && *l < 0.0);
    let severity = if negative || v.learned_nothing() || v.divergence.is_some() {
        Severity::Severe
    } else {
        Severity::Warning
    };
    let mut f = Finding::new("loss_mismatch", severity, title)
        .evidence(format!("loss: {loss}; model.layers[{last}]: {kind}"));
    if negative {
        f = f.evidence(format!(
            "train_loss went below zero ({}), which a loss over probabilities never does",
            fmt(v.train.iter().copied().fold(f64::INFINITY, f64::min))
        ));
    }
    Some(f.remedy(remedy))
}

/// NaN or infinite values in the training inputs or targets.
fn nonfinite(v: &View<'_>) -> Option<Finding> {
    let p = v.ctx.profile.as_ref()?;
    let bad = p.input.nonfinite + p.target.nonfinite;
    if bad == 0 {
        return None;
    }
    let severity = if v.divergence.is_some() {
        Severity::Severe
    } else {
        Severity::Warning
    };
    Some(
        Finding::new(
            "nonfinite_data",
            severity,
            "the training data holds NaN or infinite values: any batch that draws one turns the loss NaN",
        )
        .evidence(format!(
            "{} non-finite input value(s) and {} non-finite target value(s) in {} profiled training samples",
            p.input.nonfinite, p.target.nonfinite, p.profiled
        ))
        .remedy(fixes::missing_infinities(v.ctx))
        .note("find the rows with non-finite values in the data file and fix or drop them"),
    )
}

/// Regression targets far from unit scale and not standardized.
fn unscaled_targets(v: &View<'_>) -> Option<Finding> {
    let p = v.ctx.profile.as_ref()?;
    let worst = p
        .target
        .mean
        .iter()
        .zip(&p.target.std)
        .map(|(m, s)| m.abs().max(*s))
        .fold(0.0, f64::max);
    if worst <= TARGET_SCALE {
        return None;
    }
    Some(
        Finding::new(
            "unscaled_targets",
            Severity::Mild,
            "the regression targets are far from unit scale: the loss and its gradients are huge, and the output layer has to grow its weights to reach them",
        )
        .evidence(format!(
            "targets: mean {}, std {} (as trained)",
            p.target.mean.iter().map(|m| fmt(*m)).collect::<Vec<_>>().join(", "),
            p.target.std.iter().map(|s| fmt(*s)).collect::<Vec<_>>().join(", ")
        ))
        .remedy(fixes::scale_targets(v.ctx))
        .note("scale the targets to about unit size (standardize them)"),
    )
}

/// Dense inputs far from unit scale, without a normalization layer first.
fn unscaled_inputs(v: &View<'_>) -> Option<Finding> {
    let p = v.ctx.profile.as_ref()?;
    let i = &p.input;
    if i.features == 0 {
        return None;
    }
    let worst = i.feature_std_max.max(i.feature_mean_abs_max);
    let spread = if i.feature_std_min > 0.0 {
        i.feature_std_max / i.feature_std_min
    } else {
        1.0
    };
    let normalized_first = v
        .ctx
        .layers
        .iter()
        .find(|l| !matches!(l.kind.as_str(), "Flatten" | "Unflatten"))
        .is_some_and(|l| l.kind.contains("Norm"));
    // Features of very different spreads matter only when some values are large: bounded
    // inputs (pixels in [-1, 3]) with near-constant borders are not unscaled.
    let uneven = spread > 1e3 && i.max_abs > INPUT_SCALE;
    if normalized_first || !(worst > INPUT_SCALE || uneven) {
        return None;
    }
    Some(
        Finding::new(
            "unscaled_inputs",
            Severity::Mild,
            "the inputs are far from unit scale: the first layer's pre-activations and gradients are large, and features of small scale are drowned",
        )
        .evidence(format!(
            "per-feature std from {} to {}, largest |mean| {}, largest |value| {}",
            fmt(i.feature_std_min),
            fmt(i.feature_std_max),
            fmt(i.feature_mean_abs_max),
            fmt(i.max_abs)
        ))
        .remedy(fixes::scale_inputs(v.ctx))
        .note("scale every input feature to about mean 0, std 1"),
    )
}

/// Conflicting duplicates, or a model that is confident on most training samples and
/// confidently contradicts a good share of the labels.
fn label_noise(v: &View<'_>) -> Option<Finding> {
    let p = v.ctx.profile.as_ref()?;
    let conflict_share = p.conflicts as f64 / p.profiled.max(1) as f64;
    // the probe nearest the kept (best) epoch: probes are periodic, not every epoch
    let best = best_epoch(v.records);
    let fit = v
        .signals
        .iter()
        .filter_map(|s| s.train_fit.as_ref().map(|f| (s.epoch, f)))
        .min_by_key(|&(e, _)| match best {
            // ties go to the probe before the best epoch
            Some(b) => (e.abs_diff(b), e > b),
            None => (usize::MAX - e, false),
        });
    let contradicted = fit.map_or(0.0, |(_, f)| {
        f.contradicted as f64 / f.samples.max(1) as f64
    });
    let confident = fit.is_some_and(|(_, f)| {
        let sure: usize = f.p_label_hist[8..].iter().sum();
        sure as f64 / f.samples.max(1) as f64 >= 0.5
    });
    let by_model = contradicted >= CONTRADICTED && confident;
    let split = fit.and_then(|(_, f)| calibrated_split(f));
    if conflict_share < CONFLICTS && !by_model && split.is_none() {
        return None;
    }
    let ceiling = 1.0 - conflict_share.max(contradicted).max(split.unwrap_or(0.0));
    let mut f = Finding::new(
        "label_noise",
        Severity::Mild,
        format!(
            "many training labels look wrong: accuracy has a ceiling near {:.0}%",
            100.0 * ceiling
        ),
    );
    if p.conflicts > 0 {
        f = f.evidence(format!(
            "{} of {} training samples repeat an input with a different label ({:.1}%)",
            p.conflicts,
            p.profiled,
            100.0 * conflict_share
        ));
    }
    if let Some((e, fit)) = fit.filter(|_| by_model) {
        f = f.evidence(format!(
            "epoch {e}: the model gives another class >= 50% and the label < 10% on {} of {} training samples ({:.0}%), while it is >= 80% sure of the label on most others",
            fit.contradicted,
            fit.samples,
            100.0 * contradicted
        ));
    }
    if let (Some(low), Some((e, fit))) = (split, fit) {
        f = f.evidence(format!(
            "epoch {e}: the model hedges (mean confidence {:.2}) yet splits the training samples in two: {:.0}% get < 30% for their label, {:.0}% get >= 50%, almost none between: it learned a clean boundary and a noise rate",
            fit.confidence,
            100.0 * low,
            100.0 * high_share(fit)
        ));
    }
    Some(
        f.remedy(fixes::label_smoothing(v.ctx))
            .remedy(fixes::early_stopping(v.ctx))
            .note("find and fix the wrong labels (the samples the model contradicts most)"),
    )
}

/// Share of probe samples given >= 0.5 for their label.
fn high_share(f: &FitStats) -> f64 {
    f.p_label_hist[5..].iter().sum::<usize>() as f64 / f.samples.max(1) as f64
}

/// The share of flipped labels when the probe shows a model fitted to symmetric label noise
/// ([`HEDGING`], [`SPLIT_GROUP`]): a low group (label < 0.3) of at least `SPLIT_GROUP`, a
/// high group (>= 0.5) of at least half, and fewer samples between (0.3-0.5) than a quarter
/// of the low group. A model too small for the task leaves a continuum instead.
fn calibrated_split(f: &FitStats) -> Option<f64> {
    if f.samples == 0 || f.p_label_hist.len() != 10 || f.confidence >= HEDGING {
        return None;
    }
    let n = f.samples as f64;
    let low = f.p_label_hist[..3].iter().sum::<usize>() as f64 / n;
    let between = f.p_label_hist[3..5].iter().sum::<usize>() as f64 / n;
    (low >= SPLIT_GROUP && high_share(f) >= 0.5 && between < 0.25 * low).then_some(low)
}

/// A minority class the model mostly misses while the accuracy looks fine.
fn class_imbalance(v: &View<'_>) -> Option<Finding> {
    let p = v.ctx.profile.as_ref()?;
    let counts = &p.target.class_counts;
    let n: usize = counts.iter().sum();
    // A probe from early in training says nothing about the model that was kept.
    let last = v.signals.last()?.epoch;
    let recent = last.saturating_sub((last / 4).max(1));
    let stats = v
        .signals
        .iter()
        .rev()
        .take_while(|s| s.epoch >= recent)
        .find_map(|s| s.val_classes.as_ref())?;
    let recalls = stats.recalls();
    let (class, recall) = recalls
        .iter()
        .enumerate()
        .filter_map(|(c, r)| r.map(|r| (c, r)))
        .filter(|(c, _)| {
            counts.get(*c).is_some_and(|k| {
                let k = *k as f64;
                k < MINORITY * n as f64 && k * (counts.len() as f64) < OF_BALANCED * n as f64
            })
        })
        .min_by(|a, b| a.1.total_cmp(&b.1))?;
    let share = counts[class] as f64 / n.max(1) as f64;
    let accuracy = stats
        .confusion
        .iter()
        .enumerate()
        .map(|(i, r)| r[i])
        .sum::<usize>() as f64
        / stats.samples.max(1) as f64;
    if recall >= POOR_RECALL || accuracy < 0.5 {
        return None;
    }
    let names = match &v.ctx.task {
        Some(tuna_data::Task::Classification { class_names, .. }) => {
            class_names.get(class).cloned()
        }
        _ => None,
    }
    .unwrap_or_else(|| class.to_string());
    Some(
        // Most of a class is missed (recall < POOR_RECALL): a warning whatever the accuracy
        // says, since that class is often the one the model is built for (spam, fraud).
        Finding::new(
            "class_imbalance",
            Severity::Warning,
            format!(
                "class {names} ({:.1}% of the data) is mostly missed, which the accuracy of {:.1}% hides",
                100.0 * share,
                100.0 * accuracy
            ),
        )
        .evidence(format!(
            "validation recall per class: {}",
            recalls
                .iter()
                .enumerate()
                .map(|(c, r)| format!("{c}: {}", r.map_or("-".into(), |r| format!("{:.2}", r))))
                .collect::<Vec<_>>()
                .join(", ")
        ))
        .evidence(format!("training samples per class: {counts:?}"))
        .remedy(fixes::class_weights(v.ctx))
        .remedy(fixes::class_metric(v.ctx)),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fit(hist: [usize; 10], confidence: f64) -> FitStats {
        FitStats {
            samples: hist.iter().sum(),
            accuracy: 0.0,
            p_label_hist: hist.to_vec(),
            contradicted: 0,
            confidence,
        }
    }

    #[test]
    fn a_calibrated_split_is_told_from_a_continuum_and_from_a_fitted_model() {
        // symmetric noise on separable blobs: a low group, a high group, nothing between
        let noisy = fit([3, 40, 35, 3, 3, 40, 90, 40, 2, 0], 0.65);
        let low = calibrated_split(&noisy).unwrap();
        assert!((low - 78.0 / 256.0).abs() < 1e-12);
        // a model too small for the task: every level of agreement
        assert_eq!(
            calibrated_split(&fit([10, 20, 25, 30, 30, 30, 30, 30, 25, 26], 0.65)),
            None
        );
        // a model that fits its labels is sure of them
        assert_eq!(
            calibrated_split(&fit([5, 20, 10, 0, 0, 0, 0, 0, 20, 200], 0.95)),
            None
        );
        // a few misfits are not a noise rate
        assert_eq!(
            calibrated_split(&fit([5, 5, 5, 0, 0, 40, 100, 100, 1, 0], 0.7)),
            None
        );
    }
}
