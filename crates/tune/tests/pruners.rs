//! Pruners on crafted learning curves (steps are 1-based epochs).

mod common;

use common::*;
use tuna_tune::pruner::NopPruner;
use tuna_tune::{
    Direction, FrozenTrial, HyperbandPruner, MedianPruner, Pruner, SuccessiveHalvingPruner,
    TrialState,
};

use Direction::{Maximize, Minimize};
use TrialState::{Complete, Pruned, Running};

/// Loss curves `base / epoch` for 10 epochs.
fn loss_curve(base: f64) -> Vec<f64> {
    (1..=10).map(|e| base / e as f64).collect()
}

/// Five complete trials with loss curves 1/e .. 5/e (median at epoch e: 3/e).
fn five_complete() -> Vec<FrozenTrial> {
    (0..5)
        .map(|i| curve_trial(i, Complete, &loss_curve(i as f64 + 1.0)))
        .collect()
}

/// Runs `pruner` on `curve` epoch by epoch as the runner does; the epoch it is pruned at.
fn pruned_at(
    pruner: &dyn Pruner,
    number: u64,
    curve: &[f64],
    others: &[FrozenTrial],
    direction: Direction,
) -> Option<u64> {
    let mut t = curve_trial(number, Running, &[]);
    for (i, &v) in curve.iter().enumerate() {
        let step = i as u64 + 1;
        t.intermediate.insert(step, v);
        if pruner.prune(&t, step, others, direction) {
            return Some(step);
        }
    }
    None
}

// ---------------------------------------------------------------- median

#[test]
fn median_prunes_a_bad_curve_and_keeps_good_ones() {
    let others = five_complete();
    let p = MedianPruner::default();
    assert_eq!(
        pruned_at(&p, 9, &loss_curve(10.0), &others, Minimize),
        Some(1)
    );
    assert_eq!(pruned_at(&p, 9, &loss_curve(0.5), &others, Minimize), None);
    // Exactly at the median: not pruned (strictly worse is required).
    assert_eq!(pruned_at(&p, 9, &loss_curve(3.0), &others, Minimize), None);
    // Slightly worse than the median from epoch 4 on.
    let mut late: Vec<f64> = loss_curve(2.0);
    for (i, v) in late.iter_mut().enumerate().skip(3) {
        *v = 3.5 / (i + 1) as f64;
    }
    // Best so far at epoch 4 is 2/3 (epoch 3) < 3/4: the best-so-far rule keeps it until the
    // curve's own best is worse than the median: 3.5/e vs 3/e vs best 2/3 -> epoch 5: 0.6 < 0.667.
    assert_eq!(pruned_at(&p, 9, &late, &others, Minimize), Some(5));
}

#[test]
fn median_uses_the_best_value_so_far() {
    let others = five_complete();
    // Great at epoch 1 (0.1 < median 3.0), terrible afterwards, but its best so far (0.1)
    // stays below the median until epoch 31 would come: never pruned within 10 epochs.
    let mut curve = vec![0.1];
    curve.extend(std::iter::repeat_n(50.0, 9));
    assert_eq!(
        pruned_at(&MedianPruner::default(), 9, &curve, &others, Minimize),
        None
    );
}

#[test]
fn median_respects_startup_warmup_and_interval() {
    let others = five_complete();
    let bad = loss_curve(10.0);
    // Four complete trials < n_startup_trials = 5: no pruning; running/pruned trials do not count.
    let mut four = others[..4].to_vec();
    four.push(curve_trial(4, Running, &loss_curve(1.0)));
    four.push(curve_trial(5, Pruned, &loss_curve(1.0)[..2]));
    assert_eq!(
        pruned_at(&MedianPruner::default(), 9, &bad, &four, Minimize),
        None
    );
    let p = MedianPruner {
        n_startup_trials: 4,
        ..MedianPruner::default()
    };
    assert_eq!(pruned_at(&p, 9, &bad, &four, Minimize), Some(1));
    // No complete trial at all: never.
    assert_eq!(
        pruned_at(
            &MedianPruner {
                n_startup_trials: 0,
                ..MedianPruner::default()
            },
            9,
            &bad,
            &[],
            Minimize
        ),
        None
    );

    // Warm-up: the first 3 epochs are never pruned.
    let p = MedianPruner {
        n_warmup_steps: 3,
        ..MedianPruner::default()
    };
    assert_eq!(pruned_at(&p, 9, &bad, &others, Minimize), Some(4));

    // Interval 2 after a warm-up of 1: checks at epochs 2, 4, 6, ... (Optuna's steps 1, 3, 5).
    let p = MedianPruner {
        n_warmup_steps: 1,
        interval_steps: 2,
        ..MedianPruner::default()
    };
    assert_eq!(pruned_at(&p, 9, &bad, &others, Minimize), Some(2));
    let p = MedianPruner {
        n_warmup_steps: 0,
        interval_steps: 3,
        ..MedianPruner::default()
    };
    // Checks at epochs 1, 4, 7.
    let mut turns = loss_curve(0.5);
    for (i, v) in turns.iter_mut().enumerate().skip(1) {
        *v = 20.0 + i as f64;
    }
    let mut turns_best_bad = turns.clone();
    turns_best_bad[0] = 20.0;
    // Its best so far (0.5, epoch 1) beats the median at epoch 4 (3/4) but not at epoch 7
    // (3/7 = 0.43): caught at the third check, never at the unchecked epochs 5 and 6.
    assert_eq!(pruned_at(&p, 9, &turns, &others, Minimize), Some(7));
    assert_eq!(
        pruned_at(&p, 9, &turns_best_bad, &others, Minimize),
        Some(1)
    );
    let mut good_then_bad = loss_curve(2.0);
    for v in good_then_bad.iter_mut().skip(1) {
        *v = 20.0;
    }
    let p4 = MedianPruner {
        interval_steps: 3,
        ..MedianPruner::default()
    };
    // Epoch 1: 2.0 < 3.0 kept; epochs 2, 3 not checked; epoch 4: best 2.0 > median 0.75.
    assert_eq!(
        pruned_at(&p4, 9, &good_then_bad, &others, Minimize),
        Some(4)
    );

    // A trial that skips a checkpoint is checked at its first report after it: reports at
    // epochs 1 and 5 with checks every 3 epochs (1, 4, 7): epoch 5 is checked.
    let t = points_trial(9, Running, &[(1, 2.0), (5, 20.0)]);
    assert!(!p4.prune(&t, 1, &others, Minimize));
    assert!(p4.prune(&t, 5, &others, Minimize));
    let t = points_trial(9, Running, &[(1, 2.0), (4, 20.0), (5, 20.0)]);
    assert!(
        !p4.prune(&t, 5, &others, Minimize),
        "epoch 5 is not the first report after the epoch-4 checkpoint"
    );
}

#[test]
fn median_needs_n_min_trials_at_the_step() {
    // Only 3 complete trials reported epoch 10 (the others ran 5 epochs).
    let mut others = five_complete();
    for t in &mut others[..2] {
        t.intermediate.retain(|&k, _| k <= 5);
    }
    let bad = points_trial(9, Running, &[(10, 100.0)]);
    assert!(MedianPruner::default().prune(&bad, 10, &others, Minimize));
    let p = MedianPruner {
        n_min_trials: 3,
        ..MedianPruner::default()
    };
    assert!(p.prune(&bad, 10, &others, Minimize));
    let p = MedianPruner {
        n_min_trials: 4,
        ..MedianPruner::default()
    };
    assert!(!p.prune(&bad, 10, &others, Minimize));
}

#[test]
fn median_maximize_and_nan() {
    // Accuracy curves: 0.5 + i/20 growing with the epoch; median of 5 at epoch e.
    let acc = |base: f64| -> Vec<f64> { (1..=10).map(|e| base * (1.0 - 0.5 / e as f64)).collect() };
    let others: Vec<FrozenTrial> = (0..5)
        .map(|i| curve_trial(i, Complete, &acc(0.6 + 0.05 * i as f64)))
        .collect();
    let p = MedianPruner::default();
    assert_eq!(pruned_at(&p, 9, &acc(0.3), &others, Maximize), Some(1));
    assert_eq!(pruned_at(&p, 9, &acc(0.9), &others, Maximize), None);
    // A loss curve would be "bad" when maximizing the same numbers the other way round.
    assert_eq!(pruned_at(&p, 9, &acc(0.3), &others, Minimize), None);
    // All values so far NaN: pruned (Optuna).
    assert_eq!(
        pruned_at(&p, 9, &[f64::NAN, f64::NAN], &others, Maximize),
        Some(1)
    );
    // NaN among the complete trials is ignored in the median.
    let mut with_nan = others.clone();
    with_nan.push(curve_trial(5, Complete, &[f64::NAN; 10]));
    assert_eq!(pruned_at(&p, 9, &acc(0.9), &with_nan, Maximize), None);
}

// ---------------------------------------------------------------- ASHA

/// Complete trials with the given values at epochs 1..=16 (constant curves).
fn flat(numbers_values: &[(u64, f64)]) -> Vec<FrozenTrial> {
    numbers_values
        .iter()
        .map(|&(n, v)| curve_trial(n, Complete, &[v; 16]))
        .collect()
}

#[test]
fn asha_rung_arithmetic() {
    // Rung r ends at min_resource * eta^(s + r):
    // min_resource 1, eta 4, s 0: epochs 1, 4, 16, 64.
    let p = SuccessiveHalvingPruner {
        min_resource: Some(1),
        ..SuccessiveHalvingPruner::default()
    };
    assert_eq!(
        (0..4)
            .map(|r| p.rung_step(1, r).unwrap())
            .collect::<Vec<_>>(),
        vec![1, 4, 16, 64]
    );
    // min_resource 2, eta 3, s 1: 2*3 = 6, 2*9 = 18, 2*27 = 54.
    let p = SuccessiveHalvingPruner {
        min_resource: Some(2),
        reduction_factor: 3,
        min_early_stopping_rate: 1,
        bootstrap_count: 0,
    };
    assert_eq!(
        (0..3)
            .map(|r| p.rung_step(2, r).unwrap())
            .collect::<Vec<_>>(),
        vec![6, 18, 54]
    );
    assert_eq!(p.rung_step(2, 60), None, "overflow is no rung");
    // Auto: the first complete trial's last epoch / 100, at least 1.
    let auto = SuccessiveHalvingPruner::default();
    assert_eq!(auto.resolve_min_resource(&[]), None);
    assert_eq!(
        auto.resolve_min_resource(&[curve_trial(0, Complete, &[1.0; 20])]),
        Some(1)
    );
    let long = points_trial(3, Complete, &[(1, 1.0), (350, 0.5)]);
    let longer = points_trial(5, Complete, &[(1, 1.0), (900, 0.5)]);
    assert_eq!(
        auto.resolve_min_resource(&[longer.clone(), long.clone()]),
        Some(3)
    );
    // Running trials never fix it.
    assert_eq!(
        auto.resolve_min_resource(&[points_trial(0, Running, &[(500, 1.0)])]),
        None
    );
}

#[test]
fn asha_promotes_the_top_fraction_at_each_rung() {
    // eta = 4, rungs at epochs 1, 4, 16. Three finished trials, constant values 1, 2, 3.
    let p = SuccessiveHalvingPruner {
        min_resource: Some(1),
        ..SuccessiveHalvingPruner::default()
    };
    let others = flat(&[(0, 1.0), (1, 2.0), (2, 3.0)]);
    // By hand, a new trial at epoch 1 (rung 0) with value v: competing = {1, 2, 3, v}, k = 4,
    // keep = max(1, 4 / 4) = 1 -> promoted only if v <= 1 (the best of the four).
    assert_eq!(pruned_at(&p, 9, &[2.5; 16], &others, Minimize), Some(1));
    assert_eq!(pruned_at(&p, 9, &[1.0; 16], &others, Minimize), None);
    // Epochs 2 and 3 are inside rung 1: never judged there, however bad. At epoch 4 (rung 1)
    // competing = {1, 2, 3, v}: keep 1 again.
    let mut c = vec![0.5; 16];
    c[1] = 99.0;
    c[2] = 99.0;
    c[3] = 1.5;
    assert_eq!(pruned_at(&p, 9, &c, &others, Minimize), Some(4));
    c[3] = 0.9;
    assert_eq!(pruned_at(&p, 9, &c, &others, Minimize), None);

    // Eight finished trials 1..8: competing k = 9 -> keep = 9 / 4 = 2: the second best of
    // {1..8, v} is 2 when v >= 2, so v = 2 stays and v = 2.01 goes.
    let eight = flat(&(0..8).map(|i| (i, i as f64 + 1.0)).collect::<Vec<_>>());
    assert_eq!(pruned_at(&p, 9, &[2.0; 16], &eight, Minimize), None);
    assert_eq!(pruned_at(&p, 9, &[2.01; 16], &eight, Minimize), Some(1));
    // Maximize: the same numbers, the top two are 8 and 7.
    assert_eq!(pruned_at(&p, 9, &[7.0; 16], &eight, Maximize), None);
    assert_eq!(pruned_at(&p, 9, &[6.99; 16], &eight, Maximize), Some(1));
}

#[test]
fn asha_rung_values_come_from_each_trials_own_rung() {
    let p = SuccessiveHalvingPruner {
        min_resource: Some(1),
        ..SuccessiveHalvingPruner::default()
    };
    // Trial 0 pruned at epoch 1 (value 0.1), trials 1-3 reached epoch 4 with values 5, 6, 7
    // there (and 9 at epoch 1).
    let mut others = vec![curve_trial(0, Pruned, &[0.1])];
    for (n, v4) in [(1, 5.0), (2, 6.0), (3, 7.0)] {
        others.push(curve_trial(n, Running, &[9.0, 8.0, 7.5, v4]));
    }
    // At epoch 4 the rung-1 competitors are 5, 6, 7 (trial 0 never got there): with v = 5.5,
    // k = 4, keep 1 -> 5.5 > 5 pruned; v = 4 promoted. At epoch 1 the competitors are
    // 0.1, 9, 9, 9, so v = 0.5 > 0.1 is pruned there already.
    assert_eq!(
        pruned_at(&p, 9, &[0.05, 5.5, 5.5, 5.5], &others, Minimize),
        Some(4)
    );
    assert_eq!(
        pruned_at(&p, 9, &[0.05, 4.0, 4.0, 4.0], &others, Minimize),
        None
    );
    assert_eq!(
        pruned_at(&p, 9, &[0.5, 0.0, 0.0, 0.0], &others, Minimize),
        Some(1)
    );
    // A trial that skips epochs is judged at its first report at or past each rung end, with
    // that value: reports at 1 and 6 -> judged for rung 1 (epoch 4) at epoch 6.
    let t = points_trial(9, Running, &[(1, 0.05), (6, 5.5)]);
    assert!(!p.prune(&t, 1, &others, Minimize));
    assert!(p.prune(&t, 6, &others, Minimize));
    // NaN at a rung end is pruned; elsewhere ignored.
    assert_eq!(
        pruned_at(&p, 9, &[0.05, f64::NAN, f64::NAN, 1.0], &others, Minimize),
        None
    );
    assert_eq!(pruned_at(&p, 9, &[f64::NAN], &others, Minimize), Some(1));
}

#[test]
fn asha_first_trials_and_early_stopping_rate() {
    let p = SuccessiveHalvingPruner {
        min_resource: Some(1),
        ..SuccessiveHalvingPruner::default()
    };
    // The very first trial has nobody to compete with: never pruned.
    assert_eq!(pruned_at(&p, 0, &loss_curve(100.0), &[], Minimize), None);
    // The second must be at least as good as the first at every rung (k = 2, keep 1).
    let first = vec![curve_trial(0, Complete, &loss_curve(1.0))];
    assert_eq!(
        pruned_at(&p, 1, &loss_curve(1.5), &first, Minimize),
        Some(1)
    );
    // With s = 1 the first rung ends at epoch 4: epochs 1-3 are free.
    let s1 = SuccessiveHalvingPruner {
        min_early_stopping_rate: 1,
        ..p.clone()
    };
    assert_eq!(
        pruned_at(&s1, 1, &loss_curve(1.5), &first, Minimize),
        Some(4)
    );
    // Auto min_resource: no complete trial, no pruning at all.
    let auto = SuccessiveHalvingPruner::default();
    let running = vec![curve_trial(0, Running, &loss_curve(1.0))];
    assert_eq!(
        pruned_at(&auto, 1, &loss_curve(50.0), &running, Minimize),
        None
    );
    assert_eq!(
        pruned_at(&auto, 1, &loss_curve(50.0), &first, Minimize),
        Some(1)
    );
    // bootstrap_count 2: a rung holding at most 2 values (with this trial) prunes (Optuna's rule).
    let boot = SuccessiveHalvingPruner {
        bootstrap_count: 2,
        ..p.clone()
    };
    assert_eq!(
        pruned_at(&boot, 1, &loss_curve(0.5), &first, Minimize),
        Some(1)
    );
    let two = vec![first[0].clone(), curve_trial(2, Complete, &loss_curve(2.0))];
    assert_eq!(pruned_at(&boot, 1, &loss_curve(0.5), &two, Minimize), None);
}

// ---------------------------------------------------------------- Hyperband

#[test]
fn hyperband_brackets_and_budgets() {
    let p = HyperbandPruner {
        max_resource: Some(27),
        ..HyperbandPruner::default()
    };
    // floor(log3(27 / 1)) + 1 = 4 brackets; budgets ceil(4 * 3^s / (s + 1)) for s = 3, 2, 1, 0:
    // 4*27/4 = 27, 4*9/3 = 12, 4*3/2 = 6, 4*1/1 = 4.
    assert_eq!(p.n_brackets(27), 4);
    assert_eq!(p.bracket_budgets(4), vec![27, 12, 6, 4]);
    assert_eq!(p.n_brackets(26), 3);
    assert_eq!(p.n_brackets(100), 5);
    assert_eq!(p.n_brackets(243), 6, "exact powers counted in integers");
    assert_eq!(
        HyperbandPruner {
            min_resource: 3,
            ..p.clone()
        }
        .n_brackets(27),
        3
    );
    assert_eq!(
        HyperbandPruner {
            min_resource: 30,
            ..p.clone()
        }
        .n_brackets(27),
        1
    );
}

#[test]
fn hyperband_bracket_assignment_matches_optuna_and_is_stable() {
    // Optuna: crc32(f"{study_name}_{number}") % 49 walked through budgets [27, 12, 6, 4]
    // (values from Python's binascii.crc32).
    let p = HyperbandPruner::default();
    let got: Vec<u32> = (0..20).map(|n| p.bracket_of(n, 4)).collect();
    assert_eq!(
        got,
        vec![0, 2, 1, 0, 1, 0, 2, 1, 3, 1, 2, 3, 2, 1, 1, 0, 2, 2, 0, 3]
    );
    let named = HyperbandPruner::default().with_study_name("study");
    let got: Vec<u32> = (0..20).map(|n| named.bracket_of(n, 4)).collect();
    assert_eq!(
        got,
        vec![1, 0, 1, 0, 0, 1, 1, 0, 0, 3, 1, 2, 1, 1, 0, 1, 3, 0, 1, 1]
    );
    // Stable across calls and clones; shares follow the budgets over many trials.
    let again = p.clone();
    let mut counts = [0usize; 4];
    for n in 0..49_000 {
        let b = p.bracket_of(n, 4);
        assert_eq!(b, again.bracket_of(n, 4));
        counts[b as usize] += 1;
    }
    for (c, budget) in counts.iter().zip([27.0, 12.0, 6.0, 4.0]) {
        let share = *c as f64 / 49_000.0;
        assert!((share - budget / 49.0).abs() < 0.02, "{counts:?}");
    }
}

#[test]
fn hyperband_compares_only_within_a_bracket() {
    let p = HyperbandPruner {
        max_resource: Some(27),
        ..HyperbandPruner::default()
    };
    let b0: Vec<u64> = (0..).filter(|&n| p.bracket_of(n, 4) == 0).take(3).collect();
    let others_b: Vec<u64> = (0..40)
        .filter(|&n| p.bracket_of(n, 4) != 0)
        .take(10)
        .collect();
    // Ten excellent trials in other brackets: a bracket-0 trial that is alone in its bracket
    // is never pruned, however bad.
    let others: Vec<FrozenTrial> = others_b
        .iter()
        .map(|&n| curve_trial(n, Complete, &[0.0; 27]))
        .collect();
    assert_eq!(pruned_at(&p, b0[0], &[5.0; 27], &others, Minimize), None);
    // One better trial in bracket 0: bracket 0's first rung ends at epoch 1 (eta^0), k = 2,
    // keep 1 -> pruned at epoch 1.
    let mut with_peer = others.clone();
    with_peer.push(curve_trial(b0[1], Complete, &[1.0; 27]));
    assert_eq!(
        pruned_at(&p, b0[0], &[5.0; 27], &with_peer, Minimize),
        Some(1)
    );
    assert_eq!(pruned_at(&p, b0[0], &[0.5; 27], &with_peer, Minimize), None);
}

#[test]
fn hyperband_brackets_have_increasing_first_rungs() {
    let p = HyperbandPruner {
        max_resource: Some(27),
        ..HyperbandPruner::default()
    };
    // Bracket b's first rung ends at 3^b epochs: 1, 3, 9, 27. A bad trial is pruned there
    // when its bracket has a better peer.
    for (b, first_rung) in [(0u32, 1u64), (1, 3), (2, 9), (3, 27)] {
        let members: Vec<u64> = (0..).filter(|&n| p.bracket_of(n, 4) == b).take(2).collect();
        let peer = vec![curve_trial(members[1], Complete, &[1.0; 27])];
        assert_eq!(
            pruned_at(&p, members[0], &[5.0; 27], &peer, Minimize),
            Some(first_rung),
            "bracket {b}"
        );
    }
    // Auto max_resource: nothing until a trial completes, then its last epoch.
    let auto = HyperbandPruner::default();
    assert_eq!(
        auto.resolve_max_resource(&[curve_trial(0, Running, &[1.0; 27])]),
        None
    );
    assert_eq!(
        auto.resolve_max_resource(&[
            curve_trial(4, Complete, &[1.0; 9]),
            curve_trial(2, Complete, &[1.0; 27])
        ]),
        Some(27)
    );
    let running_only = vec![curve_trial(1, Running, &[0.0; 27])];
    assert_eq!(
        pruned_at(&auto, 0, &[5.0; 27], &running_only, Minimize),
        None
    );
}

#[test]
fn pruner_configs_deserialize_with_defaults() {
    let m: MedianPruner = serde_json::from_str(r#"{"n_warmup_steps": 2}"#).unwrap();
    assert_eq!(
        m,
        MedianPruner {
            n_warmup_steps: 2,
            ..MedianPruner::default()
        }
    );
    assert_eq!(
        (m.n_startup_trials, m.interval_steps, m.n_min_trials),
        (5, 1, 1)
    );
    assert!(serde_json::from_str::<MedianPruner>(r#"{"warmup": 2}"#).is_err());
    let s: SuccessiveHalvingPruner = serde_json::from_str("{}").unwrap();
    assert_eq!(
        s,
        SuccessiveHalvingPruner {
            min_resource: None,
            reduction_factor: 4,
            min_early_stopping_rate: 0,
            bootstrap_count: 0
        }
    );
    let s: SuccessiveHalvingPruner = serde_json::from_str(r#"{"min_resource": 2}"#).unwrap();
    assert_eq!(s.min_resource, Some(2));
    let h: HyperbandPruner = serde_json::from_str(r#"{"max_resource": 30}"#).unwrap();
    assert_eq!(
        (h.min_resource, h.max_resource, h.reduction_factor),
        (1, Some(30), 3)
    );
    assert!(serde_json::from_str::<HyperbandPruner>(r#"{"study_name": "x"}"#).is_err());
    // Validation as Optuna's constructors.
    assert!(MedianPruner {
        interval_steps: 0,
        ..m
    }
    .validate()
    .is_err());
    assert!(SuccessiveHalvingPruner {
        reduction_factor: 1,
        ..s.clone()
    }
    .validate()
    .is_err());
    assert!(SuccessiveHalvingPruner {
        bootstrap_count: 1,
        min_resource: None,
        ..s
    }
    .validate()
    .is_err());
    assert!(HyperbandPruner {
        bootstrap_count: 1,
        ..HyperbandPruner::default()
    }
    .validate()
    .is_err());
    assert!(h.validate().is_ok());
    let _boxed: Vec<Box<dyn Pruner>> =
        vec![Box::new(m), Box::new(h), Box::new(NopPruner::default())];
}
