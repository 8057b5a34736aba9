//! [`Storage`]: a study in an embedded SQLite database (WAL mode, every change in a
//! transaction), shared by the worker threads of one `tuna tune` and by several processes on
//! one machine. Trial numbers are handed out inside `BEGIN IMMEDIATE` transactions, so no two
//! workers ever run the same trial.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use rusqlite::{params, Connection, OptionalExtension, TransactionBehavior};
use serde_json::Value;

use crate::trial::{FrozenTrial, ParamValue, TrialState};

/// Seconds without a heartbeat after which a running trial is presumed dead (its worker
/// crashed or was killed).
pub const STALE_AFTER_SECONDS: f64 = 120.0;

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

/// A study's storage.
#[derive(Debug)]
pub struct Storage {
    conn: Connection,
    path: PathBuf,
    study: i64,
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

fn db_err(path: &Path, e: impl std::fmt::Display) -> String {
    format!("{}: {e}", path.display())
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

impl Storage {
    /// Opens (creating if needed) the database at `path` and the study `name` in it. A new
    /// study records `space` (the search-space file's JSON); an existing one must have been
    /// created from the same space.
    ///
    /// # Errors
    /// The database cannot be opened, or the study exists with a different space.
    pub fn open(path: &Path, name: &str, space: &Value) -> Result<Storage, String> {
        let conn = Connection::open(path).map_err(|e| db_err(path, e))?;
        conn.busy_timeout(Duration::from_secs(30))
            .map_err(|e| db_err(path, e))?;
        conn.pragma_update(None, "journal_mode", "WAL")
            .map_err(|e| db_err(path, e))?;
        conn.pragma_update(None, "synchronous", "NORMAL")
            .map_err(|e| db_err(path, e))?;
        conn.execute_batch(
            "CREATE TABLE IF NOT EXISTS studies (
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
                 value REAL NOT NULL, PRIMARY KEY(trial, step));",
        )
        .map_err(|e| db_err(path, e))?;
        let space_text = space.to_string();
        let existing: Option<(i64, String)> = conn
            .query_row(
                "SELECT id, space FROM studies WHERE name = ?1",
                params![name],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )
            .optional()
            .map_err(|e| db_err(path, e))?;
        let study = match existing {
            Some((id, stored)) => {
                let stored: Value = serde_json::from_str(&stored).unwrap_or(Value::Null);
                if &stored != space {
                    return Err(db_err(
                        path,
                        format!("study `{name}` exists with a different search space; use another --study name or the original space file"),
                    ));
                }
                id
            }
            None => {
                conn.execute(
                    "INSERT OR IGNORE INTO studies (name, space, created) VALUES (?1, ?2, ?3)",
                    params![name, space_text, now()],
                )
                .map_err(|e| db_err(path, e))?;
                conn.query_row(
                    "SELECT id FROM studies WHERE name = ?1",
                    params![name],
                    |r| r.get(0),
                )
                .map_err(|e| db_err(path, e))?
            }
        };
        Ok(Storage {
            conn,
            path: path.to_path_buf(),
            study,
        })
    }

    /// Opens an existing study by name (for `tuna study show`).
    ///
    /// # Errors
    /// No such database or study.
    pub fn open_existing(
        path: &Path,
        name: Option<&str>,
    ) -> Result<(Storage, String, Value), String> {
        if !path.is_file() {
            return Err(db_err(path, "no study database here"));
        }
        let conn = Connection::open(path).map_err(|e| db_err(path, e))?;
        conn.busy_timeout(Duration::from_secs(30))
            .map_err(|e| db_err(path, e))?;
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
        .map_err(|e| db_err(path, e))?;
        let (study, name, space) = row.ok_or_else(|| db_err(path, "no such study"))?;
        let space = serde_json::from_str(&space).map_err(|e| db_err(path, e))?;
        Ok((
            Storage {
                conn,
                path: path.to_path_buf(),
                study,
            },
            name,
            space,
        ))
    }

    /// The database file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Marks running trials without a recent heartbeat as failed ("interrupted") and returns
    /// their parameters, so the caller can run them again.
    ///
    /// # Errors
    /// A database error.
    pub fn reap_stale(&mut self) -> Result<Vec<(u64, BTreeMap<String, ParamValue>)>, String> {
        let cutoff = now() - STALE_AFTER_SECONDS;
        let host = format!("{}:", hostname());
        let tx = self
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .map_err(|e| db_err(&self.path, e))?;
        let mut out = Vec::new();
        {
            let mut q = tx
                .prepare(
                    "SELECT id, number, params, worker, heartbeat FROM trials
                     WHERE study = ?1 AND state = 'running'",
                )
                .map_err(|e| db_err(&self.path, e))?;
            let rows = q
                .query_map(params![self.study], |r| {
                    Ok((
                        r.get::<_, i64>(0)?,
                        r.get::<_, i64>(1)?,
                        r.get::<_, String>(2)?,
                        r.get::<_, Option<String>>(3)?,
                        r.get::<_, f64>(4)?,
                    ))
                })
                .map_err(|e| db_err(&self.path, e))?;
            for row in rows {
                let (id, number, p, worker, heartbeat) = row.map_err(|e| db_err(&self.path, e))?;
                // On this machine a worker is dead when its process is; elsewhere when its
                // heartbeat is old.
                let local_pid = worker
                    .as_deref()
                    .and_then(|w| w.strip_prefix(&host))
                    .and_then(|pid| pid.parse::<u32>().ok());
                let dead = match local_pid {
                    Some(pid) if Path::new("/proc/self").exists() => {
                        !Path::new(&format!("/proc/{pid}")).exists()
                    }
                    _ => heartbeat < cutoff,
                };
                if !dead {
                    continue;
                }
                tx.execute(
                    "UPDATE trials SET state = 'failed', error = 'interrupted: its worker stopped without finishing it (retried)', finished = ?2 WHERE id = ?1",
                    params![id, now()],
                )
                .map_err(|e| db_err(&self.path, e))?;
                out.push((number as u64, serde_json::from_str(&p).unwrap_or_default()));
            }
        }
        tx.commit().map_err(|e| db_err(&self.path, e))?;
        Ok(out)
    }

    /// Atomically checks the budget and creates the next trial: `None` when `budget` trials
    /// (finished or running, retried ones not counted twice) already exist. `propose` gets
    /// the trials so far and the new trial's number, and returns its parameters.
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
        let path = self.path.clone();
        let tx = self
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .map_err(|e| db_err(&path, e))?;
        let counted: i64 = tx
            .query_row(
                "SELECT COUNT(*) FROM trials WHERE study = ?1 AND NOT (state = 'failed' AND error LIKE 'interrupted:%')",
                params![study],
                |r| r.get(0),
            )
            .map_err(|e| db_err(&path, e))?;
        if counted as usize >= budget {
            return Ok(None);
        }
        let next: i64 = tx
            .query_row(
                "SELECT COALESCE(MAX(number) + 1, 0) FROM trials WHERE study = ?1",
                params![study],
                |r| r.get(0),
            )
            .map_err(|e| db_err(&path, e))?;
        let trials = load_trials(&tx, study, &path)?
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
                retry_of.map(|r| r as i64)
            ],
        )
        .map_err(|e| db_err(&path, e))?;
        tx.commit().map_err(|e| db_err(&path, e))?;
        Ok(Some((next as u64, params_map)))
    }

    fn trial_id(&self, number: u64) -> Result<i64, String> {
        self.conn
            .query_row(
                "SELECT id FROM trials WHERE study = ?1 AND number = ?2",
                params![self.study, number as i64],
                |r| r.get(0),
            )
            .map_err(|e| db_err(&self.path, e))
    }

    /// Records the objective at `step` for a running trial (and refreshes its heartbeat).
    ///
    /// # Errors
    /// A database error.
    pub fn report(&self, number: u64, step: u64, value: f64) -> Result<(), String> {
        let id = self.trial_id(number)?;
        self.conn
            .execute(
                "INSERT OR REPLACE INTO intermediate (trial, step, value) VALUES (?1, ?2, ?3)",
                params![id, step as i64, value],
            )
            .map_err(|e| db_err(&self.path, e))?;
        self.heartbeat(number)
    }

    /// Refreshes a running trial's heartbeat.
    ///
    /// # Errors
    /// A database error.
    pub fn heartbeat(&self, number: u64) -> Result<(), String> {
        self.conn
            .execute(
                "UPDATE trials SET heartbeat = ?3 WHERE study = ?1 AND number = ?2",
                params![self.study, number as i64, now()],
            )
            .map_err(|e| db_err(&self.path, e))
            .map(|_| ())
    }

    /// Finishes a trial.
    ///
    /// # Errors
    /// A database error.
    pub fn finish(
        &self,
        number: u64,
        state: TrialState,
        value: Option<f64>,
        error: Option<&str>,
        attrs: &Value,
    ) -> Result<(), String> {
        self.conn
            .execute(
                "UPDATE trials SET state = ?3, value = ?4, error = ?5, attrs = ?6, finished = ?7
                 WHERE study = ?1 AND number = ?2",
                params![
                    self.study,
                    number as i64,
                    state_name(state),
                    value.filter(|v| v.is_finite()),
                    error,
                    attrs.to_string(),
                    now()
                ],
            )
            .map_err(|e| db_err(&self.path, e))
            .map(|_| ())
    }

    /// Every trial of the study, by number.
    ///
    /// # Errors
    /// A database error.
    pub fn trials(&self) -> Result<Vec<TrialRecord>, String> {
        load_trials(&self.conn, self.study, &self.path)
    }
}

fn load_trials(conn: &Connection, study: i64, path: &Path) -> Result<Vec<TrialRecord>, String> {
    let mut q = conn
        .prepare(
            "SELECT id, number, state, params, value, error, attrs, started, finished
             FROM trials WHERE study = ?1 ORDER BY number",
        )
        .map_err(|e| db_err(path, e))?;
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
        .map_err(|e| db_err(path, e))?;
    let mut out = Vec::new();
    let mut inter = conn
        .prepare("SELECT step, value FROM intermediate WHERE trial = ?1 ORDER BY step")
        .map_err(|e| db_err(path, e))?;
    for row in rows {
        let (id, number, state, p, value, error, attrs, started, finished) =
            row.map_err(|e| db_err(path, e))?;
        let intermediate: BTreeMap<u64, f64> = inter
            .query_map(params![id], |r| {
                Ok((r.get::<_, i64>(0)? as u64, r.get::<_, f64>(1)?))
            })
            .map_err(|e| db_err(path, e))?
            .collect::<Result<_, _>>()
            .map_err(|e| db_err(path, e))?;
        out.push(TrialRecord {
            trial: FrozenTrial {
                number: number as u64,
                state: parse_state(&state),
                params: serde_json::from_str(&p).unwrap_or_default(),
                value,
                intermediate,
            },
            error,
            attrs: serde_json::from_str(&attrs).unwrap_or(Value::Null),
            seconds: finished.map(|f| f - started),
        });
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn db(name: &str) -> PathBuf {
        let p = std::env::temp_dir().join(format!("tuna-store-{}-{name}.db", std::process::id()));
        let _ = std::fs::remove_file(&p);
        p
    }

    #[test]
    fn budget_numbering_and_round_trip() {
        let p = db("a");
        let space = serde_json::json!({"params": {"x": 1}});
        let mut s = Storage::open(&p, "s", &space).unwrap();
        let mut made = Vec::new();
        while let Some((n, params)) = s
            .create_trial(3, "w", None, |trials, n| {
                assert_eq!(trials.len() as u64, n);
                BTreeMap::from([("x".to_string(), ParamValue::Float(n as f64))])
            })
            .unwrap()
        {
            s.report(n, 1, 0.5).unwrap();
            s.finish(
                n,
                TrialState::Complete,
                Some(n as f64),
                None,
                &serde_json::json!({}),
            )
            .unwrap();
            made.push((n, params));
        }
        assert_eq!(made.len(), 3);
        let trials = s.trials().unwrap();
        assert_eq!(trials[2].trial.value, Some(2.0));
        assert_eq!(trials[1].trial.intermediate[&1], 0.5);
        // A different space under the same name is refused.
        let e = Storage::open(&p, "s", &serde_json::json!({})).unwrap_err();
        assert!(e.contains("different search space"), "{e}");
        let _ = std::fs::remove_file(&p);
    }

    #[test]
    fn a_dead_local_worker_is_reaped_at_once_and_a_live_one_never() {
        let p = db("c");
        let mut s = Storage::open(&p, "s", &serde_json::json!({})).unwrap();
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
        s.conn
            .execute("UPDATE trials SET heartbeat = 0", [])
            .unwrap();
        let reaped = s.reap_stale().unwrap();
        assert_eq!(reaped.iter().map(|r| r.0).collect::<Vec<_>>(), vec![1]);
        let _ = std::fs::remove_file(&p);
    }

    #[test]
    fn stale_running_trials_are_reaped_and_not_counted() {
        let p = db("b");
        let space = serde_json::json!({});
        let mut s = Storage::open(&p, "s", &space).unwrap();
        s.create_trial(2, "elsewhere:1", None, |_, _| BTreeMap::new())
            .unwrap()
            .unwrap();
        assert!(s.reap_stale().unwrap().is_empty(), "fresh heartbeat");
        s.conn
            .execute("UPDATE trials SET heartbeat = 0", [])
            .unwrap();
        let reaped = s.reap_stale().unwrap();
        assert_eq!(reaped.len(), 1);
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
        let _ = std::fs::remove_file(&p);
    }
}
