//! Helpers shared by the schedules' unit tests.

use crate::{LrScheduler, LrSchedulerConfig};

/// The lr of group 0 after construction and after each of `n` steps.
pub(crate) fn sequence(sched: &mut dyn LrScheduler, n: usize, metrics: Option<&[f64]>) -> Vec<f64> {
    let mut out = vec![sched.lrs()[0]];
    for k in 0..n {
        sched.step(metrics.map(|m| m[k % m.len()]));
        out.push(sched.lrs()[0]);
    }
    out
}

/// Round-trips a config through JSON (as a trait object) and TOML, checking both give the same
/// JSON value back.
pub(crate) fn assert_round_trip(config: &dyn LrSchedulerConfig) {
    let json = serde_json::to_string(config).unwrap();
    let back: Box<dyn LrSchedulerConfig> = serde_json::from_str(&json).unwrap();
    assert_eq!(serde_json::to_string(&back).unwrap(), json);
    let toml_text = toml::to_string(config).unwrap();
    let back: Box<dyn LrSchedulerConfig> = toml::from_str(&toml_text)
        .unwrap_or_else(|e| panic!("TOML round trip failed: {e}\n{toml_text}"));
    assert_eq!(
        serde_json::to_string(&back).unwrap(),
        json,
        "TOML:\n{toml_text}"
    );
}

/// Saves the state at every step k < n (through JSON), loads it into a fresh instance and
/// checks that continuing gives exactly the uninterrupted sequence.
pub(crate) fn assert_resume(
    config: &dyn LrSchedulerConfig,
    base_lrs: &[f64],
    n: usize,
    metrics: Option<&[f64]>,
) {
    let mut full = config.build(base_lrs).unwrap();
    let reference = sequence(full.as_mut(), n, metrics);
    let mut reference_m = Vec::new();
    {
        let mut s = config.build(base_lrs).unwrap();
        reference_m.push(s.momentum());
        for k in 0..n {
            s.step(metrics.map(|m| m[k % m.len()]));
            reference_m.push(s.momentum());
        }
    }
    for k in 0..n {
        let mut a = config.build(base_lrs).unwrap();
        for j in 0..k {
            a.step(metrics.map(|m| m[j % m.len()]));
        }
        let json = serde_json::to_string(&a.state()).unwrap();
        let state = serde_json::from_str(&json).unwrap();
        let mut b = config.build(base_lrs).unwrap();
        b.load_state(&state).unwrap();
        assert_eq!(b.lrs()[0], reference[k]);
        for j in k..n {
            b.step(metrics.map(|m| m[j % m.len()]));
            assert_eq!(
                b.lrs()[0],
                reference[j + 1],
                "resumed at {k}, step {}",
                j + 1
            );
            assert_eq!(
                b.momentum(),
                reference_m[j + 1],
                "momentum resumed at {k}, step {}",
                j + 1
            );
        }
    }
}

/// Asserts that `a` and `b` agree to 1e-12 relative.
pub(crate) fn assert_close(a: &[f64], b: &[f64]) {
    assert_eq!(a.len(), b.len());
    for (i, (x, y)) in a.iter().zip(b).enumerate() {
        assert!(
            (x - y).abs() <= 1e-12 * x.abs().max(y.abs()).max(1e-300),
            "at {i}: {x} vs {y}"
        );
    }
}
