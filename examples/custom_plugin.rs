//! Your own loss, optimizer, learning-rate schedule and initializer, registered with typetag
//! in *your* crate (no change to Tuna), loaded by name from a TOML experiment section, and
//! used in a short training loop; and your own hyperparameter sampler and pruner, named in a
//! search-space file and used by a small study.
//!
//! Run with `cargo run --release --example custom_plugin`.

use serde::{Deserialize, Serialize};
use tuna::autograd::{Tape, Var};
use tuna::loss::{Loss, LossError};
use tuna::nn::{apply_initializers, Initializer, Linear, Module, NnError};
use tuna::optim::{
    GroupedOptimizer, OptimError, Optimizer, OptimizerConfig, ParamGroupConfig, StepState,
    UpdateRule,
};
use tuna::sched::{ChainRule, Chainable, LrScheduler, LrSchedulerConfig, SchedError};
use tuna::tensor::{DType, Generator, Tensor};
use tuna::tune::runner::{RunOptions, Study};
use tuna::tune::sampler::ChaCha8Rng;
use tuna::tune::search::SearchSpace;
use tuna::tune::storage::{Location, MemoryDatabase};
use tuna::tune::{
    Direction, Distribution, FrozenTrial, ParamSpec, ParamValue, Pruner, Sampler, TrialState,
};

// ANCHOR: loss
/// log-cosh regression loss: `mean(log(cosh(input - target)))`, smooth like MSE near 0 and
/// robust like L1 far away.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct LogCoshLoss {}

#[typetag::serde(name = "LogCoshLoss")]
impl Loss for LogCoshLoss {
    fn input_names(&self) -> &'static [&'static str] {
        &["input", "target"]
    }
    fn validate(&self) -> Result<(), LossError> {
        Ok(())
    }
    fn forward_named<'t>(&self, args: &[(&str, Var<'t>)]) -> Result<Var<'t>, LossError> {
        let get = |name: &'static str| {
            args.iter()
                .find(|(n, _)| *n == name)
                .map(|(_, v)| *v)
                .ok_or(LossError::MissingInput {
                    loss: "LogCoshLoss",
                    input: name,
                    expected: "input, target".into(),
                })
        };
        let d = get("input")?.sub(get("target")?);
        // log(cosh d) = d + softplus(-2d) - ln 2, stable for large |d|
        Ok(d.add(d.mul_scalar(-2.0).softplus(1.0, 20.0))
            .add_scalar(-std::f64::consts::LN_2)
            .mean())
    }
}
// ANCHOR_END: loss

// ANCHOR: optimizer
/// signSGD (Bernstein et al. 2018): `p ← p − lr·sign(g)`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct SignSgd {
    lr: f64,
}

#[typetag::serde(name = "SignSGD")]
impl OptimizerConfig for SignSgd {
    fn validate(&self) -> Result<(), OptimError> {
        if self.lr > 0.0 {
            Ok(())
        } else {
            Err(OptimError::config(
                self.name(),
                "lr",
                format!("must be > 0, got {}", self.lr),
            ))
        }
    }
    fn build(
        &self,
        params: Vec<(String, tuna::Param)>,
        groups: &[ParamGroupConfig],
    ) -> Result<Box<dyn Optimizer>, OptimError> {
        Ok(Box::new(GroupedOptimizer::new(self, params, groups)?))
    }
}

/// The per-parameter update; `GroupedOptimizer` adds groups, state by parameter name and
/// checkpoints.
impl UpdateRule for SignSgd {
    fn lr(&self) -> f64 {
        self.lr
    }
    fn set_lr(&mut self, lr: f64) {
        self.lr = lr;
    }
    type State = StepState;
    fn init_state(&self, _param: &Tensor) -> StepState {
        StepState::default()
    }
    fn update(&self, param: &mut Tensor, grad: &Tensor, state: &mut StepState) {
        state.step += 1;
        param.add_scaled_(&grad.sign(), -self.lr);
    }
}
// ANCHOR_END: optimizer

// ANCHOR: schedule
/// Inverse-square-root decay after a linear warmup (the original Transformer schedule):
/// `lr = base · min(t/w, sqrt(w/t))` on the `t`-th optimizer step (t = 1, 2, ...).
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct InverseSqrtLr {
    warmup_steps: u64,
}

/// The formula; `Chainable` turns it into a running schedule that saves its state and
/// composes inside `SequentialLR`, `ChainedScheduler` and `LinearWarmup`.
impl ChainRule for InverseSqrtLr {
    fn closed_form(&self, epoch: i64, base_lr: f64) -> f64 {
        let (t, w) = ((epoch + 1) as f64, self.warmup_steps as f64);
        base_lr * (t / w).min((w / t).sqrt())
    }
}

#[typetag::serde(name = "InverseSqrtLR")]
impl LrSchedulerConfig for InverseSqrtLr {
    fn validate(&self) -> Result<(), SchedError> {
        if self.warmup_steps == 0 {
            return Err(SchedError::invalid(
                self.name(),
                "warmup_steps",
                "must be positive, got 0",
            ));
        }
        Ok(())
    }
    fn build(&self, base_lrs: &[f64]) -> Result<Box<dyn LrScheduler>, SchedError> {
        self.validate()?;
        Chainable::boxed(self.clone(), base_lrs)
    }
}
// ANCHOR_END: schedule

// ANCHOR: initializer
/// LeCun normal (Keras' `lecun_normal`, not in `torch.nn.init`): N(0, 1/fan_in), the
/// initialization SELU networks need.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct LecunNormal {
    /// Glob patterns of the parameter names to initialize.
    params: Vec<String>,
    /// Patterns of names to leave out.
    #[serde(default)]
    exclude: Vec<String>,
}

#[typetag::serde(name = "LecunNormal")]
impl Initializer for LecunNormal {
    fn selection(&self) -> (&[String], &[String]) {
        (&self.params, &self.exclude)
    }
    fn values(
        &self,
        shape: &[usize],
        dtype: DType,
        gen: &mut Generator,
    ) -> Result<Tensor, NnError> {
        let (fan_in, _) = tuna::nn::init::fans(shape);
        let std = 1.0 / (fan_in as f64).sqrt();
        Ok(Tensor::normal(shape, 0.0, std, dtype, gen))
    }
}
// ANCHOR_END: initializer

// ANCHOR: experiment
/// The plugin sections of an experiment file.
#[derive(Deserialize)]
struct Experiment {
    init: Vec<Box<dyn Initializer>>,
    loss: Box<dyn Loss>,
    optimizer: Box<dyn OptimizerConfig>,
    scheduler: Box<dyn LrSchedulerConfig>,
}

const EXPERIMENT: &str = r#"
[[init]]
type = "LecunNormal"
params = ["weight"]

[loss]
type = "LogCoshLoss"

[optimizer]
type = "SignSGD"
lr = 0.02

[scheduler]
type = "InverseSqrtLR"
warmup_steps = 20
"#;
// ANCHOR_END: experiment

/// Fits `y = 2x₀ − x₁ + 0.5` with the four user plugins; returns (first loss, last loss).
pub fn run() -> (f64, f64) {
    tuna::link_all();
    let exp: Experiment = toml::from_str(EXPERIMENT).expect("experiment parses");
    let mut gen = Generator::new(0);
    let model = Linear::new(2, 1, true, DType::F32, &mut gen);
    apply_initializers(&exp.init, &model, 0).expect("init");
    let mut opt = exp
        .optimizer
        .build(model.named_parameters(), &[])
        .expect("optimizer");
    let mut sched = exp.scheduler.build(&opt.lrs()).expect("schedule");
    let x = Tensor::uniform(&[64, 2], -1.0, 1.0, DType::F32, &mut gen);
    let y = x
        .matmul(&Tensor::from_vec(vec![2.0f32, -1.0], &[2, 1]))
        .add_scalar(0.5);
    let (mut first, mut last) = (None, 0.0);
    for step in 0..300 {
        opt.set_lr_all(sched.lrs()[0]).expect("lr");
        let tape = Tape::new();
        let loss = exp
            .loss
            .forward(
                model.forward(tape.constant(x.clone())),
                tape.constant(y.clone()),
            )
            .expect("loss");
        loss.backward();
        last = loss.item();
        first.get_or_insert(last);
        if step % 100 == 0 {
            println!("step {step:3}  lr {:.5}  loss {last:.5}", sched.lrs()[0]);
        }
        drop(tape);
        opt.step().expect("step");
        opt.zero_grad();
        sched.step(None);
    }
    let first = first.expect("ran");
    println!("loss {first:.4} -> {last:.4}");
    assert!(
        last < first / 10.0,
        "the custom plugins should fit the line"
    );
    (first, last)
}

/// The user schedule inside a built-in composite: `InverseSqrtLR` (`warmup_steps = 2`) for
/// steps 0-2, then `ExponentialLR` from the base lr at step 3, as PyTorch's
/// `SequentialLR` does. Returns the lr of the first 6 steps.
pub fn schedule_in_sequence() -> Vec<f64> {
    tuna::link_all();
    let config: Box<dyn LrSchedulerConfig> = toml::from_str(
        r#"
        type = "SequentialLR"
        milestones = [3]

        [[schedulers]]
        type = "InverseSqrtLR"
        warmup_steps = 2

        [[schedulers]]
        type = "ExponentialLR"
        gamma = 0.5
        "#,
    )
    .expect("schedule parses");
    let mut sched = config.build(&[1.0]).expect("schedule");
    let mut lrs = vec![sched.lrs()[0]];
    for _ in 1..6 {
        sched.step(None);
        lrs.push(sched.lrs()[0]);
    }
    println!("SequentialLR[InverseSqrtLR, ExponentialLR]: {lrs:.4?}");
    lrs
}

// ANCHOR: sampler
/// Quasi-random search: trial `n` takes the `n`-th point of a Halton sequence (parameter `i`
/// uses the radical inverse of `n + 1` in the `i`-th prime base), which covers the space
/// more evenly than independent random draws.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct HaltonSampler {}

/// `n` with its base-`b` digits mirrored after the point: 1 → 0.1, 2 → 0.01, 3 → 0.11, ...
fn radical_inverse(mut n: u64, base: u64) -> f64 {
    let (mut x, mut scale) = (0.0, 1.0 / base as f64);
    while n > 0 {
        x += (n % base) as f64 * scale;
        n /= base;
        scale /= base as f64;
    }
    x
}

#[typetag::serde(name = "HaltonSampler")]
impl Sampler for HaltonSampler {
    fn sample(
        &self,
        param: &ParamSpec,
        space: &[ParamSpec],
        _trials: &[FrozenTrial],
        _direction: Direction,
        number: u64,
        _rng: &mut ChaCha8Rng,
    ) -> ParamValue {
        const PRIMES: [u64; 8] = [2, 3, 5, 7, 11, 13, 17, 19];
        let i = space.iter().position(|p| p.name == param.name).unwrap_or(0);
        let u = radical_inverse(number + 1, PRIMES[i % PRIMES.len()]);
        match param.distribution {
            Distribution::Uniform { low, high } => ParamValue::Float(low + u * (high - low)),
            Distribution::LogUniform { low, high } => {
                ParamValue::Float((low.ln() + u * (high.ln() - low.ln())).exp())
            }
            Distribution::Int {
                low, high, step, ..
            } => {
                let n = (high - low) / step + 1;
                ParamValue::Int(low + ((u * n as f64) as i64).min(n - 1) * step)
            }
            Distribution::Choice { n } => ParamValue::Choice(((u * n as f64) as usize).min(n - 1)),
        }
    }
}
// ANCHOR_END: sampler

// ANCHOR: pruner
/// Stops a trial whose objective has not improved on its own best for `patience` epochs:
/// early stopping, decided by the study.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct StagnationPruner {
    patience: u64,
}

#[typetag::serde(name = "StagnationPruner")]
impl Pruner for StagnationPruner {
    fn prune(
        &self,
        trial: &FrozenTrial,
        step: u64,
        _: &[FrozenTrial],
        direction: Direction,
    ) -> bool {
        let mut best: Option<(u64, f64)> = None;
        for (&s, &v) in trial.intermediate.range(..=step) {
            if best.is_none_or(|(_, b)| direction.better(v, b)) {
                best = Some((s, v));
            }
        }
        best.is_some_and(|(s, _)| step - s >= self.patience)
    }

    fn validate(&self) -> Result<(), tuna::tune::TuneError> {
        if self.patience == 0 {
            return Err(tuna::tune::TuneError::config(
                "StagnationPruner.patience",
                "must be at least 1, got 0",
            ));
        }
        Ok(())
    }
}
// ANCHOR_END: pruner

// ANCHOR: study
const SPACE: &str = r#"
base = "iris.toml"
name = "custom-plugins"
trials = 6

[objective]
metric = "val_loss"

[sampler]
type = "HaltonSampler"

[pruner]
type = "StagnationPruner"
patience = 3

[params]
"optimizer.lr" = { log_uniform = [1e-3, 0.3] }
"model.layers[0].out_features" = { int = [4, 32], step = 4 }
"model.layers[2].in_features" = { same_as = "model.layers[0].out_features" }
"#;
// ANCHOR_END: study

/// Runs a 6-trial study of the iris experiment (10 epochs per trial) with the user sampler
/// and pruner, its trials kept in memory; returns the trials' states.
pub fn run_study() -> Vec<TrialState> {
    tuna::link_all();
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
    let dir = std::env::temp_dir().join(format!("tuna-custom-study-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("scratch folder");
    std::fs::copy(
        root.join("examples/configs/iris.toml"),
        dir.join("iris.toml"),
    )
    .expect("base");
    std::fs::write(dir.join("space.toml"), SPACE).expect("space file");
    let space = SearchSpace::load_with(&dir.join("space.toml"), &["train.epochs=10".into()])
        .expect("the space names the user plugins");
    let study = Study::new(space);
    let db = MemoryDatabase::new();
    let opts = RunOptions {
        trials: 6,
        timeout: None,
        jobs: 1,
        dir: dir.join("study"),
        storage: Some(Location::Memory(db.clone())),
        // the copied base names its data relative to examples/configs/
        data_dirs: vec![root.join("examples/configs")],
        threads: None,
    };
    study
        .run(&opts, &|t| {
            println!("trial {} {:?} {:?}", t.number, t.state, t.value)
        })
        .expect("study");
    let (mut storage, _, _) =
        tuna::tune::storage::open_existing(&Location::Memory(db), None).expect("study");
    let trials = storage.trials().expect("trials");
    std::fs::remove_dir_all(&dir).expect("cleanup");
    trials.into_iter().map(|t| t.trial.state).collect()
}

/// Runs the example.
pub fn main() {
    run();
    schedule_in_sequence();
    run_study();
}
