//! Study results: the trials table, `best.toml` (the best trial as a runnable experiment),
//! `trials.csv` / `trials.jsonl`, parameter importances, and plots (optimization history,
//! intermediate values with pruned trials, importances, parallel coordinates, one slice plot
//! per parameter).

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::Path;

use serde_json::{json, Value};
use tuna_plot::{Bar, Figure, Note, Panel, Series, Style, PALETTE};

use crate::error::TuneError;
use crate::runner::Study;
use crate::search::SearchSpace;
use crate::space::{Distribution, ParamSpec};
use crate::storage::TrialRecord;
use crate::trial::{Direction, ParamValue, TrialState};

/// The best complete trial.
pub fn best_trial(trials: &[TrialRecord], direction: Direction) -> Option<&TrialRecord> {
    trials
        .iter()
        .filter(|t| {
            t.trial.state == TrialState::Complete && t.trial.value.is_some_and(f64::is_finite)
        })
        .reduce(|a, b| {
            if direction.better(
                b.trial.value.unwrap_or(f64::NAN),
                a.trial.value.unwrap_or(f64::NAN),
            ) {
                b
            } else {
                a
            }
        })
}

/// A parameter value as people read it: the number, or for a choice the option (its
/// `type` for a plugin table).
pub fn show_value(space: &SearchSpace, name: &str, v: ParamValue) -> String {
    match v {
        ParamValue::Float(x) => format!("{x:.4e}"),
        ParamValue::Int(x) => x.to_string(),
        ParamValue::Choice(i) => {
            let opt = choice_option(space, name, i);
            match opt {
                Some(Value::Object(t)) => t
                    .get("type")
                    .and_then(Value::as_str)
                    .map(str::to_string)
                    .unwrap_or_else(|| format!("option {i}")),
                Some(Value::String(s)) => s,
                Some(other) => other.to_string(),
                None => format!("option {i}"),
            }
        }
    }
}

fn choice_option(space: &SearchSpace, name: &str, i: usize) -> Option<Value> {
    // top-level choices are in the space file's params table; nested ones inside options
    let params = space.source.get("params")?;
    if let Some(spec) = params.get(name) {
        return spec.get("choice")?.get(i).cloned();
    }
    None
}

/// The objective values recorded for a trial (`[main, also...]`), when all are finite.
pub fn objective_values(t: &TrialRecord) -> Option<Vec<f64>> {
    let v: Vec<f64> = t
        .attrs
        .get("objectives")?
        .as_array()?
        .iter()
        .map(|x| x.as_f64().unwrap_or(f64::NAN))
        .collect();
    v.iter().all(|x| x.is_finite()).then_some(v)
}

/// The complete trials no other complete trial dominates (at least as good in every
/// objective and better in one), in trial order: the Pareto front of a multi-objective
/// study. Empty without `[objective] also`.
pub fn pareto_front<'a>(space: &SearchSpace, trials: &'a [TrialRecord]) -> Vec<&'a TrialRecord> {
    if space.also.is_empty() {
        return Vec::new();
    }
    let dirs: Vec<Direction> = std::iter::once(&space.objective)
        .chain(&space.also)
        .map(|o| o.direction)
        .collect();
    let scored: Vec<(&TrialRecord, Vec<f64>)> = trials
        .iter()
        .filter(|t| t.trial.state == TrialState::Complete)
        .filter_map(|t| objective_values(t).map(|v| (t, v)))
        .collect();
    let values: Vec<Vec<f64>> = scored.iter().map(|(_, v)| v.clone()).collect();
    pareto_indices(&values, &dirs)
        .into_iter()
        .map(|i| scored[i].0)
        .collect()
}

/// Indices of the points of `values` that no other point dominates under `directions`.
pub fn pareto_indices(values: &[Vec<f64>], directions: &[Direction]) -> Vec<usize> {
    let dominates = |a: &[f64], b: &[f64]| {
        let mut strictly = false;
        for ((x, y), d) in a.iter().zip(b).zip(directions) {
            if d.better(*y, *x) {
                return false;
            }
            if d.better(*x, *y) {
                strictly = true;
            }
        }
        strictly
    };
    (0..values.len())
        .filter(|&i| !values.iter().any(|w| dominates(w, &values[i])))
        .collect()
}

/// Counts of trials by state.
pub fn counts(trials: &[TrialRecord]) -> BTreeMap<&'static str, usize> {
    let mut c = BTreeMap::from([
        ("complete", 0),
        ("pruned", 0),
        ("failed", 0),
        ("running", 0),
    ]);
    for t in trials {
        let k = match t.trial.state {
            TrialState::Complete => "complete",
            TrialState::Pruned => "pruned",
            TrialState::Failed => "failed",
            TrialState::Running => "running",
        };
        *c.get_mut(k).expect("key") += 1;
    }
    c
}

/// The trials table printed by `tuna study show`.
pub fn table(space: &SearchSpace, trials: &[TrialRecord]) -> String {
    let names: Vec<&str> = space.params.iter().map(|p| p.name.as_str()).collect();
    let metric = &space.objective.metric;
    let mut rows: Vec<Vec<String>> = vec![{
        let mut h = vec![
            "trial".to_string(),
            "state".into(),
            metric.clone(),
            "test_accuracy".into(),
            "epochs".into(),
            "seconds".into(),
        ];
        h.extend(names.iter().map(|n| n.to_string()));
        h
    }];
    for t in trials {
        let mut r = vec![
            t.trial.number.to_string(),
            format!("{:?}", t.trial.state).to_lowercase(),
            t.trial
                .value
                .map(|v| format!("{v:.5}"))
                .unwrap_or("-".into()),
            t.attrs["test"]["test_accuracy"]
                .as_f64()
                .map(|v| format!("{:.2}%", v * 100.0))
                .unwrap_or("-".into()),
            t.attrs["epochs"]
                .as_u64()
                .map(|e| e.to_string())
                .unwrap_or("-".into()),
            t.seconds.map(|s| format!("{s:.1}")).unwrap_or("-".into()),
        ];
        for n in &names {
            r.push(
                t.trial
                    .params
                    .get(*n)
                    .map(|v| show_value(space, n, *v))
                    .unwrap_or("-".into()),
            );
        }
        rows.push(r);
    }
    let widths: Vec<usize> = (0..rows[0].len())
        .map(|c| rows.iter().map(|r| r[c].chars().count()).max().unwrap_or(0))
        .collect();
    let mut out = String::new();
    for r in &rows {
        let line: Vec<String> = r
            .iter()
            .zip(&widths)
            .map(|(v, w)| format!("{v:<w$}"))
            .collect();
        let _ = writeln!(out, "{}", line.join("  ").trim_end());
    }
    out
}

fn csv_field(s: &str) -> String {
    if s.contains([',', '"', '\n']) {
        format!("\"{}\"", s.replace('"', "\"\""))
    } else {
        s.to_string()
    }
}

/// Writes `trials.csv`, `trials.jsonl`, `best.toml` (if a trial completed) and the plots
/// into `dir`; returns the files written.
///
/// # Errors
/// A file that cannot be written.
pub fn write_reports(
    study: &Study,
    trials: &[TrialRecord],
    dir: &Path,
) -> Result<Vec<String>, TuneError> {
    let space = &study.space;
    let mut written = Vec::new();
    let w = |name: &str, bytes: &[u8], written: &mut Vec<String>| -> Result<(), TuneError> {
        let path = dir.join(name);
        std::fs::write(&path, bytes).map_err(|source| TuneError::Io { path, source })?;
        written.push(name.to_string());
        Ok(())
    };
    let names: Vec<&str> = space.params.iter().map(|p| p.name.as_str()).collect();
    // CSV
    let mut csv = String::from("number,state,value,seconds,error");
    for n in &names {
        csv.push(',');
        csv.push_str(&csv_field(n));
    }
    csv.push('\n');
    for t in trials {
        let _ = write!(
            csv,
            "{},{},{},{},{}",
            t.trial.number,
            format!("{:?}", t.trial.state).to_lowercase(),
            t.trial.value.map(|v| v.to_string()).unwrap_or_default(),
            t.seconds.map(|s| format!("{s:.3}")).unwrap_or_default(),
            csv_field(t.error.as_deref().unwrap_or(""))
        );
        for n in &names {
            csv.push(',');
            if let Some(v) = t.trial.params.get(*n) {
                csv.push_str(&csv_field(&show_value(space, n, *v)));
            }
        }
        csv.push('\n');
    }
    w("trials.csv", csv.as_bytes(), &mut written)?;
    // JSONL
    let mut jsonl = String::new();
    for t in trials {
        let params: BTreeMap<&String, Value> = t
            .trial
            .params
            .iter()
            .map(|(k, v)| (k, serde_json::to_value(v).unwrap_or(Value::Null)))
            .collect();
        let line = json!({
            "number": t.trial.number,
            "state": format!("{:?}", t.trial.state).to_lowercase(),
            "value": t.trial.value,
            "intermediate": t.trial.intermediate,
            "params": params,
            "error": t.error,
            "attrs": t.attrs,
            "seconds": t.seconds,
        });
        jsonl.push_str(&line.to_string());
        jsonl.push('\n');
    }
    w("trials.jsonl", jsonl.as_bytes(), &mut written)?;
    // best.toml
    if let Some(best) = best_trial(trials, space.objective.direction) {
        let exp = study.experiment(best.trial.number, &best.trial.params)?;
        let mut text = format!(
            "# The best trial ({}) of study `{}`: {} = {}\n# Run it with: tuna train best.toml\n\n",
            best.trial.number,
            space.name,
            space.objective.metric,
            best.trial.value.unwrap_or(f64::NAN)
        );
        let name = format!("{}-best", space.name);
        match edited_base(space, &best.trial.params, &name) {
            Some(edited) => text.push_str(&edited),
            None => {
                let mut resolved = exp.resolved();
                resolved["name"] = Value::String(name);
                text.push_str(&tuna_train::experiment::to_toml(&resolved));
            }
        }
        w("best.toml", text.as_bytes(), &mut written)?;
    }
    for (name, fig) in plots(space, trials) {
        for ext in ["svg", "png"] {
            let file = format!("{name}.{ext}");
            fig.save(dir.join(&file))?;
            written.push(file);
        }
    }
    Ok(written)
}

/// A parameter's value on a numeric axis (log10 for log distributions, the index for a
/// choice).
fn axis_value(dist: &Distribution, v: ParamValue) -> f64 {
    match (dist, v) {
        (Distribution::LogUniform { .. }, ParamValue::Float(x)) => x.log10(),
        (Distribution::Int { log: true, .. }, ParamValue::Int(x)) => (x as f64).log10(),
        (_, v) => v.as_f64(),
    }
}

fn axis_range(dist: &Distribution) -> (f64, f64) {
    match dist {
        Distribution::Uniform { low, high } => (*low, *high),
        Distribution::LogUniform { low, high } => (low.log10(), high.log10()),
        Distribution::Int { low, high, log, .. } => {
            if *log {
                ((*low as f64).log10(), (*high as f64).log10())
            } else {
                (*low as f64, *high as f64)
            }
        }
        Distribution::Choice { n } => (0.0, (*n as f64 - 1.0).max(1.0)),
    }
}

/// Parameter importances: for each parameter, the share of the objective's variance across
/// complete trials explained by that parameter alone (the correlation ratio η² over 4
/// quantile bins, or per option for a choice), normalized to sum to 1. A cheaper stand-in for
/// Optuna's fANOVA default that agrees with it on strong effects; with few trials treat small
/// differences as noise.
pub fn importances(space: &SearchSpace, trials: &[TrialRecord]) -> Vec<(String, f64)> {
    let done: Vec<&TrialRecord> = trials
        .iter()
        .filter(|t| {
            t.trial.state == TrialState::Complete && t.trial.value.is_some_and(f64::is_finite)
        })
        .collect();
    let mut out = Vec::new();
    for p in &space.params {
        let pts: Vec<(f64, f64)> = done
            .iter()
            .filter_map(|t| {
                let v = t.trial.params.get(&p.name)?;
                Some((axis_value(&p.distribution, *v), t.trial.value?))
            })
            .collect();
        if pts.len() < 3 {
            out.push((p.name.clone(), 0.0));
            continue;
        }
        let mean = pts.iter().map(|p| p.1).sum::<f64>() / pts.len() as f64;
        let total: f64 = pts.iter().map(|p| (p.1 - mean).powi(2)).sum();
        let mut groups: BTreeMap<usize, Vec<f64>> = BTreeMap::new();
        match p.distribution {
            Distribution::Choice { .. } => {
                for (x, y) in &pts {
                    groups.entry(*x as usize).or_default().push(*y);
                }
            }
            _ => {
                let mut xs: Vec<f64> = pts.iter().map(|p| p.0).collect();
                xs.sort_by(f64::total_cmp);
                let edges: Vec<f64> = (1..4).map(|q| xs[q * xs.len() / 4]).collect();
                for (x, y) in &pts {
                    let bin = edges.iter().filter(|e| x >= e).count();
                    groups.entry(bin).or_default().push(*y);
                }
            }
        }
        let between: f64 = groups
            .values()
            .map(|g| {
                let m = g.iter().sum::<f64>() / g.len() as f64;
                g.len() as f64 * (m - mean).powi(2)
            })
            .sum();
        out.push((
            p.name.clone(),
            if total > 0.0 { between / total } else { 0.0 },
        ));
    }
    let sum: f64 = out.iter().map(|(_, v)| v).sum();
    if sum > 0.0 {
        for (_, v) in &mut out {
            *v /= sum;
        }
    }
    out.sort_by(|a, b| b.1.total_cmp(&a.1));
    out
}

/// The study's plots, by file stem: `history` (each complete trial's objective and the best
/// so far), `intermediate` (the objective per epoch of every trial, pruned ones marked where
/// they stopped), `importances` (a bar per parameter), `parallel_coordinates` (one line per
/// complete trial across an axis per parameter and the objective), `pareto` (with
/// `[objective] also`) and one `slice_<param>` per parameter.
pub fn plots(space: &SearchSpace, trials: &[TrialRecord]) -> Vec<(String, Figure)> {
    let done: Vec<&TrialRecord> = trials
        .iter()
        .filter(|t| t.trial.state == TrialState::Complete && t.trial.value.is_some())
        .collect();
    let mut figs = vec![
        ("history".to_string(), history_plot(space, &done)),
        ("intermediate".to_string(), intermediate_plot(space, trials)),
        ("importances".to_string(), importances_plot(space, trials)),
        (
            "parallel_coordinates".to_string(),
            parallel_plot(space, &done),
        ),
    ];
    if let Some(pareto) = pareto_plot(space, trials) {
        figs.push(("pareto".to_string(), pareto));
    }
    for p in &space.params {
        let stem = format!(
            "slice_{}",
            p.name
                .chars()
                .map(|c| if c.is_ascii_alphanumeric() { c } else { '_' })
                .collect::<String>()
        );
        figs.push((stem, slice_plot(space, &done, p)));
    }
    figs
}

/// Each complete trial's objective (dots) and the best value so far (a line).
fn history_plot(space: &SearchSpace, done: &[&TrialRecord]) -> Figure {
    let dir = space.objective.direction;
    let xs: Vec<f64> = done.iter().map(|t| t.trial.number as f64).collect();
    let ys: Vec<f64> = done
        .iter()
        .map(|t| t.trial.value.unwrap_or(f64::NAN))
        .collect();
    let mut best = Vec::new();
    let mut cur: Option<f64> = None;
    for &y in &ys {
        cur = Some(match cur {
            Some(c) if !dir.better(y, c) => c,
            _ => y,
        });
        best.push(cur.unwrap_or(f64::NAN));
    }
    Figure::new(
        &format!("{}: optimization history", space.name),
        "trial number",
        vec![Panel::new(space.objective.metric.clone())
            .with_series(Series::new("complete trial", xs.clone(), ys).scatter())
            .with_series(Series::new("best so far", xs, best))],
    )
    .integer_x(true)
}

/// The objective per epoch of every trial that reported one: complete trials in blue, pruned
/// ones in red with a cross where the pruner stopped them, others in grey.
fn intermediate_plot(space: &SearchSpace, trials: &[TrialRecord]) -> Figure {
    let metric = &space.objective.metric;
    let mut panel = Panel::new(metric.clone());
    let mut stops = (Vec::new(), Vec::new());
    for t in trials {
        let (x, y): (Vec<f64>, Vec<f64>) = t
            .trial
            .intermediate
            .iter()
            .map(|(s, v)| (*s as f64, *v))
            .unzip();
        let (name, color) = match t.trial.state {
            TrialState::Complete => ("complete trial", PALETTE[0]),
            TrialState::Pruned => ("pruned trial", PALETTE[3]),
            TrialState::Running => ("running trial", PALETTE[7]),
            TrialState::Failed => ("failed trial", PALETTE[7]),
        };
        if t.trial.state == TrialState::Pruned {
            if let (Some(a), Some(b)) = (x.last(), y.last()) {
                stops.0.push(*a);
                stops.1.push(*b);
            }
        }
        if !x.is_empty() {
            panel = panel.with_series(Series::new(name, x, y).with_color(color));
        }
    }
    if !stops.0.is_empty() {
        panel = panel.with_series(
            Series::new("pruned here", stops.0, stops.1)
                .with_style(Style::Crosses)
                .with_color(PALETTE[3]),
        );
    }
    Figure::new(
        &format!("{}: {metric} per epoch of each trial", space.name),
        "epoch",
        vec![panel],
    )
    .integer_x(true)
}

/// [`importances`] as a bar per parameter, the most important on top.
fn importances_plot(space: &SearchSpace, trials: &[TrialRecord]) -> Figure {
    let bars = importances(space, trials)
        .into_iter()
        .map(|(name, v)| Bar::new(name, v));
    Figure::new(
        &format!("{}: parameter importances", space.name),
        &format!(
            "importance (share of the variance of {} it explains)",
            space.objective.metric
        ),
        vec![Panel::new("parameter").with_bars(bars)],
    )
}

/// One line per complete trial across a vertical axis per parameter (its range, low at the
/// bottom; a choice's options evenly spaced) and the objective last; lines are shaded by the
/// trial's objective quarter, the best darkest and on top.
fn parallel_plot(space: &SearchSpace, done: &[&TrialRecord]) -> Figure {
    let metric = &space.objective.metric;
    let dir = space.objective.direction;
    let n = space.params.len();
    let values: Vec<f64> = done
        .iter()
        .map(|t| t.trial.value.unwrap_or(f64::NAN))
        .collect();
    let (vlo, vhi) = values
        .iter()
        .filter(|v| v.is_finite())
        .fold((f64::INFINITY, f64::NEG_INFINITY), |(a, b), &v| {
            (a.min(v), b.max(v))
        });
    // Worst first, so that the best trials are drawn last, on top.
    let mut order: Vec<usize> = (0..done.len()).collect();
    order.sort_by(|&a, &b| {
        let (x, y) = (values[a], values[b]);
        if dir.better(x, y) {
            std::cmp::Ordering::Greater
        } else if dir.better(y, x) {
            std::cmp::Ordering::Less
        } else {
            std::cmp::Ordering::Equal
        }
    });
    const QUARTERS: [(&str, [u8; 3]); 4] = [
        ("worst 25 %", [0xc6, 0xdb, 0xef]),
        ("3rd quarter", [0x6b, 0xae, 0xd6]),
        ("2nd quarter", [0x21, 0x71, 0xb5]),
        ("best 25 %", [0x08, 0x30, 0x6b]),
    ];
    let mut panel = Panel::new("position in range").y_range(-0.04, 1.04);
    for (rank, &i) in order.iter().enumerate() {
        let t = done[i];
        // A conditional parameter the trial did not use is a gap in its line.
        let mut y: Vec<f64> = space
            .params
            .iter()
            .map(|p| match t.trial.params.get(&p.name) {
                Some(v) => {
                    let (lo, hi) = axis_range(&p.distribution);
                    (axis_value(&p.distribution, *v) - lo) / (hi - lo).max(1e-12)
                }
                None => f64::NAN,
            })
            .collect();
        let x: Vec<f64> = (0..=n).map(|k| k as f64).collect();
        y.push((values[i] - vlo) / (vhi - vlo).max(1e-12));
        let (name, color) = QUARTERS[(rank * 4 / order.len()).min(3)];
        panel = panel.with_series(Series::new(name, x, y).with_color(color));
    }
    for (k, p) in space.params.iter().enumerate() {
        for (at, label) in axis_notes(space, p) {
            panel = panel.with_note(Note::new(k as f64, at, label));
        }
    }
    if vlo.is_finite() {
        panel = panel
            .with_note(Note::new(n as f64, 0.0, short_number(vlo)))
            .with_note(Note::new(n as f64, 1.0, short_number(vhi)));
    }
    let ticks = space
        .params
        .iter()
        .enumerate()
        .map(|(k, p)| (k as f64, p.name.clone()))
        .chain([(n as f64, metric.clone())])
        .collect();
    Figure::new(
        &format!(
            "{}: parallel coordinates of the complete trials",
            space.name
        ),
        "parameter (and the objective, last)",
        vec![panel],
    )
    .with_x_ticks(ticks)
}

/// Where a parameter's axis is labelled in a parallel-coordinates plot (0 = low end, 1 =
/// high end): its bounds, or every option of a choice.
fn axis_notes(space: &SearchSpace, p: &ParamSpec) -> Vec<(f64, String)> {
    match p.distribution {
        Distribution::Uniform { low, high } | Distribution::LogUniform { low, high } => {
            vec![(0.0, short_number(low)), (1.0, short_number(high))]
        }
        Distribution::Int { low, high, .. } => {
            vec![(0.0, low.to_string()), (1.0, high.to_string())]
        }
        Distribution::Choice { n } => (0..n)
            .map(|i| {
                let at = if n > 1 {
                    i as f64 / (n - 1) as f64
                } else {
                    0.0
                };
                (at, show_value(space, &p.name, ParamValue::Choice(i)))
            })
            .collect(),
    }
}

/// A number in at most 4 significant digits: `0.0123`, `1.5e-5`, `25000`.
fn short_number(v: f64) -> String {
    if v == 0.0 || !v.is_finite() {
        return v.to_string();
    }
    let e = v.abs().log10().floor();
    if (-3.0..5.0).contains(&e) {
        let decimals = (3.0 - e).max(0.0) as usize;
        let s = format!("{v:.decimals$}");
        if s.contains('.') {
            s.trim_end_matches('0').trim_end_matches('.').to_string()
        } else {
            s
        }
    } else {
        let s = format!("{v:.2e}");
        let (m, x) = s.split_once('e').unwrap_or((&s, "0"));
        let m = m.trim_end_matches('0').trim_end_matches('.');
        format!("{m}e{x}")
    }
}

/// The first two objectives of every complete trial, and the Pareto front as a line.
fn pareto_plot(space: &SearchSpace, trials: &[TrialRecord]) -> Option<Figure> {
    let second = space.also.first()?;
    let metric = &space.objective.metric;
    let pts: Vec<(f64, f64)> = trials
        .iter()
        .filter(|t| t.trial.state == TrialState::Complete)
        .filter_map(objective_values)
        .map(|v| (v[0], v[1]))
        .collect();
    let mut front: Vec<(f64, f64)> = pareto_front(space, trials)
        .into_iter()
        .filter_map(objective_values)
        .map(|v| (v[0], v[1]))
        .collect();
    front.sort_by(|a, b| a.0.total_cmp(&b.0));
    let (x, y): (Vec<f64>, Vec<f64>) = pts.into_iter().unzip();
    let (fx, fy): (Vec<f64>, Vec<f64>) = front.into_iter().unzip();
    Some(Figure::new(
        &format!(
            "{}: Pareto front, {} vs {}",
            space.name, metric, second.metric
        ),
        metric,
        vec![Panel::new(second.metric.clone())
            .with_series(Series::new("complete trial", x, y).scatter())
            .with_series(Series::new("Pareto front", fx, fy).with_style(Style::LineAndDots))],
    ))
}

/// The objective of each complete trial against one parameter: on a log axis for a log
/// distribution, by option name for a choice.
fn slice_plot(space: &SearchSpace, done: &[&TrialRecord], p: &ParamSpec) -> Figure {
    let metric = &space.objective.metric;
    let (x, y): (Vec<f64>, Vec<f64>) = done
        .iter()
        .filter_map(|t| Some((t.trial.params.get(&p.name)?.as_f64(), t.trial.value?)))
        .unzip();
    let panel = Panel::new(metric.clone())
        .with_series(Series::new("complete trial", x, y).scatter())
        .show_legend(false);
    let fig = Figure::new(
        &format!("{}: {metric} against {}", space.name, p.name),
        &p.name,
        vec![panel],
    );
    match p.distribution {
        Distribution::LogUniform { .. } => fig.log_x(true),
        Distribution::Int { log, .. } => fig.log_x(log).integer_x(!log),
        Distribution::Choice { n } => fig.with_x_ticks(
            (0..n)
                .map(|i| (i as f64, show_value(space, &p.name, ParamValue::Choice(i))))
                .collect(),
        ),
        Distribution::Uniform { .. } => fig,
    }
}

/// The base experiment file with `params` written into it (and `name`, and the data paths made
/// absolute), its comments and key order kept; `None` when the base is not TOML or the edited
/// text would not mean the same experiment (then best.toml is the resolved experiment).
fn edited_base(space: &SearchSpace, params: &crate::trial::Params, name: &str) -> Option<String> {
    use tuna_train::experiment::{edit_toml, parse_text, read_value};
    use tuna_train::Experiment;
    let text = std::fs::read_to_string(&space.base_file).ok()?;
    let original = read_value(&space.base_file).ok()?;
    let mut target = space.materialize(params).ok()?;
    target["name"] = Value::String(name.to_string());
    let mut edits = Vec::new();
    diff_edits("", &original, &target, &mut edits);
    let edited = edit_toml(&text, &edits).ok()?;
    let reread = Experiment::from_value(parse_text(&edited, false).ok()?).ok()?;
    let wanted = Experiment::from_value(target).ok()?;
    (reread.resolved() == wanted.resolved()).then_some(edited)
}

/// The edits that turn `from` into `to`: tables key by key, lists of the same length item by
/// item, anything else set whole when it differs.
fn diff_edits(path: &str, from: &Value, to: &Value, edits: &mut Vec<tuna_train::experiment::Edit>) {
    use tuna_train::experiment::Edit;
    let join = |k: &str| {
        if path.is_empty() {
            k.to_string()
        } else {
            format!("{path}.{k}")
        }
    };
    match (from, to) {
        (Value::Object(a), Value::Object(b)) => {
            for (k, v) in b {
                match a.get(k) {
                    Some(old) => diff_edits(&join(k), old, v, edits),
                    None => edits.push(Edit::Set(join(k), v.clone())),
                }
            }
            for k in a.keys().filter(|k| !b.contains_key(*k)) {
                edits.push(Edit::Unset(join(k)));
            }
        }
        (Value::Array(a), Value::Array(b)) if a.len() == b.len() && from != to => {
            for (i, (x, y)) in a.iter().zip(b).enumerate() {
                diff_edits(&format!("{path}[{i}]"), x, y, edits);
            }
        }
        _ if from == to => {}
        _ => edits.push(Edit::Set(path.to_string(), to.clone())),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pareto_front_of_accuracy_up_and_seconds_down() {
        // (accuracy, seconds): 1 dominates 3 (better on both); 0, 1, 2 trade off; 4 ties 0
        // on accuracy but is slower, so 0 dominates it.
        let pts = vec![
            vec![0.95, 10.0],
            vec![0.97, 20.0],
            vec![0.98, 60.0],
            vec![0.96, 30.0],
            vec![0.95, 12.0],
        ];
        let dirs = [Direction::Maximize, Direction::Minimize];
        assert_eq!(pareto_indices(&pts, &dirs), vec![0, 1, 2]);
        // a single objective: only the best survives
        let one: Vec<Vec<f64>> = pts.iter().map(|p| vec![p[0]]).collect();
        assert_eq!(pareto_indices(&one, &dirs[..1]), vec![2]);
    }
}
