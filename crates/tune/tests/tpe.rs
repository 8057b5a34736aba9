//! TPE: beats random search on synthetic functions, handles choices, conditional parameters,
//! directions and pruned trials; multivariate TPE keeps good combinations together; the
//! constant liar spreads parallel proposals.

mod common;

use std::collections::BTreeMap;

use common::*;
use tuna_tune::{
    Direction, Distribution, FrozenTrial, ParamSpec, ParamValue, RandomSampler, Sampler,
    TpeSampler, TrialState,
};

const SEEDS: u64 = 10;
const BUDGET: u64 = 50;

/// Mean over `SEEDS` seeds of the best value found in `BUDGET` trials.
fn mean_best(
    sampler: &dyn Sampler,
    space: &[ParamSpec],
    objective: &dyn Fn(&BTreeMap<String, ParamValue>) -> f64,
) -> f64 {
    (0..SEEDS)
        .map(|seed| {
            best(
                &run_study(sampler, space, Direction::Minimize, seed, BUDGET, objective),
                Direction::Minimize,
            )
        })
        .sum::<f64>()
        / SEEDS as f64
}

fn branin(p: &BTreeMap<String, ParamValue>) -> f64 {
    use std::f64::consts::PI;
    let (x, y) = (f(p, "x"), f(p, "y"));
    let b = 5.1 / (4.0 * PI * PI);
    let c = 5.0 / PI;
    let t = 1.0 / (8.0 * PI);
    (y - b * x * x + c * x - 6.0).powi(2) + 10.0 * (1.0 - t) * x.cos() + 10.0
}

/// Branin's domain, `x` in [-5, 10] and `y` in [0, 15].
fn branin_space() -> Vec<ParamSpec> {
    vec![
        param(
            "x",
            Distribution::Uniform {
                low: -5.0,
                high: 10.0,
            },
        ),
        param(
            "y",
            Distribution::Uniform {
                low: 0.0,
                high: 15.0,
            },
        ),
    ]
}

#[test]
fn tpe_beats_random_on_branin() {
    // Branin on [-5, 10] x [0, 15], global minimum 0.397887.
    let space = branin_space();
    let tpe = mean_best(&TpeSampler::default(), &space, &branin);
    let random = mean_best(&RandomSampler::new(), &space, &branin);
    eprintln!("branin, {BUDGET} trials, {SEEDS} seeds: mean best TPE {tpe:.4}, random {random:.4}");
    assert!(tpe < random, "TPE {tpe} vs random {random}");
    assert!(
        tpe < 0.75 * random,
        "TPE {tpe} should beat random {random} by at least 25 %"
    );
}

#[test]
fn tpe_beats_random_on_quadratic() {
    // A 2-D quadratic with its minimum (0) off-centre.
    let space = vec![
        param(
            "x",
            Distribution::Uniform {
                low: -10.0,
                high: 10.0,
            },
        ),
        param(
            "y",
            Distribution::Uniform {
                low: -10.0,
                high: 10.0,
            },
        ),
    ];
    let quad =
        |p: &BTreeMap<String, ParamValue>| (f(p, "x") - 3.0).powi(2) + (f(p, "y") + 2.0).powi(2);
    let tpe = mean_best(&TpeSampler::default(), &space, &quad);
    let random = mean_best(&RandomSampler::new(), &space, &quad);
    eprintln!(
        "quadratic, {BUDGET} trials, {SEEDS} seeds: mean best TPE {tpe:.4}, random {random:.4}"
    );
    assert!(tpe < 0.5 * random, "TPE {tpe} vs random {random}");
}

#[test]
fn tpe_beats_random_on_a_mixed_space() {
    // Log float, stepped int, log int and a choice: the shapes of a learning rate, a width,
    // a batch size and an optimizer.
    let space = vec![
        param(
            "lr",
            Distribution::LogUniform {
                low: 1e-5,
                high: 1.0,
            },
        ),
        param(
            "width",
            Distribution::Int {
                low: 32,
                high: 512,
                step: 32,
                log: false,
            },
        ),
        param(
            "batch",
            Distribution::Int {
                low: 1,
                high: 1024,
                step: 1,
                log: true,
            },
        ),
        param("opt", Distribution::Choice { n: 4 }),
    ];
    let obj = |p: &BTreeMap<String, ParamValue>| {
        (f(p, "lr").log10() + 2.5).powi(2)
            + ((f(p, "width") - 384.0) / 128.0).powi(2)
            + (f(p, "batch").log2() - 6.0).powi(2) / 4.0
            + [2.0, 0.0, 1.0, 3.0][p["opt"].as_f64() as usize]
    };
    let tpe = mean_best(&TpeSampler::default(), &space, &obj);
    let random = mean_best(&RandomSampler::new(), &space, &obj);
    eprintln!(
        "mixed space, {BUDGET} trials, {SEEDS} seeds: mean best TPE {tpe:.4}, random {random:.4}"
    );
    assert!(tpe < random, "TPE {tpe} vs random {random}");
}

#[test]
fn tpe_learns_the_best_choice() {
    let space = vec![
        param("opt", Distribution::Choice { n: 4 }),
        param(
            "x",
            Distribution::Uniform {
                low: 0.0,
                high: 1.0,
            },
        ),
    ];
    let obj = |p: &BTreeMap<String, ParamValue>| {
        [5.0, 1.0, 3.0, 4.0][p["opt"].as_f64() as usize] + 0.1 * f(p, "x")
    };
    let mut tpe_hits = 0;
    let mut random_hits = 0;
    for seed in 0..SEEDS {
        let t = run_study(
            &TpeSampler::default(),
            &space,
            Direction::Minimize,
            seed,
            40,
            obj,
        );
        let r = run_study(
            &RandomSampler::new(),
            &space,
            Direction::Minimize,
            seed,
            40,
            obj,
        );
        tpe_hits += t[10..]
            .iter()
            .filter(|t| t.params["opt"] == ParamValue::Choice(1))
            .count();
        random_hits += r[10..]
            .iter()
            .filter(|t| t.params["opt"] == ParamValue::Choice(1))
            .count();
    }
    let n = (SEEDS * 30) as f64;
    let (tpe_rate, random_rate) = (tpe_hits as f64 / n, random_hits as f64 / n);
    eprintln!("best option chosen after startup: TPE {tpe_rate:.2}, random {random_rate:.2}");
    assert!(tpe_rate > 0.6, "{tpe_rate}");
    assert!(random_rate < 0.35, "{random_rate}");
}

#[test]
fn tpe_handles_conditional_params() {
    // Two optimizers, each with its own parameter: `sgd.lr` is absent whenever `opt` is 1.
    let space = vec![
        param("opt", Distribution::Choice { n: 2 }),
        cond_param(
            "opt[0].lr",
            Distribution::LogUniform {
                low: 1e-4,
                high: 1.0,
            },
            "opt",
            0,
        ),
        cond_param(
            "opt[1].beta",
            Distribution::Uniform {
                low: 0.0,
                high: 1.0,
            },
            "opt",
            1,
        ),
    ];
    let obj = |p: &BTreeMap<String, ParamValue>| match p["opt"] {
        ParamValue::Choice(0) => (f(p, "opt[0].lr").log10() + 2.0).powi(2),
        _ => 1.0 + (f(p, "opt[1].beta") - 0.5).powi(2),
    };
    let mut bests = Vec::new();
    for seed in 0..SEEDS {
        let trials = run_study(
            &TpeSampler::default(),
            &space,
            Direction::Minimize,
            seed,
            BUDGET,
            obj,
        );
        for t in &trials {
            let opt = t.params["opt"];
            assert_eq!(
                t.params.contains_key("opt[0].lr"),
                opt == ParamValue::Choice(0)
            );
            assert_eq!(
                t.params.contains_key("opt[1].beta"),
                opt == ParamValue::Choice(1)
            );
            assert_eq!(t.params.len(), 2);
        }
        let late_zero = trials[25..]
            .iter()
            .filter(|t| t.params["opt"] == ParamValue::Choice(0))
            .count();
        assert!(
            late_zero >= 15,
            "seed {seed}: option 0 chosen {late_zero} of 25 times"
        );
        bests.push(best(&trials, Direction::Minimize));
    }
    let mean = bests.iter().sum::<f64>() / bests.len() as f64;
    eprintln!("conditional space: mean best {mean:.5}");
    assert!(mean < 0.02, "{bests:?}");
}

#[test]
fn tpe_maximize_mirrors_minimize() {
    // Maximizing -f ranks the trials exactly as minimizing f, so the studies coincide.
    let space = branin_space();
    let min = run_study(
        &TpeSampler::default(),
        &space,
        Direction::Minimize,
        5,
        40,
        branin,
    );
    let max = run_study(
        &TpeSampler::default(),
        &space,
        Direction::Maximize,
        5,
        40,
        |p| -branin(p),
    );
    for (a, b) in min.iter().zip(&max) {
        assert_eq!(a.params, b.params);
    }
}

fn pruned(number: u64, x: f64, points: &[(u64, f64)]) -> FrozenTrial {
    let mut t = points_trial(number, TrialState::Pruned, points);
    t.params.insert("x".into(), ParamValue::Float(x));
    t
}

/// `n` TPE draws of `x` in [0, 1] given `trials` (different rngs).
fn draws(trials: &[FrozenTrial], n: u64) -> Vec<f64> {
    let p = param(
        "x",
        Distribution::Uniform {
            low: 0.0,
            high: 1.0,
        },
    );
    let space = [p.clone()];
    (0..n)
        .map(|i| {
            let mut rng = trial_rng(1234, i);
            TpeSampler::default()
                .sample(&p, &space, trials, Direction::Minimize, 100, &mut rng)
                .as_f64()
        })
        .collect()
}

fn mean_draw(trials: &[FrozenTrial], n: u64) -> f64 {
    draws(trials, n).iter().sum::<f64>() / n as f64
}

#[test]
fn tpe_ranks_pruned_trials_by_progress_then_value() {
    // 20 pruned trials: two (x = 0.9) reached epoch 10 with a poor value, eighteen
    // (x in 0.05..0.4) stopped at epoch 1 with far better values. gamma(20) = 2, so Optuna's
    // ranking (later step first) puts the two epoch-10 trials in l(x): draws gather near 0.9.
    let mut trials: Vec<FrozenTrial> = (0..18)
        .map(|i| pruned(i, 0.05 + 0.02 * i as f64, &[(1, 0.1)]))
        .collect();
    trials.push(pruned(18, 0.9, &[(1, 5.0), (10, 3.0)]));
    trials.push(pruned(19, 0.91, &[(1, 5.0), (10, 3.0)]));
    let m = mean_draw(&trials, 200);
    assert!(m > 0.7, "{m}");

    // A complete trial outranks every pruned one, whatever the values: two complete trials at
    // x = 0.6 with a bad value join l(x) (gamma(22) = 3: both, and one epoch-10 pruned trial),
    // so draws near 0.6 appear that the pruned-only study never makes.
    let mut with_complete = trials.clone();
    for (n, x) in [(20, 0.6), (21, 0.61)] {
        let mut t = points_trial(n, TrialState::Complete, &[(1, 9.0), (10, 9.0), (20, 9.0)]);
        t.params.insert("x".into(), ParamValue::Float(x));
        with_complete.push(t);
    }
    let near = |trials: &[FrozenTrial]| {
        draws(trials, 200)
            .iter()
            .filter(|x| (*x - 0.6).abs() < 0.1)
            .count()
    };
    let (before, after) = (near(&trials), near(&with_complete));
    eprintln!("draws near 0.6 of 200: pruned only {before}, with complete trials there {after}");
    assert!(
        before < 20 && after > 50,
        "draws near 0.6: {before} -> {after} of 200"
    );

    // Running and failed trials are ignored: with only them, TPE samples at random.
    let running: Vec<FrozenTrial> = (0..30)
        .map(|i| {
            let mut t = points_trial(
                i,
                if i % 2 == 0 {
                    TrialState::Running
                } else {
                    TrialState::Failed
                },
                &[],
            );
            t.params.insert("x".into(), ParamValue::Float(0.99));
            t
        })
        .collect();
    let m = mean_draw(&running, 400);
    assert!((m - 0.5).abs() < 0.05, "{m}");
}

#[test]
fn tpe_concentrates_near_good_observations() {
    // 30 complete trials on a grid of x, value |x - 0.8|: draws gather around 0.8, for floats,
    // log floats and ints alike.
    let cases = [
        (
            Distribution::Uniform {
                low: 0.0,
                high: 1.0,
            },
            0.8,
        ),
        (
            Distribution::LogUniform {
                low: 1e-3,
                high: 1e3,
            },
            10.0,
        ),
        (
            Distribution::Int {
                low: 0,
                high: 100,
                step: 5,
                log: false,
            },
            80.0,
        ),
        (
            Distribution::Int {
                low: 1,
                high: 1000,
                step: 1,
                log: true,
            },
            100.0,
        ),
    ];
    for (d, target) in cases {
        let p = param("x", d.clone());
        let space = [p.clone()];
        let mut trials = Vec::new();
        for i in 0..30u64 {
            let mut rng = trial_rng(7, i);
            let v = RandomSampler::sample_distribution(&d, &mut rng);
            let mut t = points_trial(i, TrialState::Complete, &[]);
            let log = matches!(
                d,
                Distribution::LogUniform { .. } | Distribution::Int { log: true, .. }
            );
            let dist = if log {
                (v.as_f64().ln() - f64::ln(target)).abs()
            } else {
                (v.as_f64() - target).abs()
            };
            t.value = Some(dist);
            t.params.insert("x".into(), v);
            trials.push(t);
        }
        let draws: Vec<f64> = (0..100)
            .map(|i| {
                let mut rng = trial_rng(99, i);
                TpeSampler::default()
                    .sample(&p, &space, &trials, Direction::Minimize, 30, &mut rng)
                    .as_f64()
            })
            .collect();
        let near = |x: f64| match d {
            Distribution::LogUniform { .. } | Distribution::Int { log: true, .. } => {
                (x / target).ln().abs() < 1.5
            }
            Distribution::Uniform { .. } => (x - target).abs() < 0.15,
            _ => (x - target).abs() < 15.0,
        };
        let frac = draws.iter().filter(|&&x| near(x)).count() as f64 / draws.len() as f64;
        assert!(frac > 0.8, "{d:?}: only {frac} of draws near {target}");
    }
}

/// `x` and `y` uniform on `[0, 1]`.
fn unit_square() -> Vec<ParamSpec> {
    ["x", "y"]
        .map(|name| {
            param(
                name,
                Distribution::Uniform {
                    low: 0.0,
                    high: 1.0,
                },
            )
        })
        .to_vec()
}

fn multivariate() -> TpeSampler {
    TpeSampler {
        multivariate: true,
        ..TpeSampler::default()
    }
}

#[test]
fn multivariate_tpe_keeps_good_combinations_together() {
    // The best trials sit at two corners, (0.2, 0.2) and (0.8, 0.8); many bad ones at the
    // crossed corners (0.2, 0.8) and (0.8, 0.2). Each coordinate's good and bad values are
    // the same, so independent TPE cannot tell them apart; multivariate kernels keep each
    // trial's pair and propose the good corners.
    let space = unit_square();
    let mut trials = Vec::new();
    let mut add = |x: f64, y: f64, value: f64| {
        let number = trials.len() as u64;
        let params = BTreeMap::from([
            ("x".to_string(), ParamValue::Float(x)),
            ("y".to_string(), ParamValue::Float(y)),
        ]);
        trials.push(complete_trial(number, params, value));
    };
    for i in 0..10 {
        let d = 0.01 * i as f64;
        if i < 2 {
            add(0.2 + d, 0.2 - d, 0.1 * i as f64);
            add(0.8 - d, 0.8 + d, 0.1 * i as f64 + 0.05);
        }
        add(0.2 + d, 0.8 - d, 5.0 + i as f64);
        add(0.8 - d, 0.2 + d, 5.0 + i as f64);
    }
    let near_good = |sampler: &TpeSampler| {
        (0..200)
            .filter(|&i| {
                let mut rng = trial_rng(99, i);
                let p = sample_params(sampler, &space, &trials, Direction::Minimize, 100, &mut rng);
                let (x, y) = (f(&p, "x"), f(&p, "y"));
                (x - y).abs() < 0.2 && ((x - 0.2).abs() < 0.15 || (x - 0.8).abs() < 0.15)
            })
            .count()
    };
    let (joint, independent) = (
        near_good(&multivariate()),
        near_good(&TpeSampler::default()),
    );
    eprintln!("two corners: proposals at a good corner of 200: multivariate {joint}, independent {independent}");
    assert!(
        joint > 120 && joint > 2 * independent,
        "multivariate {joint} vs independent {independent}"
    );
}

#[test]
fn multivariate_tpe_beats_random_and_leaves_conditional_params_independent() {
    let space = branin_space();
    let tpe = mean_best(&multivariate(), &space, &branin);
    let random = mean_best(&RandomSampler::new(), &space, &branin);
    eprintln!("branin: mean best multivariate TPE {tpe:.4}, random {random:.4}");
    assert!(tpe < 0.75 * random, "{tpe} vs random {random}");

    // The joint draw names only unconditional parameters every finished trial holds.
    let space = vec![
        param("opt", Distribution::Choice { n: 2 }),
        cond_param(
            "opt[0].lr",
            Distribution::LogUniform {
                low: 1e-4,
                high: 1.0,
            },
            "opt",
            0,
        ),
        param(
            "fixed",
            Distribution::Int {
                low: 3,
                high: 3,
                step: 1,
                log: false,
            },
        ),
    ];
    let trials = run_study(&multivariate(), &space, Direction::Minimize, 0, 20, |p| {
        p["opt"].as_f64()
    });
    let mut rng = trial_rng(0, 20);
    let joint = multivariate().sample_joint(&space, &trials, Direction::Minimize, 20, &mut rng);
    assert_eq!(joint.keys().collect::<Vec<_>>(), vec!["opt"]);
    // Before the startup trials are done, nothing is drawn jointly.
    let joint = multivariate().sample_joint(&space, &trials[..5], Direction::Minimize, 5, &mut rng);
    assert!(joint.is_empty());
}

/// Mean distance between the proposals of each batch of `k` trials proposed while the
/// earlier ones of the batch run (parallel workers), over a study of `n` trials.
fn batch_spread(sampler: &TpeSampler, seed: u64, n: u64, k: u64) -> f64 {
    let space = unit_square();
    let obj =
        |p: &BTreeMap<String, ParamValue>| (f(p, "x") - 0.3).powi(2) + (f(p, "y") - 0.6).powi(2);
    let mut trials: Vec<FrozenTrial> = Vec::new();
    let (mut total, mut pairs) = (0.0, 0);
    for start in (0..n).step_by(k as usize) {
        let first = trials.len();
        for number in start..start + k {
            let mut rng = trial_rng(seed, number);
            let params = sample_params(
                sampler,
                &space,
                &trials,
                Direction::Minimize,
                number,
                &mut rng,
            );
            trials.push(FrozenTrial {
                number,
                state: TrialState::Running,
                params,
                value: None,
                intermediate: BTreeMap::new(),
            });
        }
        let batch = &trials[first..];
        if start >= 12 {
            for i in 0..batch.len() {
                for j in i + 1..batch.len() {
                    let (a, b) = (&batch[i].params, &batch[j].params);
                    total += (f(a, "x") - f(b, "x")).hypot(f(a, "y") - f(b, "y"));
                    pairs += 1;
                }
            }
        }
        for t in &mut trials[first..] {
            t.value = Some(obj(&t.params));
            t.state = TrialState::Complete;
        }
    }
    total / pairs as f64
}

#[test]
fn constant_liar_spreads_parallel_proposals() {
    for base in [TpeSampler::default(), multivariate()] {
        let liar = TpeSampler {
            constant_liar: true,
            ..base.clone()
        };
        let spread = |s: &TpeSampler| {
            (0..SEEDS)
                .map(|seed| batch_spread(s, seed, 48, 4))
                .sum::<f64>()
                / SEEDS as f64
        };
        let (with, without) = (spread(&liar), spread(&base));
        eprintln!(
            "multivariate={}: mean distance within a batch of 4, liar {with:.4}, without {without:.4}",
            base.multivariate
        );
        assert!(with > 1.2 * without, "liar {with} vs {without}");
    }
}
