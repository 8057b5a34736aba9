//! The search-space file as serde reads it (`deny_unknown_fields` everywhere), and the checks
//! that turn its distribution tables into [`Distribution`]s. Every error carries the field's
//! path in the file (`params."optimizer.lr".log_uniform`).

use std::collections::BTreeMap;
use std::path::Path;

use serde::Deserialize;
use serde_json::Value;

use crate::error::TuneError;
use crate::pruner::Pruner;
use crate::sampler::Sampler;
use crate::space::Distribution;
use crate::trial::Direction;

/// The keys that make a table a distribution.
pub(crate) const DIST_KEYS: [&str; 5] = ["log_uniform", "uniform", "int", "choice", "same_as"];

/// A search-space file, as written.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct SpaceFile {
    /// The experiment to tune, relative to the space file.
    pub base: String,
    /// The study's name (default: the file's stem).
    pub name: Option<String>,
    /// The default trial budget.
    pub trials: Option<u64>,
    /// The study seed.
    #[serde(default)]
    pub seed: u64,
    /// What to optimize (default: minimize `val_loss`).
    pub objective: Option<ObjectiveFile>,
    /// The sampler plugin (default: `TPESampler`).
    pub sampler: Option<Box<dyn Sampler>>,
    /// The pruner plugin (default: `NopPruner`).
    pub pruner: Option<Box<dyn Pruner>>,
    /// `"path" = { distribution }`, in sorted path order.
    pub params: BTreeMap<String, DistTable>,
}

/// `[objective]`.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct ObjectiveFile {
    /// A recorded metric.
    pub metric: String,
    /// Default: by the metric's name ([`super::default_direction`]).
    pub direction: Option<Direction>,
    /// Further objectives.
    #[serde(default)]
    pub also: Vec<AlsoFile>,
}

/// One entry of `objective.also`: a metric name (`"val_f1"`, direction by its name) or a
/// table `{ metric = "seconds", direction = "minimize" }`.
#[derive(Deserialize)]
#[serde(
    untagged,
    expecting = "a metric name or a table { metric = \"...\", direction = \"minimize\" | \"maximize\" }"
)]
pub(crate) enum AlsoFile {
    /// Only the metric's name.
    Name(String),
    /// The metric and, optionally, its direction.
    Table(AlsoTable),
}

/// The table form of an `objective.also` entry.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct AlsoTable {
    /// A recorded metric, `seconds`, `parameters` or a `test_*` metric.
    pub metric: String,
    /// Default: by the metric's name.
    pub direction: Option<Direction>,
}

impl AlsoFile {
    /// The metric and its direction, if given.
    pub fn into_parts(self) -> (String, Option<Direction>) {
        match self {
            AlsoFile::Name(metric) => (metric, None),
            AlsoFile::Table(t) => (t.metric, t.direction),
        }
    }
}

/// One distribution table, before its keys are checked against each other.
#[derive(Deserialize)]
#[serde(
    deny_unknown_fields,
    expecting = "{ log_uniform | uniform | int | choice | same_as = ... }"
)]
pub(crate) struct DistTable {
    uniform: Option<[f64; 2]>,
    log_uniform: Option<[f64; 2]>,
    int: Option<[i64; 2]>,
    step: Option<i64>,
    log: Option<bool>,
    choice: Option<Vec<Value>>,
    same_as: Option<String>,
}

/// What a distribution table means.
pub(crate) enum Entry {
    /// A distribution; for a choice, its options as written.
    Dist(Distribution, Option<Vec<Value>>),
    /// `same_as = "path"`.
    SameAs(String),
}

/// A problem at `field` (relative to the table) with `message`.
type Problem = (String, String);

fn bad(field: &str, message: impl Into<String>) -> Problem {
    (field.to_string(), message.into())
}

fn pair(key: &str, [low, high]: [f64; 2]) -> Result<(f64, f64), Problem> {
    if low.is_finite() && high.is_finite() && low < high {
        Ok((low, high))
    } else {
        Err(bad(
            key,
            format!("expected two finite numbers low < high, got [{low}, {high}]"),
        ))
    }
}

impl DistTable {
    /// Checks the keys against each other and the values against their meaning.
    pub fn entry(self) -> Result<Entry, Problem> {
        let present: Vec<&str> = [
            self.log_uniform.is_some(),
            self.uniform.is_some(),
            self.int.is_some(),
            self.choice.is_some(),
            self.same_as.is_some(),
        ]
        .iter()
        .zip(DIST_KEYS)
        .filter_map(|(&p, k)| p.then_some(k))
        .collect();
        let [key] = present[..] else {
            return Err(bad(
                "",
                "expected exactly one of log_uniform, uniform, int, choice, same_as",
            ));
        };
        if key != "int" {
            for (extra, set) in [("step", self.step.is_some()), ("log", self.log.is_some())] {
                if set {
                    return Err(bad(
                        extra,
                        format!("only allowed with `int`, not next to `{key}`"),
                    ));
                }
            }
        }
        Ok(match key {
            "uniform" => {
                let (low, high) = pair(key, self.uniform.unwrap_or_default())?;
                Entry::Dist(Distribution::Uniform { low, high }, None)
            }
            "log_uniform" => {
                let (low, high) = pair(key, self.log_uniform.unwrap_or_default())?;
                if low <= 0.0 {
                    return Err(bad(key, format!("low must be > 0, got {low}")));
                }
                Entry::Dist(Distribution::LogUniform { low, high }, None)
            }
            "int" => Entry::Dist(self.int_distribution()?, None),
            "choice" => {
                let options = self.choice.unwrap_or_default();
                if options.is_empty() {
                    return Err(bad(key, "expected a non-empty list"));
                }
                Entry::Dist(Distribution::Choice { n: options.len() }, Some(options))
            }
            _ => Entry::SameAs(self.same_as.unwrap_or_default()),
        })
    }

    fn int_distribution(&self) -> Result<Distribution, Problem> {
        let [low, high] = self.int.unwrap_or_default();
        let step = self.step.unwrap_or(1);
        if step < 1 {
            return Err(bad("step", format!("expected an integer >= 1, got {step}")));
        }
        if low > high {
            return Err(bad("int", format!("low {low} > high {high}")));
        }
        let log = self.log.unwrap_or(false);
        if log && (step != 1 || low < 1) {
            return Err(bad("", "log = true needs step = 1 and low >= 1"));
        }
        Ok(Distribution::Int {
            low,
            high,
            step,
            log,
        })
    }
}

/// Whether `v` is a distribution table (a table with one of [`DIST_KEYS`]).
pub(crate) fn is_distribution(v: &Value) -> bool {
    v.as_object()
        .is_some_and(|t| t.keys().any(|k| DIST_KEYS.contains(&k.as_str())))
}

/// A path segment as the book writes it: `key`, `"key.with.dots"`, `[3]`.
fn segment(out: &mut String, seg: &serde_path_to_error::Segment) {
    use serde_path_to_error::Segment;
    match seg {
        Segment::Seq { index } => out.push_str(&format!("[{index}]")),
        Segment::Map { key } => {
            // A parameter is always quoted (`params."x"`), as it is in the file.
            let quoted = out == "params" || key.contains(['.', '[', ']', ' ', '"']);
            if !out.is_empty() {
                out.push('.');
            }
            if quoted {
                out.push_str(&format!("\"{key}\""));
            } else {
                out.push_str(key);
            }
        }
        Segment::Enum { variant } => {
            if !out.is_empty() {
                out.push('.');
            }
            out.push_str(variant);
        }
        Segment::Unknown => {}
    }
}

/// Deserializes `value` as `T`, turning an error into [`TuneError::Space`] at `prefix` +
/// the path serde reached.
pub(crate) fn parse<T: serde::de::DeserializeOwned>(
    file: &Path,
    prefix: &str,
    value: &Value,
) -> Result<T, TuneError> {
    serde_path_to_error::deserialize(value).map_err(|e| {
        let mut field = prefix.to_string();
        for seg in e.path().iter() {
            segment(&mut field, seg);
        }
        let message = e.inner().to_string();
        space_error(file, field, message)
    })
}

/// A [`TuneError::Space`], with a hint for the required top-level keys.
pub(crate) fn space_error(file: &Path, field: String, message: String) -> TuneError {
    let (field, message) = match message.strip_prefix("missing field `") {
        Some(rest) => {
            let key = rest.trim_end_matches('`');
            let hint = match key {
                "base" => " (the path of the experiment to tune)",
                "params" => " (a table of \"path\" = { distribution })",
                "metric" => " (e.g. \"val_accuracy\")",
                _ => "",
            };
            let field = if field.is_empty() {
                key.to_string()
            } else {
                format!("{field}.{key}")
            };
            (field, format!("missing{hint}"))
        }
        None if field.is_empty() => ("(top level)".to_string(), message),
        None => (field, message),
    };
    TuneError::Space {
        file: file.to_path_buf(),
        field,
        message,
    }
}
