//! Reading the PyTorch reference fixtures (`fixtures/torch/*.json`, schema in its README).
#![allow(dead_code)]

use std::collections::BTreeMap;

use serde::Deserialize;
use tuna_tensor::Tensor;

/// One tensor as stored in a fixture: flat row-major data with a dtype tag.
#[derive(Deserialize, Clone, Debug)]
pub struct FixtureTensor {
    pub shape: Vec<usize>,
    pub dtype: String,
    pub data: Vec<serde_json::Value>,
}

impl FixtureTensor {
    /// The tensor in its stored dtype (f32 inputs stay f32, as a user would feed them).
    pub fn tensor(&self) -> Tensor {
        match self.dtype.as_str() {
            "f32" => Tensor::from_vec(
                self.data
                    .iter()
                    .map(|v| v.as_f64().unwrap() as f32)
                    .collect::<Vec<f32>>(),
                &self.shape,
            ),
            "f64" => Tensor::from_vec(
                self.data
                    .iter()
                    .map(|v| v.as_f64().unwrap())
                    .collect::<Vec<f64>>(),
                &self.shape,
            ),
            "i64" => Tensor::from_vec(
                self.data
                    .iter()
                    .map(|v| v.as_i64().unwrap())
                    .collect::<Vec<i64>>(),
                &self.shape,
            ),
            "bool" => Tensor::from_vec(
                self.data
                    .iter()
                    .map(|v| v.as_bool().unwrap())
                    .collect::<Vec<bool>>(),
                &self.shape,
            ),
            d => panic!("unknown fixture dtype {d}"),
        }
    }
}

#[derive(Deserialize, Clone, Copy, Debug)]
pub struct Tolerance {
    pub rtol: f64,
    pub atol: f64,
}

#[derive(Deserialize, Clone, Debug)]
pub struct OpCase {
    pub name: String,
    pub function: String,
    pub config: serde_json::Map<String, serde_json::Value>,
    pub inputs: BTreeMap<String, FixtureTensor>,
    pub outputs: BTreeMap<String, FixtureTensor>,
    #[serde(default)]
    pub upstream: BTreeMap<String, FixtureTensor>,
    #[serde(default)]
    pub grads: BTreeMap<String, FixtureTensor>,
    pub tolerance: Tolerance,
}

#[derive(Deserialize)]
struct OpFile {
    cases: Vec<OpCase>,
}

pub fn fixture_path(name: &str) -> String {
    format!("{}/../../fixtures/torch/{name}", env!("CARGO_MANIFEST_DIR"))
}

pub fn load_ops() -> Vec<OpCase> {
    let path = fixture_path("ops.json");
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"));
    let file: OpFile = serde_json::from_str(&text).unwrap_or_else(|e| panic!("{path}: {e}"));
    file.cases
}

/// `|got - ref| <= atol + rtol*|ref|` elementwise (exact for integer outputs); returns a
/// description of the first violation.
pub fn check_close(
    what: &str,
    got: &Tensor,
    want: &FixtureTensor,
    tol: Tolerance,
) -> Result<(), String> {
    if got.shape() != want.shape.as_slice() {
        return Err(format!(
            "{what}: shape {:?}, expected {:?}",
            got.shape(),
            want.shape
        ));
    }
    let w = want.tensor();
    if want.dtype == "i64" || want.dtype == "bool" {
        let (g, w) = (got.to_vec::<i64>(), w.to_vec::<i64>());
        return if g == w {
            Ok(())
        } else {
            Err(format!("{what}: {g:?} != {w:?}"))
        };
    }
    let (g, w) = (got.to_vec_f64(), w.to_vec_f64());
    for (i, (a, b)) in g.iter().zip(&w).enumerate() {
        let diff = (a - b).abs();
        if diff.is_nan() || diff > tol.atol + tol.rtol * b.abs() {
            return Err(format!(
                "{what}[{i}]: got {a:.9e}, expected {b:.9e} (rtol {}, atol {})",
                tol.rtol, tol.atol
            ));
        }
    }
    Ok(())
}

pub fn cfg_f64(c: &serde_json::Map<String, serde_json::Value>, k: &str) -> f64 {
    c[k].as_f64().unwrap_or_else(|| panic!("config {k}"))
}

pub fn cfg_i(c: &serde_json::Map<String, serde_json::Value>, k: &str) -> isize {
    c[k].as_i64().unwrap_or_else(|| panic!("config {k}")) as isize
}

pub fn cfg_dims(c: &serde_json::Map<String, serde_json::Value>, k: &str) -> Vec<isize> {
    match &c[k] {
        serde_json::Value::Null => vec![],
        serde_json::Value::Array(a) => a.iter().map(|v| v.as_i64().unwrap() as isize).collect(),
        v => vec![v.as_i64().unwrap() as isize],
    }
}

pub fn cfg_usizes(c: &serde_json::Map<String, serde_json::Value>, k: &str) -> Vec<usize> {
    c[k].as_array()
        .unwrap_or_else(|| panic!("config {k}"))
        .iter()
        .map(|v| v.as_u64().unwrap() as usize)
        .collect()
}
