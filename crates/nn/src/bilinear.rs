//! `Bilinear`: `y = x1ᵀ·A·x2 + b` (`torch.nn.Bilinear`).

use serde::{Deserialize, Serialize};
use tuna_autograd::{Param, Var};
use tuna_tensor::{DType, Generator};

use crate::config::{BuildContext, LayerConfig};
use crate::error::NnError;
use crate::init;
use crate::module::{join_name, Module, ModuleItem, ModuleVisitor};
use crate::util::{positive, shape_err, yes};

/// A bilinear map of two inputs, `y_o = Σ_ij x1_i · W_oij · x2_j + b_o`
/// (`torch.nn.Bilinear`). Parameters `weight` `[out, in1, in2]` and `bias` `[out]`, both from
/// U(-1/√in1, 1/√in1) as PyTorch.
///
/// [`Bilinear::forward2`] is the two-input form; [`Module::forward`] applies the layer to
/// `(x, x)`, which needs `in1_features == in2_features`.
#[derive(Debug)]
pub struct Bilinear {
    /// `[out_features, in1_features, in2_features]`.
    pub weight: Param,
    /// `[out_features]`, if the layer has a bias.
    pub bias: Option<Param>,
}

impl Bilinear {
    /// A layer with PyTorch's initialization.
    pub fn new(
        in1: usize,
        in2: usize,
        out: usize,
        bias: bool,
        dtype: DType,
        gen: &mut Generator,
    ) -> Self {
        let b = 1.0 / (in1 as f64).sqrt();
        let weight = Param::new(init::uniform(&[out, in1, in2], -b, b, dtype, gen));
        let bias = bias.then(|| Param::new(init::uniform(&[out], -b, b, dtype, gen)));
        Bilinear { weight, bias }
    }

    /// `y = x1ᵀ·W·x2 + b` for `x1` `[*, in1]` and `x2` `[*, in2]` with the same leading dims.
    ///
    /// # Panics
    /// If the feature sizes or leading dims do not match (message names both shapes).
    #[track_caller]
    pub fn forward2<'t>(&self, x1: Var<'t>, x2: Var<'t>) -> Var<'t> {
        let tape = x1.tape();
        let ws = self.weight.shape();
        let (out, in1, in2) = (ws[0], ws[1], ws[2]);
        let (s1, s2) = (x1.shape(), x2.shape());
        assert!(
            s1.last() == Some(&in1) && s2.last() == Some(&in2) && s1[..s1.len() - 1] == s2[..s2.len() - 1],
            "Bilinear: expected inputs [*, {in1}] and [*, {in2}] with equal leading dims, got {s1:?} and {s2:?}"
        );
        let lead: Vec<isize> = s1[..s1.len() - 1].iter().map(|&d| d as isize).collect();
        let w = tape
            .param(&self.weight)
            .permute(&[1, 0, 2])
            .reshape(&[in1 as isize, (out * in2) as isize]);
        let t =
            x1.reshape(&[-1, in1 as isize])
                .matmul(w)
                .reshape(&[-1, out as isize, in2 as isize]);
        let y = t
            .mul(x2.reshape(&[-1, 1, in2 as isize]))
            .sum_dims(&[-1], false);
        let y = match &self.bias {
            Some(b) => y.add(tape.param(b)),
            None => y,
        };
        let mut shape = lead;
        shape.push(out as isize);
        y.reshape(&shape)
    }
}

impl Module for Bilinear {
    fn forward<'t>(&self, input: Var<'t>) -> Var<'t> {
        self.forward2(input, input)
    }

    fn visit(&self, prefix: &str, v: &mut dyn ModuleVisitor) {
        v.item(
            &join_name(prefix, "weight"),
            ModuleItem::Param(&self.weight),
        );
        if let Some(b) = &self.bias {
            v.item(&join_name(prefix, "bias"), ModuleItem::Param(b));
        }
    }

    fn name(&self) -> &'static str {
        "Bilinear"
    }
}

/// Config of [`Bilinear`] (`torch.nn.Bilinear(in1_features, in2_features, out_features,
/// bias=True)`).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BilinearConfig {
    /// Size of the first input (`in1_features`).
    pub in1_features: usize,
    /// Size of the second input (`in2_features`).
    pub in2_features: usize,
    /// Output size (`out_features`).
    pub out_features: usize,
    /// Whether to learn a bias (`bias`, default true).
    #[serde(default = "yes")]
    pub bias: bool,
}

#[typetag::serde(name = "Bilinear")]
impl LayerConfig for BilinearConfig {
    fn validate(&self) -> Result<(), NnError> {
        positive("Bilinear", "in1_features", self.in1_features)?;
        positive("Bilinear", "in2_features", self.in2_features)?;
        positive("Bilinear", "out_features", self.out_features)
    }

    fn build(&self, ctx: &mut BuildContext) -> Result<Box<dyn Module>, NnError> {
        self.validate()?;
        Ok(Box::new(Bilinear::new(
            self.in1_features,
            self.in2_features,
            self.out_features,
            self.bias,
            ctx.dtype,
            &mut ctx.gen,
        )))
    }

    /// In a model the layer gets one input used as both `x1` and `x2`.
    fn output_shape(&self, index: &str, input: &[usize]) -> Result<Vec<usize>, NnError> {
        match input.last() {
            Some(&n) if n == self.in1_features && n == self.in2_features => {
                let mut out = input.to_vec();
                *out.last_mut().expect("non-empty") = self.out_features;
                Ok(out)
            }
            _ => Err(shape_err(
                index,
                "Bilinear",
                format!(
                    "[*, {}] used as both inputs (in a model in1_features must equal in2_features, here {} and {})",
                    self.in1_features, self.in1_features, self.in2_features
                ),
                input,
            )),
        }
    }
}
