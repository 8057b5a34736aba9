//! [`Experiment`]: one TOML (or JSON) file describing a whole training run — data, loader,
//! model, loss, optimizer (with parameter groups), schedule, regularizers, constraints and
//! training options — parsed and validated as a whole before any work starts.
//!
//! ```toml
//! seed = 0
//!
//! [data]
//! type = "Mnist"
//! path = "datasets/mnist-10k"
//! validation = 0.1
//!
//! [loader]
//! batch_size = 64
//! shuffle = true
//!
//! [model]
//! type = "Sequential"
//! layers = [
//!   { type = "Flatten" },
//!   { type = "Linear", in_features = 784, out_features = 10 },
//! ]
//!
//! [loss]
//! type = "CrossEntropyLoss"
//!
//! [optimizer]
//! type = "SGD"
//! lr = 0.05
//! momentum = 0.9
//!
//! [scheduler]            # optional; `interval` = "batch" or "epoch"
//! type = "OneCycleLR"
//! max_lr = 0.1           # total_steps filled in from epochs x batches
//!
//! [[regularizers]]
//! type = "L2"
//! weight = 1e-4
//!
//! [train]
//! epochs = 10
//! metrics = ["accuracy"]
//! early_stopping = { monitor = "val_loss", patience = 5 }
//! ```
//!
//! Every problem in the file is reported at once, each with its path in the file:
//! `optimizer.betas[1]: must be in [0, 1), got 1.5`.

mod edit;
mod text;
mod value_error;
mod value_path;
mod warnings;

use std::fmt;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use tuna_data::{DataConfig, LoaderConfig};
use tuna_loss::Loss;
use tuna_nn::{Initializer, LayerConfig};
use tuna_optim::{OptimizerConfig, ParamGroupConfig};
use tuna_regularize::{Constraint, EarlyStoppingConfig, Regularizer};
use tuna_sched::LrSchedulerConfig;

pub use edit::{edit_toml, Edit};
pub use text::{f64_or_inf, parse_text, read_value, serialize_f64_or_inf, to_toml, toml_to_json};
pub use value_error::ValueError;
pub use value_path::{apply_override, get_path, parse_path, set_path, unset_path, PathStep};

/// The top-level keys of an experiment file.
pub const SECTIONS: [&str; 13] = [
    "name",
    "description",
    "seed",
    "data",
    "loader",
    "model",
    "init",
    "loss",
    "optimizer",
    "scheduler",
    "regularizers",
    "constraints",
    "train",
];

/// A whole experiment: what `tuna train` runs, `tuna diagnose` explains and the tuner
/// mutates. Build it with [`Experiment::load`] (a file, with `--set` overrides) or
/// [`Experiment::from_value`].
#[derive(Clone, Debug)]
pub struct Experiment {
    /// A short name for the run (default: the file stem).
    pub name: Option<String>,
    /// Free text describing the experiment.
    pub description: Option<String>,
    /// Seeds everything: initialization, dropout, shuffling, splits. Default 0.
    pub seed: u64,
    /// `[data]`: where the samples come from.
    pub data: Box<dyn DataConfig>,
    /// `[loader]`: batching and shuffling.
    pub loader: LoaderConfig,
    /// `[model]`: the layer config that builds the model.
    pub model: Box<dyn LayerConfig>,
    /// `[[init]]`: initializers applied, in order, to the parameters they select once the
    /// model is built (`torch.nn.init`).
    pub init: Vec<Box<dyn Initializer>>,
    /// `[loss]`.
    pub loss: Box<dyn Loss>,
    /// `[optimizer]` and its `param_groups`.
    pub optimizer: OptimizerSection,
    /// `[scheduler]`, if any.
    pub scheduler: Option<SchedulerSection>,
    /// `[[regularizers]]`: penalties added to the loss.
    pub regularizers: Vec<Box<dyn Regularizer>>,
    /// `[[constraints]]`: projections applied after every optimizer step.
    pub constraints: Vec<Box<dyn Constraint>>,
    /// `[train]`.
    pub train: TrainConfig,
    /// The file as parsed, after overrides (what the tuner edits and the run folder records).
    pub source: Value,
    /// The folder of the file the experiment was read from: relative data paths are looked up
    /// there first, then in the working directory.
    pub base_dir: Option<PathBuf>,
    /// The paths changed by `--set` / `--unset` (so that warnings can say so).
    pub overridden: Vec<String>,
}

/// The `[optimizer]` section: an optimizer plugin and its parameter groups.
#[derive(Clone, Debug)]
pub struct OptimizerSection {
    /// The optimizer (`type = "SGD"`, ...).
    pub config: Box<dyn OptimizerConfig>,
    /// `[[optimizer.param_groups]]` (see [`ParamGroupConfig`]).
    pub param_groups: Vec<ParamGroupConfig>,
}

/// When the schedule advances.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum StepInterval {
    /// After every optimizer step (PyTorch practice for OneCycleLR and CyclicLR).
    Batch,
    /// After every epoch (PyTorch practice for the others).
    Epoch,
}

/// The `[scheduler]` section: a schedule plugin plus when it steps and what it watches.
#[derive(Clone, Debug)]
pub struct SchedulerSection {
    /// The schedule (`type = "OneCycleLR"`, ...).
    pub config: Box<dyn LrSchedulerConfig>,
    /// `interval`: `"batch"` or `"epoch"`; default `"batch"` for OneCycleLR and CyclicLR,
    /// `"epoch"` otherwise.
    pub interval: StepInterval,
    /// `monitor`: the metric ReduceLROnPlateau watches (default `"val_loss"`, or
    /// `"train_loss"` without a validation split).
    pub monitor: Option<String>,
}

/// The `[train]` section.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TrainConfig {
    /// Passes over the training split. Default 10.
    #[serde(default = "default_epochs")]
    pub epochs: usize,
    /// Metrics computed per epoch on train and validation (and on test at the end):
    /// `accuracy`, `top5_accuracy`, `precision`, `recall`, `f1`, `confusion_matrix`, `mae`,
    /// `rmse`, `r2`. The loss is always recorded.
    #[serde(default)]
    pub metrics: Vec<String>,
    /// Clip the total gradient norm to this value before each step
    /// (`torch.nn.utils.clip_grad_norm_`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub clip_grad_norm: Option<f64>,
    /// The norm `clip_grad_norm` uses (`norm_type`, default 2; `inf` for the max norm).
    #[serde(
        default = "two",
        deserialize_with = "f64_or_inf",
        serialize_with = "serialize_f64_or_inf"
    )]
    pub clip_norm_type: f64,
    /// Clamp every gradient element to `[-v, v]` (`torch.nn.utils.clip_grad_value_`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub clip_grad_value: Option<f64>,
    /// Stop when a monitored metric stops improving (and restore the best weights).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub early_stopping: Option<EarlyStoppingConfig>,
    /// Write the `last` checkpoint every this many epochs (default 1; 0 disables).
    #[serde(default = "one")]
    pub checkpoint_every: usize,
    /// Also write the `last` checkpoint every this many batches within an epoch (default:
    /// only at epoch ends).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub checkpoint_every_batches: Option<usize>,
    /// Skip an epoch-end checkpoint that comes less than this many seconds after the previous
    /// one (default 10; 0 writes every one). The last epoch, a stop and an interruption always
    /// write. A run killed in between resumes from the previous checkpoint and, training
    /// being deterministic, still ends with bit-identical weights.
    #[serde(default = "ten")]
    pub checkpoint_min_seconds: f64,
    /// Evaluate on the test split when training ends (default `true`).
    #[serde(default = "yes")]
    pub test: bool,
    /// Record the diagnosis signals (gradient/weight norms, update ratios, dead units, time
    /// split, loss spikes) into the run folder's `signals.jsonl` (default `true`).
    #[serde(default = "yes")]
    pub signals: bool,
    /// Worker threads for the kernels (default: `TUNA_NUM_THREADS` or 1).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub threads: Option<usize>,
}

fn default_epochs() -> usize {
    10
}
fn two() -> f64 {
    2.0
}
fn one() -> usize {
    1
}
fn ten() -> f64 {
    10.0
}
fn yes() -> bool {
    true
}

impl Default for TrainConfig {
    fn default() -> Self {
        TrainConfig {
            epochs: default_epochs(),
            metrics: Vec::new(),
            clip_grad_norm: None,
            clip_norm_type: 2.0,
            clip_grad_value: None,
            early_stopping: None,
            checkpoint_every: 1,
            checkpoint_every_batches: None,
            checkpoint_min_seconds: 10.0,
            test: true,
            signals: true,
            threads: None,
        }
    }
}

/// Every problem found in an experiment file, each with its path in the file.
#[derive(Clone, Debug, PartialEq)]
pub struct ExperimentError {
    /// The file, when the experiment came from one.
    pub file: Option<PathBuf>,
    /// One entry per problem: `optimizer.lr: must be >= 0, got -1`.
    pub problems: Vec<String>,
}

impl fmt::Display for ExperimentError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let file = self
            .file
            .as_ref()
            .map(|p| p.display().to_string())
            .unwrap_or_else(|| "experiment".to_string());
        if self.problems.len() == 1 {
            write!(f, "{file}: {}", self.problems[0])
        } else {
            write!(f, "{file}: {} problems:", self.problems.len())?;
            for p in &self.problems {
                write!(f, "\n  - {p}")?;
            }
            Ok(())
        }
    }
}

impl std::error::Error for ExperimentError {}

impl ExperimentError {
    pub(crate) fn one(file: Option<&Path>, problem: impl Into<String>) -> Self {
        ExperimentError {
            file: file.map(Path::to_path_buf),
            problems: vec![problem.into()],
        }
    }
}

/// Rewrites a plugin's own error (`SGD.lr: ...`, `Adam.betas[1]: ...`) with the section's
/// path (`optimizer.lr: ...`); other messages get the section as a prefix.
fn locate(section: &str, type_name: Option<&str>, message: &str) -> String {
    if let Some(t) = type_name {
        if let Some(rest) = message.strip_prefix(&format!("{t}.")) {
            return format!("{section}.{rest}");
        }
        if let Some(rest) = message.strip_prefix(&format!("{t}: ")) {
            return format!("{section}: {rest}");
        }
    }
    format!("{section}: {message}")
}

fn type_of(v: &Value) -> Option<&str> {
    v.get("type").and_then(Value::as_str)
}

/// Reports every top-level key that is not a known section.
fn unknown_sections(root: &Map<String, Value>, problems: &mut Vec<String>) {
    for key in root.keys() {
        if !SECTIONS.contains(&key.as_str()) {
            problems.push(format!(
                "{key}: unknown section; known: {}",
                SECTIONS.join(", ")
            ));
        }
    }
}

/// The experiment's `name`, `description` and `seed` (0 when absent).
fn header(
    root: &Map<String, Value>,
    problems: &mut Vec<String>,
) -> (Option<String>, Option<String>, u64) {
    let mut text = |k: &str| match root.get(k) {
        None => None,
        Some(Value::String(s)) => Some(s.clone()),
        Some(v) => {
            problems.push(format!("{k}: expected a string, got {}", kind(v)));
            None
        }
    };
    let (name, description) = (text("name"), text("description"));
    let seed = match root.get("seed") {
        None => 0,
        Some(v) => v.as_u64().unwrap_or_else(|| {
            problems.push(format!("seed: expected a non-negative integer, got {v}"));
            0
        }),
    };
    (name, description, seed)
}

/// The section `k`, or a "missing section" problem.
fn required<'v>(
    root: &'v Map<String, Value>,
    k: &str,
    problems: &mut Vec<String>,
) -> Option<&'v Value> {
    let v = root.get(k);
    if v.is_none() {
        problems.push(format!("{k}: missing section `[{k}]`"));
    }
    v
}

/// The plugin list `key` (`[[regularizers]]`, `[[constraints]]`), each entry validated and
/// its problems located as `key[i].field`.
fn checked_list<T: ?Sized>(
    key: &str,
    root: &Map<String, Value>,
    problems: &mut Vec<String>,
    validate: impl Fn(&T) -> Result<(), String>,
) -> Vec<Box<T>>
where
    Box<T>: serde::de::DeserializeOwned,
{
    let list = plugin_list::<T>(key, root, problems);
    for (i, item) in list.iter().enumerate() {
        if let Err(e) = validate(item) {
            let t = root[key][i].get("type").and_then(Value::as_str);
            problems.push(locate(&format!("{key}[{i}]"), t, &e));
        }
    }
    list
}

/// Deserializes a typetag plugin from `v`, naming `path` and the plugin type in the error.
fn plugin<T: ?Sized>(path: &str, v: &Value, problems: &mut Vec<String>) -> Option<Box<T>>
where
    Box<T>: serde::de::DeserializeOwned,
{
    if !v.is_object() {
        problems.push(format!(
            "{path}: expected a table with a `type` key, got {}",
            kind(v)
        ));
        return None;
    }
    if type_of(v).is_none() {
        problems.push(format!("{path}: missing `type` (the plugin's name)"));
        return None;
    }
    match serde_json::from_value::<Box<T>>(v.clone()) {
        Ok(p) => Some(p),
        Err(e) => {
            let message = match field_of_error::<T>(v) {
                Some((field, inner)) => format!("{path}.{field}: {inner}"),
                None => locate(path, type_of(v), &e.to_string()),
            };
            problems.push(message);
            None
        }
    }
}

/// The field a plugin's deserialization error is about (`lr`, `betas[1]`) and the error
/// without it, found by deserializing again with the path tracked. The JSON is written with
/// every table's `type` first, so the plugin registry reads the tag before the fields and the
/// fields' path is not lost in a buffer.
fn field_of_error<T: ?Sized>(v: &Value) -> Option<(String, String)>
where
    Box<T>: serde::de::DeserializeOwned,
{
    let mut text = String::new();
    write_type_first(v, &mut text);
    let mut de = serde_json::Deserializer::from_str(&text);
    let e = serde_path_to_error::deserialize::<_, Box<T>>(&mut de).err()?;
    let field = e.path().to_string();
    if field.is_empty() || field == "?" {
        return None;
    }
    let inner = e.inner().to_string();
    let inner = inner
        .split(" at line ")
        .next()
        .unwrap_or(&inner)
        .to_string();
    Some((field, inner))
}

/// JSON text of `v` with `type` the first key of every table.
fn write_type_first(v: &Value, out: &mut String) {
    match v {
        Value::Object(o) => {
            out.push('{');
            let mut keys: Vec<&String> = o.keys().collect();
            keys.sort_by_key(|k| *k != "type");
            for (i, k) in keys.into_iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                out.push_str(&Value::String(k.clone()).to_string());
                out.push(':');
                write_type_first(&o[k], out);
            }
            out.push('}');
        }
        Value::Array(a) => {
            out.push('[');
            for (i, x) in a.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                write_type_first(x, out);
            }
            out.push(']');
        }
        other => out.push_str(&other.to_string()),
    }
}

fn kind(v: &Value) -> &'static str {
    match v {
        Value::Null => "nothing",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "a list",
        Value::Object(_) => "a table",
    }
}

fn plain<T: serde::de::DeserializeOwned + Default>(
    path: &str,
    v: Option<&Value>,
    problems: &mut Vec<String>,
) -> T {
    match v {
        None => T::default(),
        Some(v) => serde_path_to_error::deserialize(v.clone()).unwrap_or_else(|e| {
            let field = e.path().to_string();
            let at = if field.is_empty() || field == "." {
                path.to_string()
            } else {
                format!("{path}.{field}")
            };
            problems.push(format!("{at}: {}", e.inner()));
            T::default()
        }),
    }
}

impl Experiment {
    /// Reads, overrides (`key=value` strings, see [`apply_override`]) and validates a file.
    ///
    /// # Errors
    /// Every problem found, each with its path.
    pub fn load(path: &Path, overrides: &[String]) -> Result<Experiment, ExperimentError> {
        Experiment::load_edited(path, overrides, &[])
    }

    /// Reads a file, applies `--set` overrides then `--unset` removals, validates it, and
    /// resolves its data paths (relative to the file's folder, then the working directory;
    /// found paths are made absolute so the experiment means the same from anywhere).
    ///
    /// # Errors
    /// Every problem found, each with its path.
    pub fn load_edited(
        path: &Path,
        set: &[String],
        unset: &[String],
    ) -> Result<Experiment, ExperimentError> {
        let mut value = read_value(path)?;
        let mut problems = Vec::new();
        let mut overridden = Vec::new();
        for o in set {
            match apply_override(&mut value, o) {
                Ok(()) => overridden.extend(o.split_once('=').map(|(k, _)| k.trim().to_string())),
                Err(e) => problems.push(e.to_string()),
            }
        }
        for u in unset {
            match unset_path(&mut value, u.trim()) {
                Ok(()) => overridden.push(u.trim().to_string()),
                Err(e) => problems.push(e.to_string()),
            }
        }
        // Validate the file even when an override failed, so every problem is reported.
        let exp = Experiment::from_value(value);
        if let Err(e) = &exp {
            problems.extend(e.problems.iter().cloned());
        }
        let mut exp = match exp {
            Ok(exp) if problems.is_empty() => exp,
            _ => {
                return Err(ExperimentError {
                    file: Some(path.to_path_buf()),
                    problems,
                })
            }
        };
        if exp.name.is_none() {
            exp.name = path.file_stem().map(|s| s.to_string_lossy().into_owned());
        }
        exp.overridden = overridden;
        exp.base_dir = Some(
            path.parent()
                .filter(|d| !d.as_os_str().is_empty())
                .map_or_else(|| PathBuf::from("."), Path::to_path_buf),
        );
        exp.resolve_paths();
        Ok(exp)
    }

    /// The folders a relative data path is looked up in: the experiment file's folder, then
    /// the working directory.
    pub fn base_dirs(&self) -> Vec<PathBuf> {
        let mut dirs = Vec::new();
        if let Some(d) = &self.base_dir {
            dirs.push(std::path::absolute(d).unwrap_or_else(|_| d.clone()));
        }
        let cwd = std::env::current_dir().unwrap_or_else(|_| PathBuf::from("."));
        if !dirs.contains(&cwd) {
            dirs.push(cwd);
        }
        dirs
    }

    /// The data context of this experiment: its seed and [`Experiment::base_dirs`]; no
    /// fitted preprocessing (set `fitted` to reuse a run's).
    pub fn data_context(&self) -> tuna_data::DataContext {
        tuna_data::DataContext {
            base_dirs: self.base_dirs(),
            seed: self.seed,
            fitted: None,
        }
    }

    /// Makes every relative data path that exists under [`Experiment::base_dirs`] absolute,
    /// in the data config and in [`Experiment::source`]. Paths found nowhere are left as they
    /// are: loading the data then fails with every place that was tried.
    pub fn resolve_paths(&mut self) {
        let dirs = self.base_dirs();
        let mut changed = Vec::new();
        for (field, path) in self.data.paths_mut() {
            if path.is_absolute() {
                continue;
            }
            if let Some(found) = dirs.iter().map(|d| d.join(&*path)).find(|p| p.exists()) {
                let abs = std::fs::canonicalize(&found).unwrap_or(found);
                *path = abs.clone();
                changed.push((field, abs));
            }
        }
        for (field, abs) in changed {
            let _ = set_path(
                &mut self.source,
                &field,
                Value::String(abs.to_string_lossy().into_owned()),
            );
        }
    }

    /// Parses experiment TOML text.
    ///
    /// # Errors
    /// As [`Experiment::from_value`], plus TOML syntax errors.
    pub fn from_toml_str(text: &str) -> Result<Experiment, ExperimentError> {
        let v = parse_text(text, false).map_err(|e| ExperimentError::one(None, e.to_string()))?;
        Experiment::from_value(v)
    }

    /// Builds and validates an experiment from its JSON form.
    ///
    /// # Errors
    /// Every problem found: unknown sections, unknown plugin types or fields, invalid values
    /// (each plugin's own validation), inconsistent training options.
    pub fn from_value(value: Value) -> Result<Experiment, ExperimentError> {
        let mut problems = Vec::new();
        let Some(root) = value.as_object() else {
            return Err(ExperimentError::one(
                None,
                format!("expected a table of sections, got {}", kind(&value)),
            ));
        };
        unknown_sections(root, &mut problems);
        let (name, description, seed) = header(root, &mut problems);
        let data = required(root, "data", &mut problems)
            .and_then(|v| plugin::<dyn DataConfig>("data", v, &mut problems));
        if let Some(Err(e)) = data.as_ref().map(|d| d.validate()) {
            problems.push(e.to_string());
        }
        let loader: LoaderConfig = plain("loader", root.get("loader"), &mut problems);
        if let Err(e) = loader.validate() {
            problems.push(e.to_string());
        }
        let model =
            required(root, "model", &mut problems).and_then(|v| model_spec(v, &mut problems));
        let loss = required(root, "loss", &mut problems)
            .and_then(|v| plugin::<dyn Loss>("loss", v, &mut problems));
        if let (Some(Err(e)), Some(v)) = (loss.as_ref().map(|l| l.validate()), root.get("loss")) {
            problems.push(locate("loss", type_of(v), &e.to_string()));
        }
        let optimizer = required(root, "optimizer", &mut problems)
            .and_then(|v| optimizer_section(v, &mut problems));
        let scheduler = root
            .get("scheduler")
            .and_then(|v| scheduler_section(v, &mut problems));
        let init = checked_list::<dyn Initializer>("init", root, &mut problems, |i| {
            i.validate().map_err(|e| e.to_string())
        });
        let regularizers =
            checked_list::<dyn Regularizer>("regularizers", root, &mut problems, |r| {
                r.validate().map_err(|e| e.to_string())
            });
        let constraints = checked_list::<dyn Constraint>("constraints", root, &mut problems, |c| {
            c.validate().map_err(|e| e.to_string())
        });
        let train: TrainConfig = plain("train", root.get("train"), &mut problems);
        train.check(&mut problems);

        if !problems.is_empty() {
            return Err(ExperimentError {
                file: None,
                problems,
            });
        }
        Ok(Experiment {
            name,
            description,
            seed,
            data: data.expect("checked"),
            loader,
            model: model.expect("checked"),
            init,
            loss: loss.expect("checked"),
            optimizer: optimizer.expect("checked"),
            scheduler,
            regularizers,
            constraints,
            train,
            source: value,
            base_dir: None,
            overridden: Vec::new(),
        })
    }

    /// The experiment as JSON with every default filled in (what the run folder records as
    /// `config.toml`).
    pub fn resolved(&self) -> Value {
        let mut root = Map::new();
        if let Some(n) = &self.name {
            root.insert("name".into(), Value::String(n.clone()));
        }
        if let Some(d) = &self.description {
            root.insert("description".into(), Value::String(d.clone()));
        }
        root.insert("seed".into(), Value::from(self.seed));
        let to = |v: Result<Value, serde_json::Error>| v.unwrap_or(Value::Null);
        root.insert("data".into(), to(serde_json::to_value(&self.data)));
        root.insert("loader".into(), to(serde_json::to_value(&self.loader)));
        root.insert("model".into(), to(serde_json::to_value(&self.model)));
        if !self.init.is_empty() {
            root.insert("init".into(), to(serde_json::to_value(&self.init)));
        }
        root.insert("loss".into(), to(serde_json::to_value(&self.loss)));
        let mut opt = to(serde_json::to_value(&self.optimizer.config));
        if !self.optimizer.param_groups.is_empty() {
            opt["param_groups"] = to(serde_json::to_value(&self.optimizer.param_groups));
        }
        root.insert("optimizer".into(), opt);
        if let Some(s) = &self.scheduler {
            let mut v = to(serde_json::to_value(&s.config));
            v["interval"] = to(serde_json::to_value(s.interval));
            if let Some(m) = &s.monitor {
                v["monitor"] = Value::String(m.clone());
            }
            root.insert("scheduler".into(), v);
        }
        if !self.regularizers.is_empty() {
            root.insert(
                "regularizers".into(),
                to(serde_json::to_value(&self.regularizers)),
            );
        }
        if !self.constraints.is_empty() {
            root.insert(
                "constraints".into(),
                to(serde_json::to_value(&self.constraints)),
            );
        }
        root.insert("train".into(), to(serde_json::to_value(&self.train)));
        Value::Object(root)
    }

    /// [`Experiment::resolved`] as TOML text.
    pub fn to_toml_string(&self) -> String {
        to_toml(&self.resolved())
    }
}

fn model_spec(v: &Value, problems: &mut Vec<String>) -> Option<Box<dyn LayerConfig>> {
    // Check a Sequential's layers one by one, so every bad layer is reported with its index.
    if type_of(v) == Some("Sequential") {
        if let Some(layers) = v.get("layers").and_then(Value::as_array) {
            let before = problems.len();
            for (i, layer) in layers.iter().enumerate() {
                let path = format!("model.layers[{i}]");
                if let Some(mut spec) = plugin::<dyn LayerConfig>(&path, layer, problems) {
                    let stand_in = tuna_nn::DataInfo::new()
                        .with_vocab_size(1)
                        .with_max_len(1)
                        .with_outputs(1);
                    let checked = spec
                        .fill_from_data(&stand_in)
                        .and_then(|()| spec.validate());
                    if let Err(e) = checked {
                        problems.push(locate(&path, type_of(layer), &e.to_string()));
                    }
                }
            }
            if problems.len() > before {
                return None;
            }
        }
    }
    let spec = plugin::<dyn LayerConfig>("model", v, problems)?;
    // Sizes a text model leaves to the data (an Embedding's num_embeddings, a
    // PositionalEmbedding's max_len) are filled when the data is loaded; validate the rest
    // with stand-ins that fit any size given.
    let mut filled = spec.clone();
    let stand_in = tuna_nn::DataInfo::new()
        .with_vocab_size(1)
        .with_max_len(1)
        .with_outputs(1);
    let checked = filled
        .fill_from_data(&stand_in)
        .and_then(|()| filled.validate());
    if let Err(e) = checked {
        problems.push(locate("model", type_of(v), &e.to_string()));
        return None;
    }
    Some(spec)
}

fn optimizer_section(v: &Value, problems: &mut Vec<String>) -> Option<OptimizerSection> {
    let mut v = v.clone();
    let groups = match v.as_object_mut().and_then(|o| o.remove("param_groups")) {
        None => Vec::new(),
        Some(g) => match serde_json::from_value::<Vec<ParamGroupConfig>>(g) {
            Ok(g) => g,
            Err(e) => {
                problems.push(format!("optimizer.param_groups: {e}"));
                Vec::new()
            }
        },
    };
    let config = plugin::<dyn OptimizerConfig>("optimizer", &v, problems)?;
    if let Err(e) = config.validate() {
        problems.push(locate("optimizer", type_of(&v), &e.to_string()));
    }
    Some(OptimizerSection {
        config,
        param_groups: groups,
    })
}

fn scheduler_section(v: &Value, problems: &mut Vec<String>) -> Option<SchedulerSection> {
    let mut v = v.clone();
    let obj = v.as_object_mut()?;
    let interval = match obj.remove("interval") {
        None => None,
        Some(i) => match serde_json::from_value::<StepInterval>(i.clone()) {
            Ok(i) => Some(i),
            Err(_) => {
                problems.push(format!(
                    "scheduler.interval: expected \"batch\" or \"epoch\", got {i}"
                ));
                None
            }
        },
    };
    let monitor = match obj.remove("monitor") {
        None => None,
        Some(Value::String(s)) => Some(s),
        Some(other) => {
            problems.push(format!(
                "scheduler.monitor: expected a metric name such as \"val_loss\", got {other}"
            ));
            None
        }
    };
    let config = plugin::<dyn LrSchedulerConfig>("scheduler", &v, problems)?;
    // The trainer fills in a missing length (OneCycleLR's total_steps) from epochs x batches
    // once the data is loaded; validate the rest with a stand-in length.
    let mut filled = config.clone();
    filled.fill_total_steps(1 << 20);
    if let Err(e) = filled.validate() {
        problems.push(locate("scheduler", type_of(&v), &e.to_string()));
    }
    let per_batch = matches!(type_of(&v), Some("OneCycleLR" | "CyclicLR"));
    Some(SchedulerSection {
        config,
        interval: interval.unwrap_or(if per_batch {
            StepInterval::Batch
        } else {
            StepInterval::Epoch
        }),
        monitor,
    })
}

fn plugin_list<T: ?Sized>(
    key: &str,
    root: &Map<String, Value>,
    problems: &mut Vec<String>,
) -> Vec<Box<T>>
where
    Box<T>: serde::de::DeserializeOwned,
{
    match root.get(key) {
        None => Vec::new(),
        Some(Value::Array(items)) => items
            .iter()
            .enumerate()
            .filter_map(|(i, item)| plugin::<T>(&format!("{key}[{i}]"), item, problems))
            .collect(),
        Some(other) => {
            problems.push(format!(
                "{key}: expected a list of tables (`[[{key}]]`), got {}",
                kind(other)
            ));
            Vec::new()
        }
    }
}

impl TrainConfig {
    fn check(&self, problems: &mut Vec<String>) {
        if self.epochs == 0 {
            problems.push("train.epochs: must be >= 1, got 0".to_string());
        }
        if let Some(v) = self.clip_grad_norm {
            if !(v.is_finite() && v > 0.0) {
                problems.push(format!("train.clip_grad_norm: must be > 0, got {v}"));
            }
        }
        if self.clip_norm_type.is_nan() || self.clip_norm_type <= 0.0 {
            problems.push(format!(
                "train.clip_norm_type: must be > 0 (or inf), got {}",
                self.clip_norm_type
            ));
        }
        if let Some(v) = self.clip_grad_value {
            if !(v.is_finite() && v > 0.0) {
                problems.push(format!("train.clip_grad_value: must be > 0, got {v}"));
            }
        }
        if let Some(es) = &self.early_stopping {
            if let Err(e) = es.validate() {
                problems.push(locate(
                    "train.early_stopping",
                    Some("EarlyStopping"),
                    &e.to_string(),
                ));
            }
        }
        if !(self.checkpoint_min_seconds.is_finite() && self.checkpoint_min_seconds >= 0.0) {
            problems.push(format!(
                "train.checkpoint_min_seconds: must be >= 0, got {}",
                self.checkpoint_min_seconds
            ));
        }
        if self.checkpoint_every_batches == Some(0) {
            problems.push("train.checkpoint_every_batches: must be >= 1, got 0".to_string());
        }
        if self.threads == Some(0) {
            problems.push("train.threads: must be >= 1, got 0".to_string());
        }
        for (i, m) in self.metrics.iter().enumerate() {
            if m.trim().is_empty() {
                problems.push(format!("train.metrics[{i}]: empty metric name"));
            }
        }
    }
}
