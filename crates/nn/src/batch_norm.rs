//! `BatchNorm1d` and `BatchNorm2d`: batch normalization with running statistics
//! (`torch.nn.BatchNorm1d`, `torch.nn.BatchNorm2d`).

use serde::{Deserialize, Serialize};
use tuna_autograd::{functional, Param, Var};
use tuna_tensor::{DType, Tensor};

use crate::config::{BuildContext, LayerConfig};
use crate::error::NnError;
use crate::module::{join_name, Buffer, Module, ModuleItem, ModuleVisitor};
use crate::util::{check_eps, eps_default, positive, shape_err, yes};

/// Batch normalization over the channel dim 1 (`torch.nn.BatchNorm1d` / `BatchNorm2d`):
/// `y = (x − μ) / sqrt(σ² + eps) · weight + bias`.
///
/// In training mode `μ`, `σ²` are the batch statistics (biased variance) and, with
/// `track_running_stats`, the buffers are updated: `num_batches_tracked += 1`, then
/// `running = (1 − m)·running + m·stat` with the unbiased variance, where `m = momentum` or,
/// for `momentum = None`, `1/num_batches_tracked` (a cumulative average). In evaluation mode
/// the running statistics are used (the batch statistics if they are not tracked).
///
/// Parameters `weight` (ones) and `bias` (zeros) if `affine`; buffers `running_mean` (zeros),
/// `running_var` (ones) and the i64 scalar `num_batches_tracked` if `track_running_stats`.
#[derive(Debug)]
pub struct BatchNorm {
    kind: &'static str,
    /// Number of channels `C`.
    pub num_features: usize,
    /// Added to the variance for stability.
    pub eps: f64,
    /// Running-average factor; `None` is a cumulative average.
    pub momentum: Option<f64>,
    /// `[C]` scale, if affine.
    pub weight: Option<Param>,
    /// `[C]` shift, if affine with bias.
    pub bias: Option<Param>,
    /// `[C]` running mean, if tracked.
    pub running_mean: Option<Buffer>,
    /// `[C]` running variance, if tracked.
    pub running_var: Option<Buffer>,
    /// i64 scalar count of training batches, if tracked.
    pub num_batches_tracked: Option<Buffer>,
    training: bool,
}

impl BatchNorm {
    /// A layer of kind `"BatchNorm1d"` or `"BatchNorm2d"` with PyTorch's initialization.
    #[allow(clippy::too_many_arguments)]
    pub fn new(
        kind: &'static str,
        num_features: usize,
        eps: f64,
        momentum: Option<f64>,
        affine: bool,
        bias: bool,
        track_running_stats: bool,
        dtype: DType,
    ) -> Self {
        let c = num_features;
        BatchNorm {
            kind,
            num_features,
            eps,
            momentum,
            weight: affine.then(|| Param::new(Tensor::ones(&[c], dtype))),
            bias: (affine && bias).then(|| Param::new(Tensor::zeros(&[c], dtype))),
            running_mean: track_running_stats.then(|| Buffer::new(Tensor::zeros(&[c], dtype))),
            running_var: track_running_stats.then(|| Buffer::new(Tensor::ones(&[c], dtype))),
            num_batches_tracked: track_running_stats
                .then(|| Buffer::new(Tensor::from_vec(vec![0i64], &[]))),
            training: true,
        }
    }

    fn check_input(&self, shape: &[usize]) {
        let ok_rank = match self.kind {
            "BatchNorm1d" => shape.len() == 2 || shape.len() == 3,
            _ => shape.len() == 4,
        };
        assert!(
            ok_rank && shape[1] == self.num_features,
            "{}: expected input {}, got shape {shape:?}",
            self.kind,
            expected_input(self.kind, self.num_features)
        );
    }
}

fn expected_input(kind: &str, c: usize) -> String {
    if kind == "BatchNorm1d" {
        format!("[N, {c}] or [N, {c}, L]")
    } else {
        format!("[N, {c}, H, W]")
    }
}

impl Module for BatchNorm {
    fn forward<'t>(&self, input: Var<'t>) -> Var<'t> {
        self.check_input(&input.shape());
        let tape = input.tape();
        let w = self.weight.as_ref().map(|p| tape.param(p));
        let b = self.bias.as_ref().map(|p| tape.param(p));
        match (
            &self.running_mean,
            &self.running_var,
            &self.num_batches_tracked,
        ) {
            (Some(rm), Some(rv), Some(nbt)) if self.training => {
                let count = nbt.update(|t| {
                    let n = t.to_vec::<i64>()[0] + 1;
                    *t = Tensor::from_vec(vec![n], &[]);
                    n
                });
                let factor = self.momentum.unwrap_or(1.0 / count as f64);
                rm.update(|m| {
                    rv.update(|v| {
                        functional::batch_norm(
                            input,
                            Some(m),
                            Some(v),
                            w,
                            b,
                            true,
                            factor,
                            self.eps,
                        )
                    })
                })
            }
            (Some(rm), Some(rv), _) if !self.training => {
                let (mut m, mut v) = (rm.value(), rv.value());
                functional::batch_norm(
                    input,
                    Some(&mut m),
                    Some(&mut v),
                    w,
                    b,
                    false,
                    0.0,
                    self.eps,
                )
            }
            _ => functional::batch_norm(input, None, None, w, b, true, 0.0, self.eps),
        }
    }

    fn visit(&self, prefix: &str, v: &mut dyn ModuleVisitor) {
        if let Some(p) = &self.weight {
            v.item(&join_name(prefix, "weight"), ModuleItem::Param(p));
        }
        if let Some(p) = &self.bias {
            v.item(&join_name(prefix, "bias"), ModuleItem::Param(p));
        }
        for (name, b) in [
            ("running_mean", &self.running_mean),
            ("running_var", &self.running_var),
            ("num_batches_tracked", &self.num_batches_tracked),
        ] {
            if let Some(b) = b {
                v.item(&join_name(prefix, name), ModuleItem::Buffer(b));
            }
        }
    }

    fn name(&self) -> &'static str {
        self.kind
    }

    fn set_training(&mut self, training: bool) {
        self.training = training;
    }

    fn is_training(&self) -> bool {
        self.training
    }
}

fn momentum_default() -> Option<f64> {
    Some(0.1)
}

macro_rules! batch_norm_spec {
    ($(#[$doc:meta])* $name:ident, $tag:literal) => {
        $(#[$doc])*
        #[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
        #[serde(deny_unknown_fields)]
        pub struct $name {
            /// Number of channels `C` (`num_features`).
            pub num_features: usize,
            /// Added to the variance (`eps`, default 1e-5).
            #[serde(default = "eps_default")]
            pub eps: f64,
            /// Running-average factor; `null` for a cumulative average (`momentum`, default 0.1).
            #[serde(default = "momentum_default")]
            pub momentum: Option<f64>,
            /// Learn `weight` and `bias` (`affine`, default true).
            #[serde(default = "yes")]
            pub affine: bool,
            /// Keep running statistics (`track_running_stats`, default true).
            #[serde(default = "yes")]
            pub track_running_stats: bool,
            /// Learn the `bias` when affine (`bias`, default true).
            #[serde(default = "yes")]
            pub bias: bool,
        }

        impl $name {
            /// A spec with PyTorch's defaults.
            pub fn new(num_features: usize) -> Self {
                $name {
                    num_features,
                    eps: 1e-5,
                    momentum: Some(0.1),
                    affine: true,
                    track_running_stats: true,
                    bias: true,
                }
            }
        }

        #[typetag::serde(name = $tag)]
        impl LayerConfig for $name {
            fn validate(&self) -> Result<(), NnError> {
                positive($tag, "num_features", self.num_features)?;
                check_eps($tag, self.eps)?;
                if let Some(m) = self.momentum {
                    if !(0.0..=1.0).contains(&m) {
                        return Err(NnError::config($tag, "momentum", format!("must be in [0, 1] or null, got {m}")));
                    }
                }
                Ok(())
            }

            fn build(&self, ctx: &mut BuildContext) -> Result<Box<dyn Module>, NnError> {
                self.validate()?;
                Ok(Box::new(BatchNorm::new(
                    $tag,
                    self.num_features,
                    self.eps,
                    self.momentum,
                    self.affine,
                    self.bias,
                    self.track_running_stats,
                    ctx.dtype,
                )))
            }

            fn output_shape(&self, index: &str, input: &[usize]) -> Result<Vec<usize>, NnError> {
                let ok_rank = if $tag == "BatchNorm1d" {
                    input.len() == 2 || input.len() == 3
                } else {
                    input.len() == 4
                };
                if ok_rank && input[1] == self.num_features {
                    Ok(input.to_vec())
                } else {
                    Err(shape_err(index, $tag, expected_input($tag, self.num_features), input))
                }
            }
        }
    };
}

batch_norm_spec!(
    /// Config of [`BatchNorm`] over `(N, C)` or `(N, C, L)` (`torch.nn.BatchNorm1d(num_features,
    /// eps=1e-05, momentum=0.1, affine=True, track_running_stats=True, bias=True)`).
    BatchNorm1dConfig,
    "BatchNorm1d"
);

batch_norm_spec!(
    /// Config of [`BatchNorm`] over `(N, C, H, W)` (`torch.nn.BatchNorm2d(num_features,
    /// eps=1e-05, momentum=0.1, affine=True, track_running_stats=True, bias=True)`).
    BatchNorm2dConfig,
    "BatchNorm2d"
);
