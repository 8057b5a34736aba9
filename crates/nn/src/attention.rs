//! `MultiheadAttention` (`torch.nn.MultiheadAttention`):
//! `MultiHead(Q, K, V) = Concat(head_1, …, head_h)·W_Oᵀ + b_O` with
//! `head_i = softmax(Q W_Qiᵀ (K W_Kiᵀ)ᵀ / √d_head + mask) · V W_Viᵀ`.

use std::sync::Mutex;

use serde::{Deserialize, Serialize};
use tuna_autograd::{functional, Param, Var};
use tuna_tensor::{DType, Generator, Tensor};

use crate::config::{BuildContext, LayerConfig};
use crate::error::NnError;
use crate::forward_context::ForwardContext;
use crate::init;
use crate::linear::Linear;
use crate::module::{join_name, Module, ModuleItem, ModuleVisitor};

/// Multi-head attention (`torch.nn.MultiheadAttention`), with PyTorch's parameters and
/// names: `in_proj_weight` `[3E, E]` (q, k, v stacked) or, when `kdim`/`vdim` differ from
/// `embed_dim`, `q_proj_weight` `[E, E]`, `k_proj_weight` `[E, kdim]`, `v_proj_weight`
/// `[E, vdim]`; `in_proj_bias` `[3E]`; `bias_k`, `bias_v` `[1, 1, E]` with `add_bias_kv`;
/// `out_proj.weight`, `out_proj.bias`. Initialization as PyTorch: projections
/// xavier-uniform, biases 0, `bias_k`/`bias_v` xavier-normal, `out_proj.weight` as a
/// [`Linear`].
///
/// [`Module::forward`] is self-attention (causal if the spec says `causal`);
/// [`Module::forward_with`] also ignores the padded keys of each sample (the context's
/// [`ForwardContext::padding_mask`] as `key_padding_mask`);
/// [`MultiheadAttention::forward_full`] has PyTorch's full signature.
#[derive(Debug)]
pub struct MultiheadAttention {
    embed_dim: usize,
    num_heads: usize,
    dropout: f64,
    batch_first: bool,
    add_zero_attn: bool,
    causal: bool,
    /// `[3E, E]` when query, key and value have the same size.
    pub in_proj_weight: Option<Param>,
    /// `[E, E]` when `kdim`/`vdim` differ from `embed_dim`.
    pub q_proj_weight: Option<Param>,
    /// `[E, kdim]` when `kdim`/`vdim` differ from `embed_dim`.
    pub k_proj_weight: Option<Param>,
    /// `[E, vdim]` when `kdim`/`vdim` differ from `embed_dim`.
    pub v_proj_weight: Option<Param>,
    /// `[3E]`, if `bias`.
    pub in_proj_bias: Option<Param>,
    /// `[1, 1, E]`, if `add_bias_kv`.
    pub bias_k: Option<Param>,
    /// `[1, 1, E]`, if `add_bias_kv`.
    pub bias_v: Option<Param>,
    /// The output projection.
    pub out_proj: Linear,
    training: bool,
    gen: Mutex<Generator>,
}

/// A bool or float mask as an additive float bias: bool `true` → `−∞` (not allowed), float
/// masks as they are.
fn mask_bias(mask: &Tensor, dtype: DType) -> Tensor {
    if mask.dtype() == DType::Bool {
        Tensor::zeros(mask.shape(), dtype).masked_fill(mask, f64::NEG_INFINITY)
    } else {
        mask.to_dtype(dtype)
    }
}

/// Appends a zero column to the last dim of a bias.
fn pad_last(bias: &Tensor) -> Tensor {
    let mut shape = bias.shape().to_vec();
    *shape.last_mut().expect("masks have a key dim") = 1;
    Tensor::cat(&[bias, &Tensor::zeros(&shape, bias.dtype())], -1)
}

impl MultiheadAttention {
    /// Builds the layer from its spec.
    ///
    /// # Errors
    /// An invalid option, naming the field.
    pub fn new(spec: &MultiheadAttentionConfig, ctx: &mut BuildContext) -> Result<Self, NnError> {
        spec.validate()?;
        let e = spec.embed_dim;
        let (kdim, vdim) = (spec.kdim.unwrap_or(e), spec.vdim.unwrap_or(e));
        let same = kdim == e && vdim == e;
        let dtype = ctx.dtype;
        let gen = &mut ctx.gen;
        let mut out_proj = Linear::new(e, e, spec.bias, dtype, gen);
        if let Some(b) = &mut out_proj.bias {
            b.set_value(Tensor::zeros(&[e], dtype));
        }
        let xavier = |shape: &[usize], gen: &mut Generator| {
            Param::new(init::xavier_uniform(shape, 1.0, dtype, gen))
        };
        let (in_proj_weight, q, k, v) = if same {
            (Some(xavier(&[3 * e, e], gen)), None, None, None)
        } else {
            (
                None,
                Some(xavier(&[e, e], gen)),
                Some(xavier(&[e, kdim], gen)),
                Some(xavier(&[e, vdim], gen)),
            )
        };
        let in_proj_bias = spec
            .bias
            .then(|| Param::new(Tensor::zeros(&[3 * e], dtype)));
        let normal =
            |gen: &mut Generator| Param::new(init::xavier_normal(&[1, 1, e], 1.0, dtype, gen));
        let (bias_k, bias_v) = if spec.add_bias_kv {
            (Some(normal(gen)), Some(normal(gen)))
        } else {
            (None, None)
        };
        Ok(MultiheadAttention {
            embed_dim: e,
            num_heads: spec.num_heads,
            dropout: spec.dropout,
            batch_first: spec.batch_first,
            add_zero_attn: spec.add_zero_attn,
            causal: spec.causal,
            in_proj_weight,
            q_proj_weight: q,
            k_proj_weight: k,
            v_proj_weight: v,
            in_proj_bias,
            bias_k,
            bias_v,
            out_proj,
            training: true,
            gen: Mutex::new(ctx.gen.fork()),
        })
    }

    /// `attn_output, attn_output_weights = mha(query, key, value, key_padding_mask,
    /// need_weights, attn_mask, average_attn_weights, is_causal)`.
    ///
    /// Shapes (`batch_first`; otherwise `L`/`S` come before `N`; unbatched inputs drop `N`):
    /// `query (N, L, E)`, `key (N, S, kdim)`, `value (N, S, vdim)`, `attn_output (N, L, E)`.
    ///
    /// * `key_padding_mask` `(N, S)`: bool, **`true` = ignore that key**, or float, added to
    ///   the scores.
    /// * `attn_mask` `(L, S)` or `(N·num_heads, L, S)`: bool, **`true` = not allowed**, or
    ///   float, added to the scores.
    /// * `is_causal` with no `attn_mask` applies the causal mask (query `i` sees keys
    ///   `0..=i`); PyTorch treats `is_causal` only as a hint and requires the mask itself.
    /// * The weights (`need_weights`) are `(N, L, S)` averaged over heads
    ///   (`average_attn_weights`) or `(N, num_heads, L, S)`, after attention dropout (training
    ///   only), as PyTorch returns them. `S` includes the `bias_k` and zero-attention keys.
    /// * A query whose keys are all masked gets zero weights and a zero attention result
    ///   instead of NaN.
    ///
    /// # Panics
    /// If a shape does not match.
    #[track_caller]
    pub fn forward_full<'t>(
        &self,
        query: Var<'t>,
        key: Var<'t>,
        value: Var<'t>,
        key_padding_mask: Option<&Tensor>,
        need_weights: bool,
        attn_mask: Option<&Tensor>,
        average_attn_weights: bool,
        is_causal: bool,
    ) -> (Var<'t>, Option<Var<'t>>) {
        let unbatched = check_ranks(query, key, value);
        let self_attn = query.id() == key.id() && key.id() == value.id();
        let (q_in, k_in, v_in) = (
            self.to_batch_first(query, unbatched),
            self.to_batch_first(key, unbatched),
            self.to_batch_first(value, unbatched),
        );
        let (n, l, s) = (q_in.size(0), q_in.size(1), k_in.size(1));
        let e = self.embed_dim;
        assert!(
            q_in.size(2) == e,
            "MultiheadAttention: expected query embedding dim {e}, got shape {:?}",
            query.shape()
        );
        let (q, k, v) = self.project(q_in, k_in, v_in, self_attn);
        let dtype = q.dtype();
        let mut bias = ScoreBias {
            attn: attn_mask_bias(attn_mask, is_causal, [n, self.num_heads, l, s], dtype),
            key_padding: key_padding_mask.map(|m| key_padding_bias(m, unbatched, n, s, dtype)),
        };
        let (q, k, v) = self.split_heads(q, k, v, &mut bias);
        let (attn, weights) = self.attend(q, k, v, bias.total(), need_weights);
        let attn = attn
            .permute(&[0, 2, 1, 3])
            .reshape(&[n as isize, l as isize, e as isize]);
        let out = self.to_input_layout(self.out_proj.forward(attn), unbatched);
        let weights = weights.map(|w| {
            let w = if average_attn_weights {
                w.mean_dims(&[1], false)
            } else {
                w
            };
            if unbatched {
                w.squeeze(0)
            } else {
                w
            }
        });
        (out, weights)
    }

    /// `x` as `(N, L, E)`: adds the batch dimension of an unbatched input and moves it first
    /// when not `batch_first`.
    fn to_batch_first<'t>(&self, x: Var<'t>, unbatched: bool) -> Var<'t> {
        if unbatched {
            x.unsqueeze(0)
        } else if self.batch_first {
            x
        } else {
            x.transpose(0, 1)
        }
    }

    /// `x` back in the layout of the inputs: the inverse of [`to_batch_first`](Self::to_batch_first).
    fn to_input_layout<'t>(&self, x: Var<'t>, unbatched: bool) -> Var<'t> {
        if unbatched {
            x.squeeze(0)
        } else if self.batch_first {
            x
        } else {
            x.transpose(0, 1)
        }
    }

    /// The input projections `q, k, v = x W_q + b_q, ...`: one GEMM for self-attention with
    /// the packed `in_proj_weight`, three otherwise.
    #[track_caller]
    fn project<'t>(
        &self,
        q_in: Var<'t>,
        k_in: Var<'t>,
        v_in: Var<'t>,
        self_attn: bool,
    ) -> (Var<'t>, Var<'t>, Var<'t>) {
        let tape = q_in.tape();
        let e = self.embed_dim;
        let bias = self.in_proj_bias.as_ref().map(|b| tape.param(b));
        let b_part = |i: usize| bias.map(|b| b.narrow(0, i * e, e));
        match &self.in_proj_weight {
            Some(w) if self_attn => {
                let qkv = functional::linear(q_in, tape.param(w), bias);
                (
                    qkv.narrow(2, 0, e),
                    qkv.narrow(2, e, e),
                    qkv.narrow(2, 2 * e, e),
                )
            }
            Some(w) => {
                let w = tape.param(w);
                (
                    functional::linear(q_in, w.narrow(0, 0, e), b_part(0)),
                    functional::linear(k_in, w.narrow(0, e, e), b_part(1)),
                    functional::linear(v_in, w.narrow(0, 2 * e, e), b_part(2)),
                )
            }
            None => {
                let p = |w: &Option<Param>| tape.param(w.as_ref().expect("separate projections"));
                (
                    functional::linear(q_in, p(&self.q_proj_weight), b_part(0)),
                    functional::linear(k_in, p(&self.k_proj_weight), b_part(1)),
                    functional::linear(v_in, p(&self.v_proj_weight), b_part(2)),
                )
            }
        }
    }

    /// Appends `bias_k`/`bias_v` and the zero-attention key where configured and splits the
    /// embedding into heads: `(N, L, E)` → `(N, H, L, E/H)`. The biases grow with the keys.
    #[track_caller]
    fn split_heads<'t>(
        &self,
        q: Var<'t>,
        mut k: Var<'t>,
        mut v: Var<'t>,
        bias: &mut ScoreBias,
    ) -> (Var<'t>, Var<'t>, Var<'t>) {
        let tape = q.tape();
        let (n, e, h) = (q.size(0), self.embed_dim, self.num_heads);
        let hd = e / h;
        if let (Some(bk), Some(bv)) = (&self.bias_k, &self.bias_v) {
            k = tape.cat(&[k, tape.param(bk).expand(&[n, 1, e])], 1);
            v = tape.cat(&[v, tape.param(bv).expand(&[n, 1, e])], 1);
            bias.pad();
        }
        let heads = |x: Var<'t>| {
            let len = x.size(1);
            x.reshape(&[n as isize, len as isize, h as isize, hd as isize])
                .permute(&[0, 2, 1, 3])
        };
        let (q, mut k, mut v) = (heads(q), heads(k), heads(v));
        if self.add_zero_attn {
            let z = tape.constant(Tensor::zeros(&[n, h, 1, hd], q.dtype()));
            k = tape.cat(&[k, z], 2);
            v = tape.cat(&[v, z], 2);
            bias.pad();
        }
        (q, k, v)
    }

    /// `softmax(q kᵀ / sqrt(d) + bias) v` per head, with attention dropout in training:
    /// the fused kernel when the weights are not needed, the weights `(N, H, L, S)` too
    /// otherwise.
    #[track_caller]
    fn attend<'t>(
        &self,
        q: Var<'t>,
        k: Var<'t>,
        v: Var<'t>,
        bias: Option<Tensor>,
        need_weights: bool,
    ) -> (Var<'t>, Option<Var<'t>>) {
        let scale = 1.0 / (q.size(3) as f64).sqrt();
        let dropping = self.training && self.dropout > 0.0;
        if !need_weights {
            let keep = dropping.then(|| {
                let shape = [q.size(0), q.size(1), q.size(2), k.size(2)];
                let mut g = self.gen.lock().unwrap_or_else(|e| e.into_inner());
                dropout_keep(&shape, self.dropout, q.dtype(), &mut g)
            });
            return (fused_attention(q, k, v, scale, bias.as_ref(), keep), None);
        }
        let scores = q.mul_scalar(scale).matmul(k.transpose(-2, -1));
        let weights = masked_softmax(scores, bias);
        let weights = if dropping {
            let mut g = self.gen.lock().unwrap_or_else(|e| e.into_inner());
            functional::dropout(weights, self.dropout, true, &mut g)
        } else {
            weights
        };
        (weights.matmul(v), Some(weights))
    }
}

/// Checks that query, key and value are all batched (rank 3) or all unbatched (rank 2);
/// returns whether they are unbatched.
#[track_caller]
fn check_ranks(query: Var<'_>, key: Var<'_>, value: Var<'_>) -> bool {
    let unbatched = query.rank() == 2;
    assert!(
        query.rank() == 3 || unbatched,
        "MultiheadAttention: expected query of rank 3 (batched) or 2 (unbatched), got {:?}",
        query.shape()
    );
    assert!(
        key.rank() == query.rank() && value.rank() == query.rank(),
        "MultiheadAttention: query {:?}, key {:?} and value {:?} must all be batched or all unbatched",
        query.shape(),
        key.shape(),
        value.shape()
    );
    unbatched
}

/// The additive score biases of one call, each broadcast against `(N, H, L, S)`.
struct ScoreBias {
    /// From `attn_mask` or the causal mask.
    attn: Option<Tensor>,
    /// From `key_padding_mask`.
    key_padding: Option<Tensor>,
}

impl ScoreBias {
    /// One more key (`bias_k` or the zero-attention key), which every query may see.
    fn pad(&mut self) {
        self.attn = self.attn.as_ref().map(pad_last);
        self.key_padding = self.key_padding.as_ref().map(pad_last);
    }

    /// The sum of the biases present.
    fn total(self) -> Option<Tensor> {
        match (self.attn, self.key_padding) {
            (Some(a), Some(b)) => Some(a.add(&b)),
            (a, b) => a.or(b),
        }
    }
}

/// The bias of `attn_mask` (`(L, S)` or `(N·H, L, S)`), or of the causal mask when there is
/// none and `is_causal`, shaped to broadcast against `[n, h, l, s]`.
#[track_caller]
fn attn_mask_bias(
    attn_mask: Option<&Tensor>,
    is_causal: bool,
    [n, h, l, s]: [usize; 4],
    dtype: DType,
) -> Option<Tensor> {
    let Some(m) = attn_mask else {
        return is_causal.then(|| {
            let data: Vec<bool> = (0..l).flat_map(|i| (0..s).map(move |j| j > i)).collect();
            mask_bias(&Tensor::from_vec(data, &[l, s]), dtype)
                .reshape(&[1, 1, l as isize, s as isize])
        });
    };
    let b = mask_bias(m, dtype);
    match b.rank() {
        2 => {
            assert!(
                b.shape() == [l, s],
                "MultiheadAttention: the 2-D attn_mask should be of size [{l}, {s}], got {:?}",
                b.shape()
            );
            Some(b.reshape(&[1, 1, l as isize, s as isize]))
        }
        3 => {
            assert!(
                b.shape() == [n * h, l, s],
                "MultiheadAttention: the 3-D attn_mask should be of size [{}, {l}, {s}], got {:?}",
                n * h,
                b.shape()
            );
            Some(b.reshape(&[n as isize, h as isize, l as isize, s as isize]))
        }
        _ => panic!(
            "MultiheadAttention: attn_mask must be 2-D or 3-D, got {:?}",
            b.shape()
        ),
    }
}

/// The bias of a `key_padding_mask` `(N, S)` (or `(S)` unbatched), shaped `(N, 1, 1, S)`.
#[track_caller]
fn key_padding_bias(mask: &Tensor, unbatched: bool, n: usize, s: usize, dtype: DType) -> Tensor {
    let m = if unbatched {
        mask.unsqueeze(0)
    } else {
        mask.clone()
    };
    assert!(
        m.shape() == [n, s],
        "MultiheadAttention: expected key_padding_mask of shape [{n}, {s}], got {:?}",
        m.shape()
    );
    mask_bias(&m, dtype).reshape(&[n as isize, 1, 1, s as isize])
}

/// `softmax(scores + bias)` over the keys; a query whose every key is masked gets zero
/// weights instead of NaN (found from the small bias, not the scores).
#[track_caller]
fn masked_softmax<'t>(scores: Var<'t>, bias: Option<Tensor>) -> Var<'t> {
    let Some(b) = bias else {
        return scores.softmax(-1);
    };
    let row_max = b.amax(&[-1], true);
    let dead: Vec<bool> = row_max
        .to_vec_f64()
        .iter()
        .map(|&m| m == f64::NEG_INFINITY)
        .collect();
    let scores = scores.add(scores.tape().constant(b));
    if !dead.contains(&true) {
        return scores.softmax(-1);
    }
    let dead = Tensor::from_vec(dead, row_max.shape());
    scores
        .masked_fill(&dead, 0.0)
        .softmax(-1)
        .masked_fill(&dead, 0.0)
}

impl MultiheadAttention {
    /// Whether inputs are `(N, L, E)` (`batch_first`).
    pub fn batch_first(&self) -> bool {
        self.batch_first
    }
}

/// The context's key padding mask for self-attention on `input`: `[N, L]` (`N`, `L` read
/// per `batch_first`), `[L]` for an unbatched `[L, E]`; `None` without lengths.
///
/// # Panics
/// If the lengths do not fit, naming `layer` and how the input was read.
#[track_caller]
pub(crate) fn self_padding_mask(
    layer: &str,
    ctx: &ForwardContext,
    input: &Var<'_>,
    batch_first: bool,
) -> Option<Tensor> {
    ctx.lengths()?;
    let unbatched = input.rank() == 2;
    let (n, l, layout) = if unbatched {
        (1, input.size(0), "unbatched [L, E]")
    } else if batch_first {
        (
            input.size(0),
            input.size(1),
            "[N, L, E] (batch_first = true)",
        )
    } else {
        (
            input.size(1),
            input.size(0),
            "[L, N, E] (batch_first = false; batches of padded token sequences are [N, L]: \
             set batch_first = true)",
        )
    };
    if let Err(e) = ctx.check(n, l) {
        panic!("{layer}: {e}, for an input read as {layout} with N = {n}, L = {l}");
    }
    let mask = ctx.padding_mask(n, l)?;
    Some(if unbatched { mask.squeeze(0) } else { mask })
}

impl Module for MultiheadAttention {
    /// Self-attention `mha(x, x, x, need_weights=False, is_causal=causal)[0]`.
    fn forward<'t>(&self, input: Var<'t>) -> Var<'t> {
        self.forward_full(input, input, input, None, false, None, true, self.causal)
            .0
    }

    /// Self-attention ignoring each sample's padded keys:
    /// `mha(x, x, x, key_padding_mask=padding, need_weights=False, is_causal=causal)[0]`.
    /// Padded queries are computed like the others (the layers after mask them).
    fn forward_with<'t>(&self, input: Var<'t>, ctx: &ForwardContext) -> Var<'t> {
        let mask = self_padding_mask("MultiheadAttention", ctx, &input, self.batch_first);
        self.forward_full(
            input,
            input,
            input,
            mask.as_ref(),
            false,
            None,
            true,
            self.causal,
        )
        .0
    }

    fn visit(&self, prefix: &str, v: &mut dyn ModuleVisitor) {
        for (name, p) in [
            ("in_proj_weight", &self.in_proj_weight),
            ("q_proj_weight", &self.q_proj_weight),
            ("k_proj_weight", &self.k_proj_weight),
            ("v_proj_weight", &self.v_proj_weight),
            ("in_proj_bias", &self.in_proj_bias),
            ("bias_k", &self.bias_k),
            ("bias_v", &self.bias_v),
        ] {
            if let Some(p) = p {
                v.item(&join_name(prefix, name), ModuleItem::Param(p));
            }
        }
        self.out_proj.visit(&join_name(prefix, "out_proj"), v);
        v.item(&join_name(prefix, "rng"), ModuleItem::Rng(&self.gen));
    }

    fn name(&self) -> &'static str {
        "MultiheadAttention"
    }
    fn set_training(&mut self, training: bool) {
        self.training = training;
    }
    fn is_training(&self) -> bool {
        self.training
    }
    fn children(&self) -> Vec<(String, &dyn Module)> {
        vec![("out_proj".to_string(), &self.out_proj as &dyn Module)]
    }
    fn as_any(&self) -> Option<&dyn std::any::Any> {
        Some(self)
    }
}

/// Config of [`MultiheadAttention`] (`torch.nn.MultiheadAttention(embed_dim, num_heads,
/// dropout=0.0, bias=True, add_bias_kv=False, add_zero_attn=False, kdim=None, vdim=None,
/// batch_first=False)`).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MultiheadAttentionConfig {
    /// Model dimension `E` (`embed_dim`).
    pub embed_dim: usize,
    /// Parallel heads; must divide `embed_dim` (`num_heads`).
    pub num_heads: usize,
    /// Dropout on the attention weights, in training (`dropout`, default 0).
    #[serde(default)]
    pub dropout: f64,
    /// Biases on the input and output projections (`bias`, default true).
    #[serde(default = "crate::recurrent::yes")]
    pub bias: bool,
    /// Learned `bias_k`, `bias_v` appended to the keys and values (`add_bias_kv`, default false).
    #[serde(default)]
    pub add_bias_kv: bool,
    /// Append a zero key and value (`add_zero_attn`, default false).
    #[serde(default)]
    pub add_zero_attn: bool,
    /// Key features (`kdim`, default `embed_dim`).
    #[serde(default)]
    pub kdim: Option<usize>,
    /// Value features (`vdim`, default `embed_dim`).
    #[serde(default)]
    pub vdim: Option<usize>,
    /// Inputs and outputs are `(N, L, E)` instead of `(L, N, E)` (`batch_first`, default false).
    #[serde(default)]
    pub batch_first: bool,
    /// Self-attention in a model (`forward`, `forward_with`) is causal: position `i` attends
    /// to positions `0..=i` only (default false). Not a constructor argument in PyTorch,
    /// which takes `is_causal=True` with the mask at call time
    /// (`mha(x, x, x, attn_mask=nn.Transformer.generate_square_subsequent_mask(L),
    /// is_causal=True)`); [`MultiheadAttention::forward_full`] takes it per call too.
    #[serde(default)]
    pub causal: bool,
}

impl MultiheadAttentionConfig {
    /// A spec with PyTorch's defaults for everything but the sizes.
    pub fn new(embed_dim: usize, num_heads: usize) -> Self {
        MultiheadAttentionConfig {
            embed_dim,
            num_heads,
            dropout: 0.0,
            bias: true,
            add_bias_kv: false,
            add_zero_attn: false,
            kdim: None,
            vdim: None,
            batch_first: false,
            causal: false,
        }
    }
}

#[typetag::serde(name = "MultiheadAttention")]
impl LayerConfig for MultiheadAttentionConfig {
    fn validate(&self) -> Result<(), NnError> {
        const L: &str = "MultiheadAttention";
        if self.embed_dim == 0 {
            return Err(NnError::config(L, "embed_dim", "must be positive, got 0"));
        }
        if self.num_heads == 0 {
            return Err(NnError::config(L, "num_heads", "must be positive, got 0"));
        }
        if self.embed_dim % self.num_heads != 0 {
            return Err(NnError::config(
                L,
                "num_heads",
                format!(
                    "embed_dim ({}) must be divisible by num_heads ({})",
                    self.embed_dim, self.num_heads
                ),
            ));
        }
        for (f, d) in [("kdim", self.kdim), ("vdim", self.vdim)] {
            if d == Some(0) {
                return Err(NnError::config(L, f, "must be positive, got 0"));
            }
        }
        if !(0.0..=1.0).contains(&self.dropout) {
            return Err(NnError::config(
                L,
                "dropout",
                format!("must be in [0, 1], got {}", self.dropout),
            ));
        }
        Ok(())
    }

    fn build(&self, ctx: &mut BuildContext) -> Result<Box<dyn Module>, NnError> {
        Ok(Box::new(MultiheadAttention::new(self, ctx)?))
    }

    /// Self-attention: `(N, L, E)`, `(L, N, E)` or `(L, E)` in, the same shape out.
    fn output_shape(&self, index: &str, input: &[usize]) -> Result<Vec<usize>, NnError> {
        if matches!(input.len(), 2 | 3) && input.last() == Some(&self.embed_dim) {
            Ok(input.to_vec())
        } else {
            Err(NnError::Shape {
                index: index.to_string(),
                layer: "MultiheadAttention".into(),
                expected: format!("[N, L, {0}] or [L, {0}]", self.embed_dim),
                got: input.to_vec(),
            })
        }
    }
}

/// `(softmax(scale·q·kᵀ + bias) ⊙ keep)·v` over `(N, H, L, E)` heads as one tape operation
/// with a hand-written backward (the `need_weights = false` path; `keep` holds the attention
/// dropout's factors in training). Only three `(N, H, L, S)` buffers are allocated per
/// forward and backward without dropout (scores/probabilities in place, and the probability
/// gradient in place), five with it, against about eight to ten for the op-by-op graph. The
/// scale is applied inside the softmax pass (and to the score gradient), never as a separate
/// pass over a strided `q`. Rows whose keys are all masked get zero probabilities.
fn fused_attention<'t>(
    q: Var<'t>,
    k: Var<'t>,
    v: Var<'t>,
    scale: f64,
    bias: Option<&Tensor>,
    keep: Option<Tensor>,
) -> Var<'t> {
    let (qv, kv, vv) = (q.value(), k.value(), v.value());
    let mut scores = qv.matmul(&kv.transpose(-2, -1));
    let s = scores.size(-1);
    let mut row_scale = scale;
    if let Some(b) = bias {
        scores.mul_scalar_(scale);
        scores.add_(b);
        row_scale = 1.0;
    }
    match scores.dtype() {
        DType::F32 => softmax_rows::<f32>(scores.data_mut::<f32>(), s, row_scale as f32),
        _ => softmax_rows::<f64>(scores.data_mut::<f64>(), s, row_scale),
    }
    let weights = keep.as_ref().map(|m| scores.mul(m));
    let out = weights.as_ref().unwrap_or(&scores).matmul(&vv);
    q.tape().custom(
        &[q, k, v],
        out,
        Box::new(FusedAttention {
            probs: scores,
            dropout: keep.zip(weights),
            scale,
        }),
    )
}

/// The dropout factors of the attention weights: `1/(1-p)` where a weight is kept, `0` where
/// it is dropped (the same draw as `functional::dropout` on a tensor of `shape`).
fn dropout_keep(shape: &[usize], p: f64, dtype: DType, gen: &mut Generator) -> Tensor {
    if p >= 1.0 {
        return Tensor::zeros(shape, dtype);
    }
    Tensor::bernoulli(shape, 1.0 - p, dtype, gen).mul_scalar(1.0 / (1.0 - p))
}

/// Lanes of the row loops: independent partial maxima and sums, so they vectorize.
const LANES: usize = 16;

/// `row = softmax(scale · row)` for every row of `s` elements, in place.
fn softmax_rows<T: crate::recurrent::Real>(data: &mut [T], s: usize, scale: T) {
    #[cfg(target_arch = "x86_64")]
    {
        if std::arch::is_x86_feature_detected!("avx512f") {
            // SAFETY: the CPU supports AVX-512F, checked just above.
            return unsafe { softmax_rows_avx512(data, s, scale) };
        }
        if std::arch::is_x86_feature_detected!("avx2") {
            // SAFETY: the CPU supports AVX2, checked just above.
            return unsafe { softmax_rows_avx2(data, s, scale) };
        }
    }
    softmax_rows_body(data, s, scale)
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f")]
unsafe fn softmax_rows_avx512<T: crate::recurrent::Real>(data: &mut [T], s: usize, scale: T) {
    softmax_rows_body(data, s, scale)
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2")]
unsafe fn softmax_rows_avx2<T: crate::recurrent::Real>(data: &mut [T], s: usize, scale: T) {
    softmax_rows_body(data, s, scale)
}

#[inline(always)]
fn softmax_rows_body<T: crate::recurrent::Real>(data: &mut [T], s: usize, scale: T) {
    let neg_inf = T::from_f64(f64::NEG_INFINITY);
    for row in data.chunks_mut(s) {
        let mut lanes = [neg_inf; LANES];
        let mut chunks = row.chunks_exact_mut(LANES);
        for c in &mut chunks {
            for (m, x) in lanes.iter_mut().zip(c.iter_mut()) {
                *x = *x * scale;
                *m = if *x > *m { *x } else { *m };
            }
        }
        for x in chunks.into_remainder() {
            *x = *x * scale;
            lanes[0] = if *x > lanes[0] { *x } else { lanes[0] };
        }
        let max = lanes
            .iter()
            .fold(neg_inf, |m, &x| if x > m { x } else { m });
        if max == neg_inf {
            row.iter_mut().for_each(|x| *x = T::ZERO);
            continue;
        }
        for x in row.iter_mut() {
            *x = (*x - max).exp_();
        }
        let sum = lane_dot(row, None);
        let inv = T::ONE / sum;
        row.iter_mut().for_each(|x| *x = *x * inv);
    }
}

/// `Σ a_i·b_i` (or `Σ a_i` without `b`) in `LANES` interleaved partial sums: vectorizable,
/// and a fixed order, so deterministic.
#[inline(always)]
fn lane_dot<T: crate::recurrent::Real>(a: &[T], b: Option<&[T]>) -> T {
    let mut acc = [T::ZERO; LANES];
    let n = a.len() / LANES * LANES;
    match b {
        Some(b) => {
            for (ca, cb) in a[..n].chunks_exact(LANES).zip(b[..n].chunks_exact(LANES)) {
                for i in 0..LANES {
                    acc[i] = acc[i] + ca[i] * cb[i];
                }
            }
            for i in n..a.len() {
                acc[0] = acc[0] + a[i] * b[i];
            }
        }
        None => {
            for ca in a[..n].chunks_exact(LANES) {
                for i in 0..LANES {
                    acc[i] = acc[i] + ca[i];
                }
            }
            for &x in &a[n..] {
                acc[0] = acc[0] + x;
            }
        }
    }
    acc.iter().fold(T::ZERO, |x, &y| x + y)
}

/// `dS = scale · P ⊙ (dP − Σ_row dP ⊙ P)`, in place in `dp`.
fn softmax_backward_rows<T: crate::recurrent::Real>(dp: &mut [T], p: &[T], s: usize, scale: T) {
    #[cfg(target_arch = "x86_64")]
    {
        if std::arch::is_x86_feature_detected!("avx512f") {
            // SAFETY: the CPU supports AVX-512F, checked just above.
            return unsafe { softmax_backward_rows_avx512(dp, p, s, scale) };
        }
    }
    softmax_backward_rows_body(dp, p, s, scale)
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f")]
unsafe fn softmax_backward_rows_avx512<T: crate::recurrent::Real>(
    dp: &mut [T],
    p: &[T],
    s: usize,
    scale: T,
) {
    softmax_backward_rows_body(dp, p, s, scale)
}

#[inline(always)]
fn softmax_backward_rows_body<T: crate::recurrent::Real>(
    dp: &mut [T],
    p: &[T],
    s: usize,
    scale: T,
) {
    for (d, pr) in dp.chunks_mut(s).zip(p.chunks(s)) {
        let dot = lane_dot(d, Some(pr));
        for (x, &pv) in d.iter_mut().zip(pr) {
            *x = scale * (pv * (*x - dot));
        }
    }
}

struct FusedAttention {
    /// `P = softmax(scale · Q Kᵀ + bias)`.
    probs: Tensor,
    /// With attention dropout: the keep factors `M` and the weights `P ⊙ M` used on `V`.
    dropout: Option<(Tensor, Tensor)>,
    scale: f64,
}

impl tuna_autograd::CustomOp for FusedAttention {
    fn name(&self) -> &'static str {
        "AttentionBackward"
    }

    fn backward(&self, inputs: &[&Tensor], _out: &Tensor, g: &Tensor) -> Vec<Option<Tensor>> {
        let (q, k, v) = (inputs[0], inputs[1], inputs[2]);
        let p = &self.probs;
        let s = p.size(-1);
        let mut ds = g.matmul(&v.transpose(-2, -1));
        if let Some((keep, _)) = &self.dropout {
            ds.mul_(keep);
        }
        match ds.dtype() {
            DType::F32 => {
                let pr = p.as_slice::<f32>().expect("contiguous probabilities");
                softmax_backward_rows::<f32>(ds.data_mut::<f32>(), pr, s, self.scale as f32)
            }
            _ => {
                let pr = p.as_slice::<f64>().expect("contiguous probabilities");
                softmax_backward_rows::<f64>(ds.data_mut::<f64>(), pr, s, self.scale)
            }
        }
        let dq = ds.matmul(k);
        let dk = ds.transpose(-2, -1).matmul(q);
        let weights = self.dropout.as_ref().map_or(p, |(_, w)| w);
        let dv = weights.transpose(-2, -1).matmul(g);
        vec![Some(dq), Some(dk), Some(dv)]
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tuna_autograd::Tape;

    /// Output and gradients (input, then every parameter) of one forward + backward in
    /// training mode, the attention dropout drawn from a generator in state `gen`.
    fn run(
        mha: &MultiheadAttention,
        gen: &Generator,
        x: &Tensor,
        mask: &Tensor,
        need_weights: bool,
    ) -> Vec<Vec<f64>> {
        *mha.gen.lock().unwrap() = gen.clone();
        for (_, p) in mha.named_parameters() {
            p.zero_grad();
        }
        let tape = Tape::new();
        let input = tape.var(x.clone());
        let (out, _) = mha.forward_full(
            input,
            input,
            input,
            Some(mask),
            need_weights,
            None,
            true,
            false,
        );
        out.mul(tape.constant(x.clone())).sum().backward();
        let mut all = vec![out.value().to_vec_f64(), input.grad().unwrap().to_vec_f64()];
        all.extend(
            mha.named_parameters()
                .into_iter()
                .map(|(_, p)| p.grad().unwrap().to_vec_f64()),
        );
        all
    }

    #[test]
    fn the_fused_path_drops_the_same_weights_as_the_unfused_one() {
        let mut ctx = BuildContext::new(5);
        ctx.dtype = DType::F64;
        let mut spec = MultiheadAttentionConfig::new(8, 2);
        spec.batch_first = true;
        spec.dropout = 0.3;
        let mha = MultiheadAttention::new(&spec, &mut ctx).unwrap();
        let x = Tensor::randn(&[3, 5, 8], DType::F64, &mut Generator::new(1));
        // the second sample has two padded positions: masked keys get no weight
        let pad: Vec<bool> = (0..15).map(|i| i == 8 || i == 9).collect();
        let mask = Tensor::from_vec(pad, &[3, 5]);
        let gen = Generator::new(42);
        let fused = run(&mha, &gen, &x, &mask, false);
        let unfused = run(&mha, &gen, &x, &mask, true);
        for (a, b) in fused.iter().zip(&unfused) {
            assert_eq!(a.len(), b.len());
            for (x, y) in a.iter().zip(b) {
                assert!((x - y).abs() < 1e-12 * (1.0 + y.abs()), "{x} vs {y}");
            }
        }
        // another draw drops other weights
        let other = run(&mha, &Generator::new(43), &x, &mask, false);
        assert_ne!(other[0], fused[0]);
    }
}
