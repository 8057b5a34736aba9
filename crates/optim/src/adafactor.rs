//! Adafactor (Shazeer & Stern 2018, *Adafactor: Adaptive Learning Rates with Sublinear Memory
//! Cost*), with the relative step size and update clipping; matches `torch.optim.Adafactor`
//! (PyTorch 2.5+ semantics, which differ from the Hugging Face implementation).
//!
//! ```text
//! g      = ±grad;   1-β2_t = t^beta2_decay;   ρ_t = min(lr, 1/sqrt(t))
//! α      = max(eps2, RMS(p)) * ρ_t                 (before weight decay)
//! p      = p * (1 - lr*wd)
//! ≥2-D:  R = R + (1-β2_t)(mean_c g² - R);  C = C + (1-β2_t)(mean_r g² - C)   (factored)
//!        v̂ = R Cᵀ / max(mean(R), eps1)
//! 1-D:   v = v + (1-β2_t)(g² - v);  v̂ = v
//! u      = g / sqrt(max(v̂, eps1²))
//! p      = p - α / max(1, RMS(u)/d) * u
//! ```
//!
//! `eps1 = None` means the machine epsilon of the parameter's dtype. For parameters with more
//! than two dimensions, the leading dimensions are batch dimensions (as in PyTorch).

use serde::{Deserialize, Serialize};
use tuna_autograd::NamedParam;
use tuna_tensor::{FloatElement, Tensor};

use crate::config::{OptimizerConfig, ParamGroupConfig};
use crate::error::{non_negative, OptimError};
use crate::optimizer::{
    float_dispatch, hyper_accessors, GroupedOptimizer, Optimizer, RuleState, StateRecord,
    UpdateRule,
};

/// Config of [`Adafactor`] (`type = "Adafactor"`); fields and defaults are
/// `torch.optim.Adafactor`'s.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct AdafactorConfig {
    /// `lr` (upper bound of the relative step size), default 1e-2.
    pub lr: f64,
    /// `beta2_decay` (`1 - β2_t = t^beta2_decay`), default -0.8.
    pub beta2_decay: f64,
    /// `eps` (eps1 for the variance, `null`/`"auto"` = the dtype's machine epsilon; eps2
    /// for the parameter RMS), default (null, 1e-3). TOML has no null: write
    /// `eps = ["auto", 1e-3]`.
    pub eps: (Eps1, f64),
    /// `d` (update clipping threshold), default 1.0.
    pub d: f64,
    /// `weight_decay` (decoupled), default 0.
    pub weight_decay: f64,
    /// `foreach` (accepted, no effect), default null.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub foreach: Option<bool>,
    /// `maximize`, default false.
    pub maximize: bool,
}

impl Default for AdafactorConfig {
    fn default() -> Self {
        AdafactorConfig {
            lr: 1e-2,
            beta2_decay: -0.8,
            eps: (Eps1(None), 1e-3),
            d: 1.0,
            weight_decay: 0.0,
            foreach: None,
            maximize: false,
        }
    }
}

/// The runtime Adafactor optimizer.
pub type Adafactor = GroupedOptimizer<AdafactorConfig>;

/// Adafactor's estimate of the squared gradient of one parameter.
#[derive(Clone, Debug)]
pub enum SecondMoment {
    /// For parameters of two or more dimensions: row means `row_var` (shape `[..., R, 1]`)
    /// and column means `col_var` (`[..., 1, C]`).
    Factored {
        /// Row factor.
        row_var: Tensor,
        /// Column factor.
        col_var: Tensor,
    },
    /// For vectors and scalars: the full `variance`.
    Full {
        /// The running average of the squared gradient.
        variance: Tensor,
    },
}

/// Adafactor's state of one parameter.
#[derive(Clone, Debug)]
pub struct AdafactorState {
    /// Updates applied.
    pub step: u64,
    /// The squared-gradient estimate.
    pub second_moment: SecondMoment,
}

impl RuleState for AdafactorState {
    fn step(&self) -> u64 {
        self.step
    }

    fn to_record(&self) -> StateRecord {
        let r = StateRecord::new(self.step);
        match &self.second_moment {
            SecondMoment::Factored { row_var, col_var } => {
                r.with("row_var", row_var).with("col_var", col_var)
            }
            SecondMoment::Full { variance } => r.with("variance", variance),
        }
    }

    fn from_record(mut r: StateRecord) -> Result<Self, OptimError> {
        let second_moment = match r.optional_tensor("variance") {
            Some(variance) => SecondMoment::Full { variance },
            None => SecondMoment::Factored {
                row_var: r.tensor("row_var")?,
                col_var: r.tensor("col_var")?,
            },
        };
        Ok(AdafactorState {
            step: r.step,
            second_moment,
        })
    }
}

#[typetag::serde(name = "Adafactor")]
impl OptimizerConfig for AdafactorConfig {
    fn validate(&self) -> Result<(), OptimError> {
        let t = self.name();
        non_negative(t, "lr", self.lr)?;
        if self.beta2_decay.is_nan() || self.beta2_decay > 0.0 {
            return Err(OptimError::config(
                t,
                "beta2_decay",
                format!("must be <= 0, got {}", self.beta2_decay),
            ));
        }
        if let Eps1(Some(e1)) = self.eps.0 {
            non_negative(t, "eps[0]", e1)?;
        }
        non_negative(t, "eps[1]", self.eps.1)?;
        if self.d.is_nan() || self.d < 1.0 {
            return Err(OptimError::config(
                t,
                "d",
                format!("must be >= 1, got {}", self.d),
            ));
        }
        non_negative(t, "weight_decay", self.weight_decay)
    }

    fn build(
        &self,
        params: Vec<NamedParam>,
        groups: &[ParamGroupConfig],
    ) -> Result<Box<dyn Optimizer>, OptimError> {
        Ok(Box::new(Adafactor::new(self, params, groups)?))
    }
}

impl UpdateRule for AdafactorConfig {
    hyper_accessors!(lr);

    type State = AdafactorState;

    fn init_state(&self, param: &Tensor) -> AdafactorState {
        let shape = param.shape();
        let second_moment = if shape.len() > 1 {
            let mut row = shape.to_vec();
            *row.last_mut().expect("rank > 1") = 1;
            let mut col = shape.to_vec();
            col[shape.len() - 2] = 1;
            SecondMoment::Factored {
                row_var: Tensor::zeros(&row, param.dtype()),
                col_var: Tensor::zeros(&col, param.dtype()),
            }
        } else {
            SecondMoment::Full {
                variance: param.zeros_like(),
            }
        };
        AdafactorState {
            step: 0,
            second_moment,
        }
    }

    fn update(&self, param: &mut Tensor, grad: &Tensor, state: &mut AdafactorState) {
        state.step += 1;
        let t = state.step as f64;
        let shape = param.shape().to_vec();
        float_dispatch!(param.dtype(), T => {
            let h = Hyper {
                one_minus_beta2: t.powf(self.beta2_decay),
                rho: self.lr.min(1.0 / t.sqrt()),
                eps1: self.eps.0 .0.unwrap_or(tuna_tensor::Element::to_f64(<T as num_traits::Float>::epsilon())),
                eps2: self.eps.1,
                decay: 1.0 - self.lr * self.weight_decay,
                d: self.d,
                gsign: if self.maximize { -1.0 } else { 1.0 },
            };
            let p = param.data_mut::<T>();
            let g = grad.as_slice::<T>().expect("contiguous grad");
            match &mut state.second_moment {
                SecondMoment::Factored { row_var, col_var } => {
                    let (r, c) = (shape[shape.len() - 2], shape[shape.len() - 1]);
                    kernel_factored(p, g, row_var.data_mut::<T>(), col_var.data_mut::<T>(), r, c, &h);
                }
                SecondMoment::Full { variance } => kernel_1d(p, g, variance.data_mut::<T>(), &h),
            }
        });
    }
}

/// Adafactor's `eps[0]`: a number, or `None` for the dtype's machine epsilon. Deserializes
/// from `null`, `"auto"` or a number; serializes `None` as `"auto"` (TOML has no null).
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct Eps1(pub Option<f64>);

impl Serialize for Eps1 {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self.0 {
            Some(v) => s.serialize_f64(v),
            None => s.serialize_str("auto"),
        }
    }
}

impl<'de> Deserialize<'de> for Eps1 {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        #[derive(Deserialize)]
        #[serde(untagged)]
        enum Repr {
            Num(f64),
            Str(String),
        }
        match Option::<Repr>::deserialize(d)? {
            None => Ok(Eps1(None)),
            Some(Repr::Num(v)) => Ok(Eps1(Some(v))),
            Some(Repr::Str(s)) if s == "auto" => Ok(Eps1(None)),
            Some(Repr::Str(s)) => Err(serde::de::Error::custom(format!(
                "eps[0]: expected a number, null or \"auto\", got {s:?}"
            ))),
        }
    }
}

struct Hyper {
    one_minus_beta2: f64,
    rho: f64,
    eps1: f64,
    eps2: f64,
    decay: f64,
    d: f64,
    gsign: f64,
}

/// PyTorch's `lerp`: `a + w(b - a)` for `w < 0.5`, `b - (b - a)(1 - w)` otherwise.
#[inline(always)]
fn lerp<T: FloatElement>(a: T, b: T, w: T) -> T {
    if w < T::of(0.5) {
        a + w * (b - a)
    } else {
        b - (b - a) * (T::one() - w)
    }
}

/// `α` from the parameter RMS (before weight decay), then applies the weight decay.
fn alpha_and_decay<T: FloatElement>(p: &mut [T], h: &Hyper) -> f64 {
    let ss: f64 = p
        .iter()
        .map(|x| tuna_tensor::Element::to_f64(*x) * tuna_tensor::Element::to_f64(*x))
        .sum();
    let rms = ss.sqrt() / (p.len() as f64).sqrt();
    let alpha = h.eps2.max(rms) * h.rho;
    if h.decay != 1.0 {
        let dcy = T::of(h.decay);
        p.iter_mut().for_each(|x| *x = *x * dcy);
    }
    alpha
}

fn kernel_1d<T: FloatElement>(p: &mut [T], g: &[T], v: &mut [T], h: &Hyper) {
    let alpha = alpha_and_decay(p, h);
    let (w, gs, floor) = (
        T::of(h.one_minus_beta2),
        T::of(h.gsign),
        T::of(h.eps1 * h.eps1),
    );
    let mut un = 0.0f64;
    for (vi, &gi) in v.iter_mut().zip(g) {
        let gi = gs * gi;
        *vi = lerp(*vi, gi * gi, w);
        let u = gi / vi.max(floor).sqrt();
        un += tuna_tensor::Element::to_f64(u) * tuna_tensor::Element::to_f64(u);
    }
    let denom = 1.0f64.max(un.sqrt() / ((p.len() as f64).sqrt() * h.d));
    let step = T::of(alpha / denom);
    for ((pi, &gi), &vi) in p.iter_mut().zip(g).zip(v.iter()) {
        let gi = gs * gi;
        *pi = *pi - step * (gi / vi.max(floor).sqrt());
    }
}

fn kernel_factored<T: FloatElement>(
    p: &mut [T],
    g: &[T],
    row: &mut [T],
    col: &mut [T],
    r: usize,
    c: usize,
    h: &Hyper,
) {
    let alpha = alpha_and_decay(p, h);
    let (w, gs, floor) = (
        T::of(h.one_minus_beta2),
        T::of(h.gsign),
        T::of(h.eps1 * h.eps1),
    );
    let batches = p.len() / (r * c);
    let mut col_mean = vec![T::zero(); c];
    // per batch matrix: the row/col statistics, and the inverse row means
    let mut row_means = vec![T::zero(); batches];
    for bi in 0..batches {
        let gm = &g[bi * r * c..(bi + 1) * r * c];
        let rows = &mut row[bi * r..(bi + 1) * r];
        let cols = &mut col[bi * c..(bi + 1) * c];
        col_mean.iter_mut().for_each(|x| *x = T::zero());
        for i in 0..r {
            let line = &gm[i * c..(i + 1) * c];
            let mut s = T::zero();
            for (j, &x) in line.iter().enumerate() {
                let x2 = x * x;
                s = s + x2;
                col_mean[j] = col_mean[j] + x2;
            }
            rows[i] = lerp(rows[i], s / T::of(c as f64), w);
        }
        for j in 0..c {
            cols[j] = lerp(cols[j], col_mean[j] / T::of(r as f64), w);
        }
        let mean = rows.iter().fold(T::zero(), |a, &x| a + x) / T::of(r as f64);
        row_means[bi] = mean.max(T::of(h.eps1));
    }
    let upd = |bi: usize, i: usize, j: usize, gv: T| -> T {
        let v = (row[bi * r + i] * col[bi * c + j] / row_means[bi]).max(floor);
        gs * gv / v.sqrt()
    };
    let mut un = 0.0f64;
    for bi in 0..batches {
        for i in 0..r {
            for j in 0..c {
                let u = tuna_tensor::Element::to_f64(upd(bi, i, j, g[(bi * r + i) * c + j]));
                un += u * u;
            }
        }
    }
    let denom = 1.0f64.max(un.sqrt() / ((p.len() as f64).sqrt() * h.d));
    let step = T::of(alpha / denom);
    for bi in 0..batches {
        for i in 0..r {
            for j in 0..c {
                let k = (bi * r + i) * c + j;
                p[k] = p[k] - step * upd(bi, i, j, g[k]);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::{quadratic_run, roundtrip};

    #[test]
    fn defaults_match_pytorch() {
        let d = AdafactorConfig::default();
        assert_eq!(
            (d.lr, d.beta2_decay, d.eps, d.d, d.weight_decay),
            (1e-2, -0.8, (Eps1(None), 1e-3), 1.0, 0.0)
        );
    }

    #[test]
    fn validation_names_fields() {
        let e = AdafactorConfig {
            d: 0.5,
            ..Default::default()
        }
        .validate()
        .unwrap_err();
        assert_eq!(e.to_string(), "Adafactor.d: must be >= 1, got 0.5");
        let e = AdafactorConfig {
            beta2_decay: 0.5,
            ..Default::default()
        }
        .validate()
        .unwrap_err();
        assert!(e.to_string().starts_with("Adafactor.beta2_decay:"), "{e}");
    }

    #[test]
    fn serde_round_trip() {
        roundtrip(&AdafactorConfig::default());
        roundtrip(&AdafactorConfig {
            eps: (Eps1(Some(1e-30)), 1e-3),
            ..Default::default()
        });
    }

    #[test]
    fn first_step_closed_form() {
        // t = 1: v = g², u = sign(g), RMS(u) = 1, alpha = max(1e-3, 1) * min(lr, 1) = lr
        let p = quadratic_run(
            &AdafactorConfig {
                lr: 0.1,
                ..Default::default()
            },
            1,
        );
        assert!((p - 0.9).abs() < 1e-12, "{p}");
    }
}
