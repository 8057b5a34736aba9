//! Independent TPE (Bergstra et al. 2011) as Optuna's `TPESampler` does it.

use std::cmp::Ordering;

use rand_chacha::ChaCha8Rng;
use serde::{Deserialize, Serialize};

use super::parzen::{CategoricalParzen, NumericalParzen, ParzenParams};
use super::random::RandomSampler;
use super::Sampler;
use crate::space::{Distribution, ParamSpec};
use crate::trial::{Direction, FrozenTrial, ParamValue, TrialState};

/// Tree-structured Parzen Estimator, independent per parameter (Optuna's `TPESampler` with
/// `multivariate=False`), with Optuna's defaults.
///
/// For each parameter:
/// 1. The observations are the complete trials (ranked by value, direction-aware) followed by
///    the pruned ones (ranked by their last reported step, later first, then by the value at
///    that step; a pruned trial without values last), as Optuna's `_get_observation_pairs`.
///    Running and failed trials are ignored. With fewer than `n_startup_trials` observations
///    the value is drawn as by [`RandomSampler`].
/// 2. The best [`default_gamma`]`(n)` observations form `l(x)`, the rest `g(x)`; trials in
///    which the parameter is absent (an inactive conditional parameter) count in the ranking
///    and the split but add no kernel (as Optuna).
/// 3. Each side becomes a Parzen estimator: one truncated Gaussian per observation on the
///    domain (in log space for log distributions; an int is continuous on
///    `[low - step/2, high + step/2]`, rounded to its step, with the mass of its cell as its
///    probability), bandwidths as Optuna's `_calculate_parzen_bandwidths` (magic clip), plus
///    the prior (centred, as wide as the domain) weighted `prior_weight`; the observation
///    weights are [`default_weights`] in trial order. A choice gets smoothed categorical
///    kernels and a uniform prior.
/// 4. `n_ei_candidates` draws from `l`; the one maximizing `ln l(x) - ln g(x)` wins (the first
///    on ties).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct TpeSampler {
    /// Add the prior kernel to each estimator.
    pub consider_prior: bool,
    /// The prior kernel's weight (an observation weighs at most 1).
    pub prior_weight: f64,
    /// Clip the bandwidths below at `range / min(100, n_kernels + 1)`.
    pub consider_magic_clip: bool,
    /// Let the outermost kernels' bandwidths count the gap to the domain's ends.
    pub consider_endpoints: bool,
    /// Sample randomly until this many trials are complete or pruned.
    pub n_startup_trials: usize,
    /// Candidates drawn from `l(x)` per sample.
    pub n_ei_candidates: usize,
}

impl Default for TpeSampler {
    fn default() -> Self {
        TpeSampler {
            consider_prior: true,
            prior_weight: 1.0,
            consider_magic_clip: true,
            consider_endpoints: false,
            n_startup_trials: 10,
            n_ei_candidates: 24,
        }
    }
}

/// Optuna's `default_gamma`: how many of `n` observations form `l(x)`, `min(ceil(0.1 n), 25)`.
pub fn default_gamma(n: usize) -> usize {
    n.div_ceil(10).min(25)
}

/// Optuna's `default_weights`: the weights of `n` observations in trial order, 1 each below
/// 25; from 25 on, the oldest `n - 25` ramp linearly from `1/n` to 1 and the newest 25 weigh 1.
pub fn default_weights(n: usize) -> Vec<f64> {
    if n < 25 {
        return vec![1.0; n];
    }
    let m = n - 25;
    let start = 1.0 / n as f64;
    let mut w: Vec<f64> = (0..m)
        .map(|i| {
            if m == 1 {
                start
            } else {
                start + (1.0 - start) * i as f64 / (m - 1) as f64
            }
        })
        .collect();
    w.extend(std::iter::repeat_n(1.0, 25));
    w
}

/// A trial's rank key (lower is better): complete trials first by signed value, then pruned
/// trials by later last step and then signed value at it, then pruned trials without values.
#[derive(Clone, Copy, Debug)]
struct RankKey {
    class: u8,
    neg_step: f64,
    score: f64,
}

impl RankKey {
    fn cmp(&self, other: &Self) -> Ordering {
        self.class
            .cmp(&other.class)
            .then(self.neg_step.total_cmp(&other.neg_step))
            .then(self.score.total_cmp(&other.score))
    }
}

fn rank_key(trial: &FrozenTrial, sign: f64) -> Option<RankKey> {
    let signed = |v: f64| if v.is_nan() { f64::INFINITY } else { sign * v };
    match trial.state {
        TrialState::Complete => trial.value.map(|v| RankKey {
            class: 0,
            neg_step: 0.0,
            score: signed(v),
        }),
        TrialState::Pruned => Some(match trial.intermediate.iter().next_back() {
            Some((&step, &v)) => RankKey {
                class: 1,
                neg_step: -(step as f64),
                score: signed(v),
            },
            None => RankKey {
                class: 2,
                neg_step: 0.0,
                score: 0.0,
            },
        }),
        TrialState::Running | TrialState::Failed => None,
    }
}

/// The trials TPE learns from, split into (below, above), each in trial-number order; `None`
/// while fewer than `n_startup_trials` are usable.
fn split(
    trials: &[FrozenTrial],
    direction: Direction,
    n_startup_trials: usize,
) -> Option<(Vec<&FrozenTrial>, Vec<&FrozenTrial>)> {
    let sign = match direction {
        Direction::Minimize => 1.0,
        Direction::Maximize => -1.0,
    };
    let mut ranked: Vec<(RankKey, &FrozenTrial)> = trials
        .iter()
        .filter_map(|t| rank_key(t, sign).map(|k| (k, t)))
        .collect();
    let n = ranked.len();
    if n < n_startup_trials || n == 0 {
        return None;
    }
    // Chronological first, so ties in the ranking keep trial order (stable sort).
    ranked.sort_by_key(|(_, t)| t.number);
    ranked.sort_by(|a, b| a.0.cmp(&b.0));
    let n_below = default_gamma(n);
    let mut below: Vec<&FrozenTrial> = ranked[..n_below].iter().map(|(_, t)| *t).collect();
    let mut above: Vec<&FrozenTrial> = ranked[n_below..].iter().map(|(_, t)| *t).collect();
    below.sort_by_key(|t| t.number);
    above.sort_by_key(|t| t.number);
    Some((below, above))
}

/// The value of `param` in `trial` as an f64 observation of `distribution`, if present and
/// valid (a value of another kind or outside the bounds, e.g. from an edited space, is
/// skipped).
fn numeric_observation(
    trial: &FrozenTrial,
    name: &str,
    distribution: &Distribution,
) -> Option<f64> {
    let v = trial.params.get(name)?;
    match (distribution, *v) {
        (&Distribution::Uniform { low, high }, ParamValue::Float(x))
        | (&Distribution::LogUniform { low, high }, ParamValue::Float(x)) => {
            (x >= low && x <= high && x.is_finite()).then_some(x)
        }
        (&Distribution::Int { low, high, .. }, ParamValue::Int(x)) => {
            (x >= low && x <= high).then_some(x as f64)
        }
        _ => None,
    }
}

fn choice_observation(trial: &FrozenTrial, name: &str, n: usize) -> Option<usize> {
    match trial.params.get(name)? {
        ParamValue::Choice(i) if *i < n => Some(*i),
        _ => None,
    }
}

impl TpeSampler {
    fn parzen_params(&self) -> ParzenParams {
        ParzenParams {
            consider_prior: self.consider_prior,
            prior_weight: self.prior_weight,
            consider_magic_clip: self.consider_magic_clip,
            consider_endpoints: self.consider_endpoints,
        }
    }
}

#[typetag::serde(name = "TPESampler")]
impl Sampler for TpeSampler {
    fn sample(
        &self,
        param: &ParamSpec,
        _space: &[ParamSpec],
        trials: &[FrozenTrial],
        direction: Direction,
        _number: u64,
        rng: &mut ChaCha8Rng,
    ) -> ParamValue {
        let Some((below, above)) = split(trials, direction, self.n_startup_trials) else {
            return RandomSampler::sample_distribution(&param.distribution, rng);
        };
        let params = self.parzen_params();
        let n_candidates = self.n_ei_candidates.max(1);
        let name = param.name.as_str();
        let (candidates, log_l, log_g): (Vec<ParamValue>, Vec<f64>, Vec<f64>) =
            match param.distribution {
                Distribution::Choice { n } => {
                    let obs = |side: &[&FrozenTrial]| -> Vec<usize> {
                        side.iter()
                            .filter_map(|t| choice_observation(t, name, n))
                            .collect()
                    };
                    let l = CategoricalParzen::new(&obs(&below), n, &params);
                    let g = CategoricalParzen::new(&obs(&above), n, &params);
                    let c = l.sample(rng, n_candidates);
                    let ll = c.iter().map(|&v| l.log_pdf(v)).collect();
                    let lg = c.iter().map(|&v| g.log_pdf(v)).collect();
                    (c, ll, lg)
                }
                ref d => {
                    let obs = |side: &[&FrozenTrial]| -> Vec<f64> {
                        side.iter()
                            .filter_map(|t| numeric_observation(t, name, d))
                            .collect()
                    };
                    let l = NumericalParzen::new(&obs(&below), d, &params);
                    let g = NumericalParzen::new(&obs(&above), d, &params);
                    let c = l.sample(rng, n_candidates);
                    let ll = c.iter().map(|&v| l.log_pdf(v)).collect();
                    let lg = c.iter().map(|&v| g.log_pdf(v)).collect();
                    (c, ll, lg)
                }
            };
        let mut best = 0;
        let mut best_score = f64::NEG_INFINITY;
        for (i, (l, g)) in log_l.iter().zip(&log_g).enumerate() {
            let score = l - g;
            // NaN never wins; the first maximum wins ties (np.argmax).
            if score > best_score {
                best = i;
                best_score = score;
            }
        }
        candidates[best]
    }
}
