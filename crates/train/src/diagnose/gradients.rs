//! Detectors on the per-parameter and per-layer signals: saturating activations and vanishing
//! gradients, exploding gradients (recurrent layers above all), and dead ReLUs.

use serde_json::json;

use super::curves::{fmt, median, View};
use super::fixes;
use super::{Finding, LayerInfo, Severity};
use crate::signals::EpochSignals;

/// Layers whose RMS gradient is below this share of the last layer's are "vanishing" (or the
/// first layer's is above `1 / VANISH_SPAN` times the last's: "exploding" from the input
/// side).
pub const VANISH_SPAN: f64 = 1e-3;
/// A gradient norm above this is exploding outright.
pub const HUGE_GRAD: f64 = 1e3;
/// A recurrent weight whose largest sampled gradient norm is this many times its median is
/// exploding (through time).
pub const GRAD_SPIKE: f64 = 20.0;
/// A ReLU layer with more than this share of dead units is reported.
pub const DEAD_FRACTION: f64 = 0.3;
/// A Sigmoid/Tanh layer with more than this share of its outputs saturated is reported.
pub const SATURATED: f64 = 0.5;
/// A median update/weight ratio per step above this in the first epoch is a large update.
pub const LARGE_UPDATE: f64 = 0.05;

/// The layer index of a state-dict name (`"3.weight"` -> 3).
fn layer_index(name: &str) -> Option<usize> {
    name.split('.').next()?.parse().ok()
}

/// (name, RMS gradient per element: median over epochs), in layer order. An `Embedding`'s
/// table is left out: only the rows of the tokens in a batch get a gradient, so its RMS
/// gradient is small by construction, not because the signal vanishes.
fn weight_grads(signals: &[EpochSignals], layers: &[LayerInfo]) -> Vec<(String, f64)> {
    let Some(first) = signals.first() else {
        return Vec::new();
    };
    let sparse = |name: &str| {
        layer_index(name)
            .and_then(|i| layers.get(i))
            .is_some_and(|l| l.kind == "Embedding")
    };
    let mut out: Vec<(String, f64)> = first
        .params
        .iter()
        .filter(|(n, p)| !n.ends_with("bias") && p.numel > 1 && !sparse(n))
        .filter_map(|(name, _)| {
            let v: Vec<f64> = signals
                .iter()
                .filter_map(|s| s.params.get(name))
                .map(|p| p.grad_norm.0 / (p.numel as f64).sqrt())
                .collect();
            median(v).map(|m| (name.clone(), m))
        })
        .collect();
    out.sort_by_key(|(n, _)| (layer_index(n).unwrap_or(usize::MAX), n.clone()));
    out
}

fn layer_name(name: &str, v: &View<'_>) -> String {
    match layer_index(name).and_then(|i| v.ctx.layers.get(i)) {
        Some(l) => format!("model.layers[{}] ({}, {name})", l.index, l.kind),
        None => name.to_string(),
    }
}

/// Every gradient detector.
pub(crate) fn detect(v: &View<'_>) -> Vec<Finding> {
    let mut out = Vec::new();
    out.extend(vanishing(v));
    out.extend(exploding(v));
    out.extend(dead_units(v));
    out
}

/// Hidden Sigmoid/Tanh layers (not the output).
fn saturating_layers(v: &View<'_>) -> Vec<usize> {
    let last = v.ctx.layers.len().saturating_sub(1);
    v.ctx
        .layers
        .iter()
        .filter(|l| matches!(l.kind.as_str(), "Sigmoid" | "Tanh") && l.index < last)
        .map(|l| l.index)
        .collect()
}

/// First layers with far smaller gradients than the last, or Sigmoid/Tanh layers mostly
/// saturated.
fn vanishing(v: &View<'_>) -> Option<Finding> {
    let grads = weight_grads(v.signals, &v.ctx.layers);
    let span = match (grads.first(), grads.last()) {
        (Some(f), Some(l)) if grads.len() >= 2 && l.1 > 0.0 && f.1 < VANISH_SPAN * l.1 => {
            Some((f.clone(), l.clone()))
        }
        _ => None,
    };
    let saturated: Vec<(String, f64)> = v
        .signals
        .iter()
        .rev()
        .find(|s| s.probed)
        .map(|s| {
            s.saturation
                .iter()
                .filter(|(_, x)| x.fraction > SATURATED)
                .map(|(n, x)| (n.clone(), x.fraction))
                .collect()
        })
        .unwrap_or_default();
    if span.is_none() && saturated.is_empty() {
        return None;
    }
    let sat_layers = saturating_layers(v);
    let id = if sat_layers.is_empty() {
        "vanishing_gradients"
    } else {
        "saturating_activations"
    };
    let title = if sat_layers.is_empty() {
        "vanishing gradients: the first layers get far smaller gradients than the last".to_string()
    } else {
        format!(
            "saturating activations: {} Sigmoid/Tanh layer(s) squash the signal and the gradients vanish",
            sat_layers.len()
        )
    };
    let mut f = Finding::new(id, Severity::Mild, title);
    if let Some(((fname, fg), (lname, lg))) = &span {
        f = f.evidence(format!(
            "RMS gradient per element (median over epochs): {} {} vs {} {} ({:.0}x smaller)",
            layer_name(fname, v),
            fmt(*fg),
            layer_name(lname, v),
            fmt(*lg),
            lg / fg.max(1e-300)
        ));
    }
    for (n, x) in &saturated {
        f = f.evidence(format!(
            "model.layers[{n}]: {:.0}% of its outputs within {} of the bounds (probe batch)",
            100.0 * x,
            crate::signals::SATURATED_WITHIN
        ));
    }
    Some(
        f.remedy(fixes::replace_layers(
            &sat_layers,
            json!({"type": "ReLU"}),
            "ReLU does not saturate",
        ))
        .remedy(fixes::adam(v.ctx)),
    )
}

/// Gradient norms far above normal, spiking in recurrent weights, or growing from the last
/// layer to the first.
fn exploding(v: &View<'_>) -> Option<Finding> {
    let mut f = Finding::new(
        "exploding_gradients",
        Severity::Warning,
        "exploding gradients: gradient norms far above normal",
    );
    let recurrent = v.ctx.is_recurrent();
    let mut hit = false;
    let mut exploding = Vec::new();
    for s in v.signals {
        for (name, p) in &s.params {
            let spike = p.grad_norm_max.0 / p.grad_norm.0.max(1e-30);
            let huge = p.grad_norm_max.0 > HUGE_GRAD || !p.grad_norm_max.0.is_finite();
            let through_time = recurrent && name.contains("weight_hh") && spike > GRAD_SPIKE;
            if (huge || through_time) && !exploding.contains(name) {
                exploding.push(name.clone());
            }
            if (huge || through_time) && !hit {
                f = f.evidence(format!(
                    "epoch {}: gradient norm of {} up to {} (mean {} over the sampled steps)",
                    s.epoch,
                    layer_name(name, v),
                    fmt(p.grad_norm_max.0),
                    fmt(p.grad_norm.0)
                ));
                hit = true;
            }
        }
    }
    let grads = weight_grads(v.signals, &v.ctx.layers);
    if let (Some(first), Some(last)) = (grads.first(), grads.last()) {
        if grads.len() >= 2 && first.1 > last.1 / VANISH_SPAN {
            f = f.evidence(format!(
                "RMS gradient per element: {} {} vs {} {}",
                layer_name(&first.0, v),
                fmt(first.1),
                layer_name(&last.0, v),
                fmt(last.1)
            ));
            hit = true;
        }
    }
    if !hit {
        return None;
    }
    if recurrent {
        f.title = "exploding gradients through time: the recurrent weights' gradients spike".into();
    }
    // An initialization the experiment chose for the exploding weights comes first; once the
    // norm is clipped and gradients still explode, a gated layer before clipping harder.
    let f = f.remedy(fixes::restore_init(v.ctx, &exploding));
    let clipped = v.ctx.get("train", "clip_grad_norm").as_f64().is_some();
    Some(if clipped {
        f.remedy(fixes::gated_recurrent(v.ctx))
            .remedy(fixes::clip(v.ctx))
    } else {
        f.remedy(fixes::clip(v.ctx))
            .remedy(fixes::gated_recurrent(v.ctx))
    })
}

/// ReLU layers whose units output zero for every probe sample.
fn dead_units(v: &View<'_>) -> Option<Finding> {
    let last = v.signals.iter().rev().find(|s| s.probed)?;
    let mut dead: Vec<(&String, &crate::signals::DeadUnits)> = last
        .dead_units
        .iter()
        .filter(|(_, d)| d.fraction > DEAD_FRACTION)
        .collect();
    if dead.is_empty() {
        return None;
    }
    dead.sort_by_key(|(n, _)| n.parse::<usize>().unwrap_or(usize::MAX));
    let worst = dead.iter().map(|(_, d)| d.fraction).fold(0.0, f64::max);
    let severity = if worst >= 0.9 && v.learned_nothing() {
        Severity::Severe
    } else if worst > 0.5 {
        Severity::Warning
    } else {
        Severity::Mild
    };
    let mut f = Finding::new(
        "dead_units",
        severity,
        format!(
            "dead ReLUs: up to {:.0}% of a layer's units output zero for every input",
            100.0 * worst
        ),
    );
    for (name, d) in &dead {
        let since = v
            .signals
            .iter()
            .find(|s| {
                s.dead_units
                    .get(*name)
                    .is_some_and(|x| x.fraction > DEAD_FRACTION)
            })
            .map_or(last.epoch, |s| s.epoch);
        f = f.evidence(format!(
            "model.layers[{name}] ({}): {} of {} units dead at epoch {} ({:.0}%; above {:.0}% since epoch {since})",
            d.layer_type,
            d.dead,
            d.units,
            last.epoch,
            100.0 * d.fraction,
            100.0 * DEAD_FRACTION
        ));
    }
    let indices: Vec<usize> = dead.iter().filter_map(|(n, _)| n.parse().ok()).collect();
    Some(
        f.remedy(fixes::replace_layers(
            &indices,
            json!({"type": "LeakyReLU", "negative_slope": 0.01}),
            "LeakyReLU units cannot die",
        ))
        .remedy(fixes::scale_lr(
            v.ctx,
            0.3,
            "smaller early updates kill fewer units",
        )),
    )
}
