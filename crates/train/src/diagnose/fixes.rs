//! The remedies findings suggest, each built only when the experiment's plugins have the
//! setting (`data.normalize` for Mnist, `data.standardize` for Csv, `scheduler.max_lr` when
//! OneCycleLR sets the lr, a `Linear` after the layer that is widened, ...). `None` means the
//! experiment has no setting for it.

use serde_json::{json, Value};

use super::context::RunContext;
use super::remedy::{Change, Direction, Knob, Remedy};

/// `x` rounded to 2 significant digits (what goes into a config).
pub(crate) fn round2(x: f64) -> f64 {
    if x == 0.0 || !x.is_finite() {
        return x;
    }
    format!("{x:.1e}").parse().unwrap_or(x)
}

/// The lr setting in control scaled by `factor` (both bounds of CyclicLR).
pub(crate) fn scale_lr(ctx: &RunContext, factor: f64, why: &str) -> Option<Remedy> {
    let (knob, value) = ctx.lr_knob()?;
    let mut changes = vec![Change::set(knob, round2(value * factor))];
    if ctx.scheduler.as_deref() == Some("CyclicLR") {
        if let Some(base) = ctx.get("scheduler", "base_lr").as_f64() {
            changes.push(Change::set("scheduler.base_lr", round2(base * factor)));
        }
    }
    let dir = if factor < 1.0 {
        Direction::Down
    } else {
        Direction::Up
    };
    Some(Remedy::new(changes, why).moving(Knob::Lr, dir))
}

/// `--unset scheduler` when a schedule raised the lr to `peak`, over twice `optimizer.lr`,
/// before the run diverged: the schedule set the lr that diverged, so lowering
/// `optimizer.lr` alone would only delay the blow-up. Warm-up-and-anneal schedules are left
/// out: their peak is `scheduler.max_lr`, which [`scale_lr`] lowers.
pub(crate) fn drop_raising_schedule(ctx: &RunContext, peak: f64) -> Option<Remedy> {
    let schedule = ctx.scheduler.as_deref()?;
    let start = ctx.lr?;
    if matches!(schedule, "OneCycleLR" | "CyclicLR") || peak.is_nan() || peak <= 2.0 * start {
        return None;
    }
    Some(
        Remedy::new(
            vec![Change::unset("scheduler")],
            format!(
                "{schedule} raised the lr from {start:e} to {peak:e} before the loss diverged: keep the starting lr"
            ),
        )
        .moving(Knob::Lr, Direction::Down),
    )
}

/// `train.clip_grad_norm = 1.0` (or half the current one).
pub(crate) fn clip(ctx: &RunContext) -> Option<Remedy> {
    let current = ctx.get("train", "clip_grad_norm").as_f64();
    let value = current.map_or(1.0, |c| round2(c / 4.0));
    Some(Remedy::new(
        vec![Change::set("train.clip_grad_norm", value)],
        "clip the gradient norm",
    ))
}

/// Standardized inputs, where the data plugin has the setting.
pub(crate) fn scale_inputs(ctx: &RunContext) -> Option<Remedy> {
    let (path, why) = match ctx.data_type()? {
        "Mnist" => ("data.normalize", "normalize the pixels to mean 0, std 1"),
        "Csv" => (
            "data.standardize",
            "standardize every feature (training-split statistics)",
        ),
        _ => return None,
    };
    (ctx.config["data"][path.trim_start_matches("data.")] != json!(true))
        .then(|| Remedy::new(vec![Change::set(path, true)], why))
}

/// Standardized regression targets (Csv).
pub(crate) fn scale_targets(ctx: &RunContext) -> Option<Remedy> {
    (ctx.data_type()? == "Csv" && ctx.config["data"]["standardize_target"] != json!(true)).then(
        || {
            Remedy::new(
                vec![Change::set("data.standardize_target", true)],
                "standardize the targets for training (losses and metrics stay in the original units)",
            )
        },
    )
}

/// Csv cells `inf`/`-inf` read as missing (and imputed) along with pandas' defaults.
pub(crate) fn missing_infinities(ctx: &RunContext) -> Option<Remedy> {
    if ctx.data_type()? != "Csv" {
        return None;
    }
    let mut values: Vec<Value> = match ctx.config["data"]["na_values"].as_array() {
        Some(a) => a.clone(),
        None => tuna_data::DEFAULT_NA_VALUES
            .iter()
            .map(|s| json!(s))
            .collect(),
    };
    for extra in ["inf", "-inf", "Infinity", "-Infinity"] {
        if !values.contains(&json!(extra)) {
            values.push(json!(extra));
        }
    }
    Some(Remedy::new(
        vec![Change::set("data.na_values", Value::Array(values))],
        "read infinite cells as missing (imputed from the training split)",
    ))
}

/// `data.train_subset` removed (Mnist): train on all the training digits.
pub(crate) fn more_data(ctx: &RunContext) -> Option<Remedy> {
    (ctx.data_type()? == "Mnist" && ctx.config["data"]["train_subset"].is_u64()).then(|| {
        Remedy::new(
            vec![Change::unset("data.train_subset")],
            "train on the whole training split",
        )
        .moving(Knob::Data, Direction::Up)
    })
}

/// Indices of the layers of a `Sequential` (empty otherwise).
fn layers(ctx: &RunContext) -> &[super::LayerInfo] {
    &ctx.layers
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

/// Dropout switched on, raised, or added after the last hidden activation.
pub(crate) fn dropout(ctx: &RunContext) -> Option<Remedy> {
    let ls = layers(ctx);
    let remedy =
        |changes, why: &str| Remedy::new(changes, why).moving(Knob::Regularization, Direction::Up);
    if let Some(d) = ls.iter().find(|l| l.kind == "Dropout") {
        let p = d.spec["p"].as_f64().unwrap_or(0.5);
        if p >= 0.5 {
            return None;
        }
        let new = if p <= 0.0 {
            0.2
        } else {
            round2((p + 0.2).min(0.5))
        };
        let path = format!("model.layers[{}].p", d.index);
        return Some(remedy(vec![Change::set(path, new)], "more dropout"));
    }
    let last_trainable = ls.iter().rev().find(|l| l.kind == "Linear")?.index;
    let act = ls
        .iter()
        .filter(|l| l.index < last_trainable && is_activation(&l.kind))
        .map(|l| l.index)
        .next_back()?;
    let mut specs: Vec<Value> = ls.iter().map(|l| l.spec.clone()).collect();
    specs.insert(act + 1, json!({"type": "Dropout", "p": 0.2}));
    Some(remedy(
        vec![Change::set("model.layers", Value::Array(specs))],
        "add Dropout(0.2) before the last Linear",
    ))
}

/// Weight decay on (or 10x stronger).
pub(crate) fn weight_decay(ctx: &RunContext) -> Option<Remedy> {
    let opt = ctx.optimizer.as_deref()?;
    if !matches!(
        opt,
        "SGD" | "Adam" | "AdamW" | "RMSprop" | "NAdam" | "RAdam" | "Adagrad"
    ) {
        return None;
    }
    let wd = ctx.get("optimizer", "weight_decay").as_f64().unwrap_or(0.0);
    let new = if wd > 0.0 {
        round2(wd * 10.0)
    } else if opt == "AdamW" {
        0.05
    } else {
        5e-4
    };
    if new > 0.5 {
        return None;
    }
    Some(
        Remedy::new(
            vec![Change::set("optimizer.weight_decay", new)],
            "stronger weight decay",
        )
        .moving(Knob::Regularization, Direction::Up),
    )
}

/// Early stopping on the validation loss, restoring the best weights.
pub(crate) fn early_stopping(ctx: &RunContext) -> Option<Remedy> {
    if ctx.has_early_stopping {
        return None;
    }
    Some(
        Remedy::new(
            vec![Change::set(
                "train.early_stopping",
                json!({"monitor": "val_loss", "patience": 3, "restore_best": true}),
            )],
            "stop when the validation loss stops improving, keep the best weights",
        )
        .moving(Knob::Epochs, Direction::Down),
    )
}

/// The widest (or narrowest) hidden `Linear` whose output feeds a `Linear` (through
/// activations, dropout or normalization that keeps the width): its index and the next
/// Linear's.
fn hidden_linear(ctx: &RunContext, widest: bool) -> Option<(usize, usize, usize)> {
    let ls = layers(ctx);
    let mut best: Option<(usize, usize, usize)> = None;
    for l in ls.iter().filter(|l| l.kind == "Linear") {
        let Some(width) = l.width else { continue };
        let Some(next) = ls[l.index + 1..]
            .iter()
            .find(|n| !(is_activation(&n.kind) || n.kind.starts_with("Dropout")))
        else {
            continue;
        };
        if next.kind != "Linear" {
            continue;
        }
        let better = best.is_none_or(|(_, _, w)| if widest { width > w } else { width < w });
        if better {
            best = Some((l.index, next.index, width));
        }
    }
    best
}

fn resize(ctx: &RunContext, widest: bool, factor: f64, why: &str) -> Option<Remedy> {
    let (i, next, width) = hidden_linear(ctx, widest)?;
    let new = ((width as f64 * factor).round() as usize).max(4);
    if new == width {
        return None;
    }
    let dir = if new > width {
        Direction::Up
    } else {
        Direction::Down
    };
    Some(
        Remedy::new(
            vec![
                Change::set(format!("model.layers[{i}].out_features"), new),
                Change::set(format!("model.layers[{next}].in_features"), new),
            ],
            format!("{why} (model.layers[{i}]: {width} -> {new} units)"),
        )
        .moving(Knob::Capacity, dir),
    )
}

/// The narrowest hidden Linear layer 4x wider (at least 64 units).
pub(crate) fn wider_model(ctx: &RunContext) -> Option<Remedy> {
    let (_, _, width) = hidden_linear(ctx, false)?;
    let factor = (64.0 / width as f64).max(4.0);
    resize(ctx, false, factor, "a wider hidden layer")
}

/// The widest hidden Linear layer halved.
pub(crate) fn smaller_model(ctx: &RunContext) -> Option<Remedy> {
    resize(ctx, true, 0.5, "a smaller model")
}

/// The widest hidden Linear layer 4x narrower (a layer that takes most of the time).
pub(crate) fn narrower_layer(ctx: &RunContext, index: usize) -> Option<Remedy> {
    let (i, _, _) = hidden_linear(ctx, true)?;
    (i == index).then(|| resize(ctx, true, 0.25, "a narrower layer"))?
}

/// Weight decay and dropout lowered (they hold back a model that under-fits).
pub(crate) fn less_regularization(ctx: &RunContext) -> Option<Remedy> {
    let mut changes = Vec::new();
    if ctx.get("optimizer", "weight_decay").as_f64().unwrap_or(0.0) > 0.0 {
        changes.push(Change::set("optimizer.weight_decay", 0.0));
    }
    for l in layers(ctx).iter().filter(|l| l.kind == "Dropout") {
        if l.spec["p"].as_f64().unwrap_or(0.5) > 0.0 {
            changes.push(Change::set(format!("model.layers[{}].p", l.index), 0.0));
        }
    }
    (!changes.is_empty()).then(|| {
        Remedy::new(changes, "less regularization").moving(Knob::Regularization, Direction::Down)
    })
}

/// `train.epochs = n`.
pub(crate) fn epochs(ctx: &RunContext, n: usize) -> Option<Remedy> {
    if ctx.epochs_planned.is_some_and(|e| e >= n) {
        return None;
    }
    Some(
        Remedy::new(
            vec![Change::set("train.epochs", n)],
            format!("train longer ({n} epochs)"),
        )
        .moving(Knob::Epochs, Direction::Up),
    )
}

/// The given layers replaced by `replacement`.
pub(crate) fn replace_layers(indices: &[usize], replacement: Value, why: &str) -> Option<Remedy> {
    let changes: Vec<Change> = indices
        .iter()
        .map(|i| Change::set(format!("model.layers[{i}]"), replacement.clone()))
        .collect();
    (!changes.is_empty()).then(|| Remedy::new(changes, why))
}

/// Class weights `n / (C · n_c)` (scikit-learn's "balanced") for CrossEntropyLoss, or the
/// positive-class weight `n_0 / n_1` for BCEWithLogitsLoss.
pub(crate) fn class_weights(ctx: &RunContext) -> Option<Remedy> {
    let counts = &ctx.profile.as_ref()?.target.class_counts;
    let n: usize = counts.iter().sum();
    let c = counts.len();
    if c < 2 || counts.contains(&0) {
        return None;
    }
    let (path, value) = match ctx.loss()? {
        "CrossEntropyLoss" | "NLLLoss" => (
            "loss.weight",
            counts
                .iter()
                .map(|k| json!(round2(n as f64 / (c * k) as f64)))
                .collect(),
        ),
        "BCEWithLogitsLoss" if c == 2 => (
            "loss.pos_weight",
            vec![json!(round2(counts[0] as f64 / counts[1] as f64))],
        ),
        _ => return None,
    };
    if !ctx.config["loss"][path.trim_start_matches("loss.")].is_null() {
        return None;
    }
    Some(Remedy::new(
        vec![Change::set(path, Value::Array(value))],
        "weight the classes by their rarity",
    ))
}

/// A metric that shows every class (`f1`, macro-averaged) added to `train.metrics`.
pub(crate) fn class_metric(ctx: &RunContext) -> Option<Remedy> {
    let mut metrics: Vec<Value> = ctx.config["train"]["metrics"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    if metrics.iter().any(|m| m == "f1" || m == "recall") {
        return None;
    }
    metrics.push(json!("f1"));
    Some(Remedy::new(
        vec![Change::set("train.metrics", Value::Array(metrics))],
        "record the macro-averaged F1, which every class counts in",
    ))
}

/// `loss.label_smoothing = 0.1` (CrossEntropyLoss).
pub(crate) fn label_smoothing(ctx: &RunContext) -> Option<Remedy> {
    (ctx.loss()? == "CrossEntropyLoss"
        && ctx.config["loss"]["label_smoothing"]
            .as_f64()
            .unwrap_or(0.0)
            < 0.1)
        .then(|| {
            Remedy::new(
                vec![Change::set("loss.label_smoothing", 0.1)],
                "smooth the labels: wrong labels pull the model less",
            )
            .moving(Knob::Regularization, Direction::Up)
        })
}

/// `loader.batch_size` times `factor`.
pub(crate) fn batch_size(ctx: &RunContext, factor: usize) -> Option<Remedy> {
    let b = ctx.get("loader", "batch_size").as_u64().unwrap_or(1) as usize;
    Some(
        Remedy::new(
            vec![Change::set("loader.batch_size", b * factor)],
            format!("larger batches ({} -> {})", b, b * factor),
        )
        .moving(Knob::BatchSize, Direction::Up),
    )
}

/// `--unset init[i]`: the first `[[init]]` entry that re-initializes one of `params` (the
/// parameters whose gradients explode), so they start from the layers' default again.
pub(crate) fn restore_init(ctx: &RunContext, params: &[String]) -> Option<Remedy> {
    let entries = ctx.config.get("init")?.as_array()?;
    entries.iter().enumerate().find_map(|(i, entry)| {
        let init: Box<dyn tuna_nn::Initializer> = serde_json::from_value(entry.clone()).ok()?;
        let (select, exclude) = init.selection();
        let hit = params
            .iter()
            .find(|n| tuna_autograd::is_selected(select, exclude, n))?;
        Some(Remedy::new(
            vec![Change::unset(format!("init[{i}]"))],
            format!(
                "init[{i}] ({}) re-initializes {hit}: start it from the layer's default",
                init.name()
            ),
        ))
    })
}

/// A vanilla `RNN` layer replaced by a `GRU` of the same size.
pub(crate) fn gated_recurrent(ctx: &RunContext) -> Option<Remedy> {
    let l = layers(ctx).iter().find(|l| l.kind == "RNN")?;
    let mut spec = l.spec.as_object()?.clone();
    spec.remove("nonlinearity");
    spec.insert("type".into(), json!("GRU"));
    Some(Remedy::new(
        vec![Change::set(
            format!("model.layers[{}]", l.index),
            Value::Object(spec),
        )],
        "a gated recurrent layer (GRU) keeps its gradients in range",
    ))
}

/// A whole `[optimizer]` section: Adam at lr 1e-3.
pub(crate) fn adam(ctx: &RunContext) -> Option<Remedy> {
    if matches!(ctx.optimizer.as_deref(), Some("Adam" | "AdamW")) || ctx.scheduler.is_some() {
        return None;
    }
    Some(Remedy::new(
        vec![Change::set(
            "optimizer",
            json!({"type": "Adam", "lr": 1e-3}),
        )],
        "an adaptive optimizer scales small gradients up",
    ))
}
