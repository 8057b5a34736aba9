//! Root cause first: which finding explains which, and how the findings of a run become one
//! primary finding with its symptoms under it, plus the independent findings, with no remedy
//! pulling a setting the other way from a more important one.

use super::{Finding, Severity};

/// Finding ids from the most fundamental cause to the plainest symptom: when two findings
/// could explain each other, the earlier one is the cause. Ties in severity between
/// independent causes are broken in this order too.
pub const PRIORITY: [&str; 20] = [
    "loss_mismatch",
    "nonfinite_data",
    "unscaled_targets",
    "unscaled_inputs",
    "exploding_gradients",
    "lr_too_high",
    "saturating_activations",
    "vanishing_gradients",
    "lr_too_low",
    "label_noise",
    "dead_units",
    "class_imbalance",
    "model_too_small",
    "training_too_short",
    "overfitting",
    "divergence",
    "input_bound",
    "slow_layer",
    "slow_step",
    "incomplete",
];

fn rank(id: &str) -> usize {
    PRIORITY
        .iter()
        .position(|p| *p == id)
        .unwrap_or(PRIORITY.len())
}

/// Whether the finding `cause` explains the finding `symptom` when both are present.
/// `recurrent`: the model has a recurrent layer, where exploding gradients (through time) are
/// a cause of their own that explains a diverging or oscillating loss; elsewhere an lr too
/// high explains large gradients.
pub fn explains(cause: &str, symptom: &str, recurrent: bool) -> bool {
    const SPEED: [&str; 3] = ["input_bound", "slow_layer", "slow_step"];
    const UNDERFIT: [&str; 2] = ["model_too_small", "training_too_short"];
    if cause == symptom {
        return false;
    }
    let under = UNDERFIT.contains(&symptom);
    match cause {
        "loss_mismatch" => !SPEED.contains(&symptom) && symptom != "nonfinite_data",
        "nonfinite_data" => matches!(
            symptom,
            "divergence" | "lr_too_high" | "exploding_gradients" | "dead_units"
        ),
        "unscaled_targets" | "unscaled_inputs" => {
            under
                || matches!(
                    symptom,
                    "divergence"
                        | "lr_too_high"
                        | "lr_too_low"
                        | "exploding_gradients"
                        | "dead_units"
                        | "saturating_activations"
                        | "vanishing_gradients"
                )
        }
        "exploding_gradients" => symptom == "divergence" || (recurrent && symptom == "lr_too_high"),
        "lr_too_high" => {
            under
                || matches!(
                    symptom,
                    "divergence" | "dead_units" | "saturating_activations" | "class_imbalance"
                )
                || (!recurrent && symptom == "exploding_gradients")
        }
        "saturating_activations" => {
            under || matches!(symptom, "vanishing_gradients" | "lr_too_low")
        }
        "vanishing_gradients" => under || symptom == "lr_too_low",
        "lr_too_low" | "dead_units" => under,
        "label_noise" => under || symptom == "overfitting",
        _ => false,
    }
}

/// The precedence used for `cause` in this model (exploding gradients rank after an lr too
/// high outside recurrent models).
fn rank_in(id: &str, recurrent: bool) -> usize {
    if id == "exploding_gradients" && !recurrent {
        rank("lr_too_high") * 2 + 1
    } else {
        rank(id) * 2
    }
}

/// Orders `found` root cause first: every finding another present finding explains goes under
/// the root of its explainer as a symptom (the root takes the symptom's severity if higher);
/// the primary is the most severe root (ties by [`PRIORITY`]); remedies that contradict a
/// remedy of a finding listed before them are dropped.
pub(crate) fn resolve(mut found: Vec<Finding>, recurrent: bool) -> Vec<Finding> {
    found.sort_by_key(|f| rank_in(f.id, recurrent));
    // parent[i]: the most fundamental present finding that explains finding i.
    let parent: Vec<Option<usize>> = (0..found.len())
        .map(|i| {
            (0..found.len())
                .filter(|&j| j != i && explains(found[j].id, found[i].id, recurrent))
                .min_by_key(|&j| rank_in(found[j].id, recurrent))
        })
        .collect();
    let root = |mut i: usize| {
        let mut steps = 0;
        while let Some(p) = parent[i] {
            i = p;
            steps += 1;
            if steps > found.len() {
                break;
            }
        }
        i
    };
    let roots: Vec<usize> = (0..found.len()).filter(|&i| parent[i].is_none()).collect();
    let mut out: Vec<Finding> = Vec::new();
    for &r in &roots {
        let mut f = found[r].clone();
        for i in (0..found.len()).filter(|&i| i != r && root(i) == r) {
            f.severity = f.severity.max(found[i].severity);
            f.explains.push(found[i].as_symptom());
            f.marks.extend(found[i].marks.iter().cloned());
        }
        out.push(f);
    }
    // Most severe first; the order above (precedence) breaks ties.
    out.sort_by_key(|f| std::cmp::Reverse(f.severity));
    drop_contradictions(&mut out);
    out
}

/// Removes every remedy that contradicts a remedy listed before it (the primary's first).
fn drop_contradictions(findings: &mut [Finding]) {
    let mut kept: Vec<super::Remedy> = Vec::new();
    for f in findings.iter_mut() {
        f.remedies
            .retain(|r| !kept.iter().any(|k| k.contradicts(r)));
        kept.extend(f.remedies.iter().cloned());
    }
}

/// The severity a finding's cost deserves, from the share of the metric it costs.
pub(crate) fn severity_of_cost(cost: f64) -> Severity {
    if cost >= 0.2 {
        Severity::Severe
    } else if cost >= 0.03 {
        Severity::Warning
    } else if cost > 0.005 {
        Severity::Mild
    } else {
        Severity::Info
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::diagnose::remedy::{Change, Direction, Knob, Remedy};

    #[test]
    fn explanation_is_never_circular() {
        for a in PRIORITY {
            for b in PRIORITY {
                for rec in [false, true] {
                    assert!(
                        !(explains(a, b, rec) && explains(b, a, rec)),
                        "{a} and {b} explain each other"
                    );
                    if explains(a, b, rec) {
                        assert!(rank_in(a, rec) < rank_in(b, rec), "{a} ranks after {b}");
                    }
                }
            }
        }
    }

    #[test]
    fn the_lr_is_the_cause_of_dead_units_and_divergence() {
        let dead = Finding::new("dead_units", Severity::Warning, "dead");
        let div = Finding::new("divergence", Severity::Severe, "nan");
        let lr = Finding::new("lr_too_high", Severity::Warning, "lr").remedy(Some(
            Remedy::new(vec![Change::set("optimizer.lr", 0.01)], "lower")
                .moving(Knob::Lr, Direction::Down),
        ));
        let slow = Finding::new("slow_step", Severity::Info, "slow");
        let out = resolve(vec![dead, div, slow, lr], false);
        assert_eq!(out[0].id, "lr_too_high");
        assert_eq!(out[0].severity, Severity::Severe);
        let ids: Vec<&str> = out[0].explains.iter().map(|s| s.id).collect();
        assert_eq!(ids, vec!["dead_units", "divergence"]);
        assert_eq!(out.len(), 2);
    }

    #[test]
    fn contradicting_remedies_of_later_findings_are_dropped() {
        let over = Finding::new("overfitting", Severity::Warning, "o").remedy(Some(
            Remedy::new(
                vec![Change::set("model.layers[1].out_features", 64)],
                "smaller",
            )
            .moving(Knob::Capacity, Direction::Down),
        ));
        let slow = Finding::new("input_bound", Severity::Mild, "s").remedy(Some(
            Remedy::new(
                vec![Change::set("model.layers[1].out_features", 512)],
                "wider",
            )
            .moving(Knob::Capacity, Direction::Up),
        ));
        let out = resolve(vec![slow, over], false);
        assert_eq!(out[0].id, "overfitting");
        assert!(out[1].remedies.is_empty());
    }
}
