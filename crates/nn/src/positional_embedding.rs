//! `PositionalEmbedding`: adds a vector per position to a batch of token embeddings
//! (PyTorch has no such module; this is the tutorial's `PositionalEncoding`, or a learned
//! `nn.Embedding` over positions).

use std::sync::Mutex;

use serde::{Deserialize, Serialize};
use tuna_autograd::{functional, Param, Var};
use tuna_tensor::{DType, Generator, Tensor};

use crate::config::{BuildContext, DataInfo, LayerConfig};
use crate::error::NnError;
use crate::init;
use crate::module::{join_name, Module, ModuleItem, ModuleVisitor};
use crate::util::{positive, shape_err};

/// Where a [`PositionalEmbedding`]'s vectors come from (`kind`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PositionalKind {
    /// A trained `[max_len, embedding_dim]` table (BERT, GPT-2), initialized N(0, 1) as
    /// `nn.Embedding` (the default).
    #[default]
    Learned,
    /// The fixed sinusoids of "Attention is all you need":
    /// `pe[p, 2i] = sin(p / 10000^(2i/d))`, `pe[p, 2i+1] = cos(p / 10000^(2i/d))`.
    Sinusoidal,
}

/// `y = dropout(x + pe[:L])` for `x` of shape `[N, L, E]` (batch first) or `[L, E]`, where
/// `pe` is `[max_len, E]`:
///
/// * `learned`: a parameter `weight` initialized N(0, 1), as
///   `x + nn.Embedding(max_len, E).weight[:L]`;
/// * `sinusoidal`: the table of the PyTorch tutorial's `PositionalEncoding` (computed in
///   f64, then cast), which is not a parameter and not saved in the state dict.
///
/// Padded positions (at the end) get their position's vector like any other: the layers
/// after it mask them.
#[derive(Debug)]
pub struct PositionalEmbedding {
    /// `[max_len, E]`, trained (`learned`).
    pub weight: Option<Param>,
    table: Option<Tensor>,
    max_len: usize,
    dropout: f64,
    training: bool,
    gen: Mutex<Generator>,
}

/// The sinusoidal table `[max_len, dim]` in f64.
pub fn sinusoidal_table(max_len: usize, dim: usize) -> Tensor {
    let data: Vec<f64> = (0..max_len)
        .flat_map(|p| {
            (0..dim).map(move |j| {
                let freq = (-(10_000f64.ln()) * (2 * (j / 2)) as f64 / dim as f64).exp();
                let angle = p as f64 * freq;
                if j % 2 == 0 {
                    angle.sin()
                } else {
                    angle.cos()
                }
            })
        })
        .collect();
    Tensor::from_vec(data, &[max_len, dim])
}

impl PositionalEmbedding {
    /// Builds the layer from its spec, drawing a learned table from `ctx.gen`.
    ///
    /// # Errors
    /// An invalid option, naming the field (a missing `max_len` included).
    pub fn new(spec: &PositionalEmbeddingConfig, ctx: &mut BuildContext) -> Result<Self, NnError> {
        spec.validate()?;
        let max_len = spec.table_len()?;
        let shape = [max_len, spec.embedding_dim];
        let (weight, table) = match spec.kind {
            PositionalKind::Learned => {
                let w = init::normal(&shape, 0.0, 1.0, DType::F64, &mut ctx.gen);
                (Some(Param::new(w.to_dtype(ctx.dtype))), None)
            }
            PositionalKind::Sinusoidal => (
                None,
                Some(sinusoidal_table(max_len, spec.embedding_dim).to_dtype(ctx.dtype)),
            ),
        };
        Ok(PositionalEmbedding {
            weight,
            table,
            max_len,
            dropout: spec.dropout,
            training: true,
            gen: Mutex::new(ctx.gen.fork()),
        })
    }
}

impl Module for PositionalEmbedding {
    #[track_caller]
    fn forward<'t>(&self, input: Var<'t>) -> Var<'t> {
        let tape = input.tape();
        let dim = match (&self.weight, &self.table) {
            (Some(w), _) => w.shape()[1],
            (None, Some(t)) => t.shape()[1],
            (None, None) => unreachable!("a table of either kind"),
        };
        let rank = input.rank();
        assert!(
            matches!(rank, 2 | 3) && input.size(-1) == dim && input.size(-2) <= self.max_len,
            "PositionalEmbedding: expected input of shape [N, L, {dim}] or [L, {dim}] with \
             L <= max_len ({}), got {:?}",
            self.max_len,
            input.shape()
        );
        let l = input.size(-2);
        let pe = match (&self.weight, &self.table) {
            (Some(w), _) => tape.param(w).narrow(0, 0, l),
            (None, Some(t)) => tape.constant(t.narrow(0, 0, l).to_dtype(input.dtype())),
            (None, None) => unreachable!("a table of either kind"),
        };
        let y = input.add(pe);
        if self.training && self.dropout > 0.0 {
            let mut g = self.gen.lock().unwrap_or_else(|e| e.into_inner());
            functional::dropout(y, self.dropout, true, &mut g)
        } else {
            y
        }
    }
    fn visit(&self, prefix: &str, v: &mut dyn ModuleVisitor) {
        if let Some(w) = &self.weight {
            v.item(&join_name(prefix, "weight"), ModuleItem::Param(w));
        }
        v.item(&join_name(prefix, "rng"), ModuleItem::Rng(&self.gen));
    }
    fn name(&self) -> &'static str {
        "PositionalEmbedding"
    }
    fn as_any(&self) -> Option<&dyn std::any::Any> {
        Some(self)
    }
    fn set_training(&mut self, training: bool) {
        self.training = training;
    }
    fn is_training(&self) -> bool {
        self.training
    }
}

/// Config of [`PositionalEmbedding`]:
///
/// ```toml
/// { type = "PositionalEmbedding", embedding_dim = 64, kind = "learned", dropout = 0.1 }
/// ```
///
/// `max_len` may be left out when the data gives token sequences of a bounded length: the
/// trainer fills it with the data's `max_len` ([`LayerConfig::fill_from_data`]).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PositionalEmbeddingConfig {
    /// Features per position, the `E` of the input (`embedding_dim`).
    pub embedding_dim: usize,
    /// Longest sequence the layer accepts (`max_len`); filled from the data if left out.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_len: Option<usize>,
    /// `"learned"` (default) or `"sinusoidal"`.
    #[serde(default)]
    pub kind: PositionalKind,
    /// Dropout after the addition, in training (`dropout`, default 0; the tutorial uses 0.1).
    #[serde(default)]
    pub dropout: f64,
}

impl PositionalEmbeddingConfig {
    /// A learned table without dropout; `max_len` `None` is filled from the data.
    pub fn new(embedding_dim: usize, max_len: Option<usize>) -> Self {
        PositionalEmbeddingConfig {
            embedding_dim,
            max_len,
            kind: PositionalKind::Learned,
            dropout: 0.0,
        }
    }

    fn table_len(&self) -> Result<usize, NnError> {
        self.max_len.ok_or_else(|| {
            NnError::config(
                "PositionalEmbedding",
                "max_len",
                "missing: it is filled from the data's max_len (the longest token sequence \
                 it gives) when the data sets one; otherwise set it",
            )
        })
    }
}

#[typetag::serde(name = "PositionalEmbedding")]
impl LayerConfig for PositionalEmbeddingConfig {
    fn validate(&self) -> Result<(), NnError> {
        const L: &str = "PositionalEmbedding";
        positive(L, "embedding_dim", self.embedding_dim)?;
        positive(L, "max_len", self.table_len()?)?;
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
        Ok(Box::new(PositionalEmbedding::new(self, ctx)?))
    }

    fn output_shape(&self, index: &str, input: &[usize]) -> Result<Vec<usize>, NnError> {
        let max_len = self.table_len()?;
        let e = self.embedding_dim;
        match input {
            [.., l, d] if matches!(input.len(), 2 | 3) && *d == e && *l <= max_len => {
                Ok(input.to_vec())
            }
            _ => Err(shape_err(
                index,
                "PositionalEmbedding",
                format!("[N, L, {e}] or [L, {e}] with L <= max_len ({max_len})"),
                input,
            )),
        }
    }

    /// Fills `max_len` with `info.max_len` if it was left out; a given `max_len` must cover
    /// the data's longest sequence.
    fn fill_from_data(&mut self, info: &DataInfo) -> Result<(), NnError> {
        match (self.max_len, info.max_len) {
            (None, m) => self.max_len = m,
            (Some(n), Some(m)) if n < m => {
                return Err(NnError::config(
                    "PositionalEmbedding",
                    "max_len",
                    format!(
                        "{n} is shorter than the data's longest sequence ({m} tokens); leave \
                         it out to use the data's max_len"
                    ),
                ))
            }
            _ => {}
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tuna_autograd::Tape;

    #[test]
    fn sinusoids_of_the_paper() {
        let t = sinusoidal_table(3, 4).to_vec::<f64>();
        // position 0: sin 0, cos 0, ...
        assert_eq!(&t[..4], &[0.0, 1.0, 0.0, 1.0]);
        // position 2, dims 2 and 3: frequency 10000^(-2/4) = 0.01
        assert!((t[10] - (0.02f64).sin()).abs() < 1e-15);
        assert!((t[11] - (0.02f64).cos()).abs() < 1e-15);
        // odd dims work: the last dim is a sine
        assert_eq!(sinusoidal_table(2, 3).shape(), [2, 3]);
    }

    #[test]
    fn adds_the_first_l_positions() {
        let mut spec = PositionalEmbeddingConfig::new(2, Some(5));
        let m = PositionalEmbedding::new(&spec, &mut BuildContext::new(0)).unwrap();
        let w = m.weight.as_ref().unwrap().value();
        assert_eq!(w.shape(), [5, 2]);
        let tape = Tape::new();
        let y = m.forward(tape.constant(Tensor::zeros(&[2, 3, 2], DType::F32)));
        assert_eq!(y.value().to_vec::<f32>()[..6], w.to_vec::<f32>()[..6]);
        assert_eq!(y.value().to_vec::<f32>()[6..], w.to_vec::<f32>()[..6]);
        spec.kind = PositionalKind::Sinusoidal;
        let m = PositionalEmbedding::new(&spec, &mut BuildContext::new(0)).unwrap();
        assert!(m.named_parameters().is_empty());
        let y = m.forward(tape.constant(Tensor::ones(&[3, 2], DType::F32)));
        assert_eq!(
            y.value().to_vec::<f32>(),
            [
                1.0,
                2.0,
                1.0 + 1f32.sin(),
                1.0 + 1f32.cos(),
                1.0 + 2f32.sin(),
                1.0 + 2f32.cos()
            ]
        );
    }

    #[test]
    fn max_len_is_filled_from_the_data_or_checked_against_it() {
        let mut spec: Box<dyn LayerConfig> =
            serde_json::from_str(r#"{"type": "PositionalEmbedding", "embedding_dim": 4}"#).unwrap();
        let e = spec.validate().unwrap_err().to_string();
        assert!(
            e.contains("PositionalEmbedding.max_len: missing") && e.contains("data"),
            "{e}"
        );
        assert!(spec.output_shape("1", &[2, 3, 4]).is_err());
        spec.fill_from_data(&DataInfo::new().with_max_len(16))
            .unwrap();
        spec.validate().unwrap();
        let json = serde_json::to_value(&spec).unwrap();
        assert_eq!(json["max_len"], 16);
        assert_eq!(spec.output_shape("1", &[2, 16, 4]).unwrap(), [2, 16, 4]);
        let e = spec.output_shape("1", &[2, 17, 4]).unwrap_err().to_string();
        assert!(e.contains("L <= max_len (16)"), "{e}");
        let e = spec
            .fill_from_data(&DataInfo::new().with_max_len(20))
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("16 is shorter than the data's longest sequence (20"),
            "{e}"
        );
    }
}
