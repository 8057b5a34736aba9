//! Random and grid samplers: reproducibility, bounds, grid coverage.

mod common;

use std::collections::BTreeSet;

use common::*;
use tuna_tune::{
    Direction, Distribution, GridSampler, ParamSpec, ParamValue, RandomSampler, Sampler, TpeSampler,
};

/// One parameter of every kind.
fn mixed_space() -> Vec<ParamSpec> {
    vec![
        param(
            "u",
            Distribution::Uniform {
                low: -2.0,
                high: 3.0,
            },
        ),
        param(
            "lu",
            Distribution::LogUniform {
                low: 1e-5,
                high: 1e-1,
            },
        ),
        param(
            "i",
            Distribution::Int {
                low: 64,
                high: 512,
                step: 32,
                log: false,
            },
        ),
        param(
            "il",
            Distribution::Int {
                low: 1,
                high: 1000,
                step: 1,
                log: true,
            },
        ),
        param("c", Distribution::Choice { n: 3 }),
    ]
}

/// A smooth objective of [`mixed_space`], best at u = 1, lu = 1e-3, i = 256, il = 100, c = 2.
fn mixed_objective(p: &std::collections::BTreeMap<String, ParamValue>) -> f64 {
    (f(p, "u") - 1.0).powi(2)
        + (f(p, "lu").log10() + 3.0).powi(2)
        + ((f(p, "i") - 256.0) / 100.0).powi(2)
        + (f(p, "il").log10() - 2.0).powi(2)
        + [1.0, 0.5, 0.0][p["c"].as_f64() as usize]
}

fn assert_in_bounds(spec: &ParamSpec, v: ParamValue) {
    match (&spec.distribution, v) {
        (&Distribution::Uniform { low, high }, ParamValue::Float(x))
        | (&Distribution::LogUniform { low, high }, ParamValue::Float(x)) => {
            assert!(
                x >= low && x <= high,
                "{}: {x} outside [{low}, {high}]",
                spec.name
            )
        }
        (
            &Distribution::Int {
                low, high, step, ..
            },
            ParamValue::Int(x),
        ) => {
            assert!(
                x >= low && x <= high,
                "{}: {x} outside [{low}, {high}]",
                spec.name
            );
            assert_eq!(
                (x - low) % step,
                0,
                "{}: {x} off the step {step}",
                spec.name
            );
        }
        (&Distribution::Choice { n }, ParamValue::Choice(i)) => {
            assert!(i < n, "{}: {i} >= {n}", spec.name)
        }
        (d, v) => panic!("{}: {v:?} is not a value of {d:?}", spec.name),
    }
}

#[test]
fn random_is_reproducible_from_seed() {
    let space = mixed_space();
    let a = run_study(
        &RandomSampler::new(),
        &space,
        Direction::Minimize,
        7,
        30,
        mixed_objective,
    );
    let b = run_study(
        &RandomSampler::new(),
        &space,
        Direction::Minimize,
        7,
        30,
        mixed_objective,
    );
    let c = run_study(
        &RandomSampler::new(),
        &space,
        Direction::Minimize,
        8,
        30,
        mixed_objective,
    );
    assert_eq!(a, b);
    assert_ne!(a, c);
}

#[test]
fn random_values_within_bounds_and_step() {
    let space = mixed_space();
    let trials = run_study(
        &RandomSampler::new(),
        &space,
        Direction::Minimize,
        1,
        2000,
        mixed_objective,
    );
    for t in &trials {
        for spec in &space {
            assert_in_bounds(spec, t.params[&spec.name]);
        }
    }
    // Every int value and every option is reached; the float ranges are covered.
    let ints: BTreeSet<i64> = trials
        .iter()
        .map(|t| t.params["i"].as_f64() as i64)
        .collect();
    assert_eq!(ints, (0..15).map(|k| 64 + 32 * k).collect());
    let choices: BTreeSet<usize> = trials
        .iter()
        .map(|t| t.params["c"].as_f64() as usize)
        .collect();
    assert_eq!(choices.len(), 3);
    let u: Vec<f64> = trials.iter().map(|t| f(&t.params, "u")).collect();
    assert!(u.iter().any(|&x| x < -1.9) && u.iter().any(|&x| x > 2.9));
    // Log-uniform: about a quarter of the draws in each decade.
    let below_1e3 = trials.iter().filter(|t| f(&t.params, "lu") < 1e-3).count() as f64 / 2000.0;
    assert!((below_1e3 - 0.5).abs() < 0.05, "{below_1e3}");
    // Log int: log-uniform on [0.5, 1000.5] rounded, so P(x <= 31) = P(y < 31.5) =
    // ln(31.5 / 0.5) / ln(1000.5 / 0.5) = 0.545.
    let small = trials.iter().filter(|t| f(&t.params, "il") <= 31.0).count() as f64 / 2000.0;
    let want = (31.5f64 / 0.5).ln() / (1000.5f64 / 0.5).ln();
    assert!((small - want).abs() < 0.04, "{small} vs {want}");
}

#[test]
fn tpe_is_reproducible_from_seed() {
    let space = mixed_space();
    let tpe = TpeSampler::default();
    let a = run_study(&tpe, &space, Direction::Minimize, 3, 40, mixed_objective);
    let b = run_study(&tpe, &space, Direction::Minimize, 3, 40, mixed_objective);
    let c = run_study(&tpe, &space, Direction::Minimize, 4, 40, mixed_objective);
    assert_eq!(a, b);
    assert_ne!(a[10..], c[10..]);
}

#[test]
fn tpe_values_within_bounds_and_step() {
    let space = mixed_space();
    for seed in 0..3 {
        let trials = run_study(
            &TpeSampler::default(),
            &space,
            Direction::Minimize,
            seed,
            120,
            mixed_objective,
        );
        for t in &trials {
            for spec in &space {
                assert_in_bounds(spec, t.params[&spec.name]);
            }
        }
    }
}

#[test]
fn tpe_startup_trials_are_random_draws() {
    // Before `n_startup_trials` finished trials, TPE draws exactly as the random sampler.
    let space = mixed_space();
    let tpe = run_study(
        &TpeSampler::default(),
        &space,
        Direction::Minimize,
        11,
        10,
        mixed_objective,
    );
    let random = run_study(
        &RandomSampler::new(),
        &space,
        Direction::Minimize,
        11,
        10,
        mixed_objective,
    );
    assert_eq!(tpe, random);
    let tpe = run_study(
        &TpeSampler::default(),
        &space,
        Direction::Minimize,
        11,
        11,
        mixed_objective,
    );
    let random = run_study(
        &RandomSampler::new(),
        &space,
        Direction::Minimize,
        11,
        11,
        mixed_objective,
    );
    assert_ne!(tpe[10], random[10]);
}

#[test]
fn grid_values_per_distribution() {
    let g = GridSampler::default();
    let floats = |d| {
        g.grid_values(&d)
            .into_iter()
            .map(ParamValue::as_f64)
            .collect::<Vec<_>>()
    };
    assert_eq!(
        floats(Distribution::Uniform {
            low: 0.0,
            high: 1.0
        }),
        vec![0.0, 0.25, 0.5, 0.75, 1.0]
    );
    let lu = floats(Distribution::LogUniform {
        low: 1e-4,
        high: 1.0,
    });
    for (x, want) in lu.iter().zip([1e-4, 1e-3, 1e-2, 1e-1, 1.0]) {
        assert!((x / want - 1.0).abs() < 1e-12, "{lu:?}");
    }
    // Few ints: all of them.
    assert_eq!(
        floats(Distribution::Int {
            low: 1,
            high: 3,
            step: 1,
            log: false
        }),
        vec![1.0, 2.0, 3.0]
    );
    assert_eq!(
        floats(Distribution::Int {
            low: 64,
            high: 192,
            step: 32,
            log: false
        }),
        vec![64.0, 96.0, 128.0, 160.0, 192.0]
    );
    // Many ints: spread and rounded to the step (25 -> 30 and 75 -> 80 round half up).
    assert_eq!(
        floats(Distribution::Int {
            low: 0,
            high: 100,
            step: 10,
            log: false
        }),
        vec![0.0, 30.0, 50.0, 80.0, 100.0]
    );
    // Log ints: 1000^(k/4) = 1, 5.6, 31.6, 177.8, 1000.
    assert_eq!(
        floats(Distribution::Int {
            low: 1,
            high: 1000,
            step: 1,
            log: true
        }),
        vec![1.0, 6.0, 32.0, 178.0, 1000.0]
    );
    // Log ints that collide after rounding are deduplicated: 6^(k/4) = 1, 1.57, 2.45, 3.83, 6
    // -> 1, 2, 2, 4, 6 -> 1, 2, 4, 6.
    assert_eq!(
        floats(Distribution::Int {
            low: 1,
            high: 6,
            step: 1,
            log: true
        }),
        vec![1.0, 2.0, 4.0, 6.0]
    );
    assert_eq!(
        floats(Distribution::Int {
            low: 1,
            high: 5,
            step: 1,
            log: true
        }),
        vec![1.0, 2.0, 3.0, 4.0, 5.0]
    );
    assert_eq!(floats(Distribution::Choice { n: 3 }), vec![0.0, 1.0, 2.0]);
    assert_eq!(
        GridSampler::new(3)
            .grid_values(&Distribution::Uniform {
                low: -1.0,
                high: 1.0
            })
            .len(),
        3
    );
}

#[test]
fn grid_covers_the_product_exactly_once() {
    let space = vec![
        param(
            "u",
            Distribution::Uniform {
                low: 0.0,
                high: 1.0,
            },
        ),
        param(
            "lu",
            Distribution::LogUniform {
                low: 1e-4,
                high: 1.0,
            },
        ),
        param(
            "i",
            Distribution::Int {
                low: 0,
                high: 6,
                step: 2,
                log: false,
            },
        ),
        param("c", Distribution::Choice { n: 3 }),
    ];
    let g = GridSampler::default();
    let size = g.grid_size(&space);
    assert_eq!(size, 5 * 5 * 4 * 3);
    let trials = run_study(&g, &space, Direction::Minimize, 0, 2 * size, |_| 0.0);
    let key = |t: &tuna_tune::FrozenTrial| -> Vec<u64> {
        t.params.values().map(|v| v.as_f64().to_bits()).collect()
    };
    let first: BTreeSet<Vec<u64>> = trials[..size as usize].iter().map(key).collect();
    assert_eq!(
        first.len() as u64,
        size,
        "a combination repeats within the first grid_size trials"
    );
    // Exactly the Cartesian product of the per-parameter grids.
    let mut product: BTreeSet<Vec<u64>> = BTreeSet::new();
    let values: Vec<Vec<ParamValue>> = space
        .iter()
        .map(|p| g.grid_values(&p.distribution))
        .collect();
    // `params` is a BTreeMap: keys c, i, lu, u.
    for c in &values[3] {
        for i in &values[2] {
            for lu in &values[1] {
                for u in &values[0] {
                    product.insert([c, i, lu, u].iter().map(|v| v.as_f64().to_bits()).collect());
                }
            }
        }
    }
    assert_eq!(first, product);
    // Then it cycles; the last parameter varies fastest.
    assert_eq!(trials[size as usize].params, trials[0].params);
    assert_eq!(trials[1].params["c"], ParamValue::Choice(1));
    assert_eq!(trials[1].params["u"], trials[0].params["u"]);
    // Grid ignores the rng and the history: any seed gives the same study.
    assert_eq!(
        run_study(&g, &space, Direction::Minimize, 99, 7, |_| 1.0)[6].params,
        trials[6].params
    );
}

#[test]
fn grid_with_conditional_params_still_covers_active_combinations() {
    let space = vec![
        param("opt", Distribution::Choice { n: 2 }),
        cond_param(
            "opt[0].lr",
            Distribution::Uniform {
                low: 0.0,
                high: 1.0,
            },
            "opt",
            0,
        ),
        cond_param("opt[1].m", Distribution::Choice { n: 2 }, "opt", 1),
    ];
    let g = GridSampler::default();
    assert_eq!(g.grid_size(&space), 2 * 5 * 2);
    let trials = run_study(&g, &space, Direction::Minimize, 0, 20, |_| 0.0);
    let active: BTreeSet<Vec<(String, u64)>> = trials
        .iter()
        .map(|t| {
            t.params
                .iter()
                .map(|(k, v)| (k.clone(), v.as_f64().to_bits()))
                .collect()
        })
        .collect();
    // Option 0 with each of 5 lr values, option 1 with each of 2 m values.
    assert_eq!(active.len(), 5 + 2);
    for t in &trials {
        assert_eq!(
            t.params.contains_key("opt[0].lr"),
            t.params["opt"] == ParamValue::Choice(0)
        );
        assert_eq!(
            t.params.contains_key("opt[1].m"),
            t.params["opt"] == ParamValue::Choice(1)
        );
    }
}

#[test]
fn sampler_configs_deserialize_with_defaults() {
    let tpe: TpeSampler = serde_json::from_str(r#"{"n_startup_trials": 5}"#).unwrap();
    assert_eq!(
        tpe,
        TpeSampler {
            n_startup_trials: 5,
            ..TpeSampler::default()
        }
    );
    assert_eq!(tpe.n_ei_candidates, 24);
    assert!(serde_json::from_str::<TpeSampler>(r#"{"n_startup": 5}"#).is_err());
    let g: GridSampler = serde_json::from_str("{}").unwrap();
    assert_eq!(g.points, 5);
    let _: RandomSampler = serde_json::from_str("{}").unwrap();
    assert!(serde_json::from_str::<RandomSampler>(r#"{"seed": 1}"#).is_err());
    // Samplers are usable as trait objects.
    let _boxed: Vec<Box<dyn Sampler>> =
        vec![Box::new(tpe), Box::new(g), Box::new(RandomSampler::new())];
}
