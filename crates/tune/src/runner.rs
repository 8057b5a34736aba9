//! Running a study: the space is checked against its base experiment, then `jobs` worker
//! threads take trials from the storage until the budget or the timeout is reached; each
//! trial samples its parameters, materializes its experiment, trains it with a callback that
//! reports the objective every epoch and asks the pruner whether to stop, and records the
//! outcome. A trial that errors or panics is recorded as failed and the study goes on.
//!
//! Each worker thread sets its own kernel thread budget ([`RunOptions::threads_per_trial`])
//! before its first trial and runs its trials on itself, so concurrent trials never write a
//! setting another trial reads.

use std::collections::BTreeMap;
use std::panic::AssertUnwindSafe;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use serde_json::{json, Value};
use tuna_data::DataContext;
use tuna_train::callback::{Callback, Flow};
use tuna_train::{EpochRecord, Experiment, RunDir, RunSummary, Trainer};

use crate::error::{Result, TuneError};
use crate::pruner::Pruner;
use crate::sampler::Sampler;
use crate::search::SearchSpace;
use crate::storage::{self, worker_id, Location, Storage, HEARTBEAT_SECONDS};
use crate::trial::{Direction, FrozenTrial, ParamValue, Params, TrialState};

/// How a study runs.
#[derive(Clone, Debug)]
pub struct RunOptions {
    /// The total number of trials the study should hold (finished or running; interrupted
    /// ones are retried and not counted).
    pub trials: usize,
    /// Stop starting new trials after this long.
    pub timeout: Option<Duration>,
    /// Trials run at once (at least 1).
    pub jobs: usize,
    /// The study folder: `study.db` (unless `storage` says otherwise), `trials/NNNN/` run
    /// folders, reports.
    pub dir: PathBuf,
    /// Where the trials live; `None`: `study.db` in `dir` (SQLite). A PostgreSQL storage is
    /// shared by the workers of every machine that runs the study.
    pub storage: Option<Location>,
    /// Where relative data paths of the experiment are looked up.
    pub data_dirs: Vec<PathBuf>,
    /// Kernel threads of each trial; `None`: the cores divided among the `jobs` trials (at
    /// least 1). An experiment's own `train.threads` still wins for its trial.
    pub threads: Option<usize>,
}

impl RunOptions {
    /// Where the trials live: `storage`, else `dir/study.db`.
    pub fn location(&self) -> Location {
        self.storage
            .clone()
            .unwrap_or_else(|| Location::Sqlite(self.dir.join("study.db")))
    }

    /// The kernel threads each trial gets: `threads`, else `cores / jobs` (at least 1).
    pub fn threads_per_trial(&self) -> usize {
        self.threads.unwrap_or_else(|| {
            let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
            (cores / self.jobs.max(1)).max(1)
        })
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
    pub params: Params,
    /// Its wall time.
    pub seconds: f64,
}

/// A study ready to run: a search space with its sampler and pruner.
pub struct Study {
    /// The search space.
    pub space: SearchSpace,
    /// The sampler (the space's `[sampler]`).
    pub sampler: Arc<dyn Sampler>,
    /// The pruner (the space's `[pruner]`).
    pub pruner: Arc<dyn Pruner>,
    /// The most trials worth running (a grid's size): the study stops there.
    pub trial_limit: Option<u64>,
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

/// How a trial ended, as recorded in the storage.
struct Outcome {
    state: TrialState,
    value: Option<f64>,
    error: Option<String>,
    attrs: Value,
}

impl Outcome {
    fn failed(error: impl Into<String>) -> Outcome {
        Outcome {
            state: TrialState::Failed,
            value: None,
            error: Some(error.into()),
            attrs: json!({}),
        }
    }
}

/// Reports the objective each epoch and stops the trial when the pruner says so.
struct Reporter {
    storage: Box<dyn Storage>,
    number: u64,
    metric: String,
    direction: Direction,
    pruner: Arc<dyn Pruner>,
    pruned: Arc<AtomicBool>,
    missing: Arc<Mutex<Option<String>>>,
    intermediate: BTreeMap<u64, f64>,
    params: Params,
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

fn panic_message(panic: &(dyn std::any::Any + Send)) -> String {
    panic
        .downcast_ref::<String>()
        .cloned()
        .or_else(|| panic.downcast_ref::<&str>().map(|s| s.to_string()))
        .unwrap_or_else(|| "unknown panic".into())
}

impl Study {
    /// A study over `space` with the sampler and pruner it names.
    pub fn new(space: SearchSpace) -> Study {
        let trial_limit = space.sampler.trial_limit(&space.params);
        Study {
            sampler: space.sampler.clone(),
            pruner: space.pruner.clone(),
            trial_limit,
            space,
        }
    }

    /// Samples every active parameter of trial `number` given the other trials.
    pub fn propose(&self, trials: &[FrozenTrial], number: u64) -> Params {
        let mut rng = ChaCha8Rng::seed_from_u64(trial_seed(self.space.seed, number));
        let direction = self.space.objective.direction;
        let mut joint =
            self.sampler
                .sample_joint(&self.space.params, trials, direction, number, &mut rng);
        let mut chosen = BTreeMap::new();
        for p in &self.space.params {
            let active = match &p.condition {
                None => true,
                Some((parent, option)) => chosen.get(parent) == Some(&ParamValue::Choice(*option)),
            };
            if let (true, Some(v)) = (active, joint.remove(&p.name)) {
                chosen.insert(p.name.clone(), v);
            } else if active {
                let v =
                    self.sampler
                        .sample(p, &self.space.params, trials, direction, number, &mut rng);
                chosen.insert(p.name.clone(), v);
            }
        }
        chosen
    }

    /// Checks the space against its base experiment before any trial: every parameter path
    /// ([`SearchSpace::check_paths`]) and every objective metric
    /// ([`SearchSpace::check_objectives`], which reads the base's data from `data_dirs`).
    ///
    /// # Errors
    /// The first problem, naming the space file and the field.
    pub fn preflight(&self, data_dirs: &[PathBuf]) -> Result<()> {
        self.space.check(data_dirs)
    }

    /// Checks the space ([`Study::preflight`]), then runs trials until the budget or timeout;
    /// `on_trial` is called after each trial (from the worker thread that ran it).
    ///
    /// # Errors
    /// A space that does not fit its base experiment, or a storage that cannot be opened or
    /// written.
    pub fn run(&self, opts: &RunOptions, on_trial: &(dyn Fn(&TrialEvent) + Sync)) -> Result<()> {
        self.preflight(&opts.data_dirs)?;
        let trials_dir = opts.dir.join("trials");
        std::fs::create_dir_all(&trials_dir).map_err(|source| TuneError::Io {
            path: trials_dir,
            source,
        })?;
        let db = opts.location();
        let mut storage = self.open(&db)?;
        let retries = Mutex::new(storage.reap_stale()?);
        let started = Instant::now();
        let failure: Mutex<Option<TuneError>> = Mutex::new(None);
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

    fn open(&self, db: &Location) -> Result<Box<dyn Storage>> {
        storage::open(db, &self.space.name, &self.space.source)
    }

    /// One worker thread: sets its kernel thread budget, then takes trials (retries first)
    /// and runs them on itself until the budget or the timeout.
    fn worker(
        &self,
        opts: &RunOptions,
        db: &Location,
        retries: &Mutex<Vec<(u64, Params)>>,
        started: Instant,
        on_trial: &(dyn Fn(&TrialEvent) + Sync),
    ) -> Result<()> {
        tuna_tensor::set_num_threads(opts.threads_per_trial());
        let mut storage = self.open(db)?;
        let worker = worker_id();
        let budget = match self.trial_limit {
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
                    storage.create_trial(budget, &worker, Some(old), &mut |_, _| params.clone())?
                }
                None => storage.create_trial(budget, &worker, None, &mut |trials, n| {
                    self.propose(trials, n)
                })?,
            };
            let Some((number, params)) = created else {
                return Ok(());
            };
            let t0 = Instant::now();
            let o = self.run_trial(opts, db, number, &params);
            storage.finish(number, o.state, o.value, o.error.as_deref(), &o.attrs)?;
            on_trial(&TrialEvent {
                number,
                state: o.state,
                value: o.value,
                error: o.error,
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
        summary: &RunSummary,
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
    pub fn experiment(&self, number: u64, params: &Params) -> Result<Experiment> {
        let value = self.space.materialize(params)?;
        let mut exp = Experiment::from_value(value)?;
        exp.name = Some(format!("{}-trial-{number:04}", self.space.name));
        Ok(exp)
    }

    /// Trains trial `number` in its run folder; a panic is caught and fails the trial.
    fn run_trial(&self, opts: &RunOptions, db: &Location, number: u64, params: &Params) -> Outcome {
        let exp = match self.experiment(number, params) {
            Ok(e) => e,
            Err(e) => return Outcome::failed(e.to_string()),
        };
        let ctx = DataContext {
            base_dirs: opts.data_dirs.clone(),
            seed: exp.seed,
            fitted: None,
        };
        let pruned = Arc::new(AtomicBool::new(false));
        let missing = Arc::new(Mutex::new(None));
        let run_path = opts.dir.join("trials").join(format!("{number:04}"));
        let outcome = std::panic::catch_unwind(AssertUnwindSafe(|| {
            let reporter = Reporter {
                storage: self.open(db).map_err(|e| e.to_string())?,
                number,
                metric: self.space.objective.metric.clone(),
                direction: self.space.objective.direction,
                pruner: self.pruner.clone(),
                pruned: pruned.clone(),
                missing: missing.clone(),
                intermediate: BTreeMap::new(),
                params: params.clone(),
            };
            train(exp, &ctx, &run_path, reporter)
        }));
        match outcome {
            Err(panic) => Outcome::failed(format!("panicked: {}", panic_message(panic.as_ref()))),
            Ok(Err(e)) => Outcome::failed(e),
            Ok(Ok((summary, history))) => {
                if let Some(m) = missing.lock().unwrap_or_else(|e| e.into_inner()).take() {
                    return Outcome::failed(m);
                }
                self.outcome(&summary, &history, &run_path, pruned.load(Ordering::SeqCst))
            }
        }
    }

    /// How a trial that trained to its end (or was stopped by the pruner) is recorded.
    fn outcome(
        &self,
        summary: &RunSummary,
        history: &[EpochRecord],
        run: &Path,
        pruned: bool,
    ) -> Outcome {
        let (metric, direction) = (&self.space.objective.metric, self.space.objective.direction);
        let values: Vec<f64> = history.iter().filter_map(|r| r.get(metric)).collect();
        let mut attrs = json!({
            "run": run.display().to_string(),
            "epochs": summary.epochs_completed,
            "best_epoch": summary.best_epoch,
            "test": summary.test,
            "seconds": summary.wall_seconds,
        });
        if !self.space.also.is_empty() {
            attrs["objectives"] = json!(self.objective_values(summary, history));
        }
        let best = values
            .iter()
            .copied()
            .filter(|v| v.is_finite())
            .reduce(|a, b| if direction.better(b, a) { b } else { a });
        let (state, value, error) = match (pruned, best) {
            (true, _) => (TrialState::Pruned, values.last().copied(), None),
            (false, Some(v)) => (TrialState::Complete, Some(v), None),
            (false, None) => (
                TrialState::Failed,
                None,
                Some(format!("no finite `{metric}` was recorded")),
            ),
        };
        Outcome {
            state,
            value,
            error,
            attrs,
        }
    }
}

/// Builds the trainer of a trial in a fresh run folder at `run_path` and trains it with the
/// reporter; returns its summary and history.
fn train(
    exp: Experiment,
    ctx: &DataContext,
    run_path: &Path,
    reporter: Reporter,
) -> std::result::Result<(RunSummary, Vec<EpochRecord>), String> {
    let mut trainer = Trainer::new(exp, ctx).map_err(|e| e.to_string())?;
    let _ = std::fs::remove_dir_all(run_path);
    let run = RunDir::create(run_path).map_err(|e| e.to_string())?;
    trainer.set_run_dir(run).map_err(|e| e.to_string())?;
    trainer.add_callback(Box::new(reporter));
    let summary = trainer.fit().map_err(|e| e.to_string())?;
    Ok((summary, trainer.history().to_vec()))
}

#[cfg(test)]
mod tests;
