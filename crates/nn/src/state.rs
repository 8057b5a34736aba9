//! Loading state dicts into modules with PyTorch's strict checking.

use tuna_tensor::Tensor;

use crate::error::NnError;
use crate::module::{Module, ModuleItem};

/// Keys a non-strict load skipped (PyTorch's `_IncompatibleKeys`).
#[derive(Clone, Debug, Default, PartialEq)]
pub struct LoadReport {
    /// Model keys the state dict lacked.
    pub missing: Vec<String>,
    /// State-dict keys the model lacks.
    pub unexpected: Vec<String>,
}

/// Copies `state` into `module`'s parameters and buffers by name
/// (`module.load_state_dict(state, strict)`). Values are converted to each parameter's
/// dtype. Shape mismatches are always errors; with `strict`, missing and unexpected keys are
/// too. Every problem is reported at once, and nothing is written unless the whole load is
/// valid.
///
/// # Errors
/// [`NnError::StateDict`] listing every missing/unexpected key and shape mismatch.
pub fn load_state_dict(
    module: &dyn Module,
    state: &[(String, Tensor)],
    strict: bool,
) -> Result<LoadReport, NnError> {
    let mut targets: Vec<(String, Vec<usize>, String)> = Vec::new();
    module.visit("", &mut |name: &str, item: ModuleItem| {
        let v = match item {
            ModuleItem::Param(p) => p.value(),
            ModuleItem::Buffer(b) => b.value(),
            ModuleItem::Rng(_) => return,
        };
        targets.push((name.to_string(), v.shape().to_vec(), v.dtype().to_string()));
    });
    let mut missing = Vec::new();
    let mut mismatched = Vec::new();
    for (name, shape, dtype) in &targets {
        match state.iter().find(|(k, _)| k == name) {
            None => missing.push(name.clone()),
            Some((_, t)) if t.shape() != shape.as_slice() => mismatched.push((
                name.clone(),
                format!("{shape:?} {dtype}"),
                format!("{:?} {}", t.shape(), t.dtype()),
            )),
            Some(_) => {}
        }
    }
    let unexpected: Vec<String> = state
        .iter()
        .filter(|(k, _)| !targets.iter().any(|(n, _, _)| n == k))
        .map(|(k, _)| k.clone())
        .collect();
    if !mismatched.is_empty() || (strict && (!missing.is_empty() || !unexpected.is_empty())) {
        return Err(NnError::StateDict {
            missing,
            unexpected,
            mismatched,
        });
    }
    module.visit("", &mut |name: &str, item: ModuleItem| {
        if let Some((_, t)) = state.iter().find(|(k, _)| k == name) {
            match item {
                ModuleItem::Param(p) => {
                    let dt = p.value().dtype();
                    p.set_value(t.to_dtype(dt).contiguous());
                }
                ModuleItem::Buffer(b) => {
                    let dt = b.value().dtype();
                    b.set_value(t.to_dtype(dt).contiguous());
                }
                ModuleItem::Rng(_) => {}
            }
        }
    });
    Ok(LoadReport {
        missing,
        unexpected,
    })
}
