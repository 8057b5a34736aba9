//! Every differentiable operation and its gradient, in one `match` (the candle layout): read
//! this file to audit any op's backward formula.

use smallvec::{smallvec, SmallVec};
use tuna_tensor::{
    adaptive_avg_pool2d_backward, avg_pool2d_backward, conv1d_backward_bias, conv1d_backward_input,
    conv1d_backward_weight, conv2d_backward_bias, conv2d_backward_input, conv2d_backward_weight,
    conv_transpose2d_backward_bias, conv_transpose2d_backward_input,
    conv_transpose2d_backward_weight, max_pool2d_backward, pad_backward, AvgPool2dOptions,
    Conv1dOptions, Conv2dOptions, ConvTranspose2dOptions, DType, GeluApprox, PadMode, Tensor,
};

use crate::custom::CustomOp;
use crate::param::Param;
use crate::tape::Node;

/// Gradients for an op's inputs: `(input node, d loss / d input)`.
pub(crate) type InputGrads = SmallVec<[(usize, Tensor); 2]>;

/// A recorded operation: the input node ids plus whatever non-differentiable data its
/// backward needs. Input and output values are read from the tape, never copied here.
pub(crate) enum Op {
    Leaf(Option<Param>),
    Add(usize, usize),
    Sub(usize, usize),
    Mul(usize, usize),
    Div(usize, usize),
    Pow(usize, usize),
    Maximum(usize, usize),
    Minimum(usize, usize),
    AddScalar(usize),
    MulScalar(usize, f64),
    PowScalar(usize, f64),
    Neg(usize),
    Exp(usize),
    Log(usize),
    Log1p(usize),
    Sqrt(usize),
    Rsqrt(usize),
    Square(usize),
    Reciprocal(usize),
    Abs(usize),
    Sin(usize),
    Cos(usize),
    Tanh(usize),
    Sigmoid(usize),
    Relu(usize),
    LeakyRelu(usize, f64),
    Elu(usize, f64),
    Gelu(usize, GeluApprox),
    Silu(usize),
    Softplus(usize, f64, f64),
    LogSigmoid(usize),
    Clamp(usize, Option<f64>, Option<f64>),
    /// `where(cond, a, b)`, cond saved.
    Where(Tensor, usize, usize),
    MaskedFill(usize, Tensor),
    Sum(usize, Vec<isize>, bool),
    Mean(usize, Vec<isize>, bool),
    /// amax/amin over dims: gradient shared evenly among tied extremes.
    Extreme(usize, Vec<isize>, bool),
    /// max/min along one dim with saved indices (keepdim shape).
    ExtremeDim(usize, isize, Tensor),
    Var(usize, Vec<isize>, f64, bool),
    LogSumExp(usize, Vec<isize>, bool),
    Softmax(usize, isize),
    LogSoftmax(usize, isize),
    Matmul(usize, usize),
    Reshape(usize),
    Transpose(usize, isize, isize),
    Permute(usize, Vec<isize>),
    /// `input[..., start:end:step, ...]` on a dim.
    Slice(usize, isize, usize, usize, usize),
    Expand(usize),
    Cat(Vec<usize>, isize),
    IndexSelect(usize, isize, Tensor),
    Gather(usize, isize, Tensor),
    /// `input.scatter_add(dim, index, src)`: (input, src, dim, index).
    ScatterAdd(usize, usize, isize, Tensor),
    /// Embedding lookup: (weight, flat indices, padding_idx, scale_grad_by_freq).
    Embedding(usize, Tensor, Option<i64>, bool),
    /// (input, weight, bias, options)
    Conv1d(usize, usize, Option<usize>, Conv1dOptions),
    Conv2d(usize, usize, Option<usize>, Conv2dOptions),
    ConvTranspose2d(usize, usize, Option<usize>, ConvTranspose2dOptions),
    /// (input, indices)
    MaxPool2d(usize, Tensor),
    AvgPool2d(usize, AvgPool2dOptions),
    AdaptiveAvgPool2d(usize),
    /// (input, `F.pad` pairs from the last dim, mode)
    Pad(usize, Vec<usize>, PadMode),
    Custom(Box<dyn CustomOp>, Vec<usize>),
}

impl Op {
    /// The PyTorch-style name of the op's backward (`AddBackward`, ...), for debugging.
    pub(crate) fn name(&self) -> &'static str {
        match self {
            Op::Leaf(_) => "Leaf",
            Op::Add(..) | Op::AddScalar(..) => "AddBackward",
            Op::Sub(..) => "SubBackward",
            Op::Mul(..) | Op::MulScalar(..) => "MulBackward",
            Op::Div(..) => "DivBackward",
            Op::Pow(..) | Op::PowScalar(..) => "PowBackward",
            Op::Maximum(..) => "MaximumBackward",
            Op::Minimum(..) => "MinimumBackward",
            Op::Neg(..) => "NegBackward",
            Op::Exp(..) => "ExpBackward",
            Op::Log(..) => "LogBackward",
            Op::Log1p(..) => "Log1pBackward",
            Op::Sqrt(..) => "SqrtBackward",
            Op::Rsqrt(..) => "RsqrtBackward",
            Op::Square(..) => "SquareBackward",
            Op::Reciprocal(..) => "ReciprocalBackward",
            Op::Abs(..) => "AbsBackward",
            Op::Sin(..) => "SinBackward",
            Op::Cos(..) => "CosBackward",
            Op::Tanh(..) => "TanhBackward",
            Op::Sigmoid(..) => "SigmoidBackward",
            Op::Relu(..) => "ReluBackward",
            Op::LeakyRelu(..) => "LeakyReluBackward",
            Op::Elu(..) => "EluBackward",
            Op::Gelu(..) => "GeluBackward",
            Op::Silu(..) => "SiluBackward",
            Op::Softplus(..) => "SoftplusBackward",
            Op::LogSigmoid(..) => "LogSigmoidBackward",
            Op::Clamp(..) => "ClampBackward",
            Op::Where(..) => "WhereBackward",
            Op::MaskedFill(..) => "MaskedFillBackward",
            Op::Sum(..) => "SumBackward",
            Op::Mean(..) => "MeanBackward",
            Op::Extreme(..) => "AmaxBackward",
            Op::ExtremeDim(..) => "MaxBackward",
            Op::Var(..) => "VarBackward",
            Op::LogSumExp(..) => "LogsumexpBackward",
            Op::Softmax(..) => "SoftmaxBackward",
            Op::LogSoftmax(..) => "LogSoftmaxBackward",
            Op::Matmul(..) => "MmBackward",
            Op::Reshape(..) => "ReshapeBackward",
            Op::Transpose(..) => "TransposeBackward",
            Op::Permute(..) => "PermuteBackward",
            Op::Slice(..) => "SliceBackward",
            Op::Expand(..) => "ExpandBackward",
            Op::Cat(..) => "CatBackward",
            Op::IndexSelect(..) => "IndexSelectBackward",
            Op::Gather(..) => "GatherBackward",
            Op::ScatterAdd(..) => "ScatterAddBackward",
            Op::Embedding(..) => "EmbeddingBackward",
            Op::Conv1d(..) | Op::Conv2d(..) => "ConvolutionBackward",
            Op::ConvTranspose2d(..) => "ConvTransposeBackward",
            Op::MaxPool2d(..) => "MaxPool2DWithIndicesBackward",
            Op::AvgPool2d(..) => "AvgPool2DBackward",
            Op::AdaptiveAvgPool2d(..) => "AdaptiveAvgPool2DBackward",
            Op::Pad(..) => "PadBackward",
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
            Op::Add(a, b) => smallvec![
                (*a, g.sum_to_shape(shape(*a))),
                (*b, g.sum_to_shape(shape(*b)))
            ],
            Op::Sub(a, b) => smallvec![
                (*a, g.sum_to_shape(shape(*a))),
                (*b, g.neg().sum_to_shape(shape(*b)))
            ],
            Op::Mul(a, b) => smallvec![
                (*a, g.mul(val(*b)).sum_to_shape(shape(*a))),
                (*b, g.mul(val(*a)).sum_to_shape(shape(*b)))
            ],
            Op::Div(a, b) => {
                let ga = g.div(val(*b));
                let gb = ga.mul(out).neg();
                smallvec![
                    (*a, ga.sum_to_shape(shape(*a))),
                    (*b, gb.sum_to_shape(shape(*b)))
                ]
            }
            Op::Pow(a, b) => {
                let (x, e) = (val(*a), val(*b));
                let ga = g.mul(&e.mul(&x.pow(&e.add_scalar(-1.0))));
                // d/de x^e = x^e ln x, taken as 0 where x == 0 and e >= 0 (as PyTorch)
                let zero_base = x
                    .eq(&Tensor::scalar_of(0.0, x.dtype()))
                    .logical_and(&e.ge(&Tensor::scalar_of(0.0, e.dtype())));
                let gb = g.mul(
                    &out.mul(&x.log())
                        .masked_fill(&zero_base.expand(out.shape()), 0.0),
                );
                smallvec![
                    (*a, ga.sum_to_shape(shape(*a))),
                    (*b, gb.sum_to_shape(shape(*b)))
                ]
            }
            Op::Maximum(a, b) | Op::Minimum(a, b) => {
                let (x, y) = (val(*a), val(*b));
                let (win_a, tie) = match self {
                    Op::Maximum(..) => (x.gt(y), x.eq(y)),
                    _ => (x.lt(y), x.eq(y)),
                };
                let fa =
                    float_mask(&win_a, g.dtype()).add(&float_mask(&tie, g.dtype()).mul_scalar(0.5));
                let ga = g.mul(&fa);
                let gb = g.sub(&ga);
                smallvec![
                    (*a, ga.sum_to_shape(shape(*a))),
                    (*b, gb.sum_to_shape(shape(*b)))
                ]
            }
            Op::AddScalar(a) => smallvec![(*a, g.clone())],
            Op::MulScalar(a, s) => smallvec![(*a, g.mul_scalar(*s))],
            Op::PowScalar(a, e) => {
                let x = val(*a);
                let d = if *e == 0.0 {
                    x.zeros_like()
                } else {
                    x.pow_scalar(e - 1.0).mul_scalar(*e)
                };
                smallvec![(*a, g.mul(&d))]
            }
            Op::Neg(a) => smallvec![(*a, g.neg())],
            Op::Exp(a) => smallvec![(*a, g.mul(out))],
            Op::Log(a) => smallvec![(*a, g.div(val(*a)))],
            Op::Log1p(a) => smallvec![(*a, g.div(&val(*a).add_scalar(1.0)))],
            Op::Sqrt(a) => smallvec![(*a, g.div(&out.mul_scalar(2.0)))],
            Op::Rsqrt(a) => smallvec![(*a, g.mul(&out.pow_scalar(3.0)).mul_scalar(-0.5))],
            Op::Square(a) => smallvec![(*a, g.mul(val(*a)).mul_scalar(2.0))],
            Op::Reciprocal(a) => smallvec![(*a, g.mul(&out.square()).neg())],
            Op::Abs(a) => smallvec![(*a, g.mul(&val(*a).sign()))],
            Op::Sin(a) => smallvec![(*a, g.mul(&val(*a).cos()))],
            Op::Cos(a) => smallvec![(*a, g.mul(&val(*a).sin()).neg())],
            Op::Tanh(a) => smallvec![(*a, g.zip_f64(out, |g, y| g * (1.0 - y * y)))],
            Op::Sigmoid(a) => smallvec![(*a, g.zip_f64(out, |g, y| g * y * (1.0 - y)))],
            Op::Relu(a) => smallvec![(*a, out.threshold_backward(g, 0.0))],
            Op::LeakyRelu(a, s) => {
                let s = *s;
                smallvec![(
                    *a,
                    g.zip_f64(val(*a), move |g, x| if x > 0.0 { g } else { g * s })
                )]
            }
            Op::Elu(a, alpha) => {
                let al = *alpha;
                smallvec![(
                    *a,
                    g.zip_f64(val(*a), move |g, x| if x > 0.0 {
                        g
                    } else {
                        g * al * x.exp()
                    })
                )]
            }
            Op::Gelu(a, approx) => smallvec![(*a, g.mul(&val(*a).gelu_grad(*approx)))],
            Op::Silu(a) => {
                let x = val(*a);
                let s = x.sigmoid();
                let d = s.mul(&x.mul(&s.neg().add_scalar(1.0)).add_scalar(1.0));
                smallvec![(*a, g.mul(&d))]
            }
            Op::Softplus(a, beta, threshold) => {
                let (b, th) = (*beta, *threshold);
                let x = val(*a);
                let d = x.map_f64(move |x| {
                    if x * b > th {
                        1.0
                    } else {
                        1.0 / (1.0 + (-x * b).exp())
                    }
                });
                smallvec![(*a, g.mul(&d))]
            }
            Op::LogSigmoid(a) => smallvec![(*a, g.mul(&val(*a).neg().sigmoid()))],
            Op::Clamp(a, lo, hi) => {
                let (lo, hi) = (*lo, *hi);
                smallvec![(
                    *a,
                    g.zip_f64(val(*a), move |g, x| {
                        let inside = lo.is_none_or(|l| x >= l) && hi.is_none_or(|h| x <= h);
                        if inside {
                            g
                        } else {
                            0.0
                        }
                    })
                )]
            }
            Op::Where(cond, a, b) => {
                let z = Tensor::scalar_of(0.0, g.dtype());
                smallvec![
                    (*a, cond.where_cond(g, &z).sum_to_shape(shape(*a))),
                    (*b, cond.where_cond(&z, g).sum_to_shape(shape(*b)))
                ]
            }
            Op::MaskedFill(a, mask) => smallvec![(*a, g.masked_fill(mask, 0.0))],
            Op::Sum(a, dims, keepdim) => {
                smallvec![(*a, unreduce(g, shape(*a), dims, *keepdim).expand(shape(*a)))]
            }
            Op::Mean(a, dims, keepdim) => {
                let n = reduced_count(shape(*a), dims);
                smallvec![(
                    *a,
                    unreduce(g, shape(*a), dims, *keepdim)
                        .mul_scalar(1.0 / n as f64)
                        .expand(shape(*a))
                )]
            }
            Op::Extreme(a, dims, keepdim) => {
                let x = val(*a);
                let o = unreduce(out, shape(*a), dims, *keepdim);
                let mask = float_mask(&x.eq(&o), g.dtype());
                let count = mask.sum_dims(dims, true);
                smallvec![(
                    *a,
                    mask.mul(&unreduce(g, shape(*a), dims, *keepdim))
                        .div(&count)
                )]
            }
            Op::ExtremeDim(a, dim, indices) => {
                let x = val(*a);
                let keep_shape = indices.shape();
                let gk = g.reshape_to(keep_shape);
                let pos = positions_along(x.shape(), *dim);
                let mask = pos.eq(indices);
                smallvec![(*a, mask.where_cond(&gk, &Tensor::scalar_of(0.0, g.dtype())))]
            }
            Op::Var(a, dims, correction, keepdim) => {
                let x = val(*a);
                let n = reduced_count(shape(*a), dims) as f64;
                let centered = x.sub(&x.mean_dims(dims, true));
                let gk = unreduce(g, shape(*a), dims, *keepdim);
                smallvec![(
                    *a,
                    centered
                        .mul(&gk)
                        .mul_scalar(2.0 / (n - correction).max(0.0))
                )]
            }
            Op::LogSumExp(a, dims, keepdim) => {
                let x = val(*a);
                let o = unreduce(out, shape(*a), dims, *keepdim);
                let gk = unreduce(g, shape(*a), dims, *keepdim);
                smallvec![(*a, x.sub(&o).exp().mul(&gk))]
            }
            Op::Softmax(a, dim) => {
                let s = g.mul(out).sum_dims(&[*dim], true);
                smallvec![(*a, out.mul(&g.sub(&s)))]
            }
            Op::LogSoftmax(a, dim) => {
                let s = g.sum_dims(&[*dim], true);
                smallvec![(*a, g.sub(&out.exp().mul(&s)))]
            }
            Op::Matmul(a, b) => {
                let (x, y) = (val(*a), val(*b));
                let mut grads: InputGrads = smallvec![];
                // A transposed operand (e.g. `x.matmul(w.t())`) gets its gradient computed as
                // the transpose of a contiguous product, so the transpose's backward hands the
                // leaf a contiguous tensor instead of a strided one it would have to copy.
                let transposed =
                    |t: &Tensor| t.rank() == 2 && !t.is_contiguous() && t.t().is_contiguous();
                if nodes[*a].requires_grad {
                    let ga = if transposed(x) && y.rank() == 2 {
                        y.matmul(&g.t()).t()
                    } else {
                        g.matmul(&y.t()).sum_to_shape(x.shape())
                    };
                    grads.push((*a, ga));
                }
                if nodes[*b].requires_grad {
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
                    grads.push((*b, gb));
                }
                grads
            }
            Op::Reshape(a) => smallvec![(*a, g.reshape_to(shape(*a)))],
            Op::Transpose(a, d0, d1) => smallvec![(*a, g.transpose(*d0, *d1))],
            Op::Permute(a, dims) => {
                let rank = dims.len() as isize;
                let mut inv = vec![0isize; dims.len()];
                for (i, &d) in dims.iter().enumerate() {
                    let d = if d < 0 { d + rank } else { d };
                    inv[d as usize] = i as isize;
                }
                smallvec![(*a, g.permute(&inv))]
            }
            Op::Slice(a, dim, start, end, step) => {
                let z = Tensor::zeros(shape(*a), g.dtype());
                smallvec![(*a, z.slice_scatter(g, *dim, *start, *end, *step))]
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
            Op::IndexSelect(a, dim, index) => {
                let z = Tensor::zeros(shape(*a), g.dtype());
                smallvec![(*a, z.index_add(*dim, index, g))]
            }
            Op::Gather(a, dim, index) => {
                let z = Tensor::zeros(shape(*a), g.dtype());
                smallvec![(*a, z.scatter_add(*dim, index, g))]
            }
            Op::ScatterAdd(a, src, dim, index) => {
                smallvec![(*a, g.clone()), (*src, g.gather(*dim, index))]
            }
            Op::Embedding(w, flat, padding_idx, scale_by_freq) => {
                let ws = shape(*w);
                let d = ws[1];
                let mut rows = g.reshape_to(&[flat.numel(), d]);
                let ids = flat.to_vec::<i64>();
                if *scale_by_freq || padding_idx.is_some() {
                    // per-lookup row weights: 0 for padding, 1/count(index) when scaling
                    let mut counts = vec![0usize; ws[0]];
                    for &i in &ids {
                        counts[i as usize] += 1;
                    }
                    let scale: Vec<f64> = ids
                        .iter()
                        .map(|&i| {
                            if Some(i) == *padding_idx {
                                0.0
                            } else if *scale_by_freq {
                                1.0 / counts[i as usize] as f64
                            } else {
                                1.0
                            }
                        })
                        .collect();
                    let scale = Tensor::from_vec(scale, &[ids.len(), 1]).to_dtype(g.dtype());
                    rows = rows.mul(&scale);
                }
                let z = Tensor::zeros(ws, g.dtype());
                smallvec![(*w, z.index_add(0, flat, &rows))]
            }
            Op::Conv1d(x, w, b, opts) => {
                let mut out: InputGrads = smallvec![];
                if nodes[*x].requires_grad {
                    out.push((*x, conv1d_backward_input(g, val(*w), shape(*x), opts)));
                }
                if nodes[*w].requires_grad {
                    out.push((*w, conv1d_backward_weight(g, val(*x), shape(*w), opts)));
                }
                if let Some(b) = b {
                    out.push((*b, conv1d_backward_bias(g)));
                }
                out
            }
            Op::Conv2d(x, w, b, opts) => {
                let mut out: InputGrads = smallvec![];
                if nodes[*x].requires_grad {
                    out.push((*x, conv2d_backward_input(g, val(*w), shape(*x), opts)));
                }
                if nodes[*w].requires_grad {
                    out.push((*w, conv2d_backward_weight(g, val(*x), shape(*w), opts)));
                }
                if let Some(b) = b {
                    out.push((*b, conv2d_backward_bias(g)));
                }
                out
            }
            Op::ConvTranspose2d(x, w, b, opts) => {
                let mut out: InputGrads = smallvec![];
                if nodes[*x].requires_grad {
                    out.push((
                        *x,
                        conv_transpose2d_backward_input(g, val(*w), shape(*x), opts),
                    ));
                }
                if nodes[*w].requires_grad {
                    out.push((
                        *w,
                        conv_transpose2d_backward_weight(g, val(*x), shape(*w), opts),
                    ));
                }
                if let Some(b) = b {
                    out.push((*b, conv_transpose2d_backward_bias(g)));
                }
                out
            }
            Op::MaxPool2d(a, indices) => {
                smallvec![(*a, max_pool2d_backward(g, indices, shape(*a)))]
            }
            Op::AvgPool2d(a, opts) => smallvec![(*a, avg_pool2d_backward(g, shape(*a), opts))],
            Op::AdaptiveAvgPool2d(a) => smallvec![(*a, adaptive_avg_pool2d_backward(g, shape(*a)))],
            Op::Pad(a, pad, mode) => smallvec![(*a, pad_backward(g, shape(*a), pad, *mode))],
            Op::Custom(f, inputs) => {
                let ins: Vec<&Tensor> = inputs.iter().map(|&i| val(i)).collect();
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
        }
    }
}

/// `mask` as 0/1 values of `dtype`.
fn float_mask(mask: &Tensor, dtype: DType) -> Tensor {
    mask.to_dtype(dtype)
}

/// Number of elements reduced over `dims` (all dims if empty).
fn reduced_count(shape: &[usize], dims: &[isize]) -> usize {
    if dims.is_empty() {
        return shape.iter().product();
    }
    let rank = shape.len() as isize;
    dims.iter()
        .map(|&d| shape[(if d < 0 { d + rank } else { d }) as usize])
        .product()
}

/// Reinserts reduced dims as size 1 so `g` broadcasts against the input of shape `shape`.
fn unreduce(g: &Tensor, shape: &[usize], dims: &[isize], keepdim: bool) -> Tensor {
    if keepdim {
        return g.clone();
    }
    let rank = shape.len() as isize;
    let mut keep: Vec<usize> = shape.to_vec();
    if dims.is_empty() {
        keep.iter_mut().for_each(|s| *s = 1);
    } else {
        for &d in dims {
            keep[(if d < 0 { d + rank } else { d }) as usize] = 1;
        }
    }
    g.reshape_to(&keep)
}

/// An i64 tensor of `shape` whose every element is its own index along `dim`.
fn positions_along(shape: &[usize], dim: isize) -> Tensor {
    let rank = shape.len() as isize;
    let d = (if dim < 0 { dim + rank } else { dim }) as usize;
    let n = shape.get(d).copied().unwrap_or(1);
    let mut view = vec![1usize; shape.len().max(1)];
    if !shape.is_empty() {
        view[d] = n;
    }
    let pos = Tensor::from_vec(
        (0..n as i64).collect::<Vec<i64>>(),
        &view[..shape.len().max(1)],
    );
    if shape.is_empty() {
        pos.reshape_to(&[])
    } else {
        pos.expand(shape)
    }
}
