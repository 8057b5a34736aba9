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

/// Settings of a [`ParzenEstimator`] (Optuna's `_ParzenEstimatorParameters`; the
/// [`TpeSampler`](super::TpeSampler) fields of the same names).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct ParzenParams {
    /// Add the prior kernel.
    pub consider_prior: bool,
    /// The prior kernel's weight (an observation weighs at most 1).
    pub prior_weight: f64,
    /// Clip the bandwidths below at `range / min(100, n_kernels + 1)`.
    pub consider_magic_clip: bool,
    /// Let the outermost kernels' bandwidths count the gap to the domain's ends.
    pub consider_endpoints: bool,
}

impl Default for ParzenParams {
    /// Optuna's defaults: prior on with weight 1, magic clip on, endpoints off.
    fn default() -> Self {
        ParzenParams {
            consider_prior: true,
            prior_weight: 1.0,
            consider_magic_clip: true,
            consider_endpoints: false,
        }
    }
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

    /// The parameter value of `y`, a point of the transformed space (an int rounded to its
    /// grid).
    fn value(self, y: f64) -> ParamValue {
        match self {
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
    }

    /// The domain of a numerical distribution and its bounds in the transformed space (an int
    /// is continuous on `[low - step/2, high + step/2]`).
    fn of(distribution: &Distribution) -> Option<(f64, f64, Domain)> {
        Some(match *distribution {
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
                let domain = Domain::Discrete {
                    low,
                    high,
                    step,
                    log,
                };
                if log {
                    (a.max(f64::MIN_POSITIVE).ln(), b.ln(), domain)
                } else {
                    (a, b, domain)
                }
            }
            Distribution::Choice { .. } => return None,
        })
    }
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

/// Truncated normals on `[lo, hi]` in the transformed space, one per observation and the
/// prior last (Optuna's `_BatchedTruncNormDistributions` and
/// `_BatchedDiscreteTruncNormDistributions`, log variants included).
#[derive(Clone, Debug)]
struct NumericalKernels {
    mus: Vec<f64>,
    sigmas: Vec<f64>,
    lo: f64,
    hi: f64,
    domain: Domain,
}

/// One parameter's kernels, one per observation and the prior last.
#[derive(Clone, Debug)]
enum Kernels {
    /// Truncated normals on one numerical parameter's domain.
    Numerical(NumericalKernels),
    /// One probability row per kernel (Optuna's `_BatchedCategoricalDistributions`).
    Categorical { rows: Vec<Vec<f64>> },
}

impl Kernels {
    fn numerical(
        observations: &[f64],
        distribution: &Distribution,
        n_kernels: usize,
        params: &ParzenParams,
    ) -> Option<Self> {
        let (lo, hi, domain) = Domain::of(distribution)?;
        let mut mus: Vec<f64> = observations.iter().map(|&x| domain.forward(x)).collect();
        let mut sigmas = bandwidths(&mus, lo, hi, params);
        // The prior kernel: centred, as wide as the domain.
        if n_kernels > mus.len() {
            mus.push(0.5 * (lo + hi));
            sigmas.push(hi - lo);
        }
        Some(Kernels::Numerical(NumericalKernels {
            mus,
            sigmas,
            lo,
            hi,
            domain,
        }))
    }

    /// Optuna's `_calculate_categorical_distributions` without a distance function: an
    /// observation's kernel puts `1 + prior_weight / (n + 1)` on its option and
    /// `prior_weight / (n + 1)` on every other (normalized); the prior kernel is uniform.
    fn categorical(
        observations: &[usize],
        n_choices: usize,
        n_kernels: usize,
        params: &ParzenParams,
    ) -> Self {
        let c = n_choices.max(1);
        let uniform = vec![1.0 / c as f64; c];
        if observations.is_empty() {
            return Kernels::Categorical {
                rows: vec![uniform],
            };
        }
        let fill = params.prior_weight / (observations.len() + 1) as f64;
        let row_sum = fill * c as f64 + 1.0;
        let mut rows: Vec<Vec<f64>> = observations
            .iter()
            .map(|&obs| {
                (0..c)
                    .map(|i| if i == obs { fill + 1.0 } else { fill } / row_sum)
                    .collect()
            })
            .collect();
        if n_kernels > rows.len() {
            rows.push(uniform);
        }
        Kernels::Categorical { rows }
    }

    /// A draw from kernel `k`.
    fn sample(&self, k: usize, rng: &mut ChaCha8Rng) -> ParamValue {
        match self {
            Kernels::Categorical { rows } => ParamValue::Choice(pick(&rows[k], rng)),
            Kernels::Numerical(n) => {
                n.domain
                    .value(sample_truncnorm(n.mus[k], n.sigmas[k], n.lo, n.hi, rng))
            }
        }
    }

    /// The log density (continuous, in the transformed space) or log mass (int, choice) of
    /// `v` under kernel `k`.
    fn log_pdf(&self, k: usize, v: ParamValue) -> f64 {
        match self {
            Kernels::Categorical { rows } => match v {
                ParamValue::Choice(i) if i < rows[k].len() => rows[k][i].ln(),
                _ => f64::NEG_INFINITY,
            },
            Kernels::Numerical(n) => {
                numerical_log_pdf(n.mus[k], n.sigmas[k], n.lo, n.hi, n.domain, v)
            }
        }
    }
}

/// `ln` of a truncated normal's density (continuous) or of its mass on `v`'s cell (discrete).
fn numerical_log_pdf(mu: f64, sigma: f64, lo: f64, hi: f64, domain: Domain, v: ParamValue) -> f64 {
    let sigma = sigma.max(EPS);
    let norm = log_gauss_mass((lo - mu) / sigma, (hi - mu) / sigma);
    match domain {
        Domain::Continuous { log } => {
            let y = if log { v.as_f64().ln() } else { v.as_f64() };
            if y < lo || y > hi {
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
            let (a, b) = (a.max(lo), b.min(hi));
            log_gauss_mass((a - mu) / sigma, (b - mu) / sigma) - norm
        }
    }
}

/// TPE's density model: a mixture over observations of product kernels, one factor per
/// parameter, plus the prior kernel (Optuna's `_ParzenEstimator` and
/// `_MixtureOfProductDistribution`). One parameter gives independent TPE's estimator; several
/// give multivariate TPE's, whose kernels keep each observation's values together.
///
/// A numerical parameter gets truncated Gaussians on its domain (in log space for log
/// distributions; an int is continuous on `[low - step/2, high + step/2]` and weighs its
/// cell's mass), bandwidths as Optuna's `_calculate_parzen_bandwidths` with the magic clip,
/// the prior centred and as wide as the domain; a choice gets smoothed categorical kernels and
/// a uniform prior. Observation weights are [`default_weights`](super::default_weights) in
/// the order given, the prior weighs `prior_weight`.
#[derive(Clone, Debug)]
pub struct ParzenEstimator {
    weights: Vec<f64>,
    dims: Vec<Kernels>,
}

impl ParzenEstimator {
    /// The estimator of `observations` (one row per trial, one value per distribution, in
    /// the order of `distributions`; rows of another length or with values of another kind
    /// are the caller's bug and panic).
    pub fn new(
        observations: &[Vec<ParamValue>],
        distributions: &[Distribution],
        params: &ParzenParams,
    ) -> Self {
        let n = observations.len();
        let weights = mixture_weights(n, params);
        let n_kernels = weights.len();
        let dims = distributions
            .iter()
            .enumerate()
            .map(|(d, dist)| match *dist {
                Distribution::Choice { n: c } => {
                    let obs: Vec<usize> = observations
                        .iter()
                        .map(|row| row[d].as_f64() as usize)
                        .collect();
                    Kernels::categorical(&obs, c, n_kernels, params)
                }
                ref numeric => {
                    let obs: Vec<f64> = observations.iter().map(|row| row[d].as_f64()).collect();
                    Kernels::numerical(&obs, numeric, n_kernels, params)
                        .expect("a numerical distribution")
                }
            })
            .collect();
        ParzenEstimator { weights, dims }
    }

    /// `n` draws: each picks a kernel by weight, then one value per parameter from it.
    pub fn sample(&self, rng: &mut ChaCha8Rng, n: usize) -> Vec<Vec<ParamValue>> {
        (0..n)
            .map(|_| {
                let k = pick(&self.weights, rng);
                self.dims.iter().map(|d| d.sample(k, rng)).collect()
            })
            .collect()
    }

    /// The log density of `x` (one value per parameter): continuous factors in the
    /// transformed space (log space for log distributions), discrete ones as masses.
    pub fn log_pdf(&self, x: &[ParamValue]) -> f64 {
        let terms = self.weights.iter().enumerate().map(|(k, &w)| {
            w.ln()
                + self
                    .dims
                    .iter()
                    .zip(x)
                    .map(|(d, &v)| d.log_pdf(k, v))
                    .sum::<f64>()
        });
        logsumexp(terms)
    }
}

/// Optuna's `_calculate_parzen_bandwidths` (univariate): each kernel is as wide as the larger
/// gap to its sorted neighbours (the domain's ends count as points); without
/// `consider_endpoints` the outermost kernels use their inner gap only; then clipped to
/// `[(hi - lo) / min(100, n + 2), hi - lo]` with the magic clip (`n + 2` = one more than the
/// number of kernels including the prior), else `[EPS, hi - lo]`.
fn bandwidths(mus: &[f64], lo: f64, hi: f64, params: &ParzenParams) -> Vec<f64> {
    let n = mus.len();
    if n == 0 {
        return Vec::new();
    }
    let mut order: Vec<usize> = (0..n).collect();
    // A stable sort by value (ties keep the observation order, as numpy's argsort here).
    order.sort_by(|&a, &b| mus[a].total_cmp(&mus[b]));
    let mut points = Vec::with_capacity(n + 2);
    points.push(lo);
    points.extend(order.iter().map(|&i| mus[i]));
    points.push(hi);
    let mut sorted_sigmas: Vec<f64> = (0..n)
        .map(|i| (points[i + 1] - points[i]).max(points[i + 2] - points[i + 1]))
        .collect();
    if !params.consider_endpoints && points.len() >= 4 {
        sorted_sigmas[0] = points[2] - points[1];
        sorted_sigmas[n - 1] = points[n] - points[n - 1];
    }
    let mut sigmas = vec![0.0; n];
    for (s, &original) in sorted_sigmas.iter().zip(&order) {
        sigmas[original] = *s;
    }
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
        let p = ParzenParams::default();
        // Domain [0, 10], observations 1, 2, 9: sorted 0 | 1 2 9 | 10. Gaps: 1 -> endpoint
        // rule 2 - 1 = 1; 2 -> max(1, 7) = 7; 9 -> endpoint rule 9 - 2 = 7. Magic clip
        // min = 10 / min(100, 1 + 4) = 2.
        assert_eq!(
            bandwidths(&[1.0, 2.0, 9.0], 0.0, 10.0, &p),
            vec![2.0, 7.0, 7.0]
        );
        let p2 = ParzenParams {
            consider_magic_clip: false,
            consider_endpoints: true,
            ..p
        };
        assert_eq!(
            bandwidths(&[9.0, 1.0, 2.0], 0.0, 10.0, &p2),
            vec![7.0, 1.0, 7.0]
        );
    }

    fn rows(xs: &[f64], f: fn(f64) -> ParamValue) -> Vec<Vec<ParamValue>> {
        xs.iter().map(|&x| vec![f(x)]).collect()
    }

    #[test]
    fn continuous_density_integrates_to_one() {
        let d = Distribution::Uniform {
            low: -2.0,
            high: 3.0,
        };
        let obs = rows(&[-1.5, 0.0, 0.1, 2.9], ParamValue::Float);
        let est = ParzenEstimator::new(&obs, &[d], &ParzenParams::default());
        let n = 20_000;
        let h = 5.0 / n as f64;
        let total: f64 = (0..n)
            .map(|i| {
                est.log_pdf(&[ParamValue::Float(-2.0 + (i as f64 + 0.5) * h)])
                    .exp()
                    * h
            })
            .sum();
        assert!((total - 1.0).abs() < 1e-4, "{total}");
    }

    #[test]
    fn discrete_mass_sums_to_one() {
        for log in [false, true] {
            let step = if log { 1 } else { 3 };
            let d = Distribution::Int {
                low: 1,
                high: 31,
                step,
                log,
            };
            let obs = rows(&[4.0, 10.0, 31.0], |x| ParamValue::Int(x as i64));
            let est = ParzenEstimator::new(&obs, &[d], &ParzenParams::default());
            let total: f64 = (0..)
                .map(|k| 1 + k * step)
                .take_while(|&x| x <= 31)
                .map(|x| est.log_pdf(&[ParamValue::Int(x)]).exp())
                .sum();
            assert!((total - 1.0).abs() < 1e-9, "log={log}: {total}");
        }
    }

    #[test]
    fn categorical_probabilities_follow_the_observations() {
        let obs = rows(&[0.0, 0.0, 2.0], |x| ParamValue::Choice(x as usize));
        let est = ParzenEstimator::new(
            &obs,
            &[Distribution::Choice { n: 4 }],
            &ParzenParams::default(),
        );
        let p: Vec<f64> = (0..4)
            .map(|i| est.log_pdf(&[ParamValue::Choice(i)]).exp())
            .collect();
        assert!((p.iter().sum::<f64>() - 1.0).abs() < 1e-12);
        assert!(p[0] > p[2] && p[2] > p[1]);
        assert!((p[1] - p[3]).abs() < 1e-15);
    }

    #[test]
    fn joint_density_keeps_observations_together() {
        // Observations on the diagonal (x, choice) = (0.1, 0) and (0.9, 1): the joint
        // estimator puts more mass on matching pairs than on crossed ones, and its density
        // still integrates to one over the product domain.
        let dists = [
            Distribution::Uniform {
                low: 0.0,
                high: 1.0,
            },
            Distribution::Choice { n: 2 },
        ];
        let obs: Vec<Vec<ParamValue>> = [(0.1, 0), (0.9, 1), (0.12, 0), (0.88, 1)]
            .iter()
            .map(|&(x, c)| vec![ParamValue::Float(x), ParamValue::Choice(c)])
            .collect();
        let est = ParzenEstimator::new(&obs, &dists, &ParzenParams::default());
        let at = |x: f64, c: usize| est.log_pdf(&[ParamValue::Float(x), ParamValue::Choice(c)]);
        assert!(at(0.1, 0) > at(0.1, 1) + 0.5);
        assert!(at(0.9, 1) > at(0.9, 0) + 0.5);
        let n = 10_000;
        let h = 1.0 / n as f64;
        let total: f64 = (0..n)
            .map(|i| {
                let x = (i as f64 + 0.5) * h;
                (at(x, 0).exp() + at(x, 1).exp()) * h
            })
            .sum();
        assert!((total - 1.0).abs() < 1e-4, "{total}");
    }
}
