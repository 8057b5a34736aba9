//! User-defined differentiable operations (PyTorch `torch.autograd.Function`).

use tuna_tensor::Tensor;

use crate::op::Op;
use crate::tape::{Tape, Var};

/// The backward half of a custom differentiable operation. Implement it for a type holding
/// whatever the backward needs, compute the forward yourself, then record both with
/// [`Tape::custom`].
///
/// ```
/// use tuna_autograd::{CustomOp, Tape};
/// use tuna_tensor::Tensor;
///
/// /// y = x³, with a hand-written gradient 3x².
/// struct Cube;
/// impl CustomOp for Cube {
///     fn name(&self) -> &'static str { "CubeBackward" }
///     fn backward(&self, inputs: &[&Tensor], _out: &Tensor, g: &Tensor) -> Vec<Option<Tensor>> {
///         vec![Some(g.mul(&inputs[0].square().mul_scalar(3.0)))]
///     }
/// }
///
/// let tape = Tape::new();
/// let x = tape.var(Tensor::from_vec(vec![2.0f64], &[1]));
/// let y = tape.custom(&[x], x.value().pow_scalar(3.0), Box::new(Cube));
/// y.sum().backward();
/// assert_eq!(x.grad().unwrap().to_vec::<f64>(), vec![12.0]);
/// ```
pub trait CustomOp: 'static {
    /// A name for debugging, e.g. `"CubeBackward"`.
    fn name(&self) -> &'static str;

    /// Gradients for each input (same order as recorded; `None` for inputs that get none),
    /// given the inputs' values, the output value and `grad = d loss / d output`.
    fn backward(&self, inputs: &[&Tensor], output: &Tensor, grad: &Tensor) -> Vec<Option<Tensor>>;
}

impl Tape {
    /// Records a custom operation: `output` was computed from `inputs` by the caller, and
    /// `op.backward` gives the inputs' gradients.
    pub fn custom<'t>(
        &'t self,
        inputs: &[Var<'t>],
        output: Tensor,
        op: Box<dyn CustomOp>,
    ) -> Var<'t> {
        let ids: Vec<usize> = inputs.iter().map(|v| v.id).collect();
        Var::record(self, output, Op::Custom(op, ids.clone()), &ids)
    }
}
