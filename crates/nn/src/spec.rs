//! Layer specs: the serializable half of every layer (`type = "Linear"`, PyTorch argument
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

/// A layer's configuration, deserialized from an experiment file by its PyTorch class name
/// (`{ type = "Conv2d", in_channels = 1, out_channels = 8, kernel_size = 5 }`).
///
/// Register your own layer with `#[typetag::serde(name = "MyLayer")] impl LayerSpec for ...`
/// in your crate; it is then usable by name in configs.
#[typetag::serde(tag = "type")]
pub trait LayerSpec: dyn_clone::DynClone + std::fmt::Debug + Send + Sync {
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
}

dyn_clone::clone_trait_object!(LayerSpec);

/// Builds a model from its spec after validating it and checking that `sample_shape` flows
/// through every layer (reporting the first layer that does not fit, with both shapes).
///
/// # Errors
/// An invalid option or the first shape mismatch.
pub fn build_checked(
    spec: &dyn LayerSpec,
    sample_shape: &[usize],
    seed: u64,
) -> Result<Box<dyn Module>, NnError> {
    spec.validate()?;
    spec.output_shape("model", sample_shape)?;
    spec.build(&mut BuildContext::new(seed))
}
