//! Layer configs: the serializable half of every layer (`type = "Linear"`, PyTorch argument
//! names), which builds the module and infers its output shape before any training starts.

use tuna_tensor::{DType, Generator};

use crate::error::NnError;
use crate::module::Module;

/// What building a model needs: the seeded generator that initializes every parameter (and
/// seeds dropout), and the parameter dtype.
pub struct BuildContext {
    /// Initialization randomness, consumed in layer order.
    pub gen: Generator,
    /// Parameter dtype (`F32` by default).
    pub dtype: DType,
}

impl BuildContext {
    /// A context seeded with `seed`, building f32 parameters.
    pub fn new(seed: u64) -> Self {
        BuildContext {
            gen: Generator::new(seed),
            dtype: DType::F32,
        }
    }
}

/// What the data tells a model spec before it is built: the sizes a text model's
/// [`Embedding`](crate::Embedding) and [`PositionalEmbedding`](crate::PositionalEmbedding)
/// may leave out of the experiment file. See [`LayerConfig::fill_from_data`].
///
/// ```
/// use tuna_nn::DataInfo;
///
/// let info = DataInfo::new().with_vocab_size(5000).with_max_len(256);
/// assert_eq!((info.vocab_size, info.max_len), (Some(5000), Some(256)));
/// ```
#[derive(Clone, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct DataInfo {
    /// Number of token ids the data produces (the fitted vocabulary, `<pad>` and `<unk>`
    /// included): ids are in `0..vocab_size`.
    pub vocab_size: Option<usize>,
    /// The longest sequence the data produces (its `max_len` truncation).
    pub max_len: Option<usize>,
    /// The width of the model's output the task needs: the number of classes (1 for two
    /// classes scored by one output), of regression targets, or the vocabulary of a language
    /// model. The model's last `Linear` may leave `out_features` out to get it; containers
    /// pass it to their last layer only.
    pub outputs: Option<usize>,
}

impl DataInfo {
    /// Nothing known.
    pub fn new() -> Self {
        DataInfo::default()
    }

    /// With the vocabulary size.
    pub fn with_vocab_size(mut self, vocab_size: usize) -> Self {
        self.vocab_size = Some(vocab_size);
        self
    }

    /// With the longest sequence length.
    pub fn with_max_len(mut self, max_len: usize) -> Self {
        self.max_len = Some(max_len);
        self
    }

    /// With the output width the task needs.
    pub fn with_outputs(mut self, outputs: usize) -> Self {
        self.outputs = Some(outputs);
        self
    }

    /// The same without the output width (for every layer but a model's last).
    pub fn inner(&self) -> DataInfo {
        DataInfo {
            outputs: None,
            ..self.clone()
        }
    }
}

/// A layer's configuration, deserialized from an experiment file by its PyTorch class name
/// (`{ type = "Conv2d", in_channels = 1, out_channels = 8, kernel_size = 5 }`).
///
/// Register your own layer with `#[typetag::serde(name = "MyLayer")] impl LayerConfig for ...`
/// in your crate; it is then usable by name in configs.
#[typetag::serde(tag = "type")]
pub trait LayerConfig: dyn_clone::DynClone + std::fmt::Debug + Send + Sync {
    /// The tag this config is written with (`type = "..."`: the PyTorch, torchvision or
    /// Optuna class name where there is one).
    fn name(&self) -> &'static str {
        self.typetag_name()
    }

    /// Checks the options; called before building.
    ///
    /// # Errors
    /// The first invalid option, naming the field.
    fn validate(&self) -> Result<(), NnError> {
        Ok(())
    }

    /// Builds the module, drawing its initial parameters from `ctx.gen`.
    ///
    /// # Errors
    /// Invalid options.
    fn build(&self, ctx: &mut BuildContext) -> Result<Box<dyn Module>, NnError>;

    /// The output shape for an input of shape `input`, or an error naming the expected input.
    /// `index` is the layer's position, used in the error.
    ///
    /// # Errors
    /// If the layer cannot take `input`.
    fn output_shape(&self, index: &str, input: &[usize]) -> Result<Vec<usize>, NnError>;

    /// Fills the sizes left out of the config that the data determines (`Embedding`'s
    /// `num_embeddings` from `info.vocab_size`, `PositionalEmbedding`'s `max_len` from
    /// `info.max_len`); containers forward it to their children. Sizes given in the config
    /// are kept, and checked against the data. Call it before [`LayerConfig::validate`]; the
    /// serialized spec then holds the filled sizes. The default does nothing.
    ///
    /// # Errors
    /// A size given in the config that the data does not fit (a vocabulary larger than
    /// `num_embeddings`), naming the field.
    fn fill_from_data(&mut self, info: &DataInfo) -> Result<(), NnError> {
        let _ = info;
        Ok(())
    }

    /// Whether the model's input is i64 token ids (its first layer is an `Embedding`), so
    /// the trainer can check that data giving token ids goes to such a model before
    /// training. Containers ask their first layer; the default is `false`.
    fn takes_token_ids(&self) -> bool {
        false
    }
}

dyn_clone::clone_trait_object!(LayerConfig);

/// Builds a model from its spec after validating it and checking that `sample_shape` flows
/// through every layer (reporting the first layer that does not fit, with both shapes).
///
/// # Errors
/// An invalid option or the first shape mismatch.
pub fn build_checked(
    spec: &dyn LayerConfig,
    sample_shape: &[usize],
    seed: u64,
) -> Result<Box<dyn Module>, NnError> {
    spec.validate()?;
    spec.output_shape("model", sample_shape)?;
    spec.build(&mut BuildContext::new(seed))
}
