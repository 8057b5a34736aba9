//! `AdaptiveAvgPool2d`: average pooling to a fixed output size
//! (`torch.nn.AdaptiveAvgPool2d`).

use serde::{Deserialize, Deserializer, Serialize};
use tuna_autograd::Var;

use crate::config::{BuildContext, LayerConfig};
use crate::error::NnError;
use crate::module::{Module, ModuleVisitor};
use crate::util::shape_err;

#[derive(Deserialize)]
#[serde(untagged)]
enum SizeRepr {
    Int(usize),
    List(Vec<Option<usize>>),
}

fn de_size<'de, D: Deserializer<'de>>(d: D) -> Result<[Option<usize>; 2], D::Error> {
    match SizeRepr::deserialize(d)? {
        SizeRepr::Int(x) => Ok([Some(x); 2]),
        SizeRepr::List(l) if l.len() == 2 => Ok([l[0], l[1]]),
        SizeRepr::List(l) if l.len() == 1 => Ok([l[0]; 2]),
        SizeRepr::List(l) => Err(serde::de::Error::custom(format!(
            "output_size: expected an int or 2 ints/nulls, got {l:?}"
        ))),
    }
}

/// Averages `(N, C, H, W)` or `(C, H, W)` input over adaptive windows so the output is
/// `output_size` (`torch.nn.AdaptiveAvgPool2d(output_size)`); a `None` (JSON `null`) entry
/// keeps that input dim. Window `i` spans `[⌊i·H/out⌋, ⌈(i+1)·H/out⌉)`, as PyTorch.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AdaptiveAvgPool2d {
    /// Target `[H, W]`; `None` keeps the input size (`output_size`).
    #[serde(deserialize_with = "de_size")]
    pub output_size: [Option<usize>; 2],
}

impl AdaptiveAvgPool2d {
    /// Pooling to `[h, w]`.
    pub fn new(h: usize, w: usize) -> Self {
        AdaptiveAvgPool2d {
            output_size: [Some(h), Some(w)],
        }
    }

    fn target(&self, input: &[usize]) -> [usize; 2] {
        let r = input.len();
        std::array::from_fn(|i| self.output_size[i].unwrap_or(input[r - 2 + i]))
    }
}

impl Module for AdaptiveAvgPool2d {
    fn forward<'t>(&self, input: Var<'t>) -> Var<'t> {
        let shape = input.shape();
        let r = shape.len();
        assert!(
            r == 3 || r == 4,
            "AdaptiveAvgPool2d: expected a 3-D or 4-D input, got shape {shape:?}"
        );
        input.adaptive_avg_pool2d(self.target(&shape))
    }
    fn visit(&self, _prefix: &str, _v: &mut dyn ModuleVisitor) {}
    fn name(&self) -> &'static str {
        "AdaptiveAvgPool2d"
    }
}

#[typetag::serde(name = "AdaptiveAvgPool2d")]
impl LayerConfig for AdaptiveAvgPool2d {
    fn validate(&self) -> Result<(), NnError> {
        if self.output_size.contains(&Some(0)) {
            return Err(NnError::config(
                "AdaptiveAvgPool2d",
                "output_size",
                format!("must be positive, got {:?}", self.output_size),
            ));
        }
        Ok(())
    }

    fn build(&self, _ctx: &mut BuildContext) -> Result<Box<dyn Module>, NnError> {
        self.validate()?;
        Ok(Box::new(self.clone()))
    }

    fn output_shape(&self, index: &str, input: &[usize]) -> Result<Vec<usize>, NnError> {
        let r = input.len();
        if !(r == 3 || r == 4) || input[r - 2] == 0 || input[r - 1] == 0 {
            return Err(shape_err(
                index,
                "AdaptiveAvgPool2d",
                "[N, C, H, W] or [C, H, W] with H, W > 0",
                input,
            ));
        }
        let t = self.target(input);
        let mut out = input.to_vec();
        out[r - 2] = t[0];
        out[r - 1] = t[1];
        Ok(out)
    }
}
