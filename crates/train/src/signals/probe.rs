//! The per-epoch probe: a fixed batch of training samples run through the model in eval mode
//! — dead ReLUs, saturated Sigmoid/Tanh units, forward time per top-level layer, how
//! confidently the model's outputs agree with the training labels (the signature of label
//! noise) — and the per-class counts on validation (what an accuracy hides about a minority
//! class), which the trainer's validation pass supplies.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use tuna_autograd::{no_grad, Tape};
use tuna_data::Batch;
use tuna_nn::{ForwardContext, Module, Sequential};
use tuna_tensor::{DType, Tensor};

use super::{DeadUnits, LayerTime};
use crate::trainer::TaskInfo;

/// A Sigmoid or Tanh output within this distance of its bounds is saturated (its gradient is
/// below ~2 % of the maximum).
pub const SATURATED_WITHIN: f64 = 0.02;

/// Saturated units of one Sigmoid/Tanh layer on the probe batch.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Saturation {
    /// The layer's type (`Sigmoid`, `Tanh`).
    pub layer_type: String,
    /// Share of all the layer's outputs on the probe within [`SATURATED_WITHIN`] of a bound.
    pub fraction: f64,
    /// Units (features, or channels) saturated for at least 90 % of the probe samples.
    pub saturated_units: usize,
    /// Units in the layer.
    pub units: usize,
}

/// How the model's outputs on the training probe meet the labels (classification).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct FitStats {
    /// Probe samples.
    pub samples: usize,
    /// Share predicted as their label.
    pub accuracy: f64,
    /// The probability given to the labelled class, in 10 bins over `[0, 1]`.
    pub p_label_hist: Vec<usize>,
    /// Samples the model confidently assigns to another class (that class's probability ≥
    /// 0.5 while the label's is < 0.1): in a model that fits the rest, mislabelled samples.
    pub contradicted: usize,
    /// Mean probability of the predicted class.
    pub confidence: f64,
}

/// The confusion matrix of the model on the validation split (the trainer's evaluation
/// pass): `confusion[true][predicted]`.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct ClassStats {
    /// Samples counted.
    pub samples: usize,
    /// Counts by true class (rows) and predicted class (columns).
    pub confusion: Vec<Vec<usize>>,
}

impl ClassStats {
    /// The stats of confusion counts `[true][predicted]`.
    pub fn from_counts(counts: Vec<Vec<u64>>) -> Self {
        let confusion: Vec<Vec<usize>> = counts
            .into_iter()
            .map(|row| row.into_iter().map(|c| c as usize).collect())
            .collect();
        ClassStats {
            samples: confusion.iter().flatten().sum(),
            confusion,
        }
    }

    /// Recall of every class that has samples (`None` for a class without).
    pub fn recalls(&self) -> Vec<Option<f64>> {
        self.confusion
            .iter()
            .enumerate()
            .map(|(i, row)| {
                let n: usize = row.iter().sum();
                (n > 0).then(|| row[i] as f64 / n as f64)
            })
            .collect()
    }

    /// The mean of the per-class recalls over the classes present (balanced accuracy), if
    /// any class is present.
    pub fn balanced_recall(&self) -> Option<f64> {
        let recalls: Vec<f64> = self.recalls().into_iter().flatten().collect();
        (!recalls.is_empty()).then(|| recalls.iter().sum::<f64>() / recalls.len() as f64)
    }
}

/// What one probe pass measured.
#[derive(Default)]
pub(crate) struct ProbeResult {
    pub dead: BTreeMap<String, DeadUnits>,
    pub saturation: BTreeMap<String, Saturation>,
    pub times: BTreeMap<String, LayerTime>,
    pub fit: Option<FitStats>,
}

fn context(batch: &Batch) -> ForwardContext {
    match &batch.lengths {
        Some(l) => ForwardContext::with_lengths(l.clone()),
        None => ForwardContext::new(),
    }
}

/// Per unit (axis 1), the share of samples (and positions) where `hit` holds, and the share
/// over all values.
fn unit_shares(v: &Tensor, hit: impl Fn(f64) -> bool) -> Option<(Vec<f64>, f64)> {
    if v.rank() < 2 {
        return None;
    }
    let shape = v.shape().to_vec();
    let units = shape[1];
    let inner: usize = shape[2..].iter().product();
    let data = v.to_vec_f64();
    let mut counts = vec![0usize; units];
    let mut total = 0usize;
    for (k, x) in data.iter().enumerate() {
        if hit(*x) {
            counts[(k / inner) % units] += 1;
            total += 1;
        }
    }
    let per_unit = (data.len() / units.max(1)).max(1) as f64;
    Some((
        counts.iter().map(|c| *c as f64 / per_unit).collect(),
        total as f64 / data.len().max(1) as f64,
    ))
}

fn dead_units(v: &Tensor) -> Option<DeadUnits> {
    let (shares, _) = unit_shares(v, |x| x != 0.0)?;
    let dead = shares.iter().filter(|s| **s == 0.0).count();
    Some(DeadUnits {
        layer_type: "ReLU".into(),
        dead,
        units: shares.len(),
        fraction: dead as f64 / shares.len().max(1) as f64,
    })
}

fn saturation(kind: &str, v: &Tensor) -> Option<Saturation> {
    let lo = if kind == "Tanh" { -1.0 } else { 0.0 };
    let hit = |x: f64| x <= lo + SATURATED_WITHIN || x >= 1.0 - SATURATED_WITHIN;
    let (shares, fraction) = unit_shares(v, hit)?;
    Some(Saturation {
        layer_type: kind.to_string(),
        fraction,
        saturated_units: shares.iter().filter(|s| **s >= 0.9).count(),
        units: shares.len(),
    })
}

/// Runs the training probe: layer by layer through a `Sequential` (dead units, saturation,
/// times), through the whole model otherwise; then the outputs against the labels.
pub(crate) fn probe_train(model: &dyn Module, batch: &Batch, info: &TaskInfo) -> ProbeResult {
    let mut r = ProbeResult::default();
    no_grad(|| {
        let tape = Tape::new();
        let ctx = context(batch);
        let mut x = tape.constant(batch.inputs.clone());
        match model.as_any().and_then(|a| a.downcast_ref::<Sequential>()) {
            Some(seq) => {
                for (i, layer) in seq.layers().iter().enumerate() {
                    let t = std::time::Instant::now();
                    x = layer.forward_with(x, &ctx);
                    let kind = layer.name();
                    r.times.insert(
                        i.to_string(),
                        LayerTime {
                            layer_type: kind.to_string(),
                            seconds: t.elapsed().as_secs_f64(),
                        },
                    );
                    match kind {
                        "ReLU" => r
                            .dead
                            .extend(dead_units(&x.value()).map(|d| (i.to_string(), d))),
                        "Sigmoid" | "Tanh" => r
                            .saturation
                            .extend(saturation(kind, &x.value()).map(|s| (i.to_string(), s))),
                        _ => {}
                    }
                }
            }
            None => x = model.forward_with(x, &ctx),
        }
        r.fit = fit_stats(&x.value(), &batch.targets, info);
    });
    r
}

/// Class probabilities `[n, c]` (row-major) from a classifier's outputs, or `None` when the
/// outputs are not class scores (regression, a language model).
fn probabilities(out: &Tensor, targets: &Tensor, info: &TaskInfo) -> Option<(Vec<f64>, usize)> {
    if info.language_model || targets.dtype() != DType::I64 {
        return None;
    }
    let n = targets.numel();
    let v = out.to_vec_f64();
    if n == 0 || v.len() % n != 0 {
        return None;
    }
    let c = v.len() / n;
    if let Some(threshold) = info.binary {
        if c != 1 {
            return None;
        }
        let p1 = |x: f64| {
            if threshold == 0.0 {
                1.0 / (1.0 + (-x).exp())
            } else {
                x.clamp(0.0, 1.0)
            }
        };
        return Some((v.iter().flat_map(|x| [1.0 - p1(*x), p1(*x)]).collect(), 2));
    }
    if c < 2 {
        return None;
    }
    let mut p = Vec::with_capacity(v.len());
    for row in v.chunks_exact(c) {
        let m = row.iter().copied().fold(f64::NEG_INFINITY, f64::max);
        let e: Vec<f64> = row.iter().map(|x| (x - m).exp()).collect();
        let s: f64 = e.iter().sum();
        p.extend(e.iter().map(|x| x / s));
    }
    Some((p, c))
}

fn argmax(row: &[f64]) -> usize {
    row.iter()
        .enumerate()
        .max_by(|a, b| a.1.total_cmp(b.1))
        .map_or(0, |(i, _)| i)
}

fn fit_stats(out: &Tensor, targets: &Tensor, info: &TaskInfo) -> Option<FitStats> {
    let (p, c) = probabilities(out, targets, info)?;
    let labels = targets.contiguous_data::<i64>();
    let mut s = FitStats {
        samples: labels.len(),
        p_label_hist: vec![0; 10],
        ..FitStats::default()
    };
    let (mut right, mut conf) = (0usize, 0.0);
    for (row, &y) in p.chunks_exact(c).zip(labels.iter()) {
        if !row.iter().all(|x| x.is_finite()) {
            return None;
        }
        let y = usize::try_from(y).ok().filter(|y| *y < c)?;
        let pred = argmax(row);
        right += usize::from(pred == y);
        conf += row[pred];
        s.p_label_hist[((row[y] * 10.0) as usize).min(9)] += 1;
        if pred != y && row[pred] >= 0.5 && row[y] < 0.1 {
            s.contradicted += 1;
        }
    }
    s.accuracy = right as f64 / s.samples.max(1) as f64;
    s.confidence = conf / s.samples.max(1) as f64;
    Some(s)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fit_stats_count_confident_contradictions() {
        // 4 samples, 2 classes: logits strongly for class 0 on all; labels 0, 0, 1, 1.
        let out = Tensor::from_vec(vec![5.0f32, -5.0, 5.0, -5.0, 5.0, -5.0, 0.1, 0.0], &[4, 2]);
        let y = Tensor::from_vec(vec![0i64, 0, 1, 1], &[4]);
        let s = fit_stats(&out, &y, &TaskInfo::default()).unwrap();
        assert_eq!(s.samples, 4);
        assert!((s.accuracy - 0.5).abs() < 1e-12);
        assert_eq!(s.contradicted, 1);
        assert_eq!(s.p_label_hist.iter().sum::<usize>(), 4);
        assert_eq!(s.p_label_hist[9], 2);
    }

    #[test]
    fn saturation_counts_outputs_near_the_bounds() {
        let v = Tensor::from_vec(vec![0.999f32, 0.5, 0.001, 0.5, 0.995, 0.4], &[3, 2]);
        let s = saturation("Sigmoid", &v).unwrap();
        assert_eq!(s.units, 2);
        assert_eq!(s.saturated_units, 1);
        assert!((s.fraction - 0.5).abs() < 1e-12);
    }
}
