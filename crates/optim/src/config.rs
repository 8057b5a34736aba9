//! The serializable side: [`OptimizerConfig`] (the plugin trait) and [`ParamGroupConfig`]
//! (parameter groups selected by name patterns).

use std::collections::{BTreeMap, HashSet};
use std::fmt::Debug;

use dyn_clone::DynClone;
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use tuna_autograd::{name_matches_any, NamedParam};

use crate::error::OptimError;
use crate::optimizer::Optimizer;

/// A serializable optimizer configuration: the plugin trait behind `[optimizer]` sections.
///
/// Configs are internally tagged with PyTorch's class name (`type = "AdamW"`) and take
/// PyTorch's constructor arguments with PyTorch's defaults. A user's own optimizer registers
/// itself with one `#[typetag::serde(name = "MyOpt")]` on its impl.
///
/// ```
/// use tuna_optim::OptimizerConfig;
/// let cfg: Box<dyn OptimizerConfig> =
///     serde_json::from_str(r#"{"type": "AdamW", "lr": 3e-4}"#).unwrap();
/// cfg.validate().unwrap();
/// ```
#[typetag::serde(tag = "type")]
pub trait OptimizerConfig: DynClone + Debug + Send + Sync {
    /// The tag this config is written with (the PyTorch class name, e.g. `"AdamW"`).
    fn name(&self) -> &'static str {
        self.typetag_name()
    }

    /// Checks every field; the error names the first invalid field and its allowed values.
    ///
    /// # Errors
    /// [`OptimError::Config`] for an invalid value.
    fn validate(&self) -> Result<(), OptimError>;

    /// Builds the runtime optimizer over `params`, split into `groups` (see
    /// [`ParamGroupConfig`]; parameters matched by no group form a last, default group that
    /// uses this config as is).
    ///
    /// # Errors
    /// An invalid config or group override, a group pattern that matches no parameter,
    /// duplicate parameter names, or a parameter the optimizer cannot handle.
    fn build(
        &self,
        params: Vec<NamedParam>,
        groups: &[ParamGroupConfig],
    ) -> Result<Box<dyn Optimizer>, OptimError>;
}

dyn_clone::clone_trait_object!(OptimizerConfig);

/// One parameter group: the parameters whose names match `params` (glob patterns, see
/// [`tuna_autograd::name_matches`]) and the hyperparameters that differ for them.
///
/// Overrides are any fields of the optimizer's own config (`lr`, `weight_decay`, `betas`,
/// `momentum`, `eps`, ...), written flat next to `params` as in PyTorch's param-group dicts.
/// They are merged into the optimizer's config and checked by the optimizer itself, so an
/// unknown field (`SGD` has no `betas`) or an invalid value is an error naming the group.
///
/// ```toml
/// [optimizer]
/// type = "AdamW"
/// lr = 1e-3
/// weight_decay = 0.05
///
/// [[optimizer.param_groups]]       # no weight decay on biases and norm layers
/// params = ["*.bias", "*norm*"]
/// weight_decay = 0.0
/// ```
///
/// Rules: groups are taken in order and a parameter joins the first group that matches it;
/// parameters matched by no group form a last, default group with the optimizer's config;
/// a group that matches nothing is an error (a typo in a pattern must not pass silently).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct ParamGroupConfig {
    /// Glob patterns over parameter names (`"*.bias"`, `"encoder.*"`, `"w"`).
    pub params: Vec<String>,
    /// Hyperparameter overrides for this group (`lr = 0.1`, `weight_decay = 0.0`, ...).
    #[serde(flatten)]
    pub overrides: BTreeMap<String, serde_json::Value>,
}

impl ParamGroupConfig {
    /// A group of the parameters matching `patterns`, with no overrides yet.
    pub fn new<S: Into<String>>(patterns: impl IntoIterator<Item = S>) -> Self {
        ParamGroupConfig {
            params: patterns.into_iter().map(Into::into).collect(),
            overrides: BTreeMap::new(),
        }
    }

    /// Sets the override `key = value` (any field of the optimizer's config).
    pub fn set(mut self, key: &str, value: impl Into<serde_json::Value>) -> Self {
        self.overrides.insert(key.to_string(), value.into());
        self
    }

    /// Overrides the learning rate.
    pub fn lr(self, lr: f64) -> Self {
        self.set("lr", lr)
    }

    /// Overrides the weight decay.
    pub fn weight_decay(self, weight_decay: f64) -> Self {
        self.set("weight_decay", weight_decay)
    }
}

/// Splits `params` into groups and computes each group's config: `base` with the group's
/// overrides merged in. Used by every built-in optimizer's `build`; available to plugin
/// authors. The returned groups are in config order, then the default group (if non-empty).
///
/// # Errors
/// Duplicate parameter names, a group matching no parameter, or an override that the config
/// type rejects (unknown field, wrong type).
pub fn resolve_groups<C: Serialize + DeserializeOwned>(
    type_name: &str,
    base: &C,
    params: Vec<NamedParam>,
    groups: &[ParamGroupConfig],
) -> Result<Vec<(C, Vec<NamedParam>)>, OptimError> {
    let mut seen = HashSet::new();
    for (name, _) in &params {
        if !seen.insert(name.as_str()) {
            return Err(OptimError::Param {
                name: name.clone(),
                message: "appears twice in the parameter list".into(),
            });
        }
    }
    let base_value = serde_json::to_value(base)
        .map_err(|e| OptimError::config(type_name, "config", format!("cannot serialize: {e}")))?;
    let mut buckets: Vec<Vec<NamedParam>> = vec![Vec::new(); groups.len() + 1];
    for np in params {
        let idx = groups
            .iter()
            .position(|g| name_matches_any(&g.params, &np.0))
            .unwrap_or(groups.len());
        buckets[idx].push(np);
    }
    let mut out = Vec::with_capacity(groups.len() + 1);
    for (i, (group, members)) in groups.iter().zip(buckets.iter_mut()).enumerate() {
        if members.is_empty() {
            return Err(OptimError::config(
                type_name,
                format!("param_groups[{i}].params"),
                format!(
                    "patterns {:?} match no parameter (not already taken by an earlier group)",
                    group.params
                ),
            ));
        }
        let mut value = base_value.clone();
        if let serde_json::Value::Object(map) = &mut value {
            for (k, v) in &group.overrides {
                map.insert(k.clone(), v.clone());
            }
        }
        let cfg: C = serde_json::from_value(value).map_err(|e| {
            OptimError::config(type_name, format!("param_groups[{i}]"), e.to_string())
        })?;
        out.push((cfg, std::mem::take(members)));
    }
    let rest = buckets.pop().unwrap_or_default();
    if !rest.is_empty() {
        let cfg: C = serde_json::from_value(base_value)
            .map_err(|e| OptimError::config(type_name, "config", e.to_string()))?;
        out.push((cfg, rest));
    }
    Ok(out)
}
