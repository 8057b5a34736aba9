//! [`InMemoryStorage`]: a study's trials in this process's memory (Optuna's
//! `InMemoryStorage`), with the semantics of the database backends: one lock serializes every
//! operation, as the databases' transactions do.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex, MutexGuard};

use serde_json::Value;

use super::{check_space, now, worker_dead, Location, Propose, Storage, TrialRecord, INTERRUPTED};
use crate::error::{Result, TuneError};
use crate::trial::{FrozenTrial, Params, TrialState};

/// A database in memory: clone it to share it (every clone is the same database); two
/// separately created ones are different databases.
#[derive(Clone, Debug, Default)]
pub struct MemoryDatabase(Arc<Mutex<Vec<Study>>>);

impl MemoryDatabase {
    /// A new, empty database.
    pub fn new() -> MemoryDatabase {
        MemoryDatabase::default()
    }

    fn lock(&self) -> MutexGuard<'_, Vec<Study>> {
        self.0.lock().unwrap_or_else(|e| e.into_inner())
    }
}

impl PartialEq for MemoryDatabase {
    fn eq(&self, other: &Self) -> bool {
        Arc::ptr_eq(&self.0, &other.0)
    }
}

impl Eq for MemoryDatabase {}

#[derive(Debug)]
struct Study {
    name: String,
    space: Value,
    trials: Vec<Trial>,
}

#[derive(Debug)]
struct Trial {
    record: TrialRecord,
    worker: String,
    started: f64,
    heartbeat: f64,
}

/// One handle on a study in a [`MemoryDatabase`].
#[derive(Debug)]
pub struct InMemoryStorage {
    db: MemoryDatabase,
    study: usize,
    location: Location,
}

impl InMemoryStorage {
    /// Opens (creating if needed) the study `name` of `db`; as [`super::open`].
    ///
    /// # Errors
    /// The study exists with a different space.
    pub fn open(db: &MemoryDatabase, name: &str, space: &Value) -> Result<InMemoryStorage> {
        let location = Location::Memory(db.clone());
        let mut studies = db.lock();
        let study = match studies.iter().position(|s| s.name == name) {
            Some(i) => {
                check_space(&location, name, &studies[i].space, space)?;
                i
            }
            None => {
                studies.push(Study {
                    name: name.to_string(),
                    space: space.clone(),
                    trials: Vec::new(),
                });
                studies.len() - 1
            }
        };
        drop(studies);
        Ok(InMemoryStorage {
            db: db.clone(),
            study,
            location,
        })
    }

    /// Opens the study `name` (or the first one) of `db`; as [`super::open_existing`].
    ///
    /// # Errors
    /// No such study.
    pub fn open_existing(
        db: &MemoryDatabase,
        name: Option<&str>,
    ) -> Result<(InMemoryStorage, String, Value)> {
        let location = Location::Memory(db.clone());
        let studies = db.lock();
        let study = match name {
            Some(n) => studies.iter().position(|s| s.name == n),
            None => (!studies.is_empty()).then_some(0),
        }
        .ok_or_else(|| TuneError::storage(&location, "no such study"))?;
        let (name, space) = (studies[study].name.clone(), studies[study].space.clone());
        drop(studies);
        let storage = InMemoryStorage {
            db: db.clone(),
            study,
            location,
        };
        Ok((storage, name, space))
    }

    /// Runs `f` on this study's trials, under the database's lock.
    fn with<T>(&self, f: impl FnOnce(&mut Vec<Trial>) -> T) -> T {
        f(&mut self.db.lock()[self.study].trials)
    }
}

fn running(trials: &mut [Trial], number: u64) -> Option<&mut Trial> {
    trials
        .iter_mut()
        .find(|t| t.record.trial.number == number && t.record.trial.state == TrialState::Running)
}

impl Storage for InMemoryStorage {
    fn location(&self) -> &Location {
        &self.location
    }

    fn reap_stale(&mut self) -> Result<Vec<(u64, Params)>> {
        Ok(self.with(|trials| {
            let mut out = Vec::new();
            for t in trials.iter_mut() {
                let r = &mut t.record;
                if r.trial.state == TrialState::Running && worker_dead(Some(&t.worker), t.heartbeat)
                {
                    r.trial.state = TrialState::Failed;
                    r.error = Some(INTERRUPTED.to_string());
                    r.seconds = Some(now() - t.started);
                    out.push((r.trial.number, r.trial.params.clone()));
                }
            }
            out
        }))
    }

    fn create_trial(
        &mut self,
        budget: usize,
        worker: &str,
        _retry_of: Option<u64>,
        propose: Propose<'_>,
    ) -> Result<Option<(u64, Params)>> {
        Ok(self.with(|trials| {
            if trials.iter().filter(|t| !t.record.interrupted()).count() >= budget {
                return None;
            }
            let number = trials.len() as u64;
            let others: Vec<FrozenTrial> = trials.iter().map(|t| t.record.trial.clone()).collect();
            let params = propose(&others, number);
            let t = now();
            trials.push(Trial {
                record: TrialRecord {
                    trial: FrozenTrial {
                        number,
                        state: TrialState::Running,
                        params: params.clone(),
                        value: None,
                        intermediate: BTreeMap::new(),
                    },
                    error: None,
                    attrs: Value::Object(Default::default()),
                    seconds: None,
                },
                worker: worker.to_string(),
                started: t,
                heartbeat: t,
            });
            Some((number, params))
        }))
    }

    fn set_intermediate(&mut self, number: u64, step: u64, value: f64) -> Result<()> {
        self.with(|trials| {
            if let Some(t) = trials.iter_mut().find(|t| t.record.trial.number == number) {
                t.record.trial.intermediate.insert(step, value);
            }
        });
        Ok(())
    }

    fn heartbeat(&mut self, number: u64) -> Result<()> {
        self.with(|trials| {
            if let Some(t) = trials.iter_mut().find(|t| t.record.trial.number == number) {
                t.heartbeat = now();
            }
        });
        Ok(())
    }

    fn heartbeat_worker(&mut self, worker: &str) -> Result<()> {
        self.with(|trials| {
            for t in trials.iter_mut() {
                if t.worker == worker && t.record.trial.state == TrialState::Running {
                    t.heartbeat = now();
                }
            }
        });
        Ok(())
    }

    fn finish(
        &mut self,
        number: u64,
        state: TrialState,
        value: Option<f64>,
        error: Option<&str>,
        attrs: &Value,
    ) -> Result<bool> {
        Ok(self.with(|trials| match running(trials, number) {
            None => false,
            Some(t) => {
                let r = &mut t.record;
                r.trial.state = state;
                r.trial.value = value.filter(|v| v.is_finite());
                r.error = error.map(str::to_string);
                r.attrs = attrs.clone();
                r.seconds = Some(now() - t.started);
                true
            }
        }))
    }

    fn trials(&mut self) -> Result<Vec<TrialRecord>> {
        Ok(self.with(|trials| trials.iter().map(|t| t.record.clone()).collect()))
    }

    #[cfg(test)]
    fn expire_heartbeats(&mut self) {
        self.with(|trials| trials.iter_mut().for_each(|t| t.heartbeat = 0.0));
    }
}
