//! Trials as samplers and pruners see them.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

/// Whether lower or higher objective values are better.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Direction {
    /// Lower is better (losses).
    Minimize,
    /// Higher is better (accuracies).
    Maximize,
}

impl Direction {
    /// `true` when `a` is strictly better than `b`.
    pub fn better(self, a: f64, b: f64) -> bool {
        match self {
            Direction::Minimize => a < b,
            Direction::Maximize => a > b,
        }
    }
}

/// A trial's lifecycle state.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum TrialState {
    /// Being evaluated.
    Running,
    /// Finished with a value.
    Complete,
    /// Stopped early by the pruner (its intermediate values are kept).
    Pruned,
    /// Errored or panicked (the error is recorded by the study).
    Failed,
}

/// A sampled parameter value, in the form samplers work with.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub enum ParamValue {
    /// For `Uniform` and `LogUniform`.
    Float(f64),
    /// For `Int`.
    Int(i64),
    /// For `Choice`: the option's index.
    Choice(usize),
}

impl ParamValue {
    /// The value as f64 (the index for a choice).
    pub fn as_f64(self) -> f64 {
        match self {
            ParamValue::Float(v) => v,
            ParamValue::Int(v) => v as f64,
            ParamValue::Choice(i) => i as f64,
        }
    }
}

/// A trial's record (Optuna's `FrozenTrial`).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct FrozenTrial {
    /// 0, 1, 2, ... in creation order within the study.
    pub number: u64,
    /// Its state.
    pub state: TrialState,
    /// The parameters sampled so far (a conditional parameter is absent when its condition
    /// did not hold).
    pub params: BTreeMap<String, ParamValue>,
    /// The final objective value (complete trials; the last intermediate value for pruned
    /// ones).
    pub value: Option<f64>,
    /// Objective values reported per step (epoch), by step.
    pub intermediate: BTreeMap<u64, f64>,
}

/// A trial's sampled parameters by name (a parameter's path in the experiment).
pub type Params = BTreeMap<String, ParamValue>;
