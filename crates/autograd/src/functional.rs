//! `torch.nn.functional` operations built from differentiable [`Var`] ops: normalization
//! (`batch_norm`, `layer_norm`, `group_norm`), `linear`, `dropout` and `scaled_dot_product_attention`.
//!
//! Every function here is a composition of recorded tape operations, so its gradient is the
//! exact chain rule of its forward pass and needs no hand-written backward (it is checked
//! against finite differences in `tests/gradcheck_functional.rs`, and against PyTorch in
//! `tests/ops_fixtures.rs`).
//!
//! ```
//! use tuna_autograd::{functional as F, Tape};
//! use tuna_tensor::Tensor;
//!
//! let tape = Tape::new();
//! let x = tape.var(Tensor::from_vec(vec![1.0f64, 2.0, 3.0, 4.0, 5.0, 6.0], &[2, 3]));
//! let y = F::layer_norm(x, &[3], None, None, 1e-5);
//! // each row has mean 0 and (biased) variance ≈ 1
//! let row = y.value().to_vec::<f64>();
//! assert!((row[0] + row[1] + row[2]).abs() < 1e-12);
//! y.sum().backward();
//! assert_eq!(x.grad().unwrap().shape(), &[2, 3]);
//! ```

use tuna_tensor::{DType, Tensor};

use crate::tape::Var;

// ------------------------------------------------------------------------------------------
// linear

/// Affine map `y = x·Wᵀ + b` (`F.linear(input, weight, bias)`).
///
/// `input` is `(*, in_features)`, `weight` is `(out_features, in_features)` and `bias`, if
/// given, is `(out_features)`; the result is `(*, out_features)`. A 1-D `weight` of shape
/// `(in_features)` gives a result of shape `(*)`, as in PyTorch.
///
/// # Panics
/// If `in_features` of `input` and `weight` differ, or `bias` does not broadcast to the
/// output.
#[track_caller]
pub fn linear<'t>(input: Var<'t>, weight: Var<'t>, bias: Option<Var<'t>>) -> Var<'t> {
    let in_features = *weight.shape().last().unwrap_or(&0);
    assert!(
        input.rank() >= 1 && input.size(-1) == in_features,
        "linear: input shape {:?} and weight shape {:?} cannot be multiplied (expected input(*, {in_features}))",
        input.shape(),
        weight.shape()
    );
    let y = input.matmul(weight.t());
    match bias {
        Some(b) => y.add(b),
        None => y,
    }
}

// ------------------------------------------------------------------------------------------
// normalization

/// `(1, C, 1, ..., 1)` with `rank` dims: the shape a per-channel `(C)` tensor takes to
/// broadcast against an `(N, C, *)` input.
fn channel_shape(c: usize, rank: usize) -> Vec<isize> {
    let mut s = vec![1isize; rank];
    s[1] = c as isize;
    s
}

/// Multiplies by `weight` and adds `bias`, both `(C)`, broadcast over dim 1 of an
/// `(N, C, *)` tensor.
#[track_caller]
fn channel_affine<'t>(
    op: &str,
    y: Var<'t>,
    weight: Option<Var<'t>>,
    bias: Option<Var<'t>>,
) -> Var<'t> {
    let (c, rank) = (y.size(1), y.rank());
    let shape = channel_shape(c, rank);
    let per_channel = |name: &str, v: Var<'t>| {
        assert!(
            v.shape().as_slice() == [c],
            "{op}: expected {name} of shape [{c}] (one per channel), got {:?}",
            v.shape()
        );
        v.reshape(&shape)
    };
    let y = match weight {
        Some(w) => y.mul(per_channel("weight", w)),
        None => y,
    };
    match bias {
        Some(b) => y.add(per_channel("bias", b)),
        None => y,
    }
}

/// `(x - mean) / sqrt(var + eps)` with the mean and biased variance over `dims` (kept as
/// size 1), all recorded on the tape. Returns the normalized tensor and the (keepdim) biased
/// variance.
fn normalize<'t>(x: Var<'t>, dims: &[isize], eps: f64) -> (Var<'t>, Var<'t>) {
    let mean = x.mean_dims(dims, true);
    let centered = x.sub(mean);
    let var = centered.square().mean_dims(dims, true);
    let y = centered.mul(var.add_scalar(eps).rsqrt());
    (y, var)
}

/// Batch normalization (`F.batch_norm(input, running_mean, running_var, weight, bias,
/// training, momentum, eps)`).
///
/// `input` is `(N, C, *)` (e.g. `(N, C)`, `(N, C, L)`, `(N, C, H, W)`); statistics are per
/// channel (dim 1) over every other dim, `n = N·∏*` values each:
///
/// * **training**: `y = (x − μ_B) / sqrt(σ²_B + eps) · weight + bias` with the batch mean
///   `μ_B` and the *biased* batch variance `σ²_B`; gradients flow through `μ_B` and `σ²_B`.
///   Each running statistic that is given is then updated in place, outside the graph, as
///   `running = (1 − momentum)·running + momentum·stat`, where the variance statistic is the
///   *unbiased* `σ²_B · n/(n−1)` (as PyTorch).
/// * **eval**: `y = (x − running_mean) / sqrt(running_var + eps) · weight + bias`; the running
///   statistics are constants and are not modified.
///
/// `momentum` is the update factor itself. PyTorch's `BatchNorm(momentum=None)` (a
/// cumulative moving average) corresponds to passing `1 / num_batches_tracked` after
/// incrementing `num_batches_tracked`; `momentum = 0.1` is PyTorch's default.
///
/// `weight` and `bias` (`(C)`, PyTorch's `γ`/`β`) are optional; running statistics must have
/// `C` elements and are converted to the input's dtype for the computation.
///
/// # Panics
/// If `input` has fewer than 2 dims; if training with only one value per channel
/// (`n == 1`, "Expected more than 1 value per channel when training"); if not training and a
/// running statistic is missing; if `weight`, `bias` or a running statistic does not have
/// `C` elements.
#[track_caller]
pub fn batch_norm<'t>(
    input: Var<'t>,
    running_mean: Option<&mut Tensor>,
    running_var: Option<&mut Tensor>,
    weight: Option<Var<'t>>,
    bias: Option<Var<'t>>,
    training: bool,
    momentum: f64,
    eps: f64,
) -> Var<'t> {
    let shape = input.shape();
    assert!(
        shape.len() >= 2,
        "batch_norm: expected an (N, C, *) input with at least 2 dims, got shape {shape:?}"
    );
    let (c, rank) = (shape[1], shape.len());
    for (name, stat) in [
        ("running_mean", &running_mean),
        ("running_var", &running_var),
    ] {
        if let Some(s) = stat {
            assert!(
                s.numel() == c,
                "batch_norm: {name} should have {c} elements (one per channel), got shape {:?}",
                s.shape()
            );
        }
    }
    let cshape = channel_shape(c, rank);
    let tape = input.tape();
    let y = if training {
        let n: usize = shape
            .iter()
            .enumerate()
            .filter(|&(i, _)| i != 1)
            .map(|(_, &s)| s)
            .product();
        assert!(
            n > 1,
            "batch_norm: expected more than 1 value per channel when training, got input shape {shape:?}"
        );
        let dims: Vec<isize> = (0..rank as isize).filter(|&d| d != 1).collect();
        let (y, var) = normalize(input, &dims, eps);
        // running statistics: plain tensors, updated from values (never graph nodes)
        if let Some(rm) = running_mean {
            let mean = input.value().mean_dims(&dims, false);
            rm.mul_scalar_(1.0 - momentum);
            rm.add_scaled_(&mean.reshape_to(rm.shape()), momentum);
        }
        if let Some(rv) = running_var {
            let unbiased = var
                .value()
                .mul_scalar(n as f64 / (n - 1) as f64)
                .reshape_to(rv.shape());
            rv.mul_scalar_(1.0 - momentum);
            rv.add_scaled_(&unbiased, momentum);
        }
        y
    } else {
        let (Some(rm), Some(rv)) = (running_mean, running_var) else {
            panic!("batch_norm: running_mean and running_var must be given in evaluation mode");
        };
        let dt = input.dtype();
        let mean = rm.to_dtype(dt).reshape(&cshape);
        let inv_std = rv.to_dtype(dt).add_scalar(eps).rsqrt().reshape(&cshape);
        input.sub(tape.constant(mean)).mul(tape.constant(inv_std))
    };
    channel_affine("batch_norm", y, weight, bias)
}

/// Layer normalization over the trailing `normalized_shape` dims (`F.layer_norm(input,
/// normalized_shape, weight, bias, eps)`):
/// `y = (x − E[x]) / sqrt(Var[x] + eps) · weight + bias`, with the mean and *biased* variance
/// over the last `normalized_shape.len()` dims. `weight` and `bias`, if given, have shape
/// `normalized_shape` (elementwise affine).
///
/// # Panics
/// If `normalized_shape` is empty or is not the trailing part of the input's shape, or if
/// `weight`/`bias` do not have shape `normalized_shape`.
#[track_caller]
pub fn layer_norm<'t>(
    input: Var<'t>,
    normalized_shape: &[usize],
    weight: Option<Var<'t>>,
    bias: Option<Var<'t>>,
    eps: f64,
) -> Var<'t> {
    let shape = input.shape();
    let k = normalized_shape.len();
    assert!(
        k >= 1 && shape.len() >= k && &shape[shape.len() - k..] == normalized_shape,
        "layer_norm: given normalized_shape={normalized_shape:?}, expected input with shape [*, {}], but got input of size {shape:?}",
        normalized_shape
            .iter()
            .map(|s| s.to_string())
            .collect::<Vec<_>>()
            .join(", ")
    );
    let dims: Vec<isize> = (-(k as isize)..0).collect();
    let (y, _) = normalize(input, &dims, eps);
    let check = |name: &str, v: Var<'t>| {
        assert!(
            v.shape().as_slice() == normalized_shape,
            "layer_norm: expected {name} of shape {normalized_shape:?}, got {:?}",
            v.shape()
        );
        v
    };
    let y = match weight {
        Some(w) => y.mul(check("weight", w)),
        None => y,
    };
    match bias {
        Some(b) => y.add(check("bias", b)),
        None => y,
    }
}

/// Group normalization (`F.group_norm(input, num_groups, weight, bias, eps)`).
///
/// `input` is `(N, C, *)`; the `C` channels are split into `num_groups` consecutive groups of
/// `C / num_groups`, and each (sample, group) is normalized with the mean and *biased*
/// variance over its channels and all trailing dims:
/// `y = (x − μ_{n,g}) / sqrt(σ²_{n,g} + eps) · weight_c + bias_c`, the affine part per
/// channel (`weight`, `bias`: `(C)`).
///
/// # Panics
/// If `input` has fewer than 2 dims, `num_groups` is 0 or does not divide `C`, or
/// `weight`/`bias` do not have `C` elements.
#[track_caller]
pub fn group_norm<'t>(
    input: Var<'t>,
    num_groups: usize,
    weight: Option<Var<'t>>,
    bias: Option<Var<'t>>,
    eps: f64,
) -> Var<'t> {
    let shape = input.shape();
    assert!(
        shape.len() >= 2,
        "group_norm: expected an (N, C, *) input with at least 2 dims, got shape {shape:?}"
    );
    let (n, c) = (shape[0], shape[1]);
    assert!(
        num_groups > 0 && c % num_groups == 0,
        "group_norm: expected number of channels in input ({c}) to be divisible by num_groups ({num_groups})"
    );
    let orig: Vec<isize> = shape.iter().map(|&s| s as isize).collect();
    let grouped = input.reshape(&[n as isize, num_groups as isize, -1]);
    let (y, _) = normalize(grouped, &[-1], eps);
    channel_affine("group_norm", y.reshape(&orig), weight, bias)
}

// ------------------------------------------------------------------------------------------
// attention

/// The `attn_mask` of [`scaled_dot_product_attention`]; it broadcasts against the
/// `(..., L, S)` attention scores.
#[derive(Clone, Copy)]
pub enum AttnMask<'a, 't> {
    /// A bool mask: `true` = the query **may attend** to the key; `false` positions get a
    /// score of `−∞` (PyTorch's SDPA convention, the opposite of `nn.MultiheadAttention`'s
    /// `key_padding_mask`).
    Bool(&'a Tensor),
    /// An additive float mask added to the scaled scores. It is a `Var`, so it may require a
    /// gradient (e.g. a learned relative-position bias); use `tape.constant(t)` otherwise.
    /// `−∞` entries exclude positions.
    Additive(Var<'t>),
}

/// `torch.ones(L, S).tril()` as bool (true = may attend): query `i` sees keys `0..=i`
/// (top-left aligned).
fn causal_mask(l: usize, s: usize) -> Tensor {
    let data: Vec<bool> = (0..l).flat_map(|i| (0..s).map(move |j| j <= i)).collect();
    Tensor::from_vec(data, &[l, s])
}

/// `0` where `allowed`, `−∞` elsewhere, as `dtype` (PyTorch's bool-mask-to-bias conversion).
fn bool_bias(allowed: &Tensor, dtype: DType) -> Tensor {
    assert!(
        allowed.dtype() == DType::Bool,
        "scaled_dot_product_attention: a Bool attn_mask must have dtype bool, got {}",
        allowed.dtype()
    );
    Tensor::zeros(allowed.shape(), dtype).masked_fill(&allowed.logical_not(), f64::NEG_INFINITY)
}

/// Repeats each head of a `(..., H, S, E)` tensor `r` times consecutively
/// (`x.repeat_interleave(r, dim=-3)`).
fn repeat_heads<'t>(x: Var<'t>, r: usize) -> Var<'t> {
    if r == 1 {
        return x;
    }
    let shape = x.shape();
    let rank = shape.len();
    let mut expanded: Vec<usize> = shape.to_vec();
    expanded.insert(rank - 2, r);
    let mut merged: Vec<isize> = shape.iter().map(|&s| s as isize).collect();
    merged[rank - 3] *= r as isize;
    x.unsqueeze(-3).expand(&expanded).reshape(&merged)
}

/// Scaled dot-product attention (`F.scaled_dot_product_attention(query, key, value,
/// attn_mask, dropout_p, is_causal, scale, enable_gqa)`, its math reference path):
///
/// ```text
/// A = softmax(Q·Kᵀ·scale + bias, dim=-1),   output = A·V
/// ```
///
/// with `query (..., Hq, L, E)`, `key (..., Hkv, S, E)`, `value (..., Hkv, S, Ev)` (any
/// number of batch dims, broadcast as in `matmul`) and output `(..., Hq, L, Ev)`.
///
/// * `scale` defaults to `1/sqrt(E)`.
/// * `bias` comes from `attn_mask` ([`AttnMask::Bool`]: `0` where allowed, `−∞` elsewhere;
///   [`AttnMask::Additive`]: the mask itself) or from `is_causal`, the lower-triangular
///   `torch.ones(L, S).tril()` mask (top-left aligned: query `i` sees keys `0..=i`).
/// * `enable_gqa` (grouped-query attention) repeats each key/value head `Hq/Hkv` times
///   (`repeat_interleave` on dim -3) so `Hkv` may divide `Hq`.
/// * A query row with no allowed key (all `−∞`) gets zero attention weights and a zero
///   output, and passes no gradient, as PyTorch's `_safe_softmax` (instead of NaN).
///
/// # Panics
/// If `dropout_p != 0` (attention dropout needs a random generator and is not supported
/// yet: apply `dropout` to the weights explicitly), if both `attn_mask` and `is_causal` are
/// given (PyTorch raises too), if the embedding dims of query and key or the sequence
/// lengths of key and value differ, if `enable_gqa` is set and `Hkv` does not divide `Hq`
/// or key and value head counts differ, or if shapes do not broadcast.
#[track_caller]
pub fn scaled_dot_product_attention<'t>(
    query: Var<'t>,
    key: Var<'t>,
    value: Var<'t>,
    attn_mask: Option<AttnMask<'_, 't>>,
    dropout_p: f64,
    is_causal: bool,
    scale: Option<f64>,
    enable_gqa: bool,
) -> Var<'t> {
    const OP: &str = "scaled_dot_product_attention";
    assert!(
        dropout_p == 0.0,
        "{OP}: dropout_p = {dropout_p} is not supported (only 0.0); apply dropout to the attention weights explicitly"
    );
    assert!(
        !(is_causal && attn_mask.is_some()),
        "{OP}: explicit attn_mask should not be set when is_causal=True"
    );
    let (qs, ks, vs) = (query.shape(), key.shape(), value.shape());
    assert!(
        qs.len() >= 2 && ks.len() >= 2 && vs.len() >= 2,
        "{OP}: query, key and value need at least 2 dims, got {qs:?}, {ks:?}, {vs:?}"
    );
    let e = qs[qs.len() - 1];
    assert!(
        ks[ks.len() - 1] == e,
        "{OP}: query and key must have the same embedding dim, got query {qs:?} and key {ks:?}"
    );
    assert!(
        ks[ks.len() - 2] == vs[vs.len() - 2],
        "{OP}: key and value must have the same sequence length, got key {ks:?} and value {vs:?}"
    );
    let (mut key, mut value) = (key, value);
    if enable_gqa {
        assert!(
            qs.len() >= 3 && ks.len() >= 3 && vs.len() >= 3,
            "{OP}: enable_gqa needs (..., H, L, E) inputs, got {qs:?}, {ks:?}, {vs:?}"
        );
        let (hq, hk, hv) = (qs[qs.len() - 3], ks[ks.len() - 3], vs[vs.len() - 3]);
        assert!(
            hk > 0 && hq % hk == 0 && hk == hv,
            "{OP}: enable_gqa needs the number of query heads ({hq}) to be a multiple of the number of key/value heads ({hk}, {hv})"
        );
        key = repeat_heads(key, hq / hk);
        value = repeat_heads(value, hq / hk);
    }
    let (l, s) = (qs[qs.len() - 2], ks[ks.len() - 2]);
    let scale = scale.unwrap_or(1.0 / (e as f64).sqrt());
    let tape = query.tape();
    let scores = query.matmul(key.transpose(-2, -1)).mul_scalar(scale);
    let has_mask = attn_mask.is_some();
    let scores = match attn_mask {
        None if is_causal => {
            scores.add(tape.constant(bool_bias(&causal_mask(l, s), query.dtype())))
        }
        None => scores,
        Some(AttnMask::Bool(m)) => scores.add(tape.constant(bool_bias(m, query.dtype()))),
        Some(AttnMask::Additive(m)) => scores.add(m),
    };
    // Rows where every score is -inf (only a mask can make them: the causal mask always
    // keeps key 0): softmax would give NaN, PyTorch's `_safe_softmax` gives zeros.
    let dead = if has_mask {
        let row_max = scores.value().amax(&[-1], true);
        let dead: Vec<bool> = row_max
            .to_vec_f64()
            .iter()
            .map(|&m| m == f64::NEG_INFINITY)
            .collect();
        dead.contains(&true)
            .then(|| Tensor::from_vec(dead, row_max.shape()))
    } else {
        None
    };
    let weights = match dead {
        Some(dead) => scores
            .masked_fill(&dead, 0.0)
            .softmax(-1)
            .masked_fill(&dead, 0.0),
        None => scores.softmax(-1),
    };
    weights.matmul(value)
}

/// Inverted dropout (`F.dropout(input, p, training)`): in training mode each element is zeroed
/// with probability `p` and the survivors are scaled by `1/(1-p)`, so the expected value is
/// unchanged; in eval mode (or with `p = 0`) the input passes through. The mask is drawn from
/// `gen`, so a run is reproducible from its seed.
///
/// # Panics
/// If `p` is outside `[0, 1]`.
#[track_caller]
pub fn dropout<'t>(
    input: Var<'t>,
    p: f64,
    training: bool,
    gen: &mut tuna_tensor::Generator,
) -> Var<'t> {
    dropout_with_mask_shape(input, p, training, gen, None)
}

/// Channel dropout (`F.dropout2d`): zeroes whole channels of an `(N, C, H, W)` or `(C, H, W)`
/// input with probability `p`, scaling the rest by `1/(1-p)`.
///
/// # Panics
/// If `p` is outside `[0, 1]` or the input is not 3-D or 4-D.
#[track_caller]
pub fn dropout2d<'t>(
    input: Var<'t>,
    p: f64,
    training: bool,
    gen: &mut tuna_tensor::Generator,
) -> Var<'t> {
    let shape = input.shape();
    assert!(
        shape.len() == 3 || shape.len() == 4,
        "dropout2d: expected a 3-D or 4-D input, got shape {shape:?}"
    );
    let mut mask_shape = shape.to_vec();
    let r = mask_shape.len();
    mask_shape[r - 1] = 1;
    mask_shape[r - 2] = 1;
    dropout_with_mask_shape(input, p, training, gen, Some(mask_shape))
}

#[track_caller]
fn dropout_with_mask_shape<'t>(
    input: Var<'t>,
    p: f64,
    training: bool,
    gen: &mut tuna_tensor::Generator,
    mask_shape: Option<Vec<usize>>,
) -> Var<'t> {
    assert!(
        (0.0..=1.0).contains(&p),
        "dropout: probability has to be between 0 and 1, but got {p}"
    );
    if !training || p == 0.0 {
        return input;
    }
    let shape = mask_shape.unwrap_or_else(|| input.shape().to_vec());
    let dtype = input.dtype();
    if p == 1.0 {
        return input.mul(input.tape().constant(Tensor::zeros(&shape, dtype)));
    }
    let keep = Tensor::bernoulli(&shape, 1.0 - p, dtype, gen).mul_scalar(1.0 / (1.0 - p));
    input.mul(input.tape().constant(keep))
}
