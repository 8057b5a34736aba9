//! Parzen estimators of TPE: truncated Gaussian mixtures (numerical parameters, in log space
//! for log distributions) and smoothed categorical mixtures.

use std::f64::consts::{LN_2, PI, SQRT_2};

use rand::Rng;
use rand_chacha::ChaCha8Rng;
use rand_distr::StandardNormal;

use super::random::align_int;
use crate::space::Distribution;
use crate::trial::ParamValue;

/// Optuna's `EPS`: the smallest bandwidth without the magic clip.
pub(crate) const EPS: f64 = 1e-12;

/// Settings of the estimators (Optuna's `_ParzenEstimatorParameters`).
#[derive(Clone, Copy, Debug)]
pub(crate) struct ParzenParams {
    pub consider_prior: bool,
    pub prior_weight: f64,
    pub consider_magic_clip: bool,
    pub consider_endpoints: bool,
}

/// `ln Φ(x)`, the log of the standard normal CDF, accurate in both tails.
pub(crate) fn log_ndtr(x: f64) -> f64 {
    if x > 0.0 {
        // ln(1 - Φ(-x)).
        (-0.5 * libm::erfc(x / SQRT_2)).ln_1p()
    } else if x > -35.0 {
        (0.5 * libm::erfc(-x / SQRT_2)).ln()
    } else {
        // Asymptotic series of the Mills ratio.
        let x2 = x * x;
        -0.5 * x2 - (-x).ln() - 0.5 * (2.0 * PI).ln() + (1.0 - 1.0 / x2 + 3.0 / (x2 * x2)).ln()
    }
}

/// `ln(1 - e^x)` for `x <= 0`.
fn log1mexp(x: f64) -> f64 {
    if x > -LN_2 {
        (-x.exp_m1()).ln()
    } else {
        (-x.exp()).ln_1p()
    }
}

/// `ln(Φ(b) - Φ(a))`: the log of the standard normal mass on `[a, b]`.
pub(crate) fn log_gauss_mass(a: f64, b: f64) -> f64 {
    if b <= a {
        return f64::NEG_INFINITY;
    }
    if b <= 0.0 {
        let lb = log_ndtr(b);
        lb + log1mexp(log_ndtr(a) - lb)
    } else if a >= 0.0 {
        log_gauss_mass(-b, -a)
    } else {
        // Both tails are outside: 1 - Φ(a) - Φ(-b).
        let lo = 0.5 * libm::erfc(-a / SQRT_2);
        let hi = 0.5 * libm::erfc(b / SQRT_2);
        (-lo - hi).ln_1p()
    }
}

/// How a distribution maps to the real line the estimators work on.
#[derive(Clone, Copy, Debug)]
enum Domain {
    /// A float, possibly in log space.
    Continuous { log: bool },
    /// An int grid `low, low + step, ..., <= high`, possibly in log space.
    Discrete {
        low: i64,
        high: i64,
        step: i64,
        log: bool,
    },
}

impl Domain {
    fn log(self) -> bool {
        match self {
            Domain::Continuous { log } | Domain::Discrete { log, .. } => log,
        }
    }

    fn forward(self, x: f64) -> f64 {
        if self.log() {
            x.ln()
        } else {
            x
        }
    }
}

/// A mixture of truncated normals on `[lo, hi]` in the transformed space (Optuna's
/// `_BatchedTruncNormDistributions` and `_BatchedDiscreteTruncNormDistributions`, log
/// variants included).
#[derive(Clone, Debug)]
pub(crate) struct NumericalParzen {
    weights: Vec<f64>,
    mus: Vec<f64>,
    sigmas: Vec<f64>,
    lo: f64,
    hi: f64,
    domain: Domain,
}

/// Optuna's `default_weights` without the slicing: flat below 25 observations, then a linear
/// ramp from `1/n` to 1 over the oldest `n - 25` and 1 for the newest 25.
pub(crate) fn weights_for(n: usize) -> Vec<f64> {
    super::tpe::default_weights(n)
}

/// The mixture weights of `n` observation kernels plus the prior kernel (last), normalized.
fn mixture_weights(n: usize, params: &ParzenParams) -> Vec<f64> {
    let mut w = weights_for(n);
    if n == 0 {
        w = vec![1.0];
    } else if params.consider_prior {
        w.push(params.prior_weight);
    }
    let sum: f64 = w.iter().sum();
    if sum > 0.0 && sum.is_finite() {
        for x in &mut w {
            *x /= sum;
        }
    } else {
        let k = w.len() as f64;
        w.iter_mut().for_each(|x| *x = 1.0 / k);
    }
    w
}

impl NumericalParzen {
    /// The estimator of `observations` (external values: floats, or ints as f64) of a
    /// `Uniform`, `LogUniform` or `Int` distribution.
    pub(crate) fn new(
        observations: &[f64],
        distribution: &Distribution,
        params: &ParzenParams,
    ) -> Self {
        let (lo, hi, domain) = match *distribution {
            Distribution::Uniform { low, high } => (low, high, Domain::Continuous { log: false }),
            Distribution::LogUniform { low, high } => {
                (low.ln(), high.ln(), Domain::Continuous { log: true })
            }
            Distribution::Int {
                low,
                high,
                step,
                log,
            } => {
                let step = step.max(1);
                let half = step as f64 / 2.0;
                let (a, b) = (low as f64 - half, high as f64 + half);
                if log {
                    (
                        a.max(f64::MIN_POSITIVE).ln(),
                        b.ln(),
                        Domain::Discrete {
                            low,
                            high,
                            step,
                            log,
                        },
                    )
                } else {
                    (
                        a,
                        b,
                        Domain::Discrete {
                            low,
                            high,
                            step,
                            log,
                        },
                    )
                }
            }
            Distribution::Choice { .. } => unreachable!("a choice uses CategoricalParzen"),
        };
        let mut mus: Vec<f64> = observations.iter().map(|&x| domain.forward(x)).collect();
        let n = mus.len();
        let mut sigmas = bandwidths(&mus, lo, hi, params);
        // The prior kernel: centred, as wide as the domain.
        let weights = mixture_weights(n, params);
        if n == 0 || params.consider_prior {
            mus.push(0.5 * (lo + hi));
            sigmas.push(hi - lo);
        }
        NumericalParzen {
            weights,
            mus,
            sigmas,
            lo,
            hi,
            domain,
        }
    }

    /// `n` draws, as parameter values.
    pub(crate) fn sample(&self, rng: &mut ChaCha8Rng, n: usize) -> Vec<ParamValue> {
        (0..n)
            .map(|_| {
                let k = pick(&self.weights, rng);
                let y = sample_truncnorm(self.mus[k], self.sigmas[k], self.lo, self.hi, rng);
                match self.domain {
                    Domain::Continuous { log } => ParamValue::Float(if log { y.exp() } else { y }),
                    Domain::Discrete {
                        low,
                        high,
                        step,
                        log,
                    } => {
                        let x = if log { y.exp() } else { y };
                        ParamValue::Int(align_int(x, low, high, step))
                    }
                }
            })
            .collect()
    }

    /// The log density (continuous, in the transformed space) or log mass (discrete) of `v`.
    pub(crate) fn log_pdf(&self, v: ParamValue) -> f64 {
        let terms = self
            .weights
            .iter()
            .zip(self.mus.iter().zip(&self.sigmas))
            .map(|(&w, (&mu, &sigma))| {
                let sigma = sigma.max(EPS);
                let norm = log_gauss_mass((self.lo - mu) / sigma, (self.hi - mu) / sigma);
                let lp = match self.domain {
                    Domain::Continuous { log } => {
                        let y = if log { v.as_f64().ln() } else { v.as_f64() };
                        if y < self.lo || y > self.hi {
                            f64::NEG_INFINITY
                        } else {
                            let z = (y - mu) / sigma;
                            -0.5 * z * z - sigma.ln() - 0.5 * (2.0 * PI).ln() - norm
                        }
                    }
                    Domain::Discrete { step, log, .. } => {
                        let x = v.as_f64();
                        let half = step.max(1) as f64 / 2.0;
                        let (a, b) = if log {
                            ((x - half).max(f64::MIN_POSITIVE).ln(), (x + half).ln())
                        } else {
                            (x - half, x + half)
                        };
                        let (a, b) = (a.max(self.lo), b.min(self.hi));
                        log_gauss_mass((a - mu) / sigma, (b - mu) / sigma) - norm
                    }
                };
                w.ln() + lp
            });
        logsumexp(terms)
    }
}

/// Optuna's `_calculate_parzen_bandwidths` (univariate): each kernel is as wide as the larger
/// gap to its sorted neighbours (the domain ends and the prior's centre count as points);
/// without `consider_endpoints` the outermost kernels use their inner gap only; then clipped
/// to `[(hi - lo) / min(100, n + 2), hi - lo]` with the magic clip (`n + 2` = one more than
/// the number of kernels including the prior), else `[EPS, hi - lo]`.
fn bandwidths(mus: &[f64], lo: f64, hi: f64, params: &ParzenParams) -> Vec<f64> {
    let n = mus.len();
    if n == 0 {
        return Vec::new();
    }
    let prior_mu = 0.5 * (lo + hi);
    let mut with_prior: Vec<(f64, usize)> = mus
        .iter()
        .copied()
        .chain(std::iter::once(prior_mu))
        .zip(0..)
        .collect();
    // A stable sort by value (ties keep the observation order).
    with_prior.sort_by(|a, b| a.0.total_cmp(&b.0));
    let mut points = Vec::with_capacity(with_prior.len() + 2);
    points.push(lo);
    points.extend(with_prior.iter().map(|p| p.0));
    points.push(hi);
    let m = with_prior.len();
    let mut sorted_sigmas: Vec<f64> = (0..m)
        .map(|i| (points[i + 1] - points[i]).max(points[i + 2] - points[i + 1]))
        .collect();
    if !params.consider_endpoints && points.len() >= 4 {
        sorted_sigmas[0] = points[2] - points[1];
        sorted_sigmas[m - 1] = points[m] - points[m - 1];
    }
    let mut sigmas = vec![0.0; m];
    for (s, &(_, original)) in sorted_sigmas.iter().zip(&with_prior) {
        sigmas[original] = *s;
    }
    sigmas.truncate(n);
    let maxsigma = hi - lo;
    let minsigma = if params.consider_magic_clip {
        let n_kernels = (n + 1) as f64;
        (hi - lo) / 100f64.min(1.0 + n_kernels)
    } else {
        EPS
    };
    sigmas
        .iter()
        .map(|&s| s.max(minsigma).min(maxsigma))
        .collect()
}

/// A smoothed categorical mixture (Optuna's `_calculate_categorical_distributions` without a
/// distance function): each observation's kernel puts `1 + prior_weight / (n + 1)` on its
/// option and `prior_weight / (n + 1)` on every other (normalized); the prior kernel is
/// uniform. Reduced to the marginal probability of each option.
#[derive(Clone, Debug)]
pub(crate) struct CategoricalParzen {
    probs: Vec<f64>,
}

impl CategoricalParzen {
    /// The estimator of the observed option indices among `n_choices`.
    pub(crate) fn new(observations: &[usize], n_choices: usize, params: &ParzenParams) -> Self {
        let c = n_choices.max(1);
        let n = observations.len();
        if n == 0 {
            return CategoricalParzen {
                probs: vec![1.0 / c as f64; c],
            };
        }
        let weights = mixture_weights(n, params);
        let n_kernels = (n + 1) as f64;
        let fill = params.prior_weight / n_kernels;
        let row_sum = fill * c as f64 + 1.0;
        let mut probs = vec![0.0; c];
        for (&obs, &w) in observations.iter().zip(&weights) {
            for (i, p) in probs.iter_mut().enumerate() {
                let row = if i == obs { fill + 1.0 } else { fill };
                *p += w * row / row_sum;
            }
        }
        if params.consider_prior {
            let w = weights[n];
            probs.iter_mut().for_each(|p| *p += w / c as f64);
        }
        CategoricalParzen { probs }
    }

    /// `n` draws.
    pub(crate) fn sample(&self, rng: &mut ChaCha8Rng, n: usize) -> Vec<ParamValue> {
        (0..n)
            .map(|_| ParamValue::Choice(pick(&self.probs, rng)))
            .collect()
    }

    /// The log probability of `v`.
    pub(crate) fn log_pdf(&self, v: ParamValue) -> f64 {
        match v {
            ParamValue::Choice(i) if i < self.probs.len() => self.probs[i].ln(),
            _ => f64::NEG_INFINITY,
        }
    }
}

/// An index drawn with probability proportional to `weights`.
fn pick(weights: &[f64], rng: &mut ChaCha8Rng) -> usize {
    let total: f64 = weights.iter().sum();
    let mut u = rng.random::<f64>() * total;
    for (i, &w) in weights.iter().enumerate() {
        if u < w {
            return i;
        }
        u -= w;
    }
    // Rounding: the last option with positive weight.
    weights.iter().rposition(|&w| w > 0.0).unwrap_or(0)
}

/// A draw of N(mu, sigma²) truncated to `[lo, hi]`. The kernels' centres lie in the domain
/// and their widths are at most the domain's, so rejection accepts with probability above
/// 1/3; after 256 rejections (impossible in practice) a uniform draw stands in.
fn sample_truncnorm(mu: f64, sigma: f64, lo: f64, hi: f64, rng: &mut ChaCha8Rng) -> f64 {
    if hi <= lo {
        return lo;
    }
    let sigma = sigma.max(EPS);
    for _ in 0..256 {
        let z: f64 = rng.sample(StandardNormal);
        let y = mu + sigma * z;
        if (lo..=hi).contains(&y) {
            return y;
        }
    }
    lo + rng.random::<f64>() * (hi - lo)
}

/// `ln Σ exp(x)` (−∞ for an empty or all −∞ input).
fn logsumexp(xs: impl Iterator<Item = f64> + Clone) -> f64 {
    let m = xs.clone().fold(f64::NEG_INFINITY, f64::max);
    if m == f64::NEG_INFINITY || m.is_nan() {
        return m;
    }
    m + xs.map(|x| (x - m).exp()).sum::<f64>().ln()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn gauss_mass_matches_erf() {
        for &(a, b) in &[
            (-1.0, 1.0),
            (-3.0, -1.0),
            (0.5, 2.0),
            (-0.2, 0.0),
            (2.0, 9.0),
        ] {
            let direct = 0.5 * (libm::erf(b / SQRT_2) - libm::erf(a / SQRT_2));
            assert!(
                (log_gauss_mass(a, b) - direct.ln()).abs() < 1e-10,
                "{a} {b}"
            );
        }
        // Far tails stay finite.
        assert!(log_gauss_mass(40.0, 41.0).is_finite());
        assert!(log_gauss_mass(-41.0, -40.0).is_finite());
        assert!((log_gauss_mass(-50.0, 50.0)).abs() < 1e-12);
    }

    #[test]
    fn bandwidths_follow_optuna() {
        let p = ParzenParams {
            consider_prior: true,
            prior_weight: 1.0,
            consider_magic_clip: true,
            consider_endpoints: false,
        };
        // Domain [0, 10], observations 1 and 7, prior centre 5: sorted 0 | 1 5 7 | 10.
        // Gaps: 1 -> max(1, 4) = 4 but endpoint rule: 5 - 1 = 4; 7 -> max(2, 3) = 3, endpoint
        // rule: 7 - 5 = 2. Magic clip min = 10 / min(100, 1 + 3) = 2.5 -> [4, 2.5].
        let s = bandwidths(&[1.0, 7.0], 0.0, 10.0, &p);
        assert_eq!(s, vec![4.0, 2.5]);
        let p2 = ParzenParams {
            consider_magic_clip: false,
            consider_endpoints: true,
            ..p
        };
        let s = bandwidths(&[1.0, 7.0], 0.0, 10.0, &p2);
        assert_eq!(s, vec![4.0, 3.0]);
    }

    #[test]
    fn continuous_density_integrates_to_one() {
        let p = ParzenParams {
            consider_prior: true,
            prior_weight: 1.0,
            consider_magic_clip: true,
            consider_endpoints: false,
        };
        let d = Distribution::Uniform {
            low: -2.0,
            high: 3.0,
        };
        let est = NumericalParzen::new(&[-1.5, 0.0, 0.1, 2.9], &d, &p);
        let n = 20_000;
        let h = 5.0 / n as f64;
        let total: f64 = (0..n)
            .map(|i| {
                est.log_pdf(ParamValue::Float(-2.0 + (i as f64 + 0.5) * h))
                    .exp()
                    * h
            })
            .sum();
        assert!((total - 1.0).abs() < 1e-4, "{total}");
    }

    #[test]
    fn discrete_mass_sums_to_one() {
        let p = ParzenParams {
            consider_prior: true,
            prior_weight: 1.0,
            consider_magic_clip: true,
            consider_endpoints: false,
        };
        for log in [false, true] {
            let step = if log { 1 } else { 3 };
            let d = Distribution::Int {
                low: 1,
                high: 31,
                step,
                log,
            };
            let est = NumericalParzen::new(&[4.0, 10.0, 31.0], &d, &p);
            let total: f64 = (0..)
                .map(|k| 1 + k * step)
                .take_while(|&x| x <= 31)
                .map(|x| est.log_pdf(ParamValue::Int(x)).exp())
                .sum();
            assert!((total - 1.0).abs() < 1e-9, "log={log}: {total}");
        }
    }

    #[test]
    fn categorical_probabilities_sum_to_one() {
        let p = ParzenParams {
            consider_prior: true,
            prior_weight: 1.0,
            consider_magic_clip: true,
            consider_endpoints: false,
        };
        let est = CategoricalParzen::new(&[0, 0, 2], 4, &p);
        let total: f64 = est.probs.iter().sum();
        assert!((total - 1.0).abs() < 1e-12);
        assert!(est.probs[0] > est.probs[2] && est.probs[2] > est.probs[1]);
        assert!((est.probs[1] - est.probs[3]).abs() < 1e-15);
    }
}
