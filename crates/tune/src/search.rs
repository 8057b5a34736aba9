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
//! type = "TPESampler"                   # RandomSampler | GridSampler | TPESampler (+ arguments)
//!
//! [pruner]
//! type = "SuccessiveHalvingPruner"      # MedianPruner | HyperbandPruner | NopPruner
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

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde_json::{Map, Value};
use tuna_train::experiment::{get_path, parse_text, read_value, set_path};

use crate::space::{Distribution, ParamSpec};
use crate::trial::{Direction, ParamValue};

/// The keys that make a table a distribution.
const DIST_KEYS: [&str; 5] = ["log_uniform", "uniform", "int", "choice", "same_as"];

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

/// What the study optimizes.
#[derive(Clone, Debug, PartialEq)]
pub struct Objective {
    /// A metric recorded per epoch (`val_accuracy`, `val_loss`, ...).
    pub metric: String,
    /// Minimize or maximize.
    pub direction: Direction,
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
    /// The base experiment as JSON.
    pub base: Value,
    /// Every searched parameter (conditional ones included).
    pub params: Vec<ParamSpec>,
    bindings: Vec<Binding>,
    /// The objective the sampler and pruner optimize.
    pub objective: Objective,
    /// Further objectives (`[objective] also = [...]`): recorded for every trial, and the
    /// study reports the Pareto front over all objectives.
    pub also: Vec<Objective>,
    /// `[sampler]` as written (`type` + arguments); default TPE.
    pub sampler: Value,
    /// `[pruner]` as written; default none.
    pub pruner: Value,
    /// Default trial budget.
    pub trials: Option<usize>,
    /// Study seed.
    pub seed: u64,
    /// The file's JSON form (stored with the study).
    pub source: Value,
}

fn err(file: &Path, msg: impl std::fmt::Display) -> String {
    format!("{}: {msg}", file.display())
}

fn pair_f64(path: &str, key: &str, v: &Value) -> Result<(f64, f64), String> {
    let a = v
        .as_array()
        .filter(|a| a.len() == 2)
        .ok_or_else(|| format!("params.\"{path}\".{key}: expected [low, high]"))?;
    let lo = a[0].as_f64();
    let hi = a[1].as_f64();
    match (lo, hi) {
        (Some(lo), Some(hi)) if lo.is_finite() && hi.is_finite() && lo < hi => Ok((lo, hi)),
        _ => Err(format!(
            "params.\"{path}\".{key}: expected two finite numbers low < high, got {v}"
        )),
    }
}

/// Parses one distribution table (`{ log_uniform = [a, b] }`, ...).
fn parse_distribution(path: &str, t: &Map<String, Value>) -> Result<Distribution, String> {
    let keys: Vec<&str> = t
        .keys()
        .map(String::as_str)
        .filter(|k| DIST_KEYS.contains(k))
        .collect();
    if keys.len() != 1 {
        return Err(format!(
            "params.\"{path}\": expected exactly one of log_uniform, uniform, int, choice, same_as"
        ));
    }
    let allowed_extra: &[&str] = match keys[0] {
        "int" => &["step", "log"],
        _ => &[],
    };
    for k in t.keys() {
        if k != keys[0] && !allowed_extra.contains(&k.as_str()) {
            return Err(format!(
                "params.\"{path}\": unexpected key `{k}` next to `{}`",
                keys[0]
            ));
        }
    }
    Ok(match keys[0] {
        "uniform" => {
            let (low, high) = pair_f64(path, "uniform", &t["uniform"])?;
            Distribution::Uniform { low, high }
        }
        "log_uniform" => {
            let (low, high) = pair_f64(path, "log_uniform", &t["log_uniform"])?;
            if low <= 0.0 {
                return Err(format!(
                    "params.\"{path}\".log_uniform: low must be > 0, got {low}"
                ));
            }
            Distribution::LogUniform { low, high }
        }
        "int" => {
            let a = t["int"]
                .as_array()
                .filter(|a| a.len() == 2 && a.iter().all(Value::is_i64))
                .ok_or_else(|| format!("params.\"{path}\".int: expected [low, high] integers"))?;
            let (low, high) = (a[0].as_i64().unwrap_or(0), a[1].as_i64().unwrap_or(0));
            let step = match t.get("step") {
                None => 1,
                Some(s) => s
                    .as_i64()
                    .filter(|s| *s >= 1)
                    .ok_or_else(|| format!("params.\"{path}\".step: expected an integer >= 1"))?,
            };
            let log = match t.get("log") {
                None => false,
                Some(l) => l
                    .as_bool()
                    .ok_or_else(|| format!("params.\"{path}\".log: expected true or false"))?,
            };
            if low > high {
                return Err(format!("params.\"{path}\".int: low {low} > high {high}"));
            }
            if log && (step != 1 || low < 1) {
                return Err(format!(
                    "params.\"{path}\": log = true needs step = 1 and low >= 1"
                ));
            }
            Distribution::Int {
                low,
                high,
                step,
                log,
            }
        }
        "choice" => {
            let n = t["choice"]
                .as_array()
                .map(Vec::len)
                .filter(|n| *n >= 1)
                .ok_or_else(|| format!("params.\"{path}\".choice: expected a non-empty list"))?;
            Distribution::Choice { n }
        }
        _ => unreachable!("same_as is handled by the caller"),
    })
}

fn is_distribution(v: &Value) -> bool {
    v.as_object()
        .is_some_and(|t| t.keys().any(|k| DIST_KEYS.contains(&k.as_str())))
}

/// Collects the distributions nested in a choice option, as conditional parameters.
fn nested(
    prefix: &str,
    sub: &str,
    v: &Value,
    condition: &(String, usize),
    out: &mut Vec<ParamSpec>,
) -> Result<(), String> {
    if is_distribution(v) {
        let name = format!("{prefix}.{sub}");
        let t = v.as_object().expect("table");
        if t.contains_key("same_as") {
            return Err(format!(
                "params.\"{name}\": same_as is only allowed at the top level"
            ));
        }
        out.push(ParamSpec {
            name: name.clone(),
            distribution: parse_distribution(&name, t)?,
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
                nested(prefix, &s, x, condition, out)?;
            }
        }
        Value::Array(a) => {
            for (i, x) in a.iter().enumerate() {
                nested(prefix, &format!("{sub}[{i}]"), x, condition, out)?;
            }
        }
        _ => {}
    }
    Ok(())
}

impl SearchSpace {
    /// Reads and checks a search-space file and its base experiment (which must itself be a
    /// valid experiment).
    ///
    /// # Errors
    /// Every problem, naming the file and the entry.
    pub fn load(file: &Path) -> Result<SearchSpace, String> {
        let text =
            std::fs::read_to_string(file).map_err(|e| err(file, format!("cannot read: {e}")))?;
        let value = parse_text(&text, file.extension().is_some_and(|e| e == "json"))
            .map_err(|e| err(file, e))?;
        SearchSpace::from_value(file, value)
    }

    /// Builds a space from its JSON form; `file` locates the base experiment and names errors.
    ///
    /// # Errors
    /// As [`SearchSpace::load`].
    pub fn from_value(file: &Path, value: Value) -> Result<SearchSpace, String> {
        let root = value
            .as_object()
            .ok_or_else(|| err(file, "expected a table"))?;
        const KEYS: [&str; 8] = [
            "base",
            "name",
            "trials",
            "seed",
            "objective",
            "sampler",
            "pruner",
            "params",
        ];
        for k in root.keys() {
            if !KEYS.contains(&k.as_str()) {
                return Err(err(
                    file,
                    format!("{k}: unknown key; known: {}", KEYS.join(", ")),
                ));
            }
        }
        let base_rel = root
            .get("base")
            .and_then(Value::as_str)
            .ok_or_else(|| err(file, "base: missing (the path of the experiment to tune)"))?;
        let base_file = match file.parent() {
            Some(d) if Path::new(base_rel).is_relative() => d.join(base_rel),
            _ => PathBuf::from(base_rel),
        };
        let base = read_value(&base_file).map_err(|e| e.to_string())?;
        tuna_train::Experiment::from_value(base.clone()).map_err(|mut e| {
            e.file = Some(base_file.clone());
            e.to_string()
        })?;
        let name = root
            .get("name")
            .and_then(Value::as_str)
            .map(str::to_string)
            .or_else(|| file.file_stem().map(|s| s.to_string_lossy().into_owned()))
            .unwrap_or_else(|| "study".into());
        let trials = match root.get("trials") {
            None => None,
            Some(v) => Some(
                v.as_u64()
                    .filter(|n| *n >= 1)
                    .ok_or_else(|| err(file, "trials: expected an integer >= 1"))?
                    as usize,
            ),
        };
        let seed = match root.get("seed") {
            None => 0,
            Some(v) => v
                .as_u64()
                .ok_or_else(|| err(file, "seed: expected a non-negative integer"))?,
        };
        let (objective, also) = match root.get("objective") {
            None => (
                Objective {
                    metric: "val_loss".into(),
                    direction: Direction::Minimize,
                },
                Vec::new(),
            ),
            Some(Value::Object(o)) => {
                for k in o.keys() {
                    if !["metric", "direction", "also"].contains(&k.as_str()) {
                        return Err(err(
                            file,
                            format!("objective.{k}: unknown key; known: metric, direction, also"),
                        ));
                    }
                }
                let main = parse_objective("objective", o).map_err(|e| err(file, e))?;
                let mut also = Vec::new();
                match o.get("also") {
                    None => {}
                    Some(Value::Array(items)) => {
                        for (i, item) in items.iter().enumerate() {
                            let path = format!("objective.also[{i}]");
                            let t = item.as_object().ok_or_else(|| {
                                err(
                                    file,
                                    format!("{path}: expected {{ metric = ..., direction = ... }}"),
                                )
                            })?;
                            also.push(parse_objective(&path, t).map_err(|e| err(file, e))?);
                        }
                    }
                    Some(_) => {
                        return Err(err(
                            file,
                            "objective.also: expected a list of { metric, direction } tables",
                        ))
                    }
                }
                (main, also)
            }
            Some(_) => return Err(err(file, "objective: expected a table")),
        };
        let mut params = Vec::new();
        let mut bindings = Vec::new();
        let table = root
            .get("params")
            .and_then(Value::as_object)
            .ok_or_else(|| err(file, "params: missing table of \"path\" = { distribution }"))?;
        for (path, spec) in table {
            tuna_train::experiment::parse_path(path)
                .map_err(|e| err(file, format!("params: {e}")))?;
            let t = spec.as_object().filter(|_| is_distribution(spec)).ok_or_else(|| {
                err(
                    file,
                    format!("params.\"{path}\": expected {{ log_uniform | uniform | int | choice | same_as = ... }}"),
                )
            })?;
            if let Some(src) = t.get("same_as") {
                let source = src.as_str().ok_or_else(|| {
                    err(
                        file,
                        format!("params.\"{path}\".same_as: expected a path string"),
                    )
                })?;
                bindings.push(Binding::SameAs {
                    path: path.clone(),
                    source: source.to_string(),
                });
                continue;
            }
            let distribution = parse_distribution(path, t).map_err(|e| err(file, e))?;
            if let (Distribution::Choice { .. }, Some(Value::Array(options))) =
                (&distribution, t.get("choice"))
            {
                for (i, o) in options.iter().enumerate() {
                    nested(
                        &format!("{path}[{i}]"),
                        "",
                        o,
                        &(path.clone(), i),
                        &mut params,
                    )
                    .map_err(|e| err(file, e))?;
                }
                params.insert(
                    params.len()
                        - params
                            .iter()
                            .filter(|p| p.condition.as_ref().is_some_and(|c| &c.0 == path))
                            .count(),
                    ParamSpec {
                        name: path.clone(),
                        distribution,
                        condition: None,
                    },
                );
                bindings.push(Binding::Choice {
                    path: path.clone(),
                    options: options.clone(),
                });
            } else {
                params.push(ParamSpec {
                    name: path.clone(),
                    distribution,
                    condition: None,
                });
                bindings.push(Binding::Value { path: path.clone() });
            }
        }
        if params.is_empty() {
            return Err(err(file, "params: nothing to search"));
        }
        Ok(SearchSpace {
            file: file.to_path_buf(),
            name,
            base_file,
            base,
            params,
            bindings,
            objective,
            also,
            sampler: root
                .get("sampler")
                .cloned()
                .unwrap_or_else(|| serde_json::json!({"type": "TPESampler"})),
            pruner: root
                .get("pruner")
                .cloned()
                .unwrap_or_else(|| serde_json::json!({"type": "NopPruner"})),
            trials,
            seed,
            source: value,
        })
    }

    /// The parameters to sample given the values chosen so far (a conditional parameter is
    /// active when its choice took its option), in sampling order.
    pub fn active(&self, chosen: &BTreeMap<String, ParamValue>) -> Vec<&ParamSpec> {
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
    pub fn materialize(&self, values: &BTreeMap<String, ParamValue>) -> Result<Value, String> {
        let mut exp = self.base.clone();
        let mut copies = Vec::new();
        for b in &self.bindings {
            match b {
                Binding::Value { path } => {
                    let v = values
                        .get(path)
                        .ok_or_else(|| format!("no value sampled for `{path}`"))?;
                    set_path(&mut exp, path, to_json(*v))?;
                }
                Binding::Choice { path, options } => {
                    let Some(ParamValue::Choice(i)) = values.get(path) else {
                        return Err(format!("no option chosen for `{path}`"));
                    };
                    let mut option = options
                        .get(*i)
                        .cloned()
                        .ok_or_else(|| format!("`{path}`: option {i} out of range"))?;
                    fill(&format!("{path}[{i}]"), "", &mut option, values)?;
                    set_path(&mut exp, path, option)?;
                }
                Binding::SameAs { path, source } => copies.push((path, source)),
            }
        }
        for (path, source) in copies {
            let v = get_path(&exp, source).cloned().ok_or_else(|| {
                format!("params.\"{path}\".same_as: `{source}` is not in the experiment")
            })?;
            set_path(&mut exp, path, v)?;
        }
        Ok(exp)
    }
}

fn fill(
    prefix: &str,
    sub: &str,
    v: &mut Value,
    values: &BTreeMap<String, ParamValue>,
) -> Result<(), String> {
    if is_distribution(v) {
        let name = format!("{prefix}.{sub}");
        let x = values
            .get(&name)
            .ok_or_else(|| format!("no value sampled for `{name}`"))?;
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

fn parse_objective(path: &str, o: &Map<String, Value>) -> Result<Objective, String> {
    for k in o.keys() {
        if !["metric", "direction", "also"].contains(&k.as_str())
            || (path != "objective" && k == "also")
        {
            return Err(format!("{path}.{k}: unknown key; known: metric, direction"));
        }
    }
    let metric = o
        .get("metric")
        .and_then(Value::as_str)
        .ok_or_else(|| format!("{path}.metric: missing (e.g. \"val_accuracy\")"))?
        .to_string();
    let direction = match o.get("direction").and_then(Value::as_str) {
        Some("minimize") => Direction::Minimize,
        Some("maximize") => Direction::Maximize,
        None => default_direction(&metric),
        Some(other) => {
            return Err(format!(
                "{path}.direction: expected \"minimize\" or \"maximize\", got \"{other}\""
            ))
        }
    };
    Ok(Objective { metric, direction })
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
        let dir = std::env::temp_dir().join(format!("tuna-space-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let base =
            Path::new(env!("CARGO_MANIFEST_DIR")).join("../../examples/configs/mnist-mlp.toml");
        let text = format!(
            "base = \"{}\"\n[objective]\nmetric = \"val_accuracy\"\n[params]\n{params}",
            base.display()
        );
        let v = parse_text(&text, false).unwrap();
        SearchSpace::from_value(&dir.join("space.toml"), v)
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
}
