//! # tuna-nn
//!
//! Models for Tuna: the [`Module`] trait, PyTorch's layers with PyTorch's constructor
//! arguments and default initialization, [`init`] functions, serializable layer specs that
//! build models from experiment files (with shape checking before training), and state dicts
//! keyed by PyTorch's names.
//!
//! ```
//! use tuna_autograd::Tape;
//! use tuna_nn::{build_checked, LayerSpec, Module};
//! use tuna_tensor::{DType, Tensor};
//!
//! let spec: Box<dyn LayerSpec> = serde_json::from_str(r#"{
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

pub mod activation;
pub mod attention;
pub mod dropout;
mod error;
pub mod flatten;
pub mod gru;
pub mod init;
pub mod linear;
pub mod lstm;
pub mod module;
mod recurrent;
pub mod rnn;
pub mod sequential;
pub mod spec;
pub mod state;
pub mod transformer;

pub use activation::{
    Elu, Gelu, Identity, LeakyRelu, LogSoftmax, Relu, Sigmoid, Silu, Softmax, Softplus, Tanh,
};
pub use attention::{MultiheadAttention, MultiheadAttentionSpec};
pub use dropout::{Dropout, DropoutSpec};
pub use error::NnError;
pub use flatten::Flatten;
pub use gru::{Gru, GruSpec};
pub use linear::{Linear, LinearSpec};
pub use lstm::{Lstm, LstmSpec};
pub use module::{Buffer, Module, ModuleItem, ModuleVisitor, NamedBuffer};
pub use rnn::{Rnn, RnnNonlinearity, RnnSpec};
pub use sequential::{Sequential, SequentialSpec};
pub use spec::{build_checked, BuildContext, LayerSpec};
pub use state::{load_state_dict, LoadReport};
pub use transformer::{
    TransformerActivation, TransformerEncoder, TransformerEncoderLayer,
    TransformerEncoderLayerSpec, TransformerEncoderSpec,
};

/// Forces this crate's typetag layer specs to be linked into the final binary (typetag
/// registers a type only if its crate is linked). The `tuna` umbrella calls it.
pub fn link() {}
