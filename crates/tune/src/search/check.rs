//! Checks of a space against its base experiment, run before the first trial: a misspelled
//! parameter path or objective metric fails the study at once instead of failing every
//! trial.

use serde_json::Value;
use tuna_data::DataContext;
use tuna_train::experiment::{get_path, set_path, ExperimentError};
use tuna_train::metrics::MetricSet;
use tuna_train::Experiment;

use super::{fill, to_json, Binding, SearchSpace};
use crate::error::{Result, TuneError};
use crate::space::Distribution;
use crate::trial::{ParamValue, Params};

/// What a run of an experiment records: per-epoch metrics (`metrics.jsonl` keys) and the
/// test metrics of its summary.
#[derive(Clone, Debug, PartialEq)]
pub struct RecordedMetrics {
    /// Keys of every epoch record: `train_loss`, `train_<metric>`, `val_loss` and
    /// `val_<metric>` with a validation split, `lr`, `seconds`.
    pub per_epoch: Vec<String>,
    /// `test_loss` and `test_<metric>` (recorded when the data has a test split).
    pub test: Vec<String>,
}

impl RecordedMetrics {
    /// What a run of `exp` records: reads its data (as a trial would) to learn the task and
    /// the splits.
    ///
    /// # Errors
    /// The data cannot be loaded, or `train.metrics` does not fit its task (the problem, at
    /// `data` or `train.metrics`).
    pub fn of(exp: &Experiment, ctx: &DataContext) -> Result<RecordedMetrics, ExperimentError> {
        let problem = |p: String| ExperimentError {
            file: None,
            problems: vec![p],
        };
        let splits = exp
            .data
            .load(ctx)
            .map_err(|e| problem(format!("data: {e}")))?;
        let metrics = MetricSet::parse(&exp.train.metrics, &splits.task)
            .map_err(|e| problem(format!("train.metrics: {e}")))?
            .names();
        let split = |s: &str| {
            std::iter::once(format!("{s}_loss"))
                .chain(metrics.iter().map(move |m| format!("{s}_{m}")))
                .collect::<Vec<_>>()
        };
        let mut per_epoch = split("train");
        if splits.validation.is_some() {
            per_epoch.extend(split("val"));
        }
        per_epoch.extend(["lr".to_string(), "seconds".to_string()]);
        Ok(RecordedMetrics {
            per_epoch,
            test: split("test"),
        })
    }
}

/// A value of `distribution` that every check can use: the middle of a float range (the
/// geometric middle on a log scale), an int range's low end, a choice's first option.
fn representative(distribution: &Distribution) -> ParamValue {
    match *distribution {
        Distribution::Uniform { low, high } => ParamValue::Float((low + high) / 2.0),
        Distribution::LogUniform { low, high } => ParamValue::Float((low * high).sqrt()),
        Distribution::Int { low, .. } => ParamValue::Int(low),
        Distribution::Choice { .. } => ParamValue::Choice(0),
    }
}

impl SearchSpace {
    /// Checks the space against its base experiment: every parameter path
    /// ([`SearchSpace::check_paths`]) and every objective metric
    /// ([`SearchSpace::check_objectives`], which reads the base's data from `data_dirs`).
    ///
    /// # Errors
    /// The first problem, naming the space file and the field.
    pub fn check(&self, data_dirs: &[std::path::PathBuf]) -> Result<()> {
        self.check_paths()?;
        let recorded = self.recorded_metrics(data_dirs)?;
        self.check_objectives(&recorded)
    }

    /// Checks every parameter path against the base experiment: a path the base holds is
    /// fine; any other must make a valid experiment when set there (with a representative
    /// value, or any option of a choice), so a misspelled field (`optimizer.lrr`) or an
    /// index past a list's end is an error naming the parameter. A `same_as` source must be
    /// in the base or be a searched parameter.
    ///
    /// # Errors
    /// [`TuneError::Space`] at `params."<path>"`, with the experiment's own complaint.
    pub fn check_paths(&self) -> Result<()> {
        let rep: Params = self
            .params
            .iter()
            .map(|p| (p.name.clone(), representative(&p.distribution)))
            .collect();
        for b in &self.bindings {
            if let Binding::SameAs { source, .. } = b {
                let searched = self.bindings.iter().any(|o| o.path() == source);
                if get_path(&self.base, source).is_none() && !searched {
                    return Err(self.param_error(
                        b.path(),
                        format!("same_as: `{source}` is neither in the base experiment ({}) nor a searched parameter", self.base_file.display()),
                    ));
                }
            }
            if get_path(&self.base, b.path()).is_some() {
                continue;
            }
            if let Err(problem) = self.fits_base(b, &rep) {
                return Err(self.param_error(
                    b.path(),
                    format!(
                        "not in the base experiment ({}), and setting it there makes an invalid experiment: {problem}",
                        self.base_file.display()
                    ),
                ));
            }
        }
        Ok(())
    }

    /// Whether setting `binding`'s path in the base makes a valid experiment, for one of its
    /// candidate values; else the last problem.
    fn fits_base(&self, binding: &Binding, rep: &Params) -> Result<(), String> {
        let candidates: Vec<Value> = match binding {
            Binding::Value { path } => vec![to_json(rep[path])],
            Binding::Choice { path, options } => (0..options.len())
                .filter_map(|i| {
                    let mut option = options[i].clone();
                    fill(&format!("{path}[{i}]"), "", &mut option, rep).ok()?;
                    Some(option)
                })
                .collect(),
            Binding::SameAs { source, .. } => match get_path(&self.base, source) {
                Some(v) => vec![v.clone()],
                None => rep.get(source).map(|v| to_json(*v)).into_iter().collect(),
            },
        };
        let mut problem = String::from("no value to try");
        for value in candidates {
            let mut exp = self.base.clone();
            if let Err(e) = set_path(&mut exp, binding.path(), value) {
                problem = e.to_string();
                continue;
            }
            match Experiment::from_value(exp) {
                Ok(_) => return Ok(()),
                Err(ExperimentError { problems, .. }) => problem = problems.join("; "),
            }
        }
        Err(problem)
    }

    /// Checks the objective metrics against what a run of the base experiment records: the
    /// main metric must be recorded every epoch; an `also` metric may also be `parameters`
    /// or a test metric.
    ///
    /// # Errors
    /// [`TuneError::Space`] at `objective.metric` or `objective.also[i].metric`, listing what
    /// is recorded.
    pub fn check_objectives(&self, recorded: &RecordedMetrics) -> Result<()> {
        let listed = || recorded.per_epoch.join(", ");
        let main = &self.objective.metric;
        if !recorded.per_epoch.contains(main) {
            return Err(self.metric_error("objective.metric", main, listed()));
        }
        for (i, o) in self.also.iter().enumerate() {
            let m = &o.metric;
            if !(recorded.per_epoch.contains(m) || recorded.test.contains(m) || m == "parameters") {
                let known = format!("{}, parameters, {}", listed(), recorded.test.join(", "));
                return Err(self.metric_error(&format!("objective.also[{i}].metric"), m, known));
            }
        }
        Ok(())
    }

    /// What a run of the base experiment records (its data read with `data_dirs`).
    ///
    /// # Errors
    /// The base's data cannot be loaded or does not fit `train.metrics` (naming the base).
    pub fn recorded_metrics(&self, data_dirs: &[std::path::PathBuf]) -> Result<RecordedMetrics> {
        let named = |mut e: ExperimentError| {
            e.file = Some(self.base_file.clone());
            TuneError::Experiment(e)
        };
        let exp = Experiment::from_value(self.base.clone()).map_err(named)?;
        let ctx = DataContext {
            base_dirs: data_dirs.to_vec(),
            seed: exp.seed,
            fitted: None,
        };
        RecordedMetrics::of(&exp, &ctx).map_err(named)
    }

    fn metric_error(&self, field: &str, metric: &str, known: String) -> TuneError {
        let hint = if metric.starts_with("val_") && !known.contains("val_loss") {
            " (val_* metrics need a validation split: data.validation)"
        } else {
            ""
        };
        TuneError::Space {
            file: self.file.clone(),
            field: field.to_string(),
            message: format!(
                "`{metric}` is not recorded by the base experiment ({}){hint}; recorded: {known}",
                self.base_file.display()
            ),
        }
    }

    fn param_error(&self, path: &str, message: String) -> TuneError {
        TuneError::Space {
            file: self.file.clone(),
            field: format!("params.\"{path}\""),
            message,
        }
    }
}
