//! Muon, MomentUm Orthogonalized by Newton–Schulz (Jordan et al. 2024); matches
//! `torch.optim.Muon`. Muon optimizes 2-D parameters only: route the others (biases, norms,
//! embeddings, output heads) to a second optimizer with the Tuna extension fields `other`,
//! `other_params` and `other_param_groups`:
//!
//! ```toml
//! [optimizer]
//! type = "Muon"
//! lr = 0.02
//! other_params = ["embed.*", "head.*"]     # 2-D parameters that should not use Muon
//! other = { type = "AdamW", lr = 3e-4, weight_decay = 0.0 }
//! ```
//!
//! Every parameter that is not 2-D or matches `other_params` goes to `other` (built with
//! `other_param_groups`); without `other`, such a parameter is an error. The result is one
//! optimizer whose groups are Muon's, then `other`'s.
//!
//! ```text
//! buf = buf + (1-μ)(g - buf)
//! u   = g + μ(buf - g)  if nesterov  else  buf
//! O   = NewtonSchulz(u)     (X = u/max(‖u‖_F, eps), on the wide orientation; ns_steps times:
//!                            A = XXᵀ;  X = a·X + (b·A + c·A²)·X)
//! p   = p*(1 - lr*wd) - adjusted_lr * O
//! adjusted_lr = lr * sqrt(max(1, A/B))     ("original", the default)
//!             = lr * 0.2 * sqrt(max(A, B))  ("match_rms_adamw")
//! ```

use serde::{Deserialize, Serialize};
use tuna_autograd::{name_matches_any, NamedParam};
use tuna_tensor::{FloatElement, Tensor};

use crate::config::{OptimizerConfig, ParamGroupConfig};
use crate::error::{non_negative, unit_half_open, OptimError};
use crate::optimizer::{
    float_dispatch, hyper_accessors, CombinedOptimizer, GroupedOptimizer, Optimizer, RuleState,
    StateRecord, UpdateRule,
};

/// How Muon scales the learning rate by the parameter's shape `[A, B]` (`adjust_lr_fn`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AdjustLrFn {
    /// `lr * sqrt(max(1, A/B))` (Keller Jordan's original; also what `null` means).
    Original,
    /// `lr * 0.2 * sqrt(max(A, B))`: matches AdamW's update RMS (Moonshot AI), so AdamW
    /// learning rates and weight decays carry over.
    MatchRmsAdamw,
}

/// Config of [`Muon`] (`type = "Muon"`); PyTorch fields and defaults are
/// `torch.optim.Muon`'s, plus the Tuna routing fields `other`, `other_params`,
/// `other_param_groups`.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct MuonConfig {
    /// `lr`, default 1e-3.
    pub lr: f64,
    /// `weight_decay` (decoupled), default 0.1.
    pub weight_decay: f64,
    /// `momentum`, default 0.95.
    pub momentum: f64,
    /// `nesterov`, default true.
    pub nesterov: bool,
    /// `ns_coefficients` (a, b, c) of the quintic Newton–Schulz iteration, default
    /// (3.4445, -4.775, 2.0315).
    pub ns_coefficients: (f64, f64, f64),
    /// `eps` (floor of the Frobenius norm), default 1e-7.
    pub eps: f64,
    /// `ns_steps`, default 5.
    pub ns_steps: usize,
    /// `adjust_lr_fn`: `null` (= `"original"`), `"original"` or `"match_rms_adamw"`.
    pub adjust_lr_fn: Option<AdjustLrFn>,
    /// Tuna: the optimizer for parameters Muon does not take (not 2-D, or matching
    /// `other_params`), e.g. `{ type = "AdamW", lr = 3e-4 }`. Default none.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub other: Option<Box<dyn OptimizerConfig>>,
    /// Tuna: name patterns of 2-D parameters to route to `other` as well. Default empty.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub other_params: Vec<String>,
    /// Tuna: parameter groups of the `other` optimizer. Default empty.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub other_param_groups: Vec<ParamGroupConfig>,
}

impl Default for MuonConfig {
    fn default() -> Self {
        MuonConfig {
            lr: 1e-3,
            weight_decay: 0.1,
            momentum: 0.95,
            nesterov: true,
            ns_coefficients: (3.4445, -4.775, 2.0315),
            eps: 1e-7,
            ns_steps: 5,
            adjust_lr_fn: None,
            other: None,
            other_params: Vec::new(),
            other_param_groups: Vec::new(),
        }
    }
}

/// The runtime Muon optimizer (over the 2-D parameters; see [`MuonConfig::other`]).
pub type Muon = GroupedOptimizer<MuonConfig>;

/// Muon's state of one parameter.
#[derive(Clone, Debug)]
pub struct MuonState {
    /// Updates applied.
    pub step: u64,
    /// Momentum buffer (`momentum_buffer`).
    pub momentum_buffer: Tensor,
}

impl RuleState for MuonState {
    fn step(&self) -> u64 {
        self.step
    }

    fn to_record(&self) -> StateRecord {
        StateRecord::new(self.step).with("momentum_buffer", &self.momentum_buffer)
    }

    fn from_record(mut r: StateRecord) -> Result<Self, OptimError> {
        Ok(MuonState {
            step: r.step,
            momentum_buffer: r.tensor("momentum_buffer")?,
        })
    }
}

#[typetag::serde(name = "Muon")]
impl OptimizerConfig for MuonConfig {
    fn validate(&self) -> Result<(), OptimError> {
        self.check_own()?;
        if let Some(o) = &self.other {
            o.validate()?;
        }
        Ok(())
    }

    fn build(
        &self,
        params: Vec<NamedParam>,
        groups: &[ParamGroupConfig],
    ) -> Result<Box<dyn Optimizer>, OptimError> {
        OptimizerConfig::validate(self)?;
        let (mine, rest): (Vec<NamedParam>, Vec<NamedParam>) = params
            .into_iter()
            .partition(|(n, p)| p.shape().len() == 2 && !name_matches_any(&self.other_params, n));
        let core = MuonConfig {
            other: None,
            other_params: Vec::new(),
            other_param_groups: Vec::new(),
            ..self.clone()
        };
        match &self.other {
            None => {
                if let Some((name, p)) = rest.first() {
                    return Err(OptimError::Param {
                        name: name.clone(),
                        message: format!(
                            "Muon optimizes 2-D parameters only (this one has shape {:?}); route \
                             the others to a second optimizer with `other = {{ type = \"AdamW\" }}`",
                            p.shape()
                        ),
                    });
                }
                Ok(Box::new(Muon::new(&core, mine, groups)?))
            }
            Some(other) => {
                let muon = Muon::new(&core, mine, groups)?;
                let other = other.build(rest, &self.other_param_groups)?;
                Ok(Box::new(CombinedOptimizer::new(
                    "Muon",
                    vec![Box::new(muon), other],
                )))
            }
        }
    }
}

impl MuonConfig {
    /// Checks Muon's own fields; `validate` also checks the `other` optimizer.
    fn check_own(&self) -> Result<(), OptimError> {
        let t = self.name();
        non_negative(t, "lr", self.lr)?;
        non_negative(t, "weight_decay", self.weight_decay)?;
        unit_half_open(t, "momentum", self.momentum)?;
        non_negative(t, "eps", self.eps)?;
        let (a, b, c) = self.ns_coefficients;
        if !(a.is_finite() && b.is_finite() && c.is_finite()) {
            return Err(OptimError::config(
                t,
                "ns_coefficients",
                format!("must be finite, got ({a}, {b}, {c})"),
            ));
        }
        if self.other.is_none()
            && !(self.other_params.is_empty() && self.other_param_groups.is_empty())
        {
            return Err(OptimError::config(
                t,
                "other",
                "is required when other_params or other_param_groups is set",
            ));
        }
        Ok(())
    }
}

impl UpdateRule for MuonConfig {
    hyper_accessors!(lr, momentum = momentum);

    fn accepts(&self, name: &str, value: &Tensor) -> Result<(), OptimError> {
        if value.rank() == 2 {
            Ok(())
        } else {
            Err(OptimError::Param {
                name: name.to_string(),
                message: format!(
                    "Muon optimizes 2-D parameters only, got shape {:?}",
                    value.shape()
                ),
            })
        }
    }

    type State = MuonState;

    fn init_state(&self, param: &Tensor) -> MuonState {
        MuonState {
            step: 0,
            momentum_buffer: param.zeros_like(),
        }
    }

    fn update(&self, param: &mut Tensor, grad: &Tensor, state: &mut MuonState) {
        state.step += 1;
        let (rows, cols) = (param.shape()[0], param.shape()[1]);
        let ratio = match self.adjust_lr_fn {
            None | Some(AdjustLrFn::Original) => (1.0f64).max(rows as f64 / cols as f64).sqrt(),
            Some(AdjustLrFn::MatchRmsAdamw) => 0.2 * (rows.max(cols) as f64).sqrt(),
        };
        let adjusted_lr = self.lr * ratio;
        let buf = &mut state.momentum_buffer;
        float_dispatch!(param.dtype(), T => {
            let g = grad.as_slice::<T>().expect("contiguous grad");
            let mu = T::of(self.momentum);
            let omm = T::of(1.0 - self.momentum);
            let b = buf.data_mut::<T>();
            let mut u = Vec::with_capacity(g.len());
            for (bi, &gi) in b.iter_mut().zip(g) {
                *bi = *bi + omm * (gi - *bi);
                u.push(if self.nesterov { gi + mu * (*bi - gi) } else { *bi });
            }
            let o = newton_schulz::<T>(&u, rows, cols, self.ns_coefficients, self.ns_steps, self.eps);
            let decay = T::of(1.0 - self.lr * self.weight_decay);
            let lr = T::of(adjusted_lr);
            for (pi, &oi) in param.data_mut::<T>().iter_mut().zip(&o) {
                *pi = *pi * decay - lr * T::of(f64::from(oi));
            }
        });
    }
}

/// Rounds an f32 to the nearest bfloat16 (ties to even), returned as f32.
#[inline(always)]
fn bf16(x: f32) -> f32 {
    if x.is_nan() {
        return x;
    }
    let b = x.to_bits();
    let r = b.wrapping_add(0x7FFF + ((b >> 16) & 1));
    f32::from_bits(r & 0xFFFF_0000)
}

fn bf16_tensor(data: Vec<f32>, shape: &[usize]) -> Tensor {
    Tensor::from_vec(data.into_iter().map(bf16).collect::<Vec<f32>>(), shape)
}

/// The quintic Newton–Schulz iteration of `torch.optim.Muon` on a `rows × cols` matrix
/// (row-major). Like PyTorch, it runs in bfloat16: every intermediate is rounded to bf16
/// after an f32 computation (f32 accumulation in the products), so Tuna's Muon follows
/// PyTorch's trajectories. Returns the orthogonalized matrix (bf16 values), same layout.
pub fn newton_schulz<T: FloatElement>(
    u: &[T],
    rows: usize,
    cols: usize,
    (a, b, c): (f64, f64, f64),
    steps: usize,
    eps: f64,
) -> Vec<f32> {
    let tall = rows > cols;
    // PyTorch converts f64 -> f32 -> bf16
    let x0: Vec<f32> = u
        .iter()
        .map(|&v| bf16(tuna_tensor::Element::to_f64(v) as f32))
        .collect();
    let mut x = Tensor::from_vec(x0, &[rows, cols]);
    if tall {
        x = x.t().contiguous();
    }
    let shape = x.shape().to_vec();
    let norm = bf16(
        x.contiguous_data::<f32>()
            .iter()
            .map(|&v| v * v)
            .sum::<f32>()
            .sqrt(),
    );
    let norm = norm.max(bf16(eps as f32));
    let mut x = bf16_tensor(
        x.contiguous_data::<f32>()
            .iter()
            .map(|&v| v / norm)
            .collect(),
        &shape,
    );
    let (ta, tb, tc) = (a as f32, b as f32, c as f32);
    for _ in 0..steps {
        let gram = bf16_tensor(x.matmul(&x.t()).to_vec::<f32>(), &[shape[0], shape[0]]);
        let g2 = gram.matmul(&gram);
        let gu: Vec<f32> = gram
            .contiguous_data::<f32>()
            .iter()
            .zip(g2.contiguous_data::<f32>().iter())
            .map(|(&g1, &g2)| tb * g1 + tc * g2)
            .collect();
        let gu = bf16_tensor(gu, gram.shape());
        let prod = gu.matmul(&x);
        let next: Vec<f32> = x
            .contiguous_data::<f32>()
            .iter()
            .zip(prod.contiguous_data::<f32>().iter())
            .map(|(&x0, &px)| ta * x0 + px)
            .collect();
        x = bf16_tensor(next, &shape);
    }
    if tall {
        x.t().contiguous().to_vec::<f32>()
    } else {
        x.to_vec::<f32>()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::roundtrip;
    use tuna_autograd::Param;

    #[test]
    fn defaults_match_pytorch() {
        let d = MuonConfig::default();
        assert_eq!(
            (d.lr, d.weight_decay, d.momentum, d.eps, d.ns_steps),
            (1e-3, 0.1, 0.95, 1e-7, 5)
        );
        assert_eq!(d.ns_coefficients, (3.4445, -4.775, 2.0315));
        assert!(d.nesterov && d.adjust_lr_fn.is_none() && d.other.is_none());
    }

    #[test]
    fn validation_names_fields() {
        let e = MuonConfig {
            momentum: 1.0,
            ..Default::default()
        }
        .validate()
        .unwrap_err();
        assert_eq!(e.to_string(), "Muon.momentum: must be in [0, 1), got 1");
        let e = MuonConfig {
            other_params: vec!["x".into()],
            ..Default::default()
        }
        .validate()
        .unwrap_err();
        assert!(e.to_string().starts_with("Muon.other:"), "{e}");
        let bad: Result<Box<dyn OptimizerConfig>, _> =
            serde_json::from_str(r#"{"type": "Muon", "adjust_lr_fn": "foo"}"#);
        assert!(bad.unwrap_err().to_string().contains("match_rms_adamw"));
    }

    #[test]
    fn serde_round_trip() {
        roundtrip(&MuonConfig::default());
        roundtrip(&MuonConfig {
            other: Some(Box::new(crate::AdamWConfig {
                lr: 3e-4,
                ..Default::default()
            })),
            other_params: vec!["embed.*".into()],
            adjust_lr_fn: Some(AdjustLrFn::MatchRmsAdamw),
            ..Default::default()
        });
    }

    #[test]
    fn newton_schulz_orthogonalizes() {
        // singular values of the result are near 1 (the quintic targets ~[0.7, 1.2])
        let m = vec![3.0f64, 1.0, 0.5, 2.0, -1.0, 0.25];
        let o = newton_schulz(&m, 2, 3, (3.4445, -4.775, 2.0315), 5, 1e-7);
        let ot = Tensor::from_vec(o, &[2, 3]);
        let gram = ot.matmul(&ot.t()).to_vec::<f64>();
        assert_eq!(bf16(1.0 + 1.0 / 512.0), 1.0); // ties to even
        assert_eq!(bf16(1.0 + 3.0 / 256.0), 1.0 + 1.0 / 64.0);
        assert!(
            (gram[0] - 1.0).abs() < 0.5 && (gram[3] - 1.0).abs() < 0.5,
            "{gram:?}"
        );
        assert!(gram[1].abs() < 0.3, "{gram:?}");
    }

    #[test]
    fn routes_non_matrix_params_to_other() {
        let w = Param::new(Tensor::from_vec(vec![1.0f32; 6], &[2, 3]));
        let b = Param::new(Tensor::from_vec(vec![1.0f32; 3], &[3]));
        let params = vec![("w".to_string(), w.clone()), ("b".to_string(), b.clone())];
        let err = MuonConfig::default()
            .build(params.clone(), &[])
            .unwrap_err();
        assert!(err.to_string().contains("`b`"), "{err}");
        let cfg: Box<dyn OptimizerConfig> =
            toml::from_str("type = \"Muon\"\nlr = 0.02\nother = { type = \"AdamW\", lr = 3e-4 }\n")
                .unwrap();
        let mut opt = cfg.build(params, &[]).unwrap();
        let groups = opt.param_groups();
        assert_eq!(groups.len(), 2);
        assert_eq!(
            (groups[0].params.clone(), groups[0].lr),
            (vec!["w".to_string()], 0.02)
        );
        assert_eq!(
            (groups[1].params.clone(), groups[1].lr),
            (vec!["b".to_string()], 3e-4)
        );
        w.set_grad(Some(Tensor::from_vec(vec![0.5f32; 6], &[2, 3])));
        b.set_grad(Some(Tensor::from_vec(vec![0.5f32; 3], &[3])));
        opt.step().unwrap();
        let st = opt.state_dict();
        assert!(
            st.tensors.contains_key("w.momentum_buffer") && st.tensors.contains_key("b.exp_avg")
        );
        opt.load_state_dict(&st).unwrap();
    }
}
