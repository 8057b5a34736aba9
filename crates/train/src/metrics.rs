//! TEMPORARY stub (replaced by the metrics branch).
#![allow(missing_docs)]
use serde::{Deserialize, Serialize};
use tuna_data::Task;
use tuna_tensor::Tensor;

#[derive(Clone, Debug)]
pub struct MetricSet {
    names: Vec<String>,
}
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct MetricAccumulator {
    correct: u64,
    n: u64,
    on: bool,
}
impl MetricSet {
    pub fn parse(names: &[String], _task: &Task) -> Result<MetricSet, String> {
        Ok(MetricSet {
            names: names.iter().filter(|n| *n == "accuracy").cloned().collect(),
        })
    }
    pub fn names(&self) -> Vec<String> {
        self.names.clone()
    }
    pub fn accumulator(&self) -> MetricAccumulator {
        MetricAccumulator {
            correct: 0,
            n: 0,
            on: !self.names.is_empty(),
        }
    }
}
impl MetricAccumulator {
    pub fn update(&mut self, out: &Tensor, t: &Tensor) {
        if !self.on {
            return;
        }
        let p = out.argmax(1, false).to_vec::<i64>();
        let t = t.to_vec::<i64>();
        self.correct += p.iter().zip(&t).filter(|(a, b)| a == b).count() as u64;
        self.n += t.len() as u64;
    }
    pub fn value(&self, _name: &str) -> Option<f64> {
        if self.on {
            Some(self.correct as f64 / self.n.max(1) as f64)
        } else {
            None
        }
    }
    pub fn finish(&self) -> Vec<(String, f64)> {
        self.value("accuracy")
            .map(|v| vec![("accuracy".to_string(), v)])
            .unwrap_or_default()
    }
    pub fn confusion_matrix(&self) -> Option<Vec<Vec<u64>>> {
        None
    }
}
