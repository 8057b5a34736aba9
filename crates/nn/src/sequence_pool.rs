//! `SequencePool`: one vector per sequence from `[N, L, F]`, over the real positions only
//! (PyTorch has no such module; text classifiers write it by hand).

use serde::{Deserialize, Serialize};
use tuna_autograd::Var;
use tuna_tensor::Tensor;

use crate::config::{BuildContext, LayerConfig};
use crate::error::NnError;
use crate::forward_context::ForwardContext;
use crate::module::{Module, ModuleVisitor};
use crate::util::shape_err;

/// How [`SequencePool`] reduces the positions of a sequence (`mode`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PoolMode {
    /// The mean over the real positions: `Σ_{t<len} x_t / len` (the default; fastText's
    /// bag of embeddings).
    #[default]
    Mean,
    /// The elementwise maximum over the real positions.
    Max,
    /// Position 0 (a `[CLS]` token).
    First,
    /// Position `len − 1`, the last real one (a recurrent layer's final output).
    Last,
}

/// Pools `[N, L, F]` (batch first) to `[N, F]` over each sample's real positions, as a
/// PyTorch user writes it by hand with `lengths` / `mask = arange(L) < lengths[:, None]`:
///
/// ```text
/// mean:  (x * mask[..., None]).sum(1) / lengths[:, None]
/// max:   x.masked_fill(~mask[..., None], -inf).max(1).values
/// first: x[:, 0]
/// last:  x[arange(N), lengths - 1]
/// ```
///
/// The lengths come from the [`ForwardContext`] ([`Module::forward_with`]); without them
/// (and in [`Module::forward`]) every position is real. With `bidirectional`, the features
/// are the two halves `[forward | reverse]` of a bidirectional recurrent layer's output and
/// each half is pooled in its own direction's order: `last` takes the forward half at
/// `len − 1` and the reverse half at position 0, which is each direction's final state
/// (`torch.cat([h_n[-2], h_n[-1]], -1)` of a bidirectional RNN/LSTM/GRU on packed
/// sequences); `first` mirrors it (forward half at 0, reverse half at `len − 1`); `mean` and
/// `max` are the same either way.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SequencePool {
    /// The reduction.
    pub mode: PoolMode,
    /// Pool the two halves of the features in opposite directions.
    pub bidirectional: bool,
}

impl SequencePool {
    /// A pooling layer.
    pub fn new(mode: PoolMode, bidirectional: bool) -> Self {
        SequencePool {
            mode,
            bidirectional,
        }
    }

    /// `[N, L, F]` → `[N, F]` with the real length of each sample (`None`: all `L`).
    ///
    /// # Panics
    /// If `input` is not `[N, L, F]` (with an even `F` when bidirectional), or the lengths do
    /// not fit (one per sample, each in `1..=L`).
    #[track_caller]
    pub fn pool<'t>(&self, input: Var<'t>, lengths: Option<&[usize]>) -> Var<'t> {
        assert!(
            input.rank() == 3 && (!self.bidirectional || input.size(2) % 2 == 0),
            "SequencePool: expected input of shape [N, L, F]{}, got {:?}",
            if self.bidirectional {
                " with an even F (bidirectional)"
            } else {
                ""
            },
            input.shape()
        );
        let (n, l) = (input.size(0), input.size(1));
        let ctx = ForwardContext {
            lengths: lengths.map(Into::into),
        };
        let lengths = ctx.checked_lengths("SequencePool", n, l);
        match self.mode {
            PoolMode::Mean => mean(input, lengths),
            PoolMode::Max => max(input, lengths),
            PoolMode::First | PoolMode::Last if self.bidirectional => {
                let f = input.size(2) / 2;
                let (fwd, rev) = (input.narrow(2, 0, f), input.narrow(2, f, f));
                let (fwd, rev) = if self.mode == PoolMode::Last {
                    (at_last(fwd, lengths), rev.select(1, 0))
                } else {
                    (fwd.select(1, 0), at_last(rev, lengths))
                };
                input.tape().cat(&[fwd, rev], -1)
            }
            PoolMode::First => input.select(1, 0),
            PoolMode::Last => at_last(input, lengths),
        }
    }
}

/// `Σ_{t<len} x_t / len`.
fn mean<'t>(x: Var<'t>, lengths: Option<&[usize]>) -> Var<'t> {
    let Some(lengths) = lengths else {
        return x.mean_dims(&[1], false);
    };
    let (n, l) = (x.size(0), x.size(1));
    let tape = x.tape();
    let mask = ForwardContext::with_lengths(lengths)
        .token_mask(n, l, x.dtype())
        .expect("lengths")
        .unsqueeze(2);
    let inv: Vec<f64> = lengths.iter().map(|&len| 1.0 / len as f64).collect();
    let inv = Tensor::from_vec(inv, &[n, 1]).to_dtype(x.dtype());
    x.mul(tape.constant(mask))
        .sum_dims(&[1], false)
        .mul(tape.constant(inv))
}

/// The maximum over `t < len` (the gradient goes to the position of the maximum, as
/// `torch.max(x, dim)`).
fn max<'t>(x: Var<'t>, lengths: Option<&[usize]>) -> Var<'t> {
    let x = match lengths {
        Some(lengths) => {
            let pad = ForwardContext::with_lengths(lengths)
                .padding_mask(x.size(0), x.size(1))
                .expect("lengths")
                .unsqueeze(2);
            x.masked_fill(&pad, f64::NEG_INFINITY)
        }
        None => x,
    };
    x.max_dim(1, false).0
}

/// `x[i, len_i − 1]` for every sample `i`.
fn at_last<'t>(x: Var<'t>, lengths: Option<&[usize]>) -> Var<'t> {
    let (n, l, f) = (x.size(0), x.size(1), x.size(2));
    let Some(lengths) = lengths else {
        return x.select(1, l - 1);
    };
    let idx: Vec<i64> = lengths
        .iter()
        .flat_map(|&len| std::iter::repeat_n(len as i64 - 1, f))
        .collect();
    x.gather(1, &Tensor::from_vec(idx, &[n, 1, f])).squeeze(1)
}

impl Module for SequencePool {
    /// Pools over every position (no lengths).
    fn forward<'t>(&self, input: Var<'t>) -> Var<'t> {
        self.pool(input, None)
    }
    /// Pools over each sample's real positions.
    fn forward_with<'t>(&self, input: Var<'t>, ctx: &ForwardContext) -> Var<'t> {
        self.pool(input, ctx.lengths())
    }
    fn visit(&self, _prefix: &str, _v: &mut dyn ModuleVisitor) {}
    fn name(&self) -> &'static str {
        "SequencePool"
    }
    fn as_any(&self) -> Option<&dyn std::any::Any> {
        Some(self)
    }
}

/// Config of [`SequencePool`]: `{ type = "SequencePool", mode = "mean" }`, with `mode` one
/// of `"mean"` (default), `"max"`, `"first"`, `"last"`; `bidirectional = true` after a
/// bidirectional recurrent layer (so `"last"` is the final state of both directions).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SequencePoolConfig {
    /// The reduction (`"mean"`, `"max"`, `"first"`, `"last"`; default `"mean"`).
    #[serde(default)]
    pub mode: PoolMode,
    /// The input is a bidirectional recurrent output `[forward | reverse]`; pool each half
    /// in its own direction (default false).
    #[serde(default)]
    pub bidirectional: bool,
}

#[typetag::serde(name = "SequencePool")]
impl LayerConfig for SequencePoolConfig {
    fn build(&self, _ctx: &mut BuildContext) -> Result<Box<dyn Module>, NnError> {
        Ok(Box::new(SequencePool::new(self.mode, self.bidirectional)))
    }

    fn output_shape(&self, index: &str, input: &[usize]) -> Result<Vec<usize>, NnError> {
        match input {
            [n, l, f] if *l > 0 && (!self.bidirectional || f % 2 == 0) => Ok(vec![*n, *f]),
            _ => Err(shape_err(
                index,
                "SequencePool",
                if self.bidirectional {
                    "[N, L, F] (batch first) with L > 0 and an even F (the two directions)"
                } else {
                    "[N, L, F] (batch first) with L > 0"
                },
                input,
            )),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tuna_autograd::Tape;

    fn x(tape: &Tape) -> Var<'_> {
        // x[i, t, j] = 10·t + j + 100·i
        let data: Vec<f64> = (0..2 * 3 * 2)
            .map(|k| (k / 6 * 100 + k % 6 / 2 * 10 + k % 2) as f64)
            .collect();
        tape.constant(Tensor::from_vec(data, &[2, 3, 2]))
    }

    #[test]
    fn every_mode_ignores_the_padding() {
        let tape = Tape::new();
        let lengths = Some(&[2usize, 1][..]);
        let pool = |mode, bi| SequencePool::new(mode, bi).pool(x(&tape), lengths).value();
        assert_eq!(
            pool(PoolMode::Mean, false).to_vec::<f64>(),
            [5.0, 6.0, 100.0, 101.0]
        );
        assert_eq!(
            pool(PoolMode::Max, false).to_vec::<f64>(),
            [10.0, 11.0, 100.0, 101.0]
        );
        assert_eq!(
            pool(PoolMode::First, false).to_vec::<f64>(),
            [0.0, 1.0, 100.0, 101.0]
        );
        assert_eq!(
            pool(PoolMode::Last, false).to_vec::<f64>(),
            [10.0, 11.0, 100.0, 101.0]
        );
        assert_eq!(
            pool(PoolMode::Last, true).to_vec::<f64>(),
            [10.0, 1.0, 100.0, 101.0]
        );
        assert_eq!(
            pool(PoolMode::First, true).to_vec::<f64>(),
            [0.0, 11.0, 100.0, 101.0]
        );
    }

    #[test]
    fn without_lengths_every_position_is_real() {
        let tape = Tape::new();
        let p = |mode| SequencePool::new(mode, false).forward(x(&tape)).value();
        assert_eq!(
            p(PoolMode::Mean).to_vec::<f64>(),
            [10.0, 11.0, 110.0, 111.0]
        );
        assert_eq!(
            p(PoolMode::Last).to_vec::<f64>(),
            [20.0, 21.0, 120.0, 121.0]
        );
        let with_ctx = SequencePool::new(PoolMode::Max, false)
            .forward_with(x(&tape), &ForwardContext::new())
            .value();
        assert_eq!(with_ctx.to_vec::<f64>(), [20.0, 21.0, 120.0, 121.0]);
    }

    #[test]
    fn shapes_and_serde() {
        let spec: Box<dyn LayerConfig> = serde_json::from_str(
            r#"{"type": "SequencePool", "mode": "last", "bidirectional": true}"#,
        )
        .unwrap();
        assert_eq!(spec.output_shape("3", &[4, 7, 6]).unwrap(), [4, 6]);
        let e = spec.output_shape("3", &[4, 7, 5]).unwrap_err().to_string();
        assert!(
            e.contains("layer 3 (SequencePool)") && e.contains("even F"),
            "{e}"
        );
        let e = spec.output_shape("3", &[4, 7]).unwrap_err().to_string();
        assert!(e.contains("[N, L, F]"), "{e}");
        let bad = serde_json::from_str::<Box<dyn LayerConfig>>(
            r#"{"type": "SequencePool", "mode": "median"}"#,
        )
        .unwrap_err()
        .to_string();
        assert!(bad.contains("median") && bad.contains("mean"), "{bad}");
    }

    #[test]
    #[should_panic(expected = "SequencePool: lengths: sample 1 has length 4")]
    fn lengths_longer_than_the_input_panic() {
        let tape = Tape::new();
        SequencePool::new(PoolMode::Mean, false).pool(x(&tape), Some(&[1, 4]));
    }
}
