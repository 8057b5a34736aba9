//! [`Progress`]: the live display of a training run, on stderr — a progress bar per epoch
//! with loss, running metric, lr and samples/s when stderr is a terminal, one plain line per
//! epoch when it is not (CI logs stay readable), or nothing in quiet mode. A closed stderr
//! (a closed terminal, `2>&1 | head`) ends the display, never the run.

use std::io::IsTerminal;
use std::time::Instant;

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use tuna_nn::Module;

use crate::callback::{Callback, Flow, RunInfo, StepInfo};
use crate::record::EpochRecord;
use crate::summary::RunSummary;

/// How a run reports progress.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum DisplayMode {
    /// A live bar on a terminal, plain lines otherwise.
    #[default]
    Auto,
    /// Always the live bar (drawn on stderr).
    Bar,
    /// One line per epoch and a final summary, no bar.
    Plain,
    /// Nothing.
    Quiet,
}

/// The results of a finished run as text lines (best epoch, test metrics, time): what
/// `tuna train` prints on stdout.
pub fn summary_lines(summary: &RunSummary) -> Vec<String> {
    let mut out = Vec::new();
    if let Some(best) = summary.best_epoch {
        out.push(format!(
            "best epoch {best} by {}{}",
            summary.monitor,
            if summary.restored_best {
                " (weights restored)"
            } else {
                ""
            }
        ));
    }
    if !summary.test.is_empty() {
        let parts: Vec<String> = summary
            .test
            .iter()
            .map(|(k, v)| format!("{k} {}", format_metric(k, v.0)))
            .collect();
        out.push(format!("test: {}", parts.join("  ")));
    }
    out.push(format!(
        "{:.1}s, {:.0} samples/s",
        summary.wall_seconds, summary.samples_per_second
    ));
    out
}

/// The progress display, a [`Callback`].
#[derive(Debug)]
pub struct Progress {
    mode: DisplayMode,
    bar: Option<ProgressBar>,
    epochs: usize,
    epoch_start: Instant,
    samples: usize,
    loss_sum: f64,
    steps: usize,
}

impl Progress {
    /// A display in `mode` ([`DisplayMode::Auto`] picks the bar on a terminal).
    pub fn new(mode: DisplayMode) -> Self {
        let mode = match mode {
            DisplayMode::Auto if std::io::stderr().is_terminal() => DisplayMode::Bar,
            DisplayMode::Auto => DisplayMode::Plain,
            m => m,
        };
        Progress {
            mode,
            bar: None,
            epochs: 0,
            epoch_start: Instant::now(),
            samples: 0,
            loss_sum: 0.0,
            steps: 0,
        }
    }
}

/// Formats a metric value: percentages for accuracy-like metrics, else 4 significant
/// decimals.
pub fn format_metric(name: &str, v: f64) -> String {
    let pct = ["accuracy", "precision", "recall", "f1"]
        .iter()
        .any(|m| name.ends_with(m));
    if pct && v.is_finite() {
        format!("{:.2}%", v * 100.0)
    } else {
        format!("{v:.4}")
    }
}

/// One line describing an epoch: `epoch 3/10  train_loss 0.2143  val_loss 0.2510 ...`.
pub fn epoch_line(record: &EpochRecord, epochs: usize) -> String {
    let mut line = format!("epoch {:>3}/{epochs}", record.epoch);
    let mut keys: Vec<&String> = record.values.keys().collect();
    // loss first, then the metrics, then lr and time
    keys.sort_by_key(|k| {
        let rank = if k.ends_with("_loss") {
            0
        } else if *k == "lr" {
            2
        } else if *k == "seconds" {
            3
        } else {
            1
        };
        (rank, k.starts_with("val_"), (*k).clone())
    });
    for k in keys {
        let v = record.values[k].0;
        let shown = match k.as_str() {
            "lr" => format!("{v:.3e}"),
            "seconds" => format!("{v:.1}s"),
            _ => format_metric(k, v),
        };
        line.push_str(&format!("  {k} {shown}"));
    }
    line
}

/// Writes one line to stderr; a closed or failing stderr (a closed terminal, `2>&1 | head`)
/// is ignored, so progress never stops a run.
macro_rules! say {
    ($($arg:tt)*) => {{
        use std::io::Write as _;
        let _ = writeln!(std::io::stderr().lock(), $($arg)*);
    }};
}

impl Callback for Progress {
    fn on_train_begin(&mut self, info: &RunInfo) {
        self.epochs = info.epochs;
        if self.mode == DisplayMode::Quiet {
            return;
        }
        let resumed = if info.first_epoch > 1 {
            format!(", resuming at epoch {}", info.first_epoch)
        } else {
            String::new()
        };
        say!(
            "training `{}`: {} parameters, {} epochs x {} batches ({} samples){resumed}",
            info.name,
            info.parameters,
            info.epochs,
            info.batches_per_epoch,
            info.samples_per_epoch
        );
    }

    fn on_epoch_begin(&mut self, epoch: usize, batches: usize) {
        self.epoch_start = Instant::now();
        self.samples = 0;
        self.loss_sum = 0.0;
        self.steps = 0;
        if self.mode == DisplayMode::Bar {
            let bar = ProgressBar::with_draw_target(
                Some(batches as u64),
                ProgressDrawTarget::stderr_with_hz(10),
            );
            bar.set_style(
                ProgressStyle::with_template(
                    "{prefix} [{bar:30.cyan/blue}] {pos}/{len} {msg} ({eta})",
                )
                .unwrap_or_else(|_| ProgressStyle::default_bar())
                .progress_chars("=> "),
            );
            bar.set_prefix(format!("epoch {epoch}/{}", self.epochs));
            self.bar = Some(bar);
        }
    }

    fn on_batch_end(&mut self, step: &StepInfo, _model: &dyn Module) -> Flow {
        self.samples += step.samples;
        self.loss_sum += step.loss;
        self.steps += 1;
        if let Some(bar) = &self.bar {
            let secs = self.epoch_start.elapsed().as_secs_f64().max(1e-9);
            let mut msg = format!("loss {:.4}", self.loss_sum / self.steps as f64);
            if let Some((name, v)) = &step.running_metric {
                msg.push_str(&format!(" {name} {}", format_metric(name, *v)));
            }
            msg.push_str(&format!(
                " lr {:.2e} {:.0} samples/s",
                step.lr,
                self.samples as f64 / secs
            ));
            bar.set_message(msg);
            bar.set_position((step.batch + 1) as u64);
        }
        Flow::Continue
    }

    fn on_epoch_end(&mut self, record: &EpochRecord, _model: &dyn Module) -> Flow {
        if let Some(bar) = self.bar.take() {
            bar.finish_and_clear();
        }
        if self.mode != DisplayMode::Quiet {
            say!("{}", epoch_line(record, self.epochs));
        }
        Flow::Continue
    }

    fn on_train_end(&mut self, summary: &RunSummary) {
        if self.mode == DisplayMode::Quiet {
            return;
        }
        if let Some(reason) = &summary.stopped_early {
            say!("stopped: {reason}");
        }
    }
}
