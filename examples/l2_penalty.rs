//! An L2 penalty done properly: a `tuna_regularize::L2` regularizer whose differentiable
//! penalty is added to the loss before `backward` — first in a hand-written loop, then the
//! same thing declared in an experiment file's `[[regularizers]]` and run by the `Trainer`.
//! Both times the penalized weights end up with a smaller norm than without the penalty.
//!
//! Run with `cargo run --release --example l2_penalty`.

use std::path::PathBuf;

use tuna::autograd::NamedParam;
use tuna::data::DataContext;
use tuna::loss::{Loss, MseLoss};
use tuna::nn::{Linear, Module};
use tuna::optim::{OptimizerConfig, SgdConfig};
use tuna::regularize::{Regularizer, L2};
use tuna::tensor::Generator;
use tuna::train::{Experiment, Trainer};
use tuna::{DType, Tape, Tensor};

/// The L2 norm of every parameter whose name ends in `weight`.
fn weight_norm(params: &[NamedParam]) -> f64 {
    params
        .iter()
        .filter(|(name, _)| name.ends_with("weight"))
        .flat_map(|(_, p)| p.value().to_vec_f64())
        .map(|v| v * v)
        .sum::<f64>()
        .sqrt()
}

/// Fits a 32-feature linear model to 24 noisy samples (only 2 features matter, so it
/// over-fits), with or without the penalty; returns the weight norm.
fn hand_written(regularizers: &[Box<dyn Regularizer>]) -> f64 {
    let mut gen = Generator::new(3);
    let x = Tensor::randn(&[24, 32], DType::F32, &mut gen);
    let signal = x.narrow(1, 0, 1).mul_scalar(2.0).sub(&x.narrow(1, 1, 1));
    let y = signal.add(&Tensor::randn(&[24, 1], DType::F32, &mut gen).mul_scalar(0.5));
    let model = Linear::new(32, 1, true, DType::F32, &mut gen);
    let params = model.named_parameters(); // ("weight", ..), ("bias", ..)
    let mut optimizer = SgdConfig {
        lr: 0.05,
        ..SgdConfig::default()
    }
    .build(params.clone(), &[])
    .expect("optimizer");
    // ANCHOR: loop
    for _ in 0..500 {
        let tape = Tape::new();
        let pred = model.forward(tape.constant(x.clone()));
        let mut loss = MseLoss::default()
            .forward(pred, tape.constant(y.clone()))
            .expect("shapes match");
        for r in regularizers {
            // weight · Σw² over the selected parameters, on the same tape: backward adds
            // 2·weight·w to their gradients
            if let Some(penalty) = r.penalty_for_params(&tape, &params) {
                loss = loss.add(penalty);
            }
        }
        loss.backward();
        optimizer.step().expect("step");
        optimizer.zero_grad();
    }
    // ANCHOR_END: loop
    weight_norm(&params)
}

// ANCHOR: config
const EXPERIMENT: &str = r#"
[data]
type = "Csv"
path = "datasets/iris/iris.csv"
skip_rows = 1
label = 4
validation = 0.2
standardize = true

[model]
type = "Sequential"
layers = [
  { type = "Linear", in_features = 4, out_features = 64 },
  { type = "ReLU" },
  { type = "Linear", in_features = 64, out_features = 3 },
]

[loss]
type = "CrossEntropyLoss"

[optimizer]
type = "SGD"
lr = 0.1

[[regularizers]]
type = "L2"
weight = 1e-2          # adds 0.01 · Σw² over every `*weight` (not the biases)

[train]
epochs = 30
metrics = ["accuracy"]
test = false
"#;
// ANCHOR_END: config

/// Trains [`EXPERIMENT`] with or without its `[[regularizers]]`; returns the weight norm.
fn from_experiment(with_l2: bool) -> f64 {
    let mut exp = Experiment::from_toml_str(EXPERIMENT).expect("valid experiment");
    if !with_l2 {
        exp.regularizers.clear();
    }
    let ctx = DataContext {
        base_dirs: vec![
            PathBuf::from("."),
            PathBuf::from(env!("CARGO_MANIFEST_DIR")),
        ],
        seed: 0,
        fitted: None,
    };
    let mut trainer = Trainer::new(exp, &ctx).expect("trainer");
    let summary = trainer.fit().expect("training");
    println!("  val_accuracy {:.3}", summary.last["val_accuracy"].0);
    weight_norm(&trainer.model().named_parameters())
}

/// Returns `(without, with)` weight norms for the hand-written loop and the experiment.
pub fn run() -> [(f64, f64); 2] {
    let l2: Vec<Box<dyn Regularizer>> = vec![Box::new(L2::new(0.05))];
    let loop_norms = (hand_written(&[]), hand_written(&l2));
    println!(
        "hand-written loop: |w| = {:.3} without L2, {:.3} with L2(weight = 0.05)",
        loop_norms.0, loop_norms.1
    );
    tuna::link_all();
    let exp_norms = (from_experiment(false), from_experiment(true));
    println!(
        "experiment file:   |w| = {:.3} without [[regularizers]], {:.3} with",
        exp_norms.0, exp_norms.1
    );
    [loop_norms, exp_norms]
}

/// Asserts that the penalty shrinks the weights, both ways.
pub fn main() {
    for (without, with) in run() {
        assert!(
            with < without,
            "L2 should shrink the weights: {with} vs {without}"
        );
    }
}
