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

use tuna::tune::cores::choose_split;
use tuna::tune::report::{
    best_trial, counts, importances, objective_values, pareto_front, show_value, table,
    write_reports,
};
use tuna::tune::runner::{RunOptions, Study, TrialEvent};
use tuna::tune::search::SearchSpace;
use tuna::tune::storage::{self, Location, TrialRecord};
use tuna::tune::{Direction, TrialState};

use super::output::{errln, outln};
use super::CliError;

/// Arguments of `tuna tune`.
#[derive(Debug, clap::Args)]
#[command(after_help = "Examples:
  tuna tune examples/tune/mnist-mlp-space.toml --trials 40 --jobs 2
  tuna tune examples/tune/mnist-mlp-space.toml --jobs auto   # measure the model, then split the cores
  tuna tune examples/tune/mnist-mlp-space.toml --timeout 600 --out studies/mlp
  tuna tune examples/tune/mnist-mlp-space.toml --set train.epochs=5   # override the base
  tuna tune examples/tune/mnist-mlp-space.toml --seed 1 --out studies/mlp-seed1
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
    /// Trials run at once (at least 1; each trial gets cores/jobs kernel threads), or `auto`:
    /// measure the base experiment on 1 and more threads and split the cores between trials
    /// and threads per trial for the most trials per hour.
    #[arg(long, default_value = "1", value_parser = parse_jobs)]
    pub jobs: Jobs,
    /// Override a field of the base experiment, as `tuna train --set` (repeatable); the
    /// study folder's base.toml records the result.
    #[arg(long = "set", value_name = "KEY=VALUE", conflicts_with = "resume")]
    pub set: Vec<String>,
    /// The study seed (default: the space file's `seed`, else 0): the sampler's and the
    /// pruner's draws; the trials' experiments keep the base file's seed. Recorded in the
    /// folder's space.toml, so --resume continues with it.
    #[arg(long, conflicts_with = "resume")]
    pub seed: Option<u64>,
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

/// `--jobs`: a count of trials run at once, or `auto`.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Jobs {
    /// This many trials at once, each with cores / count kernel threads.
    Count(usize),
    /// The split of the cores measured on the base experiment ([`tuna::tune::cores`]).
    Auto,
}

/// `--jobs`: a count of at least 1, or `auto`.
fn parse_jobs(s: &str) -> Result<Jobs, String> {
    if s.trim().eq_ignore_ascii_case("auto") {
        return Ok(Jobs::Auto);
    }
    match s.trim().parse::<usize>() {
        Ok(0) => Err("must be at least 1 (the number of trials run at once) or `auto`".into()),
        Ok(n) => Ok(Jobs::Count(n)),
        Err(e) => Err(format!(
            "expected a whole number of trials run at once, or `auto`: {e}"
        )),
    }
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
        .map_err(|e| CliError::Message(format!("{}: {e}", path.display())))
}

/// Copies the space file and its base experiment (with the `--set` overrides applied) into
/// the study folder (so the folder is self-contained and resumable), returning the copied
/// space file.
fn adopt(space: &SearchSpace, overrides: &[String], dir: &Path) -> Result<PathBuf, CliError> {
    std::fs::create_dir_all(dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    let base_copy = dir.join("base.toml");
    let base_text = if overrides.is_empty() {
        let text = std::fs::read_to_string(&space.base_file)
            .map_err(|e| format!("{}: {e}", space.base_file.display()))?;
        with_resolved_data_paths(&text, space)?
    } else {
        format!(
            "# {} with --set {}\n{}",
            space.base_file.display(),
            overrides.join(" --set "),
            tuna::train::experiment::to_toml(&space.base)
        )
    };
    write_whole(&base_copy, &base_text)?;
    let mut source = space.source.clone();
    source["base"] = serde_json::Value::String("base.toml".into());
    source["name"] = serde_json::Value::String(space.name.clone());
    let copy = dir.join("space.toml");
    write_whole(&copy, &tuna::train::experiment::to_toml(&source))?;
    Ok(copy)
}

/// The base file's `text` with its `[data]` paths replaced by the absolute ones the study
/// resolved (relative to the base file), comments and order kept: the copy in the study
/// folder, and the `best.toml` written from it, then find the data wherever the folder is.
fn with_resolved_data_paths(text: &str, space: &SearchSpace) -> Result<String, CliError> {
    use tuna::train::experiment::{edit_toml, read_value, Edit};
    let raw = read_value(&space.base_file)?;
    let mut edits = Vec::new();
    if let (Some(before), Some(after)) = (
        raw.get("data").and_then(|d| d.as_object()),
        space.base.get("data").and_then(|d| d.as_object()),
    ) {
        for (key, value) in after {
            if value.is_string() && before.get(key) != Some(value) {
                edits.push(Edit::Set(format!("data.{key}"), value.clone()));
            }
        }
    }
    if edits.is_empty() {
        return Ok(text.to_string());
    }
    edit_toml(text, &edits)
        .map_err(|e| CliError::Message(format!("{}: {e}", space.base_file.display())))
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
            Location::parse(line).map_err(|e| CliError::Message(format!("{}: {e}", f.display())))
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            Ok(Location::Sqlite(dir.join("study.db")))
        }
        Err(e) => Err(CliError::Message(format!("{}: {e}", f.display()))),
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

/// A study about to run: its folder, copied space file, data folders and storage.
struct Setup {
    dir: PathBuf,
    space_file: PathBuf,
    data_dirs: Vec<PathBuf>,
    location: Location,
}

/// The study folder of `--resume DIR`.
fn resume_setup(dir: &Path) -> Result<Setup, CliError> {
    let space_file = dir.join("space.toml");
    if !space_file.is_file() {
        return Err(CliError::Message(format!(
            "{}: not a study folder (no space.toml inside)",
            dir.display()
        )));
    }
    Ok(Setup {
        dir: dir.to_path_buf(),
        space_file,
        data_dirs: vec![PathBuf::from(".")],
        location: location_of(dir)?,
    })
}

/// A new study folder for `SPACE` (or, for a shared storage, the folder of the study this
/// worker joins), with the space and base copied in.
fn new_setup(args: &Args, space: &Path) -> Result<Setup, CliError> {
    let mut loaded = SearchSpace::load_with(space, &args.set)?;
    if let Some(seed) = args.seed {
        loaded.seed = seed;
        loaded.source["seed"] = serde_json::Value::from(seed);
    }
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
            other => other,
        },
    };
    let held = location_of(&dir)?;
    let has_study = dir.join("study.db").exists() || dir.join(STORAGE_FILE).exists();
    // A shared (PostgreSQL) study is joined: another worker may have set up this very
    // folder for the same storage. Anything else already here is refused.
    let joining = location.is_shared() && held.same_database(&location);
    if has_study && !joining {
        return Err(CliError::Message(format!(
            "{} already holds a study (trials in {held}); continue it with `tuna tune --resume {}` or pick another --out",
            dir.display(),
            dir.display()
        )));
    }
    let mut data_dirs = vec![PathBuf::from(".")];
    if let Some(d) = loaded.base_file.parent() {
        data_dirs.push(d.to_path_buf());
    }
    // A misspelled path or metric fails here, naming the user's file, before the folder exists.
    loaded.check(&data_dirs)?;
    let space_file = adopt(&loaded, &args.set, &dir)?;
    if args.storage.is_some() {
        remember_location(&dir, &location)?;
    }
    Ok(Setup {
        dir,
        space_file,
        data_dirs,
        location,
    })
}

/// The progress line's running totals: complete, pruned and failed trials, their seconds,
/// and the best value with its trial.
#[derive(Default)]
struct Tally {
    complete: usize,
    pruned: usize,
    failed: usize,
    seconds: f64,
    best: Option<(f64, u64)>,
}

impl Tally {
    fn add(
        &mut self,
        state: TrialState,
        value: Option<f64>,
        seconds: f64,
        number: u64,
        direction: Direction,
    ) {
        match state {
            TrialState::Complete => self.complete += 1,
            TrialState::Pruned => self.pruned += 1,
            _ => self.failed += 1,
        }
        self.seconds += seconds;
        if let (TrialState::Complete, Some(v)) = (state, value) {
            if self.best.is_none_or(|(b, _)| direction.better(v, b)) {
                self.best = Some((v, number));
            }
        }
    }

    /// The totals of the trials a resumed (or joined) study already holds: the finished ones,
    /// interrupted ones left out (they are rerun).
    fn of_existing(location: &Location, name: &str, direction: Direction) -> Tally {
        let mut tally = Tally::default();
        let Ok((mut storage, _, _)) = storage::open_existing(location, Some(name)) else {
            return tally;
        };
        for t in storage.trials().unwrap_or_default() {
            if t.trial.state != TrialState::Running && !t.interrupted() {
                let (number, value) = (t.trial.number, t.trial.value);
                tally.add(
                    t.trial.state,
                    value,
                    t.seconds.unwrap_or(0.0),
                    number,
                    direction,
                );
            }
        }
        tally
    }

    fn done(&self) -> usize {
        self.complete + self.pruned + self.failed
    }
}

/// Prints a finished trial and the study's totals (stderr).
fn progress(study: &Study, e: &TrialEvent, t: &Tally, budget: usize, jobs: usize) {
    let metric = &study.space.objective.metric;
    let params: Vec<String> = e
        .params
        .iter()
        .map(|(k, v)| format!("{k}={}", show_value(&study.space, k, *v)))
        .collect();
    let outcome = match (e.state, e.value) {
        (TrialState::Failed, _) => {
            let error = e.error.as_deref().unwrap_or("");
            format!("failed: {}", error.lines().next().unwrap_or(""))
        }
        (s, Some(v)) => format!("{} {metric}={v:.5}", format!("{s:?}").to_lowercase()),
        (s, None) => format!("{s:?}").to_lowercase(),
    };
    let done = t.done().max(1);
    let eta = (t.seconds / done as f64) * budget.saturating_sub(done) as f64 / jobs as f64;
    errln!(
        "trial {:>3} {outcome} ({:.1}s) {}",
        e.number,
        e.seconds,
        params.join(" ")
    );
    errln!(
        "          [{} complete, {} pruned, {} failed; best {} ; ETA {eta:.0}s]",
        t.complete,
        t.pruned,
        t.failed,
        t.best
            .map(|(v, n)| format!("{v:.5} (trial {n})"))
            .unwrap_or_else(|| "-".into()),
    );
}

/// Runs `tuna tune`.
pub fn run(args: &Args) -> Result<(), CliError> {
    tuna::link_all();
    let setup = match (&args.resume, &args.space) {
        (Some(dir), _) => resume_setup(dir)?,
        (None, Some(space)) => new_setup(args, space)?,
        (None, None) => unreachable!("clap requires SPACE or --resume"),
    };
    let Setup {
        dir,
        space_file,
        data_dirs,
        location,
    } = setup;
    let study = Study::new(SearchSpace::load(&space_file)?);
    let budget = args.trials.or(study.space.trials).unwrap_or(20);
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    let (jobs, threads) = match args.jobs {
        Jobs::Count(n) => (n.max(1), None),
        Jobs::Auto => {
            let split = choose_split(&study.space, &data_dirs, cores, budget)?;
            if !args.quiet {
                let (counts, speedups): (Vec<String>, Vec<String>) = split
                    .measured
                    .iter()
                    .map(|(t, s)| (t.to_string(), format!("{s:.2}x")))
                    .unzip();
                errln!(
                    "--jobs auto: one trial's evaluation runs {} as fast on {} thread(s) of {cores} cores: {} trial(s) at once, {} thread(s) each",
                    speedups.join(" / "),
                    counts.join(" / "),
                    split.jobs,
                    split.threads
                );
            }
            (split.jobs, Some(split.threads))
        }
    };
    let (metric, direction) = (
        &study.space.objective.metric,
        study.space.objective.direction,
    );
    if !args.quiet {
        errln!(
            "study `{}` in {}{}: {budget} trials, {jobs} at a time, {metric} by {direction:?}",
            study.space.name,
            dir.display(),
            match &location {
                Location::Sqlite(_) => String::new(),
                shared => format!(" (trials in {shared}, shared with its other workers)"),
            },
        );
    }
    let started = Instant::now();
    let tally = Mutex::new(Tally::of_existing(&location, &study.space.name, direction));
    let on_trial = |e: &TrialEvent| {
        let mut t = tally.lock().unwrap_or_else(|p| p.into_inner());
        t.add(e.state, e.value, e.seconds, e.number, direction);
        if !args.quiet {
            progress(&study, e, &t, budget, jobs);
        }
    };
    let opts = RunOptions {
        trials: budget,
        timeout: args.timeout.map(Duration::from_secs_f64),
        jobs,
        dir: dir.clone(),
        storage: Some(location.clone()),
        data_dirs,
        // Each worker thread sets its own trials' budget (default cores / jobs).
        threads,
    };
    study.run(&opts, &on_trial)?;
    let trials = finish(
        &study,
        &dir,
        &location,
        Some(started.elapsed().as_secs_f64()),
    )?;
    let c = counts(&trials);
    if c["complete"] == 0 && !(location.is_shared() && c["running"] > 0) {
        return Err(CliError::Message(no_trial_completed(&trials)));
    }
    Ok(())
}

/// The error of a study that has no complete trial: how many failed and the first error.
fn no_trial_completed(trials: &[TrialRecord]) -> String {
    let c = counts(trials);
    let first = trials
        .iter()
        .find(|t| t.trial.state == TrialState::Failed && !t.interrupted())
        .and_then(|t| Some((t.trial.number, t.error.as_deref()?)));
    format!(
        "no trial completed ({} trials: {} pruned, {} failed){}",
        trials.len(),
        c["pruned"],
        c["failed"],
        first
            .map(|(n, e)| format!(
                "; trial {n} failed with: {}",
                e.lines().next().unwrap_or("")
            ))
            .unwrap_or_default()
    )
}

/// Prints the study's totals, best trial and Pareto front, writes the reports, and returns
/// the trials.
fn finish(
    study: &Study,
    dir: &Path,
    location: &Location,
    wall: Option<f64>,
) -> Result<Vec<TrialRecord>, CliError> {
    let (mut storage, _, _) = storage::open_existing(location, Some(&study.space.name))?;
    let trials = storage.trials()?;
    let c = counts(&trials);
    let written = write_reports(study, &trials, dir)?;
    outln!(
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
        outln!(
            "  (on other workers; `tuna study show {}` rewrites the reports once they finish)",
            dir.display()
        );
    }
    print_best(study, &trials, dir)?;
    print_pareto(study, &trials)?;
    outln!("wrote {} in {}", written.join(", "), dir.display());
    Ok(trials)
}

fn print_best(study: &Study, trials: &[TrialRecord], dir: &Path) -> Result<(), CliError> {
    let Some(b) = best_trial(trials, study.space.objective.direction) else {
        outln!("no trial completed");
        return Ok(());
    };
    outln!(
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
        outln!("  {k} = {}", show_value(&study.space, k, *v));
    }
    outln!(
        "  run it again: tuna train {}",
        dir.join("best.toml").display()
    );
    Ok(())
}

fn print_pareto(study: &Study, trials: &[TrialRecord]) -> Result<(), CliError> {
    let front = pareto_front(&study.space, trials);
    if front.is_empty() {
        return Ok(());
    }
    let names: Vec<&str> = std::iter::once(&study.space.objective)
        .chain(&study.space.also)
        .map(|o| o.metric.as_str())
        .collect();
    outln!("Pareto front ({}):", names.join(", "));
    for t in front {
        let v = objective_values(t).unwrap_or_default();
        let shown: Vec<String> = names
            .iter()
            .zip(&v)
            .map(|(n, x)| format!("{n} = {x:.5}"))
            .collect();
        outln!("  trial {:>3}: {}", t.trial.number, shown.join(", "));
    }
    Ok(())
}

/// Runs `tuna study`.
pub fn run_study(args: &StudyArgs) -> Result<(), CliError> {
    tuna::link_all();
    match &args.command {
        StudyCommand::Show { dir } => {
            let study = Study::new(SearchSpace::load(&dir.join("space.toml"))?);
            let location = location_of(dir)?;
            let (mut storage, _, _) = storage::open_existing(&location, Some(&study.space.name))?;
            let trials = storage.trials()?;
            super::output::text(&table(&study.space, &trials))?;
            outln!("importances (share of the objective's variance, η² per parameter):");
            for (name, v) in importances(&study.space, &trials) {
                outln!("  {name:<40} {v:.3}");
            }
            finish(&study, dir, &location, None).map(|_| ())
        }
    }
}
