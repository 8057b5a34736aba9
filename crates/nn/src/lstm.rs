//! `LSTM`: multi-layer long short-term memory (`torch.nn.LSTM`).
//!
//! Per step, with gates in PyTorch's order (i, f, g, o):
//!
//! ```text
//! i = σ(W_ii x + b_ii + W_hi h + b_hi)     f = σ(W_if x + b_if + W_hf h + b_hf)
//! g = tanh(W_ig x + b_ig + W_hg h + b_hg)  o = σ(W_io x + b_io + W_ho h + b_ho)
//! c' = f ⊙ c + i ⊙ g                        h' = o ⊙ tanh(c')   (then h' = W_hr h' if proj_size > 0)
//! ```

use serde::{Deserialize, Serialize};
use tuna_autograd::Var;

use crate::config::{BuildContext, LayerConfig};
use crate::error::NnError;
use crate::forward_context::ForwardContext;
use crate::module::{Module, ModuleVisitor};
use crate::recurrent::{yes, CellKind, RecurrentCore, RecurrentOptions};

/// A multi-layer LSTM (`torch.nn.LSTM`), with PyTorch's parameter names
/// (`weight_ih_l{k}` `[4H, in]`, `weight_hh_l{k}` `[4H, H_out]`, `bias_ih_l{k}`,
/// `bias_hh_l{k}`, `weight_hr_l{k}` `[P, H]` with `proj_size`, `_reverse` for the backward
/// direction) and initialization (every parameter U(-1/√H, 1/√H)).
///
/// [`Module::forward`] returns the output sequence; [`Lstm::forward_with_state`] also takes
/// and returns the `(h, c)` state. On a batch padded at the end, [`Module::forward_with`] (lengths
/// from the context) and [`Lstm::forward_with_state_lengths`] run each sample over its real
/// steps only, as PyTorch's packed sequences.
#[derive(Debug)]
pub struct Lstm {
    core: RecurrentCore,
}

impl Lstm {
    /// Builds the layer from its spec.
    ///
    /// # Errors
    /// An invalid option, naming the field.
    pub fn new(spec: &LstmConfig, ctx: &mut BuildContext) -> Result<Self, NnError> {
        spec.validate()?;
        Ok(Lstm {
            core: RecurrentCore::new(CellKind::Lstm, spec.options(), ctx),
        })
    }

    /// `output, (h_n, c_n) = lstm(input, (h_0, c_0))`.
    ///
    /// `input` is `(L, N, H_in)`, or `(N, L, H_in)` with `batch_first`, or unbatched
    /// `(L, H_in)`. `h_0` is `(num_layers·D, N, H_out)` and `c_0` `(num_layers·D, N, H)`
    /// (without `N` when unbatched; zeros if `None`), where `D` is 2 if bidirectional and
    /// `H_out` is `proj_size` if set, else `hidden_size`. `output` is `(L, N, D·H_out)` (or
    /// batch first); `h_n` and `c_n` have the shapes of `h_0` and `c_0`.
    ///
    /// # Panics
    /// If a shape does not match.
    #[track_caller]
    pub fn forward_with_state<'t>(
        &self,
        input: Var<'t>,
        state: Option<(Var<'t>, Var<'t>)>,
    ) -> (Var<'t>, (Var<'t>, Var<'t>)) {
        self.forward_with_state_lengths(input, state, None)
    }

    /// [`Lstm::forward_with_state`] on a batch padded at the end, where sample `i` has
    /// `lengths[i]` real steps (`None`: every step is real). The same as PyTorch's
    ///
    /// ```python
    /// packed = pack_padded_sequence(input, lengths, batch_first, enforce_sorted=False)
    /// out, (h_n, c_n) = lstm(packed, (h_0, c_0))
    /// output, _ = pad_packed_sequence(out, batch_first, total_length=L)
    /// ```
    ///
    /// `output` is zero at the padded steps; `h_n`/`c_n` hold, for the forward direction,
    /// the state after each sample's last real step, and the reverse direction starts at
    /// each sample's last real step (so its `h_n` is its state after step 0). Padded steps of
    /// `input` get zero gradient.
    ///
    /// # Panics
    /// If a shape does not match, or the lengths do not fit the batch (one per sample, each
    /// in `1..=L`).
    #[track_caller]
    pub fn forward_with_state_lengths<'t>(
        &self,
        input: Var<'t>,
        state: Option<(Var<'t>, Var<'t>)>,
        lengths: Option<&[usize]>,
    ) -> (Var<'t>, (Var<'t>, Var<'t>)) {
        let (h0, c0) = match state {
            Some((h, c)) => (Some(h), Some(c)),
            None => (None, None),
        };
        let (out, hn, cn) = self.core.run("LSTM", input, h0, c0, lengths);
        (out, (hn, cn.expect("LSTM returns a cell state")))
    }
}

impl Module for Lstm {
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
        "LSTM"
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

/// Config of [`Lstm`] (`torch.nn.LSTM(input_size, hidden_size, num_layers=1, bias=True,
/// batch_first=False, dropout=0.0, bidirectional=False, proj_size=0)`).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LstmConfig {
    /// Features per input step (`input_size`).
    pub input_size: usize,
    /// Features of the hidden and cell state (`hidden_size`).
    pub hidden_size: usize,
    /// Stacked layers (`num_layers`, default 1).
    #[serde(default = "one")]
    pub num_layers: usize,
    /// Whether to use `b_ih` and `b_hh` (`bias`, default true).
    #[serde(default = "yes")]
    pub bias: bool,
    /// Inputs and outputs are `(N, L, H)` instead of `(L, N, H)` (`batch_first`, default
    /// false; states stay `(num_layers·D, N, H)`).
    #[serde(default)]
    pub batch_first: bool,
    /// Dropout on the outputs of every layer but the last, in training (`dropout`, default 0).
    #[serde(default)]
    pub dropout: f64,
    /// Run a second, reversed direction and concatenate (`bidirectional`, default false).
    #[serde(default)]
    pub bidirectional: bool,
    /// If positive, project `h` to this size with `weight_hr_l{k}` (`proj_size`, default 0;
    /// must be smaller than `hidden_size`).
    #[serde(default)]
    pub proj_size: usize,
}

pub(crate) fn one() -> usize {
    1
}

impl LstmConfig {
    /// A spec with PyTorch's defaults for everything but the sizes.
    pub fn new(input_size: usize, hidden_size: usize) -> Self {
        LstmConfig {
            input_size,
            hidden_size,
            num_layers: 1,
            bias: true,
            batch_first: false,
            dropout: 0.0,
            bidirectional: false,
            proj_size: 0,
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
            proj_size: self.proj_size,
        }
    }
}

#[typetag::serde(name = "LSTM")]
impl LayerConfig for LstmConfig {
    fn validate(&self) -> Result<(), NnError> {
        self.options().validate("LSTM")
    }
    fn build(&self, ctx: &mut BuildContext) -> Result<Box<dyn Module>, NnError> {
        Ok(Box::new(Lstm::new(self, ctx)?))
    }
    fn output_shape(&self, index: &str, input: &[usize]) -> Result<Vec<usize>, NnError> {
        self.options().output_shape("LSTM", index, input)
    }
}
