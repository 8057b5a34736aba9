//! [`RunDir`]: the folder a training run leaves behind.
//!
//! ```text
//! runs/mnist-mlp/
//!   config.toml          the resolved experiment (defaults filled in, overrides applied)
//!   metrics.jsonl        one JSON object per epoch (see EpochRecord)
//!   summary.json         best epoch, best/final/test metrics, wall time (see RunSummary)
//!   model.safetensors    the final weights, PyTorch key names
//!   checkpoints/last.ckpt  everything needed to resume (see checkpoint)
//!   checkpoints/best.ckpt  the best epoch's checkpoint
//!   curves.svg, curves.png learning curves: loss and each metric (train vs validation), lr
//! ```

use std::io::Write;
use std::path::{Path, PathBuf};

use crate::checkpoint::write_atomic;
use crate::error::TrainError;
use crate::record::EpochRecord;
use crate::summary::RunSummary;

/// A run folder.
#[derive(Clone, Debug)]
pub struct RunDir {
    path: PathBuf,
}

impl RunDir {
    /// Creates `path` (and `checkpoints/` inside). A folder that already holds a run is
    /// refused (resume it with [`RunDir::open`] instead).
    ///
    /// # Errors
    /// The folder holds a run, or cannot be created.
    pub fn create(path: &Path) -> Result<RunDir, TrainError> {
        let run = RunDir {
            path: path.to_path_buf(),
        };
        if run.config_path().exists() {
            return Err(TrainError::io(
                path,
                "already holds a run; resume it with `tuna train --resume`, or choose another --out",
            ));
        }
        std::fs::create_dir_all(run.checkpoint_dir()).map_err(|e| TrainError::io(path, e))?;
        Ok(run)
    }

    /// A fresh folder under `parent` named `name`, or `name-2`, `name-3`, ... if taken.
    ///
    /// # Errors
    /// The folder cannot be created.
    pub fn create_unique(parent: &Path, name: &str) -> Result<RunDir, TrainError> {
        let mut candidate = parent.join(name);
        let mut i = 2;
        while candidate.exists() {
            candidate = parent.join(format!("{name}-{i}"));
            i += 1;
        }
        RunDir::create(&candidate)
    }

    /// An existing run folder (for resuming, evaluating or showing).
    ///
    /// # Errors
    /// `path` is not a run folder (no `config.toml`).
    pub fn open(path: &Path) -> Result<RunDir, TrainError> {
        let run = RunDir {
            path: path.to_path_buf(),
        };
        if !run.config_path().is_file() {
            return Err(TrainError::io(
                path,
                "not a Tuna run folder (no config.toml inside)",
            ));
        }
        Ok(run)
    }

    /// The folder.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// `config.toml`.
    pub fn config_path(&self) -> PathBuf {
        self.path.join("config.toml")
    }

    /// `metrics.jsonl`.
    pub fn metrics_path(&self) -> PathBuf {
        self.path.join("metrics.jsonl")
    }

    /// `summary.json`.
    pub fn summary_path(&self) -> PathBuf {
        self.path.join("summary.json")
    }

    /// `model.safetensors`.
    pub fn weights_path(&self) -> PathBuf {
        self.path.join("model.safetensors")
    }

    /// `checkpoints/`.
    pub fn checkpoint_dir(&self) -> PathBuf {
        self.path.join("checkpoints")
    }

    /// `checkpoints/last.ckpt`.
    pub fn last_checkpoint(&self) -> PathBuf {
        self.checkpoint_dir().join("last.ckpt")
    }

    /// `checkpoints/best.ckpt`.
    pub fn best_checkpoint(&self) -> PathBuf {
        self.checkpoint_dir().join("best.ckpt")
    }

    /// `curves.<ext>`.
    pub fn curves_path(&self, ext: &str) -> PathBuf {
        self.path.join(format!("curves.{ext}"))
    }

    /// Writes `config.toml`.
    ///
    /// # Errors
    /// An I/O failure.
    pub fn write_config(&self, toml: &str) -> Result<(), TrainError> {
        write_atomic(&self.config_path(), toml.as_bytes())
    }

    /// Appends one line to `metrics.jsonl` and flushes it.
    ///
    /// # Errors
    /// An I/O failure.
    pub fn append_record(&self, record: &EpochRecord) -> Result<(), TrainError> {
        let path = self.metrics_path();
        let line = serde_json::to_string(record).map_err(|e| TrainError::io(&path, e))?;
        let mut f = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&path)
            .map_err(|e| TrainError::io(&path, e))?;
        writeln!(f, "{line}").map_err(|e| TrainError::io(&path, e))?;
        f.sync_data().map_err(|e| TrainError::io(&path, e))
    }

    /// Rewrites `metrics.jsonl` from `history` (after a resume, so the file matches the
    /// checkpoint exactly).
    ///
    /// # Errors
    /// An I/O failure.
    pub fn write_records(&self, history: &[EpochRecord]) -> Result<(), TrainError> {
        let path = self.metrics_path();
        let mut text = String::new();
        for r in history {
            text.push_str(&serde_json::to_string(r).map_err(|e| TrainError::io(&path, e))?);
            text.push('\n');
        }
        write_atomic(&path, text.as_bytes())
    }

    /// Reads `metrics.jsonl`.
    ///
    /// # Errors
    /// An unreadable file, or a line that is not an epoch record (naming the line).
    pub fn read_records(&self) -> Result<Vec<EpochRecord>, TrainError> {
        read_records(&self.metrics_path())
    }

    /// Writes `summary.json`.
    ///
    /// # Errors
    /// An I/O failure.
    pub fn write_summary(&self, summary: &RunSummary) -> Result<(), TrainError> {
        let path = self.summary_path();
        let text = serde_json::to_string_pretty(summary).map_err(|e| TrainError::io(&path, e))?;
        write_atomic(&path, text.as_bytes())
    }

    /// Reads `summary.json`.
    ///
    /// # Errors
    /// A missing file (the run has not finished) or one that does not parse.
    pub fn read_summary(&self) -> Result<RunSummary, TrainError> {
        let path = self.summary_path();
        let text = std::fs::read_to_string(&path).map_err(|e| TrainError::io(&path, e))?;
        serde_json::from_str(&text).map_err(|e| TrainError::io(&path, e))
    }
}

/// Reads a `metrics.jsonl` file.
///
/// # Errors
/// An unreadable file, or a line that is not an epoch record (naming the line).
pub fn read_records(path: &Path) -> Result<Vec<EpochRecord>, TrainError> {
    let text = match std::fs::read_to_string(path) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(TrainError::io(path, e)),
    };
    text.lines()
        .enumerate()
        .filter(|(_, l)| !l.trim().is_empty())
        .map(|(i, l)| {
            serde_json::from_str(l)
                .map_err(|e| TrainError::io(path, format!("line {}: {e}", i + 1)))
        })
        .collect()
}
