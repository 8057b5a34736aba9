//! [`Storage`]: where a study's trials live, shared by every worker that runs it.
//!
//! Two backends with the same operations and semantics ([`Location`]):
//! - **SQLite** (default): an embedded database file in the study folder (WAL mode, every
//!   change in a transaction), shared by the worker threads of one `tuna tune` and by several
//!   processes on one machine. Trial numbers are handed out inside `BEGIN IMMEDIATE`
//!   transactions.
//! - **PostgreSQL** (`postgres://user[:password]@host[:port]/db`): one study shared by workers
//!   on many machines, as Optuna's RDB storage does. Trial creation runs in a transaction that
//!   first locks the study's row (`SELECT ... FOR UPDATE`), so creators are serialized: no two
//!   workers ever get the same number and the budget is never exceeded. Tables are prefixed
//!   `tuna_` so they can share a database with other applications (Optuna's included).
//!
//! Either way, no two workers ever run the same trial.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use postgres::GenericClient;
use rusqlite::{params, Connection, OptionalExtension, TransactionBehavior};
use serde_json::Value;

use crate::trial::{FrozenTrial, ParamValue, TrialState};

/// Seconds without a heartbeat after which a running trial is presumed dead (its worker
/// crashed or was killed).
pub const STALE_AFTER_SECONDS: f64 = 120.0;

/// How often a running study refreshes the heartbeat of its running trials (well under
/// [`STALE_AFTER_SECONDS`], so a trial with long epochs is never taken for dead).
pub const HEARTBEAT_SECONDS: f64 = 20.0;

/// Where a study's trials live.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Location {
    /// An SQLite database file (`study.db` in the study folder).
    Sqlite(PathBuf),
    /// A PostgreSQL database, as a `postgres://` (or `postgresql://`) URL or a libpq-style
    /// `key=value` connection string.
    Postgres(String),
}

impl Location {
    /// Parses a `--storage` argument: a `postgres://` / `postgresql://` URL, or a path to an
    /// SQLite database file (`sqlite:PATH` or a plain path).
    ///
    /// # Errors
    /// An empty argument or another URL scheme.
    pub fn parse(s: &str) -> Result<Location, String> {
        let s = s.trim();
        if s.starts_with("postgres://") || s.starts_with("postgresql://") {
            s.parse::<postgres::Config>()
                .map_err(|e| format!("--storage {}: {e}", redact(s)))?;
            return Ok(Location::Postgres(s.to_string()));
        }
        if let Some(p) = s.strip_prefix("sqlite:") {
            return Ok(Location::Sqlite(PathBuf::from(p.trim_start_matches("//"))));
        }
        if s.is_empty() || s.contains("://") {
            return Err(format!(
                "--storage {}: expected postgres://user[:password]@host[:port]/database or an SQLite file",
                redact(s)
            ));
        }
        Ok(Location::Sqlite(PathBuf::from(s)))
    }

    /// The storage as it is written in `--storage` (with any password).
    pub fn as_arg(&self) -> String {
        match self {
            Location::Sqlite(p) => p.display().to_string(),
            Location::Postgres(url) => url.clone(),
        }
    }

    /// True for a server-backed storage that workers on other machines can share.
    pub fn is_shared(&self) -> bool {
        matches!(self, Location::Postgres(_))
    }

    /// Whether two locations name the same database (for PostgreSQL: the same user, hosts,
    /// ports and database, whatever the password).
    pub fn same_database(&self, other: &Location) -> bool {
        match (self, other) {
            (Location::Sqlite(a), Location::Sqlite(b)) => a == b,
            (Location::Postgres(a), Location::Postgres(b)) => {
                match (a.parse::<postgres::Config>(), b.parse::<postgres::Config>()) {
                    (Ok(a), Ok(b)) => {
                        a.get_user() == b.get_user()
                            && a.get_dbname() == b.get_dbname()
                            && a.get_hosts() == b.get_hosts()
                            && a.get_ports() == b.get_ports()
                    }
                    _ => a == b,
                }
            }
            _ => false,
        }
    }
}

/// A URL with its password replaced by `***`, for messages.
fn redact(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else {
        return url.to_string();
    };
    let (auth, host) = match rest.rsplit_once('@') {
        Some(x) => x,
        None => return url.to_string(),
    };
    match auth.split_once(':') {
        Some((user, _)) => format!("{scheme}://{user}:***@{host}"),
        None => url.to_string(),
    }
}

impl std::fmt::Display for Location {
    /// The location for messages: a file path, or the URL without its password.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Location::Sqlite(p) => write!(f, "{}", p.display()),
            Location::Postgres(url) => write!(f, "{}", redact(url)),
        }
    }
}

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

enum Backend {
    Sqlite(Connection),
    Postgres(Box<postgres::Client>),
}

/// A study's storage: one connection to its database.
pub struct Storage {
    backend: Backend,
    location: Location,
    study: i64,
}

impl std::fmt::Debug for Storage {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Storage")
            .field("location", &self.location.to_string())
            .field("study", &self.study)
            .finish()
    }
}

fn now() -> f64 {
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

fn db_err(loc: &Location, e: impl std::fmt::Display) -> String {
    format!("{loc}: {e}")
}

fn state_name(s: TrialState) -> &'static str {
    match s {
        TrialState::Running => "running",
        TrialState::Complete => "complete",
        TrialState::Pruned => "pruned",
        TrialState::Failed => "failed",
    }
}

fn parse_state(s: &str) -> TrialState {
    match s {
        "complete" => TrialState::Complete,
        "pruned" => TrialState::Pruned,
        "running" => TrialState::Running,
        _ => TrialState::Failed,
    }
}

/// The error recorded on a trial whose worker died; such trials are retried and do not count
/// toward the budget.
const INTERRUPTED: &str = "interrupted: its worker stopped without finishing it (retried)";

/// Whether a running trial's worker is gone: on this machine when its process is, elsewhere
/// when its heartbeat is older than [`STALE_AFTER_SECONDS`].
fn worker_dead(worker: Option<&str>, heartbeat: f64) -> bool {
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

fn check_space(loc: &Location, name: &str, stored: &str, space: &Value) -> Result<(), String> {
    let stored: Value = serde_json::from_str(stored).unwrap_or(Value::Null);
    if &stored != space {
        return Err(db_err(
            loc,
            format!("study `{name}` exists with a different search space; use another study name or the original space file"),
        ));
    }
    Ok(())
}

const SQLITE_SCHEMA: &str = "CREATE TABLE IF NOT EXISTS studies (
         id INTEGER PRIMARY KEY, name TEXT NOT NULL UNIQUE, space TEXT NOT NULL,
         created REAL NOT NULL);
     CREATE TABLE IF NOT EXISTS trials (
         id INTEGER PRIMARY KEY, study INTEGER NOT NULL REFERENCES studies(id),
         number INTEGER NOT NULL, state TEXT NOT NULL, params TEXT NOT NULL,
         value REAL, error TEXT, attrs TEXT NOT NULL DEFAULT '{}', worker TEXT,
         started REAL NOT NULL, finished REAL, heartbeat REAL NOT NULL,
         retry_of INTEGER, UNIQUE(study, number));
     CREATE TABLE IF NOT EXISTS intermediate (
         trial INTEGER NOT NULL REFERENCES trials(id), step INTEGER NOT NULL,
         value REAL NOT NULL, PRIMARY KEY(trial, step));";

/// The same schema in PostgreSQL, its tables prefixed `tuna_`.
const PG_SCHEMA: &str = "CREATE TABLE IF NOT EXISTS tuna_studies (
         id BIGSERIAL PRIMARY KEY, name TEXT NOT NULL UNIQUE, space TEXT NOT NULL,
         created DOUBLE PRECISION NOT NULL);
     CREATE TABLE IF NOT EXISTS tuna_trials (
         id BIGSERIAL PRIMARY KEY, study BIGINT NOT NULL REFERENCES tuna_studies(id),
         number BIGINT NOT NULL, state TEXT NOT NULL, params TEXT NOT NULL,
         value DOUBLE PRECISION, error TEXT, attrs TEXT NOT NULL DEFAULT '{}', worker TEXT,
         started DOUBLE PRECISION NOT NULL, finished DOUBLE PRECISION,
         heartbeat DOUBLE PRECISION NOT NULL, retry_of BIGINT, UNIQUE(study, number));
     CREATE TABLE IF NOT EXISTS tuna_intermediate (
         trial BIGINT NOT NULL REFERENCES tuna_trials(id), step BIGINT NOT NULL,
         value DOUBLE PRECISION NOT NULL, PRIMARY KEY(trial, step));";

/// The advisory lock key under which workers create the PostgreSQL schema (concurrent
/// `CREATE TABLE IF NOT EXISTS` can otherwise fail): "tuna" in ASCII.
const PG_SCHEMA_LOCK: i64 = 0x7475_6e61;

fn pg_connect(loc: &Location, url: &str) -> Result<postgres::Client, String> {
    let mut config: postgres::Config = url.parse().map_err(|e| db_err(loc, e))?;
    if config.get_connect_timeout().is_none() {
        config.connect_timeout(Duration::from_secs(30));
    }
    if config.get_application_name().is_none() {
        config.application_name("tuna");
    }
    config
        .connect(postgres::NoTls)
        .map_err(|e| db_err(loc, pg_error(e)))
}

/// A PostgreSQL error with its server-side detail (the `Display` of `postgres::Error` alone
/// often says just "db error").
fn pg_error(e: postgres::Error) -> String {
    match e.as_db_error() {
        Some(db) => format!("{e}: {}", db.message()),
        None => match std::error::Error::source(&e) {
            Some(src) => format!("{e}: {src}"),
            None => e.to_string(),
        },
    }
}

impl Storage {
    /// Opens (creating if needed) the database at `location` and the study `name` in it. A
    /// new study records `space` (the search-space file's JSON); an existing one must have
    /// been created from the same space, and is joined.
    ///
    /// # Errors
    /// The database cannot be opened, or the study exists with a different space.
    pub fn open(location: &Location, name: &str, space: &Value) -> Result<Storage, String> {
        let loc = location;
        let space_text = space.to_string();
        let (backend, study) = match loc {
            Location::Sqlite(path) => {
                let conn = Connection::open(path).map_err(|e| db_err(loc, e))?;
                conn.busy_timeout(Duration::from_secs(30))
                    .map_err(|e| db_err(loc, e))?;
                conn.pragma_update(None, "journal_mode", "WAL")
                    .map_err(|e| db_err(loc, e))?;
                conn.pragma_update(None, "synchronous", "NORMAL")
                    .map_err(|e| db_err(loc, e))?;
                conn.execute_batch(SQLITE_SCHEMA)
                    .map_err(|e| db_err(loc, e))?;
                let existing: Option<(i64, String)> = conn
                    .query_row(
                        "SELECT id, space FROM studies WHERE name = ?1",
                        params![name],
                        |r| Ok((r.get(0)?, r.get(1)?)),
                    )
                    .optional()
                    .map_err(|e| db_err(loc, e))?;
                let study = match existing {
                    Some((id, stored)) => {
                        check_space(loc, name, &stored, space)?;
                        id
                    }
                    None => {
                        conn.execute(
                            "INSERT OR IGNORE INTO studies (name, space, created) VALUES (?1, ?2, ?3)",
                            params![name, space_text, now()],
                        )
                        .map_err(|e| db_err(loc, e))?;
                        let (id, stored): (i64, String) = conn
                            .query_row(
                                "SELECT id, space FROM studies WHERE name = ?1",
                                params![name],
                                |r| Ok((r.get(0)?, r.get(1)?)),
                            )
                            .map_err(|e| db_err(loc, e))?;
                        check_space(loc, name, &stored, space)?;
                        id
                    }
                };
                (Backend::Sqlite(conn), study)
            }
            Location::Postgres(url) => {
                let mut client = pg_connect(loc, url)?;
                let pe = |e: postgres::Error| db_err(loc, pg_error(e));
                let mut tx = client.transaction().map_err(pe)?;
                // Serializes schema creation and the study's insertion across processes.
                tx.execute("SELECT pg_advisory_xact_lock($1)", &[&PG_SCHEMA_LOCK])
                    .map_err(pe)?;
                tx.batch_execute(PG_SCHEMA).map_err(pe)?;
                tx.execute(
                    "INSERT INTO tuna_studies (name, space, created) VALUES ($1, $2, $3)
                     ON CONFLICT (name) DO NOTHING",
                    &[&name, &space_text, &now()],
                )
                .map_err(pe)?;
                let row = tx
                    .query_one(
                        "SELECT id, space FROM tuna_studies WHERE name = $1",
                        &[&name],
                    )
                    .map_err(pe)?;
                let (id, stored): (i64, String) = (row.get(0), row.get(1));
                check_space(loc, name, &stored, space)?;
                tx.commit().map_err(pe)?;
                (Backend::Postgres(Box::new(client)), id)
            }
        };
        Ok(Storage {
            backend,
            location: loc.clone(),
            study,
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
    ) -> Result<(Storage, String, Value), String> {
        let loc = location;
        let (backend, row) = match loc {
            Location::Sqlite(path) => {
                if !path.is_file() {
                    return Err(db_err(loc, "no study database here"));
                }
                let conn = Connection::open(path).map_err(|e| db_err(loc, e))?;
                conn.busy_timeout(Duration::from_secs(30))
                    .map_err(|e| db_err(loc, e))?;
                let row: Option<(i64, String, String)> = match name {
                    Some(n) => conn.query_row(
                        "SELECT id, name, space FROM studies WHERE name = ?1",
                        params![n],
                        |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
                    ),
                    None => conn.query_row(
                        "SELECT id, name, space FROM studies ORDER BY id LIMIT 1",
                        [],
                        |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
                    ),
                }
                .optional()
                .map_err(|e| db_err(loc, e))?;
                (Backend::Sqlite(conn), row)
            }
            Location::Postgres(url) => {
                let mut client = pg_connect(loc, url)?;
                let pe = |e: postgres::Error| db_err(loc, pg_error(e));
                let exists: bool = client
                    .query_one("SELECT to_regclass('tuna_studies') IS NOT NULL", &[])
                    .map_err(pe)?
                    .get(0);
                if !exists {
                    return Err(db_err(loc, "no Tuna study in this database"));
                }
                let row = match name {
                    Some(n) => client.query_opt(
                        "SELECT id, name, space FROM tuna_studies WHERE name = $1",
                        &[&n],
                    ),
                    None => client.query_opt(
                        "SELECT id, name, space FROM tuna_studies ORDER BY id LIMIT 1",
                        &[],
                    ),
                }
                .map_err(pe)?
                .map(|r| (r.get(0), r.get(1), r.get(2)));
                (Backend::Postgres(Box::new(client)), row)
            }
        };
        let (study, name, space) = row.ok_or_else(|| db_err(loc, "no such study"))?;
        let space = serde_json::from_str(&space).map_err(|e| db_err(loc, e))?;
        Ok((
            Storage {
                backend,
                location: loc.clone(),
                study,
            },
            name,
            space,
        ))
    }

    /// Where the study lives.
    pub fn location(&self) -> &Location {
        &self.location
    }

    /// Marks running trials whose worker is gone as failed ("interrupted") and returns their
    /// numbers and parameters, so the caller can run them again. A worker on this machine is
    /// gone when its process is; a worker elsewhere when its heartbeat is older than
    /// [`STALE_AFTER_SECONDS`].
    ///
    /// # Errors
    /// A database error.
    pub fn reap_stale(&mut self) -> Result<Vec<(u64, BTreeMap<String, ParamValue>)>, String> {
        let study = self.study;
        let loc = self.location.clone();
        let mut out = Vec::new();
        match &mut self.backend {
            Backend::Sqlite(conn) => {
                let tx = conn
                    .transaction_with_behavior(TransactionBehavior::Immediate)
                    .map_err(|e| db_err(&loc, e))?;
                let running = {
                    let mut q = tx
                        .prepare(
                            "SELECT id, number, params, worker, heartbeat FROM trials
                             WHERE study = ?1 AND state = 'running'",
                        )
                        .map_err(|e| db_err(&loc, e))?;
                    let rows = q
                        .query_map(params![study], |r| {
                            Ok((
                                r.get::<_, i64>(0)?,
                                r.get::<_, i64>(1)?,
                                r.get::<_, String>(2)?,
                                r.get::<_, Option<String>>(3)?,
                                r.get::<_, f64>(4)?,
                            ))
                        })
                        .map_err(|e| db_err(&loc, e))?;
                    rows.collect::<Result<Vec<_>, _>>()
                        .map_err(|e| db_err(&loc, e))?
                };
                for (id, number, p, worker, heartbeat) in running {
                    if !worker_dead(worker.as_deref(), heartbeat) {
                        continue;
                    }
                    tx.execute(
                        "UPDATE trials SET state = 'failed', error = ?2, finished = ?3 WHERE id = ?1",
                        params![id, INTERRUPTED, now()],
                    )
                    .map_err(|e| db_err(&loc, e))?;
                    out.push((number as u64, serde_json::from_str(&p).unwrap_or_default()));
                }
                tx.commit().map_err(|e| db_err(&loc, e))?;
            }
            Backend::Postgres(client) => {
                let pe = |e: postgres::Error| db_err(&loc, pg_error(e));
                let mut tx = client.transaction().map_err(pe)?;
                // The same lock as trial creation: a reaped trial is retried exactly once.
                tx.execute(
                    "SELECT id FROM tuna_studies WHERE id = $1 FOR UPDATE",
                    &[&study],
                )
                .map_err(pe)?;
                let running = tx
                    .query(
                        "SELECT id, number, params, worker, heartbeat FROM tuna_trials
                         WHERE study = $1 AND state = 'running' ORDER BY number",
                        &[&study],
                    )
                    .map_err(pe)?;
                for row in running {
                    let (id, number, p, worker, heartbeat): (
                        i64,
                        i64,
                        String,
                        Option<String>,
                        f64,
                    ) = (row.get(0), row.get(1), row.get(2), row.get(3), row.get(4));
                    if !worker_dead(worker.as_deref(), heartbeat) {
                        continue;
                    }
                    tx.execute(
                        "UPDATE tuna_trials SET state = 'failed', error = $2, finished = $3
                         WHERE id = $1",
                        &[&id, &INTERRUPTED, &now()],
                    )
                    .map_err(pe)?;
                    out.push((number as u64, serde_json::from_str(&p).unwrap_or_default()));
                }
                tx.commit().map_err(pe)?;
            }
        }
        Ok(out)
    }

    /// Atomically checks the budget and creates the next trial: `None` when `budget` trials
    /// (finished or running, retried ones not counted twice) already exist. `propose` gets
    /// the trials so far and the new trial's number, and returns its parameters. Creators
    /// are serialized (SQLite: `BEGIN IMMEDIATE`; PostgreSQL: the study's row locked `FOR
    /// UPDATE`), across threads, processes and machines.
    ///
    /// # Errors
    /// A database error.
    pub fn create_trial(
        &mut self,
        budget: usize,
        worker: &str,
        retry_of: Option<u64>,
        propose: impl FnOnce(&[FrozenTrial], u64) -> BTreeMap<String, ParamValue>,
    ) -> Result<Option<(u64, BTreeMap<String, ParamValue>)>, String> {
        let study = self.study;
        let loc = self.location.clone();
        let retry_of = retry_of.map(|r| r as i64);
        match &mut self.backend {
            Backend::Sqlite(conn) => {
                let e = |e: rusqlite::Error| db_err(&loc, e);
                let tx = conn
                    .transaction_with_behavior(TransactionBehavior::Immediate)
                    .map_err(e)?;
                let counted: i64 = tx
                    .query_row(
                        "SELECT COUNT(*) FROM trials WHERE study = ?1 AND NOT (state = 'failed' AND error LIKE 'interrupted:%')",
                        params![study],
                        |r| r.get(0),
                    )
                    .map_err(e)?;
                if counted as usize >= budget {
                    return Ok(None);
                }
                let next: i64 = tx
                    .query_row(
                        "SELECT COALESCE(MAX(number) + 1, 0) FROM trials WHERE study = ?1",
                        params![study],
                        |r| r.get(0),
                    )
                    .map_err(e)?;
                let trials = sqlite_trials(&tx, study, &loc)?
                    .into_iter()
                    .map(|t| t.trial)
                    .collect::<Vec<_>>();
                let params_map = propose(&trials, next as u64);
                let t = now();
                tx.execute(
                    "INSERT INTO trials (study, number, state, params, worker, started, heartbeat, retry_of)
                     VALUES (?1, ?2, 'running', ?3, ?4, ?5, ?5, ?6)",
                    params![
                        study,
                        next,
                        serde_json::to_string(&params_map).unwrap_or_default(),
                        worker,
                        t,
                        retry_of
                    ],
                )
                .map_err(e)?;
                tx.commit().map_err(e)?;
                Ok(Some((next as u64, params_map)))
            }
            Backend::Postgres(client) => {
                let pe = |e: postgres::Error| db_err(&loc, pg_error(e));
                let mut tx = client.transaction().map_err(pe)?;
                // Serializes creators: the next creator waits here until this transaction
                // commits, then (READ COMMITTED) sees the trial it inserted.
                tx.execute(
                    "SELECT id FROM tuna_studies WHERE id = $1 FOR UPDATE",
                    &[&study],
                )
                .map_err(pe)?;
                let row = tx
                    .query_one(
                        "SELECT COUNT(*) FILTER (WHERE NOT (state = 'failed' AND error LIKE 'interrupted:%')),
                                COALESCE(MAX(number) + 1, 0)
                         FROM tuna_trials WHERE study = $1",
                        &[&study],
                    )
                    .map_err(pe)?;
                let (counted, next): (i64, i64) = (row.get(0), row.get(1));
                if counted as usize >= budget {
                    return Ok(None);
                }
                let trials = pg_trials(&mut tx, study, &loc)?
                    .into_iter()
                    .map(|t| t.trial)
                    .collect::<Vec<_>>();
                let params_map = propose(&trials, next as u64);
                let t = now();
                tx.execute(
                    "INSERT INTO tuna_trials (study, number, state, params, worker, started, heartbeat, retry_of)
                     VALUES ($1, $2, 'running', $3, $4, $5, $5, $6)",
                    &[
                        &study,
                        &next,
                        &serde_json::to_string(&params_map).unwrap_or_default(),
                        &worker,
                        &t,
                        &retry_of,
                    ],
                )
                .map_err(pe)?;
                tx.commit().map_err(pe)?;
                Ok(Some((next as u64, params_map)))
            }
        }
    }

    /// Records the objective at `step` for a running trial (and refreshes its heartbeat). A
    /// non-finite value is not stored (the heartbeat still is).
    ///
    /// # Errors
    /// A database error.
    pub fn report(&mut self, number: u64, step: u64, value: f64) -> Result<(), String> {
        if value.is_finite() {
            let (study, n, s) = (self.study, number as i64, step as i64);
            match &mut self.backend {
                Backend::Sqlite(conn) => conn
                    .execute(
                        "INSERT OR REPLACE INTO intermediate (trial, step, value)
                         SELECT id, ?3, ?4 FROM trials WHERE study = ?1 AND number = ?2",
                        params![study, n, s, value],
                    )
                    .map(|_| ())
                    .map_err(|e| db_err(&self.location, e))?,
                Backend::Postgres(client) => client
                    .execute(
                        "INSERT INTO tuna_intermediate (trial, step, value)
                         SELECT id, $3::BIGINT, $4::DOUBLE PRECISION FROM tuna_trials WHERE study = $1 AND number = $2
                         ON CONFLICT (trial, step) DO UPDATE SET value = EXCLUDED.value",
                        &[&study, &n, &s, &value],
                    )
                    .map(|_| ())
                    .map_err(|e| db_err(&self.location, pg_error(e)))?,
            }
        }
        self.heartbeat(number)
    }

    /// Refreshes a running trial's heartbeat.
    ///
    /// # Errors
    /// A database error.
    pub fn heartbeat(&mut self, number: u64) -> Result<(), String> {
        let (study, n, t) = (self.study, number as i64, now());
        match &mut self.backend {
            Backend::Sqlite(conn) => conn
                .execute(
                    "UPDATE trials SET heartbeat = ?3 WHERE study = ?1 AND number = ?2",
                    params![study, n, t],
                )
                .map(|_| ())
                .map_err(|e| db_err(&self.location, e)),
            Backend::Postgres(client) => client
                .execute(
                    "UPDATE tuna_trials SET heartbeat = $3 WHERE study = $1 AND number = $2",
                    &[&study, &n, &t],
                )
                .map(|_| ())
                .map_err(|e| db_err(&self.location, pg_error(e))),
        }
    }

    /// Refreshes the heartbeat of every running trial of `worker` (a process's trials stay
    /// alive for other machines while its epochs run long).
    ///
    /// # Errors
    /// A database error.
    pub fn heartbeat_worker(&mut self, worker: &str) -> Result<(), String> {
        let (study, t) = (self.study, now());
        match &mut self.backend {
            Backend::Sqlite(conn) => conn
                .execute(
                    "UPDATE trials SET heartbeat = ?3
                     WHERE study = ?1 AND worker = ?2 AND state = 'running'",
                    params![study, worker, t],
                )
                .map(|_| ())
                .map_err(|e| db_err(&self.location, e)),
            Backend::Postgres(client) => client
                .execute(
                    "UPDATE tuna_trials SET heartbeat = $3
                     WHERE study = $1 AND worker = $2 AND state = 'running'",
                    &[&study, &worker, &t],
                )
                .map(|_| ())
                .map_err(|e| db_err(&self.location, pg_error(e))),
        }
    }

    /// Finishes a running trial. A trial that is no longer running (it was reaped as
    /// interrupted and handed to another worker) keeps its state: returns `false`.
    ///
    /// # Errors
    /// A database error.
    pub fn finish(
        &mut self,
        number: u64,
        state: TrialState,
        value: Option<f64>,
        error: Option<&str>,
        attrs: &Value,
    ) -> Result<bool, String> {
        let (study, n, s, t) = (self.study, number as i64, state_name(state), now());
        let value = value.filter(|v| v.is_finite());
        let attrs = attrs.to_string();
        let changed = match &mut self.backend {
            Backend::Sqlite(conn) => conn
                .execute(
                    "UPDATE trials SET state = ?3, value = ?4, error = ?5, attrs = ?6, finished = ?7
                     WHERE study = ?1 AND number = ?2 AND state = 'running'",
                    params![study, n, s, value, error, attrs, t],
                )
                .map_err(|e| db_err(&self.location, e))? as u64,
            Backend::Postgres(client) => client
                .execute(
                    "UPDATE tuna_trials SET state = $3, value = $4, error = $5, attrs = $6, finished = $7
                     WHERE study = $1 AND number = $2 AND state = 'running'",
                    &[&study, &n, &s, &value, &error, &attrs, &t],
                )
                .map_err(|e| db_err(&self.location, pg_error(e)))?,
        };
        Ok(changed > 0)
    }

    /// Every trial of the study, by number.
    ///
    /// # Errors
    /// A database error.
    pub fn trials(&mut self) -> Result<Vec<TrialRecord>, String> {
        match &mut self.backend {
            Backend::Sqlite(conn) => sqlite_trials(conn, self.study, &self.location),
            Backend::Postgres(client) => pg_trials(client.as_mut(), self.study, &self.location),
        }
    }
}

#[allow(clippy::too_many_arguments)]
fn record(
    number: i64,
    state: &str,
    params: &str,
    value: Option<f64>,
    error: Option<String>,
    attrs: &str,
    started: f64,
    finished: Option<f64>,
    intermediate: BTreeMap<u64, f64>,
) -> TrialRecord {
    TrialRecord {
        trial: FrozenTrial {
            number: number as u64,
            state: parse_state(state),
            params: serde_json::from_str(params).unwrap_or_default(),
            value,
            intermediate,
        },
        error,
        attrs: serde_json::from_str(attrs).unwrap_or(Value::Null),
        seconds: finished.map(|f| f - started),
    }
}

fn pg_trials(
    client: &mut impl GenericClient,
    study: i64,
    loc: &Location,
) -> Result<Vec<TrialRecord>, String> {
    let pe = |e: postgres::Error| db_err(loc, pg_error(e));
    let mut inter: BTreeMap<i64, BTreeMap<u64, f64>> = BTreeMap::new();
    for r in client
        .query(
            "SELECT i.trial, i.step, i.value FROM tuna_intermediate i
             JOIN tuna_trials t ON t.id = i.trial WHERE t.study = $1",
            &[&study],
        )
        .map_err(pe)?
    {
        inter
            .entry(r.get::<_, i64>(0))
            .or_default()
            .insert(r.get::<_, i64>(1) as u64, r.get(2));
    }
    let rows = client
        .query(
            "SELECT id, number, state, params, value, error, attrs, started, finished
             FROM tuna_trials WHERE study = $1 ORDER BY number",
            &[&study],
        )
        .map_err(pe)?;
    Ok(rows
        .iter()
        .map(|r| {
            let id: i64 = r.get(0);
            record(
                r.get(1),
                r.get(2),
                r.get(3),
                r.get(4),
                r.get(5),
                r.get(6),
                r.get(7),
                r.get(8),
                inter.remove(&id).unwrap_or_default(),
            )
        })
        .collect())
}

fn sqlite_trials(
    conn: &Connection,
    study: i64,
    loc: &Location,
) -> Result<Vec<TrialRecord>, String> {
    let e = |e: rusqlite::Error| db_err(loc, e);
    let mut inter: BTreeMap<i64, BTreeMap<u64, f64>> = BTreeMap::new();
    {
        let mut q = conn
            .prepare(
                "SELECT i.trial, i.step, i.value FROM intermediate i
                 JOIN trials t ON t.id = i.trial WHERE t.study = ?1",
            )
            .map_err(e)?;
        let rows = q
            .query_map(params![study], |r| {
                Ok((
                    r.get::<_, i64>(0)?,
                    r.get::<_, i64>(1)?,
                    r.get::<_, f64>(2)?,
                ))
            })
            .map_err(e)?;
        for row in rows {
            let (trial, step, value) = row.map_err(e)?;
            inter.entry(trial).or_default().insert(step as u64, value);
        }
    }
    let mut q = conn
        .prepare(
            "SELECT id, number, state, params, value, error, attrs, started, finished
             FROM trials WHERE study = ?1 ORDER BY number",
        )
        .map_err(e)?;
    let rows = q
        .query_map(params![study], |r| {
            Ok((
                r.get::<_, i64>(0)?,
                r.get::<_, i64>(1)?,
                r.get::<_, String>(2)?,
                r.get::<_, String>(3)?,
                r.get::<_, Option<f64>>(4)?,
                r.get::<_, Option<String>>(5)?,
                r.get::<_, String>(6)?,
                r.get::<_, f64>(7)?,
                r.get::<_, Option<f64>>(8)?,
            ))
        })
        .map_err(e)?;
    let mut out = Vec::new();
    for row in rows {
        let (id, number, state, p, value, error, attrs, started, finished) = row.map_err(e)?;
        out.push(record(
            number,
            &state,
            &p,
            value,
            error,
            &attrs,
            started,
            finished,
            inter.remove(&id).unwrap_or_default(),
        ));
    }
    Ok(out)
}

#[cfg(test)]
impl Storage {
    /// Runs a statement (tests only: the tables differ in name between the backends, so the
    /// statement names the trials table `TRIALS`).
    fn execute_raw(&mut self, sql: &str) {
        match &mut self.backend {
            Backend::Sqlite(conn) => {
                conn.execute(&sql.replace("TRIALS", "trials"), []).unwrap();
            }
            Backend::Postgres(client) => {
                client
                    .execute(&sql.replace("TRIALS", "tuna_trials"), &[])
                    .unwrap();
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn db(name: &str) -> Location {
        let p = std::env::temp_dir().join(format!("tuna-store-{}-{name}.db", std::process::id()));
        let _ = std::fs::remove_file(&p);
        Location::Sqlite(p)
    }

    fn cleanup(loc: &Location) {
        if let Location::Sqlite(p) = loc {
            let _ = std::fs::remove_file(p);
        }
    }

    /// The test PostgreSQL server (`TUNA_TEST_POSTGRES`, set by `.ci/run`): required in CI,
    /// skipped with a message elsewhere.
    fn postgres() -> Option<Location> {
        match std::env::var("TUNA_TEST_POSTGRES") {
            Ok(url) if !url.trim().is_empty() => Some(Location::parse(&url).unwrap()),
            _ if std::env::var_os("CI").is_some() => {
                panic!("CI is set but TUNA_TEST_POSTGRES is not: .ci/run must start PostgreSQL and export it")
            }
            _ => {
                eprintln!("SKIPPED: set TUNA_TEST_POSTGRES=postgres://user:password@localhost/db to test the PostgreSQL storage");
                None
            }
        }
    }

    /// A study name no other test run uses (studies stay in the shared test database).
    fn unique(name: &str) -> String {
        let nanos = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_nanos())
            .unwrap_or(0);
        format!("test-{name}-{}-{nanos}", std::process::id())
    }

    fn budget_numbering_and_round_trip(loc: &Location, name: &str) {
        let space = serde_json::json!({"params": {"x": 1}});
        let mut s = Storage::open(loc, name, &space).unwrap();
        let mut made = Vec::new();
        while let Some((n, params)) = s
            .create_trial(3, "w", None, |trials, n| {
                assert_eq!(trials.len() as u64, n);
                BTreeMap::from([("x".to_string(), ParamValue::Float(n as f64))])
            })
            .unwrap()
        {
            s.report(n, 1, 0.5).unwrap();
            s.report(n, 2, f64::NAN).unwrap();
            assert!(s
                .finish(
                    n,
                    TrialState::Complete,
                    Some(n as f64),
                    None,
                    &serde_json::json!({"k": n}),
                )
                .unwrap());
            made.push((n, params));
        }
        assert_eq!(made.len(), 3);
        let trials = s.trials().unwrap();
        assert_eq!(trials.len(), 3);
        assert_eq!(trials[2].trial.value, Some(2.0));
        assert_eq!(trials[2].trial.state, TrialState::Complete);
        assert_eq!(trials[2].attrs["k"], 2);
        assert_eq!(
            trials[1].trial.params["x"],
            ParamValue::Float(1.0),
            "params round-trip"
        );
        assert_eq!(
            trials[1].trial.intermediate,
            BTreeMap::from([(1, 0.5)]),
            "NaN is not stored"
        );
        // A finished trial is not finished again.
        assert!(!s
            .finish(0, TrialState::Failed, None, None, &serde_json::json!({}))
            .unwrap());
        // The same name and space joins the study; a different space is refused.
        let (mut again, stored_name, stored_space) =
            Storage::open_existing(loc, Some(name)).unwrap();
        assert_eq!((stored_name.as_str(), &stored_space), (name, &space));
        assert_eq!(again.trials().unwrap(), trials);
        let mut joined = Storage::open(loc, name, &space).unwrap();
        assert_eq!(joined.trials().unwrap().len(), 3);
        let e = Storage::open(loc, name, &serde_json::json!({})).unwrap_err();
        assert!(e.contains("different search space"), "{e}");
    }

    fn a_dead_local_worker_is_reaped_at_once_and_a_live_one_never(loc: &Location, name: &str) {
        let mut s = Storage::open(loc, name, &serde_json::json!({})).unwrap();
        s.create_trial(5, &worker_id(), None, |_, _| BTreeMap::new())
            .unwrap()
            .unwrap();
        s.create_trial(
            5,
            &format!("{}:{}", hostname(), u32::MAX - 7),
            None,
            |_, _| BTreeMap::new(),
        )
        .unwrap()
        .unwrap();
        s.execute_raw("UPDATE TRIALS SET heartbeat = 0");
        let reaped = s.reap_stale().unwrap();
        assert_eq!(reaped.iter().map(|r| r.0).collect::<Vec<_>>(), vec![1]);
    }

    fn stale_running_trials_are_reaped_and_not_counted(loc: &Location, name: &str) {
        let mut s = Storage::open(loc, name, &serde_json::json!({})).unwrap();
        s.create_trial(2, "elsewhere:1", None, |_, _| BTreeMap::new())
            .unwrap()
            .unwrap();
        assert!(s.reap_stale().unwrap().is_empty(), "fresh heartbeat");
        s.execute_raw("UPDATE TRIALS SET heartbeat = 0");
        // A worker's heartbeat keeps its trials alive.
        s.heartbeat_worker("elsewhere:1").unwrap();
        assert!(s.reap_stale().unwrap().is_empty(), "refreshed heartbeat");
        s.execute_raw("UPDATE TRIALS SET heartbeat = 0");
        let reaped = s.reap_stale().unwrap();
        assert_eq!(reaped.len(), 1);
        assert!(s.reap_stale().unwrap().is_empty(), "reaped once");
        // The reaped trial's late finish does not overwrite it.
        assert!(!s
            .finish(
                0,
                TrialState::Complete,
                Some(1.0),
                None,
                &serde_json::json!({})
            )
            .unwrap());
        // The interrupted trial does not use up the budget.
        assert!(s
            .create_trial(2, "w", Some(0), |_, _| BTreeMap::new())
            .unwrap()
            .is_some());
        assert!(s
            .create_trial(2, "w", None, |_, _| BTreeMap::new())
            .unwrap()
            .is_some());
        assert!(s
            .create_trial(2, "w", None, |_, _| BTreeMap::new())
            .unwrap()
            .is_none());
    }

    /// Two workers (threads with their own connections) create trials at once until the
    /// budget: every number is handed out once, the numbers are contiguous, and each
    /// proposal saw every earlier trial.
    fn concurrent_creators_never_share_a_number(loc: &Location, name: &str) {
        const BUDGET: usize = 40;
        let space = serde_json::json!({"concurrent": true});
        Storage::open(loc, name, &space).unwrap();
        let made: Vec<Vec<u64>> = std::thread::scope(|scope| {
            let handles: Vec<_> = (0..2)
                .map(|w| {
                    let space = &space;
                    scope.spawn(move || {
                        let mut s = Storage::open(loc, name, space).unwrap();
                        let mut mine = Vec::new();
                        while let Some((n, _)) = s
                            .create_trial(BUDGET, &format!("w{w}"), None, |trials, n| {
                                assert_eq!(trials.len() as u64, n, "the proposal sees every trial");
                                BTreeMap::from([("x".to_string(), ParamValue::Float(n as f64))])
                            })
                            .unwrap()
                        {
                            s.report(n, 0, n as f64).unwrap();
                            s.finish(n, TrialState::Complete, Some(1.0), None, &Value::Null)
                                .unwrap();
                            mine.push(n);
                        }
                        mine
                    })
                })
                .collect();
            handles.into_iter().map(|h| h.join().unwrap()).collect()
        });
        let mut all: Vec<u64> = made.concat();
        all.sort_unstable();
        assert_eq!(all, (0..BUDGET as u64).collect::<Vec<_>>());
        let mut s = Storage::open(loc, name, &space).unwrap();
        let trials = s.trials().unwrap();
        assert_eq!(trials.len(), BUDGET);
        assert!(trials.iter().all(|t| t.trial.state == TrialState::Complete));
    }

    #[test]
    fn sqlite_budget_numbering_and_round_trip() {
        let loc = db("a");
        budget_numbering_and_round_trip(&loc, "s");
        cleanup(&loc);
    }

    #[test]
    fn sqlite_a_dead_local_worker_is_reaped_at_once_and_a_live_one_never() {
        let loc = db("c");
        a_dead_local_worker_is_reaped_at_once_and_a_live_one_never(&loc, "s");
        cleanup(&loc);
    }

    #[test]
    fn sqlite_stale_running_trials_are_reaped_and_not_counted() {
        let loc = db("b");
        stale_running_trials_are_reaped_and_not_counted(&loc, "s");
        cleanup(&loc);
    }

    #[test]
    fn sqlite_concurrent_creators_never_share_a_number() {
        let loc = db("d");
        concurrent_creators_never_share_a_number(&loc, "s");
        cleanup(&loc);
    }

    #[test]
    fn postgres_budget_numbering_and_round_trip() {
        if let Some(loc) = postgres() {
            budget_numbering_and_round_trip(&loc, &unique("round-trip"));
        }
    }

    #[test]
    fn postgres_a_dead_local_worker_is_reaped_at_once_and_a_live_one_never() {
        if let Some(loc) = postgres() {
            a_dead_local_worker_is_reaped_at_once_and_a_live_one_never(&loc, &unique("dead"));
        }
    }

    #[test]
    fn postgres_stale_running_trials_are_reaped_and_not_counted() {
        if let Some(loc) = postgres() {
            stale_running_trials_are_reaped_and_not_counted(&loc, &unique("stale"));
        }
    }

    #[test]
    fn postgres_concurrent_creators_never_share_a_number() {
        if let Some(loc) = postgres() {
            concurrent_creators_never_share_a_number(&loc, &unique("concurrent"));
        }
    }

    #[test]
    fn storage_arguments_parse_and_passwords_stay_out_of_messages() {
        let l = Location::parse("postgres://tuna:secret@db.example:5433/studies").unwrap();
        assert!(l.is_shared());
        assert_eq!(l.to_string(), "postgres://tuna:***@db.example:5433/studies");
        assert_eq!(l.as_arg(), "postgres://tuna:secret@db.example:5433/studies");
        assert_eq!(
            Location::parse("postgresql://me@localhost/db")
                .unwrap()
                .to_string(),
            "postgresql://me@localhost/db"
        );
        assert_eq!(
            Location::parse("sqlite:///tmp/x.db").unwrap(),
            Location::Sqlite(PathBuf::from("/tmp/x.db"))
        );
        assert!(l.same_database(
            &Location::parse("postgres://tuna:other@db.example:5433/studies").unwrap()
        ));
        assert!(!l.same_database(
            &Location::parse("postgres://tuna:secret@db.example:5433/other").unwrap()
        ));
        assert!(Location::parse("mysql://x@y/z").is_err());
        assert!(Location::parse("").is_err());
    }
}
