//! [`PostgresStorage`]: a study in a PostgreSQL database, shared by workers on many machines
//! (Optuna's RDB storage). Trial creation and reaping lock the study's row (`SELECT ... FOR
//! UPDATE`), so they are serialized across machines; tables are prefixed `tuna_`.

use std::collections::BTreeMap;
use std::time::Duration;

use postgres::{Client, GenericClient};
use serde_json::Value;

use super::{
    check_space, now, params_text, state_name, worker_dead, Location, Propose, Storage,
    TrialRecord, TrialRow, INTERRUPTED,
};
use crate::error::{Result, TuneError};
use crate::trial::{FrozenTrial, Params, TrialState};

const SCHEMA: &str = "CREATE TABLE IF NOT EXISTS tuna_studies (
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

/// The advisory lock key under which workers create the schema (concurrent `CREATE TABLE IF
/// NOT EXISTS` can otherwise fail): "tuna" in ASCII.
const SCHEMA_LOCK: i64 = 0x7475_6e61;

/// A study in a PostgreSQL database: one connection.
pub struct PostgresStorage {
    client: Client,
    location: Location,
    study: i64,
}

impl std::fmt::Debug for PostgresStorage {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PostgresStorage")
            .field("location", &self.location.to_string())
            .field("study", &self.study)
            .finish()
    }
}

/// A PostgreSQL error with its server-side detail (the `Display` of `postgres::Error` alone
/// often says just "db error").
fn detail(e: postgres::Error) -> String {
    match e.as_db_error() {
        Some(db) => format!("{e}: {}", db.message()),
        None => match std::error::Error::source(&e) {
            Some(src) => format!("{e}: {src}"),
            None => e.to_string(),
        },
    }
}

fn connect(location: &Location, url: &str) -> Result<Client> {
    let mut config: postgres::Config = url.parse().map_err(|e| TuneError::storage(location, e))?;
    if config.get_connect_timeout().is_none() {
        config.connect_timeout(Duration::from_secs(30));
    }
    if config.get_application_name().is_none() {
        config.application_name("tuna");
    }
    config
        .connect(postgres::NoTls)
        .map_err(|e| TuneError::storage(location, detail(e)))
}

impl PostgresStorage {
    /// Connects to `url`, creates the schema if needed and opens (creating if needed) the
    /// study `name`; as [`super::open`].
    ///
    /// # Errors
    /// No connection, or the study exists with another space.
    pub fn open(location: &Location, url: &str, name: &str, space: &Value) -> Result<Self> {
        let mut client = connect(location, url)?;
        let e = |e| TuneError::storage(location, detail(e));
        let mut tx = client.transaction().map_err(e)?;
        // Serializes schema creation and the study's insertion across processes.
        tx.execute("SELECT pg_advisory_xact_lock($1)", &[&SCHEMA_LOCK])
            .map_err(e)?;
        tx.batch_execute(SCHEMA).map_err(e)?;
        tx.execute(
            "INSERT INTO tuna_studies (name, space, created) VALUES ($1, $2, $3)
             ON CONFLICT (name) DO NOTHING",
            &[&name, &space.to_string(), &now()],
        )
        .map_err(e)?;
        let row = tx
            .query_one(
                "SELECT id, space FROM tuna_studies WHERE name = $1",
                &[&name],
            )
            .map_err(e)?;
        let (study, stored): (i64, String) = (row.get(0), row.get(1));
        let stored: Value = serde_json::from_str(&stored).unwrap_or(Value::Null);
        check_space(location, name, &stored, space)?;
        tx.commit().map_err(e)?;
        Ok(PostgresStorage {
            client,
            location: location.clone(),
            study,
        })
    }

    /// Opens the study `name` (or the first one) of the database at `url`; as
    /// [`super::open_existing`].
    ///
    /// # Errors
    /// No connection, no Tuna tables, or no such study.
    pub fn open_existing(
        location: &Location,
        url: &str,
        name: Option<&str>,
    ) -> Result<(Self, String, Value)> {
        let mut client = connect(location, url)?;
        let e = |e| TuneError::storage(location, detail(e));
        let exists: bool = client
            .query_one("SELECT to_regclass('tuna_studies') IS NOT NULL", &[])
            .map_err(e)?
            .get(0);
        if !exists {
            return Err(TuneError::storage(
                location,
                "no Tuna study in this database",
            ));
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
        .map_err(e)?
        .ok_or_else(|| TuneError::storage(location, "no such study"))?;
        let (study, name, space): (i64, String, String) = (row.get(0), row.get(1), row.get(2));
        let space = serde_json::from_str(&space).map_err(|e| TuneError::storage(location, e))?;
        let storage = PostgresStorage {
            client,
            location: location.clone(),
            study,
        };
        Ok((storage, name, space))
    }
}

/// Every trial of `study`, by number, with its intermediate values.
fn read_trials(
    client: &mut impl GenericClient,
    study: i64,
) -> Result<Vec<TrialRecord>, postgres::Error> {
    let mut inter: BTreeMap<i64, BTreeMap<u64, f64>> = BTreeMap::new();
    for r in client.query(
        "SELECT i.trial, i.step, i.value FROM tuna_intermediate i
         JOIN tuna_trials t ON t.id = i.trial WHERE t.study = $1",
        &[&study],
    )? {
        inter
            .entry(r.get::<_, i64>(0))
            .or_default()
            .insert(r.get::<_, i64>(1) as u64, r.get(2));
    }
    let rows = client.query(
        "SELECT id, number, state, params, value, error, attrs, started, finished
         FROM tuna_trials WHERE study = $1 ORDER BY number",
        &[&study],
    )?;
    Ok(rows
        .iter()
        .map(|r| {
            let row = TrialRow {
                number: r.get(1),
                state: r.get(2),
                params: r.get(3),
                value: r.get(4),
                error: r.get(5),
                attrs: r.get(6),
                started: r.get(7),
                finished: r.get(8),
            };
            row.into_record(inter.remove(&r.get::<_, i64>(0)).unwrap_or_default())
        })
        .collect())
}

impl Storage for PostgresStorage {
    fn location(&self) -> &Location {
        &self.location
    }

    fn reap_stale(&mut self) -> Result<Vec<(u64, Params)>> {
        let e = |e| TuneError::storage(&self.location, detail(e));
        let mut tx = self.client.transaction().map_err(e)?;
        // The same lock as trial creation: a reaped trial is retried exactly once.
        tx.execute(
            "SELECT id FROM tuna_studies WHERE id = $1 FOR UPDATE",
            &[&self.study],
        )
        .map_err(e)?;
        let running = tx
            .query(
                "SELECT id, number, params, worker, heartbeat FROM tuna_trials
                 WHERE study = $1 AND state = 'running' ORDER BY number",
                &[&self.study],
            )
            .map_err(e)?;
        let mut out = Vec::new();
        for row in running {
            let (id, number, p, worker, heartbeat): (i64, i64, String, Option<String>, f64) =
                (row.get(0), row.get(1), row.get(2), row.get(3), row.get(4));
            if worker_dead(worker.as_deref(), heartbeat) {
                tx.execute(
                    "UPDATE tuna_trials SET state = 'failed', error = $2, finished = $3
                     WHERE id = $1",
                    &[&id, &INTERRUPTED, &now()],
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
        let e = |e| TuneError::storage(&self.location, detail(e));
        let study = self.study;
        let mut tx = self.client.transaction().map_err(e)?;
        // Serializes creators: the next creator waits here until this transaction commits,
        // then (READ COMMITTED) sees the trial it inserted.
        tx.execute(
            "SELECT id FROM tuna_studies WHERE id = $1 FOR UPDATE",
            &[&study],
        )
        .map_err(e)?;
        let row = tx
            .query_one(
                "SELECT COUNT(*) FILTER (WHERE NOT (state = 'failed' AND error LIKE 'interrupted:%')),
                        COALESCE(MAX(number) + 1, 0)
                 FROM tuna_trials WHERE study = $1",
                &[&study],
            )
            .map_err(e)?;
        let (counted, next): (i64, i64) = (row.get(0), row.get(1));
        if counted as usize >= budget {
            return Ok(None);
        }
        let trials: Vec<FrozenTrial> = read_trials(&mut tx, study)
            .map_err(e)?
            .into_iter()
            .map(|t| t.trial)
            .collect();
        let params_map = propose(&trials, next as u64);
        tx.execute(
            "INSERT INTO tuna_trials (study, number, state, params, worker, started, heartbeat, retry_of)
             VALUES ($1, $2, 'running', $3, $4, $5, $5, $6)",
            &[
                &study,
                &next,
                &params_text(&params_map),
                &worker,
                &now(),
                &retry_of.map(|r| r as i64),
            ],
        )
        .map_err(e)?;
        tx.commit().map_err(e)?;
        Ok(Some((next as u64, params_map)))
    }

    fn set_intermediate(&mut self, number: u64, step: u64, value: f64) -> Result<()> {
        let e = |e| TuneError::storage(&self.location, detail(e));
        self.client
            .execute(
                "INSERT INTO tuna_intermediate (trial, step, value)
                 SELECT id, $3::BIGINT, $4::DOUBLE PRECISION FROM tuna_trials
                 WHERE study = $1 AND number = $2
                 ON CONFLICT (trial, step) DO UPDATE SET value = EXCLUDED.value",
                &[&self.study, &(number as i64), &(step as i64), &value],
            )
            .map(|_| ())
            .map_err(e)
    }

    fn heartbeat(&mut self, number: u64) -> Result<()> {
        let e = |e| TuneError::storage(&self.location, detail(e));
        self.client
            .execute(
                "UPDATE tuna_trials SET heartbeat = $3 WHERE study = $1 AND number = $2",
                &[&self.study, &(number as i64), &now()],
            )
            .map(|_| ())
            .map_err(e)
    }

    fn heartbeat_worker(&mut self, worker: &str) -> Result<()> {
        let e = |e| TuneError::storage(&self.location, detail(e));
        self.client
            .execute(
                "UPDATE tuna_trials SET heartbeat = $3
                 WHERE study = $1 AND worker = $2 AND state = 'running'",
                &[&self.study, &worker, &now()],
            )
            .map(|_| ())
            .map_err(e)
    }

    fn finish(
        &mut self,
        number: u64,
        state: TrialState,
        value: Option<f64>,
        error: Option<&str>,
        attrs: &Value,
    ) -> Result<bool> {
        let e = |e| TuneError::storage(&self.location, detail(e));
        let changed = self
            .client
            .execute(
                "UPDATE tuna_trials SET state = $3, value = $4, error = $5, attrs = $6, finished = $7
                 WHERE study = $1 AND number = $2 AND state = 'running'",
                &[
                    &self.study,
                    &(number as i64),
                    &state_name(state),
                    &value.filter(|v| v.is_finite()),
                    &error,
                    &attrs.to_string(),
                    &now(),
                ],
            )
            .map_err(e)?;
        Ok(changed > 0)
    }

    fn trials(&mut self) -> Result<Vec<TrialRecord>> {
        let e = |e| TuneError::storage(&self.location, detail(e));
        read_trials(&mut self.client, self.study).map_err(e)
    }

    #[cfg(test)]
    fn expire_heartbeats(&mut self) {
        self.client
            .execute(
                "UPDATE tuna_trials SET heartbeat = 0 WHERE study = $1",
                &[&self.study],
            )
            .unwrap();
    }
}
