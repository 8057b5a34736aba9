//! The per-step tape: an arena of recorded operations, and [`Var`], a `Copy` handle into it.

use std::cell::RefCell;
use std::fmt;

use tuna_tensor::layout::Dims;
use tuna_tensor::{DType, Tensor};

use crate::grad_mode::is_grad_enabled;
use crate::op::Op;
use crate::param::Param;

pub(crate) struct Node {
    pub value: Tensor,
    pub op: Op,
    pub requires_grad: bool,
}

/// A recording of one step's computation (PyTorch's autograd graph, made explicit).
///
/// Operations on [`Var`]s append nodes in execution order, so the nodes are already
/// topologically sorted and backward is one reverse sweep with no graph search. A tape is
/// meant to live for one training step: create it, run forward and backward, drop it. Dropping
/// frees every saved activation at once.
///
/// ```
/// use tuna_autograd::Tape;
/// use tuna_tensor::Tensor;
///
/// let tape = Tape::new();
/// let x = tape.var(Tensor::from_vec(vec![1.0f64, 2.0, 3.0], &[3]));
/// let y = (x * x).sum();            // y = Σ x²
/// y.backward();
/// assert_eq!(x.grad().unwrap().to_vec::<f64>(), vec![2.0, 4.0, 6.0]);
/// ```
#[derive(Default)]
pub struct Tape {
    pub(crate) nodes: RefCell<Vec<Node>>,
    leaf_grads: RefCell<Vec<(usize, Tensor)>>,
}

/// A tensor recorded on a [`Tape`]: a value plus its place in the graph (what PyTorch calls a
/// tensor with `requires_grad`). `Var` is `Copy`; operations take it by value and return a new
/// `Var` on the same tape.
#[derive(Clone, Copy)]
pub struct Var<'t> {
    pub(crate) tape: &'t Tape,
    pub(crate) id: usize,
}

impl Tape {
    /// An empty tape.
    pub fn new() -> Self {
        Self::default()
    }

    /// Number of recorded nodes.
    pub fn len(&self) -> usize {
        self.nodes.borrow().len()
    }

    /// Whether nothing was recorded.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    pub(crate) fn push(&self, value: Tensor, op: Op, requires_grad: bool) -> Var<'_> {
        let mut nodes = self.nodes.borrow_mut();
        let id = nodes.len();
        nodes.push(Node {
            value,
            op: if requires_grad { op } else { Op::Leaf(None) },
            requires_grad,
        });
        Var { tape: self, id }
    }

    /// A leaf that requires a gradient (`torch.tensor(..., requires_grad=True)`); after
    /// `backward`, read it with [`Var::grad`].
    pub fn var(&self, value: Tensor) -> Var<'_> {
        self.push(value, Op::Leaf(None), true)
    }

    /// A leaf that does not require a gradient (inputs, targets, masks).
    pub fn constant(&self, value: Tensor) -> Var<'_> {
        self.push(value, Op::Leaf(None), false)
    }

    /// Brings a parameter's current value into the graph; backward adds its gradient to
    /// [`Param::grad`]. A frozen parameter (`requires_grad == false`) is a constant.
    pub fn param(&self, p: &Param) -> Var<'_> {
        let rg = p.requires_grad();
        self.push(p.value(), Op::Leaf(Some(p.clone())), rg)
    }

    pub(crate) fn value(&self, id: usize) -> Tensor {
        self.nodes.borrow()[id].value.clone()
    }

    fn add_leaf_grad(&self, id: usize, g: Tensor) {
        let mut lg = self.leaf_grads.borrow_mut();
        if let Some(slot) = lg.iter_mut().find(|(i, _)| *i == id) {
            slot.1 = slot.1.add(&g);
        } else {
            lg.push((id, g.contiguous()));
        }
    }

    fn leaf_grad(&self, id: usize) -> Option<Tensor> {
        self.leaf_grads
            .borrow()
            .iter()
            .find(|(i, _)| *i == id)
            .map(|(_, g)| g.clone())
    }

    /// Runs the reverse sweep from `root` with upstream gradient `seed`.
    fn backward_from(&self, root: usize, seed: Tensor) {
        let nodes = self.nodes.borrow();
        let mut grads: Vec<Option<Tensor>> = vec![None; root + 1];
        grads[root] = Some(seed);
        for id in (0..=root).rev() {
            let Some(g) = grads[id].take() else { continue };
            let node = &nodes[id];
            if !node.requires_grad {
                continue;
            }
            match &node.op {
                Op::Leaf(param) => {
                    match param {
                        Some(p) => p.accumulate_grad(g),
                        None => self.add_leaf_grad(id, g),
                    }
                    continue;
                }
                op => {
                    for (input, gi) in op.backward(&nodes, id, &g) {
                        if !nodes[input].requires_grad {
                            continue;
                        }
                        debug_assert_eq!(
                            gi.shape(),
                            nodes[input].value.shape(),
                            "gradient shape for input of {}",
                            op.name()
                        );
                        grads[input] = Some(match grads[input].take() {
                            None => gi,
                            Some(acc) => acc.add(&gi),
                        });
                    }
                }
            }
        }
    }
}

impl<'t> Var<'t> {
    /// The tape this variable lives on.
    pub fn tape(&self) -> &'t Tape {
        self.tape
    }

    /// Position on the tape (stable for the tape's lifetime).
    pub fn id(&self) -> usize {
        self.id
    }

    /// The value (a cheap clone sharing the buffer).
    pub fn value(&self) -> Tensor {
        self.tape.value(self.id)
    }

    /// The value's shape.
    pub fn shape(&self) -> Dims {
        Dims::from_slice(self.tape.nodes.borrow()[self.id].value.shape())
    }

    /// Number of dimensions.
    pub fn rank(&self) -> usize {
        self.tape.nodes.borrow()[self.id].value.rank()
    }

    /// Size of dimension `dim` (negative counts from the end).
    #[track_caller]
    pub fn size(&self, dim: isize) -> usize {
        self.tape.nodes.borrow()[self.id].value.size(dim)
    }

    /// Number of elements.
    pub fn numel(&self) -> usize {
        self.tape.nodes.borrow()[self.id].value.numel()
    }

    /// The value's dtype.
    pub fn dtype(&self) -> DType {
        self.tape.nodes.borrow()[self.id].value.dtype()
    }

    /// The value of a one-element variable as `f64` (`tensor.item()`).
    #[track_caller]
    pub fn item(&self) -> f64 {
        self.tape.nodes.borrow()[self.id].value.item()
    }

    /// Whether backward will compute a gradient through this variable.
    pub fn requires_grad(&self) -> bool {
        self.tape.nodes.borrow()[self.id].requires_grad
    }

    /// The same value cut from the graph (`tensor.detach()`): no gradient flows through it.
    pub fn detach(self) -> Var<'t> {
        let v = self.value();
        self.tape.constant(v)
    }

    /// The gradient accumulated on this leaf by `backward` calls (`tensor.grad`); `None` for
    /// non-leaves and for leaves no backward reached. Parameters' gradients live on the
    /// [`Param`].
    pub fn grad(&self) -> Option<Tensor> {
        self.tape.leaf_grad(self.id)
    }

    /// Backpropagates from a one-element variable (`loss.backward()`), accumulating into leaf
    /// gradients and parameters' `grad`. May be called more than once; gradients add up.
    ///
    /// # Panics
    /// If the variable has more than one element (use [`Var::backward_with`]) or does not
    /// require a gradient.
    #[track_caller]
    pub fn backward(self) {
        let v = self.value();
        assert_eq!(
            v.numel(),
            1,
            "backward: grad can be implicitly created only for scalar outputs, got shape {:?}; use backward_with",
            v.shape()
        );
        self.backward_with(v.ones_like());
    }

    /// Backpropagates with an explicit upstream gradient of the variable's shape
    /// (`output.backward(gradient)`), i.e. computes the vector-Jacobian product.
    ///
    /// # Panics
    /// If `upstream` has a different shape, or the variable does not require a gradient.
    #[track_caller]
    pub fn backward_with(self, upstream: Tensor) {
        let v = self.value();
        assert_eq!(
            upstream.shape(),
            v.shape(),
            "backward: upstream gradient shape {:?} does not match output shape {:?}",
            upstream.shape(),
            v.shape()
        );
        assert!(
            self.requires_grad(),
            "backward: element 0 of tensors does not require grad and does not have a grad_fn"
        );
        let upstream = upstream.to_dtype(v.dtype());
        self.tape.backward_from(self.id, upstream);
    }

    /// Records `value = f(inputs)` with backward `op`. Requires a gradient iff recording is on
    /// and any input requires one.
    pub(crate) fn record(tape: &'t Tape, value: Tensor, op: Op, inputs: &[usize]) -> Var<'t> {
        let rg = is_grad_enabled() && {
            let nodes = tape.nodes.borrow();
            inputs.iter().any(|&i| nodes[i].requires_grad)
        };
        tape.push(value, op, rg)
    }
}

impl fmt::Debug for Var<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let nodes = self.tape.nodes.borrow();
        let n = &nodes[self.id];
        write!(
            f,
            "Var(id={}, shape={:?}, dtype={}, op={}, requires_grad={})",
            self.id,
            n.value.shape(),
            n.value.dtype(),
            n.op.name(),
            n.requires_grad
        )
    }
}
