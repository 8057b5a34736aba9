//! The [`Regularizer`] plugin trait: a penalty added to the loss, differentiable so that
//! `backward` adds its gradient to the parameters' gradients.

use std::fmt::Debug;

use dyn_clone::DynClone;
use tuna_autograd::{NamedParam, Tape, Var};
use tuna_tensor::Tensor;

use crate::error::RegularizeError;

/// A penalty on the parameters added to the training loss (Keras' `kernel_regularizer`, or
/// PyTorch's hand-written `loss + lam * sum(p.pow(2).sum() for p in params)`).
///
/// Built-ins: [`L1`](crate::L1), [`L2`](crate::L2), [`ElasticNet`](crate::ElasticNet). A
/// config names one by its tag:
///
/// ```toml
/// [[regularizers]]
/// type = "L2"
/// weight = 1e-4
/// exclude = ["*norm*"]
/// ```
///
/// Every implementation selects parameters by state-dict name with glob patterns (`params`,
/// default `["*weight"]`, and `exclude`, default empty; see [`is_selected`](crate::is_selected)).
///
/// A user's own regularizer registers with `#[typetag::serde(name = "MyPenalty")]` on its
/// `impl Regularizer for MyPenalty` and is then usable by name from a config file.
#[typetag::serde(tag = "type")]
pub trait Regularizer: DynClone + Debug + Send + Sync {
    /// The tag this config is written with (`type = "..."`: the PyTorch, torchvision or
    /// Optuna class name where there is one).
    fn name(&self) -> &'static str {
        self.typetag_name()
    }

    /// Checks the configuration.
    ///
    /// # Errors
    /// A [`RegularizeError`] naming the field, e.g. `L2.weight: must be >= 0, got -1`.
    fn validate(&self) -> Result<(), RegularizeError>;

    /// Whether the parameter named `name` is penalized.
    fn selects(&self, name: &str) -> bool;

    /// The penalty as a scalar `Var` on `tape`, summed over the selected entries of `params`
    /// (`(state-dict name, Var)` pairs, usually the parameters' `Var`s from the forward pass).
    /// Add it to the loss before `backward`; the gradient then flows into the parameters.
    ///
    /// Returns `None` when no parameter is selected or the penalty is identically zero (a
    /// zero weight), so the caller records nothing.
    fn penalty<'t>(&self, tape: &'t Tape, params: &[(String, Var<'t>)]) -> Option<Var<'t>>;

    /// The penalty's current value without building a graph (for logging), accumulated in
    /// f64. Equals `penalty(..).item()` up to rounding.
    fn value(&self, params: &[NamedParam]) -> f64;

    /// [`penalty`](Regularizer::penalty) for parameters not yet on the tape: brings every
    /// selected parameter onto `tape` with [`Tape::param`] (its gradient is accumulated into
    /// [`Param::grad`](tuna_autograd::Param::grad) by `backward`, alongside the gradient from
    /// the forward pass).
    fn penalty_for_params<'t>(&self, tape: &'t Tape, params: &[NamedParam]) -> Option<Var<'t>> {
        let vars: Vec<(String, Var<'t>)> = params
            .iter()
            .filter(|(name, _)| self.selects(name))
            .map(|(name, p)| (name.clone(), tape.param(p)))
            .collect();
        self.penalty(tape, &vars)
    }
}

dyn_clone::clone_trait_object!(Regularizer);

/// The sum of every regularizer's penalty (`None` if all are `None`).
///
/// ```
/// use tuna_autograd::{Param, Tape};
/// use tuna_regularize::{total_penalty, Regularizer, L1, L2};
/// use tuna_tensor::Tensor;
///
/// let w = Param::new(Tensor::from_vec(vec![1.0f32, -2.0], &[2]));
/// let regs: Vec<Box<dyn Regularizer>> = vec![
///     Box::new(L1 { weight: 0.5, ..L1::default() }),
///     Box::new(L2 { weight: 0.25, ..L2::default() }),
/// ];
/// let tape = Tape::new();
/// let params = vec![("fc.weight".to_string(), tape.param(&w))];
/// let p = total_penalty(&regs, &tape, &params).unwrap();
/// // 0.5·(1 + 2) + 0.25·(1 + 4)
/// assert!((p.item() - 2.75).abs() < 1e-6);
/// ```
pub fn total_penalty<'t>(
    regularizers: &[Box<dyn Regularizer>],
    tape: &'t Tape,
    params: &[(String, Var<'t>)],
) -> Option<Var<'t>> {
    regularizers
        .iter()
        .filter_map(|r| r.penalty(tape, params))
        .reduce(|a, b| a.add(b))
}

/// Sums `f(var)` (each a scalar) over the selected parameters.
pub(crate) fn sum_selected<'t>(
    params: &[(String, Var<'t>)],
    selects: impl Fn(&str) -> bool,
    f: impl Fn(Var<'t>) -> Var<'t>,
) -> Option<Var<'t>> {
    params
        .iter()
        .filter(|(name, _)| selects(name))
        .map(|(_, v)| f(*v))
        .reduce(|a, b| a.add(b))
}

/// Sums `f(x)` over every element `x` of every selected parameter, in f64.
pub(crate) fn sum_selected_values(
    params: &[NamedParam],
    selects: impl Fn(&str) -> bool,
    f: impl Fn(f64) -> f64,
) -> f64 {
    params
        .iter()
        .filter(|(name, _)| selects(name))
        .map(|(_, p)| elementwise_sum(&p.value(), &f))
        .sum()
}

fn elementwise_sum(t: &Tensor, f: &impl Fn(f64) -> f64) -> f64 {
    t.to_vec_f64().into_iter().map(f).sum()
}
