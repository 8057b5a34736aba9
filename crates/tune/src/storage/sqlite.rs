//! [`SqliteStorage`]: a study in an embedded SQLite database file (WAL mode, every change in a
//! transaction; trial numbers handed out inside `BEGIN IMMEDIATE` transactions), shared by
//! the worker threads and processes of one machine.

use std::collections::BTreeMap;
use std::path::Path;
use std::time::Duration;

use rusqlite::{params, Connection, OptionalExtension, TransactionBehavior};
use serde_json::Value;

use super::{
    check_space, now, params_text, state_name, worker_dead, Location, Propose, Storage,
    TrialRecord, TrialRow, INTERRUPTED,
};
use crate::error::{Result, TuneError};
use crate::trial::{FrozenTrial, Params, TrialState};

const SCHEMA: &str = "CREATE TABLE IF NOT EXISTS studies (
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

/// A study in an SQLite database file: one connection.
pub struct SqliteStorage {
    conn: Connection,
    location: Location,
    study: i64,
}

impl std::fmt::Debug for SqliteStorage {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SqliteStorage")
            .field("location", &self.location.to_string())
            .field("study", &self.study)
            .finish()
    }
}

fn connect(location: &Location, path: &Path) -> Result<Connection> {
    let e = |e: rusqlite::Error| TuneError::storage(location, e);
    let conn = Connection::open(path).map_err(e)?;
    conn.busy_timeout(Duration::from_secs(30)).map_err(e)?;
    Ok(conn)
}

fn study_row(
    conn: &Connection,
    name: Option<&str>,
) -> rusqlite::Result<Option<(i64, String, String)>> {
    let row = |r: &rusqlite::Row<'_>| Ok((r.get(0)?, r.get(1)?, r.get(2)?));
    match name {
        Some(n) => conn.query_row(
            "SELECT id, name, space FROM studies WHERE name = ?1",
            params![n],
            row,
        ),
        None => conn.query_row(
            "SELECT id, name, space FROM studies ORDER BY id LIMIT 1",
            [],
            row,
        ),
    }
    .optional()
}

impl SqliteStorage {
    /// Opens (creating if needed) the database file `path` and the study `name` in it; as
    /// [`super::open`].
    ///
    /// # Errors
    /// The file cannot be opened as a database, or the study exists with another space.
    pub fn open(location: &Location, path: &Path, name: &str, space: &Value) -> Result<Self> {
        let e = |e: rusqlite::Error| TuneError::storage(location, e);
        let conn = connect(location, path)?;
        conn.pragma_update(None, "journal_mode", "WAL").map_err(e)?;
        conn.pragma_update(None, "synchronous", "NORMAL")
            .map_err(e)?;
        conn.execute_batch(SCHEMA).map_err(e)?;
        conn.execute(
            "INSERT OR IGNORE INTO studies (name, space, created) VALUES (?1, ?2, ?3)",
            params![name, space.to_string(), now()],
        )
        .map_err(e)?;
        let (study, _, stored) = study_row(&conn, Some(name))
            .map_err(e)?
            .ok_or_else(|| TuneError::storage(location, "the study vanished while opening"))?;
        let stored: Value = serde_json::from_str(&stored).unwrap_or(Value::Null);
        check_space(location, name, &stored, space)?;
        Ok(SqliteStorage {
            conn,
            location: location.clone(),
            study,
        })
    }

    /// Opens the study `name` (or the first one) of an existing database file; as
    /// [`super::open_existing`].
    ///
    /// # Errors
    /// No such file or study.
    pub fn open_existing(
        location: &Location,
        path: &Path,
        name: Option<&str>,
    ) -> Result<(Self, String, Value)> {
        if !path.is_file() {
            return Err(TuneError::storage(location, "no study database here"));
        }
        let conn = connect(location, path)?;
        let (study, name, space) = study_row(&conn, name)
            .map_err(|e| TuneError::storage(location, e))?
            .ok_or_else(|| TuneError::storage(location, "no such study"))?;
        let space = serde_json::from_str(&space).map_err(|e| TuneError::storage(location, e))?;
        let storage = SqliteStorage {
            conn,
            location: location.clone(),
            study,
        };
        Ok((storage, name, space))
    }

    fn err(&self) -> impl Fn(rusqlite::Error) -> TuneError + '_ {
        |e| TuneError::storage(&self.location, e)
    }
}

/// Every trial of `study`, by number, with its intermediate values.
fn read_trials(conn: &Connection, study: i64) -> rusqlite::Result<Vec<TrialRecord>> {
    let mut inter: BTreeMap<i64, BTreeMap<u64, f64>> = BTreeMap::new();
    let mut q = conn.prepare(
        "SELECT i.trial, i.step, i.value FROM intermediate i
         JOIN trials t ON t.id = i.trial WHERE t.study = ?1",
    )?;
    let rows = q.query_map(params![study], |r| {
        Ok((
            r.get::<_, i64>(0)?,
            r.get::<_, i64>(1)?,
            r.get::<_, f64>(2)?,
        ))
    })?;
    for row in rows {
        let (trial, step, value) = row?;
        inter.entry(trial).or_default().insert(step as u64, value);
    }
    let mut q = conn.prepare(
        "SELECT id, number, state, params, value, error, attrs, started, finished
         FROM trials WHERE study = ?1 ORDER BY number",
    )?;
    let rows = q.query_map(params![study], |r| {
        let row = TrialRow {
            number: r.get(1)?,
            state: r.get(2)?,
            params: r.get(3)?,
            value: r.get(4)?,
            error: r.get(5)?,
            attrs: r.get(6)?,
            started: r.get(7)?,
            finished: r.get(8)?,
        };
        Ok((r.get::<_, i64>(0)?, row))
    })?;
    rows.map(|row| row.map(|(id, row)| row.into_record(inter.remove(&id).unwrap_or_default())))
        .collect()
}

impl Storage for SqliteStorage {
    fn location(&self) -> &Location {
        &self.location
    }

    fn reap_stale(&mut self) -> Result<Vec<(u64, Params)>> {
        let e = |e| TuneError::storage(&self.location, e);
        let tx = self
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .map_err(e)?;
        let running = {
            let mut q = tx
                .prepare(
                    "SELECT id, number, params, worker, heartbeat FROM trials
                     WHERE study = ?1 AND state = 'running'",
                )
                .map_err(e)?;
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
                .map_err(e)?;
            rows.collect::<rusqlite::Result<Vec<_>>>().map_err(e)?
        };
        let mut out = Vec::new();
        for (id, number, p, worker, heartbeat) in running {
            if worker_dead(worker.as_deref(), heartbeat) {
                tx.execute(
                    "UPDATE trials SET state = 'failed', error = ?2, finished = ?3 WHERE id = ?1",
                    params![id, INTERRUPTED, now()],
                )
                .map_err(e)?;
                out.push((number as u64, serde_json::from_str(&p).unwrap_or_default()));
            }
        }
        tx.commit().map_err(e)?;
        Ok(out)
    }

    fn create_trial(
        &mut self,
        budget: usize,
        worker: &str,
        retry_of: Option<u64>,
        propose: Propose<'_>,
    ) -> Result<Option<(u64, Params)>> {
        let e = |e| TuneError::storage(&self.location, e);
        let study = self.study;
        let tx = self
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .map_err(e)?;
        let (counted, next): (i64, i64) = tx
            .query_row(
                "SELECT COUNT(*) FILTER (WHERE NOT (state = 'failed' AND error LIKE 'interrupted:%')),
                        COALESCE(MAX(number) + 1, 0)
                 FROM trials WHERE study = ?1",
                params![study],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )
            .map_err(e)?;
        if counted as usize >= budget {
            return Ok(None);
        }
        let trials: Vec<FrozenTrial> = read_trials(&tx, study)
            .map_err(e)?
            .into_iter()
            .map(|t| t.trial)
            .collect();
        let params_map = propose(&trials, next as u64);
        tx.execute(
            "INSERT INTO trials (study, number, state, params, worker, started, heartbeat, retry_of)
             VALUES (?1, ?2, 'running', ?3, ?4, ?5, ?5, ?6)",
            params![
                study,
                next,
                params_text(&params_map),
                worker,
                now(),
                retry_of.map(|r| r as i64)
            ],
        )
        .map_err(e)?;
        tx.commit().map_err(e)?;
        Ok(Some((next as u64, params_map)))
    }

    fn set_intermediate(&mut self, number: u64, step: u64, value: f64) -> Result<()> {
        self.conn
            .execute(
                "INSERT OR REPLACE INTO intermediate (trial, step, value)
                 SELECT id, ?3, ?4 FROM trials WHERE study = ?1 AND number = ?2",
                params![self.study, number as i64, step as i64, value],
            )
            .map(|_| ())
            .map_err(self.err())
    }

    fn heartbeat(&mut self, number: u64) -> Result<()> {
        self.conn
            .execute(
                "UPDATE trials SET heartbeat = ?3 WHERE study = ?1 AND number = ?2",
                params![self.study, number as i64, now()],
            )
            .map(|_| ())
            .map_err(self.err())
    }

    fn heartbeat_worker(&mut self, worker: &str) -> Result<()> {
        self.conn
            .execute(
                "UPDATE trials SET heartbeat = ?3
                 WHERE study = ?1 AND worker = ?2 AND state = 'running'",
                params![self.study, worker, now()],
            )
            .map(|_| ())
            .map_err(self.err())
    }

    fn finish(
        &mut self,
        number: u64,
        state: TrialState,
        value: Option<f64>,
        error: Option<&str>,
        attrs: &Value,
    ) -> Result<bool> {
        let changed = self
            .conn
            .execute(
                "UPDATE trials SET state = ?3, value = ?4, error = ?5, attrs = ?6, finished = ?7
                 WHERE study = ?1 AND number = ?2 AND state = 'running'",
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
            .map_err(self.err())?;
        Ok(changed > 0)
    }

    fn trials(&mut self) -> Result<Vec<TrialRecord>> {
        read_trials(&self.conn, self.study).map_err(self.err())
    }

    #[cfg(test)]
    fn expire_heartbeats(&mut self) {
        self.conn
            .execute(
                "UPDATE trials SET heartbeat = 0 WHERE study = ?1",
                params![self.study],
            )
            .unwrap();
    }
}
