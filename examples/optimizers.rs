//! Optimizers: a config with parameter groups, a training loop with a schedule and gradient
//! clipping, and resuming from a saved optimizer state. Included in the book
//! (`docs/src/optimizers.md`).

use tuna::optim::{clip_grad_norm, Optimizer, OptimizerConfig, ParamGroupConfig};
use tuna::{Param, Tape, Tensor};

// ANCHOR: config
/// The `[optimizer]` section of an experiment file.
#[derive(serde::Deserialize)]
struct Experiment {
    optimizer: OptimizerSection,
}

#[derive(serde::Deserialize)]
struct OptimizerSection {
    #[serde(flatten)]
    config: Box<dyn OptimizerConfig>,
    #[serde(default)]
    param_groups: Vec<ParamGroupConfig>,
}

const EXPERIMENT: &str = r#"
[optimizer]
type = "AdamW"
lr = 1e-2
weight_decay = 0.05

[[optimizer.param_groups]]      # no weight decay on biases and norm layers
params = ["*.bias", "*norm*"]
weight_decay = 0.0
"#;
// ANCHOR_END: config

fn model() -> Vec<(String, Param)> {
    vec![
        (
            "0.weight".into(),
            Param::new(Tensor::from_vec(vec![0.5f32, -0.3, 0.8], &[1, 3])),
        ),
        (
            "0.bias".into(),
            Param::new(Tensor::from_vec(vec![0.0f32], &[1])),
        ),
    ]
}

fn main() {
    tuna::link_all();
    // ANCHOR: build
    let exp: Experiment = toml::from_str(EXPERIMENT).expect("valid config");
    exp.optimizer
        .config
        .validate()
        .expect("valid hyperparameters");
    let params = model();
    let mut opt = exp
        .optimizer
        .config
        .build(params.clone(), &exp.optimizer.param_groups)
        .expect("optimizer");
    for g in opt.param_groups() {
        println!(
            "group {:?}: lr {} weight_decay {}",
            g.params, g.lr, g.options["weight_decay"]
        );
    }
    // ANCHOR_END: build

    // ANCHOR: loop
    let x = Tensor::from_vec(vec![1.0f32, 2.0, 3.0, -1.0, 0.5, 2.0], &[2, 3]);
    let y = Tensor::from_vec(vec![1.0f32, -1.0], &[2, 1]);
    let (w, b) = (&params[0].1, &params[1].1);
    for step in 0..50 {
        let lr = 1e-2 * 0.5 * (1.0 + (std::f64::consts::PI * step as f64 / 50.0).cos());
        opt.set_lr_all(lr).expect("lr"); // the schedule is the source of truth
        let tape = Tape::new();
        let pred = tape
            .constant(x.clone())
            .matmul(tape.param(w).t())
            .add(tape.param(b));
        let loss = pred.sub(tape.constant(y.clone())).square().mean();
        loss.backward();
        let total_norm = clip_grad_norm(&params, 1.0, 2.0, false).expect("clip");
        opt.step().expect("step");
        opt.zero_grad();
        if step % 10 == 0 {
            println!(
                "step {step}: loss {:.4} grad norm {total_norm:.3}",
                loss.item()
            );
        }
    }
    // ANCHOR_END: loop

    // ANCHOR: save
    let path = std::env::temp_dir().join("tuna-example-optimizer.safetensors");
    opt.save(&path).expect("save");
    // later, in a new process: rebuild the model and the optimizer, then load
    let mut resumed: Box<dyn Optimizer> = exp
        .optimizer
        .config
        .build(params.clone(), &exp.optimizer.param_groups)
        .expect("optimizer");
    resumed.load(&path).expect("load");
    assert_eq!(resumed.state_dict().params["0.weight"].step, 50);
    // ANCHOR_END: save
    std::fs::remove_file(&path).ok();
}
