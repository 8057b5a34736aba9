//! Gradient clipping, with PyTorch's semantics: [`clip_grad_norm`]
//! (`torch.nn.utils.clip_grad_norm_`), [`clip_grad_norm_per_param`] (each gradient clipped
//! to its own norm) and [`clip_grad_value`] (`torch.nn.utils.clip_grad_value_`).
//!
//! All take a slice of [`Param`]s or of [`NamedParam`]s and skip parameters without a
//! gradient. Norms are accumulated in f64.

use tuna_autograd::{NamedParam, Param};
use tuna_tensor::{FloatElement, Tensor};

use crate::error::OptimError;
use crate::optimizer::float_dispatch;

/// Anything that holds a [`Param`]: `Param` itself and [`NamedParam`].
pub trait AsParam {
    /// The parameter.
    fn as_param(&self) -> &Param;
}

impl AsParam for Param {
    fn as_param(&self) -> &Param {
        self
    }
}

impl AsParam for NamedParam {
    fn as_param(&self) -> &Param {
        &self.1
    }
}

fn check_norm_type(norm_type: f64) -> Result<(), OptimError> {
    if norm_type == f64::INFINITY || (norm_type.is_finite() && norm_type > 0.0) {
        Ok(())
    } else {
        Err(OptimError::Config {
            field: "clip_grad_norm.norm_type".into(),
            message: format!("must be > 0 or infinity, got {norm_type}"),
        })
    }
}

/// The `norm_type`-norm of one tensor (f64 accumulation); `inf` is the max-abs norm.
fn tensor_norm(t: &Tensor, norm_type: f64) -> f64 {
    float_dispatch!(t.dtype(), T => {
        let d = t.contiguous_data::<T>();
        norm_of::<T>(&d, norm_type)
    })
}

fn norm_of<T: FloatElement>(d: &[T], norm_type: f64) -> f64 {
    let f = |x: &T| tuna_tensor::Element::to_f64(*x).abs();
    if norm_type == f64::INFINITY {
        d.iter()
            .map(f)
            .fold(0.0, |a, x| if x > a || x.is_nan() { x } else { a })
    } else if norm_type == 2.0 {
        d.iter().map(|x| f(x) * f(x)).sum::<f64>().sqrt()
    } else if norm_type == 1.0 {
        d.iter().map(f).sum()
    } else {
        d.iter()
            .map(|x| f(x).powf(norm_type))
            .sum::<f64>()
            .powf(1.0 / norm_type)
    }
}

/// Combines per-tensor norms into the total norm (the norm of the vector of norms).
fn combine(norms: &[f64], norm_type: f64) -> f64 {
    norm_of::<f64>(norms, norm_type)
}

/// Multiplies a parameter's gradient by `coef`, in place when the gradient buffer is not
/// shared.
fn scale_grad(p: &Param, coef: f64) {
    if let Some(mut g) = p.grad() {
        p.set_grad(None);
        float_dispatch!(g.dtype(), T => {
            let c = T::of(coef);
            g.data_mut::<T>().iter_mut().for_each(|x| *x *= c);
        });
        p.set_grad(Some(g));
    }
}

/// Clips the gradients' total norm to `max_norm`, as `torch.nn.utils.clip_grad_norm_`: the
/// total norm is the `norm_type`-norm of all gradients together (`f64::INFINITY` for the
/// max-abs norm); every gradient is multiplied by `min(1, max_norm / (total + 1e-6))`.
/// Returns the total norm before clipping (0 if no parameter has a gradient).
///
/// ```
/// use tuna_autograd::Param;
/// use tuna_tensor::Tensor;
/// let p = Param::new(Tensor::from_vec(vec![0.0f32; 2], &[2]));
/// p.set_grad(Some(Tensor::from_vec(vec![3.0f32, 4.0], &[2])));
/// let total = tuna_optim::clip_grad_norm(&[p.clone()], 1.0, 2.0, false).unwrap();
/// assert_eq!(total, 5.0);
/// let g = p.grad().unwrap().to_vec::<f32>();
/// assert!((g[0] - 0.6).abs() < 1e-6 && (g[1] - 0.8).abs() < 1e-6);
/// ```
///
/// # Errors
/// An invalid `norm_type` ([`OptimError::Config`]); a NaN or infinite total norm when
/// `error_if_nonfinite` ([`OptimError::NonFinite`]; gradients are left unchanged).
pub fn clip_grad_norm<P: AsParam>(
    params: &[P],
    max_norm: f64,
    norm_type: f64,
    error_if_nonfinite: bool,
) -> Result<f64, OptimError> {
    check_norm_type(norm_type)?;
    let grads: Vec<&Param> = params
        .iter()
        .map(AsParam::as_param)
        .filter(|p| p.grad().is_some())
        .collect();
    if grads.is_empty() {
        return Ok(0.0);
    }
    let norms: Vec<f64> = grads
        .iter()
        .map(|p| tensor_norm(&p.grad().expect("filtered"), norm_type))
        .collect();
    let total = combine(&norms, norm_type);
    if error_if_nonfinite && !total.is_finite() {
        return Err(OptimError::NonFinite { norm_type, total });
    }
    let coef = (max_norm / (total + 1e-6)).min(1.0);
    for p in grads {
        scale_grad(p, coef);
    }
    Ok(total)
}

/// Clips each gradient to norm `max_norm` separately (per-tensor clipping): each gradient is
/// multiplied by `min(1, max_norm / (its norm + 1e-6))`. Returns the norms before clipping,
/// one per parameter that has a gradient, in order.
///
/// # Errors
/// An invalid `norm_type`.
pub fn clip_grad_norm_per_param<P: AsParam>(
    params: &[P],
    max_norm: f64,
    norm_type: f64,
) -> Result<Vec<f64>, OptimError> {
    check_norm_type(norm_type)?;
    let mut out = Vec::new();
    for p in params.iter().map(AsParam::as_param) {
        if let Some(g) = p.grad() {
            let n = tensor_norm(&g, norm_type);
            drop(g);
            scale_grad(p, (max_norm / (n + 1e-6)).min(1.0));
            out.push(n);
        }
    }
    Ok(out)
}

/// Clamps every gradient element to `[-clip_value, clip_value]`
/// (`torch.nn.utils.clip_grad_value_`).
///
/// # Errors
/// A negative or NaN `clip_value`.
pub fn clip_grad_value<P: AsParam>(params: &[P], clip_value: f64) -> Result<(), OptimError> {
    if clip_value.is_nan() || clip_value < 0.0 {
        return Err(OptimError::Config {
            field: "clip_grad_value.clip_value".into(),
            message: format!("must be >= 0, got {clip_value}"),
        });
    }
    for p in params.iter().map(AsParam::as_param) {
        if let Some(mut g) = p.grad() {
            p.set_grad(None);
            float_dispatch!(g.dtype(), T => {
                let (lo, hi) = (T::of(-clip_value), T::of(clip_value));
                g.data_mut::<T>().iter_mut().for_each(|x| *x = x.max(lo).min(hi));
            });
            p.set_grad(Some(g));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn param(g: &[f64]) -> Param {
        let p = Param::new(Tensor::zeros(&[g.len()], tuna_tensor::DType::F64));
        p.set_grad(Some(Tensor::from_vec(g.to_vec(), &[g.len()])));
        p
    }

    fn grad(p: &Param) -> Vec<f64> {
        p.grad().unwrap().to_vec::<f64>()
    }

    #[test]
    fn total_l2_norm_closed_form() {
        let (a, b) = (param(&[3.0, 0.0]), param(&[0.0, 4.0]));
        let none = Param::new(Tensor::zeros(&[1], tuna_tensor::DType::F64));
        let ps = vec![
            ("a".to_string(), a.clone()),
            ("n".into(), none),
            ("b".into(), b.clone()),
        ];
        let total = clip_grad_norm(&ps, 2.5, 2.0, false).unwrap();
        assert_eq!(total, 5.0);
        let c = 2.5 / (5.0 + 1e-6);
        assert_eq!(grad(&a), vec![3.0 * c, 0.0]);
        assert_eq!(grad(&b), vec![0.0, 4.0 * c]);
    }

    #[test]
    fn no_clipping_below_max_norm() {
        let a = param(&[0.3, -0.4]);
        assert!(
            (clip_grad_norm(std::slice::from_ref(&a), 1.0, 2.0, false).unwrap() - 0.5).abs()
                < 1e-15
        );
        assert_eq!(grad(&a), vec![0.3, -0.4]);
    }

    #[test]
    fn inf_and_l1_norms() {
        let (a, b) = (param(&[1.0, -7.0]), param(&[2.0]));
        assert_eq!(
            clip_grad_norm(&[a.clone(), b.clone()], 100.0, f64::INFINITY, false).unwrap(),
            7.0
        );
        assert_eq!(clip_grad_norm(&[a, b], 100.0, 1.0, false).unwrap(), 10.0);
        let c = param(&[1.0, 1.0]);
        let n3 = clip_grad_norm(&[c], 100.0, 3.0, false).unwrap();
        assert!((n3 - 2f64.powf(1.0 / 3.0)).abs() < 1e-15);
    }

    #[test]
    fn nonfinite_is_an_error_when_asked() {
        let a = param(&[f64::INFINITY, 1.0]);
        let e = clip_grad_norm(std::slice::from_ref(&a), 1.0, 2.0, true).unwrap_err();
        assert!(matches!(e, OptimError::NonFinite { .. }), "{e}");
        assert_eq!(grad(&a)[1], 1.0);
        assert!(clip_grad_norm(&[a], 1.0, 0.0, false).is_err());
    }

    #[test]
    fn per_param_and_value() {
        let (a, b) = (param(&[3.0, 4.0]), param(&[0.1]));
        let norms = clip_grad_norm_per_param(&[a.clone(), b.clone()], 1.0, 2.0).unwrap();
        assert_eq!(norms, vec![5.0, 0.1]);
        let c = 1.0 / (5.0 + 1e-6);
        assert_eq!(grad(&a), vec![3.0 * c, 4.0 * c]);
        assert_eq!(grad(&b), vec![0.1]);
        let v = param(&[-3.0, 0.5, 2.0]);
        clip_grad_value(std::slice::from_ref(&v), 1.0).unwrap();
        assert_eq!(grad(&v), vec![-1.0, 0.5, 1.0]);
        assert!(clip_grad_value(&[v], -1.0).is_err());
    }

    #[test]
    fn f32_gradients() {
        let p = Param::new(Tensor::zeros(&[2], tuna_tensor::DType::F32));
        p.set_grad(Some(Tensor::from_vec(vec![6.0f32, 8.0], &[2])));
        assert_eq!(
            clip_grad_norm(std::slice::from_ref(&p), 5.0, 2.0, false).unwrap(),
            10.0
        );
        let g = p.grad().unwrap().to_vec::<f32>();
        assert!((g[0] - 3.0).abs() < 1e-5 && (g[1] - 4.0).abs() < 1e-5);
    }
}
