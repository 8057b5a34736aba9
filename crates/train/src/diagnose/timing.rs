//! Detectors on where step time goes: `input_bound`, `slow_layer` and `slow_step`.

use super::context::RunContext;
use super::fixes;
use super::{Finding, Severity};
use crate::signals::EpochSignals;

/// Data loading above this share of step time makes the run input-bound.
pub const INPUT_BOUND: f64 = 0.4;
/// A phase above this share of step time is reported as dominating it.
pub const DOMINANT: f64 = 0.5;
/// A `Linear` layer that dominates the forward time (above [`DOMINANT`], as a phase
/// dominates a step) ...
pub const SLOW_LAYER: f64 = DOMINANT;
/// ... that widens its input at least this many times ...
pub const SLOW_LAYER_EXPANSION: usize = 2;
/// ... into at least this many weights is a slow layer.
pub const SLOW_LAYER_WEIGHTS: usize = 1_000_000;

pub(crate) fn detect(signals: &[EpochSignals], ctx: &RunContext) -> Vec<Finding> {
    let mut t = [0.0f64; 5];
    for s in signals {
        t[0] += s.timing.data;
        t[1] += s.timing.forward;
        t[2] += s.timing.backward;
        t[3] += s.timing.optimizer;
        t[4] += s.timing.other;
    }
    let step: f64 = t[..4].iter().sum();
    if step <= 0.0 {
        return Vec::new();
    }
    let names = ["data", "forward", "backward", "optimizer"];
    let shares: Vec<String> = (0..4)
        .map(|i| format!("{} {:.0}%", names[i], 100.0 * t[i] / step))
        .collect();
    let share_line = format!(
        "step time {:.2} s over {} epoch(s): {}; outside steps (evaluation, checkpoints): {:.2} s",
        step,
        signals.len(),
        shares.join(", "),
        t[4]
    );
    let mut out = Vec::new();
    let data = t[0] / step;
    if data > INPUT_BOUND {
        let severity = if data > 0.6 {
            Severity::Warning
        } else {
            Severity::Mild
        };
        out.push(
            Finding::new(
                "input_bound",
                severity,
                format!(
                    "training is input-bound: {:.0}% of step time goes to loading data",
                    100.0 * data
                ),
            )
            .evidence(share_line.clone())
            .evidence(format!("threshold {:.0}%", 100.0 * INPUT_BOUND))
            .remedy(fixes::batch_size(ctx, 4))
            .note(
                "pre-process the data once (normalize / decode ahead of time) instead of per batch",
            ),
        );
    }
    if let Some(f) = slow_layer(signals, ctx, &share_line) {
        out.push(f);
        return out;
    }
    let (i, share) = (1..4)
        .map(|i| (i, t[i] / step))
        .max_by(|a, b| a.1.total_cmp(&b.1))
        .unwrap_or((1, 0.0));
    if share > DOMINANT {
        let hint = match names[i] {
            "forward" | "backward" => {
                "the model's compute dominates: a larger loader.batch_size uses the cores better; smaller layers or fewer channels make it cheaper"
            }
            _ => "the optimizer step dominates: a larger loader.batch_size means fewer steps per epoch",
        };
        let mut finding = Finding::new(
            "slow_step",
            Severity::Info,
            format!("{} takes {:.0}% of step time", names[i], 100.0 * share),
        )
        .evidence(share_line);
        if let Some((i, kind, share)) = heaviest(signals) {
            finding = finding.evidence(format!(
                "model.layers[{i}] ({kind}) takes {:.0}% of the forward time (probe batch, eval mode)",
                100.0 * share
            ));
        }
        out.push(finding.note(hint));
    }
    out
}

/// The top-level layer with the largest share of the probe's forward time: (index, type,
/// share).
fn heaviest(signals: &[EpochSignals]) -> Option<(usize, String, f64)> {
    let mut total: std::collections::BTreeMap<&str, (f64, &str)> =
        std::collections::BTreeMap::new();
    for s in signals {
        for (name, t) in &s.layer_forward {
            let e = total
                .entry(name.as_str())
                .or_insert((0.0, t.layer_type.as_str()));
            e.0 += t.seconds;
        }
    }
    let sum: f64 = total.values().map(|v| v.0).sum();
    let (name, (secs, kind)) = total.iter().max_by(|a, b| a.1 .0.total_cmp(&b.1 .0))?;
    (sum > 0.0).then(|| (name.parse().unwrap_or(0), kind.to_string(), secs / sum))
}

/// One hidden `Linear` layer that takes most of the compute by widening its input into
/// millions of weights: narrowing it is where a faster model starts.
fn slow_layer(signals: &[EpochSignals], ctx: &RunContext, share_line: &str) -> Option<Finding> {
    let (index, kind, share) = heaviest(signals)?;
    let layer = ctx.layers.get(index)?;
    let width = layer.width?;
    let inputs = layer.spec["in_features"].as_u64()? as usize;
    if kind != "Linear"
        || share < SLOW_LAYER
        || width < SLOW_LAYER_EXPANSION * inputs
        || width * inputs < SLOW_LAYER_WEIGHTS
    {
        return None;
    }
    Some(
        Finding::new(
            "slow_layer",
            Severity::Mild,
            format!(
                "model.layers[{index}] ({kind}, {width} wide) takes {:.0}% of the forward time",
                100.0 * share
            ),
        )
        .evidence(share_line.to_string())
        .evidence(format!(
            "it widens {inputs} inputs into {width} units: {} weights",
            width * inputs
        ))
        .remedy(fixes::narrower_layer(ctx, index)),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::signals::{LayerTime, Timing};

    #[test]
    fn slow_step_names_the_heaviest_layer() {
        let mut s = EpochSignals {
            epoch: 1,
            timing: Timing {
                forward: 0.3,
                backward: 0.6,
                optimizer: 0.1,
                ..Timing::default()
            },
            ..EpochSignals::default()
        };
        for (i, kind, secs) in [
            (0, "Conv2d", 0.01),
            (3, "Conv2d", 0.03),
            (7, "Linear", 0.002),
        ] {
            s.layer_forward.insert(
                i.to_string(),
                LayerTime {
                    layer_type: kind.into(),
                    seconds: secs,
                },
            );
        }
        let f = detect(&[s.clone(), s], &RunContext::default());
        let slow = f.iter().find(|f| f.id == "slow_step").expect("slow_step");
        assert!(slow.title.contains("backward takes 60%"), "{}", slow.title);
        assert!(
            slow.evidence
                .iter()
                .any(|e| e.contains("model.layers[3] (Conv2d) takes 71%")),
            "{:?}",
            slow.evidence
        );
    }
}
