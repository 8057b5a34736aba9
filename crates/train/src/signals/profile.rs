//! [`DataProfile`]: what the training split looks like to the model, measured once before
//! training — the scale of the inputs and targets, non-finite values, class counts, and
//! duplicated inputs with conflicting labels (a ceiling on accuracy). Written to the run
//! folder's `data_profile.json`; the diagnosis reads it for the findings that the data, not
//! the curves, explains (`unscaled_inputs`, `unscaled_targets`, `nonfinite_data`,
//! `label_noise`, `class_imbalance`).

use std::collections::HashMap;

use serde::{Deserialize, Serialize};
use tuna_data::{Dataset, Input, InputKind, Target};

/// At most this many training samples are profiled (evenly spaced over the split).
pub const PROFILE_SAMPLES: usize = 20_000;

/// The inputs as the model sees them (after the data plugin's preprocessing).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct InputProfile {
    /// Dense features per sample (0 for token ids).
    pub features: usize,
    /// Mean of every input value.
    pub mean: f64,
    /// Standard deviation of every input value.
    pub std: f64,
    /// Largest absolute input value.
    pub max_abs: f64,
    /// The largest per-feature standard deviation.
    pub feature_std_max: f64,
    /// The smallest per-feature standard deviation among features that vary.
    pub feature_std_min: f64,
    /// The largest absolute per-feature mean.
    pub feature_mean_abs_max: f64,
    /// NaN or infinite input values.
    pub nonfinite: usize,
    /// Token inputs: mean sequence length.
    #[serde(default)]
    pub mean_len: f64,
}

/// The targets as the model is trained on them (standardized ones after standardization).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct TargetProfile {
    /// Classification: samples per class.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub class_counts: Vec<usize>,
    /// Regression: per-target mean.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub mean: Vec<f64>,
    /// Regression: per-target standard deviation.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub std: Vec<f64>,
    /// Regression: NaN or infinite target values.
    #[serde(default)]
    pub nonfinite: usize,
}

/// `data_profile.json`: the training split measured once before training.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct DataProfile {
    /// Samples in the training split.
    pub train_samples: usize,
    /// Samples in the validation split (0 without one).
    pub validation_samples: usize,
    /// Samples profiled (all, up to [`PROFILE_SAMPLES`]).
    pub profiled: usize,
    /// The inputs.
    pub input: InputProfile,
    /// The targets.
    pub target: TargetProfile,
    /// Profiled samples whose input is identical to an earlier sample's.
    pub duplicates: usize,
    /// Classification: profiled samples in groups of identical inputs whose label differs from
    /// the group's most common label — no model can get them right, so training accuracy is at
    /// most `1 - conflicts / profiled`.
    pub conflicts: usize,
}

/// Running mean and variance from sums shifted by the first value (no division per value,
/// and no cancellation when the mean is large against the spread).
#[derive(Clone, Copy, Default)]
struct Moments {
    n: f64,
    shift: f64,
    sum: f64,
    sum_sq: f64,
}

impl Moments {
    fn push(&mut self, x: f64) {
        if self.n == 0.0 {
            self.shift = x;
        }
        let d = x - self.shift;
        self.n += 1.0;
        self.sum += d;
        self.sum_sq += d * d;
    }
    fn mean(&self) -> f64 {
        if self.n > 0.0 {
            self.shift + self.sum / self.n
        } else {
            0.0
        }
    }
    fn std(&self) -> f64 {
        if self.n > 0.0 {
            let m = self.sum / self.n;
            (self.sum_sq / self.n - m * m).max(0.0).sqrt()
        } else {
            0.0
        }
    }
}

/// A 64-bit hash of a sample's input (its length, then its bit patterns one value at a time
/// with FxHash's mixing, then a final avalanche), for finding duplicates.
fn hash_input(input: &Input<'_>) -> u64 {
    const K: u64 = 0x517c_c1b7_2722_0a95;
    let mix = |h: u64, w: u64| (h.rotate_left(5) ^ w).wrapping_mul(K);
    let h = match input {
        Input::Dense(v) => v.iter().fold(mix(1, v.len() as u64), |h, x| {
            mix(h, u64::from(x.to_bits()))
        }),
        Input::Tokens(t) => t
            .iter()
            .fold(mix(2, t.len() as u64), |h, x| mix(h, *x as u64)),
    };
    // splitmix64's finalizer
    let h = (h ^ (h >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    let h = (h ^ (h >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    h ^ (h >> 31)
}

impl DataProfile {
    /// Profiles `train` (up to [`PROFILE_SAMPLES`] evenly spaced samples).
    pub fn measure(train: &dyn Dataset, validation: Option<&dyn Dataset>) -> DataProfile {
        let n = train.len();
        let step = n.div_ceil(PROFILE_SAMPLES).max(1);
        let features = train.input_kind().dense_len().unwrap_or(0);
        let mut per_feature = vec![Moments::default(); features];
        let mut all = Moments::default();
        let mut input = InputProfile {
            features,
            ..InputProfile::default()
        };
        let mut target = TargetProfile::default();
        let mut values: Vec<Moments> = Vec::new();
        let mut groups: HashMap<u64, Vec<usize>> = HashMap::new();
        let mut labels: Vec<Option<usize>> = Vec::new();
        let mut tokens = 0usize;
        for i in (0..n).step_by(step) {
            let s = train.get(i);
            groups
                .entry(hash_input(&s.input))
                .or_default()
                .push(labels.len());
            match &s.input {
                Input::Dense(v) => {
                    for (j, &x) in v.iter().enumerate() {
                        if !x.is_finite() {
                            input.nonfinite += 1;
                            continue;
                        }
                        let x = f64::from(x);
                        all.push(x);
                        input.max_abs = input.max_abs.max(x.abs());
                        if let Some(m) = per_feature.get_mut(j) {
                            m.push(x);
                        }
                    }
                }
                Input::Tokens(t) => tokens += t.len(),
            }
            labels.push(match &s.target {
                Target::Class(c) => {
                    if target.class_counts.len() <= *c {
                        target.class_counts.resize(c + 1, 0);
                    }
                    target.class_counts[*c] += 1;
                    Some(*c)
                }
                Target::Values(v) => {
                    values.resize(v.len().max(values.len()), Moments::default());
                    for (m, &x) in values.iter_mut().zip(v.iter()) {
                        if x.is_finite() {
                            m.push(f64::from(x));
                        } else {
                            target.nonfinite += 1;
                        }
                    }
                    None
                }
                Target::Tokens(_) => None,
            });
        }
        let profiled = labels.len();
        input.mean = all.mean();
        input.std = all.std();
        let stds: Vec<f64> = per_feature.iter().map(Moments::std).collect();
        input.feature_std_max = stds.iter().copied().fold(0.0, f64::max);
        input.feature_std_min = stds
            .iter()
            .copied()
            .filter(|s| *s > 1e-12)
            .fold(f64::INFINITY, f64::min);
        if !input.feature_std_min.is_finite() {
            input.feature_std_min = 0.0;
        }
        input.feature_mean_abs_max = per_feature
            .iter()
            .map(|m| m.mean().abs())
            .fold(0.0, f64::max);
        if matches!(train.input_kind(), InputKind::Tokens { .. }) {
            input.mean_len = tokens as f64 / profiled.max(1) as f64;
        }
        target.mean = values.iter().map(Moments::mean).collect();
        target.std = values.iter().map(Moments::std).collect();
        let (duplicates, conflicts) = duplicate_conflicts(&groups, &labels);
        DataProfile {
            train_samples: n,
            validation_samples: validation.map_or(0, |v| v.len()),
            profiled,
            input,
            target,
            duplicates,
            conflicts,
        }
    }
}

/// Reads a run folder's `data_profile.json` (`None` when it has none or it does not parse:
/// runs recorded before profiles existed).
pub fn read_profile(run_dir: &std::path::Path) -> Option<DataProfile> {
    let text = std::fs::read_to_string(run_dir.join("data_profile.json")).ok()?;
    serde_json::from_str(&text).ok()
}

/// Samples that repeat an earlier input, and samples whose label disagrees with the most common
/// label of their group of identical inputs.
fn duplicate_conflicts(
    groups: &HashMap<u64, Vec<usize>>,
    labels: &[Option<usize>],
) -> (usize, usize) {
    let (mut duplicates, mut conflicts) = (0, 0);
    for members in groups.values().filter(|m| m.len() > 1) {
        duplicates += members.len() - 1;
        let mut counts: HashMap<usize, usize> = HashMap::new();
        for &i in members {
            if let Some(c) = labels[i] {
                *counts.entry(c).or_default() += 1;
            }
        }
        let total: usize = counts.values().sum();
        let top = counts.values().copied().max().unwrap_or(0);
        conflicts += total - top;
    }
    (duplicates, conflicts)
}

#[cfg(test)]
mod tests {
    use super::*;
    use tuna_data::TensorDataset;

    #[test]
    fn moments_keep_a_small_spread_on_a_large_mean() {
        let mut m = Moments::default();
        for k in 0..10_000 {
            m.push(1e9 + f64::from(k % 2) * 2.0 - 1.0);
        }
        assert!((m.mean() - 1e9).abs() < 1e-6, "{}", m.mean());
        assert!((m.std() - 1.0).abs() < 1e-9, "{}", m.std());
        assert_eq!(Moments::default().std(), 0.0);
    }

    #[test]
    fn profile_measures_scale_duplicates_and_conflicts() {
        // 6 samples of 2 features; samples 0, 1 and 2 are identical with labels 0, 0, 1.
        let x = vec![
            1.0, 100.0, 1.0, 100.0, 1.0, 100.0, 2.0, 300.0, 3.0, 500.0, 4.0, 700.0,
        ];
        let ds = TensorDataset::classification(x, &[2], vec![0, 0, 1, 1, 0, 1], 2);
        let p = DataProfile::measure(&ds, None);
        assert_eq!(p.profiled, 6);
        assert_eq!(p.duplicates, 2);
        assert_eq!(p.conflicts, 1);
        assert_eq!(p.target.class_counts, vec![3, 3]);
        assert_eq!(p.input.max_abs, 700.0);
        assert!(p.input.feature_std_max > 100.0 && p.input.feature_std_min < 2.0);
        assert_eq!(p.input.nonfinite, 0);
    }
}
