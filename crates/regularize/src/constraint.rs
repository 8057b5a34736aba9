//! The [`Constraint`] plugin trait: a projection applied to parameters in place after each
//! optimizer step (Keras' `kernel_constraint`; in PyTorch one writes
//! `with torch.no_grad(): w.copy_(torch.renorm(w, 2, 0, c))` after `optimizer.step()`).

use std::fmt::Debug;

use dyn_clone::DynClone;
use tuna_autograd::NamedParam;
use tuna_tensor::{DType, Element, Tensor};

use crate::error::RegularizeError;

/// A projection of parameters onto a constraint set, applied in place after every optimizer
/// step, without building a graph.
///
/// Built-ins: [`MaxNorm`](crate::MaxNorm), [`UnitNorm`](crate::UnitNorm),
/// [`NonNeg`](crate::NonNeg). A config names one by its tag:
///
/// ```toml
/// [[constraints]]
/// type = "MaxNorm"
/// max_value = 3.0
/// ```
///
/// Values are written through [`Param::update`](tuna_autograd::Param::update), so the
/// parameter keeps its identity and name: optimizer state keyed by name (momentum, Adam
/// moments) is untouched. Frozen parameters (`requires_grad == false`) are skipped.
#[typetag::serde(tag = "type")]
pub trait Constraint: DynClone + Debug + Send + Sync {
    /// The tag this config is written with (`type = "..."`: the PyTorch, torchvision or
    /// Optuna class name where there is one).
    fn name(&self) -> &'static str {
        self.typetag_name()
    }

    /// Checks the configuration.
    ///
    /// # Errors
    /// A [`RegularizeError`] naming the field, e.g. `MaxNorm.max_value: must be > 0, got 0`.
    fn validate(&self) -> Result<(), RegularizeError>;

    /// Whether the parameter named `name` is constrained.
    fn selects(&self, name: &str) -> bool;

    /// Checks that the constraint can be applied to the parameter `name` holding `value`
    /// (float dtype; for norm constraints, `dim` within its rank).
    ///
    /// # Errors
    /// A [`RegularizeError::Param`] naming the parameter and its shape.
    fn check(&self, name: &str, value: &Tensor) -> Result<(), RegularizeError>;

    /// Projects one tensor in place. Writes (and so copies a shared buffer) only if some
    /// element changes.
    ///
    /// # Panics
    /// If [`check`](Constraint::check) would fail for this tensor.
    fn project(&self, value: &mut Tensor);

    /// Projects every selected, trainable parameter in place. All selected parameters are
    /// checked before any is modified, so on error nothing has changed.
    ///
    /// # Errors
    /// The first parameter [`check`](Constraint::check) rejects.
    fn apply(&self, params: &[NamedParam]) -> Result<(), RegularizeError> {
        let selected: Vec<&NamedParam> = params
            .iter()
            .filter(|(name, p)| p.requires_grad() && self.selects(name))
            .collect();
        for (name, p) in &selected {
            self.check(name, &p.value())?;
        }
        for (_, p) in selected {
            p.update(|v| self.project(v));
        }
        Ok(())
    }
}

dyn_clone::clone_trait_object!(Constraint);

/// Applies every constraint in order.
///
/// # Errors
/// The first error of [`Constraint::apply`].
pub fn apply_constraints(
    constraints: &[Box<dyn Constraint>],
    params: &[NamedParam],
) -> Result<(), RegularizeError> {
    constraints.iter().try_for_each(|c| c.apply(params))
}

/// `Ok` if `value` has a float dtype, else an error naming `plugin` and the parameter.
pub(crate) fn check_float(
    plugin: &'static str,
    name: &str,
    value: &Tensor,
) -> Result<(), RegularizeError> {
    match value.dtype() {
        DType::F32 | DType::F64 => Ok(()),
        other => Err(RegularizeError::Param {
            plugin,
            param: name.to_string(),
            shape: value.shape().to_vec(),
            reason: format!("constraints apply to float parameters, got {other}"),
        }),
    }
}

/// Resolves a possibly negative `dim` against `value`'s rank (PyTorch style), or an error
/// naming `plugin`, the parameter and its shape.
pub(crate) fn resolve_dim(
    plugin: &'static str,
    name: &str,
    value: &Tensor,
    dim: isize,
) -> Result<usize, RegularizeError> {
    let rank = value.rank() as isize;
    let d = if dim < 0 { dim + rank } else { dim };
    if (0..rank).contains(&d) {
        Ok(d as usize)
    } else {
        Err(RegularizeError::Param {
            plugin,
            param: name.to_string(),
            shape: value.shape().to_vec(),
            reason: format!(
                "dim {dim} is out of range for a rank-{rank} parameter (expected {}..={})",
                -rank,
                rank - 1
            ),
        })
    }
}

/// The L2 norm of each slice `value.select(dim, i)` (the norm over every dim but `dim`),
/// accumulated in f64.
pub fn slice_norms(value: &Tensor, dim: usize) -> Vec<f64> {
    match value.dtype() {
        DType::F32 => slice_norms_typed::<f32>(value, dim),
        DType::F64 => slice_norms_typed::<f64>(value, dim),
        other => panic!("slice_norms: expected a float tensor, got {other}"),
    }
}

fn split(shape: &[usize], dim: usize) -> (usize, usize, usize) {
    let outer = shape[..dim].iter().product();
    let inner = shape[dim + 1..].iter().product();
    (outer, shape[dim], inner)
}

fn slice_norms_typed<T: Element>(value: &Tensor, dim: usize) -> Vec<f64> {
    let (outer, n, inner) = split(value.shape(), dim);
    let data = value.contiguous_data::<T>();
    let mut sq = vec![0.0f64; n];
    for o in 0..outer {
        for (i, s) in sq.iter_mut().enumerate() {
            let base = (o * n + i) * inner;
            *s += data[base..base + inner]
                .iter()
                .map(|&x| {
                    let x = x.to_f64();
                    x * x
                })
                .sum::<f64>();
        }
    }
    sq.into_iter().map(f64::sqrt).collect()
}

/// Multiplies each slice `i` along `dim` by `scale(norm_i)` where it returns `Some`, in place;
/// writes nothing if every slice keeps its value.
pub(crate) fn rescale_slices(value: &mut Tensor, dim: usize, scale: impl Fn(f64) -> Option<f64>) {
    let scales: Vec<Option<f64>> = slice_norms(value, dim).into_iter().map(scale).collect();
    if scales.iter().all(Option::is_none) {
        return;
    }
    match value.dtype() {
        DType::F32 => rescale_typed::<f32>(value, dim, &scales),
        DType::F64 => rescale_typed::<f64>(value, dim, &scales),
        _ => unreachable!("slice_norms checked the dtype"),
    }
}

fn rescale_typed<T: Element>(value: &mut Tensor, dim: usize, scales: &[Option<f64>]) {
    let (outer, n, inner) = split(value.shape(), dim);
    let data = value.data_mut::<T>();
    for o in 0..outer {
        for (i, s) in scales.iter().enumerate() {
            if let Some(s) = *s {
                let base = (o * n + i) * inner;
                for x in &mut data[base..base + inner] {
                    *x = T::from_f64(x.to_f64() * s);
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn norms_along_each_dim() {
        // [[3, 4], [0, 1]]
        let t = Tensor::from_vec(vec![3.0f32, 4.0, 0.0, 1.0], &[2, 2]);
        assert_eq!(slice_norms(&t, 0), vec![5.0, 1.0]);
        let c = slice_norms(&t, 1);
        assert!((c[0] - 3.0).abs() < 1e-12 && (c[1] - 17f64.sqrt()).abs() < 1e-12);
        // non-contiguous input: the transpose's rows are the columns
        assert_eq!(slice_norms(&t.t(), 1), vec![5.0, 1.0]);
    }

    #[test]
    fn dim_errors_name_the_parameter() {
        let t = Tensor::from_vec(vec![1.0f32, 2.0], &[2]);
        assert_eq!(resolve_dim("MaxNorm", "b", &t, -1).unwrap(), 0);
        let e = resolve_dim("MaxNorm", "fc.bias", &t, 1).unwrap_err();
        assert_eq!(
            e.to_string(),
            "MaxNorm: parameter `fc.bias` (shape [2]): dim 1 is out of range for a rank-1 \
             parameter (expected -1..=0)"
        );
    }
}
