//! [`OptimError`]: everything that can go wrong when configuring, stepping, clipping or
//! saving/loading an optimizer.

use tuna_tensor::DType;

/// The error type of this crate. Every variant names what it is about (a config field, a
/// parameter, a file), so the message alone locates the problem.
#[derive(Debug, thiserror::Error)]
pub enum OptimError {
    /// A config field has an invalid value: `Adam.betas[1]: must be in [0, 1), got 1.5`.
    #[error("{field}: {message}")]
    Config {
        /// The field, prefixed by the optimizer's tag (`Adam.betas[1]`,
        /// `SGD.param_groups[0].lr`).
        field: String,
        /// What was expected and what was found.
        message: String,
    },
    /// A parameter cannot be optimized as configured (wrong dtype, a non-2-D parameter given
    /// to Muon, a gradient whose shape differs from the parameter's, ...).
    #[error("parameter `{name}`: {message}")]
    Param {
        /// The parameter's state-dict name.
        name: String,
        /// What is wrong.
        message: String,
    },
    /// A parameter or gradient dtype that optimizers do not support (only `f32` and `f64`).
    #[error("parameter `{name}`: optimizers need f32 or f64 tensors, got {dtype}")]
    DType {
        /// The parameter's name.
        name: String,
        /// The offending dtype.
        dtype: DType,
    },
    /// A group index out of range (`set_lr(3, ..)` on an optimizer with 2 groups).
    #[error("param group {index} out of range: the optimizer has {len} group(s)")]
    GroupIndex {
        /// The requested group.
        index: usize,
        /// The number of groups.
        len: usize,
    },
    /// The optimizer has no such hyperparameter (`set_momentum` on Adagrad).
    #[error("{optimizer} has no `{what}` hyperparameter")]
    Unsupported {
        /// The optimizer's tag.
        optimizer: String,
        /// The hyperparameter.
        what: String,
    },
    /// A state dict does not fit the optimizer; every mismatch is listed.
    #[error("optimizer state does not match the optimizer ({} problem(s)): {}", .0.len(), .0.join("; "))]
    StateMismatch(Vec<String>),
    /// A gradient norm is NaN or infinite and `error_if_nonfinite` was set.
    #[error("the total norm of order {norm_type} of the gradients is non-finite ({total}), so it cannot be clipped")]
    NonFinite {
        /// The norm order.
        norm_type: f64,
        /// The computed total norm.
        total: f64,
    },
    /// Reading or writing a state file failed.
    #[error("{path}: {message}")]
    Io {
        /// The file.
        path: String,
        /// What failed.
        message: String,
    },
}

impl OptimError {
    /// A [`OptimError::Config`] error for `field` of optimizer `ty`.
    pub fn config(ty: &str, field: impl std::fmt::Display, message: impl Into<String>) -> Self {
        OptimError::Config {
            field: format!("{ty}.{field}"),
            message: message.into(),
        }
    }
}

/// `Ok` if `v >= 0` (and finite), else a config error naming `field`.
pub(crate) fn non_negative(ty: &str, field: &str, v: f64) -> Result<(), OptimError> {
    if v.is_finite() && v >= 0.0 {
        Ok(())
    } else {
        Err(OptimError::config(
            ty,
            field,
            format!("must be a finite number >= 0, got {v}"),
        ))
    }
}

/// `Ok` if `0 <= v < 1`.
pub(crate) fn unit_half_open(ty: &str, field: &str, v: f64) -> Result<(), OptimError> {
    if (0.0..1.0).contains(&v) {
        Ok(())
    } else {
        Err(OptimError::config(
            ty,
            field,
            format!("must be in [0, 1), got {v}"),
        ))
    }
}

/// `Ok` if `0 <= v <= 1`.
pub(crate) fn unit_closed(ty: &str, field: &str, v: f64) -> Result<(), OptimError> {
    if (0.0..=1.0).contains(&v) {
        Ok(())
    } else {
        Err(OptimError::config(
            ty,
            field,
            format!("must be in [0, 1], got {v}"),
        ))
    }
}

/// Checks PyTorch's implementation-selection flags, which Tuna accepts for config
/// compatibility: `foreach` and `fused` are no-ops (every Tuna update is one fused loop per
/// parameter) and so is `capturable` (no CUDA graphs on CPU); `differentiable = true` is
/// rejected because Tuna's optimizer steps are not recorded on the tape.
/// Checks the hyperparameters every Adam-family rule shares: `lr >= 0`, both betas in
/// `[0, 1)`, `eps >= 0`, `weight_decay >= 0`.
pub(crate) fn adam_family(
    ty: &str,
    lr: f64,
    betas: (f64, f64),
    eps: f64,
    weight_decay: f64,
) -> Result<(), OptimError> {
    non_negative(ty, "lr", lr)?;
    unit_half_open(ty, "betas[0]", betas.0)?;
    unit_half_open(ty, "betas[1]", betas.1)?;
    non_negative(ty, "eps", eps)?;
    non_negative(ty, "weight_decay", weight_decay)
}

pub(crate) fn torch_flags(ty: &str, differentiable: bool) -> Result<(), OptimError> {
    if differentiable {
        return Err(OptimError::config(
            ty,
            "differentiable",
            "must be false: Tuna does not differentiate through optimizer steps",
        ));
    }
    Ok(())
}
