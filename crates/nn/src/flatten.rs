//! `Flatten`: merges a range of dims (`torch.nn.Flatten(start_dim=1, end_dim=-1)`).

use serde::{Deserialize, Serialize};
use tuna_autograd::Var;

use crate::config::{BuildContext, LayerConfig};
use crate::error::NnError;
use crate::module::{Module, ModuleVisitor};

/// Flattens dims `start_dim..=end_dim` into one (`torch.nn.Flatten`, defaults 1 and -1, so the
/// batch dim is kept).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Flatten {
    /// First dim to flatten (`start_dim`, default 1).
    #[serde(default = "one")]
    pub start_dim: isize,
    /// Last dim to flatten (`end_dim`, default -1).
    #[serde(default = "minus_one")]
    pub end_dim: isize,
}

fn one() -> isize {
    1
}
fn minus_one() -> isize {
    -1
}

impl Default for Flatten {
    fn default() -> Self {
        Flatten {
            start_dim: 1,
            end_dim: -1,
        }
    }
}

impl Module for Flatten {
    fn forward<'t>(&self, input: Var<'t>) -> Var<'t> {
        input.flatten(self.start_dim, self.end_dim)
    }
    fn visit(&self, _prefix: &str, _v: &mut dyn ModuleVisitor) {}
    fn name(&self) -> &'static str {
        "Flatten"
    }
}

#[typetag::serde(name = "Flatten")]
impl LayerConfig for Flatten {
    fn build(&self, _ctx: &mut BuildContext) -> Result<Box<dyn Module>, NnError> {
        Ok(Box::new(self.clone()))
    }

    fn output_shape(&self, index: &str, input: &[usize]) -> Result<Vec<usize>, NnError> {
        let r = input.len() as isize;
        let norm = |d: isize| if d < 0 { d + r } else { d };
        let (s, e) = (norm(self.start_dim), norm(self.end_dim));
        if r == 0 || s < 0 || e >= r || s > e {
            return Err(NnError::Shape {
                index: index.to_string(),
                layer: "Flatten".into(),
                expected: format!("a tensor with dims {}..={}", self.start_dim, self.end_dim),
                got: input.to_vec(),
            });
        }
        let (s, e) = (s as usize, e as usize);
        let mut out = input[..s].to_vec();
        out.push(input[s..=e].iter().product());
        out.extend_from_slice(&input[e + 1..]);
        Ok(out)
    }
}
