//! Every differentiable operation and its gradient, in one `match` (the candle layout): read
//! this file to audit any op's backward formula. Elementwise ops are grouped as
//! `Op::Unary(input, UnaryOp)` and `Op::Binary(a, b, BinaryOp)`, whose gradients live in the
//! op tables of [`crate::elementwise`]; reductions as `Op::Reduce { op: ReduceOp, .. }`.

use smallvec::{smallvec, SmallVec};
use tuna_tensor::layout::Dims;
use tuna_tensor::{
    adaptive_avg_pool2d_backward, avg_pool2d_backward, conv1d_backward_bias, conv1d_backward_input,
    conv1d_backward_weight, conv2d_backward_bias, conv2d_backward_input, conv2d_backward_weight,
    conv_transpose2d_backward_bias, conv_transpose2d_backward_input,
    conv_transpose2d_backward_weight, max_pool2d_backward, pad_backward, AvgPool2dOptions,
    Conv1dOptions, Conv2dOptions, ConvTranspose2dOptions, PadMode, Result, Tensor,
};

use crate::custom::CustomOp;
use crate::elementwise::{BinaryOp, UnaryOp};
use crate::param::Param;
use crate::tape::Node;

/// Gradients for an op's inputs: `(input node, d loss / d input)`.
pub(crate) type InputGrads = SmallVec<[(usize, Tensor); 2]>;

/// A reduction over a set of dims (`Op::Reduce`).
#[derive(Clone, Copy, Debug, PartialEq)]
pub(crate) enum ReduceOp {
    Sum,
    Mean,
    /// Gradient shared evenly among tied maxima.
    Amax,
    /// Gradient shared evenly among tied minima.
    Amin,
    LogSumExp,
    /// Variance with Bessel-style `correction` (1 = unbiased).
    Var {
        correction: f64,
    },
}

impl ReduceOp {
    /// The PyTorch-style name of the reduction's backward.
    fn name(&self) -> &'static str {
        match self {
            ReduceOp::Sum => "SumBackward",
            ReduceOp::Mean => "MeanBackward",
            ReduceOp::Amax => "AmaxBackward",
            ReduceOp::Amin => "AminBackward",
            ReduceOp::LogSumExp => "LogsumexpBackward",
            ReduceOp::Var { .. } => "VarBackward",
        }
    }

    /// The reduced value (the tensor kernel).
    pub(crate) fn forward(&self, x: &Tensor, dims: &[isize], keepdim: bool) -> Result<Tensor> {
        match *self {
            ReduceOp::Sum => x.try_sum_dims(dims, keepdim),
            ReduceOp::Mean => x.try_mean_dims(dims, keepdim),
            ReduceOp::Amax => x.try_amax(dims, keepdim),
            ReduceOp::Amin => x.try_amin(dims, keepdim),
            ReduceOp::LogSumExp => x.try_logsumexp(dims, keepdim),
            ReduceOp::Var { correction } => x.try_var_dims(dims, correction, keepdim),
        }
    }
}

/// The options of a convolution (`Op::Conv`), which also pick its gradient kernels.
#[derive(Clone, Debug)]
pub(crate) enum ConvOptions {
    D1(Conv1dOptions),
    D2(Conv2dOptions),
    Transpose2d(ConvTranspose2dOptions),
}

impl ConvOptions {
    fn grad_input(&self, g: &Tensor, w: &Tensor, x_shape: &[usize]) -> Tensor {
        match self {
            ConvOptions::D1(o) => conv1d_backward_input(g, w, x_shape, o),
            ConvOptions::D2(o) => conv2d_backward_input(g, w, x_shape, o),
            ConvOptions::Transpose2d(o) => conv_transpose2d_backward_input(g, w, x_shape, o),
        }
    }

    fn grad_weight(&self, g: &Tensor, x: &Tensor, w_shape: &[usize]) -> Tensor {
        match self {
            ConvOptions::D1(o) => conv1d_backward_weight(g, x, w_shape, o),
            ConvOptions::D2(o) => conv2d_backward_weight(g, x, w_shape, o),
            ConvOptions::Transpose2d(o) => conv_transpose2d_backward_weight(g, x, w_shape, o),
        }
    }

    fn grad_bias(&self, g: &Tensor) -> Tensor {
        match self {
            ConvOptions::D1(_) => conv1d_backward_bias(g),
            ConvOptions::D2(_) => conv2d_backward_bias(g),
            ConvOptions::Transpose2d(_) => conv_transpose2d_backward_bias(g),
        }
    }
}

/// A recorded operation: the input node ids plus whatever non-differentiable data its
/// backward needs. Input and output values are read from the tape, never copied here.
pub(crate) enum Op {
    Leaf(Option<Param>),
    Unary(usize, UnaryOp),
    Binary(usize, usize, BinaryOp),
    /// `where(cond, a, b)`, cond saved.
    Where {
        cond: Tensor,
        a: usize,
        b: usize,
    },
    /// The mask is expanded to the input's shape.
    MaskedFill(usize, Tensor),
    /// `dims` are resolved (non-negative, sorted; every dim for a full reduction).
    Reduce {
        arg: usize,
        op: ReduceOp,
        dims: Dims,
        keepdim: bool,
    },
    /// max/min along one (resolved) dim with the saved indices in keepdim shape.
    ExtremeDim {
        arg: usize,
        dim: usize,
        indices: Tensor,
    },
    Softmax(usize, isize),
    LogSoftmax(usize, isize),
    Matmul(usize, usize),
    /// Any view or copy with the same elements in the same order: reshape, flatten,
    /// (un)squeeze, contiguous.
    Reshape(usize),
    Transpose {
        arg: usize,
        d0: isize,
        d1: isize,
    },
    /// The (resolved) permutation.
    Permute(usize, Dims),
    /// `input[..., start:end:step, ...]` on `dim`.
    Slice {
        arg: usize,
        dim: isize,
        start: usize,
        end: usize,
        step: usize,
    },
    Expand(usize),
    Cat(Vec<usize>, isize),
    IndexSelect {
        arg: usize,
        dim: isize,
        index: Tensor,
    },
    Gather {
        arg: usize,
        dim: isize,
        index: Tensor,
    },
    /// `arg.scatter_add(dim, index, src)`.
    ScatterAdd {
        arg: usize,
        src: usize,
        dim: isize,
        index: Tensor,
    },
    /// Rows of `weight` looked up by the flat `indices`.
    Embedding {
        weight: usize,
        indices: Tensor,
        padding_idx: Option<i64>,
        scale_grad_by_freq: bool,
    },
    Conv {
        input: usize,
        weight: usize,
        bias: Option<usize>,
        opts: ConvOptions,
    },
    /// (input, indices)
    MaxPool2d(usize, Tensor),
    AvgPool2d(usize, AvgPool2dOptions),
    AdaptiveAvgPool2d(usize),
    /// `F.pad` pairs from the last dim.
    Pad {
        arg: usize,
        pad: Vec<usize>,
        mode: PadMode,
    },
    Custom(Box<dyn CustomOp>, Vec<usize>),
}

impl Op {
    /// The PyTorch-style name of the op's backward (`AddBackward`, ...), for debugging.
    pub(crate) fn name(&self) -> &'static str {
        match self {
            Op::Leaf(_) => "Leaf",
            Op::Unary(_, op) => op.name(),
            Op::Binary(_, _, op) => op.name(),
            Op::Where { .. } => "WhereBackward",
            Op::MaskedFill(..) => "MaskedFillBackward",
            Op::Reduce { op, .. } => op.name(),
            Op::ExtremeDim { .. } => "MaxBackward",
            Op::Softmax(..) => "SoftmaxBackward",
            Op::LogSoftmax(..) => "LogSoftmaxBackward",
            Op::Matmul(..) => "MmBackward",
            Op::Reshape(..) => "ReshapeBackward",
            Op::Transpose { .. } => "TransposeBackward",
            Op::Permute(..) => "PermuteBackward",
            Op::Slice { .. } => "SliceBackward",
            Op::Expand(..) => "ExpandBackward",
            Op::Cat(..) => "CatBackward",
            Op::IndexSelect { .. } => "IndexSelectBackward",
            Op::Gather { .. } => "GatherBackward",
            Op::ScatterAdd { .. } => "ScatterAddBackward",
            Op::Embedding { .. } => "EmbeddingBackward",
            Op::Conv {
                opts: ConvOptions::Transpose2d(_),
                ..
            } => "ConvTransposeBackward",
            Op::Conv { .. } => "ConvolutionBackward",
            Op::MaxPool2d(..) => "MaxPool2DWithIndicesBackward",
            Op::AvgPool2d(..) => "AvgPool2DBackward",
            Op::AdaptiveAvgPool2d(..) => "AdaptiveAvgPool2DBackward",
            Op::Pad { .. } => "PadBackward",
            Op::Custom(c, _) => c.name(),
        }
    }

    /// The gradients of the op's inputs given `g = d loss / d output`.
    pub(crate) fn backward(&self, nodes: &[Node], id: usize, g: &Tensor) -> InputGrads {
        let val = |i: usize| &nodes[i].value;
        let out = &nodes[id].value;
        let shape = |i: usize| nodes[i].value.shape();
        match self {
            Op::Leaf(_) => smallvec![],
            Op::Unary(a, op) => smallvec![(*a, op.backward(g, val(*a), out))],
            Op::Binary(a, b, op) => {
                let (ga, gb) = op.backward(g, val(*a), val(*b), out);
                smallvec![
                    (*a, ga.sum_to_shape(shape(*a))),
                    (*b, gb.sum_to_shape(shape(*b)))
                ]
            }
            Op::Where { cond, a, b } => {
                let z = Tensor::scalar_of(0.0, g.dtype());
                smallvec![
                    (*a, cond.where_cond(g, &z).sum_to_shape(shape(*a))),
                    (*b, cond.where_cond(&z, g).sum_to_shape(shape(*b)))
                ]
            }
            Op::MaskedFill(a, mask) => smallvec![(*a, g.masked_fill(mask, 0.0))],
            Op::Reduce {
                arg,
                op,
                dims,
                keepdim,
            } => {
                let x = val(*arg);
                let gk = unreduce(g, x.shape(), dims, *keepdim);
                let gx = match op {
                    ReduceOp::Sum => gk.expand(x.shape()),
                    ReduceOp::Mean => {
                        let n = reduced_count(x.shape(), dims);
                        gk.mul_scalar(1.0 / n as f64).expand(x.shape())
                    }
                    ReduceOp::Amax | ReduceOp::Amin => {
                        let o = unreduce(out, x.shape(), dims, *keepdim);
                        let mask = x.eq(&o).to_dtype(g.dtype());
                        let count = mask.sum_dims(&signed(dims), true);
                        mask.mul(&gk).div(&count)
                    }
                    ReduceOp::LogSumExp => {
                        let o = unreduce(out, x.shape(), dims, *keepdim);
                        x.sub(&o).exp().mul(&gk)
                    }
                    ReduceOp::Var { correction } => {
                        let n = reduced_count(x.shape(), dims) as f64;
                        let centered = x.sub(&x.mean_dims(&signed(dims), true));
                        centered
                            .mul(&gk)
                            .mul_scalar(2.0 / (n - correction).max(0.0))
                    }
                };
                smallvec![(*arg, gx)]
            }
            Op::ExtremeDim { arg, dim, indices } => {
                let gk = g.reshape_to(indices.shape());
                let mask = positions_along(shape(*arg), *dim).eq(indices);
                smallvec![(
                    *arg,
                    mask.where_cond(&gk, &Tensor::scalar_of(0.0, g.dtype()))
                )]
            }
            Op::Softmax(a, dim) => {
                let s = g.mul(out).sum_dims(&[*dim], true);
                smallvec![(*a, out.mul(&g.sub(&s)))]
            }
            Op::LogSoftmax(a, dim) => {
                let s = g.sum_dims(&[*dim], true);
                smallvec![(*a, g.sub(&out.exp().mul(&s)))]
            }
            Op::Matmul(a, b) => matmul_grads(nodes, *a, *b, g),
            Op::Reshape(a) => smallvec![(*a, g.reshape_to(shape(*a)))],
            Op::Transpose { arg, d0, d1 } => smallvec![(*arg, g.transpose(*d0, *d1))],
            Op::Permute(a, dims) => {
                let mut inv = vec![0isize; dims.len()];
                for (i, &d) in dims.iter().enumerate() {
                    inv[d] = i as isize;
                }
                smallvec![(*a, g.permute(&inv))]
            }
            Op::Slice {
                arg,
                dim,
                start,
                end,
                step,
            } => {
                let z = Tensor::zeros(shape(*arg), g.dtype());
                smallvec![(*arg, z.slice_scatter(g, *dim, *start, *end, *step))]
            }
            Op::Expand(a) => smallvec![(*a, g.sum_to_shape(shape(*a)))],
            Op::Cat(inputs, dim) => {
                let mut start = 0;
                inputs
                    .iter()
                    .map(|&i| {
                        let len = val(i).size(*dim);
                        let gi = g.narrow(*dim, start, len);
                        start += len;
                        (i, gi)
                    })
                    .collect()
            }
            Op::IndexSelect { arg, dim, index } => {
                let z = Tensor::zeros(shape(*arg), g.dtype());
                smallvec![(*arg, z.index_add(*dim, index, g))]
            }
            Op::Gather { arg, dim, index } => {
                let z = Tensor::zeros(shape(*arg), g.dtype());
                smallvec![(*arg, z.scatter_add(*dim, index, g))]
            }
            Op::ScatterAdd {
                arg,
                src,
                dim,
                index,
            } => smallvec![(*arg, g.clone()), (*src, g.gather(*dim, index))],
            Op::Embedding {
                weight,
                indices,
                padding_idx,
                scale_grad_by_freq,
            } => smallvec![(
                *weight,
                embedding_grad(
                    g,
                    shape(*weight),
                    indices,
                    *padding_idx,
                    *scale_grad_by_freq
                )
            )],
            Op::Conv {
                input,
                weight,
                bias,
                opts,
            } => {
                let mut grads: InputGrads = smallvec![];
                if nodes[*input].requires_grad {
                    grads.push((*input, opts.grad_input(g, val(*weight), shape(*input))));
                }
                if nodes[*weight].requires_grad {
                    grads.push((*weight, opts.grad_weight(g, val(*input), shape(*weight))));
                }
                if let Some(b) = bias {
                    grads.push((*b, opts.grad_bias(g)));
                }
                grads
            }
            Op::MaxPool2d(a, indices) => {
                smallvec![(*a, max_pool2d_backward(g, indices, shape(*a)))]
            }
            Op::AvgPool2d(a, opts) => smallvec![(*a, avg_pool2d_backward(g, shape(*a), opts))],
            Op::AdaptiveAvgPool2d(a) => smallvec![(*a, adaptive_avg_pool2d_backward(g, shape(*a)))],
            Op::Pad { arg, pad, mode } => {
                smallvec![(*arg, pad_backward(g, shape(*arg), pad, *mode))]
            }
            Op::Custom(f, inputs) => custom_grads(f.as_ref(), inputs, nodes, out, g),
        }
    }
}

/// Gradients of `a.matmul(b)` (both at least 2-D) for the inputs that require one.
fn matmul_grads(nodes: &[Node], a: usize, b: usize, g: &Tensor) -> InputGrads {
    let (x, y) = (&nodes[a].value, &nodes[b].value);
    let mut grads: InputGrads = smallvec![];
    // A transposed operand (e.g. `x.matmul(w.t())`) gets its gradient computed as the
    // transpose of a contiguous product, so the transpose's backward hands the leaf a
    // contiguous tensor instead of a strided one it would have to copy.
    let transposed = |t: &Tensor| t.rank() == 2 && !t.is_contiguous() && t.t().is_contiguous();
    if nodes[a].requires_grad {
        let ga = if transposed(x) && y.rank() == 2 {
            y.matmul(&g.t()).t()
        } else {
            g.matmul(&y.t()).sum_to_shape(x.shape())
        };
        grads.push((a, ga));
    }
    if nodes[b].requires_grad {
        let gb = if y.rank() == 2 && x.rank() >= 2 {
            let k = x.size(-1);
            let n = g.size(-1);
            let (xf, gf) = (x.reshape(&[-1, k as isize]), g.reshape(&[-1, n as isize]));
            if transposed(y) {
                gf.t().matmul(&xf).t()
            } else {
                xf.t().matmul(&gf)
            }
        } else {
            x.t().matmul(g).sum_to_shape(y.shape())
        };
        grads.push((b, gb));
    }
    grads
}

/// The gradient of an embedding's `weight` (`shape`): each lookup's row of `g` added to its
/// row, weighted 0 for `padding_idx` and `1/count(index)` with `scale_grad_by_freq`.
fn embedding_grad(
    g: &Tensor,
    shape: &[usize],
    flat: &Tensor,
    padding_idx: Option<i64>,
    scale_by_freq: bool,
) -> Tensor {
    let mut rows = g.reshape_to(&[flat.numel(), shape[1]]);
    let ids = flat.to_vec::<i64>();
    if scale_by_freq || padding_idx.is_some() {
        let mut counts = vec![0usize; shape[0]];
        for &i in &ids {
            counts[i as usize] += 1;
        }
        let scale: Vec<f64> = ids
            .iter()
            .map(|&i| {
                if Some(i) == padding_idx {
                    0.0
                } else if scale_by_freq {
                    1.0 / counts[i as usize] as f64
                } else {
                    1.0
                }
            })
            .collect();
        let scale = Tensor::from_vec(scale, &[ids.len(), 1]).to_dtype(g.dtype());
        rows = rows.mul(&scale);
    }
    Tensor::zeros(shape, g.dtype()).index_add(0, flat, &rows)
}

/// The gradients a custom op's `backward` gives its inputs.
fn custom_grads(
    f: &dyn CustomOp,
    inputs: &[usize],
    nodes: &[Node],
    out: &Tensor,
    g: &Tensor,
) -> InputGrads {
    let ins: Vec<&Tensor> = inputs.iter().map(|&i| &nodes[i].value).collect();
    let grads = f.backward(&ins, out, g);
    assert_eq!(
        grads.len(),
        inputs.len(),
        "{}: backward returned {} gradients for {} inputs",
        f.name(),
        grads.len(),
        inputs.len()
    );
    inputs
        .iter()
        .zip(grads)
        .filter_map(|(&i, gi)| gi.map(|gi| (i, gi)))
        .collect()
}

/// Resolved dims as the signed dims the tensor API takes.
fn signed(dims: &[usize]) -> SmallVec<[isize; 4]> {
    dims.iter().map(|&d| d as isize).collect()
}

/// Number of elements reduced over the (resolved) `dims`.
fn reduced_count(shape: &[usize], dims: &[usize]) -> usize {
    dims.iter().map(|&d| shape[d]).product()
}

/// Reinserts the reduced (resolved) dims as size 1 so `g` broadcasts against the input of
/// shape `shape`.
fn unreduce(g: &Tensor, shape: &[usize], dims: &[usize], keepdim: bool) -> Tensor {
    if keepdim {
        return g.clone();
    }
    let mut keep: Vec<usize> = shape.to_vec();
    for &d in dims {
        keep[d] = 1;
    }
    g.reshape_to(&keep)
}

/// An i64 tensor of `shape` whose every element is its own index along the (resolved) `dim`.
fn positions_along(shape: &[usize], dim: usize) -> Tensor {
    if shape.is_empty() {
        return Tensor::from_vec(vec![0i64], &[]);
    }
    let n = shape[dim];
    let mut view = vec![1usize; shape.len()];
    view[dim] = n;
    Tensor::from_vec((0..n as i64).collect::<Vec<i64>>(), &view).expand(shape)
}
