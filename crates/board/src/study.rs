//! Reading a study folder for the board through tuna-tune's storage: its trials (SQLite
//! `study.db`, or the PostgreSQL database its `storage.txt` names), its search space and
//! what `tuna study show` prints (trials table, importances, best trial), as JSON for the
//! page's interactive plots.

use std::path::Path;

use serde_json::{json, Value};
use tuna_tune::report::{best_trial, counts, importances, show_value};
use tuna_tune::search::SearchSpace;
use tuna_tune::storage::{self, Location, TrialRecord};
use tuna_tune::{Distribution, TrialState};

use crate::error::BoardError;
use crate::scan::Roots;

/// Where the trials of the study in `dir` live: the storage `storage.txt` names (its first
/// line that is not a comment), else the folder's `study.db` (as `tuna study show` reads it).
/// An SQLite file must lie inside the board's folders.
///
/// # Errors
/// `storage.txt` names no storage `tuna tune` understands, or an SQLite file elsewhere.
pub fn location(id: &str, dir: &Path, roots: &Roots) -> Result<Location, BoardError> {
    let err = |message: String| BoardError::Study {
        id: id.to_string(),
        message,
    };
    match std::fs::read_to_string(dir.join("storage.txt")) {
        Ok(text) => {
            let line = text
                .lines()
                .map(str::trim)
                .find(|l| !l.is_empty() && !l.starts_with('#'))
                .unwrap_or("");
            match Location::parse(line).map_err(|e| err(format!("storage.txt: {e}")))? {
                Location::Sqlite(p) => {
                    let file = dir.join(p);
                    if roots.check_file(&file) {
                        Ok(Location::Sqlite(file))
                    } else {
                        Err(err(
                            "storage.txt names an SQLite file outside the board's folders".into(),
                        ))
                    }
                }
                other => Ok(other),
            }
        }
        Err(_) if roots.check_file(&dir.join("study.db")) => {
            Ok(Location::Sqlite(dir.join("study.db")))
        }
        Err(_) => Err(err("study.db links outside the board's folders".into())),
    }
}

/// The study's search space and every trial.
pub struct StudyData {
    /// The search space (`space.toml` and its base).
    pub space: SearchSpace,
    /// Every trial, by number.
    pub trials: Vec<TrialRecord>,
    /// Where they live, without any password.
    pub storage: String,
}

/// Reads the study in `dir`.
///
/// # Errors
/// The space file or the storage cannot be read.
pub fn read(id: &str, dir: &Path, roots: &Roots) -> Result<StudyData, BoardError> {
    let err = |message: String| BoardError::Study {
        id: id.to_string(),
        message,
    };
    for f in ["space.toml", "base.toml"] {
        if dir.join(f).exists() && !roots.check_file(&dir.join(f)) {
            return Err(err(format!("{f} links outside the board's folders")));
        }
    }
    let space = SearchSpace::load(&dir.join("space.toml")).map_err(|e| err(e.to_string()))?;
    let loc = location(id, dir, roots)?;
    let (mut store, _, _) =
        storage::open_existing(&loc, Some(&space.name)).map_err(|e| err(e.to_string()))?;
    let trials = store.trials().map_err(|e| err(e.to_string()))?;
    Ok(StudyData {
        storage: redact(&loc.as_arg()),
        space,
        trials,
    })
}

/// A storage argument with any password replaced by `***`.
fn redact(arg: &str) -> String {
    match (arg.find("://"), arg.rfind('@')) {
        (Some(s), Some(at)) if at > s => {
            let creds = &arg[s + 3..at];
            match creds.find(':') {
                Some(c) => format!("{}{}:***{}", &arg[..s + 3], &creds[..c], &arg[at..]),
                None => arg.to_string(),
            }
        }
        _ => arg.to_string(),
    }
}

fn state_name(s: TrialState) -> &'static str {
    match s {
        TrialState::Running => "running",
        TrialState::Complete => "complete",
        TrialState::Pruned => "pruned",
        TrialState::Failed => "failed",
    }
}

/// One parameter of the space as the page draws it: its scale and range.
fn param_json(p: &tuna_tune::ParamSpec, space: &SearchSpace) -> Value {
    let (scale, low, high) = match &p.distribution {
        Distribution::Uniform { low, high } => ("linear", *low, *high),
        Distribution::LogUniform { low, high } => ("log", *low, *high),
        Distribution::Int { low, high, log, .. } => {
            (if *log { "log" } else { "linear" }, *low as f64, *high as f64)
        }
        Distribution::Choice { n } => ("choice", 0.0, (*n as f64 - 1.0).max(0.0)),
    };
    let options: Vec<String> = match &p.distribution {
        Distribution::Choice { n } => (0..*n)
            .map(|i| show_value(space, &p.name, tuna_tune::ParamValue::Choice(i)))
            .collect(),
        _ => Vec::new(),
    };
    json!({ "name": p.name, "scale": scale, "low": low, "high": high, "options": options })
}

/// The study page: the space, every trial, the counts, the best trial and the importances.
/// `run_of(number)` gives the id of a trial's run folder, if the board lists it.
pub fn page(id: &str, data: &StudyData, run_of: &dyn Fn(u64) -> Option<String>) -> Value {
    let space = &data.space;
    let trials: Vec<Value> = data
        .trials
        .iter()
        .map(|t| {
            let params: serde_json::Map<String, Value> = t
                .trial
                .params
                .iter()
                .map(|(k, v)| {
                    (
                        k.clone(),
                        json!({ "value": v.as_f64(), "shown": show_value(space, k, *v) }),
                    )
                })
                .collect();
            json!({
                "number": t.trial.number,
                "state": state_name(t.trial.state),
                "value": t.trial.value,
                "intermediate": t.trial.intermediate.iter().map(|(s, v)| [*s as f64, *v]).collect::<Vec<_>>(),
                "params": params,
                "seconds": t.seconds,
                "epochs": t.attrs["epochs"],
                "error": t.error,
                "run": run_of(t.trial.number),
            })
        })
        .collect();
    let best = best_trial(&data.trials, space.objective.direction).map(|t| t.trial.number);
    json!({
        "id": id,
        "name": space.name,
        "storage": data.storage,
        "metric": space.objective.metric,
        "direction": space.objective.direction,
        "params": space.params.iter().map(|p| param_json(p, space)).collect::<Vec<_>>(),
        "trials": trials,
        "counts": counts(&data.trials),
        "best": best,
        "importances": importances(space, &data.trials),
    })
}

/// The study's line in the runs list: name, objective, counts and best value.
pub fn brief(id: &str, data: &StudyData) -> Value {
    let best = best_trial(&data.trials, data.space.objective.direction);
    json!({
        "id": id,
        "name": data.space.name,
        "metric": data.space.objective.metric,
        "direction": data.space.objective.direction,
        "counts": counts(&data.trials),
        "best": best.map(|t| json!({ "number": t.trial.number, "value": t.trial.value })),
    })
}

/// A fingerprint of the trials (numbers, states, values, steps reported): changes whenever a
/// trial starts, reports an epoch or ends.
pub fn fingerprint(trials: &[TrialRecord]) -> String {
    trials
        .iter()
        .map(|t| {
            format!(
                "{}:{}:{:?}:{}",
                t.trial.number,
                state_name(t.trial.state),
                t.trial.value,
                t.trial.intermediate.len()
            )
        })
        .collect::<Vec<_>>()
        .join(",")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn passwords_are_not_shown() {
        assert_eq!(
            redact("postgres://tuna:secret@db:5432/x"),
            "postgres://tuna:***@db:5432/x"
        );
        assert_eq!(redact("postgres://tuna@db/x"), "postgres://tuna@db/x");
        assert_eq!(redact("/a/study.db"), "/a/study.db");
    }

    #[test]
    fn storage_txt_cannot_point_outside_the_study() {
        let d = std::env::temp_dir().join(format!("tuna-board-loc-{}", std::process::id()));
        std::fs::create_dir_all(&d).unwrap();
        let d = d.canonicalize().unwrap();
        let roots = Roots::new(std::slice::from_ref(&d)).unwrap();
        std::fs::write(d.join("storage.txt"), "# where\n/etc/passwd\n").unwrap();
        assert!(location("s", &d, &roots).is_err());
        std::fs::write(d.join("storage.txt"), "../other.db\n").unwrap();
        assert!(location("s", &d, &roots).is_err());
        std::fs::write(d.join("storage.txt"), format!("{}\n", d.join("study.db").display()))
            .unwrap();
        let inside = Location::Sqlite(d.join("study.db"));
        assert_eq!(location("s", &d, &roots).unwrap(), inside);
        std::fs::remove_file(d.join("storage.txt")).unwrap();
        assert_eq!(location("s", &d, &roots).unwrap(), inside);
    }
}
