//! `TransformerEncoderLayer` and `TransformerEncoder` (`torch.nn.TransformerEncoderLayer`,
//! `torch.nn.TransformerEncoder`).
//!
//! ```text
//! post-norm (default):  x = norm1(x + sa(x));  x = norm2(x + ff(x))
//! pre-norm (norm_first): x = x + sa(norm1(x)); x = x + ff(norm2(x))
//! sa(x) = dropout1(self_attn(x, x, x)),  ff(x) = dropout2(linear2(dropout(act(linear1(x)))))
//! ```

use std::sync::Mutex;

use serde::{Deserialize, Serialize};
use tuna_autograd::{functional, Var};
use tuna_tensor::{GeluApprox, Generator, Tensor};

use crate::attention::{self_padding_mask, MultiheadAttention, MultiheadAttentionConfig};
use crate::config::{BuildContext, LayerConfig};
use crate::error::NnError;
use crate::forward_context::ForwardContext;
use crate::layer_norm::LayerNorm;
use crate::linear::Linear;
use crate::module::{join_name, Module, ModuleItem, ModuleVisitor};

/// The feed-forward activation of a [`TransformerEncoderLayer`] (`activation`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TransformerActivation {
    /// `max(x, 0)` (PyTorch's default).
    #[default]
    Relu,
    /// Exact (erf) GELU.
    Gelu,
}

/// One transformer encoder block (`torch.nn.TransformerEncoderLayer`): self-attention and a
/// feed-forward network, each with a residual connection and a layer norm (after, or before
/// with `norm_first`). Parameters are named as PyTorch's: `self_attn.*`, `linear1.*`,
/// `linear2.*`, `norm1.*`, `norm2.*`.
///
/// In a model, [`Module::forward_with`] passes the context's padding mask as
/// `src_key_padding_mask`, and both `forward`s are causal if the spec says `causal`.
#[derive(Debug)]
pub struct TransformerEncoderLayer {
    /// The self-attention block.
    pub self_attn: MultiheadAttention,
    /// `d_model → dim_feedforward`.
    pub linear1: Linear,
    /// `dim_feedforward → d_model`.
    pub linear2: Linear,
    norm1: LayerNorm,
    norm2: LayerNorm,
    dropout: f64,
    activation: TransformerActivation,
    norm_first: bool,
    causal: bool,
    training: bool,
    gen: Mutex<Generator>,
}

impl TransformerEncoderLayer {
    /// Builds the layer from its spec.
    ///
    /// # Errors
    /// An invalid option, naming the field.
    pub fn new(
        spec: &TransformerEncoderLayerConfig,
        ctx: &mut BuildContext,
    ) -> Result<Self, NnError> {
        spec.validate()?;
        let d = spec.d_model;
        let mut attn = MultiheadAttentionConfig::new(d, spec.nhead);
        attn.dropout = spec.dropout;
        attn.bias = spec.bias;
        attn.batch_first = spec.batch_first;
        let self_attn = MultiheadAttention::new(&attn, ctx)?;
        let linear1 = Linear::new(d, spec.dim_feedforward, spec.bias, ctx.dtype, &mut ctx.gen);
        let linear2 = Linear::new(spec.dim_feedforward, d, spec.bias, ctx.dtype, &mut ctx.gen);
        Ok(TransformerEncoderLayer {
            self_attn,
            linear1,
            linear2,
            norm1: LayerNorm::new(vec![d], spec.layer_norm_eps, true, spec.bias, ctx.dtype),
            norm2: LayerNorm::new(vec![d], spec.layer_norm_eps, true, spec.bias, ctx.dtype),
            dropout: spec.dropout,
            activation: spec.activation,
            norm_first: spec.norm_first,
            causal: spec.causal,
            training: true,
            gen: Mutex::new(ctx.gen.fork()),
        })
    }

    fn drop<'t>(&self, x: Var<'t>) -> Var<'t> {
        if self.training && self.dropout > 0.0 {
            let mut g = self.gen.lock().unwrap_or_else(|e| e.into_inner());
            functional::dropout(x, self.dropout, true, &mut g)
        } else {
            x
        }
    }

    /// `layer(src, src_mask, src_key_padding_mask, is_causal)`.
    ///
    /// `src` is `(N, L, E)` with `batch_first`, else `(L, N, E)`, or unbatched `(L, E)`;
    /// `src_mask` `(L, L)` or `(N·nhead, L, L)` (bool `true` = not allowed, or float added
    /// to the scores); `src_key_padding_mask` `(N, L)` (bool `true` = padding, or float).
    /// `is_causal` without `src_mask` applies the causal mask. Padded positions are computed
    /// like the others (PyTorch's training path); they are not zeroed.
    ///
    /// # Panics
    /// If a shape does not match.
    #[track_caller]
    pub fn forward_full<'t>(
        &self,
        src: Var<'t>,
        src_mask: Option<&Tensor>,
        src_key_padding_mask: Option<&Tensor>,
        is_causal: bool,
    ) -> Var<'t> {
        let sa = |x: Var<'t>| {
            let (y, _) = self.self_attn.forward_full(
                x,
                x,
                x,
                src_key_padding_mask,
                false,
                src_mask,
                true,
                is_causal,
            );
            self.drop(y)
        };
        let ff = |x: Var<'t>| {
            let a = self.linear1.forward(x);
            let a = match self.activation {
                TransformerActivation::Relu => a.relu(),
                TransformerActivation::Gelu => a.gelu(GeluApprox::None),
            };
            self.drop(self.linear2.forward(self.drop(a)))
        };
        if self.norm_first {
            let x = src.add(sa(self.norm1.forward(src)));
            x.add(ff(self.norm2.forward(x)))
        } else {
            let x = self.norm1.forward(src.add(sa(src)));
            self.norm2.forward(x.add(ff(x)))
        }
    }
}

impl Module for TransformerEncoderLayer {
    /// `layer(src, is_causal=causal)` (with the causal mask when `causal`).
    fn forward<'t>(&self, input: Var<'t>) -> Var<'t> {
        self.forward_full(input, None, None, self.causal)
    }
    /// `layer(src, src_key_padding_mask=padding, is_causal=causal)`.
    fn forward_with<'t>(&self, input: Var<'t>, ctx: &ForwardContext) -> Var<'t> {
        let batch_first = self.self_attn.batch_first();
        let mask = self_padding_mask("TransformerEncoderLayer", ctx, &input, batch_first);
        self.forward_full(input, None, mask.as_ref(), self.causal)
    }
    fn visit(&self, prefix: &str, v: &mut dyn ModuleVisitor) {
        self.self_attn.visit(&join_name(prefix, "self_attn"), v);
        self.linear1.visit(&join_name(prefix, "linear1"), v);
        self.linear2.visit(&join_name(prefix, "linear2"), v);
        self.norm1.visit(&join_name(prefix, "norm1"), v);
        self.norm2.visit(&join_name(prefix, "norm2"), v);
        v.item(&join_name(prefix, "rng"), ModuleItem::Rng(&self.gen));
    }
    fn name(&self) -> &'static str {
        "TransformerEncoderLayer"
    }
    fn set_training(&mut self, training: bool) {
        self.training = training;
        self.self_attn.set_training(training);
    }
    fn is_training(&self) -> bool {
        self.training
    }
    fn children(&self) -> Vec<(String, &dyn Module)> {
        vec![
            ("self_attn".into(), &self.self_attn as &dyn Module),
            ("linear1".into(), &self.linear1 as &dyn Module),
            ("linear2".into(), &self.linear2 as &dyn Module),
        ]
    }
    fn as_any(&self) -> Option<&dyn std::any::Any> {
        Some(self)
    }
}

fn ff_default() -> usize {
    2048
}
fn dropout_default() -> f64 {
    0.1
}
fn eps_default() -> f64 {
    1e-5
}

/// Config of [`TransformerEncoderLayer`] (`torch.nn.TransformerEncoderLayer(d_model, nhead,
/// dim_feedforward=2048, dropout=0.1, activation='relu', layer_norm_eps=1e-5,
/// batch_first=False, norm_first=False, bias=True)`).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TransformerEncoderLayerConfig {
    /// Model dimension (`d_model`).
    pub d_model: usize,
    /// Attention heads; must divide `d_model` (`nhead`).
    pub nhead: usize,
    /// Hidden size of the feed-forward network (`dim_feedforward`, default 2048).
    #[serde(default = "ff_default")]
    pub dim_feedforward: usize,
    /// Dropout in attention, feed-forward and residual branches (`dropout`, default 0.1).
    #[serde(default = "dropout_default")]
    pub dropout: f64,
    /// `"relu"` (default) or `"gelu"` (`activation`).
    #[serde(default)]
    pub activation: TransformerActivation,
    /// Layer-norm epsilon (`layer_norm_eps`, default 1e-5).
    #[serde(default = "eps_default")]
    pub layer_norm_eps: f64,
    /// `(N, L, E)` instead of `(L, N, E)` (`batch_first`, default false).
    #[serde(default)]
    pub batch_first: bool,
    /// Pre-norm instead of post-norm (`norm_first`, default false).
    #[serde(default)]
    pub norm_first: bool,
    /// Biases in linear layers and layer norms (`bias`, default true).
    #[serde(default = "crate::recurrent::yes")]
    pub bias: bool,
    /// Self-attention in a model (`forward`, `forward_with`) is causal: position `i` attends
    /// to positions `0..=i` only (default false). PyTorch passes `is_causal=True` with the
    /// mask at call time (`layer(src, src_mask=causal_mask, is_causal=True)`). Inside a
    /// [`TransformerEncoderConfig`], set `causal` on the encoder instead.
    #[serde(default)]
    pub causal: bool,
}

impl TransformerEncoderLayerConfig {
    /// A spec with PyTorch's defaults for everything but the sizes.
    pub fn new(d_model: usize, nhead: usize) -> Self {
        TransformerEncoderLayerConfig {
            d_model,
            nhead,
            dim_feedforward: 2048,
            dropout: 0.1,
            activation: TransformerActivation::Relu,
            layer_norm_eps: 1e-5,
            batch_first: false,
            norm_first: false,
            bias: true,
            causal: false,
        }
    }
}

#[typetag::serde(name = "TransformerEncoderLayer")]
impl LayerConfig for TransformerEncoderLayerConfig {
    fn validate(&self) -> Result<(), NnError> {
        const L: &str = "TransformerEncoderLayer";
        if self.d_model == 0 {
            return Err(NnError::config(L, "d_model", "must be positive, got 0"));
        }
        if self.nhead == 0 || self.d_model % self.nhead != 0 {
            return Err(NnError::config(
                L,
                "nhead",
                format!("must divide d_model ({}), got {}", self.d_model, self.nhead),
            ));
        }
        if self.dim_feedforward == 0 {
            return Err(NnError::config(
                L,
                "dim_feedforward",
                "must be positive, got 0",
            ));
        }
        if !(0.0..=1.0).contains(&self.dropout) {
            return Err(NnError::config(
                L,
                "dropout",
                format!("must be in [0, 1], got {}", self.dropout),
            ));
        }
        if self.layer_norm_eps.is_nan() || self.layer_norm_eps < 0.0 {
            return Err(NnError::config(
                L,
                "layer_norm_eps",
                format!("must be non-negative, got {}", self.layer_norm_eps),
            ));
        }
        Ok(())
    }
    fn build(&self, ctx: &mut BuildContext) -> Result<Box<dyn Module>, NnError> {
        Ok(Box::new(TransformerEncoderLayer::new(self, ctx)?))
    }
    fn output_shape(&self, index: &str, input: &[usize]) -> Result<Vec<usize>, NnError> {
        if matches!(input.len(), 2 | 3) && input.last() == Some(&self.d_model) {
            Ok(input.to_vec())
        } else {
            Err(NnError::Shape {
                index: index.to_string(),
                layer: "TransformerEncoderLayer".into(),
                expected: format!("[N, L, {0}] or [L, {0}]", self.d_model),
                got: input.to_vec(),
            })
        }
    }
}

/// A stack of identical encoder layers with an optional final norm
/// (`torch.nn.TransformerEncoder`). Parameters are `layers.{i}.…` and `norm.…`. As in
/// PyTorch (which deep-copies `encoder_layer`), every layer starts from the same weights.
///
/// In a model, [`Module::forward_with`] passes the context's padding mask as
/// `src_key_padding_mask` to every layer, and both `forward`s are causal if the spec says
/// `causal` (a character language model).
#[derive(Debug)]
pub struct TransformerEncoder {
    layers: Vec<TransformerEncoderLayer>,
    norm: Option<Box<dyn Module>>,
    causal: bool,
    training: bool,
}

impl TransformerEncoder {
    /// Builds the stack from its spec.
    ///
    /// # Errors
    /// An invalid option, naming the field.
    pub fn new(spec: &TransformerEncoderConfig, ctx: &mut BuildContext) -> Result<Self, NnError> {
        spec.validate()?;
        let snapshot = ctx.gen.clone();
        let mut layers = Vec::with_capacity(spec.num_layers);
        for _ in 0..spec.num_layers {
            ctx.gen = snapshot.clone();
            layers.push(TransformerEncoderLayer::new(&spec.encoder_layer, ctx)?);
        }
        let norm = spec.norm.as_ref().map(|n| n.build(ctx)).transpose()?;
        Ok(TransformerEncoder {
            layers,
            norm,
            causal: spec.causal,
            training: true,
        })
    }

    /// The layers.
    pub fn layers(&self) -> &[TransformerEncoderLayer] {
        &self.layers
    }

    /// `encoder(src, mask, src_key_padding_mask, is_causal)`: every layer with the same
    /// masks (see [`TransformerEncoderLayer::forward_full`]), then the final norm.
    ///
    /// # Panics
    /// If a shape does not match.
    #[track_caller]
    pub fn forward_full<'t>(
        &self,
        src: Var<'t>,
        mask: Option<&Tensor>,
        src_key_padding_mask: Option<&Tensor>,
        is_causal: bool,
    ) -> Var<'t> {
        let x = self.layers.iter().fold(src, |x, l| {
            l.forward_full(x, mask, src_key_padding_mask, is_causal)
        });
        match &self.norm {
            Some(n) => n.forward(x),
            None => x,
        }
    }
}

impl Module for TransformerEncoder {
    /// `encoder(src, is_causal=causal)` (with the causal mask when `causal`).
    fn forward<'t>(&self, input: Var<'t>) -> Var<'t> {
        self.forward_full(input, None, None, self.causal)
    }
    /// `encoder(src, src_key_padding_mask=padding, is_causal=causal)`.
    fn forward_with<'t>(&self, input: Var<'t>, ctx: &ForwardContext) -> Var<'t> {
        let batch_first = self
            .layers
            .first()
            .is_some_and(|l| l.self_attn.batch_first());
        let mask = self_padding_mask("TransformerEncoder", ctx, &input, batch_first);
        self.forward_full(input, None, mask.as_ref(), self.causal)
    }
    fn visit(&self, prefix: &str, v: &mut dyn ModuleVisitor) {
        for (i, l) in self.layers.iter().enumerate() {
            l.visit(&join_name(prefix, &format!("layers.{i}")), v);
        }
        if let Some(n) = &self.norm {
            n.visit(&join_name(prefix, "norm"), v);
        }
    }
    fn name(&self) -> &'static str {
        "TransformerEncoder"
    }
    fn set_training(&mut self, training: bool) {
        self.training = training;
        for l in &mut self.layers {
            l.set_training(training);
        }
        if let Some(n) = &mut self.norm {
            n.set_training(training);
        }
    }
    fn is_training(&self) -> bool {
        self.training
    }
    fn children(&self) -> Vec<(String, &dyn Module)> {
        let mut out: Vec<(String, &dyn Module)> = self
            .layers
            .iter()
            .enumerate()
            .map(|(i, l)| (format!("layers.{i}"), l as &dyn Module))
            .collect();
        if let Some(n) = &self.norm {
            out.push(("norm".into(), n.as_ref()));
        }
        out
    }
    fn as_any(&self) -> Option<&dyn std::any::Any> {
        Some(self)
    }
}

fn yes() -> bool {
    true
}

/// Config of [`TransformerEncoder`] (`torch.nn.TransformerEncoder(encoder_layer, num_layers,
/// norm=None, enable_nested_tensor=True, mask_check=True)`):
///
/// ```toml
/// type = "TransformerEncoder"
/// num_layers = 2
/// encoder_layer = { d_model = 64, nhead = 4, batch_first = true }
/// norm = { type = "LayerNorm", normalized_shape = [64] }   # optional, any layer config
/// causal = false                                          # true: a causal language model
/// ```
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TransformerEncoderConfig {
    /// The arguments of every layer (`encoder_layer`).
    pub encoder_layer: TransformerEncoderLayerConfig,
    /// Number of layers (`num_layers`).
    pub num_layers: usize,
    /// Final normalization, any layer config (`norm`, default none).
    #[serde(default)]
    pub norm: Option<Box<dyn LayerConfig>>,
    /// Accepted for compatibility; Tuna has no nested tensors (`enable_nested_tensor`).
    #[serde(default = "yes")]
    pub enable_nested_tensor: bool,
    /// Accepted for compatibility (`mask_check`).
    #[serde(default = "yes")]
    pub mask_check: bool,
    /// Self-attention in every layer is causal: position `i` attends to positions `0..=i`
    /// only (default false), for a language model. Not a constructor argument in PyTorch,
    /// which passes it at call time:
    /// `encoder(src, mask=nn.Transformer.generate_square_subsequent_mask(L), is_causal=True)`.
    #[serde(default)]
    pub causal: bool,
}

#[typetag::serde(name = "TransformerEncoder")]
impl LayerConfig for TransformerEncoderConfig {
    fn validate(&self) -> Result<(), NnError> {
        self.encoder_layer.validate().map_err(|e| match e {
            NnError::Config {
                layer,
                field,
                message,
            } => NnError::Config {
                layer: format!("TransformerEncoder.encoder_layer ({layer})"),
                field,
                message,
            },
            other => other,
        })?;
        if self.num_layers == 0 {
            return Err(NnError::config(
                "TransformerEncoder",
                "num_layers",
                "must be positive, got 0",
            ));
        }
        if self.encoder_layer.causal {
            return Err(NnError::config(
                "TransformerEncoder",
                "encoder_layer.causal",
                "set `causal = true` on the TransformerEncoder itself, which applies it to \
                 every layer",
            ));
        }
        if let Some(n) = &self.norm {
            n.validate()?;
        }
        Ok(())
    }
    fn build(&self, ctx: &mut BuildContext) -> Result<Box<dyn Module>, NnError> {
        Ok(Box::new(TransformerEncoder::new(self, ctx)?))
    }
    fn output_shape(&self, index: &str, input: &[usize]) -> Result<Vec<usize>, NnError> {
        let shape = self.encoder_layer.output_shape(index, input)?;
        match &self.norm {
            Some(n) => n.output_shape(&join_name(index, "norm"), &shape),
            None => Ok(shape),
        }
    }
}
