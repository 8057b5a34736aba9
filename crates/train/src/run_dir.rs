//! [`RunDir`]: the folder a training run leaves behind.
//!
//! ```text
//! runs/mnist-mlp/
//!   run.json             Tuna's manifest: format version, the Tuna version, when and where the
//!                        folder was created, the size and CRC-32 of every weights file
//!   config.toml          the resolved experiment (defaults filled in, overrides applied, data
//!                        paths absolute, sizes filled from the data)
//!   preprocessing.json   everything fitted on the training split (feature statistics,
//!                        categories, class names, vocabularies), reused by eval and predict
//!   metrics.jsonl        one JSON object per epoch (see EpochRecord)
//!   signals.jsonl        the diagnosis signals (gradient norms, update ratios, timing, ...)
//!   summary.json         best epoch, best/final/test metrics, wall time (see RunSummary)
//!   failure.json         the error a failed run stopped with (a NaN loss, ...), if any
//!   model.safetensors    the final weights, PyTorch key names
//!   checkpoints/last.ckpt  everything needed to resume (see checkpoint)
//!   checkpoints/best.ckpt  the best epoch's checkpoint
//!   curves.svg, curves.png learning curves: loss and each metric (train vs validation), lr
//! ```
//!
//! A folder that is not empty and has no `run.json` (or `config.toml`) is not Tuna's: it is
//! never written into.

use std::collections::BTreeMap;
use std::io::Write;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use tuna_nn::Module;

use crate::checkpoint::write_atomic;
use crate::error::TrainError;
use crate::record::EpochRecord;
use crate::summary::RunSummary;

/// The manifest's `format` value.
pub const RUN_FORMAT: &str = "tuna-run";

/// The size and checksum of a file the run wrote.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct FileSum {
    /// Its length in bytes.
    pub bytes: u64,
    /// CRC-32 (IEEE) of its content, 8 hex digits.
    pub crc32: String,
}

impl FileSum {
    /// The sum of `bytes`.
    pub fn of(bytes: &[u8]) -> FileSum {
        FileSum {
            bytes: bytes.len() as u64,
            crc32: format!("{:08x}", crc32fast::hash(bytes)),
        }
    }
}

/// `run.json`: what marks a folder as a Tuna run and guards its weights.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct RunManifest {
    /// Always [`RUN_FORMAT`].
    pub format: String,
    /// The manifest's version (1).
    pub version: u32,
    /// The Tuna version that created the run.
    pub tuna_version: String,
    /// When the folder was created (seconds since the Unix epoch).
    pub created_unix: u64,
    /// The absolute path the folder was created at (the run may have moved since).
    pub created_at: PathBuf,
    /// Size and CRC-32 of every weights file, by name relative to the folder.
    #[serde(default)]
    pub files: BTreeMap<String, FileSum>,
    /// What the model predicts (classes and their names, regression targets and their
    /// scaling, a language model's vocabulary size): what `tuna predict` needs.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub task: Option<tuna_data::Task>,
}

impl RunManifest {
    fn new(path: &Path) -> Self {
        RunManifest {
            format: RUN_FORMAT.into(),
            version: 1,
            tuna_version: env!("CARGO_PKG_VERSION").into(),
            created_unix: std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map_or(0, |d| d.as_secs()),
            created_at: std::path::absolute(path).unwrap_or_else(|_| path.to_path_buf()),
            files: BTreeMap::new(),
            task: None,
        }
    }
}

/// A run folder.
#[derive(Clone, Debug)]
pub struct RunDir {
    path: PathBuf,
}

fn is_empty_dir(path: &Path) -> bool {
    std::fs::read_dir(path).is_ok_and(|mut d| d.next().is_none())
}

impl RunDir {
    /// Creates `path` (and `checkpoints/` inside) and writes its `run.json`. A folder that
    /// already holds a run is refused (resume it instead), and so is one that is not empty and
    /// not a Tuna run: nothing of the user's is overwritten.
    ///
    /// # Errors
    /// The folder holds a run or other files, or cannot be created.
    pub fn create(path: &Path) -> Result<RunDir, TrainError> {
        let run = RunDir {
            path: path.to_path_buf(),
        };
        if run.config_path().exists() || run.manifest_path().exists() {
            return Err(TrainError::io(
                path,
                "already holds a run; resume it with `tuna train --resume`, or choose another --out",
            ));
        }
        if path.exists() && !is_empty_dir(path) {
            return Err(TrainError::io(
                path,
                "exists and is not empty, and is not a Tuna run folder (no run.json): Tuna does \
                 not write into it; choose another --out or an empty folder",
            ));
        }
        std::fs::create_dir_all(run.checkpoint_dir()).map_err(|e| TrainError::io(path, e))?;
        run.write_manifest(&RunManifest::new(path))?;
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

    /// An existing run folder (for resuming, evaluating, predicting or showing).
    ///
    /// # Errors
    /// `path` is not a run folder (no `config.toml` inside).
    pub fn open(path: &Path) -> Result<RunDir, TrainError> {
        let run = RunDir {
            path: path.to_path_buf(),
        };
        if !path.is_dir() {
            return Err(TrainError::io(path, "no such run folder"));
        }
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

    /// `run.json`.
    pub fn manifest_path(&self) -> PathBuf {
        self.path.join("run.json")
    }

    /// `config.toml`.
    pub fn config_path(&self) -> PathBuf {
        self.path.join("config.toml")
    }

    /// `preprocessing.json`.
    pub fn preprocessing_path(&self) -> PathBuf {
        self.path.join("preprocessing.json")
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

    /// Reads `run.json` (`None` for a run written before manifests existed).
    ///
    /// # Errors
    /// A manifest that cannot be read or parsed.
    pub fn read_manifest(&self) -> Result<Option<RunManifest>, TrainError> {
        let path = self.manifest_path();
        match std::fs::read_to_string(&path) {
            Ok(t) => serde_json::from_str(&t)
                .map(Some)
                .map_err(|e| TrainError::io(&path, format!("not a run manifest: {e}"))),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(TrainError::io(&path, e)),
        }
    }

    fn write_manifest(&self, m: &RunManifest) -> Result<(), TrainError> {
        let path = self.manifest_path();
        let text = serde_json::to_string_pretty(m).map_err(|e| TrainError::io(&path, e))?;
        write_atomic(&path, text.as_bytes())
    }

    /// Records the task in `run.json`.
    ///
    /// # Errors
    /// An I/O failure.
    pub fn write_task(&self, task: &tuna_data::Task) -> Result<(), TrainError> {
        let mut m = self
            .read_manifest()?
            .unwrap_or_else(|| RunManifest::new(&self.path));
        m.task = Some(task.clone());
        self.write_manifest(&m)
    }

    /// Writes `config.toml`.
    ///
    /// # Errors
    /// An I/O failure.
    pub fn write_config(&self, toml: &str) -> Result<(), TrainError> {
        write_atomic(&self.config_path(), toml.as_bytes())
    }

    /// Writes `preprocessing.json` (pretty JSON).
    ///
    /// # Errors
    /// An I/O failure.
    pub fn write_preprocessing(&self, value: &serde_json::Value) -> Result<(), TrainError> {
        let path = self.preprocessing_path();
        let text = serde_json::to_string_pretty(value).map_err(|e| TrainError::io(&path, e))?;
        write_atomic(&path, text.as_bytes())
    }

    /// Reads `preprocessing.json` (`None` for a run written before it existed).
    ///
    /// # Errors
    /// A file that cannot be read or is not JSON.
    pub fn read_preprocessing(&self) -> Result<Option<serde_json::Value>, TrainError> {
        let path = self.preprocessing_path();
        match std::fs::read_to_string(&path) {
            Ok(t) => serde_json::from_str(&t)
                .map(Some)
                .map_err(|e| TrainError::io(&path, format!("not JSON: {e}"))),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(TrainError::io(&path, e)),
        }
    }

    /// Writes the model's weights to `model.safetensors` atomically and records their size
    /// and checksum in `run.json`.
    ///
    /// # Errors
    /// An I/O failure.
    pub fn write_weights(&self, model: &dyn Module) -> Result<(), TrainError> {
        let path = self.weights_path();
        let bytes =
            tuna_nn::serialize_state(&model.state_dict()).map_err(|e| TrainError::io(&path, e))?;
        write_atomic(&path, &bytes)?;
        let mut m = self
            .read_manifest()?
            .unwrap_or_else(|| RunManifest::new(&self.path));
        m.files
            .insert("model.safetensors".into(), FileSum::of(&bytes));
        self.write_manifest(&m)
    }

    /// Loads `model.safetensors` into `model` after checking it against the size and
    /// checksum `run.json` recorded (a flipped byte is an error, never a wrong model).
    ///
    /// # Errors
    /// A missing file (has the run finished?), a checksum mismatch, or weights that do not fit
    /// the model.
    pub fn load_weights(&self, model: &dyn Module) -> Result<(), TrainError> {
        let path = self.weights_path();
        let bytes = std::fs::read(&path).map_err(|e| {
            TrainError::io(
                &path,
                format!("{e} (has the run finished? try --weights last)"),
            )
        })?;
        if let Some(sum) = self
            .read_manifest()?
            .and_then(|m| m.files.get("model.safetensors").cloned())
        {
            let found = FileSum::of(&bytes);
            if found != sum {
                return Err(TrainError::io(
                    &path,
                    format!(
                        "corrupt: {} bytes with CRC-32 {}, but the run wrote {} bytes with CRC-32 \
                         {} (run.json); use --weights last or best to load a checkpoint instead",
                        found.bytes, found.crc32, sum.bytes, sum.crc32
                    ),
                ));
            }
        }
        let state = tuna_nn::deserialize_state(&bytes).map_err(|e| TrainError::io(&path, e))?;
        tuna_nn::load_state_dict(model, &state, true).map_err(|e| TrainError::io(&path, e))?;
        Ok(())
    }

    /// Appends one line to `metrics.jsonl`. Not synced to disk: a resumed run rewrites the
    /// file from its checkpoint.
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
        writeln!(f, "{line}").map_err(|e| TrainError::io(&path, e))
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

    /// Removes `summary.json` (a finished run continued for more epochs is unfinished again).
    ///
    /// # Errors
    /// An I/O failure other than the file being absent.
    pub fn remove_summary(&self) -> Result<(), TrainError> {
        let _ = std::fs::remove_file(self.failure_path());
        match std::fs::remove_file(self.summary_path()) {
            Err(e) if e.kind() != std::io::ErrorKind::NotFound => {
                Err(TrainError::io(self.summary_path(), e))
            }
            _ => Ok(()),
        }
    }

    /// `failure.json`: why the run stopped with an error.
    pub fn failure_path(&self) -> PathBuf {
        self.path.join("failure.json")
    }

    /// Records why the run stopped with an error (`failure.json`), so that `tuna diagnose`
    /// on the folder sees what the training command saw.
    ///
    /// # Errors
    /// An I/O failure.
    pub fn write_failure(&self, error: &str) -> Result<(), TrainError> {
        let text = serde_json::json!({ "error": error }).to_string();
        write_atomic(&self.failure_path(), text.as_bytes())
    }

    /// The error the run stopped with, if any (`failure.json`).
    pub fn read_failure(&self) -> Option<String> {
        let text = std::fs::read_to_string(self.failure_path()).ok()?;
        let v: serde_json::Value = serde_json::from_str(&text).ok()?;
        v.get("error").and_then(|e| e.as_str()).map(str::to_string)
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

/// Reads a `metrics.jsonl` file; a last line cut short by a crash is ignored.
///
/// # Errors
/// An unreadable file, or a line that is not an epoch record (naming the line).
pub fn read_records(path: &Path) -> Result<Vec<EpochRecord>, TrainError> {
    let text = match std::fs::read_to_string(path) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(TrainError::io(path, e)),
    };
    let lines: Vec<(usize, &str)> = text
        .lines()
        .enumerate()
        .filter(|(_, l)| !l.trim().is_empty())
        .collect();
    let complete = text.ends_with('\n');
    let mut out = Vec::with_capacity(lines.len());
    for (k, (i, l)) in lines.iter().enumerate() {
        match serde_json::from_str(l) {
            Ok(r) => out.push(r),
            Err(_) if k + 1 == lines.len() && !complete => break,
            Err(e) => return Err(TrainError::io(path, format!("line {}: {e}", i + 1))),
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn scratch(tag: &str) -> PathBuf {
        let d = std::env::temp_dir().join(format!("tuna-rundir-{tag}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&d);
        d
    }

    #[test]
    fn refuses_folders_that_are_not_ours() {
        let d = scratch("theirs");
        std::fs::create_dir_all(&d).unwrap();
        std::fs::write(d.join("metrics.jsonl"), "mine\n").unwrap();
        let e = RunDir::create(&d).unwrap_err().to_string();
        assert!(e.contains("not a Tuna run folder"), "{e}");
        assert_eq!(
            std::fs::read_to_string(d.join("metrics.jsonl")).unwrap(),
            "mine\n"
        );
        // an empty folder is fine, and then it is ours
        let e2 = scratch("empty");
        std::fs::create_dir_all(&e2).unwrap();
        RunDir::create(&e2).unwrap();
        assert!(e2.join("run.json").is_file());
        let again = RunDir::create(&e2).unwrap_err().to_string();
        assert!(again.contains("already holds a run"), "{again}");
    }

    #[test]
    fn a_torn_last_line_is_ignored() {
        let d = scratch("torn");
        std::fs::create_dir_all(&d).unwrap();
        let p = d.join("metrics.jsonl");
        std::fs::write(&p, "{\"epoch\":1,\"train_loss\":0.5}\n{\"epoch\":2,\"tra").unwrap();
        assert_eq!(read_records(&p).unwrap().len(), 1);
        std::fs::write(&p, "{\"epoch\":1\n{\"epoch\":2}\n").unwrap();
        assert!(read_records(&p).unwrap_err().to_string().contains("line 1"));
    }
}
