//! Private helpers shared by the loss implementations: argument binding, shape checks,
//! reductions and constants.

use tuna_autograd::Var;
use tuna_tensor::{DType, TensorError};

use crate::{LossError, Reduction, TensorArg};

/// `[8, 10]`.
pub(crate) fn fmt_shape(shape: &[usize]) -> String {
    format!("{shape:?}")
}

/// Binds named arguments to the loss's forward parameters, in order.
pub(crate) fn take<'t, const N: usize>(
    loss: &'static str,
    args: &[(&str, Var<'t>)],
    names: [&'static str; N],
) -> Result<[Var<'t>; N], LossError> {
    let expected = || names.join(", ");
    for (i, (name, _)) in args.iter().enumerate() {
        if !names.contains(name) {
            return Err(LossError::UnknownInput {
                loss,
                input: (*name).to_string(),
                expected: expected(),
            });
        }
        if args[..i].iter().any(|(n, _)| n == name) {
            return Err(LossError::DuplicateInput {
                loss,
                input: (*name).to_string(),
            });
        }
    }
    let mut out = Vec::with_capacity(N);
    for name in names {
        match args.iter().find(|(n, _)| *n == name) {
            Some((_, v)) => out.push(*v),
            None => {
                return Err(LossError::MissingInput {
                    loss,
                    input: name,
                    expected: expected(),
                })
            }
        }
    }
    Ok(out.try_into().unwrap_or_else(|_| unreachable!()))
}

/// An input error.
pub(crate) fn bad_input(
    loss: &'static str,
    input: &str,
    expected: impl Into<String>,
    got: impl Into<String>,
) -> LossError {
    LossError::InvalidInput {
        loss,
        input: input.to_string(),
        expected: expected.into(),
        got: got.into(),
    }
}

/// A config error.
pub(crate) fn bad_config(
    loss: &'static str,
    field: &'static str,
    expected: impl Into<String>,
    got: impl Into<String>,
) -> LossError {
    LossError::InvalidConfig {
        loss,
        field,
        expected: expected.into(),
        got: got.into(),
    }
}

/// Requires a float (f32/f64) tensor.
pub(crate) fn check_float(loss: &'static str, name: &str, v: Var<'_>) -> Result<(), LossError> {
    if v.dtype().is_float() {
        Ok(())
    } else {
        Err(bad_input(
            loss,
            name,
            "must be a float tensor (f32 or f64)",
            format!("dtype {}", v.dtype()),
        ))
    }
}

/// Requires float tensors of one dtype.
pub(crate) fn check_float_pair(
    loss: &'static str,
    name: &str,
    v: Var<'_>,
    input: Var<'_>,
) -> Result<(), LossError> {
    check_float(loss, name, v)?;
    if v.dtype() != input.dtype() {
        return Err(bad_input(
            loss,
            name,
            format!("must have the input's dtype {}", input.dtype()),
            format!("dtype {}", v.dtype()),
        ));
    }
    Ok(())
}

/// Requires exactly the input's shape.
pub(crate) fn check_same_shape(
    loss: &'static str,
    name: &str,
    v: Var<'_>,
    input: Var<'_>,
) -> Result<(), LossError> {
    if v.shape() != input.shape() {
        return Err(bad_input(
            loss,
            name,
            format!("must have the input's shape {}", fmt_shape(&input.shape())),
            fmt_shape(&v.shape()),
        ));
    }
    Ok(())
}

/// The loss's input error for a `try_` op combining the argument `name` with the input that
/// failed: the op checks the shapes (PyTorch broadcasts regression targets), this names the
/// loss and the argument.
pub(crate) fn broadcast_error(
    loss: &'static str,
    name: &str,
    v: Var<'_>,
    input: Var<'_>,
    e: TensorError,
) -> LossError {
    match e {
        TensorError::Broadcast { .. } => bad_input(
            loss,
            name,
            format!(
                "must broadcast with the input's shape {}",
                fmt_shape(&input.shape())
            ),
            fmt_shape(&v.shape()),
        ),
        other => bad_input(loss, name, "must fit the input", other.to_string()),
    }
}

/// Requires an i64 tensor.
pub(crate) fn check_index(loss: &'static str, name: &str, v: Var<'_>) -> Result<(), LossError> {
    if v.dtype() == DType::I64 {
        Ok(())
    } else {
        Err(bad_input(
            loss,
            name,
            "must be an i64 tensor of class indices",
            format!("dtype {}", v.dtype()),
        ))
    }
}

/// Rejects `batchmean` for losses other than KLDivLoss.
pub(crate) fn check_reduction(loss: &'static str, r: Reduction) -> Result<(), LossError> {
    if r == Reduction::Batchmean {
        return Err(bad_config(
            loss,
            "reduction",
            "must be one of \"mean\", \"sum\", \"none\" (\"batchmean\" is KLDivLoss only)",
            "\"batchmean\"",
        ));
    }
    Ok(())
}

/// Applies `mean`/`sum`/`none` (`batchmean` is KLDivLoss's business).
pub(crate) fn reduce(v: Var<'_>, r: Reduction) -> Var<'_> {
    match r {
        Reduction::Mean => v.mean(),
        Reduction::Sum => v.sum(),
        Reduction::None => v,
        Reduction::Batchmean => {
            let n = if v.rank() == 0 { 1 } else { v.size(0) };
            v.sum().mul_scalar(1.0 / n as f64)
        }
    }
}

/// A constant tensor-valued argument in `like`'s dtype.
pub(crate) fn constant<'t>(like: Var<'t>, t: &TensorArg) -> Var<'t> {
    like.tape().constant(t.to_tensor(like.dtype()))
}

/// Validates a per-class weight argument of `C` entries.
pub(crate) fn check_class_weight(
    loss: &'static str,
    weight: Option<&TensorArg>,
    classes: usize,
) -> Result<(), LossError> {
    if let Some(w) = weight {
        if w.shape() != [classes] {
            return Err(bad_input(
                loss,
                "weight",
                format!("must have shape [{classes}] (one entry per class)"),
                fmt_shape(w.shape()),
            ));
        }
    }
    Ok(())
}

/// Validates the shape of a tensor argument against the input's shape (broadcastable).
pub(crate) fn check_weight_broadcast(
    loss: &'static str,
    field: &'static str,
    weight: Option<&TensorArg>,
    input: &[usize],
) -> Result<(), LossError> {
    if let Some(w) = weight {
        let ok = tuna_tensor::broadcast_shapes(loss, input, w.shape())
            .map(|s| s.as_slice() == input)
            .unwrap_or(false);
        if !ok {
            return Err(bad_input(
                loss,
                field,
                format!("must broadcast to the input's shape {}", fmt_shape(input)),
                fmt_shape(w.shape()),
            ));
        }
    }
    Ok(())
}

/// Validates that a float config value is finite (and optionally non-negative).
pub(crate) fn check_finite(
    loss: &'static str,
    field: &'static str,
    value: f64,
    non_negative: bool,
) -> Result<(), LossError> {
    if !value.is_finite() || (non_negative && value < 0.0) {
        let what = if non_negative {
            "must be finite and >= 0"
        } else {
            "must be finite"
        };
        return Err(bad_config(loss, field, what, value.to_string()));
    }
    Ok(())
}

/// Validates the finite entries of a tensor argument.
pub(crate) fn check_tensor_arg(
    loss: &'static str,
    field: &'static str,
    t: Option<&TensorArg>,
) -> Result<(), LossError> {
    if let Some(t) = t {
        if let Some(bad) = t.data().iter().find(|x| !x.is_finite()) {
            return Err(bad_config(
                loss,
                field,
                "must hold finite values",
                bad.to_string(),
            ));
        }
    }
    Ok(())
}

#[cfg(test)]
pub(crate) mod testing {
    //! Test helpers shared by the per-loss unit tests.
    use crate::Loss;

    /// JSON and TOML round trips give back the same config.
    pub(crate) fn assert_roundtrip(loss: &dyn Loss) {
        let json = serde_json::to_string(loss).unwrap();
        let back: Box<dyn Loss> = serde_json::from_str(&json).unwrap();
        assert_eq!(
            serde_json::to_string(&back).unwrap(),
            json,
            "JSON round trip"
        );
        assert_eq!(back.name(), loss.name());

        let toml_text = toml::to_string(loss).unwrap();
        let back: Box<dyn Loss> = toml::from_str(&toml_text)
            .unwrap_or_else(|e| panic!("TOML round trip of {toml_text}: {e}"));
        assert_eq!(
            serde_json::to_string(&back).unwrap(),
            json,
            "TOML round trip"
        );
    }

    /// Deserializes a JSON config.
    pub(crate) fn from_json(s: &str) -> Result<Box<dyn Loss>, serde_json::Error> {
        serde_json::from_str(s)
    }
}
