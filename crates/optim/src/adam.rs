//! Adam (Kingma & Ba 2015, *Adam: A Method for Stochastic Optimization*), with AMSGrad
//! (Reddi et al. 2018) and L2 or decoupled weight decay; matches `torch.optim.Adam`.
//!
//! ```text
//! g  = ±grad                                   (− if maximize)
//! p  = p * (1 - lr*wd)    if decoupled_weight_decay    else  g = g + wd*p
//! m  = m + (1-β1) * (g - m)                    (m.lerp_(g, 1-β1))
//! v  = β2*v + (1-β2) * g²
//! v̂  = max(v̂, v) if amsgrad else v
//! p  = p - lr/(1-β1^t) * m / (sqrt(v̂)/sqrt(1-β2^t) + eps)
//! ```
//!
//! The update is one fused, branch-free loop over the parameter (bias corrections and the
//! weight-decay mode folded into per-step constants), reading p, g, m, v and writing p, m, v
//! once: memory bound, see `benches/adam.rs`.

use serde::{Deserialize, Serialize};
use tuna_autograd::NamedParam;
use tuna_tensor::{FloatElement, Tensor};

use crate::config::{OptimizerConfig, ParamGroupConfig};
use crate::error::{adam_family, torch_flags, OptimError};
use crate::optimizer::{
    float_dispatch, hyper_accessors, GroupedOptimizer, Optimizer, RuleState, StateRecord,
    UpdateRule,
};

/// Config of [`Adam`] (`type = "Adam"`); fields and defaults are `torch.optim.Adam`'s.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct AdamConfig {
    /// `lr`, default 1e-3.
    pub lr: f64,
    /// `betas` (β1, β2), default (0.9, 0.999).
    pub betas: (f64, f64),
    /// `eps`, default 1e-8.
    pub eps: f64,
    /// `weight_decay`, default 0 (L2 unless `decoupled_weight_decay`).
    pub weight_decay: f64,
    /// `amsgrad`, default false.
    pub amsgrad: bool,
    /// `foreach` (accepted, no effect), default null.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub foreach: Option<bool>,
    /// `maximize`, default false.
    pub maximize: bool,
    /// `capturable` (accepted, no effect on CPU), default false.
    pub capturable: bool,
    /// `differentiable`, default false; `true` is rejected.
    pub differentiable: bool,
    /// `fused` (accepted, no effect: the update is always fused), default null.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub fused: Option<bool>,
    /// `decoupled_weight_decay` (AdamW-style decay), default false.
    pub decoupled_weight_decay: bool,
}

impl Default for AdamConfig {
    fn default() -> Self {
        AdamConfig {
            lr: 1e-3,
            betas: (0.9, 0.999),
            eps: 1e-8,
            weight_decay: 0.0,
            amsgrad: false,
            foreach: None,
            maximize: false,
            capturable: false,
            differentiable: false,
            fused: None,
            decoupled_weight_decay: false,
        }
    }
}

/// The runtime Adam optimizer.
pub type Adam = GroupedOptimizer<AdamConfig>;

/// Adam's (and AdamW's) state of one parameter (PyTorch `optimizer.state[p]`).
#[derive(Clone, Debug)]
pub struct AdamState {
    /// Updates applied.
    pub step: u64,
    /// First moment estimate `m`.
    pub exp_avg: Tensor,
    /// Second moment estimate `v`.
    pub exp_avg_sq: Tensor,
    /// The running maximum of `v` (`amsgrad` only).
    pub max_exp_avg_sq: Option<Tensor>,
}

impl RuleState for AdamState {
    fn step(&self) -> u64 {
        self.step
    }

    fn to_record(&self) -> StateRecord {
        StateRecord::new(self.step)
            .with("exp_avg", &self.exp_avg)
            .with("exp_avg_sq", &self.exp_avg_sq)
            .with_optional("max_exp_avg_sq", self.max_exp_avg_sq.as_ref())
    }

    fn from_record(mut r: StateRecord) -> Result<Self, OptimError> {
        Ok(AdamState {
            step: r.step,
            exp_avg: r.tensor("exp_avg")?,
            exp_avg_sq: r.tensor("exp_avg_sq")?,
            max_exp_avg_sq: r.optional_tensor("max_exp_avg_sq"),
        })
    }
}

/// The first and second moment estimates alone (RAdam's and LAMB's state of one parameter).
#[derive(Clone, Debug)]
pub struct MomentState {
    /// Updates applied.
    pub step: u64,
    /// First moment estimate `m`.
    pub exp_avg: Tensor,
    /// Second moment estimate `v`.
    pub exp_avg_sq: Tensor,
}

impl MomentState {
    /// Zero moments shaped like `param`.
    pub fn zeros_like(param: &Tensor) -> Self {
        MomentState {
            step: 0,
            exp_avg: param.zeros_like(),
            exp_avg_sq: param.zeros_like(),
        }
    }
}

impl RuleState for MomentState {
    fn step(&self) -> u64 {
        self.step
    }

    fn to_record(&self) -> StateRecord {
        StateRecord::new(self.step)
            .with("exp_avg", &self.exp_avg)
            .with("exp_avg_sq", &self.exp_avg_sq)
    }

    fn from_record(mut r: StateRecord) -> Result<Self, OptimError> {
        Ok(MomentState {
            step: r.step,
            exp_avg: r.tensor("exp_avg")?,
            exp_avg_sq: r.tensor("exp_avg_sq")?,
        })
    }
}

#[typetag::serde(name = "Adam")]
impl OptimizerConfig for AdamConfig {
    fn validate(&self) -> Result<(), OptimError> {
        check_adam(self.name(), &self.hyper(), self.differentiable)
    }

    fn build(
        &self,
        params: Vec<NamedParam>,
        groups: &[ParamGroupConfig],
    ) -> Result<Box<dyn Optimizer>, OptimError> {
        Ok(Box::new(Adam::new(self, params, groups)?))
    }
}

/// Hyperparameters shared by Adam and AdamW.
pub(crate) struct AdamHyper {
    pub lr: f64,
    pub betas: (f64, f64),
    pub eps: f64,
    pub weight_decay: f64,
    pub amsgrad: bool,
    pub maximize: bool,
    pub decoupled: bool,
}

pub(crate) fn check_adam(t: &str, h: &AdamHyper, differentiable: bool) -> Result<(), OptimError> {
    adam_family(t, h.lr, h.betas, h.eps, h.weight_decay)?;
    torch_flags(t, differentiable)
}

pub(crate) fn adam_init(amsgrad: bool, param: &Tensor) -> AdamState {
    AdamState {
        step: 0,
        exp_avg: param.zeros_like(),
        exp_avg_sq: param.zeros_like(),
        max_exp_avg_sq: amsgrad.then(|| param.zeros_like()),
    }
}

/// Per-step constants of the fused Adam loop.
struct AdamCoefs<T> {
    p_scale: T,
    gsign: T,
    wd: T,
    one_minus_b1: T,
    b2: T,
    one_minus_b2: T,
    inv_bc2_sqrt: T,
    eps: T,
    step_size: T,
}

pub(crate) fn adam_update(h: &AdamHyper, param: &mut Tensor, grad: &Tensor, state: &mut AdamState) {
    state.step += 1;
    let t = state.step as f64;
    let (b1, b2) = h.betas;
    let bc1 = 1.0 - b1.powf(t);
    let bc2 = 1.0 - b2.powf(t);
    if h.amsgrad && state.max_exp_avg_sq.is_none() {
        state.max_exp_avg_sq = Some(param.zeros_like());
    }
    let AdamState {
        exp_avg: m,
        exp_avg_sq: v,
        max_exp_avg_sq: vmax,
        ..
    } = state;
    float_dispatch!(param.dtype(), T => {
        let c = AdamCoefs::<T> {
            p_scale: T::of(if h.decoupled { 1.0 - h.lr * h.weight_decay } else { 1.0 }),
            gsign: T::of(if h.maximize { -1.0 } else { 1.0 }),
            wd: T::of(if h.decoupled { 0.0 } else { h.weight_decay }),
            one_minus_b1: T::of(1.0 - b1),
            b2: T::of(b2),
            one_minus_b2: T::of(1.0 - b2),
            inv_bc2_sqrt: T::of(1.0 / bc2.sqrt()),
            eps: T::of(h.eps),
            step_size: T::of(h.lr / bc1),
        };
        let p = param.data_mut::<T>();
        let g = grad.as_slice::<T>().expect("contiguous grad");
        match (vmax, h.amsgrad) {
            (Some(vm), true) => {
                adam_kernel_amsgrad(p, g, m.data_mut::<T>(), v.data_mut::<T>(), vm.data_mut::<T>(), &c)
            }
            _ => adam_kernel(p, g, m.data_mut::<T>(), v.data_mut::<T>(), &c),
        }
    });
}

/// One pass: reads p, g, m, v; writes p, m, v. Branch-free so it vectorizes. The loop is
/// compiled three times (AVX-512, AVX2, baseline) and picked at run time, as PyTorch's fused
/// kernel is; the code never contracts mul+add into FMA, so every path gives the same bits.
#[inline(never)]
fn adam_kernel<T: FloatElement>(p: &mut [T], g: &[T], m: &mut [T], v: &mut [T], c: &AdamCoefs<T>) {
    #[cfg(target_arch = "x86_64")]
    {
        if std::arch::is_x86_feature_detected!("avx512f") {
            // SAFETY: the CPU supports AVX-512F, checked just above.
            return unsafe { adam_kernel_avx512(p, g, m, v, c) };
        }
        if std::arch::is_x86_feature_detected!("avx2") {
            // SAFETY: the CPU supports AVX2, checked just above.
            return unsafe { adam_kernel_avx2(p, g, m, v, c) };
        }
    }
    adam_loop(p, g, m, v, c)
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f")]
unsafe fn adam_kernel_avx512<T: FloatElement>(
    p: &mut [T],
    g: &[T],
    m: &mut [T],
    v: &mut [T],
    c: &AdamCoefs<T>,
) {
    adam_loop(p, g, m, v, c)
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2")]
unsafe fn adam_kernel_avx2<T: FloatElement>(
    p: &mut [T],
    g: &[T],
    m: &mut [T],
    v: &mut [T],
    c: &AdamCoefs<T>,
) {
    adam_loop(p, g, m, v, c)
}

#[inline(always)]
fn adam_loop<T: FloatElement>(p: &mut [T], g: &[T], m: &mut [T], v: &mut [T], c: &AdamCoefs<T>) {
    let n = p.len();
    let (g, m, v) = (&g[..n], &mut m[..n], &mut v[..n]);
    for i in 0..n {
        let p0 = p[i] * c.p_scale;
        let gi = c.gsign * g[i] + c.wd * p0;
        let mi = m[i] + c.one_minus_b1 * (gi - m[i]);
        let vi = c.b2 * v[i] + c.one_minus_b2 * (gi * gi);
        m[i] = mi;
        v[i] = vi;
        let denom = vi.sqrt() * c.inv_bc2_sqrt + c.eps;
        p[i] = p0 - c.step_size * mi / denom;
    }
}

#[inline(never)]
fn adam_kernel_amsgrad<T: FloatElement>(
    p: &mut [T],
    g: &[T],
    m: &mut [T],
    v: &mut [T],
    vmax: &mut [T],
    c: &AdamCoefs<T>,
) {
    let n = p.len();
    let (g, m, v, vmax) = (&g[..n], &mut m[..n], &mut v[..n], &mut vmax[..n]);
    for i in 0..n {
        let p0 = p[i] * c.p_scale;
        let gi = c.gsign * g[i] + c.wd * p0;
        let mi = m[i] + c.one_minus_b1 * (gi - m[i]);
        let vi = c.b2 * v[i] + c.one_minus_b2 * (gi * gi);
        let vm = vmax[i].max(vi);
        m[i] = mi;
        v[i] = vi;
        vmax[i] = vm;
        let denom = vm.sqrt() * c.inv_bc2_sqrt + c.eps;
        p[i] = p0 - c.step_size * mi / denom;
    }
}

impl AdamConfig {
    fn hyper(&self) -> AdamHyper {
        AdamHyper {
            lr: self.lr,
            betas: self.betas,
            eps: self.eps,
            weight_decay: self.weight_decay,
            amsgrad: self.amsgrad,
            maximize: self.maximize,
            decoupled: self.decoupled_weight_decay,
        }
    }
}

impl UpdateRule for AdamConfig {
    hyper_accessors!(lr, momentum = betas.0);

    type State = AdamState;

    fn init_state(&self, param: &Tensor) -> AdamState {
        adam_init(self.amsgrad, param)
    }

    fn update(&self, param: &mut Tensor, grad: &Tensor, state: &mut AdamState) {
        adam_update(&self.hyper(), param, grad, state)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::{quadratic_run, roundtrip};

    #[test]
    fn simd_dispatch_gives_the_same_bits_as_the_baseline_loop() {
        let n = 1037; // not a multiple of any vector width
        let vals = |k: u32| {
            (0..n)
                .map(|i| {
                    (((i as u32).wrapping_mul(2654435761u32) ^ k) % 2000) as f32 / 1000.0 - 1.0
                })
                .collect::<Vec<f32>>()
        };
        let c = AdamCoefs {
            p_scale: 0.999f32,
            gsign: 1.0,
            wd: 0.01,
            one_minus_b1: 0.1,
            b2: 0.999,
            one_minus_b2: 0.001,
            inv_bc2_sqrt: 31.6,
            eps: 1e-8,
            step_size: 1e-3,
        };
        let g = vals(1);
        let (mut p1, mut m1, mut v1) = (
            vals(2),
            vals(3),
            vals(4).iter().map(|x| x.abs()).collect::<Vec<f32>>(),
        );
        let (mut p2, mut m2, mut v2) = (p1.clone(), m1.clone(), v1.clone());
        adam_kernel(&mut p1, &g, &mut m1, &mut v1, &c);
        adam_loop(&mut p2, &g, &mut m2, &mut v2, &c);
        let bits = |x: &[f32]| x.iter().map(|v| v.to_bits()).collect::<Vec<u32>>();
        assert_eq!(bits(&p1), bits(&p2));
        assert_eq!(bits(&m1), bits(&m2));
        assert_eq!(bits(&v1), bits(&v2));
    }

    #[test]
    fn defaults_match_pytorch() {
        let d = AdamConfig::default();
        assert_eq!(
            (d.lr, d.betas, d.eps, d.weight_decay),
            (1e-3, (0.9, 0.999), 1e-8, 0.0)
        );
        assert!(!d.amsgrad && !d.maximize && !d.decoupled_weight_decay && !d.capturable);
    }

    #[test]
    fn validation_names_fields() {
        let e = AdamConfig {
            betas: (0.9, 1.5),
            ..Default::default()
        }
        .validate()
        .unwrap_err();
        assert_eq!(e.to_string(), "Adam.betas[1]: must be in [0, 1), got 1.5");
        let e = AdamConfig {
            eps: -1.0,
            ..Default::default()
        }
        .validate()
        .unwrap_err();
        assert!(e.to_string().starts_with("Adam.eps:"), "{e}");
    }

    #[test]
    fn serde_round_trip() {
        roundtrip(&AdamConfig {
            amsgrad: true,
            betas: (0.8, 0.95),
            ..Default::default()
        });
    }

    #[test]
    fn first_step_moves_by_lr() {
        // Adam's first step is lr * sign(g) (up to eps).
        let p = quadratic_run(
            &AdamConfig {
                lr: 0.1,
                ..Default::default()
            },
            1,
        );
        assert!((p - 0.9).abs() < 1e-7, "{p}");
    }
}
