//! Reading one run folder for the board: its records, signals, summary, failure and config
//! through tuna-train's API, its state, its row in the runs table and its page.
//!
//! Reading never fails: a file being written right now (a torn last line), a malformed line or
//! a missing file leaves the rest readable and adds a warning that the page shows.

use std::collections::BTreeMap;
use std::path::Path;
use std::time::{SystemTime, UNIX_EPOCH};

use serde::Serialize;
use serde_json::{json, Value};
use tuna_train::diagnose::{diagnose, load_run, Diagnosis, RunContext, Severity};
use tuna_train::signals::EpochSignals;
use tuna_train::{EpochRecord, RunDir, RunSummary};

use crate::scan::{Roots, RUN_FILES};
use crate::series;

/// How a run stands.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum RunState {
    /// No summary yet and written to recently: training is under way.
    Running,
    /// `summary.json` is written (early-stopped runs included).
    Finished,
    /// No summary, no failure and not written to for a while: interrupted (resumable with
    /// `tuna train --resume`).
    Stopped,
    /// `failure.json` says why it stopped with an error.
    Failed,
}

/// A run counts as running while its files changed within this many seconds (or three of
/// its epochs, if longer).
pub const RUNNING_WINDOW_SECONDS: f64 = 120.0;

/// The sizes and modification times of the files the board reads: the cache key of a run.
pub type Stamp = Vec<(u64, u128)>;

/// The stamp of the run in `dir`.
pub fn stamp(dir: &Path) -> Stamp {
    RUN_FILES
        .iter()
        .map(|f| {
            std::fs::metadata(dir.join(f)).map_or((u64::MAX, 0), |m| {
                let t = m
                    .modified()
                    .ok()
                    .and_then(|t| t.duration_since(UNIX_EPOCH).ok())
                    .map_or(0, |d| d.as_nanos());
                (m.len(), t)
            })
        })
        .collect()
}

/// Everything the board read from a run folder at one moment.
#[derive(Debug)]
pub struct RunData {
    /// `metrics.jsonl`, one record per epoch.
    pub records: Vec<EpochRecord>,
    /// `signals.jsonl`, one line per epoch.
    pub signals: Vec<EpochSignals>,
    /// The resolved experiment (`config.toml` as JSON; `null` when unreadable).
    pub config: Value,
    /// `config.toml` as written.
    pub config_text: String,
    /// `summary.json`, once the run finished.
    pub summary: Option<RunSummary>,
    /// The error of a failed run (`failure.json`).
    pub failure: Option<String>,
    /// The class names of a classification run (`run.json`'s task).
    pub class_names: Vec<String>,
    /// The diagnosis (tuna-train's detectors over the records and signals).
    pub diagnosis: Diagnosis,
    /// Seconds since the Unix epoch of the last change to any of its files.
    pub modified: f64,
    /// What could not be read, for the page.
    pub warnings: Vec<String>,
}

fn unix(t: SystemTime) -> f64 {
    t.duration_since(UNIX_EPOCH)
        .map_or(0.0, |d| d.as_secs_f64())
}

/// Reads the run in `dir`. Files that link outside `roots` are not read (a warning says so).
pub fn read(dir: &Path, roots: &Roots) -> RunData {
    let mut warnings = Vec::new();
    let outside: Vec<&str> = RUN_FILES
        .iter()
        .copied()
        .filter(|f| dir.join(f).exists() && !roots.check_file(&dir.join(f)))
        .collect();
    if !outside.is_empty() {
        warnings.push(format!(
            "not read: {} links outside the board's folders",
            outside.join(", ")
        ));
        return empty(warnings);
    }
    let (records, signals, context) = match load_run(dir) {
        Ok(loaded) => loaded,
        Err(e) => {
            warnings.push(e.to_string());
            read_tolerant(dir, &mut warnings)
        }
    };
    let config_text = std::fs::read_to_string(dir.join("config.toml")).unwrap_or_default();
    let config = toml::from_str::<Value>(&config_text).unwrap_or(Value::Null);
    let run = RunDir::open(dir).ok();
    let summary = match run.as_ref().map(RunDir::read_summary) {
        Some(Ok(s)) => Some(s),
        Some(Err(e)) if dir.join("summary.json").exists() => {
            warnings.push(e.to_string());
            None
        }
        _ => None,
    };
    let failure = run.as_ref().and_then(RunDir::read_failure);
    let class_names = run
        .as_ref()
        .and_then(|r| r.read_manifest().ok().flatten())
        .and_then(|m| serde_json::to_value(m.task).ok())
        .and_then(|t| find_key(&t, "class_names").cloned())
        .and_then(|v| serde_json::from_value(v).ok())
        .unwrap_or_default();
    let modified = RUN_FILES
        .iter()
        .map(|f| dir.join(f))
        .chain([dir.join("checkpoints/last.ckpt")])
        .filter_map(|p| std::fs::metadata(p).and_then(|m| m.modified()).ok())
        .map(unix)
        .fold(0.0, f64::max);
    let diagnosis = diagnose(&records, &signals, &context);
    RunData {
        records,
        signals,
        config,
        config_text,
        summary,
        failure,
        class_names,
        diagnosis,
        modified,
        warnings,
    }
}

fn empty(warnings: Vec<String>) -> RunData {
    RunData {
        records: Vec::new(),
        signals: Vec::new(),
        config: Value::Null,
        config_text: String::new(),
        summary: None,
        failure: None,
        class_names: Vec::new(),
        diagnosis: diagnose(&[], &[], &RunContext::default()),
        modified: 0.0,
        warnings,
    }
}

/// Reads what `load_run` could not, line by line: lines that do not parse are skipped and
/// named in `warnings`.
fn read_tolerant(
    dir: &Path,
    warnings: &mut Vec<String>,
) -> (Vec<EpochRecord>, Vec<EpochSignals>, RunContext) {
    fn lines<T: serde::de::DeserializeOwned>(path: &Path, warnings: &mut Vec<String>) -> Vec<T> {
        let text = std::fs::read_to_string(path).unwrap_or_default();
        let complete = text.ends_with('\n');
        let all: Vec<&str> = text.lines().collect();
        let mut out = Vec::new();
        for (i, line) in all.iter().enumerate() {
            if line.trim().is_empty() {
                continue;
            }
            match serde_json::from_str(line) {
                Ok(v) => out.push(v),
                Err(_) if i + 1 == all.len() && !complete => {} // being written
                Err(e) => warnings.push(format!("{}: line {}: {e}", path.display(), i + 1)),
            }
        }
        out
    }
    let records = lines(&dir.join("metrics.jsonl"), warnings);
    let signals = lines(&dir.join("signals.jsonl"), warnings);
    let config = std::fs::read_to_string(dir.join("config.toml"))
        .ok()
        .and_then(|t| toml::from_str::<Value>(&t).ok())
        .unwrap_or(Value::Null);
    let mut context = RunContext::from_config(&config);
    context.error = RunDir::open(dir).ok().and_then(|r| r.read_failure());
    (records, signals, context)
}

fn find_key<'a>(v: &'a Value, key: &str) -> Option<&'a Value> {
    match v {
        Value::Object(m) => m
            .get(key)
            .or_else(|| m.values().find_map(|x| find_key(x, key))),
        _ => None,
    }
}

impl RunData {
    /// Its state at `now` (seconds since the Unix epoch).
    pub fn state(&self, now: f64) -> RunState {
        if self.failure.is_some() {
            return RunState::Failed;
        }
        if self.summary.is_some() {
            return RunState::Finished;
        }
        let epoch_seconds = self
            .records
            .last()
            .and_then(|r| r.get("seconds"))
            .filter(|s| s.is_finite())
            .unwrap_or(0.0);
        if now - self.modified < RUNNING_WINDOW_SECONDS.max(3.0 * epoch_seconds) {
            RunState::Running
        } else {
            RunState::Stopped
        }
    }

    /// The metric that picks the best epoch: the summary's, else `val_loss`, else `train_loss`.
    pub fn monitor(&self) -> String {
        if let Some(s) = &self.summary {
            return s.monitor.clone();
        }
        let has = |k: &str| self.records.iter().any(|r| r.get(k).is_some());
        if has("val_loss") {
            "val_loss"
        } else {
            "train_loss"
        }
        .to_string()
    }

    /// The best epoch's and the last epoch's metrics.
    fn best_and_last(&self) -> (Option<usize>, BTreeMap<String, f64>, BTreeMap<String, f64>) {
        let values = |m: &BTreeMap<String, tuna_train::record::Value>| -> BTreeMap<String, f64> {
            m.iter().map(|(k, v)| (k.clone(), v.0)).collect()
        };
        if let Some(s) = &self.summary {
            return (s.best_epoch, values(&s.best), values(&s.last));
        }
        let monitor = self.monitor();
        let maximize =
            !(monitor.ends_with("loss") || monitor.ends_with("mae") || monitor.ends_with("rmse"));
        let best = self
            .records
            .iter()
            .filter(|r| r.get(&monitor).is_some_and(f64::is_finite))
            .reduce(|a, b| {
                let (x, y) = (
                    a.get(&monitor).unwrap_or(0.0),
                    b.get(&monitor).unwrap_or(0.0),
                );
                if (maximize && y > x) || (!maximize && y < x) {
                    b
                } else {
                    a
                }
            });
        let last = self
            .records
            .last()
            .map(|r| values(&r.values))
            .unwrap_or_default();
        (
            best.map(|r| r.epoch),
            best.map(|r| values(&r.values)).unwrap_or_default(),
            last,
        )
    }

    /// Wall time: the summary's, else the sum of the epochs' seconds.
    pub fn wall_seconds(&self) -> f64 {
        match &self.summary {
            Some(s) => s.wall_seconds,
            None => self
                .records
                .iter()
                .filter_map(|r| r.get("seconds"))
                .filter(|s| s.is_finite())
                .sum(),
        }
    }

    /// The run's name: the summary's, the experiment's, else `fallback` (its id).
    pub fn name(&self, fallback: &str) -> String {
        self.summary
            .as_ref()
            .map(|s| s.name.clone())
            .or_else(|| self.config["name"].as_str().map(str::to_string))
            .unwrap_or_else(|| fallback.to_string())
    }
}

/// The most severe finding, as the runs table shows it.
#[derive(Clone, Debug, Serialize)]
pub struct Primary {
    /// The finding's id (`overfitting`, `healthy`, ...).
    pub id: &'static str,
    /// Its severity.
    pub severity: Severity,
    /// Its one-line title.
    pub title: String,
}

/// One row of the runs table.
#[derive(Clone, Debug, Serialize)]
pub struct RunRow {
    /// The run's id (its path under the board's folder).
    pub id: String,
    /// The experiment's name.
    pub name: String,
    /// How it stands.
    pub state: RunState,
    /// Epochs finished.
    pub epochs: usize,
    /// Epochs the experiment asks for.
    pub epochs_planned: Option<usize>,
    /// Seconds of training so far.
    pub wall_seconds: f64,
    /// The metric that picks the best epoch.
    pub monitor: String,
    /// The best epoch by `monitor`.
    pub best_epoch: Option<usize>,
    /// The best epoch's metrics.
    pub best: BTreeMap<String, f64>,
    /// The last epoch's metrics.
    pub last: BTreeMap<String, f64>,
    /// Every leaf of the resolved experiment by path (`optimizer.lr`); the runs list keeps
    /// the ones that differ between runs.
    pub params: BTreeMap<String, Value>,
    /// The most severe finding of the diagnosis.
    pub diagnosis: Option<Primary>,
    /// Seconds since the Unix epoch of its last change.
    pub modified: f64,
    /// Problems reading it.
    pub warnings: Vec<String>,
}

/// The row of run `id`.
pub fn row(id: &str, data: &RunData, now: f64) -> RunRow {
    let (best_epoch, best, last) = data.best_and_last();
    let mut params = BTreeMap::new();
    flatten(&data.config, "", &mut params);
    params.remove("name");
    RunRow {
        id: id.to_string(),
        name: data.name(id),
        state: data.state(now),
        epochs: data.records.len(),
        epochs_planned: data
            .summary
            .as_ref()
            .map(|s| s.epochs_planned)
            .or_else(|| data.config["train"]["epochs"].as_u64().map(|e| e as usize)),
        wall_seconds: data.wall_seconds(),
        monitor: data.monitor(),
        best_epoch,
        best,
        last,
        params,
        diagnosis: data.diagnosis.findings.first().map(|f| Primary {
            id: f.id,
            severity: f.severity,
            title: f.title.clone(),
        }),
        modified: data.modified,
        warnings: data.warnings.clone(),
    }
}

/// The leaves of `v` by path: `optimizer.lr`, `model.layers[1].out_features`; arrays of
/// plain values stay whole (`train.metrics`).
pub fn flatten(v: &Value, prefix: &str, out: &mut BTreeMap<String, Value>) {
    match v {
        Value::Object(m) => {
            for (k, x) in m {
                let p = if prefix.is_empty() {
                    k.clone()
                } else {
                    format!("{prefix}.{k}")
                };
                flatten(x, &p, out);
            }
        }
        Value::Array(a) if a.iter().any(|x| x.is_object() || x.is_array()) => {
            for (i, x) in a.iter().enumerate() {
                flatten(x, &format!("{prefix}[{i}]"), out);
            }
        }
        Value::Null => {}
        other => {
            out.insert(prefix.to_string(), other.clone());
        }
    }
}

/// The learning curves: every key of the records (loss, metrics, lr, seconds) on one epoch
/// axis, downsampled to at most `max_points` epochs.
pub fn curves(records: &[EpochRecord], max_points: usize) -> Value {
    let mut keys: Vec<&String> = Vec::new();
    for r in records {
        for k in r.values.keys() {
            if !keys.contains(&k) {
                keys.push(k);
            }
        }
    }
    keys.sort();
    let x: Vec<f64> = records.iter().map(|r| r.epoch as f64).collect();
    let cols: Vec<Vec<f64>> = keys
        .iter()
        .map(|k| {
            records
                .iter()
                .map(|r| r.get(k).unwrap_or(f64::NAN))
                .collect()
        })
        .collect();
    let refs: Vec<&[f64]> = cols.iter().map(Vec::as_slice).collect();
    let keep = series::pick(x.len(), &refs, max_points);
    let mut out = serde_json::Map::new();
    for (k, c) in keys.iter().zip(&cols) {
        out.insert((*k).clone(), json!(series::take(c, &keep)));
    }
    json!({
        "x": series::take(&x, &keep),
        "series": out,
        "total": records.len(),
        "shown": keep.len(),
    })
}

/// The per-layer signals: gradient norm, update/weight ratio and weight norm per parameter,
/// dead-unit share per activation layer, and the epoch's time split.
pub fn signals(signals: &[EpochSignals], max_points: usize) -> Value {
    let keep = series::pick(signals.len(), &[], max_points);
    let picked: Vec<&EpochSignals> = keep.iter().map(|&i| &signals[i]).collect();
    let mut params: BTreeMap<String, BTreeMap<&str, Vec<f64>>> = BTreeMap::new();
    let mut dead: BTreeMap<String, Vec<f64>> = BTreeMap::new();
    for (j, s) in picked.iter().enumerate() {
        for (name, p) in &s.params {
            let e = params.entry(name.clone()).or_default();
            for (k, v) in [
                ("grad_norm", p.grad_norm.0),
                ("update_ratio", p.update_ratio.0),
                ("weight_norm", p.weight_norm.0),
            ] {
                let col = e.entry(k).or_insert_with(|| vec![f64::NAN; picked.len()]);
                col[j] = v;
            }
        }
        for (name, d) in &s.dead_units {
            let label = format!("{name} ({})", d.layer_type);
            dead.entry(label)
                .or_insert_with(|| vec![f64::NAN; picked.len()])[j] = d.fraction;
        }
    }
    let mut timing: BTreeMap<&str, Vec<f64>> = BTreeMap::new();
    for s in &picked {
        let t = &s.timing;
        for (k, v) in [
            ("data", t.data),
            ("forward", t.forward),
            ("backward", t.backward),
            ("optimizer", t.optimizer),
            ("other", t.other),
        ] {
            timing.entry(k).or_default().push(v);
        }
    }
    json!({
        "x": picked.iter().map(|s| s.epoch as f64).collect::<Vec<_>>(),
        "params": params,
        "dead_units": dead,
        "timing": timing,
        "total": signals.len(),
    })
}

/// The page of run `id`: its row, curves, signals, diagnosis, config and confusion matrix.
pub fn page(id: &str, dir: &Path, data: &RunData, now: f64, max_points: usize) -> Value {
    let confusion = data
        .summary
        .as_ref()
        .and_then(|s| s.confusion_matrix.as_ref())
        .map(|m| {
            let names: Vec<String> = (0..m.len())
                .map(|i| data.class_names.get(i).cloned().unwrap_or(i.to_string()))
                .collect();
            json!({ "classes": names, "matrix": m })
        });
    json!({
        "row": row(id, data, now),
        "path": dir.display().to_string(),
        "curves": curves(&data.records, max_points),
        "signals": signals(&data.signals, max_points),
        "diagnosis": data.diagnosis,
        "config": data.config_text,
        "summary": data.summary,
        "failure": data.failure,
        "confusion": confusion,
    })
}
