//! `tuna tune SPACE.toml [--trials N] [--timeout SECS] [--jobs J] [--out DIR] [--storage URL]`,
//! `tuna tune --resume STUDY_DIR` and `tuna study show STUDY_DIR`: hyperparameter search over
//! an experiment file (see `tuna_tune::search` for the space file).
//!
//! The trials live in `STUDY_DIR/study.db` (SQLite) unless `--storage` names a PostgreSQL
//! database, which workers on many machines share: each runs `tuna tune SPACE --storage URL`
//! and joins the study of that name. The study folder then records the URL in `storage.txt`
//! (so `--resume` and `study show` find the trials) and keeps this machine's run folders and
//! the reports.

use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use tuna::tune::report::{
    best_trial, counts, importances, objective_values, pareto_front, show_value, table,
    write_reports,
};
use tuna::tune::runner::{RunOptions, Study, TrialEvent};
use tuna::tune::search::SearchSpace;
use tuna::tune::storage::{Location, Storage};
use tuna::tune::TrialState;

use super::CliError;

/// Arguments of `tuna tune`.
#[derive(Debug, clap::Args)]
#[command(after_help = "Examples:
  tuna tune examples/tune/mnist-mlp-space.toml --trials 40 --jobs 2
  tuna tune examples/tune/mnist-mlp-space.toml --timeout 600 --out studies/mlp
  tuna tune --resume studies/mnist-mlp --trials 60     # continue (after a crash, too)
  tuna study show studies/mnist-mlp
  # many machines, one study: run the same line on each (the study is joined)
  tuna tune examples/tune/mnist-mlp-space.toml --storage postgres://tuna:PASSWORD@dbhost/tuna")]
pub struct Args {
    /// The search-space file.
    #[arg(required_unless_present = "resume")]
    pub space: Option<PathBuf>,
    /// Continue the study in this folder (its trials are kept; interrupted ones rerun).
    #[arg(long, value_name = "STUDY_DIR", conflicts_with_all = ["space", "out"])]
    pub resume: Option<PathBuf>,
    /// The study's total number of trials (default: the space file's `trials`, else 20).
    #[arg(long)]
    pub trials: Option<usize>,
    /// Start no new trial after this many seconds.
    #[arg(long, value_name = "SECS")]
    pub timeout: Option<f64>,
    /// Trials run at once (each gets cores/jobs kernel threads).
    #[arg(long, default_value_t = 1)]
    pub jobs: usize,
    /// The study folder (default: studies/<name>).
    #[arg(long, value_name = "DIR")]
    pub out: Option<PathBuf>,
    /// Keep the trials in this PostgreSQL database (postgres://user[:password]@host[:port]/db)
    /// instead of the folder's study.db; every worker on every machine that runs the same
    /// space against it joins the same study. Recorded in the folder's storage.txt.
    #[arg(long, value_name = "URL", conflicts_with = "resume")]
    pub storage: Option<String>,
    /// Print only the final result.
    #[arg(long, short)]
    pub quiet: bool,
}

/// Arguments of `tuna study`.
#[derive(Debug, clap::Args)]
#[command(after_help = "Example:\n  tuna study show studies/mnist-mlp")]
pub struct StudyArgs {
    #[command(subcommand)]
    command: StudyCommand,
}

#[derive(Debug, clap::Subcommand)]
enum StudyCommand {
    /// The trials table, the best trial and the parameter importances; rewrites the reports
    /// (best.toml, trials.csv/jsonl, plots).
    #[command(after_help = "Example:\n  tuna study show studies/mnist-mlp")]
    Show {
        /// The study folder.
        dir: PathBuf,
    },
}

/// Writes a file whole (a temporary file renamed over it), so a process reading it while
/// another one writes it (two workers joining one study from one folder) never sees half.
fn write_whole(path: &Path, text: &str) -> Result<(), CliError> {
    let tmp = path.with_extension(format!("tmp{}", std::process::id()));
    std::fs::write(&tmp, text)
        .and_then(|()| std::fs::rename(&tmp, path))
        .map_err(|e| CliError(format!("{}: {e}", path.display())))
}

/// Copies the space file and its base experiment into the study folder (so the folder is
/// self-contained and resumable), returning the copied space file.
fn adopt(space_file: &Path, dir: &Path) -> Result<PathBuf, CliError> {
    let space = SearchSpace::load(space_file)?;
    std::fs::create_dir_all(dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    let base_copy = dir.join("base.toml");
    let base_text = std::fs::read_to_string(&space.base_file)
        .map_err(|e| format!("{}: {e}", space.base_file.display()))?;
    write_whole(&base_copy, &base_text)?;
    let mut source = space.source.clone();
    source["base"] = serde_json::Value::String("base.toml".into());
    source["name"] = serde_json::Value::String(space.name.clone());
    let copy = dir.join("space.toml");
    write_whole(&copy, &tuna::train::experiment::to_toml(&source))?;
    Ok(copy)
}

/// The file in a study folder that names a storage other than its `study.db`.
const STORAGE_FILE: &str = "storage.txt";

/// Where the trials of the study in `dir` live: the URL in `storage.txt`, else `study.db`.
fn location_of(dir: &Path) -> Result<Location, CliError> {
    let f = dir.join(STORAGE_FILE);
    match std::fs::read_to_string(&f) {
        Ok(text) => {
            let line = text
                .lines()
                .map(str::trim)
                .find(|l| !l.is_empty() && !l.starts_with('#'))
                .unwrap_or("");
            Location::parse(line).map_err(|e| CliError(format!("{}: {e}", f.display())))
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            Ok(Location::Sqlite(dir.join("study.db")))
        }
        Err(e) => Err(CliError(format!("{}: {e}", f.display()))),
    }
}

/// Records `loc` in the folder's `storage.txt` (readable by its owner only: the URL may hold
/// a password).
fn remember_location(dir: &Path, loc: &Location) -> Result<(), CliError> {
    let f = dir.join(STORAGE_FILE);
    write_whole(
        &f,
        &format!(
            "# Where this study's trials live (tuna tune --storage); read by --resume and study show.\n{}\n",
            loc.as_arg()
        ),
    )?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let _ = std::fs::set_permissions(&f, std::fs::Permissions::from_mode(0o600));
    }
    Ok(())
}

/// Runs `tuna tune`.
pub fn run(args: &Args) -> Result<(), CliError> {
    tuna::link_all();
    let (dir, space_file, data_dirs, location) = match (&args.resume, &args.space) {
        (Some(dir), _) => {
            let f = dir.join("space.toml");
            if !f.is_file() {
                return Err(CliError(format!(
                    "{}: not a study folder (no space.toml inside)",
                    dir.display()
                )));
            }
            (dir.clone(), f, vec![PathBuf::from(".")], location_of(dir)?)
        }
        (None, Some(space)) => {
            let loaded = SearchSpace::load(space)?;
            let dir = args
                .out
                .clone()
                .unwrap_or_else(|| Path::new("studies").join(&loaded.name));
            let location = match &args.storage {
                None => Location::Sqlite(dir.join("study.db")),
                Some(arg) => match Location::parse(arg)? {
                    Location::Sqlite(p) => Location::Sqlite(
                        std::path::absolute(&p).map_err(|e| format!("{}: {e}", p.display()))?,
                    ),
                    pg => pg,
                },
            };
            let held = location_of(&dir)?;
            let has_study = dir.join("study.db").exists() || dir.join(STORAGE_FILE).exists();
            // A shared (PostgreSQL) study is joined: another worker may have set up this very
            // folder for the same storage. Anything else already here is refused.
            let joining = location.is_shared() && held.same_database(&location);
            if has_study && !joining {
                return Err(CliError(format!(
                    "{} already holds a study (trials in {held}); continue it with `tuna tune --resume {}` or pick another --out",
                    dir.display(),
                    dir.display()
                )));
            }
            let mut data_dirs = vec![PathBuf::from(".")];
            if let Some(d) = loaded.base_file.parent() {
                data_dirs.push(d.to_path_buf());
            }
            let copy = adopt(space, &dir)?;
            if args.storage.is_some() {
                remember_location(&dir, &location)?;
            }
            (dir.clone(), copy, data_dirs, location)
        }
        (None, None) => unreachable!("clap requires SPACE or --resume"),
    };
    let space = SearchSpace::load(&space_file)?;
    let budget = args.trials.or(space.trials).unwrap_or(20);
    let jobs = args.jobs.max(1);
    let cores = std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(1);
    tuna::tensor::set_default_num_threads((cores / jobs).max(1));
    let study = Study::new(space)?;
    let metric = study.space.objective.metric.clone();
    let direction = study.space.objective.direction;
    if !args.quiet {
        eprintln!(
            "study `{}` in {}{}: {budget} trials, {jobs} at a time, {} by {:?}",
            study.space.name,
            dir.display(),
            match &location {
                Location::Sqlite(_) => String::new(),
                shared => format!(" (trials in {shared}, shared with its other workers)"),
            },
            metric,
            direction
        );
    }
    let started = Instant::now();
    let best: Mutex<Option<(f64, u64)>> = Mutex::new(None);
    let tally = Mutex::new((0usize, 0usize, 0usize, 0.0f64));
    let quiet = args.quiet;
    let on_trial = |e: &TrialEvent| {
        let mut t = tally.lock().unwrap_or_else(|p| p.into_inner());
        match e.state {
            TrialState::Complete => t.0 += 1,
            TrialState::Pruned => t.1 += 1,
            _ => t.2 += 1,
        }
        t.3 += e.seconds;
        let done = t.0 + t.1 + t.2;
        let mut b = best.lock().unwrap_or_else(|p| p.into_inner());
        if e.state == TrialState::Complete {
            if let Some(v) = e.value {
                if b.is_none_or(|(bv, _)| direction.better(v, bv)) {
                    *b = Some((v, e.number));
                }
            }
        }
        if quiet {
            return;
        }
        let params: Vec<String> = e
            .params
            .iter()
            .map(|(k, v)| format!("{k}={}", show_value(&study.space, k, *v)))
            .collect();
        let outcome = match (e.state, e.value) {
            (TrialState::Failed, _) => format!(
                "failed: {}",
                e.error
                    .as_deref()
                    .unwrap_or("")
                    .lines()
                    .next()
                    .unwrap_or("")
            ),
            (s, Some(v)) => format!("{} {metric}={v:.5}", format!("{s:?}").to_lowercase()),
            (s, None) => format!("{s:?}").to_lowercase(),
        };
        let eta = (t.3 / done as f64) * budget.saturating_sub(done) as f64 / jobs as f64;
        eprintln!(
            "trial {:>3} {outcome} ({:.1}s) {}",
            e.number,
            e.seconds,
            params.join(" ")
        );
        eprintln!(
            "          [{} complete, {} pruned, {} failed; best {} ; ETA {:.0}s]",
            t.0,
            t.1,
            t.2,
            b.map(|(v, n)| format!("{v:.5} (trial {n})"))
                .unwrap_or_else(|| "-".into()),
            eta
        );
    };
    study.run(
        &RunOptions {
            trials: budget,
            timeout: args.timeout.map(Duration::from_secs_f64),
            jobs,
            dir: dir.clone(),
            storage: Some(location.clone()),
            data_dirs,
        },
        &on_trial,
    )?;
    finish(
        &study,
        &dir,
        &location,
        Some(started.elapsed().as_secs_f64()),
    )
}

fn finish(
    study: &Study,
    dir: &Path,
    location: &Location,
    wall: Option<f64>,
) -> Result<(), CliError> {
    let (mut storage, _, _) = Storage::open_existing(location, Some(&study.space.name))?;
    let trials = storage.trials()?;
    let c = counts(&trials);
    let written = write_reports(study, &trials, dir)?;
    println!(
        "{} trials: {} complete, {} pruned, {} failed{}{}",
        trials.len(),
        c["complete"],
        c["pruned"],
        c["failed"],
        match c["running"] {
            0 => String::new(),
            n => format!(", {n} running"),
        },
        wall.map(|w| format!(", {w:.0}s")).unwrap_or_default()
    );
    if c["running"] > 0 && location.is_shared() {
        println!(
            "  (on other workers; `tuna study show {}` rewrites the reports once they finish)",
            dir.display()
        );
    }
    match best_trial(&trials, study.space.objective.direction) {
        Some(b) => {
            println!(
                "best: trial {} {} = {:.5}{}",
                b.trial.number,
                study.space.objective.metric,
                b.trial.value.unwrap_or(f64::NAN),
                b.attrs["test"]["test_accuracy"]
                    .as_f64()
                    .map(|a| format!(" (test accuracy {:.2}%)", a * 100.0))
                    .unwrap_or_default()
            );
            for (k, v) in &b.trial.params {
                println!("  {k} = {}", show_value(&study.space, k, *v));
            }
            println!(
                "  run it again: tuna train {}",
                dir.join("best.toml").display()
            );
        }
        None => println!("no trial completed"),
    }
    let front = pareto_front(&study.space, &trials);
    if !front.is_empty() {
        let names: Vec<&str> = std::iter::once(&study.space.objective)
            .chain(&study.space.also)
            .map(|o| o.metric.as_str())
            .collect();
        println!("Pareto front ({}):", names.join(", "));
        for t in front {
            let v = objective_values(t).unwrap_or_default();
            let shown: Vec<String> = names
                .iter()
                .zip(&v)
                .map(|(n, x)| format!("{n} = {x:.5}"))
                .collect();
            println!("  trial {:>3}: {}", t.trial.number, shown.join(", "));
        }
    }
    println!("wrote {} in {}", written.join(", "), dir.display());
    Ok(())
}

/// Runs `tuna study`.
pub fn run_study(args: &StudyArgs) -> Result<(), CliError> {
    tuna::link_all();
    match &args.command {
        StudyCommand::Show { dir } => {
            let space = SearchSpace::load(&dir.join("space.toml"))?;
            let study = Study::new(space)?;
            let location = location_of(dir)?;
            let (mut storage, _, _) = Storage::open_existing(&location, Some(&study.space.name))?;
            let trials = storage.trials()?;
            print!("{}", table(&study.space, &trials));
            println!("importances (share of the objective's variance, η² per parameter):");
            for (name, v) in importances(&study.space, &trials) {
                println!("  {name:<40} {v:.3}");
            }
            finish(&study, dir, &location, None)
        }
    }
}
