//! The search-space file: a base experiment, the objective, the sampler and pruner, and a
//! distribution for every path of the experiment to search.
//!
//! ```toml
//! base = "../configs/mnist-mlp.toml"    # relative to this file
//! name = "mnist-mlp"                    # the study's name (default: this file's stem)
//! trials = 40                           # default budget (tuna tune --trials overrides)
//! seed = 0
//!
//! [objective]
//! metric = "val_accuracy"               # any recorded metric (metrics.jsonl keys)
//! direction = "maximize"                # default: minimize for *loss/mae/rmse, else maximize
//! also = [{ metric = "seconds" }]       # optional further objectives: Pareto front reported
//!
//! [sampler]
//! type = "TPESampler"                   # RandomSampler | GridSampler | TPESampler | yours (+ arguments)
//!
//! [pruner]
//! type = "SuccessiveHalvingPruner"      # MedianPruner | HyperbandPruner | NopPruner | yours
//!
//! [params]
//! "optimizer.lr" = { log_uniform = [1e-4, 1e-1] }
//! "model.layers[3].p" = { uniform = [0.0, 0.5] }
//! "loader.batch_size" = { choice = [32, 64, 128] }
//! "model.layers[1].out_features" = { int = [64, 512], step = 32 }
//! "model.layers[4].in_features" = { same_as = "model.layers[1].out_features" }
//! "optimizer" = { choice = [
//!     { type = "SGD", lr = { log_uniform = [1e-3, 1e-1] }, momentum = 0.9 },
//!     { type = "AdamW", lr = { log_uniform = [1e-4, 1e-2] } },
//! ] }
//! ```
//!
//! A choice option may hold distributions itself: they become parameters conditional on that
//! option (named `optimizer[0].lr`, `optimizer[1].lr`), sampled only when it is chosen.

//!
//! The file is read with serde (`deny_unknown_fields` everywhere): every error names the file
//! and the field's path (`space.toml: params."optimizer.lr".log_uniform: low must be > 0`).
//! `[sampler]` and `[pruner]` are plugins, named by `type` like any experiment section;
//! an unknown type lists the known ones (your own registered ones included).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use serde_json::Value;
use tuna_train::experiment::ExperimentError;
use tuna_train::experiment::{apply_override, get_path, parse_text, read_value, set_path};

use crate::error::{Result, TuneError};
use crate::pruner::{NopPruner, Pruner};
use crate::sampler::{Sampler, TpeSampler};
use crate::space::ParamSpec;
use crate::trial::{Direction, ParamValue, Params};

mod check;
mod file;

use file::{is_distribution, parse, space_error, DistTable, Entry, SpaceFile};

/// How one `[params]` entry writes into the experiment.
#[derive(Clone, Debug, PartialEq)]
enum Binding {
    /// Write the sampled value of parameter `path` at `path`.
    Value { path: String },
    /// Write option `i` of `options` at `path`, filling the distributions inside it.
    Choice { path: String, options: Vec<Value> },
    /// Copy the value found at `source` (after everything else is written).
    SameAs { path: String, source: String },
}

impl Binding {
    fn path(&self) -> &str {
        match self {
            Binding::Value { path }
            | Binding::Choice { path, .. }
            | Binding::SameAs { path, .. } => path,
        }
    }
}

/// What the study optimizes.
#[derive(Clone, Debug, PartialEq)]
pub struct Objective {
    /// A metric recorded per epoch (`val_accuracy`, `val_loss`, ...).
    pub metric: String,
    /// Minimize or maximize.
    pub direction: Direction,
}

impl Objective {
    fn new(metric: String, direction: Option<Direction>) -> Objective {
        let direction = direction.unwrap_or_else(|| default_direction(&metric));
        Objective { metric, direction }
    }
}

/// A parsed search-space file.
#[derive(Clone, Debug)]
pub struct SearchSpace {
    /// The space file.
    pub file: PathBuf,
    /// The study's name.
    pub name: String,
    /// The base experiment file.
    pub base_file: PathBuf,
    /// The base experiment as JSON (with any `--set` overrides applied).
    pub base: Value,
    /// Every searched parameter (conditional ones included).
    pub params: Vec<ParamSpec>,
    bindings: Vec<Binding>,
    /// The objective the sampler and pruner optimize.
    pub objective: Objective,
    /// Further objectives (`[objective] also = [...]`): recorded for every trial, and the
    /// study reports the Pareto front over all objectives.
    pub also: Vec<Objective>,
    /// The `[sampler]` plugin (default: `TPESampler` with Optuna's defaults), validated.
    pub sampler: Arc<dyn Sampler>,
    /// The `[pruner]` plugin (default: `NopPruner`), validated and told the study's name.
    pub pruner: Arc<dyn Pruner>,
    /// Default trial budget.
    pub trials: Option<usize>,
    /// Study seed.
    pub seed: u64,
    /// The file's JSON form (stored with the study).
    pub source: Value,
}

/// A plugin's [`TuneError::Config`] (`HyperbandPruner.reduction_factor`) as a space-file
/// error at its section (`pruner.reduction_factor`).
fn plugin_error(file: &Path, section: &str, e: TuneError) -> TuneError {
    match e {
        TuneError::Config { field, message } => {
            let arg = field.split_once('.').map_or("", |(_, a)| a);
            let field = if arg.is_empty() {
                section.to_string()
            } else {
                format!("{section}.{arg}")
            };
            TuneError::Space {
                file: file.to_path_buf(),
                field,
                message,
            }
        }
        other => other,
    }
}

impl SearchSpace {
    /// Reads and checks a search-space file and its base experiment (which must itself be a
    /// valid experiment).
    ///
    /// # Errors
    /// Every problem, naming the file and the field.
    pub fn load(file: &Path) -> Result<SearchSpace> {
        SearchSpace::load_with(file, &[])
    }

    /// As [`SearchSpace::load`], with `--set KEY=VALUE` overrides applied to the base
    /// experiment (as `tuna train --set` applies them; see
    /// [`apply_override`]).
    ///
    /// # Errors
    /// As [`SearchSpace::load`], plus a malformed override.
    pub fn load_with(file: &Path, overrides: &[String]) -> Result<SearchSpace> {
        let text = std::fs::read_to_string(file).map_err(|e| TuneError::File {
            file: file.to_path_buf(),
            message: format!("cannot read: {e}"),
        })?;
        let value =
            parse_text(&text, file.extension().is_some_and(|e| e == "json")).map_err(|e| {
                TuneError::File {
                    file: file.to_path_buf(),
                    message: e.to_string(),
                }
            })?;
        SearchSpace::from_value_with(file, value, overrides)
    }

    /// Builds a space from its JSON form; `file` locates the base experiment and names errors.
    ///
    /// # Errors
    /// As [`SearchSpace::load`].
    pub fn from_value(file: &Path, value: Value) -> Result<SearchSpace> {
        SearchSpace::from_value_with(file, value, &[])
    }

    /// As [`SearchSpace::from_value`], with overrides of the base experiment.
    ///
    /// # Errors
    /// As [`SearchSpace::load_with`].
    pub fn from_value_with(file: &Path, value: Value, overrides: &[String]) -> Result<SearchSpace> {
        let parsed: SpaceFile = parse(file, "", &value)?;
        let base_file = match file.parent() {
            Some(d) if Path::new(&parsed.base).is_relative() => d.join(&parsed.base),
            _ => PathBuf::from(&parsed.base),
        };
        let base = read_base(&base_file, overrides)?;
        let name = parsed
            .name
            .clone()
            .or_else(|| file.file_stem().map(|s| s.to_string_lossy().into_owned()))
            .unwrap_or_else(|| "study".into());
        let (params, bindings) = collect_params(file, parsed.params)?;
        let trials = match parsed.trials {
            Some(0) => {
                return Err(space_error(
                    file,
                    "trials".into(),
                    "expected an integer >= 1, got 0".into(),
                ))
            }
            t => t.map(|t| t as usize),
        };
        let (objective, also) = match parsed.objective {
            None => (
                Objective::new("val_loss".into(), Some(Direction::Minimize)),
                Vec::new(),
            ),
            Some(o) => (
                Objective::new(o.metric, o.direction),
                o.also
                    .into_iter()
                    .map(|a| {
                        let (metric, direction) = a.into_parts();
                        Objective::new(metric, direction)
                    })
                    .collect(),
            ),
        };
        let sampler = parsed
            .sampler
            .unwrap_or_else(|| Box::new(TpeSampler::default()));
        sampler
            .validate()
            .map_err(|e| plugin_error(file, "sampler", e))?;
        let mut pruner = parsed
            .pruner
            .unwrap_or_else(|| Box::new(NopPruner::default()));
        pruner
            .validate()
            .map_err(|e| plugin_error(file, "pruner", e))?;
        pruner.set_study_name(&name);
        Ok(SearchSpace {
            file: file.to_path_buf(),
            name,
            base_file,
            base,
            params,
            bindings,
            objective,
            also,
            sampler: Arc::from(sampler),
            pruner: Arc::from(pruner),
            trials,
            seed: parsed.seed,
            source: value,
        })
    }

    /// The parameters to sample given the values chosen so far (a conditional parameter is
    /// active when its choice took its option), in sampling order.
    pub fn active(&self, chosen: &Params) -> Vec<&ParamSpec> {
        self.params
            .iter()
            .filter(|p| match &p.condition {
                None => true,
                Some((parent, option)) => chosen.get(parent) == Some(&ParamValue::Choice(*option)),
            })
            .collect()
    }

    /// The experiment JSON for sampled `values`.
    ///
    /// # Errors
    /// A path that does not fit the base experiment, or a `same_as` source that is missing.
    pub fn materialize(&self, values: &Params) -> Result<Value> {
        let mut exp = self.base.clone();
        let mut copies = Vec::new();
        for b in &self.bindings {
            let value = match b {
                Binding::Value { path } => to_json(*sampled(values, path)?),
                Binding::Choice { path, options } => {
                    let ParamValue::Choice(i) = *sampled(values, path)? else {
                        return Err(materialize_error(path, "no option chosen"));
                    };
                    let mut option = options.get(i).cloned().ok_or_else(|| {
                        materialize_error(path, format!("option {i} out of range"))
                    })?;
                    fill(&format!("{path}[{i}]"), "", &mut option, values)?;
                    option
                }
                Binding::SameAs { path, source } => {
                    copies.push((path, source));
                    continue;
                }
            };
            set_path(&mut exp, b.path(), value)
                .map_err(|e| materialize_error(b.path(), e.to_string()))?;
        }
        for (path, source) in copies {
            let v = get_path(&exp, source).cloned().ok_or_else(|| {
                materialize_error(
                    path,
                    format!("same_as: `{source}` is not in the experiment"),
                )
            })?;
            set_path(&mut exp, path, v).map_err(|e| materialize_error(path, e.to_string()))?;
        }
        Ok(exp)
    }
}

/// Reads the base experiment, applies the overrides and checks that it is valid by itself.
fn read_base(base_file: &Path, overrides: &[String]) -> Result<Value> {
    let mut base = read_value(base_file)?;
    let mut problems: Vec<String> = Vec::new();
    for o in overrides {
        if let Err(e) = apply_override(&mut base, o) {
            problems.push(format!("--set {e}"));
        }
    }
    match tuna_train::Experiment::from_value(base.clone()) {
        Err(e) => problems.extend(e.problems),
        Ok(mut exp) => {
            // Data paths relative to the base file become absolute, so trials, best.toml
            // and the study folder mean the same from any directory.
            exp.base_dir = base_file.parent().map(Path::to_path_buf);
            exp.resolve_paths();
            base = exp.source;
        }
    }
    if problems.is_empty() {
        Ok(base)
    } else {
        Err(TuneError::Experiment(ExperimentError {
            file: Some(base_file.to_path_buf()),
            problems,
        }))
    }
}

/// Turns `[params]` into the parameters to sample (a choice before the parameters nested in
/// its options) and the bindings that write them.
fn collect_params(
    file: &Path,
    table: BTreeMap<String, DistTable>,
) -> Result<(Vec<ParamSpec>, Vec<Binding>)> {
    let mut params = Vec::new();
    let mut bindings = Vec::new();
    for (path, spec) in table {
        let field = format!("params.\"{path}\"");
        tuna_train::experiment::parse_path(&path)
            .map_err(|e| space_error(file, field.clone(), e.to_string()))?;
        let entry = spec.entry().map_err(|(sub, message)| {
            let at = if sub.is_empty() {
                field.clone()
            } else {
                format!("{field}.{sub}")
            };
            space_error(file, at, message)
        })?;
        match entry {
            Entry::SameAs(source) => bindings.push(Binding::SameAs { path, source }),
            Entry::Dist(distribution, Some(options)) => {
                params.push(ParamSpec {
                    name: path.clone(),
                    distribution,
                    condition: None,
                });
                for (i, o) in options.iter().enumerate() {
                    let condition = (path.clone(), i);
                    nested(
                        file,
                        &format!("{path}[{i}]"),
                        "",
                        o,
                        &condition,
                        &mut params,
                    )?;
                }
                bindings.push(Binding::Choice { path, options });
            }
            Entry::Dist(distribution, None) => {
                params.push(ParamSpec {
                    name: path.clone(),
                    distribution,
                    condition: None,
                });
                bindings.push(Binding::Value { path });
            }
        }
    }
    if params.is_empty() {
        return Err(space_error(
            file,
            "params".into(),
            "nothing to search".into(),
        ));
    }
    Ok((params, bindings))
}

/// The name of a parameter nested in a choice option: `optimizer[0].lr`, or
/// `data.train_transforms[1][2].degrees` when the option is a list.
fn sub_name(prefix: &str, sub: &str) -> String {
    if sub.starts_with('[') {
        format!("{prefix}{sub}")
    } else {
        format!("{prefix}.{sub}")
    }
}

/// Collects the distributions nested in a choice option, as conditional parameters.
fn nested(
    file: &Path,
    prefix: &str,
    sub: &str,
    v: &Value,
    condition: &(String, usize),
    out: &mut Vec<ParamSpec>,
) -> Result<()> {
    if is_distribution(v) {
        let name = sub_name(prefix, sub);
        let field = format!("params.\"{name}\"");
        let table: DistTable = parse(file, &field, v)?;
        let distribution = match table.entry() {
            Ok(Entry::Dist(d, _)) => d,
            Ok(Entry::SameAs(_)) => {
                return Err(space_error(
                    file,
                    field,
                    "same_as is only allowed at the top level".into(),
                ))
            }
            Err((sub, message)) => {
                let at = if sub.is_empty() {
                    field
                } else {
                    format!("{field}.{sub}")
                };
                return Err(space_error(file, at, message));
            }
        };
        out.push(ParamSpec {
            name,
            distribution,
            condition: Some(condition.clone()),
        });
        return Ok(());
    }
    match v {
        Value::Object(t) => {
            for (k, x) in t {
                let s = if sub.is_empty() {
                    k.clone()
                } else {
                    format!("{sub}.{k}")
                };
                nested(file, prefix, &s, x, condition, out)?;
            }
        }
        Value::Array(a) => {
            for (i, x) in a.iter().enumerate() {
                nested(file, prefix, &format!("{sub}[{i}]"), x, condition, out)?;
            }
        }
        _ => {}
    }
    Ok(())
}

fn materialize_error(param: &str, message: impl Into<String>) -> TuneError {
    TuneError::Materialize {
        param: param.to_string(),
        message: message.into(),
    }
}

fn sampled<'v>(values: &'v Params, name: &str) -> Result<&'v ParamValue> {
    values
        .get(name)
        .ok_or_else(|| materialize_error(name, "no value sampled"))
}

fn fill(prefix: &str, sub: &str, v: &mut Value, values: &Params) -> Result<()> {
    if is_distribution(v) {
        let name = sub_name(prefix, sub);
        let x = sampled(values, &name)?;
        // A nested choice of plain values writes the chosen value.
        *v = match (x, v.get("choice").and_then(Value::as_array)) {
            (ParamValue::Choice(i), Some(opts)) => opts.get(*i).cloned().unwrap_or(Value::Null),
            _ => to_json(*x),
        };
        return Ok(());
    }
    match v {
        Value::Object(t) => {
            for (k, x) in t.iter_mut() {
                let s = if sub.is_empty() {
                    k.clone()
                } else {
                    format!("{sub}.{k}")
                };
                fill(prefix, &s, x, values)?;
            }
        }
        Value::Array(a) => {
            for (i, x) in a.iter_mut().enumerate() {
                fill(prefix, &format!("{sub}[{i}]"), x, values)?;
            }
        }
        _ => {}
    }
    Ok(())
}

/// A sampled value as JSON (a choice index is replaced by the option by the caller).
fn to_json(v: ParamValue) -> Value {
    match v {
        ParamValue::Float(x) => Value::from(x),
        ParamValue::Int(x) => Value::from(x),
        ParamValue::Choice(i) => Value::from(i as u64),
    }
}

/// Minimize losses and errors, maximize everything else.
pub fn default_direction(metric: &str) -> Direction {
    if ["loss", "mae", "rmse", "seconds"]
        .iter()
        .any(|m| metric.ends_with(m))
    {
        Direction::Minimize
    } else {
        Direction::Maximize
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn space(params: &str) -> Result<SearchSpace, String> {
        space_with(params, "")
    }

    fn space_with(params: &str, head: &str) -> Result<SearchSpace, String> {
        let dir = std::env::temp_dir().join(format!("tuna-space-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let base =
            Path::new(env!("CARGO_MANIFEST_DIR")).join("../../examples/configs/mnist-mlp.toml");
        let text = format!(
            "base = \"{}\"\n{head}\n[objective]\nmetric = \"val_accuracy\"\n[params]\n{params}",
            base.display()
        );
        let v = parse_text(&text, false).unwrap();
        SearchSpace::from_value(&dir.join("space.toml"), v).map_err(|e| e.to_string())
    }

    fn link() {
        tuna_data::link();
        tuna_nn::link();
    }

    #[test]
    fn conditional_choice_and_same_as_materialize() {
        link();
        let s = space(
            r#""optimizer" = { choice = [ { type = "SGD", lr = { log_uniform = [1e-3, 1e-1] }, momentum = 0.9 }, { type = "AdamW", lr = 1e-3 } ] }
"model.layers[1].out_features" = { int = [64, 512], step = 32 }
"model.layers[4].in_features" = { same_as = "model.layers[1].out_features" }
"loader.batch_size" = { choice = [32, 64, 128] }"#,
        );
        let s = s.unwrap();
        let names: Vec<&str> = s.params.iter().map(|p| p.name.as_str()).collect();
        assert_eq!(
            names,
            // file order is not kept (keys are sorted); a choice comes before its options' params
            [
                "loader.batch_size",
                "model.layers[1].out_features",
                "optimizer",
                "optimizer[0].lr"
            ]
        );
        let mut v = BTreeMap::new();
        v.insert("optimizer".to_string(), ParamValue::Choice(0));
        assert_eq!(s.active(&v).len(), 4);
        v.insert("optimizer".to_string(), ParamValue::Choice(1));
        assert_eq!(s.active(&v).len(), 3);
        v.insert("optimizer".to_string(), ParamValue::Choice(0));
        v.insert("optimizer[0].lr".to_string(), ParamValue::Float(0.02));
        v.insert(
            "model.layers[1].out_features".to_string(),
            ParamValue::Int(96),
        );
        v.insert("loader.batch_size".to_string(), ParamValue::Choice(2));
        let exp = s.materialize(&v).unwrap();
        assert_eq!(exp["optimizer"]["type"], "SGD");
        assert_eq!(exp["optimizer"]["lr"], 0.02);
        assert_eq!(exp["optimizer"]["momentum"], 0.9);
        assert_eq!(exp["model"]["layers"][4]["in_features"], 96);
        assert_eq!(exp["loader"]["batch_size"], 128);
    }

    #[test]
    fn a_choice_between_transform_lists_samples_the_magnitudes_inside() {
        link();
        let s = space(
            r#""data.train_transforms" = { choice = [
  [],
  [ { type = "RandomRotation", degrees = { uniform = [0, 30] } }, { type = "RandomErasing", p = { choice = [0.25, 0.5] } } ],
] }"#,
        )
        .unwrap();
        let names: Vec<&str> = s.params.iter().map(|p| p.name.as_str()).collect();
        assert_eq!(
            names,
            [
                "data.train_transforms",
                "data.train_transforms[1][0].degrees",
                "data.train_transforms[1][1].p"
            ]
        );
        let mut v = BTreeMap::new();
        v.insert("data.train_transforms".to_string(), ParamValue::Choice(0));
        assert_eq!(s.active(&v).len(), 1);
        assert_eq!(
            s.materialize(&v).unwrap()["data"]["train_transforms"],
            serde_json::json!([])
        );
        v.insert("data.train_transforms".to_string(), ParamValue::Choice(1));
        v.insert(
            "data.train_transforms[1][0].degrees".to_string(),
            ParamValue::Float(12.5),
        );
        v.insert(
            "data.train_transforms[1][1].p".to_string(),
            ParamValue::Choice(1),
        );
        assert_eq!(s.active(&v).len(), 3);
        let exp = s.materialize(&v).unwrap();
        assert_eq!(
            exp["data"]["train_transforms"],
            serde_json::json!([
                { "type": "RandomRotation", "degrees": 12.5 },
                { "type": "RandomErasing", "p": 0.5 }
            ])
        );
    }

    #[test]
    fn bad_entries_are_named() {
        link();
        for (params, needle) in [
            (
                r#""optimizer.lr" = { log_uniform = [0, 1] }"#,
                "low must be > 0",
            ),
            (r#""optimizer.lr" = { uniform = [1, 0] }"#, "low < high"),
            (r#""optimizer.lr" = 0.1"#, "expected {"),
            (
                r#""x" = { int = [1, 8], log = true, step = 2 }"#,
                "log = true needs step = 1",
            ),
            (r#""x" = { choice = [] }"#, "non-empty list"),
        ] {
            match space(params) {
                Err(e) => assert!(e.contains(needle), "{params}: {e}"),
                Ok(_) => panic!("{params} accepted"),
            }
        }
    }

    #[test]
    fn bad_plugins_and_keys_are_named_with_their_path() {
        link();
        crate::link();
        let lr = r#""optimizer.lr" = { log_uniform = [1e-3, 1e-1] }"#;
        for (head, params, needle) in [
            (
                "[pruner]\ntype = \"HyperbandPruner\"\nreduction_factor = 1",
                lr,
                "space.toml: pruner.reduction_factor: must be at least 2, got 1",
            ),
            (
                "[sampler]\ntype = \"TPE\"",
                lr,
                "space.toml: sampler.type: unknown variant `TPE`, expected one of `GridSampler`, `RandomSampler`, `TPESampler`",
            ),
            ("[sampler]\nn_startup_trials = 3", lr, "space.toml: sampler"),
            ("trials = 0", lr, "space.toml: trials: expected an integer >= 1, got 0"),
            ("sede = 1", lr, "space.toml: sede: unknown field `sede`, expected one of `base`"),
            (
                "",
                r#""x" = { uniform = [0, 1], step = 2 }"#,
                "params.\"x\".step: only allowed with `int`",
            ),
            (
                "",
                r#""x" = { choice = [{ type = "SGD", lr = { log_uniform = [0, 1] } }] }"#,
                "params.\"x[0].lr\".log_uniform: low must be > 0",
            ),
            ("", r#""x" = { int = [1.5, 4] }"#, "params.\"x\".int[0]: invalid type"),
        ] {
            match space_with(params, head) {
                Err(e) => assert!(e.contains(needle), "{head} {params}: {e}"),
                Ok(_) => panic!("{head} {params} accepted"),
            }
        }
        let s = space_with(lr, "[pruner]\ntype = \"HyperbandPruner\"").unwrap();
        let json = serde_json::to_value(&*s.pruner).unwrap();
        assert_eq!(json["type"], "HyperbandPruner");
    }
}
