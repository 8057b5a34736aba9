//! `RNN`: multi-layer Elman recurrent network (`torch.nn.RNN`):
//! `h' = act(W_ih x + b_ih + W_hh h + b_hh)` with `act` tanh or relu.

use serde::{Deserialize, Serialize};
use tuna_autograd::Var;

use crate::config::{BuildContext, LayerConfig};
use crate::error::NnError;
use crate::forward_context::ForwardContext;
use crate::lstm::one;
use crate::module::{Module, ModuleVisitor};
use crate::recurrent::{yes, CellKind, RecurrentCore, RecurrentOptions};

/// The nonlinearity of an [`Rnn`] (`nonlinearity = "tanh" | "relu"`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RnnNonlinearity {
    /// Hyperbolic tangent (PyTorch's default).
    #[default]
    Tanh,
    /// `max(x, 0)`.
    Relu,
}

/// A multi-layer Elman RNN (`torch.nn.RNN`), with PyTorch's parameter names
/// (`weight_ih_l{k}` `[H, in]`, `weight_hh_l{k}` `[H, H]`, `bias_ih_l{k}`, `bias_hh_l{k}`,
/// `_reverse` for the backward direction) and initialization (U(-1/√H, 1/√H)).
///
/// [`Module::forward`] returns the output sequence; [`Rnn::forward_with_state`] also takes
/// and returns the hidden state. On a batch padded at the end, [`Module::forward_with`] (lengths
/// from the context) and [`Rnn::forward_with_state_lengths`] run each sample over its real
/// steps only, as PyTorch's packed sequences.
#[derive(Debug)]
pub struct Rnn {
    core: RecurrentCore,
}

impl Rnn {
    /// Builds the layer from its spec.
    ///
    /// # Errors
    /// An invalid option, naming the field.
    pub fn new(spec: &RnnConfig, ctx: &mut BuildContext) -> Result<Self, NnError> {
        spec.validate()?;
        let kind = match spec.nonlinearity {
            RnnNonlinearity::Tanh => CellKind::RnnTanh,
            RnnNonlinearity::Relu => CellKind::RnnRelu,
        };
        Ok(Rnn {
            core: RecurrentCore::new(kind, spec.options(), ctx),
        })
    }

    /// `output, h_n = rnn(input, h_0)`, with the shapes of [`Gru::forward_with_state`](crate::Gru::forward_with_state).
    ///
    /// # Panics
    /// If a shape does not match.
    #[track_caller]
    pub fn forward_with_state<'t>(
        &self,
        input: Var<'t>,
        h0: Option<Var<'t>>,
    ) -> (Var<'t>, Var<'t>) {
        self.forward_with_state_lengths(input, h0, None)
    }

    /// [`Rnn::forward_with_state`] on a batch padded at the end, where sample `i` has
    /// `lengths[i]` real steps: the same as PyTorch's
    /// `pack_padded_sequence(input, lengths, batch_first, enforce_sorted=False)` → `rnn` →
    /// `pad_packed_sequence(..., total_length=L)` (see [`Lstm::forward_with_state_lengths`](crate::Lstm::forward_with_state_lengths)).
    ///
    /// # Panics
    /// If a shape does not match, or the lengths do not fit the batch (one per sample, each
    /// in `1..=L`).
    #[track_caller]
    pub fn forward_with_state_lengths<'t>(
        &self,
        input: Var<'t>,
        h0: Option<Var<'t>>,
        lengths: Option<&[usize]>,
    ) -> (Var<'t>, Var<'t>) {
        let (out, hn, _) = self.core.run("RNN", input, h0, None, lengths);
        (out, hn)
    }
}

impl Module for Rnn {
    fn forward<'t>(&self, input: Var<'t>) -> Var<'t> {
        self.forward_with_state(input, None).0
    }
    /// The output sequence with the context's lengths, as on PyTorch's packed sequences.
    fn forward_with<'t>(&self, input: Var<'t>, ctx: &ForwardContext) -> Var<'t> {
        self.forward_with_state_lengths(input, None, ctx.lengths())
            .0
    }
    fn visit(&self, prefix: &str, v: &mut dyn ModuleVisitor) {
        self.core.visit(prefix, v);
    }
    fn name(&self) -> &'static str {
        "RNN"
    }
    fn set_training(&mut self, training: bool) {
        self.core.training = training;
    }
    fn is_training(&self) -> bool {
        self.core.training
    }
    fn as_any(&self) -> Option<&dyn std::any::Any> {
        Some(self)
    }
}

/// Config of [`Rnn`] (`torch.nn.RNN(input_size, hidden_size, num_layers=1,
/// nonlinearity='tanh', bias=True, batch_first=False, dropout=0.0, bidirectional=False)`).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RnnConfig {
    /// Features per input step (`input_size`).
    pub input_size: usize,
    /// Features of the hidden state (`hidden_size`).
    pub hidden_size: usize,
    /// Stacked layers (`num_layers`, default 1).
    #[serde(default = "one")]
    pub num_layers: usize,
    /// `"tanh"` (default) or `"relu"` (`nonlinearity`).
    #[serde(default)]
    pub nonlinearity: RnnNonlinearity,
    /// Whether to use `b_ih` and `b_hh` (`bias`, default true).
    #[serde(default = "yes")]
    pub bias: bool,
    /// Inputs and outputs are `(N, L, H)` instead of `(L, N, H)` (`batch_first`, default false).
    #[serde(default)]
    pub batch_first: bool,
    /// Dropout on the outputs of every layer but the last, in training (`dropout`, default 0).
    #[serde(default)]
    pub dropout: f64,
    /// Run a second, reversed direction and concatenate (`bidirectional`, default false).
    #[serde(default)]
    pub bidirectional: bool,
}

impl RnnConfig {
    /// A spec with PyTorch's defaults for everything but the sizes.
    pub fn new(input_size: usize, hidden_size: usize) -> Self {
        RnnConfig {
            input_size,
            hidden_size,
            num_layers: 1,
            nonlinearity: RnnNonlinearity::Tanh,
            bias: true,
            batch_first: false,
            dropout: 0.0,
            bidirectional: false,
        }
    }

    fn options(&self) -> RecurrentOptions {
        RecurrentOptions {
            input_size: self.input_size,
            hidden_size: self.hidden_size,
            num_layers: self.num_layers,
            bias: self.bias,
            batch_first: self.batch_first,
            dropout: self.dropout,
            bidirectional: self.bidirectional,
            proj_size: 0,
        }
    }
}

#[typetag::serde(name = "RNN")]
impl LayerConfig for RnnConfig {
    fn validate(&self) -> Result<(), NnError> {
        self.options().validate("RNN")
    }
    fn build(&self, ctx: &mut BuildContext) -> Result<Box<dyn Module>, NnError> {
        Ok(Box::new(Rnn::new(self, ctx)?))
    }
    fn output_shape(&self, index: &str, input: &[usize]) -> Result<Vec<usize>, NnError> {
        self.options().output_shape("RNN", index, input)
    }
}
