//! Every case of `fixtures/torch/sched.json` (PyTorch reference LR/momentum sequences, schema in
//! `fixtures/torch/README.md` section 3): build the schedule by deserializing the case's config
//! as a trait object (tests the typetag tag and the field names), step it `num_steps` times
//! (with the metrics for ReduceLROnPlateau) and compare the lr, and the momentum or beta1
//! where PyTorch cycles it, at every step.

use serde_json::Value;
use tuna_sched::{LrScheduler, LrSchedulerConfig};

const FIXTURE: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../../fixtures/torch/sched.json"
);

/// Tuna aims at f64 exactness: this is much tighter than the fixture's own tolerance.
const TIGHT_RTOL: f64 = 1e-12;

fn floats(v: &Value) -> Vec<f64> {
    v.as_array()
        .unwrap_or_else(|| panic!("expected an array, got {v}"))
        .iter()
        .map(|x| x.as_f64().unwrap())
        .collect()
}

struct Check {
    rtol: f64,
    atol: f64,
    max_rel_err: f64,
}

impl Check {
    fn compare(&mut self, case: &str, what: &str, step: usize, got: f64, want: f64) {
        let err = (got - want).abs();
        assert!(
            err <= self.atol + self.rtol * want.abs(),
            "{case}: {what}[{step}] = {got}, PyTorch {want} (rtol {}, atol {})",
            self.rtol,
            self.atol
        );
        let rel = err / want.abs().max(self.atol.max(1e-300));
        self.max_rel_err = self.max_rel_err.max(rel);
        assert!(
            err <= TIGHT_RTOL * want.abs() + 1e-18,
            "{case}: {what}[{step}] = {got}, PyTorch {want}: agrees only to {rel:e}"
        );
    }
}

fn run_case(case: &Value) -> f64 {
    let name = case["name"].as_str().unwrap();
    let config: Box<dyn LrSchedulerConfig> = serde_json::from_value(case["config"].clone())
        .unwrap_or_else(|e| panic!("{name}: config does not deserialize: {e}"));
    let optimizer = &case["optimizer"];
    let base_lr = optimizer["lr"].as_f64().unwrap();
    let mut sched: Box<dyn LrScheduler> = config
        .build(&[base_lr])
        .unwrap_or_else(|e| panic!("{name}: build failed: {e}"));
    let num_steps = case["num_steps"].as_u64().unwrap() as usize;
    let want_lr = floats(&case["lr"]);
    assert_eq!(want_lr.len(), num_steps + 1, "{name}");
    let want_base = floats(&case["base_lrs"]);
    assert_eq!(sched.base_lrs(), want_base, "{name}: base_lrs");

    // momentum (SGD) or beta1 (Adam), present only where PyTorch cycles it.
    let momentum_key = ["momentum", "beta1"]
        .into_iter()
        .find(|k| case.get(*k).is_some());
    let want_m = momentum_key.map(|k| floats(&case[k]));
    assert_eq!(
        config.cycles_momentum(),
        want_m.is_some(),
        "{name}: cycles_momentum"
    );
    if momentum_key == Some("beta1") {
        assert!(
            optimizer.get("betas").is_some(),
            "{name}: beta1 is cycled on an Adam-type optimizer"
        );
    }
    let metrics = case.get("metrics").map(floats);

    let max_lr = want_lr.iter().fold(0.0f64, |a, b| a.max(b.abs()));
    let tol = &case["tolerance"];
    let rtol = tol["rtol"].as_f64().unwrap().min(1e-5);
    let atol = tol["atol"].as_f64().unwrap().min(1e-7 * max_lr);
    let mut check = Check {
        rtol,
        atol,
        max_rel_err: 0.0,
    };
    for k in 0..=num_steps {
        if k > 0 {
            let metric = metrics.as_ref().map(|m| m[k - 1]);
            sched.step(metric);
            assert_eq!(sched.last_epoch(), k as i64, "{name}: last_epoch");
        }
        check.compare(name, "lr", k, sched.lrs()[0], want_lr[k]);
        match (&want_m, sched.momentum()) {
            (Some(want), Some(got)) => {
                check.compare(name, momentum_key.unwrap(), k, got[0], want[k])
            }
            (None, None) => {}
            (want, got) => panic!(
                "{name}: momentum expected {:?}, got {got:?}",
                want.is_some()
            ),
        }
    }
    check.max_rel_err
}

#[test]
fn every_pytorch_schedule_case() {
    tuna_sched::link();
    let text = std::fs::read_to_string(FIXTURE).expect("fixtures/torch/sched.json");
    let file: Value = serde_json::from_str(&text).unwrap();
    assert_eq!(file["kind"], "sched");
    let cases = file["cases"].as_array().unwrap();
    let mut run = 0;
    let mut worst = (0.0, "");
    for case in cases {
        let err = run_case(case);
        if err > worst.0 {
            worst = (err, case["name"].as_str().unwrap());
        }
        run += 1;
    }
    assert_eq!(run, cases.len());
    assert_eq!(run, 30, "the fixture file has 30 cases");
    println!(
        "{run} PyTorch schedule cases passed; worst relative error {:e} ({})",
        worst.0, worst.1
    );
}

/// Resuming mid-way through a fixture case (state saved through JSON) gives the PyTorch
/// sequence too.
#[test]
fn every_case_resumes_exactly() {
    let file: Value = serde_json::from_str(&std::fs::read_to_string(FIXTURE).unwrap()).unwrap();
    for case in file["cases"].as_array().unwrap() {
        let name = case["name"].as_str().unwrap();
        let config: Box<dyn LrSchedulerConfig> =
            serde_json::from_value(case["config"].clone()).unwrap();
        let base = [case["optimizer"]["lr"].as_f64().unwrap()];
        let n = case["num_steps"].as_u64().unwrap() as usize;
        let metrics = case.get("metrics").map(floats);
        let metric = |k: usize| metrics.as_ref().map(|m| m[k]);
        let mut full = config.build(&base).unwrap();
        let mut a = config.build(&base).unwrap();
        let k = n / 2 + 1;
        for j in 0..k {
            full.step(metric(j));
            a.step(metric(j));
        }
        let json = serde_json::to_string(&a.state()).unwrap();
        let mut b = config.build(&base).unwrap();
        b.load_state(&serde_json::from_str(&json).unwrap()).unwrap();
        for j in k..n {
            full.step(metric(j));
            b.step(metric(j));
            assert_eq!(full.lrs(), b.lrs(), "{name}: step {}", j + 1);
            assert_eq!(full.momentum(), b.momentum(), "{name}: step {}", j + 1);
        }
    }
}
