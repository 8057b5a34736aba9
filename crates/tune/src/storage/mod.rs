//! Where a study's trials live: one [`Storage`] interface (Optuna's `BaseStorage`) and its
//! backends, each in its own file, chosen by a [`Location`]:
//!
//! - `SqliteStorage` (feature `sqlite`, on by default): an embedded database file in the
//!   study folder (WAL mode, every change in a transaction), shared by the worker threads of
//!   one `tuna tune` and by several processes on one machine. Trial numbers are handed out
//!   inside `BEGIN IMMEDIATE` transactions.
//! - `PostgresStorage` (feature `postgres`; `postgres://user[:password]@host[:port]/db`):
//!   one study shared by workers on many machines, as Optuna's RDB storage does. Trial
//!   creation runs in a transaction that first locks the study's row (`SELECT ... FOR
//!   UPDATE`), so creators are serialized: no two workers ever get the same number and the
//!   budget is never exceeded. Tables are prefixed `tuna_` so they can share a database with
//!   other applications (Optuna's included).
//! - [`InMemoryStorage`]: the trials in this process's memory (Optuna's `InMemoryStorage`),
//!   for tests and studies run from code; every handle opened on one [`MemoryDatabase`]
//!   sees the same studies.
//!
//! Every backend has the same semantics (the tests below run one suite on each): no two
//! workers ever run the same trial, a trial whose worker died is reaped once and retried, and
//! interrupted trials do not count toward the budget.

use std::path::Path;
use std::time::{SystemTime, UNIX_EPOCH};

use serde_json::Value;

use crate::error::{Result, TuneError};
use crate::trial::{FrozenTrial, Params, TrialState};

mod location;
mod memory;
#[cfg(feature = "postgres")]
mod postgres;
#[cfg(feature = "sqlite")]
mod sqlite;

#[cfg(feature = "postgres")]
pub use self::postgres::PostgresStorage;
#[cfg(feature = "sqlite")]
pub use self::sqlite::SqliteStorage;
pub use location::Location;
pub use memory::{InMemoryStorage, MemoryDatabase};

/// Seconds without a heartbeat after which a running trial is presumed dead (its worker
/// crashed or was killed).
pub const STALE_AFTER_SECONDS: f64 = 120.0;

/// How often a running study refreshes the heartbeat of its running trials (well under
/// [`STALE_AFTER_SECONDS`], so a trial with long epochs is never taken for dead).
pub const HEARTBEAT_SECONDS: f64 = 20.0;

/// A trial with everything the study records about it.
#[derive(Clone, Debug, PartialEq)]
pub struct TrialRecord {
    /// The trial as samplers and pruners see it.
    pub trial: FrozenTrial,
    /// The error of a failed trial.
    pub error: Option<String>,
    /// Extra results (test metrics, run folder, seconds), JSON.
    pub attrs: Value,
    /// Wall time, when finished.
    pub seconds: Option<f64>,
}

impl TrialRecord {
    /// Whether the trial was reaped because its worker died (it is retried and does not count
    /// toward the budget).
    pub fn interrupted(&self) -> bool {
        self.trial.state == TrialState::Failed
            && self
                .error
                .as_deref()
                .is_some_and(|e| e.starts_with(INTERRUPTED_PREFIX))
    }
}

/// Proposes the parameters of a new trial from the trials so far and its number.
pub type Propose<'a> = &'a mut dyn FnMut(&[FrozenTrial], u64) -> Params;

/// One connection to a study's database (Optuna's `BaseStorage`): the operations every
/// worker of a study needs. Open one with [`open`] or [`open_existing`]; each worker thread
/// opens its own.
pub trait Storage: Send + std::fmt::Debug {
    /// Where the study lives.
    fn location(&self) -> &Location;

    /// Marks running trials whose worker is gone as failed ("interrupted") and returns their
    /// numbers and parameters, so the caller can run them again. A worker on this machine is
    /// gone when its process is; a worker elsewhere when its heartbeat is older than
    /// [`STALE_AFTER_SECONDS`]. Serialized with [`Storage::create_trial`], so a reaped trial
    /// is retried once.
    ///
    /// # Errors
    /// A database error.
    fn reap_stale(&mut self) -> Result<Vec<(u64, Params)>>;

    /// Atomically checks the budget and creates the next trial: `None` when `budget` trials
    /// (finished or running, interrupted ones not counted) already exist. `propose` gets the
    /// trials so far and the new trial's number, and returns its parameters. Creators are
    /// serialized across threads, processes and (PostgreSQL) machines.
    ///
    /// # Errors
    /// A database error.
    fn create_trial(
        &mut self,
        budget: usize,
        worker: &str,
        retry_of: Option<u64>,
        propose: Propose<'_>,
    ) -> Result<Option<(u64, Params)>>;

    /// Stores the objective at `step` of a running trial (a finite value; replaces an
    /// earlier value at that step). [`Storage::report`] is what workers call.
    ///
    /// # Errors
    /// A database error.
    fn set_intermediate(&mut self, number: u64, step: u64, value: f64) -> Result<()>;

    /// Records the objective at `step` for a running trial and refreshes its heartbeat. A
    /// non-finite value is not stored (the heartbeat still is).
    ///
    /// # Errors
    /// A database error.
    fn report(&mut self, number: u64, step: u64, value: f64) -> Result<()> {
        if value.is_finite() {
            self.set_intermediate(number, step, value)?;
        }
        self.heartbeat(number)
    }

    /// Refreshes a running trial's heartbeat.
    ///
    /// # Errors
    /// A database error.
    fn heartbeat(&mut self, number: u64) -> Result<()>;

    /// Refreshes the heartbeat of every running trial of `worker` (a process's trials stay
    /// alive for other machines while its epochs run long).
    ///
    /// # Errors
    /// A database error.
    fn heartbeat_worker(&mut self, worker: &str) -> Result<()>;

    /// Finishes a running trial (a non-finite value is stored as none). A trial that is no
    /// longer running (it was reaped as interrupted and handed to another worker) keeps its
    /// state: returns `false`.
    ///
    /// # Errors
    /// A database error.
    fn finish(
        &mut self,
        number: u64,
        state: TrialState,
        value: Option<f64>,
        error: Option<&str>,
        attrs: &Value,
    ) -> Result<bool>;

    /// Every trial of the study, by number.
    ///
    /// # Errors
    /// A database error.
    fn trials(&mut self) -> Result<Vec<TrialRecord>>;

    /// Sets every heartbeat of the study to 0 (tests: "the workers went silent long ago").
    #[cfg(test)]
    fn expire_heartbeats(&mut self);
}

/// Opens (creating if needed) the database at `location` and the study `name` in it. A new
/// study records `space` (the search-space file's JSON); an existing one must have been
/// created from the same space, and is joined.
///
/// # Errors
/// The database cannot be opened (or this build lacks its backend), or the study exists with
/// a different space.
pub fn open(location: &Location, name: &str, space: &Value) -> Result<Box<dyn Storage>> {
    Ok(match location {
        #[cfg(feature = "sqlite")]
        Location::Sqlite(path) => Box::new(SqliteStorage::open(location, path, name, space)?),
        #[cfg(feature = "postgres")]
        Location::Postgres(url) => Box::new(PostgresStorage::open(location, url, name, space)?),
        Location::Memory(db) => Box::new(InMemoryStorage::open(db, name, space)?),
        #[allow(unreachable_patterns)]
        other => return Err(missing_backend(other)),
    })
}

/// Opens an existing study by name, or the first study when `name` is `None` (for
/// `tuna study show`). Returns the storage, the study's name and its space.
///
/// # Errors
/// No such database or study.
pub fn open_existing(
    location: &Location,
    name: Option<&str>,
) -> Result<(Box<dyn Storage>, String, Value)> {
    fn boxed<S: Storage + 'static>(
        (s, name, space): (S, String, Value),
    ) -> (Box<dyn Storage>, String, Value) {
        (Box::new(s), name, space)
    }
    Ok(match location {
        #[cfg(feature = "sqlite")]
        Location::Sqlite(path) => boxed(SqliteStorage::open_existing(location, path, name)?),
        #[cfg(feature = "postgres")]
        Location::Postgres(url) => boxed(PostgresStorage::open_existing(location, url, name)?),
        Location::Memory(db) => boxed(InMemoryStorage::open_existing(db, name)?),
        #[allow(unreachable_patterns)]
        other => return Err(missing_backend(other)),
    })
}

/// The error for a location whose backend this build leaves out.
#[allow(dead_code)]
fn missing_backend(location: &Location) -> TuneError {
    let feature = match location {
        Location::Sqlite(_) => "sqlite",
        Location::Postgres(_) => "postgres",
        Location::Memory(_) => "memory",
    };
    TuneError::storage(
        location,
        format!("this build of tuna-tune has no {feature} storage (cargo feature `{feature}`)"),
    )
}

pub(crate) fn now() -> f64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs_f64())
        .unwrap_or(0.0)
}

/// This machine's name (for worker ids `host:pid`).
pub fn hostname() -> String {
    std::fs::read_to_string("/etc/hostname")
        .ok()
        .map(|h| h.trim().to_string())
        .filter(|h| !h.is_empty())
        .or_else(|| std::env::var("HOSTNAME").ok())
        .unwrap_or_else(|| "localhost".to_string())
}

/// This process's worker id, `host:pid`.
pub fn worker_id() -> String {
    format!("{}:{}", hostname(), std::process::id())
}

#[cfg(any(feature = "sqlite", feature = "postgres"))]
/// How a trial state is written in every backend.
pub(crate) fn state_name(s: TrialState) -> &'static str {
    match s {
        TrialState::Running => "running",
        TrialState::Complete => "complete",
        TrialState::Pruned => "pruned",
        TrialState::Failed => "failed",
    }
}

#[cfg(any(feature = "sqlite", feature = "postgres"))]
pub(crate) fn parse_state(s: &str) -> TrialState {
    match s {
        "complete" => TrialState::Complete,
        "pruned" => TrialState::Pruned,
        "running" => TrialState::Running,
        _ => TrialState::Failed,
    }
}

/// What every interrupted trial's error starts with (the SQL backends count the budget with
/// `error LIKE 'interrupted:%'`).
pub(crate) const INTERRUPTED_PREFIX: &str = "interrupted:";

/// The error recorded on a trial whose worker died; such trials are retried and do not count
/// toward the budget.
pub(crate) const INTERRUPTED: &str =
    "interrupted: its worker stopped without finishing it (retried)";

/// Whether a running trial's worker is gone: on this machine when its process is, elsewhere
/// when its heartbeat is older than [`STALE_AFTER_SECONDS`].
pub(crate) fn worker_dead(worker: Option<&str>, heartbeat: f64) -> bool {
    let host = format!("{}:", hostname());
    let local_pid = worker
        .and_then(|w| w.strip_prefix(&host))
        .and_then(|pid| pid.parse::<u32>().ok());
    match local_pid {
        Some(pid) if Path::new("/proc/self").exists() => {
            !Path::new(&format!("/proc/{pid}")).exists()
        }
        _ => heartbeat < now() - STALE_AFTER_SECONDS,
    }
}

/// Checks that the study `name` found in a database was created from `space`.
pub(crate) fn check_space(loc: &Location, name: &str, stored: &Value, space: &Value) -> Result<()> {
    if stored != space {
        return Err(TuneError::storage(
            loc,
            format!("study `{name}` exists with a different search space; use another study name or the original space file"),
        ));
    }
    Ok(())
}

#[cfg(any(feature = "sqlite", feature = "postgres"))]
/// A trial row as the SQL backends read it.
pub(crate) struct TrialRow {
    pub number: i64,
    pub state: String,
    pub params: String,
    pub value: Option<f64>,
    pub error: Option<String>,
    pub attrs: String,
    pub started: f64,
    pub finished: Option<f64>,
}

#[cfg(any(feature = "sqlite", feature = "postgres"))]
impl TrialRow {
    /// The record, with the trial's intermediate values.
    pub fn into_record(self, intermediate: std::collections::BTreeMap<u64, f64>) -> TrialRecord {
        TrialRecord {
            trial: FrozenTrial {
                number: self.number as u64,
                state: parse_state(&self.state),
                params: serde_json::from_str(&self.params).unwrap_or_default(),
                value: self.value,
                intermediate,
            },
            error: self.error,
            attrs: serde_json::from_str(&self.attrs).unwrap_or(Value::Null),
            seconds: self.finished.map(|f| f - self.started),
        }
    }
}

#[cfg(any(feature = "sqlite", feature = "postgres"))]
/// The parameters as the SQL backends store them.
pub(crate) fn params_text(params: &Params) -> String {
    serde_json::to_string(params).unwrap_or_default()
}

#[cfg(test)]
mod tests;
