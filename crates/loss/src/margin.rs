//! Margin classification losses: `MultiMarginLoss` (multi-class hinge),
//! `MultiLabelMarginLoss` (multi-label hinge), `MultiLabelSoftMarginLoss` (multi-label
//! logistic) and `SoftMarginLoss` (binary logistic on ±1 labels). Match the `torch.nn`
//! classes; labels are never differentiated.

use serde::{Deserialize, Serialize};
use tuna_autograd::Var;
use tuna_tensor::Tensor;

use crate::cross_entropy::{check_class_input, to_isize};
use crate::util::{
    bad_config, bad_input, check_class_weight, check_finite, check_float, check_float_pair,
    check_index, check_reduction, check_same_shape, check_tensor_arg, constant, fmt_shape, reduce,
    take,
};
use crate::{Loss, LossError, Reduction, TensorArg};

/// `(C,)` or `(N, C)` input → `(M, C)` and the per-sample output shape.
fn rows_2d<'t>(name: &'static str, x: Var<'t>) -> Result<(Var<'t>, Vec<usize>), LossError> {
    check_class_input(name, x)?;
    match x.rank() {
        1 => Ok((x.reshape(&[1, x.size(0) as isize]), vec![])),
        2 => Ok((x, vec![x.size(0)])),
        _ => Err(bad_input(
            name,
            "input",
            "must be (N, C) or (C,)",
            fmt_shape(&x.shape()),
        )),
    }
}

/// Multi-class hinge (`torch.nn.MultiMarginLoss`): for a sample with class `y`,
/// `ℓ = Σ_{j≠y} w[y]·max(0, margin - x[y] + x[j])^p / C`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct MultiMarginLoss {
    /// `p`: 1 (default) or 2.
    pub p: u32,
    /// `margin`. Default `1.0`.
    pub margin: f64,
    /// `weight`: per-class rescaling `[C]`, or `null` (default).
    pub weight: Option<TensorArg>,
    /// `reduction`: `"mean"` (default), `"sum"` or `"none"`.
    pub reduction: Reduction,
}

impl Default for MultiMarginLoss {
    fn default() -> Self {
        MultiMarginLoss {
            p: 1,
            margin: 1.0,
            weight: None,
            reduction: Reduction::Mean,
        }
    }
}

#[typetag::serde(name = "MultiMarginLoss")]
impl Loss for MultiMarginLoss {
    fn input_names(&self) -> &'static [&'static str] {
        &["input", "target"]
    }
    fn validate(&self) -> Result<(), LossError> {
        check_reduction(self.name(), self.reduction)?;
        check_finite(self.name(), "margin", self.margin, false)?;
        check_tensor_arg(self.name(), "weight", self.weight.as_ref())?;
        if self.p != 1 && self.p != 2 {
            return Err(bad_config(
                self.name(),
                "p",
                "must be 1 or 2",
                self.p.to_string(),
            ));
        }
        Ok(())
    }
    fn forward_named<'t>(&self, args: &[(&str, Var<'t>)]) -> Result<Var<'t>, LossError> {
        self.validate()?;
        let [x, y] = take(self.name(), args, ["input", "target"])?;
        let (x2, out) = rows_2d(self.name(), x)?;
        let (m, c) = (x2.size(0), x2.size(1));
        check_class_weight(self.name(), self.weight.as_ref(), c)?;
        check_index(self.name(), "target", y)?;
        if y.shape().as_slice() != out.as_slice() {
            return Err(bad_input(
                self.name(),
                "target",
                format!("must have shape {} (one class per sample)", fmt_shape(&out)),
                fmt_shape(&y.shape()),
            ));
        }
        let ys = y.value().to_vec::<i64>();
        if let Some(bad) = ys.iter().find(|&&v| v < 0 || v as usize >= c) {
            return Err(bad_input(
                self.name(),
                "target",
                format!("must hold class indices in [0, {c})"),
                format!("index {bad}"),
            ));
        }
        let mut mask = vec![1.0; m * c];
        for (i, &t) in ys.iter().enumerate() {
            mask[i * c + t as usize] = 0.0;
        }
        let idx = Tensor::from_vec(ys.clone(), &[m, 1]);
        let xy = x2.gather(1, &idx);
        // relu: PyTorch's kernel counts only z > 0
        let mut z = x2.sub(xy).add_scalar(self.margin).relu();
        if self.p == 2 {
            z = z.square();
        }
        let dtype = x.dtype();
        z = z.mul(
            x.tape()
                .constant(Tensor::from_vec(mask, &[m, c]).to_dtype(dtype)),
        );
        if let Some(w) = &self.weight {
            let wy: Vec<f64> = ys.iter().map(|&t| w.data()[t as usize]).collect();
            z = z.mul(
                x.tape()
                    .constant(Tensor::from_vec(wy, &[m, 1]).to_dtype(dtype)),
            );
        }
        let l = z
            .sum_dims(&[1], false)
            .mul_scalar(1.0 / c as f64)
            .reshape(&to_isize(&out));
        Ok(reduce(l, self.reduction))
    }
}

/// Multi-label hinge (`torch.nn.MultiLabelMarginLoss`): the target row lists the sample's
/// classes, terminated by the first `-1`; with `J` those classes,
/// `ℓ = Σ_{j∈J} Σ_{k∉J} max(0, 1 - (x[j] - x[k])) / C`.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct MultiLabelMarginLoss {
    /// `reduction`: `"mean"` (default), `"sum"` or `"none"`.
    pub reduction: Reduction,
}

#[typetag::serde(name = "MultiLabelMarginLoss")]
impl Loss for MultiLabelMarginLoss {
    fn input_names(&self) -> &'static [&'static str] {
        &["input", "target"]
    }
    fn validate(&self) -> Result<(), LossError> {
        check_reduction(self.name(), self.reduction)
    }
    fn forward_named<'t>(&self, args: &[(&str, Var<'t>)]) -> Result<Var<'t>, LossError> {
        self.validate()?;
        let [x, y] = take(self.name(), args, ["input", "target"])?;
        let (x2, out) = rows_2d(self.name(), x)?;
        let (m, c) = (x2.size(0), x2.size(1));
        check_index(self.name(), "target", y)?;
        check_same_shape(self.name(), "target", y, x)?;
        let ys = y.value().to_vec::<i64>();
        let (mut rows, mut js, mut ks) = (Vec::new(), Vec::new(), Vec::new());
        for i in 0..m {
            let mut is_target = vec![false; c];
            let mut labels = Vec::new();
            for &t in &ys[i * c..(i + 1) * c] {
                if t == -1 {
                    break;
                }
                if t < 0 || t as usize >= c {
                    return Err(bad_input(
                        self.name(),
                        "target",
                        format!("must hold class indices in [0, {c}), terminated by -1"),
                        format!("index {t}"),
                    ));
                }
                is_target[t as usize] = true;
                labels.push(t as usize);
            }
            for &j in &labels {
                for k in (0..c).filter(|&k| !is_target[k]) {
                    rows.push(i as i64);
                    js.push((i * c + j) as i64);
                    ks.push((i * c + k) as i64);
                }
            }
        }
        let flat = x2.reshape(&[(m * c) as isize]);
        let l = if rows.is_empty() {
            x2.mul_scalar(0.0).sum_dims(&[1], false)
        } else {
            let p = rows.len();
            let xj = flat.index_select(0, &Tensor::from_vec(js, &[p]));
            let xk = flat.index_select(0, &Tensor::from_vec(ks, &[p]));
            let h = xj.sub(xk).neg().add_scalar(1.0).relu();
            x.tape()
                .constant(Tensor::zeros(&[m], x.dtype()))
                .scatter_add(0, &Tensor::from_vec(rows, &[p]), h)
        };
        let l = l.mul_scalar(1.0 / c as f64).reshape(&to_isize(&out));
        Ok(reduce(l, self.reduction))
    }
}

/// Multi-label logistic loss (`torch.nn.MultiLabelSoftMarginLoss`): for 0/1 targets,
/// `ℓ = -Σ_c w[c]·(t·log σ(x) + (1-t)·log σ(-x)) / C` per sample.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct MultiLabelSoftMarginLoss {
    /// `weight`: per-class rescaling `[C]`, or `null` (default).
    pub weight: Option<TensorArg>,
    /// `reduction`: `"mean"` (default), `"sum"` or `"none"`.
    pub reduction: Reduction,
}

#[typetag::serde(name = "MultiLabelSoftMarginLoss")]
impl Loss for MultiLabelSoftMarginLoss {
    fn input_names(&self) -> &'static [&'static str] {
        &["input", "target"]
    }
    fn validate(&self) -> Result<(), LossError> {
        check_reduction(self.name(), self.reduction)?;
        check_tensor_arg(self.name(), "weight", self.weight.as_ref())
    }
    fn forward_named<'t>(&self, args: &[(&str, Var<'t>)]) -> Result<Var<'t>, LossError> {
        self.validate()?;
        let [x, t] = take(self.name(), args, ["input", "target"])?;
        let c = check_class_input(self.name(), x)?;
        let c = if x.rank() == 1 { c } else { x.size(-1) };
        check_float_pair(self.name(), "target", t, x)?;
        check_same_shape(self.name(), "target", t, x)?;
        crate::util::check_weight_broadcast(
            self.name(),
            "weight",
            self.weight.as_ref(),
            &x.shape(),
        )?;
        let mut l = t
            .mul(x.log_sigmoid())
            .add(t.neg().add_scalar(1.0).mul(x.neg().log_sigmoid()))
            .neg();
        if let Some(w) = &self.weight {
            l = l.mul(constant(x, w));
        }
        let l = l.sum_dims(&[-1], false).mul_scalar(1.0 / c as f64);
        Ok(reduce(l, self.reduction))
    }
}

/// Binary logistic loss on ±1 labels (`torch.nn.SoftMarginLoss`): `ℓ = log(1 + exp(-y·x))`,
/// computed stably as `-log σ(y·x)`.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct SoftMarginLoss {
    /// `reduction`: `"mean"` (default), `"sum"` or `"none"`.
    pub reduction: Reduction,
}

#[typetag::serde(name = "SoftMarginLoss")]
impl Loss for SoftMarginLoss {
    fn input_names(&self) -> &'static [&'static str] {
        &["input", "target"]
    }
    fn validate(&self) -> Result<(), LossError> {
        check_reduction(self.name(), self.reduction)
    }
    fn forward_named<'t>(&self, args: &[(&str, Var<'t>)]) -> Result<Var<'t>, LossError> {
        self.validate()?;
        let [x, y] = take(self.name(), args, ["input", "target"])?;
        check_float(self.name(), "input", x)?;
        check_float_pair(self.name(), "target", y, x)?;
        check_same_shape(self.name(), "target", y, x)?;
        Ok(reduce(y.mul(x).log_sigmoid().neg(), self.reduction))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::util::testing::assert_roundtrip;
    use tuna_autograd::Tape;
    use tuna_tensor::DType;

    #[test]
    fn roundtrips() {
        assert_roundtrip(&MultiMarginLoss {
            p: 2,
            margin: 0.5,
            weight: Some(TensorArg::from_vec(vec![1.0, 2.0])),
            reduction: Reduction::Sum,
        });
        assert_roundtrip(&MultiLabelMarginLoss::default());
        assert_roundtrip(&MultiLabelSoftMarginLoss {
            weight: Some(TensorArg::from_vec(vec![0.5, 2.0])),
            reduction: Reduction::None,
        });
        assert_roundtrip(&SoftMarginLoss::default());
    }

    #[test]
    fn validation() {
        let e = MultiMarginLoss {
            p: 3,
            ..Default::default()
        }
        .validate()
        .unwrap_err();
        assert_eq!(e.to_string(), "MultiMarginLoss: `p` must be 1 or 2, got 3");
        let tape = Tape::new();
        let x = tape.var(Tensor::zeros(&[2, 3], DType::F64));
        let y = tape.constant(Tensor::from_vec(vec![0i64, 5, -1, 0, 1, 2], &[2, 3]));
        let e = MultiLabelMarginLoss::default().forward(x, y).unwrap_err();
        assert!(e.to_string().contains("index 5"), "{e}");
    }

    #[test]
    fn unbatched_multi_margin() {
        let tape = Tape::new();
        let x = tape.var(Tensor::from_vec(vec![0.1f64, 0.2, 0.4, 0.8], &[4]));
        let y = tape.constant(Tensor::scalar(3i64));
        let l = MultiMarginLoss {
            reduction: Reduction::None,
            ..Default::default()
        }
        .forward(x, y)
        .unwrap();
        // PyTorch docs example: (1-0.8+0.1 + 1-0.8+0.2 + 1-0.8+0.4) / 4 = 0.325
        assert!(l.shape().is_empty());
        assert!((l.item() - 0.325).abs() < 1e-12);
    }

    #[test]
    fn multilabel_margin_stops_at_minus_one() {
        let tape = Tape::new();
        let x = tape.var(Tensor::from_vec(vec![0.1f64, 0.2, 0.4, 0.8], &[4]));
        // labels {3, 0}; the 1 after -1 is ignored (PyTorch docs example: 0.85)
        let y = tape.constant(Tensor::from_vec(vec![3i64, 0, -1, 1], &[4]));
        let l = MultiLabelMarginLoss::default().forward(x, y).unwrap();
        assert!((l.item() - 0.85).abs() < 1e-12, "{}", l.item());
    }
}
