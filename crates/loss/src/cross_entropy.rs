//! Classification by class log-likelihood: `CrossEntropyLoss` (logits) and `NLLLoss`
//! (log-probabilities). Match `torch.nn.CrossEntropyLoss` and `torch.nn.NLLLoss`.
//!
//! Inputs are `(C,)` (unbatched), `(N, C)` or K-dimensional `(N, C, d1, ..., dK)`; the class
//! dimension is moved last and flattened to `(M, C)` rows, so every shape shares one path.

use serde::{Deserialize, Serialize};
use tuna_autograd::Var;
use tuna_tensor::{DType, Tensor};

use crate::util::{
    bad_config, bad_input, check_class_weight, check_float, check_reduction, check_tensor_arg,
    fmt_shape, reduce, take,
};
use crate::{Loss, LossError, Reduction, TensorArg};

/// Options of the class-index path shared by CrossEntropy, NLL and LinearCrossEntropy.
pub(crate) struct ClassOptions<'a> {
    pub weight: Option<&'a TensorArg>,
    pub ignore_index: i64,
    pub label_smoothing: f64,
    pub reduction: Reduction,
}

/// `(C,)`, `(N, C, d...)` → `(M, C)` with the class dimension last; also returns the
/// per-row output shape (`[]`, `[N]` or `[N, d...]`).
pub(crate) fn rows<'t>(x: Var<'t>) -> (Var<'t>, Vec<usize>) {
    let shape = x.shape();
    match shape.len() {
        1 => (x.reshape(&[1, shape[0] as isize]), vec![]),
        2 => (x, vec![shape[0]]),
        r => {
            let mut perm: Vec<isize> = vec![0];
            perm.extend(2..r as isize);
            perm.push(1);
            let out: Vec<usize> = perm[..r - 1].iter().map(|&d| shape[d as usize]).collect();
            let m: usize = out.iter().product();
            (
                x.permute(&perm).reshape(&[m as isize, shape[1] as isize]),
                out,
            )
        }
    }
}

/// The expected class-index target shape for an input shape.
pub(crate) fn index_target_shape(input: &[usize]) -> Vec<usize> {
    match input.len() {
        1 => vec![],
        _ => {
            let mut s = vec![input[0]];
            s.extend_from_slice(&input[2..]);
            s
        }
    }
}

/// Checks an input of rank >= 1 with a class dimension.
pub(crate) fn check_class_input(loss: &'static str, input: Var<'_>) -> Result<usize, LossError> {
    check_float(loss, "input", input)?;
    let shape = input.shape();
    if shape.is_empty() || shape.len() == 1 && shape[0] == 0 || shape.len() >= 2 && shape[1] == 0 {
        return Err(bad_input(
            loss,
            "input",
            "must have shape (C,), (N, C) or (N, C, d1, ...) with C >= 1",
            fmt_shape(&shape),
        ));
    }
    Ok(if shape.len() == 1 { shape[0] } else { shape[1] })
}

/// Negative log-likelihood of class indices from `(M, C)` log-probabilities, with weights,
/// `ignore_index` and label smoothing, reduced as PyTorch does (weighted mean over the
/// non-ignored targets).
pub(crate) fn nll_index<'t>(
    loss: &'static str,
    logp: Var<'t>,
    target: &Tensor,
    out_shape: &[usize],
    opts: &ClassOptions<'_>,
) -> Result<Var<'t>, LossError> {
    let m = logp.size(0);
    let c = logp.size(1);
    let dtype = logp.dtype();
    let tape = logp.tape();
    let t = target.to_vec::<i64>();
    let w: Vec<f64> = match opts.weight {
        Some(w) => w.data().to_vec(),
        None => vec![1.0; c],
    };
    let mut safe = Vec::with_capacity(m);
    let mut keep = Vec::with_capacity(m);
    let mut w_y = Vec::with_capacity(m);
    for &y in &t {
        if y == opts.ignore_index {
            safe.push(0i64);
            keep.push(0.0);
            w_y.push(0.0);
        } else if y < 0 || y as usize >= c {
            return Err(bad_input(
                loss,
                "target",
                format!(
                    "must hold class indices in [0, {c}) or ignore_index {}",
                    opts.ignore_index
                ),
                format!("index {y}"),
            ));
        } else {
            safe.push(y);
            keep.push(1.0);
            w_y.push(w[y as usize]);
        }
    }
    let denom: f64 = w_y.iter().sum();
    let idx = Tensor::from_vec(safe, &[m, 1]);
    let picked = logp.gather(1, &idx).reshape(&[m as isize]);
    let w_y = tape.constant(Tensor::from_vec(w_y, &[m]).to_dtype(dtype));
    let mut l = picked.mul(w_y).neg();
    let eps = opts.label_smoothing;
    if eps > 0.0 {
        let weighted = match opts.weight {
            Some(wt) => logp
                .mul(tape.constant(Tensor::from_vec(wt.data().to_vec(), &[1, c]).to_dtype(dtype))),
            None => logp,
        };
        let keep = tape.constant(Tensor::from_vec(keep, &[m]).to_dtype(dtype));
        let smooth = weighted.sum_dims(&[1], false).neg().mul(keep);
        l = l
            .mul_scalar(1.0 - eps)
            .add(smooth.mul_scalar(eps / c as f64));
    }
    Ok(match opts.reduction {
        Reduction::Mean => l.sum().mul_scalar(1.0 / denom),
        Reduction::None => l.reshape(&to_isize(out_shape)),
        r => reduce(l, r),
    })
}

pub(crate) fn to_isize(s: &[usize]) -> Vec<isize> {
    s.iter().map(|&d| d as isize).collect()
}

fn check_options(
    loss: &'static str,
    reduction: Reduction,
    weight: Option<&TensorArg>,
    label_smoothing: f64,
) -> Result<(), LossError> {
    check_reduction(loss, reduction)?;
    check_tensor_arg(loss, "weight", weight)?;
    if let Some(w) = weight {
        if w.shape().len() != 1 {
            return Err(bad_config(
                loss,
                "weight",
                "must be 1-d (one entry per class)",
                format!("shape {}", fmt_shape(w.shape())),
            ));
        }
    }
    if !(0.0..=1.0).contains(&label_smoothing) {
        return Err(bad_config(
            loss,
            "label_smoothing",
            "must be in [0, 1]",
            label_smoothing.to_string(),
        ));
    }
    Ok(())
}

/// Cross entropy of logits (`torch.nn.CrossEntropyLoss`): `log_softmax` over the class
/// dimension (dim 1, or 0 when unbatched) followed by the negative log-likelihood.
///
/// * Class-index targets (i64, shape `(N, d1, ...)`, `()` when unbatched):
///   `ℓ = (1-ε)·w[y]·(-log p_y) + ε/C·Σ_c w[c]·(-log p_c)`, 0 for `ignore_index`; `mean`
///   divides by `Σ w[y]` over the non-ignored targets.
/// * Class-probability targets (float, the input's shape, differentiated when a variable):
///   `ℓ = -Σ_c w[c]·q_c·log p_c` with `q = (1-ε)·t + ε/C`; `mean` divides by the number of
///   rows `N·d1·…`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct CrossEntropyLoss {
    /// `weight`: per-class rescaling `[C]`, or `null` (default) for none.
    pub weight: Option<TensorArg>,
    /// `ignore_index`: class-index target value that contributes nothing. Default `-100`.
    pub ignore_index: i64,
    /// `reduction`: `"mean"` (default), `"sum"` or `"none"`.
    pub reduction: Reduction,
    /// `label_smoothing`: ε in `[0, 1]`. Default `0.0`.
    pub label_smoothing: f64,
}

impl Default for CrossEntropyLoss {
    fn default() -> Self {
        CrossEntropyLoss {
            weight: None,
            ignore_index: -100,
            reduction: Reduction::Mean,
            label_smoothing: 0.0,
        }
    }
}

impl CrossEntropyLoss {
    /// Cross entropy of `logits` against `target` with these options, on already bound inputs.
    pub(crate) fn compute<'t>(
        loss: &'static str,
        logits: Var<'t>,
        target: Var<'t>,
        opts: &ClassOptions<'_>,
    ) -> Result<Var<'t>, LossError> {
        let c = check_class_input(loss, logits)?;
        check_class_weight(loss, opts.weight, c)?;
        let in_shape = logits.shape();
        if target.dtype() == DType::I64 {
            let want = index_target_shape(&in_shape);
            if target.shape().as_slice() != want.as_slice() {
                return Err(bad_input(
                    loss,
                    "target",
                    format!(
                        "of dtype i64 must have shape {} (class indices for input {})",
                        fmt_shape(&want),
                        fmt_shape(&in_shape)
                    ),
                    fmt_shape(&target.shape()),
                ));
            }
            let (x, out) = rows(logits);
            let logp = x.log_softmax(-1);
            nll_index(loss, logp, &target.value(), &out, opts)
        } else if target.dtype().is_float() {
            if target.shape() != in_shape {
                return Err(bad_input(
                    loss,
                    "target",
                    format!(
                        "of dtype {} must have the input's shape {} (class probabilities)",
                        target.dtype(),
                        fmt_shape(&in_shape)
                    ),
                    fmt_shape(&target.shape()),
                ));
            }
            if target.dtype() != logits.dtype() {
                return Err(bad_input(
                    loss,
                    "target",
                    format!(
                        "must have the input's dtype {} (class probabilities)",
                        logits.dtype()
                    ),
                    format!("dtype {}", target.dtype()),
                ));
            }
            let (x, out) = rows(logits);
            let (mut t, _) = rows(target);
            let logp = x.log_softmax(-1);
            let eps = opts.label_smoothing;
            if eps > 0.0 {
                t = t.mul_scalar(1.0 - eps).add_scalar(eps / c as f64);
            }
            let mut prod = logp.mul(t);
            if let Some(w) = opts.weight {
                prod = prod.mul(logits.tape().constant(
                    Tensor::from_vec(w.data().to_vec(), &[1, c]).to_dtype(logits.dtype()),
                ));
            }
            let l = prod.sum_dims(&[1], false).neg();
            Ok(match opts.reduction {
                Reduction::None => l.reshape(&to_isize(&out)),
                r => reduce(l, r),
            })
        } else {
            Err(bad_input(
                loss,
                "target",
                "must be i64 class indices or float class probabilities",
                format!("dtype {}", target.dtype()),
            ))
        }
    }
}

#[typetag::serde(name = "CrossEntropyLoss")]
impl Loss for CrossEntropyLoss {
    fn input_names(&self) -> &'static [&'static str] {
        &["input", "target"]
    }
    fn validate(&self) -> Result<(), LossError> {
        check_options(
            self.name(),
            self.reduction,
            self.weight.as_ref(),
            self.label_smoothing,
        )
    }
    fn forward_named<'t>(&self, args: &[(&str, Var<'t>)]) -> Result<Var<'t>, LossError> {
        self.validate()?;
        let [input, target] = take(self.name(), args, ["input", "target"])?;
        let opts = ClassOptions {
            weight: self.weight.as_ref(),
            ignore_index: self.ignore_index,
            label_smoothing: self.label_smoothing,
            reduction: self.reduction,
        };
        CrossEntropyLoss::compute(self.name(), input, target, &opts)
    }
}

/// Negative log-likelihood of class indices given log-probabilities (`torch.nn.NLLLoss`):
/// `ℓ = -w[y]·input[y]`, 0 for `ignore_index`; `mean` divides by `Σ w[y]` over the
/// non-ignored targets. Use after `log_softmax`; `CrossEntropyLoss` fuses both.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct NllLoss {
    /// `weight`: per-class rescaling `[C]`, or `null` (default).
    pub weight: Option<TensorArg>,
    /// `ignore_index`: target value that contributes nothing. Default `-100`.
    pub ignore_index: i64,
    /// `reduction`: `"mean"` (default), `"sum"` or `"none"`.
    pub reduction: Reduction,
}

impl Default for NllLoss {
    fn default() -> Self {
        NllLoss {
            weight: None,
            ignore_index: -100,
            reduction: Reduction::Mean,
        }
    }
}

#[typetag::serde(name = "NLLLoss")]
impl Loss for NllLoss {
    fn input_names(&self) -> &'static [&'static str] {
        &["input", "target"]
    }
    fn validate(&self) -> Result<(), LossError> {
        check_options(self.name(), self.reduction, self.weight.as_ref(), 0.0)
    }
    fn forward_named<'t>(&self, args: &[(&str, Var<'t>)]) -> Result<Var<'t>, LossError> {
        self.validate()?;
        let [input, target] = take(self.name(), args, ["input", "target"])?;
        let c = check_class_input(self.name(), input)?;
        check_class_weight(self.name(), self.weight.as_ref(), c)?;
        crate::util::check_index(self.name(), "target", target)?;
        let want = index_target_shape(&input.shape());
        if target.shape().as_slice() != want.as_slice() {
            return Err(bad_input(
                self.name(),
                "target",
                format!(
                    "must have shape {} (class indices for input {})",
                    fmt_shape(&want),
                    fmt_shape(&input.shape())
                ),
                fmt_shape(&target.shape()),
            ));
        }
        let (logp, out) = rows(input);
        let opts = ClassOptions {
            weight: self.weight.as_ref(),
            ignore_index: self.ignore_index,
            label_smoothing: 0.0,
            reduction: self.reduction,
        };
        nll_index(self.name(), logp, &target.value(), &out, &opts)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::util::testing::{assert_roundtrip, from_json};
    use tuna_autograd::Tape;

    #[test]
    fn roundtrips() {
        assert_roundtrip(&CrossEntropyLoss::default());
        assert_roundtrip(&CrossEntropyLoss {
            weight: Some(TensorArg::from_vec(vec![1.0, 0.5, 2.0])),
            ignore_index: 0,
            reduction: Reduction::Sum,
            label_smoothing: 0.1,
        });
        assert_roundtrip(&NllLoss {
            weight: Some(TensorArg::from_vec(vec![1.0, 2.0])),
            ..Default::default()
        });
    }

    #[test]
    fn weight_as_plain_list() {
        let l = from_json(r#"{"type":"CrossEntropyLoss","weight":[1.0, 2.0]}"#).unwrap();
        let v = serde_json::to_value(&l).unwrap();
        assert_eq!(v["weight"], serde_json::json!([1.0, 2.0]));
        assert!(from_json(r#"{"type":"CrossEntropyLoss","weight":"x"}"#).is_err());
    }

    #[test]
    fn errors_name_the_problem() {
        let e = CrossEntropyLoss {
            label_smoothing: 1.5,
            ..Default::default()
        }
        .validate()
        .unwrap_err();
        assert_eq!(
            e.to_string(),
            "CrossEntropyLoss: `label_smoothing` must be in [0, 1], got 1.5"
        );
        let tape = Tape::new();
        let x = tape.var(Tensor::zeros(&[8, 10], DType::F32));
        let t = tape.constant(Tensor::zeros(&[8], DType::F32));
        let e = CrossEntropyLoss::default().forward(x, t).unwrap_err();
        assert_eq!(
            e.to_string(),
            "CrossEntropyLoss: target of dtype f32 must have the input's shape [8, 10] \
             (class probabilities), got [8]"
        );
        let t = tape.constant(Tensor::from_vec(vec![10i64; 8], &[8]));
        let e = CrossEntropyLoss::default().forward(x, t).unwrap_err();
        assert!(e.to_string().contains("class indices in [0, 10)"), "{e}");
        let t = tape.constant(Tensor::from_vec(vec![1i64; 8], &[8]));
        let e = CrossEntropyLoss {
            weight: Some(TensorArg::from_vec(vec![1.0; 3])),
            ..Default::default()
        }
        .forward(x, t)
        .unwrap_err();
        assert!(e.to_string().contains("weight must have shape [10]"), "{e}");
    }

    #[test]
    fn uniform_logits_give_log_c() {
        let tape = Tape::new();
        let x = tape.var(Tensor::zeros(&[2, 4], DType::F64));
        let t = tape.constant(Tensor::from_vec(vec![1i64, 3], &[2]));
        let l = CrossEntropyLoss::default().forward(x, t).unwrap();
        assert!((l.item() - 4f64.ln()).abs() < 1e-12);
    }
}
