//! `Unflatten`: splits one dim into several (`torch.nn.Unflatten(dim, unflattened_size)`).

use serde::{Deserialize, Serialize};
use tuna_autograd::Var;

use crate::config::{BuildContext, LayerConfig};
use crate::error::NnError;
use crate::module::{Module, ModuleVisitor};
use crate::util::shape_err;

/// Reshapes dim `dim` into `unflattened_size` (`torch.nn.Unflatten`); one entry may be `-1`
/// (inferred). The inverse of [`crate::Flatten`]. The config is the whole module.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Unflatten {
    /// The dim to split; negative counts from the end (`dim`).
    pub dim: isize,
    /// The sizes it becomes (`unflattened_size`).
    pub unflattened_size: Vec<isize>,
}

impl Unflatten {
    /// The output shape, or `None` if the sizes do not multiply to the dim.
    fn target(&self, input: &[usize]) -> Option<Vec<usize>> {
        let r = input.len() as isize;
        let d = if self.dim < 0 { self.dim + r } else { self.dim };
        if !(0..r).contains(&d) {
            return None;
        }
        let d = d as usize;
        let n = input[d];
        let known: usize = self
            .unflattened_size
            .iter()
            .filter(|&&s| s >= 0)
            .map(|&s| s as usize)
            .product();
        let sizes: Vec<usize> = self
            .unflattened_size
            .iter()
            .map(|&s| {
                if s < 0 {
                    n.checked_div(known).unwrap_or(0)
                } else {
                    s as usize
                }
            })
            .collect();
        if sizes.iter().product::<usize>() != n {
            return None;
        }
        let mut out = input[..d].to_vec();
        out.extend(sizes);
        out.extend_from_slice(&input[d + 1..]);
        Some(out)
    }
}

impl Module for Unflatten {
    fn forward<'t>(&self, input: Var<'t>) -> Var<'t> {
        let shape = input.shape();
        let out = self.target(&shape).unwrap_or_else(|| {
            panic!(
                "Unflatten: cannot split dim {} of shape {shape:?} into {:?}",
                self.dim, self.unflattened_size
            )
        });
        let out: Vec<isize> = out.iter().map(|&d| d as isize).collect();
        input.reshape(&out)
    }
    fn visit(&self, _prefix: &str, _v: &mut dyn ModuleVisitor) {}
    fn name(&self) -> &'static str {
        "Unflatten"
    }
}

#[typetag::serde(name = "Unflatten")]
impl LayerConfig for Unflatten {
    fn validate(&self) -> Result<(), NnError> {
        let inferred = self.unflattened_size.iter().filter(|&&s| s < 0).count();
        if self.unflattened_size.is_empty()
            || inferred > 1
            || self.unflattened_size.iter().any(|&s| s < -1)
        {
            return Err(NnError::config(
                "Unflatten",
                "unflattened_size",
                format!(
                    "must be a non-empty list of sizes with at most one -1, got {:?}",
                    self.unflattened_size
                ),
            ));
        }
        Ok(())
    }

    fn build(&self, _ctx: &mut BuildContext) -> Result<Box<dyn Module>, NnError> {
        self.validate()?;
        Ok(Box::new(self.clone()))
    }

    fn output_shape(&self, index: &str, input: &[usize]) -> Result<Vec<usize>, NnError> {
        self.target(input).ok_or_else(|| {
            shape_err(
                index,
                "Unflatten",
                format!(
                    "dim {} of a size that {:?} multiplies to",
                    self.dim, self.unflattened_size
                ),
                input,
            )
        })
    }
}
