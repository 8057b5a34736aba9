//! `Embedding`: a lookup table of vectors indexed by integers (`torch.nn.Embedding`).

use serde::{Deserialize, Serialize};
use tuna_autograd::{Param, Var};
use tuna_tensor::{DType, Generator, Tensor};

use crate::config::{BuildContext, DataInfo, LayerConfig};
use crate::error::NnError;
use crate::init;
use crate::module::{join_name, Module, ModuleItem, ModuleVisitor};
use crate::util::positive;

/// A `[num_embeddings, embedding_dim]` table looked up by an i64 index tensor of any shape
/// (given as a constant `Var`), producing `indices.shape + [embedding_dim]`
/// (`torch.nn.Embedding`).
///
/// `weight` is initialized from N(0, 1) with the `padding_idx` row zeroed, as PyTorch. The
/// padding row gets no gradient; `scale_grad_by_freq` divides each row's gradient by its
/// count in the batch; with `max_norm`, every looked-up row whose `norm_type`-norm exceeds
/// `max_norm` is rescaled in place to norm `max_norm` before the lookup (PyTorch's
/// `embedding_renorm_`, scale `max_norm/(norm + 1e-7)`).
#[derive(Debug)]
pub struct Embedding {
    /// `[num_embeddings, embedding_dim]`.
    pub weight: Param,
    /// Row that receives no gradient (non-negative after normalization).
    pub padding_idx: Option<i64>,
    /// Renormalize looked-up rows to at most this norm.
    pub max_norm: Option<f64>,
    /// The p of the max-norm.
    pub norm_type: f64,
    /// Scale gradients by inverse frequency in the batch.
    pub scale_grad_by_freq: bool,
}

impl Embedding {
    /// A table with PyTorch's initialization; a negative `padding_idx` counts from the end.
    pub fn new(
        num_embeddings: usize,
        embedding_dim: usize,
        padding_idx: Option<i64>,
        dtype: DType,
        gen: &mut Generator,
    ) -> Self {
        let padding_idx = padding_idx.map(|p| if p < 0 { p + num_embeddings as i64 } else { p });
        let mut w = init::normal(&[num_embeddings, embedding_dim], 0.0, 1.0, DType::F64, gen)
            .to_vec::<f64>();
        if let Some(p) = padding_idx {
            let p = p as usize;
            w[p * embedding_dim..(p + 1) * embedding_dim].fill(0.0);
        }
        let weight =
            Param::new(Tensor::from_vec(w, &[num_embeddings, embedding_dim]).to_dtype(dtype));
        Embedding {
            weight,
            padding_idx,
            max_norm: None,
            norm_type: 2.0,
            scale_grad_by_freq: false,
        }
    }

    fn renorm(&self, indices: &Tensor, max_norm: f64) {
        let ids = indices.to_vec::<i64>();
        self.weight.update(|w| {
            let (n, d) = (w.shape()[0], w.shape()[1]);
            let dtype = w.dtype();
            let mut data = w.to_vec_f64();
            let mut seen = vec![false; n];
            let p = self.norm_type;
            for &i in &ids {
                let i = i as usize;
                if i >= n || seen[i] {
                    continue;
                }
                seen[i] = true;
                let row = &mut data[i * d..(i + 1) * d];
                let norm = if p.is_infinite() {
                    row.iter().fold(0.0f64, |m, v| m.max(v.abs()))
                } else {
                    row.iter()
                        .map(|v| v.abs().powf(p))
                        .sum::<f64>()
                        .powf(1.0 / p)
                };
                if norm > max_norm {
                    let s = max_norm / (norm + 1e-7);
                    row.iter_mut().for_each(|v| *v *= s);
                }
            }
            *w = Tensor::from_vec(data, &[n, d]).to_dtype(dtype);
        });
    }
}

impl Module for Embedding {
    fn forward<'t>(&self, input: Var<'t>) -> Var<'t> {
        let indices = input.value();
        assert!(
            indices.dtype() == DType::I64,
            "Embedding: expected an i64 index tensor, got {}",
            indices.dtype()
        );
        if let Some(m) = self.max_norm {
            self.renorm(&indices, m);
        }
        input.tape().param(&self.weight).embedding(
            &indices,
            self.padding_idx,
            self.scale_grad_by_freq,
        )
    }

    fn visit(&self, prefix: &str, v: &mut dyn ModuleVisitor) {
        v.item(
            &join_name(prefix, "weight"),
            ModuleItem::Param(&self.weight),
        );
    }

    fn name(&self) -> &'static str {
        "Embedding"
    }
}

fn two() -> f64 {
    2.0
}

/// Config of [`Embedding`] (`torch.nn.Embedding(num_embeddings, embedding_dim,
/// padding_idx=None, max_norm=None, norm_type=2.0, scale_grad_by_freq=False, sparse=False)`).
///
/// `num_embeddings` may be left out when the data gives token ids: the trainer fills it with
/// the size of the vocabulary fitted on the training split
/// ([`LayerConfig::fill_from_data`]), and the run's resolved config holds the number.
///
/// ```toml
/// layers = [
///   { type = "Embedding", embedding_dim = 32, padding_idx = 0 },  # num_embeddings = vocabulary
///   ...
/// ]
/// ```
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EmbeddingConfig {
    /// Table size (`num_embeddings`); filled from the data's vocabulary if left out.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub num_embeddings: Option<usize>,
    /// Vector size (`embedding_dim`).
    pub embedding_dim: usize,
    /// Row with zero init and no gradient; negative counts from the end (`padding_idx`).
    #[serde(default)]
    pub padding_idx: Option<i64>,
    /// Renormalize looked-up rows to at most this norm (`max_norm`).
    #[serde(default)]
    pub max_norm: Option<f64>,
    /// The p of the max-norm (`norm_type`, default 2).
    #[serde(default = "two")]
    pub norm_type: f64,
    /// Scale gradients by inverse batch frequency (`scale_grad_by_freq`, default false).
    #[serde(default)]
    pub scale_grad_by_freq: bool,
    /// Sparse gradients (`sparse`); only `false` is supported (gradients are dense).
    #[serde(default)]
    pub sparse: bool,
}

impl EmbeddingConfig {
    /// A spec with PyTorch's defaults for everything but the sizes (`None`: filled from the
    /// data's vocabulary).
    pub fn new(num_embeddings: Option<usize>, embedding_dim: usize) -> Self {
        EmbeddingConfig {
            num_embeddings,
            embedding_dim,
            padding_idx: None,
            max_norm: None,
            norm_type: 2.0,
            scale_grad_by_freq: false,
            sparse: false,
        }
    }

    /// `num_embeddings`, or the error saying it is filled from the data.
    fn table_size(&self) -> Result<usize, NnError> {
        self.num_embeddings.ok_or_else(|| {
            NnError::config(
                "Embedding",
                "num_embeddings",
                "missing: it is filled from the data's vocabulary when the data gives token \
                 ids (a Text data source); with other data, set it",
            )
        })
    }
}

#[typetag::serde(name = "Embedding")]
impl LayerConfig for EmbeddingConfig {
    fn validate(&self) -> Result<(), NnError> {
        let n = self.table_size()?;
        positive("Embedding", "num_embeddings", n)?;
        positive("Embedding", "embedding_dim", self.embedding_dim)?;
        let n = n as i64;
        if let Some(p) = self.padding_idx {
            if p >= n || p < -n {
                return Err(NnError::config(
                    "Embedding",
                    "padding_idx",
                    format!("must be within [-{n}, {n}), got {p}"),
                ));
            }
        }
        if let Some(m) = self.max_norm {
            if m.is_nan() || m < 0.0 {
                return Err(NnError::config(
                    "Embedding",
                    "max_norm",
                    format!("must be non-negative, got {m}"),
                ));
            }
        }
        if self.norm_type.is_nan() || self.norm_type <= 0.0 {
            return Err(NnError::config(
                "Embedding",
                "norm_type",
                format!("must be positive, got {}", self.norm_type),
            ));
        }
        if self.sparse {
            return Err(NnError::config(
                "Embedding",
                "sparse",
                "sparse gradients are not supported; use false",
            ));
        }
        Ok(())
    }

    fn build(&self, ctx: &mut BuildContext) -> Result<Box<dyn Module>, NnError> {
        self.validate()?;
        let mut e = Embedding::new(
            self.table_size()?,
            self.embedding_dim,
            self.padding_idx,
            ctx.dtype,
            &mut ctx.gen,
        );
        e.max_norm = self.max_norm;
        e.norm_type = self.norm_type;
        e.scale_grad_by_freq = self.scale_grad_by_freq;
        Ok(Box::new(e))
    }

    fn output_shape(&self, _index: &str, input: &[usize]) -> Result<Vec<usize>, NnError> {
        self.table_size()?;
        let mut out = input.to_vec();
        out.push(self.embedding_dim);
        Ok(out)
    }

    /// Fills `num_embeddings` with `info.vocab_size` if it was left out; a given
    /// `num_embeddings` must hold every id of the vocabulary.
    fn fill_from_data(&mut self, info: &DataInfo) -> Result<(), NnError> {
        match (self.num_embeddings, info.vocab_size) {
            (None, v) => self.num_embeddings = v,
            (Some(n), Some(v)) if n < v => {
                return Err(NnError::config(
                    "Embedding",
                    "num_embeddings",
                    format!(
                        "{n} is smaller than the data's vocabulary ({v} token ids); \
                         leave it out to use the vocabulary size"
                    ),
                ))
            }
            _ => {}
        }
        Ok(())
    }

    fn takes_token_ids(&self) -> bool {
        true
    }
}
