//! Every case of `fixtures/optuna/tpe_parzen.json` (Optuna 5.1's `_ParzenEstimator` with
//! TPESampler's defaults, written by `fixtures/optuna/gen_tpe_parzen.py`): Tuna's
//! [`ParzenEstimator`] gives the same log densities, for one parameter (independent TPE) and
//! for several (multivariate TPE), with 0, 1, 7 and more than 25 observations.

use serde_json::Value;
use tuna_tune::{Distribution, ParamValue, ParzenEstimator, ParzenParams};

fn fixture() -> Value {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../fixtures/optuna/tpe_parzen.json"
    );
    let text = std::fs::read_to_string(path).expect("fixture present");
    serde_json::from_str(&text).expect("fixture is JSON")
}

fn distribution(spec: &Value) -> Distribution {
    let pair = |key: &str| spec[key].as_array().map(|a| (a[0].clone(), a[1].clone()));
    if let Some(n) = spec["choice"].as_u64() {
        Distribution::Choice { n: n as usize }
    } else if let Some((lo, hi)) = pair("int") {
        Distribution::Int {
            low: lo.as_i64().unwrap(),
            high: hi.as_i64().unwrap(),
            step: spec["step"].as_i64().unwrap(),
            log: spec["log"].as_bool().unwrap(),
        }
    } else if let Some((lo, hi)) = pair("log_uniform") {
        Distribution::LogUniform {
            low: lo.as_f64().unwrap(),
            high: hi.as_f64().unwrap(),
        }
    } else {
        let (lo, hi) = pair("uniform").expect("a known distribution");
        Distribution::Uniform {
            low: lo.as_f64().unwrap(),
            high: hi.as_f64().unwrap(),
        }
    }
}

fn value(x: f64, d: &Distribution) -> ParamValue {
    match d {
        Distribution::Choice { .. } => ParamValue::Choice(x as usize),
        Distribution::Int { .. } => ParamValue::Int(x.round() as i64),
        _ => ParamValue::Float(x),
    }
}

fn rows(v: &Value, dists: &[Distribution]) -> Vec<Vec<ParamValue>> {
    v.as_array()
        .unwrap()
        .iter()
        .map(|row| {
            row.as_array()
                .unwrap()
                .iter()
                .zip(dists)
                .map(|(x, d)| value(x.as_f64().unwrap(), d))
                .collect()
        })
        .collect()
}

#[test]
fn parzen_log_densities_match_optuna() {
    let fixture = fixture();
    let cases = fixture["cases"].as_array().unwrap();
    assert!(cases.len() >= 20, "{} cases", cases.len());
    for case in cases {
        let name = case["name"].as_str().unwrap();
        let dists: Vec<Distribution> = case["space"]
            .as_array()
            .unwrap()
            .iter()
            .map(distribution)
            .collect();
        let est = ParzenEstimator::new(
            &rows(&case["observations"], &dists),
            &dists,
            &ParzenParams::default(),
        );
        let query = rows(&case["query"], &dists);
        for (x, want) in query.iter().zip(case["log_pdf"].as_array().unwrap()) {
            let want = want.as_f64().unwrap();
            let got = est.log_pdf(x);
            assert!(
                (got - want).abs() <= 1e-9 * want.abs().max(1.0),
                "{name}: log_pdf({x:?}) = {got}, Optuna {want}"
            );
        }
    }
}
