//! Every case of `fixtures/torch/optim.json` (PyTorch 2.15 trajectories on the analytic
//! problem of the fixture README, section 2), run through the config plugin path:
//! `config` deserializes as `Box<dyn OptimizerConfig>` and `param_groups` as
//! `ParamGroupConfig`s. Each case runs in f64 (tight) and in f32 (the fixture tolerance).

use serde::Deserialize;
use serde_json::Value;
use tuna_autograd::Param;
use tuna_optim::{OptimizerConfig, ParamGroupConfig};
use tuna_tensor::Tensor;

#[derive(Deserialize)]
struct Fixture {
    cases: Vec<Case>,
}

#[derive(Deserialize)]
struct T {
    shape: Vec<usize>,
    data: Vec<f64>,
}

#[derive(Deserialize)]
struct Tol {
    rtol: f64,
    atol: f64,
}

#[derive(Deserialize)]
struct Case {
    name: String,
    config: Value,
    param_groups: Vec<ParamGroupConfig>,
    initial_params: std::collections::BTreeMap<String, T>,
    a: std::collections::BTreeMap<String, T>,
    c: std::collections::BTreeMap<String, T>,
    num_steps: usize,
    trajectory: Vec<std::collections::BTreeMap<String, T>>,
    #[serde(default)]
    ax_trajectory: Option<Vec<std::collections::BTreeMap<String, T>>>,
    tolerance: Tol,
}

fn load() -> Fixture {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../fixtures/torch/optim.json"
    );
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

/// Runs one case at dtype `f32` (`single`) or f64; returns a list of failures.
fn run(case: &Case, single: bool, rtol: f64, atol: f64) -> Vec<String> {
    let cfg: Box<dyn OptimizerConfig> = match serde_json::from_value(case.config.clone()) {
        Ok(c) => c,
        Err(e) => return vec![format!("{}: config does not deserialize: {e}", case.name)],
    };
    if let Err(e) = cfg.validate() {
        return vec![format!("{}: {e}", case.name)];
    }
    let mk = |t: &T| {
        if single {
            Tensor::from_vec(
                t.data.iter().map(|&x| x as f32).collect::<Vec<_>>(),
                &t.shape,
            )
        } else {
            Tensor::from_vec(t.data.clone(), &t.shape)
        }
    };
    let names = ["w", "b"];
    let params: Vec<(String, Param)> = names
        .iter()
        .map(|n| (n.to_string(), Param::new(mk(&case.initial_params[*n]))))
        .collect();
    // only parameters named in some group are given to the optimizer (Muon cases: `w` only)
    let given: Vec<(String, Param)> = params
        .iter()
        .filter(|(n, _)| {
            case.param_groups
                .iter()
                .any(|g| tuna_autograd::name_matches_any(&g.params, n))
        })
        .cloned()
        .collect();
    let mut opt = cfg
        .build(given.clone(), &case.param_groups)
        .unwrap_or_else(|e| panic!("{}: build: {e}", case.name));
    let mut fails = Vec::new();
    for step in 0..case.num_steps {
        for (n, p) in &given {
            let v = p.value().to_vec_f64();
            let a = &case.a[n].data;
            let c = &case.c[n].data;
            let g: Vec<f64> = (0..v.len())
                .map(|i| a[i] * (v[i] - c[i]) + 0.3 * (3.0 * v[i]).cos())
                .collect();
            let shape = p.shape();
            p.set_grad(Some(if single {
                Tensor::from_vec(g.iter().map(|&x| x as f32).collect::<Vec<_>>(), &shape)
            } else {
                Tensor::from_vec(g, &shape)
            }));
        }
        opt.step()
            .unwrap_or_else(|e| panic!("{}: step: {e}", case.name));
        let mut check = |what: &str, got: Vec<f64>, want: &T| {
            for (i, (&g, &w)) in got.iter().zip(&want.data).enumerate() {
                if (g - w).abs() > atol + rtol * w.abs() || g.is_nan() {
                    fails.push(format!(
                        "{} [{}] step {} {what}[{i}]: got {g}, want {w}",
                        case.name,
                        if single { "f32" } else { "f64" },
                        step + 1
                    ));
                    return;
                }
            }
        };
        for (n, p) in &params {
            check(n, p.value().to_vec_f64(), &case.trajectory[step][n]);
        }
        if let Some(ax) = &case.ax_trajectory {
            let st = opt.state_dict();
            for (n, _) in &given {
                let t = &st.tensors[&format!("{n}.ax")];
                check(&format!("{n}.ax"), t.to_vec_f64(), &ax[step][n]);
            }
        }
        if fails.len() > 3 {
            break;
        }
    }
    fails
}

#[test]
fn every_optim_fixture_case() {
    tuna_optim::link();
    let fx = load();
    let mut ran = 0;
    let mut fails = Vec::new();
    for case in &fx.cases {
        // f64: the implementation is the formula, checked tightly (1e-9), except Muon, whose
        // Newton–Schulz runs in bfloat16 as in PyTorch (one bf16 ulp of rounding-order
        // difference is ~1e-8); f32: the fixture's tolerance.
        let (r64, a64) = if case.name.starts_with("Muon/") {
            (case.tolerance.rtol, case.tolerance.atol)
        } else {
            (1e-9, 1e-10)
        };
        fails.extend(run(case, false, r64, a64));
        fails.extend(run(case, true, case.tolerance.rtol, case.tolerance.atol));
        ran += 1;
    }
    assert_eq!(ran, fx.cases.len());
    assert_eq!(ran, 49, "optim.json has 49 cases");
    assert!(
        fails.is_empty(),
        "{} failure(s):\n{}",
        fails.len(),
        fails.join("\n")
    );
}
