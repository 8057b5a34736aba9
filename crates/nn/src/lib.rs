//! # tuna-nn
//!
//! Models for Tuna: the [`Module`] trait, PyTorch's layers with PyTorch's constructor
//! arguments and default initialization, [`init`] functions, serializable layer configs that
//! build models from experiment files (with shape checking before training), and state dicts
//! keyed by PyTorch's names.
//!
//! ```
//! use tuna_autograd::Tape;
//! use tuna_nn::{build_checked, LayerConfig, Module};
//! use tuna_tensor::{DType, Tensor};
//!
//! let spec: Box<dyn LayerConfig> = serde_json::from_str(r#"{
//!     "type": "Sequential",
//!     "layers": [
//!         {"type": "Linear", "in_features": 4, "out_features": 8},
//!         {"type": "ReLU"},
//!         {"type": "Dropout", "p": 0.1},
//!         {"type": "Linear", "in_features": 8, "out_features": 3}
//!     ]
//! }"#).unwrap();
//! let model = build_checked(spec.as_ref(), &[16, 4], 0).unwrap();
//! let names: Vec<String> = model.named_parameters().into_iter().map(|(n, _)| n).collect();
//! assert_eq!(names, ["0.weight", "0.bias", "3.weight", "3.bias"]);
//!
//! let tape = Tape::new();
//! let y = model.forward(tape.constant(Tensor::zeros(&[16, 4], DType::F32)));
//! assert_eq!(y.shape().as_slice(), &[16, 3]);
//! ```
//!
//! A text model takes a batch of i64 token ids padded at the end to its longest sample, with
//! the real length of each sample in a [`ForwardContext`]; sizes left out of the config are
//! filled from the data ([`LayerConfig::fill_from_data`]):
//!
//! ```
//! use tuna_autograd::Tape;
//! use tuna_nn::{build_checked, DataInfo, ForwardContext, LayerConfig, Module};
//! use tuna_tensor::Tensor;
//!
//! let mut spec: Box<dyn LayerConfig> = toml::from_str(r#"
//!     type = "Sequential"
//!     layers = [
//!       { type = "Embedding", embedding_dim = 8, padding_idx = 0 },
//!       { type = "GRU", input_size = 8, hidden_size = 16, batch_first = true },
//!       { type = "SequencePool", mode = "last" },
//!       { type = "Linear", in_features = 16, out_features = 2 },
//!     ]
//! "#).unwrap();
//! assert!(spec.takes_token_ids());
//! spec.fill_from_data(&DataInfo::new().with_vocab_size(30)).unwrap();
//! let model = build_checked(spec.as_ref(), &[2, 4], 0).unwrap();
//!
//! let ids = Tensor::from_vec(vec![5i64, 9, 2, 7, 3, 8, 0, 0], &[2, 4]);
//! let ctx = ForwardContext::with_lengths(vec![4, 2]);
//! let tape = Tape::new();
//! let logits = model.forward_with(tape.constant(ids), &ctx);
//! assert_eq!(logits.shape().as_slice(), &[2, 2]);
//! ```

pub mod activation;
pub mod adaptive_avg_pool2d;
pub mod attention;
pub mod avg_pool2d;
pub mod batch_norm;
pub mod bilinear;
pub mod config;
pub mod conv1d;
pub mod conv2d;
pub mod conv_transpose2d;
pub mod dropout;
pub mod dropout2d;
pub mod embedding;
mod error;
pub mod flatten;
pub mod forward_context;
pub mod group_norm;
pub mod gru;
pub mod init;
pub mod initializer;
pub mod layer_norm;
pub mod linear;
pub mod lstm;
pub mod max_pool2d;
pub mod module;
pub mod positional_embedding;
mod recurrent;
pub mod residual;
pub mod rnn;
pub mod safetensors_io;
pub mod sequence_pool;
pub mod sequential;
pub mod state;
pub mod summary;
pub mod transformer;
pub mod unflatten;
mod util;

pub use activation::{
    Elu, Gelu, Identity, LeakyRelu, LogSoftmax, Relu, Sigmoid, Silu, Softmax, Softplus, Tanh,
};
pub use adaptive_avg_pool2d::AdaptiveAvgPool2d;
pub use attention::{MultiheadAttention, MultiheadAttentionConfig};
pub use avg_pool2d::AvgPool2d;
pub use batch_norm::{BatchNorm, BatchNorm1dConfig, BatchNorm2dConfig};
pub use bilinear::{Bilinear, BilinearConfig};
pub use config::{build_checked, BuildContext, DataInfo, LayerConfig};
pub use conv1d::{Conv1d, Conv1dConfig};
pub use conv2d::{Conv2d, Conv2dConfig};
pub use conv_transpose2d::{ConvTranspose2d, ConvTranspose2dConfig};
pub use dropout::{Dropout, DropoutConfig};
pub use dropout2d::{Dropout2d, Dropout2dConfig};
pub use embedding::{Embedding, EmbeddingConfig};
pub use error::{NnError, SafetensorsError};
pub use flatten::Flatten;
pub use forward_context::ForwardContext;
pub use group_norm::{GroupNorm, GroupNormConfig};
pub use gru::{Gru, GruConfig};
pub use initializer::{apply_initializers, Initializer};
pub use layer_norm::{LayerNorm, LayerNormConfig};
pub use linear::{Linear, LinearConfig};
pub use lstm::{Lstm, LstmConfig};
pub use max_pool2d::MaxPool2d;
pub use module::{Buffer, Module, ModuleItem, ModuleVisitor, NamedBuffer};
pub use positional_embedding::{PositionalEmbedding, PositionalEmbeddingConfig, PositionalKind};
pub use residual::{Residual, ResidualConfig};
pub use rnn::{Rnn, RnnConfig, RnnNonlinearity};
pub use safetensors_io::{deserialize_state, load_safetensors, save_safetensors, serialize_state};
pub use sequence_pool::{PoolMode, SequencePool, SequencePoolConfig};
pub use sequential::{Sequential, SequentialConfig};
pub use state::{load_state_dict, LoadReport};
pub use summary::{summarize, summary, Summary, SummaryRow};
pub use transformer::{
    TransformerActivation, TransformerEncoder, TransformerEncoderConfig, TransformerEncoderLayer,
    TransformerEncoderLayerConfig,
};
pub use unflatten::Unflatten;
pub use util::PaddingMode;

/// Forces this crate's typetag layer configs to be linked into the final binary (typetag
/// registers a type only if its crate is linked). The `tuna` umbrella calls it.
pub fn link() {}
