//! Weights to and from [safetensors](https://github.com/huggingface/safetensors) files, the
//! format `safetensors.torch.save_file(model.state_dict(), path)` writes: a state dict keyed
//! by PyTorch's names, with shapes and dtypes (f32, f64, i64 buffers, bool), little-endian.
//!
//! A file written by PyTorch loads into the equivalent Tuna model and the other way round.

use std::borrow::Cow;
use std::io::Write;
use std::path::Path;

use safetensors::tensor::{Dtype, SafeTensors, View};
use tuna_tensor::{DType, Tensor};

use crate::error::{NnError, SafetensorsError};
use crate::module::Module;
use crate::state::{load_state_dict, LoadReport};

struct Entry {
    dtype: Dtype,
    shape: Vec<usize>,
    bytes: Vec<u8>,
}

impl View for &Entry {
    fn dtype(&self) -> Dtype {
        self.dtype
    }
    fn shape(&self) -> &[usize] {
        &self.shape
    }
    fn data(&self) -> Cow<'_, [u8]> {
        Cow::Borrowed(&self.bytes)
    }
    fn data_len(&self) -> usize {
        self.bytes.len()
    }
}

fn io_err(path: &Path, message: impl Into<String>) -> NnError {
    NnError::Io {
        path: path.display().to_string(),
        message: message.into(),
    }
}

fn st_dtype(d: DType) -> Dtype {
    match d {
        DType::F32 => Dtype::F32,
        DType::F64 => Dtype::F64,
        DType::I64 => Dtype::I64,
        DType::Bool => Dtype::BOOL,
    }
}

fn tuna_dtype(d: Dtype) -> Option<DType> {
    match d {
        Dtype::F32 => Some(DType::F32),
        Dtype::F64 => Some(DType::F64),
        Dtype::I64 => Some(DType::I64),
        Dtype::BOOL => Some(DType::Bool),
        _ => None,
    }
}

/// The little-endian bytes of a tensor, row-major.
fn to_bytes(t: &Tensor) -> Vec<u8> {
    match t.dtype() {
        DType::F32 => t
            .to_vec::<f32>()
            .iter()
            .flat_map(|v| v.to_le_bytes())
            .collect(),
        DType::F64 => t
            .to_vec::<f64>()
            .iter()
            .flat_map(|v| v.to_le_bytes())
            .collect(),
        DType::I64 => t
            .to_vec::<i64>()
            .iter()
            .flat_map(|v| v.to_le_bytes())
            .collect(),
        DType::Bool => t.to_vec::<bool>().iter().map(|&v| v as u8).collect(),
    }
}

/// A tensor from little-endian bytes (the length was checked by the safetensors parser).
fn from_bytes(dtype: DType, shape: &[usize], b: &[u8]) -> Tensor {
    match dtype {
        DType::F32 => Tensor::from_vec(
            b.chunks_exact(4)
                .map(|c| f32::from_le_bytes(c.try_into().expect("4 bytes")))
                .collect::<Vec<f32>>(),
            shape,
        ),
        DType::F64 => Tensor::from_vec(
            b.chunks_exact(8)
                .map(|c| f64::from_le_bytes(c.try_into().expect("8 bytes")))
                .collect::<Vec<f64>>(),
            shape,
        ),
        DType::I64 => Tensor::from_vec(
            b.chunks_exact(8)
                .map(|c| i64::from_le_bytes(c.try_into().expect("8 bytes")))
                .collect::<Vec<i64>>(),
            shape,
        ),
        DType::Bool => Tensor::from_vec(b.iter().map(|&v| v != 0).collect::<Vec<bool>>(), shape),
    }
}

/// The bytes of a safetensors file holding `state` (header as the format specifies:
/// tensors ordered by dtype alignment then name, header padded to 8 bytes).
///
/// # Errors
/// [`SafetensorsError::Format`] if the format cannot represent the data.
pub fn serialize_state(state: &[(String, Tensor)]) -> Result<Vec<u8>, SafetensorsError> {
    let entries: Vec<(String, Entry)> = state
        .iter()
        .map(|(k, t)| {
            (
                k.clone(),
                Entry {
                    dtype: st_dtype(t.dtype()),
                    shape: t.shape().to_vec(),
                    bytes: to_bytes(t),
                },
            )
        })
        .collect();
    safetensors::tensor::serialize(entries.iter().map(|(k, e)| (k.as_str(), e)), None)
        .map_err(|e| SafetensorsError::Format(e.to_string()))
}

/// Parses safetensors bytes into a state dict, in file order of names (sorted).
///
/// # Errors
/// [`SafetensorsError::Format`] for a truncated or corrupt buffer,
/// [`SafetensorsError::UnsupportedDtype`] for a dtype Tuna does not hold.
pub fn deserialize_state(bytes: &[u8]) -> Result<Vec<(String, Tensor)>, SafetensorsError> {
    let format = |e: safetensors::SafeTensorError| SafetensorsError::Format(e.to_string());
    let st = SafeTensors::deserialize(bytes).map_err(format)?;
    let mut out = Vec::new();
    let mut names: Vec<&str> = st.names();
    names.sort_unstable();
    for name in names {
        let view = st.tensor(name).map_err(format)?;
        let dtype = tuna_dtype(view.dtype()).ok_or_else(|| SafetensorsError::UnsupportedDtype {
            name: name.to_string(),
            dtype: format!("{:?}", view.dtype()),
        })?;
        out.push((
            name.to_string(),
            from_bytes(dtype, view.shape(), view.data()),
        ));
    }
    Ok(out)
}

/// Saves `module`'s state dict (parameters and buffers, PyTorch names, shapes and dtypes) to
/// a safetensors file (`safetensors.torch.save_file(model.state_dict(), path)`).
///
/// The write is atomic: the bytes go to a temporary file in the same directory, which is
/// synced and renamed over `path`, so a crash never leaves a half-written file.
///
/// # Errors
/// [`NnError::Io`] naming the file.
pub fn save_safetensors(module: &dyn Module, path: impl AsRef<Path>) -> Result<(), NnError> {
    let path = path.as_ref();
    let bytes = serialize_state(&module.state_dict()).map_err(|e| io_err(path, e.to_string()))?;
    let file_name = path
        .file_name()
        .ok_or_else(|| io_err(path, "not a file path"))?
        .to_string_lossy()
        .into_owned();
    let tmp = path.with_file_name(format!(".{file_name}.tmp-{}", std::process::id()));
    let write = || -> std::io::Result<()> {
        let mut f = std::fs::File::create(&tmp)?;
        f.write_all(&bytes)?;
        f.sync_all()?;
        std::fs::rename(&tmp, path)
    };
    write().map_err(|e| {
        let _ = std::fs::remove_file(&tmp);
        io_err(path, e.to_string())
    })
}

/// Loads a safetensors file into `module` (`model.load_state_dict(load_file(path), strict)`).
///
/// Every tensor's name, shape and dtype is checked against the module before anything is
/// written, and every mismatch is reported at once: shape or dtype differences always, and
/// missing and unexpected keys with `strict`. A truncated or corrupt file is an error.
///
/// # Errors
/// [`NnError::Io`] naming the file and listing every problem.
pub fn load_safetensors(
    module: &dyn Module,
    path: impl AsRef<Path>,
    strict: bool,
) -> Result<LoadReport, NnError> {
    let path = path.as_ref();
    let bytes = std::fs::read(path).map_err(|e| io_err(path, e.to_string()))?;
    let state = deserialize_state(&bytes).map_err(|e| io_err(path, e.to_string()))?;
    let mut wrong_dtype = Vec::new();
    for (name, value) in module.state_dict() {
        if let Some((_, t)) = state.iter().find(|(k, _)| *k == name) {
            if t.dtype() != value.dtype() && t.shape() == value.shape() {
                wrong_dtype.push((
                    name.clone(),
                    format!("{:?} {}", value.shape(), value.dtype()),
                    format!("{:?} {}", t.shape(), t.dtype()),
                ));
            }
        }
    }
    let result = if wrong_dtype.is_empty() {
        load_state_dict(module, &state, strict)
    } else {
        // report dtype problems together with everything the state-dict check finds
        match load_state_dict(&DryRun(module), &state, strict) {
            Ok(r) => Err(NnError::StateDict {
                missing: if strict { r.missing } else { Vec::new() },
                unexpected: if strict { r.unexpected } else { Vec::new() },
                mismatched: wrong_dtype,
            }),
            Err(NnError::StateDict {
                missing,
                unexpected,
                mut mismatched,
            }) => {
                mismatched.extend(wrong_dtype);
                Err(NnError::StateDict {
                    missing,
                    unexpected,
                    mismatched,
                })
            }
            Err(e) => Err(e),
        }
    };
    result.map_err(|e| match e {
        NnError::Io { .. } => e,
        other => io_err(path, other.to_string()),
    })
}

/// A view of a module whose parameters and buffers are copies, so a check that would write
/// into them leaves the real module untouched.
#[derive(Debug)]
struct DryRun<'a>(&'a dyn Module);

impl Module for DryRun<'_> {
    fn forward<'t>(&self, input: tuna_autograd::Var<'t>) -> tuna_autograd::Var<'t> {
        input
    }
    fn visit(&self, prefix: &str, v: &mut dyn crate::module::ModuleVisitor) {
        use crate::module::{Buffer, ModuleItem};
        for (name, value) in self.0.state_dict() {
            let b = Buffer::new(value);
            v.item(
                &crate::module::join_name(prefix, &name),
                ModuleItem::Buffer(&b),
            );
        }
    }
    fn name(&self) -> &'static str {
        self.0.name()
    }
}
