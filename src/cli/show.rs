//! `tuna show RUN_DIR [RUN_DIR ...]`: a run's summary, or several runs side by side.

use std::path::PathBuf;

use tuna::train::progress::format_metric;
use tuna::train::run_dir::read_records;
use tuna::train::RunDir;

use super::output::outln;
use super::CliError;

/// Arguments of `tuna show`.
#[derive(Debug, clap::Args)]
#[command(after_help = "Examples:
  tuna show runs/mnist-mlp
  tuna show runs/mnist-mlp runs/mnist-mlp-2 runs/mnist-cnn")]
pub struct Args {
    /// One or more run folders.
    #[arg(required = true)]
    pub runs: Vec<PathBuf>,
}

/// One run's rows: `(label, value)` in display order.
type Rows = Vec<(String, String)>;

/// Runs `tuna show`.
pub fn run(args: &Args) -> Result<(), CliError> {
    let mut columns: Vec<(String, Rows)> = Vec::new();
    for path in &args.runs {
        let run = RunDir::open(path)?;
        let rows = match run.read_summary() {
            Ok(s) => finished_rows(&s),
            Err(_) => unfinished_rows(&run)?,
        };
        columns.push((path.display().to_string(), rows));
    }
    print_table(&columns)
}

/// The rows of a run that wrote its summary.
fn finished_rows(s: &tuna::train::RunSummary) -> Rows {
    let mut rows: Rows = vec![
        (
            "status".into(),
            match &s.stopped_early {
                Some(_) => "stopped early".into(),
                None => "finished".into(),
            },
        ),
        (
            "epochs".into(),
            format!("{}/{}", s.epochs_completed, s.epochs_planned),
        ),
        ("parameters".into(), s.parameters.to_string()),
        (
            "best epoch".into(),
            s.best_epoch
                .map(|e| format!("{e} (by {})", s.monitor))
                .unwrap_or("-".into()),
        ),
    ];
    for (k, v) in &s.best {
        match k.as_str() {
            "seconds" => {}
            "lr" => rows.push(("lr at best epoch".into(), shown(k, v.0))),
            _ => rows.push((format!("best {k}"), shown(k, v.0))),
        }
    }
    for (k, v) in &s.test {
        rows.push((k.clone(), shown(k, v.0)));
    }
    let wall = if s.wall_seconds < 1.0 {
        format!("{:.0}ms", 1000.0 * s.wall_seconds)
    } else {
        format!("{:.1}s", s.wall_seconds)
    };
    rows.push(("wall time".into(), wall));
    rows.push(("samples/s".into(), format!("{:.0}", s.samples_per_second)));
    if let Some(t) = &s.time {
        rows.push(("time spent".into(), time_spent(t)));
    }
    rows
}

/// The rows of a run without a summary: failed or unfinished, with its last epoch's metrics.
fn unfinished_rows(run: &RunDir) -> Result<Rows, CliError> {
    let records = read_records(&run.metrics_path())?;
    let status = match run.read_failure() {
        Some(e) => format!("failed: {}", e.lines().next().unwrap_or_default()),
        None => "unfinished (resume with tuna train --resume)".into(),
    };
    let mut rows: Rows = vec![
        ("status".into(), status),
        ("epochs".into(), records.len().to_string()),
    ];
    if let Some(last) = records.last() {
        for (k, v) in &last.values {
            rows.push((format!("last {k}"), shown(k, v.0)));
        }
    }
    Ok(rows)
}

/// Prints the runs as columns, one line per label any run has (`-` where a run lacks it).
fn print_table(columns: &[(String, Rows)]) -> Result<(), CliError> {
    let mut keys: Vec<&String> = Vec::new();
    for (_, rows) in columns {
        for (k, _) in rows {
            if !keys.contains(&k) {
                keys.push(k);
            }
        }
    }
    let kw = keys.iter().map(|k| k.len()).max().unwrap_or(0).max(3);
    let widths: Vec<usize> = columns
        .iter()
        .map(|(name, rows)| {
            rows.iter()
                .map(|(_, v)| v.len())
                .chain([name.len()])
                .max()
                .unwrap_or(0)
        })
        .collect();
    let mut header = format!("{:<kw$}", "run");
    for ((name, _), w) in columns.iter().zip(&widths) {
        header.push_str(&format!("  {name:<w$}"));
    }
    outln!("{}", header.trim_end());
    for k in keys {
        let mut line = format!("{k:<kw$}");
        for ((_, rows), w) in columns.iter().zip(&widths) {
            let v = rows
                .iter()
                .find(|(rk, _)| rk == k)
                .map(|(_, v)| v.as_str())
                .unwrap_or("-");
            line.push_str(&format!("  {v:<w$}"));
        }
        outln!("{}", line.trim_end());
    }
    Ok(())
}

fn shown(key: &str, v: f64) -> String {
    if key == "lr" {
        format!("{v:.3e}")
    } else {
        format_metric(key, v)
    }
}

/// The parts of a run's time that took at least 1 % of it, as `steps 91% eval 5% ...`.
fn time_spent(t: &tuna::train::TimeSpent) -> String {
    let total = t.total();
    if total <= 0.0 {
        return "-".into();
    }
    let parts = [
        ("steps", t.steps),
        ("data", t.data),
        ("eval", t.evaluation),
        ("callbacks", t.callbacks),
        ("checkpoints", t.checkpoints),
        ("records", t.records),
        ("other", t.other),
    ];
    let shown: Vec<String> = parts
        .iter()
        .filter(|(_, s)| s / total >= 0.01)
        .map(|(name, s)| format!("{name} {:.0}%", 100.0 * s / total))
        .collect();
    shown.join(" ")
}
