//! Detectors on the per-parameter and per-layer signals: exploding / vanishing gradients and
//! dead units.

use super::curves::fmt;
use super::{Finding, RunContext, Severity};
use crate::signals::EpochSignals;

/// Layers whose RMS gradient is below this share of the largest layer's are "vanishing"
/// (when they come before it), or the largest is above `1 / VANISH_SPAN` times the first
/// layer's ("exploding" from the input side).
pub const VANISH_SPAN: f64 = 1e-3;
/// A gradient norm above this is exploding outright.
pub const HUGE_GRAD: f64 = 1e3;
/// A ReLU layer with more than this share of dead units is reported.
pub const DEAD_FRACTION: f64 = 0.3;

/// The layer index of a state-dict name (`"3.weight"` -> 3).
fn layer_index(name: &str) -> Option<usize> {
    name.split('.').next()?.parse().ok()
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(|a, b| a.total_cmp(b));
    v[v.len() / 2]
}

/// (name, RMS gradient per element: median over epochs), in layer order.
fn weight_grads(signals: &[EpochSignals]) -> Vec<(String, f64)> {
    let Some(first) = signals.first() else {
        return Vec::new();
    };
    let mut out: Vec<(String, f64)> = first
        .params
        .iter()
        .filter(|(n, p)| !n.ends_with("bias") && p.numel > 1)
        .filter_map(|(name, _)| {
            let v: Vec<f64> = signals
                .iter()
                .filter_map(|s| s.params.get(name))
                .map(|p| p.grad_norm.0 / (p.numel as f64).sqrt())
                .filter(|g| g.is_finite())
                .collect();
            (!v.is_empty()).then(|| (name.clone(), median(v)))
        })
        .collect();
    out.sort_by_key(|(n, _)| (layer_index(n).unwrap_or(usize::MAX), n.clone()));
    out
}

fn layer_name(name: &str, ctx: &RunContext) -> String {
    match layer_index(name).and_then(|i| ctx.layers.get(i)) {
        Some(l) => format!("model.layers[{}] ({}, {name})", l.index, l.kind),
        None => name.to_string(),
    }
}

pub(crate) fn gradients(
    signals: &[EpochSignals],
    ctx: &RunContext,
    diverged: bool,
) -> Vec<Finding> {
    let mut out = Vec::new();
    let grads = weight_grads(signals);
    let activations: Vec<String> = ctx
        .layers
        .iter()
        .filter(|l| matches!(l.kind.as_str(), "Sigmoid" | "Tanh"))
        .map(|l| format!("model.layers[{}]", l.index))
        .collect();
    if grads.len() >= 2 {
        let (first_name, first) = &grads[0];
        let (last_name, last) = &grads[grads.len() - 1];
        let max = grads.iter().map(|g| g.1).fold(0.0, f64::max);
        if *first < VANISH_SPAN * last && *last > 0.0 {
            let small: Vec<String> = grads
                .iter()
                .filter(|(_, g)| *g < VANISH_SPAN * max)
                .map(|(n, g)| format!("{} {}", layer_name(n, ctx), fmt(*g)))
                .collect();
            let mut f = Finding::new(
                "vanishing_gradients",
                Severity::Warning,
                format!(
                    "vanishing gradients: the first layers get {:.0}x smaller gradients than the last",
                    last / first.max(1e-300)
                ),
            )
            .evidence(format!(
                "RMS gradient per element (median over epochs): {} {} vs {} {}",
                layer_name(first_name, ctx),
                fmt(*first),
                layer_name(last_name, ctx),
                fmt(*last)
            ))
            .evidence(format!(
                "layers below {} of the largest: {}",
                fmt(VANISH_SPAN),
                small.join(", ")
            ))
            .evidence(format!(
                "all layers: {}",
                grads
                    .iter()
                    .map(|(n, g)| format!("{n} {}", fmt(*g)))
                    .collect::<Vec<_>>()
                    .join(", ")
            ));
            if !activations.is_empty() {
                f = f.recommend(format!(
                    "replace the saturating activations {} with {{ type = \"ReLU\" }} (or GELU)",
                    activations.join(", ")
                ));
            }
            f = f
                .recommend("add { type = \"BatchNorm1d\", num_features = N } after the Linear layers, or use fewer layers")
                .recommend("use an adaptive optimizer: [optimizer] type = \"Adam\", lr = 1e-3");
            out.push(f);
        } else if *first > last / VANISH_SPAN && !diverged {
            out.push(
                Finding::new(
                    "exploding_gradients",
                    Severity::Warning,
                    "exploding gradients: the first layers get far larger gradients than the last",
                )
                .evidence(format!(
                    "RMS gradient per element: {} {} vs {} {}",
                    layer_name(first_name, ctx),
                    fmt(*first),
                    layer_name(last_name, ctx),
                    fmt(*last)
                ))
                .recommend("set train.clip_grad_norm = 1.0")
                .recommend(
                    "add normalization layers (BatchNorm1d / LayerNorm) or lower optimizer.lr",
                ),
            );
        }
    }
    // Huge gradient norms outright (not already explained by a divergence).
    if !diverged && !out.iter().any(|f| f.id == "exploding_gradients") {
        let huge: Vec<(usize, String, f64)> = signals
            .iter()
            .flat_map(|s| {
                s.params
                    .iter()
                    .filter(|(_, p)| {
                        p.grad_norm_max.0 > HUGE_GRAD || !p.grad_norm_max.0.is_finite()
                    })
                    .map(|(n, p)| (s.epoch, n.clone(), p.grad_norm_max.0))
                    .collect::<Vec<_>>()
            })
            .collect();
        if let Some((epoch, name, g)) = huge.iter().max_by(|a, b| a.2.total_cmp(&b.2)) {
            out.push(
                Finding::new(
                    "exploding_gradients",
                    Severity::Warning,
                    "exploding gradients: gradient norms far above normal",
                )
                .evidence(format!(
                    "largest gradient norm {} in {} at epoch {epoch} (threshold {})",
                    fmt(*g),
                    layer_name(name, ctx),
                    fmt(HUGE_GRAD)
                ))
                .evidence(format!(
                    "{} parameter-epochs above the threshold",
                    huge.len()
                ))
                .recommend("set train.clip_grad_norm = 1.0")
                .recommend("lower optimizer.lr (run `tuna lr-find`)"),
            );
        }
    }
    out
}

pub(crate) fn dead_units(signals: &[EpochSignals], ctx: &RunContext) -> Vec<Finding> {
    let Some(last) = signals.last() else {
        return Vec::new();
    };
    let mut dead: Vec<(&String, &crate::signals::DeadUnits)> = last
        .dead_units
        .iter()
        .filter(|(_, d)| d.fraction > DEAD_FRACTION)
        .collect();
    if dead.is_empty() {
        return Vec::new();
    }
    dead.sort_by_key(|(n, _)| n.parse::<usize>().unwrap_or(usize::MAX));
    let worst = dead.iter().map(|(_, d)| d.fraction).fold(0.0, f64::max);
    let mut f = Finding::new(
        "dead_units",
        if worst > 0.5 {
            Severity::Warning
        } else {
            Severity::Mild
        },
        format!(
            "dead ReLUs: up to {:.0}% of a layer's units output zero for every input",
            100.0 * worst
        ),
    );
    for (name, d) in &dead {
        let first_epoch = signals
            .iter()
            .find(|s| {
                s.dead_units
                    .get(*name)
                    .is_some_and(|x| x.fraction > DEAD_FRACTION)
            })
            .map(|s| s.epoch)
            .unwrap_or(last.epoch);
        f = f.evidence(format!(
            "model.layers[{name}] ({}): {} of {} units dead at epoch {} ({:.0}%; above {:.0}% since epoch {first_epoch})",
            d.layer_type,
            d.dead,
            d.units,
            last.epoch,
            100.0 * d.fraction,
            100.0 * DEAD_FRACTION
        ));
    }
    let names: Vec<String> = dead
        .iter()
        .map(|(n, _)| format!("model.layers[{n}]"))
        .collect();
    f = f
        .recommend(format!(
            "replace {} with {{ type = \"LeakyReLU\", negative_slope = 0.01 }}",
            names.join(", ")
        ))
        .recommend(match ctx.lr {
            Some(lr) => format!(
                "lower optimizer.lr (now {}): large early updates kill ReLUs",
                fmt(lr)
            ),
            None => "lower optimizer.lr: large early updates kill ReLUs".into(),
        });
    vec![f]
}
