//! [`OptimizerState`]: an optimizer's state dict, and its safetensors file format.
//!
//! # File format
//!
//! One safetensors file. Tensors are keyed `"{param_name}.{state_key}"` (`0.weight.exp_avg`,
//! `encoder.norm.bias.momentum_buffer`) in their own dtype, so any safetensors reader can
//! inspect them. Everything else (optimizer tag, per-group hyperparameters and parameter
//! names, per-parameter step counts and scalars) is JSON stored in the header's
//! `__metadata__` under the key `tuna.optimizer_state` (with `format` =
//! `tuna-optim/1`). Writes are atomic: a temporary file next to the target, then a rename.

use std::collections::{BTreeMap, HashMap};
use std::path::Path;

use serde::{Deserialize, Serialize};
use tuna_tensor::{DType, Tensor};

use crate::error::OptimError;

/// Metadata key holding the JSON part of the state.
pub const METADATA_KEY: &str = "tuna.optimizer_state";
/// Value of the `format` metadata key.
pub const FORMAT: &str = "tuna-optim/1";

/// An optimizer's state dict (PyTorch `optimizer.state_dict()`), keyed by parameter names.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub struct OptimizerState {
    /// The optimizer's tag (`"Adam"`).
    pub optimizer: String,
    /// Per group: parameter names and hyperparameters (lr included).
    pub groups: Vec<GroupState>,
    /// Per parameter name: step count and scalar state.
    pub params: BTreeMap<String, ParamStateMeta>,
    /// State tensors keyed `"{param_name}.{state_key}"`; saved to safetensors, never JSON.
    #[serde(skip)]
    pub tensors: BTreeMap<String, Tensor>,
}

/// One group in an [`OptimizerState`].
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct GroupState {
    /// The group's parameter names, in order.
    pub params: Vec<String>,
    /// The group's full config (every hyperparameter).
    pub options: serde_json::Value,
}

/// The non-tensor state of one parameter.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct ParamStateMeta {
    /// Number of updates applied.
    pub step: u64,
    /// Scalar state (ASGD `eta`/`mu`, NAdam `mu_product`).
    #[serde(default)]
    pub scalars: BTreeMap<String, f64>,
}

fn io_err(path: &Path, message: impl std::fmt::Display) -> OptimError {
    OptimError::Io {
        path: path.display().to_string(),
        message: message.to_string(),
    }
}

impl OptimizerState {
    /// Serializes the state to safetensors bytes (see the module docs for the layout).
    ///
    /// # Errors
    /// [`OptimError::Io`] if serialization fails (e.g. a non-float state tensor).
    pub fn to_bytes(&self) -> Result<Vec<u8>, OptimError> {
        let json = serde_json::to_string(self).map_err(|e| io_err(Path::new("<state>"), e))?;
        let mut bufs: Vec<(String, safetensors::Dtype, Vec<usize>, Vec<u8>)> = Vec::new();
        for (k, t) in &self.tensors {
            let (dt, bytes) = match t.dtype() {
                DType::F32 => (
                    safetensors::Dtype::F32,
                    t.contiguous_data::<f32>()
                        .iter()
                        .flat_map(|x| x.to_le_bytes())
                        .collect(),
                ),
                DType::F64 => (
                    safetensors::Dtype::F64,
                    t.contiguous_data::<f64>()
                        .iter()
                        .flat_map(|x| x.to_le_bytes())
                        .collect(),
                ),
                other => {
                    return Err(io_err(
                        Path::new("<state>"),
                        format!("state tensor `{k}` has unsupported dtype {other}"),
                    ))
                }
            };
            bufs.push((k.clone(), dt, t.shape().to_vec(), bytes));
        }
        let views = bufs
            .iter()
            .map(|(k, dt, shape, b)| {
                safetensors::tensor::TensorView::new(*dt, shape.clone(), b)
                    .map(|v| (k.clone(), v))
                    .map_err(|e| io_err(Path::new("<state>"), e))
            })
            .collect::<Result<Vec<_>, _>>()?;
        let meta = HashMap::from([
            (METADATA_KEY.to_string(), json),
            ("format".to_string(), FORMAT.to_string()),
        ]);
        safetensors::serialize(views, Some(meta)).map_err(|e| io_err(Path::new("<state>"), e))
    }

    /// Parses bytes written by [`OptimizerState::to_bytes`].
    ///
    /// # Errors
    /// [`OptimError::Io`] for malformed bytes, missing metadata or unsupported dtypes.
    pub fn from_bytes(bytes: &[u8]) -> Result<Self, OptimError> {
        let p = Path::new("<state>");
        let st = safetensors::SafeTensors::deserialize(bytes).map_err(|e| io_err(p, e))?;
        let (_, meta) = safetensors::SafeTensors::read_metadata(bytes).map_err(|e| io_err(p, e))?;
        let json = meta
            .metadata()
            .as_ref()
            .and_then(|m| m.get(METADATA_KEY))
            .ok_or_else(|| io_err(p, format!("no `{METADATA_KEY}` in the safetensors metadata: not a Tuna optimizer state file")))?;
        let mut state: OptimizerState = serde_json::from_str(json).map_err(|e| io_err(p, e))?;
        for (name, view) in st.tensors() {
            let shape = view.shape().to_vec();
            let data = view.data();
            let t = match view.dtype() {
                safetensors::Dtype::F32 => Tensor::from_vec(
                    data.chunks_exact(4)
                        .map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]]))
                        .collect::<Vec<f32>>(),
                    &shape,
                ),
                safetensors::Dtype::F64 => Tensor::from_vec(
                    data.chunks_exact(8)
                        .map(|c| f64::from_le_bytes(c.try_into().expect("8 bytes")))
                        .collect::<Vec<f64>>(),
                    &shape,
                ),
                other => {
                    return Err(io_err(
                        p,
                        format!("state tensor `{name}` has unsupported dtype {other:?}"),
                    ))
                }
            };
            state.tensors.insert(name, t);
        }
        Ok(state)
    }

    /// Writes the state to `path` atomically (temporary file in the same directory, then
    /// rename), so a crash never leaves a half-written state file.
    ///
    /// # Errors
    /// [`OptimError::Io`] if the file cannot be written.
    pub fn save(&self, path: &Path) -> Result<(), OptimError> {
        let bytes = self.to_bytes().map_err(|e| match e {
            OptimError::Io { message, .. } => io_err(path, message),
            other => other,
        })?;
        let file_name = path
            .file_name()
            .ok_or_else(|| io_err(path, "not a file path"))?;
        let mut tmp_name = std::ffi::OsString::from(".");
        tmp_name.push(file_name);
        tmp_name.push(format!(".tmp{}", std::process::id()));
        let tmp = path.with_file_name(tmp_name);
        std::fs::write(&tmp, &bytes).map_err(|e| io_err(&tmp, e))?;
        std::fs::rename(&tmp, path).map_err(|e| {
            let _ = std::fs::remove_file(&tmp);
            io_err(path, e)
        })
    }

    /// Reads a file written by [`OptimizerState::save`].
    ///
    /// # Errors
    /// [`OptimError::Io`] for a missing or malformed file.
    pub fn load(path: &Path) -> Result<Self, OptimError> {
        let bytes = std::fs::read(path).map_err(|e| io_err(path, e))?;
        Self::from_bytes(&bytes).map_err(|e| match e {
            OptimError::Io { message, .. } => io_err(path, message),
            other => other,
        })
    }
}
