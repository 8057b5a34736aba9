//! Running a study: `jobs` worker threads take trials from the storage until the budget or
//! the timeout is reached; each trial samples its parameters, materializes its experiment,
//! trains it with a callback that reports the objective every epoch and asks the pruner
//! whether to stop, and records the outcome. A trial that errors or panics is recorded as
//! failed and the study goes on.

use std::collections::BTreeMap;
use std::panic::AssertUnwindSafe;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use serde_json::{json, Value};
use tuna_data::DataContext;
use tuna_train::callback::{Callback, Flow};
use tuna_train::{EpochRecord, Experiment, RunDir, Trainer};

use crate::pruner::Pruner;
use crate::sampler::Sampler;
use crate::search::SearchSpace;
use crate::storage::{worker_id, Location, Storage, HEARTBEAT_SECONDS};
use crate::trial::{Direction, FrozenTrial, ParamValue, TrialState};

/// How a study runs.
#[derive(Clone, Debug)]
pub struct RunOptions {
    /// The total number of trials the study should hold (finished or running; interrupted
    /// ones are retried and not counted).
    pub trials: usize,
    /// Stop starting new trials after this long.
    pub timeout: Option<Duration>,
    /// Trials run at once.
    pub jobs: usize,
    /// The study folder: `study.db` (unless `storage` says otherwise), `trials/NNNN/` run
    /// folders, reports.
    pub dir: PathBuf,
    /// Where the trials live; `None`: `study.db` in `dir` (SQLite). A PostgreSQL storage is
    /// shared by the workers of every machine that runs the study.
    pub storage: Option<Location>,
    /// Where relative data paths of the experiment are looked up.
    pub data_dirs: Vec<PathBuf>,
}

impl RunOptions {
    /// Where the trials live: `storage`, else `dir/study.db`.
    pub fn location(&self) -> Location {
        self.storage
            .clone()
            .unwrap_or_else(|| Location::Sqlite(self.dir.join("study.db")))
    }
}

/// What happened to one trial, as reported while the study runs.
#[derive(Clone, Debug)]
pub struct TrialEvent {
    /// The trial's number.
    pub number: u64,
    /// How it ended.
    pub state: TrialState,
    /// Its objective value (complete: best epoch; pruned: last reported).
    pub value: Option<f64>,
    /// Its error, when failed.
    pub error: Option<String>,
    /// Its parameters.
    pub params: BTreeMap<String, ParamValue>,
    /// Its wall time.
    pub seconds: f64,
}

/// A study ready to run.
pub struct Study {
    /// The search space.
    pub space: SearchSpace,
    /// The sampler.
    pub sampler: Arc<dyn Sampler>,
    /// The pruner.
    pub pruner: Arc<dyn Pruner>,
    /// With a grid sampler, the number of grid points: the study stops there.
    pub grid_size: Option<u64>,
}

impl std::fmt::Debug for Study {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Study")
            .field("name", &self.space.name)
            .field("sampler", &self.sampler)
            .field("pruner", &self.pruner)
            .finish()
    }
}

/// Reports the objective each epoch and stops the trial when the pruner says so.
struct Reporter {
    storage: Storage,
    number: u64,
    metric: String,
    direction: Direction,
    pruner: Arc<dyn Pruner>,
    pruned: Arc<AtomicBool>,
    missing: Arc<Mutex<Option<String>>>,
    intermediate: BTreeMap<u64, f64>,
    params: BTreeMap<String, ParamValue>,
}

impl Callback for Reporter {
    fn on_epoch_end(&mut self, record: &EpochRecord, _model: &dyn tuna_nn::Module) -> Flow {
        let Some(v) = record.get(&self.metric) else {
            let known: Vec<&str> = record.values.keys().map(String::as_str).collect();
            let msg = format!(
                "objective.metric `{}` is not recorded by this experiment; recorded: {}",
                self.metric,
                known.join(", ")
            );
            *self.missing.lock().unwrap_or_else(|e| e.into_inner()) = Some(msg.clone());
            return Flow::Stop(msg);
        };
        let step = record.epoch as u64;
        self.intermediate.insert(step, v);
        let _ = self.storage.report(self.number, step, v);
        let others: Vec<FrozenTrial> = self
            .storage
            .trials()
            .map(|t| {
                t.into_iter()
                    .map(|r| r.trial)
                    .filter(|t| t.number != self.number)
                    .collect()
            })
            .unwrap_or_default();
        let me = FrozenTrial {
            number: self.number,
            state: TrialState::Running,
            params: self.params.clone(),
            value: None,
            intermediate: self.intermediate.clone(),
        };
        if v.is_finite() && self.pruner.prune(&me, step, &others, self.direction) {
            self.pruned.store(true, Ordering::SeqCst);
            return Flow::Stop(format!("pruned at epoch {step} ({} = {v:.6})", self.metric));
        }
        Flow::Continue
    }
}

fn trial_seed(seed: u64, number: u64) -> u64 {
    let mut z = seed ^ number.wrapping_mul(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

impl Study {
    /// Samples every active parameter of trial `number` given the other trials.
    pub fn propose(&self, trials: &[FrozenTrial], number: u64) -> BTreeMap<String, ParamValue> {
        let mut rng = ChaCha8Rng::seed_from_u64(trial_seed(self.space.seed, number));
        let mut chosen = BTreeMap::new();
        for p in &self.space.params {
            let active = match &p.condition {
                None => true,
                Some((parent, option)) => chosen.get(parent) == Some(&ParamValue::Choice(*option)),
            };
            if active {
                let v = self.sampler.sample(
                    p,
                    &self.space.params,
                    trials,
                    self.space.objective.direction,
                    number,
                    &mut rng,
                );
                chosen.insert(p.name.clone(), v);
            }
        }
        chosen
    }

    /// Runs trials until the budget or timeout; `on_trial` is called after each trial (from
    /// the worker thread that ran it).
    ///
    /// # Errors
    /// The storage cannot be opened or written.
    pub fn run(
        &self,
        opts: &RunOptions,
        on_trial: &(dyn Fn(&TrialEvent) + Sync),
    ) -> Result<(), String> {
        std::fs::create_dir_all(opts.dir.join("trials"))
            .map_err(|e| format!("{}: {e}", opts.dir.display()))?;
        let db = opts.location();
        let mut storage = Storage::open(&db, &self.space.name, &self.space.source)?;
        let retries: Vec<(u64, BTreeMap<String, ParamValue>)> = storage.reap_stale()?;
        let retries = Mutex::new(retries);
        let started = Instant::now();
        let failure: Mutex<Option<String>> = Mutex::new(None);
        let (stop_heartbeat, heartbeat_stopped) = std::sync::mpsc::channel::<()>();
        std::thread::scope(|scope| {
            // Keeps this process's running trials alive for the workers of other machines
            // (which take a trial without a heartbeat for STALE_AFTER_SECONDS as dead), however
            // long an epoch runs.
            scope.spawn(move || {
                let me = worker_id();
                while let Err(std::sync::mpsc::RecvTimeoutError::Timeout) =
                    heartbeat_stopped.recv_timeout(Duration::from_secs_f64(HEARTBEAT_SECONDS))
                {
                    let _ = storage.heartbeat_worker(&me);
                }
            });
            let workers: Vec<_> = (0..opts.jobs.max(1))
                .map(|_| {
                    scope.spawn(|| {
                        if let Err(e) = self.worker(opts, &db, &retries, started, on_trial) {
                            failure
                                .lock()
                                .unwrap_or_else(|e| e.into_inner())
                                .get_or_insert(e);
                        }
                    })
                })
                .collect();
            for w in workers {
                let _ = w.join();
            }
            drop(stop_heartbeat);
        });
        match failure.into_inner().unwrap_or_else(|e| e.into_inner()) {
            Some(e) => Err(e),
            None => Ok(()),
        }
    }

    fn worker(
        &self,
        opts: &RunOptions,
        db: &Location,
        retries: &Mutex<Vec<(u64, BTreeMap<String, ParamValue>)>>,
        started: Instant,
        on_trial: &(dyn Fn(&TrialEvent) + Sync),
    ) -> Result<(), String> {
        let mut storage = Storage::open(db, &self.space.name, &self.space.source)?;
        let worker = worker_id();
        let budget = match self.grid_size {
            Some(g) => opts.trials.min(g as usize),
            None => opts.trials,
        };
        loop {
            if opts.timeout.is_some_and(|t| started.elapsed() >= t) {
                return Ok(());
            }
            let retry = retries.lock().unwrap_or_else(|e| e.into_inner()).pop();
            let created = match retry {
                Some((old, params)) => {
                    storage.create_trial(budget, &worker, Some(old), |_, _| params)?
                }
                None => storage
                    .create_trial(budget, &worker, None, |trials, n| self.propose(trials, n))?,
            };
            let Some((number, params)) = created else {
                return Ok(());
            };
            let t0 = Instant::now();
            let (state, value, error, attrs) = self.run_trial(opts, db, number, &params);
            storage.finish(number, state, value, error.as_deref(), &attrs)?;
            on_trial(&TrialEvent {
                number,
                state,
                value,
                error,
                params,
                seconds: t0.elapsed().as_secs_f64(),
            });
        }
    }

    /// Every objective's value for a finished trial: the main metric at its best epoch and
    /// each `also` metric at that same epoch; `seconds` is the trial's training wall time,
    /// `parameters` the model size, `test_*` the test metrics.
    pub fn objective_values(
        &self,
        summary: &tuna_train::RunSummary,
        history: &[EpochRecord],
    ) -> Vec<Option<f64>> {
        let main = &self.space.objective;
        let best = history
            .iter()
            .filter(|r| r.get(&main.metric).is_some_and(f64::is_finite))
            .reduce(|a, b| {
                if main.direction.better(
                    b.get(&main.metric).unwrap_or(f64::NAN),
                    a.get(&main.metric).unwrap_or(f64::NAN),
                ) {
                    b
                } else {
                    a
                }
            });
        std::iter::once(main)
            .chain(&self.space.also)
            .map(|o| match o.metric.as_str() {
                "seconds" => Some(summary.wall_seconds),
                "parameters" => Some(summary.parameters as f64),
                m if m.starts_with("test_") => summary.test.get(m).map(|v| v.0),
                m => best.and_then(|r| r.get(m)),
            })
            .collect()
    }

    /// The experiment of a trial with these parameters.
    ///
    /// # Errors
    /// The sampled experiment is invalid (every problem listed).
    pub fn experiment(
        &self,
        number: u64,
        params: &BTreeMap<String, ParamValue>,
    ) -> Result<Experiment, String> {
        let value = self.space.materialize(params)?;
        let mut exp = Experiment::from_value(value).map_err(|e| e.to_string())?;
        exp.name = Some(format!("{}-trial-{number:04}", self.space.name));
        Ok(exp)
    }

    fn run_trial(
        &self,
        opts: &RunOptions,
        db: &Location,
        number: u64,
        params: &BTreeMap<String, ParamValue>,
    ) -> (TrialState, Option<f64>, Option<String>, Value) {
        let failed = |e: String| (TrialState::Failed, None, Some(e), json!({}));
        let exp = match self.experiment(number, params) {
            Ok(e) => e,
            Err(e) => return failed(e),
        };
        let ctx = DataContext {
            base_dirs: opts.data_dirs.clone(),
            seed: exp.seed,
            fitted: None,
        };
        let metric = self.space.objective.metric.clone();
        let direction = self.space.objective.direction;
        let pruned = Arc::new(AtomicBool::new(false));
        let missing = Arc::new(Mutex::new(None));
        let run_path = opts.dir.join("trials").join(format!("{number:04}"));
        let outcome = std::panic::catch_unwind(AssertUnwindSafe(|| -> Result<_, String> {
            let mut trainer = Trainer::new(exp, &ctx).map_err(|e| e.to_string())?;
            let _ = std::fs::remove_dir_all(&run_path);
            trainer
                .set_run_dir(RunDir::create(&run_path).map_err(|e| e.to_string())?)
                .map_err(|e| e.to_string())?;
            let storage = Storage::open(db, &self.space.name, &self.space.source)?;
            trainer.add_callback(Box::new(Reporter {
                storage,
                number,
                metric: metric.clone(),
                direction,
                pruner: self.pruner.clone(),
                pruned: pruned.clone(),
                missing: missing.clone(),
                intermediate: BTreeMap::new(),
                params: params.clone(),
            }));
            let summary = trainer.fit().map_err(|e| e.to_string())?;
            Ok((summary, trainer.history().to_vec()))
        }));
        match outcome {
            Err(panic) => {
                let msg = panic
                    .downcast_ref::<String>()
                    .cloned()
                    .or_else(|| panic.downcast_ref::<&str>().map(|s| s.to_string()))
                    .unwrap_or_else(|| "unknown panic".into());
                failed(format!("panicked: {msg}"))
            }
            Ok(Err(e)) => failed(e),
            Ok(Ok((summary, history))) => {
                if let Some(m) = missing.lock().unwrap_or_else(|e| e.into_inner()).take() {
                    return failed(m);
                }
                let values: Vec<f64> = history.iter().filter_map(|r| r.get(&metric)).collect();
                let mut attrs = json!({
                    "run": run_path.display().to_string(),
                    "epochs": summary.epochs_completed,
                    "best_epoch": summary.best_epoch,
                    "test": summary.test,
                    "seconds": summary.wall_seconds,
                });
                if !self.space.also.is_empty() {
                    attrs["objectives"] = json!(self.objective_values(&summary, &history));
                }
                if pruned.load(Ordering::SeqCst) {
                    (TrialState::Pruned, values.last().copied(), None, attrs)
                } else {
                    let best = values
                        .iter()
                        .copied()
                        .filter(|v| v.is_finite())
                        .reduce(|a, b| if direction.better(b, a) { b } else { a });
                    match best {
                        Some(v) => (TrialState::Complete, Some(v), None, attrs),
                        None => (
                            TrialState::Failed,
                            None,
                            Some(format!("no finite `{metric}` was recorded")),
                            attrs,
                        ),
                    }
                }
            }
        }
    }
}

fn plugin<T: serde::de::DeserializeOwned>(section: &str, v: &Value) -> Result<T, String> {
    let mut v = v.clone();
    if let Some(o) = v.as_object_mut() {
        o.remove("type");
    }
    serde_json::from_value(v).map_err(|e| format!("{section}: {e}"))
}

/// Builds the sampler a space file's `[sampler]` names (`RandomSampler`, `GridSampler`,
/// `TPESampler`, with Optuna's argument names).
///
/// # Errors
/// An unknown type or a bad argument, naming it.
pub fn build_sampler(v: &Value) -> Result<Arc<dyn Sampler>, String> {
    Ok(match v.get("type").and_then(Value::as_str) {
        Some("RandomSampler") => Arc::new(plugin::<crate::RandomSampler>("sampler", v)?),
        Some("GridSampler") => Arc::new(plugin::<crate::GridSampler>("sampler", v)?),
        Some("TPESampler") => Arc::new(plugin::<crate::TpeSampler>("sampler", v)?),
        other => {
            return Err(format!(
                "sampler.type: expected RandomSampler, GridSampler or TPESampler, got {other:?}"
            ))
        }
    })
}

/// Builds the pruner a space file's `[pruner]` names (`NopPruner`, `MedianPruner`,
/// `SuccessiveHalvingPruner`, `HyperbandPruner`, with Optuna's argument names).
///
/// # Errors
/// An unknown type or a bad argument, naming it.
pub fn build_pruner(v: &Value, study_name: &str) -> Result<Arc<dyn Pruner>, String> {
    let checked = |r: Result<(), String>| r.map_err(|e| format!("pruner: {e}"));
    Ok(match v.get("type").and_then(Value::as_str) {
        Some("NopPruner") => Arc::new(plugin::<crate::NopPruner>("pruner", v)?),
        Some("MedianPruner") => {
            let p = plugin::<crate::MedianPruner>("pruner", v)?;
            checked(p.validate())?;
            Arc::new(p)
        }
        Some("SuccessiveHalvingPruner") => {
            let p = plugin::<crate::SuccessiveHalvingPruner>("pruner", v)?;
            checked(p.validate())?;
            Arc::new(p)
        }
        Some("HyperbandPruner") => {
            // Optuna assigns brackets from a hash of "<study name>_<trial number>".
            let p = plugin::<crate::HyperbandPruner>("pruner", v)?.with_study_name(study_name);
            checked(p.validate())?;
            Arc::new(p)
        }
        other => {
            return Err(format!(
                "pruner.type: expected NopPruner, MedianPruner, SuccessiveHalvingPruner or HyperbandPruner, got {other:?}"
            ))
        }
    })
}

impl Study {
    /// A study over `space` with the sampler and pruner it names.
    ///
    /// # Errors
    /// A bad `[sampler]` or `[pruner]` section, naming the space file.
    pub fn new(space: SearchSpace) -> Result<Study, String> {
        let file = space.file.display().to_string();
        let sampler = build_sampler(&space.sampler).map_err(|e| format!("{file}: {e}"))?;
        let pruner =
            build_pruner(&space.pruner, &space.name).map_err(|e| format!("{file}: {e}"))?;
        let grid_size = match space.sampler.get("type").and_then(Value::as_str) {
            Some("GridSampler") => Some(
                plugin::<crate::GridSampler>("sampler", &space.sampler)?.grid_size(&space.params),
            ),
            _ => None,
        };
        Ok(Study {
            space,
            sampler,
            pruner,
            grid_size,
        })
    }
}
