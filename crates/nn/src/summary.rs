//! Model summaries: a torchinfo-like table of each layer's output shape and parameter count.

use std::fmt;

use tuna_autograd::{NoGradGuard, Tape};
use tuna_tensor::{DType, Tensor};

use crate::config::{BuildContext, LayerConfig};
use crate::error::NnError;
use crate::module::Module;

/// One row of a [`Summary`].
#[derive(Clone, Debug, PartialEq)]
pub struct SummaryRow {
    /// Position in the model (`"3"`).
    pub index: String,
    /// The PyTorch class name.
    pub type_name: String,
    /// The layer's output shape for the summarized input.
    pub output_shape: Vec<usize>,
    /// Number of parameter scalars in the layer (including its children).
    pub params: usize,
}

/// A model summary (`torchinfo.summary(model, input_size)`): the model's top-level layers
/// with their output shapes and parameter counts, and the totals. `Display` prints the table.
#[derive(Clone, Debug, PartialEq)]
pub struct Summary {
    /// The model's class name.
    pub model: String,
    /// The input shape the shapes were computed for.
    pub input_shape: Vec<usize>,
    /// The model's output shape.
    pub output_shape: Vec<usize>,
    /// One row per top-level layer (the model itself if it has no children).
    pub rows: Vec<SummaryRow>,
    /// All parameter scalars.
    pub total_params: usize,
    /// Parameter scalars that require gradients.
    pub trainable_params: usize,
    /// Buffer scalars (running statistics), which are not parameters.
    pub buffer_values: usize,
}

/// Summarizes the model `spec` builds for inputs of shape `input_shape`: the spec is
/// validated and shape-checked, built with seed 0, and run once in evaluation mode on zeros
/// (i64 zeros if the first layer is an `Embedding`).
///
/// # Errors
/// An invalid option or the first layer that does not fit `input_shape`.
pub fn summary(spec: &dyn LayerConfig, input_shape: &[usize]) -> Result<Summary, NnError> {
    spec.validate()?;
    spec.output_shape("model", input_shape)?;
    let mut module = spec.build(&mut BuildContext::new(0))?;
    Ok(summarize(module.as_mut(), input_shape))
}

fn first_leaf(m: &dyn Module) -> &'static str {
    match m.children().into_iter().next() {
        Some((_, c)) => first_leaf(c),
        None => m.name(),
    }
}

/// Summarizes a built module by running it once on zeros of `input_shape` (i64 if its first
/// layer is an `Embedding`), in evaluation mode; the training mode is restored afterwards.
///
/// # Panics
/// If the module cannot take `input_shape` (check a spec with [`summary`] instead).
pub fn summarize(module: &mut dyn Module, input_shape: &[usize]) -> Summary {
    let was_training = module.is_training();
    module.set_training(false);
    let dtype = if first_leaf(module) == "Embedding" {
        DType::I64
    } else {
        module
            .named_parameters()
            .first()
            .map(|(_, p)| p.value().dtype())
            .unwrap_or(DType::F32)
    };
    let _guard = NoGradGuard::new();
    let tape = Tape::new();
    let mut x = tape.constant(Tensor::zeros(input_shape, dtype));
    let mut rows = Vec::new();
    let children = module.children();
    if children.is_empty() || module.name() != "Sequential" {
        x = module.forward(x);
        rows.push(SummaryRow {
            index: "0".into(),
            type_name: module.name().into(),
            output_shape: x.shape().to_vec(),
            params: module.num_parameters(),
        });
    } else {
        for (name, child) in children {
            x = child.forward(x);
            rows.push(SummaryRow {
                index: name,
                type_name: child.name().into(),
                output_shape: x.shape().to_vec(),
                params: child.num_parameters(),
            });
        }
    }
    let params = module.named_parameters();
    let summary = Summary {
        model: module.name().into(),
        input_shape: input_shape.to_vec(),
        output_shape: x.shape().to_vec(),
        rows,
        total_params: params.iter().map(|(_, p)| p.numel()).sum(),
        trainable_params: params
            .iter()
            .filter(|(_, p)| p.requires_grad())
            .map(|(_, p)| p.numel())
            .sum(),
        buffer_values: module
            .named_buffers()
            .iter()
            .map(|(_, b)| b.value().numel())
            .sum(),
    };
    drop(tape);
    module.set_training(was_training);
    summary
}

/// `1234567` → `"1,234,567"`.
fn thousands(n: usize) -> String {
    let s = n.to_string();
    let mut out = String::new();
    for (i, c) in s.chars().enumerate() {
        if i > 0 && (s.len() - i) % 3 == 0 {
            out.push(',');
        }
        out.push(c);
    }
    out
}

impl fmt::Display for Summary {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let rule = "=".repeat(72);
        writeln!(f, "{rule}")?;
        writeln!(
            f,
            "{:<36}{:<24}{:>12}",
            "Layer (type:depth-idx)", "Output Shape", "Param #"
        )?;
        writeln!(f, "{rule}")?;
        writeln!(
            f,
            "{:<36}{:<24}{:>12}",
            self.model,
            format!("{:?}", self.output_shape),
            "--"
        )?;
        let n = self.rows.len();
        for (i, r) in self.rows.iter().enumerate() {
            let branch = if i + 1 == n { "└─" } else { "├─" };
            let params = if r.params == 0 {
                "--".to_string()
            } else {
                thousands(r.params)
            };
            writeln!(
                f,
                "{:<36}{:<24}{:>12}",
                format!("{branch}{}: 1-{}", r.type_name, i + 1),
                format!("{:?}", r.output_shape),
                params
            )?;
        }
        writeln!(f, "{rule}")?;
        writeln!(f, "Input shape: {:?}", self.input_shape)?;
        writeln!(f, "Total params: {}", thousands(self.total_params))?;
        writeln!(f, "Trainable params: {}", thousands(self.trainable_params))?;
        writeln!(
            f,
            "Non-trainable params: {}",
            thousands(self.total_params - self.trainable_params)
        )?;
        writeln!(f, "Buffer values: {}", thousands(self.buffer_values))?;
        write!(f, "{rule}")
    }
}

#[cfg(test)]
mod tests {
    use super::thousands;

    #[test]
    fn thousands_separators() {
        assert_eq!(thousands(0), "0");
        assert_eq!(thousands(999), "999");
        assert_eq!(thousands(1000), "1,000");
        assert_eq!(thousands(1234567), "1,234,567");
    }
}
