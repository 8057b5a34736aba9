//! The runtime side: the object-safe [`Optimizer`] trait, the [`UpdateRule`] trait that each
//! built-in optimizer implements for its config, and [`GroupedOptimizer`], the one generic
//! runtime that drives any update rule over parameter groups.

use std::collections::BTreeMap;
use std::fmt::Debug;
use std::path::Path;

use serde::de::DeserializeOwned;
use serde::Serialize;
use tuna_autograd::NamedParam;
use tuna_tensor::Tensor;

use crate::config::{resolve_groups, OptimizerConfig, ParamGroupConfig};
use crate::error::OptimError;
use crate::state::{GroupState, OptimizerState, ParamStateMeta};

/// A runtime optimizer (PyTorch `torch.optim.Optimizer`), built from an
/// [`OptimizerConfig`]. Object safe: trainers hold a
/// `Box<dyn Optimizer>`.
///
/// The learning rate has one source of truth, the schedule: the trainer calls
/// [`Optimizer::set_lr`] (and [`Optimizer::set_momentum`] for cyclic momentum) before each
/// [`Optimizer::step`].
pub trait Optimizer: Debug + Send {
    /// The optimizer's tag (`"AdamW"`), as in its config ([`OptimizerConfig::name`]).
    fn name(&self) -> &str;

    /// One update of every parameter from its accumulated gradient (`optimizer.step()`).
    /// Parameters without a gradient are skipped and their state (step count included) is
    /// left unchanged, as in PyTorch.
    ///
    /// # Errors
    /// A gradient whose shape or dtype differs from its parameter's, or a parameter the rule
    /// cannot handle.
    fn step(&mut self) -> Result<(), OptimError>;

    /// Clears every parameter's gradient (`optimizer.zero_grad()`, `set_to_none=True`).
    fn zero_grad(&mut self);

    /// The parameter groups: names, learning rate, momentum and every hyperparameter.
    fn param_groups(&self) -> Vec<ParamGroupInfo>;

    /// The learning rate of every group (`[g["lr"] for g in opt.param_groups]`).
    fn lrs(&self) -> Vec<f64> {
        self.param_groups().iter().map(|g| g.lr).collect()
    }

    /// Sets the learning rate of group `group`.
    ///
    /// # Errors
    /// [`OptimError::GroupIndex`] if there is no such group; [`OptimError::Config`] for a
    /// negative or non-finite lr.
    fn set_lr(&mut self, group: usize, lr: f64) -> Result<(), OptimError>;

    /// Sets the learning rate of every group.
    ///
    /// # Errors
    /// As [`Optimizer::set_lr`].
    fn set_lr_all(&mut self, lr: f64) -> Result<(), OptimError> {
        for g in 0..self.param_groups().len() {
            self.set_lr(g, lr)?;
        }
        Ok(())
    }

    /// Sets the momentum of group `group`: `momentum` for SGD, RMSprop and Muon, `betas[0]`
    /// for the Adam family, Lion and LAMB (what PyTorch's `OneCycleLR`/`CyclicLR` cycle).
    ///
    /// # Errors
    /// [`OptimError::Unsupported`] if the optimizer has no momentum (Adagrad, Rprop, ...).
    fn set_momentum(&mut self, group: usize, momentum: f64) -> Result<(), OptimError>;

    /// A snapshot of the optimizer's state: hyperparameters per group, per-parameter step
    /// counts and scalars (serde), and moment tensors keyed `"{param}.{key}"`.
    fn state_dict(&self) -> OptimizerState;

    /// Restores a snapshot taken by [`Optimizer::state_dict`], including the group
    /// hyperparameters.
    ///
    /// # Errors
    /// [`OptimError::StateMismatch`] listing every mismatch (optimizer type, groups, unknown or
    /// missing parameters, state keys, shapes, dtypes); nothing is changed then.
    fn load_state_dict(&mut self, state: &OptimizerState) -> Result<(), OptimError>;

    /// Saves [`Optimizer::state_dict`] to a safetensors file (see [`OptimizerState::save`]).
    ///
    /// # Errors
    /// [`OptimError::Io`] if the file cannot be written.
    fn save(&self, path: &Path) -> Result<(), OptimError> {
        self.state_dict().save(path)
    }

    /// Loads a file written by [`Optimizer::save`] and restores it.
    ///
    /// # Errors
    /// [`OptimError::Io`] for an unreadable file, [`OptimError::StateMismatch`] as in
    /// [`Optimizer::load_state_dict`].
    fn load(&mut self, path: &Path) -> Result<(), OptimError> {
        let state = OptimizerState::load(path)?;
        self.load_state_dict(&state)
    }
}

/// A read-only view of one parameter group (an entry of PyTorch's `optimizer.param_groups`).
#[derive(Clone, Debug, PartialEq)]
pub struct ParamGroupInfo {
    /// The names of the group's parameters, in order.
    pub params: Vec<String>,
    /// The group's learning rate.
    pub lr: f64,
    /// The group's momentum (`momentum` or `betas[0]`), if the optimizer has one.
    pub momentum: Option<f64>,
    /// Every hyperparameter of the group, as its config serializes.
    pub options: serde_json::Value,
}

/// The saved form of one parameter's optimizer state: its step count, scalar state (ASGD's
/// `eta`, NAdam's `mu_product`) and state tensors (`exp_avg`, `momentum_buffer`, ...) by key,
/// as checkpoints hold them (tensor `"{param}.{key}"`, PyTorch's `optimizer.state[p][key]`).
/// An update rule works on its own typed [`RuleState`] and converts to and from this record
/// only to save and load.
#[derive(Clone, Debug, Default)]
pub struct StateRecord {
    /// Number of updates applied to this parameter (PyTorch `state["step"]`).
    pub step: u64,
    /// Scalar state by key.
    pub scalars: BTreeMap<String, f64>,
    /// Tensor state by key.
    pub tensors: BTreeMap<String, Tensor>,
}

impl StateRecord {
    /// An empty record at `step`.
    pub fn new(step: u64) -> Self {
        StateRecord {
            step,
            ..Default::default()
        }
    }

    /// Adds the tensor `key`.
    pub fn with(mut self, key: &str, t: &Tensor) -> Self {
        self.tensors.insert(key.to_string(), t.clone());
        self
    }

    /// Adds the tensor `key` if there is one.
    pub fn with_optional(self, key: &str, t: Option<&Tensor>) -> Self {
        match t {
            Some(t) => self.with(key, t),
            None => self,
        }
    }

    /// Adds the scalar `key`.
    pub fn with_scalar(mut self, key: &str, v: f64) -> Self {
        self.scalars.insert(key.to_string(), v);
        self
    }

    /// Removes and returns the tensor `key`.
    ///
    /// # Errors
    /// [`OptimError::StateMismatch`] naming the key if the record has no such tensor.
    pub fn tensor(&mut self, key: &str) -> Result<Tensor, OptimError> {
        self.tensors
            .remove(key)
            .ok_or_else(|| OptimError::StateMismatch(vec![format!("missing state tensor `{key}`")]))
    }

    /// Removes and returns the tensor `key`, if present (state that exists only for some
    /// settings, as Adam's `max_exp_avg_sq` with `amsgrad`).
    pub fn optional_tensor(&mut self, key: &str) -> Option<Tensor> {
        self.tensors.remove(key)
    }

    /// The scalar `key`.
    ///
    /// # Errors
    /// [`OptimError::StateMismatch`] naming the key if the record has no such scalar.
    pub fn scalar(&self, key: &str) -> Result<f64, OptimError> {
        self.scalars
            .get(key)
            .copied()
            .ok_or_else(|| OptimError::StateMismatch(vec![format!("missing state scalar `{key}`")]))
    }
}

/// The typed state of one parameter under one [`UpdateRule`] (Adam's `exp_avg` and
/// `exp_avg_sq`, SGD's momentum buffer, ...): what the rule's update reads and writes, by
/// field, with no string keys on the update path. Converts to and from the [`StateRecord`]
/// that checkpoints hold.
pub trait RuleState: Clone + Debug + Send + Sync + 'static {
    /// Number of updates applied (PyTorch `state["step"]`).
    fn step(&self) -> u64;

    /// The state as a record (tensors and scalars under PyTorch's state keys).
    fn to_record(&self) -> StateRecord;

    /// The state from a record written by [`to_record`](RuleState::to_record) (the optimizer
    /// has already checked the tensors' keys, shapes and dtypes against a fresh state).
    ///
    /// # Errors
    /// [`OptimError::StateMismatch`] if a tensor or scalar is missing.
    fn from_record(record: StateRecord) -> Result<Self, OptimError>;
}

/// The state of a rule that keeps nothing but the step count (signSGD, plain SGD-like
/// rules written by users).
#[derive(Clone, Debug, Default, PartialEq)]
pub struct StepState {
    /// Number of updates applied.
    pub step: u64,
}

impl RuleState for StepState {
    fn step(&self) -> u64 {
        self.step
    }

    fn to_record(&self) -> StateRecord {
        StateRecord::new(self.step)
    }

    fn from_record(record: StateRecord) -> Result<Self, OptimError> {
        Ok(StepState { step: record.step })
    }
}

/// The per-parameter update of one optimizer, implemented by its config type (which holds
/// one group's hyperparameters). [`GroupedOptimizer`] turns any `UpdateRule` into a full
/// [`Optimizer`]: groups, skipping parameters without gradients, state keyed by parameter
/// names, save/load.
pub trait UpdateRule: OptimizerConfig + Clone + Serialize + DeserializeOwned + 'static {
    /// The learning rate.
    fn lr(&self) -> f64;

    /// Sets the learning rate.
    fn set_lr(&mut self, lr: f64);

    /// The momentum (`momentum` or `betas[0]`), if any.
    fn momentum(&self) -> Option<f64> {
        None
    }

    /// Sets the momentum; `false` if the rule has none.
    fn set_momentum(&mut self, _momentum: f64) -> bool {
        false
    }

    /// Whether the rule can optimize this parameter (Muon: 2-D only).
    ///
    /// # Errors
    /// [`OptimError::Param`] explaining why not.
    fn accepts(&self, _name: &str, _value: &Tensor) -> Result<(), OptimError> {
        Ok(())
    }

    /// The rule's state of one parameter.
    type State: RuleState;

    /// The initial state of a parameter (all state tensors, created at its first step).
    fn init_state(&self, param: &Tensor) -> Self::State;

    /// Applies one update to `param` from `grad` (same shape and dtype, contiguous, f32 or
    /// f64), advancing `state` (the rule increments its step itself).
    fn update(&self, param: &mut Tensor, grad: &Tensor, state: &mut Self::State);
}

/// Runs `$body` with `$T` bound to `f32` or `f64` according to `$dtype`.
macro_rules! float_dispatch {
    ($dtype:expr, $T:ident => $body:expr) => {
        match $dtype {
            tuna_tensor::DType::F32 => {
                type $T = f32;
                $body
            }
            tuna_tensor::DType::F64 => {
                type $T = f64;
                $body
            }
            other => unreachable!("float_dispatch on {other}"),
        }
    };
}
pub(crate) use float_dispatch;

/// Implements [`UpdateRule`]'s hyperparameter accessors inside an `impl UpdateRule` block:
/// `hyper_accessors!(lr)` for `lr`/`set_lr` on the `lr` field, and
/// `hyper_accessors!(lr, momentum = betas.0)` (or `= momentum`) to also expose the field a
/// cyclic schedule drives as momentum.
macro_rules! hyper_accessors {
    (lr) => {
        fn lr(&self) -> f64 {
            self.lr
        }

        fn set_lr(&mut self, lr: f64) {
            self.lr = lr;
        }
    };
    (lr, momentum = $($field:tt).+) => {
        $crate::optimizer::hyper_accessors!(lr);

        fn momentum(&self) -> Option<f64> {
            Some(self.$($field).+)
        }

        fn set_momentum(&mut self, momentum: f64) -> bool {
            self.$($field).+ = momentum;
            true
        }
    };
}
pub(crate) use hyper_accessors;

#[derive(Clone, Debug)]
struct Group<R> {
    config: R,
    params: Vec<NamedParam>,
}

/// The generic runtime optimizer: groups of named parameters, each group with its own copy of
/// the update rule's config, and per-parameter state keyed by parameter name (never by object
/// identity: reloading weights or rebuilding the model keeps the state).
#[derive(Clone, Debug)]
pub struct GroupedOptimizer<R: UpdateRule> {
    name: &'static str,
    groups: Vec<Group<R>>,
    state: BTreeMap<String, R::State>,
}

impl<R: UpdateRule> GroupedOptimizer<R> {
    /// Builds the optimizer: resolves the groups, validates every group's config and checks
    /// that the rule accepts every parameter.
    ///
    /// # Errors
    /// See [`OptimizerConfig::build`].
    pub fn new(
        config: &R,
        params: Vec<NamedParam>,
        groups: &[ParamGroupConfig],
    ) -> Result<Self, OptimError> {
        config.validate()?;
        let name = config.name();
        let resolved = resolve_groups(name, config, params, groups)?;
        let mut out = Vec::with_capacity(resolved.len());
        for (i, (cfg, params)) in resolved.into_iter().enumerate() {
            if i < groups.len() {
                cfg.validate().map_err(|e| match e {
                    OptimError::Config { field, message } => OptimError::Config {
                        field: format!("{} (in param_groups[{i}])", field),
                        message,
                    },
                    other => other,
                })?;
            }
            for (name, p) in &params {
                let v = p.value();
                if !v.dtype().is_float() {
                    return Err(OptimError::DType {
                        name: name.clone(),
                        dtype: v.dtype(),
                    });
                }
                cfg.accepts(name, &v)?;
            }
            out.push(Group {
                config: cfg,
                params,
            });
        }
        Ok(GroupedOptimizer {
            name,
            groups: out,
            state: BTreeMap::new(),
        })
    }

    /// The config of group `group`.
    pub fn group_config(&self, group: usize) -> Option<&R> {
        self.groups.get(group).map(|g| &g.config)
    }

    /// Mutable access to the config of group `group` (any hyperparameter, not only lr).
    pub fn group_config_mut(&mut self, group: usize) -> Option<&mut R> {
        self.groups.get_mut(group).map(|g| &mut g.config)
    }

    /// The state of parameter `name`, if it has been stepped.
    pub fn param_state(&self, name: &str) -> Option<&R::State> {
        self.state.get(name)
    }
}

fn check_grad(name: &str, value: &Tensor, grad: &Tensor) -> Result<(), OptimError> {
    if grad.shape() != value.shape() {
        return Err(OptimError::Param {
            name: name.to_string(),
            message: format!(
                "gradient shape {:?} differs from the parameter's {:?}",
                grad.shape(),
                value.shape()
            ),
        });
    }
    if grad.dtype() != value.dtype() {
        return Err(OptimError::Param {
            name: name.to_string(),
            message: format!(
                "gradient dtype {} differs from the parameter's {}",
                grad.dtype(),
                value.dtype()
            ),
        });
    }
    Ok(())
}

impl<R: UpdateRule> Optimizer for GroupedOptimizer<R> {
    fn name(&self) -> &str {
        self.name
    }

    fn step(&mut self) -> Result<(), OptimError> {
        for group in &self.groups {
            for (name, param) in &group.params {
                let Some(grad) = param.grad() else { continue };
                let state = match self.state.get_mut(name) {
                    Some(s) => s,
                    None => {
                        let init = group.config.init_state(&param.value());
                        self.state.entry(name.clone()).or_insert(init)
                    }
                };
                param.update(|value| -> Result<(), OptimError> {
                    check_grad(name, value, &grad)?;
                    let grad = if grad.is_contiguous() {
                        grad
                    } else {
                        grad.contiguous()
                    };
                    group.config.update(value, &grad, state);
                    Ok(())
                })?;
            }
        }
        Ok(())
    }

    fn zero_grad(&mut self) {
        for g in &self.groups {
            for (_, p) in &g.params {
                p.zero_grad();
            }
        }
    }

    fn param_groups(&self) -> Vec<ParamGroupInfo> {
        self.groups
            .iter()
            .map(|g| ParamGroupInfo {
                params: g.params.iter().map(|(n, _)| n.clone()).collect(),
                lr: g.config.lr(),
                momentum: g.config.momentum(),
                options: serde_json::to_value(&g.config).unwrap_or_default(),
            })
            .collect()
    }

    fn set_lr(&mut self, group: usize, lr: f64) -> Result<(), OptimError> {
        let len = self.groups.len();
        let g = self
            .groups
            .get_mut(group)
            .ok_or(OptimError::GroupIndex { index: group, len })?;
        crate::error::non_negative(self.name, "lr", lr)?;
        g.config.set_lr(lr);
        Ok(())
    }

    fn set_momentum(&mut self, group: usize, momentum: f64) -> Result<(), OptimError> {
        let len = self.groups.len();
        let g = self
            .groups
            .get_mut(group)
            .ok_or(OptimError::GroupIndex { index: group, len })?;
        let mut cfg = g.config.clone();
        if !cfg.set_momentum(momentum) {
            return Err(OptimError::Unsupported {
                optimizer: self.name.into(),
                what: "momentum".into(),
            });
        }
        cfg.validate()?;
        g.config = cfg;
        Ok(())
    }

    fn state_dict(&self) -> OptimizerState {
        let mut st = OptimizerState {
            optimizer: self.name.to_string(),
            groups: self
                .groups
                .iter()
                .map(|g| GroupState {
                    params: g.params.iter().map(|(n, _)| n.clone()).collect(),
                    options: serde_json::to_value(&g.config).unwrap_or_default(),
                })
                .collect(),
            params: BTreeMap::new(),
            tensors: BTreeMap::new(),
        };
        for (name, s) in &self.state {
            let s = s.to_record();
            st.params.insert(
                name.clone(),
                ParamStateMeta {
                    step: s.step,
                    scalars: s.scalars.clone(),
                },
            );
            for (k, t) in &s.tensors {
                st.tensors.insert(format!("{name}.{k}"), t.clone());
            }
        }
        st
    }

    fn load_state_dict(&mut self, state: &OptimizerState) -> Result<(), OptimError> {
        let mut problems = Vec::new();
        if state.optimizer != self.name {
            problems.push(format!(
                "state is for optimizer `{}`, this is `{}`",
                state.optimizer, self.name
            ));
        }
        if state.groups.len() != self.groups.len() {
            problems.push(format!(
                "state has {} param group(s), the optimizer {}",
                state.groups.len(),
                self.groups.len()
            ));
        }
        let mut configs = Vec::new();
        for (i, (gs, g)) in state.groups.iter().zip(&self.groups).enumerate() {
            let names: Vec<&str> = g.params.iter().map(|(n, _)| n.as_str()).collect();
            let saved: Vec<&str> = gs.params.iter().map(String::as_str).collect();
            if names != saved {
                problems.push(format!(
                    "param group {i}: state has parameters {saved:?}, the optimizer {names:?}"
                ));
            }
            match serde_json::from_value::<R>(gs.options.clone()) {
                Ok(c) => configs.push(c),
                Err(e) => problems.push(format!("param group {i}: options: {e}")),
            }
        }
        // expected state per parameter
        let mut current: BTreeMap<&str, (&R, Tensor)> = BTreeMap::new();
        for g in &self.groups {
            for (n, p) in &g.params {
                current.insert(n.as_str(), (&g.config, p.value()));
            }
        }
        let mut new_state: BTreeMap<String, StateRecord> = BTreeMap::new();
        for (name, meta) in &state.params {
            match current.get(name.as_str()) {
                None => problems.push(format!("state for unknown parameter `{name}`")),
                Some((cfg, value)) => {
                    let expected = cfg.init_state(value).to_record();
                    for key in expected.scalars.keys() {
                        if !meta.scalars.contains_key(key) {
                            problems.push(format!("missing state scalar `{name}.{key}`"));
                        }
                    }
                    let mut ps = StateRecord {
                        step: meta.step,
                        scalars: meta.scalars.clone(),
                        tensors: BTreeMap::new(),
                    };
                    for (key, exp) in &expected.tensors {
                        let full = format!("{name}.{key}");
                        match state.tensors.get(&full) {
                            None => problems.push(format!("missing state tensor `{full}`")),
                            Some(t) if t.shape() != exp.shape() => problems.push(format!(
                                "state tensor `{full}` has shape {:?}, expected {:?}",
                                t.shape(),
                                exp.shape()
                            )),
                            Some(t) if t.dtype() != exp.dtype() => problems.push(format!(
                                "state tensor `{full}` has dtype {}, expected {}",
                                t.dtype(),
                                exp.dtype()
                            )),
                            Some(t) => {
                                ps.tensors.insert(key.clone(), t.clone());
                            }
                        }
                    }
                    new_state.insert(name.clone(), ps);
                }
            }
        }
        for full in state.tensors.keys() {
            let known = state.params.keys().any(|n| {
                full.len() > n.len() + 1
                    && full.starts_with(n.as_str())
                    && full.as_bytes()[n.len()] == b'.'
                    && new_state
                        .get(n)
                        .is_some_and(|ps| ps.tensors.contains_key(&full[n.len() + 1..]))
            });
            let reported = problems.iter().any(|p| p.contains(&format!("`{full}`")));
            if !known && !reported {
                problems.push(format!("unexpected state tensor `{full}`"));
            }
        }
        let mut typed = BTreeMap::new();
        // Every key, shape and dtype matches a fresh state: converting can only fail on a rule
        // whose record says more than its fresh state (reported the same way).
        let records = if problems.is_empty() {
            new_state
        } else {
            BTreeMap::new()
        };
        for (name, record) in records {
            match R::State::from_record(record) {
                Ok(state) => {
                    typed.insert(name, state);
                }
                Err(OptimError::StateMismatch(p)) => {
                    problems.extend(p.into_iter().map(|m| format!("parameter `{name}`: {m}")));
                }
                Err(other) => problems.push(format!("parameter `{name}`: {other}")),
            }
        }
        if !problems.is_empty() {
            return Err(OptimError::StateMismatch(problems));
        }
        for (g, c) in self.groups.iter_mut().zip(configs) {
            g.config = c;
        }
        self.state = typed;
        Ok(())
    }
}

/// Several optimizers over disjoint parameters acting as one (Muon for the 2-D weights plus
/// AdamW for the rest). Groups are the concatenation of the parts' groups, in order.
#[derive(Debug)]
pub struct CombinedOptimizer {
    name: String,
    parts: Vec<Box<dyn Optimizer>>,
}

impl CombinedOptimizer {
    /// Combines `parts` under the tag `name` (the primary optimizer's).
    pub fn new(name: impl Into<String>, parts: Vec<Box<dyn Optimizer>>) -> Self {
        CombinedOptimizer {
            name: name.into(),
            parts,
        }
    }

    /// The parts, in order.
    pub fn parts(&self) -> &[Box<dyn Optimizer>] {
        &self.parts
    }

    fn locate(&self, group: usize) -> Result<(usize, usize), OptimError> {
        let mut g = group;
        for (i, p) in self.parts.iter().enumerate() {
            let n = p.param_groups().len();
            if g < n {
                return Ok((i, g));
            }
            g -= n;
        }
        Err(OptimError::GroupIndex {
            index: group,
            len: self.param_groups().len(),
        })
    }
}

impl Optimizer for CombinedOptimizer {
    fn name(&self) -> &str {
        &self.name
    }

    fn step(&mut self) -> Result<(), OptimError> {
        self.parts.iter_mut().try_for_each(|p| p.step())
    }

    fn zero_grad(&mut self) {
        self.parts.iter_mut().for_each(|p| p.zero_grad())
    }

    fn param_groups(&self) -> Vec<ParamGroupInfo> {
        self.parts.iter().flat_map(|p| p.param_groups()).collect()
    }

    fn set_lr(&mut self, group: usize, lr: f64) -> Result<(), OptimError> {
        let (i, g) = self.locate(group)?;
        self.parts[i].set_lr(g, lr)
    }

    fn set_momentum(&mut self, group: usize, momentum: f64) -> Result<(), OptimError> {
        let (i, g) = self.locate(group)?;
        self.parts[i].set_momentum(g, momentum)
    }

    fn state_dict(&self) -> OptimizerState {
        let mut out = OptimizerState {
            optimizer: self.name.clone(),
            groups: Vec::new(),
            params: BTreeMap::new(),
            tensors: BTreeMap::new(),
        };
        for p in &self.parts {
            let s = p.state_dict();
            out.groups.extend(s.groups);
            out.params.extend(s.params);
            out.tensors.extend(s.tensors);
        }
        out
    }

    fn load_state_dict(&mut self, state: &OptimizerState) -> Result<(), OptimError> {
        let mut problems = Vec::new();
        if state.optimizer != self.name {
            problems.push(format!(
                "state is for optimizer `{}`, this is `{}`",
                state.optimizer, self.name
            ));
        }
        let total: usize = self.parts.iter().map(|p| p.param_groups().len()).sum();
        if state.groups.len() != total {
            problems.push(format!(
                "state has {} param group(s), the optimizer {total}",
                state.groups.len()
            ));
        }
        if !problems.is_empty() {
            return Err(OptimError::StateMismatch(problems));
        }
        let mut offset = 0;
        let mut subs = Vec::new();
        for p in &self.parts {
            let n = p.param_groups().len();
            let groups = state.groups[offset..offset + n].to_vec();
            offset += n;
            let names: Vec<String> = groups.iter().flat_map(|g| g.params.clone()).collect();
            let owns = |full: &str| {
                names.iter().any(|n| {
                    full.len() > n.len() && full.starts_with(n.as_str()) && {
                        let rest = &full[n.len()..];
                        rest.starts_with('.') && !rest[1..].contains('.')
                    }
                })
            };
            subs.push(OptimizerState {
                optimizer: p.name().to_string(),
                groups,
                params: state
                    .params
                    .iter()
                    .filter(|(k, _)| names.contains(k))
                    .map(|(k, v)| (k.clone(), v.clone()))
                    .collect(),
                tensors: state
                    .tensors
                    .iter()
                    .filter(|(k, _)| owns(k))
                    .map(|(k, v)| (k.clone(), v.clone()))
                    .collect(),
            });
        }
        // Each part validates its share before changing anything; a mismatch in a later part
        // leaves earlier parts loaded (the error is still reported).
        for (p, s) in self.parts.iter_mut().zip(&subs) {
            if let Err(e) = p.load_state_dict(s) {
                match e {
                    OptimError::StateMismatch(v) => problems.extend(v),
                    other => problems.push(other.to_string()),
                }
            }
        }
        let all: Vec<&String> = subs.iter().flat_map(|s| s.params.keys()).collect();
        for k in state.params.keys() {
            if !all.contains(&k) {
                problems.push(format!("state for unknown parameter `{k}`"));
            }
        }
        if problems.is_empty() {
            Ok(())
        } else {
            Err(OptimError::StateMismatch(problems))
        }
    }
}
