//! Gradient checking: analytic gradients against central finite differences in f64
//! (PyTorch `torch.autograd.gradcheck`).

use std::fmt;

use tuna_tensor::{DType, Tensor};

use crate::grad_mode::no_grad;
use crate::tape::{Tape, Var};

/// Tolerances and step for [`gradcheck_with`]. Defaults: `eps = 1e-6`, `atol = 1e-5`,
/// `rtol = 1e-3` (PyTorch's gradcheck defaults).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct GradCheckOptions {
    /// Finite-difference step.
    pub eps: f64,
    /// Absolute tolerance.
    pub atol: f64,
    /// Relative tolerance (relative to the numerical gradient).
    pub rtol: f64,
}

impl Default for GradCheckOptions {
    fn default() -> Self {
        GradCheckOptions {
            eps: 1e-6,
            atol: 1e-5,
            rtol: 1e-3,
        }
    }
}

/// The first gradient element where analytic and numerical gradients disagree.
#[derive(Clone, Debug, PartialEq)]
pub struct GradCheckError {
    /// Which input (position in the `inputs` slice).
    pub input: usize,
    /// Flat row-major index of the element within that input.
    pub element: usize,
    /// The gradient backward computed.
    pub analytic: f64,
    /// The central finite difference.
    pub numerical: f64,
}

impl fmt::Display for GradCheckError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "gradcheck: input {} element {}: analytic {:.10e} vs numerical {:.10e}",
            self.input, self.element, self.analytic, self.numerical
        )
    }
}

impl std::error::Error for GradCheckError {}

/// Checks `f`'s gradients with respect to every input, with default options.
///
/// `f` receives the tape and one `Var` per input (converted to f64) and returns any output;
/// the check differentiates `L = Σ output ⊙ u` for a fixed pseudo-random `u`, so every output
/// element's gradient is exercised.
///
/// # Errors
/// The first element whose analytic and numerical gradients differ by more than
/// `atol + rtol·|numerical|`.
///
/// ```
/// use tuna_autograd::gradcheck::gradcheck;
/// use tuna_tensor::Tensor;
///
/// let x = Tensor::from_vec(vec![0.3f64, -1.2, 2.0], &[3]);
/// gradcheck(|_, v| v[0].tanh().mul(v[0]), &[x]).unwrap();
/// ```
pub fn gradcheck(
    f: impl for<'t> Fn(&'t Tape, &[Var<'t>]) -> Var<'t>,
    inputs: &[Tensor],
) -> Result<(), GradCheckError> {
    gradcheck_with(f, inputs, GradCheckOptions::default())
}

/// [`gradcheck`] with explicit tolerances.
///
/// # Errors
/// The first element whose gradients disagree.
pub fn gradcheck_with(
    f: impl for<'t> Fn(&'t Tape, &[Var<'t>]) -> Var<'t>,
    inputs: &[Tensor],
    opts: GradCheckOptions,
) -> Result<(), GradCheckError> {
    let inputs: Vec<Tensor> = inputs
        .iter()
        .map(|t| t.to_dtype(DType::F64).copy_contiguous())
        .collect();

    // analytic
    let tape = Tape::new();
    let vars: Vec<Var> = inputs.iter().map(|t| tape.var(t.clone())).collect();
    let out = f(&tape, &vars);
    let upstream = pseudo_random(out.numel(), out.shape().as_slice());
    out.backward_with(upstream.clone());
    let analytic: Vec<Vec<f64>> = vars
        .iter()
        .zip(&inputs)
        .map(|(v, t)| match v.grad() {
            Some(g) => g.to_vec_f64(),
            None => vec![0.0; t.numel()],
        })
        .collect();

    // numerical
    let objective = |xs: &[Tensor]| -> f64 {
        no_grad(|| {
            let tape = Tape::new();
            let vars: Vec<Var> = xs.iter().map(|t| tape.constant(t.clone())).collect();
            let out = f(&tape, &vars).value();
            out.mul(&upstream).sum().item()
        })
    };
    let mut xs = inputs.clone();
    for (i, input) in inputs.iter().enumerate() {
        for e in 0..input.numel() {
            let x0 = input.as_slice::<f64>().expect("contiguous f64")[e];
            xs[i].data_mut::<f64>()[e] = x0 + opts.eps;
            let plus = objective(&xs);
            xs[i].data_mut::<f64>()[e] = x0 - opts.eps;
            let minus = objective(&xs);
            xs[i].data_mut::<f64>()[e] = x0;
            let numerical = (plus - minus) / (2.0 * opts.eps);
            let a = analytic[i][e];
            let diff = (a - numerical).abs();
            if diff.is_nan() || diff > opts.atol + opts.rtol * numerical.abs() {
                return Err(GradCheckError {
                    input: i,
                    element: e,
                    analytic: a,
                    numerical,
                });
            }
        }
    }
    Ok(())
}

/// Deterministic upstream values in [-1, 1) (a splitmix64 stream), so checks are repeatable.
fn pseudo_random(n: usize, shape: &[usize]) -> Tensor {
    let data: Vec<f64> = (0..n as u64)
        .map(|i| {
            let mut z = (i + 1).wrapping_mul(0x9E37_79B9_7F4A_7C15);
            z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
            z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
            z ^= z >> 31;
            (z >> 11) as f64 / (1u64 << 53) as f64 * 2.0 - 1.0
        })
        .collect();
    Tensor::from_vec(data, shape)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn catches_a_wrong_gradient() {
        use crate::CustomOp;
        struct WrongSquare;
        impl CustomOp for WrongSquare {
            fn name(&self) -> &'static str {
                "WrongSquare"
            }
            fn backward(&self, inputs: &[&Tensor], _: &Tensor, g: &Tensor) -> Vec<Option<Tensor>> {
                vec![Some(g.mul(inputs[0]))] // should be 2x
            }
        }
        let x = Tensor::from_vec(vec![0.5f64, 1.5], &[2]);
        let err = gradcheck(
            |t, v| t.custom(&[v[0]], v[0].value().square(), Box::new(WrongSquare)),
            std::slice::from_ref(&x),
        )
        .unwrap_err();
        assert_eq!(err.input, 0);
        gradcheck(|_, v| v[0].square(), &[x]).unwrap();
    }
}
