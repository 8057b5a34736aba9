//! Kullback–Leibler divergence (`torch.nn.KLDivLoss`).

use serde::{Deserialize, Serialize};
use tuna_autograd::Var;

use crate::util::{broadcast_error, check_float, check_float_pair, reduce, take};
use crate::{Loss, LossError, Reduction};

/// KL divergence with `input` given as log-probabilities (`torch.nn.KLDivLoss`):
/// `ℓ = t·(log t - x)` (0 where `t = 0`), or `exp(t)·(t - x)` with `log_target`.
/// Use `reduction = "batchmean"` for the true KL divergence (`"mean"` divides by every
/// element, as PyTorch does). `target` is differentiated when a variable (except at `t = 0`).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct KlDivLoss {
    /// `reduction`: `"mean"` (default), `"batchmean"`, `"sum"` or `"none"`.
    pub reduction: Reduction,
    /// `log_target`: the target is given as log-probabilities. Default `false`.
    pub log_target: bool,
}

#[typetag::serde(name = "KLDivLoss")]
impl Loss for KlDivLoss {
    fn input_names(&self) -> &'static [&'static str] {
        &["input", "target"]
    }
    fn validate(&self) -> Result<(), LossError> {
        Ok(())
    }
    fn forward_named<'t>(&self, args: &[(&str, Var<'t>)]) -> Result<Var<'t>, LossError> {
        let [x, t] = take(self.name(), args, ["input", "target"])?;
        check_float(self.name(), "input", x)?;
        check_float_pair(self.name(), "target", t, x)?;
        let shape_error = |e| broadcast_error(self.name(), "target", t, x, e);
        let l = if self.log_target {
            let e = t.exp();
            e.mul(t.try_sub(x).map_err(shape_error)?)
        } else {
            // xlogy(t, t) - t·x, with 0·log 0 = 0
            let positive = t.value().gt_scalar(0.0);
            let one = t.tape().constant(tuna_tensor::Tensor::ones(&[], t.dtype()));
            let safe = t.where_cond(&positive, one);
            let tlogt = t.mul(safe.log());
            tlogt.sub(t.try_mul(x).map_err(shape_error)?)
        };
        Ok(reduce(l, self.reduction))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::util::testing::assert_roundtrip;
    use tuna_autograd::Tape;
    use tuna_tensor::Tensor;

    #[test]
    fn batchmean_and_roundtrip() {
        assert_roundtrip(&KlDivLoss {
            reduction: Reduction::Batchmean,
            log_target: true,
        });
        let tape = Tape::new();
        let p = Tensor::from_vec(vec![0.25f64, 0.75, 0.5, 0.5], &[2, 2]);
        let x = tape.var(p.log());
        let t = tape.constant(p);
        let l = KlDivLoss {
            reduction: Reduction::Batchmean,
            log_target: false,
        }
        .forward(x, t)
        .unwrap();
        assert!(l.item().abs() < 1e-15);
    }
}
