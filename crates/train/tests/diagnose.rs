//! The diagnosis detectors on crafted metric and signal sequences, noise included.

use std::collections::BTreeMap;

use tuna_train::diagnose::{diagnose, Diagnosis, LayerInfo, RunContext, Severity};
use tuna_train::record::Value;
use tuna_train::signals::{DeadUnits, EpochSignals, LossStats, ParamSignals, Spike, Timing};
use tuna_train::EpochRecord;

/// A small seeded normal generator (xorshift + Box-Muller).
struct Noise(u64);

impl Noise {
    fn uniform(&mut self) -> f64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        ((self.0 >> 11) as f64 + 0.5) / (1u64 << 53) as f64
    }
    fn normal(&mut self) -> f64 {
        let (u, v) = (self.uniform(), self.uniform());
        (-2.0 * u.ln()).sqrt() * (2.0 * std::f64::consts::PI * v).cos()
    }
}

fn records(train: &[f64], val: &[f64], train_acc: &[f64], val_acc: &[f64]) -> Vec<EpochRecord> {
    (0..train.len())
        .map(|i| {
            let mut r = EpochRecord::new(i + 1);
            r.set("train_loss", train[i]);
            if !val.is_empty() {
                r.set("val_loss", val[i]);
            }
            if !train_acc.is_empty() {
                r.set("train_accuracy", train_acc[i]);
            }
            if !val_acc.is_empty() {
                r.set("val_accuracy", val_acc[i]);
            }
            r.set("lr", 0.05);
            r
        })
        .collect()
}

fn ctx() -> RunContext {
    let kinds = ["Flatten", "Linear", "ReLU", "Linear", "ReLU", "Linear"];
    let widths = [None, Some(256), None, Some(128), None, Some(10)];
    RunContext {
        optimizer: Some("SGD".into()),
        lr: Some(0.05),
        layers: kinds
            .iter()
            .zip(widths)
            .enumerate()
            .map(|(i, (k, w))| LayerInfo {
                index: i,
                kind: k.to_string(),
                width: w,
                spec: match w {
                    Some(n) => serde_json::json!({"type": k, "out_features": n}),
                    None => serde_json::json!({"type": k}),
                },
            })
            .collect(),
        epochs_planned: None,
        ..RunContext::default()
    }
}

fn param(grad: f64, ratio: f64, numel: usize) -> ParamSignals {
    ParamSignals {
        grad_norm: Value(grad),
        grad_norm_max: Value(grad * 1.5),
        weight_norm: Value(10.0),
        update_ratio: Value(ratio),
        numel,
    }
}

/// Healthy-looking signals: similar per-element gradients, ratios ~1e-3, compute-bound
/// balanced timing, no dead units, calm batch losses.
fn signals(epochs: usize, ratio: f64, grads: [f64; 3]) -> Vec<EpochSignals> {
    (1..=epochs)
        .map(|e| {
            let mut params = BTreeMap::new();
            params.insert(
                "1.weight".to_string(),
                param(grads[0] * 100.0, ratio, 10_000),
            );
            params.insert("1.bias".to_string(), param(grads[0], ratio, 100));
            params.insert(
                "3.weight".to_string(),
                param(grads[1] * 100.0, ratio, 10_000),
            );
            params.insert(
                "5.weight".to_string(),
                param(grads[2] * 100.0, ratio, 10_000),
            );
            EpochSignals {
                epoch: e,
                steps: 100,
                params,
                dead_units: BTreeMap::new(),
                layer_forward: BTreeMap::new(),
                timing: Timing {
                    data: 0.05,
                    forward: 0.4,
                    backward: 0.35,
                    optimizer: 0.2,
                    other: 0.1,
                    recording: 0.0,
                },
                loss: LossStats {
                    mean: 0.5,
                    std: 0.1,
                    min: 0.3,
                    max: 0.8,
                    first: 0.6,
                    last: 0.45,
                    spikes: Vec::new(),
                },
                probed: true,
                ..EpochSignals::default()
            }
        })
        .collect()
}

fn healthy_curves(seed: u64, n: usize) -> Vec<EpochRecord> {
    let mut noise = Noise(seed * 7919 + 17);
    let mut train = Vec::new();
    let mut val = Vec::new();
    let mut ta = Vec::new();
    let mut va = Vec::new();
    for e in 1..=n {
        let clean = 0.3 + 2.0 * (-(e as f64) / 4.0).exp();
        train.push(clean * (1.0 + 0.02 * noise.normal()));
        val.push((clean + 0.05) * (1.0 + 0.03 * noise.normal()));
        let acc = 0.97 - 0.6 * (-(e as f64) / 3.0).exp();
        ta.push(acc + 0.005 * noise.normal());
        va.push(acc - 0.01 + 0.01 * noise.normal());
    }
    records(&train, &val, &ta, &va)
}

fn overfitting_curves(seed: u64, n: usize, turn: usize) -> Vec<EpochRecord> {
    let mut noise = Noise(seed * 104_729 + 3);
    let mut train = Vec::new();
    let mut val = Vec::new();
    for e in 1..=n {
        let t = 0.05 + 2.0 * (-(e as f64) / 3.0).exp();
        let v = 0.4 + 2.0 * (-(e as f64) / 3.0).exp() + 0.04 * (e as f64 - turn as f64).max(0.0);
        train.push(t * (1.0 + 0.02 * noise.normal()));
        val.push(v * (1.0 + 0.03 * noise.normal()));
    }
    records(&train, &val, &[], &[])
}

fn only_healthy(d: &Diagnosis) -> bool {
    d.findings[0].id == "healthy" && d.findings.iter().all(|f| f.severity <= Severity::Info)
}

#[test]
fn noisy_healthy_curves_are_healthy() {
    for seed in 0..50 {
        for n in [8, 10, 20, 40] {
            let r = healthy_curves(seed, n);
            let d = diagnose(&r, &[], &ctx());
            assert!(only_healthy(&d), "seed {seed}, {n} epochs:\n{}", d.render());
            let d = diagnose(&r, &signals(n, 1e-3, [1e-3, 2e-3, 5e-3]), &ctx());
            assert!(only_healthy(&d), "seed {seed}, {n} epochs:\n{}", d.render());
        }
    }
}

#[test]
fn noisy_overfitting_is_found_with_start_and_best_epoch() {
    for seed in 0..50 {
        let r = overfitting_curves(seed, 25, 8);
        let d = diagnose(&r, &[], &ctx());
        let f = d
            .get("overfitting")
            .unwrap_or_else(|| panic!("seed {seed}:\n{}", d.render()));
        assert!(f.severity >= Severity::Warning);
        let start = f
            .marks
            .iter()
            .find(|m| m.1 == "overfitting starts")
            .unwrap()
            .0;
        let best = f.marks.iter().find(|m| m.1 == "best epoch").unwrap().0;
        assert!((4..=13).contains(&start), "seed {seed}: start {start}");
        assert!((5..=13).contains(&best), "seed {seed}: best {best}");
        assert!(f
            .recommendations
            .iter()
            .any(|r| r.contains("early_stopping")));
        assert!(f
            .recommendations
            .iter()
            .any(|r| r.contains("optimizer.weight_decay=")));
        assert!(
            f.recommendations
                .iter()
                .any(|r| r.contains("Dropout") && r.contains("--set 'model.layers=")),
            "{:?}",
            f.recommendations
        );
        assert!(!d.ids().contains(&"healthy"));
    }
}

#[test]
fn stalled_validation_with_wide_accuracy_gap_is_overfitting() {
    let n = 20;
    let train: Vec<f64> = (1..=n)
        .map(|e| 0.05 + 1.5 * (-(e as f64) / 2.0).exp() + 0.3 * (-(e as f64) / 10.0).exp())
        .collect();
    let val: Vec<f64> = (1..=n)
        .map(|e| 0.9 + 1.0 * (-(e as f64) / 2.0).exp())
        .collect();
    let ta: Vec<f64> = (1..=n).map(|e| (0.6 + 0.04 * e as f64).min(1.0)).collect();
    let va: Vec<f64> = (1..=n).map(|e| (0.6 + 0.04 * e as f64).min(0.8)).collect();
    let d = diagnose(&records(&train, &val, &ta, &va), &[], &ctx());
    let f = d
        .get("overfitting")
        .unwrap_or_else(|| panic!("{}", d.render()));
    assert!(f.title.contains("stalled"), "{}", f.title);
    // With regularization, early stopping and dropout present, those are not suggested again.
    let mut c = ctx();
    c.has_early_stopping = true;
    c.has_regularization = true;
    let d = diagnose(&records(&train, &val, &ta, &va), &[], &c);
    let f = d.get("overfitting").unwrap();
    assert!(!f
        .recommendations
        .iter()
        .any(|r| r.contains("early_stopping")));
    assert!(!f
        .recommendations
        .iter()
        .any(|r| r.contains("optimizer.weight_decay=0.0005")));
}

#[test]
fn nan_loss_or_error_is_divergence() {
    let r = records(&[2.3, 1.9, f64::NAN], &[2.2, 1.8, f64::NAN], &[], &[]);
    let d = diagnose(&r, &[], &ctx());
    assert_eq!(d.primary, "lr_too_high", "{}", d.render());
    assert_eq!(d.findings[0].severity, Severity::Severe);
    let div = &d.findings[0].explains;
    assert!(div
        .iter()
        .any(|s| s.id == "divergence" && s.evidence.iter().any(|e| e.contains("epoch 3"))));
    assert!(
        d.findings[0].recommendations[0].starts_with("--set optimizer.lr=0.005"),
        "{:?}",
        d.findings[0].recommendations
    );
    // Stopped by the trainer before the NaN reached metrics.jsonl.
    let mut c = ctx();
    c.error = Some("non-finite loss at epoch 2, batch 7".into());
    let d = diagnose(&records(&[2.3], &[2.2], &[], &[]), &[], &c);
    assert_eq!(d.primary, "lr_too_high", "{}", d.render());
    assert!(d.mentions("divergence"));
    // Exploding but finite.
    let d = diagnose(
        &records(&[2.3, 1.0, 0.8, 5.0, 40.0], &[], &[], &[]),
        &[],
        &ctx(),
    );
    assert_eq!(d.primary, "lr_too_high", "{}", d.render());
    assert!(d.mentions("divergence"));
}

#[test]
fn oscillating_spiky_loss_is_lr_too_high() {
    let train = [2.3, 1.6, 2.1, 1.5, 2.2, 1.7, 2.4, 1.6, 2.3, 1.9];
    let mut s = signals(10, 1e-2, [1e-3, 2e-3, 5e-3]);
    for e in &mut s {
        e.loss.std = 0.9;
        e.loss.mean = 1.9;
        e.loss.spikes = (0..5)
            .map(|b| Spike {
                batch: 10 + b,
                loss: Value(5.0),
                before: Value(1.8),
            })
            .collect();
    }
    let d = diagnose(&records(&train, &[], &[], &[]), &s, &ctx());
    let f = d
        .get("lr_too_high")
        .unwrap_or_else(|| panic!("{}", d.render()));
    assert!(
        f.recommendations[0].starts_with("--set optimizer.lr=0.015"),
        "{:?}",
        f.recommendations
    );
    assert!(d.get("healthy").is_none());
}

#[test]
fn tiny_updates_are_lr_too_low_and_underfitting() {
    let n = 6;
    let train: Vec<f64> = (0..n).map(|e| 2.30 - 0.001 * e as f64).collect();
    let acc: Vec<f64> = (0..n).map(|e| 0.11 + 0.001 * e as f64).collect();
    let d = diagnose(
        &records(&train, &train, &acc, &acc),
        &signals(n, 2e-7, [1e-3, 2e-3, 5e-3]),
        &ctx(),
    );
    assert_eq!(d.primary, "lr_too_low", "{}", d.render());
    // The plateau is a symptom of the lr, not a model too small.
    assert!(d.get("model_too_small").is_none() && d.mentions("model_too_small"));
    assert!(d.findings[0].recommendations[0].starts_with("--set optimizer.lr="));
    // Normal ratios: no lr_too_low.
    let d = diagnose(
        &records(&train, &train, &acc, &acc),
        &signals(n, 1e-3, [1e-3, 2e-3, 5e-3]),
        &ctx(),
    );
    assert!(d.get("lr_too_low").is_none());
}

#[test]
fn underfitting_tells_too_short_from_too_small() {
    // Two epochs, still falling fast: too short.
    let d = diagnose(
        &records(&[2.0, 1.4], &[1.8, 1.35], &[0.4, 0.6], &[0.45, 0.62]),
        &signals(2, 1e-3, [1e-3, 2e-3, 5e-3]),
        &ctx(),
    );
    let u = d
        .get("training_too_short")
        .unwrap_or_else(|| panic!("{}", d.render()));
    assert_eq!(d.primary, "training_too_short");
    assert!(u
        .recommendations
        .iter()
        .any(|r| r.starts_with("--set train.epochs=10")));
    // A slow but steady fall (1.7% per epoch, as fast at the end as on average): not a
    // plateau, too short.
    let train: Vec<f64> = (0..8).map(|e| 1.11 - 0.019 * e as f64).collect();
    let acc: Vec<f64> = (0..8).map(|e| 0.3 + 0.03 * e as f64).collect();
    let d = diagnose(
        &records(&train, &train, &acc, &acc),
        &signals(8, 1e-3, [1e-3, 2e-3, 5e-3]),
        &ctx(),
    );
    assert_eq!(d.primary, "training_too_short", "{}", d.render());
    // Plateau at a poor value with normal update ratios: too small.
    let mut noise = Noise(5);
    let n = 12;
    let train: Vec<f64> = (1..=n)
        .map(|e| 1.1 + 0.8 * (-(e as f64) / 1.5).exp() + 0.005 * noise.normal())
        .collect();
    let acc: Vec<f64> = (1..=n)
        .map(|e| 0.6 - 0.2 * (-(e as f64) / 1.5).exp())
        .collect();
    let d = diagnose(
        &records(&train, &train, &acc, &acc),
        &signals(n, 1e-3, [1e-3, 2e-3, 5e-3]),
        &ctx(),
    );
    let u = d
        .get("model_too_small")
        .unwrap_or_else(|| panic!("{}", d.render()));
    assert_eq!(d.primary, "model_too_small");
    assert!(
        u.recommendations
            .iter()
            .any(|r| r.contains("model.layers[3].out_features=512")),
        "{:?}",
        u.recommendations
    );
}

#[test]
fn gradient_span_across_layers_is_vanishing_or_exploding() {
    let r = healthy_curves(1, 10);
    let d = diagnose(&r, &signals(10, 1e-3, [1e-9, 1e-6, 1e-2]), &ctx());
    let f = d
        .get("vanishing_gradients")
        .unwrap_or_else(|| panic!("{}", d.render()));
    assert!(f
        .evidence
        .iter()
        .any(|e| e.contains("model.layers[1] (Linear, 1.weight)")));
    assert!(
        f.evidence.iter().any(|e| e.contains("model.layers[5]")),
        "{}",
        d.render()
    );
    let d = diagnose(&r, &signals(10, 1e-3, [10.0, 0.1, 1e-3]), &ctx());
    assert!(d.get("exploding_gradients").is_some(), "{}", d.render());
    // Spanning one order of magnitude is normal.
    let d = diagnose(&r, &signals(10, 1e-3, [1e-4, 3e-4, 1e-3]), &ctx());
    assert!(only_healthy(&d), "{}", d.render());
    // Huge norms outright.
    let d = diagnose(&r, &signals(10, 1e-3, [50.0, 50.0, 50.0]), &ctx());
    assert!(d.get("exploding_gradients").is_some(), "{}", d.render());
}

#[test]
fn dead_relus_are_reported_per_layer() {
    let r = healthy_curves(2, 8);
    let mut s = signals(8, 1e-3, [1e-3, 2e-3, 5e-3]);
    for e in &mut s {
        let frac = if e.epoch > 3 { 0.6 } else { 0.1 };
        e.dead_units.insert(
            "2".into(),
            DeadUnits {
                layer_type: "ReLU".into(),
                dead: (256.0 * frac) as usize,
                units: 256,
                fraction: frac,
            },
        );
        e.dead_units.insert(
            "4".into(),
            DeadUnits {
                layer_type: "ReLU".into(),
                dead: 3,
                units: 128,
                fraction: 3.0 / 128.0,
            },
        );
    }
    let d = diagnose(&r, &s, &ctx());
    let f = d
        .get("dead_units")
        .unwrap_or_else(|| panic!("{}", d.render()));
    assert_eq!(f.severity, Severity::Warning);
    assert_eq!(f.evidence.len(), 1);
    assert!(f.evidence[0].contains("model.layers[2]") && f.evidence[0].contains("since epoch 4"));
    assert!(f.recommendations[0].contains("LeakyReLU"));
}

#[test]
fn timing_shares_give_input_bound_and_slow_step() {
    let r = healthy_curves(3, 10);
    let mut s = signals(10, 1e-3, [1e-3, 2e-3, 5e-3]);
    for e in &mut s {
        e.timing.data = 1.0;
    }
    let d = diagnose(&r, &s, &ctx());
    let f = d
        .get("input_bound")
        .unwrap_or_else(|| panic!("{}", d.render()));
    assert!(f.evidence[0].contains("data 51%"), "{}", f.evidence[0]);
    let mut s = signals(10, 1e-3, [1e-3, 2e-3, 5e-3]);
    for e in &mut s {
        e.timing.forward = 2.0;
    }
    let d = diagnose(&r, &s, &ctx());
    let f = d
        .get("slow_step")
        .unwrap_or_else(|| panic!("{}", d.render()));
    assert_eq!(f.severity, Severity::Info);
    assert!(f.title.contains("forward"));
    // Info findings do not hide `healthy`.
    assert!(only_healthy(&d));
}

#[test]
fn findings_serialize_with_stable_ids() {
    let d = diagnose(&overfitting_curves(0, 25, 8), &[], &ctx());
    let json = serde_json::to_value(&d).unwrap();
    assert_eq!(json["findings"][0]["id"], "overfitting");
    assert!(["warning", "severe"].contains(&json["findings"][0]["severity"].as_str().unwrap()));
    assert!(
        !json["findings"][0]["evidence"]
            .as_array()
            .unwrap()
            .is_empty(),
        "{}",
        d.render()
    );
    assert!(json["best_epoch"].as_u64().is_some());
}

#[test]
fn run_folder_without_summary_and_nan_loss_is_diverged() {
    let dir = std::env::temp_dir().join(format!("tuna-diag-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(
        dir.join("config.toml"),
        "[optimizer]\ntype = \"SGD\"\nlr = 10.0\n[train]\nepochs = 5\n[model]\ntype = \"Sequential\"\nlayers = [{ type = \"Linear\", in_features = 4, out_features = 3 }]\n",
    )
    .unwrap();
    std::fs::write(
        dir.join("metrics.jsonl"),
        "{\"epoch\":1,\"train_loss\":2.5,\"val_loss\":3.0}\n{\"epoch\":2,\"train_loss\":null,\"val_loss\":null}\n",
    )
    .unwrap();
    let d = Diagnosis::from_run_dir(&dir).unwrap();
    assert_eq!(d.primary, "lr_too_high", "{}", d.render());
    let f = &d.findings[0];
    assert!(f.explains.iter().any(|s| s.id == "divergence"));
    assert!(
        f.evidence.iter().any(|e| e.contains("epoch 2")),
        "{}",
        d.render()
    );
    assert!(
        f.recommendations[0].starts_with("--set optimizer.lr=1.0"),
        "{:?}",
        f.recommendations
    );
    std::fs::remove_dir_all(&dir).unwrap();
    assert!(Diagnosis::from_run_dir(&dir).is_err());
}

/// [`ctx`] with a data profile: training samples per class and validation samples.
fn with_classes(class_counts: Vec<usize>, validation_samples: usize) -> RunContext {
    use tuna_train::signals::{DataProfile, TargetProfile};
    let train_samples = class_counts.iter().sum();
    let mut c = ctx();
    c.profile = Some(DataProfile {
        train_samples,
        validation_samples,
        profiled: train_samples,
        target: TargetProfile {
            class_counts,
            ..TargetProfile::default()
        },
        ..DataProfile::default()
    });
    c
}

#[test]
fn a_class_imbalance_is_judged_on_a_recent_probe_only() {
    use tuna_train::signals::ClassStats;
    let c = with_classes(vec![930, 70], 200);
    let missed = ClassStats {
        samples: 200,
        confusion: vec![vec![186, 0], vec![13, 1]],
    };
    let learned = ClassStats {
        samples: 200,
        confusion: vec![vec![185, 1], vec![2, 12]],
    };
    let r = healthy_curves(3, 12);
    // The minority class is missed at the end: found.
    let mut s = signals(12, 1e-3, [1e-3, 2e-3, 5e-3]);
    s[11].val_classes = Some(missed.clone());
    let d = diagnose(&r, &s, &c);
    assert_eq!(d.primary, "class_imbalance", "{}", d.render());
    // Missed only in the first epoch, learned since (last probed epoch 12): not found.
    let mut s = signals(12, 1e-3, [1e-3, 2e-3, 5e-3]);
    s[0].val_classes = Some(missed.clone());
    s[11].val_classes = Some(learned);
    assert!(!diagnose(&r, &s, &c).mentions("class_imbalance"));
    // Missed in the first epoch and never probed again: too old to judge the kept model.
    let mut s = signals(12, 1e-3, [1e-3, 2e-3, 5e-3]);
    s[0].val_classes = Some(missed);
    assert!(!diagnose(&r, &s, &c).mentions("class_imbalance"));
}

#[test]
fn an_embedding_tables_sparse_gradient_is_not_vanishing() {
    let r = healthy_curves(4, 8);
    let s = signals(8, 1e-3, [1e-8, 2e-3, 5e-3]);
    assert!(diagnose(&r, &s, &ctx()).mentions("vanishing_gradients"));
    let mut c = ctx();
    c.layers[1].kind = "Embedding".into();
    let d = diagnose(&r, &s, &c);
    assert!(!d.mentions("vanishing_gradients"), "{}", d.render());
}

#[test]
fn a_schedule_that_raised_the_lr_into_divergence_is_the_knob_to_change() {
    let mut r = records(&[2.3, 1.2, 0.9], &[2.2, 1.1, 0.95], &[], &[]);
    for (rec, lr) in r.iter_mut().zip([0.05, 5.0, 500.0]) {
        rec.set("lr", lr);
    }
    let mut c = ctx();
    c.scheduler = Some("StepLR".into());
    c.error = Some("non-finite loss at epoch 4, batch 2".into());
    let d = diagnose(&r, &[], &c);
    assert_eq!(d.primary, "lr_too_high", "{}", d.render());
    let first = d.primary_remedy().expect("a remedy");
    assert_eq!(first.to_cli(), "--unset scheduler", "{}", d.render());
    // The same divergence with a constant lr: lower optimizer.lr.
    let mut c = ctx();
    c.error = Some("non-finite loss at epoch 4, batch 2".into());
    let d = diagnose(
        &records(&[2.3, 1.2, 0.9], &[2.2, 1.1, 0.95], &[], &[]),
        &[],
        &c,
    );
    assert!(d
        .primary_remedy()
        .unwrap()
        .to_cli()
        .starts_with("--set optimizer.lr="));
}

#[test]
fn a_model_at_chance_on_imbalanced_data_is_not_healthy() {
    use tuna_train::signals::ClassStats;
    // 85 % accuracy from predicting the majority class only, the loss still falling slowly.
    let train: Vec<f64> = (0..6).map(|e| 0.45 - 0.01 * e as f64).collect();
    let acc = vec![0.85; 6];
    let mut s = signals(6, 1e-3, [1e-3, 2e-3, 5e-3]);
    s[5].val_classes = Some(ClassStats {
        samples: 200,
        confusion: vec![vec![170, 0], vec![30, 0]],
    });
    let d = diagnose(&records(&train, &train, &acc, &acc), &s, &ctx());
    assert!(d.primary_finding().is_problem(), "{}", d.render());
    assert_eq!(d.primary, "training_too_short", "{}", d.render());
}

#[test]
fn a_balanced_recall_within_noise_of_chance_is_learning_nothing() {
    use tuna_train::signals::ClassStats;
    let c = with_classes(vec![2200, 400], 520);
    let train: Vec<f64> = (0..6).map(|e| 0.45 - 0.01 * e as f64).collect();
    let acc = vec![0.85; 6];
    let at = |minority_right: usize| {
        let mut s = signals(6, 1e-3, [1e-3, 2e-3, 5e-3]);
        s[5].val_classes = Some(ClassStats {
            samples: 520,
            confusion: vec![vec![430, 10], vec![80 - minority_right, minority_right]],
        });
        diagnose(&records(&train, &train, &acc, &acc), &s, &c)
    };
    // Minority recall 0.09: balanced 0.534, within two standard errors (~0.06) of 0.5.
    assert!(at(7).primary_finding().is_problem(), "{}", at(7).render());
    // Minority recall 0.5: balanced 0.74, learning.
    assert!(
        !at(40).primary_finding().is_problem(),
        "{}",
        at(40).render()
    );
}

#[test]
fn exploding_gradients_point_at_a_chosen_init_first_and_a_gated_layer_once_clipped() {
    let r = healthy_curves(1, 10);
    let s = signals(10, 1e-3, [50.0, 50.0, 50.0]);
    let remedies = |c: &RunContext| -> Vec<String> {
        let d = diagnose(&r, &s, c);
        let f = d
            .get("exploding_gradients")
            .unwrap_or_else(|| panic!("{}", d.render()));
        f.remedies.iter().map(|m| m.to_cli()).collect()
    };
    // An [[init]] entry that selects an exploding parameter: undo it first.
    let mut c = ctx();
    c.config = serde_json::json!({"init": [
        {"type": "Zeros", "params": ["*bias"]},
        {"type": "Normal", "std": 5.0, "params": ["1.*"], "exclude": ["1.bias"]},
    ]});
    let got = remedies(&c);
    assert_eq!(got[0], "--unset init[1]", "{got:?}");
    // One that selects nothing that explodes is left alone.
    c.config = serde_json::json!({"init": [{"type": "Zeros", "params": ["9.*"]}]});
    let got = remedies(&c);
    assert!(got[0].contains("clip_grad_norm=1"), "{got:?}");
    // Already clipped, in a recurrent model: a gated layer before clipping harder.
    let mut c = ctx();
    c.layers.push(LayerInfo {
        index: 6,
        kind: "RNN".into(),
        width: None,
        spec: serde_json::json!({"type": "RNN", "input_size": 4, "hidden_size": 8}),
    });
    c.config = serde_json::json!({"train": {"clip_grad_norm": 1.0}});
    let got = remedies(&c);
    assert!(got[0].contains("\"GRU\""), "{got:?}");
    assert!(got[1].contains("clip_grad_norm=0.25"), "{got:?}");
}
