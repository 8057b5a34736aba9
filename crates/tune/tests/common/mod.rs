//! Shared helpers of the sampler and pruner tests: a minimal study loop and trial builders.
#![allow(dead_code)]

use std::collections::BTreeMap;

use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use tuna_tune::{Direction, Distribution, FrozenTrial, ParamSpec, ParamValue, Sampler, TrialState};

/// The rng of trial `number` of a study seeded `seed` (what the runner does, in spirit).
pub fn trial_rng(seed: u64, number: u64) -> ChaCha8Rng {
    ChaCha8Rng::seed_from_u64(
        seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) ^ number.wrapping_mul(0xD1B5_4A32_D192_ED03),
    )
}

/// A parameter without condition.
pub fn param(name: &str, distribution: Distribution) -> ParamSpec {
    ParamSpec {
        name: name.into(),
        distribution,
        condition: None,
    }
}

/// A parameter active only when `choice` took option `option`.
pub fn cond_param(
    name: &str,
    distribution: Distribution,
    choice: &str,
    option: usize,
) -> ParamSpec {
    ParamSpec {
        name: name.into(),
        distribution,
        condition: Some((choice.into(), option)),
    }
}

/// Samples the active parameters of trial `number` as the study does: the sampler's joint
/// draw first, then the others in `space` order (conditions checked against the values
/// already sampled).
pub fn sample_params(
    sampler: &dyn Sampler,
    space: &[ParamSpec],
    trials: &[FrozenTrial],
    direction: Direction,
    number: u64,
    rng: &mut ChaCha8Rng,
) -> BTreeMap<String, ParamValue> {
    let mut joint = sampler.sample_joint(space, trials, direction, number, rng);
    let mut params = BTreeMap::new();
    for p in space {
        if let Some((choice, option)) = &p.condition {
            if params.get(choice) != Some(&ParamValue::Choice(*option)) {
                continue;
            }
        }
        let v = joint
            .remove(&p.name)
            .unwrap_or_else(|| sampler.sample(p, space, trials, direction, number, rng));
        params.insert(p.name.clone(), v);
    }
    params
}

/// Runs `n` sequential trials of `objective` and returns them (all complete).
pub fn run_study(
    sampler: &dyn Sampler,
    space: &[ParamSpec],
    direction: Direction,
    seed: u64,
    n: u64,
    objective: impl Fn(&BTreeMap<String, ParamValue>) -> f64,
) -> Vec<FrozenTrial> {
    let mut trials = Vec::new();
    for number in 0..n {
        let mut rng = trial_rng(seed, number);
        let params = sample_params(sampler, space, &trials, direction, number, &mut rng);
        let value = objective(&params);
        trials.push(complete_trial(number, params, value));
    }
    trials
}

/// A complete trial with `params` and `value` (no intermediate values).
pub fn complete_trial(
    number: u64,
    params: BTreeMap<String, ParamValue>,
    value: f64,
) -> FrozenTrial {
    FrozenTrial {
        number,
        state: TrialState::Complete,
        params,
        value: Some(value),
        intermediate: BTreeMap::new(),
    }
}

/// The best value of `trials` for `direction`.
pub fn best(trials: &[FrozenTrial], direction: Direction) -> f64 {
    trials
        .iter()
        .filter_map(|t| t.value)
        .fold(None, |acc: Option<f64>, v| match acc {
            Some(a) if !direction.better(v, a) => Some(a),
            _ => Some(v),
        })
        .unwrap()
}

/// A float parameter's value.
pub fn f(params: &BTreeMap<String, ParamValue>, name: &str) -> f64 {
    params[name].as_f64()
}

/// A trial with an intermediate-value curve `values[e - 1]` at epochs `1..=values.len()`.
pub fn curve_trial(number: u64, state: TrialState, values: &[f64]) -> FrozenTrial {
    let intermediate: BTreeMap<u64, f64> = values
        .iter()
        .enumerate()
        .map(|(i, &v)| (i as u64 + 1, v))
        .collect();
    let value = match state {
        TrialState::Complete | TrialState::Pruned => values.last().copied(),
        _ => None,
    };
    FrozenTrial {
        number,
        state,
        params: BTreeMap::new(),
        value,
        intermediate,
    }
}

/// A trial with values at the given `(epoch, value)` points.
pub fn points_trial(number: u64, state: TrialState, points: &[(u64, f64)]) -> FrozenTrial {
    let intermediate: BTreeMap<u64, f64> = points.iter().copied().collect();
    let value = match state {
        TrialState::Complete | TrialState::Pruned => intermediate.values().next_back().copied(),
        _ => None,
    };
    FrozenTrial {
        number,
        state,
        params: BTreeMap::new(),
        value,
        intermediate,
    }
}
