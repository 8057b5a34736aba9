//! Checkpoints: everything a run needs to continue exactly where it stopped, in one
//! checksummed file written atomically.
//!
//! Layout (little-endian):
//!
//! ```text
//! b"TUNACKPT"  u32 version (1)
//! u64 n, n bytes   metadata JSON (CheckpointMeta: position, history, scheduler, early
//!                  stopping, random generators, config digest)
//! u64 n, n bytes   model state dict, safetensors (PyTorch key names)
//! u64 n, n bytes   optimizer state, safetensors (tuna-optim format)
//! u32              CRC-32 of every byte before it
//! ```
//!
//! Writing goes to `NAME.tmp`, is flushed to disk (`fsync`), then renamed over `NAME`, so a
//! crash at any moment leaves either the old or the new checkpoint, never a torn one; the
//! checksum catches anything else (a truncated copy, a flipped bit).

use std::collections::BTreeMap;
use std::io::Write;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use tuna_optim::OptimizerState;
use tuna_regularize::EarlyStoppingState;
use tuna_sched::SchedulerState;
use tuna_tensor::Tensor;

use crate::error::TrainError;
use crate::record::EpochRecord;

const MAGIC: &[u8; 8] = b"TUNACKPT";
const VERSION: u32 = 1;

/// Where the run stands and every piece of state that is not a tensor.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CheckpointMeta {
    /// Completed epochs.
    pub epoch: usize,
    /// Completed batches of epoch `epoch + 1` (0 at an epoch boundary).
    pub batch: usize,
    /// Optimizer steps taken so far.
    pub global_step: u64,
    /// The metrics of every completed epoch.
    pub history: Vec<EpochRecord>,
    /// The schedule's state, if the run has one.
    pub scheduler: Option<SchedulerState>,
    /// The early-stopping policy's state, if enabled.
    pub early_stopping: Option<EarlyStoppingState>,
    /// The best epoch so far and its monitored value.
    pub best: Option<(usize, f64)>,
    /// The model's random generators (dropout), hex-encoded, by module name.
    pub rngs: BTreeMap<String, String>,
    /// The running training loss and metric state of the current, unfinished epoch.
    pub partial: Option<serde_json::Value>,
    /// Seconds of training done before this checkpoint (for the summary's wall time).
    pub elapsed_seconds: f64,
    /// A digest of the resolved experiment; resuming with a different experiment is refused.
    pub config_digest: String,
    /// Why a callback (or a pruner) stopped the run, if one did: a resumed run does not
    /// train on.
    #[serde(default)]
    pub stopped: Option<String>,
}

/// A checkpoint in memory.
#[derive(Clone, Debug)]
pub struct Checkpoint {
    /// Position and non-tensor state.
    pub meta: CheckpointMeta,
    /// The model's state dict (parameters and buffers).
    pub model: Vec<(String, Tensor)>,
    /// The optimizer's state.
    pub optimizer: OptimizerState,
}

fn section(out: &mut Vec<u8>, bytes: &[u8]) {
    out.extend_from_slice(&(bytes.len() as u64).to_le_bytes());
    out.extend_from_slice(bytes);
}

impl Checkpoint {
    /// The file's bytes.
    ///
    /// # Errors
    /// [`EncodeError`] naming the part that safetensors or JSON cannot represent.
    pub fn to_bytes(&self) -> Result<Vec<u8>, EncodeError> {
        let meta = serde_json::to_vec(&self.meta).map_err(|e| EncodeError::Meta(e.to_string()))?;
        let model = tuna_nn::serialize_state(&self.model)?;
        let optim = self.optimizer.to_bytes()?;
        let mut out = Vec::with_capacity(meta.len() + model.len() + optim.len() + 40);
        out.extend_from_slice(MAGIC);
        out.extend_from_slice(&VERSION.to_le_bytes());
        section(&mut out, &meta);
        section(&mut out, &model);
        section(&mut out, &optim);
        let crc = crc32fast::hash(&out);
        out.extend_from_slice(&crc.to_le_bytes());
        Ok(out)
    }

    /// Parses and verifies a checkpoint file's bytes; `path` only names the file in errors.
    ///
    /// # Errors
    /// Wrong magic or version, truncation, checksum mismatch, or a section that does not
    /// parse — each saying which.
    pub fn from_bytes(bytes: &[u8], path: &Path) -> Result<Checkpoint, TrainError> {
        let bad = |reason: String| TrainError::checkpoint(path, reason);
        if bytes.len() < 16 || &bytes[..8] != MAGIC {
            return Err(bad(
                "not a Tuna checkpoint (missing the TUNACKPT header)".into()
            ));
        }
        let version = u32::from_le_bytes(bytes[8..12].try_into().expect("4 bytes"));
        if version != VERSION {
            return Err(bad(format!(
                "format version {version}; this Tuna reads version {VERSION}"
            )));
        }
        let (body, tail) = bytes.split_at(bytes.len() - 4);
        let stored = u32::from_le_bytes(tail.try_into().expect("4 bytes"));
        let actual = crc32fast::hash(body);
        if stored != actual {
            return Err(bad(format!(
                "checksum mismatch (stored {stored:08x}, computed {actual:08x}): the file is truncated or corrupt"
            )));
        }
        let mut pos = 12usize;
        let mut next = |what: &str| -> Result<&[u8], TrainError> {
            let len_end = pos + 8;
            if len_end > body.len() {
                return Err(bad(format!("truncated before the {what} section")));
            }
            let n = u64::from_le_bytes(body[pos..len_end].try_into().expect("8 bytes")) as usize;
            let end = len_end
                .checked_add(n)
                .filter(|&e| e <= body.len())
                .ok_or_else(|| bad(format!("the {what} section runs past the end of the file")))?;
            pos = end;
            Ok(&body[len_end..end])
        };
        let meta_bytes = next("metadata")?;
        let model_bytes = next("model")?;
        let optim_bytes = next("optimizer")?;
        let meta: CheckpointMeta =
            serde_json::from_slice(meta_bytes).map_err(|e| bad(format!("metadata: {e}")))?;
        let model =
            tuna_nn::deserialize_state(model_bytes).map_err(|e| bad(format!("model: {e}")))?;
        let optimizer =
            OptimizerState::from_bytes(optim_bytes).map_err(|e| bad(format!("optimizer: {e}")))?;
        Ok(Checkpoint {
            meta,
            model,
            optimizer,
        })
    }

    /// Writes the checkpoint atomically (temp file, fsync, rename, fsync of the folder).
    ///
    /// # Errors
    /// Any I/O failure, naming the file.
    pub fn save(&self, path: &Path) -> Result<(), TrainError> {
        let bytes = self
            .to_bytes()
            .map_err(|e| TrainError::checkpoint(path, e.to_string()))?;
        write_atomic(path, &bytes)
    }

    /// Reads and verifies a checkpoint file.
    ///
    /// # Errors
    /// A missing or unreadable file, or any problem [`Checkpoint::from_bytes`] finds.
    pub fn load(path: &Path) -> Result<Checkpoint, TrainError> {
        let bytes = std::fs::read(path).map_err(|e| TrainError::checkpoint(path, e.to_string()))?;
        Checkpoint::from_bytes(&bytes, path)
    }
}

/// Writes `bytes` to `path` atomically: a reader (or a process that restarts after a crash)
/// sees either the previous content or the new one.
///
/// # Errors
/// Any I/O failure, naming the file.
pub fn write_atomic(path: &Path, bytes: &[u8]) -> Result<(), TrainError> {
    write_atomic_all(&[(path, bytes)])
}

/// Writes several files atomically, each as [`write_atomic`] does, sharing the work: every
/// temp file is written and fsynced first, then all are renamed in order and each folder is
/// fsynced once. A crash leaves each file either old or new; files later in the list are
/// never newer than files earlier in it.
///
/// # Errors
/// Any I/O failure, naming the file.
pub fn write_atomic_all(files: &[(&Path, &[u8])]) -> Result<(), TrainError> {
    let temps: Vec<PathBuf> = files.iter().map(|(p, _)| temp_path(p)).collect();
    for ((_, bytes), tmp) in files.iter().zip(&temps) {
        let mut f = std::fs::File::create(tmp).map_err(|e| TrainError::io(tmp, e))?;
        f.write_all(bytes).map_err(|e| TrainError::io(tmp, e))?;
        f.sync_all().map_err(|e| TrainError::io(tmp, e))?;
    }
    let mut dirs: Vec<&Path> = Vec::new();
    for ((path, _), tmp) in files.iter().zip(&temps) {
        std::fs::rename(tmp, path).map_err(|e| TrainError::io(path, e))?;
        if let Some(dir) = path.parent().filter(|d| !dirs.contains(d)) {
            dirs.push(dir);
        }
    }
    for dir in dirs {
        // Make the renames durable; not every platform can open a directory.
        if let Ok(d) = std::fs::File::open(dir) {
            let _ = d.sync_all();
        }
    }
    Ok(())
}

/// `NAME.EXT.tmp` next to `NAME.EXT`.
fn temp_path(path: &Path) -> PathBuf {
    path.with_extension(match path.extension() {
        Some(e) => format!("{}.tmp", e.to_string_lossy()),
        None => "tmp".to_string(),
    })
}

/// Lower-case hex of `bytes`.
pub fn to_hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// Parses lower- or upper-case hex.
pub fn from_hex(s: &str) -> Option<Vec<u8>> {
    if s.len() % 2 != 0 {
        return None;
    }
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(s.get(i..i + 2)?, 16).ok())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> Checkpoint {
        Checkpoint {
            meta: CheckpointMeta {
                epoch: 2,
                batch: 5,
                global_step: 77,
                history: vec![EpochRecord::new(1), EpochRecord::new(2)],
                scheduler: None,
                early_stopping: None,
                best: Some((2, 0.25)),
                rngs: BTreeMap::from([("3.rng".to_string(), to_hex(&[1, 2, 255]))]),
                partial: None,
                elapsed_seconds: 1.5,
                config_digest: "abc".into(),
                stopped: None,
            },
            model: vec![(
                "0.weight".into(),
                Tensor::from_vec(vec![1.0f32, -2.5, 3.25], &[3]),
            )],
            optimizer: OptimizerState::default(),
        }
    }

    #[test]
    fn round_trip_is_exact() {
        let c = sample();
        let bytes = c.to_bytes().unwrap();
        let back = Checkpoint::from_bytes(&bytes, Path::new("x.ckpt")).unwrap();
        assert_eq!(back.meta, c.meta);
        assert_eq!(back.model[0].0, "0.weight");
        assert_eq!(back.model[0].1.to_vec::<f32>(), vec![1.0, -2.5, 3.25]);
        assert_eq!(from_hex(&back.meta.rngs["3.rng"]).unwrap(), vec![1, 2, 255]);
    }

    #[test]
    fn every_corruption_is_detected() {
        let bytes = sample().to_bytes().unwrap();
        let p = Path::new("runs/x/checkpoints/last.ckpt");
        // Flipping any single byte or truncating anywhere must be an error, never a panic.
        for i in (0..bytes.len()).step_by(7) {
            let mut b = bytes.clone();
            b[i] ^= 0x40;
            let e = Checkpoint::from_bytes(&b, p).unwrap_err().to_string();
            assert!(e.contains("last.ckpt"), "{e}");
        }
        for n in [0, 5, 12, 20, bytes.len() / 2, bytes.len() - 1] {
            let e = Checkpoint::from_bytes(&bytes[..n], p)
                .unwrap_err()
                .to_string();
            assert!(
                e.starts_with("checkpoint runs/x/checkpoints/last.ckpt: "),
                "{e}"
            );
        }
    }

    #[test]
    fn atomic_write_replaces_and_leaves_no_temp_file() {
        let dir = std::env::temp_dir().join(format!("tuna-ckpt-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let p = dir.join("last.ckpt");
        write_atomic(&p, b"old").unwrap();
        sample().save(&p).unwrap();
        assert!(Checkpoint::load(&p).is_ok());
        assert!(!dir.join("last.ckpt.tmp").exists());
        std::fs::remove_dir_all(&dir).unwrap();
    }
}

/// Why a checkpoint could not be encoded.
#[derive(Debug, thiserror::Error)]
pub enum EncodeError {
    /// The run metadata could not be written as JSON.
    #[error("checkpoint metadata: {0}")]
    Meta(String),
    /// The model's state dict could not be written as safetensors.
    #[error("model state: {0}")]
    Model(#[from] tuna_nn::SafetensorsError),
    /// The optimizer's state could not be written.
    #[error("optimizer state: {0}")]
    Optimizer(#[from] tuna_optim::OptimError),
}
