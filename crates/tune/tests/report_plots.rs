//! The study plots of `tuna study show` say what they show: parameter names on the
//! parallel-coordinates axes and the importance bars, pruned trials marked, log axes for
//! log-uniform parameters, option names for choices.

use std::collections::BTreeMap;
use std::path::Path;

use serde_json::json;
use tuna_tune::report::plots;
use tuna_tune::search::SearchSpace;
use tuna_tune::storage::TrialRecord;
use tuna_tune::{FrozenTrial, ParamValue, TrialState};

fn space() -> SearchSpace {
    let file =
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../../examples/tune/mnist-mlp-space.toml");
    SearchSpace::load(&file).unwrap()
}

/// 16 trials over the example space: the loss falls with `scheduler.max_lr`; every 4th trial
/// is pruned after 3 epochs.
fn trials() -> Vec<TrialRecord> {
    (0..16u64)
        .map(|n| {
            let f = n as f64 / 15.0;
            let max_lr = 0.01 * 50f64.powf(f);
            let params = BTreeMap::from([
                ("scheduler.max_lr".to_string(), ParamValue::Float(max_lr)),
                (
                    "optimizer.weight_decay".to_string(),
                    ParamValue::Float(1e-6 * 1e4f64.powf((n * 7 % 16) as f64 / 15.0)),
                ),
                (
                    "model.layers[1].out_features".to_string(),
                    ParamValue::Int(128 + 64 * (n as i64 % 15)),
                ),
                ("model.layers[3].p".to_string(), ParamValue::Float(0.5 * f)),
                (
                    "model.layers[6].p".to_string(),
                    ParamValue::Float(0.5 - 0.5 * f),
                ),
                (
                    "loader.batch_size".to_string(),
                    ParamValue::Choice(n as usize % 3),
                ),
            ]);
            let pruned = n % 4 == 3;
            let epochs = if pruned { 3 } else { 8 };
            let final_loss = 0.5 - 0.3 * f;
            let intermediate: BTreeMap<u64, f64> = (1..=epochs)
                .map(|e| (e, final_loss + 0.5 / e as f64))
                .collect();
            TrialRecord {
                trial: FrozenTrial {
                    number: n,
                    state: if pruned {
                        TrialState::Pruned
                    } else {
                        TrialState::Complete
                    },
                    params,
                    value: Some(intermediate[&epochs]),
                    intermediate,
                },
                error: None,
                attrs: json!({}),
                seconds: Some(1.0),
            }
        })
        .collect()
}

#[test]
fn study_plots_name_their_parameters_and_mark_pruned_trials() {
    let space = space();
    let figs: BTreeMap<String, tuna_plot::Figure> = plots(&space, &trials()).into_iter().collect();
    let svg = |stem: &str| figs[stem].to_svg();
    let has = |svg: &str, word: &str| svg.contains(&format!(">{word}</text>"));

    let history = svg("history");
    for w in [
        "mnist-mlp: optimization history",
        "trial number",
        "val_loss",
        "best so far",
    ] {
        assert!(has(&history, w), "history: {w}");
    }
    let inter = svg("intermediate");
    for w in ["complete trial", "pruned trial", "pruned here", "epoch"] {
        assert!(has(&inter, w), "intermediate: {w}");
    }
    let imp = svg("importances");
    let par = svg("parallel_coordinates");
    for p in &space.params {
        assert!(has(&imp, &p.name), "importances: {}", p.name);
        assert!(
            has(&par, &p.name) || par.contains('…'),
            "parallel: {}",
            p.name
        );
    }
    // A bar per parameter, the most important first (on top).
    let bars = &figs["importances"].panels[0].bars;
    assert_eq!(bars.len(), space.params.len());
    assert!(bars.windows(2).all(|w| w[0].value >= w[1].value));
    // Axis ranges and choice options are written on the parallel-coordinates axes.
    for w in [
        "0.01",
        "0.5",
        "1e-6",
        "128",
        "1024",
        "32",
        "64",
        "best 25 %",
    ] {
        assert!(has(&par, w), "parallel: {w}");
    }
    // Log-uniform parameters get a log x axis; a choice its option names.
    assert!(figs["slice_scheduler_max_lr"].log_x);
    let choice = svg("slice_loader_batch_size");
    for w in ["32", "64", "128", "loader.batch_size"] {
        assert!(has(&choice, w), "slice: {w}");
    }
    for (stem, fig) in &figs {
        assert!(fig.to_png().unwrap().starts_with(b"\x89PNG"), "{stem}");
    }
}
